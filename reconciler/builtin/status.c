/*
 * leura status [--json] [--failed] [NAME...]: per host and per service,
 * converged or not, from what is applied, what agents reported and which
 * agents are alive (reconcile/status.c decides and selects; this prints),
 * and an exit status that says the worst state shown.  With a server
 * configured (and no --direct), from leurad's GET /v1/status: what the
 * caller may read, printed by the same code.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "builtin.h"
#include "doc.h"
#include "json.h"
#include "state.h"
#include "xalloc.h"

static const char usage_str[] =
    "usage: leura status [--json] [--failed] [--etcd URL[,URL...] | "
    "--server URL | --direct] [HOST|SERVICE...]\n";

/* Exit statuses beyond DESIGN.md's (leura-status(1), EXIT STATUS). */
enum {
	STATUS_EXIT_FAILED = 2,		/* something failed or drifted */
	STATUS_EXIT_UNKNOWN = 3,	/* an agent is down or never reported */
	STATUS_EXIT_CONVERGING = 4	/* on its way: look again later */
};

#define TAIL_LINES	5	/* of a failed step's output */

/* Print b without its trailing blanks (an empty last column). */
static void
print_line(struct lr_buf *b)
{
	while (b->len && b->s[b->len - 1] == ' ')
		b->s[--b->len] = '\0';
	printf("%s\n", b->s);
}

/*
 * A cell of at least width columns (as %-*s): s, or "" for NULL, made
 * visible, for the store's words are anyone's with etcd access.
 */
static void
add_cell(struct lr_buf *b, const char *s, size_t width)
{
	size_t at = b->len;

	if (s != NULL)
		lr_buf_add_visible(b, s, strlen(s), 0);
	while (b->len - at < width)
		lr_buf_addc(b, ' ');
}

/* The end of the output of host h's failed steps, under its row. */
static void
print_failures(const json_t *h)
{
	struct lr_buf b = LR_BUF_INIT;
	const char *out;
	json_t *f;
	size_t i;

	if (strcmp(json_string_value(json_object_get(h, "state")),
	    "failed") != 0)
		return;
	json_array_foreach(json_object_get(h, "failures"), i, f) {
		out = json_string_value(json_object_get(f, "output"));
		if (out == NULL || *out == '\0')
			continue;
		lr_buf_reset(&b);
		lr_buf_adds(&b, "    output of '");
		add_cell(&b, json_string_value(json_object_get(f, "id")), 0);
		lr_buf_adds(&b, "' (its end):");
		printf("%s\n", b.s);
		cmd_print_tail(out, TAIL_LINES, "      ");
	}
	lr_buf_release(&b);
}

/*
 * The table under the head (P/desired/head's fields) of generation;
 * with all false (names or --failed), a section with no rows is left
 * out.
 */
static void
print_table(const json_t *st, const json_t *head, int64_t generation,
    bool all)
{
	struct lr_buf b = LR_BUF_INIT;
	struct proto_head h;
	const char **keys, *k;
	json_t *v;
	char gen[48];
	size_t i, n;

	proto_head_decode(head, &h);
	lr_buf_printf(&b, "Deploy #%lld, commit ", (long long)h.deploy);
	/* a head without a field (not what Leura writes) shows it empty */
	if (h.commit != NULL)
		lr_buf_add_visible(&b, h.commit, strnlen(h.commit, 12), 0);
	lr_buf_printf(&b, ", generation %lld (applied by ",
	    (long long)generation);
	add_cell(&b, h.by, 0);
	lr_buf_adds(&b, " at ");
	add_cell(&b, h.at, 0);
	printf("%s)\n", b.s);
	keys = lr_json_keys(json_object_get(st, "hosts"), true, &n);
	if (all || n > 0)
		printf("\n%-20s %-6s %-11s %-9s %s\n", "HOST", "AGENT",
		    "STATE", "GEN", "REASON");
	for (i = 0; i < n; i++) {
		k = keys[i];
		v = json_object_get(json_object_get(st, "hosts"), k);
		if (json_is_null(json_object_get(v, "observed_generation")))
			snprintf(gen, sizeof(gen), "-/%lld", (long long)
			    json_integer_value(json_object_get(v,
			    "generation")));
		else
			snprintf(gen, sizeof(gen), "%lld/%lld", (long long)
			    json_integer_value(json_object_get(v,
			    "observed_generation")), (long long)
			    json_integer_value(json_object_get(v,
			    "generation")));
		lr_buf_reset(&b);
		add_cell(&b, k, 20);
		lr_buf_printf(&b, " %-6s ", json_is_true(json_object_get(v,
		    "alive")) ? "up" : "down");
		add_cell(&b, json_string_value(json_object_get(v, "state")),
		    11);
		lr_buf_printf(&b, " %-9s ", gen);
		add_cell(&b, json_string_value(json_object_get(v, "reason")),
		    0);
		print_line(&b);
		print_failures(v);
	}
	free(keys);
	keys = lr_json_keys(json_object_get(st, "services"), true, &n);
	if (all || n > 0)
		printf("\n%-20s %-11s %-6s %s\n", "SERVICE", "STATE",
		    "HOSTS", "REASON");
	for (i = 0; i < n; i++) {
		k = keys[i];
		v = json_object_get(json_object_get(st, "services"), k);
		lr_buf_reset(&b);
		add_cell(&b, k, 20);
		lr_buf_addc(&b, ' ');
		add_cell(&b, json_string_value(json_object_get(v, "state")),
		    11);
		/* through leurad, hosts the caller may not read are
		   counted in hidden_hosts (server/read_snap.c) */
		lr_buf_printf(&b, " %-6zu ", json_array_size(
		    json_object_get(v, "hosts")) +
		    (size_t)lr_json_int(v, "hidden_hosts"));
		add_cell(&b, json_string_value(json_object_get(v, "reason")),
		    0);
		print_line(&b);
	}
	free(keys);
	lr_buf_release(&b);
}

/* The exit status of the worst state selected. */
static int
exit_of(const char *worst)
{
	if (strcmp(worst, "failed") == 0 || strcmp(worst, "drifted") == 0)
		return STATUS_EXIT_FAILED;
	if (strcmp(worst, "unknown") == 0)
		return STATUS_EXIT_UNKNOWN;
	if (strcmp(worst, "converging") == 0)
		return STATUS_EXIT_CONVERGING;
	return LR_EXIT_OK;
}

/* What was asked, for both paths. */
struct status_opts {
	const char **names;
	size_t	 nnames;
	bool	 json;
	bool	 failed;
};

/*
 * Select what o names in st, print it (st as --json prints it; head NULL:
 * nothing applied, empty printed) and return the exit status of the
 * worst selected state.
 */
static int
show(json_t *st, const json_t *head, int64_t generation,
    const struct status_opts *o, const char *empty)
{
	struct lr_err err;
	int worst;

	lr_err_clear(&err);
	if (rec_status_select(st, o->names, o->nnames, &err) < 0) {
		lr_err_print(&err);
		return LR_EXIT_FAIL;
	}
	/* the worst of what was asked about, before --failed hides rows */
	worst = exit_of(rec_status_worst(st));
	if (o->failed)
		rec_status_only_not_fine(st);
	if (o->json)
		cmd_print_json(st);
	else if (head == NULL)
		fputs(empty, stdout);
	else {
		print_table(st, head, generation, o->nnames == 0 &&
		    !o->failed);
		if (o->failed && json_object_size(json_object_get(st,
		    "hosts")) + json_object_size(json_object_get(st,
		    "services")) == 0)
			printf("\nNothing failed, drifted or unknown.\n");
	}
	return worst;
}

/* leura status straight from etcd. */
static int
status_direct(struct lr_ctx *ctx, const struct status_opts *o)
{
	struct rec_compiled docs = { 0 };
	struct rec_applied a = { 0 };
	struct conn c = { 0 };
	struct lr_err err;
	json_t *observed = NULL, *agents = NULL, *st = NULL;
	char *empty = NULL;
	int rc = LR_EXIT_FAIL;

	lr_err_clear(&err);
	if (conn_open(&c, ctx) != 0)
		goto out;
	if (rec_applied_load(c.etcd, c.prefix, &a, &err) < 0) {
		lr_err_print(&err);
		goto out;
	}
	if (conn_check_fleet(&c, a.fleet) != 0)
		goto out;
	if (rec_applied_docs(c.etcd, &a, NULL, &docs, &err) < 0 ||
	    rec_observed_load(c.etcd, c.prefix, &observed, &agents,
	    &err) < 0) {
		lr_err_print(&err);
		goto out;
	}
	st = rec_status(docs.desired, observed, agents, (int64_t)time(NULL));
	json_object_set_new(st, "deploy", a.head ? json_incref(
	    json_object_get(a.head, PROTO_HEAD_DEPLOY)) : json_null());
	json_object_set_new(st, "commit", a.head ? json_incref(
	    json_object_get(a.head, PROTO_HEAD_COMMIT)) : json_null());
	json_object_set_new(st, "generation", json_integer(a.generation));
	empty = lr_xasprintf("Nothing applied yet at %s (prefix %s).\n"	/* ours */
	    "hint: run 'leura apply' in the config repo\n", c.endpoints,
	    c.prefix);
	rc = show(st, a.head, a.generation, o, empty);
out:
	free(empty);
	json_decref(st);
	json_decref(observed);
	json_decref(agents);
	rec_compiled_release(&docs);
	rec_applied_release(&a);
	conn_release(&c);
	return rc;
}

/*
 * A name that is neither a host nor a service the server showed: it may
 * exist and be out of the caller's reach; LR_EXIT_FAIL.
 */
static int
not_readable(const struct remote *r, const char *name)
{
	fprintf(stderr, "leura: error: no host or service '%s' that you may "
	    "read at %s\nhint: 'leura can read services/%s' (or hosts/%s) "
	    "says whether you may; an admin grants it\n", cmd_vis(name),
	    cmd_vis(r->url), cmd_vis(name), cmd_vis(name));
	return LR_EXIT_FAIL;
}

/* leura status through leurad: GET /v1/status, what the caller may read. */
static int
status_remote(struct lr_ctx *ctx, const struct status_opts *o)
{
	struct remote r;
	json_t *st = NULL, *head = NULL, *hosts, *svcs;
	char *empty = NULL;
	size_t i;
	int rc;

	if ((rc = cmd_remote_open(&r, ctx, 0)) != 0)
		return rc;
	if ((rc = cmd_remote_call(&r, "GET", "/v1/status", NULL, &st)) != 0)
		goto out;
	rc = LR_EXIT_FAIL;
	hosts = json_object_get(st, "hosts");
	svcs = json_object_get(st, "services");
	if (!json_is_object(st) || !json_is_object(hosts) ||
	    !json_is_object(svcs)) {
		fprintf(stderr, "leura: error: %s answered GET /v1/status "
		    "with something other than a status\nhint: is it a "
		    "leurad of this version?\n", cmd_vis(r.url));
		goto out;
	}
	for (i = 0; i < o->nnames; i++)
		if (json_object_get(hosts, o->names[i]) == NULL &&
		    json_object_get(svcs, o->names[i]) == NULL) {
			rc = not_readable(&r, o->names[i]);
			goto out;
		}
	/* a deploy shown: its head as the direct path reads it */
	if (!json_is_null(json_object_get(st, "deploy")) &&
	    json_object_get(st, "deploy") != NULL)
		head = json_pack("{s:O, s:O?, s:O?, s:O?}", PROTO_HEAD_DEPLOY,
		    json_object_get(st, "deploy"), PROTO_HEAD_COMMIT,
		    json_object_get(st, "commit"), PROTO_HEAD_BY,
		    json_object_get(st, "applied_by"), PROTO_HEAD_AT,
		    json_object_get(st, "applied_at"));
	empty = lr_xasprintf("Nothing to show at %s: nothing is applied "	/* ours */
	    "yet, or you may read none of it.\nhint: 'leura can read "
	    "services/NAME' says whether you may read a service; ask an "
	    "admin for a grant ('leura grant USER read services/NAME')\n",
	    cmd_vis(r.url));
	rc = show(st, head, lr_json_int(st, "generation"), o, empty);
out:
	free(empty);
	json_decref(head);
	json_decref(st);
	cmd_remote_release(&r);
	return rc;
}

enum { OPT_JSON = CMD_OPT_BASE, OPT_FAILED, OPT_DIRECT };

int
cmd_status(int argc, char **argv, struct lr_ctx *ctx)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, OPT_JSON },
		{ "failed", no_argument, NULL, OPT_FAILED },
		{ "direct", no_argument, NULL, OPT_DIRECT },
		CONN_LONGOPTS,
		SERVER_LONGOPT,
		CMD_HELP_LONGOPT,
		{ NULL, 0, NULL, 0 }
	};
	struct status_opts o = { 0 };
	char *url = NULL, *cacert = NULL;
	bool direct = false;
	int i, rc;

	while ((i = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
		if (i == OPT_JSON)
			o.json = true;
		else if (i == OPT_FAILED)
			o.failed = true;
		else if (i == OPT_DIRECT)
			direct = true;
		else if (!conn_getopt(i, optarg, ctx))
			return cmd_bad_option(i, argv, usage_str);
	}
	if ((rc = cmd_operands(argc, argv, usage_str)) != 0)
		return rc;
	/* through leurad when one is configured, as plan and apply */
	if (!direct && (rc = cmd_remote_url(ctx, &url, &cacert)) != 0)
		return rc;
	free(cacert);
	o.names = lr_xcalloc((size_t)argc + 1, sizeof(*o.names)); /* ours */
	while (optind < argc)
		o.names[o.nnames++] = argv[optind++];
	rc = url != NULL ? status_remote(ctx, &o) : status_direct(ctx, &o);
	free(url);
	free(o.names);
	return rc;
}
