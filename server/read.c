/*
 * The read routes (read.h): status from the in-memory view (read_view.c,
 * read_snap.c), deploy records from etcd.  Events are read_events.c's.
 *
 * Status: a caller who may read everything (read on "*") gets the bytes
 * serialized once per snapshot; anyone else gets the hosts and services
 * auth_can lets them read, serialized once per snapshot for each set of
 * them (rd_snap_body): the whole body again when that is all of them.  The fleet's own
 * fields (name, generation, deploy, commit) are shown to a caller who
 * may read at least one of them, or "fleet": a caller without any grant
 * sees nothing at all.  One host or service the caller may not read
 * answers 404 with the same words as one that does not exist.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "etcd.h"
#include "doc.h"
#include "keys.h"
#include "leurad.h"
#include "read-int.h"
#include "read.h"
#include "xalloc.h"

/* ---- status ---- */

static bool
may_read(const char *kind, const char *name, void *arg)
{
	const struct srv_req *req = arg;
	char res[512];

	if (strcmp(kind, "fleet") == 0)
		return auth_can(req, AUTH_READ, "fleet", NULL);
	if (snprintf(res, sizeof(res), "%s/%s", kind, name) >=
	    (int)sizeof(res))
		return false;
	return auth_can(req, AUTH_READ, res, NULL);
}

/* The view, or 503 when it has not read etcd yet. */
static struct rd_snap *
snap_get(struct srv_req *req, struct srv_resp *resp)
{
	struct rd_snap *snap = rd_view_snap(req->srv);

	if (snap == NULL)
		srv_resp_error(resp, 503, "unavailable", "retry in a moment; "
		    "GET /readyz answers 200 once leurad has read etcd",
		    "the fleet's status is not loaded from etcd yet");
	return snap;
}

static void
status_get(struct srv_req *req, struct srv_resp *resp)
{
	struct rd_snap *snap;
	unsigned char *bits;
	const char *body;
	char *owned;
	size_t len;

	if ((snap = snap_get(req, resp)) == NULL)
		return;
	if (auth_can(req, AUTH_READ, "*", NULL))
		srv_resp_bytes(resp, 200, "application/json", snap->body,
		    snap->body_len);
	else {
		/* the same bytes for everyone who may read the same */
		bits = rd_snap_bits(snap, may_read, req);
		body = rd_snap_body(snap, bits, &len, &owned);
		srv_resp_bytes(resp, 200, "application/json", body, len);
		free(owned);
		free(bits);
	}
	rd_snap_unref(snap);
}

static void
status_one(struct srv_req *req, struct srv_resp *resp, const char *kind,
    const char *what)
{
	const char *name = srv_param(req, what);
	struct rd_snap *snap;
	json_t *o = NULL;
	int64_t etag = 0;
	char hint[256];

	if ((snap = snap_get(req, resp)) == NULL)
		return;
	if (may_read(kind, name, req))
		o = rd_snap_one(snap, kind, name, may_read, req,
		    &etag);
	rd_snap_unref(snap);
	if (o == NULL) {
		/* the same answer whether it is missing or not readable */
		snprintf(hint, sizeof(hint), "GET /v1/status lists the %s "
		    "you may read; 'leura can read %s/%s' says whether a "
		    "grant is missing", kind, kind, name);
		srv_resp_error(resp, 404, "not_found", hint, "no %s '%s' that "
		    "you may read", what, name);
		return;
	}
	srv_resp_etag(resp, etag);
	srv_resp_json(resp, 200, o);
}

static void
status_host(struct srv_req *req, struct srv_resp *resp)
{
	status_one(req, resp, "hosts", "host");
}

static void
status_service(struct srv_req *req, struct srv_resp *resp)
{
	status_one(req, resp, "services", "service");
}

/* ---- deploys ---- */

/* A deploy number from a path or cursor: 1..10^10-1, or -1. */
static int64_t
deploy_number(const char *s)
{
	char *end;
	long long n;

	if (s == NULL || *s < '0' || *s > '9' || strlen(s) >
	    PROTO_DEPLOY_DIGITS)
		return -1;
	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno || *end != '\0' || n <= 0)
		return -1;
	return n;
}

/* The record of kv as an item: its JSON, with its number. */
static json_t *
deploy_item(const char *prefix, const struct etcd_kv *kv)
{
	struct proto_key k;
	struct lr_err err;
	json_t *o;

	lr_err_clear(&err);
	if ((o = proto_value_parse(kv->key, kv->value, kv->value_len,
	    &err)) == NULL)
		return NULL;
	if (proto_key_parse(prefix, kv->key, &k) == PROTO_KEY_DEPLOY)
		json_object_set_new(o, PROTO_HEAD_DEPLOY,
		    json_integer(k.deploy));
	return o;
}

static void
deploys_list(struct srv_req *req, struct srv_resp *resp)
{
	const char *prefix = req->srv->prefix, *after;
	struct etcd_range_result r = { 0 }, vr = { 0 };
	struct etcd_range_req q = { 0 };
	struct lr_err err;
	char *dir, *end = NULL, *lo = NULL, *hi = NULL;
	json_t *items, *o, *next = json_null();
	size_t limit, take, i;
	int64_t a = 0;

	if (!auth_require(req, resp, AUTH_READ, "fleet") ||
	    srv_page_args(req, resp, &limit, &after) < 0)
		return;
	if (after != NULL && (a = deploy_number(after)) < 0) {
		srv_resp_error(resp, 400, "bad_request", "pass the 'next' of "
		    "the page before, a deploy number", "bad cursor 'after="
		    "%s'", after);
		return;
	}
	lr_err_clear(&err);
	dir = proto_key_deploys_dir(prefix);
	/* newest first: the keys below the cursor, the last limit of them */
	end = a > 0 ? proto_key_deploy(prefix, a) : etcd_prefix_end(dir);
	q.key = dir;
	q.range_end = end;
	q.flags = ETCD_KEYS_ONLY;
	items = json_array();
	if (etcd_range(req->etcd, &q, &r, &err) < 0)
		goto fail;
	take = r.nkvs < limit ? r.nkvs : limit;
	if (take > 0) {
		lo = lr_xstrdup(r.kvs[r.nkvs - take].key);
		hi = etcd_prefix_end(r.kvs[r.nkvs - 1].key);
		memset(&q, 0, sizeof(q));
		q.key = lo;
		q.range_end = hi;
		q.revision = r.revision;
		if (etcd_range(req->etcd, &q, &vr, &err) < 0)
			goto fail;
		for (i = vr.nkvs; i > 0; i--)
			if ((o = deploy_item(prefix, &vr.kvs[i - 1])) != NULL)
				json_array_append_new(items, o);
	}
	if (r.nkvs > limit && vr.nkvs > 0) {
		struct proto_key k;

		if (proto_key_parse(prefix, vr.kvs[0].key, &k) ==
		    PROTO_KEY_DEPLOY)
			next = json_sprintf("%lld", (long long)k.deploy);
	}
	srv_resp_json(resp, 200, json_pack("{s:o, s:o}", "items", items,
	    "next", next));
	items = next = NULL;
	goto out;
fail:
	srv_resp_lr_err(resp, &err);
out:
	json_decref(items);
	json_decref(next);
	etcd_range_result_release(&r);
	etcd_range_result_release(&vr);
	free(dir);
	free(end);
	free(lo);
	free(hi);
}

static void
deploys_one(struct srv_req *req, struct srv_resp *resp)
{
	const char *ns = srv_param(req, "n");
	struct etcd_kv kv = { 0 };
	struct lr_err err;
	int64_t n;
	json_t *o;
	char *key;
	int rc;

	if (!auth_require(req, resp, AUTH_READ, "fleet"))
		return;
	if ((n = deploy_number(ns)) < 0) {
		srv_resp_error(resp, 400, "bad_request", "a deploy number is "
		    "a positive integer, as GET /v1/deploys lists them",
		    "bad deploy number '%s'", ns);
		return;
	}
	lr_err_clear(&err);
	key = proto_key_deploy(req->srv->prefix, n);
	rc = etcd_get(req->etcd, key, &kv, NULL, &err);
	free(key);
	if (rc == LR_ENOENT)
		srv_resp_error(resp, 404, "not_found", "GET /v1/deploys lists "
		    "the deploys", "no deploy #%lld", (long long)n);
	else if (rc < 0)
		srv_resp_lr_err(resp, &err);
	else if ((o = deploy_item(req->srv->prefix, &kv)) == NULL)
		srv_resp_error(resp, 500, "internal", "something other than "
		    "leura wrote it; delete the key or restore it from a "
		    "backup", "the record of deploy #%lld is not JSON",
		    (long long)n);
	else {
		srv_resp_etag(resp, kv.mod_revision);
		srv_resp_json(resp, 200, o);
	}
	etcd_kv_release(&kv);
}

void
rd_routes(struct srv *s)
{
	srv_route(s->router, "GET", "/v1/status", status_get, 0);
	srv_route(s->router, "GET", "/v1/status/hosts/{host}", status_host,
	    0);
	srv_route(s->router, "GET", "/v1/status/services/{service}",
	    status_service, 0);
	srv_route(s->router, "GET", "/v1/deploys", deploys_list, 0);
	srv_route(s->router, "GET", "/v1/deploys/{n}", deploys_one, 0);
	srv_route(s->router, "GET", "/v1/events", rd_events_get, 0);
}
