#!/usr/bin/env bash
# vs-redis-tls.sh - what TLS costs minidb and what it costs Debian's
# redis-server: each server's throughput over plaintext and over TLS, their
# ratio, and the ratio of the two ratios (the target of issue 6: TLS costs
# minidb no more than it costs Redis, i.e. minidb's TLS/plain >= Redis's).
#
# A throwaway CA and a server certificate (P-256, SAN localhost and
# 127.0.0.1) are made with the openssl command in a temp dir; both servers
# use the same certificate, and the cipher suite each negotiates is printed.
# Every server serves plaintext and TLS side by side on free ports picked at
# run time: minidb (--tls-port, its write-ahead log on with fsync everysec,
# the default), redis-server with persistence off, and (REDIS_AOF=1) a
# second redis-server with appendonly yes / appendfsync everysec, since
# minidb always logs. Clients: redis-benchmark -t set,get (RESP, with
# --tls --cacert for TLS) and minidb-bench -t set,ping (the line protocol;
# Redis answers the same inline commands), each at -P 1 and -P 16. Each
# round runs every cell against every server, plaintext and TLS back to
# back, the server order rotating from round to round; TLS/plain is the
# median of the per-round ratios (adjacent runs, so drift cancels), the
# throughput columns the medians of the rounds. Clients and servers share
# this machine's cores, so throughput ratios include the client's own TLS
# work, which weighs more the cheaper the server is per request; a second
# table therefore gives each server's own CPU time per request (utime +
# stime of the server process from /proc over each run) plain and TLS, and
# what TLS adds. Bounded waits, and a trap stops every server and removes
# the temp dir however the script ends.
#
# Usage: bench/vs-redis-tls.sh (from anywhere; needs a build: make build)
# Environment (defaults in brackets):
#   ROUNDS [5]  CLIENTS [50]  N_P1 [100000] requests per test at -P 1
#   N_P16 [500000] at -P 16  KEYSPACE [100000] (-r)  DATA_SIZE [32] (-d)
#   PIPELINES ["1 16"]  TOOLS ["redis-benchmark minidb-bench"]
#   REDIS_AOF [1] also measure Redis with appendonly everysec (0: not)
#   MINIDB_BIN [build/minidb]  MINIDB_BENCH [build/minidb-bench]
#   MINIDB_ARGS [] extra minidb flags, e.g. "--threads 1"  REDIS_ARGS [] likewise
#   SERVERS [minidb redis redis-aof] which servers to measure
#   RESULTS_FILE [] keep the raw results there (tool P test server mode round rps,
#                   and "cpu" tool P server mode round us_per_request)
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_NAME=vs-redis-tls
STOP_TIMEOUT=10
# shellcheck source=bench/lib.sh
. bench/lib.sh

ROUNDS=${ROUNDS:-5}
CLIENTS=${CLIENTS:-50}
N_P1=${N_P1:-100000}
N_P16=${N_P16:-500000}
KEYSPACE=${KEYSPACE:-100000}
DATA_SIZE=${DATA_SIZE:-32}
PIPELINES=${PIPELINES:-"1 16"}
TOOLS=${TOOLS:-"redis-benchmark minidb-bench"}
REDIS_AOF=${REDIS_AOF:-1}
MINIDB_BIN=${MINIDB_BIN:-build/minidb}
MINIDB_BENCH=${MINIDB_BENCH:-build/minidb-bench}
MINIDB_ARGS=${MINIDB_ARGS:-}
REDIS_ARGS=${REDIS_ARGS:-}
RESULTS_FILE=${RESULTS_FILE:-}
START_TIMEOUT=${START_TIMEOUT:-10} # seconds until a server answers PING
RUN_TIMEOUT=${RUN_TIMEOUT:-300}    # seconds one benchmark run may take


for tool in redis-server redis-cli redis-benchmark openssl python3 awk timeout; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool not found (scripts/install-deps.sh installs it)"
done
[ -x "$MINIDB_BIN" ] || die "$MINIDB_BIN not found or not executable (make build, or set MINIDB_BIN)"
[ -x "$MINIDB_BENCH" ] || die "$MINIDB_BENCH not found or not executable (make build, or set MINIDB_BENCH)"
case "$ROUNDS$CLIENTS$N_P1$N_P16$KEYSPACE$DATA_SIZE$REDIS_AOF$RUN_TIMEOUT${PIPELINES// /}" in
*[!0-9]*) die "ROUNDS, CLIENTS, N_P1, N_P16, KEYSPACE, DATA_SIZE, REDIS_AOF, RUN_TIMEOUT and PIPELINES must be numbers" ;;
esac
[ "$ROUNDS" -ge 1 ] || die "ROUNDS must be at least 1"
for t in $TOOLS; do
	case $t in redis-benchmark | minidb-bench) ;; *) die "tool '$t' is not redis-benchmark or minidb-bench" ;; esac
done

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

TMP=$(mktemp -d "${TMPDIR:-/tmp}/minidb-vs-redis-tls.XXXXXX")
declare -A PID PORT TLS_PORT CMD
if [ -z "${SERVERS:-}" ]; then
	SERVERS="minidb redis"
	[ "$REDIS_AOF" -eq 1 ] && SERVERS="$SERVERS redis-aof"
fi
for s in $SERVERS; do
	case $s in minidb | redis | redis-aof) ;; *) die "server '$s' is not minidb, redis or redis-aof" ;; esac
done


cleanup() {
	local s
	for s in $SERVERS; do stop_pid "${PID[$s]:-}"; done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM


# A port that was free a moment ago (the kernel's pick for port 0). Another
# process may take it before the server binds it: the starts retry.
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The CA and the server certificate both servers present.
make_certs() {
	local d=$TMP/tls
	mkdir -p "$d"
	printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$d/server.ext"
	if ! openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$d/ca.key" -out "$d/ca.pem" -days 2 -subj "/CN=vs-redis-tls throwaway CA" \
		-addext "basicConstraints=critical,CA:TRUE" >"$d/log" 2>&1 ||
		! openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
			-keyout "$d/server.key" -out "$d/server.csr" -subj /CN=localhost >>"$d/log" 2>&1 ||
		! openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
			-CAcreateserial -out "$d/server.pem" -days 2 -extfile "$d/server.ext" >>"$d/log" 2>&1; then
		cat "$d/log" >&2
		die "openssl could not make the test certificates"
	fi
	CA=$d/ca.pem CERT=$d/server.pem KEY=$d/server.key
}

# Waits until the TLS port answers PING while pid lives.
wait_tls_ping() {
	local port=$1 pid=$2 i
	for ((i = 0; i < START_TIMEOUT * 20; i++)); do
		kill -0 "$pid" 2>/dev/null || return 1
		[ "$(timeout 5 redis-cli -h 127.0.0.1 -p "$port" --tls --cacert "$CA" PING 2>/dev/null)" = PONG ] &&
			return 0
		sleep 0.05
	done
	return 1
}

# Starts server s (minidb, redis or redis-aof) on two free ports, retrying
# with others when a port was taken meanwhile.
start_server() {
	local s=$1 dir=$TMP/$1 try p tp
	mkdir -p "$dir"
	for ((try = 0; try < 10; try++)); do
		p=$(free_port)
		tp=$(free_port)
		[ "$p" != "$tp" ] || continue
		case $s in
		minidb)
			# shellcheck disable=SC2086 # MINIDB_ARGS is a list of flags
			set -- "$MINIDB_BIN" --port "$p" --tls-port "$tp" --tls-cert-file "$CERT" \
				--tls-key-file "$KEY" --data-dir "$dir/data" --http-port 0 --log-format json $MINIDB_ARGS
			;;
		redis)
			# shellcheck disable=SC2086 # REDIS_ARGS is a list of flags
			set -- redis-server --port "$p" --tls-port "$tp" --tls-cert-file "$CERT" \
				--tls-key-file "$KEY" --tls-ca-cert-file "$CA" --tls-auth-clients no \
				--bind 127.0.0.1 --save '' --appendonly no --daemonize no --dir "$dir" $REDIS_ARGS
			;;
		redis-aof)
			# shellcheck disable=SC2086 # REDIS_ARGS is a list of flags
			set -- redis-server --port "$p" --tls-port "$tp" --tls-cert-file "$CERT" \
				--tls-key-file "$KEY" --tls-ca-cert-file "$CA" --tls-auth-clients no \
				--bind 127.0.0.1 --save '' --appendonly yes --appendfsync everysec \
				--daemonize no --dir "$dir" $REDIS_ARGS
			;;
		esac
		CMD[$s]=$(quoted "$@")
		"$@" >"$dir/server.log" 2>&1 &
		PID[$s]=$!
		if wait_ping "$p" "${PID[$s]}" && wait_tls_ping "$tp" "${PID[$s]}"; then
			PORT[$s]=$p TLS_PORT[$s]=$tp
			return 0
		fi
		stop_pid "${PID[$s]}"
		PID[$s]=""
	done
	cat "$dir/server.log" >&2
	die "$s did not start (or does not answer PING on both ports) on any of 10 port pairs"
}

# The TLS version and cipher suite a client gets from server s.
negotiated() {
	timeout 10 openssl s_client -connect "127.0.0.1:${TLS_PORT[$1]}" -CAfile "$CA" -brief \
		</dev/null 2>&1 | awk -F': ' '/^Protocol version/ { v = $2 } /^Ciphersuite/ { c = $2 }
			END { print (v ? v : "?") " " (c ? c : "?") }'
}

requests_for() { if [ "$1" -le 1 ]; then echo "$N_P1"; else echo "$N_P16"; fi; }

CLK_TCK=$(getconf CLK_TCK)

# CPU time the process has used so far (all threads, user + system), in
# clock ticks: fields 14 and 15 of /proc/PID/stat, counted after the
# parenthesised command name (which may hold blanks).
cpu_ticks() {
	awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}

# One run: prints "TEST RPS" lines, then "CPU US_PER_REQUEST" (the server's
# CPU per request over both tests). tool, pipeline, server, mode (plain|tls).
run_one() {
	local tool=$1 pl=$2 s=$3 mode=$4 n out port t0 t1
	local -a cmd
	n=$(requests_for "$pl")
	if [ "$mode" = tls ]; then port=${TLS_PORT[$s]}; else port=${PORT[$s]}; fi
	if [ "$tool" = redis-benchmark ]; then
		cmd=(redis-benchmark -h 127.0.0.1 -p "$port" -t "set,get" -n "$n" -r "$KEYSPACE"
			-d "$DATA_SIZE" -c "$CLIENTS" -P "$pl" --csv)
		[ "$mode" = tls ] && cmd+=(--tls --cacert "$CA")
	else
		cmd=("$MINIDB_BENCH" -h 127.0.0.1 -p "$port" -t "set,ping" -n "$n" -r "$KEYSPACE"
			-d "$DATA_SIZE" -c "$CLIENTS" -P "$pl" -q --timeout "$RUN_TIMEOUT")
		[ "$mode" = tls ] && cmd+=(--tls --ca-cert "$CA")
	fi
	echo "    $s $mode: ${cmd[*]}" >&2
	t0=$(cpu_ticks "${PID[$s]}")
	if ! out=$(timeout "$RUN_TIMEOUT" "${cmd[@]}" 2>"$TMP/bench.err"); then
		cat "$TMP/bench.err" >&2
		die "$s: $tool failed ($mode, -P $pl)"
	fi
	t1=$(cpu_ticks "${PID[$s]}")
	awk -v a="$t0" -v b="$t1" -v hz="$CLK_TCK" -v n="$n" \
		'BEGIN { printf "CPU %.3f\n", (b - a) / hz * 1e6 / (2 * n) }'
	if [ "$tool" = redis-benchmark ]; then
		# "SET","123456.79",...
		printf '%s\n' "$out" | awk -F'"' '$2 == "SET" || $2 == "GET" { print $2, $4 }'
	else
		# SET: 123456.78 ops/s  p50=...
		printf '%s\n' "$out" | awk '$1 == "SET:" || $1 == "PING:" { sub(":", "", $1); print $1, $2 }'
	fi
}

make_certs
for s in $SERVERS; do start_server "$s"; done

echo "== TLS cost: minidb vs redis-server, $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "machine:   $(nproc) cores ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || echo unknown)), $(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo), Linux $(uname -r)"
echo "minidb:    $(timeout 5 "$MINIDB_BIN" --version 2>&1 | head -n 1) ($MINIDB_BIN; source tree at $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- src 2>/dev/null || echo ', src modified'))"
echo "redis:     $(redis-server --version)"
echo "openssl:   $(openssl version)"
echo "clients:   $(redis-benchmark --version 2>&1 | head -n 1), $MINIDB_BENCH; clients and servers share this machine's cores"
for s in $SERVERS; do
	echo "server:    $s: ${CMD[$s]}"
	echo "           $s TLS: $(negotiated "$s")"
done
echo "certs:     throwaway CA and P-256 server certificate (SAN localhost, 127.0.0.1), made by openssl in $TMP"
echo "workloads: redis-benchmark -h 127.0.0.1 -p PORT -t set,get -n N -r $KEYSPACE -d $DATA_SIZE -c $CLIENTS -P P --csv [--tls --cacert CA]"
echo "           $MINIDB_BENCH -h 127.0.0.1 -p PORT -t set,ping -n N -r $KEYSPACE -d $DATA_SIZE -c $CLIENTS -P P -q [--tls --ca-cert CA]"
echo "           tools: $TOOLS; P: $PIPELINES; N: $N_P1 at -P 1, $N_P16 otherwise"
echo "rounds:    $ROUNDS; plain and TLS back to back per server, the server order rotating by round"
echo

RESULTS=$TMP/results # lines: tool pipeline test server mode round rps
: >"$RESULTS"
read -r -a server_list <<<"$SERVERS"
nsrv=${#server_list[@]}

for ((round = 1; round <= ROUNDS; round++)); do
	# Rotate the server order, and alternate plain/TLS order, by round.
	order=""
	for ((k = 0; k < nsrv; k++)); do order="$order ${server_list[$(((k + round - 1) % nsrv))]}"; done
	if ((round % 2 == 1)); then modes="plain tls"; else modes="tls plain"; fi
	for tool in $TOOLS; do
		for pl in $PIPELINES; do
			echo "round $round/$ROUNDS $tool -P $pl" >&2
			for s in $order; do
				for mode in $modes; do
					[ "$tool" = redis-benchmark ] &&
						{ [ "$(redis-cli -h 127.0.0.1 -p "${PORT[$s]}" FLUSHALL 2>&1)" = OK ] ||
							die "$s: FLUSHALL failed"; }
					rows=$(run_one "$tool" "$pl" "$s" "$mode")
					[ "$(printf '%s\n' "$rows" | grep -vc '^CPU ')" -eq 2 ] ||
						die "$s: $tool printed no SET and GET/PING figures ($mode, -P $pl)"
					printf '%s\n' "$rows" | awk -v t="$tool" -v p="$pl" -v s="$s" -v m="$mode" -v r="$round" \
						'$1 == "CPU" { print "cpu", t, p, s, m, r, $2; next } { print t, p, $1, s, m, r, $2 }' \
						>>"$RESULTS"
					wait_ping "${PORT[$s]}" "${PID[$s]}" || die "$s stopped answering"
				done
			done
		done
	done
done

[ -z "$RESULTS_FILE" ] || cp "$RESULTS" "$RESULTS_FILE"

echo
hdr="| client | -P | test |"
sep="|---|---|---|"
for s in $SERVERS; do
	hdr="$hdr $s plain ops/s | $s TLS ops/s | $s TLS/plain |"
	sep="$sep---|---|---|"
done
for s in $SERVERS; do
	[ "$s" = minidb ] && continue
	hdr="$hdr ratio of ratios minidb/$s | TLS ops/s minidb/$s |"
	sep="$sep---|---|"
done
echo "$hdr"
echo "$sep"
for tool in $TOOLS; do
	for pl in $PIPELINES; do
		if [ "$tool" = redis-benchmark ]; then tests="SET GET"; else tests="SET PING"; fi
		for t in $tests; do
			awk -v tool="$tool" -v pl="$pl" -v t="$t" -v servers="$SERVERS" '
				function median(v, n,   i, j, x) {
					for (i = 2; i <= n; i++) {   # insertion sort, n is small
						x = v[i]
						for (j = i - 1; j >= 1 && v[j] > x; j--) v[j + 1] = v[j]
						v[j + 1] = x
					}
					return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
				}
				function commas(x,   s) {
					s = sprintf("%.0f", x)
					while (s ~ /[0-9][0-9][0-9][0-9]/) sub(/[0-9][0-9][0-9]($|,)/, ",&", s)
					return s
				}
				$1 == tool && $2 == pl && $3 == t { rps[$4, $5, $6] = $7 + 0; rounds[$6] = 1 }
				END {
					ns = split(servers, srv, " ")
					line = "| " tool " | " pl " | " t " |"
					for (k = 1; k <= ns; k++) {
						s = srv[k]; np = nt = nr = 0
						delete pv; delete tv; delete rv
						for (r in rounds) {
							if ((s, "plain", r) in rps) pv[++np] = rps[s, "plain", r]
							if ((s, "tls", r) in rps) tv[++nt] = rps[s, "tls", r]
							if ((s, "plain", r) in rps && (s, "tls", r) in rps && rps[s, "plain", r] > 0)
								rv[++nr] = rps[s, "tls", r] / rps[s, "plain", r]
						}
						ratio[s] = nr ? median(rv, nr) : 0
						tlsmed[s] = median(tv, nt)
						line = line sprintf(" %s | %s | %.2f |", commas(median(pv, np)),
						                    commas(median(tv, nt)), ratio[s])
					}
					for (k = 1; k <= ns; k++) {
						s = srv[k]
						if (s == "minidb") continue
						rr = ratio[s] > 0 ? ratio["minidb"] / ratio[s] : 0
						line = line sprintf(" %.2f %s | %.2f |", rr, rr >= 1 ? "(met)" : "(**missed**)",
						                    tlsmed[s] > 0 ? tlsmed["minidb"] / tlsmed[s] : 0)
					}
					print line
				}' "$RESULTS"
		done
	done
done
echo
echo "Throughput: medians of $ROUNDS rounds. TLS/plain: the median of the per-round ratios (plain"
echo "and TLS runs of a round are adjacent). Ratio of ratios: minidb's TLS/plain over the other"
echo "server's; at or above 1 TLS costs minidb no more than it costs that server (the target)."
echo "TLS ops/s minidb/X: the two servers' TLS throughput compared directly."
echo

# Server CPU per request: what TLS costs the server itself, free of the
# client's share of the cores.
hdr="| client | -P |"
sep="|---|---|"
for s in $SERVERS; do
	hdr="$hdr $s CPU us/req plain | $s TLS | $s TLS adds |"
	sep="$sep---|---|---|"
done
for s in $SERVERS; do
	[ "$s" = minidb ] && continue
	hdr="$hdr TLS adds: minidb/$s |"
	sep="$sep---|"
done
echo "$hdr"
echo "$sep"
for tool in $TOOLS; do
	for pl in $PIPELINES; do
		awk -v tool="$tool" -v pl="$pl" -v servers="$SERVERS" '
			function median(v, n,   i, j, x) {
				for (i = 2; i <= n; i++) {
					x = v[i]
					for (j = i - 1; j >= 1 && v[j] > x; j--) v[j + 1] = v[j]
					v[j + 1] = x
				}
				return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
			}
			$1 == "cpu" && $2 == tool && $3 == pl { cpu[$4, $5, $6] = $7 + 0; rounds[$6] = 1 }
			END {
				ns = split(servers, srv, " ")
				line = "| " tool " | " pl " |"
				for (k = 1; k <= ns; k++) {
					s = srv[k]; np = nt = nd = 0
					delete pv; delete tv; delete dv
					for (r in rounds) {
						if ((s, "plain", r) in cpu) pv[++np] = cpu[s, "plain", r]
						if ((s, "tls", r) in cpu) tv[++nt] = cpu[s, "tls", r]
						if ((s, "plain", r) in cpu && (s, "tls", r) in cpu)
							dv[++nd] = cpu[s, "tls", r] - cpu[s, "plain", r]
					}
					add[s] = nd ? median(dv, nd) : 0
					line = line sprintf(" %.2f | %.2f | %+.2f |", median(pv, np), median(tv, nt), add[s])
				}
				for (k = 1; k <= ns; k++) {
					s = srv[k]
					if (s == "minidb") continue
					line = line sprintf(" %s |", add[s] > 0 ? sprintf("%.2f %s", add["minidb"] / add[s],
					                    add["minidb"] <= add[s] ? "(met)" : "(**missed**)") : "-")
				}
				print line
			}' "$RESULTS"
	done
done
echo
echo "Server CPU (user + system, all threads, from /proc/PID/stat) per request over the run's two"
echo "tests, medians of $ROUNDS rounds; TLS adds: the median per-round difference TLS - plain, in"
echo "microseconds of the server's CPU per request. minidb/X at or below 1: TLS costs minidb's"
echo "process no more CPU per request than it costs X's (met)."
