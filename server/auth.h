/*
 * Users, groups, grants and tokens (auth_*): the identity and permission
 * model every handler asks.  State lives in etcd under P/auth/
 * (docs/etcd-layout.md); each leurad keeps a copy in memory, current
 * through one watch, so a decision touches no network.
 *
 *   P/auth/users/<name>      {"name","password":ARGON2ID-ENCODED,
 *                             "created","created_by","disabled"}
 *   P/auth/groups/<name>     {"name","members":[user...],"created",
 *                             "created_by"}
 *   P/auth/grants/<id>       {"id","subject":"user:U"|"group:G",
 *                             "verb","resource","created","created_by"}
 *   P/auth/tokens/<sha256>   {"id","user","kind":"session"|"api","name",
 *                             "scopes":[verb...],"created","expires"}
 *                            (the key is the SHA-256 of the secret; the
 *                             secret itself is stored nowhere)
 *
 * Verbs, each implying the ones before it on the same resource: read <
 * run < apply < approve < admin ("admin" on "*" is a fleet admin).
 * Resources: "services/NAME", "hosts/NAME", "tasks/NAME", "systems/NAME",
 * "users/NAME", "groups/NAME", "grants/ID", "tokens/ID", "events", "fleet";
 * a grant's pattern may use '*' as a glob within a segment
 * ("hosts/db*", "tasks/flush-*") or be "*" (everything).  Owner rule
 * (StraaS): the creator of a user, group or grant manages it ("admin" on
 * it) without a grant.
 */
#ifndef AUTH_H
#define AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "srv.h"

enum auth_verb {
	AUTH_READ = 0,
	AUTH_RUN,
	AUTH_APPLY,
	AUTH_APPROVE,
	AUTH_ADMIN
};

/* The caller of a request, built by authentication; immutable. */
struct auth_principal {
	char	*user;
	char	**groups;	/* the user's groups at authentication */
	size_t	 ngroups;
	char	*token_id;	/* the token's public id */
	unsigned scopes;	/* bit (1 << verb) per verb the token allows */
};

/*
 * Why a decision came out as it did, for 403s and `leura can`: the grant
 * that allowed it (id, subject, verb, pattern, "via group G" or "owner"),
 * or, when denied, up to 3 nearest grants and who can grant it.
 */
struct auth_why {
	bool	 allowed;
	/* one line, e.g. "grant g3 (group:ops apply services/ *) via group
	   ops" (without the space: it would end this comment) */
	char	 reason[512];
	char	 hint[256];	/* denied: "ask an admin of services/web
				   (alice, group:ops)" */
	char	 grant[64];	/* allowed: the grant's id, or "" (a rule
				   such as the owner rule allowed it) */
	char	 nearest[3][64];	/* denied: ids of the nearest grants */
	size_t	 nnearest;
};

/*
 * May req's caller do verb on resource?  The one question every handler
 * asks (a pure function of the in-memory copy).  Anonymous callers may
 * do nothing.
 */
bool	auth_can(const struct srv_req *req, enum auth_verb verb,
	    const char *resource, struct auth_why *why);
/*
 * auth_can, answering 401 (anonymous) or 403 naming the missing grant
 * ("forbidden: apply on services/web needs a grant; ...") when not.
 * Returns true when allowed.
 */
bool	auth_require(const struct srv_req *req, struct srv_resp *resp,
	    enum auth_verb verb, const char *resource);

/*
 * Module hooks (main.c): auth_init reads s->admin_password_file, sets
 * s->authenticate and s->principal_free, and starts loading P/auth/ on
 * the loop (first admin made when no user exists); auth_ready is false
 * until the copy is loaded; auth_routes adds /v1/login, users, groups,
 * grants, tokens, whoami and explain.
 */
int	auth_init(struct srv *s, struct lr_err *err);
bool	auth_ready(struct srv *s);
void	auth_routes(struct srv *s);
void	auth_free(struct srv *s);

const char *auth_verb_name(enum auth_verb v);
/* "read" ... "admin" -> 0, unknown -> -1 */
int	auth_verb_parse(const char *s);

#endif
