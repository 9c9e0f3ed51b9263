/*
 * leura plan: what an apply would change.  By default the specs (working
 * tree, or --ref) against what is applied in etcd, plus the hosts whose
 * agents report something other than converged, listed apart; with
 * --from REF against another commit, offline.  Services whose placement
 * moves, and per host the steps added, changed and removed.  This is what
 * a CI job runs on a pull request (--detailed-exitcode: 0 no change, 2
 * changes, 1 error); only what an apply would write counts as a change.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "builtin.h"
#include "deploy.h"
#include "diff.h"
#include "fields.h"
#include "planout.h"

static const char usage_str[] =
    "usage: leura plan [--from REF] [--ref REF] [--json] "
    "[--detailed-exitcode] [--no-diff] [--etcd URL[,URL...]]\n";

/* Hosts whose state is not converged: {host: {"state","reason"}}. */
static json_t *
unconverged(struct rec_plan *p, const struct conn *c)
{
	json_t *observed = NULL, *agents = NULL, *st, *out, *v;
	struct lr_err err;
	const char *h;

	lr_err_clear(&err);
	if (rec_observed_load(c->etcd, c->prefix, &observed, &agents,
	    &err) < 0) {
		fprintf(stderr, "leura: warning: cannot read the agents' "
		    "reports: %s\n", err.msg);
		return json_object();
	}
	/* host states need only each document's generation */
	st = rec_status(p->applied.hosts, observed, agents,
	    (int64_t)time(NULL));
	out = json_object();
	json_object_foreach(json_object_get(st, "hosts"), h, v)
		if (strcmp(json_string_value(json_object_get(v, "state")),
		    "converged") != 0)
			json_object_set_new(out, h, json_pack("{s:O, s:O*}",
			    "state", json_object_get(v, "state"), "reason",
			    json_object_get(v, "reason")));
	json_decref(st);
	json_decref(observed);
	json_decref(agents);
	return out;
}

static int
plan_etcd(struct lr_ctx *ctx, const char *ref, bool json, bool detailed,
    bool show_diff)
{
	struct rec_plan p = { 0 };
	struct conn c;
	struct lr_err err;
	json_t *unc = NULL, *v;
	const char *h;
	int k, rc = LR_EXIT_FAIL;

	lr_err_clear(&err);
	spec_diags_init(&p.to.diags);
	if (conn_open(&c, ctx) != 0 ||
	    rec_plan_open(&p, c.etcd, c.prefix, &err) < 0) {
		if (err.code)
			lr_err_print(&err);
		fprintf(stderr, "hint: 'leura plan --from REF' compares two "
		    "commits without etcd\n");
		goto out;
	}
	if ((k = rec_plan_compile(&p, ctx->repo_dir, NULL, ref, &err)) < 0) {
		cmd_print_load_error(&p.to, k, &err, 20);
		goto out;
	}
	if (rec_plan_diff(&p, &err) < 0) {
		lr_err_print(&err);
		goto out;
	}
	unc = unconverged(&p, &c);
	if (json) {
		json_object_set_new(p.diff, "from", json_pack("{s:s, s:O?, "
		    "s:O?, s:I}", "source", p.from_label, "commit",
		    json_object_get(p.applied.head, PROTO_HEAD_COMMIT),
		    "deploy", json_object_get(p.applied.head,
		    PROTO_HEAD_DEPLOY), "revision",
		    (json_int_t)p.applied.head_rev));
		json_object_set_new(p.diff, "to", json_pack("{s:s, s:s?}",
		    "source", p.to.label, "commit", p.to.commit));
		json_object_set_new(p.diff, "writes", json_integer(
		    (json_int_t)p.nchanged));
		json_object_set(p.diff, "not_converged", unc);
		cmd_print_json(p.diff);
	} else {
		if (show_diff && rec_plan_files(&p, &err) < 0) {
			/* the plan stands without the old contents */
			fprintf(stderr, "leura: warning: cannot read applied "
			    "file contents: %s\n", err.msg);
		}
		cmd_plan_print(&p, show_diff);
		if (json_object_size(unc)) {
			printf("\nNot converged (reported by the agents; an "
			    "apply does not change this):\n");
			json_object_foreach(unc, h, v)
				printf("  %s: %s: %s\n", h, json_string_value(
				    json_object_get(v, "state")),
				    json_string_value(json_object_get(v,
				    "reason")));
		}
	}
	rc = detailed && p.nchanged ? LR_EXIT_CHANGES : LR_EXIT_OK;
out:
	json_decref(unc);
	rec_plan_release(&p);
	conn_release(&c);
	return rc;
}

static int
load(struct rec_load *sl, const struct lr_ctx *ctx, const char *ref,
    const char *what)
{
	if (cmd_load(sl, ctx, ref, REC_COMPILE_DESIRED) == 0)
		return 0;
	if (sl->diags.nerrors)
		fprintf(stderr, "hint: the %s side of the plan (%s) has errors; "
		    "fix them first\n", what, sl->label ? sl->label : "?");
	return -1;
}

enum {
	OPT_REF = CMD_OPT_BASE, OPT_FROM, OPT_JSON, OPT_DETAILED, OPT_NO_DIFF
};

int
cmd_plan(int argc, char **argv, struct lr_ctx *ctx)
{
	static const struct option longopts[] = {
		{ "ref", required_argument, NULL, OPT_REF },
		{ "from", required_argument, NULL, OPT_FROM },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "detailed-exitcode", no_argument, NULL, OPT_DETAILED },
		{ "no-diff", no_argument, NULL, OPT_NO_DIFF },
		CONN_LONGOPTS,
		CMD_HELP_LONGOPT,
		{ NULL, 0, NULL, 0 }
	};
	struct rec_load from, to;
	const char *ref = NULL, *fromref = NULL;
	bool json = false, detailed = false, show_diff = true;
	json_t *d;
	int c, rc = LR_EXIT_FAIL;
	json_int_t changes;

	while ((c = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_REF: ref = optarg; break;
		case OPT_FROM: fromref = optarg; break;
		case OPT_JSON: json = true; break;
		case OPT_DETAILED: detailed = true; break;
		case OPT_NO_DIFF: show_diff = false; break;
		default:
			if (!conn_getopt(c, optarg, ctx))
				return cmd_bad_option(c, argv, usage_str);
		}
	}
	if ((rc = cmd_no_args(argc, argv, usage_str)) != 0)
		return rc;
	rc = LR_EXIT_FAIL;
	if (fromref == NULL)
		return plan_etcd(ctx, ref, json, detailed, show_diff);
	memset(&to, 0, sizeof(to));
	spec_diags_init(&to.diags);
	if (load(&from, ctx, fromref, "--from") < 0 ||
	    load(&to, ctx, ref, ref ? "--ref" : "working tree") < 0)
		goto out;
	d = rec_diff(&from.comp, &to.comp);
	changes = json_integer_value(json_object_get(d, "changes"));
	if (json) {
		json_object_set_new(d, "from", json_pack("{s:s, s:s?}", "source",
		    from.label, "commit", from.commit));
		json_object_set_new(d, "to", json_pack("{s:s, s:s?}", "source",
		    to.label, "commit", to.commit));
		cmd_print_json(d);
	} else {
		plan_print(d, from.label, to.label, &from.comp, &to.comp, show_diff);
	}
	json_decref(d);
	rc = detailed && changes ? LR_EXIT_CHANGES : LR_EXIT_OK;
out:
	rec_load_release(&from);
	rec_load_release(&to);
	return rc;
}
