/*
 * Private to the etcd client's engine (etcd_uv.h): the types and helpers
 * its three files share.  etcd_uv.c has the client, curl on libuv,
 * authentication and calls; etcd_uv_watch.c the watches; etcd_uv_lease.c
 * the kept-alive leases.  Included by those three files only.
 */
#ifndef LR_ETCD_UV_INT_H
#define LR_ETCD_UV_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <jansson.h>
#include <uv.h>

#include "buf.h"
#include "err.h"
#include "etcd-int.h"
#include "etcd_uv.h"
#include "prng.h"

#define BACKOFF_MIN_MS	100
#define BACKOFF_MAX_MS	5000

/* ---- intrusive lists -------------------------------------------------- */

struct lnode {
	struct lnode *prev, *next;
};

#define CONTAINER(p, type, field) \
	((type *)(void *)((char *)(p) - offsetof(type, field)))

static inline void
l_init(struct lnode *n)
{
	n->prev = n->next = n;
}

static inline bool
l_empty(const struct lnode *h)
{
	return h->next == h;
}

static inline void
l_push(struct lnode *h, struct lnode *n)
{
	n->prev = h->prev;
	n->next = h;
	h->prev->next = n;
	h->prev = n;
}

/* Unlink n (a no-op when it is not linked). */
static inline void
l_del(struct lnode *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	l_init(n);
}

static inline struct lnode *
l_pop(struct lnode *h)
{
	struct lnode *n;

	if (l_empty(h))
		return NULL;
	n = h->next;
	l_del(n);
	return n;
}

/* ---- types ------------------------------------------------------------ */

enum xfer_kind { XF_CALL, XF_WATCH };

/* One curl transfer: the part calls and watch streams share. */
struct xfer {
	enum xfer_kind kind;
	struct lnode ready;	/* in eu->ready: finished, or watch data */
	CURL	*h;
	struct curl_slist *hdrs;
	char	 errbuf[CURL_ERROR_SIZE];
	bool	 in_multi;
	bool	 done;		/* the transfer ended with rc */
	CURLcode rc;
	size_t	 ep;		/* endpoint index in use */
	unsigned token_gen;	/* eu->token_gen when it was sent */
};

/* Something waiting for a token (a call or a watch). */
struct waiter {
	struct lnode link;	/* in eu->auth_wait */
	void	(*ready)(struct waiter *, int status, const struct lr_err *);
};

struct call {
	struct xfer x;		/* first: CURLOPT_PRIVATE points here */
	struct waiter w;
	struct etcd_uv *eu;
	struct lnode link;	/* in eu->calls */
	char	*path, *body, *what;
	size_t	 bodylen;
	unsigned flags;		/* ETCD_REQ_* */
	bool	 internal;	/* ours: no callback when canceled */
	etcd_uv_cb *cb;
	void	*arg;
	struct lr_buf resp;
	struct lr_buf tried;	/* endpoints that failed, for the message */
	size_t	 ntried;
	bool	 reauthed;
	bool	 has_result;	/* finished before any I/O: status, err */
	int	 status;
	struct lr_err err;
};

struct sock {
	uv_poll_t poll;
	struct etcd_uv *eu;
	curl_socket_t fd;
	struct lnode link;	/* in eu->socks */
};

struct etcd_uv {
	uv_loop_t *loop;
	CURLM	*multi;
	uv_timer_t curl_timer;	/* CURLMOPT_TIMERFUNCTION */
	uv_idle_t curl_now;	/* ... when it says 0: the next iteration */
	uv_timer_t defer;	/* runs pump() for results known early */
	struct etcd_conf conf;
	unsigned token_gen;	/* bumped whenever the token changes */
	struct call *auth_call;
	struct lnode auth_wait;	/* waiters for a token */
	struct lnode calls;	/* every live call */
	struct lnode ready;	/* xfers to look at in pump() */
	struct lnode watches;
	struct lnode leases;
	struct lnode socks;
	int	 refs;		/* uv handles not closed yet */
	bool	 freeing;
	bool	 auth_bare;	/* etcd_uv_auth_errors_bare */
	uint64_t rng;
};

enum wstate {
	W_IDLE,		/* back-off timer running */
	W_AUTH,		/* waiting for a token */
	W_STREAM,	/* stream open (or opening) */
	W_RANGE,	/* re-listing after compaction */
	W_DEAD		/* refused for good; only stop is left */
};

struct etcd_uv_watch {
	struct xfer x;		/* first: CURLOPT_PRIVATE points here */
	struct waiter w;
	struct etcd_uv *eu;
	struct lnode link;	/* in eu->watches */
	struct etcd_watch_req req;	/* req.key is key, .range_end end */
	char	*key, *end, *what;
	etcd_uv_watch_cb *cb;
	void	*arg;
	enum wstate state;
	int64_t	 next_rev;	/* where the next stream starts; 0: now */
	struct lr_buf raw;	/* bytes received, not yet split */
	struct lr_buf acc;	/* unfinished line */
	struct etcd_events ev;
	uv_timer_t timer;	/* back-off */
	unsigned backoff_ms;
	struct etcd_watch_retry retry;
	unsigned fails;		/* per_round: failures since "created" */
	bool	 resync;	/* re-list before watching again */
	int64_t	 compact_rev;
	bool	 reauthed;	/* fresh token already tried */
	bool	 created;	/* this stream said "created" */
	bool	 stopped;
	struct call *range;	/* the resync listing in flight */
	struct lr_err fail;	/* set by watch_line on WL_FAIL */
};

struct etcd_uv_lease {
	struct etcd_uv *eu;
	struct lnode link;	/* in eu->leases */
	int64_t	 ttl_s;
	int64_t	 id;		/* 0: none */
	etcd_uv_lease_cb *cb;
	void	*arg;
	uv_timer_t timer;	/* next keep-alive or retry */
	struct call *call;	/* grant or keep-alive in flight */
	uint64_t last_ok;	/* uv_now() of the last grant/keep-alive */
	unsigned backoff_ms;
	bool	 lost;		/* cb(0) delivered, no lease since */
	bool	 stopped;
};

/* ---- small helpers ---------------------------------------------------- */

static inline unsigned
jitter(struct etcd_uv *eu, unsigned ms)
{
	/* [ms/2, ms]: retries of many clients spread out */
	return ms / 2 + (unsigned)(lr_splitmix64(&eu->rng) % (ms / 2 + 1));
}

static inline const char *
ep_url(const struct etcd_uv *eu, size_t ep)
{
	return eu->conf.endpoints[ep];
}

/* ---- etcd_uv.c: the client, curl on libuv, authentication, calls ------ */

/* A uv handle of eu closed: free a freeing client after its last one. */
void	etcd_uv_unref(struct etcd_uv *eu);
/* Take x out of the multi handle and of the ready queue. */
void	etcd_uv_xfer_detach(struct etcd_uv *eu, struct xfer *x);
/* Prepare x->h for one request to endpoint x->ep; 0 or LR_ENOMEM. */
int	etcd_uv_xfer_setup(struct etcd_uv *eu, struct xfer *x,
	    const char *path, const char *body, size_t len, unsigned flags);
/* The token used by x was refused: forget it unless renewed since. */
void	etcd_uv_forget_token(struct etcd_uv *eu, const struct xfer *x);
/* Run wt->ready once there is a token (authenticating if nobody is). */
void	etcd_uv_auth_wait(struct etcd_uv *eu, struct waiter *wt);
/*
 * A call, linked in eu->calls but not sent: takes body (NULL sends "{}"),
 * copies path and what; internal: ours, no callback when canceled.  Send
 * it with etcd_uv_call_start; it is freed when it finished (after cb, if
 * any) or by etcd_uv_call_cancel.
 */
struct call *etcd_uv_call_new(struct etcd_uv *eu, const char *path,
	    json_t *body, const char *what, unsigned flags, bool internal,
	    etcd_uv_cb *cb, void *arg);
/* Send c, after authenticating when it needs a token. */
void	etcd_uv_call_start(struct call *c);
/* Drop c without its callback (its owner is gone). */
void	etcd_uv_call_cancel(struct call *c);

/* ---- etcd_uv_watch.c -------------------------------------------------- */

/* pump() took w's transfer off the ready queue: data or its end. */
void	etcd_uv_watch_process(struct etcd_uv_watch *w);

#endif
