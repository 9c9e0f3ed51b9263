/*
 * The agent's state directory (store.h): the lock, whole-file writes,
 * desired.json, files/, steps.json, running.json and the logs of runs.
 *
 * Design rules: no path is ever built from a name that was not checked
 * first (valid_sha256, valid_run); every file is replaced whole, through a
 * temporary file beside it that is fsync()ed, renamed over the old one,
 * and its folder fsync()ed.  The I/O blocks on purpose: the files are a
 * few KiB and the caller moves the one long job, agent_store_logs_pack, to
 * the thread pool.  That function touches nothing but logs/ and its
 * arguments, so it may run while the loop uses the store.
 *
 * Temporary files are named ".NAME.tmp-XXXXXX": a leading dot keeps them
 * out of every listing here, and agent_store_open removes the ones a crash
 * left behind.
 */
#define LR_LOG_COMPONENT "store"

#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "buf.h"
#include "err.h"
#include "file.h"
#include "hash.h"
#include "json.h"
#include "log.h"
#include "store.h"
#include "xalloc.h"

#define MARK_NAME_MAX	160	/* a task run's id and step */
#define RUN_NAME_MAX	128	/* leaves room for ".RUN.tar.gz.tmp-XXXXXX" */
#define TMP_MARK	LR_FILE_TMP_MARK
#define TAR_GZ		".tar.gz"
#define COPY_CHUNK	16384

struct agent_store {
	char	*dir;
	char	*files_dir;
	char	*work_dir;
	char	*logs_dir;
	char	*runs_dir;	/* markers of claimed task-run steps */
	int	 lock_fd;
	json_t	*records;	/* steps.json: the caller's to change */
	json_t	*running;	/* running.json found at open, until taken */
};

/* ---- names ---- */

static bool
valid_sha256(const char *s)
{
	size_t i;

	if (s == NULL)
		return false;
	for (i = 0; i < LR_SHA256_HEX_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f')))
			return false;	/* also stops at a short string's NUL */
	return s[i] == '\0';
}

/* Letters, digits, '-' and '.', no leading '.': never "..", never a '/'. */
static bool
valid_run_n(const char *s, size_t len)
{
	size_t i;
	char c;

	if (len == 0 || len > RUN_NAME_MAX || s[0] == '.')
		return false;
	for (i = 0; i < len; i++) {
		c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.'))
			return false;
	}
	return true;
}

static bool
valid_run(const char *s)
{
	return s != NULL && valid_run_n(s, strnlen(s, RUN_NAME_MAX + 1));
}

static bool
has_suffix(const char *s, const char *suffix, size_t *stemlen)
{
	size_t n = strlen(s), m = strlen(suffix);

	if (n < m || strcmp(s + n - m, suffix) != 0)
		return false;
	if (stemlen != NULL)
		*stemlen = n - m;
	return true;
}

/* ---- errors ---- */

/*
 * "WHAT 'PATH': strerror(e)", with a hint when the cause has a known fix:
 * lib/file.c's, plus the one only the agent can give (--state-dir).
 */
static int
io_fail(struct lr_err *err, int e, const char *what, const char *path)
{
	lr_err_set(err, LR_EIO, "%s '%s': %s", what, path, strerror(e));
	if (e == ENOSPC || e == EDQUOT)
		lr_err_hint(err, "free some space on the file system of '%s'",
		    path);
	else if (e == EACCES || e == EPERM || e == EROFS)
		lr_err_hint(err, "give --state-dir a folder the agent may "
		    "write");
	return LR_EIO;
}

/* ---- whole-file reads and writes ---- */

/*
 * Replace DIR/NAME with the concatenation of iov[0..n), mode `mode`
 * (lr_file_replace_at): a crash of the agent leaves the old file or the
 * new one.  durable: also fsync the file and the folder, so that a power
 * loss does too; without, the caller syncs later (contents) or can lose
 * the file (the crash journal, which only says what to report).
 */
static int
write_atomic(const char *dir, const char *name, const struct iovec *iov,
    int n, mode_t mode, bool durable, struct lr_err *err)
{
	int dfd, rc;

	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return io_fail(err, errno, "cannot open the folder", dir);
	rc = lr_file_replace_at(dfd, dir, name, iov, n, mode,
	    durable ? LR_FILE_DURABLE : 0, err);
	if (rc < 0 && (errno == EACCES || errno == EPERM || errno == EROFS))
		lr_err_hint(err, "give --state-dir a folder the agent may "
		    "write");
	close(dfd);
	return rc;
}

/* Encode v, then write_atomic it with a final newline. */
static int
write_json(const char *dir, const char *name, const json_t *v, size_t flags,
    bool durable, struct lr_err *err)
{
	struct iovec iov[2];
	char *text;
	int rc;

	if ((text = json_dumps(v, flags)) == NULL)
		return lr_err_set(err, LR_EINVAL, "cannot encode '%s/%s' as "
		    "JSON", dir, name);
	iov[0].iov_base = text;
	iov[0].iov_len = strlen(text);
	iov[1].iov_base = (void *)"\n";
	iov[1].iov_len = 1;
	rc = write_atomic(dir, name, iov, 2, 0600, durable, err);
	free(text);
	return rc;
}

/* Read all of path into b: 0, LR_ENOENT (err untouched) or LR_EIO. */
static int
read_whole(const char *path, struct lr_buf *b, struct lr_err *err)
{
	char chunk[4096];
	ssize_t n;
	int fd, e;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return LR_ENOENT;
		return io_fail(err, errno, "cannot read", path);
	}
	for (;;) {
		if ((n = read(fd, chunk, sizeof(chunk))) == -1) {
			if (errno == EINTR)
				continue;
			e = errno;
			close(fd);
			return io_fail(err, e, "cannot read", path);
		}
		if (n == 0)
			break;
		lr_buf_add(b, chunk, (size_t)n);
	}
	close(fd);
	return 0;
}

/*
 * Load path as a JSON object: 0 with *out (NULL when there is no file),
 * LR_EIO, or LR_EINVAL with *why describing the damage.
 */
static int
read_json_object(const char *path, json_t **out, char *why, size_t whylen,
    struct lr_err *err)
{
	struct lr_buf b = LR_BUF_INIT;
	json_error_t jerr;
	json_t *v;
	int rc;

	*out = NULL;
	if ((rc = read_whole(path, &b, err)) == LR_ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	v = json_loadb(b.s != NULL ? b.s : "", b.len, 0, &jerr);
	lr_buf_release(&b);
	if (v == NULL) {
		snprintf(why, whylen, "%s (line %d)", jerr.text, jerr.line);
		return LR_EINVAL;
	}
	if (!json_is_object(v)) {
		snprintf(why, whylen, "not a JSON object");
		json_decref(v);
		return LR_EINVAL;
	}
	*out = v;
	return 0;
}

/* ---- opening ---- */

static int
make_dir(const char *path, struct lr_err *err)
{
	struct stat st;

	if (mkdir(path, 0700) == -1 && errno != EEXIST)
		return io_fail(err, errno, "cannot create the folder", path);
	if (stat(path, &st) == -1)
		return io_fail(err, errno, "cannot use the folder", path);
	if (!S_ISDIR(st.st_mode)) {
		lr_err_set(err, LR_EIO, "'%s' is not a folder", path);
		return lr_err_hint(err, "move it away: the agent keeps its "
		    "state there");
	}
	return 0;
}

static long
read_pid(int fd)
{
	char buf[32];
	ssize_t n;
	long pid;
	char *end;

	if ((n = pread(fd, buf, sizeof(buf) - 1, 0)) <= 0)
		return 0;
	buf[n] = '\0';
	errno = 0;
	pid = strtol(buf, &end, 10);
	if (errno != 0 || end == buf || pid <= 0)
		return 0;
	return pid;
}

/*
 * Lock DIR/lock for as long as the store is open, and write our pid in it
 * for the next agent's message.  A POSIX record lock (fcntl F_SETLK), not
 * flock(): it belongs to the process, so it goes with the agent's death
 * even while a child it forked has not reached exec yet (a flock belongs
 * to the open file, which that child shares until exec closes it: after a
 * kill -9 the next agent found the dir "used" by a dead agent).  The
 * catch of such locks, that closing any descriptor of the file drops
 * them, is why nothing else here opens DIR/lock.  O_CLOEXEC still
 * matters: a step's process must not keep the lock file open.
 */
static int
store_lock(struct agent_store *s, struct lr_err *err)
{
	char *path, pid[32];
	long holder;
	int fd, n, rc = 0;

	path = lr_xasprintf("%s/lock", s->dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd == -1) {
		rc = io_fail(err, errno, "cannot create the lock file", path);
		goto out;
	}
	if (fcntl(fd, F_SETLK, &(struct flock){ .l_type = F_WRLCK,
	    .l_whence = SEEK_SET }) == -1) {
		if (errno != EAGAIN && errno != EACCES) {
			rc = io_fail(err, errno, "cannot lock", path);
		} else if ((holder = read_pid(fd)) > 0) {
			rc = lr_err_set(err, LR_EBUSY, "another leura-agent "
			    "(pid %ld) uses '%s'", holder, s->dir);
		} else {
			rc = lr_err_set(err, LR_EBUSY, "another leura-agent "
			    "uses '%s'", s->dir);
		}
		if (rc == LR_EBUSY)
			lr_err_hint(err, "stop it first, or give this one a "
			    "--state-dir of its own");
		close(fd);
		goto out;
	}
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == -1 || pwrite(fd, pid, (size_t)n, 0) != n) {
		rc = io_fail(err, errno, "cannot write", path);
		close(fd);
		goto out;
	}
	s->lock_fd = fd;
out:
	free(path);
	return rc;
}

/* Remove what a crash left: temporary files, or everything when `all`. */
static void
sweep(const char *path, bool all)
{
	struct dirent *de;
	DIR *d;

	if ((d = opendir(path)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (all || lr_file_is_tmp(de->d_name))
			unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
}

/*
 * Remove the folders a crashed run left in logs/ (logs/RUN/ is removed
 * once packed, so any folder there is from a run that never ended): the
 * files in each, then the folder, all relative to open descriptors.
 * Their logs are lost; the steps run again anyway.  How many it removed.
 */
static size_t
sweep_run_dirs(const char *logs)
{
	struct dirent *de, *fe;
	DIR *d, *rd;
	size_t n = 0;
	int fd;

	if ((d = opendir(logs)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if ((fd = openat(dirfd(d), de->d_name, O_RDONLY |
		    O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
			continue;	/* not a folder: an archive */
		if ((rd = fdopendir(fd)) == NULL) {
			close(fd);
			continue;
		}
		while ((fe = readdir(rd)) != NULL)
			if (strcmp(fe->d_name, ".") != 0 &&
			    strcmp(fe->d_name, "..") != 0)
				(void)unlinkat(fd, fe->d_name, 0);
		closedir(rd);
		if (unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) == 0)
			n++;
		else
			lr_log_warn("cannot remove the log folder '%s/%s' of "
			    "an interrupted run: %s", logs, de->d_name,
			    strerror(errno));
	}
	closedir(d);
	return n;
}

/* PATH.corrupt-STAMP, or -STAMP-N when that one is taken: keep them all. */
static char *
aside_name(const char *path, const char *stamp)
{
	struct stat st;
	char *name;
	int i;

	name = lr_xasprintf("%s.corrupt-%s", path, stamp);
	for (i = 2; i < 100 && lstat(name, &st) == 0; i++) {
		free(name);
		name = lr_xasprintf("%s.corrupt-%s-%d", path, stamp, i);
	}
	return name;
}

/*
 * A steps.json that cannot be read as an object is moved aside, not
 * fatal: the records only save work (a step whose record is lost runs
 * again), and an agent that refuses to start is worse.
 */
static int
load_records(struct agent_store *s, struct lr_err *err)
{
	char why[256], stamp[32], *path, *aside;
	struct tm tm;
	time_t now;
	int rc;

	path = lr_xasprintf("%s/steps.json", s->dir);
	rc = read_json_object(path, &s->records, why, sizeof(why), err);
	if (rc == LR_EINVAL) {
		now = time(NULL);
		gmtime_r(&now, &tm);
		strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
		aside = aside_name(path, stamp);
		if (rename(path, aside) == 0)
			lr_log_warn("'%s' is corrupt: %s; moved it to '%s' and "
			    "starting with no step records", path, why, aside);
		else
			lr_log_warn("'%s' is corrupt: %s; starting with no "
			    "step records (cannot move it aside: %s)", path,
			    why, strerror(errno));
		free(aside);
		rc = 0;
	}
	if (rc == 0 && s->records == NULL)
		s->records = json_object();
	free(path);
	return rc;
}

static int
load_running(struct agent_store *s, struct lr_err *err)
{
	char why[256], *path;
	int rc;

	path = lr_xasprintf("%s/running.json", s->dir);
	rc = read_json_object(path, &s->running, why, sizeof(why), err);
	if (rc == LR_EINVAL) {
		/* the next agent_store_running_set replaces it */
		lr_log_warn("'%s' is corrupt: %s; ignoring it", path, why);
		rc = 0;
	}
	free(path);
	return rc;
}

int
agent_store_open(const char *dir, struct agent_store **out,
    struct lr_err *err)
{
	struct agent_store *s;
	size_t len, n;
	int rc, e;

	s = lr_xcalloc(1, sizeof(*s));
	s->lock_fd = -1;
	len = strlen(dir);
	while (len > 1 && dir[len - 1] == '/')
		len--;
	s->dir = lr_xstrndup(dir, len);
	s->files_dir = lr_xasprintf("%s/files", s->dir);
	s->work_dir = lr_xasprintf("%s/work", s->dir);
	s->logs_dir = lr_xasprintf("%s/logs", s->dir);
	s->runs_dir = lr_xasprintf("%s/runs", s->dir);

	if (len == 0) {
		rc = lr_err_set(err, LR_EINVAL, "the state dir is empty");
		lr_err_hint(err, "give --state-dir a folder the agent may "
		    "write");
		goto out;
	}
	if (mkdir(s->dir, 0700) == -1 && errno != EEXIST) {
		e = errno;
		rc = lr_err_set(err, LR_EIO, "cannot create the state dir "
		    "'%s': %s", s->dir, strerror(e));
		if (e == ENOENT)	/* only the last folder is made */
			lr_err_hint(err, "create the folder that holds it, or "
			    "give --state-dir a folder the agent may write");
		else
			lr_err_hint(err, "give --state-dir a folder the agent "
			    "may write");
		goto out;
	}
	if ((rc = make_dir(s->dir, err)) < 0)
		goto out;
	if ((rc = store_lock(s, err)) < 0)
		goto out;
	if ((rc = make_dir(s->files_dir, err)) < 0 ||
	    (rc = make_dir(s->work_dir, err)) < 0 ||
	    (rc = make_dir(s->logs_dir, err)) < 0 ||
	    (rc = make_dir(s->runs_dir, err)) < 0)
		goto out;
	/*
	 * Traversable, not listable: a step run_as another user can run a
	 * custom step type (0755) by its path; contents stay 0600.
	 */
	(void)chmod(s->dir, 0711);
	(void)chmod(s->files_dir, 0711);
	/* we hold the lock: nothing else is writing here */
	sweep(s->dir, false);
	sweep(s->files_dir, false);
	sweep(s->logs_dir, false);
	sweep(s->runs_dir, false);
	sweep(s->work_dir, true);
	if ((n = sweep_run_dirs(s->logs_dir)) > 0)
		lr_log_info("removed %zu log folder%s of interrupted runs from "
		    "'%s'", n, n == 1 ? "" : "s", s->logs_dir);
	if ((rc = load_records(s, err)) < 0 ||
	    (rc = load_running(s, err)) < 0)
		goto out;
	*out = s;
	s = NULL;
out:
	agent_store_close(s);
	return rc;
}

void
agent_store_close(struct agent_store *s)
{
	if (s == NULL)
		return;
	if (s->lock_fd != -1)
		close(s->lock_fd);	/* releases the lock */
	json_decref(s->records);
	json_decref(s->running);
	free(s->dir);
	free(s->files_dir);
	free(s->work_dir);
	free(s->logs_dir);
	free(s->runs_dir);
	free(s);
}

const char *
agent_store_dir(const struct agent_store *s)
{
	return s->dir;
}

const char *
agent_store_files_dir(const struct agent_store *s)
{
	return s->files_dir;
}

const char *
agent_store_work_dir(const struct agent_store *s)
{
	return s->work_dir;
}

/* ---- desired.json ---- */

int
agent_store_desired_load(struct agent_store *s, json_t **out,
    struct lr_err *err)
{
	char why[256], *path;
	json_t *v;
	int rc;

	path = lr_xasprintf("%s/desired.json", s->dir);
	rc = read_json_object(path, &v, why, sizeof(why), err);
	if (rc == LR_EINVAL) {
		lr_err_set(err, rc, "the saved desired state '%s' is corrupt: "
		    "%s", path, why);
		lr_err_hint(err, "the agent starts without it and fetches "
		    "the desired state from etcd again");
	} else if (rc == 0)
		*out = v;
	free(path);
	return rc;
}

int
agent_store_desired_save(struct agent_store *s, const json_t *v,
    struct lr_err *err)
{
	if (!json_is_object(v))
		return lr_err_set(err, LR_EINVAL, "cannot save the desired "
		    "state in '%s': not a JSON object", s->dir);
	return write_json(s->dir, "desired.json", v, JSON_COMPACT, true, err);
}

/* ---- verified.json ---- */

int64_t
agent_store_verified_generation(struct agent_store *s)
{
	struct lr_err err;
	char why[256], *path;
	json_t *v = NULL;
	int64_t g = 0;
	int rc;

	path = lr_xasprintf("%s/verified.json", s->dir);
	rc = read_json_object(path, &v, why, sizeof(why), &err);
	if (rc == LR_EINVAL)
		lr_log_warn("'%s' is corrupt (%s): older generations are no "
		    "longer refused until a new one is verified", path, why);
	else if (rc == 0)
		g = lr_json_int(v, "generation");
	json_decref(v);
	free(path);
	return g;
}

int
agent_store_verified_save(struct agent_store *s, int64_t gen,
    struct lr_err *err)
{
	json_t *v = json_object();
	int rc;

	json_object_set_new(v, "generation", json_integer(gen));
	rc = write_json(s->dir, "verified.json", v, JSON_COMPACT, true, err);
	json_decref(v);
	return rc;
}

/* ---- files/<sha256> ---- */

bool
agent_store_file_has(const struct agent_store *s, const char *sha256)
{
	struct stat st;
	char *path;
	bool ok;

	if (!valid_sha256(sha256))
		return false;
	path = lr_xasprintf("%s/%s", s->files_dir, sha256);
	ok = stat(path, &st) == 0 && S_ISREG(st.st_mode);
	free(path);
	return ok;
}

int
agent_store_file_put(struct agent_store *s, const char *sha256,
    const void *data, size_t len, bool executable, struct lr_err *err)
{
	char got[LR_SHA256_HEX_LEN + 1], *path;
	struct iovec iov;
	struct stat st;
	mode_t mode;

	if (!valid_sha256(sha256))
		return lr_err_set(err, LR_EINVAL, "invalid content name "
		    "'%.80s': want 64 lowercase hex digits (a SHA-256)",
		    sha256 != NULL ? sha256 : "(null)");
	if (data == NULL)
		data = "";
	lr_sha256_hex(data, len, got);
	if (strcmp(got, sha256) != 0) {
		lr_err_set(err, LR_EINVAL, "refusing the content of '%s': its "
		    "SHA-256 is '%s'", sha256, got);
		return lr_err_hint(err, "the copy in etcd is damaged or "
		    "incomplete; apply the desired state again");
	}
	/* a content may serve a file step and a step type: 0755 sticks */
	mode = executable ? 0755 : 0600;
	path = lr_xasprintf("%s/%s", s->files_dir, sha256);
	if (!executable && stat(path, &st) == 0 && (st.st_mode & S_IXUSR))
		mode = 0755;
	free(path);
	iov.iov_base = (void *)data;
	iov.iov_len = len;
	/* made durable in batches by agent_store_files_sync */
	return write_atomic(s->files_dir, sha256, &iov, 1, mode, false, err);
}

int
agent_store_files_sync(struct agent_store *s, struct lr_err *err)
{
	int fd, rc = 0;

	if ((fd = open(s->files_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1)
		return io_fail(err, errno, "cannot open", s->files_dir);
	/* one syncfs for a batch of contents instead of two fsyncs each */
	if (syncfs(fd) == -1)
		rc = io_fail(err, errno, "cannot sync", s->files_dir);
	close(fd);
	return rc;
}

void
agent_store_files_gc(struct agent_store *s, const json_t *keep)
{
	struct dirent *de;
	json_t *set, *v;
	size_t i;
	DIR *d;

	if (!json_is_array(keep))
		return;
	/* an object as a set: one lookup per file instead of a scan */
	set = json_object();
	json_array_foreach(keep, i, v)
		if (valid_sha256(json_string_value(v)))
			json_object_set_new(set, json_string_value(v),
			    json_true());
	if ((d = opendir(s->files_dir)) == NULL) {
		lr_log_warn("cannot list '%s': %s", s->files_dir,
		    strerror(errno));
		json_decref(set);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (valid_sha256(de->d_name) &&
		    json_object_get(set, de->d_name) != NULL)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == -1)
			lr_log_warn("cannot remove '%s/%s': %s", s->files_dir,
			    de->d_name, strerror(errno));
	}
	closedir(d);
	json_decref(set);
}

/* ---- steps.json ---- */

json_t *
agent_store_records(struct agent_store *s)
{
	return s->records;
}

int
agent_store_records_save(struct agent_store *s, struct lr_err *err)
{
	return write_json(s->dir, "steps.json", s->records, JSON_COMPACT, true,
	    err);
}

/* ---- running.json ---- */

int
agent_store_running_set(struct agent_store *s, const json_t *entry,
    struct lr_err *err)
{
	char *path;
	int rc = 0;

	if (entry != NULL) {
		if (!json_is_object(entry))
			return lr_err_set(err, LR_EINVAL, "cannot save the "
			    "running step in '%s': not a JSON object", s->dir);
		return write_json(s->dir, "running.json", entry, JSON_COMPACT,
		    false, err);
	}
	/*
	 * Not synced: the journal survives the agent's death, and a power
	 * loss that eats it only loses the word "interrupted" (the step
	 * runs again anyway, its record not being written)
	 */
	path = lr_xasprintf("%s/running.json", s->dir);
	if (unlink(path) == -1 && errno != ENOENT)
		rc = io_fail(err, errno, "cannot remove", path);
	free(path);
	return rc;
}

json_t *
agent_store_running_take(struct agent_store *s)
{
	json_t *v = s->running;

	s->running = NULL;
	return v;
}

/* ---- markers of claimed task-run steps ---- */

static int	list_files(const char *, bool (*)(const char *), char ***,
		    size_t *, struct lr_err *);
static void	free_names(char **, size_t);

static bool
valid_mark(const char *s)
{
	size_t i, n;
	char c;

	if (s == NULL || s[0] == '.' || (n = strnlen(s, MARK_NAME_MAX + 1)) ==
	    0 || n > MARK_NAME_MAX)
		return false;
	for (i = 0; i < n; i++) {
		c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '@' || c == '_'))
			return false;
	}
	return true;
}

int
agent_store_run_mark(struct agent_store *s, const char *name,
    const json_t *v, struct lr_err *err)
{
	if (!valid_mark(name) || !json_is_object(v))
		return lr_err_set(err, LR_EINVAL, "cannot mark the task step "
		    "'%s' as claimed: not a valid name", name ? name : "");
	return write_json(s->runs_dir, name, v, JSON_COMPACT, true, err);
}

bool
agent_store_run_marked(const struct agent_store *s, const char *name)
{
	struct stat st;
	char *path;
	bool r;

	if (!valid_mark(name))
		return false;
	path = lr_xasprintf("%s/%s", s->runs_dir, name);
	r = lstat(path, &st) == 0;
	free(path);
	return r;
}

void
agent_store_run_unmark(struct agent_store *s, const char *name)
{
	char *path;

	if (!valid_mark(name))
		return;
	path = lr_xasprintf("%s/%s", s->runs_dir, name);
	if (unlink(path) == -1 && errno != ENOENT)
		lr_log_warn("cannot remove '%s': %s", path, strerror(errno));
	free(path);
}

static bool
is_mark_name(const char *name)
{
	return valid_mark(name) && !lr_file_is_tmp(name);
}

json_t *
agent_store_run_marks(struct agent_store *s)
{
	struct lr_err err;
	json_t *out = json_array();
	char **names = NULL;
	size_t i, n = 0;

	if (list_files(s->runs_dir, is_mark_name, &names, &n, &err) < 0) {
		lr_log_warn("%s", err.msg);
		return out;
	}
	for (i = 0; i < n; i++)
		json_array_append_new(out, json_string(names[i]));
	free_names(names, n);
	return out;
}

/* ---- logs ---- */

char *
agent_store_log_path(struct agent_store *s, const char *run, size_t idx)
{
	char *dir, *path;

	if (!valid_run(run))
		return NULL;
	dir = lr_xasprintf("%s/%s", s->logs_dir, run);
	/* a failure shows when the step opens the file, with its cause */
	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		lr_log_debug("cannot create '%s': %s", dir, strerror(errno));
	path = lr_xasprintf("%s/%03zu.log", dir, idx);
	free(dir);
	return path;
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
free_names(char **names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/*
 * The sorted names in path that pred accepts, regular files only.  A
 * missing folder is an empty list.
 */
static int
list_files(const char *path, bool (*pred)(const char *), char ***out,
    size_t *nout, struct lr_err *err)
{
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	struct stat st;
	DIR *d;

	if ((d = opendir(path)) == NULL) {
		if (errno != ENOENT)
			return io_fail(err, errno, "cannot list", path);
	} else {
		while ((de = readdir(d)) != NULL) {
			if (!pred(de->d_name) || fstatat(dirfd(d), de->d_name,
			    &st, AT_SYMLINK_NOFOLLOW) == -1 ||
			    !S_ISREG(st.st_mode))
				continue;
			*LR_ARRAY_PUSH(names, n, cap) =
			    lr_xstrdup(de->d_name);
		}
		closedir(d);
	}
	if (n > 1)
		qsort(names, n, sizeof(*names), cmp_names);
	*out = names;
	*nout = n;
	return 0;
}

static bool
is_log_name(const char *name)
{
	return name[0] != '.' && has_suffix(name, ".log", NULL);
}

static bool
is_archive_name(const char *name)
{
	size_t stem;

	return has_suffix(name, TAR_GZ, &stem) && valid_run_n(name, stem);
}

static int
ar_fail(struct lr_err *err, struct archive *a, const char *path)
{
	const char *why = archive_error_string(a);

	return lr_err_set(err, LR_EIO, "cannot write '%s': %s", path,
	    why != NULL ? why : "libarchive failed");
}

static int
ar_add(struct archive *a, const char *name, int64_t size, time_t mtime,
    const char *path, struct lr_err *err)
{
	struct archive_entry *e;
	int rc = 0;

	e = archive_entry_new();
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0600);
	archive_entry_set_size(e, size);
	archive_entry_set_mtime(e, mtime, 0);
	if (archive_write_header(a, e) < ARCHIVE_WARN)
		rc = ar_fail(err, a, path);
	archive_entry_free(e);
	return rc;
}

/* Copy the log `name` of rundir into the archive as RUN/name. */
static int
ar_add_log(struct archive *a, const char *run, const char *rundir,
    const char *name, char *chunk, const char *arpath, struct lr_err *err)
{
	char *path, *entry;
	struct stat st;
	int64_t left;
	ssize_t n;
	int fd, rc = 0;

	path = lr_xasprintf("%s/%s", rundir, name);
	entry = lr_xasprintf("%s/%s", run, name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		rc = io_fail(err, errno, "cannot read", path);
		goto out;
	}
	if (fstat(fd, &st) == -1) {
		rc = io_fail(err, errno, "cannot read", path);
		goto out;
	}
	if ((rc = ar_add(a, entry, st.st_size, st.st_mtime, arpath, err)) < 0)
		goto out;
	/*
	 * The size is in the header already: copy that much, no more (a
	 * file that shrank is padded with zeros by libarchive).
	 */
	for (left = st.st_size; left > 0; left -= n) {
		n = read(fd, chunk, left < COPY_CHUNK ? (size_t)left :
		    COPY_CHUNK);
		if (n == -1 && errno == EINTR) {
			n = 0;
			continue;
		}
		if (n == -1) {
			rc = io_fail(err, errno, "cannot read", path);
			goto out;
		}
		if (n == 0)
			break;
		if (archive_write_data(a, chunk, (size_t)n) < 0) {
			rc = ar_fail(err, a, arpath);
			goto out;
		}
	}
out:
	if (fd != -1)
		close(fd);
	free(entry);
	free(path);
	return rc;
}

/* Write RUN/manifest.json and RUN/<logs> into fd as a gzipped pax tar. */
static int
write_archive(int fd, const char *run, const char *rundir, char **logs,
    size_t nlogs, const json_t *manifest, const char *arpath,
    struct lr_err *err)
{
	struct archive *a;
	char *text = NULL, *entry = NULL, *chunk = NULL;
	size_t i, len;
	int rc = 0;

	a = archive_write_new();
	if (archive_write_add_filter_gzip(a) != ARCHIVE_OK ||
	    archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_open_fd(a, fd) != ARCHIVE_OK) {
		rc = ar_fail(err, a, arpath);
		goto out;
	}
	text = json_dumps(manifest, JSON_INDENT(2) | JSON_ENCODE_ANY);
	if (text == NULL) {
		rc = lr_err_set(err, LR_EINVAL, "cannot encode the manifest "
		    "of run '%s' as JSON", run);
		goto out;
	}
	len = strlen(text);
	text[len++] = '\n';		/* over the NUL: a text file */
	entry = lr_xasprintf("%s/manifest.json", run);
	if ((rc = ar_add(a, entry, (int64_t)len, time(NULL), arpath,
	    err)) < 0)
		goto out;
	if (archive_write_data(a, text, len) < 0) {
		rc = ar_fail(err, a, arpath);
		goto out;
	}
	chunk = lr_xmalloc(COPY_CHUNK);
	for (i = 0; i < nlogs; i++)
		if ((rc = ar_add_log(a, run, rundir, logs[i], chunk, arpath,
		    err)) < 0)
			goto out;
	if (archive_write_close(a) != ARCHIVE_OK)
		rc = ar_fail(err, a, arpath);
out:
	archive_write_free(a);		/* the fd stays open: ours */
	free(chunk);
	free(entry);
	free(text);
	return rc;
}

/* Remove rundir and the files in it. */
static int
remove_rundir(const char *rundir, struct lr_err *err)
{
	struct dirent *de;
	char *path;
	DIR *d;
	int rc = 0;

	if ((d = opendir(rundir)) == NULL)
		return errno == ENOENT ? 0 :
		    io_fail(err, errno, "cannot remove", rundir);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == -1 && rc == 0) {
			path = lr_xasprintf("%s/%s", rundir, de->d_name);
			rc = io_fail(err, errno, "cannot remove", path);
			free(path);
		}
	}
	closedir(d);
	if (rc == 0 && rmdir(rundir) == -1)
		rc = io_fail(err, errno, "cannot remove", rundir);
	return rc;
}

/* Keep the newest `keep` archives in logs/ (by name); 0 keeps them all. */
static int
retain(const char *logs, size_t keep, struct lr_err *err)
{
	char **names = NULL, *path;
	size_t n = 0, i;
	int rc;

	if (keep == 0)
		return 0;
	if ((rc = list_files(logs, is_archive_name, &names, &n, err)) < 0)
		return rc;
	for (i = 0; i + keep < n; i++) {
		path = lr_xasprintf("%s/%s", logs, names[i]);
		if (unlink(path) == -1 && errno != ENOENT && rc == 0)
			rc = io_fail(err, errno, "cannot remove", path);
		free(path);
	}
	free_names(names, n);
	return rc;
}

int
agent_store_logs_pack(const char *dir, const char *run,
    const json_t *manifest, size_t keep, struct lr_err *err)
{
	char *logs, *rundir, *arpath, *tmp = NULL, **names = NULL;
	size_t nnames = 0;
	int fd, rc, rc2;

	if (!valid_run(run))
		return lr_err_set(err, LR_EINVAL, "invalid run name '%.80s': "
		    "use letters, digits, '-' and '.', not first",
		    run != NULL ? run : "(null)");
	if (manifest == NULL)
		return lr_err_set(err, LR_EINVAL, "no manifest for the logs "
		    "of run '%s'", run);
	logs = lr_xasprintf("%s/logs", dir);
	rundir = lr_xasprintf("%s/%s", logs, run);
	arpath = lr_xasprintf("%s/%s" TAR_GZ, logs, run);

	/* a run without steps has no folder: its archive holds the manifest */
	if ((rc = list_files(rundir, is_log_name, &names, &nnames, err)) < 0)
		goto out;
	tmp = lr_xasprintf("%s/.%s" TAR_GZ TMP_MARK "XXXXXX", logs, run);
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1) {
		rc = io_fail(err, errno, "cannot write", arpath);
		free(tmp);
		tmp = NULL;
		goto out;
	}
	rc = write_archive(fd, run, rundir, names, nnames, manifest, arpath,
	    err);
	if (rc == 0 && fsync(fd) == -1)
		rc = io_fail(err, errno, "cannot write", arpath);
	if (close(fd) == -1 && rc == 0)
		rc = io_fail(err, errno, "cannot write", arpath);
	if (rc < 0)
		goto out;
	if (rename(tmp, arpath) == -1) {
		rc = io_fail(err, errno, "cannot write", arpath);
		goto out;
	}
	free(tmp);
	tmp = NULL;
	if ((fd = open(logs, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    lr_fsync_dir(fd) == -1) {
		rc = io_fail(err, errno, "cannot sync the folder", logs);
		if (fd != -1)
			close(fd);
		goto out;
	}
	close(fd);
	rc = remove_rundir(rundir, err);
	/* retention runs even then; the first error is the one reported */
	rc2 = retain(logs, keep, rc == 0 ? err : NULL);
	if (rc == 0)
		rc = rc2;
out:
	if (tmp != NULL) {
		unlink(tmp);
		free(tmp);
	}
	free_names(names, nnames);
	free(arpath);
	free(rundir);
	free(logs);
	return rc;
}
