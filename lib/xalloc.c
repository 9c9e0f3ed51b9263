/*
 * Out-of-memory aborts: a configuration tool that cannot allocate a few bytes
 * has nothing sensible left to do.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

static void
oom(size_t n)
{
	fprintf(stderr, "leura: fatal: out of memory allocating %zu bytes\n",
	    n);
	abort();
}

void *
lr_xmalloc(size_t n)
{
	void *p;

	if ((p = malloc(n ? n : 1)) == NULL)
		oom(n);
	return p;
}

void *
lr_xcalloc(size_t nmemb, size_t size)
{
	void *p;

	if ((p = calloc(nmemb ? nmemb : 1, size ? size : 1)) == NULL)
		oom(nmemb * size);
	return p;
}

void *
lr_xrealloc(void *p, size_t n)
{
	void *q;

	if ((q = realloc(p, n ? n : 1)) == NULL)
		oom(n);
	return q;
}

void *
lr_xgrow(void *p, size_t *cap, size_t need, size_t sz)
{
	size_t ncap;

	if (need <= *cap)
		return p;
	ncap = *cap ? *cap : 4;
	while (ncap < need)
		ncap *= 2;
	p = lr_xrealloc(p, ncap * sz);
	*cap = ncap;
	return p;
}

char *
lr_xstrdup(const char *s)
{
	return lr_xstrndup(s, strlen(s));
}

char *
lr_xstrndup(const char *s, size_t n)
{
	char *p;

	p = lr_xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
lr_xasprintf(const char *fmt, ...)
{
	char tmp[256], *p;
	va_list ap;
	int n;

	/* one formatting pass for the common short case */
	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	if ((size_t)n < sizeof(tmp))
		return lr_xstrndup(tmp, (size_t)n);
	p = lr_xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}
