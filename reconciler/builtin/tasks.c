/*
 * leura tasks [--search TEXT] [--json] [--server URL | --direct]: the
 * tasks, with their targets, the hosts these make, schedule and next
 * fire time, params and last run.  With a server configured (and no
 * --direct), from leurad's GET /v1/tasks: the source branch's tasks the
 * caller may read, with their last run.  Otherwise from the config repo
 * (-C DIR), loaded as validate does, with no last run (runs are
 * leurad's).  Both print the same way (reconcile/task.c makes the
 * entries).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "builtin.h"
#include "json.h"
#include "load.h"
#include "task.h"
#include "xalloc.h"

static const char usage_str[] =
    "usage: leura tasks [--search TEXT] [--json] [--server URL | "
    "--direct]\n";

enum { OPT_JSON = CMD_OPT_BASE, OPT_SEARCH, OPT_DIRECT };

/* "services: web; groups: a, b" of a task's targets, into b. */
static void
targets_text(const json_t *tg, struct lr_buf *b)
{
	static const char *const keys[] = { "services", "groups", "hosts" };
	const json_t *l, *v;
	size_t i, k;

	for (k = 0; k < 3; k++) {
		if ((l = json_object_get(tg, keys[k])) == NULL)
			continue;
		lr_buf_printf(b, "%s%s: ", b->len ? "; " : "", keys[k]);
		json_array_foreach(l, i, v)
			lr_buf_printf(b, "%s%s", i ? ", " : "",
			    cmd_vis(json_string_value(v)));
	}
	if (b->len == 0)
		lr_buf_adds(b, "-");
}

/* "cron 30 3 * * * (Europe/Paris)" or "at ..." or "on demand". */
static void
schedule_text(const json_t *sch, struct lr_buf *b)
{
	const json_t *next;

	if (!json_is_object(sch)) {
		lr_buf_adds(b, "on demand");
		return;
	}
	if (lr_json_strn(sch, "cron"))
		lr_buf_printf(b, "cron \"%s\"", cmd_field(sch, "cron"));
	else
		lr_buf_printf(b, "at %s", cmd_field(sch, "at"));
	if (lr_json_strn(sch, "timezone"))
		lr_buf_printf(b, " %s", cmd_field(sch, "timezone"));
	next = json_array_get(json_object_get(sch, "next"), 0);
	lr_buf_printf(b, ", next %s", json_is_string(next) ?
	    cmd_vis(json_string_value(next)) : "never");
}

/* "r@... by bob, succeeded (2026-12-02T01:00:00Z)", or "-". */
static void
last_run_text(const json_t *lr, struct lr_buf *b)
{
	if (!json_is_object(lr)) {
		lr_buf_adds(b, "-");
		return;
	}
	lr_buf_printf(b, "%s by %s, ", cmd_field(lr, "id"), cmd_field(lr,
	    "by"));
	lr_buf_printf(b, "%s", lr_json_strn(lr, "outcome") ? cmd_field(lr,
	    "outcome") : lr_json_strn(lr, "state") ? cmd_field(lr, "state") :
	    "running");
}

/* "message: string, required; times: integer = 1", or "". */
static void
params_text(const json_t *ps, struct lr_buf *b)
{
	const json_t *p, *d;
	char *s;
	size_t i;

	json_array_foreach(ps, i, p) {
		lr_buf_printf(b, "%s%s: %s", i ? "; " : "", cmd_field(p,
		    "name"), cmd_field(p, "type"));
		if (json_is_true(json_object_get(p, "required")))
			lr_buf_adds(b, ", required");
		if ((d = json_object_get(p, "default")) != NULL) {
			s = json_dumps(d, JSON_ENCODE_ANY | JSON_COMPACT);
			lr_buf_printf(b, " = %s", cmd_vis(s));
			free(s);
		}
		if (json_object_get(p, "values")) {
			s = json_dumps(json_object_get(p, "values"),
			    JSON_COMPACT);
			lr_buf_printf(b, " of %s", cmd_vis(s));
			free(s);
		}
	}
}

static void
print_tasks(const json_t *items)
{
	struct lr_buf tg = LR_BUF_INIT, sch = LR_BUF_INIT, lr = LR_BUF_INIT;
	struct lr_buf ps = LR_BUF_INIT;
	const json_t *t;
	size_t i;

	printf("%-20s %-24s %-5s %-44s %s\n", "TASK", "TARGETS", "HOSTS",
	    "SCHEDULE", "LAST RUN");
	json_array_foreach(items, i, t) {
		lr_buf_reset(&tg);
		lr_buf_reset(&sch);
		lr_buf_reset(&lr);
		lr_buf_reset(&ps);
		lr_buf_adds(&tg, "");
		targets_text(json_object_get(t, "targets"), &tg);
		schedule_text(json_object_get(t, "schedule"), &sch);
		last_run_text(json_object_get(t, "last_run"), &lr);
		params_text(json_object_get(t, "params"), &ps);
		printf("%-20s %-24s %-5zu %-44s %s\n", cmd_field(t, "name"),
		    tg.s, json_array_size(json_object_get(t, "hosts")), sch.s,
		    lr.s);
		if (lr_json_strn(t, "description"))
			printf("    %s\n", cmd_field(t, "description"));
		if (ps.len)
			printf("    params: %s\n", ps.s);
	}
	lr_buf_release(&tg);
	lr_buf_release(&sch);
	lr_buf_release(&lr);
	lr_buf_release(&ps);
}

/* What either path answers: {"items","commit"} (new), or NULL. */
static json_t *
tasks_remote(struct lr_ctx *ctx, const char *search, int *rc)
{
	struct remote r;
	json_t *out = NULL;
	char *path;

	if ((*rc = cmd_remote_open(&r, ctx, 0)) != 0)
		return NULL;
	path = lr_xstrdup("/v1/tasks");
	rec_api_query_add(r.api, &path, "search", search);
	*rc = cmd_remote_call(&r, "GET", path, NULL, &out);
	free(path);
	if (*rc == 0 && !json_is_array(json_object_get(out, "items"))) {
		fprintf(stderr, "leura: error: %s answered GET /v1/tasks with "
		    "something other than a list of tasks\nhint: is it a "
		    "leurad of this version?\n", cmd_vis(r.url));
		json_decref(out);
		out = NULL;
		*rc = LR_EXIT_FAIL;
	}
	cmd_remote_release(&r);
	return out;
}

static json_t *
tasks_direct(struct lr_ctx *ctx, const char *search, int *rc)
{
	struct rec_load l;
	json_t *items, *o;
	size_t i;

	if ((*rc = cmd_load(&l, ctx, NULL, REC_COMPILE_TASKS)) != 0) {
		rec_load_release(&l);
		return NULL;
	}
	items = json_array();
	for (i = 0; i < l.repo->ntasks; i++) {
		if (!rec_task_matches(&l.repo->tasks[i], search))
			continue;
		o = rec_task_json(&l.repo->tasks[i], &l.comp);
		json_object_set_new(o, "last_run", json_null());
		json_array_append_new(items, o);
	}
	o = json_pack("{s:o, s:s?}", "items", items, "commit", l.commit);
	rec_load_release(&l);
	return o;
}

int
cmd_tasks(int argc, char **argv, struct lr_ctx *ctx)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, OPT_JSON },
		{ "search", required_argument, NULL, OPT_SEARCH },
		{ "direct", no_argument, NULL, OPT_DIRECT },
		SERVER_LONGOPT,
		CMD_HELP_LONGOPT,
		{ NULL, 0, NULL, 0 }
	};
	const char *search = NULL;
	char *url = NULL, *cacert = NULL;
	bool json = false, direct = false;
	json_t *out;
	int c, rc;

	while ((c = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_JSON: json = true; break;
		case OPT_SEARCH: search = optarg; break;
		case OPT_DIRECT: direct = true; break;
		default:
			if (c != CONN_OPT_SERVER ||
			    !conn_getopt(c, optarg, ctx))
				return cmd_bad_option(c, argv, usage_str);
		}
	}
	if ((rc = cmd_no_args(argc, argv, usage_str)) != 0)
		return rc;
	/* through leurad when one is configured, as status */
	if (!direct && (rc = cmd_remote_url(ctx, &url, &cacert)) != 0)
		return rc;
	free(cacert);
	out = url ? tasks_remote(ctx, search, &rc) :
	    tasks_direct(ctx, search, &rc);
	free(url);
	if (out == NULL)
		return rc ? rc : LR_EXIT_FAIL;
	if (json)
		cmd_print_json(out);
	else if (json_array_size(json_object_get(out, "items")) == 0)
		printf(search ? "No task matches '%s'.\n" : "No tasks%s.\n",
		    search ? cmd_vis(search) : "");
	else
		print_tasks(json_object_get(out, "items"));
	json_decref(out);
	return LR_EXIT_OK;
}
