/*
 * sched_movement: how many instances sched_place() moves when one host
 * goes away or one is added, against the optimum, over random inventories;
 * and how long one placement of a large inventory takes.
 *
 *	cc -O2 bench/sched_movement.c scheduler/place.c -Ischeduler -lm
 *	./a.out [-n inventories] [-s seed] [-h hosts] [-S services]
 *
 * Removal: the optimum moves only the instances of the removed host; the
 * ratio is moved / that.  Addition: the optimum moves what brings the new
 * host to its fair share, floor(instances / active hosts); the ratio is
 * moved / that.  A move is a (service, host) pair of the new placement that
 * the old one did not have (removal), or an old pair the new placement
 * dropped (addition); "all" services and services that gain or lose an
 * error do not count.  Standalone: libc and place.c only.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sched.h"

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

extern double pl_debug_x, pl_debug_force_x; extern size_t pl_debug_lv[5], pl_debug_full, pl_debug_inst, pl_debug_disp;
static const char *zone_names[] = { "za", "zb", "zc", "zd", "ze" };

static uint64_t rng_state;

static uint64_t
rng(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
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
		b->elig[i] = xcalloc(m->nh, sizeof(**b->elig));
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

/* Place m; placement of service i as a 0/1 matrix over host names. */
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
			if (!has(b, mb, s, ma->hosts[a->services[s].hosts[i]].name))
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
random_host(struct mhost *h, size_t id, int ngroups, double pgroup,
    int nzones)
{
	int g;

	snprintf(h->name, sizeof(h->name), "host-%zu", id);
	h->zone = zone_names[rnd((size_t)nzones)];
	h->groups = 0;
	for (g = 0; g < ngroups; g++)
		if ((double)rnd(1000) < pgroup * 1000)
			h->groups |= 1u << g;
	if (h->groups == 0)
		h->groups = 1u << rnd((size_t)ngroups);
}

/*
 * A mid-sized inventory: 100-600 hosts in 4-12 overlapping groups, 50-400
 * services of 1-5 instances (a few "all", a few over every host, a third
 * spread over zones).
 */
static void
random_model(struct model *m, size_t nh, size_t ns, int ngroups)
{
	double pgroup = 1.5 / ngroups;
	size_t i, r;

	m->nh = nh;
	m->ns = ns;
	m->hosts = xcalloc(nh + 1, sizeof(*m->hosts));
	m->svcs = xcalloc(ns, sizeof(*m->svcs));
	m->load_factor = getenv("LF") ? atof(getenv("LF")) : 0;
	for (i = 0; i < nh; i++)
		random_host(&m->hosts[i], i, ngroups, pgroup, 3);
	for (i = 0; i < ns; i++) {
		snprintf(m->svcs[i].name, sizeof(m->svcs[i].name), "svc-%zu",
		    i);
		r = rnd(100);
		m->svcs[i].group = r < 5 ? -1 : (int)rnd((size_t)ngroups);
		m->svcs[i].num = r >= 5 && r < 8 ? -1 : 1 + (int)rnd(5);
		m->svcs[i].spread = rnd(3) == 0 && m->svcs[i].num <= 3;
	}
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
bench_time(size_t nh, size_t ns)
{
	struct model m;
	struct built b;
	struct sched_result r;
	size_t i, reps = 20, inst;
	double t0, best = 1e9, sum = 0, t;

	/* groups of ~250 hosts; 2% "all" in a group, 5% over every host */
	random_model(&m, nh, ns, (int)(nh / 250 > 1 ? nh / 250 : 1));
	for (i = 0; i < nh; i++)
		m.hosts[i].groups = 1u << (i % (nh / 250 > 1 ? nh / 250 : 1));
	build(&m, &b);
	for (i = 0; i < reps; i++) {
		t0 = now();
		sched_place(&b.in, &r);
		t = now() - t0;
		sum += t;
		if (t < best)
			best = t;
		inst = total_instances(&r);
		sched_result_release(&r);
	}
	printf("timing: %zu hosts, %zu services, %zu instances: "
	    "%.2f ms mean, %.2f ms best of %zu\n", nh, ns, inst,
	    sum / reps * 1e3, best * 1e3, reps);
	unbuild(&m, &b);
	free(m.hosts);
	free(m.svcs);
}

int
main(int argc, char **argv)
{
	struct model m, m2;
	struct sched_result r0, r1;
	size_t n = 200, bh = 5000, bs = 2000, it, victim, on, moved, i, fair;
	size_t rmoved = 0, ropt = 0, amoved = 0, aopt = 0, tot = 0;
	size_t rextra_max = 0, rextra_tot_at_max = 1;
	double rmax = 0, amax = 0, ratio;
	int ch; size_t onnew = 0;

	rng_state = 1;
	while ((ch = getopt(argc, argv, "n:s:h:S:")) != -1) {
		switch (ch) {
		case 'n':
			n = strtoul(optarg, NULL, 10);
			break;
		case 's':
			rng_state = strtoull(optarg, NULL, 10);
			break;
		case 'h':
			bh = strtoul(optarg, NULL, 10);
			break;
		case 'S':
			bs = strtoul(optarg, NULL, 10);
			break;
		default:
			fprintf(stderr, "usage: sched_movement [-n inventories] "
			    "[-s seed] [-h hosts] [-S services]\n");
			return 64;
		}
	}

	for (it = 0; it < n; it++) {
		random_model(&m, 100 + rnd(500), 50 + rnd(350),
		    4 + (int)rnd(9));
		pl_debug_force_x = 0;
		place(&m, &r0);
		if (getenv("FIXX")) pl_debug_force_x = pl_debug_x;
		tot += total_instances(&r0);

		/* removal: drop a random host */
		victim = rnd(m.nh);
		on = 0;
		for (i = 0; i < m.ns; i++)
			if (m.svcs[i].num >= 0 && r0.services[i].error == NULL &&
			    has(&r0, &m, i, m.hosts[victim].name))
				on++;
		m2 = m;
		m2.hosts = xcalloc(m.nh, sizeof(*m2.hosts));
		memcpy(m2.hosts, m.hosts, victim * sizeof(*m.hosts));
		memcpy(m2.hosts + victim, m.hosts + victim + 1,
		    (m.nh - victim - 1) * sizeof(*m.hosts));
		m2.nh--;
		place(&m2, &r1);
		moved = missing(&m2, &r1, &m, &r0);
		rmoved += moved;
		ropt += on;
		if (on > 0 && (ratio = (double)moved / on) > rmax)
			rmax = ratio;
		if (moved > on && moved - on > rextra_max) {
			rextra_max = moved - on;
			rextra_tot_at_max = total_instances(&r0);
		}
		sched_result_release(&r1);
		free(m2.hosts);

		/* addition: one more host */
		random_host(&m.hosts[m.nh], m.nh, 12, 1.5 / 12, 3);
		m.hosts[m.nh].groups = m.hosts[rnd(m.nh)].groups;
		m.nh++;
		place(&m, &r1);
		moved = missing(&m, &r0, &m, &r1);
		for (i = 0; i < m.ns; i++) if (m.svcs[i].num >= 0 && r1.services[i].error == NULL && has(&r1, &m, i, m.hosts[m.nh-1].name)) onnew++;
		fair = total_instances(&r1) / active_hosts(&m, &r1);
		amoved += moved;
		aopt += fair;
		if (fair > 0 && (ratio = (double)moved / fair) > amax)
			amax = ratio;
		if (getenv("DIAG") && fair > 0 && (double)moved / fair > 4) {
			size_t e0 = 0, e1 = 0;
			for (i = 0; i < m.ns; i++) { e0 += r0.services[i].error != NULL; e1 += r1.services[i].error != NULL; }
			printf("it %zu nh %zu tot %zu fair %zu moved %zu x %.3f err %zu->%zu groups %x\n", it, m.nh, total_instances(&r1), fair, moved, pl_debug_x, e0, e1, m.hosts[m.nh-1].groups);
		}
		sched_result_release(&r1);
		sched_result_release(&r0);
		free(m.hosts);
		free(m.svcs);
	}
	printf("%zu inventories, %.0f instances on average\n", n,
	    (double)tot / n);
	printf("removal:  moved/optimum %.3f overall, worst %.2f; "
	    "worst extra %zu of %zu instances (%.2f%%)\n",
	    ropt ? (double)rmoved / ropt : 0, rmax, rextra_max,
	    rextra_tot_at_max, 100.0 * rextra_max / rextra_tot_at_max);
	printf("addition: moved/fair share %.3f overall, worst %.2f\n",
	    aopt ? (double)amoved / aopt : 0, amax);
	printf("addition: to new host %.3f of fair\n", (double)onnew/aopt);
	printf("full hosts %.3f displaced %.3f\n", (double)pl_debug_full/pl_debug_lv[0], (double)pl_debug_disp/pl_debug_inst);
	printf("levels: 1 %zu 2 %zu 3+ %zu aug %zu\n", pl_debug_lv[1], pl_debug_lv[2], pl_debug_lv[3], pl_debug_lv[4]);
	bench_time(bh, bs);
	return 0;
}
