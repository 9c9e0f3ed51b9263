/*
 * Unit tests of reconcile/task.c: a task's params, targets and steps
 * rendered for a host, on small repos written to a temp dir, loaded and
 * compiled as leurad does before it starts a run.
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
#include "hash.h"
#include "task.h"
#include "xalloc.h"

struct fx {
	char	 dir[64];
	struct spec_source *src;
	struct spec_repo *repo;
	struct spec_diags diags;
	struct rec_compiled comp;
	const struct spec_task *t;
	struct lr_err err;
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
    "  a1: {address: 10.0.0.1, groups: [app], vars: {zone: x, dir: /srv}}\n"
    "  a2: {address: 10.0.0.2, groups: [app], vars: {zone: y}}\n"
    "  d1: {groups: [data], vars: {dir: /data}}\n"
    "groups:\n"
    "  app: {}\n"
    "  data: {}\n"
    "  empty: {}\n";

static const char services_yml[] =
    "api: {scheduling_group: app}\n"
    "db: {scheduling_group: data, num_instances: 1}\n"
    "idle: {scheduling_group: data, num_instances: 0}\n";

static const char drain_yml[] =
    "description: drain hosts\n"
    "targets: {services: [api]}\n"
    "run_as: ops\n"
    "on_failure: continue\n"
    "self_approval: true\n"
    "params:\n"
    "  reason: {type: string, required: true}\n"
    "  count: {type: integer, default: 2}\n"
    "  ratio: 0.5\n"
    "  dry: false\n"
    "  mode: {default: soft, values: [soft, hard]}\n"
    "  note: {type: string}\n"
    "steps:\n"
    "  - name: ok\n"
    "    approval: {groups: [leads], timeout: 1h}\n"
    "  - name: drain\n"
    "    script: drain --count {{ params.count }} {{ params.reason | quote }}"
    " on {{ host.name }}\n"
    "    on_failure: stop\n"
    "    run_as: root\n"
    "  - name: conf\n"
    "    file: {src: files/drain.conf, dest: /etc/drain.conf,"
    " template: true}\n"
    "  - name: where\n"
    "    script: echo {{ host.vars.dir }} {{ services.db.hosts | join(',') }}\n";

static void
setup(struct fx *fx, const char *extra_path, const char *extra)
{
	memset(fx, 0, sizeof(*fx));
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/leura-task-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	write_file(fx->dir, "inventory/hosts.yml", hosts_yml);
	write_file(fx->dir, "services.yml", services_yml);
	write_file(fx->dir, "roles/api/role.yml", "converge: [{script: x}]\n");
	write_file(fx->dir, "roles/db/role.yml", "converge: [{script: x}]\n");
	write_file(fx->dir, "roles/idle/role.yml", "converge: [{script: x}]\n");
	write_file(fx->dir, "tasks/drain.yml", drain_yml);
	write_file(fx->dir, "tasks/files/drain.conf",
	    "mode={{ params.mode }}\nzone={{ host.vars.zone }}\n");
	if (extra_path)
		write_file(fx->dir, extra_path, extra);
	lr_err_clear(&fx->err);
	spec_diags_init(&fx->diags);
	assert_int_equal(spec_source_dir_new(fx->dir, &fx->src, &fx->err), 0);
	if (spec_repo_load(fx->src, &fx->repo, &fx->diags, &fx->err) != 0) {
		spec_diags_print(&fx->diags, stderr, 0);
		fail_msg("the repo does not load");
	}
	/* as leurad loads a commit: placement, no desired state */
	if (rec_compile(fx->repo, REC_COMPILE_TASKS, 1700000000, &fx->comp,
	    &fx->diags) != 0) {
		spec_diags_print(&fx->diags, stderr, 0);
		fail_msg("the repo does not compile");
	}
	assert_non_null(fx->t = spec_repo_find_task(fx->repo, "drain"));
}

static void
teardown(struct fx *fx)
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

/* rec_task_params of JSON text: rc, and *out or err. */
static int
params(struct fx *fx, const char *given, json_t **out)
{
	json_t *g = given ? json_loads(given, 0, NULL) : NULL;
	int rc;

	if (given)
		assert_non_null(g);
	*out = NULL;
	lr_err_clear(&fx->err);
	rc = rec_task_params(fx->t, g, out, &fx->err);
	json_decref(g);
	return rc;
}

static void
test_rec_task_params__defaults_and_conversions(void **state)
{
	struct fx fx;
	json_t *out;

	setup(&fx, NULL, NULL);
	/* -p values arrive as strings and take the declared type */
	assert_int_equal(params(&fx, "{\"reason\":\"maintenance\","
	    "\"count\":\"5\",\"ratio\":\"2\",\"dry\":\"true\","
	    "\"mode\":\"hard\"}", &out), 0);
	assert_int_equal(json_integer_value(json_object_get(out, "count")), 5);
	assert_true(json_is_number(json_object_get(out, "ratio")));
	assert_true(json_number_value(json_object_get(out, "ratio")) == 2.0);
	assert_true(json_is_true(json_object_get(out, "dry")));
	assert_string_equal(json_string_value(json_object_get(out, "mode")),
	    "hard");
	/* every declared param is there: no default gives null */
	assert_true(json_is_null(json_object_get(out, "note")));
	assert_int_equal(json_object_size(out), 6);
	json_decref(out);
	/* JSON values as they are; defaults fill the rest */
	assert_int_equal(params(&fx, "{\"reason\":\"x\",\"count\":7,"
	    "\"ratio\":1.25}", &out), 0);
	assert_int_equal(json_integer_value(json_object_get(out, "count")), 7);
	assert_true(json_real_value(json_object_get(out, "ratio")) == 1.25);
	assert_true(json_is_false(json_object_get(out, "dry")));
	assert_string_equal(json_string_value(json_object_get(out, "mode")),
	    "soft");
	json_decref(out);
	teardown(&fx);
}

static void
test_rec_task_params__bad_values_named_with_their_type(void **state)
{
	struct fx fx;
	json_t *out;

	setup(&fx, NULL, NULL);
	assert_int_equal(params(&fx, "{\"reason\":\"r\",\"count\":\"x\"}",
	    &out), LR_EINVAL);
	assert_null(out);
	assert_string_equal(fx.err.msg, "param 'count' of task 'drain' is an "
	    "integer; got 'x'");
	assert_non_null(strstr(fx.err.hint, "-p count=3"));
	assert_int_equal(params(&fx, "{\"reason\":\"r\",\"count\":\"2.5\"}",
	    &out), LR_EINVAL);
	assert_int_equal(params(&fx, "{\"reason\":\"r\",\"count\":2.5}",
	    &out), LR_EINVAL);
	assert_string_equal(fx.err.msg, "param 'count' of task 'drain' is an "
	    "integer; got '2.5'");
	assert_int_equal(params(&fx, "{\"reason\":\"r\",\"ratio\":\"nan\"}",
	    &out), LR_EINVAL);
	assert_non_null(strstr(fx.err.msg, "is a number; got 'nan'"));
	assert_int_equal(params(&fx, "{\"reason\":\"r\",\"dry\":\"yes\"}",
	    &out), LR_EINVAL);
	assert_non_null(strstr(fx.err.msg, "is a boolean; got 'yes'"));
	assert_int_equal(params(&fx, "{\"reason\":5}", &out), LR_EINVAL);
	assert_string_equal(fx.err.msg, "param 'reason' of task 'drain' is a "
	    "string; got '5'");
	assert_int_equal(params(&fx, "{\"reason\":\"r\",\"mode\":\"soft \"}",
	    &out), LR_EINVAL);
	assert_string_equal(fx.err.msg, "param 'mode' of task 'drain' must be "
	    "one of soft, hard; got 'soft '");
	assert_int_equal(params(&fx, "[1]", &out), LR_EINVAL);
	teardown(&fx);
}

static void
test_rec_task_params__unknown_and_missing(void **state)
{
	struct fx fx;
	json_t *out;

	setup(&fx, NULL, NULL);
	assert_int_equal(params(&fx, "{\"reason\":\"r\",\"cuont\":1}", &out),
	    LR_EINVAL);
	assert_string_equal(fx.err.msg, "task 'drain' has no param 'cuont'");
	assert_string_equal(fx.err.hint, "did you mean 'count'? its params "
	    "are count, dry, mode, note, ratio and reason");
	assert_int_equal(params(&fx, "{\"zzz\":1}", &out), LR_EINVAL);
	assert_string_equal(fx.err.hint, "its params are count, dry, mode, "
	    "note, ratio and reason");
	assert_int_equal(params(&fx, "{\"count\":1}", &out), LR_EINVAL);
	assert_string_equal(fx.err.msg, "task 'drain' needs param 'reason' "
	    "(string)");
	assert_string_equal(fx.err.hint, "give it: leura run drain -p "
	    "reason=VALUE");
	assert_int_equal(params(&fx, NULL, &out), LR_EINVAL);
	assert_non_null(strstr(fx.err.msg, "needs param 'reason'"));
	teardown(&fx);
}

/* rec_task_hosts with targets as JSON text (NULL: the task's). */
static int
hosts(struct fx *fx, const char *targets, char *got, size_t len)
{
	json_t *tg = targets ? json_loads(targets, 0, NULL) : NULL, *out;
	char *s;
	int rc;

	if (targets)
		assert_non_null(tg);
	lr_err_clear(&fx->err);
	got[0] = '\0';
	rc = rec_task_hosts(fx->repo, &fx->comp, fx->t, tg, &out, &fx->err);
	if (rc == 0) {
		s = json_dumps(out, JSON_COMPACT);
		snprintf(got, len, "%s", s);
		free(s);
		json_decref(out);
	}
	json_decref(tg);
	return rc;
}

static void
test_rec_task_hosts__resolves_and_refuses(void **state)
{
	struct fx fx;
	char got[256];

	setup(&fx, NULL, NULL);
	assert_int_equal(hosts(&fx, NULL, got, sizeof(got)), 0);
	assert_string_equal(got, "[\"a1\",\"a2\"]");
	assert_int_equal(hosts(&fx, "{\"hosts\":[\"d1\",\"a2\"],"
	    "\"services\":[\"db\"]}", got, sizeof(got)), 0);
	assert_string_equal(got, "[\"a2\",\"d1\"]");
	assert_int_equal(hosts(&fx, "{\"groups\":[\"all\"]}", got,
	    sizeof(got)), 0);
	assert_string_equal(got, "[\"a1\",\"a2\",\"d1\"]");
	assert_int_equal(hosts(&fx, "{\"groups\":\"data\"}", got,
	    sizeof(got)), 0);
	assert_string_equal(got, "[\"d1\"]");
	/* unknown names, with the nearest */
	assert_int_equal(hosts(&fx, "{\"hosts\":[\"a3\"]}", got, sizeof(got)),
	    LR_EINVAL);
	assert_string_equal(fx.err.msg, "unknown host 'a3' in the targets of "
	    "task 'drain'");
	assert_non_null(strstr(fx.err.hint, "did you mean 'a1'?"));
	assert_int_equal(hosts(&fx, "{\"groups\":[\"dat\"]}", got,
	    sizeof(got)), LR_EINVAL);
	assert_non_null(strstr(fx.err.hint, "did you mean 'data'?"));
	assert_int_equal(hosts(&fx, "{\"services\":[\"apu\"]}", got,
	    sizeof(got)), LR_EINVAL);
	assert_string_equal(fx.err.msg, "unknown service 'apu' in the "
	    "targets of task 'drain'");
	/* names that exist but hold no host */
	assert_int_equal(hosts(&fx, "{\"groups\":[\"empty\"],"
	    "\"services\":[\"idle\"]}", got, sizeof(got)), LR_EINVAL);
	assert_string_equal(fx.err.msg, "the targets of task 'drain' match "
	    "no host");
	/* shapes */
	assert_int_equal(hosts(&fx, "{}", got, sizeof(got)), LR_EINVAL);
	assert_non_null(strstr(fx.err.msg, "name no hosts, groups or "
	    "services"));
	assert_int_equal(hosts(&fx, "{\"nodes\":[\"a1\"]}", got, sizeof(got)),
	    LR_EINVAL);
	assert_int_equal(hosts(&fx, "{\"hosts\":[1]}", got, sizeof(got)),
	    LR_EINVAL);
	teardown(&fx);
}

static void
test_rec_task_render__steps_for_a_host(void **state)
{
	struct fx fx;
	json_t *p, *steps, *files, *st, *ap;
	const char *sha;
	char hex[LR_SHA256_HEX_LEN + 1];
	const char *conf = "mode=soft\nzone=x\n";

	setup(&fx, NULL, NULL);
	assert_int_equal(params(&fx, "{\"reason\":\"it's late\"}", &p), 0);
	assert_int_equal(rec_task_render(fx.repo, &fx.comp, fx.t, "a1", p,
	    &steps, &files, &fx.err), 0);
	assert_int_equal(json_array_size(steps), 4);
	/* the approval step, kept for the engine */
	st = json_array_get(steps, 0);
	assert_string_equal(json_string_value(json_object_get(st, "id")),
	    "task/drain/0/ok");
	assert_string_equal(json_string_value(json_object_get(st, "kind")),
	    "approval");
	ap = json_object_get(st, "approval");
	assert_string_equal(json_string_value(json_array_get(
	    json_object_get(ap, "groups"), 0)), "leads");
	assert_int_equal(json_integer_value(json_object_get(ap,
	    "timeout_ms")), 3600000);
	assert_true(json_is_true(json_object_get(ap, "self_approval")));
	assert_string_equal(json_string_value(json_object_get(st,
	    "on_failure")), "continue");
	/* a script: params quoted, the step's run_as and on_failure */
	st = json_array_get(steps, 1);
	assert_string_equal(json_string_value(json_object_get(st, "id")),
	    "task/drain/1/drain");
	assert_string_equal(json_string_value(json_object_get(st, "script")),
	    "drain --count 2 'it'\\''s late' on a1");
	assert_string_equal(json_string_value(json_object_get(st, "run_as")),
	    "root");
	assert_string_equal(json_string_value(json_object_get(st,
	    "on_failure")), "stop");
	assert_null(json_object_get(st, "service"));
	assert_string_equal(json_string_value(json_object_get(st, "phase")),
	    "task");
	/* a template file: its content in files, by its hash */
	st = json_array_get(steps, 2);
	lr_sha256_hex(conf, strlen(conf), hex);
	assert_non_null(sha = json_string_value(json_object_get(st,
	    "sha256")));
	assert_string_equal(sha, hex);
	assert_string_equal(json_string_value(json_object_get(
	    json_object_get(files, sha), "content")), conf);
	assert_string_equal(json_string_value(json_object_get(st, "dest")),
	    "/etc/drain.conf");
	/* the task's run_as; host vars and the services' placement */
	st = json_array_get(steps, 3);
	assert_string_equal(json_string_value(json_object_get(st, "run_as")),
	    "ops");
	assert_string_equal(json_string_value(json_object_get(st, "script")),
	    "echo /srv d1");
	assert_int_equal(json_integer_value(json_object_get(st,
	    "timeout_ms")), 600000);
	json_decref(steps);
	json_decref(files);
	/* an unknown host */
	assert_int_equal(rec_task_render(fx.repo, &fx.comp, fx.t, "zz", p,
	    &steps, &files, &fx.err), LR_EINVAL);
	json_decref(p);
	teardown(&fx);
}

/* A template that fails on one host only: named, with path:line:col. */
static void
test_rec_task_render__template_error_for_one_host(void **state)
{
	struct fx fx;
	json_t *p, *steps = NULL, *files = NULL;

	setup(&fx, NULL, NULL);
	assert_int_equal(params(&fx, "{\"reason\":\"r\"}", &p), 0);
	/* a2 has no 'dir' var: step 'where' (line 23) fails there only */
	assert_int_equal(rec_task_render(fx.repo, &fx.comp, fx.t, "a1", p,
	    &steps, &files, &fx.err), 0);
	json_decref(steps);
	json_decref(files);
	steps = files = NULL;
	assert_int_equal(rec_task_render(fx.repo, &fx.comp, fx.t, "a2", p,
	    &steps, &files, &fx.err), LR_EINVAL);
	assert_null(steps);
	assert_null(files);
	assert_non_null(strstr(fx.err.msg, "step 'where' of task 'drain' for "
	    "host 'a2': tasks/drain.yml:23:18: "));
	assert_non_null(strstr(fx.err.msg, "host.vars.dir"));
	assert_true(fx.err.hint[0] != '\0');
	json_decref(p);
	teardown(&fx);
}

static void
test_rec_task_render__template_file_error(void **state)
{
	struct fx fx;
	json_t *p, *steps = NULL, *files = NULL;

	setup(&fx, "tasks/files/drain.conf", "ok\nx={{ params.nope }}\n");
	assert_int_equal(params(&fx, "{\"reason\":\"r\"}", &p), 0);
	assert_int_equal(rec_task_render(fx.repo, &fx.comp, fx.t, "a1", p,
	    &steps, &files, &fx.err), LR_EINVAL);
	assert_non_null(strstr(fx.err.msg, "step 'conf' of task 'drain' for "
	    "host 'a1': tasks/files/drain.conf:2:3: "));
	assert_non_null(strstr(fx.err.msg, "params.nope"));
	json_decref(p);
	teardown(&fx);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rec_task_params__defaults_and_conversions),
		cmocka_unit_test(
		    test_rec_task_params__bad_values_named_with_their_type),
		cmocka_unit_test(test_rec_task_params__unknown_and_missing),
		cmocka_unit_test(test_rec_task_hosts__resolves_and_refuses),
		cmocka_unit_test(test_rec_task_render__steps_for_a_host),
		cmocka_unit_test(
		    test_rec_task_render__template_error_for_one_host),
		cmocka_unit_test(test_rec_task_render__template_file_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
