/*
 * The status view (read.h): what etcd says about the fleet, in memory,
 * current through watches on leurad's loop, so that GET /v1/status costs
 * no etcd round trip.
 *
 * The view reads four ranges in one transaction (one revision): P/fleet,
 * P/desired/head up to the end of P/desired/hosts/ (the head and the
 * host documents; file contents are left out), P/observed/ and
 * P/agents/; then watches each from the next revision (a compaction
 * re-lists a range: its keys are replaced).  The loop keeps the raw
 * values by key; every change schedules a build, debounced by 20 ms so
 * that an apply's batches or a burst of reports make one build.  A build
 * runs on a worker (rd_snap_build parses what is new and runs
 * rec_status), one at a time, and its snapshot replaces the current one
 * under a mutex; handlers take a reference and never wait for a build.
 * A reason that says an age ("agent not seen for 5m") is refreshed by a
 * rebuild every 30 s while one is shown.
 *
 * Lost watches resume by themselves (lib/etcd/etcd_uv.h); a watch etcd
 * refuses for good, or a first read that fails, starts over with a fresh
 * read after a back-off (0.5 s doubling to 5 s).
 */
#define LR_LOG_COMPONENT "read"

#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "etcd_uv.h"
#include "keys.h"
#include "leurad.h"
#include "log.h"
#include "read-int.h"
#include "read.h"
#include "xalloc.h"

#define RD_DEBOUNCE_MS	20
#define RD_AGES_MS	30000
#define RD_RETRY_MIN_MS	500
#define RD_RETRY_MAX_MS	5000
#define RD_NRANGES	4

/* ---- a map of key -> value (the loop's) ---- */

struct rd_node {
	struct rd_val	*v;
	struct rd_node	*next;
};

struct rd_map {
	struct rd_node	**b;
	size_t		 nb, n;
};

static size_t
map_hash(const char *k, size_t nb)
{
	size_t h = 14695981039346656037ULL;	/* FNV-1a */

	while (*k)
		h = (h ^ (unsigned char)*k++) * 1099511628211ULL;
	return h & (nb - 1);
}

static void
map_grow(struct rd_map *m)
{
	struct rd_node **old = m->b, *x, *nx;
	size_t i, onb = m->nb;

	m->nb = onb ? onb * 2 : 1024;
	m->b = lr_xcalloc(m->nb, sizeof(*m->b));	/* map_clear */
	for (i = 0; i < onb; i++)
		for (x = old[i]; x != NULL; x = nx) {
			nx = x->next;
			x->next = m->b[map_hash(x->v->key, m->nb)];
			m->b[map_hash(x->v->key, m->nb)] = x;
		}
	free(old);
}

/* Put v (taken), replacing the value of its key. */
static void
map_put(struct rd_map *m, struct rd_val *v)
{
	struct rd_node *x;
	size_t h;

	if (m->n >= m->nb)
		map_grow(m);
	h = map_hash(v->key, m->nb);
	for (x = m->b[h]; x != NULL; x = x->next)
		if (strcmp(x->v->key, v->key) == 0) {
			rd_val_unref(x->v);
			x->v = v;
			return;
		}
	x = lr_xmalloc(sizeof(*x));	/* map_del, map_clear */
	x->v = v;
	x->next = m->b[h];
	m->b[h] = x;
	m->n++;
}

/* Delete the keys k with match(k, arg). */
typedef bool map_match_fn(const char *k, const void *arg);

static void
map_del_if(struct rd_map *m, map_match_fn *match, const void *arg)
{
	struct rd_node **pp, *x;
	size_t i;

	for (i = 0; i < m->nb; i++)
		for (pp = &m->b[i]; (x = *pp) != NULL;) {
			if (!match(x->v->key, arg)) {
				pp = &x->next;
				continue;
			}
			*pp = x->next;
			rd_val_unref(x->v);
			free(x);
			m->n--;
		}
}

static void
map_del(struct rd_map *m, const char *key)
{
	struct rd_node **pp, *x;

	if (m->nb == 0)
		return;
	for (pp = &m->b[map_hash(key, m->nb)]; (x = *pp) != NULL;
	    pp = &x->next)
		if (strcmp(x->v->key, key) == 0) {
			*pp = x->next;
			rd_val_unref(x->v);
			free(x);
			m->n--;
			return;
		}
}

static bool
match_all(const char *k, const void *arg)
{
	(void)k;
	(void)arg;
	return true;
}

static void
map_clear(struct rd_map *m)
{
	map_del_if(m, match_all, NULL);
	free(m->b);
	memset(m, 0, sizeof(*m));
}

/* ---- the view ---- */

struct rd_state;

/* One watched range: [key, end), or the key alone when end is NULL. */
struct rd_range {
	struct rd_state	*st;
	char		*key;		/* owned */
	char		*end;		/* owned; NULL: key alone */
	struct etcd_uv_watch *w;
	bool		 down;		/* a DISCONNECTED was logged */
};

struct rd_state {
	struct srv	*srv;		/* borrowed */
	struct etcd_uv	*eu;
	char		*prefix;
	struct rd_range	 ranges[RD_NRANGES];
	struct rd_map	 map;
	int64_t		 revision;	/* newest revision the view saw */
	bool		 reading;	/* the first read is in flight */
	bool		 building;	/* a build runs on a worker */
	bool		 dirty;		/* changed since the build began */
	bool		 stopping;
	bool		 trim;		/* malloc_trim after the next build */
	long		 retry_ms;
	int		 pending;	/* handles and work not done yet */
	uv_timer_t	 debounce, ages, retry;
	uv_work_t	 work;
	struct rd_val	**job;		/* the build's values (refs) */
	size_t		 njob;
	int64_t		 job_rev;
	long		 job_start;	/* lr_now_ms() */
	struct rd_snap	*job_out;
	pthread_mutex_t	 lock;		/* guards cur */
	struct rd_snap	*cur;
};

static void	read_start(struct rd_state *st);

static bool
in_range(const char *k, const void *arg)
{
	const struct rd_range *r = arg;

	if (r->end == NULL)
		return strcmp(k, r->key) == 0;
	return strcmp(k, r->key) >= 0 && strcmp(k, r->end) < 0;
}

static void
maybe_free(struct rd_state *st)
{
	int i;

	if (--st->pending > 0)
		return;
	for (i = 0; i < RD_NRANGES; i++) {
		free(st->ranges[i].key);
		free(st->ranges[i].end);
	}
	map_clear(&st->map);
	rd_snap_unref(st->cur);
	pthread_mutex_destroy(&st->lock);
	free(st->prefix);
	free(st);
}

static void
closed_cb(uv_handle_t *h)
{
	maybe_free(h->data);
}

/* ---- builds ---- */

static void
build_work(uv_work_t *w)
{
	struct rd_state *st = w->data;

	st->job_out = rd_snap_build(st->prefix, st->job, st->njob,
	    st->job_rev, (int64_t)time(NULL));
}

static void	build_start(struct rd_state *st);

static void
build_after(uv_work_t *w, int status)
{
	struct rd_state *st = w->data;
	struct rd_snap *old;
	size_t i;

	(void)status;
	for (i = 0; i < st->njob; i++)
		rd_val_unref(st->job[i]);
	free(st->job);
	st->job = NULL;
	st->building = false;
	if (st->stopping) {
		rd_snap_unref(st->job_out);
		st->job_out = NULL;
		maybe_free(st);
		return;
	}
	st->pending--;		/* build_start's */
	pthread_mutex_lock(&st->lock);
	old = st->cur;
	st->cur = st->job_out;
	pthread_mutex_unlock(&st->lock);
	st->job_out = NULL;
	lr_log_debug("status view built at revision %lld in %ld ms",
	    (long long)st->cur->revision, lr_now_ms() - st->job_start);
	if (st->trim) {
		/* the first read's answer and documents are gone: give the
		 * pages back */
		malloc_trim(0);
		st->trim = false;
	}
	if (old == NULL)
		lr_log_info("status view ready at revision %lld: %zu hosts, "
		    "%zu services", (long long)st->cur->revision,
		    json_object_size(st->cur->hosts),
		    json_object_size(st->cur->services));
	rd_snap_unref(old);
	if (st->dirty)
		build_start(st);
}

static void
build_start(struct rd_state *st)
{
	struct rd_node *x;
	size_t i, n = 0;
	int rc;

	if (st->building || st->stopping)
		return;
	st->dirty = false;
	st->job = lr_xcalloc(st->map.n + 1, sizeof(*st->job));	/* after */
	for (i = 0; i < st->map.nb; i++)
		for (x = st->map.b[i]; x != NULL; x = x->next)
			st->job[n++] = rd_val_ref(x->v);
	st->njob = n;
	st->job_rev = st->revision;
	st->job_start = lr_now_ms();
	st->work.data = st;
	st->building = true;
	st->pending++;
	if ((rc = uv_queue_work(st->srv->loop, &st->work, build_work,
	    build_after)) < 0) {
		/* only with a bad loop: keep the snapshot we have */
		lr_log_error("cannot build the status view: %s",
		    uv_strerror(rc));
		st->pending--;
		st->building = false;
		for (i = 0; i < n; i++)
			rd_val_unref(st->job[i]);
		free(st->job);
		st->job = NULL;
	}
}

static void
debounce_cb(uv_timer_t *t)
{
	build_start(t->data);
}

/* The view changed: build soon (once for a burst). */
static void
changed(struct rd_state *st)
{
	st->dirty = true;
	if (!st->building && !uv_is_active((uv_handle_t *)&st->debounce))
		uv_timer_start(&st->debounce, debounce_cb, RD_DEBOUNCE_MS, 0);
}

static void
ages_cb(uv_timer_t *t)
{
	struct rd_state *st = t->data;
	bool ages;

	pthread_mutex_lock(&st->lock);
	ages = st->cur != NULL && st->cur->ages;
	pthread_mutex_unlock(&st->lock);
	if (ages)
		changed(st);
}

/* ---- watches ---- */

static void
put_kv(struct rd_state *st, const struct etcd_kv *kv)
{
	map_put(&st->map, rd_val_new(kv->key, kv->value, kv->value_len,
	    kv->mod_revision));
}

static void
watches_stop(struct rd_state *st)
{
	int i;

	for (i = 0; i < RD_NRANGES; i++)
		if (st->ranges[i].w != NULL) {
			etcd_uv_watch_stop(st->ranges[i].w);
			st->ranges[i].w = NULL;
		}
}

static void
retry_cb(uv_timer_t *t)
{
	read_start(t->data);
}

/* Start over with a fresh read after the back-off. */
static void
again(struct rd_state *st)
{
	watches_stop(st);
	st->retry_ms = st->retry_ms ? st->retry_ms * 2 : RD_RETRY_MIN_MS;
	if (st->retry_ms > RD_RETRY_MAX_MS)
		st->retry_ms = RD_RETRY_MAX_MS;
	uv_timer_start(&st->retry, retry_cb, (uint64_t)st->retry_ms, 0);
}

static void
watch_cb(const struct etcd_watch_batch *b, void *arg)
{
	struct rd_range *r = arg;
	struct rd_state *st = r->st;
	size_t i;

	switch (b->kind) {
	case ETCD_WATCH_EVENTS:
		for (i = 0; i < b->nevents; i++) {
			if (b->events[i].type == ETCD_EV_PUT)
				put_kv(st, &b->events[i].kv);
			else
				map_del(&st->map, b->events[i].kv.key);
		}
		break;
	case ETCD_WATCH_RESYNC:
		map_del_if(&st->map, in_range, r);
		for (i = 0; i < b->nkvs; i++)
			put_kv(st, &b->kvs[i]);
		break;
	case ETCD_WATCH_DISCONNECTED:
		if (!r->down)
			lr_log_warn("watch of '%s' lost: %s; the status "
			    "served may lag until it resumes", r->key,
			    b->err->msg);
		r->down = true;
		if (b->err->code == LR_EPERM || b->err->code == LR_EAUTH) {
			again(st);	/* final: stops the watches */
			return;
		}
		return;
	default:
		break;
	}
	if (r->down)
		lr_log_info("watch of '%s' resumed", r->key);
	r->down = false;
	if (b->revision > st->revision)
		st->revision = b->revision;
	if (b->kind != ETCD_WATCH_PROGRESS)
		changed(st);
}

static void
read_cb(int status, const json_t *resp, const struct lr_err *err, void *arg)
{
	struct rd_state *st = arg;
	struct etcd_txn_result r = { 0 };
	struct etcd_watch_req wq = { 0 };
	struct lr_err e2;
	size_t i, j;

	st->reading = false;
	if (st->stopping)
		return;
	lr_err_clear(&e2);
	if (status < 0 || etcd_txn_decode(resp, &r, &e2) < 0 ||
	    r.nops != RD_NRANGES) {
		lr_log_warn("cannot read the fleet's status from etcd: %s; "
		    "retrying", status < 0 ? err->msg : e2.msg[0] ? e2.msg :
		    "unexpected answer");
		etcd_txn_result_release(&r);
		again(st);
		return;
	}
	st->retry_ms = 0;
	map_del_if(&st->map, match_all, NULL);
	for (i = 0; i < r.nops; i++)
		for (j = 0; j < r.ops[i].range.nkvs; j++)
			put_kv(st, &r.ops[i].range.kvs[j]);
	st->revision = r.revision;
	etcd_txn_result_release(&r);
	st->trim = true;
	for (i = 0; i < RD_NRANGES; i++) {
		wq.key = st->ranges[i].key;
		wq.range_end = st->ranges[i].end;
		wq.start_revision = st->revision + 1;
		if (etcd_uv_watch_start(st->eu, &wq, watch_cb, &st->ranges[i],
		    &st->ranges[i].w, &e2) < 0) {
			lr_log_error("cannot watch '%s': %s; reading again",
			    wq.key, e2.msg);
			again(st);
			return;
		}
	}
	changed(st);
}

static void
read_start(struct rd_state *st)
{
	struct etcd_range_req q = { 0 };
	struct etcd_txn t;
	int i, rc;

	if (st->reading || st->stopping)
		return;
	watches_stop(st);
	etcd_txn_init(&t);
	for (i = 0; i < RD_NRANGES; i++) {
		q.key = st->ranges[i].key;
		q.range_end = st->ranges[i].end;
		etcd_txn_range(&t, ETCD_THEN, &q);
	}
	if ((rc = etcd_uv_txn(st->eu, &t, read_cb, st)) < 0) {
		lr_log_error("cannot read the fleet's status: error %d", rc);
		again(st);
	} else
		st->reading = true;
	etcd_txn_release(&t);
}

/* ---- the module's face ---- */

static void
metrics_fn(struct srv *s, struct lr_buf *out, void *arg)
{
	struct rd_snap *snap = rd_view_snap(s);

	(void)arg;
	rd_snap_metrics(snap, out);
	rd_snap_unref(snap);
}

struct rd_snap *
rd_view_snap(struct srv *s)
{
	struct rd_state *st = s->read;
	struct rd_snap *snap = NULL;

	if (st == NULL)
		return NULL;
	pthread_mutex_lock(&st->lock);
	if (st->cur != NULL)
		snap = rd_snap_ref(st->cur);
	pthread_mutex_unlock(&st->lock);
	return snap;
}

bool
rd_ready(struct srv *s)
{
	struct rd_snap *snap = rd_view_snap(s);

	rd_snap_unref(snap);
	return snap != NULL;
}

int
rd_init(struct srv *s, struct lr_err *err)
{
	struct etcd_config cfg = { 0 };
	struct rd_state *st;
	char *docs;
	int rc, i;

	st = lr_xcalloc(1, sizeof(*st));	/* rd_free, maybe_free */
	st->srv = s;
	st->prefix = lr_xstrdup(s->prefix);
	pthread_mutex_init(&st->lock, NULL);
	st->ranges[0].key = proto_key_fleet(s->prefix);
	st->ranges[1].key = proto_key_head(s->prefix);
	docs = proto_key_docs_dir(s->prefix);
	st->ranges[1].end = etcd_prefix_end(docs);
	free(docs);
	st->ranges[2].key = proto_key_observed_dir(s->prefix);
	st->ranges[2].end = etcd_prefix_end(st->ranges[2].key);
	st->ranges[3].key = proto_key_agents_dir(s->prefix);
	st->ranges[3].end = etcd_prefix_end(st->ranges[3].key);
	for (i = 0; i < RD_NRANGES; i++)
		st->ranges[i].st = st;
	cfg.endpoints = s->conn.endpoints;
	cfg.user = s->conn.user;
	cfg.password = s->conn.password;
	cfg.cacert = s->conn.cacert;
	cfg.cert = s->conn.cert;
	cfg.key = s->conn.key;
	if ((rc = etcd_uv_new(s->loop, &cfg, &st->eu, err)) < 0) {
		st->pending = 1;
		maybe_free(st);
		return rc;
	}
	uv_timer_init(s->loop, &st->debounce);
	uv_timer_init(s->loop, &st->ages);
	uv_timer_init(s->loop, &st->retry);
	st->debounce.data = st->ages.data = st->retry.data = st;
	st->pending = 4;	/* three timers, and rd_free */
	uv_timer_start(&st->ages, ages_cb, RD_AGES_MS, RD_AGES_MS);
	s->read = st;
	srv_metrics_add(s, metrics_fn, NULL);
	read_start(st);
	return 0;
}

void
rd_free(struct srv *s)
{
	struct rd_state *st = s->read;

	if (st == NULL)
		return;
	st->stopping = true;
	watches_stop(st);
	etcd_uv_free(st->eu);		/* read_cb runs, canceled */
	st->eu = NULL;
	uv_close((uv_handle_t *)&st->debounce, closed_cb);
	uv_close((uv_handle_t *)&st->ages, closed_cb);
	uv_close((uv_handle_t *)&st->retry, closed_cb);
	s->read = NULL;
	maybe_free(st);
}
