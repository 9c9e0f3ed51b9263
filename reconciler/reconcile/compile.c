/*
 * rec_compile: spec repo -> placement, task schedules and per-host desired
 * state.  Pure with respect to the repo: the same commit compiles to the
 * same JSON on any machine (placement is a function of names only).
 *
 * Work is shared where the result does not depend on the host: each host's
 * template context (its vars, groups) is built once; when only validating,
 * a template that does not mention host vars renders once per service, and
 * one that does renders once per distinct shape of host vars (see
 * skeleton()); files are read and hashed once per path.
 *
 * What is not rendered is only syntax-checked: task steps (their context
 * is known when a run starts) and the steps of services placed nowhere.
 */
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

struct compile {
	const struct spec_repo *repo;
	unsigned flags;
	struct spec_diags *diags;
	int	 nerr;
	json_t	*seen;		/* template diagnostics already reported */
	json_t	**hvars;	/* effective vars per host */
	json_t	**hctx;		/* per-host template context */
	size_t	*hshape;	/* per host: id of the skeleton of its vars */
	size_t	 nshapes;
	size_t	**members;	/* per group: host indices */
	size_t	*nmembers;
	struct sched_result sres;
	size_t	*order;		/* service indices, dependencies first */
	json_t	*services_ctx;	/* {"svc":{"hosts":[...]}} */
	json_t	*file_cache;	/* path -> {"sha256","size","content"} */
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

static void
build_shapes(struct compile *c)
{
	json_t *ids = json_object(), *id;
	size_t h;

	c->hshape = lr_xcalloc(c->repo->nhosts + 1, sizeof(*c->hshape));
	for (h = 0; h < c->repo->nhosts; h++) {
		lr_buf_reset(&c->buf);
		lr_buf_adds(&c->buf, "");
		skeleton(c->hvars[h], &c->buf);
		if ((id = json_object_get(ids, c->buf.s)) == NULL) {
			id = json_integer((json_int_t)c->nshapes++);
			json_object_set_new(ids, c->buf.s, id);
		}
		c->hshape[h] = (size_t)json_integer_value(id);
	}
	json_decref(ids);
}

/*
 * Each host's template context and effective vars.  Same precedence as
 * spec_host_vars() ('all', then groups in name order, then the host), but
 * computed from the membership lists in one pass over them.
 */
static void
build_host_ctx(struct compile *c)
{
	const struct spec_repo *r = c->repo;
	json_t **groups, *host, *allvars = NULL;
	size_t h, g, i;

	c->hvars = lr_xcalloc(r->nhosts ? r->nhosts : 1, sizeof(*c->hvars));
	c->hctx = lr_xcalloc(r->nhosts ? r->nhosts : 1, sizeof(*c->hctx));
	groups = lr_xcalloc(r->nhosts ? r->nhosts : 1, sizeof(*groups));
	if ((g = group_index(r, "all")) != (size_t)-1)
		allvars = r->groups[g].vars;
	for (h = 0; h < r->nhosts; h++) {
		c->hvars[h] = allvars ? json_deep_copy(allvars) : json_object();
		groups[h] = json_array();
	}
	/* groups are sorted, so each host's list comes out sorted */
	for (g = 0; g < r->ngroups; g++) {
		for (i = 0; i < c->nmembers[g]; i++) {
			h = c->members[g][i];
			json_array_append_new(groups[h],
			    json_string(r->groups[g].name));
			if (r->groups[g].vars && strcmp(r->groups[g].name,
			    "all") != 0)
				json_object_update(c->hvars[h],
				    r->groups[g].vars);
		}
	}
	for (h = 0; h < r->nhosts; h++) {
		if (r->hosts[h].vars)
			json_object_update(c->hvars[h], r->hosts[h].vars);
		/* json_pack is slow at this volume: build by hand */
		host = json_object();
		json_object_set_new_nocheck(host, "name",
		    json_string(r->hosts[h].name));
		json_object_set_new_nocheck(host, "address",
		    json_string(r->hosts[h].address ? r->hosts[h].address :
		    r->hosts[h].name));
		json_object_set_nocheck(host, "vars", c->hvars[h]);
		json_object_set_new_nocheck(host, "groups", groups[h]);
		c->hctx[h] = json_object();
		json_object_set_new_nocheck(c->hctx[h], "host", host);
	}
	free(groups);
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
	json_t *j;
	size_t i, h;

	for (i = 0; i < *n; i++)
		if (strcmp((*sv)[i].var, var) == 0)
			return (const char *const *)(*sv)[i].vals;
	v = LR_ARRAY_PUSH(*sv, *n, *cap);
	v->var = var;
	v->vals = lr_xcalloc(c->repo->nhosts + 1, sizeof(*v->vals));
	for (h = 0; h < c->repo->nhosts; h++)
		if ((j = json_object_get(c->hvars[h], var)) != NULL &&
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
	json_t *byhost, *bysvc, *list;
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
	for (h = 0; h < r->nhosts; h++)
		json_object_set_new(byhost, r->hosts[h].name, json_array());
	for (s = 0; s < r->nservices; s++) {
		const struct spec_service *sv = &r->services[s];
		const struct sched_placement *p = &c->sres.services[s];

		list = json_array();
		for (i = 0; i < p->n; i++) {
			json_array_append_new(list,
			    json_string(r->hosts[p->hosts[i]].name));
			json_array_append_new(json_object_get(byhost,
			    r->hosts[p->hosts[i]].name), json_string(sv->name));
		}
		json_object_set_new(bysvc, sv->name, list);
		json_object_set_new(c->services_ctx, sv->name,
		    json_pack("{s:O}", "hosts", list));
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

/*
 * Render text with ctx.  Returns a new string, or NULL after reporting
 * the error.  Text without "{{" is copied as is.
 */
static char *
render(struct compile *c, const char *text, const struct spec_node *n,
    const char *fpath, const json_t *ctx, const char *host)
{
	struct spec_tmpl_error e;
	size_t len = strlen(text), base = 0;
	bool failed = false;

	if (!spec_tmpl_has_expr(text, len))
		return lr_xstrdup(text);
	/*
	 * On an error, report it and go on with the text after the failing
	 * expression, so one run shows every bad name of a template.
	 */
	for (;;) {
		lr_buf_reset(&c->buf);
		if (spec_tmpl_render(text + base, len - base, ctx, &c->buf,
		    &e) == 0)
			break;
		failed = true;
		e.offset += base;
		tmpl_error(c, n, fpath, text, &e, host);
		base = e.offset + (e.len ? e.len : 1);
		if (base >= len)
			break;
	}
	if (failed)
		return NULL;
	return lr_xstrndup(c->buf.s ? c->buf.s : "", c->buf.len);
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
static char *
check_abs(struct compile *c, char *s, const struct spec_node *n,
    const char *field, const char *host)
{
	struct spec_diag *dg;
	char *key;

	if (s == NULL || s[0] == '/')
		return s;
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
	free(s);
	return NULL;
}

/* ---- files ---- */

/* The raw content of a repo file, cached: {"content","sha256","size"}. */
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
		lr_sha256_hex(buf, len, sha);
		o = json_pack("{s:s%, s:s, s:I}", "content", buf, len,
		    "sha256", sha, "size", (json_int_t)len);
		if (o == NULL) {	/* not UTF-8: keep hash and size */
			o = json_pack("{s:s, s:I, s:b}", "sha256", sha,
			    "size", (json_int_t)len, "binary", 1);
		}
		free(buf);
	}
	json_object_set_new(c->file_cache, path, o);
	return o;
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

static void
set_str(json_t *o, const char *k, char *owned)
{
	if (owned)
		json_object_set_new(o, k, json_string(owned));
	free(owned);
}

/* Render the string values of obj (env, headers). */
static json_t *
render_obj(struct compile *c, const json_t *obj, const struct spec_node *n,
    const json_t *ctx, const char *host)
{
	json_t *o = json_object(), *v;
	const char *k;
	char *s;

	json_object_foreach((json_t *)obj, k, v) {
		if (!json_is_string(v)) {
			json_object_set(o, k, v);
			continue;
		}
		s = render(c, json_string_value(v), spec_node_get(n, k), NULL,
		    ctx, host);
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
	char *s, mode[16];
	size_t i;

	if (want) {
		o = json_object();
		s = lr_xasprintf("%s/%s/%s/%s", svc, role,
		    spec_phase_name(st->phase), st->name);
		set_str(o, "id", s);
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
		    NULL : step_field_node(st, NULL, "script"),
		    st->script_file, ctx, host);
		if (o) {
			set_str(o, "script", s);
			json_object_set_new(o, "shell", json_string(
			    st->interpreter ? st->interpreter : "/bin/sh"));
			if (st->script_file)
				json_object_set_new(o, "script_file",
				    json_string(st->script_file));
		} else
			free(s);
		break;
	case SPEC_STEP_FILE:
		s = check_abs(c, render(c, st->dest ? st->dest : "",
		    step_field_node(st, "file", "dest"), NULL, ctx, host),
		    step_field_node(st, "file", "dest"), "dest", host);
		if (o)
			set_str(o, "dest", s);
		else
			free(s);
		if (st->src) {
			raw = (json_t *)file_raw(c, st->src);
			if (!json_is_object(raw))
				break;
			if (st->template && json_object_get(raw, "content")) {
				s = render(c, json_string_value(json_object_get(
				    raw, "content")), NULL, st->src, ctx, host);
				if (s && o)
					add_file(c, o, s, strlen(s));
				free(s);
			} else if (o) {
				json_t *ct = json_object_get(raw, "content");

				json_object_set(o, "sha256",
				    json_object_get(raw, "sha256"));
				json_object_set(o, "size",
				    json_object_get(raw, "size"));
				if (c->out->files && ct)
					json_object_set_new(c->out->files,
					    json_string_value(json_object_get(
					    raw, "sha256")), json_pack(
					    "{s:O, s:O}", "size",
					    json_object_get(raw, "size"),
					    "content", ct));
			}
			if (o)
				json_object_set_new(o, "src",
				    json_string(st->src));
		} else if (st->content) {
			s = st->template ? render(c, st->content,
			    step_field_node(st, "file", "content"), NULL, ctx,
			    host) : lr_xstrdup(st->content);
			if (s && o)
				add_file(c, o, s, strlen(s));
			free(s);
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
		s = render(c, st->url ? st->url : "",
		    step_field_node(st, "http", "url"), NULL, ctx, host);
		if (o)
			set_str(o, "url", s);
		else
			free(s);
		if (st->body) {
			s = render(c, st->body, step_field_node(st, "http",
			    "body"), NULL, ctx, host);
			if (o)
				set_str(o, "body", s);
			else
				free(s);
		}
		if (st->headers) {
			json_t *hd = render_obj(c, st->headers,
			    step_field_node(st, "http", "headers"), ctx, host);

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
			json_object_set_new(o, "use", json_string(st->use));
			if (st->with)
				json_object_set(o, "with", st->with);
		}
		break;
	case SPEC_STEP_APPROVAL:
		break;
	}
	if (st->env) {
		json_t *env = render_obj(c, st->env, spec_node_get(st->node,
		    "env"), ctx, host);

		if (o)
			json_object_set_new(o, "env", env);
		else
			json_decref(env);
	}
	if (st->creates) {
		s = check_abs(c, render(c, st->creates, spec_node_get(st->node,
		    "creates"), NULL, ctx, host), spec_node_get(st->node,
		    "creates"), "creates", host);
		if (o)
			set_str(o, "creates", s);
		else
			free(s);
	}
	if (st->unless) {
		s = render(c, st->unless, spec_node_get(st->node, "unless"),
		    NULL, ctx, host);
		if (o)
			set_str(o, "unless", s);
		else
			free(s);
	}
	if (st->cwd) {
		s = check_abs(c, render(c, st->cwd, spec_node_get(st->node,
		    "cwd"), NULL, ctx, host), spec_node_get(st->node, "cwd"),
		    "cwd", host);
		if (o)
			set_str(o, "cwd", s);
		else
			free(s);
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
	json_t *params, *ctx, *stepj, *list = NULL;
	bool *per_host, *seen = NULL;
	size_t ntot;

	steps[0] = role->converge, nsteps[0] = role->nconverge;
	steps[1] = role->validate, nsteps[1] = role->nvalidate;
	steps[2] = role->turndown, nsteps[2] = role->nturndown;
	ntot = nsteps[0] + nsteps[1] + nsteps[2];
	per_host = lr_xcalloc(ntot + 1, sizeof(*per_host));
	for (p = 0; p < 3; p++)
		for (s = 0; s < nsteps[p]; s++)
			per_host[n++] = step_uses_host_vars(c, &steps[p][s]);
	/* validation only: which (step, vars skeleton) pairs were rendered */
	if (!want)
		seen = lr_xcalloc(ntot * c->nshapes + 1, sizeof(*seen));
	params = merged_params(role, sv);
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
		ctx = json_copy(c->hctx[h]);
		json_object_set(ctx, "params", params);
		json_object_set(ctx, "service", (json_t *)svcctx);
		json_object_set(ctx, "services", c->services_ctx);
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
				    role->name, ctx, r->hosts[h].name, want);
				if (stepj)
					json_array_append_new(list, stepj);
			}
		}
		json_decref(ctx);
	}
	free(seen);
	json_decref(params);
	free(per_host);
}

static void
compile_services(struct compile *c)
{
	const struct spec_repo *r = c->repo;
	const struct spec_role *role;
	json_t *svcctx;
	size_t k, i, ri, h;

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

		svcctx = json_pack("{s:s}", "name", sv->name);
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

static void
check_text(struct compile *c, const char *text, const struct spec_node *n,
    const char *fpath)
{
	void *arg[4];

	if (text == NULL || !spec_tmpl_has_expr(text, strlen(text)))
		return;
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
		if (json_is_string(v))
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

		check_text(c, st->script, st->script_file ? NULL :
		    step_field_node(st, NULL, "script"), st->script_file);
		check_text(c, st->dest, step_field_node(st, "file", "dest"),
		    NULL);
		check_text(c, st->url, step_field_node(st, "http", "url"),
		    NULL);
		check_text(c, st->creates, spec_node_get(st->node, "creates"),
		    NULL);
		check_text(c, st->unless, spec_node_get(st->node, "unless"),
		    NULL);
		check_text(c, st->cwd, spec_node_get(st->node, "cwd"), NULL);
		check_text(c, st->body, step_field_node(st, "http", "body"),
		    NULL);
		if (st->template)
			check_text(c, st->content, step_field_node(st, "file",
			    "content"), NULL);
		check_obj_syntax(c, st->env, spec_node_get(st->node, "env"));
		check_obj_syntax(c, st->headers, step_field_node(st, "http",
		    "headers"));
		if (st->template && st->src && (raw = file_raw(c, st->src)) &&
		    json_is_object(raw) && json_object_get(raw, "content"))
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
	for (h = 0; h < repo->nhosts; h++) {
		json_decref(c.hvars[h]);
		json_decref(c.hctx[h]);
	}
	free(c.hvars);
	free(c.hctx);
	free(c.hshape);
	free(c.order);
	sched_result_release(&c.sres);
	json_decref(c.seen);
	json_decref(c.services_ctx);
	json_decref(c.file_cache);
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
