/*
 * leura groups [list | add GROUP | rm GROUP | members GROUP | join GROUP
 * USER | leave GROUP USER]: the user groups of leurad (/v1/groups), which
 * grants name as group:GROUP.  Subcommands are words, as git's; with
 * none, list.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builtin.h"
#include "json.h"

static const char usage_str[] =
    "usage: leura groups [list] [--json]\n"
    "   or: leura groups add GROUP\n"
    "   or: leura groups rm GROUP\n"
    "   or: leura groups members GROUP [--json]\n"
    "   or: leura groups join GROUP USER\n"
    "   or: leura groups leave GROUP USER\n";

enum { OPT_JSON = CMD_OPT_BASE };

/* getopt over argv (from argv[1]): -1 to go on, or an exit status. */
static int
parse_opts(int argc, char **argv, bool *json, struct lr_ctx *ctx)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, OPT_JSON },
		SERVER_LONGOPT,
		CMD_HELP_LONGOPT,
		{ NULL, 0, NULL, 0 }
	};
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
		if (c == OPT_JSON)
			*json = true;
		else if (c != CONN_OPT_SERVER || !conn_getopt(c, optarg, ctx))
			return cmd_bad_option(c, argv, usage_str);
	}
	return -1;
}

/* The operands each subcommand takes. */
static int
operands(const char *sub)
{
	static const struct {
		const char *name;
		int	 n;
	} subs[] = { { "list", 0 }, { "add", 1 }, { "rm", 1 },
		{ "members", 1 }, { "join", 2 }, { "leave", 2 } };
	size_t i;

	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (strcmp(sub, subs[i].name) == 0)
			return subs[i].n;
	return -1;
}

static int
groups_list(struct remote *r, bool json)
{
	json_t *items = NULL, *g;
	size_t i;
	int rc;

	if ((rc = cmd_remote_list(r, "/v1/groups", 0, &items)) != 0)
		return rc;
	if (json)
		cmd_print_json(items);
	else
		json_array_foreach(items, i, g) {
			printf("%-20s ", cmd_field(g, "name"));
			cmd_print_list(json_object_get(g, "members"),
			    "(no members)");
			putchar('\n');
		}
	json_decref(items);
	return LR_EXIT_OK;
}

int
cmd_groups(int argc, char **argv, struct lr_ctx *ctx)
{
	struct remote r = { 0 };
	const char *sub = "list", *arg[2] = { NULL, NULL };
	char *path = NULL;
	json_t *body = NULL, *ans = NULL, *m;
	bool json = false;
	int rc, i, n, k;
	size_t j;

	if ((rc = parse_opts(argc, argv, &json, ctx)) >= 0)
		return rc;
	i = optind;
	if (i < argc)
		sub = argv[i++];
	if ((n = operands(sub)) < 0) {
		fprintf(stderr, "leura: error: '%s' is not a groups "
		    "command\n%s", sub, usage_str);
		return LR_EXIT_USAGE;
	}
	for (k = 0; k < n; k++) {
		if (i >= argc || argv[i][0] == '-') {
			fprintf(stderr, "leura: error: groups %s wants %s\n%s",
			    sub, n == 1 ? "a GROUP" : "a GROUP and a USER",
			    usage_str);
			return LR_EXIT_USAGE;
		}
		arg[k] = argv[i++];
	}
	if ((rc = parse_opts(argc - i + 1, argv + i - 1, &json, ctx)) >= 0 ||
	    (rc = cmd_no_args(argc - i + 1, argv + i - 1, usage_str)) != 0)
		return rc;
	if ((rc = cmd_remote_open(&r, ctx, 0)) != 0)
		return rc;
	if (strcmp(sub, "list") == 0) {
		rc = groups_list(&r, json);
	} else if (strcmp(sub, "add") == 0) {
		body = json_pack("{s:s}", "name", arg[0]);
		if ((rc = cmd_remote_call(&r, "POST", "/v1/groups", body,
		    NULL)) == 0)
			printf("Added group %s.\n", cmd_vis(arg[0]));
	} else if (strcmp(sub, "rm") == 0) {
		path = rec_api_path(r.api, "/v1/groups/%s", arg[0]);
		if ((rc = cmd_remote_call(&r, "DELETE", path, NULL,
		    NULL)) == 0)
			printf("Removed group %s.\n", cmd_vis(arg[0]));
	} else if (strcmp(sub, "members") == 0) {
		path = rec_api_path(r.api, "/v1/groups/%s", arg[0]);
		if ((rc = cmd_remote_call(&r, "GET", path, NULL, &ans)) == 0) {
			if (json)
				cmd_print_json(json_object_get(ans,
				    "members"));
			else
				json_array_foreach(json_object_get(ans,
				    "members"), j, m)
					printf("%s\n", cmd_vis(
					    json_string_value(m)));
		}
	} else {
		bool join = strcmp(sub, "join") == 0;

		path = rec_api_path(r.api, "/v1/groups/%s/members/%s", arg[0],
		    arg[1]);
		if ((rc = cmd_remote_call(&r, join ? "PUT" : "DELETE", path,
		    NULL, NULL)) == 0)
			printf("%s %s %s.\n", cmd_vis(arg[1]), join ?
			    "joined group" : "left group", cmd_vis(arg[0]));
	}
	json_decref(body);
	json_decref(ans);
	free(path);
	cmd_remote_release(&r);
	return rc;
}
