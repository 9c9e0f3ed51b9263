/*
 * The log store (server/logs.h): one thread per leurad, with two blocking
 * etcd clients of its own (ew runs the watch, ek reads back gaps,
 * results and deletes chunk keys), and the files under DATA_DIR/logs.
 *
 * A step (run, host, S) is known from its first chunk or its result.
 * Its next expected chunk n comes from the .idx file (8 bytes per chunk
 * appended after the chunk's bytes: a crash between the two leaves a
 * log longer than its index, cut back at the next start); a chunk below
 * n is a duplicate (ignored), above n a gap (read back from etcd in
 * order).  A step is done when its result is in and says how many
 * chunks it wrote ("chunks") and those are on disk (a result without
 * "chunks", or chunks no longer in etcd, is done with what there is).
 * A run is packed once its record says "finalised" and its steps are
 * done (or a minute after it finalised: a step whose result never came
 * is packed as it is).  The leader deletes a done step's chunk keys.
 */
#define LR_LOG_COMPONENT "logs"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>
#include <uv.h>

#include "buf.h"
#include "clock.h"
#include "etcd.h"
#include "file.h"
#include "json.h"
#include "keys.h"
#include "leurad.h"
#include "log.h"
#include "logs.h"
#include "run.h"
#include "source.h"
#include "xalloc.h"

#define PAGE		64	/* keys a page of the start-up read */
#define PACK_GRACE_MS	60000	/* a finalised run packs at the latest */
#define RETENTION_EVERY_MS (3 * 60 * 1000)
#define COPY_BUF	(64 * 1024)

struct lg_step {
	struct lg_step	*next;
	char		*run, *host;		/* owned */
	int		 step;
	int64_t		 n;			/* chunks on disk */
	bool		 loaded;		/* n read from disk */
	json_t		*result;		/* owned; NULL: not in */
	bool		 done, cleaned;
};

struct lg_run {
	struct lg_run	*next;
	char		*id;			/* owned */
	json_t		*doc;			/* owned: what the manifest says */
	bool		 finalised;
	long		 finalised_ms;		/* when seen finalised */
};

struct lg_state {
	struct srv	*s;			/* borrowed */
	struct lg_opts	 o;
	int		 dfd, ofd;		/* logs/, logs/open/ */
	char		*docs_dir, *log_dir, *res_dir, *end;	/* owned */
	struct etcd	*ew, *ek;		/* owned */
	uv_thread_t	 thread;
	bool		 started;
	atomic_int	 stop;
	long		 last_retention_ms;
	/* guarded by mu */
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	uint64_t	 gen;
	struct lg_step	*steps;
	struct lg_run	*runs;
	char		**handled;		/* runs packed or with nothing */
	size_t		 nhandled, caphandled;
	uint64_t	 usage_bytes, usage_runs;
	int64_t		 oldest;		/* Unix s; 0: none */
	uint64_t	 deleted_total;
	unsigned	 follows, max_follows;
};

bool
lg_host_valid(const char *s)
{
	size_t i;

	if (s == NULL || !((s[0] >= 'a' && s[0] <= 'z') ||
	    (s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= '0' && s[0] <= '9')))
		return false;
	for (i = 0; s[i] != '\0'; i++) {
		if (i >= 253)
			return false;
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
		    s[i] == '_' || s[i] == '.'))
			return false;
		if (s[i] == '.' && s[i + 1] == '.')
			return false;
	}
	return true;
}

/* ---- folders and files ---- */

/* The folder name in parent (made 0700 when create), or -1 with errno. */
static int
dir_at(int parent, const char *name, bool create)
{
	int fd;

	fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (fd >= 0 || errno != ENOENT || !create)
		return fd;
	if (mkdirat(parent, name, 0700) < 0 && errno != EEXIST)
		return -1;
	return openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
}

/* open/<run>/<host>, or -1. */
static int
host_dir(struct lg_state *st, const char *run, const char *host,
    bool create)
{
	int rd, hd;

	if ((rd = dir_at(st->ofd, run, create)) < 0)
		return -1;
	hd = dir_at(rd, host, create);
	close(rd);
	return hd;
}

/* Remove the folder name in parent and what it holds (two levels). */
static void
remove_tree(int parent, const char *name)
{
	struct dirent *de;
	DIR *d;
	int fd;

	if ((fd = dir_at(parent, name, false)) < 0)
		return;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) < 0 &&
		    (errno == EISDIR || errno == EPERM))
			remove_tree(dirfd(d), de->d_name);
	}
	closedir(d);
	if (unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		lr_log_warn("cannot remove logs folder '%s': %s", name,
		    strerror(errno));
}

static void
step_file(char *buf, size_t n, int step, const char *ext)
{
	snprintf(buf, n, "%04d.%s", step, ext);
}

/* ---- steps and runs (mu held) ---- */

static struct lg_step *
step_find(struct lg_state *st, const char *run, const char *host, int step)
{
	struct lg_step *p;

	for (p = st->steps; p != NULL; p = p->next)
		if (p->step == step && strcmp(p->run, run) == 0 &&
		    strcmp(p->host, host) == 0)
			return p;
	return NULL;
}

static struct lg_step *
step_get(struct lg_state *st, const char *run, const char *host, int step)
{
	struct lg_step *p = step_find(st, run, host, step);

	if (p != NULL)
		return p;
	p = lr_xcalloc(1, sizeof(*p));		/* st->steps' */
	p->run = lr_xstrdup(run);
	p->host = lr_xstrdup(host);
	p->step = step;
	p->next = st->steps;
	st->steps = p;
	return p;
}

static void
step_free(struct lg_step *p)
{
	free(p->run);
	free(p->host);
	json_decref(p->result);
	free(p);
}

static struct lg_run *
run_find(struct lg_state *st, const char *id)
{
	struct lg_run *r;

	for (r = st->runs; r != NULL; r = r->next)
		if (strcmp(r->id, id) == 0)
			return r;
	return NULL;
}

/* Where id is or goes in the sorted handled[] (mu held or the thread). */
static size_t
handled_at(struct lg_state *st, const char *id, bool *found)
{
	size_t lo = 0, hi = st->nhandled, mid;
	int c;

	*found = false;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if ((c = strcmp(st->handled[mid], id)) == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool
handled(struct lg_state *st, const char *id)
{
	bool found;

	pthread_mutex_lock(&st->mu);
	handled_at(st, id, &found);
	pthread_mutex_unlock(&st->mu);
	return found;
}

static void
bump(struct lg_state *st)
{
	st->gen++;
	pthread_cond_broadcast(&st->cv);
}

/* Forget run (its steps and record) once handled: packed or empty. */
static void
run_forget(struct lg_state *st, const char *id)
{
	struct lg_step **pp, *p;
	struct lg_run **rp, *r;
	bool found;
	size_t at;

	pthread_mutex_lock(&st->mu);
	for (pp = &st->steps; (p = *pp) != NULL;)
		if (strcmp(p->run, id) == 0) {
			*pp = p->next;
			step_free(p);
		} else
			pp = &p->next;
	for (rp = &st->runs; (r = *rp) != NULL; rp = &r->next)
		if (strcmp(r->id, id) == 0) {
			*rp = r->next;
			free(r->id);
			json_decref(r->doc);
			free(r);
			break;
		}
	at = handled_at(st, id, &found);
	if (!found) {
		st->handled = lr_xgrow(st->handled, &st->caphandled,
		    st->nhandled + 1, sizeof(*st->handled));
		memmove(st->handled + at + 1, st->handled + at,
		    (st->nhandled - at) * sizeof(*st->handled));
		st->handled[at] = lr_xstrdup(id);	/* st's */
		st->nhandled++;
	}
	bump(st);
	pthread_mutex_unlock(&st->mu);
}

/* ---- a step's files ---- */

/*
 * The chunks on disk: the index's entries whose end is within the log;
 * the log and the index are cut back to them (a crash between the two
 * writes).  0, or -1 with errno.
 */
static int
step_load(struct lg_state *st, struct lg_step *p)
{
	char lf[16], xf[16];
	unsigned char *idx = NULL;
	struct stat sl, sx;
	uint64_t off = 0, v;
	int hd, lfd = -1, xfd = -1, rc = -1;
	int64_t k, n;
	int i;

	step_file(lf, sizeof(lf), p->step, "log");
	step_file(xf, sizeof(xf), p->step, "idx");
	if ((hd = host_dir(st, p->run, p->host, false)) < 0) {
		if (errno != ENOENT)
			return -1;
		p->n = 0;
		p->loaded = true;
		return 0;
	}
	lfd = openat(hd, lf, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	xfd = openat(hd, xf, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (lfd < 0 || xfd < 0 || fstat(lfd, &sl) < 0 ||
	    fstat(xfd, &sx) < 0) {
		if (errno == ENOENT) {
			p->n = 0;
			p->loaded = true;
			rc = 0;
			if (lfd >= 0 && ftruncate(lfd, 0) < 0)
				rc = -1;
		}
		goto out;
	}
	n = sx.st_size / 8;
	idx = lr_xmalloc((size_t)n * 8 + 1);	/* freed below */
	if (pread(xfd, idx, (size_t)n * 8, 0) != (ssize_t)(n * 8))
		goto out;
	for (k = 0; k < n; k++) {
		for (v = 0, i = 0; i < 8; i++)
			v = (v << 8) | idx[k * 8 + i];
		if (v > (uint64_t)sl.st_size || v < off)
			break;
		off = v;
	}
	if (ftruncate(lfd, (off_t)off) < 0 || ftruncate(xfd, k * 8) < 0)
		goto out;
	p->n = k;
	p->loaded = true;
	rc = 0;
out:
	free(idx);
	if (lfd >= 0)
		close(lfd);
	if (xfd >= 0)
		close(xfd);
	close(hd);
	return rc;
}

/* Append chunk n (p->n) to the step's log and index. */
static int
step_append(struct lg_state *st, struct lg_step *p, const void *b,
    size_t len)
{
	char lf[16], xf[16];
	unsigned char e[8];
	struct stat sl;
	int hd, lfd = -1, xfd = -1, rc = -1, i;
	uint64_t end;

	step_file(lf, sizeof(lf), p->step, "log");
	step_file(xf, sizeof(xf), p->step, "idx");
	if ((hd = host_dir(st, p->run, p->host, true)) < 0)
		return -1;
	lfd = openat(hd, lf, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	xfd = openat(hd, xf, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (lfd < 0 || xfd < 0 || lr_write_all(lfd, b, len) < 0 ||
	    fstat(lfd, &sl) < 0)
		goto out;
	end = (uint64_t)sl.st_size;
	for (i = 7; i >= 0; i--, end >>= 8)
		e[i] = (unsigned char)(end & 0xff);
	if (lr_write_all(xfd, e, 8) < 0)
		goto out;
	rc = 0;
out:
	if (rc < 0)
		lr_log_warn("cannot store a log chunk of %s %s step %d: %s",
		    p->run, p->host, p->step, strerror(errno));
	if (lfd >= 0)
		close(lfd);
	if (xfd >= 0)
		close(xfd);
	close(hd);
	return rc;
}

/* ---- chunks ---- */

/* "<run>/<host>/<S:04>" and the rest after it into its parts. */
static bool
parse_step(char *rest, char **run, char **host, int *step, char **tail)
{
	char *a, *b, *c, *end;
	long v;

	if ((a = strchr(rest, '/')) == NULL)
		return false;
	*a++ = '\0';
	if ((b = strchr(a, '/')) != NULL)
		*b++ = '\0';
	if (!run_id_valid(rest) || !lg_host_valid(a))
		return false;
	*run = rest;
	*host = a;
	if (b == NULL)
		return false;
	if ((c = strchr(b, '/')) != NULL)
		*c++ = '\0';
	if (strlen(b) != 4 || b[0] < '0' || b[0] > '9')
		return false;
	v = strtol(b, &end, 10);
	if (*end != '\0' || v < 0)
		return false;
	*step = (int)v;
	*tail = c;
	return true;
}

/* Chunk seq's number, or -1. */
static int64_t
parse_seq(const char *s)
{
	char *end;
	long long v;
	size_t n = s != NULL ? strlen(s) : 0;

	if (n < 8 || n > 18 || s[0] < '0' || s[0] > '9')
		return -1;
	v = strtoll(s, &end, 10);
	return *end == '\0' && v >= 0 ? v : -1;
}

/*
 * Append what etcd has of p from p->n on, in order (a gap, a result
 * saying more, the start).  The count appended; *none: etcd had no
 * chunk at or past n.
 */
static int64_t
catch_up(struct lg_state *st, struct lg_step *p, bool *none)
{
	struct etcd_range_result r = { 0 };
	struct etcd_range_req q = { 0 };
	struct lr_err err = { 0 };
	char *from, *dir, *end;
	int64_t got = 0, seq;
	size_t i;

	*none = false;
	dir = proto_key_run_log_step_dir(st->s->prefix, p->run, p->host,
	    p->step);
	end = etcd_prefix_end(dir);
	for (;;) {
		from = proto_key_run_log(st->s->prefix, p->run, p->host,
		    p->step, p->n);
		q.key = from;
		q.range_end = end;
		q.limit = PAGE;
		if (etcd_range(st->ek, &q, &r, &err) < 0) {
			lr_log_warn("reading log chunks back: %s", err.msg);
			free(from);
			break;
		}
		free(from);
		if (r.nkvs == 0 && got == 0)
			*none = true;
		for (i = 0; i < r.nkvs; i++) {
			seq = parse_seq(r.kvs[i].key + strlen(dir));
			if (seq != p->n)
				break;
			if (step_append(st, p, r.kvs[i].value,
			    r.kvs[i].value_len) < 0)
				break;
			pthread_mutex_lock(&st->mu);
			p->n++;
			bump(st);
			pthread_mutex_unlock(&st->mu);
			got++;
		}
		if (i < r.nkvs || !r.more) {
			etcd_range_result_release(&r);
			break;
		}
		etcd_range_result_release(&r);
	}
	free(dir);
	free(end);
	return got;
}

static void step_check(struct lg_state *st, struct lg_step *p);

static void
on_chunk(struct lg_state *st, const char *run, const char *host, int step,
    int64_t seq, const char *v, size_t len)
{
	struct lg_step *p;
	bool none;

	if (handled(st, run)) {
		/* a packed run's chunks (a replica that led later): drop */
		if (ldr_is_leader(st->s)) {
			char *d = proto_key_run_log_step_dir(st->s->prefix,
			    run, host, step);
			struct lr_err err = { 0 };

			etcd_delete(st->ek, d, ETCD_PREFIX, NULL, NULL, &err);
			free(d);
		}
		return;
	}
	pthread_mutex_lock(&st->mu);
	p = step_get(st, run, host, step);
	pthread_mutex_unlock(&st->mu);
	if (!p->loaded && step_load(st, p) < 0) {
		lr_log_warn("cannot read the stored log of %s %s step %d: %s",
		    run, host, step, strerror(errno));
		return;
	}
	if (p->done && seq == 0 && strncmp(run, "d@", 2) == 0) {
		/* a deploy's log written again (a later converge) */
		pthread_mutex_lock(&st->mu);
		p->done = p->cleaned = false;
		p->n = 0;
		json_decref(p->result);
		p->result = NULL;
		pthread_mutex_unlock(&st->mu);
		step_load(st, p);
		if (p->n != 0) {
			int hd = host_dir(st, run, host, false);

			if (hd >= 0) {
				unlinkat(hd, "0000.log", 0);
				unlinkat(hd, "0000.idx", 0);
				close(hd);
			}
			p->n = 0;
		}
	}
	if (seq < p->n)
		return;		/* a duplicate */
	if (seq > p->n) {
		catch_up(st, p, &none);
		if (seq != p->n)
			return;	/* still a gap: the result's catch-up */
	}
	if (step_append(st, p, v, len) < 0)
		return;
	pthread_mutex_lock(&st->mu);
	p->n++;
	bump(st);
	pthread_mutex_unlock(&st->mu);
	if (p->result != NULL)
		step_check(st, p);
}

/* ---- steps done ---- */

static void
leader_clean(struct lg_state *st, struct lg_step *p)
{
	struct lr_err err = { 0 };
	char *d;

	if (!p->done || p->cleaned || !ldr_is_leader(st->s))
		return;
	d = proto_key_run_log_step_dir(st->s->prefix, p->run, p->host,
	    p->step);
	if (etcd_delete(st->ek, d, ETCD_PREFIX, NULL, NULL, &err) < 0)
		lr_log_warn("cannot delete the stored chunks of %s %s step "
		    "%d: %s", p->run, p->host, p->step, err.msg);
	else
		p->cleaned = true;
	free(d);
}

/* A deploy's log is done: the agent's archive into deploys/<N>/. */
static void
deploy_store(struct lg_state *st, struct lg_step *p)
{
	char name[300];
	int hd = -1, dd = -1, nd = -1, fd = -1;

	snprintf(name, sizeof(name), "%s.tar.gz", p->host);
	if ((hd = host_dir(st, p->run, p->host, false)) < 0 ||
	    (dd = dir_at(st->dfd, "deploys", true)) < 0 ||
	    (nd = dir_at(dd, p->run + 2, true)) < 0)
		goto fail;
	if ((fd = openat(hd, "0000.log", O_RDONLY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0) {
		if (errno != ENOENT)
			goto fail;
		/* no chunk at all: an empty archive is no archive */
		goto out;
	}
	if (fsync(fd) < 0 || renameat(hd, "0000.log", nd, name) < 0)
		goto fail;
	lr_fsync_dir(nd);
	lr_log_info("stored the converge log of deploy %s of %s", p->run + 2,
	    p->host);
	goto out;
fail:
	lr_log_warn("cannot store the converge log of %s %s: %s", p->run,
	    p->host, strerror(errno));
out:
	if (fd >= 0)
		close(fd);
	if (hd >= 0) {
		unlinkat(hd, "0000.idx", 0);
		close(hd);
		{
			int rd = dir_at(st->ofd, p->run, false);

			if (rd >= 0) {
				unlinkat(rd, p->host, AT_REMOVEDIR);
				close(rd);
				unlinkat(st->ofd, p->run, AT_REMOVEDIR);
			}
		}
	}
	if (nd >= 0)
		close(nd);
	if (dd >= 0)
		close(dd);
}

static void try_pack(struct lg_state *st, const char *run);

/* Whether p is done now (its result in, its chunks on disk). */
static void
step_check(struct lg_state *st, struct lg_step *p)
{
	int64_t want;
	bool none = false;

	if (p->done || p->result == NULL)
		return;
	want = json_integer_value(json_object_get(p->result, "chunks"));
	if (json_object_get(p->result, "chunks") == NULL || p->n < want)
		catch_up(st, p, &none);
	if (json_object_get(p->result, "chunks") != NULL && p->n < want &&
	    !none)
		return;		/* more will come through the watch */
	if (p->n < want)
		lr_log_warn("%s %s step %d: %" PRId64 " of %" PRId64 " log "
		    "chunks stored, the rest is no longer in etcd", p->run,
		    p->host, p->step, p->n, want);
	pthread_mutex_lock(&st->mu);
	p->done = true;
	bump(st);
	pthread_mutex_unlock(&st->mu);
	if (strncmp(p->run, "d@", 2) == 0 &&
	    lr_json_bool(p->result, "archive"))
		deploy_store(st, p);
	leader_clean(st, p);
	if (strncmp(p->run, "r@", 2) == 0)
		try_pack(st, p->run);
}

static void
on_result(struct lg_state *st, const char *run, const char *host, int step,
    const char *v, size_t len, bool deleted)
{
	struct lg_step *p;
	json_t *o;
	int fd;

	if (handled(st, run))
		return;
	if (deleted) {
		/* a deploy's result deleted: its log is about to be new */
		if (strncmp(run, "d@", 2) != 0)
			return;
		pthread_mutex_lock(&st->mu);
		if ((p = step_find(st, run, host, step)) != NULL) {
			json_decref(p->result);
			p->result = NULL;
			p->done = p->cleaned = false;
			p->n = 0;
			p->loaded = false;
		}
		pthread_mutex_unlock(&st->mu);
		return;
	}
	if ((o = json_loadb(v, len, 0, NULL)) == NULL || !json_is_object(o)) {
		lr_log_warn("the result of %s %s step %d is not a JSON object",
		    run, host, step);
		json_decref(o);
		return;
	}
	/* the run's folder, even for a step with no output: its pack */
	if ((fd = host_dir(st, run, host, true)) >= 0)
		close(fd);
	pthread_mutex_lock(&st->mu);
	p = step_get(st, run, host, step);
	json_decref(p->result);
	p->result = o;
	bump(st);
	pthread_mutex_unlock(&st->mu);
	if (!p->loaded && step_load(st, p) < 0)
		return;
	step_check(st, p);
}

/* ---- run records ---- */

static void
on_doc(struct lg_state *st, const char *run, const char *v, size_t len)
{
	struct lg_run *r;
	json_t *o, *keep;
	const char *state;
	bool fin;
	static const char *const fields[] = { "id", "kind", "task", "by",
	    "created", "ended", "outcome", "hosts", "steps", "command", NULL };
	size_t i;

	if (handled(st, run))
		return;
	if ((o = json_loadb(v, len, 0, NULL)) == NULL || !json_is_object(o)) {
		json_decref(o);
		return;
	}
	keep = json_object();
	for (i = 0; fields[i] != NULL; i++)
		if (json_object_get(o, fields[i]) != NULL)
			json_object_set(keep, fields[i],
			    json_object_get(o, fields[i]));
	state = lr_json_strn(o, "state");
	fin = state != NULL && strcmp(state, "finalised") == 0;
	pthread_mutex_lock(&st->mu);
	if ((r = run_find(st, run)) == NULL) {
		r = lr_xcalloc(1, sizeof(*r));	/* st->runs' */
		r->id = lr_xstrdup(run);
		r->next = st->runs;
		st->runs = r;
	}
	json_decref(r->doc);
	r->doc = keep;
	if (fin && !r->finalised) {
		r->finalised = true;
		r->finalised_ms = lr_now_ms();
	}
	bump(st);
	pthread_mutex_unlock(&st->mu);
	json_decref(o);
	if (fin)
		try_pack(st, run);
}

/* ---- packing ---- */

struct pk_step {
	char	*host;		/* owned */
	int	 step;
};

static int
pk_cmp(const void *a, const void *b)
{
	const struct pk_step *x = a, *y = b;
	int c = strcmp(x->host, y->host);

	return c != 0 ? c : x->step - y->step;
}

static void
pk_add(struct pk_step **v, size_t *n, size_t *cap, const char *host,
    int step)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if ((*v)[i].step == step && strcmp((*v)[i].host, host) == 0)
			return;
	*v = lr_xgrow(*v, cap, *n + 1, sizeof(**v));
	(*v)[*n].host = lr_xstrdup(host);	/* v's */
	(*v)[(*n)++].step = step;
}

/* The steps of run on disk, into v. */
static void
pk_disk(struct lg_state *st, const char *run, struct pk_step **v,
    size_t *n, size_t *cap)
{
	struct dirent *he, *fe;
	DIR *rd, *hd;
	int fd, hfd;
	char *end;
	long s;

	if ((fd = dir_at(st->ofd, run, false)) < 0)
		return;
	if ((rd = fdopendir(fd)) == NULL) {
		close(fd);
		return;
	}
	while ((he = readdir(rd)) != NULL) {
		if (!lg_host_valid(he->d_name) ||
		    (hfd = dir_at(dirfd(rd), he->d_name, false)) < 0)
			continue;
		if ((hd = fdopendir(hfd)) == NULL) {
			close(hfd);
			continue;
		}
		while ((fe = readdir(hd)) != NULL) {
			if (strlen(fe->d_name) != 8 ||
			    strcmp(fe->d_name + 4, ".log") != 0)
				continue;
			s = strtol(fe->d_name, &end, 10);
			if (end == fe->d_name + 4 && s >= 0)
				pk_add(v, n, cap, he->d_name, (int)s);
		}
		closedir(hd);
	}
	closedir(rd);
}

/* A step's name as a file name part. */
static void
safe_name(char *out, size_t n, const char *name)
{
	size_t i;

	snprintf(out, n, "%s", name != NULL && *name ? name : "step");
	for (i = 0; out[i] != '\0'; i++)
		if (!((out[i] >= 'a' && out[i] <= 'z') ||
		    (out[i] >= 'A' && out[i] <= 'Z') ||
		    (out[i] >= '0' && out[i] <= '9') || out[i] == '-' ||
		    out[i] == '_' || out[i] == '.'))
			out[i] = '_';
}

static const char *
step_name(const json_t *doc, int step)
{
	const json_t *s = json_array_get(json_object_get(doc, "steps"),
	    (size_t)step);

	return s != NULL ? lr_json_strn(s, "name") : NULL;
}

static void
hex(const unsigned char *d, size_t n, char *out)
{
	static const char x[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = x[d[i] >> 4];
		out[2 * i + 1] = x[d[i] & 15];
	}
	out[2 * n] = '\0';
}

/* o[k] = s, or null. */
static void
set_str_null(json_t *o, const char *k, const char *s)
{
	json_object_set_new(o, k, s != NULL ? json_string(s) : json_null());
}

/* One step's entry: the file's bytes (or none), its manifest line. */
static int
pack_step(struct lg_state *st, struct archive *a, const char *run,
    const struct pk_step *k, const json_t *doc, const json_t *res,
    json_t *steps)
{
	char lf[16], ename[600], nm[128], sum[65];
	unsigned char md[EVP_MAX_MD_SIZE], *buf;
	unsigned mdn = 0;
	struct archive_entry *e;
	struct stat sb;
	EVP_MD_CTX *h;
	ssize_t r;
	int hd, fd = -1, rc = -1;
	json_t *line;
	uint64_t size = 0;

	step_file(lf, sizeof(lf), k->step, "log");
	if ((hd = host_dir(st, run, k->host, false)) >= 0) {
		fd = openat(hd, lf, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		close(hd);
	}
	if (fd >= 0 && fstat(fd, &sb) == 0)
		size = (uint64_t)sb.st_size;
	safe_name(nm, sizeof(nm), step_name(doc, k->step));
	snprintf(ename, sizeof(ename), "%s/%04d-%s.log", k->host, k->step,
	    nm);
	e = archive_entry_new();
	archive_entry_set_pathname(e, ename);
	archive_entry_set_size(e, (la_int64_t)size);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0600);
	archive_entry_set_mtime(e, time(NULL), 0);
	h = EVP_MD_CTX_new();
	EVP_DigestInit_ex(h, EVP_sha256(), NULL);
	buf = lr_xmalloc(COPY_BUF);		/* freed below */
	if (archive_write_header(a, e) != ARCHIVE_OK)
		goto out;
	while (fd >= 0 && size > 0 && (r = read(fd, buf, COPY_BUF)) > 0) {
		if ((uint64_t)r > size)
			r = (ssize_t)size;
		EVP_DigestUpdate(h, buf, (size_t)r);
		if (archive_write_data(a, buf, (size_t)r) != r)
			goto out;
		size -= (uint64_t)r;
	}
	EVP_DigestFinal_ex(h, md, &mdn);
	hex(md, mdn, sum);
	line = json_object();
	lr_json_set_str(line, "host", k->host);
	lr_json_set_int(line, "step", k->step);
	set_str_null(line, "name", step_name(doc, k->step));
	set_str_null(line, "status", res != NULL ?
	    lr_json_strn(res, "status") : NULL);
	lr_json_set_int(line, "bytes", fd >= 0 ? (int64_t)sb.st_size : 0);
	json_object_set_new(line, "truncated", json_boolean(res != NULL &&
	    lr_json_bool(res, "truncated")));
	lr_json_set_str(line, "sha256", sum);
	json_array_append_new(steps, line);
	rc = 0;
out:
	free(buf);
	EVP_MD_CTX_free(h);
	archive_entry_free(e);
	if (fd >= 0)
		close(fd);
	return rc;
}

/* The results of run in etcd: {"host/S": result} (new). */
static json_t *
run_results(struct lg_state *st, const char *run, struct pk_step **v,
    size_t *n, size_t *cap)
{
	struct etcd_range_result r = { 0 };
	struct etcd_range_req q = { 0 };
	struct lr_err err = { 0 };
	json_t *out = json_object(), *o;
	char *dir = proto_key_run_results_dir(st->s->prefix, run), *rest;
	char *h, *slash, *end;
	size_t i;
	long s;

	q.key = dir;
	q.flags = ETCD_PREFIX;
	if (etcd_range(st->ek, &q, &r, &err) < 0)
		lr_log_warn("reading the results of %s: %s", run, err.msg);
	for (i = 0; i < r.nkvs; i++) {
		rest = r.kvs[i].key + strlen(dir);
		if ((slash = strchr(rest, '/')) == NULL)
			continue;
		h = lr_xstrndup(rest, (size_t)(slash - rest));
		s = strtol(slash + 1, &end, 10);
		if (lg_host_valid(h) && *end == '\0' && s >= 0 &&
		    (o = json_loadb(r.kvs[i].value, r.kvs[i].value_len, 0,
		    NULL)) != NULL) {
			json_object_set_new(out, rest, o);
			pk_add(v, n, cap, h, (int)s);
		}
		free(h);
	}
	etcd_range_result_release(&r);
	free(dir);
	return out;
}

static void lg_retention_run(struct lg_state *st);

/* Make DATA_DIR/logs/<run>.tar.gz from the open folder, then drop it. */
static int
pack(struct lg_state *st, const char *run, const json_t *doc)
{
	struct pk_step *v = NULL;
	size_t n = 0, cap = 0, i;
	struct archive *a = NULL;
	struct archive_entry *e;
	char name[64], *tmp = NULL, *man = NULL, key[300], now[LR_TIME_ISO_LEN];
	json_t *res, *steps, *m;
	int fd, rc = -1;

	res = run_results(st, run, &v, &n, &cap);
	pk_disk(st, run, &v, &n, &cap);
	if (n == 0) {
		json_decref(res);
		return 0;
	}
	qsort(v, n, sizeof(*v), pk_cmp);
	snprintf(name, sizeof(name), "%s.tar.gz", run);
	if ((fd = lr_file_tmp_open(st->dfd, name, 0600, &tmp)) < 0) {
		lr_log_warn("cannot pack the logs of %s: %s", run,
		    strerror(errno));
		goto out;
	}
	a = archive_write_new();
	archive_write_add_filter_gzip(a);
	archive_write_set_format_pax_restricted(a);
	if (archive_write_open_fd(a, fd) != ARCHIVE_OK)
		goto fail;
	steps = json_array();
	for (i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "%s/%04d", v[i].host, v[i].step);
		if (pack_step(st, a, run, &v[i], doc, json_object_get(res,
		    key), steps) < 0) {
			json_decref(steps);
			goto fail;
		}
	}
	m = json_object();
	lr_json_set_str(m, "run", run);
	set_str_null(m, "task", lr_json_strn(doc, "task"));
	set_str_null(m, "by", lr_json_strn(doc, "by"));
	set_str_null(m, "created", lr_json_strn(doc, "created"));
	lr_time_iso_now(now);
	lr_json_set_str(m, "ended", lr_json_strn(doc, "ended") ?
	    lr_json_strn(doc, "ended") : now);
	set_str_null(m, "outcome", lr_json_strn(doc, "outcome"));
	json_object_set_new(m, "steps", steps);
	man = json_dumps(m, JSON_INDENT(1) | JSON_SORT_KEYS);
	json_decref(m);
	if (man == NULL)
		LR_BUG("json_dumps failed");
	e = archive_entry_new();
	archive_entry_set_pathname(e, "manifest.json");
	archive_entry_set_size(e, (la_int64_t)strlen(man));
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0600);
	archive_entry_set_mtime(e, time(NULL), 0);
	if (archive_write_header(a, e) != ARCHIVE_OK ||
	    archive_write_data(a, man, strlen(man)) != (la_ssize_t)strlen(man)) {
		archive_entry_free(e);
		goto fail;
	}
	archive_entry_free(e);
	if (archive_write_close(a) != ARCHIVE_OK || fsync(fd) < 0 ||
	    renameat(st->dfd, tmp, st->dfd, name) < 0)
		goto fail;
	lr_fsync_dir(st->dfd);
	remove_tree(st->ofd, run);
	lr_log_info("packed the logs of %s (%zu steps)", run, n);
	rc = 0;
	goto done;
fail:
	lr_log_warn("cannot pack the logs of %s: %s", run,
	    a != NULL && archive_error_string(a) ? archive_error_string(a) :
	    strerror(errno));
	unlinkat(st->dfd, tmp, 0);
done:
	if (a != NULL)
		archive_write_free(a);
	close(fd);
out:
	free(tmp);
	free(man);
	json_decref(res);
	for (i = 0; i < n; i++)
		free(v[i].host);
	free(v);
	return rc;
}

static void
try_pack(struct lg_state *st, const char *run)
{
	struct lg_step *p;
	struct lg_run *r;
	json_t *doc = NULL;
	bool ready = true;
	char *id;
	int fd;

	pthread_mutex_lock(&st->mu);
	if ((r = run_find(st, run)) == NULL || !r->finalised) {
		pthread_mutex_unlock(&st->mu);
		return;
	}
	for (p = st->steps; p != NULL; p = p->next)
		if (strcmp(p->run, run) == 0 && !p->done)
			ready = false;
	if (!ready && lr_now_ms() - r->finalised_ms > PACK_GRACE_MS)
		ready = true;
	if (ready)
		doc = json_incref(r->doc);
	pthread_mutex_unlock(&st->mu);
	if (!ready)
		return;
	id = lr_xstrdup(run);		/* run may be p->run: freed below */
	if ((fd = dir_at(st->ofd, id, false)) < 0) {
		/*
		 * Nothing of it here: packed before (an archive the
		 * retention may have deleted since) or never seen
		 */
		run_forget(st, id);
		json_decref(doc);
		free(id);
		return;
	}
	close(fd);
	if (pack(st, id, doc) == 0) {
		/* the leader drops what it stored; the steps go */
		pthread_mutex_lock(&st->mu);
		for (p = st->steps; p != NULL; p = p->next)
			if (strcmp(p->run, id) == 0 && !p->done)
				p->done = true;
		pthread_mutex_unlock(&st->mu);
		for (p = st->steps; p != NULL; p = p->next)
			if (strcmp(p->run, id) == 0)
				leader_clean(st, p);
		run_forget(st, id);
		lg_retention_run(st);
	}
	json_decref(doc);
	free(id);
}

/* ---- retention ---- */

struct rt_ent {
	char	 name[300];	/* "r@..." or "d@N/host" */
	char	 path[320];	/* relative to logs/ */
	uint64_t size;
	int64_t	 mtime;
	bool	 del;
};

static int
rt_cmp(const void *a, const void *b)
{
	const struct rt_ent *x = a, *y = b;

	if (x->mtime != y->mtime)
		return x->mtime < y->mtime ? -1 : 1;
	return strcmp(x->name, y->name);
}

static void
rt_add(struct rt_ent **v, size_t *n, size_t *cap, const char *name,
    const char *path, const struct stat *sb)
{
	*v = lr_xgrow(*v, cap, *n + 1, sizeof(**v));
	memset(&(*v)[*n], 0, sizeof(**v));
	snprintf((*v)[*n].name, sizeof((*v)[*n].name), "%s", name);
	snprintf((*v)[*n].path, sizeof((*v)[*n].path), "%s", path);
	(*v)[*n].size = (uint64_t)sb->st_size;
	(*v)[(*n)++].mtime = (int64_t)sb->st_mtime;
}

/* The archives on disk, oldest first, each marked for deletion or not. */
static size_t
rt_scan(struct lg_state *st, struct rt_ent **out, uint64_t *total)
{
	struct rt_ent *v = NULL;
	size_t n = 0, cap = 0, i, l;
	struct dirent *de, *he;
	struct stat sb;
	char id[64], nm[300], path[600];
	DIR *d, *nd;
	int fd, dd, nfd;
	int64_t now = (int64_t)time(NULL);
	uint64_t sum = 0, keep;

	if ((fd = dup(st->dfd)) >= 0 && (d = fdopendir(fd)) != NULL) {
		rewinddir(d);
		while ((de = readdir(d)) != NULL) {
			l = strlen(de->d_name);
			if (l < 8 || l - 7 >= sizeof(id) ||
			    strcmp(de->d_name + l - 7, ".tar.gz") != 0)
				continue;
			memcpy(id, de->d_name, l - 7);
			id[l - 7] = '\0';
			if (!run_id_valid(id) || fstatat(st->dfd, de->d_name,
			    &sb, AT_SYMLINK_NOFOLLOW) < 0 ||
			    !S_ISREG(sb.st_mode))
				continue;
			rt_add(&v, &n, &cap, id, de->d_name, &sb);
		}
		closedir(d);
	} else if (fd >= 0)
		close(fd);
	if ((dd = dir_at(st->dfd, "deploys", false)) >= 0 &&
	    (d = fdopendir(dd)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			snprintf(id, sizeof(id), "d@%.40s", de->d_name);
			if (!run_id_valid(id) ||
			    (nfd = dir_at(dirfd(d), de->d_name, false)) < 0)
				continue;
			if ((nd = fdopendir(nfd)) == NULL) {
				close(nfd);
				continue;
			}
			while ((he = readdir(nd)) != NULL) {
				l = strlen(he->d_name);
				if (l < 8 || l - 7 >= sizeof(nm) ||
				    strcmp(he->d_name + l - 7, ".tar.gz") != 0)
					continue;
				memcpy(nm, he->d_name, l - 7);
				nm[l - 7] = '\0';
				if (!lg_host_valid(nm) || fstatat(dirfd(nd),
				    he->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
					continue;
				snprintf(path, sizeof(path), "%s/%s", id, nm);
				rt_add(&v, &n, &cap, path, "", &sb);
				snprintf(v[n - 1].path, sizeof(v[n - 1].path),
				    "deploys/%.20s/%.260s", de->d_name,
				    he->d_name);
			}
			closedir(nd);
		}
		closedir(d);
	} else if (dd >= 0)
		close(dd);
	if (n > 0)
		qsort(v, n, sizeof(*v), rt_cmp);
	for (i = 0; i < n; i++)
		sum += v[i].size;
	keep = sum;
	for (i = 0; i < n; i++) {
		if (now - v[i].mtime > st->o.retention_s ||
		    keep > st->o.max_bytes) {
			v[i].del = true;
			keep -= v[i].size;
		}
	}
	*total = sum;
	*out = v;
	return n;
}

static void
rt_usage(struct lg_state *st, const struct rt_ent *v, size_t n)
{
	uint64_t bytes = 0, runs = 0;
	int64_t oldest = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (v[i].del)
			continue;
		bytes += v[i].size;
		if (v[i].name[0] == 'r')
			runs++;
		if (oldest == 0 || v[i].mtime < oldest)
			oldest = v[i].mtime;
	}
	pthread_mutex_lock(&st->mu);
	st->usage_bytes = bytes;
	st->usage_runs = runs;
	st->oldest = oldest;
	pthread_mutex_unlock(&st->mu);
}

static void
lg_retention_run(struct lg_state *st)
{
	struct rt_ent *v = NULL;
	uint64_t total, gone = 0;
	size_t n, i;

	st->last_retention_ms = lr_now_ms();
	n = rt_scan(st, &v, &total);
	for (i = 0; i < n; i++) {
		if (!v[i].del)
			continue;
		if (unlinkat(st->dfd, v[i].path, 0) < 0 && errno != ENOENT) {
			lr_log_warn("retention: cannot delete '%s': %s",
			    v[i].path, strerror(errno));
			v[i].del = false;
			continue;
		}
		lr_log_info("retention: deleted the logs of %s (%" PRIu64
		    " bytes)", v[i].name, v[i].size);
		gone++;
	}
	rt_usage(st, v, n);
	pthread_mutex_lock(&st->mu);
	st->deleted_total += gone;
	pthread_mutex_unlock(&st->mu);
	free(v);
}

json_t *
lg_retention_report(struct lg_state *st)
{
	struct rt_ent *v = NULL;
	uint64_t total, kept = 0;
	size_t n, i, runs = 0;
	json_t *o = json_object(), *pol = json_object(), *use = json_object();
	json_t *w = json_array(), *x;
	int64_t now = (int64_t)time(NULL), oldest = 0;
	char t[LR_TIME_ISO_LEN];

	n = rt_scan(st, &v, &total);
	for (i = 0; i < n; i++) {
		if (v[i].name[0] == 'r')
			runs++;
		if (oldest == 0 || v[i].mtime < oldest)
			oldest = v[i].mtime;
		if (!v[i].del) {
			kept += v[i].size;
			continue;
		}
		x = json_object();
		lr_json_set_str(x, "run", v[i].name);
		lr_json_set_int(x, "bytes", (int64_t)v[i].size);
		lr_time_iso(v[i].mtime, t);
		lr_json_set_str(x, "time", t);
		lr_json_set_str(x, "reason", now - v[i].mtime >
		    st->o.retention_s ? "age" : "size");
		json_array_append_new(w, x);
	}
	lr_json_set_int(pol, "retention_seconds", st->o.retention_s);
	lr_json_set_int(pol, "max_bytes", (int64_t)st->o.max_bytes);
	lr_json_set_int(use, "bytes", (int64_t)total);
	lr_json_set_int(use, "archives", (int64_t)n);
	lr_json_set_int(use, "runs", (int64_t)runs);
	lr_json_set_int(use, "oldest_seconds", oldest ? now - oldest : 0);
	lr_json_set_int(use, "bytes_after", (int64_t)kept);
	json_object_set_new(o, "policy", pol);
	json_object_set_new(o, "usage", use);
	json_object_set_new(o, "would_delete", w);
	free(v);
	return o;
}

static void
metrics_fn(struct srv *s, struct lr_buf *out, void *arg)
{
	struct lg_state *st = arg;
	int64_t now = (int64_t)time(NULL);

	(void)s;
	pthread_mutex_lock(&st->mu);
	lr_buf_printf(out, "# HELP leurad_logs_bytes Bytes of run and "
	    "deploy log archives kept.\n# TYPE leurad_logs_bytes gauge\n"
	    "leurad_logs_bytes %" PRIu64 "\n", st->usage_bytes);
	lr_buf_printf(out, "# HELP leurad_logs_runs Run log archives "
	    "kept.\n# TYPE leurad_logs_runs gauge\nleurad_logs_runs %"
	    PRIu64 "\n", st->usage_runs);
	lr_buf_printf(out, "# HELP leurad_logs_oldest_seconds Age of the "
	    "oldest log archive kept.\n# TYPE leurad_logs_oldest_seconds "
	    "gauge\nleurad_logs_oldest_seconds %" PRId64 "\n",
	    st->oldest ? now - st->oldest : 0);
	lr_buf_printf(out, "# HELP leurad_logs_follows Logs followed now "
	    "(GET /v1/runs/{id}/logs?follow=1).\n# TYPE leurad_logs_follows "
	    "gauge\nleurad_logs_follows %u\n", st->follows);
	lr_buf_printf(out, "# HELP leurad_logs_deleted_total Log archives "
	    "deleted by the retention.\n# TYPE leurad_logs_deleted_total "
	    "counter\nleurad_logs_deleted_total %" PRIu64 "\n",
	    st->deleted_total);
	pthread_mutex_unlock(&st->mu);
}

/* ---- the watch ---- */

/* One key's change (a put, or a delete when v is NULL). */
static void
on_kv(struct lg_state *st, const char *key, const char *v, size_t len)
{
	char *rest, *run, *host, *tail;
	int step;
	int64_t seq;

	if (strncmp(key, st->docs_dir, strlen(st->docs_dir)) == 0) {
		key += strlen(st->docs_dir);
		if (v != NULL && run_id_valid(key) && key[0] == 'r')
			on_doc(st, key, v, len);
		return;
	}
	if (strncmp(key, st->log_dir, strlen(st->log_dir)) == 0) {
		if (v == NULL)
			return;
		rest = lr_xstrdup(key + strlen(st->log_dir));
		if (parse_step(rest, &run, &host, &step, &tail) &&
		    (seq = parse_seq(tail)) >= 0)
			on_chunk(st, run, host, step, seq, v, len);
		else
			lr_log_debug("ignored a log key: '%s'", key);
		free(rest);
		return;
	}
	if (strncmp(key, st->res_dir, strlen(st->res_dir)) == 0) {
		rest = lr_xstrdup(key + strlen(st->res_dir));
		if (parse_step(rest, &run, &host, &step, &tail) &&
		    tail == NULL)
			on_result(st, run, host, step, v, len, v == NULL);
		free(rest);
	}
}

static int
watch_cb(const struct etcd_watch_batch *b, void *arg)
{
	struct lg_state *st = arg;
	size_t i;

	if (b->kind == ETCD_WATCH_EVENTS)
		for (i = 0; i < b->nevents; i++)
			on_kv(st, b->events[i].kv.key,
			    b->events[i].type == ETCD_EV_PUT ?
			    b->events[i].kv.value : NULL,
			    b->events[i].kv.value_len);
	else if (b->kind == ETCD_WATCH_RESYNC)
		for (i = 0; i < b->nkvs; i++)
			on_kv(st, b->kvs[i].key, b->kvs[i].value,
			    b->kvs[i].value_len);
	return 0;
}

/* Every second: late packs, the leader's deletes, the retention. */
static int
tick_cb(bool connected, void *arg)
{
	struct lg_state *st = arg;
	struct lg_step *p;
	struct lg_run *r;
	char **ids = NULL;
	size_t n = 0, cap = 0, i;

	(void)connected;
	pthread_mutex_lock(&st->mu);
	for (r = st->runs; r != NULL; r = r->next)
		if (r->finalised) {
			ids = lr_xgrow(ids, &cap, n + 1, sizeof(*ids));
			ids[n++] = lr_xstrdup(r->id);	/* freed below */
		}
	pthread_mutex_unlock(&st->mu);
	for (i = 0; i < n; i++) {
		try_pack(st, ids[i]);
		free(ids[i]);
	}
	free(ids);
	if (ldr_is_leader(st->s))
		for (p = st->steps; p != NULL; p = p->next)
			leader_clean(st, p);
	if (lr_now_ms() - st->last_retention_ms > RETENTION_EVERY_MS)
		lg_retention_run(st);
	return 0;
}

/* Read the whole range at one revision, in pages; its revision. */
static int64_t
load(struct lg_state *st)
{
	struct etcd_range_result r = { 0 };
	struct etcd_range_req q = { 0 };
	struct lr_err err = { 0 };
	char *from = lr_xstrdup(st->docs_dir);
	int64_t rev = 0;
	size_t i;

	for (;;) {
		q.key = from;
		q.range_end = st->end;
		q.limit = PAGE;
		q.revision = rev;
		if (etcd_range(st->ek, &q, &r, &err) < 0) {
			lr_log_warn("reading run logs from etcd: %s", err.msg);
			free(from);
			return -1;
		}
		if (rev == 0)
			rev = r.revision;
		for (i = 0; i < r.nkvs && !atomic_load(&st->stop); i++)
			on_kv(st, r.kvs[i].key, r.kvs[i].value,
			    r.kvs[i].value_len);
		free(from);
		from = NULL;
		if (r.more && r.nkvs > 0)
			from = lr_xasprintf("%s\x01", r.kvs[r.nkvs - 1].key);
		etcd_range_result_release(&r);
		if (from == NULL || atomic_load(&st->stop))
			break;
	}
	free(from);
	return rev;
}

static void
store_thread(void *arg)
{
	struct lg_state *st = arg;
	struct etcd_watch_req w = { 0 };
	struct etcd_watch_opts wo = { 0 };
	struct lr_err err = { 0 };
	int64_t rev;

	lg_retention_run(st);
	while (!atomic_load(&st->stop)) {
		if ((rev = load(st)) < 0) {
			lr_sleep_ms(1000);
			continue;
		}
		tick_cb(true, st);
		w.key = st->docs_dir;
		w.range_end = st->end;
		w.start_revision = rev + 1;
		wo.stop = &st->stop;
		wo.tick_ms = 1000;
		wo.tick = tick_cb;
		lr_err_clear(&err);
		if (etcd_watch_run(st->ew, &w, &wo, watch_cb, st, &err) != 0 &&
		    !atomic_load(&st->stop)) {
			lr_log_warn("watching run logs: %s", err.msg);
			lr_sleep_ms(1000);
		}
	}
}

/* ---- the module ---- */

int
lg_init(struct srv *s, const struct lg_opts *o, struct lr_err *err)
{
	struct lg_state *st;
	char *runs;
	int rc;
	const char *tp = getenv("UV_THREADPOOL_SIZE");

	st = lr_xcalloc(1, sizeof(*st));	/* s->logs: lg_free */
	st->s = s;
	st->o = *o;
	st->dfd = st->ofd = -1;
	pthread_mutex_init(&st->mu, NULL);
	pthread_cond_init(&st->cv, NULL);
	s->logs = st;
	/* a follow holds a worker: at most a quarter of them */
	st->max_follows = (tp != NULL && atoi(tp) >= 4 ? (unsigned)atoi(tp) :
	    4) / 4;
	if ((st->dfd = dir_at(AT_FDCWD, s->data_dir, false)) < 0 ||
	    (rc = dir_at(st->dfd, "logs", true)) < 0) {
		lr_err_set(err, LR_EIO, "cannot open the log store in '%s': "
		    "%s", s->data_dir, strerror(errno));
		return lr_err_hint(err, "leurad's --data-dir must be a folder "
		    "leurad may write");
	}
	close(st->dfd);
	st->dfd = rc;
	if ((st->ofd = dir_at(st->dfd, "open", true)) < 0) {
		lr_err_set(err, LR_EIO, "cannot open '%s/logs/open': %s",
		    s->data_dir, strerror(errno));
		return lr_err_hint(err, "leurad's --data-dir must be a folder "
		    "leurad may write");
	}
	st->docs_dir = proto_key_run_docs_dir(s->prefix);
	st->log_dir = proto_key_run_log_dir(s->prefix);
	runs = proto_key_runs_dir(s->prefix);
	st->res_dir = lr_xasprintf("%sresults/", runs);
	free(runs);
	st->end = etcd_prefix_end(st->res_dir);
	if ((rc = ldr_etcd_new(s, &st->ew, err)) < 0 ||
	    (rc = ldr_etcd_new(s, &st->ek, err)) < 0)
		return rc;
	srv_metrics_add(s, metrics_fn, st);
	if (uv_thread_create(&st->thread, store_thread, st) != 0) {
		lr_err_set(err, LR_EIO, "cannot start the log store's thread");
		return lr_err_hint(err, "is the system out of threads?");
	}
	st->started = true;
	return 0;
}

void
lg_free(struct srv *s)
{
	struct lg_state *st = s->logs;
	struct lg_step *p;
	struct lg_run *r;
	size_t i;

	if (st == NULL)
		return;
	atomic_store(&st->stop, 1);
	if (st->started)
		uv_thread_join(&st->thread);
	while ((p = st->steps) != NULL) {
		st->steps = p->next;
		step_free(p);
	}
	while ((r = st->runs) != NULL) {
		st->runs = r->next;
		free(r->id);
		json_decref(r->doc);
		free(r);
	}
	for (i = 0; i < st->nhandled; i++)
		free(st->handled[i]);
	free(st->handled);
	etcd_free(st->ew);
	etcd_free(st->ek);
	if (st->dfd >= 0)
		close(st->dfd);
	if (st->ofd >= 0)
		close(st->ofd);
	free(st->docs_dir);
	free(st->log_dir);
	free(st->res_dir);
	free(st->end);
	pthread_mutex_destroy(&st->mu);
	pthread_cond_destroy(&st->cv);
	free(st);
	s->logs = NULL;
}

/* ---- for the API (logs_api.c) ---- */

int
lg_dirfd(struct lg_state *st)
{
	return st->dfd;
}

static int
fstep_cmp(const void *a, const void *b)
{
	const struct lg_fstep *x = a, *y = b;
	int c = strcmp(x->host, y->host);

	return c != 0 ? c : x->step - y->step;
}

size_t
lg_follow_steps(struct lg_state *st, const char *run, const char *host,
    int step, struct lg_fstep **v, bool *finalised, bool *packed,
    uint64_t *gen)
{
	struct lg_step *p;
	struct lg_run *r;
	size_t n = 0, cap = 0;

	*v = NULL;
	pthread_mutex_lock(&st->mu);
	for (p = st->steps; p != NULL; p = p->next) {
		if (strcmp(p->run, run) != 0 ||
		    (host != NULL && strcmp(p->host, host) != 0) ||
		    (step >= 0 && p->step != step))
			continue;
		*v = lr_xgrow(*v, &cap, n + 1, sizeof(**v));
		snprintf((*v)[n].host, sizeof((*v)[n].host), "%s", p->host);
		(*v)[n].step = p->step;
		(*v)[n++].done = p->done;
	}
	r = run_find(st, run);
	*finalised = r != NULL && r->finalised;
	handled_at(st, run, packed);
	*gen = st->gen;
	pthread_mutex_unlock(&st->mu);
	if (n > 1)
		qsort(*v, n, sizeof(**v), fstep_cmp);
	return n;
}

void
lg_wait(struct lg_state *st, uint64_t gen, long ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&st->mu);
	while (st->gen == gen)
		if (pthread_cond_timedwait(&st->cv, &st->mu, &ts) != 0)
			break;
	pthread_mutex_unlock(&st->mu);
}

bool
lg_follow_take(struct lg_state *st, unsigned *max)
{
	bool ok;

	pthread_mutex_lock(&st->mu);
	*max = st->max_follows;
	if ((ok = st->follows < st->max_follows))
		st->follows++;
	pthread_mutex_unlock(&st->mu);
	return ok;
}

void
lg_follow_give(struct lg_state *st)
{
	pthread_mutex_lock(&st->mu);
	st->follows--;
	pthread_mutex_unlock(&st->mu);
}

/* ---- reading ---- */

/* The open archive of run, positioned nowhere, or NULL. */
static struct archive *
ar_open(struct lg_state *st, const char *run, int *fdp)
{
	char name[64];
	struct archive *a;
	int fd;

	snprintf(name, sizeof(name), "%s.tar.gz", run);
	if ((fd = openat(st->dfd, name, O_RDONLY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0)
		return NULL;
	a = archive_read_new();
	archive_read_support_filter_gzip(a);
	archive_read_support_format_tar(a);
	if (archive_read_open_fd(a, fd, COPY_BUF) != ARCHIVE_OK) {
		archive_read_free(a);
		close(fd);
		return NULL;
	}
	*fdp = fd;
	return a;
}

/* An entry's host and step ("<host>/<S:04>-<name>.log"); name after. */
static bool
ar_entry(const char *path, char *host, size_t hn, int *step,
    const char **name)
{
	const char *sl = strchr(path, '/');
	size_t l;

	if (sl == NULL || (size_t)(sl - path) >= hn)
		return false;
	memcpy(host, path, (size_t)(sl - path));
	host[sl - path] = '\0';
	l = strlen(sl + 1);
	if (l < 9 || sl[5] != '-' || strcmp(sl + 1 + l - 4, ".log") != 0)
		return false;
	*step = atoi(sl + 1);
	*name = sl + 6;
	return true;
}

int64_t
lg_read_step(struct lg_state *st, const char *run, const char *host,
    int step, uint64_t off, lg_sink *fn, void *arg)
{
	struct archive_entry *e;
	struct archive *a;
	char lf[16], h[256], *buf;
	const char *nm;
	int hd, fd, s;
	int64_t got = 0;
	la_ssize_t r;
	uint64_t skip;

	step_file(lf, sizeof(lf), step, "log");
	buf = lr_xmalloc(COPY_BUF);		/* freed below */
	if ((hd = host_dir(st, run, host, false)) >= 0) {
		fd = openat(hd, lf, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		close(hd);
		if (fd >= 0) {
			while ((r = pread(fd, buf, COPY_BUF, (off_t)off)) > 0) {
				off += (uint64_t)r;
				got += r;
				if (fn(buf, (size_t)r, arg) < 0)
					break;
			}
			close(fd);
			free(buf);
			return got;
		}
	}
	if ((a = ar_open(st, run, &fd)) == NULL) {
		free(buf);
		return -1;
	}
	got = -1;
	while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
		if (!ar_entry(archive_entry_pathname(e), h, sizeof(h), &s,
		    &nm) || s != step || strcmp(h, host) != 0)
			continue;
		got = 0;
		skip = off;
		while ((r = archive_read_data(a, buf, COPY_BUF)) > 0) {
			if (skip >= (uint64_t)r) {
				skip -= (uint64_t)r;
				continue;
			}
			got += r - (la_ssize_t)skip;
			if (fn(buf + skip, (size_t)r - skip, arg) < 0)
				break;
			skip = 0;
		}
		break;
	}
	archive_read_free(a);
	close(fd);
	free(buf);
	return got;
}

json_t *
lg_disk_steps(struct lg_state *st, const char *run)
{
	struct archive_entry *e;
	struct archive *a;
	struct pk_step *v = NULL;
	size_t n = 0, cap = 0, i;
	struct lg_run *r;
	json_t *out, *x;
	char h[256];
	const char *nm;
	int fd, s;

	out = json_array();
	if ((a = ar_open(st, run, &fd)) != NULL) {
		while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
			if (!ar_entry(archive_entry_pathname(e), h, sizeof(h),
			    &s, &nm))
				continue;
			x = json_object();
			lr_json_set_str(x, "host", h);
			lr_json_set_int(x, "step", s);
			json_object_set_new(x, "name", json_stringn(nm,
			    strlen(nm) - 4));
			json_array_append_new(out, x);
		}
		archive_read_free(a);
		close(fd);
		return out;
	}
	pk_disk(st, run, &v, &n, &cap);
	qsort(v, n, sizeof(*v), pk_cmp);
	pthread_mutex_lock(&st->mu);
	r = run_find(st, run);
	for (i = 0; i < n; i++) {
		x = json_object();
		lr_json_set_str(x, "host", v[i].host);
		lr_json_set_int(x, "step", v[i].step);
		lr_json_set_str(x, "name", r != NULL ? step_name(r->doc,
		    v[i].step) : NULL);
		json_array_append_new(out, x);
		free(v[i].host);
	}
	pthread_mutex_unlock(&st->mu);
	free(v);
	return out;
}
