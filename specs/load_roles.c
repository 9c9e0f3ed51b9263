/*
 * Roles (roles/<r>/role.yml) and the steps of roles and tasks: YAML nodes
 * -> struct spec_role and spec_step.
 *
 * This file checks the shape of every key, reads script_file contents,
 * resolves file sources inside the repo and checks step names and
 * when_changed within each list.  It leaves template names and placement
 * to the reconciler, services' references to roles to load_services.c,
 * and a task's own keys (targets, schedule ...) to load_tasks.c, which
 * hands its steps here (spec_load_task_steps()).
 *
 * Design rule: one mistake, one diagnostic.  A step with any error is left
 * out of the model (a half-read step is never handed to a consumer), but its
 * name stays known while the list is checked, so a when_changed naming it
 * does not add a second error.  A role whose role.yml is empty or broken is
 * still added, without steps, so services naming it do not either.
 *
 * Step identity: a step is known by its name within its list (plans diff
 * steps by name).  An unnamed step is named after its content: the first
 * non-empty line of an inline script (trimmed, runs of blanks collapsed, cut
 * at 48 bytes), "script_file <path>", "file <dest>", "<METHOD> <url>",
 * "use <type>" or "approval"; when that name is taken in the list, " #2",
 * " #3" ... is appended.  So editing an unnamed step shows in a plan as one
 * step removed and another added: name steps to keep their identity.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "spec-int.h"
#include "suggest.h"
#include "xalloc.h"

#define GEN_NAME_MAX	48

#define COMMON_KEYS \
	"name", "run_as", "timeout", "retries", "env", "cwd", "creates", \
	"unless", "when_changed", "on_failure"

static const char *const role_keys[] = {
	"description", "params", "converge", "validate", "turndown", NULL
};

static const char *const script_keys[] = {
	"script", "shell", COMMON_KEYS, NULL
};
static const char *const script_file_keys[] = {
	"script_file", "shell", COMMON_KEYS, NULL
};
static const char *const file_step_keys[] = { "file", COMMON_KEYS, NULL };
static const char *const http_step_keys[] = { "http", COMMON_KEYS, NULL };
static const char *const approval_step_keys[] = {
	"approval", COMMON_KEYS, NULL
};
static const char *const use_step_keys[] = {
	"use", "with", COMMON_KEYS, NULL
};
static const char *const all_step_keys[] = {
	"script", "script_file", "file", "http", "approval", "use", "with",
	"shell", COMMON_KEYS, NULL
};

static const char *const file_keys[] = {
	"src", "content", "dest", "mode", "owner", "group", "template",
	"validate", NULL
};
static const char *const http_keys[] = {
	"url", "method", "body", "headers", "expect_status", NULL
};
static const char *const approval_keys[] = { "groups", "timeout", NULL };
static const char *const http_methods[] = {
	"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"
};

#define KIND_LIST	"script, script_file, file, http, approval, use"

/*
 * Parsing state of one list of steps.  The names that messages use (the
 * owner, the list, an item's label) are formatted on first use only: a
 * big repo has thousands of steps and next to no errors.
 */
struct pctx {
	struct spec_repo *repo;
	struct spec_diags *diags;
	const char *kind;	/* "role" or "task" */
	const char *name;	/* of the role or task */
	const char *key;	/* "converge" ...; NULL: a task's steps */
	const char *dir;	/* relative paths start here: "roles/web" */
	enum spec_phase phase;
	char	*owner;		/* "role 'web'", from p_owner() */
	char	*list;		/* "converge of role 'web'", from p_list() */
	char	 what[512];	/* scratch: "'timeout' of step ..." */
};

/* One list entry while the list is checked. */
struct item {
	struct spec_step step;
	size_t	 index;		/* in the list, from 0 */
	const struct spec_node *name_node;	/* NULL: no explicit name */
	char	*label;		/* from label(), or NULL */
	bool	 kinded;	/* has exactly one kind key */
	bool	 ok;		/* no error: goes into the model */
};

struct kind {
	const char *key;
	enum spec_step_kind kind;
	const char *const *keys;
	int	(*parse)(struct pctx *, struct item *,
		    const struct spec_node *key, const struct spec_node *val);
};

/* ---- names for messages ---- */

/* "role 'web'" or "task 'flush'" */
static const char *
p_owner(struct pctx *p)
{
	if (p->owner == NULL)
		p->owner = lr_xasprintf("%s '%s'", p->kind, p->name);
	return p->owner;
}

/* "converge of role 'web'"; a task's list is the task itself */
static const char *
p_list(struct pctx *p)
{
	if (p->key == NULL)
		return p_owner(p);
	if (p->list == NULL)
		p->list = lr_xasprintf("%s of %s", p->key, p_owner(p));
	return p->list;
}

/* Start on the list key of the same owner. */
static void
p_set_list(struct pctx *p, const char *key, enum spec_phase phase)
{
	free(p->list);
	p->list = NULL;
	p->key = key;
	p->phase = phase;
}

static void
p_release(struct pctx *p)
{
	free(p->owner);
	free(p->list);
	p->owner = p->list = NULL;
}

/*
 * "step 'x' of role 'web'" when the step has a name of its own, else
 * "step 3 of converge of role 'web'".
 */
static const char *
label(struct pctx *p, struct item *it)
{
	if (it->label != NULL)
		return it->label;
	if (it->name_node != NULL)
		it->label = lr_xasprintf("step '%s' of %s", it->step.name,
		    p_owner(p));
	else
		it->label = lr_xasprintf("step %zu of %s", it->index + 1,
		    p_list(p));
	return it->label;
}

/* "'timeout' of step ...", in p->what until the next call. */
static const char *
kw(struct pctx *p, struct item *it, const char *key)
{
	snprintf(p->what, sizeof(p->what), "'%s' of %s", key, label(p, it));
	return p->what;
}

/* ---- small helpers ---- */

static bool
is_blank(const char *s)
{
	for (; *s; s++)
		if (!isspace((unsigned char)*s))
			return false;
	return true;
}

/*
 * The typed reads of node.h for a key of a step: each tries the test
 * alone first and formats the "'key' of step ..." of a message only when
 * the value is wrong.
 */
static int
step_str(struct pctx *p, struct item *it, const struct spec_node *v,
    const char *key, const char **out)
{
	if (!spec_node_is_str(v))
		return spec_get_str(p->diags, v, kw(p, it, key), out);
	*out = v->str;
	return 0;
}

static int
step_dup(struct pctx *p, struct item *it, const struct spec_node *v,
    const char *key, char **out)
{
	const char *s;

	if (step_str(p, it, v, key, &s) < 0)
		return -1;
	*out = lr_xstrdup(s);
	return 0;
}

static int
step_int(struct pctx *p, struct item *it, const struct spec_node *v,
    const char *key, int64_t min, int64_t max, int64_t *out)
{
	int64_t n;

	if (spec_node_int(v, &n) && n >= min && n <= max) {
		*out = n;
		return 0;
	}
	return spec_get_int(p->diags, v, kw(p, it, key), min, max, out);
}

static int
step_duration(struct pctx *p, struct item *it, const struct spec_node *v,
    const char *key, int64_t *ms)
{
	if (v != NULL && v->kind == SPEC_NODE_SCALAR &&
	    spec_parse_duration(v->str, ms) == 0)
		return 0;
	return spec_get_duration(p->diags, v, kw(p, it, key), ms);
}

static int
step_refs(struct pctx *p, struct item *it, const struct spec_node *v,
    const char *key, struct spec_ref **out, size_t *nout)
{
	/* the message is only needed when the list is wrong */
	return spec_get_refs(p->diags, v, spec_node_is_strlist(v) ? NULL :
	    kw(p, it, key), out, nout);
}

/* spec_check_map() on n, the value of key of the step. */
static bool
step_check_map(struct pctx *p, struct item *it, const struct spec_node *n,
    const char *key, const char *const *allowed)
{
	if (spec_map_has_only(n, allowed))
		return true;
	return spec_check_map(p->diags, n, kw(p, it, key), allowed, "STEPS");
}

/* An absolute path, or a template that renders to one later. */
static bool
abs_or_template(const char *s)
{
	return s[0] == '/' || strncmp(s, "{{", 2) == 0;
}

/*
 * Resolve a path written relative to p->dir to a repo file.  Reports at n
 * and returns -1 when it is absolute, leaves the repo, is missing or is
 * not a regular file; *out (repo-relative, symlink-free) is the caller's.
 */
static int
resolve_file(struct pctx *p, struct item *it, const struct spec_node *n,
    const char *key, char **out)
{
	struct lr_err err = { 0 };
	struct spec_diag *dg;
	enum spec_ftype t;
	char *joined, *real, *dir, **names, *slash;
	const char *s = n->str, *base, *sug;
	size_t nnames;

	if (s[0] == '/') {
		base = strrchr(s, '/') + 1;
		spec_diag_hint(spec_diag_at(p->diags, n, "'%s' of %s must be "
		    "relative to %s/, not an absolute path", key, label(p, it),
		    p->dir), "copy the file into the repo and give its path "
		    "from %s/, e.g. files/%s", p->dir, *base ? base : "name");
		return -1;
	}
	joined = lr_xasprintf("%s/%s", p->dir, s);
	if (spec_source_resolve(p->repo->src, joined, &real, &t, &err) < 0) {
		spec_diag_hint(spec_diag_at(p->diags, n, "%s", err.msg),
		    "%s", strcmp(key, "src") == 0 ? "file steps may only send "
		    "files from inside the repo" : "scripts must be files "
		    "inside the repo");
		free(joined);
		return -1;
	}
	free(joined);
	if (t == SPEC_FT_FILE) {
		*out = real;
		return 0;
	}
	if (t == SPEC_FT_DIR) {
		spec_diag_hint(spec_diag_at(p->diags, n, "'%s' is a directory, "
		    "not a file", real), "'%s' names one file, e.g. %s/<name>",
		    key, s);
	} else if (t != SPEC_FT_NONE) {
		spec_diag_hint(spec_diag_at(p->diags, n, "'%s' is not a "
		    "regular file", real), "'%s' must name a plain file", key);
	} else {
		dg = spec_diag_at(p->diags, n, "file '%s' not found", real);
		slash = strrchr(real, '/');
		dir = lr_xstrndup(real, slash ? (size_t)(slash - real) : 0);
		base = slash ? slash + 1 : real;
		sug = NULL;
		if (spec_source_list(p->repo->src, dir, &names, &nnames,
		    &err) == 0) {
			sug = lr_suggest(base, (const char *const *)names,
			    nnames);
			if (sug) {
				slash = strrchr(s, '/');
				spec_diag_hint(dg, "did you mean '%.*s%s'? "
				    "paths are relative to %s/",
				    slash ? (int)(slash - s + 1) : 0, s, sug,
				    p->dir);
			}
			spec_strv_free(names, nnames);
		}
		if (sug == NULL)
			spec_diag_hint(dg, "create it, or fix the path: it is "
			    "relative to %s/", p->dir);
		free(dir);
	}
	free(real);
	return -1;
}

/* ---- step kinds ---- */

static int
parse_script(struct pctx *p, struct item *it, const struct spec_node *key,
    const struct spec_node *v)
{
	struct spec_step *st = &it->step;

	if (step_dup(p, it, v, "script", &st->script) < 0)
		return -1;
	if (is_blank(st->script)) {
		spec_diag_hint(spec_diag_at(p->diags, v, "'script' of %s is "
		    "empty", label(p, it)), "write the command to run, or "
		    "remove the step");
		return -1;
	}
	return 0;
}

static int
parse_script_file(struct pctx *p, struct item *it,
    const struct spec_node *key, const struct spec_node *v)
{
	struct spec_step *st = &it->step;
	struct lr_err err = { 0 };
	const char *s;
	char *real, *buf;
	size_t len;

	if (step_str(p, it, v, "script_file", &s) < 0 ||
	    resolve_file(p, it, v, "script_file", &real) < 0)
		return -1;
	if (spec_source_read(p->repo->src, real, &buf, &len, &err) < 0) {
		spec_diag_at(p->diags, v, "%s", err.msg);
		free(real);
		return -1;
	}
	if (strlen(buf) != len) {
		spec_diag_hint(spec_diag_at(p->diags, v, "script '%s' contains "
		    "a NUL byte", real), "script_file names a text file");
		free(buf);
		free(real);
		return -1;
	}
	st->script_file = real;
	st->script = buf;
	return 0;
}

/*
 * The owner or group of a file step: digits are an id, 0 to 4294967294
 * (4294967295 is chown's "leave it as it is"); anything else is a name
 * as shadow's useradd takes them: at most 32 of letters, digits, '_', '.'
 * and '-', not starting with '-' or '.', maybe ending in '$'.  Whether
 * the host knows it is the agent's business.
 */
static void
check_id(struct pctx *p, struct item *it, const struct spec_node *v,
    const char *key, const char *s)
{
	bool group = strcmp(key, "group") == 0;
	const char *what = group ? "group" : "user";
	const char *id = group ? "gid" : "uid";
	size_t n = strlen(s), i, ndig;
	unsigned long long val;

	ndig = strspn(s, "0123456789");
	if (n > 0 && ndig == n) {
		errno = 0;
		val = strtoull(s, NULL, 10);
		if (errno == 0 && val < 4294967295ULL)
			return;
		spec_diag_hint(spec_diag_at(p->diags, v, "%s: %s %s is out "
		    "of range", kw(p, it, key), id, s), "a %s goes from 0 to "
		    "4294967294; or give the %s's name", id, what);
		return;
	}
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' &&
		    s[i] != '.' && s[i] != '-' && !(s[i] == '$' && i == n - 1))
			break;
	if (n > 0 && n <= 32 && i == n && s[0] != '-' && s[0] != '.')
		return;
	spec_diag_hint(spec_diag_at(p->diags, v, n == 0 ? "%s: empty %s "
	    "name%s" : "%s: invalid %s name '%s'", kw(p, it, key), what, s),
	    "a %s name has at most 32 letters, digits, '_', '.' and '-', "
	    "not starting with '-' or '.'; digits alone are a %s; leave '%s' "
	    "out to keep the file's", what, id, key);
}

static int
parse_file(struct pctx *p, struct item *it, const struct spec_node *key,
    const struct spec_node *f)
{
	struct spec_step *st = &it->step;
	const struct spec_node *src, *content, *dest, *v, *k;
	size_t nerr = p->diags->nerrors;
	const char *s;

	if (!step_check_map(p, it, f, "file", file_keys))
		return -1;
	src = spec_opt(f, "src");
	content = spec_node_get(f, "content");
	if (src && content) {
		k = spec_later_key(f, "src", "content");
		spec_diag_hint(spec_diag_at(p->diags, k, "%s has both 'src' "
		    "and 'content'", kw(p, it, "file")), "send a file from "
		    "the repo with src, or write it inline with content, not "
		    "both");
	} else if (src == NULL && content == NULL) {
		spec_diag_hint(spec_diag_at(p->diags, f, "%s needs 'src' or "
		    "'content'", kw(p, it, "file")), "src: a file path "
		    "relative to %s/; content: the text to write", p->dir);
	} else if (src) {
		if (step_str(p, it, src, "src", &s) == 0)
			resolve_file(p, it, src, "src", &st->src);
	} else
		step_dup(p, it, content, "content", &st->content);
	if ((dest = spec_node_get(f, "dest")) == NULL)
		spec_require(p->diags, f, "dest", kw(p, it, "file"));
	else if (step_dup(p, it, dest, "dest", &st->dest) == 0 &&
	    !abs_or_template(st->dest))
		spec_diag_hint(spec_diag_at(p->diags, dest, "'dest' of %s must "
		    "be an absolute path, not '%s'", label(p, it), st->dest),
		    "write the full path on the host, e.g. /%s", st->dest);
	if ((v = spec_opt(f, "mode")) != NULL)
		spec_get_mode(p->diags, v, kw(p, it, "mode"), &st->mode);
	if ((v = spec_opt(f, "owner")) != NULL &&
	    step_dup(p, it, v, "owner", &st->owner) == 0)
		check_id(p, it, v, "owner", st->owner);
	if ((v = spec_opt(f, "group")) != NULL &&
	    step_dup(p, it, v, "group", &st->group) == 0)
		check_id(p, it, v, "group", st->group);
	if ((v = spec_opt(f, "template")) != NULL)
		spec_get_bool(p->diags, v, kw(p, it, "template"),
		    &st->template);
	if ((v = spec_opt(f, "validate")) != NULL &&
	    step_dup(p, it, v, "validate", &st->validate) == 0) {
		if (is_blank(st->validate))
			spec_diag_hint(spec_diag_at(p->diags, v, "'validate' "
			    "of %s is empty", label(p, it)), "write a command "
			    "that checks the new file, with %%s for its path, "
			    "e.g. nginx -t -c %%s");
		else if (strstr(st->validate, "%s") == NULL)
			/* as Ansible: a check of another file checks nothing */
			spec_diag_hint(spec_diag_at(p->diags, v, "'validate' "
			    "of %s has no %%s", label(p, it)), "write %%s "
			    "where the new file's path goes, e.g. nginx -t -c "
			    "%%s: the command checks the new content before "
			    "it replaces '%s'", st->dest ? st->dest : "dest");
	}
	return p->diags->nerrors > nerr ? -1 : 0;
}

static int
parse_http(struct pctx *p, struct item *it, const struct spec_node *key,
    const struct spec_node *h)
{
	struct spec_step *st = &it->step;
	const struct spec_node *url, *v;
	size_t nerr = p->diags->nerrors, i, n;
	const char *sug;
	char what[512], *up;
	int64_t code;

	snprintf(what, sizeof(what), "'http' of %s", label(p, it));
	if (!spec_check_map(p->diags, h, what, http_keys, "STEPS"))
		return -1;
	if ((url = spec_require(p->diags, h, "url", what)) != NULL &&
	    step_dup(p, it, url, "url", &st->url) == 0 &&
	    strncasecmp(st->url, "http://", 7) != 0 &&
	    strncasecmp(st->url, "https://", 8) != 0 &&
	    strncmp(st->url, "{{", 2) != 0)
		spec_diag_hint(spec_diag_at(p->diags, url, "'url' of %s must "
		    "start with http:// or https://, not '%s'", label(p, it),
		    st->url), strstr(st->url, "://") ? "http steps speak "
		    "HTTP and HTTPS only; run other clients from a script "
		    "step" : "write the full URL, e.g. https://%s", st->url);
	if ((v = spec_opt(h, "method")) == NULL)
		st->method = lr_xstrdup("GET");
	else if (step_dup(p, it, v, "method", &up) == 0) {
		for (i = 0; up[i]; i++)
			up[i] = (char)toupper((unsigned char)up[i]);
		n = sizeof(http_methods) / sizeof(*http_methods);
		for (i = 0; i < n; i++)
			if (strcmp(up, http_methods[i]) == 0)
				break;
		if (i < n) {
			st->method = up;
		} else {
			sug = lr_suggest(up, http_methods, n);
			spec_diag_hint(spec_diag_at(p->diags, v, "unknown HTTP "
			    "method '%s' in %s", v->str, label(p, it)),
			    "%s%s%suse one of GET, POST, PUT, PATCH, DELETE, "
			    "HEAD", sug ? "did you mean '" : "", sug ? sug : "",
			    sug ? "'? " : "");
			free(up);
		}
	}
	if ((v = spec_opt(h, "body")) != NULL) {
		if (v->kind == SPEC_NODE_SCALAR)
			st->body = lr_xstrdup(v->str);
		else {
			json_t *j = spec_node_to_json(v);

			/* a mapping or list is sent as JSON */
			st->body = json_dumps(j, JSON_COMPACT |
			    JSON_ENCODE_ANY);
			json_decref(j);
		}
	}
	if ((v = spec_opt(h, "headers")) != NULL)
		st->headers = spec_get_strmap(p->diags, v, kw(p, it, "headers"),
		    false);
	if ((v = spec_opt(h, "expect_status")) != NULL &&
	    step_int(p, it, v, "expect_status", 100, 599,
	    &code) == 0)
		st->expect_status = (int)code;
	return p->diags->nerrors > nerr ? -1 : 0;
}

static int
parse_approval(struct pctx *p, struct item *it, const struct spec_node *key,
    const struct spec_node *a)
{
	struct spec_step *st = &it->step;
	const struct spec_node *g, *t;
	char what[512];

	if (p->phase != SPEC_PHASE_TASK) {
		spec_diag_hint(spec_diag_at(p->diags, key, "approval steps are "
		    "only allowed in tasks, not in %s", p_list(p)), "a role "
		    "converges unattended; ask for the approval in a task "
		    "under tasks/, see leura-spec(5), TASKS");
		return -1;
	}
	snprintf(what, sizeof(what), "'approval' of %s", label(p, it));
	if (!spec_check_map(p->diags, a, what, approval_keys, "STEPS"))
		return -1;
	if ((g = spec_require(p->diags, a, "groups", what)) == NULL ||
	    step_refs(p, it, g, "groups", &st->approvers,
	    &st->napprovers) < 0)
		return -1;
	if (st->napprovers == 0) {
		spec_diag_hint(spec_diag_at(p->diags, g, "%s names no groups",
		    what), "list the user groups that may approve, e.g. "
		    "groups: [sre-leads]");
		return -1;
	}
	if ((t = spec_opt(a, "timeout")) == NULL)
		return 0;
	snprintf(what, sizeof(what), "'timeout' of the approval of %s",
	    label(p, it));
	if (spec_get_duration(p->diags, t, what, &st->approval_timeout_ms) < 0)
		return -1;
	if (st->approval_timeout_ms == 0) {
		spec_diag_hint(spec_diag_at(p->diags, t, "%s must be longer "
		    "than 0", what), "give the time the run waits for a "
		    "decision, such as 1h, or remove it to wait until the run "
		    "is approved, rejected or cancelled");
		return -1;
	}
	return 0;
}

static int
parse_use(struct pctx *p, struct item *it, const struct spec_node *key,
    const struct spec_node *v)
{
	struct spec_step *st = &it->step;
	struct lr_err err = { 0 };
	struct spec_diag *dg;
	const struct spec_node *w;
	enum spec_ftype t;
	char *path, *real = NULL, **names;
	const char *s, *sug;
	size_t n, nerr = p->diags->nerrors;

	if (step_str(p, it, v, "use", &s) < 0)
		return -1;
	if (!spec_name_valid(s)) {
		spec_diag_hint(spec_diag_at(p->diags, v, "invalid step type "
		    "'%s' in %s", s, label(p, it)), "a step type is the name "
		    "of an executable in steps/: letters, digits, '-', '_', "
		    "'.'");
		return -1;
	}
	path = lr_xasprintf("steps/%s", s);
	if (spec_source_resolve(p->repo->src, path, &real, &t, &err) < 0) {
		spec_diag_hint(spec_diag_at(p->diags, v, "%s", err.msg),
		    "custom step types must be files inside the repo");
	} else if (t == SPEC_FT_NONE) {
		dg = spec_diag_at(p->diags, v, "custom step type '%s' not "
		    "found: the repo has no '%s'", s, path);
		sug = NULL;
		if (spec_source_list(p->repo->src, "steps", &names, &n,
		    &err) == 0) {
			if ((sug = lr_suggest(s, (const char *const *)names,
			    n)) != NULL)
				spec_diag_hint(dg, "did you mean '%s'? step "
				    "types are the executables in steps/",
				    sug);
			spec_strv_free(names, n);
		}
		if (sug == NULL)
			spec_diag_hint(dg, "add an executable %s (JSON on "
			    "stdin, JSON on stdout), see leura-spec(5), STEPS",
			    path);
	} else if (t != SPEC_FT_FILE) {
		spec_diag_hint(spec_diag_at(p->diags, v, "custom step type "
		    "'%s' is not a file: '%s'", s, path), "a step type is an "
		    "executable file in steps/");
	} else
		st->use = lr_xstrdup(s);
	free(real);
	free(path);
	if ((w = spec_opt(it->step.node, "with")) != NULL) {
		st->with = spec_get_object(p->diags, w, kw(p, it, "with"),
		    "STEPS");
	}
	return p->diags->nerrors > nerr ? -1 : 0;
}

static const struct kind kinds[] = {
	{ "script", SPEC_STEP_SCRIPT, script_keys, parse_script },
	{ "script_file", SPEC_STEP_SCRIPT, script_file_keys,
	    parse_script_file },
	{ "file", SPEC_STEP_FILE, file_step_keys, parse_file },
	{ "http", SPEC_STEP_HTTP, http_step_keys, parse_http },
	{ "approval", SPEC_STEP_APPROVAL, approval_step_keys, parse_approval },
	{ "use", SPEC_STEP_USE, use_step_keys, parse_use },
};
#define NKINDS	(sizeof(kinds) / sizeof(*kinds))

static const char *const kind_names[] = {
	"script", "script_file", "file", "http", "approval", "use"
};

static bool
in_list(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(s, *list) == 0)
			return true;
	return false;
}

/* ---- one step ---- */

static void
parse_common(struct pctx *p, struct item *it, const struct spec_node *n)
{
	struct spec_step *st = &it->step;
	const struct spec_node *v;
	int64_t iv;

	if (st->kind == SPEC_STEP_SCRIPT) {
		if ((v = spec_opt(n, "shell")) != NULL &&
		    step_dup(p, it, v, "shell", &st->interpreter) == 0 &&
		    st->interpreter[0] != '/')
			spec_diag_hint(spec_diag_at(p->diags, v, "'shell' of "
			    "%s must be an absolute path, not '%s'",
			    label(p, it), st->interpreter), "name the "
			    "interpreter by its full path, e.g. /bin/bash");
		if (st->interpreter == NULL)
			st->interpreter = lr_xstrdup("/bin/sh");
	}
	if ((v = spec_opt(n, "run_as")) != NULL)
		step_dup(p, it, v, "run_as", &st->run_as);
	if ((v = spec_opt(n, "timeout")) != NULL &&
	    step_duration(p, it, v, "timeout", &st->timeout_ms) == 0 &&
	    st->timeout_ms == 0) {
		spec_diag_hint(spec_diag_at(p->diags, v, "'timeout' of %s must "
		    "be longer than 0", label(p, it)), "remove it to use the "
		    "default from leura.yml, or give a duration such as 30s");
		st->timeout_ms = -1;
	}
	if ((v = spec_opt(n, "retries")) != NULL &&
	    step_int(p, it, v, "retries", 0, 100, &iv) == 0)
		st->retries = (int)iv;
	if ((v = spec_opt(n, "env")) != NULL)
		st->env = spec_get_strmap(p->diags, v, kw(p, it, "env"), true);
	if ((v = spec_opt(n, "cwd")) != NULL &&
	    step_dup(p, it, v, "cwd", &st->cwd) == 0 &&
	    !abs_or_template(st->cwd))
		spec_diag_hint(spec_diag_at(p->diags, v, "'cwd' of %s must be "
		    "an absolute path, not '%s'", label(p, it), st->cwd),
		    "write the full path of the directory on the host");
	if ((v = spec_opt(n, "creates")) != NULL &&
	    step_dup(p, it, v, "creates", &st->creates) == 0 &&
	    !abs_or_template(st->creates))
		spec_diag_hint(spec_diag_at(p->diags, v, "'creates' of %s must "
		    "be an absolute path, not '%s'", label(p, it),
		    st->creates), "the step is skipped when this path exists "
		    "on the host: write its full path");
	if ((v = spec_opt(n, "unless")) != NULL &&
	    step_dup(p, it, v, "unless", &st->unless) == 0 &&
	    is_blank(st->unless))
		spec_diag_hint(spec_diag_at(p->diags, v, "'unless' of %s is "
		    "empty", label(p, it)), "write a command: the step is "
		    "skipped when it exits 0");
	if ((v = spec_opt(n, "when_changed")) != NULL)
		step_refs(p, it, v, "when_changed", &st->when_changed,
		    &st->nwhen_changed);
	if ((v = spec_opt(n, "on_failure")) == NULL)
		return;
	if (p->phase != SPEC_PHASE_TASK)
		spec_diag_hint(spec_diag_at(p->diags, spec_node_key(n,
		    "on_failure"), "'on_failure' is only allowed in task "
		    "steps, not in %s", p_list(p)), "a role's converge stops at its "
		    "first failed step; remove 'on_failure'");
	else if (spec_get_on_failure(p->diags, v, kw(p, it, "on_failure"),
	    &st->on_failure) == 0)
		st->on_failure_node = v;
}

static void
parse_step(struct pctx *p, size_t idx, const struct spec_node *n,
    struct item *it)
{
	struct spec_step *st = &it->step;
	const struct spec_node *v, *kkey[2] = { NULL, NULL }, *kval = NULL;
	const struct kind *k = NULL;
	size_t i, j, nk = 0, nerr = p->diags->nerrors;
	bool typo = false;
	char *name;

	st->phase = p->phase;
	st->node = n;
	st->mode = -1;
	st->timeout_ms = -1;
	st->retries = -1;
	st->approval_timeout_ms = -1;
	it->index = idx;
	if (n->kind != SPEC_NODE_MAP) {
		spec_diag_hint(spec_diag_at(p->diags, n, "%s must be a "
		    "mapping, not %s", label(p, it), spec_node_describe(n)),
		    "write a step as a mapping with one of " KIND_LIST ", "
		    "see leura-spec(5), STEPS");
		return;
	}
	if ((v = spec_node_get(n, "name")) != NULL &&
	    step_dup(p, it, v, "name", &name) == 0) {
		if (is_blank(name)) {
			spec_diag_hint(spec_diag_at(p->diags, v, "'name' of %s "
			    "is empty", label(p, it)), "name the step, or "
			    "remove 'name' to have one made from its content");
			free(name);
		} else {
			/* from now on the step goes by its name */
			st->name = name;
			it->name_node = v;
			free(it->label);
			it->label = NULL;
		}
	}

	for (i = 0; i < n->n; i++) {
		for (j = 0; j < NKINDS; j++) {
			if (strcmp(n->keys[i]->str, kinds[j].key) != 0)
				continue;
			if (nk == 0) {
				k = &kinds[j];
				kval = n->vals[i];
			}
			if (nk < 2)
				kkey[nk] = n->keys[i];
			nk++;
		}
	}
	if (nk != 1) {
		spec_check_map(p->diags, n, label(p, it), all_step_keys,
		    "STEPS");
		for (i = 0; i < n->n && nk == 0; i++)
			if (!in_list(n->keys[i]->str, all_step_keys) &&
			    lr_suggest(n->keys[i]->str, kind_names, NKINDS))
				typo = true;	/* an unknown key: said */
		if (nk == 0 && !typo)
			spec_diag_hint(spec_diag_at(p->diags, n, "%s needs "
			    "exactly one of " KIND_LIST, label(p, it)), "add "
			    "'script:' with the command to run, or another "
			    "kind, see leura-spec(5), STEPS");
		else if (nk > 1)
			spec_diag_hint(spec_diag_at(p->diags, kkey[1], "%s "
			    "needs exactly one of " KIND_LIST ", not both '%s' "
			    "and '%s'", label(p, it), kkey[0]->str,
			    kkey[1]->str), "split it into two steps");
		return;
	}
	it->kinded = true;
	st->kind = k->kind;
	/* k->keys are some of all_step_keys: a step of only those is fine */
	if (!spec_map_has_only(n, k->keys)) {
		for (i = 0; i < n->n; i++) {
			const char *key = n->keys[i]->str;

			if (!in_list(key, all_step_keys) ||
			    in_list(key, k->keys))
				continue;
			spec_diag_hint(spec_diag_at(p->diags, n->keys[i],
			    "key '%s' of %s does not apply to %s steps", key,
			    label(p, it), k->key), "%s", strcmp(key, "with") ==
			    0 ? "'with' passes parameters to a 'use' step" :
			    "'shell' sets the interpreter of script and "
			    "script_file steps");
		}
		spec_check_map(p->diags, n, label(p, it), all_step_keys,
		    "STEPS");
	}
	k->parse(p, it, kkey[0], kval);
	parse_common(p, it, n);
	it->ok = p->diags->nerrors == nerr;
}

/* ---- a list of steps ---- */

/* First non-empty line, trimmed, blanks collapsed, cut at GEN_NAME_MAX. */
static char *
script_name(const char *s)
{
	struct lr_buf b = LR_BUF_INIT;
	size_t cut;

	lr_buf_adds(&b, "");
	for (; *s && b.len == 0; s += *s == '\n') {
		for (; *s && *s != '\n'; s++) {
			if (*s == ' ' || *s == '\t' || *s == '\r' ||
			    *s == '\f' || *s == '\v') {
				if (b.len && b.s[b.len - 1] != ' ')
					lr_buf_addc(&b, ' ');
			} else
				lr_buf_addc(&b, *s);
		}
		while (b.len && b.s[b.len - 1] == ' ')
			b.len--;
	}
	if (b.len > GEN_NAME_MAX) {
		/* never end inside a UTF-8 sequence */
		for (cut = GEN_NAME_MAX; cut > 0 &&
		    ((unsigned char)b.s[cut] & 0xc0) == 0x80; cut--)
			;
		b.len = cut;
		while (b.len && b.s[b.len - 1] == ' ')
			b.len--;
	}
	if (b.len == 0) {
		lr_buf_release(&b);
		return NULL;
	}
	b.s[b.len] = '\0';
	return lr_buf_detach(&b, NULL);
}

static char *
generated_name(const struct item *it)
{
	const struct spec_step *st = &it->step;
	const struct spec_node *v;

	if (!it->kinded)
		return NULL;
	switch (st->kind) {
	case SPEC_STEP_SCRIPT:
		if ((v = spec_node_get(st->node, "script_file")) != NULL)
			return spec_node_is_str(v) ?
			    lr_xasprintf("script_file %s", v->str) : NULL;
		return st->script ? script_name(st->script) : NULL;
	case SPEC_STEP_FILE:
		return st->dest ? lr_xasprintf("file %s", st->dest) : NULL;
	case SPEC_STEP_HTTP:
		return st->url && st->method ?
		    lr_xasprintf("%s %s", st->method, st->url) : NULL;
	case SPEC_STEP_USE:
		return st->use ? lr_xasprintf("use %s", st->use) : NULL;
	case SPEC_STEP_APPROVAL:
		return lr_xstrdup("approval");
	}
	return NULL;
}

/* Index of the step called name in the list, or -1 (names: name -> i). */
static json_int_t
name_index(json_t *names, const char *name)
{
	json_t *j = json_object_get(names, name);

	return j ? json_integer_value(j) : -1;
}

/*
 * Check explicit names for duplicates and give the unnamed steps their
 * names; fills names (name -> index of its first step), so this stays
 * linear on lists of thousands of identical unnamed steps.
 */
static void
check_names(struct pctx *p, struct item *items, size_t n, json_t *names)
{
	json_t *next = json_object();
	json_int_t j, k;
	char *base, *name;
	size_t i;

	for (i = 0; i < n; i++) {
		if (items[i].name_node == NULL)
			continue;
		if ((j = name_index(names, items[i].step.name)) < 0) {
			json_object_set_new_nocheck(names, items[i].step.name,
			    json_integer((json_int_t)i));
			continue;
		}
		spec_diag_hint(spec_diag_at(p->diags, items[i].name_node,
		    "duplicate step name '%s' in %s", items[i].step.name,
		    p_list(p)), "the first one is on line %d; names identify "
		    "steps in plans and in when_changed, so they must be "
		    "unique in a list", items[j].name_node->line);
		items[i].ok = false;
	}
	/* explicit names first, so a generated name never takes one */
	for (i = 0; i < n; i++) {
		if (items[i].step.name || (base = generated_name(&items[i])) ==
		    NULL)
			continue;
		name = lr_xstrdup(base);
		k = json_integer_value(json_object_get(next, base));
		for (k = k ? k : 2; name_index(names, name) >= 0; k++) {
			free(name);
			name = lr_xasprintf("%s #%lld", base, (long long)k);
		}
		json_object_set_new_nocheck(next, base, json_integer(k));
		json_object_set_new_nocheck(names, name,
		    json_integer((json_int_t)i));
		free(base);
		items[i].step.name = name;
		items[i].step.name_generated = true;
	}
	json_decref(next);
}

static void
check_when_changed(struct pctx *p, struct item *items, size_t n,
    json_t *names)
{
	const struct spec_ref *r;
	const char **earlier;
	struct spec_diag *dg;
	const char *sug;
	json_int_t j;
	size_t i, k, ne;

	earlier = lr_xmalloc((n ? n : 1) * sizeof(*earlier));
	for (i = 0, ne = 0; i < n; i++) {
		for (k = 0; k < items[i].step.nwhen_changed; k++) {
			r = &items[i].step.when_changed[k];
			if ((j = name_index(names, r->name)) >= 0 &&
			    (size_t)j < i)
				continue;
			items[i].ok = false;
			if (j >= 0 && (size_t)j == i) {
				spec_diag_hint(spec_diag_at(p->diags, r->node,
				    "%s names itself in 'when_changed'",
				    label(p, &items[i])), "when_changed lists "
				    "earlier steps whose changes trigger this "
				    "one");
			} else if (j >= 0) {
				spec_diag_hint(spec_diag_at(p->diags, r->node,
				    "'when_changed' of %s names step '%s', "
				    "which comes after it", label(p, &items[i]),
				    r->name), "a step can only react to "
				    "earlier steps: move '%s' above it",
				    r->name);
			} else {
				dg = spec_diag_at(p->diags, r->node,
				    "'when_changed' of %s names unknown step "
				    "'%s'", label(p, &items[i]), r->name);
				if ((sug = lr_suggest(r->name, earlier, ne)))
					spec_diag_hint(dg, "did you mean '%s'? "
					    "when_changed names an earlier "
					    "step of %s", sug, p_list(p));
				else
					spec_diag_hint(dg, "when_changed names "
					    "an earlier step of %s", p_list(p));
			}
		}
		if (items[i].step.name)
			earlier[ne++] = items[i].step.name;
	}
	free(earlier);
}

/*
 * Parse seq (a list of steps, or null for none), the value of p->key (or
 * of "steps" in a task), into a new array of the valid steps.
 */
static void
parse_steps(struct pctx *p, const struct spec_node *seq,
    struct spec_step **out, size_t *nout)
{
	struct item *items;
	struct spec_step *v;
	json_t *names;
	size_t i, n, nv = 0;

	*out = NULL;
	*nout = 0;
	if (spec_node_is_null(seq))
		return;
	if (seq->kind != SPEC_NODE_SEQ) {
		spec_diag_hint(spec_diag_at(p->diags, seq, "'%s' of %s must be "
		    "a list of steps, not %s", p->key ? p->key : "steps",
		    p_owner(p), spec_node_describe(seq)), "start each step "
		    "with '- ', see leura-spec(5), STEPS");
		return;
	}
	n = seq->n;
	if (n == 0)
		return;
	items = lr_xcalloc(n, sizeof(*items));
	for (i = 0; i < n; i++)
		parse_step(p, i, seq->vals[i], &items[i]);
	names = json_object();
	check_names(p, items, n, names);
	check_when_changed(p, items, n, names);
	json_decref(names);
	v = lr_xcalloc(n, sizeof(*v));
	for (i = 0; i < n; i++) {
		if (items[i].ok)
			v[nv++] = items[i].step;
		else
			spec_step_release(&items[i].step);
		free(items[i].label);
	}
	free(items);
	if (nv == 0) {
		free(v);
		v = NULL;
	}
	*out = v;
	*nout = nv;
}

void
spec_load_task_steps(struct spec_repo *repo, const char *name,
    const struct spec_node *seq, struct spec_step **out, size_t *nout,
    struct spec_diags *diags)
{
	struct pctx p;

	memset(&p, 0, sizeof(p));
	p.repo = repo;
	p.diags = diags;
	p.kind = "task";
	p.name = name;
	p.dir = "tasks";
	p_set_list(&p, NULL, SPEC_PHASE_TASK);
	parse_steps(&p, seq, out, nout);
	p_release(&p);
}

/* ---- roles ---- */

static const struct {
	const char *key;
	enum spec_phase phase;
} role_lists[] = {
	{ "converge", SPEC_PHASE_CONVERGE },
	{ "validate", SPEC_PHASE_VALIDATE },
	{ "turndown", SPEC_PHASE_TURNDOWN },
};

void
spec_load_role(struct spec_repo *repo, const char *name,
    const struct spec_node *root, struct spec_diags *diags)
{
	struct spec_role *r;
	struct pctx p;
	const struct spec_node *v;
	struct spec_step **lists[3];
	size_t *nlists[3], i;
	char *path, *what;

	if (!spec_name_valid(name)) {
		path = lr_xasprintf("roles/%s/role.yml", name);
		spec_diag_hint(spec_diag_pos(diags, NULL, path, 0, 0, 1,
		    "invalid role name '%s'", name), "rename the directory "
		    "roles/%s: role names use letters, digits, '-', '_' and "
		    "'.'", name);
		free(path);
	}
	r = SPEC_PUSH(repo->roles, repo->nroles);
	r->name = lr_xstrdup(name);
	r->dir = lr_xasprintf("roles/%s", name);
	r->node = root;
	memset(&p, 0, sizeof(p));
	p.repo = repo;
	p.diags = diags;
	p.kind = "role";
	p.name = name;
	p.dir = r->dir;
	if (root == NULL || (!spec_map_has_only(root, role_keys) &&
	    !spec_check_map(diags, root, p_owner(&p), role_keys, "ROLES"))) {
		r->params = json_object();
		p_release(&p);
		return;
	}
	if ((v = spec_opt(root, "description")) != NULL) {
		if (spec_node_is_str(v))
			r->description = lr_xstrdup(v->str);
		else {
			what = lr_xasprintf("'description' of %s",
			    p_owner(&p));
			spec_dup_str(diags, v, what, &r->description);
			free(what);
		}
	}
	/* spec_get_object(), naming the params only when they are wrong */
	v = spec_node_get(root, "params");
	if (spec_node_is_null(v))
		r->params = json_object();
	else if (v->kind == SPEC_NODE_MAP)
		r->params = spec_node_to_json(v);
	else {
		what = lr_xasprintf("'params' of %s", p_owner(&p));
		if ((r->params = spec_get_object(diags, v, what,
		    "ROLES")) == NULL)
			r->params = json_object();
		free(what);
	}

	lists[0] = &r->converge, nlists[0] = &r->nconverge;
	lists[1] = &r->validate, nlists[1] = &r->nvalidate;
	lists[2] = &r->turndown, nlists[2] = &r->nturndown;
	for (i = 0; i < 3; i++) {
		p_set_list(&p, role_lists[i].key, role_lists[i].phase);
		parse_steps(&p, spec_node_get(root, role_lists[i].key),
		    lists[i], nlists[i]);
	}
	p_release(&p);
}

/* ---- release ---- */

void
spec_step_release(struct spec_step *st)
{
	if (st == NULL)
		return;
	free(st->name);
	free(st->script);
	free(st->script_file);
	free(st->interpreter);
	free(st->src);
	free(st->content);
	free(st->dest);
	free(st->owner);
	free(st->group);
	free(st->validate);
	free(st->url);
	free(st->method);
	free(st->body);
	json_decref(st->headers);
	spec_refs_free(st->approvers, st->napprovers);
	free(st->use);
	json_decref(st->with);
	free(st->run_as);
	json_decref(st->env);
	free(st->cwd);
	free(st->creates);
	free(st->unless);
	spec_refs_free(st->when_changed, st->nwhen_changed);
	memset(st, 0, sizeof(*st));
}

void
spec_steps_free(struct spec_step *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		spec_step_release(&v[i]);
	free(v);
}

void
spec_role_release(struct spec_role *r)
{
	if (r == NULL)
		return;
	free(r->name);
	free(r->dir);
	free(r->description);
	json_decref(r->params);
	spec_steps_free(r->converge, r->nconverge);
	spec_steps_free(r->validate, r->nvalidate);
	spec_steps_free(r->turndown, r->nturndown);
	memset(r, 0, sizeof(*r));
}

