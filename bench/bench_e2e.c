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
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <MQTTAsync.h>
#include <cjson/cJSON.h>

#include "bench_e2e.h"

#define MSG_MAX   2048
#define QUEUE_LEN 64
#define WAIT_MS   10000

static volatile sig_atomic_t stop_flag;

static void on_stop_signal(int s)
{
	(void)s;
	stop_flag = 1;
}

int64_t be_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* ---- statistics --------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double pct_of(const double *sorted, size_t n, double q)
{
	size_t i = (size_t)ceil(q * (double)n);
	return sorted[i == 0 ? 0 : i - 1 < n ? i - 1 : n - 1];
}

void be_series_add(be_series *s, double *v, size_t n)
{
	if (n == 0 || s->nreps >= BE_MAX_REPS)
		return;
	qsort(v, n, sizeof *v, cmp_double);
	s->p[s->nreps][0] = pct_of(v, n, 0.50);
	s->p[s->nreps][1] = pct_of(v, n, 0.90);
	s->p[s->nreps][2] = pct_of(v, n, 0.99);
	s->samples = n;
	s->nreps++;
}

bool be_series_stat(const be_series *s, int k, double *med, double *min, double *max)
{
	double v[BE_MAX_REPS];
	if (s->nreps == 0)
		return false;
	for (int i = 0; i < s->nreps; i++)
		v[i] = s->p[i][k];
	qsort(v, (size_t)s->nreps, sizeof *v, cmp_double);
	*med = s->nreps % 2 ? v[s->nreps / 2] : (v[s->nreps / 2 - 1] + v[s->nreps / 2]) / 2;
	*min = v[0];
	*max = v[s->nreps - 1];
	return true;
}

static void print_cell(double med, double min, double max)
{
	printf(" %.3f (%.3f-%.3f) |", med, min, max);
}

void be_print_row(const be_series *s, const be_series *floor)
{
	double med, min, max, f, fmin, fmax;
	printf("| %s |", s->name);
	for (int k = 0; k < 3; k++) {
		if (be_series_stat(s, k, &med, &min, &max))
			print_cell(med, min, max);
		else
			printf(" n/a |");
	}
	if (floor != NULL && be_series_stat(s, 0, &med, &min, &max) &&
	    be_series_stat(floor, 0, &f, &fmin, &fmax) && f > 0)
		printf(" %.2fx |", med / (f * (s->hops > 1 ? s->hops : 1)));
	else
		printf(" |");
	printf(" %zu x %d |\n", s->samples, s->nreps);
}

/* Median, min and max of plain per-repetition values. */
static void med3(const double *v, int n, double *med, double *min, double *max)
{
	double w[BE_MAX_REPS];
	memcpy(w, v, (size_t)n * sizeof *v);
	qsort(w, (size_t)n, sizeof *w, cmp_double);
	*med = n % 2 ? w[n / 2] : (w[n / 2 - 1] + w[n / 2]) / 2;
	*min = w[0];
	*max = w[n - 1];
}

/* ---- /proc -------------------------------------------------------------- */

/* utime + stime of pid in seconds, or -1. */
static double proc_cpu_s(int pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return -1;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	unsigned long ut = 0, st = 0;
	/* after ')': state(3) ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime(14) stime
	 */
	if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* VmRSS of pid in kB, or -1. */
static long proc_rss_kb(int pid)
{
	char path[64], line[256];
	long kb = -1;
	snprintf(path, sizeof path, "/proc/%d/status", pid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* ---- sockets: TCP_NODELAY and finding a client's socket ------------------ */

typedef struct peer {
	struct addrinfo *ai;
} peer;

static bool peer_resolve(peer *p, const char *uri)
{
	char host[256], port[16];
	const char *s = strstr(uri, "://");
	s = s ? s + 3 : uri;
	const char *colon = strrchr(s, ':');
	if (colon == NULL)
		return false;
	snprintf(host, sizeof host, "%.*s", (int)(colon - s), s);
	snprintf(port, sizeof port, "%s", colon + 1);
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
	return getaddrinfo(host, port, &hints, &p->ai) == 0;
}

static bool is_peer(int fd, const peer *p)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	if (getpeername(fd, (struct sockaddr *)&ss, &len) != 0)
		return false;
	for (const struct addrinfo *ai = p->ai; ai != NULL; ai = ai->ai_next) {
		if (ss.ss_family != ai->ai_family || ss.ss_family != AF_INET)
			continue;
		const struct sockaddr_in *x = (const void *)&ss, *y = (const void *)ai->ai_addr;
		if (x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr)
			return true;
	}
	return false;
}

/* Fills fds with our open sockets connected to p (at most cap); returns how many. */
static size_t peer_fds(const peer *p, int *fds, size_t cap)
{
	size_t n = 0;
	DIR *d = opendir("/proc/self/fd");
	for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL && n < cap;) {
		int fd = atoi(e->d_name);
		if (fd > 2 && is_peer(fd, p))
			fds[n++] = fd;
	}
	if (d != NULL)
		closedir(d);
	return n;
}

/* ---- an MQTT client ------------------------------------------------------ */

typedef struct mq_msg {
	int64_t t_ns;
	char topic[256];
	size_t len;
	char payload[MSG_MAX];
} mq_msg;

typedef struct mq mq;
/* Runs on a paho thread with paho's lock held: publish at most, never wait. */
typedef void (*mq_handler)(void *ctx, mq *m, const char *topic, const char *payload, size_t len,
                           int64_t t_ns);

struct mq {
	MQTTAsync c;
	char id[65];
	int fd;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int state; /* 0 connecting, 1 connected, -1 failed, 2 lost */
	int acks;  /* subscribe acks */
	uint64_t dropped;
	mq_handler h;
	void *hctx;
	mq_msg *q;
	unsigned qh, qt;
};

static peer broker_peer;

static int mq_arrived(void *ctx, char *topic, int tlen, MQTTAsync_message *msg)
{
	mq *m = ctx;
	int64_t t = be_mono_ns();
	size_t len = msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0;
	if (m->h != NULL) {
		char buf[MSG_MAX];
		len = len < sizeof buf - 1 ? len : sizeof buf - 1;
		memcpy(buf, msg->payload, len);
		buf[len] = '\0';
		m->h(m->hctx, m, topic, buf, len, t);
	} else {
		pthread_mutex_lock(&m->mu);
		if (m->qt - m->qh < QUEUE_LEN) {
			mq_msg *e = &m->q[m->qt % QUEUE_LEN];
			e->t_ns = t;
			snprintf(e->topic, sizeof e->topic, "%s", topic);
			e->len = len < MSG_MAX - 1 ? len : MSG_MAX - 1;
			memcpy(e->payload, msg->payload, e->len);
			e->payload[e->len] = '\0';
			m->qt++;
			pthread_cond_broadcast(&m->cv);
		} else {
			m->dropped++;
		}
		pthread_mutex_unlock(&m->mu);
	}
	(void)tlen;
	MQTTAsync_freeMessage(&msg);
	MQTTAsync_free(topic);
	return 1;
}

static void mq_set_state(mq *m, int st)
{
	pthread_mutex_lock(&m->mu);
	m->state = st;
	pthread_cond_broadcast(&m->cv);
	pthread_mutex_unlock(&m->mu);
}

static void mq_lost(void *ctx, char *cause)
{
	(void)cause;
	mq_set_state(ctx, 2);
}

static void mq_conn_ok(void *ctx, MQTTAsync_successData *d)
{
	(void)d;
	mq_set_state(ctx, 1);
}

static void mq_conn_fail(void *ctx, MQTTAsync_failureData *d)
{
	(void)d;
	mq_set_state(ctx, -1);
}

static void mq_sub_ok(void *ctx, MQTTAsync_successData *d)
{
	(void)d;
	mq *m = ctx;
	pthread_mutex_lock(&m->mu);
	m->acks++;
	pthread_cond_broadcast(&m->cv);
	pthread_mutex_unlock(&m->mu);
}

static void deadline_in(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* Waits until *field != unwanted (under m->mu); false on timeout. */
static bool mq_wait_int(mq *m, const int *field, int unwanted, int timeout_ms)
{
	struct timespec until;
	deadline_in(&until, timeout_ms);
	pthread_mutex_lock(&m->mu);
	while (*field == unwanted)
		if (pthread_cond_timedwait(&m->cv, &m->mu, &until) == ETIMEDOUT)
			break;
	bool ok = *field != unwanted;
	pthread_mutex_unlock(&m->mu);
	return ok;
}

/* Starts connecting m as client id `id` (with an optional retained QoS 1
 * Will); mq_end waits for it. paho serves every client of a process from one
 * receive thread whose select() notices a new socket only when its 1 s
 * timeout ends, so a process opens its clients in a batch: all begins, then
 * all ends (one second for the batch, not per client). */
static bool mq_begin(mq *m, const char *uri, const char *id, const char *will_topic, const char *will_payload,
                     mq_handler h, void *hctx)
{
	memset(m, 0, sizeof *m);
	snprintf(m->id, sizeof m->id, "%s", id);
	m->fd = -1;
	m->h = h;
	m->hctx = hctx;
	pthread_mutex_init(&m->mu, NULL);
	pthread_cond_init(&m->cv, NULL);
	if (h == NULL && (m->q = calloc(QUEUE_LEN, sizeof *m->q)) == NULL)
		return false;
	MQTTAsync_createOptions co = MQTTAsync_createOptions_initializer;
	co.MQTTVersion = MQTTVERSION_3_1_1;
	co.maxBufferedMessages = 1 << 20;
	if (MQTTAsync_createWithOptions(&m->c, uri, id, MQTTCLIENT_PERSISTENCE_NONE, NULL, &co) !=
	        MQTTASYNC_SUCCESS ||
	    MQTTAsync_setCallbacks(m->c, m, mq_lost, mq_arrived, NULL) != MQTTASYNC_SUCCESS)
		return false;
	MQTTAsync_connectOptions o = MQTTAsync_connectOptions_initializer;
	MQTTAsync_willOptions w = MQTTAsync_willOptions_initializer;
	o.keepAliveInterval = 30;
	o.cleansession = 1;
	o.MQTTVersion = MQTTVERSION_3_1_1;
	o.onSuccess = mq_conn_ok;
	o.onFailure = mq_conn_fail;
	o.context = m;
	if (will_topic != NULL) {
		w.topicName = will_topic;
		w.message = will_payload;
		w.qos = 1;
		w.retained = 1;
		o.will = &w;
	}
	return MQTTAsync_connect(m->c, &o) == MQTTASYNC_SUCCESS;
}

/* Waits for mq_begin's connect, then sets TCP_NODELAY on every socket of
 * ours whose peer is the broker (as coordinator/broker.c does: paho 1.3.12
 * hides its socket). When this process has exactly one such socket, it is
 * m's: m->fd. Returns false on failure. */
static bool mq_end(mq *m)
{
	if (!mq_wait_int(m, &m->state, 0, WAIT_MS) || m->state != 1) {
		fprintf(stderr, "bench: %s cannot connect\n", m->id);
		return false;
	}
	int fds[1024];
	size_t n = peer_fds(&broker_peer, fds, 1024);
	for (size_t i = 0; i < n; i++) {
		int one = 1;
		setsockopt(fds[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	}
	m->fd = n == 1 ? fds[0] : -1;
	return true;
}

static bool mq_open(mq *m, const char *uri, const char *id, const char *will_topic, const char *will_payload,
                    mq_handler h, void *hctx)
{
	return mq_begin(m, uri, id, will_topic, will_payload, h, hctx) && mq_end(m);
}

static bool mq_sub(mq *m, const char *filter)
{
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
	ro.onSuccess = mq_sub_ok;
	ro.context = m;
	pthread_mutex_lock(&m->mu);
	int want = m->acks;
	pthread_mutex_unlock(&m->mu);
	if (MQTTAsync_subscribe(m->c, filter, 1, &ro) != MQTTASYNC_SUCCESS)
		return false;
	return mq_wait_int(m, &m->acks, want, WAIT_MS);
}

static bool mq_pub(mq *m, const char *topic, const char *payload, bool retained)
{
	int rc = MQTTAsync_send(m->c, topic, (int)strlen(payload), payload, 1, retained ? 1 : 0, NULL);
	if (rc != MQTTASYNC_SUCCESS && m->h == NULL)
		fprintf(stderr, "bench: %s: publish to %s failed: %s\n", m->id, topic,
		        MQTTAsync_strerror(rc));
	return rc == MQTTASYNC_SUCCESS;
}

/* Takes the next queued message; false after timeout_ms without one. */
static bool mq_next(mq *m, mq_msg *out, int timeout_ms)
{
	struct timespec until;
	deadline_in(&until, timeout_ms);
	pthread_mutex_lock(&m->mu);
	while (m->qh == m->qt)
		if (pthread_cond_timedwait(&m->cv, &m->mu, &until) == ETIMEDOUT)
			break;
	bool ok = m->qh != m->qt;
	if (ok)
		*out = m->q[m->qh++ % QUEUE_LEN];
	pthread_mutex_unlock(&m->mu);
	return ok;
}

static void mq_close(mq *m)
{
	if (m->c != NULL) {
		if (m->state == 1) {
			MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer;
			d.timeout = 1000;
			MQTTAsync_disconnect(m->c, &d);
			for (int i = 0; i < 200 && MQTTAsync_isConnected(m->c); i++)
				sleep_ms(5);
		}
		MQTTAsync_destroy(&m->c);
	}
	free(m->q);
	pthread_mutex_destroy(&m->mu);
	pthread_cond_destroy(&m->cv);
	memset(m, 0, sizeof *m);
}

/* ---- answers ------------------------------------------------------------ */

typedef struct answer {
	char status[16];
	char id[72];
	uint64_t token;
	int64_t t_ns;
} answer;

static bool parse_answer(const char *payload, answer *a)
{
	cJSON *j = cJSON_Parse(payload);
	if (j == NULL)
		return false;
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "status");
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id");
	const cJSON *tok = cJSON_GetObjectItemCaseSensitive(j, "token");
	snprintf(a->status, sizeof a->status, "%s", cJSON_IsString(st) ? st->valuestring : "");
	snprintf(a->id, sizeof a->id, "%s", cJSON_IsString(id) ? id->valuestring : "");
	a->token = cJSON_IsNumber(tok) ? (uint64_t)tok->valuedouble : 0;
	cJSON_Delete(j);
	return true;
}

/* Waits for the answer to request `id` on m's queue; true if its status is
 * `want`. Answers to other ids are skipped (bounded by the deadline). */
static bool wait_answer(mq *m, const char *id, const char *want, answer *a)
{
	mq_msg msg;
	int64_t until = be_mono_ns() + (int64_t)WAIT_MS * 1000000;
	while (be_mono_ns() < until && mq_next(m, &msg, WAIT_MS)) {
		if (!parse_answer(msg.payload, a) || strcmp(a->id, id) != 0)
			continue;
		a->t_ns = msg.t_ns;
		if (strcmp(a->status, want) == 0)
			return true;
		fprintf(stderr, "bench: %s: request %s answered %s, wanted %s: %s\n", m->id, id, a->status,
		        want, msg.payload);
		return false;
	}
	fprintf(stderr, "bench: %s: no answer to %s within %d ms\n", m->id, id, WAIT_MS);
	return false;
}

static void topic_of(char *buf, size_t cap, const char *prefix, const char *kind, const char *node)
{
	snprintf(buf, cap, "%s/%s/%s", prefix, kind, node);
}

static bool send_acquire(mq *m, const char *prefix, const char *id, const char *res, const char *mode,
                         int lease_ms)
{
	char t[256], p[512];
	topic_of(t, sizeof t, prefix, "req", m->id);
	snprintf(
	    p, sizeof p,
	    "{\"v\":1,\"op\":\"acquire\",\"id\":\"%s\",\"resource\":\"%s\",\"mode\":\"%s\",\"lease_ms\":%d}",
	    id, res, mode, lease_ms);
	return mq_pub(m, t, p, false);
}

static bool send_release(mq *m, const char *prefix, const char *id, const char *res, uint64_t token,
                         bool success, const char *extra)
{
	char t[256], p[512];
	topic_of(t, sizeof t, prefix, "req", m->id);
	snprintf(
	    p, sizeof p,
	    "{\"v\":1,\"op\":\"release\",\"id\":\"%s\",\"resource\":\"%s\",\"token\":%llu,\"success\":%s%s}",
	    id, res, (unsigned long long)token, success ? "true" : "false", extra ? extra : "");
	return mq_pub(m, t, p, false);
}

/* A client of the coordinator under prefix, subscribed to its grant topic;
 * with a Will, it also says it is online. Begin, then end (see mq_begin). */
static bool node_begin(mq *m, const char *uri, const char *prefix, const char *id, bool with_will)
{
	char will[256], off[160];
	topic_of(will, sizeof will, prefix, "node", id);
	snprintf(off, sizeof off, "{\"v\":1,\"node\":\"%s\",\"online\":false}", id);
	return mq_begin(m, uri, id, with_will ? will : NULL, off, NULL, NULL);
}

static bool node_end(mq *m, const char *prefix, bool with_will)
{
	char will[256], grant[256], on[160];
	topic_of(will, sizeof will, prefix, "node", m->id);
	topic_of(grant, sizeof grant, prefix, "grant", m->id);
	if (!mq_end(m) || !mq_sub(m, grant))
		return false;
	snprintf(on, sizeof on, "{\"v\":1,\"node\":\"%s\",\"online\":true}", m->id);
	return !with_will || mq_pub(m, will, on, true);
}

static bool node_open(mq *m, const char *uri, const char *prefix, const char *id, bool with_will)
{
	return node_begin(m, uri, prefix, id, with_will) && node_end(m, prefix, with_will);
}

/* ---- sequential measurements --------------------------------------------- */

typedef struct seqctx {
	const char *uri;
	const char *echo; /* echo prefix */
	unsigned run;     /* distinguishes ids and resources between modes/reps */
	uint64_t seq;
} seqctx;

static double ms_between(int64_t a, int64_t b)
{
	return (double)(b - a) / 1e6;
}

/* n floor round trips: publish a request-sized message on E/req/<id>, the
 * echo republishes it on E/rep/<id>. */
static bool floor_rep(seqctx *c, mq *m, int n, double *v)
{
	char req[256], payload[512];
	topic_of(req, sizeof req, c->echo, "req", m->id);
	for (int i = 0; i < n; i++) {
		mq_msg msg;
		snprintf(payload, sizeof payload,
		         "{\"v\":1,\"op\":\"acquire\",\"id\":\"f%llu\",\"resource\":\"bench/lat/"
		         "r%d\",\"mode\":\"mutex\","
		         "\"lease_ms\":30000}",
		         (unsigned long long)c->seq++, i % 64);
		int64_t t0 = be_mono_ns();
		if (!mq_pub(m, req, payload, false) || !mq_next(m, &msg, WAIT_MS)) {
			fprintf(stderr, "bench: floor: no echo within %d ms\n", WAIT_MS);
			return false;
		}
		v[i] = ms_between(t0, msg.t_ns);
	}
	return true;
}

/* n uncontended acquire+release cycles: acq[i] acquire->granted, cyc[i] the
 * whole cycle (acquire sent -> released received). */
static bool cycle_rep(seqctx *c, mq *m, const char *prefix, int n, double *acq, double *cyc)
{
	for (int i = 0; i < n; i++) {
		char ida[32], idr[32], res[64];
		answer a;
		snprintf(ida, sizeof ida, "a%llu", (unsigned long long)c->seq);
		snprintf(idr, sizeof idr, "r%llu", (unsigned long long)c->seq++);
		snprintf(res, sizeof res, "bench/lat/r%d", i % 64);
		int64_t t0 = be_mono_ns();
		if (!send_acquire(m, prefix, ida, res, "mutex", 30000) || !wait_answer(m, ida, "granted", &a))
			return false;
		acq[i] = ms_between(t0, a.t_ns);
		if (!send_release(m, prefix, idr, res, a.token, true, NULL) ||
		    !wait_answer(m, idr, "released", &a))
			return false;
		cyc[i] = ms_between(t0, a.t_ns);
	}
	return true;
}

/* One handoff: h holds res (once mode), w waits; h is ended by `end` (a
 * release success:false, or shutting its socket for the Will); returns the
 * time from the end to w's granted in ms, or -1. */
typedef bool (*end_fn)(mq *h, const char *prefix, const char *res, uint64_t token, const char *id);

static double handoff_once(seqctx *c, mq *h, mq *w, const char *prefix, end_fn end, bool h_answers)
{
	char hid[32], hrel[32], wid[32], wrel[32], res[64];
	unsigned long long k = c->seq++;
	answer a, b;
	snprintf(hid, sizeof hid, "ha%llu", k);
	snprintf(hrel, sizeof hrel, "hr%llu", k);
	snprintf(wid, sizeof wid, "wa%llu", k);
	snprintf(wrel, sizeof wrel, "wr%llu", k);
	snprintf(res, sizeof res, "bench/handoff/r%llu", k % 64);
	if (!send_acquire(h, prefix, hid, res, "once", 30000) || !wait_answer(h, hid, "granted", &a) ||
	    !send_acquire(w, prefix, wid, res, "once", 30000) || !wait_answer(w, wid, "queued", &b))
		return -1;
	int64_t t0 = be_mono_ns();
	if (!end(h, prefix, res, a.token, hrel) || !wait_answer(w, wid, "granted", &b))
		return -1;
	double ms = ms_between(t0, b.t_ns);
	if (h_answers && !wait_answer(h, hrel, "released", &a))
		return -1;
	if (!send_release(w, prefix, wrel, res, b.token, false, NULL) ||
	    !wait_answer(w, wrel, "released", &b))
		return -1;
	return ms;
}

static bool end_by_failure(mq *h, const char *prefix, const char *res, uint64_t token, const char *id)
{
	return send_release(h, prefix, id, res, token, false, ",\"error\":\"exit status 1\"");
}

static bool handoff_rep(seqctx *c, mq *h, mq *w, const char *prefix, int n, double *v)
{
	for (int i = 0; i < n; i++)
		if ((v[i] = handoff_once(c, h, w, prefix, end_by_failure, true)) < 0)
			return false;
	return true;
}

/* Will handoff. The holder lives in a child process (bench_e2e willholder)
 * with a fresh connection and a Will per sample; a fresh process, because
 * paho would take a second to notice a new socket in a process that has
 * others (see mq_begin). Per sample: the child connects and acquires; the
 * waiter queues; the child shuts its socket down (SHUT_RDWR: the broker sees
 * the TCP connection end and publishes the Will) and reports the
 * CLOCK_MONOTONIC time just before; t1 is the waiter's granted. */
typedef struct holder {
	pid_t pid;
	FILE *in, *out; /* its stdin, its stdout */
} holder;

/* In a forked child before exec: our paho sockets are not the child's. */
static void close_from(int lowest)
{
	long max = sysconf(_SC_OPEN_MAX);
	for (int fd = lowest; fd < (max > 0 && max < 65536 ? max : 65536); fd++)
		close(fd);
}

static bool holder_start(holder *h, const char *uri, const char *prefix)
{
	int to[2], from[2];
	if (pipe(to) != 0 || pipe(from) != 0)
		return false;
	h->pid = fork();
	if (h->pid == 0) {
		dup2(to[0], STDIN_FILENO);
		dup2(from[1], STDOUT_FILENO);
		close_from(3);
		execl("/proc/self/exe", "bench_e2e", "willholder", "--broker", uri, "--prefix", prefix,
		      (char *)NULL);
		_exit(127);
	}
	close(to[0]);
	close(from[1]);
	h->in = fdopen(to[1], "w");
	h->out = fdopen(from[0], "r");
	return h->pid > 0 && h->in != NULL && h->out != NULL;
}

static void holder_stop(holder *h)
{
	if (h->in != NULL)
		fclose(h->in); /* EOF: it exits */
	if (h->out != NULL)
		fclose(h->out);
	if (h->pid > 0)
		waitpid(h->pid, NULL, 0);
	memset(h, 0, sizeof *h);
}

static bool holder_say(holder *h, const char *line, char *reply, size_t cap)
{
	return fputs(line, h->in) >= 0 && fflush(h->in) == 0 && fgets(reply, (int)cap, h->out) != NULL;
}

static bool will_rep(seqctx *c, holder *h, mq *w, const char *prefix, int n, double *v)
{
	for (int i = 0; i < n; i++) {
		char line[128], reply[128], wid[32], wrel[32], res[64];
		unsigned long long k = c->seq++;
		long long t0 = 0;
		answer b;
		snprintf(wid, sizeof wid, "wa%llu", k);
		snprintf(wrel, sizeof wrel, "wr%llu", k);
		snprintf(res, sizeof res, "bench/will/r%llu", k % 64);
		snprintf(line, sizeof line, "go %s %llu\n", res, k);
		if (!holder_say(h, line, reply, sizeof reply) || strncmp(reply, "held", 4) != 0 ||
		    !send_acquire(w, prefix, wid, res, "once", 30000) || !wait_answer(w, wid, "queued", &b) ||
		    !holder_say(h, "drop\n", reply, sizeof reply) || sscanf(reply, "t0 %lld", &t0) != 1 ||
		    !wait_answer(w, wid, "granted", &b))
			return false;
		v[i] = ms_between((int64_t)t0, b.t_ns);
		if (!send_release(w, prefix, wrel, res, b.token, false, NULL) ||
		    !wait_answer(w, wrel, "released", &b))
			return false;
	}
	return true;
}

/* The child side: reads "go RES K" (connect with a Will, acquire RES, answer
 * "held") and "drop" (shut the socket down, answer "t0 NS"); EOF ends it. */
static int mode_willholder(const char *uri, const char *prefix)
{
	char line[256], res[128], id[64], aid[48];
	unsigned long long k;
	mq h = {0};
	bool open = false;
	snprintf(id, sizeof id, "bench-willholder-%d", (int)getppid());
	for (int lines = 0; lines < 1000000 && fgets(line, sizeof line, stdin) != NULL; lines++) {
		answer a;
		if (sscanf(line, "go %127s %llu", res, &k) == 2) {
			snprintf(aid, sizeof aid, "h%llu", k);
			open = node_open(&h, uri, prefix, id, true);
			if (!open || !send_acquire(&h, prefix, aid, res, "once", 30000) ||
			    !wait_answer(&h, aid, "granted", &a) || h.fd < 0) {
				fprintf(stderr,
				        "bench: willholder: cannot connect, acquire or find its socket\n");
				printf("failed\n");
				fflush(stdout);
				return 1;
			}
			printf("held\n");
		} else if (strcmp(line, "drop\n") == 0 && open) {
			int64_t t0 = be_mono_ns();
			shutdown(h.fd, SHUT_RDWR);
			printf("t0 %lld\n", (long long)t0);
			fflush(stdout);
			mq_wait_int(&h, &h.state, 1, WAIT_MS); /* paho notices the loss */
			mq_close(&h);
			open = false;
		}
		fflush(stdout);
	}
	if (open)
		mq_close(&h);
	return 0;
}

/* ---- latency mode --------------------------------------------------------- */

typedef struct opts {
	const char *uri, *echo, *mem, *dur, *prefix, *redis, *pidfile, *steps;
	int n, handoffs, wills, reps, conns, slots, seconds, held, hold_count;
	int broker_pid, coord_pid, echo_pid;
	char **cmd;
} opts;

static int mode_latency(const opts *o)
{
	seqctx c = {.uri = o->uri, .echo = o->echo, .run = (unsigned)getpid()};
	be_series fl = {.name = "floor: MQTT QoS 1 request/reply via echo"};
	be_series ma = {.name = "Baton :memory: acquire->granted"},
	          mc = {.name = "Baton :memory: acquire+release (vs 2x floor)", .hops = 2};
	be_series da = {.name = "Baton durable acquire->granted"},
	          dc = {.name = "Baton durable acquire+release (vs 2x floor)", .hops = 2};
	be_series mh = {.name = "Baton :memory: failure handoff"},
	          dh = {.name = "Baton durable failure handoff"};
	be_series mw = {.name = "Baton :memory: Will handoff (TCP shutdown)"};
	be_series ra = {.name = "Redis SET NX PX (acquire)"},
	          rc = {.name = "Redis SET NX + compare-and-delete (vs 2x floor)", .hops = 2};
	be_series rp = {.name = "Redis handoff, waiter polls every 10 ms (redsync)"},
	          rs = {.name = "Redis handoff, waiter woken by pub/sub (Redisson)"};
	int nmax = o->n > o->handoffs ? o->n : o->handoffs;
	double *v = calloc((size_t)nmax + 1, sizeof *v), *v2 = calloc((size_t)nmax + 1, sizeof *v2);
	mq fc = {0}, m1 = {0}, d1 = {0}, mh1 = {0}, mw1 = {0}, dh1 = {0}, dw1 = {0};
	holder wh = {0};
	char id[64];
	char rep[256];
	bool ok = v != NULL && v2 != NULL;
	int rport = 0;
	char rhost[64] = "127.0.0.1";
	if (o->redis != NULL && sscanf(o->redis, "%63[^:]:%d", rhost, &rport) != 2)
		rport = 0;
#define BEGIN(m, pfx, tag)                                                                                   \
	(snprintf(id, sizeof id, "bench-%s-%u", tag, c.run), node_begin(m, o->uri, pfx, id, false))
	snprintf(id, sizeof id, "bench-floor-%u", c.run);
	ok = ok && mq_begin(&fc, o->uri, id, NULL, NULL, NULL, NULL);
	ok = ok && BEGIN(&m1, o->mem, "m1") && BEGIN(&d1, o->dur, "d1") && BEGIN(&mh1, o->mem, "mh") &&
	     BEGIN(&mw1, o->mem, "mw") && BEGIN(&dh1, o->dur, "dh") && BEGIN(&dw1, o->dur, "dw");
#undef BEGIN
	topic_of(rep, sizeof rep, o->echo, "rep", fc.id);
	ok = ok && mq_end(&fc) && mq_sub(&fc, rep);
	ok = ok && node_end(&m1, o->mem, false) && node_end(&d1, o->dur, false) &&
	     node_end(&mh1, o->mem, false) && node_end(&mw1, o->mem, false) &&
	     node_end(&dh1, o->dur, false) && node_end(&dw1, o->dur, false);
	ok = ok && holder_start(&wh, o->uri, o->mem);
	/* Warm-up: connections, caches, the coordinator's maps. */
	ok = ok && floor_rep(&c, &fc, 20, v) && cycle_rep(&c, &m1, o->mem, 20, v, v2) &&
	     cycle_rep(&c, &d1, o->dur, 5, v, v2);
	for (int r = 0; ok && r < o->reps && !stop_flag; r++) {
		fprintf(stderr, "bench: latency repetition %d/%d\n", r + 1, o->reps);
		ok = floor_rep(&c, &fc, o->n, v);
		be_series_add(&fl, v, (size_t)o->n);
		ok = ok && cycle_rep(&c, &m1, o->mem, o->n, v, v2);
		be_series_add(&ma, v, (size_t)o->n);
		be_series_add(&mc, v2, (size_t)o->n);
		ok = ok && cycle_rep(&c, &d1, o->dur, o->n, v, v2);
		be_series_add(&da, v, (size_t)o->n);
		be_series_add(&dc, v2, (size_t)o->n);
		ok = ok && handoff_rep(&c, &mh1, &mw1, o->mem, o->handoffs, v);
		be_series_add(&mh, v, (size_t)o->handoffs);
		ok = ok && handoff_rep(&c, &dh1, &dw1, o->dur, o->handoffs, v);
		be_series_add(&dh, v, (size_t)o->handoffs);
		ok = ok && will_rep(&c, &wh, &mw1, o->mem, o->wills, v);
		be_series_add(&mw, v, (size_t)o->wills);
		if (ok && rport > 0 &&
		    be_redis_rep(rhost, rport, o->n, o->handoffs / 4 + 1, &ra, &rc, &rp, &rs) != 0)
			rport = 0; /* reported; go on without Redis */
	}
	printf("| latency (ms) | p50 | p90 | p99 | p50 / floor p50 | samples x reps |\n");
	printf("|---|---|---|---|---|---|\n");
	be_series *rows[] = {&fl, &ma, &mc, &da, &dc, &mh, &dh, &mw, &ra, &rc, &rp, &rs};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
		if (rows[i]->nreps > 0)
			be_print_row(rows[i], &fl);
	double a, b, x, y;
	if (ra.nreps > 0 && be_series_stat(&ma, 0, &a, &x, &y) && be_series_stat(&ra, 0, &b, &x, &y))
		printf("\nBaton :memory: acquire p50 / Redis acquire p50: %.2fx\n", a / b);
	if (rc.nreps > 0 && be_series_stat(&mc, 0, &a, &x, &y) && be_series_stat(&rc, 0, &b, &x, &y))
		printf("Baton :memory: cycle p50 / Redis cycle p50: %.2fx\n", a / b);
	if (rp.nreps > 0 && be_series_stat(&mh, 0, &a, &x, &y) && be_series_stat(&rp, 0, &b, &x, &y))
		printf("Baton :memory: failure handoff p50 / Redis polling handoff p50: %.2fx\n", a / b);
	if (rs.nreps > 0 && be_series_stat(&mh, 0, &a, &x, &y) && be_series_stat(&rs, 0, &b, &x, &y))
		printf("Baton :memory: failure handoff p50 / Redis pub/sub handoff p50: %.2fx\n", a / b);
	mq *all[] = {&fc, &m1, &d1, &mh1, &mw1, &dh1, &dw1};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		if (all[i]->c != NULL)
			mq_close(all[i]);
	holder_stop(&wh);
	free(v);
	free(v2);
	if (!ok)
		fprintf(stderr, "bench: latency measurement failed\n");
	return ok ? 0 : 1;
}

/* ---- pipelined load engine ------------------------------------------------ */

typedef enum work { W_ECHO, W_CYCLE, W_REMEMBER, W_HOLD } work;

typedef struct eng eng;
typedef struct slot {
	eng *e;
	mq *m;
	unsigned idx;
	uint64_t seq;
	int step;
	uint64_t res; /* resource number */
	bool busy;
} slot;

struct eng {
	work kind;
	const char *prefix;
	const char *tag;
	int nconn, per;
	mq *conns;
	slot *slots;
	atomic_uint_fast64_t done, next_res, errors, busy;
	uint64_t limit; /* resources to use (W_REMEMBER, W_HOLD), cycles otherwise */
	atomic_bool stopping;
};

static void res_name(const eng *e, const slot *s, char *buf, size_t cap)
{
	if (e->kind == W_CYCLE)
		snprintf(buf, cap, "%s/%u/%llu", e->tag, s->idx, (unsigned long long)(s->seq % 16));
	else
		snprintf(buf, cap, "%s/r%llu", e->tag, (unsigned long long)s->res);
}

/* Starts slot s's next cycle, or parks it. Runs on any thread. */
static void slot_next(slot *s)
{
	eng *e = s->e;
	char id[48], res[96], t[256], p[512];
	if (atomic_load(&e->stopping) || stop_flag)
		goto park;
	if (e->kind == W_REMEMBER || e->kind == W_HOLD) {
		s->res = atomic_fetch_add(&e->next_res, 1);
		if (s->res >= e->limit)
			goto park;
	}
	s->seq++;
	s->step = 0;
	snprintf(id, sizeof id, "%u-%llua", s->idx, (unsigned long long)s->seq);
	if (e->kind == W_ECHO) {
		topic_of(t, sizeof t, e->prefix, "req", s->m->id);
		snprintf(p, sizeof p,
		         "{\"v\":1,\"op\":\"acquire\",\"id\":\"%s\",\"resource\":\"bench/tp/%u/"
		         "%llu\",\"mode\":\"mutex\","
		         "\"lease_ms\":30000}",
		         id, s->idx, (unsigned long long)(s->seq % 16));
		if (!mq_pub(s->m, t, p, false))
			goto fail;
		return;
	}
	res_name(e, s, res, sizeof res);
	if (!send_acquire(s->m, e->prefix, id, res, e->kind == W_REMEMBER ? "once" : "mutex",
	                  e->kind == W_HOLD ? 3600000 : 30000))
		goto fail;
	return;
fail:
	atomic_fetch_add(&e->errors, 1);
park:
	s->busy = false;
	atomic_fetch_sub(&e->busy, 1);
}

/* Answers (or echoes) for the slots of one connection; id "<slot>-<seq><a|r>". */
static void eng_on_msg(void *ctx, mq *m, const char *topic, const char *payload, size_t len, int64_t t_ns)
{
	eng *e = ctx;
	(void)topic, (void)len, (void)t_ns;
	answer a;
	char *end;
	if (e->kind == W_ECHO) {
		const char *q = strstr(payload, "\"id\":\"");
		if (q == NULL)
			return;
		unsigned long idx = strtoul(q + 6, &end, 10);
		if (idx >= (unsigned long)e->nconn * (unsigned long)e->per)
			return;
		slot *s = &e->slots[idx];
		if (s->step == 0) {
			/* the "release" round trip of an echo cycle */
			char t[256], p[512];
			s->step = 1;
			topic_of(t, sizeof t, e->prefix, "req", m->id);
			snprintf(p, sizeof p,
			         "{\"v\":1,\"op\":\"release\",\"id\":\"%u-%llur\",\"resource\":\"bench/tp/%u/"
			         "%llu\","
			         "\"token\":12345,\"success\":true}",
			         s->idx, (unsigned long long)s->seq, s->idx,
			         (unsigned long long)(s->seq % 16));
			if (!mq_pub(m, t, p, false))
				atomic_fetch_add(&e->errors, 1);
			return;
		}
		atomic_fetch_add(&e->done, 1);
		slot_next(s);
		return;
	}
	if (!parse_answer(payload, &a))
		return;
	unsigned long idx = strtoul(a.id, &end, 10);
	if (*end != '-' || idx >= (unsigned long)e->nconn * (unsigned long)e->per)
		return;
	slot *s = &e->slots[idx];
	if (strcmp(a.status, "granted") == 0 && s->step == 0) {
		if (e->kind == W_HOLD) {
			atomic_fetch_add(&e->done, 1);
			slot_next(s);
			return;
		}
		char id[48], res[96];
		s->step = 1;
		snprintf(id, sizeof id, "%u-%llur", s->idx, (unsigned long long)s->seq);
		res_name(e, s, res, sizeof res);
		if (!send_release(m, e->prefix, id, res, a.token, true,
		                  e->kind == W_REMEMBER ? ",\"remember_ms\":86400000" : NULL))
			atomic_fetch_add(&e->errors, 1);
	} else if (strcmp(a.status, "released") == 0 && s->step == 1) {
		atomic_fetch_add(&e->done, 1);
		slot_next(s);
	} else if (strcmp(a.status, "queued") != 0) {
		/* done, busy, rejected: not expected here; count it and move on */
		atomic_fetch_add(&e->errors, 1);
		if (atomic_load(&e->errors) < 5)
			fprintf(stderr, "bench: unexpected answer: %s\n", payload);
		slot_next(s);
	}
}

static bool eng_open(eng *e, const char *uri, work kind, const char *prefix, const char *tag, int nconn,
                     int per)
{
	memset(e, 0, sizeof *e);
	e->kind = kind;
	e->prefix = prefix;
	e->tag = tag;
	e->nconn = nconn;
	e->per = per;
	e->conns = calloc((size_t)nconn, sizeof *e->conns);
	e->slots = calloc((size_t)nconn * (size_t)per, sizeof *e->slots);
	if (e->conns == NULL || e->slots == NULL)
		return false;
	for (int i = 0; i < nconn; i++) {
		char id[64];
		snprintf(id, sizeof id, "bench-%s-%d-%d", tag, (int)getpid(), i);
		if (!mq_begin(&e->conns[i], uri, id, NULL, NULL, eng_on_msg, e))
			return false;
	}
	for (int i = 0; i < nconn; i++) {
		char sub[256];
		topic_of(sub, sizeof sub, prefix, kind == W_ECHO ? "rep" : "grant", e->conns[i].id);
		if (!mq_end(&e->conns[i]) || !mq_sub(&e->conns[i], sub))
			return false;
	}
	for (int i = 0; i < nconn * per; i++) {
		e->slots[i].e = e;
		e->slots[i].m = &e->conns[i / per];
		e->slots[i].idx = (unsigned)i;
	}
	return true;
}

static void eng_close(eng *e)
{
	for (int i = 0; e->conns != NULL && i < e->nconn; i++)
		if (e->conns[i].c != NULL)
			mq_close(&e->conns[i]);
	free(e->conns);
	free(e->slots);
}

/* Runs the engine until `limit` cycles/resources are done or `seconds` pass,
 * then lets the outstanding cycles finish (bounded). Returns cycles done in
 * the measured window and its length in *secs. */
static uint64_t eng_run(eng *e, uint64_t limit, double seconds, double *secs)
{
	e->limit = limit;
	atomic_store(&e->stopping, false);
	atomic_store(&e->next_res, 0);
	uint64_t d0 = atomic_load(&e->done);
	int n = e->nconn * e->per;
	atomic_store(&e->busy, (uint_fast64_t)n);
	int64_t t0 = be_mono_ns(), until = t0 + (int64_t)(seconds * 1e9);
	for (int i = 0; i < n; i++) {
		e->slots[i].busy = true;
		slot_next(&e->slots[i]);
	}
	uint64_t last = d0;
	int64_t last_progress = t0;
	while (be_mono_ns() < until && atomic_load(&e->busy) > 0 && !stop_flag) {
		sleep_ms(5);
		uint64_t d = atomic_load(&e->done);
		if (d != last) {
			last = d;
			last_progress = be_mono_ns();
		} else if (be_mono_ns() - last_progress > (int64_t)WAIT_MS * 1000000) {
			fprintf(stderr, "bench: no progress for %d ms; giving up this run\n", WAIT_MS);
			break;
		}
	}
	int64_t t1 = be_mono_ns();
	uint64_t d1 = atomic_load(&e->done);
	atomic_store(&e->stopping, true);
	for (int i = 0; i < 2000 && atomic_load(&e->busy) > 0; i++)
		sleep_ms(5);
	*secs = (double)(t1 - t0) / 1e9;
	return d1 - d0;
}

/* ---- throughput mode -------------------------------------------------------- */

static int mode_throughput(const opts *o)
{
	eng ee, be;
	double echo_rate[BE_MAX_REPS], baton_rate[BE_MAX_REPS], ratio[BE_MAX_REPS];
	double cpu_b_echo[BE_MAX_REPS], cpu_e_echo[BE_MAX_REPS], cpu_b_baton[BE_MAX_REPS],
	    cpu_c_baton[BE_MAX_REPS];
	int reps = o->reps < BE_MAX_REPS ? o->reps : BE_MAX_REPS, done = 0;
	uint64_t errors = 0;
	bool ok = eng_open(&ee, o->uri, W_ECHO, o->echo, "tpe", o->conns, o->slots) &&
	          eng_open(&be, o->uri, W_CYCLE, o->prefix, "tpb", o->conns, o->slots);
	double secs;
	if (ok) { /* warm-up */
		eng_run(&ee, 200, 1, &secs);
		eng_run(&be, 200, 1, &secs);
	}
	for (int r = 0; ok && r < reps && !stop_flag; r++) {
		fprintf(stderr, "bench: throughput repetition %d/%d\n", r + 1, reps);
		double b0 = proc_cpu_s(o->broker_pid), e0 = proc_cpu_s(o->echo_pid);
		uint64_t n = eng_run(&ee, UINT64_MAX, o->seconds, &secs);
		double b1 = proc_cpu_s(o->broker_pid), e1 = proc_cpu_s(o->echo_pid);
		echo_rate[r] = (double)n / secs;
		cpu_b_echo[r] = (b1 - b0) / ((double)n / 10000.0);
		cpu_e_echo[r] = (e1 - e0) / ((double)n / 10000.0);
		b0 = proc_cpu_s(o->broker_pid);
		double c0 = proc_cpu_s(o->coord_pid);
		n = eng_run(&be, UINT64_MAX, o->seconds, &secs);
		b1 = proc_cpu_s(o->broker_pid);
		double c1 = proc_cpu_s(o->coord_pid);
		baton_rate[r] = (double)n / secs;
		cpu_b_baton[r] = (b1 - b0) / ((double)n / 10000.0);
		cpu_c_baton[r] = (c1 - c0) / ((double)n / 10000.0);
		ratio[r] = baton_rate[r] / echo_rate[r];
		done++;
	}
	errors = atomic_load(&ee.errors) + atomic_load(&be.errors);
	if (done > 0) {
		double med, min, max;
		printf("| throughput, %d connections x %d outstanding cycle(s), %d s per rep | median "
		       "(min-max) |\n",
		       o->conns, o->slots, o->seconds);
		printf("|---|---|\n");
		med3(echo_rate, done, &med, &min, &max);
		printf("| echo ceiling, cycles/s (2 request/replies each) | %.0f (%.0f-%.0f) |\n", med, min,
		       max);
		med3(baton_rate, done, &med, &min, &max);
		printf("| Baton :memory: lock cycles/s (acquire, granted, release, released) | %.0f "
		       "(%.0f-%.0f) |\n",
		       med, min, max);
		med3(ratio, done, &med, &min, &max);
		printf("| Baton / echo ceiling | %.2f (%.2f-%.2f) |\n", med, min, max);
		med3(cpu_b_echo, done, &med, &min, &max);
		printf("| broker CPU s per 10k echo cycles | %.2f (%.2f-%.2f) |\n", med, min, max);
		med3(cpu_e_echo, done, &med, &min, &max);
		printf("| echo process CPU s per 10k echo cycles | %.2f (%.2f-%.2f) |\n", med, min, max);
		med3(cpu_b_baton, done, &med, &min, &max);
		printf("| broker CPU s per 10k Baton cycles | %.2f (%.2f-%.2f) |\n", med, min, max);
		med3(cpu_c_baton, done, &med, &min, &max);
		printf("| coordinator CPU s per 10k Baton cycles | %.2f (%.2f-%.2f) |\n", med, min, max);
		printf("| unexpected answers or failed sends | %llu |\n", (unsigned long long)errors);
	}
	eng_close(&ee);
	eng_close(&be);
	return ok && done == reps && errors == 0 ? 0 : 1;
}

/* ---- scale mode ------------------------------------------------------------ */

/* Acquire p50 (ms) of n sequential uncontended cycles, median of reps. */
static bool acquire_p50(seqctx *c, mq *m, const char *prefix, int n, int reps, be_series *s)
{
	double *a = calloc((size_t)n, sizeof *a), *b = calloc((size_t)n, sizeof *b);
	bool ok = a != NULL && b != NULL;
	for (int r = 0; ok && r < reps; r++) {
		ok = cycle_rep(c, m, prefix, n, a, b);
		be_series_add(s, a, (size_t)n);
	}
	free(a);
	free(b);
	return ok;
}

static int mode_scale(const opts *o)
{
	seqctx c = {.uri = o->uri, .echo = o->echo, .run = (unsigned)getpid()};
	mq m, fm;
	eng e;
	char id[64], rep[256];
	snprintf(id, sizeof id, "bench-scale-%u", c.run);
	bool ok = node_begin(&m, o->uri, o->prefix, id, false);
	snprintf(id, sizeof id, "bench-scalefl-%u", c.run);
	ok = ok && mq_begin(&fm, o->uri, id, NULL, NULL, NULL, NULL);
	topic_of(rep, sizeof rep, o->echo, "rep", id);
	ok = ok && node_end(&m, o->prefix, false) && mq_end(&fm) && mq_sub(&fm, rep);
	ok = ok && eng_open(&e, o->uri, W_REMEMBER, o->prefix, "sc", o->conns, o->slots);
	long rss0 = proc_rss_kb(o->coord_pid), brss0 = proc_rss_kb(o->broker_pid);
	printf("| scale step | preload time s (rate/s) | acquire p50 ms | floor p50 ms | coordinator VmRSS "
	       "MiB | "
	       "bytes per lock (RSS delta / locks) | broker VmRSS MiB |\n");
	printf("|---|---|---|---|---|---|---|\n");
	be_series s0 = {.name = "empty"};
	be_series f0 = {.name = "floor"};
	double *fv = calloc((size_t)o->n, sizeof *fv);
	ok = ok && fv != NULL && acquire_p50(&c, &m, o->prefix, o->n, o->reps, &s0);
	for (int r = 0; ok && r < o->reps; r++)
		if ((ok = floor_rep(&c, &fm, o->n, fv)))
			be_series_add(&f0, fv, (size_t)o->n);
	double med, mn, mx, fmed;
	if (ok && be_series_stat(&s0, 0, &med, &mn, &mx) && be_series_stat(&f0, 0, &fmed, &mn, &mx))
		printf("| empty | - | %.3f | %.3f | %.1f | - | %.1f |\n", med, fmed, (double)rss0 / 1024,
		       (double)brss0 / 1024);
	/* Remembered successes, cumulative: 1k, then up to 100k, then up to 1M. */
	uint64_t have = 0;
	const char *p = o->steps;
	char tag[32];
	while (ok && p != NULL && *p != '\0' && !stop_flag) {
		char *end;
		uint64_t want = strtoull(p, &end, 10);
		p = *end == ',' ? end + 1 : NULL;
		if (want <= have)
			continue;
		double secs;
		/* The engine numbers resources from 0 each run: tag each step apart. */
		snprintf(tag, sizeof tag, "sc%llu", (unsigned long long)want);
		e.tag = tag;
		int64_t t0 = be_mono_ns();
		uint64_t target = want - have;
		uint64_t got = eng_run(&e, target, 7200, &secs);
		double took = (double)(be_mono_ns() - t0) / 1e9;
		have += got;
		if (got < target)
			fprintf(stderr, "bench: preload stopped at %llu of %llu\n", (unsigned long long)have,
			        (unsigned long long)want);
		be_series s = {.name = "step"};
		be_series f = {.name = "floor"};
		ok = acquire_p50(&c, &m, o->prefix, o->n, o->reps, &s);
		for (int r = 0; ok && r < o->reps; r++)
			if ((ok = floor_rep(&c, &fm, o->n, fv)))
				be_series_add(&f, fv, (size_t)o->n);
		long rss = proc_rss_kb(o->coord_pid), brss = proc_rss_kb(o->broker_pid);
		if (ok && be_series_stat(&s, 0, &med, &mn, &mx) && be_series_stat(&f, 0, &fmed, &mn, &mx))
			printf("| %llu remembered successes | %.1f (%.0f) | %.3f | %.3f | %.1f | %.0f | %.1f "
			       "|\n",
			       (unsigned long long)have, took, (double)got / took, med, fmed,
			       (double)rss / 1024, (double)(rss - rss0) * 1024 / (double)have,
			       (double)brss / 1024);
		fflush(stdout);
	}
	/* Held locks, on top. */
	if (ok && o->held > 0 && !stop_flag) {
		eng h;
		ok = eng_open(&h, o->uri, W_HOLD, o->prefix, "sh", o->conns, o->slots);
		long rss1 = proc_rss_kb(o->coord_pid);
		double secs;
		int64_t t0 = be_mono_ns();
		uint64_t got = ok ? eng_run(&h, (uint64_t)o->held, 7200, &secs) : 0;
		double took = (double)(be_mono_ns() - t0) / 1e9;
		be_series s = {.name = "held"};
		be_series f = {.name = "floor"};
		ok = ok && acquire_p50(&c, &m, o->prefix, o->n, o->reps, &s);
		for (int r = 0; ok && r < o->reps; r++)
			if ((ok = floor_rep(&c, &fm, o->n, fv)))
				be_series_add(&f, fv, (size_t)o->n);
		long rss = proc_rss_kb(o->coord_pid), brss = proc_rss_kb(o->broker_pid);
		if (ok && be_series_stat(&s, 0, &med, &mn, &mx) && be_series_stat(&f, 0, &fmed, &mn, &mx))
			printf("| + %llu held locks | %.1f (%.0f) | %.3f | %.3f | %.1f | %.0f | %.1f |\n",
			       (unsigned long long)got, took, (double)got / took, med, fmed,
			       (double)rss / 1024, got ? (double)(rss - rss1) * 1024 / (double)got : 0.0,
			       (double)brss / 1024);
		/* The holders disconnect cleanly (no Will): their locks stay held until their leases end. */
		eng_close(&h);
	}
	free(fv);
	eng_close(&e);
	mq_close(&m);
	mq_close(&fm);
	return ok ? 0 : 1;
}

/* ---- hold and recover modes ---------------------------------------------- */

static int mode_hold(const opts *o)
{
	eng h;
	double secs;
	bool ok = eng_open(&h, o->uri, W_HOLD, o->prefix, "rh", o->conns, o->slots);
	int64_t t0 = be_mono_ns();
	uint64_t got = ok ? eng_run(&h, (uint64_t)o->hold_count, 7200, &secs) : 0;
	double took = (double)(be_mono_ns() - t0) / 1e9;
	printf("| preload %llu held locks into the durable store | %.1f s (%.0f/s) |\n",
	       (unsigned long long)got, took, (double)got / took);
	ok = ok && got == (uint64_t)o->hold_count && atomic_load(&h.errors) == 0;
	eng_close(&h);
	return ok ? 0 : 1;
}

/* Starts o->cmd, writes its pid to o->pidfile, and times how long until the
 * coordinator's retained presence says online:true. The caller stops it. */
static int mode_recover(const opts *o)
{
	mq m;
	char id[64], topic[256];
	snprintf(id, sizeof id, "bench-recover-%d", (int)getpid());
	snprintf(topic, sizeof topic, "%s/coordinator", o->prefix);
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
		close_from(3);
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
	while (be_mono_ns() < until && !stop_flag && mq_next(&m, &msg, 1000)) {
		if (strstr(msg.payload, "\"online\":true") != NULL) {
			ms = ms_between(t0, msg.t_ns);
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
	size_t pl = strlen(prefix);
	if (strncmp(topic, prefix, pl) != 0 || strncmp(topic + pl, "/req/", 5) != 0)
		return;
	char t[256];
	snprintf(t, sizeof t, "%s/rep/%s", prefix, topic + pl + 5);
	MQTTAsync_send(m->c, t, (int)len, payload, 1, 0, NULL);
}

static int mode_echo(const opts *o)
{
	mq m;
	char id[64], sub[256];
	snprintf(id, sizeof id, "bench-echo-%d", (int)getpid());
	snprintf(sub, sizeof sub, "%s/req/+", o->echo);
	if (!mq_open(&m, o->uri, id, NULL, NULL, echo_on_msg, (void *)o->echo) || !mq_sub(&m, sub))
		return 1;
	printf("echo ready\n");
	fflush(stdout);
	/* Bounded: at most --seconds (default 4 h), or until SIGTERM/SIGINT. */
	int64_t life = o->seconds > 0 ? o->seconds : 4 * 3600;
	for (int64_t end = be_mono_ns() + life * 1000000000LL; !stop_flag && be_mono_ns() < end;)
		sleep_ms(50);
	mq_close(&m);
	return 0;
}

/* ---- main --------------------------------------------------------------- */

static void usage(void)
{
	fprintf(
	    stderr,
	    "usage: bench_e2e MODE --broker URI [options]\n"
	    "  echo       --echo E [--seconds S]\n"
	    "  latency    --echo E --mem P1 --dur P2 [--n N --handoffs H --wills W --reps R --redis "
	    "HOST:PORT]\n"
	    "  throughput --echo E --prefix P --broker-pid B --coord-pid C --echo-pid E [--conns C --slots S "
	    "--seconds T --reps R]\n"
	    "  scale      --echo E --prefix P --coord-pid C --broker-pid B [--steps 1000,100000,1000000 "
	    "--held N "
	    "--n N --reps R]\n"
	    "  hold       --prefix P --count N\n"
	    "  recover    --prefix P --pidfile F -- COORDINATOR ARGS...\n"
	    "Normally started by bench/run, which starts the broker and the coordinators.\n");
}

static bool parse(int argc, char **argv, opts *o)
{
	*o = (opts){.n = 2000,
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
	opts o;
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
	if (!peer_resolve(&broker_peer, o.uri)) {
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
		rc = mode_latency(&o);
	else if (strcmp(mode, "throughput") == 0 && o.echo && o.prefix)
		rc = mode_throughput(&o);
	else if (strcmp(mode, "scale") == 0 && o.echo && o.prefix)
		rc = mode_scale(&o);
	else if (strcmp(mode, "hold") == 0 && o.prefix)
		rc = mode_hold(&o);
	else if (strcmp(mode, "willholder") == 0 && o.prefix)
		rc = mode_willholder(o.uri, o.prefix);
	else if (strcmp(mode, "recover") == 0 && o.prefix && o.cmd)
		rc = mode_recover(&o);
	else
		usage();
	freeaddrinfo(broker_peer.ai);
	return rc;
}
