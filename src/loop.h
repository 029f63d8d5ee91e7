/* loop.h - one event loop per worker thread: epoll readiness, a timer heap,
 * a cross-thread wake-up, and a hook run before each sleep.
 *
 * The loop is owned by one thread; every function except loop_wake and
 * loop_now_ms must be called from that thread. epoll is hidden here: callers
 * see LOOP_READ/LOOP_WRITE only. Written by hand because no packaged C library
 * offers exactly this small a loop with per-thread ownership (libuv/libevent
 * would bring their own buffering and threading model).
 * Error convention: functions return 0 or a negative errno.
 */
#ifndef MINIDB_LOOP_H
#define MINIDB_LOOP_H

#include <stddef.h>
#include <stdint.h>

enum { LOOP_READ = 1u, LOOP_WRITE = 2u, LOOP_ERROR = 4u, LOOP_EXCLUSIVE = 8u };

typedef struct loop loop_t;
typedef struct loop_io loop_io;
typedef struct loop_timer loop_timer;

typedef void (*loop_io_fn)(loop_t *l, loop_io *io, unsigned events);
typedef void (*loop_timer_fn)(loop_t *l, loop_timer *t);
typedef void (*loop_hook_fn)(loop_t *l, void *arg);

/* Registration of one file descriptor; embed it in the owner's struct. */
struct loop_io {
	int fd;
	unsigned events; /* LOOP_READ | LOOP_WRITE currently watched */
	loop_io_fn fn;
	void *arg;
};

/* A one-shot timer; embed it in the owner's struct. heap_index is -1 when
 * the timer is not armed. */
struct loop_timer {
	uint64_t when_ms; /* CLOCK_MONOTONIC ms */
	loop_timer_fn fn;
	void *arg;
	long heap_index;
};

loop_t *loop_create(void);
void loop_free(loop_t *l);

/* Starts watching io->fd for events (LOOP_READ/LOOP_WRITE, optionally
 * LOOP_EXCLUSIVE for a listening socket shared between loops). */
int loop_io_add(loop_t *l, loop_io *io, unsigned events);
int loop_io_mod(loop_t *l, loop_io *io, unsigned events);
int loop_io_del(loop_t *l, loop_io *io);

void loop_timer_init(loop_timer *t, loop_timer_fn fn, void *arg);
/* Arms (or re-arms) t to fire at when_ms (monotonic). Returns 0 or -ENOMEM. */
int loop_timer_set(loop_t *l, loop_timer *t, uint64_t when_ms);
void loop_timer_cancel(loop_t *l, loop_timer *t);

/* Monotonic clock in ms, cached once per loop turn by loop_run. */
uint64_t loop_now_ms(loop_t *l);
uint64_t loop_clock_ms(void);

/* fn runs on the loop thread after loop_wake (coalesced: many wakes before the
 * loop notices run fn once). */
void loop_set_wake(loop_t *l, loop_hook_fn fn, void *arg);
/* Safe from any thread and from signal handlers. */
void loop_wake(loop_t *l);

/* fn runs at the end of every turn, after all events and timers, before the
 * loop sleeps. If it returns with more work queued it calls loop_spin so the
 * next epoll_wait does not block. */
void loop_set_before_sleep(loop_t *l, loop_hook_fn fn, void *arg);
void loop_spin(loop_t *l);

/* Runs until loop_stop is called from the loop thread. Returns 0 or -errno. */
int loop_run(loop_t *l);
void loop_stop(loop_t *l);

#endif
