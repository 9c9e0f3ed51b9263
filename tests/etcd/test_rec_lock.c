/*
 * The apply lock of the reconciler (state.h) against a real etcd (the
 * harness, etcd_harness.h): the steps a loop drives without blocking
 * (rec_lock_value, rec_lock_txn, rec_lock_result, rec_lock_gone) and
 * rec_apply_write under a lock its caller holds; the blocking form's
 * bound (lock_wait_ms) and its lease, granted anew when it ran out while
 * the apply waited.  No etcd binary: exit 77 (skip).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "clock.h"
#include "etcd.h"
#include "etcd_harness.h"
#include "keys.h"
#include "state.h"

static struct th_etcd shared;

static const char holder_val[] = "{\"by\":\"someone@elsewhere\",\"at\":"
    "\"2024-05-01T10:00:00Z\",\"pid\":4242}";

static struct etcd *
client(void)
{
	struct etcd_config cfg = { .endpoints = shared.endpoints };
	struct etcd *e = NULL;
	struct lr_err err;

	lr_err_clear(&err);
	if (etcd_new(&cfg, &e, &err) < 0)
		fail_msg("etcd_new: %s", err.msg);
	return e;
}

/* Put key with the holder's value, bound to a new lease of 60 s. */
static int64_t
hold(struct etcd *e, const char *key)
{
	struct lr_err err;
	int64_t lease = 0, rev;

	lr_err_clear(&err);
	if (etcd_lease_grant(e, 60, &lease, &err) < 0 ||
	    etcd_put(e, key, holder_val, strlen(holder_val), lease, &rev,
	    &err) < 0)
		fail_msg("cannot hold %s: %s", key, err.msg);
	return lease;
}

/* The lease ids etcd holds now (the harness's raw HTTP). */
static size_t
leases(int64_t *ids, size_t max)
{
	json_t *j, *l;
	char *ans;
	size_t i, n = 0;
	long st;

	ans = th_etcd_post(&shared, 0, "/v3/lease/leases", "{}", &st);
	if (ans == NULL || st != 200) {
		free(ans);
		fail_msg("lease list: HTTP %ld", st);
	}
	j = json_loads(ans, 0, NULL);
	free(ans);
	json_array_foreach(json_object_get(j, "leases"), i, l) {
		if (n < max)
			ids[n] = strtoll(json_string_value(json_object_get(l,
			    "ID")), NULL, 10);
		n++;
	}
	json_decref(j);
	return n;
}

/* An apply of no host under prefix: only the head and deploy record. */
struct empty_apply {
	struct rec_applied a;
	struct rec_compiled c;
	json_t	*docs, *changes;
	struct rec_apply_opts o;
};

static void
empty_apply_init(struct empty_apply *x, struct etcd *e, const char *prefix)
{
	struct lr_err err;

	memset(x, 0, sizeof(*x));
	lr_err_clear(&err);
	if (rec_applied_load(e, prefix, &x->a, &err) < 0)
		fail_msg("rec_applied_load: %s", err.msg);
	x->c.files = json_object();
	x->docs = json_object();
	x->changes = rec_docs_changes(x->docs, &x->a);
	x->o.commit = "0123456789abcdef0123456789abcdef01234567";
	x->o.ref = "main";
	x->o.summary = "test";
	x->o.author = "test";
	x->o.by = "test@ci";
}

static void
empty_apply_release(struct empty_apply *x)
{
	rec_applied_release(&x->a);
	json_decref(x->c.files);
	json_decref(x->docs);
	json_decref(x->changes);
}

static int
empty_apply_write(struct etcd *e, struct empty_apply *x, struct lr_err *err)
{
	struct rec_apply_result res;

	return rec_apply_write(e, &x->a, x->docs, x->changes, &x->c, &x->o,
	    &res, err);
}

static bool
key_exists(struct etcd *e, const char *key, int64_t *lease)
{
	struct etcd_kv kv = { 0 };
	struct lr_err err;
	int64_t rev;
	int rc;

	lr_err_clear(&err);
	rc = etcd_get(e, key, &kv, &rev, &err);
	if (rc == LR_ENOENT)
		return false;
	if (rc < 0)
		fail_msg("get %s: %s", key, err.msg);
	if (lease)
		*lease = kv.lease;
	etcd_kv_release(&kv);
	return true;
}

/* One try of the loop's form: rec_lock_txn sent, rec_lock_result read. */
static int
try_once(struct etcd *e, const char *key, int64_t lease, const char *val,
    int64_t *rev, json_t **holder)
{
	struct etcd_txn_result tr = { 0 };
	struct etcd_txn t;
	struct lr_err err;
	int rc;

	lr_err_clear(&err);
	rec_lock_txn(&t, key, lease, val);
	rc = etcd_txn_commit(e, &t, &tr, &err);
	etcd_txn_release(&t);
	if (rc < 0)
		fail_msg("lock txn: %s", err.msg);
	rc = rec_lock_result(&tr, lease, rev, holder);
	etcd_txn_result_release(&tr);
	return rc;
}

static int
gone_cb(const struct etcd_watch_batch *b, void *arg)
{
	(void)arg;
	return rec_lock_gone(b) ? 1 : 0;
}

/* rec_lock_gone on batches made by hand: deletions and empty resyncs. */
static void
test_lock_gone__batches(void **state)
{
	struct etcd_event ev[2];
	struct etcd_kv kv = { 0 };
	struct etcd_watch_batch b;

	(void)state;
	memset(ev, 0, sizeof(ev));
	memset(&b, 0, sizeof(b));
	b.kind = ETCD_WATCH_EVENTS;
	b.events = ev;
	ev[0].type = ETCD_EV_PUT;
	b.nevents = 1;
	assert_false(rec_lock_gone(&b));
	ev[1].type = ETCD_EV_DELETE;
	b.nevents = 2;
	assert_true(rec_lock_gone(&b));
	memset(&b, 0, sizeof(b));
	b.kind = ETCD_WATCH_RESYNC;
	assert_true(rec_lock_gone(&b));
	b.kvs = &kv;
	b.nkvs = 1;
	assert_false(rec_lock_gone(&b));
	memset(&b, 0, sizeof(b));
	b.kind = ETCD_WATCH_PROGRESS;
	assert_false(rec_lock_gone(&b));
	b.kind = ETCD_WATCH_DISCONNECTED;
	assert_false(rec_lock_gone(&b));
}

/*
 * The loop's form, step by step: busy while another holds the lock (with
 * the revision to watch from and the holder), the watch sees no deletion
 * until the holder goes, then the lock is taken; rec_apply_write with
 * lock_lease writes under it without waiting (lock_wait_ms 0 would fail
 * at once if it tried to take the lock itself), and leaves it held.
 */
static void
test_lock_loop(void **state)
{
	struct etcd_watch_req rq = { 0 };
	struct empty_apply x;
	struct etcd *e = client();
	struct lr_err err;
	json_t *holder = NULL, *v;
	char *key = proto_key_lock_apply("/l1"), *val;
	int64_t theirs, ours = 0, rev = 0, lease = 0, ttl, granted;
	int rc;

	(void)state;
	lr_err_clear(&err);
	theirs = hold(e, key);
	if (etcd_lease_grant(e, REC_LOCK_TTL, &ours, &err) < 0)
		fail_msg("grant: %s", err.msg);
	val = rec_lock_value("loop@ci");
	v = json_loads(val, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(v, "by")),
	    "loop@ci");
	assert_non_null(json_object_get(v, "at"));
	assert_true(json_integer_value(json_object_get(v, "pid")) > 0);
	json_decref(v);

	assert_int_equal(try_once(e, key, ours, val, &rev, &holder), LR_EBUSY);
	assert_true(rev > 0);
	assert_non_null(holder);
	assert_string_equal(json_string_value(json_object_get(holder, "by")),
	    "someone@elsewhere");
	rc = rec_lock_busy(holder, &err);
	assert_int_equal(rc, LR_ECONFLICT);
	assert_non_null(strstr(err.msg, "someone@elsewhere"));
	json_decref(holder);
	holder = NULL;

	/* held: the watch from rev + 1 sees no deletion */
	rq.key = key;
	rq.start_revision = rev + 1;
	lr_err_clear(&err);
	rc = etcd_watch(e, &rq, 300, gone_cb, NULL, &err);
	assert_int_equal(rc, LR_ECANCELED);
	/* the holder goes: the same watch (from rev + 1) says so */
	lr_err_clear(&err);
	if (etcd_lease_revoke(e, theirs, &err) < 0)
		fail_msg("revoke: %s", err.msg);
	rc = etcd_watch(e, &rq, 5000, gone_cb, NULL, &err);
	assert_int_equal(rc, 1);
	assert_int_equal(try_once(e, key, ours, val, &rev, &holder), 0);
	assert_true(key_exists(e, key, &lease));
	assert_int_equal(lease, ours);
	/*
	 * the same txn again (the client sends a timed-out txn to the next
	 * endpoint): held by our lease, so taken; another lease is refused
	 */
	assert_int_equal(try_once(e, key, ours, val, &rev, &holder), 0);
	assert_int_equal(try_once(e, key, ours + 1, val, &rev, &holder),
	    LR_EBUSY);
	json_decref(holder);
	holder = NULL;

	/* the write under the caller's lock */
	empty_apply_init(&x, e, "/l1");
	x.o.lock_lease = ours;
	x.o.lock_wait_ms = 0;
	lr_err_clear(&err);
	rc = empty_apply_write(e, &x, &err);
	if (rc < 0)
		fail_msg("rec_apply_write under our lock: %s", err.msg);
	empty_apply_release(&x);
	/* still ours, and the lease alive */
	assert_true(key_exists(e, key, &lease));
	assert_int_equal(lease, ours);
	lr_err_clear(&err);
	assert_int_equal(etcd_lease_ttl(e, ours, &ttl, &granted, &err), 0);
	assert_true(ttl > 0);

	/* without lock_lease the same write would wait for the lock */
	empty_apply_init(&x, e, "/l1");
	x.o.lock_wait_ms = 0;
	rc = empty_apply_write(e, &x, &err);
	assert_int_equal(rc, LR_ECONFLICT);
	assert_non_null(strstr(err.msg, "another apply is running (by "
	    "loop@ci"));
	empty_apply_release(&x);

	if (etcd_lease_revoke(e, ours, &err) < 0)
		fail_msg("revoke: %s", err.msg);
	assert_false(key_exists(e, key, NULL));
	free(val);
	free(key);
	etcd_free(e);
}

/*
 * A held lock and a small lock_wait_ms: refused within a bound each time,
 * never left waiting for the holder (a wait of 0 ms is one without a
 * deadline).  The last millisecond is a race, so it is tried many times.
 */
static void
test_lock_wait_bounded(void **state)
{
	struct empty_apply x;
	struct etcd *e = client();
	struct lr_err err;
	char *key = proto_key_lock_apply("/l2");
	int64_t theirs, t0, took;
	long ms;
	int rc;

	(void)state;
	theirs = hold(e, key);
	empty_apply_init(&x, e, "/l2");
	for (ms = 1; ms <= 60; ms++) {
		x.o.lock_wait_ms = ms % 6;
		t0 = lr_now_ms();
		lr_err_clear(&err);
		rc = empty_apply_write(e, &x, &err);
		took = lr_now_ms() - t0;
		assert_int_equal(rc, LR_ECONFLICT);
		assert_non_null(strstr(err.msg, "another apply is running"));
		if (took > 5000)
			fail_msg("lock_wait_ms %ld took %lld ms", ms % 6,
			    (long long)took);
	}
	empty_apply_release(&x);
	lr_err_clear(&err);
	if (etcd_lease_revoke(e, theirs, &err) < 0)
		fail_msg("revoke: %s", err.msg);
	free(key);
	etcd_free(e);
}

/* The name P/fleet holds under prefix; the caller frees it. */
static char *
fleet_name(struct etcd *e, const char *prefix)
{
	struct lr_err err;
	char *name = NULL;

	lr_err_clear(&err);
	if (rec_fleet_load(e, prefix, &name, &err) < 0)
		fail_msg("rec_fleet_load: %s", err.msg);
	return name;
}

/*
 * Two first applies of different fleets: the second read P/fleet before
 * the first recorded its name and the head after (the two reads are not
 * one), so it saw no name and the first one's head.  Its write must not
 * replace the recorded name, nor deploy over the other fleet: the
 * record is compared in the txn that writes it.
 */
static void
test_fleet_record_race(void **state)
{
	struct empty_apply x, y;
	struct etcd *e = client();
	struct lr_err err;
	char *name;
	int rc;

	(void)state;
	empty_apply_init(&x, e, "/race");
	x.o.fleet = "shop";
	lr_err_clear(&err);
	if (empty_apply_write(e, &x, &err) < 0)
		fail_msg("first apply: %s", err.msg);
	empty_apply_init(&y, e, "/race");
	assert_non_null(y.a.fleet);
	free(y.a.fleet);
	y.a.fleet = NULL;		/* read before 'shop' landed */
	y.o.fleet = "blog";
	lr_err_clear(&err);
	rc = empty_apply_write(e, &y, &err);
	assert_int_equal(rc, LR_ECONFLICT);
	assert_non_null(strstr(err.msg, "fleet 'shop'"));
	name = fleet_name(e, "/race");
	assert_string_equal(name, "shop");
	free(name);
	empty_apply_release(&x);
	empty_apply_release(&y);
	etcd_free(e);
}

struct writer_arg {
	struct empty_apply x;
	int	 rc;
	struct lr_err err;
};

static void *
writer_main(void *p)
{
	struct writer_arg *w = p;
	struct etcd *e = client();

	lr_err_clear(&w->err);
	w->rc = empty_apply_write(e, &w->x, &w->err);
	etcd_free(e);
	return NULL;
}

/*
 * The waiting apply's lease runs out before the holder lets go (here: the
 * test revokes it, as etcd would after REC_LOCK_TTL s without a
 * keep-alive): the apply grants another and takes the lock with it
 * instead of failing with "requested lease not found".
 */
static void
test_lock_lease_regrant(void **state)
{
	struct writer_arg w;
	struct etcd *e = client();
	struct lr_err err;
	char *key = proto_key_lock_apply("/l3");
	int64_t theirs, before[64], now[64], lease = 0;
	size_t nb, nn, i, j;
	pthread_t th;
	int64_t deadline;

	(void)state;
	theirs = hold(e, key);
	nb = leases(before, 64);
	assert_true(nb < 64);
	memset(&w, 0, sizeof(w));
	empty_apply_init(&w.x, e, "/l3");
	w.x.o.lock_wait_ms = 20000;
	assert_int_equal(pthread_create(&th, NULL, writer_main, &w), 0);
	/* the apply has granted its lease and waits */
	deadline = lr_now_ms() + 10000;
	while ((nn = leases(now, 64)) <= nb && lr_now_ms() < deadline)
		lr_sleep_ms(20);
	assert_true(nn == nb + 1);
	lr_sleep_ms(200);
	lr_err_clear(&err);
	for (i = 0; i < nn; i++) {
		for (j = 0; j < nb && before[j] != now[i]; j++)
			;
		if (j == nb && etcd_lease_revoke(e, now[i], &err) < 0)
			fail_msg("revoke the apply's lease: %s", err.msg);
	}
	if (etcd_lease_revoke(e, theirs, &err) < 0)
		fail_msg("revoke: %s", err.msg);
	assert_int_equal(pthread_join(th, NULL), 0);
	if (w.rc < 0)
		fail_msg("the apply failed: %s", w.err.msg);
	empty_apply_release(&w.x);
	/* and released its new lease with the lock */
	assert_false(key_exists(e, key, &lease));
	free(key);
	etcd_free(e);
}

static int
grp_setup(void **state)
{
	(void)state;
	return th_etcd_start(&shared, 1, 0) < 0 ? -1 : 0;
}

static int
grp_teardown(void **state)
{
	(void)state;
	th_etcd_stop(&shared);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest pure[] = {
		cmocka_unit_test(test_lock_gone__batches),
	};
	const struct CMUnitTest live[] = {
		cmocka_unit_test(test_lock_loop),
		cmocka_unit_test(test_lock_wait_bounded),
		cmocka_unit_test(test_lock_lease_regrant),
		cmocka_unit_test(test_fleet_record_race),
	};
	int rc;

	rc = cmocka_run_group_tests_name("rec_lock_pure", pure, NULL, NULL);
	if (!th_etcd_available()) {
		fprintf(stderr, "SKIP: no etcd binary; install etcd-server\n");
		return rc ? rc : 77;
	}
	rc |= cmocka_run_group_tests_name("rec_lock_live", live, grp_setup,
	    grp_teardown);
	return rc;
}
