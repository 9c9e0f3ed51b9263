/*
 * The REST client of leurad (api.h): libcurl's easy interface, one handle
 * per client, and the mapping of HTTP answers to struct lr_err.  Blocking
 * by design: the CLI calls it; nothing on a libuv loop may.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "api.h"
#include "buf.h"
#include "json.h"
#include "xalloc.h"

#define API_MAX_ANSWER		(32L * 1024 * 1024)	/* bytes */
#define API_CONNECT_MS		10000L
/* an apply through the server waits for the apply lock and etcd */
#define API_TIMEOUT_MS		(10L * 60 * 1000)

struct rec_api {
	CURL	*h;
	char	*url;		/* owned, no trailing '/' */
	char	*auth;		/* owned: "Authorization: Bearer TOKEN" */
	char	*cacert;	/* owned; NULL: the system's CAs */
	char	*if_match;	/* owned: for the next call only */
	char	*etag;		/* owned: of the last 2xx answer */
	char	*retry_after;	/* owned: of the last answer */
	struct lr_buf body;	/* the answer being read */
	bool	 too_big;
	json_t	*err_body;	/* owned: the last error answer, parsed */
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void
curl_init_once(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		LR_BUG("curl_global_init failed");
}

/* Wipe and free a string holding a secret. */
static void
free_secret(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

int
rec_api_open(const char *url, const char *token, const char *cacert,
    struct rec_api **out, struct lr_err *err)
{
	struct rec_api *api;
	size_t n;

	if (url == NULL || (strncmp(url, "http://", 7) != 0 &&
	    strncmp(url, "https://", 8) != 0)) {
		lr_err_set(err, LR_EINVAL, "server URL '%s' is not http:// "
		    "or https://", url ? url : "");
		return lr_err_hint(err, "give leurad's address, e.g. "
		    "--server http://127.0.0.1:7480");
	}
	pthread_once(&curl_once, curl_init_once);
	/* api and its strings are freed by rec_api_free */
	api = lr_xcalloc(1, sizeof(*api));
	api->url = lr_xstrdup(url);
	n = strlen(api->url);
	while (n > 0 && api->url[n - 1] == '/')
		api->url[--n] = '\0';
	if (token != NULL && *token != '\0')
		api->auth = lr_xasprintf("Authorization: Bearer %s", token);
	if (cacert != NULL && *cacert != '\0')
		api->cacert = lr_xstrdup(cacert);
	if ((api->h = curl_easy_init()) == NULL)
		LR_BUG("curl_easy_init failed");
	*out = api;
	return 0;
}

void
rec_api_free(struct rec_api *api)
{
	if (api == NULL)
		return;
	curl_easy_cleanup(api->h);
	free(api->url);
	free_secret(api->auth);
	free(api->cacert);
	free(api->if_match);
	free(api->etag);
	free(api->retry_after);
	json_decref(api->err_body);
	lr_buf_release(&api->body);
	free(api);
}

const char *
rec_api_url(const struct rec_api *api)
{
	return api->url;
}

void
rec_api_if_match(struct rec_api *api, const char *etag)
{
	free(api->if_match);
	api->if_match = etag != NULL ? lr_xstrdup(etag) : NULL;
}

const char *
rec_api_etag(const struct rec_api *api)
{
	return api->etag;
}

const json_t *
rec_api_error_body(const struct rec_api *api)
{
	return api->err_body;
}

/* ---- paths ---- */

static void
add_escaped(struct rec_api *api, struct lr_buf *b, const char *s)
{
	char *e;

	if ((e = curl_easy_escape(api->h, s, 0)) == NULL)
		LR_BUG("curl_easy_escape failed");
	lr_buf_adds(b, e);
	curl_free(e);
}

char *
rec_api_path(struct rec_api *api, const char *fmt, ...)
{
	struct lr_buf b = LR_BUF_INIT;
	const char *p;
	va_list ap;

	va_start(ap, fmt);
	for (p = fmt; *p != '\0'; p++) {
		if (p[0] == '%' && p[1] == 's') {
			add_escaped(api, &b, va_arg(ap, const char *));
			p++;
		} else if (p[0] == '%' && p[1] == '%') {
			lr_buf_addc(&b, '%');
			p++;
		} else
			lr_buf_addc(&b, *p);
	}
	va_end(ap);
	return lr_buf_detach(&b, NULL);
}

void
rec_api_query_add(struct rec_api *api, char **path, const char *k,
    const char *v)
{
	struct lr_buf b = LR_BUF_INIT;

	if (v == NULL || *v == '\0')
		return;
	lr_buf_adds(&b, *path);
	lr_buf_addc(&b, strchr(*path, '?') != NULL ? '&' : '?');
	add_escaped(api, &b, k);
	lr_buf_addc(&b, '=');
	add_escaped(api, &b, v);
	free(*path);
	*path = lr_buf_detach(&b, NULL);
}

/* ---- one call ---- */

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	struct rec_api *api = arg;

	if (api->body.len + n > (size_t)API_MAX_ANSWER) {
		api->too_big = true;
		return 0;	/* curl stops with CURLE_WRITE_ERROR */
	}
	lr_buf_add(&api->body, p, size * n);
	return size * n;
}

/* Keep the ETag and Retry-After of the answer. */
static size_t
on_header(char *p, size_t size, size_t n, void *arg)
{
	struct rec_api *api = arg;
	size_t len = size * n, k;
	char **dst = NULL;

	if (len > 5 && strncasecmp(p, "etag:", 5) == 0) {
		dst = &api->etag;
		k = 5;
	} else if (len > 12 && strncasecmp(p, "retry-after:", 12) == 0) {
		dst = &api->retry_after;
		k = 12;
	} else
		return len;
	while (k < len && (p[k] == ' ' || p[k] == '\t'))
		k++;
	while (len > k && (p[len - 1] == '\r' || p[len - 1] == '\n' ||
	    p[len - 1] == ' '))
		len--;
	free(*dst);
	*dst = lr_xstrndup(p + k, len - k);
	return size * n;
}

/* The transport failed (no HTTP answer): which LR_E* and why. */
static int
transport_error(struct rec_api *api, CURLcode cc, const char *errbuf,
    struct lr_err *err)
{
	const char *why = *errbuf ? errbuf : curl_easy_strerror(cc);
	char os[128];
	long oserr = 0;

	/* "connection refused" says more than curl's long sentence */
	curl_easy_getinfo(api->h, CURLINFO_OS_ERRNO, &oserr);
	if (cc == CURLE_COULDNT_CONNECT && oserr != 0) {
		snprintf(os, sizeof(os), "%s", strerror((int)oserr));
		os[0] = (char)tolower((unsigned char)os[0]);
		why = os;
	}
	switch (cc) {
	case CURLE_WRITE_ERROR:
		if (api->too_big)
			return lr_err_set(err, LR_ETOOBIG, "the answer of "
			    "leurad at '%s' is over %ld MiB", api->url,
			    API_MAX_ANSWER >> 20);
		break;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
		lr_err_set(err, LR_EUNREACH, "cannot reach leurad at '%s': "
		    "%s", api->url, why);
		return lr_err_hint(err, "is leurad running at %s? set the "
		    "server with --server, LEURA_SERVER or server.url in the "
		    "config file", api->url);
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
		lr_err_set(err, LR_ETLS, "TLS with leurad at '%s' failed: "
		    "%s", api->url, why);
		return lr_err_hint(err, "give the CA that signed leurad's "
		    "certificate as server.cacert in the config file, or "
		    "LEURA_SERVER_CACERT");
	default:
		break;
	}
	return lr_err_set(err, LR_EIO, "request to leurad at '%s' failed: "
	    "%s", api->url, why);
}

/* An HTTP error answer: the server's message and hint, our class. */
static int
http_error(struct rec_api *api, long status, struct lr_err *err)
{
	json_t *root, *e;
	const char *msg = NULL, *hint = NULL, *code = NULL;
	int rc;

	root = json_loadb(api->body.s ? api->body.s : "", api->body.len, 0,
	    NULL);
	if ((e = json_object_get(root, "error")) != NULL) {
		msg = lr_json_strn(e, "message");
		hint = lr_json_strn(e, "hint");
		code = lr_json_strn(e, "code");
	}
	if (status == 400 || status == 422)
		rc = LR_EINVAL;
	else if (status == 401)
		rc = LR_EAUTH;
	else if (status == 403)
		rc = LR_EPERM;
	else if (status == 404)
		rc = LR_ENOENT;
	else if (status == 409 || status == 412)
		rc = LR_ECONFLICT;
	else if (status == 413)
		rc = LR_ETOOBIG;
	else if (status == 429)
		rc = LR_EBUSY;
	else
		rc = LR_EIO;
	if (msg != NULL && *msg != '\0')
		lr_err_set(err, rc, "%s", msg);
	else
		lr_err_set(err, rc, "leurad at '%s' answered HTTP %ld%s%s",
		    api->url, status, code ? ": " : "", code ? code : "");
	/* a token refused (expired, revoked): log in again */
	if (status == 401 && api->auth != NULL)
		lr_err_hint(err, "log in: leura login --server %s", api->url);
	else if (status == 429)
		lr_err_hint(err, "%s%stry again in %s seconds",
		    hint ? hint : "", hint && *hint ? "; " : "",
		    api->retry_after ? api->retry_after : "a few");
	else if (hint != NULL && *hint != '\0')
		lr_err_hint(err, "%s", hint);
	else if (status >= 500)
		lr_err_hint(err, "leurad failed; its log says why "
		    "(journalctl -u leurad)");
	/* kept for rec_api_error_body: an error answer holds no secret */
	api->err_body = json_is_object(root) ? root : NULL;
	if (api->err_body == NULL)
		json_decref(root);
	return rc;
}

int
rec_api_call(struct rec_api *api, const char *method, const char *path,
    const json_t *body, json_t **out, long *status, struct lr_err *err)
{
	struct curl_slist *hdrs = NULL;
	char errbuf[CURL_ERROR_SIZE], *url, *s = NULL, *im = NULL;
	json_t *ans;
	json_error_t je;
	long code = 0;
	CURLcode cc;
	int rc = 0;

	if (status != NULL)
		*status = 0;
	lr_buf_reset(&api->body);
	api->too_big = false;
	json_decref(api->err_body);
	api->err_body = NULL;
	free(api->etag);
	free(api->retry_after);
	api->etag = api->retry_after = NULL;
	curl_easy_reset(api->h);
	url = lr_xasprintf("%s%s", api->url, path);
	curl_easy_setopt(api->h, CURLOPT_URL, url);
	curl_easy_setopt(api->h, CURLOPT_CUSTOMREQUEST, method);
	if (body != NULL) {
		/* s: freed below */
		s = json_dumps(body, JSON_COMPACT);
		if (s == NULL)
			LR_BUG("json_dumps failed");
		curl_easy_setopt(api->h, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)strlen(s));
		curl_easy_setopt(api->h, CURLOPT_POSTFIELDS, s);
		hdrs = curl_slist_append(hdrs,
		    "Content-Type: application/json");
	} else if (strcmp(method, "GET") != 0 &&
	    strcmp(method, "DELETE") != 0) {
		curl_easy_setopt(api->h, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)0);
		curl_easy_setopt(api->h, CURLOPT_POSTFIELDS, "");
	}
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (api->auth != NULL)
		hdrs = curl_slist_append(hdrs, api->auth);
	if (api->if_match != NULL) {
		im = lr_xasprintf("If-Match: %s", api->if_match);
		hdrs = curl_slist_append(hdrs, im);
		free(im);
		rec_api_if_match(api, NULL);
	}
	if (hdrs == NULL)
		LR_BUG("curl_slist_append failed");
	curl_easy_setopt(api->h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(api->h, CURLOPT_USERAGENT, "leura");
	if (api->cacert != NULL)
		curl_easy_setopt(api->h, CURLOPT_CAINFO, api->cacert);
	curl_easy_setopt(api->h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(api->h, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(api->h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(api->h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(api->h, CURLOPT_CONNECTTIMEOUT_MS, API_CONNECT_MS);
	curl_easy_setopt(api->h, CURLOPT_TIMEOUT_MS, API_TIMEOUT_MS);
	curl_easy_setopt(api->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(api->h, CURLOPT_NOPROXY, "127.0.0.1,localhost,::1");
	curl_easy_setopt(api->h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(api->h, CURLOPT_WRITEDATA, api);
	curl_easy_setopt(api->h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(api->h, CURLOPT_HEADERDATA, api);
	errbuf[0] = '\0';
	curl_easy_setopt(api->h, CURLOPT_ERRORBUFFER, errbuf);
	cc = curl_easy_perform(api->h);
	/* the handle keeps no pointer to the headers once reset */
	curl_easy_setopt(api->h, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hdrs);
	free(s);
	if (cc != CURLE_OK) {
		rc = transport_error(api, cc, errbuf, err);
		goto out;
	}
	curl_easy_getinfo(api->h, CURLINFO_RESPONSE_CODE, &code);
	if (status != NULL)
		*status = code;
	if (code < 200 || code > 299) {
		rc = http_error(api, code, err);
		goto out;
	}
	if (api->body.len == 0)
		ans = json_null();
	else if ((ans = json_loadb(api->body.s, api->body.len,
	    JSON_DECODE_ANY, &je)) == NULL) {
		rc = lr_err_set(err, LR_EIO, "leurad at '%s' answered %s %s "
		    "with bad JSON: %s", api->url, method, path, je.text);
		goto out;
	}
	*out = ans;
out:
	free(url);
	/* the answer may hold a token (login, tokens create) */
	if (api->body.s != NULL)
		explicit_bzero(api->body.s, api->body.len);
	lr_buf_reset(&api->body);
	return rc;
}

/* ---- a streamed answer ---- */

struct stream_ctx {
	struct rec_api	*api;
	rec_api_sink	*fn;
	void		*arg;
	int		 ok;		/* -1 unknown, 0 an error answer, 1 2xx */
	bool		 stopped;
};

static size_t
on_stream(char *p, size_t size, size_t n, void *arg)
{
	struct stream_ctx *x = arg;
	long code = 0;

	if (x->ok < 0) {
		curl_easy_getinfo(x->api->h, CURLINFO_RESPONSE_CODE, &code);
		x->ok = code >= 200 && code <= 299;
	}
	if (!x->ok)
		return on_body(p, size, n, x->api);
	if (x->fn(p, size * n, x->arg) < 0) {
		x->stopped = true;
		return 0;
	}
	return size * n;
}

int
rec_api_stream(struct rec_api *api, const char *path, rec_api_sink *fn,
    void *arg, long *status, struct lr_err *err)
{
	struct stream_ctx x = { api, fn, arg, -1, false };
	struct curl_slist *hdrs = NULL;
	char errbuf[CURL_ERROR_SIZE], *url;
	long code = 0;
	CURLcode cc;
	int rc = 0;

	if (status != NULL)
		*status = 0;
	lr_buf_reset(&api->body);
	api->too_big = false;
	free(api->etag);
	free(api->retry_after);
	api->etag = api->retry_after = NULL;
	curl_easy_reset(api->h);
	url = lr_xasprintf("%s%s", api->url, path);
	curl_easy_setopt(api->h, CURLOPT_URL, url);
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (api->auth != NULL)
		hdrs = curl_slist_append(hdrs, api->auth);
	if (hdrs == NULL)
		LR_BUG("curl_slist_append failed");
	curl_easy_setopt(api->h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(api->h, CURLOPT_USERAGENT, "leura");
	if (api->cacert != NULL)
		curl_easy_setopt(api->h, CURLOPT_CAINFO, api->cacert);
	curl_easy_setopt(api->h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(api->h, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(api->h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(api->h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(api->h, CURLOPT_CONNECTTIMEOUT_MS, API_CONNECT_MS);
	curl_easy_setopt(api->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(api->h, CURLOPT_NOPROXY, "127.0.0.1,localhost,::1");
	curl_easy_setopt(api->h, CURLOPT_WRITEFUNCTION, on_stream);
	curl_easy_setopt(api->h, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(api->h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(api->h, CURLOPT_HEADERDATA, api);
	errbuf[0] = '\0';
	curl_easy_setopt(api->h, CURLOPT_ERRORBUFFER, errbuf);
	cc = curl_easy_perform(api->h);
	curl_easy_setopt(api->h, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hdrs);
	if (x.stopped) {
		rc = lr_err_set(err, LR_ECANCELED, "stopped reading %s", path);
		goto out;
	}
	if (cc != CURLE_OK) {
		rc = transport_error(api, cc, errbuf, err);
		goto out;
	}
	curl_easy_getinfo(api->h, CURLINFO_RESPONSE_CODE, &code);
	if (status != NULL)
		*status = code;
	if (code < 200 || code > 299)
		rc = http_error(api, code, err);
out:
	free(url);
	lr_buf_reset(&api->body);
	return rc;
}
