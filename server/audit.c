/*
 * Audit events (docs/etcd-layout.md, "Audit events"): one per mutating
 * request and per 401/403, written on the worker after the handler,
 * before the answer goes out.  The event names who, what, on what, how it
 * ended and the handler's detail: never a body or a secret.  Modules
 * that act on their own (the run engine, cron) record theirs with
 * srv_event_put: the same shape, with no request, status nor client.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LR_LOG_COMPONENT "audit"
#include "auth.h"
#include "etcd.h"
#include "keys.h"
#include "log.h"
#include "srv-int.h"

bool
srv_audit_wanted(const struct srv_req *req, const struct srv_resp *resp)
{
	if (resp->status == 401 || resp->status == 403)
		return true;
	return strcmp(req->method, "GET") != 0 &&
	    strcmp(req->method, "HEAD") != 0;
}

json_t *
srv_audit_event(const struct srv_req *req, const struct srv_resp *resp,
    int64_t now_ns)
{
	char t[64], action[300];
	struct tm tm;
	time_t sec = (time_t)(now_ns / 1000000000);
	const char *outcome;

	gmtime_r(&sec, &tm);
	snprintf(t, sizeof(t), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (int)(now_ns % 1000000000 / 1000000));
	snprintf(action, sizeof(action), "%s %s", req->method,
	    req->route != NULL ? req->route : req->path);
	if (resp->status == 401 || resp->status == 403)
		outcome = "denied";
	else if (resp->status < 400)
		outcome = "ok";
	else
		outcome = "failed";
	return json_pack("{s:s,s:s?,s:s,s:s,s:s,s:i,s:s,s:s,s:O?}",
	    "time", t,
	    "actor", req->who != NULL ? req->who->user : NULL,
	    "action", action,
	    "resource", req->audit_resource != NULL ? req->audit_resource :
	    req->path,
	    "outcome", outcome,
	    "status", resp->status,
	    "request_id", req->request_id,
	    "client", req->client,
	    "detail", req->audit_detail);
}

void
srv_audit(struct srv_req *req, const struct srv_resp *resp)
{
	struct timespec ts;
	struct lr_err err;
	uint32_t rnd;
	int64_t ns;
	json_t *ev;
	char *key, *val;

	if (!srv_audit_wanted(req, resp))
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	srv_random(&rnd, sizeof(rnd));
	ev = srv_audit_event(req, resp, ns);
	val = json_dumps(ev, JSON_COMPACT);
	json_decref(ev);
	key = proto_key_event(req->srv->prefix, ns, rnd);
	lr_err_clear(&err);
	if (val == NULL || req->etcd == NULL ||
	    etcd_put(req->etcd, key, val, strlen(val), 0, NULL, &err) < 0) {
		lr_log_error("cannot write the audit event of %s %s "
		    "(request %s): %s", req->method, req->path,
		    req->request_id, err.msg[0] ? err.msg : "no etcd");
		srv_metrics_inc("leurad_audit_failures_total", "");
	}
	free(key);
	free(val);
}

int
srv_event_put(struct srv *s, struct etcd *e, const char *actor,
    const char *action, const char *resource, const char *outcome,
    json_t *detail)
{
	struct timespec ts;
	struct lr_err err;
	uint32_t rnd;
	int64_t ns;
	json_t *ev;
	char t[64], *key, *val;
	struct tm tm;
	time_t sec;
	int rc;

	clock_gettime(CLOCK_REALTIME, &ts);
	ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	sec = ts.tv_sec;
	gmtime_r(&sec, &tm);
	snprintf(t, sizeof(t), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (int)(ts.tv_nsec / 1000000));
	ev = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o?}", "time", t, "actor",
	    actor ? actor : "leurad", "action", action, "resource", resource,
	    "outcome", outcome ? outcome : "ok", "detail", detail);
	srv_random(&rnd, sizeof(rnd));
	val = json_dumps(ev, JSON_COMPACT);	/* freed below */
	json_decref(ev);
	key = proto_key_event(s->prefix, ns, rnd);
	lr_err_clear(&err);
	rc = etcd_put(e, key, val, strlen(val), 0, NULL, &err);
	if (rc < 0) {
		lr_log_error("cannot write the event %s on %s: %s", action,
		    resource, err.msg);
		srv_metrics_inc("leurad_audit_failures_total", "");
	}
	free(key);
	free(val);
	return rc;
}
