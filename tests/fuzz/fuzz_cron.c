/*
 * libFuzzer target: cron expressions and `at` times (scheduler/scheduler.h).
 * The input's first line is parsed as a cron expression and its second line
 * (or the first, when there is no second) as an RFC 3339 time.  A parsed
 * expression is evaluated three times in a row from a fixed instant, and
 * once from the parsed `at` time when there is one.  Beyond crashes and
 * leaks it aborts on broken promises: a fire time not after the start, not
 * on a minute boundary, or not the first fire time after itself minus one;
 * an error position past the end of the expression.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scheduler.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_INPUT	4096

static void
broken(const char *what, const char *expr)
{
	fprintf(stderr, "fuzz_cron: %s: '%s'\n", what, expr);
	abort();
}

/* Next fire after `after`, checked; returns -1 when it never fires. */
static int
next_checked(const struct sched_cron *c, const char *expr, int64_t after,
    int64_t *next)
{
	int64_t again;

	if (sched_cron_next(c, after, next) < 0)
		return -1;
	if (*next <= after)
		broken("fire time not after the start", expr);
	if (*next % 60 != 0)
		broken("fire time not on a minute boundary", expr);
	if (sched_cron_next(c, *next - 1, &again) < 0 || again != *next)
		broken("fire time not the first one after itself - 1", expr);
	return 0;
}

static void
check_err(const char *errbuf, size_t errlen, const char *expr)
{
	if (memchr(errbuf, '\0', errlen) == NULL)
		broken("error message not NUL-terminated", expr);
	if (errbuf[0] == '\0')
		broken("error without a message", expr);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sched_cron *c = NULL;
	char buf[MAX_INPUT + 1], errbuf[256];
	const char *cron, *at;
	char *nl;
	size_t errpos;
	int64_t t, when = 0;
	int i, have_at;

	if (size > MAX_INPUT)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	cron = at = buf;
	if ((nl = strchr(buf, '\n')) != NULL) {
		*nl = '\0';
		at = nl + 1;
	}

	memset(errbuf, 0, sizeof(errbuf));
	have_at = sched_at_parse(at, &when, errbuf, sizeof(errbuf)) == 0;
	if (!have_at)
		check_err(errbuf, sizeof(errbuf), at);

	errpos = (size_t)-1;
	memset(errbuf, 0, sizeof(errbuf));
	if (sched_cron_parse(cron, &c, errbuf, sizeof(errbuf), &errpos) < 0) {
		check_err(errbuf, sizeof(errbuf), cron);
		if (errpos > strlen(cron))
			broken("error position past the end", cron);
		return 0;
	}
	t = 1767225599;			/* 2025-12-31T23:59:59Z */
	for (i = 0; i < 3; i++)
		if (next_checked(c, cron, t, &t) < 0)
			break;
	if (have_at)
		next_checked(c, cron, when, &t);
	sched_cron_free(c);
	return 0;
}
