/*
 * probe.h - the coordinator's look at the broker before it serves: is
 * another coordinator instance online on the prefix, and what token floor
 * and last sign of life does the broker still show for it?
 *
 * The probe is a separate MQTT connection: a clean session under its own
 * client id and without a Will, so that looking never takes over a live
 * instance's persistent session (same --client-id) and never overwrites its
 * presence. It reads the retained P/coordinator, P/stats and P/state/#, and
 * knows it has seen all of them when the broker acknowledges its unsubscribe
 * (mosquitto handles a client's packets in order). When another instance's
 * online:true is retained, the probe keeps listening on P/coordinator and
 * P/stats for up to will_wait_ms: a live P/stats or presence means it serves
 * (a conflict, at once); its Will means it is gone (a coordinator whose host
 * died stays "online" until the broker notices); silence means the presence
 * is stale (a broker restarted without the connection that would have fired
 * the Will), and the probe says so in the log.
 * A group's leader looks the same way before it takes the group's session
 * (daemon_group.c), without blocking its raft loop (probe_start/step), and
 * never counts a presence of the group's own leaders (guard_group_own).
 * Owner thread only; probe_run blocks until done, told to stop, or refused.
 */
#ifndef BATON_PROBE_H
#define BATON_PROBE_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "baton_error.h"
#include "broker.h"

typedef struct probe_options {
	broker_options broker; /* uri, credentials, TLS, wake_fd; client_id: the probe's own */
	const char *prefix;
	int will_wait_ms;            /* how long another instance's Will may take */
	volatile sig_atomic_t *stop; /* set by a signal: give up (probe_run only) */
	const uint64_t *group;       /* a group's member ids (borrowed), whose leaders' presences */
	size_t n_group;              /* are never another instance; NULL, 0: a single process */
} probe_options;

typedef struct probe_result {
	bool other;               /* another instance is online and its Will did not come */
	char other_instance[72];  /* its instance id ("" when its presence had none) */
	int64_t other_started_ms; /* its started_at, 0: none */
	uint64_t floor;           /* the next token must be at least this; 0: no floor */
	char floor_source[96];    /* where the floor came from, for the log */
	int64_t last_alive_ms;    /* "at" of the retained P/stats, 0: none */
} probe_result;

/* Connects, looks, disconnects cleanly. BATON_OK with *out filled;
 * BATON_E_BROKER when the broker refused the connection (err says why);
 * BATON_E_CANCELLED when *stop was set; BATON_E_NOMEM, BATON_E_INVAL. An
 * unreachable broker is retried with backoff (logged), not an error. */
baton_err probe_run(const probe_options *o, probe_result *out, char *err, size_t cap);

/* The same look, step by step, for a loop that must not block. probe_start
 * connects (o is copied; what it points to is borrowed until probe_free);
 * probe_step takes what arrived without blocking and sets *finished when
 * the look is over (probe_result_of is then final), and *wait_ms to the
 * longest the caller may wait (on o->broker.wake_fd) before the next step.
 * Errors as probe_run's. probe_free disconnects cleanly; NULL is fine. */
typedef struct probe probe;
baton_err probe_start(const probe_options *o, probe **out, char *err, size_t cap);
baton_err probe_step(probe *p, bool *finished, int *wait_ms, char *err, size_t cap);
const probe_result *probe_result_of(const probe *p);
void probe_free(probe *p);

#endif
