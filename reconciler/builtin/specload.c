/*
 * specload: read, check and compile the config repo for a subcommand.
 *
 * A repo given by -C may be a folder inside a larger git repository (the
 * bundled examples are); with --ref the commit's tree is read from that
 * same folder, found by comparing real paths with the work tree root.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gitsrc.h"
#include "specload.h"
#include "xalloc.h"

const char *
opt_value(int argc, char **argv, int *i, const char *name)
{
	size_t n = strlen(name);

	if (strncmp(argv[*i], name, n) != 0)
		return NULL;
	if (argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (argv[*i][n] == '\0' && *i + 1 < argc)
		return argv[++*i];
	return NULL;
}

void
cmd_print_json(const json_t *o)
{
	char *s = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS |
	    JSON_ENCODE_ANY);

	if (s != NULL) {
		fputs(s, stdout);
		free(s);
	}
	fputc('\n', stdout);
}

int
cmd_help_or_bad(const char *arg, const char *usage)
{
	if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
		fputs(usage, stdout);
		return LR_EXIT_OK;
	}
	fprintf(stderr, "leura: error: unknown argument '%s'\n", arg);
	if (strncmp(arg, "-C", 2) == 0 || strcmp(arg, "-v") == 0)
		fprintf(stderr, "hint: global options go before the command: "
		    "leura %s <command> ...\n", arg);
	fputs(usage, stderr);
	return LR_EXIT_USAGE;
}

int
specload_subdir(const char *root, const char *dir, char **out, struct lr_err *err)
{
	char rr[PATH_MAX], rd[PATH_MAX];
	size_t n;

	if (realpath(root, rr) == NULL || realpath(dir, rd) == NULL)
		return lr_err_set(err, LR_EIO, "cannot resolve '%s'", dir);
	n = strlen(rr);
	if (strncmp(rr, rd, n) != 0 || (rd[n] != '\0' && rd[n] != '/'))
		return lr_err_set(err, LR_EINVAL, "'%s' is not inside the git "
		    "work tree '%s'", dir, root);
	*out = lr_xstrdup(rd[n] == '/' ? rd + n + 1 : "");
	return 0;
}

static int
open_ref(struct specload *sl, const char *dir, const char *ref,
    struct lr_err *err)
{
	struct gitsrc_repo *g = NULL;
	struct spec_source *src = NULL;
	char *prefix = NULL;
	int rc;

	if ((rc = gitsrc_open(dir, &g, err)) < 0)
		return rc;
	if ((rc = gitsrc_source_new(g, ref, &src, err)) < 0)
		goto out;
	if (gitsrc_workdir(g) != NULL &&
	    (rc = specload_subdir(gitsrc_workdir(g), dir, &prefix, err)) < 0)
		goto out;
	sl->commit = src->commit ? lr_xstrdup(src->commit) : NULL;
	sl->src = spec_source_subdir_new(src, prefix);
	src = NULL;
	sl->label = lr_xstrdup(sl->src->label);
out:
	spec_source_free(src);
	free(prefix);
	gitsrc_repo_free(g);
	return rc;
}

int
specload_run(struct specload *sl, const char *dir, const char *ref,
    unsigned flags, struct lr_err *err)
{
	int rc, rc2;

	memset(sl, 0, sizeof(*sl));
	spec_diags_init(&sl->diags);
	if (ref) {
		if ((rc = open_ref(sl, dir, ref, err)) < 0)
			return rc;
	} else {
		if ((rc = spec_source_dir_new(dir, &sl->src, err)) < 0)
			return rc;
		sl->label = lr_xasprintf("working tree '%s'", dir);
	}
	rc = spec_repo_load(sl->src, &sl->repo, &sl->diags, err);
	if (rc < 0 && rc != LR_EINVAL)
		return rc;
	rc2 = 0;
	if (sl->repo->nbroken == 0)
		rc2 = rec_compile(sl->repo, flags, (int64_t)time(NULL),
		    &sl->comp, &sl->diags);
	spec_diags_sort(&sl->diags);
	return rc < 0 ? rc : rc2 < 0 || sl->diags.nerrors ? LR_EINVAL : 0;
}

void
specload_release(struct specload *sl)
{
	rec_compiled_release(&sl->comp);
	spec_repo_free(sl->repo);
	spec_source_free(sl->src);
	spec_diags_release(&sl->diags);
	free(sl->label);
	free(sl->commit);
	memset(sl, 0, sizeof(*sl));
}

int
specload_cmd(struct specload *sl, const struct lr_ctx *ctx, const char *ref,
    unsigned flags)
{
	struct lr_err err;
	int rc;

	lr_err_clear(&err);
	if ((rc = specload_run(sl, ctx->repo_dir, ref, flags, &err)) == 0)
		return 0;
	if (rc == LR_EINVAL)
		specload_print_diags(sl, 20);
	else
		lr_err_print(&err);
	return LR_EXIT_FAIL;
}

void
specload_print_diags(const struct specload *sl, size_t max)
{
	size_t nerr;

	nerr = spec_diags_print(&sl->diags, stderr, max);
	if (sl->repo && sl->repo->nbroken)
		fprintf(stderr, "note: references, placement and templates "
		    "were not checked: fix the errors above first\n");
	if (nerr)
		fprintf(stderr, "leura: %zu error%s in %s\n", nerr,
		    nerr == 1 ? "" : "s", sl->label ? sl->label : "the specs");
}
