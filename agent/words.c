/*
 * words.c - why a held lock was lost, in words (see words.h).
 *
 * Each sentence names the cause as the coordinator or this process saw it
 * and, in parentheses, the wire's word for it, so a user can grep the
 * coordinator's log for the same word.
 */
#include "words.h"

const char *bt_words_lost(baton_err why, baton_reason reason)
{
	switch (why) {
	case BATON_E_LOST:
		switch (reason) {
		case BATON_REASON_LEASE_EXPIRED:
			return "the coordinator revoked it: no renewal reached it within the lease "
			       "(lease_expired); check the link to the broker, or take a longer --lease";
		case BATON_REASON_NODE_OFFLINE:
			return "the coordinator revoked it: the broker reported this node offline "
			       "(node_offline), after our connection dropped or another process took over "
			       "our node id";
		default:
			return "the coordinator revoked it (revoked)";
		}
	case BATON_E_NOT_HOLDER:
		return "the coordinator refused a renewal: it no longer knows this holding (not_holder), "
		       "so it was revoked while we could not hear it";
	case BATON_E_TIMEOUT:
		return "its lease ran out by this process's clock before a renewal was answered: the "
		       "coordinator or the broker did not answer for a whole lease";
	case BATON_E_NOT_CONNECTED:
		return "the connection to the broker was lost: the broker publishes this node offline "
		       "and the coordinator hands the lock on";
	default:
		return baton_strerror(why);
	}
}
