/*
 * Unit tests of rec_status: host and service states from documents,
 * reports and heartbeats, with no etcd (the function is pure).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "state.h"

#define NOW 1800000000

static json_t *
J(const char *s)
{
	json_error_t e;
	json_t *v = json_loads(s, 0, &e);

	if (v == NULL) {
		fprintf(stderr, "bad test JSON: %s: %s\n", e.text, s);
		fail();
	}
	return v;
}

/* desired: db1 runs db; web1, web2 run web (depends on db); gen 3 */
static json_t *
desired(void)
{
	return J("{\"db1\":{\"generation\":3,\"services\":[\"db\"],"
	    "\"depends_on\":{}},"
	    "\"web1\":{\"generation\":3,\"services\":[\"web\"],"
	    "\"depends_on\":{\"web\":[\"db\"]}},"
	    "\"web2\":{\"generation\":2,\"services\":[\"web\"],"
	    "\"depends_on\":{\"web\":[\"db\"]}},"
	    "\"old\":{\"generation\":3,\"removed\":true,\"services\":[]}}");
}

static const char *
get(json_t *st, const char *kind, const char *name, const char *field)
{
	const char *s = json_string_value(json_object_get(json_object_get(
	    json_object_get(st, kind), name), field));

	return s ? s : "(null)";
}

static void
test_rec_status__no_agents_is_unknown(void **state)
{
	json_t *d = desired(), *o = json_object(), *a = json_object(), *st;

	(void)state;
	st = rec_status(d, o, a, NOW);
	assert_string_equal(get(st, "hosts", "db1", "state"), "unknown");
	assert_non_null(strstr(get(st, "hosts", "db1", "reason"),
	    "leura-agent --host db1"));
	assert_false(json_is_true(json_object_get(json_object_get(
	    json_object_get(st, "hosts"), "db1"), "alive")));
	assert_true(json_is_null(json_object_get(json_object_get(
	    json_object_get(st, "hosts"), "db1"), "observed_generation")));
	/* removed hosts are not listed */
	assert_null(json_object_get(json_object_get(st, "hosts"), "old"));
	assert_string_equal(get(st, "services", "web", "state"), "unknown");
	assert_non_null(strstr(get(st, "services", "web", "reason"),
	    "and 1 more host"));
	json_decref(st);
	json_decref(d);
	json_decref(o);
	json_decref(a);
}

static void
test_rec_status__converged_failed_drifted(void **state)
{
	json_t *d = desired(), *st;
	json_t *a = J("{\"db1\":{},\"web1\":{},\"web2\":{}}");
	json_t *o = J("{\"db1\":{\"generation\":3,\"state\":\"converged\","
	    "\"services\":{\"db\":{\"validated\":true}}},"
	    "\"web1\":{\"generation\":3,\"state\":\"failed\","
	    "\"failed_steps\":[{\"id\":\"web/web/converge/config\","
	    "\"exit\":3}]},"
	    "\"web2\":{\"generation\":2,\"state\":\"drifted\","
	    "\"drift\":[{\"id\":\"web/web/converge/site\","
	    "\"detail\":\"checksum differs\"}]}}");

	(void)state;
	st = rec_status(d, o, a, NOW);
	assert_string_equal(get(st, "hosts", "db1", "state"), "converged");
	assert_null(json_object_get(json_object_get(json_object_get(st,
	    "hosts"), "db1"), "reason"));
	assert_string_equal(get(st, "hosts", "web1", "state"), "failed");
	assert_string_equal(get(st, "hosts", "web1", "reason"),
	    "step 'web/web/converge/config' failed: exit 3");
	assert_string_equal(json_string_value(json_array_get(json_object_get(
	    json_object_get(json_object_get(st, "hosts"), "web1"),
	    "failed_steps"), 0)), "web/web/converge/config");
	assert_string_equal(get(st, "hosts", "web2", "state"), "drifted");
	assert_string_equal(get(st, "hosts", "web2", "reason"),
	    "step 'web/web/converge/site' drifted: checksum differs");
	/* the service takes its worst host */
	assert_string_equal(get(st, "services", "web", "state"), "failed");
	assert_non_null(strstr(get(st, "services", "web", "reason"),
	    "web1: step"));
	assert_string_equal(get(st, "services", "db", "state"), "converged");
	json_decref(st);
	json_decref(d);
	json_decref(o);
	json_decref(a);
}

static void
test_rec_status__converging_waits_for_dependency(void **state)
{
	json_t *d = desired(), *st;
	json_t *a = J("{\"db1\":{},\"web1\":{},\"web2\":{}}");
	/* db1 behind; web hosts behind too */
	json_t *o = J("{\"db1\":{\"generation\":2,\"state\":\"converged\"},"
	    "\"web1\":{\"generation\":2,\"state\":\"converged\"}}");

	(void)state;
	st = rec_status(d, o, a, NOW);
	assert_string_equal(get(st, "hosts", "db1", "state"), "converging");
	assert_non_null(strstr(get(st, "hosts", "db1", "reason"),
	    "applying generation 3"));
	assert_string_equal(get(st, "hosts", "web2", "state"), "converging");
	assert_non_null(strstr(get(st, "hosts", "web2", "reason"),
	    "not reported yet"));
	assert_string_equal(get(st, "services", "web", "state"),
	    "converging");
	assert_string_equal(get(st, "services", "web", "reason"),
	    "waiting for db to validate");
	json_decref(st);
	json_decref(d);
	json_decref(o);
	json_decref(a);
}

static void
test_rec_status__converging_says_what_it_waits_for(void **state)
{
	json_t *d = desired(), *st;
	json_t *a = J("{\"db1\":{},\"web1\":{},\"web2\":{}}");
	json_t *o = J("{\"web1\":{\"generation\":3,\"state\":"
	    "\"converging\",\"waiting\":\"web waits for db to validate on "
	    "db1 (converging)\"},\"web2\":{\"generation\":3,\"state\":"
	    "\"converging\",\"current\":\"web/web/converge/config\"}}");

	(void)state;
	st = rec_status(d, o, a, NOW);
	assert_string_equal(get(st, "hosts", "web1", "reason"),
	    "web waits for db to validate on db1 (converging)");
	assert_string_equal(get(st, "hosts", "web2", "reason"),
	    "running step 'web/web/converge/config' of generation 3");
	json_decref(st);
	json_decref(d);
	json_decref(o);
	json_decref(a);
}

static void
test_rec_status__dead_agent_and_failed_validate(void **state)
{
	json_t *d = desired(), *st;
	json_t *a = J("{\"db1\":{}}");
	json_t *o = J("{\"db1\":{\"generation\":3,\"state\":\"converged\","
	    "\"services\":{\"db\":{\"validated\":false}}},"
	    "\"web1\":{\"generation\":3,\"state\":\"converged\","
	    "\"at_unix\":1799999700}}");

	(void)state;
	st = rec_status(d, o, a, NOW);
	assert_string_equal(get(st, "hosts", "web1", "state"), "unknown");
	assert_string_equal(get(st, "hosts", "web1", "reason"),
	    "agent not seen for 5m (its last report: converged at "
	    "generation 3)");
	assert_string_equal(get(st, "services", "db", "state"), "failed");
	assert_string_equal(get(st, "services", "db", "reason"),
	    "db1: its validate steps failed");
	json_decref(st);
	json_decref(d);
	json_decref(o);
	json_decref(a);
}

/* names select hosts and services; a name both a host and a service both */
static void
test_rec_status__select(void **state)
{
	json_t *d = J("{\"db\":{\"generation\":1,\"services\":[\"x\"]},"
	    "\"db1\":{\"generation\":1,\"services\":[\"db\"]},"
	    "\"web1\":{\"generation\":1,\"services\":[\"web\"]}}");
	json_t *o = J("{\"db1\":{\"generation\":1,\"state\":\"failed\"},"
	    "\"web1\":{\"generation\":1,\"state\":\"converged\"}}");
	json_t *a = J("{\"db1\":{},\"web1\":{}}"), *st;
	const char *both[] = { "db" }, *bad[] = { "web1", "wbe" };
	struct lr_err err;

	(void)state;
	st = rec_status(d, o, a, NOW);
	assert_string_equal(rec_status_worst(st), "failed");
	assert_int_equal(rec_status_select(st, bad, 2, &err), LR_ENOENT);
	assert_non_null(strstr(err.hint, "the service 'web'"));
	assert_int_equal(json_object_size(json_object_get(st, "hosts")), 3);
	assert_int_equal(rec_status_select(st, both, 1, &err), 0);
	/* the host db, the service db and its host db1; not web1 */
	assert_non_null(json_object_get(json_object_get(st, "hosts"), "db"));
	assert_non_null(json_object_get(json_object_get(st, "hosts"), "db1"));
	assert_null(json_object_get(json_object_get(st, "hosts"), "web1"));
	assert_non_null(json_object_get(json_object_get(st, "services"),
	    "db"));
	assert_null(json_object_get(json_object_get(st, "services"), "x"));
	/* the host db has no agent: unknown; --failed keeps it and db1 */
	rec_status_only_not_fine(st);
	assert_int_equal(json_object_size(json_object_get(st, "hosts")), 2);
	json_decref(st);
	st = rec_status(d, o, a, NOW);
	assert_int_equal(rec_status_select(st, (const char *[]){ "web1" }, 1,
	    &err), 0);
	assert_string_equal(rec_status_worst(st), "converged");
	rec_status_only_not_fine(st);
	assert_int_equal(json_object_size(json_object_get(st, "hosts")), 0);
	json_decref(st);
	json_decref(d);
	json_decref(o);
	json_decref(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rec_status__no_agents_is_unknown),
		cmocka_unit_test(test_rec_status__select),
		cmocka_unit_test(test_rec_status__converged_failed_drifted),
		cmocka_unit_test(
		    test_rec_status__converging_waits_for_dependency),
		cmocka_unit_test(
		    test_rec_status__converging_says_what_it_waits_for),
		cmocka_unit_test(test_rec_status__dead_agent_and_failed_validate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
