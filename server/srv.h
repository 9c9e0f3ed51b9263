/*
 * leurad's request model: what every handler sees and fills.
 *
 * The HTTP layer (http.c, over libwebsockets on leurad's libuv loop) reads
 * a whole request (headers, then the body up to the limit), matches its
 * route (router.c), authenticates it (auth.c, through srv->authenticate)
 * and runs the route's handler on a libuv thread-pool worker: a handler is
 * plain blocking code that may call etcd through req->etcd (borrowed from
 * leurad's pool for the request's life) and the reconcile library.  It
 * never touches libwebsockets nor the loop.  When it returns, the loop
 * writes resp; the core then records metrics and, for every mutating
 * request and every 401/403, an audit event (audit.c).
 *
 * Ownership: req and everything it points to are the core's; resp's body
 * and headers are owned by resp (the srv_resp_* setters take copies or
 * steal as stated).
 */
#ifndef SRV_H
#define SRV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "err.h"

struct etcd;
struct srv;			/* the daemon: server/leurad.h */
struct auth_principal;		/* the caller: server/auth.h */

#define SRV_MAX_PARAMS	4	/* {name} captures in one route pattern */
#define SRV_MAX_HEADERS	16	/* request headers kept (names lowercase) */

struct srv_kv {
	const char	*name;
	char		*value;
};

struct srv_req {
	struct srv	*srv;		/* borrowed */
	const char	*method;	/* "GET", "POST", "PUT", "PATCH", "DELETE" */
	const char	*path;		/* percent-decoded, no query */
	const char	*route;		/* the matched pattern: "/v1/users/{name}" */
	struct srv_kv	 params[SRV_MAX_PARAMS];	/* path captures */
	size_t		 nparams;
	struct srv_kv	*query;		/* decoded query arguments */
	size_t		 nquery;
	struct srv_kv	 headers[SRV_MAX_HEADERS];
	size_t		 nheaders;
	const char	*body;		/* NUL-terminated; "" when none */
	size_t		 body_len;
	char		 client[64];	/* "127.0.0.1:51234" */
	/* X-Request-Id when [A-Za-z0-9-]{1,64}, else 128 random bits, hex */
	char		 request_id[65];
	/* NULL: anonymous (only routes with SRV_ANON run so) */
	const struct auth_principal *who;
	struct etcd	*etcd;		/* this request's etcd handle */
	/*
	 * What the audit event names, set by the handler (copied by
	 * srv_req_audit): the resource ("users/alice", "services/web")
	 * and optional details (no secrets).  Unset: the path.
	 */
	char		*audit_resource;
	json_t		*audit_detail;
};

struct srv_resp {
	int		 status;	/* 0 until set: the core answers 500 */
	char		*body;		/* owned */
	size_t		 body_len;
	const char	*content_type;	/* static string */
	struct srv_kv	 headers[8];	/* owned values; static names */
	size_t		 nheaders;
};

/* A path capture, query argument or header (name lowercase); NULL: none. */
const char *srv_param(const struct srv_req *req, const char *name);
const char *srv_query(const struct srv_req *req, const char *name);
const char *srv_header(const struct srv_req *req, const char *name);

/* Set what the audit event names: resource (copied), detail (stolen). */
void	srv_req_audit(struct srv_req *req, const char *resource,
	    json_t *detail);

/* status and body (stolen; compact JSON, a trailing newline). */
void	srv_resp_json(struct srv_resp *r, int status, json_t *body);
/* status and bytes (copied) of type ctype (a static string). */
void	srv_resp_bytes(struct srv_resp *r, int status, const char *ctype,
	    const void *p, size_t n);
/* Add a response header: name static, value copied. */
void	srv_resp_header(struct srv_resp *r, const char *name,
	    const char *value);
/*
 * The one error shape: {"error":{"code":CODE,"message":MSG,"hint":HINT}}.
 * code is a stable lowercase word ("bad_request", "unauthorized",
 * "forbidden", "not_found", "method_not_allowed", "conflict",
 * "precondition_failed", "too_large", "unavailable", "internal"...);
 * hint may be NULL.
 */
void	srv_resp_error(struct srv_resp *r, int status, const char *code,
	    const char *hint, const char *fmt, ...)
	    __attribute__((format(printf, 5, 6)));
/*
 * An lr_err as the error shape: the status and code follow err->code
 * (LR_EINVAL 400, LR_ENOENT 404, LR_EAUTH 401, LR_EPERM 403,
 * LR_ECONFLICT 409, LR_EBUSY 409, LR_EEXIST 409, LR_ETOOBIG 413,
 * LR_EUNREACH 503,
 * anything else 500), message and hint are err's.
 */
void	srv_resp_lr_err(struct srv_resp *r, const struct lr_err *err);

/*
 * The body as a JSON object whose members are all named in allowed
 * (NULL-terminated): *out is new (the caller's).  Bad JSON, another type
 * or an unknown member answers 400 naming it (at line:col, or the field
 * and the allowed ones, with a did-you-mean) and returns -1.
 */
int	srv_body_object(const struct srv_req *req, struct srv_resp *resp,
	    const char *const *allowed, json_t **out);

/*
 * ETag/If-Match on etcd revisions: the ETag of a resource is its etcd
 * mod_revision, quoted ("\"1234\"").  srv_if_match returns the revision
 * If-Match names, 0 when the header is absent or "*", and -1 (after
 * answering 400) when it is not an ETag of ours.
 */
void	srv_resp_etag(struct srv_resp *r, int64_t mod_revision);
int64_t	srv_if_match(const struct srv_req *req, struct srv_resp *resp);

/*
 * Pagination, one shape for every list: ?limit=N (1..1000, default 100)
 * and ?after=CURSOR (the last item's key of the previous page, as given).
 * srv_page_args answers 400 and returns -1 on a bad limit.  A page is
 * {"items":[...],"next":CURSOR|null}.
 */
int	srv_page_args(const struct srv_req *req, struct srv_resp *resp,
	    size_t *limit, const char **after);

/*
 * A streamed answer, for output that arrives while the handler runs (a
 * step's live log): HTTP/1.1 chunked transfer encoding, the connection
 * closed after it.  stream_begin answers 200 of type ctype (a static
 * string) and sends the head; each stream_write queues bytes for the
 * loop to send, blocking the worker while the queue is full (the client
 * reads slowly), and returns -1 once the client is gone or the server
 * stops (the handler then returns); stream_gone says the same without
 * writing.  The stream ends when the handler returns.  Headers set with
 * srv_resp_header before stream_begin are sent.
 */
void	srv_resp_stream_begin(struct srv_req *req, struct srv_resp *resp,
	    const char *ctype);
int	srv_resp_stream_write(struct srv_req *req, const void *p, size_t n);
bool	srv_resp_stream_gone(struct srv_req *req);

/* A handler: blocking code on a worker thread (see above). */
typedef void srv_handler(struct srv_req *req, struct srv_resp *resp);

#define SRV_ANON	0x1	/* runs without a principal (login, healthz) */
#define SRV_RAW_BODY	0x2	/* the body need not be JSON (webhooks) */

struct srv_router;
/*
 * Add a route: method and a pattern of literal segments and {name}
 * captures (one segment each; a capture never matches "", "." or "..").
 * Registration happens before the loop runs.
 */
void	srv_route(struct srv_router *r, const char *method,
	    const char *pattern, srv_handler *h, unsigned flags);

#endif
