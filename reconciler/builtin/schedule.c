/*
 * leura schedule: where each service's instances are placed, and with
 * --tasks the next fire times of task schedules.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "builtin.h"
#include "scheduler.h"

static const char usage_str[] =
    "usage: leura schedule [--ref REF] [--json] [--tasks [--now TIME]]\n";

/*
 * The services' table shows, after each host of a service with spread_by,
 * the value it was spread by: "web1 (zone=a)".
 */
static void
print_table(const json_t *placement, const json_t *spread)
{
	const json_t *svcs = json_object_get(placement, "services");
	const json_t *hosts = json_object_get(placement, "hosts");
	struct lr_buf b = LR_BUF_INIT;
	const json_t *sp, *val;
	const char *k, *hn;
	json_t *v, *h;
	size_t i, w = 7;

	json_object_foreach((json_t *)svcs, k, v)
		if (strlen(k) > w)
			w = strlen(k);
	printf("%-*s  %s\n", (int)w, "SERVICE", "HOSTS");
	json_object_foreach((json_t *)svcs, k, v) {
		sp = json_object_get(spread, k);
		lr_buf_reset(&b);
		lr_buf_printf(&b, "%-*s ", (int)w, k);
		json_array_foreach(v, i, h) {
			hn = json_string_value(h);
			lr_buf_printf(&b, " %s", hn);
			if (sp == NULL)
				continue;
			/* a host var's text: shown, not obeyed */
			val = json_object_get(json_object_get(sp, "hosts"), hn);
			lr_buf_printf(&b, " (%s=", json_string_value(
			    json_object_get(sp, "var")));
			lr_buf_add_visible(&b, json_string_value(val),
			    json_string_length(val), 0);
			lr_buf_addc(&b, ')');
		}
		printf("%s%s\n", b.s, json_array_size(v) ? "" : " (none)");
	}
	lr_buf_release(&b);
	w = 4;
	json_object_foreach((json_t *)hosts, k, v)
		if (strlen(k) > w)
			w = strlen(k);
	printf("\n%-*s  %s\n", (int)w, "HOST", "SERVICES");
	json_object_foreach((json_t *)hosts, k, v) {
		printf("%-*s ", (int)w, k);
		json_array_foreach(v, i, h)
			printf(" %s", json_string_value(h));
		printf("%s\n", json_array_size(v) ? "" : " (none)");
	}
}

/*
 * "  targets: services web, groups backend -> db1 db2 web1 web2": what
 * the task names, then the hosts that makes.
 */
static void
print_targets(const json_t *task)
{
	static const char *const kinds[] = { "services", "groups", "hosts" };
	const json_t *t = json_object_get(task, "targets"), *l;
	json_t *v;
	size_t i, k;
	bool first = true;

	printf("  targets:");
	for (k = 0; k < 3; k++) {
		if (json_array_size(l = json_object_get(t, kinds[k])) == 0)
			continue;
		printf("%s %s", first ? "" : ",", kinds[k]);
		first = false;
		json_array_foreach(l, i, v)
			printf(" %s", json_string_value(v));
	}
	printf(" ->");
	json_array_foreach(json_object_get(task, "hosts"), i, v)
		printf(" %s", json_string_value(v));
	printf("%s\n", json_array_size(json_object_get(task, "hosts")) ? "" :
	    " (no hosts)");
}

/*
 * "flush: cron \"0 3 * * *\", next: T1 T2 T3" in UTC; a task with a
 * time zone says it and shows each time there, then in UTC:
 * "flush: cron \"0 3 * * *\" in Europe/Paris, next:
 * 2026-03-29T03:00:00+02:00 (2026-03-29T01:00:00Z) ...".
 */
static void
print_tasks(const json_t *tasks)
{
	const char *k, *zone;
	json_t *v, *t, *loc;
	size_t i;
	bool in_zone;

	if (json_object_size(tasks) == 0) {
		printf("no tasks\n");
		return;
	}
	json_object_foreach((json_t *)tasks, k, v) {
		zone = json_string_value(json_object_get(v, "timezone"));
		in_zone = zone != NULL && strcmp(zone, "UTC") != 0;
		if (json_object_get(v, "cron"))
			printf("%s: cron \"%s\"", k, json_string_value(
			    json_object_get(v, "cron")));
		else if (json_object_get(v, "at"))
			printf("%s: at %s", k, json_string_value(
			    json_object_get(v, "at")));
		else
			printf("%s: on demand", k);
		if (in_zone && (json_object_get(v, "cron") ||
		    json_object_get(v, "at")))
			printf(" in %s", zone);
		loc = json_object_get(v, "next_local");
		if (json_array_size(json_object_get(v, "next"))) {
			printf(", next:");
			json_array_foreach(json_object_get(v, "next"), i, t) {
				if (in_zone)
					printf(" %s (%s)", json_string_value(
					    json_array_get(loc, i)),
					    json_string_value(t));
				else
					printf(" %s", json_string_value(t));
			}
		} else if (json_object_get(v, "at") ||
		    json_object_get(v, "cron"))
			printf(", never fires again");
		putchar('\n');
		print_targets(v);
	}
}

enum { OPT_REF = CMD_OPT_BASE, OPT_JSON, OPT_TASKS, OPT_NOW };

int
cmd_schedule(int argc, char **argv, struct lr_ctx *ctx)
{
	static const struct option longopts[] = {
		{ "ref", required_argument, NULL, OPT_REF },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "tasks", no_argument, NULL, OPT_TASKS },
		{ "now", required_argument, NULL, OPT_NOW },
		CMD_HELP_LONGOPT,
		{ NULL, 0, NULL, 0 }
	};
	struct rec_load sl;
	const char *ref = NULL, *now_arg = NULL;
	bool json = false, tasks = false;
	int64_t now = (int64_t)time(NULL);
	char why[256];
	json_t *o;
	int c, rc;

	while ((c = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_REF: ref = optarg; break;
		case OPT_JSON: json = true; break;
		case OPT_TASKS: tasks = true; break;
		case OPT_NOW: now_arg = optarg; break;
		default: return cmd_bad_option(c, argv, usage_str);
		}
	}
	if ((rc = cmd_no_args(argc, argv, usage_str)) != 0)
		return rc;
	if (now_arg != NULL && !tasks) {
		fprintf(stderr, "leura: error: --now goes with --tasks\n%s",
		    usage_str);
		return LR_EXIT_USAGE;
	}
	if (now_arg != NULL && sched_at_parse(now_arg, &now, why,
	    sizeof(why)) < 0) {
		fprintf(stderr, "leura: error: --now: %s\nhint: write the "
		    "time in ISO 8601 with a zone, e.g. "
		    "2026-01-15T10:30:00Z\n", why);
		return LR_EXIT_USAGE;
	}
	if (cmd_load_at(&sl, ctx, ref, tasks ? REC_COMPILE_TASKS : 0,
	    now) != 0) {
		rec_load_release(&sl);
		return LR_EXIT_FAIL;
	}
	if (tasks && json) {
		o = json_pack("{s:O}", "tasks", sl.comp.tasks);
		cmd_print_json(o);
		json_decref(o);
	} else if (tasks) {
		print_tasks(sl.comp.tasks);
	} else if (json) {
		o = json_deep_copy(sl.comp.placement);
		json_object_set(o, "spread_by", sl.comp.spread);
		cmd_print_json(o);
		json_decref(o);
	} else {
		print_table(sl.comp.placement, sl.comp.spread);
	}
	rec_load_release(&sl);
	return LR_EXIT_OK;
}
