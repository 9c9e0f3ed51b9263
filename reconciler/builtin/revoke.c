/*
 * leura revoke GRANT-ID...: remove grants (DELETE /v1/grants/ID), by the
 * ids `leura grants` lists.  Stops at the first that fails.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "builtin.h"

static const char usage_str[] = "usage: leura revoke GRANT-ID...\n";

int
cmd_revoke(int argc, char **argv, struct lr_ctx *ctx)
{
	static const struct option longopts[] = {
		SERVER_LONGOPT,
		CMD_HELP_LONGOPT,
		{ NULL, 0, NULL, 0 }
	};
	struct remote r;
	char *path;
	int c, rc, i;

	while ((c = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
		if (c != CONN_OPT_SERVER || !conn_getopt(c, optarg, ctx))
			return cmd_bad_option(c, argv, usage_str);
	}
	if ((rc = cmd_operands(argc, argv, usage_str)) != 0)
		return rc;
	if (optind >= argc) {
		fprintf(stderr, "leura: error: which grant? name its id "
		    "(leura grants lists them)\n%s", usage_str);
		return LR_EXIT_USAGE;
	}
	if ((rc = cmd_remote_open(&r, ctx, 0)) != 0)
		return rc;
	for (i = optind; i < argc && rc == 0; i++) {
		path = rec_api_path(r.api, "/v1/grants/%s", argv[i]);
		if ((rc = cmd_remote_call(&r, "DELETE", path, NULL, NULL)) == 0)
			printf("Revoked grant %s.\n", cmd_vis(argv[i]));
		free(path);
	}
	cmd_remote_release(&r);
	return rc;
}
