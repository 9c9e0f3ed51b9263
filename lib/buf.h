/*
 * Growable byte buffers.  s is always NUL-terminated (when non-NULL), so a
 * buffer holding text can be used as a C string.
 */
#ifndef LR_BUF_H
#define LR_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct lr_buf {
	char	*s;		/* owned; NULL until the first append */
	size_t	 len;
	size_t	 cap;
};

#define LR_BUF_INIT { NULL, 0, 0 }

void	 lr_buf_init(struct lr_buf *b);
void	 lr_buf_release(struct lr_buf *b);	/* frees s; b is reusable */
void	 lr_buf_reset(struct lr_buf *b);	/* len = 0, keeps memory */
void	 lr_buf_add(struct lr_buf *b, const void *p, size_t n);
void	 lr_buf_adds(struct lr_buf *b, const char *s);
void	 lr_buf_addc(struct lr_buf *b, char c);
void	 lr_buf_printf(struct lr_buf *b, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	 lr_buf_vprintf(struct lr_buf *b, const char *fmt, va_list ap);
/* Hand the string to the caller (never NULL) and reset b. */
char	*lr_buf_detach(struct lr_buf *b, size_t *lenp);

#endif
