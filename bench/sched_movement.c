/*
 * sched_movement: how many instances sched_place() moves when one host
 * goes away or one is added, against the optimum, over random inventories
 * (balanced and skewed groups, see random_model); and how long one
 * placement of a large inventory takes, in processor time.
 *
 *	cc -O2 bench/sched_movement.c scheduler/place.c scheduler/place_input.c \
 *	    -Ischeduler -Ilib -lm
 *	./a.out [-n inventories] [-d services per host] [-s seed]
 *	    [-h hosts] [-S services] [-r repetitions]
 *
 * Removal: the optimum moves only the instances of the removed host; the
 * ratio is moved / that, and "extra" is what moved besides, as a share of
 * all instances (the target: at most 5%).  Addition: the optimum moves
 * what brings the new host to its fair share, instances / active hosts;
 * the ratio is moved / that (the target: at most 2).  A move is a
 * (service, host) pair of the new placement that the old one did not have
 * (removal), or an old pair the new placement dropped (addition); "all"
 * services and services that gain or lose an error do not count.
 * Standalone: libc and place.c, place_input.c only.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "scheduler.h"
#include "prng.h"

struct mhost {
	char		 name[32];
	const char	*zone;
	uint32_t	 groups;	/* bit g: member of group g */
};

struct msvc {
	char		 name[32];
	int		 group;		/* -1: every host */
	int		 num;
	bool		 spread;
};

struct model {
	struct mhost	*hosts;
	size_t		 nh;
	struct msvc	*svcs;
	size_t		 ns;
	double		 load_factor;
};

struct built {
	struct sched_host	*hosts;
	struct sched_service	*svcs;
	size_t			**elig;
	const char		**zones;
	struct sched_input	 in;
};

static const char *zone_names[] = { "za", "zb", "zc", "zd", "ze" };

static uint64_t rng_state;

static uint64_t
rng(void)
{
	return lr_splitmix64(&rng_state);
}

static size_t
rnd(size_t n)
{
	return n ? (size_t)(rng() % n) : 0;
}

static void *
xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz);

	if (p == NULL) {
		perror("calloc");
		exit(1);
	}
	return p;
}

static bool
eligible(const struct msvc *s, const struct mhost *h)
{
	return s->group < 0 || (h->groups >> s->group & 1);
}

static void
build(const struct model *m, struct built *b)
{
	size_t i, j, n;

	b->hosts = xcalloc(m->nh, sizeof(*b->hosts));
	b->zones = xcalloc(m->nh, sizeof(*b->zones));
	for (i = 0; i < m->nh; i++) {
		b->hosts[i].name = m->hosts[i].name;
		b->zones[i] = m->hosts[i].zone;
	}
	b->svcs = xcalloc(m->ns, sizeof(*b->svcs));
	b->elig = xcalloc(m->ns, sizeof(*b->elig));
	for (i = 0; i < m->ns; i++) {
		for (j = n = 0; j < m->nh; j++)
			n += eligible(&m->svcs[i], &m->hosts[j]);
		b->elig[i] = xcalloc(n, sizeof(**b->elig));
		for (j = n = 0; j < m->nh; j++)
			if (eligible(&m->svcs[i], &m->hosts[j]))
				b->elig[i][n++] = j;
		b->svcs[i].name = m->svcs[i].name;
		b->svcs[i].eligible = b->elig[i];
		b->svcs[i].neligible = n;
		b->svcs[i].num_instances = m->svcs[i].num;
		b->svcs[i].spread = m->svcs[i].spread ? b->zones : NULL;
	}
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
	free(b->elig);
	free(b->svcs);
	free(b->zones);
	free(b->hosts);
}

/* Place m; services of res are indexed like m's. */
static void
place(const struct model *m, struct sched_result *res)
{
	struct built b;

	build(m, &b);
	sched_place(&b.in, res);
	unbuild(m, &b);
}

static bool
has(const struct sched_result *r, const struct model *m, size_t s,
    const char *host)
{
	const struct sched_placement *p = &r->services[s];
	size_t i;

	for (i = 0; i < p->n; i++)
		if (strcmp(m->hosts[p->hosts[i]].name, host) == 0)
			return true;
	return false;
}

/* Pairs of `a` (placement of model ma) missing from `b` (model mb). */
static size_t
missing(const struct model *ma, const struct sched_result *a,
    const struct model *mb, const struct sched_result *b)
{
	size_t s, i, n = 0;

	for (s = 0; s < ma->ns; s++) {
		if (ma->svcs[s].num < 0 || a->services[s].error != NULL ||
		    b->services[s].error != NULL)
			continue;
		for (i = 0; i < a->services[s].n; i++)
			if (!has(b, mb, s,
			    ma->hosts[a->services[s].hosts[i]].name))
				n++;
	}
	return n;
}

static size_t
total_instances(const struct sched_result *r)
{
	size_t s, n = 0;

	for (s = 0; s < r->nservices; s++)
		n += r->services[s].n;
	return n;
}

static size_t
active_hosts(const struct model *m, const struct sched_result *r)
{
	size_t h, s, n = 0;

	for (h = 0; h < m->nh; h++) {
		for (s = 0; s < m->ns; s++)
			if (r->services[s].error == NULL &&
			    eligible(&m->svcs[s], &m->hosts[h]))
				break;
		n += s < m->ns;
	}
	return n;
}

static void
random_host(struct mhost *h, size_t id, int nzones)
{
	snprintf(h->name, sizeof(h->name), "host-%zu", id);
	h->zone = zone_names[rnd((size_t)nzones)];
	h->groups = 0;
}

/*
 * nh hosts in ngroups groups and ns services: 90% of 1-5 instances in one
 * group, 3% on every host of a group ("all"), 7% of 1-5 instances over
 * every host; a third of those with at most 3 instances spread over 3
 * zones.  Balanced: the groups partition the hosts and a group gets
 * services in proportion to its size.  Skewed: a host is in 1.5 groups on
 * average, overlapping, and services pick groups uniformly, so some groups
 * run hot against the global mean.
 */
static void
random_model(struct model *m, size_t nh, size_t ns, int ngroups,
    bool skewed)
{
	size_t i, r;
	int g;

	m->nh = nh;
	m->ns = ns;
	m->hosts = xcalloc(nh + 1, sizeof(*m->hosts));
	m->svcs = xcalloc(ns, sizeof(*m->svcs));
	m->load_factor = 0;
	for (i = 0; i < nh; i++) {
		random_host(&m->hosts[i], i, 3);
		if (!skewed) {
			m->hosts[i].groups = 1u << rnd((size_t)ngroups);
			continue;
		}
		for (g = 0; g < ngroups; g++)
			if (rnd((size_t)ngroups * 2) < 3)
				m->hosts[i].groups |= 1u << g;
		if (m->hosts[i].groups == 0)
			m->hosts[i].groups = 1u << rnd((size_t)ngroups);
	}
	for (i = 0; i < ns; i++) {
		snprintf(m->svcs[i].name, sizeof(m->svcs[i].name), "svc-%zu",
		    i);
		r = rnd(100);
		if (r < 7)
			m->svcs[i].group = -1;
		else if (skewed)
			m->svcs[i].group = (int)rnd((size_t)ngroups);
		else
			m->svcs[i].group = __builtin_ctz(
			    m->hosts[rnd(nh)].groups);
		m->svcs[i].num = r >= 7 && r < 10 ? -1 : 1 + (int)rnd(5);
		m->svcs[i].spread = rnd(3) == 0 && m->svcs[i].num > 0 &&
		    m->svcs[i].num <= 3;
	}
}

static double
now(void)
{
	struct timespec ts;

	/* processor time: other jobs on the machine do not count */
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
dbl_cmp(const void *va, const void *vb)
{
	const double *a = va, *b = vb;

	return (*a > *b) - (*a < *b);
}

/* groups of 250 hosts, the mix of random_model */
static void
bench_time(size_t nh, size_t ns, size_t reps)
{
	struct model m;
	struct built b;
	struct sched_result r;
	size_t i, inst = 0, nerr = 0;
	int ngroups = nh / 250 > 1 ? (int)(nh / 250) : 1;
	double t0, *t, sum = 0;

	if (ngroups > 32)
		ngroups = 32;
	random_model(&m, nh, ns, ngroups, false);
	for (i = 0; i < nh; i++)
		m.hosts[i].groups = 1u << (i % (size_t)ngroups);
	build(&m, &b);
	t = xcalloc(reps, sizeof(*t));
	for (i = 0; i < reps; i++) {
		t0 = now();
		sched_place(&b.in, &r);
		t[i] = now() - t0;
		sum += t[i];
		inst = total_instances(&r);
		nerr = r.nerrors;
		sched_result_release(&r);
	}
	qsort(t, reps, sizeof(*t), dbl_cmp);
	printf("time: %zu hosts, %zu services, %zu instances, %zu errors: "
	    "%.2f ms median, %.2f ms mean, %.2f ms best of %zu\n", nh, ns,
	    inst, nerr, t[reps / 2] * 1e3, sum / reps * 1e3, t[0] * 1e3,
	    reps);
	free(t);
	unbuild(&m, &b);
	free(m.hosts);
	free(m.svcs);
}

struct stats {
	size_t	 n;
	double	 rmoved, ropt, rworst, rextra, rextra_max;
	size_t	 rover;		/* moved > on + 5% of all */
	double	 amoved, aopt, aworst, anew;
	size_t	 aover;		/* moved > 2 * fair share */
};

static size_t
on_host(const struct model *m, const struct sched_result *r,
    const char *host)
{
	size_t s, n = 0;

	for (s = 0; s < m->ns; s++)
		if (m->svcs[s].num >= 0 && r->services[s].error == NULL &&
		    has(r, m, s, host))
			n++;
	return n;
}

static void
one(struct stats *st, bool skewed, double density)
{
	struct model m, m2;
	struct sched_result r0, r1;
	size_t nh = 100 + rnd(501), victim, on, moved, total;
	double fair, d;

	d = density > 0 ? density : 0.3 + rnd(1201) / 1000.0;
	random_model(&m, nh, (size_t)(nh * d) + 1, 4 + (int)rnd(9), skewed);
	place(&m, &r0);
	total = total_instances(&r0);

	/* removal: drop a random host */
	victim = rnd(m.nh);
	on = on_host(&m, &r0, m.hosts[victim].name);
	m2 = m;
	m2.hosts = xcalloc(m.nh, sizeof(*m2.hosts));
	memcpy(m2.hosts, m.hosts, victim * sizeof(*m.hosts));
	memcpy(m2.hosts + victim, m.hosts + victim + 1,
	    (m.nh - victim - 1) * sizeof(*m.hosts));
	m2.nh--;
	place(&m2, &r1);
	moved = missing(&m2, &r1, &m, &r0);
	st->rmoved += moved;
	st->ropt += on;
	if (on > 0 && (double)moved / on > st->rworst)
		st->rworst = (double)moved / on;
	if (moved > on) {
		st->rextra += (double)(moved - on) / total;
		if ((double)(moved - on) / total > st->rextra_max)
			st->rextra_max = (double)(moved - on) / total;
	}
	if ((double)moved > on + 0.05 * total)
		st->rover++;
	sched_result_release(&r1);
	free(m2.hosts);

	/* addition: one more host, in the groups of a random one */
	random_host(&m.hosts[m.nh], m.nh, 3);
	m.hosts[m.nh].groups = m.hosts[rnd(m.nh)].groups;
	m.nh++;
	place(&m, &r1);
	moved = missing(&m, &r0, &m, &r1);
	fair = (double)total_instances(&r1) / active_hosts(&m, &r1);
	st->amoved += moved;
	st->aopt += fair;
	st->anew += on_host(&m, &r1, m.hosts[m.nh - 1].name);
	if (moved / fair > st->aworst)
		st->aworst = moved / fair;
	if (moved > 2 * fair)
		st->aover++;
	st->n++;
	sched_result_release(&r1);
	sched_result_release(&r0);
	free(m.hosts);
	free(m.svcs);
}

static void
report(const char *name, const struct stats *st)
{
	printf("%s, %zu inventories:\n", name, st->n);
	printf("  removal:  moved/optimum %.2f, worst %.2f; extra moves "
	    "%.2f%% of all instances on average, %.2f%% worst; "
	    "over the bound %zu\n", st->rmoved / st->ropt, st->rworst,
	    100 * st->rextra / st->n, 100 * st->rextra_max, st->rover);
	printf("  addition: moved/fair share %.2f (onto the new host %.2f), "
	    "worst %.2f; over 2x %zu\n", st->amoved / st->aopt,
	    st->anew / st->aopt, st->aworst, st->aover);
}

int
main(int argc, char **argv)
{
	struct stats bal, skew;
	size_t n = 200, bh = 5000, bs = 2000, reps = 30, it;
	double density = 0;
	int ch;

	rng_state = 1;
	while ((ch = getopt(argc, argv, "d:h:n:r:S:s:")) != -1) {
		switch (ch) {
		case 'd':
			density = strtod(optarg, NULL);
			break;
		case 'h':
			bh = strtoul(optarg, NULL, 10);
			break;
		case 'n':
			n = strtoul(optarg, NULL, 10);
			break;
		case 'r':
			reps = strtoul(optarg, NULL, 10);
			break;
		case 'S':
			bs = strtoul(optarg, NULL, 10);
			break;
		case 's':
			rng_state = strtoull(optarg, NULL, 10);
			break;
		default:
			fprintf(stderr, "usage: sched_movement [-n "
			    "inventories] [-d services per host] [-s seed] "
			    "[-h hosts] [-S services] [-r repetitions]\n");
			return 64;
		}
	}
	memset(&bal, 0, sizeof(bal));
	memset(&skew, 0, sizeof(skew));
	for (it = 0; it < n; it++) {
		one(&bal, false, density);
		one(&skew, true, density);
	}
	if (n > 0) {
		report("balanced groups", &bal);
		report("skewed groups", &skew);
	}
	if (reps > 0)
		bench_time(bh, bs, reps);
	return 0;
}
