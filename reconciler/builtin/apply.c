/*
 * leura apply [--ref REF] [FILE]: deploy a commit (default HEAD), or
 * exactly the plan `leura plan -o FILE` saved (reconcile/planfile.h).
 * Plans against what is applied, shows the plan, asks on a terminal
 * (unless --yes), and writes the new generation of desired state to etcd
 * (reconcile/apply.c), recording deploy #N.  The working tree is never
 * applied: uncommitted changes are named and left out.  A commit that
 * does not descend from the applied one is refused unless --rollback says
 * going back is meant.  With --wait, follows the hosts written until
 * their agents are done (wait.h).
 *
 * cmd_apply_run is the apply without its command line, for `leura up`.
 */
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "builtin.h"
#include "clock.h"
#include "config.h"
#include "deploy.h"
#include "fields.h"
#include "planfile.h"
#include "planout.h"
#include "sign.h"
#include "wait.h"
#include "xalloc.h"

static const char usage_str[] =
    "usage: leura apply [--ref REF] [--rollback] [--expect-revision N] "
    "[-y | --yes] [--lock-timeout SECONDS] [--no-diff] [--json] [--wait] "
    "[--wait-timeout DURATION] [--signing-key PATH] [--insecure-unsigned] "
    "[--etcd URL[,URL...]] [--server URL | --direct] [FILE]\n";

/*
 * The fleet's private key (docs/security.md), or NULL with nothing said
 * when --insecure-unsigned; LR_EXIT_FAIL when it cannot be had.
 */
static int
signing_key(const struct cmd_apply_opts *ao, struct lr_sign_key **out)
{
	struct spec_diags d;
	struct lr_err err;
	char *path = NULL;
	int rc;

	*out = NULL;
	if (ao->insecure_unsigned) {
		fprintf(stderr, "leura: warning: --insecure-unsigned: the "
		    "desired state is written unsigned; agents that check "
		    "signatures refuse it, and anyone who can write to etcd "
		    "can run commands as root on every host (for throwaway "
		    "tests only)\n");
		return 0;
	}
	lr_err_clear(&err);
	spec_diags_init(&d);
	if ((rc = rec_config_signing_key(ao->signing_key, &path, &d, &err)) ==
	    0 && (rc = lr_sign_key_load_private(path, out, &err)) == LR_ENOENT)
		lr_err_hint(&err, "make the fleet's key pair with 'leura "
		    "keygen' (it writes %s and %s), give another with "
		    "--signing-key or LEURA_SIGNING_KEY, or pass "
		    "--insecure-unsigned for a throwaway test",
		    LR_SIGN_PRIVATE_NAME, LR_SIGN_PUBLIC_NAME);
	if (rc < 0 && d.nerrors)
		spec_diags_print(&d, stderr, 20);
	else if (rc < 0)
		lr_err_print(&err);
	spec_diags_release(&d);
	free(path);
	return rc < 0 ? LR_EXIT_FAIL : 0;
}

/* The plan as `leura plan` shows it, before the apply writes. */
static void
print_plan(const struct rec_deploy *d, bool show_diff)
{
	if (d->files_warning)
		fprintf(stderr, "leura: warning: cannot read applied file "
		    "contents: %s\n", d->files_warning);
	cmd_plan_print(&d->plan, show_diff);
}

static json_t *
written_json(const struct rec_deploy *d)
{
	const struct rec_apply_result *res = &d->res;

	return json_pack("{s:b, s:I, s:I, s:I, s:s, s:I, s:I, s:I, s:I, "
	    "s:I, s:o}", "written", 1, "deploy", (json_int_t)res->deploy,
	    "generation", (json_int_t)res->generation, "revision",
	    (json_int_t)res->revision, "commit", d->commit.id, "hosts_written",
	    (json_int_t)res->hosts_written, "files_written",
	    (json_int_t)res->files_written, "bytes", (json_int_t)res->bytes,
	    "transactions", (json_int_t)res->txns, "compacted",
	    (json_int_t)res->compacted, "uncommitted",
	    cmd_uncommitted_json(d->uncommitted, d->nuncommitted));
}

/*
 * Ask on the terminal whether to write what the plan above shows: true
 * for y or yes.  End of input, or anything else, is no.
 */
static bool
confirm(void)
{
	char line[64];
	size_t i;

	printf("\nApply? Only 'y' or 'yes' writes. [y/N] ");
	fflush(stdout);
	if (fgets(line, sizeof(line), stdin) == NULL) {
		putchar('\n');
		return false;
	}
	for (i = 0; line[i]; i++)
		if (line[i] >= 'A' && line[i] <= 'Z')
			line[i] = (char)(line[i] - 'A' + 'a');
	line[strcspn(line, "\r\n")] = '\0';
	return strcmp(line, "y") == 0 || strcmp(line, "yes") == 0;
}

#define REPLAN_FILE	"'leura plan -o FILE'"

/*
 * A saved plan's ref that names another commit now (HEAD moved on since
 * the plan): say that the plan's commit is what is applied.
 */
static void
plan_file_note_ref(const struct rec_planfile *pf, struct rec_git *g)
{
	struct gitsrc_commit c = { 0 };
	struct lr_err err;

	lr_err_clear(&err);
	if (gitsrc_describe(g->repo, pf->ref, &c, &err) == 0 &&
	    strcmp(c.id, pf->commit) != 0)
		fprintf(stderr, "note: %s is commit %.12s now; this applies "
		    "the saved plan's commit %.12s, as planned\n", pf->ref,
		    c.id, pf->commit);
	gitsrc_commit_release(&c);
}

/* Read ao->plan_file into pf and set o from it: an exit status. */
static int
plan_file_open(const struct cmd_apply_opts *ao, struct rec_planfile *pf,
    struct rec_deploy_opts *o)
{
	struct lr_err err;

	lr_err_clear(&err);
	if (rec_planfile_load(ao->plan_file, pf, &err) < 0) {
		lr_err_print(&err);
		return LR_EXIT_FAIL;
	}
	o->ref = pf->ref;
	o->commit = pf->commit;
	o->expect = pf->revision;
	o->replan = REPLAN_FILE;
	return 0;
}

static void
print_written(const struct rec_deploy *d, bool no_plan)
{
	const struct rec_apply_result *res = &d->res;

	printf("%sApplied deploy #%lld: commit %.12s (%s), generation %lld: "
	    "%zu host%s and %zu file%s written, %zu bytes in %zu "
	    "transaction%s.\n", no_plan ? "" : "\n", (long long)res->deploy,
	    d->commit.id, d->ref, (long long)res->generation,
	    res->hosts_written, res->hosts_written == 1 ? "" : "s",
	    res->files_written, res->files_written == 1 ? "" : "s",
	    res->bytes, res->txns, res->txns == 1 ? "" : "s");
}

int
cmd_apply_run(struct lr_ctx *ctx, const struct cmd_apply_opts *ao,
    struct cmd_apply_result *out)
{
	struct rec_deploy_opts o = { 0 };
	struct rec_deploy d = { 0 };
	struct rec_planfile pf = { 0 };
	struct rec_git *g = NULL;
	struct conn conn = { 0 };
	struct lr_sign_key *key = NULL;
	struct lr_err err;
	bool print = !ao->json && !ao->no_plan;
	int rc = LR_EXIT_FAIL;

	memset(out, 0, sizeof(*out));
	lr_err_clear(&err);
	o.ref = ao->ref;
	o.expect = ao->expect;
	if (ao->plan_file && plan_file_open(ao, &pf, &o) != 0)
		return LR_EXIT_FAIL;
	if (signing_key(ao, &key) != 0) {
		rec_planfile_release(&pf);
		return LR_EXIT_FAIL;
	}
	if ((rc = rec_git_open(ctx->repo_dir, &g, &err)) < 0) {
		/* no repository; a folder outside the tree has its own hint */
		if (rc == LR_EGIT)
			lr_err_hint(&err, "apply deploys a commit of the "
			    "config repo: commit it to git first ('leura "
			    "validate' checks any directory, 'leura plan "
			    "--worktree' previews it)");
		lr_err_print(&err);
		rec_planfile_release(&pf);
		lr_sign_key_free(key);
		return LR_EXIT_FAIL;
	}
	o.sign_key = key;
	o.rollback = ao->rollback;
	o.lock_wait_ms = ao->lockwait * 1000;
	o.diff = print;
	o.contents = print && ao->show_diff;
	rc = 0;
	if (conn_open(&conn, ctx) != 0)
		goto fail;
	if (ao->plan_file && (rc = rec_planfile_check(&pf, ao->plan_file, g,
	    conn.prefix, &err)) < 0)
		goto fail;
	if (ao->plan_file && !ao->json)
		plan_file_note_ref(&pf, g);
	rc = rec_deploy_open(&d, g, &o, &err);
	if (!ao->no_plan)
		cmd_uncommitted_warn(d.uncommitted, d.nuncommitted, "not "
		    "applied: apply deploys commits", "commit, then plan "
		    "and apply again");
	if (rc < 0)
		goto fail;
	if ((rc = rec_deploy_plan(&d, conn.etcd, conn.prefix, &err)) < 0)
		goto fail;
	if (ao->plan_file && (rc = rec_planfile_check_digest(&pf,
	    ao->plan_file, &d, &err)) < 0)
		goto fail;
	if (d.resign && d.plan.nchanged && !ao->json)
		fprintf(stderr, "note: the applied deploy is not signed by "
		    "key %s: every host's document is written anew, signed "
		    "with it\n", lr_sign_key_id(key));
	if (ao->plan_file && d.plan.to.label) {
		free(d.plan.to.label);
		d.plan.to.label = lr_xasprintf("%s, the saved plan '%s'",
		    d.label, ao->plan_file);
	}
	if (d.plan.nchanged && print) {
		print_plan(&d, ao->show_diff);
		cmd_uncommitted_print(d.uncommitted, d.nuncommitted, "not "
		    "applied (apply deploys commits: commit, then plan and "
		    "apply again)");
	}
	if (d.plan.nchanged && ao->ask && !confirm()) {
		fprintf(stderr, "leura: apply cancelled: nothing written\n");
		rc = LR_EXIT_FAIL;
		goto out;
	}
	if ((rc = rec_deploy_write(&d, &err)) < 0)
		goto fail;
	if (!d.written && ao->json)
		out->json = json_pack("{s:b, s:O?, s:o}", "written", 0,
		    "deploy", json_object_get(d.plan.applied.head,
		    PROTO_HEAD_DEPLOY), "uncommitted", cmd_uncommitted_json(
		    d.uncommitted, d.nuncommitted));
	else if (!d.written) {
		printf("No changes: %s already has the desired state of %s; "
		    "nothing written.\n", d.plan.from_label, d.label);
		cmd_uncommitted_print(d.uncommitted, d.nuncommitted, "not "
		    "applied (apply deploys commits: commit, then plan and "
		    "apply again)");
	} else if (ao->json)
		out->json = written_json(&d);
	else
		print_written(&d, ao->no_plan);
	out->written = d.written;
	out->deploy = d.deploy;
	out->generation = d.generation;
	out->revision = d.revision;
	out->targets = d.targets;
	d.targets = NULL;
	/* the wait goes on on the same connection */
	out->conn = lr_xmalloc(sizeof(*out->conn));
	*out->conn = conn;
	memset(&conn, 0, sizeof(conn));
	rc = LR_EXIT_OK;
	goto out;
fail:
	/* conn_open said why itself */
	if (rc < 0)
		cmd_print_load_error(&d.plan.to, rc, &err, 20);
	rc = LR_EXIT_FAIL;
out:
	rec_deploy_release(&d);
	rec_planfile_release(&pf);
	conn_release(&conn);
	rec_git_free(g);
	lr_sign_key_free(key);
	return rc;
}

void
cmd_apply_result_release(struct cmd_apply_result *r)
{
	if (r->conn) {
		conn_release(r->conn);
		free(r->conn);
	}
	json_decref(r->targets);
	json_decref(r->json);
	memset(r, 0, sizeof(*r));
}

static atomic_int interrupted;

static void
on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* The wait of --wait; an exit status. */
static int
apply_wait(struct cmd_apply_result *r, bool json, long timeout_ms)
{
	struct cmd_wait_opts wo = { 0 };
	struct sigaction sa, old;
	enum cmd_wait_result wr;
	json_t *wj = NULL;
	size_t n = json_object_size(r->targets);
	char t[32];

	wo.deploy = r->deploy;
	wo.revision = r->revision;
	wo.timeout_ms = timeout_ms;
	wo.output = json ? CMD_WAIT_QUIET : cmd_wait_tty() ?
	    CMD_WAIT_PROGRESS : CMD_WAIT_LINES;
	wo.stop = &interrupted;
	if (!json) {
		rec_follow_fmt_ms(timeout_ms, false, t, sizeof(t));
		printf("\nWaiting up to %s for deploy #%lld on %zu host%s "
		    "(Ctrl-C stops the waiting, not the rollout)\n", t,
		    (long long)r->deploy, n, n == 1 ? "" : "s");
		fflush(stdout);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigint;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old);
	wr = cmd_wait_run(r->conn->etcd, r->conn->prefix, r->targets, &wo,
	    &wj);
	sigaction(SIGINT, &old, NULL);
	if (json) {
		json_object_set_new(r->json, "wait", wj);
		wj = NULL;
	}
	json_decref(wj);
	if (wr == CMD_WAIT_STOPPED) {
		fprintf(stderr, "leura: stopped waiting: deploy #%lld rolls "
		    "out without you\nhint: 'leura status' shows where each "
		    "host is; 'leura apply --wait' waits again\n",
		    (long long)r->deploy);
		return LR_EXIT_INTERRUPTED;
	}
	return wr == CMD_WAIT_ALL_CONVERGED ? LR_EXIT_OK : LR_EXIT_FAIL;
}

enum {
	OPT_REF = CMD_OPT_BASE, OPT_ROLLBACK, OPT_NO_DIFF, OPT_JSON, OPT_WAIT,
	OPT_WAIT_TIMEOUT, OPT_EXPECT, OPT_LOCK_TIMEOUT, OPT_SIGNING_KEY,
	OPT_INSECURE, OPT_YES, OPT_WORKTREE, OPT_DIRECT
};

/*
 * After the options, at most one argument: the saved plan.  Options go
 * before it (as terraform apply's), so a word followed by more is an
 * error naming what follows it.
 */
static int
plan_file_arg(int argc, char **argv, const char **file)
{
	if (optind >= argc)
		return 0;
	if (optind + 1 < argc) {
		fprintf(stderr, "leura: error: %s '%s' after '%s': options go "
		    "before the saved plan\n%s", argv[optind + 1][0] == '-' ?
		    "option" : "argument", argv[optind + 1], argv[optind],
		    usage_str);
		return LR_EXIT_USAGE;
	}
	*file = argv[optind];
	return 0;
}

/*
 * apply through leurad (serverplan.c): what only the direct path does is
 * a usage error naming --direct.
 */
static int
apply_remote(struct lr_ctx *ctx, const struct cmd_apply_opts *o, bool ref_set,
    bool wait, bool lock_set)
{
	/* without --ref: the server's default branch, not a HEAD of here */
	struct cmd_remote_plan rp = { .ref = ref_set ? o->ref : NULL,
		.json = o->json,
		.rollback = o->rollback, .ask = o->ask, .expect = o->expect };
	const char *what = o->plan_file ? "a saved plan" : wait ? "--wait" :
	    o->signing_key ? "--signing-key" : o->insecure_unsigned ?
	    "--insecure-unsigned" : lock_set ? "--lock-timeout" : NULL;

	if (what != NULL) {
		fprintf(stderr, "leura: error: %s goes with apply --direct "
		    "(straight to etcd); this apply goes through leurad\n"
		    "hint: leave it out, or break glass: leura apply "
		    "--direct --signing-key PATH ...\n", what);
		return LR_EXIT_USAGE;
	}
	return cmd_apply_remote(ctx, &rp);
}

int
cmd_apply(int argc, char **argv, struct lr_ctx *ctx)
{
	static const struct option longopts[] = {
		{ "ref", required_argument, NULL, OPT_REF },
		{ "rollback", no_argument, NULL, OPT_ROLLBACK },
		{ "no-diff", no_argument, NULL, OPT_NO_DIFF },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "wait", no_argument, NULL, OPT_WAIT },
		{ "wait-timeout", required_argument, NULL, OPT_WAIT_TIMEOUT },
		{ "expect-revision", required_argument, NULL, OPT_EXPECT },
		{ "lock-timeout", required_argument, NULL, OPT_LOCK_TIMEOUT },
		{ "signing-key", required_argument, NULL, OPT_SIGNING_KEY },
		{ "insecure-unsigned", no_argument, NULL, OPT_INSECURE },
		{ "yes", no_argument, NULL, OPT_YES },
		{ "worktree", no_argument, NULL, OPT_WORKTREE },
		{ "direct", no_argument, NULL, OPT_DIRECT },
		CONN_LONGOPTS,
		SERVER_LONGOPT,
		CMD_HELP_LONGOPT,
		{ NULL, 0, NULL, 0 }
	};
	struct cmd_apply_opts o = { .ref = "HEAD", .show_diff = true,
		.expect = -1, .lockwait = 60 };
	struct cmd_apply_result r;
	bool wait = false, yes = false, ref_set = false, direct = false;
	bool lock_set = false;
	char *url = NULL, *cacert = NULL;
	long wait_ms = 30 * 60 * 1000L;
	char *end;
	int c, rc;

	while ((c = getopt_long(argc, argv, "+:hy", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_REF:
			o.ref = optarg;
			ref_set = true;
			break;
		case 'y':
		case OPT_YES:
			yes = true;
			break;
		case OPT_WORKTREE:
			fprintf(stderr, "leura: error: apply deploys commits, "
			    "never the working tree\nhint: commit your "
			    "changes, then 'leura plan' and 'leura apply' "
			    "(only 'leura plan --worktree' previews "
			    "uncommitted edits)\n");
			return LR_EXIT_USAGE;
		case OPT_ROLLBACK:
			o.rollback = true;
			break;
		case OPT_NO_DIFF:
			o.show_diff = false;
			break;
		case OPT_JSON:
			o.json = true;
			break;
		case OPT_WAIT:
			wait = true;
			break;
		case OPT_WAIT_TIMEOUT:
			if (lr_duration_parse(optarg, &wait_ms) < 0) {
				fprintf(stderr, "leura: error: --wait-timeout "
				    "wants a duration such as 90s, 10m or 1h, "
				    "not '%s'\n", optarg);
				return LR_EXIT_USAGE;
			}
			wait = true;
			break;
		case OPT_EXPECT:
			o.expect = strtoll(optarg, &end, 10);
			if (*optarg == '\0' || *end || o.expect < 0) {
				fprintf(stderr, "leura: error: --expect-revision "
				    "wants a revision number, not '%s'\n",
				    optarg);
				return LR_EXIT_USAGE;
			}
			break;
		case OPT_LOCK_TIMEOUT:
			o.lockwait = strtoll(optarg, &end, 10);
			if (*optarg == '\0' || *end || o.lockwait < 0) {
				fprintf(stderr, "leura: error: --lock-timeout "
				    "wants seconds, not '%s'\n", optarg);
				return LR_EXIT_USAGE;
			}
			lock_set = true;
			break;
		case OPT_SIGNING_KEY:
			o.signing_key = optarg;
			break;
		case OPT_INSECURE:
			o.insecure_unsigned = true;
			break;
		case OPT_DIRECT:
			direct = true;
			break;
		default:
			if (!conn_getopt(c, optarg, ctx))
				return cmd_bad_option(c, argv, usage_str);
		}
	}
	if ((rc = plan_file_arg(argc, argv, &o.plan_file)) != 0)
		return rc;
	if (o.plan_file && (ref_set || o.expect >= 0)) {
		fprintf(stderr, "leura: error: a saved plan names its commit "
		    "and revision: --ref and --expect-revision do not go with "
		    "'%s'\nhint: leave them out, or plan again with them\n",
		    o.plan_file);
		return LR_EXIT_USAGE;
	}
	/*
	 * Ask on a terminal; a saved plan was the review (as terraform
	 * apply PLAN), and scripts and CI (no terminal) never get asked.
	 */
	o.ask = !yes && o.plan_file == NULL && isatty(STDIN_FILENO) &&
	    isatty(STDOUT_FILENO);
	if (o.ask && o.json) {
		fprintf(stderr, "leura: error: apply --json shows no plan to "
		    "confirm, and this is a terminal\nhint: pass --yes to "
		    "apply without asking, or apply a saved plan ('leura "
		    "plan -o FILE', then 'leura apply --json FILE')\n");
		return LR_EXIT_USAGE;
	}
	if (!direct && (rc = cmd_remote_url(ctx, &url, &cacert)) != 0)
		return rc;
	free(cacert);
	if (url != NULL) {
		free(url);
		return apply_remote(ctx, &o, ref_set, wait, lock_set);
	}
	/*
	 * Break-glass past a server: the key must be named, not found in
	 * the config, so that nobody signs by accident
	 */
	if (direct && o.signing_key == NULL && !o.insecure_unsigned &&
	    (getenv("LEURA_SIGNING_KEY") == NULL ||
	    *getenv("LEURA_SIGNING_KEY") == '\0')) {
		fprintf(stderr, "leura: error: apply --direct writes to etcd "
		    "past leurad, signed with the fleet's key: name the key\n"
		    "hint: --signing-key PATH or LEURA_SIGNING_KEY=PATH "
		    "(docs/security.md)\n");
		return LR_EXIT_USAGE;
	}
	if ((rc = cmd_apply_run(ctx, &o, &r)) != LR_EXIT_OK)
		return rc;
	if (wait && json_object_size(r.targets) > 0)
		rc = apply_wait(&r, o.json, wait_ms);
	else if (wait && o.json)
		json_object_set_new(r.json, "wait", json_pack("{s:s, s:I, "
		    "s:o}", "result", "converged", "elapsed_ms",
		    (json_int_t)0, "hosts", json_object()));
	else if (wait)
		printf("Nothing to wait for: no host has desired state.\n");
	if (o.json)
		cmd_print_json(r.json);
	cmd_apply_result_release(&r);
	return rc;
}
