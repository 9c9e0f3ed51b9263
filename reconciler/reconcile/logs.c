/*
 * logs: reading the step results an agent reported (logs.h).  The keys
 * and the results' fields are proto/'s (keys.h, fields.h).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "doc.h"
#include "json.h"
#include "keys.h"
#include "logs.h"
#include "report.h"
#include "suggest.h"
#include "xalloc.h"

/*
 * The hosts with a key under the dirs of the agents' keys (results,
 * reports, heartbeats) into *hosts ({host: true}, new reference).
 */
static int
reported_hosts(struct etcd *e, const char *prefix, json_t **hosts,
    struct lr_err *err)
{
	char *dirs[3];
	struct etcd_range_result r;
	struct etcd_range_req q;
	const char *h;
	json_t *o = json_object();
	size_t i, k;
	int rc = 0;

	dirs[0] = proto_key_results_dir(prefix);
	dirs[1] = proto_key_observed_dir(prefix);
	dirs[2] = proto_key_agents_dir(prefix);
	for (i = 0; i < 3 && rc == 0; i++) {
		memset(&r, 0, sizeof(r));
		memset(&q, 0, sizeof(q));
		q.key = dirs[i];
		q.flags = ETCD_PREFIX | ETCD_KEYS_ONLY;
		if ((rc = etcd_range(e, &q, &r, err)) == 0)
			for (k = 0; k < r.nkvs; k++)
				if ((h = proto_key_host_in(r.kvs[k].key,
				    dirs[i])) != NULL)
					json_object_set_new(o, h, json_true());
		etcd_range_result_release(&r);
	}
	for (i = 0; i < 3; i++)
		free(dirs[i]);
	if (rc < 0)
		json_decref(o);
	else
		*hosts = o;
	return rc;
}

/*
 * The hint "did you mean 'SUGG'?", SUGG made visible: a host or step id
 * is the store's word (an agent's results), and a hint is printed.
 */
static void
did_you_mean(struct lr_err *err, const char *sugg)
{
	struct lr_buf b = LR_BUF_INIT;

	lr_buf_add_visible(&b, sugg, strlen(sugg), 0);
	lr_err_hint(err, "did you mean '%s'?", b.s);
	lr_buf_release(&b);
}

/* No results for host: say why, with the closest host as a hint. */
static int
no_results(struct etcd *e, const char *prefix, const char *host,
    struct lr_err *err)
{
	json_t *hosts = NULL, *v;
	const char **names, *k, *sugg;
	size_t n = 0;
	int rc;

	if ((rc = reported_hosts(e, prefix, &hosts, err)) < 0)
		return rc;
	if (json_object_get(hosts, host) != NULL) {
		lr_err_set(err, LR_ENOENT, "the agent of host '%s' has not "
		    "reported the results of a run yet", host);
		lr_err_hint(err, "it puts them at the end of each converge "
		    "run; 'leura status %s' says where it is", host);
		json_decref(hosts);
		return LR_ENOENT;
	}
	lr_err_set(err, LR_ENOENT, "no agent has reported for a host '%s' "
	    "under %s", host, prefix);
	names = lr_xcalloc(json_object_size(hosts) + 1, sizeof(*names));
	json_object_foreach(hosts, k, v)
		names[n++] = k;
	if ((sugg = lr_suggest(host, names, n)) != NULL)
		did_you_mean(err, sugg);
	else
		lr_err_hint(err, "'leura status' lists the hosts and whether "
		    "their agents reported");
	free(names);
	json_decref(hosts);
	return LR_ENOENT;
}

int
rec_results_load(struct etcd *e, const char *prefix, const char *host,
    json_t **out, struct lr_err *err)
{
	struct etcd_kv kv = { 0 };
	char *key;
	json_t *v;
	int rc;

	if (*host == '\0' || strchr(host, '/') != NULL) {
		lr_err_set(err, LR_EINVAL, "'%s' is not a host name", host);
		return lr_err_hint(err, "name a host of the inventory, as "
		    "'leura status' lists them");
	}
	key = proto_key_results(prefix, host);
	rc = etcd_get(e, key, &kv, NULL, err);
	if (rc == LR_ENOENT) {
		lr_err_clear(err);
		rc = no_results(e, prefix, host, err);
	} else if (rc == 0) {
		/* not an object: the error names the key and what to do */
		v = proto_value_parse(key, kv.value, kv.value_len, err);
		if (v == NULL)
			rc = LR_EETCD;
		else
			*out = v;
	}
	etcd_kv_release(&kv);
	free(key);
	return rc;
}

static bool
step_matches(const char *id, const char *step)
{
	size_t n = strlen(step);

	if (strcmp(id, step) == 0 || strcmp(proto_step_name(id), step) == 0)
		return true;
	/* a service, role or phase: "db", "db/db/converge" ("db/" too) */
	if (n > 0 && step[n - 1] == '/')
		n--;
	return n > 0 && strncmp(id, step, n) == 0 && id[n] == '/';
}

int
rec_results_steps(const json_t *res, const char *step, json_t **out,
    struct lr_err *err)
{
	const json_t *steps = json_object_get(res, PROTO_RESULTS_STEPS);
	const char **cands, *id, *sugg;
	json_t *sel = json_array(), *s;
	size_t i, n = 0;

	json_array_foreach(steps, i, s) {
		id = lr_json_str(s, PROTO_RESULT_ID);
		if (step == NULL || step_matches(id, step))
			json_array_append(sel, s);
	}
	if (step == NULL || json_array_size(sel) > 0) {
		*out = sel;
		return 0;
	}
	json_decref(sel);
	lr_err_set(err, LR_ENOENT, "no step '%s' in the results of the "
	    "last run", step);
	cands = lr_xcalloc(2 * json_array_size(steps) + 1, sizeof(*cands));
	json_array_foreach(steps, i, s) {
		cands[n++] = lr_json_str(s, PROTO_RESULT_ID);
		cands[n++] = proto_step_name(lr_json_str(s, PROTO_RESULT_ID));
	}
	if ((sugg = lr_suggest(step, cands, n)) != NULL)
		did_you_mean(err, sugg);
	else
		lr_err_hint(err, "a step is named by its id "
		    "(SERVICE/ROLE/PHASE/NAME), its NAME, or a beginning of "
		    "its id ('leura logs HOST' lists them)");
	free(cands);
	return LR_ENOENT;
}
