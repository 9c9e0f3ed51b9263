/*
 * Unit tests of the pure parts of task runs on the agent (agent/runs.c):
 * output counting, chunking, back-pressure, the log_max cut, the preview
 * and its UTF-8 clean-up; and the markers of claimed steps (store.c).
 */
#include <sys/stat.h>

#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "runs.h"
#include "store.h"
#include "xalloc.h"

#define CUT	"7500 bytes of output past the log's limit of 2500 bytes"
#define GAP	"393216 bytes of output dropped here"
#define C	AGENT_RUNS_CHUNK
#define MARK	"r@20261207-120000-aaaaaa.0001"

static void
check_utf8(const char *in, size_t n, bool cs, bool ce, const char *want)
{
	char *got = agent_runs_utf8(in, n, cs, ce);

	assert_string_equal(got, want);
	free(got);
}

static void
test_utf8(void **state)
{
	(void)state;
	check_utf8("plain", 5, false, false, "plain");
	check_utf8("caf\xc3\xa9", 5, false, false, "caf\xc3\xa9");
	/* an invalid byte, a lone continuation, NUL */
	check_utf8("a\xffz", 3, false, false, "a\xef\xbf\xbdz");
	check_utf8("a\x80z", 3, false, false, "a\xef\xbf\xbdz");
	check_utf8("a\0z", 3, false, false, "a\xef\xbf\xbdz");
	/* overlong, surrogate, past U+10FFFF */
	check_utf8("\xc0\xaf", 2, false, false, "\xef\xbf\xbd\xef\xbf\xbd");
	check_utf8("\xed\xa0\x80", 3, false, false,
	    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	check_utf8("\xf4\x90\x80\x80", 4, false, false,
	    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	/* four bytes, valid */
	check_utf8("\xf0\x9f\x98\x80", 4, false, false, "\xf0\x9f\x98\x80");
	/* cut in two: at the end, at the start */
	check_utf8("ab\xe2\x82", 4, false, true, "ab");
	check_utf8("ab\xe2\x82", 4, false, false,
	    "ab\xef\xbf\xbd\xef\xbf\xbd");
	check_utf8("\x82\xacz", 3, true, false, "z");
	check_utf8("\x82\xacz", 3, false, false, "\xef\xbf\xbd\xef\xbf\xbdz");
	/* a bad byte at the end of a cut piece is still replaced */
	check_utf8("ab\xff", 3, false, true, "ab\xef\xbf\xbd");
}

static void
test_preview(void **state)
{
	struct agent_runs_out o;
	char *buf, *h, *t;
	size_t i;

	(void)state;
	agent_runs_out_init(&o, 1 << 20, 0);
	agent_runs_out_add(&o, "hello\n", 6);
	h = agent_runs_out_head(&o);
	t = agent_runs_out_tail(&o);
	assert_string_equal(h, "hello\n");
	assert_string_equal(t, "hello\n");
	free(h);
	free(t);
	agent_runs_out_release(&o);

	/* 10000 bytes in odd pieces: head the first 4096, tail the last */
	buf = lr_xmalloc(10000);
	for (i = 0; i < 10000; i++)
		buf[i] = (char)('a' + i % 26);
	agent_runs_out_init(&o, 1 << 20, 0);
	for (i = 0; i < 10000; i += 777)
		agent_runs_out_add(&o, buf + i, i + 777 > 10000 ? 10000 - i :
		    777);
	assert_int_equal(o.bytes, 10000);
	h = agent_runs_out_head(&o);
	t = agent_runs_out_tail(&o);
	assert_int_equal(strlen(h), 4096);
	assert_int_equal(strlen(t), 4096);
	assert_memory_equal(h, buf, 4096);
	assert_memory_equal(t, buf + 10000 - 4096, 4096);
	free(h);
	free(t);
	agent_runs_out_release(&o);

	/* a character cut by the tail's start and the head's end */
	agent_runs_out_init(&o, 1 << 20, 0);
	memset(buf, 'x', 10000);
	memcpy(buf + 4095, "\xc3\xa9", 2);	/* across the head's end */
	memcpy(buf + 10000 - 4097, "\xc3\xa9", 2); /* across the tail's */
	agent_runs_out_add(&o, buf, 10000);
	h = agent_runs_out_head(&o);
	t = agent_runs_out_tail(&o);
	assert_int_equal(strlen(h), 4095);
	assert_int_equal(strlen(t), 4095);
	assert_null(strstr(h, "\xef\xbf\xbd"));
	assert_null(strstr(t, "\xef\xbf\xbd"));
	free(h);
	free(t);
	agent_runs_out_release(&o);
	free(buf);
}

static void
test_chunks(void **state)
{
	struct agent_runs_out o;
	char *buf = lr_xmalloc(400000);
	size_t n, total = 0;

	(void)state;
	memset(buf, 'a', 400000);
	agent_runs_out_init(&o, 1 << 20, 0);
	agent_runs_out_add(&o, buf, 100);
	/* less than a chunk: only with flush */
	assert_int_equal(agent_runs_out_next(&o, false, C), 0);
	assert_int_equal(agent_runs_out_next(&o, true, C), 100);
	agent_runs_out_add(&o, buf, 200000);
	/* whole chunks first, each at most AGENT_RUNS_CHUNK */
	while ((n = agent_runs_out_next(&o, false, C)) > 0) {
		assert_int_equal(n, AGENT_RUNS_CHUNK);
		agent_runs_out_take(&o, n);
		total += n;
	}
	n = agent_runs_out_next(&o, true, C);
	assert_true(n > 0 && n < AGENT_RUNS_CHUNK);
	agent_runs_out_take(&o, n);
	total += n;
	assert_int_equal(total, 200100);
	assert_int_equal(o.pend_len, 0);
	agent_runs_out_end(&o);
	assert_int_equal(o.pend_len, 0);	/* nothing cut: no line */
	assert_false(o.truncated);
	/* batches: whole chunks up to max, the rest only with flush */
	agent_runs_out_add(&o, buf, 5 * C + 10);
	assert_int_equal(agent_runs_out_next(&o, false, 4 * C), 4 * C);
	assert_int_equal(agent_runs_out_next(&o, true, 4 * C), 4 * C);
	assert_int_equal(agent_runs_out_next(&o, false, 8 * C), 5 * C);
	assert_int_equal(agent_runs_out_next(&o, true, 8 * C), 5 * C + 10);
	agent_runs_out_release(&o);
	free(buf);
}

static void
test_log_max(void **state)
{
	struct agent_runs_out o;
	char buf[1000];
	int i;

	(void)state;
	memset(buf, 'b', sizeof(buf));
	agent_runs_out_init(&o, 2500, 0);
	for (i = 0; i < 10; i++)
		agent_runs_out_add(&o, buf, sizeof(buf));
	assert_int_equal(o.bytes, 10000);
	assert_int_equal(o.queued, 2500);
	assert_true(o.truncated);
	assert_int_equal(o.pend_len, 2500);
	agent_runs_out_end(&o);
	/* the last line says how much was not kept */
	assert_true(o.pend_len > 2500);
	assert_non_null(memmem(o.pend, o.pend_len, CUT, strlen(CUT)));
	agent_runs_out_release(&o);
}

static void
test_backpressure(void **state)
{
	struct agent_runs_out o;
	char *buf = lr_xmalloc(AGENT_RUNS_CHUNK);
	size_t i;

	(void)state;
	memset(buf, 'c', AGENT_RUNS_CHUNK);
	/* pending at most 4 chunks: etcd takes none while 10 come */
	agent_runs_out_init(&o, 1 << 30, 4 * AGENT_RUNS_CHUNK);
	for (i = 0; i < 10; i++)
		agent_runs_out_add(&o, buf, AGENT_RUNS_CHUNK);
	assert_int_equal(o.pend_len, 4 * AGENT_RUNS_CHUNK);
	assert_int_equal(o.dropped, 6 * AGENT_RUNS_CHUNK);
	assert_true(o.truncated);
	/* etcd takes one: the next bytes come after a line about the gap */
	agent_runs_out_take(&o, AGENT_RUNS_CHUNK);
	agent_runs_out_add(&o, "tail\n", 5);
	assert_non_null(memmem(o.pend, o.pend_len, GAP, strlen(GAP)));
	assert_memory_equal(o.pend + o.pend_len - 5, "tail\n", 5);
	assert_int_equal(o.bytes, 10 * AGENT_RUNS_CHUNK + 5);
	agent_runs_out_release(&o);
	free(buf);
}

static int
rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path);
}

static void
test_marks(void **state)
{
	char tmpl[] = "/tmp/leura-runs-XXXXXX", *dir;
	struct agent_store *s;
	struct lr_err err;
	json_t *v, *marks;

	(void)state;
	assert_non_null(mkdtemp(tmpl));
	dir = lr_xasprintf("%s/state", tmpl);
	assert_int_equal(agent_store_open(dir, &s, &err), 0);
	v = json_pack("{s:s}", "run", "r@1");
	assert_false(agent_store_run_marked(s, MARK));
	assert_int_equal(agent_store_run_mark(s,
	    "r@20261207-120000-aaaaaa.0001", v, &err), 0);
	assert_true(agent_store_run_marked(s, MARK));
	/* names that would leave the folder, or hide in it */
	assert_int_equal(agent_store_run_mark(s, "../x", v, &err), LR_EINVAL);
	assert_int_equal(agent_store_run_mark(s, ".x", v, &err), LR_EINVAL);
	assert_int_equal(agent_store_run_mark(s, "a/b", v, &err), LR_EINVAL);
	assert_false(agent_store_run_marked(s, "../state/lock"));
	agent_store_close(s);
	/* they survive a restart */
	assert_int_equal(agent_store_open(dir, &s, &err), 0);
	marks = agent_store_run_marks(s);
	assert_int_equal(json_array_size(marks), 1);
	assert_string_equal(json_string_value(json_array_get(marks, 0)),
	    "r@20261207-120000-aaaaaa.0001");
	json_decref(marks);
	agent_store_run_unmark(s, "r@20261207-120000-aaaaaa.0001");
	assert_false(agent_store_run_marked(s, MARK));
	agent_store_close(s);
	json_decref(v);
	nftw(tmpl, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_preview),
		cmocka_unit_test(test_chunks),
		cmocka_unit_test(test_log_max),
		cmocka_unit_test(test_backpressure),
		cmocka_unit_test(test_marks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
