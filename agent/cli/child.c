/*
 * child.c - runs and supervises the command of `baton run`.
 *
 * Owns the child process from fork to reaping: its environment (ours plus
 * the BATON_* variables), its descriptors (every inherited one above stderr
 * is closed at exec, so a command outliving us never keeps our broker
 * connection, and with it our Will, alive), the capture of its stdout tail and of its stderr tail (for the
 * failure's error), forwarding of signals sent to us with kill(), and SIGTERM then SIGKILL when the lock is
 * lost. Prints only its own diagnostics to stderr and the command's output to stdout.
 */
#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

extern char **environ;

#define CLOSE_RANGE_CLOEXEC_ 4 /* <linux/close_range.h> CLOSE_RANGE_CLOEXEC */

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

/* In the child, between fork and exec: async-signal-safe calls only. */
static void exec_child(const child_opts *o, char **env, int out_w, int stderr_w, int err_w)
{
	int e;

	if ((out_w >= 0 && dup2(out_w, STDOUT_FILENO) < 0) ||
	    (stderr_w >= 0 && dup2(stderr_w, STDERR_FILENO) < 0))
		_exit(127);
	signal(SIGPIPE, SIG_DFL);
	if (syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC_) != 0)
		for (int fd = 3; fd < 4096; fd++)
			(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	environ = env;
	execvp(o->argv[0], o->argv);
	e = errno;
	(void)!write(err_w, &e, sizeof e);
	_exit(e == ENOENT ? 127 : 126);
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
	pid_t pid;
	int out_fd;      /* -1 when not capturing or at EOF */
	int err_fd;      /* the command's stderr; -1 at EOF */
	int64_t kill_at; /* SIGKILL due, 0: none */
	bool reaped;
	int64_t reaped_at;
	int status;
	int pidfd; /* readable when the child exits (Linux 5.3+); -1: poll every 100 ms */
} supervisor;

static void on_lost(const child_opts *o, supervisor *s, child_result *r)
{
	char byte;

	(void)!read(o->lost_fd, &byte, 1);
	if (r->lost || s->reaped)
		return;
	r->lost = true;
	fprintf(stderr, "baton: lock lost while the command ran; stopping it (SIGTERM, SIGKILL in %ds)\n",
	        CHILD_GRACE_MS / 1000);
	kill(s->pid, SIGTERM);
	s->kill_at = now_ms() + CHILD_GRACE_MS;
}

/* One round: wait up to 100 ms for output or loss, then check signals,
 * the kill deadline and the child. Returns false when all is done. */
static bool supervise_once(const child_opts *o, supervisor *s, child_result *r)
{
	struct pollfd pf[4];
	int n = 0, out_i = -1, err_i = -1, lost_i = -1;

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
	if (s->pidfd >= 0 && !s->reaped)
		pf[n++] = (struct pollfd){.fd = s->pidfd, .events = POLLIN};
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
			on_lost(o, s, r);
	}
	if (cli_signal != 0 && !s->reaped) {
		/* The terminal already signalled the command; forward only kill(). */
		if (cli_signal_user)
			kill(s->pid, cli_signal);
		cli_signal = 0;
	}
	if (s->kill_at != 0 && now_ms() >= s->kill_at && !s->reaped) {
		kill(s->pid, SIGKILL);
		s->kill_at = 0;
	}
	if (!s->reaped && waitpid(s->pid, &s->status, WNOHANG) == s->pid) {
		s->reaped = true;
		s->reaped_at = now_ms();
	}
	/* After the exit, drain the output briefly: a background grandchild
	 * may hold the pipe open forever. */
	return !s->reaped || ((s->out_fd >= 0 || s->err_fd >= 0) && now_ms() - s->reaped_at < 500);
}

static void set_cloexec(int fd)
{
	(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
}

int child_run(const child_opts *o, child_result *r)
{
	int out[2] = {-1, -1}, se[2] = {-1, -1}, errp[2] = {-1, -1}, e, rc = -1;
	char **env = build_env(o->env);
	supervisor s = {.pid = -1, .out_fd = -1, .err_fd = -1, .pidfd = -1};

	memset(r, 0, sizeof *r);
	if (env == NULL || pipe(errp) != 0 || pipe(se) != 0 || (o->share_output && pipe(out) != 0)) {
		fprintf(stderr, "baton: cannot start the command: %s\n", strerror(errno));
		goto out;
	}
	set_cloexec(errp[0]);
	set_cloexec(errp[1]);
	set_cloexec(se[0]);
	set_cloexec(se[1]);
	if (out[0] >= 0) {
		set_cloexec(out[0]);
		set_cloexec(out[1]);
	}
	fflush(stdout);
	s.pid = fork();
	if (s.pid < 0) {
		fprintf(stderr, "baton: cannot fork: %s\n", strerror(errno));
		goto out;
	}
	if (s.pid == 0)
		exec_child(o, env, out[1], se[1], errp[1]);
	close(errp[1]);
	errp[1] = -1;
	close(se[1]);
	se[1] = -1;
	s.err_fd = se[0];
	se[0] = -1;
	if (out[1] >= 0) {
		close(out[1]);
		out[1] = -1;
	}
	s.out_fd = out[0];
	out[0] = -1;
	if (read(errp[0], &e, sizeof e) == (ssize_t)sizeof e) {
		fprintf(stderr, "baton: cannot run %s: %s\n", o->argv[0], strerror(e));
		waitpid(s.pid, &s.status, 0);
		r->exited = true;
		r->code = e == ENOENT ? 127 : 126;
		rc = 0;
		goto out;
	}
	r->spawned = true;
	s.pidfd = (int)syscall(SYS_pidfd_open, s.pid, 0);
	while (supervise_once(o, &s, r))
		;
	r->exited = WIFEXITED(s.status);
	r->code = r->exited ? WEXITSTATUS(s.status) : 0;
	r->sig = WIFSIGNALED(s.status) ? WTERMSIG(s.status) : 0;
	rc = 0;
out:
	for (int i = 0; i < 2; i++) {
		if (out[i] >= 0)
			close(out[i]);
		if (errp[i] >= 0)
			close(errp[i]);
		if (se[i] >= 0)
			close(se[i]);
	}
	if (s.out_fd >= 0)
		close(s.out_fd);
	if (s.err_fd >= 0)
		close(s.err_fd);
	if (s.pidfd >= 0)
		close(s.pidfd);
	free(env);
	return rc;
}
