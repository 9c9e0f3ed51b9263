/*
 * Tests for specs/template.c: tables of templates with their expected output
 * or error (message, hint, offset, length), spec_tmpl_check's collection of
 * every syntax error, and a fixed-seed random-bytes run that must neither
 * crash nor trip the sanitizers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "template.h"

static const char ctx_json[] =
    "{\"params\":{\"port\":8080,\"workers\":4,\"name\":\"it's\","
    "\"ratio\":1.5,\"big\":2.0,\"tenth\":0.1,\"neg\":-42,\"on\":true,"
    "\"off\":false,\"nothing\":null,\"tags\":[\"a\",\"b\"],"
    "\"nested\":{\"k\":\"v\"},\"empty\":{},\"none\":[],"
    "\"mixed\":[1,\"x\",true,[1,2],{\"a\":1}],\"holes\":[\"a\",null]},"
    "\"host\":{\"name\":\"web-1\",\"address\":\"10.0.0.5\","
    "\"vars\":{\"zone\":\"eu-1\"},\"groups\":[\"web\",\"db\"]},"
    "\"service\":{\"name\":\"web\"},"
    "\"services\":{\"my-db\":{\"hosts\":[\"db1\",\"db2\"]}}}";

static json_t *
load_ctx(void)
{
	json_error_t jerr;
	json_t *ctx;

	ctx = json_loads(ctx_json, 0, &jerr);
	assert_non_null(ctx);
	return ctx;
}

/* Render a C string; returns the result code, output in *out. */
static int
render(const char *tmpl, const json_t *ctx, struct lr_buf *out,
    struct spec_tmpl_error *e)
{
	return spec_tmpl_render(tmpl, strlen(tmpl), ctx, out, e);
}

static void
test_spec_tmpl_has_expr__finds_open_braces(void **state)
{
	assert_false(spec_tmpl_has_expr("", 0));
	assert_false(spec_tmpl_has_expr(NULL, 0));
	assert_false(spec_tmpl_has_expr("{", 1));
	assert_false(spec_tmpl_has_expr("a { b } }}", 10));
	assert_true(spec_tmpl_has_expr("{{", 2));
	assert_true(spec_tmpl_has_expr("port {{ params.port }}", 22));
	/* only the first len bytes count */
	assert_false(spec_tmpl_has_expr("ab{{", 3));
	assert_true(spec_tmpl_has_expr("a\0{{", 4));
}

struct ok_case {
	const char	*tmpl;
	const char	*want;
};

static const struct ok_case ok_cases[] = {
	{ "", "" },
	{ "plain text, no braces", "plain text, no braces" },
	{ "a } b }} c { d", "a } b }} c { d" },
	{ "port {{ params.port }}", "port 8080" },
	{ "{{params.port}}", "8080" },
	{ "{{ \t params.port\t }}!", "8080!" },
	{ "{{ host.name }}-{{ host.address }}", "web-1-10.0.0.5" },
	{ "{{ host.vars.zone }}", "eu-1" },
	{ "{{ service.name }}", "web" },
	{ "{{ host.groups[1] }}", "db" },
	{ "{{ host.groups[ 0 ] }}", "web" },
	{ "{{ services.my-db.hosts[0] }}", "db1" },
	{ "{{ services.my-db.hosts | join(',') }}", "db1,db2" },
	{ "{{ params.tags | join(\", \") }}", "a, b" },
	{ "{{ host.groups | join('\\n') }}", "web\ndb" },
	{ "{{ params.none | join(',') }}", "" },
	{ "{{ params.mixed | join('/') }}", "1/x/true/[1,2]/{\"a\":1}" },
	{ "{{ host.groups }}", "[\"web\",\"db\"]" },
	{ "{{ params.nested }}", "{\"k\":\"v\"}" },
	{ "{{ params.ratio }}", "1.5" },
	{ "{{ params.big }}", "2.0" },
	{ "{{ params.tenth }}", "0.1" },
	{ "{{ params.neg }}", "-42" },
	{ "{{ params.on }} {{ params.off }}", "true false" },
	{ "{{ params.missing | default('x') }}", "x" },
	{ "{{ params.nothing | default(\"n\") }}", "n" },
	{ "{{ params.nothing | default('') }}", "" },
	{ "{{ params.nothing | default(80) }}", "80" },
	{ "{{ params.nothing | default(-0.5) }}", "-0.5" },
	{ "{{ params.nothing | default(1e3) }}", "1e3" },
	{ "{{ params.nothing | default(true) }}", "true" },
	{ "{{ params.port | default(1) }}", "8080" },
	{ "{{ params.off | default(true) }}", "false" },
	{ "{{ nope.deep[3].x | default('d') }}", "d" },
	{ "{{ host.groups[9] | default('none') }}", "none" },
	{ "{{ host.name.x | default('s') }}", "s" },
	{ "{{ params.nothing | default('z') | upper }}", "Z" },
	{ "{{ host.name | upper }}", "WEB-1" },
	{ "{{ 'MiXed' | lower }}", "mixed" },
	{ "{{ params.port | upper() }}", "8080" },
	{ "{{ params.on | upper }}", "TRUE" },
	{ "{{ params.name | quote }}", "'it'\\''s'" },
	{ "{{ params.port | quote }}", "'8080'" },
	{ "{{ '' | quote }}", "''" },
	{ "{{ \"''\" | quote }}", "''\\'''\\'''" },
	{ "{{ host.groups | quote }}", "'[\"web\",\"db\"]'" },
	{ "{{ host.groups | join(' ') | quote }}", "'web db'" },
	{ "x{{ host.name|upper|quote }}y", "x'WEB-1'y" },
	{ "{{ '{{' }}", "{{" },
	{ "{{ '}}' }}", "}}" },
	{ "{{ host.name }}}", "web-1}" },
	{ "{{ 'a\\'b\\\\c\\t\"' }}", "a'b\\c\t\"" },
	{ "{{ \"say \\\"hi\\\"\" }}", "say \"hi\"" },
	{ "a\n{{ host.name }}\nb\n", "a\nweb-1\nb\n" },
};

static void
test_spec_tmpl_render__table(void **state)
{
	struct spec_tmpl_error e;
	struct lr_buf out = LR_BUF_INIT;
	json_t *ctx = load_ctx();
	size_t i;

	for (i = 0; i < sizeof(ok_cases) / sizeof(ok_cases[0]); i++) {
		lr_buf_reset(&out);
		memset(&e, 0, sizeof(e));
		if (render(ok_cases[i].tmpl, ctx, &out, &e) != 0)
			fail_msg("case %zu '%s': %s (%s)", i, ok_cases[i].tmpl,
			    e.msg, e.hint);
		assert_non_null(out.s);
		if (strcmp(out.s, ok_cases[i].want) != 0)
			fail_msg("case %zu '%s': got '%s', want '%s'", i,
			    ok_cases[i].tmpl, out.s, ok_cases[i].want);
	}
	lr_buf_release(&out);
	json_decref(ctx);
}

struct err_case {
	const char	*tmpl;
	const char	*msg;
	const char	*hint;
	size_t		 offset, len;
};

static const struct err_case err_cases[] = {
	/* undefined names */
	{ "x {{ params.prot }}", "undefined name 'params.prot'",
	    "did you mean 'params.port'?", 2, 17 },
	{ "{{ parms.port }}", "undefined name 'parms'",
	    "did you mean 'params.port'?", 0, 16 },
	{ "{{ host.nmae.x }}", "undefined name 'host.nmae'",
	    "did you mean 'host.name.x'?", 0, 17 },
	{ "{{ zzz }}", "undefined name 'zzz'",
	    "names start with params., host., service. or services.", 0, 9 },
	{ "{{ host.vars.xyzzy }}", "undefined name 'host.vars.xyzzy'",
	    "defined under 'host.vars': zone", 0, 21 },
	{ "{{ params.qqqqqqqq }}", "undefined name 'params.qqqqqqqq'",
	    "defined under 'params': port, workers, name, ratio, big, tenth, "
	    "neg, on, ...", 0, 21 },
	{ "{{ params.empty.x }}", "undefined name 'params.empty.x'",
	    "nothing is defined under 'params.empty'", 0, 20 },
	{ "{{ host.groups[2] }}", "undefined name 'host.groups[2]'",
	    "'host.groups' has 2 items", 0, 20 },
	{ "{{ params.none[0] }}", "undefined name 'params.none[0]'",
	    "'params.none' is an empty list", 0, 20 },
	{ "{{ host.groups[99999999999999999999999] }}",
	    "undefined name 'host.groups[99999999999999999999999]'",
	    "'host.groups' has 2 items", 0, 42 },
	{ "{{ host.name[0] }}", "undefined name 'host.name[0]'",
	    "'host.name' is a string, not a list", 0, 18 },
	{ "{{ host.name.first }}", "undefined name 'host.name.first'",
	    "'host.name' is a string, not an object", 0, 21 },
	{ "{{ host.groups[0].x }}", "undefined name 'host.groups[0].x'",
	    "'host.groups[0]' is a string, not an object", 0, 22 },
	{ "{{ nope | upper }}", "undefined name 'nope'",
	    "names start with params., host., service. or services.", 0, 18 },
	/* type errors and null */
	{ "{{ host.name | join(',') }}",
	    "join() needs a list, 'host.name' is a string", "", 0, 27 },
	{ "{{ host.name | upper | join(',') }}",
	    "join() needs a list, 'host.name | upper' is a string", "", 0,
	    35 },
	{ "{{ params.nothing | default(1) | join(',') }}",
	    "join() needs a list, 'params.nothing | default(1)' is a number",
	    "", 0, 45 },
	{ "{{ params.nested | join(',') }}",
	    "join() needs a list, 'params.nested' is an object", "", 0, 31 },
	{ "{{ params.holes | join(',') }}",
	    "item 1 of 'params.holes' is null", "", 0, 30 },
	{ "{{ host.groups | upper }}",
	    "upper needs a string, 'host.groups' is a list", "", 0, 25 },
	{ "{{ params.nothing }}", "'params.nothing' is null; use default(...)",
	    "e.g. {{ params.nothing | default('') }}", 0, 20 },
	{ "{{ params.nothing | quote }}",
	    "'params.nothing' is null; use default(...)",
	    "e.g. {{ params.nothing | default('') }}", 0, 28 },
	/* syntax */
	{ "a {{ host.name", "unclosed '{{': add '}}'",
	    "a literal '{{' is written {{ '{{' }}", 2, 12 },
	{ "a {{ host.name\nb }}", "unclosed '{{': add '}}'",
	    "a literal '{{' is written {{ '{{' }}", 2, 12 },
	{ "{{ a {{ b }}", "unclosed '{{': add '}}'",
	    "a literal '{{' is written {{ '{{' }}", 0, 4 },
	{ "{{ it's }} here", "unterminated string in expression",
	    "close the string with '", 0, 15 },
	{ "{{ x | default('abc) }}", "unterminated string in expression",
	    "close the string with '", 0, 23 },
	{ "{{}}", "empty expression", "write a name, e.g. {{ params.port }}; "
	    "a literal '{{' is written {{ '{{' }}", 0, 4 },
	{ "ab{{ \t }}", "empty expression", "write a name, e.g. "
	    "{{ params.port }}; a literal '{{' is written {{ '{{' }}", 2, 7 },
	{ "{{{{ x }}", "unexpected '{{' in expression",
	    "'{{{{' is not special; write a literal '{{' as {{ '{{' }}", 0,
	    9 },
	{ "{{ host.name | uper }}", "unknown filter 'uper'",
	    "did you mean 'upper'?", 0, 22 },
	{ "{{ host.name | jion(',') }}", "unknown filter 'jion'",
	    "did you mean 'join'?", 0, 27 },
	{ "{{ host.name | frobnicate }}", "unknown filter 'frobnicate'",
	    "filters are join, default, upper, lower, quote", 0, 28 },
	{ "{{ nope | uper }}", "unknown filter 'uper'",
	    "did you mean 'upper'?", 0, 17 },
	{ "{{ host.name; }}", "unexpected ';' in expression",
	    "separate filters with '|', e.g. {{ params.port | default(80) }}",
	    0, 16 },
	{ "{{ host.name upper }}", "unexpected 'upper' in expression",
	    "separate filters with '|', e.g. {{ params.port | default(80) }}",
	    0, 21 },
	{ "{{ 5 }}", "unexpected '5' in expression", "an expression is a "
	    "name such as params.port, or a quoted string, then filters", 0,
	    7 },
	{ "{{ x\001 }}", "unexpected byte 0x01 in expression",
	    "separate filters with '|', e.g. {{ params.port | default(80) }}",
	    0, 8 },
	{ "{{ x | }}", "expected a filter name after '|'",
	    "filters are join, default, upper, lower, quote", 0, 9 },
	{ "{{ x | join }}", "join() takes one argument, the separator as a "
	    "quoted string", "e.g. join(',')", 0, 14 },
	{ "{{ x | join(1) }}", "join() takes one argument, the separator as "
	    "a quoted string", "e.g. join(',')", 0, 17 },
	{ "{{ x | default() }}", "default() takes one value",
	    "e.g. default('') or default(80)", 0, 19 },
	{ "{{ x | default('a', 'b') }}", "default() takes one value",
	    "e.g. default('') or default(80)", 0, 27 },
	{ "{{ x | upper(1) }}", "upper takes no arguments", "write '| upper'",
	    0, 18 },
	{ "{{ x | default(foo) }}",
	    "arguments of default() are values, not names like 'foo'",
	    "quote strings, e.g. default('foo')", 0, 22 },
	{ "{{ x | default(1x) }}", "bad number '1x' in default()",
	    "numbers are written like 80, -1 or 0.5", 0, 21 },
	{ "{{ x | default(-) }}", "bad number '-' in default()",
	    "numbers are written like 80, -1 or 0.5", 0, 20 },
	{ "{{ x | default('a' }}", "missing ')' after the arguments of "
	    "default()", "", 0, 21 },
	{ "{{ x | default('a' 'b') }}", "unexpected string in filter "
	    "arguments", "separate arguments with ',' and close them with "
	    "')'", 0, 26 },
	{ "{{ x | default(;) }}", "unexpected ';' in filter arguments",
	    "arguments are quoted strings, numbers, true or false", 0, 20 },
	{ "{{ x[a] }}", "expected an index in '[...]'",
	    "an index is a whole number, e.g. host.groups[0]", 0, 10 },
	{ "{{ x[-1] }}", "expected an index in '[...]'",
	    "an index is a whole number, e.g. host.groups[0]", 0, 11 },
	{ "{{ x[1 }}", "missing ']' after index",
	    "an index is a whole number, e.g. host.groups[0]", 0, 9 },
	{ "{{ x. }}", "expected a name after '.'",
	    "names are letters, digits, '_' and '-', e.g. params.port", 0, 8 },
	{ "{{ x.1 }}", "expected a name after '.'",
	    "names are letters, digits, '_' and '-', e.g. params.port", 0, 9 },
	{ "{{ 'a\\q' }}", "unknown escape '\\q' in string",
	    "escapes are \\\\, \\', \\\", \\n and \\t", 0, 11 },
	/* the first problem wins; earlier text is fine */
	{ "ok {{ host.name }} {{ nope }} {{ x | uper }}",
	    "undefined name 'nope'",
	    "names start with params., host., service. or services.", 19,
	    10 },
};

static void
test_spec_tmpl_render__errors_table(void **state)
{
	struct spec_tmpl_error e;
	struct lr_buf out = LR_BUF_INIT;
	json_t *ctx = load_ctx();
	const struct err_case *c;
	size_t i;

	for (i = 0; i < sizeof(err_cases) / sizeof(err_cases[0]); i++) {
		c = &err_cases[i];
		memset(&e, 0x55, sizeof(e));
		if (render(c->tmpl, ctx, &out, &e) != -1)
			fail_msg("case %zu '%s': rendered '%s'", i, c->tmpl,
			    out.s);
		if (strcmp(e.msg, c->msg) != 0)
			fail_msg("case %zu '%s': msg '%s', want '%s'", i,
			    c->tmpl, e.msg, c->msg);
		if (strcmp(e.hint, c->hint) != 0)
			fail_msg("case %zu '%s': hint '%s', want '%s'", i,
			    c->tmpl, e.hint, c->hint);
		if (e.offset != c->offset || e.len != c->len)
			fail_msg("case %zu '%s': at %zu+%zu, want %zu+%zu", i,
			    c->tmpl, e.offset, e.len, c->offset, c->len);
		/* nothing is appended on failure */
		assert_int_equal(out.len, 0);
	}
	lr_buf_release(&out);
	json_decref(ctx);
}

static void
test_spec_tmpl_render__appends_and_restores_on_error(void **state)
{
	struct lr_buf out = LR_BUF_INIT;
	json_t *ctx = load_ctx();

	lr_buf_adds(&out, "head:");
	assert_int_equal(render("{{ host.name }}", ctx, &out, NULL), 0);
	assert_string_equal(out.s, "head:web-1");
	/* a failure leaves out as it was; e may be NULL */
	assert_int_equal(render("more {{ nope }}", ctx, &out, NULL), -1);
	assert_string_equal(out.s, "head:web-1");
	assert_int_equal(out.len, 10);
	lr_buf_release(&out);
	json_decref(ctx);
}

static void
test_spec_tmpl_render__without_context(void **state)
{
	struct spec_tmpl_error e;
	struct lr_buf out = LR_BUF_INIT;
	json_t *empty = json_object();

	assert_int_equal(render("{{ x }}", NULL, &out, &e), -1);
	assert_string_equal(e.msg, "undefined name 'x'");
	assert_string_equal(e.hint, "no names are defined");
	assert_int_equal(render("{{ x.y }}", empty, &out, &e), -1);
	assert_string_equal(e.msg, "undefined name 'x'");
	assert_string_equal(e.hint, "no names are defined");
	assert_int_equal(render("{{ x | default('d') }} {{ 'lit' }}", NULL,
	    &out, &e), 0);
	assert_string_equal(out.s, "d lit");
	lr_buf_release(&out);
	json_decref(empty);
}

static void
test_spec_tmpl_render__binary_text_and_values(void **state)
{
	static const char tmpl[] = "a\0b{{ params.s }}\0";
	struct spec_tmpl_error e;
	struct lr_buf out = LR_BUF_INIT;
	json_t *ctx;

	/* NUL bytes in the text and in string values pass through */
	ctx = json_pack("{s:{s:s%}}", "params", "s", "x\0y", (size_t)3);
	assert_non_null(ctx);
	assert_int_equal(spec_tmpl_render(tmpl, sizeof(tmpl) - 1, ctx, &out,
	    &e), 0);
	assert_int_equal(out.len, 7);
	assert_memory_equal(out.s, "a\0bx\0y\0", 7);
	lr_buf_release(&out);
	json_decref(ctx);
}

static void
test_spec_tmpl_render__many_expressions(void **state)
{
	struct lr_buf tmpl = LR_BUF_INIT, out = LR_BUF_INIT;
	json_t *ctx = load_ctx();
	int i;

	for (i = 0; i < 20000; i++)
		lr_buf_adds(&tmpl, "{{ host.name }}:{{ params.port | "
		    "default(1) }}\n");
	assert_int_equal(spec_tmpl_render(tmpl.s, tmpl.len, ctx, &out, NULL),
	    0);
	assert_int_equal(out.len, 20000 * strlen("web-1:8080\n"));
	assert_memory_equal(out.s, "web-1:8080\nweb-1:8080\n", 22);
	lr_buf_release(&tmpl);
	lr_buf_release(&out);
	json_decref(ctx);
}

struct seen {
	size_t	 n;
	size_t	 offset[8];
	char	 msg[8][256];
};

static void
collect(const struct spec_tmpl_error *e, void *arg)
{
	struct seen *s = arg;

	assert_true(s->n < 8);
	s->offset[s->n] = e->offset;
	memcpy(s->msg[s->n], e->msg, sizeof(e->msg));
	s->n++;
}

static void
test_spec_tmpl_check__reports_every_error(void **state)
{
	static const char text[] =
	    "ok {{ nope }} {{ b | uper }} {{ }}\n"
	    "{{ c\n"
	    "{{ d[ }} {{ e {{ f }} {{ 'x' }}";
	struct seen s;

	memset(&s, 0, sizeof(s));
	/* undefined names are not syntax errors */
	assert_int_equal(spec_tmpl_check(text, sizeof(text) - 1, collect, &s),
	    5);
	assert_int_equal(s.n, 5);
	assert_int_equal(s.offset[0], 14);
	assert_string_equal(s.msg[0], "unknown filter 'uper'");
	assert_int_equal(s.offset[1], 29);
	assert_string_equal(s.msg[1], "empty expression");
	assert_int_equal(s.offset[2], 35);
	assert_string_equal(s.msg[2], "unclosed '{{': add '}}'");
	assert_int_equal(s.offset[3], 40);
	assert_string_equal(s.msg[3], "expected an index in '[...]'");
	assert_int_equal(s.offset[4], 49);
	assert_string_equal(s.msg[4], "unclosed '{{': add '}}'");
	/* "{{ f }}" after the unclosed one is checked on its own: fine */
}

static void
test_spec_tmpl_check__clean_text_and_null_cb(void **state)
{
	static const char clean[] = "{{ a.b[0] | join(', ') | quote }} x "
	    "{{ '{{' }} {{ c | default(1) | upper }}";

	assert_int_equal(spec_tmpl_check(clean, sizeof(clean) - 1, NULL,
	    NULL), 0);
	assert_int_equal(spec_tmpl_check("", 0, NULL, NULL), 0);
	assert_int_equal(spec_tmpl_check("{{ {{ }} {{", 11, NULL, NULL), 2);
}

/* xorshift32: fixed sequence on every platform */
static uint32_t
next_rand(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

static void
test_spec_tmpl_render__random_bytes_never_crash(void **state)
{
	static const char *const pieces[] = {
		"{", "}", "|", ".", "[", "]", "'", "\"", "(", ")", "a", "z",
		"0", "9", " ", "\n", "\\", ",", "-", "_", "\t", "\001",
		"\377", "{{", "}}", "{{ ", " }}", "params", "host", "name",
		"port", "groups", "join(", "default(", "upper", "quote",
		"lower", "[0]", "[1]", "'x'", "\\'", "\0",
	};
	const size_t npieces = sizeof(pieces) / sizeof(pieces[0]);
	struct spec_tmpl_error e;
	struct lr_buf text = LR_BUF_INIT, out = LR_BUF_INIT;
	json_t *ctx = load_ctx();
	uint32_t seed = 0x2545f491;
	size_t i, k, n, idx;
	int rc, nerr, ok = 0;

	for (i = 0; i < 6000; i++) {
		lr_buf_reset(&text);
		lr_buf_reset(&out);
		n = next_rand(&seed) % 24;
		for (k = 0; k < n; k++) {
			idx = next_rand(&seed) % npieces;
			/* "\0" is one NUL byte, the rest are C strings */
			lr_buf_add(&text, pieces[idx],
			    pieces[idx][0] == '\0' ? 1 : strlen(pieces[idx]));
		}
		rc = spec_tmpl_render(text.s, text.len, ctx, &out, &e);
		nerr = spec_tmpl_check(text.s, text.len, NULL, NULL);
		assert_true(rc == 0 || rc == -1);
		assert_true(nerr >= 0);
		if (rc == 0) {
			/* success means no syntax error either */
			assert_int_equal(nerr, 0);
			ok++;
			continue;
		}
		assert_true(e.msg[0] != '\0');
		assert_true(e.offset + 2 <= text.len);
		assert_true(e.offset + e.len <= text.len);
		assert_memory_equal(text.s + e.offset, "{{", 2);
		assert_int_equal(out.len, 0);
	}
	/* the alphabet is rich enough to succeed sometimes */
	assert_true(ok > 100);
	lr_buf_release(&text);
	lr_buf_release(&out);
	json_decref(ctx);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_tmpl_has_expr__finds_open_braces),
		cmocka_unit_test(test_spec_tmpl_render__table),
		cmocka_unit_test(test_spec_tmpl_render__errors_table),
		cmocka_unit_test(
		    test_spec_tmpl_render__appends_and_restores_on_error),
		cmocka_unit_test(test_spec_tmpl_render__without_context),
		cmocka_unit_test(test_spec_tmpl_render__binary_text_and_values),
		cmocka_unit_test(test_spec_tmpl_render__many_expressions),
		cmocka_unit_test(test_spec_tmpl_check__reports_every_error),
		cmocka_unit_test(test_spec_tmpl_check__clean_text_and_null_cb),
		cmocka_unit_test(
		    test_spec_tmpl_render__random_bytes_never_crash),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
