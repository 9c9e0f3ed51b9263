/*
 * Unit tests of reconcile/runs.c, the pure half of `leura run`, `exec`,
 * `runs`, `cancel` and `approve`: -p and target arguments into a
 * request, an argv into one shell line, times, and what run records as
 * leurad answers them say (state, results, the approval waited on, the
 * progress line, labels).  No server (tests/server/t_cli_runs.sh runs
 * the rest).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "runs.h"

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

static void
test_rec_runs_param_add__name_value(void **state)
{
	json_t *p = json_object();
	struct lr_err err;

	(void)state;
	lr_err_clear(&err);
	assert_int_equal(rec_runs_param_add(p, "count=3", &err), 0);
	/* the value keeps its '=' and may be empty */
	assert_int_equal(rec_runs_param_add(p, "q=a=b", &err), 0);
	assert_int_equal(rec_runs_param_add(p, "empty=", &err), 0);
	assert_string_equal(json_string_value(json_object_get(p, "count")),
	    "3");
	assert_string_equal(json_string_value(json_object_get(p, "q")),
	    "a=b");
	assert_string_equal(json_string_value(json_object_get(p, "empty")),
	    "");
	json_decref(p);
}

static void
test_rec_runs_param_add__bad(void **state)
{
	json_t *p = json_object();
	struct lr_err err;

	(void)state;
	lr_err_clear(&err);
	assert_int_equal(rec_runs_param_add(p, "count", &err), LR_EINVAL);
	assert_non_null(strstr(err.msg, "'count' is not NAME=VALUE"));
	assert_non_null(strstr(err.hint, "-p NAME=VALUE"));
	lr_err_clear(&err);
	assert_int_equal(rec_runs_param_add(p, "=3", &err), LR_EINVAL);
	assert_non_null(strstr(err.msg, "no param name"));
	lr_err_clear(&err);
	assert_int_equal(rec_runs_param_add(p, "n=1", &err), 0);
	assert_int_equal(rec_runs_param_add(p, "n=2", &err), LR_EINVAL);
	assert_non_null(strstr(err.msg, "'n' is given twice"));
	assert_int_equal(json_object_size(p), 1);
	json_decref(p);
}

static void
test_rec_runs_target_add__lists(void **state)
{
	json_t *t = json_object();
	struct lr_err err;
	char *s;

	(void)state;
	lr_err_clear(&err);
	assert_int_equal(rec_runs_target_add(t, "hosts", "web1,web2", &err),
	    0);
	assert_int_equal(rec_runs_target_add(t, "hosts", "db1", &err), 0);
	assert_int_equal(rec_runs_target_add(t, "groups", "core", &err), 0);
	s = json_dumps(t, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(s, "{\"groups\":[\"core\"],\"hosts\":"
	    "[\"web1\",\"web2\",\"db1\"]}");
	free(s);
	assert_int_equal(rec_runs_target_add(t, "hosts", "a,,b", &err),
	    LR_EINVAL);
	assert_non_null(strstr(err.msg, "--hosts 'a,,b' has an empty name"));
	assert_int_equal(rec_runs_target_add(t, "services", "", &err),
	    LR_EINVAL);
	assert_int_equal(rec_runs_target_add(t, "hosts", "a,", &err),
	    LR_EINVAL);
	json_decref(t);
}

static void
test_rec_runs_shell_join__quotes_what_needs_it(void **state)
{
	char *a[] = { "grep", "-c", "a b", "it's", "", "$HOME", "x=1",
	    "/etc/hosts", "a;b" };
	char *s;

	(void)state;
	s = rec_runs_shell_join(a, 9);
	assert_string_equal(s, "grep -c 'a b' 'it'\\''s' '' '$HOME' x=1 "
	    "/etc/hosts 'a;b'");
	free(s);
	s = rec_runs_shell_join(a, 0);
	assert_string_equal(s, "");
	free(s);
}

static void
test_rec_runs_time_parse__forms(void **state)
{
	int64_t ms;

	(void)state;
	assert_int_equal(rec_runs_time_parse("1970-01-01T00:00:01Z", &ms), 0);
	assert_int_equal(ms, 1000);
	assert_int_equal(rec_runs_time_parse("2026-12-07T22:40:01.250Z",
	    &ms), 0);
	assert_int_equal(ms, 1796683201250LL);
	assert_int_equal(rec_runs_time_parse("2026-12-07T23:40:01+01:00",
	    &ms), 0);
	assert_int_equal(ms, 1796683201000LL);
	assert_int_equal(rec_runs_time_parse("2026-12-07T22:40:01.5Z", &ms),
	    0);
	assert_int_equal(ms, 1796683201500LL);
	assert_int_equal(rec_runs_time_parse("2026-12-07 22:40:01Z", &ms), -1);
	assert_int_equal(rec_runs_time_parse("2026-12-07T22:40:01", &ms), -1);
	assert_int_equal(rec_runs_time_parse("2026-13-07T22:40:01Z", &ms), -1);
	assert_int_equal(rec_runs_time_parse("2026-12-07T22:40:01Zx", &ms),
	    -1);
	assert_int_equal(rec_runs_time_parse("", &ms), -1);
	assert_int_equal(rec_runs_time_parse(NULL, &ms), -1);
}

#define RUN_WAITING "{\"id\":\"r@20261207-224001-a1b2c3\",\"task\":\"drain\"," \
    "\"state\":\"waiting_approval\",\"outcome\":null," \
    "\"steps\":[{\"name\":\"stop\",\"kind\":\"script\"}," \
    "{\"name\":\"ok1\",\"kind\":\"approval\",\"approval\":{\"groups\":" \
    "[\"sre\"]}},{\"name\":\"ok2\",\"kind\":\"approval\"}]," \
    "\"approvals\":[{\"step\":1,\"decision\":\"approved\",\"by\":\"bob\"}]}"

static void
test_rec_runs_state__outcome_once_final(void **state)
{
	json_t *a = J(RUN_WAITING);
	json_t *b = J("{\"state\":\"finalised\",\"outcome\":\"failed\"}");
	json_t *c = J("{}");

	(void)state;
	assert_false(rec_runs_is_final(a));
	assert_string_equal(rec_runs_state(a), "waiting_approval");
	assert_true(rec_runs_is_final(b));
	assert_string_equal(rec_runs_state(b), "failed");
	assert_string_equal(rec_runs_state(c), "?");
	json_decref(a);
	json_decref(b);
	json_decref(c);
}

static void
test_rec_runs_pending_approval__first_undecided(void **state)
{
	json_t *a = J(RUN_WAITING);

	(void)state;
	/* step 1 was approved: the run waits on step 2 */
	assert_int_equal(rec_runs_pending_approval(a), 2);
	json_object_set_new(a, "state", json_string("running"));
	assert_int_equal(rec_runs_pending_approval(a), -1);
	json_decref(a);
}

static void
test_rec_runs_result__object_or_array(void **state)
{
	json_t *a = J("{\"results\":{\"web1\":{\"0001\":{\"status\":\"ok\"}},"
	    "\"web2\":[{\"status\":\"failed\"}, null]}}");

	(void)state;
	assert_string_equal(json_string_value(json_object_get(
	    rec_runs_result(a, "web1", 1), "status")), "ok");
	assert_null(rec_runs_result(a, "web1", 0));
	assert_string_equal(json_string_value(json_object_get(
	    rec_runs_result(a, "web2", 0), "status")), "failed");
	assert_null(rec_runs_result(a, "web2", 1));
	assert_null(rec_runs_result(a, "db1", 0));
	json_decref(a);
}

static void
test_rec_runs_label__exec_cut(void **state)
{
	json_t *a = J("{\"task\":null,\"command\":\"echo \\u00e9\\u00e9\\u00e9"
	    "\\u00e9 \\u001b[31m\"}");
	json_t *t = J("{\"task\":\"drain\"}");
	struct lr_buf b = LR_BUF_INIT;

	(void)state;
	rec_runs_label(t, 10, &b);
	assert_string_equal(b.s, "drain");
	lr_buf_reset(&b);
	rec_runs_label(a, 100, &b);
	/* an escape from the store is shown, never sent to the terminal */
	assert_string_equal(b.s, "exec: echo \xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9 "
	    "\\x1b[31m");
	lr_buf_reset(&b);
	/* cut to fit 16 bytes with "...", between characters */
	rec_runs_label(a, 16, &b);
	assert_string_equal(b.s, "exec: echo \xc3\xa9...");
	lr_buf_reset(&b);
	/* 15: 12 bytes would end inside the first character */
	rec_runs_label(a, 15, &b);
	assert_string_equal(b.s, "exec: echo ...");
	lr_buf_release(&b);
	json_decref(a);
	json_decref(t);
}

static void
test_rec_runs_took_and_ago(void **state)
{
	json_t *a = J("{\"state\":\"finalised\",\"started\":"
	    "\"2026-12-07T22:40:01.000Z\",\"ended\":\"2026-12-07T22:40:04.200Z\"}");
	json_t *b = J("{\"state\":\"running\",\"started\":"
	    "\"2026-12-07T22:40:01Z\"}");
	json_t *c = J("{\"state\":\"scheduled\"}");
	struct lr_buf s = LR_BUF_INIT;
	int64_t now;

	(void)state;
	assert_int_equal(rec_runs_time_parse("2026-12-07T22:44:13Z", &now), 0);
	rec_runs_took(a, now, &s);
	assert_string_equal(s.s, "3.2s");
	lr_buf_reset(&s);
	rec_runs_took(b, now, &s);
	assert_string_equal(s.s, "4m12s");
	lr_buf_reset(&s);
	rec_runs_took(c, now, &s);
	assert_string_equal(s.s, "-");
	lr_buf_reset(&s);
	rec_runs_ago("2026-12-07T22:40:01Z", now, &s);
	assert_string_equal(s.s, "4m12s ago");
	lr_buf_reset(&s);
	rec_runs_ago("2026-12-07T22:50:01Z", now, &s);
	assert_string_equal(s.s, "just now");
	lr_buf_reset(&s);
	rec_runs_ago("nonsense", now, &s);
	assert_int_equal(s.len, 0);
	lr_buf_release(&s);
	json_decref(a);
	json_decref(b);
	json_decref(c);
}

static void
test_rec_runs_progress__counts(void **state)
{
	json_t *a = J("{\"state\":\"running\",\"steps\":[{\"name\":\"stop\"},"
	    "{\"name\":\"restart\"}],\"progress\":{"
	    "\"web1\":[{\"state\":\"done\",\"status\":\"ok\"},"
	    "{\"state\":\"running\"}],"
	    "\"web2\":[{\"state\":\"done\",\"status\":\"ok\"},"
	    "{\"state\":\"done\",\"status\":\"changed\"}],"
	    "\"web3\":[{\"state\":\"done\",\"status\":\"lost\"},"
	    "{\"state\":\"pending\"}],"
	    "\"web4\":[{\"state\":\"pending\"},{\"state\":\"pending\"}]}}");
	struct lr_buf s = LR_BUF_INIT;

	(void)state;
	rec_runs_progress(a, &s);
	assert_string_equal(s.s, "running: 2/4 hosts done, 1 failed, "
	    "1 running (web1: restart)");
	lr_buf_release(&s);
	json_decref(a);
}

static void
test_rec_runs_backoff__doubles_to_2s(void **state)
{
	(void)state;
	assert_int_equal(rec_runs_backoff(0), 250);
	assert_int_equal(rec_runs_backoff(250), 500);
	assert_int_equal(rec_runs_backoff(500), 1000);
	assert_int_equal(rec_runs_backoff(1000), 2000);
	assert_int_equal(rec_runs_backoff(2000), 2000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rec_runs_param_add__name_value),
		cmocka_unit_test(test_rec_runs_param_add__bad),
		cmocka_unit_test(test_rec_runs_target_add__lists),
		cmocka_unit_test(test_rec_runs_shell_join__quotes_what_needs_it),
		cmocka_unit_test(test_rec_runs_time_parse__forms),
		cmocka_unit_test(test_rec_runs_state__outcome_once_final),
		cmocka_unit_test(test_rec_runs_pending_approval__first_undecided),
		cmocka_unit_test(test_rec_runs_result__object_or_array),
		cmocka_unit_test(test_rec_runs_label__exec_cut),
		cmocka_unit_test(test_rec_runs_took_and_ago),
		cmocka_unit_test(test_rec_runs_progress__counts),
		cmocka_unit_test(test_rec_runs_backoff__doubles_to_2s),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
