#!/usr/bin/env bash
# vs-redis.sh - minidb and Debian's redis-server side by side: the same
# redis-benchmark workloads against each, then memory per key.
#
# Both servers run on this machine with persistence off, on free ports, in a
# temp dir removed on exit (a trap stops both servers however the script
# ends). Each round runs every workload against both servers, the order
# alternating from round to round so a noisy neighbour or thermal drift
# shows up as spread rather than as a bias; the table gives the median of
# the rounds and every round's value. Each run starts from an empty
# database (FLUSHALL). Memory: fresh servers, exactly MEM_KEYS SETs of
# 14-byte keys (key:0000000001 ...) and 32-byte values piped with
# `redis-cli --pipe`, VmRSS from /proc before and after.
#
# Usage: bench/vs-redis.sh (from anywhere; needs a build: make build)
# Environment (defaults in brackets):
#   ROUNDS [5]  N_P1 [200000] requests per test at -P 1  N_P16 [1000000] at -P 16
#   WORKLOADS ["c50-P1 c50-P16 c500-P1"]  KEYSPACE [1000000] (-r)  DATA_SIZE [32] (-d)
#   MEM_KEYS [1000000] (0 skips the memory test)  MINIDB_BIN [build/minidb]
#   MINIDB_ARGS [] extra server flags, e.g. "--threads 2"  REDIS_ARGS [] likewise
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_NAME=vs-redis
STOP_TIMEOUT=10
# shellcheck source=bench/lib.sh
. bench/lib.sh

ROUNDS=${ROUNDS:-5}
N_P1=${N_P1:-200000}
N_P16=${N_P16:-1000000}
WORKLOADS=${WORKLOADS:-"c50-P1 c50-P16 c500-P1"}
KEYSPACE=${KEYSPACE:-1000000}
DATA_SIZE=${DATA_SIZE:-32}
MEM_KEYS=${MEM_KEYS:-1000000}
MINIDB_BIN=${MINIDB_BIN:-build/minidb}
MINIDB_ARGS=${MINIDB_ARGS:-}
REDIS_ARGS=${REDIS_ARGS:-}
START_TIMEOUT=${START_TIMEOUT:-10} # seconds until a server answers PING


for tool in redis-server redis-cli redis-benchmark awk sort; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool not found (scripts/install-deps.sh installs it)"
done
[ -x "$MINIDB_BIN" ] || die "$MINIDB_BIN not found or not executable (make build, or set MINIDB_BIN)"
case "$ROUNDS$N_P1$N_P16$KEYSPACE$DATA_SIZE$MEM_KEYS" in
*[!0-9]*) die "ROUNDS, N_P1, N_P16, KEYSPACE, DATA_SIZE and MEM_KEYS must be numbers" ;;
esac
[ "$ROUNDS" -ge 1 ] || die "ROUNDS must be at least 1"
for wl in $WORKLOADS; do
	[[ $wl =~ ^c[0-9]+-P[0-9]+$ ]] || die "workload '$wl' is not c<clients>-P<pipeline>"
done

# 500 clients need 500 descriptors in redis-benchmark and in each server.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

TMP=$(mktemp -d "${TMPDIR:-/tmp}/minidb-vs-redis.XXXXXX")
MINIDB_PID="" MINIDB_PORT="" REDIS_PID="" REDIS_PORT=""


cleanup() {
	stop_pid "$MINIDB_PID"
	stop_pid "$REDIS_PID"
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM


MINIDB_CMD="" REDIS_CMD=""

start_minidb() {
	local dir=$TMP/minidb.$RANDOM log i
	mkdir -p "$dir"
	log=$dir/server.log
	# shellcheck disable=SC2086 # MINIDB_ARGS is a list of flags
	set -- "$MINIDB_BIN" --port 0 --http-port 0 --data-dir "$dir/data" --log-format json $MINIDB_ARGS
	MINIDB_CMD=$(quoted "$@")
	: >"$log" # exists before the background job's redirection opens it
	"$@" >>"$log" 2>&1 &
	MINIDB_PID=$!
	MINIDB_PORT=""
	for ((i = 0; i < START_TIMEOUT * 20; i++)); do
		MINIDB_PORT=$(sed -n '/"msg":"listening"/{/"component":"server"/s/.*"port":\([0-9][0-9]*\).*/\1/p;}' \
			"$log" | head -n 1)
		[ -n "$MINIDB_PORT" ] && break
		kill -0 "$MINIDB_PID" 2>/dev/null || break
		sleep 0.05
	done
	if [ -z "$MINIDB_PORT" ] || ! wait_ping "$MINIDB_PORT" "$MINIDB_PID"; then
		cat "$log" >&2
		die "minidb did not start or does not answer PING"
	fi
}

# Debian's redis-server cannot pick its own port: try random ones until one
# is free (nothing answers there and the server stays up).
start_redis() {
	local dir=$TMP/redis.$RANDOM port try
	mkdir -p "$dir"
	for ((try = 0; try < 20; try++)); do
		port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
		redis-cli -h 127.0.0.1 -p "$port" PING >/dev/null 2>&1 && continue
		# shellcheck disable=SC2086 # REDIS_ARGS is a list of flags
		set -- redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
			--daemonize no --dir "$dir" $REDIS_ARGS
		REDIS_CMD=$(quoted "$@")
		"$@" >"$dir/server.log" 2>&1 &
		REDIS_PID=$!
		if wait_ping "$port" "$REDIS_PID"; then
			REDIS_PORT=$port
			return 0
		fi
		stop_pid "$REDIS_PID"
		REDIS_PID=""
	done
	cat "$dir/server.log" >&2
	die "redis-server did not start on any of 20 ports"
}

port_of() { if [ "$1" = minidb ]; then echo "$MINIDB_PORT"; else echo "$REDIS_PORT"; fi; }
pid_of() { if [ "$1" = minidb ]; then echo "$MINIDB_PID"; else echo "$REDIS_PID"; fi; }


# VmRSS of pid in kB.
rss_kb() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

start_minidb
start_redis

echo "== minidb vs redis-server, $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "machine:   $(nproc) cores ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || echo unknown)), $(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo), Linux $(uname -r)"
echo "minidb:    $(timeout 5 "$MINIDB_BIN" --version 2>&1 | head -n 1) ($MINIDB_BIN; source tree at $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- src 2>/dev/null || echo ', src modified'))"
echo "redis:     $(redis-server --version)"
echo "client:    $(redis-benchmark --version 2>&1 | head -n 1); client and servers share this machine's cores"
echo "servers:   $MINIDB_CMD"
echo "           $REDIS_CMD"
echo "workloads: redis-benchmark -h 127.0.0.1 -p PORT -t set,get -n N -r $KEYSPACE -d $DATA_SIZE -c C -P P --csv"
echo "           with $WORKLOADS; N=$N_P1 at -P 1, $N_P16 otherwise; FLUSHALL before each run"
echo "rounds:    $ROUNDS, the A/B order alternating"
echo

RESULTS=$TMP/results # lines: workload test server round rps
: >"$RESULTS"

for ((round = 1; round <= ROUNDS; round++)); do
	if ((round % 2 == 1)); then order="minidb redis"; else order="redis minidb"; fi
	for wl in $WORKLOADS; do
		clients=${wl#c}
		clients=${clients%%-*}
		pipeline=${wl#*-P}
		if [ "$pipeline" -le 1 ]; then n=$N_P1; else n=$N_P16; fi
		for srv in $order; do
			port=$(port_of "$srv")
			[ "$(redis-cli -h 127.0.0.1 -p "$port" FLUSHALL 2>&1)" = OK ] || die "$srv: FLUSHALL failed"
			cmd=(redis-benchmark -h 127.0.0.1 -p "$port" -t "set,get" -n "$n" -r "$KEYSPACE"
				-d "$DATA_SIZE" -c "$clients" -P "$pipeline" --csv)
			echo "round $round/$ROUNDS $srv: ${cmd[*]}"
			if ! out=$("${cmd[@]}" 2>"$TMP/bench.err"); then
				cat "$TMP/bench.err" >&2
				die "$srv: redis-benchmark failed"
			fi
			# "SET","123456.79","0.123",...
			rows=$(printf '%s\n' "$out" | awk -F'"' -v wl="$wl" -v srv="$srv" -v r="$round" \
				'$2 == "SET" || $2 == "GET" { print wl, $2, srv, r, $4 }')
			[ "$(printf '%s\n' "$rows" | grep -c .)" -eq 2 ] ||
				die "$srv: no SET and GET rows in redis-benchmark's output: $out $(cat "$TMP/bench.err")"
			printf '%s\n' "$rows" >>"$RESULTS"
			wait_ping "$port" "$(pid_of "$srv")" || die "$srv stopped answering after $wl"
		done
	done
done

echo
printf '%-9s %-4s %14s %14s %8s   %s\n' workload test "minidb rps" "redis rps" ratio \
	"rounds (minidb | redis)"
for wl in $WORKLOADS; do
	for t in SET GET; do
		awk -v wl="$wl" -v t="$t" '
			function median(v, n,   i, j, x) {
				for (i = 2; i <= n; i++) {   # insertion sort, n is small
					x = v[i]
					for (j = i - 1; j >= 1 && v[j] > x; j--) v[j + 1] = v[j]
					v[j + 1] = x
				}
				return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
			}
			$1 == wl && $2 == t {
				if ($3 == "minidb") { m[++nm] = $5 + 0; ml = ml (nm > 1 ? " " : "") sprintf("%.0f", $5) }
				else { r[++nr] = $5 + 0; rl = rl (nr > 1 ? " " : "") sprintf("%.0f", $5) }
			}
			END {
				mm = median(m, nm); rm = median(r, nr)
				printf "%-9s %-4s %14.0f %14.0f %8.2f   %s | %s\n", wl, t, mm, rm,
				       (rm > 0 ? mm / rm : 0), ml, rl
			}' "$RESULTS"
	done
done
echo "ratio: minidb median / redis median requests per second; above 1 means minidb is faster"

if [ "$MEM_KEYS" -gt 0 ]; then
	echo
	echo "== memory per key: $MEM_KEYS SETs of 14-byte keys (key:0000000001 ...) and 32-byte values"
	[ "$MEM_KEYS" -le 9999999999 ] || die "MEM_KEYS must fit in 10 digits"
	LOAD=$TMP/load.resp
	awk -v n="$MEM_KEYS" 'BEGIN {
		for (i = 1; i <= n; i++)
			printf "*3\r\n$3\r\nSET\r\n$14\r\nkey:%010d\r\n$32\r\n%032d\r\n", i, i
	}' >"$LOAD"
	echo "load:      redis-cli -h 127.0.0.1 -p PORT --pipe < SETs ($(wc -c <"$LOAD") bytes of RESP)"
	stop_pid "$MINIDB_PID"
	stop_pid "$REDIS_PID"
	MINIDB_PID="" REDIS_PID=""
	start_minidb
	start_redis
	printf '%-8s %14s %14s %10s\n' server "RSS before" "RSS after" bytes/key
	declare -A per_key
	for srv in minidb redis; do
		port=$(port_of "$srv")
		pid=$(pid_of "$srv")
		before=$(rss_kb "$pid")
		summary=$(redis-cli -h 127.0.0.1 -p "$port" --pipe <"$LOAD" 2>&1) ||
			die "$srv: redis-cli --pipe failed: $summary"
		printf '%s\n' "$summary" | grep -q "errors: 0, replies: $MEM_KEYS\$" ||
			die "$srv: redis-cli --pipe: $summary"
		keys=$(redis-cli -h 127.0.0.1 -p "$port" DBSIZE)
		[ "$keys" = "$MEM_KEYS" ] || die "$srv: DBSIZE is $keys after loading $MEM_KEYS keys"
		after=$(rss_kb "$pid")
		per_key[$srv]=$(awk -v a="$after" -v b="$before" -v n="$MEM_KEYS" \
			'BEGIN { printf "%.1f", (a - b) * 1024 / n }')
		printf '%-8s %10.1f MiB %10.1f MiB %10s\n' "$srv" "$(awk -v k="$before" 'BEGIN { print k / 1024 }')" \
			"$(awk -v k="$after" 'BEGIN { print k / 1024 }')" "${per_key[$srv]}"
	done
	awk -v m="${per_key[minidb]}" -v r="${per_key[redis]}" \
		'BEGIN { printf "ratio:    minidb/redis bytes per key %.2f (below 1 means minidb uses less)\n", (r > 0 ? m / r : 0) }'
fi
