/*
 * A task's run, compiled (task.h): params checked against the task's
 * declarations, targets resolved to hosts, steps rendered for one host.
 *
 * Rendering reuses rec_compile's machinery rather than a second one: a
 * compile state of its own (rec_compile_state_init: group members and
 * host contexts, no placement), rec_compile_step() for each step as the
 * desired state compiles a role's, and the files the steps need gathered
 * the same way, into a rec_compiled of its own.  Services come from the
 * placement the caller compiled (comp), so a task on service 'web' runs
 * where web is placed at the commit the run reads.
 *
 * Errors go into an lr_err (the engine answers one request with one
 * message): the first problem found, named and positioned, with a hint.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "compile-int.h"
#include "err.h"
#include "fields.h"
#include "json.h"
#include "suggest.h"
#include "task.h"
#include "xalloc.h"

/* ---- params ---- */

/* "a, b and c" of the declared params' names, in buf. */
static void
param_names(const struct spec_task *t, char *buf, size_t len)
{
	size_t i, o = 0;
	int n;

	buf[0] = '\0';
	for (i = 0; i < t->nparams && o < len; i++) {
		n = snprintf(buf + o, len - o, "%s%s", i == 0 ? "" :
		    i + 1 == t->nparams ? " and " : ", ", t->params[i].name);
		if (n < 0)
			break;
		o += (size_t)n;
	}
}

/* The value as text for a message ("x", 3, true), in buf. */
static const char *
value_text(const json_t *v, char *buf, size_t len)
{
	char *s;

	if (json_is_string(v))
		return json_string_value(v);
	s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
	snprintf(buf, len, "%s", s ? s : "?");
	free(s);
	return buf;
}

/*
 * v as a value of p's type (new reference): a JSON value of the type, or
 * a string as typed after -p k=v converted to it; NULL when neither.
 */
static json_t *
convert(const struct spec_param *p, const json_t *v)
{
	const char *s;
	char *end;
	long long i;
	double d;

	if (spec_param_type_accepts(p->type, v))
		return json_incref((json_t *)v);
	if (!json_is_string(v))
		return NULL;
	s = json_string_value(v);
	switch (p->type) {
	case SPEC_PARAM_STRING:
		return NULL;	/* accepted above */
	case SPEC_PARAM_INTEGER:
		if (*s == '\0' || (*s != '-' && *s != '+' &&
		    (*s < '0' || *s > '9')))
			return NULL;
		errno = 0;
		i = strtoll(s, &end, 10);
		return errno || *end ? NULL : json_integer(i);
	case SPEC_PARAM_NUMBER:
		if (*s == '\0' || strchr(s, 'x') || strchr(s, 'X') ||
		    strchr(s, 'n') || strchr(s, 'N') || strchr(s, 'i') ||
		    strchr(s, 'I'))
			return NULL;	/* hex, nan, inf: not numbers here */
		errno = 0;
		d = strtod(s, &end);
		if (errno || *end || !isfinite(d))
			return NULL;
		if (d == floor(d) && fabs(d) < 9.0e15 && !strpbrk(s, ".eE"))
			return json_integer((json_int_t)d);
		return json_real(d);
	case SPEC_PARAM_BOOLEAN:
		if (strcmp(s, "true") == 0)
			return json_true();
		if (strcmp(s, "false") == 0)
			return json_false();
		return NULL;
	}
	return NULL;
}

static bool
in_values(const json_t *values, const json_t *v)
{
	const json_t *x;
	size_t i;

	json_array_foreach(values, i, x) {
		if (json_is_number(x) && json_is_number(v) ?
		    json_number_value(x) == json_number_value(v) :
		    json_equal(x, v))
			return true;
	}
	return false;
}

static int
param_value(const struct spec_task *t, const struct spec_param *p,
    const json_t *given, json_t **out, struct lr_err *err)
{
	char buf[256], list[512];
	const json_t *x;
	json_t *v;
	size_t i, o = 0;
	int n;

	if ((v = convert(p, given)) == NULL) {
		lr_err_set(err, LR_EINVAL, "param '%s' of task '%s' is %s %s; "
		    "got '%s'", p->name, t->name, p->type ==
		    SPEC_PARAM_INTEGER ? "an" : "a",
		    spec_param_type_name(p->type), value_text(given, buf,
		    sizeof(buf)));
		switch (p->type) {
		case SPEC_PARAM_INTEGER:
			lr_err_hint(err, "give a whole number: -p %s=3",
			    p->name);
			break;
		case SPEC_PARAM_NUMBER:
			lr_err_hint(err, "give a number: -p %s=0.5", p->name);
			break;
		case SPEC_PARAM_BOOLEAN:
			lr_err_hint(err, "give true or false: -p %s=true",
			    p->name);
			break;
		default:
			lr_err_hint(err, "give it as text (a JSON string)");
		}
		return LR_EINVAL;
	}
	if (p->values != NULL && !in_values(p->values, v)) {
		list[0] = '\0';
		json_array_foreach(p->values, i, x) {
			n = snprintf(list + o, sizeof(list) - o, "%s%s",
			    i == 0 ? "" : ", ", value_text(x, buf,
			    sizeof(buf)));
			if (n < 0 || (size_t)n >= sizeof(list) - o)
				break;
			o += (size_t)n;
		}
		lr_err_set(err, LR_EINVAL, "param '%s' of task '%s' must be "
		    "one of %s; got '%s'", p->name, t->name, list,
		    value_text(v, buf, sizeof(buf)));
		lr_err_hint(err, "pick one of the values tasks/%s.yml lists "
		    "for it", t->name);
		json_decref(v);
		return LR_EINVAL;
	}
	*out = v;
	return 0;
}

int
rec_task_params(const struct spec_task *t, const json_t *given,
    json_t **out, struct lr_err *err)
{
	const struct spec_param *p;
	const char **names, *k, *sug;
	char list[512];
	json_t *res, *v, *x;
	size_t i;
	int rc = 0;

	if (given != NULL && !json_is_object(given))
		return lr_err_set(err, LR_EINVAL, "the params of task '%s' "
		    "must be an object of names and values", t->name);
	res = json_object();
	names = lr_xcalloc(t->nparams + 1, sizeof(*names));
	for (i = 0; i < t->nparams; i++)
		names[i] = t->params[i].name;
	json_object_foreach((json_t *)given, k, v) {
		if ((p = spec_task_find_param(t, k)) == NULL) {
			rc = lr_err_set(err, LR_EINVAL, "task '%s' has no "
			    "param '%s'", t->name, k);
			param_names(t, list, sizeof(list));
			sug = lr_suggest(k, names, t->nparams);
			if (t->nparams == 0)
				lr_err_hint(err, "it takes no params");
			else if (sug)
				lr_err_hint(err, "did you mean '%s'? its params "
				    "are %s", sug, list);
			else
				lr_err_hint(err, "its params are %s", list);
			goto out;
		}
		if ((rc = param_value(t, p, v, &x, err)) < 0)
			goto out;
		json_object_set_new(res, k, x);
	}
	for (i = 0; i < t->nparams; i++) {
		p = &t->params[i];
		if (json_object_get(res, p->name) != NULL)
			continue;
		if (p->required) {
			rc = lr_err_set(err, LR_EINVAL, "task '%s' needs param "
			    "'%s' (%s%s%s)", t->name, p->name,
			    spec_param_type_name(p->type), p->description ?
			    ": " : "", p->description ? p->description : "");
			lr_err_hint(err, "give it: leura run %s -p %s=VALUE",
			    t->name, p->name);
			goto out;
		}
		json_object_set_new(res, p->name, p->def ?
		    json_deep_copy(p->def) : json_null());
	}
out:
	free(names);
	if (rc < 0) {
		json_decref(res);
		return rc;
	}
	*out = res;
	return 0;
}

/* ---- targets ---- */

struct names {
	const char **v;
	size_t	 n;
};

static void
names_of(const struct spec_repo *r, int what, struct names *nm)
{
	size_t i, n = what == 0 ? r->nhosts : what == 1 ? r->ngroups + 1 :
	    r->nservices;

	nm->v = lr_xcalloc(n + 1, sizeof(*nm->v));
	nm->n = 0;
	for (i = 0; what == 0 && i < r->nhosts; i++)
		nm->v[nm->n++] = r->hosts[i].name;
	for (i = 0; what == 1 && i < r->ngroups; i++)
		nm->v[nm->n++] = r->groups[i].name;
	if (what == 1 && spec_repo_find_group(r, "all") == NULL)
		nm->v[nm->n++] = "all";
	for (i = 0; what == 2 && i < r->nservices; i++)
		nm->v[nm->n++] = r->services[i].name;
}

static int
unknown(const struct spec_repo *r, int what, const char *name,
    const char *tname, struct lr_err *err)
{
	static const char *const kind[] = { "host", "group", "service" };
	static const char *const from[] = { "the inventory's hosts",
	    "the inventory's groups", "the services of services.yml" };
	struct names nm;
	const char *sug;

	names_of(r, what, &nm);
	lr_err_set(err, LR_EINVAL, "unknown %s '%s' in the targets of %s%s%s",
	    kind[what], name, tname ? "task '" : "the command",
	    tname ? tname : "", tname ? "'" : "");
	if ((sug = lr_suggest(name, nm.v, nm.n)) != NULL)
		lr_err_hint(err, "did you mean '%s'? targets name %s", sug,
		    from[what]);
	else
		lr_err_hint(err, "targets name %s ('leura inventory' lists "
		    "them)", from[what]);
	free(nm.v);
	return LR_EINVAL;
}

/* The names of targets[key]: a list of strings or one string. */
static int
target_list(const json_t *targets, const char *key, const json_t **out,
    struct lr_err *err)
{
	const json_t *l = json_object_get(targets, key), *x;
	size_t i;

	*out = l;
	if (l == NULL || json_is_null(l) || json_is_string(l))
		return 0;
	if (!json_is_array(l))
		return lr_err_set(err, LR_EINVAL, "targets '%s' must be a "
		    "list of names", key);
	json_array_foreach(l, i, x)
		if (!json_is_string(x))
			return lr_err_set(err, LR_EINVAL, "targets '%s' must "
			    "be a list of names", key);
	return 0;
}

static size_t
list_size(const json_t *l)
{
	return json_is_string(l) ? 1 : json_is_array(l) ? json_array_size(l) :
	    0;
}

static const char *
list_get(const json_t *l, size_t i)
{
	return json_is_string(l) ? json_string_value(l) :
	    json_string_value(json_array_get(l, i));
}

/* targets as JSON lists: the caller's, or the task's own (new). */
static json_t *
own_targets(const struct spec_task *t)
{
	json_t *o = json_object(), *a;
	const struct spec_ref *refs[3] = { t->t_hosts, t->t_groups,
	    t->t_services };
	size_t n[3] = { t->nt_hosts, t->nt_groups, t->nt_services }, i, k;
	static const char *const keys[3] = { "hosts", "groups", "services" };

	for (k = 0; k < 3; k++) {
		if (n[k] == 0)
			continue;
		a = json_array();
		for (i = 0; i < n[k]; i++)
			json_array_append_new(a, json_string(refs[k][i].name));
		json_object_set_new(o, keys[k], a);
	}
	return o;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int
rec_task_hosts(const struct spec_repo *repo,
    const struct rec_compiled *comp, const struct spec_task *t,
    const json_t *targets, json_t **out, struct lr_err *err)
{
	static const char *const keys[3] = { "hosts", "groups", "services" };
	const json_t *bysvc = comp ? json_object_get(comp->placement,
	    "services") : NULL, *l[3], *v;
	const char *name, *k, **names = NULL;
	json_t *tg, *set = json_object(), *list;
	size_t i, j, n;
	int rc = 0;

	tg = targets ? json_incref((json_t *)targets) : own_targets(t);
	if (!json_is_object(tg)) {
		rc = lr_err_set(err, LR_EINVAL, "targets must be an object "
		    "of hosts, groups and services");
		goto out;
	}
	json_object_foreach(tg, k, v) {
		if (strcmp(k, "hosts") != 0 && strcmp(k, "groups") != 0 &&
		    strcmp(k, "services") != 0) {
			rc = lr_err_set(err, LR_EINVAL, "unknown key '%s' in "
			    "targets", k);
			lr_err_hint(err, "targets are hosts, groups and "
			    "services");
			goto out;
		}
	}
	for (i = 0; i < 3; i++)
		if ((rc = target_list(tg, keys[i], &l[i], err)) < 0)
			goto out;
	if (list_size(l[0]) + list_size(l[1]) + list_size(l[2]) == 0) {
		rc = lr_err_set(err, LR_EINVAL, "the targets of %s%s%s name "
		    "no hosts, groups or services", t->name ? "task '" : "",
		    t->name ? t->name : "the command", t->name ? "'" : "");
		lr_err_hint(err, "name some: --hosts web1, --groups frontend "
		    "or --services web");
		goto out;
	}
	for (i = 0; i < list_size(l[0]); i++) {
		name = list_get(l[0], i);
		if (spec_repo_find_host(repo, name) == NULL) {
			rc = unknown(repo, 0, name, t->name, err);
			goto out;
		}
		json_object_set_new(set, name, json_true());
	}
	for (i = 0; i < list_size(l[1]); i++) {
		const struct spec_host *h;

		name = list_get(l[1], i);
		if (strcmp(name, "all") != 0 &&
		    spec_repo_find_group(repo, name) == NULL) {
			rc = unknown(repo, 1, name, t->name, err);
			goto out;
		}
		for (j = 0; j < repo->nhosts; j++) {
			h = &repo->hosts[j];
			if (spec_host_in_group(repo, h, name))
				json_object_set_new(set, h->name, json_true());
		}
	}
	for (i = 0; i < list_size(l[2]); i++) {
		name = list_get(l[2], i);
		if (spec_repo_find_service(repo, name) == NULL) {
			rc = unknown(repo, 2, name, t->name, err);
			goto out;
		}
		json_array_foreach(json_object_get(bysvc, name), j, v)
			json_object_set_new(set, json_string_value(v),
			    json_true());
	}
	if ((n = json_object_size(set)) == 0) {
		rc = lr_err_set(err, LR_EINVAL, "the targets of %s%s%s match "
		    "no host", t->name ? "task '" : "", t->name ? t->name :
		    "the command", t->name ? "'" : "");
		lr_err_hint(err, "their groups have no hosts and their "
		    "services are placed nowhere: 'leura schedule' shows "
		    "where services run");
		goto out;
	}
	names = lr_xcalloc(n + 1, sizeof(*names));
	i = 0;
	json_object_foreach(set, k, v)
		names[i++] = k;
	qsort(names, n, sizeof(*names), cmp_str);
	list = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(list, json_string(names[i]));
	*out = list;
out:
	free(names);
	json_decref(set);
	json_decref(tg);
	return rc;
}

/* ---- rendering ---- */

/* {svc: {"hosts": [...]}} from the placement, as role steps see it (new). */
static json_t *
services_ctx(const struct rec_compiled *comp)
{
	const json_t *bysvc = comp ? json_object_get(comp->placement,
	    "services") : NULL;
	json_t *o = json_object(), *v;
	const char *k;

	json_object_foreach((json_t *)bysvc, k, v)
		json_object_set_new(o, k, json_pack("{s:O}", "hosts", v));
	return o;
}

static enum spec_on_failure
on_failure_of(const struct spec_task *t, const struct spec_step *st)
{
	return st->on_failure != SPEC_ON_FAILURE_INHERIT ? st->on_failure :
	    t->on_failure == SPEC_ON_FAILURE_INHERIT ? SPEC_ON_FAILURE_STOP :
	    t->on_failure;
}

static json_t *
approval_step(const struct spec_task *t, const struct spec_step *st)
{
	json_t *groups = json_array();
	size_t i;

	for (i = 0; i < st->napprovers; i++)
		json_array_append_new(groups,
		    json_string(st->approvers[i].name));
	return json_pack("{s:s, s:s, s:s, s:{s:o, s:o, s:b}}",
	    PROTO_STEP_NAME, st->name, PROTO_STEP_KIND, PROTO_KIND_APPROVAL,
	    PROTO_STEP_PHASE, spec_phase_name(st->phase), PROTO_STEP_APPROVAL,
	    "groups", groups, "timeout_ms", st->approval_timeout_ms > 0 ?
	    json_integer(st->approval_timeout_ms) : json_null(),
	    "self_approval", t->self_approval);
}

/* err from the first error of diags, for step name on host. */
static int
render_error(const struct spec_task *t, const char *step, const char *host,
    const struct spec_diags *d, struct lr_err *err)
{
	size_t i;

	for (i = 0; i < d->n && d->v[i].sev != SPEC_ERROR; i++)
		;
	if (i == d->n)
		return lr_err_set(err, LR_EINVAL, "step '%s' of task '%s' "
		    "does not render for host '%s'", step, t->name, host);
	lr_err_set(err, LR_EINVAL, "step '%s' of task '%s' for host '%s': "
	    "%s:%d:%d: %s", step, t->name, host, d->v[i].path, d->v[i].line,
	    d->v[i].col, d->v[i].msg);
	lr_err_hint(err, "%s", d->v[i].hint ? d->v[i].hint : "fix the "
	    "template in the task and apply the change");
	return LR_EINVAL;
}

int
rec_task_render(const struct spec_repo *repo,
    const struct rec_compiled *comp, const struct spec_task *t,
    const char *host, const json_t *params, json_t **steps,
    json_t **files, struct lr_err *err)
{
	const struct spec_host *h;
	const struct spec_step *st;
	struct rec_compiled out;
	struct spec_diags diags;
	struct compile c;
	json_t *ctx, *list, *o;
	char *id;
	size_t i;
	int rc = 0;

	if ((h = spec_repo_find_host(repo, host)) == NULL)
		return lr_err_set(err, LR_EINVAL, "no host '%s' in the "
		    "inventory", host);
	memset(&out, 0, sizeof(out));
	out.files = json_object();
	spec_diags_init(&diags);
	rec_compile_state_init(&c, repo, REC_COMPILE_DESIRED, &out, &diags);
	/* the keys in this order: hints list the names as they come */
	ctx = json_object();
	json_object_set_nocheck(ctx, "host", rec_host_obj(&c,
	    (size_t)(h - repo->hosts)));
	json_object_set_new_nocheck(ctx, "params", json_is_object(params) ?
	    json_incref((json_t *)params) : json_object());
	json_object_set_new_nocheck(ctx, "services", services_ctx(comp));
	list = json_array();
	for (i = 0; i < t->nsteps; i++) {
		st = &t->steps[i];
		if (st->kind == SPEC_STEP_APPROVAL) {
			o = approval_step(t, st);
		} else {
			o = rec_compile_step(&c, st, NULL, NULL, ctx, host);
			if (diags.nerrors > 0) {
				json_decref(o);
				rc = render_error(t, st->name, host, &diags,
				    err);
				break;
			}
			if (st->run_as == NULL && t->run_as != NULL)
				json_object_set_new(o, PROTO_STEP_RUN_AS,
				    json_string(t->run_as));
		}
		id = lr_xasprintf("task/%s/%zu/%s", t->name, i, st->name);
		json_object_set_new(o, PROTO_STEP_ID, json_string(id));
		free(id);
		json_object_set_new(o, PROTO_STEP_ON_FAILURE, json_string(
		    spec_on_failure_name(on_failure_of(t, st))));
		json_array_append_new(list, o);
	}
	json_decref(ctx);
	rec_compile_state_release(&c);
	spec_diags_release(&diags);
	if (rc < 0) {
		json_decref(list);
		json_decref(out.files);
		return rc;
	}
	*steps = list;
	*files = out.files;
	return 0;
}

/* ---- the task as listed ---- */

static json_t *
refs_json(const struct spec_ref *refs, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < n; i++)
		json_array_append_new(a, json_string(refs[i].name));
	return a;
}

static json_t *
params_json(const struct spec_task *t)
{
	const struct spec_param *pa;
	json_t *ps = json_array(), *p;
	size_t i;

	for (i = 0; i < t->nparams; i++) {
		pa = &t->params[i];
		p = json_pack("{s:s, s:s, s:b}", "name", pa->name, "type",
		    spec_param_type_name(pa->type), "required", pa->required);
		if (pa->def)
			json_object_set(p, "default", pa->def);
		if (pa->values)
			json_object_set(p, "values", pa->values);
		if (pa->description)
			json_object_set_new(p, "description",
			    json_string(pa->description));
		json_array_append_new(ps, p);
	}
	return ps;
}

json_t *
rec_task_json(const struct spec_task *t, const struct rec_compiled *comp)
{
	const json_t *ct = comp ? json_object_get(comp->tasks, t->name) :
	    NULL;
	json_t *o, *tg, *sch = json_null();

	tg = json_object();
	if (t->nt_services)
		json_object_set_new(tg, "services", refs_json(t->t_services,
		    t->nt_services));
	if (t->nt_hosts)
		json_object_set_new(tg, "hosts", refs_json(t->t_hosts,
		    t->nt_hosts));
	if (t->nt_groups)
		json_object_set_new(tg, "groups", refs_json(t->t_groups,
		    t->nt_groups));
	if (t->cron || t->at) {
		sch = json_pack("{s:s?, s:s?, s:s?, s:s, s:s, s:I, s:O*, s:O*}",
		    "cron", t->cron, "at", t->at, "timezone", t->timezone,
		    "overlap", spec_overlap_name(t->overlap), "misfire",
		    spec_misfire_name(t->misfire), "starting_deadline_ms",
		    (json_int_t)t->starting_deadline_ms, "next",
		    json_object_get(ct, "next"), "next_local",
		    t->timezone ? json_object_get(ct, "next_local") : NULL);
		if (json_object_get(sch, "next") == NULL)
			json_object_set_new(sch, "next", json_array());
	}
	o = json_pack("{s:s, s:s?, s:s, s:o, s:O*, s:o, s:o, s:i, s:s, s:I,"
	    " s:b, s:i}", "name", t->name, "description", t->description,
	    "path", t->path, "targets", tg, "hosts", json_object_get(ct,
	    "hosts"), "schedule", sch, "params", params_json(t), "parallel",
	    t->parallel, "on_failure", spec_on_failure_name(t->on_failure),
	    "dedupe_window_ms", (json_int_t)t->dedupe_window_ms,
	    "self_approval", t->self_approval, "steps", (int)t->nsteps);
	if (json_object_get(o, "hosts") == NULL)
		json_object_set_new(o, "hosts", json_array());
	if (t->timeout_ms > 0)
		json_object_set_new(o, "timeout_ms",
		    json_integer(t->timeout_ms));
	return o;
}

bool
rec_task_matches(const struct spec_task *t, const char *search)
{
	return search == NULL || *search == '\0' ||
	    strcasestr(t->name, search) != NULL || (t->description &&
	    strcasestr(t->description, search) != NULL);
}
