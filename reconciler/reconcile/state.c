/*
 * Reading Leura's state from etcd (state.h): the head, the documents'
 * keys, documents and files on demand, observed reports and heartbeats,
 * deploy history.  The documents a compiled state asks for are built here
 * too.  Keys and the documents' form are proto/'s (keys.h, doc.h), so
 * that reading and writing, here and in the agent, agree on one form.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "doc.h"
#include "json.h"
#include "keys.h"
#include "state.h"
#include "xalloc.h"

/* Parse a JSON value read from etcd; NULL with err set. */
static json_t *
parse_value(const struct etcd_kv *kv, struct lr_err *err)
{
	return proto_value_parse(kv->key, kv->value, kv->value_len, err);
}

int
rec_applied_load(struct etcd *e, const char *prefix, struct rec_applied *out,
    struct lr_err *err)
{
	struct rec_applied a = { 0 };
	struct etcd_range_result r = { 0 };
	struct etcd_range_req q = { 0 };
	struct etcd_kv kv = { 0 };
	char host[256], *key, *hp = NULL;
	const char *sha;
	json_t *cur;
	int64_t g;
	size_t i, plen;
	int rc;

	a.prefix = lr_xstrdup(prefix);
	a.hosts = json_object();
	a.stale = json_array();
	if ((rc = rec_fleet_load(e, prefix, &a.fleet, err)) < 0)
		goto out;
	key = proto_key_head(prefix);
	rc = etcd_get(e, key, &kv, &a.revision, err);
	free(key);
	if (rc == 0) {
		if ((a.head = parse_value(&kv, err)) == NULL) {
			rc = LR_EETCD;
			goto out;
		}
		a.head_rev = kv.mod_revision;
		a.generation = lr_json_int(a.head, PROTO_HEAD_GENERATION);
		a.head_raw = lr_xmalloc(kv.value_len + 1);
		memcpy(a.head_raw, kv.value, kv.value_len);
		a.head_raw[kv.value_len] = '\0';
		a.head_raw_len = kv.value_len;
	} else if (rc != LR_ENOENT)
		goto out;
	lr_err_clear(err);
	hp = proto_key_docs_dir(prefix);
	plen = strlen(hp);
	q.key = hp;
	q.flags = ETCD_PREFIX | ETCD_KEYS_ONLY;
	q.revision = a.revision;
	if ((rc = etcd_range(e, &q, &r, err)) < 0)
		goto out;
	if (a.revision == 0)
		a.revision = r.revision;
	/* keys sort by host then generation: the last one <= head wins */
	for (i = 0; i < r.nkvs; i++) {
		if (!proto_doc_key_split(r.kvs[i].key + plen, host,
		    sizeof(host), &g, &sha))
			continue;
		if (g > a.max_generation)
			a.max_generation = g;
		if (g > a.generation) {
			json_array_append_new(a.stale,
			    json_string(r.kvs[i].key));
			continue;
		}
		if ((cur = json_object_get(a.hosts, host)) != NULL)
			json_array_append(a.stale, json_object_get(cur, "key"));
		json_object_set_new(a.hosts, host, json_pack("{s:I, s:s, s:s, "
		    "s:b}", "generation", (json_int_t)g, "sha256", sha, "key",
		    r.kvs[i].key, "removed",
		    strcmp(sha, PROTO_TOMBSTONE) == 0));
	}
	rc = 0;
	*out = a;
	memset(&a, 0, sizeof(a));
out:
	free(hp);
	etcd_kv_release(&kv);
	etcd_range_result_release(&r);
	rec_applied_release(&a);
	return rc;
}

int
rec_fleet_load(struct etcd *e, const char *prefix, char **out,
    struct lr_err *err)
{
	struct etcd_kv kv = { 0 };
	json_t *v = NULL;
	const char *name;
	char *key = proto_key_fleet(prefix);
	int rc;

	*out = NULL;
	if ((rc = etcd_get(e, key, &kv, NULL, err)) == LR_ENOENT) {
		lr_err_clear(err);
		rc = 0;
		goto out;
	}
	if (rc < 0)
		goto out;
	if ((v = parse_value(&kv, err)) == NULL) {
		rc = LR_EETCD;
		goto out;
	}
	if ((name = json_string_value(json_object_get(v,
	    PROTO_FLEET_NAME))) == NULL || *name == '\0') {
		rc = lr_err_set(err, LR_EETCD, "'%s' in etcd names no fleet",
		    key);
		lr_err_hint(err, "delete the key: the next apply records "
		    "leura.yml's name");
		goto out;
	}
	*out = lr_xstrdup(name);
out:
	json_decref(v);
	etcd_kv_release(&kv);
	free(key);
	return rc;
}

/* a name from etcd, as it may be shown: visible characters, bounded */
static void
visible(char *dst, size_t len, const char *s)
{
	struct lr_buf b = LR_BUF_INIT;

	lr_buf_add_visible(&b, s, strnlen(s, 64), 0);
	snprintf(dst, len, "%s", b.s);
	lr_buf_release(&b);
}

int
rec_fleet_check(const char *recorded, const char *name,
    const char *endpoints, const char *prefix, struct lr_err *err)
{
	char rec[160];

	if (recorded == NULL || (name != NULL && strcmp(recorded, name) == 0))
		return 0;
	visible(rec, sizeof(rec), recorded);
	if (name == NULL) {
		lr_err_set(err, LR_ECONFLICT, "etcd at '%s' holds fleet '%s' "
		    "under prefix '%s', and leura.yml names no fleet",
		    endpoints, rec, prefix);
		return lr_err_hint(err, "if this repo is fleet '%s', add "
		    "'name: %s' to leura.yml; else check the endpoint "
		    "(--etcd, LEURA_ETCD, etcd.endpoints) and prefix", rec,
		    rec);
	}
	lr_err_set(err, LR_ECONFLICT, "etcd at '%s' holds fleet '%s' under "
	    "prefix '%s', not '%s' (the name in leura.yml)", endpoints, rec,
	    prefix, name);
	return lr_err_hint(err, "wrong etcd? check --etcd, LEURA_ETCD and "
	    "etcd.endpoints (leura.yml, config file); sharing one etcd? give "
	    "each fleet its own prefix (LEURA_ETCD_PREFIX, etcd.prefix)");
}

void
rec_applied_release(struct rec_applied *a)
{
	free(a->fleet);
	free(a->prefix);
	json_decref(a->head);
	free(a->head_raw);
	json_decref(a->hosts);
	json_decref(a->stale);
	memset(a, 0, sizeof(*a));
}

static int
cmp_json_str(const void *a, const void *b)
{
	return strcmp(json_string_value(*(json_t *const *)a),
	    json_string_value(*(json_t *const *)b));
}

/* Sort an array of strings in place. */
static void
sort_strings(json_t *a)
{
	size_t i, n = json_array_size(a);
	json_t **v = lr_xcalloc(n + 1, sizeof(*v));

	for (i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(a, i));
	qsort(v, n, sizeof(*v), cmp_json_str);
	json_array_clear(a);
	for (i = 0; i < n; i++)
		json_array_append_new(a, v[i]);
	free(v);
}

json_t *
rec_placement_of(const json_t *desired)
{
	json_t *bysvc = json_object(), *byhost = json_object(), *v, *s, *l;
	const char *h;
	size_t i;

	json_object_foreach((json_t *)desired, h, v) {
		json_object_set(byhost, h, json_object_get(v,
		    PROTO_DOC_SERVICES));
		json_array_foreach(json_object_get(v, PROTO_DOC_SERVICES), i,
		    s) {
			if ((l = json_object_get(bysvc,
			    json_string_value(s))) == NULL) {
				l = json_array();
				json_object_set_new(bysvc,
				    json_string_value(s), l);
			}
			json_array_append_new(l, json_string(h));
		}
	}
	/* sorted, as the compiled placement is: the diff compares lists */
	json_object_foreach(bysvc, h, l)
		sort_strings(l);
	return json_pack("{s:o, s:o}", "services", bysvc, "hosts", byhost);
}

/* Read the committed document of host h (entry v of a->hosts). */
static int
add_doc(json_t *desired, const char *h, const struct etcd_kv *kv,
    struct lr_err *err)
{
	json_t *doc;

	if ((doc = parse_value(kv, err)) == NULL)
		return LR_EETCD;
	json_object_set_new(desired, h, doc);
	return 0;
}

/* Below this many hosts, one read each; above, one read of them all. */
#define FEW_HOSTS 16

int
rec_applied_docs(struct etcd *e, const struct rec_applied *a,
    const json_t *hosts, struct rec_compiled *out, struct lr_err *err)
{
	struct etcd_range_result r = { 0 };
	struct etcd_range_req q = { 0 };
	json_t *desired = json_object(), *want = NULL, *v, *x;
	const char *h;
	char *pfx = NULL;
	size_t i, plen;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	/* every read is at the revision the keys were listed at */
	q.revision = a->revision;
	if (hosts) {
		want = json_object();
		json_array_foreach((json_t *)hosts, i, x)
			json_object_set(want, json_string_value(x), json_true());
	}
	if (hosts == NULL || json_array_size(hosts) > FEW_HOSTS) {
		pfx = proto_key_docs_dir(a->prefix);
		plen = strlen(pfx);
		q.key = pfx;
		q.flags = ETCD_PREFIX;
		if ((rc = etcd_range(e, &q, &r, err)) < 0)
			goto out;
		for (i = 0; i < r.nkvs && rc == 0; i++) {
			char host[256];
			const char *sha;
			int64_t g;

			if (!proto_doc_key_split(r.kvs[i].key + plen, host,
			    sizeof(host), &g, &sha))
				continue;
			v = json_object_get(a->hosts, host);
			if (v == NULL || json_is_true(json_object_get(v,
			    "removed")) || (want && !json_object_get(want,
			    host)) || strcmp(json_string_value(
			    json_object_get(v, "key")), r.kvs[i].key) != 0)
				continue;
			rc = add_doc(desired, host, &r.kvs[i], err);
		}
	} else {
		json_object_foreach(want, h, x) {
			v = json_object_get(a->hosts, h);
			if (v == NULL || json_is_true(json_object_get(v,
			    "removed")))
				continue;
			q.key = json_string_value(json_object_get(v, "key"));
			if ((rc = etcd_range(e, &q, &r, err)) < 0)
				goto out;
			if (r.nkvs == 1)
				rc = add_doc(desired, h, &r.kvs[0], err);
			etcd_range_result_release(&r);
			if (rc < 0)
				goto out;
		}
	}
	if (rc < 0)
		goto out;
	out->desired = desired;
	desired = NULL;
	out->files = json_object();
	if (hosts == NULL)
		out->placement = rec_placement_of(out->desired);
out:
	free(pfx);
	json_decref(want);
	json_decref(desired);
	etcd_range_result_release(&r);
	return rc;
}

int
rec_applied_files(struct etcd *e, const struct rec_applied *a,
    const json_t *shas, struct rec_compiled *c, struct lr_err *err)
{
	struct etcd_kv kv = { 0 };
	json_t *v;
	char *key;
	size_t i;
	int rc;

	json_array_foreach((json_t *)shas, i, v) {
		if (json_object_get(c->files, json_string_value(v)))
			continue;
		key = proto_key_file(a->prefix, json_string_value(v));
		rc = etcd_get(e, key, &kv, NULL, err);
		free(key);
		if (rc == LR_ENOENT)
			continue;	/* shown as a hash change */
		if (rc < 0)
			return rc;
		json_object_set_new(c->files, json_string_value(v),
		    json_pack("{s:I, s:s%}", "size", (json_int_t)kv.value_len,
		    "content", kv.value, kv.value_len));
		etcd_kv_release(&kv);
	}
	return 0;
}

/* ---- documents from a compiled state ---- */

/*
 * The hosts of sv that host h waits for under sv's rollout (hosts: sv's
 * sorted placement): with max_parallel N, the host N places before h, so
 * that the hosts form N chains converging one host at a time; with
 * batches, every host of the batch before h's.  Batches are cumulative
 * targets: [1, 10%, 100%] is the first host, then up to 10% of them,
 * then all; the last batch takes the hosts beyond the last target.
 * New reference, an empty array when h waits for none.
 */
static json_t *
rollout_preds(const struct spec_service *sv, const json_t *hosts,
    const char *h)
{
	json_t *out = json_array();
	size_t n = json_array_size(hosts), i, k, lo, start = 0, prev = 0, t;

	for (i = 0; i < n; i++)
		if (strcmp(json_string_value(json_array_get(hosts, i)), h) ==
		    0)
			break;
	if (i == n)
		return out;
	if (sv->max_parallel > 0) {
		if (i >= (size_t)sv->max_parallel)
			json_array_append(out, json_array_get(hosts,
			    i - (size_t)sv->max_parallel));
		return out;
	}
	if (sv->nbatches == 0)
		return out;
	/* [start, t) is batch k; prev is where the batch before it began */
	for (k = 0; k < sv->nbatches; k++) {
		t = sv->batches[k].percent ? (n * (size_t)
		    sv->batches[k].value + 99) / 100 :
		    (size_t)sv->batches[k].value;
		if (t > n)
			t = n;
		if (t <= start)
			continue;	/* an empty batch */
		if (i < t)
			break;
		prev = start;
		start = t;
	}
	for (lo = prev; start > 0 && lo < start; lo++)
		json_array_append(out, json_array_get(hosts, lo));
	return out;
}

/*
 * doc["gates"]: {svc: [{"service", "hosts", "why"}]} for the host's
 * services that wait for other hosts: the instances of each dependency
 * ("depends_on") and the hosts before it in the service's rollout
 * ("rollout").  doc["drift"]: {svc: "repair"|"report"} and
 * doc["drift_interval_ms"].  The agent reads them (agent/converge.c).
 */
static void
doc_rollout(const struct spec_repo *repo, const struct rec_compiled *c,
    const char *h, json_t *doc)
{
	const json_t *placed = json_object_get(c->placement, "services");
	const struct spec_service *sv;
	json_t *gates = json_object(), *drift = json_object(), *g, *x, *l;
	size_t i, j;

	json_array_foreach(json_object_get(doc, PROTO_DOC_SERVICES), i, x) {
		sv = spec_repo_find_service(repo, json_string_value(x));
		if (sv == NULL)
			continue;
		json_object_set_new(drift, sv->name, json_string(
		    sv->drift == SPEC_DRIFT_REPORT ? PROTO_DRIFT_REPORT :
		    PROTO_DRIFT_REPAIR));
		g = json_array();
		for (j = 0; j < sv->ndepends_on; j++) {
			l = json_object_get(placed, sv->depends_on[j].name);
			if (json_array_size(l) > 0)
				json_array_append_new(g, json_pack(
				    "{s:s, s:O, s:s}", PROTO_GATE_SERVICE,
				    sv->depends_on[j].name, PROTO_GATE_HOSTS,
				    l, PROTO_GATE_WHY,
				    PROTO_GATE_WHY_DEPENDS_ON));
		}
		l = rollout_preds(sv, json_object_get(placed, sv->name), h);
		if (json_array_size(l) > 0)
			json_array_append_new(g, json_pack("{s:s, s:O, s:s}",
			    PROTO_GATE_SERVICE, sv->name, PROTO_GATE_HOSTS, l,
			    PROTO_GATE_WHY, PROTO_GATE_WHY_ROLLOUT));
		json_decref(l);
		if (json_array_size(g) > 0)
			json_object_set_new(gates, sv->name, g);
		else
			json_decref(g);
	}
	json_object_set_new(doc, PROTO_DOC_GATES, gates);
	json_object_set_new(doc, PROTO_DOC_DRIFT, drift);
	json_object_set_new(doc, PROTO_DOC_DRIFT_INTERVAL_MS, json_integer(
	    repo->settings.defaults.drift_interval_ms));
}

json_t *
rec_docs_build(const struct spec_repo *repo, const struct rec_compiled *c)
{
	char sha[LR_SHA256_HEX_LEN + 1], *s;
	const struct spec_service *sv;
	json_t *docs = json_object(), *doc, *deps, *x, *l;
	const char *h;
	size_t i, j;

	json_object_foreach(c->desired, h, doc) {
		deps = json_object();
		json_array_foreach(json_object_get(doc, PROTO_DOC_SERVICES), i,
		    x) {
			sv = spec_repo_find_service(repo, json_string_value(x));
			if (sv == NULL || sv->ndepends_on == 0)
				continue;
			l = json_array();
			for (j = 0; j < sv->ndepends_on; j++)
				json_array_append_new(l, json_string(
				    sv->depends_on[j].name));
			json_object_set_new(deps, sv->name, l);
		}
		/* in place: the compiled document is the applied one */
		json_object_set_new(doc, PROTO_DOC_DEPENDS_ON, deps);
		doc_rollout(repo, c, h, doc);
		s = proto_doc_canonical(doc, sha);
		json_object_set_new(docs, h, json_pack("{s:O, s:s, s:o}", "doc",
		    doc, "sha256", sha, "json", json_string_nocheck(s)));
		free(s);
	}
	return docs;
}

json_t *
rec_docs_changes(const json_t *docs, const struct rec_applied *a)
{
	json_t *changed = json_array(), *removed = json_array(), *v, *cur;
	const char *h;

	json_object_foreach((json_t *)docs, h, v) {
		cur = json_object_get(a->hosts, h);
		if (cur == NULL || json_is_true(json_object_get(cur,
		    "removed")) || strcmp(json_string_value(json_object_get(
		    cur, "sha256")), json_string_value(json_object_get(v,
		    "sha256"))) != 0)
			json_array_append_new(changed, json_string(h));
	}
	json_object_foreach(a->hosts, h, v) {
		if (!json_is_true(json_object_get(v, "removed")) &&
		    json_object_get(docs, h) == NULL)
			json_array_append_new(removed, json_string(h));
	}
	return json_pack("{s:o, s:o}", "changed", changed, "removed",
	    removed);
}

/* ---- observed state, heartbeats, history ---- */

/* {last path component: parsed value} of every key under dir (taken). */
static int
load_dir(struct etcd *e, char *dir, json_t **out, struct lr_err *err)
{
	struct etcd_range_result r = { 0 };
	struct etcd_range_req q = { 0 };
	json_t *o = json_object(), *v;
	const char *name;
	size_t i;
	int rc;

	q.key = dir;
	q.flags = ETCD_PREFIX;
	if ((rc = etcd_range(e, &q, &r, err)) < 0)
		goto out;
	for (i = 0; i < r.nkvs; i++) {
		if ((name = proto_key_host_in(r.kvs[i].key, dir)) == NULL)
			continue;	/* not a host's own key */
		if ((v = parse_value(&r.kvs[i], err)) == NULL) {
			rc = LR_EETCD;
			goto out;
		}
		json_object_set_new(o, name, v);
	}
	*out = o;
	o = NULL;
out:
	json_decref(o);
	free(dir);
	etcd_range_result_release(&r);
	return rc;
}

int
rec_observed_load(struct etcd *e, const char *prefix, json_t **observed,
    json_t **agents, struct lr_err *err)
{
	json_t *o = NULL;
	int rc;

	if ((rc = load_dir(e, proto_key_observed_dir(prefix), &o, err)) < 0)
		return rc;
	if ((rc = load_dir(e, proto_key_agents_dir(prefix), agents,
	    err)) < 0) {
		json_decref(o);
		return rc;
	}
	*observed = o;
	return 0;
}

static int
cmp_desc(const void *a, const void *b)
{
	return strcmp(*(const char *const *)b, *(const char *const *)a);
}

int
rec_history_load(struct etcd *e, const char *prefix, size_t limit,
    json_t **out, struct lr_err *err)
{
	json_t *all = NULL, *list, *v;
	const char *k;
	const char **keys;
	size_t n, i;
	int rc;

	if ((rc = load_dir(e, proto_key_deploys_dir(prefix), &all, err)) < 0)
		return rc;
	/* keys are zero-padded deploy numbers: sort, newest first */
	n = json_object_size(all);
	keys = lr_xcalloc(n + 1, sizeof(*keys));
	i = 0;
	json_object_foreach(all, k, v)
		keys[i++] = k;
	qsort(keys, n, sizeof(*keys), cmp_desc);
	list = json_array();
	for (i = 0; i < n && (limit == 0 || i < limit); i++)
		json_array_append(list, json_object_get(all, keys[i]));
	free(keys);
	json_decref(all);
	*out = list;
	return 0;
}
