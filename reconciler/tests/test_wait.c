/*
 * Unit tests of reconcile/follow.c, the pure half of following a rollout
 * (builtin/wait.c prints it): a host's state toward the generation a
 * deploy wrote, from reports and heartbeats; the progress
 * line; durations.  No etcd (tests/cli/t_wait.sh runs the rest).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "clock.h"
#include "follow.h"

static json_t *
J(const char *s)
{
	json_error_t e;
	json_t *v = json_loads(s, JSON_DECODE_ANY, &e);

	if (v == NULL) {
		fprintf(stderr, "bad test JSON: %s: %s\n", e.text, s);
		fail();
	}
	return v;
}

/*
 * Decide host toward gen with observed and agents as JSON texts and the
 * targets {web1:5, web2:5, db1:5, a1:5 ... d1:5}; the detail into buf
 * ("" when none).
 */
static enum rec_follow_state
decide(const char *host, int64_t gen, const char *observed,
    const char *agents, char *buf, size_t len)
{
	json_t *o = J(observed), *a = J(agents);
	json_t *t = J("{\"web1\":5,\"web2\":5,\"db1\":5,\"a1\":5,"
	    "\"b1\":5,\"c1\":5,\"d1\":5}");
	enum rec_follow_state s;
	char *detail;

	s = rec_follow_decide(host, gen, o, a, t, &detail);
	snprintf(buf, len, "%s", detail ? detail : "");
	free(detail);
	json_decref(o);
	json_decref(a);
	json_decref(t);
	return s;
}

#define UP "{\"web1\":{},\"web2\":{},\"db1\":{}}"
#define UP4 "{\"a1\":{},\"b1\":{},\"c1\":{},\"d1\":{}}"

static void
test_rec_follow_decide__no_agent_is_down(void **state)
{
	char d[256];

	(void)state;
	assert_int_equal(decide("web1", 5, "{}", "{}", d, sizeof(d)),
	    REC_FOLLOW_DOWN);
	/* an old report does not make a dead agent anything else */
	assert_int_equal(decide("web1", 5, "{\"web1\":{\"generation\":4,"
	    "\"state\":\"converged\"}}", "{}", d, sizeof(d)), REC_FOLLOW_DOWN);
	assert_int_equal(decide("web1", 5, "{\"web1\":{\"generation\":5,"
	    "\"state\":\"converging\"}}", "{}", d, sizeof(d)),
	    REC_FOLLOW_DOWN);
	assert_false(rec_follow_state_done(REC_FOLLOW_DOWN));
	assert_string_equal(rec_follow_state_name(REC_FOLLOW_DOWN), "down");
}

static void
test_rec_follow_decide__pending_until_the_generation(void **state)
{
	char d[256];

	(void)state;
	assert_int_equal(decide("web1", 5, "{}", UP, d, sizeof(d)),
	    REC_FOLLOW_CONVERGING);
	assert_string_equal(d, "no report yet");
	/* converged, but at the previous generation: still to do */
	assert_int_equal(decide("web1", 5, "{\"web1\":{\"generation\":4,"
	    "\"state\":\"converged\"}}", UP, d, sizeof(d)),
	    REC_FOLLOW_CONVERGING);
	assert_string_equal(d, "still at generation 4");
	/* a failure of the previous generation is not this deploy's */
	assert_int_equal(decide("web1", 5, "{\"web1\":{\"generation\":4,"
	    "\"state\":\"failed\"}}", UP, d, sizeof(d)), REC_FOLLOW_CONVERGING);
	/* a report without generation counts as generation 0 */
	assert_int_equal(decide("web1", 5, "{\"web1\":{\"state\":"
	    "\"converged\"}}", UP, d, sizeof(d)), REC_FOLLOW_CONVERGING);
}

static void
test_rec_follow_decide__converging_names_the_step(void **state)
{
	char d[256];

	(void)state;
	assert_int_equal(decide("web1", 5, "{\"web1\":{\"generation\":5,"
	    "\"state\":\"converging\",\"current\":"
	    "\"web/web/converge/site config\"}}", UP, d, sizeof(d)),
	    REC_FOLLOW_CONVERGING);
	assert_string_equal(d, "site config");
	/* a name with slashes stays whole; an odd id is shown as is */
	decide("web1", 5, "{\"web1\":{\"generation\":5,\"state\":"
	    "\"converging\",\"current\":\"s/r/converge/a/b\"}}", UP, d,
	    sizeof(d));
	assert_string_equal(d, "a/b");
	decide("web1", 5, "{\"web1\":{\"generation\":5,\"state\":"
	    "\"converging\",\"current\":\"odd\"}}", UP, d, sizeof(d));
	assert_string_equal(d, "odd");
	decide("web1", 5, "{\"web1\":{\"generation\":5,\"state\":"
	    "\"converging\"}}", UP, d, sizeof(d));
	assert_string_equal(d, "");
}

static void
test_rec_follow_decide__final_states(void **state)
{
	char d[256];

	(void)state;
	assert_int_equal(decide("web1", 5, "{\"web1\":{\"generation\":5,"
	    "\"state\":\"converged\"}}", UP, d, sizeof(d)),
	    REC_FOLLOW_CONVERGED);
	assert_string_equal(d, "");
	/* a later generation counts too (another deploy landed since) */
	assert_int_equal(decide("web1", 5, "{\"web1\":{\"generation\":7,"
	    "\"state\":\"converged\"}}", UP, d, sizeof(d)),
	    REC_FOLLOW_CONVERGED);
	assert_int_equal(decide("web1", 5, "{\"web1\":{\"generation\":5,"
	    "\"state\":\"failed\",\"failed_steps\":[{\"id\":"
	    "\"web/web/converge/x\",\"exit\":3,\"output\":\"boom\"},"
	    "{\"id\":\"web/web/converge/y\",\"error\":\"timeout\"}]}}", UP,
	    d, sizeof(d)), REC_FOLLOW_FAILED);
	assert_string_equal(d, "step 'web/web/converge/x' failed: exit 3 "
	    "(and 1 more)");
	assert_int_equal(decide("web1", 5, "{\"web1\":{\"generation\":5,"
	    "\"state\":\"failed\",\"failed_steps\":[{\"id\":\"a/b/c/d\","
	    "\"error\":\"cannot run\"}]}}", UP, d, sizeof(d)),
	    REC_FOLLOW_FAILED);
	assert_string_equal(d, "step 'a/b/c/d' failed: cannot run");
	assert_int_equal(decide("web1", 5, "{\"web1\":{\"generation\":5,"
	    "\"state\":\"failed\"}}", UP, d, sizeof(d)), REC_FOLLOW_FAILED);
	assert_string_equal(d, "the agent reports the host failed");
	assert_int_equal(decide("web1", 5, "{\"web1\":{\"generation\":5,"
	    "\"state\":\"drifted\",\"drift\":[{\"id\":\"a/b/c/d\","
	    "\"detail\":\"content differs\"}]}}", UP, d, sizeof(d)),
	    REC_FOLLOW_DRIFTED);
	assert_string_equal(d, "step 'a/b/c/d' drifted: content differs");
	/* converged but a service did not validate: failed */
	assert_int_equal(decide("web1", 5, "{\"web1\":{\"generation\":5,"
	    "\"state\":\"converged\",\"services\":{\"web\":{\"validated\":"
	    "false}}}}", UP, d, sizeof(d)), REC_FOLLOW_FAILED);
	assert_string_equal(d, "the validate steps of service 'web' failed");
	assert_true(rec_follow_state_done(REC_FOLLOW_CONVERGED));
	assert_true(rec_follow_state_done(REC_FOLLOW_FAILED));
}

static void
test_rec_follow_decide__final_report_of_dead_agent_counts(void **state)
{
	char d[256];

	(void)state;
	/* the agent said it; that it stopped since changes nothing */
	assert_int_equal(decide("web1", 5, "{\"web1\":{\"generation\":5,"
	    "\"state\":\"converged\"}}", "{}", d, sizeof(d)),
	    REC_FOLLOW_CONVERGED);
	assert_int_equal(decide("web1", 5, "{\"web1\":{\"generation\":5,"
	    "\"state\":\"failed\"}}", "{}", d, sizeof(d)), REC_FOLLOW_FAILED);
}

static void
test_rec_follow_decide__unknown_and_unreadable(void **state)
{
	char d[256];

	(void)state;
	assert_int_equal(decide("web1", 5, "{\"web1\":{\"generation\":5,"
	    "\"state\":\"sleeping\"}}", UP, d, sizeof(d)), REC_FOLLOW_UNKNOWN);
	assert_string_equal(d, "the agent reports an unknown state "
	    "'sleeping'");
	assert_int_equal(decide("web1", 5, "{\"web1\":{\"generation\":5}}",
	    UP, d, sizeof(d)), REC_FOLLOW_UNKNOWN);
	assert_string_equal(d, "the agent's report has no state");
	assert_int_equal(decide("web1", 5, "{\"web1\":false}", UP, d,
	    sizeof(d)), REC_FOLLOW_UNKNOWN);
	assert_string_equal(d, "its report in etcd is not a JSON object");
}

/*
 * Blocked in turn: a host waiting on a host that is itself blocked (a
 * max_parallel chain, a dependency of a dependency) will never go on
 * either, and counts as done like the first.
 */
static void
test_rec_follow_decide__blocked_transitively(void **state)
{
	static const char chain[] = "{"
	    "\"a1\":{\"generation\":5,\"state\":\"failed\"},"
	    "\"b1\":{\"generation\":5,\"state\":\"converging\","
	    " \"waiting\":\"db waits for base to validate on a1 "
	    "(converging)\",\"waiting_for\":{\"service\":\"base\","
	    " \"host\":\"a1\"}},"
	    "\"c1\":{\"generation\":5,\"state\":\"converging\","
	    " \"waiting\":\"web waits for db to validate on b1 "
	    "(converging)\",\"waiting_for\":{\"service\":\"db\","
	    " \"host\":\"b1\"}},"
	    "\"d1\":{\"generation\":5,\"state\":\"converging\","
	    " \"waiting\":\"max_parallel 1 of web: c1 goes first\","
	    " \"waiting_for\":{\"service\":\"web\",\"host\":\"c1\"}}}";
	char d[256];

	(void)state;
	assert_int_equal(decide("b1", 5, chain, UP4, d, sizeof(d)),
	    REC_FOLLOW_BLOCKED);
	assert_string_equal(d, "db waits for base to validate on a1, which "
	    "failed");
	assert_int_equal(decide("c1", 5, chain, UP4, d, sizeof(d)),
	    REC_FOLLOW_BLOCKED);
	assert_string_equal(d, "web waits for db to validate on b1, which "
	    "waits on a1, which failed");
	assert_int_equal(decide("d1", 5, chain, UP4, d, sizeof(d)),
	    REC_FOLLOW_BLOCKED);
	assert_string_equal(d, "max_parallel 1 of web: c1 goes first; c1 "
	    "waits on a1, which failed");
}

/* A chain that ends in a host still working, or in a wait of an older
 * generation, or in a cycle, is plain waiting. */
static void
test_rec_follow_decide__chain_not_blocked(void **state)
{
	char d[256];

	(void)state;
	/* b1 waits on a1, which is still converging */
	assert_int_equal(decide("c1", 5, "{"
	    "\"a1\":{\"generation\":5,\"state\":\"converging\"},"
	    "\"b1\":{\"generation\":5,\"state\":\"converging\","
	    " \"waiting\":\"x on a1\",\"waiting_for\":{\"host\":\"a1\"}},"
	    "\"c1\":{\"generation\":5,\"state\":\"converging\","
	    " \"waiting\":\"y on b1\",\"waiting_for\":{\"host\":\"b1\"}}}",
	    UP4, d, sizeof(d)), REC_FOLLOW_WAITING);
	/* b1's wait is of generation 4: it has not read deploy 5 yet */
	assert_int_equal(decide("c1", 5, "{"
	    "\"a1\":{\"generation\":5,\"state\":\"failed\"},"
	    "\"b1\":{\"generation\":4,\"state\":\"converging\","
	    " \"waiting\":\"x on a1\",\"waiting_for\":{\"host\":\"a1\"}},"
	    "\"c1\":{\"generation\":5,\"state\":\"converging\","
	    " \"waiting\":\"y on b1\",\"waiting_for\":{\"host\":\"b1\"}}}",
	    UP4, d, sizeof(d)), REC_FOLLOW_WAITING);
	/* a cycle of waits ends, undecided */
	assert_int_equal(decide("b1", 5, "{"
	    "\"a1\":{\"generation\":5,\"state\":\"converging\","
	    " \"waiting\":\"x on b1\",\"waiting_for\":{\"host\":\"b1\"}},"
	    "\"b1\":{\"generation\":5,\"state\":\"converging\","
	    " \"waiting\":\"y on a1\",\"waiting_for\":{\"host\":\"a1\"}}}",
	    UP4, d, sizeof(d)), REC_FOLLOW_WAITING);
}

static void
test_rec_follow_decide__waiting_and_blocked(void **state)
{
	char d[256];

	(void)state;
	assert_int_equal(decide("web1", 5, "{\"web1\":{\"generation\":5,"
	    "\"state\":\"converging\",\"waiting\":\"web waits for db to "
	    "validate on db1\",\"waiting_for\":{\"service\":\"db\","
	    "\"host\":\"db1\"}}, \"db1\":{\"generation\":5,\"state\":"
	    "\"converging\"}}", UP, d, sizeof(d)), REC_FOLLOW_WAITING);
	assert_string_equal(d, "web waits for db to validate on db1");
	/* what it waits for failed at its target: it will never go on */
	assert_int_equal(decide("web1", 5, "{\"web1\":{\"generation\":5,"
	    "\"state\":\"converging\",\"waiting\":\"web waits for db to "
	    "validate on db1\",\"waiting_for\":{\"service\":\"db\","
	    "\"host\":\"db1\"}}, \"db1\":{\"generation\":5,\"state\":"
	    "\"failed\"}}", UP, d, sizeof(d)), REC_FOLLOW_BLOCKED);
	assert_string_equal(d, "web waits for db to validate on db1, which "
	    "failed");
	assert_true(rec_follow_state_done(REC_FOLLOW_BLOCKED));
	/* an old failure of db1 (below its target) may still be retried */
	assert_int_equal(decide("web1", 5, "{\"web1\":{\"generation\":5,"
	    "\"state\":\"converging\",\"waiting\":\"web waits for db to "
	    "validate on db1\",\"waiting_for\":{\"service\":\"db\","
	    "\"host\":\"db1\"}}, \"db1\":{\"generation\":4,\"state\":"
	    "\"failed\"}}", UP, d, sizeof(d)), REC_FOLLOW_WAITING);
	/* a host outside the deploy blocks with any failure */
	assert_int_equal(decide("web1", 5, "{\"web1\":{\"generation\":5,"
	    "\"state\":\"converging\",\"waiting\":\"web waits for db to "
	    "validate on db9\",\"waiting_for\":{\"service\":\"db\","
	    "\"host\":\"db9\"}}, \"db9\":{\"generation\":2,\"state\":"
	    "\"drifted\"}}", UP, d, sizeof(d)), REC_FOLLOW_BLOCKED);
	/* the agent's words: a reason in parentheses after the host */
	assert_int_equal(decide("web1", 5, "{\"web1\":{\"generation\":5,"
	    "\"state\":\"converging\",\"waiting\":\"web waits for db to "
	    "validate on db1 (failed)\",\"waiting_for\":{\"service\":"
	    "\"db\",\"host\":\"db1\"}}, \"db1\":{\"generation\":5,"
	    "\"state\":\"failed\"}}", UP, d, sizeof(d)), REC_FOLLOW_BLOCKED);
	assert_string_equal(d, "web waits for db to validate on db1, which "
	    "failed");
	/* the agent's stale view of db1 is not repeated beside the news */
	assert_int_equal(decide("web1", 5, "{\"web1\":{\"generation\":5,"
	    "\"state\":\"converging\",\"waiting\":\"web waits for db to "
	    "validate on db1 (converging)\",\"waiting_for\":{\"service\":"
	    "\"db\",\"host\":\"db1\"}}, \"db1\":{\"generation\":5,"
	    "\"state\":\"failed\"}}", UP, d, sizeof(d)), REC_FOLLOW_BLOCKED);
	assert_string_equal(d, "web waits for db to validate on db1, which "
	    "failed");
	assert_int_equal(decide("web1", 5, "{\"web1\":{\"generation\":5,"
	    "\"state\":\"converging\",\"waiting\":\"the rollout of web "
	    "stopped: it failed on web2\",\"waiting_for\":{\"service\":"
	    "\"web\",\"host\":\"web2\"}}, \"web2\":{\"generation\":5,"
	    "\"state\":\"failed\"}}", UP, d, sizeof(d)), REC_FOLLOW_BLOCKED);
	assert_string_equal(d, "the rollout of web stopped: it failed on "
	    "web2, which failed");
	assert_int_equal(decide("web1", 5, "{\"web1\":{\"generation\":5,"
	    "\"state\":\"converging\",\"waiting\":\"web waits for db to "
	    "validate on db1 (no report from its agent yet)\"}}", UP, d,
	    sizeof(d)), REC_FOLLOW_WAITING);
	/* the text alone does not block: the agent names the host */
	assert_int_equal(decide("web1", 5, "{\"web1\":{\"generation\":5,"
	    "\"state\":\"converging\",\"waiting\":\"web waits for db to "
	    "validate on db1\"}, \"db1\":{\"generation\":5,\"state\":"
	    "\"failed\"}}", UP, d, sizeof(d)), REC_FOLLOW_WAITING);
	/* a text without a host: plain waiting */
	assert_int_equal(decide("web1", 5, "{\"web1\":{\"generation\":5,"
	    "\"state\":\"converging\",\"waiting\":\"max_parallel reached\"}}",
	    UP, d, sizeof(d)), REC_FOLLOW_WAITING);
	/* waiting with a dead agent: down */
	assert_int_equal(decide("web1", 5, "{\"web1\":{\"generation\":5,"
	    "\"state\":\"converging\",\"waiting\":\"x on db1\"}}", "{}", d,
	    sizeof(d)), REC_FOLLOW_DOWN);
}

static void
set_host(struct rec_follow_host *h, const char *name, enum rec_follow_state s,
    const char *detail)
{
	memset(h, 0, sizeof(*h));
	h->name = (char *)name;
	h->state = s;
	h->detail = (char *)detail;
	h->took_ms = -1;
}

static void
test_rec_follow_progress__line(void **state)
{
	struct rec_follow_host h[5];
	struct lr_buf b = LR_BUF_INIT;

	(void)state;
	set_host(&h[0], "db1", REC_FOLLOW_CONVERGED, NULL);
	set_host(&h[1], "db2", REC_FOLLOW_CONVERGED, NULL);
	set_host(&h[2], "web1", REC_FOLLOW_CONVERGING, "site config");
	set_host(&h[3], "web2", REC_FOLLOW_WAITING, "web waits for db to "
	    "validate on db1");
	set_host(&h[4], "web3", REC_FOLLOW_CONVERGED, NULL);
	rec_follow_progress(h, 5, 5, 12300, &b);
	assert_string_equal(b.s, "deploy #5: 3/5 converged, 1 converging "
	    "(web1: site config), 1 waiting (web2: web waits for db to "
	    "validate on db1), 0 failed  12s");
	lr_buf_reset(&b);
	set_host(&h[0], "db1", REC_FOLLOW_DOWN, NULL);
	set_host(&h[1], "db2", REC_FOLLOW_FAILED, "step 'x' failed: exit 1");
	set_host(&h[3], "web2", REC_FOLLOW_FAILED, "step 'y' failed: exit 2");
	set_host(&h[4], "web3", REC_FOLLOW_CONVERGING, NULL);
	rec_follow_progress(h, 5, 7, 125000, &b);
	assert_string_equal(b.s, "deploy #7: 0/5 converged, 2 converging "
	    "(web1: site config, +1), 1 agent down (db1), 2 failed (db2, +1)"
	    "  2m05s");
	lr_buf_release(&b);
}

static void
test_rec_follow_fmt_ms__units(void **state)
{
	char t[32];

	(void)state;
	rec_follow_fmt_ms(1400, true, t, sizeof(t));
	assert_string_equal(t, "1.4s");
	rec_follow_fmt_ms(44, true, t, sizeof(t));
	assert_string_equal(t, "44ms");
	rec_follow_fmt_ms(1400, false, t, sizeof(t));
	assert_string_equal(t, "1s");
	rec_follow_fmt_ms(59999, false, t, sizeof(t));
	assert_string_equal(t, "59s");
	rec_follow_fmt_ms(61000, true, t, sizeof(t));
	assert_string_equal(t, "1m01s");
	rec_follow_fmt_ms(30 * 60000L, false, t, sizeof(t));
	assert_string_equal(t, "30m");
	rec_follow_fmt_ms(2 * 3600000L, false, t, sizeof(t));
	assert_string_equal(t, "2h");
	rec_follow_fmt_ms(3720000, false, t, sizeof(t));
	assert_string_equal(t, "1h02m");
	rec_follow_fmt_ms(-5, false, t, sizeof(t));
	assert_string_equal(t, "0s");
}

static void
test_lr_duration_parse__forms(void **state)
{
	long ms;

	(void)state;
	assert_int_equal(lr_duration_parse("90s", &ms), 0);
	assert_int_equal(ms, 90000);
	assert_int_equal(lr_duration_parse("10m", &ms), 0);
	assert_int_equal(ms, 600000);
	assert_int_equal(lr_duration_parse("1h", &ms), 0);
	assert_int_equal(ms, 3600000);
	assert_int_equal(lr_duration_parse("1h30m", &ms), 0);
	assert_int_equal(ms, 5400000);
	assert_int_equal(lr_duration_parse("45", &ms), 0);
	assert_int_equal(ms, 45000);
	assert_int_equal(lr_duration_parse("500ms", &ms), 0);
	assert_int_equal(ms, 500);
	assert_int_equal(lr_duration_parse("30d", &ms), 0);	/* leurad */
	assert_int_equal(ms, 30L * 86400000);
	assert_int_equal(lr_duration_parse("1d12h", &ms), 0);
	assert_int_equal(ms, 36L * 3600000);
	assert_int_equal(lr_duration_parse("367d", &ms), -1);
	assert_int_equal(lr_duration_parse("", &ms), -1);
	assert_int_equal(lr_duration_parse("0s", &ms), -1);
	assert_int_equal(lr_duration_parse("-1s", &ms), -1);
	assert_int_equal(lr_duration_parse("10x", &ms), -1);
	assert_int_equal(lr_duration_parse("m", &ms), -1);
	assert_int_equal(lr_duration_parse("99999999999h", &ms), -1);
}

/* put key=value at revision rev into f */
static void
put_kv(struct rec_follow *f, const char *key, const char *value, int64_t rev)
{
	struct etcd_kv kv = { .key = (char *)key, .value = (char *)value,
	    .value_len = strlen(value), .mod_revision = rev };

	rec_follow_put(f, &kv);
}

/*
 * Agents just started (leura up): no heartbeat yet is "starting", not
 * "agent down"; a heartbeat seen and then lost is down; without
 * starting, no heartbeat is down as before.
 */
static void
test_rec_follow__starting_until_the_first_heartbeat(void **state)
{
	json_t *targets = json_pack("{s:i, s:i}", "web1", 2, "web2", 2);
	struct rec_follow f;

	(void)state;
	rec_follow_init(&f, "/leura", targets, 10);
	f.starting = true;
	/* a heartbeat of an agent before this one (revision < 10) */
	put_kv(&f, "/leura/agents/web2", "{}", 5);
	rec_follow_update(&f, 0);
	assert_int_equal(f.hosts[0].state, REC_FOLLOW_STARTING);
	assert_int_equal(f.hosts[1].state, REC_FOLLOW_STARTING);
	assert_string_equal(rec_follow_state_shown(REC_FOLLOW_STARTING),
	    "starting");
	assert_false(rec_follow_state_done(REC_FOLLOW_STARTING));
	put_kv(&f, "/leura/agents/web1", "{}", 11);
	rec_follow_update(&f, 0);
	assert_int_equal(f.hosts[0].state, REC_FOLLOW_CONVERGING);
	assert_true(f.hosts[0].changed);
	assert_int_equal(f.hosts[1].state, REC_FOLLOW_STARTING);
	rec_follow_del(&f, "/leura/agents/web1");
	rec_follow_update(&f, 0);
	assert_int_equal(f.hosts[0].state, REC_FOLLOW_DOWN);
	rec_follow_release(&f);

	rec_follow_init(&f, "/leura", targets, 0);
	rec_follow_update(&f, 0);
	assert_int_equal(f.hosts[0].state, REC_FOLLOW_DOWN);
	rec_follow_release(&f);
	json_decref(targets);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rec_follow_decide__no_agent_is_down),
		cmocka_unit_test(
		    test_rec_follow__starting_until_the_first_heartbeat),
		cmocka_unit_test(
		    test_rec_follow_decide__pending_until_the_generation),
		cmocka_unit_test(
		    test_rec_follow_decide__converging_names_the_step),
		cmocka_unit_test(test_rec_follow_decide__final_states),
		cmocka_unit_test(
		    test_rec_follow_decide__final_report_of_dead_agent_counts),
		cmocka_unit_test(
		    test_rec_follow_decide__unknown_and_unreadable),
		cmocka_unit_test(test_rec_follow_decide__waiting_and_blocked),
		cmocka_unit_test(test_rec_follow_decide__blocked_transitively),
		cmocka_unit_test(test_rec_follow_decide__chain_not_blocked),
		cmocka_unit_test(test_rec_follow_progress__line),
		cmocka_unit_test(test_rec_follow_fmt_ms__units),
		cmocka_unit_test(test_lr_duration_parse__forms),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
