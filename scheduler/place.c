/*
 * Static placement: which hosts run the instances of each service.
 *
 * Rendezvous (highest random weight) hashing with bounded loads.  Each
 * service ranks its eligible hosts by a 64-bit hash of (service name, host
 * name), its score, and wants the best-ranked ones.  A full host keeps the
 * instances with the highest scores and turns the others away, which try
 * their next hosts (deferred acceptance, as in Gale-Shapley): the result
 * is the stable assignment where no instance would rather be on a host
 * that keeps a lower score.  All is a function of names: services are
 * taken in name order, ties go to the name that sorts first, and the order
 * of the input arrays never matters.  No I/O and nothing but libc; out of
 * memory aborts.
 *
 * Loads and the bound.  "All" services (num_instances -1) take every
 * eligible host; they count toward loads but have no choice.  The mean is
 * the number of instances placed (services without an error, "all" ones
 * included) divided by the number of active hosts, those eligible for at
 * least one such service; hosts that nothing may use do not dilute it.
 * The bound is C = ceil(x), x = load_factor * mean.
 *
 * Levels.  Capacities grow in levels until every instance has a host:
 *   level 0: capacity floor(x) or C (at least 1), the share of hosts at C,
 *	picked by a hash of their names, growing from 0 to 1 while frac(x)
 *	goes from 0 to PL_RAMP.  When the mean crosses an integer and C
 *	steps up, capacities do not jump with it: a small change of the mean
 *	changes a few hosts' capacities, never all of them at once.  Then
 *	augmenting paths (moving instances of other services, as in max
 *	flow) for the services still short;
 *   level 1: C everywhere (when level 0 had less somewhere): deferred
 *	acceptance again, then augmenting paths, so whenever an assignment
 *	within C exists, one is found;
 *   level 2 and up: C + 1, C + 2, ..., deferred acceptance, for what
 *	eligibility and spread force above the bound.
 * Augmenting within the level 0 capacities before C matters: those are
 * continuous in the mean and C is not, and moving instances to fit within
 * C only once C has moved would move many at once.  The flow network is
 * service -> (service, spread value) -> host -> sink; without spread_by
 * every host is its own value.  Paths are searched breadth first; a search
 * that fails marks all it reached as dead, since no later augmentation can
 * open a way out of there, which keeps saturated groups linear.
 *
 * Stability comes from the ranking: a host that goes away frees only its
 * instances, which move to their next-ranked hosts, and a new host takes
 * the instances that rank it high.  Capacity makes moves ripple (a moved
 * instance displaces one with a lower score, a freed slot lets a displaced
 * instance come back), and a changed mean changes a few capacities; in a
 * group whose hosts are all full the ripples are longest.  When C itself
 * changes, balance can require many moves.  bench/sched_movement.c
 * measures all that.
 *
 * Cost: one hash per (service, eligible host), in the pass that checks the
 * input, keeping the best few; a service that has to look further scans
 * its hosts again instead of sorting them.
 */
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "place-int.h"

/* ---- ranking ---- */

static uint32_t
pl_host_of(const struct pl_svc *s, uint32_t pos)
{
	return (uint32_t)s->in->eligible[pos];
}

static uint64_t
pl_score(const struct pl_state *st, const struct pl_svc *s, uint32_t pos)
{
	return pl_mix(s->hash ^ st->hot[pl_host_of(s, pos)].hash);
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
void
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
 * Selection of the best k of n candidates in one pass: a heap of the best
 * so far with the worst on top, which most candidates fail to beat.
 */
struct pl_sel {
	struct pl_cand	*c;
	uint32_t	 n;
	uint32_t	 k;
	bool		 heap;
};

static void
pl_sel_init(struct pl_state *st, struct pl_sel *sel, uint32_t k)
{
	sel->c = st->cand;
	sel->n = 0;
	sel->k = k;
	sel->heap = false;
}

static void
pl_sel_add(const struct pl_state *st, struct pl_sel *sel, uint64_t score,
    uint32_t hi, uint32_t pos)
{
	struct pl_cand x, *c = sel->c;
	uint32_t j;

	if (sel->heap && score < c[0].score)
		return;		/* the common case, cheaply */
	x.score = score;
	x.rank = st->hrank[hi];
	x.pos = pos;
	if (sel->n < sel->k) {
		c[sel->n++] = x;
		return;
	}
	if (!sel->heap) {
		for (j = sel->k / 2; j-- > 0;)
			pl_sift(c, sel->k, j);
		sel->heap = true;
	}
	if (pl_better(&x, &c[0])) {
		c[0] = x;
		pl_sift(c, sel->k, 0);
	}
}

/* The selection, best first, becomes s's ranking so far. */
static void
pl_sel_done(struct pl_sel *sel, struct pl_svc *s)
{
	uint32_t i;

	pl_sort(sel->c, sel->n);
	s->order = pl_realloc(s->order, sel->n, sizeof(*s->order));
	for (i = 0; i < sel->n; i++)
		s->order[i] = sel->c[i].pos;
	s->norder = sel->n;
}

/*
 * Which position of s is better ranked: score, then host name.  For the
 * positions outside the selection made by pl_check.
 */
static bool
pl_pos_better(const struct pl_state *st, uint64_t sa, uint32_t ha,
    uint64_t sb, uint32_t hb)
{
	if (sa != sb)
		return sa > sb;
	return st->hrank[ha] < st->hrank[hb];
}

/* ---- input checks (the pass over eligible hosts that ranks them) ---- */

/* Undo what pl_check counted for the first n eligible hosts of s. */
void
pl_uncount(struct pl_state *st, const struct pl_svc *s, size_t n)
{
	size_t i, hi;

	for (i = 0; i < n; i++) {
		hi = s->in->eligible[i];
		st->hot[hi].users--;
		if (s->in->num_instances < 0)
			st->hload[hi]--;
	}
}

/*
 * What makes s impossible to place, spread values aside, or NULL.  Counts
 * s among the users of its eligible hosts and, for an "all" service, in
 * their loads (pl_uncount takes that back).  In the same pass over the
 * eligible hosts, which is what costs, ranks the best few of them.
 */
char *
pl_check(struct pl_state *st, struct pl_svc *s)
{
	const struct sched_service *sv = s->in;
	struct pl_sel sel;
	uint64_t score;
	size_t i, hi;
	char *err = NULL;

	if (sv->num_instances < -1)
		return pl_printf("invalid number of instances %d",
		    sv->num_instances);
	if (sv->neligible > 0 && sv->eligible == NULL)
		return pl_printf("no list of eligible hosts");
	if (sv->neligible > st->nh)
		return pl_printf("%zu eligible hosts out of %u", sv->neligible,
		    st->nh);
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
	/* enough for most services, even with a few hosts full */
	pl_sel_init(st, &sel, s->want < s->ne / 4 ? 2 * s->want + 4 : s->ne);
	for (i = 0; i < s->ne; i++) {
		hi = sv->eligible[i];
		if (hi >= st->nh) {
			err = pl_printf("eligible host index %zu out of range",
			    hi);
			break;
		}
		if (st->hot[hi].seen == st->stamp) {
			err = pl_printf("host '%s' is listed twice as "
			    "eligible", st->hname[hi]);
			break;
		}
		st->hot[hi].seen = st->stamp;
		if (st->anydup && (st->hflags[hi] & PL_DUPNAME)) {
			err = pl_printf("host name '%s' is not unique",
			    st->hname[hi]);
			break;
		}
		if (sv->spread != NULL && sv->spread[hi] == NULL) {
			err = pl_printf("host '%s' has no spread value",
			    st->hname[hi]);
			break;
		}
		st->hot[hi].users++;
		if (s->all)
			st->hload[hi]++;
		else {
			score = pl_mix(s->hash ^ st->hot[hi].hash);
			if (!sel.heap || score >= sel.c[0].score)
				pl_sel_add(st, &sel, score, (uint32_t)hi,
				    (uint32_t)i);
		}
	}
	if (err != NULL)
		pl_uncount(st, s, i);
	else if (!s->all)
		pl_sel_done(&sel, s);
	return err;
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

/* ---- deferred acceptance ---- */

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

/*
 * Would host hi take instance `me` now, with the capacities of `level`?
 * A host that turns an instance away will turn it away for good at that
 * level: its capacity is fixed and the weakest claim it keeps only grows.
 */
static bool
pl_accepts(struct pl_state *st, const struct pl_inst *me, uint32_t hi,
    uint32_t level)
{
	struct pl_insts *hl = &st->hinst[hi];

	if (pl_has_room(st, hi, level))
		return true;
	if (hl->n == 0)
		return false;	/* full of "all" instances */
	return pl_claim_better(me, &hl->v[pl_weakest(st, hi)]);
}

/*
 * The position s proposes to next, or PL_NONE: its best-ranked host that
 * it has not asked yet and whose spread value it does not use.  Within the
 * ranked prefix that is the next one in order; beyond it, a scan for the
 * best host that would accept, which is where walking down the ranking
 * would stop (the hosts passed on the way are marked as asked).
 */
static uint32_t
pl_next(struct pl_state *st, struct pl_svc *s, uint32_t level)
{
	struct pl_inst me;
	uint32_t i, pos, hi, best = PL_NONE, besthost = 0;
	uint64_t bestscore = 0;

	while (s->next < s->norder && (s->flags[s->order[s->next]] & PL_ASKED))
		s->next++;
	for (i = s->next; i < s->norder; i++) {
		pos = s->order[i];
		if (!(s->flags[pos] & PL_ASKED) && pl_may_take(s, pos))
			return pos;
	}
	if (s->norder == s->ne)
		return PL_NONE;
	me.svc = (uint32_t)(s - st->svcs);
	for (pos = 0; pos < s->ne; pos++) {
		if ((s->flags[pos] & PL_ASKED) || !pl_may_take(s, pos))
			continue;
		hi = pl_host_of(s, pos);
		me.score = pl_score(st, s, pos);
		me.pos = pos;
		if (!pl_accepts(st, &me, hi, level)) {
			s->flags[pos] |= PL_ASKED;
			continue;
		}
		if (best == PL_NONE ||
		    pl_pos_better(st, me.score, hi, bestscore, besthost)) {
			best = pos;
			bestscore = me.score;
			besthost = hi;
		}
	}
	return best;
}

/* s takes part in deferred acceptance at `level`: ask again from the top. */
static void
pl_gs_enter(struct pl_state *st, uint32_t *q, uint32_t head, uint32_t *n,
    struct pl_svc *s, uint32_t level)
{
	uint32_t i;

	if (s->level != level) {
		s->level = level;
		s->next = 0;
		if (level > 0)
			for (i = 0; i < s->ne; i++)
				s->flags[i] &= ~PL_ASKED;
	}
	if (!s->queued) {
		s->queued = true;
		q[(head + (*n)++) % st->ns] = (uint32_t)(s - st->svcs);
	}
}

/*
 * Deferred acceptance with the capacities of `level`: the services still
 * short propose to their hosts best rank first; a full host keeps the
 * instances with the best claims and turns the others away, which go on
 * down their rankings.  An instance that lost its host pushes out only
 * instances with lower scores, so changes stay local.  Returns how many
 * services are still short.
 */
static uint32_t
pl_gs(struct pl_state *st, uint32_t level)
{
	struct pl_svc *s, *t;
	struct pl_insts *hl;
	struct pl_inst me;
	uint32_t *q = st->queue, head = 0, n = 0, i, pos, hi, w, nshort = 0;

	for (i = 0; i < st->ns; i++) {
		s = &st->svcs[i];
		if (s->error == NULL && !s->all && s->nplaced < s->want)
			pl_gs_enter(st, q, head, &n, s, level);
	}
	while (n > 0) {
		s = &st->svcs[q[head]];
		head = (head + 1) % st->ns;
		n--;
		s->queued = false;
		while (s->nplaced < s->want &&
		    (pos = pl_next(st, s, level)) != PL_NONE) {
			s->flags[pos] |= PL_ASKED;
			hi = pl_host_of(s, pos);
			me.score = pl_score(st, s, pos);
			me.svc = (uint32_t)(s - st->svcs);
			me.pos = pos;
			if (!pl_accepts(st, &me, hi, level))
				continue;
			hl = &st->hinst[hi];
			if (!pl_has_room(st, hi, level)) {
				w = pl_weakest(st, hi);
				t = &st->svcs[hl->v[w].svc];
				pl_unplace(st, t, hl->v[w].pos);
				pl_gs_enter(st, q, head, &n, t, level);
			}
			pl_place(st, s, pos);
		}
	}
	for (i = 0; i < st->ns; i++) {
		s = &st->svcs[i];
		if (s->error == NULL && !s->all && s->nplaced < s->want)
			nshort++;
	}
	return nshort;
}

/* ---- augmenting paths ---- */

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
	return !(st->hflags[hi] & PL_DEAD) && st->hot[hi].seen != st->stamp;
}

/* Sort host indices by name. */
static void
pl_sort_hosts32(struct pl_state *st, uint32_t *v, uint32_t n)
{
	struct pl_cand *c = st->cand;
	uint32_t i;

	for (i = 0; i < n; i++) {
		c[i].score = 0;
		c[i].rank = st->hrank[v[i]];
		c[i].pos = v[i];
	}
	pl_sort(c, n);
	for (i = 0; i < n; i++)
		v[i] = c[i].pos;
}

/*
 * One step of a search: service si leaves host `from` and its position
 * frompos there (from PL_NONE: si is the source and gains an instance)
 * for another host, with the same spread value or, when `cross`, with a
 * value it does not use.  The best-ranked host with room completes the
 * path; the full ones join the next layer.  Returns whether a path was
 * completed (and applied).
 */
static bool
pl_expand(struct pl_state *st, uint32_t level, uint32_t *tail,
    uint32_t from, uint32_t si, uint32_t frompos, bool cross)
{
	struct pl_svc *t = &st->svcs[si];
	struct pl_step *step;
	uint32_t q, hi, best = PL_NONE, besthost = 0;
	uint64_t score, bestscore = 0;

	for (q = 0; q < t->ne; q++) {
		hi = pl_host_of(t, q);
		if ((t->flags[q] & PL_ON) || !pl_reachable(st, hi))
			continue;
		if (from == PL_NONE) {
			if (!pl_may_take(t, q))
				continue;
		} else if (t->vid == NULL || t->vid[q] != t->vid[frompos]) {
			/* another value: only through node t, to a free one */
			if (!cross || (t->vid != NULL &&
			    t->vcount[t->vid[q]] != 0))
				continue;
		}
		step = &st->hstep[hi];
		step->from = from;
		step->svc = si;
		step->frompos = frompos;
		step->topos = q;
		if (!pl_has_room(st, hi, level)) {
			st->hot[hi].seen = st->stamp;
			st->queue[(*tail)++] = hi;
			continue;
		}
		score = pl_score(st, t, q);
		if (best == PL_NONE ||
		    pl_pos_better(st, score, hi, bestscore, besthost)) {
			best = q;
			bestscore = score;
			besthost = hi;
		}
	}
	if (best == PL_NONE)
		return false;
	pl_apply_path(st, besthost);
	return true;
}

/*
 * One more instance for s through a shortest augmenting path, breadth
 * first over hosts.  From a full host, a service t with an instance there
 * may move it to a host with the same spread value (the flow goes back
 * through node (t, value)) or, once per search, to any value t does not
 * use (through node t).  Each layer is taken in host name order and each
 * step picks the best-ranked host with room, so the path found depends on
 * names only.  Returns false, marking what it reached as dead, when there
 * is no path.
 */
static bool
pl_augment(struct pl_state *st, struct pl_svc *s, uint32_t level)
{
	struct pl_insts *hl;
	struct pl_svc *t;
	uint32_t head = 0, tail = 0, end, i, hi, nvis = 0;
	bool cross;

	if (st->hstep == NULL) {
		st->hstep = pl_alloc(st->nh, sizeof(*st->hstep));
		st->svis = pl_alloc(st->ns, sizeof(*st->svis));
	}
	st->stamp++;
	s->seen = st->stamp;
	st->svis[nvis++] = (uint32_t)(s - st->svcs);
	if (pl_expand(st, level, &tail, PL_NONE, (uint32_t)(s - st->svcs),
	    PL_NONE, true))
		return true;
	while (head < tail) {
		pl_sort_hosts32(st, st->queue + head, tail - head);
		for (end = tail; head < end; head++) {
			hi = st->queue[head];
			hl = &st->hinst[hi];
			for (i = 0; i < hl->n; i++) {
				t = &st->svcs[hl->v[i].svc];
				cross = !t->dead && t->seen != st->stamp;
				if (!cross && t->vid == NULL)
					continue;
				if (cross) {
					t->seen = st->stamp;
					st->svis[nvis++] = hl->v[i].svc;
				}
				if (pl_expand(st, level, &tail, hi,
				    hl->v[i].svc, hl->v[i].pos, cross))
					return true;
			}
		}
	}
	for (i = 0; i < tail; i++)
		st->hflags[st->queue[i]] |= PL_DEAD;
	for (i = 0; i < nvis; i++)
		st->svcs[st->svis[i]].dead = true;
	return false;
}

/*
 * Augmenting paths within the capacities of `level` for the services
 * still short.  Returns how many services are still short.
 */
static uint32_t
pl_augment_all(struct pl_state *st, uint32_t level)
{
	struct pl_svc *s;
	uint32_t i, nshort = 0;

	/* what a search at another level found dead may not be */
	for (i = 0; i < st->nh; i++)
		st->hflags[i] &= ~PL_DEAD;
	for (i = 0; i < st->ns; i++)
		st->svcs[i].dead = false;
	for (i = 0; i < st->ns; i++) {
		s = &st->svcs[i];
		if (s->error != NULL || s->all)
			continue;
		while (s->nplaced < s->want && pl_augment(st, s, level))
			continue;
		if (s->nplaced < s->want)
			nshort++;
	}
	return nshort;
}


int
sched_place(const struct sched_input *in, struct sched_result *res)
{
	struct pl_state st;
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

	/*
	 * Augmenting paths within the level 0 capacities first: those are
	 * continuous in the mean, C is not, and moving instances to stay
	 * within C only once C has moved would move many at once.  Level 1
	 * without a ramp is level 0 again.
	 */
	if ((nshort = pl_gs(&st, 0)) > 0)
		nshort = pl_augment_all(&st, 0);
	if (nshort > 0 && st.ramped && (nshort = pl_gs(&st, 1)) > 0)
		nshort = pl_augment_all(&st, 1);
	for (level = 2; nshort > 0; level++)
		nshort = pl_gs(&st, level);

	pl_collect(&st, res);
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
