/*
 * rec_diff: per-service placement moves and per-host step changes between
 * two compiled states.  Steps are matched by id through a JSON object used
 * as an index, so a host with n steps diffs in O(n).
 */
#include <stdlib.h>
#include <string.h>

#include "diff.h"
#include "fields.h"
#include "json.h"
#include "xalloc.h"

static json_t *
str_set_minus(const json_t *a, const json_t *b)
{
	json_t *out = json_array(), *idx = json_object(), *v;
	size_t i;

	json_array_foreach((json_t *)b, i, v)
		json_object_set(idx, json_string_value(v), json_true());
	json_array_foreach((json_t *)a, i, v)
		if (json_object_get(idx, json_string_value(v)) == NULL)
			json_array_append(out, v);
	json_decref(idx);
	return out;
}

static json_t *
index_steps(const json_t *steps)
{
	json_t *idx = json_object(), *st;
	size_t i;

	json_array_foreach((json_t *)steps, i, st)
		json_object_set(idx, json_string_value(json_object_get(st,
		    PROTO_STEP_ID)), st);
	return idx;
}

/*
 * {"id", "fields":[names], "before":{name: old}, "after":{name: new}} for
 * the fields that differ (a field absent on one side is absent from its
 * object).
 */
static json_t *
changed_step(const char *id, const json_t *a, const json_t *b)
{
	json_t *fields = json_array(), *before = json_object();
	json_t *after = json_object(), *v, *w;
	const char *k;

	json_object_foreach((json_t *)a, k, v) {
		w = json_object_get(b, k);
		if (json_equal(v, w))
			continue;
		json_array_append_new(fields, json_string(k));
		json_object_set(before, k, v);
		if (w)
			json_object_set(after, k, w);
	}
	json_object_foreach((json_t *)b, k, v) {
		if (json_object_get(a, k) != NULL)
			continue;
		json_array_append_new(fields, json_string(k));
		json_object_set(after, k, v);
	}
	return json_pack("{s:s, s:o, s:o, s:o}", "id", id, "fields", fields,
	    "before", before, "after", after);
}

/* Do the steps common to both lists appear in the same order? */
static bool
same_order(const json_t *a, const json_t *b, const json_t *aidx,
    const json_t *bidx)
{
	size_t i = 0, j = 0, na = json_array_size(a), nb = json_array_size(b);
	const char *x = NULL, *y = NULL;

	for (;;) {
		while (i < na && json_object_get(bidx, (x = lr_json_strn(
		    json_array_get(a, i), PROTO_STEP_ID))) == NULL)
			i++;
		while (j < nb && json_object_get(aidx, (y = lr_json_strn(
		    json_array_get(b, j), PROTO_STEP_ID))) == NULL)
			j++;
		if (i >= na || j >= nb)
			return i >= na && j >= nb;
		if (strcmp(x, y) != 0)
			return false;
		i++, j++;
	}
}

static bool
has_str(const json_t *a, const char *s)
{
	json_t *v;
	size_t i;

	json_array_foreach((json_t *)a, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
			return true;
	return false;
}

static bool
is_phase(const json_t *st, const char *phase)
{
	const char *p = lr_json_strn(st, PROTO_STEP_PHASE);

	return p != NULL && strcmp(p, phase) == 0;
}

/* service, role and name: what a when_changed entry refers to */
static char *
trigger_key(const json_t *st, const char *name)
{
	const char *svc = lr_json_strn(st, PROTO_STEP_SERVICE);
	const char *role = lr_json_strn(st, PROTO_STEP_ROLE);

	return lr_xasprintf("%s\n%s\n%s", svc ? svc : "", role ? role : "",
	    name ? name : "");
}

/*
 * The converge steps of ts that the agent will run because a step they
 * name in when_changed is added or changed (touched: {id: true}), as
 * agent/converge.c decides (trigger_dependents, must_run): the named
 * step is of the same service and role and comes earlier; a step with
 * when_changed runs only when triggered, and then triggers those after
 * it.  [{"id", "because": [names]}], in the document's order.
 */
static json_t *
triggered_steps(const json_t *ts, const json_t *touched)
{
	json_t *out = json_array(), *fired = json_object(), *st, *wc, *n;
	json_t *because;
	const char *id;
	char *key;
	size_t i, j;

	json_array_foreach((json_t *)ts, i, st) {
		id = lr_json_strn(st, PROTO_STEP_ID);
		wc = json_object_get(st, PROTO_STEP_WHEN_CHANGED);
		if (id == NULL || is_phase(st, PROTO_PHASE_TURNDOWN))
			continue;
		because = json_array();
		json_array_foreach(is_phase(st, PROTO_PHASE_CONVERGE) ? wc :
		    NULL, j, n) {
			key = trigger_key(st, json_string_value(n));
			if (json_object_get(fired, key) != NULL)
				json_array_append(because, n);
			free(key);
		}
		if (json_array_size(because))
			json_array_append_new(out, json_pack("{s:s, s:O}",
			    "id", id, "because", because));
		if (json_array_size(because) || (json_array_size(wc) == 0 &&
		    json_object_get(touched, id) != NULL)) {
			key = trigger_key(st, lr_json_strn(st,
			    PROTO_STEP_NAME));
			json_object_set_new(fired, key, json_true());
			free(key);
		}
		json_decref(because);
	}
	json_decref(fired);
	return out;
}

/*
 * The turndown steps of from's services that to no longer has (sr): the
 * agent runs them once (agent/desired.c, conv_turndown_add), a removed
 * host's included.  [{"id", "service"}]; their ids go from removed.
 */
static json_t *
turndown_steps(const json_t *fs, const json_t *sr, json_t *removed)
{
	json_t *out = json_array(), *ids = json_object(), *st;
	const char *svc, *id;
	size_t i;

	json_array_foreach((json_t *)fs, i, st) {
		svc = lr_json_strn(st, PROTO_STEP_SERVICE);
		id = lr_json_strn(st, PROTO_STEP_ID);
		if (svc == NULL || id == NULL ||
		    !is_phase(st, PROTO_PHASE_TURNDOWN) || !has_str(sr, svc))
			continue;
		json_array_append_new(out, json_pack("{s:s, s:s}", "id", id,
		    "service", svc));
		json_object_set_new(ids, id, json_true());
	}
	for (i = json_array_size(removed); i-- > 0;)
		if (json_object_get(ids, json_string_value(json_array_get(
		    removed, i))) != NULL)
			json_array_remove(removed, i);
	json_decref(ids);
	return out;
}

static size_t
diff_host(const json_t *from, const json_t *to, json_t **out)
{
	json_t *fs = json_object_get(from, PROTO_DOC_STEPS);
	json_t *ts = json_object_get(to, PROTO_DOC_STEPS);
	json_t *fidx = index_steps(fs), *tidx = index_steps(ts);
	json_t *added = json_array(), *removed = json_array();
	json_t *changed = json_array(), *h, *st, *old;
	json_t *sa, *sr, *touched, *trig, *td;
	size_t i, n;
	bool reord;

	json_array_foreach(ts, i, st) {
		const char *id = lr_json_strn(st, PROTO_STEP_ID);

		if ((old = json_object_get(fidx, id)) == NULL)
			json_array_append_new(added, json_string(id));
		else if (!json_equal(old, st))
			json_array_append_new(changed,
			    changed_step(id, old, st));
	}
	json_array_foreach(fs, i, st) {
		const char *id = lr_json_strn(st, PROTO_STEP_ID);

		if (json_object_get(tidx, id) == NULL)
			json_array_append_new(removed, json_string(id));
	}
	reord = !same_order(fs, ts, fidx, tidx);
	sa = str_set_minus(json_object_get(to, PROTO_DOC_SERVICES),
	    json_object_get(from, PROTO_DOC_SERVICES));
	sr = str_set_minus(json_object_get(from, PROTO_DOC_SERVICES),
	    json_object_get(to, PROTO_DOC_SERVICES));
	/* what the agent will run besides the edits: consequences */
	touched = json_object();
	json_array_foreach(added, i, st)
		json_object_set(touched, json_string_value(st), json_true());
	json_array_foreach(changed, i, st)
		json_object_set(touched, lr_json_strn(st, "id"), json_true());
	trig = triggered_steps(ts, touched);
	json_decref(touched);
	td = turndown_steps(fs, sr, removed);
	n = json_array_size(added) + json_array_size(removed) +
	    json_array_size(changed) + json_array_size(td) + (reord ? 1 : 0);
	h = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "added", added,
	    "removed", removed, "changed", changed, "services_added", sa,
	    "services_removed", sr, "triggered", trig, "turndown", td);
	if (reord)
		json_object_set_new(h, "reordered", json_true());
	json_decref(fidx);
	json_decref(tidx);
	if (n == 0 && json_array_size(sa) == 0 && json_array_size(sr) == 0) {
		json_decref(h);
		h = NULL;
	}
	*out = h;
	return n;
}

json_t *
rec_diff(const struct rec_compiled *from, const struct rec_compiled *to)
{
	const json_t *fsv = json_object_get(from->placement, "services");
	const json_t *tsv = json_object_get(to->placement, "services");
	json_t *services = json_object(), *hosts = json_object();
	json_t *empty = json_pack("{s:[], s:[]}", PROTO_DOC_SERVICES,
	    PROTO_DOC_STEPS);
	json_t *v, *f, *h;
	const char *k;
	size_t changes = 0;

	json_object_foreach((json_t *)tsv, k, v) {
		f = json_object_get(fsv, k);
		if (f == NULL && json_array_size(v) == 0)
			continue;
		if (f && json_equal(f, v))
			continue;
		json_object_set_new(services, k, json_pack("{s:o, s:O, s:o, "
		    "s:o}", "from", f ? json_incref(f) : json_array(), "to", v,
		    "added", str_set_minus(v, f), "removed",
		    str_set_minus(f, v)));
		changes++;
	}
	json_object_foreach((json_t *)fsv, k, v) {
		if (json_object_get(tsv, k) || json_array_size(v) == 0)
			continue;
		json_object_set_new(services, k, json_pack("{s:O, s:[], s:[], "
		    "s:O}", "from", v, "to", "added", "removed", v));
		changes++;
	}
	json_object_foreach(to->desired, k, v) {
		f = json_object_get(from->desired, k);
		changes += diff_host(f ? f : empty, v, &h);
		if (h)
			json_object_set_new(hosts, k, h);
	}
	json_object_foreach(from->desired, k, v) {
		if (json_object_get(to->desired, k))
			continue;
		changes += diff_host(v, empty, &h);
		if (h) {
			json_object_set_new(h, "host_removed", json_true());
			json_object_set_new(hosts, k, h);
		}
	}
	json_decref(empty);
	return json_pack("{s:I, s:o, s:o}", "changes", (json_int_t)changes,
	    "services", services, "hosts", hosts);
}
