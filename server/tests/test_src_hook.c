/*
 * Unit tests of the push webhooks (server/source_hook.c): each
 * provider's signature, good, wrong, truncated, without a secret; each
 * provider's payload; and the public form of a source URL
 * (source_git.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "source.h"

#define SECRET	"It's a Secret to Everybody"
#define BODY	"Hello, World!"
/* GitHub's documented example: HMAC-SHA256 of BODY with SECRET */
#define SIG	"757107ea0eb2509fc211221cce984b8a" \
		"37570b6d7586c22c46f4379c8b043e17"

static int
verify(const char *secret, const char *gh, const char *gitea,
    const char *gl, const char *body, struct lr_err *err)
{
	struct src_hook_headers h = { gh, gitea, gl };

	lr_err_clear(err);
	return src_hook_verify(secret, secret ? strlen(secret) : 0, &h, body,
	    strlen(body), err);
}

static void
test_src_hook__github(void **state)
{
	struct lr_err err;

	(void)state;
	assert_int_equal(verify(SECRET, "sha256=" SIG, NULL, NULL, BODY,
	    &err), SRC_GITHUB);
	/* hex digits in either case */
	assert_int_equal(verify(SECRET, "sha256=757107EA0EB2509FC211221CCE"
	    "984B8A37570B6D7586C22C46F4379C8B043E17", NULL, NULL, BODY,
	    &err), SRC_GITHUB);
	/* another body, another secret, no prefix, truncated, not hex */
	assert_int_equal(verify(SECRET, "sha256=" SIG, NULL, NULL, BODY "x",
	    &err), -1);
	assert_int_equal(err.code, LR_EAUTH);
	assert_non_null(strstr(err.msg, "X-Hub-Signature-256"));
	assert_int_equal(verify("another", "sha256=" SIG, NULL, NULL, BODY,
	    &err), -1);
	assert_int_equal(verify(SECRET, SIG, NULL, NULL, BODY, &err), -1);
	assert_int_equal(verify(SECRET, "sha256=757107ea", NULL, NULL, BODY,
	    &err), -1);
	assert_int_equal(verify(SECRET, "sha256=z57107ea0eb2509fc211221cce984"
	    "b8a37570b6d7586c22c46f4379c8b043e17", NULL, NULL, BODY, &err),
	    -1);
	assert_int_equal(verify(SECRET, "sha256=", NULL, NULL, BODY, &err),
	    -1);
}

static void
test_src_hook__gitea_first(void **state)
{
	struct lr_err err;

	(void)state;
	assert_int_equal(verify(SECRET, NULL, SIG, NULL, BODY, &err),
	    SRC_GITEA);
	/* Gitea sends GitHub's header too: its own decides */
	assert_int_equal(verify(SECRET, "sha256=" SIG, SIG, NULL, BODY, &err),
	    SRC_GITEA);
	assert_int_equal(verify(SECRET, "sha256=" SIG, "00", NULL, BODY,
	    &err), -1);
	assert_non_null(strstr(err.msg, "X-Gitea-Signature"));
}

static void
test_src_hook__gitlab(void **state)
{
	struct lr_err err;

	(void)state;
	assert_int_equal(verify(SECRET, NULL, NULL, SECRET, BODY, &err),
	    SRC_GITLAB);
	assert_int_equal(verify(SECRET, NULL, NULL, SECRET "x", BODY, &err),
	    -1);
	assert_int_equal(verify(SECRET, NULL, NULL, "", BODY, &err), -1);
	assert_int_equal(verify(SECRET, NULL, NULL, "It's", BODY, &err), -1);
}

static void
test_src_hook__none_and_no_secret(void **state)
{
	struct lr_err err;

	(void)state;
	assert_int_equal(verify(SECRET, NULL, NULL, NULL, BODY, &err),
	    SRC_NONE);
	assert_int_equal(verify(NULL, NULL, NULL, NULL, BODY, &err),
	    SRC_NONE);
	/* a signed hook and nothing to check it with: refused */
	assert_int_equal(verify(NULL, "sha256=" SIG, NULL, NULL, BODY, &err),
	    -1);
	assert_non_null(strstr(err.hint, "--webhook-secret-file"));
	assert_int_equal(verify("", NULL, NULL, "", BODY, &err), -1);
}

static void
parse(enum src_provider p, const char *body, const char *branch,
    const char *after, const char *pusher)
{
	struct src_push push;
	struct lr_err err;

	lr_err_clear(&err);
	assert_int_equal(src_push_parse(p, body, strlen(body), &push, &err),
	    0);
	if (branch)
		assert_string_equal(push.branch, branch);
	else
		assert_null(push.branch);
	if (after)
		assert_string_equal(push.after, after);
	else
		assert_null(push.after);
	if (pusher)
		assert_string_equal(push.pusher, pusher);
	else
		assert_null(push.pusher);
	src_push_release(&push);
}

#define A40	"0123456789abcdef0123456789abcdef01234567"
#define Z40	"0000000000000000000000000000000000000000"

static void
test_src_hook__payloads(void **state)
{
	struct src_push push;
	struct lr_err err;

	(void)state;
	parse(SRC_GITHUB, "{\"ref\":\"refs/heads/main\",\"after\":\"" A40
	    "\",\"pusher\":{\"name\":\"alice\"},\"sender\":{\"login\":"
	    "\"bob\"}}", "main", A40, "alice");
	parse(SRC_GITHUB, "{\"ref\":\"refs/heads/dev\",\"after\":\"" A40
	    "\",\"sender\":{\"login\":\"bob\"}}", "dev", A40, "bob");
	parse(SRC_GITEA, "{\"ref\":\"refs/heads/main\",\"after\":\"" A40
	    "\",\"pusher\":{\"login\":\"carol\",\"username\":\"c\"}}",
	    "main", A40, "carol");
	parse(SRC_GITLAB, "{\"object_kind\":\"push\",\"ref\":"
	    "\"refs/heads/main\",\"after\":\"" A40 "\",\"user_username\":"
	    "\"dave\",\"user_name\":\"Dave D\"}", "main", A40, "dave");
	/* a deleted branch, a tag, odd names, no pusher */
	parse(SRC_GITHUB, "{\"ref\":\"refs/heads/old\",\"after\":\"" Z40
	    "\"}", "old", NULL, NULL);
	parse(SRC_GITHUB, "{\"ref\":\"refs/tags/v1\",\"after\":\"" A40
	    "\"}", NULL, A40, NULL);
	parse(SRC_GITLAB, "{\"ref\":\"refs/heads/main\",\"after\":\"x\","
	    "\"user_username\":\"e v\\n$(id)\"}", "main", NULL, "e_v___id_");
	lr_err_clear(&err);
	assert_int_equal(src_push_parse(SRC_GITHUB, "{\"zen\":\"hi\"}", 12,
	    &push, &err), LR_EINVAL);
	assert_non_null(strstr(err.msg, "not a push"));
	assert_int_equal(src_push_parse(SRC_GITHUB, "payload=x", 9, &push,
	    &err), LR_EINVAL);
	assert_non_null(strstr(err.hint, "application/json"));
}

static void
test_src_hook__url_public(void **state)
{
	char *s;

	(void)state;
	s = src_url_public("https://x-access-token:s3cret@git.example/o/r");
	assert_string_equal(s, "https://git.example/o/r");
	free(s);
	s = src_url_public("ssh://git@git.example/o/r.git");
	assert_string_equal(s, "ssh://git.example/o/r.git");
	free(s);
	s = src_url_public("https://git.example/o/r@x");
	assert_string_equal(s, "https://git.example/o/r@x");
	free(s);
	s = src_url_public("/srv/config.git");
	assert_string_equal(s, "/srv/config.git");
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_src_hook__github),
		cmocka_unit_test(test_src_hook__gitea_first),
		cmocka_unit_test(test_src_hook__gitlab),
		cmocka_unit_test(test_src_hook__none_and_no_secret),
		cmocka_unit_test(test_src_hook__payloads),
		cmocka_unit_test(test_src_hook__url_public),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
