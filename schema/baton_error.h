/*
 * baton_error.h - the one error enum of the whole Baton tree.
 *
 * One X-macro table yields the enum, baton_strerror() and the wire's rejection
 * codes (PROTOCOL.md "Rejection codes"), so the three can never drift.
 * 0 is success; every error is negative; the enum holds no non-error status.
 * Installed with libbaton's public header.
 */
#ifndef BATON_ERROR_H
#define BATON_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

/* BATON_EXPORT marks the public ABI. libbaton.so is built with hidden
 * visibility by default (agent/CMakeLists.txt), so only the functions marked
 * here and in baton.h leave the shared library; tests/unit/abi.cmake fails
 * if anything else does. Harmless in a static link and in the coordinator. */
#if defined(__GNUC__) || defined(__clang__)
#define BATON_EXPORT __attribute__((visibility("default")))
#else
#define BATON_EXPORT
#endif

/* X(NAME, value, wire code or NULL when it never goes on the wire, message) */
#define BATON_ERRORS(X)                                                                                      \
	X(BAD_JSON, -1, "bad_json", "payload is not valid JSON")                                             \
	X(BAD_REQUEST, -2, "bad_request", "missing or mistyped field, or bad resource or id")                \
	X(UNSUPPORTED_VERSION, -3, "unsupported_version", "unsupported protocol version")                    \
	X(UNKNOWN_OP, -4, "unknown_op", "unknown op")                                                        \
	X(TOO_LARGE, -5, "too_large", "payload over 65536 bytes")                                            \
	X(NOT_HOLDER, -6, "not_holder", "token is not this node's current holding")                          \
	X(MODE_CONFLICT, -7, "mode_conflict", "resource is held or remembered in the other mode")            \
	X(BAD_TOPIC, -8, "bad_topic", "node part of the topic is not a valid node id")                       \
	X(NOMEM, -20, NULL, "out of memory")                                                                 \
	X(INVAL, -21, NULL, "invalid argument")                                                              \
	X(IO, -22, NULL, "input/output error")                                                               \
	X(BROKER, -23, NULL, "broker unreachable or refused the connection")                                 \
	X(TIMEOUT, -24, NULL, "timed out")                                                                   \
	X(NOT_CONNECTED, -25, NULL, "not connected to the broker")                                           \
	X(CLOSED, -26, NULL, "client is closed")                                                             \
	X(STORE, -27, NULL, "state store error")                                                             \
	X(STORE_CORRUPT, -28, NULL, "state file is corrupt or not a Baton state file")                       \
	X(STORE_TOO_NEW, -29, NULL, "state file was written by a newer Baton")                               \
	X(BUSY, -30, NULL, "resource is held by another node")                                               \
	X(LOST, -31, NULL, "lock was lost")                                                                  \
	X(CANCELLED, -32, NULL, "request was cancelled")                                                     \
	X(PROTOCOL, -33, NULL, "unexpected message from the coordinator")                                    \
	X(NOT_AUTHORIZED, -34, NULL, "not authorized by the broker's ACL")                                   \
	X(STORE_LOCKED, -40, NULL, "state file is in use by another process")                                \
	X(STORE_MOVED, -41, NULL, "state file was deleted or replaced while in use")

typedef enum baton_err {
	BATON_OK = 0,
#define BATON_ERR_ENUM_(name, value, code, msg) BATON_E_##name = (value),
	BATON_ERRORS(BATON_ERR_ENUM_)
#undef BATON_ERR_ENUM_
} baton_err;

/* A static, human-readable message for err ("success" for BATON_OK, "unknown
 * error" for a value outside the table). Never NULL; never freed. */
BATON_EXPORT const char *baton_strerror(baton_err err);

/* The wire's rejection code of err ("bad_json", ...), or NULL when err never
 * goes on the wire. Static storage. */
BATON_EXPORT const char *baton_err_code(baton_err err);

/* The error whose wire code is code (NUL-terminated), or BATON_E_PROTOCOL when
 * code is NULL or unknown. */
BATON_EXPORT baton_err baton_err_from_code(const char *code);

#ifdef __cplusplus
}
#endif
#endif
