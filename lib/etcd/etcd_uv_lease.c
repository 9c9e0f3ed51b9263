/*
 * The engine's kept-alive leases (etcd_uv_lease_start): a grant, then a
 * keep-alive every ttl/3, retried with back-off; the holder hears of a
 * lease lost and of a new one.  The design decisions are at the top of
 * etcd_uv.c; the one-shot lease calls (etcd_uv_lease_grant...) are there
 * too, with the other calls.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "etcd_uv-int.h"
#include "xalloc.h"

/* ---- leases ----------------------------------------------------------- */

static void lease_tick(uv_timer_t *t);

static uint64_t
lease_interval(const struct etcd_uv_lease *l)
{
	uint64_t ms = (uint64_t)l->ttl_s * 1000 / 3;

	return ms < BACKOFF_MIN_MS ? BACKOFF_MIN_MS : ms;
}

static void
lease_closed(uv_handle_t *h)
{
	struct etcd_uv_lease *l = h->data;
	struct etcd_uv *eu = l->eu;

	free(l);
	etcd_uv_unref(eu);
}

static void
lease_notify(struct etcd_uv_lease *l, int64_t id)
{
	if (!l->stopped)
		l->cb(id, l->arg);
}

/* A grant or keep-alive failed: report a lost lease once, retry. */
static void
lease_trouble(struct etcd_uv_lease *l)
{
	struct etcd_uv *eu = l->eu;
	uint64_t cap = lease_interval(l);

	if (!l->lost && (l->id == 0 ||
	    uv_now(eu->loop) - l->last_ok >= (uint64_t)l->ttl_s * 1000)) {
		l->lost = true;
		lease_notify(l, 0);
		if (l->stopped || eu->freeing)
			return;
	}
	if (cap > BACKOFF_MAX_MS)
		cap = BACKOFF_MAX_MS;
	if (l->backoff_ms == 0)
		l->backoff_ms = BACKOFF_MIN_MS;
	else if ((l->backoff_ms *= 2) > cap)
		l->backoff_ms = (unsigned)cap;
	uv_timer_start(&l->timer, lease_tick, jitter(eu, l->backoff_ms), 0);
}

static void
lease_grant_done(int status, const json_t *resp, const struct lr_err *err,
    void *arg)
{
	struct etcd_uv_lease *l = arg;
	int64_t id = 0, ttl = 0;
	struct lr_err e;

	(void)err;
	l->call = NULL;
	if (status == 0)
		status = etcd_lease_grant_decode(resp, &id, &ttl, &e);
	if (status < 0) {
		lease_trouble(l);
		return;
	}
	l->id = id;
	l->last_ok = uv_now(l->eu->loop);
	l->lost = false;
	l->backoff_ms = 0;
	uv_timer_start(&l->timer, lease_tick, lease_interval(l), 0);
	lease_notify(l, id);
}

static void
lease_grant(struct etcd_uv_lease *l)
{
	char what[64];

	snprintf(what, sizeof(what), "grant lease (ttl %" PRId64 " s)",
	    l->ttl_s);
	l->call = etcd_uv_call_new(l->eu, ETCD_PATH_GRANT,
	    etcd_lease_grant_encode(l->ttl_s), what, 0, true,
	    lease_grant_done, l);
	etcd_uv_call_start(l->call);
}

static void
lease_ka_done(int status, const json_t *resp, const struct lr_err *err,
    void *arg)
{
	struct etcd_uv_lease *l = arg;
	int64_t ttl = 0;
	struct lr_err e;

	l->call = NULL;
	if (status == 0)
		status = etcd_lease_keepalive_decode(resp, &ttl, &e);
	else if (err != NULL && err->code == LR_ENOENT)
		status = 0;	/* "lease not found": gone, ttl 0 */
	if (status < 0) {
		lease_trouble(l);
		return;
	}
	if (ttl <= 0) {
		/* expired or revoked behind our back: a new one */
		l->id = 0;
		lease_grant(l);
		return;
	}
	l->last_ok = uv_now(l->eu->loop);
	l->backoff_ms = 0;
	uv_timer_start(&l->timer, lease_tick, lease_interval(l), 0);
	if (l->lost) {
		l->lost = false;
		lease_notify(l, l->id);
	}
}

static void
lease_tick(uv_timer_t *t)
{
	struct etcd_uv_lease *l = t->data;
	char what[64];

	if (l->stopped || l->call != NULL)
		return;
	if (l->id == 0) {
		lease_grant(l);
		return;
	}
	snprintf(what, sizeof(what), "keep-alive of lease %" PRId64, l->id);
	l->call = etcd_uv_call_new(l->eu, ETCD_PATH_KEEPALIVE,
	    etcd_lease_id_encode(l->id), what, 0, true, lease_ka_done, l);
	etcd_uv_call_start(l->call);
}

int
etcd_uv_lease_start(struct etcd_uv *eu, int64_t ttl_s, etcd_uv_lease_cb *cb,
    void *arg, struct etcd_uv_lease **out, struct lr_err *err)
{
	struct etcd_uv_lease *l;

	if (eu == NULL || cb == NULL || out == NULL)
		return lr_err_set(err, LR_EINVAL, "etcd lease: no client or "
		    "callback");
	if (ttl_s <= 0)
		return lr_err_set(err, LR_EINVAL, "etcd lease: ttl %" PRId64
		    " s is not positive", ttl_s);
	if (eu->freeing)
		return lr_err_set(err, LR_ECANCELED, "etcd lease: the client "
		    "is being closed");
	l = lr_xcalloc(1, sizeof(*l));
	l->eu = eu;
	l->ttl_s = ttl_s;
	l->cb = cb;
	l->arg = arg;
	uv_timer_init(eu->loop, &l->timer);
	l->timer.data = l;
	eu->refs++;
	l_push(&eu->leases, &l->link);
	lease_grant(l);
	*out = l;
	return 0;
}

void
etcd_uv_lease_stop(struct etcd_uv_lease *l, bool revoke)
{
	struct etcd_uv *eu;
	char what[64];

	if (l == NULL || l->stopped)
		return;
	eu = l->eu;
	l->stopped = true;
	if (l->call != NULL) {
		/* a grant in flight may still create a lease: it expires */
		etcd_uv_call_cancel(l->call);
		l->call = NULL;
	}
	if (revoke && l->id != 0 && !eu->freeing) {
		/* fire and forget; etcd_uv_free cancels it */
		snprintf(what, sizeof(what), "revoke lease %" PRId64, l->id);
		etcd_uv_call_start(etcd_uv_call_new(eu, ETCD_PATH_REVOKE,
		    etcd_lease_id_encode(l->id), what, 0, true, NULL, NULL));
	}
	l_del(&l->link);
	uv_timer_stop(&l->timer);
	uv_close((uv_handle_t *)&l->timer, lease_closed);
}
