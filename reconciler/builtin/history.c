/*
 * leura history [--json] [-n N]: the deploys recorded by apply, newest
 * first (P/source/deploys/); with a server configured (and no --direct),
 * from leurad's GET /v1/deploys, printed the same way.
 */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "builtin.h"
#include "doc.h"
#include "state.h"

static const char usage_str[] =
    "usage: leura history [-n N] [--json] [--etcd URL[,URL...] | "
    "--server URL | --direct]\n";

enum { OPT_JSON = CMD_OPT_BASE, OPT_DIRECT };

/*
 * At most max bytes of s made visible (the store's words, shown and never
 * acted on); nothing for a field a record lacks (not what Leura writes).
 */
static void
add_vis(struct lr_buf *b, const char *s, size_t max)
{
	if (s != NULL)
		lr_buf_add_visible(b, s, strnlen(s, max), 0);
}

/* The deploys of list, one a line (or --json); the exit status. */
static int
print_history(const json_t *list, bool json)
{
	struct lr_buf b = LR_BUF_INIT;
	struct proto_head h;
	const json_t *d;
	size_t i, at;

	if (json)
		cmd_print_json(list);
	else if (json_array_size(list) == 0)
		printf("No deploys yet.\n");
	json_array_foreach(json ? NULL : list, i, d) {
		proto_head_decode(d, &h);
		lr_buf_reset(&b);
		add_vis(&b, h.commit, 12);
		lr_buf_adds(&b, "  ");
		add_vis(&b, h.at, SIZE_MAX);
		lr_buf_adds(&b, "  ");
		at = b.len;
		add_vis(&b, h.by, SIZE_MAX);
		while (b.len - at < 20)
			lr_buf_addc(&b, ' ');
		lr_buf_addc(&b, ' ');
		add_vis(&b, h.summary, SIZE_MAX);
		printf("#%-5lld %s%s\n", (long long)h.deploy, b.s,
		    h.rollback ? " (rollback)" : "");
	}
	lr_buf_release(&b);
	return LR_EXIT_OK;
}

/* leura history straight from etcd. */
static int
history_direct(struct lr_ctx *ctx, long limit, bool json)
{
	struct conn c = { 0 };
	struct lr_err err;
	json_t *list = NULL;
	char *fleet = NULL;
	int rc = LR_EXIT_FAIL;

	lr_err_clear(&err);
	if (conn_open(&c, ctx) != 0)
		goto out;
	if (rec_fleet_load(c.etcd, c.prefix, &fleet, &err) < 0) {
		lr_err_print(&err);
		goto out;
	}
	if (conn_check_fleet(&c, fleet) != 0)
		goto out;
	if (rec_history_load(c.etcd, c.prefix, (size_t)limit, &list,
	    &err) < 0) {
		lr_err_print(&err);
		goto out;
	}
	rc = print_history(list, json);
out:
	free(fleet);
	json_decref(list);
	conn_release(&c);
	return rc;
}

/* leura history through leurad: GET /v1/deploys (read on fleet). */
static int
history_remote(struct lr_ctx *ctx, long limit, bool json)
{
	struct remote r;
	json_t *list = NULL;
	int rc;

	if ((rc = cmd_remote_open(&r, ctx, 0)) != 0)
		return rc;
	if ((rc = cmd_remote_list(&r, "/v1/deploys", (size_t)limit,
	    &list)) == 0)
		rc = print_history(list, json);
	json_decref(list);
	cmd_remote_release(&r);
	return rc;
}

int
cmd_history(int argc, char **argv, struct lr_ctx *ctx)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, OPT_JSON },
		{ "direct", no_argument, NULL, OPT_DIRECT },
		CONN_LONGOPTS,
		SERVER_LONGOPT,
		CMD_HELP_LONGOPT,
		{ NULL, 0, NULL, 0 }
	};
	const char *v;
	char *end, *url = NULL, *cacert = NULL;
	long limit = 0;
	bool json = false, direct = false;
	int k, rc;

	while ((k = getopt_long(argc, argv, "+:hn:", longopts, NULL)) != -1) {
		switch (k) {
		case OPT_JSON:
			json = true;
			break;
		case OPT_DIRECT:
			direct = true;
			break;
		case 'n':
			/* "-n=5" as well as "-n 5" and "-n5" */
			v = optarg[0] == '=' ? optarg + 1 : optarg;
			limit = strtol(v, &end, 10);
			if (*v == '\0' || *end || limit <= 0) {
				fprintf(stderr, "leura: error: -n wants a "
				    "positive number, not '%s'\n", v);
				return LR_EXIT_USAGE;
			}
			break;
		default:
			if (!conn_getopt(k, optarg, ctx))
				return cmd_bad_option(k, argv, usage_str);
		}
	}
	if ((rc = cmd_no_args(argc, argv, usage_str)) != 0)
		return rc;
	/* through leurad when one is configured, as plan and apply */
	if (!direct && (rc = cmd_remote_url(ctx, &url, &cacert)) != 0)
		return rc;
	free(cacert);
	rc = url != NULL ? history_remote(ctx, limit, json) :
	    history_direct(ctx, limit, json);
	free(url);
	return rc;
}
