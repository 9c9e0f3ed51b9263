/*
 * http steps: one request with curl's easy API, on the libuv thread pool
 * (the agent's own etcd traffic uses the multi API on the loop; a step is
 * a single blocking request, which is what the pool is for).  The answer's
 * status and the start of its body go to the log and the tail; success is
 * expect_status, or any 2xx when none is given, and counts as a change.
 * Redirects are not followed: a 301 is an answer like any other.
 *
 * curl_global_init is the process's business (the agent's etcd client
 * does it at startup).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "buf.h"
#include "err.h"
#include "fields.h"
#include "step-int.h"
#include "xalloc.h"

#define HTTP_KEEP	65536	/* bytes of the answer kept in memory */
#define HTTP_SHOW	1024	/* bytes of it shown in the log and tail */

int
step_http_parse(const json_t *step, struct step_http_spec *hs,
    struct lr_err *err)
{
	const json_t *v, *hv;
	const char *s, *k;
	size_t n = 0;

	memset(hs, 0, sizeof(*hs));
	v = json_object_get(step, PROTO_STEP_URL);
	if (!json_is_string(v) || json_string_length(v) == 0)
		return lr_err_set(err, LR_EINVAL, "http step has no 'url'");
	hs->url = lr_xstrdup(json_string_value(v));
	v = json_object_get(step, PROTO_STEP_METHOD);
	s = v && !json_is_null(v) ? json_string_value(v) : "GET";
	if (s == NULL || *s == '\0')
		return lr_err_set(err, LR_EINVAL, "'method' of http step must "
		    "be a string such as \"POST\"");
	hs->method = lr_xstrdup(s);
	for (n = 0; hs->method[n]; n++) {
		if (!isalpha((unsigned char)hs->method[n]))
			return lr_err_set(err, LR_EINVAL, "'method' of http "
			    "step is not a method: '%s'", s);
		hs->method[n] = (char)toupper((unsigned char)hs->method[n]);
	}
	if ((v = json_object_get(step, PROTO_STEP_BODY)) != NULL &&
	    !json_is_null(v)) {
		if (!json_is_string(v))
			return lr_err_set(err, LR_EINVAL, "'body' of http "
			    "step must be a string");
		hs->body_len = json_string_length(v);
		hs->body = lr_xstrndup(json_string_value(v), hs->body_len);
	}
	v = json_object_get(step, PROTO_STEP_HEADERS);
	if (v && !json_is_null(v) && !json_is_object(v))
		return lr_err_set(err, LR_EINVAL, "'headers' of http step "
		    "must be an object of strings");
	hs->headers = lr_xcalloc(json_object_size(v) + 1, sizeof(char *));
	n = 0;
	json_object_foreach((json_t *)v, k, hv) {
		if (!json_is_string(hv) || strpbrk(k, ":\r\n") ||
		    strpbrk(json_string_value(hv), "\r\n"))
			return lr_err_set(err, LR_EINVAL, "header '%s' of http "
			    "step must be a one-line string", k);
		hs->headers[n++] = lr_xasprintf("%s: %s", k,
		    json_string_value(hv));
	}
	if ((v = json_object_get(step, PROTO_STEP_EXPECT_STATUS)) != NULL &&
	    !json_is_null(v)) {
		if (!json_is_integer(v) || json_integer_value(v) < 100 ||
		    json_integer_value(v) > 599)
			return lr_err_set(err, LR_EINVAL, "'expect_status' of "
			    "http step must be a status such as 200");
		hs->expect_status = (long)json_integer_value(v);
	}
	v = json_object_get(step, PROTO_STEP_TIMEOUT_MS);
	if (json_is_integer(v) && json_integer_value(v) > 0)
		hs->timeout_ms = (long)json_integer_value(v);
	return 0;
}

void
step_http_release(struct step_http_spec *hs)
{
	size_t i;

	if (hs == NULL)
		return;
	for (i = 0; hs->headers && hs->headers[i]; i++)
		free(hs->headers[i]);
	free(hs->headers);
	free(hs->url);
	free(hs->method);
	free(hs->body);
	memset(hs, 0, sizeof(*hs));
}

struct answer {
	struct lr_buf	 body;
	size_t		 total;
};

static size_t
on_data(char *p, size_t size, size_t nmemb, void *arg)
{
	struct answer *a = arg;
	size_t n = size * nmemb;

	if (a->body.len < HTTP_KEEP)
		lr_buf_add(&a->body, p, n < HTTP_KEEP - a->body.len ? n :
		    HTTP_KEEP - a->body.len);
	a->total += n;
	return n;
}

/* The URL without its user:password@, for messages. */
static char *
url_shown(const char *url)
{
	const char *s = strstr(url, "://"), *at, *end;

	if (s == NULL)
		return lr_xstrdup(url);
	s += 3;
	end = s + strcspn(s, "/?#");
	at = memchr(s, '@', (size_t)(end - s));
	if (at == NULL)
		return lr_xstrdup(url);
	return lr_xasprintf("%.*s%s", (int)(s - url), url, at + 1);
}

void
step_http_work(struct step_work *w)
{
	const struct step_http_spec *hs = w->http;
	struct answer a = { LR_BUF_INIT, 0 };
	struct curl_slist *hdrs = NULL, *t;
	char errbuf[CURL_ERROR_SIZE] = "", *shown;
	long status = 0;
	size_t i, n;
	CURL *c;
	CURLcode rc;

	w->status = AGENT_STEP_FAILED;
	shown = url_shown(hs->url);
	if ((c = curl_easy_init()) == NULL) {
		step_work_fail(w, "http %s '%s': cannot start curl",
		    hs->method, shown);
		free(shown);
		return;
	}
	for (i = 0; hs->headers[i]; i++) {
		if ((t = curl_slist_append(hdrs, hs->headers[i])) == NULL)
			LR_BUG("out of memory");
		hdrs = t;
	}
	curl_easy_setopt(c, CURLOPT_URL, hs->url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP |
	    CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(c, CURLOPT_USERAGENT, "leura-agent/" LEURA_VERSION);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &a);
	if (hs->timeout_ms > 0)
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, hs->timeout_ms);
	if (hdrs)
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	if (strcmp(hs->method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	else if (hs->body || strcmp(hs->method, "POST") == 0) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)hs->body_len);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, hs->body ? hs->body :
		    "");
	}
	if (strcmp(hs->method, "GET") != 0 && strcmp(hs->method, "HEAD") !=
	    0 && strcmp(hs->method, "POST") != 0)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, hs->method);
	else if (strcmp(hs->method, "GET") == 0 && hs->body)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "GET");

	if ((rc = curl_easy_perform(c)) != CURLE_OK) {
		step_work_fail(w, "http %s '%s': %s", hs->method, shown,
		    errbuf[0] ? errbuf : curl_easy_strerror(rc));
		lr_buf_printf(&w->out, "%s %s: %s\n", hs->method, shown,
		    w->error);
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	lr_buf_printf(&w->out, "%s %s: status %ld\n", hs->method, shown,
	    status);
	n = a.body.len < HTTP_SHOW ? a.body.len : HTTP_SHOW;
	if (n) {
		lr_buf_add(&w->out, a.body.s, n);
		if (a.body.s[n - 1] != '\n')
			lr_buf_addc(&w->out, '\n');
	}
	if (a.total > n)
		lr_buf_printf(&w->out, "[%zu more bytes]\n", a.total - n);
	if (hs->expect_status ? status == hs->expect_status :
	    status >= 200 && status <= 299)
		w->status = AGENT_STEP_CHANGED;
	else if (hs->expect_status)
		step_work_fail(w, "http %s '%s' answered %ld, want %ld",
		    hs->method, shown, status, hs->expect_status);
	else
		step_work_fail(w, "http %s '%s' answered %ld, want 2xx",
		    hs->method, shown, status);
out:
	curl_easy_cleanup(c);
	curl_slist_free_all(hdrs);
	lr_buf_release(&a.body);
	free(shown);
}
