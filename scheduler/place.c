/*
 * Static placement: which hosts run the instances of each service.
 *
 * Rendezvous (highest random weight) hashing with bounded loads.  Each
 * service ranks its eligible hosts by a 64-bit hash of (service name, host
 * name) and takes the best-ranked hosts that still have room; services are
 * taken in name order.  Everything is a function of names: hosts and
 * services are visited in name order and ties between equal hashes go to
 * the host whose name sorts first, so the input order never matters.  No
 * I/O, no allocation failures (out of memory aborts), nothing but libc.
 *
 * Loads and the bound.  "All" services (num_instances -1) take every
 * eligible host; they count toward loads but have no choice.  The mean is
 * the number of instances placed (services without an error, "all" ones
 * included) divided by the number of hosts eligible for at least one such
 * service; the bound is C = ceil(load_factor * mean).  Hosts nobody may use
 * do not dilute the mean.
 *
 * Levels.  Capacities grow in levels until every instance has a host:
 *   level 0: each host gets floor(x) or ceil(x) slots, x = load_factor *
 *	mean, with the fraction frac(x) of hosts picked by a hash of their
 *	name getting the larger one.  Total room stays about x times the
 *	hosts whatever x is, so a small change of the mean changes the
 *	capacity of a few hosts instead of all of them at once: this is what
 *	keeps moves low when a host comes or goes;
 *   level 1: every host gets C; services still short take the best-ranked
 *	hosts with room, then augmenting paths (moving instances of other
 *	services, as in max flow) fill the rest, so whenever an assignment
 *	within C exists, one is found;
 *   level 2 and up: C + 1, C + 2, ... for services that the constraints
 *	force above the bound, best rank first.
 * The flow network behind level 1 is service -> (service, spread value) ->
 * host -> sink; without spread_by every host is its own value.  Augmenting
 * paths are searched breadth first; a search that fails marks every node
 * it reached as dead, since no later augmentation can open a way out of
 * them, which keeps the cost of saturated groups linear.
 *
 * Stability comes from the ranking: a host that goes away frees only its
 * instances, which move to their next-ranked hosts, and a new host takes
 * the instances that rank it first.  Capacity can make a move ripple
 * (an instance fills a host that a later service wanted); the levels and
 * the 25% of slack keep the ripples short.  bench/sched_movement.c measures
 * them.
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

struct pl_inst {
	uint32_t	 svc;		/* index in name order */
	uint32_t	 pos;		/* position in its eligible array */
};

struct pl_host {
	const char	*name;
	uint32_t	 fixed;		/* instances of "all" services */
	uint32_t	 flex;		/* instances of the other services */
	uint32_t	 cap0;		/* capacity at level 0 */
	bool		 active;	/* eligible for a placeable service */
	bool		 dead;		/* no augmenting path through it */
	bool		 dupname;	/* another host has the same name */
	struct pl_inst	*inst;
	uint32_t	 ninst;
	uint32_t	 instcap;
	/* breadth-first search: how we got here */
	uint32_t	 seen;
	uint32_t	 from;		/* previous host, or PL_NONE */
	uint32_t	 svc;		/* service that moves */
	uint32_t	 frompos;	/* its position on `from` */
	uint32_t	 topos;		/* its position here */
};

/* placed[] flags */
#define PL_ON		0x1	/* an instance is there */
#define PL_ASKED	0x2	/* proposed to at level 0 */

struct pl_svc {
	const struct sched_service *in;
	size_t		 idx;		/* index in the input */
	uint64_t	 hash;
	uint32_t	 ne;		/* eligible hosts */
	uint32_t	 want;		/* instances to place */
	uint32_t	 nplaced;
	uint32_t	 nvalues;	/* distinct spread values */
	uint8_t		*placed;	/* PL_* per eligible position */
	uint32_t	*vid;		/* spread value id per position, or NULL */
	uint32_t	*vcount;	/* placed instances per value id */
	uint32_t	*order;		/* best-ranked positions, best first */
	uint32_t	 norder;	/* a prefix of the ranking; ne when whole */
	uint32_t	 next;		/* level 0: ranks below are all asked */
	uint32_t	 seen;
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

struct pl_state {
	struct pl_host	*hosts;		/* indexed like the input */
	uint64_t	*hhash;		/* host name hashes, likewise */
	uint32_t	*hrank;		/* host positions in name order */
	struct pl_svc	*svcs;		/* in name order */
	uint32_t	 nh;
	uint32_t	 ns;
	uint32_t	 cap;		/* the bound C */
	uint32_t	 stamp;
	struct pl_cand	*cand;		/* scratch, max eligible */
	uint32_t	*queue;		/* scratch, max(nh, ns, max eligible) */
	uint32_t	*vtab;		/* scratch: spread value hash table */
	uint64_t	*vhash;
	uint8_t		*flagblk;	/* every service's `placed` */
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

/* ---- hashing: bytes, not words, so every platform agrees ---- */

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

static int
pl_cand_cmp(const void *va, const void *vb)
{
	const struct pl_cand *a = va, *b = vb;

	if (pl_better(a, b))
		return -1;
	return pl_better(b, a) ? 1 : 0;
}

/* Heap with the worst candidate on top. */
static void
pl_sift(struct pl_cand *c, uint32_t n, uint32_t i)
{
	struct pl_cand t;
	uint32_t k;

	for (;;) {
		k = 2 * i + 1;
		if (k >= n)
			return;
		if (k + 1 < n && pl_better(&c[k], &c[k + 1]))
			k++;
		if (!pl_better(&c[i], &c[k]))
			return;
		t = c[i];
		c[i] = c[k];
		c[k] = t;
		i = k;
	}
}

/*
 * Make s->order hold at least the best `need` positions (all of them when
 * need >= ne): one pass keeping the best `need` in a heap, then a sort.
 * The prefix at least doubles each time, so a service that walks down its
 * whole ranking pays O(ne log ne) in all.
 */
static void
pl_rank(struct pl_state *st, struct pl_svc *s, uint32_t need)
{
	struct pl_cand *c = st->cand, x;
	uint32_t i, j, n = 0, k;

	if (need <= s->norder || s->norder == s->ne)
		return;
	k = need;
	if (k < 2 * s->norder)
		k = 2 * s->norder;
	if (k < s->want + 2)
		k = s->want + 2;
	if (k > s->ne / 4)
		k = s->ne;
	for (i = 0; i < s->ne; i++) {
		x.score = pl_score(st, s, i);
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
	qsort(c, k, sizeof(*c), pl_cand_cmp);
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
	const struct pl_host *h = &st->hosts[hi];
	uint64_t cap;

	cap = level == 0 ? h->cap0 : (uint64_t)st->cap + level - 1;
	return (uint64_t)h->fixed + h->flex < cap;
}

/* May s take position pos, capacity aside? */
static bool
pl_may_take(const struct pl_svc *s, uint32_t pos)
{
	if (s->placed[pos] & PL_ON)
		return false;
	return s->vid == NULL || s->vcount[s->vid[pos]] == 0;
}

static void
pl_place(struct pl_state *st, struct pl_svc *s, uint32_t pos)
{
	struct pl_host *h = &st->hosts[pl_host_of(s, pos)];

	s->placed[pos] |= PL_ON;
	if (s->vid != NULL)
		s->vcount[s->vid[pos]]++;
	s->nplaced++;
	h->flex++;
	if (h->ninst == h->instcap) {
		h->instcap = h->instcap ? 2 * h->instcap : 4;
		h->inst = pl_realloc(h->inst, h->instcap, sizeof(*h->inst));
	}
	h->inst[h->ninst].svc = (uint32_t)(s - st->svcs);
	h->inst[h->ninst].pos = pos;
	h->ninst++;
}

static void
pl_unplace(struct pl_state *st, struct pl_svc *s, uint32_t pos)
{
	struct pl_host *h = &st->hosts[pl_host_of(s, pos)];
	uint32_t si = (uint32_t)(s - st->svcs), i;

	s->placed[pos] &= ~PL_ON;
	if (s->vid != NULL)
		s->vcount[s->vid[pos]]--;
	s->nplaced--;
	h->flex--;
	for (i = 0; i < h->ninst; i++) {
		if (h->inst[i].svc == si && h->inst[i].pos == pos) {
			h->inst[i] = h->inst[--h->ninst];
			return;
		}
	}
	abort();	/* the lists and the flags disagree: a bug */
}

/* ---- level 0: deferred acceptance ---- */

/*
 * Does service sa's instance at position pa have a better claim to the
 * host than instance b?  The higher score, the one that ranked the host,
 * wins; services own scores, so a host keeps the instances that want it
 * most and ties go to the service whose name sorts first.
 */
static bool
pl_claim_better(const struct pl_state *st, uint32_t sa, uint32_t pa,
    const struct pl_inst *b)
{
	uint64_t xa, xb;

	xa = pl_score(st, &st->svcs[sa], pa);
	xb = pl_score(st, &st->svcs[b->svc], b->pos);
	if (xa != xb)
		return xa > xb;
	return sa < b->svc;
}

/* The next host s proposes to, as a rank, or PL_NONE. */
static uint32_t
pl_next(struct pl_state *st, struct pl_svc *s)
{
	uint32_t i, pos;

	while (s->next < s->ne &&
	    (s->placed[pl_at(st, s, s->next)] & PL_ASKED))
		s->next++;
	for (i = s->next; i < s->ne; i++) {
		pos = pl_at(st, s, i);
		if (!(s->placed[pos] & PL_ASKED) && pl_may_take(s, pos))
			return i;
	}
	return PL_NONE;
}

/*
 * Services propose to their hosts best rank first; a full host keeps the
 * instances with the best claims and turns the others away, which go on
 * down their rankings.  Unlike first come, first served, an instance that
 * lost its host cannot push out one that sits on its first choice, so
 * a change ripples only through instances that were displaced already.
 */
static void
pl_level0(struct pl_state *st)
{
	struct pl_svc *s, *t;
	struct pl_host *h;
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
			s->placed[pos] |= PL_ASKED;
			hi = pl_host_of(s, pos);
			if (pl_has_room(st, hi, 0)) {
				pl_place(st, s, pos);
				continue;
			}
			h = &st->hosts[hi];
			if (h->ninst == 0)
				continue;
			for (w = 0, i = 1; i < h->ninst; i++)
				if (pl_claim_better(st, h->inst[w].svc,
				    h->inst[w].pos, &h->inst[i]))
					w = i;
			if (!pl_claim_better(st, (uint32_t)(s - st->svcs), pos,
			    &h->inst[w]))
				continue;
			t = &st->svcs[h->inst[w].svc];
			pl_unplace(st, t, h->inst[w].pos);
			pl_place(st, s, pos);
			if (!t->queued) {
				t->queued = true;
				q[(head + n++) % st->ns] = (uint32_t)(t - st->svcs);
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
 * Reach host hi from `from` (PL_NONE: the source service itself) by moving
 * service si from position frompos to topos.  Returns whether hi has room,
 * i.e. the path is complete.
 */
static bool
pl_visit(struct pl_state *st, uint32_t *nq, uint32_t hi, uint32_t from,
    uint32_t si, uint32_t frompos, uint32_t topos)
{
	struct pl_host *h = &st->hosts[hi];

	h->seen = st->stamp;
	h->from = from;
	h->svc = si;
	h->frompos = frompos;
	h->topos = topos;
	if (pl_has_room(st, hi, 1))
		return true;
	st->queue[(*nq)++] = hi;
	return false;
}

static void
pl_apply_path(struct pl_state *st, uint32_t hi)
{
	struct pl_host *h;
	struct pl_svc *t;

	for (;;) {
		h = &st->hosts[hi];
		t = &st->svcs[h->svc];
		pl_place(st, t, h->topos);
		if (h->from == PL_NONE)
			return;
		pl_unplace(st, t, h->frompos);
		hi = h->from;
	}
}

/*
 * One more instance for s through a shortest augmenting path, breadth
 * first over hosts.  From a full host, a service t with an instance there
 * may move it to a host with the same spread value (the flow goes back
 * through node (t, value)) or, once per search, to any value t does not
 * use (through node t).  Returns false, marking what it reached as dead,
 * when there is no path.
 */
static bool
pl_augment(struct pl_state *st, struct pl_svc *s)
{
	struct pl_host *h;
	struct pl_svc *t;
	uint32_t si = (uint32_t)(s - st->svcs), nq = 0, qi, i, j, p, q, h2;
	bool cross;

	st->stamp++;
	s->seen = st->stamp;
	for (i = 0; i < s->ne; i++) {
		q = pl_at(st, s, i);
		h2 = pl_host_of(s, q);
		if (!pl_may_take(s, q) || st->hosts[h2].dead ||
		    st->hosts[h2].seen == st->stamp)
			continue;
		if (pl_visit(st, &nq, h2, PL_NONE, si, PL_NONE, q)) {
			pl_apply_path(st, h2);
			return true;
		}
	}
	for (qi = 0; qi < nq; qi++) {
		h = &st->hosts[st->queue[qi]];
		for (i = 0; i < h->ninst; i++) {
			t = &st->svcs[h->inst[i].svc];
			p = h->inst[i].pos;
			cross = !t->dead && t->seen != st->stamp;
			if (!cross && t->vid == NULL)
				continue;
			if (cross)
				t->seen = st->stamp;
			for (j = 0; j < t->ne; j++) {
				q = pl_at(st, t, j);
				h2 = pl_host_of(t, q);
				if ((t->placed[q] & PL_ON) ||
				    st->hosts[h2].dead ||
				    st->hosts[h2].seen == st->stamp)
					continue;
				if (t->vid == NULL || t->vid[q] != t->vid[p]) {
					if (!cross || (t->vid != NULL &&
					    t->vcount[t->vid[q]] != 0))
						continue;
				}
				if (pl_visit(st, &nq, h2, st->queue[qi],
				    h->inst[i].svc, p, q)) {
					pl_apply_path(st, h2);
					return true;
				}
			}
		}
	}
	for (qi = 0; qi < nq; qi++)
		st->hosts[st->queue[qi]].dead = true;
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
pl_spread_ids(struct pl_state *st, struct pl_svc *s, uint32_t *vid)
{
	const char *const *spread = s->in->spread;
	uint32_t mask, i, slot, *firstpos;
	uint64_t hv;
	size_t hi, hj;

	for (mask = 1; mask < 2 * s->ne; mask *= 2)
		continue;
	mask--;
	memset(st->vtab, 0xff, (mask + 1) * sizeof(*st->vtab));
	firstpos = st->queue;	/* free until placement starts */
	s->nvalues = 0;
	for (i = 0; i < s->ne; i++) {
		hi = s->in->eligible[i];
		hv = pl_hash_str(spread[hi], PL_SEED_VAL);
		for (slot = (uint32_t)hv & mask;; slot = (slot + 1) & mask) {
			if (st->vtab[slot] == PL_NONE) {
				st->vtab[slot] = s->nvalues;
				st->vhash[slot] = hv;
				firstpos[s->nvalues] = i;
				vid[i] = s->nvalues++;
				break;
			}
			hj = s->in->eligible[firstpos[st->vtab[slot]]];
			if (st->vhash[slot] == hv &&
			    strcmp(spread[hj], spread[hi]) == 0) {
				vid[i] = st->vtab[slot];
				break;
			}
		}
	}
}

/* Checks that need no allocation; the message is the caller's. */
static char *
pl_check(struct pl_state *st, const struct sched_input *in,
    struct pl_svc *s)
{
	const struct sched_service *sv = s->in;
	size_t i, hi;

	if (sv->num_instances < -1)
		return pl_printf("invalid number of instances %d",
		    sv->num_instances);
	if (sv->neligible >= UINT32_MAX / 2)
		return pl_printf("too many eligible hosts");
	st->stamp++;
	for (i = 0; i < sv->neligible; i++) {
		hi = sv->eligible[i];
		if (hi >= in->nhosts)
			return pl_printf("eligible host index %zu out of range",
			    hi);
		if (st->hosts[hi].seen == st->stamp)
			return pl_printf("host '%s' is listed twice as "
			    "eligible", st->hosts[hi].name);
		st->hosts[hi].seen = st->stamp;
		if (st->hosts[hi].dupname)
			return pl_printf("host name '%s' is not unique",
			    st->hosts[hi].name);
		if (sv->spread != NULL && sv->spread[hi] == NULL)
			return pl_printf("host '%s' has no spread value",
			    st->hosts[hi].name);
	}
	s->ne = (uint32_t)sv->neligible;
	s->want = sv->num_instances < 0 ? s->ne :
	    (uint32_t)sv->num_instances;
	s->all = sv->num_instances < 0;
	if (s->want > s->ne) {
		if (s->ne == 0)
			return pl_printf("needs %u instance%s but no eligible "
			    "hosts", s->want, pl_plural(s->want));
		return pl_printf("needs %u instance%s but only %u eligible "
		    "host%s", s->want, pl_plural(s->want), s->ne,
		    pl_plural(s->ne));
	}
	return NULL;
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

static struct pl_named *
pl_sort_names(size_t n, const char *(*name)(const void *, size_t),
    const void *arr)
{
	struct pl_named *v;
	size_t i;

	v = pl_alloc(n, sizeof(*v));
	for (i = 0; i < n; i++) {
		v[i].name = name(arr, i);
		v[i].idx = (uint32_t)i;
	}
	qsort(v, n, sizeof(*v), pl_name_cmp);
	return v;
}

static const char *
pl_host_name(const void *arr, size_t i)
{
	return ((const struct sched_host *)arr)[i].name;
}

static const char *
pl_svc_name(const void *arr, size_t i)
{
	return ((const struct sched_service *)arr)[i].name;
}

/*
 * Hosts and services in name order, hashes, input checks, spread ids,
 * fixed loads and capacities.
 */
static void
pl_setup(struct pl_state *st, const struct sched_input *in)
{
	struct pl_named *names;
	struct pl_svc *s;
	struct pl_host *h;
	uint64_t total = 0, nactive = 0;
	size_t i, j, n, maxne = 0, nflags = 0, nvid = 0;
	uint8_t *flags;
	uint32_t *vids, mask;
	double lf, x, fl, frac, u;

	st->nh = (uint32_t)in->nhosts;
	st->ns = (uint32_t)in->nservices;
	st->hosts = pl_alloc(st->nh, sizeof(*st->hosts));
	st->svcs = pl_alloc(st->ns, sizeof(*st->svcs));
	st->hhash = pl_alloc(st->nh, sizeof(*st->hhash));
	st->hrank = pl_alloc(st->nh, sizeof(*st->hrank));

	names = pl_sort_names(st->nh, pl_host_name, in->hosts);
	for (i = 0; i < st->nh; i++) {
		h = &st->hosts[names[i].idx];
		h->name = names[i].name;
		st->hrank[names[i].idx] = (uint32_t)i;
		st->hhash[names[i].idx] = pl_hash_str(h->name, PL_SEED_HOST);
		if (i > 0 && strcmp(names[i - 1].name, h->name) == 0) {
			h->dupname = true;
			st->hosts[names[i - 1].idx].dupname = true;
		}
	}
	free(names);

	names = pl_sort_names(st->ns, pl_svc_name, in->services);
	for (i = 0; i < st->ns; i++) {
		s = &st->svcs[i];
		s->idx = names[i].idx;
		s->in = &in->services[s->idx];
		s->hash = pl_hash_str(s->in->name, PL_SEED_SVC);
		if (s->in->neligible > maxne)
			maxne = s->in->neligible;
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
		if ((s->error = pl_check(st, in, s)) != NULL)
			continue;
		if (!s->all)
			nflags += s->ne;
		if (s->in->spread != NULL)
			nvid += 2 * (size_t)s->ne;
	}
	/* one block for the flags and one for the spread ids and counts */
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
			pl_spread_ids(st, s, s->vid);
			if (s->want > s->nvalues) {
				s->error = pl_printf("needs %u instance%s "
				    "spread by distinct values but eligible "
				    "hosts have only %u distinct value%s",
				    s->want, pl_plural(s->want), s->nvalues,
				    pl_plural(s->nvalues));
				continue;
			}
		}
		if (!s->all) {
			s->placed = flags;
			flags += s->ne;
		}
		total += s->want;
		for (j = 0; j < s->ne; j++) {
			h = &st->hosts[s->in->eligible[j]];
			if (!h->active)
				nactive++;
			h->active = true;
			if (s->all)
				h->fixed++;
		}
	}

	lf = in->load_factor > 0 ? in->load_factor : PL_LOAD_FACTOR;
	x = nactive > 0 ? lf * (double)total / (double)nactive : 0;
	st->cap = (uint32_t)ceil(x - 1e-9);
	fl = floor(x);
	frac = x - fl;
	frac = frac / PL_RAMP < 1 ? frac / PL_RAMP : 1;
	for (i = 0; i < st->nh; i++) {
		h = &st->hosts[i];
		u = (double)(pl_mix(st->hhash[i] ^ PL_SEED_CAP) >> 11) *
		    (1.0 / 9007199254740992.0);
		h->cap0 = (uint32_t)fl + (u < frac ? 1 : 0);
		if (h->cap0 > st->cap)
			h->cap0 = st->cap;
	}
}

/* ---- results ---- */

static int
pl_rank_cmp(const void *va, const void *vb)
{
	const uint64_t *a = va, *b = vb;

	return (*a > *b) - (*a < *b);
}

/* s's hosts, sorted by name: (rank << 32 | host index) sorts by rank. */
static void
pl_collect(const struct pl_state *st, const struct pl_svc *s,
    struct sched_placement *out)
{
	uint64_t *keys;
	uint32_t i, n = 0, hi;

	if (s->error != NULL) {
		out->error = s->error;
		return;
	}
	keys = pl_alloc(s->want, sizeof(*keys));
	for (i = 0; i < s->ne; i++) {
		if (!s->all && !(s->placed[i] & PL_ON))
			continue;
		hi = pl_host_of(s, i);
		keys[n++] = (uint64_t)st->hrank[hi] << 32 | hi;
	}
	qsort(keys, n, sizeof(*keys), pl_rank_cmp);
	out->hosts = pl_alloc(n, sizeof(*out->hosts));
	for (i = 0; i < n; i++)
		out->hosts[i] = (size_t)(keys[i] & UINT32_MAX);
	out->n = n;
	free(keys);
}

static void
pl_release(struct pl_state *st)
{
	uint32_t i;

	for (i = 0; i < st->nh; i++)
		free(st->hosts[i].inst);
	for (i = 0; i < st->ns; i++)
		free(st->svcs[i].order);
	free(st->hosts);
	free(st->hhash);
	free(st->hrank);
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
	if (in->nhosts >= UINT32_MAX / 2 || in->nservices >= UINT32_MAX / 2) {
		for (i = 0; i < in->nservices; i++)
			res->services[i].error = pl_printf("too many hosts or "
			    "services to place");
		res->nerrors = in->nservices;
		return in->nservices > 0 ? -1 : 0;
	}
	memset(&st, 0, sizeof(st));
	pl_setup(&st, in);

	pl_level0(&st);
	nshort = 0;
	for (i = 0; i < st.ns; i++) {
		s = &st.svcs[i];
		if (s->error == NULL && !s->all && s->nplaced < s->want)
			nshort++;
	}
	for (level = 1; nshort > 0; level++) {
		nshort = 0;
		for (i = 0; i < st.ns; i++) {
			s = &st.svcs[i];
			if (s->error != NULL || s->all ||
			    s->nplaced == s->want)
				continue;
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
