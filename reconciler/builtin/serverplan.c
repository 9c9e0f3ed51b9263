/*
 * plan and apply through leurad (POST /v1/plan, POST /v1/apply): what
 * `leura plan` and `leura apply` do when a server is configured (--server,
 * LEURA_SERVER, server.url) and --direct is not given.  The server plans
 * a ref of its own git source and applies it under the caller's identity:
 * it signs with the fleet's key, so no key is needed here, and it refuses
 * (403) an apply of anything the caller has no apply grant on, naming the
 * first service or host denied.  The answers are plan --json's and apply
 * --json's shapes; printed here as the direct path prints, made visible.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "builtin.h"
#include "json.h"
#include "planout.h"
#include "xalloc.h"

/* The plan answer printed as `leura plan` prints its own. */
static void
print_plan(const json_t *p, bool hint)
{
	const json_t *from = json_object_get(p, "from");
	const json_t *to = json_object_get(p, "to");
	const json_t *unc;
	const char *k;
	json_t *v;

	if (json_integer_value(json_object_get(p, "changes")) == 0 &&
	    lr_json_int(p, "writes") > 0) {
		printf("leura plan: %s -> %s\n\nNo step changes; the documents "
		    "of %lld host%s change and an apply writes them.\n",
		    cmd_field(from, "source"), cmd_field(to, "source"),
		    (long long)lr_json_int(p, "writes"),
		    lr_json_int(p, "writes") == 1 ? "" : "s");
	} else
		plan_print(p, lr_json_str(from, "source"),
		    lr_json_str(to, "source"), NULL, NULL, false);
	if (hint)
		printf("\nThis plan saw revision %lld of the desired state in "
		    "etcd: %s.\n", (long long)lr_json_int(from, "revision"),
		    cmd_field(from, "source"));
	if (hint && lr_json_int(p, "writes") > 0 &&
	    lr_json_strn(to, "commit"))
		printf("To apply commit %.12s only if nothing was applied "
		    "since:\n  leura apply --ref %.12s --expect-revision %lld\n",
		    cmd_field(to, "commit"), cmd_field(to, "commit"),
		    (long long)lr_json_int(from, "revision"));
	unc = json_object_get(p, "not_converged");
	if (json_object_size(unc) > 0) {
		printf("\nNot converged (reported by the agents; an apply "
		    "does not change this):\n");
		json_object_foreach((json_t *)unc, k, v)
			printf("  %s: %s%s%s\n", cmd_vis(k),
			    cmd_field(v, "state"),
			    lr_json_strn(v, "reason") ? ": " : "",
			    cmd_field(v, "reason"));
	}
}

/* {"ref"?, ...}: the body of both calls. */
static json_t *
ref_body(const struct cmd_remote_plan *o)
{
	json_t *b = json_object();

	lr_json_set_str(b, "ref", o->ref);
	return b;
}

int
cmd_plan_remote(struct lr_ctx *ctx, const struct cmd_remote_plan *o)
{
	struct remote r;
	json_t *body, *ans = NULL;
	int rc;

	if ((rc = cmd_remote_open(&r, ctx, 0)) != 0)
		return rc;
	body = ref_body(o);
	if ((rc = cmd_remote_call(&r, "POST", "/v1/plan", body, &ans)) != 0)
		goto out;
	if (o->json)
		cmd_print_json(ans);
	else
		print_plan(ans, true);
	/* as the direct plan: a change is what an apply would write */
	if (o->detailed && lr_json_int(ans, "writes") > 0)
		rc = LR_EXIT_CHANGES;
out:
	json_decref(body);
	json_decref(ans);
	cmd_remote_release(&r);
	return rc;
}

/* y or yes on the terminal */
static bool
confirm(void)
{
	char line[16];

	printf("\nApply? Only 'y' or 'yes' writes. [y/N] ");
	fflush(stdout);
	if (fgets(line, sizeof(line), stdin) == NULL)
		return false;
	line[strcspn(line, "\n")] = '\0';
	return strcmp(line, "y") == 0 || strcmp(line, "yes") == 0;
}

static void
print_applied(const json_t *a, const struct remote *r)
{
	if (!lr_json_bool(a, "written")) {
		printf("No changes: nothing written.\n");
		return;
	}
	printf("\nApplied deploy #%lld through %s: commit %.12s, generation "
	    "%lld: %lld host%s and %lld file%s written.\n",
	    (long long)lr_json_int(a, "deploy"), cmd_vis(r->url),
	    cmd_field(a, "commit"), (long long)lr_json_int(a, "generation"),
	    (long long)lr_json_int(a, "hosts_written"),
	    lr_json_int(a, "hosts_written") == 1 ? "" : "s",
	    (long long)lr_json_int(a, "files_written"),
	    lr_json_int(a, "files_written") == 1 ? "" : "s");
}

int
cmd_apply_remote(struct lr_ctx *ctx, const struct cmd_remote_plan *o)
{
	struct remote r;
	json_t *body, *plan = NULL, *ans = NULL, *from;
	long long expect = o->expect;
	int rc;

	if ((rc = cmd_remote_open(&r, ctx, 0)) != 0)
		return rc;
	body = ref_body(o);
	/*
	 * On a terminal: the plan first, then the apply of exactly that
	 * (expect_revision: the revision the plan was made against).
	 */
	if (o->ask) {
		if ((rc = cmd_remote_call(&r, "POST", "/v1/plan", body,
		    &plan)) != 0)
			goto out;
		print_plan(plan, false);
		if (lr_json_int(plan, "writes") == 0) {
			printf("No changes: nothing to apply.\n");
			goto out;
		}
		if (!confirm()) {
			fprintf(stderr, "leura: apply cancelled: nothing "
			    "written\n");
			rc = LR_EXIT_FAIL;
			goto out;
		}
		from = json_object_get(plan, "from");
		if (expect < 0 && json_is_integer(json_object_get(from,
		    "revision")))
			expect = lr_json_int(from, "revision");
	}
	if (expect >= 0)
		json_object_set_new(body, "expect_revision",
		    json_integer(expect));
	if (o->rollback)
		json_object_set_new(body, "rollback", json_true());
	if ((rc = cmd_remote_call(&r, "POST", "/v1/apply", body, &ans)) != 0)
		goto out;
	if (o->json)
		cmd_print_json(ans);
	else {
		if (!o->ask && json_is_object(json_object_get(ans, "plan")))
			print_plan(json_object_get(ans, "plan"), false);
		print_applied(ans, &r);
	}
out:
	json_decref(body);
	json_decref(plan);
	json_decref(ans);
	cmd_remote_release(&r);
	return rc;
}
