/* Unit tests for the event loop (src/loop.c): timers fire in deadline order,
 * cancel and re-arm work, wake-ups cross threads, fd readiness is reported. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>

#include <cmocka.h>

#include "loop.h"

typedef struct fired {
	int order[64];
	int n;
} fired;

typedef struct tctx {
	loop_timer t;
	int id;
	fired *f;
} tctx;

static void on_timer(loop_t *l, loop_timer *t)
{
	tctx *c = t->arg;
	c->f->order[c->f->n++] = c->id;
}

static void stop_timer(loop_t *l, loop_timer *t)
{
	loop_stop(l);
}

static void test_timers_fire_in_deadline_order_and_cancelled_ones_do_not(void **state)
{
	loop_t *l = loop_create();
	assert_non_null(l);
	fired f = {0};
	tctx ts[20];
	uint64_t now = loop_clock_ms();
	/* Deadlines in scrambled order: id i fires at now + ((i * 7) % 20). */
	for (int i = 0; i < 20; i++) {
		ts[i].id = i;
		ts[i].f = &f;
		loop_timer_init(&ts[i].t, on_timer, &ts[i]);
		assert_int_equal(loop_timer_set(l, &ts[i].t, now + (uint64_t)((i * 7) % 20)), 0);
	}
	loop_timer_cancel(l, &ts[3].t);
	loop_timer_cancel(l, &ts[3].t);                              /* twice is harmless */
	assert_int_equal(loop_timer_set(l, &ts[5].t, now + 100), 0); /* re-arm later */
	loop_timer stop;
	loop_timer_init(&stop, stop_timer, NULL);
	loop_timer_set(l, &stop, now + 200);
	assert_int_equal(loop_run(l), 0);
	assert_int_equal(f.n, 19);
	assert_int_equal(f.order[18], 5);
	for (int i = 0; i + 1 < 18; i++) {
		int a = f.order[i], b = f.order[i + 1];
		assert_true((a * 7) % 20 <= (b * 7) % 20);
		assert_int_not_equal(a, 3);
	}
	loop_free(l);
}

static void on_wake(loop_t *l, void *arg)
{
	(*(int *)arg)++;
	loop_stop(l);
}

static void *waker(void *arg)
{
	usleep(20000);
	loop_wake(arg);
	return NULL;
}

static void test_wake_from_another_thread_runs_the_wake_hook(void **state)
{
	loop_t *l = loop_create();
	int woke = 0;
	loop_set_wake(l, on_wake, &woke);
	loop_timer guard; /* bounds the test if the wake never arrives */
	loop_timer_init(&guard, stop_timer, NULL);
	loop_timer_set(l, &guard, loop_clock_ms() + 5000);
	pthread_t th;
	pthread_create(&th, NULL, waker, l);
	assert_int_equal(loop_run(l), 0);
	pthread_join(th, NULL);
	assert_int_equal(woke, 1);
	loop_free(l);
}

static void on_readable(loop_t *l, loop_io *io, unsigned events)
{
	char c;
	assert_true(events & LOOP_READ);
	assert_int_equal(read(io->fd, &c, 1), 1);
	*(char *)io->arg = c;
	loop_stop(l);
}

static void test_readable_fd_is_reported(void **state)
{
	loop_t *l = loop_create();
	int p[2];
	assert_int_equal(pipe(p), 0);
	char got = 0;
	loop_io io = {.fd = p[0], .fn = on_readable, .arg = &got};
	assert_int_equal(loop_io_add(l, &io, LOOP_READ), 0);
	assert_int_equal(write(p[1], "x", 1), 1);
	loop_timer guard;
	loop_timer_init(&guard, stop_timer, NULL);
	loop_timer_set(l, &guard, loop_clock_ms() + 5000);
	assert_int_equal(loop_run(l), 0);
	assert_int_equal(got, 'x');
	assert_int_equal(loop_io_del(l, &io), 0);
	close(p[0]);
	close(p[1]);
	loop_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_timers_fire_in_deadline_order_and_cancelled_ones_do_not),
	        cmocka_unit_test(test_wake_from_another_thread_runs_the_wake_hook),
	        cmocka_unit_test(test_readable_fd_is_reported),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
