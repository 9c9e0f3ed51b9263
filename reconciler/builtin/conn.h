/*
 * The etcd connection of a subcommand: flags (struct lr_ctx), then the
 * LEURA_ETCD* variables, then the config file (reconcile/config.h), then
 * the default http://127.0.0.1:2379.
 */
#ifndef LEURA_CONN_H
#define LEURA_CONN_H

#include "builtin.h"
#include "etcd.h"

struct conn {
	struct etcd *etcd;	/* owned */
	char	*prefix;	/* owned: key prefix, "/leura" by default */
	char	*endpoints;	/* owned: what was used, for messages */
};

/*
 * Resolve the settings and make the client (no network yet).  On failure
 * prints the error and returns LR_EXIT_FAIL.  conn_release either way.
 */
int	conn_open(struct conn *c, const struct lr_ctx *ctx);
void	conn_release(struct conn *c);

/*
 * --etcd, --etcd-cacert, --etcd-cert, --etcd-key, --etcd-user (with "=" or
 * a separate value) at argv[*i]: store in ctx, advance *i, true.  Used for
 * the global options and by every command that talks to etcd.
 */
bool	conn_opt(int argc, char **argv, int *i, struct lr_ctx *ctx);

#endif
