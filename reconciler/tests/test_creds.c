/*
 * Unit tests of the credentials file of `leura login` (creds.c): written
 * 0600 in a folder made 0700, read back per server, an entry removed, and
 * a file others may read refused (with the chmod hint) rather than used.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "creds.h"

static char dir[] = "/tmp/leura-test-creds-XXXXXX";

static int
setup(void **state)
{
	(void)state;
	assert_non_null(mkdtemp(dir));
	unsetenv("LEURA_CREDENTIALS");
	setenv("XDG_CONFIG_HOME", dir, 1);
	return 0;
}

static int
teardown(void **state)
{
	char p[128];

	(void)state;
	snprintf(p, sizeof(p), "%s/leura/credentials", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/leura", dir);
	rmdir(p);
	rmdir(dir);
	return 0;
}

static void
test_rec_creds__put_get_remove(void **state)
{
	struct rec_cred c = { 0 }, in = { 0 };
	struct lr_err err;
	struct stat st;
	char *path;

	(void)state;
	lr_err_clear(&err);
	assert_int_equal(rec_creds_get("http://a:1", &c, &err), LR_ENOENT);
	assert_non_null(strstr(err.hint, "leura login"));
	in.token = "tok-a";
	in.user = "alice";
	in.expires = "2030-01-01T00:00:00Z";
	assert_int_equal(rec_creds_put("http://a:1", &in, &err), 0);
	in.token = "tok-b";
	in.user = "bob";
	in.expires = NULL;
	assert_int_equal(rec_creds_put("http://b:2", &in, &err), 0);
	path = rec_creds_path();
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	{
		char d[128];

		snprintf(d, sizeof(d), "%s/leura", dir);
		assert_int_equal(stat(d, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0700);
	}
	assert_int_equal(rec_creds_get("http://a:1", &c, &err), 0);
	assert_string_equal(c.token, "tok-a");
	assert_string_equal(c.user, "alice");
	assert_string_equal(c.expires, "2030-01-01T00:00:00Z");
	rec_cred_release(&c);
	/* removing one keeps the other */
	assert_int_equal(rec_creds_put("http://a:1", NULL, &err), 0);
	assert_int_equal(rec_creds_get("http://a:1", &c, &err), LR_ENOENT);
	assert_int_equal(rec_creds_get("http://b:2", &c, &err), 0);
	assert_string_equal(c.token, "tok-b");
	assert_null(c.expires);
	rec_cred_release(&c);
	/* readable by others: refused, not read, with the chmod hint */
	assert_int_equal(chmod(path, 0644), 0);
	lr_err_clear(&err);
	assert_int_equal(rec_creds_get("http://b:2", &c, &err), LR_EPERM);
	assert_non_null(strstr(err.msg, "mode 0644"));
	assert_non_null(strstr(err.hint, "chmod 600"));
	assert_int_equal(rec_creds_put("http://b:2", NULL, &err), LR_EPERM);
	/* not JSON: said so */
	assert_int_equal(chmod(path, 0600), 0);
	{
		FILE *fp = fopen(path, "w");

		assert_non_null(fp);
		fputs("servers: {}\n", fp);
		fclose(fp);
	}
	assert_int_equal(rec_creds_get("http://b:2", &c, &err), LR_EINVAL);
	free(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rec_creds__put_get_remove,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
