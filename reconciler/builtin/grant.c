/*
 * leura grant SUBJECT VERB RESOURCE: let a user or a group do VERB (read,
 * run, apply, approve, admin; each implies the ones before it) on the
 * resources RESOURCE matches (services/web, hosts/db*, *).  SUBJECT is
 * user:NAME or group:NAME; a bare NAME is a user.  POST /v1/grants; the
 * grant's id is what `leura revoke` takes.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builtin.h"
#include "json.h"
#include "xalloc.h"

static const char usage_str[] =
    "usage: leura grant [--json] SUBJECT VERB RESOURCE\n";

enum { OPT_JSON = CMD_OPT_BASE };

int
cmd_grant(int argc, char **argv, struct lr_ctx *ctx)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, OPT_JSON },
		SERVER_LONGOPT,
		CMD_HELP_LONGOPT,
		{ NULL, 0, NULL, 0 }
	};
	struct remote r;
	json_t *body, *ans = NULL;
	char *subject;
	bool json = false;
	int c, rc;

	while ((c = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
		if (c == OPT_JSON)
			json = true;
		else if (c != CONN_OPT_SERVER || !conn_getopt(c, optarg, ctx))
			return cmd_bad_option(c, argv, usage_str);
	}
	if ((rc = cmd_operands(argc, argv, usage_str)) != 0)
		return rc;
	if (argc - optind != 3) {
		fprintf(stderr, "leura: error: grant wants a SUBJECT, a VERB "
		    "and a RESOURCE\n%s", usage_str);
		return LR_EXIT_USAGE;
	}
	if (strncmp(argv[optind], "user:", 5) == 0 ||
	    strncmp(argv[optind], "group:", 6) == 0)
		subject = lr_xstrdup(argv[optind]);
	else
		subject = lr_xasprintf("user:%s", argv[optind]);
	if ((rc = cmd_remote_open(&r, ctx, 0)) != 0) {
		free(subject);
		return rc;
	}
	body = json_pack("{s:s, s:s, s:s}", "subject", subject, "verb",
	    argv[optind + 1], "resource", argv[optind + 2]);
	if ((rc = cmd_remote_call(&r, "POST", "/v1/grants", body,
	    &ans)) == 0) {
		if (json)
			cmd_print_json(ans);
		else
			printf("Granted %s: %s %s %s.\n", cmd_field(ans, "id"),
			    cmd_vis(subject), cmd_vis(argv[optind + 1]),
			    cmd_vis(argv[optind + 2]));
	}
	json_decref(body);
	json_decref(ans);
	free(subject);
	cmd_remote_release(&r);
	return rc;
}
