/*
 * /metrics in Prometheus' text format (0.0.4): the core's families
 *
 *   leurad_http_requests_total{route,method,status}   counter
 *   leurad_http_request_duration_seconds{route}       histogram
 *   leurad_audit_failures_total                       counter
 *   leurad_http_connections, _requests_in_flight      gauges
 *   process_start_time_seconds                        gauge
 *
 * the counters of srv_metrics_inc (any family, one label set each), and
 * the sources modules add (srv_metrics_add).  One registry per process,
 * behind a mutex: workers count, a scrape renders.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "srv-int.h"
#include "xalloc.h"

static const double bounds[] = {
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10
};
#define NBOUNDS	(sizeof(bounds) / sizeof(bounds[0]))

struct counter {
	char		*family;	/* owned */
	char		*labels;	/* owned: 'k="v",...' or "" */
	uint64_t	 n;
};

struct histo {
	char		*route;		/* owned */
	uint64_t	 buckets[NBOUNDS];	/* cumulative at render */
	uint64_t	 count;
	double		 sum;
};

struct source {
	srv_metrics_fn	*fn;
	void		*arg;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct counter *counters;
static size_t ncounters, ccounters;
static struct histo *histos;
static size_t nhistos, chistos;
static struct source *sources;
static size_t nsources, csources;

/* The counter of family and labels, made at 0 if new (mu held). */
static struct counter *
counter_get(const char *family, const char *labels)
{
	size_t i;

	for (i = 0; i < ncounters; i++)
		if (strcmp(counters[i].family, family) == 0 &&
		    strcmp(counters[i].labels, labels) == 0)
			return &counters[i];
	counters = lr_xgrow(counters, &ccounters, ncounters + 1,
	    sizeof(*counters));
	counters[ncounters].family = lr_xstrdup(family);	/* ours */
	counters[ncounters].labels = lr_xstrdup(labels);	/* ours */
	counters[ncounters].n = 0;
	return &counters[ncounters++];
}

void
srv_metrics_inc(const char *family, const char *labels)
{
	pthread_mutex_lock(&mu);
	counter_get(family, labels != NULL ? labels : "")->n++;
	pthread_mutex_unlock(&mu);
}

void
srv_metrics_add(struct srv *s, srv_metrics_fn *fn, void *arg)
{
	pthread_mutex_lock(&mu);
	sources = lr_xgrow(sources, &csources, nsources + 1,
	    sizeof(*sources));
	sources[nsources].fn = fn;
	sources[nsources++].arg = arg;
	pthread_mutex_unlock(&mu);
}

/* s as a label value: backslash, quote and newline escaped. */
static void
add_label(struct lr_buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			lr_buf_addc(b, '\\');
		if (*s == '\n') {
			lr_buf_adds(b, "\\n");
			continue;
		}
		lr_buf_addc(b, *s);
	}
}

void
srv_metrics_observe(const char *route, const char *method, int status,
    double seconds)
{
	struct lr_buf l = LR_BUF_INIT;
	struct histo *h = NULL;
	size_t i;

	lr_buf_adds(&l, "route=\"");
	add_label(&l, route);
	lr_buf_printf(&l, "\",method=\"%s\",status=\"%d\"", method, status);
	pthread_mutex_lock(&mu);
	counter_get("leurad_http_requests_total", l.s)->n++;
	for (i = 0; i < nhistos; i++)
		if (strcmp(histos[i].route, route) == 0) {
			h = &histos[i];
			break;
		}
	if (h == NULL) {
		histos = lr_xgrow(histos, &chistos, nhistos + 1,
		    sizeof(*histos));
		h = &histos[nhistos++];
		memset(h, 0, sizeof(*h));
		h->route = lr_xstrdup(route);	/* ours */
	}
	for (i = 0; i < NBOUNDS; i++)
		if (seconds <= bounds[i]) {
			h->buckets[i]++;
			break;
		}
	h->count++;
	h->sum += seconds;
	pthread_mutex_unlock(&mu);
	lr_buf_release(&l);
}

static int
counter_cmp(const void *a, const void *b)
{
	const struct counter *x = a, *y = b;
	int c = strcmp(x->family, y->family);

	return c ? c : strcmp(x->labels, y->labels);
}

void
srv_metrics_render(struct srv *s, struct lr_buf *out)
{
	const char *fam = NULL;
	size_t i, j, n;
	uint64_t cum;

	pthread_mutex_lock(&mu);
	counter_get("leurad_audit_failures_total", "");
	qsort(counters, ncounters, sizeof(*counters), counter_cmp);
	for (i = 0; i < ncounters; i++) {
		if (fam == NULL || strcmp(fam, counters[i].family) != 0) {
			fam = counters[i].family;
			if (strcmp(fam, "leurad_http_requests_total") == 0)
				lr_buf_adds(out, "# HELP leurad_http_requests"
				    "_total HTTP requests answered, by route "
				    "pattern, method and status\n");
			else if (strcmp(fam, "leurad_audit_failures_total")
			    == 0)
				lr_buf_adds(out, "# HELP leurad_audit_failures"
				    "_total audit events that could not be "
				    "written to etcd\n");
			lr_buf_printf(out, "# TYPE %s counter\n", fam);
		}
		if (counters[i].labels[0])
			lr_buf_printf(out, "%s{%s} %llu\n", fam,
			    counters[i].labels,
			    (unsigned long long)counters[i].n);
		else
			lr_buf_printf(out, "%s %llu\n", fam,
			    (unsigned long long)counters[i].n);
	}
	lr_buf_adds(out, "# HELP leurad_http_request_duration_seconds time "
	    "from a request's head to its answer, by route pattern\n"
	    "# TYPE leurad_http_request_duration_seconds histogram\n");
	for (i = 0; i < nhistos; i++) {
		struct lr_buf l = LR_BUF_INIT;

		add_label(&l, histos[i].route);
		for (j = 0, cum = 0; j < NBOUNDS; j++) {
			cum += histos[i].buckets[j];
			lr_buf_printf(out, "leurad_http_request_duration_seconds"
			    "_bucket{route=\"%s\",le=\"%g\"} %llu\n", l.s,
			    bounds[j], (unsigned long long)cum);
		}
		lr_buf_printf(out, "leurad_http_request_duration_seconds_bucket"
		    "{route=\"%s\",le=\"+Inf\"} %llu\n", l.s,
		    (unsigned long long)histos[i].count);
		lr_buf_printf(out, "leurad_http_request_duration_seconds_sum"
		    "{route=\"%s\"} %.6f\n", l.s, histos[i].sum);
		lr_buf_printf(out, "leurad_http_request_duration_seconds_count"
		    "{route=\"%s\"} %llu\n", l.s,
		    (unsigned long long)histos[i].count);
		lr_buf_release(&l);
	}
	n = nsources;
	pthread_mutex_unlock(&mu);
	if (s != NULL && s->core != NULL)
		lr_buf_printf(out, "# HELP process_start_time_seconds start "
		    "time of the process since the Unix epoch in seconds\n"
		    "# TYPE process_start_time_seconds gauge\n"
		    "process_start_time_seconds %.3f\n"
		    "# HELP leurad_http_connections open HTTP connections\n"
		    "# TYPE leurad_http_connections gauge\n"
		    "leurad_http_connections %u\n"
		    "# HELP leurad_http_requests_in_flight requests read and "
		    "not yet answered\n"
		    "# TYPE leurad_http_requests_in_flight gauge\n"
		    "leurad_http_requests_in_flight %u\n", s->core->started,
		    atomic_load(&s->core->nconns),
		    atomic_load(&s->core->inflight));
	/* sources are added before the loop runs: no lock needed to call */
	for (i = 0; i < n; i++)
		sources[i].fn(s, out, sources[i].arg);
}

void
srv_metrics_reset(void)
{
	size_t i;

	pthread_mutex_lock(&mu);
	for (i = 0; i < ncounters; i++) {
		free(counters[i].family);
		free(counters[i].labels);
	}
	free(counters);
	counters = NULL;
	ncounters = ccounters = 0;
	for (i = 0; i < nhistos; i++)
		free(histos[i].route);
	free(histos);
	histos = NULL;
	nhistos = chistos = 0;
	free(sources);
	sources = NULL;
	nsources = csources = 0;
	pthread_mutex_unlock(&mu);
}
