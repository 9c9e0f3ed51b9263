/*
 * The daemon's state (leurad.h): its making and release, the pool of
 * blocking etcd handles workers borrow, and the core's own routes
 * (/healthz, /readyz, /metrics, /v1/openapi.yaml).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LR_LOG_COMPONENT "srv"
#include "auth.h"
#include "buf.h"
#include "etcd.h"
#include "keys.h"
#include "log.h"
#include "sign.h"
#include "srv-int.h"
#include "xalloc.h"

/* cmake/embed.cmake: docs/api/openapi.yaml */
extern const unsigned char srv_openapi_doc[];
extern const size_t srv_openapi_doc_len;

void
srv_opts_init(struct srv_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->host = lr_xstrdup("127.0.0.1");	/* o's */
	o->port = 7480;
	o->max_body = 1024 * 1024;
	o->request_timeout = 30;
	o->max_connections = 1024;
	o->max_header = 8192;
}

void
srv_opts_release(struct srv_opts *o)
{
	free(o->host);
	free(o->tls_cert);
	free(o->tls_key);
	free(o->tls_ca);
	memset(o, 0, sizeof(*o));
}

/* ---- the etcd pool ---- */

static int
etcd_make(struct srv *s, struct etcd **out, struct lr_err *err)
{
	struct etcd_config cfg = { 0 };

	cfg.endpoints = s->conn.endpoints;
	cfg.cacert = s->conn.cacert;
	cfg.cert = s->conn.cert;
	cfg.key = s->conn.key;
	cfg.user = s->conn.user;
	cfg.password = s->conn.password;
	return etcd_new(&cfg, out, err);
}

struct etcd *
srv_etcd_take(struct srv *s)
{
	struct srv_core *k = s->core;
	struct etcd *e = NULL;
	struct lr_err err;

	pthread_mutex_lock(&k->mu);
	while (k->nidle == 0 && k->made >= k->cap)
		pthread_cond_wait(&k->cv, &k->mu);
	if (k->nidle > 0) {
		e = k->idle[--k->nidle];
		pthread_mutex_unlock(&k->mu);
		return e;
	}
	k->made++;
	pthread_mutex_unlock(&k->mu);
	/* the settings were checked by srv_init's first handle */
	lr_err_clear(&err);
	if (etcd_make(s, &e, &err) < 0)
		LR_BUG("etcd client: %s", err.msg);
	return e;
}

void
srv_etcd_give(struct srv *s, struct etcd *e)
{
	struct srv_core *k = s->core;

	if (e == NULL)
		return;
	pthread_mutex_lock(&k->mu);
	k->idle[k->nidle++] = e;
	pthread_cond_signal(&k->cv);
	pthread_mutex_unlock(&k->mu);
}

/* ---- the daemon ---- */

static size_t
pool_size(void)
{
	const char *v = getenv("UV_THREADPOOL_SIZE");
	long n = v != NULL ? strtol(v, NULL, 10) : 0;

	return n > 0 && n <= 1024 ? (size_t)n : 4;
}

int
srv_init(struct srv *s, uv_loop_t *loop, struct lr_conn *conn,
    struct srv_opts *opts, struct lr_err *err)
{
	struct srv_core *k;
	struct etcd *e;
	struct timespec ts;

	s->loop = loop;
	s->conn = *conn;			/* s's now */
	memset(conn, 0, sizeof(*conn));
	s->prefix = s->conn.prefix;
	s->router = srv_router_new();		/* s's */
	s->core = k = lr_xcalloc(1, sizeof(*k));	/* s's */
	k->opts = *opts;			/* s's now */
	memset(opts, 0, sizeof(*opts));
	pthread_mutex_init(&k->mu, NULL);
	pthread_mutex_init(&k->wake_mu, NULL);
	pthread_cond_init(&k->cv, NULL);
	/* one handle per worker, and one for the loop's own uses */
	k->cap = pool_size() + 1;
	k->idle = lr_xcalloc(k->cap, sizeof(*k->idle));	/* k's */
	clock_gettime(CLOCK_REALTIME, &ts);
	k->started = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	if (etcd_make(s, &e, err) < 0)
		return err->code;
	k->made = 1;
	k->idle[k->nidle++] = e;
	srv_core_routes(s);
	return 0;
}

void
srv_release(struct srv *s)
{
	struct srv_core *k = s->core;
	size_t i;

	if (k != NULL) {
		for (i = 0; i < k->nidle; i++)
			etcd_free(k->idle[i]);
		free(k->idle);
		pthread_mutex_destroy(&k->mu);
		pthread_mutex_destroy(&k->wake_mu);
		pthread_cond_destroy(&k->cv);
		srv_opts_release(&k->opts);
		free(k);
	}
	srv_router_free(s->router);
	lr_sign_key_free(s->sign_key);
	lr_conn_release(&s->conn);
	free(s->data_dir);
	free(s->admin_password_file);
	srv_metrics_reset();
	memset(s, 0, sizeof(*s));
}

/* ---- the core's routes ---- */

static void
h_healthz(struct srv_req *req, struct srv_resp *resp)
{
	srv_resp_json(resp, 200, json_pack("{s:s,s:s}", "status", "ok",
	    "id", req->srv->id));
}

static void
h_readyz(struct srv_req *req, struct srv_resp *resp)
{
	struct srv *s = req->srv;
	struct etcd_range_req rr = { 0 };
	struct etcd_range_result res = { 0 };
	struct lr_err err;
	char *key = proto_key_fleet(s->prefix);

	lr_err_clear(&err);
	rr.key = key;
	rr.flags = ETCD_KEYS_ONLY;
	if (etcd_range(req->etcd, &rr, &res, &err) < 0) {
		free(key);
		srv_resp_error(resp, 503, "unavailable", err.hint,
		    "etcd does not answer: %s", err.msg);
		return;
	}
	etcd_range_result_release(&res);
	free(key);
	if (s->ready != NULL && !s->ready(s)) {
		srv_resp_error(resp, 503, "unavailable", "wait: the server "
		    "is still reading its state", "not ready yet");
		return;
	}
	srv_resp_json(resp, 200, json_pack("{s:s,s:s}", "status", "ready",
	    "id", s->id));
}

static void
h_metrics(struct srv_req *req, struct srv_resp *resp)
{
	struct lr_buf b = LR_BUF_INIT;

	/* read on fleet, unless --metrics-anonymous */
	if (!req->srv->core->opts.metrics_anonymous &&
	    !auth_require(req, resp, AUTH_READ, "fleet"))
		return;
	srv_metrics_render(req->srv, &b);
	srv_resp_bytes(resp, 200, "text/plain; version=0.0.4; charset=utf-8",
	    b.s != NULL ? b.s : "", b.len);
	lr_buf_release(&b);
}

static void
h_openapi(struct srv_req *req, struct srv_resp *resp)
{
	srv_resp_bytes(resp, 200, "application/yaml", srv_openapi_doc,
	    srv_openapi_doc_len);
}

void
srv_core_routes(struct srv *s)
{
	srv_route(s->router, "GET", "/healthz", h_healthz,
	    SRV_ANON | SRV_LOOP);
	srv_route(s->router, "GET", "/readyz", h_readyz, SRV_ANON);
	srv_route(s->router, "GET", "/metrics", h_metrics,
	    s->core->opts.metrics_anonymous ? SRV_ANON : 0);
	srv_route(s->router, "GET", "/v1/openapi.yaml", h_openapi, SRV_ANON);
}
