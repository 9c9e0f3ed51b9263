/*
 * The credentials file (creds.h): read with its mode checked on the open
 * descriptor (no window between the check and the read), rewritten whole
 * through lr_file_replace (temp file O_EXCL, fchmod 0600, rename).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "buf.h"
#include "creds.h"
#include "file.h"
#include "json.h"
#include "xalloc.h"

#define CREDS_NAME	"credentials"
#define CREDS_MAX	(1024 * 1024)

void
rec_cred_release(struct rec_cred *c)
{
	if (c->token != NULL)
		explicit_bzero(c->token, strlen(c->token));
	free(c->token);
	free(c->user);
	free(c->expires);
	memset(c, 0, sizeof(*c));
}

/* The folder of the file (the caller's), or NULL. */
static char *
creds_dir(void)
{
	const char *x;

	if ((x = getenv("XDG_CONFIG_HOME")) != NULL && *x)
		return lr_xasprintf("%s/leura", x);
	if ((x = getenv("HOME")) == NULL || *x == '\0')
		return NULL;
	return lr_xasprintf("%s/.config/leura", x);
}

char *
rec_creds_path(void)
{
	const char *x;
	char *dir, *p;

	if ((x = getenv("LEURA_CREDENTIALS")) != NULL && *x)
		return lr_xstrdup(x);
	if ((dir = creds_dir()) == NULL)
		return NULL;
	p = lr_xasprintf("%s/%s", dir, CREDS_NAME);
	free(dir);
	return p;
}

/*
 * Read the whole file at path into *root; a missing file is an empty
 * document (LR_ENOENT is left to the caller, who knows what it wanted).
 */
static int
creds_load(const char *path, json_t **root, struct lr_err *err)
{
	struct lr_buf b = LR_BUF_INIT;
	struct stat st;
	json_error_t je;
	char chunk[4096];
	ssize_t n;
	int fd, rc = 0;

	*root = NULL;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		if (errno == ENOENT) {
			*root = json_object();
			return 0;
		}
		return lr_err_set(err, LR_EIO, "cannot open the credentials "
		    "file '%s': %s", path, strerror(errno));
	}
	if (fstat(fd, &st) == -1) {
		rc = lr_err_set(err, LR_EIO, "cannot stat '%s': %s", path,
		    strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = lr_err_set(err, LR_EINVAL, "the credentials file '%s' "
		    "is not a regular file", path);
		goto out;
	}
	if (st.st_uid != geteuid()) {
		rc = lr_err_set(err, LR_EPERM, "the credentials file '%s' "
		    "belongs to another user (uid %ld); not used", path,
		    (long)st.st_uid);
		lr_err_hint(err, "remove it and log in again: leura login");
		goto out;
	}
	if ((st.st_mode & 077) != 0) {
		rc = lr_err_set(err, LR_EPERM, "the credentials file '%s' "
		    "may be read by others (mode %04o); not used", path,
		    (unsigned)(st.st_mode & 07777));
		lr_err_hint(err, "chmod 600 '%s', and log in again if "
		    "someone else may have read it", path);
		goto out;
	}
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = lr_err_set(err, LR_EIO, "cannot read '%s': %s",
			    path, strerror(errno));
			goto out;
		}
		if (b.len + (size_t)n > CREDS_MAX) {
			rc = lr_err_set(err, LR_ERANGE, "the credentials "
			    "file '%s' is over %d KiB", path, CREDS_MAX >> 10);
			goto out;
		}
		lr_buf_add(&b, chunk, (size_t)n);
	}
	if (b.len == 0)
		*root = json_object();
	else if ((*root = json_loadb(b.s, b.len, 0, &je)) == NULL ||
	    !json_is_object(*root)) {
		json_decref(*root);
		*root = NULL;
		rc = lr_err_set(err, LR_EINVAL, "the credentials file '%s' "
		    "is not JSON: line %d: %s", path, je.line, je.text);
		lr_err_hint(err, "remove it and log in again: leura login");
	}
out:
	if (b.s != NULL)
		explicit_bzero(b.s, b.len);
	lr_buf_release(&b);
	explicit_bzero(chunk, sizeof(chunk));
	close(fd);
	return rc;
}

static int
no_home(struct lr_err *err)
{
	lr_err_set(err, LR_ENOENT, "no credentials file: neither HOME nor "
	    "XDG_CONFIG_HOME is set");
	return lr_err_hint(err, "set HOME, or give a token in LEURA_TOKEN");
}

int
rec_creds_get(const char *url, struct rec_cred *out, struct lr_err *err)
{
	json_t *root = NULL, *e;
	char *path;
	int rc;

	if ((path = rec_creds_path()) == NULL)
		return no_home(err);
	if ((rc = creds_load(path, &root, err)) < 0)
		goto out;
	e = json_object_get(json_object_get(root, "servers"), url);
	if (lr_json_strn(e, "token") == NULL) {
		rc = lr_err_set(err, LR_ENOENT, "not logged in to '%s'", url);
		lr_err_hint(err, "log in: leura login --server %s", url);
		goto out;
	}
	memset(out, 0, sizeof(*out));
	out->token = lr_xstrdup(lr_json_strn(e, "token"));
	if (lr_json_strn(e, "user") != NULL)
		out->user = lr_xstrdup(lr_json_strn(e, "user"));
	if (lr_json_strn(e, "expires") != NULL)
		out->expires = lr_xstrdup(lr_json_strn(e, "expires"));
out:
	json_decref(root);
	free(path);
	return rc;
}

int
rec_creds_put(const char *url, const struct rec_cred *c, struct lr_err *err)
{
	json_t *root = NULL, *servers, *e;
	char *path, *dir, *slash, *text = NULL;
	int rc;

	if ((path = rec_creds_path()) == NULL)
		return no_home(err);
	if ((rc = creds_load(path, &root, err)) < 0)
		goto out;
	if (!json_is_object(servers = json_object_get(root, "servers"))) {
		servers = json_object();
		json_object_set_new(root, "servers", servers);
	}
	if (c != NULL) {
		e = json_object();
		lr_json_set_str(e, "token", c->token);
		lr_json_set_str(e, "user", c->user);
		lr_json_set_str(e, "expires", c->expires);
		json_object_set_new(servers, url, e);
	} else
		json_object_del(servers, url);
	/* text: wiped and freed below */
	text = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (text == NULL)
		LR_BUG("json_dumps failed");
	dir = lr_xstrdup(path);
	if ((slash = strrchr(dir, '/')) != NULL)
		*slash = '\0';
	if (slash != NULL && *dir != '\0' && lr_mkdir_p(dir, 0700) == -1)
		rc = lr_err_set(err, LR_EIO, "cannot make the folder '%s': %s",
		    dir, strerror(errno));
	else
		rc = lr_file_replace(slash != NULL && *dir ? dir :
		    slash != NULL ? "/" : ".", slash != NULL ? slash + 1 : path,
		    text, strlen(text), 0600, LR_FILE_DURABLE, err);
	free(dir);
out:
	if (text != NULL) {
		explicit_bzero(text, strlen(text));
		free(text);
	}
	json_decref(root);
	free(path);
	return rc;
}
