/*
 * The leader of leurad's replicas (source.h): etcd's election recipe.
 * Each replica holds a lease of ttl seconds, kept alive every third of
 * it, and campaigns with one transaction: "if P/leader does not exist,
 * put it bound to my lease" (create_revision == 0).  The winner leads
 * while its lease lives; the others watch P/leader, and its deletion
 * (the leader resigned, or its lease ran out because it died) starts a
 * new campaign at once.  So a leader killed with -9 is replaced within
 * the TTL: the lease expires at most ttl seconds after its last
 * keep-alive, and the watchers' delete event follows.
 *
 * A leader that cannot renew its lease for three quarters of the TTL (a
 * partition) stops calling itself leader before etcd can give the key to
 * another, so two replicas never both believe they lead; what the leader
 * does (auto-apply) is guarded in etcd besides (the apply lock and the
 * head's revision, reconcile/deploy.h), so a step taken just before a
 * lost lease is never taken twice.
 *
 * One thread per replica (blocking etcd calls on two clients of its own:
 * one runs the watch, the other campaigns and keeps the lease alive from
 * the watch's tick).  P/leader's value: {"id": replica, "since": RFC3339,
 * "lease": lease id as a string}.
 */
#define LR_LOG_COMPONENT "leader"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "auth.h"
#include "buf.h"
#include "clock.h"
#include "etcd.h"
#include "json.h"
#include "keys.h"
#include "leurad.h"
#include "log.h"
#include "source.h"
#include "xalloc.h"

struct srv_leader {
	struct srv	*s;			/* borrowed */
	int		 ttl;			/* seconds */
	char		*key;			/* owned: P/leader */
	struct etcd	*ew, *ek;		/* owned: watch; the rest */
	uv_thread_t	 thread;
	bool		 started;
	atomic_int	 stop;
	/* the thread's own */
	int64_t		 lease;			/* 0: none */
	long		 renewed_ms;		/* the last good keep-alive */
	/* guarded by mu: what other threads read */
	pthread_mutex_t	 mu;
	bool		 leading;
	int64_t		 key_rev;		/* P/leader's create revision */
	char		 since[LR_TIME_ISO_LEN];
};

static void
set_leading(struct srv_leader *l, bool on)
{
	pthread_mutex_lock(&l->mu);
	if (!on)
		l->key_rev = 0;
	if (on && !l->leading) {
		lr_time_iso_now(l->since);
		lr_log_notice("replica %s leads (lease %llx, ttl %d s)",
		    l->s->id, (unsigned long long)l->lease, l->ttl);
		srv_metrics_inc("leurad_leader_changes_total", "");
	} else if (!on && l->leading)
		lr_log_notice("replica %s no longer leads", l->s->id);
	l->leading = on;
	pthread_mutex_unlock(&l->mu);
}

bool
ldr_is_leader(struct srv *s)
{
	struct srv_leader *l = s->leader;
	bool on;

	if (l == NULL)
		return false;
	pthread_mutex_lock(&l->mu);
	on = l->leading;
	pthread_mutex_unlock(&l->mu);
	return on;
}

int64_t
ldr_leader_rev(struct srv *s)
{
	struct srv_leader *l = s->leader;
	int64_t rev;

	if (l == NULL)
		return 0;
	pthread_mutex_lock(&l->mu);
	rev = l->leading ? l->key_rev : 0;
	pthread_mutex_unlock(&l->mu);
	return rev;
}

static void
set_key_rev(struct srv_leader *l, int64_t rev)
{
	pthread_mutex_lock(&l->mu);
	l->key_rev = rev;
	pthread_mutex_unlock(&l->mu);
}

/* Sleep ms, in steps, unless stopped: false when stopped. */
static bool
nap(struct srv_leader *l, long ms)
{
	for (; ms > 0 && !atomic_load(&l->stop); ms -= 100)
		lr_sleep_ms(ms < 100 ? ms : 100);
	return !atomic_load(&l->stop);
}

/*
 * One campaign: take P/leader when free.  0 and *rev (the revision to
 * watch from), or an LR_E* (err set).
 */
static int
campaign(struct srv_leader *l, int64_t *rev, struct lr_err *err)
{
	struct etcd_txn t;
	struct etcd_txn_result r = { 0 };
	struct etcd_range_req rr = { .key = l->key };
	char since[LR_TIME_ISO_LEN], lease[24], *val;
	const struct etcd_range_result *cur;
	json_t *v;
	int rc;

	lr_time_iso_now(since);
	snprintf(lease, sizeof(lease), "%lld", (long long)l->lease);
	v = json_pack("{s:s, s:s, s:s}", "id", l->s->id, "since", since,
	    "lease", lease);
	/* freed below */
	val = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(v);
	etcd_txn_init(&t);
	etcd_txn_cmp_int(&t, l->key, ETCD_CMP_CREATE, ETCD_CMP_EQUAL, 0);
	etcd_txn_put(&t, ETCD_THEN, l->key, val, strlen(val), l->lease);
	etcd_txn_range(&t, ETCD_ELSE, &rr);
	free(val);
	rc = etcd_txn_commit(l->ek, &t, &r, err);
	etcd_txn_release(&t);
	if (rc < 0)
		return rc;
	*rev = r.revision;
	if (r.succeeded) {
		set_key_rev(l, r.revision);
		set_leading(l, true);
	} else if (r.nops == 1 && (cur = &r.ops[0].range)->nkvs == 1) {
		/* ours when the key is bound to our lease (a re-campaign) */
		if (cur->kvs[0].lease == l->lease)
			set_key_rev(l, cur->kvs[0].create_revision);
		set_leading(l, cur->kvs[0].lease == l->lease);
		if ((v = json_loads(cur->kvs[0].value, 0, NULL)) != NULL)
			lr_log_info("replica %s follows %s", l->s->id,
			    lr_json_str(v, "id"));
		json_decref(v);
	} else
		set_leading(l, false);
	etcd_txn_result_release(&r);
	return 0;
}

/* The watch's callback: 1 (campaign again) when P/leader went away. */
static int
on_batch(const struct etcd_watch_batch *b, void *arg)
{
	struct srv_leader *l = arg;
	size_t i;

	if (b->kind == ETCD_WATCH_RESYNC)
		return b->nkvs == 0 ? 1 : 0;
	if (b->kind != ETCD_WATCH_EVENTS)
		return 0;
	for (i = 0; i < b->nevents; i++) {
		if (b->events[i].type == ETCD_EV_DELETE)
			return 1;
		/* someone else's put: not ours any more */
		set_leading(l, b->events[i].kv.lease == l->lease);
	}
	return 0;
}

/*
 * Every third of the TTL: keep the lease alive.  2 when the lease is
 * gone (granted anew, then a campaign); a leader that could not renew
 * for 3/4 of the TTL steps down until it can.
 */
static int
on_tick(bool connected, void *arg)
{
	struct srv_leader *l = arg;
	struct lr_err err;
	int64_t ttl = 0;
	long t0 = lr_now_ms();

	(void)connected;
	lr_err_clear(&err);
	if (etcd_lease_keepalive(l->ek, l->lease, &ttl, &err) == 0) {
		if (ttl <= 0) {
			lr_log_warn("lease %llx of replica %s ran out",
			    (unsigned long long)l->lease, l->s->id);
			l->lease = 0;
			set_leading(l, false);
			return 2;
		}
		l->renewed_ms = t0;
		return 0;
	}
	if (t0 - l->renewed_ms > (long)l->ttl * 750 && ldr_is_leader(l->s)) {
		lr_log_warn("cannot renew the leader's lease for %ld ms (%s): "
		    "stepping down", t0 - l->renewed_ms, err.msg);
		set_leading(l, false);
	}
	return 0;
}

static void
leader_main(void *arg)
{
	struct srv_leader *l = arg;
	struct etcd_watch_req wr = { 0 };
	struct etcd_watch_opts wo = { 0 };
	struct lr_err err;
	int64_t rev;
	int rc;

	wr.key = l->key;
	wo.stop = &l->stop;
	wo.tick = on_tick;
	wo.tick_ms = l->ttl * 1000L / 3;
	while (!atomic_load(&l->stop)) {
		lr_err_clear(&err);
		if (l->lease == 0) {
			if (etcd_lease_grant(l->ek, l->ttl, &l->lease,
			    &err) < 0) {
				lr_log_warn("cannot get a lease for the leader "
				    "election: %s", err.msg);
				l->lease = 0;
				nap(l, 1000);
				continue;
			}
			l->renewed_ms = lr_now_ms();
		}
		if (campaign(l, &rev, &err) < 0) {
			lr_log_warn("leader campaign: %s", err.msg);
			if (l->renewed_ms + l->ttl * 750L < lr_now_ms())
				set_leading(l, false);
			nap(l, 500);
			continue;
		}
		wr.start_revision = rev + 1;
		rc = etcd_watch_run(l->ew, &wr, &wo, on_batch, l, &err);
		if (rc == LR_ECANCELED)
			break;
		if (rc < 0) {
			lr_log_warn("watch of %s: %s", l->key, err.msg);
			nap(l, 500);
		}
	}
	set_leading(l, false);
	/* resign: the next replica takes over at once */
	if (l->lease) {
		lr_err_clear(&err);
		etcd_lease_revoke(l->ek, l->lease, &err);
	}
}

int
ldr_etcd_new(struct srv *s, struct etcd **out, struct lr_err *err)
{
	struct etcd_config cfg = { 0 };

	cfg.endpoints = s->conn.endpoints;
	cfg.user = s->conn.user;
	cfg.password = s->conn.password;
	cfg.cacert = s->conn.cacert;
	cfg.cert = s->conn.cert;
	cfg.key = s->conn.key;
	return etcd_new(&cfg, out, err);
}

static void
leader_metrics(struct srv *s, struct lr_buf *out, void *arg)
{
	(void)arg;
	lr_buf_printf(out, "# HELP leurad_leader Whether this replica leads "
	    "(runs auto-apply).\n# TYPE leurad_leader gauge\n"
	    "leurad_leader %d\n", ldr_is_leader(s) ? 1 : 0);
}

int
ldr_init(struct srv *s, int ttl_s, struct lr_err *err)
{
	struct srv_leader *l;
	int rc;

	l = lr_xcalloc(1, sizeof(*l));	/* s->leader, freed by ldr_free */
	l->s = s;
	l->ttl = ttl_s < 2 ? 2 : ttl_s;
	l->key = proto_key_leader(s->prefix);
	pthread_mutex_init(&l->mu, NULL);
	atomic_init(&l->stop, 0);
	s->leader = l;
	if ((rc = ldr_etcd_new(s, &l->ew, err)) < 0 ||
	    (rc = ldr_etcd_new(s, &l->ek, err)) < 0)
		return rc;
	if (uv_thread_create(&l->thread, leader_main, l) != 0)
		return lr_err_set(err, LR_EIO, "cannot start the leader "
		    "election thread");
	l->started = true;
	srv_metrics_add(s, leader_metrics, NULL);
	return 0;
}

void
ldr_free(struct srv *s)
{
	struct srv_leader *l = s->leader;

	if (l == NULL)
		return;
	atomic_store(&l->stop, 1);
	if (l->started)
		uv_thread_join(&l->thread);
	etcd_free(l->ew);
	etcd_free(l->ek);
	pthread_mutex_destroy(&l->mu);
	free(l->key);
	free(l);
	s->leader = NULL;
}

/* GET /v1/leader: who leads, as etcd says, and this replica. */
static void
get_leader(struct srv_req *req, struct srv_resp *resp)
{
	struct srv_leader *l = req->srv->leader;
	struct etcd_kv kv = { 0 };
	struct lr_err err;
	json_t *v = NULL, *out;
	int64_t rev;
	int rc;

	if (!auth_require(req, resp, AUTH_READ, "fleet"))
		return;
	lr_err_clear(&err);
	if (l == NULL) {
		srv_resp_error(resp, 404, "not_found", "start leurad with "
		    "--leader-ttl to join the election", "this replica takes "
		    "no part in the leader election");
		return;
	}
	rc = etcd_get(req->etcd, l->key, &kv, &rev, &err);
	if (rc < 0 && rc != LR_ENOENT) {
		srv_resp_lr_err(resp, &err);
		return;
	}
	if (rc == 0)
		v = json_loads(kv.value, 0, NULL);
	pthread_mutex_lock(&l->mu);
	out = json_pack("{s:s?, s:s?, s:s, s:b, s:i, s:I}", "leader",
	    lr_json_strn(v, "id"), "since", lr_json_strn(v, "since"),
	    "replica", req->srv->id, "is_leader", l->leading, "ttl", l->ttl,
	    "revision", (json_int_t)rev);
	pthread_mutex_unlock(&l->mu);
	json_decref(v);
	etcd_kv_release(&kv);
	srv_resp_json(resp, 200, out);
}

void
ldr_routes(struct srv *s)
{
	srv_route(s->router, "GET", "/v1/leader", get_leader, 0);
}
