/*
 * Rendering for rec_compile: the template context of each host (its
 * effective vars merged from its groups' layers, its "host" object), the
 * cache of parsed templates, rendering a text with positioned diagnostics,
 * and the repo files that steps copy or render (read once, hashed once).
 *
 * Everything here works on the compile state of compile-int.h and adds
 * diagnostics to it; deciding what to render for which host is steps.c's.
 * See compile.c for the sharing rules (what is built once and reused).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile-int.h"
#include "err.h"
#include "fields.h"
#include "hash.h"
#include "xalloc.h"

/* ---- host contexts ---- */

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
void
rec_build_host_ctx(struct compile *c)
{
	const struct spec_repo *r = c->repo;
	size_t n = r->nhosts, *next, h, g, i;

	c->hvars = lr_xcalloc(n + 1, sizeof(*c->hvars));
	c->hobj = lr_xcalloc(n + 1, sizeof(*c->hobj));
	c->hname = lr_xcalloc(n + 1, sizeof(*c->hname));
	c->gname = lr_xcalloc(r->ngroups + 1, sizeof(*c->gname));
	c->hfirst = lr_xcalloc(n + 1, sizeof(*c->hfirst));
	if ((g = rec_group_index(r, "all")) != (size_t)-1)
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
const json_t *
rec_host_var(const struct compile *c, size_t h, const char *var)
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

void
rec_build_shapes(struct compile *c)
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
json_t *
rec_host_obj(struct compile *c, size_t h)
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

/* ---- templates ---- */

int
rec_col_offset(const struct spec_node *n)
{
	return n && n->style == SPEC_STYLE_QUOTED ? 1 : 0;
}

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
void
rec_tmpl_error(struct compile *c, const struct spec_node *n, const char *fpath,
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
		    n->col + rec_col_offset(n) + (int)e->offset : 1) : 0;
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

void
rec_tmpl_cache_release(struct tmpl_cache *tc)
{
	size_t i;

	for (i = 0; tc->key != NULL && i <= tc->mask; i++)
		spec_tmpl_free(tc->val[i]);
	free(tc->key);
	free(tc->val);
	memset(tc, 0, sizeof(*tc));
}

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
const char *
rec_render(struct compile *c, const char *text, struct where w,
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
		rec_tmpl_error(c, where_node(&w), fpath, text, &e, host);
		base = e.offset + (e.len ? e.len : 1);
		if (base >= len)
			break;
	}
	if (failed)
		return NULL;
	return c->buf.s ? c->buf.s : "";
}
/*
 * A path field written as a template must still be absolute once rendered:
 * report it once per field, naming the first host it happened on.
 */
const char *
rec_check_abs(struct compile *c, const char *s, struct where w,
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
 * "sha256" once rec_file_sha256() was asked, or {"sha256","size","binary",
 * "bytes"} when it is not UTF-8 ("bytes" holds them in a string made with
 * json_stringn_nocheck: never dump it); null when it cannot be read
 * (reported).
 */
const json_t *
rec_file_raw(struct compile *c, const char *path)
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
 * The "sha256" of a rec_file_raw() object, computed on first use: only the
 * desired state needs it, validation does not.
 */
json_t *
rec_file_sha256(json_t *raw)
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

void
rec_add_file(struct compile *c, json_t *step, const char *content, size_t len)
{
	char sha[LR_SHA256_HEX_LEN + 1];

	lr_sha256_hex(content, len, sha);
	json_object_set_new(step, PROTO_STEP_SHA256, json_string(sha));
	json_object_set_new(step, PROTO_STEP_SIZE,
	    json_integer((json_int_t)len));
	if (c->out->files && json_object_get(c->out->files, sha) == NULL)
		json_object_set_new(c->out->files, sha, json_pack("{s:I, s:s%}",
		    "size", (json_int_t)len, "content", content, len));
}
