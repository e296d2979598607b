/*
 * bench_mq.c - the end-to-end benchmark's plumbing: the clock, percentile
 * statistics and table rows, /proc readers, TCP_NODELAY on the broker's
 * sockets, the small paho MQTTAsync client `mq` (a bounded queue or a
 * callback per connection), and the Baton wire helpers (acquire, release,
 * waiting for an answer, node connections).
 * It owns no measurement and prints no table of its own: the modes
 * (bench_latency.c, bench_load.c, bench_e2e.c) decide what is measured.
 * Every wait is bounded (BE_WAIT_MS or the caller's timeout).
 */
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <MQTTAsync.h>
#include <cjson/cJSON.h>

#include "bench_e2e.h"
#include "mqttedge.h"
#include "mqttnet.h"

#define QUEUE_LEN 64

int64_t be_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void be_sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Milliseconds from a to b (nanoseconds). */
double be_ms_between(int64_t a, int64_t b)
{
	return (double)(b - a) / 1e6;
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
void be_med3(const double *v, int n, double *med, double *min, double *max)
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
double be_proc_cpu_s(int pid)
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
long be_proc_rss_kb(int pid)
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

/* In a forked child before exec: our paho sockets are not the child's. */
void be_close_from(int lowest)
{
	long max = sysconf(_SC_OPEN_MAX);
	for (int fd = lowest; fd < (max > 0 && max < 65536 ? max : 65536); fd++)
		close(fd);
}

/* ---- an MQTT client ------------------------------------------------------ */

/* The broker, resolved once for all clients (mqttnet_nodelay_peer). */
static struct addrinfo *broker_peer;

bool mq_broker_resolve(const char *uri)
{
	return mqttnet_resolve(uri, &broker_peer) == BATON_OK;
}

void mq_broker_forget(void)
{
	freeaddrinfo(broker_peer);
	broker_peer = NULL;
}

static int mq_arrived(void *ctx, char *topic, int tlen, MQTTAsync_message *msg)
{
	mq *m = ctx;
	int64_t t = be_mono_ns();
	size_t len = msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0;
	if (m->h != NULL) {
		char buf[MQ_MSG_MAX];
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
			e->len = len < MQ_MSG_MAX - 1 ? len : MQ_MSG_MAX - 1;
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
bool mq_wait_int(mq *m, const int *field, int unwanted, int timeout_ms)
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
bool mq_begin(mq *m, const char *uri, const char *id, const char *will_topic, const char *will_payload,
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
	mqttedge_create_options co = {.max_buffered = 1 << 20};
	if (mqttedge_create(&m->c, uri, id, &co) != MQTTASYNC_SUCCESS ||
	    MQTTAsync_setCallbacks(m->c, m, mq_lost, mq_arrived, NULL) != MQTTASYNC_SUCCESS)
		return false;
	/* No automatic reconnect: a benchmark client that loses its broker fails. */
	mqttedge_connect_options o = {
	    .uri = uri,
	    .will_topic = will_topic,
	    .will_payload = will_payload,
	    .keepalive_s = 30,
	    .clean_session = true,
	    .on_success = mq_conn_ok,
	    .on_failure = mq_conn_fail,
	    .context = m,
	};
	return mqttedge_connect(m->c, &o) == MQTTASYNC_SUCCESS;
}

/* Waits for mq_begin's connect, then sets TCP_NODELAY on every socket of
 * ours whose peer is the broker (edge/mqttnet.c, as the coordinator and
 * libbaton do: paho 1.3.12 hides its socket). When this process has exactly one such socket, it is
 * m's: m->fd. Returns false on failure. */
bool mq_end(mq *m)
{
	if (!mq_wait_int(m, &m->state, 0, BE_WAIT_MS) || m->state != 1) {
		fprintf(stderr, "bench: %s cannot connect\n", m->id);
		return false;
	}
	int fds[1];
	int n = mqttnet_nodelay_peer(broker_peer, fds, 1);
	m->fd = n == 1 ? fds[0] : -1;
	return true;
}

bool mq_open(mq *m, const char *uri, const char *id, const char *will_topic, const char *will_payload,
             mq_handler h, void *hctx)
{
	return mq_begin(m, uri, id, will_topic, will_payload, h, hctx) && mq_end(m);
}

bool mq_sub(mq *m, const char *filter)
{
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
	ro.onSuccess = mq_sub_ok;
	ro.context = m;
	pthread_mutex_lock(&m->mu);
	int want = m->acks;
	pthread_mutex_unlock(&m->mu);
	if (MQTTAsync_subscribe(m->c, filter, 1, &ro) != MQTTASYNC_SUCCESS)
		return false;
	return mq_wait_int(m, &m->acks, want, BE_WAIT_MS);
}

bool mq_pub(mq *m, const char *topic, const char *payload, bool retained)
{
	int rc = MQTTAsync_send(m->c, topic, (int)strlen(payload), payload, 1, retained ? 1 : 0, NULL);
	if (rc != MQTTASYNC_SUCCESS && m->h == NULL)
		fprintf(stderr, "bench: %s: publish to %s failed: %s\n", m->id, topic,
		        MQTTAsync_strerror(rc));
	return rc == MQTTASYNC_SUCCESS;
}

/* Takes the next queued message; false after timeout_ms without one. */
bool mq_next(mq *m, mq_msg *out, int timeout_ms)
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

void mq_close(mq *m)
{
	if (m->c != NULL) {
		if (m->state == 1) {
			MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer;
			d.timeout = 1000;
			MQTTAsync_disconnect(m->c, &d);
			for (int i = 0; i < 200 && MQTTAsync_isConnected(m->c); i++)
				be_sleep_ms(5);
		}
		MQTTAsync_destroy(&m->c);
	}
	free(m->q);
	pthread_mutex_destroy(&m->mu);
	pthread_cond_destroy(&m->cv);
	memset(m, 0, sizeof *m);
}

/* ---- answers ------------------------------------------------------------ */

bool be_parse_answer(const char *payload, be_answer *a)
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
bool be_wait_answer(mq *m, const char *id, const char *want, be_answer *a)
{
	mq_msg msg;
	int64_t until = be_mono_ns() + (int64_t)BE_WAIT_MS * 1000000;
	while (be_mono_ns() < until && mq_next(m, &msg, BE_WAIT_MS)) {
		if (!be_parse_answer(msg.payload, a) || strcmp(a->id, id) != 0)
			continue;
		a->t_ns = msg.t_ns;
		if (strcmp(a->status, want) == 0)
			return true;
		fprintf(stderr, "bench: %s: request %s answered %s, wanted %s: %s\n", m->id, id, a->status,
		        want, msg.payload);
		return false;
	}
	fprintf(stderr, "bench: %s: no answer to %s within %d ms\n", m->id, id, BE_WAIT_MS);
	return false;
}

void be_topic_of(char *buf, size_t cap, const char *prefix, const char *kind, const char *node)
{
	snprintf(buf, cap, "%s/%s/%s", prefix, kind, node);
}

bool be_send_acquire(mq *m, const char *prefix, const char *id, const char *res, const char *mode,
                     int lease_ms)
{
	char t[256], p[512];
	be_topic_of(t, sizeof t, prefix, "req", m->id);
	snprintf(
	    p, sizeof p,
	    "{\"v\":1,\"op\":\"acquire\",\"id\":\"%s\",\"resource\":\"%s\",\"mode\":\"%s\",\"lease_ms\":%d}",
	    id, res, mode, lease_ms);
	return mq_pub(m, t, p, false);
}

bool be_send_release(mq *m, const char *prefix, const char *id, const char *res, uint64_t token, bool success,
                     const char *extra)
{
	char t[256], p[512];
	be_topic_of(t, sizeof t, prefix, "req", m->id);
	snprintf(
	    p, sizeof p,
	    "{\"v\":1,\"op\":\"release\",\"id\":\"%s\",\"resource\":\"%s\",\"token\":%llu,\"success\":%s%s}",
	    id, res, (unsigned long long)token, success ? "true" : "false", extra ? extra : "");
	return mq_pub(m, t, p, false);
}

/* A client of the coordinator under prefix, subscribed to its grant topic;
 * with a Will, it also says it is online. Begin, then end (see mq_begin). */
bool be_node_begin(mq *m, const char *uri, const char *prefix, const char *id, bool with_will)
{
	char will[256], off[160];
	be_topic_of(will, sizeof will, prefix, "node", id);
	snprintf(off, sizeof off, "{\"v\":1,\"node\":\"%s\",\"online\":false}", id);
	return mq_begin(m, uri, id, with_will ? will : NULL, off, NULL, NULL);
}

bool be_node_end(mq *m, const char *prefix, bool with_will)
{
	char will[256], grant[256], on[160];
	be_topic_of(will, sizeof will, prefix, "node", m->id);
	be_topic_of(grant, sizeof grant, prefix, "grant", m->id);
	if (!mq_end(m) || !mq_sub(m, grant))
		return false;
	snprintf(on, sizeof on, "{\"v\":1,\"node\":\"%s\",\"online\":true}", m->id);
	return !with_will || mq_pub(m, will, on, true);
}

bool be_node_open(mq *m, const char *uri, const char *prefix, const char *id, bool with_will)
{
	return be_node_begin(m, uri, prefix, id, with_will) && be_node_end(m, prefix, with_will);
}
