/*
 * leura: global options, then the subcommand from the table below, in the
 * manner of git's builtins.  Each subcommand lives in builtin/<name>.c.
 *
 * New subcommand checklist: builtin/<name>.c with cmd_<name>() declared in
 * builtin/builtin.h, a row in the table below, docs/man/leura-<name>.1.md
 * (its SYNOPSIS holds the usage line) and the list in leura.1.md, tests in
 * tests/cli/t_<name>.sh.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builtin.h"
#include "leura_commit.h"
#include "log.h"
#include "suggest.h"

struct lr_cmd {
	const char *name;
	int	(*fn)(int, char **, struct lr_ctx *);
	const char *summary;
};

static const struct lr_cmd commands[] = {
	{ "validate",	cmd_validate,	"check the config repo" },
	{ "schedule",	cmd_schedule,	"show where service instances are placed" },
	{ "inventory",	cmd_inventory,	"export the inventory (--ansible, --prometheus)" },
	{ "plan",	cmd_plan,	"show what an apply would change" },
	{ "apply",	cmd_apply,	"write a commit's desired state to etcd" },
	{ "status",	cmd_status,	"per host and service: converged or not" },
	{ "logs",	cmd_logs,	"a host's last run: its steps and output" },
	{ "history",	cmd_history,	"the commits applied, newest first" },
	{ "up",		cmd_up,		"local etcd and agents, apply, wait: one machine" },
	{ "keygen",	cmd_keygen,	"make the fleet's signing key pair" },
	{ "login",	cmd_login,	"log in to leurad; keep the session token" },
	{ "logout",	cmd_logout,	"end the session; forget its token" },
	{ "whoami",	cmd_whoami,	"the user, groups and grants leurad sees" },
	{ "users",	cmd_users,	"list, add, remove, disable users" },
	{ "groups",	cmd_groups,	"list, add, remove groups; members" },
	{ "grant",	cmd_grant,	"let a user or group do a verb on a resource" },
	{ "grants",	cmd_grants,	"list the grants" },
	{ "revoke",	cmd_revoke,	"remove a grant" },
	{ "tokens",	cmd_tokens,	"list, create, revoke API tokens" },
	{ "can",	cmd_can,	"may I (or --as USER) do VERB on RESOURCE?" },
	{ "events",	cmd_events,	"the audit log: who did what, when" },
	{ "run",	cmd_run,	"start a task (leura run show RUN: a run)" },
	{ "runs",	cmd_runs,	"the task runs and commands run, newest first" },
	{ "exec",	cmd_exec,	"run a command on hosts, recorded as a run" },
	{ "cancel",	cmd_cancel,	"stop a run" },
	{ "approve",	cmd_approve,	"approve (or --reject) a run's approval step" },
	{ "tasks",	cmd_tasks,	"the tasks: targets, schedule, params, last run" },
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void
usage(FILE *fp)
{
	size_t i;

	fprintf(fp, "usage: leura [-C dir] [-v] [--etcd url[,url...]] "
	    "[--server url] <command> [<args>]\n\n"
	    "commands:\n");
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(fp, "  %-10s %s\n", commands[i].name,
		    commands[i].summary);
	fprintf(fp, "\nSee 'leura <command> -h' and leura(1).\n");
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		CONN_LONGOPTS,
		SERVER_LONGOPT,
		CMD_HELP_LONGOPT,
		{ "version", no_argument, NULL, CMD_OPT_BASE },
		{ NULL, 0, NULL, 0 }
	};
	struct lr_ctx ctx = { .repo_dir = ".", .progname = "leura" };
	const char *names[NCOMMANDS], *s;
	char opt[3];
	int c, i;
	size_t k;

	/* not an option: the trampoline of `leura up`'s children (up.c) */
	if (argc > 1 && strcmp(argv[1], "--up-child") == 0)
		return cmd_up_child(argc - 2, argv + 2);
	/* options up to the subcommand, which parses its own (git-style) */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:C:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'C':
			ctx.repo_dir = optarg;
			ctx.repo_dir_set = true;
			break;
		case 'v':
			ctx.verbose++;
			break;
		case 'h':
		case CMD_OPT_HELP:
			usage(stdout);
			return LR_EXIT_OK;
		case CMD_OPT_BASE:
			printf("leura %s (%s)\n", LEURA_VERSION, LEURA_COMMIT);
			return LR_EXIT_OK;
		default:
			if (conn_getopt(c, optarg, &ctx))
				break;
			fprintf(stderr, "leura: error: unknown option '%s'\n",
			    cmd_option_name(c, argv, opt));
			usage(stderr);
			return LR_EXIT_USAGE;
		}
	}
	i = optind;
	/* each subcommand's getopt_long starts afresh at its argv[1] */
	optind = 0;
	lr_log_set_level(LR_LOG_WARN + ctx.verbose);
	if (i >= argc) {
		usage(stderr);
		return LR_EXIT_USAGE;
	}
	for (k = 0; k < NCOMMANDS; k++) {
		if (strcmp(argv[i], commands[k].name) == 0)
			return commands[k].fn(argc - i, argv + i, &ctx);
		names[k] = commands[k].name;
	}
	fprintf(stderr, "leura: error: '%s' is not a leura command\n",
	    argv[i]);
	if ((s = lr_suggest(argv[i], names, NCOMMANDS)) != NULL)
		fprintf(stderr, "hint: did you mean 'leura %s'?\n", s);
	else
		fprintf(stderr, "hint: run 'leura --help' for the list\n");
	return LR_EXIT_USAGE;
}
