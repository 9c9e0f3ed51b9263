/*
 * Tests for reconciler/gitsrc: reading the config repo at a commit.  The
 * repositories are real, made by the git CLI in a mkdtemp directory that is
 * removed at the end; git runs with no global or system config so a
 * developer's ~/.gitconfig (signing, hooks, default branch) changes nothing.
 *
 * The shared fixture, made once by group_setup in <tmp>/repo:
 *   commit 1 "first" (annotated tag v1): a.yml = "one\n"
 *   commit 2 "second change" (HEAD, main): a.yml = "two\n", b.yml, a-b,
 *     sub.yml, sub/x.yml, sub/deeper/y.yml, run.sh (100755),
 *     link.yml -> a.yml, sublink -> sub, mod (a gitlink: submodule)
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "err.h"
#include "gitsrc.h"
#include "source.h"

static char tmp[1024];			/* mkdtemp dir, removed at the end */
static char repo_dir[1100];		/* the shared fixture */

/* ---- helpers ---------------------------------------------------------- */

/*
 * Run argv (NULL-terminated) in dir with stdout into out (NUL-ended, may be
 * NULL), and return its exit status.
 */
static int
run(const char *dir, const char *const argv[], char *out, size_t outsz)
{
	int fds[2], status;
	size_t len = 0;
	ssize_t n;
	pid_t pid;

	if (pipe(fds) < 0)
		fail_msg("pipe: %s", strerror(errno));
	if ((pid = fork()) < 0)
		fail_msg("fork: %s", strerror(errno));
	if (pid == 0) {
		close(fds[0]);
		dup2(fds[1], STDOUT_FILENO);
		close(fds[1]);
		if (dir != NULL && chdir(dir) < 0)
			_exit(126);
		setenv("GIT_CONFIG_GLOBAL", "/dev/null", 1);
		setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
		setenv("GIT_AUTHOR_NAME", "Ada Tester", 1);
		setenv("GIT_AUTHOR_EMAIL", "ada@example.org", 1);
		setenv("GIT_COMMITTER_NAME", "Ada Tester", 1);
		setenv("GIT_COMMITTER_EMAIL", "ada@example.org", 1);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(fds[1]);
	for (;;) {
		char sink[256];
		char *p = out != NULL && len + 1 < outsz ? out + len : sink;
		size_t room = out != NULL && len + 1 < outsz ?
		    outsz - len - 1 : sizeof(sink);

		if ((n = read(fds[0], p, room)) <= 0)
			break;
		if (p != sink)
			len += (size_t)n;
	}
	close(fds[0]);
	if (out != NULL)
		out[len] = '\0';
	if (waitpid(pid, &status, 0) < 0)
		fail_msg("waitpid: %s", strerror(errno));
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* git -C dir args...; must succeed. */
#define GIT(dir, ...) \
	git_ok((dir), (const char *const []){ "git", __VA_ARGS__, NULL })

static void
git_ok(const char *dir, const char *const argv[])
{
	assert_int_equal(run(dir, argv, NULL, 0), 0);
}

/* The first line git prints for args, into out. */
static void
git_line(const char *dir, char *out, size_t outsz,
    const char *const argv[])
{
	assert_int_equal(run(dir, argv, out, outsz), 0);
	out[strcspn(out, "\n")] = '\0';
}

#define GIT_LINE(dir, out, ...) \
	git_line((dir), (out), sizeof(out), \
	    (const char *const []){ "git", __VA_ARGS__, NULL })

/* Write dir/rel, making its parent directories. */
static void
put(const char *dir, const char *rel, const char *text)
{
	char path[PATH_MAX], *slash;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	for (slash = strchr(path + strlen(dir) + 1, '/'); slash != NULL;
	    slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			fail_msg("mkdir %s: %s", path, strerror(errno));
		*slash = '/';
	}
	assert_non_null(fp = fopen(path, "w"));
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
}

static void
path_in(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "%s/%s", tmp, name);
}

/* A repository in dir with commit 1 only ("first", a.yml = "one"). */
static void
make_first_commit(const char *dir)
{
	GIT(NULL, "-c", "init.defaultBranch=main", "init", "-q", dir);
	put(dir, "a.yml", "one\n");
	GIT(dir, "add", "a.yml");
	GIT(dir, "commit", "-q", "-m", "first");
}

static void
make_fixture(const char *dir)
{
	char path[PATH_MAX], first[64], cacheinfo[128];

	make_first_commit(dir);
	GIT_LINE(dir, first, "rev-parse", "HEAD");
	GIT(dir, "tag", "-a", "v1", "-m", "version one");
	put(dir, "a.yml", "two\n");
	put(dir, "b.yml", "bee\n");
	put(dir, "a-b", "dash\n");
	put(dir, "sub.yml", "sub file\n");
	put(dir, "sub/x.yml", "x\n");
	put(dir, "sub/deeper/y.yml", "y\n");
	put(dir, "run.sh", "#!/bin/sh\n");
	snprintf(path, sizeof(path), "%s/run.sh", dir);
	assert_int_equal(chmod(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/link.yml", dir);
	assert_int_equal(symlink("a.yml", path), 0);
	snprintf(path, sizeof(path), "%s/sublink", dir);
	assert_int_equal(symlink("sub", path), 0);
	GIT(dir, "add", ".");
	/* a submodule entry (gitlink) without a submodule: index only */
	snprintf(cacheinfo, sizeof(cacheinfo), "160000,%s,mod", first);
	GIT(dir, "update-index", "--add", "--cacheinfo", cacheinfo);
	GIT(dir, "commit", "-q", "-m", "second change",
	    "-m", "The body is not part of the summary.");
}

/* rm -rf path */
static void
remove_tree(const char *path)
{
	const char *const argv[] = { "rm", "-rf", path, NULL };

	run(NULL, argv, NULL, 0);
}

static int
group_setup(void **state)
{
	const char *base = getenv("TMPDIR");

	snprintf(tmp, sizeof(tmp), "%s/leura-gitsrc-XXXXXX",
	    base != NULL && base[0] != '\0' ? base : "/tmp");
	if (mkdtemp(tmp) == NULL)
		return -1;
	path_in(repo_dir, sizeof(repo_dir), "repo");
	make_fixture(repo_dir);
	return 0;
}

static int
group_teardown(void **state)
{
	remove_tree(tmp);
	return 0;
}

/* A source for ref in the shared fixture; the repo is freed at once. */
static struct spec_source *
fixture_source(const char *ref)
{
	struct gitsrc_repo *r = NULL;
	struct spec_source *src = NULL;
	struct lr_err err = { 0 };

	assert_int_equal(gitsrc_open(repo_dir, &r, &err), 0);
	if (gitsrc_source_new(r, ref, &src, &err) < 0)
		fail_msg("gitsrc_source_new %s: %s", ref, err.msg);
	gitsrc_repo_free(r);
	return src;
}

static char *
read_ok(struct spec_source *src, const char *path)
{
	struct lr_err err = { 0 };
	char *buf = NULL;
	size_t len = 0;

	if (src->ops->read(src->ctx, path, SIZE_MAX, &buf, &len, &err) < 0)
		fail_msg("read %s: %s", path, err.msg);
	assert_int_equal(strlen(buf), len);
	return buf;
}

static enum spec_ftype
stat_ok(struct spec_source *src, const char *path)
{
	struct lr_err err = { 0 };
	enum spec_ftype t = SPEC_FT_OTHER + 1;

	if (src->ops->stat(src->ctx, path, &t, &err) < 0)
		fail_msg("stat %s: %s", path, err.msg);
	return t;
}

/* The names in dir joined with ',', into out. */
static void
list_ok(struct spec_source *src, const char *dir, char *out, size_t size)
{
	struct lr_err err = { 0 };
	char **names = NULL;
	size_t i, n = 99, len = 0;

	if (src->ops->list(src->ctx, dir, &names, &n, &err) < 0)
		fail_msg("list %s: %s", dir, err.msg);
	out[0] = '\0';
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(out + len, size - len, "%s%s",
		    i ? "," : "", names[i]);
	spec_strv_free(names, n);
}

/* ---- tests ------------------------------------------------------------ */

static void
test_gitsrc_source_new__reads_head_and_parent(void **state)
{
	struct spec_source *head, *parent;
	char id[64], pid[64], label[128], *a;

	GIT_LINE(repo_dir, id, "rev-parse", "HEAD");
	GIT_LINE(repo_dir, pid, "rev-parse", "HEAD~1");
	head = fixture_source("HEAD");
	parent = fixture_source("HEAD~1");

	assert_string_equal(a = read_ok(head, "a.yml"), "two\n");
	free(a);
	assert_string_equal(a = read_ok(parent, "a.yml"), "one\n");
	free(a);
	assert_string_equal(head->commit, id);
	assert_string_equal(parent->commit, pid);
	snprintf(label, sizeof(label), "commit %.7s (HEAD~1)", pid);
	assert_string_equal(parent->label, label);
	/* only in the second commit */
	assert_int_equal(stat_ok(head, "b.yml"), SPEC_FT_FILE);
	assert_int_equal(stat_ok(parent, "b.yml"), SPEC_FT_NONE);
	spec_source_free(head);
	spec_source_free(parent);
}

static void
test_gitsrc_source_new__branch_tag_and_sha(void **state)
{
	struct spec_source *src;
	char pid[64], label[128], *a;

	GIT_LINE(repo_dir, pid, "rev-parse", "HEAD~1");
	src = fixture_source("main");
	assert_string_equal(a = read_ok(src, "a.yml"), "two\n");
	free(a);
	spec_source_free(src);

	/* an annotated tag is peeled to its commit */
	src = fixture_source("v1");
	assert_string_equal(src->commit, pid);
	assert_string_equal(a = read_ok(src, "a.yml"), "one\n");
	free(a);
	spec_source_free(src);

	/* a sha is not repeated in the label */
	pid[10] = '\0';
	src = fixture_source(pid);
	snprintf(label, sizeof(label), "commit %.7s", pid);
	assert_string_equal(src->label, label);
	spec_source_free(src);
}

static void
test_gitsrc_list__sorted_bytewise(void **state)
{
	struct spec_source *src = fixture_source("HEAD");
	struct lr_err err = { 0 };
	char out[512], **names = NULL;
	size_t n = 0;

	/* git's own order has sub.yml before sub (as if "sub/") */
	list_ok(src, "", out, sizeof(out));
	assert_string_equal(out,
	    "a-b,a.yml,b.yml,link.yml,mod,run.sh,sub,sub.yml,sublink");
	list_ok(src, ".", out, sizeof(out));
	assert_string_equal(out,
	    "a-b,a.yml,b.yml,link.yml,mod,run.sh,sub,sub.yml,sublink");
	list_ok(src, "sub", out, sizeof(out));
	assert_string_equal(out, "deeper,x.yml");
	list_ok(src, "sub/deeper/", out, sizeof(out));
	assert_string_equal(out, "y.yml");
	/* missing, or through a file: no entries, no error */
	list_ok(src, "nope", out, sizeof(out));
	assert_string_equal(out, "");
	list_ok(src, "a.yml/x", out, sizeof(out));
	assert_string_equal(out, "");
	/* a file is not a directory */
	assert_int_equal(src->ops->list(src->ctx, "a.yml", &names, &n, &err),
	    LR_EINVAL);
	assert_non_null(strstr(err.msg, "'a.yml' is a file in commit "));
	spec_source_free(src);
}

static void
test_gitsrc_stat__types(void **state)
{
	struct spec_source *src = fixture_source("HEAD");

	assert_int_equal(stat_ok(src, ""), SPEC_FT_DIR);
	assert_int_equal(stat_ok(src, "."), SPEC_FT_DIR);
	assert_int_equal(stat_ok(src, "a.yml"), SPEC_FT_FILE);
	assert_int_equal(stat_ok(src, "run.sh"), SPEC_FT_FILE);
	assert_int_equal(stat_ok(src, "sub"), SPEC_FT_DIR);
	assert_int_equal(stat_ok(src, "sub/deeper"), SPEC_FT_DIR);
	assert_int_equal(stat_ok(src, "./sub//deeper/y.yml"), SPEC_FT_FILE);
	assert_int_equal(stat_ok(src, "link.yml"), SPEC_FT_SYMLINK);
	assert_int_equal(stat_ok(src, "sublink"), SPEC_FT_SYMLINK);
	assert_int_equal(stat_ok(src, "mod"), SPEC_FT_OTHER);
	spec_source_free(src);
}

static void
test_gitsrc_stat__missing_is_none(void **state)
{
	struct spec_source *src = fixture_source("HEAD");
	struct lr_err err = { 0 };
	enum spec_ftype t;

	assert_int_equal(stat_ok(src, "nope.yml"), SPEC_FT_NONE);
	assert_int_equal(stat_ok(src, "sub/nope/y.yml"), SPEC_FT_NONE);
	/* through a file, a symlink (not followed) or a submodule */
	assert_int_equal(stat_ok(src, "a.yml/x"), SPEC_FT_NONE);
	assert_int_equal(stat_ok(src, "sublink/x.yml"), SPEC_FT_NONE);
	assert_int_equal(stat_ok(src, "mod/x"), SPEC_FT_NONE);
	/* a trailing slash wants a directory, as lstat does */
	assert_int_equal(stat_ok(src, "a.yml/"), SPEC_FT_NONE);
	assert_int_equal(stat_ok(src, "sub/"), SPEC_FT_DIR);
	/* the resolver never passes these; refuse rather than guess */
	assert_int_equal(src->ops->stat(src->ctx, "/a.yml", &t, &err),
	    LR_EINVAL);
	assert_int_equal(src->ops->stat(src->ctx, "sub/../a.yml", &t, &err),
	    LR_EINVAL);
	spec_source_free(src);
}

static void
test_gitsrc_readlink__symlinks(void **state)
{
	struct spec_source *src = fixture_source("HEAD");
	struct lr_err err = { 0 };
	char *target = NULL, *buf = NULL, *real = NULL;
	enum spec_ftype t;
	size_t len;

	assert_int_equal(src->ops->readlink(src->ctx, "link.yml", &target,
	    &err), 0);
	assert_string_equal(target, "a.yml");
	free(target);
	assert_int_equal(src->ops->readlink(src->ctx, "sublink", &target,
	    &err), 0);
	assert_string_equal(target, "sub");
	free(target);
	/* the ops never follow links ... */
	assert_int_equal(src->ops->read(src->ctx, "link.yml", SIZE_MAX, &buf,
	    &len, &err), LR_EINVAL);
	assert_non_null(strstr(err.msg, "'link.yml' is a symlink in commit"));
	assert_int_equal(src->ops->readlink(src->ctx, "a.yml", &target,
	    &err), LR_EINVAL);
	/* ... specs/source.c does, on top of them */
	assert_int_equal(spec_source_read(src, "link.yml", &buf, &len, &err),
	    0);
	assert_string_equal(buf, "two\n");
	free(buf);
	/* a blob over the limit is refused before it is copied */
	buf = NULL;
	assert_int_equal(spec_source_read_max(src, "link.yml", 3, &buf, &len,
	    &err), LR_ETOOBIG);
	assert_null(buf);
	assert_non_null(strstr(err.msg, "'a.yml' is 0.0 MiB (4 bytes), over "
	    "the 0 MiB limit"));
	assert_int_equal(spec_source_resolve(src, "sublink/deeper/y.yml",
	    &real, &t, &err), 0);
	assert_string_equal(real, "sub/deeper/y.yml");
	assert_int_equal(t, SPEC_FT_FILE);
	free(real);
	spec_source_free(src);
}

static void
test_gitsrc_read__errors(void **state)
{
	struct spec_source *src = fixture_source("HEAD");
	struct lr_err err = { 0 };
	char *buf = NULL, *a;
	size_t len;

	assert_int_equal(src->ops->read(src->ctx, "nope.yml", SIZE_MAX, &buf,
	    &len, &err), LR_ENOENT);
	assert_non_null(strstr(err.msg, "'nope.yml' does not exist in "
	    "commit "));
	assert_int_equal(src->ops->read(src->ctx, "sub", SIZE_MAX, &buf, &len,
	    &err), LR_EINVAL);
	assert_non_null(strstr(err.msg, "'sub' is a directory"));
	assert_int_equal(src->ops->read(src->ctx, "mod", SIZE_MAX, &buf, &len,
	    &err), LR_EINVAL);
	assert_null(buf);
	assert_string_equal(a = read_ok(src, "run.sh"), "#!/bin/sh\n");
	free(a);
	spec_source_free(src);
}

static void
test_gitsrc_open__bare_clone(void **state)
{
	struct gitsrc_repo *r = NULL;
	struct spec_source *src = NULL;
	struct lr_err err = { 0 };
	char bare[PATH_MAX], out[512], id[64], *a;

	path_in(bare, sizeof(bare), "bare.git");
	GIT(NULL, "clone", "-q", "--bare", repo_dir, bare);
	GIT_LINE(repo_dir, id, "rev-parse", "HEAD");
	assert_int_equal(gitsrc_open(bare, &r, &err), 0);
	assert_null(gitsrc_workdir(r));
	assert_int_equal(gitsrc_source_new(r, "HEAD", &src, &err), 0);
	assert_string_equal(src->commit, id);
	assert_string_equal(a = read_ok(src, "sub/x.yml"), "x\n");
	free(a);
	list_ok(src, "sub", out, sizeof(out));
	assert_string_equal(out, "deeper,x.yml");
	spec_source_free(src);
	assert_int_equal(gitsrc_source_new(r, "v1", &src, &err), 0);
	assert_string_equal(a = read_ok(src, "a.yml"), "one\n");
	free(a);
	spec_source_free(src);
	gitsrc_repo_free(r);
}

static void
test_gitsrc_open__searches_upward(void **state)
{
	struct gitsrc_repo *r = NULL;
	struct lr_err err = { 0 };
	char sub[PATH_MAX], real[PATH_MAX];

	snprintf(sub, sizeof(sub), "%s/sub/deeper", repo_dir);
	assert_non_null(realpath(repo_dir, real));
	assert_int_equal(gitsrc_open(sub, &r, &err), 0);
	assert_string_equal(gitsrc_workdir(r), real);
	gitsrc_repo_free(r);
}

static void
test_gitsrc_open__not_a_repo(void **state)
{
	struct gitsrc_repo *r = NULL;
	struct lr_err err = { 0 };
	char missing[PATH_MAX], want[PATH_MAX + 64];

	path_in(missing, sizeof(missing), "no-such-dir");
	assert_int_equal(gitsrc_open(missing, &r, &err), LR_EGIT);
	assert_null(r);
	snprintf(want, sizeof(want), "cannot open git repository at '%s': ",
	    missing);
	assert_memory_equal(err.msg, want, strlen(want));
	assert_true(strlen(err.msg) > strlen(want));
	assert_string_equal(err.hint,
	    "run leura inside a git repository or pass -C DIR");
}

static void
test_gitsrc_open__other_owner(void **state)
{
	struct gitsrc_repo *r = NULL;
	struct spec_source *src = NULL;
	struct lr_err err = { 0 };
	char dir[PATH_MAX], *a;

	/* only root can give a repository away (CI may not be root) */
	if (geteuid() != 0)
		skip();
	path_in(dir, sizeof(dir), "foreign");
	GIT(NULL, "clone", "-q", repo_dir, dir);
	{
		const char *const argv[] = { "chown", "-R", "65534:65534",
		    dir, NULL };

		assert_int_equal(run(NULL, argv, NULL, 0), 0);
	}
	/*
	 * Without the ownership fix, libgit2 1.5 says "config value
	 * 'safe.directory' was not found".
	 */
	if (gitsrc_open(dir, &r, &err) < 0)
		fail_msg("%s", err.msg);
	assert_int_equal(gitsrc_source_new(r, "origin/main", &src, &err), 0);
	assert_string_equal(a = read_ok(src, "a.yml"), "two\n");
	free(a);
	spec_source_free(src);
	gitsrc_repo_free(r);
}

static void
test_gitsrc_source_new__unknown_ref(void **state)
{
	struct gitsrc_repo *r = NULL;
	struct spec_source *src = NULL;
	struct lr_err err = { 0 };
	char real[PATH_MAX], want[PATH_MAX + 64];

	assert_non_null(realpath(repo_dir, real));
	assert_int_equal(gitsrc_open(repo_dir, &r, &err), 0);
	assert_int_equal(gitsrc_source_new(r, "foo", &src, &err), LR_ENOENT);
	assert_null(src);
	snprintf(want, sizeof(want), "unknown revision 'foo' in '%s'", real);
	assert_string_equal(err.msg, want);
	assert_string_equal(err.hint, "check the name with 'git log "
	    "--oneline -5' or 'git branch -a'");
	/* beyond the first commit */
	assert_int_equal(gitsrc_source_new(r, "HEAD~5", &src, &err),
	    LR_ENOENT);
	gitsrc_repo_free(r);
}

static void
test_gitsrc_source_new__not_a_commit(void **state)
{
	struct gitsrc_repo *r = NULL;
	struct spec_source *src = NULL;
	struct gitsrc_commit d = { 0 };
	struct lr_err err = { 0 };
	char real[PATH_MAX], want[PATH_MAX + 64];

	assert_non_null(realpath(repo_dir, real));
	assert_int_equal(gitsrc_open(repo_dir, &r, &err), 0);
	assert_int_equal(gitsrc_source_new(r, "HEAD:a.yml", &src, &err),
	    LR_EINVAL);
	snprintf(want, sizeof(want), "revision 'HEAD:a.yml' in '%s' names a "
	    "blob, not a commit", real);
	assert_string_equal(err.msg, want);
	assert_true(err.hint[0] != '\0');
	assert_int_equal(gitsrc_source_new(r, "HEAD^{tree}", &src, &err),
	    LR_EINVAL);
	assert_non_null(strstr(err.msg, "names a tree, not a commit"));
	/* a tag of a blob is peeled, then refused */
	GIT(repo_dir, "tag", "-a", "blobtag", "-m", "a blob", "HEAD:b.yml");
	assert_int_equal(gitsrc_source_new(r, "blobtag", &src, &err),
	    LR_EINVAL);
	assert_non_null(strstr(err.msg, "names a blob, not a commit"));
	assert_int_equal(gitsrc_describe(r, "blobtag", &d, &err), LR_EINVAL);
	assert_null(src);
	assert_null(d.summary);
	GIT(repo_dir, "tag", "-d", "blobtag");
	gitsrc_repo_free(r);
}

static void
test_gitsrc_source_new__ignores_work_tree(void **state)
{
	struct gitsrc_repo *r = NULL;
	struct spec_source *src = NULL;
	struct lr_err err = { 0 };
	char dir[PATH_MAX], out[256], *a;

	path_in(dir, sizeof(dir), "dirty");
	make_first_commit(dir);
	put(dir, "a.yml", "uncommitted\n");
	put(dir, "staged.yml", "in the index only\n");
	GIT(dir, "add", "staged.yml");
	put(dir, "untracked.yml", "nowhere\n");

	assert_int_equal(gitsrc_open(dir, &r, &err), 0);
	assert_int_equal(gitsrc_source_new(r, "HEAD", &src, &err), 0);
	assert_string_equal(a = read_ok(src, "a.yml"), "one\n");
	free(a);
	assert_int_equal(stat_ok(src, "staged.yml"), SPEC_FT_NONE);
	assert_int_equal(stat_ok(src, "untracked.yml"), SPEC_FT_NONE);
	list_ok(src, "", out, sizeof(out));
	assert_string_equal(out, "a.yml");
	spec_source_free(src);
	gitsrc_repo_free(r);

	/* and the work tree itself was left alone */
	src = NULL;
	assert_int_equal(spec_source_dir_new(dir, &src, &err), 0);
	assert_string_equal(a = read_ok(src, "a.yml"), "uncommitted\n");
	free(a);
	spec_source_free(src);
}

static void
test_gitsrc_source_new__outlives_repo(void **state)
{
	struct gitsrc_repo *r = NULL;
	struct spec_source *a = NULL, *b = NULL;
	struct lr_err err = { 0 };
	char *s;

	assert_int_equal(gitsrc_open(repo_dir, &r, &err), 0);
	assert_int_equal(gitsrc_source_new(r, "HEAD", &a, &err), 0);
	assert_int_equal(gitsrc_source_new(r, "HEAD~1", &b, &err), 0);
	gitsrc_repo_free(r);
	assert_string_equal(s = read_ok(a, "sub/deeper/y.yml"), "y\n");
	free(s);
	spec_source_free(a);
	assert_string_equal(s = read_ok(b, "a.yml"), "one\n");
	free(s);
	spec_source_free(b);
}

static void
test_gitsrc_describe__metadata(void **state)
{
	struct gitsrc_repo *r = NULL;
	struct gitsrc_commit d = { 0 };
	struct lr_err err = { 0 };
	char id[64], when[64];

	GIT_LINE(repo_dir, id, "rev-parse", "HEAD");
	GIT_LINE(repo_dir, when, "log", "-1", "--format=%at");
	assert_int_equal(gitsrc_open(repo_dir, &r, &err), 0);
	assert_int_equal(gitsrc_describe(r, "HEAD", &d, &err), 0);
	assert_string_equal(d.id, id);
	assert_true(strlen(d.short_id) >= 7);
	assert_memory_equal(d.short_id, id, strlen(d.short_id));
	assert_string_equal(d.summary, "second change");
	assert_string_equal(d.author, "Ada Tester <ada@example.org>");
	assert_int_equal(d.time, strtoll(when, NULL, 10));
	gitsrc_commit_release(&d);
	assert_null(d.summary);
	gitsrc_commit_release(&d);	/* a zeroed struct is fine */
	assert_int_equal(gitsrc_describe(r, "nope", &d, &err), LR_ENOENT);
	gitsrc_repo_free(r);
}

static void
test_gitsrc_source_new__empty_repo(void **state)
{
	struct gitsrc_repo *r = NULL;
	struct spec_source *src = NULL;
	struct lr_err err = { 0 };
	char dir[PATH_MAX];

	path_in(dir, sizeof(dir), "empty");
	GIT(NULL, "-c", "init.defaultBranch=main", "init", "-q", dir);
	assert_int_equal(gitsrc_open(dir, &r, &err), 0);
	assert_int_equal(gitsrc_source_new(r, "HEAD", &src, &err), LR_ENOENT);
	assert_non_null(strstr(err.msg, "has no commits yet"));
	assert_null(src);
	gitsrc_repo_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gitsrc_source_new__reads_head_and_parent),
		cmocka_unit_test(test_gitsrc_source_new__branch_tag_and_sha),
		cmocka_unit_test(test_gitsrc_list__sorted_bytewise),
		cmocka_unit_test(test_gitsrc_stat__types),
		cmocka_unit_test(test_gitsrc_stat__missing_is_none),
		cmocka_unit_test(test_gitsrc_readlink__symlinks),
		cmocka_unit_test(test_gitsrc_read__errors),
		cmocka_unit_test(test_gitsrc_open__bare_clone),
		cmocka_unit_test(test_gitsrc_open__searches_upward),
		cmocka_unit_test(test_gitsrc_open__not_a_repo),
		cmocka_unit_test(test_gitsrc_open__other_owner),
		cmocka_unit_test(test_gitsrc_source_new__unknown_ref),
		cmocka_unit_test(test_gitsrc_source_new__not_a_commit),
		cmocka_unit_test(test_gitsrc_source_new__ignores_work_tree),
		cmocka_unit_test(test_gitsrc_source_new__outlives_repo),
		cmocka_unit_test(test_gitsrc_describe__metadata),
		cmocka_unit_test(test_gitsrc_source_new__empty_repo),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
