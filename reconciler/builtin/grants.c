/*
 * leura grants [--subject SUBJECT] [--json]: the grants the caller may
 * see (GET /v1/grants, every page), one a line: ID SUBJECT VERB
 * RESOURCE.  --subject keeps those of one user (user:NAME, or NAME) or
 * group (group:NAME).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builtin.h"
#include "json.h"
#include "xalloc.h"

static const char usage_str[] =
    "usage: leura grants [--subject SUBJECT] [--json]\n";

enum { OPT_JSON = CMD_OPT_BASE, OPT_SUBJECT };

int
cmd_grants(int argc, char **argv, struct lr_ctx *ctx)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, OPT_JSON },
		{ "subject", required_argument, NULL, OPT_SUBJECT },
		SERVER_LONGOPT,
		CMD_HELP_LONGOPT,
		{ NULL, 0, NULL, 0 }
	};
	struct remote r;
	json_t *items = NULL, *keep, *g;
	char *subject = NULL, *path;
	bool json = false;
	size_t i;
	int c, rc;

	while ((c = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_JSON:
			json = true;
			break;
		case OPT_SUBJECT:
			free(subject);
			subject = strchr(optarg, ':') != NULL ?
			    lr_xstrdup(optarg) :
			    lr_xasprintf("user:%s", optarg);
			break;
		default:
			if (c != CONN_OPT_SERVER ||
			    !conn_getopt(c, optarg, ctx)) {
				free(subject);
				return cmd_bad_option(c, argv, usage_str);
			}
		}
	}
	if ((rc = cmd_no_args(argc, argv, usage_str)) != 0 ||
	    (rc = cmd_remote_open(&r, ctx, 0)) != 0) {
		free(subject);
		return rc;
	}
	path = lr_xstrdup("/v1/grants");
	rec_api_query_add(r.api, &path, "subject", subject);
	if ((rc = cmd_remote_list(&r, path, 0, &items)) != 0)
		goto out;
	/* the server may list them all: keep the subject's */
	keep = json_array();
	json_array_foreach(items, i, g)
		if (subject == NULL || strcmp(lr_json_str(g, "subject"),
		    subject) == 0)
			json_array_append(keep, g);
	if (json)
		cmd_print_json(keep);
	else
		json_array_foreach(keep, i, g)
			cmd_print_grant(g, "");
	json_decref(keep);
out:
	json_decref(items);
	free(path);
	free(subject);
	cmd_remote_release(&r);
	return rc;
}
