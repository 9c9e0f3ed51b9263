/*
 * leura inventory: export the inventory with the placement applied, as an
 * Ansible dynamic inventory (--ansible, speaking Ansible's --list / --host
 * protocol) or Prometheus static targets (--prometheus).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "inventory.h"
#include "builtin.h"

static const char usage_str[] =
    "usage: leura inventory (--ansible [--list | --host HOST] | "
    "--prometheus) [--ref REF]\n";

enum {
	OPT_REF = CMD_OPT_BASE, OPT_HOST, OPT_ANSIBLE, OPT_PROMETHEUS, OPT_LIST
};

int
cmd_inventory(int argc, char **argv, struct lr_ctx *ctx)
{
	static const struct option longopts[] = {
		{ "ref", required_argument, NULL, OPT_REF },
		{ "host", required_argument, NULL, OPT_HOST },
		{ "ansible", no_argument, NULL, OPT_ANSIBLE },
		{ "prometheus", no_argument, NULL, OPT_PROMETHEUS },
		{ "list", no_argument, NULL, OPT_LIST },
		CMD_HELP_LONGOPT,
		{ NULL, 0, NULL, 0 }
	};
	struct rec_load sl;
	struct lr_err err;
	const char *ref = NULL, *host = NULL;
	int c, rc, mode = 0;
	json_t *o, *hv;

	while ((c = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_REF: ref = optarg; break;
		case OPT_HOST: host = optarg; break;
		case OPT_ANSIBLE: mode = 1; break;
		case OPT_PROMETHEUS: mode = 2; break;
		case OPT_LIST: break;	/* Ansible's default request */
		default: return cmd_bad_option(c, argv, usage_str);
		}
	}
	if ((rc = cmd_no_args(argc, argv, usage_str)) != 0)
		return rc;
	if (mode == 0) {
		fprintf(stderr, "leura: error: say which format: --ansible or "
		    "--prometheus\n%s", usage_str);
		return LR_EXIT_USAGE;
	}
	if (cmd_load(&sl, ctx, ref, 0) != 0) {
		rec_load_release(&sl);
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
		rec_load_release(&sl);
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
			rec_load_release(&sl);
			return LR_EXIT_FAIL;
		}
		json_incref(hv);
		json_decref(o);
		o = hv;
	}
	cmd_print_json(o);
	json_decref(o);
	rec_load_release(&sl);
	return LR_EXIT_OK;
}
