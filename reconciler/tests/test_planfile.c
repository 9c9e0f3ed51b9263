/*
 * Unit tests of saved plans: rec_plan_digest (deploy.c) and the file's
 * codec (planfile.c), with no etcd and no git.  The digest of a plan that
 * writes nothing must not depend on whether it was compiled (plan always
 * compiles; apply takes the same-tree shortcut), and must change with any
 * document written; a saved plan survives its round trip, is 0600, and
 * each damage is refused with its own error.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "deploy.h"
#include "planfile.h"

#define C1	"1111111111111111111111111111111111111111"
#define T1	"2222222222222222222222222222222222222222"

static json_t *
J(const char *s)
{
	json_error_t e;
	json_t *v = json_loads(s, 0, &e);

	if (v == NULL) {
		fprintf(stderr, "bad test JSON: %s: %s\n", e.text, s);
		fail();
	}
	return v;
}

/* The digest of a plan with these changes and docs (JSON text). */
static void
digest_of(const char *changes, const char *docs, const char *commit,
    char out[REC_PLAN_DIGEST_LEN + 1])
{
	struct rec_plan p;

	memset(&p, 0, sizeof(p));
	p.changes = changes ? J(changes) : NULL;
	p.docs = docs ? J(docs) : NULL;
	rec_plan_digest(&p, commit, T1, out);
	json_decref(p.changes);
	json_decref(p.docs);
}

static void
test_rec_plan_digest__nothing_to_write_compiled_or_not(void **state)
{
	char a[REC_PLAN_DIGEST_LEN + 1], b[REC_PLAN_DIGEST_LEN + 1];

	(void)state;
	digest_of(NULL, NULL, C1, a);
	digest_of("{\"changed\":[],\"removed\":[]}",
	    "{\"web1\":{\"sha256\":\"aa\"}}", C1, b);
	assert_string_equal(a, b);
	assert_int_equal(strlen(a), REC_PLAN_DIGEST_LEN);
	assert_memory_equal(a, "sha256:", 7);
	/* another commit is another plan */
	digest_of(NULL, NULL, "3333333333333333333333333333333333333333", b);
	assert_string_not_equal(a, b);
}

static void
test_rec_plan_digest__changes_with_what_is_written(void **state)
{
	char a[REC_PLAN_DIGEST_LEN + 1], b[REC_PLAN_DIGEST_LEN + 1];

	(void)state;
	digest_of("{\"changed\":[\"web1\"],\"removed\":[]}",
	    "{\"web1\":{\"sha256\":\"aa\"}}", C1, a);
	digest_of("{\"changed\":[\"web1\"],\"removed\":[]}",
	    "{\"web1\":{\"sha256\":\"aa\"}}", C1, b);
	assert_string_equal(a, b);
	digest_of("{\"changed\":[\"web1\"],\"removed\":[]}",
	    "{\"web1\":{\"sha256\":\"ab\"}}", C1, b);
	assert_string_not_equal(a, b);
	digest_of("{\"changed\":[\"web1\"],\"removed\":[\"db2\"]}",
	    "{\"web1\":{\"sha256\":\"aa\"}}", C1, b);
	assert_string_not_equal(a, b);
	digest_of("{\"changed\":[],\"removed\":[]}",
	    "{\"web1\":{\"sha256\":\"aa\"}}", C1, b);
	assert_string_not_equal(a, b);
}

/* A saved plan in dir/name; the caller frees the path. */
static char *
saved(const char *dir, const char *name, const char *digest)
{
	struct rec_planfile_info in = { 0 };
	struct lr_err err = { 0 };
	json_t *doc, *unc = json_array(), *plan = J("{\"changes\":0}");
	char *path;

	if (asprintf(&path, "%s/%s", dir, name) < 0)
		fail();
	in.commit = C1;
	in.ref = "HEAD";
	in.tree = T1;
	in.path = "";
	in.fleet = "shop";
	in.prefix = "/leura";
	in.digest = digest;
	in.revision = 40;
	in.plan = plan;
	in.uncommitted = unc;
	doc = rec_planfile_encode(&in);
	assert_int_equal(rec_planfile_save(path, doc, &err), 0);
	json_decref(doc);
	json_decref(unc);
	json_decref(plan);
	return path;
}

/* Write text to dir/name and return the error of loading it. */
static int
load_text(const char *dir, const char *name, const char *text,
    struct lr_err *err)
{
	struct rec_planfile pf;
	char *path;
	FILE *f;
	int rc;

	if (asprintf(&path, "%s/%s", dir, name) < 0)
		fail();
	assert_non_null(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
	memset(err, 0, sizeof(*err));
	rc = rec_planfile_load(path, &pf, err);
	rec_planfile_release(&pf);
	free(path);
	return rc;
}

static void
test_rec_planfile__round_trip_and_damage(void **state)
{
	char dir[] = "/tmp/leura-planfile.XXXXXX";
	char digest[REC_PLAN_DIGEST_LEN + 1];
	struct rec_planfile pf;
	struct lr_err err = { 0 };
	struct stat st;
	char *path, *text, *bad;
	const char *fields[] = { "commit", "tree", "ref", "path", "prefix",
		"digest", "leura", "revision", "writes" };
	json_t *doc;
	size_t i;

	(void)state;
	assert_non_null(mkdtemp(dir));
	digest_of(NULL, NULL, C1, digest);
	path = saved(dir, "plan.json", digest);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(rec_planfile_load(path, &pf, &err), 0);
	assert_string_equal(pf.commit, C1);
	assert_string_equal(pf.tree, T1);
	assert_string_equal(pf.prefix, "/leura");
	assert_string_equal(pf.fleet, "shop");
	assert_string_equal(pf.digest, digest);
	assert_int_equal(pf.revision, 40);
	doc = json_incref(pf.doc);
	rec_planfile_release(&pf);

	/* each field missing: refused, naming it */
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		json_t *d = json_deep_copy(doc);

		json_object_del(d, fields[i]);
		text = json_dumps(d, 0);
		assert_int_equal(load_text(dir, "bad.json", text, &err),
		    LR_EINVAL);
		assert_non_null(strstr(err.msg, "is damaged"));
		assert_non_null(strstr(err.msg, fields[i]));
		assert_true(err.hint[0] != '\0');
		free(text);
		json_decref(d);
	}
	assert_int_equal(load_text(dir, "bad.json", "", &err), LR_EINVAL);
	assert_non_null(strstr(err.msg, "the file is empty"));
	assert_int_equal(load_text(dir, "bad.json", "{\"format\": \"leura-p",
	    &err), LR_EINVAL);
	assert_non_null(strstr(err.msg, "cut short"));
	assert_int_equal(load_text(dir, "bad.json", "{\"format\": \"x\"}",
	    &err), LR_EINVAL);
	assert_non_null(strstr(err.msg, "is not a saved plan"));
	assert_int_equal(load_text(dir, "bad.json", "{\"format\": "
	    "\"leura-plan\", \"version\": 7}", &err), LR_EINVAL);
	assert_non_null(strstr(err.msg, "format version 7"));
	/* a key twice: refused, not the last one silently taken */
	text = json_dumps(doc, 0);
	if (asprintf(&bad, "{\"commit\": \"%s\", %s", C1, text + 1) < 0)
		fail();
	assert_int_equal(load_text(dir, "bad.json", bad, &err), LR_EINVAL);
	free(bad);
	free(text);
	json_decref(doc);
	unlink(path);
	free(path);
	if (asprintf(&path, "%s/bad.json", dir) < 0)
		fail();
	unlink(path);
	free(path);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_rec_plan_digest__nothing_to_write_compiled_or_not),
		cmocka_unit_test(
		    test_rec_plan_digest__changes_with_what_is_written),
		cmocka_unit_test(test_rec_planfile__round_trip_and_damage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
