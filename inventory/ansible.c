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
 *
 * The document comes in two forms built from the same pieces: a json_t
 * (inv_ansible) and compact text written as it goes (inv_ansible_write).
 * The text form exists for size: hosts x services enable_ flags are ten
 * million entries at 5,000 x 2,000, about a second and a gigabyte as
 * jansson objects, a fraction of that as text.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "inv-int.h"
#include "inventory.h"
#include "xalloc.h"

/* ---- per-service and per-host state ---- */

struct svc_state {
	char	*flag;		/* owned: enable_<name> */
	size_t	 owner;		/* first service with the same flag */
	size_t	*hosts;		/* owned: sorted placed host indexes */
	size_t	 nhosts;
};

/* Per host, the sorted indexes of the services placed on it. */
struct host_svcs {
	size_t	*v;
	size_t	 n, cap;
};

struct export {
	const struct spec_repo *repo;
	struct inv_hostmap m;
	struct inv_groupsets gs;
	struct svc_state *st;		/* one per service */
	struct host_svcs *hs;		/* one per host */
	bool	*on;			/* scratch: one per service */
	json_t	*flags;			/* owned: flag name -> owner index */
	const json_t *all_vars;		/* borrowed; NULL when none */
};

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

static void
export_init(struct export *e, const struct spec_repo *repo,
    const json_t *placement)
{
	const struct spec_group *all;
	struct svc_state *st;
	struct host_svcs *hs;
	json_t *first;
	size_t s, j;

	memset(e, 0, sizeof(*e));
	e->repo = repo;
	inv_hostmap_init(&e->m, repo);
	inv_groupsets_init(&e->gs, &e->m);
	e->hs = lr_xcalloc(repo->nhosts + 1, sizeof(*e->hs));
	e->st = lr_xcalloc(repo->nservices + 1, sizeof(*e->st));
	e->on = lr_xcalloc(repo->nservices + 1, sizeof(*e->on));
	e->flags = json_object();
	if ((all = spec_repo_find_group(repo, "all")) != NULL &&
	    json_is_object(all->vars))
		e->all_vars = all->vars;
	for (s = 0; s < repo->nservices; s++) {
		st = &e->st[s];
		if (repo->services[s].name == NULL)
			continue;
		st->flag = flag_name(repo->services[s].name);
		st->owner = s;
		if ((first = json_object_get(e->flags, st->flag)) != NULL)
			st->owner = (size_t)json_integer_value(first);
		else
			json_object_set_new(e->flags, st->flag,
			    json_integer((json_int_t)s));
		st->nhosts = inv_placed_hosts(&e->m, placement,
		    repo->services[s].name, &st->hosts);
		/* s grows, hosts are unique: every hs list stays sorted */
		for (j = 0; j < st->nhosts; j++) {
			hs = &e->hs[st->hosts[j]];
			*LR_ARRAY_PUSH(hs->v, hs->n, hs->cap) = s;
		}
	}
}

static void
export_release(struct export *e)
{
	size_t i;

	for (i = 0; i < e->repo->nservices; i++) {
		free(e->st[i].flag);
		free(e->st[i].hosts);
	}
	free(e->st);
	for (i = 0; i < e->repo->nhosts; i++)
		free(e->hs[i].v);
	free(e->hs);
	free(e->on);
	json_decref(e->flags);
	inv_groupsets_release(&e->gs);
	inv_hostmap_release(&e->m);
}

/* ---- hostvars ---- */

/*
 * Effective vars of host h in the order of spec_host_vars ('all', its
 * groups by name, its own), then ansible_host.  New reference; values are
 * shared with the repo.
 */
static json_t *
host_vars(const struct export *e, size_t h)
{
	const struct spec_repo *repo = e->repo;
	const struct spec_host *host = &repo->hosts[h];
	json_t *hv = json_object();
	const json_t *gv;
	size_t i;

	if (e->all_vars != NULL)
		json_object_update(hv, (json_t *)e->all_vars);
	for (i = 0; i < e->gs.n[h]; i++) {
		gv = repo->groups[e->gs.gids[h][i]].vars;
		if (json_is_object(gv))
			json_object_update(hv, (json_t *)gv);
	}
	if (json_is_object(host->vars))
		json_object_update(hv, host->vars);
	if (host->address != NULL)
		json_object_set_new(hv, "ansible_host",
		    json_string(host->address));
	return hv;
}

/*
 * Mark in e->on the flags (by owner service) that are true on host h;
 * flags_clear() undoes it.  A flag shared by several services is true
 * where any of them runs.
 */
static void
flags_mark(struct export *e, size_t h)
{
	size_t i;

	for (i = 0; i < e->hs[h].n; i++)
		e->on[e->st[e->hs[h].v[i]].owner] = true;
}

static void
flags_clear(struct export *e, size_t h)
{
	size_t i;

	for (i = 0; i < e->hs[h].n; i++)
		e->on[e->st[e->hs[h].v[i]].owner] = false;
}

/* Whether service s owns its flag (the first service with that flag). */
static bool
flag_owner(const struct export *e, size_t s)
{
	return e->st[s].flag != NULL && e->st[s].owner == s;
}

/* ---- groups and services ---- */

static json_t *
hosts_entry(json_t *hosts, const json_t *vars)
{
	json_t *e = json_object();

	json_object_set_new(e, "hosts", hosts);
	/* a shallow copy, so editing the result never edits the repo */
	if (json_is_object(vars) && json_object_size(vars) > 0)
		json_object_set_new(e, "vars", json_copy((json_t *)vars));
	return e;
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

/* Replace the hosts of group gid's entry by their union with placed[]. */
static void
merge_service(json_t *entry, const struct export *e, size_t gid,
    const struct svc_state *st)
{
	const struct spec_repo *repo = e->repo;
	json_t *hosts = json_array();
	size_t h, k = 0;
	bool in;

	for (h = 0; h < repo->nhosts; h++) {
		in = has_gid(e->gs.gids[h], e->gs.n[h], gid);
		if (k < st->nhosts && st->hosts[k] == h) {
			in = true;
			k++;
		}
		if (in && repo->hosts[h].name != NULL)
			json_array_append_new(hosts,
			    json_string(repo->hosts[h].name));
	}
	json_object_set_new(entry, "hosts", hosts);
}

/* Every entry of the document but "_meta": all, groups, services. */
static json_t *
groups_doc(const struct export *e)
{
	const struct spec_repo *repo = e->repo;
	const struct spec_group *g;
	json_t *out = json_object(), *all_hosts = json_array(), **ghosts;
	json_t *hosts, *ent;
	const char *name;
	size_t h, i, gid, s;

	ghosts = lr_xcalloc(repo->ngroups + 1, sizeof(*ghosts));
	for (gid = 0; gid < repo->ngroups; gid++)
		ghosts[gid] = json_array();
	for (h = 0; h < repo->nhosts; h++) {
		if ((name = repo->hosts[h].name) == NULL)
			continue;
		json_array_append_new(all_hosts, json_string(name));
		/* hosts in sorted order: every member list comes out sorted */
		for (i = 0; i < e->gs.n[h]; i++)
			json_array_append_new(ghosts[e->gs.gids[h][i]],
			    json_string(name));
	}
	json_object_set_new(out, "all", hosts_entry(all_hosts, e->all_vars));

	for (gid = 0; gid < repo->ngroups; gid++) {
		g = &repo->groups[gid];
		if (g->name == NULL || strcmp(g->name, "_meta") == 0 ||
		    json_object_get(out, g->name) != NULL)
			continue;	/* 'all', or a name defined twice */
		json_object_set_new(out, g->name, hosts_entry(ghosts[gid],
		    g->vars));
		ghosts[gid] = NULL;
	}

	for (s = 0; s < repo->nservices; s++) {
		name = repo->services[s].name;
		if (name == NULL || strcmp(name, "_meta") == 0 ||
		    strcmp(name, "all") == 0)
			continue;	/* 'all' already lists every host */
		if ((ent = json_object_get(out, name)) != NULL) {
			/* else a service defined twice: the first stays */
			if ((g = spec_repo_find_group(repo, name)) != NULL)
				merge_service(ent, e,
				    (size_t)(g - repo->groups), &e->st[s]);
			continue;
		}
		hosts = json_array();
		for (i = 0; i < e->st[s].nhosts; i++)
			json_array_append_new(hosts, json_string(
			    repo->hosts[e->st[s].hosts[i]].name));
		json_object_set_new(out, name, hosts_entry(hosts, NULL));
	}

	for (gid = 0; gid < repo->ngroups; gid++)
		json_decref(ghosts[gid]);
	free(ghosts);
	return out;
}

/* ---- the document as json_t ---- */

json_t *
inv_ansible(const struct spec_repo *repo, const json_t *placement)
{
	struct export e;
	json_t *out, *hostvars, *hv, *rest;
	size_t h, s;

	export_init(&e, repo, placement);
	hostvars = json_object();
	for (h = 0; h < repo->nhosts; h++) {
		if (repo->hosts[h].name == NULL)
			continue;
		hv = host_vars(&e, h);
		flags_mark(&e, h);
		for (s = 0; s < repo->nservices; s++)
			if (flag_owner(&e, s))
				json_object_set_new_nocheck(hv, e.st[s].flag,
				    json_boolean(e.on[s]));
		flags_clear(&e, h);
		json_object_set_new(hostvars, repo->hosts[h].name, hv);
	}
	out = json_pack("{s:{s:o}}", "_meta", "hostvars", hostvars);
	rest = groups_doc(&e);
	json_object_update(out, rest);
	json_decref(rest);
	export_release(&e);
	return out;
}

/* ---- the document as text ---- */

/*
 * Remove the vars the enable_ flags replace: the text is written in one
 * go, so a var of the same name would be a duplicate key.
 */
static void
drop_flag_vars(const struct export *e, json_t *hv)
{
	const char *key;
	json_t *val;
	void *tmp;

	json_object_foreach_safe(hv, tmp, key, val)
		if (strncmp(key, "enable_", 7) == 0 &&
		    json_object_get(e->flags, key) != NULL)
			json_object_del(hv, key);
}

/* Compact JSON of v into *buf (grown as needed); returns its length. */
static size_t
dump(const json_t *v, char **buf, size_t *cap)
{
	size_t n;

	n = json_dumpb(v, *buf, *cap, JSON_COMPACT | JSON_ENCODE_ANY);
	if (n > *cap) {
		*buf = lr_xgrow(*buf, cap, n, 1);
		n = json_dumpb(v, *buf, *cap, JSON_COMPACT | JSON_ENCODE_ANY);
	}
	return n;
}

static void
dump_str(FILE *fp, const char *s, char **buf, size_t *cap)
{
	json_t *js = json_string(s);
	size_t n;

	/* not valid UTF-8 (the loader reported it): write it as "" */
	n = js != NULL ? dump(js, buf, cap) : 0;
	if (n == 0)
		fputs("\"\"", fp);
	else
		fwrite(*buf, 1, n, fp);
	json_decref(js);
}

int
inv_ansible_write(const struct spec_repo *repo, const json_t *placement,
    FILE *fp, struct lr_err *err)
{
	struct lr_buf line = LR_BUF_INIT;
	struct export e;
	json_t *v;
	char *buf, **keys;
	size_t cap = 4096, n, h, s, *klen;
	bool first = true, empty;

	buf = lr_xmalloc(cap);
	export_init(&e, repo, placement);
	/* ',"enable_x":' once per service, not once per host */
	keys = lr_xcalloc(repo->nservices + 1, sizeof(*keys));
	klen = lr_xcalloc(repo->nservices + 1, sizeof(*klen));
	for (s = 0; s < repo->nservices; s++)
		if (flag_owner(&e, s)) {
			keys[s] = lr_xasprintf(",\"%s\":", e.st[s].flag);
			klen[s] = strlen(keys[s]);
		}

	fputs("{\"_meta\":{\"hostvars\":{", fp);
	for (h = 0; h < repo->nhosts; h++) {
		if (repo->hosts[h].name == NULL)
			continue;
		if (!first)
			fputc(',', fp);
		first = false;
		dump_str(fp, repo->hosts[h].name, &buf, &cap);
		fputc(':', fp);
		v = host_vars(&e, h);
		drop_flag_vars(&e, v);
		empty = json_object_size(v) == 0;
		if ((n = dump(v, &buf, &cap)) < 2) {
			/* cannot fail on objects jansson built */
			n = 2;
			memcpy(buf, "{}", 2);
			empty = true;
		}
		json_decref(v);
		/* one write per host: the vars without their '}', the flags */
		lr_buf_reset(&line);
		lr_buf_add(&line, buf, n - 1);
		flags_mark(&e, h);
		for (s = 0; s < repo->nservices; s++) {
			if (keys[s] == NULL)
				continue;
			lr_buf_add(&line, keys[s] + empty, klen[s] - empty);
			empty = false;
			if (e.on[s])
				lr_buf_add(&line, "true", 4);
			else
				lr_buf_add(&line, "false", 5);
		}
		flags_clear(&e, h);
		lr_buf_addc(&line, '}');
		fwrite(line.s, 1, line.len, fp);
	}
	fputs("}}", fp);
	v = groups_doc(&e);
	n = dump(v, &buf, &cap);
	json_decref(v);
	/* "all" is always there: never "{}" */
	if (n > 2) {
		fputc(',', fp);
		fwrite(buf + 1, 1, n - 1, fp);
	} else
		fputc('}', fp);

	for (s = 0; s < repo->nservices; s++)
		free(keys[s]);
	free(keys);
	free(klen);
	free(buf);
	lr_buf_release(&line);
	export_release(&e);
	if (fflush(fp) != 0 || ferror(fp))
		return lr_err_set(err, LR_EIO, "cannot write the Ansible "
		    "inventory: %s", strerror(errno));
	return 0;
}

/* ---- group members ---- */

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
			if (g->hosts[j].name != NULL &&
			    (hp = spec_repo_find_host(repo,
			    g->hosts[j].name)) != NULL)
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
