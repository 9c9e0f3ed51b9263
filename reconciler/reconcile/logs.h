/*
 * What a host's agent reported of its last converge run: the step results
 * it puts to P/results/<host> (proto/report.h), read for `leura logs`.
 * Results are the agent's own (not signed, docs/security.md): they say
 * what the host reported, not what is true of it.  Nothing here prints.
 */
#ifndef REC_LOGS_H
#define REC_LOGS_H

#include <jansson.h>

#include "err.h"
#include "etcd.h"

/*
 * The results of host's last run, as its agent put them (new reference
 * in *out, a JSON object).  A host with no results: LR_ENOENT, saying
 * whether any agent reported for the host (its agent has not finished a
 * run yet) or not (with the closest host that did as a hint).
 */
int	rec_results_load(struct etcd *e, const char *prefix,
	    const char *host, json_t **out, struct lr_err *err);

/*
 * The steps of res (rec_results_load) that step names, in order (new
 * reference): those whose id is step, those of a service, role or phase
 * when step is a beginning of their id up to a '/' ("db",
 * "db/db/converge"), and those whose name (the id's last part, "data
 * dir") is step.  All of them when step is NULL.  None: LR_ENOENT with
 * the closest id or name as a hint.
 */
int	rec_results_steps(const json_t *res, const char *step, json_t **out,
	    struct lr_err *err);

#endif
