/*
 * Tests of inventory/: the Ansible dynamic inventory, group member lists
 * and Prometheus targets, from real repos written to a temp dir and loaded
 * with spec_repo_load, against placements written here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "inventory.h"
#include "xalloc.h"

/* ---- fixture: a repo in a temp dir ---- */

/* The temp dir in use, for the teardown when a test fails midway. */
static char live_dir[64];

struct fx {
	char	 dir[sizeof(live_dir)];
	struct spec_source *src;
	struct spec_repo *repo;
	struct spec_diags diags;
};

static void
write_file(const char *dir, const char *path, const char *text)
{
	char *full = lr_xasprintf("%s/%s", dir, path), *p;
	FILE *fp;

	for (p = full + strlen(dir) + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		mkdir(full, 0755);
		*p = '/';
	}
	fp = fopen(full, "w");
	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
	free(full);
}

/*
 * Write files (path, text pairs, NULL-ended) and load the repo, which must
 * return want_rc (0, or LR_EINVAL for a repo with errors).
 */
static void
fx_vload(struct fx *fx, int want_rc, va_list ap)
{
	struct lr_err err = { 0 };
	const char *path, *text;
	int rc;

	memset(fx, 0, sizeof(*fx));
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/leura-inv-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	memcpy(live_dir, fx->dir, sizeof(live_dir));
	while ((path = va_arg(ap, const char *)) != NULL) {
		text = va_arg(ap, const char *);
		write_file(fx->dir, path, text);
	}
	spec_diags_init(&fx->diags);
	assert_int_equal(spec_source_dir_new(fx->dir, &fx->src, &err), 0);
	rc = spec_repo_load(fx->src, &fx->repo, &fx->diags, &err);
	if (rc != want_rc)
		spec_diags_print(&fx->diags, stderr, 0);
	assert_int_equal(rc, want_rc);
}

static void
fx_load(struct fx *fx, ...)
{
	va_list ap;

	va_start(ap, fx);
	fx_vload(fx, 0, ap);
	va_end(ap);
}

static void
fx_load_rc(struct fx *fx, int want_rc, ...)
{
	va_list ap;

	va_start(ap, want_rc);
	fx_vload(fx, want_rc, ap);
	va_end(ap);
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void
fx_free(struct fx *fx)
{
	spec_repo_free(fx->repo);
	spec_source_free(fx->src);
	spec_diags_release(&fx->diags);
	assert_int_equal(nftw(fx->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
	live_dir[0] = '\0';
}

/* Teardown: remove the temp dir of a test that failed before fx_free. */
static int
rm_live(void **state)
{
	if (live_dir[0] != '\0')
		nftw(live_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	live_dir[0] = '\0';
	return 0;
}

static void
assert_json(json_t *got, const char *want_text)
{
	json_error_t jerr;
	json_t *want = json_loads(want_text, 0, &jerr);
	char *g, *w;

	if (want == NULL)
		fail_msg("bad expected JSON: %s (line %d)", jerr.text,
		    jerr.line);
	if (!json_equal(got, want)) {
		g = json_dumps(got, JSON_SORT_KEYS | JSON_INDENT(1));
		w = json_dumps(want, JSON_SORT_KEYS | JSON_INDENT(1));
		print_error("got:\n%s\nwant:\n%s\n", g, w);
		free(g);
		free(w);
		json_decref(want);
		fail();
	}
	json_decref(want);
}

static json_t *
placement(const char *text)
{
	json_error_t jerr;
	json_t *p = json_loads(text, 0, &jerr);

	if (p == NULL)
		fail_msg("bad placement JSON: %s", jerr.text);
	return p;
}

/*
 * inv_ansible_write gives the text of inv_ansible: valid JSON, no
 * duplicate keys, equal documents.
 */
static void
assert_write_matches(const struct spec_repo *repo, const json_t *pl)
{
	struct lr_err err = { 0 };
	json_error_t jerr;
	json_t *doc, *text;
	char *buf = NULL;
	size_t len = 0;
	FILE *fp;

	fp = open_memstream(&buf, &len);
	assert_non_null(fp);
	assert_int_equal(inv_ansible_write(repo, pl, fp, &err), 0);
	assert_int_equal(fclose(fp), 0);
	text = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (text == NULL)
		fail_msg("inv_ansible_write: %s at %d: %.200s", jerr.text,
		    jerr.position, buf);
	doc = inv_ansible(repo, pl);
	assert_true(json_equal(text, doc));
	json_decref(text);
	json_decref(doc);
	free(buf);
}

/* The flag of service svc: enable_<svc> with '-' and '.' as '_'. */
static char *
flag_key(const char *svc)
{
	char *key = lr_xasprintf("enable_%s", svc), *p;

	for (p = key; *p != '\0'; p++)
		if (*p == '-' || *p == '.')
			*p = '_';
	return key;
}

/* ---- the reference repo ---- */

static const char hosts_yml[] =
    "hosts:\n"
    "  web1: {address: 192.0.2.11, groups: [frontend],\n"
    "         vars: {zone: a, http_port: 8081}}\n"
    "  web2: {address: 192.0.2.12, groups: [frontend], vars: {zone: b}}\n"
    "  db1:  {address: '2001:db8::21', vars: {zone: a}}\n"
    "  bare: {groups: [backend],\n"
    "         vars: {level: host, enable_web: maybe, enable_x: 1}}\n"
    "groups:\n"
    "  all: {vars: {domain: infra.example.com, zone: none, level: all}}\n"
    "  frontend: {description: web tier,\n"
    "             vars: {http_port: 8080, level: frontend}}\n"
    "  backend: {hosts: [db1, web1], vars: {level: backend}}\n"
    "  empty: {description: nobody yet}\n";

static const char services_yml[] =
    "web:\n"
    "  scheduling_group: frontend\n"
    "  monitoring_endpoints:\n"
    "    - {job_name: web-metrics, port: 9100, scheme: http, type: static}\n"
    "db:\n"
    "  scheduling_group: backend\n"
    "  num_instances: 1\n"
    "  monitoring_endpoints: [{port: 9187}, {port: 9999, type: dynamic}]\n"
    "node-exporter:\n"
    "  monitoring_endpoints: [{port: 9100, scheme: http}]\n"
    "cache:\n"
    "  scheduling_group: frontend\n"
    "  monitoring_endpoints:\n"
    "    - {port: 6060, type: static, metrics_path: /debug/metrics}\n";

static const char placement_json[] =
    "{\"services\": {"
    " \"web\": [\"web2\", \"web1\"],"
    " \"db\": [\"db1\"],"
    " \"node-exporter\": [\"bare\", \"db1\", \"web1\", \"web2\", \"ghost\","
    "                     \"web1\", 7],"
    " \"unknown\": [\"web1\"]}}";

static void
load_reference(struct fx *fx)
{
	fx_load(fx, "inventory/hosts.yml", hosts_yml,
	    "services.yml", services_yml, NULL);
}

/* ---- inv_ansible ---- */

static void
test_inv_ansible__reference_document(void **state)
{
	struct fx fx;
	json_t *pl, *inv;

	load_reference(&fx);
	pl = placement(placement_json);
	inv = inv_ansible(fx.repo, pl);
	assert_json(inv, "{"
	    "\"_meta\": {\"hostvars\": {"
	    " \"web1\": {\"domain\": \"infra.example.com\", \"zone\": \"a\","
	    "   \"level\": \"frontend\", \"http_port\": 8081,"
	    "   \"ansible_host\": \"192.0.2.11\", \"enable_cache\": false,"
	    "   \"enable_db\": false, \"enable_node_exporter\": true,"
	    "   \"enable_web\": true},"
	    " \"web2\": {\"domain\": \"infra.example.com\", \"zone\": \"b\","
	    "   \"level\": \"frontend\", \"http_port\": 8080,"
	    "   \"ansible_host\": \"192.0.2.12\", \"enable_cache\": false,"
	    "   \"enable_db\": false, \"enable_node_exporter\": true,"
	    "   \"enable_web\": true},"
	    " \"db1\": {\"domain\": \"infra.example.com\", \"zone\": \"a\","
	    "   \"level\": \"backend\", \"ansible_host\": \"2001:db8::21\","
	    "   \"enable_cache\": false, \"enable_db\": true,"
	    "   \"enable_node_exporter\": true, \"enable_web\": false},"
	    " \"bare\": {\"domain\": \"infra.example.com\", \"zone\": \"none\","
	    "   \"level\": \"host\", \"enable_x\": 1, \"enable_cache\": false,"
	    "   \"enable_db\": false, \"enable_node_exporter\": true,"
	    "   \"enable_web\": false}}},"
	    "\"all\": {\"hosts\": [\"bare\", \"db1\", \"web1\", \"web2\"],"
	    "  \"vars\": {\"domain\": \"infra.example.com\","
	    "    \"zone\": \"none\", \"level\": \"all\"}},"
	    "\"frontend\": {\"hosts\": [\"web1\", \"web2\"],"
	    "  \"vars\": {\"http_port\": 8080, \"level\": \"frontend\"}},"
	    "\"backend\": {\"hosts\": [\"bare\", \"db1\", \"web1\"],"
	    "  \"vars\": {\"level\": \"backend\"}},"
	    "\"empty\": {\"hosts\": []},"
	    "\"web\": {\"hosts\": [\"web1\", \"web2\"]},"
	    "\"db\": {\"hosts\": [\"db1\"]},"
	    "\"node-exporter\": {\"hosts\": [\"bare\", \"db1\", \"web1\","
	    "  \"web2\"]},"
	    "\"cache\": {\"hosts\": []}"
	    "}");
	json_decref(inv);
	json_decref(pl);
	fx_free(&fx);
}

/* Every host has a flag for every service, true exactly where placed. */
static void
test_inv_ansible__enable_flags_match_placement(void **state)
{
	struct fx fx;
	json_t *pl, *inv, *hv, *flag, *list, *v;
	const struct spec_service *svc;
	const struct spec_host *h;
	char *key;
	size_t i, j, k;
	bool placed;

	load_reference(&fx);
	pl = placement(placement_json);
	inv = inv_ansible(fx.repo, pl);
	for (i = 0; i < fx.repo->nhosts; i++) {
		h = &fx.repo->hosts[i];
		hv = json_object_get(json_object_get(json_object_get(inv,
		    "_meta"), "hostvars"), h->name);
		assert_non_null(hv);
		for (j = 0; j < fx.repo->nservices; j++) {
			svc = &fx.repo->services[j];
			key = flag_key(svc->name);
			flag = json_object_get(hv, key);
			assert_true(json_is_boolean(flag));
			list = json_object_get(json_object_get(pl, "services"),
			    svc->name);
			placed = false;
			json_array_foreach(list, k, v)
				if (json_is_string(v) && strcmp(
				    json_string_value(v), h->name) == 0)
					placed = true;
			assert_int_equal(json_is_true(flag), placed);
			free(key);
		}
	}
	json_decref(inv);
	json_decref(pl);
	fx_free(&fx);
}

/* Remove what the export adds to the vars: ansible_host and the flags. */
static void
strip_added(const struct spec_repo *repo, json_t *vars)
{
	char *key;
	size_t j;

	json_object_del(vars, "ansible_host");
	for (j = 0; j < repo->nservices; j++) {
		key = flag_key(repo->services[j].name);
		json_object_del(vars, key);
		free(key);
	}
}

/* Vars precedence all < group < host: the same as spec_host_vars. */
static void
test_inv_ansible__vars_match_spec_host_vars(void **state)
{
	struct fx fx;
	json_t *inv, *hv, *want, *got;
	size_t i;

	load_reference(&fx);
	inv = inv_ansible(fx.repo, NULL);
	for (i = 0; i < fx.repo->nhosts; i++) {
		hv = json_object_get(json_object_get(json_object_get(inv,
		    "_meta"), "hostvars"), fx.repo->hosts[i].name);
		got = json_copy(hv);
		strip_added(fx.repo, got);
		want = spec_host_vars(fx.repo, &fx.repo->hosts[i]);
		strip_added(fx.repo, want);
		assert_true(json_equal(got, want));
		json_decref(got);
		json_decref(want);
	}
	json_decref(inv);
	fx_free(&fx);
}

/* Without a placement, or with a malformed one: nothing is placed. */
static void
test_inv_ansible__no_or_bad_placement(void **state)
{
	static const char *const bad[] = {
		"{}", "[]", "{\"services\": []}",
		"{\"services\": {\"web\": \"web1\", \"db\": {\"a\": 1},"
		" \"cache\": [[\"web1\"], null, {}, 1]}}",
	};
	struct fx fx;
	json_t *pl, *inv, *hv;
	char *key;
	size_t i, j, t;

	load_reference(&fx);
	for (t = 0; t <= sizeof(bad) / sizeof(*bad); t++) {
		pl = t == 0 ? NULL : placement(bad[t - 1]);
		inv = inv_ansible(fx.repo, pl);
		for (i = 0; i < fx.repo->nhosts; i++) {
			hv = json_object_get(json_object_get(json_object_get(
			    inv, "_meta"), "hostvars"),
			    fx.repo->hosts[i].name);
			for (j = 0; j < fx.repo->nservices; j++) {
				key = flag_key(fx.repo->services[j].name);
				assert_true(json_is_false(
				    json_object_get(hv, key)));
				free(key);
			}
		}
		for (i = 0; i < fx.repo->nservices; i++)
			assert_int_equal(json_array_size(json_object_get(
			    json_object_get(inv, fx.repo->services[i].name),
			    "hosts")), 0);
		json_decref(inv);
		json_decref(pl);
	}
	fx_free(&fx);
}

/*
 * The loader refuses a service named like a group; the export of what did
 * load still works: one entry, the union of the hosts.
 */
static void
test_inv_ansible__service_named_like_group(void **state)
{
	struct fx fx;
	json_t *pl, *inv;

	fx_load_rc(&fx, LR_EINVAL, "inventory/hosts.yml",
	    "hosts:\n"
	    "  a1: {groups: [mon]}\n"
	    "  a2: {}\n"
	    "  a3: {}\n"
	    "groups:\n"
	    "  mon: {vars: {x: 1}}\n",
	    "services.yml", "mon: {}\n", NULL);
	assert_int_equal(fx.diags.nerrors, 1);
	assert_string_equal(fx.diags.v[0].msg,
	    "service 'mon' has the same name as inventory group 'mon'");
	pl = placement("{\"services\": {\"mon\": [\"a3\"]}}");
	inv = inv_ansible(fx.repo, pl);
	assert_json(json_object_get(inv, "mon"),
	    "{\"hosts\": [\"a1\", \"a3\"], \"vars\": {\"x\": 1}}");
	assert_true(json_is_true(json_object_get(json_object_get(
	    json_object_get(json_object_get(inv, "_meta"), "hostvars"),
	    "a3"), "enable_mon")));
	json_decref(inv);
	json_decref(pl);
	fx_free(&fx);
}

/* 'a-b' and 'a.b' both become enable_a_b: true where either runs. */
static void
test_inv_ansible__shared_flag_name(void **state)
{
	struct fx fx;
	json_t *pl, *inv;

	fx_load(&fx, "inventory/hosts.yml",
	    "hosts:\n  h1: {}\n  h2: {}\n  h3: {}\n",
	    "services.yml", "a-b: {}\n'a.b': {}\n", NULL);
	pl = placement("{\"services\":"
	    " {\"a-b\": [\"h1\"], \"a.b\": [\"h2\"]}}");
	inv = inv_ansible(fx.repo, pl);
	assert_json(json_object_get(json_object_get(inv, "_meta"),
	    "hostvars"),
	    "{\"h1\": {\"enable_a_b\": true}, \"h2\": {\"enable_a_b\": true},"
	    " \"h3\": {\"enable_a_b\": false}}");
	assert_json(json_object_get(inv, "a.b"), "{\"hosts\": [\"h2\"]}");
	json_decref(inv);
	json_decref(pl);
	fx_free(&fx);
}

/* Many hosts, groups listed both ways, many services: spot checks. */
static void
test_inv_ansible__large_repo(void **state)
{
	enum { NH = 2000, NG = 20, NS = 300 };
	struct lr_buf hosts = LR_BUF_INIT, services = LR_BUF_INIT;
	struct lr_buf pls = LR_BUF_INIT;
	struct fx fx;
	size_t i, g, s;
	json_t *pl, *inv, *hv;
	char *name;

	lr_buf_adds(&hosts, "hosts:\n");
	for (i = 0; i < NH; i++)
		lr_buf_printf(&hosts, "  h%04zu: {groups: [g%02zu]}\n", i,
		    i % NG);
	lr_buf_adds(&hosts, "groups:\n");
	for (g = 0; g < NG; g++) {
		lr_buf_printf(&hosts, "  g%02zu:\n    vars: {g: %zu}\n"
		    "    hosts:\n", g, g);
		/* and lists the hosts whose number is one more than its own */
		for (i = g; i < NH; i += NG)
			lr_buf_printf(&hosts, "      - h%04zu\n", (i + 1) % NH);
	}
	for (s = 0; s < NS; s++)
		lr_buf_printf(&services, "s%03zu: {}\n", s);
	lr_buf_adds(&pls, "{\"services\": {");
	for (s = 0; s < NS; s++)
		lr_buf_printf(&pls, "%s\"s%03zu\": [\"h%04zu\", \"h%04zu\"]",
		    s ? ", " : "", s, (s * 7 + 1) % NH, (s * 7) % NH);
	lr_buf_adds(&pls, "}}");
	fx_load(&fx, "inventory/hosts.yml", hosts.s, "services.yml",
	    services.s, NULL);
	pl = placement(pls.s);
	inv = inv_ansible(fx.repo, pl);
	assert_int_equal(json_array_size(json_object_get(json_object_get(inv,
	    "all"), "hosts")), NH);
	/* a group's own hosts and the hosts it lists never overlap */
	for (g = 0; g < NG; g++) {
		name = lr_xasprintf("g%02zu", g);
		assert_int_equal(json_array_size(json_object_get(
		    json_object_get(inv, name), "hosts")), 2 * NH / NG);
		free(name);
	}
	/* h0007: in g07 (own) and g06 (listed), g07's vars last */
	hv = json_object_get(json_object_get(json_object_get(inv, "_meta"),
	    "hostvars"), "h0007");
	assert_int_equal(json_object_size(hv), NS + 1);
	assert_int_equal(json_integer_value(json_object_get(hv, "g")), 7);
	assert_true(json_is_true(json_object_get(hv, "enable_s001")));
	assert_true(json_is_false(json_object_get(hv, "enable_s000")));
	assert_json(json_object_get(inv, "s001"),
	    "{\"hosts\": [\"h0007\", \"h0008\"]}");
	assert_write_matches(fx.repo, pl);
	json_decref(inv);
	json_decref(pl);
	lr_buf_release(&hosts);
	lr_buf_release(&services);
	lr_buf_release(&pls);
	fx_free(&fx);
}

/* ---- inv_ansible_write ---- */

static void
test_inv_ansible_write__same_document(void **state)
{
	struct fx fx;
	json_t *pl;

	load_reference(&fx);
	pl = placement(placement_json);
	assert_write_matches(fx.repo, pl);
	assert_write_matches(fx.repo, NULL);
	json_decref(pl);
	fx_free(&fx);

	/* shared flags, and a host with neither vars, address nor flags */
	fx_load(&fx, "inventory/hosts.yml",
	    "hosts:\n  h1: {}\n  h2: {vars: {a: [1, {b: null}]}}\n",
	    "services.yml", "a-b: {}\n'a.b': {}\na_b: {}\n", NULL);
	pl = placement("{\"services\": {\"a.b\": [\"h2\"]}}");
	assert_write_matches(fx.repo, pl);
	json_decref(pl);
	fx_free(&fx);

	fx_load(&fx, "inventory/hosts.yml", "hosts:\n  h1: {}\n",
	    "services.yml", "{}\n", NULL);
	assert_write_matches(fx.repo, NULL);
	fx_free(&fx);
}

/* A repo that loaded with errors (no hosts at all) still exports. */
static void
test_inv_ansible_write__empty_inventory(void **state)
{
	struct fx fx;
	json_t *inv;

	fx_load_rc(&fx, LR_EINVAL, "services.yml", "web: {}\n", NULL);
	inv = inv_ansible(fx.repo, NULL);
	assert_json(inv, "{\"_meta\": {\"hostvars\": {}},"
	    " \"all\": {\"hosts\": []}, \"web\": {\"hosts\": []}}");
	json_decref(inv);
	assert_write_matches(fx.repo, NULL);
	fx_free(&fx);
}

/* A stream that fails: LR_EIO with a message, no crash, no leak. */
static void
test_inv_ansible_write__write_error(void **state)
{
	struct lr_err err = { 0 };
	struct fx fx;
	FILE *fp;

	load_reference(&fx);
	fp = fopen("/dev/full", "w");
	if (fp == NULL) {
		fx_free(&fx);
		skip();
	}
	assert_int_equal(inv_ansible_write(fx.repo, NULL, fp, &err),
	    LR_EIO);
	assert_non_null(strstr(err.msg, "cannot write the Ansible inventory"));
	fclose(fp);
	fx_free(&fx);
}

/* ---- inv_group_hosts ---- */

static void
test_inv_group_hosts__both_ways(void **state)
{
	struct fx fx;
	json_t *v;

	load_reference(&fx);
	assert_json(v = inv_group_hosts(fx.repo, "backend"),
	    "[\"bare\", \"db1\", \"web1\"]");
	json_decref(v);
	assert_json(v = inv_group_hosts(fx.repo, "frontend"),
	    "[\"web1\", \"web2\"]");
	json_decref(v);
	assert_json(v = inv_group_hosts(fx.repo, "all"),
	    "[\"bare\", \"db1\", \"web1\", \"web2\"]");
	json_decref(v);
	assert_json(v = inv_group_hosts(fx.repo, "empty"), "[]");
	json_decref(v);
	assert_json(v = inv_group_hosts(fx.repo, "nosuch"), "[]");
	json_decref(v);
	fx_free(&fx);
}

/* ---- inv_prometheus_targets ---- */

static void
test_inv_prometheus_targets__static_endpoints(void **state)
{
	struct fx fx;
	json_t *pl, *t;

	load_reference(&fx);
	pl = placement(placement_json);
	t = inv_prometheus_targets(fx.repo, pl);
	assert_json(t, "["
	    "{\"targets\": [],"
	    " \"labels\": {\"job\": \"cache\", \"service\": \"cache\","
	    "  \"__scheme__\": \"https\", \"__metrics_path__\": \"/debug/metrics\"}},"
	    "{\"targets\": [\"[2001:db8::21]:9187\"],"
	    " \"labels\": {\"job\": \"db\", \"service\": \"db\","
	    "  \"__scheme__\": \"https\"}},"
	    "{\"targets\": [\"bare:9100\", \"[2001:db8::21]:9100\","
	    "  \"192.0.2.11:9100\", \"192.0.2.12:9100\"],"
	    " \"labels\": {\"job\": \"node-exporter\","
	    "  \"service\": \"node-exporter\", \"__scheme__\": \"http\"}},"
	    "{\"targets\": [\"192.0.2.11:9100\", \"192.0.2.12:9100\"],"
	    " \"labels\": {\"job\": \"web-metrics\", \"service\": \"web\","
	    "  \"__scheme__\": \"http\"}}"
	    "]");
	json_decref(t);
	json_decref(pl);
	fx_free(&fx);
}

/* Without a port a target is the address alone, and an IPv6 address is
 * still bracketed: Prometheus reads a bare "::1" as host ":" and port. */
static void
test_inv_prometheus_targets__no_port_brackets_v6(void **state)
{
	struct fx fx;
	json_t *pl, *t;

	(void)state;
	fx_load(&fx, "inventory/hosts.yml", hosts_yml,
	    "services.yml", "probe:\n"
	    "  monitoring_endpoints: [{type: static, scheme: http}]\n", NULL);
	pl = placement("{\"services\": {\"probe\": [\"db1\", \"web1\","
	    " \"bare\"]}}");
	t = inv_prometheus_targets(fx.repo, pl);
	assert_json(t, "["
	    "{\"targets\": [\"bare\", \"[2001:db8::21]\", \"192.0.2.11\"],"
	    " \"labels\": {\"job\": \"probe\", \"service\": \"probe\","
	    "  \"__scheme__\": \"http\"}}"
	    "]");
	json_decref(t);
	json_decref(pl);
	fx_free(&fx);
}

int
main(void)
{
#define T(f) cmocka_unit_test_teardown(f, rm_live)
	const struct CMUnitTest tests[] = {
		T(test_inv_ansible__reference_document),
		T(test_inv_ansible__enable_flags_match_placement),
		T(test_inv_ansible__vars_match_spec_host_vars),
		T(test_inv_ansible__no_or_bad_placement),
		T(test_inv_ansible__service_named_like_group),
		T(test_inv_ansible__shared_flag_name),
		T(test_inv_ansible__large_repo),
		T(test_inv_ansible_write__same_document),
		T(test_inv_ansible_write__empty_inventory),
		T(test_inv_ansible_write__write_error),
		T(test_inv_group_hosts__both_ways),
		T(test_inv_prometheus_targets__static_endpoints),
		T(test_inv_prometheus_targets__no_port_brackets_v6),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
