/*
 * Subcommands of `leura`, one file each in builtin/.
 *
 * New subcommand checklist: builtin/<name>.c with cmd_<name>(), a row in
 * the table in leura.c, docs/man/leura-<name>.1.md, and tests in
 * tests/cli/.
 */
#ifndef LEURA_BUILTIN_H
#define LEURA_BUILTIN_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

/* Exit statuses (DESIGN.md §3). */
enum {
	LR_EXIT_OK = 0,
	LR_EXIT_FAIL = 1,
	LR_EXIT_CHANGES = 2,
	LR_EXIT_USAGE = 64,
	LR_EXIT_INTERRUPTED = 130	/* 128 + SIGINT: stopped by Ctrl-C */
};

/* Global options, parsed by leura.c before the subcommand. */
struct lr_ctx {
	const char *repo_dir;	/* -C DIR; default "." */
	bool	 repo_dir_set;	/* -C was given */
	int	 verbose;	/* -v count */
	const char *progname;	/* "leura" */
	/* etcd connection flags (builtin/conn.c merges env and config) */
	const char *etcd;	/* --etcd URL[,URL...] */
	const char *etcd_cacert, *etcd_cert, *etcd_key, *etcd_user;
};

int	cmd_validate(int argc, char **argv, struct lr_ctx *ctx);
int	cmd_schedule(int argc, char **argv, struct lr_ctx *ctx);
int	cmd_inventory(int argc, char **argv, struct lr_ctx *ctx);
int	cmd_plan(int argc, char **argv, struct lr_ctx *ctx);
int	cmd_apply(int argc, char **argv, struct lr_ctx *ctx);
int	cmd_status(int argc, char **argv, struct lr_ctx *ctx);
int	cmd_history(int argc, char **argv, struct lr_ctx *ctx);
int	cmd_up(int argc, char **argv, struct lr_ctx *ctx);

/* ---- apply without its command line (apply.c), for `leura up` ---- */

struct conn;

struct cmd_apply_opts {
	const char *ref;	/* NULL: HEAD */
	bool	 rollback;
	bool	 show_diff;	/* line diffs in the plan */
	bool	 json;		/* print nothing; build result->json */
	bool	 no_plan;	/* print only the last line */
	long long expect;	/* --expect-revision; -1: none */
	long long lockwait;	/* --lock-timeout, seconds */
};

struct cmd_apply_result {
	bool	 written;	/* a new generation was written */
	int64_t	 deploy;	/* written, or the applied one (0: none) */
	int64_t	 generation;
	int64_t	 revision;	/* store revision to wait from */
	/*
	 * {host: G} to wait for: the hosts written (tombstones included) at
	 * the new generation; with nothing written, every host leura
	 * status lists at its own document's generation.
	 */
	json_t	*targets;
	json_t	*json;		/* what apply --json prints (opts json) */
	struct conn *conn;	/* the connection, kept for the wait */
};

/*
 * Plan and apply ctx->repo_dir at o->ref, printing as `leura apply` does
 * (errors on stderr).  Returns an exit status; on LR_EXIT_OK *r is filled
 * and released with cmd_apply_result_release, otherwise left zeroed.
 */
int	cmd_apply_run(struct lr_ctx *ctx, const struct cmd_apply_opts *o,
	    struct cmd_apply_result *r);
void	cmd_apply_result_release(struct cmd_apply_result *r);

#endif
