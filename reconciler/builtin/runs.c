/*
 * leura runs [--task T] [--since DURATION] [--state S] [--limit N]
 * [--json]: the runs leurad knows (GET /v1/runs, newest first, every
 * page up to the limit), filtered by the server to those the caller may
 * read.  One a line: ID, TASK (or "exec: CMD" shortened), BY, STARTED,
 * TOOK, STATE (the outcome once finalised), HOSTS (how many).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builtin.h"
#include "clock.h"
#include "json.h"
#include "runout.h"
#include "runs.h"
#include "xalloc.h"

static const char usage_str[] =
    "usage: leura runs [--task TASK] [--since DURATION] [--state STATE] "
    "[--limit N] [--json]\n";

enum { OPT_JSON = CMD_OPT_BASE, OPT_TASK, OPT_SINCE, OPT_STATE,
	OPT_LIMIT };

/* What `leura runs` shows without --limit. */
#define RUNS_DEFAULT_LIMIT	50

/* The time of an RFC 3339 field to the second, "-" when none. */
static const char *
when(const json_t *run, const char *k, char buf[LR_TIME_ISO_LEN])
{
	int64_t ms;

	if (rec_runs_time_parse(lr_json_strn(run, k), &ms) < 0)
		return "-";
	lr_time_iso(ms / 1000, buf);
	return buf;
}

static void
print_row(const json_t *run, int64_t now)
{
	struct lr_buf label = LR_BUF_INIT, took = LR_BUF_INIT;
	char t[LR_TIME_ISO_LEN];

	rec_runs_label(run, 30, &label);
	rec_runs_took(run, now, &took);
	printf("%-24s %-30s %-12s %-20s %-8s %-16s %zu\n",
	    cmd_field(run, "id"), label.s, cmd_field(run, "by"),
	    when(run, lr_json_strn(run, "started") ? "started" : "created",
	    t), took.s, cmd_vis(rec_runs_state(run)),
	    json_array_size(json_object_get(run, "hosts")));
	lr_buf_release(&label);
	lr_buf_release(&took);
}

int
cmd_runs(int argc, char **argv, struct lr_ctx *ctx)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, OPT_JSON },
		{ "task", required_argument, NULL, OPT_TASK },
		{ "since", required_argument, NULL, OPT_SINCE },
		{ "state", required_argument, NULL, OPT_STATE },
		{ "limit", required_argument, NULL, OPT_LIMIT },
		SERVER_LONGOPT,
		CMD_HELP_LONGOPT,
		{ NULL, 0, NULL, 0 }
	};
	const char *task = NULL, *since = NULL, *state = NULL;
	long long limit = RUNS_DEFAULT_LIMIT;
	struct remote r;
	json_t *items = NULL, *run;
	char *path;
	bool json = false;
	int64_t now;
	size_t i;
	int c, rc;

	while ((c = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_JSON: json = true; break;
		case OPT_TASK: task = optarg; break;
		case OPT_STATE: state = optarg; break;
		case OPT_SINCE: since = optarg; break;
		case OPT_LIMIT:
			if ((rc = cmd_limit_arg(optarg, "runs", &limit)) != 0)
				return rc;
			break;
		default:
			if (c != CONN_OPT_SERVER ||
			    !conn_getopt(c, optarg, ctx))
				return cmd_bad_option(c, argv, usage_str);
		}
	}
	if ((rc = cmd_no_args(argc, argv, usage_str)) != 0 ||
	    (rc = cmd_remote_open(&r, ctx, 0)) != 0)
		return rc;
	path = lr_xstrdup("/v1/runs");
	rec_api_query_add(r.api, &path, "task", task);
	rec_api_query_add(r.api, &path, "state", state);
	rec_api_query_add(r.api, &path, "since", since);
	if ((rc = cmd_remote_list(&r, path, (size_t)limit, &items)) != 0)
		goto out;
	if (json)
		cmd_print_json(items);
	else if (json_array_size(items) == 0)
		printf("No runs%s.\n", task || since || state ?
		    " match" : " yet");
	else {
		now = cmd_run_now_ms();
		printf("%-24s %-30s %-12s %-20s %-8s %-16s %s\n", "ID",
		    "TASK", "BY", "STARTED", "TOOK", "STATE", "HOSTS");
		json_array_foreach(items, i, run)
			print_row(run, now);
		if (json_array_size(items) == (size_t)limit)
			printf("(the newest %lld; --limit N shows more)\n",
			    limit);
	}
out:
	json_decref(items);
	free(path);
	cmd_remote_release(&r);
	return rc;
}
