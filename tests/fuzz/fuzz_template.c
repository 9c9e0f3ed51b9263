/*
 * libFuzzer target: the input as a template, rendered by spec_tmpl_render()
 * against a fixed context and checked by spec_tmpl_check().  Beyond crashes
 * and leaks it aborts on broken promises of template.h: error offsets
 * outside the text, a syntax error found by the checker that rendering
 * accepts, or text without "{{" not copied unchanged.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template.h"

int	LLVMFuzzerInitialize(int *argc, char ***argv);
int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char context_json[] =
    "{\"params\":{\"port\":8080,\"name\":\"web\",\"ratio\":0.5,"
    "\"flag\":true,\"nothing\":null,\"empty\":\"\",\"list\":[1,\"two\",3],"
    "\"nested\":{\"a\":{\"b\":\"c\"}},\"sh\":\"it's $(x)\"},"
    "\"host\":{\"name\":\"web1\",\"address\":\"192.0.2.11\","
    "\"vars\":{\"zone\":\"a\",\"http_port\":8080},"
    "\"groups\":[\"all\",\"frontend\"]},"
    "\"service\":{\"name\":\"web\"},"
    "\"services\":{\"db\":{\"hosts\":[\"db1\",\"db2\"]},"
    "\"web\":{\"hosts\":[]}}}";

static json_t *ctx;

struct check_state {
	size_t	 len;
	size_t	 nerr;
};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	json_error_t je;

	(void)argc;
	(void)argv;
	if ((ctx = json_loads(context_json, 0, &je)) == NULL) {
		fprintf(stderr, "fuzz_template: context: %s\n", je.text);
		exit(1);
	}
	return 0;
}

static void
broken(const char *what)
{
	fprintf(stderr, "fuzz_template: %s\n", what);
	abort();
}

static void
check_bounds(const struct spec_tmpl_error *e, size_t len)
{
	if (e->offset > len || e->len > len - e->offset)
		broken("error offset/len outside the text");
	if (memchr(e->msg, '\0', sizeof(e->msg)) == NULL ||
	    memchr(e->hint, '\0', sizeof(e->hint)) == NULL)
		broken("error message not NUL-terminated");
	if (e->msg[0] == '\0')
		broken("error without a message");
}

static void
on_error(const struct spec_tmpl_error *e, void *arg)
{
	struct check_state *st = arg;

	check_bounds(e, st->len);
	st->nerr++;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct check_state st = { size, 0 };
	struct spec_tmpl_error e;
	struct lr_buf out = LR_BUF_INIT;
	bool has;
	int nerr, rc;

	has = spec_tmpl_has_expr(text, size);
	memset(&e, 0, sizeof(e));
	rc = spec_tmpl_render(text, size, ctx, &out, &e);
	if (rc < 0)
		check_bounds(&e, size);
	nerr = spec_tmpl_check(text, size, on_error, &st);
	if (nerr < 0 || (size_t)nerr != st.nerr)
		broken("spec_tmpl_check count differs from its callbacks");
	if (spec_tmpl_check(text, size, NULL, NULL) != nerr)
		broken("spec_tmpl_check differs without a callback");
	if (nerr > 0 && rc == 0)
		broken("rendered a template with syntax errors");
	if (!has && (rc != 0 || out.len != size ||
	    (size && memcmp(out.s, text, size) != 0)))
		broken("text without '{{' not copied unchanged");
	lr_buf_release(&out);
	return 0;
}
