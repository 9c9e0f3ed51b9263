/*
 * Private to agent/step*.c: the parsed fields of file and http steps and
 * the request that carries one attempt of them to the libuv thread pool.
 *
 * step.c parses the step object on the loop thread (agent_step_start) into
 * a step_file_spec or step_http_spec owned by the run; the spec is never
 * modified afterwards, so the work callback may read it while the loop
 * thread goes on.  Everything else the work callback touches is in its own
 * struct step_work; step.c reads the results in the after-work callback.
 */
#ifndef AGENT_STEP_INT_H
#define AGENT_STEP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "buf.h"
#include "err.h"
#include "step.h"

struct step_file_spec {
	char	*dest;		/* absolute path */
	char	*sha256;	/* 64 lowercase hex digits */
	char	*owner;		/* NULL: keep (or the agent's, when new) */
	char	*group;		/* NULL: likewise */
	int	 mode;		/* -1: keep (0644 when new) */
	int64_t	 size;		/* -1: not given */
	char	*validate;	/* command with "%s"; NULL: none */
};

struct step_http_spec {
	char	*url;
	char	*method;	/* "GET" when absent */
	char	*body;		/* NULL: none */
	size_t	 body_len;
	char	**headers;	/* "Name: value", NULL-terminated */
	long	 expect_status;	/* 0: any 2xx */
	long	 timeout_ms;	/* 0: none */
};

struct step_work {
	uv_work_t		 req;
	void			*run;		/* owner; not for the worker */
	const char		*files_dir;	/* borrowed from the run */
	bool			 check;		/* AGENT_STEP_CHECK */
	const struct step_file_spec *file;	/* borrowed; NULL for http */
	const struct step_http_spec *http;	/* borrowed; NULL for file */
	/*
	 * File steps with "validate" go to the pool twice: first with stage
	 * (the worker writes the new content to a temporary file beside
	 * dest and stops before the rename, leaving dirfd, tmp and tmp_path
	 * set), then, once the command said yes, with commit (renameat
	 * within dirfd, fsync of the folder).  step_file_discard removes
	 * a staged file the command refused.
	 */
	bool			 stage;
	bool			 commit;
	int			 dirfd;		/* dest's folder; -1 */
	char			*tmp;		/* its name in dirfd; owned */
	char			*tmp_path;	/* the path for %s; owned */

	/* filled by the worker */
	enum agent_step_status	 status;
	char			 error[512];
	struct lr_buf		 log;	/* notes for the log file only */
	struct lr_buf		 out;	/* for the log file and the tail */
};

/* Parse the fields of a file step; 0, or LR_EINVAL with err set. */
int	step_file_parse(const json_t *step, struct step_file_spec *fs,
	    struct lr_err *err);
void	step_file_release(struct step_file_spec *fs);	/* zeroed is fine */
/*
 * The worker: compare, and write unless w->check (with w->stage, only to
 * the temporary file; with w->commit, only the rename).  Thread pool only.
 */
void	step_file_work(struct step_work *w);
/* Remove a staged temporary file and close its folder.  Any thread. */
void	step_file_discard(struct step_work *w);

/*
 * Open the folder dir (absolute) by walking it from '/' one component at
 * a time relative to open descriptors (openat O_DIRECTORY|O_NOFOLLOW), so
 * that no path is resolved twice.  A symbolic link on the way is followed
 * only when root or the agent's user owns it (read through a descriptor
 * of the link itself: what is checked is what is followed); any other
 * fails with LR_EINVAL, as does a component that is not a folder.  With
 * create, a missing folder is made (mkdirat 0700), opened O_NOFOLLOW,
 * checked to be the agent's folder and then fchmod()ed 0755: one swapped
 * for a symbolic link or another folder in between fails the walk
 * (LR_EIO) and nothing is changed through it; each folder made is noted
 * in log ("created folder 'P'\n") when log is not NULL.  Without create a
 * missing folder is LR_ENOENT.  hook (tests; NULL) runs between the
 * mkdirat of a new folder and its open.  Folders on the way need only
 * search permission (they are held O_PATH).  0 and *out (the folder's fd,
 * the caller's: O_RDONLY, or O_PATH when it cannot be read), or <0 with
 * why.  Any thread.
 */
typedef void step_dir_hook_cb(int dirfd, const char *name, void *arg);
int	step_file_open_dir(const char *dir, bool create, struct lr_buf *log,
	    step_dir_hook_cb *hook, void *hook_arg, int *out, char *why,
	    size_t whysz);

int	step_http_parse(const json_t *step, struct step_http_spec *hs,
	    struct lr_err *err);
void	step_http_release(struct step_http_spec *hs);
/* The request, with curl's easy API.  Thread pool only. */
void	step_http_work(struct step_work *w);

/* printf into w->error (truncating); returns AGENT_STEP_FAILED. */
enum agent_step_status step_work_fail(struct step_work *w, const char *fmt,
	    ...) __attribute__((format(printf, 2, 3)));

#endif
