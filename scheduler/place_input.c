/*
 * Placement, the part around the algorithm (place-int.h): memory, the
 * checks of the input (every error names the service and what is wrong
 * with it), the setup of the state in name order, and the results.
 */
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "place-int.h"

/* ---- memory ---- */

char *
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

/* ---- input checks ---- */

/* Distinct strings, numbered from 0: open addressing on their hashes. */
static void
pl_vals_init(struct pl_vals *v, uint32_t max)
{
	for (v->mask = 1; v->mask < 2 * max; v->mask *= 2)
		continue;
	v->slot = pl_alloc(v->mask, sizeof(*v->slot));
	v->hash = pl_alloc(v->mask, sizeof(*v->hash));
	v->str = pl_alloc(max, sizeof(*v->str));
	v->mask--;
	v->n = 0;
	memset(v->slot, 0xff, (v->mask + 1) * sizeof(*v->slot));
}

/* Forget the strings; the next ones will be at most max. */
static void
pl_vals_reset(struct pl_vals *v, uint32_t max)
{
	for (v->mask = 1; v->mask < 2 * max; v->mask *= 2)
		continue;
	v->mask--;
	v->n = 0;
	memset(v->slot, 0xff, (v->mask + 1) * sizeof(*v->slot));
}

static void
pl_vals_free(struct pl_vals *v)
{
	free(v->slot);
	free(v->hash);
	free(v->str);
}

static uint32_t
pl_vals_id(struct pl_vals *v, const char *str)
{
	uint64_t h = pl_hash_str(str, PL_SEED_VAL);
	uint32_t i;

	for (i = (uint32_t)h & v->mask;; i = (i + 1) & v->mask) {
		if (v->slot[i] == PL_NONE) {
			v->slot[i] = v->n;
			v->hash[i] = h;
			v->str[v->n] = str;
			return v->n++;
		}
		if (v->hash[i] == h && (v->str[v->slot[i]] == str ||
		    strcmp(v->str[v->slot[i]], str) == 0))
			return v->slot[i];
	}
}

/*
 * The values of a spread array that several services share (the same
 * pointer): each host's string is hashed once, not once per service.
 */
static struct pl_spread *
pl_spread_find(struct pl_state *st, const char *const *arr)
{
	struct pl_spread *sp;
	uint32_t i;

	for (i = 0; i < st->nspreads; i++)
		if (st->spreads[i].arr == arr)
			return &st->spreads[i];
	if (st->nspreads == PL_SPREADS)
		return NULL;
	sp = &st->spreads[st->nspreads++];
	sp->arr = arr;
	pl_vals_init(&sp->vals, st->nh);
	sp->gid = pl_alloc(st->nh, sizeof(*sp->gid));
	memset(sp->gid, 0xff, st->nh * sizeof(*sp->gid));
	sp->lid = pl_alloc(st->nh, sizeof(*sp->lid));
	sp->lstamp = pl_alloc(st->nh, sizeof(*sp->lstamp));
	return sp;
}

/* Give s its spread value ids, 0 to nvalues - 1 (equal strings, equal ids). */
static void
pl_spread_ids(struct pl_state *st, struct pl_svc *s)
{
	const char *const *spread = s->in->spread;
	struct pl_spread *sp;
	uint32_t i, g;
	size_t hi;

	s->nvalues = 0;
	if ((sp = pl_spread_find(st, spread)) == NULL) {
		/* too many different arrays: a table for this service */
		pl_vals_reset(&st->svals, s->ne);
		for (i = 0; i < s->ne; i++)
			s->vid[i] = pl_vals_id(&st->svals,
			    spread[s->in->eligible[i]]);
		s->nvalues = st->svals.n;
		return;
	}
	st->stamp++;
	for (i = 0; i < s->ne; i++) {
		hi = s->in->eligible[i];
		if ((g = sp->gid[hi]) == PL_NONE)
			g = sp->gid[hi] = pl_vals_id(&sp->vals, spread[hi]);
		if (sp->lstamp[g] != st->stamp) {
			sp->lstamp[g] = st->stamp;
			sp->lid[g] = s->nvalues++;
		}
		s->vid[i] = sp->lid[g];
	}
}

/* ---- setup ---- */

struct pl_named {
	uint64_t	 key;		/* the first 8 bytes, big-endian */
	const char	*name;
	uint32_t	 idx;
};

static int
pl_name_cmp(const struct pl_named *a, const struct pl_named *b)
{
	if (a->key != b->key)
		return a->key < b->key ? -1 : 1;
	if ((a->key & 0xff) == 0)
		return 0;	/* both ended within the key */
	return strcmp(a->name + 8, b->name + 8);
}

static void
pl_named_init(struct pl_named *v, const char *name, uint32_t idx)
{
	int i;

	v->key = 0;
	v->name = name;
	v->idx = idx;
	for (i = 0; i < 8; i++) {
		v->key <<= 8;
		if (*name != '\0')
			v->key |= (unsigned char)*name++;
	}
}

static int
pl_name_qcmp(const void *a, const void *b)
{
	return pl_name_cmp(a, b);
}

/*
 * Sort names as strcmp would, comparing 8 bytes at a time first (most
 * names differ there).  Once per placement: libc's qsort is plenty.
 */
static void
pl_sort_names(struct pl_named *v, uint32_t n)
{
	if (n > 1)
		qsort(v, n, sizeof(*v), pl_name_qcmp);
}

static void
pl_setup_hosts(struct pl_state *st, const struct sched_input *in)
{
	struct pl_named *names;
	uint32_t i;

	st->nh = (uint32_t)in->nhosts;
	st->hname = pl_alloc(st->nh, sizeof(*st->hname));
	st->hot = pl_alloc(st->nh, sizeof(*st->hot));
	st->hrank = pl_alloc(st->nh, sizeof(*st->hrank));
	st->hload = pl_alloc(st->nh, sizeof(*st->hload));
	st->hcap0 = pl_alloc(st->nh, sizeof(*st->hcap0));
	st->hflags = pl_alloc(st->nh, sizeof(*st->hflags));
	st->hinst = pl_alloc(st->nh, sizeof(*st->hinst));

	names = pl_alloc(st->nh, sizeof(*names));
	for (i = 0; i < st->nh; i++)
		pl_named_init(&names[i], in->hosts[i].name, i);
	pl_sort_names(names, st->nh);
	for (i = 0; i < st->nh; i++) {
		st->hname[names[i].idx] = names[i].name;
		st->hrank[names[i].idx] = i;
		st->hot[names[i].idx].hash = pl_hash_str(names[i].name,
		    PL_SEED_HOST);
		st->hinst[i].weak = PL_NONE;
		if (i > 0 && pl_name_cmp(&names[i - 1], &names[i]) == 0) {
			st->anydup = true;
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
void
pl_setup(struct pl_state *st, const struct sched_input *in)
{
	struct pl_named *names;
	struct pl_svc *s;
	uint64_t total = 0, nactive = 0;
	size_t i, maxne = 0, nflags = 0, nvid = 0;
	uint8_t *flags;
	uint32_t *vids, hi;
	double lf, x, fl, frac, u;

	pl_setup_hosts(st, in);
	st->ns = (uint32_t)in->nservices;
	st->svcs = pl_alloc(st->ns, sizeof(*st->svcs));
	names = pl_alloc(st->ns, sizeof(*names));
	for (i = 0; i < st->ns; i++) {
		pl_named_init(&names[i], in->services[i].name, (uint32_t)i);
		if (in->services[i].neligible > maxne)
			maxne = in->services[i].neligible;
	}
	pl_sort_names(names, st->ns);
	for (i = 0; i < st->ns; i++) {
		s = &st->svcs[i];
		s->idx = names[i].idx;
		s->in = &in->services[s->idx];
		s->hash = pl_hash_str(s->in->name, PL_SEED_SVC);
	}
	free(names);

	pl_vals_init(&st->svals, (uint32_t)maxne);
	/* candidates of a service, or hosts of a search layer */
	st->cand = pl_alloc(maxne > st->nh ? maxne : st->nh,
	    sizeof(*st->cand));
	/* hosts to search or services to place */
	st->queue = pl_alloc(st->nh > st->ns ? st->nh : st->ns,
	    sizeof(*st->queue));

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
		if (st->hot[hi].users > 0) {
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
		u = (double)(pl_mix(st->hot[i].hash ^ PL_SEED_CAP) >> 11) *
		    (1.0 / 9007199254740992.0);
		st->hcap0[i] = (uint32_t)fl + (u < frac ? 1 : 0);
		if (st->hcap0[i] > st->cap)
			st->hcap0[i] = st->cap;
		/* below a mean of 1, C is 1 whatever x: nothing to smooth */
		if (st->hcap0[i] == 0 && st->cap > 0)
			st->hcap0[i] = 1;
		if (st->hcap0[i] < st->cap && (st->hflags[i] & PL_ACTIVE))
			st->ramped = true;
	}
}

/* ---- results ---- */

/* Sort host indices by name. */
static void
pl_sort_hosts(struct pl_state *st, size_t *v, uint32_t n)
{
	struct pl_cand *c = st->cand;
	uint32_t i, j;
	size_t x;

	if (n <= 16) {
		for (i = 1; i < n; i++) {
			x = v[i];
			for (j = i; j > 0 && st->hrank[v[j - 1]] > st->hrank[x];
			    j--)
				v[j] = v[j - 1];
			v[j] = x;
		}
		return;
	}
	for (i = 0; i < n; i++) {
		c[i].score = 0;
		c[i].rank = st->hrank[v[i]];
		c[i].pos = (uint32_t)v[i];
	}
	pl_sort(c, n);
	for (i = 0; i < n; i++)
		v[i] = c[i].pos;
}

/*
 * Fill res like the input: hosts from the hosts' lists of instances, not
 * from the services' eligible arrays, which are much longer.
 */
void
pl_collect(struct pl_state *st, struct sched_result *res)
{
	struct sched_placement *out;
	struct pl_insts *hl;
	struct pl_svc *s;
	uint32_t i, j;

	for (i = 0; i < st->ns; i++) {
		s = &st->svcs[i];
		out = &res->services[s->idx];
		if (s->error != NULL) {
			out->error = s->error;
			res->nerrors++;
			continue;
		}
		out->hosts = pl_alloc(s->want, sizeof(*out->hosts));
		if (s->all && s->ne > 0) {
			memcpy(out->hosts, s->in->eligible,
			    s->ne * sizeof(*out->hosts));
			out->n = s->ne;
		}
	}
	for (i = 0; i < st->nh; i++) {
		hl = &st->hinst[i];
		for (j = 0; j < hl->n; j++) {
			out = &res->services[st->svcs[hl->v[j].svc].idx];
			out->hosts[out->n++] = i;
		}
	}
	for (i = 0; i < res->nservices; i++)
		pl_sort_hosts(st, res->services[i].hosts,
		    (uint32_t)res->services[i].n);
}

void
pl_release(struct pl_state *st)
{
	uint32_t i;

	for (i = 0; i < st->nh; i++)
		free(st->hinst[i].v);
	for (i = 0; i < st->ns; i++)
		free(st->svcs[i].order);
	free(st->hname);
	free(st->hot);
	free(st->hrank);
	free(st->hload);
	free(st->hcap0);
	free(st->hflags);
	free(st->hinst);
	free(st->hstep);
	free(st->svis);
	free(st->svcs);
	free(st->cand);
	free(st->queue);
	pl_vals_free(&st->svals);
	for (i = 0; i < st->nspreads; i++) {
		pl_vals_free(&st->spreads[i].vals);
		free(st->spreads[i].gid);
		free(st->spreads[i].lid);
		free(st->spreads[i].lstamp);
	}
	free(st->flagblk);
	free(st->vidblk);
}
