/*
 * leura up: one machine, zero set-up.  Starts a private etcd, reachable
 * only through unix sockets in a 0700 folder of the state dir (so only its
 * owner, and root, can talk to it: whoever reaches etcd writes what the
 * agents run, and etcd's own authentication is no barrier, NOTES-deps §7),
 * with its data under the state dir, one leura-agent for each inventory
 * host that lives on this machine, applies the config repo (the bundled
 * example by default) in-process as `leura apply` does, waits for the
 * agents as `leura apply --wait` does (wait.h), prints `leura status`, and
 * then keeps everything running until Ctrl-C (or stops at once with
 * --once).
 *
 * One libuv loop runs it all: etcd and the agents are children of the
 * process runner (lib/proc.h), each in a session and process group of its
 * own (so a terminal's Ctrl-C reaches only us, and we stop them in order:
 * agents first, then etcd), started through a trampoline (leura
 * --up-child) that sets PR_SET_PDEATHSIG so that none outlives us,
 * whatever kills us.  Signals come as uv_signal callbacks.  The apply,
 * the wait and the status are the blocking CLI's (cmd_apply_run,
 * cmd_wait_run, cmd_status): they run in a worker (uv_queue_work), as
 * does the wait for etcd to answer.  The loop thread tells the worker
 * through atomic_int flags (stop_sig, wake, etcd_gone): the wait's
 * blocking watch polls wake every 100 ms (etcd_watch_opts.stop) and
 * ends when it is set; the wait for etcd reads stop_sig and etcd_gone
 * between its tries.  While the worker runs, the terminal belongs to it
 * (the wait redraws a progress line with '\r'): the loop thread records
 * the children that die, and rollout_done tells them after the wait, as
 * leura up always did.  The stages: etcd, agents and the rollout, then
 * idle until a signal or etcd's death, then stopping.  Children are
 * started on the loop thread only: the parent-death signal follows the
 * thread that forked.
 * What up needs of the machine (binaries, local hosts, log ends) is
 * up_local.c's.
 *
 * leurad, the server, is a child too (when it is found next to leura or
 * in PATH): on 127.0.0.1 (port 7480, or a free one), started with the
 * agents, stopped with them; the rollout's worker waits for its /readyz
 * before up says it is up, with the URL and how to log in as admin.  Its
 * git source (--source, --source-branch) is the config repo on the branch
 * it is on, so that plan and apply through leurad read what up applies.
 *
 * Files under the state dir (leura-up(1), FILES): etcd/ (its data, kept
 * between runs), etcd.log, sock/ (0700: etcd's client socket etcd:2379
 * and peer socket etcd:2380), agents/HOST/ (an agent's state dir) and
 * agents/HOST.log, leurad/ (its data dir) and leurad.log, admin-password
 * (0600: the password of leurad's first admin), config (the client
 * configuration for this etcd and leurad) and up.lock (one `leura up` per
 * state dir).
 */
#include <errno.h>
#include <getopt.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <sys/random.h>
#include <uv.h>

#include "builtin.h"
#include "clock.h"
#include "file.h"
#include "load.h"
#include "api.h"
#include "proc.h"
#include "sign.h"
#include "up-int.h"
#include "wait.h"
#include "xalloc.h"

extern char **environ;

static const char usage_str[] =
    "usage: leura up [-C DIR] [--state-dir DIR] [--once] "
    "[--wait-timeout DURATION]\n";

#define STOP_GRACE_MS	10000	/* SIGTERM, then SIGKILL after this */
#define ETCD_READY_MS	20000	/* etcd's first start takes a few seconds */
/*
 * etcd listens on unix://NAME:PORT by making the socket file NAME:PORT in
 * its working folder, which up makes the socket folder.
 */
#define SOCK_DIR	"sock"
#define CLIENT_SOCK	"etcd:2379"
#define PEER_SOCK	"etcd:2380"
#define PREFIX		"/leura"
#define LEURAD_PORT	7480	/* leurad's, when it is free */
#define LEURAD_READY_MS	15000
#define ADMIN_PW_FILE	"admin-password"

struct up;

struct child {
	struct up *u;
	struct lr_proc *proc;	/* NULL: not running */
	char	*what;		/* "etcd", "the agent of web1" */
	char	*log;		/* its stdout and stderr */
	bool	 exited;	/* it ran and ended */
	bool	 noted;		/* its end was told (note_exits) */
	int64_t	 exit_status;	/* once exited */
	int	 term_signal;
};

enum up_stage {
	UP_ETCD,	/* starting etcd, waiting for it to answer */
	UP_ROLLOUT,	/* agents started; apply, wait, status */
	UP_IDLE,	/* keeping it running */
	UP_STOPPING	/* agents first, then etcd */
};

struct up {
	const char *repo;	/* the config repo */
	char	*example;	/* the bundled example, when it is repo's */
	char	*state;		/* absolute state dir */
	char	*etcd_bin, *agent_bin, *self_exe;
	char	*url;		/* unix://STATE/sock/etcd:2379 */
	char	*sock_dir;	/* STATE/sock, 0700 */
	/* the fleet's key pair in the state dir (docs/security.md) */
	char	*sign_key, *sign_pub;
	int	 lockfd;
	struct child etcd;
	struct child *agents;
	size_t	 nagents;
	char	**hosts;	/* the local hosts, one agent each */
	size_t	 nhosts;
	char	*remote;	/* hosts not on this machine, for a note */
	/* leurad: none when leurad_bin is NULL (not found) */
	char	*leurad_bin;
	struct child leurad;
	char	*server_url;	/* http://127.0.0.1:PORT */
	char	*admin_pw;	/* STATE/admin-password */
	/* its git source: the config repo, when in git (NULL: none) */
	const char *source;
	char	*source_branch;	/* the repo's branch; NULL: leurad's main */
	bool	 leurad_ready;	/* it answered /readyz (worker, then loop) */
	/* the run */
	uv_loop_t loop;
	uv_signal_t sig_int, sig_term, sig_hup;
	uv_work_t work;
	enum up_stage stage;
	struct lr_ctx *uctx;
	bool	 once;
	int	 verbose;
	long	 wait_ms;
	int	 rc;		/* the exit status */
	/* starting etcd */
	char	*data, **env;
	bool	 existed, show_log;
	int64_t	 rev;		/* the store's revision once it answers */
	/* the rollout */
	bool	 fatal;		/* nothing to keep running */
	bool	 lost_etcd;	/* the wait stopped: etcd died */
	bool	 say_stopped;	/* "Stopped N agents and etcd." */
};

/*
 * Set on the loop thread, read by the worker (atomic: two threads): a
 * signal that asked us to stop (0: none), stop waiting (a stop signal, or
 * etcd died; the wait's watch polls it), etcd died.
 */
static atomic_int stop_sig;
static atomic_int wake;
static atomic_int etcd_gone;
static atomic_int leurad_gone;

/* The default state dir: $XDG_STATE_HOME/leura/up, ~/.local/state/... */
static char *
default_state_dir(void)
{
	const char *x = getenv("XDG_STATE_HOME"), *home = getenv("HOME");

	if (x && *x == '/')
		return lr_xasprintf("%s/leura/up", x);
	if (home && *home)
		return lr_xasprintf("%s/.local/state/leura/up", home);
	return NULL;
}

/* Sort the inventory into up->hosts (local) and up->remote; error if none. */
static int
pick_hosts(struct up *u, const struct spec_repo *repo)
{
	struct lr_buf all = LR_BUF_INIT, rem = LR_BUF_INIT;
	char me[HOST_NAME_MAX + 1] = "";
	const struct spec_host *h;
	size_t i, nrem = 0;

	if (gethostname(me, sizeof(me)) != 0)
		me[0] = '\0';
	me[sizeof(me) - 1] = '\0';
	u->hosts = lr_xcalloc(repo->nhosts + 1, sizeof(*u->hosts));
	for (i = 0; i < repo->nhosts; i++) {
		h = &repo->hosts[i];
		if (i < 8)
			lr_buf_printf(&all, "%s%s (%s)", i ? ", " : "",
			    h->name, h->address ? h->address : "no address");
		if (up_host_is_local(h, me)) {
			u->hosts[u->nhosts++] = lr_xstrdup(h->name);
		} else {
			lr_buf_printf(&rem, "%s%s", nrem ? ", " : "", h->name);
			nrem++;
		}
	}
	if (repo->nhosts > 8)
		lr_buf_printf(&all, " and %zu more", repo->nhosts - 8);
	if (u->nhosts == 0) {
		if (repo->nhosts == 0)
			fprintf(stderr, "leura: error: the inventory of '%s' "
			    "has no hosts\n", u->repo);
		else
			fprintf(stderr, "leura: error: no host of the "
			    "inventory lives on this machine: %s\n", all.s);
		fprintf(stderr, "hint: leura up starts an agent for each host "
		    "whose address is a loopback one (127.0.0.0/8, ::1, "
		    "localhost) or one of this machine's, or whose name or "
		    "address is its host name '%s'; give a host such an "
		    "address in inventory/hosts.yml\n", me);
		lr_buf_release(&all);
		lr_buf_release(&rem);
		return -1;
	}
	u->remote = nrem ? lr_buf_detach(&rem, NULL) : NULL;
	lr_buf_release(&all);
	lr_buf_release(&rem);
	return 0;
}

/* ---- children --------------------------------------------------------- */

static void up_stop(struct up *u);
static void stop_next(struct up *u);

/*
 * The trampoline a child starts in (leura --up-child PPID PROG ARGS...):
 * die with leura up, whatever kills it, then become PROG.  uv_spawn has
 * no PR_SET_PDEATHSIG of its own.
 */
int
cmd_up_child(int argc, char **argv)
{
	int e;

	if (argc < 2)
		return 127;
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != (pid_t)atol(argv[0]))	/* we died before prctl */
		return 127;
	execv(argv[1], argv + 1);
	e = errno;
	fprintf(stderr, "leura up: exec failed: %s\n", strerror(e));
	return 127;
}

static void
describe_exit(const struct child *c, char *buf, size_t len)
{
	if (c->term_signal)
		snprintf(buf, len, "was killed by signal %d", c->term_signal);
	else
		snprintf(buf, len, "exited with status %lld",
		    (long long)c->exit_status);
}

/* An agent or etcd that died on its own: say so, once. */
static void
note_exit(struct up *u, struct child *c)
{
	char desc[64];

	if (!c->exited || c->noted)
		return;
	c->noted = true;
	describe_exit(c, desc, sizeof(desc));
	if (c == &u->etcd) {
		fprintf(stderr, "leura: error: etcd %s; its log, %s, ends:\n",
		    desc, c->log);
		up_print_tail(c->log, 10);
	} else {
		fprintf(stderr, "leura: warning: %s %s; its log, %s, ends:\n",
		    c->what, desc, c->log);
		up_print_tail(c->log, 5);
	}
}

/*
 * On the loop thread, with no worker running: the agents, then etcd, that
 * died on their own and were not told yet.  True when etcd is dead.
 */
static bool
note_exits(struct up *u)
{
	size_t i;

	for (i = 0; i < u->nagents; i++)
		note_exit(u, &u->agents[i]);
	note_exit(u, &u->leurad);
	note_exit(u, &u->etcd);
	return u->etcd.exited;
}

static void
child_exited(struct lr_proc *p, const struct lr_proc_status *st, void *arg)
{
	struct child *c = arg;
	struct up *u = c->u;

	(void)p;
	c->proc = NULL;
	c->exited = true;
	c->exit_status = st->exit_status;
	c->term_signal = st->term_signal;
	if (c == &u->etcd)
		etcd_gone = 1;
	if (c == &u->leurad)
		leurad_gone = 1;
	switch (u->stage) {
	case UP_ETCD:		/* the start's business */
		break;
	case UP_ROLLOUT:
		/*
		 * The terminal is the worker's (a progress line): the death
		 * is told in rollout_done, where leura up always told it.
		 */
		if (c == &u->etcd)
			wake = 1;	/* the wait would retry to its end */
		break;
	case UP_IDLE:
		if (note_exits(u)) {
			u->rc = LR_EXIT_FAIL;
			up_stop(u);
		}
		break;
	case UP_STOPPING:
		stop_next(u);
		break;
	}
}

static void
child_event(struct lr_proc *p, enum lr_proc_event ev, void *arg)
{
	struct child *c = arg;

	(void)p;
	if (ev == LR_PROC_EV_KILLED)
		fprintf(stderr, "leura: warning: %s did not stop within %d s "
		    "of SIGTERM; killing it\n", c->what, STOP_GRACE_MS / 1000);
}

/*
 * Start argv with env (NULL: ours) in cwd (NULL: ours), stdin from
 * /dev/null, stdout and stderr appended to c->log, through the
 * trampoline.  0 or -1 (printed).
 */
static int
spawn(struct up *u, struct child *c, char **argv, char **env, const char *cwd)
{
	struct lr_proc_opts o = LR_PROC_OPTS_INIT;
	struct lr_err err;
	char ppid[24], **av;
	size_t n = 0, i;
	int rc;

	if ((o.out_fd = open(c->log, O_WRONLY | O_CREAT | O_APPEND |
	    O_CLOEXEC, 0600)) < 0) {
		fprintf(stderr, "leura: error: cannot open '%s': %s\n", c->log,
		    strerror(errno));
		return -1;
	}
	while (argv[n])
		n++;
	av = lr_xcalloc(n + 4, sizeof(*av));
	snprintf(ppid, sizeof(ppid), "%ld", (long)getpid());
	i = 0;
	av[i++] = u->self_exe;		/* prepare made sure of it */
	av[i++] = "--up-child";
	av[i++] = ppid;
	memcpy(av + i, argv, n * sizeof(*av));
	o.argv = av;
	o.env = env;
	o.cwd = cwd;
	o.kill_grace_ms = STOP_GRACE_MS;
	o.on_exit = child_exited;
	o.on_event = child_event;
	o.arg = c;
	c->u = u;
	c->exited = false;
	lr_err_clear(&err);
	fflush(NULL);
	if ((rc = lr_proc_start(&u->loop, &o, &c->proc, &err)) < 0) {
		fprintf(stderr, "leura: error: cannot start %s: %s\n", c->what,
		    err.msg);
		c->proc = NULL;
	}
	close(o.out_fd);
	free(av);
	return rc < 0 ? -1 : 0;
}

/* ---- stopping --------------------------------------------------------- */

/* Every handle closed: the loop runs dry. */
static void
closed_cb(uv_handle_t *h)
{
	(void)h;
}

/* The next step of stopping: agents, then etcd, then the loop. */
static void
stop_next(struct up *u)
{
	size_t i, left = 0;

	for (i = 0; i < u->nagents; i++)
		if (u->agents[i].proc != NULL)
			left++;
	if (u->leurad.proc != NULL)
		left++;
	if (left)
		return;		/* their exits come back here */
	if (u->etcd.proc != NULL) {
		/* its exit comes back here */
		(void)lr_proc_stop(u->etcd.proc);
		return;
	}
	if (u->say_stopped)
		printf("Stopped %s%zu agent%s and etcd.\n",
		    u->leurad.what != NULL ? "leurad, " : "", u->nagents,
		    u->nagents == 1 ? "" : "s");
	fflush(stdout);
	if (!uv_is_closing((uv_handle_t *)&u->sig_int)) {
		uv_close((uv_handle_t *)&u->sig_int, closed_cb);
		uv_close((uv_handle_t *)&u->sig_term, closed_cb);
		uv_close((uv_handle_t *)&u->sig_hup, closed_cb);
	}
}

/* Stop everything: SIGTERM, SIGKILL after STOP_GRACE_MS; agents first. */
static void
up_stop(struct up *u)
{
	size_t i, n = 0;

	if (u->stage == UP_STOPPING)
		return;
	/* a failed start of etcd says so itself */
	u->say_stopped = u->nagents > 0 || u->stage != UP_ETCD;
	u->stage = UP_STOPPING;
	for (i = 0; i < u->nagents; i++)
		if (u->agents[i].proc != NULL) {
			lr_proc_stop(u->agents[i].proc);
			n++;
		}
	if (u->leurad.proc != NULL) {
		lr_proc_stop(u->leurad.proc);
		n++;
	}
	if (n == 0)
		stop_next(u);
}

/* ---- etcd ------------------------------------------------------------- */

/*
 * The environment without ETCD_*: etcd reads them as flags, and refuses to
 * start when a flag is set twice.
 */
static char **
etcd_env(void)
{
	char **env;
	size_t n = 0, i;

	for (i = 0; environ[i]; i++)
		n++;
	env = lr_xcalloc(n + 1, sizeof(*env));
	for (n = 0, i = 0; environ[i]; i++)
		if (strncmp(environ[i], "ETCD_", 5) != 0)
			env[n++] = environ[i];
	return env;
}

/*
 * In the worker: the store revision, once etcd answers; -1 when it died,
 * a signal came, or it took too long.
 */
static int64_t
etcd_ready(struct up *u)
{
	struct etcd_config cfg = { .endpoints = u->url, .timeout_ms = 1000,
		.connect_timeout_ms = 300 };
	struct etcd_range_req rq = { .key = PREFIX "/", .flags = ETCD_PREFIX |
		ETCD_COUNT_ONLY };
	struct etcd_range_result r;
	struct lr_err err;
	struct etcd *e = NULL;
	long deadline = lr_now_ms() + ETCD_READY_MS;
	int64_t rev = -1;

	lr_err_clear(&err);
	if (etcd_new(&cfg, &e, &err) < 0) {
		lr_err_print(&err);
		return -1;
	}
	while (lr_now_ms() < deadline && !stop_sig && !etcd_gone) {
		if (etcd_range(e, &rq, &r, &err) == 0) {
			rev = r.revision;
			etcd_range_result_release(&r);
			break;
		}
		lr_sleep_ms(100);
	}
	etcd_free(e);
	return rev;
}

static void ready_work(uv_work_t *w);
static void ready_done(uv_work_t *w, int status);
static void etcd_started(struct up *u);

/*
 * The socket folder, made 0700 and ours whatever was there: a socket file
 * takes its permissions from the umask, so the folder is what keeps other
 * users out.  Then stale sockets of an etcd that was killed (etcd does not
 * bind over them); up.lock says no other up uses them.  0 or -1 (printed).
 */
static int
make_sock_dir(struct up *u)
{
	static const char *const socks[] = { CLIENT_SOCK, PEER_SOCK };
	struct sockaddr_un sa;
	struct stat st;
	char *p;
	size_t i;
	int fd, e;

	u->sock_dir = lr_xasprintf("%s/%s", u->state, SOCK_DIR);
	u->url = lr_xasprintf("unix://%s/%s", u->sock_dir, CLIENT_SOCK);
	if (strlen(u->sock_dir) + 1 + strlen(CLIENT_SOCK) >=
	    sizeof(sa.sun_path)) {
		fprintf(stderr, "leura: error: the state dir '%s' is too long "
		    "a path for etcd's unix socket (%zu bytes at most)\nhint: "
		    "give a shorter one with --state-dir\n", u->state,
		    sizeof(sa.sun_path) - 3 - strlen(SOCK_DIR) -
		    strlen(CLIENT_SOCK));
		return -1;
	}
	if (mkdir(u->sock_dir, 0700) < 0 && errno != EEXIST)
		goto fail;
	if ((fd = open(u->sock_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0)
		goto fail;
	if (fstat(fd, &st) < 0 || fchmod(fd, 0700) < 0) {
		e = errno;
		close(fd);
		errno = e;
		goto fail;
	}
	close(fd);
	if (st.st_uid != geteuid()) {
		fprintf(stderr, "leura: error: '%s' belongs to user %ld, not "
		    "to you\nhint: remove it, or give another --state-dir\n",
		    u->sock_dir, (long)st.st_uid);
		return -1;
	}
	for (i = 0; i < sizeof(socks) / sizeof(socks[0]); i++) {
		p = lr_xasprintf("%s/%s", u->sock_dir, socks[i]);
		if (unlink(p) < 0 && errno != ENOENT) {
			e = errno;
			fprintf(stderr, "leura: error: cannot remove the stale "
			    "socket '%s': %s\n", p, strerror(e));
			free(p);
			return -1;
		}
		free(p);
	}
	return 0;
fail:
	e = errno;
	fprintf(stderr, "leura: error: cannot make '%s' a folder of mode "
	    "0700: %s\nhint: remove it, or give another --state-dir\n",
	    u->sock_dir, strerror(e));
	return -1;
}

/*
 * Start etcd on its sockets, then wait for it to answer in the worker.
 * -1 when it cannot even start (printed).  The peer listener is a socket
 * too: a single member talks to no peer, but etcd always listens for
 * them, and a TCP port would let anyone in.
 */
static int
etcd_try(struct up *u)
{
	const char *client = "unix://" CLIENT_SOCK;
	const char *peer = "unix://" PEER_SOCK;
	char *argv[] = { u->etcd_bin, "--name", "leura-up",
		"--data-dir", u->data, "--listen-client-urls", (char *)client,
		"--advertise-client-urls", (char *)client,
		"--listen-peer-urls", (char *)peer,
		"--initial-advertise-peer-urls", (char *)peer,
		"--initial-cluster", "leura-up=unix://" PEER_SOCK,
		"--initial-cluster-state", "new",
		"--heartbeat-interval", "50",
		"--election-timeout", "500",
		"--auto-compaction-mode", "periodic",
		"--auto-compaction-retention", "1h",
		"--logger", "zap", "--log-outputs", "stderr", NULL };

	if (make_sock_dir(u) < 0)
		return -1;
	etcd_gone = 0;
	if (spawn(u, &u->etcd, argv, u->env, u->sock_dir) < 0)
		return -1;
	u->rev = -1;
	uv_queue_work(&u->loop, &u->work, ready_work, ready_done);
	return 0;
}

static void
ready_work(uv_work_t *w)
{
	struct up *u = w->data;

	u->rev = etcd_ready(u);
}

/* etcd did not come up: what went wrong, and stop. */
static void
etcd_failed(struct up *u)
{
	if (!stop_sig) {
		if (u->show_log)
			up_print_tail(u->etcd.log, 10);
		if (u->show_log && u->existed)
			fprintf(stderr, "hint: the data of a previous leura up "
			    "is in '%s'; remove it to start afresh\n", u->data);
	}
	u->rc = stop_sig ? 128 + stop_sig : LR_EXIT_FAIL;
	up_stop(u);
}

static void
ready_done(uv_work_t *w, int status)
{
	struct up *u = w->data;
	char desc[64];

	(void)status;
	if (u->rev >= 0 && !u->etcd.exited) {
		if (stop_sig) {		/* it came after etcd answered */
			etcd_failed(u);
			return;
		}
		etcd_started(u);
		return;
	}
	if (!u->etcd.exited) {		/* alive but not answering */
		if (!stop_sig)
			fprintf(stderr, "leura: error: etcd did not answer at "
			    "%s within %d s; its log, %s, ends:\n", u->url,
			    ETCD_READY_MS / 1000, u->etcd.log);
		u->show_log = true;
		etcd_failed(u);
		return;
	}
	if (stop_sig) {
		etcd_failed(u);
		return;
	}
	describe_exit(&u->etcd, desc, sizeof(desc));
	fprintf(stderr, "leura: error: etcd %s at start; its log, %s, "
	    "ends:\n", desc, u->etcd.log);
	u->show_log = true;
	etcd_failed(u);
}

/* Start etcd; the rest follows from ready_done. */
static void
start_etcd(struct up *u)
{
	u->data = lr_xasprintf("%s/etcd", u->state);
	u->env = etcd_env();
	u->existed = up_is_dir(u->data);
	u->etcd.what = lr_xstrdup("etcd");
	u->etcd.log = lr_xasprintf("%s/etcd.log", u->state);
	u->stage = UP_ETCD;
	if (etcd_try(u) < 0)
		etcd_failed(u);
}

/* ---- agents ----------------------------------------------------------- */

static int
start_agents(struct up *u)
{
	struct child *c;
	char *dir, *adir = lr_xasprintf("%s/agents", u->state);
	size_t i;
	int rc = 0;

	if (lr_mkdir_p(adir, 0700) < 0) {
		fprintf(stderr, "leura: error: cannot create '%s': %s\n", adir,
		    strerror(errno));
		free(adir);
		return -1;
	}
	u->agents = lr_xcalloc(u->nhosts + 1, sizeof(*u->agents));
	for (i = 0; i < u->nhosts && rc == 0; i++) {
		c = &u->agents[u->nagents++];
		c->what = lr_xasprintf("the agent of %s", u->hosts[i]);
		c->log = lr_xasprintf("%s/%s.log", adir, u->hosts[i]);
		dir = lr_xasprintf("%s/%s", adir, u->hosts[i]);
		{
			char *argv[] = { u->agent_bin, "--host", u->hosts[i],
				"--state-dir", dir, "--etcd", u->url,
				"--fleet-key", u->sign_pub,
				u->verbose ? "-v" : NULL, NULL };

			rc = spawn(u, c, argv, NULL, NULL);
		}
		free(dir);
	}
	free(adir);
	return rc;
}

/* ---- leurad ----------------------------------------------------------- */

/*
 * leurad on u->server_url, over this etcd, signing with this fleet's key,
 * its first admin's password from STATE/admin-password.  0 or -1
 * (printed).
 */
static int
start_leurad(struct up *u)
{
	char *data = lr_xasprintf("%s/leurad", u->state);
	char *listen = lr_xstrdup(u->server_url + strlen("http://"));
	char *argv[] = { u->leurad_bin, "--etcd", u->url, "--prefix", PREFIX,
		"--listen", listen, "--data-dir", data,
		"--signing-key", u->sign_key,
		"--admin-password-file", u->admin_pw,
		NULL, NULL, NULL, NULL, NULL, NULL };
	size_t n = 0;
	int rc;

	while (argv[n] != NULL)	/* the optional ones go after */
		n++;

	if (u->source != NULL) {
		argv[n++] = "--source";
		argv[n++] = (char *)u->source;
	}
	if (u->source != NULL && u->source_branch != NULL) {
		argv[n++] = "--source-branch";
		argv[n++] = u->source_branch;
	}
	if (u->verbose)
		argv[n++] = "-v";

	u->leurad.what = lr_xstrdup("leurad");
	u->leurad.log = lr_xasprintf("%s/leurad.log", u->state);
	leurad_gone = 0;
	rc = spawn(u, &u->leurad, argv, NULL, NULL);
	free(listen);
	free(data);
	return rc;
}

/*
 * In the worker: whether leurad answers /readyz 200 within
 * LEURAD_READY_MS (false at once when it died or a signal came).
 */
static bool
leurad_ready(struct up *u)
{
	struct rec_api *api = NULL;
	struct lr_err err;
	long deadline = lr_now_ms() + LEURAD_READY_MS, status;
	json_t *out;
	bool ok = false;

	lr_err_clear(&err);
	if (rec_api_open(u->server_url, NULL, NULL, &api, &err) < 0)
		return false;
	while (lr_now_ms() < deadline && !stop_sig && !leurad_gone) {
		if (rec_api_call(api, "GET", "/readyz", NULL, &out, &status,
		    &err) == 0) {
			json_decref(out);
			ok = true;
			break;
		}
		lr_sleep_ms(100);
	}
	rec_api_free(api);
	return ok;
}

/* ---- the state dir ---------------------------------------------------- */

/*
 * The password of leurad's first admin: 32 random bytes, base64url, in
 * STATE/admin-password (0600), made on the first start and kept after
 * (the admin user lives on in etcd's data).  0 or -1 (printed).
 */
static int
admin_password(struct up *u)
{
	unsigned char rnd[32], b64[64];
	struct lr_err err;
	struct stat st;
	int i, n;

	u->admin_pw = lr_xasprintf("%s/%s", u->state, ADMIN_PW_FILE);
	if (stat(u->admin_pw, &st) == 0)
		return 0;
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		fprintf(stderr, "leura: error: no random bytes for the admin "
		    "password: %s\n", strerror(errno));
		return -1;
	}
	n = EVP_EncodeBlock(b64, rnd, sizeof(rnd));
	explicit_bzero(rnd, sizeof(rnd));
	while (n > 0 && b64[n - 1] == '=')
		n--;
	for (i = 0; i < n; i++)
		if (b64[i] == '+')
			b64[i] = '-';
		else if (b64[i] == '/')
			b64[i] = '_';
	b64[n++] = '\n';
	lr_err_clear(&err);
	if (lr_file_replace(u->state, ADMIN_PW_FILE, b64, (size_t)n, 0600,
	    LR_FILE_DURABLE, &err) < 0) {
		explicit_bzero(b64, sizeof(b64));
		lr_err_print(&err);
		return -1;
	}
	explicit_bzero(b64, sizeof(b64));
	return 0;
}

/* ---- the state dir's checks ------------------------------------------- */

/*
 * The fleet's key pair: made in the state dir on the first start, kept
 * after; apply signs with it and the agents check with it.
 */
static int
signing_pair(struct up *u)
{
	char id[LR_SIGN_ID_LEN + 1];
	struct lr_err err;
	struct stat st;

	u->sign_key = lr_xasprintf("%s/%s", u->state, LR_SIGN_PRIVATE_NAME);
	u->sign_pub = lr_xasprintf("%s/%s", u->state, LR_SIGN_PUBLIC_NAME);
	if (stat(u->sign_key, &st) == 0 && stat(u->sign_pub, &st) == 0)
		return 0;
	lr_err_clear(&err);
	if (lr_sign_keygen(u->sign_key, u->sign_pub, false, id, &err) < 0) {
		lr_err_print(&err);
		fprintf(stderr, "hint: remove the half of the pair left in "
		    "'%s', or give another --state-dir\n", u->state);
		return -1;
	}
	printf("Made the signing key %s for this machine's fleet (%s)\n",
	    id, u->sign_key);
	return 0;
}

/*
 * The state dir must be the user's alone to change: it holds the fleet's
 * private key, etcd's socket folder and the agents' state, so whoever may
 * write it (plant a key pair of their own before the first start, swap
 * the socket folder after make_sock_dir checked it) is root on the fleet.
 * Refused, not repaired: what others may already have put there stays.
 * 0 or -1 (printed).
 */
static int
check_state_dir(const char *dir)
{
	struct stat st;
	int fd;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "leura: error: cannot open the state dir "
		    "'%s': %s\n", dir, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	if (st.st_uid != geteuid()) {
		fprintf(stderr, "leura: error: the state dir '%s' belongs to "
		    "user %ld, not to you (%ld)\nhint: give a folder of your "
		    "own with --state-dir\n", dir, (long)st.st_uid,
		    (long)geteuid());
		return -1;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		fprintf(stderr, "leura: error: the state dir '%s' may be "
		    "written by others (mode %04o): they could put their own "
		    "signing key there\nhint: give a folder only you may "
		    "write with --state-dir (or chmod 700 '%s' once you are "
		    "sure nobody else put anything in it)\n", dir,
		    (unsigned)(st.st_mode & 07777), dir);
		return -1;
	}
	return 0;
}

/* One leura up per state dir: an flock on up.lock, held until exit. */
static int
lock_state(struct up *u)
{
	char *path = lr_xasprintf("%s/up.lock", u->state);
	char buf[32] = "";
	ssize_t n;

	if ((u->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
		fprintf(stderr, "leura: error: cannot open '%s': %s\n", path,
		    strerror(errno));
		free(path);
		return -1;
	}
	if (flock(u->lockfd, LOCK_EX | LOCK_NB) != 0) {
		n = read(u->lockfd, buf, sizeof(buf) - 1);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		fprintf(stderr, "leura: error: another leura up%s%s%s is "
		    "running with the state dir '%s'\nhint: stop it (Ctrl-C "
		    "where it runs, or kill %s), or give this one another "
		    "--state-dir\n", *buf ? " (pid " : "", buf, *buf ? ")" : "",
		    u->state, *buf ? buf : "it");
		free(path);
		return -1;
	}
	if (ftruncate(u->lockfd, 0) == 0)
		dprintf(u->lockfd, "%ld\n", (long)getpid());
	free(path);
	return 0;
}

/* s as a YAML double-quoted string: any byte stays itself */
static void
put_quoted(FILE *fp, const char *s)
{
	const char *p;

	fputc('"', fp);
	for (p = s; *p; p++)
		if (*p == '"' || *p == '\\')
			fprintf(fp, "\\%c", *p);
		else if ((unsigned char)*p < 0x20)
			fprintf(fp, "\\x%02x", (unsigned char)*p);
		else
			fputc(*p, fp);
	fputc('"', fp);
}

/*
 * The client settings of this etcd, in a config file of its own: the
 * in-process apply and status read it (LEURA_CONFIG), and not the user's
 * (which may name another cluster, a user, TLS files); people can point
 * leura at it too.
 */
static int
write_client_config(struct up *u, struct lr_ctx *uctx)
{
	static const char *const vars[] = { "LEURA_ETCD", "LEURA_ETCD_CACERT",
		"LEURA_ETCD_CERT", "LEURA_ETCD_KEY", "LEURA_ETCD_USER",
		"LEURA_ETCD_PASSWORD", "LEURA_ETCD_PREFIX", "LEURA_SERVER",
		"LEURA_SERVER_CACERT" };
	char *path = lr_xasprintf("%s/config", u->state);
	FILE *fp;
	size_t i;

	if ((fp = fopen(path, "w")) == NULL) {
		fprintf(stderr, "leura: error: cannot write '%s': %s\n", path,
		    strerror(errno));
		free(path);
		return -1;
	}
	/* the path is the user's: quoted, so that any byte stays itself */
	fprintf(fp, "# written by leura up: its local etcd\netcd:\n"
	    "  endpoints:\n    - ");
	put_quoted(fp, u->url);
	fprintf(fp, "\n  prefix: %s\nsigning:\n  key: ", PREFIX);
	put_quoted(fp, u->sign_key);
	fputc('\n', fp);
	if (u->server_url != NULL) {
		fprintf(fp, "server:\n  url: ");
		put_quoted(fp, u->server_url);
		fputc('\n', fp);
	}
	fclose(fp);
	setenv("LEURA_CONFIG", path, 1);
	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
	/* the prefix of its agents, whatever the repo's leura.yml says */
	setenv("LEURA_ETCD_PREFIX", PREFIX, 1);
	/* this fleet's key, not one the environment names */
	unsetenv("LEURA_SIGNING_KEY");
	unsetenv("LEURA_FLEET_KEY");
	uctx->etcd = u->url;
	uctx->etcd_cacert = uctx->etcd_cert = uctx->etcd_key = NULL;
	uctx->etcd_user = NULL;
	uctx->repo_dir = u->repo;
	free(path);
	return 0;
}

/* ---- the command ------------------------------------------------------ */

static void
on_signal(uv_signal_t *h, int sig)
{
	struct up *u = h->data;

	stop_sig = sig;
	wake = 1;
	/* a worker running sees the flags, and its end decides */
	if (u->stage == UP_IDLE) {
		u->rc = LR_EXIT_OK;
		up_stop(u);
	}
}

/* The local hosts among the apply's targets; prints which are left out. */
static json_t *
local_targets(const struct up *u, const json_t *targets)
{
	json_t *t = json_object(), *v;
	const char *k;
	size_t i;

	json_object_foreach((json_t *)targets, k, v)
		for (i = 0; i < u->nhosts; i++)
			if (strcmp(u->hosts[i], k) == 0)
				json_object_set(t, k, v);
	return t;
}

static int
parse_args(int argc, char **argv, struct lr_ctx *ctx, const char **state,
    bool *once, long *wait_ms)
{
	enum { OPT_STATE = CMD_OPT_BASE, OPT_ONCE, OPT_WAIT_TIMEOUT };
	static const struct option longopts[] = {
		{ "state-dir", required_argument, NULL, OPT_STATE },
		{ "once", no_argument, NULL, OPT_ONCE },
		{ "wait-timeout", required_argument, NULL, OPT_WAIT_TIMEOUT },
		CMD_HELP_LONGOPT,
		{ NULL, 0, NULL, 0 }
	};
	const char *arg;
	int c;

	while ((c = getopt_long(argc, argv, "+:hC:", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_STATE:
			*state = optarg;
			break;
		case 'C':
			ctx->repo_dir = optarg;
			ctx->repo_dir_set = true;
			break;
		case OPT_ONCE:
			*once = true;
			break;
		case OPT_WAIT_TIMEOUT:
			if (lr_duration_parse(optarg, wait_ms) < 0) {
				fprintf(stderr, "leura: error: --wait-timeout "
				    "wants a duration such as 90s, 10m or 1h, "
				    "not '%s'\n", optarg);
				return LR_EXIT_USAGE;
			}
			break;
		default:
			arg = argv[optind - 1];
			if (c == '?' && optopt == 0 &&
			    strncmp(arg, "--etcd", 6) == 0) {
				fprintf(stderr, "leura: error: leura up starts "
				    "its own etcd: '%s' does not go with it\n",
				    arg);
				fputs(usage_str, stderr);
				return LR_EXIT_USAGE;
			}
			if (c == '?' && optopt == 0 &&
			    strncmp(arg, "--port", 6) == 0) {
				fprintf(stderr, "leura: error: leura up's etcd "
				    "has no TCP port any more, only a unix "
				    "socket in the state dir: '%s' does not go "
				    "with it\nhint: other commands reach it "
				    "through STATE/config (leura-up(1))\n",
				    arg);
				return LR_EXIT_USAGE;
			}
			return cmd_bad_option(c, argv, usage_str) ==
			    LR_EXIT_OK ? -1 : LR_EXIT_USAGE;
		}
	}
	return cmd_no_args(argc, argv, usage_str);
}

/*
 * leurad's git source: the config repo, on its branch, so that `leura
 * plan` and `leura apply` through leurad read what up applied.  When it
 * is in no git repository (or its HEAD is detached), one line says what
 * that means.
 */
static void
leurad_source(struct up *u)
{
	if (up_git_branch(u->repo, &u->source_branch) < 0) {
		printf("note: '%s' is in no git repository: leurad starts "
		    "no git source, so leura plan and leura apply through it "
		    "need the config repo committed to git\n", u->repo);
		return;
	}
	u->source = u->repo;
	if (u->source_branch == NULL)
		printf("note: '%s' is on no branch (detached HEAD): leura "
		    "plan and leura apply through leurad follow branch "
		    "main\n", u->repo);
}

/* Find the config repo, the binaries and the hosts: before starting any. */
static int
prepare(struct up *u, struct lr_ctx *ctx, const char *state)
{
	struct rec_load sl;
	struct lr_err err;
	char *def = NULL, *self_dir = NULL, *repo, real[PATH_MAX];
	bool installed = false, made;
	int rc = -1;

	lr_err_clear(&err);
	if ((u->self_exe = up_self_exe(&err)) == NULL) {
		lr_err_print(&err);
		return -1;
	}
	if (ctx->repo_dir_set)
		u->repo = ctx->repo_dir;
	else if ((u->example = up_find_example(u->self_exe,
	    &installed)) != NULL)
		u->repo = u->example;
	else {
		fprintf(stderr, "leura: error: no bundled example: this "
		    "leura, '%s', has none in ../share/leura/examples/basic "
		    "and its source tree is gone\nhint: name a config repo "
		    "with -C DIR, or reinstall leura\n", u->self_exe);
		return -1;
	}
	if (state == NULL && (state = def = default_state_dir()) == NULL) {
		fprintf(stderr, "leura: error: no state dir: HOME and "
		    "XDG_STATE_HOME are unset\nhint: give one with "
		    "--state-dir DIR\n");
		return -1;
	}
	if (lr_mkdir_p(state, 0700) < 0 || realpath(state, real) == NULL) {
		fprintf(stderr, "leura: error: cannot create the state dir "
		    "'%s': %s\n", state, strerror(errno));
		goto out;
	}
	u->state = lr_xstrdup(real);
	if (check_state_dir(u->state) < 0 || lock_state(u) < 0 ||
	    signing_pair(u) < 0)
		goto out;
	if ((u->leurad_bin = up_find_leurad(u->self_exe)) == NULL)
		fprintf(stderr, "leura: note: no leurad next to leura or in "
		    "PATH: starting no server\n");
	else if (admin_password(u) < 0)
		goto out;
	if (installed) {
		/* an installed example is no git repository (up_example.c) */
		if ((repo = up_example_repo(u->state, u->example, &made,
		    &err)) == NULL) {
			lr_err_print(&err);
			goto out;
		}
		if (made)
			printf("Copied the bundled example to '%s', a git "
			    "repository: edit and commit it there, or give "
			    "leura up your own with -C DIR\n", repo);
		free(u->example);
		u->repo = u->example = repo;
	}
	/* the hosts of the commit that is applied, not of the work tree */
	lr_err_clear(&err);
	if ((rc = rec_load(&sl, u->repo, "HEAD", 0, &err)) != 0) {
		/* LR_EINVAL comes with diagnostics, or with err alone */
		if (rc == LR_EINVAL)
			cmd_print_load_error(&sl, rc, &err, 20);
		else {
			lr_err_print(&err);
			fprintf(stderr, "hint: leura up applies the last "
			    "commit of the config repo, as leura apply does: "
			    "commit '%s' to git first\n", u->repo);
		}
		rec_load_release(&sl);
		rc = -1;
		goto out;
	}
	rc = pick_hosts(u, sl.repo);
	rec_load_release(&sl);
	if (rc == 0 && u->leurad_bin != NULL)
		leurad_source(u);
	if (rc < 0)
		goto out;
	rc = -1;
	if ((u->etcd_bin = up_find_etcd()) == NULL) {
		fprintf(stderr, "leura: error: cannot find etcd in PATH or at "
		    "/usr/bin/etcd\nhint: apt-get install etcd-server\n");
		goto out;
	}
	if ((u->agent_bin = up_find_agent(u->self_exe, &self_dir)) == NULL) {
		fprintf(stderr, "leura: error: cannot find leura-agent next "
		    "to leura (in '%s') or in PATH\nhint: build it (cmake "
		    "--build BUILD_DIR --target leura-agent) or install it "
		    "next to leura\n", self_dir ? self_dir : "?");
		goto out;
	}
	rc = 0;
out:
	free(self_dir);
	free(def);
	return rc;
}

static void
up_release(struct up *u)
{
	size_t i;

	for (i = 0; i < u->nagents; i++) {
		free(u->agents[i].what);
		free(u->agents[i].log);
	}
	free(u->agents);
	for (i = 0; i < u->nhosts; i++)
		free(u->hosts[i]);
	free(u->hosts);
	free(u->remote);
	free(u->etcd.what);
	free(u->etcd.log);
	free(u->leurad.what);
	free(u->leurad.log);
	free(u->leurad_bin);
	free(u->server_url);
	free(u->admin_pw);
	free(u->source_branch);
	free(u->etcd_bin);
	free(u->agent_bin);
	free(u->self_exe);
	free(u->example);
	free(u->data);
	free(u->env);
	free(u->url);
	free(u->sock_dir);
	free(u->sign_key);
	free(u->sign_pub);
	free(u->state);
	if (u->lockfd > 0)
		close(u->lockfd);
}

/*
 * In the worker: apply, wait, show the status; the exit status.
 * u->fatal when there is nothing to keep running: the apply failed, etcd
 * failed or died.
 */
static int
rollout(struct up *u)
{
	struct cmd_apply_opts ao = { .ref = "HEAD", .no_plan = true,
		.expect = -1, .lockwait = 60 };
	struct cmd_apply_result r;
	struct cmd_wait_opts wo = { 0 };
	enum cmd_wait_result wr;
	json_t *targets;
	char *hint;
	/* from etcd, as the apply: up's own leurad knows no login yet */
	char *argv[] = { "status", "--direct", NULL };
	int rc;

	ao.signing_key = u->sign_key;
	u->fatal = true;
	u->lost_etcd = false;
	if (stop_sig)	/* it came before the worker ran: apply nothing */
		return 128 + stop_sig;
	printf("Applying '%s'\n", u->repo);
	fflush(stdout);
	if ((rc = cmd_apply_run(u->uctx, &ao, &r)) != LR_EXIT_OK)
		return rc;
	if (u->remote)
		printf("note: not on this machine, so not waited for: %s\n",
		    u->remote);
	targets = local_targets(u, r.targets);
	hint = lr_xasprintf("the agents' logs are in %s/agents/", u->state);
	wo.deploy = r.deploy;
	wo.revision = r.revision;
	/* what the agents we started wrote, not what earlier ones did */
	wo.min_revision = u->rev + 1;
	wo.agents_starting = true;	/* started just before */
	wo.timeout_ms = u->wait_ms;
	wo.output = cmd_wait_tty() ? CMD_WAIT_PROGRESS : CMD_WAIT_LINES;
	wo.stop = &wake;
	wo.hint = hint;
	if (json_object_size(targets) == 0) {
		printf("Nothing to wait for: deploy #%lld changed no host on "
		    "this machine.\n", (long long)r.deploy);
		wr = CMD_WAIT_ALL_CONVERGED;
	} else
		wr = cmd_wait_run(r.conn->etcd, r.conn->prefix, targets, &wo,
		    NULL);
	json_decref(targets);
	free(hint);
	cmd_apply_result_release(&r);
	if (wr == CMD_WAIT_STOPPED && stop_sig)
		return 128 + stop_sig;
	if (wr == CMD_WAIT_STOPPED) {	/* etcd died: rollout_done says so */
		u->lost_etcd = true;
		return LR_EXIT_FAIL;
	}
	if (wr == CMD_WAIT_ERROR)
		return LR_EXIT_FAIL;
	putchar('\n');
	optind = 0;	/* a fresh getopt_long for the command */
	/* shown for what it says; its 2-4 are states, the wait decided */
	if (cmd_status(2, argv, u->uctx) == LR_EXIT_FAIL)
		return LR_EXIT_FAIL;
	u->fatal = false;
	u->leurad_ready = u->leurad.what != NULL && leurad_ready(u);
	return wr == CMD_WAIT_ALL_CONVERGED ? LR_EXIT_OK : LR_EXIT_FAIL;
}

static void
rollout_work(uv_work_t *w)
{
	struct up *u = w->data;

	u->rc = rollout(u);
}

static void
rollout_done(uv_work_t *w, int status)
{
	struct up *u = w->data;

	(void)status;
	/*
	 * Who died during the rollout, now that the wait's progress line is
	 * done: when etcd's death ended the wait, or before going idle; not
	 * with --once or after a failure, where leura up never did.  After
	 * what the worker wrote to stdout, also when that is no terminal.
	 */
	fflush(stdout);
	if (u->lost_etcd)
		note_exits(u);
	if (stop_sig) {
		fprintf(stderr, "leura: interrupted: stopping the agents and "
		    "etcd\n");
		u->rc = 128 + stop_sig;
	} else if (!u->once && !u->fatal && note_exits(u)) {
		u->rc = LR_EXIT_FAIL;	/* etcd died meanwhile */
	} else if (!u->once && !u->fatal) {
		printf("\nLeura is up: etcd %s, %zu agent%s, state in %s. "
		    "Ctrl-C stops everything.\nTalk to it: LEURA_CONFIG=%s/"
		    "config leura status\n", u->url, u->nagents,
		    u->nagents == 1 ? "" : "s", u->state, u->state);
		if (u->leurad_ready)
			printf("leurad serves %s; log in as admin (its "
			    "password is in %s):\n  LEURA_CONFIG=%s/config "
			    "leura login --password-file %s admin\n",
			    u->server_url, u->admin_pw, u->state, u->admin_pw);
		else if (u->leurad.what != NULL) {
			fprintf(stderr, "leura: warning: leurad did not answer "
			    "at %s within %d s; its log, %s, ends:\n",
			    u->server_url, LEURAD_READY_MS / 1000,
			    u->leurad.log);
			up_print_tail(u->leurad.log, 5);
		}
		fflush(stdout);
		u->stage = UP_IDLE;
		u->rc = LR_EXIT_OK;
		return;
	}
	up_stop(u);
}

/* etcd answers: the client config, the agents, then the rollout. */
static void
etcd_started(struct up *u)
{
	int port;

	u->rc = LR_EXIT_FAIL;
	u->stage = UP_ROLLOUT;
	if (u->leurad_bin != NULL) {
		if ((port = up_free_port(LEURAD_PORT)) < 0) {
			fprintf(stderr, "leura: error: no free TCP port on "
			    "127.0.0.1 for leurad\n");
			up_stop(u);
			return;
		}
		u->server_url = lr_xasprintf("http://127.0.0.1:%d", port);
	}
	if (write_client_config(u, u->uctx) < 0) {
		up_stop(u);
		return;
	}
	printf("etcd is up at %s; starting %zu agent%s (logs in "
	    "%s/agents/)\n", u->url, u->nhosts, u->nhosts == 1 ? "" : "s",
	    u->state);
	fflush(stdout);
	if (start_agents(u) < 0 ||
	    (u->leurad_bin != NULL && start_leurad(u) < 0)) {
		up_stop(u);
		return;
	}
	uv_queue_work(&u->loop, &u->work, rollout_work, rollout_done);
}

int
cmd_up(int argc, char **argv, struct lr_ctx *ctx)
{
	struct up u;
	struct lr_ctx uctx = *ctx;
	const char *state = NULL;
	int rc;

	memset(&u, 0, sizeof(u));
	u.lockfd = -1;
	u.wait_ms = 30 * 60 * 1000L;
	u.verbose = ctx->verbose;
	u.uctx = &uctx;
	if ((rc = parse_args(argc, argv, &uctx, &state, &u.once,
	    &u.wait_ms)) != 0)
		return rc < 0 ? LR_EXIT_OK : rc;
	rc = LR_EXIT_FAIL;
	if (prepare(&u, &uctx, state) < 0)
		goto out;
	uv_loop_init(&u.loop);
	u.work.data = &u;
	uv_signal_init(&u.loop, &u.sig_int);
	uv_signal_init(&u.loop, &u.sig_term);
	uv_signal_init(&u.loop, &u.sig_hup);
	u.sig_int.data = u.sig_term.data = u.sig_hup.data = &u;
	uv_signal_start(&u.sig_int, on_signal, SIGINT);
	uv_signal_start(&u.sig_term, on_signal, SIGTERM);
	uv_signal_start(&u.sig_hup, on_signal, SIGHUP);
	printf("Starting etcd (data in %s/etcd)\n", u.state);
	fflush(stdout);
	start_etcd(&u);
	uv_run(&u.loop, UV_RUN_DEFAULT);
	rc = u.rc;
	if (uv_loop_close(&u.loop) != 0)
		fprintf(stderr, "leura: warning: the event loop still had "
		    "handles at exit\n");
out:
	up_release(&u);
	return rc;
}
