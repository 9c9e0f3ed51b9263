/*
 * gitsrc: the config repo as it is in a git commit, read through libgit2
 * straight from the object database, with no checkout and no change to the
 * repository, the index or the work tree.  A gitsrc_repo resolves revisions
 * (HEAD, main, origin/main, v1.2, a sha, HEAD~1 ...) to commits; a commit
 * becomes a spec_source (specs/source.h) whose operations read that
 * commit's tree, so specs/ parses a commit exactly as it parses a work tree
 * without linking libgit2.  Fetching is left to others.
 *
 * Threads: git_libgit2_init() and git_libgit2_shutdown() are thread-safe
 * and refcounted (libgit2 serialises them), so every call here may run on
 * any thread.  libgit2 objects are not: a gitsrc_repo, and each source, is
 * used by one thread at a time.  A source opens its own git_repository, so
 * it may be handed to a uv work thread while the gitsrc_repo stays on the
 * loop thread.  libgit2's error message is thread-local; it is copied into
 * the struct lr_err on the failing thread.
 */
#ifndef LEURA_GITSRC_H
#define LEURA_GITSRC_H

#include <stdint.h>

#include "err.h"
#include "source.h"

struct gitsrc_repo;			/* opaque */

/* What plan output shows about a commit. */
struct gitsrc_commit {
	char	 id[41];		/* full hex id */
	char	 short_id[41];		/* shortest unique, at least 7 */
	char	*summary;		/* owned: first paragraph, one line */
	char	*author;		/* owned: "Name <email>" */
	int64_t	 time;			/* author time, seconds since epoch */
	int	 tz_offset;		/* author's UTC offset in minutes */
};

/*
 * Open the repository containing dir (a work tree, a subdirectory of one, or
 * a bare repository), searching upward as git does.  *out is the caller's,
 * freed with gitsrc_repo_free.  Returns 0 or LR_EGIT ("cannot open git
 * repository at 'dir': <libgit2 message>", with a hint).  Repositories owned
 * by another user are opened too: see the comment in gitsrc.c.
 */
int	 gitsrc_open(const char *dir, struct gitsrc_repo **out,
	    struct lr_err *err);
void	 gitsrc_repo_free(struct gitsrc_repo *repo);	/* NULL is fine */

/*
 * Root of the work tree without a trailing slash, or NULL for a bare
 * repository.  Borrowed until gitsrc_repo_free.
 */
const char *gitsrc_workdir(const struct gitsrc_repo *repo);

/*
 * The branch HEAD is on, short ("main"), into *out (owned; a branch
 * with no commit yet too), or *out NULL when HEAD is detached.  0 or
 * LR_EGIT.
 */
int	 gitsrc_head_branch(struct gitsrc_repo *repo, char **out,
	    struct lr_err *err);

/*
 * Resolve ref (any git revision: HEAD, main, origin/main, v1, a sha,
 * HEAD~1; annotated tags are peeled) to a commit and make a spec_source that
 * reads the commit's tree.  (*out)->commit is the full hex id and
 * (*out)->label "commit <short> (<ref>)", or "commit <short>" when ref is
 * itself a prefix of the id.  *out is the caller's (spec_source_free) and
 * keeps its own git_repository, so it may outlive repo.  Errors: LR_ENOENT
 * for an unknown revision or a repository with no commits, LR_EINVAL when
 * ref names something other than a commit (a blob, a tree) or is ambiguous,
 * LR_EGIT when libgit2 fails.
 *
 * The source's operations follow specs/source.h: paths are repo-relative;
 * stat gives FILE for blobs (100644, 100755), SYMLINK (120000), DIR (tree),
 * OTHER (submodule), NONE for a missing path or one that goes through a
 * non-directory; read wants a regular file, readlink a symlink; list of a
 * missing directory gives zero entries, of a non-directory LR_EINVAL.
 */
int	 gitsrc_source_new(struct gitsrc_repo *repo, const char *ref,
	    struct spec_source **out, struct lr_err *err);

/*
 * Fill *out (released with gitsrc_commit_release) for the commit ref
 * names.  Same revisions and errors as gitsrc_source_new.
 */
int	 gitsrc_describe(struct gitsrc_repo *repo, const char *ref,
	    struct gitsrc_commit *out, struct lr_err *err);
/* Free the owned strings; c is then zeroed.  A zeroed struct is fine. */
void	 gitsrc_commit_release(struct gitsrc_commit *c);

/*
 * Whether commit id descends from (or is) commit ancestor, both full hex
 * ids: 1 yes, 0 no, or LR_ENOENT when ancestor is not in the repository
 * (a hint says to fetch), LR_EGIT.
 */
int	 gitsrc_descends(struct gitsrc_repo *repo, const char *id,
	    const char *ancestor, struct lr_err *err);

/*
 * The id of the tree of folder subdir ("" or NULL: the root) in the
 * commit ref names, into out: what the config repo's content hashes to.
 */
int	 gitsrc_tree_id(struct gitsrc_repo *repo, const char *ref,
	    const char *subdir, char out[41], struct lr_err *err);

/*
 * The paths under subdir ("" or NULL: all) of the work tree that differ
 * from HEAD (staged, modified, deleted, untracked), repository-relative,
 * in git's order: *paths a NULL-terminated array (owned, free it with
 * gitsrc_paths_free), *n their count.  None (*paths NULL) in a bare
 * repository.
 */
int	 gitsrc_dirty(struct gitsrc_repo *repo, const char *subdir,
	    char ***paths, size_t *n, struct lr_err *err);
void	 gitsrc_paths_free(char **paths);	/* NULL is fine */

#endif
