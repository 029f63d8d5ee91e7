#!/bin/sh
# Runs the benchmarks of docs/benchmarks.md against a fresh server on a free
# port: minidb-bench, 50 clients, pipeline 1 and 16, SET then LOOKUP, three
# alternating rounds so a noisy neighbour shows up as spread, not as a result.
# Usage: bench/run.sh [rounds] (default 3). Needs a build (make build).
set -eu
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
BIN=build/minidb
BENCH=build/minidb-bench
DIR=$(mktemp -d)
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$DIR"' EXIT INT TERM

$BIN --port 0 --http-port 0 --data-dir "$DIR/data" --log-format text 2>"$DIR/log" &
PID=$!
PORT=""
for _ in $(seq 1 100); do
	PORT=$(sed -n 's/.*listening.* port=\([0-9]*\).*/\1/p' "$DIR/log" | head -n 1)
	[ -n "$PORT" ] && break
	sleep 0.05
done
[ -n "$PORT" ] || { cat "$DIR/log"; exit 1; }
echo "minidb on port $PORT, $(nproc) cores, $(uname -r)"

for r in $(seq 1 "$ROUNDS"); do
	for P in 1 16; do
		echo "round $r: $BENCH -p $PORT -c 50 -n 1000000 -P $P -r 100000 -d 16 -t set,lookup"
		$BENCH -p "$PORT" -c 50 -n 1000000 -P "$P" -r 100000 -d 16 -t set,lookup
	done
done
