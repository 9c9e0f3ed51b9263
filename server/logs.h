/*
 * Central run logs (lg_*): every leurad keeps the output of every run
 * step in its data dir, from the chunks the agents put under
 * P/runs/log/<run>/<host>/<S:04>/<N:08> (server/run.h), and serves them.
 *
 *   DATA_DIR/logs/open/<run>/<host>/<S:04>.log   a step's output so far
 *   DATA_DIR/logs/open/<run>/<host>/<S:04>.idx   8 bytes per chunk: the
 *                                                log's length after it
 *   DATA_DIR/logs/<run>.tar.gz                   a finalised run: one
 *                                                entry per host and step
 *                                                ("<host>/<S:04>-<name>.log")
 *                                                and manifest.json
 *   DATA_DIR/logs/deploys/<N>/<host>.tar.gz      a host's converge log of
 *                                                deploy N (the agent's
 *                                                own archive)
 *
 * logs_store.c: one thread watches P/runs/docs/ to P/runs/results/ (run
 * records, log chunks, results), appends each chunk in order (a
 * duplicate is ignored, a gap is read back from etcd), packs a
 * finalised run, deletes a stored step's chunk keys when this replica
 * leads, and enforces the retention (--log-retention, --log-max-bytes).
 * logs_api.c: GET /v1/runs/{id}/logs (?host, ?step, ?follow=1: a
 * chunked stream while the step runs), /v1/runs/{id}/logs.tar.gz,
 * /v1/deploys/{n}/logs, /v1/logs/retention.
 *
 * Files are made relative to open folder descriptors (openat, mkdirat,
 * O_NOFOLLOW) with names checked first (run_id_valid, lg_host_valid):
 * a key never names a path outside the store.
 */
#ifndef SRV_LOGS_H
#define SRV_LOGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "err.h"

struct srv;
struct srv_req;
struct srv_resp;
struct lr_buf;

/* leurad's flags (main.c) */
struct lg_opts {
	long	 retention_s;	/* --log-retention, 30 days */
	uint64_t max_bytes;	/* --log-max-bytes, 10 GiB */
};

int	lg_init(struct srv *s, const struct lg_opts *o, struct lr_err *err);
void	lg_routes(struct srv *s);
void	lg_free(struct srv *s);

/* A host name as a file name: [A-Za-z0-9][A-Za-z0-9._-]*, no "..". */
bool	lg_host_valid(const char *s);

/* ---- between the store and the API (logs-int) ---- */

struct lg_state;

/* One step as the follower sees it (lg_follow_steps). */
struct lg_fstep {
	char	 host[256];
	int	 step;
	bool	 done;		/* its result is in, its chunks on disk */
};

/*
 * The steps of run known now (matching host, NULL: all, and step, -1:
 * all), sorted, into *v (the caller's, free), and whether the run is
 * finalised and whether it is packed (its archive is made: read that).
 * *gen: a counter that moves on every change (lg_wait).
 */
size_t	lg_follow_steps(struct lg_state *st, const char *run,
	    const char *host, int step, struct lg_fstep **v, bool *finalised,
	    bool *packed, uint64_t *gen);
/* Wait until the counter moves past gen, or ms pass. */
void	lg_wait(struct lg_state *st, uint64_t gen, long ms);
/* Take a follow slot (false: as many as allowed follow now); give back. */
bool	lg_follow_take(struct lg_state *st, unsigned *max);
void	lg_follow_give(struct lg_state *st);

/*
 * Read a step's output from byte off: the open file, else the run's
 * archive; each piece to fn (which returns -1 to stop).  Returns the
 * bytes given, or -1 (LR_ENOENT: neither has it).  *name: the step's
 * name when the archive gave it (may be NULL).
 */
typedef int lg_sink(const void *p, size_t n, void *arg);
int64_t	lg_read_step(struct lg_state *st, const char *run, const char *host,
	    int step, uint64_t off, lg_sink *fn, void *arg);
/*
 * The steps a run has on disk (open folder or archive), sorted, as
 * [{"host","step","name"}] (new), or NULL when it has none.
 */
json_t	*lg_disk_steps(struct lg_state *st, const char *run);
/* The open descriptor of DATA_DIR/logs (borrowed). */
int	lg_dirfd(struct lg_state *st);
/* {policy, usage, would_delete} (new). */
json_t	*lg_retention_report(struct lg_state *st);

#endif
