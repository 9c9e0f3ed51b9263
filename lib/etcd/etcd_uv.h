/*
 * The libuv face of the etcd client, its one engine (etcd.h says what the
 * client does; the blocking struct etcd runs this engine on a private
 * loop): calls, watches and leases driven by curl's multi-socket API on the
 * caller's loop.  Types, encoders and decoders are in etcd.h.
 *
 * Threads: a struct etcd_uv is used only on its loop's thread; no function
 * here blocks, every callback runs on the loop, never from inside the
 * function that was given it.
 */
#ifndef LR_ETCD_UV_H
#define LR_ETCD_UV_H

#include <uv.h>

#include "etcd.h"

struct etcd_uv;
struct etcd_uv_watch;
struct etcd_uv_lease;

/*
 * Make a client on loop (curl multi-socket driven by uv_poll/uv_timer).
 * etcd_uv_free cancels every pending call (their callbacks run with
 * LR_ECANCELED), stops watches and leases, and closes its handles; the
 * memory goes in the last close callback, so run the loop until it is dry.
 * The canceled callbacks run inside etcd_uv_free; watches and leases still
 * running stop without callbacks (and without revoking) and their
 * pointers become invalid.  etcd_uv_free may be called from a callback.
 */
int	etcd_uv_new(uv_loop_t *loop, const struct etcd_config *cfg,
	    struct etcd_uv **out, struct lr_err *err);
void	etcd_uv_free(struct etcd_uv *eu);

/*
 * Result of one call: status 0 and resp the decoded JSON answer (borrowed
 * for the call; decode it with etcd_*_decode), or status < 0 and err.
 */
typedef void etcd_uv_cb(int status, const json_t *resp,
	    const struct lr_err *err, void *arg);

/*
 * POST body (stolen) to path ("/v3/kv/put") with fail-over, auth and
 * retries (every call of the blocking client is one of these).  what
 * names the operation in errors ("put '/leura/agents/web1'").  cb runs
 * later on the loop, exactly once.
 */
int	etcd_uv_call(struct etcd_uv *eu, const char *path, json_t *body,
	    const char *what, etcd_uv_cb *cb, void *arg);
/*
 * Convenience: etcd_uv_call with the encoders of etcd.h.  Errors returned
 * directly (no callback): LR_EINVAL, LR_ECANCELED (client being freed),
 * LR_ETOOBIG (etcd_uv_put of a value over ETCD_MAX_REQUEST_BYTES,
 * etcd_uv_txn over ETCD_MAX_REQUEST_BYTES or 128 ops).
 *
 * A range or txn that an endpoint took but did not answer in time is sent
 * again to the next endpoint (etcd_uv.c), so it may be applied twice: a
 * txn must be safe to repeat.  Leura's are:
 *   - apply's writes (reconcile/apply.c, txn_flush): each compares the
 *     head's mod_revision with the plan's; the ones before the last put
 *     the same values again under an unchanged head, and a repeated last
 *     one (the head) loses its compare to our own head, which apply
 *     recognises as its success (conflict());
 *   - apply's lock (rec_lock_txn): put only while the key is absent; a
 *     repeat finds it held by our own lease, which rec_lock_result
 *     counts as taken;
 *   - apply's clean-up: deletes of keys, a no-op the second time;
 *   - the agent's reads (sync.c: sync_read, fetch): ranges only;
 *   - the agent's report (sync.c, report_put): puts of the same values
 *     to the host's own keys, which no one else writes.
 * A new txn must keep to that, or go through etcd_uv_call.
 */
int	etcd_uv_range(struct etcd_uv *eu, const struct etcd_range_req *req,
	    etcd_uv_cb *cb, void *arg);
int	etcd_uv_put(struct etcd_uv *eu, const char *key, const void *val,
	    size_t len, int64_t lease, etcd_uv_cb *cb, void *arg);
int	etcd_uv_txn(struct etcd_uv *eu, const struct etcd_txn *t,
	    etcd_uv_cb *cb, void *arg);
/* Decode with etcd_delete_decode; flags: ETCD_PREFIX, ETCD_PREV_KV. */
int	etcd_uv_delete(struct etcd_uv *eu, const char *key, unsigned flags,
	    etcd_uv_cb *cb, void *arg);
/* Compact (physically) up to revision. */
int	etcd_uv_compact(struct etcd_uv *eu, int64_t revision, etcd_uv_cb *cb,
	    void *arg);
/*
 * One-shot lease calls (etcd_uv_lease_start holds a lease alive by
 * itself): decode with etcd_lease_grant_decode, etcd_lease_keepalive_decode
 * and etcd_lease_ttl_decode.  A keep-alive or time-to-live of a lease etcd
 * does not know may answer LR_ENOENT.
 */
int	etcd_uv_lease_grant(struct etcd_uv *eu, int64_t ttl_s, etcd_uv_cb *cb,
	    void *arg);
int	etcd_uv_lease_keepalive(struct etcd_uv *eu, int64_t id,
	    etcd_uv_cb *cb, void *arg);
int	etcd_uv_lease_revoke(struct etcd_uv *eu, int64_t id, etcd_uv_cb *cb,
	    void *arg);
int	etcd_uv_lease_ttl(struct etcd_uv *eu, int64_t id, etcd_uv_cb *cb,
	    void *arg);
/* The endpoint that answered last, where the next call starts (borrowed). */
const char *etcd_uv_endpoint(const struct etcd_uv *eu);

typedef void etcd_uv_watch_cb(const struct etcd_watch_batch *b, void *arg);

/*
 * Watch on the loop: resume from the last revision after a drop (back-off
 * 100 ms doubling to 5 s, jittered, over the endpoints), RESYNC on
 * compaction, one DISCONNECTED per failed attempt.  *out is
 * stopped (and freed) with etcd_uv_watch_stop; cb never runs after that,
 * also when stopped from inside cb.  A DISCONNECTED batch whose err->code
 * is LR_EPERM or LR_EAUTH is final: etcd refused the watch even with a
 * fresh token, nothing is retried and cb does not run again (stop it).
 */
int	etcd_uv_watch_start(struct etcd_uv *eu, const struct etcd_watch_req *req,
	    etcd_uv_watch_cb *cb, void *arg, struct etcd_uv_watch **out,
	    struct lr_err *err);
void	etcd_uv_watch_stop(struct etcd_uv_watch *w);

/*
 * Lease held alive on the loop: grants ttl_s, keeps it alive every ttl/3.
 * cb(id, arg) runs when a lease is granted: first, and again whenever etcd
 * lost the lease (expired while unreachable) and a new one was granted;
 * the holder then re-puts the keys bound to it.  cb(0, arg) when the lease
 * is lost and no new one could be granted yet (retrying).
 */
typedef void etcd_uv_lease_cb(int64_t id, void *arg);
int	etcd_uv_lease_start(struct etcd_uv *eu, int64_t ttl_s,
	    etcd_uv_lease_cb *cb, void *arg, struct etcd_uv_lease **out,
	    struct lr_err *err);
/*
 * cb(0) comes once a lease can no longer be alive (ttl passed since the
 * last good keep-alive, or a grant failed); when etcd answers again cb gets
 * the id kept or newly granted.  Stop keeping it alive; revoke it too when
 * revoke (its keys go now; the revoke is sent on the loop, cb never runs
 * again).
 */
void	etcd_uv_lease_stop(struct etcd_uv_lease *l, bool revoke);

#endif
