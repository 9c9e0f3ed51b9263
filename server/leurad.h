/*
 * The daemon's state (struct srv), shared by the core (main.c, http.c,
 * router.c, metrics.c, audit.c) and the modules that serve routes (auth,
 * read, source, leader).  One per process; made by main.c before the loop
 * runs, freed after it stops.  Fields marked "loop" are touched only on
 * the loop thread; the rest are set before the loop runs and read-only
 * after, or guarded as stated.
 */
#ifndef LEURAD_H
#define LEURAD_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include <jansson.h>

#include "conn.h"
#include "srv.h"

struct lr_buf;
struct lr_sign_key;
struct srv_router;
struct auth_state;
struct srv_source;
struct srv_leader;
struct srv_core;
struct rd_state;
struct lg_state;
struct run_state;

/*
 * A metrics source: appends Prometheus text (# HELP, # TYPE and samples)
 * to out; called on a worker thread for each scrape of /metrics.
 */
typedef void srv_metrics_fn(struct srv *s, struct lr_buf *out, void *arg);

struct srv {
	uv_loop_t	*loop;			/* borrowed */
	struct lr_conn	 conn;			/* etcd settings (owned) */
	const char	*prefix;		/* conn.prefix */
	char		*data_dir;		/* owned; 0700 */
	/*
	 * How long a finalised run's record, results and logs are kept
	 * (--log-retention; run_engine.c and logs_store.c enforce it)
	 */
	long		 retention_s;
	/* --admin-password-file: auth_init's first admin (owned; NULL) */
	char		*admin_password_file;
	struct srv_router *router;		/* owned */
	struct lr_sign_key *sign_key;		/* owned; NULL: unsigned */
	/*
	 * A request's authentication: fills *out (owned by the core,
	 * released with the request) from the bearer token, or answers
	 * 401 and returns -1.  Set by auth_init; NULL: every route without
	 * SRV_ANON answers 401.
	 */
	int		(*authenticate)(struct srv *s, struct srv_req *req,
			    const char *token, struct auth_principal **out,
			    struct srv_resp *resp);
	void		(*principal_free)(struct auth_principal *p);
	/* false until the modules' start-up reads are done (/readyz) */
	bool		(*ready)(struct srv *s);
	struct auth_state *auth;		/* auth.c */
	struct srv_source *source;		/* source.c */
	struct srv_leader *leader;		/* leader.c */
	struct rd_state	*read;			/* read_view.c */
	struct lg_state	*logs;			/* logs_store.c */
	struct run_state *run;			/* run_engine.c */
	char		 id[64];		/* this replica: host:pid:random */
	struct srv_core	*core;			/* the core's own (srv-int.h) */
};

/* Borrow an etcd handle from the pool (blocks while all are in use)... */
struct etcd *srv_etcd_take(struct srv *s);
/* ... and give it back. */
void	srv_etcd_give(struct srv *s, struct etcd *e);

/*
 * Record an event of leurad's own (not a request's: the run engine's
 * state changes, cron's firings) under P/events/ (audit.c): {"time",
 * "actor" (NULL: "leurad"), "action" ("run.started"), "resource"
 * ("tasks/drain"), "outcome" (NULL: "ok"), "detail" (stolen; may be
 * NULL)}.  0, or the LR_E* of the put (logged).  Blocking: any thread
 * with an etcd handle of its own.
 */
int	srv_event_put(struct srv *s, struct etcd *e, const char *actor,
	    const char *action, const char *resource, const char *outcome,
	    json_t *detail);

/* Register a metrics source (before the loop runs). */
void	srv_metrics_add(struct srv *s, srv_metrics_fn *fn, void *arg);
/* Count one event of a counter family with one label set (thread-safe). */
void	srv_metrics_inc(const char *family, const char *labels);

#endif
