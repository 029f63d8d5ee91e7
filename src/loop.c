/* loop.c - per-thread epoll event loop with a min-heap of timers.
 *
 * Level-triggered epoll: a connection that still has unread bytes is simply
 * reported again on the next turn, which keeps fairness between clients
 * without per-connection read loops. Timers sit in a binary min-heap ordered
 * by deadline (O(log n) set and cancel; an unsorted list would make every
 * turn O(timers)). The wake-up channel is an eventfd.
 */
#include "loop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define LOOP_MAX_EVENTS 256

struct loop {
	int epfd;
	int wakefd;
	int running;
	int spin;
	uint64_t now_ms;
	loop_timer **heap;
	size_t heap_len, heap_cap;
	loop_hook_fn wake_fn, before_sleep_fn;
	void *wake_arg, *before_sleep_arg;
};

uint64_t loop_clock_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

loop_t *loop_create(void)
{
	loop_t *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	l->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (l->epfd < 0 || l->wakefd < 0)
		goto fail;
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->wakefd, &ev) != 0)
		goto fail;
	l->now_ms = loop_clock_ms();
	return l;
fail:
	if (l->epfd >= 0)
		close(l->epfd);
	if (l->wakefd >= 0)
		close(l->wakefd);
	free(l);
	return NULL;
}

void loop_free(loop_t *l)
{
	if (!l)
		return;
	close(l->epfd);
	close(l->wakefd);
	free(l->heap);
	free(l);
}

static uint32_t to_epoll(unsigned events)
{
	uint32_t e = 0;
	if (events & LOOP_READ)
		e |= EPOLLIN;
	if (events & LOOP_WRITE)
		e |= EPOLLOUT;
	if (events & LOOP_EXCLUSIVE)
		e |= EPOLLEXCLUSIVE;
	return e;
}

int loop_io_add(loop_t *l, loop_io *io, unsigned events)
{
	struct epoll_event ev = {.events = to_epoll(events), .data.ptr = io};
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, io->fd, &ev) != 0)
		return -errno;
	io->events = events & (LOOP_READ | LOOP_WRITE);
	return 0;
}

int loop_io_mod(loop_t *l, loop_io *io, unsigned events)
{
	events &= LOOP_READ | LOOP_WRITE;
	if (events == io->events)
		return 0;
	struct epoll_event ev = {.events = to_epoll(events), .data.ptr = io};
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, io->fd, &ev) != 0)
		return -errno;
	io->events = events;
	return 0;
}

int loop_io_del(loop_t *l, loop_io *io)
{
	if (epoll_ctl(l->epfd, EPOLL_CTL_DEL, io->fd, NULL) != 0)
		return -errno;
	io->events = 0;
	return 0;
}

/* ---- timer heap ---- */

static void heap_swap(loop_t *l, size_t a, size_t b)
{
	loop_timer *t = l->heap[a];
	l->heap[a] = l->heap[b];
	l->heap[b] = t;
	l->heap[a]->heap_index = (long)a;
	l->heap[b]->heap_index = (long)b;
}

static void heap_up(loop_t *l, size_t i)
{
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (l->heap[p]->when_ms <= l->heap[i]->when_ms)
			break;
		heap_swap(l, p, i);
		i = p;
	}
}

static void heap_down(loop_t *l, size_t i)
{
	for (;;) {
		size_t c = 2 * i + 1, m = i;
		if (c < l->heap_len && l->heap[c]->when_ms < l->heap[m]->when_ms)
			m = c;
		if (c + 1 < l->heap_len && l->heap[c + 1]->when_ms < l->heap[m]->when_ms)
			m = c + 1;
		if (m == i)
			break;
		heap_swap(l, i, m);
		i = m;
	}
}

void loop_timer_init(loop_timer *t, loop_timer_fn fn, void *arg)
{
	t->when_ms = 0;
	t->fn = fn;
	t->arg = arg;
	t->heap_index = -1;
}

void loop_timer_cancel(loop_t *l, loop_timer *t)
{
	if (t->heap_index < 0)
		return;
	size_t i = (size_t)t->heap_index;
	size_t last = --l->heap_len;
	if (i != last) {
		l->heap[i] = l->heap[last];
		l->heap[i]->heap_index = (long)i;
		heap_down(l, i);
		heap_up(l, i);
	}
	t->heap_index = -1;
}

int loop_timer_set(loop_t *l, loop_timer *t, uint64_t when_ms)
{
	if (t->heap_index >= 0) {
		size_t i = (size_t)t->heap_index;
		t->when_ms = when_ms;
		heap_down(l, i);
		heap_up(l, (size_t)t->heap_index);
		return 0;
	}
	if (l->heap_len == l->heap_cap) {
		size_t cap = l->heap_cap ? l->heap_cap * 2 : 64;
		loop_timer **h = realloc(l->heap, cap * sizeof(*h));
		if (!h)
			return -ENOMEM;
		l->heap = h;
		l->heap_cap = cap;
	}
	t->when_ms = when_ms;
	t->heap_index = (long)l->heap_len;
	l->heap[l->heap_len++] = t;
	heap_up(l, (size_t)t->heap_index);
	return 0;
}

static void run_timers(loop_t *l)
{
	/* Bounded: a timer that re-arms itself for "now" runs again next turn. */
	size_t budget = l->heap_len;
	while (budget-- > 0 && l->heap_len > 0 && l->heap[0]->when_ms <= l->now_ms) {
		loop_timer *t = l->heap[0];
		loop_timer_cancel(l, t);
		t->fn(l, t);
	}
}

/* ---- running ---- */

uint64_t loop_now_ms(loop_t *l)
{
	return l->now_ms;
}

void loop_set_wake(loop_t *l, loop_hook_fn fn, void *arg)
{
	l->wake_fn = fn;
	l->wake_arg = arg;
}

void loop_wake(loop_t *l)
{
	uint64_t one = 1;
	ssize_t n = write(l->wakefd, &one, sizeof(one));
	(void)n; /* EAGAIN means the counter is already non-zero: a wake is pending */
}

void loop_set_before_sleep(loop_t *l, loop_hook_fn fn, void *arg)
{
	l->before_sleep_fn = fn;
	l->before_sleep_arg = arg;
}

void loop_spin(loop_t *l)
{
	l->spin = 1;
}

void loop_stop(loop_t *l)
{
	l->running = 0;
}

static int next_timeout(loop_t *l)
{
	if (l->spin)
		return 0;
	if (l->heap_len == 0)
		return -1;
	uint64_t now = loop_clock_ms();
	uint64_t when = l->heap[0]->when_ms;
	if (when <= now)
		return 0;
	uint64_t d = when - now;
	return d > 60000 ? 60000 : (int)d;
}

int loop_run(loop_t *l)
{
	struct epoll_event evs[LOOP_MAX_EVENTS];
	l->running = 1;
	while (l->running) {
		int timeout = next_timeout(l);
		l->spin = 0;
		int n = epoll_wait(l->epfd, evs, LOOP_MAX_EVENTS, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		l->now_ms = loop_clock_ms();
		for (int i = 0; i < n; i++) {
			loop_io *io = evs[i].data.ptr;
			if (!io) {
				uint64_t v;
				ssize_t r = read(l->wakefd, &v, sizeof(v));
				(void)r;
				if (l->wake_fn)
					l->wake_fn(l, l->wake_arg);
				continue;
			}
			unsigned e = 0;
			if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLRDHUP))
				e |= LOOP_READ;
			if (evs[i].events & EPOLLOUT)
				e |= LOOP_WRITE;
			if (evs[i].events & EPOLLERR)
				e |= LOOP_ERROR | LOOP_READ;
			io->fn(l, io, e);
		}
		run_timers(l);
		if (l->before_sleep_fn)
			l->before_sleep_fn(l, l->before_sleep_arg);
	}
	return 0;
}
