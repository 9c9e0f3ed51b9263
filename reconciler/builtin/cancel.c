/*
 * leura cancel RUN [-m WHY]: stop a run (POST /v1/runs/RUN/cancel): the
 * engine deletes the dispatches of its steps, the agents abort what
 * runs, and the run ends "cancelled" with who, when and why in its
 * record.  A run already finalised is leurad's refusal, shown as sent.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builtin.h"
#include "json.h"
#include "runout.h"
#include "runs.h"

static const char usage_str[] =
    "usage: leura cancel RUN [-m MESSAGE] [--json]\n";

enum { OPT_JSON = CMD_OPT_BASE };

struct cancel_args {
	const char *message;
	bool	 json;
	struct lr_ctx *ctx;
};

static int
cancel_opt(int c, char *arg, char **argv, void *a)
{
	struct cancel_args *ca = a;

	switch (c) {
	case 'm': ca->message = arg; return -1;
	case OPT_JSON: ca->json = true; return -1;
	default:
		if (c == CONN_OPT_SERVER && conn_getopt(c, arg, ca->ctx))
			return -1;
		return cmd_bad_option(c, argv, usage_str);
	}
}

int
cmd_cancel(int argc, char **argv, struct lr_ctx *ctx)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, OPT_JSON },
		{ "message", required_argument, NULL, 'm' },
		SERVER_LONGOPT,
		CMD_HELP_LONGOPT,
		{ NULL, 0, NULL, 0 }
	};
	struct cancel_args ca = { .ctx = ctx };
	struct remote r;
	json_t *body, *run = NULL;
	char *ops[1], *path;
	int nops, dd, rc;

	rc = cmd_run_getopt(argc, argv, "+:hm:", longopts, usage_str,
	    cancel_opt, &ca, ops, 1, &nops, &dd);
	if (rc >= 0)
		return rc;
	if (nops == 0) {
		fprintf(stderr, "leura: error: cancel wants a RUN id\n%s",
		    usage_str);
		return LR_EXIT_USAGE;
	}
	if ((rc = cmd_run_check_id(ops[0])) != 0 ||
	    (rc = cmd_remote_open(&r, ctx, 0)) != 0)
		return rc;
	body = json_object();
	if (ca.message != NULL)
		lr_json_set_str(body, "message", ca.message);
	path = rec_api_path(r.api, "/v1/runs/%s/cancel", ops[0]);
	if ((rc = cmd_remote_call(&r, "POST", path, body, &run)) == 0) {
		if (ca.json)
			cmd_print_json(run);
		else if (rec_runs_is_final(run))
			printf("Cancelled run %s: %s.\n", cmd_vis(ops[0]),
			    cmd_vis(rec_runs_state(run)));
		else
			printf("Cancelling run %s: the steps still running "
			    "are being stopped ('leura run show %s' shows "
			    "them).\n", cmd_vis(ops[0]), cmd_vis(ops[0]));
	}
	json_decref(run);
	json_decref(body);
	free(path);
	cmd_remote_release(&r);
	return rc;
}
