/*
 * Tests of load_services.c: leura.yml, inventory, services.yml and
 * systems.yml as loaded by spec_repo_load() from real repos in temp dirs.
 *
 * The bad-input table is data: each directory under
 * specs/tests/cases/services/ is a tiny repo, and <name>.expect beside it
 * holds the exact diagnostics (sorted, as spec_diags_print() prints them).
 * Set LEURA_UPDATE_EXPECT=1 to rewrite the .expect files from the output,
 * then review the diff.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "spec.h"
#include "xalloc.h"

/* ---- helpers ---- */

/* A new temp dir; the caller removes it with rmtree() and frees it. */
static char *
tmprepo(void)
{
	char *dir = lr_xstrdup("/tmp/leura-test-services-XXXXXX");

	assert_non_null(mkdtemp(dir));
	return dir;
}

/* Write text to dir/path, creating the directories on the way. */
static void
put(const char *dir, const char *path, const char *text)
{
	char *full = lr_xasprintf("%s/%s", dir, path), *p;
	FILE *fp;

	for (p = full + strlen(dir) + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		if (mkdir(full, 0755) < 0)
			assert_true(access(full, F_OK) == 0);
		*p = '/';
	}
	assert_non_null(fp = fopen(full, "w"));
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
	free(full);
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void
rmtree(char *dir)
{
	assert_int_equal(nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
	free(dir);
}

struct loaded {
	struct spec_source *src;
	struct spec_repo *repo;
	struct spec_diags diags;
	int	 rc;
};

static void
load(const char *dir, struct loaded *l)
{
	struct lr_err err = { 0 };

	spec_diags_init(&l->diags);
	assert_int_equal(spec_source_dir_new(dir, &l->src, &err), 0);
	l->rc = spec_repo_load(l->src, &l->repo, &l->diags, &err);
	assert_true(l->rc == 0 || l->rc == LR_EINVAL);
	spec_diags_sort(&l->diags);
}

static void
unload(struct loaded *l)
{
	spec_repo_free(l->repo);
	spec_source_free(l->src);
	spec_diags_release(&l->diags);
}

/* The diagnostics as printed; the caller frees. */
static char *
diag_text(const struct spec_diags *d)
{
	char *s = NULL;
	size_t len = 0;
	FILE *fp;

	assert_non_null(fp = open_memstream(&s, &len));
	spec_diags_print(d, fp, 0);
	assert_int_equal(fclose(fp), 0);
	return s;
}

/* Load a repo made of (path, text) pairs ending with NULL. */
static char *
make_repo(const char *path, ...)
{
	char *dir = tmprepo();
	const char *p, *t;
	va_list ap;

	va_start(ap, path);
	for (p = path; p != NULL; p = va_arg(ap, const char *)) {
		t = va_arg(ap, const char *);
		put(dir, p, t);
	}
	va_end(ap);
	return dir;
}

static void
assert_clean(const struct loaded *l)
{
	char *text;

	if (l->diags.n != 0) {
		text = diag_text(&l->diags);
		print_error("unexpected diagnostics:\n%s", text);
		free(text);
		fail();
	}
	assert_int_equal(l->rc, 0);
}

static const char *hosts_yml =
    "hosts:\n"
    "  web1: {address: 192.0.2.11, groups: [frontend], vars: {zone: a}}\n"
    "  web2: {groups: frontend, vars: {zone: b}}\n"
    "  db1: {groups: [backend, core]}\n"
    "groups:\n"
    "  frontend: {vars: {http_port: 8080}}\n";

/* ---- the model ---- */

static void
test_spec_load_services__num_instances_all(void **state)
{
	/* 'all' and an absent key both mean every host: -1 */
	char *dir = make_repo("inventory/hosts.yml", hosts_yml,
	    "services.yml", "web: {num_instances: all}\n"
	    "db: {num_instances: 3}\nnone: {num_instances: 0}\ncache:\n",
	    NULL);
	const struct spec_service *s;
	struct loaded l;

	load(dir, &l);
	assert_clean(&l);
	assert_int_equal(l.repo->nservices, 4);
	assert_non_null(s = spec_repo_find_service(l.repo, "web"));
	assert_int_equal(s->num_instances, -1);
	assert_non_null(s->num_instances_node);
	assert_int_equal(s->num_instances_node->line, 1);
	assert_int_equal(spec_repo_find_service(l.repo, "db")->num_instances,
	    3);
	assert_int_equal(spec_repo_find_service(l.repo,
	    "none")->num_instances, 0);
	assert_non_null(s = spec_repo_find_service(l.repo, "cache"));
	assert_int_equal(s->num_instances, -1);
	assert_null(s->num_instances_node);
	assert_string_equal(s->scheduling_group.name, "all");
	assert_null(s->scheduling_group.node);
	assert_int_equal(json_array_size(s->containers), 0);
	unload(&l);
	rmtree(dir);
}

static void
test_spec_load_services__batches_percent(void **state)
{
	char *dir = make_repo("inventory/hosts.yml", hosts_yml,
	    "services.yml", "web:\n  rollout: {batches: [1, 10%, \"100%\"]}\n"
	    "db:\n  rollout: {max_parallel: 2}\n", NULL);
	const struct spec_service *s;
	struct loaded l;

	load(dir, &l);
	assert_clean(&l);
	assert_non_null(s = spec_repo_find_service(l.repo, "web"));
	assert_int_equal(s->nbatches, 3);
	assert_int_equal(s->batches[0].value, 1);
	assert_false(s->batches[0].percent);
	assert_int_equal(s->batches[1].value, 10);
	assert_true(s->batches[1].percent);
	assert_int_equal(s->batches[2].value, 100);
	assert_true(s->batches[2].percent);
	assert_int_equal(s->max_parallel, 0);
	assert_non_null(s = spec_repo_find_service(l.repo, "db"));
	assert_int_equal(s->max_parallel, 2);
	assert_int_equal(s->nbatches, 0);
	unload(&l);
	rmtree(dir);
}

static void
test_spec_load_services__params_json(void **state)
{
	char *dir = make_repo("inventory/hosts.yml", hosts_yml,
	    "services.yml", "web:\n  params:\n    port: 8080\n    tls: true\n"
	    "    names: [a, \"b\"]\n    ratio: 0.5\n    none: ~\n"
	    "db: {}\n", NULL);
	json_t *want;
	struct loaded l;

	load(dir, &l);
	assert_clean(&l);
	want = json_loads("{\"port\": 8080, \"tls\": true, \"names\": [\"a\", "
	    "\"b\"], \"ratio\": 0.5, \"none\": null}", 0, NULL);
	assert_non_null(want);
	assert_true(json_equal(want,
	    spec_repo_find_service(l.repo, "web")->params));
	json_decref(want);
	/* absent params: an empty object, never NULL */
	assert_true(json_is_object(spec_repo_find_service(l.repo,
	    "db")->params));
	assert_int_equal(json_object_size(spec_repo_find_service(l.repo,
	    "db")->params), 0);
	unload(&l);
	rmtree(dir);
}

static void
test_spec_load_services__minicluster_attrs(void **state)
{
	char *dir = make_repo("inventory/hosts.yml", hosts_yml,
	    "services.yml", "web:\n  service_credentials:\n"
	    "    - {name: web, enable_client: false, extra_san: [www]}\n"
	    "  containers:\n    - name: app\n      image: app:1\n"
	    "      volumes: {/srv: /data}\n      args: run\n", NULL);
	const struct spec_service *s;
	struct loaded l;

	load(dir, &l);
	assert_clean(&l);
	assert_non_null(s = spec_repo_find_service(l.repo, "web"));
	assert_int_equal(json_array_size(s->service_credentials), 1);
	assert_true(json_is_false(json_object_get(json_array_get(
	    s->service_credentials, 0), "enable_client")));
	assert_string_equal(json_string_value(json_object_get(json_array_get(
	    s->containers, 0), "image")), "app:1");
	assert_int_equal(json_array_size(s->public_endpoints), 0);
	unload(&l);
	rmtree(dir);
}

static void
test_spec_load_inventory__implicit_groups(void **state)
{
	char *dir = make_repo("inventory/hosts.yml", hosts_yml,
	    "services.yml", "{}\n", NULL);
	const struct spec_group *g;
	const struct spec_host *h;
	struct loaded l;

	load(dir, &l);
	assert_clean(&l);
	/* all, backend, core, frontend: sorted */
	assert_int_equal(l.repo->ngroups, 4);
	assert_string_equal(l.repo->groups[0].name, "all");
	assert_string_equal(l.repo->groups[3].name, "frontend");
	assert_non_null(g = spec_repo_find_group(l.repo, "all"));
	assert_null(g->node);
	assert_null(g->vars);
	/* named by db1 only: implicit, at the first reference */
	assert_non_null(g = spec_repo_find_group(l.repo, "core"));
	assert_null(g->vars);
	assert_non_null(g->node);
	assert_int_equal(g->node->line, 4);
	assert_non_null(g = spec_repo_find_group(l.repo, "frontend"));
	assert_int_equal(json_integer_value(json_object_get(g->vars,
	    "http_port")), 8080);
	assert_int_equal(g->node->line, 6);
	assert_non_null(h = spec_repo_find_host(l.repo, "web2"));
	assert_null(h->address);
	assert_int_equal(h->ngroups, 1);
	assert_string_equal(h->groups[0].name, "frontend");
	assert_true(spec_host_in_group(l.repo, h, "frontend"));
	assert_true(spec_host_in_group(l.repo, h, "all"));
	assert_false(spec_host_in_group(l.repo, h, "core"));
	assert_string_equal(spec_repo_find_host(l.repo, "web1")->address,
	    "192.0.2.11");
	unload(&l);
	rmtree(dir);
}

static void
test_spec_load_inventory__merge_files(void **state)
{
	/* a.yml names 'frontend', b.yml defines it and adds hosts */
	char *dir = make_repo("inventory/a.yml",
	    "hosts:\n  web1: {groups: [frontend]}\n",
	    "inventory/b.yml", "hosts:\n  db1:\n  web2:\n"
	    "groups:\n  frontend:\n    hosts: [web2]\n    vars: {port: 1}\n"
	    "  all: {vars: {dc: east}}\n",
	    "services.yml", "web: {scheduling_group: frontend}\n", NULL);
	const struct spec_group *g;
	struct loaded l;

	load(dir, &l);
	assert_clean(&l);
	assert_int_equal(l.repo->nhosts, 3);
	assert_string_equal(l.repo->hosts[0].name, "db1");
	assert_string_equal(l.repo->hosts[1].name, "web1");
	assert_string_equal(l.repo->hosts[2].name, "web2");
	assert_int_equal(l.repo->ngroups, 2);
	assert_non_null(g = spec_repo_find_group(l.repo, "frontend"));
	assert_string_equal(g->node->file->path, "inventory/b.yml");
	assert_int_equal(g->nhosts, 1);
	assert_true(spec_host_in_group(l.repo, &l.repo->hosts[1],
	    "frontend"));
	assert_true(spec_host_in_group(l.repo, &l.repo->hosts[2],
	    "frontend"));
	assert_false(spec_host_in_group(l.repo, &l.repo->hosts[0],
	    "frontend"));
	/* a defined 'all' carries vars and a node */
	assert_non_null(g = spec_repo_find_group(l.repo, "all"));
	assert_non_null(g->node);
	assert_string_equal(json_string_value(json_object_get(g->vars, "dc")),
	    "east");
	unload(&l);
	rmtree(dir);
}

static void
test_spec_host_vars__precedence(void **state)
{
	/* all < groups in sorted order < host */
	char *dir = make_repo("inventory/hosts.yml",
	    "groups:\n  all: {vars: {zone: x, a: 1, k: all}}\n"
	    "  zeta: {vars: {k: zeta}}\n  alpha: {vars: {k: alpha, zone: y}}\n"
	    "hosts:\n  h1: {groups: [zeta, alpha], vars: {zone: z}}\n"
	    "  h2: {groups: [alpha]}\n  h3:\n",
	    "services.yml", "{}\n", NULL);
	json_t *v;
	struct loaded l;

	load(dir, &l);
	assert_clean(&l);
	v = spec_host_vars(l.repo, spec_repo_find_host(l.repo, "h1"));
	assert_string_equal(json_string_value(json_object_get(v, "zone")),
	    "z");
	assert_string_equal(json_string_value(json_object_get(v, "k")),
	    "zeta");
	assert_int_equal(json_integer_value(json_object_get(v, "a")), 1);
	json_decref(v);
	v = spec_host_vars(l.repo, spec_repo_find_host(l.repo, "h2"));
	assert_string_equal(json_string_value(json_object_get(v, "zone")),
	    "y");
	assert_string_equal(json_string_value(json_object_get(v, "k")),
	    "alpha");
	json_decref(v);
	v = spec_host_vars(l.repo, spec_repo_find_host(l.repo, "h3"));
	assert_string_equal(json_string_value(json_object_get(v, "zone")),
	    "x");
	assert_string_equal(json_string_value(json_object_get(v, "k")),
	    "all");
	json_decref(v);
	unload(&l);
	rmtree(dir);
}

static void
test_spec_check_services__default_roles(void **state)
{
	char *dir = make_repo("inventory/hosts.yml", hosts_yml,
	    "roles/web/role.yml", "converge: []\n",
	    "services.yml", "web:\napi:\ndb: {roles: web}\nnone: {roles: []}\n",
	    NULL);
	const struct spec_service *s;
	struct loaded l;

	load(dir, &l);
	assert_clean(&l);
	assert_non_null(s = spec_repo_find_service(l.repo, "web"));
	assert_true(s->roles_defaulted);
	assert_int_equal(s->nroles, 1);
	assert_string_equal(s->roles[0].name, "web");
	assert_non_null(s = spec_repo_find_service(l.repo, "api"));
	assert_true(s->roles_defaulted);
	assert_int_equal(s->nroles, 0);
	assert_non_null(s = spec_repo_find_service(l.repo, "db"));
	assert_false(s->roles_defaulted);
	assert_int_equal(s->nroles, 1);
	assert_string_equal(s->roles[0].name, "web");
	assert_non_null(s = spec_repo_find_service(l.repo, "none"));
	assert_false(s->roles_defaulted);
	assert_int_equal(s->nroles, 0);
	unload(&l);
	rmtree(dir);
}

static void
test_spec_load_settings__defaults_and_drift(void **state)
{
	char *dir = make_repo("inventory/hosts.yml", hosts_yml,
	    "leura.yml", "name: shop\ndomain: example.org\n"
	    "description: the shop\ndefaults:\n  timeout: 5m\n  retries: 3\n"
	    "  run_as: deploy\n  drift: report\n  drift_interval: 1h\n",
	    "services.yml", "web:\ndb: {drift: repair}\n", NULL);
	const struct spec_defaults *df;
	struct loaded l;

	load(dir, &l);
	assert_clean(&l);
	assert_string_equal(l.repo->settings.name, "shop");
	assert_string_equal(l.repo->settings.domain, "example.org");
	assert_non_null(l.repo->settings.node);
	df = &l.repo->settings.defaults;
	assert_int_equal(df->timeout_ms, 5 * 60 * 1000);
	assert_int_equal(df->retries, 3);
	assert_string_equal(df->run_as, "deploy");
	assert_int_equal(df->drift, SPEC_DRIFT_REPORT);
	assert_int_equal(df->drift_interval_ms, 3600 * 1000);
	assert_int_equal(spec_repo_find_service(l.repo, "web")->drift,
	    SPEC_DRIFT_REPORT);
	assert_int_equal(spec_repo_find_service(l.repo, "db")->drift,
	    SPEC_DRIFT_REPAIR);
	unload(&l);
	rmtree(dir);
}

static void
test_spec_load_settings__absent(void **state)
{
	char *dir = make_repo("inventory/hosts.yml", hosts_yml,
	    "services.yml", "web:\n", NULL);
	struct loaded l;

	load(dir, &l);
	assert_clean(&l);
	assert_null(l.repo->settings.name);
	assert_null(l.repo->settings.node);
	assert_int_equal(l.repo->settings.defaults.timeout_ms, 600000);
	assert_int_equal(spec_repo_find_service(l.repo, "web")->drift,
	    SPEC_DRIFT_REPAIR);
	unload(&l);
	rmtree(dir);
}

static void
test_spec_load_systems__refs(void **state)
{
	char *dir = make_repo("inventory/hosts.yml", hosts_yml,
	    "services.yml", "web:\ndb:\n",
	    "systems.yml", "shop:\n  description: the shop\n"
	    "  services: [web, db]\n  systems: [base]\nbase: {services: db}\n"
	    "empty:\n", NULL);
	const struct spec_system *sy;
	struct loaded l;

	load(dir, &l);
	assert_clean(&l);
	assert_int_equal(l.repo->nsystems, 3);
	sy = &l.repo->systems[2];
	assert_string_equal(sy->name, "shop");
	assert_string_equal(sy->description, "the shop");
	assert_int_equal(sy->nservices, 2);
	assert_string_equal(sy->services[1].name, "db");
	assert_int_equal(sy->nsystems, 1);
	assert_string_equal(sy->systems[0].name, "base");
	assert_int_equal(l.repo->systems[0].nservices, 1);
	assert_int_equal(l.repo->systems[1].nservices, 0);
	unload(&l);
	rmtree(dir);
}

static void
test_spec_check_services__cycle_once(void **state)
{
	/* two cycles through db: each back edge reported once */
	char *dir = make_repo("inventory/hosts.yml", hosts_yml,
	    "services.yml", "api: {depends_on: [db]}\ndb: {depends_on: [api, "
	    "cache]}\ncache: {depends_on: db}\nweb: {depends_on: [api]}\n",
	    NULL);
	struct loaded l;
	char *text;

	load(dir, &l);
	assert_int_equal(l.rc, LR_EINVAL);
	text = diag_text(&l.diags);
	assert_int_equal(l.diags.n, 2);
	assert_non_null(strstr(text, "depends_on cycle: api -> db -> api"));
	assert_non_null(strstr(text,
	    "depends_on cycle: db -> cache -> db"));
	free(text);
	unload(&l);
	rmtree(dir);
}

/* ---- any input shape: errors, never a crash or a leak ---- */

static void
test_spec_repo_load__bad_shapes(void **state)
{
	static const struct {
		const char *path, *text;
	} shapes[] = {
		{ "leura.yml", "[]\n" },
		{ "leura.yml", "defaults: 3\n" },
		{ "leura.yml", "name: [a]\ndefaults: {timeout: x, retries: "
		    "101, drift: fix, run_as: {}, drift_interval: [1]}\n" },
		{ "inventory/x.yml", "- - 1\n" },
		{ "inventory/x.yml", "hosts: x\ngroups: [a]\n" },
		{ "inventory/x.yml", "hosts: {a: [1], b: 3, c: {groups: "
		    "[[x]]}}\n" },
		{ "inventory/x.yml", "hosts: {a: {groups: {x: 1}, vars: [1], "
		    "address: {}}}\n" },
		{ "inventory/x.yml", "groups: {g: [1], h: {hosts: {a: 1}, "
		    "vars: x}, all: {hosts: [web1]}}\n" },
		{ "inventory/x.yml", "hosts: {\"bad name\": , \"-x\": }\n" },
		{ "inventory/x.yml", "hosts: {? [a] : 1}\n" },
		{ "services.yml", "[]\n" },
		{ "services.yml", "- - []\n" },
		{ "services.yml", "web: 3\ndb: []\n" },
		{ "services.yml", "web: {roles: {a: 1}, depends_on: [[a]], "
		    "params: [1], rollout: [1], drift: [x]}\n" },
		{ "services.yml", "web: {rollout: {batches: [[1], {a: 1}, ~, "
		    "0, -1, 0%, 101%, x%, 5%%]}}\n" },
		{ "services.yml", "web: {rollout: {batches: 3, max_parallel: "
		    "0}}\n" },
		{ "services.yml", "web: {containers: [[], 1, ~, {name: [a], "
		    "image: ~, volumes: [[1], x, \":a\", \"a:\"], env: [1], "
		    "args: {a: 1}, port: x}]}\n" },
		{ "services.yml", "web: {containers: [{name: a, image: b, "
		    "volumes: {a: [1]}, env: {A: {b: 1}}}]}\n" },
		{ "services.yml", "web: {service_credentials: {a: 1}, "
		    "monitoring_endpoints: x, public_endpoints: [{}]}\n" },
		{ "services.yml", "web: {service_credentials: [{name: a, "
		    "extra_san: x, enable_client: 2, client_cert_mode: "
		    "[1]}]}\n" },
		{ "services.yml", "web: {num_instances: [1], scheduling_group: "
		    "{}, spread_by: [], description: []}\n" },
		{ "services.yml", "web: {num_instances: -1}\nall: {}\n" },
		{ "services.yml",
		    "web: {num_instances: 99999999999999999999}\n" },
		{ "services.yml", "a: &x {depends_on: [b]}\nb: *x\n" },
		{ "systems.yml", "[]\n" },
		{ "systems.yml",
		    "a: 1\nb: {services: {x: 1}, systems: [[1]]}\n" },
		{ "systems.yml", "a: {systems: [a, b]}\nb: {systems: a, "
		    "services: [nope]}\n" },
	};
	size_t i;

	for (i = 0; i < sizeof(shapes) / sizeof(*shapes); i++) {
		char *dir = make_repo("inventory/hosts.yml", hosts_yml,
		    "services.yml", "{}\n", NULL);
		struct loaded l;

		put(dir, shapes[i].path, shapes[i].text);
		load(dir, &l);
		if (l.rc != LR_EINVAL || l.diags.nerrors == 0)
			print_error("no error for %s: %s", shapes[i].path,
			    shapes[i].text);
		assert_int_equal(l.rc, LR_EINVAL);
		unload(&l);
		rmtree(dir);
	}
}

/* ---- the case table ---- */

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *
slurp(const char *path)
{
	char *s = NULL;
	long n;
	FILE *fp;

	if ((fp = fopen(path, "r")) == NULL)
		return NULL;
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	assert_true((n = ftell(fp)) >= 0);
	rewind(fp);
	s = lr_xmalloc((size_t)n + 1);
	assert_int_equal(fread(s, 1, (size_t)n, fp), (size_t)n);
	s[n] = '\0';
	fclose(fp);
	return s;
}

/* Returns true when the case's output matches its .expect file. */
static bool
run_case(const char *casedir, const char *name, bool update)
{
	char *dir = lr_xasprintf("%s/%s", casedir, name);
	char *expath = lr_xasprintf("%s/%s.expect", casedir, name);
	char *got, *want;
	struct loaded l;
	bool ok;
	FILE *fp;

	load(dir, &l);
	got = diag_text(&l.diags);
	want = slurp(expath);
	ok = want != NULL && strcmp(got, want) == 0;
	/* no diagnostics must mean success, and errors failure */
	if (ok && (l.diags.nerrors == 0) != (l.rc == 0)) {
		print_error("case %s: status %d with %zu errors\n", name, l.rc,
		    l.diags.nerrors);
		ok = false;
	}
	if (!ok && update) {
		assert_non_null(fp = fopen(expath, "w"));
		fputs(got, fp);
		assert_int_equal(fclose(fp), 0);
		print_message("case %s: rewrote %s\n", name, expath);
	} else if (!ok) {
		print_error("case %s: diagnostics differ\n--- expected (%s)\n"
		    "%s--- got\n%s---\n", name, expath, want ? want :
		    "(missing)\n", got);
	}
	free(got);
	free(want);
	unload(&l);
	free(dir);
	free(expath);
	return ok || update;
}

/* ---- limits ---- */

#define HOSTS "hosts:\n  web1: {address: 192.0.2.11}\n"

/*
 * A spec file over SPEC_FILE_MAX is refused by name and limit, before it
 * is read (a sparse file: reading it would take 16 MiB of zeros).
 */
static void
test_spec_repo_load__file_too_big(void **state)
{
	char *dir = tmprepo(), *path, *text;
	struct loaded l;
	int fd;

	put(dir, "inventory/hosts.yml", HOSTS);
	put(dir, "services.yml", "web: {}\n");
	path = lr_xasprintf("%s/inventory/big.yml", dir);
	assert_true((fd = open(path, O_WRONLY | O_CREAT, 0644)) >= 0);
	assert_int_equal(ftruncate(fd, (off_t)SPEC_FILE_MAX + 1), 0);
	close(fd);
	load(dir, &l);
	text = diag_text(&l.diags);
	assert_int_equal(l.rc, LR_EINVAL);
	assert_non_null(strstr(text, "inventory/big.yml: error: spec file "
	    "'inventory/big.yml' is 16.0 MiB (16777217 bytes), over the 16 MiB "
	    "limit\nhint: split it into smaller files"));
	free(text);
	unload(&l);
	/* at the limit, it is read (and is not YAML: NULs) */
	assert_int_equal(truncate(path, (off_t)SPEC_FILE_MAX), 0);
	load(dir, &l);
	text = diag_text(&l.diags);
	assert_null(strstr(text, "over the 16 MiB limit"));
	assert_non_null(strstr(text, "inventory/big.yml:1:1: error: invalid "
	    "YAML"));
	free(text);
	unload(&l);
	free(path);
	rmtree(dir);
}

/* A stream that counts the writes that reach it (unbuffered). */
struct counted {
	size_t	 writes, bytes;
	struct lr_buf text;
};

static ssize_t
counted_write(void *cookie, const char *buf, size_t n)
{
	struct counted *c = cookie;

	c->writes++;
	c->bytes += n;
	lr_buf_add(&c->text, buf, n);
	return (ssize_t)n;
}

/*
 * A 5 MB key: each diagnostic reaches the stream in one write, with the
 * key cut to its head and tail, and the source line to a window around
 * the caret (stderr is unbuffered: it used to take a write per byte).
 */
static void
test_spec_diags_print__huge_key(void **state)
{
	static const size_t keylen = 5 * 1024 * 1024;
	cookie_io_functions_t io = { NULL, counted_write, NULL, NULL };
	struct counted c = { 0, 0, LR_BUF_INIT };
	struct lr_buf yml = LR_BUF_INIT;
	char *dir = tmprepo(), *key;
	struct loaded l;
	FILE *fp;

	key = lr_xmalloc(keylen + 1);
	memset(key, 'k', keylen);
	key[keylen] = '\0';
	lr_buf_printf(&yml, "web:\n  ? %s\n  : 1\ndb:\n  ? %s\n  : 2\n", key,
	    key);
	put(dir, "inventory/hosts.yml", HOSTS);
	put(dir, "services.yml", yml.s);
	load(dir, &l);
	assert_int_equal(l.diags.n, 2);
	assert_non_null(fp = fopencookie(&c, "w", io));
	assert_int_equal(setvbuf(fp, NULL, _IONBF, 0), 0);
	assert_int_equal(spec_diags_print(&l.diags, fp, 0), 2);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(c.writes, 2);
	assert_true(c.bytes < 2 * 1024);
	assert_non_null(strstr(c.text.s, "services.yml:2:5: error: unknown "
	    "key 'kkkk"));
	assert_non_null(strstr(c.text.s, "kkkk[... 5242"));
	assert_non_null(strstr(c.text.s, " bytes cut ...]kkkk"));
	assert_non_null(strstr(c.text.s, "' in service 'web'\n"));
	assert_non_null(strstr(c.text.s, "kkk...\n      |     ^~~"));
	unload(&l);
	lr_buf_release(&c.text);
	lr_buf_release(&yml);
	free(key);
	rmtree(dir);
}

static void
test_spec_repo_load__cases(void **state)
{
	const char *src = getenv("LEURA_SRC");
	const char *upd = getenv("LEURA_UPDATE_EXPECT");
	char *casedir, *p, **names = NULL;
	size_t n = 0, cap = 0, i, failed = 0;
	struct dirent *de;
	struct stat st;
	DIR *dp;

	if (src == NULL) {
		print_error("LEURA_SRC is not set: run the test through "
		    "ctest\n");
		fail();
	}
	casedir = lr_xasprintf("%s/specs/tests/cases/services", src);
	assert_non_null(dp = opendir(casedir));
	while ((de = readdir(dp)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		p = lr_xasprintf("%s/%s", casedir, de->d_name);
		if (stat(p, &st) == 0 && S_ISDIR(st.st_mode))
			*LR_ARRAY_PUSH(names, n, cap) = lr_xstrdup(de->d_name);
		free(p);
	}
	closedir(dp);
	qsort(names, n, sizeof(*names), cmp_str);
	assert_true(n >= 20);
	for (i = 0; i < n; i++) {
		if (!run_case(casedir, names[i], upd && *upd == '1'))
			failed++;
		free(names[i]);
	}
	free(names);
	free(casedir);
	if (failed)
		print_error("%zu of %zu cases failed\n", failed, n);
	assert_int_equal(failed, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_load_services__num_instances_all),
		cmocka_unit_test(test_spec_load_services__batches_percent),
		cmocka_unit_test(test_spec_load_services__params_json),
		cmocka_unit_test(test_spec_load_services__minicluster_attrs),
		cmocka_unit_test(test_spec_load_inventory__implicit_groups),
		cmocka_unit_test(test_spec_load_inventory__merge_files),
		cmocka_unit_test(test_spec_host_vars__precedence),
		cmocka_unit_test(test_spec_check_services__default_roles),
		cmocka_unit_test(test_spec_load_settings__defaults_and_drift),
		cmocka_unit_test(test_spec_load_settings__absent),
		cmocka_unit_test(test_spec_load_systems__refs),
		cmocka_unit_test(test_spec_check_services__cycle_once),
		cmocka_unit_test(test_spec_repo_load__bad_shapes),
		cmocka_unit_test(test_spec_repo_load__file_too_big),
		cmocka_unit_test(test_spec_diags_print__huge_key),
		cmocka_unit_test(test_spec_repo_load__cases),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
