/*
 * Tasks (tasks/<t>.yml): YAML nodes -> struct spec_task, and the check of
 * their targets against services, hosts and groups.
 *
 * A task's steps are read by load_roles.c (spec_load_task_steps()), like a
 * role's, so steps have one reader; this file reads what is a task's own:
 * targets, run_as, schedule (its shape only: cron/at syntax is the
 * reconciler's), parallel, params and timeout.  Targets are checked in
 * spec_check_roles(), once every list is loaded and sorted.
 *
 * Design rule: one mistake, one diagnostic, as in load_roles.c.  A task
 * defined twice is still checked, then dropped.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "spec-int.h"
#include "suggest.h"
#include "xalloc.h"

static const char *const task_keys[] = {
	"description", "targets", "run_as", "schedule", "parallel", "params",
	"timeout", "steps", NULL
};
static const char *const target_keys[] = {
	"services", "hosts", "groups", NULL
};
static const char *const schedule_keys[] = { "cron", "at", NULL };

static bool
has_diag_for(const struct spec_diags *diags, const char *path)
{
	size_t i;

	for (i = 0; i < diags->n; i++)
		if (strcmp(diags->v[i].path, path) == 0)
			return true;
	return false;
}

static void
load_targets(struct spec_task *t, const struct spec_node *v,
    const char *owner, struct spec_diags *diags)
{
	struct {
		const char *key;
		struct spec_ref **refs;
		size_t *n;
	} tl[] = {
		{ "services", &t->t_services, &t->nt_services },
		{ "hosts", &t->t_hosts, &t->nt_hosts },
		{ "groups", &t->t_groups, &t->nt_groups },
	};
	const struct spec_node *l;
	size_t i, nerr = diags->nerrors;
	char *what;

	what = lr_xasprintf("'targets' of %s", owner);
	if (!spec_check_map(diags, v, what, target_keys, "TASKS")) {
		free(what);
		return;
	}
	for (i = 0; i < 3; i++) {
		char *w;

		if ((l = spec_opt(v, tl[i].key)) == NULL)
			continue;
		w = lr_xasprintf("'%s' in %s", tl[i].key, what);
		spec_get_refs(diags, l, w, tl[i].refs, tl[i].n);
		free(w);
	}
	if (diags->nerrors == nerr && t->nt_services + t->nt_hosts +
	    t->nt_groups == 0)
		spec_diag_hint(spec_diag_at(diags, v, "%s names no services, "
		    "hosts or groups", what), "say where the task runs, e.g. "
		    "targets: {services: [web]} or targets: {groups: [all]}");
	free(what);
}

static void
load_schedule(struct spec_task *t, const struct spec_node *v,
    const char *owner, struct spec_diags *diags)
{
	const struct spec_node *cron, *at, *k;
	char *what;

	what = lr_xasprintf("'schedule' of %s", owner);
	if (!spec_check_map(diags, v, what, schedule_keys, "TASKS")) {
		free(what);
		return;
	}
	cron = spec_opt(v, "cron");
	at = spec_opt(v, "at");
	if (cron && at) {
		k = spec_later_key(v, "cron", "at");
		spec_diag_hint(spec_diag_at(diags, k, "%s has both 'cron' and "
		    "'at'", what), "use cron for a repeating schedule or at "
		    "for a single run, not both");
	} else if (cron == NULL && at == NULL) {
		spec_diag_hint(spec_diag_at(diags, v, "%s needs 'cron' or "
		    "'at'", what), "write schedule: {cron: \"0 3 * * *\"} or "
		    "{at: \"2026-12-01T03:00:00Z\"}, or remove 'schedule' to "
		    "run the task on demand only");
	} else if (cron) {
		free(what);
		what = lr_xasprintf("'cron' of %s", owner);
		if (spec_dup_str(diags, cron, what, &t->cron) == 0)
			t->cron_node = cron;
	} else {
		free(what);
		what = lr_xasprintf("'at' of %s", owner);
		if (spec_dup_str(diags, at, what, &t->at) == 0)
			t->at_node = at;
	}
	free(what);
}

void
spec_load_task(struct spec_repo *repo, const char *name, const char *path,
    const struct spec_node *root, struct spec_diags *diags)
{
	struct spec_task task, *t = &task;
	const struct spec_node *v;
	char *owner, *what;
	int64_t iv;
	size_t i;
	bool dup = false;

	for (i = 0; i < repo->ntasks && !dup; i++) {
		if (strcmp(repo->tasks[i].name, name) != 0)
			continue;
		/* still checked below, then dropped */
		spec_diag_hint(spec_diag_pos(diags, NULL, path, 0, 0, 1,
		    "task '%s' is defined twice, in %s and %s", name,
		    repo->tasks[i].path, path), "rename or remove one of the "
		    "two files");
		dup = true;
	}
	if (!spec_name_valid(name))
		spec_diag_hint(spec_diag_pos(diags, NULL, path, 0, 0, 1,
		    "invalid task name '%s'", name), "rename %s: task names "
		    "use letters, digits, '.', '-' and '_'", path);
	if (root == NULL) {
		/* a syntax error was reported already; an empty file not */
		if (!has_diag_for(diags, path))
			spec_diag_hint(spec_diag_pos(diags, NULL, path, 0, 0,
			    1, "task file '%s' is empty", path), "a task needs "
			    "targets and steps, see leura-spec(5), TASKS");
		return;
	}
	owner = lr_xasprintf("task '%s'", name);
	if (!spec_check_map(diags, root, owner, task_keys, "TASKS")) {
		free(owner);
		return;
	}
	memset(t, 0, sizeof(*t));
	t->timeout_ms = -1;
	t->name = lr_xstrdup(name);
	t->path = lr_xstrdup(path);
	t->node = root;

	if ((v = spec_opt(root, "description")) != NULL) {
		what = lr_xasprintf("'description' of %s", owner);
		spec_dup_str(diags, v, what, &t->description);
		free(what);
	}
	if ((v = spec_require(diags, root, "targets", owner)) != NULL)
		load_targets(t, v, owner, diags);
	if ((v = spec_opt(root, "run_as")) != NULL) {
		what = lr_xasprintf("'run_as' of %s", owner);
		spec_dup_str(diags, v, what, &t->run_as);
		free(what);
	}
	if ((v = spec_opt(root, "schedule")) != NULL)
		load_schedule(t, v, owner, diags);
	if ((v = spec_opt(root, "parallel")) != NULL) {
		what = lr_xasprintf("'parallel' of %s", owner);
		if (spec_get_int(diags, v, what, 0, INT_MAX, &iv) == 0)
			t->parallel = (int)iv;
		free(what);
	}
	what = lr_xasprintf("'params' of %s", owner);
	if ((t->params = spec_get_object(diags, spec_node_get(root, "params"),
	    what, "TASKS")) == NULL)
		t->params = json_object();
	free(what);
	if ((v = spec_opt(root, "timeout")) != NULL) {
		what = lr_xasprintf("'timeout' of %s", owner);
		if (spec_get_duration(diags, v, what, &iv) < 0)
			;
		else if (iv > 0)
			t->timeout_ms = iv;
		else
			spec_diag_hint(spec_diag_at(diags, v, "%s must be "
			    "longer than 0", what), "remove it to let the run "
			    "take as long as its steps, or give a duration "
			    "such as 1h");
		free(what);
	}
	if ((v = spec_require(diags, root, "steps", owner)) != NULL) {
		if (spec_node_is_null(v) || (v->kind == SPEC_NODE_SEQ &&
		    v->n == 0)) {
			spec_diag_hint(spec_diag_at(diags, v, "%s has no steps",
			    owner), "add at least one step under 'steps:', see "
			    "leura-spec(5), STEPS");
		} else {
			spec_load_task_steps(repo, name, v, &t->steps,
			    &t->nsteps, diags);
		}
	}
	free(owner);
	if (dup) {
		spec_task_release(t);
		return;
	}
	*SPEC_PUSH(repo->tasks, repo->ntasks) = task;
}

/* ---- cross-references ---- */

static void
check_refs(const struct spec_ref *refs, size_t n, const char *kind,
    const char *from, const char *const *names, size_t nnames,
    const char *where, struct spec_diags *diags)
{
	struct spec_diag *dg;
	const char *sug;
	size_t i, j;

	for (i = 0; i < n; i++) {
		for (j = 0; j < nnames; j++)
			if (strcmp(refs[i].name, names[j]) == 0)
				break;
		if (j < nnames)
			continue;
		dg = spec_diag_at(diags, refs[i].node, "unknown %s '%s' in "
		    "targets of %s", kind, refs[i].name, from);
		if ((sug = lr_suggest(refs[i].name, names, nnames)) != NULL)
			spec_diag_hint(dg, "did you mean '%s'? %ss %s", sug,
			    kind, where);
		else
			spec_diag_hint(dg, "%ss %s", kind, where);
	}
}

void
spec_check_roles(struct spec_repo *repo, struct spec_diags *diags)
{
	const char **svcs, **hosts, **groups;
	size_t i, ngroups = 0;
	char *from;
	bool all = false;

	svcs = lr_xmalloc((repo->nservices + 1) * sizeof(*svcs));
	hosts = lr_xmalloc((repo->nhosts + 1) * sizeof(*hosts));
	groups = lr_xmalloc((repo->ngroups + 1) * sizeof(*groups));
	for (i = 0; i < repo->nservices; i++)
		svcs[i] = repo->services[i].name;
	for (i = 0; i < repo->nhosts; i++)
		hosts[i] = repo->hosts[i].name;
	for (i = 0; i < repo->ngroups; i++) {
		groups[ngroups++] = repo->groups[i].name;
		all = all || strcmp(repo->groups[i].name, "all") == 0;
	}
	if (!all)
		groups[ngroups++] = "all";	/* implicit: every host */
	for (i = 0; i < repo->ntasks; i++) {
		const struct spec_task *t = &repo->tasks[i];

		from = lr_xasprintf("task '%s'", t->name);
		check_refs(t->t_services, t->nt_services, "service", from,
		    svcs, repo->nservices, "are defined in services.yml",
		    diags);
		check_refs(t->t_hosts, t->nt_hosts, "host", from, hosts,
		    repo->nhosts, "come from inventory/*.yml", diags);
		check_refs(t->t_groups, t->nt_groups, "group", from, groups,
		    ngroups, "come from inventory/*.yml", diags);
		free(from);
	}
	free(svcs);
	free(hosts);
	free(groups);
}


/* ---- release ---- */

void
spec_task_release(struct spec_task *t)
{
	if (t == NULL)
		return;
	free(t->name);
	free(t->path);
	free(t->description);
	spec_refs_free(t->t_services, t->nt_services);
	spec_refs_free(t->t_hosts, t->nt_hosts);
	spec_refs_free(t->t_groups, t->nt_groups);
	free(t->run_as);
	free(t->cron);
	free(t->at);
	json_decref(t->params);
	spec_steps_free(t->steps, t->nsteps);
	memset(t, 0, sizeof(*t));
}
