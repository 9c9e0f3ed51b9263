/*
 * leurad's git source and the applies it makes (source.h; docs/server.md,
 * "Git source, webhooks, auto-apply, HA").
 *
 * The source is a git remote (a path, https or ssh) mirrored into
 * DATA_DIR/source.git (source_git.c); every plan and apply fetches first,
 * then reads the commit from the mirror with no checkout (reconcile's
 * gitsrc).  Routes:
 *
 *   GET  /v1/sources          the source, its branches' fetched commits
 *                             (P/source/branches/) and the last delivery;
 *   POST /v1/sources/refresh  a push webhook (its signature), or a caller
 *                             with apply on fleet: fetch, and when the
 *                             branch is in the commit's leura.yml
 *                             auto_apply, queue a delivery that the leader
 *                             applies; the answer waits for it (30 s);
 *   POST /v1/plan {ref}       the plan, as `leura plan --json`; needs read
 *                             on every service and host it touches;
 *   POST /v1/apply {ref, expect_revision, rollback}
 *                             plan, check apply on every service and host
 *                             it touches (403 names the first missing),
 *                             write, signed with leurad's key, by the
 *                             caller.
 *
 * Deliveries (P/source/deliveries/<unix-ns:019>-<rand:8hex>) are how a
 * push reaches the leader whichever replica received it: queued
 * "pending", claimed "applying" by the leader's worker in a transaction
 * on the record's mod_revision (so two workers never both claim one),
 * then "applied", "unchanged" or "failed".  A worker that becomes leader
 * first takes every delivery still pending, or left applying by a leader
 * that died; applying one again is harmless, since the deploy pipeline
 * writes nothing for a commit already applied and refuses one older than
 * the head (reconcile/deploy.h).  The newest 100 deliveries are kept.
 */
#define LR_LOG_COMPONENT "source"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <uv.h>

#include "auth.h"
#include "buf.h"
#include "clock.h"
#include "deploy.h"
#include "etcd.h"
#include "file.h"
#include "json.h"
#include "keys.h"
#include "leurad.h"
#include "log.h"
#include "source.h"
#include "spec.h"
#include "xalloc.h"

#define SRC_KEEP_DELIVERIES	100
#define SRC_WAIT_MS		30000	/* a webhook's answer waits */
#define SRC_LOCK_WAIT_MS	60000	/* for a running apply */
#define SRC_REF_MAX		256

struct srv_source {
	struct srv	*s;		/* borrowed */
	char		*branch;	/* owned: the source's branch */
	char		*subdir;	/* owned: the config repo's folder
					   in the repository; NULL: root */
	char		*url_public;	/* owned */
	struct src_mirror mirror;	/* owned */
	char		*secret;	/* owned, wiped; NULL: none */
	size_t		 secret_len;
	char		*deliveries;	/* owned: the deliveries key */
	pthread_mutex_t	 fetch_mu;	/* one fetch at a time */
	json_t		*heads;		/* fetch_mu: last fetched */
	/* the auto-apply worker */
	struct etcd	*ew, *ek;	/* owned: watch; the rest */
	uv_thread_t	 thread;
	bool		 started;
	atomic_int	 stop;
	bool		 was_leader;	/* the worker's own */
};

/* ---- set-up ---- */

/* Whether s names a remote (URL or scp-like "user@host:path"). */
static bool
is_remote(const char *s)
{
	const char *colon = strchr(s, ':');

	return strstr(s, "://") != NULL || (colon && strchr(s, '/') &&
	    colon < strchr(s, '/') && s[0] != '/');
}

/* A file's first line (a secret): new, or NULL with err set. */
static char *
read_secret(const char *path, const char *flag, const char *what,
    size_t *len, struct lr_err *err)
{
	char *buf = NULL;
	size_t n = 0;

	if (lr_read_file(path, 4096, &buf, &n, err) < 0) {
		lr_err_hint(err, "give %s a file leurad may read, holding %s "
		    "on its first line", flag, what);
		return NULL;
	}
	n = strcspn(buf, "\r\n");
	buf[n] = '\0';
	if (n == 0) {
		free(buf);
		lr_err_set(err, LR_EINVAL, "%s '%s' is empty", flag, path);
		lr_err_hint(err, "write %s on its first line", what);
		return NULL;
	}
	*len = n;
	return buf;	/* the caller's */
}

/*
 * A local source: the repository holding dir is what is mirrored, and
 * dir's folder in its work tree (a config repo inside a larger
 * repository, as `leura up`'s) is where the specs are read.
 */
static int
local_source(struct srv_source *src, const char *dir, struct lr_err *err)
{
	struct rec_git *g = NULL;
	const char *root;
	int rc;

	if ((rc = rec_git_open(dir, &g, err)) < 0) {
		lr_err_hint(err, "--source names a git repository (or a folder "
		    "of one): commit the config repo to git first");
		return rc;
	}
	root = gitsrc_workdir(g->repo);
	src->mirror.url = lr_xstrdup(root ? root : dir);
	if (g->subdir && *g->subdir)
		src->subdir = lr_xstrdup(g->subdir);
	rec_git_free(g);
	return 0;
}

int
src_init(struct srv *s, const struct src_config *c, struct lr_err *err)
{
	struct srv_source *src;
	char abs[PATH_MAX];
	int rc;

	s->source = NULL;
	if (c->source == NULL) {
		if (c->secret_file || c->token_file || c->ssh_key) {
			lr_err_set(err, LR_EINVAL, "--webhook-secret-file, "
			    "--source-token-file and --source-ssh-key need "
			    "--source");
			lr_err_hint(err, "give --source PATH|URL, the git "
			    "repository leurad deploys from");
			return LR_EINVAL;
		}
		return 0;
	}
	src = lr_xcalloc(1, sizeof(*src));	/* s->source: src_free */
	src->s = s;
	pthread_mutex_init(&src->fetch_mu, NULL);
	atomic_init(&src->stop, 0);
	s->source = src;
	src->branch = lr_xstrdup(c->branch ? c->branch : "main");
	if (is_remote(c->source))
		src->mirror.url = lr_xstrdup(c->source);
	else if (realpath(c->source, abs) == NULL) {
		lr_err_set(err, LR_ENOENT, "--source '%s': %s", c->source,
		    strerror(errno));
		lr_err_hint(err, "give the path of a git repository, or a "
		    "URL (https://, ssh://)");
		return LR_ENOENT;
	} else if ((rc = local_source(src, abs, err)) < 0)
		return rc;
	src->url_public = src_url_public(src->mirror.url);
	src->mirror.path = lr_xasprintf("%s/source.git", s->data_dir);
	if (c->ssh_key)
		src->mirror.ssh_key = lr_xstrdup(c->ssh_key);
	if (c->token_file && (src->mirror.token = read_secret(c->token_file,
	    "--source-token-file", "the git host's token", &(size_t){ 0 },
	    err)) == NULL)
		return err->code;
	if (c->secret_file && (src->secret = read_secret(c->secret_file,
	    "--webhook-secret-file", "the webhooks' secret",
	    &src->secret_len, err)) == NULL)
		return err->code;
	src->deliveries = proto_key_deliveries_dir(s->prefix);
	if ((rc = ldr_etcd_new(s, &src->ew, err)) < 0 ||
	    (rc = ldr_etcd_new(s, &src->ek, err)) < 0)
		return rc;
	return 0;
}

/* Put v (compact JSON) at key: 0 and *rev, or an LR_E* (err set). */
static int
put_json(struct etcd *e, const char *key, const json_t *v,
    int64_t *rev, struct lr_err *err)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
	int rc;

	rc = etcd_put(e, key, s, strlen(s), 0, rev, err);
	free(s);
	return rc;
}

/* ---- fetching ---- */

/*
 * Fetch the source into the mirror and record in etcd (e) each branch
 * whose commit moved: P/source/branches/<b> {"commit","fetched",
 * "replica"}.  *heads (may be NULL): {branch: id}, new.
 */
static int
src_fetch(struct srv_source *src, struct etcd *e, json_t **heads,
    struct lr_err *err)
{
	json_t *h = NULL, *old, *v, *rec;
	const char *b;
	char now[LR_TIME_ISO_LEN], *key;
	struct lr_err e2;
	int rc;

	pthread_mutex_lock(&src->fetch_mu);
	if ((rc = src_mirror_fetch(&src->mirror, &h, err)) < 0) {
		pthread_mutex_unlock(&src->fetch_mu);
		srv_metrics_inc("leurad_source_fetches_total",
		    "outcome=\"failed\"");
		return rc;
	}
	srv_metrics_inc("leurad_source_fetches_total", "outcome=\"ok\"");
	old = src->heads;
	src->heads = json_incref(h);
	pthread_mutex_unlock(&src->fetch_mu);
	lr_time_iso_now(now);
	lr_err_clear(&e2);
	json_object_foreach(h, b, v) {
		if (json_equal(v, json_object_get(old, b)))
			continue;
		key = proto_key_branch(src->s->prefix, b);
		rec = json_pack("{s:O, s:s, s:s}", "commit", v, "fetched",
		    now, "replica", src->s->id);
		/* best effort: the answer does not depend on it */
		if (put_json(e, key, rec, NULL, &e2) < 0)
			lr_log_warn("cannot record branch %s: %s", b, e2.msg);
		json_decref(rec);
		free(key);
	}
	json_object_foreach(old, b, v)
		if (json_object_get(h, b) == NULL) {
			key = proto_key_branch(src->s->prefix, b);
			etcd_delete(e, key, 0, NULL, NULL, &e2);
			free(key);
		}
	json_decref(old);
	if (heads)
		*heads = h;
	else
		json_decref(h);
	return 0;
}

/* ---- answers ---- */

/* 404 when leurad has no source: true when it has one. */
static bool
need_source(struct srv_req *req, struct srv_resp *resp)
{
	if (req->srv->source)
		return true;
	srv_resp_error(resp, 404, "not_found", "start leurad with --source "
	    "PATH|URL, the git repository it deploys from", "leurad has no "
	    "git source");
	return false;
}

/* The specs of what was loaded do not hold: 400 with every diagnostic. */
static void
resp_diags(struct srv_resp *resp, const struct rec_load *l)
{
	json_t *d = spec_diags_to_json(&l->diags), *first = json_array_get(d,
	    0);

	srv_resp_json(resp, 400, json_pack("{s:{s:s, s:s+, s:s, s:o}}",
	    "error", "code", "invalid_specs", "message", l->label ? l->label :
	    "the specs", l->diags.nerrors == 1 ? " has 1 error" : " has "
	    "errors (see diagnostics)", "hint", first ? lr_json_str(first,
	    "message") : "run 'leura validate' on the commit", "diagnostics",
	    d));
}

/* A load or deploy error: the diagnostics when there are some. */
static void
resp_load_err(struct srv_resp *resp, const struct rec_load *l,
    const struct lr_err *err)
{
	if (l->diags.nerrors)
		resp_diags(resp, l);
	else
		srv_resp_lr_err(resp, err);
}

/*
 * Whether the caller may do verb on everything services and hosts name
 * (arrays of names): answers 403 naming the first that fails.
 */
static bool
require_all(struct srv_req *req, struct srv_resp *resp,
    enum auth_verb verb, const json_t *services, const json_t *hosts)
{
	const json_t *lists[2] = { services, hosts };
	const char *kinds[2] = { "services", "hosts" };
	char res[512];
	json_t *v;
	size_t i, k;

	for (k = 0; k < 2; k++)
		json_array_foreach(lists[k], i, v) {
			snprintf(res, sizeof(res), "%s/%s", kinds[k],
			    json_string_value(v));
			if (!auth_require(req, resp, verb, res))
				return false;
		}
	return true;
}

/* A string member: 0 and *out (NULL: absent), or -1 after a 400. */
static int
body_str(const json_t *body, const char *name, struct srv_resp *resp,
    const char **out)
{
	const json_t *v = json_object_get(body, name);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    json_string_length(v) > SRC_REF_MAX) {
		srv_resp_error(resp, 400, "bad_request", "give a branch, tag "
		    "or commit of the source, e.g. \"main\"", "field '%s' "
		    "must be a non-empty string of at most %d bytes", name,
		    SRC_REF_MAX);
		return -1;
	}
	*out = json_string_value(v);
	return 0;
}

/* Open the mirror, the config repo at src->subdir: 0 or an LR_E*. */
static int
mirror_open(struct srv_source *src, struct rec_git **out, struct lr_err *err)
{
	int rc;

	if ((rc = rec_git_open(src->mirror.path, out, err)) < 0)
		return rc;
	free((*out)->subdir);
	(*out)->subdir = src->subdir ? lr_xstrdup(src->subdir) : NULL;
	return 0;
}

/* Fetch (503 when it fails) and open the mirror: NULL after an answer. */
static struct rec_git *
open_fresh(struct srv_req *req, struct srv_resp *resp)
{
	struct srv_source *src = req->srv->source;
	struct rec_git *g = NULL;
	struct lr_err err;

	lr_err_clear(&err);
	if (src_fetch(src, req->etcd, NULL, &err) < 0) {
		srv_resp_error(resp, 503, "unavailable", err.hint, "%s",
		    err.msg);
		return NULL;
	}
	if (mirror_open(src, &g, &err) < 0) {
		srv_resp_lr_err(resp, &err);
		return NULL;
	}
	return g;
}

/* ---- a commit's specs (the run engine's) ---- */

int
src_load_commit(struct srv *s, struct etcd *e, const char *commit,
    unsigned flags, struct rec_load *l, struct lr_err *err)
{
	struct srv_source *src = s->source;
	struct rec_git *g = NULL;
	int rc;

	if (src == NULL) {
		lr_err_set(err, LR_EINVAL, "leurad has no git source to read "
		    "commit %.12s from", commit);
		return lr_err_hint(err, "start leurad with --source PATH|URL, "
		    "the git repository it deploys from");
	}
	if ((rc = mirror_open(src, &g, err)) == 0) {
		rc = rec_load_commit(l, g, commit, flags, err);
		rec_git_free(g);
		g = NULL;
		/* a commit applied by another (leura apply): not fetched yet */
		if (rc == 0 || l->diags.nerrors)
			return rc;
	}
	rec_load_release(l);
	spec_diags_init(&l->diags);
	lr_err_clear(err);
	if ((rc = src_fetch(src, e, NULL, err)) < 0 ||
	    (rc = mirror_open(src, &g, err)) < 0)
		return rc;
	rc = rec_load_commit(l, g, commit, flags, err);
	rec_git_free(g);
	return rc;
}

/* ---- GET /v1/sources ---- */

static void
get_sources(struct srv_req *req, struct srv_resp *resp)
{
	struct srv_source *src = req->srv->source;
	struct etcd_range_req rq = { 0 };
	struct etcd_range_result r = { 0 };
	struct lr_err err;
	json_t *branches, *item, *v, *last = NULL;
	char *dir;
	size_t i;
	int rc;

	if (!need_source(req, resp) ||
	    !auth_require(req, resp, AUTH_READ, "fleet"))
		return;
	lr_err_clear(&err);
	dir = proto_key_branches_dir(req->srv->prefix);
	rq.key = dir;
	rq.flags = ETCD_PREFIX;
	rc = etcd_range(req->etcd, &rq, &r, &err);
	if (rc < 0) {
		free(dir);
		srv_resp_lr_err(resp, &err);
		return;
	}
	branches = json_object();
	for (i = 0; i < r.nkvs; i++)
		if ((v = json_loads(r.kvs[i].value, 0, NULL)) != NULL)
			json_object_set_new(branches, r.kvs[i].key +
			    strlen(dir), v);
	etcd_range_result_release(&r);
	free(dir);
	/* the newest delivery: the last key (they sort by time) */
	rq.key = src->deliveries;
	rq.flags = ETCD_PREFIX | ETCD_KEYS_ONLY;
	if (etcd_range(req->etcd, &rq, &r, &err) == 0 && r.nkvs) {
		struct etcd_kv kv = { 0 };

		if (etcd_get(req->etcd, r.kvs[r.nkvs - 1].key, &kv, NULL,
		    &err) == 0)
			last = json_loads(kv.value, 0, NULL);
		etcd_kv_release(&kv);
	}
	etcd_range_result_release(&r);
	item = json_pack("{s:s, s:s, s:s?, s:s, s:O?, s:o, s:o, s:b}", "name",
	    "default", "url", src->url_public, "path", src->subdir,
	    "branch", src->branch,
	    "commit", json_object_get(json_object_get(branches, src->branch),
	    "commit"), "branches", branches, "last_delivery", last ? last :
	    json_null(), "webhook_secret", src->secret != NULL);
	srv_resp_json(resp, 200, json_pack("{s:[o], s:n}", "items", item,
	    "next"));
}

/* ---- POST /v1/plan ---- */

static void
post_plan(struct srv_req *req, struct srv_resp *resp)
{
	static const char *const fields[] = { "ref", NULL };
	struct srv_source *src = req->srv->source;
	struct rec_plan p = { 0 };
	struct rec_git *g = NULL;
	struct lr_err err;
	json_t *body = NULL, *out, *svcs = NULL, *hosts = NULL, *unc, *v;
	const char *ref, *h;
	char tree[41], digest[REC_PLAN_DIGEST_LEN + 1], res[512];
	void *tmp;

	spec_diags_init(&p.to.diags);
	if (!need_source(req, resp) ||
	    srv_body_object(req, resp, fields, &body) < 0 ||
	    body_str(body, "ref", resp, &ref) < 0)
		goto out;
	if (ref == NULL)
		ref = src->branch;
	lr_err_clear(&err);
	if ((g = open_fresh(req, resp)) == NULL)
		goto out;
	if (rec_plan_open(&p, req->etcd, req->srv->prefix, &err) < 0) {
		srv_resp_lr_err(resp, &err);
		goto out;
	}
	if (rec_plan_compile(&p, NULL, g, ref, &err) < 0) {
		resp_load_err(resp, &p.to, &err);
		goto out;
	}
	if (gitsrc_tree_id(g->repo, p.to.commit, g->subdir, tree, &err) < 0 ||
	    rec_plan_diff(&p, &err) < 0) {
		srv_resp_lr_err(resp, &err);
		goto out;
	}
	rec_plan_touched(&p, &svcs, &hosts);
	if (!require_all(req, resp, AUTH_READ, svcs, hosts))
		goto out;
	rec_plan_digest(&p, p.to.commit, tree, digest);
	out = rec_plan_json(&p, true, digest);
	json_object_set_new(out, "uncommitted", json_array());
	/* agents' reports: only of hosts the caller may read */
	lr_err_clear(&err);
	if ((unc = rec_unconverged(&p.applied, req->etcd, req->srv->prefix,
	    &err)) == NULL)
		unc = json_object();
	json_object_foreach_safe(unc, tmp, h, v) {
		snprintf(res, sizeof(res), "hosts/%s", h);
		if (!auth_can(req, AUTH_READ, res, NULL))
			json_object_del(unc, h);
	}
	json_object_set_new(out, "not_converged", unc);
	json_object_set_new(out, "touched", json_pack("{s:O, s:O}",
	    "services", svcs, "hosts", hosts));
	srv_resp_json(resp, 200, out);
out:
	json_decref(svcs);
	json_decref(hosts);
	json_decref(body);
	rec_plan_release(&p);
	rec_git_free(g);
}

/* ---- a deploy (POST /v1/apply and the auto-apply worker) ---- */

/*
 * What a deploy answers: {written, deploy, generation, revision, commit,
 * ref, changed: {hosts, services}, hosts_written, files_written, bytes,
 * transactions, plan} (apply --json's shape, and the plan).
 */
static json_t *
deploy_json(const struct rec_deploy *d, json_t *svcs, json_t *hosts)
{
	json_t *out = json_pack("{s:b, s:I, s:I, s:I, s:s, s:s, s:{s:O, s:O},"
	    " s:I, s:I, s:I, s:I}", "written", d->written, "deploy",
	    (json_int_t)d->deploy, "generation", (json_int_t)d->generation,
	    "revision", (json_int_t)d->revision, "commit", d->commit.id,
	    "ref", d->ref, "changed", "hosts", hosts, "services", svcs,
	    "hosts_written", (json_int_t)(d->written ? d->res.hosts_written :
	    0), "files_written", (json_int_t)(d->written ?
	    d->res.files_written : 0), "bytes", (json_int_t)(d->written ?
	    d->res.bytes : 0), "transactions", (json_int_t)(d->written ?
	    d->res.txns : 0));

	/* the plan applied, as POST /v1/plan shows it */
	if (d->plan.diff)
		json_object_set_new(out, "plan", rec_plan_json(&d->plan, true,
		    d->digest));
	return out;
}

static void
post_apply(struct srv_req *req, struct srv_resp *resp)
{
	static const char *const fields[] = { "ref", "expect_revision",
	    "rollback", NULL };
	struct srv_source *src = req->srv->source;
	struct rec_deploy_opts o = { 0 };
	struct rec_deploy d = { 0 };
	struct rec_git *g = NULL;
	struct lr_err err;
	json_t *body = NULL, *v, *svcs = NULL, *hosts = NULL;
	const char *ref;
	char res[64];
	int rc;

	spec_diags_init(&d.plan.to.diags);
	if (!need_source(req, resp) ||
	    srv_body_object(req, resp, fields, &body) < 0 ||
	    body_str(body, "ref", resp, &ref) < 0)
		goto out;
	o.expect = -1;
	if ((v = json_object_get(body, "expect_revision")) != NULL &&
	    !json_is_null(v)) {
		if (!json_is_integer(v) || json_integer_value(v) < 0) {
			srv_resp_error(resp, 400, "bad_request", "give the "
			    "revision a plan showed (its from.revision)",
			    "field 'expect_revision' must be an integer of 0 "
			    "or more");
			goto out;
		}
		o.expect = (int64_t)json_integer_value(v);
	}
	if ((v = json_object_get(body, "rollback")) != NULL &&
	    !json_is_null(v)) {
		if (!json_is_boolean(v)) {
			srv_resp_error(resp, 400, "bad_request", NULL, "field "
			    "'rollback' must be true or false");
			goto out;
		}
		o.rollback = json_is_true(v);
	}
	o.ref = ref ? ref : src->branch;
	o.by = req->who->user;
	o.sign_key = req->srv->sign_key;
	o.lock_wait_ms = SRC_LOCK_WAIT_MS;
	o.diff = true;
	o.replan = "POST /v1/plan";
	lr_err_clear(&err);
	if ((g = open_fresh(req, resp)) == NULL)
		goto out;
	if ((rc = rec_deploy_open(&d, g, &o, &err)) < 0 ||
	    (rc = rec_deploy_plan(&d, req->etcd, req->srv->prefix,
	    &err)) < 0) {
		if (rc == LR_ECONFLICT)
			goto conflict;
		resp_load_err(resp, &d.plan.to, &err);
		goto out;
	}
	rec_plan_touched(&d.plan, &svcs, &hosts);
	if (!require_all(req, resp, AUTH_APPLY, svcs, hosts))
		goto out;
	if ((rc = rec_deploy_write(&d, &err)) < 0) {
		if (rc == LR_ECONFLICT)
			goto conflict;
		srv_resp_lr_err(resp, &err);
		srv_metrics_inc("leurad_applies_total",
		    "trigger=\"api\",outcome=\"failed\"");
		goto out;
	}
	srv_metrics_inc("leurad_applies_total", d.written ?
	    "trigger=\"api\",outcome=\"written\"" :
	    "trigger=\"api\",outcome=\"unchanged\"");
	snprintf(res, sizeof(res), "deploys/%lld", (long long)d.deploy);
	srv_req_audit(req, res, json_pack("{s:s, s:s, s:b}", "commit",
	    d.commit.id, "ref", d.ref, "written", d.written));
	srv_resp_json(resp, 200, deploy_json(&d, svcs, hosts));
	goto out;
conflict:
	/* the error shape, and the revision to plan against now */
	srv_resp_json(resp, 409, json_pack("{s:{s:s, s:s, s:s, s:I}}",
	    "error", "code", "conflict", "message", err.msg, "hint",
	    err.hint[0] ? err.hint : "plan again (POST /v1/plan) and apply "
	    "with its from.revision", "revision",
	    (json_int_t)d.plan.applied.head_rev));
out:
	json_decref(svcs);
	json_decref(hosts);
	json_decref(body);
	rec_deploy_release(&d);
	rec_git_free(g);
}

/* ---- deliveries ---- */

static bool
status_final(const char *st)
{
	return st && strcmp(st, "pending") != 0 &&
	    strcmp(st, "applying") != 0;
}


struct waiter {
	json_t	*final;		/* the record once final (new) */
};

static int
wait_batch(const struct etcd_watch_batch *b, void *arg)
{
	struct waiter *w = arg;
	json_t *v;
	size_t i;

	if (b->kind != ETCD_WATCH_EVENTS)
		return 0;
	for (i = 0; i < b->nevents; i++) {
		if (b->events[i].type != ETCD_EV_PUT ||
		    (v = json_loads(b->events[i].kv.value, 0, NULL)) == NULL)
			continue;
		if (status_final(lr_json_strn(v, "status"))) {
			w->final = v;
			return 1;
		}
		json_decref(v);
	}
	return 0;
}

/*
 * A new delivery's id (<unix-ns:019>-<rand:8hex>, so that they sort by
 * time) into rec, with status st: its key (new).
 */
static char *
delivery_key(struct srv *s, json_t *rec, const char *st)
{
	unsigned char rnd[4];
	struct timespec ts;
	char id[40];

	clock_gettime(CLOCK_REALTIME, &ts);
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		memset(rnd, 0, sizeof(rnd));
	snprintf(id, sizeof(id), "%019lld-%02x%02x%02x%02x",
	    (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec, rnd[0], rnd[1],
	    rnd[2], rnd[3]);
	json_object_set_new(rec, "id", json_string(id));
	json_object_set_new(rec, "status", json_string(st));
	return proto_key_delivery(s->prefix, id);
}

/*
 * A delivery that needs nothing more (fetched, not applied): recorded
 * (best effort) and answered 200.
 */
static void
record_and_answer(struct srv_req *req, struct srv_resp *resp, json_t *rec,
    const char *reason)
{
	struct lr_err err;
	char *key = delivery_key(req->srv, rec, "fetched");

	json_object_set_new(rec, "reason", json_string(reason));
	lr_err_clear(&err);
	if (put_json(req->etcd, key, rec, NULL, &err) < 0)
		lr_log_warn("cannot record delivery %s: %s", key, err.msg);
	free(key);
	srv_resp_json(resp, 200, json_incref(rec));
}

/*
 * Queue a delivery for the leader and wait (SRC_WAIT_MS) for its
 * outcome: 200 with the final record, or 202 with the pending one.
 */
static void
queue_and_wait(struct srv_req *req, struct srv_resp *resp, json_t *rec)
{
	struct etcd_watch_req wr = { 0 };
	struct etcd_watch_opts wo = { 0 };
	struct waiter w = { 0 };
	struct lr_err err;
	char *key;
	const char *st, *code;
	int64_t rev = 0;
	int rc;

	key = delivery_key(req->srv, rec, "pending");
	lr_err_clear(&err);
	if (put_json(req->etcd, key, rec, &rev, &err) < 0) {
		srv_resp_lr_err(resp, &err);
		goto out;
	}
	wr.key = key;
	wr.start_revision = rev + 1;
	wo.timeout_ms = SRC_WAIT_MS;
	rc = etcd_watch_run(req->etcd, &wr, &wo, wait_batch, &w, &err);
	if (rc == 1 && w.final) {
		st = lr_json_str(w.final, "status");
		code = lr_json_str(json_object_get(w.final, "error"), "code");
		if (strcmp(st, "applied") == 0 || strcmp(st, "unchanged") == 0)
			srv_resp_json(resp, 200, json_incref(w.final));
		else	/* the error shape, and the delivery */
			srv_resp_json(resp, strcmp(code, "conflict") == 0 ?
			    409 : strcmp(code, "invalid_specs") == 0 ? 400 :
			    500, json_pack("{s:O, s:O}", "error",
			    json_object_get(w.final, "error"), "delivery",
			    w.final));
	} else if (rc == LR_ECANCELED)
		srv_resp_json(resp, 202, json_incref(rec));
	else
		srv_resp_lr_err(resp, &err);
out:
	json_decref(w.final);
	free(key);
}

/*
 * The auto_apply branches of commit's leura.yml: 0 and *out (new array),
 * or LR_EINVAL with the diagnostics in *diags_json (new), or another
 * LR_E* with err set.
 */
static int
auto_apply_of(struct srv_source *src, const char *commit, json_t **out,
    json_t **diags_json, struct lr_err *err)
{
	struct rec_git *g = NULL;
	struct spec_source *ss = NULL;
	struct spec_repo *repo = NULL;
	struct spec_diags d;
	size_t i;
	int rc;

	*out = NULL;
	*diags_json = NULL;
	spec_diags_init(&d);
	if ((rc = rec_git_open(src->mirror.path, &g, err)) < 0 ||
	    (rc = gitsrc_source_new(g->repo, commit, &ss, err)) < 0)
		goto out;
	ss = spec_source_subdir_new(ss, src->subdir);
	rc = spec_settings_load(ss, &repo, &d, err);
	if (rc == LR_EINVAL && d.nerrors) {
		spec_diags_sort(&d);
		*diags_json = spec_diags_to_json(&d);
		goto out;
	}
	if (rc < 0)
		goto out;
	*out = json_array();
	for (i = 0; i < repo->settings.nauto_apply; i++)
		json_array_append_new(*out,
		    json_string(repo->settings.auto_apply[i]));
out:
	spec_diags_release(&d);
	spec_repo_free(repo);
	spec_source_free(ss);
	rec_git_free(g);
	return rc;
}

static bool
in_list(const json_t *a, const char *s)
{
	json_t *v;
	size_t i;

	json_array_foreach(a, i, v)
		if (strcmp(json_string_value(v), s) == 0)
			return true;
	return false;
}

/* ---- POST /v1/sources/refresh ---- */

static void
post_refresh(struct srv_req *req, struct srv_resp *resp)
{
	struct srv_source *src = req->srv->source;
	struct src_hook_headers hh;
	struct src_push push = { 0 };
	struct lr_err err;
	json_t *heads = NULL, *rec = NULL, *aa = NULL, *diags = NULL, *body;
	const char *commit, *branch, *trigger;
	char *by = NULL;
	int prov;

	if (!need_source(req, resp))
		return;
	lr_err_clear(&err);
	hh.github = srv_header(req, "x-hub-signature-256");
	hh.gitea = srv_header(req, "x-gitea-signature");
	hh.gitlab = srv_header(req, "x-gitlab-token");
	srv_req_audit(req, "sources/default", NULL);
	prov = src_hook_verify(src->secret, src->secret_len, &hh, req->body,
	    req->body_len, &err);
	if (prov < 0) {
		srv_metrics_inc("leurad_webhooks_total", "outcome=\"denied\"");
		srv_resp_error(resp, 401, "unauthorized", err.hint, "%s",
		    err.msg);
		return;
	}
	if (prov == SRC_NONE) {
		/* no signature: a caller (the core authenticated a bearer
		   token) with apply on the fleet */
		if (req->who == NULL) {
			srv_resp_error(resp, 401, "unauthorized", "sign the "
			    "webhook (--webhook-secret-file) or send "
			    "'Authorization: Bearer TOKEN' of a user with "
			    "apply on fleet", "refresh needs a webhook "
			    "signature or a valid bearer token");
			return;
		}
		if (!auth_require(req, resp, AUTH_APPLY, "fleet"))
			goto out;
		body = req->body_len ? json_loadb(req->body, req->body_len, 0,
		    NULL) : json_object();
		if (!json_is_object(body) || json_object_size(body) >
		    (json_object_get(body, "branch") ? 1u : 0u) ||
		    (json_object_get(body, "branch") &&
		    !json_is_string(json_object_get(body, "branch")))) {
			json_decref(body);
			srv_resp_error(resp, 400, "bad_request", "send {} or "
			    "{\"branch\": \"main\"}", "refresh takes a JSON "
			    "object with one optional field, 'branch'");
			goto out;
		}
		push.branch = lr_xstrdup(lr_json_strn(body, "branch") ?
		    lr_json_strn(body, "branch") : src->branch);
		push.pusher = lr_xstrdup(req->who->user);
		json_decref(body);
		trigger = "refresh";
	} else {
		if (src_push_parse((enum src_provider)prov, req->body,
		    req->body_len, &push, &err) < 0) {
			srv_resp_lr_err(resp, &err);
			goto out;
		}
		if (push.pusher == NULL)
			push.pusher = lr_xstrdup(src_provider_name(
			    (enum src_provider)prov));
		trigger = "webhook";
	}
	srv_metrics_inc("leurad_webhooks_total", prov == SRC_NONE ?
	    "outcome=\"refresh\"" : "outcome=\"accepted\"");
	if (src_fetch(src, req->etcd, &heads, &err) < 0) {
		srv_resp_error(resp, 503, "unavailable", err.hint, "%s",
		    err.msg);
		goto out;
	}
	branch = push.branch;
	commit = branch ? json_string_value(json_object_get(heads, branch)) :
	    NULL;
	by = lr_xasprintf("%s (%s, via leurad)", push.pusher, trigger);
	rec = json_pack("{s:s, s:s, s:s?, s:s?, s:s?, s:s, s:s, s:s}",
	    "provider", prov == SRC_NONE ? "api" :
	    src_provider_name((enum src_provider)prov), "trigger", trigger,
	    "branch", branch, "commit", commit, "pushed", push.after,
	    "pusher", push.pusher, "by", by, "replica", req->srv->id);
	{
		const char *dl = srv_header(req, "x-github-delivery");

		if (dl == NULL)
			dl = srv_header(req, "x-gitea-delivery");
		if (dl == NULL)
			dl = srv_header(req, "x-gitlab-event-uuid");
		if (dl && strlen(dl) <= 64)
			json_object_set_new(rec, "delivery", json_string(dl));
	}
	{
		char now[LR_TIME_ISO_LEN];

		lr_time_iso_now(now);
		json_object_set_new(rec, "received", json_string(now));
	}
	srv_req_audit(req, "sources/default", json_pack("{s:s?, s:s?, s:s}",
	    "branch", branch, "commit", commit, "pusher", push.pusher));
	if (commit == NULL) {
		record_and_answer(req, resp, rec, branch ? "the branch is not "
		    "in the source (deleted)" : "not a branch push");
		goto out;
	}
	if (auto_apply_of(src, commit, &aa, &diags, &err) < 0) {
		if (diags)
			srv_resp_json(resp, 400, json_pack("{s:{s:s, s:s, s:s, "
			    "s:o}}", "error", "code", "invalid_specs",
			    "message", "leura.yml of the pushed commit does "
			    "not hold: nothing applied", "hint",
			    lr_json_str(json_array_get(diags, 0), "message"),
			    "diagnostics", diags));
		else
			srv_resp_lr_err(resp, &err);
		goto out;
	}
	if (!in_list(aa, branch)) {
		json_object_set_new(rec, "auto_apply", json_incref(aa));
		record_and_answer(req, resp, rec, "the branch is not in "
		    "auto_apply of leura.yml: fetched, not applied");
		goto out;
	}
	queue_and_wait(req, resp, rec);
out:
	free(by);
	json_decref(heads);
	json_decref(rec);
	json_decref(aa);
	src_push_release(&push);
}

/* ---- writers of the source (tasks.c) ---- */

bool
src_target_get(struct srv *s, struct src_target *out)
{
	struct srv_source *src = s->source;

	if (src == NULL)
		return false;
	out->url = src->mirror.url;
	out->local = !is_remote(src->mirror.url) ? src->mirror.url :
	    strncmp(src->mirror.url, "file://", 7) == 0 ?
	    src->mirror.url + 7 : NULL;
	out->remote = out->local == NULL;
	out->mirror = src->mirror.path;
	out->branch = src->branch;
	out->subdir = src->subdir;
	return true;
}

struct src_mirror *
src_mirror_of(struct srv *s)
{
	return s->source ? &s->source->mirror : NULL;
}

int
src_fetch_now(struct srv *s, struct etcd *e, struct lr_err *err)
{
	if (s->source == NULL)
		return lr_err_set(err, LR_ENOENT, "leurad has no git source");
	return src_fetch(s->source, e, NULL, err);
}

int
src_refresh_after_commit(struct srv *s, struct etcd *e, const char *user,
    json_t **delivery, struct lr_err *err)
{
	struct srv_source *src = s->source;
	json_t *heads = NULL, *aa = NULL, *diags = NULL, *rec = NULL;
	const char *commit;
	char now[LR_TIME_ISO_LEN], *key = NULL, *by;
	int rc;

	*delivery = json_null();
	if (src == NULL)
		return 0;
	if ((rc = src_fetch(src, e, &heads, err)) < 0)
		return rc;
	commit = json_string_value(json_object_get(heads, src->branch));
	if (commit == NULL ||
	    (rc = auto_apply_of(src, commit, &aa, &diags, err)) < 0 ||
	    !in_list(aa, src->branch))
		goto out;
	by = lr_xasprintf("%s (tasks, via leurad)", user);
	lr_time_iso_now(now);
	rec = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
	    "provider", "api", "trigger", "tasks", "branch", src->branch,
	    "commit", commit, "pusher", user, "by", by, "replica", s->id,
	    "received", now);
	free(by);
	key = delivery_key(s, rec, "pending");
	if ((rc = put_json(e, key, rec, NULL, err)) < 0)
		goto out;
	json_decref(*delivery);
	*delivery = json_incref(rec);
out:
	free(key);
	json_decref(rec);
	json_decref(diags);
	json_decref(aa);
	json_decref(heads);
	return rc == LR_EINVAL ? 0 : rc;	/* specs: checked by the caller */
}

/* ---- the auto-apply worker ---- */

/* Deploy the delivery rec (claimed by this leader): its outcome in rec. */
static void
auto_apply(struct srv_source *src, json_t *rec)
{
	struct rec_deploy_opts o = { 0 };
	struct rec_deploy d = { 0 };
	struct rec_git *g = NULL;
	struct lr_err err;
	json_t *svcs = NULL, *hosts = NULL, *out, *e;
	const char *st;
	char *ref, *commit, *by;
	int rc;

	/* owned here: rec's strings are replaced by the outcome */
	ref = lr_xstrdup(lr_json_str(rec, "branch"));
	commit = lr_xstrdup(lr_json_str(rec, "commit"));
	by = lr_xstrdup(lr_json_str(rec, "by"));
	lr_err_clear(&err);
	o.ref = ref;
	o.commit = commit;
	o.by = by;
	o.expect = -1;
	o.sign_key = src->s->sign_key;
	o.lock_wait_ms = SRC_LOCK_WAIT_MS;
	o.diff = true;
	o.replan = "a new push";
	spec_diags_init(&d.plan.to.diags);
	/* the receiving replica fetched; this mirror may lag behind */
	if (src_fetch(src, src->ek, NULL, &err) < 0) {
		lr_log_warn("%s", err.msg);
		lr_err_clear(&err);
	}
	if ((rc = mirror_open(src, &g, &err)) == 0 &&
	    (rc = rec_deploy_open(&d, g, &o, &err)) == 0 &&
	    (rc = rec_deploy_plan(&d, src->ek, src->s->prefix, &err)) == 0)
		rc = rec_deploy_write(&d, &err);
	if (rc < 0) {
		st = rc == LR_ECONFLICT ? "conflict" : "failed";
		if (d.plan.to.diags.nerrors)
			e = json_pack("{s:s, s:s+, s:s, s:o}", "code",
			    "invalid_specs", "message", d.plan.to.label ?
			    d.plan.to.label : "the specs", " do not hold: "
			    "nothing applied", "hint", "run 'leura validate' "
			    "on the commit", "diagnostics",
			    spec_diags_to_json(&d.plan.to.diags));
		else
			e = json_pack("{s:s, s:s, s:s}", "code",
			    rc == LR_ECONFLICT ? "conflict" : "internal",
			    "message", err.msg, "hint", err.hint);
		json_object_set_new(rec, "error", e);
		lr_log_warn("auto-apply of %s at %.12s failed: %s",
		    lr_json_str(rec, "branch"), o.commit, err.msg);
	} else {
		st = d.written ? "applied" : "unchanged";
		rec_plan_touched(&d.plan, &svcs, &hosts);
		out = deploy_json(&d, svcs, hosts);
		json_object_del(out, "plan");	/* records stay small */
		json_object_update(rec, out);
		json_decref(out);
		lr_log_notice("auto-apply of %s: commit %.12s, deploy #%lld "
		    "(%s), by %s", lr_json_str(rec, "branch"), o.commit,
		    (long long)d.deploy, st, o.by);
	}
	json_object_set_new(rec, "status", json_string(st));
	srv_metrics_inc("leurad_applies_total", strcmp(st, "applied") == 0 ?
	    "trigger=\"webhook\",outcome=\"written\"" : strcmp(st,
	    "unchanged") == 0 ? "trigger=\"webhook\",outcome=\"unchanged\"" :
	    "trigger=\"webhook\",outcome=\"failed\"");
	json_decref(svcs);
	json_decref(hosts);
	rec_deploy_release(&d);
	rec_git_free(g);
	free(ref);
	free(commit);
	free(by);
}

/*
 * Claim the delivery kv (a transaction on its mod_revision: one claimer
 * wins) and deploy it.
 */
static void
process(struct srv_source *src, const struct etcd_kv *kv)
{
	struct etcd_txn t;
	struct etcd_txn_result r = { 0 };
	struct lr_err err;
	char now[LR_TIME_ISO_LEN], *s;
	json_t *rec;
	int rc;

	if ((rec = json_loads(kv->value, 0, NULL)) == NULL)
		return;
	lr_err_clear(&err);
	json_object_set_new(rec, "status", json_string("applying"));
	json_object_set_new(rec, "leader", json_string(src->s->id));
	s = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
	etcd_txn_init(&t);
	etcd_txn_cmp_int(&t, kv->key, ETCD_CMP_MOD, ETCD_CMP_EQUAL,
	    kv->mod_revision);
	etcd_txn_put(&t, ETCD_THEN, kv->key, s, strlen(s), 0);
	free(s);
	rc = etcd_txn_commit(src->ek, &t, &r, &err);
	etcd_txn_release(&t);
	if (rc < 0 || !r.succeeded) {
		if (rc < 0)
			lr_log_warn("cannot claim delivery %s: %s", kv->key,
			    err.msg);
		etcd_txn_result_release(&r);
		json_decref(rec);
		return;
	}
	etcd_txn_result_release(&r);
	auto_apply(src, rec);
	lr_time_iso_now(now);
	json_object_set_new(rec, "finished", json_string(now));
	if (put_json(src->ek, kv->key, rec, NULL, &err) < 0)
		lr_log_warn("cannot record delivery %s: %s", kv->key,
		    err.msg);
	json_decref(rec);
}

/* Keep the newest SRC_KEEP_DELIVERIES deliveries (the leader's job). */
static void
prune(struct srv_source *src)
{
	struct etcd_range_req rq = { 0 };
	struct etcd_range_result r = { 0 };
	struct lr_err err;
	size_t i;

	lr_err_clear(&err);
	rq.key = src->deliveries;
	rq.flags = ETCD_PREFIX | ETCD_KEYS_ONLY;
	if (etcd_range(src->ek, &rq, &r, &err) < 0) {
		lr_log_warn("deliveries: %s", err.msg);
		return;
	}
	for (i = 0; i + SRC_KEEP_DELIVERIES < r.nkvs; i++)
		if (etcd_delete(src->ek, r.kvs[i].key, 0, NULL, NULL,
		    &err) < 0)
			break;
	etcd_range_result_release(&r);
}

/*
 * Every delivery: take those pending or applying (a leader died
 * mid-way) when this replica leads, and keep the newest
 * SRC_KEEP_DELIVERIES.  0 and *rev, the revision seen.
 */
static int
rescan(struct srv_source *src, int64_t *rev, struct lr_err *err)
{
	struct etcd_range_req rq = { 0 };
	struct etcd_range_result r = { 0 };
	const char *st;
	json_t *v;
	size_t i;
	int rc;

	rq.key = src->deliveries;
	rq.flags = ETCD_PREFIX;
	if ((rc = etcd_range(src->ek, &rq, &r, err)) < 0)
		return rc;
	*rev = r.revision;
	src->was_leader = ldr_is_leader(src->s);
	for (i = 0; src->was_leader && i < r.nkvs; i++) {
		v = json_loads(r.kvs[i].value, 0, NULL);
		st = lr_json_str(v, "status");
		if (strcmp(st, "pending") == 0 || strcmp(st, "applying") == 0)
			process(src, &r.kvs[i]);
		json_decref(v);
	}
	etcd_range_result_release(&r);
	if (src->was_leader)
		prune(src);
	return 0;
}

static int
worker_batch(const struct etcd_watch_batch *b, void *arg)
{
	struct srv_source *src = arg;
	const struct etcd_event *ev;
	json_t *v;
	size_t i;

	if (b->kind == ETCD_WATCH_RESYNC)
		return 1;
	if (b->kind != ETCD_WATCH_EVENTS || !ldr_is_leader(src->s))
		return 0;
	for (i = 0; i < b->nevents; i++) {
		ev = &b->events[i];
		if (ev->type != ETCD_EV_PUT)
			continue;
		v = json_loads(ev->kv.value, 0, NULL);
		if (strcmp(lr_json_str(v, "status"), "pending") == 0) {
			process(src, &ev->kv);
			prune(src);
		}
		json_decref(v);
	}
	return 0;
}

/* A replica that becomes leader rescans at once. */
static int
worker_tick(bool connected, void *arg)
{
	struct srv_source *src = arg;
	bool lead = ldr_is_leader(src->s);

	(void)connected;
	if (lead && !src->was_leader)
		return 1;
	src->was_leader = lead;
	return 0;
}

static void
worker_main(void *arg)
{
	struct srv_source *src = arg;
	struct etcd_watch_req wr = { 0 };
	struct etcd_watch_opts wo = { 0 };
	struct lr_err err;
	int64_t rev;
	int rc;

	lr_err_clear(&err);
	if (src_fetch(src, src->ek, NULL, &err) < 0)
		lr_log_warn("%s (hint: %s)", err.msg, err.hint);
	wr.key = src->deliveries;
	wr.flags = ETCD_PREFIX;
	wo.stop = &src->stop;
	wo.tick = worker_tick;
	wo.tick_ms = 250;
	while (!atomic_load(&src->stop)) {
		lr_err_clear(&err);
		if (rescan(src, &rev, &err) < 0) {
			lr_log_warn("deliveries: %s", err.msg);
			lr_sleep_ms(500);
			continue;
		}
		wr.start_revision = rev + 1;
		rc = etcd_watch_run(src->ew, &wr, &wo, worker_batch, src,
		    &err);
		if (rc == LR_ECANCELED)
			break;
		if (rc < 0) {
			lr_log_warn("watch of deliveries: %s", err.msg);
			lr_sleep_ms(500);
		}
	}
}

int
src_start(struct srv *s, struct lr_err *err)
{
	struct srv_source *src = s->source;

	if (src == NULL)
		return 0;
	if (uv_thread_create(&src->thread, worker_main, src) != 0)
		return lr_err_set(err, LR_EIO, "cannot start the auto-apply "
		    "thread");
	src->started = true;
	return 0;
}

void
src_free(struct srv *s)
{
	struct srv_source *src = s->source;

	if (src == NULL)
		return;
	atomic_store(&src->stop, 1);
	if (src->started)
		uv_thread_join(&src->thread);
	etcd_free(src->ew);
	etcd_free(src->ek);
	src_mirror_release(&src->mirror);
	if (src->secret) {
		OPENSSL_cleanse(src->secret, src->secret_len);
		free(src->secret);
	}
	json_decref(src->heads);
	pthread_mutex_destroy(&src->fetch_mu);
	free(src->branch);
	free(src->subdir);
	free(src->url_public);
	free(src->deliveries);
	free(src);
	s->source = NULL;
}

void
src_routes(struct srv *s)
{
	srv_route(s->router, "GET", "/v1/sources", get_sources, 0);
	srv_route(s->router, "POST", "/v1/sources/refresh", post_refresh,
	    SRV_ANON | SRV_RAW_BODY);
	srv_route(s->router, "POST", "/v1/plan", post_plan, 0);
	srv_route(s->router, "POST", "/v1/apply", post_apply, 0);
}
