/*
 * splitmix64: a tiny pseudo-random generator, the same sequence on every
 * platform, for tests and benchmarks that must be repeatable from a seed.
 * Header-only so that standalone bench programs can use it.  Not for
 * anything that needs unpredictability.
 */
#ifndef LR_PRNG_H
#define LR_PRNG_H

#include <stdint.h>

static inline uint64_t
lr_splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

#endif
