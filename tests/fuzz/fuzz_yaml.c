/*
 * libFuzzer target: one YAML file through spec_file_parse(), then the tree
 * through spec_node_to_json() and the diagnostics through both printers.
 * The input is passed as is (not NUL-terminated), so the parser must honour
 * its length.  Finds crashes, leaks, and alias bombs that make the tree or
 * its JSON blow up (reported by libFuzzer as timeouts or out-of-memory).
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "node.h"

int	LLVMFuzzerInitialize(int *argc, char ***argv);
int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static FILE *devnull;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if ((devnull = fopen("/dev/null", "w")) == NULL) {
		perror("fuzz_yaml: /dev/null");
		exit(1);
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spec_diags diags;
	struct spec_file *f = NULL;
	const char *line;
	json_t *j;
	char *s;
	size_t len;
	int i;

	spec_diags_init(&diags);
	spec_file_parse("fuzz.yml", (const char *)data, size, &f, &diags);
	if (f->root != NULL) {
		(void)spec_node_describe(f->root);
		if ((j = spec_node_to_json(f->root)) != NULL) {
			s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
			free(s);
			json_decref(j);
		}
	}
	/* line 0 (none), the first lines, and one far past the end */
	for (i = 0; i < 5; i++)
		if ((line = spec_file_line(f, i < 4 ? i : INT_MAX, &len)))
			fwrite(line, 1, len, devnull);
	spec_diags_sort(&diags);
	spec_diags_print(&diags, devnull, 20);
	j = spec_diags_to_json(&diags);
	json_decref(j);
	spec_diags_release(&diags);
	spec_file_free(f);
	return 0;
}
