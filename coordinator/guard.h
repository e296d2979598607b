/*
 * guard.h - what the coordinator knows about itself that keeps its promises
 * through its own outages: its instance id, whether another instance serves
 * the prefix (PROTOCOL.md "Coordinator identity"), and the gaps in its own
 * service during which no lease may end.
 *
 * A gap begins when the owner loop wakes much later than it planned (stalled
 * or stopped), when the broker connection is lost, and at start; lease
 * deadlines are held back from then on. It ends once the coordinator is
 * connected and its own presence, published after the gap, has come back
 * from the broker: everything the broker queued for it before (the renews
 * that waited) has then been taken. The daemon then moves every lease later
 * by the whole gap (table_extend_leases). Agents count leases by their own
 * clocks, so this costs liveness, never safety.
 *
 * Pure bookkeeping: no I/O, no clock (now is passed in), no logging; the
 * daemon logs what the return values say. Not thread-safe: the owner thread.
 */
#ifndef BATON_GUARD_H
#define BATON_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire.h"

/* A loop wake-up later than planned by more than this is a gap. */
#define GUARD_STALL_MS 1000
/* Connected, a presence published, its echo not back after this long: the
 * gap ends anyway (a broker ACL may forbid reading P/coordinator). */
#define GUARD_ECHO_WAIT_MS 10000
#define GUARD_INSTANCE_MAX 40

typedef enum guard_verdict {
	GUARD_IGNORE = 0, /* nothing to act on */
	GUARD_OWN_ECHO,   /* our own presence, live: the broker has delivered all before it */
	GUARD_CONFLICT,   /* another instance is online on the prefix */
} guard_verdict;

typedef struct guard {
	char instance[GUARD_INSTANCE_MAX + 1];
	int64_t planned_at;   /* when the loop meant to wake up next; 0: unknown */
	int64_t paused_since; /* lease deadlines held back since; 0: not paused */
	int64_t marker_at;    /* when the presence marking the gap's end went out; 0: none */
	bool marker_armed;    /* its echo may be in what is taken now */
	bool marker_due;      /* a presence must go out to end the gap */
	bool echoed;          /* the marker came back */
	bool connected;
	bool seen_own;     /* our own live presence came back at least once */
	const char *cause; /* static text: what began the pause */
} guard;

/* Starts paused since since_ms (the start of the outage: the previous
 * instance's last sign of life, or now), disconnected. instance is copied
 * (truncated to GUARD_INSTANCE_MAX). Cannot fail. */
void guard_init(guard *g, const char *instance, int64_t since_ms);

/* Writes a fresh random instance id ("c-" and 16 hex digits) into buf
 * (cap >= 19). Reads the kernel's random source; false if it cannot. */
bool guard_instance_new(char *buf, size_t cap);

/* The loop is about to sleep until wake_at. Cannot fail. */
void guard_planned(guard *g, int64_t wake_at);

/* The loop woke up at now: true when that is a gap (later than planned by
 * more than GUARD_STALL_MS); the pause then began when it planned to wake. */
bool guard_woke(guard *g, int64_t now);

/* Connection lost at now / made at now. Cannot fail. */
void guard_lost(guard *g, int64_t now);
void guard_connected(guard *g);

/* At the start of each take of the inbox: a marker published before it may
 * have come back in what is taken now. Cannot fail. */
void guard_take_begin(guard *g);

/* True when the daemon must publish its presence (the marker); it then
 * calls guard_marker_sent. */
bool guard_marker_due(const guard *g);
void guard_marker_sent(guard *g, int64_t now);

/* Classifies a presence received on P/coordinator (retained: replayed from
 * the broker's store). Another instance online is a conflict once our own
 * presence has come back at least once (it is then newer than ours); what
 * arrives before that, retained or queued in our persistent session (a killed
 * predecessor's presence arrives as a live message), predates this instance
 * and is the start-up probe's business. Of two instances that announce
 * themselves at once, the broker's order decides: the earlier sees the later
 * after its own echo and stops; the later serves. */
guard_verdict guard_presence(guard *g, const wire_presence *p, bool retained);

/* When paused and the gap can end at now (connected, and the marker came
 * back or GUARD_ECHO_WAIT_MS passed since it went out): ends it and returns
 * its length in ms (>= 1), with *echoed saying whether the marker came back.
 * Otherwise 0. */
int64_t guard_resume(guard *g, int64_t now, bool *echoed);

bool guard_paused(const guard *g);

/* True when p is the presence (online or not) of a leader of the group
 * whose members are ids[0..n) (its --peers and the configuration it knows:
 * members come and go): it names one of them in member and its instance is
 * "g<member>-t<term>" (daemon_group.c). Such a presence is never another
 * instance to that group's members, whatever its term: a frozen leader's,
 * or one that handed leadership over (it disconnects cleanly, no Will),
 * stays online:true, retained, and once the next leader takes its session
 * over its Will never fires. Always false with n 0 (a single process: a
 * group's leader is another instance to it). */
bool guard_group_own(const wire_presence *p, const uint64_t *ids, size_t n);

#endif
