/*
 * bench_e2e.c - end-to-end benchmark of Baton against the physical floor
 * (a raw MQTT QoS 1 request/reply through the same mosquitto) and against a
 * Redis lock, on paho MQTTAsync, MQTT 3.1.1, TCP_NODELAY on every socket.
 *
 * One binary, several modes; bench/run starts mosquitto, the echo process,
 * the coordinators and redis-server, calls the modes and prints the table:
 *   echo        the floor's far end, a separate process: republishes every
 *               message on E/req/<node> to E/rep/<node> (QoS 1).
 *   latency     sequential round trips, repetitions interleaved so that
 *               every row is measured side by side: the floor, acquire and
 *               acquire+release through an in-memory and a durable
 *               coordinator, failure handoff (holder's release success:false
 *               to the waiter's granted), Will handoff (holder's TCP socket
 *               shut down to the waiter's granted), and Redis.
 *   throughput  C connections x S outstanding cycles each, for T seconds:
 *               lock cycles/s against the echo's request/reply ceiling at the
 *               same concurrency (one echo cycle = two round trips, as one
 *               lock cycle is acquire->granted + release->released), and CPU
 *               seconds of broker, coordinator and echo per 10k cycles from
 *               /proc/PID/stat.
 *   scale       preloads remembered successes (1k, 100k, 1M) and then held
 *               locks through the wire, as fast as a bounded pipeline
 *               allows; after each step the acquire p50 and the
 *               coordinator's VmRSS.
 *   hold        preloads N held locks (for the restart-recovery measurement).
 *   willholder  the Will handoff's holder, a child process of latency mode.
 *   recover     starts the coordinator command given after --, and times
 *               its start until its retained online presence arrives.
 * Every loop is bounded by a count and a deadline; times are taken in paho's
 * message callback, when the answer arrives.
 * This file owns option parsing, signals, and the echo and recover modes;
 * the plumbing is bench_mq.c, latency/willholder bench_latency.c, throughput/
 * scale/hold bench_load.c. A new measurement goes beside its kind there, not
 * here.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <MQTTAsync.h>

#include "bench_e2e.h"
#include "names.h"

volatile sig_atomic_t be_stop;

static void on_stop_signal(int s)
{
	(void)s;
	be_stop = 1;
}

/* ---- recover mode -------------------------------------------------------- */

/* Starts o->cmd, writes its pid to o->pidfile, and times how long until the
 * coordinator's retained presence says online:true. The caller stops it. */
static int mode_recover(const be_opts *o)
{
	mq m;
	char id[64], topic[NAMES_TOPIC_MAX + 1];
	snprintf(id, sizeof id, "bench-recover-%d", (int)getpid());
	if (names_topic(topic, sizeof topic, o->prefix, NAMES_COORDINATOR, NULL, NULL) != BATON_OK)
		return 2;
	if (!mq_open(&m, o->uri, id, NULL, NULL, NULL, NULL) || !mq_sub(&m, topic))
		return 1;
	/* Drain the retained online:false the stopped coordinator left. */
	mq_msg msg;
	while (mq_next(&m, &msg, 300))
		;
	int64_t t0 = be_mono_ns();
	pid_t pid = fork();
	if (pid == 0) {
		/* Our stdout is the caller's pipe: the coordinator must not hold it open. */
		dup2(STDERR_FILENO, STDOUT_FILENO);
		be_close_from(3);
		execv(o->cmd[0], o->cmd);
		_exit(127);
	}
	if (pid < 0)
		return 1;
	if (o->pidfile != NULL) {
		FILE *f = fopen(o->pidfile, "w");
		if (f != NULL) {
			fprintf(f, "%d\n", (int)pid);
			fclose(f);
		}
	}
	double ms = -1;
	int64_t until = t0 + 120 * 1000000000LL;
	/* A quiet second is not the end: the coordinator may still be probing
	 * the prefix for another instance before it announces itself. Wait for
	 * the deadline, or until the coordinator exits. */
	while (be_mono_ns() < until && !be_stop) {
		if (!mq_next(&m, &msg, 1000)) {
			int st;
			if (waitpid(pid, &st, WNOHANG) == pid)
				break;
			continue;
		}
		if (strstr(msg.payload, "\"online\":true") != NULL) {
			ms = be_ms_between(t0, msg.t_ns);
			break;
		}
	}
	if (ms < 0) {
		int st;
		if (waitpid(pid, &st, WNOHANG) == pid)
			fprintf(stderr, "bench: the coordinator exited during recovery\n");
	}
	printf("%.1f\n", ms);
	mq_close(&m);
	return ms >= 0 ? 0 : 1;
}

/* ---- echo mode ---------------------------------------------------------- */

static void echo_on_msg(void *ctx, mq *m, const char *topic, const char *payload, size_t len, int64_t t_ns)
{
	const char *prefix = ctx;
	(void)t_ns;
	/* The floor's reply topic, P/rep/<node>, is the benchmark's own, not
	 * Baton's: it mirrors P/req/<node> by hand on purpose, at no cost. */
	size_t pl = strlen(prefix);
	if (strncmp(topic, prefix, pl) != 0 || strncmp(topic + pl, "/req/", 5) != 0)
		return;
	char t[256];
	snprintf(t, sizeof t, "%s/rep/%s", prefix, topic + pl + 5);
	MQTTAsync_send(m->c, t, (int)len, payload, 1, 0, NULL);
}

static int mode_echo(const be_opts *o)
{
	mq m;
	char id[64], sub[NAMES_TOPIC_MAX + 1];
	snprintf(id, sizeof id, "bench-echo-%d", (int)getpid());
	if (names_filter(sub, sizeof sub, o->echo, NAMES_REQ, NULL, NULL) != BATON_OK)
		return 2;
	if (!mq_open(&m, o->uri, id, NULL, NULL, echo_on_msg, (void *)o->echo) || !mq_sub(&m, sub))
		return 1;
	printf("echo ready\n");
	fflush(stdout);
	/* Bounded: at most --seconds (default 4 h), or until SIGTERM/SIGINT. */
	int64_t life = o->seconds > 0 ? o->seconds : 4 * 3600;
	for (int64_t end = be_mono_ns() + life * 1000000000LL; !be_stop && be_mono_ns() < end;)
		be_sleep_ms(50);
	mq_close(&m);
	return 0;
}

/* ---- options and main ---------------------------------------------------- */

static void usage(void)
{
	fprintf(
	    stderr,
	    "usage: bench_e2e MODE --broker URI [options]\n"
	    "  echo       --echo E [--seconds S]\n"
	    "  latency    --echo E --mem P1 --dur P2 [--n N --handoffs H --wills W --reps R --redis "
	    "HOST:PORT]\n"
	    "  ab         --echo E --mem A --dur B --a-name TEXT --b-name TEXT [--n N --reps R]\n"
	    "  throughput --echo E --prefix P --broker-pid B --coord-pid C --echo-pid E [--conns C --slots S "
	    "--seconds T --reps R]\n"
	    "  scale      --echo E --prefix P --coord-pid C --broker-pid B [--steps 1000,100000,1000000 "
	    "--held N "
	    "--n N --reps R]\n"
	    "  hold       --prefix P --count N\n"
	    "  recover    --prefix P --pidfile F -- COORDINATOR ARGS...\n"
	    "Normally started by bench/run, which starts the broker and the coordinators.\n");
}

static bool parse(int argc, char **argv, be_opts *o)
{
	*o = (be_opts){.n = 2000,
	               .handoffs = 500,
	               .wills = 30,
	               .reps = 5,
	               .conns = 16,
	               .slots = 1,
	               .seconds = 0,
	               .steps = "1000,100000,1000000",
	               .held = 100000,
	               .hold_count = 100000};
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--") == 0) {
			o->cmd = argv + i + 1;
			return o->cmd[0] != NULL;
		}
		if (v == NULL)
			return false;
		i++;
		if (strcmp(a, "--broker") == 0)
			o->uri = v;
		else if (strcmp(a, "--echo") == 0)
			o->echo = v;
		else if (strcmp(a, "--mem") == 0)
			o->mem = v;
		else if (strcmp(a, "--dur") == 0)
			o->dur = v;
		else if (strcmp(a, "--prefix") == 0)
			o->prefix = v;
		else if (strcmp(a, "--redis") == 0)
			o->redis = v;
		else if (strcmp(a, "--pidfile") == 0)
			o->pidfile = v;
		else if (strcmp(a, "--steps") == 0)
			o->steps = v;
		else if (strcmp(a, "--a-name") == 0)
			o->a_name = v;
		else if (strcmp(a, "--b-name") == 0)
			o->b_name = v;
		else {
			int *f = strcmp(a, "--n") == 0            ? &o->n
			         : strcmp(a, "--handoffs") == 0   ? &o->handoffs
			         : strcmp(a, "--wills") == 0      ? &o->wills
			         : strcmp(a, "--reps") == 0       ? &o->reps
			         : strcmp(a, "--conns") == 0      ? &o->conns
			         : strcmp(a, "--slots") == 0      ? &o->slots
			         : strcmp(a, "--seconds") == 0    ? &o->seconds
			         : strcmp(a, "--held") == 0       ? &o->held
			         : strcmp(a, "--count") == 0      ? &o->hold_count
			         : strcmp(a, "--broker-pid") == 0 ? &o->broker_pid
			         : strcmp(a, "--coord-pid") == 0  ? &o->coord_pid
			         : strcmp(a, "--echo-pid") == 0   ? &o->echo_pid
			                                          : NULL;
			if (f == NULL)
				return false;
			*f = atoi(v);
		}
	}
	if (o->reps < 1)
		o->reps = 1;
	if (o->reps > BE_MAX_REPS)
		o->reps = BE_MAX_REPS;
	if (o->n < 1 || o->handoffs < 1 || o->wills < 1 || o->conns < 1 || o->slots < 1 || o->seconds < 0)
		return false;
	return o->uri != NULL;
}

int main(int argc, char **argv)
{
	be_opts o;
	if (argc < 2 || !parse(argc, argv, &o)) {
		usage();
		return 2;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (!mq_broker_resolve(o.uri)) {
		fprintf(stderr, "bench: cannot resolve %s\n", o.uri);
		return 2;
	}
	const char *mode = argv[1];
	int rc = 2;
	if (strcmp(mode, "echo") != 0 && o.seconds == 0)
		o.seconds = 5;
	if (strcmp(mode, "echo") == 0 && o.echo)
		rc = mode_echo(&o);
	else if (strcmp(mode, "latency") == 0 && o.echo && o.mem && o.dur)
		rc = be_mode_latency(&o);
	else if (strcmp(mode, "ab") == 0 && o.echo && o.mem && o.dur && o.a_name && o.b_name)
		rc = be_mode_ab(&o);
	else if (strcmp(mode, "throughput") == 0 && o.echo && o.prefix)
		rc = be_mode_throughput(&o);
	else if (strcmp(mode, "scale") == 0 && o.echo && o.prefix)
		rc = be_mode_scale(&o);
	else if (strcmp(mode, "hold") == 0 && o.prefix)
		rc = be_mode_hold(&o);
	else if (strcmp(mode, "willholder") == 0 && o.prefix)
		rc = be_mode_willholder(o.uri, o.prefix);
	else if (strcmp(mode, "recover") == 0 && o.prefix && o.cmd)
		rc = mode_recover(&o);
	else
		usage();
	mq_broker_forget();
	return rc;
}
