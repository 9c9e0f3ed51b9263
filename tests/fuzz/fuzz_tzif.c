/*
 * libFuzzer target: the TZif parser of scheduler/tz.c (sched_tz_parse:
 * the header counts, the data blocks, the POSIX TZ footer).  A zone that
 * parses is then asked for offsets, for the instants of wall times and
 * for cron fire times around a few instants (1900, 2026, 2050, 9000:
 * the table, the footer's rule, the edges of the calendar), which must
 * not crash, and fire times must come after the instant asked about.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "scheduler.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct sched_cron *cron;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int64_t at[] = {
		-2208988800LL, 1774744200LL, 2531001600LL, 221845392000LL,
	};
	struct sched_tz *tz = NULL;
	char	 errbuf[256];
	const char *abbr;
	int64_t	 w, t, next;
	int32_t	 off;
	size_t	 i;

	if (cron == NULL && sched_cron_parse("*/7 2 * * *", &cron, NULL, 0,
	    NULL) < 0)
		abort();
	if (sched_tz_parse(data, size, "fuzz", &tz, errbuf,
	    sizeof(errbuf)) < 0)
		return 0;
	for (i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		w = sched_tz_utc_to_wall(tz, at[i], &off, &abbr);
		if (abbr == NULL)
			abort();
		t = sched_tz_wall_to_utc(tz, w);
		(void)t;
		if (sched_cron_next_tz(cron, tz, at[i], &next) == 0 &&
		    next <= at[i]) {
			fprintf(stderr, "fuzz_tzif: fire time %lld not after "
			    "%lld\n", (long long)next, (long long)at[i]);
			abort();
		}
	}
	sched_tz_free(tz);
	return 0;
}
