/*
 * Running one step of a host's desired state (docs/etcd-layout.md: the
 * fields of a step) on the agent's libuv loop.
 *
 * A step is the JSON object of the document, borrowed for the run.  Its
 * "kind" decides what runs:
 *
 *   script    "script" (text), "shell" (default /bin/sh): the script runs
 *             as `shell /dev/fd/3`, the text on fd 3 (a sealed memfd, else
 *             an unlinked file in work_dir), never in argv, where ps would
 *             show it (and the secrets rendered into it).  The "unless"
 *             command likewise.  Success counts as a change.
 *   file      "dest", "sha256", "size", "mode" ("0644"), "owner", "group":
 *             the content is files_dir/<sha256>.  When dest already has that
 *             content, mode and owner, the step is AGENT_STEP_OK (nothing
 *             changed); otherwise the content goes to a temporary file in
 *             dest's folder (created with its parents, 0755, if missing),
 *             fchmod/fchown, fsync, rename over dest, fsync of the folder:
 *             AGENT_STEP_CHANGED.  Done on the libuv thread pool.  No
 *             "mode": the replaced file's is kept (0644 for a new one); no
 *             "owner"/"group": the replaced file's are kept when the agent
 *             may (the agent's for a new one).  With "validate" (a
 *             command with %s), the temporary file, complete, is checked
 *             first: the command runs like an unless command (run_as,
 *             env, cwd, timeout_ms; output to the log and the tail), %s
 *             replaced by the temporary file's path, shell-quoted; exit 0
 *             renames it over dest (on the pool), anything else removes
 *             it and fails the attempt, dest untouched.  An owner or
 *             group that does not exist, stored content whose SHA-256
 *             is not its name, or a folder at dest: AGENT_STEP_FAILED.
 *             Anything else at dest (a symbolic link...) is replaced.
 *             dest's folder is reached through open folders, never by
 *             path twice; a symbolic link on the way is followed only
 *             when root or the agent's user owns it, else
 *             AGENT_STEP_FAILED (step-int.h, step_file_open_dir).
 *   http      "url", "method", "headers", "body", "expect_status" (default:
 *             any 2xx): libcurl, on the thread pool; success is a change.
 *             Redirects are not followed.  The status and the start of the
 *             body go to the log and the tail.
 *   use       "use" (type), "with", "exec_sha256": runs files_dir/<sha>
 *             with the step as JSON on stdin; it prints
 *             {"changed": bool, "message": "..."} on stdout: the last JSON
 *             object of its stdout, with only white space after it, must
 *             have a boolean "changed" (else AGENT_STEP_FAILED, as for a
 *             non-zero exit).  Its stderr goes to the log and the tail,
 *             like its stdout.
 *
 * Common fields: "env" (added to the agent's environment, with LEURA_HOST,
 * LEURA_STEP_ID and LEURA_GENERATION, which win over "env"), "cwd",
 * "run_as" (see below), "timeout_ms" (per attempt, none when absent or
 * <= 0; the process group gets SIGTERM, then SIGKILL kill_grace_ms later,
 * or as soon as its leader has exited), "retries" (further attempts after
 * a failure, with back-off retry_base_ms * 2^n, at most 60 s), and the
 * guards: "creates" (skip when that path exists) then "unless" (a command
 * run like the script: skip when it exits 0; the step fails when it
 * cannot run or times out).  A skipped step is AGENT_STEP_SKIPPED.  env,
 * cwd and run_as concern the commands (script, use, unless): file and http
 * steps ignore them.  "when_changed" is the caller's business
 * (agent/converge.c), as are "phase" and "id".
 *
 * Processes: every command runs in its own session and process group
 * (uv_spawn with UV_PROCESS_DETACHED), stdin from /dev/null (or the JSON of
 * a use step), stdout and stderr together into log_path (appended; its
 * head and tail only past log_max, see AGENT_STEP_LOG_MAX) and into a
 * 4 KiB tail kept for the result.  Never system().  A command has ended
 * when it has exited and its output is closed; output a background
 * process keeps open is read for 1 s more after the exit (200 ms after a
 * kill), then left.  The agent's own lines in the log start "[leura] ".
 * "kind": "approval" is not the runner's: agent_step_start refuses it.
 *
 * run_as: when the step names a user other than the agent's, the agent
 * must run as root, and the command is started through the agent itself
 * (`leura-agent --exec-as USER -- ARGV...`, see agent_step_exec_as_main),
 * which takes the user's groups (initgroups), gid and uid and HOME, USER,
 * LOGNAME, SHELL (from the passwd entry, over "env") before exec.  The
 * working folder is entered by uv_spawn before that, as root.  Not root:
 * the step fails with an error that says so ("run_as 'bob' needs
 * leura-agent to run as root; it runs as uid 1000").  The script's fd 3
 * is given to the user (owner, mode 0400), so the user needs no access to
 * work_dir; a use step's executable, though, must be reachable by the user
 * in files_dir.
 *
 * AGENT_STEP_CHECK (drift checks): a file step only compares (OK when dest
 * matches, AGENT_STEP_CHANGED with error "content differs" / "missing" /
 * "mode 0644, want 0600" / "owner ..." when not, and never writes); other
 * kinds run as usual.
 */
#ifndef AGENT_STEP_H
#define AGENT_STEP_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "err.h"

#define AGENT_STEP_TAIL	4096	/* bytes of output kept in a result */
/*
 * The most a step's log file takes: the first half of the log (output and
 * the agent's notes) as it comes, then only the last half, written when
 * the step ends after a line "[leura] N bytes of output cut here: ...".
 * The result's tail then starts with a line that says so.
 */
#define AGENT_STEP_LOG_MAX	(1024 * 1024)

enum agent_step_status {
	AGENT_STEP_OK,		/* ran (or compared), nothing changed */
	AGENT_STEP_CHANGED,	/* ran and changed something (check: drifted) */
	AGENT_STEP_SKIPPED,	/* a guard said it is done */
	AGENT_STEP_FAILED,	/* exit status, signal, timeout or error */
	AGENT_STEP_ABORTED	/* agent_step_abort */
};

/* "ok", "changed", "skipped", "failed", "aborted" */
const char	*agent_step_status_name(enum agent_step_status s);

enum agent_step_mode {
	AGENT_STEP_RUN,
	AGENT_STEP_CHECK
};

struct agent_step_ctx {
	uv_loop_t	*loop;
	const json_t	*step;		/* borrowed until the callback */
	enum agent_step_mode mode;
	const char	*files_dir;	/* contents by sha256 */
	const char	*work_dir;	/* for temporary scripts */
	const char	*log_path;	/* output appended here (0600); NULL:
					 * none */
	const char	*self_exe;	/* leura-agent, for run_as (a path) */
	const char	*host;		/* LEURA_HOST */
	int64_t		 generation;	/* LEURA_GENERATION */
	long		 retry_base_ms;	/* 0: 1000 */
	long		 kill_grace_ms;	/* SIGTERM to SIGKILL; 0: 5000 */
	size_t		 log_max;	/* log cap; 0: AGENT_STEP_LOG_MAX */
	/*
	 * Output as it is read (commands' stdout and stderr, an http
	 * answer's start), before any cut of the log: each piece once, in
	 * order, on the loop, from a callback of the runner (never from
	 * agent_step_start).  NULL: none.  The agent's own notes are not
	 * passed.  Task runs stream it (agent/runs.c).
	 */
	void		(*on_output)(const char *p, size_t n, void *arg);
	void		*output_arg;
};

struct agent_step_result {
	enum agent_step_status status;
	int	 exit_code;	/* of the last command; -1: none, or killed */
	int	 term_signal;	/* signal that ended it, 0 when none */
	bool	 timed_out;
	int	 attempts;	/* commands started (file, http: requests
				 * made) for the step itself, not guards */
	int64_t	 started_ms;	/* Unix ms */
	int64_t	 duration_ms;
	char	 error[512];	/* why it failed, skipped or drifted; "" if ok
				 * or changed by a run */
	char	*tail;		/* last AGENT_STEP_TAIL bytes of output, NUL-
				 * terminated; owned by the runner, valid
				 * during the callback */
	json_t	*message;	/* use steps: their "message", borrowed; NULL */
};

struct agent_step_run;

/* Called once, when the step is done; run is freed after it returns. */
typedef void agent_step_done_cb(struct agent_step_run *run,
    const struct agent_step_result *res, void *arg);

/*
 * Start the step.  On success *out is the run (valid until cb returns).
 * Errors that mean the step cannot start at all (bad step object, log file
 * not writable) return <0 with err set and no callback.  The callback never
 * runs from inside this call (nor from agent_step_abort).  Loop thread
 * only; the ctx strings are copied.
 */
int	agent_step_start(const struct agent_step_ctx *ctx,
	    agent_step_done_cb *cb, void *arg, struct agent_step_run **out,
	    struct lr_err *err);

/*
 * Stop the step: SIGTERM to its process group, SIGKILL after
 * kill_grace_ms; no further retry.  The callback follows with
 * AGENT_STEP_ABORTED (or the step's real result when it had just ended).
 * Work on the thread pool (file, http) is not interrupted; it finishes,
 * and its result is the step's (a failure that would have been retried:
 * AGENT_STEP_ABORTED).  A no-op once the callback has run (run is then
 * gone: do not call it after the callback returned) or when called again.
 */
void	agent_step_abort(struct agent_step_run *run);

/*
 * The `leura-agent --exec-as USER -- PROG ARGS...` trampoline: switch to
 * USER (initgroups, setgid, setuid, HOME/USER/LOGNAME) and exec PROG.
 * argv starts after "--exec-as".  Returns only on failure (exit status 127
 * for the caller, with the reason on stderr).
 */
int	agent_step_exec_as_main(int argc, char **argv);

/* The SHA-256 (hex) of the step's canonical JSON, for change detection. */
void	agent_step_hash(const json_t *step, char out[65]);

#endif
