/*
 * Loaders for leura.yml, inventory/ *.yml, services.yml and systems.yml.
 * The cross-reference checks among them are check_services.c's; roles,
 * tasks and steps are load_roles.c's; placement feasibility is the
 * reconciler's.
 *
 * Design rule: a bad value adds one diagnostic at the most precise node
 * (the offending value, or the key when the name itself is wrong) and
 * leaves that field at its default.  The object itself is kept, so one
 * mistake in a service does not also surface as "unknown service" wherever
 * it is referenced.  A host, group, service or system keeps the key node
 * of its name as its node.
 *
 * Groups named by hosts but never defined under 'groups:' are created while
 * the inventory loads, with vars NULL; a later definition fills them in.  A
 * defined group always has a vars object, which is how the two are told
 * apart before 'all' is added in spec_check_services().
 */
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "spec-int.h"
#include "suggest.h"
#include "xalloc.h"

/* leura-spec(5) sections the hints point at */
#define SEC_SETTINGS	"SETTINGS"
#define SEC_INVENTORY	"INVENTORY"
#define SEC_SERVICES	"SERVICES"
#define SEC_SYSTEMS	"SYSTEMS"

/* ---- small helpers ---- */

static bool
check_name(struct spec_diags *d, const struct spec_node *n, const char *kind)
{
	if (spec_name_valid(n->str))
		return true;
	spec_diag_hint(spec_diag_at(d, n, "invalid %s name '%s'", kind,
	    n->str), "a %s name uses letters, digits, '.', '-' and '_', and "
	    "starts with a letter, a digit or '_'", kind);
	return false;
}

/*
 * Give the diagnostic a schema helper of node.h just added (the last one,
 * when d grew past n0) a hint, unless it has one.
 */
static void
hint_last(struct spec_diags *d, size_t n0, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
hint_last(struct spec_diags *d, size_t n0, const char *fmt, ...)
{
	struct lr_buf b = LR_BUF_INIT;
	va_list ap;

	if (d->n <= n0 || d->v[d->n - 1].hint != NULL)
		return;
	va_start(ap, fmt);
	lr_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	spec_diag_hint(&d->v[d->n - 1], "%s", b.s);
	lr_buf_release(&b);
}

#define HINT_STR "write '%s: value' with a string value, quoted if it " \
	"starts with '[' or '{' or contains ': '"

/*
 * The object a value belongs to, as messages name it: "host 'web1'",
 * "rollout of service 'api'" (kind and name), "containers[0] of service
 * 'api'" (list and index too), or a bare "leura.yml" (kind NULL).  Only
 * owner_str() formats it, on first use: a big repo has thousands of
 * objects and next to no errors, so most owners are never formatted.
 */
struct owner {
	const char *kind;
	const char *name;
	const char *list;	/* the owner is an item of this list */
	size_t	 index;
	char	*text;		/* formatted, or NULL */
};

#define OWNER(kind, name)	{ (kind), (name), NULL, 0, NULL }

static const char *
owner_str(struct owner *o)
{
	if (o->text != NULL)
		return o->text;
	if (o->list != NULL)
		o->text = lr_xasprintf("%s[%zu] of %s '%s'", o->list,
		    o->index, o->kind, o->name);
	else if (o->kind != NULL)
		o->text = lr_xasprintf("%s '%s'", o->kind, o->name);
	else
		o->text = lr_xstrdup(o->name);
	return o->text;
}

static void
owner_release(struct owner *o)
{
	free(o->text);
	o->text = NULL;
}

/* spec_check_map(), naming the owner only when something is reported. */
static bool
check_map(struct spec_diags *d, const struct spec_node *n, struct owner *o,
    const char *const *allowed, const char *section)
{
	if (spec_map_has_only(n, allowed))
		return true;
	return spec_check_map(d, n, owner_str(o), allowed, section);
}

/* A key the YAML layer replaced after "mapping keys must be strings". */
static bool
is_broken_key(const struct spec_node *k)
{
	return k->len == 0 && k->style == SPEC_STYLE_PLAIN;
}

/* Optional string key of map into *dst. */
static void
read_str(struct spec_diags *d, const struct spec_node *map, const char *key,
    struct owner *owner, char **dst)
{
	const struct spec_node *v = spec_node_get(map, key);
	const char *s;
	size_t n0 = d->n;
	char *what;

	if (v == NULL)
		return;
	if (spec_node_is_str(v)) {
		free(*dst);
		*dst = lr_xstrdup(v->str);
		return;
	}
	what = lr_xasprintf("%s of %s", key, owner_str(owner));
	if (spec_get_str(d, v, what, &s) == 0) {
		free(*dst);
		*dst = lr_xstrdup(s);
	} else
		hint_last(d, n0, HINT_STR, key);
	free(what);
}

/* A map (null: empty) as a new JSON object in *out; -1 on a wrong type. */
static int
read_obj(struct spec_diags *d, const struct spec_node *v, const char *key,
    struct owner *owner, const char *section, json_t **out)
{
	if (spec_node_is_null(v)) {
		*out = json_object();
		return 0;
	}
	if (v->kind != SPEC_NODE_MAP) {
		spec_diag_hint(spec_diag_at(d, v, "%s of %s must be a mapping, "
		    "not %s", key, owner_str(owner), spec_node_describe(v)),
		    "write '%s: {name: value}', see leura-spec(5), %s", key,
		    section);
		return -1;
	}
	*out = spec_node_to_json(v);
	return 0;
}

/* A list of names (or one name) as refs; null: none.  -1 on errors. */
static int
read_refs(struct spec_diags *d, const struct spec_node *v, const char *key,
    struct owner *owner, struct spec_ref **out, size_t *nout)
{
	const struct spec_node **items, *one[1];
	struct spec_ref *refs;
	size_t n, i, n0 = d->n;
	char *what;
	int rc;

	*out = NULL;
	*nout = 0;
	if (spec_node_is_null(v))
		return 0;
	if (!spec_node_is_strlist(v)) {
		what = lr_xasprintf("%s of %s", key, owner_str(owner));
		rc = spec_get_strlist(d, v, what, &items, &n);
		free(what);
		if (rc == 0)
			LR_BUG("spec_node_is_strlist() and spec_get_strlist() "
			    "disagree");
		hint_last(d, n0, "write '%s: [name1, name2]' (a single name "
		    "may stand alone)", key);
		return -1;
	}
	/* spec_get_strlist()'s result, without its copy of the array */
	if (v->kind == SPEC_NODE_SCALAR) {
		one[0] = v;
		items = one;
		n = 1;
	} else {
		items = (const struct spec_node **)v->vals;
		n = v->n;
	}
	refs = lr_xcalloc(n ? n : 1, sizeof(*refs));
	for (i = 0; i < n; i++) {
		refs[i].name = lr_xstrdup(items[i]->str);
		refs[i].node = items[i];
	}
	*out = refs;
	*nout = n;
	return 0;
}

/* "'a', 'b' or 'c'" for hints; the caller frees. */
static char *
alternatives(const char *const *vals)
{
	struct lr_buf b = LR_BUF_INIT;
	size_t i;

	for (i = 0; vals[i]; i++)
		lr_buf_printf(&b, "%s'%s'", i == 0 ? "" : vals[i + 1] ? ", " :
		    " or ", vals[i]);
	return lr_buf_detach(&b, NULL);
}

/*
 * One of vals (NULL-terminated) into *out as its index; adds a diagnostic
 * and returns -1 otherwise.
 */
static int
read_enum(struct spec_diags *d, const struct spec_node *v, const char *key,
    struct owner *owner, const char *const *vals, int *out)
{
	struct spec_diag *dg;
	const char *s;
	char *alts;
	size_t i;

	if (!spec_node_is_str(v)) {
		alts = alternatives(vals);
		spec_diag_hint(spec_diag_at(d, v, "%s of %s must be a string, "
		    "not %s", key, owner_str(owner), spec_node_describe(v)),
		    "use %s", alts);
		free(alts);
		return -1;
	}
	for (i = 0; vals[i]; i++) {
		if (strcmp(v->str, vals[i]) == 0) {
			*out = (int)i;
			return 0;
		}
	}
	dg = spec_diag_at(d, v, "invalid %s '%s' in %s", key, v->str,
	    owner_str(owner));
	alts = alternatives(vals);
	if ((s = lr_suggest(v->str, vals, i)) != NULL)
		spec_diag_hint(dg, "did you mean '%s'? use %s", s, alts);
	else
		spec_diag_hint(dg, "use %s", alts);
	free(alts);
	return -1;
}

static const char *const drift_vals[] = { "repair", "report", NULL };

/* ---- leura.yml ---- */

static const char *const settings_keys[] = {
	"name", "domain", "description", "defaults", "etcd", "auto_apply",
	NULL
};
/* where the fleet's etcd is, never how to log in: that is the user's */
static const char *const settings_etcd_keys[] = {
	"endpoints", "prefix", NULL
};
static const char *const settings_credentials[] = {
	"cacert", "cert", "key", "user", "password", "password_file", NULL
};

/*
 * leura.yml's etcd: {endpoints, prefix}, the fleet's backend as the
 * client configuration file spells it (leura(1), FILES); endpoints are
 * kept comma-separated, as LEURA_ETCD.
 */
static void
load_settings_etcd(struct spec_settings *st, const struct spec_node *n,
    struct spec_diags *d)
{
	const struct spec_node *v;
	const char *s;
	size_t i, ncred = 0;

	for (i = 0; settings_credentials[i] != NULL; i++)
		if ((v = spec_node_get(n, settings_credentials[i])) != NULL &&
		    ++ncred)
			spec_diag_hint(spec_diag_at(d, v, "leura.yml names "
			    "etcd's endpoints and prefix, not credentials: "
			    "'%s' is not allowed here",
			    settings_credentials[i]),
			    "put etcd.%s in your client configuration file "
			    "or the LEURA_ETCD_* variables; see leura(1), "
			    "FILES", settings_credentials[i]);
	/* a credential is said once, not also as an unknown key */
	if (ncred || !spec_check_map(d, n, "etcd of leura.yml",
	    settings_etcd_keys, SEC_SETTINGS))
		return;
	if ((v = spec_node_get(n, "endpoints")) != NULL)
		st->etcd_endpoints = spec_get_endpoints(d, v,
		    "etcd.endpoints of leura.yml", "list at least one URL, or "
		    "remove the key");
	if ((v = spec_node_get(n, "prefix")) != NULL &&
	    spec_get_str(d, v, "etcd.prefix of leura.yml", &s) == 0) {
		if (s[0] != '/')
			spec_diag_hint(spec_diag_at(d, v, "etcd.prefix '%s' "
			    "does not start with '/'", s), "use an absolute "
			    "key prefix such as /leura");
		else
			st->etcd_prefix = lr_xstrdup(s);
	}
}

/*
 * Whether s may name a branch as git allows (git-check-ref-format(1)):
 * no control characters, space, ~ ^ : ? * [ \\, "..", "@{", "//", no
 * leading '-' or '/', no trailing '/', '.' or ".lock", no component
 * starting with '.'.  NULL when fine, else what is wrong.
 */
static const char *
branch_name_fault(const char *s)
{
	size_t n = strlen(s);
	const char *p;

	if (n == 0)
		return "is empty";
	if (s[0] == '-')
		return "starts with '-'";
	if (s[0] == '/' || s[n - 1] == '/')
		return "starts or ends with '/'";
	if (s[n - 1] == '.' || (n >= 5 && strcmp(s + n - 5, ".lock") == 0))
		return "ends with '.' or '.lock'";
	if (strstr(s, "..") || strstr(s, "@{") || strstr(s, "//"))
		return "contains '..', '@{' or '//'";
	if (s[0] == '.' || strstr(s, "/."))
		return "has a part that starts with '.'";
	if (strcmp(s, "@") == 0)
		return "is '@'";
	for (p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f ||
		    strchr(" ~^:?*[\\", *p))
			return "contains a space, a control character or one "
			    "of ~ ^ : ? * [ \\";
	return NULL;
}

/*
 * auto_apply: a branch name or a list of them, the branches leurad
 * deploys when they are pushed (leurad(8), GIT SOURCE).
 */
static void
load_settings_auto_apply(struct spec_settings *st,
    const struct spec_node *n, struct spec_diags *d)
{
	const struct spec_node **items = NULL;
	const char *why;
	size_t i, k, nitems = 0, n0 = d->n;

	if (spec_get_strlist(d, n, "auto_apply of leura.yml", &items,
	    &nitems) < 0) {
		hint_last(d, n0, "%s", "write the branch leurad applies when "
		    "it is pushed (auto_apply: main), or a list of them");
		return;
	}
	/* owned: NULL-terminated */
	st->auto_apply = lr_xcalloc(nitems + 1, sizeof(*st->auto_apply));
	for (i = 0; i < nitems; i++) {
		if ((why = branch_name_fault(items[i]->str)) != NULL) {
			spec_diag_hint(spec_diag_at(d, items[i], "auto_apply "
			    "of leura.yml: '%s' is not a branch name: it %s",
			    items[i]->str, why), "name a branch as git "
			    "does, without refs/heads/ (auto_apply: main)");
			continue;
		}
		if (strncmp(items[i]->str, "refs/", 5) == 0) {
			spec_diag_hint(spec_diag_at(d, items[i], "auto_apply "
			    "of leura.yml names '%s', a ref, not a branch",
			    items[i]->str), "write the branch alone: "
			    "auto_apply: %s", strncmp(items[i]->str,
			    "refs/heads/", 11) == 0 ? items[i]->str + 11 :
			    "main");
			continue;
		}
		for (k = 0; k < st->nauto_apply; k++)
			if (strcmp(st->auto_apply[k], items[i]->str) == 0)
				break;
		if (k < st->nauto_apply) {
			spec_diag_hint(spec_diag_at(d, items[i], "auto_apply "
			    "of leura.yml names branch '%s' twice",
			    items[i]->str), "remove one of them");
			continue;
		}
		st->auto_apply[st->nauto_apply++] = lr_xstrdup(items[i]->str);
	}
	free(items);
}

static const char *const defaults_keys[] = {
	"timeout", "retries", "run_as", "drift", "drift_interval", NULL
};

void
spec_load_settings(struct spec_repo *repo, const struct spec_node *root,
    struct spec_diags *d)
{
	struct spec_defaults *df = &repo->settings.defaults;
	const struct spec_node *def, *v;
	struct owner file = OWNER(NULL, "leura.yml");
	struct owner owner = OWNER(NULL, "leura.yml defaults");
	char *desc = NULL;
	int64_t iv;
	size_t n0;
	int e;

	repo->settings.node = root;
	if (spec_node_is_null(root) ||
	    !spec_check_map(d, root, "leura.yml", settings_keys, SEC_SETTINGS))
		return;
	read_str(d, root, "name", &file, &repo->settings.name);
	read_str(d, root, "domain", &file, &repo->settings.domain);
	read_str(d, root, "description", &file, &desc);
	free(desc);
	if ((v = spec_node_get(root, "etcd")) != NULL &&
	    !spec_node_is_null(v))
		load_settings_etcd(&repo->settings, v, d);
	if ((v = spec_node_get(root, "auto_apply")) != NULL)
		load_settings_auto_apply(&repo->settings, v, d);
	def = spec_node_get(root, "defaults");
	if (spec_node_is_null(def) || !spec_check_map(d, def,
	    owner_str(&owner), defaults_keys, SEC_SETTINGS))
		goto out;
	if ((v = spec_node_get(def, "timeout")) != NULL &&
	    spec_get_duration(d, v, "timeout of leura.yml defaults", &iv) == 0) {
		if (iv > 0)
			df->timeout_ms = iv;
		else
			spec_diag_hint(spec_diag_at(d, v, "the default step "
			    "timeout must be longer than 0"), "remove it to "
			    "keep the default of 10m, or give a duration such "
			    "as 30m");
	}
	n0 = d->n;
	if ((v = spec_node_get(def, "retries")) != NULL) {
		if (spec_get_int(d, v, "retries of leura.yml defaults", 0, 100,
		    &iv) == 0)
			df->retries = (int)iv;
		else
			hint_last(d, n0, "retries is how many times a failed "
			    "step is retried: 0 to 100");
	}
	read_str(d, def, "run_as", &owner, &df->run_as);
	if ((v = spec_node_get(def, "drift")) != NULL &&
	    read_enum(d, v, "drift", &owner, drift_vals, &e) == 0)
		df->drift = (enum spec_drift)e;
	if ((v = spec_node_get(def, "drift_interval")) != NULL &&
	    spec_get_duration(d, v, "drift_interval of leura.yml defaults",
	    &iv) == 0)
		df->drift_interval_ms = iv;
out:
	owner_release(&file);
	owner_release(&owner);
}

/* ---- inventory ---- */

static const char *const inventory_keys[] = { "hosts", "groups", NULL };
static const char *const host_keys[] = {
	"address", "groups", "vars", "description", NULL
};
static const char *const group_keys[] = {
	"vars", "hosts", "description", NULL
};

/*
 * Names loaded so far, indexed (inventories have thousands of hosts): the
 * repo's load_idx objects map a name to its position in the (unsorted)
 * array.  load.c drops them before sorting.
 */
enum { IDX_HOSTS, IDX_GROUPS, IDX_SERVICES };

static long
idx_find(struct spec_repo *repo, int which, const char *name)
{
	json_t *v;

	if (repo->load_idx[which] == NULL)
		return -1;
	v = json_object_get(repo->load_idx[which], name);
	return v ? (long)json_integer_value(v) : -1;
}

static void
idx_add(struct spec_repo *repo, int which, const char *name, size_t i)
{
	if (repo->load_idx[which] == NULL)
		repo->load_idx[which] = json_object();
	/* names come from libyaml: valid UTF-8 */
	json_object_set_new_nocheck(repo->load_idx[which], name,
	    json_integer((json_int_t)i));
}

static struct spec_host *
find_host_loaded(struct spec_repo *repo, const char *name)
{
	long i = idx_find(repo, IDX_HOSTS, name);

	return i < 0 ? NULL : &repo->hosts[i];
}

static struct spec_group *
find_group_loaded(struct spec_repo *repo, const char *name)
{
	long i = idx_find(repo, IDX_GROUPS, name);

	return i < 0 ? NULL : &repo->groups[i];
}

/*
 * Report key as a second definition of an object first defined at first.
 * A repeat in the same file is a duplicate key the YAML layer reported.
 */
static void
twice(struct spec_diags *d, const struct spec_node *key,
    const struct spec_node *first, const char *kind)
{
	if (first != NULL && first->file == key->file)
		return;
	spec_diag_hint(spec_diag_at(d, key, "%s '%s' is defined twice", kind,
	    key->str), "it was first defined at %s:%d; remove one of the "
	    "definitions", first ? first->file->path : "?",
	    first ? first->line : 0);
}

static void
load_host(struct spec_repo *repo, const struct spec_node *key,
    const struct spec_node *val, struct spec_diags *d)
{
	struct spec_host *h, *old;
	struct spec_ref *refs;
	struct owner owner = OWNER("host", key->str);
	char *desc = NULL;
	size_t n, i, j;

	if ((old = find_host_loaded(repo, key->str)) != NULL) {
		twice(d, key, old->node, "host");
		return;
	}
	check_name(d, key, "host");
	h = SPEC_PUSH(repo->hosts, repo->nhosts);
	idx_add(repo, IDX_HOSTS, key->str, repo->nhosts - 1);
	h->name = lr_xstrdup(key->str);
	h->node = key;
	if (spec_node_is_null(val))
		goto out;
	if (!check_map(d, val, &owner, host_keys, SEC_INVENTORY)) {
		spec_diag_hint(&d->v[d->n - 1], "write '%s: {address: %s}', "
		    "see leura-spec(5), %s", key->str, spec_node_is_str(val) ?
		    val->str : "192.0.2.11", SEC_INVENTORY);
		goto out;
	}
	read_str(d, val, "address", &owner, &h->address);
	read_str(d, val, "description", &owner, &desc);
	free(desc);
	if (read_obj(d, spec_node_get(val, "vars"), "vars", &owner,
	    SEC_INVENTORY, &h->vars) < 0)
		h->vars = json_object();
	if (read_refs(d, spec_node_get(val, "groups"), "groups", &owner,
	    &refs, &n) < 0)
		goto out;
	/* keep the valid group names; each one exists, implicitly if need be */
	for (i = j = 0; i < n; i++) {
		if (!check_name(d, refs[i].node, "group")) {
			free(refs[i].name);
			continue;
		}
		if (find_group_loaded(repo, refs[i].name) == NULL) {
			struct spec_group *g = SPEC_PUSH(repo->groups,
			    repo->ngroups);

			idx_add(repo, IDX_GROUPS, refs[i].name,
			    repo->ngroups - 1);
			g->name = lr_xstrdup(refs[i].name);
			g->node = refs[i].node;
		}
		refs[j++] = refs[i];
	}
	h->groups = refs;
	h->ngroups = j;
out:
	if (h->vars == NULL)	/* no vars read: none */
		h->vars = json_object();
	owner_release(&owner);
}

static void
load_group(struct spec_repo *repo, const struct spec_node *key,
    const struct spec_node *val, struct spec_diags *d)
{
	struct spec_group *g;
	const struct spec_node *hosts;
	struct owner owner = OWNER("group", key->str);

	if ((g = find_group_loaded(repo, key->str)) != NULL && g->vars) {
		twice(d, key, g->node, "group");
		return;
	}
	if (g == NULL) {
		check_name(d, key, "group");
		g = SPEC_PUSH(repo->groups, repo->ngroups);
		idx_add(repo, IDX_GROUPS, key->str, repo->ngroups - 1);
		g->name = lr_xstrdup(key->str);
	}
	/* a group only named by hosts so far is defined here */
	g->node = key;
	g->vars = json_object();
	if (spec_node_is_null(val) ||
	    !check_map(d, val, &owner, group_keys, SEC_INVENTORY))
		goto out;
	read_str(d, val, "description", &owner, &g->description);
	json_decref(g->vars);
	if (read_obj(d, spec_node_get(val, "vars"), "vars", &owner,
	    SEC_INVENTORY, &g->vars) < 0)
		g->vars = json_object();
	hosts = spec_node_get(val, "hosts");
	if (hosts != NULL && strcmp(g->name, "all") == 0) {
		spec_diag_hint(spec_diag_at(d, spec_node_key(val, "hosts"),
		    "group 'all' cannot list hosts"), "every host is in 'all' "
		    "already; remove 'hosts:' from group 'all'");
		goto out;
	}
	read_refs(d, hosts, "hosts", &owner, &g->hosts, &g->nhosts);
out:
	owner_release(&owner);
}

/* hosts: or groups: of an inventory file: a map of names to objects. */
static bool
check_name_map(struct spec_diags *d, const struct spec_node *root,
    const char *key, const char *example)
{
	const struct spec_node *v = spec_node_get(root, key);

	if (spec_node_is_null(v))
		return false;
	if (v->kind == SPEC_NODE_MAP)
		return true;
	spec_diag_hint(spec_diag_at(d, v, "'%s' in %s must be a mapping of "
	    "names to %s, not %s", key, root->file->path, key,
	    spec_node_describe(v)), "write '%s: {%s}', see leura-spec(5), %s",
	    key, example, SEC_INVENTORY);
	return false;
}

void
spec_load_inventory(struct spec_repo *repo, const struct spec_node *root,
    struct spec_diags *d)
{
	const struct spec_node *m;
	size_t i;

	if (spec_node_is_null(root) || !spec_check_map(d, root,
	    root->file->path, inventory_keys, SEC_INVENTORY))
		return;
	/* groups first: hosts then find the defined ones */
	if (check_name_map(d, root, "groups", "frontend: {vars: {port: 80}}")) {
		m = spec_node_get(root, "groups");
		for (i = 0; i < m->n; i++)
			if (!is_broken_key(m->keys[i]))
				load_group(repo, m->keys[i], m->vals[i], d);
	}
	if (check_name_map(d, root, "hosts", "web1: {address: 192.0.2.11}")) {
		m = spec_node_get(root, "hosts");
		for (i = 0; i < m->n; i++)
			if (!is_broken_key(m->keys[i]))
				load_host(repo, m->keys[i], m->vals[i], d);
	}
}

/* ---- services.yml: the minicluster attributes ---- */

enum attr_type {
	A_STR, A_NAME, A_BOOL, A_PORT, A_STRLIST, A_ENUM, A_ARGS, A_ENV,
	A_VOLUMES
};

struct attr_field {
	const char *key;
	enum attr_type type;
	bool	 required;
	const char *const *vals;	/* A_ENUM */
};

static const char *const cert_modes[] = { "client", "server", "both", NULL };
static const char *const ep_types[] = { "static", "dynamic", NULL };
static const char *const schemes[] = { "http", "https", NULL };

static const struct attr_field credential_fields[] = {
	{ "name", A_NAME, true, NULL },
	{ "enable_client", A_BOOL, false, NULL },
	{ "client_cert_mode", A_ENUM, false, cert_modes },
	{ "enable_server", A_BOOL, false, NULL },
	{ "server_cert_mode", A_ENUM, false, cert_modes },
	{ "extra_san", A_STRLIST, false, NULL },
	{ NULL, A_STR, false, NULL }
};
static const struct attr_field monitoring_fields[] = {
	{ "job_name", A_STR, false, NULL },
	{ "type", A_ENUM, false, ep_types },
	{ "port", A_PORT, false, NULL },
	{ "scheme", A_ENUM, false, schemes },
	{ "metrics_path", A_STR, false, NULL },
	{ NULL, A_STR, false, NULL }
};
static const struct attr_field public_fields[] = {
	{ "name", A_NAME, true, NULL },
	{ "type", A_ENUM, false, ep_types },
	{ "port", A_PORT, false, NULL },
	{ "scheme", A_ENUM, false, schemes },
	{ NULL, A_STR, false, NULL }
};
static const struct attr_field container_fields[] = {
	{ "name", A_NAME, true, NULL },
	{ "image", A_STR, true, NULL },
	{ "port", A_PORT, false, NULL },
	{ "docker_options", A_STR, false, NULL },
	{ "args", A_ARGS, false, NULL },
	{ "env", A_ENV, false, NULL },
	{ "volumes", A_VOLUMES, false, NULL },
	{ NULL, A_STR, false, NULL }
};

static void
check_env(struct spec_diags *d, const struct spec_node *v,
    struct owner *owner)
{
	size_t i;

	if (v->kind != SPEC_NODE_MAP) {
		spec_diag_hint(spec_diag_at(d, v, "env of %s must be a "
		    "mapping, not %s", owner_str(owner),
		    spec_node_describe(v)),
		    "write 'env: {NAME: value}'");
		return;
	}
	for (i = 0; i < v->n; i++)
		if (!spec_node_is_str(v->vals[i]))
			spec_diag_hint(spec_diag_at(d, v->vals[i], "env var "
			    "'%s' of %s must be a string, not %s",
			    v->keys[i]->str, owner_str(owner),
			    spec_node_describe(v->vals[i])), "quote the "
			    "value: NAME: \"value\"");
}

static void
check_volumes(struct spec_diags *d, const struct spec_node *v,
    struct owner *owner)
{
	const struct spec_node *it;
	struct spec_diag *dg;
	const char *colon;
	size_t i;

	if (v->kind == SPEC_NODE_MAP) {
		for (i = 0; i < v->n; i++)
			if (!spec_node_is_str(v->vals[i]))
				spec_diag_hint(spec_diag_at(d, v->vals[i],
				    "target of volume '%s' in %s must be a "
				    "string, not %s", v->keys[i]->str,
				    owner_str(owner),
				    spec_node_describe(v->vals[i])), "write "
				    "'volumes: {/srv/data: /data}' (source: "
				    "target)");
		return;
	}
	if (v->kind != SPEC_NODE_SEQ) {
		spec_diag_hint(spec_diag_at(d, v, "volumes of %s must be a "
		    "mapping or a list, not %s", owner_str(owner),
		    spec_node_describe(v)),
		    "write 'volumes: {/srv/data: /data}' or 'volumes: "
		    "[\"/srv/data:/data\"]'");
		return;
	}
	for (i = 0; i < v->n; i++) {
		it = v->vals[i];
		if (spec_node_is_str(it) && (colon = strchr(it->str, ':')) &&
		    colon != it->str && colon[1] != '\0')
			continue;
		if (spec_node_is_str(it))
			dg = spec_diag_at(d, it, "invalid volume '%s' in %s",
			    it->str, owner_str(owner));
		else
			dg = spec_diag_at(d, it, "volumes of %s must be "
			    "'source:target' strings, not %s",
			    owner_str(owner), spec_node_describe(it));
		spec_diag_hint(dg, "write source:target, e.g. "
		    "\"/srv/data:/data\"");
	}
}

/*
 * Check one field of an attribute item.  The "<key> of <owner>" of the
 * messages is formatted only where a check needs it or fails.
 */
static void
check_field(struct spec_diags *d, const struct attr_field *f,
    const struct spec_node *v, struct owner *owner)
{
	const struct spec_node **items;
	size_t n;
	char *what = NULL;
	size_t n0 = d->n;
	int64_t port;
	bool b;
	int iv;

	switch (f->type) {
	case A_STR:
	case A_NAME:
		if (!spec_node_is_str(v)) {
			what = lr_xasprintf("%s of %s", f->key,
			    owner_str(owner));
			spec_diag_hint(spec_diag_at(d, v, "%s must be a "
			    "string, not %s", what, spec_node_describe(v)),
			    HINT_STR, f->key);
		} else if (f->type == A_NAME)
			check_name(d, v, f->key);
		break;
	case A_BOOL:
		what = lr_xasprintf("%s of %s", f->key, owner_str(owner));
		spec_get_bool(d, v, what, &b);
		break;
	case A_PORT:
		if (spec_node_int(v, &port) && port >= 1 && port <= 65535)
			break;
		what = lr_xasprintf("%s of %s", f->key, owner_str(owner));
		spec_get_port(d, v, what, &iv);
		break;
	case A_ENUM:
		read_enum(d, v, f->key, owner, f->vals, &iv);
		break;
	case A_STRLIST:
		if (v->kind != SPEC_NODE_SEQ) {
			what = lr_xasprintf("%s of %s", f->key,
			    owner_str(owner));
			spec_diag_hint(spec_diag_at(d, v, "%s must be a list, "
			    "not %s", what, spec_node_describe(v)),
			    "write '%s: [name1, name2]'", f->key);
			break;
		}
		/* FALLTHROUGH */
	case A_ARGS:
		if (spec_node_is_strlist(v))
			break;
		what = lr_xasprintf("%s of %s", f->key, owner_str(owner));
		if (spec_get_strlist(d, v, what, &items, &n) == 0)
			free(items);
		else
			hint_last(d, n0, "write '%s: [item1, item2]'%s", f->key,
			    f->type == A_ARGS ? " or one string" : "");
		break;
	case A_ENV:
		check_env(d, v, owner);
		break;
	case A_VOLUMES:
		check_volumes(d, v, owner);
		break;
	}
	free(what);
}

/*
 * Validate one minicluster attribute (a list of maps) of service svc and
 * return it as a JSON array (empty when absent or of the wrong type).
 */
static json_t *
load_attr(struct spec_diags *d, const struct spec_node *svc,
    const char *key, const struct attr_field *fields, const char *svcname)
{
	const struct spec_node *v = spec_node_get(svc, key), *it, *fv;
	const char **keys;
	struct owner owner = OWNER("service", svcname);
	size_t nf, i, j, k;

	if (spec_node_is_null(v))
		return json_array();
	if (v->kind != SPEC_NODE_SEQ) {
		spec_diag_hint(spec_diag_at(d, v, "%s of service '%s' must be "
		    "a list, not %s", key, svcname, spec_node_describe(v)),
		    "write one '- ...' item per entry, see leura-spec(5), %s",
		    SEC_SERVICES);
		return json_array();
	}
	for (nf = 0; fields[nf].key; nf++)
		;
	keys = lr_xmalloc((nf + 1) * sizeof(*keys));
	for (i = 0; i < nf; i++)
		keys[i] = fields[i].key;
	keys[nf] = NULL;
	owner.list = key;
	for (i = 0; i < v->n; i++) {
		it = v->vals[i];
		owner.index = i;
		if (!check_map(d, it, &owner, keys, SEC_SERVICES)) {
			owner_release(&owner);
			continue;
		}
		for (j = 0; j < nf; j++) {
			fv = spec_node_get(it, fields[j].key);
			if (fields[j].required && fv == NULL) {
				spec_require(d, it, fields[j].key,
				    owner_str(&owner));
				continue;
			}
			if (fv != NULL)
				check_field(d, &fields[j], fv, &owner);
		}
		owner_release(&owner);
		/* a service's containers share the host: names must differ */
		if (fields != container_fields ||
		    !spec_node_is_str(fv = spec_node_get(it, "name")))
			continue;
		for (k = 0; k < i; k++) {
			const struct spec_node *prev;

			prev = spec_node_get(v->vals[k], "name");
			if (!spec_node_is_str(prev) ||
			    strcmp(prev->str, fv->str) != 0)
				continue;
			spec_diag_hint(spec_diag_at(d, fv, "container '%s' "
			    "appears twice in service '%s'", fv->str, svcname),
			    "it was first listed at line %d; give each "
			    "container of a service its own name", prev->line);
			break;
		}
	}
	free(keys);
	return spec_node_to_json(v);
}

/* ---- services.yml ---- */

static const char *const service_keys[] = {
	"description", "scheduling_group", "num_instances", "spread_by",
	"roles", "depends_on", "params", "rollout", "drift",
	"service_credentials", "monitoring_endpoints", "public_endpoints",
	"containers", NULL
};
static const char *const rollout_keys[] = {
	"max_parallel", "batches", "move", NULL
};
static const char *const move_values[] = {
	"make-before-break", "break-before-make"
};

#define HINT_NUM "write a number of hosts (num_instances: 2), or 'all' for " \
	"every host of the scheduling group"

static void
load_num_instances(struct spec_service *s, const struct spec_node *v,
    struct spec_diags *d)
{
	int64_t iv;
	size_t n0 = d->n;
	char *what;

	s->num_instances_node = v;
	if (spec_node_is_str(v) && strcmp(v->str, "all") == 0)
		return;
	if (v->kind == SPEC_NODE_SCALAR && strcmp(spec_node_describe(v),
	    "an integer") == 0) {
		if (spec_node_int(v, &iv) && iv >= 0 && iv <= INT_MAX) {
			s->num_instances = (int)iv;
			return;
		}
		what = lr_xasprintf("num_instances of service '%s'", s->name);
		if (spec_get_int(d, v, what, 0, INT_MAX, &iv) == 0)
			s->num_instances = (int)iv;
		else
			hint_last(d, n0, HINT_NUM);
		free(what);
		return;
	}
	spec_diag_hint(spec_diag_at(d, v, "num_instances of service '%s' must "
	    "be an integer or 'all', not %s", s->name, spec_node_describe(v)),
	    HINT_NUM);
}

/* One batch: a host count >= 1, or "N%" with N in 1..100. */
static bool
parse_batch(const struct spec_node *v, struct spec_batch *b)
{
	const char *p;
	long n = 0;

	if (v->kind != SPEC_NODE_SCALAR || v->len == 0)
		return false;
	for (p = v->str; *p >= '0' && *p <= '9'; p++) {
		n = n * 10 + (*p - '0');
		if (n > INT_MAX)
			return false;
	}
	if (p == v->str || n < 1)
		return false;
	if (*p == '\0') {
		b->value = (int)n;
		b->percent = false;
		return true;
	}
	if (p[0] != '%' || p[1] != '\0' || n > 100)
		return false;
	b->value = (int)n;
	b->percent = true;
	return true;
}

static void
load_rollout(struct spec_service *s, const struct spec_node *v,
    struct spec_diags *d)
{
	const struct spec_node *mp, *bt, *second, *mv;
	struct owner owner = OWNER("rollout of service", s->name);
	const char *sug;
	struct spec_diag *dg;
	char *what;
	int64_t iv;
	size_t i, n0 = d->n;

	if (spec_node_is_null(v))
		return;
	if (!check_map(d, v, &owner, rollout_keys, SEC_SERVICES))
		goto out;
	if ((mv = spec_node_get(v, "move")) != NULL) {
		if (mv->kind == SPEC_NODE_SCALAR &&
		    strcmp(mv->str, move_values[1]) == 0)
			s->break_before_make = true;
		else if (mv->kind != SPEC_NODE_SCALAR ||
		    strcmp(mv->str, move_values[0]) != 0) {
			sug = mv->kind == SPEC_NODE_SCALAR ?
			    lr_suggest(mv->str, move_values, 2) : NULL;
			spec_diag_hint(spec_diag_at(d, mv, "move of %s must be "
			    "make-before-break or break-before-make, not "
			    "%s%s%s", owner_str(&owner), mv->kind ==
			    SPEC_NODE_SCALAR ? "'" : "", mv->kind ==
			    SPEC_NODE_SCALAR ? mv->str :
			    spec_node_describe(mv), mv->kind ==
			    SPEC_NODE_SCALAR ? "'" : ""), "%s%s%s"
			    "make-before-break (the default) turns the service "
			    "down on a host it leaves once it validates where "
			    "it runs now; break-before-make turns it down "
			    "first", sug ? "did you mean '" : "", sug ? sug :
			    "", sug ? "'? " : "");
		}
	}
	mp = spec_node_get(v, "max_parallel");
	bt = spec_node_get(v, "batches");
	if (mp && bt) {
		second = spec_node_key(v, "batches");
		if (spec_node_key(v, "max_parallel")->line > second->line)
			second = spec_node_key(v, "max_parallel");
		spec_diag_hint(spec_diag_at(d, second, "%s sets both "
		    "max_parallel and batches", owner_str(&owner)),
		    "keep one of them: max_parallel caps the hosts converging "
		    "at once, batches lists the rollout steps");
		goto out;
	}
	if (mp != NULL && spec_node_int(mp, &iv) && iv >= 1 && iv <= INT_MAX)
		s->max_parallel = (int)iv;
	else if (mp != NULL) {
		what = lr_xasprintf("max_parallel of %s", owner_str(&owner));
		if (spec_get_int(d, mp, what, 1, INT_MAX, &iv) == 0)
			s->max_parallel = (int)iv;
		else
			hint_last(d, n0, "max_parallel is how many hosts "
			    "converge at once (1 or more); leave it out for no "
			    "limit");
		free(what);
	}
	if (spec_node_is_null(bt))
		goto out;
	if (bt->kind != SPEC_NODE_SEQ) {
		spec_diag_hint(spec_diag_at(d, bt, "batches of %s must be a "
		    "list, not %s", owner_str(&owner), spec_node_describe(bt)),
		    "write "
		    "'batches: [1, 10%%, 100%%]'");
		goto out;
	}
	s->batches = lr_xcalloc(bt->n ? bt->n : 1, sizeof(*s->batches));
	for (i = 0; i < bt->n; i++) {
		if (parse_batch(bt->vals[i], &s->batches[s->nbatches])) {
			s->nbatches++;
			continue;
		}
		if (bt->vals[i]->kind == SPEC_NODE_SCALAR)
			dg = spec_diag_at(d, bt->vals[i], "invalid batch '%s' "
			    "in %s", bt->vals[i]->str, owner_str(&owner));
		else
			dg = spec_diag_at(d, bt->vals[i], "batches of %s must "
			    "be numbers or percentages, not %s",
			    owner_str(&owner),
			    spec_node_describe(bt->vals[i]));
		spec_diag_hint(dg, "a batch is a number of hosts (1 or more) "
		    "or a percentage from 1%% to 100%%");
	}
out:
	owner_release(&owner);
}

static void
load_service(struct spec_repo *repo, const struct spec_node *key,
    const struct spec_node *val, struct spec_diags *d)
{
	struct spec_service *s;
	const struct spec_node *v;
	struct owner owner = OWNER("service", key->str);
	int e;

	check_name(d, key, "service");
	s = SPEC_PUSH(repo->services, repo->nservices);
	idx_add(repo, IDX_SERVICES, key->str, repo->nservices - 1);
	s->name = lr_xstrdup(key->str);
	s->node = key;
	s->scheduling_group.name = lr_xstrdup("all");
	s->num_instances = -1;
	s->roles_defaulted = true;
	/* leura.yml is loaded before services.yml */
	s->drift = repo->settings.defaults.drift;
	if (spec_node_is_null(val) ||
	    !check_map(d, val, &owner, service_keys, SEC_SERVICES))
		goto out;
	read_str(d, val, "description", &owner, &s->description);
	if ((v = spec_node_get(val, "scheduling_group")) != NULL) {
		read_str(d, val, "scheduling_group", &owner,
		    &s->scheduling_group.name);
		s->scheduling_group.node = v;
	}
	if ((v = spec_node_get(val, "num_instances")) != NULL)
		load_num_instances(s, v, d);
	if ((v = spec_node_get(val, "spread_by")) != NULL) {
		read_str(d, val, "spread_by", &owner, &s->spread_by.name);
		s->spread_by.node = v;
	}
	if (spec_node_key(val, "roles") != NULL) {
		s->roles_defaulted = false;
		read_refs(d, spec_node_get(val, "roles"), "roles", &owner,
		    &s->roles, &s->nroles);
	}
	read_refs(d, spec_node_get(val, "depends_on"), "depends_on", &owner,
	    &s->depends_on, &s->ndepends_on);
	/* of a wrong type (reported), they stay unset */
	if ((v = spec_node_get(val, "params")) != NULL)
		read_obj(d, v, "params", &owner, SEC_SERVICES, &s->params);
	load_rollout(s, spec_node_get(val, "rollout"), d);
	if ((v = spec_node_get(val, "drift")) != NULL &&
	    read_enum(d, v, "drift", &owner, drift_vals, &e) == 0)
		s->drift = (enum spec_drift)e;
	s->service_credentials = load_attr(d, val, "service_credentials",
	    credential_fields, s->name);
	s->monitoring_endpoints = load_attr(d, val, "monitoring_endpoints",
	    monitoring_fields, s->name);
	s->public_endpoints = load_attr(d, val, "public_endpoints",
	    public_fields, s->name);
	s->containers = load_attr(d, val, "containers", container_fields,
	    s->name);
out:
	if (s->params == NULL)
		s->params = json_object();
	/* a service whose map was wrong has none of them */
	if (s->service_credentials == NULL) {
		s->service_credentials = json_array();
		s->monitoring_endpoints = json_array();
		s->public_endpoints = json_array();
		s->containers = json_array();
	}
	owner_release(&owner);
}

static bool
has_service(struct spec_repo *repo, const char *name)
{
	return idx_find(repo, IDX_SERVICES, name) >= 0;
}

void
spec_load_services(struct spec_repo *repo, const struct spec_node *root,
    struct spec_diags *d)
{
	size_t i;

	if (spec_node_is_null(root))
		return;
	if (root->kind != SPEC_NODE_MAP) {
		spec_diag_hint(spec_diag_at(d, root, "services.yml must be a "
		    "mapping of service names to services, not %s",
		    spec_node_describe(root)), "write 'web: {scheduling_group: "
		    "frontend}', see leura-spec(5), %s", SEC_SERVICES);
		return;
	}
	for (i = 0; i < root->n; i++) {
		/* the YAML layer reported a repeated key: keep the first */
		if (is_broken_key(root->keys[i]) ||
		    has_service(repo, root->keys[i]->str))
			continue;
		load_service(repo, root->keys[i], root->vals[i], d);
	}
}

/* ---- systems.yml ---- */

static const char *const system_keys[] = {
	"description", "services", "systems", NULL
};

void
spec_load_systems(struct spec_repo *repo, const struct spec_node *root,
    struct spec_diags *d)
{
	const struct spec_node *key, *val;
	struct spec_system *sy;
	struct owner owner;
	size_t i, j;

	if (spec_node_is_null(root))
		return;
	if (root->kind != SPEC_NODE_MAP) {
		spec_diag_hint(spec_diag_at(d, root, "systems.yml must be a "
		    "mapping of system names to systems, not %s",
		    spec_node_describe(root)), "write 'shop: {services: [web, "
		    "db]}', see leura-spec(5), %s", SEC_SYSTEMS);
		return;
	}
	for (i = 0; i < root->n; i++) {
		key = root->keys[i];
		val = root->vals[i];
		for (j = 0; j < repo->nsystems; j++)
			if (strcmp(repo->systems[j].name, key->str) == 0)
				break;
		if (is_broken_key(key) || j < repo->nsystems)
			continue;
		check_name(d, key, "system");
		sy = SPEC_PUSH(repo->systems, repo->nsystems);
		sy->name = lr_xstrdup(key->str);
		sy->node = key;
		owner = (struct owner)OWNER("system", key->str);
		if (!spec_node_is_null(val) &&
		    check_map(d, val, &owner, system_keys, SEC_SYSTEMS)) {
			read_str(d, val, "description", &owner,
			    &sy->description);
			read_refs(d, spec_node_get(val, "services"),
			    "services", &owner, &sy->services, &sy->nservices);
			read_refs(d, spec_node_get(val, "systems"), "systems",
			    &owner, &sy->systems, &sy->nsystems);
		}
		owner_release(&owner);
	}
}

/* ---- release ---- */

void
spec_host_release(struct spec_host *h)
{
	if (h == NULL)
		return;
	free(h->name);
	free(h->address);
	spec_refs_free(h->groups, h->ngroups);
	json_decref(h->vars);
	memset(h, 0, sizeof(*h));
}

void
spec_group_release(struct spec_group *g)
{
	if (g == NULL)
		return;
	free(g->name);
	free(g->description);
	json_decref(g->vars);
	spec_refs_free(g->hosts, g->nhosts);
	memset(g, 0, sizeof(*g));
}

void
spec_service_release(struct spec_service *s)
{
	if (s == NULL)
		return;
	free(s->name);
	free(s->description);
	free(s->scheduling_group.name);
	free(s->spread_by.name);
	spec_refs_free(s->roles, s->nroles);
	spec_refs_free(s->depends_on, s->ndepends_on);
	json_decref(s->params);
	free(s->batches);
	json_decref(s->service_credentials);
	json_decref(s->monitoring_endpoints);
	json_decref(s->public_endpoints);
	json_decref(s->containers);
	memset(s, 0, sizeof(*s));
}

void
spec_system_release(struct spec_system *sy)
{
	if (sy == NULL)
		return;
	free(sy->name);
	free(sy->description);
	spec_refs_free(sy->services, sy->nservices);
	spec_refs_free(sy->systems, sy->nsystems);
	memset(sy, 0, sizeof(*sy));
}
