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

/*
 * Append n bytes of s as a terminal shows text and never acts on it:
 * control characters (C0, DEL, the C1 controls U+0080..U+009F) and bytes
 * that are not UTF-8 become \xHH, so a host's report cannot set a window
 * title, write the clipboard (OSC 52) or move the cursor.  \n and \t are
 * kept with LR_VIS_LINES (output shown as lines), else shown as \n, \t.
 */
#define LR_VIS_LINES	0x1
void	 lr_buf_add_visible(struct lr_buf *b, const char *s, size_t n,
	    unsigned flags);
/* Hand the string to the caller (never NULL) and reset b. */
char	*lr_buf_detach(struct lr_buf *b, size_t *lenp);

#endif
