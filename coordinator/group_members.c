/*
 * group_members.c - membership changes on libraft (group_members.h).
 *
 * Owns the decision of what a request means against the configuration the
 * leader knows, and the add -> promote chain. Never touches the log's
 * entries, the table or the network; libraft does the change itself.
 * libraft behaviours relied on are pinned in tests/unit/test_group.c.
 */
#include "group_members.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *gm_result_name(gm_result r)
{
	static const char *const names[] = {"done",     "unchanged",  "pending",  "not_leader", "in_progress",
	                                    "conflict", "last_voter", "too_many", "failed"};
	return (unsigned)r <= GM_FAILED ? names[r] : "?";
}

static const char *role_name(int role)
{
	return role == RAFT_VOTER ? "voter" : role == RAFT_STANDBY ? "standby" : "spare";
}

static int cmp_member(const void *a, const void *b)
{
	const gm_member *x = a, *y = b;
	return x->id < y->id ? -1 : x->id > y->id;
}

size_t gm_members(const struct raft *r, gm_member *out, size_t cap)
{
	size_t n = 0;
	for (unsigned i = 0; i < r->configuration.n && n < cap; i++) {
		const struct raft_server *s = &r->configuration.servers[i];
		out[n].id = s->id;
		snprintf(out[n].address, sizeof out[n].address, "%s", s->address != NULL ? s->address : "");
		out[n].role = role_name(s->role);
		n++;
	}
	qsort(out, n, sizeof *out, cmp_member);
	return n;
}

static gm_result say(char *why, size_t cap, gm_result r, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static gm_result say(char *why, size_t cap, gm_result r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (why != NULL && cap > 0)
		vsnprintf(why, cap, fmt, ap);
	va_end(ap);
	return r;
}

/* A change that did not commit: libraft's status in words. */
static const char *failure(int status, int stage)
{
	if (status == RAFT_LEADERSHIPLOST || status == RAFT_NOTLEADER)
		return "leadership was lost before the change committed; ask again (the next leader may have "
		       "committed it)";
	if (stage == 2 && status == RAFT_NOCONNECTION)
		return "the new member did not catch up with the log in time (is it running with --join, and "
		       "reachable at its address from every member?); it stays a spare until asked again";
	return raft_strerror(status);
}

static void finish(gm_change *c, gm_result r, const char *why)
{
	c->busy = false;
	snprintf(c->why, sizeof c->why, "%s", why);
	if (c->done != NULL)
		c->done(c->ctx, r, c->why);
}

static void on_change(struct raft_change *req, int status);

/* raft_assign to voter: libraft first replicates the log to the member, and
 * appends the new configuration only once it has caught up. */
static int promote(gm_change *c)
{
	c->stage = 2;
	return raft_assign(c->r, &c->req, c->id, RAFT_VOTER, on_change);
}

/* raft_remove: from then on the leader sends the member nothing. */
static int drop(gm_change *c)
{
	c->stage = 3;
	return raft_remove(c->r, &c->req, c->id, on_change);
}

static void on_change(struct raft_change *req, int status)
{
	gm_change *c = req->data;
	char why[200];
	if (status != 0) {
		finish(c, GM_FAILED, failure(status, c->stage));
		return;
	}
	if (c->stage == 1 || c->stage == 4) {
		int rv = c->stage == 1 ? promote(c) : drop(c);
		if (rv != 0)
			finish(c, GM_FAILED, failure(rv, c->stage == 1 ? 2 : 3));
		return;
	}
	snprintf(why, sizeof why, "member %llu %s", (unsigned long long)c->id,
	         c->stage == 2 ? "added as a voter" : "removed");
	finish(c, GM_DONE, why);
}

static gm_result refuse_busy(const gm_change *c, struct raft *r, char *why, size_t cap)
{
	if (raft_state(r) != RAFT_LEADER)
		return say(why, cap, GM_NOT_LEADER, "this member is not the leader");
	if (c->busy || r->configuration_uncommitted_index != 0)
		return say(why, cap, GM_IN_PROGRESS,
		           "another membership change is in progress (one at a time); ask again when it is "
		           "done");
	return GM_PENDING;
}

static gm_result start_add(gm_change *c, const struct raft *r, const char *address, char *why, size_t cap)
{
	const struct raft_server *same = NULL;
	for (unsigned i = 0; i < r->configuration.n; i++) {
		const struct raft_server *s = &r->configuration.servers[i];
		bool addr_eq = s->address != NULL && strcmp(s->address, address) == 0;
		if (s->id == c->id && !addr_eq)
			return say(why, cap, GM_CONFLICT, "member %llu is in the group with address %s",
			           (unsigned long long)c->id, s->address);
		if (s->id != c->id && addr_eq)
			return say(why, cap, GM_CONFLICT, "address %s belongs to member %llu", address,
			           (unsigned long long)s->id);
		if (s->id == c->id)
			same = s;
	}
	if (same != NULL && same->role == RAFT_VOTER)
		return say(why, cap, GM_UNCHANGED, "member %llu is a voter at %s already",
		           (unsigned long long)c->id, address);
	if (same == NULL && r->configuration.n >= GROUP_MAX_PEERS)
		return say(why, cap, GM_TOO_MANY, "the group has %d members, the most it may have",
		           GROUP_MAX_PEERS);
	snprintf(c->address, sizeof c->address, "%s", address);
	int rv;
	if (same != NULL) { /* an earlier add committed it as a spare: promote it */
		if ((rv = promote(c)) != 0)
			return say(why, cap, GM_FAILED, "%s", failure(rv, 2));
		c->busy = true;
		return GM_PENDING;
	}
	c->stage = 1;
	if ((rv = raft_add(c->r, &c->add_req, c->id, c->address, on_change)) != 0)
		return say(why, cap, GM_FAILED, "%s", failure(rv, 1));
	c->busy = true;
	return GM_PENDING;
}

static gm_result start_remove(gm_change *c, const struct raft *r, char *why, size_t cap)
{
	const struct raft_server *it = NULL;
	unsigned voters = 0;
	for (unsigned i = 0; i < r->configuration.n; i++) {
		const struct raft_server *s = &r->configuration.servers[i];
		voters += s->role == RAFT_VOTER;
		if (s->id == c->id)
			it = s;
	}
	if (it == NULL)
		return say(why, cap, GM_UNCHANGED, "member %llu is not in the group",
		           (unsigned long long)c->id);
	if (it->role == RAFT_VOTER && voters == 1)
		return say(why, cap, GM_LAST_VOTER, "member %llu is the group's last voter",
		           (unsigned long long)c->id);
	/* A voter is made a standby first: that change still reaches it (a
	 * standby gets the log), so a live member learns it no longer votes
	 * and never campaigns again; the removal itself is never sent to it.
	 * The leader removing itself knows it anyway: libraft steps it down
	 * once the change committed. */
	int rv;
	if (it->role == RAFT_VOTER && c->id != r->id) {
		c->stage = 4;
		rv = raft_assign(c->r, &c->add_req, c->id, RAFT_STANDBY, on_change);
	} else {
		rv = drop(c);
	}
	if (rv != 0)
		return say(why, cap, GM_FAILED, "%s", failure(rv, 3));
	c->busy = true;
	return GM_PENDING;
}

gm_result gm_start(gm_change *c, struct raft *r, gm_op op, uint64_t id, const char *address, gm_done_fn done,
                   void *ctx, char *why, size_t cap)
{
	gm_result res = refuse_busy(c, r, why, cap);
	if (res != GM_PENDING)
		return res;
	if (id == 0 || id > GROUP_ID_MAX || (op == GM_ADD && (address == NULL || *address == '\0')) ||
	    (op == GM_ADD && strlen(address) > GROUP_ADDR_MAX) || (op != GM_ADD && op != GM_REMOVE))
		return say(why, cap, GM_FAILED, "bad change request");
	memset(&c->req, 0, sizeof c->req);
	memset(&c->add_req, 0, sizeof c->add_req);
	c->req.data = c->add_req.data = c;
	c->r = r;
	c->op = op;
	c->id = id;
	c->address[0] = '\0';
	c->why[0] = '\0';
	c->done = done;
	c->ctx = ctx;
	return op == GM_ADD ? start_add(c, r, address, why, cap) : start_remove(c, r, why, cap);
}
