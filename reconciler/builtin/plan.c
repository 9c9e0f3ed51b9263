/*
 * leura plan: what an apply would change.  By default the specs (working
 * tree, or --ref) against what is applied in etcd, plus the hosts whose
 * agents report something other than converged, listed apart; with
 * --from REF against another commit, offline.  Services whose placement
 * moves, and per host the steps added, changed and removed.  This is what
 * a CI job runs on a pull request (--detailed-exitcode: 0 no change, 2
 * changes, 1 error); only what an apply would write counts as a change.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "diff.h"
#include "eplan.h"
#include "planout.h"
#include "specload.h"

static const char usage_str[] =
    "usage: leura plan [--from REF] [--ref REF] [--json] "
    "[--detailed-exitcode] [--no-diff] [--etcd URL[,URL...]]\n";

/* Hosts whose state is not converged: {host: {"state","reason"}}. */
static json_t *
unconverged(struct eplan *p)
{
	json_t *observed = NULL, *agents = NULL, *st, *out, *v;
	struct lr_err err;
	const char *h;

	lr_err_clear(&err);
	if (rec_observed_load(p->conn.etcd, p->conn.prefix, &observed, &agents,
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
	struct eplan p;
	json_t *unc, *v;
	const char *h;
	int rc;

	if (eplan_open(&p, ctx) != 0) {
		fprintf(stderr, "hint: 'leura plan --from REF' compares two "
		    "commits without etcd\n");
		eplan_release(&p);
		return LR_EXIT_FAIL;
	}
	if (eplan_compile(&p, ctx, ref) != 0 || eplan_diff(&p) != 0) {
		eplan_release(&p);
		return LR_EXIT_FAIL;
	}
	unc = unconverged(&p);
	if (json) {
		json_object_set_new(p.diff, "from", json_pack("{s:s, s:O?, "
		    "s:O?, s:I}", "source", p.from_label, "commit",
		    json_object_get(p.applied.head, "commit"), "deploy",
		    json_object_get(p.applied.head, "deploy"), "revision",
		    (json_int_t)p.applied.head_rev));
		json_object_set_new(p.diff, "to", json_pack("{s:s, s:s?}",
		    "source", p.to.label, "commit", p.to.commit));
		json_object_set_new(p.diff, "writes", json_integer(
		    (json_int_t)p.nchanged));
		json_object_set(p.diff, "not_converged", unc);
		cmd_print_json(p.diff);
	} else {
		eplan_print(&p, show_diff);
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
	json_decref(unc);
	eplan_release(&p);
	return rc;
}

static int
load(struct specload *sl, const struct lr_ctx *ctx, const char *ref,
    const char *what)
{
	if (specload_cmd(sl, ctx, ref, REC_COMPILE_DESIRED) == 0)
		return 0;
	if (sl->diags.nerrors)
		fprintf(stderr, "hint: the %s side of the plan (%s) has errors; "
		    "fix them first\n", what, sl->label ? sl->label : "?");
	return -1;
}

int
cmd_plan(int argc, char **argv, struct lr_ctx *ctx)
{
	struct specload from, to;
	const char *ref = NULL, *fromref = NULL, *v;
	bool json = false, detailed = false, show_diff = true;
	json_t *d;
	int i, rc = LR_EXIT_FAIL;
	json_int_t changes;

	for (i = 1; i < argc; i++) {
		if ((v = opt_value(argc, argv, &i, "--ref")) != NULL)
			ref = v;
		else if ((v = opt_value(argc, argv, &i, "--from")) != NULL)
			fromref = v;
		else if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if (strcmp(argv[i], "--detailed-exitcode") == 0)
			detailed = true;
		else if (strcmp(argv[i], "--no-diff") == 0)
			show_diff = false;
		else if (conn_opt(argc, argv, &i, ctx))
			continue;
		else
			return cmd_help_or_bad(argv[i], usage_str);
	}
	if (fromref == NULL)
		return plan_etcd(ctx, ref, json, detailed, show_diff);
	memset(&to, 0, sizeof(to));
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
	specload_release(&from);
	specload_release(&to);
	return rc;
}
