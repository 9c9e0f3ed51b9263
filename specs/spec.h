/*
 * The config repo as one typed, validated, in-memory model.
 *
 *   spec_repo_load(src, &repo, diags)
 *
 * reads leura.yml, inventory/ *.yml, services.yml, roles/<r>/role.yml,
 * tasks/<t>.yml and systems.yml from a spec_source (working tree or git
 * commit), checks every key and type, resolves cross-references and adds one
 * diagnostic per problem.  Placement feasibility, cron syntax and template
 * names are checked by the reconciler (reconciler/compile.c), which owns the
 * scheduler and the template context.
 *
 * Every object keeps its YAML node (`node`, borrowed from repo->files) so
 * later stages can report positions.  Strings are owned by the repo unless
 * noted; arrays are (pointer, count) pairs.  Lists of objects are sorted by
 * name after loading, so iteration order never depends on file order.
 */
#ifndef SPEC_SPEC_H
#define SPEC_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "diag.h"
#include "node.h"
#include "source.h"

/* A name that refers to another object, with where it was written. */
struct spec_ref {
	char	*name;
	const struct spec_node *node;
};

/* ---- leura.yml ---- */

enum spec_drift { SPEC_DRIFT_REPAIR, SPEC_DRIFT_REPORT };

struct spec_defaults {
	int64_t	 timeout_ms;	/* step timeout; default 10 min */
	int	 retries;	/* default 0 */
	char	*run_as;	/* NULL: the agent's user */
	enum spec_drift drift;	/* default repair */
	int64_t	 drift_interval_ms;	/* re-check interval; default 15 min */
};

struct spec_settings {
	char	*name;		/* NULL when unset */
	char	*domain;	/* NULL when unset */
	/* etcd: where the fleet's etcd is (flags and LEURA_ETCD* win) */
	char	*etcd_endpoints;	/* URL[,URL...]; NULL when unset */
	char	*etcd_prefix;		/* starts with '/'; NULL: unset */
	struct spec_defaults defaults;
	/*
	 * auto_apply: the branches whose pushes leurad plans and applies
	 * itself (GitOps); NULL-terminated, owned; NULL when unset
	 */
	char	**auto_apply;
	size_t	 nauto_apply;
	const struct spec_node *node;	/* NULL without leura.yml */
};

/* ---- inventory/ *.yml ---- */

struct spec_host {
	char	*name;
	char	*address;	/* NULL: use the name */
	struct spec_ref *groups;	/* as written (without 'all') */
	size_t	 ngroups;
	json_t	*vars;		/* owned object; host vars as written */
	const struct spec_node *node;
};

struct spec_group {
	char	*name;
	char	*description;
	json_t	*vars;		/* owned object */
	struct spec_ref *hosts;	/* members listed under the group, if any */
	size_t	 nhosts;
	const struct spec_node *node;
};

/* ---- steps (roles and tasks) ---- */

enum spec_step_kind {
	SPEC_STEP_SCRIPT,	/* script: or script_file: */
	SPEC_STEP_FILE,
	SPEC_STEP_HTTP,
	SPEC_STEP_APPROVAL,	/* tasks only */
	SPEC_STEP_USE		/* use: <type> with: {...} */
};

/*
 * What a task run does when a step fails on a host (after its retries):
 * STOP: the host runs no further step and the run ends failed once the
 * hosts already started finish (no new host or batch starts);
 * CONTINUE: the host goes on with its next step, and the run ends failed
 * all the same.  A task says STOP or CONTINUE (default STOP); a step may
 * override it, else it is INHERIT.
 */
enum spec_on_failure { SPEC_ON_FAILURE_INHERIT, SPEC_ON_FAILURE_STOP,
	SPEC_ON_FAILURE_CONTINUE };

enum spec_phase { SPEC_PHASE_CONVERGE, SPEC_PHASE_VALIDATE,
	SPEC_PHASE_TURNDOWN, SPEC_PHASE_TASK };

struct spec_step {
	char	*name;
	bool	 name_generated;	/* from its content: see load_roles.c */
	enum spec_step_kind kind;
	enum spec_phase phase;
	const struct spec_node *node;

	/* SCRIPT */
	char	*script;	/* inline text, or the script_file's content */
	char	*script_file;	/* repo-relative path when from a file */
	char	*interpreter;	/* "shell" key; default "/bin/sh" */
	/* FILE */
	char	*src;		/* repo-relative (resolved against the role dir) */
	char	*content;	/* inline content: instead of src */
	char	*dest;		/* absolute path on the host */
	int	 mode;		/* -1: leave as created (0644) */
	char	*owner, *group;	/* NULL: leave */
	bool	 template;
	char	*validate;	/* command run on the new content ("%s" is
				 * its path) before it replaces dest; NULL */
	/* HTTP */
	char	*url, *method, *body;	/* method default GET */
	json_t	*headers;	/* object or NULL */
	int	 expect_status;	/* 0: any 2xx */
	/* APPROVAL */
	struct spec_ref *approvers;	/* groups */
	size_t	 napprovers;
	/*
	 * approval.timeout: how long the run waits for a decision before
	 * the step (and so the run, per on_failure) fails as timed out;
	 * -1: unset, the run waits until it is decided or cancelled (or
	 * the task's timeout ends it)
	 */
	int64_t	 approval_timeout_ms;
	/* USE */
	char	*use;
	json_t	*with;		/* object or NULL */

	/* common */
	char	*run_as;	/* NULL: the default */
	int64_t	 timeout_ms;	/* -1: the default */
	int	 retries;	/* -1: the default */
	json_t	*env;		/* object of strings or NULL */
	char	*cwd;		/* NULL: the agent's state dir */
	char	*creates;	/* guard: skip when the path exists */
	char	*unless;	/* guard: skip when the command exits 0 */
	struct spec_ref *when_changed;	/* names of earlier steps */
	size_t	 nwhen_changed;
	/* task steps only (an error in a role): INHERIT is the task's */
	enum spec_on_failure on_failure;
	const struct spec_node *on_failure_node;	/* NULL when unset */
};

struct spec_role {
	char	*name;
	char	*dir;		/* "roles/<name>" */
	char	*description;
	json_t	*params;	/* owned object: default params */
	struct spec_step *converge, *validate, *turndown;
	size_t	 nconverge, nvalidate, nturndown;
	const struct spec_node *node;
};

/* ---- services.yml ---- */

struct spec_batch {
	int	 value;		/* hosts, or percent when percent is true */
	bool	 percent;
};

struct spec_service {
	char	*name;
	char	*description;
	struct spec_ref scheduling_group;	/* name "all" by default */
	int	 num_instances;	/* -1: all eligible hosts */
	struct spec_ref spread_by;	/* name NULL when unset */
	struct spec_ref *roles;	/* default: [name] when roles/<name> exists */
	size_t	 nroles;
	bool	 roles_defaulted;
	struct spec_ref *depends_on;
	size_t	 ndepends_on;
	json_t	*params;	/* owned object; overrides role params */
	int	 max_parallel;	/* 0: unlimited */
	struct spec_batch *batches;
	size_t	 nbatches;
	/*
	 * rollout.move: when the service leaves a host, its turndown
	 * there waits for the service to validate where it runs now
	 * (make-before-break, the default), or not (break-before-make)
	 */
	bool	 break_before_make;
	enum spec_drift drift;
	/* minicluster attributes, validated and kept as JSON arrays */
	json_t	*service_credentials, *monitoring_endpoints;
	json_t	*public_endpoints, *containers;
	const struct spec_node *node;
	const struct spec_node *num_instances_node;	/* NULL if unset */
};

/* ---- tasks/<t>.yml ---- */

enum spec_param_type { SPEC_PARAM_STRING, SPEC_PARAM_INTEGER,
	SPEC_PARAM_NUMBER, SPEC_PARAM_BOOLEAN };

/*
 * One declared param of a task: `NAME: {type, default, required, values,
 * description}`, or `NAME: V` (a default of V's type).  The loader has
 * checked that default and every one of values are of type (an integer
 * is a number too: a number's default and values may be integers, kept
 * as JSON integers) and that default is one of values; a param without
 * a type takes its default's (string without one).
 */
struct spec_param {
	char	*name;
	enum spec_param_type type;
	json_t	*def;		/* owned; NULL: no default */
	bool	 required;	/* a run must give it (has no default) */
	json_t	*values;	/* owned array of the allowed values; NULL */
	char	*description;	/* NULL when none */
	const struct spec_node *node;	/* the value of NAME */
};

/*
 * schedule.overlap, when a firing comes while a run of the task (fired
 * or started by hand) is still going: FORBID (default): the firing is
 * skipped (and recorded as such); ALLOW: a second run starts; REPLACE:
 * the running one is cancelled and the new one starts.
 */
enum spec_overlap { SPEC_OVERLAP_FORBID, SPEC_OVERLAP_ALLOW,
	SPEC_OVERLAP_REPLACE };
/*
 * schedule.misfire, for a firing time that passed more than
 * starting_deadline ago without firing (leurad was down, no leader):
 * SKIP (default): those firings are dropped; RUN_ONCE: one run starts
 * now for all of them.
 */
enum spec_misfire { SPEC_MISFIRE_SKIP, SPEC_MISFIRE_RUN_ONCE };

struct spec_task {
	char	*name;		/* file name without .yml */
	char	*path;		/* "tasks/<name>.yml" */
	char	*description;
	struct spec_ref *t_services, *t_hosts, *t_groups;	/* targets */
	size_t	 nt_services, nt_hosts, nt_groups;
	char	*run_as;
	char	*cron;		/* NULL when none */
	const struct spec_node *cron_node;
	char	*at;		/* NULL when none: RFC 3339 */
	const struct spec_node *at_node;
	/*
	 * schedule.timezone: an IANA name (Europe/Paris) that exists as a
	 * zoneinfo file (checked); the cron fields, and an 'at' time
	 * written without an offset, are read in its local time
	 * (sched_cron_next_tz, sched_at_parse_tz); NULL: UTC.
	 */
	char	*timezone;
	const struct spec_node *timezone_node;
	enum spec_overlap overlap;
	enum spec_misfire misfire;
	/*
	 * schedule.starting_deadline: a firing may still start this late
	 * (leader change, slow etcd); later, it is a misfire.  Default
	 * 10 min; always > 0.
	 */
	int64_t	 starting_deadline_ms;
	int	 parallel;	/* hosts at once; 0: all */
	int64_t	 timeout_ms;	/* whole run; -1: none */
	enum spec_on_failure on_failure;	/* STOP or CONTINUE */
	/*
	 * dedupe_window: a run started within this long after a run of
	 * the task on overlapping hosts needs force; default 15 min; 0:
	 * off
	 */
	int64_t	 dedupe_window_ms;
	/* self_approval: the run's starter may approve its approval steps */
	bool	 self_approval;
	struct spec_param *params;	/* declared params, sorted by name */
	size_t	 nparams;
	struct spec_step *steps;
	size_t	 nsteps;
	const struct spec_node *node;
};

/* ---- systems.yml ---- */

struct spec_system {
	char	*name;
	char	*description;
	struct spec_ref *services, *systems;
	size_t	 nservices, nsystems;
	const struct spec_node *node;
};

/* ---- the repo ---- */

struct spec_repo {
	struct spec_source *src;	/* borrowed: outlives the repo */
	struct spec_file **files;	/* every parsed YAML file (owned) */
	size_t	 nfiles, files_cap;
	struct spec_settings settings;
	struct spec_host *hosts;	/* sorted by name */
	size_t	 nhosts;
	struct spec_group *groups;	/* sorted; includes implicit 'all' */
	size_t	 ngroups;
	struct spec_service *services;	/* sorted */
	size_t	 nservices;
	struct spec_role *roles;	/* sorted */
	size_t	 nroles;
	struct spec_task *tasks;	/* sorted */
	size_t	 ntasks;
	struct spec_system *systems;	/* sorted */
	size_t	 nsystems;
	/*
	 * Files that could not be parsed as YAML.  When non-zero the loader
	 * skips cross-reference checks (they would only repeat the damage)
	 * and callers should not compile.
	 */
	size_t	 nbroken;
	/* private to the loaders: name -> index of hosts, groups, services */
	json_t	*load_idx[3];
};

/*
 * The largest spec file (YAML) a repo may hold.  Parsing takes about five
 * times a file's size in memory; a larger file is refused before it is
 * read, with an error on its path.  leura-spec(5), FILES.
 */
#define SPEC_FILE_MAX	((size_t)16 * 1024 * 1024)

/*
 * Load and check the whole repo from src (cross-references only when every
 * file parsed).  *out is always set (the caller
 * frees it with spec_repo_free) so callers can use what did load; returns 0
 * when no error diagnostics were added, LR_EINVAL otherwise, or another LR_E*
 * with err filled when the source itself failed (unreadable directory, git
 * object missing).
 */
int	spec_repo_load(struct spec_source *src, struct spec_repo **out,
	    struct spec_diags *diags, struct lr_err *err);
/*
 * Load leura.yml only (a repo with its settings and nothing else): as
 * spec_repo_load, for the commands that need the fleet's name and etcd
 * but not its specs.
 */
int	spec_settings_load(struct spec_source *src, struct spec_repo **out,
	    struct spec_diags *diags, struct lr_err *err);
void	spec_repo_free(struct spec_repo *repo);

/* Lookups by name: NULL when absent (binary search; lists are sorted). */
const struct spec_host	  *spec_repo_find_host(const struct spec_repo *,
			    const char *name);
const struct spec_group	  *spec_repo_find_group(const struct spec_repo *,
			    const char *name);
const struct spec_service *spec_repo_find_service(const struct spec_repo *,
			    const char *name);
const struct spec_role	  *spec_repo_find_role(const struct spec_repo *,
			    const char *name);
const struct spec_task	  *spec_repo_find_task(const struct spec_repo *,
			    const char *name);

/* True when host belongs to group (directly, via the group's host list, or
 * because group is 'all'). */
bool	spec_host_in_group(const struct spec_repo *, const struct spec_host *,
	    const char *group);
/*
 * Effective vars of a host: 'all' group vars, then each of its groups' vars
 * in sorted group order, then the host's own vars (later wins).  New
 * reference.
 */
json_t	*spec_host_vars(const struct spec_repo *, const struct spec_host *);

/* A declared param of t by name: NULL when absent. */
const struct spec_param *spec_task_find_param(const struct spec_task *t,
	    const char *name);
/*
 * True when v (JSON) is a value of type: a JSON integer is a number too;
 * a number must be finite.
 */
bool	spec_param_type_accepts(enum spec_param_type type, const json_t *v);

/* The words of the YAML: "integer", "stop", "forbid", "run_once" */
const char *spec_param_type_name(enum spec_param_type t);
const char *spec_on_failure_name(enum spec_on_failure f);
const char *spec_overlap_name(enum spec_overlap o);
const char *spec_misfire_name(enum spec_misfire m);
const char *spec_step_kind_name(enum spec_step_kind k);
const char *spec_phase_name(enum spec_phase p);

#endif
