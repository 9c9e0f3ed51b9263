/*
 * What `leura run`, `exec`, `runs`, `cancel` and `approve` share
 * (runout.c): starting a run through leurad with the "did someone just
 * do that?" refusal shown before anything runs, waiting for a run to be
 * finalised, and printing a run.  The pure half (arguments into a
 * request, what a record says) is the library's: reconcile/runs.h.
 */
#ifndef LEURA_RUNOUT_H
#define LEURA_RUNOUT_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "builtin.h"

struct cmd_run_opts {
	bool	 wait;		/* --wait: poll until finalised */
	bool	 follow;	/* --follow: stream the output, then wait */
	bool	 json;		/* --json: the record (or the refusal) */
	struct lr_ctx *ctx;	/* for --follow (cmd_logs_follow) */
};

/*
 * POST body to path (/v1/tasks/T/runs, /v1/exec) and say what started:
 * the run id and its hosts; with o->wait, wait as cmd_run_wait; with
 * o->follow, stream every host's output as it comes (cmd_logs_follow,
 * logs.c) until the run ends, then print its summary as --wait does.  A 409
 * recent_run prints who ran what when, on which hosts and how it ended,
 * and the --force hint (stderr; with --json the answer on stdout too),
 * and returns LR_EXIT_RECENT: nothing was started.  Any other refusal is
 * printed as the server words it (LR_EXIT_FAIL).  An exit status.
 */
int	cmd_run_start(struct remote *r, const char *path, const json_t *body,
	    const struct cmd_run_opts *o);

/*
 * Poll GET /v1/runs/ID with back-off (rec_runs_backoff) until the run is
 * finalised: a line on stdout each time its progress changes, and while
 * it waits on an approval, which groups must approve and the command to
 * do it.  No deadline of its own: the run's timeout ends it.  Ctrl-C
 * stops the waiting and says the run goes on (LR_EXIT_INTERRUPTED).
 * Then the summary (cmd_run_print), or the record with json.  quiet:
 * no line saying it waits (after --follow).  0 when
 * the run succeeded, LR_EXIT_FAIL otherwise.
 */
int	cmd_run_wait(struct remote *r, const char *id, bool json,
	    bool quiet);

/* The refusal of a 409 recent_run (recent: its "recent") on stderr. */
void	cmd_run_print_recent(const json_t *recent, int64_t now_ms);

/*
 * A run as GET /v1/runs/ID answers it, on stdout: with full, every field
 * of the record (leura run show), else the one-line header; then each
 * host's steps with their status, and the error and last lines of
 * output of each failed step.
 */
void	cmd_run_print(const json_t *run, bool full, int64_t now_ms);

/*
 * Options taken between operands (`leura run drain -p n=3 --wait`):
 * getopt_long over argv with optstring and longopts, each option given
 * to opt (c, optarg, the argv getopt_long is at, arg), which returns -1 when it took it, else an exit
 * status to stop with (cmd_bad_option's).  The operands, in order, into
 * ops (at most max: one more is a usage error naming it), *nops of them;
 * *dashdash: how many came before "--" (-1: there was none; after it
 * everything is an operand).  -1 to go on, or an exit status.
 */
typedef int cmd_run_opt_cb(int c, char *optarg, char **argv, void *arg);
int	cmd_run_getopt(int argc, char **argv, const char *optstring,
	    const struct option *longopts, const char *usage,
	    cmd_run_opt_cb *opt, void *arg, char **ops, int max, int *nops,
	    int *dashdash);

/* Wall-clock milliseconds since the epoch. */
int64_t	cmd_run_now_ms(void);

/*
 * 0 when id has the form of a run id ("r@..."), else the error and a
 * hint printed, LR_EXIT_USAGE.
 */
int	cmd_run_check_id(const char *id);

#endif
