/*
 * Unit tests of compile (specs -> placement and per-host desired state) on
 * small repos written to a temp dir, and of the pure diff of two compiled
 * states.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "compile.h"
#include "diff.h"
#include "hash.h"
#include "xalloc.h"

struct fx {
	char	 dir[64];
	struct spec_source *src;
	struct spec_repo *repo;
	struct spec_diags diags;
	struct rec_compiled comp;
	int	 rc;
};

static void
write_file(const char *dir, const char *path, const char *text)
{
	char *p = lr_xasprintf("%s/%s", dir, path), *slash;
	FILE *fp;

	for (slash = strchr(p + strlen(dir) + 1, '/'); slash;
	    slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		mkdir(p, 0755);
		*slash = '/';
	}
	assert_non_null(fp = fopen(p, "w"));
	fputs(text, fp);
	fclose(fp);
	free(p);
}

static const char hosts_yml[] =
    "hosts:\n"
    "  a1: {address: 10.0.0.1, groups: [app], vars: {zone: x}}\n"
    "  a2: {address: 10.0.0.2, groups: [app], vars: {zone: y}}\n"
    "  d1: {groups: [data]}\n";

static const char services_yml[] =
    "api:\n"
    "  scheduling_group: app\n"
    "  depends_on: [db]\n"
    "  params: {port: 9000}\n"
    "db:\n"
    "  scheduling_group: data\n"
    "  num_instances: 1\n";

static const char api_role[] =
    "params: {port: 80, mode: fast}\n"
    "converge:\n"
    "  - name: config\n"
    "    file: {src: files/api.conf, dest: /etc/api.conf, mode: \"0640\","
    " template: true}\n"
    "  - name: restart\n"
    "    script: systemctl restart api\n"
    "    when_changed: [config]\n"
    "validate:\n"
    "  - name: health\n"
    "    script: curl -fsS http://{{ host.address }}:{{ params.port }}/\n"
    "turndown:\n"
    "  - name: stop\n"
    "    script: systemctl stop api\n";

static void
load(struct fx *fx, unsigned flags)
{
	struct lr_err err;

	lr_err_clear(&err);
	spec_diags_init(&fx->diags);
	assert_int_equal(spec_source_dir_new(fx->dir, &fx->src, &err), 0);
	fx->rc = spec_repo_load(fx->src, &fx->repo, &fx->diags, &err);
	if (fx->rc == 0)
		fx->rc = rec_compile(fx->repo, flags, 1700000000, &fx->comp,
		    &fx->diags);
	spec_diags_sort(&fx->diags);
}

static void
release(struct fx *fx)
{
	char *cmd;

	rec_compiled_release(&fx->comp);
	spec_repo_free(fx->repo);
	spec_source_free(fx->src);
	spec_diags_release(&fx->diags);
	cmd = lr_xasprintf("rm -rf '%s'", fx->dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
}

static void
new_repo(struct fx *fx)
{
	memset(fx, 0, sizeof(*fx));
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/leura-compile-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	write_file(fx->dir, "inventory/hosts.yml", hosts_yml);
	write_file(fx->dir, "services.yml", services_yml);
	write_file(fx->dir, "roles/api/role.yml", api_role);
	write_file(fx->dir, "roles/api/files/api.conf",
	    "listen {{ params.port }} on {{ host.name }} ({{ params.mode }})\n");
	write_file(fx->dir, "roles/db/role.yml",
	    "converge:\n  - script: initdb\n");
}

static const json_t *
host_steps(const struct fx *fx, const char *host)
{
	return json_object_get(json_object_get(fx->comp.desired, host),
	    "steps");
}

static void
test_rec_compile__desired_state_per_host(void **state)
{
	char sha[LR_SHA256_HEX_LEN + 1];
	const char *want = "listen 9000 on a1 (fast)\n";
	const json_t *steps, *st;
	struct fx fx;

	(void)state;
	new_repo(&fx);
	load(&fx, REC_COMPILE_DESIRED);
	assert_int_equal(fx.rc, 0);
	assert_int_equal(fx.diags.nerrors, 0);

	/* api runs on both app hosts, db on the one data host */
	assert_int_equal(json_array_size(json_object_get(json_object_get(
	    fx.comp.placement, "services"), "api")), 2);
	assert_string_equal(json_string_value(json_array_get(json_object_get(
	    json_object_get(fx.comp.placement, "hosts"), "d1"), 0)), "db");

	steps = host_steps(&fx, "a1");
	assert_int_equal(json_array_size(steps), 4);
	st = json_array_get(steps, 0);
	assert_string_equal(json_string_value(json_object_get(st, "id")),
	    "api/api/converge/config");
	assert_string_equal(json_string_value(json_object_get(st, "dest")),
	    "/etc/api.conf");
	assert_string_equal(json_string_value(json_object_get(st, "mode")),
	    "0640");
	/* the template is rendered per host; service params win */
	lr_sha256_hex(want, strlen(want), sha);
	assert_string_equal(json_string_value(json_object_get(st, "sha256")),
	    sha);
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	    fx.comp.files, sha), "content")), want);
	st = json_array_get(steps, 1);
	assert_string_equal(json_string_value(json_array_get(
	    json_object_get(st, "when_changed"), 0)), "config");
	st = json_array_get(steps, 2);
	assert_string_equal(json_string_value(json_object_get(st, "phase")),
	    "validate");
	assert_string_equal(json_string_value(json_object_get(st, "script")),
	    "curl -fsS http://10.0.0.1:9000/");
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(steps, 3), "phase")), "turndown");
	/* the default timeout applies */
	assert_int_equal(json_integer_value(json_object_get(st,
	    "timeout_ms")), 600000);
	/* a host without address renders its name; d1 has only db */
	assert_int_equal(json_array_size(host_steps(&fx, "d1")), 1);
	release(&fx);
}

static void
test_rec_compile__undefined_host_var_names_the_host(void **state)
{
	struct fx fx;

	(void)state;
	new_repo(&fx);
	write_file(fx.dir, "roles/db/role.yml",
	    "converge:\n  - name: init\n    script: initdb {{ host.vars.zone }}\n");
	load(&fx, 0);
	assert_int_equal(fx.rc, LR_EINVAL);
	assert_int_equal(fx.diags.nerrors, 1);
	assert_string_equal(fx.diags.v[0].path, "roles/db/role.yml");
	assert_int_equal(fx.diags.v[0].line, 3);
	assert_int_equal(fx.diags.v[0].col, 20);
	assert_string_equal(fx.diags.v[0].msg, "undefined name "
	    "'host.vars.zone' (rendering for host 'd1')");
	release(&fx);
}

static void
test_rec_compile__impossible_placement_and_bad_cron(void **state)
{
	struct fx fx;

	(void)state;
	new_repo(&fx);
	write_file(fx.dir, "services.yml", "db:\n  scheduling_group: data\n"
	    "  num_instances: 2\n");
	write_file(fx.dir, "tasks/t.yml", "targets: {services: [db]}\n"
	    "schedule: {cron: \"0 24 * * *\"}\nsteps:\n  - script: x\n");
	load(&fx, 0);
	assert_int_equal(fx.diags.nerrors, 2);
	assert_string_equal(fx.diags.v[0].path, "services.yml");
	assert_int_equal(fx.diags.v[0].line, 3);
	assert_int_equal(fx.diags.v[0].col, 18);
	assert_non_null(strstr(fx.diags.v[0].msg, "service 'db' cannot be "
	    "placed: needs 2 instances but only 1 eligible host"));
	assert_string_equal(fx.diags.v[1].path, "tasks/t.yml");
	assert_int_equal(fx.diags.v[1].line, 2);
	/* the column points at the hour field inside the quoted string */
	assert_int_equal(fx.diags.v[1].col, 21);
	release(&fx);
}

static void
test_rec_compile__task_next_fire_times(void **state)
{
	struct fx fx;
	const json_t *next;

	(void)state;
	new_repo(&fx);
	write_file(fx.dir, "tasks/t.yml", "targets: {services: [db]}\n"
	    "schedule: {cron: \"30 3 * * *\"}\nsteps:\n  - script: x\n");
	load(&fx, REC_COMPILE_TASKS);
	assert_int_equal(fx.rc, 0);
	next = json_object_get(json_object_get(fx.comp.tasks, "t"), "next");
	assert_int_equal(json_array_size(next), 3);
	/* 1700000000 is 2023-11-14T22:13:20Z */
	assert_string_equal(json_string_value(json_array_get(next, 0)),
	    "2023-11-15T03:30:00Z");
	assert_string_equal(json_string_value(json_array_get(next, 2)),
	    "2023-11-17T03:30:00Z");
	release(&fx);
}

static void
test_rec_compile__make_before_break(void **state)
{
	struct fx fx;
	const json_t *mbb, *l;

	(void)state;
	/* api has turndown steps; db, without, has nothing to wait for */
	new_repo(&fx);
	load(&fx, REC_COMPILE_DESIRED);
	assert_int_equal(fx.rc, 0);
	mbb = fx.comp.make_before_break;
	assert_int_equal(json_object_size(mbb), 1);
	l = json_object_get(mbb, "api");
	assert_int_equal(json_array_size(l), 2);
	assert_string_equal(json_string_value(json_array_get(l, 0)), "a1");
	assert_string_equal(json_string_value(json_array_get(l, 1)), "a2");
	release(&fx);

	/* break-before-make: turned down at once, named nowhere */
	new_repo(&fx);
	write_file(fx.dir, "services.yml", "api:\n"
	    "  scheduling_group: app\n"
	    "  rollout: {move: break-before-make}\n"
	    "db:\n  scheduling_group: data\n  num_instances: 1\n");
	load(&fx, REC_COMPILE_DESIRED);
	assert_int_equal(fx.rc, 0);
	assert_int_equal(json_object_size(fx.comp.make_before_break), 0);
	release(&fx);
}

/* ---- diff ---- */

static void
compiled(struct rec_compiled *c, const char *placement, const char *desired)
{
	json_error_t e;

	memset(c, 0, sizeof(*c));
	c->placement = json_loads(placement, 0, &e);
	c->desired = json_loads(desired, 0, &e);
	assert_non_null(c->placement);
	assert_non_null(c->desired);
}

static void
test_rec_diff__moves_adds_changes_removes(void **state)
{
	struct rec_compiled a, b;
	json_t *d, *h;

	(void)state;
	compiled(&a, "{\"services\":{\"web\":[\"h1\"]}}",
	    "{\"h1\":{\"services\":[\"web\"],\"steps\":["
	    "{\"id\":\"web/r/converge/a\",\"script\":\"x\"},"
	    "{\"id\":\"web/r/converge/b\",\"script\":\"y\"}]},"
	    " \"h3\":{\"services\":[],\"steps\":[]}}");
	compiled(&b, "{\"services\":{\"web\":[\"h1\",\"h2\"]}}",
	    "{\"h1\":{\"services\":[\"web\"],\"steps\":["
	    "{\"id\":\"web/r/converge/a\",\"script\":\"x2\",\"env\":{}},"
	    "{\"id\":\"web/r/converge/c\",\"script\":\"z\"}]},"
	    " \"h2\":{\"services\":[\"web\"],\"steps\":["
	    "{\"id\":\"web/r/converge/a\",\"script\":\"x2\"}]}}");
	d = rec_diff(&a, &b);
	/* 1 move + h1: 1 added, 1 changed, 1 removed + h2: 1 added */
	assert_int_equal(json_integer_value(json_object_get(d, "changes")), 5);
	assert_string_equal(json_string_value(json_array_get(json_object_get(
	    json_object_get(json_object_get(d, "services"), "web"), "added"),
	    0)), "h2");
	h = json_object_get(json_object_get(d, "hosts"), "h1");
	assert_string_equal(json_string_value(json_array_get(
	    json_object_get(h, "added"), 0)), "web/r/converge/c");
	assert_string_equal(json_string_value(json_array_get(
	    json_object_get(h, "removed"), 0)), "web/r/converge/b");
	h = json_array_get(json_object_get(h, "changed"), 0);
	assert_string_equal(json_string_value(json_object_get(h, "id")),
	    "web/r/converge/a");
	/* changed fields, in order: differing, then new ones */
	assert_string_equal(json_string_value(json_array_get(json_object_get(
	    h, "fields"), 0)), "script");
	assert_string_equal(json_string_value(json_array_get(json_object_get(
	    h, "fields"), 1)), "env");
	/* h3 had no steps and went away: nothing to report */
	assert_null(json_object_get(json_object_get(d, "hosts"), "h3"));
	json_decref(d);

	/* no difference at all */
	d = rec_diff(&b, &b);
	assert_int_equal(json_integer_value(json_object_get(d, "changes")), 0);
	assert_int_equal(json_object_size(json_object_get(d, "hosts")), 0);
	json_decref(d);
	rec_compiled_release(&a);
	rec_compiled_release(&b);
}

static void
test_rec_diff__reorder_is_a_change(void **state)
{
	struct rec_compiled a, b;
	json_t *d;

	(void)state;
	compiled(&a, "{\"services\":{}}", "{\"h\":{\"services\":[],\"steps\":["
	    "{\"id\":\"s/r/converge/1\"},{\"id\":\"s/r/converge/2\"}]}}");
	compiled(&b, "{\"services\":{}}", "{\"h\":{\"services\":[],\"steps\":["
	    "{\"id\":\"s/r/converge/2\"},{\"id\":\"s/r/converge/1\"}]}}");
	d = rec_diff(&a, &b);
	assert_int_equal(json_integer_value(json_object_get(d, "changes")), 1);
	assert_true(json_is_true(json_object_get(json_object_get(
	    json_object_get(d, "hosts"), "h"), "reordered")));
	json_decref(d);
	rec_compiled_release(&a);
	rec_compiled_release(&b);
}

/* a converge step of service s, role r, as a JSON object's text */
#define STEP(r, name, extra) "{\"id\":\"s/" r "/converge/" name "\"," \
	"\"service\":\"s\",\"role\":\"" r "\",\"phase\":\"converge\"," \
	"\"name\":\"" name "\"" extra "}"

static void
test_rec_diff__when_changed_steps_set_off(void **state)
{
	struct rec_compiled a, b;
	json_t *d, *t;

	(void)state;
	/*
	 * f changes: g (when_changed f) runs, then h (when_changed g);
	 * k names f but in another role; m names n, which changed but
	 * itself waits for a trigger that does not come; e names f but
	 * comes before it
	 */
	compiled(&a, "{\"services\":{}}", "{\"h\":{\"services\":[\"s\"],"
	    "\"steps\":[" STEP("r", "e", ",\"when_changed\":[\"f\"]") ","
	    STEP("r", "f", ",\"sha256\":\"1\"") ","
	    STEP("r", "g", ",\"when_changed\":[\"f\"]") ","
	    STEP("r", "h", ",\"when_changed\":[\"g\"]") ","
	    STEP("q", "k", ",\"when_changed\":[\"f\"]") ","
	    STEP("r", "n", ",\"when_changed\":[\"x\"],\"script\":\"1\"") ","
	    STEP("r", "m", ",\"when_changed\":[\"n\"]") "]}}");
	compiled(&b, "{\"services\":{}}", "{\"h\":{\"services\":[\"s\"],"
	    "\"steps\":[" STEP("r", "e", ",\"when_changed\":[\"f\"]") ","
	    STEP("r", "f", ",\"sha256\":\"2\"") ","
	    STEP("r", "g", ",\"when_changed\":[\"f\"]") ","
	    STEP("r", "h", ",\"when_changed\":[\"g\"]") ","
	    STEP("q", "k", ",\"when_changed\":[\"f\"]") ","
	    STEP("r", "n", ",\"when_changed\":[\"x\"],\"script\":\"2\"") ","
	    STEP("r", "m", ",\"when_changed\":[\"n\"]") "]}}");
	d = rec_diff(&a, &b);
	t = json_object_get(json_object_get(json_object_get(d, "hosts"), "h"),
	    "triggered");
	assert_int_equal(json_array_size(t), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(
	    t, 0), "id")), "s/r/converge/g");
	assert_string_equal(json_string_value(json_array_get(json_object_get(
	    json_array_get(t, 0), "because"), 0)), "f");
	assert_string_equal(json_string_value(json_object_get(json_array_get(
	    t, 1), "id")), "s/r/converge/h");
	/* consequences are not changes: f and n changed */
	assert_int_equal(json_integer_value(json_object_get(d, "changes")), 2);
	json_decref(d);
	rec_compiled_release(&a);
	rec_compiled_release(&b);
}

static void
test_rec_diff__turndowns_of_services_that_leave(void **state)
{
	struct rec_compiled a, b;
	json_t *d, *h;

	(void)state;
	compiled(&a, "{\"services\":{\"s\":[\"h\",\"g\"]}}",
	    "{\"h\":{\"services\":[\"s\"],\"steps\":["
	    "{\"id\":\"s/r/converge/a\",\"service\":\"s\","
	    "\"phase\":\"converge\"},"
	    "{\"id\":\"s/r/turndown/t\",\"service\":\"s\","
	    "\"phase\":\"turndown\"}]},"
	    "\"g\":{\"services\":[\"s\"],\"steps\":["
	    "{\"id\":\"s/r/turndown/t\",\"service\":\"s\","
	    "\"phase\":\"turndown\"}]}}");
	/* h stays without s; g leaves the inventory */
	compiled(&b, "{\"services\":{\"s\":[]}}",
	    "{\"h\":{\"services\":[],\"steps\":[]}}");
	d = rec_diff(&a, &b);
	h = json_object_get(json_object_get(d, "hosts"), "h");
	assert_int_equal(json_array_size(json_object_get(h, "removed")), 1);
	assert_string_equal(json_string_value(json_array_get(json_object_get(
	    h, "removed"), 0)), "s/r/converge/a");
	assert_string_equal(json_string_value(json_object_get(json_array_get(
	    json_object_get(h, "turndown"), 0), "id")), "s/r/turndown/t");
	h = json_object_get(json_object_get(d, "hosts"), "g");
	assert_true(json_is_true(json_object_get(h, "host_removed")));
	assert_int_equal(json_array_size(json_object_get(h, "removed")), 0);
	assert_int_equal(json_array_size(json_object_get(h, "turndown")), 1);
	/* 1 move, 1 removed step, 2 turndowns */
	assert_int_equal(json_integer_value(json_object_get(d, "changes")), 4);
	json_decref(d);
	rec_compiled_release(&a);
	rec_compiled_release(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rec_compile__desired_state_per_host),
		cmocka_unit_test(
		    test_rec_compile__undefined_host_var_names_the_host),
		cmocka_unit_test(
		    test_rec_compile__impossible_placement_and_bad_cron),
		cmocka_unit_test(test_rec_compile__task_next_fire_times),
		cmocka_unit_test(test_rec_compile__make_before_break),
		cmocka_unit_test(test_rec_diff__moves_adds_changes_removes),
		cmocka_unit_test(test_rec_diff__reorder_is_a_change),
		cmocka_unit_test(test_rec_diff__when_changed_steps_set_off),
		cmocka_unit_test(
		    test_rec_diff__turndowns_of_services_that_leave),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
