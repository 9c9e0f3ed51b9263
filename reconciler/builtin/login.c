/*
 * leura login [--server URL] [USER]: trade a user's password for a
 * session token (POST /v1/login) and keep the token in the credentials
 * file (reconcile/creds.h, 0600), under the server's URL, for the
 * commands that talk to leurad.  The password is asked on the terminal
 * without echo, or read from --password-file or --password-stdin; never
 * taken from argv, where ps and /proc/PID/cmdline show it.
 */
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "builtin.h"
#include "creds.h"
#include "json.h"
#include "xalloc.h"

static const char usage_str[] =
    "usage: leura login [--server URL] [--password-file FILE | "
    "--password-stdin] [--json] [USER]\n";

enum { OPT_PWFILE = CMD_OPT_BASE, OPT_PWSTDIN, OPT_JSON };

/* $USER, else the login name of the uid; NULL when neither. */
static const char *
default_user(void)
{
	const char *u = getenv("USER");
	struct passwd *pw;

	if (u != NULL && *u != '\0')
		return u;
	pw = getpwuid(getuid());
	return pw != NULL ? pw->pw_name : NULL;
}

int
cmd_login(int argc, char **argv, struct lr_ctx *ctx)
{
	static const struct option longopts[] = {
		{ "password-file", required_argument, NULL, OPT_PWFILE },
		{ "password-stdin", no_argument, NULL, OPT_PWSTDIN },
		{ "json", no_argument, NULL, OPT_JSON },
		SERVER_LONGOPT,
		CMD_HELP_LONGOPT,
		{ NULL, 0, NULL, 0 }
	};
	struct cmd_password_src src = { 0 };
	struct rec_cred cred = { 0 };
	struct remote r = { 0 };
	struct lr_err err;
	const char *user = NULL;
	char *password = NULL, *prompt = NULL;
	json_t *body = NULL, *ans = NULL;
	bool json = false;
	int c, rc;

	while ((c = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_PWFILE: src.file = optarg; break;
		case OPT_PWSTDIN: src.from_stdin = true; break;
		case OPT_JSON: json = true; break;
		default:
			if (c != CONN_OPT_SERVER ||
			    !conn_getopt(c, optarg, ctx))
				return cmd_bad_option(c, argv, usage_str);
		}
	}
	if (optind < argc && argv[optind][0] != '-')
		user = argv[optind++];
	if ((rc = cmd_no_args(argc, argv, usage_str)) != 0)
		return rc;
	if (src.file != NULL && src.from_stdin) {
		fprintf(stderr, "leura: error: --password-file and "
		    "--password-stdin name two passwords\n%s", usage_str);
		return LR_EXIT_USAGE;
	}
	if (user == NULL && (user = default_user()) == NULL) {
		fprintf(stderr, "leura: error: who logs in? USER is not "
		    "set\nhint: name the user: leura login USER\n");
		return LR_EXIT_USAGE;
	}
	if ((rc = cmd_remote_open(&r, ctx, REMOTE_ANON)) != 0)
		return rc;
	prompt = lr_xasprintf("Password for %s at %s: ", cmd_vis(user),
	    cmd_vis(r.url));
	if ((rc = cmd_password(&src, prompt, false, &password)) != 0)
		goto out;
	/* body holds the password: wiped below with password */
	body = json_pack("{s:s, s:s}", "user", user, "password", password);
	rc = cmd_remote_call(&r, "POST", "/v1/login", body, &ans);
	if (rc != 0)
		goto out;
	rc = LR_EXIT_FAIL;
	if (lr_json_strn(ans, "token") == NULL) {
		fprintf(stderr, "leura: error: leurad at '%s' answered the "
		    "login without a token\n", cmd_vis(r.url));
		goto out;
	}
	cred.token = lr_xstrdup(lr_json_str(ans, "token"));
	cred.user = lr_xstrdup(lr_json_strn(ans, "user") ?
	    lr_json_str(ans, "user") : user);
	if (lr_json_strn(ans, "expires") != NULL)
		cred.expires = lr_xstrdup(lr_json_str(ans, "expires"));
	lr_err_clear(&err);
	if (rec_creds_put(r.url, &cred, &err) < 0) {
		lr_err_print(&err);
		goto out;
	}
	if (json) {
		json_t *o = json_pack("{s:s, s:s, s:s?}", "server", r.url,
		    "user", cred.user, "expires", cred.expires);

		cmd_print_json(o);
		json_decref(o);
	} else
		printf("Logged in to %s as %s%s%s%s.\n", cmd_vis(r.url),
		    cmd_vis(cred.user), cred.expires ? " (until " : "",
		    cred.expires ? cmd_vis(cred.expires) : "",
		    cred.expires ? ")" : "");
	rc = LR_EXIT_OK;
out:
	if (body != NULL) {
		json_t *pw = json_object_get(body, "password");

		if (json_string_value(pw) != NULL)
			explicit_bzero((char *)json_string_value(pw),
			    json_string_length(pw));
		json_decref(body);
	}
	if (ans != NULL && json_string_value(json_object_get(ans, "token")))
		explicit_bzero((char *)json_string_value(json_object_get(ans,
		    "token")), json_string_length(json_object_get(ans,
		    "token")));
	json_decref(ans);
	cmd_password_free(password);
	rec_cred_release(&cred);
	free(prompt);
	cmd_remote_release(&r);
	return rc;
}
