/*
 * child.c - runs and supervises the command of `baton run`.
 *
 * Owns baton's side of the command: its environment (ours plus the BATON_*
 * variables), the capture of its stdout tail and of its stderr tail (for
 * the failure's error; the command's stderr is a pipe we copy to ours), and
 * what the keeper
 * (keeper.c, the command's parent, which does the killing) is told: how
 * long the lock stays valid, refreshed every round; a stop (SIGTERM, then
 * SIGKILL after kill_after) when the lock is lost or we are interrupted.
 * Returns only when the keeper says every process of the command is gone.
 * Every descriptor above stderr is closed at exec, so a command outliving
 * us never keeps our broker connection, and with it our Will, alive.
 * Prints only its own diagnostics to stderr and the command's output to
 * stdout.
 */
#define _GNU_SOURCE /* pipe2 */
#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "keeper.h"

extern char **environ;

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void child_signal_name(int sig, char *buf, size_t cap)
{
	static const struct {
		int sig;
		const char *name;
	} names[] = {{SIGHUP, "SIGHUP"},   {SIGINT, "SIGINT"},   {SIGQUIT, "SIGQUIT"}, {SIGILL, "SIGILL"},
	             {SIGABRT, "SIGABRT"}, {SIGFPE, "SIGFPE"},   {SIGKILL, "SIGKILL"}, {SIGSEGV, "SIGSEGV"},
	             {SIGPIPE, "SIGPIPE"}, {SIGALRM, "SIGALRM"}, {SIGTERM, "SIGTERM"}, {SIGUSR1, "SIGUSR1"},
	             {SIGUSR2, "SIGUSR2"}, {SIGBUS, "SIGBUS"},   {SIGXCPU, "SIGXCPU"}};

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (names[i].sig == sig) {
			snprintf(buf, cap, "%s", names[i].name);
			return;
		}
	snprintf(buf, cap, "signal %d", sig);
}

/* environ plus add (replacing variables of the same name); the strings are
 * borrowed, the array is malloc'd. NULL when out of memory. */
static char **build_env(const char *const *add)
{
	size_t n = 0, k = 0, m = 0;
	char **env;

	while (environ[n] != NULL)
		n++;
	while (add != NULL && add[k] != NULL)
		k++;
	env = calloc(n + k + 1, sizeof *env);
	if (env == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		bool replaced = false;

		for (size_t j = 0; j < k && !replaced; j++) {
			size_t nl = strcspn(add[j], "=");

			replaced = strncmp(environ[i], add[j], nl + 1) == 0;
		}
		if (!replaced)
			env[m++] = environ[i];
	}
	for (size_t j = 0; j < k; j++)
		env[m++] = (char *)add[j];
	env[m] = NULL;
	return env;
}

/* Keeps the last max bytes of everything appended in tail (cap max + 1). */
static void keep_tail(char *tail, size_t *len, size_t max, const char *buf, size_t n)
{
	if (n >= max) {
		memcpy(tail, buf + n - max, max);
		*len = max;
	} else {
		size_t keep = *len + n > max ? max - n : *len;

		memmove(tail, tail + *len - keep, keep);
		memcpy(tail + keep, buf, n);
		*len = keep + n;
	}
	tail[*len] = '\0';
}

/* Copies what the command wrote on fd to ours (to_fd) and keeps its tail;
 * false at EOF. */
static bool pump_output(int fd, int to_fd, child_result *r)
{
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof buf);

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return true;
	if (n <= 0)
		return false;
	for (ssize_t off = 0; off < n;) {
		ssize_t w = write(to_fd, buf + off, (size_t)(n - off));

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break; /* our stdout is gone; keep capturing */
		off += w;
	}
	if (to_fd == STDOUT_FILENO)
		keep_tail(r->tail, &r->tail_len, CHILD_TAIL_MAX, buf, (size_t)n);
	else
		keep_tail(r->err_tail, &r->err_tail_len, CHILD_ERR_TAIL_MAX, buf, (size_t)n);
	return true;
}

typedef struct supervisor {
	const child_opts *o;
	pid_t keeper;       /* our child; the command is its child */
	pid_t pgid;         /* the command's process group, 0: not started yet */
	int ctl_fd, st_fd;  /* to and from the keeper; -1 when closed */
	int out_fd;         /* -1 when not capturing or at EOF */
	int err_fd;         /* the command's stderr; -1 at EOF */
	int64_t valid_sent; /* the last validity told to the keeper */
	int64_t stop_sent;  /* the SIGKILL time of the last stop, INT64_MAX: none */
	bool gone;          /* every process of the command is gone */
	bool exec_failed;
	int status; /* the command's wait status */
	int64_t gone_at;
} supervisor;

static void tell(supervisor *s, int32_t op, int32_t val, int64_t at)
{
	keeper_msg m = {.op = op, .val = val, .at = at};

	if (s->ctl_fd >= 0)
		(void)!write(s->ctl_fd, &m, sizeof m);
}

static int64_t valid_until(const child_opts *o)
{
	return o->valid_until != NULL ? o->valid_until(o->arg) : INT64_MAX;
}

/* Asks the keeper to signal the group now and SIGKILL it by kill_at. */
static void stop(supervisor *s, int sig, int64_t kill_at)
{
	if (kill_at >= s->stop_sent && sig == SIGTERM)
		return;
	s->stop_sent = kill_at;
	tell(s, KEEP_STOP, sig, kill_at);
}

static void on_lost(supervisor *s, child_result *r)
{
	const child_opts *o = s->o;
	char why = 0;
	int64_t now = now_ms();

	(void)!read(o->lost_fd, &why, 1);
	if (r->lost || s->gone)
		return;
	r->lost = true;
	if (why == CHILD_LOST_CONNECTION) {
		/* Our Will fires no sooner than our validity ends (reqstate.c):
		 * the grace may run until then. */
		fprintf(stderr,
		        "baton: connection lost while the command ran; stopping it (SIGTERM, SIGKILL in "
		        "%lldms)\n",
		        (long long)o->kill_after_ms);
		stop(s, SIGTERM, now + o->kill_after_ms);
	} else {
		/* Revoked: another node may hold the lock already. */
		fprintf(stderr, "baton: lock lost while the command ran; killing it\n");
		stop(s, SIGKILL, now);
	}
}

static void on_status(supervisor *s, child_result *r)
{
	keeper_msg m;
	ssize_t n = read(s->st_fd, &m, sizeof m);

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n != (ssize_t)sizeof m) {
		/* The keeper died without saying all is gone: finish its job. */
		if (!s->gone && s->pgid > 0)
			kill(-s->pgid, SIGKILL);
		close(s->st_fd);
		s->st_fd = -1;
		s->gone = true;
		s->gone_at = now_ms();
		return;
	}
	switch (m.op) {
	case KEEP_STARTED:
		s->pgid = m.val;
		r->spawned = true;
		break;
	case KEEP_EXEC_FAILED:
		fprintf(stderr, "baton: cannot run %s: %s\n", s->o->argv[0], strerror(m.val));
		s->exec_failed = true;
		r->spawned = false;
		r->exited = true;
		r->code = m.val == ENOENT ? 127 : 126;
		break;
	case KEEP_EXITED:
		s->status = m.val;
		break;
	case KEEP_TERM:
		if (m.val == KEEP_WHY_DEADLINE) {
			r->lost = true;
			fprintf(stderr, "baton: the lock's validity runs out with no renewal answered; "
			                "stopping the command (SIGTERM, SIGKILL before it ends)\n");
		} else if (s->o->verbose) {
			fprintf(stderr, "baton: the command exited; stopping what it left running\n");
		}
		break;
	case KEEP_GONE:
		s->gone = true;
		s->gone_at = now_ms();
		break;
	default:
		break;
	}
}

/* One round: wait up to 100 ms for output, loss or the keeper, then pass
 * on signals and the validity. Returns false when all is done. */
static bool supervise_once(supervisor *s, child_result *r)
{
	const child_opts *o = s->o;
	struct pollfd pf[4];
	int n = 0, out_i = -1, err_i = -1, lost_i = -1, st_i = -1;
	int64_t v;

	if (s->out_fd >= 0) {
		pf[n] = (struct pollfd){.fd = s->out_fd, .events = POLLIN};
		out_i = n++;
	}
	if (s->err_fd >= 0) {
		pf[n] = (struct pollfd){.fd = s->err_fd, .events = POLLIN};
		err_i = n++;
	}
	if (o->lost_fd >= 0 && !r->lost) {
		pf[n] = (struct pollfd){.fd = o->lost_fd, .events = POLLIN};
		lost_i = n++;
	}
	if (s->st_fd >= 0) {
		pf[n] = (struct pollfd){.fd = s->st_fd, .events = POLLIN};
		st_i = n++;
	}
	if (poll(pf, (nfds_t)n, 100) > 0) {
		if (out_i >= 0 && pf[out_i].revents && !pump_output(s->out_fd, STDOUT_FILENO, r)) {
			close(s->out_fd);
			s->out_fd = -1;
		}
		if (err_i >= 0 && pf[err_i].revents && !pump_output(s->err_fd, STDERR_FILENO, r)) {
			close(s->err_fd);
			s->err_fd = -1;
		}
		if (lost_i >= 0 && pf[lost_i].revents)
			on_lost(s, r);
		if (st_i >= 0 && pf[st_i].revents)
			on_status(s, r);
	}
	if (cli_signal != 0 && !s->gone) {
		/* The command has a process group of its own: the terminal's
		 * signal did not reach it, so pass on every one. */
		stop(s, cli_signal, now_ms() + o->kill_after_ms);
		cli_signal = 0;
	}
	v = r->lost ? s->valid_sent : valid_until(o);
	if (v != s->valid_sent) {
		tell(s, KEEP_VALID, 0, v);
		s->valid_sent = v;
	}
	/* After the end, drain the output briefly (every writer is gone). */
	return !s->gone || ((s->out_fd >= 0 || s->err_fd >= 0) && now_ms() - s->gone_at < 500);
}

/* Forks the keeper; the parent keeps ctl[1], st[0], out[0] and se[0]. */
static int start_keeper(supervisor *s, char **env, int ctl[2], int st[2], int out[2], int se[2])
{
	keeper_spec k = {.argv = s->o->argv,
	                 .env = env,
	                 .ctl_fd = ctl[0],
	                 .st_fd = st[1],
	                 .out_fd = out[1],
	                 .err_fd = se[1],
	                 .kill_after = s->o->kill_after_ms,
	                 .valid_until = valid_until(s->o)};

	s->valid_sent = k.valid_until;
	fflush(stdout);
	fflush(stderr);
	s->keeper = fork();
	if (s->keeper < 0)
		return -1;
	if (s->keeper == 0)
		keeper_run(&k);
	close(ctl[0]);
	close(st[1]);
	ctl[0] = st[1] = -1;
	if (out[1] >= 0)
		close(out[1]);
	out[1] = -1;
	close(se[1]);
	se[1] = -1;
	s->err_fd = se[0];
	se[0] = -1;
	s->ctl_fd = ctl[1];
	s->st_fd = st[0];
	s->out_fd = out[0];
	ctl[1] = st[0] = out[0] = -1;
	return 0;
}

int child_run(const child_opts *o, child_result *r)
{
	int ctl[2] = {-1, -1}, st[2] = {-1, -1}, out[2] = {-1, -1}, se[2] = {-1, -1}, rc = -1;
	char **env = build_env(o->env);
	supervisor s = {.o = o,
	                .keeper = -1,
	                .ctl_fd = -1,
	                .st_fd = -1,
	                .out_fd = -1,
	                .err_fd = -1,
	                .stop_sent = INT64_MAX,
	                .status = SIGKILL /* as if killed, until the keeper says */};

	memset(r, 0, sizeof *r);
	if (env == NULL || pipe2(ctl, O_CLOEXEC) != 0 || pipe2(st, O_CLOEXEC) != 0 ||
	    pipe2(se, O_CLOEXEC) != 0 || (o->share_output && pipe2(out, O_CLOEXEC) != 0)) {
		fprintf(stderr, "baton: cannot start the command: %s\n", strerror(errno));
		goto out;
	}
	if (start_keeper(&s, env, ctl, st, out, se) != 0) {
		fprintf(stderr, "baton: cannot fork: %s\n", strerror(errno));
		goto out;
	}
	while (supervise_once(&s, r))
		;
	if (!s.exec_failed) {
		r->exited = WIFEXITED(s.status);
		r->code = r->exited ? WEXITSTATUS(s.status) : 0;
		r->sig = WIFSIGNALED(s.status) ? WTERMSIG(s.status) : 0;
		r->spawned = true;
	}
	rc = 0;
out:
	if (s.ctl_fd >= 0)
		close(s.ctl_fd);
	if (s.keeper > 0)
		(void)waitpid(s.keeper, NULL, 0);
	for (int i = 0; i < 2; i++) {
		if (ctl[i] >= 0)
			close(ctl[i]);
		if (st[i] >= 0)
			close(st[i]);
		if (out[i] >= 0)
			close(out[i]);
		if (se[i] >= 0)
			close(se[i]);
	}
	if (s.st_fd >= 0)
		close(s.st_fd);
	if (s.out_fd >= 0)
		close(s.out_fd);
	if (s.err_fd >= 0)
		close(s.err_fd);
	free(env);
	return rc;
}
