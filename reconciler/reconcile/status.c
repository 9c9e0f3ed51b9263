/*
 * Convergence status (state.h, rec_status): a pure function of the applied
 * documents, the agents' reports (P/observed/<host>) and their heartbeats
 * (P/agents/<host>), so every rule here is unit-tested without etcd.
 *
 * The report an agent writes is read with proto/report.h
 * (proto_report_decode); its fields are described in docs/etcd-layout.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "doc.h"
#include "json.h"
#include "report.h"
#include "state.h"
#include "suggest.h"
#include "xalloc.h"

enum st { ST_CONVERGED, ST_CONVERGING, ST_UNKNOWN, ST_DRIFTED, ST_FAILED };
static const char *const st_names[] = { "converged", "converging",
	"unknown", "drifted", "failed" };

static void
fmt_age(int64_t secs, char *buf, size_t len)
{
	if (secs < 0)
		secs = 0;
	if (secs < 120)
		snprintf(buf, len, "%llds", (long long)secs);
	else if (secs < 7200)
		snprintf(buf, len, "%lldm", (long long)secs / 60);
	else if (secs < 172800)
		snprintf(buf, len, "%lldh", (long long)secs / 3600);
	else
		snprintf(buf, len, "%lldd", (long long)secs / 86400);
}

char *
rec_step_reason(const json_t *fs, const char *what)
{
	const json_t *f = json_array_get(fs, 0);
	struct lr_buf b = LR_BUF_INIT;

	if (f == NULL)
		return lr_xasprintf("the agent reports the host %s", what);
	lr_buf_printf(&b, "step '%s' %s", lr_json_str(f, PROTO_FAILED_ID),
	    what);
	if (json_is_integer(json_object_get(f, PROTO_FAILED_EXIT)))
		lr_buf_printf(&b, ": exit %lld", (long long)lr_json_int(f,
		    PROTO_FAILED_EXIT));
	else if (*lr_json_str(f, PROTO_FAILED_ERROR))
		lr_buf_printf(&b, ": %s", lr_json_str(f, PROTO_FAILED_ERROR));
	else if (*lr_json_str(f, PROTO_DRIFTED_DETAIL))
		lr_buf_printf(&b, ": %s", lr_json_str(f,
		    PROTO_DRIFTED_DETAIL));
	if (json_array_size(fs) > 1)
		lr_buf_printf(&b, " (and %zu more)", json_array_size(fs) - 1);
	return lr_buf_detach(&b, NULL);
}

static enum st
host_state(const json_t *doc, const json_t *obs, const json_t *agent,
    const char *host, int64_t now, char **reason)
{
	struct proto_report r;
	int64_t gen = lr_json_int(doc, PROTO_DOC_GENERATION), og;
	const char *s;
	char age[32];

	proto_report_decode(obs, &r);
	og = r.generation;
	s = r.state;
	*reason = NULL;
	if (agent == NULL) {
		if (obs == NULL) {
			*reason = lr_xasprintf("no agent has reported for this "
			    "host yet; start 'leura-agent --host %s'", host);
			return ST_UNKNOWN;
		}
		fmt_age(now - r.at_unix, age, sizeof(age));
		*reason = lr_xasprintf("agent not seen for %s (its last "
		    "report: %s at generation %lld)", age, *s ? s : "?",
		    (long long)og);
		return ST_UNKNOWN;
	}
	if (obs == NULL) {
		*reason = lr_xstrdup("the agent is up but has not reported "
		    "yet");
		return ST_CONVERGING;
	}
	if (og < gen && *r.refused_key) {
		/* it will not apply what etcd holds (docs/security.md) */
		*reason = lr_xasprintf("the agent refuses what etcd holds "
		    "for it: %s", r.refused_error);
		return ST_FAILED;
	}
	if (og < gen) {
		*reason = lr_xasprintf("applying generation %lld (the agent "
		    "reported %lld)", (long long)gen, (long long)og);
		return ST_CONVERGING;
	}
	if (strcmp(s, PROTO_STATE_CONVERGED) == 0)
		return ST_CONVERGED;
	if (strcmp(s, PROTO_STATE_FAILED) == 0) {
		*reason = rec_step_reason(r.failed_steps, "failed");
		return ST_FAILED;
	}
	if (strcmp(s, PROTO_STATE_DRIFTED) == 0) {
		*reason = rec_step_reason(r.drift, "drifted");
		return ST_DRIFTED;
	}
	if (strcmp(s, PROTO_STATE_CONVERGING) == 0) {
		if (*r.waiting)
			*reason = lr_xasprintf("%s", r.waiting);
		else if (*r.current)
			*reason = lr_xasprintf("running step '%s' of "
			    "generation %lld", r.current, (long long)og);
		else
			*reason = lr_xasprintf("the agent is running "
			    "generation %lld", (long long)og);
		return ST_CONVERGING;
	}
	*reason = lr_xasprintf("the agent reports an unknown state '%s'", s);
	return ST_UNKNOWN;
}

static json_t *
failed_steps(const json_t *obs)
{
	json_t *a = json_array(), *f;
	size_t i;

	json_array_foreach(json_object_get(obs, PROTO_REPORT_FAILED_STEPS), i,
	    f)
		json_array_append_new(a, json_string(lr_json_str(f,
		    PROTO_FAILED_ID)));
	return a;
}

static enum st
state_of(const json_t *o)
{
	size_t i;

	for (i = 0; i < sizeof(st_names) / sizeof(st_names[0]); i++)
		if (strcmp(lr_json_str(o, "state"), st_names[i]) == 0)
			return (enum st)i;
	return ST_UNKNOWN;
}

json_t *
rec_status(const json_t *desired, const json_t *observed, const json_t *agents,
    int64_t now)
{
	json_t *hosts = json_object(), *svcs = json_object(), *doc, *hs, *x;
	json_t *sv, *dep, *obs;
	const char *h, *s;
	char *reason;
	enum st st, worst;
	size_t i, nworst;

	/* hosts */
	json_object_foreach((json_t *)desired, h, doc) {
		if (lr_json_bool(doc, PROTO_DOC_REMOVED))
			continue;
		obs = json_object_get(observed, h);
		st = host_state(doc, obs, json_object_get(agents, h), h, now,
		    &reason);
		hs = json_pack("{s:b, s:s, s:I, s:o, s:o}", "alive",
		    json_object_get(agents, h) != NULL, "state", st_names[st],
		    "generation", lr_json_int(doc, PROTO_DOC_GENERATION),
		    "observed_generation", obs ? json_integer(lr_json_int(obs,
		    PROTO_REPORT_GENERATION)) : json_null(), "failed_steps",
		    failed_steps(obs));
		if (reason)
			json_object_set_new(hs, "reason", json_string(reason));
		free(reason);
		/* the failed steps with the end of their output */
		json_object_set_new(hs, "failures", json_is_array(
		    json_object_get(obs, PROTO_REPORT_FAILED_STEPS)) ?
		    json_deep_copy(json_object_get(obs,
		    PROTO_REPORT_FAILED_STEPS)) : json_array());
		json_object_set_new(hosts, h, hs);
		json_array_foreach(json_object_get(doc, PROTO_DOC_SERVICES), i,
		    x) {
			s = json_string_value(x);
			if ((sv = json_object_get(svcs, s)) == NULL) {
				sv = json_pack("{s:[]}", "hosts");
				json_object_set_new(svcs, s, sv);
			}
			json_array_append_new(json_object_get(sv, "hosts"),
			    json_string(h));
		}
	}
	/* services: the worst of their hosts */
	json_object_foreach(svcs, s, sv) {
		worst = ST_CONVERGED;
		nworst = 0;
		reason = NULL;
		json_array_foreach(json_object_get(sv, "hosts"), i, x) {
			hs = json_object_get(hosts, json_string_value(x));
			st = state_of(hs);
			obs = json_object_get(observed, json_string_value(x));
			if (st == ST_CONVERGED && json_is_false(json_object_get(
			    json_object_get(json_object_get(obs,
			    PROTO_REPORT_SERVICES), s),
			    PROTO_SERVICE_VALIDATED)))
				st = ST_FAILED;
			if (st > worst) {
				worst = st;
				nworst = 0;
				free(reason);
				reason = lr_xasprintf("%s: %s",
				    json_string_value(x), st == state_of(hs) ?
				    lr_json_str(hs, "reason") : "its validate "
				    "steps failed");
			}
			if (st == worst)
				nworst++;
		}
		json_object_set_new(sv, "state", json_string(st_names[worst]));
		if (reason && nworst > 1) {
			char *r2 = lr_xasprintf("%s (and %zu more host%s)",
			    reason, nworst - 1, nworst == 2 ? "" : "s");
			free(reason);
			reason = r2;
		}
		if (reason)
			json_object_set_new(sv, "reason", json_string(reason));
		free(reason);
	}
	/* a converging service whose dependency is not converged waits */
	json_object_foreach(svcs, s, sv) {
		if (state_of(sv) != ST_CONVERGING)
			continue;
		x = json_array_get(json_object_get(sv, "hosts"), 0);
		doc = json_object_get(desired, json_string_value(x));
		json_array_foreach(json_object_get(json_object_get(doc,
		    PROTO_DOC_DEPENDS_ON), s), i, dep) {
			if (state_of(json_object_get(svcs,
			    json_string_value(dep))) == ST_CONVERGED)
				continue;
			json_object_set_new(sv, "reason", json_sprintf(
			    "waiting for %s to validate",
			    json_string_value(dep)));
			break;
		}
	}
	return json_pack("{s:o, s:o}", "hosts", hosts, "services", svcs);
}

/* An unknown name: the error, with the closest host or service. */
static int
no_such_name(const json_t *st, const char *name, struct lr_err *err)
{
	const json_t *hosts = json_object_get(st, "hosts");
	const json_t *svcs = json_object_get(st, "services");
	struct lr_buf b = LR_BUF_INIT;
	const char **hk, **sk, *sugg;
	size_t nh, ns;

	lr_err_set(err, LR_ENOENT, "no host or service '%s' in what is "
	    "applied", name);
	hk = lr_json_keys(hosts, false, &nh);
	sk = lr_json_keys(svcs, false, &ns);
	/* the store's words, as the table shows them (made visible) */
	if ((sugg = lr_suggest(name, hk, nh)) != NULL) {
		lr_buf_add_visible(&b, sugg, strlen(sugg), 0);
		lr_err_hint(err, "did you mean the host '%s'?", b.s);
	} else if ((sugg = lr_suggest(name, sk, ns)) != NULL) {
		lr_buf_add_visible(&b, sugg, strlen(sugg), 0);
		lr_err_hint(err, "did you mean the service '%s'?", b.s);
	} else
		lr_err_hint(err, "'leura status' without names lists the "
		    "hosts and services");
	lr_buf_release(&b);
	free(hk);
	free(sk);
	return LR_ENOENT;
}

int
rec_status_select(json_t *st, const char *const *names, size_t n,
    struct lr_err *err)
{
	json_t *hosts = json_object_get(st, "hosts");
	json_t *svcs = json_object_get(st, "services");
	json_t *keep_h, *keep_s, *sv, *x;
	size_t i, j;
	bool found;

	if (n == 0)
		return 0;
	keep_h = json_object();
	keep_s = json_object();
	for (i = 0; i < n; i++) {
		found = false;
		if ((x = json_object_get(hosts, names[i])) != NULL) {
			json_object_set(keep_h, names[i], x);
			found = true;
		}
		if ((sv = json_object_get(svcs, names[i])) != NULL) {
			json_object_set(keep_s, names[i], sv);
			json_array_foreach(json_object_get(sv, "hosts"), j, x)
				json_object_set(keep_h, json_string_value(x),
				    json_object_get(hosts,
				    json_string_value(x)));
			found = true;
		}
		if (!found) {
			json_decref(keep_h);
			json_decref(keep_s);
			return no_such_name(st, names[i], err);
		}
	}
	json_object_set_new(st, "hosts", keep_h);
	json_object_set_new(st, "services", keep_s);
	return 0;
}

/* Whether state is one that needs a look: failed, drifted or unknown. */
static bool
not_fine(const json_t *o)
{
	enum st s = state_of(o);

	return s == ST_FAILED || s == ST_DRIFTED || s == ST_UNKNOWN;
}

void
rec_status_only_not_fine(json_t *st)
{
	const char *sect[] = { "hosts", "services" }, *k;
	json_t *o, *v, *tmp;
	size_t i;

	for (i = 0; i < 2; i++) {
		o = json_object_get(st, sect[i]);
		json_object_foreach_safe(o, tmp, k, v)
			if (!not_fine(v))
				json_object_del(o, k);
	}
}

const char *
rec_status_worst(const json_t *st)
{
	const char *sect[] = { "hosts", "services" }, *k;
	enum st worst = ST_CONVERGED, s;
	json_t *v;
	size_t i;

	for (i = 0; i < 2; i++)
		json_object_foreach(json_object_get(st, sect[i]), k, v)
			if ((s = state_of(v)) > worst)
				worst = s;
	return st_names[worst];
}
