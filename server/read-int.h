/*
 * The read module's inside (read.h is its face): the values the view
 * keeps, the snapshot handlers share, and the pure functions between
 * them, unit-tested in server/tests/test_read.c.
 *
 * Threads: an rd_val is made and dropped on the loop; its parsed form is
 * written only by the one snapshot build running at a time (read_view.c
 * runs builds one after the other, through the loop, which orders them).
 * An rd_snap is immutable once built; its reference count is atomic and
 * any thread may hold one.
 */
#ifndef READ_INT_H
#define READ_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "err.h"

struct lr_buf;

/* One etcd key's value, as the view holds it. */
struct rd_val {
	atomic_int	 refs;
	char		*key;		/* owned */
	int64_t		 mod_rev;
	char		*raw;		/* owned; freed once parsed */
	size_t		 len;
	json_t		*parsed;	/* what the build keeps; NULL: not yet */
	bool		 bad;		/* not JSON: ignored */
};

/* A new value: key and len bytes at raw copied; one reference. */
struct rd_val *rd_val_new(const char *key, const char *raw, size_t len,
	    int64_t mod_rev);
struct rd_val *rd_val_ref(struct rd_val *v);
void	rd_val_unref(struct rd_val *v);		/* NULL is fine */

/* The status states, in rec_status's order of worseness. */
#define RD_NSTATES 5
extern const char *const rd_state_names[RD_NSTATES];

/* A filtered body of a snapshot, for the callers who may read bits. */
struct rd_body {
	unsigned char	*bits;		/* owned; rd_snap_nbits bits */
	char		*body;		/* owned */
	size_t		 len;
};

#define RD_BODIES 16	/* filtered bodies kept per snapshot */

/* What GET /v1/status serves, built once per change of the view. */
struct rd_snap {
	atomic_int	 refs;
	int64_t		 revision;	/* etcd revision the view had seen */
	int64_t		 built;		/* Unix seconds */
	json_t		*fleet;		/* name string, or null */
	json_t		*head;		/* P/desired/head, or NULL */
	int64_t		 head_rev;	/* its mod_revision, 0: none */
	int64_t		 generation;
	/* rec_status: {host: {...}}, {service: {...}} */
	json_t		*hosts;
	json_t		*services;
	/* {host: [services]} and the ETags: {name: mod_revision} */
	json_t		*host_services;
	json_t		*host_etag;
	json_t		*service_etag;
	/* the whole GET /v1/status body, for callers who may read all */
	char		*body;
	size_t		 body_len;
	/* gauges */
	size_t		 host_states[RD_NSTATES];
	size_t		 service_states[RD_NSTATES];
	size_t		 agents_alive;
	size_t		 steps_failed;
	/* a reason says an age ("not seen for 5m"): rebuild now and then */
	bool		 ages;
	/*
	 * Bodies for callers who may read part of it, by what they may
	 * read: added (never removed) under lock while the snapshot lives.
	 */
	pthread_mutex_t	 lock;
	struct rd_body	 bodies[RD_BODIES];
	size_t		 nbodies;
};

/*
 * Build a snapshot from the values of the view (n of them, any order):
 * P/fleet, P/desired/head, P/desired/hosts/..., P/observed/<h> and
 * P/agents/<h> under prefix, at revision, at now (Unix seconds).  Parses
 * the values not parsed yet (keeping of a document only what status
 * needs).  Never fails: a value that is not JSON is left out (logged).
 * New snapshot, one reference.
 */
struct rd_snap *rd_snap_build(const char *prefix, struct rd_val *const *vals,
	    size_t n, int64_t revision, int64_t now);
struct rd_snap *rd_snap_ref(struct rd_snap *s);
void	rd_snap_unref(struct rd_snap *s);	/* NULL is fine */

/*
 * The GET /v1/status body of s with only the hosts and services for
 * which may(kind, name, arg) is true (kind "hosts" or "services"; may
 * NULL: all of them).  The fleet's own fields are null (0) when none is
 * and may("fleet", "", arg) is false.  New reference.
 */
typedef bool rd_may_fn(const char *kind, const char *name, void *arg);
json_t	*rd_snap_status(const struct rd_snap *s, rd_may_fn *may, void *arg);
/*
 * What a caller may read of s, as bits: one per host, then one per
 * service (in s's order), then "fleet"; rd_snap_nbits(s) of them, in a
 * new array (free it).
 */
size_t	 rd_snap_nbits(const struct rd_snap *s);
unsigned char *rd_snap_bits(const struct rd_snap *s, rd_may_fn *may,
	    void *arg);
/*
 * The serialized body for bits (rd_snap_bits): s->body when every host
 * and service is readable, else the one built for the same bits before
 * (kept in s) or a new one.  Borrowed while s is referenced; when s
 * keeps RD_BODIES already, *owned is set to it (the caller frees it).
 * Any thread.
 */
const char *rd_snap_body(struct rd_snap *s, const unsigned char *bits,
	    size_t *len, char **owned);
/*
 * The body of one host or service (kind as above); NULL: no such one.
 * A service lists only the member hosts may("hosts", host, arg) lets
 * read (may NULL: all), as GET /v1/status does.
 */
json_t	*rd_snap_one(const struct rd_snap *s, const char *kind,
	    const char *name, rd_may_fn *may, void *arg, int64_t *etag);
/*
 * The view's current snapshot (read_view.c): a new reference, NULL
 * before the first build.  Any thread.
 */
struct srv;
struct rd_snap *rd_view_snap(struct srv *s);
/* The fleet's gauges in Prometheus text (s may be NULL: none yet). */
void	rd_snap_metrics(const struct rd_snap *s, struct lr_buf *out);

/* ---- events (read_events.c) ---- */

struct srv_req;
struct srv_resp;
/* GET /v1/events */
void	rd_events_get(struct srv_req *req, struct srv_resp *resp);

/*
 * ?since= as the least event time in Unix nanoseconds: a duration before
 * now_ns ("24h", "90m", "1h30m": lib/clock.h) or an RFC 3339 time
 * ("2026-12-07T19:00:00Z", with fractions and a numeric offset).
 * 0, or LR_EINVAL with err naming the value and the forms.
 */
int	rd_since_parse(const char *s, int64_t now_ns, int64_t *out,
	    struct lr_err *err);
/* Whether id is an event key's last part: 19 digits, '-', 8 hex. */
bool	rd_event_id_valid(const char *id);
/*
 * Whether an event (its resource and action, "METHOD /route") is about
 * identity, which needs admin on its resource rather than read: a
 * resource under users/, groups/, grants/ or tokens/, or an action of
 * those routes, of login, logout or explain (a grant's event names the
 * resource granted on).
 */
bool	rd_event_needs_admin(const char *resource, const char *action);

#endif
