/*
 * gitsrc: read the config repo at a commit through libgit2 (see gitsrc.h).
 * This file resolves revisions and walks trees; following symlinks, path
 * checks and parsing stay in specs/ (spec_source_resolve and friends).
 *
 * Design rule: read-only.  Nothing here writes to the repository, touches
 * the index or the work tree, or runs anything the repository configures.
 * Every object handle that libgit2 hands out is freed before the function
 * that looked it up returns, except the tree a source keeps.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <git2.h>

#include "err.h"
#include "gitsrc.h"
#include "source.h"
#include "xalloc.h"

struct gitsrc_repo {
	git_repository	*repo;
	char		*where;		/* work tree, else git dir: messages */
	char		*workdir;	/* NULL when bare */
};

/* The ctx of a commit's spec_source. */
struct gitsrc_tree {
	git_repository	*repo;		/* its own handle (see gitsrc.h) */
	git_tree	*tree;		/* the commit's root tree */
	char		*what;		/* "commit abc1234", for messages */
};

/* libgit2's last error on this thread, never NULL. */
static const char *
last_git_error(void)
{
	const git_error *e = git_error_last();

	if (e == NULL || e->message == NULL || e->message[0] == '\0')
		return "unknown libgit2 error";
	return e->message;
}

/*
 * One git_libgit2_init() per gitsrc_repo and per source, paired with a
 * git_libgit2_shutdown() in its free function; libgit2 counts them.
 *
 * Since 1.5, opening a repository owned by another uid fails (GIT_EOWNER,
 * or a misleading GIT_ENOTFOUND about safe.directory when that is not set
 * at all; safe.directory=* is not honoured).  git guards against that
 * because a hostile repo config can make git run programs (core.fsmonitor,
 * hooks, filters).  Leura only reads objects and refs here and runs nothing
 * the repository configures, and a config repo checked out by a CI user or
 * mounted into a container is often owned by someone else, so the check is
 * turned off.  The option is process-wide: set it again on every open
 * rather than relying on an earlier caller.
 */
static int
lib_init(struct lr_err *err)
{
	int rc;

	if ((rc = git_libgit2_init()) < 0)
		return lr_err_set(err, LR_EGIT, "cannot initialise libgit2: %s",
		    last_git_error());
	if (git_libgit2_opts(GIT_OPT_SET_OWNER_VALIDATION, 0) < 0) {
		lr_err_set(err, LR_EGIT, "cannot configure libgit2: %s",
		    last_git_error());
		git_libgit2_shutdown();
		return LR_EGIT;
	}
	return 0;
}

/* A copy of path without its trailing slashes ("/" stays "/"). */
static char *
strip_slash(const char *path)
{
	size_t len = strlen(path);

	while (len > 1 && path[len - 1] == '/')
		len--;
	return lr_xstrndup(path, len);
}

/* ---- opening ---------------------------------------------------------- */

int
gitsrc_open(const char *dir, struct gitsrc_repo **out, struct lr_err *err)
{
	struct gitsrc_repo *r;
	git_repository *repo = NULL;
	const char *wd;
	int rc;

	if ((rc = lib_init(err)) < 0)
		return rc;
	/* flags 0: search upward, but not across filesystems, as git does */
	if (git_repository_open_ext(&repo, dir, 0, NULL) < 0) {
		lr_err_set(err, LR_EGIT, "cannot open git repository at '%s': "
		    "%s", dir, last_git_error());
		lr_err_hint(err, "run leura inside a git repository or pass "
		    "-C DIR");
		git_libgit2_shutdown();
		return LR_EGIT;
	}
	r = lr_xcalloc(1, sizeof(*r));
	r->repo = repo;
	if ((wd = git_repository_workdir(repo)) != NULL &&
	    !git_repository_is_bare(repo)) {
		r->workdir = strip_slash(wd);
		r->where = lr_xstrdup(r->workdir);
	} else
		r->where = strip_slash(git_repository_path(repo));
	*out = r;
	return 0;
}

void
gitsrc_repo_free(struct gitsrc_repo *r)
{
	if (r == NULL)
		return;
	git_repository_free(r->repo);
	free(r->workdir);
	free(r->where);
	free(r);
	git_libgit2_shutdown();
}

const char *
gitsrc_workdir(const struct gitsrc_repo *r)
{
	return r->workdir;
}

int
gitsrc_head_branch(struct gitsrc_repo *r, char **out, struct lr_err *err)
{
	git_reference *head = NULL;
	const char *name;

	*out = NULL;
	if (git_reference_lookup(&head, r->repo, "HEAD") < 0)
		return lr_err_set(err, LR_EGIT, "cannot read HEAD of '%s': %s",
		    r->where, last_git_error());
	if (git_reference_type(head) == GIT_REFERENCE_SYMBOLIC &&
	    (name = git_reference_symbolic_target(head)) != NULL &&
	    strncmp(name, "refs/heads/", 11) == 0)
		*out = lr_xstrdup(name + 11);	/* the caller's */
	git_reference_free(head);
	return 0;
}

/* ---- revisions -------------------------------------------------------- */

/*
 * The commit ref names in r, into *out (the caller's, git_commit_free).
 * Annotated tags are peeled; anything else that is not a commit is refused.
 */
static int
resolve_commit(struct gitsrc_repo *r, const char *ref, git_commit **out,
    struct lr_err *err)
{
	git_object *obj = NULL, *target = NULL;
	git_object_t type;
	int grc, rc = 0;

	if ((grc = git_revparse_single(&obj, r->repo, ref)) < 0) {
		if ((grc == GIT_ENOTFOUND || grc == GIT_EUNBORNBRANCH) &&
		    git_repository_head_unborn(r->repo) == 1 &&
		    strncmp(ref, "HEAD", 4) == 0) {
			rc = lr_err_set(err, LR_ENOENT, "repository '%s' has "
			    "no commits yet", r->where);
			lr_err_hint(err, "commit the config files first, or "
			    "read the work tree by leaving out --ref");
		} else if (grc == GIT_ENOTFOUND || grc == GIT_EINVALIDSPEC ||
		    grc == GIT_EUNBORNBRANCH) {
			rc = lr_err_set(err, LR_ENOENT, "unknown revision '%s' "
			    "in '%s'", ref, r->where);
			lr_err_hint(err, "check the name with 'git log "
			    "--oneline -5' or 'git branch -a'");
		} else if (grc == GIT_EAMBIGUOUS) {
			rc = lr_err_set(err, LR_EINVAL, "ambiguous revision "
			    "'%s' in '%s': %s", ref, r->where,
			    last_git_error());
			lr_err_hint(err, "give more characters of the commit "
			    "id, or the full branch name (refs/heads/...)");
		} else
			rc = lr_err_set(err, LR_EGIT, "cannot resolve revision "
			    "'%s' in '%s': %s", ref, r->where,
			    last_git_error());
		return rc;
	}

	type = git_object_type(obj);
	if (type == GIT_OBJECT_TAG) {
		/* follows chains of tags to the first non-tag */
		if (git_tag_peel(&target, (git_tag *)obj) < 0) {
			rc = lr_err_set(err, LR_EGIT, "cannot peel tag '%s' in "
			    "'%s': %s", ref, r->where, last_git_error());
			goto out;
		}
		git_object_free(obj);
		obj = target;
		target = NULL;
		type = git_object_type(obj);
	}
	if (type != GIT_OBJECT_COMMIT) {
		rc = lr_err_set(err, LR_EINVAL, "revision '%s' in '%s' names a "
		    "%s, not a commit", ref, r->where,
		    git_object_type2string(type));
		lr_err_hint(err, "pass a branch, a tag or a commit id; "
		    "'REV:path' names a file or directory inside a commit");
		goto out;
	}
	*out = (git_commit *)obj;
	obj = NULL;
out:
	git_object_free(obj);
	return rc;
}

/* The shortest unique abbreviation of c's id, at least core.abbrev long. */
static int
short_id(git_commit *c, char *buf, size_t size, struct lr_err *err)
{
	git_buf b = { NULL, 0, 0 };

	if (git_object_short_id(&b, (const git_object *)c) < 0)
		return lr_err_set(err, LR_EGIT, "cannot abbreviate commit id: "
		    "%s", last_git_error());
	snprintf(buf, size, "%s", b.ptr);
	git_buf_dispose(&b);
	return 0;
}

int
gitsrc_describe(struct gitsrc_repo *r, const char *ref,
    struct gitsrc_commit *out, struct lr_err *err)
{
	struct gitsrc_commit d;
	git_commit *c = NULL;
	const git_signature *sig;
	const char *summary;
	int rc;

	memset(&d, 0, sizeof(d));
	if ((rc = resolve_commit(r, ref, &c, err)) < 0)
		return rc;
	if ((rc = short_id(c, d.short_id, sizeof(d.short_id), err)) < 0)
		goto out;
	git_oid_tostr(d.id, sizeof(d.id), git_commit_id(c));
	summary = git_commit_summary(c);
	d.summary = lr_xstrdup(summary != NULL ? summary : "");
	sig = git_commit_author(c);
	d.author = lr_xasprintf("%s <%s>", sig->name, sig->email);
	d.time = sig->when.time;
	d.tz_offset = sig->when.offset;
	*out = d;
out:
	git_commit_free(c);
	return rc;
}

void
gitsrc_commit_release(struct gitsrc_commit *c)
{
	if (c == NULL)
		return;
	free(c->summary);
	free(c->author);
	memset(c, 0, sizeof(*c));
}

int
gitsrc_descends(struct gitsrc_repo *r, const char *id, const char *ancestor,
    struct lr_err *err)
{
	git_oid a, b;
	git_commit *c = NULL;
	int rc;

	if (git_oid_fromstr(&a, id) < 0 || git_oid_fromstr(&b, ancestor) < 0)
		return lr_err_set(err, LR_EINVAL, "'%s' or '%s' is not a full "
		    "commit id", id, ancestor);
	if (git_oid_equal(&a, &b))
		return 1;
	if (git_commit_lookup(&c, r->repo, &b) < 0) {
		lr_err_set(err, LR_ENOENT, "commit %.12s is not in the "
		    "repository at '%s'", ancestor, r->where);
		return lr_err_hint(err, "fetch it first (git fetch), or pass "
		    "--rollback if replacing it is what you mean");
	}
	git_commit_free(c);
	rc = git_graph_descendant_of(r->repo, &a, &b);
	if (rc < 0)
		return lr_err_set(err, LR_EGIT, "cannot compare commits %.12s "
		    "and %.12s: %s", id, ancestor, last_git_error());
	return rc;
}

int
gitsrc_tree_id(struct gitsrc_repo *r, const char *ref, const char *subdir,
    char out[41], struct lr_err *err)
{
	git_commit *c = NULL;
	git_tree *tree = NULL;
	git_tree_entry *ent = NULL;
	int rc;

	if ((rc = resolve_commit(r, ref, &c, err)) < 0)
		return rc;
	if (subdir == NULL || *subdir == '\0') {
		git_oid_tostr(out, 41, git_commit_tree_id(c));
		goto out;
	}
	if (git_commit_tree(&tree, c) < 0) {
		rc = lr_err_set(err, LR_EGIT, "cannot read tree of '%s': %s",
		    ref, last_git_error());
		goto out;
	}
	if (git_tree_entry_bypath(&ent, tree, subdir) < 0 ||
	    git_tree_entry_type(ent) != GIT_OBJECT_TREE) {
		rc = lr_err_set(err, LR_ENOENT, "folder '%s' is not in commit "
		    "'%s'", subdir, ref);
		goto out;
	}
	git_oid_tostr(out, 41, git_tree_entry_id(ent));
out:
	git_tree_entry_free(ent);
	git_tree_free(tree);
	git_commit_free(c);
	return rc;
}

int
gitsrc_dirty(struct gitsrc_repo *r, const char *subdir, char ***paths,
    size_t *n, struct lr_err *err)
{
	const git_status_entry *ent;
	const git_diff_delta *dd;
	git_status_options so;
	git_status_list *list = NULL;
	char *spec[1], **out;
	char *pat = NULL;
	size_t i, k = 0, cnt;

	*n = 0;
	*paths = NULL;
	if (r->workdir == NULL)
		return 0;
	git_status_options_init(&so, GIT_STATUS_OPTIONS_VERSION);
	so.show = GIT_STATUS_SHOW_INDEX_AND_WORKDIR;
	so.flags = GIT_STATUS_OPT_INCLUDE_UNTRACKED |
	    GIT_STATUS_OPT_RECURSE_UNTRACKED_DIRS |
	    GIT_STATUS_OPT_EXCLUDE_SUBMODULES;
	if (subdir != NULL && *subdir) {
		pat = lr_xasprintf("%s/", subdir);
		spec[0] = pat;
		so.pathspec.strings = spec;
		so.pathspec.count = 1;
	}
	if (git_status_list_new(&list, r->repo, &so) < 0) {
		free(pat);
		return lr_err_set(err, LR_EGIT, "cannot read the status of "
		    "'%s': %s", r->where, last_git_error());
	}
	cnt = git_status_list_entrycount(list);
	/* owned by the caller: gitsrc_paths_free */
	out = lr_xcalloc(cnt + 1, sizeof(*out));
	for (i = 0; i < cnt; i++) {
		if ((ent = git_status_byindex(list, i)) == NULL)
			continue;
		dd = ent->index_to_workdir ? ent->index_to_workdir :
		    ent->head_to_index;
		if (dd && dd->new_file.path)
			out[k++] = lr_xstrdup(dd->new_file.path);
		else if (dd && dd->old_file.path)
			out[k++] = lr_xstrdup(dd->old_file.path);
	}
	git_status_list_free(list);
	free(pat);
	if (k == 0) {
		free(out);
		return 0;
	}
	*paths = out;
	*n = k;
	return 0;
}

void
gitsrc_paths_free(char **paths)
{
	size_t i;

	if (paths == NULL)
		return;
	for (i = 0; paths[i]; i++)
		free(paths[i]);
	free(paths);
}

/* ---- the spec_source of a commit -------------------------------------- */

/*
 * Find path in the tree.  On success *mode is the entry's mode, or 0 when
 * nothing is there, including when a middle component (or the last one,
 * given with a trailing slash) is not a directory; *oid is the entry's id.
 * "", "." and "/"-runs are the root.  Components are looked up one by one
 * so that a file in the middle reads as "missing", like ENOTDIR in lstat.
 */
static int
tree_find(struct gitsrc_tree *t, const char *path, git_filemode_t *mode,
    git_oid *oid, struct lr_err *err)
{
	const git_tree_entry *ent;
	git_tree *sub;
	git_filemode_t m = GIT_FILEMODE_TREE;
	git_oid id;
	const char *p = path;
	char *name;
	size_t len;

	if (path[0] == '/')
		return lr_err_set(err, LR_EINVAL, "path '%s' is absolute; "
		    "paths in %s are relative to the repository root", path,
		    t->what);
	git_oid_cpy(&id, git_tree_id(t->tree));
	for (;;) {
		while (*p == '/')
			p++;
		if (*p == '\0')
			break;
		len = strcspn(p, "/");
		if (len == 1 && p[0] == '.') {
			p += len;
			continue;
		}
		if (len == 2 && p[0] == '.' && p[1] == '.')
			return lr_err_set(err, LR_EINVAL, "path '%s' uses "
			    "'..'; paths in %s stay inside the repository",
			    path, t->what);
		if (m != GIT_FILEMODE_TREE) {
			m = 0;
			break;
		}
		if (git_tree_lookup(&sub, t->repo, &id) < 0)
			return lr_err_set(err, LR_EGIT, "cannot read tree of "
			    "'%.*s' in %s: %s", (int)(p - path), path, t->what,
			    last_git_error());
		name = lr_xstrndup(p, len);
		ent = git_tree_entry_byname(sub, name);
		free(name);
		if (ent == NULL) {
			git_tree_free(sub);
			m = 0;
			break;
		}
		m = git_tree_entry_filemode(ent);
		git_oid_cpy(&id, git_tree_entry_id(ent));
		git_tree_free(sub);
		p += len;
	}
	len = strlen(path);
	if (m != 0 && m != GIT_FILEMODE_TREE && len > 0 && path[len - 1] == '/')
		m = 0;
	*mode = m;
	git_oid_cpy(oid, &id);
	return 0;
}

static int
tree_stat(void *ctx, const char *path, enum spec_ftype *type,
    struct lr_err *err)
{
	git_filemode_t mode;
	git_oid oid;
	int rc;

	if ((rc = tree_find(ctx, path, &mode, &oid, err)) < 0)
		return rc;
	switch (mode) {
	case 0:
		*type = SPEC_FT_NONE;
		break;
	case GIT_FILEMODE_BLOB:
	case GIT_FILEMODE_BLOB_EXECUTABLE:
		*type = SPEC_FT_FILE;
		break;
	case GIT_FILEMODE_LINK:
		*type = SPEC_FT_SYMLINK;
		break;
	case GIT_FILEMODE_TREE:
		*type = SPEC_FT_DIR;
		break;
	default:			/* GIT_FILEMODE_COMMIT: a submodule */
		*type = SPEC_FT_OTHER;
		break;
	}
	return 0;
}

static const char *
mode_name(git_filemode_t mode)
{
	switch (mode) {
	case GIT_FILEMODE_TREE:
		return "a directory";
	case GIT_FILEMODE_LINK:
		return "a symlink";
	case GIT_FILEMODE_COMMIT:
		return "a submodule";
	case GIT_FILEMODE_BLOB:
	case GIT_FILEMODE_BLOB_EXECUTABLE:
		return "a file";
	default:
		return "not a file";
	}
}

/*
 * The blob at path, which must have mode want (for a regular file, either
 * blob mode), into *out (the caller's, git_blob_free).
 */
static int
tree_blob(struct gitsrc_tree *t, const char *path, git_filemode_t want,
    git_blob **out, struct lr_err *err)
{
	git_filemode_t mode;
	git_oid oid;
	int rc, ok;

	if ((rc = tree_find(t, path, &mode, &oid, err)) < 0)
		return rc;
	if (mode == 0)
		return lr_err_set(err, LR_ENOENT, "'%s' does not exist in %s",
		    path, t->what);
	if (want == GIT_FILEMODE_BLOB)
		ok = mode == GIT_FILEMODE_BLOB ||
		    mode == GIT_FILEMODE_BLOB_EXECUTABLE;
	else
		ok = mode == want;
	if (!ok)
		return lr_err_set(err, LR_EINVAL, "'%s' is %s in %s, not %s",
		    path, mode_name(mode), t->what, mode_name(want));
	if (git_blob_lookup(out, t->repo, &oid) < 0)
		return lr_err_set(err, LR_EGIT, "cannot read '%s' in %s: %s",
		    path, t->what, last_git_error());
	return 0;
}

static int
tree_read(void *ctx, const char *path, size_t max, char **buf, size_t *len,
    struct lr_err *err)
{
	struct gitsrc_tree *t = ctx;
	git_blob *blob;
	git_object_size_t size;
	char *copy;
	int rc;

	if ((rc = tree_blob(t, path, GIT_FILEMODE_BLOB, &blob, err)) < 0)
		return rc;
	size = git_blob_rawsize(blob);
	if (size >= SIZE_MAX) {
		git_blob_free(blob);
		return lr_err_set(err, LR_ERANGE, "'%s' in %s is too large",
		    path, t->what);
	}
	if ((uint64_t)size > max) {
		git_blob_free(blob);
		return spec_source_too_big(err, path, (uint64_t)size, max);
	}
	copy = lr_xmalloc((size_t)size + 1);
	memcpy(copy, git_blob_rawcontent(blob), (size_t)size);
	copy[size] = '\0';
	git_blob_free(blob);
	*buf = copy;
	*len = (size_t)size;
	return 0;
}

static int
tree_readlink(void *ctx, const char *path, char **target, struct lr_err *err)
{
	struct gitsrc_tree *t = ctx;
	git_blob *blob;
	size_t size;
	int rc;

	if ((rc = tree_blob(t, path, GIT_FILEMODE_LINK, &blob, err)) < 0)
		return rc;
	size = (size_t)git_blob_rawsize(blob);
	/* a symlink target is a C string on every filesystem */
	if (size == 0 || memchr(git_blob_rawcontent(blob), '\0', size)) {
		git_blob_free(blob);
		return lr_err_set(err, LR_EINVAL, "symlink '%s' in %s has an "
		    "invalid target", path, t->what);
	}
	*target = lr_xstrndup(git_blob_rawcontent(blob), size);
	git_blob_free(blob);
	return 0;
}

static int
cmp_name(const void *a, const void *b)
{
	/* strcmp compares as unsigned char: bytewise */
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * git orders a tree's entries as if directories ended in '/', so "sub"
 * (a directory) comes after "sub.yml"; callers want plain bytewise order.
 */
static int
tree_list(void *ctx, const char *dir, char ***names, size_t *n,
    struct lr_err *err)
{
	struct gitsrc_tree *t = ctx;
	git_filemode_t mode;
	git_oid oid;
	git_tree *sub;
	char **v;
	size_t i, count;
	int rc;

	if ((rc = tree_find(t, dir, &mode, &oid, err)) < 0)
		return rc;
	if (mode == 0) {
		*names = NULL;
		*n = 0;
		return 0;
	}
	if (mode != GIT_FILEMODE_TREE)
		return lr_err_set(err, LR_EINVAL, "'%s' is %s in %s, not a "
		    "directory", dir, mode_name(mode), t->what);
	if (git_tree_lookup(&sub, t->repo, &oid) < 0)
		return lr_err_set(err, LR_EGIT, "cannot read directory '%s' "
		    "in %s: %s", dir, t->what, last_git_error());
	count = git_tree_entrycount(sub);
	v = lr_xcalloc(count + 1, sizeof(*v));
	for (i = 0; i < count; i++)
		v[i] = lr_xstrdup(git_tree_entry_name(
		    git_tree_entry_byindex(sub, i)));
	git_tree_free(sub);
	qsort(v, count, sizeof(*v), cmp_name);
	*names = v;
	*n = count;
	return 0;
}

static void
tree_free(void *ctx)
{
	struct gitsrc_tree *t = ctx;

	if (t == NULL)
		return;
	git_tree_free(t->tree);
	git_repository_free(t->repo);
	free(t->what);
	free(t);
	git_libgit2_shutdown();
}

static const struct spec_source_ops tree_ops = {
	.stat = tree_stat,
	.read = tree_read,
	.readlink = tree_readlink,
	.list = tree_list,
	.free = tree_free,
};

int
gitsrc_source_new(struct gitsrc_repo *r, const char *ref,
    struct spec_source **out, struct lr_err *err)
{
	struct gitsrc_tree *t = NULL;
	git_commit *c = NULL, *own = NULL;
	char hex[GIT_OID_HEXSZ + 1], abbrev[GIT_OID_HEXSZ + 1], *label;
	int rc;

	if ((rc = resolve_commit(r, ref, &c, err)) < 0)
		return rc;
	if ((rc = short_id(c, abbrev, sizeof(abbrev), err)) < 0)
		goto out;
	git_oid_tostr(hex, sizeof(hex), git_commit_id(c));

	if ((rc = lib_init(err)) < 0)
		goto out;
	t = lr_xcalloc(1, sizeof(*t));
	t->what = lr_xasprintf("commit %s", abbrev);
	/*
	 * The source's own handle on the same git dir, so that it outlives r
	 * and can live on another thread.  NO_SEARCH: the path is exact.
	 */
	if (git_repository_open_ext(&t->repo, git_repository_path(r->repo),
	    GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0) {
		rc = lr_err_set(err, LR_EGIT, "cannot open git repository at "
		    "'%s': %s", r->where, last_git_error());
		goto out;
	}
	if (git_commit_lookup(&own, t->repo, git_commit_id(c)) < 0 ||
	    git_commit_tree(&t->tree, own) < 0) {
		rc = lr_err_set(err, LR_EGIT, "cannot read the tree of %s: %s",
		    t->what, last_git_error());
		goto out;
	}

	/* a sha needs no repeating: "commit abc1234 (abc1234f)" */
	if (strlen(ref) >= 4 && strncmp(hex, ref, strlen(ref)) == 0)
		label = lr_xstrdup(t->what);
	else
		label = lr_xasprintf("%s (%s)", t->what, ref);
	*out = spec_source_new(&tree_ops, t, label, hex);
	t = NULL;			/* the source owns it now */
	free(label);
out:
	git_commit_free(own);
	git_commit_free(c);
	tree_free(t);
	return rc;
}
