/*
 * The etcd client's engine (etcd_uv.h): calls, watches and leases driven by
 * one curl multi handle on a libuv loop, the caller's (agent, leurad) or
 * the private one of a blocking struct etcd (etcd.c).  What to send, how to
 * read answers and what errors mean comes from the transport-free core
 * (etcd-int.h); the engine only moves bytes and keeps state.  This file
 * holds the client, curl on libuv, authentication and calls (with the
 * one-shot lease calls); watches are in etcd_uv_watch.c, kept-alive leases
 * in etcd_uv_lease.c, the types they share in etcd_uv-int.h.
 *
 * Plumbing (curl's multi-socket API on libuv): CURLMOPT_SOCKETFUNCTION keeps
 * one uv_poll per socket (its context is attached with curl_multi_assign and
 * closed on CURL_POLL_REMOVE); CURLMOPT_TIMERFUNCTION drives one uv_timer,
 * and an idle handle when it says "now".
 * After every curl_multi_socket_action the finished transfers are drained
 * from curl_multi_info_read into our own "ready" queue, and only then is
 * user code run (pump()), never from inside a curl callback: a callback may
 * start calls, stop watches or free the client, all of which touch the
 * multi handle.  Results that are known before any I/O (an allocation or
 * auth failure) go through the same queue, woken by a 0 ms timer, so a
 * callback never runs from inside the function that was given it.
 *
 * Design decisions (see also etcd.h):
 *   - etcd_uv_call fails over to the next endpoint on a connection error
 *     (etcd_curl_classify NEXT) or an "unavailable" answer (code 14), starting
 *     at the endpoint that answered last; when every endpoint failed the
 *     callback gets LR_EUNREACH naming each endpoint and why.  A timeout after
 *     connecting (a member that hangs, a black-holed address) moves on too,
 *     but only for requests that are safe to repeat (ETCD_REQ_REPEAT: the
 *     first may have been applied): reads, txns (etcd_uv.h, etcd_uv_txn,
 *     says why each of Leura's is), authentication and the lease
 *     keep-alive and time-to-live.  A put, delete, compaction, grant or
 *     revoke that timed out fails.
 *   - Authentication is one shared authenticate call; every request that
 *     needs a token waits for it.  A 401/code 16 answer forgets the token
 *     and retries the request once after authenticating again.
 *   - etcd_uv_call and the convenience wrappers return an error (and never
 *     call the callback) only for bad arguments, a client being freed
 *     (LR_ECANCELED) or, for etcd_uv_txn, a transaction over
 *     ETCD_MAX_REQUEST_BYTES or ETCD_MAX_TXN_OPS (LR_ETOOBIG, returned
 *     directly).  Everything else reaches the callback.
 *   - Watches: one streaming request per watch, re-opened from the last
 *     revision + 1 after a back-off (100 ms doubling to 5 s, jittered, on
 *     the next endpoint).  Every failed attempt delivers one
 *     ETCD_WATCH_DISCONNECTED batch, so a long outage gives at most one
 *     every ~5 s.  etcd_uv_watch_set_retry may set other bounds, and
 *     per_round (the blocking face's old way: etcd-int.h).  Compaction:
 *     the stream is closed, the watched range is re-listed and delivered
 *     as ETCD_WATCH_RESYNC, then watched from the listing's revision + 1.
 *   - A watch that etcd denies (LR_EPERM) or whose credentials are refused
 *     (LR_EAUTH) first gets a fresh token and one more try (an expired token
 *     shows up as "permission denied" on a watch); if that is refused too,
 *     the DISCONNECTED batch carries LR_EPERM/LR_EAUTH and the watch is
 *     dead: no more callbacks, no retries (retrying a refusal forever would
 *     hide a configuration error).  The holder still calls
 *     etcd_uv_watch_stop, and may start a new watch when it knows better.
 *   - Leases: a keep-alive every ttl/3.  A failed keep-alive is retried with
 *     back-off; cb(0) is called once only when the lease cannot be alive any
 *     more (ttl passed since the last good keep-alive) or a grant failed.
 *     When etcd answers again: a live lease gives cb(same id) if cb(0) was
 *     called; a gone one is replaced by a new grant and cb(new id).
 *   - etcd_uv_free runs the LR_ECANCELED callbacks of pending calls before
 *     it returns (they may not start anything new: LR_ECANCELED); watches
 *     and leases stop without callbacks and without revoking (to revoke,
 *     etcd_uv_lease_stop(l, true) and let the loop run before freeing).
 *     Their pointers are invalid afterwards.  It may be called from inside
 *     any callback.
 *   - Memory: calls are freed when their callback returns; watches, leases,
 *     socket contexts and the client itself own uv handles and are freed in
 *     the close callbacks, so the client outlives its last handle.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcd_uv-int.h"
#include "xalloc.h"

static void pump(struct etcd_uv *eu);
static void call_send(struct call *c);

/* ---- the client's handles --------------------------------------------- */

void
etcd_uv_unref(struct etcd_uv *eu)
{
	if (--eu->refs > 0 || !eu->freeing)
		return;
	etcd_conf_release(&eu->conf);
	free(eu);
}

static void
eu_timer_closed(uv_handle_t *h)
{
	etcd_uv_unref(h->data);
}


/* ---- curl on libuv ---------------------------------------------------- */

static void
sock_closed(uv_handle_t *h)
{
	struct sock *s = h->data;
	struct etcd_uv *eu = s->eu;

	free(s);
	etcd_uv_unref(eu);
}

static void
sock_close(struct sock *s)
{
	l_del(&s->link);
	uv_poll_stop(&s->poll);
	uv_close((uv_handle_t *)&s->poll, sock_closed);
}

static void
poll_cb(uv_poll_t *p, int status, int events)
{
	struct sock *s = p->data;
	struct etcd_uv *eu = s->eu;
	int flags = 0, running;

	if (status < 0)
		flags = CURL_CSELECT_ERR;
	else {
		if (events & UV_READABLE)
			flags |= CURL_CSELECT_IN;
		if (events & UV_WRITABLE)
			flags |= CURL_CSELECT_OUT;
	}
	/* s may be closed (CURL_POLL_REMOVE) inside; eu stays */
	curl_multi_socket_action(eu->multi, s->fd, flags, &running);
	pump(eu);
}

static int
sock_cb(CURL *h, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct etcd_uv *eu = userp;
	struct sock *s = socketp;
	int events = 0;

	(void)h;
	if (what == CURL_POLL_REMOVE) {
		if (s != NULL) {
			sock_close(s);
			if (!eu->freeing)
				curl_multi_assign(eu->multi, fd, NULL);
		}
		return 0;
	}
	if (eu->freeing)
		return 0;
	if (s == NULL) {
		s = lr_xcalloc(1, sizeof(*s));
		s->eu = eu;
		s->fd = fd;
		if (uv_poll_init_socket(eu->loop, &s->poll, fd) < 0) {
			free(s);
			return -1;
		}
		s->poll.data = s;
		eu->refs++;
		l_push(&eu->socks, &s->link);
		curl_multi_assign(eu->multi, fd, s);
	}
	if (what & CURL_POLL_IN)
		events |= UV_READABLE;
	if (what & CURL_POLL_OUT)
		events |= UV_WRITABLE;
	uv_poll_start(&s->poll, events, poll_cb);
	return 0;
}

static void
curl_timeout(struct etcd_uv *eu)
{
	int running;

	curl_multi_socket_action(eu->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	pump(eu);
}

static void
curl_timer_cb(uv_timer_t *t)
{
	curl_timeout(t->data);
}

static void
curl_now_cb(uv_idle_t *i)
{
	uv_idle_stop(i);
	curl_timeout(i->data);
}

/*
 * curl's timer.  0 means "now", but socket_action may not be called from
 * here: an idle handle runs it in the next loop iteration without the
 * poll blocking (a 1 ms timer, as curl's multi-uv example does, cost every
 * blocking call a millisecond asleep; a 0 ms uv_timer re-armed from its
 * own callback runs again in the same pass on libuv 1.44).
 */
static int
timer_fn(CURLM *m, long ms, void *userp)
{
	struct etcd_uv *eu = userp;

	(void)m;
	if (eu->freeing)
		return 0;
	uv_timer_stop(&eu->curl_timer);
	uv_idle_stop(&eu->curl_now);
	if (ms == 0)
		uv_idle_start(&eu->curl_now, curl_now_cb);
	else if (ms > 0)
		uv_timer_start(&eu->curl_timer, curl_timer_cb, (uint64_t)ms,
		    0);
	return 0;
}

static void
defer_cb(uv_timer_t *t)
{
	pump(t->data);
}

void
etcd_uv_xfer_detach(struct etcd_uv *eu, struct xfer *x)
{
	if (x->in_multi) {
		curl_multi_remove_handle(eu->multi, x->h);
		x->in_multi = false;
	}
	l_del(&x->ready);
}

/* Prepare x->h for one request to endpoint x->ep. */
int
etcd_uv_xfer_setup(struct etcd_uv *eu, struct xfer *x, const char *path,
    const char *body, size_t len, unsigned flags)
{
	if (x->h == NULL) {
		if ((x->h = curl_easy_init()) == NULL)
			return LR_ENOMEM;
	} else
		curl_easy_reset(x->h);
	curl_slist_free_all(x->hdrs);
	x->hdrs = NULL;
	x->errbuf[0] = '\0';
	etcd_curl_setup(x->h, &eu->conf, x->ep, path, body, len, flags,
	    &x->hdrs, x->errbuf);
	curl_easy_setopt(x->h, CURLOPT_PRIVATE, x);
	x->done = false;
	x->rc = CURLE_OK;
	x->token_gen = eu->token_gen;
	return 0;
}

/* Move finished transfers from curl's queue to ours. */
static void
drain(struct etcd_uv *eu)
{
	CURLMsg *m;
	struct xfer *x;
	char *p;
	int left;

	while ((m = curl_multi_info_read(eu->multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		p = NULL;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &p);
		x = (struct xfer *)(void *)p;
		x->rc = m->data.result;
		curl_multi_remove_handle(eu->multi, x->h);	/* m is gone */
		x->in_multi = false;
		x->done = true;
		if (l_empty(&x->ready))
			l_push(&eu->ready, &x->ready);
	}
}

static void call_process(struct call *c);

/*
 * Run everything that is ready.  User callbacks run from here (or from
 * etcd_uv_free); after each one the client may be freeing.
 */
static void
pump(struct etcd_uv *eu)
{
	struct lnode *n;
	struct xfer *x;

	if (eu->freeing)
		return;
	drain(eu);
	while (!eu->freeing && (n = l_pop(&eu->ready)) != NULL) {
		x = CONTAINER(n, struct xfer, ready);
		if (x->kind == XF_CALL)
			call_process((struct call *)x);
		else
			etcd_uv_watch_process((struct etcd_uv_watch *)x);
	}
}

/* ---- authentication --------------------------------------------------- */

/* The token used by x was refused: forget it unless renewed since. */
void
etcd_uv_forget_token(struct etcd_uv *eu, const struct xfer *x)
{
	if (x->token_gen != eu->token_gen)
		return;
	etcd_conf_set_token(&eu->conf, NULL);
	eu->token_gen++;
}

static void
auth_done(int status, const json_t *resp, const struct lr_err *err,
    void *arg)
{
	struct etcd_uv *eu = arg;
	struct lnode local, *n;
	struct waiter *wt;
	struct lr_err e;
	char *tok = NULL;

	eu->auth_call = NULL;
	if (status == 0 && !eu->conf.auth_off) {
		lr_err_clear(&e);
		if ((status = etcd_auth_decode(resp, &tok, &e)) < 0)
			err = &e;
		else {
			etcd_conf_set_token(&eu->conf, tok);
			eu->token_gen++;
			free(tok);
		}
	}
	/* a waiter's failure may free the client or stop other waiters */
	l_init(&local);
	while ((n = l_pop(&eu->auth_wait)) != NULL)
		l_push(&local, n);
	while (!eu->freeing && (n = l_pop(&local)) != NULL) {
		wt = CONTAINER(n, struct waiter, link);
		wt->ready(wt, status, err);
	}
	while ((n = l_pop(&local)) != NULL)	/* freeing: just unlink */
		;
}

/* Run wt->ready once there is a token (now, if there is one). */
void
etcd_uv_auth_wait(struct etcd_uv *eu, struct waiter *wt)
{
	struct call *c;
	char *what;

	l_del(&wt->link);
	l_push(&eu->auth_wait, &wt->link);
	if (eu->auth_call != NULL)
		return;
	what = etcd_what("authenticate as", eu->conf.user);
	c = etcd_uv_call_new(eu, ETCD_PATH_AUTH, etcd_auth_encode(&eu->conf),
	    what, ETCD_REQ_NOAUTH | ETCD_REQ_REPEAT, true, auth_done, eu);
	free(what);
	eu->auth_call = c;
	call_send(c);
}

/* ---- calls ------------------------------------------------------------ */

static size_t
call_write(char *p, size_t sz, size_t n, void *arg)
{
	struct call *c = arg;

	lr_buf_add(&c->resp, p, sz * n);
	return sz * n;
}

static void
call_free(struct call *c)
{
	if (c->x.h != NULL)
		curl_easy_cleanup(c->x.h);
	curl_slist_free_all(c->x.hdrs);
	lr_buf_release(&c->resp);
	lr_buf_release(&c->tried);
	free(c->path);
	if (c->flags & ETCD_REQ_NOAUTH)	/* the password */
		explicit_bzero(c->body, c->bodylen);
	free(c->body);
	free(c->what);
	free(c);
}

static void
call_unlink(struct call *c)
{
	etcd_uv_xfer_detach(c->eu, &c->x);
	l_del(&c->link);
	l_del(&c->w.link);
}

/* Drop c without its callback (its owner is gone). */
void
etcd_uv_call_cancel(struct call *c)
{
	if (c->eu->auth_call == c)
		c->eu->auth_call = NULL;
	call_unlink(c);
	call_free(c);
}

static void
call_finish(struct call *c, int status, const json_t *resp,
    const struct lr_err *err)
{
	call_unlink(c);
	if (c->cb != NULL)
		c->cb(status, status < 0 ? NULL : resp,
		    status < 0 ? err : NULL, c->arg);
	call_free(c);
}

/* Deliver status/err through pump(), never from the caller's stack. */
static void
call_result_later(struct call *c, int status, const struct lr_err *err)
{
	struct etcd_uv *eu = c->eu;

	etcd_uv_xfer_detach(eu, &c->x);
	c->has_result = true;
	c->status = status;
	c->err = *err;
	l_push(&eu->ready, &c->x.ready);
	uv_timer_start(&eu->defer, defer_cb, 0, 0);
}

static void
call_auth_ready(struct waiter *wt, int status, const struct lr_err *err)
{
	struct call *c = CONTAINER(wt, struct call, w);
	struct lr_err e;

	if (status == 0) {
		call_send(c);
		return;
	}
	if (c->eu->auth_bare) {
		call_result_later(c, status, err);
		return;
	}
	lr_err_set(&e, status, "%s: %s", c->what, err->msg);
	if (err->hint[0] != '\0')
		lr_err_hint(&e, "%s", err->hint);
	call_result_later(c, status, &e);
}

void
etcd_uv_auth_errors_bare(struct etcd_uv *eu)
{
	eu->auth_bare = true;
}

static void
call_send(struct call *c)
{
	struct etcd_uv *eu = c->eu;
	struct lr_err e;
	int rc;

	lr_buf_reset(&c->resp);
	if ((rc = etcd_uv_xfer_setup(eu, &c->x, c->path, c->body, c->bodylen,
	    c->flags)) == 0) {
		curl_easy_setopt(c->x.h, CURLOPT_WRITEFUNCTION, call_write);
		curl_easy_setopt(c->x.h, CURLOPT_WRITEDATA, c);
		if (curl_multi_add_handle(eu->multi, c->x.h) == CURLM_OK) {
			c->x.in_multi = true;
			return;
		}
		rc = LR_EIO;
	}
	lr_err_set(&e, rc, "etcd %s: cannot start the request", c->what);
	call_result_later(c, rc, &e);
}

void
etcd_uv_call_start(struct call *c)
{
	if (!(c->flags & ETCD_REQ_NOAUTH) &&
	    etcd_conf_needs_auth(&c->eu->conf))
		etcd_uv_auth_wait(c->eu, &c->w);
	else
		call_send(c);
}

struct call *
etcd_uv_call_new(struct etcd_uv *eu, const char *path, json_t *body,
    const char *what, unsigned flags, bool internal, etcd_uv_cb *cb,
    void *arg)
{
	struct call *c = lr_xcalloc(1, sizeof(*c));

	c->x.kind = XF_CALL;
	l_init(&c->x.ready);
	l_init(&c->w.link);
	c->w.ready = call_auth_ready;
	c->eu = eu;
	c->path = lr_xstrdup(path);
	c->body = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
	if (c->body == NULL)
		c->body = lr_xstrdup("{}");
	c->bodylen = strlen(c->body);
	json_decref(body);
	c->what = lr_xstrdup(what != NULL ? what : path);
	c->flags = flags;
	c->internal = internal;
	c->cb = cb;
	c->arg = arg;
	c->x.ep = eu->conf.cur;
	lr_buf_init(&c->resp);
	lr_buf_init(&c->tried);
	l_push(&eu->calls, &c->link);
	return c;
}

/* This endpoint could not serve c: the next one, or give up. */
static void
call_next(struct call *c, const char *reason)
{
	struct etcd_uv *eu = c->eu;
	struct lr_err e;

	etcd_tried_add(&c->tried, ep_url(eu, c->x.ep), reason);
	if (++c->ntried >= eu->conf.nendpoints) {
		etcd_unreach_error(&e, &c->tried);
		call_finish(c, e.code, NULL, &e);
		return;
	}
	c->x.ep = (c->x.ep + 1) % eu->conf.nendpoints;
	call_send(c);
}

static void
call_process(struct call *c)
{
	struct etcd_uv *eu = c->eu;
	enum etcd_curl_class cls;
	enum etcd_http_action act;
	const char *ep = ep_url(eu, c->x.ep);
	char reason[CURL_ERROR_SIZE + 64];
	struct lr_err e;
	json_t *resp;
	long status = 0;
	int rc;

	if (c->has_result) {
		call_finish(c, c->status, NULL, &c->err);
		return;
	}
	lr_err_clear(&e);
	reason[0] = '\0';
	cls = etcd_curl_classify(c->x.h, c->x.rc, c->x.errbuf, reason,
	    sizeof(reason));
	if (cls == ETCD_CURL_NEXT || (cls == ETCD_CURL_TIMEOUT &&
	    (c->flags & ETCD_REQ_REPEAT))) {
		call_next(c, reason);
		return;
	}
	if (cls != ETCD_CURL_OK) {
		rc = etcd_curl_error(&e, cls, c->what, ep, reason);
		call_finish(c, rc, NULL, &e);
		return;
	}
	curl_easy_getinfo(c->x.h, CURLINFO_RESPONSE_CODE, &status);
	resp = etcd_json_parse(c->resp.s != NULL ? c->resp.s : "",
	    c->resp.len);
	if ((c->flags & ETCD_REQ_NOAUTH) && etcd_auth_disabled(status, resp)) {
		/* etcd runs without authentication: go on without a token */
		eu->conf.auth_off = true;
		eu->conf.cur = c->x.ep;
		call_finish(c, 0, resp, NULL);
		json_decref(resp);
		return;
	}
	act = etcd_http_check(status, resp, c->resp.s, c->resp.len, c->what,
	    ep, &e);
	if (act == ETCD_HTTP_OK && resp == NULL) {
		lr_err_set(&e, LR_EETCD, "etcd %s at '%s': the answer is not "
		    "JSON", c->what, ep);
		act = ETCD_HTTP_FAIL;
	}
	switch (act) {
	case ETCD_HTTP_OK:
		eu->conf.cur = c->x.ep;
		call_finish(c, 0, resp, NULL);
		break;
	case ETCD_HTTP_REAUTH:
		if (c->reauthed || eu->conf.user == NULL ||
		    (c->flags & ETCD_REQ_NOAUTH)) {
			call_finish(c, e.code, NULL, &e);
			break;
		}
		c->reauthed = true;
		etcd_uv_forget_token(eu, &c->x);
		etcd_uv_call_start(c);
		break;
	case ETCD_HTTP_NEXT:
		call_next(c, "no leader or not ready");
		break;
	default:
		call_finish(c, e.code < 0 ? e.code : LR_EETCD, NULL, &e);
		break;
	}
	json_decref(resp);
}

/* ---- public: client and calls ----------------------------------------- */

int
etcd_uv_new(uv_loop_t *loop, const struct etcd_config *cfg,
    struct etcd_uv **out, struct lr_err *err)
{
	struct etcd_uv *eu;
	int rc;

	if (loop == NULL || cfg == NULL || out == NULL)
		return lr_err_set(err, LR_EINVAL,
		    "etcd: no loop or no configuration");
	etcd_curl_global_init();
	eu = lr_xcalloc(1, sizeof(*eu));
	if ((rc = etcd_conf_parse(cfg, &eu->conf, err)) < 0) {
		free(eu);
		return rc;
	}
	if ((eu->multi = curl_multi_init()) == NULL) {
		etcd_conf_release(&eu->conf);
		free(eu);
		return lr_err_set(err, LR_ENOMEM, "etcd: cannot make a curl "
		    "multi handle");
	}
	eu->loop = loop;
	l_init(&eu->auth_wait);
	l_init(&eu->calls);
	l_init(&eu->ready);
	l_init(&eu->watches);
	l_init(&eu->leases);
	l_init(&eu->socks);
	eu->rng = uv_hrtime() ^ (uint64_t)(uintptr_t)eu;
	curl_multi_setopt(eu->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
	curl_multi_setopt(eu->multi, CURLMOPT_SOCKETDATA, eu);
	curl_multi_setopt(eu->multi, CURLMOPT_TIMERFUNCTION, timer_fn);
	curl_multi_setopt(eu->multi, CURLMOPT_TIMERDATA, eu);
	uv_timer_init(loop, &eu->curl_timer);
	uv_idle_init(loop, &eu->curl_now);
	uv_timer_init(loop, &eu->defer);
	eu->curl_timer.data = eu;
	eu->curl_now.data = eu;
	eu->defer.data = eu;
	eu->refs = 3;
	*out = eu;
	return 0;
}

/* etcd_uv_call with ETCD_REQ_* flags. */
static int
call_flags(struct etcd_uv *eu, const char *path, json_t *body,
    const char *what, unsigned flags, etcd_uv_cb *cb, void *arg)
{
	if (eu == NULL || path == NULL || cb == NULL) {
		json_decref(body);
		return LR_EINVAL;
	}
	if (eu->freeing) {
		json_decref(body);
		return LR_ECANCELED;
	}
	etcd_uv_call_start(etcd_uv_call_new(eu, path, body, what, flags, false,
	    cb, arg));
	return 0;
}

int
etcd_uv_call(struct etcd_uv *eu, const char *path, json_t *body,
    const char *what, etcd_uv_cb *cb, void *arg)
{
	return call_flags(eu, path, body, what, 0, cb, arg);
}

int
etcd_uv_range(struct etcd_uv *eu, const struct etcd_range_req *req,
    etcd_uv_cb *cb, void *arg)
{
	char *what;
	int rc;

	if (req == NULL || req->key == NULL)
		return LR_EINVAL;
	what = etcd_what("range", req->key);
	rc = call_flags(eu, ETCD_PATH_RANGE, etcd_range_encode(req), what,
	    ETCD_REQ_REPEAT, cb, arg);
	free(what);
	return rc;
}

int
etcd_uv_put(struct etcd_uv *eu, const char *key, const void *val,
    size_t len, int64_t lease, etcd_uv_cb *cb, void *arg)
{
	char *what;
	int rc;

	if (key == NULL || (val == NULL && len > 0))
		return LR_EINVAL;
	if (len > ETCD_MAX_REQUEST_BYTES)
		return LR_ETOOBIG;
	what = etcd_what("put", key);
	rc = etcd_uv_call(eu, ETCD_PATH_PUT,
	    etcd_put_encode(key, val != NULL ? val : "", len, lease, 0), what,
	    cb, arg);
	free(what);
	return rc;
}

int
etcd_uv_txn(struct etcd_uv *eu, const struct etcd_txn *t, etcd_uv_cb *cb,
    void *arg)
{
	if (t == NULL)
		return LR_EINVAL;
	if (t->bytes > ETCD_MAX_REQUEST_BYTES || t->nops > ETCD_MAX_TXN_OPS)
		return LR_ETOOBIG;
	return call_flags(eu, ETCD_PATH_TXN, etcd_txn_encode(t), "txn",
	    ETCD_REQ_REPEAT, cb, arg);
}

int
etcd_uv_delete(struct etcd_uv *eu, const char *key, unsigned flags,
    etcd_uv_cb *cb, void *arg)
{
	char *what;
	int rc;

	if (key == NULL)
		return LR_EINVAL;
	what = etcd_what("delete", key);
	rc = etcd_uv_call(eu, ETCD_PATH_DELETE, etcd_delete_encode(key, flags),
	    what, cb, arg);
	free(what);
	return rc;
}

int
etcd_uv_compact(struct etcd_uv *eu, int64_t revision, etcd_uv_cb *cb,
    void *arg)
{
	char what[64];

	snprintf(what, sizeof(what), "compact at revision %" PRId64,
	    revision);
	return etcd_uv_call(eu, ETCD_PATH_COMPACT, json_pack("{sIsb}",
	    "revision", (json_int_t)revision, "physical", 0), what, cb, arg);
}

int
etcd_uv_lease_grant(struct etcd_uv *eu, int64_t ttl_s, etcd_uv_cb *cb,
    void *arg)
{
	return etcd_uv_call(eu, ETCD_PATH_GRANT, etcd_lease_grant_encode(ttl_s),
	    "lease grant", cb, arg);
}

/*
 * A call about lease id: "lease <op> '<id in hex>'" in errors.  A second
 * keep-alive or time-to-live changes nothing the first did not: repeated
 * on the next endpoint after a timeout; a revoke is not (its second would
 * answer "not found").
 */
static int
lease_call(struct etcd_uv *eu, const char *path, const char *op, int64_t id,
    etcd_uv_cb *cb, void *arg)
{
	json_t *body;
	char what[64];

	snprintf(what, sizeof(what), "lease %s '%llx'", op,
	    (unsigned long long)id);
	body = etcd_lease_id_encode(id);
	if (strcmp(path, ETCD_PATH_TTL) == 0)
		json_object_set_new(body, "keys", json_false());
	return call_flags(eu, path, body, what, strcmp(path,
	    ETCD_PATH_REVOKE) != 0 ? ETCD_REQ_REPEAT : 0, cb, arg);
}

int
etcd_uv_lease_keepalive(struct etcd_uv *eu, int64_t id, etcd_uv_cb *cb,
    void *arg)
{
	return lease_call(eu, ETCD_PATH_KEEPALIVE, "keepalive", id, cb, arg);
}

int
etcd_uv_lease_revoke(struct etcd_uv *eu, int64_t id, etcd_uv_cb *cb,
    void *arg)
{
	return lease_call(eu, ETCD_PATH_REVOKE, "revoke", id, cb, arg);
}

int
etcd_uv_lease_ttl(struct etcd_uv *eu, int64_t id, etcd_uv_cb *cb, void *arg)
{
	return lease_call(eu, ETCD_PATH_TTL, "ttl", id, cb, arg);
}

const char *
etcd_uv_endpoint(const struct etcd_uv *eu)
{
	return eu->conf.endpoints[eu->conf.cur];
}

/* ---- freeing ---------------------------------------------------------- */

void
etcd_uv_free(struct etcd_uv *eu)
{
	struct lnode *n;
	struct call *c;
	struct lr_err e;

	if (eu == NULL || eu->freeing)
		return;
	eu->freeing = true;
	while (!l_empty(&eu->watches))
		etcd_uv_watch_stop(CONTAINER(eu->watches.next,
		    struct etcd_uv_watch, link));
	while (!l_empty(&eu->leases))
		etcd_uv_lease_stop(CONTAINER(eu->leases.next,
		    struct etcd_uv_lease, link), false);
	/* a callback may not start anything new: eu->freeing */
	while ((n = l_pop(&eu->calls)) != NULL) {
		c = CONTAINER(n, struct call, link);
		call_unlink(c);
		if (!c->internal && c->cb != NULL) {
			lr_err_set(&e, LR_ECANCELED, "etcd %s: canceled: the "
			    "client was closed", c->what);
			c->cb(LR_ECANCELED, NULL, &e, c->arg);
		}
		call_free(c);
	}
	eu->auth_call = NULL;
	uv_timer_stop(&eu->curl_timer);
	uv_idle_stop(&eu->curl_now);
	curl_multi_cleanup(eu->multi);	/* may close sockets: sock_cb */
	eu->multi = NULL;
	while (!l_empty(&eu->socks))
		sock_close(CONTAINER(eu->socks.next, struct sock, link));
	uv_close((uv_handle_t *)&eu->curl_timer, eu_timer_closed);
	uv_close((uv_handle_t *)&eu->curl_now, eu_timer_closed);
	uv_close((uv_handle_t *)&eu->defer, eu_timer_closed);
}
