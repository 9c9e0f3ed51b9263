/*
 * The blocking etcd client (struct etcd) against real etcd members started
 * by the harness (tests/lib), plus the pure encoders and decoders on
 * hand-written answers.  Most tests share one single-member etcd (group
 * setup) and keep to their own key prefix; the tests that restart, secure
 * or cluster etcd start their own.  No etcd installed: exit 77.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "clock.h"
#include "etcd-int.h"
#include "etcd.h"
#include "etcd_harness.h"
#include "xalloc.h"

static struct th_etcd shared;

static struct etcd *
client_cfg(const struct etcd_config *cfg)
{
	struct etcd *e = NULL;
	struct lr_err err;

	lr_err_clear(&err);
	if (etcd_new(cfg, &e, &err) < 0)
		fail_msg("etcd_new: %s", err.msg);
	return e;
}

static struct etcd *
client(const char *endpoints)
{
	struct etcd_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.endpoints = endpoints;
	return client_cfg(&cfg);
}

static int64_t
put(struct etcd *e, const char *key, const char *val)
{
	struct lr_err err;
	int64_t rev = 0;

	if (etcd_put(e, key, val, strlen(val), 0, &rev, &err) < 0)
		fail_msg("put %s: %s", key, err.msg);
	return rev;
}

static int
grp_setup(void **state)
{
	return th_etcd_start(&shared, 1, 0);
}

static int
grp_teardown(void **state)
{
	th_etcd_stop(&shared);
	return 0;
}

/* ---- pure parts ------------------------------------------------------- */

static void
test_b64__roundtrip(void **state)
{
	static const char *in[] = { "", "f", "fo", "foo", "foob", "fooba",
	    "foobar" };
	static const char *want[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==",
	    "Zm9vYmE=", "Zm9vYmFy" };
	unsigned char bin[256];
	size_t i, len;
	char *s, *d;

	for (i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		s = etcd_b64_encode(in[i], strlen(in[i]));
		assert_string_equal(s, want[i]);
		d = etcd_b64_decode(s, &len);
		assert_non_null(d);
		assert_int_equal(len, strlen(in[i]));
		assert_memory_equal(d, in[i], len);
		assert_int_equal(d[len], '\0');
		free(s);
		free(d);
	}
	for (i = 0; i < sizeof(bin); i++)
		bin[i] = (unsigned char)i;
	s = etcd_b64_encode(bin, sizeof(bin));
	d = etcd_b64_decode(s, &len);
	assert_int_equal(len, sizeof(bin));
	assert_memory_equal(d, bin, sizeof(bin));
	free(s);
	free(d);
}

static void
test_b64__bad_input(void **state)
{
	static const char *bad[] = { "abc", "a", "ab=c", "Zm 9", "@@@@",
	    "Zg=\n", "Z===", "====", "Zm9v\n" };
	size_t i, len;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_null(etcd_b64_decode(bad[i], &len));
}

static void
test_prefix_end(void **state)
{
	char *s;

	s = etcd_prefix_end("/svc/");
	assert_string_equal(s, "/svc0");
	free(s);
	s = etcd_prefix_end("a\xff");
	assert_string_equal(s, "b");
	free(s);
	s = etcd_prefix_end("\xff\xff");
	assert_string_equal(s, "");
	free(s);
	s = etcd_prefix_end("");
	assert_string_equal(s, "");
	free(s);
}

static void
test_encoders(void **state)
{
	struct etcd_range_req rr = { "/svc/", ETCD_PREFIX | ETCD_KEYS_ONLY,
	    7, 2, NULL };
	struct etcd_watch_req wr = { "", ETCD_PREFIX | ETCD_PREV_KV, 12, NULL };
	struct etcd_txn t;
	json_t *j;
	char *s;

	j = etcd_range_encode(&rr);
	s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(s, "{\"key\":\"L3N2Yy8=\",\"keys_only\":true,"
	    "\"limit\":\"2\",\"range_end\":\"L3N2YzA=\",\"revision\":\"7\"}");
	free(s);
	json_decref(j);

	/* all keys: "\0" both ends */
	j = etcd_watch_encode(&wr);
	s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(s, "{\"create_request\":{\"key\":\"AA==\","
	    "\"prev_kv\":true,\"range_end\":\"AA==\","
	    "\"start_revision\":\"12\"}}");
	free(s);
	json_decref(j);

	etcd_txn_init(&t);
	etcd_txn_cmp_int(&t, "/a", ETCD_CMP_MOD, ETCD_CMP_EQUAL, 3);
	etcd_txn_cmp_value(&t, "/a", ETCD_CMP_NOT_EQUAL, "x", 1);
	etcd_txn_put(&t, ETCD_THEN, "/a", "v2", 2, 0);
	etcd_txn_delete(&t, ETCD_ELSE, "/b/", ETCD_PREFIX);
	assert_int_equal(t.nops, 2);
	j = etcd_txn_encode(&t);
	s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(s, "{\"compare\":[{\"key\":\"L2E=\","
	    "\"mod_revision\":\"3\",\"result\":\"EQUAL\",\"target\":\"MOD\"},"
	    "{\"key\":\"L2E=\",\"result\":\"NOT_EQUAL\",\"target\":\"VALUE\","
	    "\"value\":\"eA==\"}],\"failure\":[{\"request_delete_range\":"
	    "{\"key\":\"L2Iv\",\"range_end\":\"L2Iw\"}}],\"success\":"
	    "[{\"request_put\":{\"key\":\"L2E=\",\"value\":\"djI=\"}}]}");
	assert_true(t.bytes >= strlen(s));
	assert_true(t.bytes < 2 * strlen(s) + 200);
	free(s);
	json_decref(j);
	etcd_txn_release(&t);
}

static json_t *
js(const char *text)
{
	json_t *j = json_loads(text, 0, NULL);

	if (j == NULL)
		fail_msg("bad test JSON: %s", text);
	return j;
}

static void
test_decode__range(void **state)
{
	struct etcd_range_result r;
	struct lr_err err;
	json_t *j;

	/* absent fields are zero */
	j = js("{\"header\":{\"revision\":\"9\"}}");
	assert_int_equal(etcd_range_decode(j, &r, &err), 0);
	assert_int_equal(r.nkvs, 0);
	assert_int_equal(r.count, 0);
	assert_false(r.more);
	assert_int_equal(r.revision, 9);
	etcd_range_result_release(&r);
	json_decref(j);

	j = js("{\"header\":{\"revision\":\"9\"},\"kvs\":[{\"key\":\"L2E=\","
	    "\"create_revision\":\"2\",\"mod_revision\":5,\"version\":\"3\","
	    "\"value\":\"aGk=\",\"lease\":\"77\"},{\"key\":\"L2I=\"}],"
	    "\"count\":\"4\",\"more\":true}");
	assert_int_equal(etcd_range_decode(j, &r, &err), 0);
	assert_int_equal(r.nkvs, 2);
	assert_string_equal(r.kvs[0].key, "/a");
	assert_string_equal(r.kvs[0].value, "hi");
	assert_int_equal(r.kvs[0].value_len, 2);
	assert_int_equal(r.kvs[0].create_revision, 2);
	assert_int_equal(r.kvs[0].mod_revision, 5);
	assert_int_equal(r.kvs[0].version, 3);
	assert_int_equal(r.kvs[0].lease, 77);
	assert_string_equal(r.kvs[1].value, "");
	assert_int_equal(r.count, 4);
	assert_true(r.more);
	etcd_range_result_release(&r);
	json_decref(j);

	j = js("{\"kvs\":[{\"key\":\"L2E=\",\"value\":\"not base64!\"}]}");
	assert_int_equal(etcd_range_decode(j, &r, &err), LR_EETCD);
	assert_non_null(strstr(err.msg, "'/a'"));
	json_decref(j);
	j = js("{\"kvs\":[{\"key\":\"%%%\"}]}");
	assert_int_equal(etcd_range_decode(j, &r, &err), LR_EETCD);
	json_decref(j);
	j = js("{\"kvs\":[{\"value\":\"aGk=\"}]}");
	assert_int_equal(etcd_range_decode(j, &r, &err), LR_EETCD);
	json_decref(j);
	j = js("{\"kvs\":{}}");
	assert_int_equal(etcd_range_decode(j, &r, &err), LR_EETCD);
	json_decref(j);
	j = js("[1]");
	assert_int_equal(etcd_range_decode(j, &r, &err), LR_EETCD);
	json_decref(j);
}

static void
test_decode__txn_and_leases(void **state)
{
	struct etcd_txn_result t;
	struct lr_err err;
	int64_t ttl, id, g;
	json_t *j;

	/* the failure branch: no "succeeded" */
	j = js("{\"header\":{\"revision\":\"6\"},\"responses\":["
	    "{\"response_range\":{\"kvs\":[{\"key\":\"L2E=\",\"value\":"
	    "\"MQ==\"}],\"count\":\"1\"}},{\"response_put\":{}},"
	    "{\"response_delete_range\":{\"deleted\":\"2\"}}]}");
	assert_int_equal(etcd_txn_decode(j, &t, &err), 0);
	assert_false(t.succeeded);
	assert_int_equal(t.revision, 6);
	assert_int_equal(t.nops, 3);
	assert_int_equal(t.ops[0].kind, ETCD_OP_RANGE);
	assert_string_equal(t.ops[0].range.kvs[0].value, "1");
	assert_int_equal(t.ops[0].range.revision, 6);
	assert_int_equal(t.ops[1].kind, ETCD_OP_PUT);
	assert_int_equal(t.ops[2].kind, ETCD_OP_DELETE);
	assert_int_equal(t.ops[2].deleted, 2);
	etcd_txn_result_release(&t);
	json_decref(j);
	j = js("{\"succeeded\":true,\"responses\":[{\"response_what\":{}}]}");
	assert_int_equal(etcd_txn_decode(j, &t, &err), LR_EETCD);
	json_decref(j);

	/* keep-alive on a gone lease: 200 and no TTL */
	j = js("{\"result\":{\"header\":{},\"ID\":\"12345\"}}");
	assert_int_equal(etcd_lease_keepalive_decode(j, &ttl, &err), 0);
	assert_int_equal(ttl, 0);
	json_decref(j);
	j = js("{\"result\":{\"ID\":\"12345\",\"TTL\":\"10\"}}");
	assert_int_equal(etcd_lease_keepalive_decode(j, &ttl, &err), 0);
	assert_int_equal(ttl, 10);
	json_decref(j);
	j = js("{\"ID\":\"12345\",\"TTL\":\"-1\"}");
	assert_int_equal(etcd_lease_ttl_decode(j, &ttl, &g, &err), 0);
	assert_int_equal(ttl, -1);
	json_decref(j);
	j = js("{\"ID\":\"7\",\"TTL\":\"10\"}");
	assert_int_equal(etcd_lease_grant_decode(j, &id, &ttl, &err), 0);
	assert_int_equal(id, 7);
	json_decref(j);
	j = js("{\"TTL\":\"10\"}");
	assert_int_equal(etcd_lease_grant_decode(j, &id, &ttl, &err),
	    LR_EETCD);
	json_decref(j);
}

static void
test_decode__watch_lines(void **state)
{
	struct etcd_events ev;
	struct etcd_watch_batch b;
	struct etcd_watch_info info;
	struct lr_err err;
	const char *l;

	etcd_events_init(&ev);
	l = "{\"result\":{\"header\":{\"revision\":\"10\"},\"created\":true}}";
	assert_int_equal(etcd_watch_decode_line(l, strlen(l), &ev, &b, &info,
	    "watch '/w/'", "http://x", &err), 0);
	assert_true(info.created);
	assert_int_equal(b.kind, ETCD_WATCH_PROGRESS);
	assert_int_equal(b.revision, 10);

	l = "{\"result\":{\"header\":{\"revision\":\"14\"},\"events\":["
	    "{\"kv\":{\"key\":\"L3cveA==\",\"mod_revision\":\"11\","
	    "\"value\":\"MQ==\"}},{\"type\":\"DELETE\",\"kv\":{\"key\":"
	    "\"L3cveA==\",\"mod_revision\":\"14\"},\"prev_kv\":{\"key\":"
	    "\"L3cveA==\",\"value\":\"MQ==\",\"mod_revision\":\"11\"}}]}}";
	assert_int_equal(etcd_watch_decode_line(l, strlen(l), &ev, &b, &info,
	    "watch '/w/'", "http://x", &err), 0);
	assert_int_equal(b.kind, ETCD_WATCH_EVENTS);
	assert_int_equal(b.nevents, 2);
	assert_int_equal(b.events[0].type, ETCD_EV_PUT);
	assert_string_equal(b.events[0].kv.value, "1");
	assert_null(b.events[0].prev_kv.key);
	assert_int_equal(b.events[1].type, ETCD_EV_DELETE);
	assert_string_equal(b.events[1].prev_kv.value, "1");
	assert_int_equal(b.events[1].kv.mod_revision, 14);

	l = "{\"result\":{\"header\":{\"revision\":\"20\"},\"canceled\":true,"
	    "\"compact_revision\":\"12\"}}";
	assert_int_equal(etcd_watch_decode_line(l, strlen(l), &ev, &b, &info,
	    "watch '/w/'", "http://x", &err), 0);
	assert_true(info.canceled);
	assert_int_equal(info.compact_revision, 12);
	assert_int_equal(ev.n, 0);

	l = "{\"result\":{\"header\":{},\"watch_id\":\"-1\",\"created\":true,"
	    "\"canceled\":true,\"cancel_reason\":\"rpc error: code = "
	    "PermissionDenied desc = etcdserver: permission denied\"}}";
	assert_int_equal(etcd_watch_decode_line(l, strlen(l), &ev, &b, &info,
	    "watch '/w/'", "http://x", &err), 0);
	assert_int_equal(info.watch_id, -1);
	assert_int_equal(etcd_watch_cancel_error(&info, "watch '/w/'",
	    "http://x", &err), LR_EPERM);
	assert_non_null(strstr(err.msg, "etcd watch '/w/' at 'http://x'"));

	l = "{\"result\":{\"events\":[{\"kv\":{\"key\":\"!!\"}}]}}";
	assert_int_equal(etcd_watch_decode_line(l, strlen(l), &ev, &b, &info,
	    "watch '/w/'", "http://x", &err), LR_EETCD);
	assert_int_equal(ev.n, 0);
	l = "{\"result\":{\"events\":[";
	assert_int_equal(etcd_watch_decode_line(l, strlen(l), &ev, &b, &info,
	    "watch '/w/'", "http://x", &err), LR_EETCD);
	l = "{\"error\":{\"grpc_code\":7,\"http_code\":403,\"message\":"
	    "\"etcdserver: permission denied\"}}";
	assert_int_equal(etcd_watch_decode_line(l, strlen(l), &ev, &b, &info,
	    "watch '/w/'", "http://x", &err), LR_EPERM);
	etcd_events_release(&ev);
}

static int
count_lines(const char *line, size_t len, void *arg)
{
	struct lr_buf *got = arg;

	lr_buf_add(got, line, len);
	lr_buf_addc(got, '|');
	return 0;
}

static void
test_lines_feed(void **state)
{
	struct lr_buf acc = LR_BUF_INIT, got = LR_BUF_INIT;

	/* curl may split a line or merge several */
	assert_int_equal(etcd_lines_feed(&acc, "{\"a\"", 4, count_lines,
	    &got), 0);
	assert_int_equal(got.len, 0);
	assert_int_equal(etcd_lines_feed(&acc, ":1}\n{\"b\":2}\n\n{\"c\"",
	    17, count_lines, &got), 0);
	assert_string_equal(got.s, "{\"a\":1}|{\"b\":2}|");
	assert_string_equal(acc.s, "{\"c\"");
	lr_buf_release(&acc);
	lr_buf_release(&got);
}

static void
test_http_check(void **state)
{
	struct lr_err err;
	json_t *j;

	j = js("{\"error\":\"etcdserver: invalid auth token\",\"message\":"
	    "\"etcdserver: invalid auth token\",\"code\":16}");
	assert_int_equal(etcd_http_check(401, j, NULL, 0, "put '/k'",
	    "http://a:1", &err), ETCD_HTTP_REAUTH);
	assert_int_equal(err.code, LR_EAUTH);
	json_decref(j);

	j = js("{\"error\":\"etcdserver: authentication failed, invalid user "
	    "ID or password\",\"message\":\"etcdserver: authentication "
	    "failed, invalid user ID or password\",\"code\":3}");
	assert_int_equal(etcd_http_check(400, j, NULL, 0, "authenticate as "
	    "'root'", "http://a:1", &err), ETCD_HTTP_FAIL);
	assert_int_equal(err.code, LR_EAUTH);
	json_decref(j);

	j = js("{\"error\":\"etcdserver: permission denied\",\"message\":"
	    "\"etcdserver: permission denied\",\"code\":7}");
	assert_int_equal(etcd_http_check(403, j, NULL, 0, "put '/k'",
	    "http://a:1", &err), ETCD_HTTP_FAIL);
	assert_int_equal(err.code, LR_EPERM);
	assert_string_equal(err.msg, "etcd put '/k' at 'http://a:1': "
	    "etcdserver: permission denied (code 7)");
	assert_true(err.hint[0] != '\0');
	json_decref(j);

	j = js("{\"error\":\"etcdserver: request is too large\",\"message\":"
	    "\"etcdserver: request is too large\",\"code\":3}");
	assert_int_equal(etcd_http_check(400, j, NULL, 0, "put '/k'",
	    "http://a:1", &err), ETCD_HTTP_FAIL);
	assert_int_equal(err.code, LR_ETOOBIG);
	json_decref(j);

	j = js("{\"error\":\"etcdserver: no leader\",\"message\":"
	    "\"etcdserver: no leader\",\"code\":14}");
	assert_int_equal(etcd_http_check(503, j, NULL, 0, "put '/k'",
	    "http://a:1", &err), ETCD_HTTP_NEXT);
	json_decref(j);

	assert_int_equal(etcd_http_check(502, NULL, "<html>bad gateway",
	    17, "put '/k'", "http://a:1", &err), ETCD_HTTP_FAIL);
	assert_int_equal(err.code, LR_EETCD);
	assert_non_null(strstr(err.msg, "HTTP 502"));

	j = js("{\"header\":{}}");
	assert_int_equal(etcd_http_check(200, j, NULL, 0, "put '/k'",
	    "http://a:1", &err), ETCD_HTTP_OK);
	json_decref(j);
}

static void
test_conf_parse(void **state)
{
	struct etcd_config cfg;
	struct etcd_conf c;
	struct lr_err err;

	memset(&cfg, 0, sizeof(cfg));
	cfg.endpoints = " http://a:1/ ,https://b:2,,";
	assert_int_equal(etcd_conf_parse(&cfg, &c, &err), 0);
	assert_int_equal(c.nendpoints, 2);
	assert_string_equal(c.endpoints[0], "http://a:1");
	assert_string_equal(c.endpoints[1], "https://b:2");
	assert_int_equal(c.timeout_ms, 5000);
	assert_int_equal(c.connect_timeout_ms, 1000);
	etcd_conf_release(&c);

	cfg.endpoints = "http://a:1,ftp://b";
	assert_int_equal(etcd_conf_parse(&cfg, &c, &err), LR_EINVAL);
	assert_non_null(strstr(err.msg, "'ftp://b'"));
	cfg.endpoints = "a:2379";
	assert_int_equal(etcd_conf_parse(&cfg, &c, &err), LR_EINVAL);
	cfg.endpoints = "http://";
	assert_int_equal(etcd_conf_parse(&cfg, &c, &err), LR_EINVAL);
	cfg.endpoints = "";
	assert_int_equal(etcd_conf_parse(&cfg, &c, &err), LR_EINVAL);
	assert_true(err.hint[0] != '\0');

	/* a unix socket: an absolute path that fits sun_path */
	cfg.endpoints = "unix:///run/x/etcd:2379,http://a:1";
	assert_int_equal(etcd_conf_parse(&cfg, &c, &err), 0);
	assert_string_equal(c.endpoints[0], "unix:///run/x/etcd:2379");
	assert_string_equal(etcd_endpoint_socket(c.endpoints[0]),
	    "/run/x/etcd:2379");
	assert_null(etcd_endpoint_socket(c.endpoints[1]));
	etcd_conf_release(&c);
	cfg.endpoints = "unix://etcd:2379";
	assert_int_equal(etcd_conf_parse(&cfg, &c, &err), LR_EINVAL);
	assert_non_null(strstr(err.msg, "must be absolute"));
	cfg.endpoints = "unix:///"
	    "0123456789012345678901234567890123456789012345678901234567890"
	    "0123456789012345678901234567890123456789012345678901234567890";
	assert_int_equal(etcd_conf_parse(&cfg, &c, &err), LR_EINVAL);
	assert_non_null(strstr(err.msg, "longer than a unix socket"));

	cfg.endpoints = "https://a:1";
	cfg.cacert = "/nonexistent/ca.pem";
	assert_int_equal(etcd_conf_parse(&cfg, &c, &err), LR_EINVAL);
	assert_non_null(strstr(err.msg, "'/nonexistent/ca.pem'"));
	assert_non_null(strstr(err.hint, "--etcd-cacert"));
	cfg.cacert = NULL;
	cfg.cert = "/etc/hostname";
	assert_int_equal(etcd_conf_parse(&cfg, &c, &err), LR_EINVAL);
	assert_non_null(strstr(err.msg, "key"));
}

/* ---- against etcd ----------------------------------------------------- */

static void
test_range(void **state)
{
	struct etcd_range_req req;
	struct etcd_range_result r;
	struct etcd *e = client(shared.endpoints);
	struct lr_err err;
	int64_t rev1;

	rev1 = put(e, "/t/range/a", "1");
	put(e, "/t/range/b", "2");
	put(e, "/t/range/c", "3");
	put(e, "/t/range0", "outside");
	put(e, "/t/range/a", "1b");

	memset(&req, 0, sizeof(req));
	req.key = "/t/range/";
	req.flags = ETCD_PREFIX;
	assert_int_equal(etcd_range(e, &req, &r, &err), 0);
	assert_int_equal(r.nkvs, 3);
	assert_int_equal(r.count, 3);
	assert_string_equal(r.kvs[0].key, "/t/range/a");
	assert_string_equal(r.kvs[0].value, "1b");
	assert_int_equal(r.kvs[0].version, 2);
	assert_string_equal(r.kvs[2].key, "/t/range/c");
	assert_false(r.more);
	assert_true(r.revision > rev1);
	etcd_range_result_release(&r);

	req.flags = ETCD_PREFIX | ETCD_KEYS_ONLY;
	assert_int_equal(etcd_range(e, &req, &r, &err), 0);
	assert_int_equal(r.nkvs, 3);
	assert_string_equal(r.kvs[1].key, "/t/range/b");
	assert_string_equal(r.kvs[1].value, "");
	assert_int_equal(r.kvs[1].value_len, 0);
	etcd_range_result_release(&r);

	req.flags = ETCD_PREFIX | ETCD_COUNT_ONLY;
	assert_int_equal(etcd_range(e, &req, &r, &err), 0);
	assert_int_equal(r.nkvs, 0);
	assert_int_equal(r.count, 3);
	etcd_range_result_release(&r);

	req.flags = ETCD_PREFIX | ETCD_SERIALIZABLE;
	req.limit = 2;
	assert_int_equal(etcd_range(e, &req, &r, &err), 0);
	assert_int_equal(r.nkvs, 2);
	assert_int_equal(r.count, 3);
	assert_true(r.more);
	etcd_range_result_release(&r);

	/* the past: at rev1 only a existed, with its first value */
	req.flags = ETCD_PREFIX;
	req.limit = 0;
	req.revision = rev1;
	assert_int_equal(etcd_range(e, &req, &r, &err), 0);
	assert_int_equal(r.nkvs, 1);
	assert_string_equal(r.kvs[0].value, "1");
	etcd_range_result_release(&r);

	/* a future revision: etcd's error, with the key and endpoint */
	req.revision = rev1 + 1000000;
	assert_int_equal(etcd_range(e, &req, &r, &err), LR_EETCD);
	assert_non_null(strstr(err.msg, "etcd range '/t/range/' at 'http"));
	assert_non_null(strstr(err.msg, "future revision (code 11)"));
	assert_string_equal(etcd_endpoint(e), shared.m[0].url);
	etcd_free(e);
}

static void
test_put_get_delete(void **state)
{
	struct etcd *e = client(shared.endpoints);
	struct etcd_kv kv;
	struct lr_err err;
	int64_t rev, rev2, n;
	char bin[5] = { 'a', '\0', 'b', '\n', '\xff' };

	assert_int_equal(etcd_get(e, "/t/pgd/none", &kv, &rev, &err),
	    LR_ENOENT);
	assert_non_null(strstr(err.msg, "'/t/pgd/none'"));

	assert_int_equal(etcd_put(e, "/t/pgd/bin", bin, sizeof(bin), 0, &rev,
	    &err), 0);
	assert_int_equal(etcd_get(e, "/t/pgd/bin", &kv, &rev2, &err), 0);
	assert_int_equal(kv.value_len, sizeof(bin));
	assert_memory_equal(kv.value, bin, sizeof(bin));
	assert_int_equal(kv.mod_revision, rev);
	assert_int_equal(kv.create_revision, rev);
	assert_int_equal(kv.version, 1);
	assert_true(rev2 >= rev);
	etcd_kv_release(&kv);

	put(e, "/t/pgd/p/1", "x");
	put(e, "/t/pgd/p/2", "y");
	put(e, "/t/pgd/p2", "z");
	assert_int_equal(etcd_delete(e, "/t/pgd/p/", ETCD_PREFIX |
	    ETCD_PREV_KV, &n, &rev, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(etcd_get(e, "/t/pgd/p2", &kv, NULL, &err), 0);
	etcd_kv_release(&kv);
	assert_int_equal(etcd_delete(e, "/t/pgd/p2", 0, &n, NULL, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(etcd_delete(e, "/t/pgd/p2", 0, &n, NULL, &err), 0);
	assert_int_equal(n, 0);
	etcd_free(e);
}

/* run a txn with one compare; THEN puts then, ELSE reads the key */
static bool
txn_cmp(struct etcd *e, const char *key, enum etcd_cmp_target tg,
    enum etcd_cmp_result res, int64_t v, const char *val,
    struct etcd_txn_result *out)
{
	struct etcd_range_req rr = { key, 0, 0, 0, NULL };
	struct etcd_txn t;
	struct lr_err err;

	etcd_txn_init(&t);
	if (tg == ETCD_CMP_VALUE)
		etcd_txn_cmp_value(&t, key, res, val, strlen(val));
	else
		etcd_txn_cmp_int(&t, key, tg, res, v);
	etcd_txn_put(&t, ETCD_THEN, "/t/txn/then", "ran", 3, 0);
	etcd_txn_range(&t, ETCD_ELSE, &rr);
	if (etcd_txn_commit(e, &t, out, &err) < 0)
		fail_msg("txn: %s", err.msg);
	etcd_txn_release(&t);
	return out->succeeded;
}

/* Whether no key under prefix has a mod revision >= below. */
static bool
txn_prefix(struct etcd *e, const char *prefix, int64_t below)
{
	struct etcd_txn_result r = { 0 };
	struct etcd_txn t;
	struct lr_err err;
	bool ok;

	etcd_txn_init(&t);
	etcd_txn_cmp_prefix_int(&t, prefix, ETCD_CMP_MOD, ETCD_CMP_LESS,
	    below);
	if (etcd_txn_commit(e, &t, &r, &err) < 0)
		fail_msg("txn: %s", err.msg);
	ok = r.succeeded;
	etcd_txn_result_release(&r);
	etcd_txn_release(&t);
	return ok;
}

static void
test_txn(void **state)
{
	struct etcd *e = client(shared.endpoints);
	struct etcd_txn_result r;
	struct etcd_txn t;
	struct lr_err err;
	int64_t rev;

	rev = put(e, "/t/txn/k", "v1");
	put(e, "/t/txn/k", "v2");	/* version 2, create rev, mod rev+1 */

	assert_true(txn_cmp(e, "/t/txn/k", ETCD_CMP_VALUE, ETCD_CMP_EQUAL, 0,
	    "v2", &r));
	assert_int_equal(r.nops, 1);
	assert_int_equal(r.ops[0].kind, ETCD_OP_PUT);
	etcd_txn_result_release(&r);

	assert_false(txn_cmp(e, "/t/txn/k", ETCD_CMP_VALUE, ETCD_CMP_EQUAL, 0,
	    "v1", &r));
	/* the else branch hands back the current value */
	assert_int_equal(r.nops, 1);
	assert_int_equal(r.ops[0].kind, ETCD_OP_RANGE);
	assert_int_equal(r.ops[0].range.nkvs, 1);
	assert_string_equal(r.ops[0].range.kvs[0].value, "v2");
	assert_int_equal(r.ops[0].range.kvs[0].mod_revision, rev + 1);
	etcd_txn_result_release(&r);

	assert_true(txn_cmp(e, "/t/txn/k", ETCD_CMP_VERSION, ETCD_CMP_EQUAL,
	    2, NULL, &r));
	etcd_txn_result_release(&r);
	assert_false(txn_cmp(e, "/t/txn/k", ETCD_CMP_VERSION, ETCD_CMP_GREATER,
	    2, NULL, &r));
	etcd_txn_result_release(&r);
	assert_true(txn_cmp(e, "/t/txn/k", ETCD_CMP_CREATE, ETCD_CMP_EQUAL,
	    rev, NULL, &r));
	etcd_txn_result_release(&r);
	assert_false(txn_cmp(e, "/t/txn/k", ETCD_CMP_CREATE, ETCD_CMP_LESS,
	    rev, NULL, &r));
	etcd_txn_result_release(&r);
	assert_true(txn_cmp(e, "/t/txn/k", ETCD_CMP_MOD, ETCD_CMP_EQUAL,
	    rev + 1, NULL, &r));
	etcd_txn_result_release(&r);
	assert_false(txn_cmp(e, "/t/txn/k", ETCD_CMP_MOD, ETCD_CMP_NOT_EQUAL,
	    rev + 1, NULL, &r));
	etcd_txn_result_release(&r);
	/* create-if-absent */
	assert_true(txn_cmp(e, "/t/txn/absent", ETCD_CMP_CREATE,
	    ETCD_CMP_EQUAL, 0, NULL, &r));
	etcd_txn_result_release(&r);
	/* ELSE on a missing key: a range with nothing in it */
	assert_false(txn_cmp(e, "/t/txn/absent", ETCD_CMP_VERSION,
	    ETCD_CMP_GREATER, 0, NULL, &r));
	assert_int_equal(r.ops[0].range.nkvs, 0);
	etcd_txn_result_release(&r);

	/* several ops, delete counts */
	etcd_txn_init(&t);
	etcd_txn_put(&t, ETCD_THEN, "/t/txn/m/1", "1", 1, 0);
	etcd_txn_put(&t, ETCD_THEN, "/t/txn/m/2", "2", 1, 0);
	etcd_txn_delete(&t, ETCD_THEN, "/t/txn/then", 0);
	assert_int_equal(etcd_txn_commit(e, &t, &r, &err), 0);
	assert_true(r.succeeded);
	assert_int_equal(r.nops, 3);
	assert_int_equal(r.ops[2].kind, ETCD_OP_DELETE);
	assert_int_equal(r.ops[2].deleted, 1);
	etcd_txn_result_release(&r);
	etcd_txn_release(&t);

	/* a range compare: no key under the prefix changed after rev */
	put(e, "/t/txn/p/a", "1");
	rev = put(e, "/t/txn/p/b", "2");
	assert_true(txn_prefix(e, "/t/txn/p/", rev + 1));
	assert_true(txn_prefix(e, "/t/txn/nothing/", 1));	/* empty */
	put(e, "/t/txn/p/c", "3");			/* made after rev */
	assert_false(txn_prefix(e, "/t/txn/p/", rev + 1));
	/* the prefix ends where it says: /t/txn/pq is not under it */
	rev = put(e, "/t/txn/pq", "4");
	assert_true(txn_prefix(e, "/t/txn/p/", rev));
	etcd_free(e);
}

static void
test_lease(void **state)
{
	struct etcd *e = client(shared.endpoints);
	struct etcd_kv kv;
	struct lr_err err;
	int64_t id, ttl, granted;

	assert_int_equal(etcd_lease_grant(e, 30, &id, &err), 0);
	assert_true(id != 0);
	assert_int_equal(etcd_put(e, "/t/lease/k", "up", 2, id, NULL, &err),
	    0);
	assert_int_equal(etcd_get(e, "/t/lease/k", &kv, NULL, &err), 0);
	assert_int_equal(kv.lease, id);
	etcd_kv_release(&kv);
	assert_int_equal(etcd_lease_ttl(e, id, &ttl, &granted, &err), 0);
	assert_true(ttl > 0 && ttl <= 30);
	assert_int_equal(granted, 30);
	assert_int_equal(etcd_lease_keepalive(e, id, &ttl, &err), 0);
	assert_int_equal(ttl, 30);

	assert_int_equal(etcd_lease_revoke(e, id, &err), 0);
	assert_int_equal(etcd_get(e, "/t/lease/k", &kv, NULL, &err),
	    LR_ENOENT);
	assert_int_equal(etcd_lease_keepalive(e, id, &ttl, &err), 0);
	assert_int_equal(ttl, 0);
	assert_int_equal(etcd_lease_ttl(e, id, &ttl, &granted, &err), 0);
	assert_int_equal(ttl, -1);
	/* revoking twice: etcd's "lease not found" */
	assert_int_equal(etcd_lease_revoke(e, id, &err), LR_ENOENT);
	assert_non_null(strstr(err.msg, "lease not found"));
	etcd_free(e);
}

/* ---- watch ------------------------------------------------------------ */

struct seen {
	char	*keys[64];
	int	 types[64];
	int64_t	 revs[64];
	char	*prev[64];
	size_t	 n, want;
	int	 nprogress, nresync, ndisc;
	char	*resync[16];
	size_t	 nresync_kvs;
	int64_t	 resync_rev, compact_rev;
	/* for the resume test */
	struct th_etcd *h;
	struct etcd *writer;
	bool	 restarted;
};

static void
seen_release(struct seen *s)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		free(s->keys[i]);
		free(s->prev[i]);
	}
	for (i = 0; i < s->nresync_kvs; i++)
		free(s->resync[i]);
}

static int
collect_cb(const struct etcd_watch_batch *b, void *arg)
{
	struct seen *s = arg;
	size_t i;

	switch (b->kind) {
	case ETCD_WATCH_EVENTS:
		for (i = 0; i < b->nevents && s->n < 64; i++) {
			s->keys[s->n] = lr_xstrdup(b->events[i].kv.key);
			s->types[s->n] = b->events[i].type;
			s->revs[s->n] = b->events[i].kv.mod_revision;
			s->prev[s->n] = b->events[i].prev_kv.key ?
			    lr_xasprintf("%s=%s", b->events[i].prev_kv.key,
			    b->events[i].prev_kv.value) : NULL;
			s->n++;
		}
		break;
	case ETCD_WATCH_PROGRESS:
		s->nprogress++;
		break;
	case ETCD_WATCH_RESYNC:
		s->nresync++;
		s->resync_rev = b->revision;
		s->compact_rev = b->compact_revision;
		for (i = 0; i < b->nkvs && s->nresync_kvs < 16; i++)
			s->resync[s->nresync_kvs++] = lr_xasprintf("%s=%s",
			    b->kvs[i].key, b->kvs[i].value);
		break;
	case ETCD_WATCH_DISCONNECTED:
		s->ndisc++;
		assert_non_null(b->err);
		assert_true(b->err->msg[0] != '\0');
		break;
	}
	return s->n >= s->want ? 1 : 0;
}

static void
test_watch(void **state)
{
	struct etcd *e = client(shared.endpoints);
	struct etcd_watch_req wr;
	struct seen s;
	struct lr_err err;
	struct etcd_txn t;
	struct etcd_txn_result tr;
	int64_t rev;
	long t0;

	rev = put(e, "/t/watch/a", "1");
	put(e, "/t/watch/b", "2");
	put(e, "/t/watchx", "outside");
	/* two keys in one txn: one message, two events */
	etcd_txn_init(&t);
	etcd_txn_put(&t, ETCD_THEN, "/t/watch/c", "3", 1, 0);
	etcd_txn_delete(&t, ETCD_THEN, "/t/watch/a", 0);
	assert_int_equal(etcd_txn_commit(e, &t, &tr, &err), 0);
	etcd_txn_result_release(&tr);
	etcd_txn_release(&t);

	memset(&s, 0, sizeof(s));
	s.want = 4;
	memset(&wr, 0, sizeof(wr));
	wr.key = "/t/watch/";
	wr.flags = ETCD_PREFIX | ETCD_PREV_KV;
	wr.start_revision = rev;
	assert_int_equal(etcd_watch(e, &wr, 5000, collect_cb, &s, &err), 1);
	assert_int_equal(s.n, 4);
	assert_string_equal(s.keys[0], "/t/watch/a");
	assert_string_equal(s.keys[1], "/t/watch/b");
	assert_string_equal(s.keys[2], "/t/watch/c");
	assert_string_equal(s.keys[3], "/t/watch/a");
	assert_int_equal(s.types[3], ETCD_EV_DELETE);
	assert_string_equal(s.prev[3], "/t/watch/a=1");
	assert_null(s.prev[0]);
	assert_int_equal(s.revs[0], rev);
	assert_true(s.revs[1] < s.revs[2]);
	assert_int_equal(s.revs[2], s.revs[3]);
	seen_release(&s);

	/* nothing happens: the caller's timeout, on time */
	memset(&s, 0, sizeof(s));
	s.want = 1;
	wr.start_revision = 0;
	t0 = lr_now_ms();
	assert_int_equal(etcd_watch(e, &wr, 300, collect_cb, &s, &err),
	    LR_ECANCELED);
	assert_true(lr_now_ms() - t0 >= 290);
	assert_true(lr_now_ms() - t0 < 1500);
	assert_int_equal(s.n, 0);
	seen_release(&s);

	/* the client still works after a watch */
	put(e, "/t/watch/after", "ok");
	etcd_free(e);
}

/* on RESYNC, writes one more key with a second client */
static int
resync_cb(const struct etcd_watch_batch *b, void *arg)
{
	struct seen *s = arg;

	if (b->kind == ETCD_WATCH_RESYNC)
		put(s->writer, "/t/cw/c", "4");
	return collect_cb(b, arg);
}

static void
test_watch__compacted_resync(void **state)
{
	struct etcd *e = client(shared.endpoints);
	struct etcd *w = client(shared.endpoints);
	struct etcd_watch_req wr;
	struct seen s;
	struct lr_err err;
	int64_t r1, last, n;

	r1 = put(e, "/t/cw/a", "1");
	put(e, "/t/cw/b", "2");
	put(e, "/t/cw/a", "3");
	assert_int_equal(etcd_delete(e, "/t/cw/b", 0, &n, &last, &err), 0);
	assert_int_equal(etcd_compact(e, last, &err), 0);

	/*
	 * From r1, now compacted: RESYNC with today's state, then the
	 * events after it, none twice.
	 */
	memset(&s, 0, sizeof(s));
	s.want = 1;
	s.writer = e;
	memset(&wr, 0, sizeof(wr));
	wr.key = "/t/cw/";
	wr.flags = ETCD_PREFIX;
	wr.start_revision = r1;
	assert_int_equal(etcd_watch(w, &wr, 5000, resync_cb, &s, &err), 1);
	assert_int_equal(s.nresync, 1);
	assert_int_equal(s.nresync_kvs, 1);
	assert_string_equal(s.resync[0], "/t/cw/a=3");
	assert_true(s.resync_rev >= last);
	assert_true(s.compact_rev >= last);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.keys[0], "/t/cw/c");
	assert_true(s.revs[0] > s.resync_rev);
	seen_release(&s);
	etcd_free(e);
	etcd_free(w);
}

/* ---- watch: deadline, stop flag, tick, range end --------------------- */

static atomic_int stop_flag;

static void
on_usr1(int sig)
{
	(void)sig;
	stop_flag = 1;
}

struct ticks {
	int	 n;		/* ticks seen */
	int	 nconnected;	/* ... with the stream open */
	int	 raise_at;	/* raise SIGUSR1 at this tick (0: never) */
	long	 raised_ms;	/* when it did */
	struct seen *s;
};

static int
tick_cb(bool connected, void *arg)
{
	struct ticks *t = arg;

	t->n++;
	t->nconnected += connected;
	if (t->n == t->raise_at) {
		t->raised_ms = lr_now_ms();
		raise(SIGUSR1);		/* the handler sets stop_flag */
	}
	return 0;
}

/* the batches of a watch whose tick shares arg: struct ticks */
static int
tick_collect_cb(const struct etcd_watch_batch *b, void *arg)
{
	return collect_cb(b, ((struct ticks *)arg)->s);
}

static void
test_watch__deadline_stop_tick(void **state)
{
	struct etcd *e = client(shared.endpoints);
	struct etcd_watch_req wr = { "/t/stop/", ETCD_PREFIX, 0, NULL };
	struct etcd_watch_opts o;
	struct sigaction sa, old;
	struct seen s;
	struct ticks t;
	struct lr_err err;
	long t0, took;

	/* quiet prefix: the deadline ends it, on time, ticking meanwhile */
	memset(&s, 0, sizeof(s));
	memset(&t, 0, sizeof(t));
	s.want = 1;
	t.s = &s;
	memset(&o, 0, sizeof(o));
	o.timeout_ms = 400;
	o.tick_ms = 50;
	o.tick = tick_cb;
	lr_err_clear(&err);
	t0 = lr_now_ms();
	assert_int_equal(etcd_watch_run(e, &wr, &o, tick_collect_cb, &t,
	    &err), LR_ECANCELED);
	took = lr_now_ms() - t0;
	assert_true(took >= 390);
	assert_true(took < 1500);
	assert_non_null(strstr(err.msg, "watch '/t/stop/'"));
	assert_non_null(strstr(err.msg, "no more events in 400 ms"));
	assert_true(t.n >= 3);
	assert_true(t.nconnected >= 1);	/* the stream opened */
	assert_int_equal(s.n, 0);
	seen_release(&s);

	/* a signal handler sets the flag: the watch ends within ~100 ms */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGUSR1, &sa, &old), 0);
	stop_flag = 0;
	memset(&s, 0, sizeof(s));
	memset(&t, 0, sizeof(t));
	s.want = 1;
	t.s = &s;
	t.raise_at = 2;
	memset(&o, 0, sizeof(o));
	o.timeout_ms = 10000;	/* a bound, not the way out */
	o.stop = &stop_flag;
	o.tick_ms = 50;
	o.tick = tick_cb;
	lr_err_clear(&err);
	assert_int_equal(etcd_watch_run(e, &wr, &o, tick_collect_cb, &t,
	    &err), LR_ECANCELED);
	took = lr_now_ms() - t.raised_ms;
	assert_true(t.raised_ms > 0);
	assert_true(took < 1000);
	assert_non_null(strstr(err.msg, "stopped"));
	seen_release(&s);

	/* a flag set before the watch: it does not start */
	assert_int_equal(etcd_watch_run(e, &wr, &o, tick_collect_cb, &t,
	    &err), LR_ECANCELED);
	assert_int_equal(sigaction(SIGUSR1, &old, NULL), 0);
	stop_flag = 0;

	/* the client still works after both */
	put(e, "/t/stop/after", "ok");
	etcd_free(e);
}

static int
stop_at_resync_cb(const struct etcd_watch_batch *b, void *arg)
{
	collect_cb(b, arg);
	return b->kind == ETCD_WATCH_RESYNC ? 1 : 0;
}

static void
test_watch__range_end(void **state)
{
	struct etcd *e = client(shared.endpoints);
	struct etcd_watch_req wr;
	struct seen s;
	struct lr_err err;
	int64_t r1, last;

	/* watch [/t/re/a/, /t/re/b0): a/ and b/, not c/ nor /t/re/0 */
	r1 = put(e, "/t/re/a/1", "1");
	put(e, "/t/re/c/1", "out");
	put(e, "/t/re/0", "out");
	put(e, "/t/re/b/1", "2");
	put(e, "/t/re/a", "3");		/* sorts before /t/re/a/: out */
	last = put(e, "/t/re/a/1", "4");

	memset(&s, 0, sizeof(s));
	s.want = 3;
	memset(&wr, 0, sizeof(wr));
	wr.key = "/t/re/a/";
	wr.range_end = "/t/re/b0";
	wr.start_revision = r1;
	assert_int_equal(etcd_watch(e, &wr, 5000, collect_cb, &s, &err), 1);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.keys[0], "/t/re/a/1");
	assert_string_equal(s.keys[1], "/t/re/b/1");
	assert_string_equal(s.keys[2], "/t/re/a/1");
	assert_int_equal(s.revs[2], last);
	seen_release(&s);

	/* compacted: the re-list covers the same range */
	assert_int_equal(etcd_compact(e, last, &err), 0);
	memset(&s, 0, sizeof(s));
	s.want = 1;
	assert_int_equal(etcd_watch(e, &wr, 5000, stop_at_resync_cb, &s,
	    &err), 1);
	assert_int_equal(s.nresync, 1);
	assert_int_equal(s.nresync_kvs, 2);
	assert_string_equal(s.resync[0], "/t/re/a/1=4");
	assert_string_equal(s.resync[1], "/t/re/b/1=2");
	seen_release(&s);
	etcd_free(e);
}

/* stops the member after 3 events; brings it back while disconnected */
static int
resume_cb(const struct etcd_watch_batch *b, void *arg)
{
	struct seen *s = arg;
	char k[32];
	int i;

	if (b->kind == ETCD_WATCH_DISCONNECTED && !s->restarted) {
		s->restarted = true;
		assert_int_equal(th_etcd_restart_member(s->h, 0), 0);
		for (i = 4; i <= 6; i++) {
			snprintf(k, sizeof(k), "/t/resume/k%d", i);
			put(s->writer, k, "v");
		}
	}
	if (collect_cb(b, arg) != 0)
		return 1;
	if (b->kind == ETCD_WATCH_EVENTS && s->n == 3 && !s->restarted)
		assert_int_equal(th_etcd_stop_member(s->h, 0, false), 0);
	return 0;
}

static void
test_watch__resume_after_restart(void **state)
{
	struct th_etcd h;
	struct etcd *e, *w;
	struct etcd_watch_req wr;
	struct seen s;
	struct lr_err err;
	int64_t rev;
	size_t i;
	char k[32];

	assert_int_equal(th_etcd_start(&h, 1, 0), 0);
	e = client(h.endpoints);
	w = client(h.endpoints);
	rev = put(e, "/t/resume/k1", "v");
	put(e, "/t/resume/k2", "v");
	put(e, "/t/resume/k3", "v");

	memset(&s, 0, sizeof(s));
	s.want = 6;
	s.h = &h;
	s.writer = e;
	memset(&wr, 0, sizeof(wr));
	wr.key = "/t/resume/";
	wr.flags = ETCD_PREFIX;
	wr.start_revision = rev;
	assert_int_equal(etcd_watch(w, &wr, 15000, resume_cb, &s, &err), 1);
	assert_true(s.restarted);
	assert_true(s.ndisc >= 1);
	/* every event once, in order */
	assert_int_equal(s.n, 6);
	for (i = 0; i < 6; i++) {
		snprintf(k, sizeof(k), "/t/resume/k%zu", i + 1);
		assert_string_equal(s.keys[i], k);
		if (i > 0)
			assert_true(s.revs[i] == s.revs[i - 1] + 1);
	}
	seen_release(&s);
	etcd_free(e);
	etcd_free(w);
	th_etcd_stop(&h);
}

/* ---- auth ------------------------------------------------------------- */

static void
test_auth(void **state)
{
	struct etcd_config cfg;
	struct th_etcd h;
	struct etcd *e;
	struct etcd_kv kv;
	struct etcd_watch_req wr = { "/t/secret/", ETCD_PREFIX, 0, NULL };
	struct seen s;
	struct lr_err err;
	char *ans, *body, *k1, *k2;
	long st;

	/* simple tokens live 1 s: long enough to see them expire */
	assert_int_equal(th_etcd_start_args(&h, 1, TH_AUTH,
	    "--auth-token-ttl 1"), 0);
	memset(&cfg, 0, sizeof(cfg));
	cfg.endpoints = h.endpoints;

	/* no credentials */
	e = client_cfg(&cfg);
	assert_int_equal(etcd_put(e, "/t/a", "1", 1, 0, NULL, &err),
	    LR_EAUTH);
	assert_non_null(strstr(err.msg, "user name is empty"));
	assert_non_null(strstr(err.hint, "user and password"));
	etcd_free(e);

	/* wrong password */
	cfg.user = "root";
	cfg.password = "nope";
	e = client_cfg(&cfg);
	assert_int_equal(etcd_put(e, "/t/a", "1", 1, 0, NULL, &err),
	    LR_EAUTH);
	assert_non_null(strstr(err.msg, "etcd authenticate as 'root' at "));
	assert_non_null(strstr(err.msg, "authentication failed"));
	assert_true(err.hint[0] != '\0');
	/* the authentication's own words, not after "put '/t/a': " */
	assert_true(strncmp(err.msg, "etcd authenticate as 'root' at ",
	    31) == 0);
	memset(&s, 0, sizeof(s));
	s.want = 1;
	assert_int_equal(etcd_watch(e, &wr, 5000, collect_cb, &s, &err),
	    LR_EAUTH);
	assert_true(strncmp(err.msg, "etcd authenticate as 'root' at ",
	    31) == 0);
	seen_release(&s);
	etcd_free(e);

	/* right password, then the token expires and is renewed */
	cfg.password = "rootpw";
	e = client_cfg(&cfg);
	put(e, "/t/a", "1");
	sleep(2);
	put(e, "/t/a", "2");
	assert_int_equal(etcd_get(e, "/t/a", &kv, NULL, &err), 0);
	assert_string_equal(kv.value, "2");
	etcd_kv_release(&kv);
	etcd_free(e);

	/* RBAC: user u reads /t/ro/ only */
	k1 = etcd_b64_encode("/t/ro/", 6);
	k2 = etcd_b64_encode("/t/ro0", 6);
	body = lr_xasprintf("{\"name\":\"ro\",\"perm\":{\"permType\":\"READ\","
	    "\"key\":\"%s\",\"range_end\":\"%s\"}}", k1, k2);
	free(th_etcd_post(&h, 0, "/v3/auth/role/add", "{\"name\":\"ro\"}",
	    &st));
	ans = th_etcd_post(&h, 0, "/v3/auth/role/grant", body, &st);
	assert_int_equal(st, 200);
	free(ans);
	free(th_etcd_post(&h, 0, "/v3/auth/user/add",
	    "{\"name\":\"u\",\"password\":\"upw\"}", &st));
	assert_int_equal(st, 200);
	free(th_etcd_post(&h, 0, "/v3/auth/user/grant",
	    "{\"user\":\"u\",\"role\":\"ro\"}", &st));
	assert_int_equal(st, 200);
	free(body);
	free(k1);
	free(k2);

	cfg.user = "u";
	cfg.password = "upw";
	e = client_cfg(&cfg);
	assert_int_equal(etcd_get(e, "/t/ro/x", &kv, NULL, &err), LR_ENOENT);
	assert_int_equal(etcd_put(e, "/t/ro/x", "1", 1, 0, NULL, &err),
	    LR_EPERM);
	assert_non_null(strstr(err.msg, "etcd put '/t/ro/x' at "));
	assert_non_null(strstr(err.msg, "permission denied (code 7)"));
	assert_int_equal(etcd_get(e, "/t/secret/x", &kv, NULL, &err),
	    LR_EPERM);
	memset(&s, 0, sizeof(s));
	s.want = 1;
	assert_int_equal(etcd_watch(e, &wr, 3000, collect_cb, &s, &err),
	    LR_EPERM);
	assert_non_null(strstr(err.msg, "watch '/t/secret/'"));
	seen_release(&s);
	etcd_free(e);
	th_etcd_stop(&h);
}

/* ---- TLS -------------------------------------------------------------- */

static void
test_tls(void **state)
{
	struct etcd_config cfg;
	struct th_etcd h;
	struct etcd *e;
	struct etcd_kv kv;
	struct lr_err err;
	char *plain;

	/* mTLS and auth: the gateway's CommonName trap is in play */
	assert_int_equal(th_etcd_start(&h, 1, TH_TLS | TH_CLIENT_CERT |
	    TH_AUTH), 0);
	memset(&cfg, 0, sizeof(cfg));
	cfg.endpoints = h.endpoints;
	cfg.user = "root";
	cfg.password = "rootpw";
	cfg.cacert = h.cacert;
	cfg.cert = h.cert;
	cfg.key = h.key;
	e = client_cfg(&cfg);
	put(e, "/t/tls", "secure");
	assert_int_equal(etcd_get(e, "/t/tls", &kv, NULL, &err), 0);
	assert_string_equal(kv.value, "secure");
	etcd_kv_release(&kv);
	etcd_free(e);

	/* a CA that did not sign etcd's certificate */
	cfg.cacert = h.othercacert;
	e = client_cfg(&cfg);
	assert_int_equal(etcd_put(e, "/t/tls", "x", 1, 0, NULL, &err),
	    LR_ETLS);
	assert_non_null(strstr(err.msg, h.m[0].url));
	assert_non_null(strstr(err.hint, "--etcd-cacert"));
	etcd_free(e);

	/* no client certificate */
	cfg.cacert = h.cacert;
	cfg.cert = cfg.key = NULL;
	e = client_cfg(&cfg);
	if (etcd_put(e, "/t/tls", "x", 1, 0, NULL, &err) != LR_ETLS)
		fail_msg("no client cert: %d %s", err.code, err.msg);
	assert_non_null(strstr(err.hint, "--etcd-cert"));
	etcd_free(e);

	/* a client certificate with a CN: the gateway refuses it */
	cfg.cert = h.cncert;
	cfg.key = h.cnkey;
	e = client_cfg(&cfg);
	if (etcd_put(e, "/t/tls", "x", 1, 0, NULL, &err) != LR_ETLS)
		fail_msg("CN cert: %d %s", err.code, err.msg);
	assert_non_null(strstr(err.msg, "CommonName"));
	assert_non_null(strstr(err.hint, "without CN"));
	etcd_free(e);

	/* plain HTTP to the TLS port */
	assert_int_equal(strncmp(h.endpoints, "https://", 8), 0);
	plain = lr_xasprintf("http://%s", h.endpoints + 8);
	memset(&cfg, 0, sizeof(cfg));
	cfg.endpoints = plain;
	e = client_cfg(&cfg);
	assert_int_equal(etcd_put(e, "/t/tls", "x", 1, 0, NULL, &err),
	    LR_EUNREACH);
	assert_non_null(strstr(err.msg, "https endpoint"));
	etcd_free(e);
	free(plain);
	th_etcd_stop(&h);
}

/* ---- unreachable, fail-over, limits ----------------------------------- */

/*
 * Endpoints where nobody listens: ports bound (so nobody else takes them)
 * but not listening, so a connect is refused.  Close fds[] afterwards.
 */
static char *
closed_endpoints(int n, int *fds)
{
	struct lr_buf b = LR_BUF_INIT;
	struct sockaddr_in sa;
	socklen_t len;
	int i;

	for (i = 0; i < n; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		assert_true(fds[i] >= 0);
		memset(&sa, 0, sizeof(sa));
		sa.sin_family = AF_INET;
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(sa);
		assert_int_equal(bind(fds[i], (struct sockaddr *)&sa,
		    sizeof(sa)), 0);
		assert_int_equal(getsockname(fds[i], (struct sockaddr *)&sa,
		    &len), 0);
		lr_buf_printf(&b, "%shttp://127.0.0.1:%d", i ? "," : "",
		    ntohs(sa.sin_port));
	}
	return lr_buf_detach(&b, NULL);
}

static void
close_all(int *fds, int n)
{
	int i;

	for (i = 0; i < n; i++)
		close(fds[i]);
}

static void
test_unreachable(void **state)
{
	struct etcd *e;
	struct lr_err err;
	char *eps, *p, *comma;
	int fds[2];

	eps = closed_endpoints(2, fds);
	e = client(eps);
	assert_int_equal(etcd_put(e, "/t/x", "1", 1, 0, NULL, &err),
	    LR_EUNREACH);
	assert_non_null(strstr(err.msg, "cannot reach etcd: tried '"));
	for (p = eps; p; p = comma ? comma + 1 : NULL) {
		char one[64];

		comma = strchr(p, ',');
		snprintf(one, sizeof(one), "'%.*s' (connection refused)",
		    (int)(comma ? comma - p : (long)strlen(p)), p);
		assert_non_null(strstr(err.msg, one));
	}
	assert_non_null(strstr(err.hint, "LEURA_ETCD"));
	etcd_free(e);
	free(eps);
	close_all(fds, 2);
}

/* times and endpoints of a blocking watch's DISCONNECTED batches */
struct disc {
	long	 at[16];
	int	 n;
	const char *second;	/* the second endpoint's URL */
};

static int
disc_cb(const struct etcd_watch_batch *b, void *arg)
{
	struct disc *d = arg;

	assert_int_equal(b->kind, ETCD_WATCH_DISCONNECTED);
	assert_non_null(b->err);
	/* one batch per round of both endpoints: the last one tried */
	if (strstr(b->err->msg, d->second) == NULL)
		fail_msg("not the round's last endpoint: %s", b->err->msg);
	if (d->n < 16)
		d->at[d->n++] = lr_now_ms();
	return 0;
}

/*
 * The blocking watch retries as the old blocking client did: every
 * endpoint at once, then one DISCONNECTED batch and a wait of 50 ms
 * doubling (to 2 s): not the engine's 100 ms to 5 s per attempt.
 */
static void
test_watch__unreachable_backoff(void **state)
{
	struct etcd *e;
	struct etcd_watch_req wr;
	struct disc d;
	struct lr_err err;
	char *eps;
	int fds[2], i;
	long gap;

	eps = closed_endpoints(2, fds);
	e = client(eps);
	memset(&d, 0, sizeof(d));
	d.second = strchr(eps, ',') + 1;
	memset(&wr, 0, sizeof(wr));
	wr.key = "/t/unreach/";
	wr.flags = ETCD_PREFIX;
	assert_int_equal(etcd_watch(e, &wr, 700, disc_cb, &d, &err),
	    LR_ECANCELED);
	/* at 0, 50, 150, 350 ms (then 750: past the deadline) */
	assert_true(d.n >= 3);
	for (i = 1; i < d.n; i++) {
		gap = d.at[i] - d.at[i - 1];
		if (gap < (50L << (i - 1)) - 2 || gap > (50L << (i - 1)) + 45)
			fail_msg("wait %d: %ld ms, not %ld", i, gap,
			    50L << (i - 1));
	}
	etcd_free(e);
	free(eps);
	close_all(fds, 2);
}

static void
test_failover(void **state)
{
	struct th_etcd h;
	struct etcd *e;
	struct etcd_kv kv;
	struct lr_err err;

	assert_int_equal(th_etcd_start(&h, 3, 0), 0);
	e = client(h.endpoints);
	put(e, "/t/fo/a", "1");
	assert_string_equal(etcd_endpoint(e), h.m[0].url);
	assert_int_equal(th_etcd_stop_member(&h, 0, false), 0);
	put(e, "/t/fo/b", "2");
	assert_string_not_equal(etcd_endpoint(e), h.m[0].url);
	assert_int_equal(etcd_get(e, "/t/fo/a", &kv, NULL, &err), 0);
	assert_string_equal(kv.value, "1");
	etcd_kv_release(&kv);
	etcd_free(e);

	e = client(h.m[0].url);
	assert_int_equal(etcd_get(e, "/t/fo/a", &kv, NULL, &err), LR_EUNREACH);
	assert_non_null(strstr(err.msg, h.m[0].url));
	etcd_free(e);
	th_etcd_stop(&h);
}

static void
test_too_big(void **state)
{
	struct etcd *e, *dead;
	struct etcd_txn t;
	struct etcd_txn_result r;
	struct lr_err err;
	char *big, *eps, k[32];
	size_t len = 1200 * 1024;
	int i, fd;

	big = lr_xmalloc(len);
	memset(big, 'x', len);
	/* refused before sending: an unreachable client says so too */
	eps = closed_endpoints(1, &fd);
	dead = client(eps);
	assert_int_equal(etcd_put(dead, "/t/big", big, len, 0, NULL, &err),
	    LR_ETOOBIG);
	assert_non_null(strstr(err.msg, "bytes is over etcd's limit of"));

	etcd_txn_init(&t);
	etcd_txn_put(&t, ETCD_THEN, "/t/big", big, len, 0);
	assert_int_equal(etcd_txn_commit(dead, &t, &r, &err), LR_ETOOBIG);
	etcd_txn_release(&t);

	etcd_txn_init(&t);
	for (i = 0; i < 129; i++) {
		snprintf(k, sizeof(k), "/t/ops/%d", i);
		etcd_txn_put(&t, i % 2 ? ETCD_ELSE : ETCD_THEN, k, "1", 1, 0);
	}
	assert_int_equal(etcd_txn_commit(dead, &t, &r, &err), LR_ETOOBIG);
	assert_non_null(strstr(err.msg, "129 operations"));
	etcd_txn_release(&t);
	etcd_free(dead);
	free(eps);
	close(fd);

	/* just under our limit, etcd takes it */
	e = client(shared.endpoints);
	assert_int_equal(etcd_put(e, "/t/big", big, 1000 * 1024, 0, NULL,
	    &err), 0);
	etcd_free(e);
	free(big);
}

int
main(void)
{
	const struct CMUnitTest pure[] = {
		cmocka_unit_test(test_b64__roundtrip),
		cmocka_unit_test(test_b64__bad_input),
		cmocka_unit_test(test_prefix_end),
		cmocka_unit_test(test_encoders),
		cmocka_unit_test(test_decode__range),
		cmocka_unit_test(test_decode__txn_and_leases),
		cmocka_unit_test(test_decode__watch_lines),
		cmocka_unit_test(test_lines_feed),
		cmocka_unit_test(test_http_check),
		cmocka_unit_test(test_conf_parse),
		cmocka_unit_test(test_unreachable),
		cmocka_unit_test(test_watch__unreachable_backoff),
	};
	const struct CMUnitTest live[] = {
		cmocka_unit_test(test_range),
		cmocka_unit_test(test_put_get_delete),
		cmocka_unit_test(test_txn),
		cmocka_unit_test(test_lease),
		cmocka_unit_test(test_watch),
		cmocka_unit_test(test_watch__compacted_resync),
		cmocka_unit_test(test_watch__deadline_stop_tick),
		cmocka_unit_test(test_watch__range_end),
		cmocka_unit_test(test_too_big),
		cmocka_unit_test(test_watch__resume_after_restart),
		cmocka_unit_test(test_auth),
		cmocka_unit_test(test_tls),
		cmocka_unit_test(test_failover),
	};
	int rc;

	rc = cmocka_run_group_tests_name("etcd_pure", pure, NULL, NULL);
	if (!th_etcd_available()) {
		fprintf(stderr, "SKIP: no etcd binary; install etcd-server\n");
		return rc ? rc : 77;
	}
	rc |= cmocka_run_group_tests_name("etcd_live", live, grp_setup,
	    grp_teardown);
	return rc;
}
