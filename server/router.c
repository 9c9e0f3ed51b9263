/*
 * Routes: method + pattern of literal segments and {name} captures, and
 * the checks a path passes before any route sees it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "srv-int.h"
#include "xalloc.h"

#define PATH_MAX_LEN	1024

struct srv_router *
srv_router_new(void)
{
	return lr_xcalloc(1, sizeof(struct srv_router));	/* caller's */
}

void
srv_router_free(struct srv_router *r)
{
	size_t i, j;

	if (r == NULL)
		return;
	for (i = 0; i < r->n; i++) {
		for (j = 0; j < r->v[i].nsegs; j++)
			free(r->v[i].segs[j]);
		free(r->v[i].segs);
		for (j = 0; j < SRV_MAX_PARAMS; j++)
			free(r->v[i].names[j]);
		free(r->v[i].method);
		free(r->v[i].pattern);
	}
	free(r->v);
	free(r);
}

void
srv_kv_free(struct srv_kv *kv, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(kv[i].value);
		kv[i].value = NULL;
	}
}

/* Split "/a/{b}/c" into its segments (new array of new strings). */
static char **
split(const char *path, size_t *n)
{
	char **v = NULL;
	size_t cap = 0;
	const char *p = path, *e;

	*n = 0;
	while (*p == '/')
		p++;
	while (*p) {
		e = strchr(p, '/');
		if (e == NULL)
			e = p + strlen(p);
		v = lr_xgrow(v, &cap, *n + 1, sizeof(*v));
		v[(*n)++] = lr_xstrndup(p, (size_t)(e - p));	/* v's */
		p = *e ? e + 1 : e;
	}
	return v;
}

static bool
is_capture(const char *seg)
{
	size_t n = strlen(seg);

	return n > 2 && seg[0] == '{' && seg[n - 1] == '}';
}

void
srv_route(struct srv_router *r, const char *method, const char *pattern,
    srv_handler *h, unsigned flags)
{
	struct srv_route_ent *e;
	size_t i, ncap = 0;

	if (pattern[0] != '/')
		LR_BUG("route pattern '%s' does not start with '/'", pattern);
	for (i = 0; i < r->n; i++)
		if (strcmp(r->v[i].method, method) == 0 &&
		    strcmp(r->v[i].pattern, pattern) == 0)
			LR_BUG("route %s %s registered twice", method,
			    pattern);
	r->v = lr_xgrow(r->v, &r->cap, r->n + 1, sizeof(*r->v));
	e = &r->v[r->n++];
	memset(e, 0, sizeof(*e));
	e->method = lr_xstrdup(method);		/* r's */
	e->pattern = lr_xstrdup(pattern);	/* r's */
	e->segs = split(pattern, &e->nsegs);	/* r's */
	e->h = h;
	e->flags = flags;
	for (i = 0; i < e->nsegs; i++) {
		if (!is_capture(e->segs[i]))
			continue;
		if (ncap == SRV_MAX_PARAMS)
			LR_BUG("route %s has more than %d captures", pattern,
			    SRV_MAX_PARAMS);
		/* r's: the name without its braces */
		e->names[ncap++] = lr_xstrndup(e->segs[i] + 1,
		    strlen(e->segs[i]) - 2);
	}
}

/* Does the path's segs match e's?  Captures filled when params != NULL. */
static bool
match_segs(const struct srv_route_ent *e, char **segs, size_t nsegs,
    struct srv_kv *params, size_t *nparams)
{
	size_t i, np = 0;

	if (e->nsegs != nsegs)
		return false;
	for (i = 0; i < nsegs; i++) {
		if (is_capture(e->segs[i])) {
			if (*segs[i] == '\0' || strcmp(segs[i], ".") == 0 ||
			    strcmp(segs[i], "..") == 0)
				return false;
			continue;
		}
		if (strcmp(e->segs[i], segs[i]) != 0)
			return false;
	}
	if (params == NULL)
		return true;
	for (i = 0; i < nsegs; i++) {
		if (!is_capture(e->segs[i]))
			continue;
		params[np].name = e->names[np];
		params[np].value = lr_xstrdup(segs[i]);	/* caller's */
		np++;
	}
	*nparams = np;
	return true;
}

enum srv_match
srv_router_match(const struct srv_router *r, const char *method,
    const char *path, const struct srv_route_ent **out,
    struct srv_kv *params, size_t *nparams, char *allow, size_t allow_size)
{
	const char *m = strcmp(method, "HEAD") == 0 ? "GET" : method;
	enum srv_match res = SRV_MATCH_NONE;
	char **segs;
	size_t nsegs, i, used = 0;
	int k;

	*nparams = 0;
	if (allow_size)
		allow[0] = '\0';
	segs = split(path, &nsegs);
	/* "/a/" is not "/a": a trailing slash makes an empty segment */
	if (nsegs && path[strlen(path) - 1] == '/' && strlen(path) > 1) {
		res = SRV_MATCH_NONE;
		goto out;
	}
	for (i = 0; i < r->n; i++) {
		if (!match_segs(&r->v[i], segs, nsegs, NULL, NULL))
			continue;
		if (strcmp(r->v[i].method, m) == 0) {
			match_segs(&r->v[i], segs, nsegs, params, nparams);
			*out = &r->v[i];
			res = SRV_MATCH_OK;
			goto out;
		}
		res = SRV_MATCH_METHOD;
		k = snprintf(allow + used, allow_size - used, "%s%s",
		    used ? ", " : "", r->v[i].method);
		if (k > 0 && (size_t)k < allow_size - used)
			used += (size_t)k;
	}
out:
	for (i = 0; i < nsegs; i++)
		free(segs[i]);
	free(segs);
	return res;
}

bool
srv_path_ok(const char *path, size_t len)
{
	const char *p, *seg;

	if (len == 0 || len > PATH_MAX_LEN || path[0] != '/' ||
	    strlen(path) != len)
		return false;
	for (p = path; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return false;
	seg = path + 1;
	for (;;) {
		size_t n = strcspn(seg, "/");

		if ((n == 1 && seg[0] == '.') ||
		    (n == 2 && seg[0] == '.' && seg[1] == '.'))
			return false;
		if (seg[n] == '\0')
			break;
		seg += n + 1;
	}
	return true;
}
