/*
 * admin_cli.c - the operator's side of membership requests (admin_cli.h).
 *
 * Owns the command line of `member add|remove`, one short-lived MQTT
 * connection (its own client id, clean session) and the wait for the
 * answer. Re-sends the same request (same id: the leader's decision is
 * idempotent) while nobody answers or the answer is "not the leader", until
 * --wait runs out. Never touches raft or state files.
 */
#include "admin_cli.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "broker.h"
#include "config.h"
#include "daemon.h"
#include "duration.h"
#include "names.h"
#include "peers.h"
#include "wire_admin.h"

enum { EXIT_DONE = 0, EXIT_REFUSED = 1, EXIT_USAGE = 64, EXIT_UNAVAILABLE = 69 };
#define RESEND_MS 5000

static int64_t now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int usage(FILE *out, int status)
{
	fprintf(out, "Usage: baton-coordinator member add ID HOST:PORT [--wait DUR] [OPTIONS]\n"
	             "       baton-coordinator member remove ID [--wait DUR] [OPTIONS]\n"
	             "Asks the serving leader of the replicated group on --prefix, over --broker, to add a "
	             "member (started first with --join) or to remove one for good, and prints its answer.\n"
	             "--wait DUR: how long to wait for an answer (default 30s). OPTIONS: --broker, --prefix, "
	             "--username, --password-file, --cafile, --cert, --key (baton-coordinator --help).\n"
	             "Exit status: 0 done (or so already), 1 refused, 64 usage, 69 no answer in time.\n");
	return status;
}

/* Parses the operands into r, and takes --wait out of the rest. */
static int parse_args(int argc, char **argv, wire_admin_req *r, uint64_t *wait_ms, char **rest, int *n_rest)
{
	char err[256];
	int k = 3;
	if (argc < 4 || (strcmp(argv[2], "add") != 0 && strcmp(argv[2], "remove") != 0))
		return usage(stderr, EXIT_USAGE);
	r->op = strcmp(argv[2], "add") == 0 ? WIRE_ADMIN_ADD : WIRE_ADMIN_REMOVE;
	if (group_member_parse(argv[k++], &r->member) != BATON_OK) {
		fprintf(stderr, "baton-coordinator member: '%s' is not a member id 1..999999\n", argv[3]);
		return EXIT_USAGE;
	}
	if (r->op == WIRE_ADMIN_ADD) {
		char text[128];
		group_peer p[1];
		size_t n = 0;
		if (argc < 5 || argv[4][0] == '-')
			return usage(stderr, EXIT_USAGE);
		snprintf(text, sizeof text, "%s=%s", argv[3], argv[4]);
		if (group_peers_parse(text, p, &n, err, sizeof err) != BATON_OK) {
			fprintf(
			    stderr,
			    "baton-coordinator member add: '%s' is not HOST:PORT with an IPv4 address and a "
			    "port 1..65535\n",
			    argv[4]);
			return EXIT_USAGE;
		}
		snprintf(r->address, sizeof r->address, "%s", p[0].address);
		k++;
	}
	rest[(*n_rest)++] = argv[0];
	for (; k < argc; k++) {
		if (strcmp(argv[k], "--wait") == 0 && k + 1 < argc) {
			if (duration_parse(argv[++k], wait_ms, err, sizeof err) != BATON_OK ||
			    *wait_ms == 0) {
				fprintf(stderr, "baton-coordinator member: --wait: %s\n",
				        err[0] ? err : "must be > 0");
				return EXIT_USAGE;
			}
			continue;
		}
		rest[(*n_rest)++] = argv[k];
	}
	return -1;
}

static void print_answer(const wire_admin_ans *a)
{
	printf("%s: %s (member %llu answered)\n",
	       a->done ? (a->changed ? "done" : "done, nothing to change") : a->reason, a->message,
	       (unsigned long long)a->by);
	for (size_t i = 0; i < a->n_members; i++)
		printf("  member %llu %s %s\n", (unsigned long long)a->members[i].id, a->members[i].address,
		       a->members[i].role);
}

typedef struct asking {
	const config *cfg;
	broker *b;
	int wake;
	char ans_topic[NAMES_TOPIC_MAX + 1], req_topic[NAMES_TOPIC_MAX + 1];
	char *req;
	size_t req_len;
	int64_t resend_at;
	bool connected;
} asking;

/* One answer for our id: the exit status, or -1 to keep waiting. */
static int on_message(asking *k, const broker_msg *x, const char *id)
{
	wire_admin_ans a;
	if (strcmp(x->topic, k->ans_topic) != 0 ||
	    wire_admin_ans_decode(x->payload, x->len, &a) != BATON_OK || strcmp(a.id, id) != 0)
		return -1;
	if (!a.done && strcmp(a.reason, "not_leader") == 0) {
		k->resend_at = now_ms() + 200; /* a new leader is on its way */
		return -1;
	}
	print_answer(&a);
	return a.done ? EXIT_DONE : EXIT_REFUSED;
}

static int wait_answer(asking *k, const char *id, uint64_t wait_ms)
{
	int64_t until = now_ms() + (int64_t)wait_ms;
	while (now_ms() < until) {
		struct pollfd p = {.fd = k->wake, .events = POLLIN};
		if (poll(&p, 1, 100) > 0) {
			uint64_t v;
			ssize_t n = read(k->wake, &v, sizeof v);
			(void)n;
		}
		broker_inbox in;
		broker_take(k->b, &in);
		if (in.refused) {
			fprintf(stderr,
			        "baton-coordinator member: the broker refused us (%s); check --username, "
			        "--password-file and the ACL\n",
			        broker_error(k->b));
			broker_msgs_free(in.msgs);
			return EXIT_UNAVAILABLE;
		}
		if (in.connects > 0) {
			broker_on_connected(k->b); /* subscribes before the request goes out */
			k->connected = true;
			k->resend_at = now_ms();
		}
		int status = -1;
		for (broker_msg *x = in.msgs; x != NULL && status < 0; x = x->next)
			status = on_message(k, x, id);
		broker_msgs_free(in.msgs);
		if (status >= 0)
			return status;
		if (k->connected && now_ms() >= k->resend_at) {
			broker_publish(k->b, k->req_topic, k->req, k->req_len, 1, false);
			k->resend_at = now_ms() + RESEND_MS;
		}
	}
	const char *e = broker_error(k->b);
	if (!k->connected && e != NULL && e[0] != '\0')
		fprintf(stderr, "baton-coordinator member: %s\n", e);
	else if (!k->connected)
		fprintf(stderr, "baton-coordinator member: cannot reach the broker %s within %llums\n",
		        k->cfg->broker, (unsigned long long)wait_ms);
	else
		fprintf(stderr,
		        "baton-coordinator member: no answer within %llums from a serving leader on %s (is a "
		        "group with a leader serving this --prefix, and may this user write %s?)\n",
		        (unsigned long long)wait_ms, k->cfg->broker, k->req_topic);
	return EXIT_UNAVAILABLE;
}

static int ask(const config *cfg, wire_admin_req *r, uint64_t wait_ms)
{
	char asker[NAMES_NODE_MAX + 1], err[512];
	asking k = {.cfg = cfg, .wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)};
	snprintf(asker, sizeof asker, "admin-%ld-%llx", (long)getpid(), (unsigned long long)now_ms());
	snprintf(r->id, sizeof r->id, "%s", asker);
	int status = EXIT_UNAVAILABLE;
	if (k.wake < 0 ||
	    names_topic(k.ans_topic, sizeof k.ans_topic, cfg->prefix, NAMES_ADMIN_ANS, asker, NULL) ||
	    names_topic(k.req_topic, sizeof k.req_topic, cfg->prefix, NAMES_ADMIN_REQ, asker, NULL) ||
	    wire_admin_req_encode(r, &k.req, &k.req_len) != BATON_OK) {
		fprintf(stderr, "baton-coordinator member: bad --prefix or out of resources\n");
		goto out;
	}
	const char *subs[] = {k.ans_topic};
	broker_options o = daemon_broker_options(cfg, k.wake, asker);
	o.clean_session = true;
	o.subs = subs;
	o.n_subs = 1;
	if (broker_new(&o, &k.b, err, sizeof err) != BATON_OK || broker_start(k.b) != BATON_OK) {
		fprintf(stderr, "baton-coordinator member: %s\n",
		        err[0] ? err : "cannot start the MQTT client");
		goto out;
	}
	status = wait_answer(&k, r->id, wait_ms);
	broker_stop(k.b, 1000);
out:
	broker_free(k.b);
	free(k.req);
	if (k.wake >= 0)
		close(k.wake);
	return status;
}

int admin_cli_main(int argc, char **argv)
{
	if (argc >= 3 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0))
		return usage(stdout, EXIT_DONE);
	wire_admin_req r = {0};
	uint64_t wait_ms = 30000;
	char **rest = calloc((size_t)argc + 1, sizeof *rest);
	int n_rest = 0, status;
	if (rest == NULL)
		return EXIT_UNAVAILABLE;
	if ((status = parse_args(argc, argv, &r, &wait_ms, rest, &n_rest)) >= 0) {
		free(rest);
		return status;
	}
	config cfg;
	char err[512] = "";
	config_init(&cfg);
	if (config_parse(&cfg, n_rest, rest, err, sizeof err) != BATON_OK ||
	    config_validate_client(&cfg, err, sizeof err) != BATON_OK) {
		fprintf(stderr, "baton-coordinator member: %s\n", err);
		status = EXIT_USAGE;
	} else {
		status = ask(&cfg, &r, wait_ms);
	}
	config_deinit(&cfg);
	free(rest);
	return status;
}
