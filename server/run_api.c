/*
 * The runs' routes (docs/server.md "Task runs", docs/runs.md):
 *
 *   POST /v1/tasks/{task}/runs  {params, targets, force}: run_create;
 *                               201 the record, 409 recent_run
 *   POST /v1/exec               {command, hosts, groups, services,
 *                               run_as, force}: an ad-hoc command
 *   GET  /v1/runs               ?task&state&since&limit&after, newest
 *                               first, what the caller may read
 *   GET  /v1/runs/{id}          the record and every step's result
 *   POST /v1/runs/{id}/cancel   {message}
 *   POST /v1/runs/{id}/approve  {decision, message}
 *
 * Cancel and approve write the request into the record (a transaction
 * on its mod_revision) and wait a little for the leader's engine to act
 * on it, which it does whichever replica answered.  Grants: run on
 * tasks/T to start or cancel a task's run, run on every target host for
 * an ad-hoc command; read on tasks/T (ad-hoc: on every host) to see a
 * run; approving takes membership of the approval step's groups (and
 * nothing more).
 */
#define LR_LOG_COMPONENT "run"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "clock.h"
#include "etcd.h"
#include "json.h"
#include "keys.h"
#include "leurad.h"
#include "log.h"
#include "run-int.h"
#include "xalloc.h"

#define API_WAIT_MS	10000	/* cancel, approve: wait for it */
#define API_SCAN	10000	/* records one page looks at, at most */
#define API_BATCH	64
#define API_COMMAND_MAX	(64 * 1024)

/* ---- helpers ---- */

static bool
name_ok(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > 128 || s[0] == '.' || s[0] == '-')
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' &&
		    s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '.' || s[i] == '_' || s[i] == '-'))
			return false;
	return true;
}

/*
 * targets from body's "hosts", "groups", "services" (members of src
 * named in names, or of src["targets"]): 0 and *out (new; NULL when none
 * given), or -1 after a 400.
 */
static int
targets_of(const json_t *src, struct srv_resp *resp, json_t **out)
{
	static const char *const kinds[] = { "hosts", "groups", "services",
		NULL };
	json_t *t = NULL, *v, *x;
	size_t i, k;

	*out = NULL;
	for (k = 0; kinds[k] != NULL; k++) {
		v = json_object_get(src, kinds[k]);
		if (v == NULL || json_is_null(v))
			continue;
		if (!json_is_array(v))
			goto bad;
		json_array_foreach(v, i, x)
			if (!json_is_string(x) ||
			    !name_ok(json_string_value(x)))
				goto bad;
		if (t == NULL)
			t = json_object();
		json_object_set(t, kinds[k], v);
	}
	*out = t;
	return 0;
bad:
	json_decref(t);
	srv_resp_error(resp, 400, "bad_request", "give arrays of names, e.g. "
	    "{\"hosts\": [\"web1\"], \"groups\": [\"db\"]}", "targets: "
	    "'%s' must be an array of host, group or service names",
	    kinds[k]);
	return -1;
}

static int
bool_of(const json_t *body, const char *name, struct srv_resp *resp,
    bool *out)
{
	const json_t *v = json_object_get(body, name);

	*out = false;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_boolean(v)) {
		srv_resp_error(resp, 400, "bad_request", NULL, "field '%s' "
		    "must be true or false", name);
		return -1;
	}
	*out = json_is_true(v);
	return 0;
}

static int
str_of(const json_t *body, const char *name, size_t max,
    struct srv_resp *resp, const char **out)
{
	const json_t *v = json_object_get(body, name);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v) || json_string_length(v) > max) {
		srv_resp_error(resp, 400, "bad_request", NULL, "field '%s' "
		    "must be a string of at most %zu bytes", name, max);
		return -1;
	}
	*out = json_string_value(v);
	return 0;
}

/* The answer of a run_create failure: 409 recent_run, or the error. */
static void
resp_create_err(struct srv_resp *resp, const struct lr_err *err,
    json_t *recent)
{
	if (err->code == LR_EEXIST && recent != NULL) {
		srv_resp_json(resp, 409, json_pack("{s:{s:s, s:s, s:s}, s:O}",
		    "error", "code", "recent_run", "message", err->msg, "hint",
		    err->hint, "recent", recent));
		return;
	}
	srv_resp_lr_err(resp, err);
}

/* The resource a run's events and grants are about. */
static void
run_resource(const json_t *rec, char *buf, size_t len)
{
	if (lr_json_strn(rec, "task") != NULL)
		snprintf(buf, len, "tasks/%s", lr_json_str(rec, "task"));
	else
		snprintf(buf, len, "runs/%s", lr_json_str(rec, "id"));
}

/*
 * May the caller do verb on rec: on tasks/T, or for an ad-hoc command on
 * every host.  With resp: answers 401/403 when not.
 */
static bool
may(struct srv_req *req, struct srv_resp *resp, enum auth_verb verb,
    const json_t *rec)
{
	char res[300];
	json_t *h;
	size_t i;

	if (lr_json_strn(rec, "task") != NULL) {
		snprintf(res, sizeof(res), "tasks/%s", lr_json_str(rec,
		    "task"));
		return resp ? auth_require(req, resp, verb, res) :
		    auth_can(req, verb, res, NULL);
	}
	json_array_foreach(json_object_get(rec, "hosts"), i, h) {
		snprintf(res, sizeof(res), "hosts/%s", json_string_value(h));
		if (resp ? !auth_require(req, resp, verb, res) :
		    !auth_can(req, verb, res, NULL))
			return false;
	}
	return true;
}

static bool approver_of(const struct srv_req *req, const json_t *rec);

/*
 * Whether the caller may see rec at all: read on it, or a member of the
 * groups its waiting approval names.  When not, 404 worded as for a run
 * that does not exist (as for hosts and services: docs/auth.md), so that
 * what one may not read cannot be told from what is not there.
 */
static bool
visible(struct srv_req *req, struct srv_resp *resp, const json_t *rec)
{
	if (may(req, NULL, AUTH_READ, rec) || approver_of(req, rec))
		return true;
	srv_resp_error(resp, 404, "not_found", "'leura runs' lists the runs",
	    "no run '%s'", lr_json_str(rec, "id"));
	return false;
}

/*
 * The record of the run in the path: *rec (new) and *mod, or false
 * after an answer (400 bad id, 404, 503).
 */
static bool
get_rec(struct srv_req *req, struct srv_resp *resp, json_t **rec,
    int64_t *mod)
{
	const char *id = srv_param(req, "id");
	struct etcd_kv kv = { 0 };
	struct lr_err err;
	char *key;
	int rc;

	if (!run_id_valid(id) || id[0] != 'r') {
		srv_resp_error(resp, 400, "bad_request", "run ids look like "
		    "r@20261207-142233-0a1b2c ('leura runs' lists them)",
		    "'%.64s' is not a run id", id);
		return false;
	}
	lr_err_clear(&err);
	key = proto_key_run(req->srv->prefix, id);
	rc = etcd_get(req->etcd, key, &kv, NULL, &err);
	free(key);
	if (rc == LR_ENOENT) {
		srv_resp_error(resp, 404, "not_found", "'leura runs' lists the "
		    "runs", "no run '%s'", id);
		return false;
	}
	if (rc < 0) {
		srv_resp_lr_err(resp, &err);
		return false;
	}
	*rec = json_loadb(kv.value, kv.value_len, 0, NULL);
	*mod = kv.mod_revision;
	etcd_kv_release(&kv);
	if (*rec == NULL) {
		srv_resp_error(resp, 500, "internal", NULL, "the record of run "
		    "'%s' is not JSON", id);
		return false;
	}
	return true;
}

/*
 * Put rec at its key if its mod_revision is still mod: 1 done, 0 it
 * moved (read again), -1 after an answer.
 */
static int
put_if(struct srv_req *req, struct srv_resp *resp, const json_t *rec,
    int64_t mod)
{
	struct etcd_txn t;
	struct etcd_txn_result r = { 0 };
	struct lr_err err;
	char *key = proto_key_run(req->srv->prefix, lr_json_str(rec, "id"));
	char *v = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
	int rc;

	lr_err_clear(&err);
	etcd_txn_init(&t);
	etcd_txn_cmp_int(&t, key, ETCD_CMP_MOD, ETCD_CMP_EQUAL, mod);
	etcd_txn_put(&t, ETCD_THEN, key, v, strlen(v), 0);
	rc = etcd_txn_commit(req->etcd, &t, &r, &err);
	etcd_txn_release(&t);
	free(key);
	free(v);
	if (rc < 0) {
		srv_resp_lr_err(resp, &err);
		etcd_txn_result_release(&r);
		return -1;
	}
	rc = r.succeeded ? 1 : 0;
	etcd_txn_result_release(&r);
	return rc;
}

/*
 * Wait (API_WAIT_MS at most) until the record's mod_revision is past mod
 * and done(rec) holds: the record then (new), else the last read.
 */
static json_t *
wait_rec(struct srv_req *req, const char *id, int64_t mod,
    bool (*done)(const json_t *))
{
	struct etcd_kv kv = { 0 };
	struct lr_err err;
	char *key = proto_key_run(req->srv->prefix, id);
	long t0 = lr_now_ms();
	json_t *v = NULL;

	for (;;) {
		lr_err_clear(&err);
		if (etcd_get(req->etcd, key, &kv, NULL, &err) == 0) {
			json_decref(v);
			v = json_loadb(kv.value, kv.value_len, 0, NULL);
			if (kv.mod_revision > mod && v != NULL && done(v)) {
				etcd_kv_release(&kv);
				break;
			}
			etcd_kv_release(&kv);
		}
		if (lr_now_ms() - t0 > API_WAIT_MS)
			break;
		lr_sleep_ms(100);
	}
	free(key);
	return v;
}

static bool
is_final(const json_t *rec)
{
	return strcmp(lr_json_str(rec, "state"), "finalised") == 0;
}

static bool
not_waiting(const json_t *rec)
{
	return strcmp(lr_json_str(rec, "state"), "waiting_approval") != 0;
}

/* ---- POST /v1/tasks/{task}/runs ---- */

static int	check_hosts(void *arg, const json_t *hosts, struct lr_err *err);

static void
post_task_run(struct srv_req *req, struct srv_resp *resp)
{
	static const char *const fields[] = { "params", "targets", "force",
		NULL };
	const char *task = srv_param(req, "task");
	struct run_request rq = { 0 };
	struct lr_err err;
	json_t *body = NULL, *targets = NULL, *out = NULL, *recent = NULL, *p;
	char res[300];

	snprintf(res, sizeof(res), "tasks/%s", task);
	srv_req_audit(req, res, NULL);
	if (!name_ok(task)) {
		srv_resp_error(resp, 400, "bad_request", "'leura tasks' lists "
		    "the tasks", "'%.64s' is not a task name", task);
		return;
	}
	if (!auth_require(req, resp, AUTH_RUN, res) ||
	    srv_body_object(req, resp, fields, &body) < 0 ||
	    bool_of(body, "force", resp, &rq.force) < 0)
		goto out;
	p = json_object_get(body, "params");
	if (p != NULL && !json_is_null(p) && !json_is_object(p)) {
		srv_resp_error(resp, 400, "bad_request", "give {\"name\": "
		    "value, ...}", "field 'params' must be an object");
		goto out;
	}
	if (json_object_get(body, "targets") != NULL &&
	    !json_is_null(json_object_get(body, "targets"))) {
		if (!json_is_object(json_object_get(body, "targets"))) {
			srv_resp_error(resp, 400, "bad_request", "give "
			    "{\"hosts\": [...], \"groups\": [...], "
			    "\"services\": [...]}", "field 'targets' must be "
			    "an object");
			goto out;
		}
		if (targets_of(json_object_get(body, "targets"), resp,
		    &targets) < 0)
			goto out;
	}
	rq.task = task;
	rq.params = json_is_object(p) ? p : NULL;
	rq.targets = targets;
	/*
	 * targets of the caller's choosing, not the task's own: run on tasks/T
	 * is not run everywhere, so every host they resolve to needs it too
	 */
	if (targets != NULL) {
		rq.check = check_hosts;
		rq.check_arg = req;
	}
	rq.by = req->who->user;
	rq.via = "api";
	lr_err_clear(&err);
	if (run_create(req->srv, req->etcd, &rq, &out, &recent, &err) < 0) {
		resp_create_err(resp, &err, recent);
		goto out;
	}
	srv_req_audit(req, res, json_pack("{s:O, s:b}", "run",
	    json_object_get(out, "id"), "forced", rq.force));
	srv_resp_json(resp, 201, out);
	out = NULL;
out:
	json_decref(body);
	json_decref(targets);
	json_decref(out);
	json_decref(recent);
}

/* ---- POST /v1/exec ---- */

static int
check_hosts(void *arg, const json_t *hosts, struct lr_err *err)
{
	struct srv_req *req = arg;
	struct auth_why why;
	char res[300];
	json_t *h;
	size_t i;

	json_array_foreach(hosts, i, h) {
		snprintf(res, sizeof(res), "hosts/%s", json_string_value(h));
		if (!auth_can(req, AUTH_RUN, res, &why)) {
			lr_err_set(err, LR_EPERM, "forbidden: run on %s needs "
			    "a grant (%s)", res, why.reason);
			return lr_err_hint(err, "%s", why.hint[0] ? why.hint :
			    "ask an admin for run on the hosts");
		}
	}
	return 0;
}

static void
post_exec(struct srv_req *req, struct srv_resp *resp)
{
	static const char *const fields[] = { "command", "hosts", "groups",
		"services", "run_as", "force", NULL };
	struct run_request rq = { 0 };
	struct lr_err err;
	json_t *body = NULL, *targets = NULL, *out = NULL, *recent = NULL;
	char res[300];

	srv_req_audit(req, "runs", NULL);
	if (srv_body_object(req, resp, fields, &body) < 0 ||
	    str_of(body, "command", API_COMMAND_MAX, resp, &rq.command) < 0 ||
	    str_of(body, "run_as", 64, resp, &rq.run_as) < 0 ||
	    bool_of(body, "force", resp, &rq.force) < 0 ||
	    targets_of(body, resp, &targets) < 0)
		goto out;
	if (rq.command == NULL || *rq.command == '\0') {
		srv_resp_error(resp, 400, "bad_request", "give the shell text "
		    "to run, e.g. {\"command\": \"uptime\", \"hosts\": "
		    "[\"web1\"]}", "field 'command' is missing or empty");
		goto out;
	}
	if (rq.run_as != NULL && !name_ok(rq.run_as)) {
		srv_resp_error(resp, 400, "bad_request", "a user name of the "
		    "hosts, e.g. \"postgres\"", "'%.64s' is not a user name",
		    rq.run_as);
		goto out;
	}
	if (targets == NULL) {
		srv_resp_error(resp, 400, "bad_request", "give 'hosts', "
		    "'groups' or 'services'", "an ad-hoc command needs "
		    "targets");
		goto out;
	}
	rq.targets = targets;
	rq.by = req->who->user;
	rq.via = "api";
	rq.check = check_hosts;
	rq.check_arg = req;
	lr_err_clear(&err);
	if (run_create(req->srv, req->etcd, &rq, &out, &recent, &err) < 0) {
		resp_create_err(resp, &err, recent);
		goto out;
	}
	snprintf(res, sizeof(res), "runs/%s", lr_json_str(out, "id"));
	srv_req_audit(req, res, json_pack("{s:O, s:b}", "hosts",
	    json_object_get(out, "hosts"), "forced", rq.force));
	srv_resp_json(resp, 201, out);
	out = NULL;
out:
	json_decref(body);
	json_decref(targets);
	json_decref(out);
	json_decref(recent);
}

/* ---- GET /v1/runs ---- */

static const char *const list_args[] = { "task", "state", "since",
	"limit", "after", NULL };

static bool
list_args_known(struct srv_req *req, struct srv_resp *resp)
{
	size_t i, j;

	for (i = 0; i < req->nquery; i++) {
		for (j = 0; list_args[j] != NULL; j++)
			if (strcmp(req->query[i].name, list_args[j]) == 0)
				break;
		if (list_args[j] == NULL) {
			srv_resp_error(resp, 400, "bad_request", "the "
			    "arguments are task, state, since, limit and after",
			    "unknown query argument '%s'", req->query[i].name);
			return false;
		}
	}
	return true;
}

/* ?since: a duration back from now, or an RFC 3339 UTC time; -1: bad. */
static int64_t
since_of(const char *s)
{
	long ms;

	if (lr_duration_parse(s, &ms) == 0)
		return run_now_ms() - ms;
	return run_time_parse(s);
}

static bool
listed(struct srv_req *req, const json_t *rec, const char *task,
    const char *state)
{
	if (task != NULL && (lr_json_strn(rec, "task") == NULL ||
	    strcmp(lr_json_str(rec, "task"), task) != 0))
		return false;
	if (state != NULL && strcmp(lr_json_str(rec, "state"), state) != 0 &&
	    strcmp(lr_json_str(rec, "outcome"), state) != 0)
		return false;
	return may(req, NULL, AUTH_READ, rec);
}

static void
get_runs(struct srv_req *req, struct srv_resp *resp)
{
	struct etcd_range_req q = { 0 };
	struct etcd_range_result keys = { 0 }, r = { 0 };
	struct lr_err err;
	const char *task = srv_query(req, "task"), *state = srv_query(req,
	    "state"), *since = srv_query(req, "since"), *after;
	char *dir = NULL, *end = NULL, *start = NULL, *stop = NULL, t[32];
	json_t *items = NULL, *next = json_null(), *v;
	size_t limit, scanned = 0, hi, lo, i, dl;
	int64_t since_ms = 0;

	if (!list_args_known(req, resp) ||
	    srv_page_args(req, resp, &limit, &after) < 0)
		return;
	if (after != NULL && (!run_id_valid(after) || after[0] != 'r')) {
		srv_resp_error(resp, 400, "bad_request", "pass the 'next' of "
		    "the page before, a run id", "bad cursor 'after=%.64s'",
		    after);
		return;
	}
	if (since != NULL && (since_ms = since_of(since)) < 0) {
		srv_resp_error(resp, 400, "bad_request", "give a duration back "
		    "from now (24h, 90m) or a time such as "
		    "2026-12-07T19:00:00Z", "bad value 'since=%.64s'", since);
		return;
	}
	lr_err_clear(&err);
	dir = proto_key_run_docs_dir(req->srv->prefix);
	dl = strlen(dir);
	run_time_iso(since_ms, t);
	start = since != NULL ? lr_xasprintf("%sr@%.4s%.2s%.2s-%.2s%.2s%.2s",
	    dir, t, t + 5, t + 8, t + 11, t + 14, t + 17) : lr_xstrdup(dir);
	/* newest first: the page ends before the cursor */
	stop = after != NULL ? lr_xasprintf("%s%s", dir, after) :
	    etcd_prefix_end(dir);
	end = lr_xstrdup(stop);
	q.key = start;
	q.range_end = stop;
	q.flags = ETCD_KEYS_ONLY;
	if (etcd_range(req->etcd, &q, &keys, &err) < 0) {
		srv_resp_lr_err(resp, &err);
		goto out;
	}
	items = json_array();
	for (hi = keys.nkvs; hi > 0 && scanned < API_SCAN; hi = lo) {
		lo = hi > API_BATCH ? hi - API_BATCH : 0;
		memset(&q, 0, sizeof(q));
		q.key = keys.kvs[lo].key;
		q.range_end = hi < keys.nkvs ? keys.kvs[hi].key : end;
		if (etcd_range(req->etcd, &q, &r, &err) < 0) {
			srv_resp_lr_err(resp, &err);
			goto out;
		}
		for (i = r.nkvs; i > 0; i--) {
			scanned++;
			v = json_loadb(r.kvs[i - 1].value,
			    r.kvs[i - 1].value_len, 0, NULL);
			if (v != NULL && listed(req, v, task, state)) {
				json_object_del(v, "progress");
				json_array_append(items, v);
			}
			json_decref(v);
			if (json_array_size(items) == limit ||
			    scanned >= API_SCAN) {
				if (i > 1 || lo > 0)
					next = json_string(r.kvs[i - 1].key +
					    dl);
				etcd_range_result_release(&r);
				goto done;
			}
		}
		etcd_range_result_release(&r);
	}
done:
	srv_resp_json(resp, 200, json_pack("{s:o, s:o}", "items", items,
	    "next", next));
	items = next = NULL;
out:
	json_decref(items);
	json_decref(next);
	etcd_range_result_release(&keys);
	free(dir);
	free(end);
	free(start);
	free(stop);
}

/* ---- GET /v1/runs/{id} ---- */

static void
get_run(struct srv_req *req, struct srv_resp *resp)
{
	struct etcd_range_req q = { 0 };
	struct etcd_range_result r = { 0 };
	struct lr_err err;
	json_t *rec = NULL, *results, *row, *v;
	const char *host, *tail, *sl;
	char *dir = NULL, hb[256];
	size_t i, n, dl;
	int64_t mod;

	if (!get_rec(req, resp, &rec, &mod) || !visible(req, resp, rec))
		goto out;
	lr_err_clear(&err);
	dir = proto_key_run_results_dir(req->srv->prefix, lr_json_str(rec,
	    "id"));
	dl = strlen(dir);
	q.key = dir;
	q.flags = ETCD_PREFIX;
	if (etcd_range(req->etcd, &q, &r, &err) < 0) {
		srv_resp_lr_err(resp, &err);
		goto out;
	}
	/* {host: [result or null, per step]} */
	results = json_object();
	n = json_array_size(json_object_get(rec, "steps"));
	json_array_foreach(json_object_get(rec, "hosts"), i, v) {
		size_t s;

		row = json_array();
		for (s = 0; s < n; s++)
			json_array_append_new(row, json_null());
		json_object_set_new(results, json_string_value(v), row);
	}
	for (i = 0; i < r.nkvs; i++) {
		tail = r.kvs[i].key + dl;
		if ((sl = strchr(tail, '/')) == NULL ||
		    (size_t)(sl - tail) >= sizeof(hb))
			continue;
		memcpy(hb, tail, (size_t)(sl - tail));
		hb[sl - tail] = '\0';
		host = hb;
		if ((row = json_object_get(results, host)) == NULL ||
		    (v = json_loadb(r.kvs[i].value, r.kvs[i].value_len, 0,
		    NULL)) == NULL)
			continue;
		if (json_array_set_new(row, (size_t)atoi(sl + 1), v) < 0)
			json_decref(v);
	}
	json_object_set_new(rec, "results", results);
	srv_resp_etag(resp, mod);
	srv_resp_json(resp, 200, rec);
	rec = NULL;
out:
	etcd_range_result_release(&r);
	json_decref(rec);
	free(dir);
}

/* ---- POST /v1/runs/{id}/cancel ---- */

static void
post_cancel(struct srv_req *req, struct srv_resp *resp)
{
	static const char *const fields[] = { "message", NULL };
	json_t *body = NULL, *rec = NULL, *fin;
	const char *msg;
	char res[300], now[32];
	int64_t mod;
	int tries, rc;

	srv_req_audit(req, "runs", NULL);
	if (srv_body_object(req, resp, fields, &body) < 0 ||
	    str_of(body, "message", 1024, resp, &msg) < 0)
		goto out;
	for (tries = 0; tries < 10; tries++) {
		json_decref(rec);
		rec = NULL;
		if (!get_rec(req, resp, &rec, &mod))
			goto out;
		run_resource(rec, res, sizeof(res));
		srv_req_audit(req, res, json_pack("{s:O}", "run",
		    json_object_get(rec, "id")));
		if (!visible(req, resp, rec) || !may(req, resp, AUTH_RUN, rec))
			goto out;
		if (is_final(rec)) {
			srv_resp_error(resp, 409, "conflict", "nothing to "
			    "cancel: 'leura run show' tells how it went", "run "
			    "%s is already finalised (%s at %s)",
			    lr_json_str(rec, "id"), lr_json_str(rec, "outcome"),
			    lr_json_str(rec, "ended"));
			goto out;
		}
		if (json_object_get(rec, "cancel") != NULL)
			break;	/* asked already: wait for it */
		run_time_iso(run_now_ms(), now);
		json_object_set_new(rec, "cancel", json_pack("{s:s, s:s, s:s}",
		    "by", req->who->user, "at", now, "message", msg ? msg :
		    ""));
		if ((rc = put_if(req, resp, rec, mod)) < 0)
			goto out;
		if (rc == 1)
			break;
	}
	fin = wait_rec(req, lr_json_str(rec, "id"), mod, is_final);
	if (fin == NULL)
		fin = json_incref(rec);
	srv_resp_json(resp, is_final(fin) ? 200 : 202, fin);
out:
	json_decref(body);
	json_decref(rec);
}

/* ---- POST /v1/runs/{id}/approve ---- */

/* The approval step the run waits on: its index, or -1. */
static int
waiting_step(const json_t *rec)
{
	const json_t *steps = json_object_get(rec, "steps"), *row;
	size_t s;

	row = json_object_get(json_object_get(rec, "progress"),
	    json_string_value(json_array_get(json_object_get(rec, "hosts"),
	    0)));
	for (s = 0; s < json_array_size(steps); s++)
		if (strcmp(lr_json_str(json_array_get(steps, s), "kind"),
		    "approval") == 0 && strcmp(lr_json_str(json_array_get(row,
		    s), "state"), "done") != 0)
			return (int)s;
	return -1;
}

/* Whether the caller is in one of groups; their names into buf. */
static bool
member_of(const struct srv_req *req, const json_t *groups, char *buf,
    size_t len)
{
	const json_t *g;
	size_t i, j, o = 0;
	bool in = false;

	buf[0] = '\0';
	json_array_foreach(groups, i, g) {
		if (o < len)
			o += (size_t)snprintf(buf + o, len - o, "%s%s", i ?
			    ", " : "", json_string_value(g));
		for (j = 0; j < req->who->ngroups; j++)
			if (strcmp(req->who->groups[j],
			    json_string_value(g)) == 0)
				in = true;
	}
	return in;
}

/*
 * Whether the caller is in the groups of one of rec's approval steps:
 * they may decide on the run without a grant to read it.
 */
static bool
approver_of(const struct srv_req *req, const json_t *rec)
{
	const json_t *st;
	char groups[256];
	size_t i;

	json_array_foreach(json_object_get(rec, "steps"), i, st)
		if (member_of(req, json_object_get(json_object_get(st,
		    "approval"), "groups"), groups, sizeof(groups)))
			return true;
	return false;
}

static void
post_approve(struct srv_req *req, struct srv_resp *resp)
{
	static const char *const fields[] = { "decision", "message", NULL };
	json_t *body = NULL, *rec = NULL, *st, *fin, *ap, *ape;
	const char *msg, *dec;
	char res[300], now[32], groups[256];
	int64_t mod;
	int tries, S, rc;

	srv_req_audit(req, "runs", NULL);
	if (srv_body_object(req, resp, fields, &body) < 0 ||
	    str_of(body, "message", 1024, resp, &msg) < 0 ||
	    str_of(body, "decision", 16, resp, &dec) < 0)
		goto out;
	if (dec == NULL)
		dec = "approve";
	if (strcmp(dec, "approve") != 0 && strcmp(dec, "reject") != 0) {
		srv_resp_error(resp, 400, "bad_request", "give \"approve\" or "
		    "\"reject\"", "field 'decision' must be 'approve' or "
		    "'reject', not '%.16s'", dec);
		goto out;
	}
	for (tries = 0; tries < 10; tries++) {
		json_decref(rec);
		rec = NULL;
		if (!get_rec(req, resp, &rec, &mod))
			goto out;
		run_resource(rec, res, sizeof(res));
		srv_req_audit(req, res, json_pack("{s:O, s:s}", "run",
		    json_object_get(rec, "id"), "decision", dec));
		if (!visible(req, resp, rec))
			goto out;
		S = waiting_step(rec);
		if (strcmp(lr_json_str(rec, "state"), "waiting_approval") != 0
		    || S < 0) {
			srv_resp_error(resp, 409, "conflict", is_final(rec) ?
			    "it is over: 'leura run show' tells how it went" :
			    "approve once it waits ('leura run show' shows its "
			    "state)", "run %s is not waiting for an approval "
			    "(state %s%s%s)", lr_json_str(rec, "id"),
			    lr_json_str(rec, "state"), lr_json_strn(rec,
			    "outcome") ? ", " : "", lr_json_str(rec,
			    "outcome"));
			goto out;
		}
		st = json_array_get(json_object_get(rec, "steps"), (size_t)S);
		ap = json_object_get(st, "approval");
		if (!member_of(req, json_object_get(ap, "groups"), groups,
		    sizeof(groups))) {
			srv_resp_error(resp, 403, "forbidden", "ask a member "
			    "of these groups to approve it", "forbidden: "
			    "approving step '%s' of run %s takes membership of "
			    "group(s) %s", lr_json_str(st, "name"),
			    lr_json_str(rec, "id"), groups[0] ? groups :
			    "(none named)");
			goto out;
		}
		if (strcmp(lr_json_str(rec, "by"), req->who->user) == 0 &&
		    !lr_json_bool(ap, "self_approval")) {
			srv_resp_error(resp, 403, "forbidden", "another "
			    "member of the groups must decide; a task may "
			    "allow it with 'self_approval: true'", "forbidden: %s "
			    "started run %s and cannot approve it",
			    req->who->user, lr_json_str(rec, "id"));
			goto out;
		}
		run_time_iso(run_now_ms(), now);
		ape = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s}", "step", S,
		    "step_name", lr_json_str(st, "name"), "decision",
		    strcmp(dec, "approve") == 0 ? "approved" : "rejected",
		    "by", req->who->user, "at", now, "message", msg ? msg :
		    "");
		/* the engine counts only decisions leurad sealed */
		run_seal_approval(req->srv->sign_key, lr_json_str(rec, "id"),
		    ape);
		json_array_append_new(json_object_get(rec, "approvals"), ape);
		if ((rc = put_if(req, resp, rec, mod)) < 0)
			goto out;
		if (rc == 1)
			break;
	}
	fin = wait_rec(req, lr_json_str(rec, "id"), mod, not_waiting);
	if (fin == NULL)
		fin = json_incref(rec);
	srv_resp_json(resp, 200, fin);
out:
	json_decref(body);
	json_decref(rec);
}

void
run_api_routes(struct srv *s)
{
	srv_route(s->router, "POST", "/v1/tasks/{task}/runs", post_task_run,
	    0);
	srv_route(s->router, "POST", "/v1/exec", post_exec, 0);
	srv_route(s->router, "GET", "/v1/runs", get_runs, 0);
	srv_route(s->router, "GET", "/v1/runs/{id}", get_run, 0);
	srv_route(s->router, "POST", "/v1/runs/{id}/cancel", post_cancel, 0);
	srv_route(s->router, "POST", "/v1/runs/{id}/approve", post_approve, 0);
}
