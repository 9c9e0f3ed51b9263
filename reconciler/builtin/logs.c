/*
 * leura logs [--json] HOST [STEP]: what the agent of HOST reported of its
 * last converge run, step by step, with each step's output (the results
 * it puts to P/results/HOST; reconcile/logs.c reads and selects, this
 * prints).  Results are the host's word: shown, never acted on.
 *
 * Through leurad (its log store, server/logs.h): leura logs [--host H]
 * [--step S] [--follow] RUN (a run id holds '@', which no host name can),
 * leura logs --deploy N --host H (a converge log), leura logs
 * --retention.  The text streams to stdout as it comes; on a terminal,
 * control characters but newlines and tabs are shown as '?' (a host's
 * bytes do not drive the terminal).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "builtin.h"
#include "follow.h"
#include "json.h"
#include "logs.h"
#include "report.h"
#include "api.h"
#include "xalloc.h"

static const char usage_str[] =
    "usage: leura logs [--json] [--etcd URL[,URL...]] HOST [STEP]\n"
    "       leura logs [--server URL] [--host H] [--step S] "
    "[--follow] RUN\n"
    "       leura logs [--server URL] --deploy N --host H\n"
    "       leura logs [--server URL] [--json] --retention\n";

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

/* ---- through leurad ---- */

struct out_ctx {
	bool	 tty;
};

static int
to_stdout(const void *p, size_t n, void *arg)
{
	struct out_ctx *o = arg;
	const unsigned char *b = p;
	char buf[4096];
	size_t i, k = 0;

	if (!o->tty)
		return fwrite(p, 1, n, stdout) == n && fflush(stdout) == 0 ?
		    0 : -1;
	for (i = 0; i < n; i++) {
		buf[k++] = (b[i] < 0x20 && b[i] != '\n' && b[i] != '\t') ||
		    b[i] == 0x7f ? '?' : (char)b[i];
		if (k == sizeof(buf)) {
			if (fwrite(buf, 1, k, stdout) != k)
				return -1;
			k = 0;
		}
	}
	if (k > 0 && fwrite(buf, 1, k, stdout) != k)
		return -1;
	return fflush(stdout) == 0 ? 0 : -1;
}

static int
stream(struct remote *r, const char *path)
{
	struct out_ctx o = { isatty(STDOUT_FILENO) == 1 };
	struct lr_err err;

	lr_err_clear(&err);
	if (rec_api_stream(r->api, path, to_stdout, &o, NULL, &err) < 0) {
		if (err.code == LR_ECANCELED)	/* stdout closed */
			return LR_EXIT_OK;
		fflush(stdout);
		cmd_remote_error(&err);
		return LR_EXIT_FAIL;
	}
	return LR_EXIT_OK;
}

static int
run_logs(struct remote *r, const char *run, const char *host, int step,
    bool follow)
{
	char *path, sb[16];
	int rc;

	path = rec_api_path(r->api, "/v1/runs/%s/logs", run);
	rec_api_query_add(r->api, &path, "host", host);
	if (step >= 0) {
		snprintf(sb, sizeof(sb), "%d", step);
		rec_api_query_add(r->api, &path, "step", sb);
	}
	if (follow)
		rec_api_query_add(r->api, &path, "follow", "1");
	rc = stream(r, path);
	free(path);
	return rc;
}

int
cmd_logs_follow(struct lr_ctx *ctx, const char *run, const char *host,
    int step)
{
	struct remote r;
	int rc;

	if ((rc = cmd_remote_open(&r, ctx, 0)) != 0)
		return rc;
	rc = run_logs(&r, run, host, step, true);
	cmd_remote_release(&r);
	return rc;
}

static void
print_retention(const json_t *o)
{
	const json_t *p = json_object_get(o, "policy");
	const json_t *u = json_object_get(o, "usage");
	const json_t *w = json_object_get(o, "would_delete"), *x;
	size_t i;

	printf("Policy:  keep %s seconds at most, %s bytes at most\n",
	    cmd_field(p, "retention_seconds"), cmd_field(p, "max_bytes"));
	printf("Usage:   %s bytes in %s archives (%s runs), the oldest %s "
	    "seconds old\n", cmd_field(u, "bytes"), cmd_field(u, "archives"),
	    cmd_field(u, "runs"), cmd_field(u, "oldest_seconds"));
	if (json_array_size(w) == 0) {
		printf("Nothing to delete now.\n");
		return;
	}
	printf("Would delete now (%zu):\n", json_array_size(w));
	json_array_foreach(w, i, x)
		printf("  %-28s %12s bytes  %s  (%s)\n", cmd_field(x, "run"),
		    cmd_field(x, "bytes"), cmd_field(x, "time"),
		    cmd_field(x, "reason"));
}

struct remote_opts {
	const char	*host, *deploy;
	int		 step;
	bool		 follow, retention, json;
};

static int
logs_remote(struct lr_ctx *ctx, const struct remote_opts *o,
    const char *run)
{
	struct remote r;
	json_t *ans = NULL;
	char *path;
	int rc;

	if ((rc = cmd_remote_open(&r, ctx, 0)) != 0)
		return rc;
	if (o->retention) {
		if ((rc = cmd_remote_call(&r, "GET", "/v1/logs/retention",
		    NULL, &ans)) == 0) {
			if (o->json)
				cmd_print_json(ans);
			else
				print_retention(ans);
		}
		json_decref(ans);
	} else if (o->deploy != NULL) {
		path = rec_api_path(r.api, "/v1/deploys/%s/logs", o->deploy);
		rec_api_query_add(r.api, &path, "host", o->host);
		rc = stream(&r, path);
		free(path);
	} else
		rc = run_logs(&r, run, o->host, o->step, o->follow);
	cmd_remote_release(&r);
	return rc;
}

enum {
	OPT_JSON = CMD_OPT_BASE, OPT_HOST, OPT_STEP, OPT_FOLLOW, OPT_DEPLOY,
	OPT_RETENTION
};

int
cmd_logs(int argc, char **argv, struct lr_ctx *ctx)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, OPT_JSON },
		{ "host", required_argument, NULL, OPT_HOST },
		{ "step", required_argument, NULL, OPT_STEP },
		{ "follow", no_argument, NULL, OPT_FOLLOW },
		{ "deploy", required_argument, NULL, OPT_DEPLOY },
		{ "retention", no_argument, NULL, OPT_RETENTION },
		CONN_LONGOPTS,
		SERVER_LONGOPT,
		CMD_HELP_LONGOPT,
		{ NULL, 0, NULL, 0 }
	};
	struct conn c = { 0 };
	struct lr_err err;
	json_t *res = NULL, *steps = NULL, *out;
	const char *args[2] = { NULL, NULL };
	struct remote_opts ro = { .step = -1 };
	size_t nargs = 0;
	bool json = false, remote;
	char *end;
	long v;
	int i, rc = LR_EXIT_FAIL;

	while ((i = getopt_long(argc, argv, "+:hf", longopts, NULL)) != -1) {
		switch (i) {
		case OPT_JSON: json = true; break;
		case OPT_HOST: ro.host = optarg; break;
		case OPT_FOLLOW: case 'f': ro.follow = true; break;
		case OPT_DEPLOY: ro.deploy = optarg; break;
		case OPT_RETENTION: ro.retention = true; break;
		case OPT_STEP:
			v = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || v < 0 ||
			    v > 9999) {
				fprintf(stderr, "%s: error: --step wants a "
				    "step's index in the run (0, 1, ...), not "
				    "'%s'\n", ctx->progname, optarg);
				return LR_EXIT_USAGE;
			}
			ro.step = (int)v;
			break;
		default:
			if (!conn_getopt(i, optarg, ctx))
				return cmd_bad_option(i, argv, usage_str);
		}
	}
	ro.json = json;
	remote = ro.retention || ro.deploy != NULL ||
	    (optind < argc && strchr(argv[optind], '@') != NULL);
	if (remote) {
		if ((ro.retention && (ro.deploy != NULL || optind < argc)) ||
		    (ro.deploy != NULL && (optind < argc || ro.host == NULL ||
		    ro.step >= 0 || ro.follow)) ||
		    (!ro.retention && ro.deploy == NULL &&
		    optind + 1 != argc)) {
			fprintf(stderr, "%s: error: %s\n%s", ctx->progname,
			    ro.retention ? "--retention takes no run nor "
			    "--deploy" : ro.deploy != NULL ? "--deploy N "
			    "takes --host H, and no run" : "one run id, after "
			    "--host, --step, --follow", usage_str);
			return LR_EXIT_USAGE;
		}
		return logs_remote(ctx, &ro, argv[optind]);
	}
	if (ro.host != NULL || ro.step >= 0 || ro.follow) {
		fprintf(stderr, "%s: error: --host, --step and --follow go "
		    "with a run id (RUN holds '@': 'leura runs' lists them)\n"
		    "%s", ctx->progname, usage_str);
		return LR_EXIT_USAGE;
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
