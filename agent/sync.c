/*
 * The sync side of leura-agent (sync.h): the agent's side of etcd
 * (docs/etcd-layout.md, "How an agent reads its state"):
 *
 *   - one transaction reads P/desired/head and the documents under
 *     P/desired/hosts/HOST/ at one revision; two watches follow both from
 *     the next revision (the client resumes them after a drop and
 *     re-lists after a compaction, so no generation is missed);
 *   - the document in force is the one with the greatest generation <=
 *     head.generation; when it changes, the contents its steps need come
 *     from P/desired/files/ (one transaction of gets per 64), are stored
 *     in the state dir, and only then does the run side (converge.c,
 *     through the desired hook) hear of the document;
 *   - reports (built by the run side) go to P/observed/HOST and
 *     P/results/HOST, one put at a time, the latest state winning
 *     (coalesced), retried with back-off while etcd is away;
 *   - the heartbeat P/agents/HOST (host facts) is bound to a lease kept
 *     alive by the client, and re-put every minute and on every new lease;
 *   - while a rollout gate waits, P/observed/ is read and watched.
 *
 * Keys are built and cut with proto/keys.h, values read with
 * proto_value_parse, and documents read by their proto/fields.h names.
 *
 * Until the first read succeeds the agent works from desired.json.  What
 * the run side holds (the document in force, the report) it owns; this
 * file only asks for it through the hooks and keeps a reference to what
 * it publishes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LR_LOG_COMPONENT "agent"
#include "doc.h"
#include "etcd_uv.h"
#include "facts.h"
#include "json.h"
#include "keys.h"
#include "log.h"
#include "sync.h"
#include "xalloc.h"

#define FETCH_BATCH	64
#define FACTS_EVERY_MS	60000
#define BACKOFF_MAX_MS	10000

/* Every field is this file's; the hooks' side sees none of them. */
struct agent_sync {
	uv_loop_t	*loop;
	struct agent_store *store;	/* borrowed */
	char		*host;
	const struct etcd_config *etcd;	/* borrowed */
	long		 lease_ttl_s;
	int64_t		 started_unix;
	struct agent_sync_hooks hooks;
	struct etcd_uv	*eu;
	bool		 stopping;	/* agent_sync_hold: act on nothing */
	int		 closing;	/* handles not yet closed (free) */

	/* keys, owned */
	char	*prefix;	/* P */
	char	*k_head;	/* P/desired/head */
	char	*k_docs;	/* P/desired/hosts/HOST/ */
	char	*k_observed;	/* P/observed/HOST */
	char	*k_results;	/* P/results/HOST */
	char	*k_agent;	/* P/agents/HOST */
	char	*k_obs_dir;	/* P/observed/ */

	/* ---- what etcd says ---- */
	bool	 synced;	/* the initial read is done */
	int64_t	 head_gen;	/* head.generation; 0: none */
	int64_t	 head_deploy;
	int64_t	 head_rev;	/* its mod_revision */
	json_t	*docs;		/* {key: document} under k_docs */
	int64_t	 docs_rev;	/* docs is known up to this revision */
	bool	 docs_reading;
	struct etcd_uv_watch *w_head, *w_docs, *w_obs;
	struct etcd_uv_lease *lease;
	int64_t	 lease_id;
	uv_timer_t t_sync;	/* retry of the initial read, fetches */
	uv_timer_t t_facts;	/* heartbeat refresh, report retries */
	long	 sync_backoff_ms;
	char	*fetching;	/* key of the document whose files come */
	/* other hosts' reports, while a rollout gate waits on them */
	json_t	*observed;	/* {host: report}; NULL: not loaded */
	bool	 obs_loading;
	bool	 observing;	/* between observe_start and _stop */

	/* ---- reporting: references to the run side's documents ---- */
	json_t	*report;	/* what P/observed/HOST should say */
	json_t	*results;	/* what P/results/HOST should say */
	bool	 put_busy, put_dirty, results_dirty;
};

static void	sync_read(struct agent_sync *s);
static void	evaluate(struct agent_sync *s);
static void	fetch_retry_cb(uv_timer_t *t);
static void	report_put(struct agent_sync *s);

/* ---- helpers ---- */

/* The value of kv as a JSON object; NULL (said, and ignored) when not. */
static json_t *
parse_obj(const struct etcd_kv *kv)
{
	struct lr_err err;
	json_t *v;

	if ((v = proto_value_parse(kv->key, kv->value, kv->value_len,
	    &err)) == NULL)
		lr_log_warn("the value of '%s' in etcd is not a JSON object; "
		    "ignored", kv->key);
	return v;
}

/* Generation of a document key under k_docs, -1 when not one. */
static int64_t
key_generation(const struct agent_sync *s, const char *key)
{
	return proto_key_doc_generation(key, s->k_docs);
}

/* Replace what s->docs holds with the documents among kvs. */
static void
docs_replace(struct agent_sync *s, const struct etcd_kv *kvs, size_t n)
{
	json_t *v;
	size_t i;

	json_object_clear(s->docs);
	for (i = 0; i < n; i++)
		if (key_generation(s, kvs[i].key) >= 0 &&
		    (v = parse_obj(&kvs[i])) != NULL)
			json_object_set_new(s->docs, kvs[i].key, v);
}

/*
 * Retry later: 0.5 s doubling to BACKOFF_MAX_MS, with +-25% jitter so
 * that a fleet coming back from an etcd outage does not knock at once.
 */
static void
backoff(struct agent_sync *s, uv_timer_cb cb)
{
	long ms;

	s->sync_backoff_ms = s->sync_backoff_ms ? s->sync_backoff_ms * 2 : 500;
	if (s->sync_backoff_ms > BACKOFF_MAX_MS)
		s->sync_backoff_ms = BACKOFF_MAX_MS;
	ms = s->sync_backoff_ms * 3 / 4 + random() % (s->sync_backoff_ms / 2 +
	    1);
	uv_timer_start(&s->t_sync, cb, (uint64_t)ms, 0);
}

static void
set_head(struct agent_sync *s, const struct etcd_kv *kv)
{
	json_t *h;

	if (kv == NULL || (h = parse_obj(kv)) == NULL)
		return;
	s->head_gen = lr_json_int(h, PROTO_HEAD_GENERATION);
	s->head_deploy = lr_json_int(h, PROTO_HEAD_DEPLOY);
	s->head_rev = kv->mod_revision;
	json_decref(h);
}

/* ---- the initial read and the watches ---- */

static void
retry_cb(uv_timer_t *t)
{
	struct agent_sync *s = t->data;

	if (!s->stopping)
		sync_read(s);
}

static void
head_cb(const struct etcd_watch_batch *b, void *arg)
{
	struct agent_sync *s = arg;
	size_t i;

	switch (b->kind) {
	case ETCD_WATCH_EVENTS:
		for (i = 0; i < b->nevents; i++)
			if (b->events[i].type == ETCD_EV_PUT)
				set_head(s, &b->events[i].kv);
		break;
	case ETCD_WATCH_RESYNC:
		for (i = 0; i < b->nkvs; i++)
			set_head(s, &b->kvs[i]);
		break;
	case ETCD_WATCH_DISCONNECTED:
		lr_log_info("watch of %s: %s", s->k_head, b->err->msg);
		return;
	default:
		return;
	}
	evaluate(s);
}

static void
docs_cb(const struct etcd_watch_batch *b, void *arg)
{
	struct agent_sync *s = arg;
	const struct etcd_kv *kv;
	json_t *v;
	size_t i;

	switch (b->kind) {
	case ETCD_WATCH_EVENTS:
		if (b->revision > s->docs_rev)
			s->docs_rev = b->revision;
		for (i = 0; i < b->nevents; i++) {
			kv = &b->events[i].kv;
			if (b->events[i].type == ETCD_EV_DELETE)
				json_object_del(s->docs, kv->key);
			else if (key_generation(s, kv->key) >= 0 &&
			    (v = parse_obj(kv)) != NULL)
				json_object_set_new(s->docs, kv->key, v);
		}
		break;
	case ETCD_WATCH_RESYNC:
		docs_replace(s, b->kvs, b->nkvs);
		if (b->revision > s->docs_rev)
			s->docs_rev = b->revision;
		break;
	case ETCD_WATCH_PROGRESS:
		if (b->revision > s->docs_rev)
			s->docs_rev = b->revision;
		break;
	case ETCD_WATCH_DISCONNECTED:
		lr_log_info("watch of %s: %s", s->k_docs, b->err->msg);
		if (b->err->code == LR_EPERM || b->err->code == LR_EAUTH)
			lr_log_error("etcd refuses this agent's watch of %s: "
			    "%s; grant its user read access (docs/"
			    "etcd-layout.md, Access control)", s->k_docs,
			    b->err->msg);
		return;
	default:
		return;
	}
	evaluate(s);
}

static void
watches_stop(struct agent_sync *s)
{
	if (s->w_head)
		etcd_uv_watch_stop(s->w_head);
	if (s->w_docs)
		etcd_uv_watch_stop(s->w_docs);
	s->w_head = s->w_docs = NULL;
}

/*
 * After the first read (or its failure), the owner may take over (--once:
 * converge once, or stop).  true when it did.
 */
static bool
read_done(struct agent_sync *s, const char *failure)
{
	if (s->fetching || s->stopping)
		return false;
	return s->hooks.read_done(s->hooks.arg, failure);
}

static void
read_cb(int status, const json_t *resp, const struct lr_err *err, void *arg)
{
	struct agent_sync *s = arg;
	struct etcd_txn_result r = { 0 };
	struct etcd_watch_req wq = { 0 };
	struct lr_err e2;
	int64_t head;
	size_t i;

	if (s->stopping)
		return;
	if (status < 0 || etcd_txn_decode(resp, &r, &e2) < 0 || r.nops != 2) {
		if (status < 0 && !s->synced && s->sync_backoff_ms == 0)
			lr_log_warn("cannot read the desired state: %s; %s, "
			    "retrying", err->msg, s->hooks.in_force(
			    s->hooks.arg, &head) ? "working from the cached "
			    "desired state" : "nothing is cached yet");
		else if (status < 0)
			lr_log_info("cannot read the desired state: %s",
			    err->msg);
		etcd_txn_result_release(&r);
		if (read_done(s, status < 0 ? err->msg : "bad answer"))
			return;
		backoff(s, retry_cb);
		return;
	}
	s->sync_backoff_ms = 0;
	s->head_gen = s->head_deploy = 0;
	for (i = 0; i < r.ops[0].range.nkvs; i++)
		set_head(s, &r.ops[0].range.kvs[i]);
	docs_replace(s, r.ops[1].range.kvs, r.ops[1].range.nkvs);
	s->docs_rev = r.revision;
	watches_stop(s);
	wq.start_revision = r.revision + 1;
	wq.flags = ETCD_PROGRESS_NOTIFY;
	wq.key = s->k_head;
	if (etcd_uv_watch_start(s->eu, &wq, head_cb, s, &s->w_head, &e2) <
	    0)
		lr_log_error("cannot watch %s: %s", s->k_head, e2.msg);
	wq.key = s->k_docs;
	wq.flags |= ETCD_PREFIX;
	if (etcd_uv_watch_start(s->eu, &wq, docs_cb, s, &s->w_docs, &e2) <
	    0)
		lr_log_error("cannot watch %s: %s", s->k_docs, e2.msg);
	etcd_txn_result_release(&r);
	if (!s->synced)
		lr_log_info("desired state read at revision %lld: head "
		    "generation %lld", (long long)wq.start_revision - 1,
		    (long long)s->head_gen);
	s->synced = true;
	evaluate(s);
	read_done(s, NULL);
	/* a report that failed while etcd was away goes now */
	if (s->put_dirty && !s->put_busy)
		report_put(s);
}

static void
sync_read(struct agent_sync *s)
{
	struct etcd_range_req q = { 0 };
	struct etcd_txn t;
	int rc;

	etcd_txn_init(&t);
	q.key = s->k_head;
	etcd_txn_range(&t, ETCD_THEN, &q);
	q.key = s->k_docs;
	q.flags = ETCD_PREFIX;
	etcd_txn_range(&t, ETCD_THEN, &q);
	rc = etcd_uv_txn(s->eu, &t, read_cb, s);
	etcd_txn_release(&t);
	if (rc < 0)
		backoff(s, retry_cb);
}

/* ---- the document in force, and its contents ---- */

/* Contents doc's steps need that the store lacks: array of sha256. */
static json_t *
missing_files(struct agent_sync *s, const json_t *doc)
{
	static const char *const fields[] = {
		PROTO_STEP_SHA256, PROTO_STEP_EXEC_SHA256
	};
	json_t *out = json_array(), *st, *v;
	const char *sha;
	size_t i, j, k;
	bool dup;

	json_array_foreach(json_object_get(doc, PROTO_DOC_STEPS), i, st) {
		for (j = 0; j < 2; j++) {
			if ((sha = json_string_value(json_object_get(st,
			    fields[j]))) == NULL ||
			    agent_store_file_has(s->store, sha))
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

	json_array_foreach(json_object_get(doc, PROTO_DOC_STEPS), i, st)
		if (lr_json_strn(st, PROTO_STEP_EXEC_SHA256) &&
		    strcmp(lr_json_strn(st, PROTO_STEP_EXEC_SHA256), sha) == 0)
			return true;
	return false;
}

static void fetch_next(struct agent_sync *s);

static void
fetch_retry_cb(uv_timer_t *t)
{
	struct agent_sync *s = t->data;

	if (!s->stopping)
		evaluate(s);
}

static void
fetch_cb(int status, const json_t *resp, const struct lr_err *err, void *arg)
{
	struct agent_sync *s = arg;
	struct etcd_txn_result r = { 0 };
	struct lr_err e2;
	const struct etcd_kv *kv;
	struct proto_key pk;
	json_t *doc;
	size_t i;
	bool gone = false, bad = false;

	if (s->stopping)
		return;
	doc = s->fetching ? json_object_get(s->docs, s->fetching) : NULL;
	if (status < 0 || etcd_txn_decode(resp, &r, &e2) < 0 || doc == NULL) {
		if (status < 0)
			lr_log_info("cannot fetch contents: %s", err->msg);
		etcd_txn_result_release(&r);
		free(s->fetching);
		s->fetching = NULL;
		backoff(s, fetch_retry_cb);
		return;
	}
	for (i = 0; i < r.nops; i++) {
		if (r.ops[i].range.nkvs == 0) {
			gone = true;
			continue;
		}
		kv = &r.ops[i].range.kvs[0];
		if (proto_key_parse(s->prefix, kv->key, &pk) !=
		    PROTO_KEY_FILE) {
			/* not what was asked for: asking again is no better */
			bad = true;
			continue;
		}
		if (agent_store_file_put(s->store, pk.name, kv->value,
		    kv->value_len, exec_sha(doc, pk.name), &e2) < 0) {
			lr_log_error("%s", e2.msg);
			bad = true;
		}
	}
	etcd_txn_result_release(&r);
	if (agent_store_files_sync(s->store, &e2) < 0)
		lr_log_warn("%s", e2.msg);
	if (bad && !gone) {
		/* damaged in etcd: try again later, not in a loop */
		free(s->fetching);
		s->fetching = NULL;
		backoff(s, fetch_retry_cb);
		return;
	}
	if (gone) {
		/*
		 * garbage-collected by a newer apply: this document is no
		 * longer the newest; start over from the head
		 */
		lr_log_info("contents of %s are gone; reading the desired "
		    "state again", s->fetching);
		free(s->fetching);
		s->fetching = NULL;
		watches_stop(s);
		sync_read(s);
		return;
	}
	fetch_next(s);
}

/* Fetch what the document being fetched lacks, then accept it. */
static void
fetch_next(struct agent_sync *s)
{
	struct etcd_range_req q = { 0 };
	struct etcd_txn t;
	json_t *doc = json_object_get(s->docs, s->fetching), *miss, *v;
	char *key;
	size_t i;
	int rc;

	if (doc == NULL) {	/* deleted meanwhile */
		free(s->fetching);
		s->fetching = NULL;
		evaluate(s);
		return;
	}
	miss = missing_files(s, doc);
	if (json_array_size(miss) == 0) {
		json_decref(miss);
		key = s->fetching;
		s->fetching = NULL;
		s->sync_backoff_ms = 0;
		/* keep doc alive through the hook: a watch may drop it */
		json_incref(doc);
		s->hooks.desired(s->hooks.arg, key, doc, s->head_gen);
		json_decref(doc);
		free(key);
		return;
	}
	etcd_txn_init(&t);
	json_array_foreach(miss, i, v) {
		if (i == FETCH_BATCH)
			break;
		key = proto_key_file(s->prefix, json_string_value(v));
		q.key = key;
		etcd_txn_range(&t, ETCD_THEN, &q);
		free(key);
	}
	json_decref(miss);
	rc = etcd_uv_txn(s->eu, &t, fetch_cb, s);
	etcd_txn_release(&t);
	if (rc < 0) {
		free(s->fetching);
		s->fetching = NULL;
		backoff(s, fetch_retry_cb);
	}
}

static void
confirm_cb(int status, const json_t *resp, const struct lr_err *err,
    void *arg)
{
	struct agent_sync *s = arg;
	struct etcd_range_result r = { 0 };
	struct lr_err e2;

	s->docs_reading = false;
	if (s->stopping)
		return;
	if (status < 0 || etcd_range_decode(resp, &r, &e2) < 0) {
		if (status < 0)
			lr_log_info("cannot read %s: %s", s->k_docs, err->msg);
		etcd_range_result_release(&r);
		backoff(s, fetch_retry_cb);
		return;
	}
	docs_replace(s, r.kvs, r.nkvs);
	if (r.revision > s->docs_rev)
		s->docs_rev = r.revision;
	etcd_range_result_release(&r);
	evaluate(s);
}

/*
 * The head and the documents come on two watch streams, in no set order
 * between them: a new head may arrive before the documents it commits.
 * Until the documents are known up to the head's revision, read them.
 */
static bool
docs_behind(struct agent_sync *s)
{
	struct etcd_range_req q = { 0 };

	if (s->docs_rev >= s->head_rev)
		return false;
	if (!s->docs_reading) {
		q.key = s->k_docs;
		q.flags = ETCD_PREFIX;
		if (etcd_uv_range(s->eu, &q, confirm_cb, s) == 0)
			s->docs_reading = true;
		else
			backoff(s, fetch_retry_cb);
	}
	return true;
}

/* The head or the documents changed: act on the document in force. */
static void
evaluate(struct agent_sync *s)
{
	const char *key, *best = NULL, *cur;
	int64_t g, bg = -1, cur_head = 0;
	json_t *v;

	if (s->stopping || s->fetching || docs_behind(s))
		return;
	json_object_foreach(s->docs, key, v) {
		g = key_generation(s, key);
		if (g >= 0 && g <= s->head_gen && g > bg) {
			bg = g;
			best = key;
		}
	}
	cur = s->hooks.in_force(s->hooks.arg, &cur_head);
	if (best == NULL || (cur && strcmp(cur, best) == 0)) {
		/* the head moved without changing this host */
		if (cur && cur_head != s->head_gen)
			s->hooks.head(s->hooks.arg, s->head_gen,
			    s->head_deploy);
		s->hooks.kick(s->hooks.arg);
		return;
	}
	s->fetching = lr_xstrdup(best);
	fetch_next(s);
}

/* ---- reports ---- */

static void report_retry_cb(uv_timer_t *t);

static void
put_cb(int status, const json_t *resp, const struct lr_err *err, void *arg)
{
	struct agent_sync *s = arg;

	s->put_busy = false;
	if (status < 0) {
		lr_log_info("cannot report: %s", err->msg);
		s->put_dirty = true;
		s->results_dirty = s->results != NULL;	/* may be lost too */
		if (!s->stopping)
			uv_timer_start(&s->t_facts, report_retry_cb, 2000, 0);
		else
			agent_sync_stop(s);
		return;
	}
	if (s->put_dirty || s->results_dirty)
		report_put(s);
	else if (s->stopping)
		agent_sync_stop(s);
}

static void
heartbeat_cb(int status, const json_t *resp, const struct lr_err *err,
    void *arg)
{
	if (status < 0 && status != LR_ECANCELED)
		lr_log_info("cannot put the heartbeat: %s", err->msg);
}

static void
heartbeat(struct agent_sync *s)
{
	json_t *f;
	char *doc;

	if (s->lease_id <= 0)
		return;
	f = agent_facts_collect(agent_store_dir(s->store), s->started_unix);
	doc = proto_dumps(f);
	json_decref(f);
	if (etcd_uv_put(s->eu, s->k_agent, doc, strlen(doc), s->lease_id,
	    heartbeat_cb, s) < 0)
		lr_log_info("cannot put the heartbeat");
	free(doc);
}

static void
facts_cb(uv_timer_t *t)
{
	struct agent_sync *s = t->data;

	heartbeat(s);
	uv_timer_start(&s->t_facts, facts_cb, FACTS_EVERY_MS, 0);
}

static void
report_retry_cb(uv_timer_t *t)
{
	struct agent_sync *s = t->data;

	uv_timer_start(&s->t_facts, facts_cb, FACTS_EVERY_MS, 0);
	if (s->put_dirty || s->results_dirty)
		report_put(s);
}

void
agent_sync_publish(struct agent_sync *s, json_t *report, json_t *results)
{
	if (s->report != report) {
		json_decref(s->report);
		s->report = json_incref(report);
	}
	if (results) {
		json_decref(s->results);
		s->results = json_incref(results);
		s->results_dirty = true;
	}
	report_put(s);
}

static void
report_put(struct agent_sync *s)
{
	struct etcd_txn t;
	char *rep, *res;
	int rc;

	if (s->eu == NULL || s->report == NULL)
		return;
	if (s->put_busy) {
		s->put_dirty = true;
		return;
	}
	rep = proto_dumps(s->report);
	if (s->results_dirty && s->results) {
		/* one round trip: the results and the report that names them */
		res = json_dumps(s->results, JSON_COMPACT);
		etcd_txn_init(&t);
		etcd_txn_put(&t, ETCD_THEN, s->k_results, res, strlen(res), 0);
		etcd_txn_put(&t, ETCD_THEN, s->k_observed, rep, strlen(rep), 0);
		rc = etcd_uv_txn(s->eu, &t, put_cb, s);
		etcd_txn_release(&t);
		free(res);
	} else
		rc = etcd_uv_put(s->eu, s->k_observed, rep, strlen(rep), 0,
		    put_cb, s);
	free(rep);
	if (rc < 0) {
		lr_log_info("cannot report: error %d", rc);
		s->put_dirty = true;
		return;
	}
	s->put_busy = true;
	s->put_dirty = s->results_dirty = false;
}

/* ---- other hosts' reports (rollout gates) ---- */

static const char *
obs_host(const struct agent_sync *s, const char *key)
{
	return proto_key_host_in(key, s->k_obs_dir);
}

static void
obs_cb(const struct etcd_watch_batch *b, void *arg)
{
	struct agent_sync *s = arg;
	const char *h;
	json_t *v;
	size_t i;

	if (s->observed == NULL)
		return;
	switch (b->kind) {
	case ETCD_WATCH_EVENTS:
		for (i = 0; i < b->nevents; i++) {
			if ((h = obs_host(s, b->events[i].kv.key)) == NULL)
				continue;
			if (b->events[i].type == ETCD_EV_DELETE)
				json_object_del(s->observed, h);
			else if ((v = parse_obj(&b->events[i].kv)) != NULL)
				json_object_set_new(s->observed, h, v);
		}
		break;
	case ETCD_WATCH_RESYNC:
		json_object_clear(s->observed);
		for (i = 0; i < b->nkvs; i++)
			if ((h = obs_host(s, b->kvs[i].key)) != NULL &&
			    (v = parse_obj(&b->kvs[i])) != NULL)
				json_object_set_new(s->observed, h, v);
		break;
	default:
		return;
	}
	s->hooks.kick(s->hooks.arg);
}

static void
obs_read_cb(int status, const json_t *resp, const struct lr_err *err,
    void *arg)
{
	struct agent_sync *s = arg;
	struct etcd_range_result r = { 0 };
	struct etcd_watch_req wq = { 0 };
	struct lr_err e2;
	const char *h;
	json_t *v;
	size_t i;

	s->obs_loading = false;
	if (s->stopping || !s->observing)
		return;
	if (status < 0 || etcd_range_decode(resp, &r, &e2) < 0) {
		if (status < 0)
			lr_log_info("cannot read other hosts' reports: %s",
			    err->msg);
		etcd_range_result_release(&r);
		return;		/* the next kick asks again */
	}
	json_decref(s->observed);
	s->observed = json_object();
	for (i = 0; i < r.nkvs; i++)
		if ((h = obs_host(s, r.kvs[i].key)) != NULL &&
		    (v = parse_obj(&r.kvs[i])) != NULL)
			json_object_set_new(s->observed, h, v);
	wq.key = s->k_obs_dir;
	wq.flags = ETCD_PREFIX;
	wq.start_revision = r.revision + 1;
	if (s->w_obs == NULL && etcd_uv_watch_start(s->eu, &wq, obs_cb, s,
	    &s->w_obs, &e2) < 0)
		lr_log_error("cannot watch %s: %s", s->k_obs_dir, e2.msg);
	etcd_range_result_release(&r);
	s->hooks.kick(s->hooks.arg);
}

void
agent_sync_observe_start(struct agent_sync *s)
{
	struct etcd_range_req q = { 0 };

	s->observing = true;
	if (s->observed != NULL || s->obs_loading || s->eu == NULL)
		return;
	q.key = s->k_obs_dir;
	q.flags = ETCD_PREFIX;
	if (etcd_uv_range(s->eu, &q, obs_read_cb, s) == 0)
		s->obs_loading = true;
}

void
agent_sync_observe_stop(struct agent_sync *s)
{
	s->observing = false;
	if (s->w_obs)
		etcd_uv_watch_stop(s->w_obs);
	s->w_obs = NULL;
	json_decref(s->observed);
	s->observed = NULL;
}

const json_t *
agent_sync_observed(const struct agent_sync *s)
{
	return s->observed;
}

int64_t
agent_sync_head_deploy(const struct agent_sync *s)
{
	return s->head_deploy;
}

/* ---- lease and lifetime ---- */

static void
lease_cb(int64_t id, void *arg)
{
	struct agent_sync *s = arg;

	s->lease_id = id;
	if (id > 0) {
		heartbeat(s);
		/* the report may have failed while etcd was away */
		if (s->put_dirty && !s->put_busy)
			report_put(s);
	}
}

int
agent_sync_start(struct agent_sync *s, struct lr_err *err)
{
	int rc;

	if ((rc = etcd_uv_new(s->loop, s->etcd, &s->eu, err)) < 0)
		return rc;
	if ((rc = etcd_uv_lease_start(s->eu, s->lease_ttl_s ?
	    s->lease_ttl_s : 10, lease_cb, s, &s->lease, err)) < 0)
		return rc;
	uv_timer_start(&s->t_facts, facts_cb, FACTS_EVERY_MS, 0);
	sync_read(s);
	return 0;
}

static void
revoked_cb(int status, const json_t *resp, const struct lr_err *err,
    void *arg)
{
	struct agent_sync *s = arg;
	struct etcd_uv *eu;

	if (status < 0 && status != LR_ECANCELED)
		lr_log_info("cannot revoke the heartbeat's lease: %s; its "
		    "key goes when the lease expires", err->msg);
	eu = s->eu;
	s->lease_id = 0;
	s->eu = NULL;
	if (eu)
		etcd_uv_free(eu);
}

/*
 * Stop talking to etcd: once the last report is out (or failed), revoke
 * the heartbeat's lease (its key goes with it) and free the client.
 * Called again by put_cb while a put is in flight.
 */
void
agent_sync_stop(struct agent_sync *s)
{
	struct etcd_uv *eu;
	char id[32];

	s->stopping = true;
	uv_timer_stop(&s->t_sync);
	uv_timer_stop(&s->t_facts);
	/* they may serve the last report; they keep the loop alive no more */
	uv_unref((uv_handle_t *)&s->t_sync);
	uv_unref((uv_handle_t *)&s->t_facts);
	watches_stop(s);
	agent_sync_observe_stop(s);
	if (s->eu == NULL || s->put_busy)
		return;		/* put_cb comes back here */
	if ((s->put_dirty || s->results_dirty) && s->synced) {
		s->synced = false;	/* one last try, not a loop */
		report_put(s);
		if (s->put_busy)
			return;
	}
	if (s->lease)
		etcd_uv_lease_stop(s->lease, false);
	s->lease = NULL;
	if (s->lease_id > 0) {
		snprintf(id, sizeof(id), "%lld", (long long)s->lease_id);
		if (etcd_uv_call(s->eu, "/v3/lease/revoke", json_pack("{s:s}",
		    "ID", id), "revoke the heartbeat's lease", revoked_cb,
		    s) == 0)
			return;
	}
	eu = s->eu;
	s->eu = NULL;
	etcd_uv_free(eu);
}

void
agent_sync_hold(struct agent_sync *s)
{
	s->stopping = true;
}

struct agent_sync *
agent_sync_new(const struct agent_sync_config *c,
    const struct agent_sync_hooks *hooks)
{
	struct agent_sync *s = lr_xcalloc(1, sizeof(*s));

	s->loop = c->loop;
	s->store = c->store;
	s->host = lr_xstrdup(c->host);
	s->etcd = c->etcd;
	s->lease_ttl_s = c->lease_ttl_s;
	s->started_unix = c->started_unix;
	s->hooks = *hooks;
	s->docs = json_object();
	s->prefix = lr_xstrdup(c->prefix);
	s->k_head = proto_key_head(c->prefix);
	s->k_docs = proto_key_host_docs_dir(c->prefix, c->host);
	s->k_observed = proto_key_observed(c->prefix, c->host);
	s->k_results = proto_key_results(c->prefix, c->host);
	s->k_agent = proto_key_agent(c->prefix, c->host);
	s->k_obs_dir = proto_key_observed_dir(c->prefix);
	uv_timer_init(s->loop, &s->t_sync);
	uv_timer_init(s->loop, &s->t_facts);
	s->t_sync.data = s->t_facts.data = s;
	return s;
}

static void
freed_cb(uv_handle_t *h)
{
	struct agent_sync *s = h->data;

	if (--s->closing > 0)
		return;
	json_decref(s->docs);
	json_decref(s->observed);
	json_decref(s->report);
	json_decref(s->results);
	free(s->fetching);
	free(s->prefix);
	free(s->k_head);
	free(s->k_docs);
	free(s->k_observed);
	free(s->k_results);
	free(s->k_agent);
	free(s->k_obs_dir);
	free(s->host);
	free(s);
}

void
agent_sync_free(struct agent_sync *s)
{
	struct etcd_uv *eu;

	if (s == NULL)
		return;
	s->stopping = true;
	if ((eu = s->eu) != NULL) {	/* not stopped: drop the client */
		watches_stop(s);
		agent_sync_observe_stop(s);
		if (s->lease)
			etcd_uv_lease_stop(s->lease, false);
		s->lease = NULL;
		s->eu = NULL;		/* canceled callbacks see it gone */
		etcd_uv_free(eu);
	}
	s->closing = 2;
	uv_close((uv_handle_t *)&s->t_sync, freed_cb);
	uv_close((uv_handle_t *)&s->t_facts, freed_cb);
}
