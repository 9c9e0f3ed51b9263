/*
 * leura apply [--ref REF]: deploy a commit (default HEAD).  Plans against
 * what is applied, shows the plan, and writes the new generation of
 * desired state to etcd (reconcile/apply.c), recording deploy #N.  The
 * working tree is never applied: uncommitted changes are named and left
 * out.  A commit that does not descend from the applied one is refused
 * unless --rollback says going back is meant.  With --wait, follows the
 * hosts written until their agents are done (wait.h).
 *
 * cmd_apply_run is the apply without its command line, for `leura up`.
 */
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eplan.h"
#include "gitsrc.h"
#include "clock.h"
#include "wait.h"
#include "xalloc.h"

static const char usage_str[] =
    "usage: leura apply [--ref REF] [--rollback] [--expect-revision N] "
    "[--lock-timeout SECONDS] [--no-diff] [--json] [--wait] "
    "[--wait-timeout DURATION] [--etcd URL[,URL...]]\n";

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

static json_t *
noop_json(const struct eplan *p)
{
	return json_pack("{s:b, s:O?}", "written", 0, "deploy",
	    json_object_get(p->applied.head, "deploy"));
}

/* {host: G} of every host leura status lists, at its document's G. */
static json_t *
current_targets(const struct rec_applied *a)
{
	json_t *t = json_object(), *x;
	const char *k;

	json_object_foreach(a->hosts, k, x)
		if (!json_is_true(json_object_get(x, "removed")))
			json_object_set_new(t, k, json_integer(
			    json_integer_value(json_object_get(x,
			    "generation"))));
	return t;
}

/* {host: G} of the hosts this apply wrote, tombstones included. */
static json_t *
written_targets(const json_t *changes, int64_t generation)
{
	json_t *t = json_object(), *v;
	size_t i;

	json_array_foreach(json_object_get(changes, "changed"), i, v)
		json_object_set_new(t, json_string_value(v), json_integer(
		    generation));
	json_array_foreach(json_object_get(changes, "removed"), i, v)
		json_object_set_new(t, json_string_value(v), json_integer(
		    generation));
	return t;
}

int
cmd_apply_run(struct lr_ctx *ctx, const struct cmd_apply_opts *ao,
    struct cmd_apply_result *out)
{
	struct rec_apply_opts o = { 0 };
	struct rec_apply_result res;
	struct gitsrc_commit desc = { 0 };
	struct gitsrc_repo *g = NULL;
	struct lr_err err;
	struct eplan p = { 0 };
	const char *ref = ao->ref ? ao->ref : "HEAD";
	bool json = ao->json;
	char *by = NULL, tree[41], label[80];
	int rc = LR_EXIT_FAIL;

	memset(out, 0, sizeof(*out));
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
	    check_ancestry(g, &p, desc.id, ao->rollback) < 0)
		goto out;
	if (ao->expect >= 0 && ao->expect != p.applied.head_rev) {
		fprintf(stderr, "leura: error: desired state changed since your "
		    "plan (it saw revision %lld, etcd has %lld: %s)\nhint: run "
		    "plan again\n", ao->expect, (long long)p.applied.head_rev,
		    p.from_label);
		goto out;
	}
	if (!same_tree(&p, tree)) {
		if (eplan_compile(&p, ctx, ref) != 0 || (p.nchanged && !json &&
		    !ao->no_plan && eplan_diff(&p) != 0))
			goto out;
	}
	if (p.nchanged == 0) {
		if (json)
			out->json = noop_json(&p);
		else
			printf("No changes: %s already has the desired state of "
			    "%s; nothing written.\n", p.from_label, label);
		out->deploy = json_integer_value(json_object_get(
		    p.applied.head, "deploy"));
		out->generation = p.applied.generation;
		out->revision = p.applied.revision;
		out->targets = current_targets(&p.applied);
		rc = LR_EXIT_OK;
		goto out;
	}
	if (!json && !ao->no_plan)
		eplan_print(&p, ao->show_diff);
	by = who();
	o.commit = desc.id;
	o.tree = tree;
	o.ref = ref;
	o.summary = desc.summary;
	o.author = desc.author;
	o.by = by;
	o.rollback = ao->rollback;
	o.lock_wait_ms = ao->lockwait * 1000;
	if (rec_apply_write(p.conn.etcd, &p.applied, p.docs, p.changes,
	    &p.to.comp, &o, &res, &err) < 0) {
		lr_err_print(&err);
		goto out;
	}
	out->written = true;
	out->deploy = res.deploy;
	out->generation = res.generation;
	out->revision = res.revision;
	out->targets = written_targets(p.changes, res.generation);
	if (json)
		out->json = json_pack("{s:b, s:I, s:I, s:I, s:s, s:I, s:I, "
		    "s:I, s:I}", "written", 1, "deploy", (json_int_t)res.deploy,
		    "generation", (json_int_t)res.generation, "revision",
		    (json_int_t)res.revision, "commit", desc.id,
		    "hosts_written", (json_int_t)res.hosts_written,
		    "files_written", (json_int_t)res.files_written, "bytes",
		    (json_int_t)res.bytes, "transactions",
		    (json_int_t)res.txns);
	else
		printf("%sApplied deploy #%lld: commit %.12s (%s), generation "
		    "%lld: %zu host%s and %zu file%s written, %zu bytes in %zu "
		    "transaction%s.\n", ao->no_plan ? "" : "\n",
		    (long long)res.deploy, desc.id, ref,
		    (long long)res.generation, res.hosts_written,
		    res.hosts_written == 1 ? "" : "s", res.files_written,
		    res.files_written == 1 ? "" : "s", res.bytes, res.txns,
		    res.txns == 1 ? "" : "s");
	rc = LR_EXIT_OK;
out:
	if (rc == LR_EXIT_OK) {
		/* the wait goes on on the same connection */
		out->conn = lr_xmalloc(sizeof(*out->conn));
		*out->conn = p.conn;
		memset(&p.conn, 0, sizeof(p.conn));
	}
	free(by);
	gitsrc_commit_release(&desc);
	eplan_release(&p);
	gitsrc_repo_free(g);
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

static volatile sig_atomic_t interrupted;

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
		cmd_wait_fmt_ms(timeout_ms, false, t, sizeof(t));
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

int
cmd_apply(int argc, char **argv, struct lr_ctx *ctx)
{
	struct cmd_apply_opts o = { .ref = "HEAD", .show_diff = true,
		.expect = -1, .lockwait = 60 };
	struct cmd_apply_result r;
	const char *v;
	bool wait = false;
	long wait_ms = 30 * 60 * 1000L;
	char *end;
	int i, rc;

	for (i = 1; i < argc; i++) {
		if ((v = opt_value(argc, argv, &i, "--ref")) != NULL)
			o.ref = v;
		else if (strcmp(argv[i], "--rollback") == 0)
			o.rollback = true;
		else if (strcmp(argv[i], "--no-diff") == 0)
			o.show_diff = false;
		else if (strcmp(argv[i], "--json") == 0)
			o.json = true;
		else if (strcmp(argv[i], "--wait") == 0)
			wait = true;
		else if ((v = opt_value(argc, argv, &i,
		    "--wait-timeout")) != NULL) {
			if (lr_duration_parse(v, &wait_ms) < 0) {
				fprintf(stderr, "leura: error: --wait-timeout "
				    "wants a duration such as 90s, 10m or 1h, "
				    "not '%s'\n", v);
				return LR_EXIT_USAGE;
			}
			wait = true;
		} else if ((v = opt_value(argc, argv, &i,
		    "--expect-revision")) != NULL) {
			o.expect = strtoll(v, &end, 10);
			if (*v == '\0' || *end || o.expect < 0) {
				fprintf(stderr, "leura: error: --expect-revision "
				    "wants a revision number, not '%s'\n", v);
				return LR_EXIT_USAGE;
			}
		} else if ((v = opt_value(argc, argv, &i,
		    "--lock-timeout")) != NULL) {
			o.lockwait = strtoll(v, &end, 10);
			if (*v == '\0' || *end || o.lockwait < 0) {
				fprintf(stderr, "leura: error: --lock-timeout "
				    "wants seconds, not '%s'\n", v);
				return LR_EXIT_USAGE;
			}
		} else if (conn_opt(argc, argv, &i, ctx))
			continue;
		else
			return cmd_help_or_bad(argv[i], usage_str);
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
