/*
 * Monotonic milliseconds and sleeping, for deadlines and waits outside an
 * event loop (apply's lock wait, leura wait's elapsed time, leura up's
 * wait for etcd, tests); the etcd client, blocking face included, runs
 * on a libuv loop and uses uv_now() and timers, as any loop code should.
 * Wall-clock times in the one format every document, record and log line
 * uses.
 */
#ifndef LR_CLOCK_H
#define LR_CLOCK_H

#include <stdint.h>

/* Milliseconds of CLOCK_MONOTONIC. */
long	lr_now_ms(void);
/* Sleep ms milliseconds (nothing when ms <= 0), resuming after signals. */
void	lr_sleep_ms(long ms);

/*
 * Parse a duration: "90s", "10m", "1h", "1h30m", "30d", "500ms", a bare
 * number of seconds; more than 0 and at most a year.  0 and *ms set, or -1.
 */
int	lr_duration_parse(const char *s, long *ms);

/* Unix seconds t as "2026-12-07T14:13:19Z" (UTC) into buf. */
#define LR_TIME_ISO_LEN 32
void	lr_time_iso(int64_t t, char buf[LR_TIME_ISO_LEN]);
/* Now, as lr_time_iso. */
void	lr_time_iso_now(char buf[LR_TIME_ISO_LEN]);

#endif
