/*
 * agent_watch: the etcd side of the agent benchmark (bench/agent.sh): what
 * the agents report, and when it arrives.
 *
 *   agent_watch report ENDPOINT PREFIX HOST
 *	Read PREFIX/observed/HOST and PREFIX/results/HOST and print
 *	    <state> <generation> <run.duration_ms> <run.steps> <ran> <changed>
 *	(ran: results' steps that ran; changed: those that changed
 *	something).  -1 for what the report lacks.
 *
 *   agent_watch wait ENDPOINT PREFIX TIMEOUT_S NHOSTS [--since UNIX_MS]
 *	Wait until NHOSTS hosts report state "converged" at a generation >=
 *	the head's (read at the start), with run.started_unix_ms >= UNIX_MS
 *	when given (a report of a run that began after that instant).
 *
 *   agent_watch apply ENDPOINT PREFIX TIMEOUT_S NHOSTS LOG -- COMMAND...
 *	Commit-to-converged latency.  Starts two watches, each on its own
 *	stream like an agent's: the head, and the reports under
 *	PREFIX/observed/; makes sure both stream (a put of a sync key must
 *	come back through each), then runs COMMAND (stdout and stderr to
 *	LOG), e.g. `leura apply`.  The head it writes, of generation G
 *	(above the one found at the start), is noted when seen; the watch of
 *	reports waits for NHOSTS hosts to report "converged" at a generation
 *	>= G (a "failed" report stops with an error).  Prints
 *	    # apply_ms <COMMAND's wall time> head_ms <head seen - start>
 *	      gen <G> cpu_ms <COMMAND's user+system time>
 *	then, per host, the arrival of its converged report, in ms:
 *	    <host> <from start> <from head seen> <from COMMAND's end>
 *	           <reaction> <run> <report>
 *	where reaction = run.started_unix_ms - head seen (the agent saw the
 *	head, read its document and contents, saved them, began), run =
 *	run.duration_ms, report = arrival - (run start + duration) (the put
 *	of the report and its way back through the watch).  All times are
 *	CLOCK_REALTIME, the agents' clock (same machine).
 *
 * Exits 0, or 1 with a message (also on TIMEOUT_S).  Builds against the
 * leura_proto, leura_etcd and leura_common libraries of a build dir (see
 * bench/agent.sh); keys and field names are proto/'s.
 */
#define _DEFAULT_SOURCE		/* wait4 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "etcd.h"
#include "fields.h"
#include "keys.h"

#define MAX_HOSTS	4096

static void
die(const char *msg, const char *detail)
{
	fprintf(stderr, "agent_watch: %s%s%s\n", msg, detail ? ": " : "",
	    detail ? detail : "");
	exit(1);
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
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

static struct etcd *
client(const char *endpoint)
{
	struct etcd_config cfg = { 0 };
	struct lr_err err;
	struct etcd *e;

	cfg.endpoints = endpoint;
	cfg.timeout_ms = 30000;
	lr_err_clear(&err);
	if (etcd_new(&cfg, &e, &err) < 0)
		die("cannot make an etcd client", err.msg);
	return e;
}

static json_t *
parse(const char *v, size_t len)
{
	json_t *o = json_loadb(v, len, 0, NULL);

	if (o != NULL && !json_is_object(o)) {
		json_decref(o);
		o = NULL;
	}
	return o;
}

static long long
jint(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);

	return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
}

static const char *
jstr(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

/* ---- report ---- */

static int
cmd_report(const char *endpoint, const char *prefix, const char *host)
{
	struct etcd *e = client(endpoint);
	struct etcd_kv kv;
	struct lr_err err;
	json_t *rep = NULL, *res = NULL, *st, *run;
	long long ran = -1, changed = -1;
	char *key;
	size_t i;

	lr_err_clear(&err);
	key = proto_key_observed(prefix, host);
	if (etcd_get(e, key, &kv, NULL, &err) == 0) {
		rep = parse(kv.value, kv.value_len);
		etcd_kv_release(&kv);
	}
	if (rep == NULL)
		die("no report (or not a JSON object) at", key);
	free(key);
	key = proto_key_results(prefix, host);
	if (etcd_get(e, key, &kv, NULL, &err) == 0) {
		res = parse(kv.value, kv.value_len);
		etcd_kv_release(&kv);
	}
	if (res != NULL) {
		ran = changed = 0;
		json_array_foreach(json_object_get(res, PROTO_RESULTS_STEPS), i,
		    st) {
			if (!json_is_false(json_object_get(st,
			    PROTO_RESULT_RAN)))
				ran++;
			if (json_is_true(json_object_get(st,
			    PROTO_RESULT_CHANGED)))
				changed++;
		}
	}
	run = json_object_get(rep, PROTO_REPORT_RUN);
	printf("%s %lld %lld %lld %lld %lld\n",
	    *jstr(rep, PROTO_REPORT_STATE) ?
	    jstr(rep, PROTO_REPORT_STATE) : "-", jint(rep,
	    PROTO_REPORT_GENERATION), jint(run, PROTO_RUN_DURATION_MS),
	    jint(run, PROTO_RUN_STEPS), ran, changed);
	json_decref(rep);
	json_decref(res);
	free(key);
	etcd_free(e);
	return 0;
}

/* ---- the watches: state shared by wait and apply ---- */

struct host {
	char	*name;
	double	 arrival;	/* converged report seen, realtime ms */
	long long started_ms, duration_ms;
};

/*
 * What the watch threads saw.  apply runs two watches, each on its own
 * stream as the agents do: the head (prefix P/desired/head, so that the
 * sync key P/desired/head.bench-sync comes through it; nothing of leura
 * reads keys there) and the reports (P/observed/, sync key
 * P/observed/.bench-sync/sync, which every reader of reports ignores: a
 * '/' after the host name).  Everything under mu.
 */
struct watch {
	char	 k_head[512], k_obs[512], k_hsync[544], k_osync[544];
	size_t	 nwant;
	double	 since_ms;	/* wait: runs that began at or after */
	int64_t	 gen;		/* reports count at generation >= gen */
	bool	 track_head;	/* apply: note the head's arrival */
	double	 head_seen;	/* realtime ms, 0: not yet */
	long long head_gen;
	struct host hosts[MAX_HOSTS];
	size_t	 nhosts, ndone;
	char	 failed[1024];
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool	 synced_head, synced_obs;
};

static struct host *
host_get(struct watch *w, const char *name)
{
	size_t i;

	for (i = 0; i < w->nhosts; i++)
		if (strcmp(w->hosts[i].name, name) == 0)
			return &w->hosts[i];
	if (w->nhosts == MAX_HOSTS)
		die("too many hosts", NULL);
	if ((w->hosts[w->nhosts].name = strdup(name)) == NULL)
		die("out of memory", NULL);
	w->hosts[w->nhosts].arrival = 0;
	return &w->hosts[w->nhosts++];
}

static void
report_seen(struct watch *w, const char *name, const struct etcd_kv *kv,
    double t)
{
	json_t *o, *run;
	struct host *h;
	long long g;
	char *s;

	if ((o = parse(kv->value, kv->value_len)) == NULL)
		return;
	g = jint(o, PROTO_REPORT_GENERATION);
	run = json_object_get(o, PROTO_REPORT_RUN);
	h = host_get(w, name);
	if (h->arrival == 0 && g >= w->gen &&
	    (double)jint(run, PROTO_RUN_STARTED_UNIX_MS) >= w->since_ms) {
		if (strcmp(jstr(o, PROTO_REPORT_STATE),
		    PROTO_STATE_CONVERGED) == 0) {
			h->arrival = t;
			h->started_ms = jint(run, PROTO_RUN_STARTED_UNIX_MS);
			h->duration_ms = jint(run, PROTO_RUN_DURATION_MS);
			w->ndone++;
		} else if (strcmp(jstr(o, PROTO_REPORT_STATE),
		    PROTO_STATE_FAILED) == 0 && !w->failed[0]) {
			s = json_dumps(json_object_get(o,
			    PROTO_REPORT_FAILED_STEPS), JSON_COMPACT);
			snprintf(w->failed, sizeof(w->failed), "host %s "
			    "failed at generation %lld: %s", name, g,
			    s ? s : "?");
			free(s);
		}
	}
	json_decref(o);
}

/* One key's value, as a put seen at time t (mu held). */
static void
seen(struct watch *w, const struct etcd_kv *kv, double t)
{
	const char *host;
	json_t *o;

	if (strcmp(kv->key, w->k_hsync) == 0) {
		w->synced_head = true;
		pthread_cond_broadcast(&w->cv);
	} else if (strcmp(kv->key, w->k_osync) == 0) {
		w->synced_obs = true;
		pthread_cond_broadcast(&w->cv);
	} else if (strcmp(kv->key, w->k_head) == 0) {
		if (!w->track_head || w->head_seen != 0)
			return;
		if ((o = parse(kv->value, kv->value_len)) == NULL)
			die("the head is not a JSON object", NULL);
		if (jint(o, PROTO_HEAD_GENERATION) >= w->gen) {
			w->head_seen = t;
			w->head_gen = jint(o, PROTO_HEAD_GENERATION);
		}
		json_decref(o);
	} else if ((host = proto_key_host_in(kv->key, w->k_obs)) != NULL) {
		report_seen(w, host, kv, t);
	}
}

/* Whether a watch is done: 1 yes, 2 a host failed, 0 go on (mu held). */
static int
watch_done(struct watch *w, bool head)
{
	if (head)
		return w->head_seen != 0;
	if (w->failed[0])
		return 2;
	return w->ndone >= w->nwant;
}

static int
watch_cb(const struct etcd_watch_batch *b, void *arg, bool head)
{
	struct watch *w = arg;
	double t = now_ms();
	size_t i;
	int rc;

	pthread_mutex_lock(&w->mu);
	if (b->kind == ETCD_WATCH_EVENTS) {
		for (i = 0; i < b->nevents; i++)
			if (b->events[i].type == ETCD_EV_PUT)
				seen(w, &b->events[i].kv, t);
	} else if (b->kind == ETCD_WATCH_RESYNC) {
		for (i = 0; i < b->nkvs; i++)
			seen(w, &b->kvs[i], t);
	}
	rc = watch_done(w, head);
	pthread_mutex_unlock(&w->mu);
	return rc;
}

static int
head_cb(const struct etcd_watch_batch *b, void *arg)
{
	return watch_cb(b, arg, true);
}

static int
obs_cb(const struct etcd_watch_batch *b, void *arg)
{
	return watch_cb(b, arg, false);
}

static void
watch_init(struct watch *w, const char *prefix, size_t nwant)
{
	char *k;

	memset(w, 0, sizeof(*w));
	if (strlen(prefix) > 400)
		die("the prefix is too long", prefix);
	w->nwant = nwant;
	k = proto_key_head(prefix);
	snprintf(w->k_head, sizeof(w->k_head), "%s", k);
	free(k);
	k = proto_key_observed_dir(prefix);
	snprintf(w->k_obs, sizeof(w->k_obs), "%s", k);
	free(k);
	snprintf(w->k_hsync, sizeof(w->k_hsync), "%s.bench-sync", w->k_head);
	snprintf(w->k_osync, sizeof(w->k_osync), "%s.bench-sync/sync",
	    w->k_obs);
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
}

/*
 * The head's generation (0 when none) into w->gen and, when reports,
 * the reports at that revision into w; returns the revision.
 */
static int64_t
read_state(struct etcd *e, struct watch *w, bool reports)
{
	struct etcd_range_req q = { 0 };
	struct etcd_range_result r = { 0 };
	struct etcd_kv kv;
	struct lr_err err;
	int64_t rev = 0;
	double t = now_ms();
	const char *host;
	json_t *o;
	size_t i;

	lr_err_clear(&err);
	if (etcd_get(e, w->k_head, &kv, &rev, &err) == 0) {
		if ((o = parse(kv.value, kv.value_len)) == NULL)
			die("the head is not a JSON object", NULL);
		w->gen = (int64_t)jint(o, PROTO_HEAD_GENERATION);
		json_decref(o);
		etcd_kv_release(&kv);
	} else if (err.code == LR_ENOENT) {
		w->gen = 0;
	} else {
		die("cannot read the head", err.msg);
	}
	q.key = w->k_obs;
	q.flags = reports ? ETCD_PREFIX : ETCD_PREFIX | ETCD_COUNT_ONLY;
	q.revision = rev;
	if (etcd_range(e, &q, &r, &err) < 0)
		die("cannot read the reports", err.msg);
	pthread_mutex_lock(&w->mu);
	for (i = 0; i < r.nkvs; i++)
		if ((host = proto_key_host_in(r.kvs[i].key, w->k_obs)) !=
		    NULL)
			report_seen(w, host, &r.kvs[i], t);
	pthread_mutex_unlock(&w->mu);
	rev = r.revision;
	etcd_range_result_release(&r);
	return rev;
}

struct watch_args {
	const char *endpoint;
	struct watch *w;
	const char *key;
	int64_t	 from;
	long	 timeout_s;
	bool	 head;
};

static void *
run_watch(void *arg)
{
	struct watch_args *a = arg;
	struct watch *w = a->w;
	struct etcd_watch_req req = { 0 };
	struct lr_err err;
	struct etcd *e = client(a->endpoint);
	int rc;

	req.key = a->key;
	req.flags = ETCD_PREFIX;
	req.start_revision = a->from;
	lr_err_clear(&err);
	rc = etcd_watch(e, &req, a->timeout_s * 1000, a->head ? head_cb :
	    obs_cb, w, &err);
	etcd_free(e);
	if (rc == 1)
		return NULL;
	if (rc == 2)
		die(w->failed, NULL);
	if (rc == LR_ECANCELED) {
		if (a->head)
			fprintf(stderr, "agent_watch: timed out after %ld s: "
			    "no head of generation %lld or later\n",
			    a->timeout_s, (long long)w->gen);
		else
			fprintf(stderr, "agent_watch: timed out after %ld s: "
			    "%zu of %zu hosts converged at generation %lld "
			    "or later\n", a->timeout_s, w->ndone, w->nwant,
			    (long long)w->gen);
		exit(1);
	}
	die("the watch failed", err.msg);
	return NULL;
}

/* ---- wait ---- */

static int
cmd_wait(const char *endpoint, const char *prefix, long timeout_s,
    long nhosts, double since)
{
	static struct watch w;
	struct watch_args a;
	struct etcd *e = client(endpoint);

	watch_init(&w, prefix, (size_t)nhosts);
	w.since_ms = since;
	a.from = read_state(e, &w, true) + 1;
	etcd_free(e);
	if (w.ndone >= w.nwant)
		return 0;
	a.endpoint = endpoint;
	a.w = &w;
	a.key = w.k_obs;
	a.timeout_s = timeout_s;
	a.head = false;
	run_watch(&a);
	return 0;
}

/* ---- apply ---- */

static int
cmp_arrival(const void *x, const void *y)
{
	const struct host *a = x, *b = y;

	return (a->arrival > b->arrival) - (a->arrival < b->arrival);
}

static void
put(struct etcd *e, const char *key)
{
	struct lr_err err;
	char v[64];

	lr_err_clear(&err);
	snprintf(v, sizeof(v), "%.3f", now_ms());
	if (etcd_put(e, key, v, strlen(v), 0, NULL, &err) < 0)
		die("cannot put a sync key", err.msg);
}

static int
cmd_apply(const char *endpoint, const char *prefix, long timeout_s,
    long nhosts, const char *log, char **argv)
{
	static struct watch w;
	struct watch_args ah, ao;
	struct etcd *e = client(endpoint);
	struct lr_err err;
	struct timespec dl;
	struct rusage ru;
	pthread_t th, to;
	double t0, t1;
	pid_t pid;
	int status, fd;
	size_t i;

	watch_init(&w, prefix, (size_t)nhosts);
	ah.from = read_state(e, &w, false) + 1;
	w.gen++;		/* what the apply writes is newer */
	w.track_head = true;
	ah.endpoint = endpoint;
	ah.w = &w;
	ah.timeout_s = timeout_s;
	ao = ah;
	ah.key = w.k_head;
	ah.head = true;
	ao.key = w.k_obs;
	ao.head = false;
	if (pthread_create(&th, NULL, run_watch, &ah) != 0 ||
	    pthread_create(&to, NULL, run_watch, &ao) != 0)
		die("cannot start a thread", NULL);
	/* each watch streams once our own put comes back through it */
	put(e, w.k_hsync);
	put(e, w.k_osync);
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 10;
	pthread_mutex_lock(&w.mu);
	while (!w.synced_head || !w.synced_obs)
		if (pthread_cond_timedwait(&w.cv, &w.mu, &dl) == ETIMEDOUT)
			die("the watches did not stream within 10 s", NULL);
	pthread_mutex_unlock(&w.mu);

	fflush(NULL);
	t0 = now_ms();
	if ((pid = fork()) < 0)
		die("cannot fork", strerror(errno));
	if (pid == 0) {
		if ((fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644)) < 0)
			_exit(127);
		dup2(fd, 1);
		dup2(fd, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	while (wait4(pid, &status, 0, &ru) < 0)
		if (errno != EINTR)
			die("wait4", strerror(errno));
	t1 = now_ms();
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "agent_watch: '%s' failed (status %d); its "
		    "output is in %s\n", argv[0], WIFEXITED(status) ?
		    WEXITSTATUS(status) : 128 + WTERMSIG(status), log);
		exit(1);
	}
	pthread_join(to, NULL);
	pthread_join(th, NULL);
	lr_err_clear(&err);
	(void)etcd_delete(e, w.k_hsync, 0, NULL, NULL, &err);
	(void)etcd_delete(e, w.k_osync, 0, NULL, NULL, &err);
	etcd_free(e);

	printf("# apply_ms %.1f head_ms %.1f gen %lld cpu_ms %.1f\n",
	    t1 - t0, w.head_seen - t0, w.head_gen,
	    (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
	    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3);
	qsort(w.hosts, w.nhosts, sizeof(w.hosts[0]), cmp_arrival);
	for (i = 0; i < w.nhosts; i++) {
		struct host *h = &w.hosts[i];

		if (h->arrival == 0)
			continue;
		printf("%s %.1f %.1f %.1f %.1f %lld %.1f\n", h->name,
		    h->arrival - t0, h->arrival - w.head_seen,
		    h->arrival - t1, (double)h->started_ms - w.head_seen,
		    h->duration_ms, h->arrival -
		    (double)(h->started_ms + h->duration_ms));
	}
	return 0;
}

static void
usage(void)
{
	fputs("usage: agent_watch report ENDPOINT PREFIX HOST\n"
	    "       agent_watch wait ENDPOINT PREFIX TIMEOUT_S NHOSTS "
	    "[--since UNIX_MS]\n"
	    "       agent_watch apply ENDPOINT PREFIX TIMEOUT_S NHOSTS LOG "
	    "-- COMMAND...\n", stderr);
	exit(64);
}

int
main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "report") == 0)
		return cmd_report(argv[2], argv[3], argv[4]);
	if ((argc == 6 || argc == 8) && strcmp(argv[1], "wait") == 0) {
		if (argc == 8 && strcmp(argv[6], "--since") != 0)
			usage();
		return cmd_wait(argv[2], argv[3], num(argv[4], 1),
		    num(argv[5], 1), argc == 8 ? (double)num(argv[7], 0) : 0);
	}
	if (argc >= 10 && strcmp(argv[1], "apply") == 0 &&
	    strcmp(argv[7], "--") == 0)
		return cmd_apply(argv[2], argv[3], num(argv[4], 1),
		    num(argv[5], 1), argv[6], argv + 8);
	usage();
	return 64;
}
