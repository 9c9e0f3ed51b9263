/*
 * deploy: plan a commit against what is applied and write it (deploy.h).
 *
 * Only hosts whose document hash differs are fetched and diffed: an
 * unchanged repo costs one keys-only read of the documents.  The desired
 * state is a function of the config repo's content and of leura's
 * version: when the applied head was compiled from the same tree by the
 * same version, and the documents it wrote are all there, nothing can
 * differ and no compile is needed.
 */
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "deploy.h"
#include "diff.h"
#include "doc.h"
#include "fields.h"
#include "hash.h"
#include "json.h"
#include "xalloc.h"

/* ---- the plan ---- */

int
rec_plan_open(struct rec_plan *p, struct etcd *e, const char *prefix,
    struct lr_err *err)
{
	int rc;

	memset(p, 0, sizeof(*p));
	spec_diags_init(&p->to.diags);
	p->etcd = e;
	if ((rc = rec_applied_load(e, prefix, &p->applied, err)) < 0)
		return rc;
	if (p->applied.head) {
		struct proto_head h;
		struct lr_buf b = LR_BUF_INIT;

		/* the store's words, shown in plans and errors: visible */
		proto_head_decode(p->applied.head, &h);
		lr_buf_printf(&b, "deploy #%lld (commit ", (long long)h.deploy);
		if (h.commit != NULL)
			lr_buf_add_visible(&b, h.commit, strnlen(h.commit, 12),
			    0);
		lr_buf_addc(&b, ')');
		p->from_label = lr_buf_detach(&b, NULL);
	}
	else
		p->from_label = lr_xstrdup("nothing applied yet");
	return 0;
}

int
rec_plan_compile(struct rec_plan *p, const char *dir, struct rec_git *g,
    const char *ref, struct lr_err *err)
{
	int rc;

	if (g != NULL && ref != NULL)
		rc = rec_load_commit(&p->to, g, ref, REC_COMPILE_DESIRED, err);
	else
		rc = rec_load(&p->to, dir, ref, REC_COMPILE_DESIRED, err);
	if (rc < 0)
		return rc;
	/* another fleet's etcd (or prefix) is refused before any diff */
	if ((rc = rec_fleet_check(p->applied.fleet, p->to.repo->settings.name,
	    etcd_endpoint(p->etcd), p->applied.prefix, err)) < 0)
		return rc;
	p->docs = rec_docs_build(p->to.repo, &p->to.comp);
	p->changes = rec_docs_changes(p->docs, &p->applied);
	p->nchanged = json_array_size(json_object_get(p->changes, "changed")) +
	    json_array_size(json_object_get(p->changes, "removed"));
	return 0;
}

/*
 * The applied side as the diff needs it: for placement, every host;
 * unchanged hosts have the same document on both sides, so the compiled
 * ones stand in for them.
 */
static void
build_sides(struct rec_plan *p, const struct rec_compiled *applied)
{
	json_t *all = json_object(), *v;
	const char *h;
	size_t i;

	json_object_update(all, p->to.comp.desired);
	json_array_foreach(json_object_get(p->changes, "changed"), i, v) {
		h = json_string_value(v);
		json_object_del(all, h);
		json_object_set(p->to_sub.desired, h, json_object_get(
		    p->to.comp.desired, h));
	}
	json_object_foreach(applied->desired, h, v) {
		json_object_set(all, h, v);
		json_object_set(p->from_sub.desired, h, v);
	}
	p->from_sub.placement = rec_placement_of(all);
	p->to_sub.placement = json_incref(p->to.comp.placement);
	p->to_sub.files = json_incref(p->to.comp.files);
	p->to_sub.make_before_break = json_incref(
	    p->to.comp.make_before_break);
	json_decref(all);
}

int
rec_plan_diff(struct rec_plan *p, struct lr_err *err)
{
	struct rec_compiled applied = { 0 };
	json_t *want, *v;
	size_t i;
	int rc;

	want = json_array();
	json_array_foreach(json_object_get(p->changes, "changed"), i, v)
		if (json_object_get(p->applied.hosts, json_string_value(v)))
			json_array_append(want, v);
	json_array_foreach(json_object_get(p->changes, "removed"), i, v)
		json_array_append(want, v);
	if ((rc = rec_applied_docs(p->etcd, &p->applied, want, &applied,
	    err)) < 0)
		goto out;
	p->from_sub.desired = json_object();
	p->from_sub.files = json_incref(applied.files);
	p->to_sub.desired = json_object();
	build_sides(p, &applied);
	p->diff = rec_diff(&p->from_sub, &p->to_sub);
out:
	json_decref(want);
	rec_compiled_release(&applied);
	return rc;
}

/* The "before" sha256 of every changed file step in d: a new array. */
static json_t *
file_hashes(const json_t *d)
{
	json_t *out = json_array(), *h, *c, *sha;
	const char *k;
	size_t i;

	json_object_foreach((json_t *)json_object_get(d, "hosts"), k, h)
		json_array_foreach(json_object_get(h, "changed"), i, c)
			if ((sha = json_object_get(json_object_get(c, "before"),
			    "sha256")) != NULL)
				json_array_append(out, sha);
	return out;
}

int
rec_plan_files(struct rec_plan *p, struct lr_err *err)
{
	json_t *shas = file_hashes(p->diff);
	int rc;

	rc = rec_applied_files(p->etcd, &p->applied, shas, &p->from_sub, err);
	json_decref(shas);
	return rc;
}

void
rec_plan_digest(const struct rec_plan *p, const char *commit,
    const char *tree, char out[REC_PLAN_DIGEST_LEN + 1])
{
	struct lr_buf b = LR_BUF_INIT;
	const char *h;
	json_t *v;
	size_t i;

	/* one line each, in the order of p->changes (sorted by host) */
	lr_buf_printf(&b, "leura-plan-digest 1\ncommit %s\ntree %s\n"
	    "leura %s\n", commit ? commit : "", tree ? tree : "",
	    LEURA_VERSION);
	json_array_foreach(json_object_get(p->changes, "changed"), i, v) {
		h = json_string_value(v);
		lr_buf_printf(&b, "write %s %s\n", h, lr_json_strn(
		    json_object_get(p->docs, h), "sha256"));
	}
	json_array_foreach(json_object_get(p->changes, "removed"), i, v)
		lr_buf_printf(&b, "remove %s\n", json_string_value(v));
	memcpy(out, "sha256:", 7);
	lr_sha256_hex(b.s ? b.s : "", b.len, out + 7);
	lr_buf_release(&b);
}

bool
rec_plan_rewrites_only(const struct rec_plan *p)
{
	return lr_json_int(p->diff, "changes") == 0 && p->nchanged;
}

void
rec_plan_release(struct rec_plan *p)
{
	json_decref(p->docs);
	json_decref(p->changes);
	json_decref(p->diff);
	rec_compiled_release(&p->from_sub);
	rec_compiled_release(&p->to_sub);
	free(p->from_label);
	rec_applied_release(&p->applied);
	rec_load_release(&p->to);
	memset(p, 0, sizeof(*p));
}

/* ---- the deploy ---- */

/* "alice@ws1": $LEURA_USER, else the login name, at this host (owned). */
static char *
deploy_who(void)
{
	const char *u = getenv("LEURA_USER");
	struct passwd *pw;
	char host[HOST_NAME_MAX + 1];

	if (u != NULL && *u)
		return lr_xstrdup(u);
	pw = getpwuid(getuid());
	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	return lr_xasprintf("%s@%s", pw ? pw->pw_name : "uid", host);
}

int
rec_deploy_open(struct rec_deploy *d, struct rec_git *g,
    const struct rec_deploy_opts *o, struct lr_err *err)
{
	const char *rev;
	int rc;

	memset(d, 0, sizeof(*d));
	d->o = *o;
	d->git = g;
	d->ref = o->ref ? o->ref : "HEAD";
	rev = o->commit ? o->commit : d->ref;
	if (g->subdir != NULL && gitsrc_dirty(g->repo, g->subdir,
	    &d->uncommitted, &d->nuncommitted, err) < 0)
		lr_err_clear(err);	/* left out: never fails the deploy */
	if ((rc = gitsrc_describe(g->repo, rev, &d->commit, err)) < 0)
		return rc;
	snprintf(d->label, sizeof(d->label), "commit %.12s (%s)",
	    d->commit.id, d->ref);
	return gitsrc_tree_id(g->repo, rev, g->subdir, d->tree, err);
}

/* 0 when the new commit may replace the applied one. */
static int
check_ancestry(struct rec_deploy *d, struct lr_err *err)
{
	const char *old = lr_json_strn(d->plan.applied.head,
	    PROTO_HEAD_COMMIT);
	const char *commit = d->commit.id;
	int rc;

	if (old == NULL || strcmp(old, commit) == 0)
		return 0;
	rc = gitsrc_descends(d->git->repo, commit, old, err);
	if (rc == 1 || d->o.rollback) {
		lr_err_clear(err);
		return 0;
	}
	if (rc < 0)
		return rc;
	lr_err_set(err, LR_ECONFLICT, "commit %.12s does not descend from "
	    "the applied commit %.12s (%s)", commit, old,
	    d->plan.from_label);
	return lr_err_hint(err, "apply a commit that contains the applied "
	    "one (git pull, or rebase your branch), or pass --rollback if "
	    "going back is what you mean");
}

/* Whether the applied head was compiled from tree (see the top). */
static bool
same_tree(const struct rec_plan *p, const char *tree)
{
	struct proto_head h;
	const char *k;
	json_t *x;
	int64_t n = 0;

	proto_head_decode(p->applied.head, &h);
	if (h.tree == NULL || h.leura == NULL || strcmp(h.tree, tree) != 0 ||
	    strcmp(h.leura, LEURA_VERSION) != 0)
		return false;
	json_object_foreach(p->applied.hosts, k, x)
		if (!lr_json_bool(x, "removed"))
			n++;
	return n == h.hosts;
}

/*
 * Whether the applied head is not signed by k: by another key (then its
 * documents are too, and the agents would refuse them once they trust
 * only k), by none, or not at all as its signature claims (someone with
 * access to etcd wrote it).  Its signature is checked, not just read, so
 * that such a head never passes for the one k signed.
 */
static bool
needs_resign(const struct rec_plan *p, const struct lr_sign_key *k)
{
	const struct rec_applied *a = &p->applied;
	struct lr_err err;
	json_t *v = NULL;
	bool ok;

	if (k == NULL || a->head == NULL)
		return false;
	ok = proto_verify_value(a->head_raw, a->head_raw_len, NULL, k, &v,
	    &err) == 0;
	json_decref(v);
	return !ok;
}

/* Write every host's document anew: all of docs change. */
static void
resign_all(struct rec_plan *p)
{
	json_t *changed = json_object_get(p->changes, "changed");
	const char *h;
	json_t *v;

	json_array_clear(changed);
	json_object_foreach(p->docs, h, v)
		json_array_append_new(changed, json_string(h));
	p->nchanged = json_array_size(changed) + json_array_size(
	    json_object_get(p->changes, "removed"));
}

int
rec_deploy_plan(struct rec_deploy *d, struct etcd *e, const char *prefix,
    struct lr_err *err)
{
	struct rec_plan *p = &d->plan;
	int rc;

	if ((rc = rec_plan_open(p, e, prefix, err)) < 0 ||
	    (rc = check_ancestry(d, err)) < 0)
		return rc;
	if (d->o.expect >= 0 && d->o.expect != p->applied.head_rev) {
		lr_err_set(err, LR_ECONFLICT, "desired state changed since "
		    "your plan (it saw revision %lld, etcd has %lld: %s)",
		    (long long)d->o.expect, (long long)p->applied.head_rev,
		    p->from_label);
		return lr_err_hint(err, "run %s again", d->o.replan ?
		    d->o.replan : "plan");
	}
	d->resign = needs_resign(p, d->o.sign_key);
	d->same_tree = !d->resign && same_tree(p, d->tree);
	if (d->same_tree) {
		rec_plan_digest(p, d->commit.id, d->tree, d->digest);
		return 0;
	}
	if ((rc = rec_plan_compile(p, NULL, d->git, d->o.commit ?
	    d->o.commit : d->ref, err)) < 0)
		return rc;
	rec_plan_digest(p, d->commit.id, d->tree, d->digest);
	if (d->resign)
		resign_all(p);
	if (p->nchanged == 0 || !d->o.diff)
		return 0;
	if ((rc = rec_plan_diff(p, err)) < 0)
		return rc;
	if (d->o.contents && rec_plan_files(p, err) < 0) {
		/* the plan stands without the old contents */
		d->files_warning = lr_xstrdup(err->msg);
		lr_err_clear(err);
	}
	return 0;
}

/* {host: G} of every host leura status lists, at its document's G. */
static json_t *
current_targets(const struct rec_applied *a)
{
	json_t *t = json_object(), *x;
	const char *k;

	json_object_foreach(a->hosts, k, x)
		if (!lr_json_bool(x, "removed"))
			json_object_set_new(t, k, json_integer(lr_json_int(x,
			    "generation")));
	return t;
}

/* {host: G} of the hosts this apply wrote, tombstones included. */
static json_t *
written_targets(const json_t *changes, int64_t generation)
{
	json_t *t = json_object(), *v;
	size_t i;

	json_array_foreach(json_object_get(changes, "changed"), i, v)
		json_object_set_new(t, json_string_value(v), json_integer(
		    generation));
	json_array_foreach(json_object_get(changes, "removed"), i, v)
		json_object_set_new(t, json_string_value(v), json_integer(
		    generation));
	return t;
}

int
rec_deploy_write(struct rec_deploy *d, struct lr_err *err)
{
	struct rec_plan *p = &d->plan;
	struct rec_apply_opts o = { 0 };
	char *by = NULL;
	int rc;

	if (p->nchanged == 0) {
		d->deploy = lr_json_int(p->applied.head, PROTO_HEAD_DEPLOY);
		d->generation = p->applied.generation;
		d->revision = p->applied.revision;
		d->targets = current_targets(&p->applied);
		return 0;
	}
	if (d->o.by == NULL)
		by = deploy_who();
	o.commit = d->commit.id;
	o.tree = d->tree;
	o.ref = d->ref;
	o.summary = d->commit.summary;
	o.author = d->commit.author;
	o.by = by ? by : d->o.by;
	o.rollback = d->o.rollback;
	o.lock_wait_ms = d->o.lock_wait_ms;
	o.lock_lease = d->o.lock_lease;
	o.sign_key = d->o.sign_key;
	o.fleet = p->to.repo ? p->to.repo->settings.name : NULL;
	rc = rec_apply_write(p->etcd, &p->applied, p->docs, p->changes,
	    &p->to.comp, &o, &d->res, err);
	free(by);
	if (rc < 0)
		return rc;
	d->written = true;
	d->deploy = d->res.deploy;
	d->generation = d->res.generation;
	d->revision = d->res.revision;
	d->targets = written_targets(p->changes, d->res.generation);
	return 0;
}

void
rec_deploy_release(struct rec_deploy *d)
{
	gitsrc_commit_release(&d->commit);
	gitsrc_paths_free(d->uncommitted);
	free(d->files_warning);
	rec_plan_release(&d->plan);
	json_decref(d->targets);
	memset(d, 0, sizeof(*d));
}

/* ---- the plan as data ---- */

json_t *
rec_plan_json(const struct rec_plan *p, bool deployable, const char *digest)
{
	json_t *out = json_deep_copy(p->diff);

	json_object_set_new(out, "from", json_pack("{s:s, s:O?, s:O?, s:I}",
	    "source", p->from_label, "commit",
	    json_object_get(p->applied.head, PROTO_HEAD_COMMIT), "deploy",
	    json_object_get(p->applied.head, PROTO_HEAD_DEPLOY), "revision",
	    (json_int_t)p->applied.head_rev));
	json_object_set_new(out, "to", json_pack("{s:s, s:s?, s:b}", "source",
	    p->to.label, "commit", p->to.commit, "deployable", deployable));
	json_object_set_new(out, "writes", json_integer(
	    (json_int_t)p->nchanged));
	if (digest)
		json_object_set_new(out, "digest", json_string(digest));
	return out;
}

/* Add the service of step id ("service/role/phase/name") to set. */
static void
touched_step(json_t *set, const char *id)
{
	const char *slash;
	char *svc;

	if (id == NULL || (slash = strchr(id, '/')) == NULL || slash == id)
		return;
	svc = lr_xstrndup(id, (size_t)(slash - id));	/* owned here */
	json_object_set_new(set, svc, json_true());
	free(svc);
}

static int
cmp_str_p(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The keys of set (sorted): a new array. */
static json_t *
sorted_keys(const json_t *set)
{
	json_t *out = json_array();
	const char **k;
	const char *key;
	json_t *v;
	size_t i = 0, n = json_object_size(set);

	k = lr_xcalloc(n ? n : 1, sizeof(*k));	/* owned here */
	json_object_foreach((json_t *)set, key, v)
		k[i++] = key;
	qsort(k, n, sizeof(*k), cmp_str_p);
	for (i = 0; i < n; i++)
		json_array_append_new(out, json_string(k[i]));
	free(k);
	return out;
}

void
rec_plan_touched(const struct rec_plan *p, json_t **services,
    json_t **hosts)
{
	static const char *const ids[] = { "added", "removed", "changed",
	    "triggered", "turndown", NULL };
	static const char *const svcs[] = { "services_added",
	    "services_removed", NULL };
	json_t *sv = json_object(), *hs = json_object(), *h, *v, *a;
	const char *k;
	size_t i, j;

	json_object_foreach(json_object_get(p->diff, "services"), k, v)
		json_object_set_new(sv, k, json_true());
	json_object_foreach(json_object_get(p->diff, "hosts"), k, h) {
		for (j = 0; ids[j]; j++)
			json_array_foreach(json_object_get(h, ids[j]), i, v) {
				if (json_is_string(v))
					touched_step(sv, json_string_value(v));
				else if ((a = json_object_get(v, "service")))
					json_object_set_new(sv,
					    json_string_value(a), json_true());
				else
					touched_step(sv, lr_json_str(v, "id"));
			}
		for (j = 0; svcs[j]; j++)
			json_array_foreach(json_object_get(h, svcs[j]), i, v)
				if (json_is_string(v))
					json_object_set_new(sv,
					    json_string_value(v), json_true());
	}
	json_array_foreach(json_object_get(p->changes, "changed"), i, v)
		json_object_set_new(hs, json_string_value(v), json_true());
	json_array_foreach(json_object_get(p->changes, "removed"), i, v)
		json_object_set_new(hs, json_string_value(v), json_true());
	*services = sorted_keys(sv);
	*hosts = sorted_keys(hs);
	json_decref(sv);
	json_decref(hs);
}

json_t *
rec_unconverged(const struct rec_applied *a, struct etcd *e,
    const char *prefix, struct lr_err *err)
{
	json_t *observed = NULL, *agents = NULL, *st, *out, *v;
	const char *h;

	if (rec_observed_load(e, prefix, &observed, &agents, err) < 0)
		return NULL;
	/* host states need only each document's generation */
	st = rec_status(a->hosts, observed, agents, (int64_t)time(NULL));
	out = json_object();
	json_object_foreach(json_object_get(st, "hosts"), h, v)
		if (strcmp(json_string_value(json_object_get(v, "state")),
		    "converged") != 0)
			json_object_set_new(out, h, json_pack("{s:O, s:O*}",
			    "state", json_object_get(v, "state"), "reason",
			    json_object_get(v, "reason")));
	json_decref(st);
	json_decref(observed);
	json_decref(agents);
	return out;
}
