/*
 * Status snapshots (read-int.h): from the values the view holds to what
 * GET /v1/status serves.  The convergence rules are reconcile's
 * (rec_status, reconciler/reconcile/status.c), so leurad and `leura
 * status` say the same thing about a host; this file only picks the
 * committed document of each host (the greatest generation at or below
 * the head's, as rec_applied_load does), parses what it has not parsed
 * yet, and serializes the whole answer once per snapshot, so that a
 * caller who may read everything costs a copy of bytes.
 *
 * Nothing here touches etcd, the loop or the HTTP layer: it runs on a
 * worker (the build) and in handlers (filtering), and in unit tests.
 */
#define LR_LOG_COMPONENT "read"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "doc.h"
#include "json.h"
#include "keys.h"
#include "log.h"
#include "read-int.h"
#include "state.h"
#include "xalloc.h"

const char *const rd_state_names[RD_NSTATES] = { "converged", "converging",
	"unknown", "drifted", "failed" };

static char	*dump_line(const json_t *o, size_t *len);

/* ---- values ---- */

struct rd_val *
rd_val_new(const char *key, const char *raw, size_t len, int64_t mod_rev)
{
	struct rd_val *v = lr_xcalloc(1, sizeof(*v));	/* rd_val_unref */

	atomic_init(&v->refs, 1);
	v->key = lr_xstrdup(key);
	v->raw = lr_xmalloc(len + 1);
	memcpy(v->raw, raw, len);
	v->raw[len] = '\0';
	v->len = len;
	v->mod_rev = mod_rev;
	return v;
}

struct rd_val *
rd_val_ref(struct rd_val *v)
{
	atomic_fetch_add(&v->refs, 1);
	return v;
}

void
rd_val_unref(struct rd_val *v)
{
	if (v == NULL || atomic_fetch_sub(&v->refs, 1) != 1)
		return;
	free(v->key);
	free(v->raw);
	json_decref(v->parsed);
	free(v);
}

/*
 * Parse v once; keep (the members named in keep, NULL: all of it).
 * NULL when v is not a JSON object (logged once).
 */
static json_t *
val_parse(struct rd_val *v, const char *const *keep)
{
	struct lr_err err;
	json_t *o, *slim, *x;
	size_t i;

	if (v->parsed != NULL || v->bad)
		return v->parsed;
	lr_err_clear(&err);
	if ((o = proto_value_parse(v->key, v->raw, v->len, &err)) == NULL) {
		lr_log_warn("%s; left out of the status", err.msg);
		v->bad = true;
		return NULL;
	}
	if (keep != NULL) {
		slim = json_object();
		for (i = 0; keep[i] != NULL; i++)
			if ((x = json_object_get(o, keep[i])) != NULL)
				json_object_set(slim, keep[i], x);
		json_decref(o);
		o = slim;
	}
	v->parsed = o;
	free(v->raw);		/* what status needs is parsed now */
	v->raw = NULL;
	v->len = 0;
	return o;
}

/* ---- snapshots ---- */

struct rd_snap *
rd_snap_ref(struct rd_snap *s)
{
	atomic_fetch_add(&s->refs, 1);
	return s;
}

void
rd_snap_unref(struct rd_snap *s)
{
	size_t i;

	if (s == NULL || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	json_decref(s->fleet);
	json_decref(s->head);
	json_decref(s->hosts);
	json_decref(s->services);
	json_decref(s->host_services);
	json_decref(s->host_etag);
	json_decref(s->service_etag);
	free(s->body);
	for (i = 0; i < s->nbodies; i++) {
		free(s->bodies[i].bits);
		free(s->bodies[i].body);
	}
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static int
state_index(const json_t *o)
{
	const char *st = lr_json_str(o, "state");
	int i;

	for (i = 0; i < RD_NSTATES; i++)
		if (strcmp(st, rd_state_names[i]) == 0)
			return i;
	return 2;	/* unknown */
}

static void
etag_max(json_t *etags, const char *name, int64_t rev)
{
	if (lr_json_int(etags, name) < rev)
		json_object_set_new(etags, name, json_integer(rev));
}

/* The members of a host document that status reads. */
static const char *const doc_keep[] = { PROTO_DOC_GENERATION,
	PROTO_DOC_SERVICES, PROTO_DOC_DEPENDS_ON, NULL };

/* The gauges and ETags of a built status. */
static void
snap_summarize(struct rd_snap *s, const json_t *agents)
{
	json_t *v, *x;
	const char *name;
	size_t i;

	s->agents_alive = json_object_size(agents);
	json_object_foreach(s->hosts, name, v) {
		s->host_states[state_index(v)]++;
		s->steps_failed += json_array_size(json_object_get(v,
		    "failed_steps"));
		if (!lr_json_bool(v, "alive") && json_is_integer(
		    json_object_get(v, "observed_generation")))
			s->ages = true;
	}
	json_object_foreach(s->services, name, v) {
		s->service_states[state_index(v)]++;
		json_array_foreach(json_object_get(v, "hosts"), i, x)
			etag_max(s->service_etag, name, lr_json_int(
			    s->host_etag, json_string_value(x)));
	}
}

struct rd_snap *
rd_snap_build(const char *prefix, struct rd_val *const *vals, size_t n,
    int64_t revision, int64_t now)
{
	struct rd_snap *s = lr_xcalloc(1, sizeof(*s));	/* rd_snap_unref */
	json_t *best = json_object(), *desired = json_object();
	json_t *observed = json_object(), *agents = json_object(), *st, *doc;
	json_t *body, *x, *sv;
	struct proto_key k;
	struct rd_val *v, *h = NULL, *f = NULL;
	const char *name;
	char host[256];
	size_t i;

	atomic_init(&s->refs, 1);
	pthread_mutex_init(&s->lock, NULL);
	s->revision = revision;
	s->built = now;
	s->host_services = json_object();
	s->host_etag = json_object();
	s->service_etag = json_object();
	for (i = 0; i < n; i++) {
		v = vals[i];
		switch (proto_key_parse(prefix, v->key, &k)) {
		case PROTO_KEY_HEAD:
			h = v;
			break;
		case PROTO_KEY_FLEET:
			f = v;
			break;
		case PROTO_KEY_OBSERVED:
			if ((x = val_parse(v, NULL)) == NULL)
				break;
			json_object_set(observed, k.host, x);
			etag_max(s->host_etag, k.host, v->mod_rev);
			break;
		case PROTO_KEY_AGENT:
			/* a heartbeat counts by being there */
			if (v->parsed == NULL) {
				v->parsed = json_true();
				free(v->raw);
				v->raw = NULL;
			}
			json_object_set(agents, k.host, v->parsed);
			etag_max(s->host_etag, k.host, v->mod_rev);
			break;
		default:
			break;
		}
	}
	if (f != NULL && (x = val_parse(f, NULL)) != NULL)
		s->fleet = json_incref(json_object_get(x, PROTO_FLEET_NAME));
	if (s->fleet == NULL)
		s->fleet = json_null();
	if (h != NULL && (s->head = json_incref(val_parse(h, NULL))) != NULL) {
		s->head_rev = h->mod_rev;
		s->generation = lr_json_int(s->head, PROTO_HEAD_GENERATION);
	}
	/*
	 * Documents above the head's generation are an apply's not yet
	 * committed (or a dead apply's): the greatest at or below it wins.
	 */
	for (i = 0; i < n; i++) {
		v = vals[i];
		if (proto_key_parse(prefix, v->key, &k) != PROTO_KEY_DOC ||
		    k.generation > s->generation || k.host_len >= sizeof(host))
			continue;
		memcpy(host, k.host, k.host_len);
		host[k.host_len] = '\0';
		x = json_object_get(best, host);
		if (x == NULL || k.generation > lr_json_int(x, "g"))
			json_object_set_new(best, host, json_pack("{s:I, s:I}",
			    "g", (json_int_t)k.generation, "i", (json_int_t)i));
	}
	json_object_foreach(best, name, x) {
		v = vals[lr_json_int(x, "i")];
		proto_key_parse(prefix, v->key, &k);
		if (strcmp(k.name, PROTO_TOMBSTONE) == 0)
			continue;	/* removed from the fleet */
		if ((doc = val_parse(v, doc_keep)) == NULL)
			continue;
		json_object_set(desired, name, doc);
		sv = json_object_get(doc, PROTO_DOC_SERVICES);
		json_object_set_new(s->host_services, name, sv ?
		    json_incref(sv) : json_array());
		etag_max(s->host_etag, name, v->mod_rev);
	}
	st = rec_status(desired, observed, agents, now);
	s->hosts = json_incref(json_object_get(st, "hosts"));
	s->services = json_incref(json_object_get(st, "services"));
	json_decref(st);
	snap_summarize(s, agents);
	body = rd_snap_status(s, NULL, NULL);
	s->body = dump_line(body, &s->body_len);
	json_decref(body);
	json_decref(best);
	json_decref(desired);
	json_decref(observed);
	json_decref(agents);
	return s;
}

size_t
rd_snap_nbits(const struct rd_snap *s)
{
	return json_object_size(s->hosts) + json_object_size(s->services) + 1;
}

#define BIT(b, i)	((b)[(i) / 8] & (1u << ((i) % 8)))

unsigned char *
rd_snap_bits(const struct rd_snap *s, rd_may_fn *may, void *arg)
{
	size_t n = rd_snap_nbits(s), i = 0;
	unsigned char *b = lr_xcalloc((n + 7) / 8, 1);	/* caller's */
	const char *name;
	json_t *v;

	json_object_foreach(s->hosts, name, v) {
		if (may == NULL || may("hosts", name, arg))
			b[i / 8] |= (unsigned char)(1u << (i % 8));
		i++;
	}
	json_object_foreach(s->services, name, v) {
		if (may == NULL || may("services", name, arg))
			b[i / 8] |= (unsigned char)(1u << (i % 8));
		i++;
	}
	if (may == NULL || may("fleet", "", arg))
		b[i / 8] |= (unsigned char)(1u << (i % 8));
	return b;
}

/* The head's field k (borrowed), NULL when no head or no such field. */
static json_t *
head_field(const struct rd_snap *s, const char *k)
{
	return s->head != NULL ? json_object_get(s->head, k) : NULL;
}

/* Whether a caller may read the host named (see svc_view). */
typedef bool host_ok_fn(const char *host, void *arg);

/*
 * Service v as a caller sees it (new reference): only the member hosts
 * ok lets read, with "hidden_hosts" the number left out; a reason that
 * names a host left out ("web1: applying...", rec_status's form) becomes
 * one naming none.  v itself when every member is readable.
 */
static json_t *
svc_view(json_t *v, host_ok_fn *ok, void *arg)
{
	json_t *hosts = json_object_get(v, "hosts"), *keep, *o, *x;
	const char *h, *reason = lr_json_str(v, "reason");
	size_t i, hidden = 0, hl;
	bool named = false;

	keep = json_array();
	json_array_foreach(hosts, i, x) {
		h = json_string_value(x);
		if (h != NULL && ok(h, arg)) {
			json_array_append(keep, x);
			continue;
		}
		hidden++;
		hl = h != NULL ? strlen(h) : 0;
		if (reason != NULL && h != NULL && strncmp(reason, h, hl) ==
		    0 && reason[hl] == ':')
			named = true;
	}
	if (hidden == 0) {
		json_decref(keep);
		return json_incref(v);
	}
	o = json_copy(v);
	json_object_set_new(o, "hosts", keep);
	json_object_set_new(o, "hidden_hosts", json_integer((json_int_t)
	    hidden));
	if (named)
		json_object_set_new(o, "reason", json_sprintf("a host you may "
		    "not read is %s", lr_json_str(v, "state")));
	return o;
}

/* host_ok_fn over the hosts already chosen (an object by name). */
static bool
host_in(const char *host, void *arg)
{
	return json_object_get(arg, host) != NULL;
}

/* The body of what bits let read (new reference). */
static json_t *
status_of(const struct rd_snap *s, const unsigned char *bits)
{
	json_t *hosts = json_object(), *svcs = json_object(), *v;
	const char *name;
	size_t i = 0;

	json_object_foreach(s->hosts, name, v) {
		if (BIT(bits, i))
			json_object_set(hosts, name, v);
		i++;
	}
	json_object_foreach(s->services, name, v) {
		if (BIT(bits, i))
			json_object_set_new(svcs, name, svc_view(v, host_in,
			    hosts));
		i++;
	}
	/* the fleet's own fields: for callers who may read some of it */
	if (json_object_size(hosts) + json_object_size(svcs) == 0 &&
	    !BIT(bits, i))
		return json_pack("{s:n, s:I, s:n, s:n, s:n, s:n, s:I, s:I, "
		    "s:o, s:o}", "fleet", "generation", (json_int_t)0,
		    "deploy", "commit", "applied_by", "applied_at",
		    "head_revision", (json_int_t)0, "revision", (json_int_t)0,
		    "hosts", hosts, "services", svcs);
	/* who applied and when: leura status's first line says it */
	return json_pack("{s:O, s:I, s:O?, s:O?, s:O?, s:O?, s:I, s:I, s:o, "
	    "s:o}", "fleet", s->fleet, "generation",
	    (json_int_t)s->generation, "deploy", head_field(s,
	    PROTO_HEAD_DEPLOY), "commit", head_field(s, PROTO_HEAD_COMMIT),
	    "applied_by", head_field(s, PROTO_HEAD_BY), "applied_at",
	    head_field(s, PROTO_HEAD_AT), "head_revision",
	    (json_int_t)s->head_rev, "revision", (json_int_t)s->revision,
	    "hosts", hosts, "services", svcs);
}

json_t *
rd_snap_status(const struct rd_snap *s, rd_may_fn *may, void *arg)
{
	unsigned char *bits = rd_snap_bits(s, may, arg);
	json_t *o = status_of(s, bits);

	free(bits);
	return o;
}

/* Compact JSON and a newline, as srv_resp_json writes it (new). */
static char *
dump_line(const json_t *o, size_t *len)
{
	char *p = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);

	*len = strlen(p);
	p = lr_xrealloc(p, *len + 2);
	p[(*len)++] = '\n';
	p[*len] = '\0';
	return p;
}

const char *
rd_snap_body(struct rd_snap *s, const unsigned char *bits, size_t *len,
    char **owned)
{
	size_t n = rd_snap_nbits(s), nb = (n + 7) / 8, i;
	const char *found = NULL;
	char *body;
	json_t *o;

	*owned = NULL;
	for (i = 0; i + 1 < n && BIT(bits, i); i++)
		;
	if (n > 1 && i + 1 == n) {
		*len = s->body_len;	/* every host and service */
		return s->body;
	}
	pthread_mutex_lock(&s->lock);
	for (i = 0; i < s->nbodies && found == NULL; i++)
		if (memcmp(s->bodies[i].bits, bits, nb) == 0) {
			found = s->bodies[i].body;
			*len = s->bodies[i].len;
		}
	pthread_mutex_unlock(&s->lock);
	if (found != NULL)
		return found;
	/* built outside the lock; another caller may have added it since */
	o = status_of(s, bits);
	body = dump_line(o, len);
	json_decref(o);
	pthread_mutex_lock(&s->lock);
	for (i = 0; i < s->nbodies && found == NULL; i++)
		if (memcmp(s->bodies[i].bits, bits, nb) == 0) {
			found = s->bodies[i].body;
			*len = s->bodies[i].len;
		}
	if (found == NULL && s->nbodies < RD_BODIES) {
		s->bodies[s->nbodies].bits = lr_xmalloc(nb);	/* s's */
		memcpy(s->bodies[s->nbodies].bits, bits, nb);
		s->bodies[s->nbodies].body = body;		/* s's */
		s->bodies[s->nbodies].len = *len;
		s->nbodies++;
		found = body;
		body = NULL;
	}
	pthread_mutex_unlock(&s->lock);
	if (found == NULL) {
		*owned = body;		/* s keeps enough: the caller's */
		return body;
	}
	free(body);
	return found;
}

/* host_ok_fn through an rd_may_fn (see rd_snap_one). */
struct may_host {
	rd_may_fn	*may;
	void		*arg;
};

static bool
host_may(const char *host, void *arg)
{
	struct may_host *m = arg;

	return m->may == NULL || m->may("hosts", host, m->arg);
}

json_t *
rd_snap_one(const struct rd_snap *s, const char *kind, const char *name,
    rd_may_fn *may, void *arg, int64_t *etag)
{
	bool host = strcmp(kind, "hosts") == 0;
	json_t *v = json_object_get(host ? s->hosts : s->services, name);
	struct may_host m = { may, arg };
	json_t *o;

	if (v == NULL)
		return NULL;
	if (host)
		o = json_copy(v);
	else {
		v = svc_view(v, host_may, &m);
		o = json_copy(v);
		json_decref(v);
	}
	json_object_set_new(o, "name", json_string(name));
	if (host)
		json_object_set(o, "services", json_object_get(
		    s->host_services, name));
	json_object_set(o, "fleet", s->fleet);
	json_object_set_new(o, "generation", json_integer(s->generation));
	*etag = lr_json_int(host ? s->host_etag : s->service_etag, name);
	if (*etag == 0)
		*etag = s->revision;
	return o;
}

void
rd_snap_metrics(const struct rd_snap *s, struct lr_buf *out)
{
	int i;

	if (s == NULL)
		return;
	lr_buf_adds(out, "# HELP leura_hosts Hosts of the fleet by "
	    "convergence state.\n# TYPE leura_hosts gauge\n");
	for (i = 0; i < RD_NSTATES; i++)
		lr_buf_printf(out, "leura_hosts{state=\"%s\"} %zu\n",
		    rd_state_names[i], s->host_states[i]);
	lr_buf_adds(out, "# HELP leura_services Services of the fleet by "
	    "convergence state.\n# TYPE leura_services gauge\n");
	for (i = 0; i < RD_NSTATES; i++)
		lr_buf_printf(out, "leura_services{state=\"%s\"} %zu\n",
		    rd_state_names[i], s->service_states[i]);
	lr_buf_printf(out, "# HELP leura_agents_alive Agents with a live "
	    "heartbeat in etcd.\n# TYPE leura_agents_alive gauge\n"
	    "leura_agents_alive %zu\n", s->agents_alive);
	lr_buf_printf(out, "# HELP leura_steps_failed Failed steps in the "
	    "hosts' last reports.\n# TYPE leura_steps_failed gauge\n"
	    "leura_steps_failed %zu\n", s->steps_failed);
	lr_buf_printf(out, "# HELP leura_generation The generation of the "
	    "applied desired state.\n# TYPE leura_generation gauge\n"
	    "leura_generation %lld\n", (long long)s->generation);
}
