/*
 * Steps for rec_compile: each step of each role of each placed service,
 * compiled for each host it runs on into the JSON the agent reads
 * ({"id","service","role","phase","name","kind", ...}), and the template
 * syntax check of every step of every role and task, placed or not.
 *
 * Rendering itself (contexts, templates, files) is render.c's; the order
 * of services and the placement are compile.c's.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile-int.h"
#include "fields.h"
#include "json.h"
#include "xalloc.h"

/* st->node[k1][k2] (k2 may be NULL) */
static struct where
at(const struct spec_step *st, const char *k1, const char *k2)
{
	struct where w = { st->node, { k1, k2, NULL } };

	return w;
}

static const struct where nowhere = { NULL, { NULL, NULL, NULL } };

/* ---- steps ---- */

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
		s = rec_render(c, json_string_value(v), wk, NULL, ctx, host);
		lr_json_set_str(o, k, s);
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
		if (svc != NULL) {
			id = lr_xasprintf("%s/%s/%s/%s", svc, role,
			    spec_phase_name(st->phase), st->name);
			lr_json_set_str(o, PROTO_STEP_ID, id);
			free(id);
			json_object_set_new(o, PROTO_STEP_SERVICE,
			    json_string(svc));
			json_object_set_new(o, PROTO_STEP_ROLE,
			    json_string(role));
		}
		json_object_set_new(o, PROTO_STEP_PHASE,
		    json_string(spec_phase_name(st->phase)));
		json_object_set_new(o, PROTO_STEP_NAME, json_string(st->name));
		json_object_set_new(o, PROTO_STEP_KIND,
		    json_string(spec_step_kind_name(st->kind)));
	}
	switch (st->kind) {
	case SPEC_STEP_SCRIPT:
		s = rec_render(c, st->script ? st->script : "",
		    st->script_file ? nowhere : at(st, "script", NULL),
		    st->script_file, ctx, host);
		if (o) {
			lr_json_set_str(o, PROTO_STEP_SCRIPT, s);
			json_object_set_new(o, PROTO_STEP_SHELL, json_string(
			    st->interpreter ? st->interpreter : "/bin/sh"));
			if (st->script_file)
				json_object_set_new(o, PROTO_STEP_SCRIPT_FILE,
				    json_string(st->script_file));
		}
		break;
	case SPEC_STEP_FILE:
		s = rec_check_abs(c, rec_render(c, st->dest ? st->dest : "",
		    at(st, "file", "dest"), NULL, ctx, host),
		    at(st, "file", "dest"), "dest", host);
		if (o)
			lr_json_set_str(o, PROTO_STEP_DEST, s);
		if (st->src) {
			raw = (json_t *)rec_file_raw(c, st->src);
			if (!json_is_object(raw))
				break;
			if (st->template && json_object_get(raw, "content")) {
				s = rec_render(c, json_string_value(
				    json_object_get(raw, "content")), nowhere,
				    st->src, ctx, host);
				if (s && o)
					rec_add_file(c, o, s, strlen(s));
			} else if (o) {
				/* text as "content", binary as "bytes" */
				const char *kind = json_object_get(raw,
				    "content") ? "content" : "bytes";
				json_t *ct = json_object_get(raw, kind);

				json_object_set(o, PROTO_STEP_SHA256,
				    rec_file_sha256(raw));
				json_object_set(o, PROTO_STEP_SIZE,
				    json_object_get(raw, "size"));
				if (c->out->files && ct)
					json_object_set_new(c->out->files,
					    json_string_value(
					    rec_file_sha256(raw)),
					    json_pack("{s:O, s:O}", "size",
					    json_object_get(raw, "size"), kind,
					    ct));
			}
			if (o)
				json_object_set_new(o, PROTO_STEP_SRC,
				    json_string(st->src));
		} else if (st->content) {
			s = st->template ? rec_render(c, st->content,
			    at(st, "file", "content"), NULL, ctx, host) :
			    st->content;
			if (s && o)
				rec_add_file(c, o, s, strlen(s));
		}
		if (o) {
			if (st->mode >= 0) {
				snprintf(mode, sizeof(mode), "%04o", st->mode);
				json_object_set_new(o, PROTO_STEP_MODE,
				    json_string(mode));
			}
			if (st->owner)
				json_object_set_new(o, PROTO_STEP_OWNER,
				    json_string(st->owner));
			if (st->group)
				json_object_set_new(o, PROTO_STEP_GROUP,
				    json_string(st->group));
		}
		if (st->validate) {
			s = rec_render(c, st->validate, at(st, "file",
			    "validate"), NULL, ctx, host);
			if (o)
				lr_json_set_str(o, PROTO_STEP_VALIDATE, s);
		}
		break;
	case SPEC_STEP_HTTP:
		s = rec_render(c, st->url ? st->url : "", at(st, "http", "url"),
		    NULL, ctx, host);
		if (o)
			lr_json_set_str(o, PROTO_STEP_URL, s);
		if (st->body) {
			s = rec_render(c, st->body, at(st, "http", "body"),
			    NULL, ctx, host);
			if (o)
				lr_json_set_str(o, PROTO_STEP_BODY, s);
		}
		if (st->headers) {
			json_t *hd = render_obj(c, st->headers,
			    at(st, "http", "headers"), ctx, host);

			if (o)
				json_object_set_new(o, PROTO_STEP_HEADERS, hd);
			else
				json_decref(hd);
		}
		if (o) {
			json_object_set_new(o, PROTO_STEP_METHOD, json_string(
			    st->method ? st->method : "GET"));
			if (st->expect_status)
				json_object_set_new(o, PROTO_STEP_EXPECT_STATUS,
				    json_integer(st->expect_status));
		}
		break;
	case SPEC_STEP_USE:
		if (o) {
			json_t *ex, *ct;
			char *path = lr_xasprintf("steps/%s", st->use);

			json_object_set_new(o, PROTO_STEP_USE,
			    json_string(st->use));
			if (st->with)
				json_object_set(o, PROTO_STEP_WITH, st->with);
			/* the agent runs the executable from desired/files/ */
			ex = (json_t *)rec_file_raw(c, path);
			if (json_is_object(ex)) {
				json_object_set(o, PROTO_STEP_EXEC_SHA256,
				    rec_file_sha256(ex));
				ct = json_object_get(ex, "content");
				if (c->out->files && ct)
					json_object_set_new(c->out->files,
					    json_string_value(
					    rec_file_sha256(ex)),
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
			json_object_set_new(o, PROTO_STEP_ENV, env);
		else
			json_decref(env);
	}
	if (st->creates) {
		s = rec_check_abs(c, rec_render(c, st->creates,
		    at(st, "creates", NULL), NULL, ctx, host),
		    at(st, "creates", NULL), "creates", host);
		if (o)
			lr_json_set_str(o, PROTO_STEP_CREATES, s);
	}
	if (st->unless) {
		s = rec_render(c, st->unless, at(st, "unless", NULL), NULL, ctx,
		    host);
		if (o)
			lr_json_set_str(o, PROTO_STEP_UNLESS, s);
	}
	if (st->cwd) {
		s = rec_check_abs(c, rec_render(c, st->cwd,
		    at(st, "cwd", NULL), NULL, ctx, host),
		    at(st, "cwd", NULL), "cwd", host);
		if (o)
			lr_json_set_str(o, PROTO_STEP_CWD, s);
	}
	if (o == NULL)
		return NULL;
	if (st->run_as || df->run_as)
		json_object_set_new(o, PROTO_STEP_RUN_AS,
		    json_string(st->run_as ? st->run_as : df->run_as));
	json_object_set_new(o, PROTO_STEP_TIMEOUT_MS,
	    json_integer(st->timeout_ms >= 0 ? st->timeout_ms :
	    df->timeout_ms));
	json_object_set_new(o, PROTO_STEP_RETRIES,
	    json_integer(st->retries >= 0 ? st->retries : df->retries));
	if (st->nwhen_changed) {
		json_t *wc = json_array();

		for (i = 0; i < st->nwhen_changed; i++)
			json_array_append_new(wc,
			    json_string(st->when_changed[i].name));
		json_object_set_new(o, PROTO_STEP_WHEN_CHANGED, wc);
	}
	return o;
}

json_t *
rec_compile_step(struct compile *c, const struct spec_step *st,
    const char *svc, const char *role, const json_t *ctx, const char *host)
{
	return compile_step(c, st, svc, role, ctx, host, true);
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
	    st->content, st->creates, st->unless, st->cwd, st->validate };
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
	if (st->template && st->src &&
	    (raw = rec_file_raw(c, st->src)) != NULL &&
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
		json_object_iter_set(c->ctx, c->ctx_host, rec_host_obj(c, h));
		if (want)
			list = json_object_get(json_object_get(c->out->desired,
			    r->hosts[h].name), PROTO_DOC_STEPS);
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

void
rec_compile_services(struct compile *c)
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
			    json_pack("{s:[], s:[]}", PROTO_DOC_SERVICES,
			    PROTO_DOC_STEPS));
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
				    r->hosts[pl->hosts[i]].name),
				    PROTO_DOC_SERVICES), json_string(sv->name));
		for (ri = 0; ri < sv->nroles; ri++)
			if ((role = spec_repo_find_role(r,
			    sv->roles[ri].name)) != NULL)
				compile_role(c, sv, pl, role, svcctx);
		json_decref(svcctx);
	}
}

static const struct spec_node *
step_field_node(const struct spec_step *st, const char *sub, const char *key)
{
	const struct spec_node *n = st->node;

	if (sub)
		n = spec_node_get(n, sub);
	return spec_node_get(n, key);
}

/* ---- template syntax of every step of every role and task ---- */

static void
check_syntax_cb(const struct spec_tmpl_error *e, void *arg)
{
	void **a = arg;

	rec_tmpl_error(a[0], a[1], a[2], a[3], e, NULL);
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
		if (has_expr(st->validate))
			check_text(c, st->validate, step_field_node(st, "file",
			    "validate"), NULL);
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
		if (st->template && st->src &&
		    (raw = rec_file_raw(c, st->src)) && json_is_object(raw) &&
		    has_expr(json_string_value(json_object_get(raw,
		    "content"))))
			check_text(c, json_string_value(json_object_get(raw,
			    "content")), NULL, st->src);
	}
}

void
rec_check_syntax(struct compile *c)
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
