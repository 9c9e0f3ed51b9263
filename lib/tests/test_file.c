/*
 * Unit tests of lib/file.h, lib/json.h and the ISO time of lib/clock.h,
 * on a real temp folder.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "clock.h"
#include "file.h"
#include "json.h"
#include "xalloc.h"

static char *
tmpdir(void)
{
	char tmpl[] = "/tmp/leura-test-file.XXXXXX";

	assert_non_null(mkdtemp(tmpl));
	return lr_xstrdup(tmpl);
}

static void
rm_rf(const char *path)
{
	char *cmd = lr_xasprintf("rm -rf '%s'", path);

	assert_int_equal(system(cmd), 0);
	free(cmd);
}

static void
test_lr_file__replace_then_read(void **state)
{
	struct lr_err err;
	struct stat st;
	char *d = tmpdir(), *p, *buf;
	size_t len;
	mode_t old;

	(void)state;
	lr_err_clear(&err);
	old = umask(077);
	assert_int_equal(lr_file_replace(d, "a.conf", "hello\n", 6, 0644,
	    LR_FILE_DURABLE, &err), 0);
	umask(old);
	p = lr_xasprintf("%s/a.conf", d);
	assert_int_equal(stat(p, &st), 0);
	/* the umask does not narrow the mode asked for */
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(lr_read_file(p, 0, &buf, &len, &err), 0);
	assert_int_equal(len, 6);
	assert_string_equal(buf, "hello\n");
	free(buf);
	/* replaced, not appended; no temp file left behind */
	assert_int_equal(lr_file_replace(d, "a.conf", "x", 1, 0600, 0, &err),
	    0);
	assert_int_equal(lr_read_file(p, 0, &buf, &len, &err), 0);
	assert_string_equal(buf, "x");
	free(buf);
	{
		DIR *dir = opendir(d);
		struct dirent *de;
		int n = 0;

		assert_non_null(dir);
		while ((de = readdir(dir)) != NULL)
			if (de->d_name[0] != '.' || lr_file_is_tmp(de->d_name))
				n++;
		closedir(dir);
		assert_int_equal(n, 1);
	}
	free(p);
	rm_rf(d);
	free(d);
}

static void
test_lr_file__read_errors(void **state)
{
	struct lr_err err;
	char *d = tmpdir(), *p, *buf = NULL;
	size_t len;

	(void)state;
	lr_err_clear(&err);
	p = lr_xasprintf("%s/missing", d);
	assert_int_equal(lr_read_file(p, 0, &buf, &len, &err), LR_ENOENT);
	assert_non_null(strstr(err.msg, "missing"));
	assert_null(buf);
	/* a folder is not a file */
	assert_int_equal(lr_read_file(d, 0, &buf, &len, &err), LR_EIO);
	/* over the limit */
	assert_int_equal(lr_file_replace(d, "big", "0123456789", 10, 0600, 0,
	    &err), 0);
	free(p);
	p = lr_xasprintf("%s/big", d);
	assert_int_equal(lr_read_file(p, 9, &buf, &len, &err), LR_ERANGE);
	assert_int_equal(lr_read_file(p, 10, &buf, &len, &err), 0);
	free(buf);
	free(p);
	rm_rf(d);
	free(d);
}

static void
test_lr_file__replace_missing_folder(void **state)
{
	struct lr_err err;
	char *d = tmpdir(), *p;

	(void)state;
	lr_err_clear(&err);
	/* a missing folder is an error naming it, not a crash */
	p = lr_xasprintf("%s/nope", d);
	assert_int_equal(lr_file_replace(p, "f", "x", 1, 0600, 0, &err),
	    LR_EIO);
	assert_non_null(strstr(err.msg, "nope"));
	free(p);
	rm_rf(d);
	free(d);
}

static void
test_lr_mkdir_p__makes_parents(void **state)
{
	struct stat st;
	char *d = tmpdir(), *p;

	(void)state;
	p = lr_xasprintf("%s/a/b/c", d);
	assert_int_equal(lr_mkdir_p(p, 0700), 0);
	assert_int_equal(stat(p, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	/* again: already there is fine */
	assert_int_equal(lr_mkdir_p(p, 0700), 0);
	free(p);
	/* under a file: fails with errno */
	assert_int_equal(lr_file_replace(d, "f", "x", 1, 0600, 0, NULL), 0);
	p = lr_xasprintf("%s/f/sub", d);
	assert_int_equal(lr_mkdir_p(p, 0700), -1);
	assert_int_equal(errno, ENOTDIR);
	free(p);
	rm_rf(d);
	free(d);
}

static void
test_lr_json__getters(void **state)
{
	json_t *o = json_pack("{s:s, s:I, s:b, s:n}", "s", "x", "i",
	    (json_int_t)1234567890123LL, "t", 1, "z");

	(void)state;
	assert_string_equal(lr_json_str(o, "s"), "x");
	assert_string_equal(lr_json_str(o, "missing"), "");
	assert_string_equal(lr_json_str(o, "i"), "");
	assert_null(lr_json_strn(o, "missing"));
	assert_int_equal(lr_json_int(o, "i"), 1234567890123LL);
	assert_int_equal(lr_json_int(o, "s"), 0);
	assert_true(lr_json_bool(o, "t"));
	assert_false(lr_json_bool(o, "z"));
	assert_false(lr_json_bool(NULL, "t"));
	assert_string_equal(lr_json_str(NULL, "s"), "");
	json_decref(o);
}

static void
test_lr_time_iso__utc(void **state)
{
	char b[LR_TIME_ISO_LEN];

	(void)state;
	lr_time_iso(0, b);
	assert_string_equal(b, "1970-01-01T00:00:00Z");
	lr_time_iso(1796652799, b);
	assert_string_equal(b, "2026-12-07T14:13:19Z");
	lr_time_iso_now(b);
	assert_int_equal(strlen(b), 20);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lr_file__replace_then_read),
		cmocka_unit_test(test_lr_file__read_errors),
		cmocka_unit_test(test_lr_file__replace_missing_folder),
		cmocka_unit_test(test_lr_mkdir_p__makes_parents),
		cmocka_unit_test(test_lr_json__getters),
		cmocka_unit_test(test_lr_time_iso__utc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
