/*
 * The run engine's pure decisions (server/run_plan.c): run_advance moves
 * a record through its states (scheduled, running, waiting_approval,
 * finalised) from results and claims, in batches, across approval
 * barriers, per on_failure, and says what to write; the dedupe overlap;
 * times.  No etcd: records are built here and passed by hand, as the
 * engine passes what it read.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"
#include "run-int.h"

#define T0	1796000000000LL		/* some time in 2026, in ms */

/*
 * A record in state "scheduled" on hosts (a JSON array text) with steps
 * ("s" a script step, "a" an approval step), parallel and on_failure.
 */
static json_t *
rec_new(const char *hosts, const char *kinds, int parallel,
    const char *on_failure)
{
	json_t *steps = json_array(), *prog = json_object(), *row, *h;
	json_t *hs = json_loads(hosts, 0, NULL);
	char name[32], t[32];
	size_t i, s;

	for (s = 0; kinds[s]; s++) {
		snprintf(name, sizeof(name), "s%zu", s);
		if (kinds[s] == 'a')
			json_array_append_new(steps, json_pack("{s:s, s:s, s:{s:[s],"
			    " s:i, s:b}}", "name", name, "kind", "approval",
			    "approval", "groups", "ops", "timeout_ms", 60000,
			    "self_approval", 0));
		else
			json_array_append_new(steps, json_pack("{s:s, s:s}", "name",
			    name, "kind", "script"));
	}
	json_array_foreach(hs, i, h) {
		row = json_array();
		for (s = 0; kinds[s]; s++)
			json_array_append_new(row, json_pack("{s:s, s:n, s:i}",
			    "state", "pending", "status", "attempt", 0));
		json_object_set_new(prog, json_string_value(h), row);
	}
	run_time_iso(T0, t);
	return json_pack("{s:s, s:s, s:s, s:o, s:s, s:s, s:s, s:i, s:s, s:i,"
	    " s:o, s:o, s:[]}", "id", "r@20261207-100000-abcdef", "kind", "task",
	    "task", "drain", "hosts", hs, "by", "alice", "created", t, "state",
	    "scheduled", "parallel", parallel, "on_failure", on_failure,
	    "timeout_ms", 0, "steps", steps, "progress", prog, "approvals");
}

static const char *
cell(const json_t *rec, const char *host, int s, const char *what)
{
	return lr_json_strn(json_array_get(json_object_get(json_object_get(rec,
	    "progress"), host), (size_t)s), what);
}

/* One pass with results (JSON text {host: {SSSS: {status}}}), claims. */
static void
advance(json_t *rec, const char *results, const char *claims,
    const char *gone, int64_t now, struct run_actions *a)
{
	json_t *r = json_loads(results ? results : "{}", 0, NULL);
	json_t *c = json_loads(claims ? claims : "{}", 0, NULL);
	json_t *g = gone ? json_loads(gone, 0, NULL) : NULL;

	assert_non_null(r);
	assert_non_null(c);
	run_actions_release(a);
	run_actions_init(a);
	run_advance(rec, r, c, g, now, a);
	json_decref(r);
	json_decref(c);
	json_decref(g);
}

static bool
has_event(const struct run_actions *a, const char *action)
{
	json_t *e;
	size_t i;

	json_array_foreach(a->events, i, e)
		if (strcmp(lr_json_str(e, "action"), action) == 0)
			return true;
	return false;
}

static void
test_run_advance__one_step_to_succeeded(void **state)
{
	json_t *rec = rec_new("[\"h1\",\"h2\"]", "s", 0, "stop");
	struct run_actions a;

	(void)state;
	run_actions_init(&a);
	advance(rec, NULL, NULL, NULL, T0, &a);
	assert_string_equal(lr_json_str(rec, "state"), "running");
	assert_true(has_event(&a, "run.started"));
	assert_int_equal(a.ndispatch, 2);
	assert_string_equal(cell(rec, "h1", 0, "state"), "dispatched");
	/* nothing new: nothing to write */
	advance(rec, NULL, NULL, NULL, T0, &a);
	assert_false(a.changed);
	assert_int_equal(a.ndispatch, 0);
	/* claimed: running */
	advance(rec, NULL, "{\"h1\":{\"0000\":true}}", NULL, T0, &a);
	assert_string_equal(cell(rec, "h1", 0, "state"), "running");
	advance(rec, "{\"h1\":{\"0000\":{\"status\":\"ok\"}},"
	    "\"h2\":{\"0000\":{\"status\":\"changed\"}}}", NULL, NULL, T0, &a);
	assert_int_equal(a.nundispatch, 2);
	assert_string_equal(lr_json_str(rec, "state"), "finalised");
	assert_string_equal(lr_json_str(rec, "outcome"), "succeeded");
	assert_true(has_event(&a, "run.finalised"));
	assert_true(has_event(&a, "step.changed"));
	/* finalised: nothing more, ever */
	advance(rec, NULL, NULL, NULL, T0, &a);
	assert_false(a.changed);
	run_actions_release(&a);
	json_decref(rec);
}

static void
test_run_advance__steps_in_order_batches(void **state)
{
	json_t *rec = rec_new("[\"a\",\"b\",\"c\"]", "ss", 2, "stop");
	struct run_actions a;

	(void)state;
	run_actions_init(&a);
	advance(rec, NULL, NULL, NULL, T0, &a);
	/* batch 1: a and b, step 0; c waits for the batch */
	assert_int_equal(a.ndispatch, 2);
	assert_string_equal(a.dispatch[0].host, "a");
	assert_int_equal(a.dispatch[0].step, 0);
	assert_string_equal(cell(rec, "c", 0, "state"), "pending");
	advance(rec, "{\"a\":{\"0000\":{\"status\":\"ok\"}}}", NULL, NULL, T0,
	    &a);
	/* a goes on to its step 1 (in order, one at a time) */
	assert_int_equal(a.ndispatch, 1);
	assert_string_equal(a.dispatch[0].host, "a");
	assert_int_equal(a.dispatch[0].step, 1);
	advance(rec, "{\"a\":{\"0000\":{\"status\":\"ok\"},\"0001\":{\"status\":"
	    "\"ok\"}},\"b\":{\"0000\":{\"status\":\"ok\"},\"0001\":{\"status\":"
	    "\"ok\"}}}", NULL, NULL, T0, &a);
	/* b's step 1 goes now (its result above was for nothing sent) */
	assert_int_equal(a.ndispatch, 1);
	assert_string_equal(a.dispatch[0].host, "b");
	assert_string_equal(cell(rec, "c", 0, "state"), "pending");
	advance(rec, "{\"b\":{\"0001\":{\"status\":\"ok\"}}}", NULL, NULL,
	    T0, &a);
	/* the first batch ended: the second starts */
	assert_string_equal(cell(rec, "c", 0, "state"), "dispatched");
	run_actions_release(&a);
	json_decref(rec);
}

static void
test_run_advance__failure_stop_halts(void **state)
{
	json_t *rec = rec_new("[\"a\",\"b\",\"c\"]", "ss", 1, "stop");
	struct run_actions a;

	(void)state;
	run_actions_init(&a);
	advance(rec, NULL, NULL, NULL, T0, &a);
	assert_int_equal(a.ndispatch, 1);
	advance(rec, "{\"a\":{\"0000\":{\"status\":\"failed\"}}}", NULL, NULL,
	    T0, &a);
	assert_int_equal(a.ndispatch, 0);
	assert_true(has_event(&a, "step.failed"));
	assert_string_equal(lr_json_str(rec, "state"), "finalised");
	assert_string_equal(lr_json_str(rec, "outcome"), "failed");
	assert_non_null(strstr(lr_json_str(rec, "reason"), "on_failure: stop"));
	assert_string_equal(cell(rec, "b", 0, "state"), "pending");
	run_actions_release(&a);
	json_decref(rec);
}

static void
test_run_advance__failure_stop_lets_in_flight_end(void **state)
{
	json_t *rec = rec_new("[\"a\",\"b\"]", "ss", 0, "stop");
	struct run_actions a;

	(void)state;
	run_actions_init(&a);
	advance(rec, NULL, NULL, NULL, T0, &a);
	advance(rec, "{\"a\":{\"0000\":{\"status\":\"failed\"}}}",
	    "{\"b\":{\"0000\":true}}", NULL, T0, &a);
	/* b still runs: no new work, not finalised yet */
	assert_int_equal(a.ndispatch, 0);
	assert_string_equal(lr_json_str(rec, "state"), "running");
	advance(rec, "{\"a\":{\"0000\":{\"status\":\"failed\"}},"
	    "\"b\":{\"0000\":{\"status\":\"ok\"}}}", NULL, NULL, T0, &a);
	assert_int_equal(a.ndispatch, 0);
	assert_string_equal(lr_json_str(rec, "outcome"), "failed");
	run_actions_release(&a);
	json_decref(rec);
}

static void
test_run_advance__failure_continue_goes_on(void **state)
{
	json_t *rec = rec_new("[\"a\"]", "ss", 0, "continue");
	struct run_actions a;

	(void)state;
	run_actions_init(&a);
	advance(rec, NULL, NULL, NULL, T0, &a);
	advance(rec, "{\"a\":{\"0000\":{\"status\":\"failed\"}}}", NULL, NULL,
	    T0, &a);
	assert_int_equal(a.ndispatch, 1);
	assert_int_equal(a.dispatch[0].step, 1);
	advance(rec, "{\"a\":{\"0000\":{\"status\":\"failed\"},\"0001\":"
	    "{\"status\":\"ok\"}}}", NULL, NULL, T0, &a);
	assert_string_equal(lr_json_str(rec, "outcome"), "failed");
	run_actions_release(&a);
	json_decref(rec);
}

static void
test_run_advance__step_on_failure_overrides(void **state)
{
	json_t *rec = rec_new("[\"a\"]", "ss", 0, "stop");
	struct run_actions a;

	(void)state;
	json_object_set_new(json_array_get(json_object_get(rec, "steps"), 0),
	    "on_failure", json_string("continue"));
	run_actions_init(&a);
	advance(rec, NULL, NULL, NULL, T0, &a);
	advance(rec, "{\"a\":{\"0000\":{\"status\":\"failed\"}}}", NULL, NULL,
	    T0, &a);
	assert_int_equal(a.ndispatch, 1);
	run_actions_release(&a);
	json_decref(rec);
}

static void
test_run_advance__lost_when_claim_goes(void **state)
{
	json_t *rec = rec_new("[\"a\",\"b\"]", "ss", 0, "continue");
	struct run_actions a;

	(void)state;
	run_actions_init(&a);
	advance(rec, NULL, NULL, NULL, T0, &a);
	/* dispatched, not claimed yet: nothing is lost */
	advance(rec, NULL, NULL, NULL, T0, &a);
	assert_int_equal(a.nlost, 0);
	/* a's claim seen, then gone without a result: lost */
	advance(rec, NULL, "{\"a\":{\"0000\":true}}", NULL, T0, &a);
	advance(rec, NULL, NULL, NULL, T0, &a);
	assert_int_equal(a.nlost, 1);
	assert_string_equal(a.lost[0].host, "a");
	assert_string_equal(cell(rec, "a", 0, "status"), "lost");
	assert_true(has_event(&a, "step.lost"));
	/* continue: a goes on with step 1 */
	assert_int_equal(a.ndispatch, 1);
	/* b's claim came and went between two passes: the watch saw it */
	advance(rec, NULL, NULL, "{\"b/0000\":true}", T0, &a);
	assert_string_equal(cell(rec, "b", 0, "status"), "lost");
	run_actions_release(&a);
	json_decref(rec);
}

static void
test_run_advance__approval_barrier(void **state)
{
	json_t *rec = rec_new("[\"a\",\"b\"]", "sas", 1, "stop");
	struct run_actions a;
	json_t *ap;

	(void)state;
	run_actions_init(&a);
	advance(rec, NULL, NULL, NULL, T0, &a);
	assert_int_equal(a.ndispatch, 1);
	advance(rec, "{\"a\":{\"0000\":{\"status\":\"ok\"}}}", NULL, NULL, T0,
	    &a);
	/* the barrier: b's step 0 first, not a's step 2 */
	assert_int_equal(a.ndispatch, 1);
	assert_string_equal(a.dispatch[0].host, "b");
	assert_int_equal(a.dispatch[0].step, 0);
	advance(rec, "{\"a\":{\"0000\":{\"status\":\"ok\"}},\"b\":{\"0000\":"
	    "{\"status\":\"ok\"}}}", NULL, NULL, T0, &a);
	assert_string_equal(lr_json_str(rec, "state"), "waiting_approval");
	assert_true(has_event(&a, "run.waiting_approval"));
	assert_int_equal(a.ndispatch, 0);
	/* still waiting: nothing changes */
	advance(rec, "{\"a\":{\"0000\":{\"status\":\"ok\"}},\"b\":{\"0000\":"
	    "{\"status\":\"ok\"}}}", NULL, NULL, T0 + 1000, &a);
	assert_false(a.changed);
	ap = json_pack("{s:i, s:s, s:s, s:s, s:s}", "step", 1, "decision",
	    "approved", "by", "bob", "at", "x", "message", "go");
	json_array_append_new(json_object_get(rec, "approvals"), ap);
	advance(rec, "{\"a\":{\"0000\":{\"status\":\"ok\"}},\"b\":{\"0000\":"
	    "{\"status\":\"ok\"}}}", NULL, NULL, T0 + 2000, &a);
	assert_true(has_event(&a, "run.approved"));
	assert_string_equal(lr_json_str(rec, "state"), "running");
	assert_int_equal(a.ndispatch, 1);
	assert_string_equal(a.dispatch[0].host, "a");
	assert_int_equal(a.dispatch[0].step, 2);
	run_actions_release(&a);
	json_decref(rec);
}

static void
test_run_advance__approval_rejected_and_timed_out(void **state)
{
	json_t *rec = rec_new("[\"a\"]", "as", 0, "stop");
	struct run_actions a;

	(void)state;
	run_actions_init(&a);
	advance(rec, NULL, NULL, NULL, T0, &a);
	assert_string_equal(lr_json_str(rec, "state"), "waiting_approval");
	json_array_append_new(json_object_get(rec, "approvals"), json_pack(
	    "{s:i, s:s, s:s, s:s, s:s}", "step", 0, "decision", "rejected",
	    "by", "bob", "at", "x", "message", "not today"));
	advance(rec, NULL, NULL, NULL, T0, &a);
	assert_string_equal(lr_json_str(rec, "outcome"), "rejected");
	assert_non_null(strstr(lr_json_str(rec, "reason"), "not today"));
	assert_true(has_event(&a, "run.rejected"));
	json_decref(rec);

	rec = rec_new("[\"a\"]", "as", 0, "stop");
	advance(rec, NULL, NULL, NULL, T0, &a);
	advance(rec, NULL, NULL, NULL, T0 + 59000, &a);
	assert_string_equal(lr_json_str(rec, "state"), "waiting_approval");
	advance(rec, NULL, NULL, NULL, T0 + 61000, &a);
	assert_string_equal(lr_json_str(rec, "outcome"), "timed_out");
	assert_non_null(strstr(lr_json_str(rec, "reason"), "no decision"));
	run_actions_release(&a);
	json_decref(rec);
}

static void
test_run_advance__cancel_and_timeout(void **state)
{
	json_t *rec = rec_new("[\"a\",\"b\"]", "ss", 0, "stop");
	struct run_actions a;

	(void)state;
	run_actions_init(&a);
	advance(rec, NULL, NULL, NULL, T0, &a);
	json_object_set_new(rec, "cancel", json_pack("{s:s, s:s, s:s}", "by",
	    "carol", "at", "x", "message", "wrong day"));
	advance(rec, NULL, NULL, NULL, T0, &a);
	assert_int_equal(a.nundispatch, 2);
	assert_string_equal(lr_json_str(rec, "outcome"), "cancelled");
	assert_string_equal(cell(rec, "a", 0, "status"), "cancelled");
	assert_true(has_event(&a, "run.cancelled"));
	json_decref(rec);

	rec = rec_new("[\"a\"]", "ss", 0, "stop");
	json_object_set_new(rec, "timeout_ms", json_integer(5000));
	advance(rec, NULL, NULL, NULL, T0, &a);
	advance(rec, NULL, NULL, NULL, T0 + 4000, &a);
	assert_string_equal(lr_json_str(rec, "state"), "running");
	advance(rec, NULL, NULL, NULL, T0 + 5000, &a);
	assert_string_equal(lr_json_str(rec, "outcome"), "timed_out");
	assert_int_equal(a.nundispatch, 1);
	run_actions_release(&a);
	json_decref(rec);
}

static void
test_run_advance__txn_ops_cut(void **state)
{
	json_t *hosts = json_array(), *rec;
	struct run_actions a;
	char h[16], *txt;
	int i;

	(void)state;
	for (i = 0; i < 150; i++) {
		snprintf(h, sizeof(h), "h%03d", i);
		json_array_append_new(hosts, json_string(h));
	}
	txt = json_dumps(hosts, 0);
	rec = rec_new(txt, "s", 0, "stop");
	run_actions_init(&a);
	advance(rec, NULL, NULL, NULL, T0, &a);
	assert_true(a.more);
	assert_int_equal(a.ndispatch, RUN_TXN_OPS - 1);
	advance(rec, NULL, NULL, NULL, T0, &a);
	assert_int_equal(a.ndispatch, 150 - (RUN_TXN_OPS - 1));
	assert_false(a.more);
	run_actions_release(&a);
	json_decref(rec);
	json_decref(hosts);
	free(txt);
}

static void
test_run_dedupe_match__window_and_overlap(void **state)
{
	json_t *rec = rec_new("[\"a\",\"b\"]", "s", 0, "stop");
	json_t *h1 = json_pack("[s]", "b"), *h2 = json_pack("[s]", "c");

	(void)state;
	assert_true(run_dedupe_match(rec, "drain", NULL, h1, T0 + 60000,
	    15 * 60000));
	assert_false(run_dedupe_match(rec, "drain", NULL, h2, T0 + 60000,
	    15 * 60000));
	assert_false(run_dedupe_match(rec, "other", NULL, h1, T0 + 60000,
	    15 * 60000));
	assert_false(run_dedupe_match(rec, "drain", NULL, h1, T0 + 16 * 60000,
	    15 * 60000));
	assert_false(run_dedupe_match(rec, "drain", NULL, h1, T0, 0));
	/* an ad-hoc command: the identical command only */
	json_object_set_new(rec, "kind", json_string("exec"));
	json_object_set_new(rec, "command", json_string("uptime"));
	assert_true(run_dedupe_match(rec, NULL, "uptime", h1, T0, 60000));
	assert_false(run_dedupe_match(rec, NULL, "uptime ", h1, T0, 60000));
	assert_false(run_dedupe_match(rec, "drain", NULL, h1, T0, 60000));
	json_decref(rec);
	json_decref(h1);
	json_decref(h2);
}

static void
test_run_time__round_trip(void **state)
{
	char t[32];

	(void)state;
	run_time_iso(T0 + 123, t);
	assert_int_equal(strlen(t), 24);
	assert_int_equal(run_time_parse(t), T0 + 123);
	assert_int_equal(run_time_parse("2026-12-07T10:00:00Z") % 1000, 0);
	assert_int_equal(run_time_parse("2026-12-07T10:00:00"), -1);
	assert_int_equal(run_time_parse(NULL), -1);
	assert_string_equal(run_status_of_result("aborted"), "cancelled");
	assert_string_equal(run_status_of_result("weird"), "failed");
	assert_true(run_status_failed("lost"));
	assert_false(run_status_failed("skipped"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_run_advance__one_step_to_succeeded),
		cmocka_unit_test(test_run_advance__steps_in_order_batches),
		cmocka_unit_test(test_run_advance__failure_stop_halts),
		cmocka_unit_test(
		    test_run_advance__failure_stop_lets_in_flight_end),
		cmocka_unit_test(test_run_advance__failure_continue_goes_on),
		cmocka_unit_test(test_run_advance__step_on_failure_overrides),
		cmocka_unit_test(test_run_advance__lost_when_claim_goes),
		cmocka_unit_test(test_run_advance__approval_barrier),
		cmocka_unit_test(
		    test_run_advance__approval_rejected_and_timed_out),
		cmocka_unit_test(test_run_advance__cancel_and_timeout),
		cmocka_unit_test(test_run_advance__txn_ops_cut),
		cmocka_unit_test(test_run_dedupe_match__window_and_overlap),
		cmocka_unit_test(test_run_time__round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
