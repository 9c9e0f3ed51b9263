/*
 * Task runs on the agent (runs.c): the steps leurad dispatches to this host
 * (server/run.h, docs/etcd-layout.md "Task runs"), run beside converge
 * runs, never waiting for one nor holding one up.
 *
 *   in   P/runs/dispatch/HOST/<run>/<S:04>, read and watched on the sync
 *        side's client: each signed by leurad for this host (refused
 *        otherwise, unless --insecure-unsigned), for this host, its run
 *        and step those of its key.  Deleting it cancels the step.
 *   out  the claim P/runs/exec/<run>/HOST/<S> (on the heartbeat's lease),
 *        the output as chunks P/runs/log/<run>/HOST/<S>/<N:08>, and the
 *        result P/runs/results/<run>/HOST/<S>, created if absent in the
 *        transaction that deletes the claim.
 *
 * A step is claimed, then marked in the state dir (store.h, durable),
 * then started: an agent that restarts finds the marker of a step it may
 * have run and reports it "lost" instead of running it again.
 *
 * At most `parallel` steps are claimed or running at once; the others
 * wait their turn in the order of their keys (runs sort by time).
 *
 * One thread: the loop's.  Nothing here blocks.
 */
#ifndef AGENT_RUNS_H
#define AGENT_RUNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "err.h"
#include "sign.h"
#include "store.h"
#include "sync.h"

#define AGENT_RUNS_PARALLEL	4		/* steps at once, by default */
#define AGENT_RUNS_CHUNK	(64 * 1024)	/* a log chunk, at most */
#define AGENT_RUNS_FLUSH_MS	250		/* the most a chunk waits */
#define AGENT_RUNS_PENDING_MAX	(1024 * 1024)	/* output waiting for etcd */
#define AGENT_RUNS_BATCH	4		/* chunks in one request, at most */
#define AGENT_RUNS_PREVIEW	4096		/* head, tail of the result */
#define AGENT_RUNS_LOG_MAX	(64 * 1024 * 1024) /* no "log_max": this */
/*
 * How long the agent remembers a step it took (its marker in the state
 * dir): a dispatch of a run made longer ago is refused, so that a signed
 * dispatch kept and put back, its result deleted, never runs twice
 */
#define AGENT_RUNS_KEEP_S	(45 * 86400)

struct agent_runs;

struct agent_runs_config {
	uv_loop_t	*loop;
	struct agent_store *store;	/* borrowed: markers, contents */
	struct agent_sync *sync;	/* borrowed: its client and lease */
	const char	*host;		/* the strings are copied */
	const char	*prefix;
	const char	*self_exe;	/* for run_as */
	/* the fleet's public keys (borrowed); NULL: --insecure-unsigned */
	const struct lr_sign_key *keys;
	long		 retry_base_ms;	/* step retries; 0: 1000 */
	size_t		 parallel;	/* 0: AGENT_RUNS_PARALLEL */
	size_t		 max_request_bytes; /* etcd's; 0: its default */
	/* A dispatch under key was refused: err says why (borrowed). */
	void		(*refused)(void *arg, const char *key,
			    const struct lr_err *err);
	/* After agent_runs_stop returned true: the last step is done. */
	void		(*stopped)(void *arg);
	void		*arg;
};

struct agent_runs *agent_runs_new(const struct agent_runs_config *c);
/*
 * Read and watch the dispatches, on the sync side's client (call after
 * agent_sync_start).  Markers a previous process left are settled after
 * the first read: a step still dispatched gets a "lost" result, and the
 * marker goes.
 */
void	agent_runs_start(struct agent_runs *r);
/*
 * Stop: the watch ends, no step starts, running ones are aborted (result
 * "aborted", the agent stopped).  true: results are still being written,
 * and the stopped hook follows; false: nothing is left.  Before
 * agent_sync_stop (the client must outlive what is in flight).
 */
bool	agent_runs_stop(struct agent_runs *r);
/* Close the handles (the struct goes in their close callbacks). NULL ok. */
void	agent_runs_free(struct agent_runs *r);

/*
 * A converge run's packed log (archive: logs/RUN.tar.gz, store.h) goes to
 * leurad's log store as the deploy log of this host (server/run.h): the
 * chunks and result of run "d@DEPLOY", step 0, replacing those of an
 * earlier converge of the same deploy (deleted first).  The result:
 * {"status", "archive": true, "bytes", "chunks", "local_run": run}.
 * One archive goes at a time; a newer one waiting replaces the one that
 * waited.  An archive over AGENT_RUNS_LOG_MAX is not sent (said in the
 * log).  Only while a leurad leads (P/leader exists): without one the
 * chunks would stay in etcd for good.  Strings copied.  Nothing while
 * stopping, or before start.
 */
void	agent_runs_deploy_log(struct agent_runs *r, const char *run,
	    int64_t deploy, const char *status, const char *archive);

/* ---- pure parts, for tests ---- */

/*
 * A step's output on its way to etcd: every byte is counted (bytes) and
 * goes through the preview (its first and last AGENT_RUNS_PREVIEW); up
 * to log_max of them are queued for chunks, at most pending_max at a
 * time: past that, bytes are dropped (counted in dropped, and a line
 * "[leura] N bytes of output dropped ..." takes their place once there
 * is room again) and the budget of log_max goes to later bytes.
 * init/release.
 */
struct agent_runs_out {
	uint64_t bytes;		/* all output */
	uint64_t queued;	/* bytes of output queued for chunks */
	uint64_t dropped;	/* lost to back-pressure */
	uint64_t gap;		/* dropped since the last line that said so */
	uint64_t log_max;
	size_t	 pending_max;
	bool	 truncated;	/* not every byte reaches the chunks */
	char	*pend;		/* queued, not yet in a chunk (owned) */
	size_t	 pend_len, pend_cap;
	char	 head[AGENT_RUNS_PREVIEW];
	char	 tail[AGENT_RUNS_PREVIEW];	/* a ring */
};

void	agent_runs_out_init(struct agent_runs_out *o, uint64_t log_max,
	    size_t pending_max);
void	agent_runs_out_release(struct agent_runs_out *o);
void	agent_runs_out_add(struct agent_runs_out *o, const char *p, size_t n);
/* The output ended: a line says what was cut, if anything was. */
void	agent_runs_out_end(struct agent_runs_out *o);
/*
 * The next chunks to send, at most max bytes (a multiple of
 * AGENT_RUNS_CHUNK): the whole chunks queued, and with flush the rest too
 * when it fits; 0: none yet.  They are the first bytes of o->pend, cut
 * every AGENT_RUNS_CHUNK; agent_runs_out_take(o, n) removes them once
 * sent.
 */
size_t	agent_runs_out_next(const struct agent_runs_out *o, bool flush,
	    size_t max);
void	agent_runs_out_take(struct agent_runs_out *o, size_t n);
/* The preview: head and tail as valid UTF-8 (new strings). */
char	*agent_runs_out_head(const struct agent_runs_out *o);
char	*agent_runs_out_tail(const struct agent_runs_out *o);

/*
 * p[0..n) as valid UTF-8 (a new NUL-terminated string): every byte that
 * is not part of a valid character (and NUL) becomes U+FFFD; with
 * cut_start, continuation bytes at the start (a character cut in two)
 * are dropped, with cut_end an incomplete character at the end.
 */
char	*agent_runs_utf8(const char *p, size_t n, bool cut_start,
	    bool cut_end);

#endif
