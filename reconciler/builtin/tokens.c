/*
 * leura tokens [list | create NAME [--scopes VERB,...] [--expires
 * DURATION] | revoke ID]: API tokens, for CI and scripts
 * (/v1/tokens).  A token acts as its owner, narrowed to its scopes.
 * create prints the secret once, alone on stdout (TOKEN=$(leura tokens
 * create ci)); the server keeps only its hash, so it is never shown
 * again.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builtin.h"
#include "clock.h"
#include "json.h"
#include "xalloc.h"

static const char usage_str[] =
    "usage: leura tokens [list] [--json]\n"
    "   or: leura tokens create NAME [--scopes VERB[,VERB...]] "
    "[--expires DURATION] [--json]\n"
    "   or: leura tokens revoke ID\n";

enum { OPT_JSON = CMD_OPT_BASE, OPT_SCOPES, OPT_EXPIRES };

struct tokens_opts {
	bool	 json;
	const char *scopes;	/* "read,run" */
	const char *expires;	/* "30d" */
};

/* getopt over argv (from argv[1]): -1 to go on, or an exit status. */
static int
parse_opts(int argc, char **argv, struct tokens_opts *o, struct lr_ctx *ctx)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, OPT_JSON },
		{ "scopes", required_argument, NULL, OPT_SCOPES },
		{ "expires", required_argument, NULL, OPT_EXPIRES },
		SERVER_LONGOPT,
		CMD_HELP_LONGOPT,
		{ NULL, 0, NULL, 0 }
	};
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_JSON: o->json = true; break;
		case OPT_SCOPES: o->scopes = optarg; break;
		case OPT_EXPIRES: o->expires = optarg; break;
		default:
			if (c != CONN_OPT_SERVER ||
			    !conn_getopt(c, optarg, ctx))
				return cmd_bad_option(c, argv, usage_str);
		}
	}
	return -1;
}

static int
tokens_list(struct remote *r, bool json)
{
	json_t *items = NULL, *t;
	size_t i;
	int rc;

	if ((rc = cmd_remote_list(r, "/v1/tokens", 0, &items)) != 0)
		return rc;
	if (json)
		cmd_print_json(items);
	else
		json_array_foreach(items, i, t) {
			printf("%-17s %-8s %-16s %-12s", cmd_field(t, "id"),
			    cmd_field(t, "kind"), cmd_field(t, "name"),
			    cmd_field(t, "user"));
			printf(" expires %s", lr_json_strn(t, "expires") ?
			    cmd_field(t, "expires") : "never");
			if (json_array_size(json_object_get(t, "scopes"))) {
				printf("  scopes ");
				cmd_print_list(json_object_get(t, "scopes"),
				    "");
			}
			putchar('\n');
		}
	json_decref(items);
	return LR_EXIT_OK;
}

static int
tokens_create(struct remote *r, const char *name, const struct tokens_opts *o)
{
	json_t *body, *scopes, *ans = NULL, *tok;
	char *list, *p, *save = NULL;
	long ms;
	int rc;

	body = json_pack("{s:s}", "name", name);
	if (o->scopes != NULL) {
		scopes = json_array();
		list = lr_xstrdup(o->scopes);
		for (p = strtok_r(list, ",", &save); p != NULL;
		    p = strtok_r(NULL, ",", &save))
			json_array_append_new(scopes, json_string(p));
		free(list);
		json_object_set_new(body, "scopes", scopes);
	}
	if (o->expires != NULL) {
		if (lr_duration_parse(o->expires, &ms) < 0 || ms < 1000) {
			fprintf(stderr, "leura: error: --expires wants a "
			    "duration such as 12h, 30d, not '%s'\n",
			    o->expires);
			json_decref(body);
			return LR_EXIT_USAGE;
		}
		json_object_set_new(body, "expires_in",
		    json_integer(ms / 1000));
	}
	rc = cmd_remote_call(r, "POST", "/v1/tokens", body, &ans);
	json_decref(body);
	if (rc != 0)
		return rc;
	if (o->json)
		cmd_print_json(ans);
	else {
		printf("%s\n", cmd_field(ans, "token"));
		fprintf(stderr, "Made API token %s (%s)%s%s; the line above "
		    "is its secret, shown this once.\n", cmd_field(ans, "id"),
		    cmd_vis(name), lr_json_strn(ans, "expires") ?
		    ", expires " : "", lr_json_strn(ans, "expires") ?
		    cmd_field(ans, "expires") : "");
	}
	tok = json_object_get(ans, "token");
	if (json_string_value(tok) != NULL)
		explicit_bzero((char *)json_string_value(tok),
		    json_string_length(tok));
	json_decref(ans);
	return LR_EXIT_OK;
}

int
cmd_tokens(int argc, char **argv, struct lr_ctx *ctx)
{
	struct tokens_opts o = { 0 };
	struct remote r = { 0 };
	const char *sub = "list", *arg = NULL;
	char *path;
	int rc, i;

	if ((rc = parse_opts(argc, argv, &o, ctx)) >= 0)
		return rc;
	i = optind;
	if (i < argc)
		sub = argv[i++];
	if (i < argc && argv[i][0] != '-')
		arg = argv[i++];
	if ((rc = parse_opts(argc - i + 1, argv + i - 1, &o, ctx)) >= 0 ||
	    (rc = cmd_no_args(argc - i + 1, argv + i - 1, usage_str)) != 0)
		return rc;
	if ((strcmp(sub, "create") == 0 || strcmp(sub, "revoke") == 0) &&
	    arg == NULL) {
		fprintf(stderr, "leura: error: tokens %s wants a%s\n%s", sub,
		    strcmp(sub, "create") == 0 ? " NAME" : "n ID", usage_str);
		return LR_EXIT_USAGE;
	}
	if (strcmp(sub, "list") == 0 ? arg != NULL :
	    strcmp(sub, "create") != 0 && strcmp(sub, "revoke") != 0) {
		fprintf(stderr, "leura: error: '%s%s%s' is not a tokens "
		    "command\n%s", sub, arg ? " " : "", arg ? arg : "",
		    usage_str);
		return LR_EXIT_USAGE;
	}
	if ((rc = cmd_remote_open(&r, ctx, 0)) != 0)
		return rc;
	if (strcmp(sub, "list") == 0)
		rc = tokens_list(&r, o.json);
	else if (strcmp(sub, "create") == 0)
		rc = tokens_create(&r, arg, &o);
	else {
		path = rec_api_path(r.api, "/v1/tokens/%s", arg);
		if ((rc = cmd_remote_call(&r, "DELETE", path, NULL, NULL)) == 0)
			printf("Revoked token %s.\n", cmd_vis(arg));
		free(path);
	}
	cmd_remote_release(&r);
	return rc;
}
