/*
 * conn: where etcd is, for the commands that talk to it (conn.h).  The
 * password is never a flag (it would show in ps): LEURA_ETCD_PASSWORD or
 * the config file's password_file.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "conn.h"
#include "specload.h"
#include "xalloc.h"

#define DEFAULT_ENDPOINT "http://127.0.0.1:2379"
#define DEFAULT_PREFIX "/leura"
#define MAX_CONFIG (1024 * 1024)

/* Read a whole small file; NULL with err set. */
static char *
slurp(const char *path, size_t *len, bool missing_ok, struct lr_err *err)
{
	FILE *fp;
	char *buf;
	size_t n;

	if ((fp = fopen(path, "rb")) == NULL) {
		if (!(missing_ok && errno == ENOENT))
			lr_err_set(err, LR_EIO, "cannot read '%s': %s", path,
			    strerror(errno));
		return NULL;
	}
	buf = lr_xmalloc(MAX_CONFIG + 1);
	n = fread(buf, 1, MAX_CONFIG + 1, fp);
	fclose(fp);
	if (n > MAX_CONFIG) {
		free(buf);
		lr_err_set(err, LR_ERANGE, "'%s' is over 1 MiB", path);
		return NULL;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

static char *
config_path(const char **home)
{
	const char *x;

	*home = getenv("HOME");
	if ((x = getenv("LEURA_CONFIG")) != NULL && *x)
		return lr_xstrdup(x);
	if ((x = getenv("XDG_CONFIG_HOME")) != NULL && *x)
		return lr_xasprintf("%s/leura/config", x);
	if (*home == NULL)
		return NULL;
	return lr_xasprintf("%s/.config/leura/config", *home);
}

static const char *
pick(const char *flag, const char *env, const char *file)
{
	const char *v;

	if (flag != NULL && *flag)
		return flag;
	if ((v = getenv(env)) != NULL && *v)
		return v;
	return file;
}

int
conn_open(struct conn *c, const struct lr_ctx *ctx)
{
	struct rec_config rc = { 0 };
	struct spec_diags d;
	struct etcd_config cfg = { 0 };
	struct lr_err err;
	const char *home, *pw, *pfx;
	char *path, *buf = NULL, *pwbuf = NULL;
	size_t len = 0;
	int ret = LR_EXIT_FAIL;

	memset(c, 0, sizeof(*c));
	lr_err_clear(&err);
	spec_diags_init(&d);
	path = config_path(&home);
	/* a file named by LEURA_CONFIG must exist; the default may not */
	if (path && (buf = slurp(path, &len, getenv("LEURA_CONFIG") == NULL ||
	    *getenv("LEURA_CONFIG") == '\0', &err)) == NULL && err.code) {
		lr_err_print(&err);
		goto out;
	}
	if (buf && rec_config_parse(path, buf, len, home, &rc, &d) < 0) {
		spec_diags_print(&d, stderr, 20);
		goto out;
	}
	cfg.endpoints = pick(ctx->etcd, "LEURA_ETCD", rc.endpoints);
	if (cfg.endpoints == NULL)
		cfg.endpoints = DEFAULT_ENDPOINT;
	cfg.cacert = pick(ctx->etcd_cacert, "LEURA_ETCD_CACERT", rc.cacert);
	cfg.cert = pick(ctx->etcd_cert, "LEURA_ETCD_CERT", rc.cert);
	cfg.key = pick(ctx->etcd_key, "LEURA_ETCD_KEY", rc.key);
	cfg.user = pick(ctx->etcd_user, "LEURA_ETCD_USER", rc.user);
	pw = getenv("LEURA_ETCD_PASSWORD");
	if ((pw == NULL || *pw == '\0') && rc.password_file) {
		if ((pwbuf = slurp(rc.password_file, &len, false,
		    &err)) == NULL) {
			lr_err_print(&err);
			goto out;
		}
		pwbuf[strcspn(pwbuf, "\r\n")] = '\0';
		pw = pwbuf;
	}
	if (cfg.user != NULL && (pw == NULL || *pw == '\0')) {
		fprintf(stderr, "leura: error: etcd user '%s' has no "
		    "password\nhint: set LEURA_ETCD_PASSWORD, or "
		    "etcd.password_file in the config file\n", cfg.user);
		goto out;
	}
	cfg.password = pw;
	if (etcd_new(&cfg, &c->etcd, &err) < 0) {
		lr_err_print(&err);
		goto out;
	}
	c->endpoints = lr_xstrdup(cfg.endpoints);
	pfx = pick(NULL, "LEURA_ETCD_PREFIX", rc.prefix);
	if (pfx && pfx[0] != '/') {
		fprintf(stderr, "leura: error: LEURA_ETCD_PREFIX '%s' does not "
		    "start with '/'\nhint: use an absolute key prefix such as "
		    "/leura\n", pfx);
		goto out;
	}
	c->prefix = lr_xstrdup(pfx ? pfx : DEFAULT_PREFIX);
	len = strlen(c->prefix);
	while (len > 1 && c->prefix[len - 1] == '/')
		c->prefix[--len] = '\0';
	ret = 0;
out:
	if (pwbuf) {
		memset(pwbuf, 0, strlen(pwbuf));
		free(pwbuf);
	}
	free(buf);
	free(path);
	rec_config_release(&rc);
	spec_diags_release(&d);
	return ret;
}

void
conn_release(struct conn *c)
{
	etcd_free(c->etcd);
	free(c->prefix);
	free(c->endpoints);
	memset(c, 0, sizeof(*c));
}

bool
conn_opt(int argc, char **argv, int *i, struct lr_ctx *ctx)
{
	static const struct {
		const char *name;
		size_t off;
	} opts[] = {
		{ "--etcd", offsetof(struct lr_ctx, etcd) },
		{ "--etcd-cacert", offsetof(struct lr_ctx, etcd_cacert) },
		{ "--etcd-cert", offsetof(struct lr_ctx, etcd_cert) },
		{ "--etcd-key", offsetof(struct lr_ctx, etcd_key) },
		{ "--etcd-user", offsetof(struct lr_ctx, etcd_user) },
	};
	const char *v;
	size_t k, n;

	for (k = 0; k < sizeof(opts) / sizeof(opts[0]); k++) {
		n = strlen(opts[k].name);
		if (strncmp(argv[*i], opts[k].name, n) != 0 ||
		    (argv[*i][n] != '\0' && argv[*i][n] != '='))
			continue;
		if ((v = opt_value(argc, argv, i, opts[k].name)) == NULL)
			return false;
		*(const char **)((char *)ctx + opts[k].off) = v;
		return true;
	}
	return false;
}
