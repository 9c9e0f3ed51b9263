/*
 * Running one step on the agent's libuv loop: the guards, the attempts and
 * their retries, the commands of script and use steps, and the hand-off of
 * file and http steps to the thread pool (step_file.c, step_http.c).
 *
 * A run is a small state machine driven by callbacks: a zero timer starts
 * it (so agent_step_start never calls back), then "creates", the "unless"
 * command, the attempts with their back-off, and finish(), which calls the
 * caller back and closes the run's timer; the run is freed in that close
 * callback.  Each command is a process of the runner in lib/proc.c (its
 * own session and process group, its deadline, SIGTERM then SIGKILL); the
 * run looks at the outcome only once every handle of it is closed, so a
 * new command never meets an old handle.
 *
 * The output of commands goes to the log file (plain write(2): a local
 * file, a few KiB at a time; past half the cap only the last half is
 * kept, in memory, and written at the end) and to a 4 KiB ring that
 * becomes the result's tail.  Lines from the agent itself ("[leura] ...")
 * go to the log only.
 */
#define LR_LOG_COMPONENT "step"

#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "fields.h"
#include "file.h"
#include "hash.h"
#include "json.h"
#include "log.h"
#include "proc.h"
#include "step-int.h"
#include "step.h"
#include "xalloc.h"

extern char **environ;

#define SCRIPT_PATH	"/dev/fd/3"	/* where the shell reads the script */
#define BACKOFF_MAX_MS	60000
#define USE_KEEP	(64 * 1024)	/* stdout of a use step kept to parse */

enum step_kind { KIND_SCRIPT, KIND_FILE, KIND_HTTP, KIND_USE };
enum run_phase {
	PH_START, PH_UNLESS, PH_MAIN, PH_VALIDATE, PH_WAIT, PH_DONE
};

struct agent_step_run {
	uv_loop_t	*loop;
	agent_step_done_cb *cb;
	void		*arg;
	enum agent_step_mode mode;
	enum step_kind	 kind;
	char		*id;
	char		*files_dir;
	char		*work_dir;
	char		*self_exe;
	char		*shell;
	char		*script;
	char		*unless;
	char		*creates;
	char		*cwd;
	char		*run_as;
	char		*use_exec;	/* files_dir/<exec_sha256> */
	char		*use_input;	/* the step as JSON, for stdin */
	char		**env;		/* NULL-terminated, owned */
	long		 timeout_ms;	/* 0: none */
	long		 retry_base_ms;
	long		 kill_grace_ms;
	int		 retries;
	bool		 as_other;	/* through self_exe --exec-as */
	uid_t		 run_uid;
	gid_t		 run_gid;
	struct step_file_spec file;
	struct step_http_spec http;

	int		 log_fd;	/* -1: no log */
	bool		 log_nl;	/* the log ends a line */
	bool		 file_nl;	/* the log file ends a line */
	size_t		 log_max;	/* the most a step's log takes */
	void		(*on_output)(const char *, size_t, void *);
	void		*output_arg;
	size_t		 log_head;	/* bytes the log may still take as
					 * they come (the head) */
	size_t		 log_tail_max;	/* then the last this many are kept */
	char		*log_tail;	/* their ring, once the head is full */
	uint64_t	 log_tail_total; /* bytes through the ring */
	uint64_t	 log_cut;	/* bytes cut: through the ring, lost */
	char		 ring[AGENT_STEP_TAIL];
	uint64_t	 ring_total;

	uv_timer_t	 timer;		/* start, back-off, deferred finish */
	enum run_phase	 phase;
	struct lr_proc	*proc;		/* the command running; NULL */
	struct step_work *work;
	struct step_work *staged;	/* a file step's new content, while
					 * its validate command runs */
	bool		 aborted;
	bool		 deferred;	/* the timer finishes with these: */
	enum agent_step_status deferred_status;
	char		 deferred_error[512];
	uint64_t	 t0;		/* uv_hrtime() at start */
	json_t		*use_result;
	struct agent_step_result res;
};

static void	attempt(struct agent_step_run *);
static void	on_run_timer(uv_timer_t *);

const char *
agent_step_status_name(enum agent_step_status s)
{
	switch (s) {
	case AGENT_STEP_OK:
		return PROTO_STATUS_OK;
	case AGENT_STEP_CHANGED:
		return PROTO_STATUS_CHANGED;
	case AGENT_STEP_SKIPPED:
		return PROTO_STATUS_SKIPPED;
	case AGENT_STEP_FAILED:
		return PROTO_STATUS_FAILED;
	case AGENT_STEP_ABORTED:
		return PROTO_STATUS_ABORTED;
	}
	return "?";
}

void
agent_step_hash(const json_t *step, char out[65])
{
	char *s = json_dumps(step, JSON_COMPACT | JSON_SORT_KEYS);

	lr_sha256_hex(s ? s : "", s ? strlen(s) : 0, out);
	free(s);
}

enum agent_step_status
step_work_fail(struct step_work *w, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(w->error, sizeof(w->error), fmt, ap);
	va_end(ap);
	w->status = AGENT_STEP_FAILED;
	return w->status;
}

/* ---- output: log file and tail ---- */

/* write(2) to the log file; a failure closes it with a warning. */
static void
log_put(struct agent_step_run *run, const char *p, size_t n)
{
	ssize_t w;

	if (n)
		run->file_nl = p[n - 1] == '\n';
	while (run->log_fd >= 0 && n > 0) {
		w = write(run->log_fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			lr_log_warn("cannot write the log of step '%s': %s",
			    run->id, strerror(errno));
			close(run->log_fd);
			run->log_fd = -1;
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

/*
 * Bytes for the log: the first log_head go to the file as they come;
 * after that only the last log_tail_max are kept, in a ring written out
 * by log_flush when the step ends, so that a step printing without end
 * takes at most log_max bytes of disk (and log_max / 2 of memory).
 */
static void
log_write(struct agent_step_run *run, const char *p, size_t n)
{
	size_t k, pos;

	if (n)
		run->log_nl = p[n - 1] == '\n';
	if (run->log_fd < 0)
		return;
	k = n < run->log_head ? n : run->log_head;
	log_put(run, p, k);
	run->log_head -= k;
	p += k;
	n -= k;
	if (n == 0)
		return;
	if (run->log_tail == NULL)
		run->log_tail = lr_xmalloc(run->log_tail_max);
	if (n > run->log_tail_max) {
		run->log_tail_total += n - run->log_tail_max;
		p += n - run->log_tail_max;
		n = run->log_tail_max;
	}
	while (n > 0) {
		pos = run->log_tail_total % run->log_tail_max;
		k = run->log_tail_max - pos < n ? run->log_tail_max - pos : n;
		memcpy(run->log_tail + pos, p, k);
		run->log_tail_total += k;
		p += k;
		n -= k;
	}
}

/*
 * The end of the step: what the ring kept goes to the file, after a line
 * that says how much was cut; from here on the log takes every byte (the
 * last notes).
 */
static void
log_flush(struct agent_step_run *run)
{
	struct lr_buf b = LR_BUF_INIT;
	size_t n, pos;

	if (run->log_tail_total == 0 || run->log_fd < 0)
		goto out;
	n = run->log_tail_total < run->log_tail_max ?
	    (size_t)run->log_tail_total : run->log_tail_max;
	run->log_cut = run->log_tail_total - n;
	if (run->log_cut) {
		lr_buf_printf(&b, "%s[leura] %llu bytes of output cut here: "
		    "the log of a step keeps its first %zu and last %zu "
		    "bytes\n", run->file_nl ? "" : "\n",
		    (unsigned long long)run->log_cut, run->log_max -
		    run->log_tail_max, run->log_tail_max);
		log_put(run, b.s, b.len);
	}
	if (run->log_tail_total <= run->log_tail_max)
		log_put(run, run->log_tail, n);
	else {
		pos = run->log_tail_total % run->log_tail_max;
		log_put(run, run->log_tail + pos, run->log_tail_max - pos);
		log_put(run, run->log_tail, pos);
	}
out:
	lr_buf_release(&b);
	free(run->log_tail);
	run->log_tail = NULL;
	run->log_tail_total = 0;
	run->log_head = SIZE_MAX;
}

/* Output of a command (or an http answer): log and tail. */
static void
run_output(struct agent_step_run *run, const char *p, size_t n)
{
	size_t pos, k;

	if (run->on_output != NULL && n > 0)
		run->on_output(p, n, run->output_arg);
	log_write(run, p, n);
	if (n > AGENT_STEP_TAIL) {
		run->ring_total += n - AGENT_STEP_TAIL;
		p += n - AGENT_STEP_TAIL;
		n = AGENT_STEP_TAIL;
	}
	while (n > 0) {
		pos = run->ring_total % AGENT_STEP_TAIL;
		k = AGENT_STEP_TAIL - pos < n ? AGENT_STEP_TAIL - pos : n;
		memcpy(run->ring + pos, p, k);
		run->ring_total += k;
		p += k;
		n -= k;
	}
}

/* A line of the agent's own in the log: "[leura] ...". */
static void
run_note(struct agent_step_run *run, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
run_note(struct agent_step_run *run, const char *fmt, ...)
{
	struct lr_buf b = LR_BUF_INIT;
	va_list ap;

	if (run->log_fd < 0)
		return;
	if (!run->log_nl)
		lr_buf_addc(&b, '\n');
	lr_buf_adds(&b, "[leura] ");
	va_start(ap, fmt);
	lr_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	lr_buf_addc(&b, '\n');
	log_write(run, b.s, b.len);
	lr_buf_release(&b);
}

/*
 * The tail for the result: the last AGENT_STEP_TAIL bytes of output, or,
 * when the log was cut, a line that says so and the last bytes that fit
 * with it.
 */
static char *
ring_text(const struct agent_step_run *run)
{
	char mark[256], *s, *tail;
	size_t n, pos, k, m;

	n = run->ring_total < AGENT_STEP_TAIL ? (size_t)run->ring_total :
	    AGENT_STEP_TAIL;
	tail = lr_xmalloc(n + 1);
	if (run->ring_total <= AGENT_STEP_TAIL)
		memcpy(tail, run->ring, n);
	else {
		pos = run->ring_total % AGENT_STEP_TAIL;
		memcpy(tail, run->ring + pos, AGENT_STEP_TAIL - pos);
		memcpy(tail + AGENT_STEP_TAIL - pos, run->ring, pos);
	}
	tail[n] = '\0';
	if (run->log_cut == 0)
		return tail;
	m = (size_t)snprintf(mark, sizeof(mark), "[leura] %llu bytes of "
	    "output cut from the log (it keeps the first %zu and the last "
	    "%zu); the end:\n", (unsigned long long)run->log_cut,
	    run->log_max - run->log_tail_max, run->log_tail_max);
	if (m >= sizeof(mark))
		m = sizeof(mark) - 1;
	k = n + m > AGENT_STEP_TAIL ? AGENT_STEP_TAIL - m : n;
	s = lr_xmalloc(m + k + 1);
	memcpy(s, mark, m);
	memcpy(s + m, tail + n - k, k);
	s[m + k] = '\0';
	free(tail);
	return s;
}

/* ---- the end of a run ---- */

static void
run_free(struct agent_step_run *run)
{
	char **e;

	if (run->log_fd >= 0)
		close(run->log_fd);
	free(run->log_tail);
	for (e = run->env; e && *e; e++)
		free(*e);
	free(run->env);
	free(run->id);
	free(run->files_dir);
	free(run->work_dir);
	free(run->self_exe);
	free(run->shell);
	free(run->script);
	free(run->unless);
	free(run->creates);
	free(run->cwd);
	free(run->run_as);
	free(run->use_exec);
	free(run->use_input);
	step_file_release(&run->file);
	step_http_release(&run->http);
	json_decref(run->use_result);
	free(run->res.tail);
	free(run);
}

static void
run_closed(uv_handle_t *h)
{
	run_free(h->data);
}

static void
finish(struct agent_step_run *run, enum agent_step_status status,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Call back and free the run; nothing of it may be in flight. */
static void
finish(struct agent_step_run *run, enum agent_step_status status,
    const char *fmt, ...)
{
	struct agent_step_result *res = &run->res;
	va_list ap;

	if (run->proc || run->work || run->staged || run->phase == PH_DONE)
		LR_BUG("step '%s' finished while busy", run->id);
	run->phase = PH_DONE;
	res->status = status;
	va_start(ap, fmt);
	vsnprintf(res->error, sizeof(res->error), fmt, ap);
	va_end(ap);
	res->duration_ms = (int64_t)((uv_hrtime() - run->t0) / 1000000);
	log_flush(run);
	res->tail = ring_text(run);
	if (run->use_result)
		res->message = json_object_get(run->use_result, "message");
	if (res->error[0])
		run_note(run, "%s: %s (%lld ms)", agent_step_status_name(
		    status), res->error, (long long)res->duration_ms);
	else
		run_note(run, "%s (%lld ms)", agent_step_status_name(status),
		    (long long)res->duration_ms);
	run->cb(run, res, run->arg);
	uv_close((uv_handle_t *)&run->timer, run_closed);
}


/* Finish from the run's timer, so that the caller is never re-entered. */
static void
finish_later(struct agent_step_run *run, enum agent_step_status status,
    const char *error)
{
	run->deferred = true;
	run->deferred_status = status;
	snprintf(run->deferred_error, sizeof(run->deferred_error), "%s",
	    error);
	uv_timer_stop(&run->timer);
	uv_timer_start(&run->timer, on_run_timer, 0, 0);
}

/*
 * An attempt ended: retry after a failure, or finish.  An abort stops the
 * retries; the attempt's own result stands when it was the last anyway.
 */
static void
attempt_done(struct agent_step_run *run, enum agent_step_status status,
    const char *error)
{
	long delay;
	int i;

	if (status != AGENT_STEP_FAILED || run->res.attempts > run->retries) {
		finish(run, status, "%s", error);
		return;
	}
	if (run->aborted) {
		finish(run, AGENT_STEP_ABORTED, "aborted after attempt %d: %s",
		    run->res.attempts, error);
		return;
	}
	delay = run->retry_base_ms;
	for (i = 1; i < run->res.attempts && delay < BACKOFF_MAX_MS; i++)
		delay *= 2;
	if (delay > BACKOFF_MAX_MS)
		delay = BACKOFF_MAX_MS;
	run_note(run, "attempt %d failed: %s; retrying in %ld ms",
	    run->res.attempts, error, delay);
	run->phase = PH_WAIT;
	uv_timer_start(&run->timer, on_run_timer, (uint64_t)delay, 0);
}

/* ---- commands ---- */

/* Output of the command, both streams: log and tail. */
static void
cmd_output(struct lr_proc *p, enum lr_proc_stream s, const char *data,
    size_t len, void *arg)
{
	run_output(arg, data, len);
}

/* What the runner did on its own, noted in the log. */
static void
cmd_event(struct lr_proc *p, enum lr_proc_event ev, void *arg)
{
	struct agent_step_run *run = arg;

	switch (ev) {
	case LR_PROC_EV_TIMED_OUT:
		run_note(run, "timed out after %ld ms: SIGTERM to process "
		    "group %d", run->timeout_ms, lr_proc_pid(p));
		break;
	case LR_PROC_EV_KILLED:
		run_note(run, "still running %ld ms after SIGTERM: SIGKILL",
		    run->kill_grace_ms);
		break;
	case LR_PROC_EV_DRAIN_GAVE_UP:
		run_note(run, "output still open after the command ended (a "
		    "background process?); stopped reading it");
		break;
	}
}

static void	cmd_ended(struct lr_proc *, const struct lr_proc_status *,
		    void *);
static void	validate_ended(struct agent_step_run *, bool, bool,
		    const char *);

/*
 * Start argv as the run's command (lib/proc.c): stdout and stderr into
 * the log and the tail, on one pipe (two when capturing stdout, for use
 * steps), stdin from in_fd or /dev/null, fd 3 from fd3 when >= 0; in_fd
 * and fd3 are closed here.  With run_as, argv goes through `self_exe
 * --exec-as USER --`.  0 when the command's end will come through
 * cmd_ended, or -1 and *why (owned) when it could not start.
 */
static int
cmd_start(struct agent_step_run *run, char *const *argv, bool capture,
    int in_fd, int fd3, char **why)
{
	struct lr_proc_opts o = LR_PROC_OPTS_INIT;
	struct lr_err err = { 0 };
	char *full[64], *name;
	int i, n = 0, rc;

	if (run->as_other) {
		full[n++] = run->self_exe;
		full[n++] = "--exec-as";
		full[n++] = run->run_as;
		full[n++] = "--";
	}
	for (i = 0; argv[i] && n < 63; i++)
		full[n++] = argv[i];
	full[n] = NULL;

	o.argv = full;
	o.env = run->env;
	o.cwd = run->cwd;
	o.stdin_fd = in_fd;
	o.fd3 = fd3;
	o.split_stderr = capture;
	o.capture_max = capture ? USE_KEEP : 0;
	o.timeout_ms = run->timeout_ms;
	o.kill_grace_ms = run->kill_grace_ms;
	o.on_output = cmd_output;
	o.on_event = cmd_event;
	o.on_exit = cmd_ended;
	o.arg = run;
	/* warnings name the step, not argv[0] (the agent itself for run_as) */
	o.name = name = lr_xasprintf("step '%s'", run->id);
	rc = lr_proc_start(run->loop, &o, &run->proc, &err);
	free(name);
	if (rc < 0) {
		*why = lr_xstrdup(err.msg);
		return -1;
	}
	return 0;
}

/* The last JSON object of a use step's stdout, kept in the run. */
static enum agent_step_status
use_outcome(struct agent_step_run *run, const char *out, size_t len,
    char *why, size_t whysz)
{
	json_error_t je;
	json_t *o = NULL, *ch;
	size_t i, k;

	for (i = len; i-- > 0;) {
		if (out[i] != '{')
			continue;
		o = json_loadb(out + i, len - i, JSON_DISABLE_EOF_CHECK, &je);
		if (o == NULL)
			continue;
		for (k = i + (size_t)je.position; k < len && strchr(" \t\r\n",
		    out[k]); k++)
			;
		if (k == len && json_is_object(o))
			break;
		json_decref(o);
		o = NULL;
	}
	ch = json_object_get(o, "changed");
	if (!json_is_boolean(ch)) {
		snprintf(why, whysz, "'%s' printed no JSON object with "
		    "\"changed\" (true or false) at the end of its output",
		    run->use_exec);
		json_decref(o);
		return AGENT_STEP_FAILED;
	}
	json_decref(run->use_result);
	run->use_result = o;
	return json_is_true(ch) ? AGENT_STEP_CHANGED : AGENT_STEP_OK;
}

/* The command has ended, every handle of it closed: how did it go? */
static void
cmd_ended(struct lr_proc *p, const struct lr_proc_status *st, void *arg)
{
	struct agent_step_run *run = arg;
	enum agent_step_status s;
	char why[512] = "";
	bool ok = false;

	run->proc = NULL;
	run->res.exit_code = st->term_signal || st->killed ? -1 :
	    (int)st->exit_status;
	run->res.term_signal = st->term_signal;
	run->res.timed_out = st->timed_out;
	if (st->timed_out)
		snprintf(why, sizeof(why), "timed out after %ld ms",
		    run->timeout_ms);
	else if (st->term_signal)
		snprintf(why, sizeof(why), "killed by signal %d (%s)",
		    st->term_signal, strsignal(st->term_signal));
	else if (st->exit_status != 0)
		snprintf(why, sizeof(why), "exited with status %lld",
		    (long long)st->exit_status);
	else
		ok = true;

	if (run->phase == PH_VALIDATE) {
		validate_ended(run, st->aborted || run->aborted, ok, why);
		return;
	}
	if (run->phase == PH_UNLESS) {
		if (st->aborted || run->aborted)
			finish(run, AGENT_STEP_ABORTED, "aborted");
		else if (ok)
			finish(run, AGENT_STEP_SKIPPED, "unless: '%s' exited 0",
			    run->unless);
		else if (st->timed_out)
			finish(run, AGENT_STEP_FAILED, "unless command: %s",
			    why);
		else
			attempt(run);
	} else if (st->aborted)
		finish(run, AGENT_STEP_ABORTED, "aborted");
	else if (!ok)
		attempt_done(run, AGENT_STEP_FAILED, why);
	else if (run->kind == KIND_USE) {
		s = use_outcome(run, st->out, st->out_len, why, sizeof(why));
		attempt_done(run, s, why);
	} else
		attempt_done(run, AGENT_STEP_CHANGED, "");
}

/* ---- the phases of a run ---- */

/*
 * An unlinked temporary file in work_dir holding data, at offset 0, the
 * run_as user's: for scripts when there is no memfd (read through
 * /dev/fd/3, so the user needs no access to work_dir) and stdin too big
 * for a pipe.  The fd, or -1 and *why.
 */
static int
temp_fd(struct agent_step_run *run, const char *data, size_t len,
    char **why)
{
	char *path;
	int fd;

	if (run->work_dir == NULL) {
		*why = lr_xstrdup("no work_dir for a temporary file");
		return -1;
	}
	path = lr_xasprintf("%s/.leura-step-XXXXXX", run->work_dir);
	if ((fd = mkostemp(path, O_CLOEXEC)) < 0) {
		*why = lr_xasprintf("cannot create a temporary file in '%s': "
		    "%s", run->work_dir, strerror(errno));
		free(path);
		return -1;
	}
	unlink(path);
	if (lr_write_all(fd, data, len) < 0 || lseek(fd, 0, SEEK_SET) < 0 ||
	    (run->as_other && fchown(fd, run->run_uid, run->run_gid) < 0)) {
		*why = lr_xasprintf("cannot write a temporary file in '%s': "
		    "%s", run->work_dir, strerror(errno));
		close(fd);
		fd = -1;
	}
	free(path);
	return fd;
}

/*
 * The text of a script (or an unless command) for the shell to read as
 * /dev/fd/3, never on its command line, where ps and /proc/PID/cmdline
 * would show it (and the secrets rendered into it) to every local user:
 * a sealed memfd, the run_as user's and readable only by it (a temporary
 * file in work_dir when memfd_create is not there).  The fd, or -1 and
 * *why.
 */
static int
script_fd(struct agent_step_run *run, const char *text, char **why)
{
	size_t len = strlen(text);
	int fd;

	if ((fd = memfd_create("leura-script", MFD_CLOEXEC |
	    MFD_ALLOW_SEALING)) < 0)
		return temp_fd(run, text, len, why);
	if (lr_write_all(fd, text, len) < 0 || lseek(fd, 0, SEEK_SET) < 0 ||
	    (run->as_other && fchown(fd, run->run_uid, run->run_gid) < 0) ||
	    fchmod(fd, 0400) < 0) {
		*why = lr_xasprintf("cannot pass the script of step '%s' to "
		    "its shell: %s", run->id, strerror(errno));
		close(fd);
		return -1;
	}
	/* what the shell reads is what was written, whoever holds the fd */
	(void)fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
	    F_SEAL_WRITE | F_SEAL_SEAL);
	return fd;
}

/*
 * stdin holding data: a pipe filled before the child starts (so no write
 * can meet a closed reader and SIGPIPE), or a temporary file when data
 * does not fit in a pipe.  The fd to give the child, or -1 and *why.
 */
static int
stdin_fd(struct agent_step_run *run, const char *data, size_t len,
    char **why)
{
	int fds[2], fl;
	ssize_t w;
	size_t off = 0;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return temp_fd(run, data, len, why);
	if (len > 65536)
		(void)fcntl(fds[1], F_SETPIPE_SZ, (int)len);
	fl = fcntl(fds[1], F_GETFL);
	(void)fcntl(fds[1], F_SETFL, fl | O_NONBLOCK);
	while (off < len) {
		w = write(fds[1], data + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	close(fds[1]);
	if (off == len)
		return fds[0];
	close(fds[0]);
	return temp_fd(run, data, len, why);
}

static void
on_work(uv_work_t *req)
{
	struct step_work *w = req->data;

	if (w->file)
		step_file_work(w);
	else
		step_http_work(w);
}

static void
work_free(struct step_work *w)
{
	step_file_discard(w);
	lr_buf_release(&w->log);
	lr_buf_release(&w->out);
	free(w);
}

/* A file step's validate command with %s as the quoted path of the new
 * content: a shell script, given like a script step's (script_fd). */
static char *
validate_script(const char *cmd, const char *path)
{
	struct lr_buf b = LR_BUF_INIT;
	const char *p, *q, *c;

	for (p = cmd; (q = strstr(p, "%s")) != NULL; p = q + 2) {
		lr_buf_add(&b, p, (size_t)(q - p));
		/* single quotes keep everything but a single quote */
		lr_buf_addc(&b, '\'');
		for (c = path; *c; c++) {
			if (*c == '\'')
				lr_buf_adds(&b, "'\\''");
			else
				lr_buf_addc(&b, *c);
		}
		lr_buf_addc(&b, '\'');
	}
	lr_buf_adds(&b, p);
	lr_buf_addc(&b, '\n');
	return lr_buf_detach(&b, NULL);
}

static void	work_queue(struct agent_step_run *, struct step_work *);

/*
 * The new content of a file step is in the temporary file w->tmp_path:
 * run the step's validate command on it (the runner of script steps:
 * run_as, env, cwd, timeout, output into the log and the tail).
 */
static void
validate_start(struct agent_step_run *run, struct step_work *w)
{
	char *argv[3], *script, *why = NULL;
	int fd;

	run->staged = w;
	run->phase = PH_VALIDATE;
	script = validate_script(run->file.validate, w->tmp_path);
	run_note(run, "validate: %s", script);
	argv[0] = run->shell;
	argv[1] = SCRIPT_PATH;
	argv[2] = NULL;
	if ((fd = script_fd(run, script, &why)) < 0 ||
	    cmd_start(run, argv, false, -1, fd, &why) < 0) {
		run->staged = NULL;
		run->phase = PH_MAIN;
		attempt_done(run, AGENT_STEP_FAILED, why);
		work_free(w);
		free(why);
	}
	free(script);
}

/*
 * The validate command has ended: rename the new content into place when
 * it said yes, else leave dest as it was and fail the attempt.
 */
static void
validate_ended(struct agent_step_run *run, bool aborted, bool ok,
    const char *why)
{
	struct step_work *w = run->staged;
	char error[512];

	run->staged = NULL;
	run->phase = PH_MAIN;
	if (aborted || !ok) {
		snprintf(error, sizeof(error), "validate: '%s' %s; '%s' left "
		    "as it was", run->file.validate, aborted ? "aborted" : why,
		    run->file.dest);
		run_note(run, "removed '%s'", w->tmp_path);
		work_free(w);
		if (aborted)
			finish(run, AGENT_STEP_ABORTED, "%s", error);
		else
			attempt_done(run, AGENT_STEP_FAILED, error);
		return;
	}
	w->stage = false;
	w->commit = true;
	w->status = AGENT_STEP_FAILED;
	lr_buf_reset(&w->log);
	lr_buf_reset(&w->out);
	run_note(run, "validate passed: renaming it to '%s'", run->file.dest);
	work_queue(run, w);
}

static void
on_work_done(uv_work_t *req, int status)
{
	struct step_work *w = req->data;
	struct agent_step_run *run = w->run;
	const char *line;
	size_t len;

	run->work = NULL;
	for (line = w->log.s; line && *line; line += len + (line[len] != 0)) {
		len = strcspn(line, "\n");
		run_note(run, "%.*s", (int)len, line);
	}
	if (w->out.len)
		run_output(run, w->out.s, w->out.len);
	if (status < 0)
		step_work_fail(w, "%s", uv_strerror(status));
	if (w->tmp != NULL && run->aborted) {
		work_free(w);
		finish(run, AGENT_STEP_ABORTED, "aborted before its validate "
		    "command; '%s' left as it was", run->file.dest);
		return;
	}
	if (w->tmp != NULL && status == 0 && w->status != AGENT_STEP_FAILED) {
		validate_start(run, w);
		return;
	}
	attempt_done(run, w->status, w->error);
	work_free(w);
}

static void
work_queue(struct agent_step_run *run, struct step_work *w)
{
	int rc;

	run->work = w;
	if ((rc = uv_queue_work(run->loop, &w->req, on_work,
	    on_work_done)) < 0) {
		run->work = NULL;
		work_free(w);
		attempt_done(run, AGENT_STEP_FAILED, uv_strerror(rc));
	}
}

static void
work_start(struct agent_step_run *run)
{
	struct step_work *w;

	w = lr_xcalloc(1, sizeof(*w));
	w->req.data = w;
	w->run = run;
	w->files_dir = run->files_dir;
	w->check = run->mode == AGENT_STEP_CHECK;
	w->status = AGENT_STEP_FAILED;
	w->dirfd = -1;
	if (run->kind == KIND_FILE) {
		w->file = &run->file;
		/* a drift check writes nothing, so validates nothing */
		w->stage = run->file.validate != NULL && !w->check;
	} else
		w->http = &run->http;
	work_queue(run, w);
}

/* One attempt of the step itself. */
static void
attempt(struct agent_step_run *run)
{
	char *argv[4] = { NULL }, *why = NULL;
	int fd = -1;

	run->phase = PH_MAIN;
	run->res.attempts++;
	run->res.exit_code = -1;
	run->res.term_signal = 0;
	run->res.timed_out = false;
	if (run->retries > 0)
		run_note(run, "attempt %d of %d", run->res.attempts,
		    run->retries + 1);
	switch (run->kind) {
	case KIND_FILE:
	case KIND_HTTP:
		work_start(run);
		return;
	case KIND_SCRIPT:
		argv[0] = run->shell;
		argv[1] = SCRIPT_PATH;
		fd = script_fd(run, run->script, &why);
		if (why == NULL && cmd_start(run, argv, false, -1, fd,
		    &why) == 0)
			return;
		break;
	case KIND_USE:
		argv[0] = run->use_exec;
		fd = stdin_fd(run, run->use_input, strlen(run->use_input),
		    &why);
		if (why == NULL && cmd_start(run, argv, true, fd, -1,
		    &why) == 0)
			return;
		break;
	}
	attempt_done(run, AGENT_STEP_FAILED, why);
	free(why);
}

/* The guards, then the first attempt. */
static void
begin(struct agent_step_run *run)
{
	struct stat st;
	char *argv[3], *why = NULL;
	int fd;

	if (run->creates && stat(run->creates, &st) == 0) {
		finish(run, AGENT_STEP_SKIPPED, "creates: '%s' exists",
		    run->creates);
		return;
	}
	if (run->unless == NULL) {
		attempt(run);
		return;
	}
	run->phase = PH_UNLESS;
	run_note(run, "unless: %s", run->unless);
	argv[0] = run->shell;
	argv[1] = SCRIPT_PATH;
	argv[2] = NULL;
	if ((fd = script_fd(run, run->unless, &why)) < 0 ||
	    cmd_start(run, argv, false, -1, fd, &why) < 0) {
		finish(run, AGENT_STEP_FAILED, "unless command: %s", why);
		free(why);
	}
}

static void
on_run_timer(uv_timer_t *t)
{
	struct agent_step_run *run = t->data;

	if (run->deferred)
		finish(run, run->deferred_status, "%s", run->deferred_error);
	else if (run->phase == PH_START)
		begin(run);
	else
		attempt(run);
}

/* ---- starting and stopping ---- */

static int
opt_str(const json_t *step, const char *key, bool empty_ok, char **out,
    struct lr_err *err)
{
	const json_t *v = json_object_get(step, key);

	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v) || (!empty_ok && json_string_length(v) == 0))
		return lr_err_set(err, LR_EINVAL, "'%s' must be a%s string",
		    key, empty_ok ? "" : " non-empty");
	*out = lr_xstrdup(json_string_value(v));
	return 0;
}

static void
env_put(char ***env, size_t *n, size_t *cap, const char *key,
    const char *val)
{
	size_t i, klen = strlen(key);

	for (i = 0; i < *n; i++) {
		if (strncmp((*env)[i], key, klen) == 0 &&
		    (*env)[i][klen] == '=') {
			free((*env)[i]);
			memmove(*env + i, *env + i + 1,
			    (*n - i - 1) * sizeof(char *));
			(*n)--;
			i--;
		}
	}
	*LR_ARRAY_PUSH(*env, *n, *cap) = lr_xasprintf("%s=%s", key, val);
}

/* The agent's environment, the step's "env", then LEURA_*. */
static int
build_env(struct agent_step_run *run, const json_t *step,
    const struct agent_step_ctx *ctx, struct lr_err *err)
{
	const json_t *envo = json_object_get(step, PROTO_STEP_ENV), *v;
	char **env = NULL, **e, num[64];
	size_t n = 0, cap = 0;
	const char *k, *s;

	if (envo && !json_is_null(envo) && !json_is_object(envo))
		return lr_err_set(err, LR_EINVAL, "'env' must be an object");
	for (e = environ; e && *e; e++)
		*LR_ARRAY_PUSH(env, n, cap) = lr_xstrdup(*e);
	run->env = env;		/* freed with the run, even on error */
	json_object_foreach((json_t *)envo, k, v) {
		if (*k == '\0' || strchr(k, '='))
			return lr_err_set(err, LR_EINVAL, "'env' has a bad "
			    "variable name '%s'", k);
		if (json_is_string(v))
			s = json_string_value(v);
		else if (json_is_integer(v)) {
			snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
			    json_integer_value(v));
			s = num;
		} else if (json_is_boolean(v))
			s = json_is_true(v) ? "true" : "false";
		else
			return lr_err_set(err, LR_EINVAL, "'env' variable '%s' "
			    "must be a string", k);
		env_put(&env, &n, &cap, k, s);
		run->env = env;
	}
	env_put(&env, &n, &cap, "LEURA_HOST", ctx->host ? ctx->host : "");
	env_put(&env, &n, &cap, "LEURA_STEP_ID", run->id);
	snprintf(num, sizeof(num), "%lld", (long long)ctx->generation);
	env_put(&env, &n, &cap, "LEURA_GENERATION", num);
	*LR_ARRAY_PUSH(env, n, cap) = NULL;
	run->env = env;
	return 0;
}

/*
 * Whether the step runs as another user: 0 (run->as_other set or not), or
 * -1 with the reason in why, for a step that must fail.
 */
static int
resolve_run_as(struct agent_step_run *run, char *why, size_t whysz)
{
	struct passwd pw, *pwp = NULL;
	char buf[16384];

	if (run->run_as == NULL)
		return 0;
	getpwnam_r(run->run_as, &pw, buf, sizeof(buf), &pwp);
	if (pwp == NULL) {
		snprintf(why, whysz, "run_as user '%s' does not exist on this "
		    "host", run->run_as);
		return -1;
	}
	if (pw.pw_uid == geteuid())
		return 0;
	if (geteuid() != 0) {
		snprintf(why, whysz, "run_as '%s' needs leura-agent to run as "
		    "root; it runs as uid %u", run->run_as,
		    (unsigned)geteuid());
		return -1;
	}
	if (run->self_exe == NULL) {
		snprintf(why, whysz, "run_as '%s': the agent's own executable "
		    "is not known", run->run_as);
		return -1;
	}
	run->as_other = true;
	run->run_uid = pw.pw_uid;
	run->run_gid = pw.pw_gid;
	return 0;
}

static int
parse_step(struct agent_step_run *run, const json_t *step,
    const struct agent_step_ctx *ctx, struct lr_err *err)
{
	const char *kind = lr_json_strn(step, PROTO_STEP_KIND);
	const json_t *v;
	const char *sha;

	if (kind == NULL)
		return lr_err_set(err, LR_EINVAL, "no 'kind'");
	if (strcmp(kind, PROTO_KIND_SCRIPT) == 0)
		run->kind = KIND_SCRIPT;
	else if (strcmp(kind, PROTO_KIND_FILE) == 0)
		run->kind = KIND_FILE;
	else if (strcmp(kind, PROTO_KIND_HTTP) == 0)
		run->kind = KIND_HTTP;
	else if (strcmp(kind, PROTO_KIND_USE) == 0)
		run->kind = KIND_USE;
	else
		return lr_err_set(err, LR_EINVAL, "unknown kind '%s'", kind);
	if (opt_str(step, PROTO_STEP_SHELL, false, &run->shell, err) < 0 ||
	    opt_str(step, PROTO_STEP_CWD, false, &run->cwd, err) < 0 ||
	    opt_str(step, PROTO_STEP_RUN_AS, false, &run->run_as, err) < 0 ||
	    opt_str(step, PROTO_STEP_CREATES, false, &run->creates, err) < 0 ||
	    opt_str(step, PROTO_STEP_UNLESS, false, &run->unless, err) < 0)
		return LR_EINVAL;
	if (run->shell == NULL)
		run->shell = lr_xstrdup("/bin/sh");
	v = json_object_get(step, PROTO_STEP_TIMEOUT_MS);
	if (v && !json_is_null(v) && !json_is_integer(v))
		return lr_err_set(err, LR_EINVAL, "'timeout_ms' must be an "
		    "integer");
	if (json_integer_value(v) > 0)
		run->timeout_ms = (long)json_integer_value(v);
	v = json_object_get(step, PROTO_STEP_RETRIES);
	if (v && !json_is_null(v) && (!json_is_integer(v) ||
	    json_integer_value(v) < 0 || json_integer_value(v) > 1000))
		return lr_err_set(err, LR_EINVAL, "'retries' must be an "
		    "integer from 0 to 1000");
	run->retries = (int)json_integer_value(v);

	switch (run->kind) {
	case KIND_SCRIPT:
		if (opt_str(step, PROTO_STEP_SCRIPT, true, &run->script,
		    err) < 0)
			return LR_EINVAL;
		if (run->script == NULL)
			return lr_err_set(err, LR_EINVAL, "no 'script'");
		break;
	case KIND_FILE:
		if (ctx->files_dir == NULL)
			return lr_err_set(err, LR_EINVAL, "no files_dir");
		return step_file_parse(step, &run->file, err);
	case KIND_HTTP:
		return step_http_parse(step, &run->http, err);
	case KIND_USE:
		sha = lr_json_strn(step, PROTO_STEP_EXEC_SHA256);
		if (sha == NULL || strlen(sha) != LR_SHA256_HEX_LEN ||
		    strspn(sha, "0123456789abcdef") != LR_SHA256_HEX_LEN)
			return lr_err_set(err, LR_EINVAL, "no 'exec_sha256' of "
			    "64 lowercase hex digits");
		if (ctx->files_dir == NULL)
			return lr_err_set(err, LR_EINVAL, "no files_dir");
		run->use_exec = lr_xasprintf("%s/%s", ctx->files_dir, sha);
		run->use_input = json_dumps(step, JSON_COMPACT);
		if (run->use_input == NULL)
			LR_BUG("json_dumps of a step failed");
		break;
	}
	return 0;
}

static char *
dup_or_null(const char *s)
{
	return s ? lr_xstrdup(s) : NULL;
}

int
agent_step_start(const struct agent_step_ctx *ctx, agent_step_done_cb *cb,
    void *arg, struct agent_step_run **out, struct lr_err *err)
{
	struct agent_step_run *run;
	struct lr_err perr = { 0 };
	struct timespec ts;
	const char *id;
	char why[512] = "";
	int rc;

	if (ctx == NULL || ctx->loop == NULL || cb == NULL ||
	    !json_is_object(ctx->step))
		return lr_err_set(err, LR_EINVAL, "cannot run a step: no "
		    "loop, callback or step object");
	run = lr_xcalloc(1, sizeof(*run));
	run->log_fd = -1;
	run->log_nl = true;
	run->file_nl = true;
	run->log_max = ctx->log_max >= 2 ? ctx->log_max : AGENT_STEP_LOG_MAX;
	run->log_tail_max = run->log_max / 2;
	run->log_head = run->log_max - run->log_tail_max;
	run->on_output = ctx->on_output;
	run->output_arg = ctx->output_arg;
	run->file.mode = -1;
	run->loop = ctx->loop;
	run->cb = cb;
	run->arg = arg;
	run->mode = ctx->mode;
	id = lr_json_strn(ctx->step, PROTO_STEP_ID);
	run->id = lr_xstrdup(id ? id : "");
	run->files_dir = dup_or_null(ctx->files_dir);
	run->work_dir = dup_or_null(ctx->work_dir);
	run->self_exe = dup_or_null(ctx->self_exe);
	run->retry_base_ms = ctx->retry_base_ms > 0 ? ctx->retry_base_ms :
	    1000;
	run->kill_grace_ms = ctx->kill_grace_ms > 0 ? ctx->kill_grace_ms :
	    5000;
	run->res.exit_code = -1;

	if ((rc = parse_step(run, ctx->step, ctx, &perr)) < 0 ||
	    (rc = build_env(run, ctx->step, ctx, &perr)) < 0) {
		lr_err_set(err, rc, "cannot run step '%s': %s", run->id,
		    perr.msg);
		goto fail;
	}
	if (ctx->log_path && (run->log_fd = open(ctx->log_path, O_WRONLY |
	    O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0600)) < 0) {
		rc = lr_err_set(err, LR_EIO, "cannot open the log '%s' of "
		    "step '%s': %s", ctx->log_path, run->id, strerror(errno));
		goto fail;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	run->res.started_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	run->t0 = uv_hrtime();
	run->timer.data = run;
	uv_timer_init(run->loop, &run->timer);
	run->phase = PH_START;
	run_note(run, "step '%s' (%s%s)", run->id, json_string_value(
	    json_object_get(ctx->step, PROTO_STEP_KIND)),
	    run->mode == AGENT_STEP_CHECK ? ", check" : "");
	if (resolve_run_as(run, why, sizeof(why)) < 0)
		finish_later(run, AGENT_STEP_FAILED, why);
	else
		uv_timer_start(&run->timer, on_run_timer, 0, 0);
	*out = run;
	return 0;
fail:
	run_free(run);
	return rc;
}

void
agent_step_abort(struct agent_step_run *run)
{
	if (run == NULL || run->phase == PH_DONE || run->aborted)
		return;
	run->aborted = true;
	if (run->proc != NULL) {
		/* false: it has exited, its real result is on the way */
		if (lr_proc_stop(run->proc))
			run_note(run, "aborted: SIGTERM to process group %d",
			    lr_proc_pid(run->proc));
	} else if (run->work == NULL && !run->deferred)
		finish_later(run, AGENT_STEP_ABORTED, "aborted");
}
