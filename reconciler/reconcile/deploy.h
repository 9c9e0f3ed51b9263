/*
 * Deploying a commit: plan it against what is applied, check that it may
 * replace what is applied, and write it as a new generation.  The pipeline
 * of `leura plan` and `leura apply` without their printing, for the CLI
 * and a daemon alike: every step returns 0 or an LR_E* with err (msg and
 * hint) set, except that specs with errors (rec_plan_compile, and the
 * steps that call it) give LR_EINVAL with the diagnostics in
 * plan.to.diags and err unset (see rec_load); it leaves in its struct
 * what the caller shows.  Nothing here prints.
 *
 *   rec_plan_open     read what is applied (keys only: one read);
 *   rec_plan_compile  load and compile the specs, find the hosts whose
 *                     documents differ (an unchanged repo costs nothing
 *                     more);
 *   rec_plan_diff     fetch those hosts' applied documents and diff them;
 *   rec_plan_files    fetch the applied contents of changed files.
 *
 *   rec_deploy_open   the commit to deploy: its id, tree and what of the
 *                     working tree it leaves out;
 *   rec_deploy_plan   the plan, the ancestry/rollback and expected
 *                     revision checks, no compile when the applied tree
 *                     is the same;
 *   rec_deploy_write  the new generation (rec_apply_write, state.h), or
 *                     nothing when nothing changed; the hosts to follow.
 *
 * Blocking (etcd and libgit2 calls): a daemon runs them off its loop.
 */
#ifndef REC_DEPLOY_H
#define REC_DEPLOY_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "etcd.h"
#include "load.h"
#include "state.h"

/* ---- a plan against what is applied ---- */

struct rec_plan {
	struct rec_load to;		/* the specs */
	struct etcd *etcd;		/* borrowed, from rec_plan_open */
	struct rec_applied applied;
	json_t	*docs;			/* rec_docs_build of to */
	json_t	*changes;		/* rec_docs_changes */
	struct rec_compiled from_sub;	/* applied docs of changed hosts */
	struct rec_compiled to_sub;	/* compiled docs of changed hosts */
	json_t	*diff;			/* rec_diff(from_sub, to_sub) */
	char	*from_label;		/* "deploy #3 (commit abc1234)" */
	size_t	 nchanged;		/* hosts to write */
};

/*
 * Each step fills p and returns 0 or LR_E* (err set); rec_plan_release
 * cleans up after any of them.  rec_plan_compile reads the working tree of
 * dir (ref NULL) or the commit ref in g (opened here when NULL), and fails
 * with LR_EINVAL and diagnostics in p->to.diags when the specs are
 * invalid.  rec_plan_files fills from_sub's file contents for the diff's
 * changed files; the plan stands without them (err says why).
 */
int	rec_plan_open(struct rec_plan *p, struct etcd *e, const char *prefix,
	    struct lr_err *err);
int	rec_plan_compile(struct rec_plan *p, const char *dir,
	    struct rec_git *g, const char *ref, struct lr_err *err);
int	rec_plan_diff(struct rec_plan *p, struct lr_err *err);
int	rec_plan_files(struct rec_plan *p, struct lr_err *err);
void	rec_plan_release(struct rec_plan *p);
/*
 * A digest of what an apply of p writes ("sha256:" and 64 hex digits):
 * the commit and tree it is compiled from, leura's version, and each
 * document to write (host and the hash of its canonical text, which
 * names the file contents by their hashes) or tombstone; signatures
 * are not part of it.  Two plans with the same digest write the same.
 * p after rec_plan_compile, or with no changes at all (p->changes NULL).
 */
#define REC_PLAN_DIGEST_LEN	(7 + 64)
void	rec_plan_digest(const struct rec_plan *p, const char *commit,
	    const char *tree, char out[REC_PLAN_DIGEST_LEN + 1]);
/* Whether the diff has no step or placement change, only documents. */
bool	rec_plan_rewrites_only(const struct rec_plan *p);

/*
 * The plan as `leura plan --json` shows it, p after rec_plan_diff: a new
 * object, p->diff's members and "from" {source, commit, deploy,
 * revision}, "to" {source, commit, deployable}, "writes" (hosts to
 * write) and, when digest is not NULL, "digest".  The caller adds what
 * it knows besides ("uncommitted", "not_converged", "saved").
 */
json_t	*rec_plan_json(const struct rec_plan *p, bool deployable,
	    const char *digest);
/*
 * What a plan touches, p after rec_plan_diff, as two new sorted arrays
 * of names: the services with a moved placement, an added, removed,
 * changed, triggered or turned down step, or added to or removed from a
 * host; and the hosts whose documents are written (changed or removed).
 * What an apply of p needs the right to change.
 */
void	rec_plan_touched(const struct rec_plan *p, json_t **services,
	    json_t **hosts);
/*
 * The hosts of a whose agents report a state other than converged:
 * {host: {"state", "reason"}} (new), or NULL with err set when the
 * reports cannot be read.
 */
json_t	*rec_unconverged(const struct rec_applied *a, struct etcd *e,
	    const char *prefix, struct lr_err *err);

/* ---- a deploy ---- */

struct rec_deploy_opts {
	const char *ref;	/* NULL: HEAD */
	/*
	 * The commit to deploy (a full id, from a saved plan), or NULL: the
	 * commit ref names.  When set, ref only labels it (as recorded).
	 */
	const char *commit;
	/* What makes a new plan, for hints: NULL: "plan" */
	const char *replan;
	bool	 rollback;	/* the commit may be older than the applied */
	int64_t	 expect;	/* the head's revision the plan saw; -1: any */
	long	 lock_wait_ms;	/* for a running apply */
	int64_t	 lock_lease;	/* the caller holds the lock: rec_apply_opts */
	bool	 diff;		/* rec_plan_diff when something changes */
	bool	 contents;	/* ... and rec_plan_files */
	const char *by;		/* who applies; NULL: $LEURA_USER, user@host */
	/*
	 * Signs what is written (rec_apply_opts); NULL: unsigned.  When the
	 * applied head is not signed by this key (a new key, or the first
	 * signed apply), every host's document is written anew, signed.
	 */
	const struct lr_sign_key *sign_key;
};

struct rec_deploy {
	struct rec_deploy_opts o;
	struct rec_git *git;		/* borrowed */
	const char *ref;		/* o.ref or "HEAD" */
	/* rec_deploy_open */
	struct gitsrc_commit commit;
	char	 tree[41];		/* the config repo's tree in it */
	char	 label[80];		/* "commit abc123456789 (HEAD)" */
	/*
	 * The uncommitted changes of the working tree, which the deploy
	 * leaves out (gitsrc_dirty: NULL-terminated, repository-relative
	 * paths; NULL when none, in a bare repository, or when the status
	 * cannot be read): the caller names them, never an error.
	 */
	char	**uncommitted;
	size_t	 nuncommitted;
	/* rec_deploy_plan */
	struct rec_plan plan;
	bool	 same_tree;		/* no compile: the applied tree */
	bool	 resign;		/* the head is not signed by o.sign_key */
	/* rec_plan_digest of the plan, before any resign */
	char	 digest[REC_PLAN_DIGEST_LEN + 1];
	char	*files_warning;		/* rec_plan_files failed: why */
	/* rec_deploy_write */
	bool	 written;		/* a new generation was written */
	struct rec_apply_result res;	/* when written */
	int64_t	 deploy;		/* written, or the applied (0: none) */
	int64_t	 generation;
	int64_t	 revision;		/* store revision to follow from */
	/*
	 * {host: G} to follow: the hosts written (tombstones included) at
	 * the new generation; with nothing written, every host `leura
	 * status` lists, at its own document's generation.
	 */
	json_t	*targets;
};

/*
 * Open a deploy of the commit o->ref of g (borrowed until
 * rec_deploy_release).  Errors of the revision or its tree.
 */
int	rec_deploy_open(struct rec_deploy *d, struct rec_git *g,
	    const struct rec_deploy_opts *o, struct lr_err *err);
/*
 * Plan it against what is applied under prefix (e borrowed): refuses a
 * commit that does not descend from the applied one (unless o->rollback)
 * and a head changed since o->expect, both LR_ECONFLICT.  LR_EINVAL with
 * diagnostics in d->plan.to.diags for invalid specs.
 */
int	rec_deploy_plan(struct rec_deploy *d, struct etcd *e,
	    const char *prefix, struct lr_err *err);
/* Write the planned generation (when d->plan.nchanged). */
int	rec_deploy_write(struct rec_deploy *d, struct lr_err *err);
void	rec_deploy_release(struct rec_deploy *d);

#endif
