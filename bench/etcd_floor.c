/*
 * etcd_floor: the floor of the apply benchmark (bench/apply.sh), and a
 * look at the shape of what an apply wrote.
 *
 *   etcd_floor ENDPOINT PREFIX BYTES NKEYS
 *	Write NKEYS keys PREFIX/kNNNNNNN whose keys and values add up to
 *	BYTES (the unit of `leura apply --json`'s "bytes"), values of equal
 *	size, in ONE transaction, and print
 *	    <seconds> <bytes> <keys> <request bytes> <revision>
 *	The time covers only the commit: building the request from the
 *	bytes in memory (base64 and JSON by lib/etcd's own encoders), one
 *	POST /v3/kv/txn over a fresh connection, reading etcd's answer.
 *	Nothing else: no compile, no read of what is applied, no lock.  One
 *	request of several MiB needs an etcd started with raised
 *	--max-request-bytes and --max-txn-ops, so the request goes out
 *	through libcurl directly: etcd_txn_commit() refuses anything over
 *	etcd's default limits before sending, as it should for leura.
 *
 *   etcd_floor --steps ENDPOINT PREFIX
 *	Read the host documents under PREFIX/desired/hosts/ (state.h) and
 *	print "<hosts> <steps> <mean> <min> <median> <max>": the steps per
 *	host of what an apply wrote (the latest generation of each host).
 *
 * Exits 0, or 1 with a message.  Builds against the leura_proto,
 * leura_etcd and leura_common libraries of a build dir (see
 * bench/apply.sh).
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "etcd.h"
#include "fields.h"
#include "keys.h"
#include "prng.h"

static void
die(const char *msg, const char *detail)
{
	fprintf(stderr, "etcd_floor: %s%s%s\n", msg, detail ? ": " : "",
	    detail ? detail : "");
	exit(1);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long
num(const char *s, long min)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno || n < min)
		die("not a number in range", s);
	return n;
}

struct sink {
	char	*p;
	size_t	 len;
};

static size_t
collect(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct sink *s = arg;
	size_t n = size * nmemb;
	char *q;

	if ((q = realloc(s->p, s->len + n + 1)) == NULL)
		return 0;
	s->p = q;
	memcpy(s->p + s->len, ptr, n);
	s->len += n;
	s->p[s->len] = '\0';
	return n;
}

static int
floor_write(const char *endpoint, const char *prefix, long bytes, long nkeys)
{
	struct etcd_txn t;
	struct sink resp = { NULL, 0 };
	struct curl_slist *hdr;
	json_error_t je;
	json_t *body, *answer;
	uint64_t seed = 1;
	char key[512], url[1024], *value, *req;
	size_t keylen, vlen, rest, reqlen, i, n;
	double t0, t1;
	CURL *c;
	CURLcode cc;
	long status = 0;

	n = (size_t)nkeys;
	keylen = (size_t)snprintf(key, sizeof(key), "%s/k%07zu", prefix, n);
	if (keylen >= sizeof(key) || (size_t)bytes < n * keylen)
		die("BYTES too small for that many keys", NULL);
	vlen = ((size_t)bytes - n * keylen) / n;
	rest = ((size_t)bytes - n * keylen) % n;
	if ((value = malloc(vlen + 2)) == NULL)
		die("out of memory", NULL);
	for (i = 0; i < vlen + 1; i++)	/* printable, like JSON documents */
		value[i] = (char)(' ' + lr_splitmix64(&seed) % 95);
	snprintf(url, sizeof(url), "%s/v3/kv/txn", endpoint);
	if ((c = curl_easy_init()) == NULL)
		die("curl_easy_init failed", NULL);
	hdr = curl_slist_append(NULL, "Content-Type: application/json");

	t0 = now();
	etcd_txn_init(&t);
	for (i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "%s/k%07zu", prefix, i);
		etcd_txn_put(&t, ETCD_THEN, key, value, vlen + (i < rest),
		    0);
	}
	body = etcd_txn_encode(&t);
	req = json_dumps(body, JSON_COMPACT);
	reqlen = strlen(req);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, req);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)reqlen);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 60000L);
	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	answer = cc == CURLE_OK && resp.p ? json_loadb(resp.p, resp.len, 0,
	    &je) : NULL;
	t1 = now();

	if (cc != CURLE_OK)
		die("POST /v3/kv/txn failed", curl_easy_strerror(cc));
	if (status != 200 || answer == NULL ||
	    !json_is_true(json_object_get(answer, "succeeded")))
		die("etcd refused the transaction (is it started with "
		    "--max-request-bytes 67108864 --max-txn-ops 100000?)",
		    resp.p ? resp.p : "no answer");
	printf("%.6f %ld %ld %zu %lld\n", t1 - t0, bytes, nkeys, reqlen,
	    (long long)etcd_header_revision(answer));
	json_decref(answer);
	json_decref(body);
	free(req);
	free(resp.p);
	free(value);
	etcd_txn_release(&t);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(c);
	return 0;
}

static int
cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return (x > y) - (x < y);
}

/* Steps per host of the latest document of each host. */
static int
steps(const char *endpoint, const char *prefix)
{
	struct etcd_config cfg = { 0 };
	struct etcd_range_req q = { 0 };
	struct etcd_range_result r = { 0 };
	struct lr_err err;
	struct etcd *e;
	json_error_t je;
	json_t *doc;
	char key[1024], host[512], prev[512] = "", *k;
	const char *name;
	int64_t g;
	long *n, total = 0;
	size_t i, nh = 0, plen;

	cfg.endpoints = endpoint;
	cfg.timeout_ms = 60000;
	lr_err_clear(&err);
	k = proto_key_docs_dir(prefix);
	snprintf(key, sizeof(key), "%s", k);
	free(k);
	plen = strlen(key);
	q.key = key;
	q.flags = ETCD_PREFIX;
	if (etcd_new(&cfg, &e, &err) < 0 || etcd_range(e, &q, &r, &err) < 0)
		die("cannot read the host documents", err.msg);
	if ((n = calloc(r.nkvs + 1, sizeof(*n))) == NULL)
		die("out of memory", NULL);
	/* keys sort by host, then generation: the last of a host wins */
	for (i = 0; i < r.nkvs; i++) {
		if (!proto_doc_key_split(r.kvs[i].key + plen, host,
		    sizeof(host), &g, &name))
			continue;	/* not a host document */
		if ((doc = json_loadb(r.kvs[i].value, r.kvs[i].value_len, 0,
		    &je)) == NULL)
			die("a host document is not JSON", r.kvs[i].key);
		if (strcmp(host, prev) != 0)
			nh++;
		else
			total -= n[nh - 1];
		n[nh - 1] = (long)json_array_size(json_object_get(doc,
		    PROTO_DOC_STEPS));
		total += n[nh - 1];
		snprintf(prev, sizeof(prev), "%s", host);
		json_decref(doc);
	}
	if (nh == 0)
		die("no host documents under", key);
	qsort(n, nh, sizeof(*n), cmp_long);
	printf("%zu %ld %.1f %ld %ld %ld\n", nh, total, (double)total /
	    (double)nh, n[0], n[nh / 2], n[nh - 1]);
	free(n);
	etcd_range_result_release(&r);
	etcd_free(e);
	return 0;
}

int
main(int argc, char **argv)
{
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (argc == 4 && strcmp(argv[1], "--steps") == 0)
		rc = steps(argv[2], argv[3]);
	else if (argc == 5)
		rc = floor_write(argv[1], argv[2], num(argv[3], 1),
		    num(argv[4], 1));
	else {
		fputs("usage: etcd_floor ENDPOINT PREFIX BYTES NKEYS\n"
		    "       etcd_floor --steps ENDPOINT PREFIX\n", stderr);
		rc = 1;
	}
	curl_global_cleanup();
	return rc;
}
