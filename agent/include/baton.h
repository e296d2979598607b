/*
 * baton.h - libbaton, the agent side of Baton: take a distributed lock over
 * MQTT, hold it (renewed in the background) and release it, or watch locks.
 *
 * This header is the documentation. The wire contract it speaks is
 * PROTOCOL.md (v1); errors are the one enum of baton_error.h.
 *
 * Objects
 *   baton_client  one MQTT connection = one node. Created with
 *                 baton_client_new(), freed with baton_client_free().
 *   baton_lock    one acquire request and the holding it may turn into.
 *                 Created by baton_acquire(), freed with baton_lock_free().
 *   baton_watch   a subscription to events and snapshots of resources.
 *                 Created by baton_watch_new(), freed with baton_watch_free().
 *
 * Threads
 *   Every function may be called from any thread; a client serialises
 *   access to its state with its own mutex. Each client runs one thread of
 *   its own (the "client thread") that reads answers, renews leases, detects
 *   lost locks and calls every callback you give it (except the log callback,
 *   which may be called from any thread, also from inside libbaton calls).
 *   Callbacks run one at a time, without any libbaton lock held. A callback
 *   may call any non-blocking function (timeout 0) but must not block in
 *   libbaton: a blocking call made on the client thread returns BATON_E_INVAL.
 *   A slow callback delays renewals of every lock of that client.
 *
 * Errors
 *   Every function that can fail returns a baton_err: BATON_OK (0) or a
 *   negative BATON_E_* value; its out-parameters are then untouched. A
 *   human-readable message of the client's last failure is available from
 *   baton_client_last_error(). If a function that takes a callback fails, the
 *   callback is never called (libuv's rule). libbaton never prints and never
 *   exits; it reports through its return values, callbacks and the log
 *   callback.
 *
 * Time
 *   Durations are milliseconds. Lease deadlines are kept on the monotonic
 *   clock of this process. Instants in events (completed_at_ms, since_ms, ...)
 *   are wall-clock milliseconds since the Unix epoch, as the coordinator
 *   wrote them.
 *
 * Reconnects
 *   The client reconnects by itself with backoff. After every (re)connect
 *   it subscribes to its answers before it sends anything, announces itself
 *   online, and re-sends every request still unanswered with the same id
 *   (repeats are harmless by contract). It does the same when the
 *   coordinator announces a new start.
 */
#ifndef BATON_H
#define BATON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "baton_error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define BATON_PREFIX_DEFAULT    "baton/v1"
#define BATON_BROKER_DEFAULT    "tcp://127.0.0.1:1883"
#define BATON_NODE_MAX          64   /* bytes of a node id, [A-Za-z0-9._-] */
#define BATON_RESOURCE_MAX      200  /* bytes of a resource name */
#define BATON_KEEPALIVE_DEFAULT 10   /* seconds, when baton_options.keepalive_s is 0 */
#define BATON_RESULT_MAX        4096 /* bytes of a release result */
#define BATON_ERROR_MAX         1024 /* bytes of a release error text */
#define BATON_WAIT_FOREVER      (-1) /* a timeout or wait without end */

typedef struct baton_client baton_client;
typedef struct baton_lock baton_lock;
typedef struct baton_watch baton_watch;

typedef enum baton_mode {
	BATON_MODE_ONCE = 0,  /* the first success ends it for everyone */
	BATON_MODE_MUTEX = 1, /* plain mutual exclusion; with permits > 1 a semaphore */
	BATON_MODE_SHARED = 2 /* a read lock: any number of shared holders, no mutex beside them */
} baton_mode;

/* Why a holding ended. */
typedef enum baton_reason {
	BATON_REASON_NONE = 0,
	BATON_REASON_RELEASED,
	BATON_REASON_LEASE_EXPIRED,
	BATON_REASON_NODE_OFFLINE
} baton_reason;

typedef enum baton_log_level {
	BATON_LOG_ERROR = 0,
	BATON_LOG_WARN,
	BATON_LOG_INFO,
	BATON_LOG_DEBUG
} baton_log_level;

/* Receives one log line (no trailing newline; borrowed for the call). Must
 * not call libbaton. May be called from any thread, concurrently. */
typedef void (*baton_log_cb)(void *arg, baton_log_level level, const char *line);

/* ---- client --------------------------------------------------------------- */

typedef struct baton_options {
	const char *broker;   /* "tcp://host:1883", "ssl://host:8883"; NULL: BATON_BROKER_DEFAULT */
	const char *prefix;   /* topic prefix; NULL: BATON_PREFIX_DEFAULT */
	const char *node;     /* node id = MQTT client id; required */
	const char *username; /* NULL: none */
	const char *password; /* NULL: none */
	const char *cafile;   /* TLS: CA bundle to verify the broker; NULL: system default.
	                       * The broker's certificate must also name the host of
	                       * broker (subjectAltName DNS or IP), as the coordinator
	                       * checks; TLS 1.2 and 1.3 are accepted. */
	const char *cert;     /* TLS: client certificate (PEM); NULL: none */
	const char *key;      /* TLS: client private key (PEM); NULL: none */
	uint32_t keepalive_s; /* MQTT keepalive; 0: BATON_KEEPALIVE_DEFAULT */
	baton_log_cb log;     /* NULL: no logging */
	void *log_arg;
} baton_options;

/* Fills *o with the defaults above (all NULL / 0). Cannot fail. */
BATON_EXPORT void baton_options_init(baton_options *o);

/* Creates a client from o (copied: the strings are borrowed for the call
 * only). Does no network I/O. On success *out owns the client; free it with
 * baton_client_free(). On failure (BATON_E_INVAL for a bad option,
 * BATON_E_NOMEM) *out is untouched and, when msg is not NULL, a message
 * naming the problem is written to msg (cap bytes, NUL-terminated). */
BATON_EXPORT baton_err baton_client_new(const baton_options *o, baton_client **out, char *msg, size_t cap);

/* Starts connecting (once; later calls only wait) and waits up to timeout_ms
 * (BATON_WAIT_FOREVER: no limit) until the client is connected, subscribed
 * and announced online. Returns BATON_OK; BATON_E_BROKER at once when the
 * broker refused us for good (not authorized, bad user name or password,
 * client id rejected) or the TLS handshake failed; BATON_E_TIMEOUT when it
 * could not be reached within the time (the client keeps trying in the
 * background: call again to wait longer); or BATON_E_INVAL on the client
 * thread. baton_client_last_error() then says in words what happened and
 * what to check. Requests made before the client is connected are sent once
 * it is. */
BATON_EXPORT baton_err baton_client_connect(baton_client *c, int64_t timeout_ms);

/* True while the client is connected and ready to send. Cannot fail. */
BATON_EXPORT bool baton_client_connected(baton_client *c);

/* What the client last saw on P/coordinator: *seen is false until a
 * presence arrived; then *online tells whether the coordinator is up and
 * *started_at_ms (wall clock, may be NULL) when it started. Cannot fail. */
BATON_EXPORT void baton_client_coordinator(baton_client *c, bool *seen, bool *online, int64_t *started_at_ms);

/* Copies the message of the client's most recent failure (or "" when none)
 * into buf (cap bytes, NUL-terminated). Cannot fail. With several threads
 * failing at once, the message is one of theirs. */
BATON_EXPORT void baton_client_last_error(baton_client *c, char *buf, size_t cap);

/* Frees the client: frees every lock and watch still alive as their _free
 * would, announces the node offline (so the coordinator drops its queued
 * requests and revokes what it still holds), disconnects and joins the
 * client thread. NULL is fine. Must not be called from a callback. Every
 * baton_lock and baton_watch of c is invalid afterwards. */
BATON_EXPORT void baton_client_free(baton_client *c);

/* ---- acquiring ------------------------------------------------------------ */

/* The phase of a lock's request (DESIGN.md: sent -> queued -> granted ->
 * released, or done, busy, rejected, lost). */
typedef enum baton_phase {
	BATON_PHASE_SENT = 1,   /* acquire sent, nothing answered yet */
	BATON_PHASE_QUEUED,     /* waiting in line (see position) */
	BATON_PHASE_GRANTED,    /* held; renewed in the background */
	BATON_PHASE_RELEASING,  /* release sent, not yet answered */
	BATON_PHASE_CANCELLING, /* cancel sent, not yet answered */
	BATON_PHASE_RELEASED,   /* final: the release was recorded */
	BATON_PHASE_CANCELLED,  /* final: the wait was withdrawn */
	BATON_PHASE_DONE,       /* final: once mode, already done by someone */
	BATON_PHASE_BUSY,       /* final: wait ran out or was 0 while held */
	BATON_PHASE_REJECTED,   /* final: the coordinator refused the request */
	BATON_PHASE_LOST,       /* final: the holding was revoked or its lease ran out */
	BATON_PHASE_RESETTING,  /* internal to baton_reset() */
	BATON_PHASE_RESET,      /* internal to baton_reset() */
	BATON_PHASE_FAILED      /* final: once mode, the failure streak reached max_failures */
} baton_phase;

/* The last holding of a resource that ended without success. */
typedef struct baton_previous {
	const char *node; /* NULL: there was none (the other fields are 0) */
	uint64_t token;
	const char *error; /* NULL if the holder gave none */
	baton_reason reason;
} baton_previous;

/* The holding that ended a once resource's failure streak last. */
typedef struct baton_failure {
	const char *node; /* NULL: none (the other fields are 0) */
	uint64_t token;
	const char *error; /* NULL if the holder gave none */
	baton_reason reason;
	int64_t completed_at_ms;
} baton_failure;

/* A success of a once resource. */
typedef struct baton_done_info {
	const char *node; /* NULL: absent */
	uint64_t token;
	const char *result; /* NULL if the holder shared none */
	int64_t completed_at_ms;
} baton_done_info;

/* How an acquire was answered. Strings belong to the lock and stay valid
 * until baton_lock_free(). */
typedef struct baton_answer {
	baton_phase phase;       /* GRANTED, DONE, BUSY, REJECTED or FAILED */
	uint64_t token;          /* GRANTED: the fencing token */
	uint32_t lease_ms;       /* GRANTED: the lease the coordinator gave */
	baton_previous previous; /* GRANTED: who failed before us, if anyone */
	baton_done_info done;    /* DONE: who did it */
	const char *holder;      /* BUSY: who holds it (may be NULL) */
	baton_err code;          /* REJECTED: why (BATON_E_BAD_REQUEST, _MODE_CONFLICT, ...) */
	const char *message;     /* REJECTED: the coordinator's words (may be NULL) */
	uint32_t failures;       /* FAILED: holdings in a row that ended without success */
	baton_failure last;      /* FAILED: the last of them */
} baton_answer;

/* Called once on the client thread when the acquire is answered with a final
 * status; a is borrowed for the call (its strings live as long as l). */
typedef void (*baton_answer_cb)(baton_lock *l, const baton_answer *a, void *arg);

/* Called once on the client thread, as soon as a granted lock is lost:
 * revoked by the coordinator (BATON_E_LOST), renewal refused
 * (BATON_E_NOT_HOLDER), its lease ran out by this process's clock
 * (BATON_E_TIMEOUT), or the connection to the broker was lost
 * (BATON_E_NOT_CONNECTED: the broker publishes our Will and the coordinator
 * hands the lock on, while we could not hear it; the holding is given back
 * with a failed release when the lock is freed, if we are connected then:
 * until then the caller may still be stopping the work it guarded). */
typedef void (*baton_lost_cb)(baton_lock *l, baton_err why, void *arg);

typedef struct baton_acquire_options {
	const char *resource;      /* required; PROTOCOL.md grammar */
	baton_mode mode;           /* default BATON_MODE_ONCE */
	uint32_t lease_ms;         /* 1000..3600000; 0: the coordinator's default */
	int64_t wait_ms;           /* BATON_WAIT_FOREVER (default) or >= 0; 0: try once */
	const char *meta;          /* free text for watchers, <= 256 bytes; NULL: none */
	baton_answer_cb on_answer; /* NULL: none (use baton_lock_wait) */
	baton_lost_cb on_lost;     /* NULL: none (poll baton_lock_lost) */
	void *arg;                 /* passed to both callbacks */
	uint32_t permits;          /* mutex: at most this many holders (a semaphore), 1..1024; 0: 1 */
	uint32_t max_failures;     /* once: answered FAILED instead of granted once this many
	                            * holdings in a row ended without success, 1..1000; 0: no cap */
} baton_acquire_options;

/* Fills *o with the defaults above. Cannot fail. */
BATON_EXPORT void baton_acquire_options_init(baton_acquire_options *o);

/* Sends an acquire (or queues it until the client is connected) and returns
 * at once. On success *out is a new lock the caller owns (free it with
 * baton_lock_free()); on_answer will be called exactly once, unless the lock
 * is freed or the client closed first. Returns BATON_E_INVAL for bad options.
 *
 * A holding is valid, by this process's clock, from the send of the request
 * that earned it (the acquire for an immediate grant; the last renew that
 * was answered `renewed` afterwards) for baton_window_ms(): the lease or,
 * if shorter, 1.5 keepalives (after which the broker may fire our Will and
 * the coordinator hand the lock on), less a drift margin of 1% + 100 ms.
 * A grant that arrives after the lock was queued says nothing about how
 * recently the broker heard us: it is renewed at once and reported (on_answer,
 * baton_lock_wait) only when that renewal is answered. Renewals go out every
 * quarter of the window. A lost connection to the broker loses every held
 * lock at once (see baton_lost_cb). When the deadline passes without a
 * renewal answered, the lock is lost at that instant, whatever the
 * coordinator says later. An acquire answered `revoked` (its grant ended
 * before we heard of it) is asked again under a new id while its wait
 * lasts, and is otherwise answered with phase BATON_PHASE_LOST. */
BATON_EXPORT baton_err baton_acquire(baton_client *c, const baton_acquire_options *o, baton_lock **out);

/* Blocks until l's acquire is answered with a final status, at most
 * timeout_ms (BATON_WAIT_FOREVER: no limit; 0: just look). On BATON_OK *out
 * (may be NULL) describes the answer. BATON_E_TIMEOUT: not answered yet (the
 * request stays outstanding). BATON_E_CANCELLED: the lock was cancelled
 * before it was answered. BATON_E_CLOSED: the client is closing.
 * BATON_E_INVAL: called on the client thread with a timeout other than 0. */
BATON_EXPORT baton_err baton_lock_wait(baton_lock *l, int64_t timeout_ms, baton_answer *out);

/* A snapshot of a lock, for progress displays. Cannot fail. */
typedef struct baton_lock_info {
	baton_phase phase;
	uint32_t position;               /* QUEUED: 1 = next */
	char holder[BATON_NODE_MAX + 1]; /* QUEUED/BUSY: the holder if known, else "" */
	uint64_t token;                  /* GRANTED and later: the token */
	int64_t age_ms;                  /* since baton_acquire() */
	int64_t lease_left_ms;           /* GRANTED: how long the holding stays valid (0: not yet usable) */
	bool lost;                       /* the holding was lost */
} baton_lock_info;
BATON_EXPORT void baton_lock_get_info(baton_lock *l, baton_lock_info *out);

/* How long a holding of lease_ms stays valid after the send of its last
 * answered request, for a client connected with keepalive_s (0: the
 * default): min(lease, 1.5 keepalives) less 1% and 100 ms. A holder that
 * must stop its work before losing the lock stops it within this. Cannot
 * fail. */
BATON_EXPORT int64_t baton_window_ms(uint32_t lease_ms, uint32_t keepalive_s);

/* True once l's holding was lost (pollable twin of on_lost). Cannot fail. */
BATON_EXPORT bool baton_lock_lost(baton_lock *l);

/* Why l's holding was lost, as a sentence for people ("the coordinator
 * revoked it: no renewal reached it within the lease (lease_expired); ..."),
 * or NULL while it is not lost. Static storage. Cannot fail. */
BATON_EXPORT const char *baton_lock_lost_reason(baton_lock *l);

typedef struct baton_release_options {
	bool success;        /* did the operation succeed? */
	const char *error;   /* why not, <= 1024 bytes; NULL: none */
	const char *result;  /* shared with skipping nodes (once), <= 4096 bytes; NULL: none */
	int64_t remember_ms; /* once: how long to remember a success; < 0: coordinator default */
} baton_release_options;

/* Ends the holding of l and waits up to timeout_ms for the coordinator to
 * record it (0: send and return BATON_OK; the release is re-sent after a
 * reconnect until answered or l is freed). Strings in o are copied.
 * Returns BATON_OK when recorded (or sent, for timeout 0); BATON_E_LOST when
 * the holding was lost first (nothing sent); BATON_E_NOT_HOLDER when the
 * coordinator no longer knew it; BATON_E_TIMEOUT when unanswered in time;
 * BATON_E_INVAL when l is not held or bad sizes. */
BATON_EXPORT baton_err baton_release(baton_lock *l, const baton_release_options *o, int64_t timeout_ms);

/* Withdraws l's queued (or not yet answered) acquire and waits up to
 * timeout_ms for it to be recorded (0: do not wait). If the grant raced
 * ahead, the coordinator treats the cancel as a failed release. Returns
 * BATON_OK, BATON_E_TIMEOUT, or BATON_E_INVAL when l is not waiting. */
BATON_EXPORT baton_err baton_cancel(baton_lock *l, int64_t timeout_ms);

/* Frees l. If it is still waiting it is cancelled; if it is still held it
 * is released with success=false and error "abandoned"; neither waits. NULL
 * is fine. Must not be called twice, nor from l's own callbacks. */
BATON_EXPORT void baton_lock_free(baton_lock *l);

/* Makes the coordinator forget a remembered success of resource (once
 * mode), waiting up to timeout_ms for its answer. Returns BATON_OK,
 * BATON_E_TIMEOUT, a rejection code (*msg not touched), or BATON_E_INVAL. */
BATON_EXPORT baton_err baton_reset(baton_client *c, const char *resource, int64_t timeout_ms);

/* ---- watching --------------------------------------------------------------- */

typedef enum baton_event_kind {
	BATON_EVENT_OUTCOME = 1, /* a holding ended (P/outcome/<resource>) */
	BATON_EVENT_STATE,       /* a snapshot of a lock (P/state/<resource>) */
	BATON_EVENT_CLEARED      /* the lock is idle and forgotten */
} baton_event_kind;

typedef struct baton_outcome {
	baton_mode mode;
	const char *node;
	uint64_t token;
	bool success;
	const char *error;  /* NULL: none */
	const char *result; /* NULL: none */
	baton_reason reason;
	int64_t completed_at_ms;
} baton_outcome;

/* One current holding of a lock (baton_state.holders). */
typedef struct baton_holding {
	const char *node;
	uint64_t token;
	baton_mode mode;
	int64_t since_ms;
	int64_t lease_until_ms;
} baton_holding;

/* One queued acquire (baton_state.queue). */
typedef struct baton_queued {
	const char *node;
	baton_mode mode;
} baton_queued;

typedef struct baton_state {
	baton_mode mode;
	const char *holder; /* NULL: nobody holds it */
	uint64_t token;
	int64_t since_ms;
	int64_t lease_until_ms;
	const char *meta;           /* the holder's acquire meta, NULL: none */
	const char *const *waiting; /* n_waiting node ids, next first */
	size_t n_waiting;
	baton_done_info done;    /* done.node NULL: nothing remembered */
	baton_previous previous; /* previous.node NULL: none */
	/* second edition: every holding (holder..meta above describe the
	 * first), the queue with modes (waiting lists its nodes), permits (1
	 * unless a semaphore), the failure streak and its last failure */
	const baton_holding *holders;
	size_t n_holders;
	const baton_queued *queue;
	size_t n_queue;
	uint32_t permits;
	uint32_t failures;
	baton_failure last_failure; /* last_failure.node NULL: no streak */
} baton_state;

/* One event; everything is borrowed for the duration of the callback. */
typedef struct baton_event {
	baton_event_kind kind;
	const char *resource;
	bool retained;         /* a stored snapshot delivered on subscribe, not news */
	baton_outcome outcome; /* OUTCOME */
	baton_state state;     /* STATE */
} baton_event;

typedef void (*baton_event_cb)(const baton_event *ev, void *arg);

/* Subscribes to P/outcome/<filter> and P/state/<filter>, where filter is a
 * resource name or an MQTT filter over resource names ("#", "images/#",
 * "a/+/c"), and calls cb on the client thread for every decodable event
 * (malformed ones are logged and skipped). Retained snapshots arrive first
 * with retained=true. On success *out owns the watch; free it with
 * baton_watch_free(). */
BATON_EXPORT baton_err baton_watch_new(baton_client *c, const char *filter, baton_event_cb cb, void *arg,
                                       baton_watch **out);

/* Stops the watch; after it returns cb is not running and will not be called
 * again (from the client thread itself: not called again). NULL is fine. */
BATON_EXPORT void baton_watch_free(baton_watch *w);

/* ---- helpers ---------------------------------------------------------------- */

/* Static names: "once"/"mutex"/"shared", "released"/"lease_expired"/"node_offline",
 * "granted"/"queued"/... Never NULL ("?" for unknown values). */
BATON_EXPORT const char *baton_mode_name(baton_mode m);
BATON_EXPORT const char *baton_reason_name(baton_reason r);
BATON_EXPORT const char *baton_phase_name(baton_phase p);

/* The library's version string, e.g. "0.1.0". */
BATON_EXPORT const char *baton_version(void);

#ifdef __cplusplus
}
#endif
#endif
