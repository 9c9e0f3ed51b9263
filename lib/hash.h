/*
 * Content hashes (OpenSSL): SHA-256 for file identity in desired state, and a
 * fast stable 64-bit hash for placement.
 */
#ifndef LR_HASH_H
#define LR_HASH_H

#include <stddef.h>
#include <stdint.h>

#define LR_SHA256_HEX_LEN 64

/* Write the lowercase hex SHA-256 of p[0..n) and a NUL into out[65]. */
void	lr_sha256_hex(const void *p, size_t n, char out[LR_SHA256_HEX_LEN + 1]);

#endif
