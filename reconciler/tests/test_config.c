/*
 * Unit tests of rec_config_parse: the client configuration file.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"

/* Parse text; return the first diagnostic's "line:col: message". */
static char *
parse(const char *text, struct rec_config *c, int *rc)
{
	struct spec_diags d;
	char *first = NULL;

	spec_diags_init(&d);
	*rc = rec_config_parse("config", text, strlen(text), "/home/u", c, &d);
	if (d.n) {
		size_t n = strlen(d.v[0].msg) + 64;

		first = malloc(n);
		snprintf(first, n, "%d:%d: %s", d.v[0].line, d.v[0].col,
		    d.v[0].msg);
	}
	spec_diags_release(&d);
	return first;
}

static void
test_rec_config_parse__full(void **state)
{
	struct rec_config c;
	char *diag;
	int rc;

	(void)state;
	diag = parse("etcd:\n  endpoints: [http://a:1, https://b:2]\n"
	    "  cacert: ~/ca.pem\n  user: dep\n  prefix: /x\n", &c, &rc);
	assert_int_equal(rc, 0);
	assert_null(diag);
	assert_string_equal(c.endpoints, "http://a:1,https://b:2");
	assert_string_equal(c.cacert, "/home/u/ca.pem");
	assert_string_equal(c.user, "dep");
	assert_string_equal(c.prefix, "/x");
	assert_null(c.cert);
	rec_config_release(&c);
	/* a single endpoint may be a plain string; an empty file is fine */
	diag = parse("etcd: {endpoints: http://a:1}\n", &c, &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(c.endpoints, "http://a:1");
	rec_config_release(&c);
	diag = parse("", &c, &rc);
	assert_int_equal(rc, 0);
	assert_null(c.endpoints);
	rec_config_release(&c);
}

static void
test_rec_config_parse__bad_input(void **state)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{ "etcd:\n  endpoint: http://x\n",
		    "2:3: unknown key 'endpoint'" },
		{ "etcd:\n  endpoints: ftp://x\n",
		    "2:14: etcd endpoint 'ftp://x' is not an http" },
		{ "etcd:\n  prefix: leura\n",
		    "2:11: etcd.prefix 'leura' does not start with '/'" },
		{ "etcd: [1, 2]\n", "1:7: etcd" },
		{ "etcd:\n  user: [a]\n", "2:9: etcd.user" },
		{ "etcd: {endpoints: []}\n", "1:19: etcd.endpoints is empty" },
		{ "etcd: {cacert: ''}\n", "1:16: etcd.cacert is empty" },
		{ "etcd:\n  endpoints: [\n", "" },
		{ "etcd:\n  endpoints: x\n  endpoints: y\n", "3:3: " },
	};
	struct rec_config c;
	size_t i;
	char *diag;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		diag = parse(cases[i].text, &c, &rc);
		if (rc != LR_EINVAL || diag == NULL ||
		    strncmp(diag, cases[i].want, strlen(cases[i].want)) != 0) {
			fprintf(stderr, "case %zu: rc %d, diag '%s', want "
			    "'%s'\n", i, rc, diag ? diag : "(none)",
			    cases[i].want);
			fail();
		}
		free(diag);
		rec_config_release(&c);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rec_config_parse__full),
		cmocka_unit_test(test_rec_config_parse__bad_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
