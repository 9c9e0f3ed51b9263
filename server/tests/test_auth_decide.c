/*
 * auth_decide as a table: one snapshot of users, groups and grants (as
 * etcd would hold them under P/auth/), and rows of (user, token scopes,
 * verb, resource) -> allowed, with a word the reason must contain.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "auth-int.h"

static const char *fixture =
"{"
" \"users/root\": {\"rev\": 2, \"doc\": {\"name\": \"root\"}},"
" \"users/alice\": {\"rev\": 3, \"doc\": {\"name\": \"alice\","
"   \"created_by\": \"root\"}},"
" \"users/bob\": {\"rev\": 4, \"doc\": {\"name\": \"bob\","
"   \"created_by\": \"alice\"}},"
" \"users/carol\": {\"rev\": 5, \"doc\": {\"name\": \"carol\","
"   \"created_by\": \"root\"}},"
" \"users/dave\": {\"rev\": 6, \"doc\": {\"name\": \"dave\","
"   \"disabled\": true, \"created_by\": \"root\"}},"
" \"users/erin\": {\"rev\": 7, \"doc\": {\"name\": \"erin\","
"   \"created_by\": \"bob\"}},"
" \"users/nogrants\": {\"rev\": 8, \"doc\": {\"name\": \"nogrants\"}},"
/* frank was deleted and made again: the new one (uid f2) owns nothing of
   the old one's (f1); gina (uid g1) owns what she made */
" \"users/frank\": {\"rev\": 21, \"doc\": {\"name\": \"frank\","
"   \"uid\": \"f2\", \"created_by\": \"root\"}},"
" \"users/gina\": {\"rev\": 22, \"doc\": {\"name\": \"gina\","
"   \"uid\": \"g1\", \"created_by\": \"root\"}},"
" \"users/hal\": {\"rev\": 23, \"doc\": {\"name\": \"hal\","
"   \"uid\": \"h1\", \"created_by\": \"frank\","
"   \"created_by_uid\": \"f1\"}},"
" \"groups/web\": {\"rev\": 24, \"doc\": {\"name\": \"web\","
"   \"members\": [], \"created_by\": \"frank\"}},"
" \"groups/gina-team\": {\"rev\": 25, \"doc\": {\"name\": \"gina-team\","
"   \"members\": [], \"created_by\": \"gina\","
"   \"created_by_uid\": \"g1\"}},"
" \"groups/ops\": {\"rev\": 9, \"doc\": {\"name\": \"ops\","
"   \"members\": [\"carol\", \"dave\"], \"created_by\": \"alice\"}},"
" \"groups/dba\": {\"rev\": 10, \"doc\": {\"name\": \"dba\","
"   \"members\": [\"erin\"], \"created_by\": \"root\"}},"
" \"grants/g1\": {\"rev\": 11, \"doc\": {\"id\": \"g1\","
"   \"subject\": \"user:root\", \"verb\": \"admin\", \"resource\": \"*\"}},"
" \"grants/g2\": {\"rev\": 12, \"doc\": {\"id\": \"g2\","
"   \"subject\": \"user:bob\", \"verb\": \"read\","
"   \"resource\": \"services/web\"}},"
" \"grants/g3\": {\"rev\": 13, \"doc\": {\"id\": \"g3\","
"   \"subject\": \"group:ops\", \"verb\": \"apply\","
"   \"resource\": \"services/*\", \"created_by\": \"alice\"}},"
" \"grants/g4\": {\"rev\": 14, \"doc\": {\"id\": \"g4\","
"   \"subject\": \"group:dba\", \"verb\": \"approve\","
"   \"resource\": \"hosts/db*\"}},"
" \"grants/g5\": {\"rev\": 15, \"doc\": {\"id\": \"g5\","
"   \"subject\": \"user:alice\", \"verb\": \"admin\","
"   \"resource\": \"services/web\"}},"
" \"grants/g6\": {\"rev\": 16, \"doc\": {\"id\": \"g6\","
"   \"subject\": \"user:dave\", \"verb\": \"admin\", \"resource\": \"*\"}},"
" \"grants/g7\": {\"rev\": 17, \"doc\": {\"id\": \"g7\","
"   \"subject\": \"user:bob\", \"verb\": \"run\","
"   \"resource\": \"tasks/flush-*\"}},"
" \"grants/g8\": {\"rev\": 18, \"doc\": {\"id\": \"g8\","
"   \"subject\": \"group:ghost\", \"verb\": \"admin\", \"resource\": \"*\"}},"
" \"grants/g9\": {\"rev\": 19, \"doc\": {\"id\": \"g9\","
"   \"subject\": \"user:erin\", \"verb\": \"admin\","
"   \"resource\": \"users/*\"}},"
" \"tokens/" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
"\": {\"rev\": 20, \"doc\": {\"id\": \"t1\", \"user\": \"bob\","
"   \"kind\": \"api\", \"scopes\": [\"read\"], \"expires\": 1}}"
"}";

#define ALL	AUTH_SCOPES_ALL
#define R	(1u << AUTH_READ)
#define RUN	(1u << AUTH_RUN)
#define AP	(1u << AUTH_APPLY)

struct row {
	const char	*user;
	unsigned	 scopes;
	enum auth_verb	 verb;
	const char	*resource;
	bool		 allowed;
	const char	*reason;	/* a word the reason contains */
};

static const struct row rows[] = {
	/* admin on "*" is everything */
	{ "root", ALL, AUTH_ADMIN, "services/web", true, "g1" },
	{ "root", ALL, AUTH_READ, "events", true, "g1" },
	{ "root", ALL, AUTH_ADMIN, "fleet", true, "g1" },
	{ "root", ALL, AUTH_APPROVE, "hosts/anything", true, "g1" },
	{ "root", ALL, AUTH_ADMIN, "users/alice", true, "g1" },
	/* verbs imply the lower ones, not the higher */
	{ "bob", ALL, AUTH_READ, "services/web", true, "g2" },
	{ "bob", ALL, AUTH_RUN, "services/web", false, "g2" },
	{ "bob", ALL, AUTH_APPLY, "services/web", false, "nearest" },
	{ "alice", ALL, AUTH_APPLY, "services/web", true, "g5" },
	{ "alice", ALL, AUTH_READ, "services/web", true, "g5" },
	{ "alice", ALL, AUTH_READ, "services/api", false, "no grant" },
	/* exact resource does not match others */
	{ "bob", ALL, AUTH_READ, "services/webx", false, "no grant" },
	{ "bob", ALL, AUTH_READ, "services/we", false, "no grant" },
	{ "bob", ALL, AUTH_READ, "services", false, "no grant" },
	/* group grants, glob within a segment */
	{ "carol", ALL, AUTH_APPLY, "services/api", true, "via group ops" },
	{ "carol", ALL, AUTH_READ, "services/web", true, "g3" },
	{ "carol", ALL, AUTH_APPROVE, "services/web", false, "g3" },
	{ "carol", ALL, AUTH_APPLY, "services/web/x", false, "no grant" },
	{ "carol", ALL, AUTH_APPLY, "hosts/web", false, "no grant" },
	{ "erin", ALL, AUTH_APPROVE, "hosts/db1", true, "via group dba" },
	{ "erin", ALL, AUTH_APPROVE, "hosts/db", true, "g4" },
	{ "erin", ALL, AUTH_APPROVE, "hosts/db1/x", false, "no grant" },
	{ "erin", ALL, AUTH_READ, "services/db1", false, "no grant" },
	{ "erin", ALL, AUTH_APPROVE, "hosts/xdb1", false, "no grant" },
	{ "erin", ALL, AUTH_ADMIN, "hosts/db1", false, "nearest" },
	{ "bob", ALL, AUTH_RUN, "tasks/flush-cache", true, "g7" },
	{ "bob", ALL, AUTH_RUN, "tasks/flush-", true, "g7" },
	{ "bob", ALL, AUTH_RUN, "tasks/flush", false, "no grant" },
	{ "bob", ALL, AUTH_APPLY, "tasks/flush-cache", false, "g7" },
	/* disabled users get nothing, not even through admin on "*" */
	{ "dave", ALL, AUTH_READ, "services/web", false, "disabled" },
	{ "dave", ALL, AUTH_ADMIN, "fleet", false, "disabled" },
	/* unknown users, and a grant to a group that does not exist */
	{ "mallory", ALL, AUTH_READ, "services/web", false, "does not exist" },
	{ "nogrants", ALL, AUTH_READ, "services/web", false, "no grants" },
	{ "nogrants", ALL, AUTH_READ, "fleet", false, "no grant" },
	/* token scopes narrow, never widen */
	{ "root", R, AUTH_READ, "services/web", true, "g1" },
	{ "root", R, AUTH_APPLY, "services/web", false, "scopes" },
	{ "root", AP, AUTH_RUN, "services/web", true, "g1" },
	{ "root", RUN, AUTH_APPLY, "services/web", false, "scopes" },
	{ "bob", AP, AUTH_APPLY, "services/web", false, "no grant" },
	{ "bob", 0, AUTH_READ, "services/web", false, "scopes" },
	/* owner rule: the creator manages what they created */
	{ "alice", ALL, AUTH_ADMIN, "users/bob", true, "owner" },
	{ "alice", ALL, AUTH_ADMIN, "groups/ops", true, "owner" },
	{ "alice", ALL, AUTH_ADMIN, "grants/g3", true, "owner" },
	/* ...the same user, not a new one under a deleted one's name */
	{ "frank", ALL, AUTH_ADMIN, "users/hal", false, "" },
	{ "frank", ALL, AUTH_ADMIN, "groups/web", false, "" },
	{ "gina", ALL, AUTH_ADMIN, "groups/gina-team", true, "owner" },
	{ "alice", ALL, AUTH_ADMIN, "users/carol", false, "no grant" },
	{ "bob", ALL, AUTH_ADMIN, "users/erin", true, "owner" },
	{ "bob", R, AUTH_ADMIN, "users/erin", false, "scopes" },
	/* self, membership and subject rules are read only */
	{ "bob", ALL, AUTH_READ, "users/bob", true, "you" },
	{ "bob", ALL, AUTH_ADMIN, "users/bob", false, "no grant" },
	{ "carol", ALL, AUTH_READ, "groups/ops", true, "member" },
	{ "carol", ALL, AUTH_ADMIN, "groups/ops", false, "no grant" },
	{ "bob", ALL, AUTH_READ, "grants/g2", true, "to you" },
	{ "bob", ALL, AUTH_ADMIN, "grants/g2", false, "no grant" },
	{ "carol", ALL, AUTH_READ, "grants/g3", true, "to you" },
	{ "carol", ALL, AUTH_READ, "grants/g2", false, "no grant" },
	/* admin on a grant's resource is admin on the grant */
	{ "alice", ALL, AUTH_ADMIN, "grants/g2", true, "g5" },
	{ "erin", ALL, AUTH_ADMIN, "users/bob", true, "g9" },
	{ "erin", ALL, AUTH_ADMIN, "groups/dba", false, "no grant" },
	/* tokens: their user, and admins of that user */
	{ "bob", ALL, AUTH_ADMIN, "tokens/t1", true, "your token" },
	{ "alice", ALL, AUTH_ADMIN, "tokens/t1", true, "owner" },
	{ "erin", ALL, AUTH_ADMIN, "tokens/t1", true, "g9" },
	{ "carol", ALL, AUTH_READ, "tokens/t1", false, "no grant" },
	{ "carol", ALL, AUTH_READ, "tokens/nope", false, "no grant" },
	/* path tricks: never a match, even for admin on "*" */
	{ "root", ALL, AUTH_READ, "services/../users/x", false, "'..'" },
	{ "root", ALL, AUTH_READ, "services/./web", false, "'.'" },
	{ "root", ALL, AUTH_READ, "services//web", false, "segment" },
	{ "root", ALL, AUTH_READ, "services/web/", false, "segment" },
	{ "root", ALL, AUTH_READ, "/services/web", false, "kind" },
	{ "root", ALL, AUTH_READ, "..", false, "kind" },
	{ "root", ALL, AUTH_READ, "services/we b", false, "0x20" },
	{ "root", ALL, AUTH_READ, "services/web%00", false, "0x25" },
	{ "root", ALL, AUTH_READ, "services/web\n", false, "0x0a" },
	{ "root", ALL, AUTH_READ, "secrets/web", false, "unknown kind" },
	{ "root", ALL, AUTH_READ, "", false, "empty" },
	{ "root", ALL, AUTH_READ, "a/b/c/d/e", false, "kind" },
	{ "root", ALL, AUTH_READ, "services/a/b/c/d", false, "segments" },
	{ "bob", ALL, AUTH_READ, "services/web/..", false, "'..'" },
	/* "*" as a resource is the pattern of everything: only admins */
	{ "root", ALL, AUTH_ADMIN, "*", true, "g1" },
	{ "alice", ALL, AUTH_ADMIN, "*", false, "no grant" },
	/* patterns as resources (may I grant on services/ *?) */
	{ "carol", ALL, AUTH_APPLY, "services/*", true, "g3" },
	{ "alice", ALL, AUTH_ADMIN, "services/*", false, "no grant" },
	{ "erin", ALL, AUTH_APPROVE, "hosts/db*", true, "g4" },
	{ "erin", ALL, AUTH_APPROVE, "hosts/*", false, "no grant" },
};

static struct auth_snapshot *snap;

static int
setup(void **state)
{
	json_error_t je;
	json_t *m = json_loads(fixture, 0, &je);

	if (!m) {
		fprintf(stderr, "fixture: %s at %d\n", je.text, je.line);
		return -1;
	}
	snap = auth_snapshot_build(m, 100);
	return 0;
}

static int
teardown(void **state)
{
	auth_snapshot_unref(snap);
	return 0;
}

static void
test_table(void **state)
{
	char long_res[400];
	struct auth_why why;
	size_t i, bad = 0;

	assert_true(sizeof(rows) / sizeof(rows[0]) >= 40);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		bool got = auth_decide(snap, r->user, r->scopes, r->verb,
		    r->resource, &why);

		if (got != r->allowed || got != why.allowed ||
		    !strstr(why.reason, r->reason)) {
			fprintf(stderr, "row %zu: %s %s %s: got %s (%s), "
			    "want %s (%s)\n", i, r->user,
			    auth_verb_name(r->verb), r->resource,
			    got ? "yes" : "no", why.reason,
			    r->allowed ? "yes" : "no", r->reason);
			bad++;
		}
	}
	/* very long: no match even for admin on "*" */
	memset(long_res, 'a', sizeof(long_res) - 1);
	memcpy(long_res, "services/", 9);
	long_res[sizeof(long_res) - 1] = '\0';
	assert_false(auth_decide(snap, "root", ALL, AUTH_READ, long_res,
	    &why));
	assert_non_null(strstr(why.reason, "longer"));
	assert_int_equal(bad, 0);
}

static void
test_why_denied(void **state)
{
	struct auth_why why;

	assert_false(auth_decide(snap, "bob", ALL, AUTH_APPLY,
	    "services/web", &why));
	/* the nearest grant first: the right resource, a lower verb */
	assert_true(why.nnearest >= 1);
	assert_string_equal(why.nearest[0], "g2");
	assert_non_null(strstr(why.hint, "ask an admin of services/web"));
	assert_non_null(strstr(why.hint, "alice"));
	assert_non_null(strstr(why.hint, "apply on services/web"));
	/* no specific admin: the fleet admins of "*" */
	assert_false(auth_decide(snap, "bob", ALL, AUTH_READ, "hosts/x",
	    &why));
	assert_non_null(strstr(why.hint, "root"));
	/* neither disabled users nor missing groups are named */
	assert_null(strstr(why.hint, "dave"));
	assert_null(strstr(why.hint, "ghost"));
}

static void
test_why_allowed(void **state)
{
	struct auth_why why;

	assert_true(auth_decide(snap, "carol", ALL, AUTH_APPLY,
	    "services/api", &why));
	assert_string_equal(why.grant, "g3");
	assert_string_equal(why.reason,
	    "grant g3 (group:ops apply services/*) via group ops");
}

static void
test_glob(void **state)
{
	assert_true(auth_glob("*", "services/web/x"));
	assert_true(auth_glob("hosts/db*", "hosts/db1"));
	assert_false(auth_glob("hosts/db*", "hosts/db1/x"));
	assert_false(auth_glob("hosts/db*", "services/db1"));
	assert_true(auth_glob("hosts/*db", "hosts/xdb"));
	assert_true(auth_glob("hosts/**", "hosts/a"));
	assert_false(auth_glob("hosts/*", "hosts"));
	assert_true(auth_glob("*/web", "services/web"));
	assert_false(auth_glob("*/web", "a/services/web"));
}

static void
test_names(void **state)
{
	struct lr_err e = { 0 };

	assert_int_equal(auth_name_check("user", "alice", &e), 0);
	assert_int_equal(auth_name_check("user", "a.b_c-9", &e), 0);
	assert_int_equal(auth_name_check("user", "Alice", &e), -1);
	assert_non_null(strstr(e.hint, "a-z"));
	assert_int_equal(auth_name_check("user", "..", &e), -1);
	assert_int_equal(auth_name_check("user", ".x", &e), -1);
	assert_int_equal(auth_name_check("user", "a/b", &e), -1);
	assert_int_equal(auth_name_check("user", "", &e), -1);
	assert_int_equal(auth_name_check("user",
	    "a234567890123456789012345678901234567890123456789012345678901234",
	    &e), 0);
	assert_int_equal(auth_name_check("user",
	    "a2345678901234567890123456789012345678901234567890123456789012345",
	    &e), -1);
	assert_int_equal(auth_resource_check("services/*", true, &e), 0);
	assert_int_equal(auth_resource_check("services/*", false, &e), -1);
	assert_int_equal(auth_resource_check("*", true, &e), 0);
	assert_int_equal(auth_resource_check("fleet", false, &e), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_why_denied),
		cmocka_unit_test(test_why_allowed),
		cmocka_unit_test(test_glob),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
