/*
 * runout: starting a run through leurad, waiting for it, printing it
 * (runout.h), for `leura run`, `exec`, `run show`, `cancel` and
 * `approve`.  The refusal of a recent overlapping run is the point of
 * "did someone just do that?": it comes before anything runs, says who,
 * when, where and how it ended, and what to type to go ahead anyway.
 * Waiting polls the run's record with back-off rather than holding a
 * stream open: a run may wait hours on an approval, and a poll every 2 s
 * costs leurad one etcd read.  Everything leurad sends came from etcd,
 * which many can write: it is printed made visible.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "clock.h"
#include "follow.h"
#include "json.h"
#include "runout.h"
#include "runs.h"
#include "xalloc.h"

/* How long a poll may keep failing (leurad restarting) before giving up. */
#define WAIT_UNREACHABLE_MS	(60L * 1000)
/* Output lines shown of a failed step. */
#define TAIL_LINES		10

int64_t
cmd_run_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
cmd_run_check_id(const char *id)
{
	if (strncmp(id, "r@", 2) == 0 && id[2] != '\0')
		return 0;
	fprintf(stderr, "leura: error: '%s' is not a run id\nhint: run ids "
	    "look like r@20261207-224001-a1b2c3; 'leura runs' lists them\n",
	    cmd_vis(id));
	return LR_EXIT_USAGE;
}

/* One operand too many: a usage error naming it. */
static int
extra_arg(const char *arg, const char *usage)
{
	fprintf(stderr, "leura: error: unknown argument '%s'\n", cmd_vis(arg));
	fputs(usage, stderr);
	return LR_EXIT_USAGE;
}

int
cmd_run_getopt(int argc, char **argv, const char *optstring,
    const struct option *longopts, const char *usage, cmd_run_opt_cb *opt,
    void *arg, char **ops, int max, int *nops, int *dashdash)
{
	int c, rc, i;

	*nops = 0;
	*dashdash = -1;
	for (;;) {
		/* getopt_long starts afresh at argv[1] */
		optind = 0;
		while ((c = getopt_long(argc, argv, optstring, longopts,
		    NULL)) != -1)
			if ((rc = opt(c, optarg, argv, arg)) >= 0)
				return rc;
		if (optind > 1 && strcmp(argv[optind - 1], "--") == 0) {
			*dashdash = *nops;
			for (i = optind; i < argc; i++) {
				if (*nops >= max)
					return extra_arg(argv[i], usage);
				ops[(*nops)++] = argv[i];
			}
			return -1;
		}
		if (optind >= argc)
			return -1;
		if (*nops >= max)
			return extra_arg(argv[optind], usage);
		ops[(*nops)++] = argv[optind];
		/* the operand becomes the next round's argv[0] */
		argc -= optind;
		argv += optind;
	}
}

/* An RFC 3339 time of the record as "2026-12-07T22:40:01Z (4m ago)". */
static void
print_time(const char *label, const json_t *o, const char *k, int64_t now)
{
	struct lr_buf b = LR_BUF_INIT;
	const char *t = lr_json_strn(o, k);

	if (t == NULL || *t == '\0')
		return;
	rec_runs_ago(t, now, &b);
	printf("%-10s %s%s%s%s\n", label, cmd_vis(t), b.len ? " (" : "",
	    b.len ? b.s : "", b.len ? ")" : "");
	lr_buf_release(&b);
}

/* The strings of a joined by ", " on stdout (dflt when none). */
static void
print_names(const json_t *a, const char *dflt)
{
	cmd_print_list(a, dflt);
}

void
cmd_run_print_recent(const json_t *recent, int64_t now_ms)
{
	struct lr_buf ago = LR_BUF_INIT;
	const json_t *hosts = json_object_get(recent, "hosts"), *v;
	const char *outcome = lr_json_strn(recent, "outcome");
	size_t i;

	rec_runs_ago(lr_json_strn(recent, "created"), now_ms, &ago);
	fprintf(stderr, "  run      %s\n", cmd_field(recent, "id"));
	fprintf(stderr, "  by       %s\n", cmd_field(recent, "by"));
	fprintf(stderr, "  at       %s%s%s%s\n", cmd_field(recent, "created"),
	    ago.len ? " (" : "", ago.len ? ago.s : "", ago.len ? ")" : "");
	fprintf(stderr, "  hosts    ");
	json_array_foreach(hosts, i, v)
		fprintf(stderr, "%s%s", i ? ", " : "",
		    cmd_vis(json_string_value(v)));
	fprintf(stderr, "%s\n", json_array_size(hosts) ? "" : "-");
	if (outcome != NULL && *outcome != '\0')
		fprintf(stderr, "  ended    %s\n", cmd_vis(outcome));
	else
		fprintf(stderr, "  ended    not yet: it is %s\n",
		    lr_json_strn(recent, "state") ?
		    cmd_field(recent, "state") : "still running");
	lr_buf_release(&ago);
}

/* "Started run ID of task 'T' on N hosts: a, b" */
static void
print_started(const json_t *run)
{
	struct lr_buf label = LR_BUF_INIT;
	const json_t *hosts = json_object_get(run, "hosts");
	size_t n = json_array_size(hosts);

	rec_runs_label(run, 60, &label);
	if (lr_json_strn(run, "task") != NULL)
		printf("Started run %s of task '%s' on %zu host%s: ",
		    cmd_field(run, "id"), label.s, n, n == 1 ? "" : "s");
	else
		printf("Started run %s (%s) on %zu host%s: ",
		    cmd_field(run, "id"), label.s, n, n == 1 ? "" : "s");
	print_names(hosts, "-");
	putchar('\n');
	if (lr_json_strn(json_object_get(run, "forced"), "recent") != NULL)
		printf("Forced over the recent run %s.\n",
		    cmd_field(json_object_get(run, "forced"), "recent"));
	fflush(stdout);
	lr_buf_release(&label);
}

int
cmd_run_start(struct remote *r, const char *path, const json_t *body,
    const struct cmd_run_opts *o)
{
	const json_t *eb, *e;
	json_t *run = NULL;
	struct lr_err err;
	const char *id, *msg;
	long status = 0;
	int rc;

	lr_err_clear(&err);
	if (rec_api_call(r->api, "POST", path, body, &run, &status,
	    &err) < 0) {
		eb = rec_api_error_body(r->api);
		e = json_object_get(eb, "error");
		if (status != 409 ||
		    strcmp(lr_json_str(e, "code"), "recent_run") != 0) {
			cmd_remote_error(&err);
			return LR_EXIT_FAIL;
		}
		if (o->json)
			cmd_print_json(eb);
		msg = lr_json_strn(e, "message");
		fprintf(stderr, "leura: refused: %s; nothing was started\n",
		    msg != NULL && *msg ? cmd_vis(msg) : "a run of the same "
		    "thing on these hosts is recent");
		cmd_run_print_recent(json_object_get(eb, "recent"),
		    cmd_run_now_ms());
		fprintf(stderr, "hint: if it must run again now, give the "
		    "same command with --force\n");
		return LR_EXIT_RECENT;
	}
	if ((id = lr_json_strn(run, "id")) == NULL) {
		fprintf(stderr, "leura: error: leurad at '%s' answered with "
		    "no run id\n", cmd_vis(r->url));
		json_decref(run);
		return LR_EXIT_FAIL;
	}
	if (o->json && !o->wait && !o->follow)
		cmd_print_json(run);
	else if (!o->json)
		print_started(run);
	rc = LR_EXIT_OK;
	if (o->follow) {
		/* the output, then the summary of the run it ended */
		if ((rc = cmd_logs_follow(o->ctx, id, NULL, -1)) == 0) {
			putchar('\n');
			rc = cmd_run_wait(r, id, false, true);
		}
	} else if (o->wait)
		rc = cmd_run_wait(r, id, o->json, false);
	json_decref(run);
	return rc;
}

/* ---- waiting ---- */

static atomic_int interrupted;

static void
on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* Sleep ms in slices, returning early on Ctrl-C. */
static void
nap(long ms)
{
	while (ms > 0 && !interrupted) {
		lr_sleep_ms(ms < 50 ? ms : 50);
		ms -= 50;
	}
}

/* Which groups must approve step k of run, and how: on stdout. */
static void
print_approval_wait(const json_t *run, int k)
{
	const json_t *s = json_array_get(json_object_get(run, "steps"),
	    (size_t)k), *ap = json_object_get(s, "approval");
	const char *id = cmd_field(run, "id");
	char t[32];

	printf("Waiting for approval of step %d '%s' by a member of ", k + 1,
	    cmd_field(s, "name"));
	print_names(json_object_get(ap, "groups"), "(no group)");
	if (lr_json_int(ap, "timeout_ms") > 0) {
		rec_follow_fmt_ms((long)lr_json_int(ap, "timeout_ms"), false,
		    t, sizeof(t));
		printf(" (times out after %s)", t);
	}
	printf(":\n  leura approve %s [-m WHY]\n  leura approve --reject %s "
	    "[-m WHY]\n", id, id);
	if (!lr_json_bool(ap, "self_approval") &&
	    !lr_json_bool(run, "self_approval"))
		printf("  (not by %s, who started it: the task does not allow "
		    "self_approval)\n", cmd_field(run, "by"));
	fflush(stdout);
}

int
cmd_run_wait(struct remote *r, const char *id, bool json, bool quiet)
{
	struct lr_buf line = LR_BUF_INIT, last = LR_BUF_INIT;
	struct sigaction sa, old;
	struct lr_err err;
	json_t *run = NULL;
	char *path = rec_api_path(r->api, "/v1/runs/%s", id), el[32];
	long delay = 0, start = lr_now_ms(), failing = 0;
	int rc = LR_EXIT_FAIL, waited_step = -1, k;

	interrupted = 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigint;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old);
	if (!json && !quiet) {
		printf("Waiting for run %s to finish (Ctrl-C stops the "
		    "waiting, not the run)\n", cmd_vis(id));
		fflush(stdout);
	}
	for (;;) {
		json_decref(run);
		run = NULL;
		lr_err_clear(&err);
		if (rec_api_call(r->api, "GET", path, NULL, &run, NULL,
		    &err) < 0) {
			run = NULL;
			/* leurad restarting, or a leader change: go on */
			if ((err.code == LR_EUNREACH || err.code == LR_EIO ||
			    err.code == LR_EBUSY) && !interrupted &&
			    (failing == 0 || lr_now_ms() - failing <
			    WAIT_UNREACHABLE_MS)) {
				if (failing == 0)
					failing = lr_now_ms();
				nap(delay = rec_runs_backoff(delay));
				if (!interrupted)
					continue;
			}
			if (!interrupted) {
				cmd_remote_error(&err);
				fprintf(stderr, "leura: stopped waiting: run %s "
				    "goes on\n", cmd_vis(id));
				goto out;
			}
		}
		failing = 0;
		if (interrupted)
			break;
		if (rec_runs_is_final(run))
			break;
		if (!json) {
			lr_buf_reset(&line);
			rec_runs_progress(run, &line);
			if (last.s == NULL || strcmp(line.s, last.s) != 0) {
				rec_follow_fmt_ms(lr_now_ms() - start, false,
				    el, sizeof(el));
				printf("[%s] %s\n", el, line.s);
				lr_buf_reset(&last);
				lr_buf_adds(&last, line.s);
			}
			if ((k = rec_runs_pending_approval(run)) >= 0 &&
			    k != waited_step)
				print_approval_wait(run, waited_step = k);
			fflush(stdout);
		}
		nap(delay = rec_runs_backoff(delay));
		if (interrupted)
			break;
	}
	if (interrupted) {
		fprintf(stderr, "leura: stopped waiting: run %s goes on\n"
		    "hint: 'leura run show %s' shows where it is; 'leura "
		    "cancel %s' stops it\n", cmd_vis(id), cmd_vis(id),
		    cmd_vis(id));
		rc = LR_EXIT_INTERRUPTED;
		goto out;
	}
	if (json)
		cmd_print_json(run);
	else
		cmd_run_print(run, false, cmd_run_now_ms());
	rc = strcmp(rec_runs_state(run), "succeeded") == 0 ? LR_EXIT_OK :
	    LR_EXIT_FAIL;
out:
	sigaction(SIGINT, &old, NULL);
	json_decref(run);
	free(path);
	lr_buf_release(&line);
	lr_buf_release(&last);
	return rc;
}

/* ---- printing a run ---- */

/* The decision recorded for approval step k, or NULL. */
static const json_t *
approval_of(const json_t *run, size_t k)
{
	const json_t *a;
	size_t i;

	json_array_foreach(json_object_get(run, "approvals"), i, a)
		if (json_is_integer(json_object_get(a, "step")) &&
		    lr_json_int(a, "step") == (int64_t)k)
			return a;
	return NULL;
}

/* What step k says on host: its status, else its state. */
static const char *
step_status(const json_t *run, const char *host, size_t k)
{
	const json_t *p = json_array_get(json_object_get(json_object_get(run,
	    "progress"), host), k), *res = rec_runs_result(run, host, k);
	const char *s;

	if ((s = lr_json_strn(p, "status")) != NULL && *s)
		return s;
	if ((s = lr_json_strn(res, "status")) != NULL && *s)
		return s;
	if ((s = lr_json_strn(p, "state")) != NULL && *s)
		return s;
	return "pending";
}

static bool
status_ok(const char *s)
{
	return strcmp(s, "ok") == 0 || strcmp(s, "changed") == 0 ||
	    strcmp(s, "skipped") == 0;
}

/* A step's result in a few words: exit 3, signal 9, 2 attempts, 1.2s. */
static void
result_detail(const json_t *res, struct lr_buf *b)
{
	char t[32];
	const char *sep = "";

	if (res == NULL)
		return;
	if (lr_json_int(res, "exit_code") != 0) {
		lr_buf_printf(b, "exit %lld",
		    (long long)lr_json_int(res, "exit_code"));
		sep = ", ";
	}
	if (lr_json_int(res, "signal") != 0) {
		lr_buf_printf(b, "%ssignal %lld", sep,
		    (long long)lr_json_int(res, "signal"));
		sep = ", ";
	}
	if (lr_json_bool(res, "timed_out")) {
		lr_buf_printf(b, "%stimed out", sep);
		sep = ", ";
	}
	if (lr_json_int(res, "attempts") > 1) {
		lr_buf_printf(b, "%s%lld attempts", sep,
		    (long long)lr_json_int(res, "attempts"));
		sep = ", ";
	}
	if (json_is_integer(json_object_get(res, "duration_ms"))) {
		rec_follow_fmt_ms((long)lr_json_int(res, "duration_ms"), true,
		    t, sizeof(t));
		lr_buf_printf(b, "%s%s", sep, t);
	}
}

/* Step k of host as a line, and what a failed one printed. */
static void
print_step(const json_t *run, const char *host, size_t k)
{
	const json_t *s = json_array_get(json_object_get(run, "steps"), k);
	const json_t *res = rec_runs_result(run, host, k), *a;
	struct lr_buf d = LR_BUF_INIT;
	const char *st, *tail;

	printf("  %2zu. %-28s ", k + 1, cmd_field(s, "name"));
	if (strcmp(lr_json_str(s, "kind"), "approval") == 0) {
		if ((a = approval_of(run, k)) != NULL)
			printf("%s by %s\n", cmd_field(a, "decision"),
			    cmd_field(a, "by"));
		else
			printf("%s\n", rec_runs_pending_approval(run) ==
			    (int)k ? "waiting for approval" :
			    cmd_vis(step_status(run, host, k)));
		return;
	}
	st = step_status(run, host, k);
	result_detail(res, &d);
	if (d.len > 0)
		printf("%-10s %s\n", cmd_vis(st), d.s);
	else
		printf("%s\n", cmd_vis(st));
	lr_buf_release(&d);
	if (status_ok(st) || res == NULL)
		return;
	if (lr_json_strn(res, "error") != NULL && *lr_json_str(res, "error"))
		printf("        error: %s\n", cmd_field(res, "error"));
	tail = lr_json_strn(res, "tail");
	if (tail == NULL || *tail == '\0')
		tail = lr_json_strn(res, "head");
	if (tail != NULL && *tail != '\0')
		cmd_print_tail(tail, TAIL_LINES, "        | ");
	if (lr_json_bool(res, "truncated"))
		printf("        (output capped at %lld bytes)\n",
		    (long long)lr_json_int(res, "bytes"));
}

/* Whether every step of host is ok, changed, skipped or approved. */
static bool
host_ok(const json_t *run, const char *host)
{
	const json_t *s, *a;
	size_t k;

	json_array_foreach(json_object_get(run, "steps"), k, s) {
		if (strcmp(lr_json_str(s, "kind"), "approval") == 0) {
			a = approval_of(run, k);
			if (a == NULL || strcmp(lr_json_str(a, "decision"),
			    "approved") != 0)
				return false;
		} else if (!status_ok(step_status(run, host, k)))
			return false;
	}
	return true;
}

/* The params {k: v} as k=v, k2=v2. */
static void
print_params(const json_t *params)
{
	const char **keys;
	char *v;
	size_t n, i;

	keys = lr_json_keys(params, true, &n);
	printf("%-10s ", "params");
	for (i = 0; i < n; i++) {
		const json_t *x = json_object_get(params, keys[i]);

		v = json_is_string(x) ? lr_xstrdup(json_string_value(x)) :
		    json_dumps(x, JSON_ENCODE_ANY | JSON_COMPACT);
		printf("%s%s=%s", i ? ", " : "", cmd_vis(keys[i]),
		    cmd_vis(v ? v : ""));
		free(v);
	}
	printf("%s\n", n ? "" : "-");
	free(keys);
}

/* The targets as asked: hosts: a, b; groups: g */
static void
print_targets(const json_t *t)
{
	static const char *const keys[] = { "hosts", "groups", "services" };
	const char *sep = "";
	size_t i;

	printf("%-10s ", "targets");
	for (i = 0; i < 3; i++) {
		if (json_array_size(json_object_get(t, keys[i])) == 0)
			continue;
		printf("%s%s: ", sep, keys[i]);
		print_names(json_object_get(t, keys[i]), "");
		sep = "; ";
	}
	printf("%s\n", *sep ? "" : "the task's own");
}

/* Who cancelled and when, with the message. */
static void
print_cancel(const json_t *a)
{
	printf("%-10s by %s at %s", "cancelled", cmd_field(a, "by"),
	    cmd_field(a, "at"));
	if (lr_json_strn(a, "message") != NULL && *lr_json_str(a, "message"))
		printf(": %s", cmd_field(a, "message"));
	putchar('\n');
}

/* Every field of the record, one a line. */
static void
print_record(const json_t *run, int64_t now)
{
	struct lr_buf b = LR_BUF_INIT;
	const json_t *a, *steps = json_object_get(run, "steps");
	size_t i;

	printf("%-10s %s\n", "run", cmd_field(run, "id"));
	if (lr_json_strn(run, "task") != NULL)
		printf("%-10s %s\n", "task", cmd_field(run, "task"));
	else {
		printf("%-10s %s", "command", cmd_field(run, "command"));
		if (lr_json_strn(run, "run_as") != NULL)
			printf("  (as %s)", cmd_field(run, "run_as"));
		putchar('\n');
	}
	printf("%-10s %s", "by", cmd_field(run, "by"));
	if (lr_json_strn(run, "via") != NULL)
		printf(" (%s)", cmd_field(run, "via"));
	putchar('\n');
	if (lr_json_strn(run, "commit") != NULL)
		printf("%-10s %.12s\n", "commit", cmd_field(run, "commit"));
	print_time("created", run, "created", now);
	print_time("started", run, "started", now);
	print_time("ended", run, "ended", now);
	printf("%-10s %s", "state", cmd_field(run, "state"));
	if (lr_json_strn(run, "outcome") != NULL)
		printf(": %s", cmd_field(run, "outcome"));
	if (lr_json_strn(run, "reason") != NULL && *lr_json_str(run, "reason"))
		printf(" (%s)", cmd_field(run, "reason"));
	putchar('\n');
	rec_runs_took(run, now, &b);
	printf("%-10s %s\n", "took", b.s);
	lr_buf_release(&b);
	if (lr_json_strn(run, "task") != NULL)
		print_params(json_object_get(run, "params"));
	print_targets(json_object_get(run, "targets"));
	printf("%-10s %zu: ", "hosts",
	    json_array_size(json_object_get(run, "hosts")));
	print_names(json_object_get(run, "hosts"), "-");
	putchar('\n');
	if (json_object_get(run, "parallel") != NULL ||
	    lr_json_strn(run, "on_failure") != NULL)
		printf("%-10s parallel %s, on_failure %s\n", "policy",
		    lr_json_int(run, "parallel") > 0 ?
		    cmd_field(run, "parallel") : "all",
		    lr_json_strn(run, "on_failure") ?
		    cmd_field(run, "on_failure") : "stop");
	if (lr_json_strn(json_object_get(run, "forced"), "recent") != NULL)
		printf("%-10s over the recent run %s\n", "forced",
		    cmd_field(json_object_get(run, "forced"), "recent"));
	if (json_is_object(json_object_get(run, "fired")))
		printf("%-10s %s at %s\n", "fired", cmd_field(json_object_get(
		    run, "fired"), "schedule"), cmd_field(json_object_get(run,
		    "fired"), "time"));
	json_array_foreach(json_object_get(run, "approvals"), i, a) {
		const json_t *s = json_array_get(steps,
		    (size_t)lr_json_int(a, "step"));

		printf("%-10s step %lld '%s' %s by %s at %s", "approval",
		    (long long)lr_json_int(a, "step") + 1, cmd_field(s, "name"),
		    cmd_field(a, "decision"), cmd_field(a, "by"),
		    cmd_field(a, "at"));
		if (lr_json_strn(a, "message") != NULL &&
		    *lr_json_str(a, "message"))
			printf(": %s", cmd_field(a, "message"));
		putchar('\n');
	}
	if (json_is_object(json_object_get(run, "cancel")))
		print_cancel(json_object_get(run, "cancel"));
	if (rec_runs_pending_approval(run) >= 0)
		print_approval_wait(run, rec_runs_pending_approval(run));
}

void
cmd_run_print(const json_t *run, bool full, int64_t now_ms)
{
	struct lr_buf b = LR_BUF_INIT, label = LR_BUF_INIT;
	const json_t *hosts = json_object_get(run, "hosts"), *h;
	json_t *ok = json_array();
	const char *host;
	size_t i, k, nsteps = json_array_size(json_object_get(run, "steps"));

	if (full)
		print_record(run, now_ms);
	else {
		rec_runs_took(run, now_ms, &b);
		rec_runs_label(run, 60, &label);
		printf("Run %s (%s): %s in %s", cmd_field(run, "id"), label.s,
		    cmd_vis(rec_runs_state(run)), b.s);
		if (lr_json_strn(run, "reason") != NULL &&
		    *lr_json_str(run, "reason"))
			printf(" (%s)", cmd_field(run, "reason"));
		putchar('\n');
		if (json_is_object(json_object_get(run, "cancel")))
			print_cancel(json_object_get(run, "cancel"));
	}
	putchar('\n');
	json_array_foreach(hosts, i, h) {
		host = json_string_value(h);
		if (host == NULL)
			continue;
		/* the summary after --wait lists hosts all went well on */
		if (!full && host_ok(run, host)) {
			json_array_append_new(ok, json_string(host));
			continue;
		}
		printf("%s\n", cmd_vis(host));
		for (k = 0; k < nsteps; k++)
			print_step(run, host, k);
	}
	if (json_array_size(ok) > 0) {
		printf("%zu host%s ok: ", json_array_size(ok),
		    json_array_size(ok) == 1 ? "" : "s");
		print_names(ok, "");
		putchar('\n');
	}
	json_decref(ok);
	lr_buf_release(&b);
	lr_buf_release(&label);
}
