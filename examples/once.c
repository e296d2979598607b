/*
 * once.c - a complete libbaton program: run a database migration exactly
 * once across a fleet of nodes.
 *
 * Every node runs this program at start-up. One of them takes the lock and
 * migrates; the others wait in line. If the migration succeeds, every waiter
 * (and every node that starts within --done-ttl) is told it is done, with the
 * result, and skips it. If it fails, the next waiter is granted the lock at
 * once and tries, knowing who failed before it and why.
 *
 *   usage: baton-example-once NODE RESOURCE [--fail]
 *   env:   BATON_BROKER (default tcp://127.0.0.1:1883), BATON_PREFIX
 *   exit:  0 migrated or already done; 1 the migration failed; 2 usage;
 *          3 the lock was lost; 4 broker or coordinator trouble
 *
 * --fail makes this node's migration fail, to see the handoff. Built by
 * examples/CMakeLists.txt and run by tests/docs/test_example.py; described
 * in docs/library.md.
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep with -std=c11 */

#include <baton.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* libbaton never prints: it hands its log lines to us. */
static void log_line(void *arg, baton_log_level level, const char *line)
{
	(void)arg;
	if (level <= BATON_LOG_WARN)
		fprintf(stderr, "libbaton: %s\n", line);
}

/* Called on the client thread if the holding is revoked or its lease runs
 * out while we work: a real program stops writing at once. */
static void on_lost(baton_lock *l, baton_err why, void *arg)
{
	(void)l;
	fprintf(stderr, "lost the lock: %s\n", baton_strerror(why));
	atomic_store((atomic_bool *)arg, true);
}

/* The operation itself. The fencing token goes with every write, so that
 * the database can refuse a late write from a holder that lost the lock.
 * Returns 0 and a result to share, or -1 and an error. */
static int migrate(uint64_t token, bool fail, const atomic_bool *lost, char *result, size_t cap, char *error,
                   size_t ecap)
{
	struct timespec step = {0, 100 * 1000 * 1000};

	for (int i = 0; i < 3; i++) { /* three steps of work */
		if (atomic_load(lost)) {
			snprintf(error, ecap, "lock lost at step %d", i);
			return -1;
		}
		nanosleep(&step, NULL);
	}
	if (fail) {
		snprintf(error, ecap, "migration 42 failed: relation \"orders\" is locked");
		return -1;
	}
	snprintf(result, cap, "schema at version 42 (migrated with fencing token %llu)",
	         (unsigned long long)token);
	return 0;
}

int main(int argc, char **argv)
{
	baton_client *c = NULL;
	baton_lock *l = NULL;
	baton_options o;
	baton_acquire_options ao;
	baton_answer ans;
	atomic_bool lost = false;
	char msg[256], result[256] = "", error[256] = "";
	int rc = 4;

	if (argc < 3 || argc > 4 || (argc == 4 && strcmp(argv[3], "--fail") != 0)) {
		fprintf(stderr, "usage: %s NODE RESOURCE [--fail]\n", argv[0]);
		return 2;
	}
	baton_options_init(&o);
	o.broker = getenv("BATON_BROKER"); /* NULL: the default */
	o.prefix = getenv("BATON_PREFIX");
	o.node = argv[1];
	o.log = log_line;
	if (baton_client_new(&o, &c, msg, sizeof msg) != BATON_OK) {
		fprintf(stderr, "%s\n", msg);
		return 2;
	}
	if (baton_client_connect(c, 10000) != BATON_OK) {
		baton_client_last_error(c, msg, sizeof msg);
		fprintf(stderr, "cannot connect: %s\n", msg);
		goto out;
	}

	baton_acquire_options_init(&ao); /* once mode, wait forever, default lease */
	ao.resource = argv[2];
	ao.meta = "migration 42";
	ao.on_lost = on_lost;
	ao.arg = &lost;
	if (baton_acquire(c, &ao, &l) != BATON_OK) {
		baton_client_last_error(c, msg, sizeof msg);
		fprintf(stderr, "acquire: %s\n", msg);
		rc = 2;
		goto out;
	}
	/* Waits in line as long as it takes; the lease is renewed in the
	 * background once granted. A real program might bound this. */
	if (baton_lock_wait(l, BATON_WAIT_FOREVER, &ans) != BATON_OK)
		goto out;

	switch (ans.phase) {
	case BATON_PHASE_GRANTED: {
		baton_release_options ro = {.remember_ms = -1}; /* -1: the coordinator's --done-ttl */

		if (ans.previous.node != NULL)
			printf("%s: taking over from %s (token %llu): %s\n", argv[1], ans.previous.node,
			       (unsigned long long)ans.previous.token,
			       ans.previous.error ? ans.previous.error
			                          : baton_reason_name(ans.previous.reason));
		printf("%s: granted token %llu, migrating\n", argv[1], (unsigned long long)ans.token);
		ro.success =
		    migrate(ans.token, argc == 4, &lost, result, sizeof result, error, sizeof error) == 0;
		ro.result = ro.success ? result : NULL;
		ro.error = ro.success ? NULL : error;
		if (atomic_load(&lost) || baton_lock_lost(l)) {
			rc = 3; /* nothing to release: the coordinator took it back */
			break;
		}
		if (baton_release(l, &ro, 10000) != BATON_OK) {
			baton_client_last_error(c, msg, sizeof msg);
			fprintf(stderr, "release not confirmed: %s\n", msg);
		}
		printf("%s: %s\n", argv[1], ro.success ? result : error);
		rc = ro.success ? 0 : 1;
		break;
	}
	case BATON_PHASE_DONE:
		printf("%s: already done by %s: %s\n", argv[1], ans.done.node ? ans.done.node : "?",
		       ans.done.result ? ans.done.result : "(no result shared)");
		rc = 0;
		break;
	case BATON_PHASE_REJECTED:
		fprintf(stderr, "rejected: %s\n", ans.message ? ans.message : baton_strerror(ans.code));
		rc = 2;
		break;
	default: /* BUSY: only with a bounded wait */
		fprintf(stderr, "busy, held by %s\n", ans.holder ? ans.holder : "?");
		break;
	}
out:
	baton_lock_free(l);   /* NULL is fine */
	baton_client_free(c); /* announces this node offline and disconnects */
	return rc;
}
