/*
 * The desired state in force, on the run side: what desired.json holds
 * (the document, its key, the head it was found current at) and the
 * turndown steps of services that left the host, still to run.  The sync
 * side decides when a newer document is in force; this file takes it
 * (agent_conv_desired), works out what it turns down, saves it before any
 * step of it runs, and hands it to converge.c.  At start it reads what a
 * previous agent left in the state dir: the cached desired state and the
 * step a crash interrupted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LR_LOG_COMPONENT "agent"
#include "converge-int.h"
#include "fields.h"
#include "json.h"
#include "log.h"
#include "report.h"
#include "xalloc.h"

void
conv_desired_load(struct agent_conv *cv)
{
	struct lr_err err;
	json_t *cur, *run, *recs;
	const char *id;

	if (agent_store_desired_load(cv->store, &cur, &err) < 0) {
		lr_log_warn("%s; starting without a cached desired state",
		    err.msg);
		cur = NULL;
	}
	if (cur && (!json_is_object(json_object_get(cur, "doc")) ||
	    !json_is_string(json_object_get(cur, "key")))) {
		lr_log_warn("%s/desired.json is not a desired state; ignored",
		    agent_store_dir(cv->store));
		json_decref(cur);
		cur = NULL;
	}
	if (cur && !json_is_array(json_object_get(cur, "turndown")))
		json_object_set_new(cur, "turndown", json_array());
	cv->cur = cur;
	if ((run = agent_store_running_take(cv->store)) != NULL) {
		id = lr_json_strn(run, "id");
		if (id) {
			lr_log_warn("step '%s' was interrupted (the agent "
			    "stopped while it ran); it runs again", id);
			cv->interrupted = lr_xstrdup(id);
			recs = agent_store_records(cv->store);
			/* keep a pending trigger: the step must run again */
			if (!lr_json_bool(json_object_get(recs, id),
			    "triggered"))
				json_object_del(recs, id);
			if (agent_store_records_save(cv->store, &err) < 0)
				lr_log_error("%s", err.msg);
		}
		json_decref(run);
	}
}

bool
agent_conv_has_desired(const struct agent_conv *cv)
{
	return cv->cur != NULL;
}

const char *
agent_conv_in_force(const struct agent_conv *cv, int64_t *head)
{
	if (cv->cur == NULL)
		return NULL;
	*head = lr_json_int(cv->cur, "head");
	return lr_json_strn(cv->cur, "key");
}

int64_t
conv_cur_generation(const struct agent_conv *cv)
{
	return cv->cur ? lr_json_int(json_object_get(cv->cur, "doc"),
	    PROTO_DOC_GENERATION) : 0;
}

/* Whether next's services name svc (entries that are not strings: no). */
static bool
has_service(const json_t *next, const char *svc)
{
	const char *name;
	json_t *s;
	size_t j;

	json_array_foreach(json_object_get(next, PROTO_DOC_SERVICES), j, s)
		if ((name = json_string_value(s)) != NULL &&
		    strcmp(name, svc) == 0)
			return true;
	return false;
}

void
conv_turndown_add(json_t *cur, const json_t *old, const json_t *next)
{
	json_t *td = json_object_get(cur, "turndown"), *st;
	const char *svc, *phase;
	size_t i;

	if (!json_is_array(td))
		return;
	json_array_foreach(json_object_get(old, PROTO_DOC_STEPS), i, st) {
		svc = lr_json_strn(st, PROTO_STEP_SERVICE);
		phase = lr_json_strn(st, PROTO_STEP_PHASE);
		if (svc == NULL || phase == NULL ||
		    strcmp(phase, PROTO_PHASE_TURNDOWN) != 0)
			continue;
		if (!has_service(next, svc))
			json_array_append(td, st);
	}
	/* a service that comes back takes its pending turndown off */
	for (i = json_array_size(td); i-- > 0;) {
		svc = lr_json_strn(json_array_get(td, i), PROTO_STEP_SERVICE);
		if (svc != NULL && has_service(next, svc))
			json_array_remove(td, i);
	}
}

void
agent_conv_desired(struct agent_conv *cv, const char *key, json_t *doc,
    int64_t head_gen)
{
	json_t *cur, *old = cv->cur ? json_object_get(cv->cur, "doc") : NULL;
	struct lr_err err;

	cur = json_pack("{s:s, s:O, s:o, s:I}", "key", key, "doc", doc,
	    "turndown", cv->cur ? json_deep_copy(json_object_get(cv->cur,
	    "turndown")) : json_array(), "head", (json_int_t)head_gen);
	if (old)
		conv_turndown_add(cur, old, doc);
	if (agent_store_desired_save(cv->store, cur, &err) < 0)
		lr_log_error("%s", err.msg);
	json_decref(cv->cur);
	cv->cur = cur;
	/* a trusted document is in force: what was refused is behind it */
	proto_report_set_refused(cv->report, NULL, NULL, NULL, 0);
	lr_log_notice("desired state: generation %lld (%s), %zu steps",
	    (long long)lr_json_int(doc, PROTO_DOC_GENERATION),
	    lr_json_bool(doc, PROTO_DOC_REMOVED) ? "removed from the "
	    "inventory" : "deploy", json_array_size(json_object_get(doc,
	    PROTO_DOC_STEPS)));
	agent_conv_converge(cv);
}

void
agent_conv_refused(struct agent_conv *cv, const char *key,
    const struct lr_err *err)
{
	proto_report_set_refused(cv->report, key, err->msg, err->hint,
	    (int64_t)time(NULL));
	agent_sync_publish(cv->sync, cv->report, NULL);
}

void
agent_conv_head(struct agent_conv *cv, int64_t head_gen, int64_t head_deploy)
{
	if (cv->cur == NULL)
		return;
	json_object_set_new(cv->cur, "head", json_integer(head_gen));
	proto_report_set_head(cv->report, head_gen, head_deploy);
	agent_sync_publish(cv->sync, cv->report, NULL);
}

/* Contents the desired state in force still needs. */
void
conv_files_gc(struct agent_conv *cv)
{
	json_t *keep = json_array(), *st;
	const char *sha;
	size_t i;

	json_array_foreach(json_object_get(json_object_get(cv->cur, "doc"),
	    PROTO_DOC_STEPS), i, st) {
		if ((sha = lr_json_strn(st, PROTO_STEP_SHA256)))
			json_array_append_new(keep, json_string(sha));
		if ((sha = lr_json_strn(st, PROTO_STEP_EXEC_SHA256)))
			json_array_append_new(keep, json_string(sha));
	}
	json_array_foreach(json_object_get(cv->cur, "turndown"), i, st) {
		if ((sha = lr_json_strn(st, PROTO_STEP_SHA256)))
			json_array_append_new(keep, json_string(sha));
		if ((sha = lr_json_strn(st, PROTO_STEP_EXEC_SHA256)))
			json_array_append_new(keep, json_string(sha));
	}
	agent_store_files_gc(cv->store, keep);
	json_decref(keep);
}

void
conv_turndown_done(struct agent_conv *cv, const json_t *done)
{
	json_t *td = json_object_get(cv->cur, "turndown"), *v;
	struct lr_err err;
	size_t i, j;
	bool changed = false;

	for (i = json_array_size(td); i-- > 0;)
		json_array_foreach(done, j, v)
			if (strcmp(lr_json_str(json_array_get(td, i),
			    PROTO_STEP_ID),
			    json_string_value(v)) == 0) {
				json_array_remove(td, i);
				changed = true;
				break;
			}
	if (changed && agent_store_desired_save(cv->store, cv->cur, &err) < 0)
		lr_log_error("%s", err.msg);
}
