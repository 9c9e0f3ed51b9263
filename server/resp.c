/*
 * What handlers call (srv.h): request accessors, responses in the one
 * error shape, JSON bodies, ETag/If-Match and pagination.  Pure: no lws,
 * no loop, no etcd.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "buf.h"
#include "err.h"
#include "srv-int.h"
#include "suggest.h"
#include "xalloc.h"

static const char *
kv_find(const struct srv_kv *kv, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(kv[i].name, name) == 0)
			return kv[i].value;
	return NULL;
}

const char *
srv_param(const struct srv_req *req, const char *name)
{
	return kv_find(req->params, req->nparams, name);
}

const char *
srv_query(const struct srv_req *req, const char *name)
{
	return kv_find(req->query, req->nquery, name);
}

const char *
srv_header(const struct srv_req *req, const char *name)
{
	return kv_find(req->headers, req->nheaders, name);
}

void
srv_req_audit(struct srv_req *req, const char *resource, json_t *detail)
{
	if (resource != NULL) {
		free(req->audit_resource);
		req->audit_resource = lr_xstrdup(resource);	/* req's */
	}
	if (detail != NULL) {
		json_decref(req->audit_detail);
		req->audit_detail = detail;			/* stolen */
	}
}

static void
set_body(struct srv_resp *r, int status, const char *ctype, char *body,
    size_t len)
{
	free(r->body);
	r->status = status;
	r->content_type = ctype;
	r->body = body;
	r->body_len = len;
}

void
srv_resp_json(struct srv_resp *r, int status, json_t *body)
{
	char *s;
	size_t n;

	s = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(body);
	if (s == NULL)
		LR_BUG("cannot encode a response body");
	n = strlen(s);
	s = lr_xrealloc(s, n + 2);
	s[n++] = '\n';
	s[n] = '\0';
	set_body(r, status, "application/json", s, n);	/* r's */
}

void
srv_resp_bytes(struct srv_resp *r, int status, const char *ctype,
    const void *p, size_t n)
{
	char *b = lr_xmalloc(n + 1);	/* r's */

	if (n)
		memcpy(b, p, n);
	b[n] = '\0';
	set_body(r, status, ctype, b, n);
}

void
srv_resp_header(struct srv_resp *r, const char *name, const char *value)
{
	size_t i;

	for (i = 0; i < r->nheaders; i++)
		if (strcasecmp(r->headers[i].name, name) == 0) {
			free(r->headers[i].value);
			r->headers[i].value = lr_xstrdup(value);
			return;
		}
	if (r->nheaders == sizeof(r->headers) / sizeof(r->headers[0]))
		LR_BUG("more than %zu response headers", r->nheaders);
	r->headers[r->nheaders].name = name;
	r->headers[r->nheaders++].value = lr_xstrdup(value);	/* r's */
}

void
srv_resp_error(struct srv_resp *r, int status, const char *code,
    const char *hint, const char *fmt, ...)
{
	char msg[1024];
	struct lr_buf m = LR_BUF_INIT, h = LR_BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/*
	 * Made visible: a message may quote the request (a name, jansson's
	 * error text) or be cut inside a character, and a string that is not
	 * UTF-8 cannot be encoded (fuzz_server: an abort from one request)
	 */
	lr_buf_add_visible(&m, msg, strlen(msg), 0);
	if (hint != NULL && *hint)
		lr_buf_add_visible(&h, hint, strlen(hint), 0);
	srv_resp_json(r, status, json_pack("{s:{s:s,s:s,s:s?}}", "error",
	    "code", code, "message", m.s ? m.s : "", "hint", h.s));
	lr_buf_release(&m);
	lr_buf_release(&h);
}

void
srv_resp_lr_err(struct srv_resp *r, const struct lr_err *err)
{
	int status;
	const char *code;

	switch (err->code) {
	case LR_EINVAL:	status = 400; code = "bad_request"; break;
	case LR_ENOENT:	status = 404; code = "not_found"; break;
	case LR_EAUTH:	status = 401; code = "unauthorized"; break;
	case LR_EPERM:	status = 403; code = "forbidden"; break;
	case LR_ECONFLICT:
	case LR_EEXIST:
	case LR_EBUSY:	status = 409; code = "conflict"; break;
	case LR_ETOOBIG: status = 413; code = "too_large"; break;
	case LR_EUNREACH: status = 503; code = "unavailable"; break;
	default:	status = 500; code = "internal"; break;
	}
	srv_resp_error(r, status, code, err->hint, "%s",
	    err->msg[0] ? err->msg : "internal error");
}

void
srv_resp_release(struct srv_resp *r)
{
	size_t i;

	free(r->body);
	for (i = 0; i < r->nheaders; i++)
		free(r->headers[i].value);
	memset(r, 0, sizeof(*r));
}

int
srv_body_object(const struct srv_req *req, struct srv_resp *resp,
    const char *const *allowed, json_t **out)
{
	json_error_t je;
	json_t *o;
	const char *k, *near;
	json_t *v;
	struct lr_buf list = LR_BUF_INIT;
	size_t n, i;

	if (req->body_len == 0) {
		srv_resp_error(resp, 400, "bad_request", "send a JSON object "
		    "with Content-Type: application/json",
		    "the request has no body");
		return -1;
	}
	o = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &je);
	if (o == NULL) {
		srv_resp_error(resp, 400, "bad_request", NULL,
		    "invalid JSON at line %d:%d: %s", je.line, je.column,
		    je.text);
		return -1;
	}
	if (!json_is_object(o)) {
		json_decref(o);
		srv_resp_error(resp, 400, "bad_request", NULL,
		    "the body must be a JSON object");
		return -1;
	}
	for (n = 0; allowed[n] != NULL; n++)
		;
	json_object_foreach(o, k, v) {
		for (i = 0; i < n; i++)
			if (strcmp(allowed[i], k) == 0)
				break;
		if (i < n)
			continue;
		for (i = 0; i < n; i++)
			lr_buf_printf(&list, "%s%s", i ? ", " : "", allowed[i]);
		near = lr_suggest(k, allowed, n);
		if (near != NULL)
			srv_resp_error(resp, 400, "bad_request", NULL,
			    "unknown field '%s' (did you mean '%s'? allowed: "
			    "%s)", k, near, list.s ? list.s : "none");
		else
			srv_resp_error(resp, 400, "bad_request", NULL,
			    "unknown field '%s' (allowed: %s)", k,
			    list.s ? list.s : "none");
		lr_buf_release(&list);
		json_decref(o);
		return -1;
	}
	*out = o;	/* the caller's */
	return 0;
}

void
srv_resp_etag(struct srv_resp *r, int64_t mod_revision)
{
	char v[32];

	snprintf(v, sizeof(v), "\"%" PRId64 "\"", mod_revision);
	srv_resp_header(r, "ETag", v);
}

int64_t
srv_if_match(const struct srv_req *req, struct srv_resp *resp)
{
	const char *h = srv_header(req, "if-match");
	char *end;
	long long v;
	size_t n;

	if (h == NULL || strcmp(h, "*") == 0)
		return 0;
	n = strlen(h);
	if (n >= 3 && h[0] == '"' && h[n - 1] == '"' && h[1] >= '0' &&
	    h[1] <= '9') {
		errno = 0;
		v = strtoll(h + 1, &end, 10);
		if (errno == 0 && end == h + n - 1 && v > 0)
			return (int64_t)v;
	}
	srv_resp_error(resp, 400, "bad_request", "send back the ETag of the "
	    "resource's last GET, quoted: If-Match: \"1234\"",
	    "If-Match '%.64s' is not an ETag of this server", h);
	return -1;
}

int
srv_page_args(const struct srv_req *req, struct srv_resp *resp,
    size_t *limit, const char **after)
{
	const char *l = srv_query(req, "limit");
	char *end;
	long v;

	*limit = 100;
	*after = srv_query(req, "after");
	if (*after != NULL && **after == '\0')
		*after = NULL;
	if (l == NULL)
		return 0;
	errno = 0;
	v = strtol(l, &end, 10);
	if (errno || *l == '\0' || *end != '\0' || v < 1 || v > 1000) {
		srv_resp_error(resp, 400, "bad_request", "limit is a number "
		    "from 1 to 1000", "invalid limit '%.32s'", l);
		return -1;
	}
	*limit = (size_t)v;
	return 0;
}

void
srv_random(void *p, size_t n)
{
	if (getrandom(p, n, 0) != (ssize_t)n)
		LR_BUG("getrandom failed");
}

void
srv_request_id(const char *given, char out[65])
{
	unsigned char r[16];
	size_t i, n;

	if (given != NULL && (n = strlen(given)) >= 1 && n <= 64 &&
	    strspn(given, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789-") == n) {
		memcpy(out, given, n + 1);
		return;
	}
	srv_random(r, sizeof(r));
	for (i = 0; i < sizeof(r); i++)
		snprintf(out + 2 * i, 3, "%02x", r[i]);
}
