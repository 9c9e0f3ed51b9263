/*
 * The client side of task runs (issue 14): what `leura run`, `exec`,
 * `runs`, `cancel` and `approve` build from their arguments, and what
 * they read in leurad's answers (the run record: server/run.h).  Pure:
 * no I/O, nothing printed; builtin/runout.c prints.  Tested without a
 * server by reconciler/tests/test_runs.c.
 *
 * A run as GET /v1/runs/{id} answers it is the record plus "results":
 * {host: {"0000": result, ...}} (an array indexed by step is read as
 * well), each result the agent's document (status, exit_code, error,
 * head, tail, duration_ms...).
 */
#ifndef REC_RUNS_H
#define REC_RUNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "buf.h"
#include "err.h"

/*
 * One -p argument, "NAME=VALUE", into params[NAME] = "VALUE" (a string:
 * leurad converts it to the type the task declares, and names the param
 * and its type when it cannot).  LR_EINVAL with err set (and a hint)
 * when there is no '=', the name is empty or NAME was given already.
 */
int	rec_runs_param_add(json_t *params, const char *kv, struct lr_err *err);

/*
 * A comma-separated list of names (--hosts a,b) appended to the array
 * targets[key] (made when absent).  LR_EINVAL with err set for an empty
 * list or an empty name ("a,,b").
 */
int	rec_runs_target_add(json_t *targets, const char *key,
	    const char *list, struct lr_err *err);

/*
 * argv[0..n) as one POSIX shell command line, each word as the shell
 * would need it typed to give back that word: as is when it holds only
 * safe characters, else in single quotes ('\'' for a quote).  The
 * caller's string.
 */
char	*rec_runs_shell_join(char *const *argv, size_t n);

/*
 * An RFC 3339 time ("2026-12-07T22:40:01Z", "...01.250Z",
 * "...01+02:00") to Unix milliseconds.  0, or -1 when s is not one.
 */
int	rec_runs_time_parse(const char *s, int64_t *ms);

/* The run is over: state "finalised". */
bool	rec_runs_is_final(const json_t *run);
/*
 * What to show of where a run is: its outcome once finalised
 * ("succeeded", "failed", ...), else its state ("running",
 * "waiting_approval", ...); "?" when it has neither.  Borrowed from run.
 */
const char *rec_runs_state(const json_t *run);

/*
 * The result of step (from 0) on host in run's "results", NULL when
 * there is none (borrowed from run).
 */
const json_t *rec_runs_result(const json_t *run, const char *host,
	    size_t step);

/*
 * The approval step a run in "waiting_approval" waits on: the first
 * approval step no decision was recorded for; -1 when none (or the run
 * waits on nothing).
 */
int	rec_runs_pending_approval(const json_t *run);

/*
 * What a run is, in one short label: the task's name, or "exec: CMD"
 * with CMD cut to fit max characters ("..." at the end), made visible.
 * Appended to b.
 */
void	rec_runs_label(const json_t *run, size_t max, struct lr_buf *b);

/*
 * How long the run took (ended - started), or has taken (now_ms -
 * started) while it goes on, as rec_follow_fmt_ms writes it; "-" when
 * it has not started.  Appended to b.
 */
void	rec_runs_took(const json_t *run, int64_t now_ms, struct lr_buf *b);

/* "4m12s ago" for the RFC 3339 time t; "" when t is not one. */
void	rec_runs_ago(const char *t, int64_t now_ms, struct lr_buf *b);

/*
 * Progress of a run from its "progress" ({host: [step...]}), as a line
 * for a terminal: "running: 2/5 hosts done, 1 failed, 1 running
 * (web1: restart)".  Appended to b, with no newline.
 */
void	rec_runs_progress(const json_t *run, struct lr_buf *b);

/*
 * The wait before the next poll of a run: 250 ms first (prev_ms 0), then
 * doubling up to 2 s.
 */
long	rec_runs_backoff(long prev_ms);

#endif
