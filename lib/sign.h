/*
 * The fleet's signing key (Ed25519, OpenSSL EVP): `leura apply` signs
 * what it writes to etcd with the private key, and every agent verifies
 * what it reads with the public keys it was given, because etcd is not
 * trusted for integrity (docs/security.md).  This file is the whole of
 * Leura's crypto: keys from PEM files, key pairs, a signature and its
 * check.  What is signed, and how a signature travels in a document, is
 * proto/'s (proto/doc.h).
 *
 * A signature travels as text: "ed25519:<key id>:<base64 of 64 bytes>",
 * where the key id (16 hex digits) is the start of the SHA-256 of the raw
 * public key, so that a verifier holding several keys (during a rotation)
 * knows which to use and can name an unknown one.
 *
 * Keys are read from files only (never from argv or the environment); a
 * private key file that its group or others may read is refused.
 * Nothing here prints; blocking file I/O (small local files only).
 */
#ifndef LR_SIGN_H
#define LR_SIGN_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

#define LR_SIGN_ID_LEN	16	/* hex digits of a key id */
/* The names `leura keygen` and `leura up` give a pair in a folder. */
#define LR_SIGN_PRIVATE_NAME	"signing.key"
#define LR_SIGN_PUBLIC_NAME	"signing.pub"

/* A private key, or a set of public keys; opaque. */
struct lr_sign_key;

/*
 * Load the private key at path (PEM, PKCS#8, Ed25519).  LR_ENOENT when
 * there is no such file, LR_EPERM when group or others may read it,
 * LR_EINVAL when it is not an Ed25519 private key; err names the file and
 * hints at the fix.  *out is the caller's (lr_sign_key_free).
 */
int	lr_sign_key_load_private(const char *path, struct lr_sign_key **out,
	    struct lr_err *err);
/*
 * Load every public key (PEM "PUBLIC KEY" blocks, Ed25519) in the file at
 * path: one key, or several during a rotation.  LR_ENOENT, or LR_EINVAL
 * when it holds no Ed25519 public key or something else.
 */
int	lr_sign_key_load_public(const char *path, struct lr_sign_key **out,
	    struct lr_err *err);
/* The same, from memory (text of len bytes): for tests and fuzzers. */
int	lr_sign_key_parse_public(const char *text, size_t len,
	    struct lr_sign_key **out, struct lr_err *err);
void	lr_sign_key_free(struct lr_sign_key *k);	/* NULL is fine */

/* The id of a private key, or of the first public key; borrowed. */
const char *lr_sign_key_id(const struct lr_sign_key *k);
/* How many public keys a set holds (1 for a private key). */
size_t	lr_sign_key_count(const struct lr_sign_key *k);

/*
 * Make a key pair: the private key at priv_path (mode 0600) and its
 * public key at pub_path (0644), PEM.  Neither may exist unless force
 * (then both are replaced); LR_EBUSY names the one that does.  The id of
 * the new key in id.
 */
int	lr_sign_keygen(const char *priv_path, const char *pub_path,
	    bool force, char id[LR_SIGN_ID_LEN + 1], struct lr_err *err);

/*
 * Sign msg[0..len) with the private key k: a new string in the form
 * above, the caller's.  Aborts (LR_BUG) when k is a public key.
 */
char	*lr_sign(const struct lr_sign_key *k, const void *msg, size_t len);

/*
 * Check sig (the form above) over msg[0..len) with the key of keys whose
 * id it names.  0 when it holds; else LR_EINVAL with err saying what is
 * wrong: a malformed signature, a key id keys does not hold ("signed
 * with key 'ID', which is not among the trusted keys"), or a signature
 * that does not match ("the signature does not match").
 */
int	lr_sign_verify(const struct lr_sign_key *keys, const void *msg,
	    size_t len, const char *sig, struct lr_err *err);

#endif
