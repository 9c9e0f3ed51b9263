/*
 * A plan against the cluster: the specs (working tree or a commit)
 * compiled, compared with what is applied in etcd.  Shared by `leura plan`
 * (without --from) and `leura apply`.
 *
 * Only hosts whose document hash differs are fetched and diffed: an
 * unchanged repo costs one keys-only read of the documents.
 */
#ifndef LEURA_EPLAN_H
#define LEURA_EPLAN_H

#include "conn.h"
#include "specload.h"
#include "state.h"

struct eplan {
	struct specload to;		/* the specs */
	struct conn conn;
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
 * Load the specs at ref (NULL: working tree), connect, read what is
 * applied, diff.  Prints errors; returns 0 or LR_EXIT_FAIL.  eplan_release
 * either way.
 */
int	eplan_run(struct eplan *p, struct lr_ctx *ctx, const char *ref);
void	eplan_release(struct eplan *p);

/* Print the plan (planout.h) with the contents of changed files. */
void	eplan_print(struct eplan *p, bool show_diff);

#endif
