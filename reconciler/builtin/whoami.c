/*
 * leura whoami [--json]: who the server takes the caller for (GET
 * /v1/whoami): the user, their groups, the token in use and the grants
 * that apply to them, their own and their groups'.
 */
#include <getopt.h>
#include <stdio.h>

#include "builtin.h"
#include "json.h"

static const char usage_str[] =
    "usage: leura whoami [--server URL] [--json]\n";

enum { OPT_JSON = CMD_OPT_BASE };

int
cmd_whoami(int argc, char **argv, struct lr_ctx *ctx)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, OPT_JSON },
		SERVER_LONGOPT,
		CMD_HELP_LONGOPT,
		{ NULL, 0, NULL, 0 }
	};
	struct remote r;
	json_t *ans = NULL, *tok, *g;
	bool json = false;
	size_t i;
	int c, rc;

	while ((c = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
		if (c == OPT_JSON)
			json = true;
		else if (c != CONN_OPT_SERVER || !conn_getopt(c, optarg, ctx))
			return cmd_bad_option(c, argv, usage_str);
	}
	if ((rc = cmd_no_args(argc, argv, usage_str)) != 0)
		return rc;
	if ((rc = cmd_remote_open(&r, ctx, 0)) != 0)
		return rc;
	if ((rc = cmd_remote_call(&r, "GET", "/v1/whoami", NULL, &ans)) != 0)
		goto out;
	if (json) {
		cmd_print_json(ans);
		goto out;
	}
	printf("user:    %s\n", cmd_field(ans, "user"));
	printf("server:  %s\n", cmd_vis(r.url));
	printf("groups:  ");
	cmd_print_list(json_object_get(ans, "groups"), "(none)");
	putchar('\n');
	if (json_is_object(tok = json_object_get(ans, "token"))) {
		printf("token:   %s (%s", cmd_field(tok, "id"),
		    cmd_field(tok, "kind"));
		if (lr_json_strn(tok, "expires") != NULL)
			printf(", expires %s", cmd_field(tok, "expires"));
		if (json_array_size(json_object_get(tok, "scopes")) > 0) {
			printf(", scopes ");
			cmd_print_list(json_object_get(tok, "scopes"), "");
		}
		printf(")\n");
	}
	if (json_array_size(json_object_get(ans, "grants")) == 0)
		printf("grants:  none: this user may read and do nothing "
		    "yet\n");
	else
		printf("grants:\n");
	json_array_foreach(json_object_get(ans, "grants"), i, g)
		cmd_print_grant(g, "  ");
out:
	json_decref(ans);
	cmd_remote_release(&r);
	return rc;
}
