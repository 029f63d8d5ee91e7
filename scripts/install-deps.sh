#!/bin/sh
# Installs every Debian 12 package that building, running and testing minidb
# needs. Idempotent: when everything is present it does nothing (no apt-get
# update), so `make run` and `make test` stay fast on a machine already set up.
set -eu

# Build: compilers, CMake, libraries (the Parquet codecs: zstd, snappy, zlib,
# brotli, lz4). Tests: real peers (redis-cli and redis-benchmark from
# redis-tools; redis-server for the side-by-side benchmarks; Node.js + npm
# for the interop tests: ioredis, DuckDB (@duckdb/node-api) and arrow-rs
# (parquet-wasm), each pinned by its tests/interop/*/package-lock.json).
PKGS="build-essential cmake pkg-config clang clang-format libcmocka-dev libyaml-dev \
libxxhash-dev libisal-dev libssl-dev libjansson-dev libzstd-dev libsnappy-dev zlib1g-dev \
libbrotli-dev liblz4-dev libmicrohttpd-dev procps redis-tools redis-server prometheus curl jq"
# Node.js may come from elsewhere (NodeSource bundles npm and conflicts with
# Debian's npm package): ask for Debian's only when the commands are missing.
command -v node >/dev/null 2>&1 || PKGS="$PKGS nodejs"
command -v npm >/dev/null 2>&1 || PKGS="$PKGS npm"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done

npm_deps() {
	# Node packages of the interop tests, pinned by their lock files.
	for dir in tests/interop/*/; do
		[ -f "$dir/package-lock.json" ] || continue
		if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules" ]; then
			echo "install-deps: npm ci in $dir" >&2
			(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) && touch "$dir/node_modules"
		fi
	done
}

cd "$(dirname "$0")/.."

if [ -z "$missing" ]; then
	npm_deps
	exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO="sudo"
	else
		echo "install-deps: missing packages:$missing; run as root or install sudo" >&2
		exit 1
	fi
fi

echo "install-deps: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
# redis-server is only a benchmark peer: never leave Debian's service running.
if command -v systemctl >/dev/null 2>&1; then
	$SUDO systemctl disable --now redis-server >/dev/null 2>&1 || true
fi
npm_deps
