/*
 * leura approve RUN [--reject] [-m WHY]: decide the approval step a run
 * waits on (POST /v1/runs/RUN/approve {decision, message}).  leurad
 * checks that the caller is in the step's groups and is not who started
 * the run (unless the task says self_approval: true); its refusal is
 * printed as sent.  Who decided, when and why goes in the run's record.
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
    "usage: leura approve RUN [--reject] [-m MESSAGE] [--json]\n";

enum { OPT_JSON = CMD_OPT_BASE, OPT_REJECT };

struct approve_args {
	const char *message;
	bool	 json, reject;
	struct lr_ctx *ctx;
};

static int
approve_opt(int c, char *arg, char **argv, void *a)
{
	struct approve_args *aa = a;

	switch (c) {
	case 'm': aa->message = arg; return -1;
	case OPT_REJECT: aa->reject = true; return -1;
	case OPT_JSON: aa->json = true; return -1;
	default:
		if (c == CONN_OPT_SERVER && conn_getopt(c, arg, aa->ctx))
			return -1;
		return cmd_bad_option(c, argv, usage_str);
	}
}

int
cmd_approve(int argc, char **argv, struct lr_ctx *ctx)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, OPT_JSON },
		{ "reject", no_argument, NULL, OPT_REJECT },
		{ "message", required_argument, NULL, 'm' },
		SERVER_LONGOPT,
		CMD_HELP_LONGOPT,
		{ NULL, 0, NULL, 0 }
	};
	struct approve_args aa = { .ctx = ctx };
	struct remote r;
	json_t *body, *run = NULL;
	char *ops[1], *path;
	int nops, dd, rc;

	rc = cmd_run_getopt(argc, argv, "+:hm:", longopts, usage_str,
	    approve_opt, &aa, ops, 1, &nops, &dd);
	if (rc >= 0)
		return rc;
	if (nops == 0) {
		fprintf(stderr, "leura: error: approve wants a RUN id\n%s",
		    usage_str);
		return LR_EXIT_USAGE;
	}
	if ((rc = cmd_run_check_id(ops[0])) != 0 ||
	    (rc = cmd_remote_open(&r, ctx, 0)) != 0)
		return rc;
	body = json_pack("{s:s}", "decision", aa.reject ? "reject" :
	    "approve");
	if (aa.message != NULL)
		lr_json_set_str(body, "message", aa.message);
	path = rec_api_path(r.api, "/v1/runs/%s/approve", ops[0]);
	if ((rc = cmd_remote_call(&r, "POST", path, body, &run)) == 0) {
		if (aa.json)
			cmd_print_json(run);
		else if (rec_runs_is_final(run))
			printf("%s run %s: it ended %s.\n", aa.reject ?
			    "Rejected" : "Approved", cmd_vis(ops[0]),
			    cmd_vis(rec_runs_state(run)));
		else
			printf("%s run %s: it goes on (%s).\n", aa.reject ?
			    "Rejected" : "Approved", cmd_vis(ops[0]),
			    cmd_vis(rec_runs_state(run)));
	}
	json_decref(run);
	json_decref(body);
	free(path);
	cmd_remote_release(&r);
	return rc;
}
