/*
 * Key builders and the key parser (keys.h).  The layout's spelling lives
 * in the string constants below and nowhere else.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "keys.h"
#include "xalloc.h"

#define K_HEAD		"desired/head"
#define K_FLEET		"fleet"
#define K_DOCS		"desired/hosts/"
#define K_FILES		"desired/files/"
#define K_DEPLOYS	"source/deploys/"
#define K_OBSERVED	"observed/"
#define K_RESULTS	"results/"
#define K_AGENTS	"agents/"
#define K_LOCK_APPLY	"locks/apply"
#define K_RUNS		"runs/"
#define K_RUN_DOCS	K_RUNS "docs/"
#define K_RUN_DISPATCH	K_RUNS "dispatch/"
#define K_RUN_EXEC	K_RUNS "exec/"
#define K_RUN_RESULTS	K_RUNS "results/"
#define K_RUN_LOG	K_RUNS "log/"
#define K_RUN_FIRED	K_RUNS "fired/"
#define K_EVENTS	"events/"
#define K_AUTH		"auth/"
#define K_LEADER	"leader"
#define K_BRANCHES	"source/branches/"
#define K_DELIVERIES	"source/deliveries/"

/* p + "/" + the formatted rest */
static char *
key(const char *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static char *
key(const char *p, const char *fmt, ...)
{
	struct lr_buf b = LR_BUF_INIT;
	va_list ap;

	lr_buf_adds(&b, p);
	lr_buf_addc(&b, '/');
	va_start(ap, fmt);
	lr_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	return lr_buf_detach(&b, NULL);
}

char *
proto_key_head(const char *p)
{
	return key(p, K_HEAD);
}

char *
proto_key_fleet(const char *p)
{
	return key(p, K_FLEET);
}

char *
proto_key_docs_dir(const char *p)
{
	return key(p, K_DOCS);
}

char *
proto_key_host_docs_dir(const char *p, const char *host)
{
	return key(p, K_DOCS "%s/", host);
}

char *
proto_key_doc(const char *p, const char *host, int64_t gen, const char *name)
{
	return key(p, K_DOCS "%s/%0*lld/%s", host, PROTO_GEN_DIGITS,
	    (long long)gen, name);
}

char *
proto_key_files_dir(const char *p)
{
	return key(p, K_FILES);
}

char *
proto_key_file(const char *p, const char *sha256)
{
	return key(p, K_FILES "%s", sha256);
}

char *
proto_key_deploys_dir(const char *p)
{
	return key(p, K_DEPLOYS);
}

char *
proto_key_deploy(const char *p, int64_t n)
{
	return key(p, K_DEPLOYS "%0*lld", PROTO_DEPLOY_DIGITS, (long long)n);
}

char *
proto_key_observed_dir(const char *p)
{
	return key(p, K_OBSERVED);
}

char *
proto_key_observed(const char *p, const char *host)
{
	return key(p, K_OBSERVED "%s", host);
}

char *
proto_key_results_dir(const char *p)
{
	return key(p, K_RESULTS);
}

char *
proto_key_results(const char *p, const char *host)
{
	return key(p, K_RESULTS "%s", host);
}

char *
proto_key_agents_dir(const char *p)
{
	return key(p, K_AGENTS);
}

char *
proto_key_agent(const char *p, const char *host)
{
	return key(p, K_AGENTS "%s", host);
}

char *
proto_key_lock_apply(const char *p)
{
	return key(p, K_LOCK_APPLY);
}

char *
proto_key_runs_dir(const char *p)
{
	return key(p, K_RUNS);
}

char *
proto_key_run_docs_dir(const char *p)
{
	return key(p, K_RUN_DOCS);
}

char *
proto_key_run(const char *p, const char *id)
{
	return key(p, K_RUN_DOCS "%s", id);
}

char *
proto_key_dispatch_dir(const char *p, const char *host)
{
	return key(p, K_RUN_DISPATCH "%s/", host);
}

char *
proto_key_dispatch(const char *p, const char *host, const char *id,
    int step)
{
	return key(p, K_RUN_DISPATCH "%s/%s/%04d", host, id, step);
}

char *
proto_key_run_exec_dir(const char *p, const char *id)
{
	return key(p, K_RUN_EXEC "%s/", id);
}

char *
proto_key_run_exec(const char *p, const char *id, const char *host,
    int step)
{
	return key(p, K_RUN_EXEC "%s/%s/%04d", id, host, step);
}

char *
proto_key_run_results_dir(const char *p, const char *id)
{
	return key(p, K_RUN_RESULTS "%s/", id);
}

char *
proto_key_run_result(const char *p, const char *id, const char *host,
    int step)
{
	return key(p, K_RUN_RESULTS "%s/%s/%04d", id, host, step);
}

char *
proto_key_run_log_dir(const char *p)
{
	return key(p, K_RUN_LOG);
}

char *
proto_key_run_log_step_dir(const char *p, const char *id, const char *host,
    int step)
{
	return key(p, K_RUN_LOG "%s/%s/%04d/", id, host, step);
}

char *
proto_key_run_log(const char *p, const char *id, const char *host,
    int step, int64_t seq)
{
	return key(p, K_RUN_LOG "%s/%s/%04d/%08" PRId64, id, host, step, seq);
}

char *
proto_key_run_fired(const char *p, const char *task, int64_t unix_s)
{
	return key(p, K_RUN_FIRED "%s/%012" PRId64, task, unix_s);
}

char *
proto_key_events_dir(const char *p)
{
	return key(p, K_EVENTS);
}

char *
proto_key_event(const char *p, int64_t ns, uint32_t rnd)
{
	return key(p, K_EVENTS "%019" PRId64 "-%08" PRIx32, ns, rnd);
}

char *
proto_key_auth_dir(const char *p)
{
	return key(p, K_AUTH);
}

char *
proto_key_leader(const char *p)
{
	return key(p, K_LEADER);
}

char *
proto_key_branches_dir(const char *p)
{
	return key(p, K_BRANCHES);
}

char *
proto_key_branch(const char *p, const char *branch)
{
	return key(p, K_BRANCHES "%s", branch);
}

char *
proto_key_deliveries_dir(const char *p)
{
	return key(p, K_DELIVERIES);
}

char *
proto_key_delivery(const char *p, const char *id)
{
	return key(p, K_DELIVERIES "%s", id);
}

/* ---- parsing ---- */

/* n decimal digits at s, as a number; -1 when they are not. */
static int64_t
digits(const char *s, size_t n)
{
	int64_t v = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* "<host>/<G>/<name>": the host's length, G and name; false if not one. */
static bool
doc_rest(const char *rest, size_t *hlen, int64_t *gen, const char **name)
{
	const char *s1, *s2;
	int64_t g;

	if ((s1 = strchr(rest, '/')) == NULL || s1 == rest)
		return false;
	if ((s2 = strchr(s1 + 1, '/')) == NULL ||
	    s2 - s1 != PROTO_GEN_DIGITS + 1)
		return false;
	if ((g = digits(s1 + 1, PROTO_GEN_DIGITS)) <= 0)
		return false;
	if (strchr(s2 + 1, '/') != NULL)
		return false;
	*hlen = (size_t)(s1 - rest);
	*gen = g;
	*name = s2 + 1;
	return true;
}

bool
proto_doc_key_split(const char *rest, char *host, size_t hlen, int64_t *gen,
    const char **name)
{
	size_t n;

	if (!doc_rest(rest, &n, gen, name) || n >= hlen)
		return false;
	memcpy(host, rest, n);
	host[n] = '\0';
	return true;
}

int64_t
proto_key_doc_generation(const char *key, const char *host_dir)
{
	size_t n = strlen(host_dir);
	const char *p = key + n;
	int64_t g;

	if (strncmp(key, host_dir, n) != 0 ||
	    strlen(p) < PROTO_GEN_DIGITS + 2 || p[PROTO_GEN_DIGITS] != '/' ||
	    strchr(p + PROTO_GEN_DIGITS + 1, '/') != NULL ||
	    (g = digits(p, PROTO_GEN_DIGITS)) <= 0)
		return -1;
	return g;
}

/* s after the prefix "P/" + what, or NULL. */
static const char *
after(const char *s, const char *what)
{
	size_t n = strlen(what);

	return strncmp(s, what, n) == 0 ? s + n : NULL;
}

/* A host's own key: a non-empty rest without '/'. */
static bool
own_key(const char *rest)
{
	return rest[0] != '\0' && strchr(rest, '/') == NULL;
}

enum proto_key_kind
proto_key_parse(const char *p, const char *k, struct proto_key *out)
{
	size_t plen = strlen(p);
	const char *r, *s;

	memset(out, 0, sizeof(*out));
	if (strncmp(k, p, plen) != 0 || k[plen] != '/')
		return out->kind;
	s = k + plen + 1;
	if (strcmp(s, K_HEAD) == 0)
		out->kind = PROTO_KEY_HEAD;
	else if (strcmp(s, K_FLEET) == 0)
		out->kind = PROTO_KEY_FLEET;
	else if (strcmp(s, K_LOCK_APPLY) == 0)
		out->kind = PROTO_KEY_LOCK_APPLY;
	else if ((r = after(s, K_DOCS)) != NULL) {
		if (doc_rest(r, &out->host_len, &out->generation,
		    &out->name)) {
			out->kind = PROTO_KEY_DOC;
			out->host = r;
		}
	} else if ((r = after(s, K_FILES)) != NULL) {
		if (own_key(r)) {
			out->kind = PROTO_KEY_FILE;
			out->name = r;
		}
	} else if ((r = after(s, K_DEPLOYS)) != NULL) {
		if (strlen(r) == PROTO_DEPLOY_DIGITS &&
		    (out->deploy = digits(r, PROTO_DEPLOY_DIGITS)) > 0)
			out->kind = PROTO_KEY_DEPLOY;
		else
			out->deploy = 0;
	} else if ((r = after(s, K_OBSERVED)) != NULL ||
	    (r = after(s, K_RESULTS)) != NULL ||
	    (r = after(s, K_AGENTS)) != NULL) {
		if (own_key(r)) {
			out->kind = s[0] == 'o' ? PROTO_KEY_OBSERVED :
			    s[0] == 'r' ? PROTO_KEY_RESULTS : PROTO_KEY_AGENT;
			out->host = r;
			out->host_len = strlen(r);
		}
	} else if ((r = after(s, K_RUNS)) != NULL) {
		out->kind = PROTO_KEY_RUNS;
		out->name = r;
	} else if ((r = after(s, K_EVENTS)) != NULL) {
		out->kind = PROTO_KEY_EVENTS;
		out->name = r;
	} else if ((r = after(s, K_AUTH)) != NULL) {
		out->kind = PROTO_KEY_AUTH;
		out->name = r;
	}
	return out->kind;
}

const char *
proto_key_host_in(const char *k, const char *dir)
{
	size_t n = strlen(dir);

	if (strncmp(k, dir, n) != 0 || !own_key(k + n))
		return NULL;
	return k + n;
}

const char *
proto_step_name(const char *id)
{
	const char *p = id;
	int i;

	for (i = 0; i < 3; i++) {
		if ((p = strchr(p, '/')) == NULL)
			return id;
		p++;
	}
	return *p ? p : id;
}
