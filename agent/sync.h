/*
 * The sync side of leura-agent (sync.c): everything that talks to etcd.
 * It reads and watches the desired state, decides which document is in
 * force (the greatest generation <= the head), fetches the contents its
 * steps need into the state dir, keeps the heartbeat alive, publishes the
 * reports the run side gives it, and reads other hosts' reports while a
 * rollout gate waits.  It never runs a step.
 *
 * This header is the whole contract between the two sides:
 *
 *   in   struct agent_sync_hooks: a newer document is in force, the head
 *        moved, something a waiting run depends on changed, the first
 *        read is done.  The owner (agent.c) passes them to the run side.
 *   out  agent_sync_publish (the report, and a run's results), and the
 *        read-only views the run side needs: other hosts' reports for its
 *        gates, and the deploy of the head for its report.
 *
 * One thread: the loop's.  Nothing here blocks; callbacks and hooks never
 * run from inside the calls below, except where said.
 */
#ifndef AGENT_SYNC_H
#define AGENT_SYNC_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "err.h"
#include "etcd.h"
#include "store.h"

struct agent_sync;
struct etcd_uv;

struct agent_sync_hooks {
	/*
	 * The document in force now, as the run side holds it: its key
	 * (borrowed until the next hook call) and in *head the head
	 * generation it was found current at; NULL when there is none.
	 */
	const char *(*in_force)(void *arg, int64_t *head);
	/*
	 * A newer document is in force (its contents are stored): key, the
	 * document (borrowed for the call: take a reference to keep it) and
	 * the head generation it was found current at.
	 */
	void	(*desired)(void *arg, const char *key, json_t *doc,
		    int64_t head_gen);
	/* The head moved without changing this host's document. */
	void	(*head)(void *arg, int64_t head_gen, int64_t head_deploy);
	/* Other hosts' reports or the head changed: a waiting run looks. */
	void	(*kick)(void *arg);
	/*
	 * The first read of the desired state is done (failure NULL), or a
	 * read before it failed (failure says why); called only while no
	 * document is being fetched.  true: the owner took over (--once),
	 * and a failed read is not retried.
	 */
	bool	(*read_done)(void *arg, const char *failure);
	/*
	 * A document or head under key was refused (trust.h): err says why
	 * and what to do; borrowed for the call.  The document in force
	 * stays.  May be NULL.
	 */
	void	(*refused)(void *arg, const char *key, const struct lr_err *err);
	void	*arg;
};

struct agent_sync_config {
	uv_loop_t	*loop;
	struct agent_store *store;	/* borrowed: contents go there */
	const char	*host;
	const char	*prefix;	/* "/leura" */
	const struct etcd_config *etcd;	/* borrowed until agent_sync_free */
	long		 lease_ttl_s;	/* heartbeat lease; 0: 10 */
	int64_t		 started_unix;	/* for the heartbeat's facts */
	/*
	 * etcd's --max-request-bytes; 0: ETCD_MAX_REQUEST_BYTES (etcd's
	 * default), also the most the client sends.  Reports are fitted
	 * under it, and it is lowered when etcd refuses one as too large.
	 */
	size_t		 max_request_bytes;
	/* the fleet's public keys (borrowed); NULL: --insecure-unsigned */
	const struct lr_sign_key *keys;
};

/* The smallest max_request_bytes (--etcd-max-request-bytes). */
#define AGENT_SYNC_REQUEST_MIN	(64 * 1024)

/* Make the sync side; nothing is started.  The config's strings are copied
 * except etcd's. */
struct agent_sync *agent_sync_new(const struct agent_sync_config *c,
	    const struct agent_sync_hooks *hooks);
/*
 * Connect: the lease and heartbeat, the first read, then the watches.  An
 * error means the client could not be made (bad settings); etcd being
 * away is not one: reads are retried with back-off, and the hooks say
 * when the first one is done.
 */
int	agent_sync_start(struct agent_sync *s, struct lr_err *err);
/* The agent is stopping: act on nothing etcd says from now on; reports
 * still go out. */
void	agent_sync_hold(struct agent_sync *s);
/*
 * Stop talking to etcd: once the last report is out (or failed: it gets
 * one more try), revoke the heartbeat's lease (its key goes with it) and
 * free the client, all within deadline_ms (then the client is dropped
 * whatever it waits for).  The loop keeps running until then; nothing
 * else of ours keeps it alive.  Called once; later calls do nothing.
 */
void	agent_sync_stop(struct agent_sync *s, long deadline_ms);
/* Close the handles (the struct goes in their close callbacks). */
void	agent_sync_free(struct agent_sync *s);

/*
 * Publish report to P/observed/HOST, and results (unless NULL: unchanged)
 * to P/results/HOST with it, in one transaction.  One put at a time: the
 * latest state wins, retried with back-off until it lands.  The sync side
 * keeps a reference to both and sends what they hold when the put goes
 * out, fitted to etcd's request limit (max_request_bytes): the results
 * to the room the report leaves (at most 1 MiB), the report itself when
 * it is too large alone; it changes neither (it cuts copies).
 */
void	agent_sync_publish(struct agent_sync *s, json_t *report,
	    json_t *results);

/*
 * Other hosts' reports, {host: report} (borrowed, valid until the next
 * hook call); NULL while not loaded.  agent_sync_observe_start loads them
 * and keeps them current (the kick hook says when they change) until
 * agent_sync_observe_stop.
 */
const json_t *agent_sync_observed(const struct agent_sync *s);
void	agent_sync_observe_start(struct agent_sync *s);
void	agent_sync_observe_stop(struct agent_sync *s);

/*
 * The head's make_before_break, {svc: [hosts]} (borrowed until the next
 * hook call; NULL when the head has none), and in *gen the head's
 * generation (0: no head read yet).
 */
const json_t *agent_sync_head_make_before_break(const struct agent_sync *s,
	    int64_t *gen);

/* The "deploy" of the head last read; 0 before the first read. */
int64_t	agent_sync_head_deploy(const struct agent_sync *s);

/*
 * For task runs (runs.c), which share the sync side's client and lease:
 * the client (NULL before agent_sync_start and once agent_sync_stop let
 * go of etcd; borrowed: calls on it end, with LR_ECANCELED, when it
 * goes), and the heartbeat's lease (0 while none is held).  Whoever
 * watches on the client stops its watches before agent_sync_stop.
 */
struct etcd_uv *agent_sync_client(const struct agent_sync *s);
int64_t	agent_sync_lease(const struct agent_sync *s);

#endif
