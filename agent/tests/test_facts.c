/*
 * Unit tests of the host facts (agent/facts.c): the ones every Linux host
 * can give are there, with plausible values.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "facts.h"

static void
test_agent_facts_collect__has_the_basics(void **state)
{
	json_t *f, *load;
	size_t i;

	(void)state;
	f = agent_facts_collect("/tmp", 1746180847);
	assert_non_null(f);
	assert_true(json_is_string(json_object_get(f, "hostname")));
	assert_true(strlen(json_string_value(json_object_get(f,
	    "hostname"))) > 0);
	assert_true(json_integer_value(json_object_get(f, "cpus")) > 0);
	assert_true(json_integer_value(json_object_get(f, "mem_total")) > 0);
	assert_true(json_integer_value(json_object_get(f, "mem_available")) >
	    0);
	assert_true(json_integer_value(json_object_get(f, "mem_available")) <=
	    json_integer_value(json_object_get(f, "mem_total")));
	assert_true(json_is_string(json_object_get(f, "kernel")));
	assert_true(json_is_string(json_object_get(f, "arch")));
	assert_true(json_is_integer(json_object_get(f, "disk_free")));
	load = json_object_get(f, "load");
	assert_true(json_is_array(load));
	assert_int_equal(json_array_size(load), 3);
	for (i = 0; i < 3; i++)
		assert_true(json_real_value(json_array_get(load, i)) >= 0);
	assert_string_equal(json_string_value(json_object_get(f, "agent")),
	    LEURA_VERSION);
	assert_int_equal(json_integer_value(json_object_get(f, "pid")),
	    getpid());
	assert_int_equal(json_integer_value(json_object_get(f,
	    "started_unix")), 1746180847);
	json_decref(f);
}

static void
test_agent_facts_collect__unreadable_fact_left_out(void **state)
{
	json_t *f;

	(void)state;
	/* no state dir, or one that does not exist: no disk_free */
	f = agent_facts_collect(NULL, 0);
	assert_null(json_object_get(f, "disk_free"));
	assert_non_null(json_object_get(f, "hostname"));
	json_decref(f);
	f = agent_facts_collect("/nonexistent/leura-state", 0);
	assert_null(json_object_get(f, "disk_free"));
	json_decref(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_agent_facts_collect__has_the_basics),
		cmocka_unit_test(
		    test_agent_facts_collect__unreadable_fact_left_out),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
