/*
 * clock.h - the coordinator's one clock, for both of its loops (daemon.c,
 * daemon_group.c): wall-clock milliseconds advanced by the monotonic clock
 * (wall0 + (mono - mono0)), so deadlines never jump with the system clock
 * while stored deadlines stay meaningful across restarts. The table never
 * reads it: the loops pass its value in as `now`.
 */
#ifndef BATON_CLOCK_H
#define BATON_CLOCK_H

#include <stdint.h>

typedef struct dclock {
	int64_t wall0_ms, mono0_ms;
} dclock;

/* Reads both clocks once. Cannot fail. */
void dclock_init(dclock *c);

/* Milliseconds since the epoch as c sees them now; never goes back. */
int64_t dclock_now(const dclock *c);

/* CLOCK_MONOTONIC in milliseconds (timeouts and backoffs). */
int64_t dclock_mono_ms(void);

#endif
