/*
 * The read API (rd_*): what the fleet looks like, what was deployed and
 * what was done, for callers with read grants.
 *
 *   GET /v1/status                      fleet, hosts, services (filtered)
 *   GET /v1/status/hosts/{host}         one host (ETag)
 *   GET /v1/status/services/{service}   one service (ETag)
 *   GET /v1/deploys                     deploy records, newest first
 *   GET /v1/deploys/{n}                 one record (ETag)
 *   GET /v1/events                      audit events, oldest first
 *
 * Status is served from memory: one view per leurad, kept current by
 * watches of etcd on the loop (read_view.c), rebuilt on a worker into an
 * immutable snapshot that handlers share (read_snap.c).  Deploys and
 * events are read from etcd per request (req->etcd).
 *
 * Who sees what (every answer asks auth_can, server/auth.h):
 *   - a host is listed when the caller may read "hosts/NAME", a service
 *     when "services/NAME"; a host or service the caller may not read
 *     answers 404 exactly as one that does not exist, so that a 404 says
 *     nothing about what exists (GitHub's rule);
 *   - deploy records are the fleet's: both deploy routes need read on
 *     "fleet" (403 naming the grant otherwise);
 *   - read on "events" shows every event; otherwise an event shows when
 *     its resource is readable, and events about identity (users/,
 *     groups/, grants/, tokens/, logins; a grant's event names the
 *     resource granted on) need admin on that resource.
 */
#ifndef READ_H
#define READ_H

#include <stdbool.h>

#include "err.h"

struct srv;

/* Register the routes above (before the loop runs). */
void	rd_routes(struct srv *s);
/*
 * Make the view of s (s->read) on s->loop and start its first read of
 * etcd (it completes once the loop runs); register the fleet gauges with
 * srv_metrics_add.  Loop thread, before the loop runs.
 */
int	rd_init(struct srv *s, struct lr_err *err);
/* Stop the watches and free the view (the loop then runs dry). */
void	rd_free(struct srv *s);
/* Whether the view holds a first snapshot of etcd (for /readyz). */
bool	rd_ready(struct srv *s);

#endif
