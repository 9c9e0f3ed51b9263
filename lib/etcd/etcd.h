/*
 * etcd v3 client over etcd's JSON gateway (POST /v3/..., base64 keys and
 * values, int64s as strings): libcurl for HTTP, jansson for JSON, OpenSSL's
 * EVP for base64.  One engine, two faces:
 *
 *   - struct etcd_uv (etcd_uv.h): the engine, every operation driven by a
 *     libuv loop through curl's multi-socket API, for the daemons (agent,
 *     leurad);
 *   - struct etcd (here): blocking calls for the CLI, a thin face over the
 *     same engine run on a private loop that the struct etcd owns: each
 *     call starts the operation and runs that loop until it is done.
 *
 * So the endpoint list with fail-over (a connection error moves on to the
 * next endpoint; an answer from etcd, even an error, does not),
 * authentication (user and password -> token, sent bare in Authorization,
 * renewed on 401), TLS (CA, client certificate and key) and watch resume,
 * back-off and compaction re-list exist once, in the engine.  This header
 * holds the types, the pure encoders and decoders both faces share and the
 * blocking face; it does not pull <uv.h>.
 *
 * Keys are NUL-terminated strings (Leura's keys are text); values carry a
 * length and are NUL-terminated as well for convenience.  Every revision,
 * lease id and count is int64_t.  Errors name the operation, the key, the
 * endpoint and etcd's own message, e.g.
 *   etcd put '/leura/desired/web1' at 'http://127.0.0.1:2379': etcdserver:
 *   request is too large (code 3)
 * and say what to do next in the hint.  Nothing here prints.
 *
 * Threads: a struct etcd is used by one thread at a time (its loop is its
 * own, so several threads may each use their own); a struct etcd_uv only
 * on its loop's thread.
 */
#ifndef LR_ETCD_H
#define LR_ETCD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "err.h"

/* ---- configuration ---------------------------------------------------- */

struct etcd_config {
	const char *endpoints;	/* "http://h:2379,https://h2:2379", or
				 * "unix:///abs/socket"; required */
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
	/*
	 * NULL: key alone, or with ETCD_PREFIX every key under it; else the
	 * keys in [key, range_end), and ETCD_PREFIX is ignored.
	 */
	const char *range_end;
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
/*
 * The same over every key under prefix (a range compare: each key must
 * pass; none passes as a key of version and revisions 0): e.g. "no key
 * under P/auth/grants/ changed after revision R" is MOD LESS R + 1.
 */
void	etcd_txn_cmp_prefix_int(struct etcd_txn *t, const char *prefix,
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
	/*
	 * NULL: key alone, or with ETCD_PREFIX every key under it; else the
	 * keys in [key, range_end) ("P/agents/" to "P/observed0" watches
	 * both prefixes and what sorts between them), ETCD_PREFIX ignored.
	 * A compaction re-lists the same range.
	 */
	const char *range_end;
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
 * watch (etcd_watch_run returns that value).  The callback may use other
 * clients, not e itself (its loop is running the watch: LR_BUG).
 */
typedef int etcd_watch_cb(const struct etcd_watch_batch *b, void *arg);

/*
 * Called every tick_ms while the watch runs, between batches (same thread,
 * same arg as the batch callback).  connected: the watch stream is open
 * now (false while the client retries after a DISCONNECTED batch).
 * Return 0 to go on, anything else to stop (etcd_watch_run returns it).
 */
typedef int etcd_watch_tick_cb(bool connected, void *arg);

/*
 * When a blocking watch ends besides its callbacks.  Zeroed: never.
 *
 * stop is polled every 100 ms by a timer on the client's loop: a signal
 * does not interrupt the loop's wait for etcd (libuv restarts it), so a
 * flag set by a signal handler, the one thing a handler may safely do, is
 * what ends the watch within a tenth of a second.  An atomic_int (lock
 * free) so that another thread may set it too (leura up's loop stops a
 * wait running in its worker).
 */
struct etcd_watch_opts {
	long	 timeout_ms;	/* > 0: end with LR_ECANCELED after it */
	atomic_int *stop;	/* set: end with LR_ECANCELED */
	long	 tick_ms;	/* > 0: call tick every tick_ms */
	etcd_watch_tick_cb *tick;
};

/*
 * Blocking watch: streams batches to cb on one stream until cb or tick
 * stops it (their value is returned), the deadline passes or *stop is set
 * (LR_ECANCELED, err says which), or the watch cannot go on (auth denied:
 * LR_EPERM; any failure but etcd unreachable ends it).  A dropped stream
 * resumes from the last revision seen, on the next endpoint at once; when
 * every endpoint failed in a row, cb gets one ETCD_WATCH_DISCONNECTED batch
 * and the watch waits (50 ms, doubling to 2 s) before the next round; a
 * stream that worked again starts over at 50 ms.  Unlike the blocking
 * client before it ran on the engine, the lost stream counts as the first
 * failure of a round: with one endpoint, its loss gives a DISCONNECTED
 * batch and 50 ms before trying again (an immediate retry reaches an etcd
 * that is shutting down and gets its final "the client connection is
 * closing" answer).  Compaction gives an ETCD_WATCH_RESYNC batch.  o may
 * be NULL.
 */
int	etcd_watch_run(struct etcd *e, const struct etcd_watch_req *req,
	    const struct etcd_watch_opts *o, etcd_watch_cb *cb, void *arg,
	    struct lr_err *err);
/* etcd_watch_run with only a deadline (timeout_ms, 0: none). */
int	etcd_watch(struct etcd *e, const struct etcd_watch_req *req,
	    long timeout_ms, etcd_watch_cb *cb, void *arg, struct lr_err *err);

/* ---- encoders and decoders (pure) ------------------------------------- */

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
/* Delete answer: the number of keys deleted. */
int	etcd_delete_decode(const json_t *resp, int64_t *deleted,
	    struct lr_err *err);
/* Grant answer: ID (nonzero) and TTL (ttl may be NULL), or LR_EETCD. */
int	etcd_lease_grant_decode(const json_t *resp, int64_t *id,
	    int64_t *ttl, struct lr_err *err);
/*
 * Keep-alive answer ({"result":{...}} or bare): *ttl the remaining TTL,
 * 0 when the lease is gone (TTL absent or <= 0).  An {"error":...} inside
 * the answer gives LR_EETCD.
 */
int	etcd_lease_keepalive_decode(const json_t *resp, int64_t *ttl,
	    struct lr_err *err);
/* Time-to-live answer: *ttl -1 when gone; *granted grantedTTL. */
int	etcd_lease_ttl_decode(const json_t *resp, int64_t *ttl,
	    int64_t *granted, struct lr_err *err);
/* "revision" of a response header, 0 when absent. */
int64_t	etcd_header_revision(const json_t *resp);

/* Base64 (standard, padded) through OpenSSL; results owned by the caller. */
char	*etcd_b64_encode(const void *p, size_t len);
/* NULL on bad input; *len set; result NUL-terminated. */
char	*etcd_b64_decode(const char *s, size_t *len);
/* The range_end that makes key a prefix query (owned). */
char	*etcd_prefix_end(const char *key);

#endif
