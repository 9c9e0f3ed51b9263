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

/*
 * Parse a duration: "90s", "10m", "1h", "1h30m", "500ms", a bare number of
 * seconds; more than 0 and at most a year.  0 and *ms set, or -1.
 */
int	lr_duration_parse(const char *s, long *ms);

#endif
