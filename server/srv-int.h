/*
 * The core's private parts (http.c, router.c, resp.c, audit.c, metrics.c,
 * core.c, main.c): the options, the route table, the etcd pool, the
 * request's life.  Route modules include srv.h and leurad.h only.
 */
#ifndef SRV_INT_H
#define SRV_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "leurad.h"
#include "srv.h"

struct lws_context;
struct http_call;
struct lr_buf;

/* What leurad's flags set (docs/server.md); srv_opts_init's defaults. */
struct srv_opts {
	char	*host;			/* --listen HOST:PORT */
	int	 port;
	char	*tls_cert, *tls_key;	/* both or neither */
	char	*tls_ca;		/* require client certificates */
	size_t	 max_body;		/* --max-body, 1 MiB */
	unsigned request_timeout;	/* seconds, 30 */
	unsigned max_connections;	/* 1024 */
	unsigned max_header;		/* bytes of headers, 8192 */
	bool	 metrics_anonymous;
};

void	srv_opts_init(struct srv_opts *o);
void	srv_opts_release(struct srv_opts *o);

/* ---- routes (router.c) ---- */

/*
 * A core route whose handler runs on the loop, without a worker or an
 * etcd handle (it must not block): /healthz answers while every worker
 * waits for a hung etcd.
 */
#define SRV_LOOP	0x100

struct srv_route_ent {
	char		*method;	/* owned */
	char		*pattern;	/* owned */
	char		**segs;		/* owned; "{name}" for a capture */
	size_t		 nsegs;
	char		*names[SRV_MAX_PARAMS];	/* owned: capture names */
	srv_handler	*h;
	unsigned	 flags;		/* SRV_ANON, SRV_RAW_BODY */
};

struct srv_router {
	struct srv_route_ent *v;
	size_t		 n, cap;
};

struct srv_router *srv_router_new(void);
void	srv_router_free(struct srv_router *r);	/* NULL is fine */

enum srv_match {
	SRV_MATCH_OK,		/* *out and params set */
	SRV_MATCH_NONE,		/* no pattern matches the path: 404 */
	SRV_MATCH_METHOD	/* some do, not for this method: 405, allow */
};

/*
 * The route of method and path.  HEAD matches GET routes.  params gets
 * the captures (values owned by the caller, free with srv_kv_free);
 * allow, on SRV_MATCH_METHOD, the methods the path has ("GET, POST").
 */
enum srv_match srv_router_match(const struct srv_router *r,
	    const char *method, const char *path,
	    const struct srv_route_ent **out, struct srv_kv *params,
	    size_t *nparams, char *allow, size_t allow_size);
void	srv_kv_free(struct srv_kv *kv, size_t n);

/*
 * Is path (percent-decoded, "." and ".." resolved by libwebsockets) one
 * leurad serves: starts with '/',
 * no NUL (len covers the whole), no "." or ".." segment, at most 1024
 * bytes, no control characters?
 */
bool	srv_path_ok(const char *path, size_t len);

/* ---- responses (resp.c) ---- */

void	srv_resp_release(struct srv_resp *r);	/* zeroed after */
/* The request id to use: given if it is [A-Za-z0-9-]{1,64}, else random. */
void	srv_request_id(const char *given, char out[65]);
/* Fill n bytes of p from the kernel's random source (aborts on failure). */
void	srv_random(void *p, size_t n);

/* ---- the etcd pool and the daemon (core.c) ---- */

struct srv_core {
	struct srv_opts	 opts;
	struct lws_context *lws;
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	struct etcd	**idle;		/* pool: handles not in use */
	size_t		 nidle, made, cap;
	/* loop */
	/* changed on the loop, read by /metrics on a worker */
	atomic_uint	 inflight;	/* requests from head to answer written */
	atomic_uint	 nconns;	/* open connections */
	bool		 stopping;
	uv_timer_t	 grace;		/* bounds the wait for in-flight */
	bool		 grace_on;
	void		(*stop_done)(struct srv *s);
	double		 started;	/* the Unix time leurad started */
	/* streamed answers (http.c): calls whose queue has bytes */
	uv_async_t	 wake;
	bool		 wake_on;
	pthread_mutex_t	 wake_mu;
	struct http_call *wake_list;	/* guarded by wake_mu */
	/* loop: the streams being written, checked for a gone client */
	struct http_call *streams;
	uv_timer_t	 stream_timer;
	bool		 stream_timer_on;
};

/*
 * Fill s (zeroed by the caller) for loop; conn and opts are taken (moved
 * into s, the caller's zeroed).  The core's routes are registered.
 */
int	srv_init(struct srv *s, uv_loop_t *loop, struct lr_conn *conn,
	    struct srv_opts *opts, struct lr_err *err);
void	srv_release(struct srv *s);
/* Start serving (the listener); on the loop's thread, before uv_run. */
int	srv_http_start(struct srv *s, struct lr_err *err);
/*
 * Stop: no new connections or requests; call done once the requests in
 * flight are answered (or after grace_ms), with the listener closed.
 */
void	srv_http_stop(struct srv *s, unsigned grace_ms,
	    void (*done)(struct srv *s));
/* Called when a request or connection ends: completes a stop. */
void	srv_http_idle_check(struct srv *s);
/* Close what lws holds on the loop (after the loop stopped serving). */
void	srv_http_free(struct srv *s);
/* The core's own routes: /healthz, /readyz, /metrics, /v1/openapi.yaml. */
void	srv_core_routes(struct srv *s);

/* ---- audit (audit.c) and metrics (metrics.c) ---- */

/*
 * After the handler, on the worker: the event of a mutating request or a
 * 401/403 (nothing for others).  Failures are logged and counted.
 */
void	srv_audit(struct srv_req *req, const struct srv_resp *resp);
bool	srv_audit_wanted(const struct srv_req *req,
	    const struct srv_resp *resp);
/* The event's JSON (new), for srv_audit and the tests. */
json_t	*srv_audit_event(const struct srv_req *req,
	    const struct srv_resp *resp, int64_t now_ns);

/* One request answered: counts and durations (thread-safe). */
void	srv_metrics_observe(const char *route, const char *method,
	    int status, double seconds);
/* The whole exposition (core families and the sources') into out. */
void	srv_metrics_render(struct srv *s, struct lr_buf *out);
void	srv_metrics_reset(void);		/* frees everything */

#endif
