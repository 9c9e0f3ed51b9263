/*
 * spec_repo_load: find the repo's files, parse each once, hand each to its
 * loader, sort every list by name, then check cross-references.  The file
 * layout is DESIGN.md §2; every *.yml under inventory/ is merged.
 */
#include <stdlib.h>
#include <string.h>

#include "spec-int.h"
#include "xalloc.h"

static bool
has_suffix(const char *s, const char *suf)
{
	size_t ls = strlen(s), lf = strlen(suf);

	return ls > lf && strcmp(s + ls - lf, suf) == 0;
}

int
spec_repo_parse_file(struct spec_repo *repo, const char *path,
    const struct spec_node **root, struct spec_diags *diags,
    struct lr_err *err)
{
	struct spec_file *f;
	char *buf;
	size_t len;
	int rc;

	*root = NULL;
	if ((rc = spec_source_read_max(repo->src, path, SPEC_FILE_MAX, &buf,
	    &len, err)) < 0) {
		if (rc == LR_ENOENT)
			return rc;
		if (rc == LR_ETOOBIG) {
			spec_diag_hint(spec_diag_pos(diags, NULL, path, 0, 0, 1,
			    "spec file %s", err->msg), "split it into smaller "
			    "files (every *.yml under inventory/ is merged) or "
			    "keep large data out of the specs; see "
			    "leura-spec(5), DESCRIPTION");
			lr_err_clear(err);
			repo->nbroken++;
			return LR_EINVAL;
		}
		/* a symlink out of the repo, a directory ...: a spec error */
		spec_diag_pos(diags, NULL, path, 0, 0, 1, "%s", err->msg);
		lr_err_clear(err);
		return LR_EINVAL;
	}
	if (spec_file_parse(path, buf, len, &f, diags) < 0 && f->root == NULL)
		repo->nbroken++;
	free(buf);
	*LR_ARRAY_PUSH(repo->files, repo->nfiles, repo->files_cap) = f;
	*root = f->root;
	return 0;
}

/* Parse an optional file; absent is fine. */
static int
load_optional(struct spec_repo *repo, const char *path,
    const struct spec_node **root, struct spec_diags *diags,
    struct lr_err *err)
{
	int rc = spec_repo_parse_file(repo, path, root, diags, err);

	if (rc == LR_ENOENT) {
		lr_err_clear(err);
		return 0;
	}
	return rc == LR_EINVAL ? 0 : rc;
}

#define CMP_NAME(type, tag) \
static int \
cmp_name_##tag(const void *a, const void *b) \
{ \
	return strcmp(((const type *)a)->name, ((const type *)b)->name); \
}
CMP_NAME(struct spec_host, hosts)
CMP_NAME(struct spec_group, groups)
CMP_NAME(struct spec_service, services)
CMP_NAME(struct spec_role, roles)
CMP_NAME(struct spec_task, tasks)
CMP_NAME(struct spec_system, systems)

#define SORT(what) do { if (repo->n##what > 1) qsort(repo->what, \
	repo->n##what, sizeof(*repo->what), cmp_name_##what); } while (0)

/*
 * List a spec directory.  A directory the repo may not use (a symlink
 * leading out of it) is a spec error, reported like a bad file; only a
 * failing source (I/O, git) is returned as an error.
 */
static int
list_dir(struct spec_repo *repo, const char *dir, char ***names, size_t *n,
    struct spec_diags *diags, struct lr_err *err)
{
	int rc;

	*names = NULL;
	*n = 0;
	if ((rc = spec_source_list(repo->src, dir, names, n, err)) == 0)
		return 0;
	if (rc != LR_EINVAL)
		return rc;
	spec_diag_hint(spec_diag_pos(diags, NULL, dir, 0, 0, 1, "%s",
	    err->msg), "spec directories must be inside the repo; replace "
	    "the symlink with the directory itself");
	lr_err_clear(err);
	repo->nbroken++;
	return 0;
}

static int
load_dir_files(struct spec_repo *repo, const char *dir, bool tasks,
    struct spec_diags *diags, struct lr_err *err)
{
	const struct spec_node *root;
	char **names, *path, *name;
	size_t n, i;
	int rc;

	if ((rc = list_dir(repo, dir, &names, &n, diags, err)) < 0)
		return rc;
	for (i = 0; i < n && rc == 0; i++) {
		if (!has_suffix(names[i], ".yml") &&
		    !has_suffix(names[i], ".yaml"))
			continue;
		path = lr_xasprintf("%s/%s", dir, names[i]);
		rc = spec_repo_parse_file(repo, path, &root, diags, err);
		if (rc == LR_EINVAL || rc == LR_ENOENT)
			rc = 0;
		else if (rc == 0 && tasks) {
			name = lr_xstrndup(names[i], strlen(names[i]) -
			    (has_suffix(names[i], ".yaml") ? 5 : 4));
			spec_load_task(repo, name, path, root, diags);
			free(name);
		} else if (rc == 0 && root != NULL)
			spec_load_inventory(repo, root, diags);
		free(path);
	}
	spec_strv_free(names, n);
	return rc;
}

/*
 * The type of roles/<name>, following a symlink as the files of a role are
 * followed (spec_source_resolve: inside the repo only).  A link that
 * leaves the repo, loops or leads nowhere is a spec error on its path:
 * left alone, the role would silently vanish and its services deploy with
 * no steps.  Returns 0 (*type set), or an LR_E* of the source.
 */
static int
role_dir_type(struct spec_repo *repo, const char *path,
    enum spec_ftype *type, struct spec_diags *diags, struct lr_err *err)
{
	char *real = NULL;
	int rc;

	if ((rc = repo->src->ops->stat(repo->src->ctx, path, type, err)) < 0 ||
	    *type != SPEC_FT_SYMLINK)
		return rc;
	if ((rc = spec_source_resolve(repo->src, path, &real, type,
	    err)) < 0) {
		if (rc != LR_EINVAL)
			return rc;
		spec_diag_hint(spec_diag_pos(diags, NULL, path, 0, 0, 1,
		    "%s", err->msg), "a role folder may be a symlink to a "
		    "folder inside the repo only; replace the symlink with "
		    "the folder itself");
		lr_err_clear(err);
		repo->nbroken++;
		*type = SPEC_FT_NONE;
		return 0;
	}
	if (*type == SPEC_FT_NONE) {
		spec_diag_hint(spec_diag_pos(diags, NULL, path, 0, 0, 1,
		    "role folder '%s' is a symlink to '%s', which does not "
		    "exist", path, real), "point the symlink at a folder of "
		    "the repo, or remove it");
		repo->nbroken++;
	}
	free(real);
	return 0;
}

static int
load_roles(struct spec_repo *repo, struct spec_diags *diags,
    struct lr_err *err)
{
	const struct spec_node *root;
	enum spec_ftype t;
	char **names, *path;
	size_t n, i;
	int rc;

	if ((rc = list_dir(repo, "roles", &names, &n, diags, err)) < 0)
		return rc;
	for (i = 0; i < n && rc == 0; i++) {
		path = lr_xasprintf("roles/%s", names[i]);
		rc = role_dir_type(repo, path, &t, diags, err);
		free(path);
		if (rc < 0 || t != SPEC_FT_DIR)
			continue;
		path = lr_xasprintf("roles/%s/role.yml", names[i]);
		rc = spec_repo_parse_file(repo, path, &root, diags, err);
		if (rc == LR_ENOENT) {
			spec_diag_hint(spec_diag_pos(diags, NULL, path, 0, 0, 1,
			    "role '%s' has no role.yml", names[i]),
			    "create %s, or remove the directory", path);
			lr_err_clear(err);
			rc = 0;
		} else if (rc == 0 || rc == LR_EINVAL) {
			spec_load_role(repo, names[i], root, diags);
			rc = 0;
		}
		free(path);
	}
	spec_strv_free(names, n);
	return rc;
}

static struct spec_repo *
repo_new(struct spec_source *src)
{
	struct spec_repo *repo = lr_xcalloc(1, sizeof(*repo));

	repo->src = src;
	repo->settings.defaults.timeout_ms = 10 * 60 * 1000;
	repo->settings.defaults.drift = SPEC_DRIFT_REPAIR;
	repo->settings.defaults.drift_interval_ms = 15 * 60 * 1000;
	return repo;
}

int
spec_settings_load(struct spec_source *src, struct spec_repo **out,
    struct spec_diags *diags, struct lr_err *err)
{
	struct spec_repo *repo = repo_new(src);
	const struct spec_node *root = NULL;
	size_t nerr0 = diags->nerrors;
	int rc;

	*out = repo;
	if ((rc = load_optional(repo, "leura.yml", &root, diags, err)) < 0)
		return rc;
	if (root)
		spec_load_settings(repo, root, diags);
	return diags->nerrors > nerr0 ? LR_EINVAL : 0;
}

int
spec_repo_load(struct spec_source *src, struct spec_repo **out,
    struct spec_diags *diags, struct lr_err *err)
{
	struct spec_repo *repo;
	const struct spec_node *root;
	size_t nerr0 = diags->nerrors;
	int rc;

	repo = repo_new(src);
	*out = repo;

	if ((rc = load_optional(repo, "leura.yml", &root, diags, err)) < 0)
		goto sort;
	if (root)
		spec_load_settings(repo, root, diags);
	if ((rc = load_dir_files(repo, "inventory", false, diags, err)) < 0)
		goto sort;
	if ((rc = load_roles(repo, diags, err)) < 0)
		goto sort;
	if ((rc = spec_repo_parse_file(repo, "services.yml", &root, diags,
	    err)) == LR_ENOENT) {
		lr_err_clear(err);
		spec_diag_hint(spec_diag_pos(diags, NULL, "services.yml", 0, 0,
		    1, "the repo has no services.yml"), "create services.yml "
		    "at the repo root (an empty mapping '{}' is fine), or pass "
		    "the repo with -C DIR");
	} else if (rc < 0 && rc != LR_EINVAL) {
		goto sort;
	} else if (root) {
		spec_load_services(repo, root, diags);
	}
	if ((rc = load_optional(repo, "systems.yml", &root, diags, err)) < 0)
		goto sort;
	if (root)
		spec_load_systems(repo, root, diags);
	if ((rc = load_dir_files(repo, "tasks", true, diags, err)) < 0)
		goto sort;
	if (repo->nhosts == 0 && diags->nerrors == nerr0)
		spec_diag_hint(spec_diag_pos(diags, NULL, "inventory", 0, 0, 1,
		    "the inventory defines no hosts"), "add hosts to "
		    "inventory/hosts.yml, see leura-inventory(5)");

	rc = 0;
sort:
	/* lookups binary-search the lists: sort them whatever happened */
	for (size_t i = 0; i < 3; i++) {
		json_decref(repo->load_idx[i]);
		repo->load_idx[i] = NULL;
	}
	SORT(hosts);
	SORT(groups);
	SORT(services);
	SORT(roles);
	SORT(tasks);
	SORT(systems);
	if (rc < 0)
		return rc;
	if (repo->nbroken == 0) {
		spec_check_services(repo, diags);
		spec_check_roles(repo, diags);
	}
	return diags->nerrors > nerr0 ? LR_EINVAL : 0;
}

void
spec_repo_free(struct spec_repo *repo)
{
	size_t i;

	if (repo == NULL)
		return;
	free(repo->settings.name);
	free(repo->settings.domain);
	free(repo->settings.etcd_endpoints);
	free(repo->settings.etcd_prefix);
	for (i = 0; i < repo->settings.nauto_apply; i++)
		free(repo->settings.auto_apply[i]);
	free(repo->settings.auto_apply);
	free(repo->settings.defaults.run_as);
	for (i = 0; i < repo->nhosts; i++)
		spec_host_release(&repo->hosts[i]);
	free(repo->hosts);
	for (i = 0; i < repo->ngroups; i++)
		spec_group_release(&repo->groups[i]);
	free(repo->groups);
	for (i = 0; i < repo->nservices; i++)
		spec_service_release(&repo->services[i]);
	free(repo->services);
	for (i = 0; i < repo->nroles; i++)
		spec_role_release(&repo->roles[i]);
	free(repo->roles);
	for (i = 0; i < repo->ntasks; i++)
		spec_task_release(&repo->tasks[i]);
	free(repo->tasks);
	for (i = 0; i < repo->nsystems; i++)
		spec_system_release(&repo->systems[i]);
	free(repo->systems);
	for (i = 0; i < 3; i++)
		json_decref(repo->load_idx[i]);
	for (i = 0; i < repo->nfiles; i++)
		spec_file_free(repo->files[i]);
	free(repo->files);
	free(repo);
}

bool
spec_name_valid(const char *s)
{
	const char *p;

	if (*s == '\0' || *s == '.' || *s == '-')
		return false;
	for (p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' ||
		    *p == '_'))
			return false;
	return true;
}

void *
spec_array_grow(void *arr, size_t n, size_t sz)
{
	if (n == 0 || (n & (n - 1)) == 0)
		arr = lr_xrealloc(arr, (n ? 2 * n : 1) * sz);
	memset((char *)arr + n * sz, 0, sz);
	return arr;
}

void
spec_refs_free(struct spec_ref *refs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(refs[i].name);
	free(refs);
}

/* ---- lookups ---- */

#define FIND(type, arr, n, name) do {					\
	size_t lo = 0, hi = (n);					\
	while (lo < hi) {						\
		size_t mid = lo + (hi - lo) / 2;			\
		int c = strcmp((name), (arr)[mid].name);		\
		if (c == 0)						\
			return &(arr)[mid];				\
		if (c < 0)						\
			hi = mid;					\
		else							\
			lo = mid + 1;					\
	}								\
	return NULL;							\
} while (0)

const struct spec_host *
spec_repo_find_host(const struct spec_repo *r, const char *name)
{
	FIND(struct spec_host, r->hosts, r->nhosts, name);
}

const struct spec_group *
spec_repo_find_group(const struct spec_repo *r, const char *name)
{
	FIND(struct spec_group, r->groups, r->ngroups, name);
}

const struct spec_service *
spec_repo_find_service(const struct spec_repo *r, const char *name)
{
	FIND(struct spec_service, r->services, r->nservices, name);
}

const struct spec_role *
spec_repo_find_role(const struct spec_repo *r, const char *name)
{
	FIND(struct spec_role, r->roles, r->nroles, name);
}

const struct spec_task *
spec_repo_find_task(const struct spec_repo *r, const char *name)
{
	FIND(struct spec_task, r->tasks, r->ntasks, name);
}

bool
spec_host_in_group(const struct spec_repo *r, const struct spec_host *h,
    const char *group)
{
	const struct spec_group *g;
	size_t i;

	if (strcmp(group, "all") == 0)
		return true;
	for (i = 0; i < h->ngroups; i++)
		if (strcmp(h->groups[i].name, group) == 0)
			return true;
	if ((g = spec_repo_find_group(r, group)) == NULL)
		return false;
	for (i = 0; i < g->nhosts; i++)
		if (strcmp(g->hosts[i].name, h->name) == 0)
			return true;
	return false;
}

json_t *
spec_host_vars(const struct spec_repo *r, const struct spec_host *h)
{
	json_t *vars = json_object();
	size_t i;

	/* groups are sorted by name, and 'all' applies first */
	for (i = 0; i < r->ngroups; i++)
		if (strcmp(r->groups[i].name, "all") == 0 && r->groups[i].vars)
			json_object_update(vars, r->groups[i].vars);
	for (i = 0; i < r->ngroups; i++) {
		if (strcmp(r->groups[i].name, "all") == 0 ||
		    r->groups[i].vars == NULL)
			continue;
		if (spec_host_in_group(r, h, r->groups[i].name))
			json_object_update(vars, r->groups[i].vars);
	}
	if (h->vars)
		json_object_update(vars, h->vars);
	return vars;
}

static const char *const step_kinds[] = {
	"script", "file", "http", "approval", "use"
};
static const char *const phases[] = {
	"converge", "validate", "turndown", "task"
};

const char *
spec_step_kind_name(enum spec_step_kind k)
{
	return (size_t)k < sizeof(step_kinds) / sizeof(*step_kinds) ?
	    step_kinds[k] : "?";
}

const char *
spec_phase_name(enum spec_phase p)
{
	return (size_t)p < sizeof(phases) / sizeof(*phases) ? phases[p] : "?";
}
