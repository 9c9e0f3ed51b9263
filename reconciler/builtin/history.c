/*
 * leura history [--json] [-n N]: the deploys recorded by apply, newest
 * first (P/source/deploys/).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "specload.h"
#include "state.h"

static const char usage_str[] =
    "usage: leura history [-n N] [--json] [--etcd URL[,URL...]]\n";

int
cmd_history(int argc, char **argv, struct lr_ctx *ctx)
{
	struct conn c = { 0 };
	struct lr_err err;
	json_t *list = NULL, *d;
	const char *v;
	char *end;
	long limit = 0;
	bool json = false;
	size_t i;
	int k, rc = LR_EXIT_FAIL;

	for (k = 1; k < argc; k++) {
		if (strcmp(argv[k], "--json") == 0)
			json = true;
		else if ((v = opt_value(argc, argv, &k, "-n")) != NULL) {
			limit = strtol(v, &end, 10);
			if (*v == '\0' || *end || limit <= 0) {
				fprintf(stderr, "leura: error: -n wants a "
				    "positive number, not '%s'\n", v);
				return LR_EXIT_USAGE;
			}
		} else if (conn_opt(argc, argv, &k, ctx))
			continue;
		else
			return cmd_help_or_bad(argv[k], usage_str);
	}
	lr_err_clear(&err);
	if (conn_open(&c, ctx) != 0)
		goto out;
	if (rec_history_load(c.etcd, c.prefix, (size_t)limit, &list,
	    &err) < 0) {
		lr_err_print(&err);
		goto out;
	}
	if (json)
		cmd_print_json(list);
	else if (json_array_size(list) == 0)
		printf("No deploys yet.\n");
	json_array_foreach(json ? NULL : list, i, d)
		printf("#%-5lld %.12s  %s  %-20s %s%s%s\n", (long long)
		    json_integer_value(json_object_get(d, "deploy")),
		    json_string_value(json_object_get(d, "commit")),
		    json_string_value(json_object_get(d, "at")),
		    json_string_value(json_object_get(d, "by")),
		    json_string_value(json_object_get(d, "summary")) ?
		    json_string_value(json_object_get(d, "summary")) : "",
		    json_is_true(json_object_get(d, "rollback")) ?
		    " (rollback)" : "", "");
	rc = LR_EXIT_OK;
out:
	json_decref(list);
	conn_release(&c);
	return rc;
}
