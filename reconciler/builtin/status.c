/*
 * leura status [--json] [--failed] [NAME...]: per host and per service,
 * converged or not, from what is applied, what agents reported and which
 * agents are alive (reconcile/status.c decides and selects; this prints),
 * and an exit status that says the worst state shown.
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
    "usage: leura status [--json] [--failed] [--etcd URL[,URL...]] "
    "[HOST|SERVICE...]\n";

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
 * The table; with all false (names or --failed), a section with no rows
 * is left out.
 */
static void
print_table(const json_t *st, const struct rec_applied *a, bool all)
{
	struct lr_buf b = LR_BUF_INIT;
	struct proto_head h;
	const char **keys, *k;
	json_t *v;
	char gen[48];
	size_t i, n;

	proto_head_decode(a->head, &h);
	lr_buf_printf(&b, "Deploy #%lld, commit ", (long long)h.deploy);
	/* a head without a field (not what Leura writes) shows it empty */
	if (h.commit != NULL)
		lr_buf_add_visible(&b, h.commit, strnlen(h.commit, 12), 0);
	lr_buf_printf(&b, ", generation %lld (applied by ",
	    (long long)a->generation);
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
		lr_buf_printf(&b, " %-6zu ", json_array_size(
		    json_object_get(v, "hosts")));
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

enum { OPT_JSON = CMD_OPT_BASE, OPT_FAILED };

int
cmd_status(int argc, char **argv, struct lr_ctx *ctx)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, OPT_JSON },
		{ "failed", no_argument, NULL, OPT_FAILED },
		CONN_LONGOPTS,
		CMD_HELP_LONGOPT,
		{ NULL, 0, NULL, 0 }
	};
	struct rec_compiled docs = { 0 };
	struct rec_applied a = { 0 };
	struct conn c = { 0 };
	struct lr_err err;
	json_t *observed = NULL, *agents = NULL, *st = NULL;
	const char **names;
	size_t nnames = 0;
	bool json = false, failed = false, all;
	int i, rc = LR_EXIT_FAIL, worst;

	while ((i = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
		if (i == OPT_JSON)
			json = true;
		else if (i == OPT_FAILED)
			failed = true;
		else if (!conn_getopt(i, optarg, ctx))
			return cmd_bad_option(i, argv, usage_str);
	}
	if ((rc = cmd_operands(argc, argv, usage_str)) != 0)
		return rc;
	rc = LR_EXIT_FAIL;
	names = lr_xcalloc((size_t)argc + 1, sizeof(*names));
	while (optind < argc)
		names[nnames++] = argv[optind++];
	all = nnames == 0 && !failed;
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
	if (rec_status_select(st, names, nnames, &err) < 0) {
		lr_err_print(&err);
		goto out;
	}
	/* the worst of what was asked about, before --failed hides rows */
	worst = exit_of(rec_status_worst(st));
	if (failed)
		rec_status_only_not_fine(st);
	if (json) {
		json_object_set_new(st, "deploy", a.head ? json_incref(
		    json_object_get(a.head, PROTO_HEAD_DEPLOY)) :
		    json_null());
		json_object_set_new(st, "commit", a.head ? json_incref(
		    json_object_get(a.head, PROTO_HEAD_COMMIT)) :
		    json_null());
		json_object_set_new(st, "generation", json_integer(
		    a.generation));
		cmd_print_json(st);
	} else if (a.head == NULL)
		printf("Nothing applied yet at %s (prefix %s).\nhint: run "
		    "'leura apply' in the config repo\n", c.endpoints,
		    c.prefix);
	else {
		print_table(st, &a, all);
		if (failed && json_object_size(json_object_get(st, "hosts")) +
		    json_object_size(json_object_get(st, "services")) == 0)
			printf("\nNothing failed, drifted or unknown.\n");
	}
	rc = worst;
out:
	free(names);
	json_decref(st);
	json_decref(observed);
	json_decref(agents);
	rec_compiled_release(&docs);
	rec_applied_release(&a);
	conn_release(&c);
	return rc;
}
