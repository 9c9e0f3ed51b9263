/*
 * Unit tests of the agent's state directory (agent/store.c): each test
 * gets its own folder from mkdtemp under /tmp, removed when it ends.
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <cmocka.h>

#include "buf.h"
#include "err.h"
#include "hash.h"
#include "store.h"
#include "xalloc.h"


struct fixture {
	char	*tmp;		/* from mkdtemp, removed at the end */
	char	*dir;		/* tmp/state: the store creates it */
};

/* ---- helpers ---- */

static int
rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path);
}

static int
setup(void **state)
{
	struct fixture *fx;
	char tmpl[] = "/tmp/leura-store-XXXXXX";

	if (mkdtemp(tmpl) == NULL)
		return -1;
	fx = lr_xcalloc(1, sizeof(*fx));
	fx->tmp = lr_xstrdup(tmpl);
	fx->dir = lr_xasprintf("%s/state", tmpl);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;
	int rc;

	rc = nftw(fx->tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(fx->tmp);
	free(fx->dir);
	free(fx);
	return rc;
}

static struct agent_store *
open_ok(const char *dir)
{
	struct agent_store *s = NULL;
	struct lr_err err = { 0 };
	int rc;

	rc = agent_store_open(dir, &s, &err);
	if (rc != 0)
		fail_msg("agent_store_open: %d %s", rc, err.msg);
	assert_non_null(s);
	return s;
}

static void
write_text(const char *path, const char *text)
{
	FILE *f;

	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static char *
read_text(const char *path)
{
	struct lr_buf b = LR_BUF_INIT;
	char chunk[512];
	size_t n;
	FILE *f;

	assert_non_null(f = fopen(path, "r"));
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		lr_buf_add(&b, chunk, n);
	fclose(f);
	return lr_buf_detach(&b, NULL);
}

static bool
exists(const char *dir, const char *name)
{
	struct stat st;
	char *path;
	bool ok;

	path = lr_xasprintf("%s/%s", dir, name);
	ok = lstat(path, &st) == 0;
	free(path);
	return ok;
}

static mode_t
mode_of(const char *dir, const char *name)
{
	struct stat st;
	char *path;

	path = lr_xasprintf("%s/%s", dir, name);
	assert_int_equal(stat(path, &st), 0);
	free(path);
	return st.st_mode & 07777;
}

/* Entries of dir whose names start with prefix ("" for all, dots too). */
static size_t
count_prefixed(const char *dir, const char *prefix)
{
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	assert_non_null(d = opendir(dir));
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0 &&
		    strncmp(de->d_name, prefix, strlen(prefix)) == 0)
			n++;
	closedir(d);
	return n;
}

/* ---- open, close, lock ---- */

static void
test_agent_store_open__creates_layout(void **state)
{
	struct fixture *fx = *state;
	struct agent_store *s;
	char *pid, *path, *text, *slash;

	s = open_ok(fx->dir);
	assert_string_equal(agent_store_dir(s), fx->dir);
	assert_true(exists(fx->dir, "files"));
	assert_true(exists(fx->dir, "work"));
	assert_true(exists(fx->dir, "logs"));
	assert_int_equal(mode_of(fx->dir, "."), 0711);
	assert_int_equal(mode_of(fx->dir, "files"), 0711);
	assert_int_equal(mode_of(fx->dir, "lock"), 0600);
	/* the lock file names the holder */
	pid = lr_xasprintf("%ld\n", (long)getpid());
	path = lr_xasprintf("%s/lock", fx->dir);
	text = read_text(path);
	assert_string_equal(text, pid);
	free(text);
	free(path);
	free(pid);
	assert_non_null(strstr(agent_store_files_dir(s), "/files"));
	assert_non_null(strstr(agent_store_work_dir(s), "/work"));
	agent_store_close(s);
	agent_store_close(NULL);

	/* closed: the lock is free again; a trailing slash is the same dir */
	text = lr_xasprintf("%s/", fx->dir);
	s = open_ok(text);
	assert_string_equal(agent_store_dir(s), fx->dir);
	agent_store_close(s);
	free(text);

	/* a dir that cannot be made: says what to do */
	slash = lr_xasprintf("%s/lock/sub", fx->dir);
	{
		struct lr_err err = { 0 };
		struct agent_store *t = NULL;

		assert_int_equal(agent_store_open(slash, &t, &err), LR_EIO);
		assert_null(t);
		assert_non_null(strstr(err.msg,
		    "cannot create the state dir '"));
		assert_non_null(strstr(err.msg, "Not a directory"));
		assert_string_equal(err.hint,
		    "give --state-dir a folder the agent may write");
	}
	free(slash);
}

/* In a child (its own open file description): the result of open. */
static void
child_open(const char *dir, long want_pid)
{
	struct agent_store *s = NULL;
	struct lr_err err = { 0 };
	char *msg;
	int rc, code = 0;

	rc = agent_store_open(dir, &s, &err);
	if (want_pid == 0) {
		code = rc == 0 && s != NULL ? 0 : 1;
	} else {
		msg = lr_xasprintf("another leura-agent (pid %ld) uses '%s'",
		    want_pid, dir);
		if (rc != LR_EBUSY || s != NULL ||
		    strcmp(err.msg, msg) != 0 || err.hint[0] == '\0') {
			fprintf(stderr, "child: rc %d msg '%s'\n", rc,
			    err.msg);
			code = 1;
		}
		free(msg);
	}
	agent_store_close(s);
	_exit(code);		/* no atexit, no leak report in the child */
}

static void
test_agent_store_open__busy_while_held(void **state)
{
	struct fixture *fx = *state;
	struct agent_store *s;
	pid_t pid;
	int status;

	s = open_ok(fx->dir);
	if ((pid = fork()) == 0)
		child_open(fx->dir, (long)getppid());
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	agent_store_close(s);

	/* released at close: the child gets it */
	if ((pid = fork()) == 0)
		child_open(fx->dir, 0);
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void
test_agent_store_open__sweeps_leftovers(void **state)
{
	struct fixture *fx = *state;
	struct agent_store *s;
	char *path;

	s = open_ok(fx->dir);
	agent_store_close(s);
	/* what a crash leaves: temporary files and scripts */
	path = lr_xasprintf("%s/.steps.json.tmp-abcdef", fx->dir);
	write_text(path, "half");
	free(path);
	path = lr_xasprintf("%s/work/script-1", fx->dir);
	write_text(path, "echo");
	free(path);
	path = lr_xasprintf("%s/keep-me", fx->dir);
	write_text(path, "not ours");
	free(path);
	/* the log folder of a run that never ended, and a finished run's */
	path = lr_xasprintf("%s/logs/20261207T101010Z-7", fx->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	free(path);
	path = lr_xasprintf("%s/logs/20261207T101010Z-7/000.log", fx->dir);
	write_text(path, "half a run");
	free(path);
	path = lr_xasprintf("%s/logs/20261207T090909Z-6.tar.gz", fx->dir);
	write_text(path, "a finished run");
	free(path);
	s = open_ok(fx->dir);
	assert_false(exists(fx->dir, ".steps.json.tmp-abcdef"));
	assert_false(exists(fx->dir, "work/script-1"));
	assert_true(exists(fx->dir, "keep-me"));
	assert_false(exists(fx->dir, "logs/20261207T101010Z-7"));
	assert_true(exists(fx->dir, "logs/20261207T090909Z-6.tar.gz"));
	agent_store_close(s);
}

static void
test_agent_store_open__free_after_kill_despite_forked_child(void **state)
{
	struct fixture *fx = *state;
	struct agent_store *s = NULL;
	int ready[2], hold[2], status;
	pid_t a;
	char c;

	/*
	 * An agent killed while a child it forked has not reached exec: the
	 * child holds all the agent's descriptors, the lock file's too, yet
	 * the next agent gets the dir.
	 */
	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(hold), 0);
	if ((a = fork()) == 0) {
		close(ready[0]);
		close(hold[1]);
		if (agent_store_open(fx->dir, &s, &(struct lr_err){ 0 }) < 0)
			_exit(1);
		if (fork() == 0) {	/* "before exec": waits for EOF */
			close(ready[1]);
			while (read(hold[0], &c, 1) > 0)
				;
			_exit(0);
		}
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	assert_true(a > 0);
	close(ready[1]);
	close(hold[0]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	assert_int_equal(kill(a, SIGKILL), 0);
	assert_int_equal(waitpid(a, &status, 0), a);
	assert_true(WIFSIGNALED(status));
	s = open_ok(fx->dir);
	agent_store_close(s);
	close(hold[1]);			/* the grandchild ends */
	close(ready[0]);
}

/* ---- desired.json ---- */

static void
test_agent_store_desired__round_trip(void **state)
{
	struct fixture *fx = *state;
	struct lr_err err = { 0 };
	struct agent_store *s;
	json_t *v, *got = (json_t *)1;
	char *path;

	s = open_ok(fx->dir);
	assert_int_equal(agent_store_desired_load(s, &got, &err), 0);
	assert_null(got);		/* none yet */
	v = json_pack("{s:s, s:I, s:{s:[{s:s}]}}", "key", "/p/hosts/web1",
	    "head", (json_int_t)42, "doc", "steps", "id", "s1");
	assert_int_equal(agent_store_desired_save(s, v, &err), 0);
	assert_int_equal(mode_of(fx->dir, "desired.json"), 0600);
	assert_int_equal(count_prefixed(fx->dir, "."), 0);
	agent_store_close(s);

	s = open_ok(fx->dir);
	assert_int_equal(agent_store_desired_load(s, &got, &err), 0);
	assert_non_null(got);
	assert_true(json_equal(got, v));
	json_decref(got);

	/* only objects */
	json_decref(v);
	v = json_array();
	assert_int_equal(agent_store_desired_save(s, v, &err), LR_EINVAL);
	json_decref(v);

	/* corrupt: LR_EINVAL naming the file, *out untouched */
	path = lr_xasprintf("%s/desired.json", fx->dir);
	write_text(path, "{\"key\": ");
	got = NULL;
	assert_int_equal(agent_store_desired_load(s, &got, &err), LR_EINVAL);
	assert_null(got);
	assert_non_null(strstr(err.msg, path));
	assert_non_null(strstr(err.msg, "corrupt"));
	write_text(path, "[1, 2]");
	assert_int_equal(agent_store_desired_load(s, &got, &err), LR_EINVAL);
	free(path);
	agent_store_close(s);
}

/* ---- files/ ---- */

static void
test_agent_store_file_put__checks_sha(void **state)
{
	static const char data[] = "#!/bin/sh\necho hello\n";
	char sha[LR_SHA256_HEX_LEN + 1], other[LR_SHA256_HEX_LEN + 1];
	char *path, *text;
	char upper[LR_SHA256_HEX_LEN + 1];
	struct fixture *fx = *state;
	struct lr_err err = { 0 };
	struct agent_store *s;
	size_t i;

	s = open_ok(fx->dir);
	lr_sha256_hex(data, strlen(data), sha);
	lr_sha256_hex("other", 5, other);

	/* the wrong content for the name: refused, nothing kept */
	assert_int_equal(agent_store_file_put(s, other, data, strlen(data),
	    false, &err), LR_EINVAL);
	assert_non_null(strstr(err.msg, other));
	assert_non_null(strstr(err.msg, sha));
	assert_false(agent_store_file_has(s, other));
	assert_int_equal(count_prefixed(agent_store_files_dir(s), ""), 0);

	/* names that are not a SHA-256 never become paths */
	assert_int_equal(agent_store_file_put(s, "../../etc/passwd", data,
	    strlen(data), false, &err), LR_EINVAL);
	assert_int_equal(agent_store_file_put(s, NULL, data, strlen(data),
	    false, &err), LR_EINVAL);
	for (i = 0; i < LR_SHA256_HEX_LEN; i++)
		upper[i] = (char)(sha[i] >= 'a' ? sha[i] - 'a' + 'A' : sha[i]);
	upper[LR_SHA256_HEX_LEN] = '\0';
	assert_int_equal(agent_store_file_put(s, upper, data, strlen(data),
	    false, &err), LR_EINVAL);
	assert_false(agent_store_file_has(s, upper));
	assert_false(agent_store_file_has(s, "abc"));
	assert_false(agent_store_file_has(s, NULL));

	assert_false(agent_store_file_has(s, sha));
	assert_int_equal(agent_store_file_put(s, sha, data, strlen(data),
	    false, &err), 0);
	assert_true(agent_store_file_has(s, sha));
	assert_int_equal(mode_of(agent_store_files_dir(s), sha), 0600);
	path = lr_xasprintf("%s/%s", agent_store_files_dir(s), sha);
	text = read_text(path);
	assert_string_equal(text, data);
	free(text);
	free(path);

	/* executable: 0755, and it sticks when put again as a plain file */
	assert_int_equal(agent_store_file_put(s, sha, data, strlen(data),
	    true, &err), 0);
	assert_int_equal(mode_of(agent_store_files_dir(s), sha), 0755);
	assert_int_equal(agent_store_file_put(s, sha, data, strlen(data),
	    false, &err), 0);
	assert_int_equal(mode_of(agent_store_files_dir(s), sha), 0755);

	/* empty content is content too */
	lr_sha256_hex("", 0, other);
	assert_int_equal(agent_store_file_put(s, other, NULL, 0, false,
	    &err), 0);
	assert_true(agent_store_file_has(s, other));
	assert_int_equal(count_prefixed(agent_store_files_dir(s), "."), 0);
	agent_store_close(s);
}

static void
test_agent_store_files_gc__keeps_only_named(void **state)
{
	static const char *data[] = { "one", "two", "three" };
	char sha[3][LR_SHA256_HEX_LEN + 1], *path;
	struct fixture *fx = *state;
	struct lr_err err = { 0 };
	struct agent_store *s;
	json_t *keep;
	size_t i;

	s = open_ok(fx->dir);
	for (i = 0; i < 3; i++) {
		lr_sha256_hex(data[i], strlen(data[i]), sha[i]);
		assert_int_equal(agent_store_file_put(s, sha[i], data[i],
		    strlen(data[i]), false, &err), 0);
	}
	path = lr_xasprintf("%s/junk", agent_store_files_dir(s));
	write_text(path, "not a content");
	free(path);

	/* not an array: nothing happens */
	agent_store_files_gc(s, NULL);
	assert_int_equal(count_prefixed(agent_store_files_dir(s), ""), 4);

	keep = json_pack("[s, s, i, s]", sha[0], sha[2], 7, "../junk");
	agent_store_files_gc(s, keep);
	json_decref(keep);
	assert_true(agent_store_file_has(s, sha[0]));
	assert_false(agent_store_file_has(s, sha[1]));
	assert_true(agent_store_file_has(s, sha[2]));
	assert_false(exists(agent_store_files_dir(s), "junk"));
	assert_int_equal(count_prefixed(agent_store_files_dir(s), ""), 2);

	keep = json_array();
	agent_store_files_gc(s, keep);
	json_decref(keep);
	assert_int_equal(count_prefixed(agent_store_files_dir(s), ""), 0);
	agent_store_close(s);
}

/* ---- steps.json ---- */

static void
test_agent_store_records__survive_reopen(void **state)
{
	struct fixture *fx = *state;
	struct lr_err err = { 0 };
	struct agent_store *s;
	json_t *r, *want;

	s = open_ok(fx->dir);
	r = agent_store_records(s);
	assert_true(json_is_object(r));
	assert_int_equal(json_object_size(r), 0);
	json_object_set_new(r, "web/s1", json_pack("{s:s, s:s}", "hash",
	    "abc", "status", "changed"));
	json_object_set_new(r, "web/s2", json_pack("{s:s}", "status", "ok"));
	want = json_deep_copy(r);
	assert_int_equal(agent_store_records_save(s, &err), 0);
	agent_store_close(s);

	s = open_ok(fx->dir);
	assert_true(json_equal(agent_store_records(s), want));
	assert_int_equal(mode_of(fx->dir, "steps.json"), 0600);
	agent_store_close(s);
	json_decref(want);
}

static void
test_agent_store_records__corrupt_moved_aside(void **state)
{
	struct fixture *fx = *state;
	struct agent_store *s;
	char *path;

	s = open_ok(fx->dir);
	agent_store_close(s);
	path = lr_xasprintf("%s/steps.json", fx->dir);
	write_text(path, "{\"web/s1\": {\"hash\": ");
	free(path);

	/* starts empty, with the damaged file kept for a look */
	s = open_ok(fx->dir);
	assert_true(json_is_object(agent_store_records(s)));
	assert_int_equal(json_object_size(agent_store_records(s)), 0);
	assert_false(exists(fx->dir, "steps.json"));
	assert_int_equal(count_prefixed(fx->dir, "steps.json.corrupt-"), 1);
	agent_store_close(s);

	/* an array is as bad as broken JSON */
	path = lr_xasprintf("%s/steps.json", fx->dir);
	write_text(path, "[]");
	free(path);
	s = open_ok(fx->dir);
	assert_int_equal(json_object_size(agent_store_records(s)), 0);
	assert_false(exists(fx->dir, "steps.json"));
	/* both damaged copies are kept, even within the same second */
	assert_int_equal(count_prefixed(fx->dir, "steps.json.corrupt-"), 2);
	agent_store_close(s);
}

/* ---- running.json ---- */

static void
test_agent_store_running__taken_once_after_reopen(void **state)
{
	struct fixture *fx = *state;
	struct lr_err err = { 0 };
	struct agent_store *s;
	json_t *entry, *got;

	s = open_ok(fx->dir);
	assert_null(agent_store_running_take(s));
	entry = json_pack("{s:s, s:I}", "id", "web/s1", "started_ms",
	    (json_int_t)1746180847000);
	assert_int_equal(agent_store_running_set(s, entry, &err), 0);
	/* what this process sets is not what it found at open */
	assert_null(agent_store_running_take(s));
	agent_store_close(s);		/* as if it crashed mid-step */

	s = open_ok(fx->dir);
	got = agent_store_running_take(s);
	assert_non_null(got);
	assert_true(json_equal(got, entry));
	json_decref(got);
	assert_null(agent_store_running_take(s));
	/* cleared: gone for the next start, and clearing twice is fine */
	assert_int_equal(agent_store_running_set(s, NULL, &err), 0);
	assert_false(exists(fx->dir, "running.json"));
	assert_int_equal(agent_store_running_set(s, NULL, &err), 0);
	got = json_array();
	assert_int_equal(agent_store_running_set(s, got, &err), LR_EINVAL);
	json_decref(got);
	agent_store_close(s);

	s = open_ok(fx->dir);
	assert_null(agent_store_running_take(s));
	agent_store_close(s);
	json_decref(entry);
}

/* ---- logs ---- */

/* Names and contents of the entries of a .tar.gz, as one JSON object. */
static json_t *
archive_contents(const char *path)
{
	struct archive_entry *e;
	struct lr_buf b = LR_BUF_INIT;
	struct archive *a;
	char chunk[1024];
	la_ssize_t n;
	json_t *out;
	int r;

	a = archive_read_new();
	archive_read_support_filter_gzip(a);
	archive_read_support_format_tar(a);
	assert_int_equal(archive_read_open_filename(a, path, 10240),
	    ARCHIVE_OK);
	out = json_object();
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		assert_int_equal(archive_entry_filetype(e), AE_IFREG);
		while ((n = archive_read_data(a, chunk, sizeof(chunk))) > 0)
			lr_buf_add(&b, chunk, (size_t)n);
		assert_true(n == 0);
		json_object_set_new(out, archive_entry_pathname(e),
		    json_stringn(b.s != NULL ? b.s : "", b.len));
		lr_buf_reset(&b);
	}
	assert_int_equal(r, ARCHIVE_EOF);
	archive_read_free(a);
	lr_buf_release(&b);
	return out;
}

static void
write_log(struct agent_store *s, const char *run, size_t idx,
    const char *text)
{
	char *path;

	assert_non_null(path = agent_store_log_path(s, run, idx));
	write_text(path, text);
	free(path);
}

static void
test_agent_store_logs_pack__archive_and_manifest(void **state)
{
	static const char run[] = "20250502T101407Z-7";
	struct fixture *fx = *state;
	struct lr_err err = { 0 };
	struct agent_store *s;
	json_t *manifest, *got, *m;
	char *path, *logs, *want;
	size_t i;

	s = open_ok(fx->dir);
	path = agent_store_log_path(s, run, 3);
	want = lr_xasprintf("%s/logs/%s/003.log", fx->dir, run);
	assert_string_equal(path, want);
	free(want);
	free(path);
	for (i = 0; i < 3; i++) {
		want = lr_xasprintf("output of step %zu\n", i);
		write_log(s, run, i, want);
		free(want);
	}
	manifest = json_pack("{s:s, s:[{s:s, s:s}, {s:s, s:s}, {s:s, s:s}]}",
	    "run", run, "steps", "id", "a", "status", "ok", "id", "b",
	    "status", "changed", "id", "c", "status", "failed");
	assert_int_equal(agent_store_logs_pack(agent_store_dir(s), run,
	    manifest, 5, &err), 0);

	logs = lr_xasprintf("%s/logs", fx->dir);
	assert_false(exists(logs, run));		/* the folder is gone */
	path = lr_xasprintf("%s/%s.tar.gz", logs, run);
	assert_int_equal(count_prefixed(logs, ""), 1);	/* no temp file */
	got = archive_contents(path);
	assert_int_equal(json_object_size(got), 4);
	for (i = 0; i < 3; i++) {
		char name[64], text[64];

		snprintf(name, sizeof(name), "%s/%03zu.log", run, i);
		snprintf(text, sizeof(text), "output of step %zu\n", i);
		assert_non_null(json_object_get(got, name));
		assert_string_equal(json_string_value(json_object_get(got,
		    name)), text);
	}
	want = lr_xasprintf("%s/manifest.json", run);
	assert_non_null(json_object_get(got, want));
	m = json_loads(json_string_value(json_object_get(got, want)), 0,
	    NULL);
	assert_non_null(m);
	assert_true(json_equal(m, manifest));
	json_decref(m);
	free(want);
	json_decref(got);
	free(path);

	/* a run without steps has no folder: its archive is the manifest */
	assert_int_equal(agent_store_logs_pack(agent_store_dir(s), "empty-1",
	    manifest, 5, &err), 0);
	path = lr_xasprintf("%s/empty-1.tar.gz", logs);
	got = archive_contents(path);
	assert_int_equal(json_object_size(got), 1);
	assert_non_null(json_object_get(got, "empty-1/manifest.json"));
	json_decref(got);
	free(path);

	free(logs);
	json_decref(manifest);
	agent_store_close(s);
}

static void
test_agent_store_logs_pack__keeps_newest(void **state)
{
	static const char *runs[] = { "run-1", "run-2", "run-3", "run-4" };
	struct fixture *fx = *state;
	struct lr_err err = { 0 };
	struct agent_store *s;
	json_t *manifest;
	char *logs;
	size_t i;

	s = open_ok(fx->dir);
	logs = lr_xasprintf("%s/logs", fx->dir);
	manifest = json_object();
	for (i = 0; i < 4; i++) {
		write_log(s, runs[i], 0, "x\n");
		assert_int_equal(agent_store_logs_pack(fx->dir, runs[i],
		    manifest, 2, &err), 0);
	}
	/* a run being made is a folder, not an archive: untouched */
	write_log(s, "run-5", 0, "y\n");
	assert_int_equal(count_prefixed(logs, ""), 3);
	assert_true(exists(logs, "run-3.tar.gz"));
	assert_true(exists(logs, "run-4.tar.gz"));
	assert_true(exists(logs, "run-5/000.log"));
	assert_false(exists(logs, "run-1.tar.gz"));
	assert_false(exists(logs, "run-2.tar.gz"));

	/* keep 0: keeps them all */
	assert_int_equal(agent_store_logs_pack(fx->dir, "run-5", manifest, 0,
	    &err), 0);
	assert_int_equal(count_prefixed(logs, ""), 3);
	json_decref(manifest);
	free(logs);
	agent_store_close(s);
}

static void
test_agent_store_log_path__bad_run_names(void **state)
{
	static const char *bad[] = { "", ".hidden", "..", "../x", "a/b",
	    "a b", "run\n", "caf\xc3\xa9", "x;rm" };
	struct fixture *fx = *state;
	struct lr_err err = { 0 };
	struct agent_store *s;
	json_t *manifest;
	char longname[200], *path;
	size_t i;

	s = open_ok(fx->dir);
	manifest = json_object();
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_null(agent_store_log_path(s, bad[i], 0));
		lr_err_clear(&err);
		assert_int_equal(agent_store_logs_pack(fx->dir, bad[i],
		    manifest, 1, &err), LR_EINVAL);
		assert_non_null(strstr(err.msg, "invalid run name"));
	}
	assert_null(agent_store_log_path(s, NULL, 0));
	assert_int_equal(agent_store_logs_pack(fx->dir, NULL, manifest, 1,
	    &err), LR_EINVAL);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_null(agent_store_log_path(s, longname, 0));
	/* nothing was created under logs/ */
	path = lr_xasprintf("%s/logs", fx->dir);
	assert_int_equal(count_prefixed(path, ""), 0);
	free(path);

	/* the allowed alphabet */
	assert_non_null(path = agent_store_log_path(s, "a.B-9", 12));
	assert_non_null(strstr(path, "/logs/a.B-9/012.log"));
	free(path);
	json_decref(manifest);
	agent_store_close(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_agent_store_open__creates_layout),
		T(test_agent_store_open__busy_while_held),
		T(test_agent_store_open__sweeps_leftovers),
		T(test_agent_store_open__free_after_kill_despite_forked_child),
		T(test_agent_store_desired__round_trip),
		T(test_agent_store_file_put__checks_sha),
		T(test_agent_store_files_gc__keeps_only_named),
		T(test_agent_store_records__survive_reopen),
		T(test_agent_store_records__corrupt_moved_aside),
		T(test_agent_store_running__taken_once_after_reopen),
		T(test_agent_store_logs_pack__archive_and_manifest),
		T(test_agent_store_logs_pack__keeps_newest),
		T(test_agent_store_log_path__bad_run_names),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
