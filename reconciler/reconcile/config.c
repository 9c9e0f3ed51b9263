/*
 * The client configuration file (config.h): a small YAML schema read with
 * the spec parser's node tree and schema helpers.
 */
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>

#include "buf.h"
#include "config.h"
#include "file.h"
#include "node.h"
#include "sign.h"
#include "xalloc.h"

static const char *const top_keys[] = { "etcd", "signing", "server", NULL };
static const char *const signing_keys[] = { "key", NULL };
static const char *const server_keys[] = { "url", "cacert", NULL };
static const char *const etcd_keys[] = { "endpoints", "cacert", "cert",
	"key", "user", "password_file", "prefix", NULL };

static char *
expand(const char *s, const char *home)
{
	if (home != NULL && strncmp(s, "~/", 2) == 0)
		return lr_xasprintf("%s/%s", home, s + 2);
	return lr_xstrdup(s);
}

static void
get_path_in(struct spec_diags *d, const char *sect,
    const struct spec_node *map, const char *k, const char *home, char **out)
{
	const struct spec_node *n = spec_node_get(map, k);
	const char *s = NULL;
	char *what;

	if (n == NULL || spec_node_is_null(n))
		return;
	what = lr_xasprintf("%s.%s", sect, k);
	if (spec_get_str(d, n, what, &s) == 0 && *s == '\0')
		spec_diag_hint(spec_diag_at(d, n, "%s is empty", what),
		    "remove the key or give a value; see leura(1), FILES");
	else if (s != NULL)
		*out = expand(s, home);
	free(what);
}

static void
get_path(struct spec_diags *d, const struct spec_node *map, const char *k,
    const char *home, char **out)
{
	get_path_in(d, "etcd", map, k, home, out);
}

static void
get_endpoints(struct spec_diags *d, const struct spec_node *n,
    struct rec_config *out)
{
	if (n == NULL || spec_node_is_null(n))
		return;
	out->endpoints = spec_get_endpoints(d, n, "etcd.endpoints",
	    "list at least one URL, e.g. [http://127.0.0.1:2379]");
}

int
rec_config_parse(const char *path, const char *buf, size_t len,
    const char *home, struct rec_config *out, struct spec_diags *d)
{
	struct spec_file *f = NULL;
	const struct spec_node *etcd, *sg, *sv;
	size_t nerr = d->nerrors;
	bool top;

	memset(out, 0, sizeof(*out));
	spec_file_parse(path, buf, len, &f, d);
	top = f->root != NULL && spec_check_map(d, f->root, "the leura client "
	    "configuration", top_keys, "leura(1), FILES");
	if (top && (etcd = spec_node_get(f->root, "etcd")) != NULL &&
	    !spec_node_is_null(etcd) &&
	    spec_check_map(d, etcd, "etcd", etcd_keys, "leura(1), FILES")) {
		get_endpoints(d, spec_node_get(etcd, "endpoints"), out);
		get_path(d, etcd, "cacert", home, &out->cacert);
		get_path(d, etcd, "cert", home, &out->cert);
		get_path(d, etcd, "key", home, &out->key);
		get_path(d, etcd, "user", NULL, &out->user);
		get_path(d, etcd, "password_file", home, &out->password_file);
		get_path(d, etcd, "prefix", NULL, &out->prefix);
		if (out->prefix && out->prefix[0] != '/')
			spec_diag_hint(spec_diag_at(d, spec_node_get(etcd,
			    "prefix"), "etcd.prefix '%s' does not start with "
			    "'/'", out->prefix), "use an absolute key prefix "
			    "such as /leura");
	}
	if (top && (sg = spec_node_get(f->root, "signing")) != NULL &&
	    !spec_node_is_null(sg) && spec_check_map(d, sg, "signing",
	    signing_keys, "leura(1), FILES"))
		get_path_in(d, "signing", sg, "key", home, &out->signing_key);
	if (top && (sv = spec_node_get(f->root, "server")) != NULL &&
	    !spec_node_is_null(sv) && spec_check_map(d, sv, "server",
	    server_keys, "leura(1), FILES")) {
		get_path_in(d, "server", sv, "url", NULL, &out->server_url);
		get_path_in(d, "server", sv, "cacert", home,
		    &out->server_cacert);
		if (out->server_url != NULL &&
		    strncmp(out->server_url, "http://", 7) != 0 &&
		    strncmp(out->server_url, "https://", 8) != 0)
			spec_diag_hint(spec_diag_at(d, spec_node_get(sv,
			    "url"), "server.url '%s' is not an http:// or "
			    "https:// URL", out->server_url), "give leurad's "
			    "address, e.g. https://leura.example.net:7480");
	}
	spec_file_free(f);
	return d->nerrors > nerr ? LR_EINVAL : 0;
}

void
rec_config_release(struct rec_config *c)
{
	free(c->endpoints);
	free(c->cacert);
	free(c->cert);
	free(c->key);
	free(c->user);
	free(c->password_file);
	free(c->prefix);
	free(c->signing_key);
	free(c->server_url);
	free(c->server_cacert);
	memset(c, 0, sizeof(*c));
}

/* ---- the connection chain ---- */

#define MAX_CONFIG (1024 * 1024)

static char *
config_path(const char **home, bool *must_exist)
{
	const char *x;

	*home = getenv("HOME");
	*must_exist = false;
	if ((x = getenv("LEURA_CONFIG")) != NULL && *x) {
		*must_exist = true;
		return lr_xstrdup(x);
	}
	if ((x = getenv("XDG_CONFIG_HOME")) != NULL && *x)
		return lr_xasprintf("%s/leura/config", x);
	if (*home == NULL)
		return NULL;
	return lr_xasprintf("%s/.config/leura/config", *home);
}

/* Read the config file into rc (nothing when there is none). */
static int
config_read(struct rec_config *rc, struct spec_diags *d, struct lr_err *err)
{
	const char *home;
	char *path, *buf = NULL;
	size_t len = 0;
	bool must_exist;
	int ret = 0;

	path = config_path(&home, &must_exist);
	if (path != NULL && (ret = lr_read_file(path, MAX_CONFIG, &buf, &len,
	    err)) < 0) {
		if (ret != LR_ENOENT || must_exist)
			goto out;
		lr_err_clear(err);
		ret = 0;
	}
	if (buf != NULL)
		ret = rec_config_parse(path, buf, len, home, rc, d);
out:
	free(buf);
	free(path);
	return ret;
}

/* a, else b (NULL or "" is unset) */
static const char *
over(const char *a, const char *b)
{
	return a != NULL && *a != '\0' ? a : b;
}

int
rec_config_conn(const struct lr_conn_settings *flags,
    const struct lr_conn_settings *repo, struct lr_conn *out,
    struct spec_diags *d, struct lr_err *err)
{
	static const struct lr_conn_settings none;
	struct rec_config rc = { 0 };
	struct lr_conn_settings file = { 0 };
	int ret;

	memset(out, 0, sizeof(*out));
	if ((ret = config_read(&rc, d, err)) < 0)
		goto out;
	if (repo == NULL)
		repo = &none;
	/* leura.yml's backend comes between the variables and the file */
	file.endpoints = over(repo->endpoints, rc.endpoints);
	file.cacert = rc.cacert;
	file.cert = rc.cert;
	file.key = rc.key;
	file.user = rc.user;
	file.password_file = rc.password_file;
	file.prefix = over(repo->prefix, rc.prefix);
	ret = lr_conn_resolve(flags, &file, out, err);
out:
	rec_config_release(&rc);
	return ret;
}

char *
rec_config_dir(void)
{
	const char *x;

	if ((x = getenv("XDG_CONFIG_HOME")) != NULL && *x)
		return lr_xasprintf("%s/leura", x);
	if ((x = getenv("HOME")) == NULL || *x == '\0')
		return NULL;
	return lr_xasprintf("%s/.config/leura", x);
}

int
rec_config_signing_key(const char *flag, char **out, struct spec_diags *d,
    struct lr_err *err)
{
	struct rec_config rc = { 0 };
	const char *x;
	char *dir;
	int ret;

	if (flag != NULL && *flag) {
		*out = lr_xstrdup(flag);
		return 0;
	}
	if ((x = getenv("LEURA_SIGNING_KEY")) != NULL && *x) {
		*out = lr_xstrdup(x);
		return 0;
	}
	if ((ret = config_read(&rc, d, err)) < 0)
		goto out;
	if (rc.signing_key != NULL) {
		*out = rc.signing_key;
		rc.signing_key = NULL;
	} else if ((dir = rec_config_dir()) != NULL) {
		*out = lr_xasprintf("%s/%s", dir, LR_SIGN_PRIVATE_NAME);
		free(dir);
	} else {
		ret = lr_err_set(err, LR_ENOENT, "no signing key: no "
		    "--signing-key, LEURA_SIGNING_KEY or HOME");
		lr_err_hint(err, "make a key pair with 'leura keygen DIR' "
		    "and give its private key with --signing-key");
	}
out:
	rec_config_release(&rc);
	return ret;
}

int
rec_config_server(const char *flag, char **url, char **cacert,
    struct spec_diags *d, struct lr_err *err)
{
	struct rec_config rc = { 0 };
	const char *u, *ca;
	int ret = 0;

	*url = *cacert = NULL;
	u = over(flag, getenv("LEURA_SERVER"));
	ca = getenv("LEURA_SERVER_CACERT");
	if ((u == NULL || ca == NULL || *ca == '\0') &&
	    (ret = config_read(&rc, d, err)) < 0)
		goto out;
	u = over(u, rc.server_url);
	ca = over(ca, rc.server_cacert);
	if (u != NULL)
		*url = lr_xstrdup(u);
	if (u != NULL && ca != NULL)
		*cacert = lr_xstrdup(ca);
out:
	rec_config_release(&rc);
	return ret;
}
