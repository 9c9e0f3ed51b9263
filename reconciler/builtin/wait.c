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

#include "builtin.h"
#include "clock.h"
#include "json.h"
#include "state.h"
#include "wait.h"
#include "xalloc.h"

#define TICK_MS		1000	/* redraw the clock */
#define OUTPUT_LINES	5	/* the end of a failed step's output */
#define LIST_MAX	5	/* hosts named in an error */

/* etcd_watch callback results (positive: never an LR_E* code) */
enum { WATCH_ALL_DONE = 1, WATCH_STOP = 2 };

/* ---- the runner ------------------------------------------------------- */

struct waiter {
	const struct cmd_wait_opts *o;
	struct etcd *e;
	struct rec_follow f;	/* the hosts and what the store says */
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
	rec_follow_progress(w->f.hosts, w->f.n, w->o->deploy, -1, &w->line);
	if (w->disconnected)
		lr_buf_adds(&w->line, "; etcd unreachable, retrying");
	clock[0] = clock[1] = ' ';
	rec_follow_fmt_ms(lr_now_ms() - w->start_ms, false, clock + 2,
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

/* The end of the failed (or drifted) step's output, indented. */
static void
print_output(const json_t *report, enum rec_follow_state s)
{
	const json_t *f = json_array_get(json_object_get(report,
	    s == REC_FOLLOW_DRIFTED ? "drift" : "failed_steps"), 0);

	cmd_print_tail(lr_json_str(f, "output"), OUTPUT_LINES, "    ");
}

static void
print_change(struct waiter *w, const struct rec_follow_host *h)
{
	const json_t *r = json_object_get(w->f.observed, h->name);
	enum rec_follow_state s = h->state;
	char t[32];

	if (w->o->output == CMD_WAIT_QUIET)
		return;
	/* on a terminal the progress line carries the pending states */
	if (w->o->output == CMD_WAIT_PROGRESS && (!rec_follow_state_done(s) ||
	    s == REC_FOLLOW_CONVERGED))
		return;
	erase_progress(w);
	cmd_fputv(h->name, stdout);
	printf(": %s", rec_follow_state_shown(s));
	if (s == REC_FOLLOW_CONVERGED && h->took_ms >= 0) {
		rec_follow_fmt_ms(h->took_ms, true, t, sizeof(t));
		printf(" in %s", t);
	} else if (s != REC_FOLLOW_CONVERGING && h->detail) {
		fputs(": ", stdout);
		cmd_fputv(h->detail, stdout);
	}
	putchar('\n');
	if (s == REC_FOLLOW_FAILED || s == REC_FOLLOW_DRIFTED)
		print_output(r, s);
	fflush(stdout);
}

/* Re-decide the pending hosts, print what changed; true when all done. */
static bool
evaluate(struct waiter *w)
{
	bool all = rec_follow_update(&w->f, lr_now_ms() - w->start_ms);
	size_t i;

	for (i = 0; i < w->f.n; i++)
		if (w->f.hosts[i].changed)
			print_change(w, &w->f.hosts[i]);
	return all;
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
				rec_follow_put(&w->f, &ev->kv);
			else
				rec_follow_del(&w->f, ev->kv.key);
		}
		if (b->nevents)
			w->next_rev = b->events[b->nevents - 1].kv.mod_revision
			    + 1;
		break;
	case ETCD_WATCH_RESYNC:
		rec_follow_clear(&w->f);
		for (i = 0; i < b->nkvs; i++)
			rec_follow_put(&w->f, &b->kvs[i]);
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
		rec_follow_put(&w->f, &r.kvs[i]);
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

/*
 * "web2 (failed: ...), db2 (agent down)" of the hosts not converged that
 * are still pending (pending) or done (!pending); how many it counted.
 */
static size_t
list_hosts(const struct waiter *w, bool pending, struct lr_buf *b)
{
	const struct rec_follow_host *h;
	size_t i, k = 0;

	for (i = 0; i < w->f.n; i++) {
		h = &w->f.hosts[i];
		if (h->state == REC_FOLLOW_CONVERGED ||
		    rec_follow_state_done(h->state) == pending)
			continue;
		if (k++ >= LIST_MAX)
			continue;
		if (k > 1)
			lr_buf_adds(b, ", ");
		lr_buf_add_visible(b, h->name, strlen(h->name), 0);
		lr_buf_printf(b, " (%s", rec_follow_state_shown(h->state));
		if (h->detail) {
			lr_buf_adds(b, ": ");
			lr_buf_add_visible(b, h->detail, strlen(h->detail), 0);
		}
		lr_buf_addc(b, ')');
	}
	if (k > LIST_MAX)
		lr_buf_printf(b, " and %zu more", k - LIST_MAX);
	return k;
}

static void
print_summary(struct waiter *w, enum cmd_wait_result res)
{
	size_t count[REC_FOLLOW_NSTATES], k;
	enum rec_follow_state s;
	char t[32];

	if (w->o->output == CMD_WAIT_QUIET)
		return;
	erase_progress(w);
	rec_follow_count(w->f.hosts, w->f.n, count);
	rec_follow_fmt_ms(lr_now_ms() - w->start_ms, false, t, sizeof(t));
	if (res == CMD_WAIT_ALL_CONVERGED) {
		printf("deploy #%lld: %s%zu host%s converged in %s\n",
		    (long long)w->o->deploy, w->f.n > 1 ? "all " : "", w->f.n,
		    w->f.n == 1 ? "" : "s", t);
	} else {
		printf("deploy #%lld: %zu/%zu converged",
		    (long long)w->o->deploy, count[REC_FOLLOW_CONVERGED],
		    w->f.n);
		for (k = 0; k < REC_FOLLOW_NORDER; k++) {
			s = rec_follow_order[k];
			if (count[s])
				printf(", %zu %s", count[s],
				    rec_follow_state_shown(s));
		}
		printf(" after %s\n", t);
	}
	fflush(stdout);
}

static void
print_error(struct waiter *w, enum cmd_wait_result res)
{
	struct lr_buf b = LR_BUF_INIT, d = LR_BUF_INIT;
	size_t pending, done;
	char t[32];

	if (res == CMD_WAIT_TIMED_OUT) {
		/* each count names the hosts it counts */
		pending = list_hosts(w, true, &b);
		done = list_hosts(w, false, &d);
		rec_follow_fmt_ms(w->o->timeout_ms, false, t, sizeof(t));
		fprintf(stderr, "leura: error: deploy #%lld: %zu host%s not "
		    "done after %s: %s", (long long)w->o->deploy, pending,
		    pending == 1 ? "" : "s", t, b.s);
		if (done > 0)
			fprintf(stderr, "; %zu did not converge: %s", done,
			    d.s);
		fputc('\n', stderr);
		fprintf(stderr, "hint: %s\n", w->o->hint ? w->o->hint :
		    "the rollout goes on without you: 'leura status' shows "
		    "where each host is; --wait-timeout sets how long to wait");
	} else {
		list_hosts(w, false, &b);	/* every host is done */
		fprintf(stderr, "leura: error: deploy #%lld did not converge: "
		    "%s\n", (long long)w->o->deploy, b.s);
		fprintf(stderr, "hint: %s\n", w->o->hint ? w->o->hint :
		    "'leura status' shows every host; the agent's log on the "
		    "host has the whole output of its steps");
	}
	lr_buf_release(&b);
	lr_buf_release(&d);
}

static json_t *
result_json(const struct waiter *w, enum cmd_wait_result res)
{
	static const char *const names[] = { "converged", "failed",
		"timeout", "interrupted", "error" };
	json_t *hosts = json_object(), *o;
	const struct rec_follow_host *h;
	size_t i;

	for (i = 0; i < w->f.n; i++) {
		h = &w->f.hosts[i];
		o = json_pack("{s:s, s:I}", "state", rec_follow_state_name(
		    h->state), "generation", (json_int_t)h->generation);
		if (h->detail)
			json_object_set_new(o, "detail", json_string(
			    h->detail));
		if (h->state == REC_FOLLOW_CONVERGED && h->took_ms >= 0)
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
	int64_t rev;
	int rc;

	memset(&w, 0, sizeof(w));
	lr_err_clear(&err);
	w.o = o;
	w.e = e;
	w.start_ms = lr_now_ms();
	rec_follow_init(&w.f, prefix, targets, o->min_revision);
	w.f.starting = o->agents_starting;

	rev = o->revision;
	if (load_prefix(&w, e, w.f.obs_pfx, &rev, &err) < 0 ||
	    load_prefix(&w, e, w.f.agt_pfx, &rev, &err) < 0) {
		lr_err_print(&err);
		res = CMD_WAIT_ERROR;
		goto out;
	}
	w.next_rev = rev + 1;
	obs_end = etcd_prefix_end(w.f.obs_pfx);
	rq.key = w.f.agt_pfx;
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
	if (res == CMD_WAIT_ALL_CONVERGED && !rec_follow_all_converged(&w.f))
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
	rec_follow_release(&w.f);
	lr_buf_release(&w.line);
	free(obs_end);
	return res;
}
