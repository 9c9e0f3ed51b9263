/*
 * The process runner: one child process on a libuv loop, in the spirit of
 * git's run-command but on uv_spawn.  It gives the child an argv (no
 * shell), an environment, a working folder, a session and process group
 * of its own (UV_PROCESS_DETACHED), and stdio: stdin from a file
 * descriptor the caller prepared (or /dev/null), an optional fd 3, and
 * stdout and stderr either on pipes the runner reads (handing each chunk
 * to a callback and keeping a bounded capture of stdout) or on a file
 * descriptor of the caller's (a log file).  A deadline timer, and
 * lr_proc_stop, end the whole process group: SIGTERM, then SIGKILL after a
 * grace period, or as soon as the leader has exited.
 *
 * A process has ended when it has exited and its output is closed; output
 * a background process keeps open is read for 1 s more after the exit
 * (200 ms after a SIGTERM), then left.  Only then, with every handle of the
 * process closed, does the exit callback run; the struct lr_proc is freed
 * after it returns, so a caller may start the next process from it.
 *
 * What the child runs as (a trampoline that switches users, say) is the
 * caller's business: it is only argv.  Nothing here prints; a signal that
 * cannot be sent (anything but "no such process") is logged as a warning
 * (component "proc").  Loop thread only.  Library leura_proc (links libuv).
 */
#ifndef LR_PROC_H
#define LR_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "err.h"

struct lr_proc;

enum lr_proc_stream {
	LR_PROC_STDOUT,		/* stdout, and stderr unless split_stderr */
	LR_PROC_STDERR		/* stderr, with split_stderr only */
};

/* What the runner did on its own, for the caller's log. */
enum lr_proc_event {
	LR_PROC_EV_TIMED_OUT,	/* the deadline passed: SIGTERM to the group */
	LR_PROC_EV_KILLED,	/* still running kill_grace_ms after SIGTERM:
				 * SIGKILL to the group */
	LR_PROC_EV_DRAIN_GAVE_UP /* the output stayed open after the exit (a
				 * background process?): no longer read */
};

struct lr_proc_status {
	int	 pid;		/* 0 when it never started */
	int64_t	 exit_status;	/* when it exited by itself */
	int	 term_signal;	/* signal that ended it, 0 when none */
	bool	 timed_out;	/* the deadline passed */
	bool	 aborted;	/* lr_proc_stop signalled it */
	bool	 killed;	/* the grace ran out: SIGKILL was sent */
	/*
	 * With capture_max: the end of stdout, at least its last capture_max
	 * bytes (at most twice that), NUL-terminated; borrowed for the
	 * callback.  NULL (0) without capture_max.
	 */
	const char *out;
	size_t	 out_len;
	bool	 out_truncated;	/* the start of stdout was dropped */
};

/* Each chunk of output, as it comes; the data is borrowed for the call. */
typedef void lr_proc_output_cb(struct lr_proc *p, enum lr_proc_stream s,
    const char *data, size_t len, void *arg);
typedef void lr_proc_event_cb(struct lr_proc *p, enum lr_proc_event ev,
    void *arg);
/* Called once, when the process has ended; p is freed after it returns. */
typedef void lr_proc_exit_cb(struct lr_proc *p,
    const struct lr_proc_status *st, void *arg);

struct lr_proc_opts {
	char *const	*argv;		/* NULL-terminated; argv[0] is looked
					 * up in PATH when it has no '/' */
	char *const	*env;		/* NULL-terminated; NULL: ours */
	const char	*cwd;		/* NULL: ours */
	int		 stdin_fd;	/* -1: /dev/null; else the child's
					 * stdin, taken (closed by start) */
	int		 fd3;		/* -1: none; else the child's fd 3,
					 * taken */
	int		 out_fd;	/* -1: stdout and stderr on pipes we
					 * read; else both to this fd,
					 * borrowed (not closed), not read */
	bool		 split_stderr;	/* pipes: stderr on a pipe of its own */
	size_t		 capture_max;	/* pipes: keep the end of stdout; 0:
					 * none */
	long		 timeout_ms;	/* from the start; <= 0: none */
	long		 kill_grace_ms;	/* SIGTERM to SIGKILL; <= 0: 5000 */
	lr_proc_output_cb *on_output;	/* may be NULL */
	lr_proc_event_cb *on_event;	/* may be NULL */
	lr_proc_exit_cb	*on_exit;	/* required */
	void		*arg;		/* for the callbacks */
	const char	*name;		/* the process in messages ("step
					 * 'x'"), copied; NULL: 'argv[0]' */
};

#define LR_PROC_OPTS_INIT { .stdin_fd = -1, .fd3 = -1, .out_fd = -1 }

/*
 * Start the process.  0 with *out (may be NULL) the process, valid until
 * its exit callback returns; the callbacks never run from inside this
 * call.  <0 with err set ("cannot run 'prog' in 'dir': no such file or
 * directory", "cannot make a pipe: ...") and no callback ever.  Either way
 * stdin_fd and fd3 are closed.  The options' strings need to live only
 * for the call.
 */
int	lr_proc_start(uv_loop_t *loop, const struct lr_proc_opts *o,
	    struct lr_proc **out, struct lr_err *err);

/*
 * Stop the process: SIGTERM to its group now (unless the deadline already
 * sent it), SIGKILL kill_grace_ms later; the status says aborted.  false,
 * and nothing done, when the process has already exited (its real status
 * is on the way) or when called again.  Do not call it after the exit
 * callback has returned.  The exit callback never runs from inside it.
 */
bool	lr_proc_stop(struct lr_proc *p);

/* The process id (its group's id as well); 0 when it has not started. */
int	lr_proc_pid(const struct lr_proc *p);

#endif
