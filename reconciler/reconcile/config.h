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
 *   signing:
 *     key: ~/.config/leura/signing.key
 *   server:
 *     url: https://leura.example.net:7480
 *     cacert: /etc/leura/server-ca.pem
 *
 * Command-line flags win over LEURA_* variables, which win over the
 * config repo's leura.yml (its etcd.endpoints and etcd.prefix, a fleet's
 * backend), which wins over this file (DESIGN.md §3): rec_config_conn
 * finds and reads the file and hands its values to that merge
 * (lr_conn_resolve, lib/conn.h), which the agent shares.  Nothing here
 * prints.
 */
#ifndef REC_CONFIG_H
#define REC_CONFIG_H

#include "conn.h"
#include "diag.h"
#include "err.h"

struct rec_config {
	char	*endpoints;	/* owned: comma-separated; NULL if unset */
	char	*cacert, *cert, *key, *user, *password_file, *prefix;
	char	*signing_key;	/* signing.key: the fleet's private key */
	char	*server_url;	/* server.url: leurad's address */
	char	*server_cacert;	/* server.cacert: the CA of its certificate */
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

/*
 * The connection settings of a client: flags (may be NULL), then the
 * LEURA_ETCD* variables, then repo (may be NULL: the endpoints and prefix
 * that leura.yml names; nothing else is read from it), then the file at
 * $LEURA_CONFIG (which must
 * exist), else $XDG_CONFIG_HOME/leura/config or ~/.config/leura/config
 * (which may not), then the defaults.  Returns 0 with *out filled (release
 * with lr_conn_release), LR_EINVAL with diagnostics in d when the file is
 * invalid, or another LR_E* (or LR_EINVAL without diagnostics) with err
 * set, as lr_conn_resolve.
 */
int	rec_config_conn(const struct lr_conn_settings *flags,
	    const struct lr_conn_settings *repo, struct lr_conn *out,
	    struct spec_diags *d, struct lr_err *err);

/*
 * The path of the fleet's private signing key (docs/security.md): flag
 * (may be NULL), then $LEURA_SIGNING_KEY (a path, never the key), then
 * signing.key of the config file, then signing.key beside the config
 * file ($XDG_CONFIG_HOME/leura/ or ~/.config/leura/, where `leura keygen`
 * puts it).  *out is owned by the caller.  LR_EINVAL with diagnostics in
 * d when the file is invalid; LR_ENOENT with err set when there is no
 * home to look in.
 */
int	rec_config_signing_key(const char *flag, char **out,
	    struct spec_diags *d, struct lr_err *err);
/*
 * leurad, when one is configured: --server (flag, may be NULL), then
 * $LEURA_SERVER, then server.url of the config file.  *url is NULL when
 * none is (the CLI then talks to etcd directly), else the caller's; so is
 * *cacert ($LEURA_SERVER_CACERT, else server.cacert; NULL: the system's
 * CAs).  Errors as rec_config_signing_key.
 */
int	rec_config_server(const char *flag, char **url, char **cacert,
	    struct spec_diags *d, struct lr_err *err);

/* The folder of the default config file (owned), NULL without a home. */
char	*rec_config_dir(void);

#endif
