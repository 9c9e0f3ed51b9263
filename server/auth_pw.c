/*
 * Passwords (Argon2id, libargon2) and secrets (OpenSSL's RAND_bytes,
 * SHA-256, base64).  Costs: t=3 passes over m=64 MiB, one lane (RFC 9106's
 * second recommended option); at most AUTH_PW_PARALLEL hashes run at once
 * so that a burst of logins cannot take 64 MiB per worker thread.
 */
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>

#include <argon2.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "auth-int.h"
#include "xalloc.h"

#define AUTH_PW_PARALLEL	2
#define AUTH_PW_SALT		16
#define AUTH_PW_HASHLEN		32

unsigned auth_pw_t_cost = 3;
unsigned auth_pw_m_kib = 64 * 1024;
unsigned auth_pw_lanes = 1;

static pthread_once_t sem_once = PTHREAD_ONCE_INIT;
static sem_t sem;

static void
sem_setup(void)
{
	sem_init(&sem, 0, AUTH_PW_PARALLEL);
}

static void
slot_take(void)
{
	pthread_once(&sem_once, sem_setup);
	while (sem_wait(&sem) != 0)
		;
}

static void
slot_give(void)
{
	sem_post(&sem);
}

static void
random_bytes(unsigned char *p, size_t n)
{
	if (RAND_bytes(p, (int)n) != 1)
		LR_BUG("RAND_bytes failed");
}

int
auth_pw_hash(const char *password, char **out, struct lr_err *err)
{
	unsigned char salt[AUTH_PW_SALT];
	size_t len;
	char *enc;
	int rc;

	random_bytes(salt, sizeof(salt));
	len = argon2_encodedlen(auth_pw_t_cost, auth_pw_m_kib, auth_pw_lanes,
	    sizeof(salt), AUTH_PW_HASHLEN, Argon2_id);
	enc = lr_xmalloc(len);	/* the caller's on success */
	slot_take();
	rc = argon2id_hash_encoded(auth_pw_t_cost, auth_pw_m_kib,
	    auth_pw_lanes, password, strlen(password), salt, sizeof(salt),
	    AUTH_PW_HASHLEN, enc, len);
	slot_give();
	if (rc != ARGON2_OK) {
		free(enc);
		return lr_err_set(err, LR_EINVAL, "cannot hash the password: "
		    "%s", argon2_error_message(rc));
	}
	*out = enc;
	return 0;
}

bool
auth_pw_verify(const char *encoded, const char *password)
{
	int rc;

	if (!encoded || strncmp(encoded, "$argon2id$", 10) != 0)
		return false;
	slot_take();
	/* argon2's own comparison of the hashes is constant-time */
	rc = argon2id_verify(encoded, password, strlen(password));
	slot_give();
	return rc == ARGON2_OK;
}

char *
auth_random_b64(size_t n)
{
	unsigned char raw[64];
	char *out, *p;
	size_t k;

	if (n > sizeof(raw))
		LR_BUG("auth_random_b64: %zu bytes", n);
	random_bytes(raw, n);
	out = lr_xmalloc(4 * ((n + 2) / 3) + 1);	/* the caller's */
	EVP_EncodeBlock((unsigned char *)out, raw, (int)n);
	OPENSSL_cleanse(raw, sizeof(raw));
	for (p = out; *p; p++) {
		if (*p == '+')
			*p = '-';
		else if (*p == '/')
			*p = '_';
	}
	k = strlen(out);
	while (k && out[k - 1] == '=')
		out[--k] = '\0';
	return out;
}

void
auth_random_hex(char *out, size_t n)
{
	unsigned char raw[32];
	size_t i;

	if (n > sizeof(raw))
		LR_BUG("auth_random_hex: %zu bytes", n);
	random_bytes(raw, n);
	for (i = 0; i < n; i++) {
		out[2 * i] = "0123456789abcdef"[raw[i] >> 4];
		out[2 * i + 1] = "0123456789abcdef"[raw[i] & 15];
	}
	out[2 * n] = '\0';
}

void
auth_sha256_hex(const char *s, char out[65])
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	size_t i;

	SHA256((const unsigned char *)s, strlen(s), md);
	for (i = 0; i < sizeof(md); i++) {
		out[2 * i] = "0123456789abcdef"[md[i] >> 4];
		out[2 * i + 1] = "0123456789abcdef"[md[i] & 15];
	}
	out[64] = '\0';
}

char *
auth_token_new(void)
{
	char *b = auth_random_b64(32);
	char *t = lr_xasprintf("leura_%s", b);	/* the caller's */

	OPENSSL_cleanse(b, strlen(b));
	free(b);
	return t;
}
