/*
 * leura up: one machine, zero set-up.  Starts a private etcd on 127.0.0.1
 * with its data under the state dir, one leura-agent for each inventory
 * host that lives on this machine, applies the config repo (the bundled
 * example by default) in-process as `leura apply` does, waits for the
 * agents as `leura apply --wait` does (wait.h), prints `leura status`, and
 * then keeps everything running until Ctrl-C (or stops at once with
 * --once).
 *
 * This is the blocking CLI, not a daemon: children are forked and exec'd
 * (each in its own process group, so that a terminal's Ctrl-C reaches
 * only us and we stop them in order: agents first, then etcd), with
 * PR_SET_PDEATHSIG so that none outlives us, whatever kills us.  Signals
 * only set flags; the waits check them between etcd_watch slices, and the
 * idle loop sleeps in sigsuspend.
 *
 * Files under the state dir (leura-up(1), FILES): etcd/ (its data, kept
 * between runs), etcd.log, agents/HOST/ (an agent's state dir) and
 * agents/HOST.log, config (the client configuration for this etcd),
 * up.json (the ports, reused next time) and up.lock (one `leura up` per
 * state dir).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "builtin.h"
#include "load.h"
#include "wait.h"
#include "xalloc.h"

extern char **environ;

static const char usage_str[] =
    "usage: leura up [-C DIR] [--state-dir DIR] [--once] [--port N] "
    "[--wait-timeout DURATION]\n";

#define STOP_GRACE_MS	10000	/* SIGTERM, then SIGKILL after this */
#define ETCD_READY_MS	20000	/* etcd's first start takes a few seconds */
#define PORT_TRIES	5
#define PREFIX		"/leura"

#ifndef LEURA_EXAMPLE_DIR
#define LEURA_EXAMPLE_DIR ""
#endif
#ifndef LEURA_EXAMPLE_INSTALL_DIR
#define LEURA_EXAMPLE_INSTALL_DIR ""
#endif

struct child {
	pid_t	 pid;		/* 0: not running */
	char	*what;		/* "etcd", "the agent of web1" */
	char	*log;		/* its stdout and stderr */
	int	 status;	/* wait status once reaped */
};

struct up {
	const char *repo;	/* the config repo */
	char	*state;		/* absolute state dir */
	char	*etcd_bin, *agent_bin;
	char	*url;		/* http://127.0.0.1:PORT */
	int	 port, peer_port;
	bool	 port_given;
	int	 lockfd;
	struct child etcd;
	struct child *agents;
	size_t	 nagents, cap;
	char	**hosts;	/* the local hosts, one agent each */
	size_t	 nhosts;
	char	*remote;	/* hosts not on this machine, for a note */
};

/* signal number that asked us to stop; 0: none */
static volatile sig_atomic_t stop_sig;
static volatile sig_atomic_t child_exited;
/* stop waiting: a stop signal, or etcd died */
static volatile sig_atomic_t wake;
/*
 * etcd, reaped by the SIGCHLD handler itself so that a wait on a dead
 * etcd ends (it would retry until its timeout); reap() takes it from here.
 */
static volatile pid_t etcd_pid;
static volatile sig_atomic_t etcd_reaped;
static int etcd_status;

static void
on_stop(int sig)
{
	stop_sig = sig;
	wake = 1;
}

static void
on_child(int sig)
{
	int saved = errno, st;

	(void)sig;
	child_exited = 1;
	if (etcd_pid > 0 && !etcd_reaped &&
	    waitpid(etcd_pid, &st, WNOHANG) == etcd_pid) {
		etcd_status = st;
		etcd_reaped = 1;
		wake = 1;
	}
	errno = saved;
}

/* ---- small helpers ---------------------------------------------------- */

static int
mkdirs(const char *path, mode_t mode)
{
	char *p = lr_xstrdup(path), *s;
	int rc = 0;

	for (s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, mode) != 0 && errno != EEXIST)
			rc = -1;
		*s = '/';
	}
	if (mkdir(p, mode) != 0 && errno != EEXIST)
		rc = -1;
	free(p);
	return rc;
}

static bool
is_dir(const char *p)
{
	struct stat st;

	return p && *p && stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool
is_exec(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISREG(st.st_mode) &&
	    access(p, X_OK) == 0;
}

/* name in PATH (owned), or NULL. */
static char *
in_path(const char *name)
{
	const char *path = getenv("PATH"), *p, *e;
	char *cand;

	for (p = path ? path : ""; *p; p = *e ? e + 1 : e) {
		e = strchr(p, ':');
		if (e == NULL)
			e = p + strlen(p);
		if (e == p)
			continue;
		cand = lr_xasprintf("%.*s/%s", (int)(e - p), p, name);
		if (is_exec(cand))
			return cand;
		free(cand);
	}
	return NULL;
}

static char *
find_etcd(void)
{
	char *p;

	if ((p = in_path("etcd")) != NULL)
		return p;
	return is_exec("/usr/bin/etcd") ? lr_xstrdup("/usr/bin/etcd") : NULL;
}

/* leura-agent next to this leura, else in PATH. */
static char *
find_agent(char **self_dir)
{
	char self[PATH_MAX], *slash, *p;
	ssize_t n;

	*self_dir = NULL;
	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) > 0) {
		self[n] = '\0';
		if ((slash = strrchr(self, '/')) != NULL) {
			*slash = '\0';
			*self_dir = lr_xstrdup(self);
			p = lr_xasprintf("%s/leura-agent", self);
			if (is_exec(p))
				return p;
			free(p);
		}
	}
	return in_path("leura-agent");
}

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

/* A file's last lines to stderr, indented: what a dead child said. */
static void
print_tail(const char *path, int nlines)
{
	char buf[8192];
	FILE *fp;
	long sz;
	size_t n, i;
	int seen = 0;

	if ((fp = fopen(path, "rb")) == NULL)
		return;
	fseek(fp, 0, SEEK_END);
	sz = ftell(fp);
	fseek(fp, sz > (long)sizeof(buf) - 1 ? sz - (long)sizeof(buf) + 1 :
	    0, SEEK_SET);
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	while (n && buf[n - 1] == '\n')
		buf[--n] = '\0';
	for (i = n; i > 0; i--)
		if (buf[i - 1] == '\n' && ++seen == nlines)
			break;
	fprintf(stderr, "  | ");
	for (; i < n; i++) {
		fputc(buf[i], stderr);
		if (buf[i] == '\n')
			fprintf(stderr, "  | ");
	}
	fputc('\n', stderr);
}

static long
file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long)st.st_size : 0;
}

/* Whether path has text past offset from (the log of this start). */
static bool
file_has(const char *path, long from, const char *text)
{
	char buf[65536];
	FILE *fp;
	size_t n;

	if ((fp = fopen(path, "rb")) == NULL)
		return false;
	if (fseek(fp, from, SEEK_SET) != 0) {
		fclose(fp);
		return false;
	}
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	return strstr(buf, text) != NULL;
}

/* A port of 127.0.0.1 free now (the kernel's pick), not equal to avoid. */
static int
free_port(int avoid)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd, port = -1, tries;

	for (tries = 0; tries < 10 && port < 0; tries++) {
		if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
			return -1;
		memset(&sa, 0, sizeof(sa));
		sa.sin_family = AF_INET;
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
		    getsockname(fd, (struct sockaddr *)&sa, &len) == 0 &&
		    ntohs(sa.sin_port) != avoid)
			port = ntohs(sa.sin_port);
		close(fd);
	}
	return port;
}

/* Whether port of 127.0.0.1 can be bound now. */
static bool
port_free(int port)
{
	struct sockaddr_in sa;
	int fd, one = 1;
	bool ok;

	if (port <= 0 || port > 65535)
		return false;
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return false;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)port);
	ok = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

/* ---- which hosts live here -------------------------------------------- */

static bool
is_loopback(const char *a)
{
	struct in_addr v4;
	struct in6_addr v6;

	if (strcasecmp(a, "localhost") == 0 ||
	    strcasecmp(a, "localhost.localdomain") == 0 ||
	    strcasecmp(a, "ip6-localhost") == 0)
		return true;
	if (inet_pton(AF_INET, a, &v4) == 1)
		return (ntohl(v4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, a, &v6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&v6) ||
		    (IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127);
	return false;
}

/* One of this machine's interface addresses. */
static bool
is_own_address(const char *a)
{
	struct ifaddrs *ifs, *i;
	struct in6_addr v6;
	struct in_addr v4;
	bool found = false;
	int fam;

	if (inet_pton(AF_INET, a, &v4) == 1)
		fam = AF_INET;
	else if (inet_pton(AF_INET6, a, &v6) == 1)
		fam = AF_INET6;
	else
		return false;
	if (getifaddrs(&ifs) != 0)
		return false;
	for (i = ifs; i && !found; i = i->ifa_next) {
		if (i->ifa_addr == NULL || i->ifa_addr->sa_family != fam)
			continue;
		if (fam == AF_INET)
			found = memcmp(&((struct sockaddr_in *)(void *)
			    i->ifa_addr)->sin_addr, &v4, sizeof(v4)) == 0;
		else
			found = memcmp(&((struct sockaddr_in6 *)(void *)
			    i->ifa_addr)->sin6_addr, &v6, sizeof(v6)) == 0;
	}
	freeifaddrs(ifs);
	return found;
}

/* Equal to this machine's host name, with or without its domain. */
static bool
is_hostname(const char *s, const char *me)
{
	size_t n = strcspn(me, ".");

	if (*me == '\0')
		return false;
	return strcasecmp(s, me) == 0 || (strlen(s) == n &&
	    strncasecmp(s, me, n) == 0) || (strncasecmp(s, me, n) == 0 &&
	    s[n] == '.' && strchr(me, '.') == NULL);
}

static bool
host_is_local(const struct spec_host *h, const char *me)
{
	const char *a = h->address ? h->address : h->name;

	return is_loopback(a) || is_hostname(h->name, me) ||
	    is_hostname(a, me) || is_own_address(a);
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
		if (host_is_local(h, me)) {
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

/*
 * Fork and exec argv with envp, stdin from /dev/null, stdout and stderr
 * appended to log.  The child gets its own process group and dies with
 * us (PR_SET_PDEATHSIG).  0 or -1 (printed).
 */
static int
spawn(struct child *c, char *const argv[], char *const envp[])
{
	struct sigaction dfl;
	sigset_t all, old;
	pid_t parent = getpid(), pid;
	int logfd, nullfd, e;
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGCHLD,
		SIGPIPE };
	size_t i;

	if ((logfd = open(c->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
	    0600)) < 0) {
		fprintf(stderr, "leura: error: cannot open '%s': %s\n", c->log,
		    strerror(errno));
		return -1;
	}
	if ((nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "leura: error: cannot open /dev/null: %s\n",
		    strerror(errno));
		close(logfd);
		return -1;
	}
	fflush(NULL);
	/* no handler of ours may run in the child before exec */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	if ((pid = fork()) == 0) {
		memset(&dfl, 0, sizeof(dfl));
		dfl.sa_handler = SIG_DFL;
		for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
			sigaction(sigs[i], &dfl, NULL);
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)	/* we died before prctl */
			_exit(127);
		if (dup2(nullfd, 0) < 0 || dup2(logfd, 1) < 0 ||
		    dup2(logfd, 2) < 0)
			_exit(127);
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		execve(argv[0], argv, envp);
		e = errno;
		(void)!write(2, "leura up: exec failed: ", 23);
		(void)!write(2, strerror(e), strlen(strerror(e)));
		(void)!write(2, "\n", 1);
		_exit(127);
	}
	e = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(nullfd);
	close(logfd);
	if (pid < 0) {
		fprintf(stderr, "leura: error: cannot start %s: fork: %s\n",
		    c->what, strerror(e));
		return -1;
	}
	c->pid = pid;
	return 0;
}

/* Reap c if it exited; true when it is gone. */
static bool
reap(struct child *c)
{
	pid_t r;

	if (c->pid <= 0)
		return true;
	if (c->pid == etcd_pid && etcd_reaped)
		goto etcd;
	r = waitpid(c->pid, &c->status, WNOHANG);
	if (r == c->pid || (r < 0 && errno == ECHILD)) {
		if (c->pid == etcd_pid) {
			if (etcd_reaped)	/* the handler was first */
				goto etcd;
			etcd_pid = 0;
		}
		c->pid = 0;
		return true;
	}
	return false;
etcd:
	c->status = etcd_status;
	c->pid = 0;
	etcd_pid = 0;
	etcd_reaped = 0;
	return true;
}

static void
describe_exit(const struct child *c, char *buf, size_t len)
{
	if (WIFEXITED(c->status))
		snprintf(buf, len, "exited with status %d",
		    WEXITSTATUS(c->status));
	else if (WIFSIGNALED(c->status))
		snprintf(buf, len, "was killed by signal %d",
		    WTERMSIG(c->status));
	else
		snprintf(buf, len, "stopped");
}

/* SIGTERM each of cs, wait up to STOP_GRACE_MS, then SIGKILL. */
static void
stop_children(struct child **cs, size_t n)
{
	long deadline = lr_now_ms() + STOP_GRACE_MS;
	size_t i, left;

	for (i = 0; i < n; i++)
		if (cs[i]->pid > 0)
			kill(cs[i]->pid, SIGTERM);
	for (;;) {
		for (left = 0, i = 0; i < n; i++)
			if (!reap(cs[i]))
				left++;
		if (left == 0)
			return;
		if (lr_now_ms() >= deadline)
			break;
		lr_sleep_ms(50);
	}
	for (i = 0; i < n; i++) {
		if (cs[i]->pid <= 0)
			continue;
		fprintf(stderr, "leura: warning: %s did not stop within %d s "
		    "of SIGTERM; killing it\n", cs[i]->what, STOP_GRACE_MS /
		    1000);
		kill(cs[i]->pid, SIGKILL);
		while (waitpid(cs[i]->pid, &cs[i]->status, 0) < 0 &&
		    errno == EINTR)
			;
		cs[i]->pid = 0;
	}
}

/* Agents first (they revoke their leases through etcd), then etcd. */
static void
stop_all(struct up *u)
{
	struct child **cs = lr_xcalloc(u->nagents + 1, sizeof(*cs));
	size_t i, n = 0;

	for (i = 0; i < u->nagents; i++)
		if (u->agents[i].pid > 0)
			cs[n++] = &u->agents[i];
	if (n)
		stop_children(cs, n);
	cs[0] = &u->etcd;
	if (u->etcd.pid > 0)
		stop_children(cs, 1);
	free(cs);
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

static void
load_ports(struct up *u, int *client, int *peer)
{
	char *path = lr_xasprintf("%s/up.json", u->state);
	json_t *j = json_load_file(path, 0, NULL);

	*client = (int)json_integer_value(json_object_get(j, "client_port"));
	*peer = (int)json_integer_value(json_object_get(j, "peer_port"));
	json_decref(j);
	free(path);
}

static void
save_ports(const struct up *u)
{
	char *path = lr_xasprintf("%s/up.json", u->state);
	json_t *j = json_pack("{s:i, s:i, s:s}", "client_port", u->port,
	    "peer_port", u->peer_port, "etcd", u->url);

	if (json_dump_file(j, path, JSON_INDENT(2) | JSON_SORT_KEYS) != 0)
		fprintf(stderr, "leura: warning: cannot write '%s'\n", path);
	json_decref(j);
	free(path);
}

/*
 * The store revision, once etcd answers; -1 when it died (*busy: on a port
 * in use, as its log since log_from says) or took too long.
 */
static int64_t
etcd_ready(struct up *u, long log_from, bool *busy)
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

	*busy = false;
	lr_err_clear(&err);
	if (etcd_new(&cfg, &e, &err) < 0) {
		lr_err_print(&err);
		return -1;
	}
	while (lr_now_ms() < deadline && !stop_sig) {
		if (etcd_range(e, &rq, &r, &err) == 0) {
			rev = r.revision;
			etcd_range_result_release(&r);
			break;
		}
		if (reap(&u->etcd)) {
			*busy = file_has(u->etcd.log, log_from,
			    "address already in use");
			break;
		}
		lr_sleep_ms(100);
	}
	etcd_free(e);
	return rev;
}

/* Start etcd and wait until it answers; its store revision, or -1. */
static int64_t
start_etcd(struct up *u)
{
	char *data = lr_xasprintf("%s/etcd", u->state), **env = etcd_env();
	char *client = NULL, *peer = NULL, *cluster = NULL;
	int saved_client, saved_peer, tries;
	long log_from;
	int64_t rev = -1;
	bool busy = false, show_log = false, existed = is_dir(data);
	char desc[64];

	load_ports(u, &saved_client, &saved_peer);
	u->etcd.what = lr_xstrdup("etcd");
	u->etcd.log = lr_xasprintf("%s/etcd.log", u->state);
	for (tries = 0; tries < PORT_TRIES && !stop_sig; tries++) {
		/*
		 * Whatever answers on a taken port is not our etcd: our
		 * agents must never talk to another one.
		 */
		if (u->port_given && !port_free(u->port)) {
			busy = true;
			fprintf(stderr, "leura: error: port %d of 127.0.0.1 "
			    "is in use\n", u->port);
			break;
		}
		if (!u->port_given)
			u->port = tries == 0 && port_free(saved_client) ?
			    saved_client : free_port(0);
		u->peer_port = tries == 0 && saved_peer != u->port &&
		    port_free(saved_peer) ? saved_peer : free_port(u->port);
		if (u->port < 0 || u->peer_port < 0) {
			fprintf(stderr, "leura: error: cannot find a free port "
			    "on 127.0.0.1\n");
			break;
		}
		free(u->url);
		free(client);
		free(peer);
		free(cluster);
		u->url = lr_xasprintf("http://127.0.0.1:%d", u->port);
		client = lr_xstrdup(u->url);
		peer = lr_xasprintf("http://127.0.0.1:%d", u->peer_port);
		cluster = lr_xasprintf("leura-up=%s", peer);
		log_from = file_size(u->etcd.log);
		{
			char *argv[] = { u->etcd_bin, "--name", "leura-up",
				"--data-dir", data, "--listen-client-urls",
				client, "--advertise-client-urls", client,
				"--listen-peer-urls", peer,
				"--initial-advertise-peer-urls", peer,
				"--initial-cluster", cluster,
				"--initial-cluster-state", "new",
				"--heartbeat-interval", "50",
				"--election-timeout", "500",
				"--auto-compaction-mode", "periodic",
				"--auto-compaction-retention", "1h",
				"--logger", "zap", "--log-outputs", "stderr",
				NULL };

			if (spawn(&u->etcd, argv, env) < 0)
				break;
			etcd_pid = u->etcd.pid;
		}
		rev = etcd_ready(u, log_from, &busy);
		if (rev >= 0 && reap(&u->etcd)) {
			/* someone else answered on the port: try again */
			rev = -1;
			busy = true;
		}
		if (rev >= 0)
			break;
		if (u->etcd.pid > 0) {	/* alive but not answering */
			struct child *cs[1] = { &u->etcd };

			stop_children(cs, 1);
			if (!stop_sig)
				fprintf(stderr, "leura: error: etcd did not "
				    "answer at %s within %d s; its log, %s, "
				    "ends:\n", u->url, ETCD_READY_MS / 1000,
				    u->etcd.log);
			show_log = true;
			break;
		}
		if (busy && !u->port_given)
			continue;	/* someone took the port: another */
		describe_exit(&u->etcd, desc, sizeof(desc));
		fprintf(stderr, "leura: error: etcd %s at start; its log, %s, "
		    "ends:\n", desc, u->etcd.log);
		show_log = true;
		break;
	}
	if (rev < 0 && !stop_sig) {
		if (tries == PORT_TRIES)
			fprintf(stderr, "leura: error: the ports picked for "
			    "etcd were taken before it could bind them, %d "
			    "times\n", PORT_TRIES);
		if (show_log)
			print_tail(u->etcd.log, 10);
		if (busy && u->port_given)
			fprintf(stderr, "hint: port %d is taken; pick another "
			    "with --port, or leave --port out\n", u->port);
		else if (show_log && existed)
			fprintf(stderr, "hint: the data of a previous leura up "
			    "is in '%s'; remove it to start afresh\n", data);
	} else if (rev >= 0)
		save_ports(u);
	free(client);
	free(peer);
	free(cluster);
	free(data);
	free(env);
	return rev;
}

/* ---- agents ----------------------------------------------------------- */

static int
start_agents(struct up *u, int verbose)
{
	struct child *c;
	char *dir, *adir = lr_xasprintf("%s/agents", u->state);
	size_t i;
	int rc = 0;

	if (mkdirs(adir, 0700) < 0) {
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
				verbose ? "-v" : NULL, NULL };

			rc = spawn(c, argv, environ);
		}
		free(dir);
	}
	free(adir);
	return rc;
}

/* An agent or etcd that died on its own: say so; true when etcd did. */
static bool
note_exits(struct up *u)
{
	char desc[64];
	size_t i;

	for (i = 0; i < u->nagents; i++) {
		if (u->agents[i].pid <= 0 || !reap(&u->agents[i]))
			continue;
		describe_exit(&u->agents[i], desc, sizeof(desc));
		fprintf(stderr, "leura: warning: %s %s; its log, %s, ends:\n",
		    u->agents[i].what, desc, u->agents[i].log);
		print_tail(u->agents[i].log, 5);
	}
	if (u->etcd.pid > 0 && reap(&u->etcd)) {
		describe_exit(&u->etcd, desc, sizeof(desc));
		fprintf(stderr, "leura: error: etcd %s; its log, %s, ends:\n",
		    desc, u->etcd.log);
		print_tail(u->etcd.log, 10);
		return true;
	}
	return false;
}

/* ---- the state dir ---------------------------------------------------- */

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
		"LEURA_ETCD_PASSWORD", "LEURA_ETCD_PREFIX" };
	char *path = lr_xasprintf("%s/config", u->state);
	FILE *fp;
	size_t i;

	if ((fp = fopen(path, "w")) == NULL) {
		fprintf(stderr, "leura: error: cannot write '%s': %s\n", path,
		    strerror(errno));
		free(path);
		return -1;
	}
	fprintf(fp, "# written by leura up: its local etcd\netcd:\n"
	    "  endpoints: [%s]\n  prefix: %s\n", u->url, PREFIX);
	fclose(fp);
	setenv("LEURA_CONFIG", path, 1);
	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
	uctx->etcd = u->url;
	uctx->etcd_cacert = uctx->etcd_cert = uctx->etcd_key = NULL;
	uctx->etcd_user = NULL;
	uctx->repo_dir = u->repo;
	free(path);
	return 0;
}

/* ---- the command ------------------------------------------------------ */

static void
handle_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_stop;	/* no SA_RESTART: waits wake up */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = on_child;
	sa.sa_flags = SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
}

/* Idle until a stop signal or etcd's death; the exit status. */
static int
idle(struct up *u)
{
	sigset_t block, old;

	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGCHLD);
	sigprocmask(SIG_BLOCK, &block, &old);
	for (;;) {
		if (stop_sig)
			break;
		child_exited = 0;
		sigprocmask(SIG_SETMASK, &old, NULL);
		if (note_exits(u))
			return LR_EXIT_FAIL;
		sigprocmask(SIG_BLOCK, &block, NULL);
		if (!stop_sig && !child_exited)
			sigsuspend(&old);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	return LR_EXIT_OK;
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
parse_args(int argc, char **argv, struct lr_ctx *ctx, struct up *u,
    const char **state, bool *once, long *wait_ms)
{
	enum { OPT_STATE = 0x200, OPT_ONCE, OPT_PORT, OPT_WAIT_TIMEOUT };
	static const struct option longopts[] = {
		{ "state-dir", required_argument, NULL, OPT_STATE },
		{ "once", no_argument, NULL, OPT_ONCE },
		{ "port", required_argument, NULL, OPT_PORT },
		{ "wait-timeout", required_argument, NULL, OPT_WAIT_TIMEOUT },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *arg;
	char *end;
	long n;
	int c;

	while ((c = getopt_long(argc, argv, ":hC:", longopts, NULL)) != -1) {
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
		case OPT_PORT:
			n = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end || n < 1 || n > 65535) {
				fprintf(stderr, "leura: error: --port wants a "
				    "port number (1-65535), not '%s'\n",
				    optarg);
				return LR_EXIT_USAGE;
			}
			u->port = (int)n;
			u->port_given = true;
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
			return cmd_bad_option(c, argv, usage_str) ==
			    LR_EXIT_OK ? -1 : LR_EXIT_USAGE;
		}
	}
	return cmd_no_args(argc, argv, usage_str);
}

/* Find the config repo, the binaries and the hosts: before starting any. */
static int
prepare(struct up *u, struct lr_ctx *ctx, const char *state)
{
	struct rec_load sl;
	struct lr_err err;
	char *def = NULL, *self_dir = NULL, real[PATH_MAX];
	int rc = -1;

	if (ctx->repo_dir_set)
		u->repo = ctx->repo_dir;
	else if (is_dir(LEURA_EXAMPLE_DIR))
		u->repo = LEURA_EXAMPLE_DIR;
	else if (is_dir(LEURA_EXAMPLE_INSTALL_DIR))
		u->repo = LEURA_EXAMPLE_INSTALL_DIR;
	else {
		fprintf(stderr, "leura: error: the bundled example is neither "
		    "at '%s' nor at '%s'\nhint: name a config repo with -C "
		    "DIR\n", LEURA_EXAMPLE_DIR, LEURA_EXAMPLE_INSTALL_DIR);
		return -1;
	}
	if (state == NULL && (state = def = default_state_dir()) == NULL) {
		fprintf(stderr, "leura: error: no state dir: HOME and "
		    "XDG_STATE_HOME are unset\nhint: give one with "
		    "--state-dir DIR\n");
		return -1;
	}
	if (mkdirs(state, 0700) < 0 || realpath(state, real) == NULL) {
		fprintf(stderr, "leura: error: cannot create the state dir "
		    "'%s': %s\n", state, strerror(errno));
		goto out;
	}
	u->state = lr_xstrdup(real);
	if (lock_state(u) < 0)
		goto out;
	/* the hosts of the commit that is applied, not of the work tree */
	lr_err_clear(&err);
	if ((rc = rec_load(&sl, u->repo, "HEAD", 0, &err)) != 0) {
		if (rc == LR_EINVAL)
			cmd_print_diags(&sl, 20);
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
	if (rc < 0)
		goto out;
	rc = -1;
	if ((u->etcd_bin = find_etcd()) == NULL) {
		fprintf(stderr, "leura: error: cannot find etcd in PATH or at "
		    "/usr/bin/etcd\nhint: apt-get install etcd-server\n");
		goto out;
	}
	if ((u->agent_bin = find_agent(&self_dir)) == NULL) {
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
	free(u->etcd_bin);
	free(u->agent_bin);
	free(u->url);
	free(u->state);
	if (u->lockfd > 0)
		close(u->lockfd);
}

/*
 * Apply, wait, show the status; the exit status.  *fatal when there is
 * nothing to keep running: the apply failed, etcd failed or died.
 */
static int
rollout(struct up *u, struct lr_ctx *uctx, int64_t start_rev, long wait_ms,
    bool *fatal)
{
	struct cmd_apply_opts ao = { .ref = "HEAD", .no_plan = true,
		.expect = -1, .lockwait = 60 };
	struct cmd_apply_result r;
	struct cmd_wait_opts wo = { 0 };
	enum cmd_wait_result wr;
	json_t *targets;
	char *hint;
	char *argv[] = { "status", NULL };
	int rc;

	*fatal = true;
	printf("Applying '%s'\n", u->repo);
	fflush(stdout);
	if ((rc = cmd_apply_run(uctx, &ao, &r)) != LR_EXIT_OK)
		return rc;
	if (u->remote)
		printf("note: not on this machine, so not waited for: %s\n",
		    u->remote);
	targets = local_targets(u, r.targets);
	hint = lr_xasprintf("the agents' logs are in %s/agents/", u->state);
	wo.deploy = r.deploy;
	wo.revision = r.revision;
	/* what the agents we started wrote, not what earlier ones did */
	wo.min_revision = start_rev + 1;
	wo.timeout_ms = wait_ms;
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
	if (wr == CMD_WAIT_STOPPED) {	/* etcd died */
		note_exits(u);
		return LR_EXIT_FAIL;
	}
	if (wr == CMD_WAIT_ERROR)
		return LR_EXIT_FAIL;
	putchar('\n');
	optind = 0;	/* a fresh getopt_long for the command */
	if (cmd_status(1, argv, uctx) != LR_EXIT_OK)
		return LR_EXIT_FAIL;
	*fatal = false;
	return wr == CMD_WAIT_ALL_CONVERGED ? LR_EXIT_OK : LR_EXIT_FAIL;
}

int
cmd_up(int argc, char **argv, struct lr_ctx *ctx)
{
	struct up u;
	struct lr_ctx uctx = *ctx;
	const char *state = NULL;
	bool once = false, fatal;
	long wait_ms = 30 * 60 * 1000L;
	int64_t rev;
	int rc;

	memset(&u, 0, sizeof(u));
	u.lockfd = -1;
	if ((rc = parse_args(argc, argv, &uctx, &u, &state, &once,
	    &wait_ms)) != 0)
		return rc < 0 ? LR_EXIT_OK : rc;
	rc = LR_EXIT_FAIL;
	if (prepare(&u, &uctx, state) < 0)
		goto out;
	handle_signals();
	printf("Starting etcd (data in %s/etcd)\n", u.state);
	fflush(stdout);
	if ((rev = start_etcd(&u)) < 0) {
		rc = stop_sig ? 128 + stop_sig : LR_EXIT_FAIL;
		goto stop;
	}
	if (write_client_config(&u, &uctx) < 0)
		goto stop;
	printf("etcd is up at %s; starting %zu agent%s (logs in "
	    "%s/agents/)\n", u.url, u.nhosts, u.nhosts == 1 ? "" : "s",
	    u.state);
	fflush(stdout);
	if (start_agents(&u, ctx->verbose) < 0)
		goto stop;
	rc = rollout(&u, &uctx, rev, wait_ms, &fatal);
	if (stop_sig) {
		fprintf(stderr, "leura: interrupted: stopping the agents and "
		    "etcd\n");
		rc = 128 + stop_sig;
		goto stop;
	}
	if (once || fatal)
		goto stop;
	if (note_exits(&u)) {	/* etcd died meanwhile */
		rc = LR_EXIT_FAIL;
		goto stop;
	}
	printf("\nLeura is up: etcd %s, %zu agent%s, state in %s. Ctrl-C "
	    "stops everything.\nTalk to it: LEURA_CONFIG=%s/config leura "
	    "status\n", u.url, u.nagents, u.nagents == 1 ? "" : "s", u.state,
	    u.state);
	fflush(stdout);
	if (idle(&u) != LR_EXIT_OK)
		rc = LR_EXIT_FAIL;
	else
		rc = LR_EXIT_OK;
stop:
	if (u.nagents || u.etcd.pid > 0) {
		stop_all(&u);
		printf("Stopped %zu agent%s and etcd.\n", u.nagents,
		    u.nagents == 1 ? "" : "s");
	}
out:
	up_release(&u);
	return rc;
}
