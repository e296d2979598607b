/*
 * guard.c - the coordinator's instance id, the conflict rule of PROTOCOL.md
 * "Coordinator identity", and the bookkeeping of gaps in its own service
 * (guard.h says why).
 *
 * Owns no resources and does no I/O but one read of the kernel's random
 * source for an instance id; never logs; time is passed in.
 */
#include "guard.h"

#include <stdio.h>
#include <string.h>
#include <sys/random.h>

void guard_init(guard *g, const char *instance, int64_t since_ms)
{
	memset(g, 0, sizeof *g);
	snprintf(g->instance, sizeof g->instance, "%s", instance ? instance : "");
	g->paused_since = since_ms > 0 ? since_ms : 1;
	g->cause = "start";
}

bool guard_instance_new(char *buf, size_t cap)
{
	unsigned char r[8];

	if (cap < 19 || getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
		return false;
	snprintf(buf, cap, "c-%02x%02x%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3], r[4], r[5], r[6],
	         r[7]);
	return true;
}

static void pause_at(guard *g, int64_t since, const char *cause)
{
	if (g->paused_since == 0 || since < g->paused_since)
		g->paused_since = since > 0 ? since : 1;
	g->cause = cause;
	g->echoed = false;
	g->marker_at = 0;
	g->marker_armed = false;
	g->marker_due = true;
}

void guard_planned(guard *g, int64_t wake_at)
{
	g->planned_at = wake_at;
}

bool guard_woke(guard *g, int64_t now)
{
	if (g->planned_at == 0 || now - g->planned_at <= GUARD_STALL_MS)
		return false;
	pause_at(g, g->planned_at, "the coordinator's loop stalled or its process was stopped");
	return true;
}

void guard_lost(guard *g, int64_t now)
{
	g->connected = false;
	pause_at(g, now, "the broker connection was lost");
}

void guard_connected(guard *g)
{
	g->connected = true;
	if (g->paused_since != 0)
		g->marker_due = true; /* on_connect publishes the presence: the marker */
}

void guard_take_begin(guard *g)
{
	g->marker_armed = g->marker_at != 0;
}

bool guard_marker_due(const guard *g)
{
	return g->paused_since != 0 && g->connected && g->marker_due;
}

void guard_marker_sent(guard *g, int64_t now)
{
	g->marker_due = false;
	g->marker_at = now > 0 ? now : 1;
	g->marker_armed = false; /* what is being taken now was received before it */
	g->echoed = false;
}

guard_verdict guard_presence(guard *g, const wire_presence *p, bool retained)
{
	if (!p->online)
		return GUARD_IGNORE; /* a Will (ours or another's): nobody serves under it */
	if (p->instance != NULL && strcmp(p->instance, g->instance) == 0) {
		if (retained)
			return GUARD_IGNORE;
		g->seen_own = true;
		if (g->marker_armed)
			g->echoed = true;
		return GUARD_OWN_ECHO;
	}
	/* Before our own presence has come back, whatever the broker delivers
	 * was published before ours: the retained store, and the messages our
	 * persistent session queued while no instance was connected (a killed
	 * predecessor's own presence among them, delivered as live). Those
	 * predate this instance and are the start-up probe's business. After
	 * the echo, another instance online is newer than us: a conflict. */
	return g->seen_own ? GUARD_CONFLICT : GUARD_IGNORE;
}

int64_t guard_resume(guard *g, int64_t now, bool *echoed)
{
	if (g->paused_since == 0 || !g->connected || g->marker_at == 0)
		return 0;
	if (!g->echoed && now - g->marker_at < GUARD_ECHO_WAIT_MS)
		return 0;
	int64_t gap = now - g->paused_since;
	*echoed = g->echoed;
	g->paused_since = 0;
	g->marker_at = 0;
	g->echoed = false;
	return gap > 0 ? gap : 1;
}

bool guard_paused(const guard *g)
{
	return g->paused_since != 0;
}

bool guard_group_own(const wire_presence *p, const uint64_t *ids, size_t n)
{
	bool found = false;
	for (size_t i = 0; i < n && !found; i++)
		found = p->member != 0 && ids[i] == p->member;
	if (!found || p->instance == NULL)
		return false;
	char head[32];
	int k = snprintf(head, sizeof head, "g%llu-t", (unsigned long long)p->member);
	size_t hl = (size_t)k, len = strlen(p->instance);
	if (len <= hl || strncmp(p->instance, head, hl) != 0)
		return false;
	return strspn(p->instance + hl, "0123456789") == len - hl;
}
