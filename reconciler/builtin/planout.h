/*
 * Plan output shared by `leura plan` and `leura apply`.
 */
#ifndef LEURA_PLANOUT_H
#define LEURA_PLANOUT_H

#include <stdbool.h>
#include <stddef.h>

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

/*
 * The uncommitted changes of the working tree (paths, n of them, from
 * gitsrc_dirty), which a plan or an apply of a commit leaves out:
 * cmd_uncommitted_print lists them on stdout, after a line "N
 * uncommitted changes in the working tree WHAT:" (what: "are not in this
 * plan (...)"); cmd_uncommitted_warn names them in a warning on stderr,
 * "N uncommitted changes in the working tree (a, b) are WHAT", then
 * "hint: HINT"; cmd_uncommitted_json is the array of them (new
 * reference).  Nothing is printed when n is 0.
 */
void	cmd_uncommitted_print(char *const *paths, size_t n,
	    const char *what);
void	cmd_uncommitted_warn(char *const *paths, size_t n, const char *what,
	    const char *hint);
json_t	*cmd_uncommitted_json(char *const *paths, size_t n);

#endif
