/*
 * Compile the desired state from a loaded spec repo: placement (through the
 * scheduler), task schedules (cron / at), templates rendered per host, and
 * per-host ordered steps with file contents identified by SHA-256.
 *
 * This is where the checks that need more than one file live: placement
 * feasibility, cron syntax, undefined template names.  Their diagnostics are
 * positioned on the spec nodes like every other spec error.
 *
 * The compiled value is plain JSON so it can be diffed (plan), printed
 * (schedule --json) and, later, written to etcd as is.
 */
#ifndef REC_COMPILE_H
#define REC_COMPILE_H

#include <stdint.h>

#include <jansson.h>

#include "spec.h"

enum rec_compile_flags {
	REC_COMPILE_DESIRED = 1 << 0,	/* build per-host desired state */
	REC_COMPILE_TASKS = 1 << 1	/* next fire times of task schedules */
};

struct rec_compiled {
	/* {"services":{svc:[hosts]}, "hosts":{host:[svcs]}}, sorted lists */
	json_t	*placement;
	/*
	 * {svc: {"var": V, "hosts": {host: value}}} for the services with
	 * spread_by: the value of V (as text) on each host of the service,
	 * as the scheduler spread them
	 */
	json_t	*spread;
	/*
	 * With REC_COMPILE_DESIRED: {host: {"services":[...], "steps":[...]}}
	 * where each step is {"id","service","role","phase","name","kind",
	 * ...kind fields rendered..., common fields}.  "id" is
	 * "<service>/<role>/<phase>/<name>".
	 */
	json_t	*desired;
	/*
	 * With REC_COMPILE_DESIRED: {sha256: {"size":n, "content": text}}, or
	 * {"size":n, "bytes": b} for content that is not UTF-8 (b made with
	 * json_stringn_nocheck: never dump it)
	 */
	json_t	*files;
	/*
	 * With REC_COMPILE_TASKS: {task: {"cron"|"at": s, "next":[iso...],
	 * "targets": {"services"|"hosts"|"groups": [names]}, "hosts":
	 * [the hosts they name, sorted]}}
	 */
	json_t	*tasks;
	/*
	 * With REC_COMPILE_DESIRED: {svc: [hosts]}, the placement of the
	 * services whose turndown on a host they leave waits for them to
	 * validate on these hosts (rollout.move make-before-break, the
	 * default, with turndown steps and placed somewhere).  The head
	 * carries it to the agents (docs/etcd-layout.md, Make before break).
	 */
	json_t	*make_before_break;
};

/*
 * Compile repo (loaded without errors or with some: objects that failed to
 * load are simply absent).  now is the reference time for task schedules
 * (Unix seconds).  Always fills *out (release with rec_compiled_release);
 * returns 0, or LR_EINVAL when diagnostics were added.
 */
int	rec_compile(const struct spec_repo *repo, unsigned flags, int64_t now,
	    struct rec_compiled *out, struct spec_diags *diags);
void	rec_compiled_release(struct rec_compiled *c);

#endif
