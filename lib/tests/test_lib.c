/*
 * Unit tests of the shared plumbing: buffers, suggestions, hashes, errors,
 * allocation helpers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "err.h"
#include "hash.h"
#include "suggest.h"
#include "xalloc.h"

static void
test_lr_buf__grows_and_stays_terminated(void **state)
{
	struct lr_buf b = LR_BUF_INIT;
	char *s;
	size_t len, i;

	(void)state;
	for (i = 0; i < 1000; i++)
		lr_buf_addc(&b, (char)('a' + i % 26));
	assert_int_equal(b.len, 1000);
	assert_int_equal(b.s[1000], '\0');
	lr_buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.s, "");
	lr_buf_printf(&b, "%s-%d", "x", 42);
	lr_buf_adds(&b, "!");
	assert_string_equal(b.s, "x-42!");
	s = lr_buf_detach(&b, &len);
	assert_string_equal(s, "x-42!");
	assert_int_equal(len, 5);
	assert_null(b.s);
	free(s);
	s = lr_buf_detach(&b, NULL);	/* an empty buffer gives "" */
	assert_string_equal(s, "");
	free(s);
}

static const char *
vis(struct lr_buf *b, const char *s, size_t n, unsigned flags)
{
	lr_buf_reset(b);
	lr_buf_add_visible(b, s, n, flags);
	return b->s;
}

/* What a host reports is shown, never acted on by the terminal. */
static void
test_lr_buf_add_visible__escapes_controls(void **state)
{
	struct lr_buf b = LR_BUF_INIT;

	(void)state;
	assert_string_equal(vis(&b, "", 0, 0), "");
	assert_string_equal(vis(&b, "plain text ~", 12, 0), "plain text ~");
	/* window title (OSC 0) and clipboard (OSC 52) */
	assert_string_equal(vis(&b, "\033]0;pwned\007x", 11, 0),
	    "\\x1b]0;pwned\\x07x");
	assert_string_equal(vis(&b, "\033]52;c;aGk=\033\\", 13, 0),
	    "\\x1b]52;c;aGk=\\x1b\\");
	assert_string_equal(vis(&b, "a\rb\x7f\0c", 6, 0),
	    "a\\x0db\\x7f\\x00c");
	/* lines: kept for output, shown in a one-line field */
	assert_string_equal(vis(&b, "l1\n\tl2", 6, LR_VIS_LINES),
	    "l1\n\tl2");
	assert_string_equal(vis(&b, "l1\n\tl2", 6, 0), "l1\\n\\tl2");
	/* UTF-8 is text; C1 controls (CSI U+009B) and stray bytes are not */
	assert_string_equal(vis(&b, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98"
	    "\x80", 14, 0), "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	assert_string_equal(vis(&b, "\xc2\x9b" "31m", 5, 0),
	    "\\xc2\\x9b31m");
	assert_string_equal(vis(&b, "\x9b" "31m", 4, 0), "\\x9b31m");
	/* overlong, surrogate, cut short */
	assert_string_equal(vis(&b, "\xc0\x9b", 2, 0), "\\xc0\\x9b");
	assert_string_equal(vis(&b, "\xed\xa0\x80", 3, 0),
	    "\\xed\\xa0\\x80");
	assert_string_equal(vis(&b, "\xe2\x82", 2, 0), "\\xe2\\x82");
	lr_buf_release(&b);
}

static void
test_lr_edit_distance__cases(void **state)
{
	(void)state;
	assert_int_equal(lr_edit_distance("", ""), 0);
	assert_int_equal(lr_edit_distance("abc", ""), 3);
	assert_int_equal(lr_edit_distance("kitten", "sitting"), 3);
	/* a transposition counts once */
	assert_int_equal(lr_edit_distance("scirpt", "script"), 1);
}

static void
test_lr_suggest__closest_or_none(void **state)
{
	const char *keys[] = { "num_instances", "scheduling_group",
	    "spread_by", "roles", NULL };

	(void)state;
	assert_string_equal(lr_suggest("num_instance", keys, 4),
	    "num_instances");
	assert_string_equal(lr_suggest("rolse", keys, 4), "roles");
	assert_string_equal(lr_suggest("spread", keys, 4), "spread_by");
	assert_null(lr_suggest("completely-different", keys, 4));
	assert_null(lr_suggest("x", keys, 0));
	/* NULL entries are skipped */
	assert_string_equal(lr_suggest("roles", keys + 3, 2), "roles");
}

static void
test_lr_sha256_hex__known_vectors(void **state)
{
	char out[LR_SHA256_HEX_LEN + 1];

	(void)state;
	lr_sha256_hex("", 0, out);
	assert_string_equal(out, "e3b0c44298fc1c149afbf4c8996fb924"
	    "27ae41e4649b934ca495991b7852b855");
	lr_sha256_hex("abc", 3, out);
	assert_string_equal(out, "ba7816bf8f01cfea414140de5dae2223"
	    "b00361a396177a9cb410ff61f20015ad");
}

static void
test_lr_err_set__returns_code_and_hint(void **state)
{
	struct lr_err err;

	(void)state;
	lr_err_clear(&err);
	assert_int_equal(lr_err_set(&err, LR_ENOENT, "no '%s'", "x"),
	    LR_ENOENT);
	assert_string_equal(err.msg, "no 'x'");
	assert_string_equal(err.hint, "");
	assert_int_equal(lr_err_hint(&err, "try %d", 2), LR_ENOENT);
	assert_string_equal(err.hint, "try 2");
	/* a NULL err is allowed and still returns the code */
	assert_int_equal(lr_err_set(NULL, LR_EIO, "x"), LR_EIO);
}

static void
test_lr_xasprintf__short_and_long(void **state)
{
	char *s, big[600];

	(void)state;
	s = lr_xasprintf("%s/%d", "a", 7);
	assert_string_equal(s, "a/7");
	free(s);
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	s = lr_xasprintf("<%s>", big);
	assert_int_equal(strlen(s), sizeof(big) + 1);
	assert_int_equal(s[0], '<');
	assert_int_equal(s[sizeof(big)], '>');
	free(s);
}

static void
test_lr_array_push__appends(void **state)
{
	int *v = NULL;
	size_t n = 0, cap = 0, i;

	(void)state;
	for (i = 0; i < 100; i++)
		*LR_ARRAY_PUSH(v, n, cap) = (int)i;
	assert_int_equal(n, 100);
	assert_true(cap >= 100);
	for (i = 0; i < 100; i++)
		assert_int_equal(v[i], (int)i);
	free(v);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lr_buf__grows_and_stays_terminated),
		cmocka_unit_test(test_lr_buf_add_visible__escapes_controls),
		cmocka_unit_test(test_lr_edit_distance__cases),
		cmocka_unit_test(test_lr_suggest__closest_or_none),
		cmocka_unit_test(test_lr_sha256_hex__known_vectors),
		cmocka_unit_test(test_lr_err_set__returns_code_and_hint),
		cmocka_unit_test(test_lr_xasprintf__short_and_long),
		cmocka_unit_test(test_lr_array_push__appends),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
