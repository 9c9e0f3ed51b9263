/*
 * Writing a generation of desired state (state.h, rec_apply_write).
 *
 * One apply at a time holds P/locks/apply (a key bound to a lease, so a
 * crashed apply frees it within the lease's TTL).  The documents and file
 * contents go out in as few transactions as etcd's limits allow (request
 * bytes, ops per txn); each compares the head's mod_revision with the one
 * the plan read, so a concurrent apply is detected before anything of ours
 * lands.  The last transaction writes the head (the commit marker) and the
 * deploy record; until it lands, readers ignore the new documents (the
 * first ones delete the documents of applies that never committed:
 * drop_aborted()).  After
 * the commit, keys no reader needs any more are deleted, and etcd's
 * history is compacted (compact()).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "doc.h"
#include "json.h"
#include "keys.h"
#include "state.h"
#include "xalloc.h"

#define TXN_SLACK 4096		/* bytes kept free for compares and framing */
#define DEFAULT_MAX_OPS 128	/* etcd's --max-txn-ops */

struct writer {
	struct etcd *e;
	const struct rec_applied *a;
	struct etcd_txn t;
	size_t	 max_request, max_ops;
	int64_t	 lease;
	struct rec_apply_result *res;
	char	*head_key;
	char	*head_val;	/* the head this apply writes, once known */
	const char *apply_id;	/* in head_val: tells our head from another's */
	const struct lr_sign_key *key;	/* signs what is written; NULL: no */
};

/*
 * The error for a name recorded under the prefix since the plan read none
 * (another fleet's first apply between the plan's reads of P/fleet and of
 * the head): the plan's fleet check did not see it.
 */
static int
fleet_recorded(struct writer *w, const struct etcd_kv *kv,
    struct lr_err *err)
{
	struct lr_buf b = LR_BUF_INIT;
	const char *name;
	json_t *v;

	v = json_loadb(kv->value, kv->value_len, 0, NULL);
	name = json_string_value(json_object_get(v, PROTO_FLEET_NAME));
	/* the store's word, shown and never acted on */
	lr_buf_add_visible(&b, name ? name : "?", name ? strnlen(name, 64) :
	    1, 0);
	lr_err_set(err, LR_ECONFLICT, "etcd holds fleet '%s' under prefix "
	    "'%s' since your plan read it: nothing was deployed", b.s,
	    w->a->prefix);
	lr_buf_release(&b);
	json_decref(v);
	return lr_err_hint(err, "run plan again: it says whether this "
	    "etcd and prefix are this repo's fleet");
}

/* The error for a lost compare, naming who applied what. */
static int
conflict(struct writer *w, const struct etcd_txn_result *tr,
    struct lr_err *err)
{
	const struct etcd_range_result *r = NULL, *f = NULL;
	struct lr_buf by = LR_BUF_INIT, commit = LR_BUF_INIT;
	struct proto_head hd;
	json_t *head = NULL;
	json_error_t je;
	size_t i;

	/* the head's range (txn_begin), then P/fleet's (record_fleet) */
	for (i = 0; i < tr->nops; i++)
		if (tr->ops[i].kind != ETCD_OP_RANGE)
			continue;
		else if (r == NULL)
			r = &tr->ops[i].range;
		else
			f = &tr->ops[i].range;
	/*
	 * The client moves to the next endpoint when a connection breaks,
	 * so a txn that landed but whose answer was lost runs twice: the
	 * second loses the compare to our own head.  That is a success.
	 */
	if (r && r->nkvs && w->head_val &&
	    r->kvs[0].value_len == strlen(w->head_val) &&
	    memcmp(r->kvs[0].value, w->head_val, r->kvs[0].value_len) == 0)
		return 0;
	if (f && f->nkvs)
		return fleet_recorded(w, &f->kvs[0], err);
	if (r && r->nkvs)
		head = json_loadb(r->kvs[0].value, r->kvs[0].value_len, 0,
		    &je);
	if (head == NULL)
		lr_err_set(err, LR_ECONFLICT, "desired state changed since "
		    "your plan (it was removed)");
	else {
		/* the store's words, made visible */
		proto_head_decode(head, &hd);
		lr_buf_add_visible(&by, hd.by ? hd.by : "?", hd.by ?
		    strnlen(hd.by, 64) : 1, 0);
		if (hd.commit != NULL)
			lr_buf_add_visible(&commit, hd.commit,
			    strnlen(hd.commit, 12), 0);
		lr_err_set(err, LR_ECONFLICT, "desired state changed since "
		    "your plan (applied by %s, commit %s, deploy #%lld)",
		    by.s ? by.s : "", commit.s ? commit.s : "",
		    (long long)hd.deploy);
		lr_buf_release(&by);
		lr_buf_release(&commit);
	}
	json_decref(head);
	return lr_err_hint(err, "run plan again");
}

static void
txn_begin(struct writer *w)
{
	struct etcd_range_req q = { 0 };

	etcd_txn_init(&w->t);
	etcd_txn_cmp_int(&w->t, w->head_key, ETCD_CMP_MOD, ETCD_CMP_EQUAL,
	    w->a->head_rev);
	q.key = w->head_key;
	etcd_txn_range(&w->t, ETCD_ELSE, &q);
}

/*
 * The commit txn failed without an answer (the connection dropped, no
 * answer in time): it may have landed all the same.  The head, read once
 * more (on the next endpoint, the client's own fail-over), says: ours (our
 * apply_id) is a success, *rev its revision (1); another head means it did
 * not land (0); no answer leaves it unknown (-1).  No retry loop here: the
 * library does not sleep, and an etcd that answers nothing now is for the
 * caller to tell the user about.
 */
static int
head_is_ours(struct writer *w, int64_t *rev)
{
	struct proto_head hd;
	struct etcd_kv kv = { 0 };
	struct lr_err e2;
	json_t *head;
	bool ours;

	if (etcd_get(w->e, w->head_key, &kv, NULL, &e2) < 0)
		return -1;
	head = json_loadb(kv.value, kv.value_len, 0, NULL);
	proto_head_decode(head, &hd);
	ours = hd.apply_id != NULL && strcmp(hd.apply_id, w->apply_id) == 0;
	if (ours)
		*rev = kv.mod_revision;
	json_decref(head);
	etcd_kv_release(&kv);
	return ours ? 1 : 0;
}

/*
 * Commit the current txn (if it has ops) and start a new one.  Every one
 * compares the head's mod_revision with the plan's, so the client may
 * send it again to another endpoint when one gave no answer (etcd_uv.h,
 * etcd_uv_txn): a repeat of a txn before the last puts the same values
 * under the same head; a repeat of the last finds our own head
 * (conflict()).
 */
static int
txn_flush(struct writer *w, bool last, struct lr_err *err)
{
	struct etcd_txn_result tr = { 0 };
	int64_t ttl, rev;
	int rc, ours = 0;

	if (w->t.nops <= 1 && !last)
		return 0;
	if ((rc = etcd_txn_commit(w->e, &w->t, &tr, err)) < 0 && last &&
	    rc != LR_ETOOBIG && (ours = head_is_ours(w, &rev)) == 1) {
		/* it landed and only the answer was lost */
		lr_err_clear(err);
		w->res->txns++;
		w->res->revision = rev;
		etcd_txn_release(&w->t);
		memset(&w->t, 0, sizeof(w->t));
		return 0;
	}
	if (rc < 0 && last && rc != LR_ETOOBIG && ours < 0)
		lr_err_hint(err, "the commit may have landed all the same: "
		    "'leura history' shows whether deploy %lld is there once "
		    "etcd answers", (long long)w->res->deploy);
	if (rc < 0)
		return rc;
	w->res->txns++;
	w->res->revision = tr.revision;
	if (!tr.succeeded)
		rc = conflict(w, &tr, err);
	etcd_txn_result_release(&tr);
	etcd_txn_release(&w->t);
	memset(&w->t, 0, sizeof(w->t));
	if (rc < 0)
		return rc;
	/* a big apply outlives no lease: refresh it between txns */
	if (!last && (rc = etcd_lease_keepalive(w->e, w->lease, &ttl,
	    err)) < 0)
		return rc;
	if (!last)
		txn_begin(w);
	return 0;
}

/*
 * The last txn records the fleet's name only where none is: P/fleet must
 * still be absent (the plan read none), its value read when it is not.
 */
static void
record_fleet(struct writer *w, const char *fleet_key)
{
	struct etcd_range_req q = { 0 };

	etcd_txn_cmp_int(&w->t, fleet_key, ETCD_CMP_CREATE, ETCD_CMP_EQUAL, 0);
	q.key = fleet_key;
	etcd_txn_range(&w->t, ETCD_ELSE, &q);
}

/* Request bytes a put of len value bytes needs: base64 grows by 4/3. */
static size_t
put_cost(const char *key, size_t len)
{
	return (len + 2) / 3 * 4 + (strlen(key) + 2) / 3 * 4 + 64;
}

static int
too_big(struct writer *w, const char *what, size_t len, struct lr_err *err)
{
	lr_err_set(err, LR_ETOOBIG, "%s is %zu bytes, %zu once base64-encoded "
	    "for etcd: over its request size limit of %zu bytes; nothing was "
	    "written", what, len, (len + 2) / 3 * 4, w->max_request);
	return lr_err_hint(err, "etcd refuses requests over its "
	    "--max-request-bytes; keep large artifacts out of the config "
	    "repo and fetch them with an http or script step");
}

/* Add a put, committing the txn so far first when it would not fit. */
static int
add_put(struct writer *w, const char *key, const void *val, size_t len,
    struct lr_err *err)
{
	size_t need = put_cost(key, len);
	int rc;

	if (w->t.bytes + need + TXN_SLACK > w->max_request ||
	    w->t.nops + 1 > w->max_ops)
		if ((rc = txn_flush(w, false, err)) < 0)
			return rc;
	etcd_txn_put(&w->t, ETCD_THEN, key, val, len, 0);
	w->res->bytes += strlen(key) + len;
	return 0;
}

/*
 * Put the document val (taken) of host h at generation gen under the name
 * (content hash, or "removed"); the host's previous document goes stale.
 */
static int
put_doc(struct writer *w, const char *h, int64_t gen, const char *name,
    char *val, json_t *stale, struct lr_err *err)
{
	const json_t *old = json_object_get(w->a->hosts, h);
	char *key;
	int rc;

	if (w->key != NULL) {
		/* bound to h: the agent of another host refuses it */
		key = proto_sign_value(val, h, w->key);
		free(val);
		val = key;
	}
	key = proto_key_doc(w->a->prefix, h, gen, name);
	rc = add_put(w, key, val, strlen(val), err);
	free(key);
	free(val);
	if (rc < 0)
		return rc;
	w->res->hosts_written++;
	if (old != NULL)
		json_array_append(stale, json_object_get(old, "key"));
	return 0;
}

/* ---- the lock ---- */

/* A waiting apply wakes this often to keep its lease alive (ms). */
#define LOCK_SLICE_MS (REC_LOCK_TTL * 1000L / 3)

char *
rec_lock_value(const char *by)
{
	char at[LR_TIME_ISO_LEN], *val;
	json_t *holder;

	lr_time_iso_now(at);
	holder = json_pack("{s:s, s:s, s:I}", PROTO_LOCK_BY, by,
	    PROTO_LOCK_AT, at, PROTO_LOCK_PID, (json_int_t)getpid());
	val = json_dumps(holder, JSON_COMPACT);
	json_decref(holder);
	return val;
}

void
rec_lock_txn(struct etcd_txn *t, const char *key, int64_t lease,
    const char *val)
{
	struct etcd_range_req q = { .key = key };

	etcd_txn_init(t);
	etcd_txn_cmp_int(t, key, ETCD_CMP_CREATE, ETCD_CMP_EQUAL, 0);
	etcd_txn_put(t, ETCD_THEN, key, val, strlen(val), lease);
	etcd_txn_range(t, ETCD_ELSE, &q);
}

int
rec_lock_result(const struct etcd_txn_result *tr, int64_t lease,
    int64_t *rev, json_t **holder)
{
	const struct etcd_kv *kv;

	/*
	 * The client may have sent the txn twice (etcd_uv_txn): the second
	 * finds the key held by our own lease, which is the lock taken.
	 */
	if (tr->succeeded || (tr->nops > 0 && tr->ops[0].range.nkvs > 0 &&
	    lease != 0 && tr->ops[0].range.kvs[0].lease == lease))
		return 0;
	*rev = tr->revision;
	if (holder != NULL) {
		*holder = NULL;
		if (tr->nops && tr->ops[0].range.nkvs) {
			kv = &tr->ops[0].range.kvs[0];
			*holder = json_loadb(kv->value, kv->value_len, 0, NULL);
		}
	}
	return LR_EBUSY;
}

bool
rec_lock_gone(const struct etcd_watch_batch *b)
{
	size_t i;

	if (b->kind == ETCD_WATCH_RESYNC && b->nkvs == 0)
		return true;
	if (b->kind == ETCD_WATCH_EVENTS)
		for (i = 0; i < b->nevents; i++)
			if (b->events[i].type == ETCD_EV_DELETE)
				return true;
	return false;
}

int
rec_lock_busy(const json_t *holder, struct lr_err *err)
{
	const char *by = lr_json_strn(holder, PROTO_LOCK_BY);
	const char *at = lr_json_strn(holder, PROTO_LOCK_AT);

	lr_err_set(err, LR_ECONFLICT, "another apply is running (by %s since "
	    "%s)", by ? by : "?", at ? at : "?");
	return lr_err_hint(err, "wait for it to finish and run plan again; a "
	    "crashed apply's lock expires within %d s", REC_LOCK_TTL);
}

/* The watch callback of lock_wait: stops when the key is gone. */
static int
lock_gone_cb(const struct etcd_watch_batch *b, void *arg)
{
	(void)arg;
	return rec_lock_gone(b) ? 1 : 0;
}

/*
 * Wait until key is deleted after revision rev, at most ms (> 0): 0 (gone,
 * or the time is up), or LR_E* when the watch fails.
 */
static int
lock_wait(struct etcd *e, const char *key, int64_t rev, long ms,
    struct lr_err *err)
{
	struct etcd_watch_req rq = { .key = key, .start_revision = rev + 1 };
	int rc;

	rc = etcd_watch(e, &rq, ms, lock_gone_cb, NULL, err);
	if (rc == LR_ECANCELED || rc >= 0) {
		lr_err_clear(err);
		return 0;
	}
	return rc;
}

/*
 * The lease the lock is to be bound to: w->lease kept alive, or a new one
 * when there is none yet or it ran out while we waited.
 */
static int
lock_lease(struct writer *w, struct lr_err *err)
{
	int64_t ttl = 0;
	int rc;

	if (w->lease != 0) {
		if ((rc = etcd_lease_keepalive(w->e, w->lease, &ttl, err)) < 0)
			return rc;
		if (ttl > 0)
			return 0;
		w->lease = 0;
	}
	return etcd_lease_grant(w->e, REC_LOCK_TTL, &w->lease, err);
}

/*
 * The blocking form, made of the loop's steps: try (rec_lock_txn,
 * rec_lock_result), and while another apply holds the lock, watch for its
 * key to go (rec_lock_gone), up to o->lock_wait_ms in all, waking every
 * LOCK_SLICE_MS to keep the lease alive.
 */
static int
lock_take(struct writer *w, const struct rec_apply_opts *o,
    struct lr_err *err)
{
	struct etcd_txn_result tr;
	struct etcd_txn t;
	json_t *holder = NULL;
	char *key, *val;
	int64_t rev = 0, deadline, left;
	int rc;

	key = proto_key_lock_apply(w->a->prefix);
	val = rec_lock_value(o->by);
	deadline = lr_now_ms() + o->lock_wait_ms;
	for (;;) {
		if ((rc = lock_lease(w, err)) < 0)
			break;
		memset(&tr, 0, sizeof(tr));
		rec_lock_txn(&t, key, w->lease, val);
		rc = etcd_txn_commit(w->e, &t, &tr, err);
		etcd_txn_release(&t);
		if (rc == 0)
			rc = rec_lock_result(&tr, w->lease, &rev, &holder);
		etcd_txn_result_release(&tr);
		if (rc != LR_EBUSY)
			break;
		/* once: a watch of 0 ms would be one without a deadline */
		left = deadline - lr_now_ms();
		if (left <= 0) {
			rc = rec_lock_busy(holder, err);
			break;
		}
		json_decref(holder);
		holder = NULL;
		if (left > LOCK_SLICE_MS)
			left = LOCK_SLICE_MS;
		if ((rc = lock_wait(w->e, key, rev, (long)left, err)) < 0)
			break;
	}
	json_decref(holder);
	free(key);
	free(val);
	return rc;
}

static void
lock_release(struct writer *w)
{
	struct lr_err e2;

	if (w->lease)
		(void)etcd_lease_revoke(w->e, w->lease, &e2);
	w->lease = 0;
}

/* ---- the apply ---- */

/*
 * SHA-256s of the contents doc's steps need (file steps' content, custom
 * step types' executable): {sha: "step 'id' (file 'src')"}.
 */
static void
doc_files(const json_t *doc, json_t *set)
{
	json_t *st, *sha;
	const char *id, *src;
	size_t i;

	json_array_foreach(json_object_get(doc, PROTO_DOC_STEPS), i, st) {
		id = lr_json_strn(st, PROTO_STEP_ID);
		if ((sha = json_object_get(st, PROTO_STEP_SHA256)) != NULL &&
		    json_object_get(set, json_string_value(sha)) == NULL) {
			src = lr_json_strn(st, PROTO_STEP_SRC);
			json_object_set_new(set, json_string_value(sha),
			    json_sprintf("file step '%s' (src '%s')", id,
			    src ? src : "?"));
		}
		if ((sha = json_object_get(st, PROTO_STEP_EXEC_SHA256)) !=
		    NULL && json_object_get(set, json_string_value(sha)) ==
		    NULL)
			json_object_set_new(set, json_string_value(sha),
			    json_sprintf("step '%s' (file 'steps/%s')", id,
			    lr_json_strn(st, PROTO_STEP_USE)));
	}
}

/* A content to store: its text, or its bytes when it is not UTF-8. */
static json_t *
file_bytes(const struct rec_compiled *c, const char *sha)
{
	json_t *f = json_object_get(c->files, sha), *x;

	if ((x = json_object_get(f, "content")) == NULL)
		x = json_object_get(f, "bytes");
	return x;
}

/* Keys under P/desired/files/ as {sha: true}. */
static int
existing_files(struct writer *w, json_t **out, struct lr_err *err)
{
	struct etcd_range_result r = { 0 };
	struct etcd_range_req q = { 0 };
	json_t *set = json_object();
	char *key;
	size_t i, plen;
	int rc;

	key = proto_key_files_dir(w->a->prefix);
	plen = strlen(key);
	q.key = key;
	q.flags = ETCD_PREFIX | ETCD_KEYS_ONLY;
	if ((rc = etcd_range(w->e, &q, &r, err)) == 0) {
		for (i = 0; i < r.nkvs; i++)
			json_object_set_new(set, r.kvs[i].key + plen,
			    json_true());
		*out = set;
		set = NULL;
	}
	json_decref(set);
	free(key);
	etcd_range_result_release(&r);
	return rc;
}

/*
 * The value of a host's document key (proto_doc_value): its canonical
 * text (rec_docs_build) with the generation, deploy and commit that wrote
 * it in front.
 */
static char *
doc_value(const json_t *d, int64_t gen, int64_t deploy, const char *commit)
{
	return proto_doc_value(json_string_value(json_object_get(d, "json")),
	    gen, deploy, commit);
}

/* Its length at most, without building it. */
static size_t
doc_value_len(const json_t *d, const char *commit)
{
	return proto_doc_value_max(json_string_length(json_object_get(d,
	    "json")), commit);
}

/*
 * Documents above the applied generation were written by an apply that
 * never committed (it died between its txns, or lost the compare).  This
 * apply's generation is above theirs, so once its head lands they would
 * sit below the head, where a reader takes the greatest generation of a
 * host as its document (an agent would run what was never deployed):
 * they are deleted in this apply's first txns, before its commit, and
 * taken off stale.
 */
static int
drop_aborted(struct writer *w, json_t *stale, struct lr_err *err)
{
	char *dir = proto_key_docs_dir(w->a->prefix), host[256];
	size_t i, dlen = strlen(dir);
	const char *k, *name;
	int64_t g;
	int rc = 0;

	for (i = 0; rc == 0 && i < json_array_size(stale);) {
		k = json_string_value(json_array_get(stale, i));
		if (k == NULL || strncmp(k, dir, dlen) != 0 ||
		    !proto_doc_key_split(k + dlen, host, sizeof(host), &g,
		    &name) || g <= w->a->generation) {
			i++;
			continue;
		}
		if (w->t.bytes + put_cost(k, 0) + TXN_SLACK > w->max_request ||
		    w->t.nops + 1 > w->max_ops)
			if ((rc = txn_flush(w, false, err)) < 0)
				break;
		etcd_txn_delete(&w->t, ETCD_THEN, k, 0);
		json_array_remove(stale, i);
	}
	free(dir);
	return rc;
}

/*
 * Delete keys no reader needs; failures only leave garbage.  A delete
 * sent twice (etcd_uv_txn) deletes nothing the second time.
 */
static void
clean_up(struct writer *w, const json_t *stale, size_t *n)
{
	struct etcd_txn t;
	struct etcd_txn_result tr = { 0 };
	struct lr_err e2;
	json_t *k;
	size_t i;

	etcd_txn_init(&t);
	json_array_foreach((json_t *)stale, i, k) {
		etcd_txn_delete(&t, ETCD_THEN, json_string_value(k), 0);
		if (t.nops >= w->max_ops || i + 1 == json_array_size(stale)) {
			if (etcd_txn_commit(w->e, &t, &tr, &e2) == 0)
				*n += t.nops;
			etcd_txn_result_release(&tr);
			etcd_txn_release(&t);
			etcd_txn_init(&t);
		}
	}
	etcd_txn_release(&t);
}

/*
 * Revisions kept behind the commit at least: the margin for readers in
 * flight (a plan reads the documents at the revision it listed them at,
 * a wait reads its start revision).
 */
#define COMPACT_KEEP	1000

/*
 * Compact etcd's history, so that old values do not fill its database (it
 * stops taking writes at its quota, --quota-backend-bytes): everything
 * before the previous deploy's commit, or before the last COMPACT_KEEP
 * revisions, whichever is later.  Nothing of Leura reads further back:
 * history and status read the current keys; a wait that follows the
 * previous deploy, or this one, starts at its commit; a watch that fell
 * behind (an agent that was away) is re-listed by the client
 * (ETCD_WATCH_RESYNC).  Best effort, as the clean-up: a failure, or a
 * revision compacted already (another apply), leaves it for the next.
 */
static void
compact(struct writer *w)
{
	int64_t rev = w->res->revision - COMPACT_KEEP;
	struct lr_err e2;

	if (w->a->head_rev > rev)
		rev = w->a->head_rev;
	if (rev > 0 && rev < w->res->revision &&
	    etcd_compact(w->e, rev, &e2) == 0)
		w->res->compacted = rev;
}

/* An id no other apply has: it tells our own head from another's. */
static const char *
apply_id(char *buf, size_t len)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(buf, len, "%lx-%lx-%lx", (unsigned long)getpid(),
	    (unsigned long)ts.tv_sec, (unsigned long)ts.tv_nsec);
	return buf;
}

int
rec_apply_write(struct etcd *e, const struct rec_applied *a,
    const json_t *docs, const json_t *changes, const struct rec_compiled *c,
    const struct rec_apply_opts *o, struct rec_apply_result *res,
    struct lr_err *err)
{
	struct writer w = { 0 };
	json_t *need = json_object(), *have = NULL, *stale, *v, *x;
	json_t *rec, *skipped;
	struct proto_head head, old;
	const char *h, *sha;
	char at[LR_TIME_ISO_LEN], idbuf[40], *key = NULL, *val = NULL, *what;
	char *fleet_key = NULL, *fleet_val = NULL;
	int64_t gen = (a->max_generation > a->generation ? a->max_generation :
	    a->generation) + 1;
	int64_t deploy;
	size_t i, n;
	int rc;

	memset(res, 0, sizeof(*res));
	proto_head_decode(a->head, &old);
	deploy = old.deploy + 1;
	w.e = e;
	w.a = a;
	w.res = res;
	w.max_request = o->max_request ? o->max_request :
	    ETCD_MAX_REQUEST_BYTES;
	w.max_ops = o->max_ops ? o->max_ops : DEFAULT_MAX_OPS;
	w.head_key = proto_key_head(a->prefix);
	w.key = o->sign_key;
	stale = json_deep_copy(a->stale);
	res->generation = gen;
	res->deploy = deploy;
	lr_time_iso_now(at);

	/* everything too large is refused before anything is written */
	json_array_foreach(json_object_get(changes, "changed"), i, v) {
		h = json_string_value(v);
		doc_files(json_object_get(json_object_get(docs, h), "doc"),
		    need);
		n = doc_value_len(json_object_get(docs, h), o->commit) +
		    PROTO_SIGN_OVERHEAD;
		key = proto_key_doc(a->prefix, h, gen, json_string_value(
		    json_object_get(json_object_get(docs, h), "sha256")));
		if (put_cost(key, n) + TXN_SLACK > w.max_request) {
			what = lr_xasprintf("the desired state of host '%s'", h);
			rc = too_big(&w, what, n, err);
			free(what);
			goto out;
		}
		free(key);
		key = NULL;
	}
	json_object_foreach(need, sha, v) {
		x = file_bytes(c, sha);
		key = proto_key_file(a->prefix, sha);
		if (put_cost(key, json_string_length(x)) + TXN_SLACK >
		    w.max_request) {
			what = lr_xasprintf("the content of %s", json_string_value(
			    json_object_get(need, sha)));
			rc = too_big(&w, what, json_string_length(x), err);
			free(what);
			goto out;
		}
		free(key);
		key = NULL;
	}

	/* the caller's lock (a loop took it), or ours */
	if (o->lock_lease != 0)
		w.lease = o->lock_lease;
	else if ((rc = lock_take(&w, o, err)) < 0)
		goto out;
	if ((rc = existing_files(&w, &have, err)) < 0)
		goto out;
	txn_begin(&w);
	if ((rc = drop_aborted(&w, stale, err)) < 0)
		goto out;
	json_object_foreach(need, sha, v) {
		if (json_object_get(have, sha))
			continue;
		x = file_bytes(c, sha);
		key = proto_key_file(a->prefix, sha);
		rc = add_put(&w, key, json_string_value(x),
		    json_string_length(x), err);
		free(key);
		key = NULL;
		if (rc < 0)
			goto out;
		res->files_written++;
	}
	json_array_foreach(json_object_get(changes, "changed"), i, v) {
		h = json_string_value(v);
		if ((rc = put_doc(&w, h, gen, json_string_value(json_object_get(
		    json_object_get(docs, h), "sha256")), doc_value(
		    json_object_get(docs, h), gen, deploy, o->commit), stale,
		    err)) < 0)
			goto out;
	}
	json_array_foreach(json_object_get(changes, "removed"), i, v) {
		if ((rc = put_doc(&w, json_string_value(v), gen,
		    PROTO_TOMBSTONE, proto_tombstone_value(gen, deploy,
		    o->commit), stale, err)) < 0)
			goto out;
	}

	/* the commit marker and the deploy record, last */
	memset(&head, 0, sizeof(head));
	head.apply_id = w.apply_id = apply_id(idbuf, sizeof(idbuf));
	head.deploy = deploy;
	head.commit = o->commit;
	head.tree = o->tree;
	head.leura = LEURA_VERSION;
	head.ref = o->ref;
	head.summary = o->summary;
	head.author = o->author;
	head.by = o->by;
	head.at = at;
	head.generation = gen;
	head.rollback = o->rollback;
	head.hosts_written = (int64_t)res->hosts_written;
	head.hosts = (int64_t)json_object_size(docs);
	head.make_before_break = c->make_before_break;
	/*
	 * Generations between the head's and this one were allocated by
	 * applies that never committed: their signed documents must never
	 * come into force, even put back later (proto/doc.h).
	 */
	skipped = proto_skipped_add(old.skipped, a->generation + 1, gen - 1);
	head.skipped = skipped;
	if (a->head) {
		head.previous_deploy = old.deploy;
		head.previous_commit = old.commit;
	}
	rec = proto_head_encode(&head);
	json_decref(skipped);
	/* the head is the deploy record, under its own key */
	w.head_val = proto_dumps(rec);
	json_decref(rec);
	if (w.key != NULL) {
		val = proto_sign_value(w.head_val, NULL, w.key);
		free(w.head_val);
		w.head_val = val;
		val = NULL;
	}
	/* the fleet's name, when none is recorded yet: with the head */
	if (a->fleet == NULL && o->fleet != NULL) {
		rec = json_pack("{s:s, s:s, s:s?}", PROTO_FLEET_NAME, o->fleet,
		    PROTO_FLEET_AT, at, PROTO_FLEET_BY, o->by);
		fleet_key = proto_key_fleet(a->prefix);
		fleet_val = proto_dumps(rec);
		json_decref(rec);
	}
	key = proto_key_deploy(a->prefix, deploy);
	/* the record and the head (and the name) land in the same, last txn */
	n = put_cost(key, strlen(w.head_val)) +
	    put_cost(w.head_key, strlen(w.head_val)) +
	    (fleet_key ? put_cost(fleet_key, strlen(fleet_val)) : 0);
	if ((w.t.bytes + n + TXN_SLACK > w.max_request ||
	    w.t.nops + 3 > w.max_ops) && (rc = txn_flush(&w, false, err)) < 0)
		goto out;
	if (fleet_key != NULL)
		record_fleet(&w, fleet_key);
	if ((rc = add_put(&w, key, w.head_val, strlen(w.head_val), err)) == 0)
		rc = add_put(&w, w.head_key, w.head_val, strlen(w.head_val),
		    err);
	if (rc == 0 && fleet_key != NULL)
		rc = add_put(&w, fleet_key, fleet_val, strlen(fleet_val), err);
	free(key);
	key = NULL;
	if (rc < 0 || (rc = txn_flush(&w, true, err)) < 0)
		goto out;

	/* committed: drop what no reader needs */
	json_object_foreach(have, sha, v) {
		if (json_object_get(c->files, sha) != NULL)
			continue;
		key = proto_key_file(a->prefix, sha);
		json_array_append_new(stale, json_string(key));
		free(key);
		key = NULL;
	}
	clean_up(&w, stale, &res->cleaned);
	compact(&w);
out:
	if (o->lock_lease == 0)
		lock_release(&w);
	if (w.t.compare)
		etcd_txn_release(&w.t);
	free(key);
	free(val);
	free(fleet_key);
	free(fleet_val);
	free(w.head_key);
	free(w.head_val);
	json_decref(need);
	json_decref(have);
	json_decref(stale);
	return rc;
}
