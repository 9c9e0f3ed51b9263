/*
 * Tests of the folder walk and the safety of file steps (agent/step_file.c):
 * folders are made and their modes set through descriptors, symbolic links
 * are followed only when root or the agent's user owns them, owners and
 * groups out of the range of ids fail the step.  Real files in a mkdtemp
 * folder; no timing: a hook swaps a new folder for a symbolic link between
 * its mkdirat and the rest, deterministically.
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "err.h"
#include "hash.h"
#include "step-int.h"
#include "step.h"
#include "xalloc.h"

struct fx {
	char		 dir[64];
	char		*files;
	uv_loop_t	 loop;
	struct agent_step_ctx ctx;
	struct agent_step_run *run;
	int		 calls;
	struct agent_step_result res;
};

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
spew(const char *path, const char *s, mode_t mode)
{
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static mode_t
mode_of(const char *path)
{
	struct stat st;

	assert_int_equal(lstat(path, &st), 0);
	return st.st_mode & 07777;
}

static int
setup(void **state)
{
	struct fx *fx = lr_xcalloc(1, sizeof(*fx));

	alarm(60);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/leura-stepf-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	fx->files = lr_xasprintf("%s/files", fx->dir);
	assert_int_equal(mkdir(fx->files, 0700), 0);
	assert_int_equal(uv_loop_init(&fx->loop), 0);
	fx->ctx.loop = &fx->loop;
	fx->ctx.mode = AGENT_STEP_RUN;
	fx->ctx.files_dir = fx->files;
	fx->ctx.host = "h1";
	fx->ctx.generation = 1;
	fx->ctx.retry_base_ms = 10;
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(uv_loop_close(&fx->loop), 0);
	nftw(fx->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(fx->files);
	free(fx);
	alarm(0);
	return 0;
}

static void
done(struct agent_step_run *run, const struct agent_step_result *res,
    void *arg)
{
	struct fx *fx = arg;

	assert_ptr_equal(run, fx->run);
	fx->calls++;
	fx->res = *res;
	fx->res.tail = NULL;
	fx->res.message = NULL;
	fx->run = NULL;
}

/* Run a file step writing s to dest, with more fields (", ..." or ""). */
static void
run_file(struct fx *fx, const char *dest, const char *s, const char *more)
{
	struct lr_err err = { 0 };
	char sha[65], *path, *text;
	json_error_t je;
	json_t *step;

	lr_sha256_hex(s, strlen(s), sha);
	path = lr_xasprintf("%s/%s", fx->files, sha);
	spew(path, s, 0600);
	free(path);
	text = lr_xasprintf("{\"id\": \"f\", \"kind\": \"file\", \"dest\": "
	    "\"%s\", \"sha256\": \"%s\"%s}", dest, sha, more);
	step = json_loads(text, 0, &je);
	if (step == NULL)
		fail_msg("bad test step: %s: %s", je.text, text);
	fx->ctx.step = step;
	fx->calls = 0;
	if (agent_step_start(&fx->ctx, done, fx, &fx->run, &err) < 0)
		fail_msg("agent_step_start: %s", err.msg);
	assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(fx->calls, 1);
	json_decref(step);
	free(text);
}

/* ---- the walk ---- */

struct swap {
	const char	*name;		/* the folder to swap */
	const char	*target;	/* for a symbolic link to this */
	int		 calls;
};

/* Between mkdirat and the rest: the new folder becomes a symbolic link. */
static void
swap_hook(int dirfd, const char *name, void *arg)
{
	struct swap *sw = arg;

	if (strcmp(name, sw->name) != 0)
		return;
	sw->calls++;
	assert_int_equal(unlinkat(dirfd, name, AT_REMOVEDIR), 0);
	assert_int_equal(symlinkat(sw->target, dirfd, name), 0);
}

static void
test_step_file_open_dir__swap_after_mkdir_changes_nothing(void **state)
{
	struct fx *fx = *state;
	struct lr_buf log = LR_BUF_INIT;
	char why[512], *secret, *file, *dir, *sub;
	struct swap sw = { "new", NULL, 0 };
	int fd = -1, rc;

	/* a folder 0700 and a file 0600 the racer wants opened up */
	secret = lr_xasprintf("%s/secret", fx->dir);
	assert_int_equal(mkdir(secret, 0700), 0);
	assert_int_equal(chmod(secret, 0700), 0);
	file = lr_xasprintf("%s/key", secret);
	spew(file, "key\n", 0600);

	/* the new folder swapped for a link to the folder */
	dir = lr_xasprintf("%s/a/new/sub", fx->dir);
	sw.target = secret;
	rc = step_file_open_dir(dir, true, &log, swap_hook, &sw, &fd, why,
	    sizeof(why));
	assert_int_equal(sw.calls, 1);
	assert_true(rc < 0);
	assert_int_equal(fd, -1);
	assert_non_null(strstr(why, "was replaced while it was being created"));
	assert_int_equal(mode_of(secret), 0700);
	sub = lr_xasprintf("%s/sub", secret);
	assert_int_equal(access(sub, F_OK), -1);	/* nothing made there */
	free(sub);

	/* ... and for a link to the file */
	free(dir);
	dir = lr_xasprintf("%s/a/new2", fx->dir);
	sw.name = "new2";
	sw.target = file;
	sw.calls = 0;
	rc = step_file_open_dir(dir, true, &log, swap_hook, &sw, &fd, why,
	    sizeof(why));
	assert_int_equal(sw.calls, 1);
	assert_true(rc < 0);
	assert_int_equal(mode_of(file), 0600);

	/* undisturbed, the folders are made 0755 and noted */
	free(dir);
	dir = lr_xasprintf("%s/b/c", fx->dir);
	rc = step_file_open_dir(dir, true, &log, NULL, NULL, &fd, why,
	    sizeof(why));
	assert_int_equal(rc, 0);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(mode_of(dir), 0755);
	assert_non_null(strstr(log.s, "created folder '"));

	/* without create, a missing folder is LR_ENOENT */
	free(dir);
	dir = lr_xasprintf("%s/b/nope/x", fx->dir);
	rc = step_file_open_dir(dir, false, NULL, NULL, NULL, &fd, why,
	    sizeof(why));
	assert_int_equal(rc, LR_ENOENT);
	assert_non_null(strstr(why, "/b/nope' does not exist"));

	lr_buf_release(&log);
	free(dir);
	free(file);
	free(secret);
}

static void
test_step_file_open_dir__follows_links_of_root_or_self(void **state)
{
	struct fx *fx = *state;
	char why[512], *target, *link, *dir, *rel;
	struct stat st, st2;
	int fd = -1, rc;

	target = lr_xasprintf("%s/real", fx->dir);
	assert_int_equal(mkdir(target, 0755), 0);
	link = lr_xasprintf("%s/link", fx->dir);
	assert_int_equal(symlink(target, link), 0);
	rel = lr_xasprintf("%s/rel", fx->dir);
	assert_int_equal(symlink("real/../real/.", rel), 0);

	/* our own links, absolute and relative, are followed */
	dir = lr_xasprintf("%s/link/x", fx->dir);
	assert_int_equal(step_file_open_dir(dir, true, NULL, NULL, NULL, &fd,
	    why, sizeof(why)), 0);
	assert_int_equal(fstat(fd, &st), 0);
	close(fd);
	free(dir);
	dir = lr_xasprintf("%s/real/x", fx->dir);
	assert_int_equal(stat(dir, &st2), 0);
	assert_true(st.st_ino == st2.st_ino && st.st_dev == st2.st_dev);
	free(dir);
	dir = lr_xasprintf("%s/rel/x", fx->dir);
	assert_int_equal(step_file_open_dir(dir, false, NULL, NULL, NULL, &fd,
	    why, sizeof(why)), 0);
	assert_int_equal(fstat(fd, &st), 0);
	close(fd);
	assert_true(st.st_ino == st2.st_ino);
	free(dir);

	/* a file on the way is not a folder */
	free(rel);
	spew(rel = lr_xasprintf("%s/plain", fx->dir), "x", 0644);
	dir = lr_xasprintf("%s/plain/x", fx->dir);
	rc = step_file_open_dir(dir, true, NULL, NULL, NULL, &fd, why,
	    sizeof(why));
	assert_int_equal(rc, LR_EINVAL);
	assert_non_null(strstr(why, "/plain' is not a folder"));
	free(dir);

	/* another user's link is refused (root only: lchown) */
	if (geteuid() == 0) {
		assert_int_equal(lchown(link, 65534, 65534), 0);
		dir = lr_xasprintf("%s/link/y", fx->dir);
		rc = step_file_open_dir(dir, true, NULL, NULL, NULL, &fd, why,
		    sizeof(why));
		assert_int_equal(rc, LR_EINVAL);
		assert_non_null(strstr(why, "/link' is a symbolic link owned "
		    "by uid 65534"));
		free(dir);
		dir = lr_xasprintf("%s/real/y", fx->dir);
		assert_int_equal(access(dir, F_OK), -1);
		free(dir);
	}
	free(rel);
	free(link);
	free(target);
}

static void
test_step_file_open_dir__search_only_folders(void **state)
{
	struct fx *fx = *state;
	char why[512], *x, *w, *dir;
	int fd, st;
	pid_t pid;

	if (geteuid() != 0)
		skip();		/* another user, for the permissions to bite */
	/* as a user who may search, not read, the folders on the way */
	assert_int_equal(chmod(fx->dir, 0711), 0);
	x = lr_xasprintf("%s/x", fx->dir);
	assert_int_equal(mkdir(x, 0711), 0);
	assert_int_equal(chmod(x, 0711), 0);
	w = lr_xasprintf("%s/w", x);
	assert_int_equal(mkdir(w, 0700), 0);
	assert_int_equal(chown(w, 65534, 65534), 0);
	dir = lr_xasprintf("%s/new", w);
	if ((pid = fork()) == 0) {
		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(2);
		if (step_file_open_dir(dir, true, NULL, NULL, NULL, &fd, why,
		    sizeof(why)) < 0) {
			fprintf(stderr, "step_file_open_dir: %s\n", why);
			_exit(1);
		}
		_exit(0);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_int_equal(mode_of(dir), 0755);
	free(dir);
	free(w);
	free(x);
}

/* ---- file steps ---- */

static void
test_agent_step_start__file_through_another_users_link(void **state)
{
	struct fx *fx = *state;
	char *target, *link, *dest, *made;

	if (geteuid() != 0)
		skip();		/* lchown to another user */
	/*
	 * A user who may write the parent pre-places a link where the step
	 * will make a folder: the step fails and writes nothing there.
	 */
	target = lr_xasprintf("%s/etc-shadow-dir", fx->dir);
	assert_int_equal(mkdir(target, 0700), 0);
	link = lr_xasprintf("%s/app", fx->dir);
	assert_int_equal(symlink(target, link), 0);
	assert_int_equal(lchown(link, 65534, 65534), 0);
	dest = lr_xasprintf("%s/conf.d/app.conf", link);
	run_file(fx, dest, "x=1\n", ", \"mode\": \"0644\"");
	assert_int_equal(fx->res.status, AGENT_STEP_FAILED);
	assert_non_null(strstr(fx->res.error, "is a symbolic link owned by "
	    "uid 65534"));
	made = lr_xasprintf("%s/conf.d", target);
	assert_int_equal(access(made, F_OK), -1);
	assert_int_equal(mode_of(target), 0700);

	/* the same link, root's: followed, as for /var/run -> /run */
	assert_int_equal(lchown(link, 0, 0), 0);
	run_file(fx, dest, "x=1\n", ", \"mode\": \"0644\"");
	assert_int_equal(fx->res.status, AGENT_STEP_CHANGED);
	assert_int_equal(mode_of(made), 0755);
	free(made);
	made = lr_xasprintf("%s/conf.d/app.conf", target);
	assert_int_equal(mode_of(made), 0644);
	free(made);
	free(dest);
	free(link);
	free(target);
}

static void
test_agent_step_start__file_owner_out_of_range(void **state)
{
	static const char *const bad[] = {
		"4294967295", "99999999999999999999", "18446744073709551616"
	};
	struct fx *fx = *state;
	char *dest, *more;
	size_t i;

	dest = lr_xasprintf("%s/owned.conf", fx->dir);
	for (i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		more = lr_xasprintf(", \"owner\": \"%s\"", bad[i]);
		run_file(fx, dest, "x\n", more);
		assert_int_equal(fx->res.status, AGENT_STEP_FAILED);
		assert_non_null(strstr(fx->res.error, bad[i]));
		assert_non_null(strstr(fx->res.error, "is not a user id "
		    "(0 to 4294967294)"));
		assert_int_equal(access(dest, F_OK), -1);
		free(more);
		more = lr_xasprintf(", \"group\": \"%s\"", bad[i]);
		fx->ctx.mode = AGENT_STEP_CHECK;	/* a check fails too */
		run_file(fx, dest, "x\n", more);
		fx->ctx.mode = AGENT_STEP_RUN;
		assert_int_equal(fx->res.status, AGENT_STEP_FAILED);
		assert_non_null(strstr(fx->res.error, "is not a group id"));
		free(more);
	}
	/* a name the host cannot resolve: a failure that names it */
	run_file(fx, dest, "x\n", ", \"owner\": \"bad name!\"");
	assert_int_equal(fx->res.status, AGENT_STEP_FAILED);
	assert_non_null(strstr(fx->res.error, "owner 'bad name!' of '"));
	assert_non_null(strstr(fx->res.error, "is not a user on this host"));
	/* the largest id is fine (root may give a file to any uid) */
	if (geteuid() == 0) {
		run_file(fx, dest, "x\n", ", \"owner\": \"4294967294\"");
		assert_int_equal(fx->res.status, AGENT_STEP_CHANGED);
		run_file(fx, dest, "x\n", ", \"owner\": \"4294967294\"");
		assert_int_equal(fx->res.status, AGENT_STEP_OK);
	}
	free(dest);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_step_file_open_dir__swap_after_mkdir_changes_nothing),
		T(test_step_file_open_dir__follows_links_of_root_or_self),
		T(test_step_file_open_dir__search_only_folders),
		T(test_agent_step_start__file_through_another_users_link),
		T(test_agent_step_start__file_owner_out_of_range),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
