/*
 * group_admin.c - membership requests on the serving leader (group_admin.h).
 *
 * Owns the request -> group_change -> answer path and who waits for the
 * change in flight. Never writes the raft log itself and never publishes
 * on the serving connection (answers use the health connection).
 */
#include "group_admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "peers.h"

/* How long a hand-over may take before a re-sent request for this leader's
 * removal is carried out by libraft instead (raft_transfer gives up after an
 * election timeout). */
#define HAND_OVER_MS 3000

void group_admin_init(group_admin *a, const char *prefix, uint64_t self, group *g, broker *const *out)
{
	memset(a, 0, sizeof *a);
	a->prefix = prefix;
	a->self = self;
	a->g = g;
	a->out = out;
}

baton_err group_admin_filter(const group_admin *a, char *buf, size_t cap)
{
	return names_filter(buf, cap, a->prefix, NAMES_ADMIN_REQ, NULL, NULL);
}

bool group_admin_is_request(const group_admin *a, const broker_msg *msg)
{
	const char *asker;
	size_t len;
	char filter[NAMES_TOPIC_MAX + 1];
	if (names_admin_req_parse(a->prefix, msg->topic, msg->topic_len, &asker, &len))
		return true;
	/* Also one whose asker is not a valid node id: ours to drop, never the
	 * lock table's. */
	size_t n = 0;
	if (names_filter(filter, sizeof filter, a->prefix, NAMES_ADMIN_REQ, NULL, &n) != BATON_OK)
		return false;
	return msg->topic_len >= n - 1 && memcmp(msg->topic, filter, n - 1) == 0;
}

static void fill_members(group_admin *a, wire_admin_ans *ans)
{
	gm_member ms[GROUP_MAX_PEERS];
	size_t n = group_members_get(a->g, ms, GROUP_MAX_PEERS);
	for (size_t i = 0; i < n && i < WIRE_PEERS_MAX; i++) {
		ans->members[i].id = ms[i].id;
		snprintf(ans->members[i].address, sizeof ans->members[i].address, "%s", ms[i].address);
		ans->members[i].role = ms[i].role;
	}
	ans->n_members = n < WIRE_PEERS_MAX ? n : WIRE_PEERS_MAX;
}

/* Publishes ans, with the configuration this member knows, to asker. */
static void publish_answer(group_admin *a, const char *asker, wire_admin_ans *ans)
{
	char topic[NAMES_TOPIC_MAX + 1];
	char *json = NULL;
	size_t len = 0;
	broker *b = *a->out;
	fill_members(a, ans);
	a->answered++;
	if (b == NULL ||
	    names_topic(topic, sizeof topic, a->prefix, NAMES_ADMIN_ANS, asker, NULL) != BATON_OK ||
	    wire_admin_ans_encode(ans, &json, &len) != BATON_OK ||
	    broker_publish(b, topic, json, len, 1, false) != BATON_OK)
		LOG_W("cannot publish a membership answer", "asker", asker, "id", ans->id);
	free(json);
}

static void answer(group_admin *a, const char *asker, const char *id, gm_result r, const char *why)
{
	wire_admin_ans ans = {.done = r == GM_DONE || r == GM_UNCHANGED,
	                      .changed = r == GM_DONE,
	                      .reason = r == GM_DONE || r == GM_UNCHANGED ? NULL : gm_result_name(r),
	                      .by = a->self};
	snprintf(ans.id, sizeof ans.id, "%s", id);
	snprintf(ans.message, sizeof ans.message, "%s", why);
	LOG_I("membership request answered", "asker", asker, "id", id, "result", gm_result_name(r), "message",
	      why);
	publish_answer(a, asker, &ans);
}

static void refuse_bad(group_admin *a, const char *asker, const char *id, const char *why)
{
	wire_admin_ans ans = {.reason = "bad_request", .by = a->self};
	snprintf(ans.id, sizeof ans.id, "%s", id);
	snprintf(ans.message, sizeof ans.message, "%s", why);
	LOG_W("bad membership request", "asker", asker, "error", why);
	publish_answer(a, asker, &ans);
}

static void on_change_done(void *ctx, gm_result r, const char *why)
{
	group_admin *a = ctx;
	for (size_t i = 0; i < a->n_waiting && *a->out != NULL; i++) /* NULL: stopping */
		answer(a, a->waiting[i].asker, a->waiting[i].id, r, why);
	a->n_waiting = 0;
	a->busy = false;
}

static bool same_change(const wire_admin_req *x, const wire_admin_req *y)
{
	return x->op == y->op && x->member == y->member && strcmp(x->address, y->address) == 0;
}

static void wait_for(group_admin *a, const char *asker, const char *id)
{
	if (a->n_waiting == GROUP_ADMIN_WAITERS)
		return; /* answered through the others; this asker re-sends */
	snprintf(a->waiting[a->n_waiting].asker, sizeof a->waiting[0].asker, "%s", asker);
	snprintf(a->waiting[a->n_waiting].id, sizeof a->waiting[0].id, "%s", id);
	a->n_waiting++;
}

/* An add's address must be what --peers takes: parsed by the one parser. */
static bool address_ok(const wire_admin_req *r, char *why, size_t cap)
{
	char text[96];
	group_peer p[1];
	size_t n = 0;
	snprintf(text, sizeof text, "%llu=%s", (unsigned long long)r->member, r->address);
	if (group_peers_parse(text, p, &n, NULL, 0) == BATON_OK)
		return true;
	snprintf(why, cap, "address '%s' is not HOST:PORT with an IPv4 address and a port 1..65535",
	         r->address);
	return false;
}

static void on_handed(void *ctx)
{
	(void)ctx; /* follow_role() sees the new role */
}

/* Removing the serving leader: libraft would commit the change, step down
 * and leave the others to an election timeout; handing leadership over first
 * (raft_transfer, milliseconds) lets the new leader remove this member as a
 * follower. Once per request id: asked again while still the leader after
 * HAND_OVER_MS, the hand-over failed and libraft's way is taken. */
static bool hand_over_first(group_admin *a, const wire_admin_req *r, const char *asker)
{
	if (r->op != WIRE_ADMIN_REMOVE || r->member != a->self || a->busy)
		return false;
	bool again = strcmp(a->handed_id, r->id) == 0;
	if (again && dclock_mono_ms() - a->handed_at > HAND_OVER_MS)
		return false; /* the hand-over did not happen: libraft's way */
	if (!again && group_transfer(a->g, on_handed, a) != BATON_OK)
		return false; /* no other voter (last_voter follows), or a transfer in flight */
	if (!again) {
		snprintf(a->handed_id, sizeof a->handed_id, "%s", r->id);
		a->handed_at = dclock_mono_ms();
	}
	answer(a, asker, r->id, GM_NOT_LEADER,
	       "handing leadership over to another member before removing this one; ask again (the "
	       "baton-coordinator member command does)");
	return true;
}

void group_admin_handle(group_admin *a, const broker_msg *msg)
{
	const char *asker_p = NULL;
	size_t alen = 0;
	char asker[NAMES_NODE_MAX + 1], why[256];
	if (!names_admin_req_parse(a->prefix, msg->topic, msg->topic_len, &asker_p, &alen)) {
		LOG_W("membership request on a topic whose last level is not a valid id; dropped", "topic",
		      msg->topic);
		return;
	}
	snprintf(asker, sizeof asker, "%.*s", (int)alen, asker_p);
	if (msg->retained) {
		/* A retained request would be carried out again at every new leader. */
		LOG_W("retained membership request ignored (publish it without retain)", "asker", asker);
		return;
	}
	wire_admin_req r;
	const char *bad = "";
	baton_err rc = wire_admin_req_decode(msg->payload, msg->len, &r, &bad);
	if (rc != BATON_OK) {
		snprintf(why, sizeof why, "%s%s%s", baton_strerror(rc), bad[0] ? ": " : "", bad);
		refuse_bad(a, asker, r.id, why);
		return;
	}
	if (r.op == WIRE_ADMIN_ADD && !address_ok(&r, why, sizeof why)) {
		refuse_bad(a, asker, r.id, why);
		return;
	}
	if (hand_over_first(a, &r, asker))
		return;
	if (a->busy && same_change(&a->pending, &r)) {
		wait_for(a, asker, r.id); /* asked again while in flight: one change, both answered */
		return;
	}
	gm_result res =
	    group_change(a->g, r.op == WIRE_ADMIN_ADD ? GM_ADD : GM_REMOVE, r.member,
	                 r.op == WIRE_ADMIN_ADD ? r.address : NULL, on_change_done, a, why, sizeof why);
	if (res != GM_PENDING) {
		answer(a, asker, r.id, res, why);
		return;
	}
	char id[24];
	snprintf(id, sizeof id, "%llu", (unsigned long long)r.member);
	LOG_I("membership change started", "op", r.op == WIRE_ADMIN_ADD ? "add" : "remove", "member", id,
	      "address", r.address);
	a->busy = true;
	a->pending = r;
	a->n_waiting = 0;
	wait_for(a, asker, r.id);
}
