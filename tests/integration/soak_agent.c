/*
 * soak_agent.c - a libbaton user for test_soak_valgrind.py: two clients (two
 * nodes) in one process, one thread each, acquiring, holding, releasing,
 * abandoning and cancelling mutex locks on a few shared resources, and one
 * watch on all of them, until SIGTERM. The test runs it under valgrind
 * behind tests/integration/tcpproxy.py and cuts its connections many times.
 *
 * Uses only the public header, as a program of a user would. Every error a
 * cut can cause (lost, timeout, not connected) is expected and counted, not
 * fatal; what the test checks is valgrind's verdict and that the cycles and
 * reconnects really happened (the counts printed on stdout at the end).
 * The one mutable global is the signal flag.
 *
 * usage: soak_agent BROKER PREFIX NODE SEED
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pthread.h>

#include "baton.h"

static volatile sig_atomic_t stop_flag;

static void on_term(int sig)
{
	(void)sig;
	stop_flag = 1;
}

typedef struct counts {
	atomic_int cycles, granted, released, abandoned, cancelled, busy, lost, failed, losses, events;
} counts;

typedef struct worker {
	baton_client *c;
	unsigned seed;
	counts *n;
} worker;

/* Counts the connection losses libbaton reports (its WARN "...; reconnecting")
 * and prints every line above debug, for the test to follow the clients'
 * connections ("connected to ..." once ready, "...; reconnecting" once lost). */
static void on_log(void *arg, baton_log_level level, const char *line)
{
	counts *n = arg;
	if (level == BATON_LOG_WARN && strstr(line, "reconnecting") != NULL)
		atomic_fetch_add(&n->losses, 1);
	if (level != BATON_LOG_DEBUG) {
		printf("log: %s\n", line);
		fflush(stdout);
	}
}

static void on_event(const baton_event *ev, void *arg)
{
	(void)ev;
	counts *n = arg;
	atomic_fetch_add(&n->events, 1);
}

static void nap_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* One cycle: acquire one of three resources, then release it (success or
 * not), abandon it to baton_lock_free, or cancel a wait that lasts. */
static void cycle(worker *w)
{
	char res[32];
	baton_acquire_options o;
	baton_answer a;
	baton_lock *l = NULL;
	unsigned r = (unsigned)rand_r(&w->seed);

	snprintf(res, sizeof res, "soak/r%u", r % 3);
	baton_acquire_options_init(&o);
	o.resource = res;
	o.mode = BATON_MODE_MUTEX;
	o.lease_ms = 3000;
	o.wait_ms = 4000;
	if (baton_acquire(w->c, &o, &l) != BATON_OK) {
		atomic_fetch_add(&w->n->failed, 1);
		return;
	}
	baton_err rc = baton_lock_wait(l, (r >> 4) % 5 == 0 ? 200 : 8000, &a);
	if (rc == BATON_E_TIMEOUT) {
		(void)baton_cancel(l, 1000);
		atomic_fetch_add(&w->n->cancelled, 1);
	} else if (rc == BATON_OK && a.phase == BATON_PHASE_GRANTED) {
		atomic_fetch_add(&w->n->granted, 1);
		nap_ms((r >> 8) % 300); /* the work the lock guards */
		if (baton_lock_lost(l)) {
			atomic_fetch_add(&w->n->lost, 1);
		} else if ((r >> 12) % 4 == 0) {
			atomic_fetch_add(&w->n->abandoned, 1); /* baton_lock_free releases it */
		} else {
			baton_release_options ro = {
			    .success = (r >> 14) % 2 == 0, .error = "soak", .remember_ms = -1};
			if (baton_release(l, &ro, 3000) == BATON_OK)
				atomic_fetch_add(&w->n->released, 1);
		}
	} else if (rc == BATON_OK && a.phase == BATON_PHASE_BUSY) {
		atomic_fetch_add(&w->n->busy, 1);
	} else {
		atomic_fetch_add(&w->n->failed, 1);
	}
	baton_lock_free(l);
	atomic_fetch_add(&w->n->cycles, 1);
}

static void *work(void *arg)
{
	worker *w = arg;
	while (!stop_flag)
		cycle(w);
	return NULL;
}

static baton_client *client(const char *broker, const char *prefix, const char *node, counts *n)
{
	baton_options o;
	baton_client *c = NULL;
	char msg[256];

	baton_options_init(&o);
	o.broker = broker;
	o.prefix = prefix;
	o.node = node;
	o.keepalive_s = 5;
	o.log = on_log;
	o.log_arg = n;
	if (baton_client_new(&o, &c, msg, sizeof msg) != BATON_OK) {
		fprintf(stderr, "soak_agent: %s\n", msg);
		return NULL;
	}
	if (baton_client_connect(c, 120000) != BATON_OK) {
		baton_client_last_error(c, msg, sizeof msg);
		fprintf(stderr, "soak_agent: %s: %s\n", node, msg);
		baton_client_free(c);
		return NULL;
	}
	return c;
}

int main(int argc, char **argv)
{
	static counts n;
	baton_client *cs[2] = {NULL, NULL};
	baton_watch *watch = NULL;
	pthread_t th[2];
	worker ws[2];
	char node[64];
	int rc = 1;

	if (argc != 5) {
		fprintf(stderr, "usage: soak_agent BROKER PREFIX NODE SEED\n");
		return 2;
	}
	signal(SIGTERM, on_term);
	for (int i = 0; i < 2; i++) {
		snprintf(node, sizeof node, "%s-%d", argv[3], i);
		if ((cs[i] = client(argv[1], argv[2], node, &n)) == NULL)
			goto out;
	}
	if (baton_watch_new(cs[1], "soak/#", on_event, &n, &watch) != BATON_OK)
		goto out;
	printf("ready\n");
	fflush(stdout);
	for (int i = 0; i < 2; i++) {
		ws[i] = (worker){
		    .c = cs[i], .seed = (unsigned)strtoul(argv[4], NULL, 10) * 2u + (unsigned)i, .n = &n};
		pthread_create(&th[i], NULL, work, &ws[i]);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	rc = 0;
out:
	baton_watch_free(watch);
	for (int i = 0; i < 2; i++)
		baton_client_free(cs[i]);
	printf("cycles=%d granted=%d released=%d abandoned=%d cancelled=%d busy=%d lost=%d failed=%d "
	       "losses=%d events=%d\n",
	       n.cycles, n.granted, n.released, n.abandoned, n.cancelled, n.busy, n.lost, n.failed, n.losses,
	       n.events);
	return rc;
}
