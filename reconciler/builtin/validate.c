/*
 * leura validate: check the config repo and report every problem, each as
 * path:line:col: error: message.  No side effects, no network.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "specload.h"

static const char usage_str[] =
    "usage: leura validate [--ref REF] [--json] [--max-errors N]\n";

int
cmd_validate(int argc, char **argv, struct lr_ctx *ctx)
{
	struct specload sl;
	struct lr_err err;
	const char *ref = NULL, *v;
	bool json = false;
	size_t max = 20;
	json_t *o;
	int i, rc;

	for (i = 1; i < argc; i++) {
		if ((v = opt_value(argc, argv, &i, "--ref")) != NULL)
			ref = v;
		else if ((v = opt_value(argc, argv, &i, "--max-errors"))) {
			char *end;

			max = (size_t)strtoul(v, &end, 10);
			if (*v == '\0' || *end != '\0' || *v == '-') {
				fprintf(stderr, "leura: error: --max-errors "
				    "needs a number, not '%s'\n%s", v,
				    usage_str);
				return LR_EXIT_USAGE;
			}
		}
		else if (strcmp(argv[i], "--json") == 0)
			json = true;
		else
			return cmd_help_or_bad(argv[i], usage_str);
	}
	lr_err_clear(&err);
	rc = specload_run(&sl, ctx->repo_dir, ref, 0, &err);
	if (rc < 0 && rc != LR_EINVAL) {
		lr_err_print(&err);
		specload_release(&sl);
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
		specload_print_diags(&sl, max);
		if (rc == 0)
			printf("%s: valid: %zu hosts, %zu groups, %zu services, "
			    "%zu roles, %zu tasks\n", sl.label,
			    sl.repo->nhosts, sl.repo->ngroups,
			    sl.repo->nservices, sl.repo->nroles,
			    sl.repo->ntasks);
	}
	specload_release(&sl);
	return rc == 0 ? LR_EXIT_OK : LR_EXIT_FAIL;
}
