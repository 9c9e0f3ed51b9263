/*
 * leura logout [--server URL]: end the session (POST /v1/logout, which
 * revokes the token) and forget its token in the credentials file.  The
 * token is forgotten even when the server cannot be asked or already
 * holds it expired: logging out never leaves a token behind.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builtin.h"
#include "creds.h"

static const char usage_str[] = "usage: leura logout [--server URL]\n";

int
cmd_logout(int argc, char **argv, struct lr_ctx *ctx)
{
	static const struct option longopts[] = {
		SERVER_LONGOPT,
		CMD_HELP_LONGOPT,
		{ NULL, 0, NULL, 0 }
	};
	struct rec_cred cred = { 0 };
	struct remote r = { 0 };
	struct lr_err err;
	char *url = NULL, *cacert = NULL;
	json_t *ans = NULL;
	long status = 0;
	int c, rc;

	while ((c = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
		if (c != CONN_OPT_SERVER || !conn_getopt(c, optarg, ctx))
			return cmd_bad_option(c, argv, usage_str);
	}
	if ((rc = cmd_no_args(argc, argv, usage_str)) != 0)
		return rc;
	if ((rc = cmd_remote_url(ctx, &url, &cacert)) != 0)
		return rc;
	rc = LR_EXIT_FAIL;
	if (url == NULL) {
		fprintf(stderr, "leura: error: no leurad server is "
		    "configured\nhint: name it: leura logout --server URL\n");
		goto out;
	}
	lr_err_clear(&err);
	if ((c = rec_creds_get(url, &cred, &err)) == LR_ENOENT) {
		printf("Not logged in to %s.\n", cmd_vis(url));
		rc = LR_EXIT_OK;
		goto out;
	} else if (c < 0) {
		cmd_remote_error(&err);
		goto out;
	}
	/* the stored token, not LEURA_TOKEN: that is the one to end */
	if (rec_api_open(url, cred.token, cacert, &r.api, &err) < 0) {
		cmd_remote_error(&err);
		goto out;
	}
	if (rec_api_call(r.api, "POST", "/v1/logout", NULL, &ans, &status,
	    &err) < 0 && status != 401) {
		fprintf(stderr, "leura: warning: %s\n", cmd_vis(err.msg));
		fprintf(stderr, "hint: the token is forgotten here; the "
		    "server ends it when it expires%s%s\n",
		    cred.expires ? " at " : "",
		    cred.expires ? cmd_vis(cred.expires) : "");
	}
	json_decref(ans);
	lr_err_clear(&err);
	if (rec_creds_put(url, NULL, &err) < 0) {
		lr_err_print(&err);
		goto out;
	}
	printf("Logged out of %s.\n", cmd_vis(url));
	rc = LR_EXIT_OK;
out:
	rec_cred_release(&cred);
	cmd_remote_release(&r);
	free(url);
	free(cacert);
	return rc;
}
