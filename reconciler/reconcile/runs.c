/*
 * The client side of task runs (runs.h): -p and target arguments into a
 * request, an ad-hoc command's argv into one shell line, and what a run
 * record says (its state, a step's result, the approval it waits on,
 * its progress) as short text.  Everything read here came from leurad,
 * which read it from etcd: names and texts go out made visible.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "follow.h"
#include "json.h"
#include "runs.h"
#include "xalloc.h"

int
rec_runs_param_add(json_t *params, const char *kv, struct lr_err *err)
{
	const char *eq = strchr(kv, '=');
	char *name;

	if (eq == NULL) {
		lr_err_set(err, LR_EINVAL, "-p '%s' is not NAME=VALUE", kv);
		return lr_err_hint(err, "give each param as -p NAME=VALUE, "
		    "e.g. -p count=3");
	}
	if (eq == kv) {
		lr_err_set(err, LR_EINVAL, "-p '%s' has no param name", kv);
		return lr_err_hint(err, "give each param as -p NAME=VALUE");
	}
	/* name: freed below */
	name = lr_xstrndup(kv, (size_t)(eq - kv));
	if (json_object_get(params, name) != NULL) {
		lr_err_set(err, LR_EINVAL, "param '%s' is given twice", name);
		lr_err_hint(err, "give each param once");
		free(name);
		return LR_EINVAL;
	}
	json_object_set_new(params, name, json_string(eq + 1));
	free(name);
	return 0;
}

int
rec_runs_target_add(json_t *targets, const char *key, const char *list,
    struct lr_err *err)
{
	json_t *a = json_object_get(targets, key);
	const char *p = list, *comma;
	size_t n;

	if (a == NULL) {
		a = json_array();
		json_object_set_new(targets, key, a);
	}
	for (;;) {
		comma = strchr(p, ',');
		n = comma ? (size_t)(comma - p) : strlen(p);
		if (n == 0) {
			lr_err_set(err, LR_EINVAL, "--%s '%s' has an empty "
			    "name", key, list);
			return lr_err_hint(err, "separate names with one "
			    "comma: --%s a,b", key);
		}
		json_array_append_new(a, json_stringn(p, n));
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	return 0;
}

/* A word the shell gives back as typed, with no quoting. */
static bool
shell_safe(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) &&
		    strchr("@%+=:,./_-", *s) == NULL)
			return false;
	return true;
}

char *
rec_runs_shell_join(char *const *argv, size_t n)
{
	struct lr_buf b = LR_BUF_INIT;
	const char *p;
	size_t i;

	for (i = 0; i < n; i++) {
		if (i > 0)
			lr_buf_addc(&b, ' ');
		if (shell_safe(argv[i])) {
			lr_buf_adds(&b, argv[i]);
			continue;
		}
		lr_buf_addc(&b, '\'');
		for (p = argv[i]; *p; p++)
			if (*p == '\'')
				lr_buf_adds(&b, "'\\''");
			else
				lr_buf_addc(&b, *p);
		lr_buf_addc(&b, '\'');
	}
	if (b.s == NULL)
		lr_buf_adds(&b, "");
	return lr_buf_detach(&b, NULL);
}

/* n digits of s as a number into *v; the rest of s, or NULL. */
static const char *
digits(const char *s, int n, int *v)
{
	*v = 0;
	while (n-- > 0) {
		if (!isdigit((unsigned char)*s))
			return NULL;
		*v = *v * 10 + (*s++ - '0');
	}
	return s;
}

int
rec_runs_time_parse(const char *s, int64_t *ms)
{
	struct tm tm = { 0 };
	int y, mo, d, h, mi, sec, oh, om, frac = 0, scale = 100;
	int64_t off = 0, t;

	if (s == NULL ||
	    (s = digits(s, 4, &y)) == NULL || *s++ != '-' ||
	    (s = digits(s, 2, &mo)) == NULL || *s++ != '-' ||
	    (s = digits(s, 2, &d)) == NULL || (*s != 'T' && *s != 't') ||
	    (s = digits(s + 1, 2, &h)) == NULL || *s++ != ':' ||
	    (s = digits(s, 2, &mi)) == NULL || *s++ != ':' ||
	    (s = digits(s, 2, &sec)) == NULL)
		return -1;
	if (*s == '.') {
		if (!isdigit((unsigned char)*++s))
			return -1;
		for (; isdigit((unsigned char)*s); s++, scale /= 10)
			frac += (*s - '0') * scale;
	}
	if (*s == 'Z' || *s == 'z')
		s++;
	else if (*s == '+' || *s == '-') {
		int sign = *s == '-' ? -1 : 1;

		if ((s = digits(s + 1, 2, &oh)) == NULL || *s++ != ':' ||
		    (s = digits(s, 2, &om)) == NULL || oh > 23 || om > 59)
			return -1;
		off = sign * ((int64_t)oh * 3600 + om * 60);
	} else
		return -1;
	if (*s != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
	    mi > 59 || sec > 60)
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	if ((t = (int64_t)timegm(&tm)) == -1)
		return -1;
	*ms = (t - off) * 1000 + frac;
	return 0;
}

bool
rec_runs_is_final(const json_t *run)
{
	return strcmp(lr_json_str(run, "state"), "finalised") == 0;
}

const char *
rec_runs_state(const json_t *run)
{
	const char *s;

	if (rec_runs_is_final(run) &&
	    (s = lr_json_strn(run, "outcome")) != NULL && *s != '\0')
		return s;
	if ((s = lr_json_strn(run, "state")) != NULL && *s != '\0')
		return s;
	return "?";
}

const json_t *
rec_runs_result(const json_t *run, const char *host, size_t step)
{
	const json_t *h, *r;
	char key[16];

	h = json_object_get(json_object_get(run, "results"), host);
	if (json_is_array(h))
		r = json_array_get(h, step);
	else {
		snprintf(key, sizeof(key), "%04zu", step);
		r = json_object_get(h, key);
	}
	return json_is_object(r) ? r : NULL;
}

int
rec_runs_pending_approval(const json_t *run)
{
	const json_t *steps = json_object_get(run, "steps"), *s, *a;
	size_t i, j;
	bool decided;

	if (strcmp(lr_json_str(run, "state"), "waiting_approval") != 0)
		return -1;
	json_array_foreach(steps, i, s) {
		if (strcmp(lr_json_str(s, "kind"), "approval") != 0)
			continue;
		decided = false;
		json_array_foreach(json_object_get(run, "approvals"), j, a)
			if (json_is_integer(json_object_get(a, "step")) &&
			    lr_json_int(a, "step") == (int64_t)i)
				decided = true;
		if (!decided)
			return (int)i;
	}
	return -1;
}

/* s made visible, appended to b */
static void
add_vis(struct lr_buf *b, const char *s)
{
	lr_buf_add_visible(b, s, strlen(s), 0);
}

void
rec_runs_label(const json_t *run, size_t max, struct lr_buf *b)
{
	struct lr_buf v = LR_BUF_INIT;
	const char *task = lr_json_strn(run, "task");
	size_t len;

	if (task != NULL) {
		add_vis(b, task);
		return;
	}
	lr_buf_adds(&v, "exec: ");
	add_vis(&v, lr_json_str(run, "command"));
	/* cut between characters, never inside one */
	if (max > 3 && v.len > max) {
		len = max - 3;
		while (len > 0 && ((unsigned char)v.s[len] & 0xc0) == 0x80)
			len--;
		lr_buf_add(b, v.s, len);
		lr_buf_adds(b, "...");
	} else
		lr_buf_adds(b, v.s);
	lr_buf_release(&v);
}

/* ms as rec_follow_fmt_ms writes it, appended to b */
static void
add_ms(struct lr_buf *b, int64_t ms)
{
	char buf[32];

	rec_follow_fmt_ms((long)(ms < 0 ? 0 : ms), true, buf, sizeof(buf));
	lr_buf_adds(b, buf);
}

void
rec_runs_took(const json_t *run, int64_t now_ms, struct lr_buf *b)
{
	int64_t start, end;

	if (rec_runs_time_parse(lr_json_strn(run, "started"), &start) < 0 &&
	    rec_runs_time_parse(lr_json_strn(run, "created"), &start) < 0) {
		lr_buf_adds(b, "-");
		return;
	}
	if (rec_runs_time_parse(lr_json_strn(run, "ended"), &end) < 0)
		end = rec_runs_is_final(run) ? start : now_ms;
	add_ms(b, end - start);
}

void
rec_runs_ago(const char *t, int64_t now_ms, struct lr_buf *b)
{
	char buf[32];
	int64_t ms;

	if (rec_runs_time_parse(t, &ms) < 0)
		return;
	ms = now_ms - ms;
	if (ms < 0) {
		lr_buf_adds(b, "just now");
		return;
	}
	rec_follow_fmt_ms((long)ms, false, buf, sizeof(buf));
	lr_buf_printf(b, "%s ago", buf);
}

/* A status that is a failure of the step. */
static bool
status_failed(const char *s)
{
	return strcmp(s, "failed") == 0 || strcmp(s, "lost") == 0 ||
	    strcmp(s, "timed_out") == 0 || strcmp(s, "aborted") == 0;
}

void
rec_runs_progress(const json_t *run, struct lr_buf *b)
{
	const json_t *prog = json_object_get(run, "progress"), *steps, *st;
	const char **hosts, *name = NULL, *first = NULL;
	size_t n, i, k, done = 0, failed = 0, running = 0, at = 0;
	bool all, fail, busy;

	hosts = lr_json_keys(prog, true, &n);
	for (i = 0; i < n; i++) {
		steps = json_object_get(prog, hosts[i]);
		all = json_array_size(steps) > 0;
		fail = busy = false;
		json_array_foreach(steps, k, st) {
			const char *s = lr_json_str(st, "state");

			if (strcmp(s, "done") != 0)
				all = false;
			if (status_failed(lr_json_str(st, "status")))
				fail = true;
			if (!busy && (strcmp(s, "running") == 0 ||
			    strcmp(s, "dispatched") == 0)) {
				busy = true;
				at = k;
			}
		}
		if (fail)
			failed++;
		if (all || fail)
			done++;
		else if (busy) {
			if (running++ == 0) {
				first = hosts[i];
				name = lr_json_strn(json_array_get(
				    json_object_get(run, "steps"), at),
				    "name");
			}
		}
	}
	add_vis(b, rec_runs_state(run));
	lr_buf_printf(b, ": %zu/%zu host%s done", done, n, n == 1 ? "" : "s");
	if (failed > 0)
		lr_buf_printf(b, ", %zu failed", failed);
	if (running > 0) {
		lr_buf_printf(b, ", %zu running (", running);
		add_vis(b, first);
		if (name != NULL && *name != '\0') {
			lr_buf_adds(b, ": ");
			add_vis(b, name);
		}
		lr_buf_adds(b, ")");
	}
	free(hosts);
}

long
rec_runs_backoff(long prev_ms)
{
	if (prev_ms <= 0)
		return 250;
	return prev_ms >= 1000 ? 2000 : prev_ms * 2;
}
