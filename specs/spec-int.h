/*
 * Private to specs/: the per-file loaders called by spec_repo_load() in
 * load.c, and the release functions of the model's structs.
 *
 * Each loader reads one parsed file's root node into the repo, adding a
 * diagnostic per problem and keeping going (a bad entry is skipped, never a
 * crash).  Cross-references are checked in spec_repo_check_refs() after
 * every file is loaded and every list is sorted.
 */
#ifndef SPEC_INT_H
#define SPEC_INT_H

#include "spec.h"

/* load_services.c: leura.yml, inventory/ *.yml, services.yml, systems.yml */
void	spec_load_settings(struct spec_repo *, const struct spec_node *root,
	    struct spec_diags *);
/* Called once per inventory file, in sorted path order; merges. */
void	spec_load_inventory(struct spec_repo *, const struct spec_node *root,
	    struct spec_diags *);
void	spec_load_services(struct spec_repo *, const struct spec_node *root,
	    struct spec_diags *);
void	spec_load_systems(struct spec_repo *, const struct spec_node *root,
	    struct spec_diags *);
/*
 * check_services.c, after sorting: hosts' groups exist, group host lists
 * name hosts, scheduling_group / depends_on / roles / spread_by exist,
 * depends_on and systems have no cycles (the cycle is printed), service
 * defaults (roles: [name] when roles/<name> exists).
 */
void	spec_check_services(struct spec_repo *, struct spec_diags *);

/* load_roles.c: roles/<r>/role.yml and the steps of roles and tasks */
/* name = "<r>", root = parsed role.yml (may be NULL when it failed). */
void	spec_load_role(struct spec_repo *, const char *name,
	    const struct spec_node *root, struct spec_diags *);
/*
 * The steps of task `name`, the list node seq (null: none), into *out and
 * *nout (the caller's, freed with spec_steps_free()); a step with an
 * error is reported and left out.
 */
void	spec_load_task_steps(struct spec_repo *, const char *name,
	    const struct spec_node *seq, struct spec_step **out, size_t *nout,
	    struct spec_diags *);
/* Release n steps and free the array. */
void	spec_steps_free(struct spec_step *v, size_t n);

/* load_tasks.c: tasks/<t>.yml */
void	spec_load_task(struct spec_repo *, const char *name, const char *path,
	    const struct spec_node *root, struct spec_diags *);
/* After sorting: task targets name services, hosts and groups that exist. */
void	spec_check_roles(struct spec_repo *, struct spec_diags *);

/*
 * zone.c: schedule.timezone.  0 when name is a zone file of the system's
 * zoneinfo ($TZDIR or /usr/share/zoneinfo); -1 when not (why says so),
 * -2 when the zoneinfo directory cannot be read.
 */
int	spec_zone_check(const char *name, char *why, size_t whylen);
/* The nearest zone name to name (the caller's), or NULL. */
char	*spec_zone_suggest(const char *name);

/*
 * schema.c: reads the loaders share, on top of node.h's.  Each adds a
 * positioned diagnostic when the value has the wrong shape.
 */
/* Value of an optional key: NULL when absent or null. */
const struct spec_node *spec_opt(const struct spec_node *map,
	    const char *key);
/* A string, copied into *out (the caller's). */
int	spec_dup_str(struct spec_diags *d, const struct spec_node *n,
	    const char *what, char **out);
/* A list of names (or a single name) into refs; *out is the caller's. */
int	spec_get_refs(struct spec_diags *d, const struct spec_node *n,
	    const char *what, struct spec_ref **out, size_t *nout);
/*
 * A free-form mapping as a JSON object (the caller's); null gives an empty
 * object; NULL when n is not a mapping (the hint cites leura-spec(5)'s
 * `section`).
 */
json_t	*spec_get_object(struct spec_diags *d, const struct spec_node *n,
	    const char *what, const char *section);
/*
 * A mapping of names to scalars as a JSON object of strings (the caller's):
 * numbers and booleans keep the text they were written with.  env: names
 * must be shell-safe (else: header names, no blanks or ':').  NULL when
 * anything is wrong (each problem reported).
 */
json_t	*spec_get_strmap(struct spec_diags *d, const struct spec_node *n,
	    const char *what, bool env);
/*
 * One of the words[0..nwords) (plain or quoted): *out its index.  Else
 * "WHAT must be a, b or c, not 'x'" with a did-you-mean, or meaning (what
 * each word does) as the hint; -1.
 */
int	spec_get_word(struct spec_diags *d, const struct spec_node *n,
	    const char *what, const char *const *words, size_t nwords,
	    const char *meaning, int *out);
/* on_failure of a task or a task step (load_tasks.c); -1 and a diagnostic */
int	spec_get_on_failure(struct spec_diags *d, const struct spec_node *n,
	    const char *what, enum spec_on_failure *out);
/* The key, of the two keys ka and kb of map, that was written last. */
const struct spec_node *spec_later_key(const struct spec_node *map,
	    const char *ka, const char *kb);

/*
 * Names of hosts, groups, services, systems, roles and tasks: letters,
 * digits, '.', '-' and '_', not starting with '.' or '-' (they become file
 * names, DNS labels and command arguments).
 */
bool	spec_name_valid(const char *s);
/* Free n refs and the array. */
void	spec_refs_free(struct spec_ref *refs, size_t n);

/*
 * Room for element n of arr, a model array of n elements: the model's
 * arrays have no capacity field, so the capacity is kept at the next
 * power of two of the count, which amortises growing all the same.  The
 * new element is zeroed.  SPEC_PUSH(arr, n) appends one and returns it.
 */
void	*spec_array_grow(void *arr, size_t n, size_t sz);
#define SPEC_PUSH(arr, n) ((arr) = spec_array_grow((arr), (n), \
	sizeof(*(arr))), &(arr)[(n)++])

void	spec_host_release(struct spec_host *);
void	spec_group_release(struct spec_group *);
void	spec_service_release(struct spec_service *);
void	spec_system_release(struct spec_system *);
void	spec_step_release(struct spec_step *);
void	spec_role_release(struct spec_role *);
void	spec_task_release(struct spec_task *);

/* Parse a YAML file of the repo and keep it in repo->files. NULL root when
 * missing (LR_ENOENT) or unparseable. */
int	spec_repo_parse_file(struct spec_repo *, const char *path,
	    const struct spec_node **root, struct spec_diags *,
	    struct lr_err *);

#endif
