/*
 * The in-memory spec source (memsrc.h).  Entries live in one flat array and
 * every operation scans it: repos built by fuzzers and tests hold a few
 * dozen files, so simplicity beats an index.  Directory-ness is derived from
 * the paths, the same way a git tree implies its directories; an entry that
 * is both a file and a parent of other entries counts as a file, as on disk.
 * Symlinks are never followed here: spec_source_resolve() does that.
 */
#include <stdlib.h>
#include <string.h>

#include "memsrc.h"
#include "xalloc.h"

struct mementry {
	char	*path;
	char	*data;		/* NUL-terminated copy */
	size_t	 len;
	bool	 symlink;
};

struct memsrc {
	struct mementry *v;
	size_t	 n, cap;
};

static struct mementry *
find_entry(const struct memsrc *ms, const char *path)
{
	size_t i;

	for (i = 0; i < ms->n; i++)
		if (strcmp(ms->v[i].path, path) == 0)
			return &ms->v[i];
	return NULL;
}

/* The part of path below dir ("" is the root), or NULL when not below. */
static const char *
below(const char *path, const char *dir)
{
	size_t dlen = strlen(dir);

	if (dlen == 0)
		return path;
	if (strncmp(path, dir, dlen) != 0 || path[dlen] != '/')
		return NULL;
	return path + dlen + 1;
}

static bool
is_dir(const struct memsrc *ms, const char *path)
{
	size_t i;

	if (*path == '\0')
		return true;
	if (find_entry(ms, path))
		return false;
	for (i = 0; i < ms->n; i++)
		if (below(ms->v[i].path, path))
			return true;
	return false;
}

static int
mem_stat(void *ctx, const char *path, enum spec_ftype *type,
    struct lr_err *err)
{
	const struct memsrc *ms = ctx;
	const struct mementry *e;

	(void)err;
	if ((e = find_entry(ms, path)) != NULL)
		*type = e->symlink ? SPEC_FT_SYMLINK : SPEC_FT_FILE;
	else if (is_dir(ms, path))
		*type = SPEC_FT_DIR;
	else
		*type = SPEC_FT_NONE;
	return 0;
}

static int
mem_read(void *ctx, const char *path, size_t max, char **buf, size_t *len,
    struct lr_err *err)
{
	const struct memsrc *ms = ctx;
	const struct mementry *e;
	char *copy;

	if ((e = find_entry(ms, path)) == NULL) {
		if (is_dir(ms, path))
			return lr_err_set(err, LR_EIO, "cannot read '%s': Is "
			    "a directory", path);
		return lr_err_set(err, LR_ENOENT, "cannot read '%s': No such "
		    "file or directory", path);
	}
	if (e->symlink)		/* like O_NOFOLLOW */
		return lr_err_set(err, LR_EIO, "cannot read '%s': Too many "
		    "levels of symbolic links", path);
	if (e->len > max)
		return spec_source_too_big(err, path, e->len, max);
	copy = lr_xmalloc(e->len + 1);
	memcpy(copy, e->data, e->len);
	copy[e->len] = '\0';
	*buf = copy;
	*len = e->len;
	return 0;
}

static int
mem_readlink(void *ctx, const char *path, char **target, struct lr_err *err)
{
	const struct memsrc *ms = ctx;
	const struct mementry *e;

	if ((e = find_entry(ms, path)) == NULL || !e->symlink)
		return lr_err_set(err, LR_EIO, "cannot read link '%s': %s",
		    path, e ? "Invalid argument" : "No such file or directory");
	/* a target with a NUL byte stops there, as readlink(2) would */
	*target = lr_xstrndup(e->data, e->len);
	return 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
mem_list(void *ctx, const char *dir, char ***names, size_t *n,
    struct lr_err *err)
{
	const struct memsrc *ms = ctx;
	const char *rest;
	char **v = NULL;
	size_t nv = 0, cap = 0, i, j;

	(void)err;
	*names = NULL;
	*n = 0;
	if (!is_dir(ms, dir))		/* missing, or a file: no entries */
		return 0;
	for (i = 0; i < ms->n; i++) {
		if ((rest = below(ms->v[i].path, dir)) == NULL)
			continue;
		*LR_ARRAY_PUSH(v, nv, cap) = lr_xstrndup(rest,
		    strcspn(rest, "/"));
	}
	if (nv == 0)
		return 0;
	qsort(v, nv, sizeof(*v), cmp_str);
	for (i = 1, j = 1; i < nv; i++) {	/* drop repeated names */
		if (strcmp(v[i], v[j - 1]) == 0)
			free(v[i]);
		else
			v[j++] = v[i];
	}
	*names = v;
	*n = j;
	return 0;
}

static void
mem_free(void *ctx)
{
	struct memsrc *ms = ctx;
	size_t i;

	if (ms == NULL)
		return;
	for (i = 0; i < ms->n; i++) {
		free(ms->v[i].path);
		free(ms->v[i].data);
	}
	free(ms->v);
	free(ms);
}

static const struct spec_source_ops mem_ops = {
	mem_stat, mem_read, mem_readlink, mem_list, mem_free
};

struct spec_source *
memsrc_new(void)
{
	return spec_source_new(&mem_ops, lr_xcalloc(1, sizeof(struct memsrc)),
	    "memory", NULL);
}

static bool
valid_path(const char *p)
{
	return *p != '\0' && *p != '/' && p[strlen(p) - 1] != '/' &&
	    strstr(p, "//") == NULL;
}

void
memsrc_add(struct spec_source *src, const char *path, const char *data,
    size_t len, bool symlink)
{
	struct memsrc *ms;
	struct mementry *e;

	if (src == NULL || src->ops != &mem_ops)
		LR_BUG("memsrc_add on a source that is not a memsrc");
	if (!valid_path(path))
		LR_BUG("memsrc_add: bad path '%s'", path);
	ms = src->ctx;
	if ((e = find_entry(ms, path)) != NULL) {
		free(e->data);
	} else {
		e = LR_ARRAY_PUSH(ms->v, ms->n, ms->cap);
		e->path = lr_xstrdup(path);
	}
	e->data = lr_xmalloc(len + 1);
	if (len)
		memcpy(e->data, data, len);
	e->data[len] = '\0';
	e->len = len;
	e->symlink = symlink;
}
