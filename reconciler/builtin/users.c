/*
 * leura users [list | add NAME | rm NAME | passwd [NAME] | disable NAME |
 * enable NAME]: the users of leurad (/v1/users).  Subcommands are words,
 * as git's (git remote add); with none, list.  A new password is asked
 * on the terminal twice without echo, or read from --password-file or
 * --password-stdin: never from argv.  Updates send the If-Match of the
 * user they read, so two admins cannot overwrite each other unseen.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builtin.h"
#include "json.h"
#include "xalloc.h"

static const char usage_str[] =
    "usage: leura users [list] [--json]\n"
    "   or: leura users add NAME [--password-file FILE | --password-stdin]\n"
    "   or: leura users rm NAME\n"
    "   or: leura users passwd [NAME] [--password-file FILE | "
    "--password-stdin]\n"
    "   or: leura users disable NAME\n"
    "   or: leura users enable NAME\n";

enum { OPT_JSON = CMD_OPT_BASE, OPT_PWFILE, OPT_PWSTDIN };

struct users_opts {
	bool	 json;
	struct cmd_password_src pw;
};

/* getopt over argv (from argv[1]): -1 to go on, or an exit status. */
static int
parse_opts(int argc, char **argv, struct users_opts *o, struct lr_ctx *ctx)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, OPT_JSON },
		{ "password-file", required_argument, NULL, OPT_PWFILE },
		{ "password-stdin", no_argument, NULL, OPT_PWSTDIN },
		SERVER_LONGOPT,
		CMD_HELP_LONGOPT,
		{ NULL, 0, NULL, 0 }
	};
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_JSON: o->json = true; break;
		case OPT_PWFILE: o->pw.file = optarg; break;
		case OPT_PWSTDIN: o->pw.from_stdin = true; break;
		default:
			if (c != CONN_OPT_SERVER ||
			    !conn_getopt(c, optarg, ctx))
				return cmd_bad_option(c, argv, usage_str);
		}
	}
	return -1;
}

static int
users_list(struct remote *r, const struct users_opts *o)
{
	json_t *items = NULL, *u;
	size_t i;
	int rc;

	if ((rc = cmd_remote_list(r, "/v1/users", 0, &items)) != 0)
		return rc;
	if (o->json)
		cmd_print_json(items);
	else
		json_array_foreach(items, i, u) {
			printf("%-20s %s", cmd_field(u, "name"),
			    lr_json_bool(u, "disabled") ? "disabled" :
			    "enabled ");
			if (lr_json_strn(u, "created_by") != NULL)
				printf("  created by %s",
				    cmd_field(u, "created_by"));
			if (json_array_size(json_object_get(u, "groups"))) {
				printf("  groups: ");
				cmd_print_list(json_object_get(u, "groups"),
				    "");
			}
			putchar('\n');
		}
	json_decref(items);
	return LR_EXIT_OK;
}

/* PATCH /v1/users/NAME with what, after reading its ETag. */
static int
users_patch(struct remote *r, const char *name, json_t *what)
{
	char *path = rec_api_path(r->api, "/v1/users/%s", name);
	json_t *cur = NULL;
	struct lr_err err;
	char *etag = NULL;
	int rc;

	/*
	 * A user who may change only their own password may not read
	 * the user: then the PATCH goes without If-Match, and its own
	 * answer says what is wrong
	 */
	lr_err_clear(&err);
	if (rec_api_call(r->api, "GET", path, NULL, &cur, NULL, &err) == 0 &&
	    rec_api_etag(r->api) != NULL)
		etag = lr_xstrdup(rec_api_etag(r->api));
	rec_api_if_match(r->api, etag);
	rc = cmd_remote_call(r, "PATCH", path, what, NULL);
	free(etag);
	json_decref(cur);
	free(path);
	return rc;
}

/* json string holding a secret: wipe it before it is freed */
static void
wipe_str(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	if (json_string_value(v) != NULL)
		explicit_bzero((char *)json_string_value(v),
		    json_string_length(v));
}

static int
users_password(struct remote *r, const struct users_opts *o,
    const char *name, bool add)
{
	char *pw = NULL, *prompt;
	json_t *body;
	int rc;

	prompt = lr_xasprintf("New password for %s: ", cmd_vis(name));
	rc = cmd_password(&o->pw, prompt, true, &pw);
	free(prompt);
	if (rc != 0)
		return rc;
	if (add) {
		body = json_pack("{s:s, s:s}", "name", name, "password", pw);
		rc = cmd_remote_call(r, "POST", "/v1/users", body, NULL);
		if (rc == 0)
			printf("Added user %s.\n", cmd_vis(name));
	} else {
		body = json_pack("{s:s}", "password", pw);
		rc = users_patch(r, name, body);
		if (rc == 0)
			printf("Changed the password of %s.\n", cmd_vis(name));
	}
	wipe_str(body, "password");
	json_decref(body);
	cmd_password_free(pw);
	return rc;
}

/* The logged-in user: the credentials' name, else whoami's. */
static char *
me(struct remote *r)
{
	json_t *ans = NULL;
	char *u = NULL;

	if (r->user != NULL)
		return lr_xstrdup(r->user);
	if (cmd_remote_call(r, "GET", "/v1/whoami", NULL, &ans) == 0 &&
	    lr_json_strn(ans, "user") != NULL)
		u = lr_xstrdup(lr_json_str(ans, "user"));
	json_decref(ans);
	return u;
}

int
cmd_users(int argc, char **argv, struct lr_ctx *ctx)
{
	struct users_opts o = { 0 };
	struct remote r = { 0 };
	const char *sub = "list", *name = NULL;
	char *path = NULL, *self = NULL;
	json_t *body;
	bool named;
	int rc, i;

	if ((rc = parse_opts(argc, argv, &o, ctx)) >= 0)
		return rc;
	i = optind;
	if (i < argc)
		sub = argv[i++];
	if (i < argc && argv[i][0] != '-')
		name = argv[i++];
	if ((rc = parse_opts(argc - i + 1, argv + i - 1, &o, ctx)) >= 0)
		return rc;
	if ((rc = cmd_no_args(argc - i + 1, argv + i - 1, usage_str)) != 0)
		return rc;
	if (o.pw.file != NULL && o.pw.from_stdin) {
		fprintf(stderr, "leura: error: --password-file and "
		    "--password-stdin name two passwords\n%s", usage_str);
		return LR_EXIT_USAGE;
	}
	named = strcmp(sub, "add") == 0 || strcmp(sub, "rm") == 0 ||
	    strcmp(sub, "disable") == 0 || strcmp(sub, "enable") == 0;
	if (named && name == NULL) {
		fprintf(stderr, "leura: error: users %s wants a NAME\n%s", sub,
		    usage_str);
		return LR_EXIT_USAGE;
	}
	if (!named && strcmp(sub, "passwd") != 0 &&
	    (strcmp(sub, "list") != 0 || name != NULL)) {
		fprintf(stderr, "leura: error: '%s%s%s' is not a users "
		    "command\n%s", sub, name ? " " : "", name ? name : "",
		    usage_str);
		return LR_EXIT_USAGE;
	}
	if ((rc = cmd_remote_open(&r, ctx, 0)) != 0)
		return rc;
	if (strcmp(sub, "list") == 0)
		rc = users_list(&r, &o);
	else if (strcmp(sub, "add") == 0)
		rc = users_password(&r, &o, name, true);
	else if (strcmp(sub, "passwd") == 0) {
		if (name == NULL && (name = self = me(&r)) == NULL)
			rc = LR_EXIT_FAIL;
		else
			rc = users_password(&r, &o, name, false);
	} else if (strcmp(sub, "rm") == 0) {
		path = rec_api_path(r.api, "/v1/users/%s", name);
		if ((rc = cmd_remote_call(&r, "DELETE", path, NULL, NULL)) == 0)
			printf("Removed user %s.\n", cmd_vis(name));
	} else {
		bool off = strcmp(sub, "disable") == 0;

		body = json_pack("{s:b}", "disabled", off);
		if ((rc = users_patch(&r, name, body)) == 0)
			printf("%s user %s.\n", off ? "Disabled" : "Enabled",
			    cmd_vis(name));
		json_decref(body);
	}
	free(path);
	free(self);
	cmd_remote_release(&r);
	return rc;
}
