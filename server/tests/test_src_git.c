/*
 * Unit tests of the git source's mirror (server/source_git.c) against
 * repositories made with git in a temp dir: every branch mirrored, moved
 * and pruned as the remote's, a remote that is not there (an error that
 * names it, without the URL's password).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "source.h"
#include "xalloc.h"

static char dir[] = "/tmp/test_src_git.XXXXXX";

static void
sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0) {
		fprintf(stderr, "failed: %s\n", cmd);
		fail();
	}
}

/* The id of rev in the remote, from git itself. */
static void
rev(const char *r, char out[41])
{
	char cmd[512];
	FILE *p;

	snprintf(cmd, sizeof(cmd), "git -C %s/remote rev-parse %s", dir, r);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_non_null(fgets(out, 41, p));
	pclose(p);
}

static int
setup(void **state)
{
	(void)state;
	if (mkdtemp(dir) == NULL)
		return -1;
	setenv("GIT_AUTHOR_NAME", "t", 1);
	setenv("GIT_AUTHOR_EMAIL", "t@example.invalid", 1);
	setenv("GIT_COMMITTER_NAME", "t", 1);
	setenv("GIT_COMMITTER_EMAIL", "t@example.invalid", 1);
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	setenv("HOME", dir, 1);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[256];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
test_src_git__mirror(void **state)
{
	struct src_mirror m = { 0 };
	struct lr_err err;
	json_t *heads = NULL;
	char main_id[41], dev_id[41];

	(void)state;
	sh("cd %s && git init -q -b main remote && cd remote && "
	    "echo 'name: t' >leura.yml && git add -A && "
	    "git commit -qm one && git branch dev", dir);
	m.url = lr_xasprintf("%s/remote", dir);
	m.path = lr_xasprintf("%s/data/source.git", dir);
	sh("mkdir -p %s/data", dir);
	lr_err_clear(&err);
	assert_int_equal(src_mirror_fetch(&m, &heads, &err), 0);
	rev("main", main_id);
	assert_string_equal(json_string_value(json_object_get(heads, "main")),
	    main_id);
	assert_string_equal(json_string_value(json_object_get(heads, "dev")),
	    main_id);
	json_decref(heads);

	/* main moves on, dev goes away, feature comes */
	sh("cd %s/remote && echo 'name: u' >leura.yml && "
	    "git commit -qam two && git branch -D -q dev && "
	    "git branch feature/x", dir);
	assert_int_equal(src_mirror_fetch(&m, &heads, &err), 0);
	rev("main", main_id);
	rev("feature/x", dev_id);
	assert_string_equal(json_string_value(json_object_get(heads, "main")),
	    main_id);
	assert_string_equal(json_string_value(json_object_get(heads,
	    "feature/x")), dev_id);
	assert_null(json_object_get(heads, "dev"));
	assert_int_equal(json_object_size(heads), 2);
	json_decref(heads);
	src_mirror_release(&m);
}

static void
test_src_git__unreachable(void **state)
{
	struct src_mirror m = { 0 };
	struct lr_err err;
	json_t *heads = NULL;

	(void)state;
	m.url = lr_xstrdup("http://user:pa55word@127.0.0.1:1/none.git");
	m.path = lr_xasprintf("%s/data2/source.git", dir);
	m.token = lr_xstrdup("t0ken");
	lr_err_clear(&err);
	assert_true(src_mirror_fetch(&m, &heads, &err) < 0);
	assert_int_equal(err.code, LR_EUNREACH);
	assert_null(heads);
	assert_non_null(strstr(err.msg, "http://127.0.0.1:1/none.git"));
	assert_null(strstr(err.msg, "pa55word"));
	assert_null(strstr(err.msg, "t0ken"));
	assert_non_null(strstr(err.hint, "--source-token-file"));
	src_mirror_release(&m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_src_git__mirror),
		cmocka_unit_test(test_src_git__unreachable),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
