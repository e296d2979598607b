/*
 * keeper.c - the keeper process of `baton run` (keeper.h).
 *
 * Owns the command's processes from exec to the last reap. It is the
 * command's parent and a child subreaper (PR_SET_CHILD_SUBREAPER), so every
 * descendant that loses its parent becomes its child, even one that left the
 * command's process group; it kills by group (kill(-pgid)) and, to reach
 * those even while their parent lives, every descendant it finds in /proc
 * (parent links, walked from itself). Rules:
 *   - end of file on the control pipe (baton died, whatever the signal):
 *     SIGKILL at once, again every round until nothing is left;
 *   - kill_after before the validity baton last sent runs out: SIGTERM, and
 *     SIGKILL when it runs out, whether or not baton still runs (a stopped
 *     or starved baton cannot renew, and cannot stop its command either);
 *   - KEEP_STOP from baton: that signal now, SIGKILL at the time it names
 *     (never later than the validity);
 *   - the command's own process exits while others of it live: SIGTERM to
 *     the rest, SIGKILL after kill_after.
 * It exits (KEEP_GONE) only when it has no child left.
 *
 * Runs in a child of fork() of a threaded process and never execs itself:
 * async-signal-safe calls only (no malloc, no stdio, no locks). Never
 * prints: it reports to baton over the status pipe.
 */
#define _GNU_SOURCE /* pipe2 */
#include "keeper.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define CLOSE_RANGE_CLOEXEC_ 4  /* <linux/close_range.h> CLOSE_RANGE_CLOEXEC */
#define ROUND_MS             50 /* the longest the keeper sleeps */

typedef struct keeper {
	const keeper_spec *k;
	pid_t pid;           /* the command, and its process group */
	int64_t valid_until; /* from baton */
	int64_t kill_at;     /* SIGKILL due; INT64_MAX: none */
	bool termed;         /* SIGTERM sent */
	bool killing;        /* SIGKILL sent: repeat it every round */
	bool ctl_open;
	bool child_done;
} keeper;

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void report(const keeper *kp, int32_t op, int32_t val)
{
	keeper_msg m = {.op = op, .val = val, .at = 0};

	(void)!write(kp->k->st_fd, &m, sizeof m); /* baton may be gone: EPIPE is ignored */
}

/* Closes every descriptor above stderr except the four the keeper uses. */
static void close_others(const keeper_spec *k)
{
	int keep[4] = {k->ctl_fd, k->st_fd, k->out_fd, k->err_fd}, from = 3;

	for (int i = 0; i < 4; i++) /* sort the four */
		for (int j = i + 1; j < 4; j++)
			if (keep[j] < keep[i]) {
				int t = keep[i];

				keep[i] = keep[j];
				keep[j] = t;
			}
	for (int i = 0; i < 4; i++) {
		if (keep[i] < from)
			continue;
		if (keep[i] > from)
			(void)syscall(SYS_close_range, (unsigned)from, (unsigned)keep[i] - 1, 0u);
		from = keep[i] + 1;
	}
	(void)syscall(SYS_close_range, (unsigned)from, ~0u, 0u);
}

/* Writes "/proc/<pid>/stat" into buf without snprintf (async-signal-safe). */
static void stat_path(char *buf, pid_t pid)
{
	char digits[16];
	int d = 0, n = 0;

	for (pid_t v = pid; v > 0 && d < 15; v /= 10)
		digits[d++] = (char)('0' + v % 10);
	for (const char *s = "/proc/"; *s; s++)
		buf[n++] = *s;
	while (d > 0)
		buf[n++] = digits[--d];
	for (const char *s = "/stat"; *s; s++)
		buf[n++] = *s;
	buf[n] = '\0';
}

/* The parent and process group of pid from /proc/<pid>/stat ("pid (comm)
 * S ppid pgrp ..."); *ppid 0 when unknown. */
static void parent_of(pid_t pid, pid_t *ppid, pid_t *pgrp)
{
	char path[48], buf[512];
	int fd, n;
	pid_t pp = 0, pg = 0;
	char *p = NULL;

	*ppid = *pgrp = 0;
	stat_path(path, pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = (int)read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	for (int i = 0; i < n; i++) /* the comm may hold ')' and spaces: take the last */
		if (buf[i] == ')')
			p = buf + i;
	if (p == NULL || p[1] != ' ' || p[2] == '\0' || p[3] != ' ')
		return;
	for (p += 4; *p >= '0' && *p <= '9'; p++)
		pp = pp * 10 + (*p - '0');
	if (*p == ' ')
		for (p++; *p >= '0' && *p <= '9'; p++)
			pg = pg * 10 + (*p - '0');
	*ppid = pp;
	*pgrp = pg;
}

struct dirent64_ { /* the kernel's linux_dirent64 */
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

#define TREE_MAX 8192

/* Every process, its parent and its group, from /proc (getdents64: no
 * allocation). Returns how many were found (at most TREE_MAX). */
static int list_processes(pid_t *pid, pid_t *ppid, pid_t *pgrp)
{
	char buf[8192];
	int dfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC), n = 0;
	long got;

	if (dfd < 0)
		return 0;
	while (n < TREE_MAX && (got = syscall(SYS_getdents64, dfd, buf, sizeof buf)) > 0)
		for (long off = 0; off < got && n < TREE_MAX;) {
			struct dirent64_ *d = (struct dirent64_ *)(void *)(buf + off);
			pid_t v = 0;
			const char *c = d->d_name;

			off += d->d_reclen;
			for (; *c >= '0' && *c <= '9'; c++)
				v = v * 10 + (*c - '0');
			if (*c != '\0' || v <= 0)
				continue;
			pid[n] = v;
			parent_of(v, &ppid[n], &pgrp[n]);
			n++;
		}
	close(dfd);
	return n;
}

/* Sends sig to the command's group and to every descendant of the keeper,
 * wherever its group or session: one that left the group (setsid) while
 * its parent lives is reached here, not only once it is re-parented to us. */
static void kill_all(const keeper *kp, int sig)
{
	static pid_t pid[TREE_MAX], ppid[TREE_MAX], pgrp[TREE_MAX];
	static bool mine[TREE_MAX];
	int n;
	bool more = true;
	pid_t self = getpid();

	(void)kill(-kp->pid, sig);
	n = list_processes(pid, ppid, pgrp);
	for (int i = 0; i < n; i++)
		mine[i] = false;
	while (more) { /* mark the keeper's descendants, generation by generation */
		more = false;
		for (int i = 0; i < n; i++) {
			bool parent_mine = ppid[i] == self;

			for (int j = 0; j < n && !parent_mine; j++)
				parent_mine = mine[j] && pid[j] == ppid[i];
			if (!mine[i] && parent_mine) {
				mine[i] = true;
				more = true;
				if (pgrp[i] != kp->pid) /* the group got it already: once each */
					(void)kill(pid[i], sig);
			}
		}
	}
}

static void term(keeper *kp, int sig, int32_t why, int64_t kill_at)
{
	if (!kp->termed || sig != SIGTERM) {
		kill_all(kp, sig);
		if (why != 0)
			report(kp, KEEP_TERM, why);
	}
	kp->termed = true;
	if (kill_at < kp->kill_at)
		kp->kill_at = kill_at;
	if (kp->valid_until < kp->kill_at)
		kp->kill_at = kp->valid_until;
}

static void on_ctl(keeper *kp)
{
	keeper_msg m;
	ssize_t n = read(kp->k->ctl_fd, &m, sizeof m);

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n != (ssize_t)sizeof m) {
		/* baton is gone: nobody holds the lock for the command now */
		kp->ctl_open = false;
		kp->kill_at = 0;
		return;
	}
	if (m.op == KEEP_VALID)
		kp->valid_until = m.at;
	else if (m.op == KEEP_STOP)
		term(kp, m.val, 0, m.at);
}

/* Reaps what has ended; returns false when the keeper has no child left. */
static bool reap(keeper *kp)
{
	int st;
	pid_t p;

	while ((p = waitpid(-1, &st, WNOHANG)) > 0)
		if (p == kp->pid) {
			kp->child_done = true;
			report(kp, KEEP_EXITED, st);
		}
	if (p < 0 && errno == ECHILD)
		return false;
	if (kp->child_done && !kp->termed) /* the rest of the command outlives it */
		term(kp, SIGTERM, KEEP_WHY_ENDED, mono_ms() + kp->k->kill_after);
	return true;
}

static void round_once(keeper *kp)
{
	int64_t now = mono_ms(), wake = now + ROUND_MS, term_at;
	struct pollfd pf = {.fd = kp->k->ctl_fd, .events = POLLIN};

	term_at = kp->valid_until == INT64_MAX ? INT64_MAX : kp->valid_until - kp->k->kill_after;
	if (!kp->termed && now >= term_at)
		term(kp, SIGTERM, KEEP_WHY_DEADLINE, kp->valid_until);
	if (now >= kp->kill_at || now >= kp->valid_until) {
		kill_all(kp, SIGKILL);
		if (!kp->killing)
			report(kp, KEEP_KILLED, 0);
		kp->killing = true;
	}
	if (!kp->termed && term_at < wake)
		wake = term_at;
	if (!kp->killing && kp->kill_at < wake)
		wake = kp->kill_at;
	if (!kp->killing && kp->valid_until < wake)
		wake = kp->valid_until;
	if (poll(&pf, kp->ctl_open ? 1 : 0, (int)(wake > now ? wake - now : 0)) > 0)
		on_ctl(kp);
}

/* In the command's process, before exec. */
static void exec_command(const keeper_spec *k, pid_t keeper_pid, int err_w)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGTSTP, SIGTTIN, SIGTTOU};
	int e;

	(void)setpgid(0, 0);
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL); /* the keeper itself killed */
	if (getppid() != keeper_pid)
		_exit(127);
	if ((k->out_fd >= 0 && dup2(k->out_fd, STDOUT_FILENO) < 0) ||
	    (k->err_fd >= 0 && dup2(k->err_fd, STDERR_FILENO) < 0))
		_exit(127);
	for (unsigned i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		signal(sigs[i], SIG_DFL);
	if (syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC_) != 0)
		for (int fd = 3; fd < 4096; fd++)
			(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	environ = k->env;
	execvp(k->argv[0], k->argv);
	e = errno;
	(void)!write(err_w, &e, sizeof e);
	_exit(e == ENOENT ? 127 : 126);
}

void keeper_run(const keeper_spec *k)
{
	static const int ign[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGTSTP};
	keeper kp = {.k = k, .valid_until = k->valid_until, .kill_at = INT64_MAX, .ctl_open = true};
	int errp[2], e;
	sigset_t none;

	/* A process group of its own: a signal to baton's group (a terminal's
	 * ^C, kill -STOP -PGID) leaves it free to act; baton coordinates the
	 * stop. */
	(void)setpgid(0, 0);
	for (unsigned i = 0; i < sizeof ign / sizeof ign[0]; i++)
		signal(ign[i], SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	close_others(k);
	(void)prctl(PR_SET_CHILD_SUBREAPER, 1);
	if (pipe2(errp, O_CLOEXEC) != 0) {
		report(&kp, KEEP_EXEC_FAILED, errno);
		_exit(1);
	}
	kp.pid = fork();
	if (kp.pid < 0) {
		report(&kp, KEEP_EXEC_FAILED, errno);
		_exit(1);
	}
	if (kp.pid == 0)
		exec_command(k, getppid(), errp[1]);
	(void)setpgid(kp.pid, kp.pid); /* either side may run first */
	close(errp[1]);
	if (k->out_fd >= 0)
		close(k->out_fd);
	if (k->err_fd >= 0)
		close(k->err_fd);
	report(&kp, KEEP_STARTED, kp.pid);
	if (read(errp[0], &e, sizeof e) == (ssize_t)sizeof e)
		report(&kp, KEEP_EXEC_FAILED, e);
	close(errp[0]);
	while (reap(&kp))
		round_once(&kp);
	report(&kp, KEEP_GONE, 0);
	_exit(0);
}
