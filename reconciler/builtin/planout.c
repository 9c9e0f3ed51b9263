/*
 * Printing a plan (the value rec_diff returns) for people: placement
 * moves, then per host the services and steps added, changed and removed,
 * with line diffs of scripts and file contents, and what the agent will
 * run because of them (">": turndowns, when_changed steps).  Shared by
 * plan and apply.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "builtin.h"
#include "planout.h"
#include "textdiff.h"
#include "xalloc.h"

static void
print_list(const char *mark, const json_t *a)
{
	json_t *v;
	size_t i;

	json_array_foreach((json_t *)a, i, v)
		printf("  %s %s\n", mark, cmd_vis(json_string_value(v)));
}

static void
print_hosts_inline(const json_t *a)
{
	json_t *v;
	size_t i;

	if (json_array_size(a) == 0)
		printf(" (none)");
	json_array_foreach((json_t *)a, i, v)
		printf(" %s", cmd_vis(json_string_value(v)));
}

/* Text of a field's value for a line diff: strings as is, else JSON. */
static char *
field_text(const json_t *v)
{
	if (v == NULL)
		return lr_xstrdup("");
	if (json_is_string(v))
		return lr_xstrdup(json_string_value(v));
	return json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
}

/* The content of a file by its hash in a compiled state, or NULL. */
static const char *
file_content(const struct rec_compiled *c, const json_t *sha)
{
	return json_string_value(json_object_get(json_object_get(c->files,
	    json_string_value(sha)), "content"));
}

/*
 * Show what changed inside one step: a line diff of scripts and file
 * contents, old -> new for other fields.  Templates render per host, so
 * the same edit often reads the same on many hosts: a diff already shown
 * for this step is named, not repeated (shown: step id + diff -> host).
 */
static void
print_step_diff(const json_t *chg, const struct rec_compiled *from,
    const struct rec_compiled *to, const char *host, json_t *shown)
{
	const json_t *before = json_object_get(chg, "before");
	const json_t *after = json_object_get(chg, "after");
	struct lr_buf b = LR_BUF_INIT, vis = LR_BUF_INIT;
	const char *k, *ca, *cb;
	char *key, *x, *y;
	json_t *f;
	size_t i;

	json_array_foreach(json_object_get(chg, "fields"), i, f) {
		k = json_string_value(f);
		if (strcmp(k, "size") == 0)
			continue;	/* shown by the content diff */
		if (strcmp(k, "sha256") == 0) {
			ca = file_content(from, json_object_get(before, k));
			cb = file_content(to, json_object_get(after, k));
			if (ca && cb) {
				lr_buf_adds(&b, "      content:\n");
				rec_textdiff(ca, cb, "        ", &b);
			} else {
				lr_buf_printf(&b, "      content: binary, "
				    "sha256 %.12s -> %.12s\n",
				    json_string_value(json_object_get(before, k)),
				    json_string_value(json_object_get(after, k)));
			}
			continue;
		}
		x = field_text(json_object_get(before, k));
		y = field_text(json_object_get(after, k));
		if (strcmp(k, "script") == 0 || strcmp(k, "body") == 0) {
			lr_buf_printf(&b, "      %s:\n", k);
			rec_textdiff(x, y, "        ", &b);
		} else {
			lr_buf_printf(&b, "      %s: %s -> %s\n", k,
			    json_object_get(before, k) ? x : "(unset)",
			    json_object_get(after, k) ? y : "(unset)");
		}
		free(x);
		free(y);
	}
	key = lr_xasprintf("%s\n%s", json_string_value(json_object_get(chg,
	    "id")), b.s ? b.s : "");
	if ((f = json_object_get(shown, key)) != NULL)
		printf("      (the same change as on host %s)\n",
		    cmd_vis(json_string_value(f)));
	else {
		/*
		 * Lines of files, scripts and fields, the old ones read from
		 * etcd: shown as lines, never acted on by the terminal
		 */
		json_object_set_new(shown, key, json_string(host));
		lr_buf_add_visible(&vis, b.s ? b.s : "", b.len, LR_VIS_LINES);
		fputs(vis.s ? vis.s : "", stdout);
	}
	free(key);
	lr_buf_release(&b);
	lr_buf_release(&vis);
}

/*
 * Make before break (docs/etcd-layout.md): the agent of host runs the
 * turndown of svc once svc validates where it runs now.
 */
static void
print_after(const struct rec_compiled *to, const char *host, const char *svc)
{
	json_t *hosts = json_object_get(to ? to->make_before_break : NULL,
	    svc), *h;
	size_t i, n = 0;

	json_array_foreach(hosts, i, h) {
		if (strcmp(json_string_value(h), host) == 0)
			continue;
		printf("%s %s", n++ ? "" : ", once it validates on",
		    cmd_vis(json_string_value(h)));
	}
}

void
plan_print(const json_t *d, const char *from_label, const char *to_label,
    const struct rec_compiled *from, const struct rec_compiled *to,
    bool show_diff)
{
	const json_t *svcs = json_object_get(d, "services");
	const json_t *hosts = json_object_get(d, "hosts");
	size_t nadd = 0, nchg = 0, nrm = 0, ntrig = 0, ntd = 0, i, j;
	json_t *v, *c, *f, *shown = json_object();
	const char *k;

	printf("leura plan: %s -> %s\n", cmd_vis(from_label),
	    cmd_vis(to_label));
	if (json_integer_value(json_object_get(d, "changes")) == 0) {
		printf("\nNo changes: the desired state is the same.\n");
		json_decref(shown);
		return;
	}
	if (json_object_size(svcs)) {
		printf("\nPlacement:\n");
		json_object_foreach((json_t *)svcs, k, v) {
			printf("  ~ %s:", cmd_vis(k));
			print_hosts_inline(json_object_get(v, "from"));
			printf(" ->");
			print_hosts_inline(json_object_get(v, "to"));
			putchar('\n');
		}
	}
	json_object_foreach((json_t *)hosts, k, v) {
		printf("\nHost %s%s:\n", cmd_vis(k), json_object_get(v,
		    "host_removed") ? " (removed from the inventory)" : "");
		print_list("+ service", json_object_get(v, "services_added"));
		print_list("- service", json_object_get(v, "services_removed"));
		json_array_foreach(json_object_get(v, "turndown"), i, c) {
			printf("  > will run turndown %s (service %s %s",
			    cmd_vis(json_string_value(json_object_get(c,
			    "id"))),
			    cmd_vis(json_string_value(json_object_get(c,
			    "service"))),
			    json_object_get(v, "host_removed") ? "goes with "
			    "the host" : "leaves the host");
			print_after(to, k, json_string_value(json_object_get(c,
			    "service")));
			printf(")\n");
		}
		print_list("+", json_object_get(v, "added"));
		json_array_foreach(json_object_get(v, "changed"), i, c) {
			printf("  ~ %s (", cmd_vis(json_string_value(
			    json_object_get(c, "id"))));
			json_array_foreach(json_object_get(c, "fields"), j, f)
				printf("%s%s", j ? ", " : "",
				    cmd_vis(json_string_value(f)));
			printf(")\n");
			if (show_diff)
				print_step_diff(c, from, to, k,
				    shown);
		}
		print_list("-", json_object_get(v, "removed"));
		if (json_object_get(v, "reordered"))
			printf("  ~ step order changed\n");
		json_array_foreach(json_object_get(v, "triggered"), i, c) {
			printf("  > will run %s (", cmd_vis(json_string_value(
			    json_object_get(c, "id"))));
			json_array_foreach(json_object_get(c, "because"), j, f)
				printf("%s%s", j ? ", " : "",
				    cmd_vis(json_string_value(f)));
			printf(" changed)\n");
		}
	}
	json_object_foreach((json_t *)hosts, k, v) {
		nadd += json_array_size(json_object_get(v, "added"));
		nchg += json_array_size(json_object_get(v, "changed"));
		nrm += json_array_size(json_object_get(v, "removed"));
		ntrig += json_array_size(json_object_get(v, "triggered"));
		ntd += json_array_size(json_object_get(v, "turndown"));
	}
	printf("\nPlan: %lld changes: %zu service%s moved; steps: %zu to add, "
	    "%zu to change, %zu to remove, on %zu host%s.\n",
	    (long long)json_integer_value(json_object_get(d, "changes")),
	    json_object_size(svcs), json_object_size(svcs) == 1 ? "" : "s",
	    nadd, nchg, nrm, json_object_size(hosts),
	    json_object_size(hosts) == 1 ? "" : "s");
	if (ntrig || ntd)
		printf("The agents will also run %zu when_changed step%s and "
		    "%zu turndown step%s (marked >).\n", ntrig, ntrig == 1 ?
		    "" : "s", ntd, ntd == 1 ? "" : "s");
	json_decref(shown);
}

/*
 * Documents to write with no step or placement change: a host with no
 * services yet, or a change of service dependencies (which the agents'
 * rollout order reads).
 */
static void
print_rewrites(const struct rec_plan *p)
{
	json_t *v;
	size_t i;

	printf("leura plan: %s -> %s\n\nNo step changes; the documents of "
	    "%zu host%s change (a host without services, or service "
	    "dependencies) and an apply writes them:\n", p->from_label,
	    p->to.label, p->nchanged, p->nchanged == 1 ? "" : "s");
	json_array_foreach(json_object_get(p->changes, "changed"), i, v)
		printf("  ~ %s\n", cmd_vis(json_string_value(v)));
	json_array_foreach(json_object_get(p->changes, "removed"), i, v)
		printf("  - %s (removed from the inventory)\n",
		    cmd_vis(json_string_value(v)));
}

void
cmd_plan_print(const struct rec_plan *p, bool show_diff)
{
	if (rec_plan_rewrites_only(p))
		print_rewrites(p);
	else
		plan_print(p->diff, p->from_label, p->to.label, &p->from_sub,
		    &p->to_sub, show_diff);
}

/* ---- uncommitted changes (plan and apply) ---- */

#define UNCOMMITTED_SHOWN	20	/* paths listed on stdout */
#define UNCOMMITTED_WARNED	5	/* ... and on stderr */

void
cmd_uncommitted_print(char *const *paths, size_t n, const char *what)
{
	size_t i;

	if (n == 0)
		return;
	printf("\n%zu uncommitted change%s in the working tree %s:\n", n,
	    n == 1 ? "" : "s", what);
	for (i = 0; i < n && i < UNCOMMITTED_SHOWN; i++) {
		fputs("  ", stdout);
		cmd_fputv(paths[i], stdout);
		putchar('\n');
	}
	if (n > UNCOMMITTED_SHOWN)
		printf("  ... and %zu more ('git status' lists them)\n",
		    n - UNCOMMITTED_SHOWN);
}

void
cmd_uncommitted_warn(char *const *paths, size_t n, const char *what,
    const char *hint)
{
	size_t i;

	if (n == 0)
		return;
	fprintf(stderr, "leura: warning: %zu uncommitted change%s in the "
	    "working tree (", n, n == 1 ? "" : "s");
	for (i = 0; i < n && i < UNCOMMITTED_WARNED; i++) {
		fputs(i ? ", " : "", stderr);
		cmd_fputv(paths[i], stderr);
	}
	if (n > UNCOMMITTED_WARNED)
		fprintf(stderr, ", and %zu more", n - UNCOMMITTED_WARNED);
	fprintf(stderr, ") %s %s\nhint: %s\n", n == 1 ? "is" : "are", what,
	    hint);
}

json_t *
cmd_uncommitted_json(char *const *paths, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < n; i++)
		json_array_append_new(a, json_string(paths[i]));
	return a;
}
