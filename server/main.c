/*
 * leurad: Leura's server (leurad(8), docs/server.md).
 *
 *   leurad [--etcd URL[,URL...]] [--etcd-cacert F] [--etcd-cert F]
 *          [--etcd-key F] [--etcd-user U] [--etcd-password-file F]
 *          [--prefix P] [--listen HOST:PORT] [--tls-cert F --tls-key F
 *          [--tls-ca F]] [--insecure-no-tls] [--data-dir D]
 *          [--signing-key F] [--admin-password-file F]
 *          [--metrics-anonymous] [--max-body BYTES]
 *          [--request-timeout DURATION] [--max-connections N] [-v]
 *          [--source PATH|URL [--source-branch B]
 *          [--source-token-file F] [--source-ssh-key F]
 *          [--webhook-secret-file F]] [--leader-ttl SECONDS]
 *   leurad --list-routes
 *
 * The etcd settings follow leura's chain (flags, LEURA_ETCD*, the client
 * configuration file, the defaults: rec_config_conn).  This file turns
 * argv into struct srv, calls every module's init and routes, runs the
 * one libuv loop until SIGTERM/SIGINT, then stops: no new requests, the
 * running ones answered (at most 10 s), connections closed.
 * --list-routes prints the router's table ("METHOD PATTERN" a line) and
 * exits, touching nothing: for operators, and for the test that holds
 * docs/api/openapi.yaml to it.
 */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#define LR_LOG_COMPONENT "leurad"
#include "clock.h"
#include "config.h"
#include "cron.h"
#include "diag.h"
#include "file.h"
#include "leura_commit.h"
#include "auth.h"
#include "log.h"
#include "logs.h"
#include "read.h"
#include "run.h"
#include "sign.h"
#include "source.h"
#include "tasks.h"
#include "srv-int.h"
#include "xalloc.h"

#define EXIT_USAGE	64
#define STOP_GRACE_MS	10000

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: leurad [--etcd URL[,URL...]] [--etcd-cacert FILE] "
	    "[--etcd-cert FILE]\n"
	    "              [--etcd-key FILE] [--etcd-user USER] "
	    "[--etcd-password-file FILE]\n"
	    "              [--prefix P] [--listen HOST:PORT]\n"
	    "              [--tls-cert FILE --tls-key FILE [--tls-ca FILE]] "
	    "[--insecure-no-tls]\n"
	    "              [--data-dir DIR] [--signing-key FILE] "
	    "[--admin-password-file FILE]\n"
	    "              [--metrics-anonymous] [--max-body BYTES] "
	    "[--request-timeout DURATION]\n"
	    "              [--max-connections N] [-v]\n"
	    "              [--source PATH|URL [--source-branch BRANCH] "
	    "[--source-token-file FILE]\n"
	    "              [--source-ssh-key FILE] "
	    "[--webhook-secret-file FILE]] [--leader-ttl SECONDS]\n"
	    "              [--log-retention DURATION] [--log-max-bytes BYTES]\n"
	    "       leurad --list-routes\n");
}

enum {
	O_ETCD = 0x100, O_CACERT, O_CERT, O_KEY, O_USER, O_PWFILE, O_PREFIX,
	O_LISTEN, O_TLS_CERT, O_TLS_KEY, O_TLS_CA, O_INSECURE, O_DATA_DIR,
	O_SIGNING_KEY, O_ADMIN_PW, O_METRICS_ANON, O_MAX_BODY, O_REQ_TIMEOUT,
	O_MAX_CONNS, O_VERSION, O_SOURCE, O_SOURCE_BRANCH, O_SOURCE_TOKEN,
	O_SOURCE_SSH_KEY, O_WEBHOOK_SECRET, O_LEADER_TTL, O_LIST_ROUTES,
	O_LOG_RETENTION, O_LOG_MAX_BYTES
};

static const struct option longopts[] = {
	{ "etcd", required_argument, NULL, O_ETCD },
	{ "etcd-cacert", required_argument, NULL, O_CACERT },
	{ "etcd-cert", required_argument, NULL, O_CERT },
	{ "etcd-key", required_argument, NULL, O_KEY },
	{ "etcd-user", required_argument, NULL, O_USER },
	{ "etcd-password-file", required_argument, NULL, O_PWFILE },
	{ "prefix", required_argument, NULL, O_PREFIX },
	{ "listen", required_argument, NULL, O_LISTEN },
	{ "tls-cert", required_argument, NULL, O_TLS_CERT },
	{ "tls-key", required_argument, NULL, O_TLS_KEY },
	{ "tls-ca", required_argument, NULL, O_TLS_CA },
	{ "insecure-no-tls", no_argument, NULL, O_INSECURE },
	{ "data-dir", required_argument, NULL, O_DATA_DIR },
	{ "signing-key", required_argument, NULL, O_SIGNING_KEY },
	{ "admin-password-file", required_argument, NULL, O_ADMIN_PW },
	{ "metrics-anonymous", no_argument, NULL, O_METRICS_ANON },
	{ "max-body", required_argument, NULL, O_MAX_BODY },
	{ "request-timeout", required_argument, NULL, O_REQ_TIMEOUT },
	{ "max-connections", required_argument, NULL, O_MAX_CONNS },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, O_VERSION },
	{ "source", required_argument, NULL, O_SOURCE },
	{ "source-branch", required_argument, NULL, O_SOURCE_BRANCH },
	{ "source-token-file", required_argument, NULL, O_SOURCE_TOKEN },
	{ "source-ssh-key", required_argument, NULL, O_SOURCE_SSH_KEY },
	{ "webhook-secret-file", required_argument, NULL, O_WEBHOOK_SECRET },
	{ "leader-ttl", required_argument, NULL, O_LEADER_TTL },
	{ "list-routes", no_argument, NULL, O_LIST_ROUTES },
	{ "log-retention", required_argument, NULL, O_LOG_RETENTION },
	{ "log-max-bytes", required_argument, NULL, O_LOG_MAX_BYTES },
	{ NULL, 0, NULL, 0 }
};

struct args {
	struct lr_conn_settings flags;
	const char *listen, *data_dir, *signing_key, *admin_pw;
	bool	 insecure;
	bool	 list_routes;
	int	 verbose;
	struct srv_opts opts;
	struct src_config source;	/* source.h */
	int	 leader_ttl;		/* seconds */
	struct lg_opts logs;		/* logs.h */
};

/* HOST:PORT or [V6]:PORT into o; false when it is neither. */
static bool
parse_listen(const char *v, struct srv_opts *o)
{
	const char *c = strrchr(v, ':');
	char *end;
	long port;
	size_t hl;

	if (c == NULL || c == v)
		return false;
	port = strtol(c + 1, &end, 10);
	if (*end != '\0' || c[1] == '\0' || port < 0 || port > 65535)
		return false;
	hl = (size_t)(c - v);
	if (v[0] == '[' && hl > 2 && v[hl - 1] == ']') {
		v++;
		hl -= 2;
	}
	free(o->host);
	o->host = lr_xstrndup(v, hl);	/* o's */
	o->port = (int)port;
	return true;
}

static bool
is_loopback(const char *h)
{
	return strcmp(h, "localhost") == 0 || strcmp(h, "::1") == 0 ||
	    strncmp(h, "127.", 4) == 0;
}

/* A count: digits, optional K, M or G (binary).  false when not. */
static bool
parse_size(const char *v, size_t *out)
{
	char *end;
	unsigned long long n;

	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno || end == v || *v == '-')
		return false;
	if (*end == 'K' || *end == 'k')
		n <<= 10, end++;
	else if (*end == 'M' || *end == 'm')
		n <<= 20, end++;
	else if (*end == 'G' || *end == 'g')
		n <<= 30, end++;
	if (*end != '\0' || n == 0)
		return false;
	*out = (size_t)n;
	return true;
}

static int
bad_value(const char *opt, const char *v, const char *hint)
{
	fprintf(stderr, "leurad: error: invalid %s '%s'\nhint: %s\n", opt, v,
	    hint);
	return EXIT_USAGE;
}

/* argv into a; -1 to go on, else the exit status. */
static int
parse_args(int argc, char **argv, struct args *a)
{
	long ms;
	size_t n;
	int c;

	while ((c = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
		switch (c) {
		case O_ETCD: a->flags.endpoints = optarg; break;
		case O_CACERT: a->flags.cacert = optarg; break;
		case O_CERT: a->flags.cert = optarg; break;
		case O_KEY: a->flags.key = optarg; break;
		case O_USER: a->flags.user = optarg; break;
		case O_PWFILE: a->flags.password_file = optarg; break;
		case O_PREFIX: a->flags.prefix = optarg; break;
		case O_LISTEN:
			if (!parse_listen(optarg, &a->opts))
				return bad_value("--listen", optarg,
				    "HOST:PORT, e.g. 127.0.0.1:7480");
			break;
		case O_TLS_CERT:
			free(a->opts.tls_cert);
			a->opts.tls_cert = lr_xstrdup(optarg);
			break;
		case O_TLS_KEY:
			free(a->opts.tls_key);
			a->opts.tls_key = lr_xstrdup(optarg);
			break;
		case O_TLS_CA:
			free(a->opts.tls_ca);
			a->opts.tls_ca = lr_xstrdup(optarg);
			break;
		case O_INSECURE: a->insecure = true; break;
		case O_LIST_ROUTES: a->list_routes = true; break;
		case O_DATA_DIR: a->data_dir = optarg; break;
		case O_SIGNING_KEY: a->signing_key = optarg; break;
		case O_ADMIN_PW: a->admin_pw = optarg; break;
		case O_METRICS_ANON: a->opts.metrics_anonymous = true; break;
		case O_MAX_BODY:
			if (!parse_size(optarg, &a->opts.max_body))
				return bad_value("--max-body", optarg,
				    "a size in bytes, e.g. 1048576 or 1M");
			break;
		case O_REQ_TIMEOUT:
			if (lr_duration_parse(optarg, &ms) < 0 || ms < 1000)
				return bad_value("--request-timeout", optarg,
				    "a duration of 1s or more, e.g. 30s");
			a->opts.request_timeout = (unsigned)(ms / 1000);
			break;
		case O_MAX_CONNS:
			if (!parse_size(optarg, &n) || n > 1000000)
				return bad_value("--max-connections", optarg,
				    "a number from 1 to 1000000");
			a->opts.max_connections = (unsigned)n;
			break;
		case O_SOURCE: a->source.source = optarg; break;
		case O_SOURCE_BRANCH: a->source.branch = optarg; break;
		case O_SOURCE_TOKEN: a->source.token_file = optarg; break;
		case O_SOURCE_SSH_KEY: a->source.ssh_key = optarg; break;
		case O_WEBHOOK_SECRET: a->source.secret_file = optarg; break;
		case O_LEADER_TTL:
			if (lr_duration_parse(optarg, &ms) < 0 || ms < 2000 ||
			    ms > 3600000)
				return bad_value("--leader-ttl", optarg,
				    "seconds from 2 to 3600, e.g. 5");
			a->leader_ttl = (int)(ms / 1000);
			break;
		case O_LOG_RETENTION:
			if (lr_duration_parse(optarg, &ms) < 0 || ms < 1000)
				return bad_value("--log-retention", optarg,
				    "a duration of at least a second, e.g. "
				    "30d or 720h");
			a->logs.retention_s = ms / 1000;
			break;
		case O_LOG_MAX_BYTES:
			if (!parse_size(optarg, &n))
				return bad_value("--log-max-bytes", optarg,
				    "bytes, with K, M or G, e.g. 10G");
			a->logs.max_bytes = n;
			break;
		case 'v': a->verbose++; break;
		case 'h': usage(stdout); return 0;
		case O_VERSION:
			printf("leurad %s (%s)\n", LEURA_VERSION, LEURA_COMMIT);
			return 0;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if ((a->opts.tls_cert == NULL) != (a->opts.tls_key == NULL) ||
	    (a->opts.tls_ca != NULL && a->opts.tls_cert == NULL)) {
		fprintf(stderr, "leurad: error: --tls-cert and --tls-key go "
		    "together (and --tls-ca needs them)\nhint: give the "
		    "server's certificate and its key, both PEM files\n");
		return EXIT_USAGE;
	}
	if (a->opts.tls_cert == NULL && !is_loopback(a->opts.host) &&
	    !a->insecure) {
		fprintf(stderr, "leurad: error: refusing to listen on '%s' "
		    "without TLS: passwords and tokens would cross the "
		    "network in clear\nhint: give --tls-cert and --tls-key, "
		    "listen on 127.0.0.1 behind a TLS proxy, or pass "
		    "--insecure-no-tls\n", a->opts.host);
		return EXIT_USAGE;
	}
	return -1;
}

/* Default data dir: /var/lib/leurad as root, else the XDG state dir. */
static char *
default_data_dir(void)
{
	const char *x;

	if (geteuid() == 0)
		return lr_xstrdup("/var/lib/leurad");
	if ((x = getenv("XDG_STATE_HOME")) != NULL && *x == '/')
		return lr_xasprintf("%s/leurad", x);
	if ((x = getenv("HOME")) != NULL && *x == '/')
		return lr_xasprintf("%s/.local/state/leurad", x);
	return lr_xasprintf("/tmp/leurad-%d", (int)geteuid());
}

static int
make_data_dir(const char *d)
{
	struct stat st;

	if (lr_mkdir_p(d, 0700) < 0 || stat(d, &st) < 0) {
		fprintf(stderr, "leurad: error: cannot create the data dir "
		    "'%s': %s\nhint: choose another with --data-dir\n", d,
		    strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "leurad: error: the data dir '%s' is not a "
		    "folder\nhint: choose another with --data-dir\n", d);
		return -1;
	}
	if ((st.st_mode & 077) != 0 && chmod(d, 0700) < 0) {
		fprintf(stderr, "leurad: error: cannot make the data dir '%s' "
		    "private (0700): %s\n", d, strerror(errno));
		return -1;
	}
	return 0;
}

/* the signals that stop leurad */
struct stopper {
	struct srv	*srv;
	uv_signal_t	 term, intr;
};

static struct stopper stopper;

/* The modules' routes (the core's are srv_init's): one line each. */
static void
modules_routes(struct srv *s)
{
	auth_routes(s);
	src_routes(s);
	ldr_routes(s);
	rd_routes(s);
	lg_routes(s);
	run_routes(s);
	tk_routes(s);
}

/* /readyz: every module has read its state. */
static bool
modules_ready(struct srv *s)
{
	return auth_ready(s) && rd_ready(s);
}

/*
 * The modules' state on the loop, freed once requests are done: when
 * leurad stops (their watches and timers keep the loop alive until then)
 * and again on the way out (a no-op after the first).
 */
static void
modules_free(struct srv *s)
{
	rd_free(s);
	auth_free(s);
}

/* --list-routes: the router's table, in the order routes were added. */
static void
list_routes(const struct srv *s)
{
	size_t i;

	for (i = 0; i < s->router->n; i++)
		printf("%s %s\n", s->router->v[i].method,
		    s->router->v[i].pattern);
}

static void
stopped(struct srv *s)
{
	uv_close((uv_handle_t *)&stopper.term, NULL);
	uv_close((uv_handle_t *)&stopper.intr, NULL);
	/* closing them restored the default: a second signal is no crash */
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	srv_http_free(s);
	modules_free(s);
	lr_log_info("stopped");
}

static void
on_signal(uv_signal_t *h, int signum)
{
	lr_log_info("signal %d: stopping (in-flight requests get %d s)",
	    signum, STOP_GRACE_MS / 1000);
	srv_http_stop(stopper.srv, STOP_GRACE_MS, stopped);
}

static int
conn_resolve(const struct args *a, struct lr_conn *out)
{
	struct spec_diags d;
	struct lr_err err;
	int rc;

	lr_err_clear(&err);
	spec_diags_init(&d);
	if ((rc = rec_config_conn(&a->flags, NULL, out, &d, &err)) < 0) {
		if (d.nerrors)
			spec_diags_print(&d, stderr, 20);
		else {
			if (rc == LR_EAUTH)
				lr_err_hint(&err, "give --etcd-password-file, "
				    "or set LEURA_ETCD_PASSWORD");
			lr_err_print(&err);
		}
	}
	spec_diags_release(&d);
	return rc;
}

static void
make_id(struct srv *s)
{
	char host[256] = "localhost";
	uint32_t r;

	gethostname(host, sizeof(host) - 1);
	srv_random(&r, sizeof(r));
	snprintf(s->id, sizeof(s->id), "%.40s:%d:%08x", host, (int)getpid(),
	    r);
}

int
main(int argc, char **argv)
{
	struct args a;
	struct srv s;
	struct lr_conn conn = { 0 };
	struct lr_err err;
	uv_loop_t loop;
	bool v6;
	int rc, ret = 1;

	lr_progname = "leurad";
	/* before libuv's thread pool starts: handlers block on etcd */
	setenv("UV_THREADPOOL_SIZE", "16", 0);
	signal(SIGPIPE, SIG_IGN);
	/*
	 * Two malloc arenas for 16 workers and the loop: an answer is made on
	 * a worker and written from the loop, and with an arena per worker
	 * glibc kept what 64 clients' answers of 165 KB had used (RssAnon
	 * 150 MiB after bench/server.sh's load, 32 MiB with two; the same
	 * req/s)
	 */
	mallopt(M_ARENA_MAX, 2);
	memset(&a, 0, sizeof(a));
	memset(&s, 0, sizeof(s));
	srv_opts_init(&a.opts);
	a.logs.retention_s = 30L * 24 * 3600;
	a.logs.max_bytes = 10ULL << 30;
	if ((rc = parse_args(argc, argv, &a)) >= 0) {
		srv_opts_release(&a.opts);
		return rc;
	}
	lr_log_set_level(LR_LOG_INFO + a.verbose);
	if (conn_resolve(&a, &conn) < 0) {
		srv_opts_release(&a.opts);
		return 1;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	uv_loop_init(&loop);
	lr_err_clear(&err);
	if (srv_init(&s, &loop, &conn, &a.opts, &err) < 0) {
		lr_err_print(&err);
		goto out;
	}
	if (a.list_routes) {
		modules_routes(&s);
		list_routes(&s);
		ret = fflush(stdout) == 0 ? 0 : 1;
		goto out;
	}
	make_id(&s);
	s.data_dir = a.data_dir != NULL ? lr_xstrdup(a.data_dir) :
	    default_data_dir();
	if (make_data_dir(s.data_dir) < 0)
		goto out;
	if (a.admin_pw != NULL)
		s.admin_password_file = lr_xstrdup(a.admin_pw);
	if (a.signing_key == NULL)
		a.signing_key = getenv("LEURA_SIGNING_KEY");
	if (a.signing_key != NULL && *a.signing_key != '\0' &&
	    lr_sign_key_load_private(a.signing_key, &s.sign_key, &err) < 0) {
		lr_err_print(&err);
		goto out;
	}
	/* the modules: one line each */
	s.retention_s = a.logs.retention_s;
	if (auth_init(&s, &err) < 0 ||
	    src_init(&s, &a.source, &err) < 0 ||
	    ldr_init(&s, a.leader_ttl ? a.leader_ttl : 5, &err) < 0 ||
	    src_start(&s, &err) < 0 ||
	    rd_init(&s, &err) < 0 ||
	    lg_init(&s, &a.logs, &err) < 0 ||
	    run_init(&s, &err) < 0 ||
	    cron_init(&s, &err) < 0) {
		lr_err_print(&err);
		goto out;
	}
	modules_routes(&s);
	s.ready = modules_ready;
	if (srv_http_start(&s, &err) < 0) {
		lr_err_print(&err);
		goto out;
	}
	stopper.srv = &s;
	uv_signal_init(&loop, &stopper.term);
	uv_signal_init(&loop, &stopper.intr);
	uv_signal_start(&stopper.term, on_signal, SIGTERM);
	uv_signal_start(&stopper.intr, on_signal, SIGINT);
	v6 = strchr(s.core->opts.host, ':') != NULL;
	lr_log_info("%s: serving %s://%s%s%s:%d/ (etcd %s, prefix %s)", s.id,
	    s.core->opts.tls_cert ? "https" : "http", v6 ? "[" : "",
	    s.core->opts.host, v6 ? "]" : "", s.core->opts.port,
	    s.conn.endpoints, s.prefix);
	uv_run(&loop, UV_RUN_DEFAULT);
	ret = 0;
out:
	srv_http_free(&s);
	modules_free(&s);
	/* what lws or the modules still hold on the loop closes now */
	uv_run(&loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&loop) != 0)
		lr_log_debug("the loop still had handles at exit");
	/* threads of their own, joined off the loop */
	cron_free(&s);		/* starts runs: before the engine stops */
	lg_free(&s);		/* its thread asks the leader too */
	run_free(&s);		/* the engine reads the source, asks the leader */
	src_free(&s);		/* its worker asks the leader: first */
	ldr_free(&s);		/* resigns: another replica leads at once */
	srv_release(&s);
	srv_opts_release(&a.opts);
	lr_conn_release(&conn);
	curl_global_cleanup();
	return ret;
}
