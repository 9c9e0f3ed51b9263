/*
 * The difference between two compiled desired states: a pure function of
 * two in-memory values, used by `leura plan` (and later by apply).
 */
#ifndef REC_DIFF_H
#define REC_DIFF_H

#include <jansson.h>

#include "compile.h"

/*
 * Diff from -> to (both compiled with REC_COMPILE_DESIRED).  Returns a new
 * reference:
 *   {"changes": N,
 *    "services": {svc: {"from":[hosts], "to":[hosts],
 *                       "added":[hosts], "removed":[hosts]}},  (moved only)
 *    "hosts": {host: {"added":[step ids], "removed":[step ids],
 *                     "changed":[{"id":..., "fields":[...],
 *                                 "before":{field: old value},
 *                                 "after":{field: new value}}],
 *                     "reordered": true (only when set),
 *                     "services_added":[...], "services_removed":[...],
 *                     "triggered":[{"id":..., "because":[names]}],
 *                     "turndown":[{"id":..., "service":...}],
 *                     "host_removed": true (only when set)}}}
 * Hosts and services without changes are left out.  A step's identity is
 * its id (service/role/phase/name); it changed when any rendered field or
 * parameter differs (fields lists which).  Besides the edits, the
 * consequences the agent will run (agent/converge.c): "triggered", the
 * when_changed steps that an added or changed step (named in "because")
 * sets off, and "turndown", the turndown steps of the services that leave
 * the host (all of them when the host leaves the inventory), which are
 * not in "removed".  N counts service moves plus step additions, removals,
 * changes and turndowns plus reordered hosts.
 */
json_t	*rec_diff(const struct rec_compiled *from,
	    const struct rec_compiled *to);

#endif
