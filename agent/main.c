/*
 * leura-agent: the daemon that converges one host (leura-agent(8)).
 *
 *   leura-agent --host NAME [--etcd URL[,URL...]] [--prefix P]
 *               [--state-dir DIR] [--etcd-cacert F] [--etcd-cert F]
 *               [--etcd-key F] [--etcd-user U] [--etcd-password-file F]
 *               [--etcd-max-request-bytes N] [--once]
 *               [--drift-interval DURATION] [--step-log-max SIZE]
 *               [--run-parallel N] [-v]
 *               (--fleet-key FILE | --insecure-unsigned)
 *
 * Connection settings: the flags, then LEURA_ETCD, LEURA_ETCD_PREFIX,
 * LEURA_ETCD_CACERT, LEURA_ETCD_CERT, LEURA_ETCD_KEY, LEURA_ETCD_USER,
 * LEURA_ETCD_PASSWORD (the agent reads no configuration file: it is
 * meant for a unit file or a container's environment).  The fleet's
 * public key: --fleet-key, else the file named by LEURA_FLEET_KEY; the
 * agent refuses to start without one unless --insecure-unsigned.
 *
 * This file turns argv and the environment into struct agent_opts; the
 * agent's lifetime is agent.c's (agent_new, agent_run, agent_free): open
 * (and lock) the state dir, take the desired state cached there and
 * enforce it at once, connect to etcd in the background, run the loop
 * until SIGTERM/SIGINT (or, with --once, until one run is done).
 * Stopping aborts the running step (its process group gets SIGTERM, then
 * SIGKILL), sends the last report, revokes the heartbeat and exits 0.
 */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#define LR_LOG_COMPONENT "agent"
#include "agent.h"
#include "clock.h"
#include "conn.h"
#include "leura_commit.h"
#include "log.h"
#include "step.h"
#include "sync.h"
#include "xalloc.h"

#define EXIT_USAGE	64

extern char **environ;

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: leura-agent --host NAME [--etcd URL[,URL...]] "
	    "[--prefix P] [--state-dir DIR]\n"
	    "                   [--etcd-cacert FILE] [--etcd-cert FILE] "
	    "[--etcd-key FILE]\n"
	    "                   [--etcd-user USER] [--etcd-password-file "
	    "FILE]\n"
	    "                   [--etcd-max-request-bytes N] [--once] "
	    "[--drift-interval DURATION]\n"
	    "                   [--step-log-max SIZE] [--run-parallel N] "
	    "[-v]\n"
	    "                   (--fleet-key FILE | --insecure-unsigned)\n");
}

static bool
host_valid(const char *h)
{
	const char *p;

	if (*h == '\0' || *h == '.' || strlen(h) > 253)
		return false;
	for (p = h; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' ||
		    *p == '.'))
			return false;
	return true;
}

/* Default state dir: /var/lib/leura-agent/HOST as root, else XDG. */
static char *
default_state_dir(const char *host)
{
	const char *x;

	if (geteuid() == 0)
		return lr_xasprintf("/var/lib/leura-agent/%s", host);
	if ((x = getenv("XDG_STATE_HOME")) != NULL && *x == '/')
		return lr_xasprintf("%s/leura-agent/%s", x, host);
	if ((x = getenv("HOME")) != NULL && *x == '/')
		return lr_xasprintf("%s/.local/state/leura-agent/%s", x, host);
	return lr_xasprintf("/tmp/leura-agent-%d/%s", (int)geteuid(), host);
}

/* What the options point to that is ours to free. */
struct opts_mem {
	char	*state_dir;
	struct lr_conn conn;	/* the connection settings (lib/conn.h) */
	struct lr_sign_key *keys;	/* the fleet's public keys */
};

static void
opts_mem_release(struct opts_mem *m)
{
	free(m->state_dir);
	lr_conn_release(&m->conn);
	lr_sign_key_free(m->keys);
}

/*
 * The fleet's public keys from path (--fleet-key, or LEURA_FLEET_KEY),
 * or none with --insecure-unsigned.  -1 to go on, or the exit status.
 */
static int
fleet_keys(const char *path, bool insecure, struct opts_mem *m)
{
	struct lr_err err;

	lr_err_clear(&err);
	if (path == NULL || *path == '\0')
		path = getenv("LEURA_FLEET_KEY");
	if (insecure) {
		lr_log_warn("--insecure-unsigned: acting on unsigned desired "
		    "state; anyone who can write to etcd can run commands on "
		    "this host (for throwaway tests only)");
		return -1;
	}
	if (path == NULL || *path == '\0') {
		lr_err_set(&err, LR_EINVAL, "no fleet public key: the agent "
		    "acts only on desired state signed by the fleet's key");
		lr_err_hint(&err, "give the '%s' that 'leura keygen' made "
		    "with --fleet-key FILE (or LEURA_FLEET_KEY), or pass "
		    "--insecure-unsigned for a throwaway test",
		    LR_SIGN_PUBLIC_NAME);
		lr_err_print(&err);
		return EXIT_USAGE;
	}
	if (lr_sign_key_load_public(path, &m->keys, &err) < 0) {
		lr_err_print(&err);
		return 1;
	}
	return -1;
}

/*
 * Remove the variable name from the environment and wipe its bytes where
 * they are.  unsetenv alone only drops the pointer: the kernel shows the
 * environment the process started with, from its own memory, in
 * /proc/PID/environ (readable by the agent's user and root, and by a step
 * through /proc/$PPID/environ), so the value there is overwritten too
 * (what is left is "NAME=" and NUL bytes).
 */
static void
env_wipe(const char *name)
{
	size_t n = strlen(name);
	char **e;

	for (e = environ; e && *e; e++)
		if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
			explicit_bzero(*e + n + 1, strlen(*e + n + 1));
	unsetenv(name);
}

/*
 * argv and the environment into o (its strings in m or argv).  -1 to go
 * on, or the exit status (usage, --help, --version, an error).
 */
/*
 * lr_conn_resolve's errors in the agent's own words, as it always said
 * them (the CLI keeps the shared wording): a bad prefix is "invalid etcd
 * prefix 'P'" (P without its trailing '/'), an unreadable password file
 * "cannot read the etcd password file 'F': why".
 */
static void
agent_conn_error(const char *f_prefix, struct lr_err *err)
{
	static const char unread[] = "cannot read '";
	const char *p;
	size_t n;

	if (err->code == LR_EINVAL) {
		p = f_prefix != NULL && *f_prefix != '\0' ? f_prefix :
		    getenv("LEURA_ETCD_PREFIX");
		if (p == NULL)
			p = "";
		n = strlen(p);
		while (n > 1 && p[n - 1] == '/')
			n--;
		lr_err_set(err, LR_EINVAL, "invalid etcd prefix '%.*s'",
		    (int)n, p);
	} else if ((err->code == LR_EIO || err->code == LR_ENOENT) &&
	    strncmp(err->msg, unread, sizeof(unread) - 1) == 0) {
		char why[sizeof(err->msg)];

		snprintf(why, sizeof(why), "%s",
		    err->msg + sizeof(unread) - 2);
		lr_err_set(err, LR_EIO, "cannot read the etcd password file "
		    "%s", why);
	}
}

/* --etcd-max-request-bytes: -1 when good, else the exit status. */
static int
max_request_parse(const char *arg, size_t *out)
{
	unsigned long long n;
	char *end;

	errno = 0;
	n = strtoull(arg, &end, 10);
	if (errno || end == arg || *end != '\0' || *arg == '-' ||
	    n < AGENT_SYNC_REQUEST_MIN || n > ETCD_MAX_REQUEST_BYTES) {
		fprintf(stderr, "leura-agent: error: invalid "
		    "--etcd-max-request-bytes '%s'\nhint: etcd's "
		    "--max-request-bytes, from %d to %d (etcd's default)\n",
		    arg, AGENT_SYNC_REQUEST_MIN, ETCD_MAX_REQUEST_BYTES);
		return EXIT_USAGE;
	}
	*out = (size_t)n;
	return -1;
}

#define STEP_LOG_MIN	(16 * 1024)
#define STEP_LOG_TOP	(64 * 1024 * 1024)	/* half of it is memory */

/*
 * --step-log-max: bytes, or with K or M (KiB, MiB); -1 when good, else the
 * exit status.
 */
static int
step_log_parse(const char *arg, size_t *out)
{
	unsigned long long n, unit = 1;
	char *end;

	errno = 0;
	n = strtoull(arg, &end, 10);
	if (end != arg && (*end == 'K' || *end == 'k'))
		unit = 1024;
	else if (end != arg && (*end == 'M' || *end == 'm'))
		unit = 1024 * 1024;
	if (unit > 1)
		end++;
	if (errno || end == arg || *end != '\0' || *arg == '-' ||
	    n > STEP_LOG_TOP / unit || n * unit < STEP_LOG_MIN) {
		fprintf(stderr, "leura-agent: error: invalid --step-log-max "
		    "'%s'\nhint: the most a step's log keeps, from 16K to "
		    "64M (default 1M)\n", arg);
		return EXIT_USAGE;
	}
	*out = (size_t)(n * unit);
	return -1;
}

/* --run-parallel: 1 to 64; -1 when good, else the exit status. */
static int
run_parallel_parse(const char *arg, size_t *out)
{
	unsigned long n;
	char *end;

	errno = 0;
	n = strtoul(arg, &end, 10);
	if (errno || end == arg || *end != '\0' || *arg == '-' || n < 1 ||
	    n > 64) {
		fprintf(stderr, "leura-agent: error: invalid --run-parallel "
		    "'%s'\nhint: how many task-run steps may run at once, "
		    "from 1 to 64 (default 4)\n", arg);
		return EXIT_USAGE;
	}
	*out = (size_t)n;
	return -1;
}

static int
opts_parse(int argc, char **argv, struct agent_opts *o, struct opts_mem *m)
{
	static const struct option longopts[] = {
		{ "host", required_argument, NULL, 'H' },
		{ "etcd", required_argument, NULL, 'e' },
		{ "prefix", required_argument, NULL, 'p' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "etcd-cacert", required_argument, NULL, 'A' },
		{ "etcd-cert", required_argument, NULL, 'C' },
		{ "etcd-key", required_argument, NULL, 'K' },
		{ "etcd-user", required_argument, NULL, 'U' },
		{ "etcd-password-file", required_argument, NULL, 'P' },
		{ "etcd-max-request-bytes", required_argument, NULL, 'M' },
		{ "once", no_argument, NULL, 'o' },
		{ "drift-interval", required_argument, NULL, 'd' },
		{ "step-log-max", required_argument, NULL, 'L' },
		{ "run-parallel", required_argument, NULL, 'R' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "fleet-key", required_argument, NULL, 'F' },
		{ "insecure-unsigned", no_argument, NULL, 'I' },
		{ NULL, 0, NULL, 0 }
	};
	const char *f_etcd = NULL, *f_prefix = NULL, *f_cacert = NULL;
	const char *f_cert = NULL, *f_key = NULL, *f_user = NULL;
	const char *f_pwfile = NULL, *f_fleet = NULL;
	struct lr_conn_settings flags = { 0 };
	struct lr_err err;
	bool insecure = false;
	int c, rc, verbose = 0;

	lr_err_clear(&err);
	while ((c = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'H': o->host = optarg; break;
		case 'e': f_etcd = optarg; break;
		case 'p': f_prefix = optarg; break;
		case 's': free(m->state_dir); m->state_dir = lr_xstrdup(optarg);
			break;
		case 'A': f_cacert = optarg; break;
		case 'C': f_cert = optarg; break;
		case 'K': f_key = optarg; break;
		case 'U': f_user = optarg; break;
		case 'P': f_pwfile = optarg; break;
		case 'M':
			if ((rc = max_request_parse(optarg,
			    &o->max_request_bytes)) >= 0)
				return rc;
			break;
		case 'L':
			if ((rc = step_log_parse(optarg,
			    &o->step_log_max)) >= 0)
				return rc;
			break;
		case 'R':
			if ((rc = run_parallel_parse(optarg,
			    &o->run_parallel)) >= 0)
				return rc;
			break;
		case 'o': o->once = true; break;
		case 'F': f_fleet = optarg; break;
		case 'I': insecure = true; break;
		case 'd':
			if (lr_duration_parse(optarg,
			    &o->drift_interval_ms) < 0) {
				fprintf(stderr, "leura-agent: error: invalid "
				    "--drift-interval '%s'\nhint: a duration "
				    "like 30s, 15m or 1h\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'v': verbose++; break;
		case 'h': usage(stdout); return 0;
		case 'V':
			printf("leura-agent %s (%s)\n", LEURA_VERSION,
			    LEURA_COMMIT);
			return 0;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind != argc || o->host == NULL) {
		if (o->host == NULL)
			fprintf(stderr, "leura-agent: error: --host is "
			    "required\nhint: the host's name in the "
			    "inventory, e.g. --host web1\n");
		else
			fprintf(stderr, "leura-agent: error: unexpected "
			    "argument '%s'\n", argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!host_valid(o->host)) {
		fprintf(stderr, "leura-agent: error: invalid host name '%s'\n"
		    "hint: inventory host names use letters, digits, '-', "
		    "'_' and '.'\n", o->host);
		return EXIT_USAGE;
	}
	lr_log_set_level(LR_LOG_NOTICE + verbose);
	if ((rc = fleet_keys(f_fleet, insecure, m)) >= 0)
		return rc;
	o->keys = m->keys;

	flags.endpoints = f_etcd;
	flags.prefix = f_prefix;
	flags.cacert = f_cacert;
	flags.cert = f_cert;
	flags.key = f_key;
	flags.user = f_user;
	flags.password_file = f_pwfile;
	rc = lr_conn_resolve(&flags, NULL, &m->conn, &err);
	/* steps inherit the environment: not the agent's etcd password */
	env_wipe("LEURA_ETCD_PASSWORD");
	if (rc == 0 && strcmp(m->conn.prefix, "/") == 0)
		rc = lr_err_set(&err, LR_EINVAL, "invalid etcd prefix '/'");
	else if (rc < 0)
		agent_conn_error(f_prefix, &err);
	if (rc < 0) {
		if (rc == LR_EINVAL)
			lr_err_hint(&err, "a path like /leura (the same as "
			    "leura apply's)");
		else if (rc == LR_EAUTH)
			lr_err_hint(&err, "set LEURA_ETCD_PASSWORD or "
			    "--etcd-password-file");
		lr_err_print(&err);
		return rc == LR_EINVAL ? EXIT_USAGE : 1;
	}
	o->prefix = m->conn.prefix;
	o->etcd.endpoints = m->conn.endpoints;
	o->etcd.cacert = m->conn.cacert;
	o->etcd.cert = m->conn.cert;
	o->etcd.key = m->conn.key;
	o->etcd.user = m->conn.user;
	o->etcd.password = m->conn.password;
	if (m->state_dir == NULL)
		m->state_dir = default_state_dir(o->host);
	o->state_dir = m->state_dir;
	return -1;
}

int
main(int argc, char **argv)
{
	struct agent_opts o;
	struct opts_mem m = { 0 };
	struct agent *a;
	struct lr_err err;
	uv_loop_t loop;
	int code;

	/* the run_as trampoline: nothing else of the agent runs there */
	if (argc > 1 && strcmp(argv[1], "--exec-as") == 0)
		return agent_step_exec_as_main(argc - 2, argv + 2);

	memset(&o, 0, sizeof(o));
	lr_err_clear(&err);
	lr_progname = "leura-agent";
	if ((code = opts_parse(argc, argv, &o, &m)) >= 0) {
		opts_mem_release(&m);
		return code;
	}
	signal(SIGPIPE, SIG_IGN);
	/* one malloc arena: the pool's rare work needs none of its own */
	mallopt(M_ARENA_MAX, 1);
	uv_loop_init(&loop);
	if (agent_new(&loop, &o, argv[0], &a, &err) < 0) {
		lr_err_print(&err);
		code = 1;
	} else {
		code = agent_run(a);
		agent_free(a);
	}
	if (uv_loop_close(&loop) != 0)
		lr_log_warn("the event loop still had handles at exit");
	opts_mem_release(&m);
	curl_global_cleanup();
	return code;
}
