/*
 * Loading the config repo: the working tree of a folder, or a commit's
 * tree (through libgit2, no checkout), parsed, checked and compiled.
 * What `leura validate`, `schedule`, `inventory`, `plan` and `apply` read,
 * and what a daemon reads; nothing here prints.
 *
 * The config repo may be a folder inside a larger git repository (the
 * bundled examples are): the git repository is opened once (rec_git_open),
 * which finds that folder's path inside the work tree once, and is then
 * passed to whatever reads commits of it (rec_load_commit, deploy.h).
 */
#ifndef REC_LOAD_H
#define REC_LOAD_H

#include <stdint.h>

#include "compile.h"
#include "gitsrc.h"
#include "spec.h"

/* A git repository holding the config repo. */
struct rec_git {
	struct gitsrc_repo *repo;	/* owned */
	char	*dir;			/* owned: the folder, as given */
	/* owned: the folder inside the work tree ("" at its root), NULL in
	   a bare repository */
	char	*subdir;
};

/*
 * Open the git repository containing dir (searching upward) and find dir's
 * place in its work tree.  *out is the caller's (rec_git_free).  Errors as
 * gitsrc_open (LR_EGIT: no repository), or LR_EIO/LR_EINVAL (with a
 * hint of their own) when dir cannot be placed in the tree.
 */
int	rec_git_open(const char *dir, struct rec_git **out,
	    struct lr_err *err);
void	rec_git_free(struct rec_git *g);	/* NULL is fine */

/* What was loaded; every pointer owned. */
struct rec_load {
	struct spec_source *src;
	struct spec_repo *repo;
	struct rec_compiled comp;
	struct spec_diags diags;	/* sorted */
	char	*label;			/* what was read, for messages */
	char	*commit;		/* full id, NULL for a working tree */
};

/*
 * Load the working tree of dir (ref NULL) or the commit ref names in g
 * (rec_load_commit; rec_load opens g itself), then compile with flags
 * (REC_COMPILE_*) at the current time.  Returns 0 when the specs are
 * valid; LR_EINVAL with errors in l->diags when they are not; or an LR_E*
 * with err set and no diagnostics when the repo or the commit could not
 * be read at all, and that LR_E* may be LR_EINVAL too (a ref that is
 * ambiguous or names a tree).  So tell the two apart by
 * l->diags.nerrors, not by the code.  Always release with
 * rec_load_release.
 */
int	rec_load(struct rec_load *l, const char *dir, const char *ref,
	    unsigned flags, struct lr_err *err);
/* rec_load compiling as if the time were now (seconds since the epoch). */
int	rec_load_at(struct rec_load *l, const char *dir, const char *ref,
	    unsigned flags, int64_t now, struct lr_err *err);
int	rec_load_commit(struct rec_load *l, struct rec_git *g,
	    const char *ref, unsigned flags, struct lr_err *err);
void	rec_load_release(struct rec_load *l);

#endif
