/*
 * Static placement: which hosts run the instances of each service.
 *
 * Rendezvous (highest random weight) hashing with bounded loads.  Each
 * service ranks its eligible hosts by a 64-bit hash of (service name, host
 * name), its score, and wants the best-ranked ones.  Full hosts keep the
 * instances with the highest scores and turn the others away, which try
 * their next hosts (deferred acceptance, as in Gale-Shapley): the result
 * is the stable assignment where no instance would rather be on a host
 * that keeps a lower score.  Everything is a function of names: hosts and
 * services are taken in name order and ties between equal hashes go to the
 * name that sorts first, so the order of the input arrays never matters.
 * No I/O and nothing but libc; out of memory aborts.
 *
 * Loads and the bound.  "All" services (num_instances -1) take every
 * eligible host; they count toward loads but have no choice.  The mean is
 * the number of instances placed (services without an error, "all" ones
 * included) divided by the number of active hosts, those eligible for at
 * least one such service; the bound is C = ceil(load_factor * mean).
 * Hosts that nothing may use do not dilute the mean.
 *
 * Levels.  Capacities grow in levels until every instance has a host:
 *   level 0: with x = load_factor * mean, host capacities are floor(x) or
 *	ceil(x) = C, and the share of hosts at C, picked by a hash of their
 *	names, grows from 0 to 1 while frac(x) goes from 0 to PL_RAMP.  When
 *	the mean crosses an integer and C steps up, capacities do not jump
 *	with it: an event that changes the mean a little changes a few hosts'
 *	capacities, never all of them at once;
 *   level 1: capacity C everywhere; services still short take the best
 *	hosts with room, then augmenting paths (moving instances of other
 *	services, as in max flow) fill the rest, so whenever an assignment
 *	within C exists, one is found;
 *   level 2 and up: C + 1, C + 2, ... for the instances that eligibility
 *	and spread force above the bound, best rank first.
 * The flow network behind level 1 is service -> (service, spread value) ->
 * host -> sink; without spread_by every host is its own value.  Augmenting
 * paths are searched breadth first; a search that fails marks every node
 * it reached as dead, as no later augmentation can open a way out of them,
 * which keeps saturated groups linear.
 *
 * Stability comes from the ranking: a host that goes away frees only its
 * instances, which move to their next-ranked hosts, and a new host takes
 * the instances that rank it high.  Capacity makes moves ripple (a moved
 * instance can displace one with a lower score, a freed slot lets a
 * displaced instance come back), and a changed mean changes a few
 * capacities; bench/sched_movement.c measures both.
 *
 * Cost: one hash per (service, eligible host) and a partial selection of
 * the best few; full rankings only for services that walk down theirs.
 */
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched.h"

#define PL_NONE		UINT32_MAX
#define PL_SEED_HOST	0x6c6575726120686fULL	/* "leura ho" */
#define PL_SEED_SVC	0x6c65757261207376ULL	/* "leura sv" */
#define PL_SEED_VAL	0x6c65757261207661ULL	/* "leura va" */
#define PL_SEED_CAP	0x6c65757261206361ULL	/* "leura ca" */
#define PL_LOAD_FACTOR	1.25
#define PL_RAMP		0.5	/* see "Levels" above */

/* host flags */
#define PL_ACTIVE	0x1	/* eligible for a placeable service */
#define PL_DEAD		0x2	/* no augmenting path through it */
#define PL_DUPNAME	0x4	/* another host has the same name */

/* per (service, eligible position) flags */
#define PL_ON		0x1	/* an instance is there */
#define PL_ASKED	0x2	/* proposed to at level 0 */

struct pl_inst {
	uint64_t	 score;		/* its claim to the host */
	uint32_t	 svc;		/* index in name order */
	uint32_t	 pos;		/* position in its eligible array */
};

struct pl_insts {
	struct pl_inst	*v;		/* instances of services with a choice */
	uint32_t	 n;
	uint32_t	 cap;
	uint32_t	 weak;		/* index of the lowest score, or PL_NONE */
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
	uint32_t	*vid;		/* spread value id per position, or NULL */
	uint32_t	*vcount;	/* placed instances per value id */
	uint32_t	*order;		/* best-ranked positions, best first */
	uint32_t	 norder;	/* a prefix of the ranking; ne when whole */
	uint32_t	 next;		/* level 0: ranks below are all asked */
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

struct pl_state {
	/* hosts, indexed like the input */
	uint32_t	 nh;
	const char	**hname;
	uint64_t	*hhash;
	uint32_t	*hrank;		/* position in name order */
	uint32_t	*hload;		/* all instances */
	uint32_t	*hcap0;		/* capacity at level 0 */
	uint32_t	*hseen;		/* stamps for checks and searches */
	uint32_t	*husers;	/* placeable services that may use it */
	uint8_t		*hflags;
	struct pl_insts	*hinst;
	struct pl_step	*hstep;		/* allocated by the first search */

	struct pl_svc	*svcs;		/* in name order */
	uint32_t	 ns;
	uint32_t	 cap;		/* the bound C */
	bool		 ramped;	/* some host has less than C at level 0 */
	uint32_t	 stamp;

	struct pl_cand	*cand;		/* scratch, max eligible */
	uint32_t	*queue;		/* scratch, max(nh, ns, max eligible) */
	uint32_t	*vtab;		/* scratch: spread value hash table */
	uint64_t	*vhash;
	uint8_t		*flagblk;	/* every service's `flags` */
	uint32_t	*vidblk;	/* every service's `vid` and `vcount` */
};

/* ---- memory ---- */

static void *
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

static void *
pl_realloc(void *p, size_t nmemb, size_t size)
{
	if ((p = realloc(p, nmemb * size)) == NULL) {
		fprintf(stderr, "leura: fatal: out of memory allocating "
		    "%zu bytes\n", nmemb * size);
		abort();
	}
	return p;
}

static char *
pl_printf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	s = pl_alloc((size_t)n + 1, 1);
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

/* ---- hashing: bytes, not words, so that every platform agrees ---- */

static uint64_t
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

static uint64_t
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

/* ---- ranking ---- */

static uint32_t
pl_host_of(const struct pl_svc *s, uint32_t pos)
{
	return (uint32_t)s->in->eligible[pos];
}

static uint64_t
pl_score(const struct pl_state *st, const struct pl_svc *s, uint32_t pos)
{
	return pl_mix(s->hash ^ st->hhash[pl_host_of(s, pos)]);
}

static bool
pl_better(const struct pl_cand *a, const struct pl_cand *b)
{
	if (a->score != b->score)
		return a->score > b->score;
	return a->rank < b->rank;
}

static void
pl_swap(struct pl_cand *a, struct pl_cand *b)
{
	struct pl_cand t = *a;

	*a = *b;
	*b = t;
}

/* Best first.  Quicksort, median of three, insertion sort for the tail. */
static void
pl_sort(struct pl_cand *c, uint32_t n)
{
	struct pl_cand pivot;
	uint32_t i, j, mid;

	while (n > 12) {
		mid = n / 2;
		if (pl_better(&c[mid], &c[0]))
			pl_swap(&c[mid], &c[0]);
		if (pl_better(&c[n - 1], &c[0]))
			pl_swap(&c[n - 1], &c[0]);
		if (pl_better(&c[n - 1], &c[mid]))
			pl_swap(&c[n - 1], &c[mid]);
		pivot = c[mid];
		i = 0;
		j = n - 1;
		for (;;) {
			while (pl_better(&c[i], &pivot))
				i++;
			while (pl_better(&pivot, &c[j]))
				j--;
			if (i >= j)
				break;
			pl_swap(&c[i++], &c[j--]);
		}
		/* c[0..j] before c[j+1..n-1]; recurse on the smaller part */
		if (j + 1 < n - j - 1) {
			pl_sort(c, j + 1);
			c += j + 1;
			n -= j + 1;
		} else {
			pl_sort(c + j + 1, n - j - 1);
			n = j + 1;
		}
	}
	for (i = 1; i < n; i++) {
		pivot = c[i];
		for (j = i; j > 0 && pl_better(&pivot, &c[j - 1]); j--)
			c[j] = c[j - 1];
		c[j] = pivot;
	}
}

/* Heap with the worst candidate on top. */
static void
pl_sift(struct pl_cand *c, uint32_t n, uint32_t i)
{
	uint32_t k;

	for (;;) {
		k = 2 * i + 1;
		if (k >= n)
			return;
		if (k + 1 < n && pl_better(&c[k], &c[k + 1]))
			k++;
		if (!pl_better(&c[i], &c[k]))
			return;
		pl_swap(&c[i], &c[k]);
		i = k;
	}
}

/*
 * Make s->order hold at least the best `need` positions (all of them when
 * need >= ne): one pass keeping the best k in a heap, then a sort.  The
 * prefix grows fourfold each time, so a service that walks down its whole
 * ranking pays O(ne log ne) in all.
 */
static void
pl_rank(struct pl_state *st, struct pl_svc *s, uint32_t need)
{
	struct pl_cand *c = st->cand, x;
	uint32_t i, j, n = 0, k;

	if (need <= s->norder || s->norder == s->ne)
		return;
	k = need;
	if (k < 4 * s->norder)
		k = 4 * s->norder;
	if (k < 4 * s->want + 16)
		k = 4 * s->want + 16;
	if (k > s->ne / 2)
		k = s->ne;
	for (i = 0; i < s->ne; i++) {
		x.score = pl_score(st, s, i);
		if (n == k && x.score < c[0].score)
			continue;	/* the common case, cheaply */
		x.rank = st->hrank[pl_host_of(s, i)];
		x.pos = i;
		if (n < k) {
			c[n++] = x;
			if (n == k && k < s->ne)
				for (j = k / 2; j-- > 0;)
					pl_sift(c, k, j);
		} else if (pl_better(&x, &c[0])) {
			c[0] = x;
			pl_sift(c, k, 0);
		}
	}
	pl_sort(c, k);
	s->order = pl_realloc(s->order, k, sizeof(*s->order));
	for (i = 0; i < k; i++)
		s->order[i] = c[i].pos;
	s->norder = k;
}

/* The position of s's i-th best host, i < ne. */
static uint32_t
pl_at(struct pl_state *st, struct pl_svc *s, uint32_t i)
{
	if (i >= s->norder)
		pl_rank(st, s, i + 1);
	return s->order[i];
}

/* ---- loads ---- */

static bool
pl_has_room(const struct pl_state *st, uint32_t hi, uint32_t level)
{
	uint64_t cap;

	cap = level == 0 ? st->hcap0[hi] : (uint64_t)st->cap + level - 1;
	return st->hload[hi] < cap;
}

/* May s take position pos, capacity aside? */
static bool
pl_may_take(const struct pl_svc *s, uint32_t pos)
{
	if (s->flags[pos] & PL_ON)
		return false;
	return s->vid == NULL || s->vcount[s->vid[pos]] == 0;
}

static void
pl_place(struct pl_state *st, struct pl_svc *s, uint32_t pos)
{
	uint32_t hi = pl_host_of(s, pos);
	struct pl_insts *hl = &st->hinst[hi];

	s->flags[pos] |= PL_ON;
	if (s->vid != NULL)
		s->vcount[s->vid[pos]]++;
	s->nplaced++;
	st->hload[hi]++;
	if (hl->n == hl->cap) {
		hl->cap = hl->cap ? 2 * hl->cap : 4;
		hl->v = pl_realloc(hl->v, hl->cap, sizeof(*hl->v));
	}
	hl->v[hl->n].score = pl_score(st, s, pos);
	hl->v[hl->n].svc = (uint32_t)(s - st->svcs);
	hl->v[hl->n].pos = pos;
	hl->n++;
	hl->weak = PL_NONE;
}

static void
pl_unplace(struct pl_state *st, struct pl_svc *s, uint32_t pos)
{
	uint32_t hi = pl_host_of(s, pos), si = (uint32_t)(s - st->svcs), i;
	struct pl_insts *hl = &st->hinst[hi];

	s->flags[pos] &= ~PL_ON;
	if (s->vid != NULL)
		s->vcount[s->vid[pos]]--;
	s->nplaced--;
	st->hload[hi]--;
	hl->weak = PL_NONE;
	for (i = 0; i < hl->n; i++) {
		if (hl->v[i].svc == si && hl->v[i].pos == pos) {
			hl->v[i] = hl->v[--hl->n];
			return;
		}
	}
	abort();	/* the lists and the flags disagree: a bug */
}

/* ---- level 0: deferred acceptance ---- */

/*
 * Does a have a better claim to its host than b?  The higher score, that
 * is the instance that wants the host more, and on a tie the service whose
 * name sorts first.
 */
static bool
pl_claim_better(const struct pl_inst *a, const struct pl_inst *b)
{
	if (a->score != b->score)
		return a->score > b->score;
	return a->svc < b->svc;
}

/* The instance on host hi with the weakest claim, cached. */
static uint32_t
pl_weakest(struct pl_state *st, uint32_t hi)
{
	struct pl_insts *hl = &st->hinst[hi];
	uint32_t i, w = 0;

	if (hl->weak != PL_NONE)
		return hl->weak;
	for (i = 1; i < hl->n; i++)
		if (pl_claim_better(&hl->v[w], &hl->v[i]))
			w = i;
	hl->weak = w;
	return w;
}

/* The next rank s proposes to, or PL_NONE. */
static uint32_t
pl_next(struct pl_state *st, struct pl_svc *s)
{
	uint32_t i, pos;

	while (s->next < s->ne &&
	    (s->flags[pl_at(st, s, s->next)] & PL_ASKED))
		s->next++;
	for (i = s->next; i < s->ne; i++) {
		pos = pl_at(st, s, i);
		if (!(s->flags[pos] & PL_ASKED) && pl_may_take(s, pos))
			return i;
	}
	return PL_NONE;
}

/*
 * Services propose to their hosts best rank first; a full host keeps the
 * instances with the best claims and turns the others away, which go on
 * down their rankings.  The outcome does not depend on the order of the
 * proposals, and an instance that lost its host pushes out only instances
 * with lower scores.
 */
static void
pl_level0(struct pl_state *st)
{
	struct pl_svc *s, *t;
	struct pl_insts *hl;
	struct pl_inst me;
	uint32_t *q = st->queue, head = 0, n = 0, i, r, pos, hi, w;

	for (i = 0; i < st->ns; i++) {
		s = &st->svcs[i];
		if (s->error == NULL && !s->all && s->want > 0) {
			s->queued = true;
			q[n++] = i;
		}
	}
	while (n > 0) {
		s = &st->svcs[q[head]];
		head = (head + 1) % st->ns;
		n--;
		s->queued = false;
		while (s->nplaced < s->want &&
		    (r = pl_next(st, s)) != PL_NONE) {
			pos = pl_at(st, s, r);
			s->flags[pos] |= PL_ASKED;
			hi = pl_host_of(s, pos);
			if (pl_has_room(st, hi, 0)) {
				pl_place(st, s, pos);
				continue;
			}
			hl = &st->hinst[hi];
			if (hl->n == 0)
				continue;	/* full of "all" instances */
			w = pl_weakest(st, hi);
			me.score = pl_score(st, s, pos);
			me.svc = (uint32_t)(s - st->svcs);
			me.pos = pos;
			if (!pl_claim_better(&me, &hl->v[w]))
				continue;
			t = &st->svcs[hl->v[w].svc];
			pl_unplace(st, t, hl->v[w].pos);
			pl_place(st, s, pos);
			if (!t->queued) {
				t->queued = true;
				q[(head + n++) % st->ns] =
				    (uint32_t)(t - st->svcs);
			}
		}
	}
}

/* ---- levels 1 and up ---- */

static void
pl_greedy(struct pl_state *st, struct pl_svc *s, uint32_t level)
{
	uint32_t i, pos;

	for (i = 0; i < s->ne && s->nplaced < s->want; i++) {
		pos = pl_at(st, s, i);
		if (pl_may_take(s, pos) &&
		    pl_has_room(st, pl_host_of(s, pos), level))
			pl_place(st, s, pos);
	}
}

/*
 * Reach host hi from host `from` (PL_NONE: from the source) by moving
 * service si from position frompos to topos.  Returns whether hi has room,
 * that is whether the path is complete.
 */
static bool
pl_visit(struct pl_state *st, uint32_t *nq, uint32_t hi, uint32_t from,
    uint32_t si, uint32_t frompos, uint32_t topos)
{
	struct pl_step *step = &st->hstep[hi];

	st->hseen[hi] = st->stamp;
	step->from = from;
	step->svc = si;
	step->frompos = frompos;
	step->topos = topos;
	if (pl_has_room(st, hi, 1))
		return true;
	st->queue[(*nq)++] = hi;
	return false;
}

static void
pl_apply_path(struct pl_state *st, uint32_t hi)
{
	struct pl_step *step;
	struct pl_svc *t;

	for (;;) {
		step = &st->hstep[hi];
		t = &st->svcs[step->svc];
		pl_place(st, t, step->topos);
		if (step->from == PL_NONE)
			return;
		pl_unplace(st, t, step->frompos);
		hi = step->from;
	}
}

static bool
pl_reachable(const struct pl_state *st, uint32_t hi)
{
	return !(st->hflags[hi] & PL_DEAD) && st->hseen[hi] != st->stamp;
}

/*
 * One more instance for s through a shortest augmenting path, breadth
 * first over hosts, in rank order so that the result is a function of
 * names.  From a full host, a service t with an instance there may move it
 * to a host with the same spread value (the flow goes back through node
 * (t, value)) or, once per search, to any value t does not use (through
 * node t).  Returns false, marking what it reached as dead, when there is
 * no path.
 */
static bool
pl_augment(struct pl_state *st, struct pl_svc *s)
{
	struct pl_insts *hl;
	struct pl_svc *t;
	uint32_t si = (uint32_t)(s - st->svcs), nq = 0, qi, i, j, p, q, h2;
	bool cross;

	if (st->hstep == NULL)
		st->hstep = pl_alloc(st->nh, sizeof(*st->hstep));
	st->stamp++;
	s->seen = st->stamp;
	for (i = 0; i < s->ne; i++) {
		q = pl_at(st, s, i);
		h2 = pl_host_of(s, q);
		if (!pl_may_take(s, q) || !pl_reachable(st, h2))
			continue;
		if (pl_visit(st, &nq, h2, PL_NONE, si, PL_NONE, q)) {
			pl_apply_path(st, h2);
			return true;
		}
	}
	for (qi = 0; qi < nq; qi++) {
		hl = &st->hinst[st->queue[qi]];
		for (i = 0; i < hl->n; i++) {
			t = &st->svcs[hl->v[i].svc];
			p = hl->v[i].pos;
			cross = !t->dead && t->seen != st->stamp;
			if (!cross && t->vid == NULL)
				continue;
			if (cross)
				t->seen = st->stamp;
			for (j = 0; j < t->ne; j++) {
				q = pl_at(st, t, j);
				h2 = pl_host_of(t, q);
				if ((t->flags[q] & PL_ON) ||
				    !pl_reachable(st, h2))
					continue;
				if (t->vid == NULL || t->vid[q] != t->vid[p]) {
					if (!cross || (t->vid != NULL &&
					    t->vcount[t->vid[q]] != 0))
						continue;
				}
				if (pl_visit(st, &nq, h2, st->queue[qi],
				    hl->v[i].svc, p, q)) {
					pl_apply_path(st, h2);
					return true;
				}
			}
		}
	}
	for (qi = 0; qi < nq; qi++)
		st->hflags[st->queue[qi]] |= PL_DEAD;
	for (i = 0; i < st->ns; i++)
		if (st->svcs[i].seen == st->stamp)
			st->svcs[i].dead = true;
	return false;
}

/* ---- input checks ---- */

static const char *
pl_plural(uint64_t n)
{
	return n == 1 ? "" : "s";
}

/*
 * Give s its spread value ids (equal strings, equal ids) and count them.
 * Open addressing on the strings' hashes, in scratch tables big enough
 * for the largest service.
 */
static void
pl_spread_ids(struct pl_state *st, struct pl_svc *s)
{
	const char *const *spread = s->in->spread;
	uint32_t mask, i, slot, *firstpos = st->queue;
	uint64_t hv;
	size_t hi, hj;

	for (mask = 1; mask < 2 * s->ne; mask *= 2)
		continue;
	mask--;
	memset(st->vtab, 0xff, (mask + 1) * sizeof(*st->vtab));
	s->nvalues = 0;
	for (i = 0; i < s->ne; i++) {
		hi = s->in->eligible[i];
		hv = pl_hash_str(spread[hi], PL_SEED_VAL);
		for (slot = (uint32_t)hv & mask;; slot = (slot + 1) & mask) {
			if (st->vtab[slot] == PL_NONE) {
				st->vtab[slot] = s->nvalues;
				st->vhash[slot] = hv;
				firstpos[s->nvalues] = i;
				s->vid[i] = s->nvalues++;
				break;
			}
			hj = s->in->eligible[firstpos[st->vtab[slot]]];
			if (st->vhash[slot] == hv &&
			    strcmp(spread[hj], spread[hi]) == 0) {
				s->vid[i] = st->vtab[slot];
				break;
			}
		}
	}
}

/* Undo what pl_check counted for the first n eligible hosts of s. */
static void
pl_uncount(struct pl_state *st, const struct pl_svc *s, size_t n)
{
	size_t i, hi;

	for (i = 0; i < n; i++) {
		hi = s->in->eligible[i];
		st->husers[hi]--;
		if (s->in->num_instances < 0)
			st->hload[hi]--;
	}
}

/*
 * What makes s impossible to place, spread values aside, or NULL.  Counts
 * s among the users of its eligible hosts and, for an "all" service, in
 * their loads (pl_uncount takes that back).
 */
static char *
pl_check(struct pl_state *st, struct pl_svc *s)
{
	const struct sched_service *sv = s->in;
	size_t i, hi;
	char *err = NULL;

	if (sv->num_instances < -1)
		return pl_printf("invalid number of instances %d",
		    sv->num_instances);
	if (sv->neligible > 0 && sv->eligible == NULL)
		return pl_printf("no list of eligible hosts");
	s->ne = (uint32_t)sv->neligible;
	s->all = sv->num_instances < 0;
	s->want = s->all ? s->ne : (uint32_t)sv->num_instances;
	if (s->want > s->ne) {
		if (s->ne == 0)
			return pl_printf("needs %u instance%s but no eligible "
			    "hosts", s->want, pl_plural(s->want));
		return pl_printf("needs %u instance%s but only %u eligible "
		    "host%s", s->want, pl_plural(s->want), s->ne,
		    pl_plural(s->ne));
	}
	st->stamp++;
	for (i = 0; i < s->ne; i++) {
		hi = sv->eligible[i];
		if (hi >= st->nh) {
			err = pl_printf("eligible host index %zu out of range",
			    hi);
			break;
		}
		if (st->hseen[hi] == st->stamp) {
			err = pl_printf("host '%s' is listed twice as "
			    "eligible", st->hname[hi]);
			break;
		}
		st->hseen[hi] = st->stamp;
		if (st->hflags[hi] & PL_DUPNAME) {
			err = pl_printf("host name '%s' is not unique",
			    st->hname[hi]);
			break;
		}
		if (sv->spread != NULL && sv->spread[hi] == NULL) {
			err = pl_printf("host '%s' has no spread value",
			    st->hname[hi]);
			break;
		}
		st->husers[hi]++;
		if (s->all)
			st->hload[hi]++;
	}
	if (err != NULL)
		pl_uncount(st, s, i);
	return err;
}

/* ---- setup ---- */

struct pl_named {
	const char	*name;
	uint32_t	 idx;
};

static int
pl_name_cmp(const void *va, const void *vb)
{
	const struct pl_named *a = va, *b = vb;

	return strcmp(a->name, b->name);
}

static void
pl_setup_hosts(struct pl_state *st, const struct sched_input *in)
{
	struct pl_named *names;
	uint32_t i;

	st->nh = (uint32_t)in->nhosts;
	st->hname = pl_alloc(st->nh, sizeof(*st->hname));
	st->hhash = pl_alloc(st->nh, sizeof(*st->hhash));
	st->hrank = pl_alloc(st->nh, sizeof(*st->hrank));
	st->hload = pl_alloc(st->nh, sizeof(*st->hload));
	st->hcap0 = pl_alloc(st->nh, sizeof(*st->hcap0));
	st->hseen = pl_alloc(st->nh, sizeof(*st->hseen));
	st->husers = pl_alloc(st->nh, sizeof(*st->husers));
	st->hflags = pl_alloc(st->nh, sizeof(*st->hflags));
	st->hinst = pl_alloc(st->nh, sizeof(*st->hinst));

	names = pl_alloc(st->nh, sizeof(*names));
	for (i = 0; i < st->nh; i++) {
		names[i].name = in->hosts[i].name;
		names[i].idx = i;
	}
	qsort(names, st->nh, sizeof(*names), pl_name_cmp);
	for (i = 0; i < st->nh; i++) {
		st->hname[names[i].idx] = names[i].name;
		st->hrank[names[i].idx] = i;
		st->hhash[names[i].idx] = pl_hash_str(names[i].name,
		    PL_SEED_HOST);
		st->hinst[i].weak = PL_NONE;
		if (i > 0 && strcmp(names[i - 1].name, names[i].name) == 0) {
			st->hflags[names[i].idx] |= PL_DUPNAME;
			st->hflags[names[i - 1].idx] |= PL_DUPNAME;
		}
	}
	free(names);
}

/*
 * Services in name order, input checks, spread value ids, fixed loads,
 * the bound and the level 0 capacities.
 */
static void
pl_setup(struct pl_state *st, const struct sched_input *in)
{
	struct pl_named *names;
	struct pl_svc *s;
	uint64_t total = 0, nactive = 0;
	size_t i, n, maxne = 0, nflags = 0, nvid = 0;
	uint8_t *flags;
	uint32_t *vids, mask, hi;
	double lf, x, fl, frac, u;

	pl_setup_hosts(st, in);
	st->ns = (uint32_t)in->nservices;
	st->svcs = pl_alloc(st->ns, sizeof(*st->svcs));
	names = pl_alloc(st->ns, sizeof(*names));
	for (i = 0; i < st->ns; i++) {
		names[i].name = in->services[i].name;
		names[i].idx = (uint32_t)i;
		if (in->services[i].neligible > maxne)
			maxne = in->services[i].neligible;
	}
	qsort(names, st->ns, sizeof(*names), pl_name_cmp);
	for (i = 0; i < st->ns; i++) {
		s = &st->svcs[i];
		s->idx = names[i].idx;
		s->in = &in->services[s->idx];
		s->hash = pl_hash_str(s->in->name, PL_SEED_SVC);
	}
	free(names);

	for (mask = 1; mask < 2 * maxne; mask *= 2)
		continue;
	st->vtab = pl_alloc(mask, sizeof(*st->vtab));
	st->vhash = pl_alloc(mask, sizeof(*st->vhash));
	st->cand = pl_alloc(maxne, sizeof(*st->cand));
	/* hosts to search, services to place, spread values to count */
	n = st->nh > st->ns ? st->nh : st->ns;
	st->queue = pl_alloc(n > maxne ? n : maxne, sizeof(*st->queue));

	for (i = 0; i < st->ns; i++) {
		s = &st->svcs[i];
		if ((s->error = pl_check(st, s)) != NULL)
			continue;
		if (!s->all)
			nflags += s->ne;
		if (s->in->spread != NULL)
			nvid += 2 * (size_t)s->ne;
	}
	/* one block for the flags, one for the spread ids and counts */
	flags = st->flagblk = pl_alloc(nflags, 1);
	vids = st->vidblk = pl_alloc(nvid, sizeof(*vids));
	for (i = 0; i < st->ns; i++) {
		s = &st->svcs[i];
		if (s->error != NULL)
			continue;
		if (s->in->spread != NULL) {
			s->vid = vids;
			s->vcount = vids + s->ne;
			vids += 2 * (size_t)s->ne;
			pl_spread_ids(st, s);
			if (s->want > s->nvalues) {
				s->error = pl_printf("needs %u instance%s "
				    "spread by distinct values but eligible "
				    "hosts have only %u distinct value%s",
				    s->want, pl_plural(s->want), s->nvalues,
				    pl_plural(s->nvalues));
				pl_uncount(st, s, s->ne);
				continue;
			}
		}
		if (!s->all) {
			s->flags = flags;
			flags += s->ne;
		}
		total += s->want;
	}
	for (hi = 0; hi < st->nh; hi++) {
		if (st->husers[hi] > 0) {
			st->hflags[hi] |= PL_ACTIVE;
			nactive++;
		}
	}

	lf = in->load_factor > 0 ? in->load_factor : PL_LOAD_FACTOR;
	x = nactive > 0 ? lf * (double)total / (double)nactive : 0;
	/* forgive rounding: 1.25 * 4 / 5 is 1, not a hair above */
	st->cap = (uint32_t)ceil(x - 1e-9);
	fl = floor(x);
	frac = (x - fl) / PL_RAMP;
	for (i = 0; i < st->nh; i++) {
		u = (double)(pl_mix(st->hhash[i] ^ PL_SEED_CAP) >> 11) *
		    (1.0 / 9007199254740992.0);
		st->hcap0[i] = (uint32_t)fl + (u < frac ? 1 : 0);
		if (st->hcap0[i] > st->cap)
			st->hcap0[i] = st->cap;
		if (st->hcap0[i] < st->cap && (st->hflags[i] & PL_ACTIVE))
			st->ramped = true;
	}
}

/* ---- results ---- */

/* s's hosts, sorted by name. */
static void
pl_collect(struct pl_state *st, const struct pl_svc *s,
    struct sched_placement *out)
{
	struct pl_cand *c = st->cand;
	uint32_t i, n = 0, hi;

	if (s->error != NULL) {
		out->error = s->error;
		return;
	}
	for (i = 0; i < s->ne; i++) {
		if (!s->all && !(s->flags[i] & PL_ON))
			continue;
		hi = pl_host_of(s, i);
		c[n].score = 0;
		c[n].rank = st->hrank[hi];
		c[n].pos = hi;
		n++;
	}
	pl_sort(c, n);
	out->hosts = pl_alloc(n, sizeof(*out->hosts));
	for (i = 0; i < n; i++)
		out->hosts[i] = c[i].pos;
	out->n = n;
}

static void
pl_release(struct pl_state *st)
{
	uint32_t i;

	for (i = 0; i < st->nh; i++)
		free(st->hinst[i].v);
	for (i = 0; i < st->ns; i++)
		free(st->svcs[i].order);
	free(st->hname);
	free(st->hhash);
	free(st->hrank);
	free(st->hload);
	free(st->hcap0);
	free(st->hseen);
	free(st->husers);
	free(st->hflags);
	free(st->hinst);
	free(st->hstep);
	free(st->svcs);
	free(st->cand);
	free(st->queue);
	free(st->vtab);
	free(st->vhash);
	free(st->flagblk);
	free(st->vidblk);
}

int
sched_place(const struct sched_input *in, struct sched_result *res)
{
	struct pl_state st;
	struct pl_svc *s;
	uint32_t i, level, nshort;

	memset(res, 0, sizeof(*res));
	res->services = pl_alloc(in->nservices, sizeof(*res->services));
	res->nservices = in->nservices;
	if (in->nhosts >= UINT32_MAX / 4 || in->nservices >= UINT32_MAX / 4) {
		for (i = 0; i < in->nservices; i++)
			res->services[i].error = pl_printf("too many hosts or "
			    "services to place");
		res->nerrors = in->nservices;
		return in->nservices > 0 ? -1 : 0;
	}
	memset(&st, 0, sizeof(st));
	pl_setup(&st, in);

	pl_level0(&st);
	for (level = 1, nshort = 1; nshort > 0; level++) {
		nshort = 0;
		for (i = 0; i < st.ns; i++) {
			s = &st.svcs[i];
			if (s->error != NULL || s->all ||
			    s->nplaced == s->want)
				continue;
			/* level 1 without a ramp is level 0 again */
			if (level > 1 || st.ramped)
				pl_greedy(&st, s, level);
			while (level == 1 && s->nplaced < s->want &&
			    pl_augment(&st, s))
				continue;
			if (s->nplaced < s->want)
				nshort++;
		}
	}

	for (i = 0; i < st.ns; i++) {
		s = &st.svcs[i];
		pl_collect(&st, s, &res->services[s->idx]);
		if (s->error != NULL)
			res->nerrors++;
	}
	pl_release(&st);
	return res->nerrors > 0 ? -1 : 0;
}

void
sched_result_release(struct sched_result *res)
{
	size_t i;

	if (res == NULL)
		return;
	for (i = 0; i < res->nservices; i++) {
		free(res->services[i].hosts);
		free(res->services[i].error);
	}
	free(res->services);
	memset(res, 0, sizeof(*res));
}
