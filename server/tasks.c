/*
 * Tasks as code through the API (tasks.h; docs/server.md, "Tasks as
 * code").
 *
 * Reads come from the source's branch as leurad's mirror has it
 * (DATA_DIR/source.git; a local source is fetched first, a remote one is
 * kept fresh by webhooks and refreshes), loaded and compiled as `leura
 * validate` does, so hosts and next fire times are the ones a run would
 * get.  The last run of each task is found in the newest run records
 * (P/runs/docs/, whose ids sort by time), a bounded number of them.
 *
 * A write is one commit whose parent is the branch's head:
 *
 *   1. where: a local source is committed to in place (its objects, then
 *      refs/heads/<branch> with git_reference_create_matching against the
 *      head read, so a commit made meanwhile fails the swap); unless the
 *      branch is checked out in a work tree, which would leave that
 *      checkout behind its branch: refused (409, with what to do).  A
 *      remote source is fetched, the commit made in the mirror and pushed
 *      (never forced: a branch that moved on refuses it); a file://
 *      URL is a local repository, committed to in place.
 *   2. the edit: the task file replaced, added or removed in the head's
 *      tree (git_tree_create_updated), authored and committed by the
 *      caller ("<user> <user@leurad>").  expect_commit, when given, must
 *      be the head or a commit at which the task file was the same.
 *   3. the check: the whole repo loaded and compiled at the new commit;
 *      any error answers 422 with the diagnostics (path:line:col), and
 *      the branch is left as it was (the commit object stays unreferenced).
 *      When the swap (or the push) finds the branch moved, steps 1 to 3
 *      run again on the new head, a few times: an edit of another file
 *      meanwhile costs a retry; a change of this task since expect_commit
 *      (or, without one, since the head first read) or its creation is
 *      the 409 of step 2, never a lost edit.
 *   4. the refresh, as a push webhook makes it: fetch, and an auto-apply
 *      delivery when the branch is in leura.yml's auto_apply.
 */
#define LR_LOG_COMPONENT "tasks"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <git2.h>

#include "auth.h"
#include "etcd.h"
#include "json.h"
#include "keys.h"
#include "leurad.h"
#include "load.h"
#include "log.h"
#include "source.h"
#include "spec.h"
#include "srv.h"
#include "task.h"
#include "tasks.h"
#include "xalloc.h"

#define TK_RUNS_SCAN	1000	/* newest run records read for last runs */
#define TK_NAME_MAX	128
#define TK_MESSAGE_MAX	4096
#define TK_SEARCH_MAX	256
#define TK_TRIES	4	/* edits made again when the branch moved */

/* edits of a remote source, one at a time (write_task) */
static pthread_mutex_t push_mu = PTHREAD_MUTEX_INITIALIZER;

/* ---- reading ---- */

/* Task names as spec_name_valid has them (they become file names). */
static bool
name_ok(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > TK_NAME_MAX || s[0] == '.' || s[0] == '-')
		return false;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '.' &&
		    s[i] != '-' && s[i] != '_')
			return false;
	return true;
}

/* 404 when leurad has no source: true when it has one. */
static bool
need_source(struct srv_req *req, struct srv_resp *resp,
    struct src_target *t)
{
	if (src_target_get(req->srv, t))
		return true;
	srv_resp_error(resp, 404, "not_found", "start leurad with --source "
	    "PATH|URL, the git repository it deploys from; without one, "
	    "'leura tasks -C DIR' reads a repo's tasks", "leurad has no git "
	    "source");
	return false;
}

/*
 * The branch as the mirror has it, loaded and compiled into l: 0, or an
 * answer made (-1).  The specs may hold errors: what loaded is listed.
 */
static int
load_branch(struct srv_req *req, struct srv_resp *resp,
    const struct src_target *t, struct rec_git **g, struct rec_load *l)
{
	struct lr_err err;
	char *ref;
	int rc;

	lr_err_clear(&err);
	memset(l, 0, sizeof(*l));
	spec_diags_init(&l->diags);
	/* a local source is cheap to fetch; a remote one has webhooks */
	if (!t->remote && src_fetch_now(req->srv, req->etcd, &err) < 0) {
		lr_log_warn("%s", err.msg);
		lr_err_clear(&err);
	}
	if ((rc = rec_git_open(t->mirror, g, &err)) < 0) {
		srv_resp_error(resp, 503, "unavailable", "leurad fetches its "
		    "source at start and on each refresh: check its log",
		    "%s", err.msg);
		return -1;
	}
	free((*g)->subdir);
	(*g)->subdir = t->subdir ? lr_xstrdup(t->subdir) : NULL;
	ref = lr_xasprintf("refs/heads/%s", t->branch);
	rc = rec_load_commit(l, *g, ref, REC_COMPILE_TASKS, &err);
	free(ref);
	if (rc < 0 && l->repo == NULL) {
		srv_resp_lr_err(resp, &err);
		return -1;
	}
	return 0;
}

/*
 * The last run of each task among the newest TK_RUNS_SCAN records:
 * {task: {"id","by","created","outcome","state"}} (new).  Best effort:
 * an etcd error gives what was read.
 */
static json_t *
last_runs(struct srv_req *req)
{
	struct etcd_range_req rq = { 0 };
	struct etcd_range_result keys = { 0 }, r = { 0 };
	struct lr_err err;
	json_t *out = json_object(), *v;
	const char *task;
	char *dir, *end;
	size_t i;

	lr_err_clear(&err);
	dir = proto_key_run_docs_dir(req->srv->prefix);
	rq.key = dir;
	rq.flags = ETCD_PREFIX | ETCD_KEYS_ONLY;
	if (etcd_range(req->etcd, &rq, &keys, &err) < 0 || keys.nkvs == 0)
		goto out;
	/* the newest records: from the TK_RUNS_SCAN-th last key on */
	end = lr_xasprintf("%.*s0", (int)strlen(dir) - 1, dir);
	rq.key = keys.kvs[keys.nkvs > TK_RUNS_SCAN ? keys.nkvs -
	    TK_RUNS_SCAN : 0].key;
	rq.flags = 0;
	rq.range_end = end;
	if (etcd_range(req->etcd, &rq, &r, &err) == 0) {
		for (i = r.nkvs; i-- > 0;) {
			v = json_loadb(r.kvs[i].value, r.kvs[i].value_len, 0,
			    NULL);
			task = lr_json_strn(v, "task");
			if (task != NULL && json_object_get(out, task) == NULL)
				json_object_set_new(out, task, json_pack(
				    "{s:O?, s:O?, s:O?, s:O?, s:O?}", "id",
				    json_object_get(v, "id"), "by",
				    json_object_get(v, "by"), "created",
				    json_object_get(v, "created"), "outcome",
				    json_object_get(v, "outcome"), "state",
				    json_object_get(v, "state")));
			json_decref(v);
		}
	}
	free(end);
out:
	etcd_range_result_release(&keys);
	etcd_range_result_release(&r);
	free(dir);
	return out;
}

/* One task as the list shows it, with its last run (new). */
static json_t *
task_json(const struct rec_load *l, const struct spec_task *t,
    const json_t *runs)
{
	json_t *o = rec_task_json(t, &l->comp), *lr;

	lr = json_object_get(runs, t->name);
	json_object_set(o, "last_run", lr ? lr : json_null());
	return o;
}

static void
get_tasks(struct srv_req *req, struct srv_resp *resp)
{
	const char *search = srv_query(req, "search");
	struct src_target st;
	struct rec_git *g = NULL;
	struct rec_load l;
	json_t *items, *runs;
	char res[TK_NAME_MAX + 8];
	size_t i;

	memset(&l, 0, sizeof(l));
	if (!need_source(req, resp, &st))
		return;
	if (search && strlen(search) > TK_SEARCH_MAX) {
		srv_resp_error(resp, 400, "bad_request", NULL, "search is at "
		    "most %d bytes", TK_SEARCH_MAX);
		return;
	}
	if (load_branch(req, resp, &st, &g, &l) < 0)
		goto out;
	runs = last_runs(req);
	items = json_array();
	for (i = 0; i < l.repo->ntasks; i++) {
		const struct spec_task *t = &l.repo->tasks[i];

		snprintf(res, sizeof(res), "tasks/%s", t->name);
		if (rec_task_matches(t, search) &&
		    auth_can(req, AUTH_READ, res, NULL))
			json_array_append_new(items, task_json(&l, t, runs));
	}
	json_decref(runs);
	srv_resp_json(resp, 200, json_pack("{s:o, s:n, s:s?, s:s, s:i}",
	    "items", items, "next", "commit", l.commit, "branch", st.branch,
	    "errors", (int)l.diags.nerrors));
out:
	rec_load_release(&l);
	rec_git_free(g);
}

/* The name of the request, checked: NULL after a 400. */
static const char *
task_param(struct srv_req *req, struct srv_resp *resp)
{
	const char *name = srv_param(req, "task");

	if (name == NULL || !name_ok(name)) {
		srv_resp_error(resp, 400, "bad_request", "task names use "
		    "letters, digits, '.', '-' and '_', and do not start with "
		    "'.' or '-'", "invalid task name '%s'", name ? name : "");
		return NULL;
	}
	return name;
}

static void
get_task(struct srv_req *req, struct srv_resp *resp)
{
	struct src_target st;
	struct rec_git *g = NULL;
	struct rec_load l;
	struct lr_err err;
	const struct spec_task *t;
	const char *name;
	json_t *o, *runs;
	char res[TK_NAME_MAX + 8], *yaml = NULL;
	size_t len = 0;

	memset(&l, 0, sizeof(l));
	if ((name = task_param(req, resp)) == NULL ||
	    !need_source(req, resp, &st))
		return;
	snprintf(res, sizeof(res), "tasks/%s", name);
	if (!auth_require(req, resp, AUTH_READ, res) ||
	    load_branch(req, resp, &st, &g, &l) < 0)
		goto out;
	if ((t = spec_repo_find_task(l.repo, name)) == NULL) {
		srv_resp_error(resp, 404, "not_found", "GET /v1/tasks lists "
		    "them", "no task '%s' on branch '%s'", name, st.branch);
		goto out;
	}
	lr_err_clear(&err);
	if (spec_source_read(l.src, t->path, &yaml, &len, &err) < 0) {
		srv_resp_lr_err(resp, &err);
		goto out;
	}
	runs = last_runs(req);
	o = task_json(&l, t, runs);
	json_decref(runs);
	json_object_set_new(o, "yaml", json_stringn(yaml, len));
	json_object_set_new(o, "commit", json_string(l.commit));
	json_object_set_new(o, "branch", json_string(st.branch));
	srv_resp_json(resp, 200, o);
out:
	free(yaml);
	rec_load_release(&l);
	rec_git_free(g);
}

/* ---- writing ---- */

enum tk_op { TK_CREATE, TK_UPDATE, TK_DELETE };

static const char *const op_names[] = { "create", "update", "delete" };

/* What one write needs, gathered before the commit is made. */
struct edit {
	enum tk_op op;
	const char *name;
	const char *yaml;		/* NULL for a delete */
	size_t	 yaml_len;
	const char *message;		/* NULL: a default */
	const char *expect;		/* expect_commit, or NULL */
	struct src_target st;
	char	*repo_path;		/* where the commit is made */
	char	*file;			/* repository path of the task file */
	git_repository *repo;
	git_oid	 base, made;
	bool	 unchanged;		/* the edit changes nothing */
	char	 base_hex[GIT_OID_HEXSZ + 1], made_hex[GIT_OID_HEXSZ + 1];
	char	 pin[GIT_OID_HEXSZ + 1];	/* expect_commit when not given */
};

static int
git_err(struct lr_err *err, int code, const char *what)
{
	const git_error *ge = git_error_last();

	return lr_err_set(err, code, "%s: %s", what, ge && ge->message ?
	    ge->message : "libgit2 failed");
}

/* "sub/tasks/x.yml" or "tasks/x.yml" (new). */
static char *
repo_file(const struct edit *ed, const char *ext)
{
	return ed->st.subdir && *ed->st.subdir ? lr_xasprintf("%s/tasks/%s.%s",
	    ed->st.subdir, ed->name, ext) : lr_xasprintf("tasks/%s.%s",
	    ed->name, ext);
}

/* The blob id of path in commit id (zero when absent): 0, or LR_E*. */
static int
blob_at(git_repository *repo, const git_oid *commit, const char *path,
    git_oid *blob, struct lr_err *err)
{
	git_commit *c = NULL;
	git_tree *tree = NULL;
	git_tree_entry *e = NULL;
	int rc = 0;

	memset(blob, 0, sizeof(*blob));
	if (git_commit_lookup(&c, repo, commit) < 0 ||
	    git_commit_tree(&tree, c) < 0) {
		rc = git_err(err, LR_EGIT, "cannot read the commit");
		goto out;
	}
	if (git_tree_entry_bypath(&e, tree, path) == 0 &&
	    git_tree_entry_type(e) == GIT_OBJECT_BLOB)
		git_oid_cpy(blob, git_tree_entry_id(e));
out:
	git_tree_entry_free(e);
	git_tree_free(tree);
	git_commit_free(c);
	return rc;
}

/*
 * Open where the commit is made and read the branch's head: a local
 * source in place (refused when the branch is checked out), a remote
 * one's mirror once fetched.  0, or -1 after an answer.
 */
static int
open_target(struct srv_req *req, struct srv_resp *resp, struct edit *ed)
{
	git_reference *ref = NULL;
	struct lr_err err;
	char *rname;
	int rc = -1, co;

	lr_err_clear(&err);
	if (ed->st.remote) {
		if (src_fetch_now(req->srv, req->etcd, &err) < 0) {
			srv_resp_error(resp, 503, "unavailable", err.hint,
			    "%s", err.msg);
			return -1;
		}
		ed->repo_path = lr_xstrdup(ed->st.mirror);
	} else
		ed->repo_path = lr_xstrdup(ed->st.local);
	if (git_repository_open_ext(&ed->repo, ed->repo_path,
	    GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0) {
		git_err(&err, LR_EGIT, "cannot open the source");
		srv_resp_lr_err(resp, &err);
		return -1;
	}
	rname = lr_xasprintf("refs/heads/%s", ed->st.branch);
	if (git_reference_lookup(&ref, ed->repo, rname) < 0) {
		srv_resp_error(resp, 409, "conflict", "push a first commit to "
		    "the branch", "the source has no branch '%s'",
		    ed->st.branch);
		goto out;
	}
	if (!ed->st.remote && !git_repository_is_bare(ed->repo) &&
	    (co = git_branch_is_checked_out(ref)) != 0) {
		srv_resp_error(resp, 409, "checked_out", "edit the task in "
		    "that checkout and commit it there, or give leurad a bare "
		    "repository as --source (git clone --bare) that the "
		    "checkout pushes to", "the branch '%s' is checked out in "
		    "'%s': a commit made by leurad would leave that work tree "
		    "behind its branch", ed->st.branch, ed->repo_path);
		goto out;
	}
	git_oid_cpy(&ed->base, git_reference_target(ref));
	git_oid_tostr(ed->base_hex, sizeof(ed->base_hex), &ed->base);
	rc = 0;
out:
	git_reference_free(ref);
	free(rname);
	return rc;
}

/*
 * The task file at the head: ed->file (the .yml or .yaml that exists, or
 * the .yml to create), checked against the operation and expect_commit.
 * 0, or -1 after an answer.
 */
static int
check_file(struct srv_resp *resp, struct edit *ed)
{
	git_oid yml, yaml, want, then, now;
	struct lr_err err;
	char hint[256];
	char *py = repo_file(ed, "yml"), *pa = repo_file(ed, "yaml");
	int rc = -1;

	lr_err_clear(&err);
	if (blob_at(ed->repo, &ed->base, py, &yml, &err) < 0 ||
	    blob_at(ed->repo, &ed->base, pa, &yaml, &err) < 0) {
		srv_resp_lr_err(resp, &err);
		goto out;
	}
	if (!git_oid_is_zero(&yaml) && git_oid_is_zero(&yml)) {
		ed->file = pa;
		pa = NULL;
		git_oid_cpy(&now, &yaml);
	} else {
		ed->file = py;
		py = NULL;
		git_oid_cpy(&now, &yml);
	}
	if (ed->op == TK_CREATE && !git_oid_is_zero(&now)) {
		snprintf(hint, sizeof(hint), "change it with PUT /v1/tasks/%s",
		    ed->name);
		srv_resp_error(resp, 409, "exists", hint, "task '%s' exists "
		    "(%s at commit %.12s)", ed->name, ed->file, ed->base_hex);
		goto out;
	}
	if (ed->op != TK_CREATE && git_oid_is_zero(&now)) {
		snprintf(hint, sizeof(hint), "create it with POST /v1/tasks/%s",
		    ed->name);
		srv_resp_error(resp, 404, "not_found", hint, "no task '%s' on "
		    "branch '%s' (commit %.12s)", ed->name, ed->st.branch,
		    ed->base_hex);
		goto out;
	}
	snprintf(hint, sizeof(hint), "GET /v1/tasks/%s again (its 'commit' "
	    "is the one to expect), then redo the edit on what it shows",
	    ed->name);
	if (ed->expect && strcasecmp(ed->expect, ed->base_hex) != 0) {
		if (git_oid_fromstrn(&want, ed->expect,
		    strlen(ed->expect)) < 0 || strlen(ed->expect) !=
		    GIT_OID_HEXSZ) {
			srv_resp_error(resp, 400, "bad_request", hint,
			    "expect_commit '%s' is not a commit id (40 hex "
			    "digits)", ed->expect);
			goto out;
		}
		if (blob_at(ed->repo, &want, ed->file, &then, &err) < 0) {
			srv_resp_error(resp, 409, "conflict", hint,
			    "expect_commit %.12s is not a commit of the source",
			    ed->expect);
			goto out;
		}
		if (!git_oid_equal(&then, &now)) {
			srv_resp_error(resp, 409, "conflict", hint,
			    "task '%s' changed since commit %.12s: the branch "
			    "'%s' is at %.12s", ed->name, ed->expect,
			    ed->st.branch, ed->base_hex);
			goto out;
		}
	}
	rc = 0;
out:
	free(py);
	free(pa);
	return rc;
}

/* The commit of the edit on the head (not on any branch yet). */
static int
make_commit(struct srv_req *req, struct edit *ed, struct lr_err *err)
{
	git_commit *parent = NULL;
	git_tree *base = NULL, *tree = NULL;
	git_tree_update up;
	git_signature *sig = NULL;
	git_oid blob, tid;
	char *mail, *msg;
	int rc = 0;

	memset(&up, 0, sizeof(up));
	if (git_commit_lookup(&parent, ed->repo, &ed->base) < 0 ||
	    git_commit_tree(&base, parent) < 0)
		return git_err(err, LR_EGIT, "cannot read the branch's head");
	up.path = ed->file;
	if (ed->op == TK_DELETE) {
		up.action = GIT_TREE_UPDATE_REMOVE;
	} else {
		if (git_blob_create_from_buffer(&blob, ed->repo, ed->yaml,
		    ed->yaml_len) < 0) {
			rc = git_err(err, LR_EGIT, "cannot store the task");
			goto out;
		}
		up.action = GIT_TREE_UPDATE_UPSERT;
		up.filemode = GIT_FILEMODE_BLOB;
		git_oid_cpy(&up.id, &blob);
	}
	if (git_tree_create_updated(&tid, ed->repo, base, 1, &up) < 0 ||
	    git_tree_lookup(&tree, ed->repo, &tid) < 0) {
		rc = git_err(err, LR_EGIT, "cannot make the tree");
		goto out;
	}
	if (git_oid_equal(&tid, git_tree_id(base))) {
		/* the same text: no empty commit */
		ed->unchanged = true;
		git_oid_cpy(&ed->made, &ed->base);
		git_oid_tostr(ed->made_hex, sizeof(ed->made_hex), &ed->made);
		goto out;
	}
	mail = lr_xasprintf("%s@leurad", req->who->user);
	rc = git_signature_now(&sig, req->who->user, mail);
	free(mail);
	if (rc < 0) {
		rc = git_err(err, LR_EGIT, "cannot sign the commit");
		goto out;
	}
	msg = ed->message ? lr_xasprintf("%s\n\nVia leurad: %s of task '%s' "
	    "by %s.\n", ed->message, op_names[ed->op], ed->name,
	    req->who->user) : lr_xasprintf("tasks: %s %s\n\nVia leurad, by "
	    "%s.\n", ed->op == TK_CREATE ? "add" : ed->op == TK_UPDATE ?
	    "change" : "remove", ed->name, req->who->user);
	rc = git_commit_create(&ed->made, ed->repo, NULL, sig, sig, "UTF-8",
	    msg, tree, 1, (const git_commit **)&parent);
	free(msg);
	if (rc < 0) {
		rc = git_err(err, LR_EGIT, "cannot make the commit");
		goto out;
	}
	git_oid_tostr(ed->made_hex, sizeof(ed->made_hex), &ed->made);
out:
	git_signature_free(sig);
	git_tree_free(tree);
	git_tree_free(base);
	git_commit_free(parent);
	return rc;
}

/* The whole repo at the new commit: 0, or -1 after a 422 or an error. */
static int
validate(struct srv_resp *resp, struct edit *ed)
{
	struct rec_git *g = NULL;
	struct rec_load l;
	struct lr_err err;
	json_t *d, *first;
	char *m;
	int rc;

	lr_err_clear(&err);
	memset(&l, 0, sizeof(l));
	spec_diags_init(&l.diags);
	if ((rc = rec_git_open(ed->repo_path, &g, &err)) < 0) {
		srv_resp_lr_err(resp, &err);
		goto out;
	}
	free(g->subdir);
	g->subdir = ed->st.subdir ? lr_xstrdup(ed->st.subdir) : NULL;
	rc = rec_load_commit(&l, g, ed->made_hex, REC_COMPILE_TASKS, &err);
	if (rc < 0 && l.diags.nerrors == 0) {
		srv_resp_lr_err(resp, &err);
		goto out;
	}
	if (l.diags.nerrors) {
		/* the message: the first diagnostic, positioned */
		d = spec_diags_to_json(&l.diags);
		first = json_array_get(d, 0);
		m = lr_xasprintf("%s:%d:%d: %s%s", lr_json_str(first, "path"),
		    (int)lr_json_int(first, "line"), (int)lr_json_int(first,
		    "col"), lr_json_str(first, "message"), l.diags.nerrors > 1 ?
		    " (and more: see diagnostics)" : "");
		srv_resp_json(resp, 422, json_pack("{s:{s:s, s:s, s:s}, s:o}",
		    "error", "code", "invalid_specs", "message", m, "hint",
		    lr_json_strn(first, "hint") ? lr_json_str(first, "hint") :
		    "fix the task and send it again: nothing was committed",
		    "diagnostics", d));
		free(m);
		rc = -1;
		goto out;
	}
	rc = 0;
out:
	rec_load_release(&l);
	rec_git_free(g);
	return rc < 0 ? -1 : 0;
}

/*
 * Move the branch to the commit: a compare-and-swap, or a push.  0, -1
 * after an answer, or LR_ECONFLICT unanswered when retry is set and the
 * branch moved (the caller makes the edit again on the new head).
 */
static int
publish(struct srv_req *req, struct srv_resp *resp, struct edit *ed,
    bool retry)
{
	git_reference *ref = NULL;
	struct lr_err err;
	char *rname, *log, hint[256];
	int rc;

	lr_err_clear(&err);
	if (ed->st.remote) {
		rname = lr_xasprintf("refs/leura/edits/%s", ed->made_hex);
		if (git_reference_create(&ref, ed->repo, rname, &ed->made, 1,
		    "leurad: a task edit to push") < 0) {
			git_err(&err, LR_EGIT, "cannot prepare the push");
			rc = LR_EGIT;
		} else {
			git_reference_free(ref);
			ref = NULL;
			rc = src_mirror_push(src_mirror_of(req->srv), rname,
			    ed->st.branch, &err);
			if (git_reference_lookup(&ref, ed->repo, rname) == 0)
				git_reference_delete(ref);
		}
		free(rname);
	} else {
		rname = lr_xasprintf("refs/heads/%s", ed->st.branch);
		log = lr_xasprintf("leurad: %s of task '%s' by %s",
		    op_names[ed->op], ed->name, req->who->user);
		rc = git_reference_create_matching(&ref, ed->repo, rname,
		    &ed->made, 1, &ed->base, log);
		if (rc == GIT_EMODIFIED || rc == GIT_ELOCKED)
			rc = lr_err_set(&err, LR_ECONFLICT, "the branch '%s' "
			    "moved while the edit was made", ed->st.branch);
		else if (rc < 0)
			rc = git_err(&err, LR_EGIT, "cannot move the branch");
		free(rname);
		free(log);
	}
	git_reference_free(ref);
	if (rc == LR_ECONFLICT && retry)
		return LR_ECONFLICT;
	if (rc == LR_ECONFLICT) {
		snprintf(hint, sizeof(hint), "someone committed to the branch "
		    "meanwhile: GET /v1/tasks/%s again and redo the edit on "
		    "it", ed->name);
		srv_resp_error(resp, 409, "conflict", hint, "%s", err.msg);
		return -1;
	}
	if (rc < 0) {
		srv_resp_lr_err(resp, &err);
		return -1;
	}
	return 0;
}

static void
write_task(struct srv_req *req, struct srv_resp *resp, enum tk_op op)
{
	static const char *const create_fields[] = { "yaml", "message", NULL };
	static const char *const update_fields[] = { "yaml", "message",
	    "expect_commit", NULL };
	struct edit ed;
	struct lr_err err;
	json_t *body = NULL, *delivery = NULL, *v;
	char res[TK_NAME_MAX + 8];
	bool locked = false;
	int tries, rc;

	memset(&ed, 0, sizeof(ed));
	ed.op = op;
	git_libgit2_init();
	if ((ed.name = task_param(req, resp)) == NULL)
		goto out;
	snprintf(res, sizeof(res), "tasks/%s", ed.name);
	srv_req_audit(req, res, NULL);
	if (!auth_require(req, resp, AUTH_ADMIN, res) ||
	    !need_source(req, resp, &ed.st))
		goto out;
	if (op == TK_DELETE) {
		ed.expect = srv_query(req, "expect_commit");
		ed.message = srv_query(req, "message");
	} else {
		if (srv_body_object(req, resp, op == TK_CREATE ?
		    create_fields : update_fields, &body) < 0)
			goto out;
		v = json_object_get(body, "yaml");
		if (!json_is_string(v) || json_string_length(v) == 0) {
			srv_resp_error(resp, 400, "bad_request", "send "
			    "{\"yaml\": \"targets: ...\\nsteps: ...\"}",
			    "field 'yaml' must be the task's YAML text");
			goto out;
		}
		ed.yaml = json_string_value(v);
		ed.yaml_len = json_string_length(v);
		if (ed.yaml_len > SPEC_FILE_MAX) {
			srv_resp_error(resp, 413, "too_large", NULL, "the task "
			    "is over %zu bytes", SPEC_FILE_MAX);
			goto out;
		}
		if ((v = json_object_get(body, "message")) != NULL &&
		    !json_is_null(v)) {
			if (!json_is_string(v)) {
				srv_resp_error(resp, 400, "bad_request", NULL,
				    "field 'message' must be a string");
				goto out;
			}
			ed.message = json_string_value(v);
		}
		if ((v = json_object_get(body, "expect_commit")) != NULL &&
		    !json_is_null(v)) {
			if (!json_is_string(v)) {
				srv_resp_error(resp, 400, "bad_request", NULL,
				    "field 'expect_commit' must be a commit id");
				goto out;
			}
			ed.expect = json_string_value(v);
		}
	}
	if (ed.message && (strlen(ed.message) > TK_MESSAGE_MAX ||
	    ed.message[strspn(ed.message, " \t\r\n")] == '\0')) {
		srv_resp_error(resp, 400, "bad_request", "say why in a line or "
		    "a few, or leave it out for a default", "the commit message "
		    "is empty or over %d bytes", TK_MESSAGE_MAX);
		goto out;
	}
	if (ed.expect && *ed.expect == '\0')
		ed.expect = NULL;
	lr_err_clear(&err);
	/*
	 * A remote's edits, one at a time in this process: each starts
	 * from a fresh fetch, so they never refuse each other; the git
	 * server refuses a push whose branch moved (another replica, a
	 * developer's push).  In place, the compare-and-swap suffices.
	 */
	if (ed.st.remote) {
		pthread_mutex_lock(&push_mu);
		locked = true;
	}
	/*
	 * A branch that moved between the read of its head and the swap
	 * (or the push): the whole edit again on the new head, which is
	 * checked as the first was (the task as expect_commit had it, or
	 * still absent for a create), a few times at most
	 */
	for (tries = 0;; tries++) {
		if (open_target(req, resp, &ed) < 0 ||
		    check_file(resp, &ed) < 0)
			goto out;
		if (ed.expect == NULL) {
			/* again, only if the task is as it was now */
			memcpy(ed.pin, ed.base_hex, sizeof(ed.pin));
			ed.expect = ed.pin;
		}
		if (make_commit(req, &ed, &err) < 0) {
			srv_resp_lr_err(resp, &err);
			goto out;
		}
		if (ed.unchanged) {
			srv_resp_json(resp, 200, json_pack("{s:s, s:s, s:s, "
			    "s:s, s:b}", "task", ed.name, "op", op_names[op],
			    "commit", ed.base_hex, "branch", ed.st.branch,
			    "unchanged", 1));
			goto out;
		}
		if (validate(resp, &ed) < 0)
			goto out;
		if ((rc = publish(req, resp, &ed, tries + 1 < TK_TRIES)) == 0)
			break;
		if (rc != LR_ECONFLICT)
			goto out;
		git_repository_free(ed.repo);
		ed.repo = NULL;
		free(ed.repo_path);
		ed.repo_path = NULL;
		free(ed.file);
		ed.file = NULL;
	}
	lr_log_notice("task %s: %s by %s, commit %.12s on %s", ed.name,
	    op_names[op], req->who->user, ed.made_hex, ed.st.branch);
	if (src_refresh_after_commit(req->srv, req->etcd, req->who->user,
	    &delivery, &err) < 0) {
		lr_log_warn("refresh after commit %.12s: %s", ed.made_hex,
		    err.msg);
		delivery = json_null();
	}
	srv_req_audit(req, res, json_pack("{s:s, s:s, s:s, s:s}", "op",
	    op_names[op], "commit", ed.made_hex, "parent", ed.base_hex,
	    "branch", ed.st.branch));
	srv_resp_json(resp, op == TK_CREATE ? 201 : 200, json_pack("{s:s, s:s,"
	    " s:s, s:s, s:s, s:s, s:O}", "task", ed.name, "op", op_names[op],
	    "path", ed.file + (ed.st.subdir && *ed.st.subdir ?
	    strlen(ed.st.subdir) + 1 : 0), "commit", ed.made_hex, "parent",
	    ed.base_hex, "branch", ed.st.branch, "delivery", delivery));
out:
	if (locked)
		pthread_mutex_unlock(&push_mu);
	json_decref(delivery);
	json_decref(body);
	git_repository_free(ed.repo);
	free(ed.repo_path);
	free(ed.file);
	git_libgit2_shutdown();
}

static void
post_task(struct srv_req *req, struct srv_resp *resp)
{
	write_task(req, resp, TK_CREATE);
}

static void
put_task(struct srv_req *req, struct srv_resp *resp)
{
	write_task(req, resp, TK_UPDATE);
}

static void
delete_task(struct srv_req *req, struct srv_resp *resp)
{
	write_task(req, resp, TK_DELETE);
}

void
tk_routes(struct srv *s)
{
	srv_route(s->router, "GET", "/v1/tasks", get_tasks, 0);
	srv_route(s->router, "GET", "/v1/tasks/{task}", get_task, 0);
	srv_route(s->router, "POST", "/v1/tasks/{task}", post_task, 0);
	srv_route(s->router, "PUT", "/v1/tasks/{task}", put_task, 0);
	srv_route(s->router, "DELETE", "/v1/tasks/{task}", delete_task, 0);
}
