/*
 * leura run TASK [-p NAME=VALUE ...] [--hosts H,...] [--groups G,...]
 * [--services S,...] [--force] [--wait] [--follow] [--json]: start a
 * task's run through leurad (POST /v1/tasks/TASK/runs) and say its id
 * and hosts; a recent run of it on the same hosts is a refusal that says
 * who ran it, when, where and how it ended (exit 3, --force goes ahead).
 * --wait follows the run until it is finalised, --follow streams its
 * output meanwhile (runout.c).
 *
 * leura run show RUN [--json]: the run's record, each host's steps, the
 * output of failed steps (GET /v1/runs/RUN).  A task named "show" is
 * started with `leura run -- show`.
 *
 * Options may come before or after the task, as the man page shows
 * them; params are strings here, leurad checks them against the types
 * the task declares (and says which param and type when one is wrong).
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
    "usage: leura run TASK [-p NAME=VALUE]... [--hosts H,...] "
    "[--groups G,...] [--services S,...] [--force] [--wait] [--follow] "
    "[--json]\n"
    "   or: leura run show RUN [--json]\n";

enum { OPT_JSON = CMD_OPT_BASE, OPT_HOSTS, OPT_GROUPS, OPT_SERVICES,
	OPT_FORCE, OPT_WAIT, OPT_FOLLOW };

struct run_args {
	struct cmd_run_opts o;
	bool	 force;
	json_t	*params;	/* {name: "value"} */
	json_t	*targets;	/* {"hosts","groups","services"} as given */
	struct lr_ctx *ctx;
};

static int
run_opt(int c, char *arg, char **argv, void *a)
{
	struct run_args *ra = a;
	struct lr_err err;
	const char *key = NULL;

	lr_err_clear(&err);
	switch (c) {
	case 'p':
		if (rec_runs_param_add(ra->params, arg, &err) < 0) {
			lr_err_print(&err);
			return LR_EXIT_USAGE;
		}
		return -1;
	case OPT_HOSTS: key = "hosts"; break;
	case OPT_GROUPS: key = "groups"; break;
	case OPT_SERVICES: key = "services"; break;
	case OPT_FORCE: ra->force = true; return -1;
	case OPT_WAIT: ra->o.wait = true; return -1;
	case OPT_FOLLOW: ra->o.follow = true; return -1;
	case OPT_JSON: ra->o.json = true; return -1;
	default:
		if (c == CONN_OPT_SERVER && conn_getopt(c, arg, ra->ctx))
			return -1;
		return cmd_bad_option(c, argv, usage_str);
	}
	if (rec_runs_target_add(ra->targets, key, arg, &err) < 0) {
		lr_err_print(&err);
		return LR_EXIT_USAGE;
	}
	return -1;
}

/* leura run show ID */
static int
run_show(struct lr_ctx *ctx, const char *id, bool json)
{
	struct remote r;
	json_t *run = NULL;
	char *path;
	int rc;

	if ((rc = cmd_run_check_id(id)) != 0 ||
	    (rc = cmd_remote_open(&r, ctx, 0)) != 0)
		return rc;
	path = rec_api_path(r.api, "/v1/runs/%s", id);
	if ((rc = cmd_remote_call(&r, "GET", path, NULL, &run)) == 0) {
		if (json)
			cmd_print_json(run);
		else
			cmd_run_print(run, true, cmd_run_now_ms());
	}
	json_decref(run);
	free(path);
	cmd_remote_release(&r);
	return rc;
}

int
cmd_run(int argc, char **argv, struct lr_ctx *ctx)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, OPT_JSON },
		{ "hosts", required_argument, NULL, OPT_HOSTS },
		{ "groups", required_argument, NULL, OPT_GROUPS },
		{ "services", required_argument, NULL, OPT_SERVICES },
		{ "force", no_argument, NULL, OPT_FORCE },
		{ "wait", no_argument, NULL, OPT_WAIT },
		{ "follow", no_argument, NULL, OPT_FOLLOW },
		SERVER_LONGOPT,
		CMD_HELP_LONGOPT,
		{ NULL, 0, NULL, 0 }
	};
	struct run_args ra = { 0 };
	struct remote r;
	json_t *body = NULL;
	char *ops[2], *path = NULL;
	int nops, dd, rc;

	ra.params = json_object();
	ra.targets = json_object();
	ra.ctx = ctx;
	ra.o.ctx = ctx;
	rc = cmd_run_getopt(argc, argv, "+:hp:", longopts, usage_str, run_opt,
	    &ra, ops, 2, &nops, &dd);
	if (rc >= 0)
		goto out;
	rc = LR_EXIT_USAGE;
	if (nops >= 1 && dd != 0 && strcmp(ops[0], "show") == 0) {
		if (nops != 2) {
			fprintf(stderr, "leura: error: run show wants a RUN "
			    "id\n%s", usage_str);
			goto out;
		}
		if (json_object_size(ra.params) || json_object_size(ra.targets)
		    || ra.force || ra.o.wait || ra.o.follow) {
			fprintf(stderr, "leura: error: run show takes only "
			    "--json\n%s", usage_str);
			goto out;
		}
		rc = run_show(ctx, ops[1], ra.o.json);
		goto out;
	}
	if (ra.o.follow && ra.o.json) {
		fprintf(stderr, "leura: error: --follow prints the output, "
		    "not JSON: give one of --follow and --json\n%s",
		    usage_str);
		goto out;
	}
	if (nops == 0) {
		fprintf(stderr, "leura: error: which task? run wants a TASK "
		    "name\nhint: 'leura tasks' lists them\n%s", usage_str);
		goto out;
	}
	if (nops > 1) {
		fprintf(stderr, "leura: error: unknown argument '%s'\n%s",
		    cmd_vis(ops[1]), usage_str);
		goto out;
	}
	if ((rc = cmd_remote_open(&r, ctx, 0)) != 0)
		goto out;
	/* body: freed below */
	body = json_pack("{s:O, s:b}", "params", ra.params, "force",
	    ra.force);
	if (json_object_size(ra.targets) > 0)
		json_object_set(body, "targets", ra.targets);
	path = rec_api_path(r.api, "/v1/tasks/%s/runs", ops[0]);
	rc = cmd_run_start(&r, path, body, &ra.o);
	cmd_remote_release(&r);
out:
	free(path);
	json_decref(body);
	json_decref(ra.params);
	json_decref(ra.targets);
	return rc;
}
