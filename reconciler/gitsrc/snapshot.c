/*
 * gitsrc_snapshot (snapshot.h): git init, add, commit with libgit2.
 * Every handle is freed before returning.
 */
#include <git2.h>

#include "err.h"
#include "snapshot.h"

int
gitsrc_snapshot(const char *dir, const char *message, char id[41],
    struct lr_err *err)
{
	git_repository *repo = NULL;
	git_index *idx = NULL;
	git_tree *tree = NULL;
	git_signature *sig = NULL;
	git_oid tree_id, commit_id;
	const git_error *e;
	const char *what = "initialise a git repository in";
	int rc = LR_EGIT;

	if (git_libgit2_init() < 0)
		return lr_err_set(err, LR_EGIT, "cannot initialise libgit2");
	if (git_repository_init(&repo, dir, 0) < 0)
		goto out;
	what = "add the files of";
	if (git_repository_index(&idx, repo) < 0 ||
	    git_index_add_all(idx, NULL, 0, NULL, NULL) < 0 ||
	    git_index_write(idx) < 0 ||
	    git_index_write_tree(&tree_id, idx) < 0 ||
	    git_tree_lookup(&tree, repo, &tree_id) < 0)
		goto out;
	what = "commit the files of";
	if (git_signature_default(&sig, repo) < 0 &&
	    git_signature_now(&sig, "leura up", "leura-up@localhost") < 0)
		goto out;
	if (git_commit_create_v(&commit_id, repo, "HEAD", sig, sig, NULL,
	    message, tree, 0) < 0)
		goto out;
	git_oid_tostr(id, 41, &commit_id);
	rc = 0;
out:
	if (rc != 0) {
		e = git_error_last();
		lr_err_set(err, LR_EGIT, "cannot %s '%s': %s", what, dir,
		    e && e->message ? e->message : "unknown libgit2 error");
		lr_err_hint(err, "check that the folder is writable and the "
		    "disk not full");
	}
	git_signature_free(sig);
	git_tree_free(tree);
	git_index_free(idx);
	git_repository_free(repo);
	git_libgit2_shutdown();
	return rc;
}
