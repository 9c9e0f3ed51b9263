/*
 * Tests of agent/step.c: real processes, real files and a real (loopback,
 * one-shot) HTTP server, each test in its own mkdtemp folder with its own
 * libuv loop, run to completion and closed (uv_loop_close must return 0).
 * alarm() bounds every test.
 *
 * The binary is its own run_as trampoline: `agent_test_step --exec-as USER
 * -- PROG...` calls agent_step_exec_as_main, like leura-agent.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "buf.h"
#include "err.h"
#include "hash.h"
#include "step.h"
#include "xalloc.h"

struct fx {
	char		 dir[64];
	char		*files;
	char		*work;
	char		*log;
	char		 self[PATH_MAX];
	uv_loop_t	 loop;
	struct agent_step_ctx ctx;
	struct agent_step_run *run;
	int		 calls;
	struct agent_step_result res;	/* copy; tail and message below */
	char		*tail;
	json_t		*message;
};

/* ---- helpers ---- */

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static char *
slurp(const char *path)
{
	struct lr_buf b = LR_BUF_INIT;
	char chunk[4096];
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY)) < 0)
		return NULL;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		lr_buf_add(&b, chunk, (size_t)n);
	close(fd);
	return lr_buf_detach(&b, NULL);
}

static void
spew(const char *path, const char *s, mode_t mode)
{
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

/* Store s under files/<sha256>; the sha256 into sha. */
static void
store(struct fx *fx, const char *s, char sha[65], mode_t mode)
{
	char *path;

	lr_sha256_hex(s, strlen(s), sha);
	path = lr_xasprintf("%s/%s", fx->files, sha);
	spew(path, s, mode);
	free(path);
}

static int
setup(void **state)
{
	struct fx *fx = lr_xcalloc(1, sizeof(*fx));
	ssize_t n;

	alarm(60);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/leura-step-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	fx->files = lr_xasprintf("%s/files", fx->dir);
	fx->work = lr_xasprintf("%s/work", fx->dir);
	fx->log = lr_xasprintf("%s/step.log", fx->dir);
	assert_int_equal(mkdir(fx->files, 0700), 0);
	assert_int_equal(mkdir(fx->work, 0700), 0);
	n = readlink("/proc/self/exe", fx->self, sizeof(fx->self) - 1);
	assert_true(n > 0);
	fx->self[n] = '\0';
	assert_int_equal(uv_loop_init(&fx->loop), 0);
	fx->ctx.loop = &fx->loop;
	fx->ctx.mode = AGENT_STEP_RUN;
	fx->ctx.files_dir = fx->files;
	fx->ctx.work_dir = fx->work;
	fx->ctx.log_path = fx->log;
	fx->ctx.self_exe = fx->self;
	fx->ctx.host = "h1";
	fx->ctx.generation = 7;
	fx->ctx.retry_base_ms = 10;
	fx->ctx.kill_grace_ms = 1000;
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(uv_loop_close(&fx->loop), 0);
	nftw(fx->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(fx->files);
	free(fx->work);
	free(fx->log);
	free(fx->tail);
	json_decref(fx->message);
	free(fx);
	alarm(0);
	return 0;
}

static void
done(struct agent_step_run *run, const struct agent_step_result *res,
    void *arg)
{
	struct fx *fx = arg;

	assert_ptr_equal(run, fx->run);
	fx->calls++;
	fx->res = *res;
	fx->res.tail = NULL;
	fx->res.message = NULL;
	free(fx->tail);
	fx->tail = lr_xstrdup(res->tail);
	json_decref(fx->message);
	fx->message = json_incref(res->message);
	fx->run = NULL;
}

/* Start the step (a JSON text), run the loop dry, check one callback. */
static void
run_json(struct fx *fx, const char *text)
{
	struct lr_err err = { 0 };
	json_error_t je;
	json_t *step;

	step = json_loads(text, 0, &je);
	if (step == NULL)
		fail_msg("bad test step: %s: %s", je.text, text);
	fx->ctx.step = step;
	fx->calls = 0;
	if (agent_step_start(&fx->ctx, done, fx, &fx->run, &err) < 0)
		fail_msg("agent_step_start: %s", err.msg);
	assert_int_equal(fx->calls, 0);		/* never from start */
	assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(fx->calls, 1);
	json_decref(step);
	fx->ctx.step = NULL;
}

/* A script step with extra fields (", ..." or ""). */
static void
run_script(struct fx *fx, const char *script, const char *extra)
{
	json_t *o = json_pack("{s:s, s:s, s:s}", "id", "svc/r/converge/x",
	    "kind", "script", "script", script);
	char *text, *full;
	size_t n;

	text = json_dumps(o, JSON_COMPACT);
	n = strlen(text);
	text[n - 1] = '\0';			/* drop the '}' */
	full = lr_xasprintf("%s%s}", text, extra);
	run_json(fx, full);
	free(full);
	free(text);
	json_decref(o);
}

/* Whether pid is gone (or a zombie nobody reaps: PID 1 may not). */
static bool
pid_gone(pid_t pid)
{
	char path[64], *stat, *p;
	bool gone;

	if (kill(pid, 0) < 0 && errno == ESRCH)
		return true;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((stat = slurp(path)) == NULL)
		return true;
	p = strrchr(stat, ')');
	gone = p && p[1] == ' ' && p[2] == 'Z';
	free(stat);
	return gone;
}

static bool
wait_gone(pid_t pid, int ms)
{
	for (; ms > 0; ms -= 20) {
		if (pid_gone(pid))
			return true;
		usleep(20000);
	}
	return pid_gone(pid);
}

/* ---- script steps ---- */

static void
test_agent_step_start__script_changed_tail_and_log(void **state)
{
	struct fx *fx = *state;
	char *log;

	run_script(fx, "echo hello; echo oops >&2; echo bye", "");
	assert_int_equal(fx->res.status, AGENT_STEP_CHANGED);
	assert_string_equal(agent_step_status_name(fx->res.status),
	    "changed");
	assert_int_equal(fx->res.exit_code, 0);
	assert_int_equal(fx->res.term_signal, 0);
	assert_false(fx->res.timed_out);
	assert_int_equal(fx->res.attempts, 1);
	assert_string_equal(fx->res.error, "");
	assert_string_equal(fx->tail, "hello\noops\nbye\n");
	assert_true(fx->res.started_ms > 1600000000000LL);
	assert_true(fx->res.duration_ms >= 0 &&
	    fx->res.duration_ms < 5000);
	assert_null(fx->message);
	log = slurp(fx->log);
	assert_non_null(strstr(log, "hello\noops\nbye\n"));
	assert_non_null(strstr(log, "[leura] changed"));
	free(log);
	assert_int_equal(access(fx->log, F_OK), 0);
}

static void
test_agent_step_start__script_failure_exit_code(void **state)
{
	struct fx *fx = *state;

	run_script(fx, "echo bad; exit 3", "");
	assert_int_equal(fx->res.status, AGENT_STEP_FAILED);
	assert_int_equal(fx->res.exit_code, 3);
	assert_string_equal(fx->res.error, "exited with status 3");
	assert_string_equal(fx->tail, "bad\n");

	run_script(fx, "kill -USR1 $$; sleep 5", "");
	assert_int_equal(fx->res.status, AGENT_STEP_FAILED);
	assert_int_equal(fx->res.exit_code, -1);
	assert_int_equal(fx->res.term_signal, SIGUSR1);

	run_script(fx, "true", ", \"shell\": \"/nonexistent/sh\"");
	assert_int_equal(fx->res.status, AGENT_STEP_FAILED);
	assert_non_null(strstr(fx->res.error, "cannot run '/nonexistent/sh'"));
}

static void
test_agent_step_start__timeout_kills_process_group(void **state)
{
	struct fx *fx = *state;
	char *script, *pidfile, *s;
	pid_t bg;

	pidfile = lr_xasprintf("%s/bg.pid", fx->dir);
	script = lr_xasprintf("sleep 30 & echo $! > %s; echo started; "
	    "sleep 30", pidfile);
	run_script(fx, script, ", \"timeout_ms\": 300");
	assert_int_equal(fx->res.status, AGENT_STEP_FAILED);
	assert_true(fx->res.timed_out);
	assert_int_equal(fx->res.exit_code, -1);
	assert_int_equal(fx->res.term_signal, SIGTERM);
	assert_string_equal(fx->res.error, "timed out after 300 ms");
	assert_string_equal(fx->tail, "started\n");
	assert_true(fx->res.duration_ms < 3000);
	s = slurp(pidfile);
	assert_non_null(s);
	bg = (pid_t)atoi(s);
	assert_true(bg > 1);
	assert_true(wait_gone(bg, 2000));	/* the background sleep too */
	free(s);
	free(script);
	free(pidfile);
}

static void
test_agent_step_start__sigkill_after_grace(void **state)
{
	struct fx *fx = *state;

	/* SIGTERM ignored (by sleep too): SIGKILL after the grace */
	fx->ctx.kill_grace_ms = 300;
	run_script(fx, "trap '' TERM; echo up; sleep 30",
	    ", \"timeout_ms\": 200");
	assert_int_equal(fx->res.status, AGENT_STEP_FAILED);
	assert_true(fx->res.timed_out);
	assert_int_equal(fx->res.term_signal, SIGKILL);
	assert_true(fx->res.duration_ms >= 450);
	assert_true(fx->res.duration_ms < 3000);
}

static void
test_agent_step_start__background_output_does_not_hang(void **state)
{
	struct fx *fx = *state;
	char *script, *pidfile, *s;

	/* the background sleep keeps the output pipe open after exit */
	pidfile = lr_xasprintf("%s/bg.pid", fx->dir);
	script = lr_xasprintf("sleep 20 & echo $! > %s; echo done",
	    pidfile);
	run_script(fx, script, "");
	assert_int_equal(fx->res.status, AGENT_STEP_CHANGED);
	assert_string_equal(fx->tail, "done\n");
	assert_true(fx->res.duration_ms < 5000);
	s = slurp(pidfile);
	assert_non_null(s);
	kill((pid_t)atoi(s), SIGKILL);
	free(s);
	free(script);
	free(pidfile);
}

static void
test_agent_step_start__retries_with_backoff(void **state)
{
	struct fx *fx = *state;
	char *extra;

	/* fails the first time, succeeds the second */
	extra = lr_xasprintf(", \"cwd\": \"%s\", \"retries\": 2", fx->dir);
	run_script(fx, "n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); "
	    "echo $n > count; echo try $n; [ $n -ge 2 ]", extra);
	assert_int_equal(fx->res.status, AGENT_STEP_CHANGED);
	assert_int_equal(fx->res.attempts, 2);
	assert_int_equal(fx->res.exit_code, 0);
	assert_string_equal(fx->tail, "try 1\ntry 2\n");
	free(extra);

	/* every attempt fails: 1 + retries attempts, back-off 10, 20 ms */
	run_script(fx, "exit 4", ", \"retries\": 2");
	assert_int_equal(fx->res.status, AGENT_STEP_FAILED);
	assert_int_equal(fx->res.attempts, 3);
	assert_int_equal(fx->res.exit_code, 4);
	assert_true(fx->res.duration_ms >= 30);
}

static void
test_agent_step_start__guards_skip(void **state)
{
	struct fx *fx = *state;
	char *extra;

	extra = lr_xasprintf(", \"creates\": \"%s\"", fx->files);
	run_script(fx, "echo ran", extra);
	assert_int_equal(fx->res.status, AGENT_STEP_SKIPPED);
	assert_int_equal(fx->res.attempts, 0);
	assert_non_null(strstr(fx->res.error, "exists"));
	assert_string_equal(fx->tail, "");
	free(extra);

	run_script(fx, "echo ran", ", \"creates\": \"/nonexistent/x\"");
	assert_int_equal(fx->res.status, AGENT_STEP_CHANGED);
	assert_string_equal(fx->tail, "ran\n");

	run_script(fx, "echo ran",
	    ", \"unless\": \"test -n \\\"$LEURA_HOST\\\"\"");
	assert_int_equal(fx->res.status, AGENT_STEP_SKIPPED);
	assert_int_equal(fx->res.attempts, 0);
	assert_int_equal(fx->res.exit_code, 0);
	assert_string_equal(fx->res.error,
	    "unless: 'test -n \"$LEURA_HOST\"' exited 0");

	run_script(fx, "echo ran", ", \"unless\": \"echo checking; false\"");
	assert_int_equal(fx->res.status, AGENT_STEP_CHANGED);
	assert_int_equal(fx->res.attempts, 1);
	assert_string_equal(fx->tail, "checking\nran\n");

	/* creates first: unless does not run */
	run_script(fx, "echo ran", ", \"creates\": \"/\", "
	    "\"unless\": \"echo unless ran\"");
	assert_int_equal(fx->res.status, AGENT_STEP_SKIPPED);
	assert_string_equal(fx->tail, "");
}

static void
test_agent_step_start__env_and_cwd(void **state)
{
	struct fx *fx = *state;
	char *extra, *want, real[PATH_MAX];

	setenv("LEURA_TEST_INHERITED", "inherited", 1);
	setenv("LEURA_TEST_OVERRIDDEN", "old", 1);
	extra = lr_xasprintf(", \"cwd\": \"%s\", \"env\": {\"FOO\": \"bar "
	    "baz\", \"LEURA_TEST_OVERRIDDEN\": \"new\", \"N\": 3}", fx->work);
	run_script(fx, "echo \"$FOO|$N|$LEURA_TEST_INHERITED|"
	    "$LEURA_TEST_OVERRIDDEN|$LEURA_HOST|$LEURA_STEP_ID|"
	    "$LEURA_GENERATION\"; pwd -P", extra);
	assert_int_equal(fx->res.status, AGENT_STEP_CHANGED);
	assert_non_null(realpath(fx->work, real));
	want = lr_xasprintf("bar baz|3|inherited|new|h1|svc/r/converge/x|7\n"
	    "%s\n", real);
	assert_string_equal(fx->tail, want);
	free(want);
	free(extra);
	unsetenv("LEURA_TEST_INHERITED");
	unsetenv("LEURA_TEST_OVERRIDDEN");

	/* stdin is /dev/null */
	run_script(fx, "cat; echo eof", "");
	assert_string_equal(fx->tail, "eof\n");

	/* a cwd that does not exist: the command cannot start */
	run_script(fx, "pwd", ", \"cwd\": \"/nonexistent/dir\"");
	assert_int_equal(fx->res.status, AGENT_STEP_FAILED);
	assert_non_null(strstr(fx->res.error, "cannot run"));
}

static void
test_agent_step_start__tail_keeps_last_4k(void **state)
{
	struct fx *fx = *state;
	struct lr_buf want = LR_BUF_INIT;
	struct stat st;
	int i;

	/* 2000 lines of 5 bytes: 10000 bytes */
	run_script(fx, "i=0; while [ $i -lt 2000 ]; do printf '%04d\\n' $i; "
	    "i=$((i+1)); done", "");
	assert_int_equal(fx->res.status, AGENT_STEP_CHANGED);
	for (i = 0; i < 2000; i++)
		lr_buf_printf(&want, "%04d\n", i);
	assert_int_equal(strlen(fx->tail), AGENT_STEP_TAIL);
	assert_string_equal(fx->tail, want.s + want.len - AGENT_STEP_TAIL);
	assert_int_equal(stat(fx->log, &st), 0);
	assert_true(st.st_size >= 10000);
	assert_int_equal(st.st_mode & 0777, 0600);

	/* the same in one write (awk buffers its output) */
	run_script(fx, "awk 'BEGIN { for (i = 0; i < 2000; i++) "
	    "printf \"%04d\\n\", i }'", "");
	assert_int_equal(fx->res.status, AGENT_STEP_CHANGED);
	assert_string_equal(fx->tail, want.s + want.len - AGENT_STEP_TAIL);
	lr_buf_release(&want);
}

static void
test_agent_step_start__log_capped_head_and_tail(void **state)
{
	struct fx *fx = *state;
	unsigned long long cut = 0;
	const size_t out = 3 * 1024 * 1024;	/* and the two lines */
	struct stat st;
	char *log, *p;

	/* 3 MiB of output, three times the cap, between two lines */
	run_script(fx, "echo FIRST-LINE; head -c 3145728 /dev/zero | "
	    "tr '\\0' x; echo; echo LAST-LINE", "");
	assert_int_equal(fx->res.status, AGENT_STEP_CHANGED);
	assert_int_equal(stat(fx->log, &st), 0);
	assert_true((size_t)st.st_size <= AGENT_STEP_LOG_MAX + 1024);
	assert_true((size_t)st.st_size >= AGENT_STEP_LOG_MAX);
	log = slurp(fx->log);
	assert_non_null(strstr(log, "FIRST-LINE\n"));
	assert_non_null(p = strstr(log, "\n[leura] "));
	assert_int_equal(sscanf(p, "\n[leura] %llu bytes of output cut here",
	    &cut), 1);
	/* what was cut is the output less what the log kept of it */
	assert_true(cut > out - AGENT_STEP_LOG_MAX &&
	    cut <= out - AGENT_STEP_LOG_MAX + 1024);
	assert_non_null(strstr(p, "the log of a step keeps its first 524288 "
	    "and last 524288 bytes\n"));
	assert_non_null(strstr(p, "xxx\nLAST-LINE\n[leura] changed"));
	free(log);
	/* the result's tail says so too, and ends as the output did */
	assert_true(strlen(fx->tail) <= AGENT_STEP_TAIL);
	assert_true(strncmp(fx->tail, "[leura] ", 8) == 0);
	assert_non_null(strstr(fx->tail, " bytes of output cut from the log "
	    "(it keeps the first 524288 and the last 524288); the end:\n"));
	p = fx->tail + strlen(fx->tail) - strlen("xxx\nLAST-LINE\n");
	assert_string_equal(p, "xxx\nLAST-LINE\n");

	/* under the cap: all of it, and the tail as ever */
	run_script(fx, "echo short", "");
	assert_string_equal(fx->tail, "short\n");
}

/* A script of ~128 KiB (over the 64 KiB of an argument) ending in last. */
static void
run_big_script(struct fx *fx, const char *last, const char *run_as)
{
	struct lr_buf s = LR_BUF_INIT;
	json_t *o;
	char *text;
	int i;

	for (i = 0; i < 2000; i++)
		lr_buf_printf(&s, ": %060d\n", i);
	lr_buf_printf(&s, "%s\n", last);
	o = json_pack("{s:s, s:s, s:s}", "id", "big", "kind", "script",
	    "script", s.s);
	if (run_as)
		json_object_set_new(o, "run_as", json_string(run_as));
	text = json_dumps(o, 0);
	run_json(fx, text);
	free(text);
	json_decref(o);
	lr_buf_release(&s);
}

static void
test_agent_step_start__big_script_through_a_file(void **state)
{
	struct fx *fx = *state;
	DIR *d;
	struct dirent *e;

	run_big_script(fx, "echo \"big $LEURA_HOST\"", NULL);
	assert_int_equal(fx->res.status, AGENT_STEP_CHANGED);
	assert_string_equal(fx->tail, "big h1\n");
	/* the temporary file is gone */
	assert_non_null(d = opendir(fx->work));
	while ((e = readdir(d)) != NULL)
		assert_true(strcmp(e->d_name, ".") == 0 ||
		    strcmp(e->d_name, "..") == 0);
	closedir(d);
}

/* ---- abort ---- */

static void
abort_soon(uv_timer_t *t)
{
	struct fx *fx = t->data;

	agent_step_abort(fx->run);
	agent_step_abort(fx->run);		/* twice is fine */
	uv_close((uv_handle_t *)t, NULL);
}

/* The step's first output: abort it now (it said it is ready). */
static void
abort_on_output(const char *p, size_t n, void *arg)
{
	struct fx *fx = arg;

	(void)p;
	(void)n;
	if (fx->ctx.on_output != NULL) {
		fx->ctx.on_output = NULL;
		agent_step_abort(fx->run);
	}
}

/*
 * Run the step text and abort it once it has printed (its first output
 * says it is ready: a timer could fire before a loaded machine ran the
 * script's first line).
 */
static void
run_and_abort_ready(struct fx *fx, const char *text)
{
	struct lr_err err = { 0 };
	json_t *step = json_loads(text, 0, NULL);

	assert_non_null(step);
	fx->ctx.step = step;
	fx->ctx.on_output = abort_on_output;
	fx->ctx.output_arg = fx;
	fx->calls = 0;
	assert_int_equal(agent_step_start(&fx->ctx, done, fx, &fx->run,
	    &err), 0);
	assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(fx->calls, 1);
	fx->ctx.on_output = NULL;
	json_decref(step);
}

static void
run_and_abort(struct fx *fx, const char *text, long after_ms)
{
	struct lr_err err = { 0 };
	uv_timer_t t;
	json_t *step;

	step = json_loads(text, 0, NULL);
	assert_non_null(step);
	fx->ctx.step = step;
	fx->calls = 0;
	assert_int_equal(agent_step_start(&fx->ctx, done, fx, &fx->run,
	    &err), 0);
	uv_timer_init(&fx->loop, &t);
	t.data = fx;
	uv_timer_start(&t, abort_soon, (uint64_t)after_ms, 0);
	assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(fx->calls, 1);
	json_decref(step);
}

static void
test_agent_step_abort__group_backoff_and_guard(void **state)
{
	struct fx *fx = *state;

	run_and_abort(fx, "{\"kind\": \"script\", \"script\": \"echo go; "
	    "sleep 30\", \"timeout_ms\": 60000}", 200);
	assert_int_equal(fx->res.status, AGENT_STEP_ABORTED);
	assert_string_equal(agent_step_status_name(fx->res.status),
	    "aborted");
	assert_false(fx->res.timed_out);
	assert_string_equal(fx->tail, "go\n");
	assert_true(fx->res.duration_ms < 3000);

	/* SIGTERM ignored: SIGKILL after kill_grace_ms */
	fx->ctx.kill_grace_ms = 200;
	run_and_abort_ready(fx, "{\"kind\": \"script\", \"script\": \"trap '' "
	    "TERM; echo ready; sleep 30\"}");
	assert_int_equal(fx->res.status, AGENT_STEP_ABORTED);
	assert_int_equal(fx->res.term_signal, SIGKILL);
	assert_true(fx->res.duration_ms < 3000);

	/* during the back-off: no further attempt */
	fx->ctx.retry_base_ms = 10000;
	run_and_abort(fx, "{\"kind\": \"script\", \"script\": \"exit 1\", "
	    "\"retries\": 3}", 300);
	assert_int_equal(fx->res.status, AGENT_STEP_ABORTED);
	assert_int_equal(fx->res.attempts, 1);
	assert_true(fx->res.duration_ms < 3000);

	/* during the unless guard */
	run_and_abort(fx, "{\"kind\": \"script\", \"script\": \"echo ran\", "
	    "\"unless\": \"sleep 30\"}", 100);
	assert_int_equal(fx->res.status, AGENT_STEP_ABORTED);
	assert_int_equal(fx->res.attempts, 0);

	/* before it began */
	run_and_abort(fx, "{\"kind\": \"script\", \"script\": \"echo ran\"}",
	    0);
	assert_int_equal(fx->res.status, AGENT_STEP_ABORTED);
}

/* ---- file steps ---- */

static char *
file_step(const char *dest, const char *sha, const char *more)
{
	return lr_xasprintf("{\"id\": \"f\", \"kind\": \"file\", \"dest\": "
	    "\"%s\", \"sha256\": \"%s\"%s}", dest, sha, more);
}

static void
test_agent_step_start__file_write_then_ok(void **state)
{
	struct fx *fx = *state;
	char sha[65], *dest, *step, *s, *parent;
	struct stat st;

	store(fx, "hello file\n", sha, 0600);
	parent = lr_xasprintf("%s/etc/app", fx->dir);
	dest = lr_xasprintf("%s/app.conf", parent);
	step = file_step(dest, sha, ", \"mode\": \"0640\", \"size\": 11");
	run_json(fx, step);
	assert_int_equal(fx->res.status, AGENT_STEP_CHANGED);
	assert_string_equal(fx->res.error, "");
	assert_int_equal(fx->res.attempts, 1);
	s = slurp(dest);
	assert_string_equal(s, "hello file\n");
	free(s);
	assert_int_equal(stat(dest, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(stat(parent, &st), 0);	/* made, 0755 */
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0755);
	s = slurp(fx->log);
	assert_non_null(strstr(s, "wrote"));
	free(s);

	/* again: nothing to do */
	run_json(fx, step);
	assert_int_equal(fx->res.status, AGENT_STEP_OK);
	assert_string_equal(fx->res.error, "");

	/* a wrong mode is fixed */
	assert_int_equal(chmod(dest, 0666), 0);
	run_json(fx, step);
	assert_int_equal(fx->res.status, AGENT_STEP_CHANGED);
	assert_int_equal(stat(dest, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	free(step);

	/* no mode given: the file's mode is kept */
	store(fx, "second\n", sha, 0600);
	step = file_step(dest, sha, "");
	run_json(fx, step);
	assert_int_equal(fx->res.status, AGENT_STEP_CHANGED);
	assert_int_equal(stat(dest, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	s = slurp(dest);
	assert_string_equal(s, "second\n");
	free(s);
	free(step);

	/* the owner, when it is who we are */
	step = file_step(dest, sha, ", \"owner\": \"root\", \"group\": \"0\"");
	if (geteuid() == 0) {
		run_json(fx, step);
		assert_int_equal(fx->res.status, AGENT_STEP_OK);
	}
	free(step);
	free(dest);
	free(parent);
}

static void
test_agent_step_start__file_check_mode(void **state)
{
	struct fx *fx = *state;
	char sha[65], *dest, *step, *s;
	struct stat st;

	store(fx, "wanted\n", sha, 0600);
	dest = lr_xasprintf("%s/check.conf", fx->dir);
	step = file_step(dest, sha, ", \"mode\": \"0600\"");
	fx->ctx.mode = AGENT_STEP_CHECK;

	run_json(fx, step);
	assert_int_equal(fx->res.status, AGENT_STEP_CHANGED);
	assert_string_equal(fx->res.error, "missing");
	assert_int_equal(access(dest, F_OK), -1);	/* not written */

	spew(dest, "wanted\n", 0600);
	run_json(fx, step);
	assert_int_equal(fx->res.status, AGENT_STEP_OK);
	assert_string_equal(fx->res.error, "");

	spew(dest, "edited\n", 0600);
	run_json(fx, step);
	assert_int_equal(fx->res.status, AGENT_STEP_CHANGED);
	assert_string_equal(fx->res.error, "content differs");

	spew(dest, "wanted\n", 0644);
	run_json(fx, step);
	assert_int_equal(fx->res.status, AGENT_STEP_CHANGED);
	assert_string_equal(fx->res.error, "mode 0644, want 0600");

	spew(dest, "other, longer\n", 0644);
	run_json(fx, step);
	assert_int_equal(fx->res.status, AGENT_STEP_CHANGED);
	assert_string_equal(fx->res.error,
	    "content differs; mode 0644, want 0600");
	s = slurp(dest);			/* left alone */
	assert_string_equal(s, "other, longer\n");
	free(s);
	assert_int_equal(stat(dest, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	free(step);

	if (geteuid() == 0) {
		step = file_step(dest, sha, ", \"owner\": \"nobody\"");
		if (getpwnam("nobody")) {
			spew(dest, "wanted\n", 0644);
			run_json(fx, step);
			assert_int_equal(fx->res.status, AGENT_STEP_CHANGED);
			assert_string_equal(fx->res.error,
			    "owner root, want nobody");
		}
		free(step);
	}
	free(dest);
}

static void
test_agent_step_start__file_errors(void **state)
{
	struct fx *fx = *state;
	char sha[65], *dest, *step, *path, *want;

	dest = lr_xasprintf("%s/out.conf", fx->dir);

	/* the stored content does not match its name */
	store(fx, "original\n", sha, 0600);
	path = lr_xasprintf("%s/%s", fx->files, sha);
	spew(path, "tampered\n", 0600);
	step = file_step(dest, sha, "");
	run_json(fx, step);
	assert_int_equal(fx->res.status, AGENT_STEP_FAILED);
	want = lr_xasprintf("stored content of sha256 %s is corrupt", sha);
	assert_non_null(strstr(fx->res.error, want));
	assert_int_equal(access(dest, F_OK), -1);
	free(want);
	free(step);

	/* no stored content at all */
	assert_int_equal(unlink(path), 0);
	step = file_step(dest, sha, "");
	run_json(fx, step);
	assert_int_equal(fx->res.status, AGENT_STEP_FAILED);
	assert_non_null(strstr(fx->res.error, "cannot read the content"));
	free(step);
	free(path);

	/* an unknown owner */
	store(fx, "original\n", sha, 0600);
	step = file_step(dest, sha, ", \"owner\": \"no-such-user-leura\"");
	run_json(fx, step);
	assert_int_equal(fx->res.status, AGENT_STEP_FAILED);
	assert_non_null(strstr(fx->res.error, "'no-such-user-leura'"));
	assert_non_null(strstr(fx->res.error, "is not a user on this host"));
	assert_int_equal(access(dest, F_OK), -1);
	free(step);

	/* dest is a folder */
	step = file_step(fx->work, sha, "");
	run_json(fx, step);
	assert_int_equal(fx->res.status, AGENT_STEP_FAILED);
	assert_non_null(strstr(fx->res.error, "is a folder"));
	free(step);
	free(dest);
}

/* Files in folder dir whose name starts with prefix. */
static int
count_prefixed(const char *dir, const char *prefix)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0)
			n++;
	closedir(d);
	return n;
}

static void
test_agent_step_start__file_validate(void **state)
{
	struct fx *fx = *state;
	char sha[65], *dir, *dest, *step, *more, *s, *seen;

	/* a quote in the folder's name: %s is quoted for the shell */
	dir = lr_xasprintf("%s/it's here", fx->dir);
	assert_int_equal(mkdir(dir, 0755), 0);
	dest = lr_xasprintf("%s/site.conf", dir);
	seen = lr_xasprintf("%s/seen", fx->dir);
	spew(dest, "old good\n", 0644);

	/* the command says no: the old file stays, the step fails with why */
	store(fx, "new broken\n", sha, 0600);
	more = lr_xasprintf(", \"validate\": \"echo %%s > %s; grep -q "
	    "good %%s || { echo 'syntax error in' %%s; exit 3; }\"", seen);
	step = file_step(dest, sha, more);
	run_json(fx, step);
	assert_int_equal(fx->res.status, AGENT_STEP_FAILED);
	assert_non_null(strstr(fx->res.error, "validate: "));
	assert_non_null(strstr(fx->res.error, "exited with status 3"));
	assert_non_null(strstr(fx->res.error, "left as it was"));
	assert_non_null(strstr(fx->tail, "syntax error in"));
	s = slurp(dest);
	assert_string_equal(s, "old good\n");
	free(s);
	/* it ran on a temporary file beside dest, now gone */
	s = slurp(seen);
	s[strcspn(s, "\n")] = '\0';
	assert_int_equal(strncmp(s, dir, strlen(dir)), 0);
	assert_int_equal(strncmp(s + strlen(dir), "/.site.conf", 11), 0);
	assert_int_equal(access(s, F_OK), -1);
	free(s);
	assert_int_equal(count_prefixed(dir, ".site.conf"), 0);
	s = slurp(fx->log);
	assert_non_null(strstr(s, "[leura] validate: "));
	free(s);
	free(step);

	/* the command says yes: the new file replaces the old */
	store(fx, "new good\n", sha, 0600);
	step = file_step(dest, sha, more);
	run_json(fx, step);
	assert_int_equal(fx->res.status, AGENT_STEP_CHANGED);
	assert_string_equal(fx->res.error, "");
	s = slurp(dest);
	assert_string_equal(s, "new good\n");
	free(s);
	assert_int_equal(count_prefixed(dir, ".site.conf"), 0);
	assert_int_equal(unlink(seen), 0);

	/* up to date: nothing written, nothing to validate */
	run_json(fx, step);
	assert_int_equal(fx->res.status, AGENT_STEP_OK);
	assert_int_equal(access(seen, F_OK), -1);
	free(step);
	free(more);

	/* the command runs with the step's timeout */
	store(fx, "newer good\n", sha, 0600);
	step = file_step(dest, sha, ", \"validate\": \"sleep 30 # %s\", "
	    "\"timeout_ms\": 200");
	run_json(fx, step);
	assert_int_equal(fx->res.status, AGENT_STEP_FAILED);
	assert_true(fx->res.timed_out);
	assert_non_null(strstr(fx->res.error, "timed out"));
	s = slurp(dest);
	assert_string_equal(s, "new good\n");
	free(s);
	assert_int_equal(count_prefixed(dir, ".site.conf"), 0);
	free(step);

	free(seen);
	free(dest);
	free(dir);
}

/* ---- http steps ---- */

/* A one-shot server on 127.0.0.1: answers resp to one request. */
static pid_t
http_server(const char *resp, int *port)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	char req[8192];
	size_t got = 0;
	ssize_t n;
	pid_t pid;
	int s, c, one = 1;

	s = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(s >= 0);
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(s, 4), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&sa, &len), 0);
	*port = ntohs(sa.sin_port);
	if ((pid = fork()) == 0) {
		alarm(20);
		if ((c = accept(s, NULL, NULL)) < 0)
			_exit(1);
		/* the request's head, and the body of a POST if short */
		while (got < sizeof(req) - 1 && (n = read(c, req + got,
		    sizeof(req) - 1 - got)) > 0) {
			got += (size_t)n;
			req[got] = '\0';
			if (strstr(req, "\r\n\r\n"))
				break;
		}
		if (write(c, resp, strlen(resp)) < 0)
			_exit(1);
		shutdown(c, SHUT_WR);
		while (read(c, req, sizeof(req)) > 0)
			;
		_exit(0);
	}
	assert_true(pid > 0);
	close(s);
	return pid;
}

static void
test_agent_step_start__http(void **state)
{
	struct fx *fx = *state;
	const char *resp = "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n"
	    "Connection: close\r\n\r\nhello\n";
	char *step, *log;
	int port, st;
	pid_t pid;

	pid = http_server(resp, &port);
	step = lr_xasprintf("{\"id\": \"h\", \"kind\": \"http\", \"url\": "
	    "\"http://127.0.0.1:%d/ping\", \"method\": \"POST\", \"body\": "
	    "\"x=1\", \"headers\": {\"X-Leura\": \"yes\"}, "
	    "\"timeout_ms\": 5000}", port);
	run_json(fx, step);
	assert_int_equal(fx->res.status, AGENT_STEP_CHANGED);
	assert_string_equal(fx->res.error, "");
	assert_non_null(strstr(fx->tail, "status 200"));
	assert_non_null(strstr(fx->tail, "hello\n"));
	log = slurp(fx->log);
	assert_non_null(strstr(log, "status 200"));
	free(log);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	free(step);

	/* a status other than expect_status */
	pid = http_server(resp, &port);
	step = lr_xasprintf("{\"id\": \"h\", \"kind\": \"http\", \"url\": "
	    "\"http://127.0.0.1:%d/\", \"expect_status\": 201, "
	    "\"timeout_ms\": 5000}", port);
	run_json(fx, step);
	assert_int_equal(fx->res.status, AGENT_STEP_FAILED);
	assert_non_null(strstr(fx->res.error, "answered 200, want 201"));
	assert_int_equal(waitpid(pid, &st, 0), pid);
	free(step);

	/* not 2xx */
	pid = http_server("HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n"
	    "Connection: close\r\n\r\n", &port);
	step = lr_xasprintf("{\"kind\": \"http\", \"url\": "
	    "\"http://u:secret@127.0.0.1:%d/\"}", port);
	run_json(fx, step);
	assert_int_equal(fx->res.status, AGENT_STEP_FAILED);
	assert_non_null(strstr(fx->res.error, "answered 503, want 2xx"));
	assert_null(strstr(fx->res.error, "secret"));
	assert_null(strstr(fx->tail, "secret"));
	assert_int_equal(waitpid(pid, &st, 0), pid);
	free(step);

	/* nobody listens: curl's error, retried */
	pid = http_server("", &port);
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	step = lr_xasprintf("{\"kind\": \"http\", \"url\": "
	    "\"http://127.0.0.1:%d/\", \"retries\": 1}", port);
	run_json(fx, step);
	assert_int_equal(fx->res.status, AGENT_STEP_FAILED);
	assert_int_equal(fx->res.attempts, 2);
	assert_non_null(strstr(fx->res.error, "http GET 'http://127.0.0.1:"));
	free(step);
}

/* ---- use steps ---- */

static void
test_agent_step_start__use(void **state)
{
	struct fx *fx = *state;
	char sha[65], *script, *step, *in, *inpath, *big, *text;
	json_t *got, *o;

	inpath = lr_xasprintf("%s/in.json", fx->dir);
	script = lr_xasprintf("#!/bin/sh\ncat > %s\necho working >&2\n"
	    "echo 'not json {'\necho '{\"changed\": false, \"message\": "
	    "\"all good\"}'\n", inpath);
	store(fx, script, sha, 0755);
	step = lr_xasprintf("{\"id\": \"u\", \"kind\": \"use\", \"use\": "
	    "\"pkg\", \"with\": {\"name\": \"nginx\"}, \"exec_sha256\": "
	    "\"%s\"}", sha);
	run_json(fx, step);
	assert_int_equal(fx->res.status, AGENT_STEP_OK);
	assert_string_equal(fx->res.error, "");
	assert_non_null(fx->message);
	assert_string_equal(json_string_value(fx->message), "all good");
	assert_non_null(strstr(fx->tail, "working\n"));
	in = slurp(inpath);
	assert_non_null(in);
	got = json_loads(in, 0, NULL);
	assert_non_null(got);
	assert_string_equal(json_string_value(json_object_get(
	    json_object_get(got, "with"), "name")), "nginx");
	json_decref(got);
	free(in);
	free(step);
	free(script);

	/* changed: true, with a nested object as its message */
	store(fx, "#!/bin/sh\necho '{\"changed\": true, \"message\": "
	    "{\"n\": {\"k\": 1}}}'\n", sha, 0755);
	step = lr_xasprintf("{\"kind\": \"use\", \"exec_sha256\": \"%s\"}",
	    sha);
	run_json(fx, step);
	assert_int_equal(fx->res.status, AGENT_STEP_CHANGED);
	assert_true(json_is_object(fx->message));
	free(step);

	/* no JSON */
	store(fx, "#!/bin/sh\necho nothing to say\n", sha, 0755);
	step = lr_xasprintf("{\"kind\": \"use\", \"exec_sha256\": \"%s\"}",
	    sha);
	run_json(fx, step);
	assert_int_equal(fx->res.status, AGENT_STEP_FAILED);
	assert_non_null(strstr(fx->res.error, "printed no JSON object"));
	assert_null(fx->message);
	free(step);

	/* non-zero exit, even with JSON */
	store(fx, "#!/bin/sh\necho '{\"changed\": true}'\nexit 2\n", sha,
	    0755);
	step = lr_xasprintf("{\"kind\": \"use\", \"exec_sha256\": \"%s\"}",
	    sha);
	run_json(fx, step);
	assert_int_equal(fx->res.status, AGENT_STEP_FAILED);
	assert_string_equal(fx->res.error, "exited with status 2");
	free(step);

	/* stdin larger than a pipe's default 64 KiB */
	store(fx, "#!/bin/sh\nn=$(wc -c)\necho \"{\\\"changed\\\": "
	    "false, \\\"message\\\": $n}\"\n", sha, 0755);
	big = lr_xcalloc(1, 200001);
	memset(big, 'x', 200000);
	o = json_pack("{s:s, s:s, s:{s:s}}", "kind", "use", "exec_sha256",
	    sha, "with", "big", big);
	text = json_dumps(o, JSON_COMPACT);
	run_json(fx, text);
	assert_int_equal(fx->res.status, AGENT_STEP_OK);
	assert_int_equal(json_integer_value(fx->message),
	    (json_int_t)strlen(text));
	free(text);
	free(big);
	json_decref(o);
	free(inpath);
}

/* ---- run_as ---- */

/* The not-root refusal, in a child that drops to nobody first. */
static void
check_run_as_refused(struct fx *fx, const struct passwd *nobody)
{
	struct agent_step_ctx ctx = fx->ctx;
	struct agent_step_run *run;
	uv_loop_t loop;
	json_t *step;
	pid_t pid;
	int st;

	if ((pid = fork()) == 0) {
		if (setgid(nobody->pw_gid) < 0 || setuid(nobody->pw_uid) < 0)
			_exit(2);
		step = json_pack("{s:s, s:s, s:s}", "kind", "script",
		    "script", "id -u", "run_as", "root");
		uv_loop_init(&loop);
		ctx.loop = &loop;
		ctx.step = step;
		ctx.log_path = NULL;
		fx->calls = 0;
		fx->run = NULL;
		if (agent_step_start(&ctx, done, fx, &run, NULL) < 0)
			_exit(3);
		fx->run = run;
		uv_run(&loop, UV_RUN_DEFAULT);
		_exit(fx->calls == 1 && fx->res.status == AGENT_STEP_FAILED &&
		    strstr(fx->res.error, "run_as 'root' needs leura-agent to "
		    "run as root; it runs as uid") ? 0 : 4);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void
test_agent_step_start__run_as_through_exec_as(void **state)
{
	struct fx *fx = *state;
	struct passwd *pw;
	char *extra, *want, real[PATH_MAX];
	uid_t nobody_uid;
	gid_t nobody_gid;
	char home[256];

	if (geteuid() != 0) {
		run_script(fx, "id -u", ", \"run_as\": \"root\"");
		assert_int_equal(fx->res.status, AGENT_STEP_FAILED);
		want = lr_xasprintf("run_as 'root' needs leura-agent to run as "
		    "root; it runs as uid %u", (unsigned)geteuid());
		assert_string_equal(fx->res.error, want);
		assert_int_equal(fx->res.attempts, 0);
		free(want);
		return;
	}
	/* our own user: no trampoline needed */
	run_script(fx, "id -u", ", \"run_as\": \"root\"");
	assert_int_equal(fx->res.status, AGENT_STEP_CHANGED);
	assert_string_equal(fx->tail, "0\n");

	run_script(fx, "id -u", ", \"run_as\": \"no-such-user-leura\"");
	assert_int_equal(fx->res.status, AGENT_STEP_FAILED);
	assert_non_null(strstr(fx->res.error, "does not exist"));

	if ((pw = getpwnam("nobody")) == NULL) {
		print_message("skipped: no user 'nobody' for run_as\n");
		return;
	}
	nobody_uid = pw->pw_uid;
	nobody_gid = pw->pw_gid;
	snprintf(home, sizeof(home), "%s", pw->pw_dir);
	check_run_as_refused(fx, pw);

	/* as root: the user's uid, gid, groups and HOME; our cwd (0700) */
	extra = lr_xasprintf(", \"run_as\": \"nobody\", \"cwd\": \"%s\", "
	    "\"env\": {\"FOO\": \"kept\"}, \"unless\": \"test $(id -u) = 0\"",
	    fx->dir);
	/* the third line counts group 0 among the supplementary groups */
	run_script(fx, "id -u; id -g; id -G | tr ' ' '\\n' | grep -cx 0; "
	    "echo \"$HOME $USER $FOO\"; pwd", extra);
	assert_int_equal(fx->res.status, AGENT_STEP_CHANGED);
	assert_non_null(realpath(fx->dir, real));
	want = lr_xasprintf("%u\n%u\n0\n%s nobody kept\n%s\n",
	    (unsigned)nobody_uid, (unsigned)nobody_gid, home, real);
	assert_string_equal(fx->tail, want);
	free(want);
	free(extra);

	/* a big script, read through /dev/fd/3 by the user */
	run_big_script(fx, "id -u", "nobody");
	assert_int_equal(fx->res.status, AGENT_STEP_CHANGED);
	want = lr_xasprintf("%u\n", (unsigned)nobody_uid);
	assert_string_equal(fx->tail, want);
	free(want);
}

/* ---- the rest ---- */

static void
test_agent_step_start__bad_steps_do_not_start(void **state)
{
	struct fx *fx = *state;
	struct lr_err err = { 0 };
	const char *bad[] = {
		"{\"kind\": \"approval\"}",
		"{\"script\": \"true\"}",
		"{\"kind\": \"script\"}",
		"{\"kind\": \"script\", \"script\": \"true\", \"env\": [1]}",
		"{\"kind\": \"script\", \"script\": \"true\", \"retries\": -1}",
		"{\"kind\": \"file\", \"dest\": \"rel\", \"sha256\": \"00\"}",
		"{\"kind\": \"file\", \"dest\": \"/x\", \"sha256\": \"00\"}",
		"{\"kind\": \"http\"}",
		"{\"kind\": \"use\", \"exec_sha256\": \"../x\"}",
		/* validate needs %s, as Ansible's does */
		"{\"kind\": \"file\", \"dest\": \"/x\", \"sha256\": \""
		    "0000000000000000000000000000000000000000000000000000000000"
		    "000000\", \"validate\": \"nginx -t\"}",
	};
	struct agent_step_run *run = NULL;
	json_t *step;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		step = json_loads(bad[i], 0, NULL);
		assert_non_null(step);
		fx->ctx.step = step;
		lr_err_clear(&err);
		assert_int_equal(agent_step_start(&fx->ctx, done, fx, &run,
		    &err), LR_EINVAL);
		assert_non_null(strstr(err.msg, "cannot run step"));
		json_decref(step);
	}
	/* the log cannot be opened */
	step = json_loads("{\"id\": \"x\", \"kind\": \"script\", \"script\": "
	    "\"true\"}", 0, NULL);
	fx->ctx.step = step;
	fx->ctx.log_path = "/nonexistent/dir/step.log";
	assert_int_equal(agent_step_start(&fx->ctx, done, fx, &run, &err),
	    LR_EIO);
	assert_non_null(strstr(err.msg, "/nonexistent/dir/step.log"));
	json_decref(step);
	assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(fx->calls, 0);
}

static void
test_agent_step_hash__canonical(void **state)
{
	char a[65], b[65], want[65];
	const char *canon = "{\"a\":[1,2],\"b\":\"x\"}";
	json_t *x, *y;

	(void)state;
	x = json_loads("{\"b\": \"x\", \"a\": [1, 2]}", 0, NULL);
	y = json_loads("{\"a\":[1,2],  \"b\":\"x\"}", 0, NULL);
	agent_step_hash(x, a);
	agent_step_hash(y, b);
	lr_sha256_hex(canon, strlen(canon), want);
	assert_string_equal(a, want);
	assert_string_equal(b, want);
	json_decref(x);
	json_decref(y);
	assert_string_equal(agent_step_status_name(AGENT_STEP_SKIPPED),
	    "skipped");
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		T(test_agent_step_start__script_changed_tail_and_log),
		T(test_agent_step_start__script_failure_exit_code),
		T(test_agent_step_start__timeout_kills_process_group),
		T(test_agent_step_start__sigkill_after_grace),
		T(test_agent_step_start__background_output_does_not_hang),
		T(test_agent_step_start__retries_with_backoff),
		T(test_agent_step_start__guards_skip),
		T(test_agent_step_start__env_and_cwd),
		T(test_agent_step_start__tail_keeps_last_4k),
		T(test_agent_step_start__log_capped_head_and_tail),
		T(test_agent_step_start__big_script_through_a_file),
		T(test_agent_step_abort__group_backoff_and_guard),
		T(test_agent_step_start__file_write_then_ok),
		T(test_agent_step_start__file_check_mode),
		T(test_agent_step_start__file_errors),
		T(test_agent_step_start__file_validate),
		T(test_agent_step_start__http),
		T(test_agent_step_start__use),
		T(test_agent_step_start__run_as_through_exec_as),
		T(test_agent_step_start__bad_steps_do_not_start),
		cmocka_unit_test(test_agent_step_hash__canonical),
	};
	int rc;

	/* the run_as trampoline, as in leura-agent's main */
	if (argc > 1 && strcmp(argv[1], "--exec-as") == 0)
		return agent_step_exec_as_main(argc - 2, argv + 2);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
