/*
 * The host document, tombstone and head codecs (doc.h).  Everything is
 * built with jansson and dumped with PROTO_DUMP_FLAGS; the one join of
 * two texts, the stamp in front of a document's canonical text, joins two
 * jansson dumps so that the hashed text is stored as it was hashed.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "doc.h"
#include "json.h"
#include "xalloc.h"

char *
proto_dumps(const json_t *doc)
{
	char *s = json_dumps(doc, PROTO_DUMP_FLAGS);

	if (s == NULL)
		LR_BUG("not a JSON document");
	return s;
}

json_t *
proto_value_parse(const char *key, const char *val, size_t len,
    struct lr_err *err)
{
	json_error_t je;
	json_t *v;

	v = json_loadb(val, len, 0, &je);
	if (v == NULL)
		lr_err_set(err, LR_EETCD, "the value of '%s' in etcd is not "
		    "JSON: %s", key, je.text);
	else if (!json_is_object(v)) {
		json_decref(v);
		v = NULL;
		lr_err_set(err, LR_EETCD, "the value of '%s' in etcd is not "
		    "a JSON object", key);
	}
	if (v == NULL)
		lr_err_hint(err, "something other than leura wrote it; "
		    "delete the key or restore it from a backup");
	return v;
}

/* ---- a host's desired state ---- */

char *
proto_doc_canonical(const json_t *doc, char sha[LR_SHA256_HEX_LEN + 1])
{
	char *s = proto_dumps(doc);

	lr_sha256_hex(s, strlen(s), sha);
	return s;
}

/* {"commit","deploy","generation"}: new reference */
static json_t *
stamp(int64_t gen, int64_t deploy, const char *commit)
{
	json_t *o = json_object();

	json_object_set_new(o, PROTO_DOC_COMMIT, json_string(commit));
	json_object_set_new(o, PROTO_DOC_DEPLOY,
	    json_integer((json_int_t)deploy));
	json_object_set_new(o, PROTO_DOC_GENERATION,
	    json_integer((json_int_t)gen));
	return o;
}

char *
proto_doc_value(const char *canonical, int64_t gen, int64_t deploy,
    const char *commit)
{
	struct lr_buf b = LR_BUF_INIT;
	json_t *st = stamp(gen, deploy, commit);
	char *s = proto_dumps(st);

	/* '{' stamp ',' members '}': the canonical text keeps its bytes */
	if (canonical[0] != '{' || canonical[1] == '}')
		LR_BUG("canonical text of an empty document");
	lr_buf_add(&b, s, strlen(s) - 1);
	lr_buf_addc(&b, ',');
	lr_buf_adds(&b, canonical + 1);
	free(s);
	json_decref(st);
	return lr_buf_detach(&b, NULL);
}

size_t
proto_doc_value_max(size_t canonical_len, const char *commit)
{
	/* the stamp's names, two 19-digit numbers and punctuation */
	return canonical_len + strlen(commit) + 80;
}

/*
 * Not sorted: "deploy" comes before "depends_on", as tombstones have
 * always been written.  jansson keeps the order members were set in.
 */
char *
proto_tombstone_value(int64_t gen, int64_t deploy, const char *commit)
{
	json_t *o = json_object();
	char *s;

	json_object_set_new(o, PROTO_DOC_COMMIT, json_string(commit));
	json_object_set_new(o, PROTO_DOC_DEPLOY,
	    json_integer((json_int_t)deploy));
	json_object_set_new(o, PROTO_DOC_DEPENDS_ON, json_object());
	json_object_set_new(o, PROTO_DOC_GENERATION,
	    json_integer((json_int_t)gen));
	json_object_set_new(o, PROTO_DOC_REMOVED, json_true());
	json_object_set_new(o, PROTO_DOC_SERVICES, json_array());
	json_object_set_new(o, PROTO_DOC_STEPS, json_array());
	if ((s = json_dumps(o, JSON_COMPACT)) == NULL)
		LR_BUG("not a JSON document");
	json_decref(o);
	return s;
}

void
proto_doc_stamp_decode(const json_t *doc, struct proto_doc_stamp *out)
{
	out->generation = lr_json_int(doc, PROTO_DOC_GENERATION);
	out->deploy = lr_json_int(doc, PROTO_DOC_DEPLOY);
	out->commit = lr_json_strn(doc, PROTO_DOC_COMMIT);
	out->removed = lr_json_bool(doc, PROTO_DOC_REMOVED);
}

json_t *
proto_doc_unstamp(const json_t *doc)
{
	json_t *o = json_deep_copy(doc);

	json_object_del(o, PROTO_DOC_COMMIT);
	json_object_del(o, PROTO_DOC_DEPLOY);
	json_object_del(o, PROTO_DOC_GENERATION);
	json_object_del(o, PROTO_SIGNATURE);
	return o;
}

/* ---- the head and the deploy records ---- */

/* s, or json null when NULL (as json_pack's "s?" always wrote them) */
static void
set_str_or_null(json_t *o, const char *k, const char *s)
{
	json_object_set_new(o, k, s != NULL ? json_string(s) : json_null());
}

json_t *
proto_head_encode(const struct proto_head *h)
{
	json_t *o = json_object(), *prev;

	lr_json_set_str(o, PROTO_HEAD_APPLY_ID, h->apply_id);
	lr_json_set_int(o, PROTO_HEAD_DEPLOY, h->deploy);
	lr_json_set_str(o, PROTO_HEAD_COMMIT, h->commit);
	set_str_or_null(o, PROTO_HEAD_TREE, h->tree);
	lr_json_set_str(o, PROTO_HEAD_LEURA, h->leura);
	set_str_or_null(o, PROTO_HEAD_REF, h->ref);
	set_str_or_null(o, PROTO_HEAD_SUMMARY, h->summary);
	set_str_or_null(o, PROTO_HEAD_AUTHOR, h->author);
	lr_json_set_str(o, PROTO_HEAD_BY, h->by);
	lr_json_set_str(o, PROTO_HEAD_AT, h->at);
	lr_json_set_int(o, PROTO_HEAD_GENERATION, h->generation);
	json_object_set_new(o, PROTO_HEAD_ROLLBACK,
	    json_boolean(h->rollback));
	lr_json_set_int(o, PROTO_HEAD_HOSTS_WRITTEN, h->hosts_written);
	lr_json_set_int(o, PROTO_HEAD_HOSTS, h->hosts);
	if (h->previous_commit != NULL) {
		prev = json_object();
		lr_json_set_int(prev, PROTO_HEAD_DEPLOY, h->previous_deploy);
		lr_json_set_str(prev, PROTO_HEAD_COMMIT, h->previous_commit);
		json_object_set_new(o, PROTO_HEAD_PREVIOUS, prev);
	}
	if (json_array_size(h->skipped) > 0)
		json_object_set_new(o, PROTO_HEAD_SKIPPED,
		    json_deep_copy(h->skipped));
	if (json_object_size(h->make_before_break) > 0)
		json_object_set_new(o, PROTO_HEAD_MAKE_BEFORE_BREAK,
		    json_deep_copy(h->make_before_break));
	return o;
}

void
proto_head_decode(const json_t *head, struct proto_head *out)
{
	const json_t *prev = json_object_get(head, PROTO_HEAD_PREVIOUS);

	memset(out, 0, sizeof(*out));
	out->deploy = lr_json_int(head, PROTO_HEAD_DEPLOY);
	out->generation = lr_json_int(head, PROTO_HEAD_GENERATION);
	out->commit = lr_json_strn(head, PROTO_HEAD_COMMIT);
	out->tree = lr_json_strn(head, PROTO_HEAD_TREE);
	out->ref = lr_json_strn(head, PROTO_HEAD_REF);
	out->summary = lr_json_strn(head, PROTO_HEAD_SUMMARY);
	out->author = lr_json_strn(head, PROTO_HEAD_AUTHOR);
	out->by = lr_json_strn(head, PROTO_HEAD_BY);
	out->at = lr_json_strn(head, PROTO_HEAD_AT);
	out->rollback = lr_json_bool(head, PROTO_HEAD_ROLLBACK);
	out->hosts = lr_json_int(head, PROTO_HEAD_HOSTS);
	out->hosts_written = lr_json_int(head, PROTO_HEAD_HOSTS_WRITTEN);
	out->make_before_break = json_object_get(head,
	    PROTO_HEAD_MAKE_BEFORE_BREAK);
	out->skipped = json_object_get(head, PROTO_HEAD_SKIPPED);
	out->leura = lr_json_strn(head, PROTO_HEAD_LEURA);
	out->apply_id = lr_json_strn(head, PROTO_HEAD_APPLY_ID);
	if (json_is_object(prev)) {
		out->previous_deploy = lr_json_int(prev, PROTO_HEAD_DEPLOY);
		out->previous_commit = lr_json_strn(prev, PROTO_HEAD_COMMIT);
	}
}

/* ---- generations never deployed ---- */

static bool
range_get(const json_t *r, int64_t *lo, int64_t *hi)
{
	if (!json_is_array(r) || json_array_size(r) != 2 ||
	    !json_is_integer(json_array_get(r, 0)) ||
	    !json_is_integer(json_array_get(r, 1)))
		return false;
	*lo = json_integer_value(json_array_get(r, 0));
	*hi = json_integer_value(json_array_get(r, 1));
	return *lo <= *hi;
}

json_t *
proto_skipped_add(const json_t *prev, int64_t lo, int64_t hi)
{
	json_t *out = json_array(), *r;
	int64_t a, b;
	size_t i;
	bool placed = lo > hi;

	json_array_foreach((json_t *)prev, i, r) {
		if (!range_get(r, &a, &b))
			continue;
		if (!placed && b + 1 >= lo && a <= hi + 1) {
			/* overlaps or touches the new range: absorb it */
			lo = a < lo ? a : lo;
			hi = b > hi ? b : hi;
			continue;
		}
		if (!placed && a > hi) {
			json_array_append_new(out, json_pack("[I,I]",
			    (json_int_t)lo, (json_int_t)hi));
			placed = true;
		}
		json_array_append_new(out, json_pack("[I,I]", (json_int_t)a,
		    (json_int_t)b));
	}
	if (!placed)
		json_array_append_new(out, json_pack("[I,I]", (json_int_t)lo,
		    (json_int_t)hi));
	return out;
}

bool
proto_skipped_has(const json_t *skipped, int64_t g)
{
	const json_t *r;
	int64_t a, b;
	size_t i;

	json_array_foreach((json_t *)skipped, i, r)
		if (range_get(r, &a, &b) && a <= g && g <= b)
			return true;
	return false;
}

/* ---- signatures ---- */

#define SIG_MEMBER	",\"" PROTO_SIGNATURE "\":\""
#define DOC_CONTEXT	"leura-doc-v1\n"
#define HEAD_CONTEXT	"leura-head-v1\n"
#define RUN_CONTEXT	"leura-run-v1\n"

/*
 * What is signed: the context, the host and U, into m.  ctx: DOC_CONTEXT
 * or RUN_CONTEXT with a host, HEAD_CONTEXT without.
 */
static void
message(struct lr_buf *m, const char *ctx, const char *u, size_t ulen,
    const char *host)
{
	lr_buf_adds(m, ctx);
	if (host != NULL) {
		lr_buf_adds(m, host);
		lr_buf_addc(m, '\n');
	}
	lr_buf_add(m, u, ulen);
}

static char *
sign_value(const char *ctx, const char *u, const char *host,
    const struct lr_sign_key *k)
{
	struct lr_buf m = LR_BUF_INIT, out = LR_BUF_INIT;
	size_t ulen = strlen(u);
	char *sig;

	if (ulen < 2 || u[0] != '{' || u[ulen - 1] != '}' || u[1] == '}')
		LR_BUG("signing what is not a non-empty JSON object");
	message(&m, ctx, u, ulen, host);
	sig = lr_sign(k, m.s, m.len);
	lr_buf_add(&out, u, ulen - 1);
	lr_buf_adds(&out, SIG_MEMBER);
	lr_buf_adds(&out, sig);
	lr_buf_adds(&out, "\"}");
	free(sig);
	lr_buf_release(&m);
	return lr_buf_detach(&out, NULL);
}

/*
 * Where the signature member starts in val (the last SIG_MEMBER, followed
 * by a string without escapes and "}" at the very end), and the
 * signature in sig[]; -1 when val has none.
 */
static ssize_t
sig_member(const char *val, size_t len, char *sig, size_t siglen)
{
	size_t ml = strlen(SIG_MEMBER), j, n;

	if (len < ml + 2 || val[len - 1] != '}' || val[len - 2] != '"')
		return -1;
	/* j: the start of the last string, which holds no escape */
	for (j = len - 2; j > 0 && val[j - 1] != '"' && val[j - 1] != '\\';
	    j--)
		;
	/* the member's text ends with the string's opening quote */
	if (j < ml || memcmp(val + j - ml, SIG_MEMBER, ml) != 0)
		return -1;
	n = len - 2 - j;
	if (n + 1 > siglen || memchr(val + j, '\0', n) != NULL)
		return -1;
	memcpy(sig, val + j, n);
	sig[n] = '\0';
	return (ssize_t)(j - ml);
}

char *
proto_sign_value(const char *u, const char *host,
    const struct lr_sign_key *k)
{
	return sign_value(host != NULL ? DOC_CONTEXT : HEAD_CONTEXT, u, host,
	    k);
}

char *
proto_sign_run_value(const char *u, const char *host,
    const struct lr_sign_key *k)
{
	if (host == NULL)
		LR_BUG("a run dispatch is signed for a host");
	return sign_value(RUN_CONTEXT, u, host, k);
}

static int
verify_value(const char *ctx, const char *val, size_t len, const char *host,
    const struct lr_sign_key *keys, json_t **out, struct lr_err *err)
{
	struct lr_buf u = LR_BUF_INIT, m = LR_BUF_INIT;
	json_error_t je;
	json_t *v = NULL;
	char sig[256];
	ssize_t at;
	int rc;

	if ((at = sig_member(val, len, sig, sizeof(sig))) <= 0)
		return lr_err_set(err, LR_EINVAL, "it is not signed");
	/* U: the bytes before the member, and the closing brace */
	lr_buf_add(&u, val, (size_t)at);
	lr_buf_addc(&u, '}');
	message(&m, ctx, u.s, u.len, host);
	if ((rc = lr_sign_verify(keys, m.s, m.len, sig, err)) < 0) {
		if (host != NULL && strstr(err->msg, "does not match"))
			lr_err_set(err, rc, "the signature does not match: "
			    "it was changed after signing, or signed for "
			    "another host than '%s' (a copy of its document)",
			    host);
		goto out;
	}
	v = json_loadb(u.s, u.len, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(v) || json_object_get(v, PROTO_SIGNATURE)) {
		/* a good signature over this: only a key holder's bug */
		rc = lr_err_set(err, LR_EINVAL, "what is signed is not a "
		    "JSON object of its own: %s", v ? "a nested signature" :
		    je.text);
		goto out;
	}
	*out = v;
	v = NULL;
out:
	json_decref(v);
	lr_buf_release(&u);
	lr_buf_release(&m);
	return rc;
}

int
proto_verify_value(const char *val, size_t len, const char *host,
    const struct lr_sign_key *keys, json_t **out, struct lr_err *err)
{
	return verify_value(host != NULL ? DOC_CONTEXT : HEAD_CONTEXT, val,
	    len, host, keys, out, err);
}

int
proto_verify_run_value(const char *val, size_t len, const char *host,
    const struct lr_sign_key *keys, json_t **out, struct lr_err *err)
{
	if (host == NULL)
		LR_BUG("a run dispatch is verified for a host");
	return verify_value(RUN_CONTEXT, val, len, host, keys, out, err);
}
