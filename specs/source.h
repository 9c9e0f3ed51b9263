/*
 * Where the config repo's files come from: a working tree on disk, or the
 * tree of a git commit (reconciler/gitsrc implements that one through
 * libgit2, so specs/ does not link libgit2).
 *
 * Paths are repo-relative, '/'-separated, never absolute, never with '..'.
 * Operations do not follow symlinks; spec_source_resolve() does, and refuses
 * to leave the repo.
 */
#ifndef SPEC_SOURCE_H
#define SPEC_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

enum spec_ftype {
	SPEC_FT_NONE,		/* does not exist */
	SPEC_FT_FILE,
	SPEC_FT_DIR,
	SPEC_FT_SYMLINK,
	SPEC_FT_OTHER		/* device, fifo, submodule ... */
};

struct spec_source_ops {
	/* lstat(2): *type is SPEC_FT_NONE for a missing path (not an error) */
	int	(*stat)(void *ctx, const char *path, enum spec_ftype *type,
		    struct lr_err *err);
	/*
	 * The whole file (not a symlink); *buf is the caller's, NUL-ended.
	 * A file over max bytes is not read: LR_ETOOBIG, err set by
	 * spec_source_too_big().
	 */
	int	(*read)(void *ctx, const char *path, size_t max, char **buf,
		    size_t *len, struct lr_err *err);
	/* The target of a symlink; *target is the caller's. */
	int	(*readlink)(void *ctx, const char *path, char **target,
		    struct lr_err *err);
	/*
	 * Entry names of a directory, sorted bytewise, without "." and "..";
	 * *names (array and strings) is the caller's (spec_strv_free).  A
	 * missing directory gives zero entries and returns 0.
	 */
	int	(*list)(void *ctx, const char *dir, char ***names, size_t *n,
		    struct lr_err *err);
	void	(*free)(void *ctx);
};

struct spec_source {
	const struct spec_source_ops *ops;
	void	*ctx;
	char	*label;		/* owned: "working tree '/x'" or "commit abc1234" */
	char	*commit;	/* owned: full hex id when from git, else NULL */
};

/* A working tree rooted at dir.  Caller frees with spec_source_free. */
int	spec_source_dir_new(const char *dir, struct spec_source **out,
	    struct lr_err *err);
/* Wrap ops/ctx (ctx is taken: freed with ops->free). */
struct spec_source *spec_source_new(const struct spec_source_ops *ops,
	    void *ctx, const char *label, const char *commit);
void	spec_source_free(struct spec_source *src);
/*
 * A view of inner rooted at its subdirectory prefix ("" or "a/b"); takes
 * inner.  Used when the config repo is a folder of a larger git repo:
 * symlinks leading out of the folder count as leaving the repo.
 */
struct spec_source *spec_source_subdir_new(struct spec_source *inner,
	    const char *prefix);

/*
 * Resolve path, following symlinks inside the repo (at most 40 hops), into
 * a symlink-free repo-relative path (*out is the caller's) and its type.
 * Fails with LR_EINVAL when the path is absolute, uses '..' above the root,
 * or a symlink leads out of the repo; err says which link.
 */
int	spec_source_resolve(struct spec_source *src, const char *path,
	    char **out, enum spec_ftype *type, struct lr_err *err);
/* Resolve then read a regular file. LR_ENOENT when it is missing. */
int	spec_source_read(struct spec_source *src, const char *path,
	    char **buf, size_t *len, struct lr_err *err);
/* spec_source_read of a file of at most max bytes; else LR_ETOOBIG. */
int	spec_source_read_max(struct spec_source *src, const char *path,
	    size_t max, char **buf, size_t *len, struct lr_err *err);
/* For ops->read: set err to "'path' is SIZE, over the MAX limit". */
int	spec_source_too_big(struct lr_err *err, const char *path,
	    uint64_t size, size_t max);
int	spec_source_list(struct spec_source *src, const char *dir,
	    char ***names, size_t *n, struct lr_err *err);

void	spec_strv_free(char **v, size_t n);

#endif
