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

/* Exit statuses (DESIGN.md §3). */
enum {
	LR_EXIT_OK = 0,
	LR_EXIT_FAIL = 1,
	LR_EXIT_CHANGES = 2,
	LR_EXIT_USAGE = 64
};

/* Global options, parsed by leura.c before the subcommand. */
struct lr_ctx {
	const char *repo_dir;	/* -C DIR; default "." */
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

#endif
