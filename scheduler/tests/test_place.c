/*
 * Tests for sched_place(): hand-written cases, then properties checked
 * over hundreds of random inventories from fixed seeds: validity, errors on
 * exactly the impossible services, independence from input order, the
 * balance bound whenever a max-flow oracle says it is reachable, and the
 * moves caused by removing or adding one host.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "scheduler.h"
#include "prng.h"

/* ---- helpers ---- */

static uint64_t rng_state;

static uint64_t
rng(void)
{
	return lr_splitmix64(&rng_state);
}

static size_t
rnd(size_t n)
{
	return n > 0 ? (size_t)(rng() % n) : 0;
}

static void *
xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz ? sz : 1);

	assert_non_null(p);
	return p;
}

/* The names of p's hosts, space separated, into buf. */
static const char *
names_of(const struct sched_placement *p, const struct sched_host *hosts,
    char *buf, size_t len)
{
	size_t i, off = 0;

	buf[0] = '\0';
	for (i = 0; i < p->n && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s",
		    i > 0 ? " " : "", hosts[p->hosts[i]].name);
	return buf;
}

/* ---- hand-written cases ---- */

static void
test_sched_place__empty(void **state)
{
	struct sched_input in;
	struct sched_result res;

	(void)state;
	memset(&in, 0, sizeof(in));
	assert_int_equal(sched_place(&in, &res), 0);
	assert_int_equal(res.nservices, 0);
	assert_int_equal(res.nerrors, 0);
	sched_result_release(&res);
}

static void
test_sched_result_release__zeroed(void **state)
{
	struct sched_result res;

	(void)state;
	memset(&res, 0, sizeof(res));
	sched_result_release(&res);
	sched_result_release(NULL);
}

static const struct sched_host five[] = {
	{ "e" }, { "c" }, { "a" }, { "d" }, { "b" },
};

static void
test_sched_place__all_takes_every_eligible_host_sorted(void **state)
{
	static const size_t el[] = { 0, 1, 3, 2 };
	struct sched_service svc = { "agent", el, 4, -1, NULL };
	struct sched_input in = { five, 5, &svc, 1, 0 };
	struct sched_result res;
	char buf[64];

	(void)state;
	assert_int_equal(sched_place(&in, &res), 0);
	assert_null(res.services[0].error);
	assert_string_equal(names_of(&res.services[0], five, buf, sizeof(buf)),
	    "a c d e");
	sched_result_release(&res);
}

static void
test_sched_place__zero_instances_and_empty_all(void **state)
{
	static const size_t el[] = { 0, 1 };
	struct sched_service svc[] = {
		{ "none", el, 2, 0, NULL },
		{ "all-of-nothing", NULL, 0, -1, NULL },
	};
	struct sched_input in = { five, 5, svc, 2, 0 };
	struct sched_result res;

	(void)state;
	assert_int_equal(sched_place(&in, &res), 0);
	assert_int_equal(res.nerrors, 0);
	assert_int_equal(res.services[0].n, 0);
	assert_null(res.services[0].error);
	assert_int_equal(res.services[1].n, 0);
	assert_null(res.services[1].error);
	sched_result_release(&res);
}

static void
test_sched_place__impossible_services_get_errors(void **state)
{
	static const size_t two[] = { 3, 1 }, all[] = { 0, 1, 2, 3, 4 };
	static const char *const zone[] = { "z1", "z2", "z1", "z2", "z1" };
	struct sched_service svc[] = {
		{ "web", two, 2, 3, NULL },
		{ "db", all, 5, 2, NULL },
		{ "cache", NULL, 0, 1, NULL },
		{ "spread", all, 5, 3, zone },
		{ "everywhere-spread", all, 5, -1, zone },
		{ "lonely", two, 1, 2, NULL },
	};
	struct sched_input in = { five, 5, svc, 6, 0 };
	struct sched_result res;

	(void)state;
	assert_int_equal(sched_place(&in, &res), -1);
	assert_int_equal(res.nerrors, 5);
	assert_string_equal(res.services[0].error,
	    "needs 3 instances but only 2 eligible hosts");
	assert_int_equal(res.services[0].n, 0);
	assert_null(res.services[1].error);
	assert_int_equal(res.services[1].n, 2);
	assert_string_equal(res.services[2].error,
	    "needs 1 instance but no eligible hosts");
	assert_string_equal(res.services[3].error,
	    "needs 3 instances spread by distinct values but eligible hosts "
	    "have only 2 distinct values");
	assert_string_equal(res.services[4].error,
	    "needs 5 instances spread by distinct values but eligible hosts "
	    "have only 2 distinct values");
	assert_string_equal(res.services[5].error,
	    "needs 2 instances but only 1 eligible host");
	sched_result_release(&res);
}

static void
test_sched_place__bad_input_gets_errors(void **state)
{
	static const size_t out[] = { 0, 7 }, dup[] = { 1, 2, 1 };
	static const size_t ok[] = { 0, 1 };
	static const char *const holes[] = { "z1", NULL, "z2", "z3", "z4" };
	static const struct sched_host twins[] = {
		{ "a" }, { "b" }, { "a" },
	};
	static const size_t twin[] = { 0, 1 }, single[] = { 1 };
	struct sched_service svc[] = {
		{ "out-of-range", out, 2, 1, NULL },
		{ "duplicate", dup, 3, 1, NULL },
		{ "negative", ok, 2, -2, NULL },
		{ "no-spread-value", ok, 2, 1, holes },
	};
	struct sched_service tw[] = {
		{ "twin", twin, 2, 1, NULL },
		{ "single", single, 1, 1, NULL },
	};
	struct sched_input in = { five, 5, svc, 4, 0 };
	struct sched_result res;

	(void)state;
	assert_int_equal(sched_place(&in, &res), -1);
	assert_int_equal(res.nerrors, 4);
	assert_string_equal(res.services[0].error,
	    "eligible host index 7 out of range");
	assert_string_equal(res.services[1].error,
	    "host 'c' is listed twice as eligible");
	assert_string_equal(res.services[2].error,
	    "invalid number of instances -2");
	assert_string_equal(res.services[3].error,
	    "host 'c' has no spread value");
	sched_result_release(&res);

	in.hosts = twins;
	in.nhosts = 3;
	in.services = tw;
	in.nservices = 2;
	assert_int_equal(sched_place(&in, &res), -1);
	assert_int_equal(res.nerrors, 1);
	assert_string_equal(res.services[0].error,
	    "host name 'a' is not unique");
	assert_null(res.services[1].error);
	assert_int_equal(res.services[1].n, 1);
	assert_int_equal(res.services[1].hosts[0], 1);
	sched_result_release(&res);
}

static void
test_sched_place__spread_compares_strings_not_pointers(void **state)
{
	/* equal values in distinct buffers */
	static char v[6][3] = { "z1", "z1", "z2", "z2", "z3", "z3" };
	static const struct sched_host six[] = {
		{ "h0" }, { "h1" }, { "h2" }, { "h3" }, { "h4" }, { "h5" },
	};
	const char *zone[6];
	static const size_t all[] = { 5, 4, 3, 2, 1, 0 };
	struct sched_service svc[2];
	struct sched_input in = { six, 6, svc, 2, 0 };
	struct sched_result res;
	size_t i, k;
	char name[32];

	(void)state;
	for (i = 0; i < 6; i++)
		zone[i] = v[i];
	for (k = 0; k < 50; k++) {
		snprintf(name, sizeof(name), "svc-%zu", k);
		svc[0] = (struct sched_service){ name, all, 6, 3, zone };
		svc[1] = (struct sched_service){ "four", all, 6, 4, zone };
		assert_int_equal(sched_place(&in, &res), -1);
		assert_int_equal(res.services[0].n, 3);
		assert_string_not_equal(zone[res.services[0].hosts[0]],
		    zone[res.services[0].hosts[1]]);
		assert_string_not_equal(zone[res.services[0].hosts[0]],
		    zone[res.services[0].hosts[2]]);
		assert_string_not_equal(zone[res.services[0].hosts[1]],
		    zone[res.services[0].hosts[2]]);
		assert_non_null(res.services[1].error);
		sched_result_release(&res);
	}
}

static void
test_sched_place__augments_to_respect_the_bound(void **state)
{
	/*
	 * Load factor 1, two hosts, two instances: one host each.  Whatever
	 * host `flexible` ranks first, `pinned` can only go to a, so the
	 * flexible one must end up on b.
	 */
	static const struct sched_host ab[] = { { "a" }, { "b" } };
	static const size_t both[] = { 1, 0 }, only_a[] = { 0 };
	struct sched_service svc[2];
	struct sched_input in = { ab, 2, svc, 2, 1.0 };
	struct sched_result res;
	char name[32];
	int k;

	(void)state;
	for (k = 0; k < 40; k++) {
		/* names on both sides of "pinned" in sort order */
		snprintf(name, sizeof(name), "%s-%d", k % 2 ? "a" : "z", k);
		svc[0] = (struct sched_service){ name, both, 2, 1, NULL };
		svc[1] = (struct sched_service){ "pinned", only_a, 1, 1,
		    NULL };
		assert_int_equal(sched_place(&in, &res), 0);
		assert_int_equal(res.services[0].n, 1);
		assert_int_equal(res.services[0].hosts[0], 1);
		assert_int_equal(res.services[1].hosts[0], 0);
		sched_result_release(&res);
	}
}

static void
test_sched_place__over_the_bound_when_forced(void **state)
{
	/* 3 services pinned to one host of 4: the bound (1) cannot hold */
	static const struct sched_host h4[] = {
		{ "a" }, { "b" }, { "c" }, { "d" },
	};
	static const size_t a[] = { 0 }, all[] = { 0, 1, 2, 3 };
	struct sched_service svc[] = {
		{ "p1", a, 1, 1, NULL }, { "p2", a, 1, 1, NULL },
		{ "p3", a, 1, 1, NULL }, { "free", all, 4, 1, NULL },
	};
	struct sched_input in = { h4, 4, svc, 4, 1.0 };
	struct sched_result res;

	(void)state;
	assert_int_equal(sched_place(&in, &res), 0);
	assert_int_equal(res.services[0].hosts[0], 0);
	assert_int_equal(res.services[1].hosts[0], 0);
	assert_int_equal(res.services[2].hosts[0], 0);
	assert_int_not_equal(res.services[3].hosts[0], 0);
	sched_result_release(&res);
}

static void
test_sched_place__default_load_factor_is_1_25(void **state)
{
	static const struct sched_host h4[] = {
		{ "a" }, { "b" }, { "c" }, { "d" },
	};
	static const size_t all[] = { 0, 1, 2, 3 };
	struct sched_service svc[8];
	struct sched_input in = { h4, 4, svc, 8, 0 };
	struct sched_result r0, r1;
	size_t i, load[4] = { 0 };
	char names[8][8];

	(void)state;
	for (i = 0; i < 8; i++) {
		snprintf(names[i], sizeof(names[i]), "s%zu", i);
		svc[i] = (struct sched_service){ names[i], all, 4, 1, NULL };
	}
	assert_int_equal(sched_place(&in, &r0), 0);
	in.load_factor = 1.25;
	assert_int_equal(sched_place(&in, &r1), 0);
	for (i = 0; i < 8; i++) {
		assert_int_equal(r0.services[i].hosts[0],
		    r1.services[i].hosts[0]);
		load[r0.services[i].hosts[0]]++;
	}
	/* mean 2: ceil(1.25 * 2) = 3 */
	for (i = 0; i < 4; i++)
		assert_true(load[i] <= 3);
	sched_result_release(&r0);
	sched_result_release(&r1);
}

static void
test_sched_place__known_answer(void **state)
{
	/*
	 * The hash is over bytes, so this holds on every platform; a change
	 * here changes every deployment's placement.
	 */
	static const struct sched_host h[] = {
		{ "web-1" }, { "web-2" }, { "web-3" }, { "db-1" }, { "db-2" },
		{ "db-3" },
	};
	static const char *const zone[] = { "a", "b", "c", "a", "b", "c" };
	static const size_t web[] = { 0, 1, 2 }, db[] = { 3, 4, 5 };
	static const size_t every[] = { 0, 1, 2, 3, 4, 5 };
	struct sched_service svc[] = {
		{ "nginx", web, 3, 2, NULL },
		{ "postgres", db, 3, 2, zone },
		{ "redis", every, 6, 3, zone },
		{ "node-exporter", every, 6, -1, NULL },
	};
	struct sched_input in = { h, 6, svc, 4, 0 };
	struct sched_result res;
	char buf[128];

	(void)state;
	assert_int_equal(sched_place(&in, &res), 0);
	assert_string_equal(names_of(&res.services[0], h, buf, sizeof(buf)),
	    "web-1 web-3");
	assert_string_equal(names_of(&res.services[1], h, buf, sizeof(buf)),
	    "db-1 db-3");
	assert_string_equal(names_of(&res.services[2], h, buf, sizeof(buf)),
	    "db-1 db-2 web-3");
	assert_string_equal(names_of(&res.services[3], h, buf, sizeof(buf)),
	    "db-1 db-2 db-3 web-1 web-2 web-3");
	sched_result_release(&res);
}

/* ---- random inventories ---- */

struct mhost {
	char		 name[24];
	char		 zone[4];	/* every host its own copy */
	uint32_t	 groups;	/* bit g: member of group g */
};

struct msvc {
	char		 name[24];
	int		 group;		/* -1: every host */
	int		 num;
	bool		 spread;
};

struct model {
	struct mhost	*hosts;		/* room for one more */
	size_t		 nh;
	struct msvc	*svcs;
	size_t		 ns;
	double		 load_factor;
	bool		 shared;	/* one spread array for all services */
};

/* A model turned into input, maybe shuffled; maps back to the model. */
struct built {
	struct sched_input	 in;
	struct sched_host	*hosts;
	struct sched_service	*svcs;
	size_t			**elig;
	const char		***spread;
	size_t			*hmodel;	/* input host -> model host */
	size_t			*smodel;	/* input service -> model one */
};

/* Placement by model indices: on[s * nh + h], err[s]. */
struct norm {
	size_t		 nh;
	size_t		 ns;
	uint8_t		*on;
	bool		*err;
	int		 rc;
	size_t		 nerrors;
};

static bool
eligible(const struct msvc *s, const struct mhost *h)
{
	return s->group < 0 || (h->groups >> s->group & 1);
}

static void
random_host(struct mhost *h, size_t id, int ngroups, int pct, int nzones)
{
	int g;

	snprintf(h->name, sizeof(h->name), "h%zu", id);
	snprintf(h->zone, sizeof(h->zone), "z%d", (int)rnd((size_t)nzones));
	h->groups = 0;
	for (g = 0; g < ngroups; g++)
		if ((int)rnd(100) < pct)
			h->groups |= 1u << g;
}

/*
 * Up to 100 hosts (some in no group, so eligible for nothing), up to 40
 * services: some over every host, some "all", some with too many
 * instances for their group, a third spread over up to 5 zones.
 */
static void
random_model(struct model *m)
{
	int ngroups = 1 + (int)rnd(5), pct = 20 + (int)rnd(60);
	int nzones = 1 + (int)rnd(5);
	size_t i, r;

	m->nh = 1 + rnd(100);
	m->ns = rnd(41);
	m->hosts = xcalloc(m->nh + 1, sizeof(*m->hosts));
	m->svcs = xcalloc(m->ns, sizeof(*m->svcs));
	r = rnd(10);
	m->load_factor = r < 6 ? 0 : r < 7 ? 1.0 : r < 9 ? 1.5 : 2.0;
	m->shared = rnd(2) == 0;
	for (i = 0; i < m->nh; i++)
		random_host(&m->hosts[i], i, ngroups, pct, nzones);
	for (i = 0; i < m->ns; i++) {
		snprintf(m->svcs[i].name, sizeof(m->svcs[i].name), "s%zu", i);
		m->svcs[i].group = rnd(7) == 0 ? -1 : (int)rnd((size_t)ngroups);
		r = rnd(20);
		m->svcs[i].num = r < 2 ? -1 : r < 3 ? 0 : 1 + (int)rnd(6);
		m->svcs[i].spread = rnd(3) == 0;
	}
}

static void
free_model(struct model *m)
{
	free(m->hosts);
	free(m->svcs);
}

static void
shuffle(size_t *v, size_t n)
{
	size_t i, j, t;

	for (i = n; i > 1; i--) {
		j = rnd(i);
		t = v[i - 1];
		v[i - 1] = v[j];
		v[j] = t;
	}
}

static void
build(const struct model *m, struct built *b, bool shuffled)
{
	size_t i, j, n, *inv;
	const char **zones;

	b->hosts = xcalloc(m->nh, sizeof(*b->hosts));
	b->hmodel = xcalloc(m->nh, sizeof(*b->hmodel));
	b->smodel = xcalloc(m->ns, sizeof(*b->smodel));
	for (i = 0; i < m->nh; i++)
		b->hmodel[i] = i;
	for (i = 0; i < m->ns; i++)
		b->smodel[i] = i;
	if (shuffled) {
		shuffle(b->hmodel, m->nh);
		shuffle(b->smodel, m->ns);
	}
	inv = xcalloc(m->nh, sizeof(*inv));
	for (i = 0; i < m->nh; i++) {
		b->hosts[i].name = m->hosts[b->hmodel[i]].name;
		inv[b->hmodel[i]] = i;
	}
	b->svcs = xcalloc(m->ns, sizeof(*b->svcs));
	b->elig = xcalloc(m->ns, sizeof(*b->elig));
	b->spread = xcalloc(m->ns + 1, sizeof(*b->spread));
	zones = xcalloc(m->nh, sizeof(*zones));
	for (i = 0; i < m->nh; i++)
		zones[i] = m->hosts[b->hmodel[i]].zone;
	b->spread[m->ns] = zones;
	for (i = 0; i < m->ns; i++) {
		const struct msvc *ms = &m->svcs[b->smodel[i]];

		b->elig[i] = xcalloc(m->nh, sizeof(**b->elig));
		for (j = n = 0; j < m->nh; j++)
			if (eligible(ms, &m->hosts[j]))
				b->elig[i][n++] = inv[j];
		if (shuffled)
			shuffle(b->elig[i], n);
		b->svcs[i].name = ms->name;
		b->svcs[i].eligible = b->elig[i];
		b->svcs[i].neligible = n;
		b->svcs[i].num_instances = ms->num;
		if (ms->spread && m->shared) {
			b->svcs[i].spread = zones;
		} else if (ms->spread) {
			b->spread[i] = xcalloc(m->nh, sizeof(**b->spread));
			memcpy(b->spread[i], zones, m->nh * sizeof(*zones));
			b->svcs[i].spread = b->spread[i];
		}
	}
	free(inv);
	b->in.hosts = b->hosts;
	b->in.nhosts = m->nh;
	b->in.services = b->svcs;
	b->in.nservices = m->ns;
	b->in.load_factor = m->load_factor;
}

static void
unbuild(const struct model *m, struct built *b)
{
	size_t i;

	for (i = 0; i < m->ns; i++)
		free(b->elig[i]);
	for (i = 0; i <= m->ns; i++)
		free(b->spread[i]);
	free(b->spread);
	free(b->elig);
	free(b->svcs);
	free(b->hosts);
	free(b->hmodel);
	free(b->smodel);
}

/*
 * Place m (shuffled or not) and check what holds for any placement: the
 * result's shape, names sorted, hosts distinct and eligible, distinct
 * spread values, errors on exactly the impossible services.
 */
static void
place(const struct model *m, bool shuffled, struct norm *out)
{
	struct built b;
	struct sched_result res;
	const struct sched_placement *p;
	const struct msvc *ms;
	const struct mhost *h, *h2;
	size_t i, j, k, s, ne, nz;
	bool impossible;
	char zs[8][4];

	build(m, &b, shuffled);
	out->nh = m->nh;
	out->ns = m->ns;
	out->on = xcalloc(m->nh * m->ns, 1);
	out->err = xcalloc(m->ns, sizeof(*out->err));
	out->rc = sched_place(&b.in, &res);
	out->nerrors = res.nerrors;
	assert_int_equal(res.nservices, m->ns);
	assert_int_equal(out->rc, res.nerrors > 0 ? -1 : 0);
	for (i = k = 0; i < m->ns; i++) {
		p = &res.services[i];
		s = b.smodel[i];
		ms = &m->svcs[s];
		/* impossible: too few hosts or too few distinct zones */
		for (j = ne = nz = 0; j < m->nh; j++) {
			if (!eligible(ms, &m->hosts[j]))
				continue;
			ne++;
			for (k = 0; k < nz && k < 8; k++)
				if (strcmp(zs[k], m->hosts[j].zone) == 0)
					break;
			if (k == nz && nz < 8)
				memcpy(zs[nz++], m->hosts[j].zone, 4);
		}
		k = ms->num < 0 ? ne : (size_t)ms->num;
		impossible = k > ne || (ms->spread && k > nz);
		if (impossible != (p->error != NULL))
			fail_msg("service %s, %d instances, %zu eligible, %zu "
			    "zones: error '%s'", ms->name, ms->num, ne, nz,
			    p->error ? p->error : "(none)");
		out->err[s] = impossible;
		if (impossible) {
			assert_int_equal(p->n, 0);
			continue;
		}
		assert_int_equal(p->n, k);
		for (j = 0; j < p->n; j++) {
			assert_true(p->hosts[j] < m->nh);
			h = &m->hosts[b.hmodel[p->hosts[j]]];
			assert_true(eligible(ms, h));
			for (k = 0; k < j; k++) {
				h2 = &m->hosts[b.hmodel[p->hosts[k]]];
				/* sorted by name, hence distinct */
				assert_true(strcmp(h2->name, h->name) < 0);
				if (ms->spread)
					assert_string_not_equal(h2->zone,
					    h->zone);
			}
			out->on[s * m->nh + b.hmodel[p->hosts[j]]] = 1;
		}
	}
	sched_result_release(&res);
	unbuild(m, &b);
}

static void
norm_free(struct norm *n)
{
	free(n->on);
	free(n->err);
}

static bool
same_errors(const struct norm *a, const struct norm *b)
{
	return memcmp(a->err, b->err, a->ns * sizeof(*a->err)) == 0;
}

static size_t
instances(const struct norm *n)
{
	size_t i, t = 0;

	for (i = 0; i < n->nh * n->ns; i++)
		t += n->on[i];
	return t;
}

/* Hosts eligible for a service that could be placed. */
static size_t
active_hosts(const struct model *m, const struct norm *n)
{
	size_t h, s, a = 0;

	for (h = 0; h < m->nh; h++) {
		for (s = 0; s < m->ns; s++)
			if (!n->err[s] && eligible(&m->svcs[s], &m->hosts[h]))
				break;
		a += s < m->ns;
	}
	return a;
}

/* ---- a max-flow oracle for the balance bound (Dinic) ---- */

struct flow {
	size_t	 n, m, cap_m;
	size_t	*head, *next, *to, *level, *it;
	long	*cap;
};

static void
flow_init(struct flow *f, size_t n)
{
	memset(f, 0, sizeof(*f));
	f->n = n;
	f->head = xcalloc(n, sizeof(*f->head));
	f->level = xcalloc(n, sizeof(*f->level));
	f->it = xcalloc(n, sizeof(*f->it));
	memset(f->head, 0xff, n * sizeof(*f->head));
}

static void
flow_edge1(struct flow *f, size_t a, size_t b, long cap)
{
	if (f->m == f->cap_m) {
		f->cap_m = f->cap_m ? 2 * f->cap_m : 64;
		f->next = realloc(f->next, f->cap_m * sizeof(*f->next));
		f->to = realloc(f->to, f->cap_m * sizeof(*f->to));
		f->cap = realloc(f->cap, f->cap_m * sizeof(*f->cap));
		assert_non_null(f->next);
		assert_non_null(f->to);
		assert_non_null(f->cap);
	}
	f->to[f->m] = b;
	f->cap[f->m] = cap;
	f->next[f->m] = f->head[a];
	f->head[a] = f->m++;
}

static void
flow_edge(struct flow *f, size_t a, size_t b, long cap)
{
	flow_edge1(f, a, b, cap);
	flow_edge1(f, b, a, 0);
}

static bool
flow_bfs(struct flow *f, size_t s, size_t t)
{
	size_t *q = xcalloc(f->n, sizeof(*q)), qh = 0, qt = 0, e, v;
	bool ok;

	for (v = 0; v < f->n; v++)
		f->level[v] = SIZE_MAX;
	f->level[s] = 0;
	q[qt++] = s;
	while (qh < qt) {
		v = q[qh++];
		for (e = f->head[v]; e != SIZE_MAX; e = f->next[e]) {
			if (f->cap[e] > 0 && f->level[f->to[e]] == SIZE_MAX) {
				f->level[f->to[e]] = f->level[v] + 1;
				q[qt++] = f->to[e];
			}
		}
	}
	ok = f->level[t] != SIZE_MAX;
	free(q);
	return ok;
}

static long
flow_dfs(struct flow *f, size_t v, size_t t, long pushed)
{
	long d;
	size_t e;

	if (v == t)
		return pushed;
	for (; f->it[v] != SIZE_MAX; f->it[v] = f->next[f->it[v]]) {
		e = f->it[v];
		if (f->cap[e] <= 0 || f->level[f->to[e]] != f->level[v] + 1)
			continue;
		d = flow_dfs(f, f->to[e], t, pushed < f->cap[e] ? pushed :
		    f->cap[e]);
		if (d > 0) {
			f->cap[e] -= d;
			f->cap[e ^ 1] += d;
			return d;
		}
	}
	return 0;
}

static long
flow_max(struct flow *f, size_t s, size_t t)
{
	long total = 0, d;
	size_t v;

	while (flow_bfs(f, s, t)) {
		for (v = 0; v < f->n; v++)
			f->it[v] = f->head[v];
		while ((d = flow_dfs(f, s, t, 1L << 40)) > 0)
			total += d;
	}
	return total;
}

static void
flow_free(struct flow *f)
{
	free(f->head);
	free(f->next);
	free(f->to);
	free(f->cap);
	free(f->level);
	free(f->it);
}

/*
 * The bound C and whether every instance fits within it: services with a
 * choice -> (service, zone) -> hosts -> sink, hosts holding C minus their
 * "all" instances.
 */
static bool
bound_reachable(const struct model *m, const struct norm *n, size_t *cap,
    size_t *fixed)
{
	struct flow f;
	size_t s, h, z, nz = 5, src, sink, want, total = 0, act;
	long need = 0;
	double lf = m->load_factor > 0 ? m->load_factor : 1.25;
	bool ok;

	for (h = 0; h < m->nh; h++)
		fixed[h] = 0;
	for (s = 0; s < m->ns; s++) {
		if (n->err[s])
			continue;
		for (h = 0; h < m->nh; h++) {
			if (!eligible(&m->svcs[s], &m->hosts[h]))
				continue;
			if (m->svcs[s].num < 0)
				fixed[h]++;
		}
	}
	total = instances(n);
	act = active_hosts(m, n);
	*cap = act > 0 ? (size_t)ceil(lf * (double)total / (double)act -
	    1e-9) : 0;
	/* nodes: services, (service, zone), hosts, source, sink */
	src = m->ns + m->ns * nz + m->nh;
	sink = src + 1;
	flow_init(&f, sink + 1);
	for (s = 0; s < m->ns; s++) {
		if (n->err[s] || m->svcs[s].num <= 0)
			continue;
		want = (size_t)m->svcs[s].num;
		need += (long)want;
		flow_edge(&f, src, s, (long)want);
		for (z = 0; z < nz; z++)
			flow_edge(&f, s, m->ns + s * nz + z,
			    m->svcs[s].spread ? 1 : (long)want);
		for (h = 0; h < m->nh; h++) {
			if (!eligible(&m->svcs[s], &m->hosts[h]))
				continue;
			z = (size_t)(m->hosts[h].zone[1] - '0');
			flow_edge(&f, m->ns + s * nz + z,
			    m->ns + m->ns * nz + h, 1);
		}
	}
	for (h = 0; h < m->nh; h++)
		if (*cap > fixed[h])
			flow_edge(&f, m->ns + m->ns * nz + h, sink,
			    (long)(*cap - fixed[h]));
	ok = flow_max(&f, src, sink) == need;
	flow_free(&f);
	return ok;
}

/* ---- properties ---- */

#define NRANDOM	300

static void
test_sched_place__random_valid_and_order_independent(void **state)
{
	struct model m;
	struct norm a, b;
	size_t it, k;

	(void)state;
	rng_state = 1;
	for (it = 0; it < NRANDOM; it++) {
		random_model(&m);
		place(&m, false, &a);
		for (k = 0; k < 2; k++) {
			/* shuffled hosts, services, eligible lists; spread
			 * arrays shared or not */
			m.shared = !m.shared;
			place(&m, true, &b);
			assert_int_equal(a.rc, b.rc);
			assert_int_equal(a.nerrors, b.nerrors);
			assert_true(same_errors(&a, &b));
			if (memcmp(a.on, b.on, m.nh * m.ns) != 0)
				fail_msg("inventory %zu: placement depends on "
				    "input order", it);
			norm_free(&b);
		}
		norm_free(&a);
		free_model(&m);
	}
}

static void
test_sched_place__random_balanced_when_possible(void **state)
{
	struct model m;
	struct norm a;
	size_t it, h, s, cap, *fixed, *load, reachable = 0, over = 0;

	(void)state;
	rng_state = 2;
	for (it = 0; it < NRANDOM; it++) {
		random_model(&m);
		place(&m, false, &a);
		fixed = xcalloc(m.nh, sizeof(*fixed));
		load = xcalloc(m.nh, sizeof(*load));
		for (s = 0; s < m.ns; s++)
			for (h = 0; h < m.nh; h++)
				load[h] += a.on[s * m.nh + h];
		if (bound_reachable(&m, &a, &cap, fixed)) {
			reachable++;
			for (h = 0; h < m.nh; h++)
				if (load[h] > cap && load[h] > fixed[h])
					fail_msg("inventory %zu: host %s "
					    "carries %zu, bound %zu", it,
					    m.hosts[h].name, load[h], cap);
		} else {
			over++;
		}
		free(fixed);
		free(load);
		norm_free(&a);
		free_model(&m);
	}
	print_message("bound reachable in %zu of %d inventories\n",
	    reachable, NRANDOM);
	/* both sides of the oracle were exercised */
	assert_true(reachable > NRANDOM / 2);
	assert_true(over > 0);
}

/*
 * Instances of `a` (placement of model ma) that `b` (of mb) does not have,
 * hosts matched by name; "all" services and services with an error on
 * either side do not count.
 */
static size_t
missing(const struct model *ma, const struct norm *a, const struct model *mb,
    const struct norm *b)
{
	size_t s, h, hb, n = 0;

	for (s = 0; s < ma->ns; s++) {
		if (ma->svcs[s].num < 0 || a->err[s] || b->err[s])
			continue;
		for (h = 0; h < ma->nh; h++) {
			if (!a->on[s * ma->nh + h])
				continue;
			for (hb = 0; hb < mb->nh; hb++)
				if (strcmp(mb->hosts[hb].name,
				    ma->hosts[h].name) == 0)
					break;
			if (hb == mb->nh || !b->on[s * mb->nh + hb])
				n++;
		}
	}
	return n;
}

/* The bound C of a placement, as in place.c's header. */
static size_t
bound(const struct model *m, const struct norm *n)
{
	double lf = m->load_factor > 0 ? m->load_factor : 1.25;
	size_t act = active_hosts(m, n);

	return act > 0 ? (size_t)ceil(lf * (double)instances(n) /
	    (double)act - 1e-9) : 0;
}

/*
 * Removing a host moves its instances and, over the inventories, at most
 * 5% of all instances besides.  One removal alone may move more in a small
 * or tight inventory: the mean changes, so the capacity of a few hosts
 * does, and a group whose hosts are all full passes each change on along
 * a chain of displaced instances.  It never reshuffles the inventory,
 * though (a quarter of it and a host's worth is the guard), unless the
 * bound C itself changes, where balance can require a reshuffle, or a
 * service becomes possible or impossible, a bigger change.
 */
static void
test_sched_place__random_removal_moves_little(void **state)
{
	struct model m, m2;
	struct norm a, b;
	size_t it, victim, on, moved, total, s, cap;
	size_t sum_on = 0, sum_extra = 0, sum_total = 0, over = 0, n = 0;

	(void)state;
	rng_state = 3;
	for (it = 0; it < NRANDOM; it++) {
		random_model(&m);
		if (m.nh < 2) {
			free_model(&m);
			continue;
		}
		place(&m, false, &a);
		victim = rnd(m.nh);
		for (s = on = 0; s < m.ns; s++)
			if (m.svcs[s].num >= 0 && !a.err[s])
				on += a.on[s * m.nh + victim];
		m2 = m;
		m2.hosts = xcalloc(m.nh, sizeof(*m2.hosts));
		memcpy(m2.hosts, m.hosts, victim * sizeof(*m.hosts));
		memcpy(m2.hosts + victim, m.hosts + victim + 1,
		    (m.nh - victim - 1) * sizeof(*m.hosts));
		m2.nh--;
		place(&m2, false, &b);
		moved = missing(&m2, &b, &m, &a);
		total = instances(&a);
		cap = bound(&m, &a);
		if ((double)moved > (double)on + 0.05 * (double)total)
			over++;
		if (cap == bound(&m2, &b) && same_errors(&a, &b) &&
		    (double)moved > (double)(on + cap) + 0.25 * (double)total)
			fail_msg("inventory %zu: removing %s (%zu instances, "
			    "bound %zu) moved %zu of %zu", it,
			    m.hosts[victim].name, on, cap, moved, total);
		sum_on += on;
		sum_extra += moved > on ? moved - on : 0;
		sum_total += total;
		n++;
		norm_free(&a);
		norm_free(&b);
		free(m2.hosts);
		free_model(&m);
	}
	print_message("removal: %zu instances on the removed hosts, %zu "
	    "more moved (%.2f%% of %zu); one removal over 5%% in %zu of "
	    "%zu\n", sum_on, sum_extra, 100.0 * sum_extra / sum_total,
	    sum_total, over, n);
	assert_true((double)sum_extra <= 0.05 * (double)sum_total);
}

/*
 * Adding a host moves at most twice its fair share (instances over active
 * hosts), over the inventories; one addition alone, like one removal,
 * never reshuffles the inventory.
 */
static void
test_sched_place__random_addition_moves_little(void **state)
{
	struct model m, m0;
	struct norm a, b;
	size_t it, moved, cap, sum_moved = 0, n = 0, over = 0;
	double fair, sum_fair = 0;

	(void)state;
	rng_state = 4;
	for (it = 0; it < NRANDOM; it++) {
		random_model(&m);
		place(&m, false, &a);
		m0 = m;
		/* the new host joins the groups of an existing one */
		random_host(&m.hosts[m.nh], 1000, 1, 0, 5);
		m.hosts[m.nh].groups = m.hosts[rnd(m.nh)].groups;
		m.nh++;
		place(&m, false, &b);
		moved = missing(&m0, &a, &m, &b);
		if (active_hosts(&m, &b) == 0) {
			assert_int_equal(moved, 0);
			goto next;
		}
		fair = (double)instances(&b) / (double)active_hosts(&m, &b);
		cap = bound(&m, &b);
		if ((double)moved > 2 * fair)
			over++;
		if (cap == bound(&m0, &a) && same_errors(&a, &b) &&
		    (double)moved > 2 * fair + (double)cap + 0.25 *
		    (double)instances(&a))
			fail_msg("inventory %zu: adding a host moved %zu of "
			    "%zu, fair share %.1f, bound %zu", it, moved,
			    instances(&a), fair, cap);
		sum_moved += moved;
		sum_fair += fair;
		n++;
next:
		norm_free(&a);
		norm_free(&b);
		free_model(&m);
	}
	print_message("addition: %zu moved for %.0f fair shares; one "
	    "addition over twice its fair share in %zu of %zu\n", sum_moved,
	    sum_fair, over, n);
	assert_true((double)sum_moved <= 2 * sum_fair);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sched_place__empty),
		cmocka_unit_test(test_sched_result_release__zeroed),
		cmocka_unit_test(
		    test_sched_place__all_takes_every_eligible_host_sorted),
		cmocka_unit_test(
		    test_sched_place__zero_instances_and_empty_all),
		cmocka_unit_test(
		    test_sched_place__impossible_services_get_errors),
		cmocka_unit_test(test_sched_place__bad_input_gets_errors),
		cmocka_unit_test(
		    test_sched_place__spread_compares_strings_not_pointers),
		cmocka_unit_test(
		    test_sched_place__augments_to_respect_the_bound),
		cmocka_unit_test(test_sched_place__over_the_bound_when_forced),
		cmocka_unit_test(test_sched_place__default_load_factor_is_1_25),
		cmocka_unit_test(test_sched_place__known_answer),
		cmocka_unit_test(
		    test_sched_place__random_valid_and_order_independent),
		cmocka_unit_test(
		    test_sched_place__random_balanced_when_possible),
		cmocka_unit_test(
		    test_sched_place__random_removal_moves_little),
		cmocka_unit_test(
		    test_sched_place__random_addition_moves_little),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
