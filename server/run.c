/*
 * Task runs (run.h): the module's hooks and run_create, the one door
 * every run goes through (POST /v1/tasks/{t}/runs, POST /v1/exec, cron
 * and at firings).  run_create reads the task at the deployed commit
 * (P/desired/head) from leurad's git mirror (src_load_commit), checks
 * the params and resolves the targets (reconcile/task.h), looks for a
 * recent overlapping run (the dedupe window), and writes the record in
 * state "scheduled" with a transaction that creates it (and the firing
 * key, for cron) only when absent.  The engine (run_engine.c), in the
 * leader, sees it through its watch and takes it from there.
 */
#define LR_LOG_COMPONENT "run"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
#include "suggest.h"
#include "task.h"
#include "xalloc.h"

/* ---- the deployed commit ---- */

/* The commit of P/desired/head: new string, or NULL with err set. */
static char *
deployed_commit(struct srv *s, struct etcd *e, struct lr_err *err)
{
	struct etcd_kv kv = { 0 };
	struct proto_head h;
	char *key = proto_key_head(s->prefix), *c = NULL;
	json_t *v = NULL;
	int rc;

	rc = etcd_get(e, key, &kv, NULL, err);
	free(key);
	if (rc == LR_ENOENT) {
		lr_err_set(err, LR_EINVAL, "nothing is deployed yet: no task "
		    "to run");
		lr_err_hint(err, "apply the config repo first (leura apply): "
		    "tasks run as the deployed commit has them");
		return NULL;
	}
	if (rc < 0)
		return NULL;
	if ((v = json_loadb(kv.value, kv.value_len, 0, NULL)) != NULL) {
		proto_head_decode(v, &h);
		if (h.commit != NULL)
			c = lr_xstrdup(h.commit);	/* the caller's */
	}
	json_decref(v);
	etcd_kv_release(&kv);
	if (c == NULL)
		lr_err_set(err, LR_EINVAL, "the deployed head names no commit");
	return c;
}

/* ---- the task's record ---- */

/* The nearest task name to name, or NULL. */
static const char *
nearest_task(const struct spec_repo *repo, const char *name)
{
	const char **v = lr_xcalloc(repo->ntasks + 1, sizeof(*v));
	const char *best;
	size_t i;

	for (i = 0; i < repo->ntasks; i++)
		v[i] = repo->tasks[i].name;
	best = lr_suggest(name, v, repo->ntasks);
	free(v);
	return best;
}

/* The steps' summary the engine keeps (run.h, "steps"): new. */
static json_t *
steps_of(const struct spec_task *t)
{
	const struct spec_step *st;
	json_t *out = json_array(), *o, *g;
	size_t i, j;

	for (i = 0; i < t->nsteps; i++) {
		st = &t->steps[i];
		o = json_pack("{s:s, s:s}", "name", st->name, "kind",
		    spec_step_kind_name(st->kind));
		if (st->on_failure != SPEC_ON_FAILURE_INHERIT)
			json_object_set_new(o, "on_failure", json_string(
			    spec_on_failure_name(st->on_failure)));
		if (st->kind == SPEC_STEP_APPROVAL) {
			g = json_array();
			for (j = 0; j < st->napprovers; j++)
				json_array_append_new(g, json_string(
				    st->approvers[j].name));
			json_object_set_new(o, "approval", json_pack("{s:o, "
			    "s:I, s:b}", "groups", g, "timeout_ms",
			    (json_int_t)(st->approval_timeout_ms > 0 ?
			    st->approval_timeout_ms : 0), "self_approval",
			    t->self_approval));
		}
		json_array_append_new(out, o);
	}
	return out;
}

/* {host: [{"state":"pending","status":null,"attempt":0} per step]} */
static json_t *
progress_new(const json_t *hosts, size_t nsteps)
{
	json_t *p = json_object(), *h, *row;
	size_t i, s;

	json_array_foreach(hosts, i, h) {
		row = json_array();
		for (s = 0; s < nsteps; s++)
			json_array_append_new(row, json_pack("{s:s, s:n, s:i}",
			    "state", "pending", "status", "attempt", 0));
		json_object_set_new(p, json_string_value(h), row);
	}
	return p;
}

/*
 * The most recent run of the same thing on overlapping hosts within
 * window_ms: its record (new), NULL when none; -1 and err on an etcd
 * failure.
 */
static int
find_recent(struct srv *s, struct etcd *e, const char *task,
    const char *command, const json_t *hosts, int64_t window_ms,
    json_t **found, struct lr_err *err)
{
	struct etcd_range_req rq = { 0 };
	struct etcd_range_result r = { 0 };
	char *dir = proto_key_run_docs_dir(s->prefix), *end, *start, t[32];
	int64_t now = run_now_ms();
	json_t *v;
	size_t i;
	int rc;

	*found = NULL;
	if (window_ms <= 0) {
		free(dir);
		return 0;
	}
	/* ids sort by their creation time: from now - window on */
	run_time_iso(now - window_ms - 1000, t);
	start = lr_xasprintf("%sr@%.4s%.2s%.2s-%.2s%.2s%.2s", dir, t, t + 5,
	    t + 8, t + 11, t + 14, t + 17);
	end = etcd_prefix_end(dir);
	rq.key = start;
	rq.range_end = end;
	rc = etcd_range(e, &rq, &r, err);
	for (i = 0; rc == 0 && i < r.nkvs; i++) {
		if ((v = json_loadb(r.kvs[i].value, r.kvs[i].value_len, 0,
		    NULL)) == NULL)
			continue;
		if (run_dedupe_match(v, task, command, hosts, now, window_ms)) {
			json_decref(*found);
			*found = v;	/* the latest so far */
		} else
			json_decref(v);
	}
	etcd_range_result_release(&r);
	free(dir);
	free(end);
	free(start);
	return rc;
}

/* "12 min ago" of an RFC 3339 time into buf. */
static void
ago(const char *t, char *buf, size_t len)
{
	int64_t d = (run_now_ms() - run_time_parse(t)) / 1000;

	if (d < 120)
		snprintf(buf, len, "%lld s ago", (long long)(d < 0 ? 0 : d));
	else
		snprintf(buf, len, "%lld min ago", (long long)(d / 60));
}

/* The hosts as "a, b, c" (at most 5, then "and N more") into buf. */
static void
hosts_text(const json_t *hosts, char *buf, size_t len)
{
	size_t i, n = json_array_size(hosts), o = 0;

	buf[0] = '\0';
	for (i = 0; i < n && i < 5 && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? ", " : "",
		    json_string_value(json_array_get(hosts, i)));
	if (n > 5 && o < len)
		snprintf(buf + o, len - o, " and %zu more", n - 5);
}

int
run_create(struct srv *s, struct etcd *e, const struct run_request *rq,
    json_t **out, json_t **recent, struct lr_err *err)
{
	struct rec_load l = { 0 };
	struct spec_task exec = { 0 };
	const struct spec_task *t;
	struct etcd_txn txn;
	struct etcd_txn_result tr = { 0 };
	json_t *params = NULL, *hosts = NULL, *rec = NULL, *prev = NULL,
	    *steps = NULL;
	char *commit = NULL, *key = NULL, *val = NULL, *fval = NULL;
	char id[RUN_ID_LEN + 1], now[32], when[32], hs[256], res[300];
	const char *near;
	int64_t window;
	int rc;

	spec_diags_init(&l.diags);
	if ((rq->task == NULL) == (rq->command == NULL))
		LR_BUG("run_create: a task or a command, one of them");
	if ((commit = deployed_commit(s, e, err)) == NULL) {
		rc = err->code;
		goto out;
	}
	if ((rc = src_load_commit(s, e, commit, 0, &l, err)) < 0) {
		if (l.diags.nerrors) {
			size_t i;

			for (i = 0; l.diags.v[i].sev != SPEC_ERROR; i++)
				;
			rc = lr_err_set(err, LR_EINVAL, "the deployed commit "
			    "%.12s does not load: %s:%d:%d: %s", commit,
			    l.diags.v[i].path, l.diags.v[i].line,
			    l.diags.v[i].col, l.diags.v[i].msg);
			lr_err_hint(err, "run 'leura validate' on it, fix and "
			    "apply again");
		}
		goto out;
	}
	if (rq->task != NULL) {
		if ((t = spec_repo_find_task(l.repo, rq->task)) == NULL) {
			rc = lr_err_set(err, LR_ENOENT, "no task '%s' in the "
			    "deployed commit %.12s", rq->task, commit);
			near = nearest_task(l.repo, rq->task);
			if (near != NULL)
				lr_err_hint(err, "did you mean '%s'? 'leura "
				    "tasks' lists them", near);
			else
				lr_err_hint(err, "'leura tasks' lists the "
				    "tasks; a new one runs once it is applied");
			goto out;
		}
		if ((rc = rec_task_params(t, rq->params, &params, err)) < 0)
			goto out;
		window = t->dedupe_window_ms;
		steps = steps_of(t);
	} else {
		if (rq->params != NULL && json_object_size(rq->params) > 0) {
			rc = lr_err_set(err, LR_EINVAL, "an ad-hoc command "
			    "takes no params");
			lr_err_hint(err, "write the values into the command");
			goto out;
		}
		exec.name = NULL;	/* messages say "the command" */
		exec.parallel = 0;
		exec.timeout_ms = -1;
		t = &exec;
		params = json_object();
		window = RUN_DEDUPE_DEFAULT_MS;
		steps = json_pack("[{s:s, s:s}]", "name", "command", "kind",
		    "script");
	}
	if ((rc = rec_task_hosts(l.repo, &l.comp, t, rq->targets, &hosts,
	    err)) < 0)
		goto out;
	if (rq->check != NULL && (rc = rq->check(rq->check_arg, hosts,
	    err)) < 0)
		goto out;
	if ((rc = find_recent(s, e, rq->task, rq->command, hosts, window,
	    &prev, err)) < 0)
		goto out;
	if (prev != NULL && !rq->force) {
		ago(lr_json_str(prev, "created"), when, sizeof(when));
		hosts_text(json_object_get(prev, "hosts"), hs, sizeof(hs));
		rc = lr_err_set(err, LR_EEXIST, "%s%s%s ran %s on %s, by %s "
		    "(run %s, %s%s)", rq->task ? "task '" : "the same command",
		    rq->task ? rq->task : "", rq->task ? "'" : "", when, hs,
		    lr_json_str(prev, "by"), lr_json_str(prev, "id"),
		    lr_json_strn(prev, "outcome") ? "" : "still ",
		    lr_json_strn(prev, "outcome") ? lr_json_str(prev,
		    "outcome") : lr_json_str(prev, "state"));
		lr_err_hint(err, "did someone just do that? start it anyway "
		    "with --force (\"force\": true)");
		*recent = run_summary(prev);
		goto out;
	}
	run_id_new(id);
	run_time_iso(run_now_ms(), now);
	rec = json_pack("{s:s, s:s, s:s?, s:s?, s:s?, s:O, s:O, s:O, s:s, s:s,"
	    " s:s, s:s, s:n, s:n, s:s, s:n, s:n, s:i, s:s, s:I, s:O, s:o,"
	    " s:[], s:b}",
	    "id", id, "kind", rq->task ? "task" : "exec", "task", rq->task,
	    "command", rq->command, "run_as", rq->run_as, "params", params,
	    "targets", rq->targets ? rq->targets : json_null(), "hosts",
	    hosts, "commit", commit, "by", rq->by, "via", rq->via ? rq->via :
	    "api", "created", now, "started", "ended", "state", "scheduled",
	    "outcome", "reason", "parallel", t->parallel, "on_failure",
	    rq->task ? spec_on_failure_name(t->on_failure) : "stop",
	    "timeout_ms", (json_int_t)(t->timeout_ms > 0 ? t->timeout_ms : 0),
	    "steps", steps, "progress", progress_new(hosts,
	    json_array_size(steps)), "approvals", "self_approval",
	    rq->task ? t->self_approval : false);
	if (rq->fired != NULL)
		json_object_set(rec, "fired", (json_t *)rq->fired);
	if (prev != NULL)
		json_object_set_new(rec, "forced", json_pack("{s:O}", "recent",
		    json_object_get(prev, "id")));
	run_seal(s->sign_key, rec);
	key = proto_key_run(s->prefix, id);
	val = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
	etcd_txn_init(&txn);
	etcd_txn_cmp_int(&txn, key, ETCD_CMP_CREATE, ETCD_CMP_EQUAL, 0);
	etcd_txn_put(&txn, ETCD_THEN, key, val, strlen(val), 0);
	if (rq->fire_key != NULL) {
		json_t *f = json_pack("{s:s, s:s}", "run", id, "at", now);

		fval = json_dumps(f, JSON_COMPACT | JSON_SORT_KEYS);
		json_decref(f);
		etcd_txn_cmp_int(&txn, rq->fire_key, ETCD_CMP_CREATE,
		    ETCD_CMP_EQUAL, 0);
		etcd_txn_put(&txn, ETCD_THEN, rq->fire_key, fval, strlen(fval),
		    0);
	}
	rc = etcd_txn_commit(e, &txn, &tr, err);
	etcd_txn_release(&txn);
	if (rc == 0 && !tr.succeeded) {
		if (rq->fire_key != NULL) {
			rc = lr_err_set(err, LR_EEXIST, "the firing '%s' was "
			    "already made", rq->fire_key);
			lr_err_hint(err, "another replica fired it: nothing to "
			    "do");
		} else
			rc = lr_err_set(err, LR_ECONFLICT, "run id %s is taken",
			    id);
	}
	etcd_txn_result_release(&tr);
	if (rc < 0)
		goto out;
	if (rq->task != NULL)
		snprintf(res, sizeof(res), "tasks/%s", rq->task);
	else
		snprintf(res, sizeof(res), "runs/%s", id);
	srv_event_put(s, e, rq->by, "run.created", res, "ok", json_pack(
	    "{s:s, s:O, s:s, s:b}", "run", id, "hosts", hosts, "via",
	    rq->via ? rq->via : "api", "forced", prev != NULL));
	lr_log_info("run %s of %s%s created by %s on %zu host(s)", id,
	    rq->task ? "task " : "command ", rq->task ? rq->task : rq->command,
	    rq->by, json_array_size(hosts));
	srv_metrics_inc("leurad_runs_created_total", rq->task ?
	    "kind=\"task\"" : "kind=\"exec\"");
	*out = rec;
	rec = NULL;
out:
	json_decref(params);
	json_decref(hosts);
	json_decref(rec);
	json_decref(prev);
	json_decref(steps);
	rec_load_release(&l);
	free(commit);
	free(key);
	free(val);
	free(fval);
	return rc;
}

/* ---- events ---- */

void
run_event_put(struct srv *s, struct etcd *e, json_t *ev)
{
	srv_event_put(s, e, lr_json_strn(ev, "actor"), lr_json_str(ev,
	    "action"), lr_json_str(ev, "resource"), lr_json_strn(ev,
	    "outcome"), json_incref(json_object_get(ev, "detail")));
	json_decref(ev);
}

/* ---- the module ---- */

int
run_init(struct srv *s, struct lr_err *err)
{
	return run_engine_start(s, err);
}

void
run_routes(struct srv *s)
{
	run_api_routes(s);
}

void
run_free(struct srv *s)
{
	run_engine_stop(s);
}
