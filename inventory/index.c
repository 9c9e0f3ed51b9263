/*
 * The indexes behind the inventory exports: host name -> host index (an
 * open-addressing hash table, FNV-1a), each host's group set, and a
 * service's placed hosts as sorted unique indexes.
 *
 * Built once per export call and thrown away after it; the repo is only
 * read.  The rule here is to make every later lookup O(1) or a merge of
 * sorted lists, never a scan of another list.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "inv-int.h"
#include "xalloc.h"

static uint64_t
hash_str(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

void
inv_hostmap_init(struct inv_hostmap *m, const struct spec_repo *repo)
{
	size_t cap = 16, i, j;

	while (cap < repo->nhosts * 2)
		cap *= 2;
	m->repo = repo;
	m->mask = cap - 1;
	m->slot = lr_xcalloc(cap, sizeof(*m->slot));
	for (i = 0; i < repo->nhosts; i++) {
		if (repo->hosts[i].name == NULL)
			continue;
		/* duplicate names (reported by the loader): the first wins */
		if (inv_hostmap_find(m, repo->hosts[i].name) != INV_NONE)
			continue;
		j = hash_str(repo->hosts[i].name) & m->mask;
		while (m->slot[j] != 0)
			j = (j + 1) & m->mask;
		m->slot[j] = i + 1;
	}
}

void
inv_hostmap_release(struct inv_hostmap *m)
{
	free(m->slot);
	m->slot = NULL;
	m->mask = 0;
}

size_t
inv_hostmap_find(const struct inv_hostmap *m, const char *name)
{
	size_t j;

	if (name == NULL)
		return INV_NONE;
	j = hash_str(name) & m->mask;
	for (; m->slot[j] != 0; j = (j + 1) & m->mask)
		if (strcmp(m->repo->hosts[m->slot[j] - 1].name, name) == 0)
			return m->slot[j] - 1;
	return INV_NONE;
}

static int
cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

size_t
inv_sort_unique(size_t *v, size_t n)
{
	size_t i, k;
	int sorted = 1;

	/* the scheduler prints sorted lists: skip qsort when they are */
	for (i = 1; i < n && sorted; i++)
		sorted = v[i - 1] <= v[i];
	if (!sorted)
		qsort(v, n, sizeof(*v), cmp_size);
	for (i = 0, k = 0; i < n; i++)
		if (k == 0 || v[k - 1] != v[i])
			v[k++] = v[i];
	return k;
}

size_t
inv_placed_hosts(const struct inv_hostmap *m, const json_t *placement,
    const char *svc, size_t **out)
{
	const json_t *list, *v;
	size_t *idx = NULL, n = 0, i, h;

	*out = NULL;
	if (!json_is_object(placement))
		return 0;
	list = json_object_get(json_object_get(placement, "services"), svc);
	if (!json_is_array(list) || json_array_size(list) == 0)
		return 0;
	idx = lr_xmalloc(json_array_size(list) * sizeof(*idx));
	json_array_foreach(list, i, v) {
		h = inv_hostmap_find(m, json_string_value(v));
		if (h != INV_NONE)
			idx[n++] = h;
	}
	if ((n = inv_sort_unique(idx, n)) == 0) {
		free(idx);
		return 0;
	}
	*out = idx;
	return n;
}

static size_t
group_index(const struct spec_repo *repo, const char *name)
{
	const struct spec_group *g;

	if (name == NULL || strcmp(name, "all") == 0 ||
	    (g = spec_repo_find_group(repo, name)) == NULL)
		return INV_NONE;
	return (size_t)(g - repo->groups);
}

void
inv_groupsets_init(struct inv_groupsets *gs, const struct inv_hostmap *m)
{
	const struct spec_repo *repo = m->repo;
	const struct spec_group *g;
	size_t *cap, i, j, h, gi;

	gs->nhosts = repo->nhosts;
	gs->gids = lr_xcalloc(repo->nhosts + 1, sizeof(*gs->gids));
	gs->n = lr_xcalloc(repo->nhosts + 1, sizeof(*gs->n));
	cap = lr_xcalloc(repo->nhosts + 1, sizeof(*cap));
	for (i = 0; i < repo->nhosts; i++)
		for (j = 0; j < repo->hosts[i].ngroups; j++) {
			gi = group_index(repo, repo->hosts[i].groups[j].name);
			if (gi != INV_NONE)
				*LR_ARRAY_PUSH(gs->gids[i], gs->n[i],
				    cap[i]) = gi;
		}
	for (gi = 0; gi < repo->ngroups; gi++) {
		g = &repo->groups[gi];
		if (g->name == NULL || strcmp(g->name, "all") == 0)
			continue;
		for (j = 0; j < g->nhosts; j++) {
			h = inv_hostmap_find(m, g->hosts[j].name);
			if (h != INV_NONE)
				*LR_ARRAY_PUSH(gs->gids[h], gs->n[h],
				    cap[h]) = gi;
		}
	}
	for (i = 0; i < repo->nhosts; i++)
		gs->n[i] = inv_sort_unique(gs->gids[i], gs->n[i]);
	free(cap);
}

void
inv_groupsets_release(struct inv_groupsets *gs)
{
	size_t i;

	for (i = 0; i < gs->nhosts; i++)
		free(gs->gids[i]);
	free(gs->gids);
	free(gs->n);
	gs->gids = NULL;
	gs->n = NULL;
	gs->nhosts = 0;
}
