/*
 * What the agent trusts of what it reads from etcd (docs/security.md):
 * nothing, unless the fleet's key signed it.  etcd 3.4's authorization
 * can be bypassed, so whoever reaches etcd could write any host's
 * desired state; the agent acts only on documents and heads whose
 * signature one of its trusted public keys checks, signed for this host,
 * whose generation is the one their key names, and not older than the
 * newest it verified before (a replay).  Contents come through the
 * SHA-256 that a verified document names, checked when stored (store.h).
 *
 * A refusal is said once (the same key for the same reason): in the log
 * (error) and through the refused callback, which puts it in the agent's
 * report.  With no keys
 * (--insecure-unsigned) every JSON object passes as it is.
 *
 * One thread: the loop's.  Nothing here touches etcd.
 */
#ifndef AGENT_TRUST_H
#define AGENT_TRUST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "err.h"
#include "sign.h"
#include "store.h"

struct agent_trust;

/* key refused, err (msg and hint) saying why; both borrowed for the call */
typedef void agent_trust_refused_cb(void *arg, const char *key,
    const struct lr_err *err);

/*
 * keys (borrowed; NULL: trust everything), the host the documents must
 * be signed for, the store that keeps the newest generation verified (may
 * be NULL: remembered in memory only).
 */
struct agent_trust *agent_trust_new(const struct lr_sign_key *keys,
	    const char *host, struct agent_store *store,
	    agent_trust_refused_cb *cb, void *arg);
void	agent_trust_free(struct agent_trust *t);	/* NULL is fine */

/*
 * The value of a host document under key (its generation gen, from the
 * key) as the agent may act on it: a new reference, or NULL when refused
 * (said) or not a JSON object (a warning).
 */
json_t	*agent_trust_doc(struct agent_trust *t, const char *key,
	    int64_t gen, const char *val, size_t len);
/* The head's value, the same way. */
json_t	*agent_trust_head(struct agent_trust *t, const char *key,
	    const char *val, size_t len);
/*
 * Whether the document of generation gen under key may come into force:
 * false (said) when it is older than one verified before.
 */
bool	agent_trust_fresh(struct agent_trust *t, const char *key,
	    int64_t gen);
/*
 * Say that the document under key is of a generation the head lists as
 * never deployed (proto/doc.h, skipped): it is ignored.
 */
void	agent_trust_never_deployed(struct agent_trust *t, const char *key,
	    int64_t gen);
/* The document of generation gen came into force: remember gen. */
void	agent_trust_accepted(struct agent_trust *t, int64_t gen);

#endif
