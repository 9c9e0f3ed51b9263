/*
 * Tests of load_roles.c: roles, tasks and steps.
 *
 * The bad-input table lives in specs/tests/cases/roles/: each <name>/ is a
 * tiny config repo and <name>.expect the exact output of spec_diags_print()
 * for it.  A case is copied to a temp dir before it is loaded; a file
 * SYMLINKS at the case's root (not copied) lists "path -> target" links to
 * create in the copy, since git checkouts do not keep symlinks everywhere.
 * LEURA_UPDATE_EXPECT=1 rewrites the .expect files (review the diff).
 *
 * The focused tests write their repos into a mkdtemp dir and check the
 * parsed values.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "spec-int.h"
#include "xalloc.h"

/* ---- helpers ---- */

static void
mkdirs(const char *path)
{
	char *p = lr_xstrdup(path), *s;

	for (s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			fail_msg("mkdir %s: %s", p, strerror(errno));
		*s = '/';
	}
	free(p);
}

static void
write_file(const char *root, const char *rel, const char *text)
{
	char *path = lr_xasprintf("%s/%s", root, rel);
	FILE *fp;

	mkdirs(path);
	if ((fp = fopen(path, "w")) == NULL)
		fail_msg("open %s: %s", path, strerror(errno));
	fputs(text, fp);
	fclose(fp);
	free(path);
}

static char *
read_all(const char *path)
{
	FILE *fp;
	char *buf;
	long n;

	if ((fp = fopen(path, "r")) == NULL)
		return NULL;
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	buf = lr_xmalloc((size_t)n + 1);
	buf[fread(buf, 1, (size_t)n, fp)] = '\0';
	fclose(fp);
	return buf;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void
rm_rf(const char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static char *
make_tmpdir(void)
{
	char *dir = lr_xstrdup("/tmp/leura-test-roles-XXXXXX");

	if (mkdtemp(dir) == NULL)
		fail_msg("mkdtemp: %s", strerror(errno));
	return dir;
}

/* A repo with a host web1 in group frontend and a service web. */
static char *
base_repo(void)
{
	char *dir = make_tmpdir();

	write_file(dir, "inventory/hosts.yml",
	    "hosts:\n  web1: {address: 192.0.2.11, groups: [frontend]}\n"
	    "groups:\n  frontend: {}\n");
	write_file(dir, "services.yml", "web:\n  roles: [web]\n");
	write_file(dir, "roles/web/role.yml", "");
	return dir;
}

struct loaded {
	struct spec_source *src;
	struct spec_repo *repo;
	struct spec_diags diags;
	char	*text;		/* the printed diagnostics */
};

static void
load(const char *dir, struct loaded *l)
{
	struct lr_err err = { 0 };
	size_t len;
	FILE *fp;
	int rc;

	memset(l, 0, sizeof(*l));
	spec_diags_init(&l->diags);
	assert_int_equal(spec_source_dir_new(dir, &l->src, &err), 0);
	rc = spec_repo_load(l->src, &l->repo, &l->diags, &err);
	assert_true(rc == 0 || rc == LR_EINVAL);
	spec_diags_sort(&l->diags);
	fp = open_memstream(&l->text, &len);
	spec_diags_print(&l->diags, fp, 0);
	fclose(fp);
}

static void
unload(struct loaded *l)
{
	spec_repo_free(l->repo);
	spec_source_free(l->src);
	spec_diags_release(&l->diags);
	free(l->text);
}

/* Load, expect no diagnostics at all. */
static void
load_clean(const char *dir, struct loaded *l)
{
	load(dir, l);
	if (l->diags.n)
		fail_msg("unexpected diagnostics:\n%s", l->text);
}

static const struct spec_step *
find_step(const struct spec_step *v, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i].name, name) == 0)
			return &v[i];
	fail_msg("no step '%s'", name);
	return NULL;
}

/* ---- the case table ---- */

static void
copy_tree(const char *from, const char *to, bool top)
{
	struct dirent *de;
	struct stat st;
	char *a, *b, *text;
	DIR *dp;

	if (mkdir(to, 0755) < 0 && errno != EEXIST)
		fail_msg("mkdir %s: %s", to, strerror(errno));
	if ((dp = opendir(from)) == NULL)
		fail_msg("opendir %s: %s", from, strerror(errno));
	while ((de = readdir(dp)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0 ||
		    (top && strcmp(de->d_name, "SYMLINKS") == 0))
			continue;
		a = lr_xasprintf("%s/%s", from, de->d_name);
		b = lr_xasprintf("%s/%s", to, de->d_name);
		if (lstat(a, &st) < 0)
			fail_msg("lstat %s: %s", a, strerror(errno));
		if (S_ISDIR(st.st_mode)) {
			copy_tree(a, b, false);
		} else if (S_ISREG(st.st_mode)) {
			text = read_all(a);
			write_file(to, de->d_name, text);
			free(text);
			chmod(b, st.st_mode & 0777);
		}
		free(a);
		free(b);
	}
	closedir(dp);
}

static void
make_symlinks(const char *casedir, const char *dir)
{
	char *spec = lr_xasprintf("%s/SYMLINKS", casedir);
	char *text = read_all(spec), *line, *save, *arrow, *link;

	free(spec);
	if (text == NULL)
		return;
	for (line = strtok_r(text, "\n", &save); line;
	    line = strtok_r(NULL, "\n", &save)) {
		if ((arrow = strstr(line, " -> ")) == NULL)
			continue;
		*arrow = '\0';
		link = lr_xasprintf("%s/%s", dir, line);
		mkdirs(link);
		if (symlink(arrow + 4, link) < 0)
			fail_msg("symlink %s: %s", link, strerror(errno));
		free(link);
	}
	free(text);
}

static int
cmp_strp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Returns true when the case's output matches its .expect file. */
static bool
run_case(const char *cases, const char *name, bool update)
{
	char *casedir, *expfile, *expect, *dir;
	struct loaded l;
	bool ok;
	FILE *fp;

	casedir = lr_xasprintf("%s/%s", cases, name);
	expfile = lr_xasprintf("%s/%s.expect", cases, name);
	dir = make_tmpdir();
	copy_tree(casedir, dir, true);
	make_symlinks(casedir, dir);
	load(dir, &l);
	expect = read_all(expfile);
	ok = expect != NULL && strcmp(expect, l.text) == 0;
	if (!ok && update) {
		if ((fp = fopen(expfile, "w")) == NULL)
			fail_msg("open %s: %s", expfile, strerror(errno));
		fputs(l.text, fp);
		fclose(fp);
		print_message("updated %s\n", expfile);
		ok = true;
	} else if (!ok) {
		print_error("case '%s': output differs from %s\n"
		    "---- expected ----\n%s---- got ----\n%s---- end ----\n",
		    name, expfile, expect ? expect : "(missing file)\n",
		    l.text);
	}
	unload(&l);
	rm_rf(dir);
	free(dir);
	free(expect);
	free(expfile);
	free(casedir);
	return ok;
}

static void
test_spec_repo_load__roles_cases(void **state)
{
	const char *srcroot = getenv("LEURA_SRC");
	const char *upd = getenv("LEURA_UPDATE_EXPECT");
	char *cases, **names = NULL, *p;
	size_t n = 0, cap = 0, i, failed = 0;
	struct dirent *de;
	struct stat st;
	DIR *dp;

	if (srcroot == NULL)
		fail_msg("LEURA_SRC is not set: run through ctest");
	cases = lr_xasprintf("%s/specs/tests/cases/roles", srcroot);
	if ((dp = opendir(cases)) == NULL)
		fail_msg("opendir %s: %s", cases, strerror(errno));
	while ((de = readdir(dp)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		p = lr_xasprintf("%s/%s", cases, de->d_name);
		if (stat(p, &st) == 0 && S_ISDIR(st.st_mode))
			*LR_ARRAY_PUSH(names, n, cap) = lr_xstrdup(de->d_name);
		free(p);
	}
	closedir(dp);
	if (n > 1)
		qsort(names, n, sizeof(*names), cmp_strp);
	assert_true(n >= 20);
	for (i = 0; i < n; i++)
		if (!run_case(cases, names[i], upd && *upd == '1'))
			failed++;
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(cases);
	if (failed)
		fail_msg("%zu of %zu cases failed", failed, n);
}

/* ---- focused tests ---- */

static void
test_spec_load_role__design_example(void **state)
{
	const struct spec_role *r;
	const struct spec_step *st;
	struct loaded l;
	char *dir = base_repo();

	write_file(dir, "roles/web/files/site.conf",
	    "listen {{ params.port }}\n");
	write_file(dir, "roles/web/role.yml",
	    "description: nginx front end\n"
	    "params: {port: 80, names: [a, b]}\n"
	    "converge:\n"
	    "  - name: install nginx\n"
	    "    script: apt-get install -y nginx\n"
	    "    creates: /usr/sbin/nginx\n"
	    "  - name: site config\n"
	    "    file: {src: files/site.conf,"
	    " dest: /etc/nginx/conf.d/site.conf,"
	    " mode: \"0644\", template: true, owner: root}\n"
	    "  - name: reload nginx\n"
	    "    script: systemctl reload nginx\n"
	    "    when_changed: [site config]\n"
	    "validate:\n"
	    "  - name: health\n"
	    "    script: curl -fsS http://127.0.0.1:{{ params.port }}/\n"
	    "turndown:\n"
	    "  - script: systemctl disable --now nginx\n");
	load_clean(dir, &l);
	assert_non_null(r = spec_repo_find_role(l.repo, "web"));
	assert_string_equal(r->dir, "roles/web");
	assert_string_equal(r->description, "nginx front end");
	assert_int_equal(json_integer_value(json_object_get(r->params, "port")),
	    80);
	assert_int_equal(json_array_size(json_object_get(r->params, "names")),
	    2);
	assert_int_equal(r->nconverge, 3);
	assert_int_equal(r->nvalidate, 1);
	assert_int_equal(r->nturndown, 1);

	st = &r->converge[0];
	assert_string_equal(st->name, "install nginx");
	assert_false(st->name_generated);
	assert_int_equal(st->kind, SPEC_STEP_SCRIPT);
	assert_int_equal(st->phase, SPEC_PHASE_CONVERGE);
	assert_string_equal(st->script, "apt-get install -y nginx");
	assert_string_equal(st->interpreter, "/bin/sh");
	assert_string_equal(st->creates, "/usr/sbin/nginx");
	assert_int_equal(st->timeout_ms, -1);
	assert_int_equal(st->retries, -1);
	assert_int_equal(st->mode, -1);
	assert_null(st->env);

	st = &r->converge[1];
	assert_int_equal(st->kind, SPEC_STEP_FILE);
	assert_string_equal(st->src, "roles/web/files/site.conf");
	assert_null(st->content);
	assert_string_equal(st->dest, "/etc/nginx/conf.d/site.conf");
	assert_int_equal(st->mode, 0644);
	assert_true(st->template);
	assert_string_equal(st->owner, "root");
	assert_null(st->group);
	assert_null(st->interpreter);

	st = &r->converge[2];
	assert_int_equal(st->nwhen_changed, 1);
	assert_string_equal(st->when_changed[0].name, "site config");
	assert_non_null(st->when_changed[0].node);
	assert_int_equal(st->when_changed[0].node->line, 11);

	assert_int_equal(r->validate[0].phase, SPEC_PHASE_VALIDATE);
	st = &r->turndown[0];
	assert_int_equal(st->phase, SPEC_PHASE_TURNDOWN);
	assert_string_equal(st->name, "systemctl disable --now nginx");
	assert_true(st->name_generated);
	unload(&l);
	rm_rf(dir);
	free(dir);
}

/*
 * A role folder that is a symlink to a folder inside the repo is a role
 * like any other: its steps load, and so does a file step's src through
 * it (the service relies on its default role).
 */
static void
test_spec_load_role__symlinked_folder(void **state)
{
	const struct spec_role *r;
	const struct spec_service *s;
	struct loaded l;
	char *dir = base_repo(), *link, *real;

	write_file(dir, "services.yml", "web: {}\n");
	real = lr_xasprintf("%s/roles/web", dir);
	rm_rf(real);
	free(real);
	write_file(dir, "shared/web/files/motd", "hello\n");
	write_file(dir, "shared/web/role.yml",
	    "converge:\n"
	    "  - script: echo one\n"
	    "  - file: {src: files/motd, dest: /etc/motd}\n");
	link = lr_xasprintf("%s/roles/web", dir);
	if (symlink("../shared/web", link) < 0)
		fail_msg("symlink %s: %s", link, strerror(errno));
	load_clean(dir, &l);
	assert_non_null(r = spec_repo_find_role(l.repo, "web"));
	assert_int_equal(r->nconverge, 2);
	assert_string_equal(r->converge[1].src, "shared/web/files/motd");
	assert_non_null(s = spec_repo_find_service(l.repo, "web"));
	assert_int_equal(s->nroles, 1);
	assert_string_equal(s->roles[0].name, "web");
	unload(&l);
	rm_rf(dir);
	free(link);
	free(dir);
}

static void
test_spec_load_role__generated_names(void **state)
{
	const struct spec_role *r;
	struct loaded l;
	char *dir = base_repo();
	size_t i;
	static const char *const want[] = {
		"systemctl reload nginx",
		"systemctl reload nginx #3",	/* #2 is taken by a name */
		"echo a b c",
		"systemctl reload nginx #2",
		"systemctl reload nginx #4",
		"x23456789 123456789 123456789 123456789 1234567",
		"123456789 123456789 123456789 123456789 1234567",
		"file /etc/motd",
		"POST https://hooks.example.com/x",
		"GET http://{{ host.address }}/",
		"use notify",
	};

	write_file(dir, "steps/notify", "#!/bin/sh\ncat\n");
	write_file(dir, "roles/web/role.yml",
	    "converge:\n"
	    "  - script: systemctl reload nginx\n"
	    "  - script: \"  systemctl   reload\\tnginx  \"\n"
	    "  - script: |\n"
	    "\n"
	    "      \n"
	    "      echo a   b c\n"
	    "      echo second line\n"
	    "  - name: \"systemctl reload nginx #2\"\n"
	    "    script: \"true\"\n"
	    "  - script: systemctl reload nginx\n"
	    /* the cut at 48 bytes lands after a blank, which goes too */
	    "  - script: x23456789 123456789 123456789 123456789 1234567 "
	    "9abc\n"
	    /* 47 ASCII bytes then 'e acute': never cut inside it */
	    "  - script: 123456789 123456789 123456789 123456789 1234567"
	    "\xc3\xa9tail\n"
	    "  - file: {content: hi, dest: /etc/motd}\n"
	    "  - http: {url: \"https://hooks.example.com/x\", method: post}\n"
	    "  - http: {url: \"http://{{ host.address }}/\"}\n"
	    "  - use: notify\n");
	load_clean(dir, &l);
	r = spec_repo_find_role(l.repo, "web");
	assert_int_equal(r->nconverge, 11);
	for (i = 0; i < 11; i++) {
		assert_string_equal(r->converge[i].name, want[i]);
		assert_int_equal(r->converge[i].name_generated, i != 3);
	}
	assert_string_equal(r->converge[7].content, "hi");
	assert_string_equal(r->converge[8].url, "https://hooks.example.com/x");
	assert_string_equal(r->converge[8].method, "POST");
	assert_string_equal(r->converge[9].method, "GET");
	assert_int_equal(r->converge[9].expect_status, 0);
	assert_string_equal(r->converge[10].use, "notify");
	assert_null(r->converge[10].with);
	unload(&l);
	rm_rf(dir);
	free(dir);
}

static void
test_spec_load_role__env_and_durations(void **state)
{
	const struct spec_role *r;
	const struct spec_step *st;
	struct loaded l;
	char *dir = base_repo();

	write_file(dir, "roles/web/role.yml",
	    "converge:\n"
	    "  - name: s\n"
	    "    script: env\n"
	    "    shell: /bin/bash\n"
	    "    run_as: www-data\n"
	    "    cwd: /srv\n"
	    "    unless: test -f /x\n"
	    "    timeout: 1h30m\n"
	    "    retries: 0\n"
	    "    env: {PORT: 8080, DEBUG: true, NAME: web, HEX: 0x10,"
	    " EMPTY: \"\", RATIO: 1.50}\n"
	    "  - name: t\n"
	    "    script: env\n"
	    "    timeout: 45\n"
	    "    retries: 100\n");
	load_clean(dir, &l);
	r = spec_repo_find_role(l.repo, "web");
	st = find_step(r->converge, r->nconverge, "s");
	assert_string_equal(st->interpreter, "/bin/bash");
	assert_string_equal(st->run_as, "www-data");
	assert_string_equal(st->cwd, "/srv");
	assert_string_equal(st->unless, "test -f /x");
	assert_int_equal(st->timeout_ms, 90 * 60 * 1000);
	assert_int_equal(st->retries, 0);
	assert_int_equal(json_object_size(st->env), 6);
	assert_string_equal(json_string_value(json_object_get(st->env,
	    "PORT")), "8080");
	assert_string_equal(json_string_value(json_object_get(st->env,
	    "DEBUG")), "true");
	assert_string_equal(json_string_value(json_object_get(st->env,
	    "NAME")), "web");
	assert_string_equal(json_string_value(json_object_get(st->env,
	    "HEX")), "0x10");
	assert_string_equal(json_string_value(json_object_get(st->env,
	    "EMPTY")), "");
	assert_string_equal(json_string_value(json_object_get(st->env,
	    "RATIO")), "1.50");
	st = find_step(r->converge, r->nconverge, "t");
	assert_int_equal(st->timeout_ms, 45000);
	assert_int_equal(st->retries, 100);
	unload(&l);
	rm_rf(dir);
	free(dir);
}

static void
test_spec_load_role__script_file_content(void **state)
{
	const struct spec_role *r;
	struct loaded l;
	char *dir = base_repo();

	write_file(dir, "roles/web/scripts/setup.sh",
	    "#!/bin/sh\nset -e\necho setting up\n");
	write_file(dir, "roles/web/role.yml",
	    "converge:\n"
	    "  - script_file: scripts/setup.sh\n"
	    "  - name: again\n"
	    "    script_file: ./scripts/../scripts/setup.sh\n"
	    "    shell: /bin/dash\n");
	load_clean(dir, &l);
	r = spec_repo_find_role(l.repo, "web");
	assert_int_equal(r->nconverge, 2);
	assert_int_equal(r->converge[0].kind, SPEC_STEP_SCRIPT);
	assert_string_equal(r->converge[0].script,
	    "#!/bin/sh\nset -e\necho setting up\n");
	assert_string_equal(r->converge[0].script_file,
	    "roles/web/scripts/setup.sh");
	assert_string_equal(r->converge[0].name,
	    "script_file scripts/setup.sh");
	assert_string_equal(r->converge[1].script_file,
	    "roles/web/scripts/setup.sh");
	assert_string_equal(r->converge[1].interpreter, "/bin/dash");
	unload(&l);
	rm_rf(dir);
	free(dir);
}

static void
test_spec_load_role__empty_and_broken_files(void **state)
{
	const struct spec_role *r;
	struct loaded l;
	char *dir = base_repo();

	/* empty role.yml: a role without steps, and no error */
	write_file(dir, "roles/web/role.yml", "");
	load_clean(dir, &l);
	assert_non_null(r = spec_repo_find_role(l.repo, "web"));
	assert_int_equal(r->nconverge + r->nvalidate + r->nturndown, 0);
	assert_int_equal(json_object_size(r->params), 0);
	unload(&l);

	/* a syntax error: one diagnostic, the role still exists */
	write_file(dir, "roles/web/role.yml", "converge: [\n");
	load(dir, &l);
	assert_int_equal(l.diags.nerrors, 1);
	assert_non_null(spec_repo_find_role(l.repo, "web"));
	unload(&l);
	rm_rf(dir);
	free(dir);
}

static void
test_spec_load_role__bad_step_is_dropped_once(void **state)
{
	const struct spec_role *r;
	struct loaded l;
	char *dir = base_repo();

	/* the bad timeout is the only error: 'b' names 'a' without a second */
	write_file(dir, "roles/web/role.yml",
	    "converge:\n"
	    "  - {name: a, script: x, timeout: soon}\n"
	    "  - {name: b, script: y, when_changed: a}\n");
	load(dir, &l);
	assert_int_equal(l.diags.nerrors, 1);
	r = spec_repo_find_role(l.repo, "web");
	assert_int_equal(r->nconverge, 1);
	assert_string_equal(r->converge[0].name, "b");
	assert_int_equal(r->converge[0].nwhen_changed, 1);
	unload(&l);
	rm_rf(dir);
	free(dir);
}

static void
test_spec_load_task__design_example(void **state)
{
	const struct spec_task *t;
	const struct spec_step *st;
	struct loaded l;
	char *dir = base_repo();

	write_file(dir, "tasks/flush-cache.yml",
	    "description: Flush the cache\n"
	    "targets: {services: [web], hosts: web1, groups: [frontend, all]}\n"
	    "run_as: varnish\n"
	    "schedule: {cron: \"0 3 * * *\"}\n"
	    "parallel: 2\n"
	    "params: {pattern: .}\n"
	    "timeout: 2h\n"
	    "steps:\n"
	    "  - name: ban everything\n"
	    "    script: varnishadm \"ban req.url ~ .\"\n"
	    "    timeout: 30s\n"
	    "    retries: 2\n"
	    "  - name: sign-off\n"
	    "    approval: {groups: [sre-leads]}\n"
	    "  - http:\n"
	    "      url: https://chat.example.com/hook\n"
	    "      method: POST\n"
	    "      body: {text: flushed}\n"
	    "      headers: {X-Token: abc, X-Num: 12}\n"
	    "      expect_status: 204\n"
	    "    when_changed: [ban everything]\n");
	write_file(dir, "tasks/scripts/report.sh", "#!/bin/sh\nuptime\n");
	write_file(dir, "tasks/once.yml",
	    "targets: {hosts: [web1]}\n"
	    "schedule: {at: \"2026-12-01T03:00:00Z\"}\n"
	    "steps: [{script: date}, {script_file: scripts/report.sh},"
	    " {approval: {groups: ops}}]\n");
	load_clean(dir, &l);
	assert_int_equal(l.repo->ntasks, 2);
	assert_non_null(t = spec_repo_find_task(l.repo, "flush-cache"));
	assert_string_equal(t->path, "tasks/flush-cache.yml");
	assert_string_equal(t->description, "Flush the cache");
	assert_int_equal(t->nt_services, 1);
	assert_string_equal(t->t_services[0].name, "web");
	assert_int_equal(t->nt_hosts, 1);
	assert_string_equal(t->t_hosts[0].name, "web1");
	assert_int_equal(t->nt_groups, 2);
	assert_string_equal(t->run_as, "varnish");
	assert_string_equal(t->cron, "0 3 * * *");
	assert_int_equal(t->cron_node->line, 4);
	assert_null(t->at);
	assert_int_equal(t->parallel, 2);
	assert_int_equal(t->nparams, 1);
	assert_non_null(spec_task_find_param(t, "pattern"));
	assert_string_equal(json_string_value(t->params[0].def), ".");
	assert_int_equal(t->params[0].type, SPEC_PARAM_STRING);
	assert_int_equal(t->on_failure, SPEC_ON_FAILURE_STOP);
	assert_int_equal(t->dedupe_window_ms, 15 * 60 * 1000);
	assert_int_equal(t->overlap, SPEC_OVERLAP_FORBID);
	assert_int_equal(t->misfire, SPEC_MISFIRE_SKIP);
	assert_int_equal(t->starting_deadline_ms, 10 * 60 * 1000);
	assert_null(t->timezone);
	assert_false(t->self_approval);
	assert_int_equal(t->nsteps, 3);
	st = &t->steps[0];
	assert_int_equal(st->phase, SPEC_PHASE_TASK);
	assert_int_equal(st->timeout_ms, 30000);
	assert_int_equal(st->retries, 2);
	st = &t->steps[1];
	assert_int_equal(st->kind, SPEC_STEP_APPROVAL);
	assert_int_equal(st->napprovers, 1);
	assert_string_equal(st->approvers[0].name, "sre-leads");
	st = &t->steps[2];
	assert_int_equal(st->kind, SPEC_STEP_HTTP);
	assert_string_equal(st->name, "POST https://chat.example.com/hook");
	assert_string_equal(st->body, "{\"text\":\"flushed\"}");
	assert_string_equal(json_string_value(json_object_get(st->headers,
	    "X-Num")), "12");
	assert_int_equal(st->expect_status, 204);
	assert_non_null(t = spec_repo_find_task(l.repo, "once"));
	assert_string_equal(t->at, "2026-12-01T03:00:00Z");
	assert_null(t->cron);
	assert_int_equal(t->parallel, 0);
	assert_int_equal(t->nsteps, 3);
	assert_string_equal(t->steps[0].name, "date");
	assert_string_equal(t->steps[1].script_file, "tasks/scripts/report.sh");
	assert_string_equal(t->steps[1].script, "#!/bin/sh\nuptime\n");
	assert_string_equal(t->steps[2].name, "approval");
	assert_true(t->steps[2].name_generated);
	assert_string_equal(t->steps[2].approvers[0].name, "ops");
	unload(&l);
	rm_rf(dir);
	free(dir);
}

/* Shapes nobody should write: each gives errors, never a crash or leak. */
static void
test_spec_load_role__odd_shapes(void **state)
{
	static const char *const roles[] = {
		"[1, 2]\n",
		"just a string\n",
		"converge: nope\n",
		"converge: {script: x}\n",
		"converge: [[script, x], ~, 3]\n",
		"converge: [{script: [a]}, {script: {a: b}}, {script: ~}]\n",
		"converge: [{file: x}, {file: [1]}, {file: {src: [x], "
		    "dest: 7}}]\n",
		"converge: [{file: {content: ~, dest: ~, mode: [1], "
		    "template: maybe}}]\n",
		"converge: [{http: ~}, {http: {url: [x], method: 1, "
		    "headers: [a], expect_status: x}}]\n",
		"converge: [{http: {url: ftp://x, headers: {a b: 1, "
		    "ok: [1]}, expect_status: 600}}]\n",
		"converge: [{use: ../x}, {use: [x]}, {use: x, with: [1]}]\n",
		"converge: [{script: x, env: [A], when_changed: {a: b}, "
		    "retries: -1, timeout: [1]}]\n",
		"converge: [{script: x, env: {1A: x, B: [1], C: ~}}]\n",
		"converge: [{script: x, name: [1]}, {script: x, name: ''}]\n",
		"converge: [{script: x, when_changed: [[a]]}]\n",
		"converge: [{script_file: ~}, {script_file: /etc/passwd}, "
		    "{script_file: ..}]\n",
		"params: [1]\ndescription: [x]\n",
		"converge: [{script: x, shell: sh, cwd: tmp, creates: x, "
		    "unless: ' '}]\n",
		"converge: [{script: x, use: y, file: z}]\n",
		"converge: [{approval: {groups: x}}]\n",
	};
	static const char *const tasks[] = {
		"[1]\n",
		"targets: ~\nsteps: ~\n",
		"targets: [web]\nsteps: {script: x}\n",
		"targets: {services: {a: b}}\nsteps: []\n",
		"targets: {}\nschedule: {}\nsteps: [x]\n",
		"targets: {hosts: [[x]]}\nschedule: [1]\nparallel: -1\n"
		    "steps: [{approval: ~}]\n",
		"targets: {groups: [all]}\nschedule: {cron: [x]}\n"
		    "timeout: 0\nsteps: [{approval: {groups: []}}]\n",
		"targets: {groups: [all]}\nsteps: [{approval: {who: x}}]\n",
		"targets: {groups: [all]}\nparams: 1\ntimeout: x\n"
		    "steps: [{script: x, scirpt: y}]\n",
	};
	struct loaded l;
	char *dir = base_repo();
	size_t i;

	for (i = 0; i < sizeof(roles) / sizeof(*roles); i++) {
		write_file(dir, "roles/web/role.yml", roles[i]);
		load(dir, &l);
		if (l.diags.nerrors == 0)
			fail_msg("role.yml %s: no error", roles[i]);
		assert_non_null(spec_repo_find_role(l.repo, "web"));
		unload(&l);
	}
	write_file(dir, "roles/web/role.yml", "");
	for (i = 0; i < sizeof(tasks) / sizeof(*tasks); i++) {
		write_file(dir, "tasks/t.yml", tasks[i]);
		load(dir, &l);
		if (l.diags.nerrors == 0)
			fail_msg("task %s: no error", tasks[i]);
		unload(&l);
	}
	rm_rf(dir);
	free(dir);
}

static void
test_spec_check_roles__targets(void **state)
{
	struct loaded l;
	char *dir = base_repo();

	write_file(dir, "tasks/t.yml",
	    "targets: {services: [web, wbe], hosts: [web1, web2],"
	    " groups: [all, frontend, backend]}\n"
	    "steps: [{script: x}]\n");
	load(dir, &l);
	assert_int_equal(l.diags.nerrors, 3);
	assert_non_null(strstr(l.text, "unknown service 'wbe' in targets of "
	    "task 't'"));
	assert_non_null(strstr(l.text, "hint: did you mean 'web'? services "
	    "are defined in services.yml"));
	assert_non_null(strstr(l.text, "unknown host 'web2'"));
	assert_non_null(strstr(l.text, "unknown group 'backend'"));
	unload(&l);
	rm_rf(dir);
	free(dir);
}

/* Declared params, on_failure, the schedule's new keys: the parsed values. */
static void
test_spec_load_task__params_and_schedule(void **state)
{
	const struct spec_task *t;
	const struct spec_param *p;
	struct loaded l;
	char *dir = base_repo();

	write_file(dir, "tasks/drain.yml",
	    "targets: {groups: [all]}\n"
	    "params:\n"
	    "  count: 3\n"
	    "  ratio: 0.5\n"
	    "  dry: false\n"
	    "  who: {type: string, required: true, description: why}\n"
	    "  region: {default: eu, values: [eu, us]}\n"
	    "  limit: {type: number, default: 2, values: [1, 2.0, 2.5]}\n"
	    "  opt: {type: integer}\n"
	    "on_failure: continue\n"
	    "dedupe_window: 0\n"
	    "self_approval: true\n"
	    "schedule: {cron: \"0 3 * * *\", timezone: Europe/Paris,"
	    " overlap: replace, misfire: run_once, starting_deadline: 5m}\n"
	    "steps:\n"
	    "  - {name: ok, approval: {groups: [ops], timeout: 1h}}\n"
	    "  - {script: a, on_failure: continue}\n"
	    "  - {script: b, on_failure: stop}\n"
	    "  - {script: c}\n");
	load_clean(dir, &l);
	assert_non_null(t = spec_repo_find_task(l.repo, "drain"));
	assert_int_equal(t->nparams, 7);
	/* sorted by name */
	assert_string_equal(t->params[0].name, "count");
	assert_string_equal(t->params[6].name, "who");
	assert_non_null(p = spec_task_find_param(t, "count"));
	assert_int_equal(p->type, SPEC_PARAM_INTEGER);
	assert_int_equal(json_integer_value(p->def), 3);
	assert_false(p->required);
	assert_non_null(p = spec_task_find_param(t, "ratio"));
	assert_int_equal(p->type, SPEC_PARAM_NUMBER);
	assert_non_null(p = spec_task_find_param(t, "dry"));
	assert_int_equal(p->type, SPEC_PARAM_BOOLEAN);
	assert_true(json_is_false(p->def));
	assert_non_null(p = spec_task_find_param(t, "who"));
	assert_int_equal(p->type, SPEC_PARAM_STRING);
	assert_true(p->required);
	assert_null(p->def);
	assert_string_equal(p->description, "why");
	assert_non_null(p = spec_task_find_param(t, "region"));
	assert_int_equal(p->type, SPEC_PARAM_STRING);
	assert_int_equal(json_array_size(p->values), 2);
	assert_non_null(p = spec_task_find_param(t, "limit"));
	assert_int_equal(p->type, SPEC_PARAM_NUMBER);
	assert_true(json_is_integer(p->def));
	assert_true(spec_param_type_accepts(p->type, json_array_get(
	    p->values, 2)));
	assert_non_null(p = spec_task_find_param(t, "opt"));
	assert_null(p->def);
	assert_false(p->required);
	assert_null(spec_task_find_param(t, "nope"));
	assert_int_equal(t->on_failure, SPEC_ON_FAILURE_CONTINUE);
	assert_int_equal(t->dedupe_window_ms, 0);
	assert_true(t->self_approval);
	assert_string_equal(t->timezone, "Europe/Paris");
	assert_int_equal(t->timezone_node->line, 13);
	assert_int_equal(t->overlap, SPEC_OVERLAP_REPLACE);
	assert_int_equal(t->misfire, SPEC_MISFIRE_RUN_ONCE);
	assert_int_equal(t->starting_deadline_ms, 5 * 60 * 1000);
	assert_int_equal(t->nsteps, 4);
	assert_int_equal(t->steps[0].approval_timeout_ms, 3600 * 1000);
	assert_int_equal(t->steps[0].on_failure, SPEC_ON_FAILURE_INHERIT);
	assert_int_equal(t->steps[1].on_failure, SPEC_ON_FAILURE_CONTINUE);
	assert_non_null(t->steps[1].on_failure_node);
	assert_int_equal(t->steps[2].on_failure, SPEC_ON_FAILURE_STOP);
	assert_int_equal(t->steps[3].on_failure, SPEC_ON_FAILURE_INHERIT);
	assert_null(t->steps[3].on_failure_node);
	assert_int_equal(t->steps[3].approval_timeout_ms, -1);
	assert_string_equal(spec_param_type_name(SPEC_PARAM_NUMBER), "number");
	assert_string_equal(spec_on_failure_name(t->on_failure), "continue");
	assert_string_equal(spec_overlap_name(t->overlap), "replace");
	assert_string_equal(spec_misfire_name(t->misfire), "run_once");
	unload(&l);
	rm_rf(dir);
	free(dir);
}

/*
 * Zone names against the system's zoneinfo (the cases use a stand-in
 * through TZDIR): names that would leave the directory never open a file.
 */
static void
test_spec_zone_check__names(void **state)
{
	static const char *const bad[] = {
		"", "/etc/passwd", "../etc/passwd", "Europe/../../etc/passwd",
		"Europe//Paris", "Europe/", "./UTC", "Europe/Paris\n",
		"Europe/Par is", "Europe/..", ".",
	};
	char why[256], *saved, *sug;
	const char *tzdir = getenv("TZDIR");
	size_t i;

	saved = tzdir ? lr_xstrdup(tzdir) : NULL;
	for (i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		if (spec_zone_check(bad[i], why, sizeof(why)) != -1)
			fail_msg("zone '%s' accepted", bad[i]);
	assert_int_equal(spec_zone_check("Europe/Paris", why, sizeof(why)), 0);
	assert_int_equal(spec_zone_check("zone.tab", why, sizeof(why)), -1);
	assert_string_equal(why, "not a time zone name");
	assert_int_equal(spec_zone_check("Factory", why, sizeof(why)), -1);
	assert_string_equal(why, "not a zone file");
	assert_int_equal(spec_zone_check("Europe", why, sizeof(why)), -1);
	assert_non_null(sug = spec_zone_suggest("europe/paris"));
	assert_string_equal(sug, "Europe/Paris");
	free(sug);
	assert_non_null(sug = spec_zone_suggest("New_York"));
	assert_string_equal(sug, "America/New_York");
	free(sug);
	assert_null(spec_zone_suggest("Mars/Olympus"));
	/* the real one, when the system has it */
	unsetenv("TZDIR");
	if (access("/usr/share/zoneinfo/Europe/Paris", R_OK) == 0) {
		assert_int_equal(spec_zone_check("Europe/Paris", why,
		    sizeof(why)), 0);
		assert_int_equal(spec_zone_check("America/Argentina/Salta",
		    why, sizeof(why)), 0);
		assert_int_equal(spec_zone_check("Europe/Pariss", why,
		    sizeof(why)), -1);
		assert_int_equal(spec_zone_check("../../etc/passwd", why,
		    sizeof(why)), -1);
		assert_non_null(sug = spec_zone_suggest("Europe/Pariss"));
		assert_string_equal(sug, "Europe/Paris");
		free(sug);
	}
	setenv("TZDIR", "/nonexistent/zoneinfo", 1);
	assert_int_equal(spec_zone_check("UTC", why, sizeof(why)), -2);
	if (saved)
		setenv("TZDIR", saved, 1);
	free(saved);
}

int
main(void)
{
	const char *src = getenv("LEURA_SRC");
	char *tzdir;
	int rc;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_load_role__design_example),
		cmocka_unit_test(test_spec_load_role__generated_names),
		cmocka_unit_test(test_spec_load_role__env_and_durations),
		cmocka_unit_test(test_spec_load_role__script_file_content),
		cmocka_unit_test(test_spec_load_role__empty_and_broken_files),
		cmocka_unit_test(test_spec_load_role__bad_step_is_dropped_once),
		cmocka_unit_test(test_spec_load_task__design_example),
		cmocka_unit_test(test_spec_load_role__odd_shapes),
		cmocka_unit_test(test_spec_check_roles__targets),
		cmocka_unit_test(test_spec_load_role__symlinked_folder),
		cmocka_unit_test(test_spec_load_task__params_and_schedule),
		cmocka_unit_test(test_spec_zone_check__names),
		cmocka_unit_test(test_spec_repo_load__roles_cases),
	};

	/* zone names are checked against a stand-in zoneinfo */
	tzdir = lr_xasprintf("%s/specs/tests/zoneinfo", src ? src : ".");
	setenv("TZDIR", tzdir, 1);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	free(tzdir);
	return rc;
}
