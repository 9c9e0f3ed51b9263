/*
 * Exports of the host/group/vars model: the Ansible dynamic inventory (the
 * JSON minicluster's inventory.py printed), group member lists and
 * Prometheus file_sd static targets.
 *
 * These functions read a loaded struct spec_repo and a placement; they
 * print nothing and never fail (inv_ansible_write excepted, when its
 * stream does): a repo loaded with errors exports what did load, and names
 * that resolve to nothing (a group listing an unknown host, a placement
 * naming an unknown host or service) are left out.  Placement comes from
 * the caller, as printed by `leura schedule --json`:
 *
 *	{"services": {"web": ["web1", "web2"], "db": ["db1"]}}
 *
 * NULL or a placement without "services" means nothing is placed.  Every
 * host list in the results is sorted by name and has no duplicates.
 *
 * Design rule: precompute once, then one pass.  Group membership (hosts'
 * own group lists plus groups' host lists) and per-service host sets are
 * built once per call, so 5,000 hosts x 2,000 services export in linear
 * time in the size of the output.
 *
 * Results are new references the caller releases with json_decref().
 * Values copied from the repo's vars are shared, not deep-copied: treat
 * nested values as read-only, or json_deep_copy() them first.  Any thread
 * may call these, as long as nobody modifies the repo meanwhile.
 */
#ifndef INV_INVENTORY_H
#define INV_INVENTORY_H

#include <stdio.h>

#include <jansson.h>

#include "err.h"
#include "spec.h"

/*
 * The Ansible dynamic-inventory document:
 *
 *   {"_meta": {"hostvars": {HOST: {VARS..., "ansible_host": ADDRESS,
 *                                  "enable_<svc>": true|false, ...}}},
 *    "all":   {"hosts": [every host], "vars": {...}},
 *    GROUP:   {"hosts": [members], "vars": {...}},
 *    SERVICE: {"hosts": [hosts it is placed on]}}
 *
 * VARS are the host's effective vars (as spec_host_vars: 'all', then its
 * groups in sorted order, then its own).  "ansible_host" is set when the
 * host has an address and then wins over a var of that name; likewise the
 * enable_ flags win over vars, one per service on every host, true exactly
 * where the service is placed (minicluster's turndown switch).  Characters
 * other than letters, digits and '_' in a service name become '_' in its
 * flag (enable_node_exporter for 'node-exporter'); when two services map to
 * the same flag, it is true where either is placed.
 *
 * Every group of the inventory gets an entry ("vars" only when it has
 * non-empty vars), every service one with its hosts for static discovery.
 * A service named like a group shares the group's entry, whose hosts are
 * then the union of both; the name '_meta' is reserved and such a group or
 * service is left out.  placement is borrowed.  New reference.
 */
json_t	*inv_ansible(const struct spec_repo *repo, const json_t *placement);

/*
 * The same document as inv_ansible, written to fp as compact JSON while it
 * is built (no newline at the end): what `leura inventory --list` prints.
 * At 5,000 hosts x 2,000 services the flags alone are ten million entries;
 * as text they take a fraction of the time and memory of a json_t.
 * Returns 0, or LR_EIO with err filled when writing failed.
 */
int	inv_ansible_write(const struct spec_repo *repo, const json_t *placement,
	    FILE *fp, struct lr_err *err);

/*
 * Members of group (spec_host_in_group: hosts listing it, hosts it lists,
 * every host for 'all') as a sorted JSON array of host names; an empty
 * array for an unknown group.  New reference.
 */
json_t	*inv_group_hosts(const struct spec_repo *repo, const char *group);

/*
 * Prometheus file_sd static targets: one entry per (service, monitoring
 * endpoint) whose type is 'static' or unset, in service then endpoint
 * order:
 *
 *   [{"targets": ["ADDRESS:PORT", ...],
 *     "labels": {"job": JOB_NAME, "service": SVC, "__scheme__": SCHEME,
 *                "metrics_path": PATH}}]
 *
 * Targets are the hosts the service is placed on (placement, borrowed), by
 * address or else by name, sorted by host name; IPv6 addresses are
 * bracketed; without a port the target is the bare address.  job defaults
 * to the service name, __scheme__ to 'https'; __metrics_path__ only when set.
 * New reference.
 */
json_t	*inv_prometheus_targets(const struct spec_repo *repo,
	    const json_t *placement);

#endif
