/*
 * HTTP over libwebsockets 4.1 on leurad's libuv loop (a foreign loop), the
 * one file that knows lws.  A connection (struct http_conn, the wsi's
 * opaque user data) carries at most one request at a time (struct
 * http_call):
 *
 *   LWS_CALLBACK_HTTP            method, path, query, headers, client;
 *                                route match; the body's length checked
 *   LWS_CALLBACK_HTTP_BODY       the body, up to --max-body (else 413)
 *   ..._BODY_COMPLETION          dispatch: uv_queue_work runs
 *                                authentication, the handler and the
 *                                audit on a worker (work_cb)
 *   after_work (loop)            metrics; ask lws for WRITEABLE
 *   LWS_CALLBACK_HTTP_WRITEABLE  the head, then the body in chunks; then
 *                                keep-alive (or close)
 *
 * A connection that closes while its request runs leaves the call
 * orphaned (call->conn NULL): after_work frees it without writing.  Early
 * answers (404, 405, 413, a bad path, stopping) never reach a worker.
 *
 * A streamed answer (srv_resp_stream_begin): the worker queues bytes in
 * the call's stream (bounded; the worker waits while it is full) and
 * puts the call on the core's wake list; the loop's async handle then
 * asks lws for WRITEABLE, which sends the head (Transfer-Encoding:
 * chunked, Connection: close) and what is queued as one chunk, unless
 * lws still holds unsent bytes (the client reads slowly: the queue
 * fills and the worker waits).  When the handler returns, after_work
 * marks the stream ended: the rest and the last chunk go, then the
 * connection closes.  A connection closed meanwhile marks the stream
 * gone, which the worker's next write returns as -1.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libwebsockets.h>

#define LR_LOG_COMPONENT "http"
#include "auth.h"
#include "buf.h"
#include "err.h"
#include "log.h"
#include "srv-int.h"
#include "xalloc.h"

/*
 * What one lws_write hands over, and what lws gives one send() (its
 * protocol's tx_packet_size; 0 would mean 4096 bytes a send, each after a
 * POLLOUT: a 165 KB answer took 46 send()s and 144 epoll_ctl()s, and
 * GET /v1/status of 1,000 hosts served 1,400 req/s instead of 11,000).
 */
#define WRITE_CHUNK	(1024 * 1024)
#define HEAD_MAX	4096
/* a stream's queue: the worker waits above this */
#define STREAM_QMAX	(256 * 1024)
#define STREAM_STALL_S	60	/* a reader that takes nothing this long */

struct http_conn;

enum call_state {
	CALL_READING,	/* headers done, the body is arriving */
	CALL_WORKING,	/* on a worker */
	CALL_WRITING	/* the answer is being written */
};

/* A streamed answer's queue, between its worker and the loop. */
struct http_stream {
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	struct lr_buf	 q;		/* bytes not yet handed to lws */
	bool		 gone;		/* the connection closed */
	bool		 ended;		/* the handler returned */
};

struct http_call {
	struct srv_req	 req;		/* first: srv_req -> http_call */
	struct srv_resp	 resp;
	struct srv	*srv;
	struct http_conn *conn;		/* NULL: the connection closed */
	const struct srv_route_ent *route;	/* NULL: early answer */
	struct auth_principal *who;	/* owned (srv->principal_free) */
	enum call_state	 state;
	char		 method[8];
	char		*path;		/* owned */
	struct lr_buf	 body;
	size_t		 expect;	/* Content-Length */
	bool		 close;		/* Connection: close after */
	bool		 head;		/* HEAD: no body written */
	bool		 head_sent;
	size_t		 sent;		/* body bytes written */
	struct timespec	 t0;		/* CLOCK_MONOTONIC at the request */
	uv_work_t	 work;
	char		 allow[128];	/* 405's Allow */
	struct http_stream *stream;	/* owned; NULL: a whole answer */
	bool		 streaming;	/* loop: the stream's head may go */
	bool		 wake_queued;	/* on the core's wake list */
	struct http_call *wake_next;
	bool		 in_streams;	/* loop: on the core's streams */
	struct http_call *s_prev, *s_next;
};

struct http_conn {
	struct srv	*srv;
	struct lws	*wsi;
	struct http_call *call;
};

static const struct {
	const char	*name;
	enum lws_token_indexes tok;
} std_headers[] = {
	{ "authorization",	WSI_TOKEN_HTTP_AUTHORIZATION },
	{ "if-match",		WSI_TOKEN_HTTP_IF_MATCH },
	{ "content-type",	WSI_TOKEN_HTTP_CONTENT_TYPE },
	{ "user-agent",		WSI_TOKEN_HTTP_USER_AGENT },
};

/* Headers lws does not know (custom headers), lowercase. */
static const char *const custom_headers[] = {
	"x-request-id", "x-hub-signature-256", "x-gitea-signature",
	"x-gitlab-token", "x-github-event", "x-gitlab-event",
	"x-gitea-event", "x-github-delivery", "x-gitea-delivery",
	"x-gitlab-event-uuid", "x-forwarded-for",
};

static const struct {
	const char	*name;
	enum lws_token_indexes tok;
} methods[] = {
	{ "GET", WSI_TOKEN_GET_URI }, { "POST", WSI_TOKEN_POST_URI },
	{ "PUT", WSI_TOKEN_PUT_URI }, { "PATCH", WSI_TOKEN_PATCH_URI },
	{ "DELETE", WSI_TOKEN_DELETE_URI }, { "HEAD", WSI_TOKEN_HEAD_URI },
	{ "OPTIONS", WSI_TOKEN_OPTIONS_URI },
};

/*
 * A call is in flight from its head to its answer written (or its
 * connection gone): a stop waits for none to be (srv_http_stop).
 */
static void
call_free(struct http_call *c)
{
	struct srv_req *r;
	struct srv *s;
	size_t i;

	if (c == NULL)
		return;
	s = c->srv;
	r = &c->req;
	srv_kv_free(r->params, r->nparams);
	/* a query argument's name and value share one string: name's */
	for (i = 0; i < r->nquery; i++)
		free((char *)r->query[i].name);
	free(r->query);
	srv_kv_free(r->headers, r->nheaders);
	free(r->audit_resource);
	json_decref(r->audit_detail);
	if (c->who != NULL && c->srv->principal_free != NULL)
		c->srv->principal_free(c->who);
	srv_resp_release(&c->resp);
	lr_buf_release(&c->body);
	free(c->path);
	if (c->wake_queued) {
		struct http_call **pp;

		pthread_mutex_lock(&s->core->wake_mu);
		for (pp = &s->core->wake_list; *pp != NULL;
		    pp = &(*pp)->wake_next)
			if (*pp == c) {
				*pp = c->wake_next;
				break;
			}
		pthread_mutex_unlock(&s->core->wake_mu);
	}
	if (c->in_streams) {
		if (c->s_prev != NULL)
			c->s_prev->s_next = c->s_next;
		else
			s->core->streams = c->s_next;
		if (c->s_next != NULL)
			c->s_next->s_prev = c->s_prev;
	}
	if (c->stream != NULL) {
		pthread_mutex_destroy(&c->stream->mu);
		pthread_cond_destroy(&c->stream->cv);
		lr_buf_release(&c->stream->q);
		free(c->stream);
	}
	free(c);
	s->core->inflight--;
	srv_http_idle_check(s);
}

/* ---- reading a request ---- */

static void
add_header(struct srv_req *r, const char *name, char *v)
{
	if (r->nheaders == SRV_MAX_HEADERS) {
		free(v);
		return;
	}
	r->headers[r->nheaders].name = name;
	r->headers[r->nheaders++].value = v;	/* r's */
}

static void
read_headers(struct lws *wsi, struct srv_req *r)
{
	char name[64];
	size_t i;
	int n, nl;
	char *v;

	for (i = 0; i < sizeof(std_headers) / sizeof(std_headers[0]); i++) {
		if ((n = lws_hdr_total_length(wsi, std_headers[i].tok)) <= 0)
			continue;
		v = lr_xmalloc((size_t)n + 1);
		if (lws_hdr_copy(wsi, v, n + 1, std_headers[i].tok) < 0) {
			free(v);
			continue;
		}
		add_header(r, std_headers[i].name, v);
	}
	for (i = 0; i < sizeof(custom_headers) / sizeof(custom_headers[0]);
	    i++) {
		nl = snprintf(name, sizeof(name), "%s:", custom_headers[i]);
		if ((n = lws_hdr_custom_length(wsi, name, nl)) < 0)
			continue;
		v = lr_xmalloc((size_t)n + 1);
		if (lws_hdr_custom_copy(wsi, v, n + 1, name, nl) < 0) {
			free(v);
			continue;
		}
		v[n] = '\0';
		add_header(r, custom_headers[i], v);
	}
}

static void
read_query(struct lws *wsi, struct srv_req *r)
{
	char *buf, *eq;
	size_t cap = 0;
	int i, n;

	for (i = 0; i < 64; i++) {
		/* sized to the fragment: a long one is not cut short */
		n = lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, i);
		if (n < 0)
			break;
		buf = lr_xmalloc((size_t)n + 2);	/* r's: the name */
		if (lws_hdr_copy_fragment(wsi, buf, n + 1,
		    WSI_TOKEN_HTTP_URI_ARGS, i) < 0) {
			free(buf);
			break;
		}
		buf[n] = buf[n + 1] = '\0';
		r->query = lr_xgrow(r->query, &cap, r->nquery + 1,
		    sizeof(*r->query));
		/* the name and the value share one string: name\0value */
		eq = strchr(buf, '=');
		if (eq != NULL)
			*eq = '\0';
		r->query[r->nquery].name = buf;
		r->query[r->nquery].value = eq != NULL ? eq + 1 : buf + n + 1;
		r->nquery++;
	}
}

static void
read_client(struct lws *wsi, struct srv_req *r)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char ip[INET6_ADDRSTRLEN] = "?";
	int port = 0, fd = lws_get_socket_fd(wsi);

	if (fd >= 0 && getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *a = (struct sockaddr_in *)&ss;

			inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
			port = ntohs(a->sin_port);
		} else if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

			port = ntohs(a->sin6_port);
			if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
				/* a dual-stack socket's IPv4 client */
				inet_ntop(AF_INET, &a->sin6_addr.s6_addr[12],
				    ip, sizeof(ip));
				snprintf(r->client, sizeof(r->client),
				    "%s:%d", ip, port);
				return;
			}
			inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
			snprintf(r->client, sizeof(r->client), "[%s]:%d", ip,
			    port);
			return;
		}
	}
	snprintf(r->client, sizeof(r->client), "%s:%d", ip, port);
}

/* ---- the worker ---- */

static const char *
bearer(const struct srv_req *r)
{
	const char *a = srv_header(r, "authorization");

	if (a == NULL || strncasecmp(a, "Bearer ", 7) != 0)
		return NULL;
	a += 7;
	while (*a == ' ')
		a++;
	return *a ? a : NULL;
}

static void
work_cb(uv_work_t *w)
{
	struct http_call *c = w->data;
	struct srv *s = c->srv;
	struct srv_req *req = &c->req;
	struct srv_resp tmp = { 0 };
	const char *tok = bearer(req);

	req->etcd = srv_etcd_take(s);
	if (c->route->flags & SRV_ANON) {
		/* a token on an anonymous route: who, if it is good */
		if (tok != NULL && s->authenticate != NULL &&
		    s->authenticate(s, req, tok, &c->who, &tmp) < 0)
			c->who = NULL;
		srv_resp_release(&tmp);
	} else if (tok == NULL) {
		srv_resp_error(&c->resp, 401, "unauthorized", "log in with "
		    "'leura login', or send Authorization: Bearer TOKEN",
		    "%s %s needs authentication", c->method, c->route->pattern);
	} else if (s->authenticate == NULL) {
		srv_resp_error(&c->resp, 401, "unauthorized", NULL,
		    "this server has no authentication configured");
	} else if (s->authenticate(s, req, tok, &c->who, &c->resp) < 0) {
		c->who = NULL;
		if (c->resp.status == 0)
			srv_resp_error(&c->resp, 401, "unauthorized", NULL,
			    "invalid token");
	}
	req->who = c->who;
	if (c->resp.status == 0)
		c->route->h(req, &c->resp);
	if (c->resp.status == 0)
		srv_resp_error(&c->resp, 500, "internal", NULL,
		    "the handler of %s %s gave no answer", c->method,
		    c->route->pattern);
	srv_audit(req, &c->resp);
	srv_etcd_give(s, req->etcd);
	req->etcd = NULL;
}

static double
elapsed(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) +
	    (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* The answer is ready: metrics, and a debug line (-v) per request. */
static void
answered(struct http_call *c)
{
	double t = elapsed(&c->t0);

	srv_metrics_observe(c->route ? c->route->pattern : "other",
	    c->method, c->resp.status, t);
	lr_log_debug("%s %s %s %d %.1fms request %s user %s", c->req.client,
	    c->method, c->route ? c->route->pattern : "-", c->resp.status,
	    t * 1e3, c->req.request_id,
	    c->who != NULL ? c->who->user : "-");
}

static void
after_work(uv_work_t *w, int status)
{
	struct http_call *c = w->data;

	answered(c);
	if (c->stream != NULL) {
		pthread_mutex_lock(&c->stream->mu);
		c->stream->ended = true;
		pthread_mutex_unlock(&c->stream->mu);
		c->streaming = true;
	}
	if (c->conn == NULL) {
		call_free(c);
	} else if (c->stream != NULL && c->stream->gone) {
		/* its reader left, or stalled (srv_resp_stream_write) */
		c->state = CALL_WRITING;
		lws_set_timeout(c->conn->wsi, PENDING_TIMEOUT_USER_OK,
		    LWS_TO_KILL_ASYNC);
	} else {
		c->state = CALL_WRITING;
		lws_callback_on_writable(c->conn->wsi);
	}
}

/* ---- streamed answers ---- */

static struct http_call *
call_of(struct srv_req *req)
{
	return (struct http_call *)(void *)((char *)req -
	    offsetof(struct http_call, req));
}

/* Ask the loop to write c (any thread). */
static void
stream_wake(struct http_call *c)
{
	struct srv_core *k = c->srv->core;

	pthread_mutex_lock(&k->wake_mu);
	if (!c->wake_queued) {
		c->wake_queued = true;
		c->wake_next = k->wake_list;
		k->wake_list = c;
	}
	pthread_mutex_unlock(&k->wake_mu);
	uv_async_send(&k->wake);
}

/* The loop: the calls that have something to write. */
static void
wake_cb(uv_async_t *a)
{
	struct srv *s = a->data;
	struct srv_core *k = s->core;
	struct http_call *c, *next;

	pthread_mutex_lock(&k->wake_mu);
	c = k->wake_list;
	k->wake_list = NULL;
	for (next = c; next != NULL; next = next->wake_next)
		next->wake_queued = false;
	pthread_mutex_unlock(&k->wake_mu);
	for (; c != NULL; c = next) {
		next = c->wake_next;
		c->streaming = true;
		if (!c->in_streams) {
			c->in_streams = true;
			c->s_prev = NULL;
			c->s_next = k->streams;
			if (k->streams != NULL)
				k->streams->s_prev = c;
			k->streams = c;
		}
		if (c->conn != NULL)
			lws_callback_on_writable(c->conn->wsi);
	}
}

/*
 * Every second, on the loop: a stream whose client closed its end.  lws
 * reads nothing while an answer is on its way, so a follower that left
 * a quiet step would hold its worker until the step ends: a peek at the
 * socket sees the end of file (plain HTTP; over TLS the close_notify
 * record stays unread and the next write notices instead), and lws is
 * told to close, which marks the stream gone.
 */
static void
stream_timer_cb(uv_timer_t *t)
{
	struct srv *s = t->data;
	struct http_call *c;
	char b;
	ssize_t r;
	int fd;

	for (c = s->core->streams; c != NULL; c = c->s_next) {
		if (c->conn == NULL || c->state != CALL_WORKING)
			continue;
		if ((fd = lws_get_socket_fd(c->conn->wsi)) < 0)
			continue;
		r = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
		if (r == 0 || (r < 0 && errno != EAGAIN &&
		    errno != EWOULDBLOCK && errno != EINTR)) {
			pthread_mutex_lock(&c->stream->mu);
			c->stream->gone = true;
			pthread_cond_broadcast(&c->stream->cv);
			pthread_mutex_unlock(&c->stream->mu);
			lws_set_timeout(c->conn->wsi, PENDING_TIMEOUT_USER_OK,
			    LWS_TO_KILL_ASYNC);
		}
	}
}

void
srv_resp_stream_begin(struct srv_req *req, struct srv_resp *resp,
    const char *ctype)
{
	struct http_call *c = call_of(req);
	struct http_stream *st;

	if (c->stream != NULL)
		return;
	st = lr_xcalloc(1, sizeof(*st));	/* c's: call_free */
	pthread_mutex_init(&st->mu, NULL);
	pthread_cond_init(&st->cv, NULL);
	resp->status = 200;
	resp->content_type = ctype;
	c->stream = st;
	stream_wake(c);
}

bool
srv_resp_stream_gone(struct srv_req *req)
{
	struct http_call *c = call_of(req);
	bool gone;

	if (c->stream == NULL)
		return true;
	pthread_mutex_lock(&c->stream->mu);
	gone = c->stream->gone || c->srv->core->stopping;
	pthread_mutex_unlock(&c->stream->mu);
	return gone;
}

int
srv_resp_stream_write(struct srv_req *req, const void *p, size_t n)
{
	struct http_call *c = call_of(req);
	struct http_stream *st = c->stream;

	if (st == NULL)
		return -1;
	if (n == 0)
		return srv_resp_stream_gone(req) ? -1 : 0;
	pthread_mutex_lock(&st->mu);
	while (!st->gone && st->q.len >= STREAM_QMAX) {
		struct timespec dl;
		size_t before = st->q.len;

		/*
		 * A reader that takes nothing for STREAM_STALL_S is taken for
		 * gone: it would hold this worker (and, a few of them, every
		 * worker) for as long as it liked
		 */
		clock_gettime(CLOCK_REALTIME, &dl);
		dl.tv_sec += STREAM_STALL_S;
		if (pthread_cond_timedwait(&st->cv, &st->mu, &dl) ==
		    ETIMEDOUT && st->q.len >= before) {
			st->gone = true;
			lr_log_info("a streamed answer's reader took nothing "
			    "for %d s: it is ended", STREAM_STALL_S);
		}
	}
	if (st->gone) {
		pthread_mutex_unlock(&st->mu);
		return -1;
	}
	lr_buf_add(&st->q, p, n);
	pthread_mutex_unlock(&st->mu);
	stream_wake(c);
	return 0;
}

/* ---- answering ---- */

/* Answer from the loop without a worker (the call's resp is set). */
static void
answer_now(struct http_call *c)
{
	answered(c);
	c->state = CALL_WRITING;
	lws_callback_on_writable(c->conn->wsi);
}

static void
dispatch(struct http_call *c)
{
	if (c->route == NULL) {
		answer_now(c);
		return;
	}
	c->req.body = c->body.s != NULL ? c->body.s : "";
	c->req.body_len = c->body.len;
	if (c->route->flags & SRV_LOOP) {
		c->route->h(&c->req, &c->resp);
		answer_now(c);
		return;
	}
	c->state = CALL_WORKING;
	c->work.data = c;
	if (uv_queue_work(c->srv->loop, &c->work, work_cb, after_work) < 0) {
		srv_resp_error(&c->resp, 503, "unavailable", NULL,
		    "the server cannot take work now");
		c->route = NULL;
		answer_now(c);
	}
}

static int
add_hdr(struct lws *wsi, const char *name, const char *value,
    unsigned char **p, unsigned char *end)
{
	char n[64];

	snprintf(n, sizeof(n), "%s:", name);
	return lws_add_http_header_by_name(wsi, (const unsigned char *)n,
	    (const unsigned char *)value, (int)strlen(value), p, end);
}

/*
 * Content-Length: what lws then counts down as the body goes out; for
 * HEAD, the GET's length as a plain header (lws would wait for the body).
 */
static int
content_length(struct lws *wsi, struct http_call *c, unsigned char **p,
    unsigned char *end)
{
	char n[24];

	if (c->stream != NULL)
		return add_hdr(wsi, "transfer-encoding", "chunked", p, end);
	if (!c->head)
		return lws_add_http_header_content_length(wsi,
		    c->resp.body_len, p, end);
	snprintf(n, sizeof(n), "%zu", c->resp.body_len);
	return add_hdr(wsi, "content-length", n, p, end);
}

static int
write_head(struct lws *wsi, struct http_call *c)
{
	unsigned char buf[LWS_PRE + HEAD_MAX];
	unsigned char *start = buf + LWS_PRE, *p = start;
	unsigned char *end = buf + sizeof(buf) - 1;
	struct srv_resp *r = &c->resp;
	size_t i;

	if (lws_add_http_header_status(wsi, (unsigned)r->status, &p, end) ||
	    lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
	    (const unsigned char *)(r->content_type ? r->content_type :
	    "application/json"), (int)strlen(r->content_type ?
	    r->content_type : "application/json"), &p, end) ||
	    content_length(wsi, c, &p, end) ||
	    add_hdr(wsi, "cache-control", "no-store", &p, end) ||
	    add_hdr(wsi, "x-content-type-options", "nosniff", &p, end) ||
	    add_hdr(wsi, "x-request-id", c->req.request_id, &p, end))
		return -1;
	if (c->allow[0] && add_hdr(wsi, "allow", c->allow, &p, end))
		return -1;
	if (c->close && add_hdr(wsi, "connection", "close", &p, end))
		return -1;
	for (i = 0; i < r->nheaders; i++)
		if (add_hdr(wsi, r->headers[i].name, r->headers[i].value, &p,
		    end))
			return -1;
	if (lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	c->head_sent = true;
	return 0;
}

/* The transaction is over: keep the connection (0) or close it (-1). */
static int
finish(struct http_conn *hc, struct lws *wsi)
{
	struct http_call *c = hc->call;
	bool close = c->close || hc->srv->core->stopping;

	hc->call = NULL;
	call_free(c);
	if (close)
		return -1;
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* A streamed answer: the head, then what is queued as one chunk. */
static int
stream_writeable(struct http_conn *hc, struct lws *wsi)
{
	struct http_call *c = hc->call;
	struct http_stream *st = c->stream;
	struct lr_buf q = LR_BUF_INIT;
	unsigned char *buf;
	char len[24];
	size_t hn, n;
	bool ended;
	int rc;

	/*
	 * lws gives a request's handler --request-timeout to answer (its
	 * PENDING_TIMEOUT_HOLDING_AH): a stream lasts as long as its source
	 */
	lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
	if (!c->head_sent) {
		c->close = true;
		if (write_head(wsi, c) < 0) {
			lr_log_warn("%s: cannot write the answer's head",
			    c->req.client);
			return -1;
		}
		lws_callback_on_writable(wsi);
		return 0;
	}
	if (lws_send_pipe_choked(wsi)) {
		lws_callback_on_writable(wsi);
		return 0;
	}
	pthread_mutex_lock(&st->mu);
	q = st->q;			/* taken: the worker's starts over */
	lr_buf_init(&st->q);
	ended = st->ended;
	pthread_cond_broadcast(&st->cv);
	pthread_mutex_unlock(&st->mu);
	if (c->head)
		q.len = 0;
	if (q.len > 0) {
		hn = (size_t)snprintf(len, sizeof(len), "%zx\r\n", q.len);
		n = hn + q.len + 2;
		buf = lr_xmalloc(LWS_PRE + n + 5);	/* freed below */
		memcpy(buf + LWS_PRE, len, hn);
		memcpy(buf + LWS_PRE + hn, q.s, q.len);
		memcpy(buf + LWS_PRE + hn + q.len, "\r\n", 2);
		if (ended) {
			/* the last chunk with the rest */
			memcpy(buf + LWS_PRE + n, "0\r\n\r\n", 5);
			n += 5;
		}
		rc = lws_write(wsi, buf + LWS_PRE, n, ended ?
		    LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP);
		free(buf);
		lr_buf_release(&q);
		if (rc < 0)
			return -1;
		if (ended)
			return finish(hc, wsi);
		return 0;
	}
	lr_buf_release(&q);
	if (!ended)
		return 0;
	buf = lr_xmalloc(LWS_PRE + 5);
	memcpy(buf + LWS_PRE, "0\r\n\r\n", 5);
	rc = lws_write(wsi, buf + LWS_PRE, c->head ? 0 : 5,
	    LWS_WRITE_HTTP_FINAL);
	free(buf);
	if (rc < 0)
		return -1;
	return finish(hc, wsi);
}

static int
on_writeable(struct http_conn *hc, struct lws *wsi)
{
	struct http_call *c = hc->call;
	unsigned char *buf;
	size_t n, total;
	int rc;

	if (c == NULL)
		return 0;
	if (c->stream != NULL && c->streaming)
		return stream_writeable(hc, wsi);
	if (c->state != CALL_WRITING)
		return 0;
	if (!c->head_sent) {
		if (write_head(wsi, c) < 0) {
			lr_log_warn("%s: cannot write the answer's head",
			    c->req.client);
			return -1;
		}
	}
	total = c->head ? 0 : c->resp.body_len;
	if (c->sent == total)
		return finish(hc, wsi);
	n = total - c->sent;
	if (n > WRITE_CHUNK)
		n = WRITE_CHUNK;
	buf = lr_xmalloc(LWS_PRE + n);
	memcpy(buf + LWS_PRE, c->resp.body + c->sent, n);
	rc = lws_write(wsi, buf + LWS_PRE, n, c->sent + n == total ?
	    LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP);
	free(buf);
	if (rc < 0)
		return -1;
	c->sent += n;
	if (c->sent == total)
		return finish(hc, wsi);
	lws_callback_on_writable(wsi);
	return 0;
}

/* ---- the callback ---- */

static void
too_large(struct http_call *c, size_t max)
{
	char hint[96];

	c->route = NULL;
	c->close = true;
	snprintf(hint, sizeof(hint), "send at most %zu bytes (leurad "
	    "--max-body)", max);
	srv_resp_release(&c->resp);
	srv_resp_error(&c->resp, 413, "too_large", hint,
	    "the request body is over the limit");
}

static struct http_call *
call_new(struct srv *s, struct http_conn *hc, struct lws *wsi,
    const char *in, size_t len)
{
	struct http_call *c = lr_xcalloc(1, sizeof(*c));	/* hc's */
	struct srv_req *r = &c->req;
	struct srv_core *k = s->core;
	const char *m = NULL;
	char cl[32];
	size_t i;

	clock_gettime(CLOCK_MONOTONIC, &c->t0);
	c->srv = s;
	c->conn = hc;
	k->inflight++;
	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (lws_hdr_total_length(wsi, methods[i].tok) > 0) {
			m = methods[i].name;
			break;
		}
	snprintf(c->method, sizeof(c->method), "%s", m ? m : "OTHER");
	c->head = m != NULL && strcmp(m, "HEAD") == 0;
	c->path = lr_xstrndup(in ? in : "", in ? len : 0);
	r->srv = s;
	r->method = c->method;
	r->path = c->path;
	r->body = "";
	read_headers(wsi, r);
	read_query(wsi, r);
	read_client(wsi, r);
	srv_request_id(srv_header(r, "x-request-id"), r->request_id);
	if (lws_hdr_copy(wsi, cl, sizeof(cl),
	    WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0)
		c->expect = strtoull(cl, NULL, 10);
	if (k->stopping) {
		c->close = true;
		srv_resp_error(&c->resp, 503, "unavailable", "retry on "
		    "another replica, or once the server is back",
		    "the server is stopping");
		return c;
	}
	if (m == NULL) {
		c->close = true;
		srv_resp_error(&c->resp, 405, "method_not_allowed", NULL,
		    "unsupported method");
		return c;
	}
	if (!srv_path_ok(c->path, in != NULL ? len : 0)) {
		srv_resp_error(&c->resp, 400, "bad_request", NULL,
		    "invalid path");
		return c;
	}
	switch (srv_router_match(s->router, c->method, c->path, &c->route,
	    r->params, &r->nparams, c->allow, sizeof(c->allow))) {
	case SRV_MATCH_OK:
		r->route = c->route->pattern;
		break;
	case SRV_MATCH_NONE:
		srv_resp_error(&c->resp, 404, "not_found", "the API is listed "
		    "at /v1/openapi.yaml", "no route for '%.200s'", c->path);
		c->route = NULL;
		break;
	case SRV_MATCH_METHOD:
		srv_resp_error(&c->resp, 405, "method_not_allowed", NULL,
		    "%s is not allowed on '%.200s' (allowed: %s)", c->method,
		    c->path, c->allow);
		c->route = NULL;
		break;
	}
	if (c->expect > k->opts.max_body) {
		c->route = NULL;
		c->close = true;
		too_large(c, k->opts.max_body);
	}
	return c;
}

static int
http_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
	struct lws_context *ctx = lws_get_context(wsi);
	struct srv *s = ctx != NULL ? lws_context_user(ctx) : NULL;
	struct http_conn *hc = lws_get_opaque_user_data(wsi);
	struct http_call *c;

	switch (reason) {
	case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED:
		if (s->core->nconns >= s->core->opts.max_connections ||
		    s->core->stopping) {
			srv_metrics_inc("leurad_http_connections_refused_total",
			    "");
			return -1;
		}
		hc = lr_xcalloc(1, sizeof(*hc));	/* the wsi's */
		hc->srv = s;
		hc->wsi = wsi;
		lws_set_opaque_user_data(wsi, hc);
		s->core->nconns++;
		return 0;
	case LWS_CALLBACK_WSI_DESTROY:
		if (hc == NULL)
			return 0;
		lws_set_opaque_user_data(wsi, NULL);
		if ((c = hc->call) != NULL) {
			if (c->state == CALL_WORKING) {
				c->conn = NULL;	/* after_work frees it */
				if (c->stream != NULL) {
					pthread_mutex_lock(&c->stream->mu);
					c->stream->gone = true;
					pthread_cond_broadcast(&c->stream->cv);
					pthread_mutex_unlock(&c->stream->mu);
				}
			} else
				call_free(c);
		}
		free(hc);
		s->core->nconns--;
		srv_http_idle_check(s);
		return 0;
	case LWS_CALLBACK_HTTP:
		if (hc == NULL)
			return -1;
		if (hc->call != NULL) {
			lr_log_warn("a second request while one runs");
			return -1;
		}
		hc->call = c = call_new(s, hc, wsi, in, len);
		if (c->close || c->expect == 0) {
			dispatch(c);
			return 0;
		}
		c->state = CALL_READING;
		lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT,
		    (int)s->core->opts.request_timeout);
		return 0;
	case LWS_CALLBACK_HTTP_BODY:
		if (hc == NULL || (c = hc->call) == NULL ||
		    c->state != CALL_READING)
			return 0;
		if (c->body.len + len > s->core->opts.max_body) {
			c->route = NULL;
			c->close = true;
			too_large(c, s->core->opts.max_body);
			lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
			dispatch(c);
			return 0;
		}
		lr_buf_add(&c->body, in, len);
		return 0;
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		if (hc == NULL || (c = hc->call) == NULL ||
		    c->state != CALL_READING)
			return 0;
		lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
		dispatch(c);
		return 0;
	case LWS_CALLBACK_HTTP_WRITEABLE:
		if (hc == NULL)
			return 0;
		return on_writeable(hc, wsi);
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
	{ "http", http_cb, 0, 0, 0, NULL, WRITE_CHUNK },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

/* lws's own log lines, at our levels */
static void
lws_log(int level, const char *line)
{
	size_t n = strlen(line);

	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	if (level & LLL_ERR)
		lr_log_warn("lws: %.*s", (int)n, line);
	else
		lr_log_debug("lws: %.*s", (int)n, line);
}

/*
 * Whether *host:port can be bound now, else err set: a clear message, and
 * no half-made lws context (which leaks what the vhost had made).  *host
 * becomes the numeric address it names ("localhost": "127.0.0.1").
 */
static int
check_bind(char **host, int port, struct lr_err *err)
{
	struct addrinfo hints, *ai = NULL;
	char ps[16], num[NI_MAXHOST];
	int fd, one = 1, rc, e = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(ps, sizeof(ps), "%d", port);
	if ((rc = getaddrinfo(*host, ps, &hints, &ai)) != 0) {
		lr_err_set(err, LR_EINVAL, "cannot listen on %s:%d: %s", *host,
		    port, gai_strerror(rc));
		return lr_err_hint(err, "--listen takes an address of this "
		    "machine and a port, e.g. 127.0.0.1:7480");
	}
	if ((fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) < 0)
		e = errno;
	if (fd >= 0)
		close(fd);
	/* lws takes an address or an interface name, not a host name */
	if (e == 0 && getnameinfo(ai->ai_addr, ai->ai_addrlen, num,
	    sizeof(num), NULL, 0, NI_NUMERICHOST) == 0 &&
	    strcmp(num, *host) != 0) {
		free(*host);
		*host = lr_xstrdup(num);
	}
	freeaddrinfo(ai);
	if (e == 0)
		return 0;
	lr_err_set(err, LR_EIO, "cannot listen on %s:%d: %s", *host, port,
	    strerror(e));
	return lr_err_hint(err, "is another leurad (or another server) on "
	    "that port? choose another with --listen");
}

int
srv_http_start(struct srv *s, struct lr_err *err)
{
	struct srv_core *k = s->core;
	struct lws_context_creation_info info;
	static void *loops[1];

	if (check_bind(&k->opts.host, k->opts.port, err) < 0)
		return err->code;
	uv_async_init(s->loop, &k->wake, wake_cb);
	k->wake.data = s;
	k->wake_on = true;
	uv_timer_init(s->loop, &k->stream_timer);
	k->stream_timer.data = s;
	uv_timer_start(&k->stream_timer, stream_timer_cb, 1000, 1000);
	uv_unref((uv_handle_t *)&k->stream_timer);
	k->stream_timer_on = true;
	lws_set_log_level(LLL_ERR | LLL_WARN, lws_log);
	memset(&info, 0, sizeof(info));
	loops[0] = s->loop;
	info.foreign_loops = loops;
	info.options = LWS_SERVER_OPTION_LIBUV;
	info.port = k->opts.port;
	info.iface = k->opts.host;
	info.protocols = protocols;
	info.user = s;
	info.max_http_header_data = (unsigned short)k->opts.max_header;
	info.max_http_header_pool = 64;
	/* the head (timeout_secs_ah_idle) and the body must come in time */
	info.timeout_secs = k->opts.request_timeout;
	info.timeout_secs_ah_idle = k->opts.request_timeout;
	info.keepalive_timeout = 60;
	info.server_string = "leurad";
	info.alpn = "http/1.1";
	if (k->opts.tls_cert != NULL) {
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
		info.ssl_cert_filepath = k->opts.tls_cert;
		info.ssl_private_key_filepath = k->opts.tls_key;
		if (k->opts.tls_ca != NULL) {
			info.ssl_ca_filepath = k->opts.tls_ca;
			info.options |=
			    LWS_SERVER_OPTION_REQUIRE_VALID_OPENSSL_CLIENT_CERT;
		}
	}
	/*
	 * The vhost (the listener) apart: lws_create_context makes a
	 * context even when the default vhost cannot bind its port.
	 */
	info.options |= LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
	k->lws = lws_create_context(&info);
	if (k->lws != NULL && lws_create_vhost(k->lws, &info) == NULL) {
		lws_context_destroy(k->lws);
		k->lws = NULL;
	}
	if (k->lws == NULL) {
		lr_err_set(err, LR_EIO, "cannot listen on %s:%d", k->opts.host,
		    k->opts.port);
		lr_err_hint(err, "is the port in use? are the TLS certificate "
		    "and key readable? (libwebsockets' own message is above)");
		return LR_EIO;
	}
	return 0;
}

void
srv_http_free(struct srv *s)
{
	if (s->core->lws != NULL) {
		lws_context_destroy(s->core->lws);
		s->core->lws = NULL;
	}
	if (s->core->wake_on) {
		s->core->wake_on = false;
		uv_close((uv_handle_t *)&s->core->wake, NULL);
	}
	if (s->core->stream_timer_on) {
		s->core->stream_timer_on = false;
		uv_close((uv_handle_t *)&s->core->stream_timer, NULL);
	}
}

static void
grace_closed(uv_handle_t *h)
{
	struct srv *s = h->data;
	void (*done)(struct srv *) = s->core->stop_done;

	s->core->stop_done = NULL;
	if (done != NULL)
		done(s);
}

/* The stop is complete: nothing in flight, or the grace ran out. */
static void
stop_now(struct srv *s)
{
	struct srv_core *k = s->core;

	if (!k->grace_on)
		return;
	k->grace_on = false;
	uv_timer_stop(&k->grace);
	uv_close((uv_handle_t *)&k->grace, grace_closed);
}

static void
grace_cb(uv_timer_t *t)
{
	struct srv *s = t->data;

	lr_log_warn("stopping with %u request(s) still running",
	    atomic_load(&s->core->inflight));
	stop_now(s);
}

void
srv_http_idle_check(struct srv *s)
{
	if (s->core->stopping && s->core->inflight == 0)
		stop_now(s);
}

void
srv_http_stop(struct srv *s, unsigned grace_ms, void (*done)(struct srv *s))
{
	struct srv_core *k = s->core;

	if (k->stopping)
		return;
	k->stopping = true;
	k->stop_done = done;
	uv_timer_init(s->loop, &k->grace);
	k->grace.data = s;
	k->grace_on = true;
	uv_timer_start(&k->grace, grace_cb, grace_ms, 0);
	srv_http_idle_check(s);
}
