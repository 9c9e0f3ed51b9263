/*
 * auth's private header: the in-memory copy of P/auth/ (a snapshot), the
 * pure decision over it, password and token secrets, and the state the
 * route handlers share.  server/auth.h is the public face.
 *
 * A snapshot is immutable once built and reference-counted: the loop
 * builds a new one for each watch batch and swaps it in under st->mu; a
 * worker takes a reference for the length of one decision or handler.
 */
#ifndef AUTH_INT_H
#define AUTH_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "auth.h"
#include "err.h"

struct etcd_uv;
struct etcd_uv_watch;

#define AUTH_NAME_MAX		64	/* users and groups */
#define AUTH_RESOURCE_MAX	255	/* a resource or a grant's pattern */
#define AUTH_SCOPES_ALL		0x1fu	/* every verb */
#define AUTH_SESSION_S		(12 * 3600)	/* a login's token lives 12 h */
#define AUTH_ADMIN_USER		"admin"	/* the first admin's name */

struct auth_user {
	const char	*name;
	const char	*password;	/* the Argon2id encoding */
	/*
	 * "uid": random, given when the user is made, so that a user made
	 * again under a deleted one's name is told apart (the owner rule);
	 * NULL in users made before it existed
	 */
	const char	*uid;
	const char	*created_by;
	const char	*created_by_uid;	/* the creator's uid; NULL */
	bool		 disabled;
	int64_t		 mod_rev;
	const json_t	*doc;		/* borrowed from the snapshot */
};

struct auth_group {
	const char	*name;
	const char	*created_by_uid;
	const char	*created_by;
	const json_t	*members;	/* array of user names */
	int64_t		 mod_rev;
	const json_t	*doc;
};

struct auth_grant {
	const char	*id;
	const char	*subject;	/* "user:U" | "group:G" */
	int		 verb;
	const char	*resource;	/* the pattern */
	const char	*created_by;
	const char	*created_by_uid;
	int64_t		 mod_rev;
	const json_t	*doc;
};

struct auth_token {
	const char	*hash;		/* hex SHA-256 of the secret: the key */
	const char	*id;
	const char	*user;
	const char	*kind;		/* "session" | "api" */
	unsigned	 scopes;
	int64_t		 expires;	/* unix seconds */
	int64_t		 mod_rev;
	const json_t	*doc;
};

struct auth_snapshot {
	atomic_int	 refs;
	int64_t		 revision;	/* etcd's, when this copy was current */
	json_t		*master;	/* owned: {relkey: {"doc","rev"}} */
	struct auth_user *users;	/* sorted by name */
	size_t		 nusers;
	struct auth_group *groups;	/* sorted by name */
	size_t		 ngroups;
	struct auth_grant *grants;	/* sorted by id */
	size_t		 ngrants;
	struct auth_token *tokens;	/* sorted by hash */
	size_t		 ntokens;
};

/*
 * Build a snapshot from master ({"users/alice": {"doc":{...},"rev":N},
 * ...}, keys relative to P/auth/; stolen) at revision.  Malformed entries
 * are skipped.  refs is 1.
 */
struct auth_snapshot *auth_snapshot_build(json_t *master, int64_t revision);
struct auth_snapshot *auth_snapshot_ref(struct auth_snapshot *s);
void	auth_snapshot_unref(struct auth_snapshot *s);	/* NULL is fine */

const struct auth_user *auth_find_user(const struct auth_snapshot *s,
	    const char *name);
const struct auth_group *auth_find_group(const struct auth_snapshot *s,
	    const char *name);
const struct auth_grant *auth_find_grant(const struct auth_snapshot *s,
	    const char *id);
const struct auth_token *auth_find_token(const struct auth_snapshot *s,
	    const char *hash);
const struct auth_token *auth_find_token_id(const struct auth_snapshot *s,
	    const char *id);
bool	auth_group_has(const struct auth_group *g, const char *user);
/* Does subject ("user:U"/"group:G") name user, directly or by a group? */
bool	auth_subject_covers(const struct auth_snapshot *s, const char *subject,
	    const char *user, const char **via_group);

/* ---- the decision (auth_decide.c; pure) ---- */

/*
 * May user (whose token allows scopes) do verb on resource, given
 * snapshot s?  Fills why (may be NULL).  Groups come from s (current
 * membership).  Unknown or disabled users, bad resources and scopes that
 * lack verb are denied.
 */
bool	auth_decide(const struct auth_snapshot *s, const char *user,
	    unsigned scopes, enum auth_verb verb, const char *resource,
	    struct auth_why *why);
/* Does a grant pattern match a resource ('*' within a segment; "*")? */
bool	auth_glob(const char *pattern, const char *resource);
/* Names of users and groups: [a-z0-9][a-z0-9._-]{0,63}.  0 or -1. */
int	auth_name_check(const char *what, const char *name,
	    struct lr_err *err);
/*
 * A resource (patterns: with '*'): "*" or KIND[/SEG...] with a known kind,
 * segments of [A-Za-z0-9._:@-] (and '*' when pattern), none "." or "..",
 * at most 255 bytes.  0 or -1 naming the rule.
 */
int	auth_resource_check(const char *res, bool pattern, struct lr_err *err);

/* ---- passwords and secrets (auth_pw.c) ---- */

/* Argon2id with the costs below; *out the encoding (caller's). */
int	auth_pw_hash(const char *password, char **out, struct lr_err *err);
/* true when password matches encoded (false for a malformed encoding). */
bool	auth_pw_verify(const char *encoded, const char *password);
extern unsigned auth_pw_t_cost, auth_pw_m_kib, auth_pw_lanes;
/* base64url (no padding) of n random bytes; caller's. */
char	*auth_random_b64(size_t n);
/* hex of n random bytes into out[2n+1]. */
void	auth_random_hex(char *out, size_t n);
/* lowercase hex SHA-256 of s into out[65]. */
void	auth_sha256_hex(const char *s, char out[65]);
/* A new token secret ("leura_" + base64url of 32 random bytes). */
char	*auth_token_new(void);

/* ---- the daemon's state (auth.c) ---- */

struct auth_backoff;

struct auth_state {
	struct srv	*srv;
	pthread_mutex_t	 mu;
	pthread_cond_t	 cond;		/* broadcast on each new snapshot */
	struct auth_snapshot *snap;	/* under mu; NULL until loaded */
	char		*admin_password;	/* from the file; cleared */
	char		*dummy_hash;	/* verified against for unknown users */
	struct auth_backoff *backoff;
	/* loop only */
	struct etcd_uv	*eu;
	struct etcd_uv_watch *watch;
	json_t		*master;
	int64_t		 revision;
	uv_timer_t	*retry;
	bool		 loading, stopping;
	uv_work_t	 work;
	json_t		*work_master;	/* start-up read, worker -> loop */
	int64_t		 work_rev;
	struct lr_err	 work_err;
};

/* The current snapshot, referenced (unref it), or NULL before load. */
struct auth_snapshot *auth_current(struct srv *s);
/*
 * Wait (up to 5 s) until the in-memory copy has seen revision rev: a
 * handler's write is visible to the next request on this replica.
 */
void	auth_wait_rev(struct srv *s, int64_t rev);
/* Compact JSON of o (stolen), the caller's. */
char	*auth_dump(json_t *o);
/* P/auth/ + rel, caller's. */
char	*auth_key(struct srv *s, const char *rel);

/* Login back-off (auth.c), in memory: seconds to wait, 0 when free. */
long	auth_backoff_check(struct auth_state *st, const char *user,
	    const char *client);
void	auth_backoff_fail(struct auth_state *st, const char *user,
	    const char *client);
void	auth_backoff_ok(struct auth_state *st, const char *user,
	    const char *client);

#endif
