/*
 * libFuzzer target: a whole config repo through spec_repo_load(), from an
 * in-memory source (memsrc.h), then the diagnostics through the sorter and
 * both printers and a walk over the loaded model.
 *
 * Input format: a line "=== <path>" starts a file whose content is the
 * following lines; "=== <path> -> <target>" makes a symlink instead (its
 * lines are ignored).  Paths use [A-Za-z0-9._-] components, at most 6
 * deep, never "." or ".."; a file with any other path is dropped, so
 * mutations of a marker only lose that file.  Link targets are free text:
 * leaving the repo through a symlink is part of what is fuzzed.  Text
 * before the first marker is ignored.  An input without any marker is
 * services.yml of a fixed repo with three hosts, three groups and a role
 * 'web', so plain services.yml seeds and mutations work too.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memsrc.h"
#include "spec.h"

int	LLVMFuzzerInitialize(int *argc, char ***argv);
int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_FILES	64
#define MAX_PATH	128
#define MAX_DEPTH	6
#define MARKER		"=== "
#define ARROW		" -> "

static const char fixed_hosts[] =
    "hosts:\n"
    "  web1: {address: 192.0.2.11, groups: [frontend], vars: {zone: a}}\n"
    "  web2: {address: 192.0.2.12, groups: [frontend], vars: {zone: b}}\n"
    "  db1:  {address: 192.0.2.21, groups: [core, backend], "
    "vars: {zone: b}}\n"
    "groups:\n"
    "  frontend: {vars: {http_port: 8080}}\n"
    "  core: {vars: {tier: core}}\n"
    "  backend: {vars: {tier: backend}}\n";

static const char fixed_role[] =
    "description: web front end\n"
    "params: {port: 80}\n"
    "converge:\n"
    "  - name: site config\n"
    "    file: {src: files/site.conf, dest: /etc/site.conf, mode: \"0644\", "
    "template: true}\n"
    "validate:\n"
    "  - script: curl -fsS http://127.0.0.1:{{ params.port }}/\n";

static const char fixed_site[] = "listen {{ params.port }};\n";

static FILE *devnull;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if ((devnull = fopen("/dev/null", "w")) == NULL) {
		perror("fuzz_spec: /dev/null");
		exit(1);
	}
	return 0;
}

static bool
path_ok(const char *p, size_t len)
{
	size_t i, comp = 0, depth = 1;

	if (len == 0 || len > MAX_PATH)
		return false;
	for (i = 0; i <= len; i++) {
		if (i == len || p[i] == '/') {
			if (comp == 0 || (comp == 1 && p[i - 1] == '.') ||
			    (comp == 2 && p[i - 1] == '.' && p[i - 2] == '.'))
				return false;
			if (i < len && ++depth > MAX_DEPTH)
				return false;
			comp = 0;
			continue;
		}
		if (!((p[i] >= 'a' && p[i] <= 'z') ||
		    (p[i] >= 'A' && p[i] <= 'Z') ||
		    (p[i] >= '0' && p[i] <= '9') ||
		    p[i] == '.' || p[i] == '_' || p[i] == '-'))
			return false;
		comp++;
	}
	return true;
}

static const char *
find_arrow(const char *s, size_t len)
{
	size_t i, alen = strlen(ARROW);

	for (i = 0; i + alen <= len; i++)
		if (memcmp(s + i, ARROW, alen) == 0)
			return s + i;
	return NULL;
}

/* Add the file (or symlink) that marker line [m, mend) announces. */
static void
add_entry(struct spec_source *src, const char *m, const char *mend,
    const char *body, size_t blen, size_t *nfiles)
{
	const char *p = m + strlen(MARKER), *arrow;
	char path[MAX_PATH + 1];
	size_t plen;

	if (mend > p && mend[-1] == '\r')
		mend--;
	arrow = find_arrow(p, (size_t)(mend - p));
	plen = (size_t)((arrow ? arrow : mend) - p);
	if (*nfiles >= MAX_FILES || !path_ok(p, plen))
		return;
	memcpy(path, p, plen);
	path[plen] = '\0';
	if (arrow) {
		arrow += strlen(ARROW);
		if ((size_t)(mend - arrow) > MAX_PATH)
			return;
		memsrc_add(src, path, arrow, (size_t)(mend - arrow), true);
	} else
		memsrc_add(src, path, body, blen, false);
	++*nfiles;
}

static bool
is_marker(const char *s, const char *end)
{
	size_t mlen = strlen(MARKER);

	return (size_t)(end - s) >= mlen && memcmp(s, MARKER, mlen) == 0;
}

static void
split_input(struct spec_source *src, const char *in, size_t size)
{
	const char *end = in + size, *line, *nl, *m = NULL, *mend = NULL;
	const char *body = NULL;
	size_t nfiles = 0;

	for (line = in; line < end; line = nl < end ? nl + 1 : end) {
		if ((nl = memchr(line, '\n', (size_t)(end - line))) == NULL)
			nl = end;
		if (!is_marker(line, nl))
			continue;
		if (m)
			add_entry(src, m, mend, body, (size_t)(line - body),
			    &nfiles);
		m = line;
		mend = nl;
		body = nl < end ? nl + 1 : end;
	}
	if (m) {
		add_entry(src, m, mend, body, (size_t)(end - body), &nfiles);
		return;
	}
	memsrc_add(src, "services.yml", in, size, false);
	memsrc_add(src, "inventory/hosts.yml", fixed_hosts,
	    sizeof(fixed_hosts) - 1, false);
	memsrc_add(src, "roles/web/role.yml", fixed_role,
	    sizeof(fixed_role) - 1, false);
	memsrc_add(src, "roles/web/files/site.conf", fixed_site,
	    sizeof(fixed_site) - 1, false);
}

/* Use the model the way later stages do: lookups and effective vars. */
static void
walk_repo(const struct spec_repo *repo)
{
	const struct spec_service *svc;
	json_t *vars;
	size_t i, j;

	for (i = 0; i < repo->nhosts; i++) {
		vars = spec_host_vars(repo, &repo->hosts[i]);
		json_decref(vars);
		for (j = 0; j < repo->ngroups; j++)
			(void)spec_host_in_group(repo, &repo->hosts[i],
			    repo->groups[j].name);
	}
	for (i = 0; i < repo->nservices; i++) {
		svc = &repo->services[i];
		if (spec_repo_find_service(repo, svc->name) != svc)
			abort();	/* sorted lists, unique names */
		for (j = 0; j < svc->nroles; j++)
			(void)spec_repo_find_role(repo, svc->roles[j].name);
		if (svc->scheduling_group.name)
			(void)spec_repo_find_group(repo,
			    svc->scheduling_group.name);
	}
	for (i = 0; i < repo->ntasks; i++) {
		const struct spec_task *t = &repo->tasks[i];

		(void)spec_repo_find_task(repo, t->name);
		for (j = 0; j < t->nparams; j++) {
			if (spec_task_find_param(t, t->params[j].name) !=
			    &t->params[j])
				abort();	/* sorted, unique names */
			if (t->params[j].def && !spec_param_type_accepts(
			    t->params[j].type, t->params[j].def))
				abort();	/* a default of its type */
		}
	}
	for (i = 0; i < repo->nroles; i++)
		for (j = 0; j < repo->roles[i].nconverge; j++)
			(void)spec_step_kind_name(repo->roles[i].converge[j].kind);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spec_source *src;
	struct spec_repo *repo = NULL;
	struct spec_diags diags;
	struct lr_err err;
	json_t *j;
	char *s;

	src = memsrc_new();
	split_input(src, (const char *)data, size);
	spec_diags_init(&diags);
	lr_err_clear(&err);
	spec_repo_load(src, &repo, &diags, &err);
	walk_repo(repo);
	spec_diags_sort(&diags);
	spec_diags_print(&diags, devnull, 20);
	spec_diags_print(&diags, devnull, 0);
	j = spec_diags_to_json(&diags);
	s = json_dumps(j, JSON_COMPACT);
	free(s);
	json_decref(j);
	spec_diags_release(&diags);
	spec_repo_free(repo);
	spec_source_free(src);
	return 0;
}
