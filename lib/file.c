/*
 * Whole-file reads and writes, and folders (file.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file.h"
#include "xalloc.h"

#define READ_MAX_DEFAULT	(64u << 20)

int
lr_write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, c, n)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

int
lr_read_file(const char *path, size_t max, char **buf, size_t *len,
    struct lr_err *err)
{
	struct stat st;
	char *b = NULL;
	size_t have = 0, cap;
	ssize_t r;
	int fd, e;

	if (max == 0)
		max = READ_MAX_DEFAULT;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return lr_err_set(err, errno == ENOENT ? LR_ENOENT : LR_EIO,
		    "cannot read '%s': %s", path, strerror(errno));
	if (fstat(fd, &st) == -1)
		e = errno;
	else if (S_ISDIR(st.st_mode))
		e = EISDIR;
	else
		e = 0;
	if (e != 0) {
		close(fd);
		return lr_err_set(err, LR_EIO, "cannot read '%s': %s", path,
		    strerror(e));
	}
	cap = S_ISREG(st.st_mode) && (size_t)st.st_size < max ?
	    (size_t)st.st_size + 1 : 4096;
	b = lr_xmalloc(cap + 1);
	for (;;) {
		if (have == cap) {
			if (cap > max) {
				free(b);
				close(fd);
				return lr_err_set(err, LR_ERANGE, "'%s' is "
				    "larger than %zu bytes", path, max);
			}
			cap *= 2;
			b = lr_xrealloc(b, cap + 1);
		}
		if ((r = read(fd, b + have, cap - have)) == -1) {
			if (errno == EINTR)
				continue;
			e = errno;
			free(b);
			close(fd);
			return lr_err_set(err, LR_EIO, "cannot read '%s': %s",
			    path, strerror(e));
		}
		if (r == 0)
			break;
		have += (size_t)r;
	}
	close(fd);
	if (have > max) {
		free(b);
		return lr_err_set(err, LR_ERANGE, "'%s' is larger than %zu "
		    "bytes", path, max);
	}
	b[have] = '\0';
	*buf = b;
	*len = have;
	return 0;
}

int
lr_mkdir_p(const char *path, mode_t mode)
{
	char *p = lr_xstrdup(path), *s;
	int rc = 0, e = 0;

	for (s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, mode) != 0 && errno != EEXIST) {
			rc = -1;
			e = errno;
		}
		*s = '/';
	}
	if (mkdir(p, mode) != 0 && errno != EEXIST) {
		rc = -1;
		e = errno;
	} else if (rc == -1) {
		rc = 0;		/* a parent failed, yet the folder is there */
	}
	free(p);
	if (rc == -1)
		errno = e;
	return rc;
}

int
lr_fsync_dir(int dirfd)
{
	if (fsync(dirfd) == -1 && errno != EINVAL && errno != EROFS)
		return -1;
	return 0;
}

bool
lr_file_is_tmp(const char *name)
{
	return name[0] == '.' && strstr(name, LR_FILE_TMP_MARK) != NULL;
}

/* LR_EIO naming dir/name and why; errno is kept for the caller's hint. */
static int
io_fail(struct lr_err *err, int e, const char *what, const char *dir,
    const char *name)
{
	lr_err_set(err, LR_EIO, "%s '%s/%s': %s", what, dir, name,
	    strerror(e));
	if (e == ENOSPC || e == EDQUOT)
		lr_err_hint(err, "free some space on the file system of '%s'",
		    dir);
	errno = e;
	return LR_EIO;
}

int
lr_file_tmp_open(int dirfd, const char *name, mode_t mode, char **tmp)
{
	static const char az[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char rnd[6];
	char suffix[7];
	int fd, tries, i;

	for (tries = 0; tries < 16; tries++) {
		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
			for (i = 0; i < (int)sizeof(rnd); i++)
				rnd[i] = (unsigned char)(rand() ^ getpid());
		for (i = 0; i < 6; i++)
			suffix[i] = az[rnd[i] % (sizeof(az) - 1)];
		suffix[6] = '\0';
		*tmp = lr_xasprintf(".%s" LR_FILE_TMP_MARK "%s", name, suffix);
		fd = openat(dirfd, *tmp, O_WRONLY | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, mode & 07777);
		if (fd >= 0)
			return fd;
		free(*tmp);
		*tmp = NULL;
		if (errno != EEXIST)
			return -1;
	}
	errno = EEXIST;
	return -1;
}

int
lr_file_replace_at(int dirfd, const char *dirname, const char *name,
    const struct iovec *iov, int n, mode_t mode, unsigned flags,
    struct lr_err *err)
{
	char *tmp = NULL;
	int fd, i, rc = 0, e = 0;

	if ((fd = lr_file_tmp_open(dirfd, name, mode, &tmp)) == -1)
		return io_fail(err, errno, "cannot write", dirname, name);
	/* the umask must not narrow what the spec asked for */
	if (fchmod(fd, mode & 07777) == -1) {
		rc = io_fail(err, e = errno, "cannot write", dirname, name);
		close(fd);
		goto out;
	}
	for (i = 0; i < n; i++)
		if (lr_write_all(fd, iov[i].iov_base, iov[i].iov_len) == -1) {
			rc = io_fail(err, e = errno, "cannot write", dirname,
			    name);
			close(fd);
			goto out;
		}
	if ((flags & LR_FILE_DURABLE) && fsync(fd) == -1) {
		rc = io_fail(err, e = errno, "cannot write", dirname, name);
		close(fd);
		goto out;
	}
	if (close(fd) == -1) {
		rc = io_fail(err, e = errno, "cannot write", dirname, name);
		goto out;
	}
	if (renameat(dirfd, tmp, dirfd, name) == -1) {
		rc = io_fail(err, e = errno, "cannot write", dirname, name);
		goto out;
	}
	free(tmp);
	tmp = NULL;			/* it is name now */
	if ((flags & LR_FILE_DURABLE) && lr_fsync_dir(dirfd) == -1) {
		e = errno;
		rc = lr_err_set(err, LR_EIO, "cannot sync the folder '%s': %s",
		    dirname, strerror(e));
	}
out:
	if (tmp != NULL) {
		unlinkat(dirfd, tmp, 0);
		free(tmp);
	}
	if (rc < 0)
		errno = e;
	return rc;
}

int
lr_file_replace(const char *dir, const char *name, const void *p,
    size_t len, mode_t mode, unsigned flags, struct lr_err *err)
{
	struct iovec iov = { (void *)(uintptr_t)p, len };
	int dfd, rc;

	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return lr_err_set(err, LR_EIO, "cannot open the folder '%s': "
		    "%s", dir, strerror(errno));
	rc = lr_file_replace_at(dfd, dir, name, &iov, 1, mode, flags, err);
	close(dfd);
	return rc;
}
