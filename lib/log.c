/*
 * One line per event on stderr: time, level, component, message.
 */
#include <stdarg.h>
#include <stdio.h>
#include "clock.h"
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
	char ts[LR_TIME_ISO_LEN];
	va_list ap;

	lr_time_iso_now(ts);
	fprintf(stderr, "%s %s %s: ", ts, names[level], component);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
