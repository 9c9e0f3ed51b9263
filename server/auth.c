/*
 * auth's state in leurad: the in-memory copy of P/auth/ and how it stays
 * current, the first admin, authentication of bearer tokens, the login
 * back-off, and auth_can/auth_require over the pure decision.
 *
 * The copy: a worker reads P/auth/ once (and makes the first admin when
 * no user exists), then one watch on the loop from the next revision
 * applies each batch to the loop's map of keys and publishes a new
 * immutable snapshot under st->mu.  auth_ready is false until the first
 * snapshot is published.  A handler that wrote to P/auth/ waits
 * (auth_wait_rev) until the copy has seen its revision, so the next
 * request on this replica sees the write (read-your-writes); the other
 * replicas see it within their watch's latency (milliseconds on a LAN).
 *
 * Tokens are checked against the copy, not etcd: a request costs no round
 * trip, and a revocation is seen at once on the replica that revoked
 * (DELETE waits for its revision) and within the watch's latency on the
 * others.
 */
#define LR_LOG_COMPONENT "auth"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "auth-int.h"
#include "clock.h"
#include "etcd.h"
#include "etcd_uv.h"
#include "file.h"
#include "json.h"
#include "keys.h"
#include "leurad.h"
#include "log.h"
#include "xalloc.h"

#define WAIT_REV_MS	5000	/* auth_wait_rev's deadline */
#define RETRY_MS	1000	/* a failed start-up read is tried again */
#define BO_USER		5	/* failures of a user before back-off */
#define BO_ADDR		20	/* failures from an address before back-off */
#define BO_MAX_S	900	/* longest back-off */
#define BO_FORGET_MS	(15 * 60 * 1000)	/* failures older: forgotten */
#define BO_ENTRIES	10000

struct auth_backoff {
	pthread_mutex_t	 mu;
	json_t		*map;	/* "u:NAME"|"a:ADDR" -> [n, until_ms, last_ms] */
};

char *
auth_key(struct srv *s, const char *rel)
{
	char *dir = proto_key_auth_dir(s->prefix);
	char *k = lr_xasprintf("%s%s", dir, rel);	/* the caller's */

	free(dir);
	return k;
}

char *
auth_dump(json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);

	json_decref(o);
	if (!s)
		LR_BUG("json_dumps failed");
	return s;		/* the caller's */
}

/* ---- the copy ---- */

struct auth_snapshot *
auth_current(struct srv *s)
{
	struct auth_state *st = s->auth;
	struct auth_snapshot *snap;

	if (!st)
		return NULL;
	pthread_mutex_lock(&st->mu);
	snap = auth_snapshot_ref(st->snap);
	pthread_mutex_unlock(&st->mu);
	return snap;
}

bool
auth_ready(struct srv *s)
{
	struct auth_snapshot *snap = auth_current(s);
	bool ok = snap != NULL;

	auth_snapshot_unref(snap);
	return ok;
}

void
auth_wait_rev(struct srv *s, int64_t rev)
{
	struct auth_state *st = s->auth;
	struct timespec dl;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += WAIT_REV_MS / 1000;
	pthread_mutex_lock(&st->mu);
	while (!st->snap || st->snap->revision < rev) {
		if (pthread_cond_timedwait(&st->cond, &st->mu, &dl) ==
		    ETIMEDOUT) {
			lr_log_warn("the copy of auth did not see revision "
			    "%lld within %d ms", (long long)rev, WAIT_REV_MS);
			break;
		}
	}
	pthread_mutex_unlock(&st->mu);
}

/* Loop: publish a copy of the loop's map as the new snapshot. */
static void
publish(struct auth_state *st)
{
	struct auth_snapshot *snap, *old;

	snap = auth_snapshot_build(json_deep_copy(st->master), st->revision);
	pthread_mutex_lock(&st->mu);
	old = st->snap;
	st->snap = snap;
	pthread_cond_broadcast(&st->cond);
	pthread_mutex_unlock(&st->mu);
	auth_snapshot_unref(old);
}

/* One key of P/auth/ into map (rel key -> {"doc","rev"}); bad JSON skipped. */
static void
map_put(json_t *map, size_t dirlen, const struct etcd_kv *kv)
{
	json_t *doc;

	if (strlen(kv->key) <= dirlen)
		return;
	if (!(doc = json_loadb(kv->value, kv->value_len, 0, NULL))) {
		/* a token's key is its hash: never in a log line */
		if (strncmp(kv->key + dirlen, "tokens/", 7) == 0)
			lr_log_warn("%.*stokens/...: not JSON; ignored",
			    (int)dirlen, kv->key);
		else
			lr_log_warn("%s: not JSON; ignored", kv->key);
		return;
	}
	json_object_set_new(map, kv->key + dirlen,
	    json_pack("{s:o,s:I}", "doc", doc, "rev",
	    (json_int_t)kv->mod_revision));
}

static int load_start(struct auth_state *st);

static void
retry_cb(uv_timer_t *t)
{
	struct auth_state *st = t->data;

	if (!st->stopping)
		load_start(st);
}

static void
watch_restart(struct auth_state *st)
{
	if (st->watch) {
		etcd_uv_watch_stop(st->watch);
		st->watch = NULL;
	}
	uv_timer_start(st->retry, retry_cb, RETRY_MS, 0);
}

static void
watch_cb(const struct etcd_watch_batch *b, void *arg)
{
	struct auth_state *st = arg;
	char *dir = auth_key(st->srv, "");
	size_t dirlen = strlen(dir), i;

	switch (b->kind) {
	case ETCD_WATCH_EVENTS:
		for (i = 0; i < b->nevents; i++) {
			const struct etcd_event *ev = &b->events[i];

			if (ev->type == ETCD_EV_PUT)
				map_put(st->master, dirlen, &ev->kv);
			else if (strlen(ev->kv.key) > dirlen)
				json_object_del(st->master,
				    ev->kv.key + dirlen);
			if (ev->kv.mod_revision > st->revision)
				st->revision = ev->kv.mod_revision;
		}
		if (b->revision > st->revision)
			st->revision = b->revision;
		publish(st);
		break;
	case ETCD_WATCH_RESYNC:
		json_object_clear(st->master);
		for (i = 0; i < b->nkvs; i++)
			map_put(st->master, dirlen, &b->kvs[i]);
		st->revision = b->revision;
		lr_log_info("auth copy re-read after a compaction (revision "
		    "%lld)", (long long)b->revision);
		publish(st);
		break;
	case ETCD_WATCH_PROGRESS:
		break;
	case ETCD_WATCH_DISCONNECTED:
		lr_log_warn("watch of %s: %s", dir, b->err->msg);
		if (b->err->code == LR_EPERM || b->err->code == LR_EAUTH)
			watch_restart(st);
		break;
	}
	free(dir);
}

/* Worker: make the first admin (create-if-absent on a marker key). */
static int
first_admin(struct auth_state *st, struct etcd *e, struct lr_err *err)
{
	struct srv *s = st->srv;
	char *marker = auth_key(s, "initialized");
	char *ukey = auth_key(s, "users/" AUTH_ADMIN_USER);
	char gid[17], uid[33], now[LR_TIME_ISO_LEN];
	char *gkey, *hash = NULL, *pw, *rel;
	char *uval = NULL, *gval = NULL, *mval = NULL;
	struct etcd_txn t;
	struct etcd_txn_result res = { 0 };
	bool generated = false;
	int rc;

	pw = st->admin_password;
	if (!pw) {
		pw = auth_random_b64(32);
		generated = true;
	}
	auth_random_hex(gid, 8);
	gid[0] = 'g';
	rel = lr_xasprintf("grants/%s", gid);
	gkey = auth_key(s, rel);
	free(rel);
	lr_time_iso_now(now);
	if ((rc = auth_pw_hash(pw, &hash, err)) < 0)
		goto out;
	auth_random_hex(uid, 16);
	uval = auth_dump(json_pack("{s:s,s:s,s:s,s:s,s:s,s:b}", "name",
	    AUTH_ADMIN_USER, "uid", uid, "password", hash, "created", now,
	    "created_by", "leurad", "disabled", 0));
	gval = auth_dump(json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "id", gid,
	    "subject", "user:" AUTH_ADMIN_USER, "verb", "admin", "resource",
	    "*", "created", now, "created_by", "leurad"));
	mval = auth_dump(json_pack("{s:s,s:s}", "created", now, "by", s->id));
	etcd_txn_init(&t);
	etcd_txn_cmp_int(&t, marker, ETCD_CMP_VERSION, ETCD_CMP_EQUAL, 0);
	etcd_txn_put(&t, ETCD_THEN, marker, mval, strlen(mval), 0);
	etcd_txn_put(&t, ETCD_THEN, ukey, uval, strlen(uval), 0);
	etcd_txn_put(&t, ETCD_THEN, gkey, gval, strlen(gval), 0);
	rc = etcd_txn_commit(e, &t, &res, err);
	etcd_txn_release(&t);
	if (rc < 0)
		goto out;
	if (res.succeeded) {
		lr_log_info("first admin '%s' made, with admin on \"*\" "
		    "(grant %s)", AUTH_ADMIN_USER, gid);
		/* shown once, never logged: stderr, not the log */
		if (generated)
			fprintf(stderr, "leurad: first admin '%s', password "
			    "(shown once): %s\n", AUTH_ADMIN_USER, pw);
	}
	etcd_txn_result_release(&res);
out:
	if (generated) {
		OPENSSL_cleanse(pw, strlen(pw));
		free(pw);
	}
	if (hash) {
		OPENSSL_cleanse(hash, strlen(hash));
		free(hash);
	}
	if (uval) {
		OPENSSL_cleanse(uval, strlen(uval));
		free(uval);
	}
	free(gval);
	free(mval);
	free(marker);
	free(ukey);
	free(gkey);
	return rc;
}

/* Worker: read P/auth/ (making the first admin when there is none). */
static void
load_work(uv_work_t *w)
{
	struct auth_state *st = w->data;
	struct srv *s = st->srv;
	char *dir = auth_key(s, ""), *ukey = auth_key(s, "users/");
	struct etcd_range_req rq = { .key = ukey, .flags = ETCD_PREFIX |
	    ETCD_KEYS_ONLY, .limit = 1 };
	struct etcd_range_result rr = { 0 };
	struct etcd *e = srv_etcd_take(s);
	size_t i;

	lr_err_clear(&st->work_err);
	st->work_master = NULL;
	if (!st->dummy_hash &&
	    auth_pw_hash("not a password of anyone's", &st->dummy_hash,
	    &st->work_err) < 0)
		goto out;
	if (etcd_range(e, &rq, &rr, &st->work_err) < 0)
		goto out;
	if (rr.nkvs == 0 && first_admin(st, e, &st->work_err) < 0)
		goto out;
	etcd_range_result_release(&rr);
	rq.key = dir;
	rq.flags = ETCD_PREFIX;
	rq.limit = 0;
	if (etcd_range(e, &rq, &rr, &st->work_err) < 0)
		goto out;
	st->work_master = json_object();
	for (i = 0; i < rr.nkvs; i++)
		map_put(st->work_master, strlen(dir), &rr.kvs[i]);
	st->work_rev = rr.revision;
out:
	etcd_range_result_release(&rr);
	srv_etcd_give(s, e);
	free(dir);
	free(ukey);
}

static void state_free(struct auth_state *st);

static void
load_done(uv_work_t *w, int status)
{
	struct auth_state *st = w->data;
	struct etcd_watch_req wq = { 0 };
	struct lr_err err = { 0 };

	st->loading = false;
	if (st->stopping) {
		json_decref(st->work_master);
		state_free(st);
		return;
	}
	if (status < 0 || !st->work_master) {
		lr_log_warn("cannot read %s: %s; trying again in %d ms",
		    "the users, groups and grants", st->work_err.msg,
		    RETRY_MS);
		uv_timer_start(st->retry, retry_cb, RETRY_MS, 0);
		return;
	}
	json_decref(st->master);
	st->master = st->work_master;
	st->work_master = NULL;
	st->revision = st->work_rev;
	publish(st);
	wq.key = auth_key(st->srv, "");
	wq.flags = ETCD_PREFIX;
	wq.start_revision = st->revision + 1;
	if (etcd_uv_watch_start(st->eu, &wq, watch_cb, st, &st->watch,
	    &err) < 0) {
		lr_log_warn("cannot watch %s: %s; reading again", wq.key,
		    err.msg);
		st->watch = NULL;
		uv_timer_start(st->retry, retry_cb, RETRY_MS, 0);
	} else {
		lr_log_info("users, groups and grants loaded (revision %lld)",
		    (long long)st->revision);
	}
	free((char *)wq.key);
}

static int
load_start(struct auth_state *st)
{
	st->work.data = st;
	st->loading = true;
	return uv_queue_work(st->srv->loop, &st->work, load_work, load_done);
}

/* ---- authentication ---- */

static void
principal_free(struct auth_principal *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->ngroups; i++)
		free(p->groups[i]);
	free(p->groups);
	free(p->user);
	free(p->token_id);
	free(p);
}

static int
authenticate(struct srv *s, struct srv_req *req, const char *token,
    struct auth_principal **out, struct srv_resp *resp)
{
	struct auth_snapshot *snap = NULL;
	const struct auth_token *t;
	const struct auth_user *u;
	struct auth_principal *p;
	char hash[65];
	size_t i;
	int rc = -1;

	if (!token || !*token) {
		srv_resp_error(resp, 401, "unauthorized", "log in: leura "
		    "login (or send Authorization: Bearer TOKEN)",
		    "this request needs a token");
		return -1;
	}
	if (!(snap = auth_current(s))) {
		srv_resp_error(resp, 503, "unavailable", "try again in a "
		    "moment", "leurad is still loading users and grants");
		return -1;
	}
	auth_sha256_hex(token, hash);
	t = auth_find_token(snap, hash);
	if (!t || CRYPTO_memcmp(t->hash, hash, 64) != 0) {
		srv_resp_error(resp, 401, "unauthorized", "log in again: "
		    "leura login", "unknown or revoked token");
		goto out;
	}
	if (t->expires <= time(NULL)) {
		srv_resp_error(resp, 401, "unauthorized", "log in again: "
		    "leura login", "token %s expired", t->id);
		goto out;
	}
	if (!(u = auth_find_user(snap, t->user)) || u->disabled) {
		srv_resp_error(resp, 401, "unauthorized", "log in again: "
		    "leura login (or ask an admin)", "user '%s' %s", t->user,
		    u ? "is disabled" : "no longer exists");
		goto out;
	}
	p = lr_xcalloc(1, sizeof(*p));	/* the core's; principal_free */
	p->user = lr_xstrdup(u->name);
	p->token_id = lr_xstrdup(t->id);
	p->scopes = t->scopes;
	p->groups = lr_xcalloc(snap->ngroups + 1, sizeof(*p->groups));
	for (i = 0; i < snap->ngroups; i++)
		if (auth_group_has(&snap->groups[i], u->name))
			p->groups[p->ngroups++] =
			    lr_xstrdup(snap->groups[i].name);
	*out = p;
	rc = 0;
out:
	auth_snapshot_unref(snap);
	return rc;
}

bool
auth_can(const struct srv_req *req, enum auth_verb verb,
    const char *resource, struct auth_why *why)
{
	struct auth_snapshot *snap;
	bool ok;

	if (!req->who) {
		if (why) {
			memset(why, 0, sizeof(*why));
			snprintf(why->reason, sizeof(why->reason),
			    "anonymous callers may do nothing");
			snprintf(why->hint, sizeof(why->hint),
			    "log in: leura login");
		}
		return false;
	}
	snap = auth_current(req->srv);
	ok = auth_decide(snap, req->who->user, req->who->scopes, verb,
	    resource, why);
	auth_snapshot_unref(snap);
	return ok;
}

bool
auth_require(const struct srv_req *req, struct srv_resp *resp,
    enum auth_verb verb, const char *resource)
{
	struct auth_why why;

	if (auth_can(req, verb, resource, &why))
		return true;
	if (!req->who)
		srv_resp_error(resp, 401, "unauthorized", why.hint, "%s",
		    why.reason);
	else
		srv_resp_error(resp, 403, "forbidden", why.hint,
		    "forbidden: %s on %s needs a grant (%s)",
		    auth_verb_name(verb), resource, why.reason);
	return false;
}

/* ---- the login back-off (in memory, per replica) ---- */

static void
addr_of(const char *client, char *out, size_t cap)
{
	const char *c = strrchr(client, ':');
	size_t n = c ? (size_t)(c - client) : strlen(client);

	snprintf(out, cap, "a:%.*s", (int)n, client);
}

/* Remaining seconds of key's back-off, under bo->mu. */
static long
bo_left(struct auth_backoff *bo, const char *key, long now)
{
	json_t *e = json_object_get(bo->map, key);
	long until;

	if (!e)
		return 0;
	until = (long)json_integer_value(json_array_get(e, 1));
	return until > now ? (until - now + 999) / 1000 : 0;
}

long
auth_backoff_check(struct auth_state *st, const char *user,
    const char *client)
{
	struct auth_backoff *bo = st->backoff;
	char ukey[AUTH_NAME_MAX + 8], akey[80];
	long now = lr_now_ms(), a, b;

	snprintf(ukey, sizeof(ukey), "u:%.64s", user);
	addr_of(client, akey, sizeof(akey));
	pthread_mutex_lock(&bo->mu);
	a = bo_left(bo, ukey, now);
	b = bo_left(bo, akey, now);
	pthread_mutex_unlock(&bo->mu);
	return a > b ? a : b;
}

static void
bo_fail(struct auth_backoff *bo, const char *key, int threshold, long now)
{
	json_t *e = json_object_get(bo->map, key);
	long n = 0, until = 0, last, d;
	const char *k;
	json_t *v;
	void *tmp;

	if (e) {
		n = (long)json_integer_value(json_array_get(e, 0));
		last = (long)json_integer_value(json_array_get(e, 2));
		if (now - last > BO_FORGET_MS)
			n = 0;
	}
	n++;
	if (n >= threshold) {
		d = n - threshold;
		d = d >= 10 ? BO_MAX_S : 1L << d;
		until = now + (d > BO_MAX_S ? BO_MAX_S : d) * 1000;
	}
	if (json_object_size(bo->map) >= BO_ENTRIES) {
		json_object_foreach_safe(bo->map, tmp, k, v) {
			if (now - (long)json_integer_value(
			    json_array_get(v, 2)) > BO_FORGET_MS)
				json_object_del(bo->map, k);
		}
		if (json_object_size(bo->map) >= BO_ENTRIES)
			json_object_clear(bo->map);
	}
	json_object_set_new(bo->map, key, json_pack("[I,I,I]",
	    (json_int_t)n, (json_int_t)until, (json_int_t)now));
}

void
auth_backoff_fail(struct auth_state *st, const char *user,
    const char *client)
{
	struct auth_backoff *bo = st->backoff;
	char ukey[AUTH_NAME_MAX + 8], akey[80];
	long now = lr_now_ms();

	snprintf(ukey, sizeof(ukey), "u:%.64s", user);
	addr_of(client, akey, sizeof(akey));
	pthread_mutex_lock(&bo->mu);
	bo_fail(bo, ukey, BO_USER, now);
	bo_fail(bo, akey, BO_ADDR, now);
	pthread_mutex_unlock(&bo->mu);
}

void
auth_backoff_ok(struct auth_state *st, const char *user, const char *client)
{
	struct auth_backoff *bo = st->backoff;
	char ukey[AUTH_NAME_MAX + 8];

	snprintf(ukey, sizeof(ukey), "u:%.64s", user);
	pthread_mutex_lock(&bo->mu);
	json_object_del(bo->map, ukey);
	pthread_mutex_unlock(&bo->mu);
}

/* ---- module hooks ---- */

static void
timer_closed(uv_handle_t *h)
{
	free(h);
}

static void
state_free(struct auth_state *st)
{
	if (!st)
		return;
	auth_snapshot_unref(st->snap);
	json_decref(st->master);
	if (st->admin_password) {
		OPENSSL_cleanse(st->admin_password,
		    strlen(st->admin_password));
		free(st->admin_password);
	}
	free(st->dummy_hash);
	if (st->backoff) {
		json_decref(st->backoff->map);
		pthread_mutex_destroy(&st->backoff->mu);
		free(st->backoff);
	}
	pthread_mutex_destroy(&st->mu);
	pthread_cond_destroy(&st->cond);
	free(st);
}

int
auth_init(struct srv *s, struct lr_err *err)
{
	struct etcd_config cfg = {
		.endpoints = s->conn.endpoints, .user = s->conn.user,
		.password = s->conn.password, .cacert = s->conn.cacert,
		.cert = s->conn.cert, .key = s->conn.key
	};
	struct auth_state *st = lr_xcalloc(1, sizeof(*st));
	char *buf = NULL;
	size_t len;

	st->srv = s;
	pthread_mutex_init(&st->mu, NULL);
	pthread_cond_init(&st->cond, NULL);
	st->master = json_object();
	st->backoff = lr_xcalloc(1, sizeof(*st->backoff));
	pthread_mutex_init(&st->backoff->mu, NULL);
	st->backoff->map = json_object();
	if (s->admin_password_file) {
		if (lr_read_file(s->admin_password_file, 4096, &buf, &len,
		    err) < 0) {
			lr_err_hint(err, "--admin-password-file names a file "
			    "whose first line is the first admin's password");
			state_free(st);
			return err->code;
		}
		buf[strcspn(buf, "\r\n")] = '\0';
		if (strlen(buf) < 8) {
			OPENSSL_cleanse(buf, len);
			free(buf);
			state_free(st);
			lr_err_set(err, LR_EINVAL, "the password in '%s' is "
			    "shorter than 8 characters", s->admin_password_file);
			return lr_err_hint(err, "write a longer one, or leave "
			    "--admin-password-file out to have one made");
		}
		st->admin_password = buf;
	}
	if (etcd_uv_new(s->loop, &cfg, &st->eu, err) < 0) {
		state_free(st);
		return err->code;
	}
	st->retry = lr_xcalloc(1, sizeof(*st->retry));	/* timer_closed */
	uv_timer_init(s->loop, st->retry);
	st->retry->data = st;
	s->auth = st;
	s->authenticate = authenticate;
	s->principal_free = principal_free;
	/*
	 * The first read (and the first admin) once the loop runs, that is
	 * once leurad listens: a leurad that cannot listen exits before
	 * making an admin whose generated password nobody would see.
	 */
	uv_timer_start(st->retry, retry_cb, 0, 0);
	return 0;
}

void
auth_free(struct srv *s)
{
	struct auth_state *st = s->auth;

	if (!st)
		return;
	s->auth = NULL;
	st->stopping = true;
	if (st->watch)
		etcd_uv_watch_stop(st->watch);
	etcd_uv_free(st->eu);
	uv_close((uv_handle_t *)st->retry, timer_closed);
	/* a start-up read queued or running frees st in load_done */
	if (st->loading)
		uv_cancel((uv_req_t *)&st->work);
	else
		state_free(st);
}
