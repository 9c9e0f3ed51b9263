/*
 * The process runner (proc.h): uv_spawn with pipes of our own, a timer
 * for the deadline, the kill grace and the drain, and process-group
 * signals.
 *
 * A process is a struct lr_proc with its own handles (the process, one or
 * two pipes, the timer).  It ends when every one of them is closed: the
 * exit callback runs from the last close callback, so a caller that starts
 * another process from it never meets an old handle, and the loop has
 * nothing of ours left open once the callback has run.
 *
 * The pipes are made with pipe2(O_CLOEXEC) rather than UV_CREATE_PIPE so
 * that stdout and stderr can share one (the order of a command's lines is
 * kept) and so that the child's ends can be closed here right after the
 * spawn: EOF then comes when the child and whatever it left behind are
 * gone.  The child runs in its own session (UV_PROCESS_DETACHED), so its
 * pid is the id of its process group, and kill(-pid) reaches background
 * children too.
 */
#define LR_LOG_COMPONENT "proc"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "log.h"
#include "proc.h"
#include "xalloc.h"

#define DRAIN_KILLED_MS	200	/* output grace after a signalled process */
#define DRAIN_EXITED_MS	1000	/* ... after one that exited by itself */
#define KILL_GRACE_MS	5000

enum proc_stage { ST_RUNNING, ST_TERM, ST_KILLED };

struct lr_proc {
	lr_proc_output_cb *on_output;
	lr_proc_event_cb *on_event;
	lr_proc_exit_cb	*on_exit;
	void		*arg;
	char		*name;		/* "step 'x'" or "'argv0'": warnings */
	uv_process_t	 proc;
	uv_pipe_t	 out[2];	/* stdout (and stderr); stderr */
	bool		 out_open[2];
	uv_timer_t	 timer;		/* deadline, kill grace, then drain */
	int		 handles;	/* not yet closed */
	int		 npipes;
	int		 pipes_open;
	bool		 timer_closing;
	bool		 failed;	/* uv_spawn failed: no exit callback */
	long		 kill_grace_ms;
	enum proc_stage	 stage;
	bool		 exited;
	size_t		 capture_max;
	struct lr_buf	 captured;
	bool		 truncated;
	struct lr_proc_status st;
	char		 rbuf[65536];
};

static void	proc_closed(uv_handle_t *);
static void	on_deadline(uv_timer_t *);

static void
proc_signal(struct lr_proc *p, int sig)
{
	if (p->st.pid > 0 && kill(-p->st.pid, sig) < 0 && errno != ESRCH)
		lr_log_warn("cannot signal process group %d of %s: %s",
		    p->st.pid, p->name, strerror(errno));
}

static void
proc_event(struct lr_proc *p, enum lr_proc_event ev)
{
	if (p->on_event)
		p->on_event(p, ev, p->arg);
}

/* SIGTERM to the group now, SIGKILL after the grace. */
static void
proc_term(struct lr_proc *p)
{
	proc_signal(p, SIGTERM);
	p->stage = ST_TERM;
	uv_timer_stop(&p->timer);
	uv_timer_start(&p->timer, on_deadline, (uint64_t)p->kill_grace_ms, 0);
}

/* The process is gone and its output read: close the last handle. */
static void
proc_maybe_end(struct lr_proc *p)
{
	if (!p->exited || p->pipes_open > 0 || p->timer_closing)
		return;
	p->timer_closing = true;
	uv_timer_stop(&p->timer);
	uv_close((uv_handle_t *)&p->timer, proc_closed);
}

static void
pipe_done(struct lr_proc *p, int i)
{
	if (!p->out_open[i])
		return;
	p->out_open[i] = false;
	p->pipes_open--;
	uv_close((uv_handle_t *)&p->out[i], proc_closed);
	proc_maybe_end(p);
}

static void
on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct lr_proc *p = h->data;

	buf->base = p->rbuf;
	buf->len = sizeof(p->rbuf);
}

/*
 * Keep the end of stdout: drop all but the last capture_max bytes once
 * there are twice that, so the copying stays linear in the output.
 */
static void
capture(struct lr_proc *p, const char *data, size_t n)
{
	struct lr_buf *c = &p->captured;

	lr_buf_add(c, data, n);
	if (c->len > 2 * p->capture_max) {
		memmove(c->s, c->s + c->len - p->capture_max, p->capture_max);
		c->len = p->capture_max;
		c->s[c->len] = '\0';
		p->truncated = true;
	}
}

static void
on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct lr_proc *p = s->data;
	int i = s == (uv_stream_t *)&p->out[1];

	if (n < 0) {
		pipe_done(p, i);
		return;
	}
	if (p->on_output && n > 0)
		p->on_output(p, i ? LR_PROC_STDERR : LR_PROC_STDOUT,
		    buf->base, (size_t)n, p->arg);
	if (p->capture_max && i == 0)
		capture(p, buf->base, (size_t)n);
}

static void
on_drained(uv_timer_t *t)
{
	struct lr_proc *p = t->data;

	proc_event(p, LR_PROC_EV_DRAIN_GAVE_UP);
	pipe_done(p, 0);
	pipe_done(p, 1);
}

static void
on_exited(uv_process_t *h, int64_t status, int sig)
{
	struct lr_proc *p = h->data;

	p->exited = true;
	p->st.exit_status = status;
	p->st.term_signal = sig;
	uv_close((uv_handle_t *)h, proc_closed);
	/* what is left of a group told to stop gets no more grace */
	if (p->stage != ST_RUNNING)
		proc_signal(p, SIGKILL);
	uv_timer_stop(&p->timer);
	if (p->pipes_open > 0)
		uv_timer_start(&p->timer, on_drained, p->stage != ST_RUNNING ?
		    DRAIN_KILLED_MS : DRAIN_EXITED_MS, 0);
	proc_maybe_end(p);
}

/* The deadline, then the end of the kill grace. */
static void
on_deadline(uv_timer_t *t)
{
	struct lr_proc *p = t->data;

	if (p->exited)
		return;
	if (p->stage == ST_RUNNING) {
		p->st.timed_out = true;
		proc_event(p, LR_PROC_EV_TIMED_OUT);
		proc_term(p);
	} else if (p->stage == ST_TERM) {
		proc_event(p, LR_PROC_EV_KILLED);
		proc_signal(p, SIGKILL);
		p->stage = ST_KILLED;
		p->st.killed = true;
	}
}

static void
proc_free(struct lr_proc *p)
{
	lr_buf_release(&p->captured);
	free(p->name);
	free(p);
}

/* Every handle is closed: tell the caller (unless it never started). */
static void
proc_closed(uv_handle_t *h)
{
	struct lr_proc *p = h->data;

	if (--p->handles > 0)
		return;
	if (!p->failed) {
		if (p->capture_max) {
			p->st.out = p->captured.s ? p->captured.s : "";
			p->st.out_len = p->captured.len;
			p->st.out_truncated = p->truncated;
		}
		p->on_exit(p, &p->st, p->arg);
	}
	proc_free(p);
}

static void
close_fd(int fd)
{
	if (fd >= 0)
		close(fd);
}

int
lr_proc_start(uv_loop_t *loop, const struct lr_proc_opts *o,
    struct lr_proc **out, struct lr_err *err)
{
	uv_process_options_t opts;
	uv_stdio_container_t io[4];
	struct lr_proc *p;
	int fds[2][2] = { { -1, -1 }, { -1, -1 } };
	int i, npipes, rc, code;

	if (o == NULL || o->argv == NULL || o->argv[0] == NULL ||
	    o->on_exit == NULL) {
		if (o) {
			close_fd(o->stdin_fd);
			close_fd(o->fd3);
		}
		return lr_err_set(err, LR_EINVAL, "cannot run a process: no "
		    "argv or exit callback");
	}
	npipes = o->out_fd >= 0 ? 0 : o->split_stderr ? 2 : 1;
	for (i = 0; i < npipes; i++) {
		if (pipe2(fds[i], O_CLOEXEC) < 0) {
			rc = lr_err_set(err, LR_EIO, "cannot make a pipe: %s",
			    strerror(errno));
			if (i)
				close(fds[0][0]), close(fds[0][1]);
			close_fd(o->stdin_fd);
			close_fd(o->fd3);
			return rc;
		}
	}

	p = lr_xcalloc(1, sizeof(*p));
	p->on_output = o->on_output;
	p->on_event = o->on_event;
	p->on_exit = o->on_exit;
	p->arg = o->arg;
	p->name = o->name != NULL ? lr_xstrdup(o->name) :
	    lr_xasprintf("'%s'", o->argv[0]);
	p->capture_max = npipes ? o->capture_max : 0;
	p->kill_grace_ms = o->kill_grace_ms > 0 ? o->kill_grace_ms :
	    KILL_GRACE_MS;
	p->npipes = npipes;
	p->proc.data = p->timer.data = p;
	uv_timer_init(loop, &p->timer);
	p->handles = 2;				/* timer, process */
	for (i = 0; i < npipes; i++) {
		p->out[i].data = p;
		uv_pipe_init(loop, &p->out[i], 0);
		p->handles++;
		p->out_open[i] = true;
		p->pipes_open++;
		if (uv_pipe_open(&p->out[i], fds[i][0]) < 0)
			close(fds[i][0]);
	}

	memset(&opts, 0, sizeof(opts));
	memset(io, 0, sizeof(io));
	opts.exit_cb = on_exited;
	opts.file = o->argv[0];
	opts.args = (char **)o->argv;
	opts.env = (char **)o->env;
	opts.cwd = o->cwd;
	opts.flags = UV_PROCESS_DETACHED;
	opts.stdio = io;
	opts.stdio_count = o->fd3 >= 0 ? 4 : 3;
	io[0].flags = o->stdin_fd >= 0 ? UV_INHERIT_FD : UV_IGNORE;
	io[0].data.fd = o->stdin_fd;
	io[1].flags = io[2].flags = io[3].flags = UV_INHERIT_FD;
	io[1].data.fd = npipes ? fds[0][1] : o->out_fd;
	io[2].data.fd = npipes == 2 ? fds[1][1] : io[1].data.fd;
	io[3].data.fd = o->fd3;
	rc = uv_spawn(loop, &p->proc, &opts);
	/* the child has its copies: without ours, EOF comes when it ends */
	for (i = 0; i < npipes; i++)
		close(fds[i][1]);
	close_fd(o->stdin_fd);
	close_fd(o->fd3);
	if (rc < 0) {
		code = rc == UV_ENOENT ? LR_ENOENT : LR_EIO;
		if (o->cwd)
			lr_err_set(err, code, "cannot run '%s' in '%s': %s",
			    o->argv[0], o->cwd, uv_strerror(rc));
		else
			lr_err_set(err, code, "cannot run '%s': %s",
			    o->argv[0], uv_strerror(rc));
		/* the handles close on the loop; the callback never runs */
		p->failed = true;
		p->exited = true;
		uv_close((uv_handle_t *)&p->proc, proc_closed);
		for (i = 0; i < npipes; i++)
			pipe_done(p, i);
		proc_maybe_end(p);
		return code;
	}
	p->st.pid = p->proc.pid;
	for (i = 0; i < npipes; i++)
		if (uv_read_start((uv_stream_t *)&p->out[i], on_alloc,
		    on_read) < 0)
			pipe_done(p, i);
	if (o->timeout_ms > 0)
		uv_timer_start(&p->timer, on_deadline, (uint64_t)o->timeout_ms,
		    0);
	if (out)
		*out = p;
	return 0;
}

bool
lr_proc_stop(struct lr_proc *p)
{
	if (p == NULL || p->exited || p->st.aborted)
		return false;
	p->st.aborted = true;
	if (p->stage == ST_RUNNING)
		proc_term(p);
	return true;
}

int
lr_proc_pid(const struct lr_proc *p)
{
	return p ? p->st.pid : 0;
}
