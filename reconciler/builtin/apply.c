/*
 * leura apply [--ref REF]: deploy a commit (default HEAD).  Plans against
 * what is applied, shows the plan, and writes the new generation of
 * desired state to etcd (reconcile/apply.c), recording deploy #N.  The
 * working tree is never applied: uncommitted changes are named and left
 * out.  A commit that does not descend from the applied one is refused
 * unless --rollback says going back is meant.
 */
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eplan.h"
#include "gitsrc.h"
#include "xalloc.h"

static const char usage_str[] =
    "usage: leura apply [--ref REF] [--rollback] [--expect-revision N] "
    "[--lock-timeout SECONDS] [--no-diff] [--json] [--etcd URL[,URL...]]\n";

/* "alice@ws1": $LEURA_USER, else the login name, at this host. */
static char *
who(void)
{
	const char *u = getenv("LEURA_USER");
	struct passwd *pw;
	char host[HOST_NAME_MAX + 1];

	if (u != NULL && *u)
		return lr_xstrdup(u);
	pw = getpwuid(getuid());
	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	return lr_xasprintf("%s@%s", pw ? pw->pw_name : "uid", host);
}

/* Say what of the working tree is left out; never fails the apply. */
static void
note_dirty(struct gitsrc_repo *g, const char *dir)
{
	struct lr_err err;
	char *sub = NULL, *first = NULL;
	size_t n = 0;

	lr_err_clear(&err);
	if (gitsrc_workdir(g) == NULL ||
	    specload_subdir(gitsrc_workdir(g), dir, &sub, &err) < 0 ||
	    gitsrc_dirty(g, sub, &n, &first, &err) < 0 || n == 0) {
		free(sub);
		return;
	}
	fprintf(stderr, "note: %zu uncommitted change%s in the working tree "
	    "(%s%s) %s not applied: apply deploys commits; commit %s first\n",
	    n, n == 1 ? "" : "s", first ? first : "?", n > 1 ? ", ..." : "",
	    n == 1 ? "is" : "are", n == 1 ? "it" : "them");
	free(first);
	free(sub);
}

/* 0 when the new commit may replace the applied one, else prints why. */
static int
check_ancestry(struct gitsrc_repo *g, const struct eplan *p,
    const char *commit, bool rollback)
{
	const char *old = json_string_value(json_object_get(p->applied.head,
	    "commit"));
	struct lr_err err;
	int rc;

	if (old == NULL || strcmp(old, commit) == 0)
		return 0;
	lr_err_clear(&err);
	rc = gitsrc_descends(g, commit, old, &err);
	if (rc == 1 || rollback)
		return 0;
	if (rc < 0) {
		lr_err_print(&err);
		return -1;
	}
	fprintf(stderr, "leura: error: commit %.12s does not descend from "
	    "the applied commit %.12s (%s)\nhint: apply a commit that "
	    "contains the applied one (git pull, or rebase your branch), or "
	    "pass --rollback if going back is what you mean\n", commit,
	    old, p->from_label);
	return -1;
}

/* The id of the config repo's tree in ref, into tree. */
static int
config_tree(struct gitsrc_repo *g, const char *dir, const char *ref,
    char tree[41])
{
	struct lr_err err;
	char *sub = NULL;
	int rc;

	lr_err_clear(&err);
	if (gitsrc_workdir(g) != NULL && specload_subdir(gitsrc_workdir(g),
	    dir, &sub, &err) < 0) {
		lr_err_print(&err);
		return -1;
	}
	rc = gitsrc_tree_id(g, ref, sub, tree, &err);
	free(sub);
	if (rc < 0)
		lr_err_print(&err);
	return rc;
}

/*
 * The desired state is a function of the config repo's content and of
 * leura's version: when the applied head was compiled from the same tree
 * by the same version, and the documents it wrote are all there, nothing
 * can differ and no compile is needed.
 */
static bool
same_tree(const struct eplan *p, const char *tree)
{
	const json_t *h = p->applied.head;
	const char *t = json_string_value(json_object_get(h, "tree"));
	const char *v = json_string_value(json_object_get(h, "leura"));
	const char *k;
	json_t *x;
	json_int_t n = 0;

	if (t == NULL || v == NULL || strcmp(t, tree) != 0 ||
	    strcmp(v, LEURA_VERSION) != 0)
		return false;
	json_object_foreach(p->applied.hosts, k, x)
		if (!json_is_true(json_object_get(x, "removed")))
			n++;
	return n == json_integer_value(json_object_get(h, "hosts"));
}

static void
print_json_noop(const struct eplan *p)
{
	json_t *j = json_pack("{s:b, s:O?}", "written", 0, "deploy",
	    json_object_get(p->applied.head, "deploy"));

	cmd_print_json(j);
	json_decref(j);
}

int
cmd_apply(int argc, char **argv, struct lr_ctx *ctx)
{
	struct rec_apply_opts o = { 0 };
	struct rec_apply_result res;
	struct gitsrc_commit desc = { 0 };
	struct gitsrc_repo *g = NULL;
	struct lr_err err;
	struct eplan p = { 0 };
	const char *ref = "HEAD", *v;
	bool rollback = false, show_diff = true, json = false;
	long long expect = -1, lockwait = 60;
	char *by = NULL, *end, tree[41], label[80];
	int i, rc = LR_EXIT_FAIL;

	for (i = 1; i < argc; i++) {
		if ((v = opt_value(argc, argv, &i, "--ref")) != NULL)
			ref = v;
		else if (strcmp(argv[i], "--rollback") == 0)
			rollback = true;
		else if (strcmp(argv[i], "--no-diff") == 0)
			show_diff = false;
		else if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if ((v = opt_value(argc, argv, &i,
		    "--expect-revision")) != NULL) {
			expect = strtoll(v, &end, 10);
			if (*v == '\0' || *end || expect < 0) {
				fprintf(stderr, "leura: error: --expect-revision "
				    "wants a revision number, not '%s'\n", v);
				return LR_EXIT_USAGE;
			}
		} else if ((v = opt_value(argc, argv, &i,
		    "--lock-timeout")) != NULL) {
			lockwait = strtoll(v, &end, 10);
			if (*v == '\0' || *end || lockwait < 0) {
				fprintf(stderr, "leura: error: --lock-timeout "
				    "wants seconds, not '%s'\n", v);
				return LR_EXIT_USAGE;
			}
		} else if (conn_opt(argc, argv, &i, ctx))
			continue;
		else
			return cmd_help_or_bad(argv[i], usage_str);
	}
	lr_err_clear(&err);
	if (gitsrc_open(ctx->repo_dir, &g, &err) < 0) {
		lr_err_print(&err);
		fprintf(stderr, "hint: apply deploys a commit of the config "
		    "repo: commit it to git first ('leura validate' checks "
		    "any directory)\n");
		return LR_EXIT_FAIL;
	}
	note_dirty(g, ctx->repo_dir);
	if (gitsrc_describe(g, ref, &desc, &err) < 0) {
		lr_err_print(&err);
		goto out;
	}
	snprintf(label, sizeof(label), "commit %.12s (%s)", desc.id, ref);
	if (config_tree(g, ctx->repo_dir, ref, tree) < 0 ||
	    eplan_open(&p, ctx) != 0 ||
	    check_ancestry(g, &p, desc.id, rollback) < 0)
		goto out;
	if (expect >= 0 && expect != p.applied.head_rev) {
		fprintf(stderr, "leura: error: desired state changed since your "
		    "plan (it saw revision %lld, etcd has %lld: %s)\nhint: run "
		    "plan again\n", expect, (long long)p.applied.head_rev,
		    p.from_label);
		goto out;
	}
	if (!same_tree(&p, tree)) {
		if (eplan_compile(&p, ctx, ref) != 0 ||
		    (p.nchanged && !json && eplan_diff(&p) != 0))
			goto out;
	}
	if (p.nchanged == 0) {
		if (json)
			print_json_noop(&p);
		else
			printf("No changes: %s already has the desired state of "
			    "%s; nothing written.\n", p.from_label, label);
		rc = LR_EXIT_OK;
		goto out;
	}
	if (!json)
		eplan_print(&p, show_diff);
	by = who();
	o.commit = desc.id;
	o.tree = tree;
	o.ref = ref;
	o.summary = desc.summary;
	o.author = desc.author;
	o.by = by;
	o.rollback = rollback;
	o.lock_wait_ms = lockwait * 1000;
	if (rec_apply_write(p.conn.etcd, &p.applied, p.docs, p.changes,
	    &p.to.comp, &o, &res, &err) < 0) {
		lr_err_print(&err);
		goto out;
	}
	if (json) {
		json_t *j = json_pack("{s:b, s:I, s:I, s:I, s:s, s:I, s:I, "
		    "s:I, s:I}", "written", 1, "deploy", (json_int_t)res.deploy,
		    "generation", (json_int_t)res.generation, "revision",
		    (json_int_t)res.revision, "commit", desc.id,
		    "hosts_written", (json_int_t)res.hosts_written,
		    "files_written", (json_int_t)res.files_written, "bytes",
		    (json_int_t)res.bytes, "transactions",
		    (json_int_t)res.txns);

		cmd_print_json(j);
		json_decref(j);
	} else
		printf("\nApplied deploy #%lld: commit %.12s (%s), generation "
		    "%lld: %zu host%s and %zu file%s written, %zu bytes in %zu "
		    "transaction%s.\n", (long long)res.deploy, desc.id, ref,
		    (long long)res.generation, res.hosts_written,
		    res.hosts_written == 1 ? "" : "s", res.files_written,
		    res.files_written == 1 ? "" : "s", res.bytes, res.txns,
		    res.txns == 1 ? "" : "s");
	rc = LR_EXIT_OK;
out:
	free(by);
	gitsrc_commit_release(&desc);
	eplan_release(&p);
	gitsrc_repo_free(g);
	return rc;
}
