/*
 * leura history [--json] [-n N]: the deploys recorded by apply, newest
 * first (P/source/deploys/).
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
    "usage: leura history [-n N] [--json] [--etcd URL[,URL...]]\n";

enum { OPT_JSON = CMD_OPT_BASE };

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

int
cmd_history(int argc, char **argv, struct lr_ctx *ctx)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, OPT_JSON },
		CONN_LONGOPTS,
		CMD_HELP_LONGOPT,
		{ NULL, 0, NULL, 0 }
	};
	struct lr_buf b = LR_BUF_INIT;
	struct conn c = { 0 };
	struct lr_err err;
	json_t *list = NULL, *d;
	const char *v;
	char *end, *fleet = NULL;
	long limit = 0;
	bool json = false;
	struct proto_head h;
	size_t i, at;
	int k, rc = LR_EXIT_FAIL;

	while ((k = getopt_long(argc, argv, "+:hn:", longopts, NULL)) != -1) {
		switch (k) {
		case OPT_JSON:
			json = true;
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
	rc = LR_EXIT_FAIL;
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
	rc = LR_EXIT_OK;
out:
	free(fleet);
	lr_buf_release(&b);
	json_decref(list);
	conn_release(&c);
	return rc;
}
