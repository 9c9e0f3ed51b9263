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
 * The steps of a plan; each prints its errors and returns 0 or
 * LR_EXIT_FAIL, and eplan_release cleans up after any of them.
 *   eplan_open: connect and read what is applied (keys only);
 *   eplan_compile: load and compile the specs at ref (NULL: working
 *     tree), and find the hosts whose documents differ (nchanged);
 *   eplan_diff: fetch those hosts' applied documents and diff them.
 */
int	eplan_open(struct eplan *p, struct lr_ctx *ctx);
int	eplan_compile(struct eplan *p, struct lr_ctx *ctx, const char *ref);
int	eplan_diff(struct eplan *p);
void	eplan_release(struct eplan *p);

/* Print the plan (planout.h) with the contents of changed files. */
void	eplan_print(struct eplan *p, bool show_diff);

#endif
