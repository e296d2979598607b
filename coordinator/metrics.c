/*
 * metrics.c - the metrics recorder (owner thread) and its HTTP endpoint
 * (libmicrohttpd's thread); the text format lives in metrics_text.c.
 *
 * The owner thread writes only m->live and the batch's request list, with
 * no lock. metrics_publish() copies live into m->shared under m->mu; the
 * HTTP thread copies m->shared out under m->mu and formats after releasing
 * it. Nothing else takes m->mu, and nothing is called while it is held but
 * memcpy: it is never held across a paho, SQLite or libmicrohttpd call.
 * Costs on the owner thread: O(effects) per batch, one memcpy of
 * metrics_data (about 2 KB) per publish.
 */
#include "metrics.h"

#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "names.h"
#include "wire.h"

/* One request of the current batch, waiting for its answer. */
typedef struct pending_req {
	int op;
	bool has_id;
	int64_t arrived_ns;
	char node[NAMES_NODE_MAX + 1];
	char id[NAMES_ID_MAX + 1];
} pending_req;

struct metrics {
	metrics_data live; /* owner thread only */
	pending_req *pend;
	size_t n_pend, cap_pend;
	uint64_t inputs; /* since the last commit */
	pthread_mutex_t mu;
	metrics_data shared; /* under mu */
	struct MHD_Daemon *httpd;
};

metrics *metrics_new(void)
{
	metrics *m = calloc(1, sizeof *m);
	if (m != NULL && pthread_mutex_init(&m->mu, NULL) != 0) {
		free(m);
		m = NULL;
	}
	return m;
}

void metrics_free(metrics *m)
{
	if (m == NULL)
		return;
	if (m->httpd != NULL)
		MHD_stop_daemon(m->httpd);
	pthread_mutex_destroy(&m->mu);
	free(m->pend);
	free(m);
}

/* ---- recording (owner thread) ------------------------------------------ */

void metrics_request(metrics *m, const char *node, const char *id, int op, int64_t arrived_ns)
{
	if (m == NULL)
		return;
	m->inputs++;
	if (m->n_pend == m->cap_pend) {
		size_t cap = m->cap_pend ? 2 * m->cap_pend : 64;
		pending_req *p = realloc(m->pend, cap * sizeof *p);
		if (p == NULL)
			return;
		m->pend = p;
		m->cap_pend = cap;
	}
	pending_req *p = &m->pend[m->n_pend++];
	p->op = op >= 0 && op < METRICS_N_OPS ? op : 0;
	p->arrived_ns = arrived_ns;
	snprintf(p->node, sizeof p->node, "%s", node ? node : "");
	p->has_id = id != NULL;
	snprintf(p->id, sizeof p->id, "%s", id ? id : "");
}

void metrics_input(metrics *m)
{
	if (m != NULL)
		m->inputs++;
}

void metrics_bad_topic(metrics *m)
{
	if (m != NULL)
		m->live.rejections[-BATON_E_BAD_TOPIC]++;
}

static bool answers(const pending_req *p, const table_effect *e)
{
	const char *id = e->u.answer.id;
	return strcmp(p->node, e->node) == 0 &&
	       (id == NULL ? !p->has_id : p->has_id && strcmp(p->id, id) == 0);
}

/* The table puts a request's own answer after those it causes to others (a
 * successor's granted comes before the releaser's released), and the
 * requests' own answers in the order they were stepped: one walk pairs
 * them. A granted answer that is no request's own is a handoff (several at
 * once when shared waiters go in together); the outcome event that follows
 * them for the same resource says why the holding ended. */
void metrics_batch(metrics *m, const table_effect *fx, size_t n, int64_t now_ns)
{
	if (m == NULL)
		return;
	metrics_data *d = &m->live;
	size_t j = 0, handoffs = 0;
	const char *handoff = NULL; /* the resource of the handoffs not yet given a reason */
	for (size_t i = 0; i < n; i++) {
		const table_effect *e = &fx[i];
		if (e->kind == TABLE_FX_OUTCOME) {
			if (handoff != NULL && strcmp(handoff, e->resource) == 0 &&
			    (int)e->u.outcome.reason < METRICS_N_REASONS)
				d->handoffs[e->u.outcome.reason] += handoffs;
			handoff = NULL;
			handoffs = 0;
			continue;
		}
		if (e->kind != TABLE_FX_ANSWER)
			continue;
		const wire_answer *a = &e->u.answer;
		int st = (int)a->status < METRICS_N_STATUS ? (int)a->status : 0;
		if (a->status == WIRE_ST_REJECTED && -(int)a->code > 0 && -(int)a->code < METRICS_N_CODES)
			d->rejections[-(int)a->code]++;
		if (j < m->n_pend && answers(&m->pend[j], e)) {
			const pending_req *p = &m->pend[j++];
			d->requests[p->op][st]++;
			if (p->arrived_ns >= 0)
				metrics_hist_observe(&d->latency, &metrics_seconds_buckets,
				                     (double)(now_ns - p->arrived_ns) / 1e9);
		} else if (a->status == WIRE_ST_GRANTED) {
			/* shared waiters at the head are granted together */
			if (handoff == NULL || strcmp(handoff, a->resource) != 0)
				handoffs = 0;
			handoff = a->resource;
			handoffs++;
		}
	}
	for (; j < m->n_pend; j++)
		d->requests[m->pend[j].op][0]++; /* no answer of its own seen (should not happen) */
	m->n_pend = 0;
}

void metrics_commit(metrics *m, int64_t ns, bool ok)
{
	if (m == NULL)
		return;
	if (ns >= 0)
		metrics_hist_observe(&m->live.commit, &metrics_seconds_buckets, (double)ns / 1e9);
	if (!ok) {
		m->live.commit_failures++;
		return;
	}
	m->live.commits++;
	metrics_hist_observe(&m->live.batch, &metrics_batch_buckets, (double)m->inputs);
	m->inputs = 0;
}

void metrics_commit_failing(metrics *m, bool failing)
{
	if (m != NULL)
		m->live.commit_failing = failing;
}

void metrics_gauges(metrics *m, const table_counts *c, uint64_t backlog, bool broker_connected, bool serving)
{
	if (m == NULL)
		return;
	m->live.held = c->held;
	m->live.waiting = c->waiters;
	m->live.remembered = c->remembered;
	m->live.grants = c->grants;
	m->live.backlog = backlog;
	m->live.broker_connected = broker_connected;
	m->live.serving = serving;
}

void metrics_group_gauges(metrics *m, const metrics_group *g)
{
	if (m == NULL)
		return;
	m->live.in_group = true;
	m->live.g = *g;
}

int64_t metrics_now_ns(const metrics *m)
{
	struct timespec ts;
	if (m == NULL)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void metrics_publish(metrics *m)
{
	if (m == NULL)
		return;
	pthread_mutex_lock(&m->mu);
	m->shared = m->live;
	pthread_mutex_unlock(&m->mu);
}

void metrics_read(metrics *m, metrics_data *out)
{
	pthread_mutex_lock(&m->mu);
	*out = m->shared;
	pthread_mutex_unlock(&m->mu);
}

/* ---- the endpoint (libmicrohttpd's thread) ------------------------------- */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *type, char *body,
                             size_t len)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	enum MHD_Result ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_http(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                               const char *version, const char *upload, size_t *upload_size, void **con)
{
	metrics *m = cls;
	(void)version;
	(void)upload;
	(void)upload_size;
	(void)con;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", strdup("GET /metrics\n"), 13);
	if (strcmp(url, "/metrics") != 0)
		return reply(c, MHD_HTTP_NOT_FOUND, "text/plain", strdup("not found: try /metrics\n"), 24);
	metrics_data d;
	metrics_read(m, &d);
	char *body = NULL;
	size_t len = 0;
	if (metrics_format(&d, BATON_VERSION, &body, &len) != BATON_OK)
		return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain", strdup("out of memory\n"), 14);
	return reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", body, len);
}

baton_err metrics_listen(metrics *m, const char *addr, int *port, char *err, size_t cap)
{
	char host[256], service[8];
	int p = 0;
	if (metrics_parse_addr(addr, host, sizeof host, &p) != BATON_OK) {
		snprintf(err, cap, "--metrics-listen: '%s' is not HOST:PORT, [IPV6]:PORT or :PORT", addr);
		return BATON_E_INVAL;
	}
	snprintf(service, sizeof service, "%d", p);
	struct addrinfo hints = {.ai_flags = AI_PASSIVE | AI_NUMERICSERV, .ai_socktype = SOCK_STREAM},
	                *ai = NULL;
	int gai = getaddrinfo(host[0] ? host : NULL, service, &hints, &ai);
	if (gai != 0) {
		snprintf(err, cap, "--metrics-listen %s: %s", addr, gai_strerror(gai));
		return BATON_E_INVAL;
	}
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | (ai->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0);
	m->httpd = MHD_start_daemon(flags, (uint16_t)p, NULL, NULL, on_http, m, MHD_OPTION_SOCK_ADDR,
	                            ai->ai_addr, MHD_OPTION_CONNECTION_LIMIT, 32u,
	                            MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
	freeaddrinfo(ai);
	if (m->httpd == NULL) {
		snprintf(err, cap,
		         "--metrics-listen %s: cannot listen there (in use, or not an address of this host)",
		         addr);
		return BATON_E_IO;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(m->httpd, MHD_DAEMON_INFO_BIND_PORT);
	*port = info != NULL ? info->port : p;
	return BATON_OK;
}
