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
 *     (coalesced), retried with back-off while etcd is away; each put
 *     is fitted to etcd's request limit first (report_send);
 *   - the heartbeat P/agents/HOST (host facts) is bound to a lease kept
 *     alive by the client, and re-put every minute and on every new lease;
 *   - while a rollout gate waits, P/observed/ is read and watched, and
 *     read again every OBS_REFRESH_MS.
 *
 * Nothing waits for "the next" anything: every request that can fail is
 * retried on a timer of its own, with a jittered back-off (backoff_next),
 * so the agent never depends on some later event to notice it is stuck.
 * Stopping (agent_sync_stop) is bounded by the deadline the owner gives:
 * the last report and the lease revoke get that long, then the client is
 * dropped.
 *
 * Keys are built and cut with proto/keys.h, values read with
 * proto_value_parse, and documents read by their proto/fields.h names;
 * the head and this host's documents only once trust.h let them in
 * (signed by the fleet's key), and a document comes into force only
 * when it is not older than one verified before.
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
#include "report.h"
#include "sync.h"
#include "trust.h"
#include "xalloc.h"

#define FETCH_BATCH	64
#define FACTS_EVERY_MS	60000
#define BACKOFF_MIN_MS	500
#define BACKOFF_MAX_MS	10000
#define OBS_REFRESH_MS	30000	/* a waiting gate reads the reports again */
#define REPORT_ERROR_EVERY_MS 60000	/* a failing report: error lines */
/*
 * A report's request is kept REQUEST_MARGIN under the limit (the
 * client's size estimate and etcd's own framing may differ a little);
 * a limit etcd proved wrong is lowered, never under REQUEST_MIN.
 */
#define REQUEST_MARGIN	(8 * 1024)
#define REQUEST_MIN	AGENT_SYNC_REQUEST_MIN
#define RESULTS_MAX	(1024 * 1024)	/* P/results/HOST, however large
					 * the limit */

/* Every field is this file's; the hooks' side sees none of them. */
struct agent_sync {
	uv_loop_t	*loop;
	struct agent_store *store;	/* borrowed */
	char		*host;
	const struct etcd_config *etcd;	/* borrowed */
	long		 lease_ttl_s;
	int64_t		 started_unix;
	struct agent_sync_hooks hooks;
	struct agent_trust *trust;	/* what of etcd may be acted on */
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
	json_t	*head_mbb;	/* head.make_before_break; NULL: none */
	json_t	*head_skipped;	/* head.skipped (proto/doc.h); NULL */
	int64_t	 head_rev;	/* its mod_revision */
	json_t	*docs;		/* {key: document} under k_docs */
	int64_t	 docs_rev;	/* docs is known up to this revision */
	bool	 docs_reading;
	struct etcd_uv_watch *w_head, *w_docs, *w_obs;
	struct etcd_uv_lease *lease;
	int64_t	 lease_id;
	/* timers, each with its back-off (the last delay; 0: none yet) */
	uv_timer_t t_sync;	/* initial read, fetches; at stop, deadline */
	long	 sync_backoff_ms;
	uv_timer_t t_facts;	/* heartbeat refresh and retries */
	long	 facts_backoff_ms;
	uv_timer_t t_report;	/* report retries */
	long	 report_backoff_ms;
	uv_timer_t t_obs;	/* other hosts' reports: retries, refresh */
	long	 obs_backoff_ms;
	char	*fetching;	/* key of the document whose files come */
	/* other hosts' reports, while a rollout gate waits on them */
	json_t	*observed;	/* {host: report}; NULL: not loaded */
	bool	 obs_loading;
	bool	 observing;	/* between observe_start and _stop */

	/* ---- reporting: references to the run side's documents ---- */
	json_t	*report;	/* what P/observed/HOST should say */
	json_t	*results;	/* what P/results/HOST should say */
	bool	 put_busy, put_dirty, results_dirty;
	size_t	 max_request;	/* etcd's request limit as we know it */
	size_t	 put_bytes;	/* size of the request in flight */
	int	 report_failures;	/* in a row */
	bool	 report_cut_said;	/* since the last report that fit */
	uint64_t report_error_at;	/* uv_now of the last error line */

	/* ---- stopping ---- */
	bool	 stop_called;	/* agent_sync_stop */
	long	 stop_deadline_ms;
	bool	 final_tried;	/* the last report went (or failed) */
	bool	 revoking;
};

static void	sync_read(struct agent_sync *s);
static void	evaluate(struct agent_sync *s);
static void	fetch_retry_cb(uv_timer_t *t);
static void	report_put(struct agent_sync *s);
static void	obs_read(struct agent_sync *s);
static void	stop_next(struct agent_sync *s);

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

/* A document of this host, if trusted (trust.h); NULL when not. */
static json_t *
parse_doc(struct agent_sync *s, const struct etcd_kv *kv)
{
	int64_t g = key_generation(s, kv->key);

	return g < 0 ? NULL : agent_trust_doc(s->trust, kv->key, g,
	    kv->value, kv->value_len);
}

/* Replace what s->docs holds with the documents among kvs. */
static void
docs_replace(struct agent_sync *s, const struct etcd_kv *kvs, size_t n)
{
	json_t *v;
	size_t i;

	json_object_clear(s->docs);
	for (i = 0; i < n; i++)
		if ((v = parse_doc(s, &kvs[i])) != NULL)
			json_object_set_new(s->docs, kvs[i].key, v);
}

/*
 * The next delay of a back-off whose last delay is *last: 0.5 s doubling
 * to BACKOFF_MAX_MS, with +-25% jitter so that a fleet coming back from
 * an etcd outage does not knock at once.
 */
static uint64_t
backoff_next(long *last)
{
	*last = *last ? *last * 2 : BACKOFF_MIN_MS;
	if (*last > BACKOFF_MAX_MS)
		*last = BACKOFF_MAX_MS;
	return (uint64_t)(*last * 3 / 4 + random() % (*last / 2 + 1));
}

/* Retry the initial read or a fetch later (t_sync). */
static void
backoff(struct agent_sync *s, uv_timer_cb cb)
{
	if (!s->stopping)
		uv_timer_start(&s->t_sync, cb,
		    backoff_next(&s->sync_backoff_ms), 0);
}

static void
set_head(struct agent_sync *s, const struct etcd_kv *kv)
{
	json_t *h;

	if (kv == NULL || (h = agent_trust_head(s->trust, kv->key, kv->value,
	    kv->value_len)) == NULL)
		return;
	s->head_gen = lr_json_int(h, PROTO_HEAD_GENERATION);
	s->head_deploy = lr_json_int(h, PROTO_HEAD_DEPLOY);
	json_decref(s->head_mbb);
	s->head_mbb = json_incref(json_object_get(h,
	    PROTO_HEAD_MAKE_BEFORE_BREAK));
	json_decref(s->head_skipped);
	s->head_skipped = json_incref(json_object_get(h, PROTO_HEAD_SKIPPED));
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
watches_stop(struct agent_sync *s)
{
	if (s->w_head)
		etcd_uv_watch_stop(s->w_head);
	if (s->w_docs)
		etcd_uv_watch_stop(s->w_docs);
	s->w_head = s->w_docs = NULL;
}

/*
 * A watch of the desired state could not start, or etcd refused it for
 * good: read the desired state again later, which watches again.
 */
static void
watch_lost(struct agent_sync *s)
{
	watches_stop(s);
	backoff(s, retry_cb);
}

/* A DISCONNECTED batch that ends the watch (etcd_uv.h): true. */
static bool
watch_final(const struct etcd_watch_batch *b)
{
	return b->err->code == LR_EPERM || b->err->code == LR_EAUTH;
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
		lr_log_info("watch of %s fell behind a compaction (revision "
		    "%lld): re-read at revision %lld", s->k_head,
		    (long long)b->compact_revision, (long long)b->revision);
		for (i = 0; i < b->nkvs; i++)
			set_head(s, &b->kvs[i]);
		break;
	case ETCD_WATCH_DISCONNECTED:
		lr_log_info("watch of %s: %s", s->k_head, b->err->msg);
		if (watch_final(b)) {
			lr_log_error("etcd refuses this agent's watch of %s: "
			    "%s; grant its user read access (docs/"
			    "etcd-layout.md, Access control)", s->k_head,
			    b->err->msg);
			watch_lost(s);
		}
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
			else if ((v = parse_doc(s, kv)) != NULL)
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
		if (watch_final(b)) {
			lr_log_error("etcd refuses this agent's watch of %s: "
			    "%s; grant its user read access (docs/"
			    "etcd-layout.md, Access control)", s->k_docs,
			    b->err->msg);
			watch_lost(s);
		}
		return;
	default:
		return;
	}
	evaluate(s);
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
	json_decref(s->head_mbb);
	s->head_mbb = NULL;
	json_decref(s->head_skipped);
	s->head_skipped = NULL;
	for (i = 0; i < r.ops[0].range.nkvs; i++)
		set_head(s, &r.ops[0].range.kvs[i]);
	docs_replace(s, r.ops[1].range.kvs, r.ops[1].range.nkvs);
	s->docs_rev = r.revision;
	watches_stop(s);
	wq.start_revision = r.revision + 1;
	wq.flags = ETCD_PROGRESS_NOTIFY;
	wq.key = s->k_head;
	if (etcd_uv_watch_start(s->eu, &wq, head_cb, s, &s->w_head, &e2) <
	    0) {
		lr_log_error("cannot watch %s: %s; reading again", s->k_head,
		    e2.msg);
		watch_lost(s);
	}
	wq.key = s->k_docs;
	wq.flags |= ETCD_PREFIX;
	if (s->w_head && etcd_uv_watch_start(s->eu, &wq, docs_cb, s,
	    &s->w_docs, &e2) < 0) {
		lr_log_error("cannot watch %s: %s; reading again", s->k_docs,
		    e2.msg);
		watch_lost(s);
	}
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
		agent_trust_accepted(s->trust, key_generation(s, key));
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
	const char *key, *best = NULL, *cur, *ghost = NULL;
	int64_t g, bg = -1, cur_head = 0, gg = -1;
	json_t *v;

	if (s->stopping || s->fetching || docs_behind(s))
		return;
	json_object_foreach(s->docs, key, v) {
		g = key_generation(s, key);
		if (g < 0 || g > s->head_gen)
			continue;
		/* a generation never deployed: a replay of an aborted apply */
		if (proto_skipped_has(s->head_skipped, g)) {
			if (g > gg) {
				gg = g;
				ghost = key;
			}
		} else if (g > bg) {
			bg = g;
			best = key;
		}
	}
	if (ghost != NULL && gg > bg)
		agent_trust_never_deployed(s->trust, ghost, gg);
	cur = s->hooks.in_force(s->hooks.arg, &cur_head);
	if (best == NULL || (cur && strcmp(cur, best) == 0)) {
		/* the head moved without changing this host */
		if (cur && cur_head != s->head_gen)
			s->hooks.head(s->hooks.arg, s->head_gen,
			    s->head_deploy);
		s->hooks.kick(s->hooks.arg);
		return;
	}
	/* a replay of an older document: the one in force stays */
	if (!agent_trust_fresh(s->trust, best, bg))
		return;
	s->fetching = lr_xstrdup(best);
	fetch_next(s);
}

/* ---- reports ---- */

static void report_retry_cb(uv_timer_t *t);

/*
 * A report did not go out (why says why): try again after a back-off.
 * The first failure in a row is an error, and then one a minute; the
 * others are info lines.  At stop, no retry: stop_next goes on.
 */
static void
report_failed(struct agent_sync *s, const char *why)
{
	uint64_t now = uv_now(s->loop);

	s->put_dirty = true;
	s->report_failures++;
	if (s->report_failures == 1 || now - s->report_error_at >=
	    REPORT_ERROR_EVERY_MS) {
		lr_log_error("cannot report to etcd (%d %s in a row): %s; "
		    "retrying", s->report_failures, s->report_failures == 1 ?
		    "failure" : "failures", why);
		s->report_error_at = now;
	} else
		lr_log_info("cannot report to etcd (%d failures in a row): %s",
		    s->report_failures, why);
	if (!s->stopping)
		uv_timer_start(&s->t_report, report_retry_cb,
		    backoff_next(&s->report_backoff_ms), 0);
}

static void
put_cb(int status, const json_t *resp, const struct lr_err *err, void *arg)
{
	struct agent_sync *s = arg;
	size_t lower;

	s->put_busy = false;
	if (status == LR_ECANCELED)
		s->put_dirty = true;
	else if (status < 0) {
		s->results_dirty = s->results != NULL;	/* may be lost too */
		if (status == LR_ETOOBIG && s->put_bytes > REQUEST_MIN) {
			/* etcd's limit is lower than we thought: learn it */
			lower = s->put_bytes * 3 / 4;
			s->max_request = lower < REQUEST_MIN ? REQUEST_MIN :
			    lower;
			lr_log_error("etcd refused a report of %zu bytes as "
			    "too large; sending at most %zu bytes from now "
			    "on (hint: give leura-agent "
			    "--etcd-max-request-bytes the --max-request-bytes "
			    "of etcd)", s->put_bytes, s->max_request);
		}
		report_failed(s, err->msg);
	} else {
		if (s->report_failures > 0)
			lr_log_notice("reported to etcd again, after %d failed "
			    "tries", s->report_failures);
		s->report_failures = 0;
		s->report_backoff_ms = 0;
	}
	if (s->stopping)
		stop_next(s);
	else if (status >= 0 && (s->put_dirty || s->results_dirty))
		report_put(s);
}

static void facts_cb(uv_timer_t *t);

static void
heartbeat_cb(int status, const json_t *resp, const struct lr_err *err,
    void *arg)
{
	struct agent_sync *s = arg;

	if (status == LR_ECANCELED || s->stopping)
		return;
	if (status < 0) {
		lr_log_info("cannot put the heartbeat: %s; retrying",
		    err->msg);
		uv_timer_start(&s->t_facts, facts_cb,
		    backoff_next(&s->facts_backoff_ms), 0);
		return;
	}
	s->facts_backoff_ms = 0;
}

static void
heartbeat(struct agent_sync *s)
{
	json_t *f;
	char *doc;

	if (s->lease_id <= 0 || s->stopping)
		return;		/* lease_cb puts it with the new lease */
	f = agent_facts_collect(agent_store_dir(s->store), s->started_unix);
	doc = proto_dumps(f);
	json_decref(f);
	if (etcd_uv_put(s->eu, s->k_agent, doc, strlen(doc), s->lease_id,
	    heartbeat_cb, s) < 0) {
		lr_log_info("cannot put the heartbeat; retrying");
		uv_timer_start(&s->t_facts, facts_cb,
		    backoff_next(&s->facts_backoff_ms), 0);
	}
	free(doc);
}

static void
facts_cb(uv_timer_t *t)
{
	struct agent_sync *s = t->data;

	if (s->stopping)
		return;
	uv_timer_start(&s->t_facts, facts_cb, FACTS_EVERY_MS, 0);
	heartbeat(s);
}

static void
report_retry_cb(uv_timer_t *t)
{
	struct agent_sync *s = t->data;

	if (!s->stopping && (s->put_dirty || s->results_dirty))
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

/* Bytes of a string of n bytes once base64-encoded. */
static size_t
b64_len(size_t n)
{
	return (n + 2) / 3 * 4;
}

/* The JSON size a request of `bytes` (base64) leaves for a value. */
static size_t
raw_room(size_t bytes)
{
	return bytes / 4 * 3;
}

/*
 * Send the report, with the results when they changed, in one request
 * that fits etcd's limit (max_request less REQUEST_MARGIN, counted as the
 * client counts: base64): a report too large alone is sent cut
 * (proto_report_fit), and the results get the room the report leaves,
 * at most RESULTS_MAX (proto_results_fit), on copies: the run side's
 * documents stay whole.  0, or an error (nothing was sent).
 */
static int
report_send(struct agent_sync *s, struct lr_err *err)
{
	size_t budget = s->max_request - REQUEST_MARGIN, keys, room, used;
	struct etcd_txn t;
	json_t *cut;
	char *rep, *res;
	int rc;

	/* the keys of both puts and the txn's framing */
	keys = b64_len(strlen(s->k_observed)) + b64_len(strlen(s->k_results)) +
	    256;
	rep = proto_dumps(s->report);
	if (b64_len(strlen(rep)) + keys > budget) {
		cut = json_deep_copy(s->report);
		/* said once per cut, as below: a retry comes every 10 s */
		if (!proto_report_fit(cut, raw_room(budget - keys)) &&
		    !s->report_cut_said)
			lr_log_error("the report does not fit in %zu bytes "
			    "even without its failed steps and drift", budget);
		free(rep);
		rep = proto_dumps(cut);
		json_decref(cut);
		/* every report of the run may be: say it once */
		if (!s->report_cut_said)
			lr_log_warn("the report was cut to fit etcd's request "
			    "limit of %zu bytes", s->max_request);
		s->report_cut_said = true;
	} else
		s->report_cut_said = false;
	etcd_txn_init(&t);
	if (s->results_dirty && s->results) {
		/* one round trip: the results and the report that names them */
		/* a report that still does not fit leaves no room (and
		 * the unsigned difference must not wrap to all of it) */
		used = keys + b64_len(strlen(rep));
		room = used < budget ? raw_room(budget - used) : 0;
		if (room > RESULTS_MAX)
			room = RESULTS_MAX;
		res = proto_dumps(s->results);
		if (strlen(res) > room) {
			cut = json_deep_copy(s->results);
			proto_results_fit(cut, room);
			free(res);
			res = proto_dumps(cut);
			json_decref(cut);
			lr_log_info("results cut to %zu bytes to fit etcd's "
			    "request limit", strlen(res));
		}
		etcd_txn_put(&t, ETCD_THEN, s->k_results, res, strlen(res), 0);
		free(res);
	}
	etcd_txn_put(&t, ETCD_THEN, s->k_observed, rep, strlen(rep), 0);
	free(rep);
	s->put_bytes = t.bytes;
	if ((rc = etcd_uv_txn(s->eu, &t, put_cb, s)) == LR_ETOOBIG)
		lr_err_set(err, rc, "a report of %zu bytes is over the etcd "
		    "client's limit of %d bytes", t.bytes,
		    ETCD_MAX_REQUEST_BYTES);
	else if (rc < 0)
		lr_err_set(err, rc, "the etcd client refused the report "
		    "(error %d)", rc);
	etcd_txn_release(&t);
	return rc;
}

static void
report_put(struct agent_sync *s)
{
	struct lr_err err;

	if (s->eu == NULL || s->report == NULL)
		return;
	if (s->put_busy) {
		s->put_dirty = true;
		return;
	}
	uv_timer_stop(&s->t_report);
	if (report_send(s, &err) < 0) {
		report_failed(s, err.msg);
		return;
	}
	s->put_busy = true;
	s->put_dirty = s->results_dirty = false;
}

/* ---- other hosts' reports (rollout gates) ---- */

/*
 * While a gate waits, the reports are read (obs_read), then watched; a
 * failed read is retried on t_obs with back-off, and a good one is
 * followed by a new read every OBS_REFRESH_MS (a watch can only lose
 * what a read finds again).  Every change, and every new head (evaluate's
 * kick), has the gate looked at again.
 */

static const char *
obs_host(const struct agent_sync *s, const char *key)
{
	return proto_key_host_in(key, s->k_obs_dir);
}

static void
obs_timer_cb(uv_timer_t *t)
{
	struct agent_sync *s = t->data;

	if (!s->stopping && s->observing)
		obs_read(s);
}

/* Read the reports again after a back-off (a failure, a lost watch). */
static void
obs_retry(struct agent_sync *s)
{
	if (!s->stopping && s->observing)
		uv_timer_start(&s->t_obs, obs_timer_cb,
		    backoff_next(&s->obs_backoff_ms), 0);
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
	case ETCD_WATCH_DISCONNECTED:
		if (!watch_final(b))
			return;		/* the client resumes it */
		lr_log_error("etcd refuses this agent's watch of %s: %s; "
		    "grant its user read access (docs/etcd-layout.md, Access "
		    "control)", s->k_obs_dir, b->err->msg);
		etcd_uv_watch_stop(s->w_obs);
		s->w_obs = NULL;
		obs_retry(s);
		return;
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
		lr_log_info("cannot read other hosts' reports: %s; retrying",
		    status < 0 ? err->msg : e2.msg);
		etcd_range_result_release(&r);
		obs_retry(s);
		return;
	}
	s->obs_backoff_ms = 0;
	json_decref(s->observed);
	s->observed = json_object();
	for (i = 0; i < r.nkvs; i++)
		if ((h = obs_host(s, r.kvs[i].key)) != NULL &&
		    (v = parse_obj(&r.kvs[i])) != NULL)
			json_object_set_new(s->observed, h, v);
	wq.key = s->k_obs_dir;
	wq.flags = ETCD_PREFIX;
	wq.start_revision = r.revision + 1;
	etcd_range_result_release(&r);
	/* from this read on: an older stream could bring older reports */
	if (s->w_obs)
		etcd_uv_watch_stop(s->w_obs);
	s->w_obs = NULL;
	if (etcd_uv_watch_start(s->eu, &wq, obs_cb, s, &s->w_obs, &e2) < 0) {
		lr_log_error("cannot watch %s: %s; reading it again",
		    s->k_obs_dir, e2.msg);
		obs_retry(s);
	} else
		uv_timer_start(&s->t_obs, obs_timer_cb, OBS_REFRESH_MS -
		    OBS_REFRESH_MS / 8 + (uint64_t)random() % (OBS_REFRESH_MS /
		    4), 0);
	s->hooks.kick(s->hooks.arg);
}

static void
obs_read(struct agent_sync *s)
{
	struct etcd_range_req q = { 0 };

	if (s->obs_loading || s->eu == NULL)
		return;
	uv_timer_stop(&s->t_obs);
	q.key = s->k_obs_dir;
	q.flags = ETCD_PREFIX;
	if (etcd_uv_range(s->eu, &q, obs_read_cb, s) == 0)
		s->obs_loading = true;
	else
		obs_retry(s);
}

void
agent_sync_observe_start(struct agent_sync *s)
{
	s->observing = true;
	/*
	 * Not loaded: read now.  Called when a gate is looked at, which a
	 * run start or a kick (a watch event) causes: such an event does
	 * not wait for the back-off of a failed read.
	 */
	if (s->observed == NULL)
		obs_read(s);
}

void
agent_sync_observe_stop(struct agent_sync *s)
{
	s->observing = false;
	uv_timer_stop(&s->t_obs);
	s->obs_backoff_ms = 0;
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

const json_t *
agent_sync_head_make_before_break(const struct agent_sync *s, int64_t *gen)
{
	*gen = s->head_gen;
	return s->head_mbb;
}

int64_t
agent_sync_head_deploy(const struct agent_sync *s)
{
	return s->head_deploy;
}

struct etcd_uv *
agent_sync_client(const struct agent_sync *s)
{
	return s->eu;
}

int64_t
agent_sync_lease(const struct agent_sync *s)
{
	return s->lease_id;
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

/* Let go of etcd: pending calls end with LR_ECANCELED (their callbacks
 * see s->eu gone). */
static void
client_drop(struct agent_sync *s)
{
	struct etcd_uv *eu = s->eu;

	uv_timer_stop(&s->t_sync);
	s->eu = NULL;
	s->lease = NULL;	/* freed with the client */
	s->lease_id = 0;
	if (eu)
		etcd_uv_free(eu);
}

static void
revoked_cb(int status, const json_t *resp, const struct lr_err *err,
    void *arg)
{
	struct agent_sync *s = arg;

	if (status < 0 && status != LR_ECANCELED)
		lr_log_info("cannot revoke the heartbeat's lease: %s; its "
		    "key goes when the lease expires", err->msg);
	s->revoking = false;
	client_drop(s);
}

/* The deadline of agent_sync_stop: etcd had its chance. */
static void
stop_deadline_cb(uv_timer_t *t)
{
	struct agent_sync *s = t->data;

	if (s->eu == NULL)
		return;
	lr_log_warn("etcd did not answer within %ld ms of stopping: %s; "
	    "stopping without it", s->stop_deadline_ms, s->put_busy ?
	    "the last report may be lost" : "the heartbeat's key goes when "
	    "its lease expires");
	client_drop(s);
}

/*
 * The next step of stopping, whenever nothing is in flight: the last
 * report (one try), the lease revoke, then the client goes.
 */
static void
stop_next(struct agent_sync *s)
{
	char id[32];

	if (s->eu == NULL || s->put_busy || s->revoking)
		return;
	if ((s->put_dirty || s->results_dirty) && !s->final_tried) {
		s->final_tried = true;	/* one last try, not a loop */
		report_put(s);
		if (s->put_busy)
			return;		/* put_cb comes back here */
	}
	if (s->lease)
		etcd_uv_lease_stop(s->lease, false);
	s->lease = NULL;
	if (s->lease_id > 0) {
		snprintf(id, sizeof(id), "%lld", (long long)s->lease_id);
		if (etcd_uv_call(s->eu, "/v3/lease/revoke", json_pack("{s:s}",
		    "ID", id), "revoke the heartbeat's lease", revoked_cb,
		    s) == 0) {
			s->revoking = true;
			return;
		}
	}
	client_drop(s);
}

void
agent_sync_stop(struct agent_sync *s, long deadline_ms)
{
	if (s->stop_called)
		return;
	s->stop_called = s->stopping = true;
	uv_timer_stop(&s->t_sync);
	uv_timer_stop(&s->t_facts);
	uv_timer_stop(&s->t_report);
	watches_stop(s);
	agent_sync_observe_stop(s);
	/* the deadline; it keeps the loop alive no more than etcd's calls */
	s->stop_deadline_ms = deadline_ms;
	uv_timer_start(&s->t_sync, stop_deadline_cb, (uint64_t)deadline_ms,
	    0);
	uv_unref((uv_handle_t *)&s->t_sync);
	if (!s->synced)
		s->final_tried = true;	/* etcd was never reached: no try */
	stop_next(s);
}

void
agent_sync_hold(struct agent_sync *s)
{
	s->stopping = true;
}

static void
trust_refused(void *arg, const char *key, const struct lr_err *err)
{
	struct agent_sync *s = arg;

	if (s->hooks.refused != NULL)
		s->hooks.refused(s->hooks.arg, key, err);
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
	s->max_request = c->max_request_bytes ? c->max_request_bytes :
	    ETCD_MAX_REQUEST_BYTES;
	if (s->max_request > ETCD_MAX_REQUEST_BYTES)
		s->max_request = ETCD_MAX_REQUEST_BYTES;
	if (s->max_request < REQUEST_MIN)
		s->max_request = REQUEST_MIN;
	s->hooks = *hooks;
	s->trust = agent_trust_new(c->keys, c->host, c->store, trust_refused,
	    s);
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
	uv_timer_init(s->loop, &s->t_report);
	uv_timer_init(s->loop, &s->t_obs);
	s->t_sync.data = s->t_facts.data = s->t_report.data = s->t_obs.data =
	    s;
	return s;
}

static void
freed_cb(uv_handle_t *h)
{
	struct agent_sync *s = h->data;

	if (--s->closing > 0)
		return;
	agent_trust_free(s->trust);
	json_decref(s->head_mbb);
	json_decref(s->head_skipped);
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
	if (s == NULL)
		return;
	s->stopping = true;
	if (s->eu != NULL) {	/* not stopped: drop the client */
		watches_stop(s);
		agent_sync_observe_stop(s);
		if (s->lease)
			etcd_uv_lease_stop(s->lease, false);
		client_drop(s);
	}
	s->closing = 4;
	uv_close((uv_handle_t *)&s->t_sync, freed_cb);
	uv_close((uv_handle_t *)&s->t_facts, freed_cb);
	uv_close((uv_handle_t *)&s->t_report, freed_cb);
	uv_close((uv_handle_t *)&s->t_obs, freed_cb);
}
