/*
 * Unit tests of the process runner (lib/proc.c) on real processes: exit
 * status, output on pipes and to a file, the bounded capture of stdout,
 * the deadline that ends the whole process group (a background grandchild
 * included), the kill grace, lr_proc_stop, a program that cannot run, and
 * output left open by a background process.  Every loop runs under a
 * watchdog timer (a failure, not a hang), and closes with 0: nothing of
 * the runner stays open.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "buf.h"
#include "err.h"
#include "proc.h"

#define WATCHDOG_MS	20000

struct run {
	struct lr_buf	 out[2];	/* per stream */
	struct lr_buf	 captured;
	int		 events[3];
	int		 order[3];	/* event order, 1-based */
	int		 nev;
	int		 exits;
	struct lr_proc_status st;
	struct lr_proc	*p;
	bool		 stop_from_output;
};

static void
on_output(struct lr_proc *p, enum lr_proc_stream s, const char *data,
    size_t len, void *arg)
{
	struct run *r = arg;

	lr_buf_add(&r->out[s], data, len);
	if (r->stop_from_output) {
		r->stop_from_output = false;
		assert_true(lr_proc_stop(p));
		assert_false(lr_proc_stop(p));	/* once */
	}
}

static void
on_event(struct lr_proc *p, enum lr_proc_event ev, void *arg)
{
	struct run *r = arg;

	r->events[ev]++;
	r->order[ev] = ++r->nev;
}

static void
on_exit_cb(struct lr_proc *p, const struct lr_proc_status *st, void *arg)
{
	struct run *r = arg;

	r->exits++;
	r->st = *st;
	if (st->out)
		lr_buf_add(&r->captured, st->out, st->out_len);
	r->st.out = NULL;
}

static void
on_watchdog(uv_timer_t *t)
{
	fail_msg("the loop ran for %d ms", WATCHDOG_MS);
}

/* Run the loop dry under the watchdog, and close it (must give 0). */
static void
run_loop(uv_loop_t *loop)
{
	uv_timer_t dog;

	uv_timer_init(loop, &dog);
	uv_timer_start(&dog, on_watchdog, WATCHDOG_MS, 0);
	uv_unref((uv_handle_t *)&dog);
	uv_run(loop, UV_RUN_DEFAULT);
	uv_close((uv_handle_t *)&dog, NULL);
	uv_run(loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(loop), 0);
}

static void
run_release(struct run *r)
{
	lr_buf_release(&r->out[0]);
	lr_buf_release(&r->out[1]);
	lr_buf_release(&r->captured);
}

/* Start sh -c SCRIPT with o's other fields, run it to its end. */
static void
run_sh(struct run *r, struct lr_proc_opts *o, const char *script)
{
	char *argv[] = { "/bin/sh", "-c", (char *)script, NULL };
	struct lr_err err = { 0 };
	uv_loop_t loop;

	memset(r, 0, sizeof(*r));
	assert_int_equal(uv_loop_init(&loop), 0);
	o->argv = argv;
	o->on_output = on_output;
	o->on_event = on_event;
	o->on_exit = on_exit_cb;
	o->arg = r;
	assert_int_equal(lr_proc_start(&loop, o, &r->p, &err), 0);
	assert_true(lr_proc_pid(r->p) > 0);
	run_loop(&loop);
	assert_int_equal(r->exits, 1);
}

static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Whether pid is gone (or a zombie nobody reaped yet), within 5 s. */
static bool
gone(pid_t pid)
{
	long end = now_ms() + 5000;
	char path[64], buf[256], *s;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	while (now_ms() < end) {
		if ((fp = fopen(path, "r")) == NULL)
			return true;
		s = fgets(buf, sizeof(buf), fp);
		fclose(fp);
		if (s && (s = strrchr(buf, ')')) && s[1] == ' ' && s[2] == 'Z')
			return true;
		usleep(10000);		/* polling a state, bounded above */
	}
	return false;
}

static void
test_lr_proc__exit_status_and_merged_output(void **state)
{
	struct lr_proc_opts o = LR_PROC_OPTS_INIT;
	struct run r;

	run_sh(&r, &o, "echo out; echo err >&2; exit 3");
	assert_int_equal(r.st.exit_status, 3);
	assert_int_equal(r.st.term_signal, 0);
	assert_false(r.st.timed_out);
	assert_false(r.st.aborted);
	assert_false(r.st.killed);
	assert_true(r.st.pid > 0);
	assert_string_equal(r.out[0].s, "out\nerr\n");	/* in order */
	assert_null(r.out[1].s);
	assert_int_equal(r.captured.len, 0);		/* no capture_max */
	assert_int_equal(r.nev, 0);
	run_release(&r);

	run_sh(&r, &o, "exit 0");
	assert_int_equal(r.st.exit_status, 0);
	assert_null(r.out[0].s);
	run_release(&r);
}

static void
test_lr_proc__split_stderr_env_cwd(void **state)
{
	struct lr_proc_opts o = LR_PROC_OPTS_INIT;
	char *env[] = { "PROC_TEST=forty two", "PATH=/usr/bin:/bin", NULL };
	struct run r;

	o.split_stderr = true;
	o.env = env;
	o.cwd = "/";
	run_sh(&r, &o, "echo \"$PROC_TEST\"; pwd; echo oops >&2");
	assert_int_equal(r.st.exit_status, 0);
	assert_string_equal(r.out[0].s, "forty two\n/\n");
	assert_string_equal(r.out[1].s, "oops\n");
	run_release(&r);
}

static void
test_lr_proc__stdin_and_fd3(void **state)
{
	struct lr_proc_opts o = LR_PROC_OPTS_INIT;
	int in[2], three[2];
	struct run r;

	assert_int_equal(pipe(in), 0);
	assert_int_equal(pipe(three), 0);
	assert_int_equal(write(in[1], "from stdin\n", 11), 11);
	assert_int_equal(write(three[1], "from three\n", 11), 11);
	close(in[1]);
	close(three[1]);
	o.stdin_fd = in[0];		/* taken */
	o.fd3 = three[0];
	run_sh(&r, &o, "cat; cat <&3");
	assert_string_equal(r.out[0].s, "from stdin\nfrom three\n");
	/* both were closed by the runner */
	assert_int_equal(fcntl(in[0], F_GETFD), -1);
	assert_int_equal(fcntl(three[0], F_GETFD), -1);
	run_release(&r);

	/* no stdin_fd: /dev/null */
	o.stdin_fd = o.fd3 = -1;
	run_sh(&r, &o, "cat; echo done");
	assert_string_equal(r.out[0].s, "done\n");
	run_release(&r);
}

static void
test_lr_proc__output_to_fd(void **state)
{
	struct lr_proc_opts o = LR_PROC_OPTS_INIT;
	char path[] = "/tmp/leura-test-proc-XXXXXX", buf[64];
	struct run r;
	ssize_t n;
	int fd;

	assert_true((fd = mkstemp(path)) >= 0);
	unlink(path);
	o.out_fd = fd;			/* borrowed */
	o.capture_max = 100;		/* ignored: nothing is read */
	run_sh(&r, &o, "echo one; echo two >&2");
	assert_int_equal(r.st.exit_status, 0);
	assert_null(r.out[0].s);
	assert_int_equal(r.captured.len, 0);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	assert_int_equal(n, 8);
	buf[n] = '\0';
	assert_string_equal(buf, "one\ntwo\n");
	close(fd);
	run_release(&r);
}

static void
test_lr_proc__capture_keeps_the_end(void **state)
{
	struct lr_proc_opts o = LR_PROC_OPTS_INIT;
	struct run r;

	o.capture_max = 1000;
	o.split_stderr = true;
	/* 300 kB of stdout, then a marker; stderr is not captured */
	run_sh(&r, &o, "yes 0123456789abcde | head -c 300000; "
	    "echo noise >&2; printf THE-END");
	assert_int_equal(r.st.exit_status, 0);
	assert_int_equal(r.out[0].len, 300007);	/* every chunk came */
	assert_true(r.captured.len >= 1000);
	assert_true(r.captured.len <= 2000);
	assert_true(r.st.out_truncated);
	assert_int_equal(r.captured.s[r.captured.len], '\0');
	assert_memory_equal(r.captured.s + r.captured.len - 7, "THE-END", 7);
	assert_memory_equal(r.captured.s, r.out[0].s + r.out[0].len -
	    r.captured.len, r.captured.len);
	run_release(&r);

	/* short output: all of it, not truncated */
	run_sh(&r, &o, "printf short");
	assert_int_equal(r.captured.len, 5);
	assert_false(r.st.out_truncated);
	run_release(&r);
}

static void
test_lr_proc__timeout_ends_the_group(void **state)
{
	struct lr_proc_opts o = LR_PROC_OPTS_INIT;
	long t0 = now_ms();
	struct run r;
	pid_t bg;

	/* long enough for the shell to start its child, even on a busy box */
	o.timeout_ms = 1500;
	/* a background grandchild holding stdout, then a long leader */
	run_sh(&r, &o, "sleep 60 & echo $!; exec sleep 60");
	assert_true(now_ms() - t0 >= 1500);
	assert_true(now_ms() - t0 < 10000);
	assert_true(r.st.timed_out);
	assert_false(r.st.aborted);
	assert_false(r.st.killed);
	assert_int_equal(r.st.term_signal, SIGTERM);
	assert_int_equal(r.events[LR_PROC_EV_TIMED_OUT], 1);
	assert_int_equal(r.events[LR_PROC_EV_KILLED], 0);
	assert_non_null(r.out[0].s);
	bg = (pid_t)atoi(r.out[0].s);
	assert_true(bg > 0);
	assert_true(gone(bg));
	run_release(&r);
}

static void
test_lr_proc__sigkill_after_the_grace(void **state)
{
	struct lr_proc_opts o = LR_PROC_OPTS_INIT;
	long t0 = now_ms();
	struct run r;

	o.timeout_ms = 1500;
	o.kill_grace_ms = 300;
	/* ignores SIGTERM, and so does its sleep */
	run_sh(&r, &o, "trap '' TERM; echo ready; sleep 60");
	assert_true(now_ms() - t0 >= 1800);
	assert_true(now_ms() - t0 < 10000);
	assert_string_equal(r.out[0].s, "ready\n");	/* the trap was set */
	assert_true(r.st.timed_out);
	assert_true(r.st.killed);
	assert_int_equal(r.st.term_signal, SIGKILL);
	assert_int_equal(r.order[LR_PROC_EV_TIMED_OUT], 1);
	assert_int_equal(r.order[LR_PROC_EV_KILLED], 2);
	run_release(&r);
}

static void
test_lr_proc__stop(void **state)
{
	struct lr_proc_opts o = LR_PROC_OPTS_INIT;
	struct run r;
	pid_t bg;

	/* stopped once it has printed: the whole group goes */
	memset(&r, 0, sizeof(r));
	o.timeout_ms = 0;
	{
		char *argv[] = { "/bin/sh", "-c",
		    "sleep 60 & echo $!; exec sleep 60", NULL };
		struct lr_err err = { 0 };
		uv_loop_t loop;

		assert_int_equal(uv_loop_init(&loop), 0);
		o.argv = argv;
		o.on_output = on_output;
		o.on_event = on_event;
		o.on_exit = on_exit_cb;
		o.arg = &r;
		r.stop_from_output = true;
		assert_int_equal(lr_proc_start(&loop, &o, &r.p, &err), 0);
		run_loop(&loop);
	}
	assert_int_equal(r.exits, 1);
	assert_true(r.st.aborted);
	assert_false(r.st.timed_out);
	assert_int_equal(r.st.term_signal, SIGTERM);
	bg = (pid_t)atoi(r.out[0].s);
	assert_true(bg > 0);
	assert_true(gone(bg));
	run_release(&r);
}

static void
test_lr_proc__cannot_run(void **state)
{
	char *argv[] = { "/nonexistent/leura-test-prog", NULL };
	struct lr_proc_opts o = LR_PROC_OPTS_INIT;
	struct lr_err err = { 0 };
	struct lr_proc *p = NULL;
	struct run r;
	uv_loop_t loop;
	int in[2];

	memset(&r, 0, sizeof(r));
	assert_int_equal(pipe(in), 0);
	close(in[1]);
	assert_int_equal(uv_loop_init(&loop), 0);
	o.argv = argv;
	o.on_exit = on_exit_cb;
	o.arg = &r;
	o.stdin_fd = in[0];
	o.cwd = "/";
	assert_true(lr_proc_start(&loop, &o, &p, &err) < 0);
	assert_null(p);
	assert_string_equal(err.msg, "cannot run '/nonexistent/leura-test-"
	    "prog' in '/': no such file or directory");
	assert_int_equal(fcntl(in[0], F_GETFD), -1);	/* closed anyway */
	run_loop(&loop);
	assert_int_equal(r.exits, 0);			/* never called */
}

static void
test_lr_proc__output_left_open(void **state)
{
	struct lr_proc_opts o = LR_PROC_OPTS_INIT;
	struct run r;
	pid_t bg;

	/* the leader exits 0; its background child keeps stdout open */
	run_sh(&r, &o, "sleep 60 & echo $!");
	assert_int_equal(r.st.exit_status, 0);
	assert_int_equal(r.events[LR_PROC_EV_DRAIN_GAVE_UP], 1);
	bg = (pid_t)atoi(r.out[0].s);
	assert_true(bg > 0);
	kill(bg, SIGKILL);
	run_release(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lr_proc__exit_status_and_merged_output),
		cmocka_unit_test(test_lr_proc__split_stderr_env_cwd),
		cmocka_unit_test(test_lr_proc__stdin_and_fd3),
		cmocka_unit_test(test_lr_proc__output_to_fd),
		cmocka_unit_test(test_lr_proc__capture_keeps_the_end),
		cmocka_unit_test(test_lr_proc__timeout_ends_the_group),
		cmocka_unit_test(test_lr_proc__sigkill_after_the_grace),
		cmocka_unit_test(test_lr_proc__stop),
		cmocka_unit_test(test_lr_proc__cannot_run),
		cmocka_unit_test(test_lr_proc__output_left_open),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
