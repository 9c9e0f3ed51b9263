/*
 * Task runs on the agent (runs.h): dispatches in, claims, steps, output
 * chunks and results out, on the sync side's etcd client.
 *
 * Each dispatch key this agent has seen is an entry (struct rstep) until
 * the key is deleted; the entry goes through
 *
 *   QUEUED  waiting for one of the `parallel` slots
 *   CLAIM   the claim's transaction: "create_revision == 0 on the claim
 *           and on the result" puts the claim on the heartbeat's lease;
 *           else it reads the claim, which may be our own (a transaction
 *           sent twice, etcd_uv.h): its lease is ours
 *   FETCH   contents of file and use steps, from P/desired/files/ into
 *           the state dir (agent_store_file_put checks their SHA-256)
 *   RUN     the marker is in the state dir (fsync), the step runs
 *           (step.h); its output goes to the chunks as it comes, one
 *           request (up to AGENT_RUNS_BATCH chunks) at a time per step,
 *           flushed every AGENT_RUNS_FLUSH_MS
 *   FLUSH   the step ended: the last chunks go
 *   RESULT  the result's transaction: created if absent, and the claim
 *           deleted (in both branches); the marker stays, so that the
 *           step is never run again, even if its result is deleted and
 *           its signed dispatch put back (a replay), until its run is
 *           older than AGENT_RUNS_KEEP_S, past which a dispatch of it is
 *           refused
 *   DONE    nothing more to do until the dispatch is deleted
 *   LOST    a marker from a previous process: the result "lost" is
 *           written (created if absent), never the step run again
 *   REFUSED the dispatch was refused (said once)
 *
 * A call that fails is retried on the tick (a 250 ms timer running while
 * any entry is busy) after a back-off; while the agent stops, once.  An
 * entry with a call in flight is freed when the call comes back.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LR_LOG_COMPONENT "runs"
#include "clock.h"
#include "doc.h"
#include "etcd_uv.h"
#include "fields.h"
#include "json.h"
#include "keys.h"
#include "log.h"
#include "runs.h"
#include "step.h"
#include "xalloc.h"

#define BACKOFF_MIN_MS	500
#define BACKOFF_MAX_MS	10000
#define MAX_STEP	9999
#define STOP_MS		2000	/* the last results' time to reach etcd */

enum rs_state {
	RS_QUEUED, RS_CLAIM, RS_FETCH, RS_RUN, RS_FLUSH, RS_RESULT, RS_DONE,
	RS_LOST, RS_REFUSED
};

static bool	run_too_old(const char *run);

struct rstep {
	struct agent_runs *r;
	struct rstep	*next;
	char		*key;		/* the dispatch's */
	int64_t		 mod_rev;	/* its value's mod_revision */
	char		*run;		/* its run id */
	int		 step;
	char		*mark;		/* the marker's name: RUN.SSSS */
	char		*k_claim, *k_result;
	json_t		*doc;		/* the dispatch (verified) */
	enum rs_state	 state;
	bool		 deleted;	/* the dispatch went */
	bool		 gone;		/* free when the call comes back */
	int		 calls;		/* etcd calls in flight (0 or 1) */
	bool		 put_busy;	/* a chunk put in flight */
	size_t		 put_len;	/* its bytes */
	int64_t		 put_chunks;	/* its chunks */
	uint64_t	 retry_at;	/* uv_now when a failed call goes again;
					 * 0: none waits */
	long		 backoff_ms;
	uint64_t	 flush_at;	/* uv_now of the last chunk sent */
	struct agent_step_run *srun;
	json_t		*step_obj;	/* the spec as run (owned) */
	struct agent_runs_out out;
	int64_t		 chunks;	/* chunks written */
	json_t		*result;	/* to write (owned) */
	char		 why[256];	/* aborted: why */
};

/* A converge run's packed log on its way to etcd (agent_runs_deploy_log). */
enum dl_phase { DL_LEADER, DL_DELETE, DL_CHUNKS, DL_RESULT };

struct dlog {
	struct agent_runs *r;	/* NULL: the runs went, free when back */
	char		*run, *status, *path;
	char		 id[32];	/* "d@N" */
	int64_t		 deploy;
	int		 fd;		/* the archive; -1 */
	uint64_t	 size;
	int64_t		 chunks;	/* sent */
	enum dl_phase	 phase;
	bool		 busy;		/* a call in flight */
	uint64_t	 retry_at;
	long		 backoff_ms;
};

struct agent_runs {
	uv_loop_t	*loop;
	struct agent_store *store;
	struct agent_sync *sync;
	char		*host, *prefix, *self_exe;
	char		*k_dir;		/* P/runs/dispatch/HOST/ */
	const struct lr_sign_key *keys;
	long		 retry_base_ms;
	size_t		 parallel;
	size_t		 batch;		/* bytes of chunks in one request */
	void		(*refused)(void *, const char *, const struct lr_err *);
	void		(*stopped)(void *);
	void		*arg;

	struct rstep	*steps;		/* by key order of arrival */
	struct etcd_uv_watch *watch;
	bool		 started, stopping, stopped_said, read_once;
	bool		 in_stop;	/* inside agent_runs_stop: no hook */
	bool		 given_up;	/* the stop's deadline passed */
	bool		 reading;
	long		 read_backoff_ms;
	uv_timer_t	 t_read;	/* read retries */
	uv_timer_t	 t_tick;	/* flushes and retries */
	bool		 ticking;
	bool		 no_leurad_said;	/* deploy logs: once */
	int		 closing;
	struct dlog	*dl;		/* the deploy log going out */
	struct dlog	*dl_next;	/* the next, waiting */
};

static void	pump(struct agent_runs *r);
static void	step_next(struct rstep *e, bool tick);
static void	read_later(struct agent_runs *r);
static void	runs_read(struct agent_runs *r);
static void	dl_step(struct dlog *d);
static void	dl_free(struct dlog *d);

/* ---- output: counting, preview, chunks (pure) ---- */

void
agent_runs_out_init(struct agent_runs_out *o, uint64_t log_max,
    size_t pending_max)
{
	memset(o, 0, sizeof(*o));
	o->log_max = log_max;
	o->pending_max = pending_max ? pending_max : AGENT_RUNS_PENDING_MAX;
}

void
agent_runs_out_release(struct agent_runs_out *o)
{
	free(o->pend);
	o->pend = NULL;
	o->pend_len = o->pend_cap = 0;
}

static void
pend_add(struct agent_runs_out *o, const char *p, size_t n)
{
	size_t cap;

	if (o->pend_len + n > o->pend_cap) {
		cap = o->pend_cap ? o->pend_cap : 4096;
		while (cap < o->pend_len + n)
			cap *= 2;
		/* pending_max and a line or two, not twice that */
		if (cap > o->pending_max + 1024 && o->pend_len + n <=
		    o->pending_max + 1024)
			cap = o->pending_max + 1024;
		/* owned by o; at most pending_max plus a line */
		o->pend = lr_xrealloc(o->pend, cap);
		o->pend_cap = cap;
	}
	memcpy(o->pend + o->pend_len, p, n);
	o->pend_len += n;
}

/* The line that stands for bytes dropped, once there is room. */
static void
say_gap(struct agent_runs_out *o)
{
	char line[160];
	int k;

	if (o->gap == 0)
		return;
	k = snprintf(line, sizeof(line), "\n[leura] %llu bytes of output "
	    "dropped here: etcd took the log more slowly than the step "
	    "wrote it\n", (unsigned long long)o->gap);
	pend_add(o, line, (size_t)k);
	o->gap = 0;
}

void
agent_runs_out_add(struct agent_runs_out *o, const char *p, size_t n)
{
	uint64_t start = o->bytes;
	size_t k, pos, room;

	o->bytes += n;
	/* preview: the first bytes, and a ring of the last */
	if (start < AGENT_RUNS_PREVIEW) {
		k = AGENT_RUNS_PREVIEW - (size_t)start < n ?
		    AGENT_RUNS_PREVIEW - (size_t)start : n;
		memcpy(o->head + start, p, k);
	}
	{
		const char *q = p;
		size_t m = n;
		uint64_t t = start;

		if (m > AGENT_RUNS_PREVIEW) {
			t += m - AGENT_RUNS_PREVIEW;
			q += m - AGENT_RUNS_PREVIEW;
			m = AGENT_RUNS_PREVIEW;
		}
		while (m > 0) {
			pos = (size_t)(t % AGENT_RUNS_PREVIEW);
			k = AGENT_RUNS_PREVIEW - pos < m ?
			    AGENT_RUNS_PREVIEW - pos : m;
			memcpy(o->tail + pos, q, k);
			t += k;
			q += k;
			m -= k;
		}
	}
	/*
	 * chunks: log_max bytes at most, as room allows (bytes dropped for
	 * lack of room leave the budget to the bytes that come after)
	 */
	if (o->queued >= o->log_max) {
		o->truncated = true;
		return;
	}
	if (o->log_max - o->queued < n) {
		n = (size_t)(o->log_max - o->queued);
		o->truncated = true;
	}
	room = o->pend_len < o->pending_max ? o->pending_max - o->pend_len :
	    0;
	if (room > 0)
		say_gap(o);
	k = n < room ? n : room;
	pend_add(o, p, k);
	o->queued += k;
	if (k < n) {
		o->dropped += n - k;
		o->gap += n - k;
		o->truncated = true;
	}
}

void
agent_runs_out_end(struct agent_runs_out *o)
{
	char line[200];
	uint64_t cut;
	int k;

	say_gap(o);
	cut = o->bytes - o->queued - o->dropped;
	if (cut == 0)
		return;
	k = snprintf(line, sizeof(line), "%s[leura] %llu bytes of output "
	    "past the log's limit of %llu bytes were not kept\n",
	    o->pend_len > 0 && o->pend[o->pend_len - 1] != '\n' ? "\n" : "",
	    (unsigned long long)cut, (unsigned long long)o->log_max);
	pend_add(o, line, (size_t)k);
}

size_t
agent_runs_out_next(const struct agent_runs_out *o, bool flush, size_t max)
{
	size_t n = o->pend_len < max ? o->pend_len : max;

	if (n == o->pend_len && flush)
		return n;
	return n - n % AGENT_RUNS_CHUNK;
}

void
agent_runs_out_take(struct agent_runs_out *o, size_t n)
{
	if (n > o->pend_len)
		n = o->pend_len;
	memmove(o->pend, o->pend + n, o->pend_len - n);
	o->pend_len -= n;
}

char *
agent_runs_out_head(const struct agent_runs_out *o)
{
	size_t n = o->bytes < AGENT_RUNS_PREVIEW ? (size_t)o->bytes :
	    AGENT_RUNS_PREVIEW;

	return agent_runs_utf8(o->head, n, false, o->bytes > n);
}

char *
agent_runs_out_tail(const struct agent_runs_out *o)
{
	char buf[AGENT_RUNS_PREVIEW];
	size_t n, pos;

	if (o->bytes <= AGENT_RUNS_PREVIEW)
		return agent_runs_utf8(o->tail, (size_t)o->bytes, false,
		    false);
	n = AGENT_RUNS_PREVIEW;
	pos = (size_t)(o->bytes % AGENT_RUNS_PREVIEW);
	memcpy(buf, o->tail + pos, n - pos);
	memcpy(buf + n - pos, o->tail, pos);
	return agent_runs_utf8(buf, n, true, false);
}

/* The length of the valid UTF-8 character at p (n bytes left), or 0. */
static size_t
utf8_char(const unsigned char *p, size_t n)
{
	unsigned c = p[0];
	size_t len, i;
	uint32_t cp;

	if (c >= 0x01 && c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
	} else
		return 0;	/* NUL, continuation, 0xc0, 0xc1, > 0xf4 */
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;	/* overlong, too large, a surrogate */
	return len;
}

/* A lead byte's length if what follows it could still complete it. */
static bool
utf8_incomplete(const unsigned char *p, size_t n)
{
	unsigned c = p[0];
	size_t len, i;

	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return false;
	if (n >= len)
		return false;
	for (i = 1; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return false;
	return true;
}

char *
agent_runs_utf8(const char *s, size_t n, bool cut_start, bool cut_end)
{
	const unsigned char *p = (const unsigned char *)s;
	char *out, *q;
	size_t i = 0, k;

	/* each byte becomes at most 3 (U+FFFD); owned by the caller */
	out = q = lr_xmalloc(n * 3 + 1);
	if (cut_start)
		while (i < n && i < 3 && (p[i] & 0xc0) == 0x80)
			i++;
	while (i < n) {
		if ((k = utf8_char(p + i, n - i)) > 0) {
			memcpy(q, p + i, k);
			q += k;
			i += k;
			continue;
		}
		if (cut_end && utf8_incomplete(p + i, n - i))
			break;
		memcpy(q, "\xef\xbf\xbd", 3);
		q += 3;
		i++;
	}
	*q = '\0';
	return out;
}

/* ---- entries ---- */

static struct rstep *
find(struct agent_runs *r, const char *key)
{
	struct rstep *e;

	for (e = r->steps; e; e = e->next)
		if (strcmp(e->key, key) == 0)
			return e;
	return NULL;
}

static void
rstep_free(struct rstep *e)
{
	free(e->key);
	free(e->run);
	free(e->mark);
	free(e->k_claim);
	free(e->k_result);
	json_decref(e->doc);
	json_decref(e->step_obj);
	json_decref(e->result);
	agent_runs_out_release(&e->out);
	free(e);
}

/* Take e out of the list; freed now, or when its call comes back. */
static void
rstep_drop(struct rstep *e)
{
	struct agent_runs *r = e->r;
	struct rstep **pp;

	for (pp = &r->steps; *pp; pp = &(*pp)->next)
		if (*pp == e) {
			*pp = e->next;
			break;
		}
	e->next = NULL;
	if (e->calls > 0 || e->put_busy || e->srun != NULL)
		e->gone = true;
	else
		rstep_free(e);
}

/* Steps holding a slot: claimed or about to be, running, reporting. */
static size_t
active(const struct agent_runs *r)
{
	const struct rstep *e;
	size_t n = 0;

	for (e = r->steps; e; e = e->next)
		if (e->state >= RS_CLAIM && e->state <= RS_RESULT)
			n++;
	return n;
}

/* Whether anything is left to do before the agent may stop. */
static bool
busy(const struct agent_runs *r)
{
	const struct rstep *e;

	for (e = r->steps; e; e = e->next) {
		if (e->srun != NULL)
			return true;	/* a step process is still ending */
		if (!r->given_up && ((e->state >= RS_CLAIM && e->state <=
		    RS_RESULT) || e->state == RS_LOST))
			return true;
	}
	return false;
}

static void
check_stopped(struct agent_runs *r)
{
	if (!r->stopping || r->stopped_said || r->in_stop || busy(r))
		return;
	r->stopped_said = true;
	if (r->ticking) {
		uv_timer_stop(&r->t_tick);
		r->ticking = false;
	}
	if (r->stopped)
		r->stopped(r->arg);
}

/* ---- the tick: flushes and retries ---- */

static void
tick_cb(uv_timer_t *t)
{
	struct agent_runs *r = t->data;
	struct rstep *e, *next;
	uint64_t now = uv_now(r->loop);
	bool any = false;

	for (e = r->steps; e; e = next) {
		next = e->next;
		if (e->state == RS_QUEUED || e->state == RS_DONE ||
		    e->state == RS_REFUSED)
			continue;
		any = true;
		if (e->retry_at != 0 && e->retry_at <= now) {
			e->retry_at = 0;
			step_next(e, true);
		} else if (e->retry_at == 0)
			step_next(e, true);	/* flushes the output */
	}
	if (r->dl != NULL && !r->dl->busy && r->dl->retry_at != 0 &&
	    r->dl->retry_at <= now) {
		r->dl->retry_at = 0;
		dl_step(r->dl);
	}
	if (r->dl != NULL)
		any = true;
	/* a step given up while stopping may have been the last */
	check_stopped(r);
	if (!any && r->ticking) {
		uv_timer_stop(&r->t_tick);
		r->ticking = false;
	}
}

static void
tick_start(struct agent_runs *r)
{
	if (r->ticking)
		return;
	r->ticking = true;
	uv_timer_start(&r->t_tick, tick_cb, AGENT_RUNS_FLUSH_MS,
	    AGENT_RUNS_FLUSH_MS);
}

/*
 * A call failed: retry later; while stopping, give up (the marker stays,
 * and the next start reports the step lost; the tick then sees whether
 * that was the last thing the stop waited for).
 */
static void
retry_later(struct rstep *e, const char *what, const struct lr_err *err)
{
	long d;

	if (e->r->stopping) {
		lr_log_warn("%s of step %d of run %s: %s; the agent is "
		    "stopping, not retrying", what, e->step, e->run,
		    err ? err->msg : "no etcd client");
		e->state = RS_DONE;
		if (e->r->closing == 0)
			tick_start(e->r);
		return;
	}
	d = e->backoff_ms ? e->backoff_ms * 2 : BACKOFF_MIN_MS;
	if (d > BACKOFF_MAX_MS)
		d = BACKOFF_MAX_MS;
	e->backoff_ms = d;
	if (d == BACKOFF_MIN_MS)
		lr_log_warn("%s of step %d of run %s: %s; retrying", what,
		    e->step, e->run, err ? err->msg : "not connected");
	e->retry_at = uv_now(e->r->loop) + (uint64_t)d;
	tick_start(e->r);
}

/* A call came back: false when e is gone (freed here). */
static bool
call_back(struct rstep *e)
{
	e->calls--;
	if (e->gone && e->calls == 0 && !e->put_busy && e->srun == NULL) {
		rstep_free(e);
		return false;
	}
	return !e->gone;
}

/* ---- results ---- */

static json_t *
result_new(const char *status, const char *error)
{
	char now[LR_TIME_ISO_LEN];

	lr_time_iso_now(now);
	return json_pack("{s:s, s:n, s:i, s:b, s:i, s:s, s:i, s:s, s:s, "
	    "s:s, s:i, s:i, s:b}", "status", status, "exit_code", "signal", 0,
	    "timed_out", 0, "attempts", 0, "started", now, "duration_ms", 0,
	    "error", error ? error : "", "head", "", "tail", "", "bytes", 0,
	    "chunks", 0, "truncated", 0);
}

static void
result_cb(int status, const json_t *resp, const struct lr_err *err,
    void *arg)
{
	struct rstep *e = arg;
	struct agent_runs *r = e->r;
	struct etcd_txn_result tr = { 0 };
	struct lr_err e2;

	if (!call_back(e))
		return;
	if (status < 0 || etcd_txn_decode(resp, &tr, &e2) < 0) {
		etcd_txn_result_release(&tr);
		retry_later(e, "cannot write the result", status < 0 ? err :
		    &e2);
		check_stopped(e->r);
		return;
	}
	if (!tr.succeeded)
		lr_log_info("step %d of run %s: a result was there already "
		    "(leurad's)", e->step, e->run);
	else
		lr_log_info("step %d of run %s: %s", e->step, e->run,
		    lr_json_str(e->result, "status"));
	etcd_txn_result_release(&tr);
	/* the marker stays: this agent took the step (run_too_old) */
	e->state = RS_DONE;
	e->backoff_ms = 0;
	if (e->deleted)
		rstep_drop(e);	/* e may be gone */
	pump(r);
	check_stopped(r);
}

/* Create the result if absent, delete the claim: one transaction. */
static void
result_put(struct rstep *e)
{
	struct etcd_uv *eu = agent_sync_client(e->r->sync);
	struct etcd_txn t;
	struct lr_err err;
	char *text;
	int rc;

	if (eu == NULL) {
		retry_later(e, "cannot write the result", NULL);
		return;
	}
	text = json_dumps(e->result, JSON_COMPACT | JSON_SORT_KEYS);
	if (text == NULL)
		LR_BUG("json_dumps of a result failed");
	etcd_txn_init(&t);
	etcd_txn_cmp_int(&t, e->k_result, ETCD_CMP_CREATE, ETCD_CMP_EQUAL, 0);
	etcd_txn_put(&t, ETCD_THEN, e->k_result, text, strlen(text), 0);
	etcd_txn_delete(&t, ETCD_THEN, e->k_claim, 0);
	etcd_txn_delete(&t, ETCD_ELSE, e->k_claim, 0);
	free(text);
	rc = etcd_uv_txn(eu, &t, result_cb, e);
	etcd_txn_release(&t);
	if (rc < 0) {
		lr_err_set(&err, rc, "cannot send the result");
		retry_later(e, "cannot write the result", &err);
		return;
	}
	e->calls++;
}

/* Write result (stolen) for e, which is not running. */
static void
finish(struct rstep *e, json_t *result)
{
	json_decref(e->result);
	e->result = result;
	e->state = RS_RESULT;
	e->retry_at = 0;
	e->backoff_ms = 0;
	result_put(e);
}

/* ---- output chunks ---- */

static void
chunk_cb(int status, const json_t *resp, const struct lr_err *err,
    void *arg)
{
	struct rstep *e = arg;

	e->put_busy = false;
	if (e->gone) {
		if (e->calls == 0 && e->srun == NULL)
			rstep_free(e);
		return;
	}
	if (status < 0 && e->r->stopping) {
		/* no second try: the rest of the output is lost, as said */
		lr_log_warn("cannot write the log of step %d of run %s: %s; "
		    "the agent is stopping, dropping the rest", e->step,
		    e->run, err->msg);
		e->out.truncated = true;
		agent_runs_out_take(&e->out, e->out.pend_len);
		step_next(e, false);
		check_stopped(e->r);
		return;
	}
	if (status < 0) {
		retry_later(e, "cannot write the log", err);
		return;
	}
	agent_runs_out_take(&e->out, e->put_len);
	e->chunks += e->put_chunks;
	e->backoff_ms = 0;
	step_next(e, false);
}

/*
 * Send the next chunks, when some are due and none are in flight: one
 * transaction of puts, at most r->batch bytes (so that a step that prints
 * fast is not held to one chunk per round trip).
 */
static void
chunk_send(struct rstep *e, bool flush)
{
	struct etcd_uv *eu = agent_sync_client(e->r->sync);
	struct lr_err err;
	struct etcd_txn t;
	char *key;
	size_t n, off, k;
	int64_t i;
	int rc;

	if (e->put_busy || e->retry_at != 0)
		return;
	if ((n = agent_runs_out_next(&e->out, flush, e->r->batch)) == 0)
		return;
	if (eu == NULL) {
		retry_later(e, "cannot write the log", NULL);
		return;
	}
	etcd_txn_init(&t);
	for (i = 0, off = 0; off < n; i++, off += k) {
		k = n - off < AGENT_RUNS_CHUNK ? n - off : AGENT_RUNS_CHUNK;
		key = proto_key_run_log(e->r->prefix, e->run, e->r->host,
		    e->step, e->chunks + i);
		etcd_txn_put(&t, ETCD_THEN, key, e->out.pend + off, k, 0);
		free(key);
	}
	rc = etcd_uv_txn(eu, &t, chunk_cb, e);
	etcd_txn_release(&t);
	if (rc < 0) {
		lr_err_set(&err, rc, "cannot send the chunks");
		retry_later(e, "cannot write the log", &err);
		return;
	}
	e->put_busy = true;
	e->put_len = n;
	e->put_chunks = i;
	e->flush_at = uv_now(e->r->loop);
}

static void
on_output(const char *p, size_t n, void *arg)
{
	struct rstep *e = arg;

	agent_runs_out_add(&e->out, p, n);
	chunk_send(e, false);
}

/* ---- running the step ---- */

static const char *
status_name(const struct agent_step_result *res)
{
	if (res->status == AGENT_STEP_FAILED && res->timed_out)
		return "timed_out";
	return agent_step_status_name(res->status);
}

static void
step_done(struct agent_step_run *run, const struct agent_step_result *res,
    void *arg)
{
	struct rstep *e = arg;
	char started[LR_TIME_ISO_LEN], *head, *tail;
	const char *error = res->error;

	e->srun = NULL;
	if (e->gone) {
		if (e->calls == 0 && !e->put_busy)
			rstep_free(e);
		return;
	}
	if (res->status == AGENT_STEP_ABORTED && e->why[0] != '\0')
		error = e->why;
	lr_time_iso(res->started_ms / 1000, started);
	agent_runs_out_end(&e->out);
	head = agent_runs_out_head(&e->out);
	tail = agent_runs_out_tail(&e->out);
	json_decref(e->result);
	/* chunks and truncated are set when the last chunk is out */
	e->result = json_pack("{s:s, s:i, s:i, s:b, s:i, s:s, s:I, s:s, "
	    "s:s, s:s, s:I}", "status", status_name(res), "exit_code",
	    res->exit_code, "signal", res->term_signal, "timed_out",
	    res->timed_out, "attempts", res->attempts, "started", started,
	    "duration_ms", (json_int_t)res->duration_ms, "error", error,
	    "head", head, "tail", tail, "bytes", (json_int_t)e->out.bytes);
	if (e->result == NULL)
		LR_BUG("json_pack of a result failed");
	if (res->exit_code < 0)
		json_object_set_new(e->result, "exit_code", json_null());
	free(head);
	free(tail);
	lr_log_info("step %d of run %s ended: %s, %llu bytes of output",
	    e->step, e->run, status_name(res),
	    (unsigned long long)e->out.bytes);
	e->state = RS_FLUSH;
	step_next(e, false);
}

static void
step_start(struct rstep *e)
{
	struct agent_runs *r = e->r;
	struct agent_step_ctx ctx = { 0 };
	struct lr_err err;
	json_t *mark, *env;
	char now[LR_TIME_ISO_LEN], buf[32];
	int64_t lm;

	if (e->deleted || r->stopping) {
		finish(e, result_new("aborted", e->deleted ? "the step was "
		    "cancelled before it started" : "leura-agent stopped "
		    "before the step started"));
		return;
	}
	lr_time_iso_now(now);
	mark = json_pack("{s:s, s:s, s:i, s:s}", "key", e->key, "run",
	    e->run, "step", e->step, "started", now);
	if (agent_store_run_mark(r->store, e->mark, mark, &err) < 0) {
		json_decref(mark);
		lr_log_error("%s", err.msg);
		finish(e, result_new("failed", err.msg));
		return;
	}
	json_decref(mark);
	/* the spec as run: LEURA_RUN and LEURA_RUN_STEP in its env */
	e->step_obj = json_deep_copy(json_object_get(e->doc, "spec"));
	env = json_object_get(e->step_obj, PROTO_STEP_ENV);
	if (!json_is_object(env)) {
		env = json_object();
		json_object_set_new(e->step_obj, PROTO_STEP_ENV, env);
	}
	json_object_set_new(env, "LEURA_RUN", json_string(e->run));
	snprintf(buf, sizeof(buf), "%d", e->step);
	json_object_set_new(env, "LEURA_RUN_STEP", json_string(buf));
	lm = lr_json_int(e->doc, "log_max");
	agent_runs_out_init(&e->out, lm > 0 ? (uint64_t)lm :
	    AGENT_RUNS_LOG_MAX, AGENT_RUNS_PENDING_MAX);
	ctx.loop = r->loop;
	ctx.step = e->step_obj;
	ctx.mode = AGENT_STEP_RUN;
	ctx.files_dir = agent_store_files_dir(r->store);
	ctx.work_dir = agent_store_work_dir(r->store);
	ctx.self_exe = r->self_exe;
	ctx.host = r->host;
	ctx.retry_base_ms = r->retry_base_ms;
	ctx.on_output = on_output;
	ctx.output_arg = e;
	e->state = RS_RUN;
	e->flush_at = uv_now(r->loop);
	if (agent_step_start(&ctx, step_done, e, &e->srun, &err) < 0) {
		lr_log_error("step %d of run %s: %s", e->step, e->run,
		    err.msg);
		e->srun = NULL;
		finish(e, result_new("failed", err.msg));
		return;
	}
	lr_log_info("step %d of run %s started", e->step, e->run);
	tick_start(r);
}

/* ---- contents ---- */

/* Contents the spec needs that the store lacks: array of sha256. */
static json_t *
missing(struct rstep *e)
{
	const json_t *spec = json_object_get(e->doc, "spec");
	json_t *out = json_array();
	const char *sha;

	sha = lr_json_strn(spec, PROTO_STEP_SHA256);
	if (sha && !agent_store_file_has(e->r->store, sha))
		json_array_append_new(out, json_string(sha));
	sha = lr_json_strn(spec, PROTO_STEP_EXEC_SHA256);
	if (sha && !agent_store_file_has(e->r->store, sha))
		json_array_append_new(out, json_string(sha));
	return out;
}

static void
fetch_cb(int status, const json_t *resp, const struct lr_err *err,
    void *arg)
{
	struct rstep *e = arg;
	const json_t *spec = json_object_get(e->doc, "spec");
	struct etcd_txn_result tr = { 0 };
	struct lr_err e2;
	const struct etcd_kv *kv;
	const char *exec, *sha;
	char *why = NULL;
	size_t i;

	if (!call_back(e))
		return;
	if (status < 0 || etcd_txn_decode(resp, &tr, &e2) < 0) {
		etcd_txn_result_release(&tr);
		retry_later(e, "cannot fetch contents", status < 0 ? err :
		    &e2);
		check_stopped(e->r);
		return;
	}
	exec = lr_json_strn(spec, PROTO_STEP_EXEC_SHA256);
	for (i = 0; i < tr.nops && why == NULL; i++) {
		if (tr.ops[i].range.nkvs == 0) {
			why = lr_xstrdup("a content it needs is not in etcd "
			    "(P/desired/files/)");
			break;
		}
		kv = &tr.ops[i].range.kvs[0];
		sha = strrchr(kv->key, '/') + 1;
		if (agent_store_file_put(e->r->store, sha, kv->value,
		    kv->value_len, exec && strcmp(exec, sha) == 0, &e2) < 0)
			why = lr_xstrdup(e2.msg);
	}
	etcd_txn_result_release(&tr);
	if (why == NULL && agent_store_files_sync(e->r->store, &e2) < 0)
		why = lr_xstrdup(e2.msg);
	if (why != NULL) {
		lr_log_error("step %d of run %s: %s", e->step, e->run, why);
		finish(e, result_new("failed", why));
		free(why);
		return;
	}
	step_start(e);
}

static void
fetch(struct rstep *e)
{
	struct etcd_uv *eu = agent_sync_client(e->r->sync);
	struct etcd_range_req q = { 0 };
	struct lr_err err;
	struct etcd_txn t;
	json_t *miss = missing(e), *v;
	char *key;
	size_t i;
	int rc;

	e->state = RS_FETCH;
	if (json_array_size(miss) == 0) {
		json_decref(miss);
		step_start(e);
		return;
	}
	if (eu == NULL) {
		json_decref(miss);
		retry_later(e, "cannot fetch contents", NULL);
		return;
	}
	etcd_txn_init(&t);
	json_array_foreach(miss, i, v) {
		key = proto_key_file(e->r->prefix, json_string_value(v));
		q.key = key;
		etcd_txn_range(&t, ETCD_THEN, &q);
		free(key);
	}
	json_decref(miss);
	rc = etcd_uv_txn(eu, &t, fetch_cb, e);
	etcd_txn_release(&t);
	if (rc < 0) {
		lr_err_set(&err, rc, "cannot send the request");
		retry_later(e, "cannot fetch contents", &err);
		return;
	}
	e->calls++;
}

/* ---- claims ---- */

static void
claim_cb(int status, const json_t *resp, const struct lr_err *err,
    void *arg)
{
	struct rstep *e = arg;
	struct agent_runs *r = e->r;
	struct etcd_txn_result tr = { 0 };
	const struct etcd_range_result *rr;
	struct lr_err e2;
	bool ours;

	if (!call_back(e))
		return;
	if (status < 0 || etcd_txn_decode(resp, &tr, &e2) < 0) {
		etcd_txn_result_release(&tr);
		retry_later(e, "cannot claim", status < 0 ? err : &e2);
		check_stopped(e->r);
		return;
	}
	ours = tr.succeeded;
	if (!ours && tr.nops == 1) {
		/* a claim sent twice finds its own first copy */
		rr = &tr.ops[0].range;
		ours = rr->nkvs == 1 && rr->kvs[0].lease != 0 &&
		    rr->kvs[0].lease == agent_sync_lease(e->r->sync) &&
		    strstr(rr->kvs[0].value, "\"pid\":") != NULL;
	}
	etcd_txn_result_release(&tr);
	e->backoff_ms = 0;
	if (!ours) {
		lr_log_info("step %d of run %s is claimed or done already; "
		    "not running it", e->step, e->run);
		e->state = RS_DONE;
		if (e->deleted)
			rstep_drop(e);	/* e may be gone */
		pump(r);
		check_stopped(r);
		return;
	}
	fetch(e);
}

static void
claim(struct rstep *e)
{
	struct etcd_uv *eu = agent_sync_client(e->r->sync);
	int64_t lease = agent_sync_lease(e->r->sync);
	struct etcd_range_req q = { 0 };
	char now[LR_TIME_ISO_LEN], *text;
	struct lr_err err;
	struct etcd_txn t;
	json_t *v;
	int rc;

	e->state = RS_CLAIM;
	if (e->r->stopping) {
		e->state = RS_DONE;	/* nothing claimed, nothing to say */
		check_stopped(e->r);
		return;
	}
	if (eu == NULL || lease <= 0) {
		/* no lease yet (etcd away): try on the tick */
		e->retry_at = uv_now(e->r->loop) + BACKOFF_MIN_MS;
		tick_start(e->r);
		return;
	}
	lr_time_iso_now(now);
	v = json_pack("{s:s, s:i, s:I}", "started", now, "pid",
	    (int)getpid(), "lease", (json_int_t)lease);
	text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(v);
	if (text == NULL)
		LR_BUG("json_dumps of a claim failed");
	etcd_txn_init(&t);
	etcd_txn_cmp_int(&t, e->k_claim, ETCD_CMP_CREATE, ETCD_CMP_EQUAL, 0);
	etcd_txn_cmp_int(&t, e->k_result, ETCD_CMP_CREATE, ETCD_CMP_EQUAL, 0);
	etcd_txn_put(&t, ETCD_THEN, e->k_claim, text, strlen(text), lease);
	q.key = e->k_claim;
	etcd_txn_range(&t, ETCD_ELSE, &q);
	free(text);
	rc = etcd_uv_txn(eu, &t, claim_cb, e);
	etcd_txn_release(&t);
	if (rc < 0) {
		lr_err_set(&err, rc, "cannot send the claim");
		retry_later(e, "cannot claim", &err);
		return;
	}
	e->calls++;
}

/* ---- the state machine ---- */

/*
 * Whatever e waits for next.  tick: from the tick, which flushes what
 * output there is; else a partial chunk goes only AGENT_RUNS_FLUSH_MS
 * after the last one.
 */
static void
step_next(struct rstep *e, bool tick)
{
	uint64_t now = uv_now(e->r->loop);

	if (e->calls > 0)
		return;
	switch (e->state) {
	case RS_CLAIM:
		claim(e);
		break;
	case RS_FETCH:
		fetch(e);
		break;
	case RS_RUN:
		chunk_send(e, tick || now - e->flush_at >= AGENT_RUNS_FLUSH_MS);
		break;
	case RS_FLUSH:
		if (e->retry_at != 0)
			break;
		chunk_send(e, true);
		if (e->put_busy || e->retry_at != 0)
			break;
		/* the output is all out */
		json_object_set_new(e->result, "chunks",
		    json_integer(e->chunks));
		json_object_set_new(e->result, "truncated",
		    json_boolean(e->out.truncated));
		agent_runs_out_release(&e->out);
		e->state = RS_RESULT;
		result_put(e);
		break;
	case RS_RESULT:
	case RS_LOST:
		result_put(e);
		break;
	default:
		break;
	}
}

/* Start queued steps while slots are free. */
static void
pump(struct agent_runs *r)
{
	struct rstep *e;

	if (r->stopping)
		return;
	for (e = r->steps; e && active(r) < r->parallel; e = e->next)
		if (e->state == RS_QUEUED)
			claim(e);
}

/* ---- dispatches ---- */

static void
refuse(struct agent_runs *r, struct rstep *e, struct lr_err *err)
{
	e->state = RS_REFUSED;
	if (err->hint[0] == '\0')
		lr_err_hint(err, "only leurad writes under %s, signed with "
		    "its key for this host: check who can write to etcd "
		    "(docs/security.md)", r->k_dir);
	lr_log_error("%s; hint: %s", err->msg, err->hint);
	if (r->refused)
		r->refused(r->arg, e->key, err);
}

/* A dispatch under our prefix, new to us. */
static void
dispatch_add(struct agent_runs *r, const struct etcd_kv *kv)
{
	struct rstep *e, **pp;
	struct lr_err err, e2;
	const char *rest, *slash, *s;
	char *end;
	long step;

	e = lr_xcalloc(1, sizeof(*e));
	e->r = r;
	e->key = lr_xstrdup(kv->key);
	e->mod_rev = kv->mod_revision;
	for (pp = &r->steps; *pp; pp = &(*pp)->next)
		;
	*pp = e;
	lr_err_clear(&err);
	rest = kv->key + strlen(r->k_dir);
	slash = strrchr(rest, '/');
	step = slash ? strtol(slash + 1, &end, 10) : -1;
	if (slash == NULL || slash == rest || strlen(slash + 1) != 4 ||
	    *end != '\0' || step < 0 || step > MAX_STEP ||
	    memchr(rest, '/', (size_t)(slash - rest)) != NULL) {
		lr_err_set(&err, LR_EINVAL, "refusing the dispatch '%s': not "
		    "a key P/runs/dispatch/HOST/RUN/SSSS", kv->key);
		refuse(r, e, &err);
		return;
	}
	e->run = lr_xstrndup(rest, (size_t)(slash - rest));
	e->step = (int)step;
	if (run_too_old(e->run)) {
		lr_err_set(&err, LR_EINVAL, "refusing the dispatch '%s': its "
		    "run was made more than %d days ago, longer than this "
		    "agent remembers the steps it took (a replay?)", kv->key,
		    AGENT_RUNS_KEEP_S / 86400);
		refuse(r, e, &err);
		return;
	}
	if (r->keys == NULL) {
		if ((e->doc = proto_value_parse(kv->key, kv->value,
		    kv->value_len, &e2)) == NULL) {
			lr_err_set(&err, LR_EINVAL, "refusing the dispatch "
			    "'%s': %s", kv->key, e2.msg);
			refuse(r, e, &err);
			return;
		}
	} else if (proto_verify_run_value(kv->value, kv->value_len, r->host,
	    r->keys, &e->doc, &e2) < 0) {
		lr_err_set(&err, LR_EINVAL, "refusing the dispatch '%s': %s",
		    kv->key, e2.msg);
		if (strstr(e2.msg, "not among the trusted keys") != NULL)
			lr_err_hint(&err, "if leurad's key was changed, give "
			    "this agent its public key (--fleet-key); else "
			    "someone with access to etcd wrote it "
			    "(docs/security.md)");
		refuse(r, e, &err);
		return;
	}
	s = lr_json_strn(e->doc, "host");
	if (s == NULL || strcmp(s, r->host) != 0 || (s = lr_json_strn(e->doc,
	    "run")) == NULL || strcmp(s, e->run) != 0 ||
	    !json_is_integer(json_object_get(e->doc, "step")) ||
	    lr_json_int(e->doc, "step") != e->step ||
	    !json_is_object(json_object_get(e->doc, "spec"))) {
		lr_err_set(&err, LR_EINVAL, "refusing the dispatch '%s': its "
		    "host, run or step is not its key's, or it has no spec "
		    "(a copy of another dispatch?)", kv->key);
		refuse(r, e, &err);
		json_decref(e->doc);
		e->doc = NULL;
		return;
	}
	e->mark = lr_xasprintf("%s.%04d", e->run, e->step);
	e->k_claim = proto_key_run_exec(r->prefix, e->run, r->host, e->step);
	e->k_result = proto_key_run_result(r->prefix, e->run, r->host,
	    e->step);
	if (agent_store_run_marked(r->store, e->mark)) {
		/*
		 * this agent took it before (a previous process, or a replay
		 * of its dispatch): never run it again; "lost" goes only
		 * where it has no result
		 */
		lr_log_warn("step %d of run %s was taken by this agent "
		    "before: it does not run again ('lost' unless it has a "
		    "result)", e->step, e->run);
		e->state = RS_LOST;
		e->result = result_new("lost", "the agent restarted while the "
		    "step ran");
		result_put(e);
		tick_start(r);
		return;
	}
	e->state = RS_QUEUED;
}

/* The dispatch under key was deleted: cancel what it asked. */
static void
dispatch_del(struct agent_runs *r, const char *key)
{
	struct rstep *e = find(r, key);

	if (e == NULL)
		return;
	e->deleted = true;
	switch (e->state) {
	case RS_QUEUED:
	case RS_DONE:
	case RS_REFUSED:
		rstep_drop(e);
		break;
	case RS_RUN:
		lr_log_info("step %d of run %s: its dispatch was deleted; "
		    "aborting it", e->step, e->run);
		snprintf(e->why, sizeof(e->why), "the step was cancelled "
		    "(its dispatch was deleted)");
		agent_step_abort(e->srun);
		break;
	default:
		break;	/* CLAIM, FETCH: seen when they end; the rest ends */
	}
}

/*
 * A dispatch put: new, or a refused one written again (looked at anew);
 * a dispatch taken is not changed by a put (leurad deletes it to cancel).
 */
static void
dispatch_put(struct agent_runs *r, const struct etcd_kv *kv)
{
	struct rstep *e;

	if (strncmp(kv->key, r->k_dir, strlen(r->k_dir)) != 0)
		return;
	if ((e = find(r, kv->key)) != NULL) {
		if (e->state != RS_REFUSED || e->mod_rev == kv->mod_revision)
			return;
		rstep_drop(e);
	}
	dispatch_add(r, kv);
}

/*
 * Whether the run id (r@YYYYMMDD-HHMMSS-..., its creation time in UTC)
 * is older than AGENT_RUNS_KEEP_S, or has no time in it.
 */
static bool
run_too_old(const char *run)
{
	struct tm tm = { 0 };
	time_t t;

	if (strncmp(run, "r@", 2) != 0 || sscanf(run + 2, "%4d%2d%2d-%2d%2d"
	    "%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
	    &tm.tm_min, &tm.tm_sec) != 6)
		return true;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	if ((t = timegm(&tm)) == (time_t)-1)
		return true;
	return (int64_t)time(NULL) - (int64_t)t > AGENT_RUNS_KEEP_S;
}

/*
 * Markers of runs older than AGENT_RUNS_KEEP_S, which no dispatch names:
 * forget them (a dispatch of such a run is refused).  The others stay
 * after their step's result, so that a step is never run twice.
 */
static void
marks_settle(struct agent_runs *r)
{
	json_t *marks = agent_store_run_marks(r->store), *v;
	struct rstep *e;
	const char *m, *dot;
	char run[64];
	size_t i;

	json_array_foreach(marks, i, v) {
		m = json_string_value(v);
		if ((dot = strchr(m, '.')) == NULL ||
		    (size_t)(dot - m) >= sizeof(run))
			continue;
		memcpy(run, m, (size_t)(dot - m));
		run[dot - m] = '\0';
		if (!run_too_old(run))
			continue;
		for (e = r->steps; e; e = e->next)
			if (e->mark && strcmp(e->mark, m) == 0)
				break;
		if (e == NULL) {
			lr_log_info("forgetting the marker of '%s': its run is "
			    "older than %d days", m, AGENT_RUNS_KEEP_S / 86400);
			agent_store_run_unmark(r->store, m);
		}
	}
	json_decref(marks);
}

/* The whole list (first read, or after a compaction). */
static void
dispatch_list(struct agent_runs *r, const struct etcd_kv *kvs, size_t n)
{
	struct rstep *e, *next;
	size_t i;

	for (e = r->steps; e; e = next) {
		next = e->next;
		for (i = 0; i < n; i++)
			if (strcmp(kvs[i].key, e->key) == 0)
				break;
		if (i == n)
			dispatch_del(r, e->key);
	}
	for (i = 0; i < n; i++)
		dispatch_put(r, &kvs[i]);
}

static void
watch_cb(const struct etcd_watch_batch *b, void *arg)
{
	struct agent_runs *r = arg;
	size_t i;

	if (r->stopping)
		return;
	switch (b->kind) {
	case ETCD_WATCH_EVENTS:
		for (i = 0; i < b->nevents; i++)
			if (b->events[i].type == ETCD_EV_DELETE)
				dispatch_del(r, b->events[i].kv.key);
			else
				dispatch_put(r, &b->events[i].kv);
		break;
	case ETCD_WATCH_RESYNC:
		dispatch_list(r, b->kvs, b->nkvs);
		break;
	case ETCD_WATCH_DISCONNECTED:
		lr_log_info("watch of %s: %s", r->k_dir, b->err->msg);
		if (b->err->code == LR_EPERM || b->err->code == LR_EAUTH) {
			lr_log_error("etcd refuses this agent's watch of %s: "
			    "%s; grant its user read access (docs/"
			    "etcd-layout.md, Access control)", r->k_dir,
			    b->err->msg);
			etcd_uv_watch_stop(r->watch);
			r->watch = NULL;
			r->read_backoff_ms = BACKOFF_MAX_MS / 2;
			read_later(r);
		}
		return;
	default:
		return;
	}
	pump(r);
}

static void
read_retry_cb(uv_timer_t *t)
{
	struct agent_runs *r = t->data;

	if (!r->stopping)
		runs_read(r);
}

static void
read_later(struct agent_runs *r)
{
	long d = r->read_backoff_ms ? r->read_backoff_ms * 2 : BACKOFF_MIN_MS;

	if (d > BACKOFF_MAX_MS)
		d = BACKOFF_MAX_MS;
	r->read_backoff_ms = d;
	uv_timer_start(&r->t_read, read_retry_cb, (uint64_t)d, 0);
}

static void
read_cb(int status, const json_t *resp, const struct lr_err *err, void *arg)
{
	struct agent_runs *r = arg;
	struct etcd_range_result rr = { 0 };
	struct etcd_watch_req wq = { 0 };
	struct etcd_uv *eu = agent_sync_client(r->sync);
	struct lr_err e2;

	r->reading = false;
	if (r->stopping) {
		check_stopped(r);
		return;
	}
	if (status < 0 || etcd_range_decode(resp, &rr, &e2) < 0 ||
	    eu == NULL) {
		lr_log_info("cannot read %s: %s", r->k_dir, status < 0 ?
		    err->msg : e2.msg);
		etcd_range_result_release(&rr);
		read_later(r);
		return;
	}
	r->read_backoff_ms = 0;
	dispatch_list(r, rr.kvs, rr.nkvs);
	if (!r->read_once) {
		r->read_once = true;
		marks_settle(r);
	}
	wq.key = r->k_dir;
	wq.flags = ETCD_PREFIX;
	wq.start_revision = rr.revision + 1;
	etcd_range_result_release(&rr);
	if (etcd_uv_watch_start(eu, &wq, watch_cb, r, &r->watch, &e2) < 0) {
		lr_log_error("cannot watch %s: %s; reading again", r->k_dir,
		    e2.msg);
		r->watch = NULL;
		read_later(r);
	}
	pump(r);
}

static void
runs_read(struct agent_runs *r)
{
	struct etcd_uv *eu = agent_sync_client(r->sync);
	struct etcd_range_req q = { 0 };

	if (r->reading || r->stopping)
		return;
	if (r->watch) {
		etcd_uv_watch_stop(r->watch);
		r->watch = NULL;
	}
	q.key = r->k_dir;
	q.flags = ETCD_PREFIX;
	if (eu == NULL || etcd_uv_range(eu, &q, read_cb, r) < 0) {
		read_later(r);
		return;
	}
	r->reading = true;
}

/* ---- deploy logs ---- */

static void
dl_free(struct dlog *d)
{
	if (d == NULL)
		return;
	if (d->fd >= 0)
		close(d->fd);
	free(d->run);
	free(d->status);
	free(d->path);
	free(d);
}

/* The next archive, if one waits and none goes. */
static void
dl_start(struct agent_runs *r)
{
	struct dlog *d;
	struct stat st;

	if (r->dl != NULL || r->dl_next == NULL || r->stopping)
		return;
	d = r->dl = r->dl_next;
	r->dl_next = NULL;
	/* open now: the archive may be rotated out while it goes */
	if ((d->fd = open(d->path, O_RDONLY | O_CLOEXEC)) < 0 ||
	    fstat(d->fd, &st) < 0) {
		lr_log_warn("cannot send the log of run %s as deploy %lld's: "
		    "'%s': %s", d->run, (long long)d->deploy, d->path,
		    strerror(errno));
		goto drop;
	}
	d->size = (uint64_t)st.st_size;
	if (d->size > AGENT_RUNS_LOG_MAX) {
		lr_log_warn("the log of run %s is %llu bytes, over %d: not "
		    "sent as deploy %lld's (it stays in '%s')", d->run,
		    (unsigned long long)d->size, AGENT_RUNS_LOG_MAX,
		    (long long)d->deploy, d->path);
		goto drop;
	}
	dl_step(d);
	return;
drop:
	r->dl = NULL;
	dl_free(d);
	dl_start(r);
}

/* A call failed: again later, unless the agent stops. */
static void
dl_retry(struct dlog *d, const char *why)
{
	struct agent_runs *r = d->r;
	long t;

	if (r->stopping) {
		r->dl = NULL;
		dl_free(d);
		return;
	}
	t = d->backoff_ms ? d->backoff_ms * 2 : BACKOFF_MIN_MS;
	if (t > BACKOFF_MAX_MS)
		t = BACKOFF_MAX_MS;
	if (d->backoff_ms == 0)
		lr_log_warn("cannot send the log of run %s as deploy %lld's: "
		    "%s; retrying", d->run, (long long)d->deploy, why);
	d->backoff_ms = t;
	d->retry_at = uv_now(r->loop) + (uint64_t)t;
	tick_start(r);
}

static void
dl_cb(int status, const json_t *resp, const struct lr_err *err, void *arg)
{
	struct dlog *d = arg;
	struct agent_runs *r = d->r;

	struct etcd_range_result rr = { 0 };
	struct lr_err e2;

	d->busy = false;
	if (r == NULL) {
		dl_free(d);
		return;
	}
	if (status < 0 && d->phase == DL_LEADER && (err->code == LR_EPERM ||
	    err->code == LR_EAUTH)) {
		/* not allowed to look (docs/etcd-layout.md): send it anyway */
		d->phase = DL_DELETE;
		dl_step(d);
		return;
	}
	if (status < 0) {
		dl_retry(d, err->msg);
		return;
	}
	d->backoff_ms = 0;
	switch (d->phase) {
	case DL_LEADER:
		if (etcd_range_decode(resp, &rr, &e2) < 0) {
			dl_retry(d, e2.msg);
			return;
		}
		if (rr.count == 0) {
			/*
			 * no leurad: nobody would take the chunks out of
			 * etcd, which they would fill deploy after deploy
			 */
			if (!r->no_leurad_said)
				lr_log_info("no leurad leads (no %s/leader): "
				    "converge logs stay in this host's state "
				    "dir only", r->prefix);
			r->no_leurad_said = true;
			etcd_range_result_release(&rr);
			r->dl = NULL;
			dl_free(d);
			dl_start(r);
			return;
		}
		etcd_range_result_release(&rr);
		r->no_leurad_said = false;
		d->phase = DL_DELETE;
		break;
	case DL_DELETE:
		d->phase = DL_CHUNKS;
		break;
	case DL_CHUNKS:
		d->chunks++;
		break;
	case DL_RESULT:
		lr_log_info("the log of run %s is in etcd as deploy %lld's "
		    "(%llu bytes, %lld chunks)", d->run, (long long)d->deploy,
		    (unsigned long long)d->size, (long long)d->chunks);
		r->dl = NULL;
		dl_free(d);
		dl_start(r);
		return;
	}
	dl_step(d);
}

static void
dl_step(struct dlog *d)
{
	struct agent_runs *r = d->r;
	struct etcd_uv *eu = agent_sync_client(r->sync);
	uint64_t off = (uint64_t)d->chunks * AGENT_RUNS_CHUNK;
	struct etcd_range_req q = { 0 };
	struct etcd_txn t;
	char *key, *dir, *buf, *text;
	ssize_t got;
	size_t n;
	json_t *v;
	int rc;

	if (eu == NULL) {
		dl_retry(d, "not connected");
		return;
	}
	switch (d->phase) {
	case DL_LEADER:
		key = proto_key_leader(r->prefix);
		q.key = key;
		q.flags = ETCD_COUNT_ONLY;
		rc = etcd_uv_range(eu, &q, dl_cb, d);
		free(key);
		break;
	case DL_DELETE:
		dir = proto_key_run_log_step_dir(r->prefix, d->id, r->host, 0);
		key = proto_key_run_result(r->prefix, d->id, r->host, 0);
		etcd_txn_init(&t);
		etcd_txn_delete(&t, ETCD_THEN, dir, ETCD_PREFIX);
		etcd_txn_delete(&t, ETCD_THEN, key, 0);
		rc = etcd_uv_txn(eu, &t, dl_cb, d);
		etcd_txn_release(&t);
		free(dir);
		free(key);
		break;
	case DL_CHUNKS:
		if (off >= d->size) {
			d->phase = DL_RESULT;
			dl_step(d);
			return;
		}
		n = d->size - off < AGENT_RUNS_CHUNK ? (size_t)(d->size -
		    off) : AGENT_RUNS_CHUNK;
		buf = lr_xmalloc(n);	/* one chunk, freed below */
		got = pread(d->fd, buf, n, (off_t)off);
		if (got != (ssize_t)n) {
			lr_log_warn("cannot read '%s': %s; its log is not sent "
			    "as deploy %lld's", d->path, got < 0 ?
			    strerror(errno) : "it got shorter",
			    (long long)d->deploy);
			free(buf);
			r->dl = NULL;
			dl_free(d);
			dl_start(r);
			return;
		}
		key = proto_key_run_log(r->prefix, d->id, r->host, 0,
		    d->chunks);
		rc = etcd_uv_put(eu, key, buf, n, 0, dl_cb, d);
		free(key);
		free(buf);
		break;
	case DL_RESULT:
	default:
		v = json_pack("{s:s, s:b, s:I, s:I, s:s}", "status",
		    d->status, "archive", 1, "bytes", (json_int_t)d->size,
		    "chunks", (json_int_t)d->chunks, "local_run", d->run);
		text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
		json_decref(v);
		if (text == NULL)
			LR_BUG("json_dumps of a deploy log's result failed");
		key = proto_key_run_result(r->prefix, d->id, r->host, 0);
		rc = etcd_uv_put(eu, key, text, strlen(text), 0, dl_cb, d);
		free(key);
		free(text);
		break;
	}
	if (rc < 0) {
		dl_retry(d, "cannot send the request");
		return;
	}
	d->busy = true;
}

void
agent_runs_deploy_log(struct agent_runs *r, const char *run, int64_t deploy,
    const char *status, const char *archive)
{
	struct dlog *d;

	if (r->stopping || !r->started || deploy <= 0)
		return;
	d = lr_xcalloc(1, sizeof(*d));
	d->r = r;
	d->fd = -1;
	d->run = lr_xstrdup(run);
	d->status = lr_xstrdup(status);
	d->path = lr_xstrdup(archive);
	d->deploy = deploy;
	snprintf(d->id, sizeof(d->id), "d@%lld", (long long)deploy);
	if (r->dl_next != NULL)
		lr_log_info("the log of run %s is not sent: run %s's is newer",
		    r->dl_next->run, run);
	dl_free(r->dl_next);
	r->dl_next = d;
	dl_start(r);
}

/* ---- lifetime ---- */

struct agent_runs *
agent_runs_new(const struct agent_runs_config *c)
{
	struct agent_runs *r = lr_xcalloc(1, sizeof(*r));
	size_t mr;

	r->loop = c->loop;
	r->store = c->store;
	r->sync = c->sync;
	r->host = lr_xstrdup(c->host);
	r->prefix = lr_xstrdup(c->prefix);
	r->self_exe = c->self_exe ? lr_xstrdup(c->self_exe) : NULL;
	r->k_dir = proto_key_dispatch_dir(c->prefix, c->host);
	r->keys = c->keys;
	r->retry_base_ms = c->retry_base_ms;
	r->parallel = c->parallel ? c->parallel : AGENT_RUNS_PARALLEL;
	/* chunks in base64 fill 4/3 of their size, keys and JSON a little */
	mr = c->max_request_bytes ? c->max_request_bytes :
	    ETCD_MAX_REQUEST_BYTES;
	r->batch = mr * 3 / 4 > 2 * AGENT_RUNS_CHUNK ? (mr * 3 / 4 -
	    AGENT_RUNS_CHUNK) / AGENT_RUNS_CHUNK * AGENT_RUNS_CHUNK :
	    AGENT_RUNS_CHUNK;
	if (r->batch > AGENT_RUNS_BATCH * AGENT_RUNS_CHUNK)
		r->batch = AGENT_RUNS_BATCH * AGENT_RUNS_CHUNK;
	r->refused = c->refused;
	r->stopped = c->stopped;
	r->arg = c->arg;
	uv_timer_init(r->loop, &r->t_read);
	uv_timer_init(r->loop, &r->t_tick);
	r->t_read.data = r->t_tick.data = r;
	return r;
}

void
agent_runs_start(struct agent_runs *r)
{
	if (r->started)
		return;
	r->started = true;
	runs_read(r);
}

/*
 * The stop waited STOP_MS for etcd to take the last chunks and results:
 * go without them (the markers stay: the next start reports those steps
 * lost).  The calls in flight end when the sync side lets go of etcd.
 */
static void
stop_deadline_cb(uv_timer_t *t)
{
	struct agent_runs *r = t->data;

	if (r->stopped_said)
		return;
	r->given_up = true;
	if (busy(r))
		return;		/* a step process still ends: its callback */
	lr_log_warn("etcd did not take the last task-step results within %d "
	    "ms of stopping; those steps are reported lost at the next "
	    "start", STOP_MS);
	check_stopped(r);
}

bool
agent_runs_stop(struct agent_runs *r)
{
	struct rstep *e, *next;

	if (!r->stopping) {
		r->stopping = true;
		r->in_stop = true;
		uv_timer_stop(&r->t_read);
		if (r->watch) {
			etcd_uv_watch_stop(r->watch);
			r->watch = NULL;
		}
		for (e = r->steps; e; e = next) {
			next = e->next;
			if (e->state == RS_QUEUED)
				rstep_drop(e);
			else if (e->state == RS_RUN && e->srun) {
				snprintf(e->why, sizeof(e->why), "leura-agent "
				    "stopped while the step ran");
				agent_step_abort(e->srun);
			} else if (e->retry_at != 0) {
				/* waiting to retry: one last try now */
				e->retry_at = 0;
				step_next(e, true);
			}
		}
		r->in_stop = false;
		/* t_read is idle from here on: the deadline */
		uv_timer_start(&r->t_read, stop_deadline_cb, STOP_MS, 0);
		uv_unref((uv_handle_t *)&r->t_read);
	}
	if (!busy(r)) {
		r->stopped_said = true;
		if (r->ticking) {
			uv_timer_stop(&r->t_tick);
			r->ticking = false;
		}
		return false;
	}
	return true;
}

static void
closed_cb(uv_handle_t *h)
{
	struct agent_runs *r = h->data;
	struct rstep *e, *next;

	if (--r->closing > 0)
		return;
	dl_free(r->dl_next);
	if (r->dl != NULL && r->dl->busy)
		r->dl->r = NULL;	/* its callback frees it */
	else
		dl_free(r->dl);
	for (e = r->steps; e; e = next) {
		next = e->next;
		if (e->calls > 0 || e->put_busy || e->srun != NULL)
			e->gone = true;	/* their callbacks free them */
		else
			rstep_free(e);
	}
	free(r->host);
	free(r->prefix);
	free(r->self_exe);
	free(r->k_dir);
	free(r);
}

void
agent_runs_free(struct agent_runs *r)
{
	struct rstep *e;

	if (r == NULL)
		return;
	r->stopping = true;
	if (r->watch)
		etcd_uv_watch_stop(r->watch);
	r->watch = NULL;
	for (e = r->steps; e; e = e->next)
		if (e->srun)
			agent_step_abort(e->srun);
	r->closing = 2;
	uv_close((uv_handle_t *)&r->t_read, closed_cb);
	uv_close((uv_handle_t *)&r->t_tick, closed_cb);
}
