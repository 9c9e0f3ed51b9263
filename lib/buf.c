/*
 * lr_buf: the one growable buffer used for text and bytes alike.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "xalloc.h"

void
lr_buf_init(struct lr_buf *b)
{
	b->s = NULL;
	b->len = b->cap = 0;
}

void
lr_buf_release(struct lr_buf *b)
{
	free(b->s);
	lr_buf_init(b);
}

void
lr_buf_reset(struct lr_buf *b)
{
	b->len = 0;
	if (b->s)
		b->s[0] = '\0';
}

static void
grow(struct lr_buf *b, size_t extra)
{
	b->s = lr_xgrow(b->s, &b->cap, b->len + extra + 1, 1);
}

void
lr_buf_add(struct lr_buf *b, const void *p, size_t n)
{
	grow(b, n);
	if (n)
		memcpy(b->s + b->len, p, n);
	b->len += n;
	b->s[b->len] = '\0';
}

void
lr_buf_adds(struct lr_buf *b, const char *s)
{
	lr_buf_add(b, s, strlen(s));
}

void
lr_buf_addc(struct lr_buf *b, char c)
{
	lr_buf_add(b, &c, 1);
}

void
lr_buf_vprintf(struct lr_buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n <= 0)
		return;
	grow(b, (size_t)n);
	vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
}

void
lr_buf_printf(struct lr_buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	lr_buf_vprintf(b, fmt, ap);
	va_end(ap);
}

char *
lr_buf_detach(struct lr_buf *b, size_t *lenp)
{
	char *s;

	if (b->s == NULL)
		grow(b, 0), b->s[0] = '\0';
	s = b->s;
	if (lenp)
		*lenp = b->len;
	lr_buf_init(b);
	return s;
}
