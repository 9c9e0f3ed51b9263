/*
 * load: read, check and compile the config repo (load.h).
 *
 * A repo given by -C may be a folder inside a larger git repository; with
 * a ref the commit's tree is read from that same folder, found once by
 * comparing real paths with the work tree root.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>

#include "load.h"
#include "xalloc.h"

/* The folder of dir inside the work tree root (owned), "" at the root. */
static int
subdir_of(const char *root, const char *dir, char **out, struct lr_err *err)
{
	char rr[PATH_MAX], rd[PATH_MAX];
	size_t n;

	if (realpath(root, rr) == NULL || realpath(dir, rd) == NULL) {
		lr_err_set(err, LR_EIO, "cannot resolve '%s': %s", dir,
		    strerror(errno));
		return lr_err_hint(err, "check that the folder exists and "
		    "that you may read it");
	}
	n = strlen(rr);
	if (strncmp(rr, rd, n) != 0 || (rd[n] != '\0' && rd[n] != '/')) {
		lr_err_set(err, LR_EINVAL, "'%s' is not inside the git "
		    "work tree '%s'", dir, root);
		return lr_err_hint(err, "pass -C with a folder of the config "
		    "repo's work tree");
	}
	*out = lr_xstrdup(rd[n] == '/' ? rd + n + 1 : "");
	return 0;
}

int
rec_git_open(const char *dir, struct rec_git **out, struct lr_err *err)
{
	struct rec_git *g;
	int rc;

	g = lr_xcalloc(1, sizeof(*g));
	g->dir = lr_xstrdup(dir);
	if ((rc = gitsrc_open(dir, &g->repo, err)) < 0 ||
	    (gitsrc_workdir(g->repo) != NULL && (rc = subdir_of(
	    gitsrc_workdir(g->repo), dir, &g->subdir, err)) < 0)) {
		rec_git_free(g);
		return rc;
	}
	*out = g;
	return 0;
}

void
rec_git_free(struct rec_git *g)
{
	if (g == NULL)
		return;
	gitsrc_repo_free(g->repo);
	free(g->dir);
	free(g->subdir);
	free(g);
}

/* Parse, check and compile l->src at time now. */
static int
compile(struct rec_load *l, unsigned flags, int64_t now, struct lr_err *err)
{
	int rc, rc2 = 0;

	rc = spec_repo_load(l->src, &l->repo, &l->diags, err);
	if (rc < 0 && rc != LR_EINVAL)
		return rc;
	if (l->repo->nbroken == 0)
		rc2 = rec_compile(l->repo, flags, now, &l->comp, &l->diags);
	spec_diags_sort(&l->diags);
	return rc < 0 ? rc : rc2 < 0 || l->diags.nerrors ? LR_EINVAL : 0;
}

static int
load_commit_at(struct rec_load *l, struct rec_git *g, const char *ref,
    unsigned flags, int64_t now, struct lr_err *err)
{
	struct spec_source *src = NULL;
	int rc;

	memset(l, 0, sizeof(*l));
	spec_diags_init(&l->diags);
	if ((rc = gitsrc_source_new(g->repo, ref, &src, err)) < 0)
		return rc;
	l->commit = src->commit ? lr_xstrdup(src->commit) : NULL;
	l->src = spec_source_subdir_new(src, g->subdir);
	l->label = lr_xstrdup(l->src->label);
	return compile(l, flags, now, err);
}

int
rec_load_commit(struct rec_load *l, struct rec_git *g, const char *ref,
    unsigned flags, struct lr_err *err)
{
	return load_commit_at(l, g, ref, flags, (int64_t)time(NULL), err);
}

int
rec_load(struct rec_load *l, const char *dir, const char *ref,
    unsigned flags, struct lr_err *err)
{
	return rec_load_at(l, dir, ref, flags, (int64_t)time(NULL), err);
}

/*
 * A folder without services.yml that is a bare git repository (-C
 * repo.git) has no working tree to read: say so, and that --ref reads a
 * commit of it, rather than "the repo has no services.yml".
 */
static int
check_not_bare(const char *dir, struct lr_err *err)
{
	struct gitsrc_repo *r = NULL;
	struct stat st;
	struct lr_err e2;
	char *p = lr_xasprintf("%s/services.yml", dir);
	int rc = 0;

	if (lstat(p, &st) != 0 && errno == ENOENT &&
	    gitsrc_open(dir, &r, &e2) == 0 && gitsrc_workdir(r) == NULL) {
		rc = lr_err_set(err, LR_EINVAL, "'%s' is a bare git "
		    "repository: it has no working tree to read", dir);
		lr_err_hint(err, "pass --ref to read one of its commits "
		    "(e.g. --ref HEAD or --ref main)");
	}
	gitsrc_repo_free(r);
	free(p);
	return rc;
}

int
rec_load_at(struct rec_load *l, const char *dir, const char *ref,
    unsigned flags, int64_t now, struct lr_err *err)
{
	struct rec_git *g = NULL;
	int rc;

	memset(l, 0, sizeof(*l));
	spec_diags_init(&l->diags);
	if (ref != NULL) {
		if ((rc = rec_git_open(dir, &g, err)) < 0)
			return rc;
		rc = load_commit_at(l, g, ref, flags, now, err);
		rec_git_free(g);
		return rc;
	}
	if ((rc = check_not_bare(dir, err)) < 0 ||
	    (rc = spec_source_dir_new(dir, &l->src, err)) < 0)
		return rc;
	l->label = lr_xasprintf("working tree '%s'", dir);
	return compile(l, flags, now, err);
}

void
rec_load_release(struct rec_load *l)
{
	rec_compiled_release(&l->comp);
	spec_repo_free(l->repo);
	spec_source_free(l->src);
	spec_diags_release(&l->diags);
	free(l->label);
	free(l->commit);
	memset(l, 0, sizeof(*l));
}
