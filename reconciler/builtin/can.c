/*
 * leura can VERB RESOURCE [--as USER]: may I (or USER: asking for another
 * needs admin on users/USER) do VERB on RESOURCE?  The server's explain
 * (GET /v1/auth/explain): "yes, because grant G via group X", or "no",
 * the nearest grants and whom to ask.  Exit status 0 yes, 2 no (as plan
 * --detailed-exitcode: an answer, not a failure), 1 when it could not be
 * asked.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "builtin.h"
#include "json.h"
#include "xalloc.h"

static const char usage_str[] =
    "usage: leura can [--as USER] [--json] VERB RESOURCE\n";

enum { OPT_JSON = CMD_OPT_BASE, OPT_AS };

int
cmd_can(int argc, char **argv, struct lr_ctx *ctx)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, OPT_JSON },
		{ "as", required_argument, NULL, OPT_AS },
		SERVER_LONGOPT,
		CMD_HELP_LONGOPT,
		{ NULL, 0, NULL, 0 }
	};
	struct remote r;
	const char *as = NULL;
	json_t *ans = NULL, *g;
	char *path;
	const char *what[2] = { NULL, NULL };
	bool json = false, yes;
	size_t i;
	int c, rc, n, base, k;

	/*
	 * Options before or after VERB RESOURCE (leura can apply
	 * services/web --as bob reads as the question it is)
	 */
	for (n = 0, base = 0, k = 0;; base = k) {
		/* argv[base] plays argv[0]: getopt starts after it */
		optind = 0;
		while ((c = getopt_long(argc - base, argv + base, "+:h",
		    longopts, NULL)) != -1) {
			if (c == OPT_JSON)
				json = true;
			else if (c == OPT_AS)
				as = optarg;
			else if (c != CONN_OPT_SERVER ||
			    !conn_getopt(c, optarg, ctx))
				return cmd_bad_option(c, argv + base,
				    usage_str);
		}
		if ((k = base + optind) >= argc)
			break;
		if (n == 2) {
			n = 3;
			break;
		}
		what[n++] = argv[k];
	}
	if (n != 2) {
		fprintf(stderr, "leura: error: can wants a VERB and a "
		    "RESOURCE, e.g. leura can apply services/web\n%s",
		    usage_str);
		return LR_EXIT_USAGE;
	}
	if ((rc = cmd_remote_open(&r, ctx, 0)) != 0)
		return rc;
	path = lr_xstrdup("/v1/auth/explain");
	rec_api_query_add(r.api, &path, "verb", what[0]);
	rec_api_query_add(r.api, &path, "resource", what[1]);
	rec_api_query_add(r.api, &path, "user", as);
	if ((rc = cmd_remote_call(&r, "GET", path, NULL, &ans)) != 0)
		goto out;
	yes = lr_json_bool(ans, "allowed");
	if (json)
		cmd_print_json(ans);
	else {
		printf("%s: %s\n", yes ? "yes" : "no",
		    cmd_field(ans, "reason"));
		if (!yes && json_array_size(json_object_get(ans, "grants"))) {
			printf("nearest grants:\n");
			json_array_foreach(json_object_get(ans, "grants"), i,
			    g)
				cmd_print_grant(g, "  ");
		}
		if (!yes && lr_json_strn(ans, "hint") != NULL &&
		    *lr_json_str(ans, "hint") != '\0')
			printf("hint: %s\n", cmd_field(ans, "hint"));
	}
	rc = yes ? LR_EXIT_OK : LR_EXIT_CHANGES;
out:
	json_decref(ans);
	free(path);
	cmd_remote_release(&r);
	return rc;
}
