/* cmd_util.c - argument parsing and small helpers shared by the command
 * families (see cmd.h). Number parsing is strict in the way Redis clients
 * rely on: "+1", " 1", "01" and "1.0" are not integers. */
#include "cmd.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void cmd_reply_store_error(cmd_ctx *ctx, int err)
{
	if (err == STORE_EOOM)
		reply_error_code(ctx->r, "OOM",
		                 "command not allowed when used memory > 'maxmemory'.");
	else
		reply_error(ctx->r, store_strerror(err));
}

int cmd_arg_is(const cmd_arg *arg, const char *s)
{
	size_t n = strlen(s);
	if (arg->len != n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char a = (unsigned char)arg->p[i], b = (unsigned char)s[i];
		if (a >= 'A' && a <= 'Z')
			a = (unsigned char)(a + 32);
		if (b >= 'A' && b <= 'Z')
			b = (unsigned char)(b + 32);
		if (a != b)
			return 0;
	}
	return 1;
}

int cmd_parse_ll(const cmd_arg *arg, long long *out)
{
	const char *p = arg->p;
	size_t n = arg->len, i = 0;
	int neg = 0;
	unsigned long long v = 0;
	if (n == 0 || n > 20)
		return -1;
	if (n == 1 && p[0] == '0') {
		*out = 0;
		return 0;
	}
	if (p[0] == '-') {
		neg = 1;
		i = 1;
		if (n == 1)
			return -1;
	}
	if (p[i] < '1' || p[i] > '9')
		return -1;
	for (; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		unsigned d = (unsigned)(p[i] - '0');
		if (v > (ULLONG_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (neg) {
		if (v > (unsigned long long)LLONG_MAX + 1)
			return -1;
		*out = v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)v;
	} else {
		if (v > (unsigned long long)LLONG_MAX)
			return -1;
		*out = (long long)v;
	}
	return 0;
}

int cmd_get_ll_or_reply(cmd_ctx *ctx, const cmd_arg *arg, long long *out)
{
	if (cmd_parse_ll(arg, out) == 0)
		return 0;
	reply_error(ctx->r, "value is not an integer or out of range");
	return -1;
}

int cmd_parse_ld(const cmd_arg *arg, long double *out)
{
	char tmp[CMD_LD_MAX];
	if (arg->len == 0 || arg->len >= sizeof(tmp))
		return -1;
	memcpy(tmp, arg->p, arg->len);
	tmp[arg->len] = 0;
	if (tmp[0] == ' ' || tmp[0] == '\t' || tmp[0] == '\n')
		return -1;
	char *end;
	errno = 0;
	long double v = strtold(tmp, &end);
	if (end != tmp + arg->len || isnan(v) ||
	    (errno == ERANGE && (v == HUGE_VALL || v == -HUGE_VALL)))
		return -1;
	*out = v;
	return 0;
}

int cmd_format_ld(char *dst, long double v)
{
	/* Fixed notation with 17 fractional digits, then trailing zeros of the
	 * fraction trimmed, as Redis's ld2string in human mode: never exponent
	 * form (1e50 prints all 51 digits). The largest long double needs about
	 * 4,950 characters, within CMD_LD_MAX. */
	int n = snprintf(dst, CMD_LD_MAX, "%.17Lf", v);
	if (n <= 0 || n >= CMD_LD_MAX)
		return snprintf(dst, CMD_LD_MAX, "%.17Lg", v);
	if (strchr(dst, '.')) {
		while (n > 0 && dst[n - 1] == '0')
			n--;
		if (n > 0 && dst[n - 1] == '.')
			n--;
		dst[n] = 0;
	}
	if (n == 2 && dst[0] == '-' && dst[1] == '0') {
		dst[0] = '0';
		dst[1] = 0;
		n = 1;
	}
	return n;
}

int64_t cmd_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void cmd_count_lookup(cmd_ctx *ctx, int hit)
{
	if (hit)
		CMD_STAT_ADD(ctx->stats->keyspace_hits, 1);
	else
		CMD_STAT_ADD(ctx->stats->keyspace_misses, 1);
}

/* Copies at most 128 bytes of an argument for an error message as Redis
 * prints it (%.128s of a C string: it ends at a NUL), with CR and LF turned
 * into spaces so the error stays one line. out must hold 129 bytes. */
const char *cmd_arg_for_error(const cmd_arg *a, char *out)
{
	size_t n = a->len < 128 ? a->len : 128;
	size_t i = 0;
	for (; i < n && a->p[i] != 0; i++)
		out[i] = a->p[i] == '\r' || a->p[i] == '\n' ? ' ' : a->p[i];
	out[i] = 0;
	return out;
}

/* Runs the subcommand named by argv[1] after Redis 7's arity check, or
 * replies Redis's unknown-subcommand error. upper is the container's name in
 * capitals, lower in lowercase. */
void cmd_subcommand_run(cmd_ctx *ctx, const char *upper, const char *lower,
                        const cmd_subcommand *subs, size_t n)
{
	char tmp[129];
	for (size_t i = 0; i < n; i++) {
		const cmd_subcommand *sc = &subs[i];
		if (!cmd_arg_is(&ctx->argv[1], sc->name))
			continue;
		if ((sc->arity > 0 && ctx->argc != (size_t)sc->arity) ||
		    (sc->arity < 0 && ctx->argc < (size_t)-sc->arity)) {
			reply_errorf(ctx->r, "wrong number of arguments for '%s|%s' command", lower,
			             sc->name);
			return;
		}
		sc->fn(ctx);
		return;
	}
	reply_errorf(ctx->r, "unknown subcommand '%s'. Try %s HELP.",
	             cmd_arg_for_error(&ctx->argv[1], tmp), upper);
}

/* Redis's addReplyHelp: a header, the lines, and the HELP entry. */
void cmd_reply_help(cmd_ctx *ctx, const char *upper, const char *const *lines)
{
	size_t n = 0;
	while (lines[n])
		n++;
	reply_array(ctx->r, n + 3);
	char head[96];
	snprintf(head, sizeof(head),
	         "%s <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", upper);
	reply_status(ctx->r, head);
	for (size_t i = 0; i < n; i++)
		reply_status(ctx->r, lines[i]);
	reply_status(ctx->r, "HELP");
	reply_status(ctx->r, "    Print this help.");
}
