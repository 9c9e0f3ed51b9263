/*
 * SHA-256 through OpenSSL's EVP one-shot digest: no hand-rolled hashes.
 */
#include <openssl/evp.h>

#include "err.h"
#include "hash.h"

void
lr_sha256_hex(const void *p, size_t n, char out[LR_SHA256_HEX_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;

	if (!EVP_Digest(p, n, md, &mdlen, EVP_sha256(), NULL))
		LR_BUG("EVP_Digest(sha256) failed");
	for (i = 0; i < mdlen && i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[2 * i] = '\0';
}
