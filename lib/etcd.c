/*
 * The blocking face of the etcd client (struct etcd in etcd.h), for the
 * CLI: one reusable curl easy handle, one request at a time.  What to send
 * and what an answer means comes from etcd_core.c; this file only decides
 * where to send it and when to try again:
 *
 *   - fail-over: a request starts at the endpoint that answered last and
 *     moves on only when an endpoint cannot be talked to (refused, timed
 *     out connecting, reset) or says it cannot serve (no leader); an answer
 *     from etcd, even an error, is final;
 *   - auth: a token is fetched before the first request and fetched again
 *     once when etcd says it expired (401, code 16);
 *   - watch: a streaming POST read line by line; a drop resumes from the
 *     last revision seen with back-off over the endpoints, a compaction
 *     re-lists the range (ETCD_WATCH_RESYNC).  The watch runs the easy
 *     handle in a private multi handle so the caller's timeout is exact.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "etcd-int.h"
#include "xalloc.h"

struct etcd {
	struct etcd_conf conf;
	CURL	*h;		/* reused: keeps the connection alive */
	struct lr_buf resp;	/* body of the last answer */
	char	 errbuf[CURL_ERROR_SIZE];
	const char *last_ep;	/* borrowed from conf; NULL before a call */
};

/* Outcome of one roundtrip besides lr_err. */
enum call_flags {
	CALL_NOAUTH = 1 << 0,	/* authenticate itself: no token, no retry */
	CALL_NOFAILOVER = 1 << 1
};

int
etcd_new(const struct etcd_config *cfg, struct etcd **out,
    struct lr_err *err)
{
	struct etcd *e;
	int rc;

	etcd_curl_global_init();
	e = lr_xcalloc(1, sizeof(*e));
	if ((rc = etcd_conf_parse(cfg, &e->conf, err)) < 0) {
		free(e);
		return rc;
	}
	if ((e->h = curl_easy_init()) == NULL)
		LR_BUG("curl_easy_init failed");
	*out = e;
	return 0;
}

void
etcd_free(struct etcd *e)
{
	if (e == NULL)
		return;
	curl_easy_cleanup(e->h);
	etcd_conf_release(&e->conf);
	lr_buf_release(&e->resp);
	free(e);
}

const char *
etcd_endpoint(const struct etcd *e)
{
	return e->last_ep ? e->last_ep : e->conf.endpoints[e->conf.cur];
}

static size_t
collect(char *p, size_t sz, size_t n, void *arg)
{
	lr_buf_add(arg, p, sz * n);
	return sz * n;
}

/* ---- unary calls ------------------------------------------------------ */

/*
 * POST body to path with fail-over.  On success *out is the parsed answer
 * (the caller's).  *reauth tells that the last failure was an expired or
 * invalid token (err is then LR_EAUTH).
 */
static int
roundtrip(struct etcd *e, const char *path, const char *body, size_t len,
    unsigned flags, const char *what, json_t **out, bool *reauth,
    struct lr_err *err)
{
	struct etcd_conf *c = &e->conf;
	struct lr_buf tried = LR_BUF_INIT;
	struct curl_slist *hdrs;
	struct lr_err lerr;
	enum etcd_curl_class cls;
	enum etcd_http_action act;
	char reason[CURL_ERROR_SIZE];
	size_t i, ep;
	CURLcode crc;
	json_t *j;
	long status;
	int rc = 0;

	if (err == NULL)
		err = &lerr;
	lr_err_clear(err);
	*reauth = false;
	for (i = 0; i < c->nendpoints; i++) {
		ep = (c->cur + i) % c->nendpoints;
		curl_easy_reset(e->h);
		lr_buf_reset(&e->resp);
		etcd_curl_setup(e->h, c, ep, path, body, len,
		    (flags & CALL_NOAUTH) ? ETCD_REQ_NOAUTH : 0, &hdrs,
		    e->errbuf);
		curl_easy_setopt(e->h, CURLOPT_WRITEFUNCTION, collect);
		curl_easy_setopt(e->h, CURLOPT_WRITEDATA, &e->resp);
		crc = curl_easy_perform(e->h);
		curl_slist_free_all(hdrs);
		cls = etcd_curl_classify(e->h, crc, e->errbuf, reason,
		    sizeof(reason));
		if (cls == ETCD_CURL_NEXT) {
			etcd_tried_add(&tried, c->endpoints[ep], reason);
			continue;
		}
		if (cls != ETCD_CURL_OK) {
			rc = etcd_curl_error(err, cls, what, c->endpoints[ep],
			    reason);
			goto out;
		}
		status = 0;
		curl_easy_getinfo(e->h, CURLINFO_RESPONSE_CODE, &status);
		j = etcd_json_parse(e->resp.s, e->resp.len);
		if ((flags & CALL_NOAUTH) && etcd_auth_disabled(status, j)) {
			/* etcd runs without auth: go on without a token */
			c->auth_off = true;
			c->cur = ep;
			e->last_ep = c->endpoints[ep];
			*out = j;
			goto out;
		}
		act = etcd_http_check(status, j, e->resp.s, e->resp.len, what,
		    c->endpoints[ep], err);
		if (act == ETCD_HTTP_OK && j == NULL) {
			rc = lr_err_set(err, LR_EETCD, "etcd %s at '%s': "
			    "the answer is not JSON", what, c->endpoints[ep]);
			goto out;
		}
		if (act == ETCD_HTTP_OK) {
			c->cur = ep;
			e->last_ep = c->endpoints[ep];
			*out = j;
			goto out;
		}
		json_decref(j);
		if (act == ETCD_HTTP_NEXT && !(flags & CALL_NOFAILOVER)) {
			etcd_tried_add(&tried, c->endpoints[ep],
			    "no leader or not ready");
			continue;
		}
		*reauth = act == ETCD_HTTP_REAUTH;
		rc = err->code < 0 ? err->code : LR_EETCD;
		goto out;
	}
	rc = etcd_unreach_error(err, &tried);
out:
	lr_buf_release(&tried);
	return rc;
}

static int
authenticate(struct etcd *e, struct lr_err *err)
{
	struct etcd_conf *c = &e->conf;
	json_t *body, *resp = NULL;
	char *s, *what, *token;
	bool reauth;
	int rc;

	etcd_conf_set_token(c, NULL);
	body = etcd_auth_encode(c);
	s = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	what = lr_xasprintf("authenticate as '%s'", c->user);
	rc = roundtrip(e, ETCD_PATH_AUTH, s, strlen(s), CALL_NOAUTH, what,
	    &resp, &reauth, err);
	explicit_bzero(s, strlen(s));
	free(s);
	if (rc == 0 && !c->auth_off) {
		if ((rc = etcd_auth_decode(resp, &token, err)) == 0) {
			etcd_conf_set_token(c, token);
			free(token);
		}
	}
	if (rc == LR_EAUTH && err && err->hint[0] == '\0')
		lr_err_hint(err, "check the etcd user name and password");
	free(what);
	json_decref(resp);
	return rc;
}

/*
 * One request: body is borrowed.  Authenticates first when needed and once
 * more when the token has expired.
 */
static int
call(struct etcd *e, const char *path, const json_t *body, const char *what,
    json_t **out, struct lr_err *err)
{
	bool reauth;
	char *s;
	int rc, tries;

	s = json_dumps(body, JSON_COMPACT);
	for (tries = 0; tries < 2; tries++) {
		if (etcd_conf_needs_auth(&e->conf) &&
		    (rc = authenticate(e, err)) < 0)
			break;
		rc = roundtrip(e, path, s, strlen(s), 0, what, out, &reauth,
		    err);
		if (rc == 0 || !reauth || e->conf.user == NULL)
			break;
		/* the token expired: forget it, log in again, retry once */
		etcd_conf_set_token(&e->conf, NULL);
	}
	free(s);
	return rc;
}

static int
too_big(size_t bytes, const char *what, struct lr_err *err)
{
	lr_err_set(err, LR_ETOOBIG, "etcd %s: request of %zu bytes is over "
	    "etcd's limit of %d bytes", what, bytes, ETCD_MAX_REQUEST_BYTES);
	return lr_err_hint(err, "values are base64-encoded on the way, so "
	    "keep one under about 1.1 MiB; etcd's --max-request-bytes "
	    "(1.5 MiB by default) caps a request");
}

int
etcd_range(struct etcd *e, const struct etcd_range_req *req,
    struct etcd_range_result *out, struct lr_err *err)
{
	json_t *body, *resp = NULL;
	char *what;
	int rc;

	body = etcd_range_encode(req);
	what = etcd_what("range", req->key);
	if ((rc = call(e, ETCD_PATH_RANGE, body, what, &resp, err)) == 0)
		rc = etcd_range_decode(resp, out, err);
	json_decref(body);
	json_decref(resp);
	free(what);
	return rc;
}

int
etcd_get(struct etcd *e, const char *key, struct etcd_kv *out,
    int64_t *revision, struct lr_err *err)
{
	struct etcd_range_req req;
	struct etcd_range_result r;
	int rc;

	memset(&req, 0, sizeof(req));
	req.key = key;
	if ((rc = etcd_range(e, &req, &r, err)) < 0)
		return rc;
	if (r.nkvs == 0) {
		etcd_range_result_release(&r);
		return lr_err_set(err, LR_ENOENT, "etcd get '%s' at '%s': "
		    "no such key", key, etcd_endpoint(e));
	}
	*out = r.kvs[0];
	memset(&r.kvs[0], 0, sizeof(r.kvs[0]));
	if (revision)
		*revision = r.revision;
	etcd_range_result_release(&r);
	return 0;
}

int
etcd_put(struct etcd *e, const char *key, const void *val, size_t len,
    int64_t lease, int64_t *revision, struct lr_err *err)
{
	json_t *body, *resp = NULL;
	char *what;
	size_t bytes;
	int rc;

	what = etcd_what("put", key);
	bytes = 4 * ((strlen(key) + 2) / 3) + 4 * ((len + 2) / 3) + 64;
	if (bytes > ETCD_MAX_REQUEST_BYTES) {
		rc = too_big(bytes, what, err);
		free(what);
		return rc;
	}
	body = etcd_put_encode(key, val, len, lease, 0);
	rc = call(e, ETCD_PATH_PUT, body, what, &resp, err);
	if (rc == 0 && revision)
		*revision = etcd_header_revision(resp);
	json_decref(body);
	json_decref(resp);
	free(what);
	return rc;
}

int
etcd_delete(struct etcd *e, const char *key, unsigned flags,
    int64_t *deleted, int64_t *revision, struct lr_err *err)
{
	json_t *body, *resp = NULL;
	char *what;
	int64_t n;
	int rc;

	body = etcd_delete_encode(key, flags);
	what = etcd_what("delete", key);
	if ((rc = call(e, ETCD_PATH_DELETE, body, what, &resp, err)) == 0 &&
	    (rc = etcd_delete_decode(resp, &n, err)) == 0) {
		if (deleted)
			*deleted = n;
		if (revision)
			*revision = etcd_header_revision(resp);
	}
	json_decref(body);
	json_decref(resp);
	free(what);
	return rc;
}

int
etcd_txn_commit(struct etcd *e, const struct etcd_txn *t,
    struct etcd_txn_result *out, struct lr_err *err)
{
	json_t *body, *resp = NULL;
	int rc;

	if (t->bytes > ETCD_MAX_REQUEST_BYTES)
		return too_big(t->bytes, "txn", err);
	if (t->nops > ETCD_MAX_TXN_OPS) {
		lr_err_set(err, LR_ETOOBIG, "etcd txn: %zu operations, over "
		    "etcd's limit of %d", t->nops, ETCD_MAX_TXN_OPS);
		return lr_err_hint(err, "split the change into several txns, "
		    "or raise etcd's --max-txn-ops");
	}
	body = etcd_txn_encode(t);
	if ((rc = call(e, ETCD_PATH_TXN, body, "txn", &resp, err)) == 0)
		rc = etcd_txn_decode(resp, out, err);
	json_decref(body);
	json_decref(resp);
	return rc;
}

int
etcd_compact(struct etcd *e, int64_t revision, struct lr_err *err)
{
	json_t *body, *resp = NULL;
	char what[64];
	int rc;

	snprintf(what, sizeof(what), "compact at revision %lld",
	    (long long)revision);
	body = json_pack("{sIsb}", "revision", (json_int_t)revision,
	    "physical", 1);
	rc = call(e, ETCD_PATH_COMPACT, body, what, &resp, err);
	json_decref(body);
	json_decref(resp);
	return rc;
}

int
etcd_lease_grant(struct etcd *e, int64_t ttl_s, int64_t *id,
    struct lr_err *err)
{
	json_t *body, *resp = NULL;
	int64_t got;
	int rc;

	body = etcd_lease_grant_encode(ttl_s);
	if ((rc = call(e, ETCD_PATH_GRANT, body, "lease grant", &resp,
	    err)) == 0 &&
	    (rc = etcd_lease_grant_decode(resp, &got, NULL, err)) == 0)
		*id = got;
	json_decref(body);
	json_decref(resp);
	return rc;
}

static int
lease_call(struct etcd *e, const char *path, const char *op, int64_t id,
    json_t **resp, struct lr_err *err)
{
	json_t *body;
	char what[64];
	int rc;

	snprintf(what, sizeof(what), "lease %s '%llx'", op,
	    (unsigned long long)id);
	body = etcd_lease_id_encode(id);
	if (strcmp(path, ETCD_PATH_TTL) == 0)
		json_object_set_new(body, "keys", json_false());
	rc = call(e, path, body, what, resp, err);
	json_decref(body);
	return rc;
}

int
etcd_lease_keepalive(struct etcd *e, int64_t id, int64_t *ttl,
    struct lr_err *err)
{
	json_t *resp = NULL;
	int64_t t;
	int rc;

	if ((rc = lease_call(e, ETCD_PATH_KEEPALIVE, "keepalive", id, &resp,
	    err)) == 0 &&
	    (rc = etcd_lease_keepalive_decode(resp, &t, err)) == 0)
		*ttl = t;
	json_decref(resp);
	return rc;
}

int
etcd_lease_revoke(struct etcd *e, int64_t id, struct lr_err *err)
{
	json_t *resp = NULL;
	int rc;

	rc = lease_call(e, ETCD_PATH_REVOKE, "revoke", id, &resp, err);
	json_decref(resp);
	return rc;
}

int
etcd_lease_ttl(struct etcd *e, int64_t id, int64_t *ttl, int64_t *granted,
    struct lr_err *err)
{
	json_t *resp = NULL;
	int64_t t, g;
	int rc;

	if ((rc = lease_call(e, ETCD_PATH_TTL, "ttl", id, &resp, err)) == 0 &&
	    (rc = etcd_lease_ttl_decode(resp, &t, &g, err)) == 0) {
		if (ttl)
			*ttl = t;
		if (granted)
			*granted = g;
	}
	json_decref(resp);
	return rc;
}

/* ---- watch ------------------------------------------------------------ */

#define WATCH_BACKOFF_MIN_MS	50
#define WATCH_BACKOFF_MAX_MS	2000

/* One watch stream; what its lines did. */
struct wstream {
	struct etcd *e;
	const struct etcd_watch_req *req;
	etcd_watch_cb *cb;
	void	*arg;
	const char *what;
	const char *endpoint;
	struct lr_buf acc;		/* partial line */
	struct etcd_events ev;
	int64_t	 next_rev;		/* resume from here; 0: from now */
	bool	 created;		/* this stream got "created" */
	int64_t	 compacted;		/* canceled by compaction at rev */
	int	 stop;			/* cb's non-zero return */
	int	 fatal;			/* LR_E* that ends the watch */
	bool	 reauth;		/* canceled for a bad token */
	struct lr_err *err;
};

static int
watch_line(const char *line, size_t len, void *arg)
{
	struct wstream *w = arg;
	struct etcd_watch_batch b;
	struct etcd_watch_info info;
	int rc;

	if ((rc = etcd_watch_decode_line(line, len, &w->ev, &b, &info,
	    w->what, w->endpoint, w->err)) < 0) {
		if (rc == LR_EAUTH)
			w->reauth = true;
		else
			w->fatal = rc;
		return 1;
	}
	if (info.canceled) {
		if (info.compact_revision > 0) {
			w->compacted = info.compact_revision;
			return 1;
		}
		rc = etcd_watch_cancel_error(&info, w->what, w->endpoint,
		    w->err);
		if (rc == LR_EAUTH && strstr(info.cancel_reason,
		    "invalid auth token") != NULL)
			w->reauth = true;
		else
			w->fatal = rc;
		return 1;
	}
	if (info.created) {
		w->created = true;
		/* from now: the stream covers what follows its revision */
		if (w->next_rev == 0)
			w->next_rev = b.revision + 1;
		return 0;
	}
	if (b.kind == ETCD_WATCH_EVENTS)
		w->next_rev = b.events[b.nevents - 1].kv.mod_revision + 1;
	else if (b.revision >= w->next_rev)
		w->next_rev = b.revision + 1;
	if ((rc = w->cb(&b, w->arg)) != 0) {
		w->stop = rc;
		return 1;
	}
	return 0;
}

static size_t
watch_write(char *p, size_t sz, size_t n, void *arg)
{
	struct wstream *w = arg;
	long status = 0;

	curl_easy_getinfo(w->e->h, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200) {
		/* an error answer: keep it whole for etcd_http_check */
		lr_buf_add(&w->e->resp, p, sz * n);
		return sz * n;
	}
	if (etcd_lines_feed(&w->acc, p, sz * n, watch_line, w) != 0)
		return 0;	/* abort the transfer */
	return sz * n;
}

/*
 * Run one watch stream on endpoint ep until it ends, the deadline passes
 * (0: none), or a line stops it.  Returns the curl result; *timedout when
 * the deadline stopped it.
 */
static CURLcode
watch_stream(struct wstream *w, size_t ep, long deadline, bool *timedout)
{
	struct etcd *e = w->e;
	struct etcd_watch_req r;
	struct curl_slist *hdrs;
	CURLMsg *msg;
	CURLcode crc = CURLE_OK;
	CURLM *m;
	json_t *body;
	char *s;
	long rest;
	int running = 1, left, wait;
	bool done = false;

	*timedout = false;
	r = *w->req;
	r.start_revision = w->next_rev;
	body = etcd_watch_encode(&r);
	s = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	curl_easy_reset(e->h);
	lr_buf_reset(&e->resp);
	etcd_curl_setup(e->h, &e->conf, ep, ETCD_PATH_WATCH, s, strlen(s),
	    ETCD_REQ_WATCH, &hdrs, e->errbuf);
	free(s);
	curl_easy_setopt(e->h, CURLOPT_WRITEFUNCTION, watch_write);
	curl_easy_setopt(e->h, CURLOPT_WRITEDATA, w);
	if ((m = curl_multi_init()) == NULL)
		LR_BUG("curl_multi_init failed");
	curl_multi_add_handle(m, e->h);
	while (!done) {
		curl_multi_perform(m, &running);
		while ((msg = curl_multi_info_read(m, &left)) != NULL) {
			if (msg->msg == CURLMSG_DONE) {
				crc = msg->data.result;
				done = true;
			}
		}
		if (done || running == 0)
			break;
		wait = 1000;
		if (deadline > 0) {
			rest = deadline - lr_now_ms();
			if (rest <= 0) {
				*timedout = true;
				break;
			}
			if (rest < wait)
				wait = (int)rest;
		}
		curl_multi_poll(m, NULL, 0, wait, NULL);
	}
	curl_multi_remove_handle(m, e->h);
	curl_multi_cleanup(m);
	curl_slist_free_all(hdrs);
	return crc;
}

/* Re-list the watched range and hand it over as ETCD_WATCH_RESYNC. */
static int
watch_resync(struct wstream *w, struct lr_err *err)
{
	struct etcd_range_req rr;
	struct etcd_range_result r;
	struct etcd_watch_batch b;
	int rc;

	etcd_watch_resync_req(w->req, &rr);
	if ((rc = etcd_range(w->e, &rr, &r, err)) < 0)
		return rc;
	memset(&b, 0, sizeof(b));
	b.kind = ETCD_WATCH_RESYNC;
	b.revision = r.revision;
	b.kvs = r.kvs;
	b.nkvs = r.nkvs;
	b.compact_revision = w->compacted;
	w->next_rev = r.revision + 1;
	w->compacted = 0;
	rc = w->cb(&b, w->arg);
	etcd_range_result_release(&r);
	return rc;
}

int
etcd_watch(struct etcd *e, const struct etcd_watch_req *req,
    long timeout_ms, etcd_watch_cb *cb, void *arg, struct lr_err *err)
{
	struct etcd_conf *c = &e->conf;
	struct etcd_watch_batch b;
	struct lr_err derr, lerr;
	struct wstream w;
	enum etcd_curl_class cls;
	enum etcd_http_action act;
	char reason[CURL_ERROR_SIZE];
	long deadline, backoff = WATCH_BACKOFF_MIN_MS, status, rest;
	size_t ep;
	CURLcode crc;
	json_t *j;
	bool timedout, reauthed = false;
	int rc = 0, fails = 0;

	if (err == NULL)
		err = &lerr;
	lr_err_clear(&derr);
	memset(&w, 0, sizeof(w));
	w.e = e;
	w.req = req;
	w.cb = cb;
	w.arg = arg;
	w.next_rev = req->start_revision;
	w.err = err;
	w.what = etcd_what("watch", req->key);
	etcd_events_init(&w.ev);
	deadline = timeout_ms > 0 ? lr_now_ms() + timeout_ms : 0;
	ep = c->cur;
	for (;;) {
		w.created = false;
		w.endpoint = c->endpoints[ep];
		if (etcd_conf_needs_auth(c) &&
		    (rc = authenticate(e, err)) < 0) {
			if (rc != LR_EUNREACH)
				break;
			/* etcd away while logging in: same as a drop */
			cls = ETCD_CURL_NEXT;
			derr = *err;
			goto dropped;
		}
		w.reauth = false;
		lr_buf_reset(&w.acc);
		crc = watch_stream(&w, ep, deadline, &timedout);
		if (w.created) {
			c->cur = ep;
			e->last_ep = c->endpoints[ep];
		}
		if (w.stop != 0) {
			rc = w.stop;
			break;
		}
		if (w.fatal != 0) {
			rc = w.fatal;
			break;
		}
		if (w.compacted > 0) {
			if ((rc = watch_resync(&w, err)) != 0)
				break;
			continue;
		}
		if (w.reauth) {
			if (reauthed || c->user == NULL) {
				rc = err && err->code ? err->code : LR_EAUTH;
				break;
			}
			reauthed = true;
			etcd_conf_set_token(c, NULL);
			continue;
		}
		if (timedout) {
			rc = lr_err_set(err, LR_ECANCELED, "etcd %s: no more "
			    "events in %ld ms", w.what, timeout_ms);
			break;
		}
		cls = etcd_curl_classify(e->h, crc, e->errbuf, reason,
		    sizeof(reason));
		if (cls == ETCD_CURL_TLS) {
			rc = etcd_curl_error(err, cls, w.what, w.endpoint,
			    reason);
			break;
		}
		status = 0;
		curl_easy_getinfo(e->h, CURLINFO_RESPONSE_CODE, &status);
		if (cls == ETCD_CURL_OK && status != 200) {
			j = etcd_json_parse(e->resp.s, e->resp.len);
			act = etcd_http_check(status, j, e->resp.s,
			    e->resp.len, w.what, w.endpoint, &derr);
			json_decref(j);
			if (act == ETCD_HTTP_REAUTH && !reauthed &&
			    c->user != NULL) {
				reauthed = true;
				etcd_conf_set_token(c, NULL);
				continue;
			}
			if (act != ETCD_HTTP_NEXT) {
				if (err)
					*err = derr;
				rc = derr.code;
				break;
			}
		} else {
			if (cls == ETCD_CURL_OK)
				snprintf(reason, sizeof(reason),
				    "the stream ended");
			etcd_curl_error(&derr, ETCD_CURL_NEXT, w.what,
			    w.endpoint, reason);
		}
dropped:
		if (w.created) {
			/* it worked for a while: start over quickly */
			reauthed = false;
			backoff = WATCH_BACKOFF_MIN_MS;
			fails = 0;
		} else {
			fails++;
		}
		ep = (ep + 1) % c->nendpoints;
		if (w.created)
			continue;
		/* tried every endpoint once: tell the caller, then wait */
		if (fails % c->nendpoints != 0)
			continue;
		memset(&b, 0, sizeof(b));
		b.kind = ETCD_WATCH_DISCONNECTED;
		b.revision = w.next_rev > 0 ? w.next_rev - 1 : 0;
		b.err = &derr;
		if ((rc = cb(&b, arg)) != 0)
			break;
		if (deadline > 0) {
			rest = deadline - lr_now_ms();
			if (rest <= 0) {
				rc = lr_err_set(err, LR_ECANCELED, "etcd %s: "
				    "no more events in %ld ms (%s)", w.what,
				    timeout_ms, derr.msg);
				break;
			}
			lr_sleep_ms(backoff < rest ? backoff : rest);
		} else {
			lr_sleep_ms(backoff);
		}
		backoff = backoff * 2 > WATCH_BACKOFF_MAX_MS ?
		    WATCH_BACKOFF_MAX_MS : backoff * 2;
	}
	etcd_events_release(&w.ev);
	lr_buf_release(&w.acc);
	free((char *)w.what);
	return rc;
}
