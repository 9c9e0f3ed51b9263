/*
 * Private to the etcd client: the engine's transport-free half
 * (etcd_codec.c: base64, encoders, decoders, the txn builder; etcd_core.c:
 * configuration, curl, HTTP answers, streams), used by the engine
 * (etcd_uv.c, etcd_uv_watch.c, etcd_uv_lease.c) and tested on its own;
 * everything about what to send, how to read the answer and what an error
 * means lives here, free of any transport:
 *
 *   - the parsed configuration with the endpoint list and the auth token;
 *   - setting up a curl easy handle for one request to one endpoint;
 *   - classifying a curl result (next endpoint / TLS / other failure) and
 *     building the "cannot reach etcd" message over every endpoint tried;
 *   - mapping an HTTP status plus etcd's JSON error body to lr_err and to
 *     what the caller does next (go on, re-authenticate, next endpoint);
 *   - authentication request/answer, lease request/answer helpers;
 *   - splitting a stream into lines and decoding one watch message.
 *
 * Design rule: no function here does I/O (except reading the TLS files'
 * readability in etcd_conf_parse) and none prints.  Thread rules as etcd.h.
 */
#ifndef LR_ETCD_INT_H
#define LR_ETCD_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <jansson.h>

#include "buf.h"
#include "err.h"
#include "etcd.h"

/* ---- paths ------------------------------------------------------------ */

#define ETCD_PATH_RANGE		"/v3/kv/range"
#define ETCD_PATH_PUT		"/v3/kv/put"
#define ETCD_PATH_DELETE	"/v3/kv/deleterange"
#define ETCD_PATH_TXN		"/v3/kv/txn"
#define ETCD_PATH_COMPACT	"/v3/kv/compaction"
#define ETCD_PATH_WATCH		"/v3/watch"
#define ETCD_PATH_GRANT		"/v3/lease/grant"
#define ETCD_PATH_KEEPALIVE	"/v3/lease/keepalive"
#define ETCD_PATH_REVOKE	"/v3/lease/revoke"
#define ETCD_PATH_TTL		"/v3/lease/timetolive"
#define ETCD_PATH_AUTH		"/v3/auth/authenticate"

/* etcd's default --max-txn-ops */
#define ETCD_MAX_TXN_OPS	128

/* gRPC status codes etcd puts in "code" */
#define ETCD_CODE_INVALID	3	/* InvalidArgument */
#define ETCD_CODE_NOTFOUND	5	/* NotFound */
#define ETCD_CODE_DENIED	7	/* PermissionDenied */
#define ETCD_CODE_PRECOND	9	/* FailedPrecondition */
#define ETCD_CODE_OUTOFRANGE	11	/* OutOfRange (compacted) */
#define ETCD_CODE_UNAVAILABLE	14	/* Unavailable (no leader...) */
#define ETCD_CODE_UNAUTH	16	/* Unauthenticated (bad token) */

/* ---- configuration ---------------------------------------------------- */

/*
 * struct etcd_config checked and copied (every string owned), plus the
 * state the engine keeps across requests: the auth token and the endpoint
 * that answered last (fail-over starts there).
 */
/* An endpoint that is a unix socket: unix:///abs/path */
#define ETCD_UNIX_SCHEME	"unix://"

struct etcd_conf {
	char	**endpoints;	/* owned; "http(s)://host:port", no final '/',
				 * or "unix:///abs/path" */
	size_t	 nendpoints;
	size_t	 cur;		/* index of the last good endpoint */
	char	*user;		/* owned; NULL: no authentication */
	char	*password;	/* owned; NULL when user is NULL */
	char	*cacert;	/* owned PEM paths; NULL when not given */
	char	*cert;
	char	*key;
	long	 timeout_ms;	/* per request (not watches), never 0 */
	long	 connect_timeout_ms;	/* per endpoint, never 0 */
	char	*token;		/* owned; NULL until authenticated */
	bool	 auth_off;	/* etcd said authentication is not enabled:
				 * go on without a token */
};

/*
 * Check cfg and fill *out: endpoints split on ',' (blanks around them are
 * trimmed), each an http:// or https:// URL with a host, or unix:// and
 * the absolute path of etcd's socket (shorter than sun_path); TLS files
 * must be readable (the error names the file and the option); cert and key go
 * together; user and password go together.  0 or LR_EINVAL (err set);
 * *out untouched on error.  Release with etcd_conf_release.
 */
int	etcd_conf_parse(const struct etcd_config *cfg, struct etcd_conf *out,
	    struct lr_err *err);
void	etcd_conf_release(struct etcd_conf *c);	/* zeroed struct is fine */
/* Replace the token (copied; NULL forgets it). */
void	etcd_conf_set_token(struct etcd_conf *c, const char *token);
/* True when a token must be obtained before the next request: a user
 * is set, no token is held and auth_off is false. */
bool	etcd_conf_needs_auth(const struct etcd_conf *c);

/* The socket path of a unix:// endpoint (borrowed from it), else NULL. */
const char *etcd_endpoint_socket(const char *endpoint);

/* ---- curl ------------------------------------------------------------- */

/* curl_global_init once per process, thread-safe (etcd_uv_new). */
void	etcd_curl_global_init(void);

enum etcd_req_flags {
	ETCD_REQ_WATCH = 1 << 0,	/* streaming: no CURLOPT_TIMEOUT_MS */
	ETCD_REQ_NOAUTH = 1 << 1,	/* no Authorization (authenticate) */
	/*
	 * Safe to send again when an endpoint took it but gave no answer
	 * in time (it may have been applied there): a timeout moves on to
	 * the next endpoint, as a connection error does.  Reads, and txns
	 * (etcd_uv_txn says why).
	 */
	ETCD_REQ_REPEAT = 1 << 2
};

/*
 * Set the options of one request on h (a fresh or curl_easy_reset handle):
 * URL = endpoints[ep] + path (a unix:// endpoint: http://localhost + path
 * over CURLOPT_UNIX_SOCKET_PATH), POST of body (copied:
 * CURLOPT_COPYPOSTFIELDS),
 * Content-Type: application/json, Authorization: <bare token> when c has a
 * token (and not ETCD_REQ_NOAUTH), CAINFO/SSLCERT/SSLKEY, CONNECTTIMEOUT_MS,
 * TIMEOUT_MS unless ETCD_REQ_WATCH, TCP_KEEPALIVE, NOSIGNAL, and
 * ERRORBUFFER = errbuf (CURL_ERROR_SIZE bytes, may be NULL).
 * *hdrs receives the header list: the caller frees it with
 * curl_slist_free_all after the transfer.  The caller sets WRITEFUNCTION
 * (and XFERINFOFUNCTION for watches).
 */
void	etcd_curl_setup(CURL *h, const struct etcd_conf *c, size_t ep,
	    const char *path, const char *body, size_t len, unsigned flags,
	    struct curl_slist **hdrs, char *errbuf);

enum etcd_curl_class {
	ETCD_CURL_OK,		/* transfer done: check the HTTP status */
	ETCD_CURL_NEXT,		/* could not talk to this endpoint: try the
				 * next one (refused, unresolved, connect
				 * timeout, empty reply, send/recv error) */
	ETCD_CURL_TLS,		/* handshake or certificate failure */
	ETCD_CURL_TIMEOUT,	/* connected, but no answer in time */
	ETCD_CURL_FAIL		/* anything else (bad option, aborted...) */
};

/*
 * Classify the result rc of a transfer on h (h is used for the connect
 * time, the OS errno and, for a broken pipe right after a TLS handshake
 * (TLS 1.3: etcd refusing the client certificate), the scheme and
 * handshake time).  reason receives a short lowercase cause for
 * messages ("connection refused", "connect timed out", curl's own text
 * for TLS).  errbuf is the handle's ERRORBUFFER or NULL.
 */
enum etcd_curl_class etcd_curl_classify(CURL *h, CURLcode rc,
	    const char *errbuf, char *reason, size_t reasonsz);

/*
 * Fill err for a class other than OK and NEXT and return its code:
 * ETCD_CURL_TLS -> LR_ETLS with a hint naming --etcd-cacert/--etcd-cert/
 * --etcd-key; TIMEOUT -> LR_EUNREACH; FAIL -> LR_EETCD.  what is
 * "put '/k'" (see etcd_uv_call).
 */
int	etcd_curl_error(struct lr_err *err, enum etcd_curl_class cls,
	    const char *what, const char *endpoint, const char *reason);

/*
 * The list of endpoints tried, for "cannot reach etcd: tried 'http://a'
 * (connection refused), 'http://b' (connect timed out)".  tried is an
 * lr_buf the caller owns (release it); add one entry per failed attempt.
 */
void	etcd_tried_add(struct lr_buf *tried, const char *endpoint,
	    const char *reason);
/* LR_EUNREACH with the message above and the "check that etcd..." hint. */
int	etcd_unreach_error(struct lr_err *err, const struct lr_buf *tried);

/* ---- answers ---------------------------------------------------------- */

/* Parse an answer body; NULL when it is not JSON. */
json_t	*etcd_json_parse(const char *body, size_t len);

enum etcd_http_action {
	ETCD_HTTP_OK,		/* 2xx: decode the answer */
	ETCD_HTTP_REAUTH,	/* token expired/invalid (401, code 16):
				 * authenticate again, retry once */
	ETCD_HTTP_NEXT,		/* this member cannot serve now (code 14,
				 * "no leader"): try the next endpoint */
	ETCD_HTTP_FAIL		/* final: err says why */
};

/*
 * What an HTTP answer means.  body is the parsed answer (NULL when not
 * JSON: raw/rawlen are then quoted, cut short).  For every action but OK,
 * err is filled ("etcd <what> at '<endpoint>': <message> (code N)") so a
 * caller that gives up (second 401, last endpoint) returns it as is:
 *   401 or code 16              REAUTH, err LR_EAUTH
 *   "authentication failed",
 *   "user name is empty", ...   FAIL LR_EAUTH (hint: user and password)
 *   403 or code 7               FAIL LR_EPERM (hint: RBAC role)
 *   "request is too large"      FAIL LR_ETOOBIG
 *   "CommonName of client..."   FAIL LR_ETLS (mTLS + auth: the gateway
 *                               refuses certs with a CN; comes as text)
 *   code 5                      FAIL LR_ENOENT (e.g. lease not found)
 *   code 14                     NEXT, err LR_EUNREACH
 *   "database space exceeded"   FAIL LR_EETCD (hint: compact, defrag,
 *                               disarm the NOSPACE alarm, or the quota)
 *   other                       FAIL LR_EETCD
 */
enum etcd_http_action etcd_http_check(long status, const json_t *body,
	    const char *raw, size_t rawlen, const char *what,
	    const char *endpoint, struct lr_err *err);

/* int64 field of o: JSON string or integer; absent or malformed: 0. */
int64_t	etcd_json_int64(const json_t *o, const char *name);

/* Boolean field of o: true only when present and JSON true. */
static inline bool
etcd_json_flag(const json_t *o, const char *name)
{
	return json_is_true(json_object_get(o, name));
}

/*
 * Decode one mvccpb.KeyValue object into *kv (owned strings; release with
 * etcd_kv_release).  0 or LR_EETCD (bad base64, missing key).
 */
int	etcd_kv_decode(const json_t *j, struct etcd_kv *kv, struct lr_err *err);

/* ---- authentication --------------------------------------------------- */

/* {"name":user,"password":password}; c->user must be set. */
json_t	*etcd_auth_encode(const struct etcd_conf *c);
/* The "token" of an authenticate answer (owned) or LR_EAUTH. */
int	etcd_auth_decode(const json_t *resp, char **token, struct lr_err *err);
/*
 * True when an authenticate answer (status, parsed body) says etcd has
 * authentication disabled (412, code 9): set c->auth_off and go on without
 * a token.  Check it before etcd_http_check.
 */
bool	etcd_auth_disabled(long status, const json_t *body);

/* ---- leases ----------------------------------------------------------- */

json_t	*etcd_lease_grant_encode(int64_t ttl_s);	/* {"TTL":"n"} */
json_t	*etcd_lease_id_encode(int64_t id);		/* {"ID":"n"} */

/* ---- streams and watches ---------------------------------------------- */

/*
 * Append n bytes of a stream to acc, then call cb once per complete line
 * ('\n' excluded; empty lines skipped).  The unfinished tail stays in acc.
 * A non-zero return of cb stops and is returned (the lines after it are
 * dropped); otherwise 0.
 */
typedef int etcd_line_cb(const char *line, size_t len, void *arg);
int	etcd_lines_feed(struct lr_buf *acc, const void *p, size_t n,
	    etcd_line_cb *cb, void *arg);

/* Events of one watch message; the caller keeps one and reuses it. */
struct etcd_events {
	struct etcd_event *v;	/* owned; v[0..n) valid */
	size_t	 n, cap;
};
void	etcd_events_init(struct etcd_events *ev);
void	etcd_events_clear(struct etcd_events *ev);	/* n = 0, keep memory */
void	etcd_events_release(struct etcd_events *ev);

/* What a watch message says besides its events. */
struct etcd_watch_info {
	bool	 created;	/* the watch was created */
	bool	 canceled;	/* etcd canceled it (stream may stay open) */
	int64_t	 watch_id;	/* -1 for a denied watch */
	int64_t	 compact_revision;	/* canceled by compaction: its rev */
	char	 cancel_reason[256];	/* "" when none */
	bool	 fragment;	/* a fragmented message (not used by us) */
};

/*
 * Decode one watch line ({"result":{...}} or {"error":{...}}).  Clears
 * and fills ev with the events (the caller's container), fills *info and
 * *b: kind ETCD_WATCH_EVENTS when there are events (b->events = ev->v,
 * borrowed until the next decode or release), ETCD_WATCH_PROGRESS when
 * there are none (created/canceled/progress messages: look at *info),
 * b->revision = header revision.  0, or LR_EETCD for malformed JSON or
 * base64; an {"error":...} line gives the code etcd_http_check would
 * (LR_EPERM, LR_EAUTH, ...), with what/endpoint naming the watch.
 * A denied watch (created+canceled, "permission denied" in cancel_reason)
 * decodes fine: the caller maps it to LR_EPERM with etcd_watch_cancel_error.
 */
int	etcd_watch_decode_line(const char *line, size_t len,
	    struct etcd_events *ev, struct etcd_watch_batch *b,
	    struct etcd_watch_info *info, const char *what,
	    const char *endpoint, struct lr_err *err);

/*
 * A canceled watch without compact_revision: the error to report
 * (LR_EPERM when cancel_reason says permission denied, LR_EAUTH for
 * auth/token reasons, LR_EETCD otherwise).  A token that expired shows
 * as LR_EAUTH with "invalid auth token" in cancel_reason: authenticate
 * again and re-open the watch once before giving up.
 */
int	etcd_watch_cancel_error(const struct etcd_watch_info *info,
	    const char *what, const char *endpoint, struct lr_err *err);

/*
 * The range that re-lists a watched range for RESYNC: key, ETCD_PREFIX and
 * range_end of w, latest revision.
 */
void	etcd_watch_resync_req(const struct etcd_watch_req *w,
	    struct etcd_range_req *out);

/* "watch '/k'" style description of an operation on key (owned). */
char	*etcd_what(const char *op, const char *key);

/* ---- between the engine and the blocking face (etcd_uv_watch.c) ------- */

struct etcd_uv;
struct etcd_uv_watch;
/* The watch's stream is open: etcd said "created" and it has not failed. */
bool	etcd_uv_watch_is_open(const struct etcd_uv_watch *w);

/*
 * How a watch retries.  Zeroed: the engine's own way, a back-off of 100 ms
 * doubling to 5 s (jittered), one ETCD_WATCH_DISCONNECTED batch per failed
 * attempt (the agent's).  The blocking face sets the old blocking client's
 * way: 50 ms doubling to 2 s, not jittered, per_round: the other
 * endpoints are tried at once, and one DISCONNECTED batch and a wait come
 * only after every endpoint failed in a row (etcd unreachable; any other
 * failure is delivered as it comes).  A lost stream is the first failure
 * of a round (etcd.h, etcd_watch_run, says why).
 */
struct etcd_watch_retry {
	unsigned min_ms, max_ms;	/* 0: 100, 5000 */
	bool	 per_round;
};
/*
 * The blocking face's errors: a failed authentication reaches calls and
 * watches as the authenticate call said it ("etcd authenticate as 'root'
 * at ...: ..."), not after the operation's name as the engine's own
 * holders get it ("put '/k': etcd authenticate as ...").
 */
void	etcd_uv_auth_errors_bare(struct etcd_uv *eu);
/* Set w's; call it right after etcd_uv_watch_start, before the loop runs. */
void	etcd_uv_watch_set_retry(struct etcd_uv_watch *w,
	    const struct etcd_watch_retry *r);

#endif
