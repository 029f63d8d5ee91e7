/* slowlog.c - the slow-command ring (see slowlog.h).
 *
 * A fixed array allocated once at start-up: adding never allocates, and the
 * memory is bounded by --slowlog-max-len whatever the load.
 */
#include "slowlog.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct slowlog {
	pthread_mutex_t lock;
	slowlog_entry *ring;
	size_t cap;
	size_t len;       /* entries held, <= cap */
	size_t head;      /* where the next entry goes */
	uint64_t next_id; /* ids issued so far */
};

slowlog *slowlog_create(size_t max_len)
{
	slowlog *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	if (max_len > 0) {
		l->ring = calloc(max_len, sizeof(*l->ring));
		if (!l->ring) {
			free(l);
			return NULL;
		}
	}
	l->cap = max_len;
	pthread_mutex_init(&l->lock, NULL);
	return l;
}

void slowlog_free(slowlog *l)
{
	if (!l)
		return;
	pthread_mutex_destroy(&l->lock);
	free(l->ring);
	free(l);
}

void slowlog_add(slowlog *l, const slowlog_entry *e)
{
	pthread_mutex_lock(&l->lock);
	uint64_t id = l->next_id++;
	if (l->cap > 0) {
		l->ring[l->head] = *e;
		l->ring[l->head].id = id;
		l->head = (l->head + 1) % l->cap;
		if (l->len < l->cap)
			l->len++;
	}
	pthread_mutex_unlock(&l->lock);
}

size_t slowlog_get(slowlog *l, slowlog_entry *out, size_t n)
{
	pthread_mutex_lock(&l->lock);
	if (n > l->len)
		n = l->len;
	for (size_t i = 0; i < n; i++)
		out[i] = l->ring[(l->head + l->cap - 1 - i) % l->cap];
	pthread_mutex_unlock(&l->lock);
	return n;
}

size_t slowlog_len(slowlog *l)
{
	pthread_mutex_lock(&l->lock);
	size_t n = l->len;
	pthread_mutex_unlock(&l->lock);
	return n;
}

uint64_t slowlog_total(slowlog *l)
{
	pthread_mutex_lock(&l->lock);
	uint64_t n = l->next_id;
	pthread_mutex_unlock(&l->lock);
	return n;
}

void slowlog_reset(slowlog *l)
{
	pthread_mutex_lock(&l->lock);
	l->len = 0;
	l->head = 0;
	pthread_mutex_unlock(&l->lock);
}
