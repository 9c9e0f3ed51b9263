/*
 * planfile: saved plans (planfile.h).
 *
 * The file is written and read here only: `leura plan -o` encodes what
 * its plan saw, `leura apply FILE` loads it, checks each field before
 * trusting it (the file may be truncated, edited, or another tool's
 * JSON), and compares it with its own plan of the same commit.  Every
 * refusal says what moved and that a new plan is the way on.
 */
#include <ctype.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "file.h"
#include "planfile.h"
#include "xalloc.h"

#define REPLAN	"make a new plan with 'leura plan -o FILE', review it, " \
		"and apply that"

json_t *
rec_planfile_encode(const struct rec_planfile_info *in)
{
	char at[LR_TIME_ISO_LEN];

	lr_time_iso_now(at);
	return json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:s*, s:s, "
	    "s:I, s:O?, s:s, s:I, s:s, s:O?, s:O?}",
	    "format", REC_PLANFILE_FORMAT, "version", REC_PLANFILE_VERSION,
	    "commit", in->commit, "ref", in->ref, "tree", in->tree,
	    "path", in->path ? in->path : "", "prefix", in->prefix,
	    "fleet", in->fleet, "digest", in->digest,
	    "revision", (json_int_t)in->revision, "from", in->from,
	    "leura", LEURA_VERSION, "writes", (json_int_t)in->writes,
	    "created", at,
	    "uncommitted", in->uncommitted, "plan", in->plan);
}

int
rec_planfile_save(const char *file, const json_t *doc, struct lr_err *err)
{
	char *a = lr_xstrdup(file), *b = lr_xstrdup(file), *s;
	int rc;

	s = json_dumps(doc, JSON_INDENT(1) | JSON_SORT_KEYS);
	if (s == NULL)
		LR_BUG("cannot encode the saved plan");
	rc = lr_file_replace(dirname(a), basename(b), s, strlen(s), 0600, 0,
	    err);
	if (rc < 0)
		lr_err_hint(err, "check that the folder of '%s' exists and "
		    "that you may write to it", file);
	free(s);
	free(a);
	free(b);
	return rc;
}

/* Whether s is n lowercase hex digits. */
static bool
is_hex(const char *s, size_t n)
{
	size_t i;

	if (s == NULL || strlen(s) != n)
		return false;
	for (i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]) ||
		    isupper((unsigned char)s[i]))
			return false;
	return true;
}

static int
damaged(const char *file, const char *what, struct lr_err *err)
{
	lr_err_set(err, LR_EINVAL, "the saved plan '%s' is damaged: %s",
	    file, what);
	return lr_err_hint(err, "%s", REPLAN);
}

/* The string field k of o, or NULL when absent or not a string. */
static const char *
str(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

int
rec_planfile_load(const char *file, struct rec_planfile *out,
    struct lr_err *err)
{
	struct rec_planfile pf = { 0 };
	json_error_t je;
	json_t *v;
	char *buf = NULL;
	size_t len;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = lr_read_file(file, REC_PLANFILE_MAX, &buf, &len,
	    err)) < 0) {
		lr_err_hint(err, "give the file 'leura plan -o FILE' wrote");
		return rc;
	}
	pf.doc = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	free(buf);
	if (pf.doc == NULL) {
		lr_err_set(err, LR_EINVAL, "'%s' is not a saved plan: not JSON "
		    "(line %d: %s)%s", file, je.line, je.text, len == 0 ?
		    ", the file is empty" : strstr(je.text, "end of") ?
		    ", the file looks cut short" : "");
		return lr_err_hint(err, "give the file 'leura plan -o FILE' "
		    "wrote; %s", REPLAN);
	}
	if (!json_is_object(pf.doc) || (v = json_object_get(pf.doc,
	    "format")) == NULL || !json_is_string(v) || strcmp(
	    json_string_value(v), REC_PLANFILE_FORMAT) != 0) {
		lr_err_set(err, LR_EINVAL, "'%s' is not a saved plan: JSON "
		    "without \"format\": \"%s\"", file, REC_PLANFILE_FORMAT);
		rc = lr_err_hint(err, "give the file 'leura plan -o FILE' "
		    "wrote ('leura plan --json' prints a plan to read, not "
		    "to apply)");
		goto fail;
	}
	v = json_object_get(pf.doc, "version");
	if (!json_is_integer(v)) {
		rc = damaged(file, "\"version\" is not a number", err);
		goto fail;
	}
	if (json_integer_value(v) != REC_PLANFILE_VERSION) {
		lr_err_set(err, LR_EINVAL, "the saved plan '%s' has format "
		    "version %lld, and this leura (%s) reads version %d",
		    file, (long long)json_integer_value(v), LEURA_VERSION,
		    REC_PLANFILE_VERSION);
		rc = lr_err_hint(err, "apply it with the leura that made it "
		    "(%s), or %s", str(pf.doc, "leura") ? str(pf.doc,
		    "leura") : "see its \"leura\"", REPLAN);
		goto fail;
	}
	pf.commit = str(pf.doc, "commit");
	pf.tree = str(pf.doc, "tree");
	pf.ref = str(pf.doc, "ref");
	pf.path = str(pf.doc, "path");
	pf.prefix = str(pf.doc, "prefix");
	pf.digest = str(pf.doc, "digest");
	pf.leura = str(pf.doc, "leura");
	pf.fleet = str(pf.doc, "fleet");
	v = json_object_get(pf.doc, "revision");
	if (!is_hex(pf.commit, 40))
		rc = damaged(file, "\"commit\" is not a commit id", err);
	else if (!is_hex(pf.tree, 40))
		rc = damaged(file, "\"tree\" is not a tree id", err);
	else if (pf.ref == NULL || *pf.ref == '\0')
		rc = damaged(file, "\"ref\" is missing", err);
	else if (pf.path == NULL)
		rc = damaged(file, "\"path\" is missing", err);
	else if (pf.prefix == NULL || pf.prefix[0] != '/')
		rc = damaged(file, "\"prefix\" is not a key prefix", err);
	else if (pf.digest == NULL || strncmp(pf.digest, "sha256:", 7) != 0 ||
	    !is_hex(pf.digest + 7, 64))
		rc = damaged(file, "\"digest\" is not \"sha256:\" and 64 hex "
		    "digits", err);
	else if (pf.leura == NULL)
		rc = damaged(file, "\"leura\" (the version that made it) is "
		    "missing", err);
	else if (!json_is_integer(v) || json_integer_value(v) < 0)
		rc = damaged(file, "\"revision\" is not a revision number",
		    err);
	else if (!json_is_integer(json_object_get(pf.doc, "writes")))
		rc = damaged(file, "\"writes\" is not a number", err);
	if (rc < 0)
		goto fail;
	pf.revision = json_integer_value(v);
	pf.writes = json_integer_value(json_object_get(pf.doc, "writes"));
	*out = pf;
	return 0;
fail:
	json_decref(pf.doc);
	return rc;
}

void
rec_planfile_release(struct rec_planfile *pf)
{
	json_decref(pf->doc);
	memset(pf, 0, sizeof(*pf));
}

int
rec_planfile_check(const struct rec_planfile *pf, const char *file,
    const struct rec_git *g, const char *prefix, struct lr_err *err)
{
	struct gitsrc_commit c = { 0 };
	struct lr_err e2;
	const char *path = g->subdir ? g->subdir : "";

	if (strcmp(pf->leura, LEURA_VERSION) != 0) {
		lr_err_set(err, LR_ECONFLICT, "the saved plan '%s' was made by "
		    "leura %s, this is leura %s: what it compiles may differ",
		    file, pf->leura, LEURA_VERSION);
		return lr_err_hint(err, "%s", REPLAN);
	}
	if (strcmp(pf->prefix, prefix) != 0) {
		lr_err_set(err, LR_ECONFLICT, "the saved plan '%s' is for the "
		    "etcd prefix '%s', and this apply writes under '%s'", file,
		    pf->prefix, prefix);
		return lr_err_hint(err, "apply it with the etcd settings of "
		    "the plan (LEURA_ETCD_PREFIX=%s), or %s", pf->prefix,
		    REPLAN);
	}
	if (strcmp(pf->path, path) != 0) {
		lr_err_set(err, LR_ECONFLICT, "the saved plan '%s' is of the "
		    "config repo in folder '%s' of its git repository, and "
		    "-C '%s' is folder '%s'", file, pf->path, g->dir, path);
		return lr_err_hint(err, "apply it with -C naming the folder "
		    "the plan was made in, or %s", REPLAN);
	}
	lr_err_clear(&e2);
	if (gitsrc_describe(g->repo, pf->commit, &c, &e2) < 0) {
		lr_err_set(err, LR_EINVAL, "the saved plan '%s' is of commit "
		    "%.12s, which is not in the git repository of '%s' (%s)",
		    file, pf->commit, g->dir, e2.msg);
		return lr_err_hint(err, "apply it in the repository it was "
		    "made in (-C DIR), or fetch that commit (git fetch)");
	}
	gitsrc_commit_release(&c);
	return 0;
}

int
rec_planfile_check_digest(const struct rec_planfile *pf, const char *file,
    const struct rec_deploy *d, struct lr_err *err)
{
	if (strcmp(pf->tree, d->tree) != 0) {
		lr_err_set(err, LR_ECONFLICT, "the saved plan '%s' is of tree "
		    "%.12s, and commit %.12s now has tree %.12s", file,
		    pf->tree, d->commit.id, d->tree);
		return lr_err_hint(err, "%s", REPLAN);
	}
	if (strcmp(pf->digest, d->digest) == 0)
		return 0;
	lr_err_set(err, LR_ECONFLICT, "what commit %.12s would write now "
	    "(digest %.19s...) is not what the saved plan '%s' would write "
	    "(%.19s...): the documents in etcd changed since the plan",
	    d->commit.id, d->digest, file, pf->digest);
	return lr_err_hint(err, "%s", REPLAN);
}
