/*
 * Unit tests of builtin/runout.c, what `leura run --wait`, `run show`
 * and the refusal of a recent run print, fed run records as leurad
 * answers them; stdout and stderr are captured in a temp file.  Links
 * the builtins (leura_cli); no server (tests/server/t_cli_runs.sh runs
 * them against a real one).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "runout.h"
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

/* ---- capturing fd 1 or 2 ---- */

static int saved_fd = -1, cap_fd;
static FILE *cap;

static void
capture_start(int fd)
{
	fflush(stdout);
	fflush(stderr);
	cap = tmpfile();
	assert_non_null(cap);
	cap_fd = fd;
	saved_fd = dup(fd);
	dup2(fileno(cap), fd);
}

/* What was written since capture_start (the caller frees it). */
static char *
capture_end(void)
{
	char *s;
	long n;

	fflush(stdout);
	fflush(stderr);
	dup2(saved_fd, cap_fd);
	close(saved_fd);
	n = ftell(cap);
	s = calloc(1, (size_t)n + 1);
	rewind(cap);
	assert_int_equal(fread(s, 1, (size_t)n, cap), (size_t)n);
	fclose(cap);
	return s;
}

#define HAS(s, w) do {							\
	if (strstr((s), (w)) == NULL) {					\
		fprintf(stderr, "no '%s' in:\n%s\n", (w), (s));		\
		fail();							\
	}								\
} while (0)
#define HASNT(s, w) do {						\
	if (strstr((s), (w)) != NULL) {					\
		fprintf(stderr, "'%s' in:\n%s\n", (w), (s));		\
		fail();							\
	}								\
} while (0)

#define RUN_FAILED "{\"id\":\"r@20261207-224001-a1b2c3\",\"kind\":\"task\"," \
    "\"task\":\"drain\",\"by\":\"alice\",\"via\":\"api\"," \
    "\"created\":\"2026-12-07T22:40:01Z\"," \
    "\"started\":\"2026-12-07T22:40:01.000Z\"," \
    "\"ended\":\"2026-12-07T22:40:04.200Z\",\"state\":\"finalised\"," \
    "\"outcome\":\"failed\",\"reason\":\"step 'stop' failed on web2\"," \
    "\"params\":{\"count\":3,\"name\":\"x\"},\"targets\":{\"hosts\":" \
    "[\"web1\",\"web2\"]},\"hosts\":[\"web1\",\"web2\"]," \
    "\"parallel\":0,\"on_failure\":\"stop\"," \
    "\"steps\":[{\"name\":\"stop\",\"kind\":\"script\"}," \
    "{\"name\":\"sign-off\",\"kind\":\"approval\",\"approval\":" \
    "{\"groups\":[\"sre\"]}}]," \
    "\"progress\":{\"web1\":[{\"state\":\"done\",\"status\":\"ok\"}," \
    "{\"state\":\"done\"}],\"web2\":[{\"state\":\"done\",\"status\":" \
    "\"failed\"},{\"state\":\"pending\"}]}," \
    "\"approvals\":[{\"step\":1,\"decision\":\"approved\",\"by\":\"bob\"," \
    "\"at\":\"2026-12-07T22:40:03Z\",\"message\":\"fine\"}]," \
    "\"results\":{\"web1\":{\"0000\":{\"status\":\"ok\",\"exit_code\":0," \
    "\"duration_ms\":120}},\"web2\":{\"0000\":{\"status\":\"failed\"," \
    "\"exit_code\":3,\"attempts\":2,\"duration_ms\":1200,\"error\":" \
    "\"exit status 3\",\"tail\":\"l1\\nl2\\nl3\\nl4\\nl5\\nl6\\nl7\\nl8\\n" \
    "l9\\nl10\\nl11\\nboom \\u001b[31mred\\n\"}}}}"

static void
test_cmd_run_print__summary_after_wait(void **state)
{
	json_t *run = J(RUN_FAILED);
	char *out;

	(void)state;
	capture_start(STDOUT_FILENO);
	cmd_run_print(run, false, 0);
	out = capture_end();
	HAS(out, "Run r@20261207-224001-a1b2c3 (drain): failed in 3.2s "
	    "(step 'stop' failed on web2)");
	/* a host where all went well is one name on the ok line */
	HAS(out, "1 host ok: web1\n");
	HAS(out, "\nweb2\n");
	HAS(out, "   1. stop");
	HAS(out, "failed     exit 3, 2 attempts, 1.2s");
	HAS(out, "error: exit status 3");
	/* the last 10 lines of the preview, the first ones elided */
	HAS(out, "        | ...\n        | l3\n");
	HASNT(out, "| l2\n");
	/* an escape the step printed is shown, not sent to the terminal */
	HAS(out, "| boom \\x1b[31mred");
	HASNT(out, "\x1b");
	HAS(out, "   2. sign-off");
	HAS(out, "approved by bob");
	free(out);
	json_decref(run);
}

static void
test_cmd_run_print__show_every_field(void **state)
{
	json_t *run = J(RUN_FAILED);
	char *out;

	(void)state;
	json_object_set_new(run, "cancel", J("{\"by\":\"carol\",\"at\":"
	    "\"2026-12-07T22:40:04Z\",\"message\":\"too slow\"}"));
	json_object_set_new(run, "forced", J("{\"recent\":\"r@x\"}"));
	capture_start(STDOUT_FILENO);
	cmd_run_print(run, true, 0);
	out = capture_end();
	HAS(out, "run        r@20261207-224001-a1b2c3\n");
	HAS(out, "task       drain\n");
	HAS(out, "by         alice (api)\n");
	HAS(out, "state      finalised: failed (step 'stop' failed on web2)");
	HAS(out, "took       3.2s\n");
	HAS(out, "params     count=3, name=x\n");
	HAS(out, "targets    hosts: web1, web2\n");
	HAS(out, "hosts      2: web1, web2\n");
	HAS(out, "policy     parallel all, on_failure stop\n");
	HAS(out, "forced     over the recent run r@x\n");
	HAS(out, "approval   step 2 'sign-off' approved by bob at "
	    "2026-12-07T22:40:03Z: fine\n");
	HAS(out, "cancelled  by carol at 2026-12-07T22:40:04Z: too slow\n");
	/* show lists every host, ok ones too */
	HAS(out, "\nweb1\n");
	HAS(out, "ok         120ms");
	free(out);
	json_decref(run);
}

static void
test_cmd_run_print__exec_and_waiting(void **state)
{
	json_t *run = J("{\"id\":\"r@1\",\"kind\":\"exec\",\"task\":null,"
	    "\"command\":\"uptime\",\"run_as\":\"nobody\",\"by\":\"alice\","
	    "\"state\":\"waiting_approval\",\"hosts\":[\"a\"],\"steps\":["
	    "{\"name\":\"go\",\"kind\":\"approval\",\"approval\":{\"groups\":"
	    "[\"sre\",\"leads\"],\"timeout_ms\":3600000}}],\"approvals\":[]}");
	char *out;

	(void)state;
	capture_start(STDOUT_FILENO);
	cmd_run_print(run, true, 0);
	out = capture_end();
	HAS(out, "command    uptime  (as nobody)\n");
	HAS(out, "Waiting for approval of step 1 'go' by a member of sre, "
	    "leads (times out after 1h):\n  leura approve r@1 [-m WHY]\n"
	    "  leura approve --reject r@1 [-m WHY]\n");
	HAS(out, "(not by alice, who started it");
	HAS(out, "waiting for approval");
	HASNT(out, "params");
	free(out);
	json_decref(run);
}

static void
test_cmd_run_print_recent__who_when_where_how(void **state)
{
	json_t *recent = J("{\"id\":\"r@20261207-224001-a1b2c3\",\"by\":"
	    "\"alice\",\"created\":\"2026-12-07T22:40:01Z\",\"hosts\":"
	    "[\"web1\",\"web2\"],\"outcome\":\"succeeded\"}");
	char *err;
	int64_t now;

	(void)state;
	assert_int_equal(rec_runs_time_parse("2026-12-07T22:44:13Z", &now),
	    0);
	capture_start(STDERR_FILENO);
	cmd_run_print_recent(recent, now);
	json_object_set_new(recent, "outcome", json_null());
	cmd_run_print_recent(recent, now);
	err = capture_end();
	HAS(err, "  run      r@20261207-224001-a1b2c3\n");
	HAS(err, "  by       alice\n");
	HAS(err, "  at       2026-12-07T22:40:01Z (4m12s ago)\n");
	HAS(err, "  hosts    web1, web2\n");
	HAS(err, "  ended    succeeded\n");
	HAS(err, "  ended    not yet: it is still running\n");
	free(err);
	json_decref(recent);
}

static void
test_cmd_run_check_id(void **state)
{
	char *err;

	(void)state;
	assert_int_equal(cmd_run_check_id("r@20261207-224001-a1b2c3"), 0);
	capture_start(STDERR_FILENO);
	assert_int_equal(cmd_run_check_id("drain"), LR_EXIT_USAGE);
	err = capture_end();
	HAS(err, "'drain' is not a run id");
	HAS(err, "hint: run ids look like r@");
	free(err);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cmd_run_print__summary_after_wait),
		cmocka_unit_test(test_cmd_run_print__show_every_field),
		cmocka_unit_test(test_cmd_run_print__exec_and_waiting),
		cmocka_unit_test(test_cmd_run_print_recent__who_when_where_how),
		cmocka_unit_test(test_cmd_run_check_id),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
