/*
 * Unit tests of rec_config_parse (the client configuration file) and of
 * the connection chain flags -> LEURA_ETCD* -> file -> defaults
 * (rec_config_conn over lr_conn_resolve, which the agent shares).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "conn.h"

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
	/* leura up's: a unix socket, quoted */
	diag = parse("etcd:\n  endpoints:\n    - \"unix:///s/sock/etcd:2379\"\n",
	    &c, &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(c.endpoints, "unix:///s/sock/etcd:2379");
	rec_config_release(&c);
	diag = parse("", &c, &rc);
	assert_int_equal(rc, 0);
	assert_null(c.endpoints);
	rec_config_release(&c);
	/* leurad's address and CA */
	diag = parse("server:\n  url: https://l:7480\n  cacert: ~/s.pem\n",
	    &c, &rc);
	assert_int_equal(rc, 0);
	assert_null(diag);
	assert_string_equal(c.server_url, "https://l:7480");
	assert_string_equal(c.server_cacert, "/home/u/s.pem");
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
		{ "etcd:\n  endpoints: unix://etcd:2379\n",
		    "2:14: etcd endpoint 'unix://etcd:2379' is not an http" },
		{ "etcd:\n  prefix: leura\n",
		    "2:11: etcd.prefix 'leura' does not start with '/'" },
		{ "etcd: [1, 2]\n", "1:7: etcd" },
		{ "etcd:\n  user: [a]\n", "2:9: etcd.user" },
		{ "etcd: {endpoints: []}\n", "1:19: etcd.endpoints is empty" },
		{ "etcd: {cacert: ''}\n", "1:16: etcd.cacert is empty" },
		{ "etcd:\n  endpoints: [\n", "" },
		{ "etcd:\n  endpoints: x\n  endpoints: y\n", "3:3: " },
		{ "server:\n  uri: http://x\n", "2:3: unknown key 'uri'" },
		{ "server:\n  url: ftp://x\n",
		    "2:8: server.url 'ftp://x' is not an http" },
		{ "server: {url: ''}\n", "1:15: server.url is empty" },
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

/* ---- the connection chain ---- */

static const char *const conn_vars[] = { "LEURA_ETCD", "LEURA_ETCD_PREFIX",
	"LEURA_ETCD_CACERT", "LEURA_ETCD_CERT", "LEURA_ETCD_KEY",
	"LEURA_ETCD_USER", "LEURA_ETCD_PASSWORD", "LEURA_CONFIG",
	"XDG_CONFIG_HOME", "LEURA_SERVER", "LEURA_SERVER_CACERT", NULL };

static int
conn_setup(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; conn_vars[i]; i++)
		unsetenv(conn_vars[i]);
	/* no user's config file: a home without one */
	setenv("HOME", "/nonexistent-leura-test-home", 1);
	return 0;
}

static void
write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static void
test_lr_conn_resolve__defaults_env_and_flags(void **state)
{
	struct lr_conn_settings flags = { 0 }, file = { 0 };
	struct lr_conn c;
	struct lr_err err;

	(void)state;
	lr_err_clear(&err);
	assert_int_equal(lr_conn_resolve(NULL, NULL, &c, &err), 0);
	assert_string_equal(c.endpoints, "http://127.0.0.1:2379");
	assert_string_equal(c.prefix, "/leura");
	assert_null(c.user);
	assert_null(c.password);
	lr_conn_release(&c);

	/* the file, then the environment, then flags win */
	file.endpoints = "http://file:2379";
	file.prefix = "/from-file/";
	file.cacert = "/file/ca.pem";
	assert_int_equal(lr_conn_resolve(NULL, &file, &c, &err), 0);
	assert_string_equal(c.endpoints, "http://file:2379");
	assert_string_equal(c.prefix, "/from-file");	/* no trailing '/' */
	assert_string_equal(c.cacert, "/file/ca.pem");
	lr_conn_release(&c);
	setenv("LEURA_ETCD", "http://env:2379", 1);
	setenv("LEURA_ETCD_PREFIX", "/env", 1);
	assert_int_equal(lr_conn_resolve(NULL, &file, &c, &err), 0);
	assert_string_equal(c.endpoints, "http://env:2379");
	assert_string_equal(c.prefix, "/env");
	lr_conn_release(&c);
	flags.endpoints = "http://flag:2379";
	flags.prefix = "/flag";
	assert_int_equal(lr_conn_resolve(&flags, &file, &c, &err), 0);
	assert_string_equal(c.endpoints, "http://flag:2379");
	assert_string_equal(c.prefix, "/flag");
	lr_conn_release(&c);
	conn_setup(NULL);
}

static void
test_lr_conn_resolve__prefix_and_password(void **state)
{
	struct lr_conn_settings flags = { 0 }, file = { 0 };
	char pwfile[] = "/tmp/leura-test-pw-XXXXXX", want[128], *big;
	struct lr_conn c;
	struct lr_err err;
	int fd;

	(void)state;
	lr_err_clear(&err);
	setenv("LEURA_ETCD_PREFIX", "leura", 1);
	assert_int_equal(lr_conn_resolve(NULL, NULL, &c, &err), LR_EINVAL);
	assert_string_equal(err.msg, "LEURA_ETCD_PREFIX 'leura' does not "
	    "start with '/'");
	assert_null(c.prefix);
	unsetenv("LEURA_ETCD_PREFIX");

	/* a user needs a password: the variable, else a file */
	file.user = "deployer";
	assert_int_equal(lr_conn_resolve(NULL, &file, &c, &err), LR_EAUTH);
	assert_string_equal(err.msg, "etcd user 'deployer' has no password");
	assert_int_not_equal(fd = mkstemp(pwfile), -1);
	close(fd);
	write_file(pwfile, "from-file\nsecond line\n");
	file.password_file = pwfile;
	assert_int_equal(lr_conn_resolve(NULL, &file, &c, &err), 0);
	assert_string_equal(c.password, "from-file");
	lr_conn_release(&c);
	setenv("LEURA_ETCD_PASSWORD", "from-env", 1);
	assert_int_equal(lr_conn_resolve(NULL, &file, &c, &err), 0);
	assert_string_equal(c.password, "from-env");
	lr_conn_release(&c);
	/* a password file on the command line wins over the variable */
	flags.password_file = pwfile;
	assert_int_equal(lr_conn_resolve(&flags, &file, &c, &err), 0);
	assert_string_equal(c.password, "from-file");
	lr_conn_release(&c);
	/* the CLI's words for a password file over 1 MiB, as they were */
	assert_non_null(big = malloc(1024 * 1024 + 2));
	memset(big, 'x', 1024 * 1024 + 1);
	big[1024 * 1024 + 1] = '\0';
	write_file(pwfile, big);
	free(big);
	assert_int_equal(lr_conn_resolve(&flags, &file, &c, &err), LR_ERANGE);
	snprintf(want, sizeof(want), "'%s' is over 1 MiB", pwfile);
	assert_string_equal(err.msg, want);
	unlink(pwfile);
	assert_int_equal(lr_conn_resolve(&flags, &file, &c, &err), LR_ENOENT);
	assert_non_null(strstr(err.msg, pwfile));
	snprintf(want, sizeof(want), "cannot read '%s': ", pwfile);
	assert_true(strncmp(err.msg, want, strlen(want)) == 0);
	conn_setup(NULL);
}

static void
test_rec_config_conn__file(void **state)
{
	char dir[] = "/tmp/leura-test-config-XXXXXX", path[64];
	struct spec_diags d;
	struct lr_conn c;
	struct lr_err err;

	(void)state;
	lr_err_clear(&err);
	spec_diags_init(&d);
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/config", dir);
	write_file(path, "etcd:\n  endpoints: [http://10.0.0.5:2379]\n"
	    "  prefix: /p\n");
	setenv("LEURA_CONFIG", path, 1);
	assert_int_equal(rec_config_conn(NULL, NULL, &c, &d, &err), 0);
	assert_string_equal(c.endpoints, "http://10.0.0.5:2379");
	assert_string_equal(c.prefix, "/p");
	lr_conn_release(&c);
	/* leura.yml's backend wins over the file, the variables over it */
	{
		struct lr_conn_settings repo = { 0 };

		repo.endpoints = "http://10.0.0.7:2379";
		repo.prefix = "/fleet";
		assert_int_equal(rec_config_conn(NULL, &repo, &c, &d, &err),
		    0);
		assert_string_equal(c.endpoints, "http://10.0.0.7:2379");
		assert_string_equal(c.prefix, "/fleet");
		lr_conn_release(&c);
		setenv("LEURA_ETCD", "http://10.0.0.9:2379", 1);
		assert_int_equal(rec_config_conn(NULL, &repo, &c, &d, &err),
		    0);
		assert_string_equal(c.endpoints, "http://10.0.0.9:2379");
		assert_string_equal(c.prefix, "/fleet");
		lr_conn_release(&c);
		unsetenv("LEURA_ETCD");
	}
	/* an invalid file: diagnostics */
	write_file(path, "etcd:\n  endpoint: x\n");
	assert_int_equal(rec_config_conn(NULL, NULL, &c, &d, &err), LR_EINVAL);
	assert_true(d.nerrors > 0);
	/* a file LEURA_CONFIG names must exist */
	unlink(path);
	lr_err_clear(&err);
	assert_int_equal(rec_config_conn(NULL, NULL, &c, &d, &err), LR_ENOENT);
	assert_non_null(strstr(err.msg, path));
	rmdir(dir);
	spec_diags_release(&d);
	conn_setup(NULL);
}

/* leurad's address: --server, then LEURA_SERVER, then server.url */
static void
test_rec_config_server__chain(void **state)
{
	char dir[] = "/tmp/leura-test-config-XXXXXX", path[64];
	struct spec_diags d;
	struct lr_err err;
	char *url, *ca;

	(void)state;
	lr_err_clear(&err);
	spec_diags_init(&d);
	/* none anywhere: no server, the CLI talks to etcd */
	assert_int_equal(rec_config_server(NULL, &url, &ca, &d, &err), 0);
	assert_null(url);
	assert_null(ca);
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/config", dir);
	write_file(path, "server: {url: 'http://f:1', cacert: /ca.pem}\n");
	setenv("LEURA_CONFIG", path, 1);
	assert_int_equal(rec_config_server(NULL, &url, &ca, &d, &err), 0);
	assert_string_equal(url, "http://f:1");
	assert_string_equal(ca, "/ca.pem");
	free(url);
	free(ca);
	setenv("LEURA_SERVER", "http://e:2", 1);
	assert_int_equal(rec_config_server(NULL, &url, &ca, &d, &err), 0);
	assert_string_equal(url, "http://e:2");
	free(url);
	free(ca);
	setenv("LEURA_SERVER_CACERT", "/env.pem", 1);
	assert_int_equal(rec_config_server("http://g:3", &url, &ca, &d, &err),
	    0);
	assert_string_equal(url, "http://g:3");
	assert_string_equal(ca, "/env.pem");
	free(url);
	free(ca);
	unlink(path);
	rmdir(dir);
	spec_diags_release(&d);
	conn_setup(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rec_config_parse__full),
		cmocka_unit_test(test_rec_config_parse__bad_input),
		cmocka_unit_test_setup(
		    test_lr_conn_resolve__defaults_env_and_flags, conn_setup),
		cmocka_unit_test_setup(
		    test_lr_conn_resolve__prefix_and_password, conn_setup),
		cmocka_unit_test_setup(test_rec_config_conn__file, conn_setup),
		cmocka_unit_test_setup(test_rec_config_server__chain,
		    conn_setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
