/*
 * Loading the config repo for a subcommand: the working tree of -C DIR, or
 * with a ref the committed tree (through libgit2, no checkout), parsed,
 * checked and compiled.  Shared by validate, schedule, inventory and plan.
 */
#ifndef LEURA_SPECLOAD_H
#define LEURA_SPECLOAD_H

#include <stdint.h>

#include "builtin.h"
#include "compile.h"
#include "spec.h"

struct specload {
	struct spec_source *src;	/* owned */
	struct spec_repo *repo;		/* owned */
	struct rec_compiled comp;	/* owned */
	struct spec_diags diags;
	char	*label;			/* owned: what was read */
	char	*commit;		/* owned: full id, NULL for a worktree */
};

/*
 * Load dir (NULL ref: working tree) or the commit ref names, then compile
 * with flags.  Returns 0 when the specs are valid, LR_EINVAL when
 * diagnostics were added (sl->diags, sorted), another LR_E* with err set
 * when the repo could not be read at all.  Always release with
 * specload_release.
 */
int	specload_run(struct specload *sl, const char *dir, const char *ref,
	    unsigned flags, struct lr_err *err);
void	specload_release(struct specload *sl);

/* Print diagnostics to stderr (up to max; 0 = all). */
void	specload_print_diags(const struct specload *sl, size_t max);

/*
 * specload_run for a command that needs valid specs: on failure print the
 * diagnostics (or the error) on stderr and return LR_EXIT_FAIL; 0 when
 * valid.  Release sl with specload_release either way.
 */
int	specload_cmd(struct specload *sl, const struct lr_ctx *ctx,
	    const char *ref, unsigned flags);

/*
 * An argument no option matched: -h/--help prints usage on stdout and
 * gives LR_EXIT_OK, anything else is a usage error (LR_EXIT_USAGE).
 */
int	cmd_help_or_bad(const char *arg, const char *usage);

/*
 * Print o on stdout as indented JSON with sorted keys and a newline, the
 * form every --json output takes.  One buffered write: json_dumpf writes
 * token by token, which shows on large documents.
 */
void	cmd_print_json(const json_t *o);

/* "--name=value" or "--name value": value, advancing *i; NULL if no match. */
const char *opt_value(int argc, char **argv, int *i, const char *name);

/* The folder of dir inside the work tree root (owned), "" at the root. */
int	specload_subdir(const char *root, const char *dir, char **out,
	    struct lr_err *err);

#endif
