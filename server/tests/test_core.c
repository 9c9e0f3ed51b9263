/*
 * Unit tests of leurad's core that need no network: the router (matches,
 * captures, 405's Allow, path checks), the response helpers every handler
 * uses (the error shape, srv_body_object, If-Match, pagination, lr_err
 * mapping, request ids), the audit event's JSON and the metrics text.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth.h"
#include "buf.h"
#include "err.h"
#include "srv-int.h"

static void
h_dummy(struct srv_req *req, struct srv_resp *resp)
{
	(void)req;
	(void)resp;
}

static void
h_other(struct srv_req *req, struct srv_resp *resp)
{
	(void)req;
	(void)resp;
}

static struct srv_router *
router(void)
{
	struct srv_router *r = srv_router_new();

	srv_route(r, "GET", "/v1/users", h_dummy, 0);
	srv_route(r, "POST", "/v1/users", h_other, 0);
	srv_route(r, "GET", "/v1/users/{name}", h_dummy, 0);
	srv_route(r, "PATCH", "/v1/users/{name}", h_other, 0);
	srv_route(r, "PUT", "/v1/groups/{name}/members/{user}", h_dummy, 0);
	srv_route(r, "GET", "/healthz", h_dummy, SRV_ANON);
	return r;
}

static void
test_router__match_and_captures(void **state)
{
	struct srv_router *r = router();
	const struct srv_route_ent *e = NULL;
	struct srv_kv p[SRV_MAX_PARAMS];
	size_t np;
	char allow[64];

	assert_int_equal(srv_router_match(r, "GET", "/v1/users", &e, p, &np,
	    allow, sizeof(allow)), SRV_MATCH_OK);
	assert_ptr_equal(e->h, h_dummy);
	assert_int_equal(np, 0);
	assert_int_equal(srv_router_match(r, "POST", "/v1/users", &e, p, &np,
	    allow, sizeof(allow)), SRV_MATCH_OK);
	assert_ptr_equal(e->h, h_other);
	assert_int_equal(srv_router_match(r, "PUT",
	    "/v1/groups/ops/members/alice", &e, p, &np, allow, sizeof(allow)),
	    SRV_MATCH_OK);
	assert_string_equal(e->pattern, "/v1/groups/{name}/members/{user}");
	assert_int_equal(np, 2);
	assert_string_equal(p[0].name, "name");
	assert_string_equal(p[0].value, "ops");
	assert_string_equal(p[1].name, "user");
	assert_string_equal(p[1].value, "alice");
	srv_kv_free(p, np);
	/* HEAD is GET without a body */
	assert_int_equal(srv_router_match(r, "HEAD", "/healthz", &e, p, &np,
	    allow, sizeof(allow)), SRV_MATCH_OK);
	srv_router_free(r);
}

static void
test_router__404_405(void **state)
{
	struct srv_router *r = router();
	const struct srv_route_ent *e = NULL;
	struct srv_kv p[SRV_MAX_PARAMS];
	size_t np;
	char allow[64];

	assert_int_equal(srv_router_match(r, "GET", "/v1/nope", &e, p, &np,
	    allow, sizeof(allow)), SRV_MATCH_NONE);
	assert_int_equal(srv_router_match(r, "GET", "/v1/users/", &e, p, &np,
	    allow, sizeof(allow)), SRV_MATCH_NONE);
	assert_int_equal(srv_router_match(r, "GET", "/v1/users/a/b", &e, p,
	    &np, allow, sizeof(allow)), SRV_MATCH_NONE);
	/* a capture never matches ".", ".." or "" */
	assert_int_equal(srv_router_match(r, "GET", "/v1/users/..", &e, p,
	    &np, allow, sizeof(allow)), SRV_MATCH_NONE);
	assert_int_equal(srv_router_match(r, "GET", "/v1/users/.", &e, p,
	    &np, allow, sizeof(allow)), SRV_MATCH_NONE);
	assert_int_equal(srv_router_match(r, "GET", "/v1//x", &e, p,
	    &np, allow, sizeof(allow)), SRV_MATCH_NONE);
	assert_int_equal(srv_router_match(r, "DELETE", "/v1/users", &e, p,
	    &np, allow, sizeof(allow)), SRV_MATCH_METHOD);
	assert_string_equal(allow, "GET, POST");
	assert_int_equal(srv_router_match(r, "DELETE", "/v1/users/bob", &e,
	    p, &np, allow, sizeof(allow)), SRV_MATCH_METHOD);
	assert_string_equal(allow, "GET, PATCH");
	assert_int_equal(np, 0);
	srv_router_free(r);
}

static void
test_path_ok(void **state)
{
	char big[1100];

	assert_true(srv_path_ok("/v1/users", 9));
	assert_true(srv_path_ok("/", 1));
	assert_true(srv_path_ok("/v1/a..b/.c", 11));
	assert_false(srv_path_ok("", 0));
	assert_false(srv_path_ok("v1", 2));
	assert_false(srv_path_ok("/v1/../x", 8));
	assert_false(srv_path_ok("/v1/./x", 7));
	assert_false(srv_path_ok("/v1/..", 6));
	assert_false(srv_path_ok("/a\0b", 4));		/* a NUL inside */
	assert_false(srv_path_ok("/a\nb", 4));
	memset(big, 'a', sizeof(big) - 1);
	big[0] = '/';
	big[sizeof(big) - 1] = '\0';
	assert_false(srv_path_ok(big, sizeof(big) - 1));
}

static json_t *
body(const struct srv_resp *r)
{
	json_t *j = json_loadb(r->body, r->body_len, 0, NULL);

	assert_non_null(j);
	return j;
}

/* resp is the error shape with status and code; message contains want */
static void
assert_error(struct srv_resp *r, int status, const char *code,
    const char *want)
{
	json_t *j = body(r);
	const char *m;

	assert_int_equal(r->status, status);
	assert_string_equal(r->content_type, "application/json");
	assert_string_equal(json_string_value(json_object_get(
	    json_object_get(j, "error"), "code")), code);
	m = json_string_value(json_object_get(json_object_get(j, "error"),
	    "message"));
	assert_non_null(m);
	if (strstr(m, want) == NULL)
		fail_msg("message '%s' lacks '%s'", m, want);
	assert_true(json_object_get(json_object_get(j, "error"), "hint") !=
	    NULL);
	json_decref(j);
	srv_resp_release(r);
}

static void
test_resp__error_shape(void **state)
{
	struct srv_resp r = { 0 };
	struct lr_err err;
	json_t *j;

	srv_resp_error(&r, 404, "not_found", "try another", "no user '%s'",
	    "bob");
	j = body(&r);
	assert_string_equal(r.body + r.body_len - 1, "\n");
	assert_string_equal(json_string_value(json_object_get(
	    json_object_get(j, "error"), "hint")), "try another");
	json_decref(j);
	srv_resp_release(&r);
	lr_err_clear(&err);
	lr_err_set(&err, LR_ECONFLICT, "changed meanwhile");
	srv_resp_lr_err(&r, &err);
	assert_error(&r, 409, "conflict", "changed meanwhile");
	lr_err_set(&err, LR_EUNREACH, "etcd is down");
	srv_resp_lr_err(&r, &err);
	assert_error(&r, 503, "unavailable", "etcd is down");
	lr_err_set(&err, LR_EIO, "disk");
	srv_resp_lr_err(&r, &err);
	assert_error(&r, 500, "internal", "disk");
	lr_err_set(&err, LR_EPERM, "no");
	srv_resp_lr_err(&r, &err);
	assert_error(&r, 403, "forbidden", "no");
	lr_err_set(&err, LR_ETOOBIG, "big");
	srv_resp_lr_err(&r, &err);
	assert_error(&r, 413, "too_large", "big");
	/* headers are copied, replaced by name */
	srv_resp_header(&r, "ETag", "\"1\"");
	srv_resp_etag(&r, 42);
	assert_int_equal(r.nheaders, 1);
	assert_string_equal(r.headers[0].value, "\"42\"");
	srv_resp_release(&r);
}

static void
test_body_object(void **state)
{
	static const char *const allowed[] = { "user", "password", NULL };
	struct srv_req req = { 0 };
	struct srv_resp r = { 0 };
	json_t *o = NULL;

	req.body = "{\"user\":\"a\",\"password\":\"b\"}";
	req.body_len = strlen(req.body);
	assert_int_equal(srv_body_object(&req, &r, allowed, &o), 0);
	assert_string_equal(json_string_value(json_object_get(o, "user")),
	    "a");
	json_decref(o);
	assert_int_equal(r.status, 0);

	req.body = "{\"user\":\"a\",\n \"password\": }";
	req.body_len = strlen(req.body);
	assert_int_equal(srv_body_object(&req, &r, allowed, &o), -1);
	assert_error(&r, 400, "bad_request", "at line 2:");

	req.body = "{\"user\":\"a\",\"pasword\":\"b\"}";
	req.body_len = strlen(req.body);
	assert_int_equal(srv_body_object(&req, &r, allowed, &o), -1);
	assert_error(&r, 400, "bad_request", "unknown field 'pasword' (did "
	    "you mean 'password'? allowed: user, password)");

	req.body = "{\"zzz\":1}";
	req.body_len = strlen(req.body);
	assert_int_equal(srv_body_object(&req, &r, allowed, &o), -1);
	assert_error(&r, 400, "bad_request", "unknown field 'zzz' (allowed:");

	req.body = "[1,2]";
	req.body_len = strlen(req.body);
	assert_int_equal(srv_body_object(&req, &r, allowed, &o), -1);
	assert_error(&r, 400, "bad_request", "must be a JSON object");

	req.body = "{\"user\":\"a\",\"user\":\"b\"}";
	req.body_len = strlen(req.body);
	assert_int_equal(srv_body_object(&req, &r, allowed, &o), -1);
	assert_error(&r, 400, "bad_request", "duplicate");

	req.body = "";
	req.body_len = 0;
	assert_int_equal(srv_body_object(&req, &r, allowed, &o), -1);
	assert_error(&r, 400, "bad_request", "no body");

	/* bytes that are not UTF-8, which jansson's error text quotes:
	   an answer, not an abort (found by fuzz_server) */
	req.body = "{\"name\":\"bb?hP\\\xdf\xa9\xff\xff\x90\x8d\x9b\":\"x\"}";
	req.body_len = strlen(req.body);
	assert_int_equal(srv_body_object(&req, &r, allowed, &o), -1);
	assert_error(&r, 400, "bad_request", "invalid JSON");
}

static void
test_if_match_and_pages(void **state)
{
	struct srv_req req = { 0 };
	struct srv_resp r = { 0 };
	struct srv_kv q[2];
	const char *after;
	size_t limit;

	assert_int_equal(srv_if_match(&req, &r), 0);
	req.headers[0].name = "if-match";
	req.headers[0].value = "\"1234\"";
	req.nheaders = 1;
	assert_int_equal(srv_if_match(&req, &r), 1234);
	req.headers[0].value = "*";
	assert_int_equal(srv_if_match(&req, &r), 0);
	req.headers[0].value = "W/\"12\"";
	assert_int_equal(srv_if_match(&req, &r), -1);
	assert_error(&r, 400, "bad_request", "not an ETag");
	req.headers[0].value = "\"12x\"";
	assert_int_equal(srv_if_match(&req, &r), -1);
	srv_resp_release(&r);

	assert_int_equal(srv_page_args(&req, &r, &limit, &after), 0);
	assert_int_equal(limit, 100);
	assert_null(after);
	q[0].name = "limit";
	q[0].value = "5";
	q[1].name = "after";
	q[1].value = "users/bob";
	req.query = q;
	req.nquery = 2;
	assert_int_equal(srv_page_args(&req, &r, &limit, &after), 0);
	assert_int_equal(limit, 5);
	assert_string_equal(after, "users/bob");
	q[0].value = "0";
	assert_int_equal(srv_page_args(&req, &r, &limit, &after), -1);
	assert_error(&r, 400, "bad_request", "invalid limit '0'");
	q[0].value = "1001";
	assert_int_equal(srv_page_args(&req, &r, &limit, &after), -1);
	srv_resp_release(&r);
	q[0].value = "10x";
	assert_int_equal(srv_page_args(&req, &r, &limit, &after), -1);
	srv_resp_release(&r);
}

static void
test_request_id(void **state)
{
	char id[65];

	srv_request_id("abc-DEF-123", id);
	assert_string_equal(id, "abc-DEF-123");
	srv_request_id(NULL, id);
	assert_int_equal(strlen(id), 32);
	assert_int_equal(strspn(id, "0123456789abcdef"), 32);
	srv_request_id("a b", id);
	assert_int_equal(strlen(id), 32);
	srv_request_id("", id);
	assert_int_equal(strlen(id), 32);
	srv_request_id("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaa", id);				/* 65 characters */
	assert_int_equal(strlen(id), 32);
}

static void
test_audit_event(void **state)
{
	struct srv_req req = { 0 };
	struct srv_resp r = { 0 };
	struct auth_principal who = { 0 };
	json_t *ev;
	char *s;

	req.method = "PATCH";
	req.path = "/v1/users/bob";
	req.route = "/v1/users/{name}";
	snprintf(req.client, sizeof(req.client), "127.0.0.1:5000");
	snprintf(req.request_id, sizeof(req.request_id), "rid");
	req.body = "{\"password\":\"hunter2\"}";
	req.body_len = strlen(req.body);
	r.status = 200;
	assert_true(srv_audit_wanted(&req, &r));
	ev = srv_audit_event(&req, &r, 1796670918035438662LL);
	s = json_dumps(ev, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(s, "{\"action\":\"PATCH /v1/users/{name}\","
	    "\"actor\":null,\"client\":\"127.0.0.1:5000\",\"detail\":null,"
	    "\"outcome\":\"ok\",\"request_id\":\"rid\",\"resource\":"
	    "\"/v1/users/bob\",\"status\":200,\"time\":"
	    "\"2026-12-07T19:15:18.035Z\"}");
	free(s);
	json_decref(ev);

	who.user = "alice";
	req.who = &who;
	srv_req_audit(&req, "users/bob", json_pack("{s:b}", "disabled", 1));
	r.status = 403;
	ev = srv_audit_event(&req, &r, 0);
	assert_string_equal(json_string_value(json_object_get(ev, "actor")),
	    "alice");
	assert_string_equal(json_string_value(json_object_get(ev,
	    "resource")), "users/bob");
	assert_string_equal(json_string_value(json_object_get(ev,
	    "outcome")), "denied");
	assert_true(json_is_true(json_object_get(json_object_get(ev,
	    "detail"), "disabled")));
	s = json_dumps(ev, JSON_COMPACT);
	assert_null(strstr(s, "hunter2"));		/* never the body */
	free(s);
	json_decref(ev);
	r.status = 500;
	ev = srv_audit_event(&req, &r, 0);
	assert_string_equal(json_string_value(json_object_get(ev,
	    "outcome")), "failed");
	json_decref(ev);
	free(req.audit_resource);
	json_decref(req.audit_detail);

	req.method = "GET";
	r.status = 200;
	assert_false(srv_audit_wanted(&req, &r));
	r.status = 401;
	assert_true(srv_audit_wanted(&req, &r));
}

static void
test_metrics_text(void **state)
{
	struct lr_buf b = LR_BUF_INIT;

	srv_metrics_observe("/v1/users/{name}", "GET", 200, 0.003);
	srv_metrics_observe("/v1/users/{name}", "GET", 200, 0.2);
	srv_metrics_observe("/v1/users/{name}", "GET", 404, 20);
	srv_metrics_inc("leurad_webhooks_total", "kind=\"github\"");
	srv_metrics_render(NULL, &b);
	assert_non_null(strstr(b.s, "# TYPE leurad_http_requests_total "
	    "counter\n"));
	assert_non_null(strstr(b.s, "leurad_http_requests_total{route=\"/v1/"
	    "users/{name}\",method=\"GET\",status=\"200\"} 2\n"));
	assert_non_null(strstr(b.s, "leurad_http_request_duration_seconds_"
	    "bucket{route=\"/v1/users/{name}\",le=\"0.005\"} 1\n"));
	assert_non_null(strstr(b.s, "leurad_http_request_duration_seconds_"
	    "bucket{route=\"/v1/users/{name}\",le=\"0.25\"} 2\n"));
	assert_non_null(strstr(b.s, "leurad_http_request_duration_seconds_"
	    "bucket{route=\"/v1/users/{name}\",le=\"10\"} 2\n"));
	assert_non_null(strstr(b.s, "leurad_http_request_duration_seconds_"
	    "bucket{route=\"/v1/users/{name}\",le=\"+Inf\"} 3\n"));
	assert_non_null(strstr(b.s, "leurad_webhooks_total{kind=\"github\"} "
	    "1\n"));
	assert_non_null(strstr(b.s, "leurad_audit_failures_total 0\n"));
	lr_buf_release(&b);
	srv_metrics_reset();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_router__match_and_captures),
		cmocka_unit_test(test_router__404_405),
		cmocka_unit_test(test_path_ok),
		cmocka_unit_test(test_resp__error_shape),
		cmocka_unit_test(test_body_object),
		cmocka_unit_test(test_if_match_and_pages),
		cmocka_unit_test(test_request_id),
		cmocka_unit_test(test_audit_event),
		cmocka_unit_test(test_metrics_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
