/*
 * A task's run, compiled (issue 14): its params checked against what the
 * task declares, its targets resolved to hosts, and its steps rendered
 * for one host into the JSON the agent's step runner reads (the same
 * shape as a desired state's steps: agent/step.h), with the contents
 * their file steps need.  leurad's run engine (server/run*.c) and
 * `leura run --dry-run` read tasks through this file only.  Nothing here
 * prints or touches etcd.
 */
#ifndef REC_TASK_H
#define REC_TASK_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "err.h"
#include "spec.h"

struct rec_compiled;

/*
 * Check given ({k: value}: JSON values, or strings as typed after -p
 * k=v, converted to the declared type) against the task's declared
 * params: unknown names (with the nearest), wrong types ("param 'count'
 * of task 'drain' is an integer; got 'x'"), missing required ones.
 * *out: every declared param with its value or default (new reference).
 * LR_EINVAL with err set when not.
 */
int	rec_task_params(const struct spec_task *t, const json_t *given,
	    json_t **out, struct lr_err *err);

/*
 * The hosts a task runs on (sorted, unique; new reference): targets
 * ({"hosts","groups","services"}, NULL: the task's own) resolved
 * against repo, services through their placement (comp: what
 * rec_compile made of repo).  LR_EINVAL when a name is unknown (named,
 * with the nearest) or when nothing matches ("targets match no host").
 * Messages name t ("the targets of task 'drain'"), or "the command" when
 * t->name is NULL (an ad-hoc command's stand-in task).
 */
int	rec_task_hosts(const struct spec_repo *repo,
	    const struct rec_compiled *comp, const struct spec_task *t,
	    const json_t *targets, json_t **out, struct lr_err *err);

/*
 * The steps of task t rendered for host with params (from
 * rec_task_params): *steps a new array of step objects ({"id":
 * "task/<t>/<S>/<name>","name","kind","phase":"task", ...} as
 * agent/step.h reads them, "run_as" the step's, else the task's, else
 * leura.yml's default; approval steps as {"id","name","kind":"approval",
 * "approval":{"groups","timeout_ms"|null,"self_approval"}}, which the
 * engine keeps), each with "on_failure" ("stop"|"continue": the step's,
 * else the task's); *files a new object of what their file and use
 * steps need, as rec_compiled.files has it ({sha256: {"size","content"}}
 * or {"size","bytes"} for content that is not UTF-8: never dump it), to
 * be stored under P/desired/files/ before dispatch.  Templates see
 * host.*, params.* (every declared param) and services.<s>.hosts, as role
 * steps do.  LR_EINVAL with err set when host is not in the inventory or
 * a template fails for this host ("step 'x' of task 't' for host 'h':
 * path:line:col: message", the hint of the diagnostic).
 */
int	rec_task_render(const struct spec_repo *repo,
	    const struct rec_compiled *comp, const struct spec_task *t,
	    const char *host, const json_t *params, json_t **steps,
	    json_t **files, struct lr_err *err);

/*
 * Task t as `leura tasks` and GET /v1/tasks show it (new): {"name",
 * "description","path","targets":{"services","hosts","groups"} as
 * written,"hosts":[what they make in comp],"schedule":{"cron"|"at",
 * "timezone","overlap","misfire","starting_deadline_ms","next":[UTC],
 * "next_local":[in the zone]} or null,"params":[{"name","type",
 * "required","default","values","description"}],"parallel",
 * "timeout_ms","on_failure","dedupe_window_ms","self_approval","steps":
 * N}.  comp: rec_compile's with REC_COMPILE_TASKS (NULL: no hosts, no
 * next times).
 */
json_t	*rec_task_json(const struct spec_task *t,
	    const struct rec_compiled *comp);
/* Whether search (NULL: any) is in t's name or description, any case. */
bool	rec_task_matches(const struct spec_task *t, const char *search);

#endif
