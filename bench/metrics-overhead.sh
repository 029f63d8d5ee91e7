#!/usr/bin/env bash
# metrics-overhead.sh - what the metrics cost: minidb's throughput and CPU
# per request with the HTTP endpoint off and on (issue 7's target: on is
# within 3% of off at 50 clients, pipeline 16).
#
# Two minidb servers run side by side on fresh data dirs in a temp dir:
# A with --http-port 0 (no endpoint; no per-command figures unless the slow
# log times commands) and B with --http-port=-1 (the endpoint on a free port,
# every command counted and timed). Both get --slowlog-ms=$SLOWLOG_MS (default -1: off), because
# the slow log also reads the clock per command: with it off, A reads no
# clock per command and B does, so B - A is the whole cost of the metrics.
# While B runs, curl scrapes B's /metrics every second, as Prometheus would
# (scraping is part of "metrics on"; A has nothing to scrape). Each round
# runs A then B, the next B then A, each run after a FLUSHALL:
#   redis-benchmark -t set,get -c 50 -P 16 -n N -r 100000 -d 32 -q --csv
# B/A is the median of the per-round ratios (the two runs of a round are
# adjacent, so drift cancels), the throughput columns the medians of the
# rounds. Server CPU per request (utime + stime of the server process from
# /proc/PID/stat over the run, divided by its 2N requests) is the part that
# belongs to the server, free of the client's share of the 2 cores.
# Ports are the kernel's picks (--port 0, --http-port=-1), read from the
# servers' log lines. A trap stops both servers and the scraper and removes
# the temp dir however the script ends.
#
# Usage: bench/metrics-overhead.sh (from anywhere; needs a build: make build)
# Environment (defaults in brackets):
#   ROUNDS [7]  CLIENTS [50]  PIPELINE [16]  N [1000000] requests per test
#   KEYSPACE [100000] (-r)  DATA_SIZE [32] (-d)  SCRAPE_EVERY [1] seconds
#   SLOWLOG_MS [-1] --slowlog-ms of both servers (10 is minidb's default)
#   MINIDB_BIN [build/minidb]  MINIDB_ARGS [] extra flags for both servers
#   RESULTS_FILE [] keep the raw results there (round server test value)
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_NAME=metrics-overhead
STOP_TIMEOUT=10
# shellcheck source=bench/lib.sh
. bench/lib.sh

ROUNDS=${ROUNDS:-7}
CLIENTS=${CLIENTS:-50}
PIPELINE=${PIPELINE:-16}
N=${N:-1000000}
KEYSPACE=${KEYSPACE:-100000}
DATA_SIZE=${DATA_SIZE:-32}
SCRAPE_EVERY=${SCRAPE_EVERY:-1}
SLOWLOG_MS=${SLOWLOG_MS:--1}
MINIDB_BIN=${MINIDB_BIN:-build/minidb}
MINIDB_ARGS=${MINIDB_ARGS:-}
RESULTS_FILE=${RESULTS_FILE:-}
START_TIMEOUT=${START_TIMEOUT:-10} # seconds until a server is ready
RUN_TIMEOUT=${RUN_TIMEOUT:-300}    # seconds one benchmark run may take

for tool in redis-cli redis-benchmark curl awk timeout; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool not found (scripts/install-deps.sh installs it)"
done
[ -x "$MINIDB_BIN" ] || die "$MINIDB_BIN not found or not executable (make build, or set MINIDB_BIN)"
case "$ROUNDS$CLIENTS$PIPELINE$N$KEYSPACE$DATA_SIZE$SCRAPE_EVERY$RUN_TIMEOUT" in
*[!0-9]*) die "ROUNDS, CLIENTS, PIPELINE, N, KEYSPACE, DATA_SIZE, SCRAPE_EVERY and RUN_TIMEOUT must be numbers" ;;
esac
[[ $SLOWLOG_MS =~ ^-?[0-9]+$ ]] || die "SLOWLOG_MS must be a number (-1: off)"
[ "$ROUNDS" -ge 1 ] || die "ROUNDS must be at least 1"
[ "$N" -ge 1 ] || die "N must be at least 1"

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

TMP=$(mktemp -d "${TMPDIR:-/tmp}/minidb-metrics-overhead.XXXXXX")
declare -A PID PORT HTTP_PORT CMD
PID[A]="" PID[B]=""
SCRAPER=""

stop_scraper() {
	[ -n "$SCRAPER" ] || return 0
	kill "$SCRAPER" 2>/dev/null || true
	wait "$SCRAPER" 2>/dev/null || true
	SCRAPER=""
}

cleanup() {
	stop_scraper
	stop_pid "${PID[A]}"
	stop_pid "${PID[B]}"
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The value of "port" in the first JSON log line of file that matches
# pattern (a grep -F string); empty when there is none yet.
log_port() {
	{ grep -F -- "$2" "$1" 2>/dev/null || true; } | head -n 1 |
		sed -n 's/.*"port":\([0-9][0-9]*\).*/\1/p'
}

# Starts server s (A: endpoint off, B: on) on ports the kernel picks and
# waits for its "ready" line and a PONG.
start_server() {
	local s=$1 dir=$TMP/$1 log i p="" hp=""
	mkdir -p "$dir"
	log=$dir/server.log
	if [ "$s" = A ]; then
		set -- --http-port 0
	else
		set -- --http-port=-1
	fi
	# shellcheck disable=SC2086 # MINIDB_ARGS is a list of flags
	set -- "$MINIDB_BIN" --port 0 "$@" --slowlog-ms="$SLOWLOG_MS" --data-dir "$dir/data" \
		--log-format json $MINIDB_ARGS
	CMD[$s]=$(quoted "$@")
	"$@" >"$log" 2>&1 &
	PID[$s]=$!
	for ((i = 0; i < START_TIMEOUT * 20; i++)); do
		kill -0 "${PID[$s]}" 2>/dev/null || break
		p=$(log_port "$log" '"msg":"ready"')
		[ -n "$p" ] && break
		sleep 0.05
	done
	if [ -z "$p" ] || ! wait_ping "$p" "${PID[$s]}"; then
		cat "$log" >&2
		die "server $s did not start within $START_TIMEOUT s"
	fi
	PORT[$s]=$p
	if [ "$s" = B ]; then
		hp=$(log_port "$log" '"listener":"http"')
		[ -n "$hp" ] || die "server B logged no HTTP port"
		curl -fsS -o /dev/null --max-time 5 "http://127.0.0.1:$hp/metrics" ||
			die "server B: GET /metrics failed"
		HTTP_PORT[$s]=$hp
	else
		grep -qF '"listener":"http"' "$log" && die "server A serves HTTP although --http-port 0"
	fi
	return 0
}

# Scrapes B's /metrics every SCRAPE_EVERY seconds until stopped; appends
# one line per scrape to $TMP/scrapes ("ok" or "fail").
start_scraper() {
	local url="http://127.0.0.1:${HTTP_PORT[B]}/metrics"
	(
		trap 'exit 0' TERM
		while :; do
			if curl -fsS -o /dev/null --max-time 5 "$url" 2>/dev/null; then
				echo ok
			else
				echo fail
			fi
			sleep "$SCRAPE_EVERY"
		done
	) >>"$TMP/scrapes" &
	SCRAPER=$!
}

CLK_TCK=$(getconf CLK_TCK)

# CPU time the process has used so far (all threads, user + system), in
# clock ticks: fields 14 and 15 of /proc/PID/stat, counted after the
# parenthesised command name (which may hold blanks).
cpu_ticks() {
	awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}

bench_cmd() {
	echo redis-benchmark -h 127.0.0.1 -p "$1" -c "$CLIENTS" -P "$PIPELINE" -t set,get -n "$N" \
		-r "$KEYSPACE" -d "$DATA_SIZE" -q --csv
}

# One run against server s: prints "SET rps", "GET rps" and "CPU us/request".
run_one() {
	local s=$1 out t0 t1
	local -a cmd
	read -r -a cmd <<<"$(bench_cmd "${PORT[$s]}")"
	[ "$(redis-cli -h 127.0.0.1 -p "${PORT[$s]}" FLUSHALL 2>&1)" = OK ] || die "server $s: FLUSHALL failed"
	[ "$s" = B ] && start_scraper
	t0=$(cpu_ticks "${PID[$s]}")
	if ! out=$(timeout "$RUN_TIMEOUT" "${cmd[@]}" 2>"$TMP/bench.err"); then
		stop_scraper
		cat "$TMP/bench.err" >&2
		die "server $s: redis-benchmark failed"
	fi
	t1=$(cpu_ticks "${PID[$s]}")
	[ "$s" = B ] && stop_scraper
	# "SET","123456.79",...
	printf '%s\n' "$out" | awk -F'"' '$2 == "SET" || $2 == "GET" { print $2, $4 }'
	awk -v a="$t0" -v b="$t1" -v hz="$CLK_TCK" -v n="$N" \
		'BEGIN { printf "CPU %.3f\n", (b - a) / hz * 1e6 / (2 * n) }'
}

start_server A
start_server B
: >"$TMP/scrapes"

echo "== Metrics on vs off, $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "machine:   $(nproc) cores ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || echo unknown)), $(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo), Linux $(uname -r)"
echo "minidb:    $(timeout 5 "$MINIDB_BIN" --version 2>&1 | head -n 1) ($MINIDB_BIN; source tree at $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- src 2>/dev/null || echo ', src modified'))"
echo "client:    $(redis-benchmark --version 2>&1 | head -n 1); client and servers share this machine's cores"
echo "server A:  metrics off: ${CMD[A]}"
echo "server B:  metrics on:  ${CMD[B]}"
echo "           (the ports are the kernel's picks: A on ${PORT[A]}, B on ${PORT[B]}, B's /metrics on ${HTTP_PORT[B]})"
echo "scrape:    curl -fsS --max-time 5 http://127.0.0.1:${HTTP_PORT[B]}/metrics every $SCRAPE_EVERY s during B's runs"
echo "workload:  $(bench_cmd PORT), after FLUSHALL"
echo "rounds:    $ROUNDS; A then B in odd rounds, B then A in even ones"
echo

RESULTS=$TMP/results # lines: round server test value (test: SET, GET, CPU)
: >"$RESULTS"
for ((round = 1; round <= ROUNDS; round++)); do
	if ((round % 2 == 1)); then order="A B"; else order="B A"; fi
	for s in $order; do
		echo "round $round/$ROUNDS: server $s" >&2
		rows=$(run_one "$s")
		[ "$(printf '%s\n' "$rows" | grep -c '^[SG]ET ')" -eq 2 ] ||
			die "server $s: redis-benchmark printed no SET and GET figures"
		printf '%s\n' "$rows" | awk -v r="$round" -v s="$s" '{ print r, s, $1, $2 }' >>"$RESULTS"
		wait_ping "${PORT[$s]}" "${PID[$s]}" || die "server $s stopped answering"
	done
done
[ -z "$RESULTS_FILE" ] || cp "$RESULTS" "$RESULTS_FILE"

scrapes_ok=$(grep -c '^ok$' "$TMP/scrapes" || true)
scrapes_failed=$(grep -c '^fail$' "$TMP/scrapes" || true)
[ "$scrapes_ok" -ge 1 ] || die "no scrape of B's /metrics succeeded during its runs"

echo "| round | order | A SET ops/s | B SET ops/s | A GET ops/s | B GET ops/s | A CPU us/req | B CPU us/req |"
echo "|---|---|---|---|---|---|---|---|"
awk '
	{ v[$1, $2, $3] = $4; if ($1 > nr) nr = $1 }
	END {
		for (r = 1; r <= nr; r++)
			printf "| %d | %s | %.0f | %.0f | %.0f | %.0f | %.3f | %.3f |\n", r,
			       r % 2 ? "A, B" : "B, A", v[r, "A", "SET"], v[r, "B", "SET"],
			       v[r, "A", "GET"], v[r, "B", "GET"], v[r, "A", "CPU"], v[r, "B", "CPU"]
	}' "$RESULTS"
echo
echo "| measure | A (metrics off) | B (metrics on) | B/A | target |"
echo "|---|---|---|---|---|"
awk '
	function median(x, n,   i, j, t) {
		for (i = 2; i <= n; i++) {   # insertion sort, n is small
			t = x[i]
			for (j = i - 1; j >= 1 && x[j] > t; j--) x[j + 1] = x[j]
			x[j + 1] = t
		}
		return n % 2 ? x[(n + 1) / 2] : (x[n / 2] + x[n / 2 + 1]) / 2
	}
	function commas(x,   s) {
		s = sprintf("%.0f", x)
		while (s ~ /[0-9][0-9][0-9][0-9]/) sub(/[0-9][0-9][0-9]($|,)/, ",&", s)
		return s
	}
	{ v[$1, $2, $3] = $4; if ($1 > nr) nr = $1 }
	END {
		split("SET GET CPU", tests, " ")
		for (k = 1; k <= 3; k++) {
			t = tests[k]; na = nb = nq = 0
			delete av; delete bv; delete qv
			for (r = 1; r <= nr; r++) {
				if ((r, "A", t) in v) av[++na] = v[r, "A", t]
				if ((r, "B", t) in v) bv[++nb] = v[r, "B", t]
				if ((r, "A", t) in v && (r, "B", t) in v && v[r, "A", t] > 0)
					qv[++nq] = v[r, "B", t] / v[r, "A", t]
			}
			q = nq ? median(qv, nq) : 0
			verdict = q >= 0.97 ? ">= 0.97 (met)" : ">= 0.97 (**missed**)"
			if (t == "CPU")
				printf "| server CPU us/request | %.3f | %.3f | %.3f | %s |\n", median(av, na),
				       median(bv, nb), q, "-"
			else
				printf "| %s ops/s | %s | %s | %.3f | %s |\n", t, commas(median(av, na)),
				       commas(median(bv, nb)), q, verdict
		}
	}' "$RESULTS"
echo
echo "Throughput and CPU: medians of $ROUNDS rounds. B/A: the median of the per-round ratios"
echo "(the A and B runs of a round are adjacent). Target: B's throughput at least 97% of A's."
echo "Server CPU: user + system time of the server process (all threads, the HTTP ones"
echo "included) from /proc/PID/stat over the run, per request of the run's 2 x $N."
echo "Scrapes of B's /metrics during its runs: $scrapes_ok succeeded, $scrapes_failed failed."
