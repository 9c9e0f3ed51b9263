/*
 * The keys of the contract in etcd (docs/etcd-layout.md): one builder per
 * key and one parser for them all, so that no other file formats or cuts
 * a key.  Every key is under a prefix P ("/leura" by default, no trailing
 * slash):
 *
 *   P/fleet                                 the fleet's name, written
 *                                           by the first apply
 *   P/desired/head                          the commit marker (head)
 *   P/desired/hosts/<host>/<G:012>/<sha256> a host's desired state at
 *                                           generation G; "removed" in
 *                                           place of the hash: tombstone
 *   P/desired/files/<sha256>                file contents, stored once
 *   P/source/deploys/<N:010>                the record of deploy #N
 *   P/observed/<host>                       the agent's report
 *   P/results/<host>                        its last run's step results
 *   P/agents/<host>                         heartbeat and facts (leased)
 *   P/locks/apply                           held by a running apply
 *   P/events/<ns:019>-<rand:8hex>           leurad's audit events
 *   P/runs/docs/<run>                       a task run's record (leurad)
 *   P/runs/dispatch/<host>/<run>/<S:04>     step S of a run for a host:
 *                                           signed, deleted to cancel
 *   P/runs/exec/<run>/<host>/<S:04>         the agent's claim (leased)
 *   P/runs/results/<run>/<host>/<S:04>      the step's result + preview
 *   P/runs/log/<run>/<host>/<S:04>/<N:08>   output chunks (agent)
 *   P/runs/fired/<task>/<unix-s:012>        a cron/at firing, once
 *   P/auth/                                 users, groups, grants, tokens
 *
 * Builders return a new string, the caller's to free.  Names that end in
 * _dir build the prefix of a range, with its trailing slash (so that
 * "web1/" does not match "web10").  Nothing here touches etcd.
 */
#ifndef PROTO_KEYS_H
#define PROTO_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Digits of a generation and of a deploy number in keys (sortable). */
#define PROTO_GEN_DIGITS	12
#define PROTO_DEPLOY_DIGITS	10
/* The name of a tombstone, in place of a document's hash. */
#define PROTO_TOMBSTONE		"removed"

/*
 * The name of a step: the last part of its id "<svc>/<role>/<phase>/
 * <name>" (borrowed from id), or id itself when it has not that shape.
 */
const char *proto_step_name(const char *id);

char	*proto_key_head(const char *p);
char	*proto_key_fleet(const char *p);
char	*proto_key_docs_dir(const char *p);		/* P/desired/hosts/ */
char	*proto_key_host_docs_dir(const char *p, const char *host);
/* name: the document's SHA-256 in hex, or PROTO_TOMBSTONE */
char	*proto_key_doc(const char *p, const char *host, int64_t gen,
	    const char *name);
char	*proto_key_files_dir(const char *p);		/* P/desired/files/ */
char	*proto_key_file(const char *p, const char *sha256);
char	*proto_key_deploys_dir(const char *p);	/* P/source/deploys/ */
char	*proto_key_deploy(const char *p, int64_t n);
char	*proto_key_observed_dir(const char *p);	/* P/observed/ */
char	*proto_key_observed(const char *p, const char *host);
char	*proto_key_results_dir(const char *p);	/* P/results/ */
char	*proto_key_results(const char *p, const char *host);
char	*proto_key_agents_dir(const char *p);		/* P/agents/ */
char	*proto_key_agent(const char *p, const char *host);
char	*proto_key_lock_apply(const char *p);
char	*proto_key_runs_dir(const char *p);		/* P/runs/ */
/* Task runs (docs/etcd-layout.md, server/run.h); step: index in the run */
char	*proto_key_run_docs_dir(const char *p);	/* P/runs/docs/ */
char	*proto_key_run(const char *p, const char *id);
char	*proto_key_dispatch_dir(const char *p, const char *host);
char	*proto_key_dispatch(const char *p, const char *host, const char *id,
	    int step);
char	*proto_key_run_exec_dir(const char *p, const char *id);
char	*proto_key_run_exec(const char *p, const char *id, const char *host,
	    int step);
char	*proto_key_run_results_dir(const char *p, const char *id);
char	*proto_key_run_result(const char *p, const char *id,
	    const char *host, int step);
char	*proto_key_run_log_dir(const char *p);	/* P/runs/log/ */
char	*proto_key_run_log_step_dir(const char *p, const char *id,
	    const char *host, int step);
char	*proto_key_run_log(const char *p, const char *id, const char *host,
	    int step, int64_t seq);
char	*proto_key_run_fired(const char *p, const char *task,
	    int64_t unix_s);
char	*proto_key_events_dir(const char *p);		/* P/events/ */
/* P/events/<ns:019>-<rnd:08x>: leurad's audit event at Unix time ns */
char	*proto_key_event(const char *p, int64_t ns, uint32_t rnd);
char	*proto_key_auth_dir(const char *p);		/* reserved */
/* leurad (server/leader.c, server/source*.c): docs/etcd-layout.md */
char	*proto_key_leader(const char *p);		/* P/leader */
char	*proto_key_branches_dir(const char *p);	/* P/source/branches/ */
char	*proto_key_branch(const char *p, const char *branch);
char	*proto_key_deliveries_dir(const char *p);	/* .../deliveries/ */
char	*proto_key_delivery(const char *p, const char *id);

enum proto_key_kind {
	PROTO_KEY_OTHER = 0,	/* not a key of the layout: leave it alone */
	PROTO_KEY_HEAD,
	PROTO_KEY_FLEET,
	PROTO_KEY_DOC,
	PROTO_KEY_FILE,
	PROTO_KEY_DEPLOY,
	PROTO_KEY_OBSERVED,
	PROTO_KEY_RESULTS,
	PROTO_KEY_AGENT,
	PROTO_KEY_LOCK_APPLY,
	PROTO_KEY_RUNS,		/* anything under the reserved prefixes */
	PROTO_KEY_EVENTS,
	PROTO_KEY_AUTH
};

/*
 * A key taken apart.  Pointers borrow from the key parsed.  host is
 * host_len bytes long: NUL-terminated for observed/results/agents keys,
 * followed by "/<G>/<name>" in a document key.  name is a document's
 * hash (or PROTO_TOMBSTONE), a file's hash, or the rest of a reserved
 * key.
 */
struct proto_key {
	enum proto_key_kind kind;
	const char *host;
	size_t	 host_len;
	int64_t	 generation;	/* PROTO_KEY_DOC */
	int64_t	 deploy;	/* PROTO_KEY_DEPLOY */
	const char *name;
};

/*
 * Parse key under prefix p.  Keys under desired/hosts/ not of the form
 * <host>/<G:012>/<name> (G > 0, no '/' in name), and keys under
 * observed/, results/ and agents/ with a '/' after the host name (or no
 * host name), are PROTO_KEY_OTHER: they are ignored, not errors.
 * Returns out->kind.
 */
enum proto_key_kind proto_key_parse(const char *p, const char *key,
	    struct proto_key *out);

/*
 * The part of a document key after P/desired/hosts/ ("<host>/<G>/<name>"):
 * the host copied into host[hlen], G and the name (borrowed from rest).
 * False when rest is not of that form (or the host does not fit).
 */
bool	proto_doc_key_split(const char *rest, char *host, size_t hlen,
	    int64_t *gen, const char **name);

/*
 * The generation of key when it is a document key under host_dir
 * (proto_key_host_docs_dir() of the host: "P/desired/hosts/HOST/"), -1
 * when it is not one.  Generations start at 1 (apply writes the highest
 * so far + 1), so a key at generation 0 is not one either (the agent's
 * own check before proto accepted 0; nothing writes it).
 */
int64_t	proto_key_doc_generation(const char *key, const char *host_dir);

/*
 * The host of a key of the range dir (proto_key_observed_dir() and the
 * like): what follows dir, borrowed from key; NULL when key is not under
 * dir, is dir itself, or has a '/' after the host.
 */
const char *proto_key_host_in(const char *key, const char *dir);

#endif
