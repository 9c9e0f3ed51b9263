/*
 * wait: follow a deploy until its hosts are done (wait.h).
 *
 * The reports and heartbeats are read once under P/observed/ and
 * P/agents/, then followed with one blocking watch on the range from
 * P/agents/ to the end of P/observed/ (what sorts between them, desired/
 * and the rest, is filtered out; it changes only when someone applies
 * meanwhile).  One stream for the whole wait: the watch's tick redraws
 * the clock and notices etcd coming back, its stop flag (Ctrl-C) and
 * deadline end it.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "clock.h"
#include "state.h"
#include "wait.h"
#include "xalloc.h"

#define TICK_MS		1000	/* redraw the clock */
#define OUTPUT_LINES	5	/* the end of a failed step's output */
#define LIST_MAX	5	/* hosts named in an error */

/* etcd_watch callback results (positive: never an LR_E* code) */
enum { WATCH_ALL_DONE = 1, WATCH_STOP = 2 };

static const char *const state_ids[CMD_WAIT_NSTATES] = {
	"down", "converging", "waiting", "converged", "failed", "drifted",
	"blocked", "unknown"
};

const char *
cmd_wait_state_name(enum cmd_wait_state s)
{
	return (unsigned)s < CMD_WAIT_NSTATES ? state_ids[s] : "unknown";
}

/* As people read it: "agent down" rather than "down". */
static const char *
shown_name(enum cmd_wait_state s)
{
	return s == CMD_WAIT_DOWN ? "agent down" : cmd_wait_state_name(s);
}

bool
cmd_wait_state_done(enum cmd_wait_state s)
{
	return s >= CMD_WAIT_CONVERGED;
}

/* ---- pure decisions --------------------------------------------------- */

static const char *
jstr(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

static int64_t
jint(const json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

/* The name of a step from its id "<service>/<role>/<phase>/<name>". */
static const char *
step_name(const char *id)
{
	const char *p = id;
	int i;

	for (i = 0; i < 3; i++) {
		if ((p = strchr(p, '/')) == NULL)
			return id;
		p++;
	}
	return *p ? p : id;
}

/* "step 'ID' failed: exit 3" (+ " (and N more)"), as leura status says. */
static char *
step_reason(const json_t *list, const char *what)
{
	const json_t *f = json_array_get(list, 0);
	struct lr_buf b = LR_BUF_INIT;

	if (f == NULL)
		return lr_xasprintf("the agent reports the host %s", what);
	lr_buf_printf(&b, "step '%s' %s", jstr(f, "id"), what);
	if (json_is_integer(json_object_get(f, "exit")))
		lr_buf_printf(&b, ": exit %lld", (long long)jint(f, "exit"));
	else if (*jstr(f, "error"))
		lr_buf_printf(&b, ": %s", jstr(f, "error"));
	else if (*jstr(f, "detail"))
		lr_buf_printf(&b, ": %s", jstr(f, "detail"));
	if (json_array_size(list) > 1)
		lr_buf_printf(&b, " (and %zu more)", json_array_size(list) - 1);
	return lr_buf_detach(&b, NULL);
}

/* The first service whose validate steps the report says failed, or NULL. */
static const char *
unvalidated(const json_t *report)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)json_object_get(report, "services"), k,
	    v)
		if (json_is_false(json_object_get(v, "validated")))
			return k;
	return NULL;
}

/* Whether host's report says it failed (or drifted) at its target. */
static bool
has_failed(const char *host, const json_t *observed, const json_t *targets)
{
	const json_t *r = json_object_get(observed, host);
	const char *s = jstr(r, "state");

	if (!json_is_object(r) || (strcmp(s, "failed") != 0 &&
	    strcmp(s, "drifted") != 0))
		return false;
	return jint(r, "generation") >= jint(targets, host);
}

enum cmd_wait_state
cmd_wait_decide(const char *host, int64_t gen, const json_t *observed,
    const json_t *agents, const json_t *targets, char **detail)
{
	const json_t *r = json_object_get(observed, host);
	const char *s, *w, *cur, *svc, *on;
	int64_t og;

	*detail = NULL;
	if (r != NULL && !json_is_object(r)) {
		*detail = lr_xstrdup("its report in etcd is not a JSON object");
		return CMD_WAIT_UNKNOWN;
	}
	og = jint(r, "generation");
	s = jstr(r, "state");
	if (r != NULL && og >= gen && strcmp(s, "converging") != 0) {
		if (strcmp(s, "converged") == 0) {
			if ((svc = unvalidated(r)) == NULL)
				return CMD_WAIT_CONVERGED;
			*detail = lr_xasprintf("the validate steps of service "
			    "'%s' failed", svc);
			return CMD_WAIT_FAILED;
		}
		if (strcmp(s, "failed") == 0) {
			*detail = step_reason(json_object_get(r,
			    "failed_steps"), "failed");
			return CMD_WAIT_FAILED;
		}
		if (strcmp(s, "drifted") == 0) {
			*detail = step_reason(json_object_get(r, "drift"),
			    "drifted");
			return CMD_WAIT_DRIFTED;
		}
		*detail = *s ? lr_xasprintf("the agent reports an unknown "
		    "state '%s'", s) : lr_xstrdup("the agent's report has no "
		    "state");
		return CMD_WAIT_UNKNOWN;
	}
	if (json_object_get(agents, host) == NULL)
		return CMD_WAIT_DOWN;
	if (r == NULL) {
		*detail = lr_xstrdup("no report yet");
		return CMD_WAIT_CONVERGING;
	}
	if (og < gen) {
		*detail = lr_xasprintf("still at generation %lld",
		    (long long)og);
		return CMD_WAIT_CONVERGING;
	}
	if (*(w = jstr(r, "waiting"))) {
		/* the agent names the host it waits for */
		on = jstr(json_object_get(r, "waiting_for"), "host");
		if (*on && strcmp(on, host) != 0 && has_failed(on, observed,
		    targets)) {
			*detail = lr_xasprintf("%s; %s %s", w, on, jstr(
			    json_object_get(observed, on), "state"));
			return CMD_WAIT_BLOCKED;
		}
		*detail = lr_xstrdup(w);
		return CMD_WAIT_WAITING;
	}
	if (*(cur = jstr(r, "current")))
		*detail = lr_xstrdup(step_name(cur));
	return CMD_WAIT_CONVERGING;
}

void
cmd_wait_fmt_ms(long ms, bool precise, char *buf, size_t len)
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
static const enum cmd_wait_state list_order[] = {
	CMD_WAIT_CONVERGING, CMD_WAIT_WAITING, CMD_WAIT_DOWN,
	CMD_WAIT_FAILED, CMD_WAIT_DRIFTED, CMD_WAIT_BLOCKED, CMD_WAIT_UNKNOWN
};

static void
count_states(const struct cmd_wait_host *hosts, size_t n,
    size_t count[CMD_WAIT_NSTATES])
{
	size_t i;

	memset(count, 0, CMD_WAIT_NSTATES * sizeof(count[0]));
	for (i = 0; i < n; i++)
		count[hosts[i].state]++;
}

void
cmd_wait_progress(const struct cmd_wait_host *hosts, size_t n,
    int64_t deploy, long elapsed_ms, struct lr_buf *b)
{
	size_t count[CMD_WAIT_NSTATES], i, k;
	const struct cmd_wait_host *first;
	enum cmd_wait_state s;
	char t[32];

	count_states(hosts, n, count);
	lr_buf_printf(b, "deploy #%lld: %zu/%zu converged", (long long)deploy,
	    count[CMD_WAIT_CONVERGED], n);
	for (k = 0; k < sizeof(list_order) / sizeof(list_order[0]); k++) {
		s = list_order[k];
		if (count[s] == 0 && s != CMD_WAIT_FAILED)
			continue;
		lr_buf_printf(b, ", %zu %s", count[s], shown_name(s));
		if (count[s] == 0)
			continue;
		for (first = NULL, i = 0; i < n && first == NULL; i++)
			if (hosts[i].state == s)
				first = &hosts[i];
		lr_buf_printf(b, " (%s", first->name);
		/* the step or the waiting text; failures are printed apart */
		if ((s == CMD_WAIT_CONVERGING || s == CMD_WAIT_WAITING) &&
		    first->detail != NULL)
			lr_buf_printf(b, ": %s", first->detail);
		if (count[s] > 1)
			lr_buf_printf(b, ", +%zu", count[s] - 1);
		lr_buf_addc(b, ')');
	}
	if (elapsed_ms >= 0) {
		cmd_wait_fmt_ms(elapsed_ms, false, t, sizeof(t));
		lr_buf_printf(b, "  %s", t);
	}
}

/* ---- the runner ------------------------------------------------------- */

struct waiter {
	const struct cmd_wait_opts *o;
	struct etcd *e;
	const json_t *targets;
	char	*obs_pfx, *agt_pfx;	/* "P/observed/", "P/agents/" */
	json_t	*observed, *agents;
	struct cmd_wait_host *hosts;
	size_t	 n;
	int64_t	 next_rev;
	long	 start_ms;
	bool	 drawn;		/* a progress line is on the screen */
	bool	 disconnected;	/* etcd is away */
	struct lr_buf line;
};

bool
cmd_wait_tty(void)
{
	const char *t = getenv("TERM");

	return isatty(STDOUT_FILENO) && t != NULL && *t &&
	    strcmp(t, "dumb") != 0;
}

static int
tty_cols(void)
{
	struct winsize ws;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 10)
		return ws.ws_col;
	return 80;
}

static void
erase_progress(struct waiter *w)
{
	if (w->drawn) {
		fputs("\r\033[K", stdout);
		w->drawn = false;
	}
}

static void
draw_progress(struct waiter *w)
{
	char clock[32];
	size_t cols, tail;

	if (w->o->output != CMD_WAIT_PROGRESS)
		return;
	lr_buf_reset(&w->line);
	cmd_wait_progress(w->hosts, w->n, w->o->deploy, -1, &w->line);
	if (w->disconnected)
		lr_buf_adds(&w->line, "; etcd unreachable, retrying");
	clock[0] = clock[1] = ' ';
	cmd_wait_fmt_ms(lr_now_ms() - w->start_ms, false, clock + 2,
	    sizeof(clock) - 2);
	/* one screen line, or \r cannot take it back; the clock stays */
	cols = (size_t)tty_cols() - 1;
	tail = strlen(clock);
	if (w->line.len + tail > cols && cols > tail + 3)
		printf("\r%.*s...%s\033[K", (int)(cols - 3 - tail), w->line.s,
		    clock);
	else
		printf("\r%.*s%s\033[K", (int)(cols > tail ? cols - tail : 0),
		    w->line.s, clock);
	fflush(stdout);
	w->drawn = true;
}

/*
 * The last lines of the failed step's output (the report keeps its
 * end), indented.
 */
static void
print_output(const json_t *report, enum cmd_wait_state s)
{
	const json_t *f = json_array_get(json_object_get(report,
	    s == CMD_WAIT_DRIFTED ? "drift" : "failed_steps"), 0);
	const char *out = jstr(f, "output"), *p;
	size_t len = strlen(out);
	int n = 0;

	while (len > 0 && out[len - 1] == '\n')
		len--;
	for (p = out + len; p > out; p--)
		if (p[-1] == '\n' && ++n == OUTPUT_LINES)
			break;
	if (p > out)
		printf("    ...\n");
	while (p < out + len) {
		const char *nl = memchr(p, '\n', (size_t)(out + len - p));
		size_t k = nl ? (size_t)(nl - p) : (size_t)(out + len - p);

		printf("    %.*s\n", (int)k, p);
		p += k + (nl != NULL);
	}
}

static void
print_change(struct waiter *w, const struct cmd_wait_host *h)
{
	const json_t *r = json_object_get(w->observed, h->name);
	enum cmd_wait_state s = h->state;
	char t[32];

	if (w->o->output == CMD_WAIT_QUIET)
		return;
	/* on a terminal the progress line carries the pending states */
	if (w->o->output == CMD_WAIT_PROGRESS && (!cmd_wait_state_done(s) ||
	    s == CMD_WAIT_CONVERGED))
		return;
	erase_progress(w);
	printf("%s: %s", h->name, shown_name(s));
	if (s == CMD_WAIT_CONVERGED && h->took_ms >= 0) {
		cmd_wait_fmt_ms(h->took_ms, true, t, sizeof(t));
		printf(" in %s", t);
	} else if (s != CMD_WAIT_CONVERGING && h->detail)
		printf(": %s", h->detail);
	putchar('\n');
	if (s == CMD_WAIT_FAILED || s == CMD_WAIT_DRIFTED)
		print_output(r, s);
	fflush(stdout);
}

/* Re-decide the pending hosts, print what changed; true when all done. */
static bool
evaluate(struct waiter *w)
{
	struct cmd_wait_host *h;
	enum cmd_wait_state s;
	const json_t *run;
	char *detail;
	bool all = true, changed;
	size_t i;

	for (i = 0; i < w->n; i++) {
		h = &w->hosts[i];
		if (cmd_wait_state_done(h->state) && h->shown)
			continue;
		s = cmd_wait_decide(h->name, h->generation, w->observed,
		    w->agents, w->targets, &detail);
		changed = !h->shown || s != h->state;
		/* a new waiting reason is news; a new step only on a tty */
		if (!changed && s == CMD_WAIT_WAITING && (detail == NULL) !=
		    (h->detail == NULL))
			changed = true;
		else if (!changed && s == CMD_WAIT_WAITING && detail &&
		    strcmp(detail, h->detail) != 0)
			changed = true;
		if (s == CMD_WAIT_CONVERGED) {
			run = json_object_get(json_object_get(w->observed,
			    h->name), "run");
			if (json_is_integer(json_object_get(run,
			    "duration_ms")))
				h->took_ms = (long)jint(run, "duration_ms");
			else if (h->shown)	/* seen pending in this wait */
				h->took_ms = lr_now_ms() - w->start_ms;
		}
		h->state = s;
		free(h->detail);
		h->detail = detail;
		if (changed)
			print_change(w, h);
		h->shown = true;
		if (!cmd_wait_state_done(s))
			all = false;
	}
	return all;
}

/* "P/observed/HOST" under pfx: HOST, or NULL (other keys, deeper keys). */
static const char *
host_of(const char *key, const char *pfx)
{
	size_t n = strlen(pfx);

	if (strncmp(key, pfx, n) != 0 || key[n] == '\0' ||
	    strchr(key + n, '/') != NULL)
		return NULL;
	return key + n;
}

static void
put_kv(struct waiter *w, const struct etcd_kv *kv)
{
	const char *h;
	json_t *v;

	if (kv->mod_revision < w->o->min_revision)
		return;
	if ((h = host_of(kv->key, w->obs_pfx)) != NULL) {
		v = json_loadb(kv->value, kv->value_len, 0, NULL);
		/* a value that is no object is reported as unreadable */
		json_object_set_new(w->observed, h, v && json_is_object(v) ?
		    v : json_false());
		if (v && !json_is_object(v))
			json_decref(v);
	} else if ((h = host_of(kv->key, w->agt_pfx)) != NULL)
		json_object_set_new(w->agents, h, json_true());
}

static void
del_kv(struct waiter *w, const char *key)
{
	const char *h;

	if ((h = host_of(key, w->obs_pfx)) != NULL)
		json_object_del(w->observed, h);
	else if ((h = host_of(key, w->agt_pfx)) != NULL)
		json_object_del(w->agents, h);
}

static void
reconnected(struct waiter *w)
{
	w->disconnected = false;
	if (w->o->output == CMD_WAIT_LINES)
		fprintf(stderr, "leura: etcd answers again at %s\n",
		    etcd_endpoint(w->e));
}

static int
on_batch(const struct etcd_watch_batch *b, void *arg)
{
	struct waiter *w = arg;
	const struct etcd_event *ev;
	size_t i;

	switch (b->kind) {
	case ETCD_WATCH_EVENTS:
		for (i = 0; i < b->nevents; i++) {
			ev = &b->events[i];
			if (ev->type == ETCD_EV_PUT)
				put_kv(w, &ev->kv);
			else
				del_kv(w, ev->kv.key);
		}
		if (b->nevents)
			w->next_rev = b->events[b->nevents - 1].kv.mod_revision
			    + 1;
		break;
	case ETCD_WATCH_RESYNC:
		json_object_clear(w->observed);
		json_object_clear(w->agents);
		for (i = 0; i < b->nkvs; i++)
			put_kv(w, &b->kvs[i]);
		w->next_rev = b->revision + 1;
		break;
	case ETCD_WATCH_PROGRESS:
		if (b->revision >= w->next_rev)
			w->next_rev = b->revision + 1;
		break;
	case ETCD_WATCH_DISCONNECTED:
		if (!w->disconnected && w->o->output == CMD_WAIT_LINES)
			fprintf(stderr, "leura: warning: %s; retrying\n",
			    b->err ? b->err->msg : "etcd unreachable");
		w->disconnected = true;
		draw_progress(w);
		return w->o->stop && *w->o->stop ? WATCH_STOP : 0;
	}
	if (w->disconnected)
		reconnected(w);
	if (evaluate(w))
		return WATCH_ALL_DONE;
	draw_progress(w);
	return w->o->stop && *w->o->stop ? WATCH_STOP : 0;
}

/*
 * The initial read of one prefix at *rev, or now when *rev is 0 (*rev is
 * then set to the read's).  A read at a past revision answers with the
 * current revision in its header: *rev keeps the one asked for.
 */
static int
load_prefix(struct waiter *w, struct etcd *e, const char *pfx, int64_t *rev,
    struct lr_err *err)
{
	struct etcd_range_req rq = { .key = pfx, .flags = ETCD_PREFIX,
		.revision = *rev };
	struct etcd_range_result r;
	size_t i;
	int rc;

	if ((rc = etcd_range(e, &rq, &r, err)) < 0)
		return rc;
	for (i = 0; i < r.nkvs; i++)
		put_kv(w, &r.kvs[i]);
	if (*rev == 0)
		*rev = r.revision;
	etcd_range_result_release(&r);
	return 0;
}

/* Every TICK_MS on the watch: the clock, and etcd coming back. */
static int
on_tick(bool connected, void *arg)
{
	struct waiter *w = arg;

	if (connected && w->disconnected)
		reconnected(w);
	draw_progress(w);
	return 0;
}

static int
cmp_host(const void *a, const void *b)
{
	return strcmp(((const struct cmd_wait_host *)a)->name,
	    ((const struct cmd_wait_host *)b)->name);
}

/* "web2 (failed: ...), db2 (agent down)" of the hosts not converged. */
static void
list_hosts(const struct waiter *w, struct lr_buf *b)
{
	const struct cmd_wait_host *h;
	size_t i, k = 0, more = 0;

	for (i = 0; i < w->n; i++) {
		h = &w->hosts[i];
		if (h->state == CMD_WAIT_CONVERGED)
			continue;
		if (k == LIST_MAX) {
			more++;
			continue;
		}
		lr_buf_printf(b, "%s%s (%s%s%s)", k ? ", " : "", h->name,
		    shown_name(h->state), h->detail ? ": " : "",
		    h->detail ? h->detail : "");
		k++;
	}
	if (more)
		lr_buf_printf(b, " and %zu more", more);
}

static void
print_summary(struct waiter *w, enum cmd_wait_result res)
{
	size_t count[CMD_WAIT_NSTATES], k;
	enum cmd_wait_state s;
	char t[32];

	if (w->o->output == CMD_WAIT_QUIET)
		return;
	erase_progress(w);
	count_states(w->hosts, w->n, count);
	cmd_wait_fmt_ms(lr_now_ms() - w->start_ms, false, t, sizeof(t));
	if (res == CMD_WAIT_ALL_CONVERGED) {
		printf("deploy #%lld: %s%zu host%s converged in %s\n",
		    (long long)w->o->deploy, w->n > 1 ? "all " : "", w->n,
		    w->n == 1 ? "" : "s", t);
	} else {
		printf("deploy #%lld: %zu/%zu converged",
		    (long long)w->o->deploy, count[CMD_WAIT_CONVERGED], w->n);
		for (k = 0; k < sizeof(list_order) / sizeof(list_order[0]);
		    k++) {
			s = list_order[k];
			if (count[s])
				printf(", %zu %s", count[s], shown_name(s));
		}
		printf(" after %s\n", t);
	}
	fflush(stdout);
}

static void
print_error(struct waiter *w, enum cmd_wait_result res)
{
	struct lr_buf b = LR_BUF_INIT;
	size_t pending = 0, i;
	char t[32];

	for (i = 0; i < w->n; i++)
		if (!cmd_wait_state_done(w->hosts[i].state))
			pending++;
	list_hosts(w, &b);
	if (res == CMD_WAIT_TIMED_OUT) {
		cmd_wait_fmt_ms(w->o->timeout_ms, false, t, sizeof(t));
		fprintf(stderr, "leura: error: deploy #%lld: %zu host%s not "
		    "done after %s: %s\n", (long long)w->o->deploy, pending,
		    pending == 1 ? "" : "s", t, b.s);
		fprintf(stderr, "hint: %s\n", w->o->hint ? w->o->hint :
		    "the rollout goes on without you: 'leura status' shows "
		    "where each host is; --wait-timeout sets how long to wait");
	} else {
		fprintf(stderr, "leura: error: deploy #%lld did not converge: "
		    "%s\n", (long long)w->o->deploy, b.s);
		fprintf(stderr, "hint: %s\n", w->o->hint ? w->o->hint :
		    "'leura status' shows every host; the agent's log on the "
		    "host has the whole output of its steps");
	}
	lr_buf_release(&b);
}

static json_t *
result_json(const struct waiter *w, enum cmd_wait_result res)
{
	static const char *const names[] = { "converged", "failed",
		"timeout", "interrupted", "error" };
	json_t *hosts = json_object(), *o;
	const struct cmd_wait_host *h;
	size_t i;

	for (i = 0; i < w->n; i++) {
		h = &w->hosts[i];
		o = json_pack("{s:s, s:I}", "state", cmd_wait_state_name(
		    h->state), "generation", (json_int_t)h->generation);
		if (h->detail)
			json_object_set_new(o, "detail", json_string(
			    h->detail));
		if (h->state == CMD_WAIT_CONVERGED && h->took_ms >= 0)
			json_object_set_new(o, "took_ms", json_integer(
			    h->took_ms));
		json_object_set_new(hosts, h->name, o);
	}
	return json_pack("{s:s, s:I, s:o}", "result", names[res],
	    "elapsed_ms", (json_int_t)(lr_now_ms() - w->start_ms), "hosts",
	    hosts);
}

enum cmd_wait_result
cmd_wait_run(struct etcd *e, const char *prefix, const json_t *targets,
    const struct cmd_wait_opts *o, json_t **out)
{
	struct waiter w;
	struct etcd_watch_req rq = { 0 };
	struct etcd_watch_opts wo = { 0 };
	struct lr_err err;
	enum cmd_wait_result res;
	char *obs_end = NULL;
	const char *k;
	json_t *v;
	int64_t rev;
	size_t i;
	int rc;

	memset(&w, 0, sizeof(w));
	lr_err_clear(&err);
	w.o = o;
	w.e = e;
	w.targets = targets;
	w.start_ms = lr_now_ms();
	w.obs_pfx = lr_xasprintf("%s/observed/", prefix);
	w.agt_pfx = lr_xasprintf("%s/agents/", prefix);
	w.observed = json_object();
	w.agents = json_object();
	w.hosts = lr_xcalloc(json_object_size(targets) + 1, sizeof(*w.hosts));
	json_object_foreach((json_t *)targets, k, v) {
		w.hosts[w.n].name = lr_xstrdup(k);
		w.hosts[w.n].generation = json_integer_value(v);
		w.hosts[w.n].took_ms = -1;
		w.n++;
	}
	qsort(w.hosts, w.n, sizeof(*w.hosts), cmp_host);

	rev = o->revision;
	if (load_prefix(&w, e, w.obs_pfx, &rev, &err) < 0 ||
	    load_prefix(&w, e, w.agt_pfx, &rev, &err) < 0) {
		lr_err_print(&err);
		res = CMD_WAIT_ERROR;
		goto out;
	}
	w.next_rev = rev + 1;
	obs_end = etcd_prefix_end(w.obs_pfx);
	rq.key = w.agt_pfx;
	rq.range_end = obs_end;
	res = CMD_WAIT_ALL_CONVERGED;
	if (!evaluate(&w)) {
		draw_progress(&w);
		wo.timeout_ms = o->timeout_ms - (lr_now_ms() - w.start_ms);
		wo.stop = o->stop;
		wo.tick_ms = TICK_MS;
		wo.tick = on_tick;
		rq.start_revision = w.next_rev;
		rc = wo.timeout_ms > 0 ? etcd_watch_run(e, &rq, &wo, on_batch,
		    &w, &err) : LR_ECANCELED;
		if (rc == WATCH_STOP || (rc == LR_ECANCELED && o->stop &&
		    *o->stop))
			res = CMD_WAIT_STOPPED;
		else if (rc == LR_ECANCELED)
			res = CMD_WAIT_TIMED_OUT;
		else if (rc != WATCH_ALL_DONE) {
			erase_progress(&w);
			lr_err_print(&err);
			res = CMD_WAIT_ERROR;
			goto out;
		}
	}
	if (res == CMD_WAIT_ALL_CONVERGED)
		for (i = 0; i < w.n; i++)
			if (w.hosts[i].state != CMD_WAIT_CONVERGED)
				res = CMD_WAIT_NOT_CONVERGED;
	if (res == CMD_WAIT_STOPPED)
		erase_progress(&w);
	else
		print_summary(&w, res);
	if (res == CMD_WAIT_NOT_CONVERGED || res == CMD_WAIT_TIMED_OUT)
		print_error(&w, res);
out:
	erase_progress(&w);
	fflush(stdout);
	if (out)
		*out = result_json(&w, res);
	for (i = 0; i < w.n; i++) {
		free(w.hosts[i].name);
		free(w.hosts[i].detail);
	}
	free(w.hosts);
	json_decref(w.observed);
	json_decref(w.agents);
	lr_buf_release(&w.line);
	free(w.obs_pfx);
	free(w.agt_pfx);
	free(obs_end);
	return res;
}
