/*
 * The libuv client (etcd.h, "the libuv client") against real etcd members
 * started by the harness: calls, watches (resume, compaction, restart),
 * leases, fail-over, cancellation on free.  Every wait runs the loop with a
 * deadline, so a bug fails a test instead of hanging it; every test ends by
 * freeing the client, running the loop dry and checking uv_loop_close().
 * Blocking harness calls (stop/restart a member, th_etcd_post) happen only
 * between loop runs, never inside a callback.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <uv.h>

#include "err.h"
#include "etcd_uv.h"
#include "etcd_harness.h"

static struct th_etcd h1;	/* one member, shared by most tests */
static bool in_call;		/* set around calls; never seen by callbacks */

/* ---- loop helpers ----------------------------------------------------- */

static void
expired_cb(uv_timer_t *t)
{
	*(bool *)t->data = true;
}

static void
closed_flag(uv_handle_t *hd)
{
	*(bool *)hd->data = true;
}

typedef bool pred_fn(void *arg);

/*
 * Run loop until pred(arg) holds or ms of loop time pass; the result of
 * pred.  pred NULL: just run for ms.
 */
static bool
run_until(uv_loop_t *loop, pred_fn *pred, void *arg, uint64_t ms)
{
	uv_timer_t t;
	bool expired = false, closed = false, ok;

	uv_timer_init(loop, &t);
	t.data = &expired;
	uv_timer_start(&t, expired_cb, ms, 0);
	while (!(pred != NULL && pred(arg)) && !expired)
		uv_run(loop, UV_RUN_ONCE);
	ok = pred != NULL && pred(arg);
	t.data = &closed;
	uv_close((uv_handle_t *)&t, closed_flag);
	while (!closed)
		uv_run(loop, UV_RUN_NOWAIT);
	return ok;
}

/* Free the client, run the loop dry (bounded), close it. */
static void
finish(uv_loop_t *loop, struct etcd_uv *eu)
{
	int i;

	etcd_uv_free(eu);
	for (i = 0; i < 1000 && uv_loop_alive(loop); i++)
		uv_run(loop, UV_RUN_NOWAIT);
	assert_false(uv_loop_alive(loop));
	assert_int_equal(uv_loop_close(loop), 0);
}

static struct etcd_uv *
client_cfg(uv_loop_t *loop, struct etcd_config cfg)
{
	struct etcd_uv *eu = NULL;
	struct lr_err err;

	cfg.timeout_ms = 3000;
	cfg.connect_timeout_ms = 500;
	assert_int_equal(uv_loop_init(loop), 0);
	if (etcd_uv_new(loop, &cfg, &eu, &err) != 0)
		fail_msg("etcd_uv_new: %s", err.msg);
	return eu;
}

static struct etcd_uv *
client(uv_loop_t *loop, const char *endpoints, const char *user,
    const char *password)
{
	struct etcd_config cfg = { 0 };

	cfg.endpoints = endpoints;
	cfg.user = user;
	cfg.password = password;
	return client_cfg(loop, cfg);
}

/* ---- call results ----------------------------------------------------- */

struct res {
	int	 n;		/* callbacks so far */
	int	 status;
	json_t	*resp;		/* a copy */
	struct lr_err err;
	bool	 sync;		/* a callback ran inside the call */
};

static void
res_cb(int status, const json_t *resp, const struct lr_err *err, void *arg)
{
	struct res *r = arg;

	if (in_call)
		r->sync = true;
	r->n++;
	r->status = status;
	json_decref(r->resp);
	r->resp = resp != NULL ? json_deep_copy(resp) : NULL;
	if (status < 0) {
		assert_non_null(err);
		r->err = *err;
	} else
		assert_null(err);
}

static void
res_release(struct res *r)
{
	json_decref(r->resp);
	memset(r, 0, sizeof(*r));
}

static bool
res_done(void *arg)
{
	return ((struct res *)arg)->n > 0;
}

/* Wait for r's callback; its status. */
static int
wait_res(uv_loop_t *loop, struct res *r)
{
	if (!run_until(loop, res_done, r, 10000))
		fail_msg("no callback in 10 s");
	assert_false(r->sync);
	assert_int_equal(r->n, 1);
	return r->status;
}

static int64_t
put_sync(uv_loop_t *loop, struct etcd_uv *eu, const char *key,
    const char *val, int64_t lease)
{
	struct res r = { 0 };
	int64_t rev;

	in_call = true;
	assert_int_equal(etcd_uv_put(eu, key, val, strlen(val), lease, res_cb,
	    &r), 0);
	in_call = false;
	if (wait_res(loop, &r) != 0)
		fail_msg("put '%s': %s", key, r.err.msg);
	rev = etcd_header_revision(r.resp);
	assert_true(rev > 0);
	res_release(&r);
	return rev;
}

/* Range of a key or prefix, decoded into *out. */
static void
range_sync(uv_loop_t *loop, struct etcd_uv *eu, const char *key,
    unsigned flags, struct etcd_range_result *out)
{
	struct etcd_range_req req = { key, flags, 0, 0, NULL };
	struct lr_err err;
	struct res r = { 0 };

	in_call = true;
	assert_int_equal(etcd_uv_range(eu, &req, res_cb, &r), 0);
	in_call = false;
	if (wait_res(loop, &r) != 0)
		fail_msg("range '%s': %s", key, r.err.msg);
	if (etcd_range_decode(r.resp, out, &err) != 0)
		fail_msg("range decode: %s", err.msg);
	res_release(&r);
}

static void
call_sync(uv_loop_t *loop, struct etcd_uv *eu, const char *path,
    json_t *body)
{
	struct res r = { 0 };

	in_call = true;
	assert_int_equal(etcd_uv_call(eu, path, body, NULL, res_cb, &r), 0);
	in_call = false;
	if (wait_res(loop, &r) != 0)
		fail_msg("%s: %s", path, r.err.msg);
	res_release(&r);
}

static int64_t
current_rev(uv_loop_t *loop, struct etcd_uv *eu)
{
	struct etcd_range_result r;
	int64_t rev;

	range_sync(loop, eu, "/", ETCD_COUNT_ONLY, &r);
	rev = r.revision;
	etcd_range_result_release(&r);
	return rev;
}

/* ---- watch collector -------------------------------------------------- */

#define MAXEV 256

struct wcol {
	struct etcd_uv_watch *w;
	size_t	 nev;
	char	 keys[MAXEV][32];
	char	 vals[MAXEV][32];
	int64_t	 revs[MAXEV];
	bool	 dels[MAXEV];
	bool	 disorder;	/* an event not after the one before */
	int	 ndisc;
	int	 nprogress;
	int64_t	 progress_rev;
	struct lr_err lasterr;
	int	 nresync;
	size_t	 nsnap;
	char	 snap[MAXEV][32];
	char	 snapval[MAXEV][32];
	int64_t	 snaprev, snapcompact;
	size_t	 nev_at_resync;
	size_t	 stop_at;	/* stop the watch inside the cb at nev */
	bool	 stopped;
	int	 after_stop;	/* callbacks after stop: must stay 0 */
	struct etcd_uv *free_eu;	/* free it inside the callback */
	bool	 sync;
	/* for predicates */
	size_t	 want_ev;
	int	 want_disc, want_resync;
};

static void
wcol_cb(const struct etcd_watch_batch *b, void *arg)
{
	struct wcol *c = arg;
	size_t i;

	if (in_call)
		c->sync = true;
	if (c->stopped) {
		c->after_stop++;
		return;
	}
	switch (b->kind) {
	case ETCD_WATCH_EVENTS:
		for (i = 0; i < b->nevents && c->nev < MAXEV; i++) {
			const struct etcd_event *e = &b->events[i];

			if (c->nev > 0 &&
			    e->kv.mod_revision <= c->revs[c->nev - 1])
				c->disorder = true;
			snprintf(c->keys[c->nev], 32, "%s", e->kv.key);
			snprintf(c->vals[c->nev], 32, "%s", e->kv.value);
			c->revs[c->nev] = e->kv.mod_revision;
			c->dels[c->nev] = e->type == ETCD_EV_DELETE;
			c->nev++;
		}
		break;
	case ETCD_WATCH_DISCONNECTED:
		assert_non_null(b->err);
		assert_true(b->err->code < 0);
		c->lasterr = *b->err;
		c->ndisc++;
		break;
	case ETCD_WATCH_RESYNC:
		c->nresync++;
		c->nev_at_resync = c->nev;
		c->nsnap = 0;
		for (i = 0; i < b->nkvs && i < MAXEV; i++) {
			snprintf(c->snap[i], 32, "%s", b->kvs[i].key);
			snprintf(c->snapval[i], 32, "%s", b->kvs[i].value);
			c->nsnap++;
		}
		c->snaprev = b->revision;
		c->snapcompact = b->compact_revision;
		break;
	case ETCD_WATCH_PROGRESS:
		c->nprogress++;
		c->progress_rev = b->revision;
		break;
	}
	if (c->free_eu != NULL && c->nev > 0) {
		etcd_uv_free(c->free_eu);	/* stops this watch too */
		c->free_eu = NULL;
		c->stopped = true;
	}
	if (c->stop_at > 0 && c->nev >= c->stop_at && !c->stopped) {
		etcd_uv_watch_stop(c->w);	/* from inside the callback */
		c->stopped = true;
	}
}

static bool
wcol_ev(void *arg)
{
	struct wcol *c = arg;

	return c->nev >= c->want_ev;
}

static bool
wcol_disc(void *arg)
{
	struct wcol *c = arg;

	return c->ndisc >= c->want_disc;
}

static bool
wcol_resync(void *arg)
{
	struct wcol *c = arg;

	return c->nresync >= c->want_resync;
}

static void
watch(struct etcd_uv *eu, struct wcol *c, const char *key, int64_t rev)
{
	struct etcd_watch_req req = { key, ETCD_PREFIX, rev, NULL };
	struct lr_err err;

	in_call = true;
	if (etcd_uv_watch_start(eu, &req, wcol_cb, c, &c->w, &err) != 0)
		fail_msg("watch: %s", err.msg);
	in_call = false;
}

static bool
wait_ev(uv_loop_t *loop, struct wcol *c, size_t n, uint64_t ms)
{
	c->want_ev = n;
	return run_until(loop, wcol_ev, c, ms);
}

/* ---- tests ------------------------------------------------------------ */

static void
test_etcd_uv__put_range_txn(void **state)
{
	uv_loop_t loop;
	struct etcd_uv *eu = client(&loop, h1.endpoints, NULL, NULL);
	struct etcd_range_result rr;
	struct etcd_txn_result tr;
	struct etcd_txn t;
	struct lr_err err;
	struct res r = { 0 };
	int64_t rev;
	int i;

	(void)state;
	rev = put_sync(&loop, eu, "/t1/a", "1", 0);
	range_sync(&loop, eu, "/t1/", ETCD_PREFIX, &rr);
	assert_int_equal(rr.nkvs, 1);
	assert_string_equal(rr.kvs[0].key, "/t1/a");
	assert_string_equal(rr.kvs[0].value, "1");
	assert_int_equal(rr.kvs[0].mod_revision, rev);
	etcd_range_result_release(&rr);

	/* CAS that holds */
	etcd_txn_init(&t);
	etcd_txn_cmp_int(&t, "/t1/a", ETCD_CMP_MOD, ETCD_CMP_EQUAL, rev);
	etcd_txn_put(&t, ETCD_THEN, "/t1/a", "2", 1, 0);
	etcd_txn_range(&t, ETCD_ELSE,
	    &(struct etcd_range_req){ "/t1/a", 0, 0, 0, NULL });
	in_call = true;
	assert_int_equal(etcd_uv_txn(eu, &t, res_cb, &r), 0);
	in_call = false;
	assert_int_equal(wait_res(&loop, &r), 0);
	assert_int_equal(etcd_txn_decode(r.resp, &tr, &err), 0);
	assert_true(tr.succeeded);
	etcd_txn_result_release(&tr);
	res_release(&r);
	/* the same CAS again fails and reads the current value */
	in_call = true;
	assert_int_equal(etcd_uv_txn(eu, &t, res_cb, &r), 0);
	in_call = false;
	assert_int_equal(wait_res(&loop, &r), 0);
	assert_int_equal(etcd_txn_decode(r.resp, &tr, &err), 0);
	assert_false(tr.succeeded);
	assert_int_equal(tr.nops, 1);
	assert_int_equal(tr.ops[0].range.nkvs, 1);
	assert_string_equal(tr.ops[0].range.kvs[0].value, "2");
	etcd_txn_result_release(&tr);
	res_release(&r);
	etcd_txn_release(&t);

	/* over etcd's op limit: refused at once, no callback */
	etcd_txn_init(&t);
	for (i = 0; i < 129; i++) {
		char k[32];

		snprintf(k, sizeof(k), "/t1/big%d", i);
		etcd_txn_put(&t, ETCD_THEN, k, "x", 1, 0);
	}
	assert_int_equal(etcd_uv_txn(eu, &t, res_cb, &r), LR_ETOOBIG);
	etcd_txn_release(&t);

	/* an etcd error names the operation, the endpoint and etcd's words */
	in_call = true;
	assert_int_equal(etcd_uv_call(eu, "/v3/kv/put",
	    json_pack("{s:s}", "key", "not base64!"), "put 'bad'", res_cb,
	    &r), 0);
	in_call = false;
	assert_true(wait_res(&loop, &r) < 0);
	assert_non_null(strstr(r.err.msg, "put 'bad'"));
	assert_non_null(strstr(r.err.msg, h1.m[0].url));
	assert_int_equal(r.n, 1);
	res_release(&r);
	finish(&loop, eu);
}

struct puts {
	int	 n, bad;
	bool	 sync;
	int64_t	 rev[100];
	int	 idx[100];
};

struct put_arg {
	struct puts *p;
	int	 i;
};

static void
puts_cb(int status, const json_t *resp, const struct lr_err *err, void *arg)
{
	struct put_arg *a = arg;

	if (in_call)
		a->p->sync = true;
	if (status != 0) {
		fprintf(stderr, "put %d: %s\n", a->i, err->msg);
		a->p->bad++;
	} else
		a->p->rev[a->i] = etcd_header_revision(resp);
	a->p->n++;
}

static bool
puts_done(void *arg)
{
	return ((struct puts *)arg)->n >= 100;
}

static void
test_etcd_uv__100_puts_and_a_watch(void **state)
{
	uv_loop_t loop;
	struct etcd_uv *eu = client(&loop, h1.endpoints, NULL, NULL);
	static struct wcol c;
	static struct puts p;
	struct put_arg args[100];
	char key[32], val[32];
	int64_t start;
	size_t i;
	int k;

	(void)state;
	memset(&c, 0, sizeof(c));
	memset(&p, 0, sizeof(p));
	start = current_rev(&loop, eu) + 1;
	watch(eu, &c, "/t2/", start);
	c.stop_at = 100;
	for (k = 0; k < 100; k++) {
		args[k].p = &p;
		args[k].i = k;
		snprintf(key, sizeof(key), "/t2/k%03d", k);
		snprintf(val, sizeof(val), "v%d", k);
		in_call = true;
		assert_int_equal(etcd_uv_put(eu, key, val, strlen(val), 0,
		    puts_cb, &args[k]), 0);
		in_call = false;
	}
	assert_true(run_until(&loop, puts_done, &p, 15000));
	assert_int_equal(p.bad, 0);
	assert_false(p.sync);
	assert_true(wait_ev(&loop, &c, 100, 10000));
	assert_int_equal(c.nev, 100);
	assert_false(c.disorder);
	assert_false(c.sync);
	/* each put exactly once, at the revision its answer gave */
	for (k = 0; k < 100; k++) {
		int seen = 0;

		snprintf(key, sizeof(key), "/t2/k%03d", k);
		for (i = 0; i < c.nev; i++)
			if (strcmp(c.keys[i], key) == 0) {
				seen++;
				assert_int_equal(c.revs[i], p.rev[k]);
			}
		assert_int_equal(seen, 1);
	}
	/* stopped inside the callback: nothing more arrives */
	put_sync(&loop, eu, "/t2/after", "x", 0);
	run_until(&loop, NULL, NULL, 200);
	assert_int_equal(c.nev, 100);
	assert_int_equal(c.after_stop, 0);
	finish(&loop, eu);
}

static void
test_etcd_uv__watch_from_compacted_revision_resyncs(void **state)
{
	uv_loop_t loop;
	struct etcd_uv *eu = client(&loop, h1.endpoints, NULL, NULL);
	static struct wcol c;
	int64_t r1, rn;

	(void)state;
	memset(&c, 0, sizeof(c));
	r1 = put_sync(&loop, eu, "/t3/a", "1", 0);
	put_sync(&loop, eu, "/t3/b", "1", 0);
	put_sync(&loop, eu, "/t3/a", "2", 0);
	call_sync(&loop, eu, "/v3/kv/deleterange",
	    etcd_delete_encode("/t3/b", 0));
	rn = put_sync(&loop, eu, "/t3/c", "3", 0);
	call_sync(&loop, eu, "/v3/kv/compaction",
	    json_pack("{s:I,s:b}", "revision", (json_int_t)rn, "physical",
	    1));
	watch(eu, &c, "/t3/", r1);
	c.want_resync = 1;
	assert_true(run_until(&loop, wcol_resync, &c, 10000));
	assert_int_equal(c.nev, 0);	/* nothing before the snapshot */
	assert_int_equal(c.nsnap, 2);
	assert_string_equal(c.snap[0], "/t3/a");
	assert_string_equal(c.snapval[0], "2");
	assert_string_equal(c.snap[1], "/t3/c");
	assert_string_equal(c.snapval[1], "3");
	assert_true(c.snaprev >= rn);
	assert_int_equal(c.snapcompact, rn);
	/* then the watch goes on from the snapshot */
	put_sync(&loop, eu, "/t3/d", "4", 0);
	assert_true(wait_ev(&loop, &c, 1, 5000));
	assert_string_equal(c.keys[0], "/t3/d");
	assert_int_equal(c.ndisc, 0);
	etcd_uv_watch_stop(c.w);
	finish(&loop, eu);
}

static struct {
	int	 n;
	int64_t	 ids[32];
} lc;

static void
lease_cb(int64_t id, void *arg)
{
	(void)arg;
	assert_false(in_call);
	if (lc.n < 32)
		lc.ids[lc.n++] = id;
}

static bool
lease_n(void *arg)
{
	return lc.n >= *(int *)arg;
}

static void
test_etcd_uv__watch_resumes_across_restart(void **state)
{
	uv_loop_t loop;
	struct etcd_uv *eu = client(&loop, h1.endpoints, NULL, NULL);
	static struct wcol c;
	struct etcd_uv_lease *l;
	struct lr_err err;
	char key[32], body[256];
	int64_t rev;
	long st;
	size_t i;
	int k, want;
	char *ans;

	(void)state;
	memset(&c, 0, sizeof(c));
	memset(&lc, 0, sizeof(lc));
	watch(eu, &c, "/t4/", current_rev(&loop, eu) + 1);
	/* a lease of 1 s rides along: lost while etcd is down */
	assert_int_equal(etcd_uv_lease_start(eu, 1, lease_cb, NULL, &l, &err),
	    0);
	want = 1;
	assert_true(run_until(&loop, lease_n, &want, 5000));
	assert_true(lc.ids[0] != 0);
	for (k = 0; k < 10; k++) {
		snprintf(key, sizeof(key), "/t4/k%02d", k);
		put_sync(&loop, eu, key, "a", 0);
	}
	assert_true(wait_ev(&loop, &c, 10, 5000));

	/* member down: DISCONNECTED, then cb(0) once the ttl is over */
	assert_int_equal(th_etcd_stop_member(&h1, 0, false), 0);
	c.want_disc = 1;
	assert_true(run_until(&loop, wcol_disc, &c, 5000));
	assert_true(c.lasterr.code < 0);
	assert_non_null(strstr(c.lasterr.msg, "watch '/t4/'"));
	want = 2;
	assert_true(run_until(&loop, lease_n, &want, 5000));
	assert_int_equal(lc.ids[1], 0);
	assert_int_equal(th_etcd_restart_member(&h1, 0), 0);
	/* puts right away: the watch is likely still backing off */
	for (k = 10; k < 20; k++) {
		snprintf(key, sizeof(key), "/t4/k%02d", k);
		put_sync(&loop, eu, key, "b", 0);
	}
	assert_true(wait_ev(&loop, &c, 20, 10000));
	want = 3;
	assert_true(run_until(&loop, lease_n, &want, 5000));
	assert_true(lc.ids[2] != 0);	/* a lease again */
	run_until(&loop, NULL, NULL, 100);
	assert_int_equal(c.nev, 20);
	assert_false(c.disorder);
	for (i = 0; i < 20; i++) {
		snprintf(key, sizeof(key), "/t4/k%02zu", i);
		assert_string_equal(c.keys[i], key);
	}
	assert_int_equal(c.nresync, 0);
	etcd_uv_lease_stop(l, true);

	/*
	 * Down again; while the loop does not run (so the watch cannot come
	 * back), etcd restarts, keys change and the history is compacted:
	 * the watch resumes from a compacted revision and resyncs.
	 */
	assert_int_equal(th_etcd_stop_member(&h1, 0, false), 0);
	c.want_disc = c.ndisc + 1;
	assert_true(run_until(&loop, wcol_disc, &c, 5000));
	assert_int_equal(th_etcd_restart_member(&h1, 0), 0);
	/* put /t4/k20=c, delete /t4/k00 */
	ans = th_etcd_post(&h1, 0, "/v3/kv/put",
	    "{\"key\":\"L3Q0L2syMA==\",\"value\":\"Yw==\"}", &st);
	assert_int_equal(st, 200);
	free(ans);
	ans = th_etcd_post(&h1, 0, "/v3/kv/deleterange",
	    "{\"key\":\"L3Q0L2swMA==\"}", &st);
	assert_int_equal(st, 200);
	json_t *j = json_loads(ans, 0, NULL);
	rev = etcd_header_revision(j);
	json_decref(j);
	free(ans);
	snprintf(body, sizeof(body), "{\"revision\":\"%" PRId64 "\"}", rev);
	ans = th_etcd_post(&h1, 0, "/v3/kv/compaction", body, &st);
	assert_int_equal(st, 200);
	free(ans);
	c.want_resync = 1;
	assert_true(run_until(&loop, wcol_resync, &c, 10000));
	assert_int_equal(c.nev, 20);	/* the gap came as the snapshot */
	assert_int_equal(c.nsnap, 20);	/* k01..k20 */
	assert_string_equal(c.snap[0], "/t4/k01");
	assert_string_equal(c.snap[19], "/t4/k20");
	assert_string_equal(c.snapval[19], "c");
	assert_int_equal(c.snaprev, rev);
	assert_int_equal(c.snapcompact, rev);
	put_sync(&loop, eu, "/t4/k21", "d", 0);
	assert_true(wait_ev(&loop, &c, 21, 5000));
	assert_string_equal(c.keys[20], "/t4/k21");
	assert_false(c.sync);
	etcd_uv_watch_stop(c.w);
	finish(&loop, eu);
}

static bool
never(void *arg)
{
	(void)arg;
	return false;
}

static void
test_etcd_uv__lease_kept_lost_revoked(void **state)
{
	uv_loop_t loop;
	struct etcd_uv *eu = client(&loop, h1.endpoints, NULL, NULL);
	struct etcd_range_result rr;
	struct etcd_uv_lease *l;
	struct lr_err err;
	char body[128], *ans;
	int64_t id1, id2;
	long st;
	int want, tries;

	(void)state;
	memset(&lc, 0, sizeof(lc));
	in_call = true;
	assert_int_equal(etcd_uv_lease_start(eu, 2, lease_cb, NULL, &l, &err),
	    0);
	in_call = false;
	want = 1;
	assert_true(run_until(&loop, lease_n, &want, 5000));
	id1 = lc.ids[0];
	assert_true(id1 != 0);
	put_sync(&loop, eu, "/t5/a", "up", id1);
	/* 3 s of loop time with a 2 s ttl: kept alive */
	run_until(&loop, never, NULL, 3000);
	range_sync(&loop, eu, "/t5/a", 0, &rr);
	assert_int_equal(rr.nkvs, 1);
	assert_int_equal(rr.kvs[0].lease, id1);
	etcd_range_result_release(&rr);
	assert_int_equal(lc.n, 1);

	/* revoked behind the client's back: a new lease, cb(new id) */
	snprintf(body, sizeof(body), "{\"ID\":\"%" PRId64 "\"}", id1);
	ans = th_etcd_post(&h1, 0, "/v3/lease/revoke", body, &st);
	assert_int_equal(st, 200);
	free(ans);
	want = 2;
	assert_true(run_until(&loop, lease_n, &want, 5000));
	id2 = lc.ids[1];
	assert_true(id2 != 0 && id2 != id1);
	range_sync(&loop, eu, "/t5/a", 0, &rr);
	assert_int_equal(rr.nkvs, 0);
	etcd_range_result_release(&rr);

	/* stop with revoke: its keys go */
	put_sync(&loop, eu, "/t5/b", "up", id2);
	etcd_uv_lease_stop(l, true);
	for (tries = 0; tries < 50; tries++) {
		range_sync(&loop, eu, "/t5/b", 0, &rr);
		st = (long)rr.nkvs;
		etcd_range_result_release(&rr);
		if (st == 0)
			break;
		run_until(&loop, NULL, NULL, 20);
	}
	assert_int_equal(st, 0);
	assert_int_equal(lc.n, 2);	/* no callback after stop */
	finish(&loop, eu);
}

static void
test_etcd_uv__failover_in_a_3_member_cluster(void **state)
{
	static struct th_etcd h3;
	static struct wcol c;
	struct etcd_range_result rr;
	struct etcd_uv *eu;
	uv_loop_t loop;
	char key[32];
	int k;

	(void)state;
	memset(&c, 0, sizeof(c));
	if (th_etcd_start(&h3, 3, 0) < 0)
		fail_msg("cannot start 3 etcd members");
	eu = client(&loop, h3.endpoints, NULL, NULL);
	put_sync(&loop, eu, "/t6/first", "x", 0);	/* on member 0 */
	watch(eu, &c, "/t6/", current_rev(&loop, eu) + 1);
	put_sync(&loop, eu, "/t6/k0", "x", 0);
	assert_true(wait_ev(&loop, &c, 1, 5000));
	assert_int_equal(th_etcd_stop_member(&h3, 0, false), 0);
	for (k = 1; k < 6; k++) {
		snprintf(key, sizeof(key), "/t6/k%d", k);
		put_sync(&loop, eu, key, "y", 0);
	}
	range_sync(&loop, eu, "/t6/", ETCD_PREFIX, &rr);
	assert_int_equal(rr.nkvs, 7);	/* first, k0..k5 */
	etcd_range_result_release(&rr);
	/* the watch moved to another member and lost nothing */
	assert_true(wait_ev(&loop, &c, 6, 10000));
	assert_false(c.disorder);
	for (k = 0; k < 6; k++) {
		snprintf(key, sizeof(key), "/t6/k%d", k);
		assert_string_equal(c.keys[k], key);
	}
	assert_true(c.ndisc >= 1);
	etcd_uv_watch_stop(c.w);
	finish(&loop, eu);
	th_etcd_stop(&h3);
}

/*
 * The first endpoint accepts and never answers (a hung member, a
 * black-holed address): a watch opened there gets no "created" and moves
 * on; a range and a txn that time out there are sent to the next one.
 */
static void
test_etcd_uv__black_hole_first_endpoint(void **state)
{
	struct etcd_config bcfg = { .endpoints = h1.endpoints };
	struct etcd_range_req q = { .key = "/t13/", .flags = ETCD_PREFIX |
		ETCD_COUNT_ONLY };
	static struct wcol c;
	struct etcd_range_result rr;
	struct th_proxy bh;
	struct etcd_txn t;
	struct etcd_uv *eu;
	struct etcd *e = NULL;
	struct lr_err err;
	struct res r = { 0 };
	uv_loop_t loop;
	char eps[600];

	(void)state;
	memset(&c, 0, sizeof(c));
	assert_int_equal(th_proxy_start(&bh, 0), 0);
	snprintf(eps, sizeof(eps), "%s,%s", bh.url, h1.endpoints);
	assert_int_equal(etcd_new(&bcfg, &e, &err), 0);
	assert_int_equal(etcd_range(e, &q, &rr, &err), 0);

	eu = client(&loop, eps, NULL, NULL);
	watch(eu, &c, "/t13/", rr.revision + 1);
	etcd_range_result_release(&rr);
	assert_int_equal(etcd_put(e, "/t13/k", "v", 1, 0, NULL, &err), 0);
	assert_true(wait_ev(&loop, &c, 1, 15000));
	assert_string_equal(c.keys[0], "/t13/k");
	assert_true(c.ndisc >= 1);
	etcd_uv_watch_stop(c.w);
	finish(&loop, eu);

	eu = client(&loop, eps, NULL, NULL);
	range_sync(&loop, eu, "/t13/", ETCD_PREFIX, &rr);
	assert_int_equal(rr.nkvs, 1);
	etcd_range_result_release(&rr);
	finish(&loop, eu);

	eu = client(&loop, eps, NULL, NULL);
	etcd_txn_init(&t);
	etcd_txn_cmp_int(&t, "/t13/t", ETCD_CMP_VERSION, ETCD_CMP_EQUAL, 0);
	etcd_txn_put(&t, ETCD_THEN, "/t13/t", "x", 1, 0);
	in_call = true;
	assert_int_equal(etcd_uv_txn(eu, &t, res_cb, &r), 0);
	in_call = false;
	etcd_txn_release(&t);
	if (wait_res(&loop, &r) != 0)
		fail_msg("txn: %s", r.err.msg);
	assert_true(json_is_true(json_object_get(r.resp, "succeeded")));
	json_decref(r.resp);
	finish(&loop, eu);
	etcd_free(e);
	th_proxy_stop(&bh);
}

static void
test_etcd_uv__unreachable_names_the_endpoints(void **state)
{
	static struct wcol c;
	struct etcd_uv *eu;
	struct etcd_uv_lease *l;
	struct lr_err err;
	struct res r = { 0 };
	uv_loop_t loop;
	int want;

	(void)state;
	memset(&c, 0, sizeof(c));
	memset(&lc, 0, sizeof(lc));
	eu = client(&loop, "http://127.0.0.1:1,http://127.0.0.1:9", NULL,
	    NULL);
	in_call = true;
	assert_int_equal(etcd_uv_put(eu, "/t7/a", "x", 1, 0, res_cb, &r), 0);
	in_call = false;
	assert_int_equal(wait_res(&loop, &r), LR_EUNREACH);
	assert_non_null(strstr(r.err.msg, "http://127.0.0.1:1"));
	assert_non_null(strstr(r.err.msg, "http://127.0.0.1:9"));
	assert_true(r.err.hint[0] != '\0');
	res_release(&r);
	watch(eu, &c, "/t7/", 0);
	c.want_disc = 2;	/* keeps retrying */
	assert_true(run_until(&loop, wcol_disc, &c, 5000));
	assert_int_equal(c.lasterr.code, LR_EUNREACH);
	assert_int_equal(etcd_uv_lease_start(eu, 5, lease_cb, NULL, &l, &err),
	    0);
	want = 1;
	assert_true(run_until(&loop, lease_n, &want, 5000));
	assert_int_equal(lc.ids[0], 0);
	/* free with the watch and the lease still running */
	finish(&loop, eu);
	assert_int_equal(lc.n, 1);
}

struct cancel {
	int	 n, canceled, other;
	struct etcd_uv *eu;
	bool	 free_in_cb;
};

static void
cancel_cb(int status, const json_t *resp, const struct lr_err *err,
    void *arg)
{
	struct cancel *c = arg;

	c->n++;
	if (status == LR_ECANCELED) {
		c->canceled++;
		assert_non_null(strstr(err->msg, "put '/t8/"));
		/* nothing new starts on a client being freed */
		assert_int_equal(etcd_uv_put(c->eu, "/t8/z", "z", 1, 0,
		    cancel_cb, c), LR_ECANCELED);
	} else
		c->other++;
	if (c->free_in_cb) {
		c->free_in_cb = false;
		etcd_uv_free(c->eu);
	}
}

static void
test_etcd_uv__free_cancels_calls_in_flight(void **state)
{
	static struct wcol c;
	struct etcd_uv_lease *l;
	struct lr_err err;
	struct cancel cc = { 0 };
	struct etcd_uv *eu;
	uv_loop_t loop;
	char key[32];
	int k, i;

	(void)state;
	memset(&c, 0, sizeof(c));
	memset(&lc, 0, sizeof(lc));
	eu = client(&loop, h1.endpoints, NULL, NULL);
	cc.eu = eu;
	watch(eu, &c, "/t8/", 0);
	assert_int_equal(etcd_uv_lease_start(eu, 5, lease_cb, NULL, &l, &err),
	    0);
	for (k = 0; k < 20; k++) {
		snprintf(key, sizeof(key), "/t8/k%d", k);
		assert_int_equal(etcd_uv_put(eu, key, "x", 1, 0, cancel_cb,
		    &cc), 0);
	}
	/* nothing ran yet: every call is canceled, inside etcd_uv_free */
	etcd_uv_free(eu);
	assert_int_equal(cc.canceled, 20);
	assert_int_equal(cc.other, 0);
	for (i = 0; i < 1000 && uv_loop_alive(&loop); i++)
		uv_run(&loop, UV_RUN_NOWAIT);
	assert_int_equal(uv_loop_close(&loop), 0);
	assert_int_equal(c.nev + (size_t)c.ndisc + (size_t)c.nresync, 0);
	assert_int_equal(lc.n, 0);

	/* freed from inside a callback while the others are in flight */
	memset(&cc, 0, sizeof(cc));
	eu = client(&loop, h1.endpoints, NULL, NULL);
	cc.eu = eu;
	cc.free_in_cb = true;
	for (k = 0; k < 20; k++) {
		snprintf(key, sizeof(key), "/t8/k%d", k);
		assert_int_equal(etcd_uv_put(eu, key, "x", 1, 0, cancel_cb,
		    &cc), 0);
	}
	for (i = 0; i < 100000 && uv_loop_alive(&loop); i++)
		uv_run(&loop, UV_RUN_ONCE);
	assert_int_equal(cc.n, 20);	/* each exactly once */
	assert_true(cc.other >= 1);
	assert_int_equal(cc.canceled + cc.other, 20);
	assert_int_equal(uv_loop_close(&loop), 0);

	/* freed from inside a watch callback, with a put in flight */
	memset(&cc, 0, sizeof(cc));
	memset(&c, 0, sizeof(c));
	eu = client(&loop, h1.endpoints, NULL, NULL);
	cc.eu = eu;
	c.free_eu = eu;
	watch(eu, &c, "/t8/", current_rev(&loop, eu) + 1);
	for (k = 0; k < 5; k++) {
		snprintf(key, sizeof(key), "/t8/k%d", k);
		assert_int_equal(etcd_uv_put(eu, key, "x", 1, 0, cancel_cb,
		    &cc), 0);
	}
	for (i = 0; i < 100000 && uv_loop_alive(&loop); i++)
		uv_run(&loop, UV_RUN_ONCE);
	assert_true(c.nev >= 1);
	assert_int_equal(c.after_stop, 0);
	assert_int_equal(cc.n, 5);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static void
test_etcd_uv__auth_and_expired_token(void **state)
{
	static struct th_etcd ha;
	static struct wcol c;
	struct etcd_range_result rr;
	struct etcd_uv *eu, *bad;
	struct res r = { 0 };
	uv_loop_t loop, loop2;

	(void)state;
	memset(&c, 0, sizeof(c));
	if (th_etcd_start_args(&ha, 1, TH_AUTH, "--auth-token-ttl 1") < 0)
		fail_msg("cannot start etcd with auth");
	eu = client(&loop, ha.endpoints, "root", "rootpw");
	watch(eu, &c, "/t9/", current_rev(&loop, eu) + 1);
	put_sync(&loop, eu, "/t9/a", "1", 0);
	range_sync(&loop, eu, "/t9/a", 0, &rr);
	assert_int_equal(rr.nkvs, 1);
	etcd_range_result_release(&rr);
	assert_true(wait_ev(&loop, &c, 1, 5000));
	/* the token expires after 1 s idle: 401, authenticate, retry */
	run_until(&loop, NULL, NULL, 2500);
	put_sync(&loop, eu, "/t9/b", "2", 0);
	assert_true(wait_ev(&loop, &c, 2, 5000));
	assert_int_equal(c.ndisc, 0);
	etcd_uv_watch_stop(c.w);
	finish(&loop, eu);

	bad = client(&loop2, ha.endpoints, "root", "wrong");
	in_call = true;
	assert_int_equal(etcd_uv_put(bad, "/t9/c", "3", 1, 0, res_cb, &r), 0);
	in_call = false;
	assert_int_equal(wait_res(&loop2, &r), LR_EAUTH);
	assert_non_null(strstr(r.err.msg, "put '/t9/c'"));
	res_release(&r);
	finish(&loop2, bad);

	/*
	 * A user whose role covers only /agents/: a watch on /t9/ is denied
	 * (after one fresh token); DISCONNECTED with LR_EPERM, then silence.
	 */
	static const char *steps[][2] = {
		{ "/v3/auth/role/add", "{\"name\":\"agents\"}" },
		{ "/v3/auth/role/grant", "{\"name\":\"agents\",\"perm\":"
		    "{\"permType\":\"READWRITE\",\"key\":\"L2FnZW50cy8=\","
		    "\"range_end\":\"L2FnZW50czA=\"}}" },
		{ "/v3/auth/user/add",
		    "{\"name\":\"agent1\",\"password\":\"agentpw\"}" },
		{ "/v3/auth/user/grant",
		    "{\"user\":\"agent1\",\"role\":\"agents\"}" },
	};
	for (size_t k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
		long st;
		char *ans = th_etcd_post(&ha, 0, steps[k][0], steps[k][1], &st);

		if (st != 200)
			fail_msg("%s: %ld %s", steps[k][0], st, ans);
		free(ans);
	}
	memset(&c, 0, sizeof(c));
	eu = client(&loop, ha.endpoints, "agent1", "agentpw");
	watch(eu, &c, "/t9/", 0);	/* waits for the first token */
	put_sync(&loop, eu, "/agents/a1", "up", 0);	/* allowed */
	c.want_disc = 1;
	assert_true(run_until(&loop, wcol_disc, &c, 5000));
	assert_int_equal(c.lasterr.code, LR_EPERM);
	assert_non_null(strstr(c.lasterr.msg, "watch '/t9/'"));
	run_until(&loop, NULL, NULL, 400);	/* no retry, no callback */
	assert_int_equal(c.ndisc, 1);
	etcd_uv_watch_stop(c.w);
	finish(&loop, eu);
	th_etcd_stop(&ha);
}

static void
test_etcd_uv__tls_with_client_cert(void **state)
{
	static struct th_etcd ht;
	static struct wcol c;
	struct etcd_config cfg = { 0 };
	struct etcd_range_result rr;
	struct etcd_uv *eu;
	struct res r = { 0 };
	uv_loop_t loop;

	(void)state;
	memset(&c, 0, sizeof(c));
	if (th_etcd_start(&ht, 1, TH_TLS | TH_CLIENT_CERT) < 0)
		fail_msg("cannot start etcd with TLS");
	cfg.endpoints = ht.endpoints;
	cfg.cacert = ht.cacert;
	cfg.cert = ht.cert;
	cfg.key = ht.key;
	eu = client_cfg(&loop, cfg);
	watch(eu, &c, "/t10/", current_rev(&loop, eu) + 1);
	put_sync(&loop, eu, "/t10/a", "s", 0);
	range_sync(&loop, eu, "/t10/a", 0, &rr);
	assert_int_equal(rr.nkvs, 1);
	etcd_range_result_release(&rr);
	assert_true(wait_ev(&loop, &c, 1, 5000));
	etcd_uv_watch_stop(c.w);
	finish(&loop, eu);

	/* a CA that did not sign etcd's certificate: LR_ETLS, no fail-over */
	cfg.cacert = ht.othercacert;
	eu = client_cfg(&loop, cfg);
	in_call = true;
	assert_int_equal(etcd_uv_put(eu, "/t10/b", "s", 1, 0, res_cb, &r), 0);
	in_call = false;
	assert_int_equal(wait_res(&loop, &r), LR_ETLS);
	assert_non_null(strstr(r.err.msg, ht.m[0].url));
	res_release(&r);
	finish(&loop, eu);
	th_etcd_stop(&ht);
}

static bool
wcol_progress(void *arg)
{
	return ((struct wcol *)arg)->nprogress >= 2;
}

static void
test_etcd_uv__progress_notify(void **state)
{
	static struct th_etcd hp;
	static struct wcol c;
	struct etcd_watch_req req = { "/t11/", ETCD_PREFIX |
	    ETCD_PROGRESS_NOTIFY, 0, NULL };
	struct etcd_uv *eu;
	struct lr_err err;
	uv_loop_t loop;
	int64_t rev;

	(void)state;
	memset(&c, 0, sizeof(c));
	if (th_etcd_start_args(&hp, 1, 0,
	    "--experimental-watch-progress-notify-interval 200ms") < 0)
		fail_msg("cannot start etcd");
	eu = client(&loop, hp.endpoints, NULL, NULL);
	rev = put_sync(&loop, eu, "/other", "x", 0);
	assert_int_equal(etcd_uv_watch_start(eu, &req, wcol_cb, &c, &c.w,
	    &err), 0);
	assert_true(run_until(&loop, wcol_progress, &c, 5000));
	assert_true(c.progress_rev >= rev);
	assert_int_equal(c.nev, 0);
	etcd_uv_watch_stop(c.w);
	finish(&loop, eu);
	th_etcd_stop(&hp);
}

static int
setup(void **state)
{
	(void)state;
	return th_etcd_start(&h1, 1, 0) < 0 ? -1 : 0;
}

static int
teardown(void **state)
{
	(void)state;
	th_etcd_stop(&h1);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_etcd_uv__put_range_txn),
		cmocka_unit_test(test_etcd_uv__100_puts_and_a_watch),
		cmocka_unit_test(
		    test_etcd_uv__watch_from_compacted_revision_resyncs),
		cmocka_unit_test(test_etcd_uv__watch_resumes_across_restart),
		cmocka_unit_test(test_etcd_uv__lease_kept_lost_revoked),
		cmocka_unit_test(test_etcd_uv__failover_in_a_3_member_cluster),
		cmocka_unit_test(test_etcd_uv__unreachable_names_the_endpoints),
		cmocka_unit_test(test_etcd_uv__free_cancels_calls_in_flight),
		cmocka_unit_test(test_etcd_uv__auth_and_expired_token),
		cmocka_unit_test(test_etcd_uv__tls_with_client_cert),
		cmocka_unit_test(test_etcd_uv__progress_notify),
		cmocka_unit_test(test_etcd_uv__black_hole_first_endpoint),
	};

	if (!th_etcd_available()) {
		fprintf(stderr, "no etcd binary: skipping\n");
		return 77;
	}
	return cmocka_run_group_tests_name("etcd_uv", tests, setup, teardown);
}
