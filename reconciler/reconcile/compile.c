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
 * is known when a run starts) and the steps of services placed nowhere.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "compile.h"
#include "err.h"
#include "hash.h"
#include "scheduler.h"
#include "template.h"
#include "xalloc.h"

/*
 * Parsed templates by the address of their text.  Every text rendered is
 * a string of the repo model or of the file cache, which outlive the
 * compile, and is rendered for many services and hosts: parsed once, its
 * expressions are not looked for again at every render.
 */
struct tmpl_cache {
	const char **key;
	struct spec_tmpl **val;
	size_t	 n, mask;	/* mask + 1 slots, a power of two */
};

struct compile {
	const struct spec_repo *repo;
	unsigned flags;
	struct spec_diags *diags;
	int	 nerr;
	json_t	*seen;		/* template diagnostics already reported */
	/*
	 * Per host: its groups (indices, sorted) are hgroup[hfirst[h] ..
	 * hfirst[h + 1]); the vars layers of build_host_ctx() come from
	 * them.  Its effective vars and its "host" object are built when a
	 * template is first rendered for it.
	 */
	size_t	*hfirst, *hgroup;
	const json_t *allvars;	/* vars of group 'all', or NULL */
	json_t	**hvars;	/* effective vars, or NULL */
	json_t	**hobj;		/* "host" of the context, or NULL */
	json_t	**hname;	/* its name as a JSON string */
	json_t	**gname;	/* per group: its name as a JSON string */
	json_t	*ctx;		/* the template context, reused */
	void	*ctx_host, *ctx_params, *ctx_service;	/* its members */
	bool	**role_hv;	/* per role: step_uses_host_vars(), or NULL */
	size_t	*hshape;	/* per host: id of the skeleton of its vars */
	size_t	 nshapes;
	size_t	**members;	/* per group: host indices */
	size_t	*nmembers;
	struct sched_result sres;
	size_t	*order;		/* service indices, dependencies first */
	json_t	*services_ctx;	/* {"svc":{"hosts":[...]}} */
	json_t	*file_cache;	/* path -> {"sha256","size","content"} */
	struct tmpl_cache tmpls;
	struct lr_buf buf;
	struct rec_compiled *out;
};

void
rec_format_time(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- group membership ---- */

static size_t
group_index(const struct spec_repo *r, const char *name)
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
			g = group_index(r, r->hosts[h].groups[i].name);
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

/* ---- host contexts ---- */

static char *
json_text(const json_t *v)
{
	if (json_is_string(v))
		return lr_xstrdup(json_string_value(v));
	return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
}

/*
 * The skeleton of a JSON value: its structure with every scalar replaced
 * by its type.  Two hosts whose vars have the same skeleton resolve (or
 * fail to resolve) every template name alike, so validation renders a
 * host-vars template once per skeleton, not once per host.
 */
static void
skeleton(const json_t *v, struct lr_buf *b)
{
	const char *k;
	json_t *x;
	size_t i;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		lr_buf_addc(b, '{');
		json_object_foreach((json_t *)v, k, x) {
			lr_buf_adds(b, k);
			lr_buf_addc(b, ':');
			skeleton(x, b);
			lr_buf_addc(b, ',');
		}
		lr_buf_addc(b, '}');
		break;
	case JSON_ARRAY:
		lr_buf_addc(b, '[');
		json_array_foreach((json_t *)v, i, x) {
			skeleton(x, b);
			lr_buf_addc(b, ',');
		}
		lr_buf_addc(b, ']');
		break;
	case JSON_STRING:
		lr_buf_addc(b, 's');
		break;
	case JSON_NULL:
		lr_buf_addc(b, '0');
		break;
	default:	/* numbers and booleans render alike */
		lr_buf_addc(b, 'n');
	}
}

/*
 * Each host's groups, as lists of indices.  Its effective vars are layers
 * merged with the precedence of spec_host_vars(): the vars of 'all', of
 * each of its groups in name order, then its own, later ones winning.
 */
static void
build_host_ctx(struct compile *c)
{
	const struct spec_repo *r = c->repo;
	size_t n = r->nhosts, *next, h, g, i;

	c->hvars = lr_xcalloc(n + 1, sizeof(*c->hvars));
	c->hobj = lr_xcalloc(n + 1, sizeof(*c->hobj));
	c->hname = lr_xcalloc(n + 1, sizeof(*c->hname));
	c->gname = lr_xcalloc(r->ngroups + 1, sizeof(*c->gname));
	c->hfirst = lr_xcalloc(n + 1, sizeof(*c->hfirst));
	if ((g = group_index(r, "all")) != (size_t)-1)
		c->allvars = r->groups[g].vars;
	for (h = 0; h < n; h++)
		c->hname[h] = json_string_nocheck(r->hosts[h].name);
	for (g = 0; g < r->ngroups; g++) {
		c->gname[g] = json_string_nocheck(r->groups[g].name);
		for (i = 0; i < c->nmembers[g]; i++)
			c->hfirst[c->members[g][i] + 1]++;
	}
	for (h = 0; h < n; h++)
		c->hfirst[h + 1] += c->hfirst[h];
	c->hgroup = lr_xmalloc((c->hfirst[n] + 1) * sizeof(*c->hgroup));
	next = lr_xmalloc((n + 1) * sizeof(*next));
	memcpy(next, c->hfirst, n * sizeof(*next));
	/* groups are sorted, so each host's list comes out sorted */
	for (g = 0; g < r->ngroups; g++)
		for (i = 0; i < c->nmembers[g]; i++)
			c->hgroup[next[c->members[g][i]]++] = g;
	free(next);
}

/* Whether group g's vars are a layer of its hosts' vars ('all' is first). */
static bool
group_layer(const struct compile *c, size_t g)
{
	const struct spec_group *gr = &c->repo->groups[g];

	return gr->vars != NULL && strcmp(gr->name, "all") != 0;
}

/* The effective value of var on host h, or NULL: its last layer that has it. */
static const json_t *
host_var(const struct compile *c, size_t h, const char *var)
{
	const json_t *v;
	size_t i;

	if (c->repo->hosts[h].vars != NULL &&
	    (v = json_object_get(c->repo->hosts[h].vars, var)) != NULL)
		return v;
	for (i = c->hfirst[h + 1]; i-- > c->hfirst[h];)
		if (group_layer(c, c->hgroup[i]) && (v = json_object_get(
		    c->repo->groups[c->hgroup[i]].vars, var)) != NULL)
			return v;
	return c->allvars ? json_object_get(c->allvars, var) : NULL;
}

/*
 * Host h's effective vars as one object, built on first use.  It shares
 * its values with the inventory's (json_object_update takes references):
 * nothing modifies them.
 */
static json_t *
host_vars(struct compile *c, size_t h)
{
	json_t *v;
	size_t i;

	if (c->hvars[h] != NULL)
		return c->hvars[h];
	v = json_object();
	if (c->allvars)
		json_object_update(v, (json_t *)c->allvars);
	for (i = c->hfirst[h]; i < c->hfirst[h + 1]; i++)
		if (group_layer(c, c->hgroup[i]))
			json_object_update(v,
			    c->repo->groups[c->hgroup[i]].vars);
	if (c->repo->hosts[h].vars)
		json_object_update(v, c->repo->hosts[h].vars);
	c->hvars[h] = v;
	return v;
}

/* A key of merged vars and its value so far. */
struct kv {
	const char *key;
	const json_t *val;
};

/* Merge layer into kv[0..*n) like json_object_update; false when full. */
static bool
kv_update(struct kv *kv, size_t *n, size_t max, const json_t *layer)
{
	const char *k;
	json_t *v;
	size_t i;

	json_object_foreach((json_t *)layer, k, v) {
		for (i = 0; i < *n && strcmp(kv[i].key, k) != 0; i++)
			;
		if (i == *n) {
			if (*n == max)
				return false;
			kv[(*n)++].key = k;
		}
		kv[i].val = v;
	}
	return true;
}

/*
 * The skeleton of host h's effective vars into b, as skeleton() of
 * host_vars(h) would write it: the keys in the order they were first set,
 * each with its last value.  A host with few vars is merged in a small
 * array rather than in a new JSON object (most hosts never need one).
 */
static void
host_skeleton(struct compile *c, size_t h, struct lr_buf *b)
{
	struct kv kv[64];
	size_t n = 0, i;
	bool ok = true;

	if (c->allvars)
		ok = kv_update(kv, &n, 64, c->allvars);
	for (i = c->hfirst[h]; ok && i < c->hfirst[h + 1]; i++)
		if (group_layer(c, c->hgroup[i]))
			ok = kv_update(kv, &n, 64,
			    c->repo->groups[c->hgroup[i]].vars);
	if (ok && c->repo->hosts[h].vars)
		ok = kv_update(kv, &n, 64, c->repo->hosts[h].vars);
	if (!ok) {
		skeleton(host_vars(c, h), b);
		return;
	}
	lr_buf_addc(b, '{');
	for (i = 0; i < n; i++) {
		lr_buf_adds(b, kv[i].key);
		lr_buf_addc(b, ':');
		skeleton(kv[i].val, b);
		lr_buf_addc(b, ',');
	}
	lr_buf_addc(b, '}');
}

static void
build_shapes(struct compile *c)
{
	json_t *ids = json_object(), *id;
	size_t h;

	c->hshape = lr_xcalloc(c->repo->nhosts + 1, sizeof(*c->hshape));
	for (h = 0; h < c->repo->nhosts; h++) {
		lr_buf_reset(&c->buf);
		lr_buf_adds(&c->buf, "");
		host_skeleton(c, h, &c->buf);
		if ((id = json_object_get(ids, c->buf.s)) == NULL) {
			id = json_integer((json_int_t)c->nshapes++);
			json_object_set_new(ids, c->buf.s, id);
		}
		c->hshape[h] = (size_t)json_integer_value(id);
	}
	json_decref(ids);
}

/* The "host" member of host h's template context, built on first use. */
static json_t *
host_obj(struct compile *c, size_t h)
{
	const struct spec_host *host = &c->repo->hosts[h];
	json_t *o, *groups;
	size_t i;

	if (c->hobj[h] != NULL)
		return c->hobj[h];
	groups = json_array();
	for (i = c->hfirst[h]; i < c->hfirst[h + 1]; i++)
		json_array_append(groups, c->gname[c->hgroup[i]]);
	/* json_pack is slow at this volume: build by hand */
	o = json_object();
	json_object_set_nocheck(o, "name", c->hname[h]);
	json_object_set_new_nocheck(o, "address", host->address ?
	    json_string_nocheck(host->address) : json_incref(c->hname[h]));
	json_object_set_nocheck(o, "vars", host_vars(c, h));
	json_object_set_new_nocheck(o, "groups", groups);
	c->hobj[h] = o;
	return o;
}

/* ---- placement ---- */

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
		if ((j = host_var(c, h, var)) != NULL &&
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
	json_t *byhost, *bysvc, *list, *svname, **hlist, *o;
	int rc;

	hosts = lr_xcalloc(r->nhosts ? r->nhosts : 1, sizeof(*hosts));
	for (h = 0; h < r->nhosts; h++)
		hosts[h].name = r->hosts[h].name;
	svcs = lr_xcalloc(r->nservices ? r->nservices : 1, sizeof(*svcs));
	elig = lr_xcalloc(r->nservices ? r->nservices : 1, sizeof(*elig));
	for (s = 0; s < r->nservices; s++) {
		const struct spec_service *sv = &r->services[s];
		const char *gname = sv->scheduling_group.name ?
		    sv->scheduling_group.name : "all";

		svcs[s].name = sv->name;
		svcs[s].num_instances = sv->num_instances;
		g = group_index(r, gname);
		if (g == (size_t)-1)
			continue;	/* unknown group: already reported */
		elig[s] = lr_xmalloc((c->nmembers[g] + 1) * sizeof(size_t));
		if (sv->spread_by.name)
			svcs[s].spread = spread_values(c, &spread, &nspread,
			    &spread_cap, sv->spread_by.name);
		for (i = 0; i < c->nmembers[g]; i++) {
			h = c->members[g][i];
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
		json_object_set_new_nocheck(bysvc, sv->name, list);
		o = json_object();
		json_object_set_nocheck(o, "hosts", list);
		json_object_set_new_nocheck(c->services_ctx, sv->name, o);
		if (p->error) {
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

static int
scalar_col_offset(const struct spec_node *n)
{
	return n && n->style == SPEC_STYLE_QUOTED ? 1 : 0;
}

static void
check_tasks(struct compile *c, int64_t now)
{
	const struct spec_repo *r = c->repo;
	char errbuf[256], ts[32];
	struct sched_cron *cron;
	json_t *o, *next;
	int64_t t;
	size_t i, errpos;
	int k;

	if (c->flags & REC_COMPILE_TASKS)
		c->out->tasks = json_object();
	for (i = 0; i < r->ntasks; i++) {
		const struct spec_task *tk = &r->tasks[i];

		o = json_object();
		next = json_array();
		if (tk->cron) {
			errpos = 0;
			if (sched_cron_parse(tk->cron, &cron, errbuf,
			    sizeof(errbuf), &errpos) < 0) {
				const struct spec_node *n = tk->cron_node;

				spec_diag_hint(spec_diag_pos(c->diags,
				    n ? n->file : NULL, tk->path,
				    n ? n->line : 0, n ? n->col + (int)errpos +
				    scalar_col_offset(n) : 0, 1,
				    "invalid cron expression '%s' in task "
				    "'%s': %s", tk->cron, tk->name, errbuf),
				    "five fields: minute hour day-of-month "
				    "month day-of-week, e.g. \"0 3 * * *\"; "
				    "see leura-spec(5), TASKS");
				c->nerr++;
			} else {
				t = now;
				for (k = 0; k < 3; k++) {
					if (sched_cron_next(cron, t, &t) < 0)
						break;
					rec_format_time(t, ts, sizeof(ts));
					json_array_append_new(next,
					    json_string(ts));
				}
				sched_cron_free(cron);
			}
			json_object_set_new(o, "cron", json_string(tk->cron));
		} else if (tk->at) {
			if (sched_at_parse(tk->at, &t, errbuf,
			    sizeof(errbuf)) < 0) {
				spec_diag_hint(spec_diag_at(c->diags,
				    tk->at_node, "invalid time '%s' in task "
				    "'%s': %s", tk->at, tk->name, errbuf),
				    "write an RFC 3339 time such as "
				    "\"2026-12-01T03:00:00Z\"");
				c->nerr++;
			} else if (t > now) {
				rec_format_time(t, ts, sizeof(ts));
				json_array_append_new(next, json_string(ts));
			}
			json_object_set_new(o, "at", json_string(tk->at));
		}
		json_object_set_new(o, "next", next);
		if (c->out->tasks)
			json_object_set_new(c->out->tasks, tk->name, o);
		else
			json_decref(o);
	}
}

/* ---- templates ---- */

static size_t
count_nl(const char *s, size_t n, size_t *last)
{
	size_t i, k = 0;

	*last = (size_t)-1;
	for (i = 0; i < n; i++)
		if (s[i] == '\n')
			k++, *last = i;
	return k;
}

/*
 * Report a template error at its position: in a YAML scalar (node) or in
 * a template file (fpath with its content text).
 */
static void
tmpl_error(struct compile *c, const struct spec_node *n, const char *fpath,
    const char *text, const struct spec_tmpl_error *e, const char *host)
{
	struct spec_file tmp;
	const struct spec_file *f;
	const char *path, *src, *hit;
	struct spec_diag *dg;
	size_t nl, last, slen, elen;
	int line, col;
	char *key;

	memset(&tmp, 0, sizeof(tmp));
	nl = count_nl(text, e->offset, &last);
	elen = strcspn(text + e->offset, "\n");
	if (elen > e->len)
		elen = e->len;
	if (fpath) {
		tmp.path = (char *)fpath;
		tmp.buf = (char *)text;
		tmp.len = strlen(text);
		f = &tmp;
		path = fpath;
		line = (int)nl + 1;
		col = (int)(e->offset - (last == (size_t)-1 ? 0 : last + 1)) + 1;
	} else {
		f = n ? n->file : NULL;
		path = f ? f->path : "";
		line = n ? n->line + (int)nl +
		    (n->style == SPEC_STYLE_BLOCK ? 1 : 0) : 0;
		col = n ? (nl == 0 && n->style != SPEC_STYLE_BLOCK ?
		    n->col + scalar_col_offset(n) + (int)e->offset : 1) : 0;
		/* find the expression on its source line for the exact column */
		if (f && (src = spec_file_line(f, line, &slen)) != NULL &&
		    elen > 0 && (hit = memmem(src, slen, text + e->offset,
		    elen)) != NULL)
			col = (int)(hit - src) + 1;
	}
	key = lr_xasprintf("%s:%d:%d:%s", path, line, col, e->msg);
	if (json_object_get(c->seen, key)) {
		free(key);
		return;
	}
	json_object_set_new(c->seen, key, json_true());
	free(key);
	/* name the host only when the problem depends on it */
	if (host && strstr(e->msg, "'host."))
		dg = spec_diag_pos(c->diags, f, path, line, col, (int)elen,
		    "%s (rendering for host '%s')", e->msg, host);
	else
		dg = spec_diag_pos(c->diags, f, path, line, col, (int)elen,
		    "%s", e->msg);
	if (e->hint[0])
		spec_diag_hint(dg, "%s", e->hint);
	c->nerr++;
}

static size_t
tmpl_slot(const struct tmpl_cache *tc, const char *text)
{
	/* Fibonacci hashing of the address; the low bits are alignment */
	uintptr_t h = ((uintptr_t)text >> 3) * (uintptr_t)0x9e3779b97f4a7c15ULL;

	return (size_t)(h >> 16) & tc->mask;
}

/* The parsed template of text, parsed on first use. */
static const struct spec_tmpl *
tmpl_get(struct compile *c, const char *text)
{
	struct tmpl_cache *tc = &c->tmpls, old;
	size_t i, j;

	if (tc->key != NULL) {
		for (i = tmpl_slot(tc, text); tc->key[i] != NULL;
		    i = (i + 1) & tc->mask)
			if (tc->key[i] == text)
				return tc->val[i];
	}
	if (2 * (tc->n + 1) > (tc->key ? tc->mask + 1 : 0)) {
		/* keep it at most half full */
		old = *tc;
		tc->mask = old.key ? 2 * old.mask + 1 : 255;
		tc->key = lr_xcalloc(tc->mask + 1, sizeof(*tc->key));
		tc->val = lr_xcalloc(tc->mask + 1, sizeof(*tc->val));
		for (j = 0; old.key && j <= old.mask; j++) {
			if (old.key[j] == NULL)
				continue;
			for (i = tmpl_slot(tc, old.key[j]); tc->key[i] != NULL;
			    i = (i + 1) & tc->mask)
				;
			tc->key[i] = old.key[j];
			tc->val[i] = old.val[j];
		}
		free(old.key);
		free(old.val);
	}
	for (i = tmpl_slot(tc, text); tc->key[i] != NULL;
	    i = (i + 1) & tc->mask)
		;
	tc->key[i] = text;
	tc->val[i] = spec_tmpl_parse(text, strlen(text));
	tc->n++;
	return tc->val[i];
}

static void
tmpl_cache_release(struct tmpl_cache *tc)
{
	size_t i;

	for (i = 0; tc->key != NULL && i <= tc->mask; i++)
		spec_tmpl_free(tc->val[i]);
	free(tc->key);
	free(tc->val);
	memset(tc, 0, sizeof(*tc));
}

/*
 * Where a text of a step was written: node[path[0]][path[1]]...  Texts
 * are rendered many times and their nodes are needed only for messages,
 * so the lookup waits for one.  A NULL node: the text is a file's.
 */
struct where {
	const struct spec_node *node;
	const char *path[3];	/* keys, up to the first NULL */
};

/* st->node[k1][k2] (k2 may be NULL) */
static struct where
at(const struct spec_step *st, const char *k1, const char *k2)
{
	struct where w = { st->node, { k1, k2, NULL } };

	return w;
}

static const struct where nowhere = { NULL, { NULL, NULL, NULL } };

static const struct spec_node *
where_node(const struct where *w)
{
	const struct spec_node *n = w->node;
	size_t i;

	for (i = 0; i < 3 && w->path[i] != NULL; i++)
		n = spec_node_get(n, w->path[i]);
	return n;
}

/*
 * Render text with ctx.  Returns the result, borrowed until the next
 * render (text itself when it has no "{{"), or NULL after reporting the
 * error.  Validation renders much and keeps nothing: no copy is made.
 */
static const char *
render(struct compile *c, const char *text, struct where w,
    const char *fpath, const json_t *ctx, const char *host)
{
	const struct spec_tmpl *t = tmpl_get(c, text);
	struct spec_tmpl_error e;
	size_t len, base = 0;
	bool failed = false;
	int rc;

	if (spec_tmpl_is_text(t))
		return text;
	len = strlen(text);
	/*
	 * On an error, report it and go on with the text after the failing
	 * expression, so one run shows every bad name of a template.  The
	 * whole text renders from its parsed form, what follows an error
	 * from the text itself.
	 */
	for (;;) {
		lr_buf_reset(&c->buf);
		if (base == 0)
			rc = spec_tmpl_render_parsed(t, ctx, &c->buf, &e);
		else
			rc = spec_tmpl_render(text + base, len - base, ctx,
			    &c->buf, &e);
		if (rc == 0)
			break;
		failed = true;
		e.offset += base;
		tmpl_error(c, where_node(&w), fpath, text, &e, host);
		base = e.offset + (e.len ? e.len : 1);
		if (base >= len)
			break;
	}
	if (failed)
		return NULL;
	return c->buf.s ? c->buf.s : "";
}

static const struct spec_node *
step_field_node(const struct spec_step *st, const char *sub, const char *key)
{
	const struct spec_node *n = st->node;

	if (sub)
		n = spec_node_get(n, sub);
	return spec_node_get(n, key);
}

/*
 * A path field written as a template must still be absolute once rendered:
 * report it once per field, naming the first host it happened on.
 */
static const char *
check_abs(struct compile *c, const char *s, struct where w,
    const char *field, const char *host)
{
	const struct spec_node *n;
	struct spec_diag *dg;
	char *key;

	if (s == NULL || s[0] == '/')
		return s;
	n = where_node(&w);
	key = lr_xasprintf("abs:%p", (const void *)n);
	if (json_object_get(c->seen, key) == NULL) {
		json_object_set_new(c->seen, key, json_true());
		dg = spec_diag_at(c->diags, n, "'%s' renders to '%s' on host "
		    "'%s', which is not an absolute path", field, s,
		    host ? host : "?");
		spec_diag_hint(dg, "start the value with '/' or with a "
		    "variable that holds an absolute path");
		c->nerr++;
	}
	free(key);
	return NULL;
}

/* ---- files ---- */

/*
 * The raw content of a repo file, cached: {"content","size"} and
 * "sha256" once file_sha256() was asked, or {"sha256","size","binary",
 * "bytes"} when it is not UTF-8 ("bytes" holds them in a string made with
 * json_stringn_nocheck: never dump it); null when it cannot be read
 * (reported).
 */
static const json_t *
file_raw(struct compile *c, const char *path)
{
	struct lr_err err;
	char sha[LR_SHA256_HEX_LEN + 1], *buf;
	json_t *o;
	size_t len;

	if ((o = json_object_get(c->file_cache, path)) != NULL)
		return o;
	lr_err_clear(&err);
	if (spec_source_read(c->repo->src, path, &buf, &len, &err) < 0) {
		spec_diag_pos(c->diags, NULL, path, 0, 0, 1, "%s", err.msg);
		c->nerr++;
		o = json_null();
	} else {
		o = json_pack("{s:s%, s:I}", "content", buf, len, "size",
		    (json_int_t)len);
		if (o == NULL) {	/* not UTF-8: the bytes, apart */
			lr_sha256_hex(buf, len, sha);
			o = json_pack("{s:s, s:I, s:b, s:o}", "sha256", sha,
			    "size", (json_int_t)len, "binary", 1, "bytes",
			    json_stringn_nocheck(buf, len));
		}
		free(buf);
	}
	json_object_set_new(c->file_cache, path, o);
	return o;
}

/*
 * The "sha256" of a file_raw() object, computed on first use: only the
 * desired state needs it, validation does not.
 */
static json_t *
file_sha256(json_t *raw)
{
	char sha[LR_SHA256_HEX_LEN + 1];
	json_t *content, *v;

	if ((v = json_object_get(raw, "sha256")) != NULL)
		return v;
	content = json_object_get(raw, "content");
	lr_sha256_hex(json_string_value(content), json_string_length(content),
	    sha);
	v = json_string(sha);
	json_object_set_new(raw, "sha256", v);
	return v;
}

static void
add_file(struct compile *c, json_t *step, const char *content, size_t len)
{
	char sha[LR_SHA256_HEX_LEN + 1];

	lr_sha256_hex(content, len, sha);
	json_object_set_new(step, "sha256", json_string(sha));
	json_object_set_new(step, "size", json_integer((json_int_t)len));
	if (c->out->files && json_object_get(c->out->files, sha) == NULL)
		json_object_set_new(c->out->files, sha, json_pack("{s:I, s:s%}",
		    "size", (json_int_t)len, "content", content, len));
}

/* ---- steps ---- */

/* Set o[k] to s, unless s is NULL (an error was reported). */
static void
set_str(json_t *o, const char *k, const char *s)
{
	if (s)
		json_object_set_new(o, k, json_string(s));
}

/* Render the string values of obj (env, headers). */
static json_t *
render_obj(struct compile *c, const json_t *obj, struct where w,
    const json_t *ctx, const char *host)
{
	json_t *o = json_object(), *v;
	struct where wk = w;
	const char *k, *s;
	size_t i;

	/* each value at w's node, under its key */
	for (i = 0; i < 2 && w.path[i] != NULL; i++)
		;
	json_object_foreach((json_t *)obj, k, v) {
		if (!json_is_string(v)) {
			json_object_set(o, k, v);
			continue;
		}
		wk.path[i] = k;
		s = render(c, json_string_value(v), wk, NULL, ctx, host);
		set_str(o, k, s);
	}
	return o;
}

/*
 * Compile one step for one host (host may be NULL: a check of the
 * host-independent parts only).  Returns the step JSON when want is true.
 */
static json_t *
compile_step(struct compile *c, const struct spec_step *st,
    const char *svc, const char *role, const json_t *ctx, const char *host,
    bool want)
{
	const struct spec_defaults *df = &c->repo->settings.defaults;
	json_t *o = NULL, *raw;
	const char *s;
	char *id, mode[16];
	size_t i;

	if (want) {
		o = json_object();
		id = lr_xasprintf("%s/%s/%s/%s", svc, role,
		    spec_phase_name(st->phase), st->name);
		set_str(o, "id", id);
		free(id);
		json_object_set_new(o, "service", json_string(svc));
		json_object_set_new(o, "role", json_string(role));
		json_object_set_new(o, "phase",
		    json_string(spec_phase_name(st->phase)));
		json_object_set_new(o, "name", json_string(st->name));
		json_object_set_new(o, "kind",
		    json_string(spec_step_kind_name(st->kind)));
	}
	switch (st->kind) {
	case SPEC_STEP_SCRIPT:
		s = render(c, st->script ? st->script : "", st->script_file ?
		    nowhere : at(st, "script", NULL), st->script_file, ctx,
		    host);
		if (o) {
			set_str(o, "script", s);
			json_object_set_new(o, "shell", json_string(
			    st->interpreter ? st->interpreter : "/bin/sh"));
			if (st->script_file)
				json_object_set_new(o, "script_file",
				    json_string(st->script_file));
		}
		break;
	case SPEC_STEP_FILE:
		s = check_abs(c, render(c, st->dest ? st->dest : "",
		    at(st, "file", "dest"), NULL, ctx, host),
		    at(st, "file", "dest"), "dest", host);
		if (o)
			set_str(o, "dest", s);
		if (st->src) {
			raw = (json_t *)file_raw(c, st->src);
			if (!json_is_object(raw))
				break;
			if (st->template && json_object_get(raw, "content")) {
				s = render(c, json_string_value(json_object_get(
				    raw, "content")), nowhere, st->src, ctx,
				    host);
				if (s && o)
					add_file(c, o, s, strlen(s));
			} else if (o) {
				/* text as "content", binary as "bytes" */
				const char *kind = json_object_get(raw,
				    "content") ? "content" : "bytes";
				json_t *ct = json_object_get(raw, kind);

				json_object_set(o, "sha256",
				    file_sha256(raw));
				json_object_set(o, "size",
				    json_object_get(raw, "size"));
				if (c->out->files && ct)
					json_object_set_new(c->out->files,
					    json_string_value(file_sha256(raw)),
					    json_pack("{s:O, s:O}", "size",
					    json_object_get(raw, "size"), kind,
					    ct));
			}
			if (o)
				json_object_set_new(o, "src",
				    json_string(st->src));
		} else if (st->content) {
			s = st->template ? render(c, st->content,
			    at(st, "file", "content"), NULL, ctx, host) :
			    st->content;
			if (s && o)
				add_file(c, o, s, strlen(s));
		}
		if (o) {
			if (st->mode >= 0) {
				snprintf(mode, sizeof(mode), "%04o", st->mode);
				json_object_set_new(o, "mode",
				    json_string(mode));
			}
			if (st->owner)
				json_object_set_new(o, "owner",
				    json_string(st->owner));
			if (st->group)
				json_object_set_new(o, "group",
				    json_string(st->group));
		}
		break;
	case SPEC_STEP_HTTP:
		s = render(c, st->url ? st->url : "", at(st, "http", "url"),
		    NULL, ctx, host);
		if (o)
			set_str(o, "url", s);
		if (st->body) {
			s = render(c, st->body, at(st, "http", "body"), NULL,
			    ctx, host);
			if (o)
				set_str(o, "body", s);
		}
		if (st->headers) {
			json_t *hd = render_obj(c, st->headers,
			    at(st, "http", "headers"), ctx, host);

			if (o)
				json_object_set_new(o, "headers", hd);
			else
				json_decref(hd);
		}
		if (o) {
			json_object_set_new(o, "method", json_string(
			    st->method ? st->method : "GET"));
			if (st->expect_status)
				json_object_set_new(o, "expect_status",
				    json_integer(st->expect_status));
		}
		break;
	case SPEC_STEP_USE:
		if (o) {
			json_t *ex, *ct;
			char *path = lr_xasprintf("steps/%s", st->use);

			json_object_set_new(o, "use", json_string(st->use));
			if (st->with)
				json_object_set(o, "with", st->with);
			/* the agent runs the executable from desired/files/ */
			ex = (json_t *)file_raw(c, path);
			if (json_is_object(ex)) {
				json_object_set(o, "exec_sha256",
				    file_sha256(ex));
				ct = json_object_get(ex, "content");
				if (c->out->files && ct)
					json_object_set_new(c->out->files,
					    json_string_value(file_sha256(ex)),
					    json_pack("{s:O, s:O}", "size",
					    json_object_get(ex, "size"),
					    "content", ct));
			}
			free(path);
		}
		break;
	case SPEC_STEP_APPROVAL:
		break;
	}
	if (st->env) {
		json_t *env = render_obj(c, st->env, at(st, "env", NULL), ctx,
		    host);

		if (o)
			json_object_set_new(o, "env", env);
		else
			json_decref(env);
	}
	if (st->creates) {
		s = check_abs(c, render(c, st->creates, at(st, "creates", NULL),
		    NULL, ctx, host), at(st, "creates", NULL), "creates", host);
		if (o)
			set_str(o, "creates", s);
	}
	if (st->unless) {
		s = render(c, st->unless, at(st, "unless", NULL), NULL, ctx,
		    host);
		if (o)
			set_str(o, "unless", s);
	}
	if (st->cwd) {
		s = check_abs(c, render(c, st->cwd, at(st, "cwd", NULL), NULL,
		    ctx, host), at(st, "cwd", NULL), "cwd", host);
		if (o)
			set_str(o, "cwd", s);
	}
	if (o == NULL)
		return NULL;
	if (st->run_as || df->run_as)
		json_object_set_new(o, "run_as", json_string(st->run_as ?
		    st->run_as : df->run_as));
	json_object_set_new(o, "timeout_ms", json_integer(st->timeout_ms >= 0 ?
	    st->timeout_ms : df->timeout_ms));
	json_object_set_new(o, "retries", json_integer(st->retries >= 0 ?
	    st->retries : df->retries));
	if (st->nwhen_changed) {
		json_t *wc = json_array();

		for (i = 0; i < st->nwhen_changed; i++)
			json_array_append_new(wc,
			    json_string(st->when_changed[i].name));
		json_object_set_new(o, "when_changed", wc);
	}
	return o;
}

/*
 * Does any template of the step mention host vars?  host.name, .address
 * and .groups exist on every host with the same type, so a template using
 * only those renders or fails alike everywhere: validation checks it once.
 */
static bool
step_uses_host_vars(struct compile *c, const struct spec_step *st)
{
	const char *fields[] = { st->script, st->dest, st->url, st->body,
	    st->content, st->creates, st->unless, st->cwd };
	const json_t *objs[] = { st->env, st->headers };
	const json_t *raw;
	const char *k;
	json_t *v;
	size_t i;

	for (i = 0; i < sizeof(fields) / sizeof(*fields); i++)
		if (fields[i] && strstr(fields[i], "host.vars"))
			return true;
	for (i = 0; i < 2; i++) {
		if (objs[i] == NULL)
			continue;
		json_object_foreach((json_t *)objs[i], k, v)
			if (json_is_string(v) &&
			    strstr(json_string_value(v), "host.vars"))
				return true;
	}
	if (st->template && st->src && (raw = file_raw(c, st->src)) != NULL &&
	    (v = json_object_get(raw, "content")) != NULL &&
	    strstr(json_string_value(v), "host.vars"))
		return true;
	return false;
}

static json_t *
merged_params(const struct spec_role *role, const struct spec_service *sv)
{
	json_t *p = json_object();

	if (role && role->params)
		json_object_update(p, role->params);
	if (sv->params)
		json_object_update(p, sv->params);
	return p;
}

/* Compile role's steps for every host of service sv (see the file comment). */
static void
compile_role(struct compile *c, const struct spec_service *sv,
    const struct sched_placement *pl, const struct spec_role *role,
    const json_t *svcctx)
{
	const struct spec_repo *r = c->repo;
	bool want = (c->flags & REC_COMPILE_DESIRED) != 0;
	const struct spec_step *steps[3];
	size_t nsteps[3], p, s, i, k, n = 0, h;
	json_t *params, *stepj, *list = NULL;
	bool *per_host, *seen = NULL;
	size_t ntot;

	steps[0] = role->converge, nsteps[0] = role->nconverge;
	steps[1] = role->validate, nsteps[1] = role->nvalidate;
	steps[2] = role->turndown, nsteps[2] = role->nturndown;
	ntot = nsteps[0] + nsteps[1] + nsteps[2];
	/* a property of the role's steps: worked out once per role */
	if ((per_host = c->role_hv[role - r->roles]) == NULL) {
		per_host = lr_xcalloc(ntot + 1, sizeof(*per_host));
		for (p = 0; p < 3; p++)
			for (s = 0; s < nsteps[p]; s++)
				per_host[n++] = step_uses_host_vars(c,
				    &steps[p][s]);
		c->role_hv[role - r->roles] = per_host;
	}
	/* validation only: which (step, vars skeleton) pairs were rendered */
	if (!want)
		seen = lr_xcalloc(ntot * c->nshapes + 1, sizeof(*seen));
	params = merged_params(role, sv);
	/* set through iterators: no key to hash at every swap */
	json_object_iter_set(c->ctx, c->ctx_params, params);
	json_object_iter_set(c->ctx, c->ctx_service, (json_t *)svcctx);
	for (i = 0; i < pl->n; i++) {
		h = pl->hosts[i];
		if (!want) {
			for (k = 0; k < ntot; k++)
				if (per_host[k] &&
				    !seen[k * c->nshapes + c->hshape[h]])
					break;
			if (i > 0 && k == ntot)
				continue;	/* nothing new to check here */
		}
		json_object_iter_set(c->ctx, c->ctx_host, host_obj(c, h));
		if (want)
			list = json_object_get(json_object_get(c->out->desired,
			    r->hosts[h].name), "steps");
		for (p = 0, k = 0; p < 3; p++) {
			for (s = 0; s < nsteps[p]; s++, k++) {
				if (!want && i > 0 && (!per_host[k] ||
				    seen[k * c->nshapes + c->hshape[h]]))
					continue;
				if (!want)
					seen[k * c->nshapes + c->hshape[h]] =
					    true;
				stepj = compile_step(c, &steps[p][s], sv->name,
				    role->name, c->ctx, r->hosts[h].name, want);
				if (stepj)
					json_array_append_new(list, stepj);
			}
		}
	}
	free(seen);
	json_decref(params);
}

static void
compile_services(struct compile *c)
{
	const struct spec_repo *r = c->repo;
	const struct spec_role *role;
	json_t *svcctx;
	size_t k, i, ri, h;

	/*
	 * One context for every render: compile_role() swaps its members.
	 * The keys go in first, in this order, which hints listing the
	 * names ("names start with host., params., ...") show.
	 */
	c->ctx = json_object();
	json_object_set_new_nocheck(c->ctx, "host", json_null());
	json_object_set_new_nocheck(c->ctx, "params", json_null());
	json_object_set_new_nocheck(c->ctx, "service", json_null());
	json_object_set_nocheck(c->ctx, "services", c->services_ctx);
	c->ctx_host = json_object_iter_at(c->ctx, "host");
	c->ctx_params = json_object_iter_at(c->ctx, "params");
	c->ctx_service = json_object_iter_at(c->ctx, "service");
	c->role_hv = lr_xcalloc(r->nroles + 1, sizeof(*c->role_hv));
	if (c->flags & REC_COMPILE_DESIRED) {
		c->out->desired = json_object();
		for (h = 0; h < r->nhosts; h++)
			json_object_set_new(c->out->desired, r->hosts[h].name,
			    json_pack("{s:[], s:[]}", "services", "steps"));
	}
	for (k = 0; k < r->nservices; k++) {
		const struct spec_service *sv = &r->services[c->order[k]];
		const struct sched_placement *pl =
		    &c->sres.services[c->order[k]];

		svcctx = json_object();
		json_object_set_new_nocheck(svcctx, "name",
		    json_string_nocheck(sv->name));
		if (c->out->desired)
			for (i = 0; i < pl->n; i++)
				json_array_append_new(json_object_get(
				    json_object_get(c->out->desired,
				    r->hosts[pl->hosts[i]].name), "services"),
				    json_string(sv->name));
		for (ri = 0; ri < sv->nroles; ri++)
			if ((role = spec_repo_find_role(r,
			    sv->roles[ri].name)) != NULL)
				compile_role(c, sv, pl, role, svcctx);
		json_decref(svcctx);
	}
}

/* Template syntax of every step of every role and task, placed or not. */
static void
check_syntax_cb(const struct spec_tmpl_error *e, void *arg)
{
	void **a = arg;

	tmpl_error(a[0], a[1], a[2], a[3], e, NULL);
}

static bool
has_expr(const char *text)
{
	return text != NULL && spec_tmpl_has_expr(text, strlen(text));
}

/* Check text, written at n or in file fpath; it has an expression. */
static void
check_text(struct compile *c, const char *text, const struct spec_node *n,
    const char *fpath)
{
	void *arg[4];

	arg[0] = c;
	arg[1] = (void *)n;
	arg[2] = (void *)fpath;
	arg[3] = (void *)text;
	spec_tmpl_check(text, strlen(text), check_syntax_cb, arg);
}

static void
check_obj_syntax(struct compile *c, const json_t *obj,
    const struct spec_node *n)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)obj, k, v)
		if (json_is_string(v) && has_expr(json_string_value(v)))
			check_text(c, json_string_value(v), spec_node_get(n, k),
			    NULL);
}

static void
check_steps_syntax(struct compile *c, const struct spec_step *v, size_t n)
{
	const json_t *raw;
	size_t i;

	for (i = 0; i < n; i++) {
		const struct spec_step *st = &v[i];

		/* nodes are looked up only for texts that need a check */
		if (has_expr(st->script))
			check_text(c, st->script, st->script_file ? NULL :
			    step_field_node(st, NULL, "script"),
			    st->script_file);
		if (has_expr(st->dest))
			check_text(c, st->dest, step_field_node(st, "file",
			    "dest"), NULL);
		if (has_expr(st->url))
			check_text(c, st->url, step_field_node(st, "http",
			    "url"), NULL);
		if (has_expr(st->creates))
			check_text(c, st->creates, spec_node_get(st->node,
			    "creates"), NULL);
		if (has_expr(st->unless))
			check_text(c, st->unless, spec_node_get(st->node,
			    "unless"), NULL);
		if (has_expr(st->cwd))
			check_text(c, st->cwd, spec_node_get(st->node, "cwd"),
			    NULL);
		if (has_expr(st->body))
			check_text(c, st->body, step_field_node(st, "http",
			    "body"), NULL);
		if (st->template && has_expr(st->content))
			check_text(c, st->content, step_field_node(st, "file",
			    "content"), NULL);
		if (st->env)
			check_obj_syntax(c, st->env, spec_node_get(st->node,
			    "env"));
		if (st->headers)
			check_obj_syntax(c, st->headers, step_field_node(st,
			    "http", "headers"));
		if (st->template && st->src && (raw = file_raw(c, st->src)) &&
		    json_is_object(raw) && has_expr(json_string_value(
		    json_object_get(raw, "content"))))
			check_text(c, json_string_value(json_object_get(raw,
			    "content")), NULL, st->src);
	}
}

static void
check_all_syntax(struct compile *c)
{
	const struct spec_repo *r = c->repo;
	size_t i;

	for (i = 0; i < r->nroles; i++) {
		check_steps_syntax(c, r->roles[i].converge,
		    r->roles[i].nconverge);
		check_steps_syntax(c, r->roles[i].validate,
		    r->roles[i].nvalidate);
		check_steps_syntax(c, r->roles[i].turndown,
		    r->roles[i].nturndown);
	}
	for (i = 0; i < r->ntasks; i++)
		check_steps_syntax(c, r->tasks[i].steps, r->tasks[i].nsteps);
}

int
rec_compile(const struct spec_repo *repo, unsigned flags, int64_t now,
    struct rec_compiled *out, struct spec_diags *diags)
{
	struct compile c;
	size_t g, h;

	memset(out, 0, sizeof(*out));
	memset(&c, 0, sizeof(c));
	c.repo = repo;
	c.flags = flags;
	c.diags = diags;
	c.out = out;
	c.seen = json_object();
	c.services_ctx = json_object();
	c.file_cache = json_object();
	if (flags & REC_COMPILE_DESIRED)
		out->files = json_object();

	build_members(&c);
	build_host_ctx(&c);
	build_shapes(&c);
	place(&c);
	order_services(&c);
	check_tasks(&c, now);
	check_all_syntax(&c);
	compile_services(&c);

	for (g = 0; g < repo->ngroups; g++)
		free(c.members[g]);
	free(c.members);
	free(c.nmembers);
	json_decref(c.ctx);
	for (g = 0; c.role_hv != NULL && g < repo->nroles; g++)
		free(c.role_hv[g]);
	free(c.role_hv);
	for (h = 0; h < repo->nhosts; h++) {
		json_decref(c.hvars[h]);
		json_decref(c.hobj[h]);
		json_decref(c.hname[h]);
	}
	for (g = 0; g < repo->ngroups; g++)
		json_decref(c.gname[g]);
	free(c.hvars);
	free(c.hobj);
	free(c.hname);
	free(c.gname);
	free(c.hfirst);
	free(c.hgroup);
	free(c.hshape);
	free(c.order);
	sched_result_release(&c.sres);
	json_decref(c.seen);
	json_decref(c.services_ctx);
	json_decref(c.file_cache);
	tmpl_cache_release(&c.tmpls);
	lr_buf_release(&c.buf);
	return c.nerr ? LR_EINVAL : 0;
}

void
rec_compiled_release(struct rec_compiled *c)
{
	if (c == NULL)
		return;
	json_decref(c->placement);
	json_decref(c->desired);
	json_decref(c->files);
	json_decref(c->tasks);
	memset(c, 0, sizeof(*c));
}
