/*
 * lr_buf: the one growable buffer used for text and bytes alike.
 */
#include <stdint.h>
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

/*
 * The length of the UTF-8 sequence at p (at most n bytes) when it is a
 * valid one (no overlong form, no surrogate, at most U+10FFFF), else 0.
 */
static size_t
utf8_len(const unsigned char *p, size_t n)
{
	size_t len, i;
	uint32_t c;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2, c = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3, c = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, c = p[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (p[i] & 0x3f);
	}
	if ((len == 3 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff))) ||
	    (len == 4 && (c < 0x10000 || c > 0x10ffff)))
		return 0;
	return len;
}

void
lr_buf_add_visible(struct lr_buf *b, const char *s, size_t n,
    unsigned flags)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	size_t k;

	while (p < end) {
		/* a run of plain printable ASCII goes in at once */
		for (k = 0; p + k < end && p[k] >= 0x20 && p[k] < 0x7f; k++)
			;
		lr_buf_add(b, p, k);
		p += k;
		if (p == end)
			break;
		if ((*p == '\n' || *p == '\t') && (flags & LR_VIS_LINES)) {
			lr_buf_addc(b, (char)*p++);
		} else if (*p == '\n' || *p == '\t') {
			lr_buf_adds(b, *p == '\n' ? "\\n" : "\\t");
			p++;
		} else if (*p >= 0x80 && (k = utf8_len(p,
		    (size_t)(end - p))) > 0 && !(p[0] == 0xc2 && p[1] < 0xa0)) {
			lr_buf_add(b, p, k);
			p += k;
		} else {
			/* C0, DEL, a C1 control, a byte that is not UTF-8 */
			lr_buf_printf(b, "\\x%02x", *p++);
		}
	}
	if (b->s == NULL)
		lr_buf_add(b, "", 0);
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
