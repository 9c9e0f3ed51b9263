/*
 * proto/: every key kind built then parsed, every document kind encoded,
 * dumped to text, parsed back and decoded to what went in; and the bytes
 * of a host document, its hash and its stored value, which existing
 * clusters hold, pinned.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "doc.h"
#include "json.h"
#include "keys.h"
#include "report.h"
#include "xalloc.h"

#define P "/leura"
#define SHA "62b6a8df42707d5dccb7fddc59d948b113dd22eda51e0844b95579c19ef76b85"
#define COMMIT "47dc604343ec38ee85acc068f29ac547b60c5fc0"

/* Dump then parse: what a reader in another process gets. */
static json_t *
through_text(const json_t *o)
{
	char *s = proto_dumps(o);
	json_t *v;
	struct lr_err err;

	lr_err_clear(&err);
	v = proto_value_parse("k", s, strlen(s), &err);
	assert_non_null(v);
	free(s);
	return v;
}

/* ---- keys ---- */

static void
check_key(char *k, const char *want, enum proto_key_kind kind,
    struct proto_key *pk)
{
	assert_string_equal(k, want);
	assert_int_equal(proto_key_parse(P, k, pk), kind);
}

static void
test_proto_key__every_kind_round_trips(void **state)
{
	struct proto_key pk;
	char *k, *d, host[64];
	const char *name;
	int64_t g;

	k = proto_key_head(P);
	check_key(k, "/leura/desired/head", PROTO_KEY_HEAD, &pk);
	free(k);

	k = proto_key_fleet(P);
	check_key(k, "/leura/fleet", PROTO_KEY_FLEET, &pk);
	free(k);

	k = proto_key_doc(P, "web1", 4, SHA);
	check_key(k, "/leura/desired/hosts/web1/000000000004/" SHA,
	    PROTO_KEY_DOC, &pk);
	assert_int_equal(pk.host_len, 4);
	assert_memory_equal(pk.host, "web1", 4);
	assert_int_equal(pk.generation, 4);
	assert_string_equal(pk.name, SHA);
	assert_true(proto_doc_key_split(k + strlen("/leura/desired/hosts/"),
	    host, sizeof(host), &g, &name));
	assert_string_equal(host, "web1");
	assert_int_equal(g, 4);
	assert_string_equal(name, SHA);
	d = proto_key_host_docs_dir(P, "web1");
	assert_int_equal(proto_key_doc_generation(k, d), 4);
	free(d);
	d = proto_key_host_docs_dir(P, "web");	/* not web1's prefix */
	assert_int_equal(proto_key_doc_generation(k, d), -1);
	free(d);
	free(k);

	k = proto_key_doc(P, "db2", 123456789012, PROTO_TOMBSTONE);
	check_key(k, "/leura/desired/hosts/db2/123456789012/removed",
	    PROTO_KEY_DOC, &pk);
	assert_int_equal(pk.generation, 123456789012);
	assert_string_equal(pk.name, "removed");
	free(k);

	k = proto_key_file(P, SHA);
	check_key(k, "/leura/desired/files/" SHA, PROTO_KEY_FILE, &pk);
	assert_string_equal(pk.name, SHA);
	free(k);

	k = proto_key_deploy(P, 5);
	check_key(k, "/leura/source/deploys/0000000005", PROTO_KEY_DEPLOY,
	    &pk);
	assert_int_equal(pk.deploy, 5);
	free(k);

	k = proto_key_observed(P, "web10");
	check_key(k, "/leura/observed/web10", PROTO_KEY_OBSERVED, &pk);
	assert_string_equal(pk.host, "web10");
	free(k);

	k = proto_key_results(P, "web1");
	check_key(k, "/leura/results/web1", PROTO_KEY_RESULTS, &pk);
	assert_string_equal(pk.host, "web1");
	free(k);

	k = proto_key_agent(P, "web1");
	check_key(k, "/leura/agents/web1", PROTO_KEY_AGENT, &pk);
	assert_string_equal(pk.host, "web1");
	free(k);

	k = proto_key_lock_apply(P);
	check_key(k, "/leura/locks/apply", PROTO_KEY_LOCK_APPLY, &pk);
	free(k);

	k = proto_key_runs_dir(P);
	check_key(k, "/leura/runs/", PROTO_KEY_RUNS, &pk);
	free(k);
	k = proto_key_events_dir(P);
	check_key(k, "/leura/events/", PROTO_KEY_EVENTS, &pk);
	free(k);
	k = proto_key_auth_dir(P);
	check_key(k, "/leura/auth/", PROTO_KEY_AUTH, &pk);
	free(k);
}

static void
test_proto_key__dirs(void **state)
{
	struct { char *k; const char *want; } d[] = {
		{ proto_key_docs_dir(P), "/leura/desired/hosts/" },
		{ proto_key_host_docs_dir(P, "web1"),
		    "/leura/desired/hosts/web1/" },
		{ proto_key_files_dir(P), "/leura/desired/files/" },
		{ proto_key_deploys_dir(P), "/leura/source/deploys/" },
		{ proto_key_observed_dir(P), "/leura/observed/" },
		{ proto_key_results_dir(P), "/leura/results/" },
		{ proto_key_agents_dir(P), "/leura/agents/" },
	};
	size_t i;

	for (i = 0; i < sizeof(d) / sizeof(*d); i++) {
		assert_string_equal(d[i].k, d[i].want);
		free(d[i].k);
	}
}

static void
test_proto_key__not_ours(void **state)
{
	static const char *const other[] = {
		"/leura/desired/hosts/web1/4/" SHA,		/* short G */
		"/leura/desired/hosts/web1/000000000000/" SHA,	/* G 0 */
		"/leura/desired/hosts/web1/00000000000x/" SHA,
		"/leura/desired/hosts/web1/000000000004/a/b",	/* deeper */
		"/leura/desired/hosts//000000000004/" SHA,	/* no host */
		"/leura/desired/hosts/web1",
		"/leura/observed/web1/x",			/* deeper */
		"/leura/observed/",
		"/leura/agents/a/b",
		"/leura/source/deploys/5",
		"/leura/desired/headx",
		"/other/desired/head",
		"/leura2/desired/head",
		"/leura",
	};
	struct proto_key pk;
	char host[8];
	const char *name;
	int64_t g;
	size_t i;

	for (i = 0; i < sizeof(other) / sizeof(*other); i++)
		assert_int_equal(proto_key_parse(P, other[i], &pk),
		    PROTO_KEY_OTHER);
	/* a host that does not fit the caller's buffer */
	assert_false(proto_doc_key_split("longhostname/000000000004/x", host,
	    sizeof(host), &g, &name));
	assert_string_equal(proto_key_host_in("/leura/observed/web1",
	    "/leura/observed/"), "web1");
	assert_int_equal(proto_key_doc_generation(
	    "/leura/desired/hosts/web1/000000000000/x",
	    "/leura/desired/hosts/web1/"), -1);
	assert_int_equal(proto_key_doc_generation(
	    "/leura/desired/hosts/web1/000000000001/",
	    "/leura/desired/hosts/web1/"), -1);
	assert_int_equal(proto_key_doc_generation(
	    "/leura/desired/hosts/web1/000000000001/a/b",
	    "/leura/desired/hosts/web1/"), -1);
	assert_null(proto_key_host_in("/leura/observed/web1/x",
	    "/leura/observed/"));
	assert_null(proto_key_host_in("/leura/observed/", "/leura/observed/"));
	assert_null(proto_key_host_in("/leura/agents/web1",
	    "/leura/observed/"));
}

/* ---- a host's desired state ---- */

static json_t *
sample_doc(void)
{
	return json_loads("{\"services\":[\"web\"],\"steps\":[{\"id\":"
	    "\"web/web/converge/x\",\"kind\":\"script\",\"script\":"
	    "\"echo hi\\n\",\"retries\":0,\"timeout_ms\":120000,\"env\":"
	    "{\"A\":\"b/c \xc3\xa9\"}}],\"depends_on\":{},\"gates\":{\"web\":"
	    "[{\"service\":\"db\",\"hosts\":[\"db1\"],\"why\":\"depends_on\"}]"
	    "},\"drift\":{\"web\":\"repair\"},\"drift_interval_ms\":900000}",
	    0, NULL);
}

#define CANONICAL "{\"depends_on\":{},\"drift\":{\"web\":\"repair\"}," \
	"\"drift_interval_ms\":900000,\"gates\":{\"web\":[{\"hosts\":" \
	"[\"db1\"],\"service\":\"db\",\"why\":\"depends_on\"}]}," \
	"\"services\":[\"web\"],\"steps\":[{\"env\":{\"A\":\"b/c " \
	"\xc3\xa9\"},\"id\":\"web/web/converge/x\",\"kind\":\"script\"," \
	"\"retries\":0,\"script\":\"echo hi\\n\",\"timeout_ms\":120000}]}"

/* as apply.c wrote it before proto/: printf("{\"commit\":\"%s\",...,%s") */
#define VALUE "{\"commit\":\"" COMMIT "\",\"deploy\":2,\"generation\":3," \
	"\"depends_on\":{},\"drift\":{\"web\":\"repair\"}," \
	"\"drift_interval_ms\":900000,\"gates\":{\"web\":[{\"hosts\":" \
	"[\"db1\"],\"service\":\"db\",\"why\":\"depends_on\"}]}," \
	"\"services\":[\"web\"],\"steps\":[{\"env\":{\"A\":\"b/c " \
	"\xc3\xa9\"},\"id\":\"web/web/converge/x\",\"kind\":\"script\"," \
	"\"retries\":0,\"script\":\"echo hi\\n\",\"timeout_ms\":120000}]}"

static void
test_proto_doc__bytes_are_pinned(void **state)
{
	json_t *doc = sample_doc();
	char sha[LR_SHA256_HEX_LEN + 1], *text, *val;

	text = proto_doc_canonical(doc, sha);
	assert_string_equal(text, CANONICAL);
	assert_string_equal(sha, SHA);
	/* the stamp, then the canonical text without its brace */
	val = proto_doc_value(text, 3, 2, COMMIT);
	assert_string_equal(val, VALUE);
	assert_true(strlen(val) <= proto_doc_value_max(strlen(text),
	    COMMIT));
	free(val);
	free(text);
	val = proto_tombstone_value(5, 4, COMMIT);
	assert_string_equal(val, "{\"commit\":\"" COMMIT "\",\"deploy\":4,"
	    "\"depends_on\":{},\"generation\":5,\"removed\":true,"
	    "\"services\":[],\"steps\":[]}");
	free(val);
	json_decref(doc);
}

static void
test_proto_doc__round_trips(void **state)
{
	json_t *doc = sample_doc(), *back, *bare;
	struct proto_doc_stamp st;
	struct lr_err err;
	char sha[LR_SHA256_HEX_LEN + 1], sha2[LR_SHA256_HEX_LEN + 1];
	char *text, *val, *text2;

	text = proto_doc_canonical(doc, sha);
	val = proto_doc_value(text, 7, 6, COMMIT);
	lr_err_clear(&err);
	back = proto_value_parse("k", val, strlen(val), &err);
	assert_non_null(back);
	proto_doc_stamp_decode(back, &st);
	assert_int_equal(st.generation, 7);
	assert_int_equal(st.deploy, 6);
	assert_string_equal(st.commit, COMMIT);
	assert_false(st.removed);
	bare = proto_doc_unstamp(back);
	assert_true(json_equal(bare, doc));
	text2 = proto_doc_canonical(bare, sha2);
	assert_string_equal(text2, text);
	assert_string_equal(sha2, sha);
	free(text2);
	json_decref(bare);
	json_decref(back);
	free(val);

	val = proto_tombstone_value(8, 7, COMMIT);
	back = proto_value_parse("k", val, strlen(val), &err);
	proto_doc_stamp_decode(back, &st);
	assert_int_equal(st.generation, 8);
	assert_int_equal(st.deploy, 7);
	assert_true(st.removed);
	assert_int_equal(json_array_size(json_object_get(back,
	    PROTO_DOC_STEPS)), 0);
	json_decref(back);
	free(val);
	free(text);
	json_decref(doc);
}

static void
test_proto_value_parse__refuses_no_object(void **state)
{
	struct lr_err err;

	lr_err_clear(&err);
	assert_null(proto_value_parse("/leura/x", "{", 1, &err));
	assert_int_equal(err.code, LR_EETCD);
	assert_non_null(strstr(err.msg, "'/leura/x' in etcd is not JSON"));
	assert_non_null(strstr(err.hint, "delete the key"));
	lr_err_clear(&err);
	assert_null(proto_value_parse("/leura/x", "[1]", 3, &err));
	assert_non_null(strstr(err.msg, "is not a JSON object"));
}

/* The generations never deployed: ranges merged, looked up. */
static void
test_proto_skipped(void **state)
{
	json_t *a, *b, *c, *d;
	char *t;

	(void)state;
	a = proto_skipped_add(NULL, 5, 4);		/* empty range */
	assert_int_equal(json_array_size(a), 0);
	b = proto_skipped_add(a, 3, 3);
	c = proto_skipped_add(b, 7, 8);
	d = proto_skipped_add(c, 4, 6);		/* joins both */
	t = json_dumps(d, JSON_COMPACT);
	assert_string_equal(t, "[[3,8]]");
	free(t);
	json_decref(d);
	d = proto_skipped_add(c, 1, 1);		/* before, apart */
	t = json_dumps(d, JSON_COMPACT);
	assert_string_equal(t, "[[1,1],[3,3],[7,8]]");
	free(t);
	assert_true(proto_skipped_has(d, 7));
	assert_true(proto_skipped_has(d, 1));
	assert_false(proto_skipped_has(d, 2));
	assert_false(proto_skipped_has(d, 9));
	assert_false(proto_skipped_has(NULL, 1));
	json_decref(d);
	/* a malformed list (etcd is not trusted for shape): ranges skipped */
	d = json_loads("[[2],\"x\",[5,4],[6,6]]", 0, NULL);
	assert_false(proto_skipped_has(d, 2));
	assert_true(proto_skipped_has(d, 6));
	json_decref(d);
	json_decref(a);
	json_decref(b);
	json_decref(c);
}

/* ---- the head ---- */

/* A signed document: bound to its host, its bytes, its key. */
static void
test_proto_verify_value__refuses_forgeries(void **state)
{
	static const char u[] = "{\"commit\":\"c\",\"deploy\":1,"
	    "\"generation\":3,\"services\":[],\"steps\":[]}";
	struct lr_sign_key *k, *k2, *pub;
	struct lr_err err;
	char dir[] = "/tmp/leura-test-proto.XXXXXX", id[LR_SIGN_ID_LEN + 1];
	char *priv, *pubp, *priv2, *pub2, *v, *v2, *t, *cmd;
	json_t *out = NULL;

	(void)state;
	assert_non_null(mkdtemp(dir));
	priv = lr_xasprintf("%s/a.key", dir);
	pubp = lr_xasprintf("%s/a.pub", dir);
	priv2 = lr_xasprintf("%s/b.key", dir);
	pub2 = lr_xasprintf("%s/b.pub", dir);
	assert_int_equal(lr_sign_keygen(priv, pubp, false, id, &err), 0);
	assert_int_equal(lr_sign_keygen(priv2, pub2, false, id, &err), 0);
	assert_int_equal(lr_sign_key_load_private(priv, &k, &err), 0);
	assert_int_equal(lr_sign_key_load_private(priv2, &k2, &err), 0);
	assert_int_equal(lr_sign_key_load_public(pubp, &pub, &err), 0);

	v = proto_sign_value(u, "web1", k);
	/* U stays as it was, the signature its last member */
	assert_memory_equal(v, u, strlen(u) - 1);
	assert_true(strncmp(v + strlen(u) - 1, ",\"signature\":\"ed25519:",
	    22) == 0);
	assert_int_equal(proto_verify_value(v, strlen(v), "web1", pub, &out,
	    &err), 0);
	assert_int_equal(lr_json_int(out, "generation"), 3);
	assert_null(json_object_get(out, "signature"));
	json_decref(out);
	out = NULL;

	/* another host's document */
	assert_int_equal(proto_verify_value(v, strlen(v), "web2", pub, &out,
	    &err), LR_EINVAL);
	assert_non_null(strstr(err.msg, "does not match"));
	/* as a head */
	assert_int_equal(proto_verify_value(v, strlen(v), NULL, pub, &out,
	    &err), LR_EINVAL);
	/* one byte changed: generation 3 -> 4 */
	t = lr_xstrdup(v);
	strstr(t, "\"generation\":3")[13] = '4';
	assert_int_equal(proto_verify_value(t, strlen(t), "web1", pub, &out,
	    &err), LR_EINVAL);
	free(t);
	/* unsigned */
	assert_int_equal(proto_verify_value(u, strlen(u), "web1", pub, &out,
	    &err), LR_EINVAL);
	assert_string_equal(err.msg, "it is not signed");
	/* signed with another key */
	v2 = proto_sign_value(u, "web1", k2);
	assert_int_equal(proto_verify_value(v2, strlen(v2), "web1", pub, &out,
	    &err), LR_EINVAL);
	assert_non_null(strstr(err.msg, "not among the trusted keys"));
	/* a member slipped in before the signature */
	t = lr_xasprintf("%.*s,\"steps\":[1]%s", (int)(strlen(u) - 1), v,
	    v + strlen(u) - 1);
	assert_int_equal(proto_verify_value(t, strlen(t), "web1", pub, &out,
	    &err), LR_EINVAL);
	free(t);
	/* something after it */
	t = lr_xasprintf("%s ", v);
	assert_int_equal(proto_verify_value(t, strlen(t), "web1", pub, &out,
	    &err), LR_EINVAL);
	free(t);
	assert_null(out);
	/* a run dispatch is not a host document, nor the reverse */
	t = proto_sign_run_value(u, "web1", k);
	assert_int_equal(proto_verify_run_value(t, strlen(t), "web1", pub,
	    &out, &err), 0);
	json_decref(out);
	out = NULL;
	assert_int_equal(proto_verify_value(t, strlen(t), "web1", pub, &out,
	    &err), LR_EINVAL);
	assert_int_equal(proto_verify_run_value(t, strlen(t), "web2", pub,
	    &out, &err), LR_EINVAL);
	assert_int_equal(proto_verify_run_value(v, strlen(v), "web1", pub,
	    &out, &err), LR_EINVAL);
	free(t);
	assert_null(out);

	cmd = lr_xasprintf("rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(v);
	free(v2);
	free(priv);
	free(pubp);
	free(priv2);
	free(pub2);
	lr_sign_key_free(k);
	lr_sign_key_free(k2);
	lr_sign_key_free(pub);
}

static void
test_proto_head__round_trips(void **state)
{
	struct proto_head h = {
		.deploy = 2, .generation = 3, .commit = COMMIT,
		.tree = "54e4bf0ddd32e07896fac69ea7f2bb72bbde246f",
		.ref = "HEAD", .summary = "cache: 128 MB",
		.author = "Bob Roe <bob@example.com>", .by = "bob@laptop",
		.at = "2026-11-22T06:48:05Z", .rollback = true, .hosts = 5,
		.hosts_written = 3, .leura = "0.1.0",
		.apply_id = "1e3c-6b029025-385f00eb", .previous_deploy = 1,
		.previous_commit = "c930b15bdb3cbcffa7c33e4ace7c9bfcc8abd071",
	}, d;
	json_t *o = proto_head_encode(&h), *back = through_text(o);
	char *text = proto_dumps(o);

	/* the layout of docs/etcd-layout.md, keys sorted */
	assert_string_equal(text, "{\"apply_id\":\"1e3c-6b029025-385f00eb\","
	    "\"at\":\"2026-11-22T06:48:05Z\",\"author\":\"Bob Roe "
	    "<bob@example.com>\",\"by\":\"bob@laptop\",\"commit\":\"" COMMIT
	    "\",\"deploy\":2,\"generation\":3,\"hosts\":5,\"hosts_written\":3,"
	    "\"leura\":\"0.1.0\",\"previous\":{\"commit\":\"c930b15bdb3cbcffa7"
	    "c33e4ace7c9bfcc8abd071\",\"deploy\":1},\"ref\":\"HEAD\","
	    "\"rollback\":true,\"summary\":\"cache: 128 MB\",\"tree\":"
	    "\"54e4bf0ddd32e07896fac69ea7f2bb72bbde246f\"}");
	proto_head_decode(back, &d);
	assert_int_equal(d.deploy, 2);
	assert_int_equal(d.generation, 3);
	assert_string_equal(d.commit, h.commit);
	assert_string_equal(d.tree, h.tree);
	assert_string_equal(d.ref, h.ref);
	assert_string_equal(d.summary, h.summary);
	assert_string_equal(d.author, h.author);
	assert_string_equal(d.by, h.by);
	assert_string_equal(d.at, h.at);
	assert_true(d.rollback);
	assert_int_equal(d.hosts, 5);
	assert_int_equal(d.hosts_written, 3);
	assert_string_equal(d.leura, h.leura);
	assert_string_equal(d.apply_id, h.apply_id);
	assert_int_equal(d.previous_deploy, 1);
	assert_string_equal(d.previous_commit, h.previous_commit);
	free(text);
	json_decref(back);
	json_decref(o);

	/*
	 * The first deploy: no previous; the optional strings are json null,
	 * byte for byte what the reconciler's json_pack("s:s?") wrote.
	 */
	h.previous_commit = NULL;
	h.tree = h.ref = h.summary = h.author = NULL;
	o = proto_head_encode(&h);
	assert_null(json_object_get(o, PROTO_HEAD_PREVIOUS));
	assert_true(json_is_null(json_object_get(o, PROTO_HEAD_TREE)));
	text = proto_dumps(o);
	assert_string_equal(text, "{\"apply_id\":\"1e3c-6b029025-385f00eb\","
	    "\"at\":\"2026-11-22T06:48:05Z\",\"author\":null,\"by\":"
	    "\"bob@laptop\",\"commit\":\"" COMMIT "\",\"deploy\":2,"
	    "\"generation\":3,\"hosts\":5,\"hosts_written\":3,\"leura\":"
	    "\"0.1.0\",\"ref\":null,\"rollback\":true,\"summary\":null,"
	    "\"tree\":null}");
	free(text);
	back = through_text(o);
	proto_head_decode(back, &d);
	assert_null(d.previous_commit);
	assert_null(d.tree);
	assert_null(d.summary);
	json_decref(back);
	json_decref(o);
}

/* ---- the report ---- */

static void
test_proto_report__round_trips(void **state)
{
	struct proto_report r, d;
	json_t *failed = json_array(), *svcs = json_object();
	json_t *drift = json_array(), *intr = json_pack("[s]", "web/x");
	json_t *o, *back;

	json_array_append_new(failed, proto_failed_step("db/db/converge/a", 1,
	    NULL, json_string("mkdir: denied\n")));
	json_array_append_new(failed, proto_failed_step("web/web/converge/b",
	    -1, "web depends on db, which failed on this host", NULL));
	json_object_set_new(svcs, "db", proto_service_state(false));
	json_object_set_new(svcs, "web", proto_service_state(true));
	json_array_append_new(drift, proto_drifted("db/db/converge/c",
	    "missing"));
	memset(&r, 0, sizeof(r));
	r.generation = 6;
	r.head = 7;
	r.deploy = 8;
	r.state = PROTO_STATE_CONVERGING;
	r.at_unix = 1795341600;
	r.has_run = true;
	r.run.id = "000000000006-1795341599874";
	r.run.started_unix_ms = 1795341599874;
	r.run.steps = 7;
	r.run.done = 3;
	r.run.duration_ms = 126;
	r.current = "web/web/converge/b";
	r.waiting = "web waits for db to validate on db1 (converging)";
	r.waiting_service = "db";
	r.waiting_host = "db1";
	r.failed_steps = failed;
	r.services = svcs;
	r.drift = drift;
	r.checked_unix_ms = 1795341000250;
	r.interrupted = intr;
	o = proto_report_encode(&r);
	back = through_text(o);
	proto_report_decode(back, &d);
	assert_int_equal(d.generation, 6);
	assert_int_equal(d.head, 7);
	assert_int_equal(d.deploy, 8);
	assert_string_equal(d.state, "converging");
	assert_string_equal(d.at, "2026-11-22T10:00:00Z");
	assert_int_equal(d.at_unix, r.at_unix);
	assert_string_equal(d.agent, LEURA_VERSION);
	assert_true(d.has_run);
	assert_string_equal(d.run.id, r.run.id);
	assert_int_equal(d.run.started_unix_ms, r.run.started_unix_ms);
	assert_int_equal(d.run.steps, 7);
	assert_int_equal(d.run.done, 3);
	assert_int_equal(d.run.duration_ms, 126);
	assert_string_equal(d.current, r.current);
	assert_string_equal(d.waiting, r.waiting);
	assert_string_equal(d.waiting_service, "db");
	assert_string_equal(d.waiting_host, "db1");
	assert_true(json_equal(d.failed_steps, failed));
	assert_int_equal(json_integer_value(json_object_get(json_array_get(
	    d.failed_steps, 0), PROTO_FAILED_EXIT)), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(
	    d.failed_steps, 1), PROTO_FAILED_ERROR)), "web depends on db, "
	    "which failed on this host");
	assert_true(json_equal(d.services, svcs));
	assert_true(json_equal(d.drift, drift));
	assert_int_equal(d.checked_unix_ms, r.checked_unix_ms);
	assert_true(json_equal(d.interrupted, intr));
	json_decref(back);

	/* what a run clears goes away; a run going on has no duration */
	proto_report_set_current(o, NULL);
	proto_report_set_waiting(o, NULL, NULL);
	r.run.duration_ms = -1;
	proto_report_set_run(o, &r.run);
	proto_report_stamp(o, 6, 7, 8, NULL, r.at_unix, NULL);
	back = through_text(o);
	proto_report_decode(back, &d);
	assert_string_equal(d.state, "converging");	/* kept */
	assert_string_equal(d.current, "");
	assert_string_equal(d.waiting, "");
	assert_string_equal(d.waiting_host, "");
	assert_int_equal(d.run.duration_ms, -1);
	assert_null(d.interrupted);
	json_decref(back);
	json_decref(o);

	/* an empty report reads as nothing known */
	o = json_object();
	proto_report_decode(o, &d);
	assert_int_equal(d.generation, 0);
	assert_string_equal(d.state, "");
	assert_false(d.has_run);
	assert_null(d.failed_steps);
	json_decref(o);
	json_decref(failed);
	json_decref(svcs);
	json_decref(drift);
	json_decref(intr);
}

/* ---- the results ---- */

static void
test_proto_results__round_trip(void **state)
{
	struct proto_step_result ran = {
		.id = "db/db/converge/data dir", .status = "failed",
		.changed = false, .ran = true, .started_unix_ms = 1795341599880,
		.duration_ms = 31, .attempts = 1, .exit_code = 1,
		.signal = 0, .timed_out = false,
		.error = "exited with status 1",
		.output = "mkdir: cannot create directory\n",
	}, skipped = {
		.id = "db/db/validate/ok", .status = "skipped", .ran = false,
		.reason = "an earlier step of the service failed",
		.exit_code = -1,
	}, guarded = { 0 }, d;
	json_t *steps = json_array(), *res, *back;
	char *text;

	json_array_append_new(steps, proto_step_result_encode(&ran));
	json_array_append_new(steps, proto_step_result_encode(&skipped));
	res = proto_results_encode(6, "000000000006-1795341599874", steps);
	/* stored unsorted: the order of the encoder is the stored one */
	text = json_dumps(res, JSON_COMPACT);
	assert_string_equal(text, "{\"generation\":6,\"run\":"
	    "\"000000000006-1795341599874\",\"steps\":[{\"id\":\"db/db/"
	    "converge/data dir\",\"status\":\"failed\",\"changed\":false,"
	    "\"started_unix_ms\":1795341599880,\"duration_ms\":31,"
	    "\"attempts\":1,\"exit\":1,\"error\":\"exited with status 1\","
	    "\"output\":\"mkdir: cannot create directory\\n\"},{\"id\":"
	    "\"db/db/validate/ok\",\"status\":\"skipped\",\"changed\":false,"
	    "\"ran\":false,\"reason\":\"an earlier step of the service "
	    "failed\"}]}");
	free(text);
	back = through_text(res);
	assert_int_equal(json_integer_value(json_object_get(back,
	    PROTO_RESULTS_GENERATION)), 6);
	proto_step_result_decode(json_array_get(json_object_get(back,
	    PROTO_RESULTS_STEPS), 0), &d);
	assert_string_equal(d.id, ran.id);
	assert_string_equal(d.status, "failed");
	assert_true(d.ran);
	assert_int_equal(d.started_unix_ms, ran.started_unix_ms);
	assert_int_equal(d.duration_ms, 31);
	assert_int_equal(d.attempts, 1);
	assert_int_equal(d.exit_code, 1);
	assert_int_equal(d.signal, 0);
	assert_false(d.timed_out);
	assert_string_equal(d.error, ran.error);
	assert_string_equal(d.output, ran.output);
	proto_step_result_decode(json_array_get(json_object_get(back,
	    PROTO_RESULTS_STEPS), 1), &d);
	assert_false(d.ran);
	assert_string_equal(d.reason, skipped.reason);
	assert_int_equal(d.exit_code, -1);
	json_decref(back);

	/* a guard that ran and skipped its step: a reason, not an error */
	guarded.id = "db/db/converge/init", guarded.status = "skipped";
	guarded.ran = true, guarded.started_unix_ms = 1795341599890;
	guarded.duration_ms = 4, guarded.exit_code = -1;
	guarded.reason = "unless: 'test -e /srv/db' exited 0";
	back = proto_step_result_encode(&guarded);
	text = json_dumps(back, JSON_COMPACT);
	assert_string_equal(text, "{\"id\":\"db/db/converge/init\","
	    "\"status\":\"skipped\",\"changed\":false,\"reason\":"
	    "\"unless: 'test -e /srv/db' exited 0\",\"started_unix_ms\":"
	    "1795341599890,\"duration_ms\":4}");
	free(text);
	proto_step_result_decode(back, &d);
	assert_true(d.ran);
	assert_string_equal(d.reason, guarded.reason);
	assert_null(d.error);
	json_decref(back);

	proto_results_left_out(res, 2);
	assert_int_equal(json_integer_value(json_object_get(res,
	    PROTO_RESULTS_STEPS_LEFT_OUT)), 2);
	json_decref(res);
	json_decref(steps);

	/* output that is not UTF-8 */
	ran.output = "\xff\xfe";
	res = proto_step_result_encode(&ran);
	assert_non_null(strstr(json_string_value(json_object_get(res,
	    PROTO_RESULT_OUTPUT)), "not UTF-8"));
	json_decref(res);
}

/* ---- fitting to etcd's request limit ---- */

/* n bytes of "line NNN\n..." ending without a newline when odd */
static char *
lines(size_t n)
{
	char *s = malloc(n + 1);
	size_t i;

	assert_non_null(s);
	for (i = 0; i < n; i++)
		s[i] = i % 10 == 9 ? '\n' : (char)('a' + i % 10);
	s[n] = '\0';
	return s;
}

static size_t
dumped(const json_t *v)
{
	return json_dumpb(v, NULL, 0, PROTO_DUMP_FLAGS);
}

static void
test_proto_output_tail__lines_and_utf8(void **state)
{
	json_t *t;

	(void)state;
	assert_null(proto_output_tail(NULL, 10));
	assert_null(proto_output_tail("", 10));
	t = proto_output_tail("short\n", 10);
	assert_string_equal(json_string_value(t), "short\n");
	json_decref(t);
	/* the last 8 bytes start inside "two": from the next line */
	t = proto_output_tail("one\ntwo\nthree\n", 8);
	assert_string_equal(json_string_value(t), "three\n");
	json_decref(t);
	/* no line starts in them: never inside a UTF-8 sequence */
	t = proto_output_tail("x\xc3\xa9\xc3\xa9", 3);
	assert_string_equal(json_string_value(t), "\xc3\xa9");
	json_decref(t);
}

static void
test_proto_results_fit__by_worth(void **state)
{
	json_t *steps = json_array(), *res, *st;
	struct proto_step_result r;
	char *big = lines(4000), id[32];
	size_t i, full;

	(void)state;
	for (i = 0; i < 100; i++) {
		memset(&r, 0, sizeof(r));
		snprintf(id, sizeof(id), "svc%03zu/r/converge/s", i);
		r.id = id;
		r.status = i % 2 ? "failed" : "ok";
		r.ran = true;
		r.exit_code = i % 2 ? 1 : 0;
		r.output = big;
		json_array_append_new(steps, proto_step_result_encode(&r));
	}
	res = proto_results_encode(3, "run", steps);
	json_decref(steps);
	full = dumped(res);
	assert_true(proto_results_fit(res, full));	/* fits: untouched */
	assert_int_equal(dumped(res), full);

	/* room for the failed steps' output: the others' goes */
	assert_true(proto_results_fit(res, full * 6 / 10));
	assert_true(dumped(res) <= full * 6 / 10);
	st = json_array_get(json_object_get(res, PROTO_RESULTS_STEPS), 0);
	assert_null(json_object_get(st, PROTO_RESULT_OUTPUT));
	st = json_array_get(json_object_get(res, PROTO_RESULTS_STEPS), 1);
	assert_int_equal(json_string_length(json_object_get(st,
	    PROTO_RESULT_OUTPUT)), 4000);
	assert_null(json_object_get(res, PROTO_RESULTS_STEPS_LEFT_OUT));

	/* then cut to 1 KiB, from a line */
	assert_true(proto_results_fit(res, 150000));
	st = json_array_get(json_object_get(res, PROTO_RESULTS_STEPS), 1);
	assert_true(json_string_length(json_object_get(st,
	    PROTO_RESULT_OUTPUT)) <= 1024);
	assert_int_equal(json_array_size(json_object_get(res,
	    PROTO_RESULTS_STEPS)), 100);

	/* then steps are left out from the end, and counted */
	assert_true(proto_results_fit(res, 3000));
	assert_true(dumped(res) <= 3000);
	i = json_array_size(json_object_get(res, PROTO_RESULTS_STEPS));
	assert_true(i > 0 && i < 100);
	assert_int_equal(json_integer_value(json_object_get(res,
	    PROTO_RESULTS_STEPS_LEFT_OUT)), 100 - (json_int_t)i);
	st = json_array_get(json_object_get(res, PROTO_RESULTS_STEPS), 0);
	assert_string_equal(json_string_value(json_object_get(st,
	    PROTO_RESULT_ID)), "svc000/r/converge/s");

	/* nothing but the frame: does not fit */
	assert_false(proto_results_fit(res, 10));
	json_decref(res);
	free(big);
}

/*
 * A drift check of a big host (thousands of file steps, each with a
 * detail of up to 512 bytes) makes a report that fits no request even
 * without failed steps: drift is cut too, its details to 256 bytes, then
 * without them, then its last entries (drift_left_out says how many);
 * the first entries, the first one shown for a drifted host, stay.
 */
static void
test_proto_report_fit__drift(void **state)
{
	json_t *rep = json_object(), *drift = json_array(), *d;
	char detail[512], id[64];
	size_t i;

	(void)state;
	memset(detail, 'x', sizeof(detail) - 1);
	detail[sizeof(detail) - 1] = '\0';
	for (i = 0; i < 3000; i++) {
		snprintf(id, sizeof(id), "svc/r/converge/file %04zu", i);
		json_array_append_new(drift, proto_drifted(id, detail));
	}
	proto_report_set_drift(rep, drift);
	json_decref(drift);
	lr_json_set_str(rep, PROTO_REPORT_STATE, PROTO_STATE_DRIFTED);
	assert_true(dumped(rep) > 1536 * 1024);
	/* details cut: every entry stays */
	assert_true(proto_report_fit(rep, 600 * 1024));
	assert_true(dumped(rep) <= 600 * 1024);
	drift = json_object_get(rep, PROTO_REPORT_DRIFT);
	assert_int_equal(json_array_size(drift), 3000);
	assert_null(json_object_get(rep, PROTO_REPORT_DRIFT_LEFT_OUT));
	/* then the last entries left out */
	assert_true(proto_report_fit(rep, 64 * 1024));
	assert_true(dumped(rep) <= 64 * 1024);
	drift = json_object_get(rep, PROTO_REPORT_DRIFT);
	assert_true(json_array_size(drift) > 0);
	assert_true(json_array_size(drift) < 3000);
	assert_int_equal(json_integer_value(json_object_get(rep,
	    PROTO_REPORT_DRIFT_LEFT_OUT)), 3000 -
	    (json_int_t)json_array_size(drift));
	d = json_array_get(drift, 0);
	assert_string_equal(lr_json_str(d, PROTO_DRIFTED_ID),
	    "svc/r/converge/file 0000");
	assert_string_equal(lr_json_str(rep, PROTO_REPORT_STATE),
	    PROTO_STATE_DRIFTED);
	json_decref(rep);
}

static void
test_proto_report_fit__failed_steps(void **state)
{
	json_t *rep = json_object(), *failed = json_array(), *f;
	char *big = lines(1024), id[32];
	size_t i, full;

	(void)state;
	for (i = 0; i < 300; i++) {
		snprintf(id, sizeof(id), "svc%03zu/r/converge/s", i);
		json_array_append_new(failed, proto_failed_step(id, 1, NULL,
		    json_string(big)));
	}
	proto_report_set_failed_steps(rep, failed);
	json_decref(failed);
	lr_json_set_str(rep, PROTO_REPORT_STATE, PROTO_STATE_FAILED);
	full = dumped(rep);
	assert_true(proto_report_fit(rep, full));
	assert_int_equal(dumped(rep), full);
	/* outputs cut to 256 bytes: every step stays */
	assert_true(proto_report_fit(rep, full / 3));
	failed = json_object_get(rep, PROTO_REPORT_FAILED_STEPS);
	assert_int_equal(json_array_size(failed), 300);
	f = json_array_get(failed, 299);
	assert_true(json_string_length(json_object_get(f,
	    PROTO_FAILED_OUTPUT)) <= 256);
	/* then without output, then the last ones left out */
	assert_true(proto_report_fit(rep, 4000));
	assert_true(dumped(rep) <= 4000);
	failed = json_object_get(rep, PROTO_REPORT_FAILED_STEPS);
	assert_true(json_array_size(failed) < 300);
	assert_null(json_object_get(json_array_get(failed, 0),
	    PROTO_FAILED_OUTPUT));
	assert_int_equal(json_integer_value(json_object_get(rep,
	    PROTO_REPORT_FAILED_STEPS_LEFT_OUT)), 300 -
	    (json_int_t)json_array_size(failed));
	assert_string_equal(lr_json_str(rep, PROTO_REPORT_STATE),
	    PROTO_STATE_FAILED);
	json_decref(rep);
	free(big);
}

/*
 * A repair run that failed keeps the drift it repaired: a report with a
 * few failed steps and thousands of drifted ones fits by leaving drift
 * entries out, never the failed steps (they were all left out before the
 * drift was touched, so status showed a failed host without its steps).
 */
static void
test_proto_report_fit__failed_before_drift(void **state)
{
	json_t *rep = json_object(), *drift = json_array(), *failed;
	char detail[512], id[64];
	size_t i;

	(void)state;
	memset(detail, 'x', sizeof(detail) - 1);
	detail[sizeof(detail) - 1] = '\0';
	for (i = 0; i < 3000; i++) {
		snprintf(id, sizeof(id), "svc/r/converge/file %04zu", i);
		json_array_append_new(drift, proto_drifted(id, detail));
	}
	proto_report_set_drift(rep, drift);
	json_decref(drift);
	failed = json_array();
	for (i = 0; i < 5; i++) {
		snprintf(id, sizeof(id), "svc/r/converge/file %04zu", i);
		json_array_append_new(failed, proto_failed_step(id, 1, NULL,
		    json_string("cannot write")));
	}
	proto_report_set_failed_steps(rep, failed);
	json_decref(failed);
	lr_json_set_str(rep, PROTO_REPORT_STATE, PROTO_STATE_FAILED);
	assert_true(proto_report_fit(rep, 64 * 1024));
	assert_true(dumped(rep) <= 64 * 1024);
	failed = json_object_get(rep, PROTO_REPORT_FAILED_STEPS);
	assert_int_equal(json_array_size(failed), 5);
	assert_null(json_object_get(rep, PROTO_REPORT_FAILED_STEPS_LEFT_OUT));
	assert_string_equal(lr_json_str(json_array_get(failed, 4),
	    PROTO_FAILED_OUTPUT), "cannot write");
	drift = json_object_get(rep, PROTO_REPORT_DRIFT);
	assert_true(json_array_size(drift) > 0);
	assert_int_equal(json_integer_value(json_object_get(rep,
	    PROTO_REPORT_DRIFT_LEFT_OUT)), 3000 -
	    (json_int_t)json_array_size(drift));
	json_decref(rep);
}

/* ---- the heartbeat ---- */

static void
test_proto_facts__round_trip(void **state)
{
	struct proto_facts f = {
		.hostname = "web1", .os = "Debian GNU/Linux 12 (bookworm)",
		.kernel = "6.1.0-18-amd64", .arch = "x86_64", .cpus = 2,
		.mem_total = 4125276160, .mem_available = 3721534976,
		.has_load = true, .load = { 0.12, 0.08, 0.02 },
		.disk_free = 82968985600, .agent = "0.1.0", .pid = 812,
		.started_unix = 1795332666,
	}, d;
	json_t *o = proto_facts_encode(&f), *back = through_text(o);

	proto_facts_decode(back, &d);
	assert_string_equal(d.hostname, f.hostname);
	assert_string_equal(d.os, f.os);
	assert_string_equal(d.kernel, f.kernel);
	assert_string_equal(d.arch, f.arch);
	assert_int_equal(d.cpus, 2);
	assert_int_equal(d.mem_total, f.mem_total);
	assert_int_equal(d.mem_available, f.mem_available);
	assert_true(d.has_load);
	assert_true(d.load[0] == 0.12 && d.load[1] == 0.08 &&
	    d.load[2] == 0.02);
	assert_int_equal(d.disk_free, f.disk_free);
	assert_string_equal(d.agent, f.agent);
	assert_int_equal(d.pid, 812);
	assert_int_equal(d.started_unix, f.started_unix);
	json_decref(back);
	json_decref(o);

	/* facts that could not be read are left out */
	memset(&f, 0, sizeof(f));
	f.cpus = f.mem_total = f.mem_available = f.disk_free = -1;
	f.agent = "0.1.0";
	f.pid = 1;
	f.started_unix = 2;
	o = proto_facts_encode(&f);
	assert_int_equal(json_object_size(o), 3);
	proto_facts_decode(o, &d);
	assert_null(d.hostname);
	assert_int_equal(d.cpus, -1);
	assert_false(d.has_load);
	json_decref(o);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_proto_key__every_kind_round_trips),
		cmocka_unit_test(test_proto_key__dirs),
		cmocka_unit_test(test_proto_key__not_ours),
		cmocka_unit_test(test_proto_doc__bytes_are_pinned),
		cmocka_unit_test(test_proto_doc__round_trips),
		cmocka_unit_test(test_proto_value_parse__refuses_no_object),
		cmocka_unit_test(test_proto_verify_value__refuses_forgeries),
		cmocka_unit_test(test_proto_skipped),
		cmocka_unit_test(test_proto_head__round_trips),
		cmocka_unit_test(test_proto_report__round_trips),
		cmocka_unit_test(test_proto_results__round_trip),
		cmocka_unit_test(test_proto_output_tail__lines_and_utf8),
		cmocka_unit_test(test_proto_results_fit__by_worth),
		cmocka_unit_test(test_proto_report_fit__failed_steps),
		cmocka_unit_test(test_proto_report_fit__drift),
		cmocka_unit_test(
		    test_proto_report_fit__failed_before_drift),
		cmocka_unit_test(test_proto_facts__round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
