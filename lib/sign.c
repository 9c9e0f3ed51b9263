/*
 * Ed25519 keys and signatures over OpenSSL's EVP (sign.h).  Ed25519 signs
 * the message itself (no digest: EVP_DigestSign with a NULL md), and a
 * signature is 64 bytes, carried as base64 behind "ed25519:<key id>:".
 * A key set is an array: one private key, or the public keys of a file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "file.h"
#include "hash.h"
#include "sign.h"
#include "xalloc.h"

#define SIG_PREFIX	"ed25519:"
#define SIG_BYTES	64
#define RAW_BYTES	32
#define MAX_KEY_FILE	(64 * 1024)
#define MAX_KEYS	32

struct sign_one {
	EVP_PKEY *pkey;
	char	 id[LR_SIGN_ID_LEN + 1];
};

struct lr_sign_key {
	bool	 private;
	size_t	 n;
	struct sign_one keys[MAX_KEYS];
};

static const char keygen_hint[] = "make a key pair with 'leura keygen' "
    "(docs/security.md)";

/* The id of pkey: the first 8 bytes of the SHA-256 of its raw public key. */
static void
key_id(EVP_PKEY *pkey, char id[LR_SIGN_ID_LEN + 1])
{
	unsigned char raw[RAW_BYTES];
	char hex[LR_SHA256_HEX_LEN + 1];
	size_t len = sizeof(raw);

	if (EVP_PKEY_get_raw_public_key(pkey, raw, &len) != 1 ||
	    len != RAW_BYTES)
		LR_BUG("an Ed25519 key without a raw public key");
	lr_sha256_hex(raw, len, hex);
	memcpy(id, hex, LR_SIGN_ID_LEN);
	id[LR_SIGN_ID_LEN] = '\0';
}

static bool
is_ed25519(EVP_PKEY *pkey)
{
	return EVP_PKEY_get_base_id(pkey) == EVP_PKEY_ED25519;
}

static struct lr_sign_key *
set_new(bool private)
{
	struct lr_sign_key *k = lr_xcalloc(1, sizeof(*k));

	k->private = private;
	return k;
}

/* Add pkey (taken) to the set k. */
static void
set_add(struct lr_sign_key *k, EVP_PKEY *pkey)
{
	k->keys[k->n].pkey = pkey;
	key_id(pkey, k->keys[k->n].id);
	k->n++;
}

void
lr_sign_key_free(struct lr_sign_key *k)
{
	size_t i;

	if (k == NULL)
		return;
	for (i = 0; i < k->n; i++)
		EVP_PKEY_free(k->keys[i].pkey);
	free(k);
}

const char *
lr_sign_key_id(const struct lr_sign_key *k)
{
	return k->n ? k->keys[0].id : "";
}

size_t
lr_sign_key_count(const struct lr_sign_key *k)
{
	return k->n;
}

/* ---- loading ---- */

int
lr_sign_key_load_private(const char *path, struct lr_sign_key **out,
    struct lr_err *err)
{
	struct stat st;
	EVP_PKEY *pkey = NULL;
	BIO *bio;
	int fd, rc;

	/* O_NONBLOCK: a FIFO there must not hang the open; see fstat */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY |
	    O_NONBLOCK)) == -1) {
		rc = errno == ENOENT ? LR_ENOENT : LR_EIO;
		lr_err_set(err, rc, "cannot open the signing key '%s': %s",
		    path, strerror(errno));
		return rc == LR_ENOENT ? lr_err_hint(err, "%s",
		    keygen_hint) : rc;
	}
	/* the mode of what was opened, then read from it: no swap between */
	if ((rc = fstat(fd, &st)) == -1 || !S_ISREG(st.st_mode)) {
		rc = lr_err_set(err, LR_EIO, "cannot read the signing key "
		    "'%s': %s", path, rc == -1 ? strerror(errno) :
		    "not a regular file");
		close(fd);
		return rc;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		close(fd);
		lr_err_set(err, LR_EPERM, "the signing key '%s' may be read "
		    "by others (mode %04o)", path,
		    (unsigned)(st.st_mode & 07777));
		return lr_err_hint(err, "whoever reads it can sign desired "
		    "state for every host: chmod 600 '%s', and make a new "
		    "pair if others read it (docs/security.md, Rotating the "
		    "key)", path);
	}
	bio = BIO_new_fd(fd, BIO_NOCLOSE);
	pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	close(fd);
	ERR_clear_error();
	if (pkey == NULL || !is_ed25519(pkey)) {
		EVP_PKEY_free(pkey);
		lr_err_set(err, LR_EINVAL, "'%s' is not an Ed25519 private "
		    "key (PEM)", path);
		return lr_err_hint(err, "%s", keygen_hint);
	}
	*out = set_new(true);
	set_add(*out, pkey);
	return 0;
}

int
lr_sign_key_parse_public(const char *text, size_t len,
    struct lr_sign_key **out, struct lr_err *err)
{
	static const char begin[] = "-----BEGIN ", end[] = "-----END ";
	struct lr_sign_key *k = set_new(false);
	const char *p = text, *lim = text + len, *b, *e;
	EVP_PKEY *pkey;
	BIO *bio;
	int rc = 0;

	/* block by block: OpenSSL's reader cannot tell the end from junk */
	while (rc == 0 && (b = memmem(p, (size_t)(lim - p), begin,
	    sizeof(begin) - 1)) != NULL) {
		if ((e = memmem(b, (size_t)(lim - b), end, sizeof(end) - 1)) ==
		    NULL || (e = memchr(e, '\n', (size_t)(lim - e))) == NULL)
			e = lim;
		bio = BIO_new_mem_buf(b, (int)(e - b));
		pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
		BIO_free(bio);
		if (pkey == NULL || !is_ed25519(pkey))
			rc = lr_err_set(err, LR_EINVAL, "block %zu is not an "
			    "Ed25519 public key", k->n + 1);
		else if (k->n == MAX_KEYS)
			rc = lr_err_set(err, LR_EINVAL, "more than %d public "
			    "keys", MAX_KEYS);
		if (rc < 0)
			EVP_PKEY_free(pkey);
		else
			set_add(k, pkey);
		p = e;
	}
	if (rc == 0 && k->n == 0)
		rc = lr_err_set(err, LR_EINVAL, "no public key (PEM "
		    "'BEGIN PUBLIC KEY')");
	ERR_clear_error();
	if (rc == 0) {
		*out = k;
		k = NULL;
	}
	lr_sign_key_free(k);
	return rc;
}

int
lr_sign_key_load_public(const char *path, struct lr_sign_key **out,
    struct lr_err *err)
{
	char *buf = NULL, what[sizeof(err->msg)];
	size_t len = 0;
	int rc;

	if ((rc = lr_read_file(path, MAX_KEY_FILE, &buf, &len, err)) < 0) {
		if (rc == LR_ENOENT)
			lr_err_hint(err, "give the fleet's public key (the "
			    "'%s' beside the private key that 'leura "
			    "keygen' made)", LR_SIGN_PUBLIC_NAME);
		return rc;
	}
	if ((rc = lr_sign_key_parse_public(buf, len, out, err)) < 0) {
		snprintf(what, sizeof(what), "%s", err->msg);
		lr_err_set(err, rc, "'%s' holds no usable Ed25519 public "
		    "keys: %s", path, what);
		lr_err_hint(err, "give the '%s' that 'leura keygen' made "
		    "(PEM), or several of them one after the other",
		    LR_SIGN_PUBLIC_NAME);
	}
	free(buf);
	return rc;
}

/* ---- making a pair ---- */

/* Write the PEM in bio to path with mode, O_EXCL. */
static int
write_pem(BIO *bio, const char *path, mode_t mode, struct lr_err *err)
{
	char *p;
	long n = BIO_get_mem_data(bio, &p);
	int fd, rc = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	    mode);
	if (fd == -1)
		return lr_err_set(err, errno == EEXIST ? LR_EBUSY : LR_EIO,
		    "cannot create '%s': %s", path, strerror(errno));
	/* the umask may have taken bits away: the mode is the contract */
	if (fchmod(fd, mode) == -1 || lr_write_all(fd, p, (size_t)n) == -1 ||
	    fsync(fd) == -1)
		rc = lr_err_set(err, LR_EIO, "cannot write '%s': %s", path,
		    strerror(errno));
	if (close(fd) == -1 && rc == 0)
		rc = lr_err_set(err, LR_EIO, "cannot write '%s': %s", path,
		    strerror(errno));
	if (rc < 0)
		unlink(path);
	return rc;
}

int
lr_sign_keygen(const char *priv_path, const char *pub_path, bool force,
    char id[LR_SIGN_ID_LEN + 1], struct lr_err *err)
{
	EVP_PKEY_CTX *ctx;
	EVP_PKEY *pkey = NULL;
	BIO *priv = NULL, *pub = NULL;
	struct stat st;
	int rc;

	if (!force && (lstat(priv_path, &st) == 0 || lstat(pub_path, &st) ==
	    0)) {
		lr_err_set(err, LR_EBUSY, "'%s' exists", lstat(priv_path,
		    &st) == 0 ? priv_path : pub_path);
		return lr_err_hint(err, "keep the pair you have, or pass "
		    "--force to replace it (agents then need the new public "
		    "key: docs/security.md, Rotating the key)");
	}
	if (force && ((unlink(priv_path) == -1 && errno != ENOENT) ||
	    (unlink(pub_path) == -1 && errno != ENOENT)))
		return lr_err_set(err, LR_EIO, "cannot replace the pair at "
		    "'%s': %s", priv_path, strerror(errno));
	ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
	if (ctx == NULL || EVP_PKEY_keygen_init(ctx) != 1 ||
	    EVP_PKEY_keygen(ctx, &pkey) != 1) {
		EVP_PKEY_CTX_free(ctx);
		ERR_clear_error();
		return lr_err_set(err, LR_EIO, "cannot make an Ed25519 key");
	}
	EVP_PKEY_CTX_free(ctx);
	priv = BIO_new(BIO_s_mem());
	pub = BIO_new(BIO_s_mem());
	if (PEM_write_bio_PrivateKey(priv, pkey, NULL, NULL, 0, NULL, NULL) !=
	    1 || PEM_write_bio_PUBKEY(pub, pkey) != 1)
		LR_BUG("cannot write a key to memory");
	if ((rc = write_pem(priv, priv_path, 0600, err)) == 0 &&
	    (rc = write_pem(pub, pub_path, 0644, err)) < 0)
		unlink(priv_path);
	if (rc == 0)
		key_id(pkey, id);
	BIO_free_all(priv);	/* a mem BIO cleanses nothing: it is ours */
	BIO_free_all(pub);
	EVP_PKEY_free(pkey);
	return rc;
}

/* ---- signatures ---- */

char *
lr_sign(const struct lr_sign_key *k, const void *msg, size_t len)
{
	unsigned char sig[SIG_BYTES];
	char b64[4 * ((SIG_BYTES + 2) / 3) + 1];
	size_t slen = sizeof(sig);
	EVP_MD_CTX *md;

	if (!k->private || k->n != 1)
		LR_BUG("signing with a public key");
	md = EVP_MD_CTX_new();
	/* Ed25519 hashes the message itself: no digest (NULL) */
	if (md == NULL || EVP_DigestSignInit(md, NULL, NULL, NULL,
	    k->keys[0].pkey) != 1 || EVP_DigestSign(md, sig, &slen, msg, len)
	    != 1 || slen != SIG_BYTES)
		LR_BUG("Ed25519 signing failed");
	EVP_MD_CTX_free(md);
	EVP_EncodeBlock((unsigned char *)b64, sig, SIG_BYTES);
	return lr_xasprintf(SIG_PREFIX "%s:%s", k->keys[0].id, b64);
}

static bool
is_hex_id(const char *s)
{
	size_t i;

	for (i = 0; i < LR_SIGN_ID_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' &&
		    s[i] <= 'f')))
			return false;
	return s[LR_SIGN_ID_LEN] == ':';
}

int
lr_sign_verify(const struct lr_sign_key *keys, const void *msg, size_t len,
    const char *sig, struct lr_err *err)
{
	unsigned char raw[4 * ((SIG_BYTES + 2) / 3)];
	char again[4 * ((SIG_BYTES + 2) / 3) + 1];
	const char *id, *b64;
	EVP_MD_CTX *md;
	EVP_PKEY *pkey = NULL;
	size_t i, plen = strlen(SIG_PREFIX);
	int ok;

	if (strncmp(sig, SIG_PREFIX, plen) != 0 || strlen(sig) != plen +
	    LR_SIGN_ID_LEN + 1 + 88 || !is_hex_id(sig + plen))
		return lr_err_set(err, LR_EINVAL, "the signature is not of "
		    "the form 'ed25519:<key id>:<base64>'");
	id = sig + plen;
	b64 = id + LR_SIGN_ID_LEN + 1;
	for (i = 0; i < keys->n; i++)
		if (strncmp(keys->keys[i].id, id, LR_SIGN_ID_LEN) == 0)
			pkey = keys->keys[i].pkey;
	if (pkey == NULL)
		return lr_err_set(err, LR_EINVAL, "it is signed with key "
		    "'%.*s', which is not among the trusted keys",
		    LR_SIGN_ID_LEN, id);
	/* 88 base64 characters, 66 bytes with the padding; canonical only */
	if (EVP_DecodeBlock(raw, (const unsigned char *)b64, 88) != 66 ||
	    EVP_EncodeBlock((unsigned char *)again, raw, SIG_BYTES) != 88 ||
	    memcmp(again, b64, 88) != 0)
		return lr_err_set(err, LR_EINVAL, "the signature is not "
		    "valid base64 of %d bytes", SIG_BYTES);
	md = EVP_MD_CTX_new();
	ok = md != NULL && EVP_DigestVerifyInit(md, NULL, NULL, NULL, pkey) ==
	    1 && EVP_DigestVerify(md, raw, SIG_BYTES, msg, len) == 1;
	EVP_MD_CTX_free(md);
	ERR_clear_error();
	if (!ok)
		return lr_err_set(err, LR_EINVAL, "the signature does not "
		    "match (made by key '%.*s' over other bytes)",
		    LR_SIGN_ID_LEN, id);
	return 0;
}
