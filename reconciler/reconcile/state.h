/*
 * Leura's state in etcd: reading what is applied and what agents
 * reported, and writing a new generation.  The key layout and the
 * documents' form are the contract's, in proto/ (keys.h lists the keys,
 * doc.h and report.h are the codecs; docs/etcd-layout.md says what they
 * mean).
 *
 * A generation is written by one or more transactions; the last one
 * writes the head, and readers honour it: a host's desired state is its
 * document with the greatest G <= head.generation.  Documents above it are
 * leftovers of an apply that died before its commit, removed by the next.
 * The key of a document names its content hash, so what is applied can be
 * compared with the specs from a keys-only read.
 */
#ifndef REC_STATE_H
#define REC_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "compile.h"
#include "etcd.h"
#include "spec.h"

/* What is applied, as read from etcd (rec_applied_load). */
struct rec_applied {
	char	*prefix;	/* owned, no trailing slash */
	char	*fleet;		/* P/fleet's name; NULL when none */
	json_t	*head;		/* P/desired/head; NULL before the first apply */
	char	*head_raw;	/* its value as stored (signed: doc.h) */
	size_t	 head_raw_len;
	int64_t	 head_rev;	/* its mod_revision; 0 when absent */
	int64_t	 revision;	/* store revision of the read */
	int64_t	 generation;	/* head.generation, 0 when absent */
	/*
	 * Committed documents: {host: {"generation":G, "sha256":s, "key":k,
	 * "removed":bool}}; a removed host keeps its tombstone.
	 */
	json_t	*hosts;
	/* Keys no reader needs: superseded documents and leftovers. */
	json_t	*stale;
	int64_t	 max_generation;	/* highest G of any document key */
};

/* Read the fleet's name, the head and the document keys (keys only). */
int	rec_applied_load(struct etcd *e, const char *prefix,
	    struct rec_applied *out, struct lr_err *err);
void	rec_applied_release(struct rec_applied *a);

/*
 * The name recorded under prefix (P/fleet, written by the first apply of
 * a named fleet): *out is the caller's, NULL when none is recorded.
 */
int	rec_fleet_load(struct etcd *e, const char *prefix, char **out,
	    struct lr_err *err);
/*
 * Whether the config repo whose leura.yml says name (NULL: no name) may
 * use the etcd at endpoints (for the message) whose prefix holds the
 * fleet recorded (NULL: none yet): 0, or LR_ECONFLICT naming both, with a
 * hint, when another fleet's name is recorded there, or a name is and
 * leura.yml has none.
 */
int	rec_fleet_check(const char *recorded, const char *name,
	    const char *endpoints, const char *prefix, struct lr_err *err);

/*
 * Fetch the committed documents of hosts (an array of names; NULL: all
 * that are not removed) into a compiled-like value: out->desired is
 * {host: document} and out->placement {"services":{svc:[hosts]}} built
 * from them (all hosts only).  out->files stays empty: see
 * rec_applied_files.
 */
int	rec_applied_docs(struct etcd *e, const struct rec_applied *a,
	    const json_t *hosts, struct rec_compiled *out, struct lr_err *err);
/* Fill c->files[sha] = {"size","content"} for each sha in shas (array). */
int	rec_applied_files(struct etcd *e, const struct rec_applied *a,
	    const json_t *shas, struct rec_compiled *c, struct lr_err *err);

/*
 * The documents a compiled state asks for: {host: {"doc": {...},
 * "sha256": hex, "json": text}} where doc is the host's desired state
 * ("services", "steps", and "depends_on" of its services from repo; added
 * to c->desired in place), json its canonical text (compact, keys sorted)
 * and sha256 the hash of that text.  New reference.
 */
json_t	*rec_docs_build(const struct spec_repo *repo,
	    const struct rec_compiled *c);

/*
 * Hosts whose document differs from what is applied: {"changed":[hosts],
 * "removed":[hosts]} (sorted).  New reference.
 */
json_t	*rec_docs_changes(const json_t *docs, const struct rec_applied *a);

/* {"services":{svc:[hosts]}, "hosts":{host:[svcs]}} of documents. */
json_t	*rec_placement_of(const json_t *desired);

/* Reported state: {host: observed doc} and {host: heartbeat doc}. */
int	rec_observed_load(struct etcd *e, const char *prefix,
	    json_t **observed, json_t **agents, struct lr_err *err);

/* ---- writing a generation (apply.c) ---- */

struct rec_apply_opts {
	const char *commit;	/* full id */
	const char *tree;	/* id of the config repo's tree, or NULL */
	const char *ref;	/* as the user named it */
	const char *summary;	/* commit summary line */
	const char *author;	/* commit author */
	const char *by;		/* who applies: "alice@ws1" */
	bool	 rollback;	/* the user said the commit may be older */
	long	 lock_wait_ms;	/* how long to wait for a running apply */
	/*
	 * 0: rec_apply_write takes the apply lock itself (waiting up to
	 * lock_wait_ms) and releases it.  Else the caller holds the lock,
	 * bound to this lease (see "The apply lock" below): the write
	 * neither takes nor releases it, and keeps the lease alive.
	 */
	int64_t	 lock_lease;
	size_t	 max_request;	/* bytes per txn; 0: ETCD_MAX_REQUEST_BYTES */
	size_t	 max_ops;	/* ops per txn; 0: 128 */
	/*
	 * The fleet's private key: every document, tombstone and the head
	 * are signed with it (proto_sign_value); NULL writes them unsigned,
	 * which agents refuse unless started with --insecure-unsigned.
	 */
	const struct lr_sign_key *sign_key;
	/*
	 * leura.yml's name, recorded as P/fleet in the txn of the head when
	 * the prefix holds no name yet (a->fleet NULL); NULL records none.
	 */
	const char *fleet;
};

struct rec_apply_result {
	int64_t	 generation;
	int64_t	 deploy;
	int64_t	 revision;	/* store revision of the commit */
	size_t	 hosts_written;
	size_t	 files_written;
	size_t	 bytes;		/* keys + values written */
	size_t	 txns;
	size_t	 cleaned;	/* stale keys deleted after the commit */
	int64_t	 compacted;	/* etcd's history compacted up to it; 0: not */
};

/*
 * Write docs (rec_docs_build) for the hosts in changes (rec_docs_changes)
 * and the file contents they need, then the head and deploy record, as
 * generation a->max_generation + 1, under the apply lock.  Every
 * transaction compares the head's mod_revision with a->head_rev: if
 * another apply landed since a was read, LR_ECONFLICT ("desired state
 * changed since your plan (applied by ..., commit ...)").  Values too
 * large for etcd: LR_ETOOBIG naming the host or file, before any write.
 * Stale keys are deleted after the commit (best effort: a failure there
 * only leaves garbage for the next apply), then etcd's history before the
 * previous deploy's commit, or before the last 1000 revisions, whichever
 * is later, is compacted (best effort too).
 */
int	rec_apply_write(struct etcd *e, const struct rec_applied *a,
	    const json_t *docs, const json_t *changes,
	    const struct rec_compiled *c, const struct rec_apply_opts *o,
	    struct rec_apply_result *res, struct lr_err *err);

/*
 * The apply lock, P/locks/apply: a key bound to the holder's lease (a
 * crashed apply frees it within REC_LOCK_TTL seconds), whose value says
 * who holds it (rec_lock_value).  rec_apply_write takes it itself (with
 * lock_lease 0), waiting up to lock_wait_ms by watching the key's
 * deletion and keeping its lease alive (a lease that ran out while it
 * waited is granted anew); it is built of the steps below.  A loop drives
 * the same steps without blocking:
 *   grant a lease of REC_LOCK_TTL s (etcd_uv), and keep it alive;
 *   send rec_lock_txn(key, lease, rec_lock_value(by)), read the answer
 *   with rec_lock_result(answer, lease): 0, the lock is the loop's: call
 *   rec_apply_write with lock_lease = lease, and revoke the lease after;
 *   LR_EBUSY: watch key from *rev + 1 until rec_lock_gone says a batch
 *   is its deletion, then send the txn again (or give up with
 *   rec_lock_busy's error).
 */
#define REC_LOCK_TTL 30		/* seconds; renewed while held or awaited */
/* The lock's value for by: {"by","at" (now),"pid"} as JSON, owned. */
char	*rec_lock_value(const char *by);
/* The try as a transaction on key, holding val (JSON) for lease. */
void	rec_lock_txn(struct etcd_txn *t, const char *key, int64_t lease,
	    const char *val);
/*
 * Its answer, for the txn sent with lease: 0 taken (also when the key is
 * held by lease: the client sent the txn twice, etcd_uv_txn); LR_EBUSY
 * held by another, *rev the store revision of the answer (watch from
 * *rev + 1) and *holder (when not NULL) the holder's record (new
 * reference, NULL when unreadable).
 */
int	rec_lock_result(const struct etcd_txn_result *tr, int64_t lease,
	    int64_t *rev, json_t **holder);
/*
 * Whether a batch of the watch of the lock's key says the key is gone (a
 * deletion, or a resync that finds no key): time to try again.
 */
bool	rec_lock_gone(const struct etcd_watch_batch *b);
/* "another apply is running (by ... since ...)", LR_ECONFLICT. */
int	rec_lock_busy(const json_t *holder, struct lr_err *err);

/* Deploy records, newest first: [record...] (at most limit; 0: all). */
int	rec_history_load(struct etcd *e, const char *prefix, size_t limit,
	    json_t **out, struct lr_err *err);

/* ---- status (status.c, pure) ---- */

/*
 * Per host and service state from the applied documents (rec_applied_docs
 * of all hosts: {host: doc with "generation"}), observed reports and
 * heartbeats, at now (Unix seconds).  Shape of `leura status --json`:
 *   {"hosts":{h:{"alive","state","reason","generation",
 *                "observed_generation","failed_steps","failures"}},
 *    "services":{s:{"state","reason","hosts"}}}
 * States: converged, converging, failed, drifted, unknown; every state
 * but converged has a reason.  New reference.
 */
json_t	*rec_status(const json_t *desired, const json_t *observed,
	    const json_t *agents, int64_t now);

/*
 * Keep in st (rec_status) only what names (n of them; 0 keeps all)
 * select: a host name its host, a service name its service and the hosts
 * it is placed on (a name that is both selects both).  A name that is
 * neither: LR_ENOENT, with a "did you mean" hint, st unchanged.
 */
int	rec_status_select(json_t *st, const char *const *names, size_t n,
	    struct lr_err *err);
/* Drop from st the hosts and services not failed, drifted or unknown. */
void	rec_status_only_not_fine(json_t *st);
/*
 * The worst state in st, hosts and services, in the order converged,
 * converging, unknown, drifted, failed ("converged" when st is empty).
 */
const char *rec_status_worst(const json_t *st);

/*
 * Why a report says a host failed or drifted, from its failed_steps or
 * drift list fs: "step 'ID' failed: exit 3 (and 2 more)" (what is "failed"
 * or "drifted"), or "the agent reports the host failed" when fs is empty.
 * Owned by the caller.  leura status and apply --wait say the same.
 */
char	*rec_step_reason(const json_t *fs, const char *what);

#endif
