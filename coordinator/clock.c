/*
 * clock.c - the coordinator's clock (clock.h). Reads clocks, nothing else.
 */
#include "clock.h"

#include <time.h>

int64_t dclock_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void dclock_init(dclock *c)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	c->wall0_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	c->mono0_ms = dclock_mono_ms();
}

int64_t dclock_now(const dclock *c)
{
	return c->wall0_ms + (dclock_mono_ms() - c->mono0_ms);
}
