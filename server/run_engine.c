/*
 * The run engine (run.h, docs/runs.md): a thread of its own in every
 * leurad that acts only while its replica leads (leader.c).
 *
 * On becoming leader it reads every run record and keeps the ids of the
 * unfinished ones; then it watches P/runs/docs/ and P/runs/exec/ (the
 * records, and the agents' claims: a claim deleted is a step that ended,
 * with its result, or whose agent died: its lease ran out) and passes
 * over a run when something of it changed, and over every unfinished run
 * each second (timeouts, approvals' deadlines, what a watch gap hid).
 *
 * A pass reads the record, its results and its claims in one
 * transaction (one revision), asks run_advance (run_plan.c) what to do,
 * renders the steps to dispatch (rec_task_render at the run's commit,
 * their files stored under P/desired/files/ first) and writes it all in
 * one transaction that compares the leader key's create revision (a
 * deposed leader writes nothing) and the record's mod_revision (a
 * decision is taken once, on what was read).  Everything is carried in
 * etcd: a leader killed mid-run is succeeded by one that reads the same
 * record, and a step whose result exists is never dispatched again, since
 * the record said "dispatched" in the same transaction that wrote the
 * dispatch.  Results are written once (create-if-absent), by the agent,
 * or by the engine for a lost step.
 */
#define LR_LOG_COMPONENT "run"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uv.h>

#include "buf.h"
#include "clock.h"
#include "doc.h"
#include "etcd.h"
#include "json.h"
#include "keys.h"
#include "leurad.h"
#include "load.h"
#include "log.h"
#include "run-int.h"
#include "source.h"
#include "spec.h"
#include "task.h"
#include "xalloc.h"

#define ENGINE_TICK_MS	250
#define ENGINE_FULL_MS	1000	/* every unfinished run, at least */
#define ENGINE_PRUNE_MS	(10L * 60 * 1000)	/* old runs' records */
#define ENGINE_PRUNE_MAX 200	/* records looked at per sweep */
#define ENGINE_CACHE	4	/* commits kept loaded */

struct engine_commit {
	char		*commit;	/* owned; NULL: free slot */
	struct rec_load	 l;
	long		 used;		/* lr_now_ms: last used */
};

struct run_state {
	struct srv	*s;		/* borrowed */
	struct etcd	*ew, *ek;	/* owned: the watch; the rest */
	uv_thread_t	 thread;
	bool		 started;
	atomic_int	 stop;
	atomic_long	 nactive;	/* the unfinished runs it carries */
	char		*docs, *exec, *exec_end;	/* owned prefixes */
	/* the thread's own */
	json_t		*active;	/* {run: true}: unfinished */
	json_t		*dirty;		/* {run: true}: soon */
	json_t		*gone;		/* {run: {"host/S": 1}} */
	long		 full_ms;	/* the last pass over every run */
	long		 prune_ms;	/* the last sweep of old runs; 0: none */
	struct engine_commit cache[ENGINE_CACHE];
};

/* ---- the commits' specs ---- */

/* The loaded specs at commit (cached): borrowed, or NULL with err set. */
static struct rec_load *
commit_load(struct run_state *st, const char *commit, struct lr_err *err)
{
	struct engine_commit *c, *old = &st->cache[0];
	size_t i;
	int rc;

	for (i = 0; i < ENGINE_CACHE; i++) {
		c = &st->cache[i];
		if (c->commit != NULL && strcmp(c->commit, commit) == 0) {
			c->used = lr_now_ms();
			return &c->l;
		}
		if (c->commit == NULL || c->used < old->used)
			old = c;
	}
	free(old->commit);
	old->commit = NULL;
	rec_load_release(&old->l);
	rc = src_load_commit(st->s, st->ek, commit, 0, &old->l, err);
	if (rc < 0) {
		if (old->l.diags.nerrors)
			lr_err_set(err, LR_EINVAL, "commit %.12s does not "
			    "load", commit);
		rec_load_release(&old->l);
		return NULL;
	}
	old->commit = lr_xstrdup(commit);
	old->used = lr_now_ms();
	return &old->l;
}

static void
cache_free(struct run_state *st)
{
	size_t i;

	for (i = 0; i < ENGINE_CACHE; i++) {
		free(st->cache[i].commit);
		st->cache[i].commit = NULL;
		rec_load_release(&st->cache[i].l);
	}
}

/* ---- rendering a dispatch ---- */

/*
 * The agent step S of rec for host (new), and the files it needs into
 * files ({sha: content}); NULL with err set when it cannot be rendered.
 */
static json_t *
render(struct run_state *st, const json_t *rec, const char *host, int S,
    json_t *files, struct lr_err *err)
{
	const struct spec_task *t;
	struct rec_load *l;
	json_t *steps = NULL, *fs = NULL, *out = NULL, *v;
	const char *sha;
	int rc;

	if (strcmp(lr_json_str(rec, "kind"), "exec") == 0)
		return run_exec_step(lr_json_str(rec, "id"), lr_json_str(rec,
		    "command"), lr_json_strn(rec, "run_as"));
	if ((l = commit_load(st, lr_json_str(rec, "commit"), err)) == NULL)
		return NULL;
	if ((t = spec_repo_find_task(l->repo, lr_json_str(rec,
	    "task"))) == NULL) {
		lr_err_set(err, LR_ENOENT, "task '%s' is not in commit %.12s",
		    lr_json_str(rec, "task"), lr_json_str(rec, "commit"));
		return NULL;
	}
	rc = rec_task_render(l->repo, &l->comp, t, host, json_object_get(rec,
	    "params"), &steps, &fs, err);
	if (rc < 0)
		return NULL;
	if ((v = json_array_get(steps, (size_t)S)) == NULL)
		lr_err_set(err, LR_EINVAL, "task '%s' has no step %d for %s",
		    t->name, S, host);
	else
		out = json_incref(v);
	json_object_foreach(fs, sha, v)
		json_object_set(files, sha, v);
	json_decref(steps);
	json_decref(fs);
	return out;
}

/* Store files ({sha: content}) under P/desired/files/ when absent. */
static int
store_files(struct run_state *st, const json_t *files, struct lr_err *err)
{
	struct etcd_txn t;
	struct etcd_txn_result r = { 0 };
	const char *sha;
	const json_t *v, *x;
	char *key;
	int rc = 0;

	json_object_foreach((json_t *)files, sha, v) {
		x = json_is_string(v) ? v : json_object_get(v, "content");
		if (x == NULL)
			x = json_object_get(v, "bytes");
		if (!json_is_string(x))
			continue;
		key = proto_key_file(st->s->prefix, sha);
		etcd_txn_init(&t);
		etcd_txn_cmp_int(&t, key, ETCD_CMP_CREATE, ETCD_CMP_EQUAL, 0);
		etcd_txn_put(&t, ETCD_THEN, key, json_string_value(x),
		    json_string_length(x), 0);
		rc = etcd_txn_commit(st->ek, &t, &r, err);
		etcd_txn_release(&t);
		etcd_txn_result_release(&r);
		free(key);
		if (rc < 0)
			break;
	}
	return rc;
}

/* The signed value of a dispatch (new). */
static char *
dispatch_value(struct run_state *st, const json_t *rec, const char *host,
    int S, json_t *spec)
{
	json_t *d;
	char *u, *signed_v, deadline[32];
	int64_t started = run_time_parse(lr_json_strn(rec, "started"));
	int64_t tmo = lr_json_int(rec, "timeout_ms");

	if (tmo > 0 && started >= 0)
		run_time_iso(started + tmo, deadline);
	d = json_pack("{s:s, s:s, s:i, s:i, s:O?, s:o, s:I, s:s?}", "run",
	    lr_json_str(rec, "id"), "host", host, "step", S, "attempt", 1,
	    "task", json_object_get(rec, "task"), "spec", spec, "log_max",
	    (json_int_t)RUN_LOG_MAX, "deadline", tmo > 0 && started >= 0 ?
	    deadline : NULL);
	u = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(d);
	if (st->s->sign_key == NULL)
		return u;	/* leurad has no key: agents must allow it */
	signed_v = proto_sign_run_value(u, host, st->s->sign_key);
	free(u);
	return signed_v;
}

/* ---- one pass over a run ---- */

/* Split "<host>/<SSSS>" (a key's tail): false when not of that form. */
static bool
host_step(const char *tail, char *host, size_t len, char sk[8])
{
	const char *sl = strrchr(tail, '/');
	size_t n;

	if (sl == NULL || sl == tail || strlen(sl + 1) != 4 ||
	    (n = (size_t)(sl - tail)) >= len || strchr(tail, '/') != sl)
		return false;
	memcpy(host, tail, n);
	host[n] = '\0';
	memcpy(sk, sl + 1, 5);
	return true;
}

/* {host: {SSSS: value}} of a range's kvs under dir (values as JSON). */
static json_t *
by_host(const struct etcd_range_result *r, const char *dir, bool values)
{
	json_t *out = json_object(), *h, *v;
	char host[256], sk[8];
	size_t i, dl = strlen(dir);

	for (i = 0; i < r->nkvs; i++) {
		if (strncmp(r->kvs[i].key, dir, dl) != 0 ||
		    !host_step(r->kvs[i].key + dl, host, sizeof(host), sk))
			continue;
		v = values ? json_loadb(r->kvs[i].value, r->kvs[i].value_len,
		    0, NULL) : json_true();
		if (v == NULL)
			v = json_pack("{s:s}", "status", "failed");
		if ((h = json_object_get(out, host)) == NULL)
			json_object_set_new(out, host, h = json_object());
		json_object_set_new(h, sk, v);
	}
	return out;
}

/*
 * A step that cannot be rendered for its host fails there: its result
 * says why (written with the pass), the record says done/failed.
 */
static void
render_failed(json_t *rec, const char *host, int S, const struct lr_err *e,
    json_t *fails, json_t *events)
{
	json_t *c = json_array_get(json_object_get(json_object_get(rec,
	    "progress"), host), (size_t)S);
	char sk[8], now[32];

	json_object_set_new(c, "state", json_string("done"));
	json_object_set_new(c, "status", json_string("failed"));
	snprintf(sk, sizeof(sk), "%04d", S);
	run_time_iso(run_now_ms(), now);
	json_object_set_new(fails, sk, json_pack("{s:s, s:s, s:s, s:s}",
	    "host", host, "status", "failed", "error", e->msg, "started",
	    now));
	json_array_append_new(events, json_pack("{s:s, s:s, s:s+, s:s, s:{s:s,"
	    " s:s, s:i, s:s}}", "actor", "leurad", "action", "step.failed",
	    "resource", lr_json_strn(rec, "task") ? "tasks/" : "runs/",
	    lr_json_strn(rec, "task") ? lr_json_str(rec, "task") :
	    lr_json_str(rec, "id"), "outcome", "failed", "detail", "run",
	    lr_json_str(rec, "id"), "host", host, "step", S, "error", e->msg));
}

static void
mark(json_t *set, const char *id)
{
	json_object_set_new(set, id, json_true());
}

/* One pass over run id: 0, or an LR_E* (err set; the run stays dirty). */
static int
pass(struct run_state *st, const char *id, struct lr_err *err)
{
	struct srv *s = st->s;
	struct etcd_txn t;
	struct etcd_txn_result r = { 0 }, w = { 0 };
	struct etcd_range_req q1 = { 0 }, q2 = { 0 }, q3 = { 0 };
	struct run_actions a;
	json_t *rec = NULL, *results = NULL, *claims = NULL, *files = NULL,
	    *fails = NULL, *ev, *spec;
	char *rkey = proto_key_run(s->prefix, id);
	char *resdir = proto_key_run_results_dir(s->prefix, id);
	char *exdir = proto_key_run_exec_dir(s->prefix, id);
	char *lkey = proto_key_leader(s->prefix), *k, *v;
	const char *fk;
	int64_t lrev = ldr_leader_rev(s), mod;
	size_t i;
	int rc;

	run_actions_init(&a);
	if (lrev == 0) {
		rc = 0;
		goto out;
	}
	q1.key = rkey;
	q2.key = resdir;
	q2.flags = ETCD_PREFIX;
	q3.key = exdir;
	q3.flags = ETCD_PREFIX | ETCD_KEYS_ONLY;
	etcd_txn_init(&t);
	etcd_txn_range(&t, ETCD_THEN, &q1);
	etcd_txn_range(&t, ETCD_THEN, &q2);
	etcd_txn_range(&t, ETCD_THEN, &q3);
	rc = etcd_txn_commit(st->ek, &t, &r, err);
	etcd_txn_release(&t);
	if (rc < 0)
		goto out;
	if (r.nops != 3 || r.ops[0].range.nkvs != 1 ||
	    (rec = json_loadb(r.ops[0].range.kvs[0].value,
	    r.ops[0].range.kvs[0].value_len, 0, NULL)) == NULL ||
	    strcmp(lr_json_str(rec, "state"), "finalised") == 0) {
		/* gone, or done: not ours any more */
		json_object_del(st->active, id);
		json_object_del(st->gone, id);
		goto out;
	}
	/*
	 * a record leurad did not seal (written into etcd by someone else)
	 * is never acted on: leurad would sign its command for the hosts
	 */
	if (run_seal_check(s->sign_key, rec, err) < 0) {
		lr_log_error("run %s: refusing its record: %s (it was not "
		    "made by leurad; docs/runs.md, Trust)", id, err->msg);
		json_object_del(st->active, id);
		json_object_del(st->gone, id);
		lr_err_clear(err);
		rc = 0;
		goto out;
	}
	if (run_seal_approvals_keep(s->sign_key, rec) > 0)
		lr_log_error("run %s: decisions leurad did not seal are "
		    "ignored", id);
	mod = r.ops[0].range.kvs[0].mod_revision;
	results = by_host(&r.ops[1].range, resdir, true);
	claims = by_host(&r.ops[2].range, exdir, false);
	run_advance(rec, results, claims, json_object_get(st->gone, id),
	    run_now_ms(), &a);
	if (!a.changed)
		goto out;
	/* render what is dispatched now; a failure fails that step */
	files = json_object();
	fails = json_object();
	etcd_txn_init(&t);
	etcd_txn_cmp_int(&t, lkey, ETCD_CMP_CREATE, ETCD_CMP_EQUAL, lrev);
	etcd_txn_cmp_int(&t, rkey, ETCD_CMP_MOD, ETCD_CMP_EQUAL, mod);
	for (i = 0; i < a.ndispatch; i++) {
		struct lr_err e2;

		lr_err_clear(&e2);
		spec = render(st, rec, a.dispatch[i].host, a.dispatch[i].step,
		    files, &e2);
		if (spec == NULL) {
			lr_log_warn("run %s: step %d on %s: %s", id,
			    a.dispatch[i].step, a.dispatch[i].host, e2.msg);
			render_failed(rec, a.dispatch[i].host,
			    a.dispatch[i].step, &e2, fails, a.events);
			continue;
		}
		k = proto_key_dispatch(s->prefix, a.dispatch[i].host, id,
		    a.dispatch[i].step);
		v = dispatch_value(st, rec, a.dispatch[i].host,
		    a.dispatch[i].step, spec);
		etcd_txn_put(&t, ETCD_THEN, k, v, strlen(v), 0);
		free(k);
		free(v);
	}
	for (i = 0; i < a.nundispatch; i++) {
		k = proto_key_dispatch(s->prefix, a.undispatch[i].host, id,
		    a.undispatch[i].step);
		etcd_txn_delete(&t, ETCD_THEN, k, 0);
		free(k);
	}
	for (i = 0; i < a.nlost; i++) {
		json_t *lost;
		char now[32];

		run_time_iso(run_now_ms(), now);
		lost = json_pack("{s:s, s:s, s:s}", "status", "lost", "error",
		    "the agent's execution lease ran out before the step "
		    "reported a result (the agent died or lost etcd)", "ended",
		    now);
		k = proto_key_run_result(s->prefix, id, a.lost[i].host,
		    a.lost[i].step);
		v = json_dumps(lost, JSON_COMPACT | JSON_SORT_KEYS);
		json_decref(lost);
		etcd_txn_cmp_int(&t, k, ETCD_CMP_CREATE, ETCD_CMP_EQUAL, 0);
		etcd_txn_put(&t, ETCD_THEN, k, v, strlen(v), 0);
		free(k);
		free(v);
	}
	json_object_foreach(fails, fk, ev) {
		k = proto_key_run_result(s->prefix, id, lr_json_str(ev, "host"),
		    atoi(fk));
		json_object_del(ev, "host");
		v = json_dumps(ev, JSON_COMPACT | JSON_SORT_KEYS);
		etcd_txn_cmp_int(&t, k, ETCD_CMP_CREATE, ETCD_CMP_EQUAL, 0);
		etcd_txn_put(&t, ETCD_THEN, k, v, strlen(v), 0);
		free(k);
		free(v);
	}
	v = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
	etcd_txn_put(&t, ETCD_THEN, rkey, v, strlen(v), 0);
	free(v);
	if ((rc = store_files(st, files, err)) == 0)
		rc = etcd_txn_commit(st->ek, &t, &w, err);
	etcd_txn_release(&t);
	if (rc < 0)
		goto out;
	if (!w.succeeded) {
		/* the record moved (a cancel, an approval), or an agent wrote
		   a result we were about to call lost: read again */
		mark(st->dirty, id);
		goto out;
	}
	json_array_foreach(a.events, i, ev)
		run_event_put(s, st->ek, json_incref(ev));
	if (a.ndispatch)
		srv_metrics_inc("leurad_run_steps_dispatched_total", "");
	if (a.more || json_object_size(fails) > 0)
		mark(st->dirty, id);
	if (strcmp(lr_json_str(rec, "state"), "finalised") == 0) {
		lr_log_info("run %s finalised: %s%s%s", id, lr_json_str(rec,
		    "outcome"), lr_json_strn(rec, "reason") ? ": " : "",
		    lr_json_str(rec, "reason"));
		srv_metrics_inc("leurad_runs_finalised_total", "");
		json_object_del(st->active, id);
		json_object_del(st->gone, id);
	}
out:
	run_actions_release(&a);
	etcd_txn_result_release(&r);
	etcd_txn_result_release(&w);
	json_decref(rec);
	json_decref(results);
	json_decref(claims);
	json_decref(files);
	json_decref(fails);
	free(rkey);
	free(resdir);
	free(exdir);
	free(lkey);
	return rc;
}

/* Pass over the dirty runs (and every active one when full). */
static void
pass_some(struct run_state *st, bool full)
{
	json_t *todo;
	const char *id;
	json_t *v;
	struct lr_err err;

	if (full) {
		json_object_update(st->dirty, st->active);
		st->full_ms = lr_now_ms();
	}
	todo = st->dirty;
	st->dirty = json_object();
	json_object_foreach(todo, id, v) {
		if (atomic_load(&st->stop) || ldr_leader_rev(st->s) == 0)
			break;
		lr_err_clear(&err);
		if (pass(st, id, &err) < 0) {
			lr_log_warn("run %s: %s", id, err.msg);
			mark(st->dirty, id);
		}
	}
	json_decref(todo);
	atomic_store(&st->nactive, (long)json_object_size(st->active));
}

/* ---- retention ---- */

/*
 * Delete what finalised runs created before the retention (--log-
 * retention: a run's record goes with its logs) left in etcd: the record,
 * its results with their previews, and any claim or chunk still there.
 * A run's id starts with its creation time, so the old records are one
 * range, read oldest first, ENGINE_PRUNE_MAX a sweep; one not finalised
 * (an approval that waits that long) stays.  Each run goes in one txn
 * that holds only while this replica leads.
 */
static void
prune(struct run_state *st)
{
	struct srv *s = st->s;
	struct etcd_range_req q = { 0 };
	struct etcd_range_result r = { 0 };
	struct etcd_txn t;
	struct etcd_txn_result tr;
	struct lr_err err;
	char cut[32], *end, *lkey, *ldir, *k;
	const char *id;
	time_t at = time(NULL) - (time_t)s->retention_s;
	int64_t lrev = ldr_leader_rev(s);
	size_t i, n = 0, dl = strlen(st->docs);
	struct tm tm;
	json_t *v;

	if (s->retention_s <= 0 || lrev == 0 || gmtime_r(&at, &tm) == NULL)
		return;
	snprintf(cut, sizeof(cut), "r@%04d%02d%02d-%02d%02d%02d",
	    (tm.tm_year + 1900) % 10000, tm.tm_mon + 1, tm.tm_mday,
	    tm.tm_hour, tm.tm_min, tm.tm_sec);
	end = lr_xasprintf("%s%s", st->docs, cut);
	lkey = proto_key_leader(s->prefix);
	ldir = proto_key_run_log_dir(s->prefix);
	q.key = st->docs;
	q.range_end = end;
	q.limit = ENGINE_PRUNE_MAX;
	lr_err_clear(&err);
	if (etcd_range(st->ek, &q, &r, &err) < 0) {
		lr_log_warn("runs past retention: %s", err.msg);
		goto out;
	}
	for (i = 0; i < r.nkvs && !atomic_load(&st->stop); i++) {
		id = r.kvs[i].key + dl;
		v = json_loadb(r.kvs[i].value, r.kvs[i].value_len, 0, NULL);
		if (!run_id_valid(id) || (v != NULL && strcmp(lr_json_str(v,
		    "state"), "finalised") != 0)) {
			json_decref(v);
			continue;
		}
		json_decref(v);
		etcd_txn_init(&t);
		etcd_txn_cmp_int(&t, lkey, ETCD_CMP_CREATE, ETCD_CMP_EQUAL,
		    lrev);
		etcd_txn_cmp_int(&t, r.kvs[i].key, ETCD_CMP_MOD, ETCD_CMP_EQUAL,
		    r.kvs[i].mod_revision);
		etcd_txn_delete(&t, ETCD_THEN, r.kvs[i].key, 0);
		k = proto_key_run_results_dir(s->prefix, id);
		etcd_txn_delete(&t, ETCD_THEN, k, ETCD_PREFIX);
		free(k);
		k = proto_key_run_exec_dir(s->prefix, id);
		etcd_txn_delete(&t, ETCD_THEN, k, ETCD_PREFIX);
		free(k);
		k = lr_xasprintf("%s%s/", ldir, id);
		etcd_txn_delete(&t, ETCD_THEN, k, ETCD_PREFIX);
		free(k);
		memset(&tr, 0, sizeof(tr));
		if (etcd_txn_commit(st->ek, &t, &tr, &err) == 0 && tr.succeeded)
			n++;
		etcd_txn_result_release(&tr);
		etcd_txn_release(&t);
	}
	if (n > 0)
		lr_log_info("deleted the records of %zu run(s) created before "
		    "%s (--log-retention)", n, cut + 2);
out:
	etcd_range_result_release(&r);
	free(end);
	free(lkey);
	free(ldir);
}

/* ---- the watch ---- */

/* Every unfinished run, read anew: 0 and *rev. */
static int
load_all(struct run_state *st, int64_t *rev, struct lr_err *err)
{
	struct etcd_range_req q = { 0 };
	struct etcd_range_result r = { 0 };
	size_t i, dl = strlen(st->docs);
	json_t *v;
	int rc;

	q.key = st->docs;
	q.flags = ETCD_PREFIX;
	if ((rc = etcd_range(st->ek, &q, &r, err)) < 0)
		return rc;
	json_object_clear(st->active);
	json_object_clear(st->dirty);
	for (i = 0; i < r.nkvs; i++) {
		v = json_loadb(r.kvs[i].value, r.kvs[i].value_len, 0, NULL);
		if (v != NULL && strcmp(lr_json_str(v, "state"),
		    "finalised") != 0 && run_id_valid(r.kvs[i].key + dl)) {
			mark(st->active, r.kvs[i].key + dl);
			mark(st->dirty, r.kvs[i].key + dl);
		}
		json_decref(v);
	}
	*rev = r.revision;
	etcd_range_result_release(&r);
	if (json_object_size(st->active))
		lr_log_info("carrying on %zu unfinished run(s)",
		    json_object_size(st->active));
	return 0;
}

static void
on_event(struct run_state *st, const struct etcd_event *ev)
{
	const char *key = ev->kv.key, *tail;
	char run[RUN_ID_LEN + 1], gk[300];
	json_t *v, *g;

	if (strncmp(key, st->docs, strlen(st->docs)) == 0) {
		tail = key + strlen(st->docs);
		if (!run_id_valid(tail))
			return;
		if (ev->type == ETCD_EV_DELETE) {
			json_object_del(st->active, tail);
			return;
		}
		v = json_loadb(ev->kv.value, ev->kv.value_len, 0, NULL);
		if (v != NULL && strcmp(lr_json_str(v, "state"),
		    "finalised") != 0) {
			mark(st->active, tail);
			mark(st->dirty, tail);
		} else
			json_object_del(st->active, tail);
		json_decref(v);
		return;
	}
	if (strncmp(key, st->exec, strlen(st->exec)) != 0)
		return;
	tail = key + strlen(st->exec);
	if (strlen(tail) <= RUN_ID_LEN || tail[RUN_ID_LEN] != '/')
		return;
	memcpy(run, tail, RUN_ID_LEN);
	run[RUN_ID_LEN] = '\0';
	if (json_object_get(st->active, run) == NULL)
		return;
	mark(st->dirty, run);
	if (ev->type == ETCD_EV_DELETE) {
		snprintf(gk, sizeof(gk), "%s", tail + RUN_ID_LEN + 1);
		if ((g = json_object_get(st->gone, run)) == NULL)
			json_object_set_new(st->gone, run, g = json_object());
		json_object_set_new(g, gk, json_true());
	}
}

static int
on_batch(const struct etcd_watch_batch *b, void *arg)
{
	struct run_state *st = arg;
	size_t i;

	if (b->kind == ETCD_WATCH_RESYNC)
		return 1;	/* read everything again */
	if (b->kind != ETCD_WATCH_EVENTS)
		return 0;
	if (ldr_leader_rev(st->s) == 0)
		return 2;
	for (i = 0; i < b->nevents; i++)
		on_event(st, &b->events[i]);
	pass_some(st, false);
	return 0;
}

static int
on_tick(bool connected, void *arg)
{
	struct run_state *st = arg;

	if (ldr_leader_rev(st->s) == 0)
		return 2;	/* no longer leader: stop watching */
	if (!connected)
		return 0;
	pass_some(st, lr_now_ms() - st->full_ms >= ENGINE_FULL_MS);
	if (st->prune_ms == 0 || lr_now_ms() - st->prune_ms >=
	    ENGINE_PRUNE_MS) {
		st->prune_ms = lr_now_ms();
		prune(st);
	}
	return 0;
}

static void
engine_main(void *arg)
{
	struct run_state *st = arg;
	struct etcd_watch_req wr = { 0 };
	struct etcd_watch_opts wo = { 0 };
	struct lr_err err;
	int64_t rev;
	int rc;

	wr.key = st->docs;
	wr.range_end = st->exec_end;	/* docs/, exec/ (and what sorts
					   between: nothing) */
	wo.stop = &st->stop;
	wo.tick = on_tick;
	wo.tick_ms = ENGINE_TICK_MS;
	while (!atomic_load(&st->stop)) {
		if (ldr_leader_rev(st->s) == 0) {
			json_object_clear(st->active);
			json_object_clear(st->gone);
			atomic_store(&st->nactive, 0);
			lr_sleep_ms(100);
			continue;
		}
		lr_err_clear(&err);
		if (load_all(st, &rev, &err) < 0) {
			lr_log_warn("runs: %s", err.msg);
			lr_sleep_ms(500);
			continue;
		}
		pass_some(st, true);
		wr.start_revision = rev + 1;
		rc = etcd_watch_run(st->ew, &wr, &wo, on_batch, st, &err);
		if (rc == LR_ECANCELED)
			break;
		if (rc < 0) {
			lr_log_warn("watch of runs: %s", err.msg);
			lr_sleep_ms(500);
		}
	}
}

static void
engine_metrics(struct srv *s, struct lr_buf *out, void *arg)
{
	struct run_state *st = arg;

	(void)s;
	lr_buf_printf(out, "# HELP leurad_runs_active unfinished task runs "
	    "the engine carries (0 but on the leader)\n# TYPE "
	    "leurad_runs_active gauge\nleurad_runs_active %ld\n",
	    atomic_load(&st->nactive));
}

int
run_engine_start(struct srv *s, struct lr_err *err)
{
	struct run_state *st;
	int rc;

	st = lr_xcalloc(1, sizeof(*st));	/* s->run: run_engine_stop */
	st->s = s;
	s->run = st;
	atomic_init(&st->stop, 0);
	atomic_init(&st->nactive, 0);
	st->docs = proto_key_run_docs_dir(s->prefix);
	/* the claims' root, P/runs/exec/: the empty run's dir less a '/' */
	st->exec = proto_key_run_exec_dir(s->prefix, "");
	st->exec[strlen(st->exec) - 1] = '\0';
	st->exec_end = etcd_prefix_end(st->exec);
	st->active = json_object();
	st->dirty = json_object();
	st->gone = json_object();
	if ((rc = ldr_etcd_new(s, &st->ew, err)) < 0 ||
	    (rc = ldr_etcd_new(s, &st->ek, err)) < 0)
		return rc;
	if (uv_thread_create(&st->thread, engine_main, st) != 0)
		return lr_err_set(err, LR_EIO, "cannot start the run engine's "
		    "thread");
	st->started = true;
	srv_metrics_add(s, engine_metrics, st);
	return 0;
}

void
run_engine_stop(struct srv *s)
{
	struct run_state *st = s->run;

	if (st == NULL)
		return;
	atomic_store(&st->stop, 1);
	if (st->started)
		uv_thread_join(&st->thread);
	etcd_free(st->ew);
	etcd_free(st->ek);
	cache_free(st);
	json_decref(st->active);
	json_decref(st->dirty);
	json_decref(st->gone);
	free(st->docs);
	free(st->exec);
	free(st->exec_end);
	free(st);
	s->run = NULL;
}
