/*
 * leura-agent: the daemon that converges one host (leura-agent(8)).
 *
 *   leura-agent --host NAME [--etcd URL[,URL...]] [--prefix P]
 *               [--state-dir DIR] [--etcd-cacert F] [--etcd-cert F]
 *               [--etcd-key F] [--etcd-user U] [--etcd-password-file F]
 *               [--once] [--drift-interval DURATION] [-v]
 *
 * Connection settings: the flags, then LEURA_ETCD, LEURA_ETCD_PREFIX,
 * LEURA_ETCD_CACERT, LEURA_ETCD_CERT, LEURA_ETCD_KEY, LEURA_ETCD_USER,
 * LEURA_ETCD_PASSWORD (the agent reads no configuration file: it is
 * meant for a unit file or a container's environment).
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
#include "log.h"
#include "step.h"
#include "xalloc.h"

#define EXIT_USAGE	64

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: leura-agent --host NAME [--etcd URL[,URL...]] "
	    "[--prefix P] [--state-dir DIR]\n"
	    "                   [--etcd-cacert FILE] [--etcd-cert FILE] "
	    "[--etcd-key FILE]\n"
	    "                   [--etcd-user USER] [--etcd-password-file "
	    "FILE] [--once]\n"
	    "                   [--drift-interval DURATION] [-v]\n");
}

static const char *
pick(const char *flag, const char *env, const char *def)
{
	const char *v;

	if (flag != NULL && *flag)
		return flag;
	if ((v = getenv(env)) != NULL && *v)
		return v;
	return def;
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

static char *
read_secret(const char *path, struct lr_err *err)
{
	char buf[1024];
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL) {
		lr_err_set(err, LR_EIO, "cannot read the etcd password file "
		    "'%s': %s", path, strerror(errno));
		return NULL;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	return lr_xstrdup(buf);
}

/* What the options point to that is ours to free. */
struct opts_mem {
	char	*state_dir;
	char	*password;
	char	*prefix;
};

static void
opts_mem_release(struct opts_mem *m)
{
	free(m->state_dir);
	free(m->password);
	free(m->prefix);
}

/*
 * argv and the environment into o (its strings in m or argv).  -1 to go
 * on, or the exit status (usage, --help, --version, an error).
 */
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
		{ "once", no_argument, NULL, 'o' },
		{ "drift-interval", required_argument, NULL, 'd' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	const char *f_etcd = NULL, *f_prefix = NULL, *f_cacert = NULL;
	const char *f_cert = NULL, *f_key = NULL, *f_user = NULL;
	const char *f_pwfile = NULL, *pw;
	struct lr_err err;
	char *prefix;
	int c, verbose = 0;

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
		case 'o': o->once = true; break;
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
		case 'V': printf("leura-agent %s\n", LEURA_VERSION); return 0;
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

	prefix = m->prefix = lr_xstrdup(pick(f_prefix, "LEURA_ETCD_PREFIX",
	    "/leura"));
	while (strlen(prefix) > 1 && prefix[strlen(prefix) - 1] == '/')
		prefix[strlen(prefix) - 1] = '\0';
	if (prefix[0] != '/' || strcmp(prefix, "/") == 0) {
		fprintf(stderr, "leura-agent: error: invalid etcd prefix '%s'"
		    "\nhint: a path like /leura (the same as leura apply's)\n",
		    prefix);
		return EXIT_USAGE;
	}
	o->prefix = prefix;
	o->etcd.endpoints = pick(f_etcd, "LEURA_ETCD",
	    "http://127.0.0.1:2379");
	o->etcd.cacert = pick(f_cacert, "LEURA_ETCD_CACERT", NULL);
	o->etcd.cert = pick(f_cert, "LEURA_ETCD_CERT", NULL);
	o->etcd.key = pick(f_key, "LEURA_ETCD_KEY", NULL);
	o->etcd.user = pick(f_user, "LEURA_ETCD_USER", NULL);
	if ((pw = getenv("LEURA_ETCD_PASSWORD")) != NULL)
		m->password = lr_xstrdup(pw);
	/* steps inherit the environment: not the agent's etcd password */
	unsetenv("LEURA_ETCD_PASSWORD");
	if (f_pwfile) {
		free(m->password);
		if ((m->password = read_secret(f_pwfile, &err)) == NULL) {
			lr_err_print(&err);
			return 1;
		}
	}
	o->etcd.password = m->password;
	if (o->etcd.user && (o->etcd.password == NULL ||
	    *o->etcd.password == '\0')) {
		fprintf(stderr, "leura-agent: error: etcd user '%s' has no "
		    "password\nhint: set LEURA_ETCD_PASSWORD or "
		    "--etcd-password-file\n", o->etcd.user);
		return 1;
	}
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
