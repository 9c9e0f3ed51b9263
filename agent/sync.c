/*
 * The agent's side of etcd (docs/etcd-layout.md, "How an agent reads its
 * state"):
 *
 *   - one transaction reads P/desired/head and the documents under
 *     P/desired/hosts/HOST/ at one revision; two watches follow both from
 *     the next revision (the client resumes them after a drop and
 *     re-lists after a compaction, so no generation is missed);
 *   - the document in force is the one with the greatest generation <=
 *     head.generation; when it changes, the contents its steps need come
 *     from P/desired/files/ (one transaction of gets per 64), are stored
 *     in the state dir, and the document is saved to desired.json before
 *     converge.c acts on it;
 *   - reports go to P/observed/HOST and P/results/HOST, one put at a
 *     time, the latest state winning (coalesced), retried with back-off
 *     while etcd is away;
 *   - the heartbeat P/agents/HOST (host facts) is bound to a lease kept
 *     alive by the client, and re-put every minute and on every new lease;
 *   - while a rollout gate waits, P/observed/ is read and watched.
 *
 * Until the first read succeeds the agent works from desired.json.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LR_LOG_COMPONENT "agent"
#include "agent.h"
#include "facts.h"
#include "log.h"
#include "xalloc.h"

#define FETCH_BATCH	64
#define FACTS_EVERY_MS	60000
#define BACKOFF_MAX_MS	10000

static void	sync_read(struct agent *a);
static void	evaluate(struct agent *a);
static void	fetch_retry_cb(uv_timer_t *t);

/* ---- helpers ---- */

static json_t *
parse_obj(const struct etcd_kv *kv)
{
	json_t *v = json_loadb(kv->value, kv->value_len, 0, NULL);

	if (v != NULL && !json_is_object(v)) {
		json_decref(v);
		v = NULL;
	}
	if (v == NULL)
		lr_log_warn("the value of '%s' in etcd is not a JSON object; "
		    "ignored", kv->key);
	return v;
}

/* Generation of a document key under k_docs, -1 when not one. */
static int64_t
key_generation(const struct agent *a, const char *key)
{
	size_t n = strlen(a->k_docs);
	const char *p = key + n;
	char *end;
	long long g;

	if (strncmp(key, a->k_docs, n) != 0 || strlen(p) < 14 || p[12] != '/')
		return -1;
	errno = 0;
	g = strtoll(p, &end, 10);
	if (errno || end != p + 12 || g < 0)
		return -1;
	return g;
}

/*
 * Retry later: 0.5 s doubling to BACKOFF_MAX_MS, with +-25% jitter so
 * that a fleet coming back from an etcd outage does not knock at once.
 */
/* Replace what a->docs holds with the documents among kvs. */
static void
docs_replace(struct agent *a, const struct etcd_kv *kvs, size_t n)
{
	json_t *v;
	size_t i;

	json_object_clear(a->docs);
	for (i = 0; i < n; i++)
		if (key_generation(a, kvs[i].key) >= 0 &&
		    (v = parse_obj(&kvs[i])) != NULL)
			json_object_set_new(a->docs, kvs[i].key, v);
}

static void
backoff(struct agent *a, uv_timer_cb cb)
{
	long ms;

	a->sync_backoff_ms = a->sync_backoff_ms ? a->sync_backoff_ms * 2 : 500;
	if (a->sync_backoff_ms > BACKOFF_MAX_MS)
		a->sync_backoff_ms = BACKOFF_MAX_MS;
	ms = a->sync_backoff_ms * 3 / 4 + random() % (a->sync_backoff_ms / 2 +
	    1);
	uv_timer_start(&a->t_sync, cb, (uint64_t)ms, 0);
}

static void
set_head(struct agent *a, const struct etcd_kv *kv)
{
	json_t *h;

	if (kv == NULL || (h = parse_obj(kv)) == NULL)
		return;
	a->head_gen = json_integer_value(json_object_get(h, "generation"));
	a->head_deploy = json_integer_value(json_object_get(h, "deploy"));
	a->head_rev = kv->mod_revision;
	json_decref(h);
}

/* ---- the initial read and the watches ---- */

static void
retry_cb(uv_timer_t *t)
{
	struct agent *a = t->data;

	if (!a->stopping)
		sync_read(a);
}

static void
head_cb(const struct etcd_watch_batch *b, void *arg)
{
	struct agent *a = arg;
	size_t i;

	switch (b->kind) {
	case ETCD_WATCH_EVENTS:
		for (i = 0; i < b->nevents; i++)
			if (b->events[i].type == ETCD_EV_PUT)
				set_head(a, &b->events[i].kv);
		break;
	case ETCD_WATCH_RESYNC:
		for (i = 0; i < b->nkvs; i++)
			set_head(a, &b->kvs[i]);
		break;
	case ETCD_WATCH_DISCONNECTED:
		lr_log_info("watch of %s: %s", a->k_head, b->err->msg);
		return;
	default:
		return;
	}
	evaluate(a);
}

static void
docs_cb(const struct etcd_watch_batch *b, void *arg)
{
	struct agent *a = arg;
	const struct etcd_kv *kv;
	json_t *v;
	size_t i;

	switch (b->kind) {
	case ETCD_WATCH_EVENTS:
		if (b->revision > a->docs_rev)
			a->docs_rev = b->revision;
		for (i = 0; i < b->nevents; i++) {
			kv = &b->events[i].kv;
			if (b->events[i].type == ETCD_EV_DELETE)
				json_object_del(a->docs, kv->key);
			else if (key_generation(a, kv->key) >= 0 &&
			    (v = parse_obj(kv)) != NULL)
				json_object_set_new(a->docs, kv->key, v);
		}
		break;
	case ETCD_WATCH_RESYNC:
		docs_replace(a, b->kvs, b->nkvs);
		if (b->revision > a->docs_rev)
			a->docs_rev = b->revision;
		break;
	case ETCD_WATCH_PROGRESS:
		if (b->revision > a->docs_rev)
			a->docs_rev = b->revision;
		break;
	case ETCD_WATCH_DISCONNECTED:
		lr_log_info("watch of %s: %s", a->k_docs, b->err->msg);
		if (b->err->code == LR_EPERM || b->err->code == LR_EAUTH)
			lr_log_error("etcd refuses this agent's watch of %s: "
			    "%s; grant its user read access (docs/"
			    "etcd-layout.md, Access control)", a->k_docs,
			    b->err->msg);
		return;
	default:
		return;
	}
	evaluate(a);
}

static void
watches_stop(struct agent *a)
{
	if (a->w_head)
		etcd_uv_watch_stop(a->w_head);
	if (a->w_docs)
		etcd_uv_watch_stop(a->w_docs);
	a->w_head = a->w_docs = NULL;
}

/*
 * --once: after the first read (or its failure: from the cache), converge
 * once, or stop when there is nothing to converge.  true when it acted.
 */
static bool
once_start(struct agent *a, const char *failure)
{
	if (!a->o.once || a->runs > 0 || a->run || a->fetching || a->stopping)
		return false;
	if (a->cur) {
		if (failure)
			lr_log_warn("etcd: %s; converging the cached desired "
			    "state", failure);
		agent_converge(a);
		return true;
	}
	if (failure)
		lr_log_error("cannot read the desired state: %s, and none is "
		    "cached in %s", failure, agent_store_dir(a->store));
	else
		lr_log_error("no desired state for host %s under %s: run "
		    "'leura apply' with this host in the inventory",
		    a->o.host, a->o.prefix);
	agent_stop(a, 1);
	return true;
}

static void
read_cb(int status, const json_t *resp, const struct lr_err *err, void *arg)
{
	struct agent *a = arg;
	struct etcd_txn_result r = { 0 };
	struct etcd_watch_req wq = { 0 };
	struct lr_err e2;
	size_t i;

	if (a->stopping)
		return;
	if (status < 0 || etcd_txn_decode(resp, &r, &e2) < 0 || r.nops != 2) {
		if (status < 0 && !a->synced && a->sync_backoff_ms == 0)
			lr_log_warn("cannot read the desired state: %s; %s, "
			    "retrying", err->msg, a->cur ? "working from the "
			    "cached desired state" : "nothing is cached yet");
		else if (status < 0)
			lr_log_info("cannot read the desired state: %s",
			    err->msg);
		etcd_txn_result_release(&r);
		if (once_start(a, status < 0 ? err->msg : "bad answer"))
			return;
		backoff(a, retry_cb);
		return;
	}
	a->sync_backoff_ms = 0;
	a->head_gen = a->head_deploy = 0;
	for (i = 0; i < r.ops[0].range.nkvs; i++)
		set_head(a, &r.ops[0].range.kvs[i]);
	docs_replace(a, r.ops[1].range.kvs, r.ops[1].range.nkvs);
	a->docs_rev = r.revision;
	watches_stop(a);
	wq.start_revision = r.revision + 1;
	wq.flags = ETCD_PROGRESS_NOTIFY;
	wq.key = a->k_head;
	if (etcd_uv_watch_start(a->eu, &wq, head_cb, a, &a->w_head, &e2) <
	    0)
		lr_log_error("cannot watch %s: %s", a->k_head, e2.msg);
	wq.key = a->k_docs;
	wq.flags |= ETCD_PREFIX;
	if (etcd_uv_watch_start(a->eu, &wq, docs_cb, a, &a->w_docs, &e2) <
	    0)
		lr_log_error("cannot watch %s: %s", a->k_docs, e2.msg);
	etcd_txn_result_release(&r);
	if (!a->synced)
		lr_log_info("desired state read at revision %lld: head "
		    "generation %lld", (long long)wq.start_revision - 1,
		    (long long)a->head_gen);
	a->synced = true;
	evaluate(a);
	once_start(a, NULL);
	/* a report that failed while etcd was away goes now */
	if (a->put_dirty && !a->put_busy)
		agent_report_put(a);
}

static void
sync_read(struct agent *a)
{
	struct etcd_range_req q = { 0 };
	struct etcd_txn t;
	int rc;

	etcd_txn_init(&t);
	q.key = a->k_head;
	etcd_txn_range(&t, ETCD_THEN, &q);
	q.key = a->k_docs;
	q.flags = ETCD_PREFIX;
	etcd_txn_range(&t, ETCD_THEN, &q);
	rc = etcd_uv_txn(a->eu, &t, read_cb, a);
	etcd_txn_release(&t);
	if (rc < 0)
		backoff(a, retry_cb);
}

/* ---- the document in force, and its contents ---- */

/* Contents doc's steps need that the store lacks: array of sha256. */
static json_t *
missing_files(struct agent *a, const json_t *doc)
{
	static const char *const fields[] = { "sha256", "exec_sha256" };
	json_t *out = json_array(), *st, *v;
	const char *sha;
	size_t i, j, k;
	bool dup;

	json_array_foreach(json_object_get(doc, "steps"), i, st) {
		for (j = 0; j < 2; j++) {
			if ((sha = json_string_value(json_object_get(st,
			    fields[j]))) == NULL ||
			    agent_store_file_has(a->store, sha))
				continue;
			dup = false;
			json_array_foreach(out, k, v)
				if (strcmp(json_string_value(v), sha) == 0)
					dup = true;
			if (!dup)
				json_array_append_new(out, json_string(sha));
		}
	}
	return out;
}

static bool
exec_sha(const json_t *doc, const char *sha)
{
	json_t *st;
	size_t i;

	json_array_foreach(json_object_get(doc, "steps"), i, st)
		if (json_string_value(json_object_get(st, "exec_sha256")) &&
		    strcmp(json_string_value(json_object_get(st,
		    "exec_sha256")), sha) == 0)
			return true;
	return false;
}

/* The services of doc no longer in next, and their turndown steps. */
static void
add_turndown(json_t *cur, const json_t *old, const json_t *next)
{
	json_t *td = json_object_get(cur, "turndown"), *st, *s;
	const char *svc;
	size_t i, j;
	bool kept;

	json_array_foreach(json_object_get(old, "steps"), i, st) {
		svc = json_string_value(json_object_get(st, "service"));
		if (svc == NULL || strcmp(json_string_value(json_object_get(
		    st, "phase")), "turndown") != 0)
			continue;
		kept = false;
		json_array_foreach(json_object_get(next, "services"), j, s)
			if (strcmp(json_string_value(s), svc) == 0)
				kept = true;
		if (!kept)
			json_array_append(td, st);
	}
	/* a service that comes back takes its pending turndown off */
	for (i = json_array_size(td); i-- > 0;) {
		svc = json_string_value(json_object_get(json_array_get(td, i),
		    "service"));
		json_array_foreach(json_object_get(next, "services"), j, s)
			if (svc && strcmp(json_string_value(s), svc) == 0) {
				json_array_remove(td, i);
				break;
			}
	}
}

static void
accept_doc(struct agent *a, const char *key, json_t *doc)
{
	json_t *cur, *old = a->cur ? json_object_get(a->cur, "doc") : NULL;
	struct lr_err err;

	cur = json_pack("{s:s, s:O, s:o, s:I}", "key", key, "doc", doc,
	    "turndown", a->cur ? json_deep_copy(json_object_get(a->cur,
	    "turndown")) : json_array(), "head", (json_int_t)a->head_gen);
	if (old)
		add_turndown(cur, old, doc);
	if (agent_store_desired_save(a->store, cur, &err) < 0)
		lr_log_error("%s", err.msg);
	json_decref(a->cur);
	a->cur = cur;
	lr_log_notice("desired state: generation %lld (%s), %zu steps",
	    (long long)json_integer_value(json_object_get(doc, "generation")),
	    json_is_true(json_object_get(doc, "removed")) ? "removed from "
	    "the inventory" : "deploy", json_array_size(json_object_get(doc,
	    "steps")));
	agent_converge(a);
}

static void fetch_next(struct agent *a);

static void
fetch_retry_cb(uv_timer_t *t)
{
	struct agent *a = t->data;

	if (!a->stopping)
		evaluate(a);
}

static void
fetch_cb(int status, const json_t *resp, const struct lr_err *err, void *arg)
{
	struct agent *a = arg;
	struct etcd_txn_result r = { 0 };
	struct lr_err e2;
	const struct etcd_kv *kv;
	const char *sha;
	json_t *doc;
	size_t i;
	bool gone = false, bad = false;

	if (a->stopping)
		return;
	doc = a->fetching ? json_object_get(a->docs, a->fetching) : NULL;
	if (status < 0 || etcd_txn_decode(resp, &r, &e2) < 0 || doc == NULL) {
		if (status < 0)
			lr_log_info("cannot fetch contents: %s", err->msg);
		etcd_txn_result_release(&r);
		free(a->fetching);
		a->fetching = NULL;
		backoff(a, fetch_retry_cb);
		return;
	}
	for (i = 0; i < r.nops; i++) {
		if (r.ops[i].range.nkvs == 0) {
			gone = true;
			continue;
		}
		kv = &r.ops[i].range.kvs[0];
		sha = kv->key + strlen(a->k_files);
		if (agent_store_file_put(a->store, sha, kv->value,
		    kv->value_len, exec_sha(doc, sha), &e2) < 0) {
			lr_log_error("%s", e2.msg);
			bad = true;
		}
	}
	etcd_txn_result_release(&r);
	if (agent_store_files_sync(a->store, &e2) < 0)
		lr_log_warn("%s", e2.msg);
	if (bad && !gone) {
		/* damaged in etcd: try again later, not in a loop */
		free(a->fetching);
		a->fetching = NULL;
		backoff(a, fetch_retry_cb);
		return;
	}
	if (gone) {
		/*
		 * garbage-collected by a newer apply: this document is no
		 * longer the newest; start over from the head
		 */
		lr_log_info("contents of %s are gone; reading the desired "
		    "state again", a->fetching);
		free(a->fetching);
		a->fetching = NULL;
		watches_stop(a);
		sync_read(a);
		return;
	}
	fetch_next(a);
}

/* Fetch what the document being fetched lacks, then accept it. */
static void
fetch_next(struct agent *a)
{
	struct etcd_range_req q = { 0 };
	struct etcd_txn t;
	json_t *doc = json_object_get(a->docs, a->fetching), *miss, *v;
	char *key;
	size_t i;
	int rc;

	if (doc == NULL) {	/* deleted meanwhile */
		free(a->fetching);
		a->fetching = NULL;
		evaluate(a);
		return;
	}
	miss = missing_files(a, doc);
	if (json_array_size(miss) == 0) {
		json_decref(miss);
		key = a->fetching;
		a->fetching = NULL;
		a->sync_backoff_ms = 0;
		accept_doc(a, key, doc);
		free(key);
		return;
	}
	etcd_txn_init(&t);
	json_array_foreach(miss, i, v) {
		if (i == FETCH_BATCH)
			break;
		key = lr_xasprintf("%s%s", a->k_files, json_string_value(v));
		q.key = key;
		etcd_txn_range(&t, ETCD_THEN, &q);
		free(key);
	}
	json_decref(miss);
	rc = etcd_uv_txn(a->eu, &t, fetch_cb, a);
	etcd_txn_release(&t);
	if (rc < 0) {
		free(a->fetching);
		a->fetching = NULL;
		backoff(a, fetch_retry_cb);
	}
}

static void
confirm_cb(int status, const json_t *resp, const struct lr_err *err,
    void *arg)
{
	struct agent *a = arg;
	struct etcd_range_result r = { 0 };
	struct lr_err e2;

	a->docs_reading = false;
	if (a->stopping)
		return;
	if (status < 0 || etcd_range_decode(resp, &r, &e2) < 0) {
		if (status < 0)
			lr_log_info("cannot read %s: %s", a->k_docs, err->msg);
		etcd_range_result_release(&r);
		backoff(a, fetch_retry_cb);
		return;
	}
	docs_replace(a, r.kvs, r.nkvs);
	if (r.revision > a->docs_rev)
		a->docs_rev = r.revision;
	etcd_range_result_release(&r);
	evaluate(a);
}

/*
 * The head and the documents come on two watch streams, in no set order
 * between them: a new head may arrive before the documents it commits.
 * Until the documents are known up to the head's revision, read them.
 */
static bool
docs_behind(struct agent *a)
{
	struct etcd_range_req q = { 0 };

	if (a->docs_rev >= a->head_rev)
		return false;
	if (!a->docs_reading) {
		q.key = a->k_docs;
		q.flags = ETCD_PREFIX;
		if (etcd_uv_range(a->eu, &q, confirm_cb, a) == 0)
			a->docs_reading = true;
		else
			backoff(a, fetch_retry_cb);
	}
	return true;
}

/* The head or the documents changed: act on the document in force. */
static void
evaluate(struct agent *a)
{
	const char *key, *best = NULL, *cur;
	int64_t g, bg = -1;
	json_t *v;

	if (a->stopping || a->fetching || docs_behind(a))
		return;
	json_object_foreach(a->docs, key, v) {
		g = key_generation(a, key);
		if (g >= 0 && g <= a->head_gen && g > bg) {
			bg = g;
			best = key;
		}
	}
	cur = a->cur ? json_string_value(json_object_get(a->cur, "key")) :
	    NULL;
	if (best == NULL || (cur && strcmp(cur, best) == 0)) {
		/* the head moved without changing this host */
		if (a->cur && json_integer_value(json_object_get(a->cur,
		    "head")) != a->head_gen) {
			json_object_set_new(a->cur, "head",
			    json_integer(a->head_gen));
			json_object_set_new(a->report, "head",
			    json_integer(a->head_gen));
			json_object_set_new(a->report, "deploy",
			    json_integer(a->head_deploy));
			agent_report_put(a);
		}
		agent_run_kick(a);
		return;
	}
	a->fetching = lr_xstrdup(best);
	fetch_next(a);
}

/* ---- reports ---- */

static void report_retry_cb(uv_timer_t *t);

static void
put_cb(int status, const json_t *resp, const struct lr_err *err, void *arg)
{
	struct agent *a = arg;

	a->put_busy = false;
	if (status < 0) {
		lr_log_info("cannot report: %s", err->msg);
		a->put_dirty = true;
		a->results_dirty = a->results != NULL;	/* may be lost too */
		if (!a->stopping)
			uv_timer_start(&a->t_facts, report_retry_cb, 2000, 0);
		else
			agent_sync_stop(a);
		return;
	}
	if (a->put_dirty || a->results_dirty)
		agent_report_put(a);
	else if (a->stopping)
		agent_sync_stop(a);
}

static void
heartbeat_cb(int status, const json_t *resp, const struct lr_err *err,
    void *arg)
{
	if (status < 0 && status != LR_ECANCELED)
		lr_log_info("cannot put the heartbeat: %s", err->msg);
}

static void
heartbeat(struct agent *a)
{
	json_t *f;
	char *s;

	if (a->lease_id <= 0)
		return;
	f = agent_facts_collect(agent_store_dir(a->store), a->started_unix);
	s = json_dumps(f, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(f);
	if (etcd_uv_put(a->eu, a->k_agent, s, strlen(s), a->lease_id,
	    heartbeat_cb, a) < 0)
		lr_log_info("cannot put the heartbeat");
	free(s);
}

static void
facts_cb(uv_timer_t *t)
{
	struct agent *a = t->data;

	heartbeat(a);
	uv_timer_start(&a->t_facts, facts_cb, FACTS_EVERY_MS, 0);
}

static void
report_retry_cb(uv_timer_t *t)
{
	struct agent *a = t->data;

	uv_timer_start(&a->t_facts, facts_cb, FACTS_EVERY_MS, 0);
	if (a->put_dirty || a->results_dirty)
		agent_report_put(a);
}

void
agent_report_put(struct agent *a)
{
	struct etcd_txn t;
	char *rep, *res;
	int rc;

	if (a->eu == NULL)
		return;
	if (a->put_busy) {
		a->put_dirty = true;
		return;
	}
	rep = json_dumps(a->report, JSON_COMPACT | JSON_SORT_KEYS);
	if (a->results_dirty && a->results) {
		/* one round trip: the results and the report that names them */
		res = json_dumps(a->results, JSON_COMPACT);
		etcd_txn_init(&t);
		etcd_txn_put(&t, ETCD_THEN, a->k_results, res, strlen(res), 0);
		etcd_txn_put(&t, ETCD_THEN, a->k_observed, rep, strlen(rep), 0);
		rc = etcd_uv_txn(a->eu, &t, put_cb, a);
		etcd_txn_release(&t);
		free(res);
	} else
		rc = etcd_uv_put(a->eu, a->k_observed, rep, strlen(rep), 0,
		    put_cb, a);
	free(rep);
	if (rc < 0) {
		lr_log_info("cannot report: error %d", rc);
		a->put_dirty = true;
		return;
	}
	a->put_busy = true;
	a->put_dirty = a->results_dirty = false;
}

/* ---- other hosts' reports (rollout gates) ---- */

static const char *
obs_host(const struct agent *a, const char *key)
{
	const char *h = key + strlen(a->k_obs_dir);

	if (strncmp(key, a->k_obs_dir, strlen(a->k_obs_dir)) != 0 ||
	    *h == '\0' || strchr(h, '/'))
		return NULL;
	return h;
}

static void
obs_cb(const struct etcd_watch_batch *b, void *arg)
{
	struct agent *a = arg;
	const char *h;
	json_t *v;
	size_t i;

	if (a->observed == NULL)
		return;
	switch (b->kind) {
	case ETCD_WATCH_EVENTS:
		for (i = 0; i < b->nevents; i++) {
			if ((h = obs_host(a, b->events[i].kv.key)) == NULL)
				continue;
			if (b->events[i].type == ETCD_EV_DELETE)
				json_object_del(a->observed, h);
			else if ((v = parse_obj(&b->events[i].kv)) != NULL)
				json_object_set_new(a->observed, h, v);
		}
		break;
	case ETCD_WATCH_RESYNC:
		json_object_clear(a->observed);
		for (i = 0; i < b->nkvs; i++)
			if ((h = obs_host(a, b->kvs[i].key)) != NULL &&
			    (v = parse_obj(&b->kvs[i])) != NULL)
				json_object_set_new(a->observed, h, v);
		break;
	default:
		return;
	}
	agent_run_kick(a);
}

static void
obs_read_cb(int status, const json_t *resp, const struct lr_err *err,
    void *arg)
{
	struct agent *a = arg;
	struct etcd_range_result r = { 0 };
	struct etcd_watch_req wq = { 0 };
	struct lr_err e2;
	const char *h;
	json_t *v;
	size_t i;

	a->obs_loading = false;
	if (a->stopping || a->run == NULL)
		return;
	if (status < 0 || etcd_range_decode(resp, &r, &e2) < 0) {
		if (status < 0)
			lr_log_info("cannot read other hosts' reports: %s",
			    err->msg);
		etcd_range_result_release(&r);
		return;		/* the next kick asks again */
	}
	json_decref(a->observed);
	a->observed = json_object();
	for (i = 0; i < r.nkvs; i++)
		if ((h = obs_host(a, r.kvs[i].key)) != NULL &&
		    (v = parse_obj(&r.kvs[i])) != NULL)
			json_object_set_new(a->observed, h, v);
	wq.key = a->k_obs_dir;
	wq.flags = ETCD_PREFIX;
	wq.start_revision = r.revision + 1;
	if (a->w_obs == NULL && etcd_uv_watch_start(a->eu, &wq, obs_cb, a,
	    &a->w_obs, &e2) < 0)
		lr_log_error("cannot watch %s: %s", a->k_obs_dir, e2.msg);
	etcd_range_result_release(&r);
	agent_run_kick(a);
}

void
agent_observe_start(struct agent *a)
{
	struct etcd_range_req q = { 0 };

	if (a->observed != NULL || a->obs_loading || a->eu == NULL)
		return;
	q.key = a->k_obs_dir;
	q.flags = ETCD_PREFIX;
	if (etcd_uv_range(a->eu, &q, obs_read_cb, a) == 0)
		a->obs_loading = true;
}

void
agent_observe_stop(struct agent *a)
{
	if (a->w_obs)
		etcd_uv_watch_stop(a->w_obs);
	a->w_obs = NULL;
	json_decref(a->observed);
	a->observed = NULL;
}

/* ---- lease and lifetime ---- */

static void
lease_cb(int64_t id, void *arg)
{
	struct agent *a = arg;

	a->lease_id = id;
	if (id > 0) {
		heartbeat(a);
		/* the report may have failed while etcd was away */
		if (a->put_dirty && !a->put_busy)
			agent_report_put(a);
	}
}

int
agent_sync_start(struct agent *a, struct lr_err *err)
{
	int rc;

	if ((rc = etcd_uv_new(a->loop, &a->o.etcd, &a->eu, err)) < 0)
		return rc;
	if ((rc = etcd_uv_lease_start(a->eu, a->o.lease_ttl_s ?
	    a->o.lease_ttl_s : 10, lease_cb, a, &a->lease, err)) < 0)
		return rc;
	uv_timer_start(&a->t_facts, facts_cb, FACTS_EVERY_MS, 0);
	sync_read(a);
	return 0;
}

static void
revoked_cb(int status, const json_t *resp, const struct lr_err *err,
    void *arg)
{
	struct agent *a = arg;

	if (status < 0 && status != LR_ECANCELED)
		lr_log_info("cannot revoke the heartbeat's lease: %s; its "
		    "key goes when the lease expires", err->msg);
	a->lease_id = 0;
	etcd_uv_free(a->eu);
	a->eu = NULL;
}

/*
 * Stop talking to etcd: once the last report is out (or failed), revoke
 * the heartbeat's lease (its key goes with it) and free the client.
 * Called again by put_cb while a put is in flight.
 */
void
agent_sync_stop(struct agent *a)
{
	char id[32];

	uv_timer_stop(&a->t_sync);
	uv_timer_stop(&a->t_facts);
	watches_stop(a);
	agent_observe_stop(a);
	if (a->eu == NULL || a->put_busy)
		return;		/* put_cb comes back here */
	if ((a->put_dirty || a->results_dirty) && a->synced) {
		a->synced = false;	/* one last try, not a loop */
		agent_report_put(a);
		if (a->put_busy)
			return;
	}
	if (a->lease)
		etcd_uv_lease_stop(a->lease, false);
	a->lease = NULL;
	if (a->lease_id > 0) {
		snprintf(id, sizeof(id), "%lld", (long long)a->lease_id);
		if (etcd_uv_call(a->eu, "/v3/lease/revoke", json_pack("{s:s}",
		    "ID", id), "revoke the heartbeat's lease", revoked_cb,
		    a) == 0)
			return;
	}
	etcd_uv_free(a->eu);
	a->eu = NULL;
}
