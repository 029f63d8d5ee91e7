# Thin wrapper over CMake. `make run` and `make test` work on a fresh Debian 12
# machine: both install the dependencies first (scripts/install-deps.sh).
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
ARGS       ?=

.PHONY: all deps build build-asan run test test-unit test-asan bench format format-check clean

all: build

deps:
	./scripts/install-deps.sh

# gcc, warnings are errors.
build: deps
	CC=gcc cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMINIDB_WERROR=ON
	cmake --build $(BUILD) -j$(JOBS)

# clang with AddressSanitizer + UndefinedBehaviorSanitizer, warnings are errors.
build-asan: deps
	CC=clang cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMINIDB_WERROR=ON -DMINIDB_SANITIZE=ON
	cmake --build $(ASAN_BUILD) -j$(JOBS)

run: build
	mkdir -p data
	./$(BUILD)/minidb --data-dir ./data $(ARGS)

# Every test, in the gcc build and again in the sanitizer build, after a
# check that the sources follow .clang-format.
test: build build-asan format-check
	ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --test-dir $(ASAN_BUILD) --output-on-failure -j$(JOBS)

test-unit: build
	ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS) -L unit

bench: build
	./bench/run.sh

FORMAT_FILES = src/*.c src/*.h tools/*.c tests/unit/*.c tests/unit/*.h tests/integration/*.c tests/integration/*.h

format:
	clang-format -i $(FORMAT_FILES)

format-check:
	clang-format --dry-run --Werror $(FORMAT_FILES)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
