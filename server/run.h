/*
 * Task runs (run_*): the engine of issue 14, in the leader leurad, and the
 * one door every way of starting a run goes through (the API, `leura
 * exec`, cron and `at` firings).  State lives in etcd only
 * (docs/etcd-layout.md "Task runs"); a leader that dies mid-run is
 * succeeded by one that reads it back and carries on, and no finished
 * step runs twice.
 *
 *   P/runs/docs/<run>                     the run record (below)
 *   P/runs/dispatch/<host>/<run>/<S:04>   step S for host: signed with
 *                                         leurad's key (proto_sign_run_
 *                                         value); the agent watches its
 *                                         host's prefix; deleting it
 *                                         cancels the step
 *   P/runs/exec/<run>/<host>/<S:04>       the agent's claim: created if
 *                                         absent, on the agent's lease
 *   P/runs/results/<run>/<host>/<S:04>    the step's result (agent; or
 *                                         "lost" by the engine), created
 *                                         if absent: written once
 *   P/runs/log/<run>/<host>/<S:04>/<N:08> output chunks (agent), read by
 *                                         every leurad (server/logs.c)
 *   P/runs/fired/<task>/<unix-s:012>      one firing of a schedule
 *
 * Run ids: "r@YYYYMMDD-HHMMSS-xxxxxx" (UTC; milliseconds, random): they
 * sort by time and hold '@', which no host name can (spec_name_valid),
 * so `leura logs ID` never mistakes one for a host.  Deploy logs use
 * "d@N" (deploy N) in the log store and the chunk keys.
 *
 * The run record (JSON; the engine owns it after creation and updates it
 * with a compare on its mod_revision):
 *
 *   {"id", "kind": "task"|"exec", "task": T|null, "command": text (exec),
 *    "run_as": user|null (exec), "params": {k: typed value}, "targets":
 *    {"hosts","groups","services"} as asked, "hosts": [resolved, sorted],
 *    "commit": the config commit the task was read at, "by": user, "via":
 *    "api"|"cron"|"at", "created", "started", "ended": RFC 3339 ms,
 *    "state": "init"|"scheduled"|"running"|"waiting_approval"|"finalised",
 *    "outcome": null|"succeeded"|"failed"|"cancelled"|"timed_out"|
 *    "rejected", "reason": text, "parallel", "on_failure": "stop"|
 *    "continue", "timeout_ms", "steps": [{"name","kind", "approval":
 *    {"groups","timeout_ms","self_approval"}}],
 *    "progress": {host: [{"state": "pending"|"dispatched"|"running"|
 *    "done", "status": null|"ok"|"changed"|"skipped"|"failed"|"lost"|
 *    "timed_out"|"cancelled", "attempt"}]},
 *    "approvals": [{"step","decision": "approved"|"rejected","by","at",
 *    "message"}], "cancel": {"by","at","message"}, "fired": {"schedule",
 *    "time"}, "forced": {"recent": run id}, "waiting_since": RFC 3339
 *    (while waiting_approval), "self_approval": bool}
 *
 * steps[].on_failure is there when the step overrides the task's.  The
 * routes write "cancel" and "approvals" (a compare on mod_revision); the
 * leader's engine does the rest (docs/runs.md).
 *
 * Steps run host by host in batches of "parallel" hosts (0: all); each
 * host runs its steps in order.  An approval step is a barrier across
 * the run: every host finishes the steps before it, then the run waits
 * in "waiting_approval".
 */
#ifndef SRV_RUN_H
#define SRV_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "err.h"

struct etcd;
struct srv;
struct srv_req;
struct srv_resp;

/* Module hooks (main.c). */
int	run_init(struct srv *s, struct lr_err *err);
void	run_routes(struct srv *s);
void	run_free(struct srv *s);

/* What a run is asked to be.  Every pointer borrowed for the call. */
struct run_request {
	const char *task;	/* NULL: an ad-hoc command */
	const char *command;	/* ad-hoc: the shell text; NULL for a task */
	const char *run_as;	/* ad-hoc: the user; NULL: the agent's */
	/*
	 * {k: value}: strings as typed on a command line ("-p n=3") or JSON
	 * values; checked against the task's declared params (types,
	 * defaults, required) before anything is written.
	 */
	const json_t *params;
	/* {"hosts","groups","services"} arrays; NULL: the task's own */
	const json_t *targets;
	const char *by;		/* the user, or "cron" */
	const char *via;	/* "api", "cron", "at" */
	bool	 force;		/* start even when a recent run overlaps */
	/*
	 * A firing (server/cron.c): the key P/runs/fired/... the creation
	 * must also create (one txn, compare create_revision == 0), and what
	 * to record as "fired".  NULL: none.
	 */
	const char *fire_key;
	const json_t *fired;
	/*
	 * Called once the targets are resolved to hosts (a sorted array),
	 * before anything is written: 0 to go on, else an LR_E* with err
	 * set, which run_create returns (the routes check grants on the
	 * hosts of an ad-hoc command: LR_EPERM).  NULL: none.
	 */
	int	(*check)(void *arg, const json_t *hosts, struct lr_err *err);
	void	*check_arg;
};

/*
 * Start a run: load the task at the deployed commit (P/desired/head),
 * check params and targets, look for a recent overlapping run
 * (dedupe_window), write the record in state "scheduled" and an audit
 * event ("run.created"), and wake the engine.  *out: the record (new
 * reference).  Errors (err set, with a hint):
 *   LR_ENOENT   unknown task (the nearest names in the hint)
 *   LR_EINVAL   bad param (named, with its declared type), targets that
 *               match no host, no deployed commit, leurad without a
 *               git source to read tasks from
 *   LR_EEXIST   a recent overlapping run: *recent is its summary {"id",
 *               "by","created","hosts","outcome","state"} (new
 *               reference); or, *recent left NULL, the firing fire_key
 *               was already made (not an error for cron: skip it).  A
 *               firing sets force (its schedule's overlap policy is
 *               cron's to apply), so that only the second can happen
 *   LR_EPERM    what check refused
 * Blocking (etcd, git): a worker or the engine's thread.
 */
int	run_create(struct srv *s, struct etcd *e, const struct run_request *rq,
	    json_t **out, json_t **recent, struct lr_err *err);

/* A new run id into buf (RUN_ID_LEN + 1 bytes): "r@" 8+1+6 "-" 6. */
#define RUN_ID_LEN	24
void	run_id_new(char buf[RUN_ID_LEN + 1]);
/* Whether s has the form of a run id ("r@...") or a deploy's ("d@N"). */
bool	run_id_valid(const char *s);

#endif
