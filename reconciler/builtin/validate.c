/*
 * leura validate: check the config repo and report every problem, each as
 * path:line:col: error: message.  No side effects, no network.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builtin.h"

static const char usage_str[] =
    "usage: leura validate [--ref REF] [--json] [--max-errors N]\n";

enum { OPT_REF = CMD_OPT_BASE, OPT_MAX_ERRORS, OPT_JSON };

int
cmd_validate(int argc, char **argv, struct lr_ctx *ctx)
{
	static const struct option longopts[] = {
		{ "ref", required_argument, NULL, OPT_REF },
		{ "max-errors", required_argument, NULL, OPT_MAX_ERRORS },
		{ "json", no_argument, NULL, OPT_JSON },
		CMD_HELP_LONGOPT,
		{ NULL, 0, NULL, 0 }
	};
	struct rec_load sl;
	struct lr_err err;
	const char *ref = NULL;
	bool json = false;
	size_t max = 20;
	json_t *o;
	char *end;
	int c, rc;

	while ((c = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_REF:
			ref = optarg;
			break;
		case OPT_MAX_ERRORS:
			max = (size_t)strtoul(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || *optarg == '-') {
				fprintf(stderr, "leura: error: --max-errors "
				    "needs a number, not '%s'\n%s", optarg,
				    usage_str);
				return LR_EXIT_USAGE;
			}
			break;
		case OPT_JSON:
			json = true;
			break;
		default:
			return cmd_bad_option(c, argv, usage_str);
		}
	}
	if ((rc = cmd_no_args(argc, argv, usage_str)) != 0)
		return rc;
	lr_err_clear(&err);
	rc = rec_load(&sl, ctx->repo_dir, ref, 0, &err);
	/* LR_EINVAL comes with diagnostics, or with err alone (a bad ref) */
	if (rc < 0 && sl.diags.nerrors == 0) {
		cmd_print_load_error(&sl, rc, &err, max);
		rec_load_release(&sl);
		return LR_EXIT_FAIL;
	}
	if (json) {
		o = json_pack("{s:b, s:s, s:o}", "valid", rc == 0, "source",
		    sl.label, "diagnostics", spec_diags_to_json(&sl.diags));
		if (sl.commit)
			json_object_set_new(o, "commit",
			    json_string(sl.commit));
		cmd_print_json(o);
		json_decref(o);
	} else {
		cmd_print_diags(&sl, max);
		if (rc == 0)
			printf("%s: valid: %zu hosts, %zu groups, %zu services, "
			    "%zu roles, %zu tasks\n", sl.label,
			    sl.repo->nhosts, sl.repo->ngroups,
			    sl.repo->nservices, sl.repo->nroles,
			    sl.repo->ntasks);
	}
	rec_load_release(&sl);
	return rc == 0 ? LR_EXIT_OK : LR_EXIT_FAIL;
}
