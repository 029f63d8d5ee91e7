/* store_mem.c - memory per key and single-thread cost of src/store.c.
 *
 * Not part of the CMake build (bench/ holds hand-run tools). Build by hand:
 *   gcc -D_GNU_SOURCE -std=gnu11 -O2 -g -Isrc src/store*.c bench/store_mem.c \
 *       -lxxhash -lpthread -o /tmp/store_mem
 * Usage: store_mem mem [keys]      RSS and store_mem_used per key for keys
 *                                  "key:%010u" (14 bytes) with 32-byte values
 *        store_mem ops [keys] [n]  inserts keys, then n GETs, then n SETs
 *                                  overwriting existing keys (single thread),
 *                                  and prints ops/s of each phase.
 * This machine is noisy: for comparisons run the ops mode under
 *   valgrind --tool=callgrind
 * and divide the inclusive cost of phase_insert, phase_get and phase_set by
 * their operation counts (instructions per operation are repeatable).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store.h"

static long rss_pages(void)
{
	long size = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f == NULL || fscanf(f, "%ld %ld", &size, &rss) != 2) {
		perror("statm");
		exit(1);
	}
	fclose(f);
	return rss;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* "key:%010u" without snprintf, which would dominate the profile. */
static void key_of(char *key, unsigned i)
{
	memcpy(key, "key:", 4);
	for (int d = 13; d >= 4; d--) {
		key[d] = (char)('0' + i % 10);
		i /= 10;
	}
}

static void sink(const void *val, size_t vlen, int64_t expire_at_ms, void *arg)
{
	(void)expire_at_ms;
	*(size_t *)arg += vlen + ((const unsigned char *)val)[0];
}

static const char val[32] = "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv";

__attribute__((noinline)) static void phase_insert(store_t *st, unsigned keys)
{
	char key[16];
	for (unsigned i = 0; i < keys; i++) {
		key_of(key, i);
		if (store_set(st, key, 14, val, sizeof(val), 0) != 0)
			exit(1);
	}
}

__attribute__((noinline)) static size_t phase_get(store_t *st, unsigned keys, unsigned n)
{
	char key[16];
	size_t acc = 0;
	uint32_t x = 12345;
	for (unsigned i = 0; i < n; i++) {
		x = x * 1664525u + 1013904223u;
		key_of(key, x % keys);
		store_get(st, key, 14, sink, &acc);
	}
	return acc;
}

__attribute__((noinline)) static void phase_set(store_t *st, unsigned keys, unsigned n)
{
	char key[16];
	uint32_t x = 54321;
	for (unsigned i = 0; i < n; i++) {
		x = x * 1664525u + 1013904223u;
		key_of(key, x % keys);
		store_set(st, key, 14, val, sizeof(val), 0);
	}
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "mem";
	unsigned keys = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 1000000u;
	unsigned n = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 2000000u;
	long page = sysconf(_SC_PAGESIZE);

	store_t *st = store_create(NULL);
	if (st == NULL) {
		perror("store_create");
		return 1;
	}
	long before = rss_pages();
	double t0 = now_s();
	phase_insert(st, keys);
	double t1 = now_s();
	long after = rss_pages();
	if (strcmp(mode, "mem") == 0) {
		printf("keys %u: rss %.1f B/key, mem_used %.1f B/key, insert %.0f ops/s\n", keys,
		       (double)(after - before) * (double)page / keys,
		       (double)store_mem_used(st) / keys, keys / (t1 - t0));
	} else {
		double t2 = now_s();
		size_t acc = phase_get(st, keys, n);
		double t3 = now_s();
		phase_set(st, keys, n);
		double t4 = now_s();
		printf("insert %.0f ops/s, get %.0f ops/s, set %.0f ops/s (acc %zu)\n",
		       keys / (t1 - t0), n / (t3 - t2), n / (t4 - t3), acc);
	}
	store_free(st);
	return 0;
}
