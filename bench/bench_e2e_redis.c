/*
 * bench_e2e_redis.c - what users would pick instead of Baton: a Redis
 * single-instance lock driven through hiredis, measured in the same run as
 * Baton (see bench_e2e.c for the driver).
 *
 * Uncontended: SET key token NX PX 30000, then the compare-and-delete script
 * (EVAL "if get == token then del"), sequentially; acquire latency is the SET
 * round trip, the cycle is both. Failure handoff: a holder owns the key, a
 * waiter in another thread wants it; t0 is just before the holder's
 * compare-and-delete, t1 just after the waiter's successful SET.
 *  - redsync pattern: the waiter retries SET NX every 10 ms. The holder
 *    releases at a random moment 0-20 ms after the waiter's first failed try,
 *    so the handoff samples the polling phase like a real one does.
 *  - Redisson pattern: the waiter SUBSCRIBEs to a channel on a second
 *    connection and retries when woken; the release script DELs and
 *    PUBLISHes in one step.
 * Without hiredis at build time every entry point reports it is absent.
 * Loops are bounded by sample counts and every wait has a timeout.
 */
#include "bench_e2e.h"

#include <stdio.h>

#ifdef BENCH_HAVE_HIREDIS
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

static const char *const release_script =
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";
static const char *const release_pub_script =
    "if redis.call('get', KEYS[1]) == ARGV[1] then redis.call('del', KEYS[1]); "
    "redis.call('publish', KEYS[2], ARGV[1]); return 1 else return 0 end";

bool be_redis_available(void)
{
	return true;
}

static redisContext *rconnect(const char *host, int port)
{
	struct timeval tv = {5, 0};
	redisContext *c = redisConnectWithTimeout(host, port, tv);
	if (c == NULL || c->err) {
		fprintf(stderr, "redis: cannot connect to %s:%d: %s\n", host, port,
		        c ? c->errstr : "no memory");
		redisFree(c);
		return NULL;
	}
	redisSetTimeout(c, tv);
	return c;
}

/* SET key val NX PX 30000: 1 acquired, 0 held by another, -1 error. */
static int try_lock(redisContext *c, const char *key, const char *val)
{
	redisReply *r = redisCommand(c, "SET %s %s NX PX 30000", key, val);
	int rc = r == NULL ? -1 : r->type == REDIS_REPLY_STATUS ? 1 : r->type == REDIS_REPLY_NIL ? 0 : -1;
	freeReplyObject(r);
	return rc;
}

static int unlock(redisContext *c, const char *script, const char *key, const char *chan, const char *val)
{
	redisReply *r = chan ? redisCommand(c, "EVAL %s 2 %s %s %s", script, key, chan, val)
	                     : redisCommand(c, "EVAL %s 1 %s %s", script, key, val);
	int rc = r != NULL && r->type == REDIS_REPLY_INTEGER && r->integer == 1 ? 0 : -1;
	freeReplyObject(r);
	return rc;
}

static double ms_between(int64_t a, int64_t b)
{
	return (double)(b - a) / 1e6;
}

typedef struct waiter {
	const char *host;
	int port;
	const char *key, *chan;
	char val[32];
	bool pubsub;
	atomic_bool tried;      /* made its first failed attempt */
	atomic_int_fast64_t t1; /* when it got the lock, 0: not yet, -1: failed */
} waiter;

static void *waiter_main(void *arg)
{
	waiter *w = arg;
	redisContext *c = rconnect(w->host, w->port), *sub = NULL;
	int64_t give_up = be_mono_ns() + 10 * 1000000000LL;
	if (c != NULL && w->pubsub) {
		sub = rconnect(w->host, w->port);
		redisReply *r = sub ? redisCommand(sub, "SUBSCRIBE %s", w->chan) : NULL;
		freeReplyObject(r);
		if (r == NULL) {
			atomic_store(&w->t1, -1);
			goto out;
		}
		struct timeval tv = {0, 100000};
		redisSetTimeout(sub, tv);
	}
	while (c != NULL && be_mono_ns() < give_up) {
		int rc = try_lock(c, w->key, w->val);
		if (rc == 1) {
			atomic_store(&w->t1, be_mono_ns());
			goto out;
		}
		if (rc < 0)
			break;
		atomic_store(&w->tried, true);
		if (w->pubsub) {
			void *rep = NULL;
			if (redisGetReply(sub, &rep) != REDIS_OK) {
				/* timed out: clear the error and try again */
				redisFree(sub);
				sub = rconnect(w->host, w->port);
				redisReply *r = sub ? redisCommand(sub, "SUBSCRIBE %s", w->chan) : NULL;
				freeReplyObject(r);
				if (r == NULL)
					break;
				struct timeval tv = {0, 100000};
				redisSetTimeout(sub, tv);
			}
			freeReplyObject(rep);
		} else {
			struct timespec ts = {0, 10 * 1000000L};
			nanosleep(&ts, NULL);
		}
	}
	atomic_store(&w->t1, -1);
out:
	redisFree(sub);
	redisFree(c);
	return NULL;
}

/* One handoff sample; returns ms, or a negative number on failure. */
static double handoff_once(redisContext *c, const char *host, int port, bool pubsub, unsigned k)
{
	waiter w = {
	    .host = host, .port = port, .key = "bench:handoff", .chan = "bench:handoff:ch", .pubsub = pubsub};
	char hval[32];
	snprintf(hval, sizeof hval, "h%u", k);
	snprintf(w.val, sizeof w.val, "w%u", k);
	atomic_init(&w.tried, false);
	atomic_init(&w.t1, 0);
	if (try_lock(c, w.key, hval) != 1)
		return -1;
	pthread_t th;
	if (pthread_create(&th, NULL, waiter_main, &w) != 0)
		return -1;
	for (int i = 0; i < 5000 && !atomic_load(&w.tried) && atomic_load(&w.t1) == 0; i++) {
		struct timespec ts = {0, 1000000L};
		nanosleep(&ts, NULL);
	}
	/* The release lands at a random point of the waiter's polling period. */
	struct timespec pause = {0, (long)(rand() % 20000) * 1000L};
	nanosleep(&pause, NULL);
	int64_t t0 = be_mono_ns();
	int urc =
	    unlock(c, pubsub ? release_pub_script : release_script, w.key, pubsub ? w.chan : NULL, hval);
	pthread_join(th, NULL);
	int64_t t1 = atomic_load(&w.t1);
	/* The waiter now holds it: release it for the next sample. */
	unlock(c, release_script, w.key, NULL, w.val);
	return urc != 0 || t1 <= 0 ? -1 : ms_between(t0, t1);
}

int be_redis_rep(const char *host, int port, int n, int nhand, be_series *acq, be_series *cycle,
                 be_series *poll10, be_series *pubsub)
{
	redisContext *c = rconnect(host, port);
	double *a = calloc((size_t)(n > nhand ? n : nhand) + 1, sizeof *a);
	double *b = calloc((size_t)(n > nhand ? n : nhand) + 1, sizeof *b);
	int rc = -1;
	if (c == NULL || a == NULL || b == NULL)
		goto out;
	for (int i = 0; i < n; i++) {
		char key[64], val[32];
		snprintf(key, sizeof key, "bench:unc:%d", i % 64);
		snprintf(val, sizeof val, "t%d", i);
		int64_t t0 = be_mono_ns();
		if (try_lock(c, key, val) != 1)
			goto out;
		int64_t t1 = be_mono_ns();
		if (unlock(c, release_script, key, NULL, val) != 0)
			goto out;
		int64_t t2 = be_mono_ns();
		a[i] = ms_between(t0, t1);
		b[i] = ms_between(t0, t2);
	}
	be_series_add(acq, a, (size_t)n);
	be_series_add(cycle, b, (size_t)n);
	for (int p = 0; p < 2; p++) {
		size_t got = 0;
		for (int i = 0; i < nhand; i++) {
			double ms = handoff_once(c, host, port, p == 1, (unsigned)i);
			if (ms >= 0)
				a[got++] = ms;
		}
		if (got < (size_t)nhand)
			fprintf(stderr, "redis: %zu of %d handoffs failed\n", (size_t)nhand - got, nhand);
		be_series_add(p == 1 ? pubsub : poll10, a, got);
	}
	rc = 0;
out:
	if (rc != 0)
		fprintf(stderr, "redis: benchmark failed%s%s\n", c && c->err ? ": " : "",
		        c && c->err ? c->errstr : "");
	free(a);
	free(b);
	redisFree(c);
	return rc;
}

#else /* no hiredis */

bool be_redis_available(void)
{
	return false;
}

int be_redis_rep(const char *host, int port, int n, int nhand, be_series *acq, be_series *cycle,
                 be_series *poll10, be_series *pubsub)
{
	(void)host, (void)port, (void)n, (void)nhand, (void)acq, (void)cycle, (void)poll10, (void)pubsub;
	fprintf(stderr, "redis: this bench_e2e was built without hiredis (apt-get install libhiredis-dev)\n");
	return -1;
}

#endif
