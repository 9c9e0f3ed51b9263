/*
 * conn: the connection settings chain (conn.h).  The password is never a
 * value on a command line (it would show in ps): a variable or a file.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "file.h"
#include "xalloc.h"

#define DEFAULT_ENDPOINT	"http://127.0.0.1:2379"
#define DEFAULT_PREFIX		"/leura"
#define MAX_SECRET		(1024 * 1024)

static bool
set(const char *s)
{
	return s != NULL && *s != '\0';
}

/* flag, else $env, else file: a copy, or NULL; *from says which. */
static char *
pick(const char *flag, const char *env, const char *file, const char **from)
{
	const char *v;

	if (set(flag)) {
		*from = "flag";
		return lr_xstrdup(flag);
	}
	if (set(v = getenv(env))) {
		*from = env;
		return lr_xstrdup(v);
	}
	*from = "file";
	return set(file) ? lr_xstrdup(file) : NULL;
}

/*
 * The first line of path, in a buffer of its own size (so that wiping
 * strlen bytes wipes it all); the whole file as read is wiped here.
 */
static int
read_secret(const char *path, char **out, struct lr_err *err)
{
	char *buf;
	size_t len;
	int rc;

	if ((rc = lr_read_file(path, MAX_SECRET, &buf, &len, err)) < 0) {
		if (rc == LR_ERANGE)	/* the CLI's words for it */
			lr_err_set(err, LR_ERANGE, "'%s' is over 1 MiB", path);
		return rc;
	}
	*out = lr_xstrndup(buf, strcspn(buf, "\r\n"));
	explicit_bzero(buf, len + 1);
	free(buf);
	return 0;
}

int
lr_conn_resolve(const struct lr_conn_settings *flags,
    const struct lr_conn_settings *file, struct lr_conn *out,
    struct lr_err *err)
{
	static const struct lr_conn_settings none;
	const char *from, *pw;
	size_t n;
	int rc = 0;

	if (flags == NULL)
		flags = &none;
	if (file == NULL)
		file = &none;
	memset(out, 0, sizeof(*out));
	out->endpoints = pick(flags->endpoints, "LEURA_ETCD", file->endpoints,
	    &from);
	if (out->endpoints == NULL)
		out->endpoints = lr_xstrdup(DEFAULT_ENDPOINT);
	out->cacert = pick(flags->cacert, "LEURA_ETCD_CACERT", file->cacert,
	    &from);
	out->cert = pick(flags->cert, "LEURA_ETCD_CERT", file->cert, &from);
	out->key = pick(flags->key, "LEURA_ETCD_KEY", file->key, &from);
	out->user = pick(flags->user, "LEURA_ETCD_USER", file->user, &from);

	out->prefix = pick(flags->prefix, "LEURA_ETCD_PREFIX", file->prefix,
	    &from);
	if (out->prefix == NULL)
		out->prefix = lr_xstrdup(DEFAULT_PREFIX);
	if (out->prefix[0] != '/') {
		rc = lr_err_set(err, LR_EINVAL, "%s '%s' does not start with "
		    "'/'", strcmp(from, "flag") == 0 ? "--prefix" :
		    strcmp(from, "file") == 0 ? "etcd.prefix" : from,
		    out->prefix);
		lr_err_hint(err, "use an absolute key prefix such as /leura");
		goto out;
	}
	n = strlen(out->prefix);
	while (n > 1 && out->prefix[n - 1] == '/')
		out->prefix[--n] = '\0';

	if (set(flags->password_file))
		rc = read_secret(flags->password_file, &out->password, err);
	else if (set(pw = getenv("LEURA_ETCD_PASSWORD")))
		out->password = lr_xstrdup(pw);
	else if (set(file->password_file))
		rc = read_secret(file->password_file, &out->password, err);
	if (rc < 0)
		goto out;
	if (out->user != NULL && !set(out->password))
		rc = lr_err_set(err, LR_EAUTH, "etcd user '%s' has no password",
		    out->user);
out:
	if (rc < 0)
		lr_conn_release(out);
	return rc;
}

void
lr_conn_release(struct lr_conn *c)
{
	/* its buffer is exactly strlen + 1 (read_secret, lr_xstrdup) */
	if (c->password != NULL)
		explicit_bzero(c->password, strlen(c->password));
	free(c->password);
	free(c->endpoints);
	free(c->cacert);
	free(c->cert);
	free(c->key);
	free(c->user);
	free(c->prefix);
	memset(c, 0, sizeof(*c));
}
