/*
 * etcd v3 client over etcd's JSON gateway (POST /v3/..., base64 keys and
 * values, int64s as strings): libcurl for HTTP, jansson for JSON, OpenSSL's
 * EVP for base64.  Two faces on one core:
 *
 *   - struct etcd: blocking calls for the CLI (curl easy handles);
 *   - struct etcd_uv: the same operations driven by a libuv loop through
 *     curl's multi-socket API, for the daemons (agent, leurad).
 *
 * Both share the request encoders and response decoders below, the endpoint
 * list with fail-over (a connection error moves on to the next endpoint;
 * an answer from etcd, even an error, does not), authentication (user and
 * password -> token, sent bare in Authorization, renewed on 401) and TLS
 * (CA, client certificate and key).
 *
 * Keys are NUL-terminated strings (Leura's keys are text); values carry a
 * length and are NUL-terminated as well for convenience.  Every revision,
 * lease id and count is int64_t.  Errors name the operation, the key, the
 * endpoint and etcd's own message, e.g.
 *   etcd put '/leura/desired/web1' at 'http://127.0.0.1:2379': etcdserver:
 *   request is too large (code 3)
 * and say what to do next in the hint.  Nothing here prints.
 *
 * Threads: a struct etcd is used by one thread at a time; a struct etcd_uv
 * only on its loop's thread.
 */
#ifndef LR_ETCD_H
#define LR_ETCD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "err.h"

/* ---- configuration ---------------------------------------------------- */

struct etcd_config {
	const char *endpoints;	/* "http://h:2379,https://h2:2379"; required */
	const char *user;	/* with password: authenticate; may be NULL */
	const char *password;
	const char *cacert;	/* PEM file of the CA that signed etcd's cert */
	const char *cert;	/* client certificate (PEM), with key */
	const char *key;
	long	 timeout_ms;	/* per request, not watches; 0: 5000 */
	long	 connect_timeout_ms;	/* per endpoint; 0: 1000 */
};

/* Largest request the default etcd accepts (--max-request-bytes 1.5 MiB). */
#define ETCD_MAX_REQUEST_BYTES	(1536 * 1024)

/* ---- values ----------------------------------------------------------- */

struct etcd_kv {
	char	*key;		/* owned, NUL-terminated */
	char	*value;		/* owned, NUL-terminated; "" when keys-only */
	size_t	 value_len;
	int64_t	 create_revision;
	int64_t	 mod_revision;
	int64_t	 version;
	int64_t	 lease;
};

void	etcd_kv_release(struct etcd_kv *kv);

enum etcd_flags {
	ETCD_PREFIX = 1 << 0,		/* key is a prefix (range_end = key+1) */
	ETCD_KEYS_ONLY = 1 << 1,	/* range: no values */
	ETCD_COUNT_ONLY = 1 << 2,	/* range: only the count */
	ETCD_SERIALIZABLE = 1 << 3,	/* range: local read, may be stale */
	ETCD_PREV_KV = 1 << 4,		/* put/delete/watch: previous values */
	ETCD_PROGRESS_NOTIFY = 1 << 5	/* watch: progress notifications */
};

struct etcd_range_req {
	const char *key;
	unsigned flags;		/* ETCD_PREFIX, _KEYS_ONLY, _COUNT_ONLY, ... */
	int64_t	 revision;	/* read at this revision; 0: latest */
	int64_t	 limit;		/* 0: no limit */
};

struct etcd_range_result {
	struct etcd_kv *kvs;	/* owned, sorted by key */
	size_t	 nkvs;
	int64_t	 count;		/* total matching keys, even past limit */
	bool	 more;		/* limit cut the result */
	int64_t	 revision;	/* store revision the read saw */
};

void	etcd_range_result_release(struct etcd_range_result *r);

/* ---- transactions ----------------------------------------------------- */

enum etcd_cmp_target {
	ETCD_CMP_VALUE, ETCD_CMP_VERSION, ETCD_CMP_CREATE, ETCD_CMP_MOD
};
enum etcd_cmp_result {
	ETCD_CMP_EQUAL, ETCD_CMP_NOT_EQUAL, ETCD_CMP_GREATER, ETCD_CMP_LESS
};
enum etcd_branch { ETCD_THEN, ETCD_ELSE };

/*
 * A transaction under construction: compares, then the ops of the success
 * (ETCD_THEN) and failure (ETCD_ELSE) branches, kept as the JSON request.
 * init/release; the add functions copy their arguments.
 */
struct etcd_txn {
	json_t	*compare, *success, *failure;
	size_t	 bytes;		/* running estimate of the request size */
	size_t	 nops;		/* ops in both branches */
};

void	etcd_txn_init(struct etcd_txn *t);
void	etcd_txn_release(struct etcd_txn *t);
/* Compare version / create_revision / mod_revision of key with v. */
void	etcd_txn_cmp_int(struct etcd_txn *t, const char *key,
	    enum etcd_cmp_target target, enum etcd_cmp_result res, int64_t v);
void	etcd_txn_cmp_value(struct etcd_txn *t, const char *key,
	    enum etcd_cmp_result res, const void *val, size_t len);
void	etcd_txn_put(struct etcd_txn *t, enum etcd_branch b, const char *key,
	    const void *val, size_t len, int64_t lease);
void	etcd_txn_delete(struct etcd_txn *t, enum etcd_branch b,
	    const char *key, unsigned flags);	/* ETCD_PREFIX */
void	etcd_txn_range(struct etcd_txn *t, enum etcd_branch b,
	    const struct etcd_range_req *req);

enum etcd_op_kind { ETCD_OP_PUT, ETCD_OP_RANGE, ETCD_OP_DELETE };

struct etcd_op_result {
	enum etcd_op_kind kind;
	struct etcd_range_result range;	/* ETCD_OP_RANGE */
	int64_t	 deleted;		/* ETCD_OP_DELETE */
};

struct etcd_txn_result {
	bool	 succeeded;	/* the compares held: THEN ran */
	int64_t	 revision;
	struct etcd_op_result *ops;	/* owned, in branch order */
	size_t	 nops;
};

void	etcd_txn_result_release(struct etcd_txn_result *r);

/* ---- watch events ----------------------------------------------------- */

enum etcd_event_type { ETCD_EV_PUT, ETCD_EV_DELETE };

struct etcd_event {
	enum etcd_event_type type;
	struct etcd_kv kv;
	struct etcd_kv prev_kv;		/* key NULL unless ETCD_PREV_KV */
};

enum etcd_watch_kind {
	ETCD_WATCH_EVENTS,	/* events[], in revision order */
	ETCD_WATCH_PROGRESS,	/* nothing happened up to revision */
	/*
	 * The watch fell behind a compaction (or resumed from a compacted
	 * revision): the client re-listed the watched range at revision and
	 * hands the whole current state in kvs[].  The receiver replaces what
	 * it knew; changes in the gap are in the snapshot, none is lost.
	 */
	ETCD_WATCH_RESYNC,
	/*
	 * The stream dropped and could not be re-opened yet (err says why);
	 * the client keeps retrying with back-off from the last revision.
	 * Informational: no state changed.
	 */
	ETCD_WATCH_DISCONNECTED
};

struct etcd_watch_batch {
	enum etcd_watch_kind kind;
	int64_t	 revision;		/* header revision of the message */
	const struct etcd_event *events;	/* EVENTS */
	size_t	 nevents;
	const struct etcd_kv *kvs;	/* RESYNC */
	size_t	 nkvs;
	int64_t	 compact_revision;	/* RESYNC: etcd's compaction point */
	const struct lr_err *err;	/* DISCONNECTED */
};

struct etcd_watch_req {
	const char *key;
	unsigned flags;		/* ETCD_PREFIX, _PREV_KV, _PROGRESS_NOTIFY */
	int64_t	 start_revision;	/* 0: from now */
};

/* ---- the blocking client ---------------------------------------------- */

struct etcd;

/*
 * Check cfg (endpoint URLs, TLS files readable) and make a client; no
 * network until the first call.  *out is the caller's (etcd_free).
 */
int	etcd_new(const struct etcd_config *cfg, struct etcd **out,
	    struct lr_err *err);
void	etcd_free(struct etcd *e);		/* NULL is fine */
/* The endpoint the last successful call used (borrowed). */
const char *etcd_endpoint(const struct etcd *e);

int	etcd_range(struct etcd *e, const struct etcd_range_req *req,
	    struct etcd_range_result *out, struct lr_err *err);
/* Read one key: *out filled and 0, or LR_ENOENT (err set) when absent. */
int	etcd_get(struct etcd *e, const char *key, struct etcd_kv *out,
	    int64_t *revision, struct lr_err *err);
int	etcd_put(struct etcd *e, const char *key, const void *val, size_t len,
	    int64_t lease, int64_t *revision, struct lr_err *err);
int	etcd_delete(struct etcd *e, const char *key, unsigned flags,
	    int64_t *deleted, int64_t *revision, struct lr_err *err);
/* Over ETCD_MAX_REQUEST_BYTES: LR_ETOOBIG before sending. */
int	etcd_txn_commit(struct etcd *e, const struct etcd_txn *t,
	    struct etcd_txn_result *out, struct lr_err *err);
int	etcd_compact(struct etcd *e, int64_t revision, struct lr_err *err);

int	etcd_lease_grant(struct etcd *e, int64_t ttl_s, int64_t *id,
	    struct lr_err *err);
/* One keep-alive: *ttl is the remaining TTL, 0 when the lease is gone. */
int	etcd_lease_keepalive(struct etcd *e, int64_t id, int64_t *ttl,
	    struct lr_err *err);
int	etcd_lease_revoke(struct etcd *e, int64_t id, struct lr_err *err);
/* *ttl -1 when the lease is gone; *granted the TTL it was granted with. */
int	etcd_lease_ttl(struct etcd *e, int64_t id, int64_t *ttl,
	    int64_t *granted, struct lr_err *err);

/*
 * Called for each batch; return 0 to go on, anything else to stop the
 * watch (etcd_watch then returns that value).
 */
typedef int etcd_watch_cb(const struct etcd_watch_batch *b, void *arg);

/*
 * Blocking watch: streams batches to cb until cb stops it, timeout_ms
 * passes (0: none; returns LR_ECANCELED) or the watch cannot go on (auth
 * denied: LR_EPERM).  A dropped stream resumes from the last revision seen;
 * compaction gives an ETCD_WATCH_RESYNC batch.
 */
int	etcd_watch(struct etcd *e, const struct etcd_watch_req *req,
	    long timeout_ms, etcd_watch_cb *cb, void *arg, struct lr_err *err);

/* ---- the libuv client ------------------------------------------------- */

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
 * retries as the blocking client.  what names the operation in errors
 * ("put '/leura/agents/web1'").  cb runs later on the loop, exactly once.
 */
int	etcd_uv_call(struct etcd_uv *eu, const char *path, json_t *body,
	    const char *what, etcd_uv_cb *cb, void *arg);
/*
 * Convenience: the same encoders as the blocking calls.  Errors returned
 * directly (no callback): LR_EINVAL, LR_ECANCELED (client being freed),
 * LR_ETOOBIG (etcd_uv_txn over ETCD_MAX_REQUEST_BYTES or 128 ops).
 */
int	etcd_uv_range(struct etcd_uv *eu, const struct etcd_range_req *req,
	    etcd_uv_cb *cb, void *arg);
int	etcd_uv_put(struct etcd_uv *eu, const char *key, const void *val,
	    size_t len, int64_t lease, etcd_uv_cb *cb, void *arg);
int	etcd_uv_txn(struct etcd_uv *eu, const struct etcd_txn *t,
	    etcd_uv_cb *cb, void *arg);

typedef void etcd_uv_watch_cb(const struct etcd_watch_batch *b, void *arg);

/*
 * Watch on the loop; semantics of etcd_watch (resume from the last
 * revision, RESYNC on compaction, DISCONNECTED while retrying).  *out is
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

/* ---- encoders and decoders (shared by both faces; pure) --------------- */

/* New JSON request bodies. */
json_t	*etcd_range_encode(const struct etcd_range_req *req);
json_t	*etcd_put_encode(const char *key, const void *val, size_t len,
	    int64_t lease, unsigned flags);
json_t	*etcd_delete_encode(const char *key, unsigned flags);
json_t	*etcd_txn_encode(const struct etcd_txn *t);
json_t	*etcd_watch_encode(const struct etcd_watch_req *req);

/* Decode an answer into *out (0), or LR_EETCD when it is malformed. */
int	etcd_range_decode(const json_t *resp, struct etcd_range_result *out,
	    struct lr_err *err);
int	etcd_txn_decode(const json_t *resp, struct etcd_txn_result *out,
	    struct lr_err *err);
/* "revision" of a response header, 0 when absent. */
int64_t	etcd_header_revision(const json_t *resp);

/* Base64 (standard, padded) through OpenSSL; results owned by the caller. */
char	*etcd_b64_encode(const void *p, size_t len);
/* NULL on bad input; *len set; result NUL-terminated. */
char	*etcd_b64_decode(const char *s, size_t *len);
/* The range_end that makes key a prefix query (owned). */
char	*etcd_prefix_end(const char *key);

#endif
