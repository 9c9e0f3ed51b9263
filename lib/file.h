/*
 * Whole-file reads and writes, and folders: the helpers every part of
 * Leura shares instead of keeping its own copy.  Blocking I/O: on a libuv
 * loop call them from the thread pool, or only for small local files
 * (state, records) where a syscall's latency is the cost.
 */
#ifndef LR_FILE_H
#define LR_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "err.h"

/* write(2) all of p, resuming after EINTR and short writes: 0, or -1/errno. */
int	lr_write_all(int fd, const void *p, size_t n);

/*
 * Read the whole file at path (at most max bytes; 0: 64 MiB) into *buf,
 * NUL-terminated (the caller frees), its length in *len.  LR_ENOENT when
 * it does not exist, LR_ERANGE when larger than max, LR_EIO otherwise;
 * err says which file and why.
 */
int	lr_read_file(const char *path, size_t max, char **buf, size_t *len,
	    struct lr_err *err);

/*
 * mkdir -p: create path and the folders that lead to it, each with mode
 * (existing ones are left as they are).  0, or -1 with errno.
 */
int	lr_mkdir_p(const char *path, mode_t mode);

/* Temp files of lr_file_replace are ".NAME.tmp-XXXXXX" beside NAME. */
#define LR_FILE_TMP_MARK ".tmp-"

enum lr_file_flags {
	/* fsync the file and the folder: a power loss keeps old or new */
	LR_FILE_DURABLE = 1 << 0
};

/*
 * Replace NAME in the open folder dirfd with the concatenation of
 * iov[0..n), mode `mode`, atomically: a temp file beside it (created
 * O_EXCL|O_NOFOLLOW relative to dirfd), written, optionally fsync()ed,
 * renamed over NAME, and the folder fsync()ed (LR_FILE_DURABLE).  A crash
 * leaves the old file or the new one, and maybe a temp file that
 * lr_file_is_tmp recognises.  dirname is for messages only.  On failure
 * (LR_EIO; a full disk gets a hint) errno is that of the call that failed,
 * for a caller that adds its own hint.
 */
int	lr_file_replace_at(int dirfd, const char *dirname, const char *name,
	    const struct iovec *iov, int n, mode_t mode, unsigned flags,
	    struct lr_err *err);
/* lr_file_replace_at on the folder path dir (opened O_DIRECTORY). */
int	lr_file_replace(const char *dir, const char *name, const void *p,
	    size_t len, mode_t mode, unsigned flags, struct lr_err *err);
/*
 * A fresh temp file ".NAME.tmp-XXXXXX" for NAME, created in the open
 * folder dirfd with O_EXCL|O_NOFOLLOW, opened for writing (close-on-exec)
 * with mode (the umask applies: fchmod it when that matters).  The fd and
 * *tmp (its name in dirfd, the caller's to free), or -1 with errno.
 */
int	lr_file_tmp_open(int dirfd, const char *name, mode_t mode,
	    char **tmp);
/* name is a temp file of lr_file_replace (left by a crash). */
bool	lr_file_is_tmp(const char *name);

/* fsync the folder dirfd; folders that cannot be synced are fine. */
int	lr_fsync_dir(int dirfd);

#endif
