/*
 * The client configuration file, ~/.config/leura/config (or
 * $XDG_CONFIG_HOME/leura/config, or $LEURA_CONFIG): where etcd is and how
 * to reach it.  YAML, parsed with the spec parser so mistakes get the same
 * path:line:col diagnostics and did-you-mean hints as the specs:
 *
 *   etcd:
 *     endpoints: [https://10.0.0.5:2379, https://10.0.0.6:2379]
 *     cacert: /etc/leura/etcd-ca.pem
 *     cert: /etc/leura/client.pem
 *     key: /etc/leura/client-key.pem
 *     user: deployer
 *     password_file: ~/.config/leura/etcd-password
 *     prefix: /leura
 *
 * Command-line flags win over LEURA_* variables, which win over this file
 * (DESIGN.md §3); that merge is the caller's (builtin/conn.c).
 */
#ifndef REC_CONFIG_H
#define REC_CONFIG_H

#include "diag.h"
#include "err.h"

struct rec_config {
	char	*endpoints;	/* owned: comma-separated; NULL if unset */
	char	*cacert, *cert, *key, *user, *password_file, *prefix;
};

/*
 * Parse buf[0..len) named path into *out (every field owned, NULL when
 * absent; release with rec_config_release even on failure).  Returns 0, or
 * LR_EINVAL with diagnostics added.  "~/" in file names is expanded with
 * home (may be NULL: left as is).
 */
int	rec_config_parse(const char *path, const char *buf, size_t len,
	    const char *home, struct rec_config *out, struct spec_diags *d);
void	rec_config_release(struct rec_config *c);

#endif
