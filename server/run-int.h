/*
 * The run engine's private parts (run.h): the pure decisions (run_plan.c)
 * that the engine (run_engine.c), run_create (run.c) and the routes
 * (run_api.c) share, so that they are tested without etcd
 * (server/tests/test_run.c).
 *
 * run_advance is the engine in one function: given a run record and what
 * etcd holds of its steps (results, claims), it moves the record on
 * (progress, state, outcome) and says what to write: dispatches to make,
 * dispatches to delete, "lost" results to write, events to record.  The
 * engine applies all of it in one transaction guarded by the leader key
 * and the record's mod_revision, so a deposed leader writes nothing and
 * a decision is taken once.
 */
#ifndef SRV_RUN_INT_H
#define SRV_RUN_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "err.h"
#include "run.h"

#define RUN_DEDUPE_DEFAULT_MS	(15 * 60 * 1000L)
#define RUN_LOG_MAX		((int64_t)64 * 1024 * 1024)
/* ops of one engine transaction at most (etcd's --max-txn-ops: 128) */
#define RUN_TXN_OPS		100

/* "2026-12-07T14:13:19.123Z" of Unix milliseconds ms into buf. */
void	run_time_iso(int64_t ms, char buf[32]);
/* Unix milliseconds of such a time (or of one without .mmm); -1: bad. */
int64_t	run_time_parse(const char *s);
/* Unix milliseconds now (CLOCK_REALTIME). */
int64_t	run_now_ms(void);

/* Whether the sorted-or-not string arrays a and b share a host. */
bool	run_hosts_overlap(const json_t *a, const json_t *b);
/*
 * Whether rec (a run record) is a run "of the same thing" as the one
 * asked (task, or for an ad-hoc command, the identical command), created
 * at most window_ms before now_ms, on hosts overlapping hosts.
 */
bool	run_dedupe_match(const json_t *rec, const char *task,
	    const char *command, const json_t *hosts, int64_t now_ms,
	    int64_t window_ms);
/*
 * Seals (run_seal.c): leurad's signature over what a run is, so that the
 * engine never acts on a record someone wrote into etcd, and over each
 * approval decision.  k NULL (leurad without a key): none made, every
 * check passes.
 */
struct lr_sign_key;
/* Seal rec (set its "seal"). */
void	run_seal(const struct lr_sign_key *k, json_t *rec);
/* 0 when rec's seal holds; else LR_EINVAL with err saying why. */
int	run_seal_check(const struct lr_sign_key *k, const json_t *rec,
	    struct lr_err *err);
/* Seal the decision ap (an element of "approvals") of run id. */
void	run_seal_approval(const struct lr_sign_key *k, const char *id,
	    json_t *ap);
/* Drop from rec's approvals those whose seal does not hold: how many. */
size_t	run_seal_approvals_keep(const struct lr_sign_key *k, json_t *rec);

/* {"id","by","created","hosts","outcome"} of rec: new reference. */
json_t	*run_summary(const json_t *rec);

/* A host's step, as the engine names it to etcd. */
struct run_hs {
	const char *host;	/* borrowed from the record */
	int	 step;
};

/* What one pass of the engine asks to write (arrays owned). */
struct run_actions {
	struct run_hs	*dispatch;	/* make these dispatches */
	size_t		 ndispatch;
	struct run_hs	*undispatch;	/* delete these dispatches */
	size_t		 nundispatch;
	struct run_hs	*lost;		/* write a "lost" result (absent) */
	size_t		 nlost;
	/*
	 * [{"actor","action","resource","outcome","detail"}]: events to
	 * record once the transaction succeeded
	 */
	json_t		*events;
	bool		 changed;	/* the record changed: write it */
	bool		 more;		/* cut at RUN_TXN_OPS: pass again */
};

void	run_actions_init(struct run_actions *a);
void	run_actions_release(struct run_actions *a);

/*
 * One pass over rec (modified in place) at now_ms.  results: {host:
 * {"SSSS": result}} of P/runs/results/<run>/; claims: {host: {"SSSS":
 * true}} of P/runs/exec/<run>/ (read at the same revision); gone: {"host/
 * SSSS": true}, the claims the engine saw deleted (lease expired, or the
 * agent wrote the result), may be NULL.  Fills a (initialised by the
 * caller).  Pure.
 */
void	run_advance(json_t *rec, const json_t *results, const json_t *claims,
	    const json_t *gone, int64_t now_ms, struct run_actions *a);

/* Whether a step status counts as a failure ("failed", "lost"...). */
bool	run_status_failed(const char *status);
/* The progress status of a result's "status" ("aborted": "cancelled"). */
const char *run_status_of_result(const char *status);

/*
 * The agent step of an ad-hoc command (kind script, the command as the
 * script, run by /bin/sh): new reference.
 */
json_t	*run_exec_step(const char *run, const char *command,
	    const char *run_as);

/* The engine (run_engine.c): start/stop its thread; wake it up. */
int	run_engine_start(struct srv *s, struct lr_err *err);
void	run_engine_stop(struct srv *s);

/* The routes (run_api.c). */
void	run_api_routes(struct srv *s);

/*
 * Record an event of the engine or the routes through srv_event_put
 * (audit.c): ev as run_actions.events holds them (stolen).
 */
void	run_event_put(struct srv *s, struct etcd *e, json_t *ev);

#endif
