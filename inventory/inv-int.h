/*
 * Private to inventory/: the indexes the exports build once per call, so
 * no export scans hosts x groups x members.  A host map turns host names
 * into indexes of repo->hosts; placement lookups turn a service's host
 * list into sorted, unique host indexes.
 */
#ifndef INV_INT_H
#define INV_INT_H

#include <stddef.h>

#include <jansson.h>

#include "spec.h"

#define INV_NONE ((size_t)-1)

/* Open-addressing hash of host name -> index in repo->hosts. */
struct inv_hostmap {
	const struct spec_repo *repo;	/* borrowed */
	size_t	*slot;		/* owned: host index + 1; 0 is empty */
	size_t	 mask;
};

/* Index every host of repo; release with inv_hostmap_release. */
void	inv_hostmap_init(struct inv_hostmap *, const struct spec_repo *);
void	inv_hostmap_release(struct inv_hostmap *);
/* Index of the host called name, or INV_NONE. */
size_t	inv_hostmap_find(const struct inv_hostmap *, const char *name);

/*
 * The hosts placement puts service svc on, as sorted unique host indexes;
 * names that are not strings or not hosts are skipped.  *out is the
 * caller's (free; NULL when the count is 0).  Returns the count.
 */
size_t	inv_placed_hosts(const struct inv_hostmap *, const json_t *placement,
	    const char *svc, size_t **out);

/*
 * Per host, the sorted unique indexes (into repo->groups) of the groups it
 * belongs to, 'all' excepted: its own group list plus the groups listing
 * it.  Unknown names are skipped.
 */
struct inv_groupsets {
	size_t	**gids;		/* owned: gids[host], an array */
	size_t	 *n;		/* owned: n[host] */
	size_t	  nhosts;
};

void	inv_groupsets_init(struct inv_groupsets *, const struct inv_hostmap *);
void	inv_groupsets_release(struct inv_groupsets *);

/* Sort and dedupe v[0..n) in place; returns the new count. */
size_t	inv_sort_unique(size_t *v, size_t n);

#endif
