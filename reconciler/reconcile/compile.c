/*
 * rec_compile: spec repo -> placement, task schedules and per-host desired
 * state.  Pure with respect to the repo: the same commit compiles to the
 * same JSON on any machine (placement is a function of names only).
 *
 * Work is shared where the result does not depend on the host: each host's
 * vars are merged once, and its template object ("host") is built once,
 * when first rendered; one context object is reused for every render, its
 * members swapped; when only validating, a template that does not mention
 * host vars renders once per service, and one that does renders once per
 * distinct shape of host vars (see skeleton()); files are read once per
 * path and hashed once, when a result needs the hash.  Names that appear
 * in many JSON lists (hosts, groups, services) are one JSON string each,
 * shared by reference.
 *
 * What is not rendered is only syntax-checked: task steps (their context
 * is known when a run starts: task.c renders them) and the steps of
 * services placed nowhere.
 *
 * This file is the driver (group membership, placement, service order,
 * task schedules, then the steps); render.c holds host contexts,
 * templates and files, steps.c the steps of each host and the syntax
 * check.  compile-int.h is the state they share.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "compile-int.h"
#include "err.h"
#include "fields.h"
#include "json.h"
#include "xalloc.h"

/* ---- group membership ---- */

size_t
rec_group_index(const struct spec_repo *r, const char *name)
{
	size_t lo = 0, hi = r->ngroups;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int cmp = strcmp(name, r->groups[mid].name);

		if (cmp == 0)
			return mid;
		if (cmp < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return (size_t)-1;
}

static size_t
host_index(const struct spec_repo *r, const char *name)
{
	const struct spec_host *h = spec_repo_find_host(r, name);

	return h ? (size_t)(h - r->hosts) : (size_t)-1;
}

static int
cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

/* members[g] = sorted unique host indices of group g ('all' = every host) */
static void
build_members(struct compile *c)
{
	const struct spec_repo *r = c->repo;
	size_t *cap, g, h, i, j, k;

	c->members = lr_xcalloc(r->ngroups, sizeof(*c->members));
	c->nmembers = lr_xcalloc(r->ngroups, sizeof(*c->nmembers));
	cap = lr_xcalloc(r->ngroups, sizeof(*cap));
	for (h = 0; h < r->nhosts; h++) {
		for (i = 0; i < r->hosts[h].ngroups; i++) {
			g = rec_group_index(r, r->hosts[h].groups[i].name);
			if (g != (size_t)-1)
				*LR_ARRAY_PUSH(c->members[g], c->nmembers[g],
				    cap[g]) = h;
		}
	}
	for (g = 0; g < r->ngroups; g++) {
		if (strcmp(r->groups[g].name, "all") == 0) {
			c->nmembers[g] = 0;
			for (h = 0; h < r->nhosts; h++)
				*LR_ARRAY_PUSH(c->members[g], c->nmembers[g],
				    cap[g]) = h;
			continue;
		}
		for (i = 0; i < r->groups[g].nhosts; i++) {
			h = host_index(r, r->groups[g].hosts[i].name);
			if (h != (size_t)-1)
				*LR_ARRAY_PUSH(c->members[g], c->nmembers[g],
				    cap[g]) = h;
		}
		if (c->nmembers[g] < 2)
			continue;
		qsort(c->members[g], c->nmembers[g], sizeof(size_t), cmp_size);
		for (j = 1, k = 1; j < c->nmembers[g]; j++)
			if (c->members[g][j] != c->members[g][k - 1])
				c->members[g][k++] = c->members[g][j];
		c->nmembers[g] = k;
	}
	free(cap);
}

/* ---- placement ---- */

static char *
json_text(const json_t *v)
{
	if (json_is_string(v))
		return lr_xstrdup(json_string_value(v));
	return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
}

/*
 * The values of host var `var` for every host (NULL where unset), shared
 * by every service that spreads by it: one array per variable, not per
 * service, so thousands of spread services cost little.
 */
struct spread_var {
	const char *var;
	char	**vals;		/* owned: nhosts entries */
};

static const char *const *
spread_values(struct compile *c, struct spread_var **sv, size_t *n,
    size_t *cap, const char *var)
{
	struct spread_var *v;
	const json_t *j;
	size_t i, h;

	for (i = 0; i < *n; i++)
		if (strcmp((*sv)[i].var, var) == 0)
			return (const char *const *)(*sv)[i].vals;
	v = LR_ARRAY_PUSH(*sv, *n, *cap);
	v->var = var;
	v->vals = lr_xcalloc(c->repo->nhosts + 1, sizeof(*v->vals));
	for (h = 0; h < c->repo->nhosts; h++)
		if ((j = rec_host_var(c, h, var)) != NULL &&
		    !json_is_null(j))
			v->vals[h] = json_text(j);
	return (const char *const *)v->vals;
}

static int
place(struct compile *c)
{
	const struct spec_repo *r = c->repo;
	struct sched_host *hosts;
	struct sched_service *svcs;
	struct sched_input in;
	struct spread_var *spread = NULL;
	size_t nspread = 0, spread_cap = 0;
	size_t **elig, s, i, g, h;
	json_t *byhost, *bysvc, *list, *svname, **hlist, *o, *spreads;
	bool *has_var;
	int rc;

	hosts = lr_xcalloc(r->nhosts ? r->nhosts : 1, sizeof(*hosts));
	for (h = 0; h < r->nhosts; h++)
		hosts[h].name = r->hosts[h].name;
	svcs = lr_xcalloc(r->nservices ? r->nservices : 1, sizeof(*svcs));
	elig = lr_xcalloc(r->nservices ? r->nservices : 1, sizeof(*elig));
	/* some host of the group has the spread_by var (null counts) */
	has_var = lr_xcalloc(r->nservices ? r->nservices : 1,
	    sizeof(*has_var));
	for (s = 0; s < r->nservices; s++) {
		const struct spec_service *sv = &r->services[s];
		const char *gname = sv->scheduling_group.name ?
		    sv->scheduling_group.name : "all";

		svcs[s].name = sv->name;
		svcs[s].num_instances = sv->num_instances;
		g = rec_group_index(r, gname);
		if (g == (size_t)-1)
			continue;	/* unknown group: already reported */
		elig[s] = lr_xmalloc((c->nmembers[g] + 1) * sizeof(size_t));
		if (sv->spread_by.name)
			svcs[s].spread = spread_values(c, &spread, &nspread,
			    &spread_cap, sv->spread_by.name);
		for (i = 0; i < c->nmembers[g]; i++) {
			h = c->members[g][i];
			if (sv->spread_by.name &&
			    rec_host_var(c, h, sv->spread_by.name) != NULL)
				has_var[s] = true;
			/* a host without the spread var cannot take it */
			if (svcs[s].spread && svcs[s].spread[h] == NULL)
				continue;
			elig[s][svcs[s].neligible++] = h;
		}
		svcs[s].eligible = elig[s];
	}
	memset(&in, 0, sizeof(in));
	in.hosts = hosts;
	in.nhosts = r->nhosts;
	in.services = svcs;
	in.nservices = r->nservices;
	rc = sched_place(&in, &c->sres);

	bysvc = json_object();
	byhost = json_object();
	spreads = json_object();
	hlist = lr_xcalloc(r->nhosts ? r->nhosts : 1, sizeof(*hlist));
	for (h = 0; h < r->nhosts; h++) {
		hlist[h] = json_array();
		json_object_set_new_nocheck(byhost, r->hosts[h].name,
		    hlist[h]);
	}
	for (s = 0; s < r->nservices; s++) {
		const struct spec_service *sv = &r->services[s];
		const struct sched_placement *p = &c->sres.services[s];

		list = json_array();
		svname = json_string_nocheck(sv->name);
		for (i = 0; i < p->n; i++) {
			json_array_append(list, c->hname[p->hosts[i]]);
			json_array_append(hlist[p->hosts[i]], svname);
		}
		json_decref(svname);
		if (svcs[s].spread) {
			o = json_object();
			for (i = 0; i < p->n; i++)
				json_object_set_new(o, json_string_value(
				    c->hname[p->hosts[i]]), json_string(
				    svcs[s].spread[p->hosts[i]]));
			json_object_set_new(spreads, sv->name, json_pack(
			    "{s:s, s:o}", "var", sv->spread_by.name, "hosts",
			    o));
		}
		json_object_set_new_nocheck(bysvc, sv->name, list);
		o = json_object();
		json_object_set_nocheck(o, "hosts", list);
		json_object_set_new_nocheck(c->services_ctx, sv->name, o);
		/*
		 * No host of the group has the spread_by var at all: the specs'
		 * check said so at spread_by (a typo, mostly), and "no
		 * eligible hosts" would only follow from it.
		 */
		if (p->error && sv->spread_by.name && !has_var[s]) {
			c->nerr++;
		} else if (p->error) {
			struct spec_diag *dg;
			const char *gname = sv->scheduling_group.name ?
			    sv->scheduling_group.name : "all";

			dg = spec_diag_at(c->diags, sv->num_instances_node ?
			    sv->num_instances_node : sv->node,
			    "service '%s' cannot be placed: %s", sv->name,
			    p->error);
			if (sv->spread_by.name)
				spec_diag_hint(dg, "lower num_instances, or add "
				    "hosts of group '%s' with other values of "
				    "'%s'", gname, sv->spread_by.name);
			else
				spec_diag_hint(dg, "lower num_instances, or add "
				    "hosts to group '%s'", gname);
			c->nerr++;
		}
	}
	c->out->placement = json_pack("{s:o, s:o}", "services", bysvc,
	    "hosts", byhost);
	c->out->spread = spreads;

	free(hlist);
	for (s = 0; s < r->nservices; s++)
		free(elig[s]);
	for (i = 0; i < nspread; i++) {
		for (h = 0; h < r->nhosts; h++)
			free(spread[i].vals[h]);
		free(spread[i].vals);
	}
	free(spread);
	free(elig);
	free(has_var);
	free(svcs);
	free(hosts);
	return rc;
}

/* Services ordered so that dependencies come first (ties by name). */
static void
order_services(struct compile *c)
{
	const struct spec_repo *r = c->repo;
	size_t n = r->nservices, s, i, k = 0, d;
	bool *done = lr_xcalloc(n ? n : 1, sizeof(*done));
	bool progress = true;

	c->order = lr_xmalloc((n ? n : 1) * sizeof(*c->order));
	while (k < n && progress) {
		progress = false;
		for (s = 0; s < n; s++) {
			if (done[s])
				continue;
			for (i = 0; i < r->services[s].ndepends_on; i++) {
				const struct spec_service *dep =
				    spec_repo_find_service(r,
				    r->services[s].depends_on[i].name);

				d = dep ? (size_t)(dep - r->services) : s;
				if (d != s && !done[d])
					break;
			}
			if (i < r->services[s].ndepends_on)
				continue;
			done[s] = true;
			c->order[k++] = s;
			progress = true;
		}
	}
	for (s = 0; s < n; s++)	/* cycles (reported already): by name */
		if (!done[s])
			c->order[k++] = s;
	free(done);
}

/* ---- tasks ---- */

/* The names of refs as a JSON array (new reference). */
static json_t *
ref_names(const struct spec_ref *refs, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < n; i++)
		json_array_append_new(a, json_string(refs[i].name));
	return a;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * o["targets"]: what the task names, as written; o["hosts"]: the hosts
 * that makes, sorted (a service's placement, a group's members, hosts).
 */
static void
task_targets(struct compile *c, const struct spec_task *tk, json_t *o)
{
	const json_t *bysvc = json_object_get(c->out->placement, "services");
	json_t *t = json_object(), *set = json_object(), *v, *list;
	const char **names;
	const char *k;
	size_t i, j, g, n;

	if (tk->nt_services)
		json_object_set_new(t, "services", ref_names(tk->t_services,
		    tk->nt_services));
	if (tk->nt_hosts)
		json_object_set_new(t, "hosts", ref_names(tk->t_hosts,
		    tk->nt_hosts));
	if (tk->nt_groups)
		json_object_set_new(t, "groups", ref_names(tk->t_groups,
		    tk->nt_groups));
	for (i = 0; i < tk->nt_services; i++)
		json_array_foreach(json_object_get(bysvc,
		    tk->t_services[i].name), j, v)
			json_object_set(set, json_string_value(v), json_true());
	for (i = 0; i < tk->nt_hosts; i++)
		if (spec_repo_find_host(c->repo, tk->t_hosts[i].name))
			json_object_set(set, tk->t_hosts[i].name, json_true());
	for (i = 0; i < tk->nt_groups; i++) {
		if ((g = rec_group_index(c->repo, tk->t_groups[i].name)) ==
		    (size_t)-1) {
			/* 'all' is every host, defined or not */
			for (j = 0; strcmp(tk->t_groups[i].name, "all") == 0 &&
			    j < c->repo->nhosts; j++)
				json_object_set(set, json_string_value(
				    c->hname[j]), json_true());
			continue;
		}
		for (j = 0; j < c->nmembers[g]; j++)
			json_object_set(set, json_string_value(
			    c->hname[c->members[g][j]]), json_true());
	}
	n = json_object_size(set);
	names = lr_xcalloc(n + 1, sizeof(*names));
	i = 0;
	json_object_foreach(set, k, v)
		names[i++] = k;
	qsort(names, n, sizeof(*names), cmp_str);
	list = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(list, json_string(names[i]));
	free(names);
	json_decref(set);
	json_object_set_new(o, "targets", t);
	json_object_set_new(o, "hosts", list);
}

/*
 * Instant t as wall-clock time in tz with its offset, RFC 3339:
 * "2026-03-29T03:00:00+02:00" ("...Z" in UTC).
 */
static void
local_iso(const struct sched_tz *tz, int64_t t, char buf[LR_TIME_ISO_LEN])
{
	int32_t off;
	int64_t wall = sched_tz_utc_to_wall(tz, t, &off, NULL);
	size_t n;
	int a;

	lr_time_iso(wall, buf);
	if (off == 0 || (n = strlen(buf)) == 0 || buf[n - 1] != 'Z')
		return;
	a = off < 0 ? -off : off;
	snprintf(buf + n - 1, LR_TIME_ISO_LEN - (n - 1), "%c%02d:%02d",
	    off < 0 ? '-' : '+', a / 3600, a / 60 % 60);
}

static void
check_tasks(struct compile *c, int64_t now)
{
	const struct spec_repo *r = c->repo;
	char errbuf[256], ts[LR_TIME_ISO_LEN];
	struct sched_cron *cron;
	struct sched_tz *tz;
	json_t *o, *next, *local;
	int64_t t;
	size_t i, errpos;
	int k;

	if (c->flags & REC_COMPILE_TASKS)
		c->out->tasks = json_object();
	for (i = 0; i < r->ntasks; i++) {
		const struct spec_task *tk = &r->tasks[i];

		o = json_object();
		next = json_array();
		local = json_array();
		tz = NULL;
		if (tk->timezone && sched_tz_load(NULL, tk->timezone, &tz,
		    errbuf, sizeof(errbuf)) < 0) {
			spec_diag_hint(spec_diag_at(c->diags,
			    tk->timezone_node, "task '%s': %s", tk->name,
			    errbuf), "check the time zone data (Debian: "
			    "apt-get install --reinstall tzdata)");
			c->nerr++;
		}
		if (tk->cron) {
			errpos = 0;
			if (sched_cron_parse(tk->cron, &cron, errbuf,
			    sizeof(errbuf), &errpos) < 0) {
				const struct spec_node *n = tk->cron_node;

				spec_diag_hint(spec_diag_pos(c->diags,
				    n ? n->file : NULL, tk->path,
				    n ? n->line : 0, n ? n->col + (int)errpos +
				    rec_col_offset(n) : 0, 1,
				    "invalid cron expression '%s' in task "
				    "'%s': %s", tk->cron, tk->name, errbuf),
				    "five fields: minute hour day-of-month "
				    "month day-of-week, e.g. \"0 3 * * *\"; "
				    "see leura-spec(5), TASKS");
				c->nerr++;
			} else {
				t = now;
				for (k = 0; k < 3; k++) {
					if (sched_cron_next_tz(cron, tz, t,
					    &t) < 0)
						break;
					lr_time_iso(t, ts);
					json_array_append_new(next,
					    json_string(ts));
					local_iso(tz, t, ts);
					json_array_append_new(local,
					    json_string(ts));
				}
				sched_cron_free(cron);
			}
			json_object_set_new(o, "cron", json_string(tk->cron));
		} else if (tk->at) {
			if (sched_at_parse_tz(tk->at, tz, &t, errbuf,
			    sizeof(errbuf)) < 0) {
				spec_diag_hint(spec_diag_at(c->diags,
				    tk->at_node, "invalid time '%s' in task "
				    "'%s': %s", tk->at, tk->name, errbuf),
				    "write an RFC 3339 time such as "
				    "\"2026-12-01T03:00:00Z\"");
				c->nerr++;
			} else if (t > now) {
				lr_time_iso(t, ts);
				json_array_append_new(next, json_string(ts));
				local_iso(tz, t, ts);
				json_array_append_new(local, json_string(ts));
			}
			json_object_set_new(o, "at", json_string(tk->at));
		}
		json_object_set_new(o, "next", next);
		json_object_set_new(o, "timezone", json_string(tk->timezone ?
		    tk->timezone : "UTC"));
		json_object_set_new(o, "next_local", local);
		sched_tz_free(tz);
		task_targets(c, tk, o);
		if (c->out->tasks)
			json_object_set_new(c->out->tasks, tk->name, o);
		else
			json_decref(o);
	}
}

/*
 * rec_compiled.make_before_break: the services that are not
 * break-before-make, have turndown steps on some host and are placed
 * somewhere, with their hosts.  A service without turndown steps has
 * nothing to wait for; one placed nowhere (num_instances 0, removed from
 * every host) would wait for ever, so it is turned down at once.
 */
static json_t *
make_before_break(struct compile *c)
{
	const json_t *bysvc = json_object_get(c->out->placement, "services");
	json_t *out = json_object(), *doc, *st;
	const struct spec_service *sv;
	const char *h, *svc;
	size_t i;

	json_object_foreach(c->out->desired, h, doc) {
		json_array_foreach(json_object_get(doc, PROTO_DOC_STEPS), i,
		    st) {
			if (strcmp(lr_json_str(st, PROTO_STEP_PHASE),
			    PROTO_PHASE_TURNDOWN) != 0)
				continue;
			svc = lr_json_str(st, PROTO_STEP_SERVICE);
			sv = spec_repo_find_service(c->repo, svc);
			if (sv == NULL || sv->break_before_make ||
			    json_object_get(out, svc) != NULL ||
			    json_array_size(json_object_get(bysvc, svc)) == 0)
				continue;
			json_object_set(out, svc, json_object_get(bysvc,
			    svc));
		}
	}
	return out;
}

void
rec_compile_state_init(struct compile *c, const struct spec_repo *repo,
    unsigned flags, struct rec_compiled *out, struct spec_diags *diags)
{
	memset(c, 0, sizeof(*c));
	c->repo = repo;
	c->flags = flags;
	c->diags = diags;
	c->out = out;
	c->seen = json_object();
	c->services_ctx = json_object();
	c->file_cache = json_object();
	build_members(c);
	rec_build_host_ctx(c);
}

void
rec_compile_state_release(struct compile *c)
{
	const struct spec_repo *repo = c->repo;
	size_t g, h;

	for (g = 0; g < repo->ngroups; g++)
		free(c->members[g]);
	free(c->members);
	free(c->nmembers);
	json_decref(c->ctx);
	for (g = 0; c->role_hv != NULL && g < repo->nroles; g++)
		free(c->role_hv[g]);
	free(c->role_hv);
	for (h = 0; h < repo->nhosts; h++) {
		json_decref(c->hvars[h]);
		json_decref(c->hobj[h]);
		json_decref(c->hname[h]);
	}
	for (g = 0; g < repo->ngroups; g++)
		json_decref(c->gname[g]);
	free(c->hvars);
	free(c->hobj);
	free(c->hname);
	free(c->gname);
	free(c->hfirst);
	free(c->hgroup);
	free(c->hshape);
	free(c->order);
	sched_result_release(&c->sres);
	json_decref(c->seen);
	json_decref(c->services_ctx);
	json_decref(c->file_cache);
	rec_tmpl_cache_release(&c->tmpls);
	lr_buf_release(&c->buf);
	memset(c, 0, sizeof(*c));
}

int
rec_compile(const struct spec_repo *repo, unsigned flags, int64_t now,
    struct rec_compiled *out, struct spec_diags *diags)
{
	struct compile c;
	int nerr;

	memset(out, 0, sizeof(*out));
	if (flags & REC_COMPILE_DESIRED)
		out->files = json_object();
	rec_compile_state_init(&c, repo, flags, out, diags);
	rec_build_shapes(&c);
	place(&c);
	order_services(&c);
	check_tasks(&c, now);
	rec_check_syntax(&c);
	rec_compile_services(&c);
	if (flags & REC_COMPILE_DESIRED)
		out->make_before_break = make_before_break(&c);
	nerr = c.nerr;
	rec_compile_state_release(&c);
	return nerr ? LR_EINVAL : 0;
}

void
rec_compiled_release(struct rec_compiled *c)
{
	if (c == NULL)
		return;
	json_decref(c->placement);
	json_decref(c->spread);
	json_decref(c->desired);
	json_decref(c->files);
	json_decref(c->tasks);
	json_decref(c->make_before_break);
	memset(c, 0, sizeof(*c));
}
