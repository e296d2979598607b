/*
 * client_int.h - libbaton's private structures, shared by client.c (the
 * connection and the client thread), lock.c (requests) and watch.c
 * (events). Nothing here is public: every function shared between these
 * files carries the bt_ prefix (they sit beside user code in libbaton.a, and
 * libbaton.so hides them: tests/unit/abi.cmake).
 *
 * Locking: every field marked [mu] is read and written only under c->mu.
 * Rule: no paho call is made while c->mu is held (paho calls our callbacks
 * under its own global mutex; the other order would deadlock, MQTT-NOTES).
 * Work decided under the mutex is collected as actions and done after it.
 */
#ifndef BATON_CLIENT_INT_H
#define BATON_CLIENT_INT_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include <MQTTAsync.h>

#include "baton.h"
#include "mqttedge.h"
#include "mqttnet.h"
#include "mqttwords.h"
#include "names.h"
#include "reqstate.h"
#include "wire.h"

/* What a paho callback hands over to the client thread. */
typedef enum inmsg_type {
	IN_MESSAGE = 1,
	IN_CONNECTED,
	IN_CONN_LOST,
	IN_SUBSCRIBED,
	IN_SUB_FAILED,
	IN_CONNECT_FAILED,
	IN_PRESENCE_ACKED /* the broker acknowledged our online presence */
} inmsg_type;

typedef struct inmsg {
	struct inmsg *next;
	inmsg_type type;
	bool retained;
	bool final;    /* IN_CONNECT_FAILED: the broker refused us for good (or TLS failed) */
	int code;      /* IN_CONNECT_FAILED: paho's failure code */
	char *topic;   /* IN_MESSAGE; NUL-terminated */
	char *payload; /* IN_MESSAGE: len bytes (+ NUL); others: a message or NULL */
	size_t len;
} inmsg;

/* Work decided under c->mu, done after it is released. */
typedef enum action_type {
	ACT_SEND = 1, /* publish payload on P/req/<node> */
	ACT_ANSWER,   /* call l->on_answer */
	ACT_LOST      /* call l->on_lost(err) */
} action_type;

typedef struct action {
	struct action *next;
	action_type type;
	baton_lock *l; /* ACT_ANSWER/ACT_LOST: holds a reference */
	baton_err err;
	char *payload; /* ACT_SEND: owned */
	size_t len;
} action;

typedef struct action_list {
	action *head, **tail;
	bool nomem; /* an action could not be allocated (logged) */
} action_list;

struct baton_lock {
	baton_client *c;
	struct baton_lock *next; /* [mu] in c->locks while not freed */
	unsigned refs;           /* [mu] the user's + one per pending action */
	bool freed;              /* [mu] baton_lock_free was called */
	bool cb_running;         /* [mu] one of its callbacks is running */
	char base[NAMES_ID_MAX + 1];
	char resource[NAMES_RESOURCE_MAX + 1];
	baton_mode mode;
	uint32_t permits, max_failures;
	uint32_t lease_ms;
	int64_t wait_ms;
	char *meta;
	baton_answer_cb on_answer;
	baton_lost_cb on_lost;
	void *arg;
	reqstate rs;        /* [mu] */
	wire_answer answer; /* [mu] the settling answer (owns its strings) */
	bool rel_success;   /* [mu] release parameters, kept for re-sends */
	char *rel_error, *rel_result;
	int64_t rel_remember_ms;
};

struct baton_watch {
	baton_client *c;
	struct baton_watch *next; /* [mu] in c->watches while alive */
	char *filter;             /* resource filter */
	char *topics[2];          /* P/outcome/<filter>, P/state/<filter> */
	baton_event_cb cb;
	void *arg;
	bool cb_running; /* [mu] */
	bool freed;      /* [mu] */
	unsigned refs;   /* [mu] */
};

struct baton_client {
	pthread_mutex_t mu;
	pthread_cond_t cond; /* CLOCK_MONOTONIC; broadcast on every change */
	pthread_t thread;
	bool thread_started;
	MQTTAsync mq;
	char *broker, *prefix, *username, *password, *cafile, *cert, *key;
	char node[NAMES_NODE_MAX + 1];
	uint32_t keepalive_s;
	baton_log_cb log;
	void *log_arg;
	char req_topic[NAMES_TOPIC_MAX + 1];
	char grant_topic[NAMES_TOPIC_MAX + 1];
	char node_topic[NAMES_TOPIC_MAX + 1];
	char coord_topic[NAMES_TOPIC_MAX + 1];
	char *offline_payload; /* the Will: {"v":1,"node":...,"online":false} */
	char *online_payload;
	uint64_t salt; /* random per client: ids never repeat across runs */

	inmsg *in_head, **in_tail;     /* [mu] */
	bool closing;                  /* [mu] */
	bool connect_started;          /* [mu] */
	bool connected;                /* [mu] the MQTT connection is up */
	bool ever_connected;           /* [mu] from now on paho reconnects by itself */
	bool ready;                    /* [mu] subscribed and announced: sends go out */
	bool disconnected;             /* [mu] our own disconnect completed */
	bool echo_seen;                /* [mu] our own presence came back since the last connect */
	int64_t echo_due_ms;           /* [mu] no echo by then: the ACL refuses us; 0: not waiting */
	bool acl_refused;              /* [mu] the broker's ACL does not let us act as our node */
	int64_t retry_at_ms;           /* [mu] next own connect retry, 0: none */
	unsigned retry_s;              /* [mu] */
	char connect_error[512];       /* [mu] the last connect failure, in words */
	bool refused;                  /* [mu] the last connect attempt was refused for good */
	int64_t connected_at_ms;       /* [mu] when the current connection came up */
	unsigned short_streak;         /* [mu] short-lived connections in a row (mqttwords) */
	mqttedge_tls tls;              /* OpenSSL's last word, for connect errors (own mutex) */
	baton_lock *locks;             /* [mu] */
	baton_watch *watches;          /* [mu] */
	uint64_t next_id;              /* [mu] */
	bool coord_seen, coord_online; /* [mu] */
	int64_t coord_started_ms;      /* [mu] */
	char last_error[640];          /* [mu] */
};

/* ---- client.c ---- */
int64_t bt_client_now_ms(void);
int64_t bt_client_wall_ms(void);
void bt_client_log(baton_client *c, baton_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Records msg as the last error (under mu) and returns err. */
baton_err bt_client_fail(baton_client *c, baton_err err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
bool bt_client_on_thread(baton_client *c);
/* Waits on c->cond until deadline (monotonic ms; INT64_MAX: none); caller
 * holds mu. Returns false when the deadline passed. */
bool bt_client_wait_until(baton_client *c, int64_t deadline);
/* Creates c->mq and registers the callbacks. */
baton_err bt_client_paho_create(baton_client *c);
/* Starts (or restarts) connecting; without c->mu held. Failure comes back
 * as IN_CONNECT_FAILED. */
void bt_client_start_connect(baton_client *c);
/* Who this client is, for the sentences of mqttwords.h (borrows c). */
void bt_client_who(const baton_client *c, mqttwords_who *who);
/* Publishes without c->mu held. */
baton_err bt_client_publish(baton_client *c, const char *topic, const char *payload, size_t len, int qos,
                            bool retained);
/* Publishes our retained online presence (QoS 1) without c->mu held; its
 * PUBACK comes back as IN_PRESENCE_ACKED. */
baton_err bt_client_publish_presence(baton_client *c);
/* Subscribes topics[0..n) at QoS 1 without c->mu held; success or failure
 * comes back as IN_SUBSCRIBED / IN_SUB_FAILED when report is set. */
baton_err bt_client_subscribe(baton_client *c, char *const *topics, int n, bool report);
void bt_client_unsubscribe(baton_client *c, char *const *topics, int n);

/* Actions: collected under mu, run without it. */
void bt_actions_init(action_list *al);
void bt_actions_send(action_list *al, char *payload, size_t len);
void bt_actions_call(action_list *al, action_type type, baton_lock *l, baton_err err);
void bt_actions_run(baton_client *c, action_list *al);

/* ---- lock.c ---- */
/* Caller holds mu. Appends a send of l's request kind (if the client is
 * ready) and marks an acquire sent. */
void bt_lock_queue_send(baton_lock *l, req_kind kind, action_list *al);
/* Caller holds mu. Re-sends everything outstanding of every lock. */
void bt_locks_resend(baton_client *c, action_list *al);
/* Caller holds mu. The connection was lost: held locks count as lost and
 * their holdings are given back once we can send (bt_reqstate_disconnected). */
void bt_locks_disconnected(baton_client *c, action_list *al);
/* Caller holds mu. Ticks every lock; returns the next tick instant. */
int64_t bt_locks_tick(baton_client *c, int64_t now, action_list *al);
/* Handles a payload from P/grant/<node>. Takes mu itself. */
void bt_locks_on_answer(baton_client *c, const char *payload, size_t len);
/* Caller holds mu; frees l when its last reference goes. */
void bt_lock_unref(baton_lock *l);
/* Frees every lock as baton_lock_free would; caller holds mu. */
void bt_locks_abandon_all(baton_client *c, action_list *al);

/* ---- watch.c ---- */
/* Handles a message on P/outcome/... or P/state/...; takes mu itself.
 * Returns false when the topic is neither. */
bool bt_watches_on_message(baton_client *c, const char *topic, const char *payload, size_t len,
                           bool retained);
/* Collects the topics of every watch (caller holds mu): fills up to cap
 * strdup'd topics into out, returns how many (the caller frees them). */
int bt_watches_topics(baton_client *c, char **out, int cap);
int bt_watches_count(baton_client *c);
void bt_watches_free_all(baton_client *c);

#endif
