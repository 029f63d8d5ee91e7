# Thin wrapper over CMake. `make run` and `make test` work on a fresh Debian 12
# machine: both install the dependencies first (scripts/install-deps.sh).
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
ARGS       ?=

.PHONY: all deps build build-asan run test test-unit test-asan bench format format-check clean crash-test

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

# The crash tests at full length: CRASH_CYCLES (1,000) SIGKILL/restart cycles
# per fsync policy, where `make test` runs 50. Each prints its seed first and
# a summary line (crash: policy=... elapsed_ms=...) last. Run directly rather
# than through ctest, whose per-test TIMEOUT is sized for the short run.
CRASH_CYCLES ?= 1000
crash-test: build
	for p in always everysec; do \
		MINIDB_BIN=$(abspath $(BUILD))/minidb MINIDB_CRASH_CYCLES=$(CRASH_CYCLES) \
			$(abspath $(BUILD))/crash_test_crash $$p || exit 1; \
	done

bench: build
	./bench/run.sh

FORMAT_FILES = src/*.c src/*.h $(wildcard src/parquet/*.[ch]) tools/*.c tools/*.h tests/unit/*.c tests/unit/*.h tests/integration/*.c tests/integration/*.h tests/*.h tests/crash/*.c

format:
	clang-format -i $(FORMAT_FILES)

format-check:
	clang-format --dry-run --Werror $(FORMAT_FILES)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
