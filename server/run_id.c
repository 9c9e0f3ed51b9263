/*
 * Run ids (server/run.h): "r@YYYYMMDD-HHMMSS-xxxxxx" for a task run or an
 * ad-hoc command (UTC; the hex digits: milliseconds, then random bits,
 * so they sort by time), and
 * "d@N" for a deploy's converge logs.  They become file names in the log
 * store (server/logs.c) and etcd key segments: run_id_valid admits
 * nothing else (no '/', no "..", no empty part).
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "run.h"
#include "srv-int.h"

void
run_id_new(char buf[RUN_ID_LEN + 1])
{
	unsigned char r[2];
	struct timespec ts;
	struct tm tm;
	unsigned tail;
	char t[64];

	clock_gettime(CLOCK_REALTIME, &ts);
	srv_random(r, sizeof(r));
	gmtime_r(&ts.tv_sec, &tm);
	/*
	 * The 24 bits after the time: its milliseconds (10 bits, < 1000),
	 * then 14 random ones, so that runs made in the same second still
	 * sort by time (the newest-first lists), and two made in the same
	 * millisecond still differ (1 in 16384 collide, and the record's
	 * create-if-absent catches those).
	 */
	tail = (unsigned)(ts.tv_nsec / 1000000) << 14 |
	    (((unsigned)r[0] << 8 | r[1]) & 0x3fff);
	snprintf(t, sizeof(t), "r@%04d%02d%02d-%02d%02d%02d-%06x",
	    (tm.tm_year + 1900) % 10000, tm.tm_mon + 1, tm.tm_mday,
	    tm.tm_hour, tm.tm_min, tm.tm_sec, tail);
	memcpy(buf, t, RUN_ID_LEN);
	buf[RUN_ID_LEN] = '\0';
}

static bool
digits(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

bool
run_id_valid(const char *s)
{
	size_t i, n;

	if (s == NULL)
		return false;
	n = strlen(s);
	if (n > 2 && s[0] == 'd' && s[1] == '@')
		/* a deploy number: 1 to 18 digits, no leading zero */
		return n <= 20 && s[2] != '0' && digits(s + 2, n - 2);
	if (n != RUN_ID_LEN || s[0] != 'r' || s[1] != '@' ||
	    !digits(s + 2, 8) || s[10] != '-' || !digits(s + 11, 6) ||
	    s[17] != '-')
		return false;
	for (i = 18; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}
