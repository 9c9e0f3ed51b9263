/*
 * The transport-free core of the etcd client (etcd-int.h), its half about
 * talking to etcd: configuration parsing, curl option setup, what a curl
 * result or an HTTP answer means, and splitting and decoding watch
 * streams.  The codec (base64, encoders, decoders, the txn builder) is
 * etcd_codec.c.  The blocking face (etcd.c) and the engine (etcd_uv.c,
 * etcd_uv_watch.c, etcd_uv_lease.c) only move bytes and decide when to
 * retry; every message a user sees is worded here or in the codec, so both
 * faces say the same thing.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "etcd-int.h"
#include "xalloc.h"

/* ---- configuration ---------------------------------------------------- */

static char *
trim_dup(const char *s, size_t n)
{
	while (n > 0 && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	return lr_xstrndup(s, n);
}

/*
 * unix:///abs/path: etcd's client socket (etcd listens on
 * unix://NAME:PORT and makes the socket NAME:PORT in its working folder;
 * leura up's etcd).  Only whoever may open the path reaches it, which is
 * how a socket in a 0700 folder keeps other local users out.
 */
static int
check_unix_endpoint(char *url, struct lr_err *err)
{
	const char *path = url + strlen(ETCD_UNIX_SCHEME);
	struct sockaddr_un sa;

	if (path[0] != '/') {
		lr_err_set(err, LR_EINVAL, "bad etcd endpoint '%s': the path "
		    "of a unix socket must be absolute", url);
		return lr_err_hint(err, "a unix socket endpoint looks like "
		    "unix:///home/alice/.local/state/leura/up/sock/etcd:2379");
	}
	if (strlen(path) >= sizeof(sa.sun_path)) {
		lr_err_set(err, LR_EINVAL, "bad etcd endpoint '%s': the path "
		    "is longer than a unix socket's %zu bytes", url,
		    sizeof(sa.sun_path) - 1);
		return lr_err_hint(err, "reach the socket through a shorter "
		    "path (a symbolic link to its folder)");
	}
	return 0;
}

static int
check_endpoint(char *url, struct lr_err *err)
{
	const char *host;
	size_t n;

	if (strncmp(url, ETCD_UNIX_SCHEME, strlen(ETCD_UNIX_SCHEME)) == 0)
		return check_unix_endpoint(url, err);
	if (strncmp(url, "http://", 7) == 0)
		host = url + 7;
	else if (strncmp(url, "https://", 8) == 0)
		host = url + 8;
	else
		return lr_err_set(err, LR_EINVAL, "bad etcd endpoint '%s': "
		    "not an http://, https:// or unix:// URL", url);
	n = strlen(url);
	while (n > 0 && url[n - 1] == '/' && url + n - 1 >= host)
		url[--n] = '\0';
	if (host[0] == '\0' || host[0] == ':')
		return lr_err_set(err, LR_EINVAL,
		    "bad etcd endpoint '%s': no host", url);
	if (strchr(host, '/') != NULL || strchr(host, '?') != NULL ||
	    strchr(host, '#') != NULL || strchr(host, ' ') != NULL)
		return lr_err_set(err, LR_EINVAL, "bad etcd endpoint '%s': "
		    "give only scheme, host and port", url);
	return 0;
}

static int
check_file(const char *path, const char *what, const char *opt,
    struct lr_err *err)
{
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		lr_err_set(err, LR_EINVAL, "cannot read etcd %s '%s': %s",
		    what, path, strerror(errno));
		return lr_err_hint(err, "check the path given with %s", opt);
	}
	close(fd);
	return 0;
}

static char *
dup_or_null(const char *s)
{
	return s && s[0] ? lr_xstrdup(s) : NULL;
}

void
etcd_conf_release(struct etcd_conf *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->nendpoints; i++)
		free(c->endpoints[i]);
	free(c->endpoints);
	free(c->user);
	if (c->password)
		explicit_bzero(c->password, strlen(c->password));
	free(c->password);
	free(c->cacert);
	free(c->cert);
	free(c->key);
	free(c->token);
	memset(c, 0, sizeof(*c));
}

int
etcd_conf_parse(const struct etcd_config *cfg, struct etcd_conf *out,
    struct lr_err *err)
{
	struct etcd_conf c;
	const char *p, *comma;
	size_t cap = 0;
	char *ep;
	int rc = LR_EINVAL;

	memset(&c, 0, sizeof(c));
	if (cfg->endpoints == NULL || cfg->endpoints[0] == '\0') {
		lr_err_set(err, LR_EINVAL, "no etcd endpoint given");
		lr_err_hint(err, "set the endpoints with --etcd or LEURA_ETCD, "
		    "e.g. http://127.0.0.1:2379");
		return LR_EINVAL;
	}
	for (p = cfg->endpoints; ; p = comma + 1) {
		comma = strchr(p, ',');
		ep = trim_dup(p, comma ? (size_t)(comma - p) : strlen(p));
		if (ep[0] == '\0') {
			free(ep);
		} else {
			*LR_ARRAY_PUSH(c.endpoints, c.nendpoints, cap) = ep;
			if (check_endpoint(ep, err) < 0) {
				if (err->hint[0] == '\0')
					lr_err_hint(err, "endpoints look like "
					    "http://10.0.0.5:2379,https://"
					    "etcd2:2379 or unix:///path/to/"
					    "socket");
				goto out;
			}
		}
		if (comma == NULL)
			break;
	}
	if (c.nendpoints == 0) {
		lr_err_set(err, LR_EINVAL, "no etcd endpoint in '%s'",
		    cfg->endpoints);
		goto out;
	}
	if ((cfg->user && cfg->user[0]) != (cfg->password != NULL)) {
		lr_err_set(err, LR_EINVAL, "etcd user and password go "
		    "together: only the %s is set",
		    cfg->password ? "password" : "user");
		goto out;
	}
	if ((cfg->cert && cfg->cert[0]) != (cfg->key && cfg->key[0])) {
		lr_err_set(err, LR_EINVAL, "etcd client certificate and key "
		    "go together: only the %s is set",
		    cfg->cert && cfg->cert[0] ? "certificate" : "key");
		lr_err_hint(err, "give both --etcd-cert and --etcd-key");
		goto out;
	}
	if (cfg->cacert && cfg->cacert[0] &&
	    check_file(cfg->cacert, "CA certificate", "--etcd-cacert",
	    err) < 0)
		goto out;
	if (cfg->cert && cfg->cert[0] && check_file(cfg->cert,
	    "client certificate", "--etcd-cert", err) < 0)
		goto out;
	if (cfg->key && cfg->key[0] && check_file(cfg->key,
	    "client key", "--etcd-key", err) < 0)
		goto out;
	c.user = dup_or_null(cfg->user);
	c.password = c.user ? lr_xstrdup(cfg->password) : NULL;
	c.cacert = dup_or_null(cfg->cacert);
	c.cert = dup_or_null(cfg->cert);
	c.key = dup_or_null(cfg->key);
	c.timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 5000;
	c.connect_timeout_ms = cfg->connect_timeout_ms > 0 ?
	    cfg->connect_timeout_ms : 1000;
	*out = c;
	memset(&c, 0, sizeof(c));
	rc = 0;
out:
	etcd_conf_release(&c);
	return rc;
}

void
etcd_conf_set_token(struct etcd_conf *c, const char *token)
{
	free(c->token);
	c->token = token ? lr_xstrdup(token) : NULL;
}

bool
etcd_conf_needs_auth(const struct etcd_conf *c)
{
	return c->user != NULL && c->token == NULL && !c->auth_off;
}

const char *
etcd_endpoint_socket(const char *endpoint)
{
	size_t n = strlen(ETCD_UNIX_SCHEME);

	return strncmp(endpoint, ETCD_UNIX_SCHEME, n) == 0 ? endpoint + n :
	    NULL;
}

/* ---- curl ------------------------------------------------------------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void
curl_init_once(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		LR_BUG("curl_global_init failed");
}

void
etcd_curl_global_init(void)
{
	pthread_once(&curl_once, curl_init_once);
}

void
etcd_curl_setup(CURL *h, const struct etcd_conf *c, size_t ep,
    const char *path, const char *body, size_t len, unsigned flags,
    struct curl_slist **hdrs, char *errbuf)
{
	struct curl_slist *l = NULL;
	const char *sock;
	char *url, *auth;

	sock = etcd_endpoint_socket(c->endpoints[ep]);
	if (sock != NULL) {
		/* HTTP over the socket; the gateway ignores the host */
		curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, sock);
		url = lr_xasprintf("http://localhost%s", path);
	} else
		url = lr_xasprintf("%s%s", c->endpoints[ep], path);
	curl_easy_setopt(h, CURLOPT_URL, url);
	free(url);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(h, CURLOPT_COPYPOSTFIELDS, body);
	l = curl_slist_append(l, "Content-Type: application/json");
	/* no "Expect: 100-continue" round trip on large bodies */
	l = curl_slist_append(l, "Expect:");
	if (c->token != NULL && !(flags & ETCD_REQ_NOAUTH)) {
		auth = lr_xasprintf("Authorization: %s", c->token);
		l = curl_slist_append(l, auth);
		free(auth);
	}
	if (l == NULL)
		LR_BUG("curl_slist_append failed");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, l);
	*hdrs = l;
	if (c->cacert)
		curl_easy_setopt(h, CURLOPT_CAINFO, c->cacert);
	if (c->cert) {
		curl_easy_setopt(h, CURLOPT_SSLCERT, c->cert);
		curl_easy_setopt(h, CURLOPT_SSLKEY, c->key);
	}
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
	if (!(flags & ETCD_REQ_WATCH))
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 10L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 5L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	if (errbuf != NULL) {
		errbuf[0] = '\0';
		curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	}
}

static void
os_reason(CURL *h, const char *dflt, char *reason, size_t reasonsz)
{
	long oserr = 0;
	const char *s;
	size_t i;

	curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &oserr);
	s = oserr != 0 ? strerror((int)oserr) : dflt;
	snprintf(reason, reasonsz, "%s", s);
	/* "Connection refused" -> "connection refused" */
	for (i = 0; reason[i] && i < 1; i++)
		reason[i] = (char)tolower((unsigned char)reason[i]);
}

static bool
tls_text(const char *errbuf)
{
	return errbuf != NULL && (strstr(errbuf, "SSL") != NULL ||
	    strstr(errbuf, "alert") != NULL ||
	    strstr(errbuf, "certificate") != NULL);
}

/*
 * With TLS 1.3 the client finishes its handshake before etcd checks the
 * client certificate; etcd then alerts and closes, and curl only sees a
 * broken pipe on its first write.  A new https connection whose handshake
 * completed and that got no answer at all is that case.
 */
static bool
tls_refused_after_handshake(CURL *h)
{
	curl_off_t app = 0;
	long conns = 0, status = 0;
	char *scheme = NULL;

	curl_easy_getinfo(h, CURLINFO_SCHEME, &scheme);
	curl_easy_getinfo(h, CURLINFO_APPCONNECT_TIME_T, &app);
	curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &conns);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	return scheme != NULL && strcasecmp(scheme, "https") == 0 &&
	    app > 0 && conns > 0 && status == 0;
}

enum etcd_curl_class
etcd_curl_classify(CURL *h, CURLcode rc, const char *errbuf, char *reason,
    size_t reasonsz)
{
	curl_off_t ct = 0;
	const char *text;

	text = errbuf && errbuf[0] ? errbuf : curl_easy_strerror(rc);
	reason[0] = '\0';
	switch (rc) {
	case CURLE_OK:
		return ETCD_CURL_OK;
	case CURLE_COULDNT_CONNECT:
		os_reason(h, "connection failed", reason, reasonsz);
		return ETCD_CURL_NEXT;
	case CURLE_COULDNT_RESOLVE_HOST:
		snprintf(reason, reasonsz, "cannot resolve the host name");
		return ETCD_CURL_NEXT;
	case CURLE_OPERATION_TIMEDOUT:
		curl_easy_getinfo(h, CURLINFO_CONNECT_TIME_T, &ct);
		if (ct == 0) {
			snprintf(reason, reasonsz, "connect timed out");
			return ETCD_CURL_NEXT;
		}
		snprintf(reason, reasonsz, "no answer in time");
		return ETCD_CURL_TIMEOUT;
	case CURLE_GOT_NOTHING:
		snprintf(reason, reasonsz, "empty reply; is it an https "
		    "endpoint?");
		return ETCD_CURL_NEXT;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
		/* a TLS alert (client certificate refused) lands here too */
		if (tls_text(errbuf)) {
			snprintf(reason, reasonsz, "%s", text);
			return ETCD_CURL_TLS;
		}
		if (tls_refused_after_handshake(h)) {
			snprintf(reason, reasonsz, "etcd closed the connection "
			    "right after the TLS handshake: it refused the "
			    "client certificate, or wants one");
			return ETCD_CURL_TLS;
		}
		os_reason(h, "connection reset", reason, reasonsz);
		return ETCD_CURL_NEXT;
	case CURLE_PARTIAL_FILE:
		snprintf(reason, reasonsz, "connection closed mid-answer");
		return ETCD_CURL_NEXT;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_SHUTDOWN_FAILED:
	case CURLE_USE_SSL_FAILED:
		snprintf(reason, reasonsz, "%s", text);
		return ETCD_CURL_TLS;
	default:
		snprintf(reason, reasonsz, "%s", text);
		return ETCD_CURL_FAIL;
	}
}

int
etcd_curl_error(struct lr_err *err, enum etcd_curl_class cls,
    const char *what, const char *endpoint, const char *reason)
{
	switch (cls) {
	case ETCD_CURL_TLS:
		lr_err_set(err, LR_ETLS, "etcd %s at '%s': TLS failed: %s",
		    what, endpoint, reason);
		return lr_err_hint(err, "check the CA that signed etcd's "
		    "certificate (--etcd-cacert) and the client certificate "
		    "and key etcd expects (--etcd-cert, --etcd-key)");
	case ETCD_CURL_TIMEOUT:
	case ETCD_CURL_NEXT:
		lr_err_set(err, LR_EUNREACH, "etcd %s at '%s': %s", what,
		    endpoint, reason);
		return lr_err_hint(err, "check that etcd is running and has "
		    "a leader");
	case ETCD_CURL_OK:
	case ETCD_CURL_FAIL:
	default:
		return lr_err_set(err, LR_EETCD, "etcd %s at '%s': %s", what,
		    endpoint, reason);
	}
}

void
etcd_tried_add(struct lr_buf *tried, const char *endpoint,
    const char *reason)
{
	lr_buf_printf(tried, "%s'%s' (%s)", tried->len ? ", " : "",
	    endpoint, reason);
}

int
etcd_unreach_error(struct lr_err *err, const struct lr_buf *tried)
{
	lr_err_set(err, LR_EUNREACH, "cannot reach etcd: tried %s",
	    tried->len ? tried->s : "no endpoint");
	return lr_err_hint(err, "check that etcd is running, or set the "
	    "endpoints with --etcd or LEURA_ETCD");
}

/* ---- HTTP answers ----------------------------------------------------- */

/* Map etcd's message and gRPC code to an lr_err code and hint. */
static int
map_etcd_error(const char *msg, long code, long status, const char **hint)
{
	*hint = NULL;
	if (strstr(msg, "database space exceeded") != NULL) {
		/* the NOSPACE alarm: no write goes through until disarmed */
		*hint = "etcd's database is at its --quota-backend-bytes and "
		    "takes no writes: etcdctl compact REV, etcdctl defrag, "
		    "etcdctl alarm disarm; or raise the quota "
		    "(docs/etcd-layout.md, Disk space)";
		return LR_EETCD;
	}
	if (strstr(msg, "CommonName of client") != NULL) {
		/* etcd PR #10366: mTLS + auth on the JSON gateway */
		*hint = "with --client-cert-auth and auth both on, etcd's "
		    "JSON gateway refuses client certificates that have a "
		    "CommonName; use one without CN (--etcd-cert)";
		return LR_ETLS;
	}
	if (strstr(msg, "request is too large") != NULL ||
	    strstr(msg, "too many operations") != NULL ||
	    strstr(msg, "larger than max") != NULL) {
		*hint = "etcd refuses requests over --max-request-bytes "
		    "(1.5 MiB by default) and txns over --max-txn-ops (128)";
		return LR_ETOOBIG;
	}
	if (status == 403 || code == ETCD_CODE_DENIED ||
	    strstr(msg, "permission denied") != NULL) {
		*hint = "the etcd user's roles do not cover this key; grant "
		    "it a role with the key range, or use another user";
		return LR_EPERM;
	}
	if (status == 401 || code == ETCD_CODE_UNAUTH ||
	    strstr(msg, "authentication failed") != NULL ||
	    strstr(msg, "user name is empty") != NULL ||
	    strstr(msg, "user name not found") != NULL ||
	    strstr(msg, "invalid auth token") != NULL) {
		if (strstr(msg, "user name is empty") != NULL)
			*hint = "etcd has authentication enabled: give an etcd "
			    "user and password";
		else
			*hint = "check the etcd user name and password";
		return LR_EAUTH;
	}
	if (code == ETCD_CODE_NOTFOUND)
		return LR_ENOENT;
	if (code == ETCD_CODE_UNAVAILABLE)
		return LR_EUNREACH;
	if (code == ETCD_CODE_OUTOFRANGE && strstr(msg, "compacted") != NULL)
		*hint = "the revision was compacted; read the latest instead";
	return LR_EETCD;
}

enum etcd_http_action
etcd_http_check(long status, const json_t *body, const char *raw,
    size_t rawlen, const char *what, const char *endpoint,
    struct lr_err *err)
{
	const json_t *e;
	const char *msg = NULL, *hint;
	char text[128], *p;
	size_t n;
	long code = 0;
	int rc;

	if (status >= 200 && status < 300 &&
	    (e = json_object_get(body, "error")) == NULL)
		return ETCD_HTTP_OK;
	if (json_is_object(body)) {
		msg = json_string_value(json_object_get(body, "message"));
		if (msg == NULL)
			msg = json_string_value(json_object_get(body, "error"));
		code = (long)etcd_json_int64(body, "code");
		/* streaming form: {"error":{"grpc_code":..,"message":..}} */
		e = json_object_get(body, "error");
		if (json_is_object(e)) {
			msg = json_string_value(json_object_get(e, "message"));
			code = (long)etcd_json_int64(e, "grpc_code");
		}
	}
	if (msg == NULL && raw != NULL && memmem(raw, rawlen,
	    "CommonName of client", 20) != NULL) {
		/* this one comes as plain text */
		rc = map_etcd_error("CommonName of client", 0, status, &hint);
		lr_err_set(err, rc, "etcd %s at '%s': etcd's JSON gateway "
		    "refused the client certificate: it has a CommonName",
		    what, endpoint);
		lr_err_hint(err, "%s", hint);
		return ETCD_HTTP_FAIL;
	}
	if (msg == NULL) {
		/* not etcd's JSON: quote the start of whatever it was */
		n = raw ? rawlen : 0;
		if (n > sizeof(text) - 1)
			n = sizeof(text) - 1;
		snprintf(text, sizeof(text), "HTTP %ld%s%.*s", status,
		    n ? ": " : "", (int)n, raw ? raw : "");
		for (p = text; *p; p++)
			if (*p == '\n' || *p == '\r')
				*p = ' ';
		lr_err_set(err, LR_EETCD, "etcd %s at '%s': unexpected "
		    "answer: %s", what, endpoint, text);
		if (status == 404)
			lr_err_hint(err, "is this an etcd v3.4+ client URL?");
		return ETCD_HTTP_FAIL;
	}
	rc = map_etcd_error(msg, code, status, &hint);
	lr_err_set(err, rc, "etcd %s at '%s': %s (code %ld)", what, endpoint,
	    msg, code);
	if (hint != NULL)
		lr_err_hint(err, "%s", hint);
	if (rc == LR_EAUTH && (status == 401 || code == ETCD_CODE_UNAUTH))
		return ETCD_HTTP_REAUTH;
	if (code == ETCD_CODE_UNAVAILABLE)
		return ETCD_HTTP_NEXT;
	/*
	 * etcd stopping: its JSON gateway's own gRPC client closes under a
	 * stream (code 1, canceled): as unavailable, not the caller's error
	 * (cli_t_wait's restarted etcd ended leura apply --wait in CI)
	 */
	if (code == 1 && strstr(msg, "client connection is closing") != NULL)
		return ETCD_HTTP_NEXT;
	return ETCD_HTTP_FAIL;
}

/* ---- streams and watches ---------------------------------------------- */

int
etcd_lines_feed(struct lr_buf *acc, const void *p, size_t n,
    etcd_line_cb *cb, void *arg)
{
	size_t start = 0, i;
	int rc = 0;

	lr_buf_add(acc, p, n);
	for (i = 0; i < acc->len; i++) {
		if (acc->s[i] != '\n')
			continue;
		if (i > start && (rc = cb(acc->s + start, i - start,
		    arg)) != 0) {
			start = i + 1;
			break;
		}
		start = i + 1;
	}
	if (rc != 0) {
		lr_buf_reset(acc);
		return rc;
	}
	if (start > 0) {
		memmove(acc->s, acc->s + start, acc->len - start);
		acc->len -= start;
		acc->s[acc->len] = '\0';
	}
	return 0;
}

void
etcd_events_init(struct etcd_events *ev)
{
	memset(ev, 0, sizeof(*ev));
}

void
etcd_events_clear(struct etcd_events *ev)
{
	size_t i;

	for (i = 0; i < ev->n; i++) {
		etcd_kv_release(&ev->v[i].kv);
		etcd_kv_release(&ev->v[i].prev_kv);
	}
	ev->n = 0;
}

void
etcd_events_release(struct etcd_events *ev)
{
	if (ev == NULL)
		return;
	etcd_events_clear(ev);
	free(ev->v);
	etcd_events_init(ev);
}

int
etcd_watch_decode_line(const char *line, size_t len, struct etcd_events *ev,
    struct etcd_watch_batch *b, struct etcd_watch_info *info,
    const char *what, const char *endpoint, struct lr_err *err)
{
	const json_t *r, *evs, *j, *pk;
	struct etcd_event *e;
	struct lr_err lerr;
	json_t *root;
	const char *s;
	size_t i;
	int rc = 0;

	if (err == NULL)
		err = &lerr;

	etcd_events_clear(ev);
	memset(b, 0, sizeof(*b));
	memset(info, 0, sizeof(*info));
	b->kind = ETCD_WATCH_PROGRESS;
	if ((root = etcd_json_parse(line, len)) == NULL ||
	    !json_is_object(root)) {
		json_decref(root);
		return lr_err_set(err, LR_EETCD, "etcd %s at '%s': malformed "
		    "watch message: %.*s", what, endpoint,
		    (int)(len > 80 ? 80 : len), line);
	}
	if (json_object_get(root, "error") != NULL) {
		lr_err_clear(err);
		etcd_http_check(500, root, line, len, what, endpoint, err);
		rc = err->code < 0 ? err->code : LR_EETCD;
		goto out;
	}
	if ((r = json_object_get(root, "result")) == NULL || !json_is_object(r))
		r = root;
	b->revision = etcd_header_revision(r);
	info->created = etcd_json_flag(r, "created");
	info->canceled = etcd_json_flag(r, "canceled");
	info->fragment = etcd_json_flag(r, "fragment");
	info->watch_id = etcd_json_int64(r, "watch_id");
	info->compact_revision = etcd_json_int64(r, "compact_revision");
	if ((s = json_string_value(json_object_get(r, "cancel_reason"))))
		snprintf(info->cancel_reason, sizeof(info->cancel_reason),
		    "%s", s);
	evs = json_object_get(r, "events");
	for (i = 0; json_is_array(evs) && i < json_array_size(evs); i++) {
		j = json_array_get(evs, i);
		e = LR_ARRAY_PUSH(ev->v, ev->n, ev->cap);
		memset(e, 0, sizeof(*e));
		s = json_string_value(json_object_get(j, "type"));
		e->type = s && strcmp(s, "DELETE") == 0 ? ETCD_EV_DELETE :
		    ETCD_EV_PUT;
		if ((rc = etcd_kv_decode(json_object_get(j, "kv"), &e->kv,
		    err)) < 0)
			goto bad_event;
		pk = json_object_get(j, "prev_kv");
		if (pk != NULL && (rc = etcd_kv_decode(pk, &e->prev_kv,
		    err)) < 0)
			goto bad_event;
	}
	if (ev->n > 0) {
		b->kind = ETCD_WATCH_EVENTS;
		b->events = ev->v;
		b->nevents = ev->n;
	}
	goto out;
bad_event:
	etcd_events_clear(ev);
	memset(b, 0, sizeof(*b));
	{
		char why[sizeof(err->msg)];

		memcpy(why, err->msg, sizeof(why));
		lr_err_set(err, LR_EETCD, "etcd %s at '%s': malformed watch "
		    "event: %s", what, endpoint, why);
	}
out:
	json_decref(root);
	return rc;
}

int
etcd_watch_cancel_error(const struct etcd_watch_info *info, const char *what,
    const char *endpoint, struct lr_err *err)
{
	const char *r = info->cancel_reason, *hint;
	long code = 0;
	int rc;

	if (strstr(r, "PermissionDenied") != NULL)
		code = ETCD_CODE_DENIED;
	else if (strstr(r, "Unauthenticated") != NULL)
		code = ETCD_CODE_UNAUTH;
	rc = map_etcd_error(r, code, 0, &hint);
	if (rc == LR_ENOENT || rc == LR_EUNREACH)
		rc = LR_EETCD;
	lr_err_set(err, rc, "etcd %s at '%s': watch canceled: %s", what,
	    endpoint, r[0] ? r : "no reason given");
	if (hint)
		lr_err_hint(err, "%s", hint);
	return rc;
}

void
etcd_watch_resync_req(const struct etcd_watch_req *w,
    struct etcd_range_req *out)
{
	memset(out, 0, sizeof(*out));
	out->key = w->key;
	out->flags = w->flags & ETCD_PREFIX;
	out->range_end = w->range_end;
}
