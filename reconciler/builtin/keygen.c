/*
 * leura keygen [--force] [DIR]: make the fleet's signing key pair
 * (lib/sign.h): DIR/signing.key (0600), which `leura apply` signs the
 * desired state with, and DIR/signing.pub (0644), which every agent
 * checks it with (docs/security.md).  DIR defaults to the folder of the
 * client configuration file, where apply looks for the key by default.
 * An existing pair is never replaced without --force.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builtin.h"
#include "config.h"
#include "file.h"
#include "sign.h"
#include "xalloc.h"

static const char usage_str[] = "usage: leura keygen [--force] [DIR]\n";

enum { OPT_FORCE = CMD_OPT_BASE };

int
cmd_keygen(int argc, char **argv, struct lr_ctx *ctx)
{
	static const struct option longopts[] = {
		{ "force", no_argument, NULL, OPT_FORCE },
		CMD_HELP_LONGOPT,
		{ NULL, 0, NULL, 0 }
	};
	char id[LR_SIGN_ID_LEN + 1], *dir = NULL, *priv = NULL, *pub = NULL;
	struct lr_err err;
	bool force = false;
	int c, rc = LR_EXIT_FAIL;

	(void)ctx;
	while ((c = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_FORCE:
			force = true;
			break;
		default:
			return cmd_bad_option(c, argv, usage_str);
		}
	}
	if (optind < argc)
		dir = lr_xstrdup(argv[optind++]);
	if ((rc = cmd_no_args(argc, argv, usage_str)) != 0)
		goto out;
	rc = LR_EXIT_FAIL;
	if (dir == NULL && (dir = rec_config_dir()) == NULL) {
		fprintf(stderr, "leura: error: no folder for the key pair: "
		    "HOME is not set\nhint: name one: leura keygen DIR\n");
		goto out;
	}
	/* a new folder holds a private key: only its owner enters */
	if (lr_mkdir_p(dir, 0700) == -1) {
		fprintf(stderr, "leura: error: cannot create '%s': %s\n", dir,
		    strerror(errno));
		goto out;
	}
	priv = lr_xasprintf("%s/%s", dir, LR_SIGN_PRIVATE_NAME);
	pub = lr_xasprintf("%s/%s", dir, LR_SIGN_PUBLIC_NAME);
	lr_err_clear(&err);
	if (lr_sign_keygen(priv, pub, force, id, &err) < 0) {
		lr_err_print(&err);
		goto out;
	}
	printf("Made the fleet's signing key %s:\n"
	    "  private key  %s  (0600: for whoever runs leura apply; "
	    "never on the hosts)\n"
	    "  public key   %s  (for every agent: leura-agent "
	    "--fleet-key %s)\n", id, priv, pub, pub);
	rc = LR_EXIT_OK;
out:
	free(dir);
	free(priv);
	free(pub);
	return rc;
}
