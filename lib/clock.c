/*
 * Monotonic time, sleeping and durations (clock.h).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"

long
lr_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
lr_sleep_ms(long ms)
{
	struct timespec ts;

	if (ms <= 0)
		return;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int
lr_duration_parse(const char *s, long *ms)
{
	long long total = 0, n, unit;
	const char *p = s;
	char *end;

	if (s == NULL || *s == '\0')
		return -1;
	while (*p) {
		if (*p < '0' || *p > '9')
			return -1;
		errno = 0;
		n = strtoll(p, &end, 10);
		if (errno || n > 1000000000LL)
			return -1;
		p = end;
		if (strncmp(p, "ms", 2) == 0) {
			unit = 1;
			p += 2;
		} else if (*p == 's' || *p == '\0') {
			unit = 1000;
			p += *p != '\0';
		} else if (*p == 'm') {
			unit = 60000;
			p++;
		} else if (*p == 'h') {
			unit = 3600000;
			p++;
		} else if (*p == 'd') {
			unit = 86400000;
			p++;
		} else
			return -1;
		total += n * unit;
		if (total > LONG_MAX / 2 || total > 366LL * 86400000)
			return -1;
	}
	if (total <= 0)
		return -1;
	*ms = (long)total;
	return 0;
}

void
lr_time_iso(int64_t t, char buf[LR_TIME_ISO_LEN])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, LR_TIME_ISO_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, LR_TIME_ISO_LEN, "1970-01-01T00:00:00Z");
}

void
lr_time_iso_now(char buf[LR_TIME_ISO_LEN])
{
	lr_time_iso((int64_t)time(NULL), buf);
}
