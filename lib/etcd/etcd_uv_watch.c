/*
 * The engine's watches (etcd_uv_watch_start): one streaming request per
 * watch, its lines decoded by the core (etcd_watch_decode_line), re-opened
 * after a back-off, re-listed after compaction.  The design decisions are
 * at the top of etcd_uv.c.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcd_uv-int.h"
#include "xalloc.h"

static void watch_open(struct etcd_uv_watch *w);
static void watch_reopen(struct etcd_uv_watch *w);

/* ---- watches ---------------------------------------------------------- */

enum { WL_GO, WL_STOPPED, WL_COMPACTED, WL_FAIL };

static void
watch_closed(uv_handle_t *h)
{
	struct etcd_uv_watch *w = h->data;
	struct etcd_uv *eu = w->eu;

	if (w->x.h != NULL)
		curl_easy_cleanup(w->x.h);
	curl_slist_free_all(w->x.hdrs);
	lr_buf_release(&w->raw);
	lr_buf_release(&w->acc);
	etcd_events_release(&w->ev);
	free(w->key);
	free(w->end);
	free(w->what);
	free(w);
	etcd_uv_unref(eu);
}

void
etcd_uv_watch_stop(struct etcd_uv_watch *w)
{
	if (w == NULL || w->stopped)
		return;
	w->stopped = true;
	etcd_uv_xfer_detach(w->eu, &w->x);
	l_del(&w->w.link);
	l_del(&w->link);
	if (w->range != NULL) {
		etcd_uv_call_cancel(w->range);
		w->range = NULL;
	}
	uv_timer_stop(&w->timer);
	/* the memory goes in watch_closed, after any callback returned */
	uv_close((uv_handle_t *)&w->timer, watch_closed);
}

/* Hand b to the holder; false when the watch was stopped meanwhile. */
static bool
watch_deliver(struct etcd_uv_watch *w, const struct etcd_watch_batch *b)
{
	if (w->stopped)
		return false;
	w->cb(b, w->arg);
	return !w->stopped;
}

static void
watch_timer_cb(uv_timer_t *t)
{
	watch_reopen(t->data);
}

/*
 * The stream (or the listing, or authentication) failed with err: tell the
 * holder and try again later, or give up on a refusal.
 */
static void
watch_fail(struct etcd_uv_watch *w, const struct lr_err *err)
{
	struct etcd_uv *eu = w->eu;
	struct etcd_watch_batch b;
	bool refused = err->code == LR_EPERM || err->code == LR_EAUTH;
	unsigned min_ms = w->retry.min_ms > 0 ? w->retry.min_ms :
	    BACKOFF_MIN_MS;
	unsigned max_ms = w->retry.max_ms > 0 ? w->retry.max_ms :
	    BACKOFF_MAX_MS;

	etcd_uv_xfer_detach(eu, &w->x);
	w->state = W_IDLE;
	if (refused && eu->conf.user != NULL && !w->reauthed) {
		/* an expired token looks like "permission denied" */
		w->reauthed = true;
		etcd_uv_forget_token(eu, &w->x);
		watch_reopen(w);
		return;
	}
	memset(&b, 0, sizeof(b));
	b.kind = ETCD_WATCH_DISCONNECTED;
	b.revision = w->next_rev > 0 ? w->next_rev - 1 : 0;
	b.err = err;
	if (refused)
		w->state = W_DEAD;
	if (w->retry.per_round && err->code == LR_EUNREACH) {
		/*
		 * Endpoints left in this round: go on at once (other
		 * failures reach the holder, as they did).
		 */
		w->x.ep = (w->x.ep + 1) % eu->conf.nendpoints;
		if (++w->fails % eu->conf.nendpoints != 0) {
			if (!w->stopped && !eu->freeing)
				uv_timer_start(&w->timer, watch_timer_cb, 0, 0);
			return;
		}
	}
	if (!watch_deliver(w, &b) || refused || eu->freeing)
		return;
	if (w->backoff_ms == 0)
		w->backoff_ms = min_ms;
	else if ((w->backoff_ms *= 2) > max_ms)
		w->backoff_ms = max_ms;
	if (w->retry.per_round) {
		uv_timer_start(&w->timer, watch_timer_cb, w->backoff_ms, 0);
		return;
	}
	w->x.ep = (w->x.ep + 1) % eu->conf.nendpoints;
	uv_timer_start(&w->timer, watch_timer_cb,
	    jitter(eu, w->backoff_ms), 0);
}

static size_t
watch_write(char *p, size_t sz, size_t n, void *arg)
{
	struct etcd_uv_watch *w = arg;

	/* no user code here: pump() splits and delivers */
	lr_buf_add(&w->raw, p, sz * n);
	if (l_empty(&w->x.ready))
		l_push(&w->eu->ready, &w->x.ready);
	return sz * n;
}

/*
 * etcd says "created" as soon as it takes a watch: a stream without it
 * after the request timeout is an endpoint that accepts and never answers
 * (a hung member, a black-holed address), which TCP keep-alive does not
 * notice.  Drop it and go on to the next endpoint, as after any loss.
 */
static void
watch_created_cb(uv_timer_t *t)
{
	struct etcd_uv_watch *w = t->data;
	struct lr_err e;

	if (w->stopped || w->state != W_STREAM || w->created)
		return;
	lr_err_set(&e, LR_EUNREACH, "etcd %s at '%s': cannot open the "
	    "stream: no answer in time; retrying", w->what,
	    ep_url(w->eu, w->x.ep));
	lr_err_hint(&e, "check that etcd is running and has a leader");
	watch_fail(w, &e);
}

/* Open the stream at next_rev; 0 or LR_E* (err set). */
static int
watch_open_now(struct etcd_uv_watch *w, struct lr_err *err)
{
	struct etcd_uv *eu = w->eu;
	struct etcd_watch_req req = w->req;
	json_t *j;
	char *body;
	int rc;

	req.start_revision = w->next_rev;
	j = etcd_watch_encode(&req);
	body = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (body == NULL)
		return lr_err_set(err, LR_ENOMEM, "etcd %s: cannot encode "
		    "the request", w->what);
	rc = etcd_uv_xfer_setup(eu, &w->x, ETCD_PATH_WATCH, body, strlen(body),
	    ETCD_REQ_WATCH);
	free(body);
	if (rc < 0)
		return lr_err_set(err, rc, "etcd %s: cannot start the "
		    "request", w->what);
	curl_easy_setopt(w->x.h, CURLOPT_WRITEFUNCTION, watch_write);
	curl_easy_setopt(w->x.h, CURLOPT_WRITEDATA, w);
	/* TCP keep-alive (set by etcd_curl_setup) notices a dead peer */
	lr_buf_reset(&w->raw);
	w->created = false;
	lr_buf_reset(&w->acc);
	if (curl_multi_add_handle(eu->multi, w->x.h) != CURLM_OK)
		return lr_err_set(err, LR_EIO, "etcd %s: cannot start the "
		    "request", w->what);
	w->x.in_multi = true;
	w->state = W_STREAM;
	uv_timer_start(&w->timer, watch_created_cb,
	    (uint64_t)eu->conf.timeout_ms, 0);
	return 0;
}

static void
watch_auth_ready(struct waiter *wt, int status, const struct lr_err *err)
{
	struct etcd_uv_watch *w = CONTAINER(wt, struct etcd_uv_watch, w);
	struct lr_err e;

	if (status < 0) {
		/* the authenticate call itself was refused: no second try */
		w->reauthed = true;
		if (w->eu->auth_bare) {
			watch_fail(w, err);
			return;
		}
		lr_err_set(&e, status, "%s: %s", w->what, err->msg);
		if (err->hint[0] != '\0')
			lr_err_hint(&e, "%s", err->hint);
		watch_fail(w, &e);
		return;
	}
	lr_err_clear(&e);
	if (watch_open_now(w, &e) < 0)
		watch_fail(w, &e);
}

/* Open the stream once there is a token. */
static void
watch_open(struct etcd_uv_watch *w)
{
	struct lr_err e;

	if (etcd_conf_needs_auth(&w->eu->conf)) {
		w->state = W_AUTH;
		etcd_uv_auth_wait(w->eu, &w->w);
		return;
	}
	lr_err_clear(&e);
	if (watch_open_now(w, &e) < 0)
		watch_fail(w, &e);
}

static void
watch_range_done(int status, const json_t *resp, const struct lr_err *err,
    void *arg)
{
	struct etcd_uv_watch *w = arg;
	struct etcd_range_result r;
	struct etcd_watch_batch b;
	struct lr_err e;

	w->range = NULL;
	memset(&r, 0, sizeof(r));
	if (status == 0) {
		lr_err_clear(&e);
		if ((status = etcd_range_decode(resp, &r, &e)) < 0)
			err = &e;
	}
	if (status < 0) {
		watch_fail(w, err);	/* resync stays set: list again */
		return;
	}
	w->resync = false;
	w->next_rev = r.revision + 1;
	memset(&b, 0, sizeof(b));
	b.kind = ETCD_WATCH_RESYNC;
	b.revision = r.revision;
	b.kvs = r.kvs;
	b.nkvs = r.nkvs;
	b.compact_revision = w->compact_rev;
	if (!watch_deliver(w, &b)) {
		etcd_range_result_release(&r);
		return;
	}
	etcd_range_result_release(&r);
	if (!w->eu->freeing)
		watch_open(w);
}

/* List the watched range again (after compaction). */
static void
watch_resync(struct etcd_uv_watch *w)
{
	struct etcd_range_req rr;
	char *what;

	w->resync = true;
	w->state = W_RANGE;
	etcd_watch_resync_req(&w->req, &rr);
	what = etcd_what("range", w->key);
	w->range = etcd_uv_call_new(w->eu, ETCD_PATH_RANGE,
	    etcd_range_encode(&rr), what, ETCD_REQ_REPEAT, true,
	    watch_range_done, w);
	free(what);
	etcd_uv_call_start(w->range);
}

static void
watch_reopen(struct etcd_uv_watch *w)
{
	if (w->stopped || w->eu->freeing)
		return;
	if (w->resync)
		watch_resync(w);
	else
		watch_open(w);
}

static int
watch_line(const char *line, size_t len, void *arg)
{
	struct etcd_uv_watch *w = arg;
	struct etcd_watch_batch b;
	struct etcd_watch_info info;
	const char *ep = ep_url(w->eu, w->x.ep);
	size_t i;

	memset(&b, 0, sizeof(b));
	memset(&info, 0, sizeof(info));
	lr_err_clear(&w->fail);
	if (etcd_watch_decode_line(line, len, &w->ev, &b, &info, w->what, ep,
	    &w->fail) < 0)
		return WL_FAIL;
	if (info.canceled) {
		if (info.compact_revision > 0) {
			w->compact_rev = info.compact_revision;
			return WL_COMPACTED;
		}
		etcd_watch_cancel_error(&info, w->what, ep, &w->fail);
		return WL_FAIL;
	}
	if (info.created) {
		/* the stream works: the next failure starts the back-off */
		w->backoff_ms = 0;
		w->fails = 0;
		w->reauthed = false;
		w->created = true;
		uv_timer_stop(&w->timer);	/* watch_created_cb */
		w->eu->conf.cur = w->x.ep;	/* calls start here too */
		if (w->next_rev == 0)
			w->next_rev = b.revision + 1;
	}
	if (b.kind == ETCD_WATCH_EVENTS) {
		for (i = 0; i < b.nevents; i++)
			if (b.events[i].kv.mod_revision >= w->next_rev)
				w->next_rev = b.events[i].kv.mod_revision + 1;
		return watch_deliver(w, &b) ? WL_GO : WL_STOPPED;
	}
	if (info.created || info.fragment)
		return WL_GO;
	/* a progress notification: everything up to b.revision was sent */
	if (b.revision >= w->next_rev)
		w->next_rev = b.revision + 1;
	if (!(w->req.flags & ETCD_PROGRESS_NOTIFY))
		return WL_GO;
	b.kind = ETCD_WATCH_PROGRESS;
	return watch_deliver(w, &b) ? WL_GO : WL_STOPPED;
}

/* The stream ended (x.done): why, as an error for DISCONNECTED. */
static void
watch_ended(struct etcd_uv_watch *w, long status)
{
	struct etcd_uv *eu = w->eu;
	const char *ep = ep_url(eu, w->x.ep);
	char reason[CURL_ERROR_SIZE + 64];
	enum etcd_curl_class cls;
	enum etcd_http_action act;
	struct lr_err e;
	json_t *j;

	lr_err_clear(&e);
	reason[0] = '\0';
	cls = etcd_curl_classify(w->x.h, w->x.rc, w->x.errbuf, reason,
	    sizeof(reason));
	if (cls == ETCD_CURL_OK && status != 200) {
		j = etcd_json_parse(w->raw.s != NULL ? w->raw.s : "",
		    w->raw.len);
		act = etcd_http_check(status, j, w->raw.s, w->raw.len,
		    w->what, ep, &e);
		json_decref(j);
		if (act == ETCD_HTTP_REAUTH && e.code != LR_EAUTH)
			e.code = LR_EAUTH;
		if (act != ETCD_HTTP_OK) {
			watch_fail(w, &e);
			return;
		}
	}
	if (cls == ETCD_CURL_TLS) {
		etcd_curl_error(&e, cls, w->what, ep, reason);
		watch_fail(w, &e);
		return;
	}
	if (cls == ETCD_CURL_OK)
		snprintf(reason, sizeof(reason), "closed by etcd");
	if (w->next_rev > 0)
		lr_err_set(&e, LR_EUNREACH, "etcd %s at '%s': %s: %s; "
		    "resuming at revision %" PRId64, w->what, ep,
		    w->created ? "stream lost" : "cannot open the stream",
		    reason, w->next_rev);
	else
		lr_err_set(&e, LR_EUNREACH, "etcd %s at '%s': %s: %s; "
		    "retrying", w->what, ep,
		    w->created ? "stream lost" : "cannot open the stream",
		    reason);
	lr_err_hint(&e, "check that etcd is running; the watch goes on by "
	    "itself when it is back");
	watch_fail(w, &e);
}

void
etcd_uv_watch_process(struct etcd_uv_watch *w)
{
	long status = 0;
	int act = WL_GO;

	if (w->stopped || w->state != W_STREAM)
		return;
	curl_easy_getinfo(w->x.h, CURLINFO_RESPONSE_CODE, &status);
	if (status == 200 && w->raw.len > 0) {
		act = etcd_lines_feed(&w->acc, w->raw.s, w->raw.len,
		    watch_line, w);
		lr_buf_reset(&w->raw);
	}
	if (w->stopped || w->eu->freeing)
		return;
	switch (act) {
	case WL_STOPPED:
		return;
	case WL_COMPACTED:
		/* the stream stays open after a cancel: close it */
		etcd_uv_xfer_detach(w->eu, &w->x);
		watch_resync(w);
		return;
	case WL_FAIL:
		watch_fail(w, &w->fail);
		return;
	}
	if (w->x.done)
		watch_ended(w, status);
}

int
etcd_uv_watch_start(struct etcd_uv *eu, const struct etcd_watch_req *req,
    etcd_uv_watch_cb *cb, void *arg, struct etcd_uv_watch **out,
    struct lr_err *err)
{
	struct etcd_uv_watch *w;
	int rc;

	if (eu == NULL || req == NULL || req->key == NULL || cb == NULL ||
	    out == NULL)
		return lr_err_set(err, LR_EINVAL, "etcd watch: no client, key "
		    "or callback");
	if (eu->freeing)
		return lr_err_set(err, LR_ECANCELED, "etcd watch '%s': the "
		    "client is being closed", req->key);
	w = lr_xcalloc(1, sizeof(*w));
	w->x.kind = XF_WATCH;
	l_init(&w->x.ready);
	l_init(&w->w.link);
	w->w.ready = watch_auth_ready;
	w->eu = eu;
	w->key = lr_xstrdup(req->key);
	w->req = *req;
	w->req.key = w->key;
	w->end = req->range_end != NULL ? lr_xstrdup(req->range_end) : NULL;
	w->req.range_end = w->end;
	w->what = etcd_what("watch", w->key);
	w->cb = cb;
	w->arg = arg;
	w->next_rev = req->start_revision;
	w->x.ep = eu->conf.cur;
	lr_buf_init(&w->raw);
	lr_buf_init(&w->acc);
	etcd_events_init(&w->ev);
	uv_timer_init(eu->loop, &w->timer);
	w->timer.data = w;
	eu->refs++;
	l_push(&eu->watches, &w->link);
	if (etcd_conf_needs_auth(&eu->conf)) {
		w->state = W_AUTH;
		etcd_uv_auth_wait(eu, &w->w);
	} else if ((rc = watch_open_now(w, err)) < 0) {
		etcd_uv_watch_stop(w);	/* never calls cb */
		return rc;
	}
	*out = w;
	return 0;
}

void
etcd_uv_watch_set_retry(struct etcd_uv_watch *w,
    const struct etcd_watch_retry *r)
{
	w->retry = *r;
}

bool
etcd_uv_watch_is_open(const struct etcd_uv_watch *w)
{
	return w != NULL && !w->stopped && w->state == W_STREAM &&
	    w->created;
}
