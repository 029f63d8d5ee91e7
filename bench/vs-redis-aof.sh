#!/usr/bin/env bash
# vs-redis-aof.sh - SET throughput and p99 with durability on: minidb's
# write-ahead log (--fsync always|everysec|no) against Debian's redis-server
# with `appendonly yes` and the matching `appendfsync`, at 1, 50 and 500
# clients.
#
# Every run starts a fresh server with a fresh data dir (both under one temp
# dir, so on the same file system), runs one redis-benchmark SET test and
# stops the server; `sync` then runs so the next run does not pay for the
# previous one's dirty pages. Each round runs every (policy, clients) cell
# against both servers, the order alternating from cell to cell and round to
# round, so drift and noisy neighbours show up as spread rather than as a
# bias; the table gives medians and every round's value. A trap stops any
# server still running and removes the temp dir however the script ends.
# minidb's group commit is reported as SETs per fsync (INFO persistence:
# wal_records / wal_fsyncs); Redis has no fsync counter: count its calls with
# strace --seccomp-bpf -f -e trace=fdatasync redis-server ... (docs/benchmarks.md).
#
# Usage: bench/vs-redis-aof.sh (from anywhere; needs a build: make build)
# Environment (defaults in brackets):
#   ROUNDS [3]  POLICIES ["always everysec no"]  CLIENTS ["1 50 500"]
#   N_ALWAYS_1 [3000] requests per run under always with 1 client
#   N_ALWAYS [60000] under always with more clients
#   N_1 [100000] everysec/no with 1 client   N [400000] everysec/no otherwise
#   KEYSPACE [1000000] (-r)  DATA_SIZE [32] (-d)  MINIDB_BIN [build/minidb]
#   MINIDB_ARGS [] extra server flags  REDIS_ARGS [] likewise
#   TMPDIR [/tmp] where the data dirs go (pick the disk you mean to measure)
#   FSYNC_PROBE [500] appends+fdatasync timed in TMP before each round (0: none)
#   RESULTS_FILE [] keep the raw results there (policy clients server round rps p99 sets/fsync)
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_NAME=vs-redis-aof
STOP_TIMEOUT=20
# shellcheck source=bench/lib.sh
. bench/lib.sh

ROUNDS=${ROUNDS:-3}
POLICIES=${POLICIES:-"always everysec no"}
CLIENTS=${CLIENTS:-"1 50 500"}
N_ALWAYS_1=${N_ALWAYS_1:-3000}
N_ALWAYS=${N_ALWAYS:-60000}
N_1=${N_1:-100000}
N=${N:-400000}
KEYSPACE=${KEYSPACE:-1000000}
DATA_SIZE=${DATA_SIZE:-32}
MINIDB_BIN=${MINIDB_BIN:-build/minidb}
MINIDB_ARGS=${MINIDB_ARGS:-}
REDIS_ARGS=${REDIS_ARGS:-}
RESULTS_FILE=${RESULTS_FILE:-}
START_TIMEOUT=${START_TIMEOUT:-10} # seconds until a server answers PING
FSYNC_PROBE=${FSYNC_PROBE:-500}     # fdatasyncs timed before each round (0: none)


for tool in redis-server redis-cli redis-benchmark python3 awk df sync; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool not found (scripts/install-deps.sh installs it)"
done
[ -x "$MINIDB_BIN" ] || die "$MINIDB_BIN not found or not executable (make build, or set MINIDB_BIN)"
case "$ROUNDS$N_ALWAYS_1$N_ALWAYS$N_1$N$KEYSPACE$DATA_SIZE$FSYNC_PROBE${CLIENTS// /}" in
*[!0-9]*) die "ROUNDS, N_*, N, KEYSPACE, DATA_SIZE, FSYNC_PROBE and CLIENTS must be numbers" ;;
esac
[ "$ROUNDS" -ge 1 ] || die "ROUNDS must be at least 1"
for p in $POLICIES; do
	case $p in always | everysec | no) ;; *) die "policy '$p' is not always, everysec or no" ;; esac
done

# 500 clients need 500 descriptors in redis-benchmark and in each server
# (Redis also wants 32 for itself; it lowers maxclients below the limit).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
max_clients=0
for c in $CLIENTS; do ((c > max_clients)) && max_clients=$c; done
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge $((max_clients + 64)) ] ||
	die "ulimit -n is $(ulimit -n), too low for $max_clients clients"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/minidb-vs-redis-aof.XXXXXX")
SRV_PID=""


cleanup() {
	stop_pid "$SRV_PID"
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM


# A port that was free a moment ago (the kernel's pick for port 0). Another
# process may take it before the server binds it: start_redis retries.
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}


SRV_PORT="" SRV_CMD="" RUN=0

# Starts minidb with a fresh data dir; --port 0 lets it pick a free port,
# which its "listening" log line reports.
start_minidb() {
	local policy=$1 dir log i
	RUN=$((RUN + 1))
	dir=$TMP/run$RUN-minidb
	mkdir -p "$dir"
	log=$dir/server.log
	# shellcheck disable=SC2086 # MINIDB_ARGS is a list of flags
	set -- "$MINIDB_BIN" --port 0 --http-port 0 --data-dir "$dir/data" --fsync "$policy" --log-format json $MINIDB_ARGS
	SRV_CMD=$(quoted "$@")
	: >"$log" # exists before the background job's redirection opens it
	"$@" >>"$log" 2>&1 &
	SRV_PID=$!
	SRV_PORT=""
	for ((i = 0; i < START_TIMEOUT * 20; i++)); do
		SRV_PORT=$(sed -n '/"msg":"listening"/{/"component":"server"/s/.*"port":\([0-9][0-9]*\).*/\1/p;}' \
			"$log" | head -n 1)
		[ -n "$SRV_PORT" ] && break
		kill -0 "$SRV_PID" 2>/dev/null || break
		sleep 0.05
	done
	if [ -z "$SRV_PORT" ] || ! wait_ping "$SRV_PORT" "$SRV_PID"; then
		cat "$log" >&2
		die "minidb did not start or does not answer PING"
	fi
}

# Debian's redis-server cannot pick its own port: take a free one, retry
# with another if someone took it first.
start_redis() {
	local policy=$1 dir try
	RUN=$((RUN + 1))
	dir=$TMP/run$RUN-redis
	mkdir -p "$dir"
	for ((try = 0; try < 10; try++)); do
		SRV_PORT=$(free_port)
		# shellcheck disable=SC2086 # REDIS_ARGS is a list of flags
		set -- redis-server --port "$SRV_PORT" --bind 127.0.0.1 --save '' --appendonly yes \
			--appendfsync "$policy" --daemonize no --dir "$dir" $REDIS_ARGS
		SRV_CMD=$(quoted "$@")
		"$@" >"$dir/server.log" 2>&1 &
		SRV_PID=$!
		wait_ping "$SRV_PORT" "$SRV_PID" && return 0
		stop_pid "$SRV_PID"
		SRV_PID=""
	done
	cat "$dir/server.log" >&2
	die "redis-server did not start on any of 10 ports"
}

# fdatasync latency of this disk right now: FSYNC_PROBE appends of 100
# bytes, each followed by fdatasync, in a file under TMP. Prints
# "median MED us, mean MEAN us, p99 P99 us".
fsync_probe() {
	python3 - "$TMP/fsync-probe" "$FSYNC_PROBE" <<'PY'
import os, sys, time
path, n = sys.argv[1], int(sys.argv[2])
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
lat = []
for _ in range(n):
    os.write(fd, b"x" * 100)
    t = time.perf_counter()
    os.fdatasync(fd)
    lat.append((time.perf_counter() - t) * 1e6)
os.close(fd)
os.unlink(path)
lat.sort()
print("median %.0f us, mean %.0f us, p99 %.0f us" % (lat[n // 2], sum(lat) / n, lat[min(n - 1, n * 99 // 100)]))
PY
}

requests_for() {
	local policy=$1 clients=$2
	if [ "$policy" = always ]; then
		if [ "$clients" -le 1 ]; then echo "$N_ALWAYS_1"; else echo "$N_ALWAYS"; fi
	else
		if [ "$clients" -le 1 ]; then echo "$N_1"; else echo "$N"; fi
	fi
}

info_field() { # port field
	redis-cli -h 127.0.0.1 -p "$1" INFO persistence | tr -d '\r' | sed -n "s/^$2://p"
}

echo "== SET with durability: minidb WAL vs Redis AOF, $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "machine:   $(nproc) cores ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || echo unknown)), $(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo), Linux $(uname -r)"
echo "data dirs: under $TMP: $(df -T "$TMP" | awk 'NR == 2 { print $2 " on " $1 " (mounted on " $7 ")" }')"
echo "minidb:    $(timeout 5 "$MINIDB_BIN" --version 2>&1 | head -n 1) ($MINIDB_BIN; source tree at $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- src 2>/dev/null || echo ', src modified'))"
echo "redis:     $(redis-server --version)"
echo "client:    $(redis-benchmark --version 2>&1 | head -n 1); client and server share this machine's cores"
echo "servers:   $(quoted "$MINIDB_BIN") --port 0 --data-dir FRESH_DIR --fsync POLICY --log-format json $MINIDB_ARGS"
echo "           redis-server --port FREE_PORT --bind 127.0.0.1 --save '' --appendonly yes --appendfsync POLICY --daemonize no --dir FRESH_DIR $REDIS_ARGS"
echo "workload:  redis-benchmark -h 127.0.0.1 -p PORT -t set -n N -r $KEYSPACE -d $DATA_SIZE -c C --csv"
echo "           policies: $POLICIES; C: $CLIENTS; N: $N_ALWAYS_1 (always, 1 client), $N_ALWAYS (always),"
echo "           $N_1 (everysec/no, 1 client), $N (everysec/no); a fresh server and data dir per run, sync after each"
echo "rounds:    $ROUNDS, the minidb/Redis order alternating cell by cell and round by round"
echo "ulimit -n: $(ulimit -n)"
echo

RESULTS=$TMP/results # lines: policy clients server round rps p99 sets_per_fsync
: >"$RESULTS"

cell=0
PROBES=""
for ((round = 1; round <= ROUNDS; round++)); do
	if [ "$FSYNC_PROBE" -gt 0 ]; then
		probe=$(fsync_probe)
		echo "round $round/$ROUNDS fsync probe ($FSYNC_PROBE x 100-byte append + fdatasync): $probe"
		PROBES="$PROBES
  round $round: $probe"
	fi
	for policy in $POLICIES; do
		for clients in $CLIENTS; do
			cell=$((cell + 1))
			if (((round + cell) % 2 == 0)); then order="minidb redis"; else order="redis minidb"; fi
			n=$(requests_for "$policy" "$clients")
			for srv in $order; do
				if [ "$srv" = minidb ]; then start_minidb "$policy"; else start_redis "$policy"; fi
				cmd=(redis-benchmark -h 127.0.0.1 -p "$SRV_PORT" -t set -n "$n" -r "$KEYSPACE"
					-d "$DATA_SIZE" -c "$clients" --csv)
				echo "round $round/$ROUNDS $policy c=$clients $srv: $SRV_CMD"
				echo "    ${cmd[*]}"
				if ! out=$("${cmd[@]}" 2>"$TMP/bench.err"); then
					cat "$TMP/bench.err" >&2
					die "$srv: redis-benchmark failed"
				fi
				# "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms",
				# "p95_latency_ms","p99_latency_ms","max_latency_ms"
				row=$(printf '%s\n' "$out" | awk -F'"' '$2 == "SET" { print $4, $14 }')
				[ -n "$row" ] || die "$srv: no SET row in redis-benchmark's output: $out $(cat "$TMP/bench.err")"
				per_fsync=-
				if [ "$srv" = minidb ]; then
					recs=$(info_field "$SRV_PORT" wal_records)
					fsyncs=$(info_field "$SRV_PORT" wal_fsyncs)
					[ -n "$recs" ] && [ "${fsyncs:-0}" -gt 0 ] &&
						per_fsync=$(awk -v r="$recs" -v f="$fsyncs" 'BEGIN { printf "%.1f", r / f }')
				fi
				wait_ping "$SRV_PORT" "$SRV_PID" || die "$srv stopped answering"
				echo "    rps p99_ms: $row$([ "$srv" = minidb ] && echo " SETs/fsync: $per_fsync")"
				echo "$policy $clients $srv $round $row $per_fsync" >>"$RESULTS"
				stop_pid "$SRV_PID"
				SRV_PID=""
				rm -rf "$TMP/run$RUN-$srv"
				sync
			done
		done
	done
done

echo
echo "| policy | clients | minidb SET/s | Redis SET/s | ratio of medians | per-round ratio: median (min-max) | target | minidb p99 ms | Redis p99 ms | p99 ratio | minidb SETs per fsync | rounds: minidb SET/s / Redis SET/s |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
for policy in $POLICIES; do
	for clients in $CLIENTS; do
		awk -v p="$policy" -v c="$clients" '
			function median(v, n,   i, j, x) {
				for (i = 2; i <= n; i++) {   # insertion sort, n is small
					x = v[i]
					for (j = i - 1; j >= 1 && v[j] > x; j--) v[j + 1] = v[j]
					v[j + 1] = x
				}
				return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
			}
			function k(x) { return x >= 10000 ? sprintf("%.0fk", x / 1000) : sprintf("%.1fk", x / 1000) }
			function commas(x,   s) {
				s = sprintf("%.0f", x)
				while (s ~ /[0-9][0-9][0-9][0-9]/) sub(/[0-9][0-9][0-9]($|,)/, ",&", s)
				return s
			}
			$1 == p && $2 == c {
				if ($3 == "minidb") {
					mr[++nm] = $5 + 0; mp[nm] = $6 + 0; ml = ml (nm > 1 ? " " : "") k($5)
					if ($7 != "-") mf[++nf] = $7 + 0
					mround[$4] = $5 + 0
				} else {
					rr[++nr] = $5 + 0; rp[nr] = $6 + 0; rl = rl (nr > 1 ? " " : "") k($5)
					rround[$4] = $5 + 0
				}
			}
			END {
				m = median(mr, nm); r = median(rr, nr)
				m99 = median(mp, nm); r99 = median(rp, nr)
				# The two runs of one round are adjacent in time: their ratio
				# cancels most of the drift of a shared disk and CPU.
				lo = 1e9; hi = 0
				for (i in mround)
					if ((i in rround) && rround[i] > 0) {
						x = mround[i] / rround[i]; pr[++np] = x
						if (x < lo) lo = x
						if (x > hi) hi = x
					}
				paired = np ? median(pr, np) : 0
				want = (p == "always" && c == 50) ? 2 : 1
				met = paired >= want ? "met" : "**missed**"
				printf "| %s | %s | %s | %s | %.2f | %.2f (%.2f-%.2f) | >= %d: %s | %.2f | %.2f | %.2f | %s | %s / %s |\n",
				       p, c, commas(m), commas(r), (r > 0 ? m / r : 0), paired, lo, hi, want, met,
				       m99, r99, (r99 > 0 ? m99 / r99 : 0),
				       (p == "always" && nf ? sprintf("%.1f", median(mf, nf)) : "-"), ml, rl
			}' "$RESULTS"
	done
done
echo
[ -z "$PROBES" ] || echo "Disk fdatasync latency before each round ($FSYNC_PROBE x 100-byte append + fdatasync):$PROBES"
[ -z "$RESULTS_FILE" ] || cp "$RESULTS" "$RESULTS_FILE"
echo "Medians of $ROUNDS rounds; ratios are minidb / Redis (SET/s above 1: minidb faster; p99 below 1:"
echo "minidb's p99 lower). The target column judges the per-round ratio: minidb >= Redis in every"
echo "cell, >= 2x under always at 50 clients. SETs per fsync: INFO wal_records / wal_fsyncs."
