/*
 * spec_check_services: the cross-references among hosts, groups, services,
 * roles and systems, once every file is loaded and every list sorted, and
 * the cycles of depends_on and of systems (each reported once, spelled
 * out).  Also completes the model: the implicit group 'all' and the
 * default roles of services.
 *
 * An unknown name gets a did-you-mean over the right candidates, and says
 * where such names come from.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "spec-int.h"
#include "suggest.h"
#include "xalloc.h"

/* Names of the model's objects: every struct has a 'name' member. */
#define NAMES(v, arr, n) do {						\
	size_t i_;							\
	(v) = lr_xmalloc(((n) ? (n) : 1) * sizeof(*(v)));		\
	for (i_ = 0; i_ < (n); i_++)					\
		(v)[i_] = (arr)[i_].name;				\
} while (0)

/* ---- cross-references ---- */

struct refkind {
	const char *kind;	/* "group" */
	const char *origin;	/* after "did you mean 'x'?" */
	const char *fix;	/* without a suggestion; %s is the name */
};

static const struct refkind rk_host = {
	"host", "hosts are defined under 'hosts:' in inventory/*.yml",
	"define host '%s' under 'hosts:' in inventory/*.yml"
};
static const struct refkind rk_group = {
	"group", "groups come from inventory/*.yml",
	"define group '%s' under 'groups:' in inventory/*.yml, or list it "
	"in a host's 'groups:'"
};
static const struct refkind rk_service = {
	"service", "services are the top-level keys of services.yml",
	"define service '%s' in services.yml"
};
static const struct refkind rk_role = {
	"role", "roles are the directories under roles/",
	"create roles/%s/role.yml"
};
static const struct refkind rk_system = {
	"system", "systems are the top-level keys of systems.yml",
	"define system '%s' in systems.yml"
};

static void
unknown_ref(struct spec_diags *d, const struct spec_ref *r,
    const struct refkind *rk, const char *where, const char *const *cands,
    size_t ncands)
{
	struct spec_diag *dg;
	const char *s;

	dg = spec_diag_at(d, r->node, "unknown %s '%s' in %s", rk->kind,
	    r->name, where);
	if ((s = lr_suggest(r->name, cands, ncands)) != NULL)
		spec_diag_hint(dg, "did you mean '%s'? %s", s, rk->origin);
	else
		spec_diag_hint(dg, rk->fix, r->name);
}

static int
cmp_group(const void *a, const void *b)
{
	return strcmp(((const struct spec_group *)a)->name,
	    ((const struct spec_group *)b)->name);
}

/* Every host is in 'all': add it unless the inventory defined it. */
static void
ensure_all(struct spec_repo *repo)
{
	struct spec_group *g;

	if (spec_repo_find_group(repo, "all") != NULL)
		return;
	g = SPEC_PUSH(repo->groups, repo->ngroups);
	g->name = lr_xstrdup("all");
	qsort(repo->groups, repo->ngroups, sizeof(*repo->groups), cmp_group);
}

static void
check_groups(struct spec_repo *repo, struct spec_diags *d)
{
	const char **hosts;
	char *where;
	size_t i, j;

	NAMES(hosts, repo->hosts, repo->nhosts);
	for (i = 0; i < repo->ngroups; i++) {
		struct spec_group *g = &repo->groups[i];
		const struct spec_host *h;

		/*
		 * One name for a host and a group: 'web1' in a group's hosts,
		 * the Ansible export or a reader could mean either.
		 */
		if ((h = spec_repo_find_host(repo, g->name)) != NULL)
			spec_diag_hint(spec_diag_at(d, g->node ? g->node :
			    h->node, "group '%s' has the name of a host "
			    "(defined at %s:%d)", g->name, h->node->file->path,
			    h->node->line), "rename the group or the host: a "
			    "name in the inventory is either a host or a "
			    "group, see leura-inventory(5)");

		for (j = 0; j < g->nhosts; j++) {
			if (spec_repo_find_host(repo, g->hosts[j].name))
				continue;
			where = lr_xasprintf("hosts of group '%s'", g->name);
			unknown_ref(d, &g->hosts[j], &rk_host, where, hosts,
			    repo->nhosts);
			free(where);
		}
	}
	free(hosts);
}

/*
 * Whether spec_host_vars() of h has var, without merging them: whether
 * the host or one of its groups ('all' included) sets it.
 */
static bool
host_has_var(const struct spec_repo *repo, const struct spec_host *h,
    const char *var)
{
	const struct spec_group *g;
	size_t i;

	if (h->vars != NULL && json_object_get(h->vars, var) != NULL)
		return true;
	for (i = 0; i < repo->ngroups; i++) {
		g = &repo->groups[i];
		if (g->vars != NULL && json_object_get(g->vars, var) != NULL &&
		    spec_host_in_group(repo, h, g->name))
			return true;
	}
	return false;
}

/*
 * spread_by needs the var on at least one host of the scheduling group;
 * the hint suggests a var those hosts do have.
 */
static void
check_spread_by(struct spec_repo *repo, const struct spec_service *s,
    struct spec_diags *d)
{
	char **cands = NULL;
	const char *k, *sug;
	size_t ncands = 0, cap = 0, i, j;
	struct spec_diag *dg;
	json_t *vars, *v;
	bool found = false;

	/* the usual case, cheaply: some host of the group has the var */
	for (i = 0; i < repo->nhosts; i++)
		if (spec_host_in_group(repo, &repo->hosts[i],
		    s->scheduling_group.name) && host_has_var(repo,
		    &repo->hosts[i], s->spread_by.name))
			return;
	/* no host has it: collect the vars they have for the hint */
	for (i = 0; i < repo->nhosts && !found; i++) {
		const struct spec_host *h = &repo->hosts[i];

		if (!spec_host_in_group(repo, h, s->scheduling_group.name))
			continue;
		vars = spec_host_vars(repo, h);
		found = json_object_get(vars, s->spread_by.name) != NULL;
		json_object_foreach(vars, k, v) {
			for (j = 0; j < ncands; j++)
				if (strcmp(cands[j], k) == 0)
					break;
			if (j == ncands)
				*LR_ARRAY_PUSH(cands, ncands, cap) =
				    lr_xstrdup(k);
		}
		json_decref(vars);
	}
	if (!found) {
		dg = spec_diag_at(d, s->spread_by.node, "spread_by '%s' of "
		    "service '%s': no host of group '%s' has a var '%s'",
		    s->spread_by.name, s->name, s->scheduling_group.name,
		    s->spread_by.name);
		sug = lr_suggest(s->spread_by.name,
		    (const char *const *)cands, ncands);
		if (sug != NULL)
			spec_diag_hint(dg, "did you mean '%s'? or set '%s' in "
			    "the vars of the group's hosts in inventory/*.yml",
			    sug, s->spread_by.name);
		else
			spec_diag_hint(dg, "set '%s' in the vars of the "
			    "group's hosts in inventory/*.yml, or remove "
			    "spread_by", s->spread_by.name);
	}
	spec_strv_free(cands, ncands);
}

static void
check_service(struct spec_repo *repo, struct spec_service *s,
    const char *const *groups, const char *const *services,
    const char *const *roles, struct spec_diags *d)
{
	const struct spec_group *g;
	struct spec_diag *dg;
	char *where;
	size_t i;

	if (s->roles_defaulted && s->nroles == 0 &&
	    spec_repo_find_role(repo, s->name) != NULL) {
		s->roles = lr_xcalloc(1, sizeof(*s->roles));
		s->roles[0].name = lr_xstrdup(s->name);
		s->roles[0].node = s->node;
		s->nroles = 1;
	}
	if ((g = spec_repo_find_group(repo, s->name)) != NULL) {
		dg = spec_diag_at(d, s->node, "service '%s' has the same name "
		    "as inventory group '%s'", s->name, s->name);
		if (g->node)
			spec_diag_hint(dg, "rename the service or the group "
			    "(%s:%d): the Ansible export makes a group per "
			    "service", g->node->file->path, g->node->line);
		else
			spec_diag_hint(dg, "rename the service: 'all' is the "
			    "group of every host");
	}
	/* the "where" of a message is formatted only for an unknown name */
	if (spec_repo_find_group(repo, s->scheduling_group.name) == NULL) {
		where = lr_xasprintf("scheduling_group of service '%s'",
		    s->name);
		unknown_ref(d, &s->scheduling_group, &rk_group, where, groups,
		    repo->ngroups);
		free(where);
	} else if (s->spread_by.name != NULL)
		check_spread_by(repo, s, d);
	for (i = 0; i < s->ndepends_on; i++) {
		if (strcmp(s->depends_on[i].name, s->name) == 0)
			spec_diag_hint(spec_diag_at(d, s->depends_on[i].node,
			    "service '%s' depends on itself", s->name),
			    "remove '%s' from its depends_on", s->name);
		else if (!spec_repo_find_service(repo,
		    s->depends_on[i].name)) {
			where = lr_xasprintf("depends_on of service '%s'",
			    s->name);
			unknown_ref(d, &s->depends_on[i], &rk_service, where,
			    services, repo->nservices);
			free(where);
		}
	}
	for (i = 0; i < s->nroles; i++) {
		if (spec_repo_find_role(repo, s->roles[i].name))
			continue;
		where = lr_xasprintf("roles of service '%s'", s->name);
		unknown_ref(d, &s->roles[i], &rk_role, where, roles,
		    repo->nroles);
		free(where);
	}
}

static const struct spec_system *
find_system(const struct spec_repo *repo, const char *name)
{
	size_t lo = 0, hi = repo->nsystems, mid;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if ((c = strcmp(name, repo->systems[mid].name)) == 0)
			return &repo->systems[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

static void
check_system(struct spec_repo *repo, const struct spec_system *sy,
    const char *const *services, const char *const *systems,
    struct spec_diags *d)
{
	char *where;
	size_t i;

	for (i = 0; i < sy->nservices; i++) {
		if (spec_repo_find_service(repo, sy->services[i].name))
			continue;
		where = lr_xasprintf("services of system '%s'", sy->name);
		unknown_ref(d, &sy->services[i], &rk_service, where, services,
		    repo->nservices);
		free(where);
	}
	for (i = 0; i < sy->nsystems; i++) {
		if (strcmp(sy->systems[i].name, sy->name) == 0)
			spec_diag_hint(spec_diag_at(d, sy->systems[i].node,
			    "system '%s' contains itself", sy->name),
			    "remove '%s' from its systems", sy->name);
		else if (find_system(repo, sy->systems[i].name) == NULL) {
			where = lr_xasprintf("systems of system '%s'",
			    sy->name);
			unknown_ref(d, &sy->systems[i], &rk_system, where,
			    systems, repo->nsystems);
			free(where);
		}
	}
}

/* ---- cycles ---- */

/*
 * A directed graph over sorted objects, edges in CSR form: the edges of
 * node i are first[i] .. first[i + 1], each with the ref that wrote it.
 * A depth-first search reports each back edge once, at its ref, with the
 * cycle it closes spelled out.
 */
struct graph {
	size_t	 n;
	const char *const *names;
	size_t	*first, *to;
	const struct spec_ref **ref;
	size_t	 nedges, cap, capref;
	char	*color;		/* 0 unseen, 1 on the path, 2 done */
	size_t	*path, depth;
	const char *label;	/* "depends_on" */
	const char *hint;
	struct spec_diags *d;
};

static void
graph_edge(struct graph *g, size_t to, const struct spec_ref *r)
{
	size_t n = g->nedges;

	*LR_ARRAY_PUSH(g->to, g->nedges, g->cap) = to;
	*LR_ARRAY_PUSH(g->ref, n, g->capref) = r;
}

static void
dfs(struct graph *g, size_t u)
{
	struct lr_buf b = LR_BUF_INIT;
	size_t e, v, k;

	g->color[u] = 1;
	g->path[g->depth++] = u;
	for (e = g->first[u]; e < g->first[u + 1]; e++) {
		v = g->to[e];
		if (g->color[v] == 0) {
			dfs(g, v);
			continue;
		}
		if (g->color[v] != 1)
			continue;
		for (k = 0; g->path[k] != v; k++)
			;
		for (; k < g->depth; k++)
			lr_buf_printf(&b, "%s -> ", g->names[g->path[k]]);
		lr_buf_adds(&b, g->names[v]);
		spec_diag_hint(spec_diag_at(g->d, g->ref[e]->node, "%s cycle: "
		    "%s", g->label, b.s), "%s", g->hint);
		lr_buf_release(&b);
	}
	g->depth--;
	g->color[u] = 2;
}

static void
graph_run(struct graph *g)
{
	size_t i;

	g->color = lr_xcalloc(g->n ? g->n : 1, 1);
	g->path = lr_xmalloc((g->n ? g->n : 1) * sizeof(*g->path));
	for (i = 0; i < g->n; i++)
		if (g->color[i] == 0)
			dfs(g, i);
	free(g->color);
	free(g->path);
	free(g->first);
	free(g->to);
	free(g->ref);
}

static void
check_service_cycles(struct spec_repo *repo, const char *const *names,
    struct spec_diags *d)
{
	struct graph g = { 0 };
	const struct spec_service *to;
	const struct spec_ref *r;
	size_t i, j;

	g.n = repo->nservices;
	g.names = names;
	g.label = "depends_on";
	g.hint = "services cannot wait for each other; remove one of these "
	    "depends_on entries";
	g.d = d;
	g.first = lr_xmalloc((g.n + 1) * sizeof(*g.first));
	for (i = 0; i < g.n; i++) {
		g.first[i] = g.nedges;
		for (j = 0; j < repo->services[i].ndepends_on; j++) {
			r = &repo->services[i].depends_on[j];
			to = spec_repo_find_service(repo, r->name);
			if (to != NULL && to != &repo->services[i])
				graph_edge(&g, (size_t)(to - repo->services),
				    r);
		}
	}
	g.first[g.n] = g.nedges;
	graph_run(&g);
}

static void
check_system_cycles(struct spec_repo *repo, const char *const *names,
    struct spec_diags *d)
{
	struct graph g = { 0 };
	const struct spec_system *to;
	const struct spec_ref *r;
	size_t i, j;

	g.n = repo->nsystems;
	g.names = names;
	g.label = "systems";
	g.hint = "a system cannot contain itself through other systems; "
	    "remove one of these systems entries";
	g.d = d;
	g.first = lr_xmalloc((g.n + 1) * sizeof(*g.first));
	for (i = 0; i < g.n; i++) {
		g.first[i] = g.nedges;
		for (j = 0; j < repo->systems[i].nsystems; j++) {
			r = &repo->systems[i].systems[j];
			to = find_system(repo, r->name);
			if (to != NULL && to != &repo->systems[i])
				graph_edge(&g, (size_t)(to - repo->systems),
				    r);
		}
	}
	g.first[g.n] = g.nedges;
	graph_run(&g);
}

void
spec_check_services(struct spec_repo *repo, struct spec_diags *d)
{
	const char **groups, **services, **roles, **systems;
	size_t i;

	ensure_all(repo);
	check_groups(repo, d);
	NAMES(groups, repo->groups, repo->ngroups);
	NAMES(services, repo->services, repo->nservices);
	NAMES(roles, repo->roles, repo->nroles);
	NAMES(systems, repo->systems, repo->nsystems);
	for (i = 0; i < repo->nservices; i++)
		check_service(repo, &repo->services[i], groups, services,
		    roles, d);
	for (i = 0; i < repo->nsystems; i++)
		check_system(repo, &repo->systems[i], services, systems, d);
	check_service_cycles(repo, services, d);
	check_system_cycles(repo, systems, d);
	free(groups);
	free(services);
	free(roles);
	free(systems);
}

