/*
 * Subcommands of `leura`, one file each in builtin/: the command line
 * (getopt_long) and the printing; the work is the library's
 * (reconcile/).  cli.c holds what they share.
 *
 * New subcommand checklist: builtin/<name>.c with cmd_<name>(), a row in
 * the table in leura.c, docs/man/leura-<name>.1.md, and tests in
 * tests/cli/.
 */
#ifndef LEURA_BUILTIN_H
#define LEURA_BUILTIN_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "api.h"
#include "etcd.h"
#include "load.h"

/* Exit statuses (DESIGN.md §3). */
enum {
	LR_EXIT_OK = 0,
	LR_EXIT_FAIL = 1,
	LR_EXIT_CHANGES = 2,
	/* run, exec: refused, a recent run overlaps; --force starts it */
	LR_EXIT_RECENT = 3,
	LR_EXIT_USAGE = 64,
	LR_EXIT_INTERRUPTED = 130	/* 128 + SIGINT: stopped by Ctrl-C */
};

/* Global options, parsed by leura.c before the subcommand. */
struct lr_ctx {
	const char *repo_dir;	/* -C DIR; default "." */
	bool	 repo_dir_set;	/* -C was given */
	int	 verbose;	/* -v count */
	const char *progname;	/* "leura" */
	/* etcd connection flags (conn_open, cli.c, merges env and config) */
	const char *etcd;	/* --etcd URL[,URL...] */
	const char *etcd_cacert, *etcd_cert, *etcd_key, *etcd_user;
	const char *server;	/* --server URL: leurad (remote.c) */
};

int	cmd_validate(int argc, char **argv, struct lr_ctx *ctx);
int	cmd_schedule(int argc, char **argv, struct lr_ctx *ctx);
int	cmd_inventory(int argc, char **argv, struct lr_ctx *ctx);
int	cmd_plan(int argc, char **argv, struct lr_ctx *ctx);
int	cmd_apply(int argc, char **argv, struct lr_ctx *ctx);
int	cmd_status(int argc, char **argv, struct lr_ctx *ctx);
int	cmd_logs(int argc, char **argv, struct lr_ctx *ctx);
/*
 * Stream run's output from leurad as it comes (host NULL: every host;
 * step -1: every step), until it ends (logs.c): `leura run --follow`.
 * Returns an exit status (errors printed).
 */
int	cmd_logs_follow(struct lr_ctx *ctx, const char *run, const char *host,
	    int step);
int	cmd_history(int argc, char **argv, struct lr_ctx *ctx);
int	cmd_up(int argc, char **argv, struct lr_ctx *ctx);
int	cmd_keygen(int argc, char **argv, struct lr_ctx *ctx);
int	cmd_login(int argc, char **argv, struct lr_ctx *ctx);
int	cmd_logout(int argc, char **argv, struct lr_ctx *ctx);
int	cmd_whoami(int argc, char **argv, struct lr_ctx *ctx);
int	cmd_users(int argc, char **argv, struct lr_ctx *ctx);
int	cmd_groups(int argc, char **argv, struct lr_ctx *ctx);
int	cmd_grant(int argc, char **argv, struct lr_ctx *ctx);
int	cmd_grants(int argc, char **argv, struct lr_ctx *ctx);
int	cmd_revoke(int argc, char **argv, struct lr_ctx *ctx);
int	cmd_tokens(int argc, char **argv, struct lr_ctx *ctx);
int	cmd_can(int argc, char **argv, struct lr_ctx *ctx);
int	cmd_events(int argc, char **argv, struct lr_ctx *ctx);
int	cmd_run(int argc, char **argv, struct lr_ctx *ctx);
int	cmd_runs(int argc, char **argv, struct lr_ctx *ctx);
int	cmd_tasks(int argc, char **argv, struct lr_ctx *ctx);
int	cmd_exec(int argc, char **argv, struct lr_ctx *ctx);
int	cmd_cancel(int argc, char **argv, struct lr_ctx *ctx);
int	cmd_approve(int argc, char **argv, struct lr_ctx *ctx);
/* `leura --up-child PPID PROG ARGS...`: how `leura up` starts its children */
int	cmd_up_child(int argc, char **argv);

/* ---- shared by the builtins (cli.c) ---- */

/*
 * The etcd connection of a subcommand: flags (struct lr_ctx), then the
 * LEURA_ETCD* variables, then etcd.endpoints and etcd.prefix of the
 * working tree's leura.yml (-C DIR), then the config file, then the default
 * http://127.0.0.1:2379 (rec_config_conn, reconcile/config.h, over
 * lr_conn_resolve, lib/conn.h); here only what goes wrong is printed.
 */
struct conn {
	struct etcd *etcd;	/* owned */
	char	*prefix;	/* owned: key prefix, "/leura" by default */
	char	*endpoints;	/* owned: what was used, for messages */
	/*
	 * The working tree's leura.yml (ctx->repo_dir): whether there is
	 * one, and its name (owned; NULL when it names none).
	 */
	bool	 repo;
	char	*fleet;
};

/*
 * Resolve the settings and make the client (no network yet).  On failure
 * (an invalid leura.yml included) prints the error and returns
 * LR_EXIT_FAIL.  conn_release either way.
 */
int	conn_open(struct conn *c, const struct lr_ctx *ctx);
void	conn_release(struct conn *c);
/*
 * Refuse (print why, return LR_EXIT_FAIL) an etcd whose prefix holds
 * another fleet than the working tree's leura.yml names (recorded: the
 * name read there, rec_fleet_load; NULL: none).  Outside a config repo
 * (no leura.yml) there is nothing to compare: 0.
 */
int	conn_check_fleet(const struct conn *c, const char *recorded);

/*
 * The connection flags as a fragment of a getopt_long table, for the
 * global options and every command that talks to etcd: --etcd,
 * --etcd-cacert, --etcd-cert, --etcd-key, --etcd-user (each with "=" or a
 * separate value).  conn_getopt stores getopt_long's answer c (with
 * optarg) in ctx: true when c was one of them.
 */
enum {
	CONN_OPT_ETCD = 0x100, CONN_OPT_CACERT, CONN_OPT_CERT, CONN_OPT_KEY,
	CONN_OPT_USER, CONN_OPT_SERVER
};
#define CONN_LONGOPTS \
	{ "etcd", required_argument, NULL, CONN_OPT_ETCD }, \
	{ "etcd-cacert", required_argument, NULL, CONN_OPT_CACERT }, \
	{ "etcd-cert", required_argument, NULL, CONN_OPT_CERT }, \
	{ "etcd-key", required_argument, NULL, CONN_OPT_KEY }, \
	{ "etcd-user", required_argument, NULL, CONN_OPT_USER }

bool	conn_getopt(int c, const char *arg, struct lr_ctx *ctx);
/* --server URL (leurad), taken by conn_getopt too */
#define SERVER_LONGOPT \
	{ "server", required_argument, NULL, CONN_OPT_SERVER }


/*
 * getopt_long gave c for an option no case took: -h or --help (usage on
 * stdout, LR_EXIT_OK), '?' (unknown) or ':' (no value): the error and the
 * usage on stderr, LR_EXIT_USAGE.  Builtins' optstrings start with "+:"
 * ('+': options end at the first argument that is not one, as git's do,
 * so `apply extra -h` is an error about 'extra'; ':' reports a missing
 * value as ':'), and their long options' values are CMD_OPT_BASE and up,
 * never a letter, so that an error names what was typed.
 */
enum { CMD_OPT_BASE = 0x200, CMD_OPT_HELP = 0x1ff };
#define CMD_HELP_LONGOPT { "help", no_argument, NULL, CMD_OPT_HELP }
int	cmd_bad_option(int c, char **argv, const char *usage);
/*
 * The option getopt_long refused with c ('?' or ':'), as the user typed
 * it: "-x" for a short one (in buf), argv's word for a long one.
 */
const char *cmd_option_name(int c, char **argv, char buf[3]);
/*
 * After the options: 0 when nothing is left, else the first argument is
 * a usage error as cmd_bad_option says it (LR_EXIT_USAGE).
 */
int	cmd_no_args(int argc, char **argv, const char *usage);
/*
 * The value of --limit: a positive count of what ("runs", "events") into
 * *out; else says so and returns LR_EXIT_USAGE.
 */
int	cmd_limit_arg(const char *arg, const char *what, long long *out);
/*
 * After the options, for a command that takes names: 0 when no argument
 * left looks like an option, else a usage error (LR_EXIT_USAGE) saying
 * options go first; after "--" every argument is a name.
 */
int	cmd_operands(int argc, char **argv, const char *usage);

/*
 * Print o on stdout as indented JSON with sorted keys and a newline, the
 * form every --json output takes.  One buffered write: json_dumpf writes
 * token by token, which shows on large documents.
 */
void	cmd_print_json(const json_t *o);

/*
 * Print s to f as text a terminal shows and never acts on (control
 * characters as \xHH, lr_buf_add_visible; a newline as \n): for what
 * hosts, reports and the store say, which anyone with etcd access writes.
 */
void	cmd_fputv(const char *s, FILE *f);

/*
 * Print the last lines of a host's output out (all when lines is 0) to
 * stdout, each after indent, "..." first when lines were left out; made
 * visible as cmd_fputv does, tabs kept.
 */
void	cmd_print_tail(const char *out, int lines, const char *indent);

/* Print l's diagnostics to stderr (up to max; 0 = all). */
void	cmd_print_diags(const struct rec_load *l, size_t max);
/*
 * Why rec_load (or rec_plan_compile, rec_deploy_*) failed with rc: l's
 * diagnostics when it has errors (up to max; 0 = all), else err (a git
 * error, a bad ref, ...: LR_EINVAL comes with either).  Always prints
 * something.
 */
void	cmd_print_load_error(const struct rec_load *l, int rc,
	    const struct lr_err *err, size_t max);

/*
 * rec_load of -C DIR for a command that needs valid specs: on failure
 * print the diagnostics (or the error) on stderr and return
 * LR_EXIT_FAIL; 0 when valid.  rec_load_release l either way.
 */
int	cmd_load(struct rec_load *l, const struct lr_ctx *ctx,
	    const char *ref, unsigned flags);
/* cmd_load as if the time were now (rec_load_at). */
int	cmd_load_at(struct rec_load *l, const struct lr_ctx *ctx,
	    const char *ref, unsigned flags, int64_t now);

/* ---- apply without its command line (apply.c), for `leura up` ---- */

struct cmd_apply_opts {
	const char *ref;	/* NULL: HEAD */
	bool	 rollback;
	bool	 show_diff;	/* line diffs in the plan */
	bool	 json;		/* print nothing; build result->json */
	bool	 no_plan;	/* print only the last line */
	long long expect;	/* --expect-revision; -1: none */
	long long lockwait;	/* --lock-timeout, seconds */
	/* --signing-key: path of the fleet's private key (NULL: see
	 * rec_config_signing_key) */
	const char *signing_key;
	bool	 insecure_unsigned;	/* --insecure-unsigned: no signing */
	/*
	 * A saved plan to apply exactly (leura plan -o FILE): its commit
	 * and revision replace ref and expect; NULL: none.
	 */
	const char *plan_file;
	/* Show the plan and ask on the terminal before writing. */
	bool	 ask;
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

/* ---- leurad (remote.c) ---- */

/* A client of leurad for one command. */
struct remote {
	struct rec_api *api;	/* owned */
	char	*url;		/* owned: the server's URL */
	char	*user;		/* owned: who logged in (credentials); NULL */
};

/*
 * The server configured (--server, LEURA_SERVER, server.url of the
 * config file): *url NULL when none, else the caller's, as *cacert.
 * Prints a bad config file's diagnostics and returns LR_EXIT_FAIL.
 */
int	cmd_remote_url(const struct lr_ctx *ctx, char **url, char **cacert);

#define REMOTE_ANON	0x1	/* send no token (login) */
/*
 * Open a client of the configured server with the caller's token
 * (LEURA_TOKEN, else the credentials file; none with REMOTE_ANON).
 * Prints what goes wrong (no server, not logged in, a credentials file
 * others may read) and returns LR_EXIT_FAIL; r is released then.
 * cmd_remote_release either way.
 */
int	cmd_remote_open(struct remote *r, const struct lr_ctx *ctx,
	    unsigned flags);
void	cmd_remote_release(struct remote *r);
/*
 * rec_api_call, printing the server's error (made visible) on failure:
 * LR_EXIT_OK with *out the answer (the caller's; out may be NULL), or
 * LR_EXIT_FAIL.
 */
int	cmd_remote_call(struct remote *r, const char *method, const char *path,
	    const json_t *body, json_t **out);
/*
 * Every item of the paginated list at path ({"items","next"}, followed
 * with ?after=), at most max (0: all): *items a new array.  As
 * cmd_remote_call.
 */
int	cmd_remote_list(struct remote *r, const char *path, size_t max,
	    json_t **items);
/* An error whose words came from the server, printed made visible. */
void	cmd_remote_error(const struct lr_err *err);
/*
 * s made visible (lr_buf_add_visible: control characters as \xHH, a
 * newline as \n) for printing; NULL prints as "".  The string is
 * borrowed until 8 more calls (a ring): enough for one printf.
 */
const char *cmd_vis(const char *s);

/*
 * o[k] made visible as cmd_vis (a string, a number, a boolean; "" when
 * absent or null), borrowed until 4 more calls.
 */
const char *cmd_field(const json_t *o, const char *k);
/* One grant of an answer as a line: ID SUBJECT VERB RESOURCE (via X). */
void	cmd_print_grant(const json_t *g, const char *indent);
/* The strings (or objects' "name") of a, joined by ", "; dflt if none. */
void	cmd_print_list(const json_t *a, const char *dflt);

/* ---- plan and apply through leurad (serverplan.c) ---- */

struct cmd_remote_plan {
	const char *ref;	/* NULL: the server's default branch */
	bool	 json;
	bool	 detailed;	/* plan --detailed-exitcode */
	bool	 rollback;	/* apply --rollback */
	bool	 ask;		/* apply: show the plan, ask, then apply it */
	long long expect;	/* apply --expect-revision; -1: none */
};

/*
 * leura plan and leura apply when a server is configured: the plan (or
 * the apply) of o->ref of the server's git source, under the caller's
 * identity, printed as the direct path prints; the server's refusal
 * (403: the first service or host without an apply grant) printed as it
 * says it.  Return an exit status.
 */
int	cmd_plan_remote(struct lr_ctx *ctx, const struct cmd_remote_plan *o);
int	cmd_apply_remote(struct lr_ctx *ctx, const struct cmd_remote_plan *o);

/* Where a password comes from: never a flag's value (ps shows argv). */
struct cmd_password_src {
	const char *file;	/* --password-file F: its first line */
	bool	 from_stdin;	/* --password-stdin: the first line */
};
/*
 * The password from src, else asked on the terminal without echo
 * (prompt; twice with confirm).  LR_EXIT_OK with *out the caller's (free
 * with cmd_password_free, which wipes it), or LR_EXIT_FAIL printed.
 */
int	cmd_password(const struct cmd_password_src *src, const char *prompt,
	    bool confirm, char **out);
void	cmd_password_free(char *s);

#endif
