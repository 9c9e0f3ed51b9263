/*
 * Error codes and the error-detail struct every layer fills.  Lower layers
 * fill a caller-supplied struct lr_err and return a negative LR_E* code; only
 * the top (a cmd_* or a daemon's handler) prints it.
 */
#ifndef LR_ERR_H
#define LR_ERR_H

#include <stdarg.h>

enum {
	LR_OK = 0,
	LR_EINVAL = -1,		/* invalid input (specs, arguments) */
	LR_ENOENT = -2,		/* something named does not exist */
	LR_EIO = -3,		/* read/write failed */
	LR_EGIT = -4,		/* libgit2 failed */
	LR_ENOMEM = -5,
	LR_EUSAGE = -6,		/* command-line usage error */
	LR_ESCHED = -7,		/* placement impossible */
	LR_ERANGE = -8,		/* value out of range */
	LR_EUNREACH = -9,	/* no etcd endpoint answered */
	LR_EAUTH = -10,		/* etcd refused the credentials or the token */
	LR_ETLS = -11,		/* TLS handshake or certificate failure */
	LR_ECONFLICT = -12,	/* a compare failed: someone changed it first */
	LR_EETCD = -13,		/* etcd answered with an error */
	LR_ETOOBIG = -14,	/* a value or request over etcd's size limit */
	LR_ECANCELED = -15,	/* stopped by the caller */
	LR_EPERM = -16,		/* etcd denied the operation (RBAC) */
	LR_EBUSY = -17,		/* held by another process (a lock) */
	LR_EEXIST = -18,	/* already made (a run, a firing): see its hint */
};

struct lr_err {
	int	code;		/* LR_E*, negative; 0 when unset */
	char	msg[512];	/* what failed, on what, why */
	char	hint[256];	/* what the user can do about it; may be empty */
};

/* Fill err (may be NULL) and return code, so `return lr_err_set(...)` works. */
int	lr_err_set(struct lr_err *err, int code, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* Set the hint of an already-set err; returns err->code. */
int	lr_err_hint(struct lr_err *err, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	lr_err_clear(struct lr_err *err);
/* Print "leura: error: msg" and "hint: ..." to stderr. */
/* "PROG: error: MSG" and "hint: HINT" on stderr; PROG is lr_progname. */
void	lr_err_print(const struct lr_err *err);
extern const char *lr_progname;	/* "leura" unless main() says otherwise */

/* Log file:line and abort: impossible states only. */
#define LR_BUG(...) lr_bug(__FILE__, __LINE__, __VA_ARGS__)
void	lr_bug(const char *file, int line, const char *fmt, ...)
	    __attribute__((noreturn, format(printf, 3, 4)));

#endif
