/*
 * follow: the pure decisions of following a rollout (follow.h).  The
 * store's keys go in (rec_follow_put/del), states and changes come out;
 * the reading and printing are the caller's.  Keys are cut and reports
 * read with proto/ (keys.h, report.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doc.h"
#include "follow.h"
#include "json.h"
#include "keys.h"
#include "report.h"
#include "state.h"
#include "xalloc.h"

static const char *const state_ids[REC_FOLLOW_NSTATES] = {
	"down", "starting", "converging", "waiting", "converged", "failed",
	"drifted", "blocked", "unknown"
};

const char *
rec_follow_state_name(enum rec_follow_state s)
{
	return (unsigned)s < REC_FOLLOW_NSTATES ? state_ids[s] : "unknown";
}

const char *
rec_follow_state_shown(enum rec_follow_state s)
{
	return s == REC_FOLLOW_DOWN ? "agent down" : rec_follow_state_name(s);
}

bool
rec_follow_state_done(enum rec_follow_state s)
{
	return s >= REC_FOLLOW_CONVERGED;
}

/* The first service whose validate steps the report says failed, or NULL. */
static const char *
unvalidated(const json_t *report)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)json_object_get(report,
	    PROTO_REPORT_SERVICES), k, v)
		if (json_is_false(json_object_get(v, PROTO_SERVICE_VALIDATED)))
			return k;
	return NULL;
}

/* Whether host's report says it failed (or drifted) at its target. */
static bool
has_failed(const char *host, const json_t *observed, const json_t *targets)
{
	const json_t *r = json_object_get(observed, host);
	const char *s = lr_json_str(r, PROTO_REPORT_STATE);

	if (!json_is_object(r) || (strcmp(s, PROTO_STATE_FAILED) != 0 &&
	    strcmp(s, PROTO_STATE_DRIFTED) != 0))
		return false;
	return lr_json_int(r, PROTO_REPORT_GENERATION) >=
	    lr_json_int(targets, host);
}

/*
 * The host whose failure stops host's wait for good, or NULL while it can
 * still go on: the host it waits for when that one failed at its target,
 * else, when that one is itself waiting at its target, the failure that
 * stops it in turn (a max_parallel chain, a dependency of a dependency).
 * A chain longer than the hosts there are is a cycle of waits, which no
 * failure ends: NULL.
 */
static const char *
blocker(const char *host, const json_t *observed, const json_t *targets)
{
	struct proto_report rr;
	const json_t *r;
	size_t hops, max = json_object_size(observed);
	const char *on;

	for (hops = 0; hops <= max; hops++) {
		r = json_object_get(observed, host);
		if (!json_is_object(r))
			return NULL;
		proto_report_decode(r, &rr);
		on = rr.waiting_host;
		if (*rr.waiting == '\0' || *on == '\0' || strcmp(on, host) == 0)
			return NULL;
		if (has_failed(on, observed, targets))
			return on;
		/* a wait of an earlier generation may be over already */
		r = json_object_get(observed, on);
		if (!json_is_object(r) || strcmp(lr_json_str(r,
		    PROTO_REPORT_STATE), PROTO_STATE_CONVERGING) != 0 ||
		    lr_json_int(r, PROTO_REPORT_GENERATION) <
		    lr_json_int(targets, on))
			return NULL;
		host = on;
	}
	return NULL;
}

/*
 * Why a blocked host waits for good, in one statement: the agent's
 * waiting text without its parenthesised view of the other host (written
 * when the wait began, "(converging)", it contradicts what is known
 * now), then what stopped it.
 */
static char *
blocked_reason(const char *waiting, const char *on, const char *failed,
    const json_t *observed)
{
	size_t n = strlen(waiting), k = strlen(on);
	const char *p, *st = lr_json_str(json_object_get(observed, failed),
	    PROTO_REPORT_STATE);

	if (n > 0 && waiting[n - 1] == ')' &&
	    (p = strrchr(waiting, '(')) != NULL && p > waiting &&
	    p[-1] == ' ')
		n = (size_t)(p - waiting) - 1;
	/* the text ends naming the host: "... on db1" */
	if (n > k + 1 && memcmp(waiting + n - k, on, k) == 0 &&
	    waiting[n - k - 1] == ' ') {
		if (strcmp(on, failed) == 0)
			return lr_xasprintf("%.*s, which %s", (int)n, waiting,
			    st);
		return lr_xasprintf("%.*s, which waits on %s, which %s",
		    (int)n, waiting, failed, st);
	}
	if (strcmp(on, failed) == 0)
		return lr_xasprintf("%.*s; %s %s", (int)n, waiting, on, st);
	return lr_xasprintf("%.*s; %s waits on %s, which %s", (int)n, waiting,
	    on, failed, st);
}

enum rec_follow_state
rec_follow_decide(const char *host, int64_t gen, const json_t *observed,
    const json_t *agents, const json_t *targets, char **detail)
{
	const json_t *r = json_object_get(observed, host);
	struct proto_report rr;
	const char *s, *svc, *on, *by;
	int64_t og;

	*detail = NULL;
	if (r != NULL && !json_is_object(r)) {
		*detail = lr_xstrdup("its report in etcd is not a JSON object");
		return REC_FOLLOW_UNKNOWN;
	}
	proto_report_decode(r, &rr);
	og = rr.generation;
	s = rr.state;
	if (r != NULL && og >= gen && strcmp(s, PROTO_STATE_CONVERGING) != 0) {
		if (strcmp(s, PROTO_STATE_CONVERGED) == 0) {
			if ((svc = unvalidated(r)) == NULL)
				return REC_FOLLOW_CONVERGED;
			*detail = lr_xasprintf("the validate steps of service "
			    "'%s' failed", svc);
			return REC_FOLLOW_FAILED;
		}
		if (strcmp(s, PROTO_STATE_FAILED) == 0) {
			*detail = rec_step_reason(rr.failed_steps,
			    "failed");
			return REC_FOLLOW_FAILED;
		}
		if (strcmp(s, PROTO_STATE_DRIFTED) == 0) {
			*detail = rec_step_reason(rr.drift, "drifted");
			return REC_FOLLOW_DRIFTED;
		}
		*detail = *s ? lr_xasprintf("the agent reports an unknown "
		    "state '%s'", s) : lr_xstrdup("the agent's report has no "
		    "state");
		return REC_FOLLOW_UNKNOWN;
	}
	if (json_object_get(agents, host) == NULL)
		return REC_FOLLOW_DOWN;
	if (r == NULL) {
		*detail = lr_xstrdup("no report yet");
		return REC_FOLLOW_CONVERGING;
	}
	if (og < gen) {
		*detail = lr_xasprintf("still at generation %lld",
		    (long long)og);
		return REC_FOLLOW_CONVERGING;
	}
	if (*rr.waiting) {
		/* the agent names the host it waits for */
		on = rr.waiting_host;
		if ((by = blocker(host, observed, targets)) != NULL) {
			*detail = blocked_reason(rr.waiting, on, by, observed);
			return REC_FOLLOW_BLOCKED;
		}
		*detail = lr_xstrdup(rr.waiting);
		return REC_FOLLOW_WAITING;
	}
	if (*rr.current)
		*detail = lr_xstrdup(proto_step_name(rr.current));
	return REC_FOLLOW_CONVERGING;
}

void
rec_follow_fmt_ms(long ms, bool precise, char *buf, size_t len)
{
	long s;

	if (ms < 0)
		ms = 0;
	s = ms / 1000;
	if (precise && ms < 1000)
		snprintf(buf, len, "%ldms", ms);
	else if (precise && ms < 60000)
		snprintf(buf, len, "%ld.%lds", s, (ms % 1000) / 100);
	else if (s < 60)
		snprintf(buf, len, "%lds", s);
	else if (s < 3600 && s % 60 == 0)
		snprintf(buf, len, "%ldm", s / 60);
	else if (s < 3600)
		snprintf(buf, len, "%ldm%02lds", s / 60, s % 60);
	else if ((s % 3600) / 60 == 0)
		snprintf(buf, len, "%ldh", s / 3600);
	else
		snprintf(buf, len, "%ldh%02ldm", s / 3600, (s % 3600) / 60);
}

/* The order states are listed in, in the progress and summary lines. */
const enum rec_follow_state rec_follow_order[REC_FOLLOW_NORDER] = {
	REC_FOLLOW_STARTING, REC_FOLLOW_CONVERGING, REC_FOLLOW_WAITING,
	REC_FOLLOW_DOWN,
	REC_FOLLOW_FAILED, REC_FOLLOW_DRIFTED, REC_FOLLOW_BLOCKED,
	REC_FOLLOW_UNKNOWN
};

void
rec_follow_count(const struct rec_follow_host *hosts, size_t n,
    size_t count[REC_FOLLOW_NSTATES])
{
	size_t i;

	memset(count, 0, REC_FOLLOW_NSTATES * sizeof(count[0]));
	for (i = 0; i < n; i++)
		count[hosts[i].state]++;
}

void
rec_follow_progress(const struct rec_follow_host *hosts, size_t n,
    int64_t deploy, long elapsed_ms, struct lr_buf *b)
{
	size_t count[REC_FOLLOW_NSTATES], i, k;
	const struct rec_follow_host *first;
	enum rec_follow_state s;
	char t[32];

	rec_follow_count(hosts, n, count);
	lr_buf_printf(b, "deploy #%lld: %zu/%zu converged", (long long)deploy,
	    count[REC_FOLLOW_CONVERGED], n);
	for (k = 0; k < REC_FOLLOW_NORDER; k++) {
		s = rec_follow_order[k];
		if (count[s] == 0 && s != REC_FOLLOW_FAILED)
			continue;
		lr_buf_printf(b, ", %zu %s", count[s],
		    rec_follow_state_shown(s));
		if (count[s] == 0)
			continue;
		for (first = NULL, i = 0; i < n && first == NULL; i++)
			if (hosts[i].state == s)
				first = &hosts[i];
		/* what reports say is shown, never acted on (a terminal) */
		lr_buf_adds(b, " (");
		lr_buf_add_visible(b, first->name, strlen(first->name), 0);
		/* the step or the waiting text; failures are printed apart */
		if ((s == REC_FOLLOW_CONVERGING || s == REC_FOLLOW_WAITING) &&
		    first->detail != NULL) {
			lr_buf_adds(b, ": ");
			lr_buf_add_visible(b, first->detail,
			    strlen(first->detail), 0);
		}
		if (count[s] > 1)
			lr_buf_printf(b, ", +%zu", count[s] - 1);
		lr_buf_addc(b, ')');
	}
	if (elapsed_ms >= 0) {
		rec_follow_fmt_ms(elapsed_ms, false, t, sizeof(t));
		lr_buf_printf(b, "  %s", t);
	}
}

/* ---- a rollout followed ---- */

static int
cmp_host(const void *a, const void *b)
{
	return strcmp(((const struct rec_follow_host *)a)->name,
	    ((const struct rec_follow_host *)b)->name);
}

void
rec_follow_init(struct rec_follow *f, const char *prefix,
    const json_t *targets, int64_t min_revision)
{
	const char *k;
	json_t *v;

	memset(f, 0, sizeof(*f));
	f->targets = targets;
	f->min_revision = min_revision;
	f->obs_pfx = proto_key_observed_dir(prefix);
	f->agt_pfx = proto_key_agents_dir(prefix);
	f->observed = json_object();
	f->agents = json_object();
	f->hosts = lr_xcalloc(json_object_size(targets) + 1, sizeof(*f->hosts));
	json_object_foreach((json_t *)targets, k, v) {
		f->hosts[f->n].name = lr_xstrdup(k);
		f->hosts[f->n].generation = json_integer_value(v);
		f->hosts[f->n].took_ms = -1;
		f->n++;
	}
	qsort(f->hosts, f->n, sizeof(*f->hosts), cmp_host);
}

void
rec_follow_release(struct rec_follow *f)
{
	size_t i;

	for (i = 0; i < f->n; i++) {
		free(f->hosts[i].name);
		free(f->hosts[i].detail);
	}
	free(f->hosts);
	json_decref(f->observed);
	json_decref(f->agents);
	free(f->obs_pfx);
	free(f->agt_pfx);
	memset(f, 0, sizeof(*f));
}

/* The host followed of that name, or NULL. */
static struct rec_follow_host *
find_host(struct rec_follow *f, const char *name)
{
	struct rec_follow_host key = { .name = (char *)name };

	return bsearch(&key, f->hosts, f->n, sizeof(*f->hosts), cmp_host);
}

void
rec_follow_put(struct rec_follow *f, const struct etcd_kv *kv)
{
	struct rec_follow_host *fh;
	struct lr_err err;
	const char *h;
	json_t *v;

	if (kv->mod_revision < f->min_revision)
		return;
	if ((h = proto_key_host_in(kv->key, f->obs_pfx)) != NULL) {
		v = proto_value_parse(kv->key, kv->value, kv->value_len,
		    &err);
		/* a value that is no object is reported as unreadable */
		json_object_set_new(f->observed, h, v ? v : json_false());
	} else if ((h = proto_key_host_in(kv->key, f->agt_pfx)) != NULL) {
		json_object_set_new(f->agents, h, json_true());
		if ((fh = find_host(f, h)) != NULL)
			fh->agent_seen = true;
	}
}

void
rec_follow_del(struct rec_follow *f, const char *key)
{
	const char *h;

	if ((h = proto_key_host_in(key, f->obs_pfx)) != NULL)
		json_object_del(f->observed, h);
	else if ((h = proto_key_host_in(key, f->agt_pfx)) != NULL)
		json_object_del(f->agents, h);
}

void
rec_follow_clear(struct rec_follow *f)
{
	json_object_clear(f->observed);
	json_object_clear(f->agents);
}

bool
rec_follow_update(struct rec_follow *f, long elapsed_ms)
{
	struct rec_follow_host *h;
	enum rec_follow_state s;
	struct proto_report rr;
	char *detail;
	bool all = true, changed;
	size_t i;

	for (i = 0; i < f->n; i++) {
		h = &f->hosts[i];
		h->changed = false;
		if (rec_follow_state_done(h->state) && h->shown)
			continue;
		s = rec_follow_decide(h->name, h->generation, f->observed,
		    f->agents, f->targets, &detail);
		if (s == REC_FOLLOW_DOWN && f->starting && !h->agent_seen)
			s = REC_FOLLOW_STARTING;
		changed = !h->shown || s != h->state;
		/* a new waiting reason is news; a new step only on a tty */
		if (!changed && s == REC_FOLLOW_WAITING && (detail == NULL) !=
		    (h->detail == NULL))
			changed = true;
		else if (!changed && s == REC_FOLLOW_WAITING && detail &&
		    strcmp(detail, h->detail) != 0)
			changed = true;
		if (s == REC_FOLLOW_CONVERGED) {
			proto_report_decode(json_object_get(f->observed,
			    h->name), &rr);
			if (rr.has_run && rr.run.duration_ms >= 0)
				h->took_ms = (long)rr.run.duration_ms;
			else if (h->shown)	/* seen pending in this wait */
				h->took_ms = elapsed_ms;
		}
		h->state = s;
		free(h->detail);
		h->detail = detail;
		h->changed = changed;
		h->shown = true;
		if (!rec_follow_state_done(s))
			all = false;
	}
	return all;
}

bool
rec_follow_all_converged(const struct rec_follow *f)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (f->hosts[i].state != REC_FOLLOW_CONVERGED)
			return false;
	return true;
}
