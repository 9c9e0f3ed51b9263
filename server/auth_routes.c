/*
 * auth's routes (docs/auth.md, docs/api/openapi.yaml): login, logout,
 * whoami, users, groups, members, grants, tokens and explain.  Handlers
 * run on workers (srv.h); they read the in-memory copy (auth.c), write
 * etcd through req->etcd with compare-and-swap transactions, then wait
 * until the copy has seen their write (auth_wait_rev).  Each one
 * authorizes before it says whether a thing exists.  No password, token
 * or hash leaves here: answers and audit details carry names and ids.
 */
#define LR_LOG_COMPONENT "auth"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "auth-int.h"
#include "clock.h"
#include "etcd.h"
#include "json.h"
#include "leurad.h"
#include "log.h"
#include "xalloc.h"

#define PW_MIN		8
#define PW_MAX		1024
#define TOKEN_DEFAULT_S	(30L * 86400)
#define TOKEN_MAX_S	(366L * 86400)
/*
 * A session younger than this may make a token that outlives it: the
 * password was typed moments ago (GitHub's "sudo mode").  An older
 * session, or an API token, makes tokens that end when it ends, so a
 * stolen token cannot be stretched into a year-long one.
 */
#define TOKEN_FRESH_S	(15L * 60)

/* The highest verb of a scope set (bit 1 << verb), -1 when empty. */
static int
scopes_top(unsigned scopes)
{
	int v;

	for (v = AUTH_ADMIN; v >= 0; v--)
		if (scopes & (1u << v))
			return v;
	return -1;
}

/* ---- helpers ---- */

/*
 * Stamp doc, made by the caller, with the caller's uid (the owner rule:
 * auth_decide.c), and a user's doc with its own new uid.  Returns doc.
 */
static json_t *
stamp_creator(struct srv_req *req, json_t *doc, bool is_user)
{
	struct auth_snapshot *snap = auth_current(req->srv);
	const struct auth_user *u;
	char uid[33];

	if (snap && (u = auth_find_user(snap, req->who->user)) && u->uid)
		lr_json_set_str(doc, "created_by_uid", u->uid);
	auth_snapshot_unref(snap);
	if (is_user) {
		auth_random_hex(uid, 16);
		lr_json_set_str(doc, "uid", uid);
	}
	return doc;
}

static struct auth_snapshot *
snap_get(struct srv_req *req, struct srv_resp *resp)
{
	struct auth_snapshot *snap = auth_current(req->srv);

	if (!snap)
		srv_resp_error(resp, 503, "unavailable", "try again in a "
		    "moment", "leurad is still loading users and grants");
	return snap;
}

static bool
name_ok(struct srv_resp *resp, const char *what, const char *name)
{
	struct lr_err e = { 0 };

	if (auth_name_check(what, name, &e) == 0)
		return true;
	srv_resp_error(resp, 400, "bad_request", e.hint, "%s", e.msg);
	return false;
}

/* A string member of body, or 400 naming it; NULL then. */
static const char *
body_str(json_t *body, const char *k, bool required, struct srv_resp *resp)
{
	json_t *v = json_object_get(body, k);

	if (!v && !required)
		return NULL;
	if (!json_is_string(v)) {
		srv_resp_error(resp, 400, "bad_request", "send it as a JSON "
		    "string", "'%s' %s", k, v ? "must be a string" :
		    "is required");
		return NULL;
	}
	return json_string_value(v);
}

static char *
key_of(struct srv_req *req, const char *kind, const char *name)
{
	char *rel = lr_xasprintf("%s/%s", kind, name);
	char *k = auth_key(req->srv, rel);	/* the caller's */

	free(rel);
	return k;
}

/*
 * Commit t; wait until the copy has seen it.  1: done; 0: a compare
 * failed (nothing answered); -1: answered with the error.
 */
static int
commit(struct srv_req *req, struct srv_resp *resp, struct etcd_txn *t)
{
	struct etcd_txn_result res = { 0 };
	struct lr_err err = { 0 };
	int ok;

	if (etcd_txn_commit(req->etcd, t, &res, &err) < 0) {
		srv_resp_lr_err(resp, &err);
		return -1;
	}
	ok = res.succeeded;
	if (ok)
		auth_wait_rev(req->srv, res.revision);
	etcd_txn_result_release(&res);
	return ok;
}

/* 412 when If-Match was given and is stale, else 409. */
static void
lost_race(struct srv_resp *resp, int64_t if_match, const char *what)
{
	if (if_match > 0)
		srv_resp_error(resp, 412, "precondition_failed", "read it "
		    "again (GET) and retry with its new ETag", "%s changed "
		    "since the ETag you sent", what);
	else
		srv_resp_error(resp, 409, "conflict", "retry", "%s changed "
		    "while this request ran", what);
}

static void
iso_of(int64_t t, char buf[LR_TIME_ISO_LEN])
{
	lr_time_iso(t, buf);
}

static json_t *
user_json(const struct auth_snapshot *s, const struct auth_user *u)
{
	json_t *o = json_object(), *groups = json_array();
	size_t i;

	lr_json_set_str(o, "name", u->name);
	lr_json_set_str(o, "created", lr_json_str(u->doc, "created"));
	lr_json_set_str(o, "created_by", u->created_by);
	json_object_set_new(o, "disabled", json_boolean(u->disabled));
	for (i = 0; i < s->ngroups; i++)
		if (auth_group_has(&s->groups[i], u->name))
			json_array_append_new(groups,
			    json_string(s->groups[i].name));
	json_object_set_new(o, "groups", groups);
	return o;
}

static json_t *
group_json(const struct auth_group *g)
{
	json_t *o = json_object();

	lr_json_set_str(o, "name", g->name);
	json_object_set_new(o, "members", json_is_array(g->members) ?
	    json_deep_copy(g->members) : json_array());
	lr_json_set_str(o, "created", lr_json_str(g->doc, "created"));
	lr_json_set_str(o, "created_by", g->created_by);
	return o;
}

static json_t *
grant_json(const struct auth_grant *g)
{
	json_t *o = json_object();

	lr_json_set_str(o, "id", g->id);
	lr_json_set_str(o, "subject", g->subject);
	lr_json_set_str(o, "verb", auth_verb_name(g->verb));
	lr_json_set_str(o, "resource", g->resource);
	lr_json_set_str(o, "created", lr_json_str(g->doc, "created"));
	lr_json_set_str(o, "created_by", g->created_by);
	return o;
}

static json_t *
scopes_json(unsigned scopes)
{
	json_t *a = json_array();
	int v;

	for (v = AUTH_READ; v <= AUTH_ADMIN; v++)
		if (scopes & (1u << v))
			json_array_append_new(a,
			    json_string(auth_verb_name(v)));
	return a;
}

/* A token's public face: never its secret nor its hash. */
static json_t *
token_json(const struct auth_token *t)
{
	char exp[LR_TIME_ISO_LEN];
	json_t *o = json_object();

	iso_of(t->expires, exp);
	lr_json_set_str(o, "id", t->id);
	lr_json_set_str(o, "user", t->user);
	lr_json_set_str(o, "kind", t->kind);
	lr_json_set_str(o, "name", lr_json_str(t->doc, "name"));
	json_object_set_new(o, "scopes", scopes_json(t->scopes));
	lr_json_set_str(o, "created", lr_json_str(t->doc, "created"));
	lr_json_set_str(o, "expires", exp);
	return o;
}

static bool
can(const struct auth_snapshot *s, const struct srv_req *req,
    enum auth_verb v, const char *kind, const char *name)
{
	char res[AUTH_RESOURCE_MAX + 1];

	snprintf(res, sizeof(res), "%s/%s", kind, name);
	return auth_decide(s, req->who->user, req->who->scopes, v, res, NULL);
}

static bool
require(struct srv_req *req, struct srv_resp *resp, enum auth_verb v,
    const char *kind, const char *name)
{
	char res[AUTH_RESOURCE_MAX + 1];

	snprintf(res, sizeof(res), "%s/%s", kind, name);
	return auth_require(req, resp, v, res);
}

/* A page of items: {"items":[...],"next":cursor|null}. */
struct page {
	json_t	*items;
	size_t	 limit;
	const char *after;
	const char *next;
};

/* Before adding key: false when the page is full (next is set). */
static bool
page_room(struct page *p, const char *key, const char *last)
{
	if (json_array_size(p->items) < p->limit)
		return true;
	p->next = last;
	return false;
}

static void
page_answer(struct srv_resp *resp, struct page *p)
{
	srv_resp_json(resp, 200, json_pack("{s:o,s:o}", "items", p->items,
	    "next", p->next ? json_string(p->next) : json_null()));
}

/*
 * New session or API token for user; answers status (or the error).
 * idhex gets the token's public id.
 */
static void
token_issue(struct srv_req *req, struct srv_resp *resp, const char *user,
    const char *kind, const char *name, unsigned scopes, long ttl_s,
    int status, char idhex[17])
{
	char hash[65], now[LR_TIME_ISO_LEN], exp[LR_TIME_ISO_LEN];
	char *secret = auth_token_new(), *k, *val;
	struct lr_err err = { 0 };
	struct etcd_txn t;
	int64_t lease = 0, expires = (int64_t)time(NULL) + ttl_s;
	json_t *o;
	int rc;

	auth_sha256_hex(secret, hash);
	auth_random_hex(idhex, 8);
	idhex[0] = 't';
	lr_time_iso_now(now);
	iso_of(expires, exp);
	k = key_of(req, "tokens", hash);
	val = auth_dump(json_pack("{s:s,s:s,s:s,s:s,s:o,s:s,s:I}", "id",
	    idhex, "user", user, "kind", kind, "name", name, "scopes",
	    scopes_json(scopes), "created", now, "expires",
	    (json_int_t)expires));
	/* etcd forgets the token a minute after it expires */
	if (etcd_lease_grant(req->etcd, ttl_s + 60, &lease, &err) < 0) {
		srv_resp_lr_err(resp, &err);
		goto out;
	}
	etcd_txn_init(&t);
	etcd_txn_cmp_int(&t, k, ETCD_CMP_VERSION, ETCD_CMP_EQUAL, 0);
	etcd_txn_put(&t, ETCD_THEN, k, val, strlen(val), lease);
	rc = commit(req, resp, &t);
	etcd_txn_release(&t);
	if (rc < 0)
		goto out;
	if (rc == 0) {
		srv_resp_error(resp, 500, "internal", "try again",
		    "token collision");
		goto out;
	}
	o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:o,s:s}", "token", secret, "id",
	    idhex, "user", user, "kind", kind, "name", name, "scopes",
	    scopes_json(scopes), "expires", exp);
	srv_resp_json(resp, status, o);
out:
	OPENSSL_cleanse(secret, strlen(secret));
	free(secret);
	free(k);
	free(val);
}

/* ---- login, logout, whoami ---- */

static void
h_login(struct srv_req *req, struct srv_resp *resp)
{
	static const char *const allowed[] = { "user", "password", NULL };
	struct auth_state *st = req->srv->auth;
	struct auth_snapshot *snap = NULL;
	const struct auth_user *u;
	const char *user, *pw, *enc;
	json_t *body = NULL;
	char ra[32], res[80], id[17];
	long wait;
	bool ok;

	if (srv_body_object(req, resp, allowed, &body) < 0)
		return;
	if (!(user = body_str(body, "user", true, resp)) ||
	    !(pw = body_str(body, "password", true, resp)))
		goto out;
	if (!name_ok(resp, "user", user))
		goto out;
	snprintf(res, sizeof(res), "users/%s", user);
	srv_req_audit(req, res, NULL);
	if ((wait = auth_backoff_check(st, user, req->client)) > 0) {
		snprintf(ra, sizeof(ra), "%ld", wait);
		srv_resp_header(resp, "Retry-After", ra);
		srv_resp_error(resp, 429, "too_many_requests", "wait, then "
		    "try again; an admin may reset the password",
		    "too many failed logins for '%s' or from this address; "
		    "try again in %ld s", user, wait);
		goto out;
	}
	if (!(snap = snap_get(req, resp)))
		goto out;
	u = auth_find_user(snap, user);
	/* the same work whether the user exists or not */
	enc = u && u->password ? u->password : st->dummy_hash;
	ok = auth_pw_verify(enc, pw) && u && u->password;
	if (!ok) {
		auth_backoff_fail(st, user, req->client);
		srv_resp_error(resp, 401, "unauthorized", "check the user "
		    "name and password", "wrong user or password");
		goto out;
	}
	if (u->disabled) {
		srv_resp_error(resp, 401, "unauthorized", "ask an admin to "
		    "enable your user", "user '%s' is disabled", user);
		goto out;
	}
	auth_backoff_ok(st, user, req->client);
	token_issue(req, resp, u->name, "session", "login", AUTH_SCOPES_ALL,
	    AUTH_SESSION_S, 200, id);
out:
	auth_snapshot_unref(snap);
	json_decref(body);
}

static void
h_logout(struct srv_req *req, struct srv_resp *resp)
{
	struct auth_snapshot *snap;
	const struct auth_token *t;
	struct etcd_txn tx;
	char res[80], *k;

	if (!(snap = snap_get(req, resp)))
		return;
	snprintf(res, sizeof(res), "tokens/%s", req->who->token_id);
	srv_req_audit(req, res, NULL);
	if ((t = auth_find_token_id(snap, req->who->token_id))) {
		k = key_of(req, "tokens", t->hash);
		etcd_txn_init(&tx);
		etcd_txn_delete(&tx, ETCD_THEN, k, 0);
		if (commit(req, resp, &tx) < 0) {
			etcd_txn_release(&tx);
			free(k);
			goto out;
		}
		etcd_txn_release(&tx);
		free(k);
	}
	srv_resp_bytes(resp, 204, "application/json", "", 0);
out:
	auth_snapshot_unref(snap);
}

static void
h_whoami(struct srv_req *req, struct srv_resp *resp)
{
	struct auth_snapshot *snap;
	const struct auth_token *t;
	json_t *groups = json_array(), *grants = json_array(), *tok;
	const char *via;
	size_t i;

	if (!(snap = snap_get(req, resp))) {
		json_decref(groups);
		json_decref(grants);
		return;
	}
	for (i = 0; i < req->who->ngroups; i++)
		json_array_append_new(groups,
		    json_string(req->who->groups[i]));
	for (i = 0; i < snap->ngrants; i++) {
		const struct auth_grant *g = &snap->grants[i];
		json_t *o;

		if (!auth_subject_covers(snap, g->subject, req->who->user,
		    &via))
			continue;
		o = grant_json(g);
		if (via)
			lr_json_set_str(o, "via", via);
		json_array_append_new(grants, o);
	}
	t = auth_find_token_id(snap, req->who->token_id);
	tok = t ? token_json(t) : json_pack("{s:s}", "id",
	    req->who->token_id);
	srv_resp_json(resp, 200, json_pack("{s:s,s:o,s:o,s:o}", "user",
	    req->who->user, "groups", groups, "token", tok, "grants",
	    grants));
	auth_snapshot_unref(snap);
}

/* ---- users ---- */

static void
h_users_list(struct srv_req *req, struct srv_resp *resp)
{
	struct auth_snapshot *snap;
	struct page p = { 0 };
	const char *last = NULL;
	size_t i;

	if (srv_page_args(req, resp, &p.limit, &p.after) < 0 ||
	    !(snap = snap_get(req, resp)))
		return;
	p.items = json_array();
	for (i = 0; i < snap->nusers; i++) {
		const struct auth_user *u = &snap->users[i];

		if (p.after && strcmp(u->name, p.after) <= 0)
			continue;
		if (!can(snap, req, AUTH_READ, "users", u->name))
			continue;
		if (!page_room(&p, u->name, last))
			break;
		json_array_append_new(p.items, user_json(snap, u));
		last = u->name;
	}
	page_answer(resp, &p);
	auth_snapshot_unref(snap);
}

static void
h_users_create(struct srv_req *req, struct srv_resp *resp)
{
	static const char *const allowed[] = { "name", "password", "disabled",
	    NULL };
	struct auth_snapshot *snap = NULL;
	const struct auth_user *u;
	const char *name, *pw;
	char now[LR_TIME_ISO_LEN], *hash = NULL, *k = NULL, *val = NULL;
	char res[80];
	struct lr_err err = { 0 };
	struct etcd_txn t;
	json_t *body = NULL, *dis;
	int rc;

	if (srv_body_object(req, resp, allowed, &body) < 0)
		return;
	if (!(name = body_str(body, "name", true, resp)) ||
	    !name_ok(resp, "user", name) ||
	    !(pw = body_str(body, "password", true, resp)))
		goto out;
	dis = json_object_get(body, "disabled");
	if (dis && !json_is_boolean(dis)) {
		srv_resp_error(resp, 400, "bad_request", "true or false",
		    "'disabled' must be a boolean");
		goto out;
	}
	if (strlen(pw) < PW_MIN || strlen(pw) > PW_MAX) {
		srv_resp_error(resp, 400, "bad_request", "choose a password "
		    "of 8 to 1024 characters", "password too %s",
		    strlen(pw) < PW_MIN ? "short" : "long");
		goto out;
	}
	snprintf(res, sizeof(res), "users/%s", name);
	srv_req_audit(req, res, NULL);
	k = key_of(req, "users", name);
	if (!require(req, resp, AUTH_ADMIN, "users", name))
		goto out;
	if (auth_pw_hash(pw, &hash, &err) < 0) {
		srv_resp_lr_err(resp, &err);
		goto out;
	}
	lr_time_iso_now(now);
	val = auth_dump(stamp_creator(req, json_pack("{s:s,s:s,s:s,s:s,s:b}",
	    "name", name, "password", hash, "created", now, "created_by",
	    req->who->user, "disabled", dis && json_is_true(dis)), true));
	etcd_txn_init(&t);
	etcd_txn_cmp_int(&t, k, ETCD_CMP_VERSION, ETCD_CMP_EQUAL, 0);
	etcd_txn_put(&t, ETCD_THEN, k, val, strlen(val), 0);
	rc = commit(req, resp, &t);
	etcd_txn_release(&t);
	if (rc < 0)
		goto out;
	if (rc == 0) {
		srv_resp_error(resp, 409, "conflict", "choose another name, "
		    "or change the user with PATCH", "user '%s' exists",
		    name);
		goto out;
	}
	if (!(snap = snap_get(req, resp)))
		goto out;
	if (!(u = auth_find_user(snap, name))) {
		srv_resp_error(resp, 409, "conflict", "retry", "user '%s' "
		    "was deleted meanwhile", name);
		goto out;
	}
	srv_resp_etag(resp, u->mod_rev);
	srv_resp_json(resp, 201, user_json(snap, u));
out:
	if (hash) {
		OPENSSL_cleanse(hash, strlen(hash));
		free(hash);
	}
	if (val) {
		OPENSSL_cleanse(val, strlen(val));
		free(val);
	}
	auth_snapshot_unref(snap);
	free(k);
	json_decref(body);
}

static void
h_users_get(struct srv_req *req, struct srv_resp *resp)
{
	const char *name = srv_param(req, "name");
	struct auth_snapshot *snap;
	const struct auth_user *u;

	if (!name_ok(resp, "user", name) ||
	    !require(req, resp, AUTH_READ, "users", name) ||
	    !(snap = snap_get(req, resp)))
		return;
	if (!(u = auth_find_user(snap, name))) {
		srv_resp_error(resp, 404, "not_found", "list users: GET "
		    "/v1/users", "no user '%s'", name);
	} else {
		srv_resp_etag(resp, u->mod_rev);
		srv_resp_json(resp, 200, user_json(snap, u));
	}
	auth_snapshot_unref(snap);
}

/* Delete every session token of user but keep (its id; may be NULL). */
static void
drop_sessions(const struct auth_snapshot *s, struct srv_req *req,
    struct etcd_txn *t, const char *user, const char *keep)
{
	size_t i;
	char *k;

	for (i = 0; i < s->ntokens; i++) {
		const struct auth_token *tk = &s->tokens[i];

		if (strcmp(tk->user, user) != 0 ||
		    strcmp(tk->kind, "session") != 0 ||
		    (keep && strcmp(tk->id, keep) == 0))
			continue;
		k = key_of(req, "tokens", tk->hash);
		etcd_txn_delete(t, ETCD_THEN, k, 0);
		free(k);
	}
}

static void
h_users_patch(struct srv_req *req, struct srv_resp *resp)
{
	static const char *const allowed[] = { "password", "disabled", NULL };
	const char *name = srv_param(req, "name"), *pw;
	struct auth_snapshot *snap = NULL;
	const struct auth_user *u;
	char *hash = NULL, *k = NULL, *val = NULL, res[80];
	struct lr_err err = { 0 };
	struct etcd_txn t;
	json_t *body = NULL, *dis, *doc = NULL;
	int64_t im;
	bool self;
	int rc;

	if (!name_ok(resp, "user", name))
		return;
	snprintf(res, sizeof(res), "users/%s", name);
	srv_req_audit(req, res, NULL);
	if (srv_body_object(req, resp, allowed, &body) < 0)
		return;
	pw = body_str(body, "password", false, resp);
	if (resp->status)
		goto out;
	dis = json_object_get(body, "disabled");
	if (dis && !json_is_boolean(dis)) {
		srv_resp_error(resp, 400, "bad_request", "true or false",
		    "'disabled' must be a boolean");
		goto out;
	}
	self = strcmp(req->who->user, name) == 0;
	/* a user changes their own password; the rest needs admin */
	if (!(self && !dis && pw && (req->who->scopes & (1u << AUTH_ADMIN))) &&
	    !require(req, resp, AUTH_ADMIN, "users", name))
		goto out;
	if (self && dis && json_is_true(dis)) {
		srv_resp_error(resp, 400, "bad_request", "ask another admin",
		    "you cannot disable yourself");
		goto out;
	}
	if (pw && (strlen(pw) < PW_MIN || strlen(pw) > PW_MAX)) {
		srv_resp_error(resp, 400, "bad_request", "choose a password "
		    "of 8 to 1024 characters", "password too %s",
		    strlen(pw) < PW_MIN ? "short" : "long");
		goto out;
	}
	if ((im = srv_if_match(req, resp)) < 0 ||
	    !(snap = snap_get(req, resp)))
		goto out;
	if (!(u = auth_find_user(snap, name))) {
		srv_resp_error(resp, 404, "not_found", "list users: GET "
		    "/v1/users", "no user '%s'", name);
		goto out;
	}
	doc = json_deep_copy(u->doc);
	if (pw) {
		if (auth_pw_hash(pw, &hash, &err) < 0) {
			srv_resp_lr_err(resp, &err);
			goto out;
		}
		lr_json_set_str(doc, "password", hash);
	}
	if (dis)
		json_object_set(doc, "disabled", dis);
	val = auth_dump(doc);
	doc = NULL;
	k = key_of(req, "users", name);
	etcd_txn_init(&t);
	etcd_txn_cmp_int(&t, k, ETCD_CMP_MOD, ETCD_CMP_EQUAL,
	    im > 0 ? im : u->mod_rev);
	etcd_txn_put(&t, ETCD_THEN, k, val, strlen(val), 0);
	/* a new password ends the user's other sessions */
	if (pw)
		drop_sessions(snap, req, &t, name,
		    self ? req->who->token_id : NULL);
	rc = commit(req, resp, &t);
	etcd_txn_release(&t);
	if (rc < 0)
		goto out;
	if (rc == 0) {
		lost_race(resp, im, res);
		goto out;
	}
	auth_snapshot_unref(snap);
	if (!(snap = snap_get(req, resp)))
		goto out;
	if (!(u = auth_find_user(snap, name))) {
		srv_resp_error(resp, 409, "conflict", "retry", "user '%s' "
		    "was deleted meanwhile", name);
		goto out;
	}
	srv_req_audit(req, NULL, json_pack("{s:b,s:b}", "password",
	    pw != NULL, "disabled", dis != NULL));
	srv_resp_etag(resp, u->mod_rev);
	srv_resp_json(resp, 200, user_json(snap, u));
out:
	if (hash) {
		OPENSSL_cleanse(hash, strlen(hash));
		free(hash);
	}
	if (val) {
		OPENSSL_cleanse(val, strlen(val));
		free(val);
	}
	json_decref(doc);
	auth_snapshot_unref(snap);
	free(k);
	json_decref(body);
}

static void
h_users_delete(struct srv_req *req, struct srv_resp *resp)
{
	const char *name = srv_param(req, "name");
	struct auth_snapshot *snap = NULL;
	const struct auth_user *u;
	char *k, subject[80], res[80];
	struct etcd_txn t;
	int64_t im;
	size_t i;
	int rc;

	if (!name_ok(resp, "user", name))
		return;
	snprintf(res, sizeof(res), "users/%s", name);
	srv_req_audit(req, res, NULL);
	if (!require(req, resp, AUTH_ADMIN, "users", name) ||
	    (im = srv_if_match(req, resp)) < 0 ||
	    !(snap = snap_get(req, resp)))
		return;
	if (strcmp(name, req->who->user) == 0) {
		srv_resp_error(resp, 400, "bad_request", "ask another admin",
		    "you cannot delete yourself");
		goto out;
	}
	if (!(u = auth_find_user(snap, name))) {
		srv_resp_error(resp, 404, "not_found", "list users: GET "
		    "/v1/users", "no user '%s'", name);
		goto out;
	}
	/*
	 * The user goes with their tokens, the grants to them and their
	 * memberships: a new user of the same name starts with nothing.
	 */
	snprintf(subject, sizeof(subject), "user:%s", name);
	etcd_txn_init(&t);
	k = key_of(req, "users", name);
	etcd_txn_cmp_int(&t, k, ETCD_CMP_MOD, ETCD_CMP_EQUAL,
	    im > 0 ? im : u->mod_rev);
	free(k);
	/*
	 * and with no grant made since the copy these deletes come from: a
	 * grant to the user made meanwhile would outlive them, and give a
	 * new user of that name what the old one had
	 */
	k = key_of(req, "grants", "");
	etcd_txn_cmp_prefix_int(&t, k, ETCD_CMP_MOD, ETCD_CMP_LESS,
	    snap->revision + 1);
	free(k);
	k = key_of(req, "users", name);
	etcd_txn_delete(&t, ETCD_THEN, k, 0);
	free(k);
	for (i = 0; i < snap->ntokens; i++) {
		if (strcmp(snap->tokens[i].user, name) != 0)
			continue;
		k = key_of(req, "tokens", snap->tokens[i].hash);
		etcd_txn_delete(&t, ETCD_THEN, k, 0);
		free(k);
	}
	for (i = 0; i < snap->ngrants; i++) {
		if (strcmp(snap->grants[i].subject, subject) != 0)
			continue;
		k = key_of(req, "grants", snap->grants[i].id);
		etcd_txn_delete(&t, ETCD_THEN, k, 0);
		free(k);
	}
	for (i = 0; i < snap->ngroups; i++) {
		const struct auth_group *g = &snap->groups[i];
		json_t *doc, *mem;
		size_t j;
		char *v;

		if (!auth_group_has(g, name))
			continue;
		doc = json_deep_copy(g->doc);
		mem = json_object_get(doc, "members");
		for (j = json_array_size(mem); j-- > 0;)
			if (strcmp(json_string_value(json_array_get(mem, j)),
			    name) == 0)
				json_array_remove(mem, j);
		v = auth_dump(doc);
		k = key_of(req, "groups", g->name);
		etcd_txn_cmp_int(&t, k, ETCD_CMP_MOD, ETCD_CMP_EQUAL,
		    g->mod_rev);
		etcd_txn_put(&t, ETCD_THEN, k, v, strlen(v), 0);
		free(k);
		free(v);
	}
	rc = commit(req, resp, &t);
	etcd_txn_release(&t);
	if (rc < 0)
		goto out;
	if (rc == 0) {
		lost_race(resp, im, res);
		goto out;
	}
	srv_resp_bytes(resp, 204, "application/json", "", 0);
out:
	auth_snapshot_unref(snap);
}

/* ---- groups ---- */

static void
h_groups_list(struct srv_req *req, struct srv_resp *resp)
{
	struct auth_snapshot *snap;
	struct page p = { 0 };
	const char *last = NULL;
	size_t i;

	if (srv_page_args(req, resp, &p.limit, &p.after) < 0 ||
	    !(snap = snap_get(req, resp)))
		return;
	p.items = json_array();
	for (i = 0; i < snap->ngroups; i++) {
		const struct auth_group *g = &snap->groups[i];

		if (p.after && strcmp(g->name, p.after) <= 0)
			continue;
		if (!can(snap, req, AUTH_READ, "groups", g->name))
			continue;
		if (!page_room(&p, g->name, last))
			break;
		json_array_append_new(p.items, group_json(g));
		last = g->name;
	}
	page_answer(resp, &p);
	auth_snapshot_unref(snap);
}

static void
h_groups_create(struct srv_req *req, struct srv_resp *resp)
{
	static const char *const allowed[] = { "name", "members", NULL };
	struct auth_snapshot *snap = NULL;
	const struct auth_group *g;
	const char *name;
	char now[LR_TIME_ISO_LEN], res[80], *k = NULL, *val = NULL;
	struct etcd_txn t;
	json_t *body = NULL, *mem, *v, *members = json_array();
	size_t i;
	int rc;

	if (srv_body_object(req, resp, allowed, &body) < 0)
		goto out;
	if (!(name = body_str(body, "name", true, resp)) ||
	    !name_ok(resp, "group", name))
		goto out;
	snprintf(res, sizeof(res), "groups/%s", name);
	srv_req_audit(req, res, NULL);
	if (!require(req, resp, AUTH_ADMIN, "groups", name) ||
	    !(snap = snap_get(req, resp)))
		goto out;
	mem = json_object_get(body, "members");
	if (mem && !json_is_array(mem)) {
		srv_resp_error(resp, 400, "bad_request", "a list of user "
		    "names", "'members' must be an array");
		goto out;
	}
	json_array_foreach(mem, i, v) {
		if (!json_is_string(v) ||
		    !auth_find_user(snap, json_string_value(v))) {
			srv_resp_error(resp, 400, "bad_request", "create the "
			    "user first (POST /v1/users)", "members[%zu]: "
			    "no such user", i);
			goto out;
		}
		json_array_append(members, v);
	}
	lr_time_iso_now(now);
	val = auth_dump(stamp_creator(req, json_pack("{s:s,s:O,s:s,s:s}",
	    "name", name, "members", members, "created", now, "created_by",
	    req->who->user), false));
	k = key_of(req, "groups", name);
	etcd_txn_init(&t);
	etcd_txn_cmp_int(&t, k, ETCD_CMP_VERSION, ETCD_CMP_EQUAL, 0);
	etcd_txn_put(&t, ETCD_THEN, k, val, strlen(val), 0);
	rc = commit(req, resp, &t);
	etcd_txn_release(&t);
	if (rc < 0)
		goto out;
	if (rc == 0) {
		srv_resp_error(resp, 409, "conflict", "choose another name",
		    "group '%s' exists", name);
		goto out;
	}
	auth_snapshot_unref(snap);
	if (!(snap = snap_get(req, resp)))
		goto out;
	if (!(g = auth_find_group(snap, name))) {
		srv_resp_error(resp, 409, "conflict", "retry", "group '%s' "
		    "was deleted meanwhile", name);
		goto out;
	}
	srv_resp_etag(resp, g->mod_rev);
	srv_resp_json(resp, 201, group_json(g));
out:
	auth_snapshot_unref(snap);
	json_decref(members);
	json_decref(body);
	free(k);
	free(val);
}

static void
h_groups_get(struct srv_req *req, struct srv_resp *resp)
{
	const char *name = srv_param(req, "name");
	struct auth_snapshot *snap;
	const struct auth_group *g;

	if (!name_ok(resp, "group", name) ||
	    !require(req, resp, AUTH_READ, "groups", name) ||
	    !(snap = snap_get(req, resp)))
		return;
	if (!(g = auth_find_group(snap, name))) {
		srv_resp_error(resp, 404, "not_found", "list groups: GET "
		    "/v1/groups", "no group '%s'", name);
	} else {
		srv_resp_etag(resp, g->mod_rev);
		srv_resp_json(resp, 200, group_json(g));
	}
	auth_snapshot_unref(snap);
}

static void
h_groups_delete(struct srv_req *req, struct srv_resp *resp)
{
	const char *name = srv_param(req, "name");
	struct auth_snapshot *snap = NULL;
	const struct auth_group *g;
	char *k, subject[80], res[80];
	struct etcd_txn t;
	int64_t im;
	size_t i;
	int rc;

	if (!name_ok(resp, "group", name))
		return;
	snprintf(res, sizeof(res), "groups/%s", name);
	srv_req_audit(req, res, NULL);
	if (!require(req, resp, AUTH_ADMIN, "groups", name) ||
	    (im = srv_if_match(req, resp)) < 0 ||
	    !(snap = snap_get(req, resp)))
		return;
	if (!(g = auth_find_group(snap, name))) {
		srv_resp_error(resp, 404, "not_found", "list groups: GET "
		    "/v1/groups", "no group '%s'", name);
		goto out;
	}
	/* the grants to the group go with it */
	snprintf(subject, sizeof(subject), "group:%s", name);
	etcd_txn_init(&t);
	k = key_of(req, "grants", "");
	etcd_txn_cmp_prefix_int(&t, k, ETCD_CMP_MOD, ETCD_CMP_LESS,
	    snap->revision + 1);
	free(k);
	k = key_of(req, "groups", name);
	etcd_txn_cmp_int(&t, k, ETCD_CMP_MOD, ETCD_CMP_EQUAL,
	    im > 0 ? im : g->mod_rev);
	etcd_txn_delete(&t, ETCD_THEN, k, 0);
	free(k);
	for (i = 0; i < snap->ngrants; i++) {
		if (strcmp(snap->grants[i].subject, subject) != 0)
			continue;
		k = key_of(req, "grants", snap->grants[i].id);
		etcd_txn_delete(&t, ETCD_THEN, k, 0);
		free(k);
	}
	rc = commit(req, resp, &t);
	etcd_txn_release(&t);
	if (rc == 0)
		lost_race(resp, im, res);
	else if (rc > 0)
		srv_resp_bytes(resp, 204, "application/json", "", 0);
out:
	auth_snapshot_unref(snap);
}

/* PUT and DELETE /v1/groups/{name}/members/{user} */
static void
members_change(struct srv_req *req, struct srv_resp *resp, bool add)
{
	const char *name = srv_param(req, "name");
	const char *user = srv_param(req, "user");
	struct auth_snapshot *snap = NULL;
	const struct auth_group *g;
	char *k = NULL, *val = NULL, res[80];
	struct etcd_txn t;
	json_t *doc, *mem;
	int64_t im;
	size_t j;
	int rc;

	if (!name_ok(resp, "group", name) || !name_ok(resp, "user", user))
		return;
	snprintf(res, sizeof(res), "groups/%s", name);
	srv_req_audit(req, res, json_pack("{s:s,s:s}", "member", user,
	    "change", add ? "add" : "remove"));
	if (!require(req, resp, AUTH_ADMIN, "groups", name) ||
	    (im = srv_if_match(req, resp)) < 0 ||
	    !(snap = snap_get(req, resp)))
		return;
	if (!(g = auth_find_group(snap, name))) {
		srv_resp_error(resp, 404, "not_found", "list groups: GET "
		    "/v1/groups", "no group '%s'", name);
		goto out;
	}
	if (add && !auth_find_user(snap, user)) {
		srv_resp_error(resp, 404, "not_found", "create the user "
		    "first (POST /v1/users)", "no user '%s'", user);
		goto out;
	}
	if (add == auth_group_has(g, user)) {
		srv_resp_etag(resp, g->mod_rev);
		srv_resp_json(resp, 200, group_json(g));
		goto out;
	}
	doc = json_deep_copy(g->doc);
	if (!json_is_array(json_object_get(doc, "members")))
		json_object_set_new(doc, "members", json_array());
	mem = json_object_get(doc, "members");
	if (add)
		json_array_append_new(mem, json_string(user));
	else
		for (j = json_array_size(mem); j-- > 0;)
			if (json_is_string(json_array_get(mem, j)) &&
			    strcmp(json_string_value(json_array_get(mem, j)),
			    user) == 0)
				json_array_remove(mem, j);
	val = auth_dump(doc);
	k = key_of(req, "groups", name);
	etcd_txn_init(&t);
	etcd_txn_cmp_int(&t, k, ETCD_CMP_MOD, ETCD_CMP_EQUAL,
	    im > 0 ? im : g->mod_rev);
	etcd_txn_put(&t, ETCD_THEN, k, val, strlen(val), 0);
	rc = commit(req, resp, &t);
	etcd_txn_release(&t);
	if (rc < 0)
		goto out;
	if (rc == 0) {
		lost_race(resp, im, res);
		goto out;
	}
	auth_snapshot_unref(snap);
	if (!(snap = snap_get(req, resp)))
		goto out;
	if (!(g = auth_find_group(snap, name))) {
		srv_resp_error(resp, 409, "conflict", "retry", "group '%s' "
		    "was deleted meanwhile", name);
		goto out;
	}
	srv_resp_etag(resp, g->mod_rev);
	srv_resp_json(resp, 200, group_json(g));
out:
	auth_snapshot_unref(snap);
	free(k);
	free(val);
}

static void
h_members_put(struct srv_req *req, struct srv_resp *resp)
{
	members_change(req, resp, true);
}

static void
h_members_delete(struct srv_req *req, struct srv_resp *resp)
{
	members_change(req, resp, false);
}

/* ---- grants ---- */

static void
h_grants_list(struct srv_req *req, struct srv_resp *resp)
{
	struct auth_snapshot *snap;
	struct page p = { 0 };
	const char *last = NULL;
	size_t i;

	if (srv_page_args(req, resp, &p.limit, &p.after) < 0 ||
	    !(snap = snap_get(req, resp)))
		return;
	p.items = json_array();
	for (i = 0; i < snap->ngrants; i++) {
		const struct auth_grant *g = &snap->grants[i];

		if (p.after && strcmp(g->id, p.after) <= 0)
			continue;
		if (!can(snap, req, AUTH_READ, "grants", g->id))
			continue;
		if (!page_room(&p, g->id, last))
			break;
		json_array_append_new(p.items, grant_json(g));
		last = g->id;
	}
	page_answer(resp, &p);
	auth_snapshot_unref(snap);
}

static void
h_grants_create(struct srv_req *req, struct srv_resp *resp)
{
	static const char *const allowed[] = { "subject", "verb", "resource",
	    NULL };
	struct auth_snapshot *snap = NULL;
	const struct auth_grant *g;
	const char *subject, *verb, *resource;
	char id[17], now[LR_TIME_ISO_LEN], *k = NULL, *val = NULL;
	struct lr_err e = { 0 };
	struct etcd_txn t;
	json_t *body = NULL;
	bool exists;
	int vb, rc;

	if (srv_body_object(req, resp, allowed, &body) < 0)
		return;
	if (!(subject = body_str(body, "subject", true, resp)) ||
	    !(verb = body_str(body, "verb", true, resp)) ||
	    !(resource = body_str(body, "resource", true, resp)))
		goto out;
	if ((vb = auth_verb_parse(verb)) < 0) {
		srv_resp_error(resp, 400, "bad_request", "verbs: read, run, "
		    "apply, approve, admin", "unknown verb '%.40s'", verb);
		goto out;
	}
	if (auth_resource_check(resource, true, &e) < 0) {
		srv_resp_error(resp, 400, "bad_request", e.hint, "%s", e.msg);
		goto out;
	}
	if (strncmp(subject, "user:", 5) != 0 &&
	    strncmp(subject, "group:", 6) != 0) {
		srv_resp_error(resp, 400, "bad_request", "write user:NAME or "
		    "group:NAME", "subject '%.80s' names no user or group",
		    subject);
		goto out;
	}
	if (!name_ok(resp, subject[0] == 'u' ? "user" : "group",
	    strchr(subject, ':') + 1))
		goto out;
	srv_req_audit(req, resource, json_pack("{s:s,s:s}", "subject",
	    subject, "verb", verb));
	/* granting on a pattern needs admin on all of it */
	if (!auth_require(req, resp, AUTH_ADMIN, resource) ||
	    !(snap = snap_get(req, resp)))
		goto out;
	exists = subject[0] == 'u' ? auth_find_user(snap, subject + 5) !=
	    NULL : auth_find_group(snap, subject + 6) != NULL;
	if (!exists) {
		srv_resp_error(resp, 400, "bad_request", "create it first",
		    "subject '%s' does not exist", subject);
		goto out;
	}
	auth_random_hex(id, 8);
	id[0] = 'g';
	lr_time_iso_now(now);
	val = auth_dump(stamp_creator(req, json_pack("{s:s,s:s,s:s,s:s,s:s,"
	    "s:s}", "id", id, "subject", subject, "verb", auth_verb_name(vb),
	    "resource", resource, "created", now, "created_by",
	    req->who->user), false));
	etcd_txn_init(&t);
	/* the subject is still there: its deletion does not miss this */
	k = subject[0] == 'u' ? key_of(req, "users", subject + 5) :
	    key_of(req, "groups", subject + 6);
	etcd_txn_cmp_int(&t, k, ETCD_CMP_MOD, ETCD_CMP_EQUAL, subject[0] ==
	    'u' ? auth_find_user(snap, subject + 5)->mod_rev :
	    auth_find_group(snap, subject + 6)->mod_rev);
	free(k);
	k = key_of(req, "grants", id);
	etcd_txn_cmp_int(&t, k, ETCD_CMP_VERSION, ETCD_CMP_EQUAL, 0);
	etcd_txn_put(&t, ETCD_THEN, k, val, strlen(val), 0);
	rc = commit(req, resp, &t);
	etcd_txn_release(&t);
	if (rc < 0)
		goto out;
	if (rc == 0) {
		srv_resp_error(resp, 409, "conflict", "retry", "subject '%s' "
		    "changed while the grant was made", subject);
		goto out;
	}
	auth_snapshot_unref(snap);
	if (!(snap = snap_get(req, resp)))
		goto out;
	if (!(g = auth_find_grant(snap, id))) {
		srv_resp_error(resp, 409, "conflict", "list grants: GET "
		    "/v1/grants", "grant %s was deleted meanwhile", id);
		goto out;
	}
	srv_resp_etag(resp, g->mod_rev);
	srv_resp_json(resp, 201, grant_json(g));
out:
	auth_snapshot_unref(snap);
	json_decref(body);
	free(k);
	free(val);
}

/* Grant ids: "g" and hex; anything else is no grant. */
static bool
id_ok(struct srv_resp *resp, const char *what, const char *id)
{
	size_t i, n = id ? strlen(id) : 0;

	for (i = 0; i < n && n <= 32; i++)
		if (!((id[i] >= '0' && id[i] <= '9') ||
		    (id[i] >= 'a' && id[i] <= 'z')))
			break;
	if (n && n <= 32 && i == n)
		return true;
	srv_resp_error(resp, 400, "bad_request", "ids are up to 32 of a-z "
	    "0-9, as listed", "invalid %s id", what);
	return false;
}

static void
h_grants_get(struct srv_req *req, struct srv_resp *resp)
{
	const char *id = srv_param(req, "id");
	struct auth_snapshot *snap;
	const struct auth_grant *g;

	if (!id_ok(resp, "grant", id) ||
	    !require(req, resp, AUTH_READ, "grants", id) ||
	    !(snap = snap_get(req, resp)))
		return;
	if (!(g = auth_find_grant(snap, id))) {
		srv_resp_error(resp, 404, "not_found", "list grants: GET "
		    "/v1/grants", "no grant '%s'", id);
	} else {
		srv_resp_etag(resp, g->mod_rev);
		srv_resp_json(resp, 200, grant_json(g));
	}
	auth_snapshot_unref(snap);
}

static void
h_grants_delete(struct srv_req *req, struct srv_resp *resp)
{
	const char *id = srv_param(req, "id");
	struct auth_snapshot *snap = NULL;
	const struct auth_grant *g;
	char *k, res[80];
	struct etcd_txn t;
	int64_t im;
	int rc;

	if (!id_ok(resp, "grant", id))
		return;
	snprintf(res, sizeof(res), "grants/%s", id);
	srv_req_audit(req, res, NULL);
	if (!require(req, resp, AUTH_ADMIN, "grants", id) ||
	    (im = srv_if_match(req, resp)) < 0 ||
	    !(snap = snap_get(req, resp)))
		return;
	if (!(g = auth_find_grant(snap, id))) {
		srv_resp_error(resp, 404, "not_found", "list grants: GET "
		    "/v1/grants", "no grant '%s'", id);
		goto out;
	}
	srv_req_audit(req, NULL, json_pack("{s:s,s:s,s:s}", "subject", g->subject,
	    "verb", auth_verb_name(g->verb), "resource", g->resource));
	k = key_of(req, "grants", id);
	etcd_txn_init(&t);
	etcd_txn_cmp_int(&t, k, ETCD_CMP_MOD, ETCD_CMP_EQUAL,
	    im > 0 ? im : g->mod_rev);
	etcd_txn_delete(&t, ETCD_THEN, k, 0);
	free(k);
	rc = commit(req, resp, &t);
	etcd_txn_release(&t);
	if (rc == 0)
		lost_race(resp, im, res);
	else if (rc > 0)
		srv_resp_bytes(resp, 204, "application/json", "", 0);
out:
	auth_snapshot_unref(snap);
}

/* ---- tokens ---- */

static void
h_tokens_list(struct srv_req *req, struct srv_resp *resp)
{
	const char *user = srv_query(req, "user");
	struct auth_snapshot *snap;
	struct page p = { 0 };
	const char *last = NULL;
	bool all;
	size_t i;

	if (srv_page_args(req, resp, &p.limit, &p.after) < 0)
		return;
	all = user && strcmp(user, "*") == 0;
	if (!user)
		user = req->who->user;
	else if (!all && (!name_ok(resp, "user", user) ||
	    (strcmp(user, req->who->user) != 0 &&
	    !require(req, resp, AUTH_ADMIN, "users", user))))
		return;
	if (!(snap = snap_get(req, resp)))
		return;
	p.items = json_array();
	/* by id, so that the cursor is the id */
	for (;;) {
		const struct auth_token *best = NULL;

		for (i = 0; i < snap->ntokens; i++) {
			const struct auth_token *t = &snap->tokens[i];

			if ((p.after && strcmp(t->id, p.after) <= 0) ||
			    (last && strcmp(t->id, last) <= 0) ||
			    (best && strcmp(t->id, best->id) >= 0))
				continue;
			if (all ? !can(snap, req, AUTH_ADMIN, "tokens", t->id)
			    : strcmp(t->user, user) != 0)
				continue;
			best = t;
		}
		if (!best || !page_room(&p, best->id, last))
			break;
		json_array_append_new(p.items, token_json(best));
		last = best->id;
	}
	page_answer(resp, &p);
	auth_snapshot_unref(snap);
}

/* expires_in: seconds, or "90s", "10m", "12h", "1h30m", "90d"; -1: bad */
static long
ttl_parse(const json_t *v)
{
	const char *s = json_string_value(v);
	long ms, n;
	char *end;

	if (json_is_integer(v)) {
		n = (long)json_integer_value(v);
		return n >= 1 && n <= TOKEN_MAX_S ? n : -1;
	}
	if (!s)
		return -1;
	n = strtol(s, &end, 10);
	if (end != s && strcmp(end, "d") == 0)
		return n >= 1 && n <= 366 ? n * 86400 : -1;
	if (lr_duration_parse(s, &ms) < 0 || ms < 1000)
		return -1;
	return ms / 1000;
}

/* "session" or "API token": what the caller authenticated with. */
static const char *
parent_kind(struct srv_req *req)
{
	struct auth_snapshot *snap = auth_current(req->srv);
	const struct auth_token *t;
	const char *k = "token";

	if (snap && (t = auth_find_token_id(snap, req->who->token_id)))
		k = strcmp(t->kind, "session") == 0 ? "session" : "API token";
	auth_snapshot_unref(snap);
	return k;
}

/*
 * The most seconds a token made by the caller may last: TOKEN_MAX_S from
 * a fresh session (TOKEN_FRESH_S), else what is left of the caller's own
 * token.  -1 with resp set when the caller's token is not found.
 */
static long
parent_expiry(struct srv_req *req, struct srv_resp *resp)
{
	struct auth_snapshot *snap;
	const struct auth_token *t;
	int64_t now = (int64_t)time(NULL);
	long left = -1;

	if (!(snap = snap_get(req, resp)))
		return -1;
	if (!(t = auth_find_token_id(snap, req->who->token_id)))
		srv_resp_error(resp, 401, "unauthorized", "log in again: "
		    "leura login", "the token of this request is gone");
	else if (strcmp(t->kind, "session") == 0 &&
	    t->expires - now >= AUTH_SESSION_S - TOKEN_FRESH_S)
		left = TOKEN_MAX_S;
	else
		left = t->expires > now ? (long)(t->expires - now) : 0;
	auth_snapshot_unref(snap);
	return left;
}

static void
h_tokens_create(struct srv_req *req, struct srv_resp *resp)
{
	static const char *const allowed[] = { "name", "scopes", "expires_in",
	    NULL };
	const char *name;
	char id[17], res[64];
	json_t *body = NULL, *sc, *v, *ex;
	unsigned scopes = 0;
	long ttl = TOKEN_DEFAULT_S, parent_left;
	size_t i;
	int vb;

	if (srv_body_object(req, resp, allowed, &body) < 0)
		return;
	if (!(name = body_str(body, "name", true, resp)) ||
	    !name_ok(resp, "token", name))
		goto out;
	sc = json_object_get(body, "scopes");
	if (sc && !json_is_array(sc)) {
		srv_resp_error(resp, 400, "bad_request", "e.g. [\"read\"]",
		    "'scopes' must be an array of verbs");
		goto out;
	}
	json_array_foreach(sc, i, v) {
		if ((vb = auth_verb_parse(json_string_value(v))) < 0) {
			srv_resp_error(resp, 400, "bad_request", "verbs: "
			    "read, run, apply, approve, admin", "scopes[%zu]: "
			    "not a verb", i);
			goto out;
		}
		scopes |= 1u << vb;
	}
	if (!sc)
		scopes = req->who->scopes;
	/* a scope implies the verbs below it (auth_decide.c) */
	if (scopes_top(scopes) > scopes_top(req->who->scopes)) {
		srv_resp_error(resp, 403, "forbidden", "log in (leura login) "
		    "to make tokens with more scopes", "a token cannot have "
		    "scopes the token that makes it lacks");
		goto out;
	}
	if ((ex = json_object_get(body, "expires_in")) &&
	    (ttl = ttl_parse(ex)) < 0) {
		srv_resp_error(resp, 400, "bad_request", "seconds (3600) or a "
		    "duration (90s, 10m, 12h, 90d), from 1 s to 366 days",
		    "'expires_in' is not a duration from 1 s to 366 days");
		goto out;
	}
	if ((parent_left = parent_expiry(req, resp)) < 0)
		goto out;
	if (ttl > parent_left) {
		char hint[160];

		snprintf(hint, sizeof(hint), "log in again (leura login) and "
		    "make the token within %ld minutes, or ask for at most "
		    "%lds", TOKEN_FRESH_S / 60, parent_left);
		srv_resp_error(resp, 403, "forbidden", hint, "a token cannot "
		    "outlive the %s that makes it, unless that is a session "
		    "opened in the last %ld minutes", parent_kind(req),
		    TOKEN_FRESH_S / 60);
		goto out;
	}
	srv_req_audit(req, "tokens", json_pack("{s:s}", "name", name));
	token_issue(req, resp, req->who->user, "api", name, scopes, ttl, 201,
	    id);
	if (resp->status == 201) {
		snprintf(res, sizeof(res), "tokens/%s", id);
		srv_req_audit(req, res, NULL);
	}
out:
	json_decref(body);
}

static void
h_tokens_delete(struct srv_req *req, struct srv_resp *resp)
{
	const char *id = srv_param(req, "id");
	struct auth_snapshot *snap = NULL;
	const struct auth_token *t;
	char *k, res[80];
	struct etcd_txn tx;
	int rc;

	if (!id_ok(resp, "token", id))
		return;
	snprintf(res, sizeof(res), "tokens/%s", id);
	srv_req_audit(req, res, NULL);
	if (!require(req, resp, AUTH_ADMIN, "tokens", id) ||
	    !(snap = snap_get(req, resp)))
		return;
	if (!(t = auth_find_token_id(snap, id))) {
		srv_resp_error(resp, 404, "not_found", "list tokens: GET "
		    "/v1/tokens", "no token '%s'", id);
		goto out;
	}
	k = key_of(req, "tokens", t->hash);
	etcd_txn_init(&tx);
	etcd_txn_delete(&tx, ETCD_THEN, k, 0);
	free(k);
	rc = commit(req, resp, &tx);
	etcd_txn_release(&tx);
	if (rc > 0)
		srv_resp_bytes(resp, 204, "application/json", "", 0);
	else if (rc == 0)
		srv_resp_error(resp, 500, "internal", NULL, "delete failed");
out:
	auth_snapshot_unref(snap);
}

/* ---- explain ---- */

static void
h_explain(struct srv_req *req, struct srv_resp *resp)
{
	const char *verb = srv_query(req, "verb");
	const char *resource = srv_query(req, "resource");
	const char *user = srv_query(req, "user");
	struct auth_snapshot *snap;
	const struct auth_grant *g;
	struct auth_why why;
	unsigned scopes;
	json_t *grants;
	size_t i;
	int vb;

	if (!verb || (vb = auth_verb_parse(verb)) < 0) {
		srv_resp_error(resp, 400, "bad_request", "verbs: read, run, "
		    "apply, approve, admin", "?verb= is %s",
		    verb ? "not a verb" : "required");
		return;
	}
	if (!resource || !*resource) {
		srv_resp_error(resp, 400, "bad_request", "e.g. "
		    "?resource=services/web", "?resource= is required");
		return;
	}
	if (!user || strcmp(user, req->who->user) == 0) {
		user = req->who->user;
		scopes = req->who->scopes;
	} else {
		/* explaining someone else tells what they may do */
		if (!name_ok(resp, "user", user) ||
		    !require(req, resp, AUTH_ADMIN, "users", user))
			return;
		scopes = AUTH_SCOPES_ALL;
	}
	if (!(snap = snap_get(req, resp)))
		return;
	auth_decide(snap, user, scopes, vb, resource, &why);
	grants = json_array();
	if (why.allowed && (g = auth_find_grant(snap, why.grant)))
		json_array_append_new(grants, grant_json(g));
	for (i = 0; !why.allowed && i < why.nnearest; i++)
		if ((g = auth_find_grant(snap, why.nearest[i])))
			json_array_append_new(grants, grant_json(g));
	srv_resp_json(resp, 200, json_pack("{s:s,s:s,s:s,s:b,s:s,s:s,s:o}",
	    "user", user, "verb", auth_verb_name(vb), "resource", resource,
	    "allowed", why.allowed, "reason", why.reason, "hint",
	    why.allowed ? "" : why.hint, "grants", grants));
	auth_snapshot_unref(snap);
}

void
auth_routes(struct srv *s)
{
	struct srv_router *r = s->router;

	srv_route(r, "POST", "/v1/login", h_login, SRV_ANON);
	srv_route(r, "POST", "/v1/logout", h_logout, 0);
	srv_route(r, "GET", "/v1/whoami", h_whoami, 0);
	srv_route(r, "GET", "/v1/users", h_users_list, 0);
	srv_route(r, "POST", "/v1/users", h_users_create, 0);
	srv_route(r, "GET", "/v1/users/{name}", h_users_get, 0);
	srv_route(r, "PATCH", "/v1/users/{name}", h_users_patch, 0);
	srv_route(r, "DELETE", "/v1/users/{name}", h_users_delete, 0);
	srv_route(r, "GET", "/v1/groups", h_groups_list, 0);
	srv_route(r, "POST", "/v1/groups", h_groups_create, 0);
	srv_route(r, "GET", "/v1/groups/{name}", h_groups_get, 0);
	srv_route(r, "DELETE", "/v1/groups/{name}", h_groups_delete, 0);
	srv_route(r, "PUT", "/v1/groups/{name}/members/{user}",
	    h_members_put, 0);
	srv_route(r, "DELETE", "/v1/groups/{name}/members/{user}",
	    h_members_delete, 0);
	srv_route(r, "GET", "/v1/grants", h_grants_list, 0);
	srv_route(r, "POST", "/v1/grants", h_grants_create, 0);
	srv_route(r, "GET", "/v1/grants/{id}", h_grants_get, 0);
	srv_route(r, "DELETE", "/v1/grants/{id}", h_grants_delete, 0);
	srv_route(r, "GET", "/v1/tokens", h_tokens_list, 0);
	srv_route(r, "POST", "/v1/tokens", h_tokens_create, 0);
	srv_route(r, "DELETE", "/v1/tokens/{id}", h_tokens_delete, 0);
	srv_route(r, "GET", "/v1/auth/explain", h_explain, 0);
}
