/*
 * Spec sources.  The working-tree source reads files relative to a root
 * directory with openat(2)-style calls that never follow symlinks;
 * spec_source_resolve() follows them one component at a time on top of any
 * source's ops, so "a symlink out of the repo" is judged the same way for a
 * working tree and for a git commit.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "source.h"
#include "xalloc.h"

struct dirsrc {
	char	*root;
	int	 fd;		/* O_DIRECTORY fd of root */
};

static int
dir_stat(void *ctx, const char *path, enum spec_ftype *type,
    struct lr_err *err)
{
	struct dirsrc *ds = ctx;
	struct stat st;

	if (fstatat(ds->fd, *path ? path : ".", &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT || errno == ENOTDIR) {
			*type = SPEC_FT_NONE;
			return 0;
		}
		return lr_err_set(err, LR_EIO, "cannot stat '%s' in '%s': %s",
		    path, ds->root, strerror(errno));
	}
	if (S_ISREG(st.st_mode))
		*type = SPEC_FT_FILE;
	else if (S_ISDIR(st.st_mode))
		*type = SPEC_FT_DIR;
	else if (S_ISLNK(st.st_mode))
		*type = SPEC_FT_SYMLINK;
	else
		*type = SPEC_FT_OTHER;
	return 0;
}

static int
dir_read(void *ctx, const char *path, size_t max, char **buf, size_t *len,
    struct lr_err *err)
{
	struct dirsrc *ds = ctx;
	struct lr_buf b = LR_BUF_INIT;
	struct stat st;
	char tmp[65536];
	ssize_t n;
	int fd;

	if ((fd = openat(ds->fd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return lr_err_set(err, errno == ENOENT ? LR_ENOENT : LR_EIO,
		    "cannot read '%s': %s", path, strerror(errno));
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    (uint64_t)st.st_size > max) {
		close(fd);
		return spec_source_too_big(err, path, (uint64_t)st.st_size,
		    max);
	}
	while ((n = read(fd, tmp, sizeof(tmp))) != 0) {
		if (n > 0 && b.len + (size_t)n > max) {
			/* it grew while being read */
			lr_buf_release(&b);
			close(fd);
			return spec_source_too_big(err, path,
			    (uint64_t)b.len + (uint64_t)n, max);
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			lr_buf_release(&b);
			close(fd);
			return lr_err_set(err, LR_EIO, "cannot read '%s': %s",
			    path, strerror(errno));
		}
		lr_buf_add(&b, tmp, (size_t)n);
	}
	close(fd);
	*buf = lr_buf_detach(&b, len);
	return 0;
}

static int
dir_readlink(void *ctx, const char *path, char **target, struct lr_err *err)
{
	struct dirsrc *ds = ctx;
	char tmp[PATH_MAX];
	ssize_t n;

	if ((n = readlinkat(ds->fd, path, tmp, sizeof(tmp) - 1)) < 0)
		return lr_err_set(err, LR_EIO, "cannot read link '%s': %s",
		    path, strerror(errno));
	*target = lr_xstrndup(tmp, (size_t)n);
	return 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
dir_list(void *ctx, const char *dir, char ***names, size_t *n,
    struct lr_err *err)
{
	struct dirsrc *ds = ctx;
	struct dirent *de;
	char **v = NULL;
	size_t nv = 0, cap = 0;
	DIR *dp;
	int fd;

	fd = openat(ds->fd, *dir ? dir : ".",
	    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP) {
			*names = NULL;
			*n = 0;
			return 0;
		}
		return lr_err_set(err, LR_EIO, "cannot list '%s' in '%s': %s",
		    dir, ds->root, strerror(errno));
	}
	if ((dp = fdopendir(fd)) == NULL) {
		close(fd);
		return lr_err_set(err, LR_EIO, "cannot list '%s': %s", dir,
		    strerror(errno));
	}
	while ((de = readdir(dp)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		*LR_ARRAY_PUSH(v, nv, cap) = lr_xstrdup(de->d_name);
	}
	closedir(dp);
	if (nv)
		qsort(v, nv, sizeof(*v), cmp_str);
	*names = v;
	*n = nv;
	return 0;
}

static void
dir_free(void *ctx)
{
	struct dirsrc *ds = ctx;

	if (ds == NULL)
		return;
	if (ds->fd >= 0)
		close(ds->fd);
	free(ds->root);
	free(ds);
}

static const struct spec_source_ops dir_ops = {
	dir_stat, dir_read, dir_readlink, dir_list, dir_free
};

int
spec_source_dir_new(const char *dir, struct spec_source **out,
    struct lr_err *err)
{
	struct dirsrc *ds;
	char *label;
	int fd;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		lr_err_set(err, errno == ENOENT ? LR_ENOENT : LR_EIO,
		    "cannot open config repo '%s': %s", dir, strerror(errno));
		return lr_err_hint(err, "pass the repo's directory with -C "
		    "DIR");
	}
	ds = lr_xcalloc(1, sizeof(*ds));
	ds->root = lr_xstrdup(dir);
	ds->fd = fd;
	label = lr_xasprintf("working tree '%s'", dir);
	*out = spec_source_new(&dir_ops, ds, label, NULL);
	free(label);
	return 0;
}

struct spec_source *
spec_source_new(const struct spec_source_ops *ops, void *ctx,
    const char *label, const char *commit)
{
	struct spec_source *src = lr_xcalloc(1, sizeof(*src));

	src->ops = ops;
	src->ctx = ctx;
	src->label = lr_xstrdup(label ? label : "");
	src->commit = commit ? lr_xstrdup(commit) : NULL;
	return src;
}

void
spec_source_free(struct spec_source *src)
{
	if (src == NULL)
		return;
	if (src->ops && src->ops->free)
		src->ops->free(src->ctx);
	free(src->label);
	free(src->commit);
	free(src);
}

void
spec_strv_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* ---- a subdirectory view ---- */

struct subsrc {
	struct spec_source *inner;
	char	*prefix;	/* "a/b" */
	struct lr_buf path;
};

static const char *
sub_path(struct subsrc *ss, const char *path)
{
	lr_buf_reset(&ss->path);
	lr_buf_adds(&ss->path, ss->prefix);
	if (*path) {
		lr_buf_addc(&ss->path, '/');
		lr_buf_adds(&ss->path, path);
	}
	return ss->path.s;
}

static int
sub_stat(void *ctx, const char *path, enum spec_ftype *type,
    struct lr_err *err)
{
	struct subsrc *ss = ctx;

	return ss->inner->ops->stat(ss->inner->ctx, sub_path(ss, path), type,
	    err);
}

static int
sub_read(void *ctx, const char *path, size_t max, char **buf, size_t *len,
    struct lr_err *err)
{
	struct subsrc *ss = ctx;

	return ss->inner->ops->read(ss->inner->ctx, sub_path(ss, path), max,
	    buf, len, err);
}

static int
sub_readlink(void *ctx, const char *path, char **target, struct lr_err *err)
{
	struct subsrc *ss = ctx;

	return ss->inner->ops->readlink(ss->inner->ctx, sub_path(ss, path),
	    target, err);
}

static int
sub_list(void *ctx, const char *dir, char ***names, size_t *n,
    struct lr_err *err)
{
	struct subsrc *ss = ctx;

	return ss->inner->ops->list(ss->inner->ctx, sub_path(ss, dir), names,
	    n, err);
}

static void
sub_free(void *ctx)
{
	struct subsrc *ss = ctx;

	spec_source_free(ss->inner);
	free(ss->prefix);
	lr_buf_release(&ss->path);
	free(ss);
}

static const struct spec_source_ops sub_ops = {
	sub_stat, sub_read, sub_readlink, sub_list, sub_free
};

struct spec_source *
spec_source_subdir_new(struct spec_source *inner, const char *prefix)
{
	struct subsrc *ss;
	struct spec_source *src;
	char *label;

	if (prefix == NULL || *prefix == '\0')
		return inner;
	ss = lr_xcalloc(1, sizeof(*ss));
	ss->inner = inner;
	ss->prefix = lr_xstrdup(prefix);
	label = lr_xasprintf("%s, folder '%s'", inner->label, prefix);
	src = spec_source_new(&sub_ops, ss, label, inner->commit);
	free(label);
	return src;
}

/* ---- symlink resolution ---- */

/*
 * Append the components of rel to the resolved prefix in *cur, following
 * symlinks.  cur holds "a/b" (no leading or trailing '/').
 */
static int
walk(struct spec_source *src, struct lr_buf *cur, const char *rel,
    const char *orig, int *hops, enum spec_ftype *type, struct lr_err *err)
{
	const char *p = rel, *slash;
	size_t clen, save;
	char *target = NULL, *comp;
	int rc;

	*type = SPEC_FT_DIR;
	if (rel[0] == '/')
		return lr_err_set(err, LR_EINVAL, "'%s' leads to an absolute "
		    "path outside the repo", orig);
	while (*p) {
		slash = strchr(p, '/');
		clen = slash ? (size_t)(slash - p) : strlen(p);
		comp = lr_xstrndup(p, clen);
		p += clen;
		while (*p == '/')
			p++;
		if (clen == 0 || strcmp(comp, ".") == 0) {
			free(comp);
			continue;
		}
		if (*type != SPEC_FT_DIR && *type != SPEC_FT_NONE) {
			free(comp);
			*type = SPEC_FT_NONE;	/* a path through a file */
			return 0;
		}
		if (strcmp(comp, "..") == 0) {
			char *last;

			free(comp);
			if (cur->len == 0)
				return lr_err_set(err, LR_EINVAL, "'%s' leads "
				    "outside the repo (through '..')", orig);
			last = strrchr(cur->s, '/');
			cur->len = last ? (size_t)(last - cur->s) : 0;
			cur->s[cur->len] = '\0';
			*type = SPEC_FT_DIR;
			continue;
		}
		save = cur->len;
		if (cur->len)
			lr_buf_addc(cur, '/');
		lr_buf_adds(cur, comp);
		free(comp);
		if ((rc = src->ops->stat(src->ctx, cur->s, type, err)) < 0)
			return rc;
		if (*type != SPEC_FT_SYMLINK)
			continue;
		if (++*hops > 40)
			return lr_err_set(err, LR_EINVAL, "too many levels of "
			    "symlinks resolving '%s'", orig);
		if ((rc = src->ops->readlink(src->ctx, cur->s, &target,
		    err)) < 0)
			return rc;
		if (target[0] == '/') {
			lr_err_set(err, LR_EINVAL, "'%s' is a symlink to '%s', "
			    "outside the repo", cur->s, target);
			free(target);
			return LR_EINVAL;
		}
		cur->len = save;
		if (cur->s)
			cur->s[cur->len] = '\0';
		rc = walk(src, cur, target, orig, hops, type, err);
		free(target);
		target = NULL;
		if (rc < 0)
			return rc;
	}
	return 0;
}

int
spec_source_resolve(struct spec_source *src, const char *path, char **out,
    enum spec_ftype *type, struct lr_err *err)
{
	struct lr_buf cur = LR_BUF_INIT;
	enum spec_ftype t;
	int hops = 0, rc;

	lr_buf_adds(&cur, "");
	if ((rc = walk(src, &cur, path, path, &hops, &t, err)) < 0) {
		lr_buf_release(&cur);
		return rc;
	}
	*type = t;
	*out = lr_buf_detach(&cur, NULL);
	return 0;
}

int
spec_source_too_big(struct lr_err *err, const char *path, uint64_t size,
    size_t max)
{
	return lr_err_set(err, LR_ETOOBIG, "'%s' is %.1f MiB (%" PRIu64
	    " bytes), over the %zu MiB limit", path,
	    (double)size / (1024 * 1024), size, max / (1024 * 1024));
}

int
spec_source_read(struct spec_source *src, const char *path, char **buf,
    size_t *len, struct lr_err *err)
{
	return spec_source_read_max(src, path, SIZE_MAX, buf, len, err);
}

int
spec_source_read_max(struct spec_source *src, const char *path, size_t max,
    char **buf, size_t *len, struct lr_err *err)
{
	enum spec_ftype t;
	char *real;
	int rc;

	if ((rc = spec_source_resolve(src, path, &real, &t, err)) < 0)
		return rc;
	if (t == SPEC_FT_NONE)
		rc = lr_err_set(err, LR_ENOENT, "'%s' does not exist", path);
	else if (t != SPEC_FT_FILE)
		rc = lr_err_set(err, LR_EINVAL, "'%s' is not a regular file",
		    path);
	else
		rc = src->ops->read(src->ctx, real, max, buf, len, err);
	free(real);
	return rc;
}

int
spec_source_list(struct spec_source *src, const char *dir, char ***names,
    size_t *n, struct lr_err *err)
{
	enum spec_ftype t;
	char *real;
	int rc;

	if ((rc = spec_source_resolve(src, dir, &real, &t, err)) < 0)
		return rc;
	if (t != SPEC_FT_DIR) {
		free(real);
		*names = NULL;
		*n = 0;
		return 0;
	}
	rc = src->ops->list(src->ctx, real, names, n, err);
	free(real);
	return rc;
}
