/*
 * Unit tests of rec_textdiff: unified hunks of line changes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "textdiff.h"
#include "xalloc.h"

static void
check(const char *a, const char *b, const char *want)
{
	struct lr_buf out = LR_BUF_INIT;

	rec_textdiff(a, b, "", &out);
	if (strcmp(out.s ? out.s : "", want) != 0) {
		fprintf(stderr, "got:\n%s\nwant:\n%s\n", out.s ? out.s : "",
		    want);
		fail();
	}
	lr_buf_release(&out);
}

static void
test_rec_textdiff__equal_is_empty(void **state)
{
	(void)state;
	check("a\nb\n", "a\nb\n", "");
	check("", "", "");
}

static void
test_rec_textdiff__append_and_change(void **state)
{
	(void)state;
	check("1\n2\n3\n4\n5\n", "1\n2\n3\n4\n5\n6\n",
	    "@@ -3,3 +3,4 @@\n 3\n 4\n 5\n+6\n");
	check("x=1\n", "x=2\n", "@@ -1,1 +1,1 @@\n-x=1\n+x=2\n");
	/* a last line without a newline is a line too */
	check("a\nb", "a\nc", "@@ -1,2 +1,2 @@\n a\n-b\n+c\n");
}

static void
test_rec_textdiff__from_and_to_empty(void **state)
{
	(void)state;
	check("", "new\n", "@@ -0,0 +1,1 @@\n+new\n");
	check("old\n", "", "@@ -1,1 +0,0 @@\n-old\n");
}

static void
test_rec_textdiff__separate_hunks(void **state)
{
	struct lr_buf a = LR_BUF_INIT, b = LR_BUF_INIT, out = LR_BUF_INIT;
	int i;

	(void)state;
	for (i = 1; i <= 30; i++) {
		lr_buf_printf(&a, "%d\n", i);
		lr_buf_printf(&b, "%d\n", i == 3 ? 33 : i == 25 ? 2525 : i);
	}
	rec_textdiff(a.s, b.s, "  ", &out);
	assert_string_equal(out.s,
	    "  @@ -1,6 +1,6 @@\n   1\n   2\n  -3\n  +33\n   4\n   5\n   6\n"
	    "  @@ -22,7 +22,7 @@\n   22\n   23\n   24\n  -25\n  +2525\n"
	    "   26\n   27\n   28\n");
	lr_buf_release(&a);
	lr_buf_release(&b);
	lr_buf_release(&out);
}

static void
test_rec_textdiff__lcs_keeps_common_lines(void **state)
{
	(void)state;
	/* moving one line: the others stay as context */
	check("a\nb\nc\nd\n", "b\nc\na\nd\n",
	    "@@ -1,4 +1,4 @@\n-a\n b\n c\n+a\n d\n");
}

static void
test_rec_textdiff__huge_rewrite_is_bounded(void **state)
{
	struct lr_buf a = LR_BUF_INIT, b = LR_BUF_INIT, out = LR_BUF_INIT;
	int i;

	(void)state;
	/* 3000 x 3000 lines is past the alignment bound: all out, all in */
	for (i = 0; i < 3000; i++) {
		lr_buf_printf(&a, "a%d\n", i);
		lr_buf_printf(&b, "b%d\n", i);
	}
	rec_textdiff(a.s, b.s, "", &out);
	assert_non_null(strstr(out.s, "@@ -1,3000 +1,3000 @@\n-a0\n"));
	assert_non_null(strstr(out.s, "-a2999\n+b0\n"));
	lr_buf_release(&a);
	lr_buf_release(&b);
	lr_buf_release(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rec_textdiff__equal_is_empty),
		cmocka_unit_test(test_rec_textdiff__append_and_change),
		cmocka_unit_test(test_rec_textdiff__from_and_to_empty),
		cmocka_unit_test(test_rec_textdiff__separate_hunks),
		cmocka_unit_test(test_rec_textdiff__lcs_keeps_common_lines),
		cmocka_unit_test(test_rec_textdiff__huge_rewrite_is_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
