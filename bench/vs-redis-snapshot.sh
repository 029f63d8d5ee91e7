#!/usr/bin/env bash
# vs-redis-snapshot.sh - snapshots side by side: minidb's Parquet snapshot
# against Redis's RDB on the same 1M keys (16-byte keys "key:<12 digits>",
# 100-byte values of mixed text, the same bytes for both servers).
#
# For each server, in every round (the order alternating round by round):
#   1. a fresh server and data dir; the data set loaded with redis-cli --pipe
#   2. SAVE, timed by the client (foreground snapshot); the file's size
#   3. BGSAVE, timed from the command until INFO says it finished (10 ms poll)
#   4. SET latency (redis-benchmark, 50 clients, keys of the data set, 100-byte
#      values) without a snapshot running, then with BGSAVEs back to back for
#      the whole run; p99 of each
#   5. SAVE, SIGKILL, restart on the same data dir: time from the exec until
#      DBSIZE answers the full count (-LOADING before)
# The table gives medians and every round's value; ratios are minidb/Redis.
#
# Usage: bench/vs-redis-snapshot.sh (from anywhere; needs a build: make build)
# Environment (defaults in brackets):
#   ROUNDS [3]  KEYS [1000000]  LAT_N [300000] SETs per latency run
#   MINIDB_BIN [build/minidb]  MINIDB_ARGS [] extra flags  REDIS_ARGS [] likewise
#   TMPDIR [/tmp] where the data dirs go (pick the disk you mean to measure)
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_NAME=vs-redis-snapshot
STOP_TIMEOUT=60
# shellcheck source=bench/lib.sh
. bench/lib.sh

ROUNDS=${ROUNDS:-3}
KEYS=${KEYS:-1000000}
LAT_N=${LAT_N:-300000}
MINIDB_BIN=${MINIDB_BIN:-build/minidb}
MINIDB_ARGS=${MINIDB_ARGS:-}
REDIS_ARGS=${REDIS_ARGS:-}
START_TIMEOUT=${START_TIMEOUT:-120} # seconds until a server answers PING

for tool in redis-server redis-cli redis-benchmark python3 awk; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool not found (scripts/install-deps.sh installs it)"
done
[ -x "$MINIDB_BIN" ] || die "$MINIDB_BIN not found or not executable (make build, or set MINIDB_BIN)"
case "$ROUNDS$KEYS$LAT_N" in *[!0-9]*) die "ROUNDS, KEYS and LAT_N must be numbers" ;; esac

TMP=$(mktemp -d "${TMPDIR:-/tmp}/minidb-vs-redis-snapshot.XXXXXX")
SRV_PID="" BG_PID="" STARTS=0
cleanup() {
	[ -n "$BG_PID" ] && kill "$BG_PID" 2>/dev/null
	stop_pid "$SRV_PID"
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

now_ms() { date +%s%3N; }
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
cli() { redis-cli -h 127.0.0.1 -p "$SRV_PORT" "$@"; }
info_field() { cli INFO persistence | tr -d '\r' | sed -n "s/^$1://p"; }

# The data set as RESP SET commands: deterministic, so both servers get the
# same bytes. Values are words, numbers, addresses and dates, cut to 100.
python3 - "$KEYS" >"$TMP/data.resp" <<'PY'
import random, sys
n = int(sys.argv[1])
rnd = random.Random(20261127)
words = ("user session order cart login logout payment shipped pending error "
         "timeout retry alpha beta gamma delta region eu-west us-east status "
         "ok failed premium basic token refresh click view item price total").split()
out = sys.stdout.buffer
for i in range(n):
    parts = []
    size = 0
    while size < 100:
        r = rnd.random()
        if r < 0.55:
            p = rnd.choice(words)
        elif r < 0.75:
            p = str(rnd.randrange(10 ** rnd.randrange(1, 9)))
        elif r < 0.85:
            p = "%d.%d.%d.%d" % tuple(rnd.randrange(256) for _ in range(4))
        elif r < 0.95:
            p = "2026-%02d-%02dT%02d:%02d:%02dZ" % (rnd.randrange(1, 13), rnd.randrange(1, 29),
                                                  rnd.randrange(24), rnd.randrange(60), rnd.randrange(60))
        else:
            p = "%s=%s" % (rnd.choice(words), rnd.choice(words))
        parts.append(p)
        size += len(p) + 1
    v = " ".join(parts)[:100].encode()
    k = b"key:%012d" % i
    out.write(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k, len(v), v))
PY

start_server() { # kind dir
	local kind=$1 dir=$2 log i
	STARTS=$((STARTS + 1))
	log=$dir/server.$STARTS.log # one per start: the port is read from it
	mkdir -p "$dir"
	if [ "$kind" = minidb ]; then
		# shellcheck disable=SC2086
		set -- "$MINIDB_BIN" --port 0 --http-port 0 --data-dir "$dir/data" --snapshot-every 0 \
			--snapshot-on-shutdown=false --log-format json $MINIDB_ARGS
		: >>"$log"
		START_MS=$(now_ms)
		"$@" >>"$log" 2>&1 &
		SRV_PID=$!
		SRV_PORT=""
		for ((i = 0; i < START_TIMEOUT * 100; i++)); do
			SRV_PORT=$(sed -n '/"msg":"listening"/{/"component":"server"/s/.*"port":\([0-9][0-9]*\).*/\1/p;}' \
				"$log" | tail -n 1)
			[ -n "$SRV_PORT" ] && break
			kill -0 "$SRV_PID" 2>/dev/null || break
			sleep 0.01
		done
	else
		[ -n "${REDIS_PORT:-}" ] || REDIS_PORT=$(free_port)
		SRV_PORT=$REDIS_PORT
		# shellcheck disable=SC2086
		set -- redis-server --port "$SRV_PORT" --bind 127.0.0.1 --save '' --appendonly no \
			--daemonize no --dir "$dir" --dbfilename dump.rdb $REDIS_ARGS
		START_MS=$(now_ms)
		"$@" >>"$log" 2>&1 &
		SRV_PID=$!
	fi
	SRV_CMD=$(quoted "$@")
	[ -n "$SRV_PORT" ] && wait_ping "$SRV_PORT" "$SRV_PID" || {
		cat "$log" >&2
		die "$kind did not start"
	}
}

# Until DBSIZE answers the full count (both servers answer -LOADING before).
wait_loaded() {
	local i
	for ((i = 0; i < START_TIMEOUT * 200; i++)); do
		[ "$(cli DBSIZE 2>/dev/null)" = "$KEYS" ] && return 0
		kill -0 "$SRV_PID" 2>/dev/null || return 1
		sleep 0.005
	done
	return 1
}

wait_bgsave_done() {
	local i
	for ((i = 0; i < 60000; i++)); do
		[ "$(info_field rdb_bgsave_in_progress)" = 0 ] && return 0
		sleep 0.01
	done
	return 1
}

p99_of() { # redis-benchmark --csv output: "test","rps","avg",...,"p99",...
	awk -F'","' '/^"SET"/ { gsub(/"/, "", $7); print $7 }'
}

snapshot_file() { # kind dir
	if [ "$1" = minidb ]; then ls -1 "$2"/data/snapshot-*.parquet | tail -n 1; else echo "$2/dump.rdb"; fi
}

RESULTS=$TMP/results # kind round save_ms bgsave_ms bytes p99_base p99_bgsave load_ms
: >"$RESULTS"

run_one() { # kind round
	local kind=$1 round=$2 dir=$TMP/$1-$2 t0 save_ms bgsave_ms bytes base during load_ms saves
	start_server "$kind" "$dir"
	redis-cli -h 127.0.0.1 -p "$SRV_PORT" --pipe <"$TMP/data.resp" >/dev/null
	[ "$(cli DBSIZE)" = "$KEYS" ] || die "$kind: DBSIZE after loading is $(cli DBSIZE)"
	sync
	t0=$(now_ms)
	[ "$(cli SAVE)" = OK ] || die "$kind: SAVE failed"
	save_ms=$(($(now_ms) - t0))
	bytes=$(stat -c %s "$(snapshot_file "$kind" "$dir")")
	t0=$(now_ms)
	cli BGSAVE >/dev/null
	sleep 0.01
	wait_bgsave_done || die "$kind: BGSAVE did not finish"
	bgsave_ms=$(($(now_ms) - t0))
	[ "$(info_field rdb_last_bgsave_status)" = ok ] || die "$kind: BGSAVE failed"

	base=$(redis-benchmark -h 127.0.0.1 -p "$SRV_PORT" -t set -n "$LAT_N" -r "$KEYS" -d 100 -c 50 --csv | p99_of)
	(
		while :; do
			cli BGSAVE >/dev/null 2>&1 || true
			sleep 0.05
			while [ "$(info_field rdb_bgsave_in_progress)" = 1 ]; do sleep 0.01; done
		done
	) &
	BG_PID=$!
	sleep 0.2
	during=$(redis-benchmark -h 127.0.0.1 -p "$SRV_PORT" -t set -n "$LAT_N" -r "$KEYS" -d 100 -c 50 --csv | p99_of)
	kill "$BG_PID" 2>/dev/null || true
	wait "$BG_PID" 2>/dev/null || true
	BG_PID=""
	wait_bgsave_done || true
	saves=$(info_field rdb_saves)

	[ "$(cli SAVE)" = OK ] || die "$kind: SAVE before the restart failed"
	kill -KILL "$SRV_PID"
	wait "$SRV_PID" 2>/dev/null || true
	SRV_PID=""
	sync
	start_server "$kind" "$dir"
	wait_loaded || die "$kind: did not load $KEYS keys"
	load_ms=$(($(now_ms) - START_MS))
	stop_pid "$SRV_PID"
	SRV_PID=""
	echo "$kind $round $save_ms $bgsave_ms $bytes $base $during $load_ms" >>"$RESULTS"
	printf '%-7s round %d: SAVE %5d ms  BGSAVE %5d ms  file %10d B  p99 %6s ms / %6s ms during BGSAVE%s  restart-to-ready %5d ms\n' \
		"$kind" "$round" "$save_ms" "$bgsave_ms" "$bytes" "$base" "$during" \
		"${saves:+ (rdb_saves $saves)}" "$load_ms"
	rm -rf "$dir"
}

echo "== snapshots: minidb Parquet vs Redis RDB, $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "machine:   $(nproc) cores, $(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo), Linux $(uname -r)"
echo "data dirs: under $TMP: $(df -T "$TMP" | awk 'NR == 2 { print $2 " on " $1 }')"
echo "minidb:    $(timeout 5 "$MINIDB_BIN" --version 2>&1 | head -n 1) (source tree at $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- src 2>/dev/null || echo ', src modified'))"
echo "redis:     $(redis-server --version)"
echo "servers:   $MINIDB_BIN --port 0 --data-dir DIR --snapshot-every 0 --snapshot-on-shutdown=false $MINIDB_ARGS"
echo "           redis-server --port P --bind 127.0.0.1 --save '' --appendonly no --dir DIR $REDIS_ARGS"
echo "data set:  $KEYS keys of 16 bytes, values of 100 bytes of mixed text ($(stat -c %s "$TMP/data.resp") bytes of RESP)"
echo "latency:   redis-benchmark -t set -n $LAT_N -r $KEYS -d 100 -c 50 --csv, alone and with BGSAVEs back to back"
echo

for ((round = 1; round <= ROUNDS; round++)); do
	if ((round % 2)); then order="minidb redis"; else order="redis minidb"; fi
	for kind in $order; do run_one "$kind" "$round"; done
done

echo
python3 - "$RESULTS" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
def med(kind, col):
    return statistics.median(float(r[col]) for r in rows if r[0] == kind)
cols = [("SAVE (ms)", 2), ("BGSAVE (ms)", 3), ("file (bytes)", 4), ("SET p99 (ms)", 5),
        ("SET p99 during BGSAVE (ms)", 6), ("restart-to-ready (ms)", 7)]
print("| median of %d rounds | minidb | Redis | minidb/Redis |" % (len(rows) // 2))
print("|---|---|---|---|")
for name, c in cols:
    m, r = med("minidb", c), med("redis", c)
    print("| %s | %g | %g | %.2fx |" % (name, m, r, m / r if r else float("nan")))
for kind in ("minidb", "redis"):
    print("%s p99 during/without BGSAVE: %.2fx" % (kind, med(kind, 6) / med(kind, 5)))
PY
