/*
 * Allocation wrappers that abort with a message on out-of-memory, so callers
 * never handle ENOMEM.  Every result is the caller's, freed with free().
 */
#ifndef LR_XALLOC_H
#define LR_XALLOC_H

#include <stddef.h>

void	*lr_xmalloc(size_t n);
void	*lr_xcalloc(size_t nmemb, size_t size);
void	*lr_xrealloc(void *p, size_t n);
/* Grow *p (an array of *cap elements of size sz) to hold at least need. */
void	*lr_xgrow(void *p, size_t *cap, size_t need, size_t sz);
char	*lr_xstrdup(const char *s);
char	*lr_xstrndup(const char *s, size_t n);
char	*lr_xasprintf(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));

/* Append one element to a (ptr, n, cap) dynamic array. */
#define LR_ARRAY_PUSH(arr, n, cap) \
	((arr) = lr_xgrow((arr), &(cap), (n) + 1, sizeof(*(arr))), \
	 &(arr)[(n)++])

#endif
