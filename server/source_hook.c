/*
 * Push webhooks (source.h): which provider sent one, whether its
 * signature holds, and the push it describes.  Pure functions: no I/O.
 *
 *   GitHub  X-Hub-Signature-256: "sha256=" + hex HMAC-SHA256 of the body
 *   Gitea   X-Gitea-Signature: hex HMAC-SHA256 of the body
 *   GitLab  X-Gitlab-Token: the shared secret itself
 *
 * Every comparison is constant-time (CRYPTO_memcmp); the GitLab token is
 * compared through its SHA-256 so that its length leaks nothing either.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "json.h"
#include "source.h"
#include "xalloc.h"

const char *
src_provider_name(enum src_provider p)
{
	switch (p) {
	case SRC_GITHUB:
		return "github";
	case SRC_GITEA:
		return "gitea";
	case SRC_GITLAB:
		return "gitlab";
	case SRC_NONE:
		break;
	}
	return "none";
}

/* 64 hex digits (either case) into 32 bytes: 0, or -1 when not that. */
static int
hex32(const char *s, unsigned char out[32])
{
	int i, hi, lo;

	if (strlen(s) != 64)
		return -1;
	for (i = 0; i < 32; i++) {
		hi = OPENSSL_hexchar2int((unsigned char)s[2 * i]);
		lo = OPENSSL_hexchar2int((unsigned char)s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

/* Whether hex (64 digits) is the HMAC-SHA256 of body under secret. */
static bool
hmac_ok(const char *secret, size_t secret_len, const char *hex,
    const char *body, size_t len)
{
	unsigned char want[EVP_MAX_MD_SIZE], got[32];
	unsigned int n = 0;

	if (hex32(hex, got) < 0)
		return false;
	if (HMAC(EVP_sha256(), secret, (int)secret_len,
	    (const unsigned char *)body, len, want, &n) == NULL || n != 32)
		return false;
	return CRYPTO_memcmp(want, got, 32) == 0;
}

static bool
token_ok(const char *secret, size_t secret_len, const char *token)
{
	unsigned char a[32], b[32];

	if (!EVP_Digest(secret, secret_len, a, NULL, EVP_sha256(), NULL) ||
	    !EVP_Digest(token, strlen(token), b, NULL, EVP_sha256(), NULL))
		return false;
	return CRYPTO_memcmp(a, b, 32) == 0;
}

int
src_hook_verify(const char *secret, size_t secret_len,
    const struct src_hook_headers *h, const char *body, size_t len,
    struct lr_err *err)
{
	enum src_provider p;
	const char *name, *sig;
	bool ok;

	if (h->gitea) {
		p = SRC_GITEA;
		name = "X-Gitea-Signature";
		sig = h->gitea;
	} else if (h->github) {
		p = SRC_GITHUB;
		name = "X-Hub-Signature-256";
		sig = h->github;
	} else if (h->gitlab) {
		p = SRC_GITLAB;
		name = "X-Gitlab-Token";
		sig = h->gitlab;
	} else
		return SRC_NONE;
	if (secret == NULL || secret_len == 0) {
		lr_err_set(err, LR_EAUTH, "webhook signed (%s) but leurad has "
		    "no webhook secret to check it with", name);
		lr_err_hint(err, "start leurad with --webhook-secret-file "
		    "FILE holding the secret the webhook is configured with");
		return -1;
	}
	if (p == SRC_GITHUB)
		ok = strncmp(sig, "sha256=", 7) == 0 &&
		    hmac_ok(secret, secret_len, sig + 7, body, len);
	else if (p == SRC_GITEA)
		ok = hmac_ok(secret, secret_len, sig, body, len);
	else
		ok = token_ok(secret, secret_len, sig);
	if (!ok) {
		lr_err_set(err, LR_EAUTH, "webhook signature (%s) does not "
		    "match the body and leurad's webhook secret", name);
		lr_err_hint(err, "give the webhook the secret in leurad's "
		    "--webhook-secret-file (content type application/json)");
		return -1;
	}
	return (int)p;
}

/* A pusher's name kept to [A-Za-z0-9._@+-], at most 64 bytes: new. */
static char *
clean_name(const char *s)
{
	char *out;
	size_t i, n;

	if (s == NULL || *s == '\0')
		return NULL;
	n = strlen(s);
	if (n > 64)
		n = 64;
	out = lr_xstrndup(s, n);	/* the caller's */
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)out[i]) &&
		    strchr("._@+-", out[i]) == NULL)
			out[i] = '_';
	return out;
}

/* The first of the paths (a.b: member b of member a) that is a string. */
static const char *
first_str(const json_t *o, const char *const *paths)
{
	const json_t *v;
	const char *dot;
	char *head;
	size_t i;

	for (i = 0; paths[i]; i++) {
		if ((dot = strchr(paths[i], '.')) == NULL)
			v = json_object_get(o, paths[i]);
		else {
			head = lr_xstrndup(paths[i], (size_t)(dot - paths[i]));
			v = json_object_get(json_object_get(o, head), dot + 1);
			free(head);
		}
		if (json_is_string(v) && *json_string_value(v))
			return json_string_value(v);
	}
	return NULL;
}

/* Whether s is a commit id (40 hex digits) other than 0000...0. */
static bool
commit_id(const char *s)
{
	bool zero = true;
	size_t i;

	for (i = 0; i < 40; i++) {
		if (!isxdigit((unsigned char)s[i]))
			return false;
		zero = zero && s[i] == '0';
	}
	return s[40] == '\0' && !zero;
}

int
src_push_parse(enum src_provider p, const char *body, size_t len,
    struct src_push *out, struct lr_err *err)
{
	static const char *const github[] = { "pusher.name", "sender.login",
	    NULL };
	static const char *const gitea[] = { "pusher.login",
	    "pusher.username", "sender.login", "sender.username", NULL };
	static const char *const gitlab[] = { "user_username", "user_name",
	    NULL };
	json_error_t je;
	json_t *o;
	const char *ref, *after;

	memset(out, 0, sizeof(*out));
	if ((o = json_loadb(body, len, 0, &je)) == NULL ||
	    !json_is_object(o)) {
		lr_err_set(err, LR_EINVAL, "webhook payload is not a JSON "
		    "object%s%s", o ? "" : ": ", o ? "" : je.text);
		lr_err_hint(err, "set the webhook's content type to "
		    "application/json");
		json_decref(o);
		return LR_EINVAL;
	}
	if ((ref = lr_json_strn(o, "ref")) == NULL) {
		lr_err_set(err, LR_EINVAL, "webhook payload has no \"ref\": "
		    "not a push event");
		lr_err_hint(err, "send push events only to "
		    "/v1/sources/refresh");
		json_decref(o);
		return LR_EINVAL;
	}
	if (strncmp(ref, "refs/heads/", 11) == 0 && ref[11])
		out->branch = lr_xstrdup(ref + 11);
	after = lr_json_strn(o, "after");
	if (after && commit_id(after))
		out->after = lr_xstrdup(after);
	out->pusher = clean_name(first_str(o, p == SRC_GITHUB ? github :
	    p == SRC_GITEA ? gitea : gitlab));
	json_decref(o);
	return 0;
}

void
src_push_release(struct src_push *p)
{
	free(p->branch);
	free(p->after);
	free(p->pusher);
	memset(p, 0, sizeof(*p));
}
