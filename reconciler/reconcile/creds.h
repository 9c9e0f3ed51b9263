/*
 * The credentials file of `leura login`: $XDG_CONFIG_HOME/leura/credentials
 * or ~/.config/leura/credentials (or $LEURA_CREDENTIALS), JSON, one entry
 * per server URL:
 *
 *   {"servers": {"http://127.0.0.1:7480":
 *       {"token": "...", "user": "alice", "expires": "2026-12-08T19:00:00Z"}}}
 *
 * It holds secrets: it is written mode 0600 through a temp file created
 * O_EXCL beside it and renamed over it (its folder made 0700 when new),
 * and a file that others may read, or that another user owns, is refused
 * (LR_EPERM, the hint says chmod 600) rather than used.  Nothing here
 * prints.
 */
#ifndef REC_CREDS_H
#define REC_CREDS_H

#include "err.h"

struct rec_cred {
	char	*token;		/* owned; wiped when released */
	char	*user;		/* owned; may be NULL */
	char	*expires;	/* owned: RFC 3339; may be NULL */
};

void	rec_cred_release(struct rec_cred *c);	/* zeroed is fine */

/* The file's path (the caller's), or NULL without HOME nor XDG folder. */
char	*rec_creds_path(void);

/*
 * The entry of url in the file (*out filled, released by the caller).
 * LR_ENOENT (err set) when there is no file or no entry for url;
 * LR_EPERM for a file others may read or another user owns; LR_EINVAL for
 * one that is not the JSON above; LR_EIO when it cannot be read.
 */
int	rec_creds_get(const char *url, struct rec_cred *out,
	    struct lr_err *err);
/* Set (c non-NULL) or remove (c NULL) the entry of url; 0 or LR_E*. */
int	rec_creds_put(const char *url, const struct rec_cred *c,
	    struct lr_err *err);

#endif
