/*
 * Seals on run records (run-int.h): etcd is not trusted for integrity,
 * and leurad signs every dispatch it makes from a record, so a record
 * written into etcd by anyone but leurad must not be acted on: that
 * would make leurad's key sign whatever command someone put there (an
 * agent's etcd credentials are enough to write P/runs/docs/).
 *
 * run_create seals what a run is (RUN_SEALED: the command, the hosts,
 * the params, the steps, who started it...) with leurad's key, and the
 * approve route seals each decision with the run's id; the engine acts
 * only on a record whose seal holds, and counts only sealed decisions.
 * What changes as a run goes (state, progress, outcome, cancel) is not
 * sealed: forging those can stop a run or mark it done, never make one
 * run something.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "doc.h"
#include "json.h"
#include "run-int.h"
#include "sign.h"

#define RUN_SEAL	"seal"
#define REC_CONTEXT	"leura-runrec-v1\n"
#define APPROVAL_CONTEXT "leura-approval-v1\n"

/* What a run is, as started: sealed in its record. */
static const char *const sealed_keys[] = {
	"id", "kind", "task", "command", "run_as", "params", "targets",
	"hosts", "commit", "by", "created", "parallel", "on_failure",
	"timeout_ms", "steps", "self_approval", NULL
};

/* The message a seal signs: ctx, then the canonical text. */
static void
message(struct lr_buf *m, const char *ctx, const char *id, const json_t *o)
{
	char *text = proto_dumps(o);

	lr_buf_adds(m, ctx);
	if (id != NULL) {
		lr_buf_adds(m, id);
		lr_buf_addc(m, '\n');
	}
	lr_buf_adds(m, text);
	free(text);
}

/* The sealed part of rec: new reference. */
static json_t *
sealed_part(const json_t *rec)
{
	json_t *o = json_object(), *v;
	size_t i;

	for (i = 0; sealed_keys[i] != NULL; i++)
		json_object_set(o, sealed_keys[i], (v = json_object_get(rec,
		    sealed_keys[i])) != NULL ? v : json_null());
	return o;
}

void
run_seal(const struct lr_sign_key *k, json_t *rec)
{
	struct lr_buf m = LR_BUF_INIT;
	char *sig;
	json_t *o;

	if (k == NULL)
		return;
	o = sealed_part(rec);
	message(&m, REC_CONTEXT, NULL, o);
	sig = lr_sign(k, m.s, m.len);
	json_object_set_new(rec, RUN_SEAL, json_string(sig));
	free(sig);
	json_decref(o);
	lr_buf_release(&m);
}

int
run_seal_check(const struct lr_sign_key *k, const json_t *rec,
    struct lr_err *err)
{
	struct lr_buf m = LR_BUF_INIT;
	const char *sig;
	json_t *o;
	int rc;

	if (k == NULL)
		return 0;
	if ((sig = lr_json_strn(rec, RUN_SEAL)) == NULL)
		return lr_err_set(err, LR_EINVAL, "it is not sealed by leurad");
	o = sealed_part(rec);
	message(&m, REC_CONTEXT, NULL, o);
	rc = lr_sign_verify(k, m.s, m.len, sig, err);
	json_decref(o);
	lr_buf_release(&m);
	return rc;
}

void
run_seal_approval(const struct lr_sign_key *k, const char *id, json_t *ap)
{
	struct lr_buf m = LR_BUF_INIT;
	char *sig;

	if (k == NULL)
		return;
	json_object_del(ap, RUN_SEAL);
	message(&m, APPROVAL_CONTEXT, id, ap);
	sig = lr_sign(k, m.s, m.len);
	json_object_set_new(ap, RUN_SEAL, json_string(sig));
	free(sig);
	lr_buf_release(&m);
}

size_t
run_seal_approvals_keep(const struct lr_sign_key *k, json_t *rec)
{
	json_t *aps = json_object_get(rec, "approvals"), *ap, *o;
	struct lr_buf m = LR_BUF_INIT;
	struct lr_err err;
	const char *sig;
	size_t i, dropped = 0;

	if (k == NULL || !json_is_array(aps))
		return 0;
	for (i = json_array_size(aps); i-- > 0;) {
		ap = json_array_get(aps, i);
		sig = lr_json_strn(ap, RUN_SEAL);
		o = json_deep_copy(ap);
		json_object_del(o, RUN_SEAL);
		lr_buf_reset(&m);
		message(&m, APPROVAL_CONTEXT, lr_json_str(rec, "id"), o);
		json_decref(o);
		if (sig == NULL || lr_sign_verify(k, m.s, m.len, sig,
		    &err) < 0) {
			json_array_remove(aps, i);
			dropped++;
		}
	}
	lr_buf_release(&m);
	return dropped;
}
