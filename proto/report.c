/*
 * The report, results and facts codecs (report.h).  The results are
 * stored in the order their members are set here (the agent does not
 * sort them), so the encoders keep the order of docs/etcd-layout.md.
 */
#include <string.h>

#include "clock.h"
#include "doc.h"
#include "json.h"
#include "report.h"

#define NOT_UTF8 "(the output is not UTF-8: see the step's log)"
#define FIT_REPORT_OUTPUT	256	/* failed_steps[].output, cut to fit */
#define FIT_RESULT_OUTPUT	1024	/* steps[].output, cut to fit */

/* Bytes of v as proto_dumps writes it. */
static size_t
dumped_size(const json_t *v)
{
	return json_dumpb(v, NULL, 0, PROTO_DUMP_FLAGS);
}

/*
 * The fits make o fit in max bytes by shortening the entries of its
 * array o[arr_key], stopping as soon as it fits.  fit_fields, in up to
 * `passes` passes: first the `field` of the entries skip() says are not
 * worth it goes (when skip is given), then every `field` is cut to its
 * last `cut` bytes, then removed.  fit_entries leaves entries out from
 * the end and o[left_key] counts them.  True when o fits.
 */
static bool
fit_fields(json_t *o, const char *arr_key, const char *field, size_t cut,
    size_t max, bool (*skip)(const json_t *), int passes)
{
	json_t *arr = json_object_get(o, arr_key), *e, *t;
	size_t i;
	int pass;

	for (pass = 0; pass < passes; pass++) {
		if (dumped_size(o) <= max)
			return true;
		json_array_foreach(arr, i, e) {
			if (pass == 0 && skip && skip(e))
				json_object_del(e, field);
			if (pass == 1) {
				if ((t = proto_output_tail(lr_json_strn(e,
				    field), cut)) != NULL)
					json_object_set_new(e, field, t);
				else
					json_object_del(e, field);
			}
			if (pass == 2)
				json_object_del(e, field);
		}
	}
	return dumped_size(o) <= max;
}

static bool
fit_entries(json_t *o, const char *arr_key, const char *left_key,
    size_t max)
{
	json_t *arr = json_object_get(o, arr_key);
	size_t n, total, left = 0;

	if (dumped_size(o) <= max)
		return true;
	/* measure once, then subtract */
	lr_json_set_int(o, left_key, (int64_t)json_array_size(arr));
	total = dumped_size(o);
	n = json_array_size(arr);
	while (n > 0 && total > max) {
		total -= dumped_size(json_array_get(arr, n - 1)) + 1;
		n--;
		left++;
	}
	while (json_array_size(arr) > n)
		json_array_remove(arr, json_array_size(arr) - 1);
	if (left == 0)
		json_object_del(o, left_key);
	else
		lr_json_set_int(o, left_key, (int64_t)left);
	return dumped_size(o) <= max;
}

json_t *
proto_output_tail(const char *s, size_t n)
{
	size_t len = s ? strlen(s) : 0;
	const char *p, *nl;

	if (len == 0)
		return NULL;
	if (len > n) {
		p = s + len - n;
		if ((nl = strchr(p, '\n')) != NULL && nl[1])
			p = nl + 1;
		while (((unsigned char)*p & 0xc0) == 0x80)
			p++;		/* not inside a UTF-8 sequence */
		s = p;
	}
	return *s ? json_string(s) : NULL;
}

/* o[k] = v (a reference taken), or deleted when v is NULL */
static void
set_or_del(json_t *o, const char *k, const json_t *v)
{
	if (v != NULL)
		json_object_set(o, k, (json_t *)v);
	else
		json_object_del(o, k);
}

/* ---- P/observed/<host> ---- */

void
proto_report_stamp(json_t *rep, int64_t generation, int64_t head,
    int64_t deploy, const char *state, int64_t now, const char *interrupted)
{
	char at[LR_TIME_ISO_LEN];

	lr_time_iso(now, at);
	lr_json_set_int(rep, PROTO_REPORT_GENERATION, generation);
	proto_report_set_head(rep, head, deploy);
	if (state != NULL)
		lr_json_set_str(rep, PROTO_REPORT_STATE, state);
	lr_json_set_str(rep, PROTO_REPORT_AT, at);
	lr_json_set_int(rep, PROTO_REPORT_AT_UNIX, now);
	lr_json_set_str(rep, PROTO_REPORT_AGENT, LEURA_VERSION);
	if (interrupted != NULL)
		json_object_set_new(rep, PROTO_REPORT_INTERRUPTED,
		    json_pack("[s]", interrupted));
	else
		json_object_del(rep, PROTO_REPORT_INTERRUPTED);
}

void
proto_report_set_head(json_t *rep, int64_t head, int64_t deploy)
{
	lr_json_set_int(rep, PROTO_REPORT_HEAD, head);
	lr_json_set_int(rep, PROTO_REPORT_DEPLOY, deploy);
}

void
proto_report_set_run(json_t *rep, const struct proto_run *run)
{
	json_t *o = json_object();

	lr_json_set_str(o, PROTO_RUN_ID, run->id);
	lr_json_set_int(o, PROTO_RUN_STARTED_UNIX_MS, run->started_unix_ms);
	if (run->duration_ms >= 0)
		lr_json_set_int(o, PROTO_RUN_DURATION_MS, run->duration_ms);
	lr_json_set_int(o, PROTO_RUN_STEPS, run->steps);
	lr_json_set_int(o, PROTO_RUN_DONE, run->done);
	json_object_set_new(rep, PROTO_REPORT_RUN, o);
}

void
proto_report_set_current(json_t *rep, const char *id)
{
	if (id != NULL)
		lr_json_set_str(rep, PROTO_REPORT_CURRENT, id);
	else
		json_object_del(rep, PROTO_REPORT_CURRENT);
}

void
proto_report_set_waiting(json_t *rep, const char *why,
    const json_t *waiting_for)
{
	if (why != NULL) {
		lr_json_set_str(rep, PROTO_REPORT_WAITING, why);
		set_or_del(rep, PROTO_REPORT_WAITING_FOR, waiting_for);
	} else {
		json_object_del(rep, PROTO_REPORT_WAITING);
		json_object_del(rep, PROTO_REPORT_WAITING_FOR);
	}
}

void
proto_report_set_failed_steps(json_t *rep, const json_t *failed)
{
	set_or_del(rep, PROTO_REPORT_FAILED_STEPS, failed);
}

void
proto_report_set_services(json_t *rep, const json_t *services)
{
	set_or_del(rep, PROTO_REPORT_SERVICES, services);
}

void
proto_report_set_drift(json_t *rep, const json_t *drift)
{
	set_or_del(rep, PROTO_REPORT_DRIFT, drift);
}

void
proto_report_set_checked(json_t *rep, int64_t unix_ms)
{
	lr_json_set_int(rep, PROTO_REPORT_CHECKED_UNIX_MS, unix_ms);
}

void
proto_report_set_refused(json_t *rep, const char *key, const char *error,
    const char *hint, int64_t now)
{
	json_t *o;

	if (key == NULL) {
		json_object_del(rep, PROTO_REPORT_REFUSED);
		return;
	}
	o = json_object();
	lr_json_set_str(o, PROTO_REFUSED_KEY, key);
	lr_json_set_str(o, PROTO_REFUSED_ERROR, error);
	if (hint != NULL && *hint)
		lr_json_set_str(o, PROTO_REFUSED_HINT, hint);
	lr_json_set_int(o, PROTO_REFUSED_AT_UNIX, now);
	json_object_set_new(rep, PROTO_REPORT_REFUSED, o);
}

json_t *
proto_waiting_for(const char *svc, const char *host)
{
	json_t *o = json_object();

	lr_json_set_str(o, PROTO_WAITING_SERVICE, svc);
	lr_json_set_str(o, PROTO_WAITING_HOST, host);
	return o;
}

json_t *
proto_failed_step(const char *id, int exit_code, const char *error,
    json_t *output)
{
	json_t *o = json_object();

	lr_json_set_str(o, PROTO_FAILED_ID, id);
	if (exit_code > 0)
		lr_json_set_int(o, PROTO_FAILED_EXIT, exit_code);
	else
		lr_json_set_str(o, PROTO_FAILED_ERROR, error);
	if (output != NULL)
		json_object_set_new(o, PROTO_FAILED_OUTPUT, output);
	return o;
}

json_t *
proto_drifted(const char *id, const char *detail)
{
	json_t *o = json_object();

	lr_json_set_str(o, PROTO_DRIFTED_ID, id);
	lr_json_set_str(o, PROTO_DRIFTED_DETAIL, detail);
	return o;
}

json_t *
proto_service_state(bool validated)
{
	json_t *o = json_object();

	json_object_set_new(o, PROTO_SERVICE_VALIDATED,
	    json_boolean(validated));
	return o;
}

json_t *
proto_report_encode(const struct proto_report *r)
{
	json_t *rep = json_object(), *wf = NULL;
	const json_t *intr = r->interrupted;

	proto_report_stamp(rep, r->generation, r->head, r->deploy,
	    r->state && *r->state ? r->state : NULL, r->at_unix,
	    json_array_size(intr) > 0 ? json_string_value(
	    json_array_get(intr, 0)) : NULL);
	if (r->has_run)
		proto_report_set_run(rep, &r->run);
	proto_report_set_current(rep, r->current && *r->current ?
	    r->current : NULL);
	if (r->waiting_service && *r->waiting_service)
		wf = proto_waiting_for(r->waiting_service, r->waiting_host);
	proto_report_set_waiting(rep, r->waiting && *r->waiting ?
	    r->waiting : NULL, wf);
	json_decref(wf);
	proto_report_set_failed_steps(rep, r->failed_steps);
	proto_report_set_services(rep, r->services);
	proto_report_set_drift(rep, r->drift);
	if (r->checked_unix_ms)
		proto_report_set_checked(rep, r->checked_unix_ms);
	return rep;
}

void
proto_report_decode(const json_t *rep, struct proto_report *out)
{
	const json_t *run = json_object_get(rep, PROTO_REPORT_RUN);
	const json_t *wf = json_object_get(rep, PROTO_REPORT_WAITING_FOR);
	const json_t *rf;

	memset(out, 0, sizeof(*out));
	out->generation = lr_json_int(rep, PROTO_REPORT_GENERATION);
	out->head = lr_json_int(rep, PROTO_REPORT_HEAD);
	out->deploy = lr_json_int(rep, PROTO_REPORT_DEPLOY);
	out->state = lr_json_str(rep, PROTO_REPORT_STATE);
	out->at = lr_json_str(rep, PROTO_REPORT_AT);
	out->at_unix = lr_json_int(rep, PROTO_REPORT_AT_UNIX);
	out->agent = lr_json_str(rep, PROTO_REPORT_AGENT);
	if (json_is_object(run)) {
		out->has_run = true;
		out->run.id = lr_json_str(run, PROTO_RUN_ID);
		out->run.started_unix_ms = lr_json_int(run,
		    PROTO_RUN_STARTED_UNIX_MS);
		out->run.steps = lr_json_int(run, PROTO_RUN_STEPS);
		out->run.done = lr_json_int(run, PROTO_RUN_DONE);
		out->run.duration_ms = json_is_integer(json_object_get(run,
		    PROTO_RUN_DURATION_MS)) ? lr_json_int(run,
		    PROTO_RUN_DURATION_MS) : -1;
	}
	out->current = lr_json_str(rep, PROTO_REPORT_CURRENT);
	out->waiting = lr_json_str(rep, PROTO_REPORT_WAITING);
	out->waiting_service = lr_json_str(wf, PROTO_WAITING_SERVICE);
	out->waiting_host = lr_json_str(wf, PROTO_WAITING_HOST);
	out->failed_steps = json_object_get(rep, PROTO_REPORT_FAILED_STEPS);
	out->services = json_object_get(rep, PROTO_REPORT_SERVICES);
	out->drift = json_object_get(rep, PROTO_REPORT_DRIFT);
	out->checked_unix_ms = lr_json_int(rep, PROTO_REPORT_CHECKED_UNIX_MS);
	out->interrupted = json_object_get(rep, PROTO_REPORT_INTERRUPTED);
	rf = json_object_get(rep, PROTO_REPORT_REFUSED);
	out->refused_key = lr_json_str(rf, PROTO_REFUSED_KEY);
	out->refused_error = lr_json_str(rf, PROTO_REFUSED_ERROR);
	out->refused_hint = lr_json_str(rf, PROTO_REFUSED_HINT);
}

bool
proto_report_fit(json_t *rep, size_t max)
{
	/*
	 * A check of a big host lists every drifted step with a detail of
	 * up to 512 bytes, more than any request takes, and a repair run
	 * that failed keeps that drift beside its failed steps: a failed
	 * step says more than a drifted one, so the failed steps' outputs
	 * are only cut until the drift is gone (details, then its last
	 * entries); then they go, then the last failed steps.
	 */
	return fit_fields(rep, PROTO_REPORT_FAILED_STEPS,
	    PROTO_FAILED_OUTPUT, FIT_REPORT_OUTPUT, max, NULL, 2) ||
	    fit_fields(rep, PROTO_REPORT_DRIFT, PROTO_DRIFTED_DETAIL,
	    FIT_REPORT_OUTPUT, max, NULL, 3) ||
	    fit_entries(rep, PROTO_REPORT_DRIFT, PROTO_REPORT_DRIFT_LEFT_OUT,
	    max) ||
	    fit_fields(rep, PROTO_REPORT_FAILED_STEPS, PROTO_FAILED_OUTPUT,
	    FIT_REPORT_OUTPUT, max, NULL, 3) ||
	    fit_entries(rep, PROTO_REPORT_FAILED_STEPS,
	    PROTO_REPORT_FAILED_STEPS_LEFT_OUT, max);
}

/* ---- P/results/<host> ---- */

json_t *
proto_step_result_encode(const struct proto_step_result *s)
{
	json_t *o = json_object(), *out;

	lr_json_set_str(o, PROTO_RESULT_ID, s->id);
	lr_json_set_str(o, PROTO_RESULT_STATUS, s->status);
	json_object_set_new(o, PROTO_RESULT_CHANGED, json_boolean(s->changed));
	if (!s->ran)
		json_object_set_new(o, PROTO_RESULT_RAN, json_false());
	if (s->reason != NULL && *s->reason)
		lr_json_set_str(o, PROTO_RESULT_REASON, s->reason);
	if (!s->ran)
		return o;
	lr_json_set_int(o, PROTO_RESULT_STARTED_UNIX_MS, s->started_unix_ms);
	lr_json_set_int(o, PROTO_RESULT_DURATION_MS, s->duration_ms);
	if (s->attempts > 0)
		lr_json_set_int(o, PROTO_RESULT_ATTEMPTS, s->attempts);
	if (s->exit_code >= 0)
		lr_json_set_int(o, PROTO_RESULT_EXIT, s->exit_code);
	if (s->signal)
		lr_json_set_int(o, PROTO_RESULT_SIGNAL, s->signal);
	if (s->timed_out)
		json_object_set_new(o, PROTO_RESULT_TIMED_OUT, json_true());
	if (s->error != NULL && *s->error)
		lr_json_set_str(o, PROTO_RESULT_ERROR, s->error);
	if (s->message != NULL)
		json_object_set(o, PROTO_RESULT_MESSAGE, (json_t *)s->message);
	if (s->output != NULL && *s->output) {
		if ((out = json_string(s->output)) == NULL)
			out = json_string(NOT_UTF8);
		json_object_set_new(o, PROTO_RESULT_OUTPUT, out);
	}
	return o;
}

void
proto_step_result_decode(const json_t *o, struct proto_step_result *out)
{
	memset(out, 0, sizeof(*out));
	out->id = lr_json_str(o, PROTO_RESULT_ID);
	out->status = lr_json_str(o, PROTO_RESULT_STATUS);
	out->changed = lr_json_bool(o, PROTO_RESULT_CHANGED);
	out->ran = !json_is_false(json_object_get(o, PROTO_RESULT_RAN));
	out->reason = lr_json_strn(o, PROTO_RESULT_REASON);
	out->started_unix_ms = lr_json_int(o, PROTO_RESULT_STARTED_UNIX_MS);
	out->duration_ms = lr_json_int(o, PROTO_RESULT_DURATION_MS);
	out->attempts = lr_json_int(o, PROTO_RESULT_ATTEMPTS);
	out->exit_code = json_is_integer(json_object_get(o,
	    PROTO_RESULT_EXIT)) ? lr_json_int(o, PROTO_RESULT_EXIT) : -1;
	out->signal = lr_json_int(o, PROTO_RESULT_SIGNAL);
	out->timed_out = lr_json_bool(o, PROTO_RESULT_TIMED_OUT);
	out->error = lr_json_strn(o, PROTO_RESULT_ERROR);
	out->message = json_object_get(o, PROTO_RESULT_MESSAGE);
	out->output = lr_json_strn(o, PROTO_RESULT_OUTPUT);
}

json_t *
proto_results_encode(int64_t generation, const char *run,
    const json_t *steps)
{
	json_t *o = json_object();

	lr_json_set_int(o, PROTO_RESULTS_GENERATION, generation);
	lr_json_set_str(o, PROTO_RESULTS_RUN, run);
	json_object_set(o, PROTO_RESULTS_STEPS, (json_t *)steps);
	return o;
}

void
proto_results_left_out(json_t *res, int64_t n)
{
	lr_json_set_int(res, PROTO_RESULTS_STEPS_LEFT_OUT, n);
}

static bool
result_not_failed(const json_t *st)
{
	return strcmp(lr_json_str(st, PROTO_RESULT_STATUS),
	    PROTO_STATUS_FAILED) != 0;
}

bool
proto_results_fit(json_t *res, size_t max)
{
	return fit_fields(res, PROTO_RESULTS_STEPS, PROTO_RESULT_OUTPUT,
	    FIT_RESULT_OUTPUT, max, result_not_failed, 3) ||
	    fit_entries(res, PROTO_RESULTS_STEPS,
	    PROTO_RESULTS_STEPS_LEFT_OUT, max);
}

/* ---- P/agents/<host> ---- */

static void
fact_str(json_t *o, const char *k, const char *s)
{
	if (s != NULL)
		lr_json_set_str(o, k, s);
}

static void
fact_int(json_t *o, const char *k, int64_t v)
{
	if (v >= 0)
		lr_json_set_int(o, k, v);
}

json_t *
proto_facts_encode(const struct proto_facts *f)
{
	json_t *o = json_object();

	fact_str(o, PROTO_FACT_HOSTNAME, f->hostname);
	fact_str(o, PROTO_FACT_OS, f->os);
	fact_str(o, PROTO_FACT_KERNEL, f->kernel);
	fact_str(o, PROTO_FACT_ARCH, f->arch);
	fact_int(o, PROTO_FACT_CPUS, f->cpus);
	fact_int(o, PROTO_FACT_MEM_TOTAL, f->mem_total);
	fact_int(o, PROTO_FACT_MEM_AVAILABLE, f->mem_available);
	if (f->has_load)
		json_object_set_new(o, PROTO_FACT_LOAD, json_pack("[fff]",
		    f->load[0], f->load[1], f->load[2]));
	fact_int(o, PROTO_FACT_DISK_FREE, f->disk_free);
	fact_str(o, PROTO_FACT_AGENT, f->agent);
	fact_int(o, PROTO_FACT_PID, f->pid);
	fact_int(o, PROTO_FACT_STARTED_UNIX, f->started_unix);
	return o;
}

/* o[k] as an integer, -1 when absent */
static int64_t
fact_get(const json_t *o, const char *k)
{
	return json_is_integer(json_object_get(o, k)) ? lr_json_int(o, k) :
	    -1;
}

void
proto_facts_decode(const json_t *o, struct proto_facts *out)
{
	const json_t *load = json_object_get(o, PROTO_FACT_LOAD);
	size_t i;

	memset(out, 0, sizeof(*out));
	out->hostname = lr_json_strn(o, PROTO_FACT_HOSTNAME);
	out->os = lr_json_strn(o, PROTO_FACT_OS);
	out->kernel = lr_json_strn(o, PROTO_FACT_KERNEL);
	out->arch = lr_json_strn(o, PROTO_FACT_ARCH);
	out->cpus = fact_get(o, PROTO_FACT_CPUS);
	out->mem_total = fact_get(o, PROTO_FACT_MEM_TOTAL);
	out->mem_available = fact_get(o, PROTO_FACT_MEM_AVAILABLE);
	if (json_array_size(load) == 3) {
		out->has_load = true;
		for (i = 0; i < 3; i++)
			out->load[i] = json_number_value(json_array_get(load,
			    i));
	}
	out->disk_free = fact_get(o, PROTO_FACT_DISK_FREE);
	out->agent = lr_json_strn(o, PROTO_FACT_AGENT);
	out->pid = fact_get(o, PROTO_FACT_PID);
	out->started_unix = fact_get(o, PROTO_FACT_STARTED_UNIX);
}
