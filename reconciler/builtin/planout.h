/*
 * Plan output shared by `leura plan` and `leura apply`.
 */
#ifndef LEURA_PLANOUT_H
#define LEURA_PLANOUT_H

#include <stdbool.h>

#include <jansson.h>

#include "compile.h"
#include "deploy.h"

/*
 * Print d (rec_diff of from -> to) on stdout; with show_diff, line diffs
 * of changed scripts and file contents (from the files of from and to).
 */
void	plan_print(const json_t *d, const char *from_label,
	    const char *to_label, const struct rec_compiled *from,
	    const struct rec_compiled *to, bool show_diff);

/*
 * Print a plan against the cluster (deploy.h): the diff as plan_print
 * does, or the hosts whose documents alone change.
 */
void	cmd_plan_print(const struct rec_plan *p, bool show_diff);

#endif
