/*
 * A blocking JSON client of leurad's REST API (/v1, docs/api/): what
 * `leura login`, `users`, `grant`, `events` and the plan and apply
 * through the server call.  One curl easy handle per client, reused
 * between calls (one connection); TLS verification on (the server's CA
 * from the config), no redirects, connect and total timeouts, answers
 * capped in size.
 *
 * Errors: leurad's one error shape {"error":{"code","message","hint"}}
 * becomes a struct lr_err whose message and hint are the server's, and
 * whose code says the class: 400 LR_EINVAL, 401 LR_EAUTH (with a token:
 * the hint says log in),
 * 403 LR_EPERM, 404 LR_ENOENT, 409 and 412 LR_ECONFLICT, 413 LR_ETOOBIG,
 * 429 LR_EBUSY (the hint gives Retry-After), 5xx LR_EIO; a server that
 * does not answer LR_EUNREACH ("is leurad running at URL?"), a TLS
 * failure LR_ETLS.  The message and hint are the server's words as sent:
 * whoever prints them makes them visible (lr_buf_add_visible).
 *
 * The token travels in the Authorization header only; it is never put in
 * a URL, a message or a log line.  Nothing here prints.  One client per
 * thread.
 */
#ifndef REC_API_H
#define REC_API_H

#include <jansson.h>

#include "err.h"

struct rec_api;

/*
 * A client of the server at url ("http://127.0.0.1:7480", no path),
 * sending token (may be NULL: anonymous calls only) and trusting the CA
 * file cacert (may be NULL: the system's CAs).  No network yet.  LR_EINVAL
 * for a URL that is not http:// or https://.  Free with rec_api_free.
 */
int	rec_api_open(const char *url, const char *token, const char *cacert,
	    struct rec_api **out, struct lr_err *err);
void	rec_api_free(struct rec_api *api);	/* NULL is fine */
/* The server's URL as given to rec_api_open (borrowed from api). */
const char *rec_api_url(const struct rec_api *api);

/*
 * One request: method ("GET", "POST", ...) on path (starting with '/',
 * query included, its parts escaped: rec_api_path), with body as JSON
 * (may be NULL: none).  On a 2xx answer returns 0 with *out the answer
 * (the caller's; json null for an empty one); on any other answer or
 * failure returns LR_E* as above with err set, and *out untouched.
 * *status (may be NULL) gets the HTTP status either way (0 when none
 * came).
 */
int	rec_api_call(struct rec_api *api, const char *method,
	    const char *path, const json_t *body, json_t **out, long *status,
	    struct lr_err *err);

/*
 * A streamed GET of path (a text or a file, e.g. a run's log followed
 * live): on a 2xx answer each piece of the body goes to fn as it
 * arrives (fn returns -1 to stop: LR_ECANCELED), and 0 is returned once
 * the server ends it; no total timeout applies (a followed step may be
 * silent for long).  Any other answer or failure: LR_E* with err set as
 * for rec_api_call.  *status as for rec_api_call.
 */
typedef int rec_api_sink(const void *p, size_t n, void *arg);
int	rec_api_stream(struct rec_api *api, const char *path,
	    rec_api_sink *fn, void *arg, long *status, struct lr_err *err);

/*
 * Send "If-Match: etag" with the next call only (etag may be NULL: none);
 * the ETag of the last 2xx answer, NULL when it had none (borrowed until
 * the next call).
 */
void	rec_api_if_match(struct rec_api *api, const char *etag);
const char *rec_api_etag(const struct rec_api *api);

/*
 * The body of the last call's answer when it was an HTTP error and a
 * JSON object ({"error":{...}} and whatever else the route adds, such
 * as the "recent" run of a 409 recent_run), else NULL.  Borrowed until
 * the next call or rec_api_free.
 */
const json_t *rec_api_error_body(const struct rec_api *api);

/*
 * A path with escaped parts (the caller's to free): fmt is copied, each
 * "%s" replaced by the next argument percent-encoded (curl_easy_escape),
 * so a user name cannot add a path segment or a query argument.  Only
 * "%s" is known; "%%" is a '%'.
 */
char	*rec_api_path(struct rec_api *api, const char *fmt, ...);
/*
 * Append "?k=v" or "&k=v" (escaped) to *path, reallocated; nothing when
 * v is NULL or "".
 */
void	rec_api_query_add(struct rec_api *api, char **path, const char *k,
	    const char *v);

#endif
