/*
 * runs_client: the client side of bench/runs.sh, and its floor.
 *
 *   runs_client floor N REPS
 *       REPS times: start N `true` processes from this process at once
 *       (fork + execvp each), wait for all; one line per rep: "floor MS".
 *   runs_client latency URL TOKEN TASK REPS
 *       REPS times: POST /v1/tasks/TASK/runs {"force":true}, then GET
 *       /v1/runs/ID every 5 ms until its state is "finalised"; one line
 *       per run: "latency MS HOSTS OUTCOME".
 *   runs_client burst URL TOKEN TASK N HOSTS K PID
 *       N runs at once: 8 threads POST N/8 each, run i on K hosts of the
 *       comma-separated HOSTS taken round-robin ({"force":true,
 *       "targets":{"hosts":[...]}}), then each run's record is polled (in
 *       the order they were made, 10 ms apart) until finalised, while a
 *       thread samples RssAnon of leurad (PID) every 10 ms.  One line:
 *       "burst N POST_S FINAL_S RUNS_PER_S PEAK_RSSANON_KIB
 *       START_RSSANON_KIB NOT_SUCCEEDED".
 *
 * Times are CLOCK_MONOTONIC, taken around the HTTP calls of this process,
 * so the latency is what a client sees: the POST, leurad's engine, the
 * agents through etcd, the next poll.  Exits 1 on any failed request.
 * Build: cc -O2 runs_client.c $(pkg-config --cflags --libs libcurl jansson)
 * -lpthread.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#define NTHREADS	8

static const char *url, *token;

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void
nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

struct body {
	char	*s;
	size_t	 len;
};

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	struct body *b = arg;
	size_t k = size * n;
	char *s = realloc(b->s, b->len + k + 1);

	if (s == NULL)
		return 0;
	memcpy(s + b->len, p, k);
	b->len += k;
	s[b->len] = '\0';
	b->s = s;
	return k;
}

/* One call on handle h; the answer as JSON, or NULL (said on stderr). */
static json_t *
call(CURL *h, const char *method, const char *path, const json_t *in,
    long *status)
{
	struct curl_slist *hd = NULL;
	struct body b = { NULL, 0 };
	char *u, *auth, *s = NULL;
	json_t *out = NULL;
	CURLcode cc;

	if (asprintf(&u, "%s%s", url, path) < 0 ||
	    asprintf(&auth, "Authorization: Bearer %s", token) < 0)
		abort();
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, u);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	hd = curl_slist_append(hd, auth);
	hd = curl_slist_append(hd, "Content-Type: application/json");
	hd = curl_slist_append(hd, "Expect:");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
	if (in != NULL) {
		s = json_dumps(in, JSON_COMPACT);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, s);
	}
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 120L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	cc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	if (cc != CURLE_OK)
		fprintf(stderr, "runs_client: %s %s: %s\n", method, path,
		    curl_easy_strerror(cc));
	else if (*status < 200 || *status > 299)
		fprintf(stderr, "runs_client: %s %s: HTTP %ld %s\n", method,
		    path, *status, b.s ? b.s : "");
	else
		out = json_loadb(b.s ? b.s : "", b.len, 0, NULL);
	curl_slist_free_all(hd);
	free(s);
	free(b.s);
	free(u);
	free(auth);
	return out;
}

/* POST a run of task with body extra; its id (the caller's) or NULL. */
static char *
start_run(CURL *h, const char *task, json_t *in)
{
	char *path, *id = NULL;
	json_t *run;
	long st;

	if (asprintf(&path, "/v1/tasks/%s/runs", task) < 0)
		abort();
	run = call(h, "POST", path, in, &st);
	if (run != NULL && json_string_value(json_object_get(run, "id")))
		id = strdup(json_string_value(json_object_get(run, "id")));
	json_decref(run);
	free(path);
	return id;
}

/* Poll run id every every_ms until finalised: the record, or NULL. */
static json_t *
wait_run(CURL *h, const char *id, long every_ms)
{
	const char *state;
	char *path;
	json_t *run;
	long st;

	if (asprintf(&path, "/v1/runs/%s", id) < 0)
		abort();
	for (;;) {
		if ((run = call(h, "GET", path, NULL, &st)) == NULL)
			break;
		state = json_string_value(json_object_get(run, "state"));
		if (state != NULL && strcmp(state, "finalised") == 0)
			break;
		json_decref(run);
		nap_ms(every_ms);
	}
	free(path);
	return run;
}

static const char *
outcome(const json_t *run)
{
	const char *s = json_string_value(json_object_get(run, "outcome"));

	return s ? s : "?";
}

/* ---- floor ---- */

static int
floor_main(int n, int reps)
{
	char *argv[] = { "true", NULL };
	double t0;
	int r, i, st;
	pid_t pid;

	for (r = 0; r < reps; r++) {
		t0 = now_ms();
		for (i = 0; i < n; i++) {
			if ((pid = fork()) == 0) {
				execvp(argv[0], argv);
				_exit(127);
			}
			if (pid < 0)
				return 1;
		}
		for (i = 0; i < n; i++)
			if (wait(&st) < 0 || !WIFEXITED(st) ||
			    WEXITSTATUS(st) != 0)
				return 1;
		printf("floor %.3f\n", now_ms() - t0);
	}
	return 0;
}

/* ---- latency ---- */

static int
latency_main(const char *task, int reps)
{
	CURL *h = curl_easy_init();
	json_t *in = json_pack("{s:b}", "force", 1), *run;
	double t0;
	char *id;
	int r;

	for (r = 0; r < reps; r++) {
		t0 = now_ms();
		if ((id = start_run(h, task, in)) == NULL ||
		    (run = wait_run(h, id, 5)) == NULL)
			return 1;
		printf("latency %.3f %zu %s\n", now_ms() - t0,
		    json_array_size(json_object_get(run, "hosts")),
		    outcome(run));
		fflush(stdout);
		json_decref(run);
		free(id);
	}
	json_decref(in);
	curl_easy_cleanup(h);
	return 0;
}

/* ---- burst ---- */

static const char *b_task;
static char **b_hosts, **b_ids;
static int b_nhosts, b_n, b_k;
static atomic_int b_failed, b_stop;
static long b_peak, b_start;
static int b_pid;

static long
rss_anon(int pid)
{
	char path[64], line[256];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "RssAnon: %ld", &v) == 1)
			break;
	fclose(f);
	return v;
}

static void *
sampler(void *arg)
{
	long v;

	(void)arg;
	while (!b_stop) {
		if ((v = rss_anon(b_pid)) > b_peak)
			b_peak = v;
		nap_ms(10);
	}
	return NULL;
}

static void *
poster(void *arg)
{
	long t = (long)arg;
	CURL *h = curl_easy_init();
	json_t *in, *hosts;
	int i, j;

	for (i = (int)t; i < b_n; i += NTHREADS) {
		hosts = json_array();
		for (j = 0; j < b_k; j++)
			json_array_append_new(hosts, json_string(
			    b_hosts[(i * b_k + j) % b_nhosts]));
		in = json_pack("{s:b, s:{s:o}}", "force", 1, "targets",
		    "hosts", hosts);
		if ((b_ids[i] = start_run(h, b_task, in)) == NULL)
			b_failed++;
		json_decref(in);
	}
	curl_easy_cleanup(h);
	return NULL;
}

static int
burst_main(const char *task, int n, char *hosts, int k, int pid)
{
	pthread_t th[NTHREADS], smp;
	double t0, t1, t2;
	CURL *h;
	json_t *run;
	int i, bad = 0;
	char *p;

	b_task = task;
	b_n = n;
	b_k = k;
	b_pid = pid;
	b_ids = calloc((size_t)n, sizeof(*b_ids));
	b_hosts = calloc(strlen(hosts) + 1, sizeof(*b_hosts));
	for (p = strtok(hosts, ","); p != NULL; p = strtok(NULL, ","))
		b_hosts[b_nhosts++] = p;
	if (b_nhosts == 0 || k < 1 || k > b_nhosts)
		return 1;
	b_start = b_peak = rss_anon(pid);
	pthread_create(&smp, NULL, sampler, NULL);
	t0 = now_ms();
	for (i = 0; i < NTHREADS; i++)
		pthread_create(&th[i], NULL, poster, (void *)(long)i);
	for (i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	t1 = now_ms();
	if (b_failed)
		return 1;
	h = curl_easy_init();
	for (i = 0; i < n; i++) {
		if ((run = wait_run(h, b_ids[i], 10)) == NULL)
			return 1;
		if (strcmp(outcome(run), "succeeded") != 0)
			bad++;
		json_decref(run);
	}
	t2 = now_ms();
	b_stop = 1;
	pthread_join(smp, NULL);
	printf("burst %d %.3f %.3f %.1f %ld %ld %d\n", n, (t1 - t0) / 1e3,
	    (t2 - t0) / 1e3, n / ((t2 - t0) / 1e3), b_peak, b_start, bad);
	curl_easy_cleanup(h);
	for (i = 0; i < n; i++)
		free(b_ids[i]);
	free(b_ids);
	free(b_hosts);
	return 0;
}

int
main(int argc, char **argv)
{
	int rc = 2;

	if (argc == 4 && strcmp(argv[1], "floor") == 0)
		return floor_main(atoi(argv[2]), atoi(argv[3]));
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (argc == 6 && strcmp(argv[1], "latency") == 0) {
		url = argv[2];
		token = argv[3];
		rc = latency_main(argv[4], atoi(argv[5]));
	} else if (argc == 9 && strcmp(argv[1], "burst") == 0) {
		url = argv[2];
		token = argv[3];
		rc = burst_main(argv[4], atoi(argv[5]), argv[6],
		    atoi(argv[7]), atoi(argv[8]));
	} else
		fputs("usage: runs_client floor N REPS\n"
		    "       runs_client latency URL TOKEN TASK REPS\n"
		    "       runs_client burst URL TOKEN TASK N HOSTS K PID\n",
		    stderr);
	curl_global_cleanup();
	return rc;
}
