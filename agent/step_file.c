/*
 * File steps: put the content files_dir/<sha256> at dest with the mode and
 * owner asked for, or (AGENT_STEP_CHECK) only say how dest differs.
 *
 * step_file_work runs on the libuv thread pool and touches nothing but its
 * struct step_work and the immutable spec it points to; that is why user
 * and group names are looked up with the _r functions.  The write is
 * atomic: a temporary file in dest's folder, fchown, fchmod, fsync, rename
 * over dest, fsync of the folder, so a crash leaves the old or the new
 * file, never half of one.  Mode and owner not given are kept from the file
 * being replaced (0644 and the agent's user for a new one).
 *
 * The design rule: nothing is done by path after the fact.  dest's folder
 * is walked to and made through open descriptors (step_file_open_dir), and
 * every stat, open, mode, owner and rename after that is relative to the
 * folder's descriptor or on the file's own, so a user who may write a
 * folder on the way cannot turn the root agent's chmod or write onto
 * another file by swapping in a symbolic link.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <ctype.h>
#include <dirent.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "fields.h"
#include "file.h"
#include "hash.h"
#include "step-int.h"
#include "xalloc.h"

/* ---- parsing (loop thread) ---- */

static int
opt_str(const json_t *step, const char *key, char **out, struct lr_err *err)
{
	const json_t *v = json_object_get(step, key);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v) || json_string_length(v) == 0)
		return lr_err_set(err, LR_EINVAL, "'%s' of file step must be "
		    "a non-empty string", key);
	*out = lr_xstrdup(json_string_value(v));
	return 0;
}

int
step_file_parse(const json_t *step, struct step_file_spec *fs,
    struct lr_err *err)
{
	const json_t *v;
	const char *s;
	char *end;
	long m;
	size_t i;

	memset(fs, 0, sizeof(*fs));
	fs->mode = -1;
	fs->size = -1;
	v = json_object_get(step, PROTO_STEP_DEST);
	if (!json_is_string(v) || json_string_value(v)[0] != '/')
		return lr_err_set(err, LR_EINVAL,
		    "file step has no absolute 'dest'");
	fs->dest = lr_xstrdup(json_string_value(v));
	v = json_object_get(step, PROTO_STEP_SHA256);
	s = json_string_value(v);
	if (s == NULL || strlen(s) != LR_SHA256_HEX_LEN)
		return lr_err_set(err, LR_EINVAL, "file step '%s' has no "
		    "'sha256' of 64 hex digits", fs->dest);
	fs->sha256 = lr_xstrdup(s);
	for (i = 0; i < LR_SHA256_HEX_LEN; i++) {
		if (!isxdigit((unsigned char)s[i]))
			return lr_err_set(err, LR_EINVAL, "file step '%s' "
			    "has no 'sha256' of 64 hex digits", fs->dest);
		fs->sha256[i] = (char)tolower((unsigned char)s[i]);
	}
	if ((v = json_object_get(step, PROTO_STEP_SIZE)) != NULL &&
	    !json_is_null(v)) {
		if (!json_is_integer(v) || json_integer_value(v) < 0)
			return lr_err_set(err, LR_EINVAL, "'size' of file "
			    "step '%s' must be a number of bytes", fs->dest);
		fs->size = json_integer_value(v);
	}
	if ((v = json_object_get(step, PROTO_STEP_MODE)) != NULL &&
	    !json_is_null(v)) {
		s = json_string_value(v);
		errno = 0;
		m = s && *s ? strtol(s, &end, 8) : -1;
		if (s == NULL || *s == '\0' || *end != '\0' || errno ||
		    m < 0 || m > 07777)
			return lr_err_set(err, LR_EINVAL, "'mode' of file step "
			    "'%s' must be octal digits such as \"0644\"",
			    fs->dest);
		fs->mode = (int)m;
	}
	if (opt_str(step, PROTO_STEP_OWNER, &fs->owner, err) < 0 ||
	    opt_str(step, PROTO_STEP_GROUP, &fs->group, err) < 0 ||
	    opt_str(step, PROTO_STEP_VALIDATE, &fs->validate, err) < 0)
		return LR_EINVAL;
	if (fs->validate && strstr(fs->validate, "%s") == NULL)
		return lr_err_set(err, LR_EINVAL, "'validate' of file step "
		    "'%s' has no %%s for the new file's path", fs->dest);
	return 0;
}

void
step_file_release(struct step_file_spec *fs)
{
	if (fs == NULL)
		return;
	free(fs->dest);
	free(fs->sha256);
	free(fs->owner);
	free(fs->group);
	free(fs->validate);
	memset(fs, 0, sizeof(*fs));
	fs->mode = -1;
	fs->size = -1;
}

/* ---- users and groups (thread-safe) ---- */

static bool
all_digits(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

/*
 * 0 and *id, or -1: no such user (group), or -2: digits out of the range
 * of ids (0 to 4294967294; 4294967295 is chown's "leave it").  Digits
 * that are not a name name an id.
 */
static int
lookup_id(const char *name, bool group, unsigned *id)
{
	struct passwd pw, *pwp = NULL;
	struct group gr, *grp = NULL;
	unsigned long long v;
	size_t len = 4096;
	char *buf = NULL;
	int rc;

	for (;;) {
		buf = lr_xrealloc(buf, len);
		if (group)
			rc = getgrnam_r(name, &gr, buf, len, &grp);
		else
			rc = getpwnam_r(name, &pw, buf, len, &pwp);
		if (rc != ERANGE || len > (1 << 20))
			break;
		len *= 2;
	}
	if (pwp)
		*id = pwp->pw_uid;
	else if (grp)
		*id = grp->gr_gid;
	free(buf);
	if (pwp || grp)
		return 0;
	if (all_digits(name)) {
		errno = 0;
		v = strtoull(name, NULL, 10);
		if (errno == ERANGE || v >= (unsigned long long)(uid_t)-1 ||
		    v >= (unsigned long long)(gid_t)-1)
			return -2;
		*id = (unsigned)v;
		return 0;
	}
	return -1;
}

/* The name of a uid (gid), or its number. */
static void
id_name(unsigned id, bool group, char *out, size_t outsz)
{
	struct passwd pw, *pwp = NULL;
	struct group gr, *grp = NULL;
	char buf[4096];

	if (group)
		getgrgid_r(id, &gr, buf, sizeof(buf), &grp);
	else
		getpwuid_r(id, &pw, buf, sizeof(buf), &pwp);
	if (pwp)
		snprintf(out, outsz, "%s", pwp->pw_name);
	else if (grp)
		snprintf(out, outsz, "%s", grp->gr_name);
	else
		snprintf(out, outsz, "%u", id);
}

/* ---- files ---- */

/* Read fd to its end into b; 0 or -1 with errno. */
static int
read_all(int fd, struct lr_buf *b)
{
	char chunk[65536];
	ssize_t n;

	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
		lr_buf_add(b, chunk, (size_t)n);
	}
}

/* ---- folders, relative to open descriptors ---- */

/* A symbolic link on the way to dest that the agent follows. */
static bool
link_trusted(const struct stat *st)
{
	return st->st_uid == 0 || st->st_uid == geteuid();
}

/*
 * Make the folder `name` in dirfd and open it: mkdirat 0700, open it
 * O_NOFOLLOW, check that it is the folder we made (ours, a folder: not
 * something swapped in meanwhile), then fchmod 0755 on what we opened.
 * The fd, or -1 with why set.
 */
static int
make_dir_at(int dirfd, const char *name, const char *path,
    step_dir_hook_cb *hook, void *hook_arg, char *why, size_t whysz)
{
	struct stat st;
	int fd;

	if (mkdirat(dirfd, name, 0700) < 0) {
		if (errno == EEXIST)	/* made meanwhile: open it as found */
			return -2;
		snprintf(why, whysz, "cannot create folder '%s': %s", path,
		    strerror(errno));
		return -1;
	}
	if (hook)
		hook(dirfd, name, hook_arg);
	if ((fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0 || fstat(fd, &st) < 0 || !S_ISDIR(st.st_mode) ||
	    st.st_uid != geteuid()) {
		snprintf(why, whysz, "folder '%s' was replaced while it was "
		    "being created (%s); not using it", path, fd < 0 ?
		    strerror(errno) : "not the folder made");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (fchmod(fd, 0755) < 0) {	/* whatever the umask */
		snprintf(why, whysz, "cannot set the mode of folder '%s': %s",
		    path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * The walk holds each folder by an O_PATH descriptor: enough for the *at
 * calls, and it needs only search permission, as resolving a path does
 * (a folder 0711 on the way is fine for an agent that is not root).
 */
#define WALK_FLAGS	(O_PATH | O_DIRECTORY | O_CLOEXEC)

/* The path walked so far (never empty), and cutting it back to len. */
#define AT(b)		((b)->len ? (b)->s : "/")
#define AT_CUT(b, n)	do { (b)->len = (n); if ((b)->s) (b)->s[(n)] = '\0'; \
			} while (0)

int
step_file_open_dir(const char *dir, bool create, struct lr_buf *log,
    step_dir_hook_cb *hook, void *hook_arg, int *out, char *why,
    size_t whysz)
{
	struct lr_buf at = LR_BUF_INIT;	/* the path walked, for messages */
	char *todo, *p, *name, *more, target[PATH_MAX];
	struct stat st;
	int fd, nfd, lfd, links = 0, rc = 0;
	size_t mark;
	ssize_t n;

	if (dir[0] != '/') {
		snprintf(why, whysz, "'%s' is not an absolute path", dir);
		return LR_EINVAL;
	}
	if ((fd = open("/", WALK_FLAGS)) < 0) {
		snprintf(why, whysz, "cannot open '/': %s", strerror(errno));
		return LR_EIO;
	}
	todo = lr_xstrdup(dir);
	for (p = todo;;) {
		while (*p == '/')
			p++;
		if (*p == '\0')
			break;
		name = p;
		p += strcspn(p, "/");
		if (*p != '\0')
			*p++ = '\0';
		if (strcmp(name, ".") == 0)
			continue;
		mark = at.len;
		if (strcmp(name, "..") == 0) {
			while (at.len > 0 && at.s[at.len - 1] != '/')
				at.len--;
			if (at.len > 0)
				at.len--;
			AT_CUT(&at, at.len);
		} else
			lr_buf_printf(&at, "/%s", name);
		nfd = openat(fd, name, WALK_FLAGS | O_NOFOLLOW);
		if (nfd < 0 && errno == ENOENT && create) {
			nfd = make_dir_at(fd, name, AT(&at), hook, hook_arg,
			    why, whysz);
			if (nfd == -2)
				nfd = openat(fd, name, WALK_FLAGS |
				    O_NOFOLLOW);
			else if (nfd < 0) {
				rc = LR_EIO;
				break;
			} else if (log)
				lr_buf_printf(log, "created folder '%s'\n",
				    AT(&at));
		}
		if (nfd >= 0) {
			close(fd);
			fd = nfd;
			continue;
		}
		if (errno == ENOENT) {
			snprintf(why, whysz, "'%s' does not exist", AT(&at));
			rc = LR_ENOENT;
			break;
		}
		if (errno != ELOOP && errno != ENOTDIR) {
			snprintf(why, whysz, "cannot open folder '%s': %s",
			    AT(&at), strerror(errno));
			rc = LR_EIO;
			break;
		}
		/*
		 * A symbolic link (or not a folder at all): the link itself,
		 * opened once, gives both its owner and its target, so what
		 * is checked is what is followed.
		 */
		if ((lfd = openat(fd, name, O_PATH | O_NOFOLLOW |
		    O_CLOEXEC)) < 0 || fstat(lfd, &st) < 0) {
			snprintf(why, whysz, "cannot open folder '%s': %s",
			    AT(&at), strerror(errno));
			if (lfd >= 0)
				close(lfd);
			rc = LR_EIO;
			break;
		}
		if (!S_ISLNK(st.st_mode)) {
			snprintf(why, whysz, "'%s' is not a folder", AT(&at));
			close(lfd);
			rc = LR_EINVAL;
			break;
		}
		if (!link_trusted(&st)) {
			snprintf(why, whysz, "'%s' is a symbolic link owned by "
			    "uid %u: file steps follow only links of root or "
			    "of the agent's user", AT(&at),
			    (unsigned)st.st_uid);
			close(lfd);
			rc = LR_EINVAL;
			break;
		}
		n = readlinkat(lfd, "", target, sizeof(target));
		close(lfd);
		if (n >= (ssize_t)sizeof(target)) {
			n = -1;
			errno = ENAMETOOLONG;
		}
		if (n <= 0 || ++links > 40) {
			snprintf(why, whysz, "cannot follow the symbolic link "
			    "'%s': %s", AT(&at), n <= 0 ? strerror(errno) :
			    "too many levels of symbolic links");
			rc = LR_EIO;
			break;
		}
		target[n] = '\0';
		more = lr_xasprintf("%s/%s", target, p);
		free(todo);
		p = todo = more;
		if (target[0] == '/') {
			close(fd);
			if ((fd = open("/", WALK_FLAGS)) < 0) {
				snprintf(why, whysz, "cannot open '/': %s",
				    strerror(errno));
				rc = LR_EIO;
				break;
			}
			AT_CUT(&at, 0);
		} else
			AT_CUT(&at, mark);
	}
	free(todo);
	lr_buf_release(&at);
	if (rc < 0) {
		if (fd >= 0)
			close(fd);
		return rc;
	}
	/*
	 * The folder itself, readable (to sweep and fsync it) when we may;
	 * a search-only one is still good for the *at calls
	 */
	if ((nfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		close(fd);
		fd = nfd;
	}
	*out = fd;
	return 0;
}

/*
 * Remove the temporary files an agent killed in the middle of writing
 * NAME left beside it in dirfd (".NAME.tmp-XXXXXX", and ".NAME.leura-
 * XXXXXX" of older agents): one agent writes a dest at a time, so they are
 * nobody's.
 */
static void
sweep_tmp(int dirfd, const char *name)
{
	char *prefix = lr_xasprintf(".%s" LR_FILE_TMP_MARK, name);
	char *old = lr_xasprintf(".%s.leura-", name);
	size_t n = strlen(prefix), on = strlen(old), len;
	struct dirent *de;
	DIR *d;
	int fd;

	if ((fd = dup(dirfd)) < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		goto out;
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if ((len == n + 6 && strncmp(de->d_name, prefix, n) == 0) ||
		    (len == on + 6 && strncmp(de->d_name, old, on) == 0))
			(void)unlinkat(dirfd, de->d_name, 0);
	}
	closedir(d);
out:
	free(prefix);
	free(old);
}

/*
 * The atomic write of content to NAME in the open folder dirfd (dest is
 * for messages) with mode and owner: a temp file made there, fchown,
 * fchmod, fsync on its fd, renameat within dirfd.  With w->stage the
 * rename is left to a later commit: w->tmp is the temporary file's name
 * (owned by w from here on).  0, or -1 with w->error set.
 */
static int
write_dest(struct step_work *w, int dirfd, const char *name,
    const struct lr_buf *content, int mode, uid_t uid, gid_t gid,
    const struct stat *old)
{
	const struct step_file_spec *fs = w->file;
	char *tmp = NULL;
	int fd, rc = -1;

	sweep_tmp(dirfd, name);
	if ((fd = lr_file_tmp_open(dirfd, name, 0600, &tmp)) < 0) {
		step_work_fail(w, "cannot create a temporary file beside '%s': "
		    "%s", fs->dest, strerror(errno));
		return -1;
	}
	if (lr_write_all(fd, content->s ? content->s : "",
	    content->len) < 0) {
		step_work_fail(w, "cannot write '%s': %s", fs->dest,
		    strerror(errno));
		goto fail;
	}
	/*
	 * chown first: it may clear set-id bits that fchmod then sets.  The
	 * owner of the file replaced is kept when none is given, if we may.
	 */
	if (old && fchown(fd, fs->owner ? (uid_t)-1 : old->st_uid,
	    fs->group ? (gid_t)-1 : old->st_gid) < 0 && errno != EPERM) {
		step_work_fail(w, "cannot change the owner of '%s': %s",
		    fs->dest, strerror(errno));
		goto fail;
	}
	if ((uid != (uid_t)-1 || gid != (gid_t)-1) &&
	    fchown(fd, uid, gid) < 0) {
		step_work_fail(w, "cannot give '%s' to %s%s%s: %s", fs->dest,
		    fs->owner ? fs->owner : "", fs->owner && fs->group ? ":" :
		    "", fs->group ? fs->group : "", strerror(errno));
		goto fail;
	}
	if (fchmod(fd, (mode_t)mode) < 0 || fsync(fd) < 0) {
		step_work_fail(w, "cannot write '%s': %s", fs->dest,
		    strerror(errno));
		goto fail;
	}
	if (close(fd) < 0) {
		fd = -1;
		step_work_fail(w, "cannot write '%s': %s", fs->dest,
		    strerror(errno));
		goto fail;
	}
	fd = -1;
	if (w->stage) {
		w->tmp = tmp;	/* the validate command's, then commit's */
		return 0;
	}
	if (renameat(dirfd, tmp, dirfd, name) < 0) {
		step_work_fail(w, "cannot rename the temporary file '%s' to "
		    "'%s': %s", tmp, fs->dest, strerror(errno));
		goto fail;
	}
	(void)lr_fsync_dir(dirfd);	/* best effort: the file is in place */
	rc = 0;
	goto out;
fail:
	if (fd >= 0)
		close(fd);
	unlinkat(dirfd, tmp, 0);
out:
	free(tmp);
	return rc;
}

static void
add_diff(struct lr_buf *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
add_diff(struct lr_buf *d, const char *fmt, ...)
{
	va_list ap;

	if (d->len)
		lr_buf_adds(d, "; ");
	va_start(ap, fmt);
	lr_buf_vprintf(d, fmt, ap);
	va_end(ap);
}

/* The rename of a staged file that its validate command accepted. */
static void
commit_staged(struct step_work *w)
{
	const struct step_file_spec *fs = w->file;
	const char *base = strrchr(fs->dest, '/') + 1;

	if (renameat(w->dirfd, w->tmp, w->dirfd, base) < 0) {
		step_work_fail(w, "cannot rename the temporary file '%s' to "
		    "'%s': %s", w->tmp_path, fs->dest, strerror(errno));
		step_file_discard(w);
		return;
	}
	(void)lr_fsync_dir(w->dirfd);	/* best effort: the file is in place */
	free(w->tmp);
	w->tmp = NULL;
	close(w->dirfd);
	w->dirfd = -1;
	w->status = AGENT_STEP_CHANGED;
}

void
step_file_discard(struct step_work *w)
{
	if (w->tmp && w->dirfd >= 0)
		(void)unlinkat(w->dirfd, w->tmp, 0);
	if (w->dirfd >= 0)
		close(w->dirfd);
	w->dirfd = -1;
	free(w->tmp);
	w->tmp = NULL;
	free(w->tmp_path);
	w->tmp_path = NULL;
}

void
step_file_work(struct step_work *w)
{
	const struct step_file_spec *fs = w->file;
	struct lr_buf content = LR_BUF_INIT, cur = LR_BUF_INIT;
	struct lr_buf diff = LR_BUF_INIT;
	char sha[LR_SHA256_HEX_LEN + 1], have[64], why[512], *path, *dir;
	unsigned uid = (unsigned)-1, gid = (unsigned)-1;
	const char *slash, *base;
	struct stat st;
	bool exists;
	int fd, dfd = -1, mode, rc;

	if (w->commit) {
		commit_staged(w);
		return;
	}
	w->status = AGENT_STEP_FAILED;
	if (fs->owner && (rc = lookup_id(fs->owner, false, &uid)) < 0) {
		step_work_fail(w, rc == -2 ? "owner '%s' of '%s' is not a user "
		    "id (0 to 4294967294)" : "owner '%s' of '%s' is not a user "
		    "on this host", fs->owner, fs->dest);
		return;
	}
	if (fs->group && (rc = lookup_id(fs->group, true, &gid)) < 0) {
		step_work_fail(w, rc == -2 ? "group '%s' of '%s' is not a "
		    "group id (0 to 4294967294)" : "group '%s' of '%s' is not "
		    "a group on this host", fs->group, fs->dest);
		return;
	}

	path = lr_xasprintf("%s/%s", w->files_dir, fs->sha256);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 ||
	    read_all(fd, &content) < 0) {
		step_work_fail(w, "cannot read the content of '%s' at '%s': "
		    "%s", fs->dest, path, strerror(errno));
		if (fd >= 0)
			close(fd);
		free(path);
		goto out;
	}
	close(fd);
	free(path);
	lr_sha256_hex(content.s ? content.s : "", content.len, sha);
	if (strcmp(sha, fs->sha256) != 0) {
		step_work_fail(w, "stored content of sha256 %s is corrupt (its "
		    "SHA-256 is %s)", fs->sha256, sha);
		goto out;
	}
	if (fs->size >= 0 && (uint64_t)fs->size != content.len) {
		step_work_fail(w, "file step '%s' says %lld bytes, its content "
		    "has %zu", fs->dest, (long long)fs->size, content.len);
		goto out;
	}

	/*
	 * compare with dest: everything from here on is relative to the
	 * folder opened by walking dest's path (step_file_open_dir), so
	 * nothing swapped in by path meanwhile is followed
	 */
	slash = strrchr(fs->dest, '/');
	base = slash + 1;
	if (*base == '\0' || strcmp(base, ".") == 0 ||
	    strcmp(base, "..") == 0) {
		step_work_fail(w, "'%s' is a folder, not a file", fs->dest);
		goto out;
	}
	dir = slash == fs->dest ? lr_xstrdup("/") :
	    lr_xstrndup(fs->dest, (size_t)(slash - fs->dest));
	rc = step_file_open_dir(dir, false, NULL, NULL, NULL, &dfd, why,
	    sizeof(why));
	free(dir);
	if (rc < 0 && rc != LR_ENOENT) {
		step_work_fail(w, "%s", why);
		goto out;
	}
	exists = dfd >= 0 && fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0;
	if (!exists && dfd >= 0 && errno != ENOENT) {
		step_work_fail(w, "cannot stat '%s': %s", fs->dest,
		    strerror(errno));
		goto out;
	}
	if (exists && S_ISDIR(st.st_mode)) {
		step_work_fail(w, "'%s' is a folder, not a file", fs->dest);
		goto out;
	}
	if (!exists)
		add_diff(&diff, "missing");
	else if (!S_ISREG(st.st_mode))
		add_diff(&diff, "not a regular file");
	else {
		if ((size_t)st.st_size != content.len)
			add_diff(&diff, "content differs");
		else if ((fd = openat(dfd, base, O_RDONLY | O_CLOEXEC |
		    O_NOFOLLOW | O_NONBLOCK)) < 0 || read_all(fd, &cur) < 0) {
			step_work_fail(w, "cannot read '%s': %s", fs->dest,
			    strerror(errno));
			if (fd >= 0)
				close(fd);
			goto out;
		} else {
			close(fd);
			if (cur.len != content.len || (cur.len &&
			    memcmp(cur.s, content.s, cur.len) != 0))
				add_diff(&diff, "content differs");
		}
		if (fs->mode >= 0 && (int)(st.st_mode & 07777) != fs->mode)
			add_diff(&diff, "mode %04o, want %04o",
			    (unsigned)(st.st_mode & 07777), (unsigned)fs->mode);
		if (fs->owner && st.st_uid != uid) {
			id_name(st.st_uid, false, have, sizeof(have));
			add_diff(&diff, "owner %s, want %s", have, fs->owner);
		}
		if (fs->group && st.st_gid != gid) {
			id_name(st.st_gid, true, have, sizeof(have));
			add_diff(&diff, "group %s, want %s", have, fs->group);
		}
	}
	if (diff.len == 0) {
		w->status = AGENT_STEP_OK;
		lr_buf_printf(&w->log, "'%s' is up to date\n", fs->dest);
		goto out;
	}
	if (w->check) {
		w->status = AGENT_STEP_CHANGED;
		snprintf(w->error, sizeof(w->error), "%s", diff.s);
		lr_buf_printf(&w->log, "'%s' drifted: %s\n", fs->dest, diff.s);
		goto out;
	}

	/* write */
	if (dfd < 0) {
		dir = slash == fs->dest ? lr_xstrdup("/") :
		    lr_xstrndup(fs->dest, (size_t)(slash - fs->dest));
		rc = step_file_open_dir(dir, true, &w->log, NULL, NULL, &dfd,
		    why, sizeof(why));
		free(dir);
		if (rc < 0) {
			step_work_fail(w, "%s", why);
			goto out;
		}
	}
	mode = fs->mode >= 0 ? fs->mode : exists && S_ISREG(st.st_mode) ?
	    (int)(st.st_mode & 07777) : 0644;
	if (write_dest(w, dfd, base, &content, mode, (uid_t)uid, (gid_t)gid,
	    exists && S_ISREG(st.st_mode) ? &st : NULL) < 0)
		goto out;
	w->status = AGENT_STEP_CHANGED;
	if (w->stage) {
		/* the folder stays open for the command and the commit */
		w->dirfd = dfd;
		dfd = -1;
		w->tmp_path = lr_xasprintf("%.*s/%s", (int)(slash - fs->dest),
		    fs->dest, w->tmp);
		lr_buf_printf(&w->log, "wrote the new '%s' to '%s' (%zu "
		    "bytes, mode %04o) for its validate command: was %s\n",
		    fs->dest, w->tmp_path, content.len, (unsigned)mode, diff.s);
		goto out;
	}
	lr_buf_printf(&w->log, "wrote '%s' (%zu bytes, mode %04o): was %s\n",
	    fs->dest, content.len, (unsigned)mode, diff.s);
out:
	if (dfd >= 0)
		close(dfd);
	lr_buf_release(&diff);
	lr_buf_release(&cur);
	lr_buf_release(&content);
}
