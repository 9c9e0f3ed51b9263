/*
 * The real `leura` binary ($LEURA) against real etcd members (the harness,
 * etcd_harness.h) when things go wrong: etcd unreachable, wrong
 * credentials, TLS mistakes, a member down, two applies at once, a no-op
 * apply, an older commit, uncommitted edits, a file too big for etcd, a
 * bad config file, a held apply lock.  Each case asserts the exit status
 * and the key words of the message, since the message is what the user
 * gets.
 *
 * Children are run with fork+exec (no shell), stdout and stderr in files
 * under the test's temp dir, each bounded by a timeout and SIGKILLed past
 * it.  Repos are made from $LEURA_SRC/examples/basic with `git` children.
 * Cases that need no special etcd flags share one single-member etcd and
 * use their own key prefix (LEURA_ETCD_PREFIX).  No etcd binary, or no
 * $LEURA: exit 77 (skip).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "clock.h"
#include "etcd.h"
#include "etcd_harness.h"
#include "file.h"
#include "sign.h"
#include "xalloc.h"

#define CHILD_TIMEOUT_MS	30000	/* any one child; killed past it */
#define MAX_ARGS		32
#define MAX_ENV			64

static const char *leura_bin, *leura_src;
static char tdir[256];		/* temp dir of the whole run */
static char shared_repo[320];	/* examples/basic, committed, never edited */
static struct th_etcd shared;	/* one plain member for most cases */
static int nrun;		/* numbers the output files */

/* A finished child. */
struct res {
	int	 status;	/* exit code; 128+N killed by N; -1 timed out */
	char	*out, *err;	/* whole stdout and stderr, NUL-terminated */
	char	 cmd[1024];	/* argv joined, for messages */
	char	 outp[300], errp[300];
};

/* ---- helpers ---------------------------------------------------------- */

static char *
slurp(const char *path)
{
	FILE *fp;
	char *buf;
	long n;

	if ((fp = fopen(path, "rb")) == NULL)
		return lr_xstrdup("");
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	buf = lr_xmalloc((size_t)(n > 0 ? n : 0) + 1);
	n = (long)fread(buf, 1, (size_t)(n > 0 ? n : 0), fp);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

static void
write_file(const char *path, const char *s, size_t len)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(s, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

/* Replace the first from with to in the file at path (must be there). */
static void
edit_file(const char *path, const char *from, const char *to)
{
	char *s = slurp(path), *p, *n;

	p = strstr(s, from);
	if (p == NULL) {
		free(s);
		fail_msg("'%s' lacks '%s'", path, from);
	}
	n = lr_xasprintf("%.*s%s%s", (int)(p - s), s, to, p + strlen(from));
	write_file(path, n, strlen(n));
	free(n);
	free(s);
}

/* edit_file on repo/rel. */
static void
edit_repo(const char *repo, const char *rel, const char *from, const char *to)
{
	char *path = lr_xasprintf("%s/%s", repo, rel);

	edit_file(path, from, to);
	free(path);
}

/* A loopback port nobody listens on (bound, then closed). */
static int
closed_port(void)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd, port;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

/* ---- children --------------------------------------------------------- */

/*
 * envp for a child: extra ("K=V", NULL-terminated, may be NULL) first so
 * it wins, then a fixed base; nothing else of ours leaks in (no LEURA_*,
 * no XDG_CONFIG_HOME).
 */
static char **
make_env(const char *const *extra)
{
	static const char *pass[] = { "PATH", "TMPDIR", "ASAN_OPTIONS",
		"UBSAN_OPTIONS", "LSAN_OPTIONS" };
	char **env = lr_xcalloc(MAX_ENV, sizeof(*env));
	const char *v;
	size_t n = 0, k;

	for (k = 0; extra && extra[k] && n < MAX_ENV - 16; k++)
		env[n++] = lr_xstrdup(extra[k]);
	for (k = 0; k < sizeof(pass) / sizeof(pass[0]); k++)
		if ((v = getenv(pass[k])) != NULL)
			env[n++] = lr_xasprintf("%s=%s", pass[k], v);
	env[n++] = lr_xasprintf("HOME=%s", tdir);
	env[n++] = lr_xstrdup("LC_ALL=C");
	env[n++] = lr_xstrdup("GIT_AUTHOR_NAME=Test Author");
	env[n++] = lr_xstrdup("GIT_AUTHOR_EMAIL=author@example.invalid");
	env[n++] = lr_xstrdup("GIT_COMMITTER_NAME=Test Committer");
	env[n++] = lr_xstrdup("GIT_COMMITTER_EMAIL=committer@example.invalid");
	env[n++] = lr_xstrdup("GIT_CONFIG_NOSYSTEM=1");
	env[n++] = lr_xstrdup("LEURA_USER=tester@ci");
	env[n] = NULL;
	return env;
}

static void
free_strv(char **v)
{
	size_t k;

	for (k = 0; v[k]; k++)
		free(v[k]);
	free(v);
}

/* Start argv (searched on PATH) with env; stdout/stderr to r's files. */
static pid_t
start(struct res *r, const char *const *env, char *const *argv)
{
	char **envp = make_env(env);
	pid_t parent = getpid(), pid;
	size_t k, len = 0;
	int fd, seq = ++nrun;

	memset(r, 0, sizeof(*r));
	r->status = -1;
	for (k = 0; argv[k] && len < sizeof(r->cmd) - 1; k++)
		len += (size_t)snprintf(r->cmd + len, sizeof(r->cmd) - len,
		    "%s%s", k ? " " : "", argv[k]);
	snprintf(r->outp, sizeof(r->outp), "%s/run%03d.out", tdir, seq);
	snprintf(r->errp, sizeof(r->errp), "%s/run%03d.err", tdir, seq);
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) < 0) {
		free_strv(envp);
		fail_msg("fork: %s", strerror(errno));
	}
	if (pid == 0) {
		/* nothing outlives the test */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		if ((fd = open("/dev/null", O_RDONLY)) >= 0)
			dup2(fd, 0);
		if ((fd = open(r->outp, O_WRONLY | O_CREAT | O_TRUNC,
		    0644)) >= 0)
			dup2(fd, 1);
		if ((fd = open(r->errp, O_WRONLY | O_CREAT | O_TRUNC,
		    0644)) >= 0)
			dup2(fd, 2);
		execvpe(argv[0], argv, envp);
		dprintf(2, "exec '%s': %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	free_strv(envp);
	return pid;
}

/* Wait for pid at most timeout_ms, else SIGKILL; fill r. */
static void
finish(struct res *r, pid_t pid, long timeout_ms)
{
	long deadline = lr_now_ms() + timeout_ms;
	pid_t w;
	int st;

	for (;;) {
		w = waitpid(pid, &st, WNOHANG);
		if (w == pid)
			break;
		if (w < 0 && errno != EINTR) {
			st = -1;
			break;
		}
		if (lr_now_ms() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			st = -1;
			break;
		}
		lr_sleep_ms(5);
	}
	if (st == -1)
		r->status = -1;
	else if (WIFEXITED(st))
		r->status = WEXITSTATUS(st);
	else if (WIFSIGNALED(st))
		r->status = 128 + WTERMSIG(st);
	r->out = slurp(r->outp);
	r->err = slurp(r->errp);
}

static void
res_release(struct res *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}

/* argv from NULL-terminated varargs after first (first included). */
static void
collect_args(char **argv, const char *first, va_list ap)
{
	const char *a;
	size_t n = 0;

	argv[n++] = (char *)first;
	while ((a = va_arg(ap, const char *)) != NULL && n < MAX_ARGS - 1)
		argv[n++] = (char *)a;
	argv[n] = NULL;
}

/* Start `leura ARGS...` (NULL-terminated) without waiting. */
static pid_t
leura_start(struct res *r, const char *const *env, ...)
{
	char *argv[MAX_ARGS];
	va_list ap;
	pid_t pid;

	va_start(ap, env);
	collect_args(argv, leura_bin, ap);
	va_end(ap);
	pid = start(r, env, argv);
	return pid;
}

/* Run `leura ARGS...` (NULL-terminated) to the end. */
static void
leura(struct res *r, const char *const *env, ...)
{
	char *argv[MAX_ARGS];
	va_list ap;

	va_start(ap, env);
	collect_args(argv, leura_bin, ap);
	va_end(ap);
	finish(r, start(r, env, argv), CHILD_TIMEOUT_MS);
}

static void
dump(const struct res *r)
{
	fprintf(stderr, "--- '%s' exited %d%s\n", r->cmd, r->status,
	    r->status == -1 ? " (timed out, killed)" : "");
	fprintf(stderr, "--- stdout (%s):\n%.3000s%s\n", r->outp,
	    r->out ? r->out : "", r->out && strlen(r->out) > 3000 ?
	    "\n[...]" : "");
	fprintf(stderr, "--- stderr (%s):\n%.3000s\n", r->errp,
	    r->err ? r->err : "");
}

static void
expect_exit_at(struct res *r, int want, const char *file, int line)
{
	if (r->status == want)
		return;
	dump(r);
	print_error("'%s' exited %d, expected %d\n", r->cmd, r->status, want);
	res_release(r);		/* _fail does not come back */
	_fail(file, line);
}

static void
expect_in_at(struct res *r, bool err, const char *s, bool want,
    const char *file, int line)
{
	const char *text = err ? r->err : r->out;

	if ((strstr(text, s) != NULL) == want)
		return;
	dump(r);
	print_error("%s of '%s' %s: %s\n", err ? "stderr" : "stdout", r->cmd,
	    want ? "lacks" : "unexpectedly has", s);
	res_release(r);
	_fail(file, line);
}

#define EXPECT_EXIT(r, want)	expect_exit_at(r, want, __FILE__, __LINE__)
/* leura status once applied, no agent running: every host unknown */
#define STATUS_NO_AGENTS	3
#define EXPECT_ERR(r, s)	expect_in_at(r, true, s, true, __FILE__, \
				    __LINE__)
#define EXPECT_OUT(r, s)	expect_in_at(r, false, s, true, __FILE__, \
				    __LINE__)
#define EXPECT_NOT_ERR(r, s)	expect_in_at(r, true, s, false, __FILE__, \
				    __LINE__)

/* Run a tool (git, cp) that must succeed; its stdout, owned. */
static char *
tool(const char *first, ...)
{
	char *argv[MAX_ARGS], *out;
	struct res r;
	va_list ap;

	va_start(ap, first);
	collect_args(argv, first, ap);
	va_end(ap);
	finish(&r, start(&r, NULL, argv), CHILD_TIMEOUT_MS);
	EXPECT_EXIT(&r, 0);
	out = r.out;
	free(r.err);
	return out;
}

/* dir/name: examples/basic committed on branch main; the path in out. */
static void
new_repo(const char *name, char *out, size_t outsz)
{
	char *src;

	snprintf(out, outsz, "%s/%s", tdir, name);
	src = lr_xasprintf("%s/examples/basic", leura_src);
	free(tool("cp", "-R", src, out, NULL));
	free(src);
	free(tool("git", "-C", out, "init", "-q", "-b", "main", NULL));
	free(tool("git", "-C", out, "add", "-A", NULL));
	free(tool("git", "-C", out, "commit", "-q", "-m", "init", NULL));
}

static void
commit_all(const char *repo, const char *msg)
{
	free(tool("git", "-C", repo, "add", "-A", NULL));
	free(tool("git", "-C", repo, "commit", "-q", "-m", msg, NULL));
}

/* HEAD's full id into id[41]. */
static void
head_id(const char *repo, char *id)
{
	char *out = tool("git", "-C", repo, "rev-parse", "HEAD", NULL);

	assert_true(strlen(out) >= 40);
	memcpy(id, out, 40);
	id[40] = '\0';
	free(out);
}

/* ---- etcd seen from the test (lib/etcd.h, not through leura) ---------- */

static struct etcd *
client(const char *endpoints)
{
	struct etcd_config cfg = { .endpoints = endpoints };
	struct etcd *e = NULL;
	struct lr_err err;

	lr_err_clear(&err);
	if (etcd_new(&cfg, &e, &err) < 0)
		fail_msg("etcd_new: %s", err.msg);
	return e;
}

/* etcd's store revision now (a count-only read of prefix). */
static int64_t
store_rev(const char *endpoints, const char *prefix)
{
	struct etcd_range_result r = { 0 };
	struct etcd_range_req q = { 0 };
	struct etcd *e = client(endpoints);
	struct lr_err err;
	int64_t rev;
	int rc;

	lr_err_clear(&err);
	q.key = prefix;
	q.flags = ETCD_PREFIX | ETCD_COUNT_ONLY;
	rc = etcd_range(e, &q, &r, &err);
	rev = r.revision;
	etcd_range_result_release(&r);
	etcd_free(e);
	if (rc < 0)
		fail_msg("etcd range '%s': %s", prefix, err.msg);
	return rev;
}

/* Whether key exists. */
static bool
key_exists(const char *endpoints, const char *key)
{
	struct etcd_kv kv = { 0 };
	struct etcd *e = client(endpoints);
	struct lr_err err;
	int64_t rev;
	int rc;

	lr_err_clear(&err);
	rc = etcd_get(e, key, &kv, &rev, &err);
	etcd_kv_release(&kv);
	etcd_free(e);
	if (rc < 0 && rc != LR_ENOENT)
		fail_msg("etcd get '%s': %s", key, err.msg);
	return rc == 0;
}

/* `leura history --json` under env: the array (new reference). */
static json_t *
history(const char *const *env)
{
	json_error_t je;
	struct res r;
	json_t *j;

	leura(&r, env, "history", "--json", NULL);
	EXPECT_EXIT(&r, 0);
	j = json_loads(r.out, 0, &je);
	if (!json_is_array(j)) {
		dump(&r);
		json_decref(j);
		res_release(&r);
		fail_msg("history --json is not an array");
	}
	res_release(&r);
	return j;
}

/* env for the shared etcd with a prefix of our own. */
#define SHARED_ENV(name, prefix)					\
	char name##_etcd[600], name##_prefix[128];			\
	const char *name[] = { name##_etcd, name##_prefix, NULL };	\
	snprintf(name##_etcd, sizeof(name##_etcd), "LEURA_ETCD=%s",	\
	    shared.endpoints);						\
	snprintf(name##_prefix, sizeof(name##_prefix),			\
	    "LEURA_ETCD_PREFIX=%s", prefix)

/* ---- per-case etcd (setup/teardown keep it from leaking on failure) --- */

static int
setup_auth(void **state)
{
	struct th_etcd *h = lr_xcalloc(1, sizeof(*h));

	*state = h;
	return th_etcd_start(h, 1, TH_AUTH) == 0 ? 0 : -1;
}

static int
setup_tls(void **state)
{
	struct th_etcd *h = lr_xcalloc(1, sizeof(*h));

	*state = h;
	return th_etcd_start(h, 1, TH_TLS | TH_CLIENT_CERT) == 0 ? 0 : -1;
}

static int
setup_three(void **state)
{
	struct th_etcd *h = lr_xcalloc(1, sizeof(*h));

	*state = h;
	return th_etcd_start(h, 3, 0) == 0 ? 0 : -1;
}

static int
teardown_etcd(void **state)
{
	struct th_etcd *h = *state;

	if (h) {
		th_etcd_stop(h);
		free(h);
	}
	*state = NULL;
	return 0;
}

/* ---- the cases -------------------------------------------------------- */

/* 1. nothing listens: both endpoints named, with a hint */
static void
test_cli_faults__unreachable(void **state)
{
	char ep[160], env0[200], a[32], b[32];
	const char *env[] = { env0, "LEURA_ETCD_PREFIX=/t1", NULL };
	const char *cmds[] = { "apply", "status", "plan", "history" };
	struct res r;
	size_t k;
	long t0;

	snprintf(a, sizeof(a), "127.0.0.1:%d", closed_port());
	snprintf(b, sizeof(b), "127.0.0.1:%d", closed_port());
	snprintf(ep, sizeof(ep), "http://%s,http://%s", a, b);
	snprintf(env0, sizeof(env0), "LEURA_ETCD=%s", ep);
	for (k = 0; k < sizeof(cmds) / sizeof(cmds[0]); k++) {
		t0 = lr_now_ms();
		leura(&r, env, "-C", shared_repo, cmds[k], NULL);
		EXPECT_EXIT(&r, 1);
		EXPECT_ERR(&r, "leura: error: cannot reach etcd");
		EXPECT_ERR(&r, a);
		EXPECT_ERR(&r, b);
		EXPECT_ERR(&r, "hint: ");
		EXPECT_ERR(&r, "LEURA_ETCD");
		/* refused connections fail fast, not after timeouts */
		if (lr_now_ms() - t0 > 10000) {
			dump(&r);
			fail_msg("'%s' took %ld ms against closed ports", r.cmd,
			    lr_now_ms() - t0);
		}
		res_release(&r);
	}
}

/* 2. authentication on: right, wrong, missing password; no user */
static void
test_cli_faults__auth(void **state)
{
	struct th_etcd *h = *state;
	char ep[600];
	const char *ok[] = { ep, "LEURA_ETCD_USER=root",
		"LEURA_ETCD_PASSWORD=rootpw", NULL };
	const char *bad[] = { ep, "LEURA_ETCD_USER=root",
		"LEURA_ETCD_PASSWORD=wrongpw", NULL };
	const char *nopw[] = { ep, "LEURA_ETCD_USER=root", NULL };
	const char *nouser[] = { ep, NULL };
	struct res r;

	snprintf(ep, sizeof(ep), "LEURA_ETCD=%s", h->endpoints);
	leura(&r, ok, "-C", shared_repo, "apply", "--no-diff", NULL);
	EXPECT_EXIT(&r, 0);
	EXPECT_OUT(&r, "Applied deploy #1");
	res_release(&r);
	leura(&r, ok, "status", NULL);
	EXPECT_EXIT(&r, STATUS_NO_AGENTS);
	EXPECT_OUT(&r, "Deploy #1");
	res_release(&r);

	leura(&r, bad, "-C", shared_repo, "apply", NULL);
	EXPECT_EXIT(&r, 1);
	EXPECT_ERR(&r, "leura: error: ");
	EXPECT_ERR(&r, "authentication failed");
	EXPECT_ERR(&r, "hint: check the etcd user name and password");
	EXPECT_NOT_ERR(&r, "wrongpw");	/* never echo the password */
	res_release(&r);

	leura(&r, nopw, "-C", shared_repo, "apply", NULL);
	EXPECT_EXIT(&r, 1);
	EXPECT_ERR(&r, "etcd user 'root' has no password");
	EXPECT_ERR(&r, "hint: ");
	EXPECT_ERR(&r, "LEURA_ETCD_PASSWORD");
	res_release(&r);

	leura(&r, nouser, "status", NULL);
	EXPECT_EXIT(&r, 1);
	EXPECT_ERR(&r, "leura: error: ");
	EXPECT_ERR(&r, "hint: etcd has authentication enabled");
	res_release(&r);
}

/* 3. TLS with client certificates: right files, no CA, wrong CA, no cert */
static void
test_cli_faults__tls(void **state)
{
	struct th_etcd *h = *state;
	char ca[400], cert[400], key[400], ep[600], http[128], missing[400];
	const char *envtls[] = { ep, ca, cert, key, NULL };
	struct res r;

	snprintf(ep, sizeof(ep), "LEURA_ETCD=%s", h->endpoints);
	snprintf(ca, sizeof(ca), "LEURA_ETCD_CACERT=%s", h->cacert);
	snprintf(cert, sizeof(cert), "LEURA_ETCD_CERT=%s", h->cert);
	snprintf(key, sizeof(key), "LEURA_ETCD_KEY=%s", h->key);

	/* per-command flags */
	leura(&r, NULL, "-C", shared_repo, "apply", "--no-diff", "--etcd",
	    h->endpoints, "--etcd-cacert", h->cacert, "--etcd-cert", h->cert,
	    "--etcd-key", h->key, NULL);
	EXPECT_EXIT(&r, 0);
	EXPECT_OUT(&r, "Applied deploy #1");
	res_release(&r);
	/* global flags, "=" form */
	{
		char o1[700], o2[400], o3[400], o4[400];

		snprintf(o1, sizeof(o1), "--etcd=%s", h->endpoints);
		snprintf(o2, sizeof(o2), "--etcd-cacert=%s", h->cacert);
		snprintf(o3, sizeof(o3), "--etcd-cert=%s", h->cert);
		snprintf(o4, sizeof(o4), "--etcd-key=%s", h->key);
		leura(&r, NULL, o1, o2, o3, o4, "status", NULL);
		EXPECT_EXIT(&r, STATUS_NO_AGENTS);
		EXPECT_OUT(&r, "Deploy #1");
		res_release(&r);
	}
	/* the variables */
	leura(&r, envtls, "history", NULL);
	EXPECT_EXIT(&r, 0);
	EXPECT_OUT(&r, "#1");
	res_release(&r);

	/* no CA: the system's CAs do not know the test CA */
	leura(&r, NULL, "-C", shared_repo, "apply", "--etcd", h->endpoints,
	    "--etcd-cert", h->cert, "--etcd-key", h->key, NULL);
	EXPECT_EXIT(&r, 1);
	EXPECT_ERR(&r, "leura: error: ");
	EXPECT_ERR(&r, "TLS failed");
	EXPECT_ERR(&r, "certificate");
	EXPECT_ERR(&r, "hint: ");
	EXPECT_ERR(&r, "--etcd-cacert");
	res_release(&r);
	leura(&r, NULL, "status", "--etcd", h->endpoints, "--etcd-cert",
	    h->cert, "--etcd-key", h->key, NULL);
	EXPECT_EXIT(&r, 1);
	EXPECT_ERR(&r, "TLS failed");
	EXPECT_ERR(&r, "--etcd-cacert");
	res_release(&r);

	/* a CA that did not sign etcd's certificate */
	leura(&r, NULL, "status", "--etcd", h->endpoints, "--etcd-cacert",
	    h->othercacert, "--etcd-cert", h->cert, "--etcd-key", h->key,
	    NULL);
	EXPECT_EXIT(&r, 1);
	EXPECT_ERR(&r, "TLS failed");
	EXPECT_ERR(&r, "certificate");
	EXPECT_ERR(&r, "--etcd-cacert");
	res_release(&r);

	/* the CA file is not there */
	snprintf(missing, sizeof(missing), "%s/no-such-ca.crt", tdir);
	leura(&r, NULL, "status", "--etcd", h->endpoints, "--etcd-cacert",
	    missing, "--etcd-cert", h->cert, "--etcd-key", h->key, NULL);
	EXPECT_EXIT(&r, 1);
	EXPECT_ERR(&r, "leura: error: ");
	EXPECT_ERR(&r, missing);
	EXPECT_ERR(&r, "hint: ");
	EXPECT_ERR(&r, "--etcd-cacert");
	res_release(&r);

	/* no client certificate: etcd wants one */
	leura(&r, NULL, "-C", shared_repo, "apply", "--etcd", h->endpoints,
	    "--etcd-cacert", h->cacert, NULL);
	EXPECT_EXIT(&r, 1);
	EXPECT_ERR(&r, "leura: error: ");
	EXPECT_ERR(&r, "TLS");
	EXPECT_ERR(&r, "hint: ");
	EXPECT_ERR(&r, "--etcd-cert");
	res_release(&r);

	/* a certificate without its key */
	leura(&r, NULL, "status", "--etcd", h->endpoints, "--etcd-cacert",
	    h->cacert, "--etcd-cert", h->cert, NULL);
	EXPECT_EXIT(&r, 1);
	EXPECT_ERR(&r, "--etcd-key");
	res_release(&r);

	/* http:// to an https member */
	snprintf(http, sizeof(http), "http://127.0.0.1:%d",
	    h->m[0].client_port);
	leura(&r, NULL, "status", "--etcd", http, NULL);
	EXPECT_EXIT(&r, 1);
	EXPECT_ERR(&r, "leura: error: ");
	EXPECT_ERR(&r, "https");
	res_release(&r);
}

/* Wait until member i serves linearizable reads (a leader exists). */
static void
wait_leader(struct th_etcd *h, int i)
{
	long deadline = lr_now_ms() + 10000, st = 0;
	char *ans;

	while (lr_now_ms() < deadline) {
		ans = th_etcd_post(h, i, "/v3/kv/range", "{\"key\":\"AA==\"}",
		    &st);
		free(ans);
		if (st == 200)
			return;
		lr_sleep_ms(20);
	}
	fail_msg("member %d has no leader after 10 s", i);
}

/* 4. three members, one down: the client moves on to the next endpoint */
static void
test_cli_faults__member_down(void **state)
{
	struct th_etcd *h = *state;
	char ep[600], repo[320];
	const char *env[] = { ep, "LEURA_ETCD_PREFIX=/t4", NULL };
	struct res r;

	snprintf(ep, sizeof(ep), "LEURA_ETCD=%s", h->endpoints);
	new_repo("r4", repo, sizeof(repo));
	/* member 0, the first endpoint, is down */
	assert_int_equal(th_etcd_stop_member(h, 0, false), 0);
	wait_leader(h, 1);
	leura(&r, env, "-C", repo, "apply", "--no-diff", NULL);
	EXPECT_EXIT(&r, 0);
	EXPECT_OUT(&r, "Applied deploy #1");
	res_release(&r);
	leura(&r, env, "-C", repo, "plan", "--detailed-exitcode", NULL);
	EXPECT_EXIT(&r, 0);
	res_release(&r);
	leura(&r, env, "status", NULL);
	EXPECT_EXIT(&r, STATUS_NO_AGENTS);
	EXPECT_OUT(&r, "Deploy #1");
	res_release(&r);

	/* member 0 back, member 1 down: still one down, quorum kept */
	assert_int_equal(th_etcd_restart_member(h, 0), 0);
	assert_int_equal(th_etcd_stop_member(h, 1, true), 0);
	wait_leader(h, 0);
	/* a change goes through with member 1 down */
	edit_repo(repo, "services.yml", "workers: 4", "workers: 5");
	commit_all(repo, "five workers");
	leura(&r, env, "-C", repo, "apply", NULL);
	EXPECT_EXIT(&r, 0);
	EXPECT_OUT(&r, "Applied deploy #2");
	res_release(&r);
	leura(&r, env, "-C", repo, "plan", "--detailed-exitcode", NULL);
	EXPECT_EXIT(&r, 0);
	res_release(&r);
}

/* 5. two applies of one plan at once: one lands, the other is refused */
static void
test_cli_faults__concurrent(void **state)
{
	SHARED_ENV(env, "/t5");
	char repo[320], revs[32];
	struct res r, a, b;
	json_error_t je;
	json_t *j, *hist;
	json_int_t rev;
	pid_t pa, pb;
	struct res *won, *lost;

	new_repo("r5", repo, sizeof(repo));
	leura(&r, env, "-C", repo, "apply", "--no-diff", NULL);
	EXPECT_EXIT(&r, 0);
	res_release(&r);
	edit_repo(repo, "services.yml", "workers: 4", "workers: 6");
	commit_all(repo, "six workers");

	leura(&r, env, "-C", repo, "plan", "--json", NULL);
	EXPECT_EXIT(&r, 0);
	j = json_loads(r.out, 0, &je);
	rev = json_integer_value(json_object_get(json_object_get(j, "from"),
	    "revision"));
	json_decref(j);
	if (rev <= 0) {
		dump(&r);
		fail_msg("plan --json has no from.revision");
	}
	res_release(&r);
	snprintf(revs, sizeof(revs), "%lld", (long long)rev);

	pa = leura_start(&a, env, "-C", repo, "apply", "--expect-revision",
	    revs, NULL);
	pb = leura_start(&b, env, "-C", repo, "apply", "--expect-revision",
	    revs, NULL);
	finish(&a, pa, CHILD_TIMEOUT_MS);
	finish(&b, pb, CHILD_TIMEOUT_MS);
	if (!((a.status == 0 && b.status == 1) ||
	    (a.status == 1 && b.status == 0))) {
		dump(&a);
		dump(&b);
		fail_msg("two applies of one plan: exit %d and %d, expected "
		    "one 0 and one 1", a.status, b.status);
	}
	won = a.status == 0 ? &a : &b;
	lost = a.status == 0 ? &b : &a;
	EXPECT_OUT(won, "Applied deploy #2");
	EXPECT_ERR(lost, "leura: error: desired state changed since your "
	    "plan");
	EXPECT_ERR(lost, "hint: run plan again");
	res_release(&a);
	res_release(&b);

	hist = history(env);
	assert_int_equal(json_array_size(hist), 2);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(
	    hist, 0), "deploy")), 2);
	json_decref(hist);
	/* and the lock is free again */
	assert_false(key_exists(shared.endpoints, "/t5/locks/apply"));
}

/* Leases etcd holds now (harness's raw HTTP, not the client under test). */
static size_t
count_leases(struct th_etcd *h)
{
	json_t *j;
	char *ans;
	size_t n;
	long st;

	ans = th_etcd_post(h, 0, "/v3/lease/leases", "{}", &st);
	if (ans == NULL || st != 200) {
		free(ans);
		fail_msg("lease list: HTTP %ld", st);
	}
	j = json_loads(ans, 0, NULL);
	free(ans);
	n = json_array_size(json_object_get(j, "leases"));
	json_decref(j);
	return n;
}

/*
 * 5b. the same, with both applies surely past their plan: the test holds
 * the apply lock until both wait for it (each has granted its lock
 * lease), then frees it.  The second to get the lock must lose the
 * compare of its first transaction and write nothing.
 */
static void
test_cli_faults__concurrent_locked(void **state)
{
	SHARED_ENV(env, "/t5b");
	static const char holder[] = "{\"by\":\"test@ci\",\"at\":"
	    "\"2024-05-01T10:00:00Z\",\"pid\":1}";
	char repo[320], revs[32];
	struct res r, a, b, *won, *lost;
	struct etcd *e;
	struct lr_err err;
	json_t *j, *hist;
	json_int_t rev;
	int64_t lease = 0, wrev;
	size_t base;
	long deadline;
	pid_t pa, pb;

	new_repo("r5b", repo, sizeof(repo));
	leura(&r, env, "-C", repo, "apply", "--no-diff", NULL);
	EXPECT_EXIT(&r, 0);
	res_release(&r);
	edit_repo(repo, "services.yml", "workers: 4", "workers: 9");
	commit_all(repo, "nine workers");
	leura(&r, env, "-C", repo, "plan", "--json", NULL);
	EXPECT_EXIT(&r, 0);
	j = json_loads(r.out, 0, NULL);
	rev = json_integer_value(json_object_get(json_object_get(j, "from"),
	    "revision"));
	json_decref(j);
	res_release(&r);
	assert_true(rev > 0);
	snprintf(revs, sizeof(revs), "%lld", (long long)rev);

	e = client(shared.endpoints);
	lr_err_clear(&err);
	if (etcd_lease_grant(e, 60, &lease, &err) < 0 ||
	    etcd_put(e, "/t5b/locks/apply", holder, strlen(holder), lease,
	    &wrev, &err) < 0) {
		etcd_free(e);
		fail_msg("cannot take the lock: %s", err.msg);
	}
	base = count_leases(&shared);
	pa = leura_start(&a, env, "-C", repo, "apply", "--no-diff",
	    "--expect-revision", revs, NULL);
	pb = leura_start(&b, env, "-C", repo, "apply", "--no-diff",
	    "--expect-revision", revs, NULL);
	deadline = lr_now_ms() + 15000;
	while (count_leases(&shared) < base + 2 && lr_now_ms() < deadline)
		lr_sleep_ms(20);
	if (count_leases(&shared) < base + 2) {
		/* one of them did not get to the lock: see why */
		kill(pa, SIGKILL);
		kill(pb, SIGKILL);
		finish(&a, pa, 1000);
		finish(&b, pb, 1000);
		dump(&a);
		dump(&b);
		etcd_free(e);
		fail_msg("both applies should wait for the lock");
	}
	if (etcd_lease_revoke(e, lease, &err) < 0) {
		etcd_free(e);
		fail_msg("revoke: %s", err.msg);
	}
	etcd_free(e);
	finish(&a, pa, CHILD_TIMEOUT_MS);
	finish(&b, pb, CHILD_TIMEOUT_MS);
	if (!((a.status == 0 && b.status == 1) ||
	    (a.status == 1 && b.status == 0))) {
		dump(&a);
		dump(&b);
		fail_msg("two applies of one plan: exit %d and %d, expected "
		    "one 0 and one 1", a.status, b.status);
	}
	won = a.status == 0 ? &a : &b;
	lost = a.status == 0 ? &b : &a;
	EXPECT_OUT(won, "Applied deploy #2");
	/* lost the compare: names the apply that landed */
	EXPECT_ERR(lost, "leura: error: desired state changed since your "
	    "plan (applied by tester@ci");
	EXPECT_ERR(lost, "deploy #2");
	EXPECT_ERR(lost, "hint: run plan again");
	res_release(&a);
	res_release(&b);

	hist = history(env);
	assert_int_equal(json_array_size(hist), 2);
	json_decref(hist);
	assert_false(key_exists(shared.endpoints, "/t5b/locks/apply"));
	/* the loser left nothing behind: a plan of HEAD finds no change */
	leura(&r, env, "-C", repo, "plan", "--detailed-exitcode", NULL);
	EXPECT_EXIT(&r, 0);
	res_release(&r);
}

/* 6. an apply with nothing to do writes nothing */
static void
test_cli_faults__noop(void **state)
{
	SHARED_ENV(env, "/t6");
	struct res r;
	int64_t rev0, rev1;
	json_t *hist;

	leura(&r, env, "-C", shared_repo, "apply", "--no-diff", NULL);
	EXPECT_EXIT(&r, 0);
	EXPECT_OUT(&r, "Applied deploy #1");
	res_release(&r);
	rev0 = store_rev(shared.endpoints, "/t6/");
	leura(&r, env, "-C", shared_repo, "apply", NULL);
	EXPECT_EXIT(&r, 0);
	EXPECT_OUT(&r, "No changes");
	EXPECT_OUT(&r, "nothing written");
	res_release(&r);
	rev1 = store_rev(shared.endpoints, "/t6/");
	assert_int_equal(rev1, rev0);
	hist = history(env);
	assert_int_equal(json_array_size(hist), 1);
	json_decref(hist);
}

/* 7. an older commit is refused unless --rollback */
static void
test_cli_faults__ancestry(void **state)
{
	SHARED_ENV(env, "/t7");
	char repo[320], a[41], b[41], a12[13], b12[13];
	struct res r;
	json_t *hist, *d;

	new_repo("r7", repo, sizeof(repo));
	head_id(repo, a);
	leura(&r, env, "-C", repo, "apply", "--no-diff", NULL);
	EXPECT_EXIT(&r, 0);
	res_release(&r);
	edit_repo(repo, "services.yml", "workers: 4", "workers: 7");
	commit_all(repo, "seven workers");
	head_id(repo, b);
	leura(&r, env, "-C", repo, "apply", "--no-diff", NULL);
	EXPECT_EXIT(&r, 0);
	EXPECT_OUT(&r, "Applied deploy #2");
	res_release(&r);

	snprintf(a12, sizeof(a12), "%.12s", a);
	snprintf(b12, sizeof(b12), "%.12s", b);
	leura(&r, env, "-C", repo, "apply", "--ref", a, NULL);
	EXPECT_EXIT(&r, 1);
	EXPECT_ERR(&r, "leura: error: ");
	EXPECT_ERR(&r, "does not descend");
	EXPECT_ERR(&r, a12);
	EXPECT_ERR(&r, b12);
	EXPECT_ERR(&r, "hint: ");
	EXPECT_ERR(&r, "--rollback");
	res_release(&r);

	leura(&r, env, "-C", repo, "apply", "--ref", a, "--rollback", NULL);
	EXPECT_EXIT(&r, 0);
	EXPECT_OUT(&r, "Applied deploy #3");
	res_release(&r);
	hist = history(env);
	assert_int_equal(json_array_size(hist), 3);
	d = json_array_get(hist, 0);
	assert_int_equal(json_integer_value(json_object_get(d, "deploy")), 3);
	assert_string_equal(json_string_value(json_object_get(d, "commit")),
	    a);
	assert_true(json_is_true(json_object_get(d, "rollback")));
	assert_false(json_is_true(json_object_get(json_array_get(hist, 1),
	    "rollback")));
	json_decref(hist);
	leura(&r, env, "history", NULL);
	EXPECT_EXIT(&r, 0);
	EXPECT_OUT(&r, "(rollback)");
	res_release(&r);
}

/*
 * 7b. documents an apply wrote and never committed (it died between its
 * txns, or lost the head's compare) are gone when the next apply commits.
 * The next apply skips their generation, so such a document sits below
 * the new head: had it stayed until the clean-up after the commit, an
 * agent whose host the new apply left alone would take it as the
 * document in force (the greatest generation <= the head), run what was
 * never deployed, and refuse its real document as a replay once the
 * clean-up deleted the other.  The aborted document is put by hand for
 * db1 (which the edit leaves alone) at generation 2; the apply that
 * follows commits generation 3, and at the commit's revision that key
 * must not exist any more.
 */
static void
test_cli_faults__aborted_docs(void **state)
{
	SHARED_ENV(env, "/t7b");
	static const char aborted[] = "/t7b/desired/hosts/db1/000000000002/"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	struct etcd_range_result rr = { 0 };
	struct etcd_range_req q = { 0 };
	struct etcd_kv kv = { 0 };
	char repo[320];
	struct etcd *e;
	struct lr_err err;
	struct res r;
	int64_t rev;

	(void)state;
	new_repo("r7b", repo, sizeof(repo));
	leura(&r, env, "-C", repo, "apply", "--no-diff", NULL);
	EXPECT_EXIT(&r, 0);
	res_release(&r);
	e = client(shared.endpoints);
	lr_err_clear(&err);
	if (etcd_put(e, aborted, "{}", 2, 0, NULL, &err) < 0)
		fail_msg("etcd put: %s", err.msg);
	edit_repo(repo, "services.yml", "workers: 4", "workers: 7");
	commit_all(repo, "seven workers");
	leura(&r, env, "-C", repo, "apply", "--no-diff", NULL);
	EXPECT_EXIT(&r, 0);
	EXPECT_OUT(&r, "Applied deploy #2");
	res_release(&r);
	if (etcd_get(e, "/t7b/desired/head", &kv, NULL, &err) < 0)
		fail_msg("etcd get head: %s", err.msg);
	rev = kv.mod_revision;
	etcd_kv_release(&kv);
	q.key = aborted;
	q.revision = rev;
	if (etcd_range(e, &q, &rr, &err) < 0)
		fail_msg("etcd range at %lld: %s", (long long)rev, err.msg);
	if (rr.nkvs != 0)
		fail_msg("the aborted document %s is still there at the "
		    "commit (revision %lld)", aborted, (long long)rev);
	etcd_range_result_release(&rr);
	etcd_free(e);
}

/* 8. uncommitted edits are named and left out */
static void
test_cli_faults__uncommitted(void **state)
{
	SHARED_ENV(env, "/t8");
	char repo[320], head[41], msg[64];
	struct res r;

	new_repo("r8", repo, sizeof(repo));
	head_id(repo, head);
	edit_repo(repo, "services.yml", "workers: 4", "workers: 8");
	leura(&r, env, "-C", repo, "apply", "--no-diff", NULL);
	EXPECT_EXIT(&r, 0);
	EXPECT_ERR(&r, "uncommitted");
	EXPECT_ERR(&r, "not applied");
	snprintf(msg, sizeof(msg), "commit %.12s", head);
	EXPECT_OUT(&r, msg);
	res_release(&r);
	/*
	 * HEAD is applied; plan reads HEAD too (and names the edit), and
	 * only --worktree sees the working tree differ
	 */
	leura(&r, env, "-C", repo, "plan", "--detailed-exitcode", NULL);
	EXPECT_EXIT(&r, 0);
	EXPECT_ERR(&r, "services.yml");
	EXPECT_OUT(&r, "services.yml");
	res_release(&r);
	leura(&r, env, "-C", repo, "plan", "--worktree",
	    "--detailed-exitcode", NULL);
	EXPECT_EXIT(&r, 2);
	EXPECT_OUT(&r, "workers");
	EXPECT_OUT(&r, "not deployable");
	res_release(&r);
}

/* 9. a file over etcd's request limit: refused before any write */
static void
test_cli_faults__oversized(void **state)
{
	SHARED_ENV(env, "/t9");
	static const char step[] =
	    "converge:\n"
	    "  - name: big file\n"
	    "    file:\n"
	    "      src: files/big.txt\n"
	    "      dest: \"{{ host.vars.root }}/{{ host.name }}/web/big.txt\"\n"
	    "      mode: \"0644\"\n";
	char repo[320], *big, *path;
	size_t size = 2 * 1024 * 1024, i;
	struct res r;
	int64_t rev0, rev1;
	json_t *hist;

	new_repo("r9", repo, sizeof(repo));
	leura(&r, env, "-C", repo, "apply", "--no-diff", NULL);
	EXPECT_EXIT(&r, 0);
	res_release(&r);

	/* 2 MiB of text lines */
	big = lr_xmalloc(size);
	for (i = 0; i < size; i++)
		big[i] = (i % 64 == 63) ? '\n' : (char)('a' + (i / 64) % 26);
	path = lr_xasprintf("%s/roles/web/files/big.txt", repo);
	write_file(path, big, size);
	free(path);
	free(big);
	edit_repo(repo, "roles/web/role.yml", "converge:\n", step);
	commit_all(repo, "a big file");

	rev0 = store_rev(shared.endpoints, "/t9/");
	leura(&r, env, "-C", repo, "apply", NULL);
	EXPECT_EXIT(&r, 1);
	EXPECT_ERR(&r, "leura: error: ");
	EXPECT_ERR(&r, "2097152 bytes");
	EXPECT_ERR(&r, "size limit");
	EXPECT_ERR(&r, "nothing was written");
	EXPECT_ERR(&r, "hint: ");
	EXPECT_ERR(&r, "--max-request-bytes");
	res_release(&r);
	rev1 = store_rev(shared.endpoints, "/t9/");
	assert_int_equal(rev1, rev0);
	hist = history(env);
	assert_int_equal(json_array_size(hist), 1);
	json_decref(hist);
	assert_false(key_exists(shared.endpoints, "/t9/locks/apply"));
}

/* 10. a config file with a misspelt key */
static void
test_cli_faults__bad_config(void **state)
{
	static const char bad[] =
	    "# leura client configuration\n"
	    "etcd:\n"
	    "  endpoint: [http://127.0.0.1:2379]\n";
	char path[320], cfg[400], where[400], good[900];
	const char *env[] = { cfg, NULL };
	struct res r;

	snprintf(path, sizeof(path), "%s/bad-config.yml", tdir);
	write_file(path, bad, strlen(bad));
	snprintf(cfg, sizeof(cfg), "LEURA_CONFIG=%s", path);
	snprintf(where, sizeof(where), "%s:3:3: error:", path);
	leura(&r, env, "status", NULL);
	EXPECT_EXIT(&r, 1);
	EXPECT_ERR(&r, where);
	EXPECT_ERR(&r, "'endpoint'");
	EXPECT_ERR(&r, "did you mean 'endpoints'");
	res_release(&r);
	leura(&r, env, "-C", shared_repo, "apply", NULL);
	EXPECT_EXIT(&r, 1);
	EXPECT_ERR(&r, where);
	EXPECT_ERR(&r, "did you mean 'endpoints'");
	res_release(&r);

	/* the same file spelt right works (and sets the prefix) */
	snprintf(path, sizeof(path), "%s/good-config.yml", tdir);
	snprintf(good, sizeof(good), "etcd:\n  endpoints: [%s]\n"
	    "  prefix: /t10\n", shared.endpoints);
	write_file(path, good, strlen(good));
	snprintf(cfg, sizeof(cfg), "LEURA_CONFIG=%s", path);
	leura(&r, env, "status", NULL);
	EXPECT_EXIT(&r, 0);
	EXPECT_OUT(&r, "Nothing applied yet");
	EXPECT_OUT(&r, "/t10");
	res_release(&r);
}

/*
 * 10b. the did-you-mean hint of the config file points to the page that
 * lists its keys: leura(1), FILES (the client configuration is no spec;
 * leura-spec(5), FILES is the config repo's layout)
 */
static void
test_cli_faults__bad_config_hint(void **state)
{
	static const char bad[] = "etcd:\n  endpoint: [http://127.0.0.1:1]\n";
	char path[320], cfg[400];
	const char *env[] = { cfg, NULL };
	struct res r;

	snprintf(path, sizeof(path), "%s/bad-config-hint.yml", tdir);
	write_file(path, bad, strlen(bad));
	snprintf(cfg, sizeof(cfg), "LEURA_CONFIG=%s", path);
	leura(&r, env, "history", NULL);
	EXPECT_EXIT(&r, 1);
	EXPECT_ERR(&r, "did you mean 'endpoints'");
	EXPECT_ERR(&r, "leura(1)");
	EXPECT_NOT_ERR(&r, "leura-spec(5)");
	res_release(&r);
}

/* 11. the apply lock is held by someone else, then freed */
static void
test_cli_faults__lock_held(void **state)
{
	SHARED_ENV(env, "/t11");
	static const char holder[] =
	    "{\"by\":\"someone@elsewhere\",\"at\":\"2024-05-01T10:00:00Z\","
	    "\"pid\":4242}";
	struct etcd *e = client(shared.endpoints);
	struct lr_err err;
	int64_t lease = 0, rev;
	struct res r;
	long t0, took;

	lr_err_clear(&err);
	if (etcd_lease_grant(e, 60, &lease, &err) < 0 ||
	    etcd_put(e, "/t11/locks/apply", holder, strlen(holder), lease,
	    &rev, &err) < 0) {
		etcd_free(e);
		fail_msg("cannot take the lock: %s", err.msg);
	}
	t0 = lr_now_ms();
	leura(&r, env, "-C", shared_repo, "apply", "--no-diff",
	    "--lock-timeout", "1", NULL);
	took = lr_now_ms() - t0;
	EXPECT_EXIT(&r, 1);
	EXPECT_ERR(&r, "leura: error: another apply is running");
	EXPECT_ERR(&r, "someone@elsewhere");
	EXPECT_ERR(&r, "2024-05-01T10:00:00Z");
	EXPECT_ERR(&r, "hint: ");
	res_release(&r);
	if (took > 10000) {
		etcd_free(e);
		fail_msg("--lock-timeout 1 took %ld ms", took);
	}
	/* nothing of the refused apply landed */
	leura(&r, env, "history", NULL);
	EXPECT_EXIT(&r, 0);
	EXPECT_OUT(&r, "No deploys yet");
	res_release(&r);

	if (etcd_lease_revoke(e, lease, &err) < 0) {
		etcd_free(e);
		fail_msg("revoke: %s", err.msg);
	}
	etcd_free(e);
	leura(&r, env, "-C", shared_repo, "apply", "--no-diff",
	    "--lock-timeout", "1", NULL);
	EXPECT_EXIT(&r, 0);
	EXPECT_OUT(&r, "Applied deploy #1");
	res_release(&r);
	assert_false(key_exists(shared.endpoints, "/t11/locks/apply"));
}

/* base64 of the key of deploy record n under prefix: only the commit
 * txn of deploy n writes it (owned) */
static char *
deploy_key_b64(const char *prefix, int n)
{
	char *key = lr_xasprintf("%s/source/deploys/%010d", prefix, n);
	char *b = etcd_b64_encode(key, strlen(key));

	free(key);
	return b;
}

/*
 * 12. the commit txn lands but its answer is lost (the connection drops
 * first): apply re-reads the head, finds its own apply_id and says it
 * succeeded, in text and in --json (it said "cannot reach etcd" and
 * exited 1 with the deploy live)
 */
static void
test_cli_faults__lost_answer(void **state)
{
	char ep[200], repo[320], *pat;
	const char *env[] = { ep, "LEURA_ETCD_PREFIX=/t12", NULL };
	struct th_proxy p;
	json_error_t je;
	struct res r;
	json_t *j;

	assert_int_equal(th_proxy_start(&p, shared.m[0].client_port), 0);
	snprintf(ep, sizeof(ep), "LEURA_ETCD=%s", p.url);
	new_repo("r12", repo, sizeof(repo));

	pat = deploy_key_b64("/t12", 1);
	th_proxy_drop_answer(&p, pat);
	free(pat);
	leura(&r, env, "-C", repo, "apply", "--json", NULL);
	assert_int_equal(th_proxy_dropped(&p), 1);
	EXPECT_EXIT(&r, 0);
	j = json_loads(r.out, 0, &je);
	if (j == NULL)
		dump(&r);
	assert_non_null(j);
	assert_true(json_is_true(json_object_get(j, "written")));
	assert_int_equal(json_integer_value(json_object_get(j, "deploy")), 1);
	json_decref(j);
	res_release(&r);

	edit_repo(repo, "services.yml", "workers: 4", "workers: 6");
	commit_all(repo, "six workers");
	pat = deploy_key_b64("/t12", 2);
	th_proxy_drop_answer(&p, pat);
	free(pat);
	leura(&r, env, "-C", repo, "apply", "--no-diff", NULL);
	assert_int_equal(th_proxy_dropped(&p), 2);
	EXPECT_EXIT(&r, 0);
	EXPECT_OUT(&r, "Applied deploy #2");
	EXPECT_NOT_ERR(&r, "cannot reach etcd");
	res_release(&r);
	th_proxy_stop(&p);

	/* it is live: the plan against it finds nothing to do */
	leura(&r, env + 1, "--etcd", shared.endpoints, "-C", repo, "plan",
	    "--detailed-exitcode", NULL);
	EXPECT_EXIT(&r, 0);
	res_release(&r);
}

/*
 * 13. the first endpoint accepts and never answers (a hung member, a
 * black-holed address): reads and txns time out there and are tried on
 * the next endpoint; apply, plan, status and history all succeed (apply
 * failed with "no answer in time")
 */
static void
test_cli_faults__black_hole(void **state)
{
	char ep[700], repo[320];
	const char *env[] = { ep, "LEURA_ETCD_PREFIX=/t13", NULL };
	struct th_proxy bh;
	struct res r;

	assert_int_equal(th_proxy_start(&bh, 0), 0);
	snprintf(ep, sizeof(ep), "LEURA_ETCD=%s,%s", bh.url,
	    shared.endpoints);
	new_repo("r13", repo, sizeof(repo));
	leura(&r, env, "-C", repo, "apply", "--no-diff", NULL);
	EXPECT_EXIT(&r, 0);
	EXPECT_OUT(&r, "Applied deploy #1");
	res_release(&r);
	leura(&r, env, "-C", repo, "plan", "--detailed-exitcode", NULL);
	EXPECT_EXIT(&r, 0);
	res_release(&r);
	leura(&r, env, "status", NULL);
	EXPECT_EXIT(&r, STATUS_NO_AGENTS);
	EXPECT_OUT(&r, "Deploy #1");
	res_release(&r);
	leura(&r, env, "history", NULL);
	EXPECT_EXIT(&r, 0);
	res_release(&r);
	th_proxy_stop(&bh);
}

/*
 * 14. three members, the first one hung (SIGSTOP: it keeps its sockets and
 * answers nothing): each command's first request times out there and goes
 * on to the others; applies and reads all succeed
 */
static void
test_cli_faults__member_hung(void **state)
{
	struct th_etcd *h = *state;
	char ep[600], repo[320], from[32], to[32];
	const char *env[] = { ep, "LEURA_ETCD_PREFIX=/t14", NULL };
	struct res r;
	int k;

	snprintf(ep, sizeof(ep), "LEURA_ETCD=%s", h->endpoints);
	new_repo("r14", repo, sizeof(repo));
	assert_int_equal(kill(h->m[0].pid, SIGSTOP), 0);
	wait_leader(h, 1);
	for (k = 0; k < 3; k++) {
		snprintf(from, sizeof(from), "workers: %d", 4 + k);
		snprintf(to, sizeof(to), "workers: %d", 5 + k);
		edit_repo(repo, "services.yml", from, to);
		commit_all(repo, to);
		leura(&r, env, "-C", repo, "apply", "--no-diff", NULL);
		EXPECT_EXIT(&r, 0);
		EXPECT_OUT(&r, "Applied deploy #");
		res_release(&r);
	}
	leura(&r, env, "status", NULL);
	EXPECT_EXIT(&r, STATUS_NO_AGENTS);
	EXPECT_OUT(&r, "Deploy #3");
	res_release(&r);
	kill(h->m[0].pid, SIGCONT);
}

/* ---- the run ---------------------------------------------------------- */

static int
rm_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	remove(path);
	return 0;
}

static int
group_setup(void **state)
{
	const char *tmp = getenv("TMPDIR");
	char dir[512], priv[560], pub[560];
	char id[LR_SIGN_ID_LEN + 1];
	struct lr_err err = { 0 };

	snprintf(tdir, sizeof(tdir), "%s/leura-cli-faults.XXXXXX",
	    tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(tdir) == NULL) {
		fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
		return -1;
	}
	if (th_etcd_start(&shared, 1, 0) < 0)
		return -1;
	new_repo("shared", shared_repo, sizeof(shared_repo));
	/* the fleet's key, where apply looks by default (HOME is tdir) */
	snprintf(dir, sizeof(dir), "%s/.config/leura", tdir);
	snprintf(priv, sizeof(priv), "%s/%s", dir, LR_SIGN_PRIVATE_NAME);
	snprintf(pub, sizeof(pub), "%s/%s", dir, LR_SIGN_PUBLIC_NAME);
	if (lr_mkdir_p(dir, 0700) < 0 || lr_sign_keygen(priv, pub, false, id,
	    &err) < 0) {
		fprintf(stderr, "cannot make a key pair in %s: %s\n", dir,
		    err.msg);
		return -1;
	}
	return 0;
}

static int
group_teardown(void **state)
{
	th_etcd_stop(&shared);
	if (tdir[0] && getenv("TH_KEEP") == NULL)
		nftw(tdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cli_faults__unreachable),
		cmocka_unit_test_setup_teardown(test_cli_faults__auth,
		    setup_auth, teardown_etcd),
		cmocka_unit_test_setup_teardown(test_cli_faults__tls,
		    setup_tls, teardown_etcd),
		cmocka_unit_test_setup_teardown(test_cli_faults__member_down,
		    setup_three, teardown_etcd),
		cmocka_unit_test(test_cli_faults__concurrent),
		cmocka_unit_test(test_cli_faults__concurrent_locked),
		cmocka_unit_test(test_cli_faults__noop),
		cmocka_unit_test(test_cli_faults__ancestry),
		cmocka_unit_test(test_cli_faults__aborted_docs),
		cmocka_unit_test(test_cli_faults__uncommitted),
		cmocka_unit_test(test_cli_faults__oversized),
		cmocka_unit_test(test_cli_faults__bad_config),
		cmocka_unit_test(test_cli_faults__bad_config_hint),
		cmocka_unit_test(test_cli_faults__lock_held),
		cmocka_unit_test(test_cli_faults__lost_answer),
		cmocka_unit_test(test_cli_faults__black_hole),
		cmocka_unit_test_setup_teardown(test_cli_faults__member_hung,
		    setup_three, teardown_etcd),
	};

	leura_bin = getenv("LEURA");
	leura_src = getenv("LEURA_SRC");
	if (leura_bin == NULL || *leura_bin == '\0' || leura_src == NULL ||
	    *leura_src == '\0') {
		fprintf(stderr, "set LEURA (the leura binary) and LEURA_SRC "
		    "(the source tree); CTest does\n");
		return 77;
	}
	if (!th_etcd_available()) {
		fprintf(stderr, "no etcd binary: install etcd-server\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
