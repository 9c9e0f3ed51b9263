/*
 * Timed and cron tasks, fired by the leader (cron.h, docs/schedules.md).
 *
 * One thread per replica, with an etcd client of its own.  Every second,
 * while this replica leads, it
 *   - reads P/desired/head, and when its mod_revision moved reloads the
 *     schedules of the tasks of the deployed commit (src_load_commit);
 *   - for a task not yet seen since it leads, reads where it stands: the
 *     newest of its keys P/runs/fired/<task>/ (or, when it has none, the
 *     time of the head's deploy: a schedule fires from its deploy on);
 *   - computes what is due against the wall clock (cron_due), so a clock
 *     that jumps forwards over a time fires it once (late, or as a
 *     misfire beyond starting_deadline), and one that jumps back fires
 *     nothing twice: the cursor and the fired keys are past it.
 * A due time is one run (run_create, fire_key: the key is created in the
 * run's transaction, LR_EEXIST: already made by another leader) unless
 *   - overlap: forbid and a run of the task is not finalised: skipped;
 *     replace: those runs are asked to cancel (their record's "cancel",
 *     written with a compare on its mod_revision, as POST /v1/runs/{id}/
 *     cancel does) and the new run starts;
 *   - it is older than starting_deadline (no leader then, a clock jump):
 *     misfire skip records it missed; run_once starts one run for the
 *     newest missed time.
 * A time that makes no run still gets its fired key (with why) and an
 * event, in one create-if-absent transaction, so that it is recorded
 * once and never looked at again.
 *
 * LEURA_TEST_CLOCK_OFFSET (seconds, honoured only with LEURA_TEST=1) moves
 * this thread's clock, for tests of firings, misfires and clock jumps.
 */
#define LR_LOG_COMPONENT "cron"

#include <inttypes.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <uv.h>

#include "clock.h"
#include "cron.h"
#include "etcd.h"
#include "json.h"
#include "keys.h"
#include "leurad.h"
#include "load.h"
#include "log.h"
#include "run.h"
#include "scheduler.h"
#include "source.h"
#include "spec.h"
#include "xalloc.h"

#define CRON_TICK_MS		1000
#define CRON_RELOAD_RETRY_S	30
/* due times counted one by one before counting from a year ago */
#define CRON_DUE_MAX		100000
/* a task's fired keys kept behind its newest */
#define CRON_KEEP_S		86400

struct cron_state {
	struct srv	*s;			/* borrowed */
	struct etcd	*e;			/* owned */
	uv_thread_t	 thread;
	bool		 started;
	atomic_int	 stop;
	int64_t		 clock_offset;		/* seconds */
	/* the thread's own */
	bool		 leading;
	int64_t		 head_rev;		/* of the schedules; 0: none */
	int64_t		 head_at;		/* the head's deploy time */
	int64_t		 retry_at;		/* after a failed reload */
	bool		 said_no_source;
	struct cron_sched *scheds;		/* owned */
	size_t		 nscheds;
};

static struct cron_state *cron_state;	/* the one of this process */

/* ---- pure ---- */

int
cron_sched_next(const struct cron_sched *c, int64_t after, int64_t *next)
{
	if (c->cron == NULL) {
		if (c->at <= after)
			return -1;
		*next = c->at;
		return 0;
	}
	return sched_cron_next_tz(c->cron, c->tz, after, next);
}

void
cron_due(const struct cron_sched *c, int64_t now, struct cron_due *out)
{
	int64_t	 t = c->cursor, x, n = 0, newest = 0;

	memset(out, 0, sizeof(*out));
	while (cron_sched_next(c, t, &x) == 0 && x <= now) {
		newest = x;
		t = x;
		if (++n == CRON_DUE_MAX && now - 366 * 86400 > t)
			t = now - 366 * 86400;	/* n is then a floor */
	}
	if (n == 0)
		return;
	out->time = newest;
	out->older = n - 1;
	out->what = now - newest <= c->deadline_s ? CRON_FIRE : CRON_MISSED;
}

void
cron_sched_release(struct cron_sched *c)
{
	free(c->task);
	free(c->expr);
	sched_cron_free(c->cron);
	sched_tz_free(c->tz);
	memset(c, 0, sizeof(*c));
}

/* ---- schedules of the deployed commit ---- */

static void
drop_scheds(struct cron_state *cs)
{
	size_t	 i;

	for (i = 0; i < cs->nscheds; i++)
		cron_sched_release(&cs->scheds[i]);
	free(cs->scheds);
	cs->scheds = NULL;
	cs->nscheds = 0;
}

/* Task t's schedule into c: 0, or -1 (logged) when it cannot be read. */
static int
sched_of(const struct spec_task *t, struct cron_sched *c)
{
	char	 why[256];

	memset(c, 0, sizeof(*c));
	c->cursor = INT64_MIN;
	c->overlap = (int)t->overlap;
	c->misfire = (int)t->misfire;
	c->deadline_s = t->starting_deadline_ms > 0 ?
	    (t->starting_deadline_ms + 999) / 1000 : 600;
	if (t->timezone != NULL && sched_tz_load(NULL, t->timezone, &c->tz,
	    why, sizeof(why)) < 0)
		goto bad;
	if (t->cron != NULL) {
		if (sched_cron_parse(t->cron, &c->cron, why, sizeof(why),
		    NULL) < 0)
			goto bad;
		c->expr = lr_xstrdup(t->cron);
	} else {
		if (sched_at_parse_tz(t->at, c->tz, &c->at, why,
		    sizeof(why)) < 0)
			goto bad;
		c->expr = lr_xstrdup(t->at);
	}
	c->task = lr_xstrdup(t->name);
	return 0;
bad:
	lr_log_warn("task '%s': its schedule cannot be read, it will not "
	    "fire: %s", t->name, why);
	cron_sched_release(c);
	return -1;
}

static int64_t
parse_iso(const char *s)
{
	char	 why[128];
	int64_t	 t;

	if (s == NULL || sched_at_parse(s, &t, why, sizeof(why)) < 0)
		return 0;
	return t;
}

/*
 * Read P/desired/head; when it moved since the schedules were read,
 * read them again from its commit, keeping the cursors of the tasks that
 * stay.  0, or an LR_E* (logged).
 */
static int
load_head(struct cron_state *cs, int64_t now)
{
	struct srv *s = cs->s;
	struct etcd_kv kv = { 0 };
	struct rec_load l;
	struct lr_err err;
	struct cron_sched *ns = NULL, *old;
	json_t	*head = NULL;
	char	*key;
	size_t	 i, j, n = 0;
	int	 rc;

	if (s->source == NULL) {
		if (!cs->said_no_source)
			lr_log_info("no git source (--source): task schedules "
			    "are not read");
		cs->said_no_source = true;
		return 0;
	}
	lr_err_clear(&err);
	key = proto_key_head(s->prefix);
	rc = etcd_get(cs->e, key, &kv, NULL, &err);
	free(key);
	if (rc == LR_ENOENT) {
		drop_scheds(cs);
		cs->head_rev = 0;
		return 0;
	}
	if (rc < 0) {
		lr_log_warn("cannot read the deployed head: %s", err.msg);
		return rc;
	}
	if (kv.mod_revision == cs->head_rev || now < cs->retry_at) {
		etcd_kv_release(&kv);
		return 0;
	}
	head = json_loadb(kv.value, kv.value_len, 0, NULL);
	memset(&l, 0, sizeof(l));
	rc = LR_EINVAL;
	if (lr_json_str(head, "commit") == NULL ||
	    (rc = src_load_commit(s, cs->e, lr_json_str(head, "commit"),
	    REC_COMPILE_TASKS, &l, &err)) < 0 || l.repo == NULL) {
		lr_log_warn("cannot read the schedules of the deployed commit "
		    "%s: %s", lr_json_str(head, "commit") ?
		    lr_json_str(head, "commit") : "(none)", err.msg[0] ?
		    err.msg : "invalid specs");
		cs->retry_at = now + CRON_RELOAD_RETRY_S;
		goto out;
	}
	ns = lr_xcalloc(l.repo->ntasks + 1, sizeof(*ns));
	for (i = 0; i < l.repo->ntasks; i++) {
		const struct spec_task *t = &l.repo->tasks[i];

		if ((t->cron == NULL && t->at == NULL) ||
		    sched_of(t, &ns[n]) < 0)
			continue;
		for (j = 0; j < cs->nscheds; j++) {
			old = &cs->scheds[j];
			if (strcmp(old->task, ns[n].task) == 0)
				ns[n].cursor = old->cursor;
		}
		n++;
	}
	drop_scheds(cs);
	cs->scheds = ns;
	cs->nscheds = n;
	cs->head_rev = kv.mod_revision;
	cs->head_at = parse_iso(lr_json_str(head, "at"));
	cs->retry_at = 0;
	lr_log_info("%zu scheduled task%s at commit %.12s", n, n == 1 ? "" :
	    "s", lr_json_str(head, "commit"));
	rc = 0;
out:
	rec_load_release(&l);
	json_decref(head);
	etcd_kv_release(&kv);
	return rc;
}

/* ---- fired keys ---- */

/* P/runs/fired/<task>/ (new). */
static char *
fired_dir(const char *p, const char *task)
{
	char	*k = proto_key_run_fired(p, task, 0), *sl;

	if ((sl = strrchr(k, '/')) != NULL)
		sl[1] = '\0';
	return k;
}

/*
 * Where task c stands: the newest fired key's time, else the deploy's.
 * 0, or an LR_E* with err set.
 */
static int
read_cursor(struct cron_state *cs, struct cron_sched *c, struct lr_err *err)
{
	struct etcd_range_req q = { 0 };
	struct etcd_range_result r = { 0 };
	const char *tail;
	char	*dir;
	int	 rc;

	dir = fired_dir(cs->s->prefix, c->task);
	q.key = dir;
	q.flags = ETCD_PREFIX | ETCD_KEYS_ONLY;
	if ((rc = etcd_range(cs->e, &q, &r, err)) == 0) {
		c->cursor = cs->head_at;
		if (r.nkvs > 0) {
			tail = r.kvs[r.nkvs - 1].key + strlen(dir);
			c->cursor = strtoll(tail, NULL, 10);
		}
	}
	etcd_range_result_release(&r);
	free(dir);
	return rc;
}

/* Delete task c's fired keys more than CRON_KEEP_S older than t. */
static void
trim(struct cron_state *cs, const struct cron_sched *c, int64_t t)
{
	struct etcd_range_req q = { 0 };
	struct etcd_range_result r = { 0 };
	struct etcd_txn txn;
	struct etcd_txn_result tr = { 0 };
	struct lr_err err;
	char	*dir, *end;
	size_t	 i;

	if (t - CRON_KEEP_S <= 0)
		return;
	lr_err_clear(&err);
	dir = fired_dir(cs->s->prefix, c->task);
	end = proto_key_run_fired(cs->s->prefix, c->task, t - CRON_KEEP_S);
	q.key = dir;
	q.range_end = end;
	q.flags = ETCD_KEYS_ONLY;
	q.limit = 64;		/* the rest at the next firing */
	etcd_txn_init(&txn);
	if (etcd_range(cs->e, &q, &r, &err) == 0 && r.nkvs > 0) {
		for (i = 0; i < r.nkvs; i++)
			etcd_txn_delete(&txn, ETCD_THEN, r.kvs[i].key, 0);
		if (etcd_txn_commit(cs->e, &txn, &tr, &err) < 0)
			lr_log_debug("cannot trim the fired keys of '%s': %s",
			    c->task, err.msg);
	}
	etcd_txn_result_release(&tr);
	etcd_txn_release(&txn);
	etcd_range_result_release(&r);
	free(dir);
	free(end);
}

/*
 * Record time t of c as handled without a run: its fired key (created if
 * absent) holds detail, and the event action goes with it.  Returns 1
 * when this call recorded it, 0 when the key was there (or this replica
 * no longer leads), or an LR_E*.
 */
static int
mark(struct cron_state *cs, const struct cron_sched *c, int64_t t,
    const char *action, json_t *detail /* stolen */)
{
	struct etcd_txn txn;
	struct etcd_txn_result r = { 0 };
	struct lr_err err;
	char	 res[300], when[LR_TIME_ISO_LEN];
	char	*key, *val, *lkey;
	int	 rc;

	lr_err_clear(&err);
	lr_time_iso(t, when);
	json_object_set_new(detail, "task", json_string(c->task));
	json_object_set_new(detail, "schedule", json_string(c->expr));
	json_object_set_new(detail, "time", json_string(when));
	key = proto_key_run_fired(cs->s->prefix, c->task, t);
	val = json_dumps(detail, JSON_COMPACT);
	lkey = proto_key_leader(cs->s->prefix);
	etcd_txn_init(&txn);
	etcd_txn_cmp_int(&txn, key, ETCD_CMP_CREATE, ETCD_CMP_EQUAL, 0);
	/* a replica deposed meanwhile records nothing */
	etcd_txn_cmp_int(&txn, lkey, ETCD_CMP_CREATE, ETCD_CMP_EQUAL,
	    ldr_leader_rev(cs->s));
	etcd_txn_put(&txn, ETCD_THEN, key, val, strlen(val), 0);
	rc = etcd_txn_commit(cs->e, &txn, &r, &err);
	if (rc < 0) {
		lr_log_warn("task '%s' at %s: cannot record %s: %s", c->task,
		    when, action, err.msg);
		json_decref(detail);
	} else if (!r.succeeded) {
		rc = 0;
		json_decref(detail);
	} else {
		rc = 1;
		snprintf(res, sizeof(res), "tasks/%s", c->task);
		srv_event_put(cs->s, cs->e, "cron", action, res, "skipped",
		    detail);
	}
	etcd_txn_result_release(&r);
	etcd_txn_release(&txn);
	free(val);
	free(key);
	free(lkey);
	return rc;
}

/* ---- overlap ---- */

/*
 * The records of task's runs that are not finalised: an array of
 * {"key","mod","rec"} (new), or NULL with err set.
 */
static json_t *
running_runs(struct cron_state *cs, const char *task, struct lr_err *err)
{
	struct etcd_range_req q = { 0 };
	struct etcd_range_result r = { 0 };
	json_t	*out, *rec;
	char	*dir;
	size_t	 i;

	dir = proto_key_run_docs_dir(cs->s->prefix);
	q.key = dir;
	q.flags = ETCD_PREFIX;
	if (etcd_range(cs->e, &q, &r, err) < 0) {
		free(dir);
		return NULL;
	}
	out = json_array();
	for (i = 0; i < r.nkvs; i++) {
		rec = json_loadb(r.kvs[i].value, r.kvs[i].value_len, 0, NULL);
		if (rec != NULL && lr_json_str(rec, "task") != NULL &&
		    strcmp(lr_json_str(rec, "task"), task) == 0 &&
		    (lr_json_str(rec, "state") == NULL ||
		    strcmp(lr_json_str(rec, "state"), "finalised") != 0))
			json_array_append_new(out, json_pack("{s:s, s:I, s:O}",
			    "key", r.kvs[i].key, "mod",
			    (json_int_t)r.kvs[i].mod_revision, "rec", rec));
		json_decref(rec);
	}
	etcd_range_result_release(&r);
	free(dir);
	return out;
}

/* Ask a run to cancel: its record's "cancel", compared on mod_revision. */
static void
ask_cancel(struct cron_state *cs, const json_t *run, int64_t t)
{
	struct etcd_txn txn;
	struct etcd_txn_result r = { 0 };
	struct lr_err err;
	json_t	*rec = json_deep_copy(json_object_get(run, "rec"));
	char	 now[LR_TIME_ISO_LEN], when[LR_TIME_ISO_LEN], msg[96];
	const char *key = lr_json_str(run, "key");
	char	*val;

	if (json_object_get(rec, "cancel") != NULL) {
		json_decref(rec);
		return;		/* asked already */
	}
	lr_err_clear(&err);
	lr_time_iso_now(now);
	lr_time_iso(t, when);
	snprintf(msg, sizeof(msg), "replaced by the firing of %s", when);
	json_object_set_new(rec, "cancel", json_pack("{s:s, s:s, s:s}", "by",
	    "cron", "at", now, "message", msg));
	val = json_dumps(rec, JSON_COMPACT);
	etcd_txn_init(&txn);
	etcd_txn_cmp_int(&txn, key, ETCD_CMP_MOD, ETCD_CMP_EQUAL,
	    json_integer_value(json_object_get(run, "mod")));
	etcd_txn_put(&txn, ETCD_THEN, key, val, strlen(val), 0);
	if (etcd_txn_commit(cs->e, &txn, &r, &err) < 0)
		lr_log_warn("cannot cancel run %s: %s", lr_json_str(rec, "id"),
		    err.msg);
	else if (r.succeeded)
		lr_log_info("run %s cancelled: %s", lr_json_str(rec, "id"),
		    msg);
	etcd_txn_result_release(&r);
	etcd_txn_release(&txn);
	free(val);
	json_decref(rec);
}

/* ---- firing ---- */

static bool
transient(int rc)
{
	return rc != LR_EINVAL && rc != LR_ENOENT && rc != LR_EPERM;
}

/*
 * Handle due time d of c.  0 when it is done with (fired, skipped,
 * recorded, or made by another leader): the cursor moves past it; an
 * LR_E* to try again at the next tick.
 */
static int
handle(struct cron_state *cs, struct cron_sched *c, const struct cron_due *d,
    int64_t now)
{
	struct run_request rq = { 0 };
	struct lr_err err;
	json_t	*running = NULL, *fired, *out = NULL, *recent = NULL, *v;
	char	 when[LR_TIME_ISO_LEN];
	char	*key = NULL;
	size_t	 i;
	int	 rc;

	lr_err_clear(&err);
	lr_time_iso(d->time, when);
	if (d->what == CRON_MISSED && c->misfire == SPEC_MISFIRE_SKIP) {
		rc = mark(cs, c, d->time, "cron.missed", json_pack("{s:s, s:I,"
		    " s:I}", "skipped", "misfire", "missed",
		    (json_int_t)(d->older + 1), "late_s",
		    (json_int_t)(now - d->time)));
		if (rc == 1) {
			srv_metrics_inc("leurad_cron_skipped_total",
			    "reason=\"misfire\"");
			lr_log_notice("task '%s': missed %s (and %" PRId64
			    " before), misfire skip", c->task, when,
			    d->older);
		}
		return rc < 0 ? rc : 0;
	}
	if (c->overlap != SPEC_OVERLAP_ALLOW) {
		if ((running = running_runs(cs, c->task, &err)) == NULL) {
			lr_log_warn("task '%s' at %s: %s", c->task, when,
			    err.msg);
			return err.code;
		}
		if (json_array_size(running) > 0 &&
		    c->overlap == SPEC_OVERLAP_FORBID) {
			v = json_array();
			for (i = 0; i < json_array_size(running); i++)
				json_array_append_new(v, json_string(
				    lr_json_str(json_object_get(json_array_get(
				    running, i), "rec"), "id")));
			rc = mark(cs, c, d->time, "cron.skipped", json_pack(
			    "{s:s, s:o}", "skipped", "overlap", "running", v));
			if (rc == 1) {
				srv_metrics_inc("leurad_cron_skipped_total",
				    "reason=\"overlap\"");
				lr_log_notice("task '%s': firing of %s skipped:"
				    " a run of it is still going", c->task,
				    when);
			}
			json_decref(running);
			return rc < 0 ? rc : 0;
		}
		for (i = 0; i < json_array_size(running); i++)
			ask_cancel(cs, json_array_get(running, i), d->time);
		json_decref(running);
	}
	key = proto_key_run_fired(cs->s->prefix, c->task, d->time);
	fired = json_pack("{s:s, s:s}", "schedule", c->expr, "time", when);
	if (d->what == CRON_MISSED)
		json_object_set_new(fired, "misfire", json_true());
	if (d->older > 0)
		json_object_set_new(fired, "missed", json_integer(d->older));
	rq.task = c->task;
	rq.by = "cron";
	rq.via = c->cron != NULL ? "cron" : "at";
	rq.force = true;	/* overlap is the schedule's to decide */
	rq.fire_key = key;
	rq.fired = fired;
	rc = run_create(cs->s, cs->e, &rq, &out, &recent, &err);
	if (rc == 0) {
		srv_metrics_inc("leurad_cron_fired_total", "");
		lr_log_notice("task '%s': fired %s: run %s", c->task, when,
		    lr_json_str(out, "id"));
	} else if (rc == LR_EEXIST) {
		rc = 0;		/* another leader made it */
	} else if (!transient(rc)) {
		lr_log_warn("task '%s': firing of %s failed: %s", c->task,
		    when, err.msg);
		v = json_pack("{s:s, s:s}", "skipped", "error", "error",
		    err.msg);
		if (err.hint[0])
			json_object_set_new(v, "hint", json_string(err.hint));
		rc = mark(cs, c, d->time, "cron.failed", v);
		if (rc == 1)
			srv_metrics_inc("leurad_cron_skipped_total",
			    "reason=\"error\"");
		rc = rc < 0 ? rc : 0;
	} else
		lr_log_warn("task '%s': firing of %s: %s (tried again)",
		    c->task, when, err.msg);
	json_decref(out);
	json_decref(recent);
	json_decref(fired);
	free(key);
	return rc;
}

static int64_t
now_s(const struct cron_state *cs)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec + cs->clock_offset;
}

static void
tick(struct cron_state *cs)
{
	struct cron_sched *c;
	struct cron_due d;
	struct lr_err err;
	int64_t	 now;
	size_t	 i;

	if (!ldr_is_leader(cs->s)) {
		if (cs->leading) {
			/* a later leadership reads everything again */
			drop_scheds(cs);
			cs->head_rev = 0;
		}
		cs->leading = false;
		return;
	}
	cs->leading = true;
	now = now_s(cs);
	if (load_head(cs, now) < 0)
		return;
	for (i = 0; i < cs->nscheds && !atomic_load(&cs->stop); i++) {
		c = &cs->scheds[i];
		lr_err_clear(&err);
		if (c->cursor == INT64_MIN && read_cursor(cs, c, &err) < 0) {
			lr_log_warn("task '%s': %s", c->task, err.msg);
			continue;
		}
		now = now_s(cs);
		cron_due(c, now, &d);
		if (d.what == CRON_NONE || !ldr_is_leader(cs->s))
			continue;
		if (handle(cs, c, &d, now) == 0) {
			c->cursor = d.time;
			trim(cs, c, d.time);
		}
	}
}

static void
cron_main(void *arg)
{
	struct cron_state *cs = arg;
	long	 next = lr_now_ms();

	while (!atomic_load(&cs->stop)) {
		tick(cs);
		next += CRON_TICK_MS;
		if (next < lr_now_ms())
			next = lr_now_ms();
		while (!atomic_load(&cs->stop) && lr_now_ms() < next)
			lr_sleep_ms(next - lr_now_ms() > 100 ? 100 :
			    next - lr_now_ms());
	}
}

/* ---- hooks ---- */

int
cron_init(struct srv *s, struct lr_err *err)
{
	struct cron_state *cs;
	const char *t = getenv("LEURA_TEST"), *off;
	char	*end;

	cs = lr_xcalloc(1, sizeof(*cs));	/* freed by cron_free */
	cs->s = s;
	atomic_init(&cs->stop, 0);
	off = getenv("LEURA_TEST_CLOCK_OFFSET");
	if (t != NULL && strcmp(t, "1") == 0 && off != NULL && *off != '\0') {
		cs->clock_offset = strtoll(off, &end, 10);
		if (*end != '\0') {
			free(cs);
			return lr_err_set(err, LR_EINVAL, "invalid "
			    "LEURA_TEST_CLOCK_OFFSET '%s': expected seconds",
			    off);
		}
		lr_log_warn("test clock: schedules run %" PRId64 " s off the "
		    "wall clock", cs->clock_offset);
	}
	if (ldr_etcd_new(s, &cs->e, err) < 0) {
		free(cs);
		return err->code;
	}
	if (uv_thread_create(&cs->thread, cron_main, cs) != 0) {
		etcd_free(cs->e);
		free(cs);
		return lr_err_set(err, LR_EIO, "cannot start the cron thread");
	}
	cs->started = true;
	cron_state = cs;
	return 0;
}

void
cron_free(struct srv *s)
{
	struct cron_state *cs = cron_state;

	(void)s;
	if (cs == NULL)
		return;
	atomic_store(&cs->stop, 1);
	if (cs->started)
		uv_thread_join(&cs->thread);
	drop_scheds(cs);
	etcd_free(cs->e);
	free(cs);
	cron_state = NULL;
}
