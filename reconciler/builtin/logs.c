/*
 * leura logs [--json] HOST [STEP]: what the agent of HOST reported of its
 * last converge run, step by step, with each step's output (the results
 * it puts to P/results/HOST; reconcile/logs.c reads and selects, this
 * prints).  Results are the host's word: shown, never acted on.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "builtin.h"
#include "follow.h"
#include "json.h"
#include "logs.h"
#include "report.h"
#include "xalloc.h"

static const char usage_str[] =
    "usage: leura logs [--json] [--etcd URL[,URL...]] HOST [STEP]\n";

/* s made visible into b (a host's words). */
static void
add_vis(struct lr_buf *b, const char *s)
{
	lr_buf_add_visible(b, s, strlen(s), 0);
}

/*
 * One step: "== ID: failed, exit 1 (31ms, 2 attempts, started
 * 2026-...Z)", then its output.
 */
static void
print_step(const json_t *o)
{
	struct proto_step_result r;
	struct lr_buf b = LR_BUF_INIT;
	char t[32];
	time_t at;
	struct tm tm;

	proto_step_result_decode(o, &r);
	lr_buf_adds(&b, "== ");
	add_vis(&b, r.id);
	lr_buf_adds(&b, ": ");
	add_vis(&b, *r.status ? r.status : "?");
	if (!r.ran) {
		lr_buf_adds(&b, ", not run");
		if (r.reason != NULL) {
			lr_buf_adds(&b, " (");
			add_vis(&b, r.reason);
			lr_buf_addc(&b, ')');
		}
	}
	/* why a step that ran did nothing: a guard ("unless: ...") */
	if (r.ran && r.reason != NULL) {
		lr_buf_adds(&b, ": ");
		add_vis(&b, r.reason);
	}
	/*
	 * The error says it all ("exited with status 3"), else the exit of
	 * its command, when it ran one (not only its guard)
	 */
	if (r.error != NULL) {
		lr_buf_adds(&b, ": ");
		add_vis(&b, r.error);
	} else if (r.ran && r.attempts == 0)
		;
	else if (r.exit_code >= 0)
		lr_buf_printf(&b, ", exit %lld", (long long)r.exit_code);
	else if (r.timed_out)
		lr_buf_adds(&b, ", timed out");
	if (r.signal > 0)
		lr_buf_printf(&b, ", killed by signal %lld",
		    (long long)r.signal);
	if (r.ran && r.started_unix_ms > 0) {
		rec_follow_fmt_ms((long)r.duration_ms, true, t, sizeof(t));
		lr_buf_printf(&b, " (%s", t);
		if (r.attempts > 1)
			lr_buf_printf(&b, ", %lld attempts",
			    (long long)r.attempts);
		at = (time_t)(r.started_unix_ms / 1000);
		if (gmtime_r(&at, &tm) != NULL &&
		    strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%SZ", &tm) > 0)
			lr_buf_printf(&b, ", started %s", t);
		lr_buf_addc(&b, ')');
	}
	printf("%s\n", b.s);
	lr_buf_release(&b);
	/* the whole output the results keep, made visible */
	if (r.output != NULL)
		cmd_print_tail(r.output, 0, "    ");
}

static void
print_results(const char *host, const json_t *res, const json_t *steps,
    const char *step)
{
	struct lr_buf b = LR_BUF_INIT;
	int64_t left = lr_json_int(res, PROTO_RESULTS_STEPS_LEFT_OUT);
	size_t i, n = json_array_size(json_object_get(res,
	    PROTO_RESULTS_STEPS));
	json_t *s;

	lr_buf_adds(&b, "Host ");
	add_vis(&b, host);
	lr_buf_printf(&b, ", generation %lld, run ", (long long)lr_json_int(
	    res, PROTO_RESULTS_GENERATION));
	add_vis(&b, lr_json_str(res, PROTO_RESULTS_RUN));
	if (step != NULL) {
		lr_buf_printf(&b, ": %zu of %zu step%s (", json_array_size(
		    steps), n, n == 1 ? "" : "s");
		add_vis(&b, step);
		lr_buf_adds(&b, "), as its agent reported them");
	} else
		lr_buf_printf(&b, ": %zu step%s, as its agent reported them",
		    n, n == 1 ? "" : "s");
	printf("%s\n\n", b.s);
	lr_buf_release(&b);
	json_array_foreach(steps, i, s)
		print_step(s);
	if (left > 0)
		printf("\n%lld more step%s left out: the results did not fit "
		    "in etcd.\nhint: every step's whole output is in the run's "
		    "log archive on the host (leura-agent(8), Logs)\n",
		    (long long)left, left == 1 ? " was" : "s were");
}

enum { OPT_JSON = CMD_OPT_BASE };

int
cmd_logs(int argc, char **argv, struct lr_ctx *ctx)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, OPT_JSON },
		CONN_LONGOPTS,
		CMD_HELP_LONGOPT,
		{ NULL, 0, NULL, 0 }
	};
	struct conn c = { 0 };
	struct lr_err err;
	json_t *res = NULL, *steps = NULL, *out;
	const char *args[2] = { NULL, NULL };
	size_t nargs = 0;
	bool json = false;
	int i, rc = LR_EXIT_FAIL;

	while ((i = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
		if (i == OPT_JSON)
			json = true;
		else if (!conn_getopt(i, optarg, ctx))
			return cmd_bad_option(i, argv, usage_str);
	}
	if ((rc = cmd_operands(argc, argv, usage_str)) != 0)
		return rc;
	rc = LR_EXIT_FAIL;
	while (optind < argc && nargs < 2)
		args[nargs++] = argv[optind++];
	if (optind < argc) {
		fprintf(stderr, "%s: error: unknown argument '%s'\n%s",
		    ctx->progname, argv[optind], usage_str);
		return LR_EXIT_USAGE;
	}
	if (nargs == 0) {
		fprintf(stderr, "%s: error: which host? 'leura logs' takes a "
		    "host name\n%s", ctx->progname, usage_str);
		return LR_EXIT_USAGE;
	}
	lr_err_clear(&err);
	if (conn_open(&c, ctx) != 0)
		goto out;
	if (rec_results_load(c.etcd, c.prefix, args[0], &res, &err) < 0 ||
	    rec_results_steps(res, args[1], &steps, &err) < 0) {
		lr_err_print(&err);
		goto out;
	}
	if (json) {
		out = json_deep_copy(res);
		json_object_set_new(out, "host", json_string(args[0]));
		json_object_set(out, PROTO_RESULTS_STEPS, steps);
		cmd_print_json(out);
		json_decref(out);
	} else
		print_results(args[0], res, steps, args[1]);
	rc = LR_EXIT_OK;
out:
	json_decref(steps);
	json_decref(res);
	conn_release(&c);
	return rc;
}
