/*
 * leura exec [--hosts H,...] [--groups G,...] [--services S,...]
 * [--run-as USER] [--force] [--wait] [--follow] [--json] -- CMD
 * [ARG...]: an ad-hoc command on hosts (POST /v1/exec), recorded and
 * logged as a run.  The command is the words after "--" joined as a
 * shell would need them typed (rec_runs_shell_join), so `-- grep -c 'a
 * b' /etc/hosts` runs with 'a b' as one argument.  leurad needs the run grant on every
 * target host; the same command on overlapping hosts within the window
 * is refused as `leura run` refuses a task (exit 3, --force).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builtin.h"
#include "json.h"
#include "runout.h"
#include "runs.h"
#include "xalloc.h"

static const char usage_str[] =
    "usage: leura exec [--hosts H,...] [--groups G,...] [--services S,...] "
    "[--run-as USER] [--force] [--wait] [--follow] [--json] -- COMMAND "
    "[ARG]...\n";

enum { OPT_JSON = CMD_OPT_BASE, OPT_HOSTS, OPT_GROUPS, OPT_SERVICES,
	OPT_FORCE, OPT_WAIT, OPT_FOLLOW, OPT_RUN_AS };

struct exec_args {
	struct cmd_run_opts o;
	bool	 force;
	const char *run_as;
	json_t	*targets;
	struct lr_ctx *ctx;
};

static int
exec_opt(int c, char *arg, char **argv, void *a)
{
	struct exec_args *ea = a;
	struct lr_err err;
	const char *key = NULL;

	lr_err_clear(&err);
	switch (c) {
	case OPT_HOSTS: key = "hosts"; break;
	case OPT_GROUPS: key = "groups"; break;
	case OPT_SERVICES: key = "services"; break;
	case OPT_RUN_AS: ea->run_as = arg; return -1;
	case OPT_FORCE: ea->force = true; return -1;
	case OPT_WAIT: ea->o.wait = true; return -1;
	case OPT_FOLLOW: ea->o.follow = true; return -1;
	case OPT_JSON: ea->o.json = true; return -1;
	default:
		if (c == CONN_OPT_SERVER && conn_getopt(c, arg, ea->ctx))
			return -1;
		return cmd_bad_option(c, argv, usage_str);
	}
	if (rec_runs_target_add(ea->targets, key, arg, &err) < 0) {
		lr_err_print(&err);
		return LR_EXIT_USAGE;
	}
	return -1;
}

int
cmd_exec(int argc, char **argv, struct lr_ctx *ctx)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, OPT_JSON },
		{ "hosts", required_argument, NULL, OPT_HOSTS },
		{ "groups", required_argument, NULL, OPT_GROUPS },
		{ "services", required_argument, NULL, OPT_SERVICES },
		{ "run-as", required_argument, NULL, OPT_RUN_AS },
		{ "force", no_argument, NULL, OPT_FORCE },
		{ "wait", no_argument, NULL, OPT_WAIT },
		{ "follow", no_argument, NULL, OPT_FOLLOW },
		SERVER_LONGOPT,
		CMD_HELP_LONGOPT,
		{ NULL, 0, NULL, 0 }
	};
	struct exec_args ea = { 0 };
	struct remote r;
	json_t *body = NULL;
	char *cmd = NULL;
	int c, rc, first;

	ea.targets = json_object();
	ea.ctx = ctx;
	ea.o.ctx = ctx;
	/* options, then "--" and the command: nothing after it is ours */
	optind = 0;
	while ((c = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1)
		if ((rc = exec_opt(c, optarg, argv, &ea)) >= 0)
			goto out;
	rc = LR_EXIT_USAGE;
	if (optind < argc && (optind < 2 ||
	    strcmp(argv[optind - 1], "--") != 0)) {
		fprintf(stderr, "leura: error: the command goes after '--': "
		    "'%s' is not an option of exec\nhint: leura exec --hosts "
		    "H -- %s ...\n%s", cmd_vis(argv[optind]),
		    cmd_vis(argv[optind]), usage_str);
		goto out;
	}
	if (optind >= argc) {
		fprintf(stderr, "leura: error: exec wants a command after "
		    "'--'\n%s", usage_str);
		goto out;
	}
	first = optind;
	if (ea.o.follow && ea.o.json) {
		fprintf(stderr, "leura: error: --follow prints the output, "
		    "not JSON: give one of --follow and --json\n%s",
		    usage_str);
		goto out;
	}
	if (json_object_size(ea.targets) == 0) {
		fprintf(stderr, "leura: error: exec wants the hosts to run "
		    "on: --hosts, --groups or --services\n%s", usage_str);
		goto out;
	}
	if ((rc = cmd_remote_open(&r, ctx, 0)) != 0)
		goto out;
	cmd = rec_runs_shell_join(argv + first, (size_t)(argc - first));
	/* body: freed below */
	body = json_pack("{s:s, s:b}", "command", cmd, "force", ea.force);
	json_object_update(body, ea.targets);
	if (ea.run_as != NULL)
		lr_json_set_str(body, "run_as", ea.run_as);
	rc = cmd_run_start(&r, "/v1/exec", body, &ea.o);
	cmd_remote_release(&r);
out:
	free(cmd);
	json_decref(body);
	json_decref(ea.targets);
	return rc;
}
