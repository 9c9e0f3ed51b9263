/*
 * Unit tests of lib/sign.h: RFC 8032's known answers through PEM files,
 * a tampered byte, a wrong key, malformed signatures, the private key's
 * mode, a FIFO as the key, key pairs (modes, no overwrite) and a public
 * key file with two keys (a rotation).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "err.h"
#include "file.h"
#include "sign.h"
#include "xalloc.h"

/* RFC 8032, 7.1, TEST 1 and TEST 2 */
static const char sk1[] =
    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
static const char sig1[] =
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821"
    "590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";
static const char sk2[] =
    "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb";
static const char sig2[] =
    "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e"
    "43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00";

static char dir[64];

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/leura-test-sign.XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int
teardown(void **state)
{
	char *cmd = lr_xasprintf("rm -rf '%s'", dir);

	(void)state;
	assert_int_equal(system(cmd), 0);
	free(cmd);
	return 0;
}

static void
unhex(const char *hex, unsigned char *out, size_t n)
{
	size_t i;
	unsigned v;

	for (i = 0; i < n; i++) {
		assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
		out[i] = (unsigned char)v;
	}
}

/* Write the raw Ed25519 key sk_hex as PEM files NAME.key and NAME.pub. */
static void
write_pair(const char *sk_hex, const char *name, mode_t mode)
{
	unsigned char sk[32];
	EVP_PKEY *pkey;
	BIO *b;
	char *path;

	unhex(sk_hex, sk, sizeof(sk));
	pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, sk, 32);
	assert_non_null(pkey);
	path = lr_xasprintf("%s/%s.key", dir, name);
	b = BIO_new_file(path, "w");
	assert_int_equal(PEM_write_bio_PrivateKey(b, pkey, NULL, NULL, 0,
	    NULL, NULL), 1);
	BIO_free(b);
	assert_int_equal(chmod(path, mode), 0);
	free(path);
	path = lr_xasprintf("%s/%s.pub", dir, name);
	b = BIO_new_file(path, "w");
	assert_int_equal(PEM_write_bio_PUBKEY(b, pkey), 1);
	BIO_free(b);
	free(path);
	EVP_PKEY_free(pkey);
}

static struct lr_sign_key *
load(const char *name, bool private)
{
	struct lr_sign_key *k = NULL;
	struct lr_err err;
	char *path = lr_xasprintf("%s/%s.%s", dir, name, private ? "key" :
	    "pub");

	if (private)
		assert_int_equal(lr_sign_key_load_private(path, &k, &err), 0);
	else
		assert_int_equal(lr_sign_key_load_public(path, &k, &err), 0);
	free(path);
	return k;
}

/* The raw signature (hex) inside a signature string. */
static void
sig_hex(const char *sig, char out[129])
{
	unsigned char raw[66];
	const char *b64 = strrchr(sig, ':') + 1;
	size_t i;

	assert_int_equal(EVP_DecodeBlock(raw, (const unsigned char *)b64,
	    (int)strlen(b64)), 66);
	for (i = 0; i < 64; i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

static void
test_lr_sign__known_answers(void **state)
{
	struct lr_sign_key *k1, *k2, *p1, *p2;
	struct lr_err err;
	char *s1, *s2, hex[129];

	(void)state;
	write_pair(sk1, "t1", 0600);
	write_pair(sk2, "t2", 0600);
	k1 = load("t1", true);
	k2 = load("t2", true);
	p1 = load("t1", false);
	p2 = load("t2", false);
	assert_string_equal(lr_sign_key_id(k1), lr_sign_key_id(p1));
	assert_string_not_equal(lr_sign_key_id(k1), lr_sign_key_id(k2));
	assert_int_equal(strlen(lr_sign_key_id(k1)), LR_SIGN_ID_LEN);

	s1 = lr_sign(k1, "", 0);
	assert_true(strncmp(s1, "ed25519:", 8) == 0);
	assert_memory_equal(s1 + 8, lr_sign_key_id(k1), LR_SIGN_ID_LEN);
	sig_hex(s1, hex);
	assert_string_equal(hex, sig1);
	s2 = lr_sign(k2, "\x72", 1);
	sig_hex(s2, hex);
	assert_string_equal(hex, sig2);

	assert_int_equal(lr_sign_verify(p1, "", 0, s1, &err), 0);
	assert_int_equal(lr_sign_verify(p2, "\x72", 1, s2, &err), 0);
	/* one byte more, one byte other */
	assert_int_equal(lr_sign_verify(p2, "\x72\x00", 2, s2, &err),
	    LR_EINVAL);
	assert_non_null(strstr(err.msg, "does not match"));
	assert_int_equal(lr_sign_verify(p2, "\x73", 1, s2, &err), LR_EINVAL);
	/* the key the signature names is not trusted */
	assert_int_equal(lr_sign_verify(p1, "\x72", 1, s2, &err), LR_EINVAL);
	assert_non_null(strstr(err.msg, "not among the trusted keys"));
	assert_non_null(strstr(err.msg, lr_sign_key_id(k2)));
	free(s1);
	free(s2);
	lr_sign_key_free(k1);
	lr_sign_key_free(k2);
	lr_sign_key_free(p1);
	lr_sign_key_free(p2);
}

static void
test_lr_sign_verify__tampered_signature(void **state)
{
	struct lr_sign_key *k, *p, *other;
	struct lr_err err;
	char *s, *t, *forged;
	size_t i, b64;

	(void)state;
	write_pair(sk1, "t1", 0600);
	write_pair(sk2, "t2", 0600);
	k = load("t1", true);
	p = load("t1", false);
	other = load("t2", true);
	s = lr_sign(k, "leura", 5);
	b64 = strlen("ed25519:") + LR_SIGN_ID_LEN + 1;
	/* every base64 character of the signature, changed */
	for (i = b64; i < b64 + 85; i++) {
		t = lr_xstrdup(s);
		t[i] = t[i] == 'A' ? 'B' : 'A';
		assert_int_equal(lr_sign_verify(p, "leura", 5, t, &err),
		    LR_EINVAL);
		free(t);
	}
	/* another key's signature under this key's id */
	t = lr_sign(other, "leura", 5);
	forged = lr_xasprintf("ed25519:%s:%s", lr_sign_key_id(k),
	    t + b64);
	assert_int_equal(lr_sign_verify(p, "leura", 5, forged, &err),
	    LR_EINVAL);
	assert_non_null(strstr(err.msg, "does not match"));
	/* malformed */
	assert_int_equal(lr_sign_verify(p, "leura", 5, "", &err), LR_EINVAL);
	assert_int_equal(lr_sign_verify(p, "leura", 5, "ed25519:", &err),
	    LR_EINVAL);
	assert_non_null(strstr(err.msg, "not of the form"));
	s[strlen(s) - 1] = 'A';		/* the padding */
	assert_int_equal(lr_sign_verify(p, "leura", 5, s, &err), LR_EINVAL);
	free(s);
	free(t);
	free(forged);
	lr_sign_key_free(k);
	lr_sign_key_free(p);
	lr_sign_key_free(other);
}

static void
test_lr_sign_key_load_private__refuses_readable(void **state)
{
	struct lr_sign_key *k = NULL;
	struct lr_err err;
	char *path;

	(void)state;
	write_pair(sk1, "t1", 0640);
	path = lr_xasprintf("%s/t1.key", dir);
	assert_int_equal(lr_sign_key_load_private(path, &k, &err), LR_EPERM);
	assert_null(k);
	assert_non_null(strstr(err.msg, "0640"));
	assert_non_null(strstr(err.hint, "chmod 600"));
	free(path);
	path = lr_xasprintf("%s/none.key", dir);
	assert_int_equal(lr_sign_key_load_private(path, &k, &err), LR_ENOENT);
	assert_non_null(strstr(err.hint, "leura keygen"));
	free(path);
	/* a public key is not a private key */
	path = lr_xasprintf("%s/t1.pub", dir);
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(lr_sign_key_load_private(path, &k, &err), LR_EINVAL);
	free(path);
}

/*
 * A FIFO (0600) named as the key is refused as not a regular file, at
 * once: the open blocked until a writer came (for ever), before the mode
 * check could say anything.  alarm() turns the hang into a failure.
 */
static void
test_lr_sign_key_load_private__fifo(void **state)
{
	struct lr_sign_key *k = NULL;
	struct lr_err err;
	char *path;

	(void)state;
	path = lr_xasprintf("%s/fifo.key", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	alarm(10);
	assert_int_equal(lr_sign_key_load_private(path, &k, &err), LR_EIO);
	alarm(0);
	assert_null(k);
	assert_non_null(strstr(err.msg, "not a regular file"));
	free(path);
}

static void
test_lr_sign_keygen__modes_and_no_overwrite(void **state)
{
	struct lr_sign_key *k, *p;
	struct lr_err err;
	struct stat st;
	char id[LR_SIGN_ID_LEN + 1], id2[LR_SIGN_ID_LEN + 1], *priv, *pub, *s;
	mode_t old = umask(0);

	(void)state;
	priv = lr_xasprintf("%s/signing.key", dir);
	pub = lr_xasprintf("%s/signing.pub", dir);
	assert_int_equal(lr_sign_keygen(priv, pub, false, id, &err), 0);
	umask(old);
	assert_int_equal(stat(priv, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(stat(pub, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(lr_sign_key_load_private(priv, &k, &err), 0);
	assert_int_equal(lr_sign_key_load_public(pub, &p, &err), 0);
	assert_string_equal(lr_sign_key_id(k), id);
	s = lr_sign(k, "x", 1);
	assert_int_equal(lr_sign_verify(p, "x", 1, s, &err), 0);
	free(s);
	lr_sign_key_free(k);
	lr_sign_key_free(p);
	/* never over an existing pair without force */
	assert_int_equal(lr_sign_keygen(priv, pub, false, id2, &err),
	    LR_EBUSY);
	assert_non_null(strstr(err.hint, "--force"));
	assert_int_equal(lr_sign_keygen(priv, pub, true, id2, &err), 0);
	assert_string_not_equal(id, id2);
	free(priv);
	free(pub);
}

static void
test_lr_sign_key_load_public__two_keys(void **state)
{
	struct lr_sign_key *k1, *k2, *both;
	struct lr_err err;
	char *a, *b, *cat, *s1, *s2;
	size_t la, lb;

	(void)state;
	write_pair(sk1, "t1", 0600);
	write_pair(sk2, "t2", 0600);
	a = lr_xasprintf("%s/t1.pub", dir);
	b = lr_xasprintf("%s/t2.pub", dir);
	assert_int_equal(lr_read_file(a, 0, &s1, &la, &err), 0);
	assert_int_equal(lr_read_file(b, 0, &s2, &lb, &err), 0);
	cat = lr_xasprintf("%s%s", s1, s2);
	assert_int_equal(lr_sign_key_parse_public(cat, strlen(cat), &both,
	    &err), 0);
	assert_int_equal(lr_sign_key_count(both), 2);
	k1 = load("t1", true);
	k2 = load("t2", true);
	free(s1);
	free(s2);
	s1 = lr_sign(k1, "m", 1);
	s2 = lr_sign(k2, "m", 1);
	assert_int_equal(lr_sign_verify(both, "m", 1, s1, &err), 0);
	assert_int_equal(lr_sign_verify(both, "m", 1, s2, &err), 0);
	/* nothing, or junk, is not a key */
	assert_int_equal(lr_sign_key_parse_public("", 0, &k1, &err),
	    LR_EINVAL);
	assert_int_equal(lr_sign_key_parse_public("-----BEGIN PUBLIC KEY-----"
	    "\nAAAA\n-----END PUBLIC KEY-----\n", 56, &k1, &err), LR_EINVAL);
	free(s1);
	free(s2);
	free(a);
	free(b);
	free(cat);
	lr_sign_key_free(both);
	lr_sign_key_free(k1);
	lr_sign_key_free(k2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lr_sign__known_answers,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_lr_sign_verify__tampered_signature, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_lr_sign_key_load_private__refuses_readable, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_lr_sign_key_load_private__fifo, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_lr_sign_keygen__modes_and_no_overwrite, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_lr_sign_key_load_public__two_keys, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
