/*
 * The agent's state directory: what it must remember across restarts and
 * while etcd is unreachable.  Synchronous and small: called from the loop
 * for files of a few KiB, except agent_store_logs_pack, which the caller
 * runs on the thread pool.
 *
 *   DIR/lock                locked (fcntl F_SETLK) by the running agent:
 *                           one per dir; one store per dir per process
 *   DIR/desired.json        the last desired state accepted (see below)
 *   DIR/files/<sha256>      contents of file steps and custom step types
 *   DIR/steps.json          per step id, what was last done (records)
 *   DIR/verified.json       the highest generation of a signed document
 *                           the agent verified (replays of older ones
 *                           are refused)
 *   DIR/running.json        the step being run right now; left behind by
 *                           a crash, it names the interrupted step
 *   DIR/runs/<run>.<S:04>   a task-run step claimed and started (runs.c)
 *   DIR/work/               temporary scripts
 *   DIR/logs/<run>/         output of the steps of a run being made
 *   DIR/logs/<run>.tar.gz   a finished run: its logs and manifest.json
 *
 * Every file is written whole to a temporary file and renamed, so a crash
 * of the agent leaves the old or the new version, never half of one.
 * desired.json and steps.json are also fsync()ed (with their folder)
 * against power loss; contents are synced in batches
 * (agent_store_files_sync); running.json is not (losing it only loses the
 * word "interrupted": the step runs again anyway).
 */
#ifndef AGENT_STORE_H
#define AGENT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "err.h"

struct agent_store;

/*
 * Open DIR, creating it and its subfolders as needed, and lock it.  DIR
 * and files/ are 0711 (traversable, not listable), the others 0700.
 * Another process holding the lock: LR_EBUSY, "another leura-agent (pid N)
 * uses DIR".
 * Only DIR itself is created, not its parents.  With the lock held, it
 * removes what a crash left: temporary files, everything in work/, and
 * the log folders logs/RUN/ of runs that never ended (logged at info).
 * Reads steps.json (a corrupt one is renamed steps.json.corrupt-TIME, with
 * a warning on stderr, and the records start empty) and running.json (see
 * agent_store_running_take; a corrupt one is ignored with a warning).
 */
int	agent_store_open(const char *dir, struct agent_store **out,
	    struct lr_err *err);
void	agent_store_close(struct agent_store *s);	/* NULL is fine */

const char *agent_store_dir(const struct agent_store *s);	/* borrowed */
const char *agent_store_files_dir(const struct agent_store *s);
const char *agent_store_work_dir(const struct agent_store *s);

/*
 * desired.json: any JSON object the agent chooses (it keeps the document,
 * its key and the head).  Load: *out is a new reference, NULL when there
 * is none; a corrupt file is LR_EINVAL naming it (the caller starts
 * empty).
 */
int	agent_store_desired_load(struct agent_store *s, json_t **out,
	    struct lr_err *err);
int	agent_store_desired_save(struct agent_store *s, const json_t *v,
	    struct lr_err *err);

/*
 * verified.json: the highest generation of a document whose signature
 * held (0 when none is saved, or the file is corrupt: said in the log),
 * and saving a higher one (durable).
 */
int64_t	agent_store_verified_generation(struct agent_store *s);
int	agent_store_verified_save(struct agent_store *s, int64_t gen,
	    struct lr_err *err);

/*
 * Contents, checked against their SHA-256 when put (a wrong or malformed
 * name, anything but 64 lowercase hex digits, is LR_EINVAL).  Executable
 * contents are 0755 (a step's run_as user may run them), others 0600;
 * once 0755, a content stays so.
 */
bool	agent_store_file_has(const struct agent_store *s, const char *sha256);
int	agent_store_file_put(struct agent_store *s, const char *sha256,
	    const void *data, size_t len, bool executable, struct lr_err *err);
/*
 * Make the contents put so far durable: they are written without fsync,
 * for speed; call this once after a batch of puts, before relying on them.
 */
int	agent_store_files_sync(struct agent_store *s, struct lr_err *err);
/*
 * Remove every content not named in keep (an array of sha256 strings),
 * and anything else in files/.  keep not an array: removes nothing.
 */
void	agent_store_files_gc(struct agent_store *s, const json_t *keep);

/*
 * Step records: {step id: {...}}, loaded at open, the caller's to change
 * (borrowed object, valid until close), saved with agent_store_records_save.
 */
json_t	*agent_store_records(struct agent_store *s);
int	agent_store_records_save(struct agent_store *s, struct lr_err *err);

/*
 * running.json: set it (an object) before a step starts and clear it
 * (NULL) when it ends.  agent_store_running_take returns what was found at
 * open (a step a crash interrupted), once; new reference or NULL.
 */
int	agent_store_running_set(struct agent_store *s, const json_t *entry,
	    struct lr_err *err);
json_t	*agent_store_running_take(struct agent_store *s);

/*
 * Markers of task-run steps (agent/runs.c): DIR/runs/NAME, where NAME is
 * a run id and the step ("r@20261207-223500-0a1b2c.0003"; letters,
 * digits, '@', '_', '-', '.', not first; at most 160), holding v (an
 * object).  Marking is durable (the file and its folder are fsync()ed)
 * before the step starts, so that a restarted agent knows the step was
 * claimed and started, and never starts it again.  Unmark once its
 * result is in etcd.  A bad name: LR_EINVAL (mark), false (marked),
 * nothing (unmark).  agent_store_run_marks: the names, an array (new
 * reference).
 */
int	agent_store_run_mark(struct agent_store *s, const char *name,
	    const json_t *v, struct lr_err *err);
bool	agent_store_run_marked(const struct agent_store *s, const char *name);
void	agent_store_run_unmark(struct agent_store *s, const char *name);
json_t	*agent_store_run_marks(struct agent_store *s);

/*
 * Logs of a run named RUN (letters, digits, '-', '.', not first; at most
 * 128): the path of the log file of step number idx (owned; creates
 * logs/RUN/), e.g. logs/RUN/003.log.  NULL when RUN is not such a name.
 */
char	*agent_store_log_path(struct agent_store *s, const char *run,
	    size_t idx);

/*
 * Pack logs/RUN/ into logs/RUN.tar.gz (libarchive, gzip): the log files
 * and manifest.json (the manifest given: a JSON value describing the run
 * and its steps, written as is; not NULL).  Then remove logs/RUN/, and
 * keep only the newest `keep` archives (by name order, so runs should be
 * named to sort by time; 0 keeps them all).  Every *.log in logs/RUN/ is
 * packed; a run with no logs/RUN/ gets an archive with only the manifest.
 * A bad RUN is LR_EINVAL.  Thread-safe with respect to the other calls
 * (it only touches logs/); meant for uv_queue_work.
 */
int	agent_store_logs_pack(const char *dir, const char *run,
	    const json_t *manifest, size_t keep, struct lr_err *err);

#endif
