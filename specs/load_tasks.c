/*
 * Tasks (tasks/<t>.yml): YAML nodes -> struct spec_task, and the check of
 * their targets against services, hosts and groups.
 *
 * A task's steps are read by load_roles.c (spec_load_task_steps()), like a
 * role's, so steps have one reader; this file reads what is a task's own:
 * targets, run_as, schedule (its shape and time zone: cron/at syntax is
 * the reconciler's), parallel, declared params (each default and allowed
 * value of its declared type), timeout, on_failure, dedupe_window and
 * self_approval.  Targets are checked in spec_check_roles(), once every
 * list is loaded and sorted.
 *
 * Design rule: one mistake, one diagnostic, as in load_roles.c.  A task
 * defined twice is still checked, then dropped.
 */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "spec-int.h"
#include "suggest.h"
#include "xalloc.h"

static const char *const task_keys[] = {
	"description", "targets", "run_as", "schedule", "parallel", "params",
	"timeout", "on_failure", "dedupe_window", "self_approval", "steps",
	NULL
};
static const char *const target_keys[] = {
	"services", "hosts", "groups", NULL
};
static const char *const schedule_keys[] = {
	"cron", "at", "timezone", "overlap", "misfire", "starting_deadline",
	NULL
};
static const char *const param_keys[] = {
	"type", "default", "required", "values", "description", NULL
};
/* in the order of the enums of spec.h */
static const char *const param_types[] = {
	"string", "integer", "number", "boolean"
};
/* what a task or step may say: SPEC_ON_FAILURE_STOP + index */
static const char *const on_failure_words[] = { "stop", "continue" };
static const char *const overlap_words[] = { "forbid", "allow", "replace" };
static const char *const misfire_words[] = { "skip", "run_once" };

#define NWORDS(a)	(sizeof(a) / sizeof(*(a)))
#define DEDUPE_DEFAULT_MS	(15 * 60 * 1000)
#define STARTING_DEADLINE_MS	(10 * 60 * 1000)

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
load_timezone(struct spec_task *t, const struct spec_node *v,
    const char *owner, struct spec_diags *diags)
{
	struct spec_diag *dg;
	char why[256], *what, *sug;
	const char *s;
	int rc;

	what = lr_xasprintf("'timezone' of the schedule of %s", owner);
	if (spec_get_str(diags, v, what, &s) < 0)
		goto out;
	if ((rc = spec_zone_check(s, why, sizeof(why))) == 0) {
		t->timezone = lr_xstrdup(s);
		t->timezone_node = v;
		goto out;
	}
	dg = spec_diag_at(diags, v, "unknown time zone '%s' in %s: %s", s,
	    what, why);
	if (rc == -2)
		spec_diag_hint(dg, "install the time zone data (Debian: "
		    "apt-get install tzdata), or set TZDIR to its directory");
	else if ((sug = spec_zone_suggest(s)) != NULL) {
		spec_diag_hint(dg, "did you mean '%s'? zones are IANA names "
		    "such as Europe/Paris or UTC", sug);
		free(sug);
	} else
		spec_diag_hint(dg, "write an IANA zone name such as "
		    "Europe/Paris, America/New_York or UTC (the files under "
		    "/usr/share/zoneinfo)");
out:
	free(what);
}

static void
load_schedule(struct spec_task *t, const struct spec_node *v,
    const char *owner, struct spec_diags *diags)
{
	const struct spec_node *cron, *at, *k;
	char *what;
	int w;

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
	if ((k = spec_opt(v, "timezone")) != NULL)
		load_timezone(t, k, owner, diags);
	if ((k = spec_opt(v, "overlap")) != NULL) {
		what = lr_xasprintf("'overlap' of the schedule of %s", owner);
		if (spec_get_word(diags, k, what, overlap_words,
		    NWORDS(overlap_words), "forbid skips a firing while a "
		    "run of the task is going, allow starts another, replace "
		    "cancels the running one", &w) == 0)
			t->overlap = (enum spec_overlap)w;
		free(what);
	}
	if ((k = spec_opt(v, "misfire")) != NULL) {
		what = lr_xasprintf("'misfire' of the schedule of %s", owner);
		if (spec_get_word(diags, k, what, misfire_words,
		    NWORDS(misfire_words), "skip drops the firings missed "
		    "while leurad was down, run_once runs the task once for "
		    "them", &w) == 0)
			t->misfire = (enum spec_misfire)w;
		free(what);
	}
	if ((k = spec_opt(v, "starting_deadline")) != NULL) {
		int64_t ms;

		what = lr_xasprintf("'starting_deadline' of the schedule of "
		    "%s", owner);
		if (spec_get_duration(diags, k, what, &ms) < 0)
			;
		else if (ms > 0)
			t->starting_deadline_ms = ms;
		else
			spec_diag_hint(spec_diag_at(diags, k, "%s must be "
			    "longer than 0", what), "a firing later than this "
			    "is a misfire; give a duration such as 10m, or "
			    "remove it for the default (10m)");
		free(what);
	}
}

/* ---- declared params ---- */

static bool
param_name_valid(const char *s)
{
	const char *p;

	if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
	    *s == '_'))
		return false;
	for (p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '_'))
			return false;
	return true;
}

/* Equal as param values: 2 and 2.0 are the same number. */
static bool
value_equal(const json_t *a, const json_t *b)
{
	if (json_is_number(a) && json_is_number(b))
		return json_number_value(a) == json_number_value(b);
	return json_equal(a, b);
}

/* The type a value written without a type declares. */
static enum spec_param_type
type_of(const json_t *v)
{
	if (json_is_integer(v))
		return SPEC_PARAM_INTEGER;
	if (json_is_real(v))
		return SPEC_PARAM_NUMBER;
	if (json_is_boolean(v))
		return SPEC_PARAM_BOOLEAN;
	return SPEC_PARAM_STRING;
}

/*
 * A scalar of param p's type from node n as JSON (new reference), or NULL
 * with a diagnostic; role says which value it is ("the default").
 */
static json_t *
typed_value(const struct spec_param *p, const struct spec_node *n,
    const char *role, const char *owner, struct spec_diags *diags)
{
	struct spec_diag *dg;
	json_t *v;

	if (n == NULL || n->kind != SPEC_NODE_SCALAR || spec_node_is_null(n)) {
		spec_diag_hint(spec_diag_at(diags, n, "%s of param '%s' of %s "
		    "must be a %s, not %s", role, p->name, owner,
		    spec_param_type_name(p->type), spec_node_describe(n)),
		    "write one value of the param's type");
		return NULL;
	}
	v = spec_node_to_json(n);
	if (spec_param_type_accepts(p->type, v))
		return v;
	dg = spec_diag_at(diags, n, "%s of param '%s' of %s is %s ('%s'), "
	    "not %s %s", role, p->name, owner, spec_node_describe(n), n->str,
	    p->type == SPEC_PARAM_INTEGER ? "an" : "a",
	    spec_param_type_name(p->type));
	switch (p->type) {
	case SPEC_PARAM_STRING:
		spec_diag_hint(dg, "quote it to make it a string: \"%s\"",
		    n->str);
		break;
	case SPEC_PARAM_BOOLEAN:
		spec_diag_hint(dg, "write true or false, unquoted");
		break;
	default:
		spec_diag_hint(dg, "write a number, unquoted (%s), or change "
		    "the param's type", p->type == SPEC_PARAM_INTEGER ?
		    "e.g. 3" : "e.g. 0.5");
	}
	json_decref(v);
	return NULL;
}

static void
load_param_values(struct spec_param *p, const struct spec_node *v,
    const char *owner, struct spec_diags *diags)
{
	json_t *vals = json_array(), *x;
	size_t i, j, nerr = diags->nerrors;
	char *role;

	if (v->kind != SPEC_NODE_SEQ || v->n == 0) {
		spec_diag_hint(spec_diag_at(diags, v, "'values' of param '%s' "
		    "of %s must be a list of values, not %s", p->name, owner,
		    v->kind == SPEC_NODE_SEQ ? "an empty list" :
		    spec_node_describe(v)), "list what the param may be, e.g. "
		    "values: [eu, us]");
		json_decref(vals);
		return;
	}
	for (i = 0; i < v->n; i++) {
		role = lr_xasprintf("value %zu of 'values'", i + 1);
		x = typed_value(p, v->vals[i], role, owner, diags);
		free(role);
		if (x == NULL)
			continue;
		for (j = 0; j < json_array_size(vals); j++)
			if (value_equal(json_array_get(vals, j), x))
				break;
		if (j < json_array_size(vals)) {
			spec_diag_hint(spec_diag_at(diags, v->vals[i], "'%s' "
			    "is listed twice in 'values' of param '%s' of %s",
			    v->vals[i]->str, p->name, owner), "remove one");
			json_decref(x);
			continue;
		}
		json_array_append_new(vals, x);
	}
	if (diags->nerrors == nerr)
		p->values = vals;
	else
		json_decref(vals);
}

static void
param_release(struct spec_param *p)
{
	free(p->name);
	json_decref(p->def);
	json_decref(p->values);
	free(p->description);
	memset(p, 0, sizeof(*p));
}

/* One param, NAME: V or NAME: {...}; false when it has an error. */
static bool
load_param(struct spec_param *p, const struct spec_node *v,
    const char *owner, struct spec_diags *diags)
{
	const struct spec_node *ty, *df, *rq, *vs, *ds;
	struct spec_diag *dg;
	size_t i, nerr = diags->nerrors;
	const char *sug;
	char *what;
	bool b;

	p->node = v;
	if (v->kind == SPEC_NODE_SCALAR && !spec_node_is_null(v)) {
		/* NAME: V, a default of V's type */
		p->def = spec_node_to_json(v);
		p->type = type_of(p->def);
		return true;
	}
	if (v->kind != SPEC_NODE_MAP) {
		spec_diag_hint(spec_diag_at(diags, v, "param '%s' of %s must "
		    "be a default value or a mapping, not %s", p->name, owner,
		    spec_node_describe(v)), "write '%s: 3' (a default), or "
		    "'%s: {type: string, required: true}', see leura-spec(5), "
		    "TASKS", p->name, p->name);
		return false;
	}
	what = lr_xasprintf("param '%s' of %s", p->name, owner);
	spec_check_map(diags, v, what, param_keys, "TASKS");
	free(what);
	ty = spec_opt(v, "type");
	df = spec_opt(v, "default");
	rq = spec_opt(v, "required");
	vs = spec_opt(v, "values");
	ds = spec_opt(v, "description");
	if (ds != NULL) {
		what = lr_xasprintf("'description' of param '%s' of %s",
		    p->name, owner);
		spec_dup_str(diags, ds, what, &p->description);
		free(what);
	}
	if (ty != NULL) {
		for (i = 0; i < NWORDS(param_types); i++)
			if (spec_node_is_str(ty) &&
			    strcmp(ty->str, param_types[i]) == 0)
				break;
		if (i == NWORDS(param_types)) {
			dg = spec_diag_at(diags, ty, "unknown type '%s' of "
			    "param '%s' of %s", spec_node_is_str(ty) ?
			    ty->str : spec_node_describe(ty), p->name, owner);
			sug = spec_node_is_str(ty) ? lr_suggest(ty->str,
			    param_types, NWORDS(param_types)) : NULL;
			spec_diag_hint(dg, "%s%s%stypes are string, integer, "
			    "number and boolean", sug ? "did you mean '" : "",
			    sug ? sug : "", sug ? "'? " : "");
			return false;
		}
		p->type = (enum spec_param_type)i;
	}
	/* without a type: the default's, else the first value's */
	if (ty == NULL && df != NULL && df->kind == SPEC_NODE_SCALAR &&
	    !spec_node_is_null(df)) {
		json_t *j = spec_node_to_json(df);

		p->type = type_of(j);
		json_decref(j);
	} else if (ty == NULL && vs != NULL && vs->kind == SPEC_NODE_SEQ &&
	    vs->n > 0 && vs->vals[0]->kind == SPEC_NODE_SCALAR) {
		json_t *j = spec_node_to_json(vs->vals[0]);

		p->type = type_of(j);
		json_decref(j);
	}
	if (rq != NULL) {
		what = lr_xasprintf("'required' of param '%s' of %s", p->name,
		    owner);
		if (spec_get_bool(diags, rq, what, &b) == 0)
			p->required = b;
		free(what);
	}
	if (df != NULL)
		p->def = typed_value(p, df, "the default", owner, diags);
	if (vs != NULL)
		load_param_values(p, vs, owner, diags);
	if (p->required && df != NULL)
		spec_diag_hint(spec_diag_at(diags, rq, "param '%s' of %s is "
		    "required and has a default", p->name, owner), "a param "
		    "with a default is never missing: remove 'required' or "
		    "'default'");
	if (p->def != NULL && p->values != NULL) {
		for (i = 0; i < json_array_size(p->values); i++)
			if (value_equal(json_array_get(p->values, i), p->def))
				break;
		if (i == json_array_size(p->values))
			spec_diag_hint(spec_diag_at(diags, df, "the default "
			    "'%s' of param '%s' of %s is not one of its "
			    "'values'", df->str, p->name, owner), "add it to "
			    "'values' or pick one of them as the default");
	}
	return diags->nerrors == nerr;
}

static int
cmp_param(const void *a, const void *b)
{
	return strcmp(((const struct spec_param *)a)->name,
	    ((const struct spec_param *)b)->name);
}

static void
load_params(struct spec_task *t, const struct spec_node *v,
    const char *owner, struct spec_diags *diags)
{
	struct spec_param p;
	const char *k;
	size_t i;

	if (spec_node_is_null(v))
		return;
	if (v->kind != SPEC_NODE_MAP) {
		spec_diag_hint(spec_diag_at(diags, v, "'params' of %s must be "
		    "a mapping, not %s", owner, spec_node_describe(v)),
		    "write one 'NAME: default' or 'NAME: {type: ...}' per "
		    "param, see leura-spec(5), TASKS");
		return;
	}
	for (i = 0; i < v->n; i++) {
		k = v->keys[i]->str;
		if (!param_name_valid(k)) {
			spec_diag_hint(spec_diag_at(diags, v->keys[i],
			    "invalid param name '%s' in %s", k, owner),
			    "param names use letters, digits and '_' and do "
			    "not start with a digit (templates read them as "
			    "params.NAME)");
			continue;
		}
		memset(&p, 0, sizeof(p));
		p.name = lr_xstrdup(k);
		if (load_param(&p, v->vals[i], owner, diags))
			*SPEC_PUSH(t->params, t->nparams) = p;
		else
			param_release(&p);
	}
	if (t->nparams > 1)
		qsort(t->params, t->nparams, sizeof(*t->params), cmp_param);
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
	t->on_failure = SPEC_ON_FAILURE_STOP;
	t->dedupe_window_ms = DEDUPE_DEFAULT_MS;
	t->starting_deadline_ms = STARTING_DEADLINE_MS;
	t->overlap = SPEC_OVERLAP_FORBID;
	t->misfire = SPEC_MISFIRE_SKIP;
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
	if ((v = spec_node_get(root, "params")) != NULL)
		load_params(t, v, owner, diags);
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
	if ((v = spec_opt(root, "on_failure")) != NULL) {
		what = lr_xasprintf("'on_failure' of %s", owner);
		spec_get_on_failure(diags, v, what, &t->on_failure);
		free(what);
	}
	if ((v = spec_opt(root, "dedupe_window")) != NULL) {
		what = lr_xasprintf("'dedupe_window' of %s", owner);
		if (spec_get_duration(diags, v, what, &iv) == 0)
			t->dedupe_window_ms = iv;
		free(what);
	}
	if ((v = spec_opt(root, "self_approval")) != NULL) {
		what = lr_xasprintf("'self_approval' of %s", owner);
		spec_get_bool(diags, v, what, &t->self_approval);
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
	free(t->timezone);
	for (size_t i = 0; i < t->nparams; i++)
		param_release(&t->params[i]);
	free(t->params);
	spec_steps_free(t->steps, t->nsteps);
	memset(t, 0, sizeof(*t));
}

/* ---- small public helpers ---- */

int
spec_get_on_failure(struct spec_diags *d, const struct spec_node *n,
    const char *what, enum spec_on_failure *out)
{
	int w;

	if (spec_get_word(d, n, what, on_failure_words,
	    NWORDS(on_failure_words), "stop: a host whose step fails runs no "
	    "further step; continue: it goes on with the next", &w) < 0)
		return -1;
	*out = (enum spec_on_failure)(SPEC_ON_FAILURE_STOP + w);
	return 0;
}

const struct spec_param *
spec_task_find_param(const struct spec_task *t, const char *name)
{
	size_t lo = 0, hi = t->nparams, mid;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if ((c = strcmp(name, t->params[mid].name)) == 0)
			return &t->params[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

bool
spec_param_type_accepts(enum spec_param_type type, const json_t *v)
{
	switch (type) {
	case SPEC_PARAM_STRING:
		return json_is_string(v);
	case SPEC_PARAM_INTEGER:
		return json_is_integer(v);
	case SPEC_PARAM_NUMBER:
		return json_is_integer(v) || (json_is_real(v) &&
		    isfinite(json_real_value(v)));
	case SPEC_PARAM_BOOLEAN:
		return json_is_boolean(v);
	}
	return false;
}

const char *
spec_param_type_name(enum spec_param_type t)
{
	return (size_t)t < NWORDS(param_types) ? param_types[t] : "?";
}

const char *
spec_on_failure_name(enum spec_on_failure f)
{
	static const char *const names[] = { "inherit", "stop", "continue" };

	return (size_t)f < NWORDS(names) ? names[f] : "?";
}

const char *
spec_overlap_name(enum spec_overlap o)
{
	return (size_t)o < NWORDS(overlap_words) ? overlap_words[o] : "?";
}

const char *
spec_misfire_name(enum spec_misfire m)
{
	return (size_t)m < NWORDS(misfire_words) ? misfire_words[m] : "?";
}
