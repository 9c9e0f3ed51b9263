/*
 * Internals of the placement (place.c: the algorithm; place_input.c: the
 * checks of the input, the setup of the state and the results).  See the
 * top of place.c for how placement works.
 */
#ifndef SCHED_PLACE_INT_H
#define SCHED_PLACE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "scheduler.h"

#define PL_NONE		UINT32_MAX
#define PL_SEED_HOST	0x6c6575726120686fULL	/* "leura ho" */
#define PL_SEED_SVC	0x6c65757261207376ULL	/* "leura sv" */
#define PL_SEED_VAL	0x6c65757261207661ULL	/* "leura va" */
#define PL_SEED_CAP	0x6c65757261206361ULL	/* "leura ca" */
#define PL_LOAD_FACTOR	1.25
#define PL_RAMP		0.5	/* see "Levels" above */
#define PL_SPREADS	8	/* spread arrays whose values are kept */

/* host flags */
#define PL_ACTIVE	0x1	/* eligible for a placeable service */
#define PL_DEAD		0x2	/* no augmenting path through it */
#define PL_DUPNAME	0x4	/* another host has the same name */

/* per (service, eligible position) flags */
#define PL_ON		0x1	/* an instance is there */
#define PL_ASKED	0x2	/* proposed to at the current level */

struct pl_inst {
	uint64_t	 score;		/* its claim to the host */
	uint32_t	 svc;		/* index in name order */
	uint32_t	 pos;		/* position in its eligible array */
};

struct pl_insts {
	struct pl_inst	*v;		/* of services with a choice */
	uint32_t	 n;
	uint32_t	 cap;
	uint32_t	 weak;		/* lowest score's index, or PL_NONE */
};

struct pl_svc {
	const struct sched_service *in;
	size_t		 idx;		/* index in the input */
	uint64_t	 hash;
	uint32_t	 ne;		/* eligible hosts */
	uint32_t	 want;		/* instances to place */
	uint32_t	 nplaced;
	uint32_t	 nvalues;	/* distinct spread values */
	uint8_t		*flags;		/* PL_ON, PL_ASKED per position */
	uint32_t	*vid;		/* spread value per position, or NULL */
	uint32_t	*vcount;	/* placed instances per value id */
	uint32_t	*order;		/* best-ranked positions, best first */
	uint32_t	 norder;	/* a prefix of the ranking, or ne */
	uint32_t	 next;		/* ranks below are all asked */
	uint32_t	 level;		/* of its last deferred acceptance */
	uint32_t	 seen;		/* search stamp */
	bool		 dead;
	bool		 all;
	bool		 queued;
	char		*error;
};

struct pl_cand {
	uint64_t	 score;
	uint32_t	 rank;
	uint32_t	 pos;
};

/* How a search reached a host: service svc moved from `from` to here. */
struct pl_step {
	uint32_t	 from;		/* previous host, or PL_NONE */
	uint32_t	 svc;
	uint32_t	 frompos;
	uint32_t	 topos;
};

struct pl_hot {
	uint64_t	 hash;		/* of the host's name */
	uint32_t	 seen;		/* stamps for checks and searches */
	uint32_t	 users;		/* placeable services that may use it */
};

struct pl_vals {
	uint32_t	*slot;		/* value ids, PL_NONE when free */
	uint64_t	*hash;		/* of each slot's string */
	const char	**str;		/* a string per value id */
	uint32_t	 mask;
	uint32_t	 n;
};

/* Value ids of one spread array; `lid` and `lstamp` renumber per service. */
struct pl_spread {
	const char *const *arr;
	struct pl_vals	 vals;
	uint32_t	*gid;		/* per host: value id, or PL_NONE */
	uint32_t	*lid;		/* per value: id in this service */
	uint32_t	*lstamp;
};

struct pl_state {
	/* hosts, indexed like the input */
	uint32_t	 nh;
	const char	**hname;
	struct pl_hot	*hot;		/* what the pass over eligible reads */
	uint32_t	*hrank;		/* position in name order */
	uint32_t	*hload;		/* all instances */
	uint32_t	*hcap0;		/* capacity at level 0 */
	uint8_t		*hflags;
	struct pl_insts	*hinst;
	struct pl_step	*hstep;		/* allocated by the first search */
	uint32_t	*svis;		/* services a search went through */

	struct pl_svc	*svcs;		/* in name order */
	uint32_t	 ns;
	uint32_t	 cap;		/* the bound C */
	bool		 ramped;	/* some host below C at level 0 */
	bool		 anydup;	/* some host names are not unique */
	uint32_t	 stamp;

	struct pl_cand	*cand;		/* scratch, max(nh, max eligible) */
	uint32_t	*queue;		/* scratch, max(nh, ns) */
	struct pl_spread spreads[PL_SPREADS];
	uint32_t	 nspreads;
	struct pl_vals	 svals;		/* scratch: one service's values */
	uint8_t		*flagblk;	/* every service's `flags` */
	uint32_t	*vidblk;	/* every service's `vid` and `vcount` */
};

/* ---- hashing: bytes, not words, so that every platform agrees ---- */

static inline uint64_t
pl_mix(uint64_t x)
{
	/* SplitMix64's finaliser */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

static inline uint64_t
pl_hash_str(const char *s, uint64_t seed)
{
	const unsigned char *p = (const unsigned char *)s;
	uint64_t h = 0xcbf29ce484222325ULL ^ seed;

	/* FNV-1a over the bytes, then a full avalanche */
	for (; *p != '\0'; p++) {
		h ^= *p;
		h *= 0x100000001b3ULL;
	}
	return pl_mix(h);
}

static inline const char *
pl_plural(uint64_t n)
{
	return n == 1 ? "" : "s";
}

/* ---- memory: out of memory aborts ---- */

static inline void *
pl_alloc(size_t nmemb, size_t size)
{
	void *p;

	if ((p = calloc(nmemb ? nmemb : 1, size ? size : 1)) == NULL) {
		fprintf(stderr, "leura: fatal: out of memory allocating "
		    "%zu bytes\n", nmemb * size);
		abort();
	}
	return p;
}

static inline void *
pl_realloc(void *p, size_t nmemb, size_t size)
{
	size_t n = nmemb * size;

	if ((p = realloc(p, n > 0 ? n : 1)) == NULL) {
		fprintf(stderr, "leura: fatal: out of memory allocating "
		    "%zu bytes\n", nmemb * size);
		abort();
	}
	return p;
}

/* pl_printf: place_input.c */
char	*pl_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- ranking (place.c) ---- */

void	 pl_sort(struct pl_cand *c, uint32_t n);

/*
 * What makes s impossible to place, spread values aside, or NULL (owned);
 * counts s among the users of its eligible hosts and ranks the best few
 * (place.c, beside the ranking its loop calls).  pl_uncount takes back
 * what it counted for the first n eligible hosts.
 */
char	*pl_check(struct pl_state *st, struct pl_svc *s);
void	 pl_uncount(struct pl_state *st, const struct pl_svc *s, size_t n);

/* ---- input, setup and results (place_input.c) ---- */

/* Check the input and fill st (zeroed by the caller). */
void	 pl_setup(struct pl_state *st, const struct sched_input *in);
/* The placement of st into res (allocated by the caller). */
void	 pl_collect(struct pl_state *st, struct sched_result *res);
void	 pl_release(struct pl_state *st);

#endif
