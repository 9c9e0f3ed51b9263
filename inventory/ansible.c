/*
 * The Ansible dynamic inventory (what minicluster's inventory.py printed)
 * and group member lists, from the loaded repo and a placement.
 *
 * Which hosts a group or service has, which vars a host ends up with and
 * which flags say where services run are decided here; loading and
 * checking the inventory is specs/' job, placing services the scheduler's.
 * Design rule: index once (inv-int.h), then emit in one pass over the
 * hosts, so the cost follows the size of the output and never
 * hosts x groups x members.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "inv-int.h"
#include "inventory.h"
#include "xalloc.h"

/* "enable_<name>" with every character Ansible refuses in a variable
 * name turned into '_'.  Caller frees. */
static char *
flag_name(const char *svc)
{
	char *s = lr_xasprintf("enable_%s", svc), *p;

	for (p = s + strlen("enable_"); *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '_'))
			*p = '_';
	return s;
}

/* Shallow copy of vars when it is a non-empty object, else NULL. */
static json_t *
vars_copy(const json_t *vars)
{
	if (!json_is_object(vars) || json_object_size(vars) == 0)
		return NULL;
	return json_copy((json_t *)vars);
}

static bool
has_gid(const size_t *v, size_t n, size_t gid)
{
	size_t lo = 0, hi = n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (v[mid] == gid)
			return true;
		if (v[mid] < gid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* ---- per-service state ---- */

struct svc_state {
	char	*flag;		/* owned: enable_<name> */
	bool	 shared;	/* an earlier service has the same flag */
	size_t	*hosts;		/* owned: sorted placed host indexes */
	size_t	 nhosts;
};

/* Per host, the sorted indexes of the services placed on it. */
struct host_svcs {
	size_t	*v;
	size_t	 n, cap;
};

static struct svc_state *
svc_states_new(const struct inv_hostmap *m, const json_t *placement,
    struct host_svcs *hs)
{
	const struct spec_repo *repo = m->repo;
	struct svc_state *st;
	json_t *seen = json_object();
	size_t s, j;

	st = lr_xcalloc(repo->nservices + 1, sizeof(*st));
	for (s = 0; s < repo->nservices; s++) {
		if (repo->services[s].name == NULL)
			continue;
		st[s].flag = flag_name(repo->services[s].name);
		if (json_object_get(seen, st[s].flag) != NULL)
			st[s].shared = true;
		else
			json_object_set_new(seen, st[s].flag, json_true());
		st[s].nhosts = inv_placed_hosts(m, placement,
		    repo->services[s].name, &st[s].hosts);
		/* s grows, hosts are unique: every hs list stays sorted */
		for (j = 0; j < st[s].nhosts; j++)
			*LR_ARRAY_PUSH(hs[st[s].hosts[j]].v,
			    hs[st[s].hosts[j]].n, hs[st[s].hosts[j]].cap) = s;
	}
	json_decref(seen);
	return st;
}

static void
svc_states_free(struct svc_state *st, size_t n)
{
	size_t s;

	for (s = 0; s < n; s++) {
		free(st[s].flag);
		free(st[s].hosts);
	}
	free(st);
}

/* ---- hostvars ---- */

static json_t *
host_vars(const struct spec_repo *repo, size_t h,
    const struct inv_groupsets *gs, const json_t *all_vars,
    const struct svc_state *st, const struct host_svcs *hs)
{
	const struct spec_host *host = &repo->hosts[h];
	json_t *hv = json_object();
	const json_t *gv;
	size_t i, k = 0;
	bool on;

	/* the order of spec_host_vars: all, groups by name, the host */
	if (json_is_object(all_vars))
		json_object_update(hv, (json_t *)all_vars);
	for (i = 0; i < gs->n[h]; i++) {
		gv = repo->groups[gs->gids[h][i]].vars;
		if (json_is_object(gv))
			json_object_update(hv, (json_t *)gv);
	}
	if (json_is_object(host->vars))
		json_object_update(hv, host->vars);
	if (host->address != NULL)
		json_object_set_new(hv, "ansible_host",
		    json_string(host->address));
	for (i = 0; i < repo->nservices; i++) {
		if (st[i].flag == NULL)
			continue;
		on = k < hs[h].n && hs[h].v[k] == i;
		if (on)
			k++;
		/* a shared flag only turns on: true where either runs */
		if (st[i].shared && !on)
			continue;
		json_object_set_new_nocheck(hv, st[i].flag, json_boolean(on));
	}
	return hv;
}

/* ---- the document ---- */

static json_t *
hosts_entry(json_t *hosts, json_t *vars)
{
	json_t *e = json_object();

	json_object_set_new(e, "hosts", hosts);
	if (vars != NULL)
		json_object_set_new(e, "vars", vars);
	return e;
}

/* Replace the hosts of a group's entry by their union with placed[]. */
static void
merge_service(json_t *entry, const struct spec_repo *repo,
    const struct inv_groupsets *gs, size_t gid, const size_t *placed,
    size_t nplaced)
{
	json_t *hosts = json_array();
	size_t h, k = 0;
	bool in;

	for (h = 0; h < repo->nhosts; h++) {
		in = has_gid(gs->gids[h], gs->n[h], gid);
		if (k < nplaced && placed[k] == h) {
			in = true;
			k++;
		}
		if (in && repo->hosts[h].name != NULL)
			json_array_append_new(hosts,
			    json_string(repo->hosts[h].name));
	}
	json_object_set_new(entry, "hosts", hosts);
}

json_t *
inv_ansible(const struct spec_repo *repo, const json_t *placement)
{
	struct inv_hostmap m;
	struct inv_groupsets gs;
	struct svc_state *st;
	struct host_svcs *hs;
	const struct spec_group *all, *g;
	json_t *out, *hostvars, *all_hosts, **ghosts, *hosts, *e;
	const char *name;
	size_t h, i, gid, s;

	inv_hostmap_init(&m, repo);
	inv_groupsets_init(&gs, &m);
	hs = lr_xcalloc(repo->nhosts + 1, sizeof(*hs));
	st = svc_states_new(&m, placement, hs);
	all = spec_repo_find_group(repo, "all");

	out = json_object();
	hostvars = json_object();
	all_hosts = json_array();
	ghosts = lr_xcalloc(repo->ngroups + 1, sizeof(*ghosts));
	for (gid = 0; gid < repo->ngroups; gid++)
		ghosts[gid] = json_array();
	for (h = 0; h < repo->nhosts; h++) {
		if ((name = repo->hosts[h].name) == NULL)
			continue;
		json_object_set_new(hostvars, name, host_vars(repo, h, &gs,
		    all != NULL ? all->vars : NULL, st, hs));
		json_array_append_new(all_hosts, json_string(name));
		/* hosts in sorted order: every member list comes out sorted */
		for (i = 0; i < gs.n[h]; i++)
			json_array_append_new(ghosts[gs.gids[h][i]],
			    json_string(name));
	}
	json_object_set_new(out, "_meta",
	    json_pack("{s:o}", "hostvars", hostvars));
	json_object_set_new(out, "all", hosts_entry(all_hosts,
	    all != NULL ? vars_copy(all->vars) : NULL));

	for (gid = 0; gid < repo->ngroups; gid++) {
		g = &repo->groups[gid];
		if (g->name == NULL || strcmp(g->name, "all") == 0 ||
		    strcmp(g->name, "_meta") == 0 ||
		    json_object_get(out, g->name) != NULL)
			continue;
		json_object_set_new(out, g->name, hosts_entry(ghosts[gid],
		    vars_copy(g->vars)));
		ghosts[gid] = NULL;
	}

	for (s = 0; s < repo->nservices; s++) {
		name = repo->services[s].name;
		if (name == NULL || strcmp(name, "_meta") == 0 ||
		    strcmp(name, "all") == 0)
			continue;	/* 'all' already lists every host */
		if ((e = json_object_get(out, name)) != NULL) {
			g = spec_repo_find_group(repo, name);
			/* else a duplicate service name: the first stays */
			if (g != NULL)
				merge_service(e, repo, &gs,
				    (size_t)(g - repo->groups), st[s].hosts,
				    st[s].nhosts);
			continue;
		}
		hosts = json_array();
		for (i = 0; i < st[s].nhosts; i++)
			json_array_append_new(hosts,
			    json_string(repo->hosts[st[s].hosts[i]].name));
		json_object_set_new(out, name, hosts_entry(hosts, NULL));
	}

	for (gid = 0; gid < repo->ngroups; gid++)
		json_decref(ghosts[gid]);
	free(ghosts);
	for (h = 0; h < repo->nhosts; h++)
		free(hs[h].v);
	free(hs);
	svc_states_free(st, repo->nservices);
	inv_groupsets_release(&gs);
	inv_hostmap_release(&m);
	return out;
}

json_t *
inv_group_hosts(const struct spec_repo *repo, const char *group)
{
	const struct spec_group *g;
	const struct spec_host *hp;
	json_t *out = json_array();
	bool *in;
	size_t h, j;

	if (group == NULL)
		return out;
	in = lr_xcalloc(repo->nhosts + 1, sizeof(*in));
	if (strcmp(group, "all") == 0)
		for (h = 0; h < repo->nhosts; h++)
			in[h] = true;
	if ((g = spec_repo_find_group(repo, group)) != NULL)
		for (j = 0; j < g->nhosts; j++)
			if ((hp = spec_repo_find_host(repo,
			    g->hosts[j].name != NULL ? g->hosts[j].name : ""))
			    != NULL)
				in[hp - repo->hosts] = true;
	for (h = 0; h < repo->nhosts; h++)
		for (j = 0; j < repo->hosts[h].ngroups && !in[h]; j++)
			if (repo->hosts[h].groups[j].name != NULL &&
			    strcmp(repo->hosts[h].groups[j].name, group) == 0)
				in[h] = true;
	for (h = 0; h < repo->nhosts; h++)
		if (in[h] && repo->hosts[h].name != NULL)
			json_array_append_new(out,
			    json_string(repo->hosts[h].name));
	free(in);
	return out;
}
