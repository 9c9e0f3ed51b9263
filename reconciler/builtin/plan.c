/*
 * leura plan: what an apply would change.  By default the commit apply
 * would deploy (HEAD, or --ref) against what is applied in etcd, plus the
 * hosts whose agents report something other than converged, listed apart;
 * with --from REF against another commit, offline.  Uncommitted changes
 * of the working tree are named (stderr, the plan's text, --json), never
 * silently left out; --worktree previews them, labelled not deployable.
 * Services whose placement moves, and per host the steps added, changed
 * and removed.  This is what a CI job runs on a pull request
 * (--detailed-exitcode: 0 no change, 2 changes, 1 error); only what an
 * apply would write counts as a change.  -o FILE saves the plan for
 * `leura apply FILE` (reconcile/planfile.h).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "builtin.h"
#include "deploy.h"
#include "diff.h"
#include "doc.h"
#include "fields.h"
#include "json.h"
#include "planfile.h"
#include "planout.h"
#include "xalloc.h"

static const char usage_str[] =
    "usage: leura plan [--from REF] [--ref REF | --worktree] [-o FILE] "
    "[--json] [--detailed-exitcode] [--no-diff] [--etcd URL[,URL...]] "
    "[--server URL | --direct]\n";

struct plan_opts {
	const char *ref;	/* --ref; NULL: HEAD (or --worktree) */
	const char *from;	/* --from */
	const char *out;	/* -o FILE */
	bool	 worktree;	/* --worktree: not deployable */
	bool	 json, detailed, show_diff;
};

/* What the working tree has uncommitted (under the config repo). */
struct dirty {
	char	**paths;	/* owned, gitsrc_dirty */
	size_t	 n;
};

/* The uncommitted changes of -C DIR; none when it is not in git. */
static void
dirty_load(struct dirty *dt, const struct lr_ctx *ctx)
{
	struct rec_git *g = NULL;
	struct lr_err err;

	memset(dt, 0, sizeof(*dt));
	lr_err_clear(&err);
	if (rec_git_open(ctx->repo_dir, &g, &err) == 0 && g->subdir != NULL &&
	    gitsrc_dirty(g->repo, g->subdir, &dt->paths, &dt->n, &err) < 0)
		fprintf(stderr, "leura: warning: cannot list the uncommitted "
		    "changes: %s\n", err.msg);
	rec_git_free(g);
}

/*
 * Name the uncommitted changes on stderr; the plan's text and --json name
 * them too (dirty_print, the "uncommitted" key).
 */
static void
dirty_warn(const struct dirty *dt, const struct plan_opts *po)
{
	if (po->worktree)
		cmd_uncommitted_warn(dt->paths, dt->n, "in this plan, which "
		    "previews the working tree: apply deploys commits, not "
		    "this", "commit, then plan again to see what apply "
		    "deploys");
	else
		cmd_uncommitted_warn(dt->paths, dt->n, "not in this plan, "
		    "which shows the commit apply deploys", "commit to deploy; "
		    "'leura plan --worktree' previews uncommitted changes");
}

static void
dirty_print(const struct dirty *dt, const struct plan_opts *po)
{
	if (po->worktree)
		cmd_uncommitted_print(dt->paths, dt->n, "in this preview "
		    "(not deployable: apply deploys commits; commit, then plan "
		    "again)");
	else
		cmd_uncommitted_print(dt->paths, dt->n, "not in this plan "
		    "(apply deploys commits: commit to deploy; 'leura plan "
		    "--worktree' previews uncommitted changes)");
}

/* "leura -C 'DIR' " when -C was given, else "leura ": for hints. */
static char *
leura_cmd(const struct lr_ctx *ctx)
{
	if (ctx->repo_dir_set)
		return lr_xasprintf("leura -C '%s'", ctx->repo_dir);
	return lr_xstrdup("leura");
}

/* Hosts whose state is not converged: {host: {"state","reason"}}. */
static json_t *
unconverged(struct rec_plan *p, const struct conn *c)
{
	struct lr_err err;
	json_t *out;

	lr_err_clear(&err);
	if ((out = rec_unconverged(&p->applied, c->etcd, c->prefix,
	    &err)) == NULL) {
		fprintf(stderr, "leura: warning: cannot read the agents' "
		    "reports: %s\n", err.msg);
		return json_object();
	}
	return out;
}

/* Save the plan of commit p->to (planfile.h): 0 or LR_EXIT_FAIL. */
static int
plan_save(const struct rec_plan *p, const struct rec_git *g,
    const struct conn *c, const struct plan_opts *po, const char *tree,
    const char *digest, const struct dirty *dt)
{
	struct rec_planfile_info in = { 0 };
	struct proto_head h;
	struct lr_err err;
	json_t *doc, *from = NULL, *unc;
	int rc;

	lr_err_clear(&err);
	if (p->applied.head) {
		proto_head_decode(p->applied.head, &h);
		from = json_pack("{s:I, s:s?}", "deploy", (json_int_t)h.deploy,
		    "commit", h.commit);
	}
	unc = cmd_uncommitted_json(dt->paths, dt->n);
	in.commit = p->to.commit;
	in.ref = po->ref ? po->ref : "HEAD";
	in.tree = tree;
	in.path = g->subdir;
	in.fleet = p->to.repo->settings.name;
	in.prefix = c->prefix;
	in.digest = digest;
	in.revision = p->applied.head_rev;
	in.from = from;
	in.plan = p->diff;
	in.writes = (int64_t)p->nchanged;
	in.uncommitted = unc;
	doc = rec_planfile_encode(&in);
	if ((rc = rec_planfile_save(po->out, doc, &err)) < 0)
		lr_err_print(&err);
	json_decref(doc);
	json_decref(from);
	json_decref(unc);
	return rc < 0 ? LR_EXIT_FAIL : 0;
}

/*
 * "  HOST: STATE: REASON", made visible: the reason quotes what the agent
 * reported (a step id, its error), never acted on by the terminal.
 */
static void
print_unconverged(const char *h, const json_t *v)
{
	struct lr_buf b = LR_BUF_INIT;
	const char *s;

	lr_buf_adds(&b, "  ");
	lr_buf_add_visible(&b, h, strlen(h), 0);
	lr_buf_adds(&b, ": ");
	s = lr_json_str(v, "state");
	lr_buf_add_visible(&b, s, strlen(s), 0);
	lr_buf_adds(&b, ": ");
	s = lr_json_str(v, "reason");
	lr_buf_add_visible(&b, s, strlen(s), 0);
	printf("%s\n", b.s);
	lr_buf_release(&b);
}

/* After the text plan of a commit: how to apply exactly it. */
static void
print_apply_hint(const struct rec_plan *p, const struct lr_ctx *ctx,
    const struct plan_opts *po)
{
	char *cmd = leura_cmd(ctx);

	printf("\nThis plan saw revision %lld of the desired state in etcd: "
	    "%s.\n", (long long)p->applied.head_rev, p->from_label);
	if (po->out)
		printf("Saved to %s; to apply exactly it, or nothing if "
		    "anything moved since:\n  %s apply %s\n", po->out, cmd,
		    po->out);
	else if (p->nchanged)
		printf("To apply commit %.12s only if nothing was applied "
		    "since:\n  %s apply --ref %.12s --expect-revision %lld\n"
		    "(or save the plan with -o FILE, and apply it: %s apply "
		    "FILE)\n", p->to.commit, cmd, p->to.commit,
		    (long long)p->applied.head_rev, cmd);
	free(cmd);
}

static int
plan_etcd(struct lr_ctx *ctx, const struct plan_opts *po)
{
	struct rec_plan p = { 0 };
	struct rec_git *g = NULL;
	struct conn c;
	struct dirty dt = { 0 };
	struct lr_err err;
	json_t *unc = NULL, *pj, *v;
	const char *h, *ref = po->worktree ? NULL : po->ref ? po->ref :
	    "HEAD";
	char tree[41] = "", digest[REC_PLAN_DIGEST_LEN + 1] = "", *label;
	int k, rc = LR_EXIT_FAIL;

	lr_err_clear(&err);
	spec_diags_init(&p.to.diags);
	if (conn_open(&c, ctx) != 0 ||
	    rec_plan_open(&p, c.etcd, c.prefix, &err) < 0) {
		if (err.code)
			lr_err_print(&err);
		fprintf(stderr, "hint: 'leura plan --from REF' compares two "
		    "commits without etcd\n");
		goto out;
	}
	if (!po->worktree && (k = rec_git_open(ctx->repo_dir, &g,
	    &err)) < 0) {
		if (k == LR_EGIT)
			lr_err_hint(&err, "plan shows the commit apply would "
			    "deploy: commit the config repo to git first, or "
			    "preview a folder as it is with 'leura plan "
			    "--worktree'");
		lr_err_print(&err);
		goto out;
	}
	dirty_load(&dt, ctx);
	dirty_warn(&dt, po);
	if ((k = rec_plan_compile(&p, ctx->repo_dir, g, ref, &err)) < 0) {
		/* HEAD of a repository without commits: nothing to deploy */
		if (!po->worktree && po->ref == NULL && err.code == LR_ENOENT &&
		    p.to.diags.nerrors == 0)
			lr_err_hint(&err, "plan shows the commit apply "
			    "deploys: commit the config files first, or "
			    "preview them with 'leura plan --worktree'");
		cmd_print_load_error(&p.to, k, &err, 20);
		goto out;
	}
	if (po->worktree) {
		label = lr_xasprintf("%s, not deployable", p.to.label);
		free(p.to.label);
		p.to.label = label;
	} else {
		if ((k = gitsrc_tree_id(g->repo, p.to.commit, g->subdir, tree,
		    &err)) < 0) {
			lr_err_print(&err);
			goto out;
		}
		rec_plan_digest(&p, p.to.commit, tree, digest);
	}
	if (rec_plan_diff(&p, &err) < 0) {
		lr_err_print(&err);
		goto out;
	}
	if (po->out && plan_save(&p, g, &c, po, tree, digest, &dt) != 0)
		goto out;
	unc = unconverged(&p, &c);
	if (po->json) {
		pj = rec_plan_json(&p, !po->worktree, po->worktree ? NULL :
		    digest);
		json_object_set_new(pj, "uncommitted",
		    cmd_uncommitted_json(dt.paths, dt.n));
		if (po->out)
			json_object_set_new(pj, "saved",
			    json_string(po->out));
		json_object_set(pj, "not_converged", unc);
		cmd_print_json(pj);
		json_decref(pj);
	} else {
		if (po->show_diff && rec_plan_files(&p, &err) < 0) {
			/* the plan stands without the old contents */
			fprintf(stderr, "leura: warning: cannot read applied "
			    "file contents: %s\n", err.msg);
		}
		cmd_plan_print(&p, po->show_diff);
		dirty_print(&dt, po);
		if (!po->worktree)
			print_apply_hint(&p, ctx, po);
		if (json_object_size(unc)) {
			printf("\nNot converged (reported by the agents; an "
			    "apply does not change this):\n");
			json_object_foreach(unc, h, v)
				print_unconverged(h, v);
		}
	}
	rc = po->detailed && p.nchanged ? LR_EXIT_CHANGES : LR_EXIT_OK;
out:
	json_decref(unc);
	gitsrc_paths_free(dt.paths);
	rec_plan_release(&p);
	rec_git_free(g);
	conn_release(&c);
	return rc;
}

static int
load(struct rec_load *sl, const struct lr_ctx *ctx, const char *ref,
    const char *what)
{
	if (cmd_load(sl, ctx, ref, REC_COMPILE_DESIRED) == 0)
		return 0;
	if (sl->diags.nerrors)
		fprintf(stderr, "hint: the %s side of the plan (%s) has errors; "
		    "fix them first\n", what, sl->label ? sl->label : "?");
	return -1;
}

/* --from: two commits (or a commit and --worktree), offline. */
static int
plan_from(struct lr_ctx *ctx, const struct plan_opts *po)
{
	struct rec_load from, to;
	struct dirty dt;
	const char *ref = po->worktree ? NULL : po->ref ? po->ref : "HEAD";
	json_t *d;
	json_int_t changes;
	char *label;
	int rc = LR_EXIT_FAIL;

	memset(&to, 0, sizeof(to));
	spec_diags_init(&to.diags);
	dirty_load(&dt, ctx);
	dirty_warn(&dt, po);
	if (load(&from, ctx, po->from, "--from") < 0 ||
	    load(&to, ctx, ref, po->worktree ? "--worktree" : po->ref ?
	    "--ref" : "HEAD") < 0)
		goto out;
	if (po->worktree) {
		label = lr_xasprintf("%s, not deployable", to.label);
		free(to.label);
		to.label = label;
	}
	d = rec_diff(&from.comp, &to.comp);
	changes = json_integer_value(json_object_get(d, "changes"));
	if (po->json) {
		json_object_set_new(d, "from", json_pack("{s:s, s:s?}",
		    "source", from.label, "commit", from.commit));
		json_object_set_new(d, "to", json_pack("{s:s, s:s?, s:b}",
		    "source", to.label, "commit", to.commit, "deployable",
		    !po->worktree));
		json_object_set_new(d, "uncommitted",
		    cmd_uncommitted_json(dt.paths, dt.n));
		cmd_print_json(d);
	} else {
		plan_print(d, from.label, to.label, &from.comp, &to.comp,
		    po->show_diff);
		dirty_print(&dt, po);
	}
	json_decref(d);
	rc = po->detailed && changes ? LR_EXIT_CHANGES : LR_EXIT_OK;
out:
	gitsrc_paths_free(dt.paths);
	rec_load_release(&from);
	rec_load_release(&to);
	return rc;
}

enum {
	OPT_REF = CMD_OPT_BASE, OPT_FROM, OPT_JSON, OPT_DETAILED, OPT_NO_DIFF,
	OPT_WORKTREE, OPT_OUT, OPT_DIRECT
};

static int
usage_error(const char *msg, const char *hint)
{
	fprintf(stderr, "leura: error: %s\nhint: %s\n%s", msg, hint,
	    usage_str);
	return LR_EXIT_USAGE;
}

int
cmd_plan(int argc, char **argv, struct lr_ctx *ctx)
{
	static const struct option longopts[] = {
		{ "ref", required_argument, NULL, OPT_REF },
		{ "from", required_argument, NULL, OPT_FROM },
		{ "worktree", no_argument, NULL, OPT_WORKTREE },
		{ "out", required_argument, NULL, OPT_OUT },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "detailed-exitcode", no_argument, NULL, OPT_DETAILED },
		{ "no-diff", no_argument, NULL, OPT_NO_DIFF },
		{ "direct", no_argument, NULL, OPT_DIRECT },
		CONN_LONGOPTS,
		SERVER_LONGOPT,
		CMD_HELP_LONGOPT,
		{ NULL, 0, NULL, 0 }
	};
	struct plan_opts po = { .show_diff = true };
	bool direct = false;
	char *url = NULL, *cacert = NULL;
	int c, rc;

	while ((c = getopt_long(argc, argv, "+:ho:", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_REF: po.ref = optarg; break;
		case OPT_FROM: po.from = optarg; break;
		case OPT_WORKTREE: po.worktree = true; break;
		case 'o':
		case OPT_OUT: po.out = optarg; break;
		case OPT_JSON: po.json = true; break;
		case OPT_DETAILED: po.detailed = true; break;
		case OPT_NO_DIFF: po.show_diff = false; break;
		case OPT_DIRECT: direct = true; break;
		default:
			if (!conn_getopt(c, optarg, ctx))
				return cmd_bad_option(c, argv, usage_str);
		}
	}
	if ((rc = cmd_no_args(argc, argv, usage_str)) != 0)
		return rc;
	if (po.worktree && po.ref)
		return usage_error("--worktree and --ref name two sources",
		    "give one: the working tree, or a commit");
	if (po.out && po.worktree)
		return usage_error("a plan of the working tree cannot be "
		    "saved: apply deploys commits", "commit the changes, then "
		    "'leura plan -o FILE'");
	if (po.out && po.from)
		return usage_error("a saved plan is against the cluster: -o "
		    "does not go with --from", "leave out --from");
	if (po.out && *po.out == '\0')
		return usage_error("-o wants a file name", "leura plan -o "
		    "plan.json");
	/*
	 * Through leurad when one is configured; --from (offline),
	 * --worktree and -o (local files) stay here
	 */
	if (!direct && po.from == NULL && !po.worktree && po.out == NULL) {
		if ((rc = cmd_remote_url(ctx, &url, &cacert)) != 0)
			return rc;
		free(cacert);
		if (url != NULL) {
			struct cmd_remote_plan rp = { .ref = po.ref,
				.json = po.json, .detailed = po.detailed,
				.expect = -1 };

			free(url);
			return cmd_plan_remote(ctx, &rp);
		}
	}
	if (po.from == NULL)
		return plan_etcd(ctx, &po);
	return plan_from(ctx, &po);
}
