/*
 * The config repo `leura up` applies when given none (-C): the bundled
 * example, examples/basic (up-int.h).  Looked for relative to this leura's
 * executable first, as git's RUNTIME_PREFIX does, so that an install under
 * any prefix, or a package unpacked anywhere, finds its own:
 * BIN/../share/leura/examples/basic; else in the source tree leura was
 * built from (LEURA_EXAMPLE_DIR).  The source tree's is a folder of
 * leura's git repository, applied from its last commit like any config
 * repo.  An installed one is no git repository, and `leura up` applies a
 * commit: it applies a copy, STATE/example, made and committed on the
 * first run (in a temp folder renamed into place, so a crash leaves no
 * half-made copy) and kept after, so edits committed there are applied.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file.h"
#include "snapshot.h"
#include "up-int.h"
#include "xalloc.h"

#ifndef LEURA_EXAMPLE_DIR
#define LEURA_EXAMPLE_DIR ""
#endif

#define EXAMPLE_REL	"../share/leura/examples/basic"

char *
up_find_example(const char *self_exe, bool *installed)
{
	const char *slash = strrchr(self_exe, '/');
	char *p, real[PATH_MAX];

	*installed = false;
	if (slash != NULL) {
		p = lr_xasprintf("%.*s/%s", (int)(slash - self_exe), self_exe,
		    EXAMPLE_REL);
		if (up_is_dir(p) && realpath(p, real) != NULL) {
			free(p);
			*installed = true;
			return lr_xstrdup(real);
		}
		free(p);
	}
	if (up_is_dir(LEURA_EXAMPLE_DIR))
		return lr_xstrdup(LEURA_EXAMPLE_DIR);
	return NULL;
}

/* The symlink src, made again as dst (a role may link a shared file). */
static int
copy_link(const char *src, const char *dst, struct lr_err *err)
{
	char target[PATH_MAX];
	ssize_t n;

	if ((n = readlink(src, target, sizeof(target) - 1)) < 0)
		return lr_err_set(err, LR_EIO, "cannot read the symlink '%s': "
		    "%s", src, strerror(errno));
	target[n] = '\0';
	if (symlink(target, dst) < 0)
		return lr_err_set(err, LR_EIO, "cannot create the symlink "
		    "'%s': %s", dst, strerror(errno));
	return 0;
}

/* Copy the files, symlinks and folders under from into to (made). */
static int
copy_tree(const char *from, const char *to, struct lr_err *err)
{
	struct dirent *de;
	struct stat st;
	char *src, *dst, *buf;	/* owned, per entry */
	size_t len;
	DIR *d;
	int rc = 0;

	if ((d = opendir(from)) == NULL)
		return lr_err_set(err, LR_EIO, "cannot read the folder '%s': "
		    "%s", from, strerror(errno));
	while (rc == 0 && (errno = 0, de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		src = lr_xasprintf("%s/%s", from, de->d_name);
		dst = lr_xasprintf("%s/%s", to, de->d_name);
		if (lstat(src, &st) < 0)
			rc = lr_err_set(err, LR_EIO, "cannot stat '%s': %s",
			    src, strerror(errno));
		else if (S_ISDIR(st.st_mode)) {
			if (mkdir(dst, 0755) < 0)
				rc = lr_err_set(err, LR_EIO, "cannot create "
				    "'%s': %s", dst, strerror(errno));
			else
				rc = copy_tree(src, dst, err);
		} else if (S_ISREG(st.st_mode)) {
			buf = NULL;
			if ((rc = lr_read_file(src, 0, &buf, &len, err)) == 0)
				rc = lr_file_replace(to, de->d_name, buf, len,
				    st.st_mode & 0111 ? 0755 : 0644, 0, err);
			free(buf);
		} else if (S_ISLNK(st.st_mode))
			rc = copy_link(src, dst, err);
		/* sockets, fifos, devices: nothing a config repo holds */
		free(src);
		free(dst);
	}
	if (rc == 0 && errno != 0)
		rc = lr_err_set(err, LR_EIO, "cannot read the folder '%s': "
		    "%s", from, strerror(errno));
	closedir(d);
	return rc;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	remove(path);
	return 0;
}

char *
up_example_repo(const char *state, const char *example, bool *made,
    struct lr_err *err)
{
	char *repo, *tmp, *msg, id[41];
	int rc;

	*made = false;
	repo = lr_xasprintf("%s/example", state);	/* owned: returned */
	if (up_is_dir(repo))
		return repo;
	/* owned: renamed to repo */
	tmp = lr_xasprintf("%s/.example" LR_FILE_TMP_MARK "XXXXXX", state);
	if (mkdtemp(tmp) == NULL) {
		lr_err_set(err, LR_EIO, "cannot create a folder in '%s': %s",
		    state, strerror(errno));
		free(tmp);
		free(repo);
		return NULL;
	}
	rc = copy_tree(example, tmp, err);
	/* owned: the commit's message */
	msg = lr_xasprintf("The bundled example of leura %s\n\nCopied by "
	    "leura up from %s.\n", LEURA_VERSION, example);
	if (rc == 0)
		rc = gitsrc_snapshot(tmp, msg, id, err);
	free(msg);
	if (rc == 0 && chmod(tmp, 0755) < 0)
		rc = lr_err_set(err, LR_EIO, "cannot chmod '%s': %s", tmp,
		    strerror(errno));
	if (rc == 0 && rename(tmp, repo) < 0)
		rc = lr_err_set(err, LR_EIO, "cannot rename '%s' to '%s': %s",
		    tmp, repo, strerror(errno));
	if (rc != 0) {
		lr_err_hint(err, "leura up copies the bundled example '%s' "
		    "into its state dir, a git repository, to apply it; or "
		    "give it a config repo with -C DIR", example);
		nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
		free(tmp);
		free(repo);
		return NULL;
	}
	free(tmp);
	*made = true;
	return repo;
}
