/*
 * The blocking face of the etcd client (struct etcd in etcd.h), for the
 * CLI: the engine (etcd_uv.c) on a libuv loop of its own.  A call starts
 * the engine's operation and runs the private loop until the operation's
 * callback has run; a watch runs it until the batch callback, the tick,
 * the deadline or the stop flag ends it.  Fail-over, authentication, TLS,
 * watch resume, back-off and compaction re-list are the engine's; this
 * file only waits, and shapes the engine's answers into the blocking
 * calls' results:
 *
 *   - the requests refused before sending (too big, too many operations)
 *     get their messages here;
 *   - a watch passes the engine's DISCONNECTED batches on while etcd is
 *     unreachable (the engine retries), and ends on any other failure
 *     (refused, TLS, an error answer) with that error: a command cannot
 *     fix those by waiting;
 *   - the watch's deadline, stop flag and tick are uv_timers on the same
 *     loop, next to the stream: one stream for the whole watch.
 *
 * The loop runs only inside a call, so a watch callback may not call into
 * its own client (LR_BUG); other clients are fine, each has its own loop.
 * Memory: the loop and its handles live in struct etcd; etcd_free stops
 * the engine and runs the loop dry before closing it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "etcd-int.h"
#include "etcd_uv.h"
#include "xalloc.h"

#define STOP_POLL_MS	100	/* how often a watch looks at *stop */
#define WATCH_BACKOFF_MIN_MS	50	/* a blocking watch's first wait, ms */
#define WATCH_BACKOFF_MAX_MS	2000	/* ... doubling up to this */

struct etcd {
	uv_loop_t loop;
	struct etcd_uv *eu;
	uv_timer_t deadline;	/* a watch's timeout_ms */
	uv_timer_t poll;	/* a watch's look at *stop */
	uv_timer_t tick;	/* a watch's tick */
	bool	 running;	/* the loop runs: no call may nest */
};

int
etcd_new(const struct etcd_config *cfg, struct etcd **out,
    struct lr_err *err)
{
	struct etcd *e;
	int rc;

	e = lr_xcalloc(1, sizeof(*e));
	if ((rc = uv_loop_init(&e->loop)) < 0) {
		free(e);
		return lr_err_set(err, LR_EIO, "etcd: cannot make an event "
		    "loop: %s", uv_strerror(rc));
	}
	if ((rc = etcd_uv_new(&e->loop, cfg, &e->eu, err)) < 0) {
		uv_loop_close(&e->loop);
		free(e);
		return rc;
	}
	etcd_uv_auth_errors_bare(e->eu);	/* as the old blocking client */
	uv_timer_init(&e->loop, &e->deadline);
	uv_timer_init(&e->loop, &e->poll);
	uv_timer_init(&e->loop, &e->tick);
	*out = e;
	return 0;
}

void
etcd_free(struct etcd *e)
{
	if (e == NULL)
		return;
	etcd_uv_free(e->eu);
	uv_close((uv_handle_t *)&e->deadline, NULL);
	uv_close((uv_handle_t *)&e->poll, NULL);
	uv_close((uv_handle_t *)&e->tick, NULL);
	uv_run(&e->loop, UV_RUN_DEFAULT);	/* every close callback */
	if (uv_loop_close(&e->loop) != 0)
		LR_BUG("etcd: a handle outlived the client");
	free(e);
}

const char *
etcd_endpoint(const struct etcd *e)
{
	return etcd_uv_endpoint(e->eu);
}

/* Run the private loop until *done. */
static void
run_until(struct etcd *e, const bool *done)
{
	if (e->running)
		LR_BUG("etcd: a blocking call on a client from inside its own "
		    "watch callback");
	e->running = true;
	while (!*done)
		if (uv_run(&e->loop, UV_RUN_ONCE) == 0 && !*done)
			LR_BUG("etcd: the loop ran dry before the answer");
	e->running = false;
}

/* ---- unary calls ------------------------------------------------------ */

/* The outcome of one engine call. */
struct result {
	bool	 done;
	int	 status;
	json_t	*resp;		/* owned; status 0 */
	struct lr_err err;	/* status < 0 */
};

static void
result_cb(int status, const json_t *resp, const struct lr_err *err,
    void *arg)
{
	struct result *r = arg;

	r->done = true;
	r->status = status;
	if (status == 0)
		r->resp = json_incref((json_t *)resp);
	else if (err != NULL)
		r->err = *err;
	else
		lr_err_set(&r->err, status, "etcd: the call failed");
}

/*
 * Wait for the call that returned started (0, or an error without a
 * callback) and fill *resp (the caller's) or err.
 */
static int
await(struct etcd *e, int started, const char *what, struct result *r,
    json_t **resp, struct lr_err *err)
{
	if (started < 0)
		return lr_err_set(err, started, "etcd %s: cannot start the "
		    "request", what);
	run_until(e, &r->done);
	if (r->status < 0) {
		if (err != NULL)
			*err = r->err;
		return r->status;
	}
	*resp = r->resp;
	return 0;
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
	struct result r = { 0 };
	json_t *resp = NULL;
	int rc;

	if ((rc = await(e, etcd_uv_range(e->eu, req, result_cb, &r), "range",
	    &r, &resp, err)) == 0)
		rc = etcd_range_decode(resp, out, err);
	json_decref(resp);
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
	struct result r = { 0 };
	json_t *resp = NULL;
	char *what;
	size_t bytes;
	int rc;

	what = etcd_what("put", key);
	bytes = 4 * ((strlen(key) + 2) / 3) + 4 * ((len + 2) / 3) + 64;
	if (bytes > ETCD_MAX_REQUEST_BYTES)
		rc = too_big(bytes, what, err);
	else if ((rc = await(e, etcd_uv_put(e->eu, key, val, len, lease,
	    result_cb, &r), what, &r, &resp, err)) == 0 && revision)
		*revision = etcd_header_revision(resp);
	json_decref(resp);
	free(what);
	return rc;
}

int
etcd_delete(struct etcd *e, const char *key, unsigned flags,
    int64_t *deleted, int64_t *revision, struct lr_err *err)
{
	struct result r = { 0 };
	json_t *resp = NULL;
	int64_t n;
	int rc;

	if ((rc = await(e, etcd_uv_delete(e->eu, key, flags, result_cb, &r),
	    "delete", &r, &resp, err)) == 0 &&
	    (rc = etcd_delete_decode(resp, &n, err)) == 0) {
		if (deleted)
			*deleted = n;
		if (revision)
			*revision = etcd_header_revision(resp);
	}
	json_decref(resp);
	return rc;
}

int
etcd_txn_commit(struct etcd *e, const struct etcd_txn *t,
    struct etcd_txn_result *out, struct lr_err *err)
{
	struct result r = { 0 };
	json_t *resp = NULL;
	int rc;

	if (t->bytes > ETCD_MAX_REQUEST_BYTES)
		return too_big(t->bytes, "txn", err);
	if (t->nops > ETCD_MAX_TXN_OPS) {
		lr_err_set(err, LR_ETOOBIG, "etcd txn: %zu operations, over "
		    "etcd's limit of %d", t->nops, ETCD_MAX_TXN_OPS);
		return lr_err_hint(err, "split the change into several txns, "
		    "or raise etcd's --max-txn-ops");
	}
	if ((rc = await(e, etcd_uv_txn(e->eu, t, result_cb, &r), "txn", &r,
	    &resp, err)) == 0)
		rc = etcd_txn_decode(resp, out, err);
	json_decref(resp);
	return rc;
}

int
etcd_compact(struct etcd *e, int64_t revision, struct lr_err *err)
{
	struct result r = { 0 };
	json_t *resp = NULL;
	int rc;

	rc = await(e, etcd_uv_compact(e->eu, revision, result_cb, &r),
	    "compact", &r, &resp, err);
	json_decref(resp);
	return rc;
}

int
etcd_lease_grant(struct etcd *e, int64_t ttl_s, int64_t *id,
    struct lr_err *err)
{
	struct result r = { 0 };
	json_t *resp = NULL;
	int64_t got;
	int rc;

	if ((rc = await(e, etcd_uv_lease_grant(e->eu, ttl_s, result_cb, &r),
	    "lease grant", &r, &resp, err)) == 0 &&
	    (rc = etcd_lease_grant_decode(resp, &got, NULL, err)) == 0)
		*id = got;
	json_decref(resp);
	return rc;
}

int
etcd_lease_keepalive(struct etcd *e, int64_t id, int64_t *ttl,
    struct lr_err *err)
{
	struct result r = { 0 };
	json_t *resp = NULL;
	int64_t t;
	int rc;

	if ((rc = await(e, etcd_uv_lease_keepalive(e->eu, id, result_cb, &r),
	    "lease keepalive", &r, &resp, err)) == 0 &&
	    (rc = etcd_lease_keepalive_decode(resp, &t, err)) == 0)
		*ttl = t;
	json_decref(resp);
	return rc;
}

int
etcd_lease_revoke(struct etcd *e, int64_t id, struct lr_err *err)
{
	struct result r = { 0 };
	json_t *resp = NULL;
	int rc;

	rc = await(e, etcd_uv_lease_revoke(e->eu, id, result_cb, &r),
	    "lease revoke", &r, &resp, err);
	json_decref(resp);
	return rc;
}

int
etcd_lease_ttl(struct etcd *e, int64_t id, int64_t *ttl, int64_t *granted,
    struct lr_err *err)
{
	struct result r = { 0 };
	json_t *resp = NULL;
	int64_t t, g;
	int rc;

	if ((rc = await(e, etcd_uv_lease_ttl(e->eu, id, result_cb, &r),
	    "lease ttl", &r, &resp, err)) == 0 &&
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

/* One blocking watch: the engine's watch plus the face's timers. */
struct bwatch {
	struct etcd *e;
	const struct etcd_watch_opts *o;
	etcd_watch_cb *cb;
	void	*arg;
	struct etcd_uv_watch *w;
	char	*what;		/* "watch '/k'" */
	bool	 done;
	int	 rc;		/* done: what etcd_watch_run returns */
	bool	 lost;		/* the last batch was DISCONNECTED */
	struct lr_err lost_err;	/* its error */
	struct lr_err *err;	/* the caller's (or a local one) */
};

/* End the watch with rc (err already set when rc is an LR_E* code). */
static void
bw_end(struct bwatch *bw, int rc)
{
	if (bw->done)
		return;
	bw->done = true;
	bw->rc = rc;
	etcd_uv_watch_stop(bw->w);	/* also from inside its callback */
	uv_timer_stop(&bw->e->deadline);
	uv_timer_stop(&bw->e->poll);
	uv_timer_stop(&bw->e->tick);
}

static void
bw_batch(const struct etcd_watch_batch *b, void *arg)
{
	struct bwatch *bw = arg;
	int rc;

	if (bw->done)
		return;
	if (b->kind == ETCD_WATCH_DISCONNECTED) {
		if (b->err != NULL && b->err->code != LR_EUNREACH) {
			/* refused, TLS, an error answer: waiting won't do */
			*bw->err = *b->err;
			bw_end(bw, b->err->code < 0 ? b->err->code : LR_EETCD);
			return;
		}
		bw->lost = true;
		if (b->err != NULL)
			bw->lost_err = *b->err;
	} else
		bw->lost = false;
	if ((rc = bw->cb(b, bw->arg)) != 0)
		bw_end(bw, rc);
}

static void
bw_deadline(uv_timer_t *t)
{
	struct bwatch *bw = t->data;

	if (bw->lost)
		lr_err_set(bw->err, LR_ECANCELED, "etcd %s: no more events in "
		    "%ld ms (%s)", bw->what, bw->o->timeout_ms,
		    bw->lost_err.msg);
	else
		lr_err_set(bw->err, LR_ECANCELED, "etcd %s: no more events in "
		    "%ld ms", bw->what, bw->o->timeout_ms);
	bw_end(bw, LR_ECANCELED);
}

static void
bw_poll(uv_timer_t *t)
{
	struct bwatch *bw = t->data;

	if (!*bw->o->stop)
		return;
	lr_err_set(bw->err, LR_ECANCELED, "etcd %s: stopped", bw->what);
	bw_end(bw, LR_ECANCELED);
}

static void
bw_tick(uv_timer_t *t)
{
	struct bwatch *bw = t->data;
	int rc;

	if (!bw->done && (rc = bw->o->tick(etcd_uv_watch_is_open(bw->w),
	    bw->arg)) != 0)
		bw_end(bw, rc);
}

int
etcd_watch_run(struct etcd *e, const struct etcd_watch_req *req,
    const struct etcd_watch_opts *o, etcd_watch_cb *cb, void *arg,
    struct lr_err *err)
{
	static const struct etcd_watch_opts none;
	/* the blocking client's retries, as they always were */
	static const struct etcd_watch_retry retry = {
		WATCH_BACKOFF_MIN_MS, WATCH_BACKOFF_MAX_MS, true
	};
	struct bwatch bw;
	struct lr_err lerr;
	int rc;

	if (e->running)
		LR_BUG("etcd: a watch on a client from inside its own watch "
		    "callback");
	memset(&bw, 0, sizeof(bw));
	bw.e = e;
	bw.o = o != NULL ? o : &none;
	bw.cb = cb;
	bw.arg = arg;
	bw.err = err != NULL ? err : &lerr;
	if (bw.o->stop != NULL && *bw.o->stop)
		return lr_err_set(bw.err, LR_ECANCELED, "etcd watch '%s': "
		    "stopped", req->key);
	if ((rc = etcd_uv_watch_start(e->eu, req, bw_batch, &bw, &bw.w,
	    bw.err)) < 0)
		return rc;
	etcd_uv_watch_set_retry(bw.w, &retry);
	bw.what = etcd_what("watch", req->key);
	e->deadline.data = e->poll.data = e->tick.data = &bw;
	uv_update_time(&e->loop);	/* idle since the last call */
	if (bw.o->timeout_ms > 0)
		uv_timer_start(&e->deadline, bw_deadline,
		    (uint64_t)bw.o->timeout_ms, 0);
	if (bw.o->stop != NULL)
		uv_timer_start(&e->poll, bw_poll, STOP_POLL_MS, STOP_POLL_MS);
	if (bw.o->tick_ms > 0 && bw.o->tick != NULL)
		uv_timer_start(&e->tick, bw_tick, (uint64_t)bw.o->tick_ms,
		    (uint64_t)bw.o->tick_ms);
	run_until(e, &bw.done);
	free(bw.what);
	return bw.rc;
}

int
etcd_watch(struct etcd *e, const struct etcd_watch_req *req,
    long timeout_ms, etcd_watch_cb *cb, void *arg, struct lr_err *err)
{
	struct etcd_watch_opts o = { .timeout_ms = timeout_ms };

	return etcd_watch_run(e, req, &o, cb, arg, err);
}
