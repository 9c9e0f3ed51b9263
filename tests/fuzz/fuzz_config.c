/*
 * libFuzzer target: the client configuration file (reconcile/config.h)
 * through rec_config_parse and the diagnostics printer.  Finds crashes and
 * leaks on any input; the result must be released cleanly either way.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "config.h"

int	LLVMFuzzerInitialize(int *argc, char ***argv);
int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static FILE *devnull;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if ((devnull = fopen("/dev/null", "w")) == NULL) {
		perror("fuzz_config: /dev/null");
		exit(1);
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rec_config c;
	struct spec_diags d;

	spec_diags_init(&d);
	(void)rec_config_parse("config", (const char *)data, size, "/home/u",
	    &c, &d);
	spec_diags_print(&d, devnull, 0);
	rec_config_release(&c);
	spec_diags_release(&d);
	return 0;
}
