/*
 * auth's state against a real etcd (tests/lib/etcd_harness.h): two
 * replicas (struct srv, each on its own loop in its own thread) start at
 * once on an empty prefix and make one first admin; a write seen by one
 * copy after auth_wait_rev is seen by the other; bearer tokens are
 * accepted, refused when unknown, expired, revoked or of a disabled
 * user; auth_require answers 401/403 naming the missing grant; the login
 * back-off counts per user and per address.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "auth-int.h"
#include "clock.h"
#include "etcd.h"
#include "etcd_harness.h"
#include "leurad.h"
#include "srv-int.h"
#include "xalloc.h"

#define PREFIX	"/t"
#define ADMIN_PW "first-admin-password"

struct replica {
	uv_loop_t	 loop;
	struct srv	 s;
	uv_async_t	 stop;
	pthread_t	 th;
};

static struct th_etcd h;
static struct replica r[2];
static struct etcd *cli;
static char pwfile[300];

static void
stop_cb(uv_async_t *a)
{
	struct replica *x = a->data;

	auth_free(&x->s);
	uv_close((uv_handle_t *)a, NULL);
}

static void *
run(void *arg)
{
	struct replica *x = arg;

	uv_run(&x->loop, UV_RUN_DEFAULT);
	return NULL;
}

static void
replica_start(struct replica *x)
{
	struct lr_conn conn = { 0 };
	struct srv_opts o;
	struct lr_err err = { 0 };

	conn.endpoints = lr_xstrdup(h.endpoints);
	conn.prefix = lr_xstrdup(PREFIX);
	srv_opts_init(&o);
	uv_loop_init(&x->loop);
	memset(&x->s, 0, sizeof(x->s));
	assert_int_equal(srv_init(&x->s, &x->loop, &conn, &o, &err), 0);
	x->s.admin_password_file = lr_xstrdup(pwfile);
	assert_int_equal(auth_init(&x->s, &err), 0);
	uv_async_init(&x->loop, &x->stop, stop_cb);
	x->stop.data = x;
	pthread_create(&x->th, NULL, run, x);
}

static void
replica_stop(struct replica *x)
{
	uv_async_send(&x->stop);
	pthread_join(x->th, NULL);
	uv_run(&x->loop, UV_RUN_DEFAULT);
	srv_release(&x->s);
	uv_loop_close(&x->loop);
}

static bool
ready_within(struct srv *s, long ms)
{
	long end = lr_now_ms() + ms;

	while (!auth_ready(s)) {
		if (lr_now_ms() > end)
			return false;
		lr_sleep_ms(10);
	}
	return true;
}

static int
setup(void **state)
{
	struct etcd_config cfg = { 0 };
	struct lr_err err = { 0 };
	FILE *f;

	if (!th_etcd_available())
		return -1;
	if (th_etcd_start(&h, 1, 0) < 0)
		return -1;
	snprintf(pwfile, sizeof(pwfile), "%s/admin-pw", h.dir);
	f = fopen(pwfile, "w");
	fprintf(f, "%s\n", ADMIN_PW);
	fclose(f);
	cfg.endpoints = h.endpoints;
	if (etcd_new(&cfg, &cli, &err) < 0)
		return -1;
	/* both at once, on an empty prefix */
	replica_start(&r[0]);
	replica_start(&r[1]);
	if (!ready_within(&r[0].s, 20000) || !ready_within(&r[1].s, 20000))
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	replica_stop(&r[0]);
	replica_stop(&r[1]);
	etcd_free(cli);
	th_etcd_stop(&h);
	return 0;
}

/* put rel (under /t/auth/) = json, and wait until replica i saw it */
static int64_t
put(const char *rel, const char *json)
{
	char key[256];
	struct lr_err err = { 0 };
	int64_t rev = 0;

	snprintf(key, sizeof(key), PREFIX "/auth/%s", rel);
	assert_int_equal(etcd_put(cli, key, json, strlen(json), 0, &rev,
	    &err), 0);
	return rev;
}

static int64_t
del(const char *rel)
{
	char key[256];
	struct lr_err err = { 0 };
	int64_t rev = 0, n = 0;

	snprintf(key, sizeof(key), PREFIX "/auth/%s", rel);
	assert_int_equal(etcd_delete(cli, key, 0, &n, &rev, &err), 0);
	return rev;
}

static void
test_first_admin(void **state)
{
	struct auth_snapshot *a = auth_current(&r[0].s);
	struct auth_snapshot *b = auth_current(&r[1].s);
	const struct auth_user *u;
	struct etcd_range_result rr = { 0 };
	struct etcd_range_req rq = { .key = PREFIX "/auth/",
	    .flags = ETCD_PREFIX | ETCD_KEYS_ONLY };
	struct lr_err err = { 0 };

	/* exactly one user, one grant, and the marker */
	assert_int_equal(etcd_range(cli, &rq, &rr, &err), 0);
	assert_int_equal(rr.nkvs, 3);
	etcd_range_result_release(&rr);
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(a->nusers, 1);
	assert_int_equal(a->ngrants, 1);
	assert_string_equal(a->grants[0].resource, "*");
	assert_int_equal(a->grants[0].verb, AUTH_ADMIN);
	assert_non_null(u = auth_find_user(b, AUTH_ADMIN_USER));
	assert_true(auth_pw_verify(u->password, ADMIN_PW));
	assert_false(auth_pw_verify(u->password, "wrong"));
	auth_snapshot_unref(a);
	auth_snapshot_unref(b);
}

static void
test_read_your_writes(void **state)
{
	struct auth_snapshot *s;
	int64_t rev;
	int i;

	for (i = 0; i < 20; i++) {
		char rel[32], doc[64];

		snprintf(rel, sizeof(rel), "users/u%d", i);
		snprintf(doc, sizeof(doc), "{\"name\":\"u%d\"}", i);
		rev = put(rel, doc);
		/* once auth_wait_rev returns, the copy has it */
		auth_wait_rev(&r[i % 2].s, rev);
		s = auth_current(&r[i % 2].s);
		assert_true(s->revision >= rev);
		assert_non_null(auth_find_user(s, rel + 6));
		auth_snapshot_unref(s);
	}
	rev = del("users/u3");
	auth_wait_rev(&r[1].s, rev);
	s = auth_current(&r[1].s);
	assert_null(auth_find_user(s, "u3"));
	assert_non_null(auth_find_user(s, "u4"));
	auth_snapshot_unref(s);
	/* not JSON: ignored, the rest still loads */
	rev = put("users/junk", "{not json");
	auth_wait_rev(&r[0].s, rev);
	s = auth_current(&r[0].s);
	assert_null(auth_find_user(s, "junk"));
	assert_non_null(auth_find_user(s, "u4"));
	auth_snapshot_unref(s);
}

/* Authenticate secret on replica i: the status (0 when accepted). */
static int
authn(int i, const char *secret, char **user)
{
	struct srv_req req = { 0 };
	struct srv_resp resp = { 0 };
	struct auth_principal *p = NULL;
	int rc;

	req.srv = &r[i].s;
	rc = r[i].s.authenticate(&r[i].s, &req, secret, &p, &resp);
	if (rc == 0) {
		if (user)
			*user = lr_xstrdup(p->user);
		r[i].s.principal_free(p);
		return 0;
	}
	assert_non_null(strstr(resp.body, "leura login"));
	rc = resp.status;
	srv_resp_release(&resp);
	return rc;
}

static void
test_tokens(void **state)
{
	char *secret = auth_token_new(), hash[65], rel[128], doc[256];
	char *who = NULL;
	int64_t rev;

	auth_sha256_hex(secret, hash);
	snprintf(rel, sizeof(rel), "tokens/%s", hash);
	rev = put("users/tok", "{\"name\":\"tok\"}");
	snprintf(doc, sizeof(doc), "{\"id\":\"t1\",\"user\":\"tok\","
	    "\"kind\":\"api\",\"scopes\":[\"read\"],\"expires\":%lld}",
	    (long long)time(NULL) + 600);
	rev = put(rel, doc);
	auth_wait_rev(&r[0].s, rev);
	auth_wait_rev(&r[1].s, rev);
	assert_int_equal(authn(0, secret, &who), 0);
	assert_string_equal(who, "tok");
	free(who);
	assert_int_equal(authn(1, secret, NULL), 0);
	assert_int_equal(authn(0, "leura_unknown", NULL), 401);
	assert_int_equal(authn(0, "", NULL), 401);
	/* a disabled user's token */
	rev = put("users/tok", "{\"name\":\"tok\",\"disabled\":true}");
	auth_wait_rev(&r[0].s, rev);
	assert_int_equal(authn(0, secret, NULL), 401);
	rev = put("users/tok", "{\"name\":\"tok\"}");
	auth_wait_rev(&r[0].s, rev);
	assert_int_equal(authn(0, secret, NULL), 0);
	/* expired */
	snprintf(doc, sizeof(doc), "{\"id\":\"t1\",\"user\":\"tok\","
	    "\"kind\":\"api\",\"expires\":%lld}", (long long)time(NULL) - 1);
	rev = put(rel, doc);
	auth_wait_rev(&r[1].s, rev);
	assert_int_equal(authn(1, secret, NULL), 401);
	/* revoked: refused on both replicas once each saw the delete */
	rev = del(rel);
	auth_wait_rev(&r[0].s, rev);
	auth_wait_rev(&r[1].s, rev);
	assert_int_equal(authn(0, secret, NULL), 401);
	assert_int_equal(authn(1, secret, NULL), 401);
	free(secret);
}

static void
test_require(void **state)
{
	struct auth_principal p = { .user = "u5", .scopes = AUTH_SCOPES_ALL };
	struct srv_req req = { 0 };
	struct srv_resp resp = { 0 };
	int64_t rev;

	req.srv = &r[0].s;
	/* anonymous: 401 */
	assert_false(auth_require(&req, &resp, AUTH_READ, "services/web"));
	assert_int_equal(resp.status, 401);
	srv_resp_release(&resp);
	req.who = &p;
	assert_false(auth_require(&req, &resp, AUTH_APPLY, "services/web"));
	assert_int_equal(resp.status, 403);
	assert_non_null(strstr(resp.body,
	    "apply on services/web needs a grant"));
	assert_non_null(strstr(resp.body, "ask"));
	srv_resp_release(&resp);
	rev = put("grants/gx", "{\"id\":\"gx\",\"subject\":\"user:u5\","
	    "\"verb\":\"apply\",\"resource\":\"services/*\"}");
	auth_wait_rev(&r[0].s, rev);
	assert_true(auth_require(&req, &resp, AUTH_APPLY, "services/web"));
	assert_int_equal(resp.status, 0);
	assert_false(auth_require(&req, &resp, AUTH_APPROVE, "services/web"));
	srv_resp_release(&resp);
}

static void
test_backoff(void **state)
{
	struct auth_state *st = r[0].s.auth;
	int i;

	for (i = 0; i < 4; i++)
		auth_backoff_fail(st, "zed", "127.0.0.9:1000");
	assert_int_equal(auth_backoff_check(st, "zed", "127.0.0.9:1"), 0);
	auth_backoff_fail(st, "zed", "127.0.0.9:1000");
	assert_true(auth_backoff_check(st, "zed", "127.0.0.8:1") >= 1);
	/* another user from another address is free */
	assert_int_equal(auth_backoff_check(st, "amy", "127.0.0.8:1"), 0);
	/* a success clears the user's count */
	auth_backoff_ok(st, "zed", "127.0.0.9:1000");
	assert_int_equal(auth_backoff_check(st, "zed", "127.0.0.8:1"), 0);
	/* 20 failures from one address block every user from it */
	for (i = 0; i < 20; i++)
		auth_backoff_fail(st, i % 2 ? "a1" : "a2", "10.0.0.1:5");
	assert_true(auth_backoff_check(st, "fresh", "10.0.0.1:6") >= 1);
	assert_int_equal(auth_backoff_check(st, "fresh", "10.0.0.2:6"), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_admin),
		cmocka_unit_test(test_read_your_writes),
		cmocka_unit_test(test_tokens),
		cmocka_unit_test(test_require),
		cmocka_unit_test(test_backoff),
	};

	if (!th_etcd_available())
		return 77;
	return cmocka_run_group_tests(tests, setup, teardown);
}
