/*
 * The log store's routes (server/logs.h): a run's logs as text (stored,
 * or followed live), its archive, a deploy's converge log, the
 * retention.  Reading a run's logs needs read on tasks/T (an ad-hoc
 * command's: read on every host it ran on); a caller without it gets
 * the 404 of a run that does not exist.
 */
#define LR_LOG_COMPONENT "logs"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "auth.h"
#include "etcd.h"
#include "json.h"
#include "keys.h"
#include "leurad.h"
#include "log.h"
#include "logs.h"
#include "run.h"
#include "xalloc.h"

#define TEXT	"text/plain; charset=utf-8"

/* The run record of id if the caller may read its logs (new), else 404. */
static json_t *
run_readable(struct srv_req *req, struct srv_resp *resp, const char *id)
{
	struct etcd_kv kv = { 0 };
	struct lr_err err = { 0 };
	json_t *doc = NULL, *hosts;
	const char *task;
	char *key, res[300];
	bool ok = false;
	size_t i;

	if (!run_id_valid(id) || id[0] != 'r')
		goto nope;
	key = proto_key_run(req->srv->prefix, id);
	if (etcd_get(req->etcd, key, &kv, NULL, &err) < 0) {
		free(key);
		if (err.code == LR_ENOENT)
			goto nope;
		srv_resp_lr_err(resp, &err);
		return NULL;
	}
	free(key);
	doc = json_loadb(kv.value, kv.value_len, 0, NULL);
	etcd_kv_release(&kv);
	if (doc == NULL)
		goto nope;
	if ((task = lr_json_strn(doc, "task")) != NULL) {
		snprintf(res, sizeof(res), "tasks/%s", task);
		ok = auth_can(req, AUTH_READ, res, NULL);
	} else {
		hosts = json_object_get(doc, "hosts");
		ok = json_array_size(hosts) > 0 ||
		    auth_can(req, AUTH_READ, "fleet", NULL);
		for (i = 0; ok && i < json_array_size(hosts); i++) {
			snprintf(res, sizeof(res), "hosts/%s",
			    json_string_value(json_array_get(hosts, i)) ?
			    json_string_value(json_array_get(hosts, i)) : "");
			ok = auth_can(req, AUTH_READ, res, NULL);
		}
	}
	if (ok)
		return doc;
nope:
	json_decref(doc);
	srv_resp_error(resp, 404, "not_found", "list the runs you may read "
	    "with 'leura runs'", "no run '%.64s'", id);
	return NULL;
}

static int
sink_stream(const void *p, size_t n, void *arg)
{
	return srv_resp_stream_write(arg, p, n);
}

static const char *
step_name(const json_t *doc, int step)
{
	const json_t *s = json_array_get(json_object_get(doc, "steps"),
	    (size_t)step);

	return s != NULL && lr_json_strn(s, "name") ? lr_json_strn(s, "name") :
	    "-";
}

static int
header(struct srv_req *req, bool first, const char *host, int step,
    const char *name)
{
	char h[600];
	int n;

	n = snprintf(h, sizeof(h), "%s==> %s %d %s <==\n", first ? "" : "\n",
	    host, step, name);
	return srv_resp_stream_write(req, h, (size_t)n < sizeof(h) ?
	    (size_t)n : sizeof(h) - 1);
}

/* The query's host (NULL: all) and step (-1: all); -1 after a 400. */
static int
selection(struct srv_req *req, struct srv_resp *resp, const char **host,
    int *step)
{
	const char *s = srv_query(req, "step");
	char *end;
	long v;

	*host = srv_query(req, "host");
	if (*host != NULL && **host == '\0')
		*host = NULL;
	if (*host != NULL && !lg_host_valid(*host)) {
		srv_resp_error(resp, 400, "bad_request", "a host name: "
		    "letters, digits, '-', '_' and '.'", "invalid host '%.64s'",
		    *host);
		return -1;
	}
	*step = -1;
	if (s != NULL && *s != '\0') {
		v = strtol(s, &end, 10);
		if (*end != '\0' || v < 0 || v > 9999) {
			srv_resp_error(resp, 400, "bad_request", "a step is "
			    "its index in the run: 0, 1, ...", "invalid step "
			    "'%.32s'", s);
			return -1;
		}
		*step = (int)v;
	}
	return 0;
}

struct off {
	char	 host[256];
	int	 step;
	uint64_t off;
};

static uint64_t *
off_of(struct off **v, size_t *n, size_t *cap, const char *host, int step)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if ((*v)[i].step == step && strcmp((*v)[i].host, host) == 0)
			return &(*v)[i].off;
	*v = lr_xgrow(*v, cap, *n + 1, sizeof(**v));
	snprintf((*v)[*n].host, sizeof((*v)[*n].host), "%s", host);
	(*v)[*n].step = step;
	(*v)[*n].off = 0;
	return &(*v)[(*n)++].off;
}

struct fsink {
	struct srv_req	*req;
	bool		 multi, *first;
	const char	*host, *name;
	int		 step;
	char		*last;		/* "host/step" of the last header */
	size_t		 lastn;
};

static int
sink_follow(const void *p, size_t n, void *arg)
{
	struct fsink *f = arg;
	char cur[300];

	snprintf(cur, sizeof(cur), "%s/%d", f->host, f->step);
	if (f->multi && strcmp(cur, f->last) != 0) {
		if (header(f->req, *f->first, f->host, f->step, f->name) < 0)
			return -1;
		*f->first = false;
		snprintf(f->last, f->lastn, "%s", cur);
	}
	return srv_resp_stream_write(f->req, p, n);
}

/* Stream the run's output as it comes, until what was asked for ends. */
static void
follow(struct srv_req *req, struct lg_state *st, const char *id,
    const json_t *doc, const char *host, int step)
{
	struct lg_fstep *v = NULL;
	struct off *offs = NULL;
	size_t n, i, noffs = 0, capoffs = 0;
	bool fin, packed, done, progress, first = true;
	bool single = host != NULL && step >= 0;
	struct fsink f = { 0 };
	char last[300] = "";
	uint64_t gen, *o;
	int64_t got;
	json_t *ds, *x;

	f.req = req;
	f.multi = !single;
	f.first = &first;
	f.last = last;
	f.lastn = sizeof(last);
	for (;;) {
		n = lg_follow_steps(st, id, host, step, &v, &fin, &packed,
		    &gen);
		progress = false;
		done = true;
		if (packed) {
			ds = lg_disk_steps(st, id);
			for (i = 0; i < json_array_size(ds); i++) {
				x = json_array_get(ds, i);
				f.host = lr_json_strn(x, "host");
				f.step = (int)lr_json_int(x, "step");
				if ((host != NULL && strcmp(host, f.host)) ||
				    (step >= 0 && step != f.step))
					continue;
				f.name = step_name(doc, f.step);
				o = off_of(&offs, &noffs, &capoffs, f.host,
				    f.step);
				lg_read_step(st, id, f.host, f.step, *o,
				    sink_follow, &f);
			}
			json_decref(ds);
			break;
		}
		for (i = 0; i < n; i++) {
			f.host = v[i].host;
			f.step = v[i].step;
			f.name = step_name(doc, f.step);
			o = off_of(&offs, &noffs, &capoffs, f.host, f.step);
			got = lg_read_step(st, id, f.host, f.step, *o,
			    sink_follow, &f);
			if (got > 0) {
				*o += (uint64_t)got;
				progress = true;
			}
			if (!v[i].done)
				done = false;
		}
		free(v);
		v = NULL;
		if (srv_resp_stream_gone(req))
			break;
		if (!progress && ((n > 0 && done && (single || fin)) ||
		    (fin && n == 0)))
			break;
		if (!progress)
			lg_wait(st, gen, 1000);
	}
	free(v);
	free(offs);
}

static void
run_logs(struct srv_req *req, struct srv_resp *resp)
{
	struct lg_state *st = req->srv->logs;
	const char *id = srv_param(req, "id"), *host, *fw, *h;
	json_t *doc, *ds, *x;
	unsigned max;
	size_t i, nsel = 0;
	bool first = true;
	int step, s;
	char hint[160];

	if ((doc = run_readable(req, resp, id)) == NULL)
		return;
	if (selection(req, resp, &host, &step) < 0)
		goto out;
	fw = srv_query(req, "follow");
	if (fw != NULL && (strcmp(fw, "1") == 0 || strcmp(fw, "true") == 0)) {
		if (!lg_follow_take(st, &max)) {
			snprintf(hint, sizeof(hint), "at most %u follow at "
			    "once (UV_THREADPOOL_SIZE / 4); try again soon, or "
			    "read the stored log without --follow", max);
			srv_resp_error(resp, 503, "unavailable", hint,
			    "too many logs are followed now");
			goto out;
		}
		srv_resp_stream_begin(req, resp, TEXT);
		follow(req, st, id, doc, host, step);
		lg_follow_give(st);
		goto out;
	}
	ds = lg_disk_steps(st, id);
	for (i = 0; i < json_array_size(ds); i++) {
		x = json_array_get(ds, i);
		if ((host == NULL || strcmp(host, lr_json_strn(x, "host")) ==
		    0) && (step < 0 || step == lr_json_int(x, "step")))
			nsel++;
	}
	if (nsel == 0 && (host != NULL || step >= 0)) {
		json_decref(ds);
		srv_resp_error(resp, 404, "not_found", "see the steps with "
		    "'leura logs RUN' (no --host, no --step)", "run %s has no "
		    "log of %s%s step %s", id, host ? "host " : "every host",
		    host ? host : "", srv_query(req, "step") ?
		    srv_query(req, "step") : "any");
		goto out;
	}
	srv_resp_stream_begin(req, resp, TEXT);
	for (i = 0; i < json_array_size(ds); i++) {
		x = json_array_get(ds, i);
		h = lr_json_strn(x, "host");
		s = (int)lr_json_int(x, "step");
		if ((host != NULL && strcmp(host, h) != 0) ||
		    (step >= 0 && step != s))
			continue;
		if (nsel > 1 || host == NULL || step < 0) {
			if (header(req, first, h, s, step_name(doc, s)) < 0)
				break;
			first = false;
		}
		if (lg_read_step(st, id, h, s, 0, sink_stream, req) < 0 &&
		    srv_resp_stream_gone(req))
			break;
	}
	json_decref(ds);
out:
	json_decref(doc);
}

/* Stream the file name in the log store's folder dfd. */
static void
stream_file(struct srv_req *req, struct srv_resp *resp, int fd,
    const char *ctype)
{
	char *buf = lr_xmalloc(64 * 1024);	/* freed below */
	ssize_t r;

	srv_resp_stream_begin(req, resp, ctype);
	while ((r = read(fd, buf, 64 * 1024)) > 0)
		if (srv_resp_stream_write(req, buf, (size_t)r) < 0)
			break;
	free(buf);
}

static void
run_tarball(struct srv_req *req, struct srv_resp *resp)
{
	struct lg_state *st = req->srv->logs;
	const char *id = srv_param(req, "id"), *state;
	char name[64], cd[128];
	json_t *doc;
	int fd;

	if ((doc = run_readable(req, resp, id)) == NULL)
		return;
	snprintf(name, sizeof(name), "%s.tar.gz", id);
	if ((fd = openat(lg_dirfd(st), name, O_RDONLY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0) {
		state = lr_json_strn(doc, "state");
		if (state == NULL || strcmp(state, "finalised") != 0)
			srv_resp_error(resp, 409, "conflict", "its logs are "
			    "packed when it ends; follow it with 'leura logs "
			    "RUN --follow'", "run %s is not finalised", id);
		else
			srv_resp_error(resp, 404, "not_found", "a run's logs "
			    "are packed a moment after it ends, and deleted "
			    "past the retention ('leura logs --retention')",
			    "no log archive of run %s here", id);
		json_decref(doc);
		return;
	}
	snprintf(cd, sizeof(cd), "attachment; filename=\"%s.tar.gz\"", id);
	srv_resp_header(resp, "content-disposition", cd);
	stream_file(req, resp, fd, "application/gzip");
	close(fd);
	json_decref(doc);
}

static void
deploy_logs(struct srv_req *req, struct srv_resp *resp)
{
	struct lg_state *st = req->srv->logs;
	const char *n = srv_param(req, "n"), *host = srv_query(req, "host");
	struct archive_entry *e;
	struct archive *a;
	char id[32], path[400], res[300], *buf, h[600];
	la_ssize_t r;
	bool first = true;
	int fd, hl;

	snprintf(id, sizeof(id), "d@%.20s", n != NULL ? n : "");
	if (!run_id_valid(id)) {
		srv_resp_error(resp, 400, "bad_request", "a deploy number, as "
		    "'leura deploys' lists them", "invalid deploy '%.32s'", n);
		return;
	}
	if (host == NULL || !lg_host_valid(host)) {
		srv_resp_error(resp, 400, "bad_request", "name the host: "
		    "?host=H ('leura logs --deploy N --host H')",
		    "a host is needed");
		return;
	}
	snprintf(res, sizeof(res), "hosts/%s", host);
	snprintf(path, sizeof(path), "deploys/%s/%s.tar.gz", id + 2, host);
	if (!auth_can(req, AUTH_READ, res, NULL) ||
	    (fd = openat(lg_dirfd(st), path, O_RDONLY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0) {
		srv_resp_error(resp, 404, "not_found", "a converge log "
		    "reaches leurad when the agent has finished the deploy; "
		    "'leura logs HOST' shows its last run's steps",
		    "no converge log of deploy %s on %s", id + 2, host);
		return;
	}
	a = archive_read_new();
	archive_read_support_filter_all(a);
	archive_read_support_format_all(a);
	if (archive_read_open_fd(a, fd, 64 * 1024) != ARCHIVE_OK) {
		srv_resp_error(resp, 500, "internal", "the agent's archive "
		    "may be damaged: its next converge replaces it",
		    "cannot read the converge log of deploy %s on %s: %s",
		    id + 2, host, archive_error_string(a));
		archive_read_free(a);
		close(fd);
		return;
	}
	srv_resp_stream_begin(req, resp, TEXT);
	buf = lr_xmalloc(64 * 1024);		/* freed below */
	while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
		if (archive_entry_filetype(e) != AE_IFREG)
			continue;
		hl = snprintf(h, sizeof(h), "%s==> %.500s <==\n", first ? "" :
		    "\n", archive_entry_pathname(e));
		first = false;
		if (srv_resp_stream_write(req, h, (size_t)hl) < 0)
			break;
		while ((r = archive_read_data(a, buf, 64 * 1024)) > 0)
			if (srv_resp_stream_write(req, buf, (size_t)r) < 0)
				break;
	}
	free(buf);
	archive_read_free(a);
	close(fd);
}

static void
retention(struct srv_req *req, struct srv_resp *resp)
{
	if (!auth_require(req, resp, AUTH_READ, "fleet"))
		return;
	srv_resp_json(resp, 200, lg_retention_report(req->srv->logs));
}

void
lg_routes(struct srv *s)
{
	srv_route(s->router, "GET", "/v1/runs/{id}/logs", run_logs, 0);
	srv_route(s->router, "GET", "/v1/runs/{id}/logs.tar.gz", run_tarball,
	    0);
	srv_route(s->router, "GET", "/v1/deploys/{n}/logs", deploy_logs, 0);
	srv_route(s->router, "GET", "/v1/logs/retention", retention, 0);
}
