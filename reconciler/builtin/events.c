/*
 * leura events [--since 24h] [--actor USER] [--action ACTION]
 * [--resource R] [--limit N] [--json]: the audit log leurad keeps (GET
 * /v1/events, every page): who did what to what, when, and how it went;
 * filtered by the server to what the caller may read.  Oldest first, one
 * a line: TIME ACTOR OUTCOME STATUS ACTION RESOURCE.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "builtin.h"
#include "json.h"
#include "xalloc.h"

static const char usage_str[] =
    "usage: leura events [--since DURATION] [--actor USER] "
    "[--action ACTION] [--resource RESOURCE] [--limit N] [--json]\n";

enum { OPT_JSON = CMD_OPT_BASE, OPT_SINCE, OPT_ACTOR, OPT_ACTION,
	OPT_RESOURCE, OPT_LIMIT };

/* An event's detail: a string as is, an object as compact JSON. */
static void
print_detail(const json_t *d)
{
	char *s;

	if (json_is_string(d) && *json_string_value(d) != '\0')
		printf("  %s", cmd_vis(json_string_value(d)));
	else if ((json_is_object(d) && json_object_size(d) > 0) ||
	    (json_is_array(d) && json_array_size(d) > 0)) {
		s = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
		printf("  %s", cmd_vis(s));
		free(s);
	}
}

int
cmd_events(int argc, char **argv, struct lr_ctx *ctx)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, OPT_JSON },
		{ "since", required_argument, NULL, OPT_SINCE },
		{ "actor", required_argument, NULL, OPT_ACTOR },
		{ "action", required_argument, NULL, OPT_ACTION },
		{ "resource", required_argument, NULL, OPT_RESOURCE },
		{ "limit", required_argument, NULL, OPT_LIMIT },
		SERVER_LONGOPT,
		CMD_HELP_LONGOPT,
		{ NULL, 0, NULL, 0 }
	};
	const char *since = "24h", *actor = NULL, *action = NULL, *res = NULL;
	struct remote r;
	json_t *items = NULL, *e;
	char *path;
	long long limit = 0;
	bool json = false;
	size_t i;
	int c, rc;

	while ((c = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_JSON: json = true; break;
		case OPT_SINCE: since = optarg; break;
		case OPT_ACTOR: actor = optarg; break;
		case OPT_ACTION: action = optarg; break;
		case OPT_RESOURCE: res = optarg; break;
		case OPT_LIMIT:
			if ((rc = cmd_limit_arg(optarg, "events", &limit)) != 0)
				return rc;
			break;
		default:
			if (c != CONN_OPT_SERVER ||
			    !conn_getopt(c, optarg, ctx))
				return cmd_bad_option(c, argv, usage_str);
		}
	}
	if ((rc = cmd_no_args(argc, argv, usage_str)) != 0 ||
	    (rc = cmd_remote_open(&r, ctx, 0)) != 0)
		return rc;
	path = lr_xstrdup("/v1/events");
	rec_api_query_add(r.api, &path, "since", since);
	rec_api_query_add(r.api, &path, "actor", actor);
	rec_api_query_add(r.api, &path, "action", action);
	rec_api_query_add(r.api, &path, "resource", res);
	if ((rc = cmd_remote_list(&r, path, (size_t)limit, &items)) != 0)
		goto out;
	if (json)
		cmd_print_json(items);
	else
		json_array_foreach(items, i, e) {
			printf("%-24s %-12s %-7s %-3s %-28s %s",
			    cmd_field(e, "time"), lr_json_strn(e, "actor") ?
			    cmd_field(e, "actor") : "-",
			    cmd_field(e, "outcome"), cmd_field(e, "status"),
			    cmd_field(e, "action"), cmd_field(e, "resource"));
			print_detail(json_object_get(e, "detail"));
			putchar('\n');
		}
out:
	json_decref(items);
	free(path);
	cmd_remote_release(&r);
	return rc;
}
