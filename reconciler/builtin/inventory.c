/*
 * leura inventory: export the inventory with the placement applied, as an
 * Ansible dynamic inventory (--ansible, speaking Ansible's --list / --host
 * protocol) or Prometheus static targets (--prometheus).
 */
#include <stdio.h>
#include <string.h>

#include "inventory.h"
#include "specload.h"

static const char usage_str[] =
    "usage: leura inventory (--ansible [--list | --host HOST] | "
    "--prometheus) [--ref REF]\n";

int
cmd_inventory(int argc, char **argv, struct lr_ctx *ctx)
{
	struct specload sl;
	struct lr_err err;
	const char *ref = NULL, *host = NULL, *v;
	int i, rc, mode = 0;
	json_t *o, *hv;

	for (i = 1; i < argc; i++) {
		if ((v = opt_value(argc, argv, &i, "--ref")) != NULL)
			ref = v;
		else if ((v = opt_value(argc, argv, &i, "--host")) != NULL)
			host = v;
		else if (strcmp(argv[i], "--ansible") == 0)
			mode = 1;
		else if (strcmp(argv[i], "--prometheus") == 0)
			mode = 2;
		else if (strcmp(argv[i], "--list") == 0)
			;	/* Ansible's default request */
		else
			return cmd_help_or_bad(argv[i], usage_str);
	}
	if (mode == 0) {
		fprintf(stderr, "leura: error: say which format: --ansible or "
		    "--prometheus\n%s", usage_str);
		return LR_EXIT_USAGE;
	}
	if (specload_cmd(&sl, ctx, ref, 0) != 0) {
		specload_release(&sl);
		return LR_EXIT_FAIL;
	}
	if (mode == 1 && host == NULL) {
		/* streamed: the document is large (a flag per host per service) */
		lr_err_clear(&err);
		rc = inv_ansible_write(sl.repo, sl.comp.placement, stdout, &err);
		if (rc == 0 && (fputc('\n', stdout) == EOF || fflush(stdout)))
			rc = lr_err_set(&err, LR_EIO, "cannot write the "
			    "inventory to stdout");
		if (rc < 0)
			lr_err_print(&err);
		specload_release(&sl);
		return rc < 0 ? LR_EXIT_FAIL : LR_EXIT_OK;
	}
	if (mode == 2)
		o = inv_prometheus_targets(sl.repo, sl.comp.placement);
	else
		o = inv_ansible(sl.repo, sl.comp.placement);
	if (mode == 1 && host) {
		hv = json_object_get(json_object_get(json_object_get(o,
		    "_meta"), "hostvars"), host);
		if (hv == NULL) {
			fprintf(stderr, "leura: error: unknown host '%s'\n",
			    host);
			json_decref(o);
			specload_release(&sl);
			return LR_EXIT_FAIL;
		}
		json_incref(hv);
		json_decref(o);
		o = hv;
	}
	cmd_print_json(o);
	json_decref(o);
	specload_release(&sl);
	return LR_EXIT_OK;
}
