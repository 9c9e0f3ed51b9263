/*
 * The agent's checks of signed desired state (trust.h).  The signature's
 * form and what it covers are proto/'s (proto_verify_value); this file
 * adds what only the agent knows: its host, the key's generation, the
 * newest generation it verified, and how a refusal is said.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LR_LOG_COMPONENT "agent"
#include "doc.h"
#include "json.h"
#include "log.h"
#include "trust.h"
#include "xalloc.h"

struct agent_trust {
	const struct lr_sign_key *keys;	/* borrowed; NULL: trust all */
	char	*host;
	struct agent_store *store;	/* borrowed, may be NULL */
	int64_t	 verified;	/* newest generation verified */
	char	*said;		/* key and error of the last refusal said */
	agent_trust_refused_cb *cb;
	void	*arg;
};

struct agent_trust *
agent_trust_new(const struct lr_sign_key *keys, const char *host,
    struct agent_store *store, agent_trust_refused_cb *cb, void *arg)
{
	struct agent_trust *t = lr_xcalloc(1, sizeof(*t));

	t->keys = keys;
	t->host = lr_xstrdup(host);
	t->store = store;
	t->cb = cb;
	t->arg = arg;
	if (store != NULL)
		t->verified = agent_store_verified_generation(store);
	return t;
}

void
agent_trust_free(struct agent_trust *t)
{
	if (t == NULL)
		return;
	free(t->host);
	free(t->said);
	free(t);
}

/* Say the refusal of key (once per key), with a hint when err has none. */
static void
refuse(struct agent_trust *t, const char *key, const char *what,
    struct lr_err *err)
{
	char why[sizeof(err->msg)], *said;

	snprintf(why, sizeof(why), "%s", err->msg);
	lr_err_set(err, LR_EINVAL, "refusing %s '%s': %s", what, key, why);
	if (strstr(why, "not among the trusted keys") != NULL)
		lr_err_hint(err, "if the fleet's key was changed, give this "
		    "agent the new public key (--fleet-key; docs/security.md, "
		    "Rotating the key); else someone with access to etcd "
		    "wrote it: apply again with the fleet's key");
	else if (strstr(why, "not signed") != NULL)
		lr_err_hint(err, "apply the desired state again with the "
		    "fleet's signing key ('leura apply'); if nobody applied "
		    "unsigned, someone with access to etcd wrote it "
		    "(docs/security.md)");
	else if (strstr(why, "(a replay)") != NULL)
		lr_err_hint(err, "someone with access to etcd put back an old "
		    "document: delete the key, apply again, and check who can "
		    "reach etcd; if etcd was rebuilt from scratch, remove "
		    "verified.json from the agent's state dir "
		    "(docs/security.md)");
	else
		lr_err_hint(err, "someone with access to etcd wrote this "
		    "value; the agent keeps its current desired state: delete "
		    "the key, apply again, and check who can reach etcd "
		    "(docs/security.md)");
	said = lr_xasprintf("%s\n%s", key, err->msg);
	if (t->said != NULL && strcmp(t->said, said) == 0) {
		free(said);
		return;
	}
	free(t->said);
	t->said = said;
	lr_log_error("%s; hint: %s", err->msg, err->hint);
	if (t->cb != NULL)
		t->cb(t->arg, key, err);
}

/* An unsigned reader's view: any JSON object. */
static json_t *
plain(const char *key, const char *val, size_t len)
{
	struct lr_err err;
	json_t *v;

	if ((v = proto_value_parse(key, val, len, &err)) == NULL)
		lr_log_warn("the value of '%s' in etcd is not a JSON object; "
		    "ignored", key);
	return v;
}

json_t *
agent_trust_doc(struct agent_trust *t, const char *key, int64_t gen,
    const char *val, size_t len)
{
	struct lr_err err;
	json_t *v = NULL;
	int64_t g;

	if (t->keys == NULL)
		return plain(key, val, len);
	lr_err_clear(&err);
	if (proto_verify_value(val, len, t->host, t->keys, &v, &err) < 0) {
		refuse(t, key, "the document", &err);
		return NULL;
	}
	/* the stamp is signed: a key that names another is a copy */
	if ((g = lr_json_int(v, PROTO_DOC_GENERATION)) != gen) {
		lr_err_set(&err, LR_EINVAL, "it was signed as generation "
		    "%lld, its key says %lld (a copy of another document)",
		    (long long)g, (long long)gen);
		refuse(t, key, "the document", &err);
		json_decref(v);
		return NULL;
	}
	return v;
}

json_t *
agent_trust_head(struct agent_trust *t, const char *key, const char *val,
    size_t len)
{
	struct lr_err err;
	json_t *v = NULL;

	if (t->keys == NULL)
		return plain(key, val, len);
	lr_err_clear(&err);
	if (proto_verify_value(val, len, NULL, t->keys, &v, &err) < 0) {
		refuse(t, key, "the head", &err);
		return NULL;
	}
	return v;
}

bool
agent_trust_fresh(struct agent_trust *t, const char *key, int64_t gen)
{
	struct lr_err err;

	if (t->keys == NULL || gen >= t->verified)
		return true;
	lr_err_set(&err, LR_EINVAL, "it is generation %lld, older than "
	    "generation %lld, which this agent verified before (a replay)",
	    (long long)gen, (long long)t->verified);
	refuse(t, key, "the document", &err);
	return false;
}

void
agent_trust_never_deployed(struct agent_trust *t, const char *key,
    int64_t gen)
{
	struct lr_err err;

	lr_err_set(&err, LR_EINVAL, "it is generation %lld, which the head "
	    "lists as never deployed: an apply that did not commit wrote it, "
	    "and it was put back (a replay)", (long long)gen);
	refuse(t, key, "the document", &err);
}

void
agent_trust_accepted(struct agent_trust *t, int64_t gen)
{
	struct lr_err err;

	free(t->said);
	t->said = NULL;
	if (t->keys == NULL || gen <= t->verified)
		return;
	t->verified = gen;
	if (t->store != NULL && agent_store_verified_save(t->store, gen,
	    &err) < 0)
		lr_log_error("%s", err.msg);
}
