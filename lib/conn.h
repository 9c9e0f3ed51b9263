/*
 * Where etcd is and how to reach it: the one merge of the connection
 * settings that `leura` and `leura-agent` share.  Flags win over the
 * LEURA_ETCD* variables, which win over the configuration file, which wins
 * over the defaults (http://127.0.0.1:2379, prefix /leura; DESIGN.md §3).
 *
 * Reading the configuration file is the caller's (the CLI parses its YAML
 * in reconciler/reconcile/config.c; the agent reads none): it passes the
 * file's values in.  Nothing here prints; no network.
 */
#ifndef LR_CONN_H
#define LR_CONN_H

#include "err.h"

/* One source of settings; NULL or "" means unset.  Borrowed strings. */
struct lr_conn_settings {
	const char *endpoints;		/* URL[,URL...] */
	const char *cacert, *cert, *key, *user;
	const char *password_file;	/* its first line is the password */
	const char *prefix;		/* key prefix, starts with '/' */
};

/* The merged settings; every field owned, NULL when unset. */
struct lr_conn {
	char	*endpoints;	/* never NULL after lr_conn_resolve */
	char	*cacert, *cert, *key, *user;
	char	*password;	/* cleared before it is freed */
	char	*prefix;	/* never NULL; no trailing '/' (but "/") */
};

/*
 * Merge flags (may be NULL), the environment and file (may be NULL) into
 * *out.  The password is the flags' password_file, else
 * LEURA_ETCD_PASSWORD, else the file's password_file.  Errors (out is
 * released): LR_EINVAL for a prefix that does not start with '/' (the
 * message names where it came from), LR_EIO/LR_ENOENT/LR_ERANGE for a
 * password file that cannot be read, LR_EAUTH for a user without a
 * password ("etcd user 'U' has no password"; the hint is the caller's,
 * who knows its options).
 */
int	lr_conn_resolve(const struct lr_conn_settings *flags,
	    const struct lr_conn_settings *file, struct lr_conn *out,
	    struct lr_err *err);
void	lr_conn_release(struct lr_conn *c);	/* zeroed is fine */

#endif
