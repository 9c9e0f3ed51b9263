/*
 * One line per event on stderr: time, level, component, message.
 */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "log.h"

int lr_log_level_cur = LR_LOG_WARN;

static const char *names[] = { "error", "warn", "notice", "info", "debug" };

void
lr_log_set_level(int level)
{
	if (level < LR_LOG_ERROR)
		level = LR_LOG_ERROR;
	if (level > LR_LOG_DEBUG)
		level = LR_LOG_DEBUG;
	lr_log_level_cur = level;
}

void
lr_log_emit(int level, const char *component, const char *fmt, ...)
{
	char ts[32];
	struct tm tm;
	time_t now;
	va_list ap;

	now = time(NULL);
	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	fprintf(stderr, "%s %s %s: ", ts, names[level], component);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
