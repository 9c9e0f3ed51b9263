/*
 * gitsrc_snapshot: make a folder a git repository whose one commit holds
 * all its files (git init, git add -A, git commit), for `leura up`, which
 * applies a commit and, once installed, is given a bundled example that
 * is no repository (builtin/up_example.c).  The one writer in gitsrc/:
 * gitsrc.c only reads.
 */
#ifndef LEURA_GITSRC_SNAPSHOT_H
#define LEURA_GITSRC_SNAPSHOT_H

#include "err.h"

/*
 * Initialise a repository in dir (which has none) and commit its files
 * on HEAD's branch, with message and the author of the user's git
 * configuration (else "leura up"); the commit's hex id into id.  0, or
 * LR_EGIT with err (what failed, libgit2's message, a hint).
 */
int	gitsrc_snapshot(const char *dir, const char *message, char id[41],
	    struct lr_err *err);

#endif
