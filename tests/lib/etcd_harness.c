/*
 * Real etcd members for tests (etcd_harness.h): free ports on 127.0.0.1, a
 * temp dir holding data dirs, logs and test certificates, fork+exec of the
 * etcd binary with PR_SET_PDEATHSIG so nothing outlives the test.  The
 * harness talks to etcd with raw libcurl, not with the client under test,
 * so a client bug cannot hide behind the harness.  Test code: it prints
 * what went wrong to stderr, since nobody else will.
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "clock.h"
#include "buf.h"
#include "etcd_harness.h"
#include "xalloc.h"

#define READY_TIMEOUT_MS	10000
#define STOP_TIMEOUT_MS		5000

static char etcd_bin[512];

/*
 * Every running harness, copied: a cmocka assertion longjmps out of the
 * test and skips th_etcd_stop, and the struct th_etcd on its stack is gone
 * by then.  At exit, whatever is still here is killed, reaped and removed.
 */
#define TH_LIVE_MAX	16
static struct th_live {
	char	 dir[256];
	pid_t	 pids[TH_MAX_MEMBERS];
} live[TH_LIVE_MAX];
static bool live_hooked;

static struct th_live *
live_find(const char *dir)
{
	int i;

	for (i = 0; i < TH_LIVE_MAX; i++)
		if (live[i].dir[0] && strcmp(live[i].dir, dir) == 0)
			return &live[i];
	return NULL;
}

static int rm_one(const char *, const struct stat *, int, struct FTW *);

static void
live_cleanup(void)
{
	int i, j, st;

	for (i = 0; i < TH_LIVE_MAX; i++) {
		if (live[i].dir[0] == '\0')
			continue;
		for (j = 0; j < TH_MAX_MEMBERS; j++)
			/* only a child still running: never a reused pid */
			if (live[i].pids[j] > 0 &&
			    waitpid(live[i].pids[j], &st, WNOHANG) == 0) {
				kill(live[i].pids[j], SIGKILL);
				waitpid(live[i].pids[j], &st, 0);
			}
		if (getenv("TH_KEEP") == NULL)
			nftw(live[i].dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
		memset(&live[i], 0, sizeof(live[i]));
	}
}

/* Record h's dir and member pids (after any change). */
static void
live_update(const struct th_etcd *h)
{
	struct th_live *l;
	int i;

	if (h->dir[0] == '\0')
		return;
	if ((l = live_find(h->dir)) == NULL) {
		for (i = 0; i < TH_LIVE_MAX && live[i].dir[0]; i++)
			;
		if (i == TH_LIVE_MAX)
			return;
		l = &live[i];
		snprintf(l->dir, sizeof(l->dir), "%s", h->dir);
	}
	for (i = 0; i < TH_MAX_MEMBERS; i++)
		l->pids[i] = i < h->nmembers ? h->m[i].pid : 0;
	if (!live_hooked) {
		atexit(live_cleanup);
		live_hooked = true;
	}
}

static void
live_forget(const char *dir)
{
	struct th_live *l;

	if ((l = live_find(dir)) != NULL)
		memset(l, 0, sizeof(*l));
}

bool
th_etcd_available(void)
{
	const char *path, *p, *colon;
	char cand[512];
	size_t n;

	if (etcd_bin[0])
		return true;
	if (access("/usr/bin/etcd", X_OK) == 0) {
		snprintf(etcd_bin, sizeof(etcd_bin), "/usr/bin/etcd");
		return true;
	}
	if ((path = getenv("PATH")) == NULL)
		return false;
	for (p = path; ; p = colon + 1) {
		colon = strchr(p, ':');
		n = colon ? (size_t)(colon - p) : strlen(p);
		if (n > 0 && n < sizeof(cand) - 6) {
			snprintf(cand, sizeof(cand), "%.*s/etcd", (int)n, p);
			if (access(cand, X_OK) == 0) {
				snprintf(etcd_bin, sizeof(etcd_bin), "%s",
				    cand);
				return true;
			}
		}
		if (colon == NULL)
			return false;
	}
}

/* A port nobody listens on now and none of used[] (ports this run took). */
static int
free_port(const int *used, int nused)
{
	struct sockaddr_in sa;
	socklen_t len;
	int fd, port, tries, i;

	for (tries = 0; tries < 50; tries++) {
		if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
			return -1;
		memset(&sa, 0, sizeof(sa));
		sa.sin_family = AF_INET;
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(sa);
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
		    getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
			close(fd);
			return -1;
		}
		close(fd);
		port = ntohs(sa.sin_port);
		for (i = 0; i < nused; i++)
			if (used[i] == port)
				break;
		if (i == nused)
			return port;
	}
	return -1;
}

static int
run_sh(const char *script)
{
	int st;

	st = system(script);
	return st == 0 ? 0 : -1;
}

/*
 * CA, server cert (SAN IP:127.0.0.1), client cert without a CN (the JSON
 * gateway refuses CNs when auth is on: etcd PR #10366), a client cert with
 * a CN, and a second CA that signed nothing etcd has.  EC keys: fast.
 */
static int
make_certs(struct th_etcd *h)
{
	char *script;
	int rc;

	script = lr_xasprintf("cd '%s' && ("
	    "K='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes' && "
	    "openssl req -x509 $K -keyout ca.key -out ca.crt -days 2 "
	    "  -subj /CN=leura-test-ca && "
	    "openssl req -x509 $K -keyout other-ca.key -out other-ca.crt "
	    "  -days 2 -subj /CN=leura-other-ca && "
	    "openssl req $K -keyout server.key -out server.csr "
	    "  -subj /CN=127.0.0.1 && "
	    "printf 'subjectAltName=IP:127.0.0.1\\n"
	    "extendedKeyUsage=serverAuth,clientAuth\\n' >server.ext && "
	    "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key "
	    "  -CAcreateserial -out server.crt -days 2 -extfile server.ext && "
	    "printf 'extendedKeyUsage=clientAuth\\n' >client.ext && "
	    "openssl req $K -keyout client.key -out client.csr "
	    "  -subj /O=gateway-client && "
	    "openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key "
	    "  -CAcreateserial -out client.crt -days 2 -extfile client.ext && "
	    "openssl req $K -keyout cn.key -out cn.csr -subj /CN=root && "
	    "openssl x509 -req -in cn.csr -CA ca.crt -CAkey ca.key "
	    "  -CAcreateserial -out cn.crt -days 2 -extfile client.ext"
	    ") >certs.log 2>&1", h->dir);
	rc = run_sh(script);
	free(script);
	if (rc < 0) {
		fprintf(stderr, "th_etcd: openssl failed, see %s/certs.log\n",
		    h->dir);
		return -1;
	}
	snprintf(h->cacert, sizeof(h->cacert), "%s/ca.crt", h->dir);
	snprintf(h->cert, sizeof(h->cert), "%s/client.crt", h->dir);
	snprintf(h->key, sizeof(h->key), "%s/client.key", h->dir);
	snprintf(h->othercacert, sizeof(h->othercacert), "%s/other-ca.crt",
	    h->dir);
	snprintf(h->cncert, sizeof(h->cncert), "%s/cn.crt", h->dir);
	snprintf(h->cnkey, sizeof(h->cnkey), "%s/cn.key", h->dir);
	return 0;
}

/* ---- HTTP to a member ------------------------------------------------- */

static size_t
collect(char *p, size_t sz, size_t n, void *arg)
{
	lr_buf_add(arg, p, sz * n);
	return sz * n;
}

static char *
post(struct th_etcd *h, int i, const char *path, const char *body,
    const char *token, long timeout_ms, long *status)
{
	struct lr_buf out = LR_BUF_INIT;
	struct curl_slist *hdrs = NULL;
	CURL *c;
	char *url, *auth = NULL;
	CURLcode rc;

	*status = 0;
	if ((c = curl_easy_init()) == NULL)
		return NULL;
	url = lr_xasprintf("%s%s", h->m[i].url, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	if (token) {
		auth = lr_xasprintf("Authorization: %s", token);
		hdrs = curl_slist_append(hdrs, auth);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	if (h->flags & TH_TLS) {
		curl_easy_setopt(c, CURLOPT_CAINFO, h->cacert);
		curl_easy_setopt(c, CURLOPT_SSLCERT, h->cert);
		curl_easy_setopt(c, CURLOPT_SSLKEY, h->key);
	}
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	free(url);
	free(auth);
	if (rc != CURLE_OK) {
		lr_buf_release(&out);
		return NULL;
	}
	return lr_buf_detach(&out, NULL);
}

static char *
root_token(struct th_etcd *h, int i)
{
	json_t *j;
	char *ans, *tok = NULL;
	long st;

	ans = post(h, i, "/v3/auth/authenticate",
	    "{\"name\":\"root\",\"password\":\"rootpw\"}", NULL, 5000, &st);
	if (ans && st == 200 && (j = json_loads(ans, 0, NULL)) != NULL) {
		if (json_string_value(json_object_get(j, "token")))
			tok = lr_xstrdup(json_string_value(json_object_get(j,
			    "token")));
		json_decref(j);
	}
	free(ans);
	return tok;
}

char *
th_etcd_post(struct th_etcd *h, int i, const char *path, const char *body,
    long *status)
{
	char *tok = NULL, *ans;
	long st;

	if (h->flags & TH_AUTH)
		tok = root_token(h, i);
	ans = post(h, i, path, body, tok, 10000, &st);
	free(tok);
	if (status)
		*status = st;
	return ans;
}

/* ---- members ---------------------------------------------------------- */

static void
add_arg(char ***argv, size_t *n, size_t *cap, const char *s)
{
	*LR_ARRAY_PUSH(*argv, *n, *cap) = lr_xstrdup(s);
}

static pid_t
spawn_member(struct th_etcd *h, int i)
{
	struct th_member *m = &h->m[i];
	struct lr_buf cluster = LR_BUF_INIT;
	char **argv = NULL, *s, *extra, *tok, *save;
	char peer[64], data[320], log[320];
	size_t n = 0, cap = 0, k;
	struct stat st;
	pid_t pid, parent;
	int j, fd;

	for (j = 0; j < h->nmembers; j++)
		lr_buf_printf(&cluster, "%s%s=http://127.0.0.1:%d",
		    j ? "," : "", h->m[j].name, h->m[j].peer_port);
	snprintf(peer, sizeof(peer), "http://127.0.0.1:%d", m->peer_port);
	snprintf(data, sizeof(data), "%s/%s.etcd", h->dir, m->name);
	snprintf(log, sizeof(log), "%s/%s.log", h->dir, m->name);
	add_arg(&argv, &n, &cap, etcd_bin);
	add_arg(&argv, &n, &cap, "--name");
	add_arg(&argv, &n, &cap, m->name);
	add_arg(&argv, &n, &cap, "--data-dir");
	add_arg(&argv, &n, &cap, data);
	add_arg(&argv, &n, &cap, "--listen-client-urls");
	add_arg(&argv, &n, &cap, m->url);
	add_arg(&argv, &n, &cap, "--advertise-client-urls");
	add_arg(&argv, &n, &cap, m->url);
	add_arg(&argv, &n, &cap, "--listen-peer-urls");
	add_arg(&argv, &n, &cap, peer);
	add_arg(&argv, &n, &cap, "--initial-advertise-peer-urls");
	add_arg(&argv, &n, &cap, peer);
	add_arg(&argv, &n, &cap, "--initial-cluster");
	add_arg(&argv, &n, &cap, cluster.s);
	add_arg(&argv, &n, &cap, "--initial-cluster-state");
	add_arg(&argv, &n, &cap, "new");
	add_arg(&argv, &n, &cap, "--initial-cluster-token");
	add_arg(&argv, &n, &cap, "leura-test");
	add_arg(&argv, &n, &cap, "--heartbeat-interval");
	add_arg(&argv, &n, &cap, "10");
	add_arg(&argv, &n, &cap, "--election-timeout");
	add_arg(&argv, &n, &cap, "100");
	add_arg(&argv, &n, &cap, "--logger");
	add_arg(&argv, &n, &cap, "zap");
	add_arg(&argv, &n, &cap, "--log-outputs");
	add_arg(&argv, &n, &cap, "stderr");
	if (h->flags & TH_TLS) {
		s = lr_xasprintf("%s/server.crt", h->dir);
		add_arg(&argv, &n, &cap, "--cert-file");
		add_arg(&argv, &n, &cap, s);
		free(s);
		s = lr_xasprintf("%s/server.key", h->dir);
		add_arg(&argv, &n, &cap, "--key-file");
		add_arg(&argv, &n, &cap, s);
		free(s);
		if (h->flags & TH_CLIENT_CERT) {
			add_arg(&argv, &n, &cap, "--trusted-ca-file");
			add_arg(&argv, &n, &cap, h->cacert);
			add_arg(&argv, &n, &cap, "--client-cert-auth");
		}
	}
	extra = lr_xstrdup(h->extra);
	for (tok = strtok_r(extra, " \t", &save); tok;
	    tok = strtok_r(NULL, " \t", &save))
		add_arg(&argv, &n, &cap, tok);
	free(extra);
	*LR_ARRAY_PUSH(argv, n, cap) = NULL;
	lr_buf_release(&cluster);

	fflush(stdout);
	m->log_from = stat(log, &st) == 0 ? st.st_size : 0;
	fflush(stderr);
	parent = getpid();
	if ((pid = fork()) < 0) {
		fprintf(stderr, "th_etcd: fork: %s\n", strerror(errno));
		pid = -1;
	} else if (pid == 0) {
		/* no etcd outlives the test, even on a crash */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		if ((fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
		    0644)) >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		fd = open("/dev/null", O_RDONLY);
		if (fd >= 0)
			dup2(fd, 0);
		execv(argv[0], argv);
		_exit(127);
	}
	for (k = 0; argv[k]; k++)
		free(argv[k]);
	free(argv);
	return pid;
}

static void
show_log(struct th_etcd *h, int i)
{
	char *cmd;

	fprintf(stderr, "th_etcd: member %s log (tail):\n", h->m[i].name);
	cmd = lr_xasprintf("tail -n 15 '%s/%s.log' >&2", h->dir,
	    h->m[i].name);
	if (system(cmd) != 0)
		fprintf(stderr, "  (no log)\n");
	free(cmd);
}

/*
 * Whether member i's log says, since its last spawn, that it serves
 * clients.  A read alone could be answered by another test's etcd on the
 * same port, when ours could not bind it.
 */
static bool
serving(struct th_etcd *h, int i)
{
	struct lr_buf b = LR_BUF_INIT;
	char path[320], chunk[4096];
	bool found;
	size_t n;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s.log", h->dir, h->m[i].name);
	if ((fp = fopen(path, "r")) == NULL)
		return false;
	if (fseeko(fp, h->m[i].log_from, SEEK_SET) == 0)
		while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
			lr_buf_add(&b, chunk, n);
	fclose(fp);
	found = b.s != NULL && strstr(b.s, "serving client traffic") != NULL;
	lr_buf_release(&b);
	return found;
}

/* Wait until member i answers a linearizable read (or refuses us). */
static int
wait_ready(struct th_etcd *h, int i)
{
	long deadline, st;
	bool answered;
	char *ans;
	int wst;

	deadline = lr_now_ms() + READY_TIMEOUT_MS;
	while (lr_now_ms() < deadline) {
		if (waitpid(h->m[i].pid, &wst, WNOHANG) == h->m[i].pid) {
			fprintf(stderr, "th_etcd: member %s exited early\n",
			    h->m[i].name);
			h->m[i].pid = 0;
			show_log(h, i);
			return -1;
		}
		ans = post(h, i, "/v3/kv/range", "{\"key\":\"AA==\"}", NULL,
		    1000, &st);
		/* 200, or the auth errors of a member that serves */
		answered = ans != NULL && (st == 200 || st == 400 ||
		    st == 401 || st == 403);
		free(ans);
		if (answered && serving(h, i))
			return 0;
		lr_sleep_ms(10);
	}
	fprintf(stderr, "th_etcd: member %s not ready in %d ms\n",
	    h->m[i].name, READY_TIMEOUT_MS);
	show_log(h, i);
	return -1;
}

static int
enable_auth(struct th_etcd *h)
{
	static const char *steps[][2] = {
		{ "/v3/auth/user/add",
		    "{\"name\":\"root\",\"password\":\"rootpw\"}" },
		{ "/v3/auth/user/grant",
		    "{\"user\":\"root\",\"role\":\"root\"}" },
		{ "/v3/auth/enable", "{}" },
	};
	size_t k;
	long st;
	char *ans;

	for (k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
		ans = post(h, 0, steps[k][0], steps[k][1], NULL, 10000, &st);
		if (ans == NULL || st != 200) {
			fprintf(stderr, "th_etcd: %s: HTTP %ld %s\n",
			    steps[k][0], st, ans ? ans : "(no answer)");
			free(ans);
			return -1;
		}
		free(ans);
	}
	return 0;
}

static void
reap(struct th_member *m, bool kill9)
{
	long deadline;
	pid_t r;
	int st;

	if (m->pid <= 0)
		return;
	kill(m->pid, kill9 ? SIGKILL : SIGTERM);
	deadline = lr_now_ms() + STOP_TIMEOUT_MS;
	for (;;) {
		r = waitpid(m->pid, &st, WNOHANG);
		if (r == m->pid || (r < 0 && errno != EINTR))
			break;
		if (lr_now_ms() > deadline) {
			kill(m->pid, SIGKILL);
			waitpid(m->pid, &st, 0);
			break;
		}
		lr_sleep_ms(5);
	}
	m->pid = 0;
}

int
th_etcd_start_args(struct th_etcd *h, int nmembers, unsigned flags,
    const char *extra)
{
	const char *tmp;
	int used[2 * TH_MAX_MEMBERS], nused = 0, i;
	size_t len = 0;

	memset(h, 0, sizeof(*h));
	if (!th_etcd_available()) {
		fprintf(stderr, "th_etcd: no etcd binary (/usr/bin/etcd or "
		    "etcd on PATH): install etcd-server\n");
		return -1;
	}
	if (nmembers < 1 || nmembers > TH_MAX_MEMBERS)
		return -1;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	h->nmembers = nmembers;
	h->flags = flags;
	snprintf(h->extra, sizeof(h->extra), "%s", extra ? extra : "");
	if ((tmp = getenv("TMPDIR")) == NULL || tmp[0] == '\0')
		tmp = "/tmp";
	snprintf(h->dir, sizeof(h->dir), "%s/leura-etcd.XXXXXX", tmp);
	if (mkdtemp(h->dir) == NULL) {
		fprintf(stderr, "th_etcd: mkdtemp '%s': %s\n", h->dir,
		    strerror(errno));
		h->dir[0] = '\0';
		return -1;
	}
	live_update(h);
	if ((flags & TH_TLS) && make_certs(h) < 0)
		goto fail;
	for (i = 0; i < nmembers; i++) {
		struct th_member *m = &h->m[i];

		if ((m->client_port = free_port(used, nused)) < 0)
			goto fail;
		used[nused++] = m->client_port;
		if ((m->peer_port = free_port(used, nused)) < 0)
			goto fail;
		used[nused++] = m->peer_port;
		snprintf(m->name, sizeof(m->name), "m%d", i);
		snprintf(m->url, sizeof(m->url), "%s://127.0.0.1:%d",
		    (flags & TH_TLS) ? "https" : "http", m->client_port);
		len += (size_t)snprintf(h->endpoints + len,
		    sizeof(h->endpoints) - len, "%s%s", i ? "," : "", m->url);
	}
	for (i = 0; i < nmembers; i++) {
		if ((h->m[i].pid = spawn_member(h, i)) < 0) {
			h->m[i].pid = 0;
			goto fail;
		}
		live_update(h);
	}
	for (i = 0; i < nmembers; i++)
		if (wait_ready(h, i) < 0)
			goto fail;
	if ((flags & TH_AUTH) && enable_auth(h) < 0)
		goto fail;
	return 0;
fail:
	th_etcd_stop(h);
	return -1;
}

int
th_etcd_start(struct th_etcd *h, int nmembers, unsigned flags)
{
	return th_etcd_start_args(h, nmembers, flags, NULL);
}

int
th_etcd_stop_member(struct th_etcd *h, int i, bool kill9)
{
	if (i < 0 || i >= h->nmembers)
		return -1;
	reap(&h->m[i], kill9);
	live_update(h);
	return 0;
}

int
th_etcd_restart_member(struct th_etcd *h, int i)
{
	int rc;

	if (i < 0 || i >= h->nmembers || h->m[i].pid > 0)
		return -1;
	if ((h->m[i].pid = spawn_member(h, i)) < 0) {
		h->m[i].pid = 0;
		return -1;
	}
	rc = wait_ready(h, i);
	live_update(h);
	return rc;
}

static int
rm_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	remove(path);
	return 0;
}

void
th_etcd_stop(struct th_etcd *h)
{
	int i;

	/* SIGKILL: the data dir goes anyway, and it is faster */
	for (i = 0; i < h->nmembers; i++)
		if (h->m[i].pid > 0)
			kill(h->m[i].pid, SIGKILL);
	for (i = 0; i < h->nmembers; i++)
		reap(&h->m[i], true);
	if (h->dir[0] && getenv("TH_KEEP") == NULL)
		nftw(h->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	live_forget(h->dir);
	h->dir[0] = '\0';
	h->nmembers = 0;
}
