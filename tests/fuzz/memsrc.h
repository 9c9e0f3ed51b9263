/*
 * An in-memory spec source: a table of (path, bytes, file or symlink)
 * entries behind struct spec_source_ops, for fuzzers and tests that build a
 * config repo without touching the disk.  Directories are implied by the
 * paths of the entries ("roles/web/role.yml" makes "roles" and "roles/web").
 */
#ifndef LEURA_FUZZ_MEMSRC_H
#define LEURA_FUZZ_MEMSRC_H

#include <stdbool.h>
#include <stddef.h>

#include "source.h"

/* An empty source labelled "memory"; free with spec_source_free(). */
struct spec_source *memsrc_new(void);

/*
 * Add (or replace) the entry at path, a repo-relative '/'-separated path.
 * data[0..len) is copied; for a symlink it is the link's target.  src must
 * come from memsrc_new().
 */
void	memsrc_add(struct spec_source *src, const char *path, const char *data,
	    size_t len, bool symlink);

#endif
