/*
 * Unit tests of the read module's pure parts (server/read-int.h): the
 * status snapshot built from raw etcd values (committed document per
 * host, tombstones, uncommitted generations, ETags, gauges), its
 * filtered forms, and the events query helpers.  No etcd, no sockets.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "read-int.h"

#define NOW 1800000000

/* The values of a small fleet at generation 2 (head), prefix /t. */
struct fleet {
	struct rd_val	*v[16];
	size_t		 n;
};

static void
add(struct fleet *f, const char *key, const char *val, int64_t rev)
{
	f->v[f->n++] = rd_val_new(key, val, strlen(val), rev);
}

static void
fleet_init(struct fleet *f)
{
	memset(f, 0, sizeof(*f));
	add(f, "/t/fleet", "{\"name\":\"shop\"}", 2);
	add(f, "/t/desired/head", "{\"generation\":2,\"deploy\":7,"
	    "\"commit\":\"abc\"}", 10);
	/* web1: gen 1 superseded by gen 2; gen 3 is not committed */
	add(f, "/t/desired/hosts/web1/000000000001/aa", "{\"generation\":1,"
	    "\"services\":[\"old\"],\"steps\":[]}", 3);
	add(f, "/t/desired/hosts/web1/000000000002/bb", "{\"generation\":2,"
	    "\"services\":[\"web\"],\"steps\":[{\"id\":\"x\"}],"
	    "\"depends_on\":{\"web\":[\"db\"]}}", 9);
	add(f, "/t/desired/hosts/web1/000000000003/cc", "{\"generation\":3,"
	    "\"services\":[\"new\"]}", 11);
	add(f, "/t/desired/hosts/db1/000000000001/dd", "{\"generation\":1,"
	    "\"services\":[\"db\"]}", 4);
	/* gone1 was removed: its tombstone wins */
	add(f, "/t/desired/hosts/gone1/000000000001/ee", "{\"generation\":1,"
	    "\"services\":[\"db\"]}", 5);
	add(f, "/t/desired/hosts/gone1/000000000002/removed",
	    "{\"generation\":2,\"removed\":true}", 8);
	add(f, "/t/observed/web1", "{\"generation\":2,\"state\":\"failed\","
	    "\"failed_steps\":[{\"id\":\"web/r/converge/x\",\"exit\":3}]}",
	    12);
	add(f, "/t/observed/db1", "{\"generation\":1,\"state\":"
	    "\"converged\"}", 6);
	add(f, "/t/agents/web1", "{\"agent\":\"t\"}", 13);
	add(f, "/t/agents/db1", "{\"agent\":\"t\"}", 7);
	/* not JSON: left out */
	add(f, "/t/observed/bad", "{nope", 14);
}

static void
fleet_release(struct fleet *f)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		rd_val_unref(f->v[i]);
}

static const char *
state_of(const json_t *o, const char *kind, const char *name)
{
	return json_string_value(json_object_get(json_object_get(
	    json_object_get(o, kind), name), "state"));
}

static void
test_rd_snap_build__committed_documents(void **state)
{
	struct fleet f;
	struct rd_snap *s;
	json_t *body;
	json_error_t e;

	(void)state;
	fleet_init(&f);
	s = rd_snap_build("/t", f.v, f.n, 20, NOW);
	assert_int_equal(s->generation, 2);
	assert_int_equal(s->head_rev, 10);
	assert_string_equal(json_string_value(s->fleet), "shop");
	/* web1 at generation 2 (not 1, not the uncommitted 3); no gone1 */
	assert_int_equal(json_object_size(s->hosts), 2);
	assert_null(json_object_get(s->hosts, "gone1"));
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	    s->hosts, "web1"), "state")), "failed");
	assert_non_null(json_object_get(s->services, "web"));
	assert_null(json_object_get(s->services, "old"));
	assert_null(json_object_get(s->services, "new"));
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	    s->services, "db"), "state")), "converged");
	/* the served bytes are the whole status, one JSON line */
	assert_int_equal(s->body[s->body_len - 1], '\n');
	body = json_loadb(s->body, s->body_len, 0, &e);
	assert_non_null(body);
	assert_int_equal(json_integer_value(json_object_get(body, "deploy")),
	    7);
	assert_string_equal(json_string_value(json_object_get(body,
	    "commit")), "abc");
	assert_int_equal(json_integer_value(json_object_get(body,
	    "revision")), 20);
	assert_string_equal(state_of(body, "hosts", "db1"), "converged");
	json_decref(body);
	rd_snap_unref(s);
	fleet_release(&f);
}

static void
test_rd_snap_build__etags_and_gauges(void **state)
{
	struct lr_buf b = LR_BUF_INIT;
	struct fleet f;
	struct rd_snap *s;
	int64_t etag = 0;
	json_t *o;

	(void)state;
	fleet_init(&f);
	s = rd_snap_build("/t", f.v, f.n, 20, NOW);
	/* a host's ETag is the newest of its document, report, heartbeat */
	o = rd_snap_one(s, "hosts", "web1", NULL, NULL, &etag);
	assert_non_null(o);
	assert_int_equal(etag, 13);
	assert_string_equal(json_string_value(json_object_get(o, "name")),
	    "web1");
	assert_string_equal(json_string_value(json_array_get(json_object_get(
	    o, "services"), 0)), "web");
	json_decref(o);
	o = rd_snap_one(s, "services", "db", NULL, NULL, &etag);
	assert_int_equal(etag, 7);
	json_decref(o);
	assert_null(rd_snap_one(s, "hosts", "gone1", NULL, NULL, &etag));
	assert_null(rd_snap_one(s, "services", "nope", NULL, NULL, &etag));
	rd_snap_metrics(s, &b);
	assert_non_null(strstr(b.s, "leura_hosts{state=\"failed\"} 1\n"));
	assert_non_null(strstr(b.s, "leura_hosts{state=\"converged\"} 1\n"));
	assert_non_null(strstr(b.s, "leura_services{state=\"failed\"} 1\n"));
	assert_non_null(strstr(b.s, "leura_agents_alive 2\n"));
	assert_non_null(strstr(b.s, "leura_steps_failed 1\n"));
	assert_non_null(strstr(b.s, "leura_generation 2\n"));
	assert_non_null(strstr(b.s, "# TYPE leura_hosts gauge\n"));
	lr_buf_release(&b);
	rd_snap_unref(s);
	fleet_release(&f);
}

/* may: only what arg names ("hosts/db1,services/db"), and "fleet" */
static bool
may_list(const char *kind, const char *name, void *arg)
{
	char want[128];

	snprintf(want, sizeof(want), ",%s/%s,", kind, name);
	return strstr(arg, want) != NULL;
}

static void
test_rd_snap_status__filtered(void **state)
{
	struct fleet f;
	struct rd_snap *s;
	json_t *o;

	(void)state;
	fleet_init(&f);
	s = rd_snap_build("/t", f.v, f.n, 20, NOW);
	o = rd_snap_status(s, may_list, ",services/db,");
	assert_int_equal(json_object_size(json_object_get(o, "hosts")), 0);
	assert_int_equal(json_object_size(json_object_get(o, "services")),
	    1);
	assert_int_equal(json_integer_value(json_object_get(o,
	    "generation")), 2);
	json_decref(o);
	/* nothing readable: not even the fleet's name */
	o = rd_snap_status(s, may_list, ",");
	assert_int_equal(json_object_size(json_object_get(o, "hosts")), 0);
	assert_true(json_is_null(json_object_get(o, "fleet")));
	assert_int_equal(json_integer_value(json_object_get(o,
	    "generation")), 0);
	json_decref(o);
	/* read on fleet alone shows the fleet's fields */
	o = rd_snap_status(s, may_list, ",fleet/,");
	assert_string_equal(json_string_value(json_object_get(o, "fleet")),
	    "shop");
	json_decref(o);
	rd_snap_unref(s);
	fleet_release(&f);
}

/* may: bit i of *arg for the i-th question (hosts, services, fleet) */
static bool
may_bits(const char *kind, const char *name, void *arg)
{
	unsigned *q = arg;
	bool r = (q[0] >> q[1]) & 1;

	(void)kind;
	(void)name;
	q[1]++;
	return r;
}

static void
test_rd_snap_body__cached_per_set(void **state)
{
	struct fleet f;
	struct rd_snap *s;
	unsigned char *bits;
	const char *b1, *b2, *seen[32];
	char *owned;
	unsigned q[2];
	size_t len, n, i, nowned = 0;

	(void)state;
	fleet_init(&f);
	s = rd_snap_build("/t", f.v, f.n, 20, NOW);
	n = rd_snap_nbits(s);
	assert_int_equal(n, 2 + 2 + 1);
	/* everything readable: the whole body, not a copy */
	q[0] = 0x1f;
	q[1] = 0;
	bits = rd_snap_bits(s, may_bits, q);
	assert_ptr_equal(rd_snap_body(s, bits, &len, &owned), s->body);
	assert_int_equal(len, s->body_len);
	assert_null(owned);
	free(bits);
	/* one service: built once, the same bytes the second time */
	q[0] = 1u << 2;
	q[1] = 0;
	bits = rd_snap_bits(s, may_bits, q);
	b1 = rd_snap_body(s, bits, &len, &owned);
	assert_null(owned);
	assert_int_equal(b1[len - 1], '\n');
	assert_non_null(strstr(b1, "\"fleet\":\"shop\""));
	assert_non_null(strstr(b1, "\"hosts\":{}"));
	b2 = rd_snap_body(s, bits, &len, &owned);
	assert_ptr_equal(b1, b2);
	free(bits);
	/* nothing readable, not even the fleet: its fields are null */
	q[0] = 0;
	q[1] = 0;
	bits = rd_snap_bits(s, may_bits, q);
	b1 = rd_snap_body(s, bits, &len, &owned);
	assert_non_null(strstr(b1, "\"fleet\":null"));
	free(bits);
	/* RD_BODIES sets are kept; more are the caller's */
	for (i = 0; i < 32; i++) {
		q[0] = (unsigned)i;
		q[1] = 0;
		bits = rd_snap_bits(s, may_bits, q);
		seen[i] = rd_snap_body(s, bits, &len, &owned);
		if (owned != NULL)
			nowned++;
		free(owned);
		free(bits);
	}
	assert_int_equal(s->nbodies, RD_BODIES);
	/*
	 * 32 sets: 2 give the whole body (every host and service), 16 are
	 * kept (the 2 above among them), the other 14 are built each time
	 */
	assert_int_equal(nowned, 32 - 2 - RD_BODIES);
	assert_ptr_equal(seen[15], s->body);
	assert_ptr_equal(seen[31], s->body);
	rd_snap_unref(s);
	fleet_release(&f);
}

static void
test_rd_snap_build__empty(void **state)
{
	struct lr_buf b = LR_BUF_INIT;
	struct rd_snap *s;

	(void)state;
	s = rd_snap_build("/t", NULL, 0, 1, NOW);
	assert_int_equal(s->generation, 0);
	assert_true(json_is_null(s->fleet));
	assert_non_null(strstr(s->body, "\"deploy\":null"));
	rd_snap_metrics(s, &b);
	assert_non_null(strstr(b.s, "leura_generation 0\n"));
	lr_buf_release(&b);
	rd_snap_unref(s);
	rd_snap_metrics(NULL, &b);	/* none yet: nothing */
	assert_int_equal(b.len, 0);
	lr_buf_release(&b);
}

static void
test_rd_since_parse__forms(void **state)
{
	const int64_t now = (int64_t)NOW * 1000000000;
	struct lr_err err;
	int64_t t;

	(void)state;
	lr_err_clear(&err);
	assert_int_equal(rd_since_parse("24h", now, &t, &err), 0);
	assert_int_equal(t, now - (int64_t)86400 * 1000000000);
	assert_int_equal(rd_since_parse("1h30m", now, &t, &err), 0);
	assert_int_equal(t, now - (int64_t)5400 * 1000000000);
	assert_int_equal(rd_since_parse("2027-01-15T08:00:00Z", now, &t,
	    &err), 0);
	assert_int_equal(t, (int64_t)1800000000 * 1000000000);
	assert_int_equal(rd_since_parse("2027-01-15T09:00:00.5+01:00", now,
	    &t, &err), 0);
	assert_int_equal(t, (int64_t)1800000000 * 1000000000 + 500000000);
	assert_int_equal(rd_since_parse("yesterday", now, &t, &err),
	    LR_EINVAL);
	assert_non_null(strstr(err.msg, "since=yesterday"));
	assert_non_null(strstr(err.hint, "24h"));
	assert_int_equal(rd_since_parse("2027-13-01T00:00:00Z", now, &t,
	    &err), LR_EINVAL);
	/* past 2262 the nanoseconds overflow an int64_t */
	assert_int_equal(rd_since_parse("2300-01-01T00:00:00Z", now, &t,
	    &err), LR_EINVAL);
	assert_int_equal(rd_since_parse("9999-12-31T23:59:59.999Z", now, &t,
	    &err), LR_EINVAL);
	assert_int_equal(rd_since_parse("2027-01-15T08:00:00", now, &t,
	    &err), LR_EINVAL);
	assert_int_equal(rd_since_parse("2027-01-15T08:00:00Zjunk", now, &t,
	    &err), LR_EINVAL);
	assert_int_equal(rd_since_parse("", now, &t, &err), LR_EINVAL);
}

static void
test_rd_event_id_valid__shape(void **state)
{
	(void)state;
	assert_true(rd_event_id_valid("1800000000000000000-0a1b2c3d"));
	assert_false(rd_event_id_valid("1800000000000000000-0A1B2C3D"));
	assert_false(rd_event_id_valid("180000000000000000-0a1b2c3d"));
	assert_false(rd_event_id_valid("1800000000000000000_0a1b2c3d"));
	assert_false(rd_event_id_valid("1800000000000000000-0a1b2c3g"));
	assert_false(rd_event_id_valid("../../auth/users/x"));
	assert_false(rd_event_id_valid(""));
}

static void
test_rd_event_needs_admin__identity(void **state)
{
	(void)state;
	assert_true(rd_event_needs_admin("users/alice", "POST /v1/users"));
	assert_true(rd_event_needs_admin("groups/ops", "DELETE /v1/groups/x"));
	assert_true(rd_event_needs_admin("grants/g1", "DELETE /v1/grants/g1"));
	assert_true(rd_event_needs_admin("tokens/t1", "DELETE /v1/tokens/t"));
	/* a grant's event names what it grants on */
	assert_true(rd_event_needs_admin("services/web", "POST /v1/grants"));
	assert_true(rd_event_needs_admin("/v1/login", "POST /v1/login"));
	assert_false(rd_event_needs_admin("services/web", "POST /v1/apply"));
	assert_false(rd_event_needs_admin("hosts/users", "POST /v1/apply"));
	assert_false(rd_event_needs_admin("fleet", ""));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rd_snap_build__committed_documents),
		cmocka_unit_test(test_rd_snap_build__etags_and_gauges),
		cmocka_unit_test(test_rd_snap_status__filtered),
		cmocka_unit_test(test_rd_snap_body__cached_per_set),
		cmocka_unit_test(test_rd_snap_build__empty),
		cmocka_unit_test(test_rd_since_parse__forms),
		cmocka_unit_test(test_rd_event_id_valid__shape),
		cmocka_unit_test(test_rd_event_needs_admin__identity),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
