/*
 * eplan: plan against the cluster (eplan.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diff.h"
#include "eplan.h"
#include "planout.h"
#include "xalloc.h"

/*
 * The applied side as the diff needs it: for placement, every host;
 * unchanged hosts have the same document on both sides, so the compiled
 * ones stand in for them.
 */
static void
build_sides(struct eplan *p, const struct rec_compiled *applied)
{
	json_t *all = json_object(), *v;
	const char *h;
	size_t i;

	json_object_update(all, p->to.comp.desired);
	json_array_foreach(json_object_get(p->changes, "changed"), i, v) {
		h = json_string_value(v);
		json_object_del(all, h);
		json_object_set(p->to_sub.desired, h, json_object_get(
		    p->to.comp.desired, h));
	}
	json_object_foreach(applied->desired, h, v) {
		json_object_set(all, h, v);
		json_object_set(p->from_sub.desired, h, v);
	}
	p->from_sub.placement = rec_placement_of(all);
	p->to_sub.placement = json_incref(p->to.comp.placement);
	p->to_sub.files = json_incref(p->to.comp.files);
	json_decref(all);
}

int
eplan_open(struct eplan *p, struct lr_ctx *ctx)
{
	struct lr_err err;

	memset(p, 0, sizeof(*p));
	lr_err_clear(&err);
	if (conn_open(&p->conn, ctx) != 0)
		return LR_EXIT_FAIL;
	if (rec_applied_load(p->conn.etcd, p->conn.prefix, &p->applied,
	    &err) < 0) {
		lr_err_print(&err);
		return LR_EXIT_FAIL;
	}
	if (p->applied.head)
		p->from_label = lr_xasprintf("deploy #%lld (commit %.12s)",
		    (long long)json_integer_value(json_object_get(
		    p->applied.head, "deploy")), json_string_value(
		    json_object_get(p->applied.head, "commit")));
	else
		p->from_label = lr_xstrdup("nothing applied yet");
	return 0;
}

int
eplan_compile(struct eplan *p, struct lr_ctx *ctx, const char *ref)
{
	if (specload_cmd(&p->to, ctx, ref, REC_COMPILE_DESIRED) != 0)
		return LR_EXIT_FAIL;
	p->docs = rec_docs_build(p->to.repo, &p->to.comp);
	p->changes = rec_docs_changes(p->docs, &p->applied);
	p->nchanged = json_array_size(json_object_get(p->changes, "changed")) +
	    json_array_size(json_object_get(p->changes, "removed"));
	return 0;
}

int
eplan_diff(struct eplan *p)
{
	struct rec_compiled applied = { 0 };
	struct lr_err err;
	json_t *want, *v;
	size_t i;
	int rc = LR_EXIT_FAIL;

	lr_err_clear(&err);
	want = json_array();
	json_array_foreach(json_object_get(p->changes, "changed"), i, v)
		if (json_object_get(p->applied.hosts, json_string_value(v)))
			json_array_append(want, v);
	json_array_foreach(json_object_get(p->changes, "removed"), i, v)
		json_array_append(want, v);
	if (rec_applied_docs(p->conn.etcd, &p->applied, want, &applied,
	    &err) < 0) {
		lr_err_print(&err);
		goto out;
	}
	p->from_sub.desired = json_object();
	p->from_sub.files = json_incref(applied.files);
	p->to_sub.desired = json_object();
	build_sides(p, &applied);
	p->diff = rec_diff(&p->from_sub, &p->to_sub);
	rc = 0;
out:
	json_decref(want);
	rec_compiled_release(&applied);
	return rc;
}

/*
 * Documents to write with no step or placement change: a host with no
 * services yet, or a change of service dependencies (which the agents'
 * rollout order reads).
 */
static void
print_rewrites(const struct eplan *p)
{
	json_t *v;
	size_t i;

	printf("leura plan: %s -> %s\n\nNo step changes; the documents of "
	    "%zu host%s change (a host without services, or service "
	    "dependencies) and an apply writes them:\n", p->from_label,
	    p->to.label, p->nchanged, p->nchanged == 1 ? "" : "s");
	json_array_foreach(json_object_get(p->changes, "changed"), i, v)
		printf("  ~ %s\n", json_string_value(v));
	json_array_foreach(json_object_get(p->changes, "removed"), i, v)
		printf("  - %s (removed from the inventory)\n",
		    json_string_value(v));
}

void
eplan_print(struct eplan *p, bool show_diff)
{
	struct lr_err err;
	json_t *shas;

	lr_err_clear(&err);
	if (show_diff) {
		shas = plan_file_hashes(p->diff);
		if (rec_applied_files(p->conn.etcd, &p->applied, shas,
		    &p->from_sub, &err) < 0) {
			/* the plan stands without the old contents */
			fprintf(stderr, "leura: warning: cannot read applied "
			    "file contents: %s\n", err.msg);
		}
		json_decref(shas);
	}
	if (json_integer_value(json_object_get(p->diff, "changes")) == 0 &&
	    p->nchanged) {
		print_rewrites(p);
		return;
	}
	plan_print(p->diff, p->from_label, p->to.label, &p->from_sub,
	    &p->to_sub, show_diff);
}

void
eplan_release(struct eplan *p)
{
	json_decref(p->docs);
	json_decref(p->changes);
	json_decref(p->diff);
	rec_compiled_release(&p->from_sub);
	rec_compiled_release(&p->to_sub);
	free(p->from_label);
	rec_applied_release(&p->applied);
	conn_release(&p->conn);
	specload_release(&p->to);
	memset(p, 0, sizeof(*p));
}
