/*
 * leura plan --from REF [--ref REF2]: what would change between two
 * commits, or a commit and the working tree: services whose placement
 * moves, and per host the steps added, changed and removed.  This is what a
 * CI job runs on a pull request (--detailed-exitcode: 0 no change, 2
 * changes, 1 error).
 */
#include <stdio.h>
#include <string.h>

#include "diff.h"
#include "specload.h"

static const char usage_str[] =
    "usage: leura plan --from REF [--ref REF] [--json] "
    "[--detailed-exitcode]\n";

static void
print_list(const char *mark, const json_t *a)
{
	json_t *v;
	size_t i;

	json_array_foreach((json_t *)a, i, v)
		printf("  %s %s\n", mark, json_string_value(v));
}

static void
print_hosts_inline(const json_t *a)
{
	json_t *v;
	size_t i;

	if (json_array_size(a) == 0)
		printf(" (none)");
	json_array_foreach((json_t *)a, i, v)
		printf(" %s", json_string_value(v));
}

static void
print_plan(const json_t *d, const char *from, const char *to)
{
	const json_t *svcs = json_object_get(d, "services");
	const json_t *hosts = json_object_get(d, "hosts");
	size_t nadd = 0, nchg = 0, nrm = 0, i, j;
	const char *k;
	json_t *v, *c, *f;

	printf("leura plan: %s -> %s\n", from, to);
	if (json_integer_value(json_object_get(d, "changes")) == 0) {
		printf("\nNo changes: the desired state is the same.\n");
		return;
	}
	if (json_object_size(svcs)) {
		printf("\nPlacement:\n");
		json_object_foreach((json_t *)svcs, k, v) {
			printf("  ~ %s:", k);
			print_hosts_inline(json_object_get(v, "from"));
			printf(" ->");
			print_hosts_inline(json_object_get(v, "to"));
			putchar('\n');
		}
	}
	json_object_foreach((json_t *)hosts, k, v) {
		printf("\nHost %s%s:\n", k, json_object_get(v, "host_removed") ?
		    " (removed from the inventory)" : "");
		print_list("+ service", json_object_get(v, "services_added"));
		json_array_foreach(json_object_get(v, "services_removed"), i, c)
			printf("  - service %s%s\n", json_string_value(c),
			    json_object_get(v, "host_removed") ? "" :
			    " (its turndown steps run)");
		print_list("+", json_object_get(v, "added"));
		json_array_foreach(json_object_get(v, "changed"), i, c) {
			printf("  ~ %s (", json_string_value(
			    json_object_get(c, "id")));
			json_array_foreach(json_object_get(c, "fields"), j, f)
				printf("%s%s", j ? ", " : "",
				    json_string_value(f));
			printf(")\n");
		}
		print_list("-", json_object_get(v, "removed"));
		if (json_object_get(v, "reordered"))
			printf("  ~ step order changed\n");
	}
	json_object_foreach((json_t *)hosts, k, v) {
		nadd += json_array_size(json_object_get(v, "added"));
		nchg += json_array_size(json_object_get(v, "changed"));
		nrm += json_array_size(json_object_get(v, "removed"));
	}
	printf("\nPlan: %lld changes: %zu service%s moved; steps: %zu to add, "
	    "%zu to change, %zu to remove, on %zu host%s.\n",
	    (long long)json_integer_value(json_object_get(d, "changes")),
	    json_object_size(svcs), json_object_size(svcs) == 1 ? "" : "s",
	    nadd, nchg, nrm, json_object_size(hosts),
	    json_object_size(hosts) == 1 ? "" : "s");
}

static int
load(struct specload *sl, const struct lr_ctx *ctx, const char *ref,
    const char *what)
{
	if (specload_cmd(sl, ctx, ref, REC_COMPILE_DESIRED) == 0)
		return 0;
	if (sl->diags.nerrors)
		fprintf(stderr, "hint: the %s side of the plan (%s) has errors; "
		    "fix them first\n", what, sl->label ? sl->label : "?");
	return -1;
}

int
cmd_plan(int argc, char **argv, struct lr_ctx *ctx)
{
	struct specload from, to;
	const char *ref = NULL, *fromref = NULL, *v;
	bool json = false, detailed = false;
	json_t *d;
	int i, rc = LR_EXIT_FAIL;
	json_int_t changes;

	for (i = 1; i < argc; i++) {
		if ((v = opt_value(argc, argv, &i, "--ref")) != NULL)
			ref = v;
		else if ((v = opt_value(argc, argv, &i, "--from")) != NULL)
			fromref = v;
		else if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if (strcmp(argv[i], "--detailed-exitcode") == 0)
			detailed = true;
		else
			return cmd_help_or_bad(argv[i], usage_str);
	}
	if (fromref == NULL) {
		fprintf(stderr, "leura: error: plan needs the commit to compare "
		    "with\nhint: pass --from REF, e.g. 'leura plan --from "
		    "origin/main' in a pull request's CI job\n%s", usage_str);
		return LR_EXIT_USAGE;
	}
	memset(&to, 0, sizeof(to));
	if (load(&from, ctx, fromref, "--from") < 0 ||
	    load(&to, ctx, ref, ref ? "--ref" : "working tree") < 0)
		goto out;
	d = rec_diff(&from.comp, &to.comp);
	changes = json_integer_value(json_object_get(d, "changes"));
	if (json) {
		json_object_set_new(d, "from", json_pack("{s:s, s:s?}", "source",
		    from.label, "commit", from.commit));
		json_object_set_new(d, "to", json_pack("{s:s, s:s?}", "source",
		    to.label, "commit", to.commit));
		json_dumpf(d, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
		fputc('\n', stdout);
	} else {
		print_plan(d, from.label, to.label);
	}
	json_decref(d);
	rc = detailed && changes ? LR_EXIT_CHANGES : LR_EXIT_OK;
out:
	specload_release(&from);
	specload_release(&to);
	return rc;
}
