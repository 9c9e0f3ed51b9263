/*
 * GET /v1/events: the audit events (written by the core's audit.c under
 * P/events/<unix-ns:019>-<rand:8hex>), oldest first, as a log reads.
 * The key orders them by time, so ?since= is where the range starts and
 * the cursor (?after=, an event's id: the key's last part) is where the
 * next page does; the range is read in batches and filtered here (by
 * actor, action and resource, and by what the caller may read, read.h)
 * until the page is full.  A page stops short, with a cursor, after
 * RD_EVENTS_SCAN events scanned, so that a caller who may read few
 * events cannot make one request walk the whole log.
 */
#include <ctype.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "clock.h"
#include "doc.h"
#include "etcd.h"
#include "json.h"
#include "keys.h"
#include "leurad.h"
#include "read-int.h"
#include "xalloc.h"

#define RD_EVENTS_BATCH	256
#define RD_EVENTS_SCAN	10000
#define RD_ID_LEN	28	/* 19 digits, '-', 8 hex */

bool
rd_event_id_valid(const char *id)
{
	size_t i;

	if (strlen(id) != RD_ID_LEN || id[19] != '-')
		return false;
	for (i = 0; i < 19; i++)
		if (!isdigit((unsigned char)id[i]))
			return false;
	for (i = 20; i < RD_ID_LEN; i++)
		if (!isxdigit((unsigned char)id[i]) ||
		    isupper((unsigned char)id[i]))
			return false;
	return true;
}

bool
rd_event_needs_admin(const char *resource, const char *action)
{
	static const char *const res[] = { "users/", "groups/", "grants/",
		"tokens/" };
	static const char *const routes[] = { "/v1/users", "/v1/groups",
		"/v1/grants", "/v1/tokens", "/v1/login", "/v1/logout",
		"/v1/auth/" };
	const char *route = strchr(action, ' ');
	size_t i;

	for (i = 0; i < sizeof(res) / sizeof(res[0]); i++)
		if (strncmp(resource, res[i], strlen(res[i])) == 0)
			return true;
	route = route ? route + 1 : action;
	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (strncmp(route, routes[i], strlen(routes[i])) == 0)
			return true;
	return false;
}

/* n digits at *p, advancing it; -1 when not there. */
static int
digits(const char **p, int n)
{
	int v = 0, i;

	for (i = 0; i < n; i++, (*p)++) {
		if (!isdigit((unsigned char)**p))
			return -1;
		v = v * 10 + (**p - '0');
	}
	return v;
}

/* RFC 3339 at s: Unix nanoseconds, or -1. */
static int64_t
rfc3339(const char *s)
{
	const char *p = s;
	struct tm tm = { 0 };
	int64_t frac = 0, scale = 1000000000, off = 0;
	int y, mo, d, h, mi, se, oh, om;
	time_t t;

	if ((y = digits(&p, 4)) < 0 || *p++ != '-' ||
	    (mo = digits(&p, 2)) < 0 || *p++ != '-' ||
	    (d = digits(&p, 2)) < 0 || (*p != 'T' && *p != 't') ||
	    (++p, h = digits(&p, 2)) < 0 || *p++ != ':' ||
	    (mi = digits(&p, 2)) < 0 || *p++ != ':' ||
	    (se = digits(&p, 2)) < 0)
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
	    se > 60 || y < 1970)
		return -1;
	if (*p == '.') {
		if (!isdigit((unsigned char)*++p))
			return -1;
		for (; isdigit((unsigned char)*p); p++)
			if (scale > 1) {
				scale /= 10;
				frac += (*p - '0') * scale;
			}
	}
	if (*p == 'Z' || *p == 'z')
		p++;
	else if (*p == '+' || *p == '-') {
		int sign = *p++ == '-' ? -1 : 1;

		if ((oh = digits(&p, 2)) < 0 || *p++ != ':' ||
		    (om = digits(&p, 2)) < 0 || oh > 23 || om > 59)
			return -1;
		off = sign * (oh * 3600 + om * 60);
	} else
		return -1;
	if (*p != '\0')
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	/* the key's nanoseconds are an int64_t: up to 2262 */
	if ((t = timegm(&tm)) == (time_t)-1 || t - off < 0 ||
	    (int64_t)t - off >= INT64_MAX / 1000000000)
		return -1;
	return ((int64_t)t - off) * 1000000000 + frac;
}

int
rd_since_parse(const char *s, int64_t now_ns, int64_t *out,
    struct lr_err *err)
{
	long ms;
	int64_t t;

	if (lr_duration_parse(s, &ms) == 0) {
		t = now_ns - (int64_t)ms * 1000000;
		*out = t < 0 ? 0 : t;
		return 0;
	}
	if ((t = rfc3339(s)) >= 0) {
		*out = t;
		return 0;
	}
	lr_err_set(err, LR_EINVAL, "bad value 'since=%s': neither a duration "
	    "nor an RFC 3339 time", s);
	return lr_err_hint(err, "give a duration back from now (24h, 90m, "
	    "1h30m) or a time such as 2026-12-07T19:00:00Z");
}

/* What a request asks of the events, and who asks. */
struct ev_filter {
	struct srv_req	*req;
	bool		 all;		/* read on "events" */
	const char	*actor, *action, *resource;
};

static bool
ev_visible(const struct ev_filter *f, const json_t *ev)
{
	const char *res = lr_json_str(ev, "resource");

	if (f->actor && strcmp(lr_json_str(ev, "actor"), f->actor) != 0)
		return false;
	if (f->action && strcmp(lr_json_str(ev, "action"), f->action) != 0)
		return false;
	if (f->resource && fnmatch(f->resource, res, 0) != 0)
		return false;
	if (f->all)
		return true;
	return *res != '\0' && auth_can(f->req, rd_event_needs_admin(res,
	    lr_json_str(ev, "action")) ? AUTH_ADMIN : AUTH_READ, res, NULL);
}

static const char *const ev_args[] = { "since", "actor", "action",
	"resource", "limit", "after", NULL };

/* An unknown query argument: 400 naming it; true when all are known. */
static bool
args_known(struct srv_req *req, struct srv_resp *resp)
{
	size_t i, j;

	for (i = 0; i < req->nquery; i++) {
		for (j = 0; ev_args[j] != NULL; j++)
			if (strcmp(req->query[i].name, ev_args[j]) == 0)
				break;
		if (ev_args[j] == NULL) {
			srv_resp_error(resp, 400, "bad_request", "the "
			    "arguments are since, actor, action, resource, "
			    "limit and after", "unknown query argument '%s'",
			    req->query[i].name);
			return false;
		}
	}
	return true;
}

void
rd_events_get(struct srv_req *req, struct srv_resp *resp)
{
	struct etcd_range_result r = { 0 };
	struct etcd_range_req q = { 0 };
	struct ev_filter f = { 0 };
	struct lr_err err;
	const char *since = srv_query(req, "since"), *after, *id;
	char *dir = NULL, *end = NULL, *start = NULL, *skip = NULL;
	json_t *items = NULL, *next = json_null(), *ev;
	size_t limit, scanned = 0, i, dlen;
	int64_t since_ns = 0;
	struct timespec now;

	if (!args_known(req, resp) ||
	    srv_page_args(req, resp, &limit, &after) < 0)
		return;
	lr_err_clear(&err);
	if (after != NULL && !rd_event_id_valid(after)) {
		srv_resp_error(resp, 400, "bad_request", "pass the 'next' of "
		    "the page before, an event id", "bad cursor 'after=%s'",
		    after);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	if (since != NULL && rd_since_parse(since, (int64_t)now.tv_sec *
	    1000000000 + now.tv_nsec, &since_ns, &err) < 0) {
		srv_resp_lr_err(resp, &err);
		return;
	}
	f.req = req;
	f.all = auth_can(req, AUTH_READ, "events", NULL);
	f.actor = srv_query(req, "actor");
	f.action = srv_query(req, "action");
	f.resource = srv_query(req, "resource");
	dir = proto_key_events_dir(req->srv->prefix);
	dlen = strlen(dir);
	end = etcd_prefix_end(dir);
	start = lr_xasprintf("%s%019lld", dir, (long long)since_ns);
	if (after != NULL) {
		skip = lr_xasprintf("%s%s", dir, after);
		if (strcmp(skip, start) > 0) {
			free(start);
			start = lr_xstrdup(skip);
		}
	}
	items = json_array();
	for (;;) {
		memset(&q, 0, sizeof(q));
		q.key = start;
		q.range_end = end;
		q.limit = RD_EVENTS_BATCH;
		if (etcd_range(req->etcd, &q, &r, &err) < 0) {
			srv_resp_lr_err(resp, &err);
			goto out;
		}
		for (i = 0; i < r.nkvs; i++) {
			if (skip != NULL && strcmp(r.kvs[i].key, skip) <= 0)
				continue;
			id = r.kvs[i].key + dlen;
			if (!rd_event_id_valid(id))
				continue;	/* not an event's key */
			scanned++;
			ev = proto_value_parse(r.kvs[i].key, r.kvs[i].value,
			    r.kvs[i].value_len, &err);
			if (ev != NULL && ev_visible(&f, ev)) {
				json_object_set_new(ev, "id", json_string(id));
				json_array_append(items, ev);
			}
			json_decref(ev);
			if (json_array_size(items) == limit ||
			    scanned >= RD_EVENTS_SCAN) {
				if (i + 1 < r.nkvs || r.more)
					next = json_string(id);
				goto done;
			}
		}
		if (!r.more || r.nkvs == 0)
			break;
		free(skip);
		skip = lr_xstrdup(r.kvs[r.nkvs - 1].key);
		free(start);
		start = lr_xstrdup(skip);
		etcd_range_result_release(&r);
	}
done:
	srv_resp_json(resp, 200, json_pack("{s:o, s:o}", "items", items,
	    "next", next));
	items = next = NULL;
out:
	json_decref(items);
	json_decref(next);
	etcd_range_result_release(&r);
	free(dir);
	free(end);
	free(start);
	free(skip);
}
