/*
 * words.h - why a held lock was lost, in words a user can act on (private
 * to libbaton; connection failures are edge/mqttwords.h's).
 *
 * Pure: no I/O, no allocation.
 */
#ifndef BATON_AGENT_WORDS_H
#define BATON_AGENT_WORDS_H

#include "baton.h"

/* The sentence for a lost holding: why is what baton_lost_cb gets, reason
 * the revocation's reason when why is BATON_E_LOST (BATON_REASON_NONE when
 * the coordinator gave none). Static storage; never NULL. */
const char *bt_words_lost(baton_err why, baton_reason reason);

#endif
