# bench/lib.sh - shell helpers shared by the bench/vs-redis*.sh scripts;
# source it after setting BENCH_NAME (for messages), START_TIMEOUT (seconds
# a server gets to answer PING) and STOP_TIMEOUT (seconds it gets to exit
# after SIGTERM).

die() {
	echo "$BENCH_NAME: $*" >&2
	exit 1
}

# Stops the server with that pid: SIGTERM, up to STOP_TIMEOUT s, then SIGKILL.
stop_pid() {
	local pid=$1 i
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

# Waits until the server on port answers PING while pid lives. Returns 1
# when it died or did not answer within START_TIMEOUT seconds.
wait_ping() {
	local port=$1 pid=$2 i
	for ((i = 0; i < START_TIMEOUT * 20; i++)); do
		kill -0 "$pid" 2>/dev/null || return 1
		[ "$(redis-cli -h 127.0.0.1 -p "$port" PING 2>/dev/null)" = PONG ] && return 0
		sleep 0.05
	done
	return 1
}

# The command line as one shell-quoted string, to print.
quoted() {
	local out
	printf -v out '%q ' "$@"
	echo "${out% }"
}
