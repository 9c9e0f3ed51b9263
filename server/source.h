/*
 * leurad's git source, its webhooks and applies (src_*, source*.c), and
 * the leader election (ldr_*, leader.c): docs/server.md, "Git source,
 * webhooks, auto-apply, HA".
 *
 *   source_hook.c  push webhooks: which provider, its signature, the
 *                  push it describes (pure functions);
 *   source_git.c   the mirror DATA_DIR/source.git, fetched with libgit2;
 *   source.c       the routes (GET /v1/sources, POST /v1/sources/refresh,
 *                  POST /v1/plan, POST /v1/apply) and the auto-apply
 *                  worker, which acts on the leader only;
 *   leader.c       the etcd election (P/leader) and GET /v1/leader.
 */
#ifndef SRV_SOURCE_H
#define SRV_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "err.h"

struct etcd;
struct rec_load;
struct srv;

/* ---- configuration (leurad's flags) ---- */

struct src_config {
	const char *source;	/* --source PATH|URL; NULL: no git source */
	const char *branch;	/* --source-branch; NULL: "main" */
	const char *token_file;	/* --source-token-file: https password */
	const char *ssh_key;	/* --source-ssh-key: private key file */
	const char *secret_file;	/* --webhook-secret-file */
};

/*
 * Set up the source (s->source) from c (copied; the token and secret are
 * read from their files now): nothing, without c->source.  The first
 * fetch and the auto-apply worker start in src_start.
 */
int	src_init(struct srv *s, const struct src_config *c,
	    struct lr_err *err);
/* Start the auto-apply worker thread (after ldr_init). */
int	src_start(struct srv *s, struct lr_err *err);
void	src_routes(struct srv *s);
void	src_free(struct srv *s);		/* stops the worker */

/*
 * The config repo at commit (a full id), read from the mirror and
 * compiled with flags (REC_COMPILE_*) into l (released by the caller with
 * rec_load_release, even on error): the run engine's tasks at the
 * deployed commit.  The mirror is fetched first when it lacks the commit
 * (applied by `leura apply`, not through leurad).  Errors as rec_load's
 * (diagnostics in l->diags); LR_EINVAL when leurad has no source.
 * Blocking (git; etcd e records the fetch): any thread.
 */
int	src_load_commit(struct srv *s, struct etcd *e, const char *commit,
	    unsigned flags, struct rec_load *l, struct lr_err *err);

/* ---- push webhooks (source_hook.c) ---- */

enum src_provider {
	SRC_NONE = 0,
	SRC_GITHUB,	/* X-Hub-Signature-256: sha256=HMAC-SHA256 hex */
	SRC_GITEA,	/* X-Gitea-Signature: HMAC-SHA256 hex */
	SRC_GITLAB	/* X-Gitlab-Token: the secret itself */
};

const char *src_provider_name(enum src_provider p);

/*
 * The signature headers of a request (NULL when absent), as sent.
 */
struct src_hook_headers {
	const char *github;	/* x-hub-signature-256 */
	const char *gitea;	/* x-gitea-signature */
	const char *gitlab;	/* x-gitlab-token */
};

/*
 * Check the signature of body with secret (secret_len bytes): the
 * provider whose header is present (Gitea's first: Gitea sends GitHub's
 * header too), compared in constant time.  Returns the provider when
 * the signature holds, SRC_NONE when no header is present, or -1 with
 * err set (LR_EAUTH: which header, and why) when one is present and
 * wrong, or when there is no secret to check it with.
 */
int	src_hook_verify(const char *secret, size_t secret_len,
	    const struct src_hook_headers *h, const char *body, size_t len,
	    struct lr_err *err);

/* A push, as its provider's payload says. */
struct src_push {
	char	*branch;	/* "main" of "refs/heads/main"; NULL: a tag */
	char	*after;		/* the pushed commit; NULL: deleted */
	char	*pusher;	/* who pushed, [A-Za-z0-9._@+-] only */
};

/*
 * Parse the push payload of provider p.  0, or LR_EINVAL with err set
 * (not JSON, not a push: no "ref").
 */
int	src_push_parse(enum src_provider p, const char *body, size_t len,
	    struct src_push *out, struct lr_err *err);
void	src_push_release(struct src_push *p);

/* ---- the mirror (source_git.c) ---- */

struct src_mirror {
	char	*url;		/* owned: an absolute path or a URL */
	char	*path;		/* owned: DATA_DIR/source.git */
	char	*token;		/* owned, wiped when freed; may be NULL */
	char	*ssh_key;	/* owned; may be NULL */
};

/*
 * The URL without its userinfo (what responses and logs show): new.
 */
char	*src_url_public(const char *url);
/*
 * Fetch every branch of m->url into m->path (a bare mirror, made when
 * missing): refs/heads/ mirrors the remote's, pruned.  *heads is then
 * {branch: commit id} (new).  LR_EGIT or LR_EUNREACH with err set.
 * Blocking; one fetch at a time per mirror (the caller's lock).
 */
int	src_mirror_fetch(struct src_mirror *m, json_t **heads,
	    struct lr_err *err);
void	src_mirror_release(struct src_mirror *m);

/* ---- writers of the source (tasks.c) ---- */

/* Where the source is, for a module that commits on its branch. */
struct src_target {
	const char *url;	/* a repository path (local) or a URL */
	/*
	 * The repository to commit in, in place, with a compare-and-swap
	 * of the branch: a local path, or a file:// URL's; NULL for a
	 * remote reached through a git server, where commits are pushed
	 */
	const char *local;
	bool	 remote;	/* local is NULL: commits are pushed */
	const char *mirror;	/* DATA_DIR/source.git */
	const char *branch;	/* the branch leurad deploys from */
	const char *subdir;	/* the config repo's folder; NULL: root */
};

/*
 * s's source (borrowed, for s's life): false when leurad has none.
 * Any thread.
 */
bool	src_target_get(struct srv *s, struct src_target *out);
/*
 * Fetch the source into the mirror now (the routes' own fetch).  0, or
 * LR_EGIT/LR_EUNREACH with err set.  Blocking.
 */
int	src_fetch_now(struct srv *s, struct etcd *e, struct lr_err *err);
/*
 * After a commit on the source's branch by user: fetch, and when the
 * branch is in the commit's auto_apply, queue a delivery for the leader
 * as a push webhook does (without waiting for it).  *delivery: the
 * delivery record, or null when nothing was queued (new).  Blocking.
 */
int	src_refresh_after_commit(struct srv *s, struct etcd *e,
	    const char *user, json_t **delivery, struct lr_err *err);
/*
 * Push the mirror's ref local_ref to the branch of m->url, never forced:
 * LR_ECONFLICT (err set) when the remote refuses it (its branch moved
 * on: not a fast-forward), LR_EUNREACH when it cannot be reached.
 * Blocking (source_git.c).
 */
int	src_mirror_push(struct src_mirror *m, const char *local_ref,
	    const char *branch, struct lr_err *err);
/* The mirror of s's source (borrowed); NULL without a source. */
struct src_mirror *src_mirror_of(struct srv *s);

/* ---- the leader (leader.c) ---- */

/*
 * Join the election with a lease of ttl_s seconds (s->leader): a thread
 * campaigns, keeps the lease alive and watches P/leader.
 */
int	ldr_init(struct srv *s, int ttl_s, struct lr_err *err);
void	ldr_routes(struct srv *s);
/* Resign (the lease is revoked: another replica leads at once). */
void	ldr_free(struct srv *s);
/* Whether this replica leads now (any thread). */
bool	ldr_is_leader(struct srv *s);
/*
 * While this replica leads, the create revision of P/leader (its
 * campaign's); 0 when it does not lead.  A leader's writes compare it
 * (a transaction "create_revision(P/leader) == rev"), so that one
 * deposed meanwhile writes nothing: another's campaign made the key
 * anew.
 */
int64_t	ldr_leader_rev(struct srv *s);
/*
 * A blocking etcd client of s's settings, for a thread of its own (the
 * election's, the auto-apply worker's): *out the caller's (etcd_free).
 */
int	ldr_etcd_new(struct srv *s, struct etcd **out, struct lr_err *err);

#endif
