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
 * Lifetime: open (and lock) the state dir, take the desired state cached
 * there and enforce it at once, connect to etcd in the background, run the
 * loop until SIGTERM/SIGINT (or, with --once, until one run is done).
 * Stopping aborts the running step (its process group gets SIGTERM, then
 * SIGKILL), sends the last report, revokes the heartbeat and exits 0.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include <curl/curl.h>

#define LR_LOG_COMPONENT "agent"
#include "agent.h"
#include "clock.h"
#include "log.h"
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

/* Create the folders that lead to path (0755), like mkdir -p. */
static void
mkdir_parents(const char *path)
{
	char *p = lr_xstrdup(path), *q;

	for (q = p + 1; (q = strchr(q, '/')) != NULL; q++) {
		*q = '\0';
		(void)mkdir(p, 0755);
		*q = '/';
	}
	free(p);
}

/* ---- stopping ---- */

static void
closed_cb(uv_handle_t *h)
{
	(void)h;
}

void
agent_stop(struct agent *a, int code)
{
	if (!a->stopping) {
		a->stopping = true;
		a->exit_code = code;
		lr_log_notice("stopping");
	}
	if (agent_run_abort(a))
		return;		/* the step's end calls again */
	if (a->closing)
		return;
	a->closing = 1;
	uv_timer_stop(&a->t_drift);
	uv_close((uv_handle_t *)&a->t_drift, closed_cb);
	uv_close((uv_handle_t *)&a->sig_term, closed_cb);
	uv_close((uv_handle_t *)&a->sig_int, closed_cb);
	uv_close((uv_handle_t *)&a->sig_hup, closed_cb);
	agent_sync_stop(a);
	/* t_sync and t_facts serve the last report; closed after the loop */
	uv_unref((uv_handle_t *)&a->t_sync);
	uv_unref((uv_handle_t *)&a->t_facts);
}

static void
signal_cb(uv_signal_t *s, int signum)
{
	struct agent *a = s->data;

	if (signum == SIGHUP) {
		/* an operator's "converge now" */
		lr_log_notice("SIGHUP received: converging again");
		agent_converge(a);
		return;
	}
	lr_log_notice("%s received", signum == SIGTERM ? "SIGTERM" :
	    "SIGINT");
	agent_stop(a, 0);
}

/* ---- start ---- */

static int
load_cache(struct agent *a)
{
	struct lr_err err;
	json_t *cur, *run, *recs;
	const char *id;

	if (agent_store_desired_load(a->store, &cur, &err) < 0) {
		lr_log_warn("%s; starting without a cached desired state",
		    err.msg);
		cur = NULL;
	}
	if (cur && (!json_is_object(json_object_get(cur, "doc")) ||
	    !json_is_string(json_object_get(cur, "key")))) {
		lr_log_warn("%s/desired.json is not a desired state; ignored",
		    agent_store_dir(a->store));
		json_decref(cur);
		cur = NULL;
	}
	if (cur && !json_is_array(json_object_get(cur, "turndown")))
		json_object_set_new(cur, "turndown", json_array());
	a->cur = cur;
	if ((run = agent_store_running_take(a->store)) != NULL) {
		id = json_string_value(json_object_get(run, "id"));
		if (id) {
			lr_log_warn("step '%s' was interrupted (the agent "
			    "stopped while it ran); it runs again", id);
			a->interrupted = lr_xstrdup(id);
			recs = agent_store_records(a->store);
			/* keep a pending trigger: the step must run again */
			if (!json_is_true(json_object_get(json_object_get(recs,
			    id), "triggered")))
				json_object_del(recs, id);
			if (agent_store_records_save(a->store, &err) < 0)
				lr_log_error("%s", err.msg);
		}
		json_decref(run);
	}
	return 0;
}

static char *
self_exe(const char *argv0)
{
	char buf[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);

	if (n <= 0)
		return lr_xstrdup(argv0);
	buf[n] = '\0';
	return lr_xstrdup(buf);
}

int
main(int argc, char **argv)
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
	char *state_dir = NULL, *pwbuf = NULL, *prefix = NULL;
	struct agent a;
	struct lr_err err;
	uv_loop_t loop;
	int c, verbose = 0, code;

	/* the run_as trampoline: nothing else of the agent runs there */
	if (argc > 1 && strcmp(argv[1], "--exec-as") == 0)
		return agent_step_exec_as_main(argc - 2, argv + 2);

	memset(&a, 0, sizeof(a));
	lr_err_clear(&err);
	lr_progname = "leura-agent";
	while ((c = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'H': a.o.host = optarg; break;
		case 'e': f_etcd = optarg; break;
		case 'p': f_prefix = optarg; break;
		case 's': free(state_dir); state_dir = lr_xstrdup(optarg);
			break;
		case 'A': f_cacert = optarg; break;
		case 'C': f_cert = optarg; break;
		case 'K': f_key = optarg; break;
		case 'U': f_user = optarg; break;
		case 'P': f_pwfile = optarg; break;
		case 'o': a.o.once = true; break;
		case 'd':
			if (lr_duration_parse(optarg,
			    &a.o.drift_interval_ms) < 0) {
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
	if (optind != argc || a.o.host == NULL) {
		if (a.o.host == NULL)
			fprintf(stderr, "leura-agent: error: --host is "
			    "required\nhint: the host's name in the "
			    "inventory, e.g. --host web1\n");
		else
			fprintf(stderr, "leura-agent: error: unexpected "
			    "argument '%s'\n", argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!host_valid(a.o.host)) {
		fprintf(stderr, "leura-agent: error: invalid host name '%s'\n"
		    "hint: inventory host names use letters, digits, '-', "
		    "'_' and '.'\n", a.o.host);
		return EXIT_USAGE;
	}
	lr_log_set_level(LR_LOG_NOTICE + verbose);

	prefix = lr_xstrdup(pick(f_prefix, "LEURA_ETCD_PREFIX", "/leura"));
	while (strlen(prefix) > 1 && prefix[strlen(prefix) - 1] == '/')
		prefix[strlen(prefix) - 1] = '\0';
	if (prefix[0] != '/' || strcmp(prefix, "/") == 0) {
		fprintf(stderr, "leura-agent: error: invalid etcd prefix '%s'"
		    "\nhint: a path like /leura (the same as leura apply's)\n",
		    prefix);
		free(prefix);
		return EXIT_USAGE;
	}
	a.o.prefix = prefix;
	a.o.etcd.endpoints = pick(f_etcd, "LEURA_ETCD",
	    "http://127.0.0.1:2379");
	a.o.etcd.cacert = pick(f_cacert, "LEURA_ETCD_CACERT", NULL);
	a.o.etcd.cert = pick(f_cert, "LEURA_ETCD_CERT", NULL);
	a.o.etcd.key = pick(f_key, "LEURA_ETCD_KEY", NULL);
	a.o.etcd.user = pick(f_user, "LEURA_ETCD_USER", NULL);
	if ((pw = getenv("LEURA_ETCD_PASSWORD")) != NULL)
		pwbuf = lr_xstrdup(pw);
	/* steps inherit the environment: not the agent's etcd password */
	unsetenv("LEURA_ETCD_PASSWORD");
	if (f_pwfile) {
		free(pwbuf);
		if ((pwbuf = read_secret(f_pwfile, &err)) == NULL) {
			lr_err_print(&err);
			free(prefix);
			return 1;
		}
	}
	a.o.etcd.password = pwbuf;
	if (a.o.etcd.user && (a.o.etcd.password == NULL ||
	    *a.o.etcd.password == '\0')) {
		fprintf(stderr, "leura-agent: error: etcd user '%s' has no "
		    "password\nhint: set LEURA_ETCD_PASSWORD or "
		    "--etcd-password-file\n", a.o.etcd.user);
		free(pwbuf);
		free(prefix);
		return 1;
	}
	if (state_dir == NULL)
		state_dir = default_state_dir(a.o.host);
	a.o.state_dir = state_dir;

	signal(SIGPIPE, SIG_IGN);
	/* one malloc arena: the pool's rare work needs none of its own */
	mallopt(M_ARENA_MAX, 1);
	mkdir_parents(state_dir);
	if (agent_store_open(state_dir, &a.store, &err) < 0) {
		lr_err_print(&err);
		free(state_dir);
		free(pwbuf);
		free(prefix);
		return 1;
	}
	uv_loop_init(&loop);
	a.loop = &loop;
	a.self_exe = self_exe(argv[0]);
	a.started_unix = (int64_t)time(NULL);
	srandom((unsigned)getpid() ^ (unsigned)a.started_unix);	/* jitter */
	a.last_ok = -1;
	a.docs = json_object();
	a.report = json_object();
	a.k_head = lr_xasprintf("%s/desired/head", a.o.prefix);
	a.k_docs = lr_xasprintf("%s/desired/hosts/%s/", a.o.prefix, a.o.host);
	a.k_files = lr_xasprintf("%s/desired/files/", a.o.prefix);
	a.k_observed = lr_xasprintf("%s/observed/%s", a.o.prefix, a.o.host);
	a.k_results = lr_xasprintf("%s/results/%s", a.o.prefix, a.o.host);
	a.k_agent = lr_xasprintf("%s/agents/%s", a.o.prefix, a.o.host);
	a.k_obs_dir = lr_xasprintf("%s/observed/", a.o.prefix);
	uv_timer_init(&loop, &a.t_sync);
	uv_timer_init(&loop, &a.t_facts);
	uv_timer_init(&loop, &a.t_drift);
	a.t_sync.data = a.t_facts.data = a.t_drift.data = &a;
	uv_signal_init(&loop, &a.sig_term);
	uv_signal_init(&loop, &a.sig_int);
	uv_signal_init(&loop, &a.sig_hup);
	a.sig_term.data = a.sig_int.data = a.sig_hup.data = &a;
	uv_signal_start(&a.sig_term, signal_cb, SIGTERM);
	uv_signal_start(&a.sig_int, signal_cb, SIGINT);
	uv_signal_start(&a.sig_hup, signal_cb, SIGHUP);

	load_cache(&a);
	lr_log_notice("leura-agent %s for host %s: etcd %s, prefix %s, state "
	    "in %s%s", LEURA_VERSION, a.o.host, a.o.etcd.endpoints,
	    a.o.prefix, state_dir, a.cur ? " (with a cached desired state)" :
	    "");
	if (agent_sync_start(&a, &err) < 0) {
		lr_err_print(&err);
		a.exit_code = 1;
		agent_stop(&a, 1);
	} else if (a.cur && !a.o.once) {
		/* enforce what we last knew, while etcd is asked */
		agent_converge(&a);
	}
	uv_run(&loop, UV_RUN_DEFAULT);

	uv_close((uv_handle_t *)&a.t_sync, closed_cb);
	uv_close((uv_handle_t *)&a.t_facts, closed_cb);
	uv_run(&loop, UV_RUN_DEFAULT);
	code = a.exit_code;
	if (uv_loop_close(&loop) != 0)
		lr_log_warn("the event loop still had handles at exit");
	agent_store_close(a.store);
	json_decref(a.cur);
	json_decref(a.docs);
	json_decref(a.report);
	json_decref(a.results);
	json_decref(a.observed);
	free(a.fetching);
	free(a.interrupted);
	free(a.k_head);
	free(a.k_docs);
	free(a.k_files);
	free(a.k_observed);
	free(a.k_results);
	free(a.k_agent);
	free(a.k_obs_dir);
	free(a.self_exe);
	free(state_dir);
	free(pwbuf);
	free(prefix);
	curl_global_cleanup();
	return code;
}
