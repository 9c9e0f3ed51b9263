/*
 * Monotonic milliseconds and sleeping, for deadlines and back-off outside
 * an event loop (the blocking etcd client, tests).  On a libuv loop use
 * uv_now() and timers instead.
 */
#ifndef LR_CLOCK_H
#define LR_CLOCK_H

/* Milliseconds of CLOCK_MONOTONIC. */
long	lr_now_ms(void);
/* Sleep ms milliseconds (nothing when ms <= 0), resuming after signals. */
void	lr_sleep_ms(long ms);

#endif
