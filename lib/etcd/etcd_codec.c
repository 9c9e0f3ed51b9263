/*
 * The etcd client's codec (etcd-int.h, and the pure parts of etcd.h):
 * base64, small JSON helpers, the request encoders, the txn builder and
 * the answer decoders.  No I/O and no transport: what to send and how to
 * read what came back.  The other half of the transport-free core
 * (configuration, curl, HTTP answers, streams) is etcd_core.c.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "etcd-int.h"
#include "xalloc.h"

/* ---- base64 ----------------------------------------------------------- */

char *
etcd_b64_encode(const void *p, size_t len)
{
	char *out;

	out = lr_xmalloc(4 * ((len + 2) / 3) + 1);
	if (len > 0)
		EVP_EncodeBlock((unsigned char *)out, p, (int)len);
	else
		out[0] = '\0';
	return out;
}

static bool
b64_char(int c)
{
	return isalnum((unsigned char)c) || c == '+' || c == '/';
}

char *
etcd_b64_decode(const char *s, size_t *len)
{
	size_t n, i, pad;
	unsigned char *out;
	int got;

	n = strlen(s);
	if (n % 4 != 0 || n > (size_t)(1 << 30))
		return NULL;
	/* EVP_DecodeBlock skips blanks and takes '=' anywhere: be strict */
	pad = 0;
	if (n > 0 && s[n - 1] == '=')
		pad++;
	if (n > 1 && s[n - 2] == '=')
		pad++;
	for (i = 0; i < n - pad; i++)
		if (!b64_char(s[i]))
			return NULL;
	out = lr_xmalloc(n / 4 * 3 + 1);
	if (n == 0) {
		*len = 0;
		out[0] = '\0';
		return (char *)out;
	}
	got = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
	if (got < 0 || (size_t)got < pad) {
		free(out);
		return NULL;
	}
	/* DecodeBlock counts the padding as zero bytes */
	*len = (size_t)got - pad;
	out[*len] = '\0';
	return (char *)out;
}

/*
 * The smallest key greater than every key starting with key: the last byte
 * that is not 0xff incremented, the rest cut.  "" means no upper bound
 * (key empty or all 0xff): the encoders send it as "\0", etcd's "to the
 * end of the keyspace".
 */
char *
etcd_prefix_end(const char *key)
{
	char *end;
	size_t n;

	end = lr_xstrdup(key);
	n = strlen(end);
	while (n > 0) {
		if ((unsigned char)end[n - 1] != 0xff) {
			end[n - 1]++;
			end[n] = '\0';
			return end;
		}
		n--;
	}
	end[0] = '\0';
	return end;
}

/* ---- small JSON helpers ----------------------------------------------- */

static json_t *
b64_json(const void *p, size_t len)
{
	char *s;
	json_t *j;

	s = etcd_b64_encode(p, len);
	j = json_string(s);
	free(s);
	return j;
}

/* A key for a request; "" stands for "\0" (see etcd_prefix_end). */
static json_t *
key_json(const char *key)
{
	if (key[0] == '\0')
		return json_string("AA==");
	return b64_json(key, strlen(key));
}

/* key and range_end: end when given, else the prefix's with ETCD_PREFIX */
static void
set_key_range(json_t *o, const char *key, unsigned flags, const char *to)
{
	char *end;

	json_object_set_new(o, "key", key_json(key));
	if (to != NULL)
		json_object_set_new(o, "range_end", key_json(to));
	else if (flags & ETCD_PREFIX) {
		end = etcd_prefix_end(key);
		json_object_set_new(o, "range_end", key_json(end));
		free(end);
	}
}

static json_t *
int64_json(int64_t v)
{
	char s[24];

	snprintf(s, sizeof(s), "%lld", (long long)v);
	return json_string(s);
}

int64_t
etcd_json_int64(const json_t *o, const char *name)
{
	const json_t *j;
	const char *s;
	char *end;
	long long v;

	if (!json_is_object(o) || (j = json_object_get(o, name)) == NULL)
		return 0;
	if (json_is_integer(j))
		return json_integer_value(j);
	if (!json_is_string(j))
		return 0;
	s = json_string_value(j);
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0')
		return 0;
	return v;
}

int64_t
etcd_header_revision(const json_t *resp)
{
	return etcd_json_int64(json_object_get(resp, "header"), "revision");
}

json_t *
etcd_json_parse(const char *body, size_t len)
{
	if (body == NULL)
		return NULL;
	return json_loadb(body, len, JSON_DECODE_ANY, NULL);
}

char *
etcd_what(const char *op, const char *key)
{
	return lr_xasprintf("%s '%s'", op, key);
}

/* ---- encoders --------------------------------------------------------- */

json_t *
etcd_range_encode(const struct etcd_range_req *req)
{
	json_t *o;

	o = json_object();
	set_key_range(o, req->key, req->flags, req->range_end);
	if (req->flags & ETCD_KEYS_ONLY)
		json_object_set_new(o, "keys_only", json_true());
	if (req->flags & ETCD_COUNT_ONLY)
		json_object_set_new(o, "count_only", json_true());
	if (req->flags & ETCD_SERIALIZABLE)
		json_object_set_new(o, "serializable", json_true());
	if (req->revision > 0)
		json_object_set_new(o, "revision", int64_json(req->revision));
	if (req->limit > 0)
		json_object_set_new(o, "limit", int64_json(req->limit));
	return o;
}

json_t *
etcd_put_encode(const char *key, const void *val, size_t len, int64_t lease,
    unsigned flags)
{
	json_t *o;

	o = json_object();
	json_object_set_new(o, "key", key_json(key));
	json_object_set_new(o, "value", b64_json(val, len));
	if (lease != 0)
		json_object_set_new(o, "lease", int64_json(lease));
	if (flags & ETCD_PREV_KV)
		json_object_set_new(o, "prev_kv", json_true());
	return o;
}

json_t *
etcd_delete_encode(const char *key, unsigned flags)
{
	json_t *o;

	o = json_object();
	set_key_range(o, key, flags, NULL);
	if (flags & ETCD_PREV_KV)
		json_object_set_new(o, "prev_kv", json_true());
	return o;
}

json_t *
etcd_watch_encode(const struct etcd_watch_req *req)
{
	json_t *o;

	o = json_object();
	set_key_range(o, req->key, req->flags, req->range_end);
	if (req->start_revision > 0)
		json_object_set_new(o, "start_revision",
		    int64_json(req->start_revision));
	if (req->flags & ETCD_PREV_KV)
		json_object_set_new(o, "prev_kv", json_true());
	if (req->flags & ETCD_PROGRESS_NOTIFY)
		json_object_set_new(o, "progress_notify", json_true());
	return json_pack("{so}", "create_request", o);
}

json_t *
etcd_auth_encode(const struct etcd_conf *c)
{
	return json_pack("{ssss}", "name", c->user ? c->user : "",
	    "password", c->password ? c->password : "");
}

json_t *
etcd_lease_grant_encode(int64_t ttl_s)
{
	return json_pack("{so}", "TTL", int64_json(ttl_s));
}

json_t *
etcd_lease_id_encode(int64_t id)
{
	return json_pack("{so}", "ID", int64_json(id));
}

/* ---- the txn builder -------------------------------------------------- */

/* JSON overhead of one compare or op besides its base64 strings */
#define TXN_ITEM_BYTES	96

static size_t
b64_len(size_t n)
{
	return 4 * ((n + 2) / 3);
}

void
etcd_txn_init(struct etcd_txn *t)
{
	t->compare = json_array();
	t->success = json_array();
	t->failure = json_array();
	t->bytes = sizeof("{\"compare\":[],\"success\":[],\"failure\":[]}");
	t->nops = 0;
}

void
etcd_txn_release(struct etcd_txn *t)
{
	if (t == NULL)
		return;
	json_decref(t->compare);
	json_decref(t->success);
	json_decref(t->failure);
	t->compare = t->success = t->failure = NULL;
	t->bytes = t->nops = 0;
}

static const char *
cmp_result_name(enum etcd_cmp_result res)
{
	switch (res) {
	case ETCD_CMP_EQUAL:
		return "EQUAL";
	case ETCD_CMP_NOT_EQUAL:
		return "NOT_EQUAL";
	case ETCD_CMP_GREATER:
		return "GREATER";
	case ETCD_CMP_LESS:
		return "LESS";
	}
	LR_BUG("compare result %d", (int)res);
}

static void
cmp_int(struct etcd_txn *t, const char *key, bool prefix,
    enum etcd_cmp_target target, enum etcd_cmp_result res, int64_t v)
{
	const char *tname, *field;
	json_t *c;

	switch (target) {
	case ETCD_CMP_VERSION:
		tname = "VERSION";
		field = "version";
		break;
	case ETCD_CMP_CREATE:
		tname = "CREATE";
		field = "create_revision";
		break;
	case ETCD_CMP_MOD:
		tname = "MOD";
		field = "mod_revision";
		break;
	case ETCD_CMP_VALUE:
	default:
		LR_BUG("etcd_txn_cmp_int on target %d", (int)target);
	}
	c = json_pack("{sossssso}", "key", key_json(key), "target", tname,
	    "result", cmp_result_name(res), field, int64_json(v));
	if (prefix) {
		char *end = etcd_prefix_end(key);

		json_object_set_new(c, "range_end", key_json(end));
		t->bytes += b64_len(strlen(end));
		free(end);
	}
	json_array_append_new(t->compare, c);
	t->bytes += b64_len(strlen(key)) + TXN_ITEM_BYTES;
}

void
etcd_txn_cmp_int(struct etcd_txn *t, const char *key,
    enum etcd_cmp_target target, enum etcd_cmp_result res, int64_t v)
{
	cmp_int(t, key, false, target, res, v);
}

void
etcd_txn_cmp_prefix_int(struct etcd_txn *t, const char *prefix,
    enum etcd_cmp_target target, enum etcd_cmp_result res, int64_t v)
{
	cmp_int(t, prefix, true, target, res, v);
}

void
etcd_txn_cmp_value(struct etcd_txn *t, const char *key,
    enum etcd_cmp_result res, const void *val, size_t len)
{
	json_t *c;

	c = json_pack("{sossssso}", "key", key_json(key), "target", "VALUE",
	    "result", cmp_result_name(res), "value", b64_json(val, len));
	json_array_append_new(t->compare, c);
	t->bytes += b64_len(strlen(key)) + b64_len(len) + TXN_ITEM_BYTES;
}

static void
txn_add_op(struct etcd_txn *t, enum etcd_branch b, const char *kind,
    json_t *op, size_t bytes)
{
	json_array_append_new(b == ETCD_THEN ? t->success : t->failure,
	    json_pack("{so}", kind, op));
	t->bytes += bytes + TXN_ITEM_BYTES;
	t->nops++;
}

void
etcd_txn_put(struct etcd_txn *t, enum etcd_branch b, const char *key,
    const void *val, size_t len, int64_t lease)
{
	txn_add_op(t, b, "request_put",
	    etcd_put_encode(key, val, len, lease, 0),
	    b64_len(strlen(key)) + b64_len(len));
}

void
etcd_txn_delete(struct etcd_txn *t, enum etcd_branch b, const char *key,
    unsigned flags)
{
	txn_add_op(t, b, "request_delete_range",
	    etcd_delete_encode(key, flags & ETCD_PREFIX),
	    2 * b64_len(strlen(key) + 1));
}

void
etcd_txn_range(struct etcd_txn *t, enum etcd_branch b,
    const struct etcd_range_req *req)
{
	txn_add_op(t, b, "request_range", etcd_range_encode(req),
	    2 * b64_len(strlen(req->key) + 1));
}

json_t *
etcd_txn_encode(const struct etcd_txn *t)
{
	return json_pack("{sOsOsO}", "compare", t->compare, "success",
	    t->success, "failure", t->failure);
}

/* ---- decoders --------------------------------------------------------- */

void
etcd_kv_release(struct etcd_kv *kv)
{
	if (kv == NULL)
		return;
	free(kv->key);
	free(kv->value);
	memset(kv, 0, sizeof(*kv));
}

/* base64 field name of o, absent = ""; NULL when malformed */
static char *
b64_field(const json_t *o, const char *name, size_t *len)
{
	const json_t *j;

	j = json_object_get(o, name);
	if (j == NULL) {
		*len = 0;
		return lr_xstrdup("");
	}
	if (!json_is_string(j))
		return NULL;
	return etcd_b64_decode(json_string_value(j), len);
}

int
etcd_kv_decode(const json_t *j, struct etcd_kv *kv, struct lr_err *err)
{
	struct etcd_kv k;
	size_t klen;

	memset(&k, 0, sizeof(k));
	if (!json_is_object(j))
		return lr_err_set(err, LR_EETCD,
		    "malformed answer from etcd: a key-value is not an object");
	if (json_object_get(j, "key") == NULL)
		return lr_err_set(err, LR_EETCD,
		    "malformed answer from etcd: a key-value has no key");
	if ((k.key = b64_field(j, "key", &klen)) == NULL)
		return lr_err_set(err, LR_EETCD,
		    "malformed answer from etcd: key is not base64");
	if ((k.value = b64_field(j, "value", &k.value_len)) == NULL) {
		lr_err_set(err, LR_EETCD, "malformed answer from etcd: "
		    "value of '%s' is not base64", k.key);
		free(k.key);
		return LR_EETCD;
	}
	k.create_revision = etcd_json_int64(j, "create_revision");
	k.mod_revision = etcd_json_int64(j, "mod_revision");
	k.version = etcd_json_int64(j, "version");
	k.lease = etcd_json_int64(j, "lease");
	*kv = k;
	return 0;
}

void
etcd_range_result_release(struct etcd_range_result *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->nkvs; i++)
		etcd_kv_release(&r->kvs[i]);
	free(r->kvs);
	memset(r, 0, sizeof(*r));
}

/* An answer that carries an error object instead of a result. */
static int
embedded_error(const json_t *resp, struct lr_err *err)
{
	const json_t *e;
	const char *msg;

	if ((e = json_object_get(resp, "error")) == NULL)
		return 0;
	msg = json_is_string(e) ? json_string_value(e) :
	    json_string_value(json_object_get(e, "message"));
	return lr_err_set(err, LR_EETCD, "etcd answered with an error: %s",
	    msg ? msg : "(no message)");
}

/* A decodable answer: a JSON object without an embedded error. */
static int
answer_check(const json_t *resp, struct lr_err *err)
{
	if (!json_is_object(resp))
		return lr_err_set(err, LR_EETCD,
		    "malformed answer from etcd: not a JSON object");
	return embedded_error(resp, err);
}

int
etcd_range_decode(const json_t *resp, struct etcd_range_result *out,
    struct lr_err *err)
{
	struct etcd_range_result r;
	const json_t *kvs;
	size_t i;
	int rc;

	if ((rc = answer_check(resp, err)) < 0)
		return rc;
	memset(&r, 0, sizeof(r));
	kvs = json_object_get(resp, "kvs");
	if (kvs != NULL && !json_is_array(kvs))
		return lr_err_set(err, LR_EETCD,
		    "malformed answer from etcd: kvs is not an array");
	if (kvs != NULL && json_array_size(kvs) > 0) {
		r.kvs = lr_xcalloc(json_array_size(kvs), sizeof(*r.kvs));
		for (i = 0; i < json_array_size(kvs); i++) {
			if ((rc = etcd_kv_decode(json_array_get(kvs, i),
			    &r.kvs[i], err)) < 0) {
				etcd_range_result_release(&r);
				return rc;
			}
			r.nkvs++;
		}
	}
	r.count = etcd_json_int64(resp, "count");
	r.more = etcd_json_flag(resp, "more");
	r.revision = etcd_header_revision(resp);
	*out = r;
	return 0;
}

int
etcd_delete_decode(const json_t *resp, int64_t *deleted, struct lr_err *err)
{
	int rc;

	if ((rc = answer_check(resp, err)) < 0)
		return rc;
	if (deleted)
		*deleted = etcd_json_int64(resp, "deleted");
	return 0;
}

void
etcd_txn_result_release(struct etcd_txn_result *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->nops; i++)
		etcd_range_result_release(&r->ops[i].range);
	free(r->ops);
	memset(r, 0, sizeof(*r));
}

int
etcd_txn_decode(const json_t *resp, struct etcd_txn_result *out,
    struct lr_err *err)
{
	struct etcd_txn_result r;
	struct etcd_op_result *op;
	const json_t *ops, *o, *inner;
	size_t i;
	int rc;

	if ((rc = answer_check(resp, err)) < 0)
		return rc;
	memset(&r, 0, sizeof(r));
	r.succeeded = etcd_json_flag(resp, "succeeded");
	r.revision = etcd_header_revision(resp);
	ops = json_object_get(resp, "responses");
	if (ops != NULL && !json_is_array(ops))
		return lr_err_set(err, LR_EETCD,
		    "malformed answer from etcd: responses is not an array");
	if (ops != NULL && json_array_size(ops) > 0)
		r.ops = lr_xcalloc(json_array_size(ops), sizeof(*r.ops));
	for (i = 0; ops != NULL && i < json_array_size(ops); i++) {
		o = json_array_get(ops, i);
		op = &r.ops[i];
		if ((inner = json_object_get(o, "response_put")) != NULL) {
			op->kind = ETCD_OP_PUT;
		} else if ((inner = json_object_get(o,
		    "response_delete_range")) != NULL) {
			op->kind = ETCD_OP_DELETE;
			op->deleted = etcd_json_int64(inner, "deleted");
		} else if ((inner = json_object_get(o,
		    "response_range")) != NULL) {
			op->kind = ETCD_OP_RANGE;
			if ((rc = etcd_range_decode(inner, &op->range,
			    err)) < 0) {
				etcd_txn_result_release(&r);
				return rc;
			}
			if (op->range.revision == 0)
				op->range.revision = r.revision;
		} else {
			r.nops = i;
			etcd_txn_result_release(&r);
			return lr_err_set(err, LR_EETCD, "malformed answer "
			    "from etcd: unknown txn response %zu", i);
		}
		r.nops = i + 1;
	}
	*out = r;
	return 0;
}

int
etcd_auth_decode(const json_t *resp, char **token, struct lr_err *err)
{
	const char *t;

	t = json_string_value(json_object_get(resp, "token"));
	if (t == NULL || t[0] == '\0')
		return lr_err_set(err, LR_EAUTH,
		    "etcd authenticate: the answer holds no token");
	*token = lr_xstrdup(t);
	return 0;
}

bool
etcd_auth_disabled(long status, const json_t *body)
{
	const char *msg;

	msg = json_string_value(json_object_get(body, "message"));
	if (msg == NULL)
		msg = json_string_value(json_object_get(body, "error"));
	return msg != NULL &&
	    strstr(msg, "authentication is not enabled") != NULL;
}

int
etcd_lease_grant_decode(const json_t *resp, int64_t *id, int64_t *ttl,
    struct lr_err *err)
{
	int rc;

	if ((rc = embedded_error(resp, err)) < 0)
		return rc;
	if ((*id = etcd_json_int64(resp, "ID")) == 0)
		return lr_err_set(err, LR_EETCD,
		    "malformed answer from etcd: lease grant without an ID");
	if (ttl)
		*ttl = etcd_json_int64(resp, "TTL");
	return 0;
}

int
etcd_lease_keepalive_decode(const json_t *resp, int64_t *ttl,
    struct lr_err *err)
{
	const json_t *r;
	int64_t t;
	int rc;

	if ((rc = answer_check(resp, err)) < 0)
		return rc;
	if ((r = json_object_get(resp, "result")) == NULL)
		r = resp;
	t = etcd_json_int64(r, "TTL");
	*ttl = t > 0 ? t : 0;
	return 0;
}

int
etcd_lease_ttl_decode(const json_t *resp, int64_t *ttl, int64_t *granted,
    struct lr_err *err)
{
	int64_t t;
	int rc;

	if ((rc = answer_check(resp, err)) < 0)
		return rc;
	/* a gone lease says "TTL":"-1" */
	t = etcd_json_int64(resp, "TTL");
	if (ttl)
		*ttl = t < 0 ? -1 : t;
	if (granted)
		*granted = etcd_json_int64(resp, "grantedTTL");
	return 0;
}
