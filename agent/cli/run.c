/*
 * run.c - `baton run`: take the lock, run the command, release with its
 * outcome; or skip when another node already did it (once mode).
 *
 * Owns the run's flow and its exit codes (cli.h), the failure's error text
 * (the command's exit status and the tail of its stderr) and, with -v,
 * telling the command's own exit code from baton's. The command itself is
 * child.c's, the wait for the answer waiting.c's, the lock libbaton's.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "cli.h"
#include "names.h"
#include "waiting.h"
#include "wire.h"

enum {
	RUN_RESOURCE = 256,
	RUN_MODE,
	RUN_LEASE,
	RUN_WAIT,
	RUN_SHARE,
	RUN_META,
	RUN_SHARED,
	RUN_PERMITS,
	RUN_MAX_FAILURES,
	RUN_KILL_AFTER,
	RUN_CONNECT,
	RUN_CONFLICT
};

typedef struct run_args {
	const char *resource;
	baton_mode mode;
	bool mode_set; /* --mode or --shared given */
	uint32_t permits, max_failures;
	int64_t lease_ms;
	int64_t wait_ms; /* -1: forever */
	bool share_output;
	const char *meta;
	int64_t kill_after_ms; /* -1: the default */
	int64_t connect_ms;    /* --connect-timeout, -1: none */
	int conflict_code;     /* exit code for busy or wait ran out */
} run_args;

/* The help below spells the codec's lease bounds; keep them in step. */
_Static_assert(WIRE_LEASE_MIN == 1000 && WIRE_LEASE_MAX == 3600000 && WIRE_LEASE_DEFAULT == 30000,
               "update --lease's help text");
_Static_assert(WIRE_PERMITS_MAX == 1024 && WIRE_FAILURES_MAX == 1000 && CLI_EX_FAILED == 79,
               "update the help text of --permits, --max-failures and the exit codes");

static const cli_opt run_opts[] = {
    CLI_OPT("resource", 'r', RUN_RESOURCE, "NAME", "the resource to lock (required)"),
    CLI_OPT("mode", 'm', RUN_MODE, "once|mutex|shared",
            "once: skip when someone succeeded (default); mutex: always run; shared: see --shared"),
    CLI_OPT("shared", 0, RUN_SHARED, NULL,
            "a read lock: run beside other --shared holders, never beside a mutex (--mode shared)"),
    CLI_OPT("permits", 'n', RUN_PERMITS, "N",
            "a semaphore: up to N mutex holders at once (1..1024; implies --mode mutex)"),
    CLI_OPT("max-failures", 0, RUN_MAX_FAILURES, "N",
            "once: give up (exit 79) when the operation failed N times in a row (1..1000)"),
    CLI_OPT("lease", 'l', RUN_LEASE, "DUR", "lease, renewed in the background (default 30s; 1s..1h)"),
    CLI_OPT("wait", 'w', RUN_WAIT, "DUR",
            "give up (exit 75) after this long, whatever is down (default: wait, even for an absent "
            "coordinator)"),
    CLI_OPT("connect-timeout", 0, RUN_CONNECT, "DUR",
            "give up (exit 69) when the broker or the coordinator is away this long (default: wait)"),
    CLI_OPT("conflict-exit-code", 'E', RUN_CONFLICT, "N",
            "exit N instead of 75 when busy or the wait ran out (flock -E)"),
    CLI_OPT("share-output", 's', RUN_SHARE, NULL, "share the tail of stdout (4 KiB) with nodes that skip"),
    CLI_OPT("meta", 0, RUN_META, "TEXT", "text shown to watchers (default: the command line)"),
    CLI_OPT("kill-after", 'k', RUN_KILL_AFTER, "DUR",
            "SIGTERM to SIGKILL grace for the command's group (default 5s)"),
    CLI_OPT_END,
};

static int run_opt(void *ctx, int id, const char *arg)
{
	run_args *a = ctx;

	switch (id) {
	case RUN_RESOURCE:
		a->resource = arg;
		return 0;
	case RUN_SHARE:
		a->share_output = true;
		return 0;
	case RUN_META:
		a->meta = arg;
		return 0;
	case RUN_MODE:
		a->mode_set = true;
		if (strcmp(arg, "once") == 0 || strcmp(arg, "mutex") == 0 || strcmp(arg, "shared") == 0) {
			a->mode = arg[0] == 'm'   ? BATON_MODE_MUTEX
			          : arg[0] == 's' ? BATON_MODE_SHARED
			                          : BATON_MODE_ONCE;
			return 0;
		}
		fprintf(stderr, "baton run: --mode must be once, mutex or shared\n");
		return CLI_EX_USAGE;
	case RUN_SHARED:
		a->mode_set = true;
		a->mode = BATON_MODE_SHARED;
		return 0;
	case RUN_PERMITS:
		return cli_count_opt("run", "permits", arg, 1, WIRE_PERMITS_MAX, &a->permits);
	case RUN_MAX_FAILURES:
		return cli_count_opt("run", "max-failures", arg, 1, WIRE_FAILURES_MAX, &a->max_failures);
	case RUN_LEASE:
		return cli_duration_opt("run", "lease", arg, WIRE_LEASE_MIN, WIRE_LEASE_MAX, &a->lease_ms);
	case RUN_KILL_AFTER:
		return cli_duration_opt("run", "kill-after", arg, 0, 3600000, &a->kill_after_ms);
	case RUN_WAIT:
		return cli_duration_opt("run", "wait", arg, 0, INT64_MAX, &a->wait_ms);
	case RUN_CONNECT:
		return cli_duration_opt("run", "connect-timeout", arg, 0, INT64_MAX, &a->connect_ms);
	case RUN_CONFLICT: {
		char *end = NULL;
		long v = strtol(arg, &end, 10);

		if (end != arg && *end == '\0' && v >= 0 && v <= 255) {
			a->conflict_code = (int)v;
			return 0;
		}
		fprintf(stderr, "baton run: --conflict-exit-code must be a number from 0 to 255\n");
		return CLI_EX_USAGE;
	}
	default:
		return CLI_EX_USAGE;
	}
}

static const cli_command run_cmd = {
    "run",
    "--resource NAME [OPTIONS] -- COMMAND [ARGS...]",
    "Takes the lock on NAME, runs COMMAND while holding it and releases it with the\n"
    "command's outcome. In once mode a node that finds the work already done skips it\n"
    "and exits 0. The command sees BATON_RESOURCE, BATON_TOKEN, BATON_NODE (and\n"
    "BATON_PREVIOUS_ERROR when it takes over from a failed holder: the failed command's\n"
    "exit status and the end of its stderr, up to 1 KiB). While waiting it shows its place\n"
    "in the queue (-v, or on a terminal). The command runs in a process group of its own;\n"
    "when it ends, the lock is lost or baton is interrupted, the whole group gets SIGTERM,\n"
    "then SIGKILL after --kill-after, and baton exits when it is gone. Every process of it\n"
    "is killed before the lock can pass to another node, and at once if baton itself dies.\n"
    "With --shared it is a read lock, with --permits N a semaphore of N; with\n"
    "--max-failures N it runs nothing once the operation failed N times in a row.\n"
    "Exit: 0 ran and succeeded or skipped; the command's code when it failed; 64 usage;\n"
    "65 rejected; 69 broker or coordinator unreachable (never answered within --wait or\n"
    "--connect-timeout, or refused us); 75 busy or wait ran out (--conflict-exit-code);\n"
    "76 lock lost while running; 77 the broker's ACL does not let us act as this node;\n"
    "79 failed too often (--max-failures): not run; 130/143 interrupted (SIGINT/SIGTERM)\n"
    "while waiting.\n"
    "The command's own code may equal one of these: -v says which it was.",
    "baton run --resource images/nginx:1.25 --wait 10m -- docker pull nginx:1.25",
    run_opts,
    run_opt,
};

/* The default meta: the command line, cut to 256 bytes of valid UTF-8. */
static void default_meta(char *const *argv, char *buf, size_t cap)
{
	size_t n = 0;

	buf[0] = '\0';
	for (int i = 0; argv[i] != NULL && n + 1 < cap; i++)
		n += (size_t)snprintf(buf + n, cap - n, "%s%s", i ? " " : "", argv[i]);
	n = strlen(buf);
	for (int k = 0; k < 4 && n > 0 && !names_utf8_valid(buf, n); k++)
		n--; /* a cut inside a character */
	buf[n] = '\0';
	if (!names_utf8_valid(buf, n))
		buf[0] = '\0';
}

/* A final answer other than a grant: report it and return the exit code. */
static int not_granted(const baton_answer *ans, const run_args *a, const cli_common *com)
{
	char when[64];

	switch (ans->phase) {
	case BATON_PHASE_DONE:
		cli_format_time(ans->done.completed_at_ms, when, sizeof when);
		if (com->verbosity >= 0)
			fprintf(stderr, "baton: %s already done by %s at %s (token %llu); skipping\n",
			        a->resource, ans->done.node ? ans->done.node : "?", when,
			        (unsigned long long)ans->done.token);
		if (ans->done.result != NULL) {
			fputs(ans->done.result, stdout);
			fflush(stdout);
		}
		return CLI_EX_OK;
	case BATON_PHASE_LOST:
		fprintf(stderr,
		        "baton: the grant of %s was revoked, or never confirmed by a renewal, before it "
		        "could be used\n",
		        a->resource);
		return CLI_EX_LOST;
	case BATON_PHASE_BUSY:
		fprintf(stderr, "baton: %s is busy (held by %s)\n", a->resource,
		        ans->holder ? ans->holder : "?");
		return a->conflict_code;
	case BATON_PHASE_FAILED:
		cli_format_time(ans->last.completed_at_ms, when, sizeof when);
		fprintf(stderr,
		        "baton: %s failed %u time%s in a row (--max-failures %u); not running it. Last: %s "
		        "(token %llu) at %s: %s\n",
		        a->resource, ans->failures, ans->failures == 1 ? "" : "s", a->max_failures,
		        ans->last.node ? ans->last.node : "?", (unsigned long long)ans->last.token, when,
		        ans->last.error ? ans->last.error : baton_reason_name(ans->last.reason));
		return CLI_EX_FAILED;
	default:
		fprintf(stderr, "baton: the coordinator rejected the request: %s: %s\n",
		        baton_err_code(ans->code) ? baton_err_code(ans->code) : "?",
		        ans->message ? ans->message : baton_strerror(ans->code));
		return CLI_EX_REJECTED;
	}
}

static void on_lost(baton_lock *l, baton_err why, void *arg)
{
	int fd = *(int *)arg;
	char byte = why == BATON_E_NOT_CONNECTED ? CHILD_LOST_CONNECTION : CHILD_LOST_REVOKED;

	(void)l;
	(void)!write(fd, &byte, 1);
}

/* How long the holding stays valid, for child.c (child_opts.valid_until). */
typedef struct validity {
	baton_lock *l;
	int64_t last; /* the last instant reported: kept once the lock is lost */
} validity;

static int64_t lock_valid_until(void *arg)
{
	validity *v = arg;
	baton_lock_info info;

	baton_lock_get_info(v->l, &info);
	if (info.phase == BATON_PHASE_GRANTED && info.lease_left_ms > 0)
		v->last = cli_now_ms() + info.lease_left_ms;
	return v->last;
}

/* The failure's error: "exit status 3" or "killed by signal SIGTERM", then
 * as much of the end of the command's stderr as fits in the wire's 1024
 * bytes, as UTF-8 (a byte that is not becomes '?'), without trailing
 * blank space. Successors see it as BATON_PREVIOUS_ERROR, watchers in the
 * outcome. */
static void failure_text(const child_result *r, char *buf, size_t cap)
{
	char sig[32];
	size_t n, room, len;
	const char *t = r->err_tail;

	if (r->exited) {
		snprintf(buf, cap, "exit status %d", r->code);
	} else {
		child_signal_name(r->sig, sig, sizeof sig);
		snprintf(buf, cap, "killed by signal %s", sig);
	}
	n = r->err_tail_len;
	while (n > 0 && strchr(" \t\r\n", t[n - 1]) != NULL)
		n--;
	len = strlen(buf);
	if (n == 0 || len + 11 >= cap)
		return;
	room = cap - 1 - len - 10; /* "; stderr: " */
	if (n > room) {
		t += n - room;
		n = room;
	}
	while (n > 0 && ((unsigned char)*t & 0xC0) == 0x80)
		t++, n--; /* the tail may start inside a character */
	memcpy(buf + len, "; stderr: ", 10);
	memcpy(buf + len + 10, t, n);
	buf[len + 10 + n] = '\0';
	for (size_t i = len + 10; i < len + 10 + n; i++)
		if (buf[i] == '\0')
			buf[i] = '?';
	for (size_t i = len + 10, end = len + 10 + n; i < end;) {
		size_t k = names_utf8_next(buf + i, end - i);

		if (k == 0)
			buf[i++] = '?';
		else
			i += k;
	}
}

/* Releases with the command's outcome; returns the run's exit code. */
static int release_with(baton_lock *l, const run_args *a, const child_result *r)
{
	baton_release_options ro = {.remember_ms = -1};
	char error[BATON_ERROR_MAX + 1];
	baton_err err;
	size_t n = r->tail_len;

	ro.success = r->exited && r->code == 0;
	failure_text(r, error, sizeof error);
	ro.error = ro.success ? NULL : error;
	if (a->share_output && r->spawned) {
		/* The tail may start inside a character: skip to the next one. */
		const char *t = r->tail;

		while (n > 0 && ((unsigned char)*t & 0xC0) == 0x80)
			t++, n--;
		ro.result = names_utf8_valid(t, n) && strlen(t) == n ? t : NULL;
		if (ro.result == NULL)
			fprintf(stderr, "baton: output is not UTF-8 text; not shared\n");
	}
	err = baton_release(l, &ro, 10000);
	if (err == BATON_E_LOST || err == BATON_E_NOT_HOLDER) {
		/* Revoked while we ran, and we heard only now: someone else may
		 * have held it meanwhile. */
		fprintf(stderr, "baton: lock on %s was lost while the command ran: %s\n", a->resource,
		        baton_lock_lost_reason(l) ? baton_lock_lost_reason(l) : baton_strerror(err));
		return CLI_EX_LOST;
	}
	if (err != BATON_OK)
		fprintf(stderr, "baton: release of %s not confirmed: %s\n", a->resource, baton_strerror(err));
	return r->exited ? r->code : 128 + r->sig;
}

static int run_holding(baton_lock *l, const baton_answer *ans, const run_args *a, const cli_common *com,
                       char *const *argv, int lost_fd)
{
	char res[BATON_RESOURCE_MAX + 32], tok[64], node[BATON_NODE_MAX + 32], prev[BATON_ERROR_MAX + 64];
	const char *env[5] = {res, tok, node, NULL, NULL};
	validity v = {l, cli_now_ms()}; /* not valid until the lock says so */
	child_opts co = {.argv = argv,
	                 .env = env,
	                 .share_output = a->share_output,
	                 .lost_fd = lost_fd,
	                 .kill_after_ms = a->kill_after_ms,
	                 .valid_until = lock_valid_until,
	                 .arg = &v,
	                 .verbose = com->verbosity > 0};
	child_result r;

	(void)lock_valid_until(&v);

	snprintf(res, sizeof res, "BATON_RESOURCE=%s", a->resource);
	snprintf(tok, sizeof tok, "BATON_TOKEN=%llu", (unsigned long long)ans->token);
	snprintf(node, sizeof node, "BATON_NODE=%s", com->node);
	if (ans->previous.node != NULL) {
		snprintf(prev, sizeof prev, "BATON_PREVIOUS_ERROR=%s",
		         ans->previous.error ? ans->previous.error : baton_reason_name(ans->previous.reason));
		env[3] = prev;
		if (com->verbosity >= 0)
			fprintf(stderr, "baton: taking over %s from %s (token %llu): %s\n", a->resource,
			        ans->previous.node, (unsigned long long)ans->previous.token, prev + 21);
	}
	if (com->verbosity > 0)
		fprintf(stderr, "baton: holding %s (token %llu, lease %ums)\n", a->resource,
		        (unsigned long long)ans->token, ans->lease_ms);
	if (child_run(&co, &r) != 0) {
		baton_release_options ro = {
		    .success = false, .error = "command could not start", .remember_ms = -1};

		(void)baton_release(l, &ro, 10000);
		return CLI_EX_SOFTWARE;
	}
	if (r.lost || baton_lock_lost(l)) {
		fprintf(stderr, "baton: lock on %s was lost while the command ran: %s\n", a->resource,
		        baton_lock_lost_reason(l) ? baton_lock_lost_reason(l) : "?");
		return CLI_EX_LOST;
	}
	return release_with(l, a, &r);
}

/* With -v, says when the command's own exit code is one baton also uses. */
static void explain_code(int rc, const run_args *a, const cli_common *com)
{
	static const struct {
		int code;
		const char *means;
	} ours[] = {{CLI_EX_USAGE, "a usage error"},
	            {CLI_EX_REJECTED, "rejected by the coordinator"},
	            {CLI_EX_UNAVAILABLE, "broker or coordinator unreachable"},
	            {CLI_EX_SOFTWARE, "an internal error"},
	            {CLI_EX_TEMPFAIL, "busy or the wait ran out"},
	            {CLI_EX_LOST, "the lock was lost"},
	            {CLI_EX_NOPERM, "not authorized as this node by the broker's ACL"},
	            {CLI_EX_FAILED, "failed too often (--max-failures)"},
	            {128 + SIGINT, "interrupted while waiting"},
	            {128 + SIGTERM, "terminated while waiting"}};

	const char *means = rc != 0 && rc == a->conflict_code ? "busy or the wait ran out" : NULL;

	for (size_t i = 0; means == NULL && i < sizeof ours / sizeof ours[0]; i++)
		if (rc == ours[i].code)
			means = ours[i].means;
	if (com->verbosity > 0 && means != NULL)
		fprintf(stderr, "baton: exit code %d is the command's own (from baton it would mean %s)\n",
		        rc, means);
}

static int run_locked(baton_client *c, const run_args *a, const cli_common *com, char *const *argv,
                      const cli_wait *w)
{
	char meta[257];
	int lost[2] = {-1, -1}, rc;
	baton_acquire_options ao;
	baton_answer ans;
	baton_lock *l = NULL;

	if (pipe(lost) != 0) {
		perror("baton: pipe");
		return CLI_EX_SOFTWARE;
	}
	(void)fcntl(lost[1], F_SETFL, O_NONBLOCK);
	(void)fcntl(lost[0], F_SETFD, FD_CLOEXEC);
	(void)fcntl(lost[1], F_SETFD, FD_CLOEXEC);
	default_meta(argv, meta, sizeof meta);
	baton_acquire_options_init(&ao);
	ao.resource = a->resource;
	ao.mode = a->mode;
	ao.permits = a->permits;
	ao.max_failures = a->max_failures;
	ao.lease_ms = (uint32_t)a->lease_ms;
	ao.wait_ms = cli_wait_left(w); /* --wait bounds the whole run, connecting included */
	ao.meta = a->meta ? a->meta : meta;
	ao.on_lost = on_lost;
	ao.arg = &lost[1];
	if (baton_acquire(c, &ao, &l) != BATON_OK) {
		char msg[256];

		baton_client_last_error(c, msg, sizeof msg);
		fprintf(stderr, "baton run: %s\n", msg);
		rc = CLI_EX_USAGE;
		goto out;
	}
	rc = cli_wait_answer(c, l, w, &ans);
	if (rc == CLI_EX_TEMPFAIL)
		rc = a->conflict_code;
	else if (rc == 0 && ans.phase != BATON_PHASE_GRANTED)
		rc = not_granted(&ans, a, com);
	else if (rc == 0 && (rc = run_holding(l, &ans, a, com, argv, lost[0])) >= 0)
		explain_code(rc, a, com);
out:
	baton_lock_free(l); /* before the pipe closes: no on_lost after this */
	close(lost[0]);
	close(lost[1]);
	return rc;
}

/* The SIGTERM-to-SIGKILL grace must leave room for two renewals in the
 * holding's validity (docs/faults.md): at most half of it. */
static int check_kill_after(run_args *a)
{
	int64_t window = baton_window_ms((uint32_t)a->lease_ms, 0), most = window / 2;
	char k[32], m[32], w[32];

	if (a->kill_after_ms < 0) {
		a->kill_after_ms = CHILD_KILL_AFTER_MS < most ? CHILD_KILL_AFTER_MS : most;
		return 0;
	}
	if (a->kill_after_ms <= most)
		return 0;
	duration_format(a->kill_after_ms, k, sizeof k);
	duration_format(most, m, sizeof m);
	duration_format(window, w, sizeof w);
	fprintf(stderr,
	        "baton run: --kill-after %s does not fit the lock: a holding stays valid %s after its "
	        "last answered renewal (the lease or 1.5 keepalives, less 1%% + 100 ms), and the grace "
	        "must be at most half of that, %s; lower --kill-after or raise --lease\n",
	        k, w, m);
	return CLI_EX_USAGE;
}

/* --permits implies mutex; the shapes that cannot go together are usage
 * errors here rather than rejections later. */
static int shape_check(run_args *a)
{
	if (a->permits > 1 && !a->mode_set)
		a->mode = BATON_MODE_MUTEX;
	if (a->permits > 1 && a->mode != BATON_MODE_MUTEX) {
		fprintf(stderr, "baton run: --permits above 1 needs --mode mutex (a semaphore)\n");
		return CLI_EX_USAGE;
	}
	if (a->max_failures != 0 && a->mode != BATON_MODE_ONCE) {
		fprintf(stderr, "baton run: --max-failures is for --mode once\n");
		return CLI_EX_USAGE;
	}
	return 0;
}

int cli_run_main(int argc, char **argv)
{
	run_args a = {.mode = BATON_MODE_ONCE,
	              .lease_ms = WIRE_LEASE_DEFAULT,
	              .wait_ms = -1,
	              .kill_after_ms = -1,
	              .connect_ms = -1,
	              .conflict_code = CLI_EX_TEMPFAIL};
	int64_t start = cli_now_ms();
	cli_common com;
	cli_wait w;
	baton_client *c = NULL;
	int first, rc = cli_parse(argc, argv, &run_cmd, &com, &a, &first, stdout, stderr);

	if (rc != 0)
		return rc == CLI_HELP ? CLI_EX_OK : rc;
	if (a.resource == NULL || first >= argc) {
		fprintf(stderr, "baton run: %s\ntry 'baton run --help'\n",
		        a.resource == NULL ? "--resource is required" : "no command given (put it after --)");
		return CLI_EX_USAGE;
	}
	if ((rc = shape_check(&a)) != 0)
		return rc;
	if (!names_resource_valid(a.resource, strlen(a.resource))) {
		fprintf(stderr, "baton run: invalid resource name '%s'\n", a.resource);
		return CLI_EX_USAGE;
	}
	rc = check_kill_after(&a);
	if (rc != 0)
		return rc;
	cli_wait_init(&w, a.resource, &com, start, a.wait_ms, a.connect_ms);
	rc = cli_connect_until(&com, &c, cli_wait_connect_deadline(&w));
	if (rc != 0)
		return rc;
	rc = run_locked(c, &a, &com, argv + first, &w);
	baton_client_free(c);
	return rc;
}
