/*
 * lr_err: error details that travel in a caller-supplied struct.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

int
lr_err_set(struct lr_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return code;
	err->code = code;
	err->hint[0] = '\0';
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return code;
}

int
lr_err_hint(struct lr_err *err, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return LR_EINVAL;
	va_start(ap, fmt);
	vsnprintf(err->hint, sizeof(err->hint), fmt, ap);
	va_end(ap);
	return err->code;
}

void
lr_err_clear(struct lr_err *err)
{
	if (err == NULL)
		return;
	err->code = 0;
	err->msg[0] = '\0';
	err->hint[0] = '\0';
}

const char *lr_progname = "leura";

void
lr_err_print(const struct lr_err *err)
{
	fprintf(stderr, "%s: error: %s\n", lr_progname,
	    err->msg[0] ? err->msg : "unknown error");
	if (err->hint[0])
		fprintf(stderr, "hint: %s\n", err->hint);
}

void
lr_bug(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "leura: BUG: %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}
