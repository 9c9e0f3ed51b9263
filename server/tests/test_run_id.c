/*
 * Run ids (server/run_id.c): what run_id_new makes passes run_id_valid,
 * and nothing that could escape a directory or mix with a host name does.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "run.h"

static void
t_new(void **state)
{
	char a[RUN_ID_LEN + 1], b[RUN_ID_LEN + 1];

	(void)state;
	run_id_new(a);
	run_id_new(b);
	assert_int_equal(strlen(a), RUN_ID_LEN);
	assert_true(run_id_valid(a));
	assert_true(run_id_valid(b));
	assert_memory_equal(a, "r@", 2);
	/* ids made one after the other sort in that order, even within a
	   second (the newest-first lists rely on it) */
	for (int i = 0; i < 50; i++) {
		struct timespec ts = { 0, 2 * 1000 * 1000 };

		memcpy(a, b, sizeof(a));
		nanosleep(&ts, NULL);
		run_id_new(b);
		assert_true(strcmp(a, b) < 0);
	}
}

static void
t_valid(void **state)
{
	static const char *const good[] = {
		"r@20261207-223602-0a9fbc", "d@1", "d@123456789012345678",
	};
	static const char *const bad[] = {
		"", "r@", "d@", "d@0", "d@01", "d@1x", "d@../1", "web1",
		"r@20261207-223602-0a9fb", "r@20261207-223602-0a9fbcd",
		"r@20261207-223602-0A9FBC", "r@2026120x-223602-0a9fbc",
		"r@20261207_223602-0a9fbc", "r@../../../../etc/passwdxx",
		"x@20261207-223602-0a9fbc", "r@20261207-223602/0a9fbc",
		"d@1234567890123456789",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(run_id_valid(good[i]));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (run_id_valid(bad[i]))
			fail_msg("'%s' passed", bad[i]);
	assert_false(run_id_valid(NULL));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_new),
		cmocka_unit_test(t_valid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
