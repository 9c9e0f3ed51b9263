/*
 * Passwords and secrets (auth_pw.c): Argon2id round trip at the real
 * costs (and its time, printed: the login latency floor), secrets'
 * shapes, SHA-256 of a known vector.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth-int.h"
#include "clock.h"

static void
test_hash_verify(void **state)
{
	struct lr_err e = { 0 };
	char *enc = NULL, *enc2 = NULL;
	long t0, t1, t2;

	t0 = lr_now_ms();
	assert_int_equal(auth_pw_hash("correct horse", &enc, &e), 0);
	t1 = lr_now_ms();
	assert_true(auth_pw_verify(enc, "correct horse"));
	t2 = lr_now_ms();
	fprintf(stderr, "argon2id t=%u m=%u KiB p=%u: hash %ld ms, "
	    "verify %ld ms\n", auth_pw_t_cost, auth_pw_m_kib, auth_pw_lanes,
	    t1 - t0, t2 - t1);
	assert_non_null(strstr(enc, "$argon2id$v=19$m=65536,t=3,p=1$"));
	assert_null(strstr(enc, "correct horse"));
	assert_false(auth_pw_verify(enc, "correct horsf"));
	assert_false(auth_pw_verify(enc, ""));
	/* a new salt each time */
	assert_int_equal(auth_pw_hash("correct horse", &enc2, &e), 0);
	assert_string_not_equal(enc, enc2);
	/* malformed encodings never verify */
	assert_false(auth_pw_verify(NULL, "x"));
	assert_false(auth_pw_verify("", ""));
	assert_false(auth_pw_verify("$argon2i$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA",
	    "x"));
	assert_false(auth_pw_verify("$argon2id$garbage", "x"));
	free(enc);
	free(enc2);
}

static void
test_secrets(void **state)
{
	char hex[65], h1[17], h2[17];
	char *a = auth_token_new(), *b = auth_token_new();
	char *r = auth_random_b64(32);
	size_t i;

	assert_int_equal(strncmp(a, "leura_", 6), 0);
	assert_int_equal(strlen(a), 6 + 43);	/* 256 bits, base64url */
	assert_string_not_equal(a, b);
	for (i = 6; a[i]; i++)
		assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "abcdefghijklmnopqrstuvwxyz0123456789-_", a[i]));
	assert_int_equal(strlen(r), 43);
	auth_random_hex(h1, 8);
	auth_random_hex(h2, 8);
	assert_int_equal(strlen(h1), 16);
	assert_string_not_equal(h1, h2);
	auth_sha256_hex("abc", hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223"
	    "b00361a396177a9cb410ff61f20015ad");
	free(a);
	free(b);
	free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_verify),
		cmocka_unit_test(test_secrets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
