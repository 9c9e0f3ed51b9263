/*
 * Time zone names of task schedules (schedule.timezone): an IANA name is
 * good when the system's zoneinfo has it as a compiled zone file.
 *
 * The name comes from a config repo, so it never reaches the file system
 * as a path of its own: it is checked for its characters (those of
 * sched_tz_name_valid(), which leurad's cron applies when it loads the
 * zone), refused with a leading '/' or any '..' component, and opened
 * relative to the zoneinfo
 * directory (openat), which is $TZDIR when set (as glibc reads it) and
 * /usr/share/zoneinfo otherwise.  A zone file is a regular file that
 * starts with "TZif" (RFC 8536): zone.tab and the like are not zones.
 *
 * Suggestions ("did you mean 'Europe/Paris'?") walk the directory, two
 * levels down and a bounded number of names, the first time a name is
 * wrong; the list is kept for the process (per zoneinfo directory), so
 * a repo with many bad names, or a daemon, walks it once.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spec-int.h"
#include "suggest.h"
#include "xalloc.h"

#define ZONE_NAME_MAX	128
#define ZONE_LIST_MAX	4096

static const char *
zone_dir(void)
{
	const char *d = getenv("TZDIR");

	return d && *d ? d : "/usr/share/zoneinfo";
}

static bool
name_chars_ok(const char *s)
{
	const char *p, *c;
	size_t n = strlen(s);

	if (n == 0 || n > ZONE_NAME_MAX || s[0] == '/' || s[n - 1] == '/')
		return false;
	for (p = s; *p; p++)
		if (!(*p >= 'A' && *p <= 'Z') && !(*p >= 'a' && *p <= 'z') &&
		    !(*p >= '0' && *p <= '9') && strchr("/_+-", *p) == NULL)
			return false;
	/* no empty, '.' or '..' component */
	for (p = s; *p; p = *c ? c + 1 : c) {
		c = strchr(p, '/');
		if (c == NULL)
			c = p + strlen(p);
		if (c == p || (c - p == 1 && p[0] == '.') ||
		    (c - p == 2 && p[0] == '.' && p[1] == '.'))
			return false;
	}
	return true;
}

int
spec_zone_check(const char *name, char *why, size_t whylen)
{
	char magic[4];
	struct stat st;
	int dfd, fd;
	ssize_t n;

	if (!name_chars_ok(name)) {
		snprintf(why, whylen, "not a time zone name");
		return -1;
	}
	if ((dfd = open(zone_dir(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		snprintf(why, whylen, "cannot open the zoneinfo directory "
		    "'%s': %s", zone_dir(), strerror(errno));
		return -2;
	}
	fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	close(dfd);
	if (fd < 0) {
		snprintf(why, whylen, "no such zone");
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		snprintf(why, whylen, "not a zone file");
		return -1;
	}
	do
		n = read(fd, magic, sizeof(magic));
	while (n < 0 && errno == EINTR);
	close(fd);
	if (n != (ssize_t)sizeof(magic) || memcmp(magic, "TZif", 4) != 0) {
		snprintf(why, whylen, "not a zone file");
		return -1;
	}
	return 0;
}

/* ---- suggestions ---- */

struct zlist {
	char	**v;
	size_t	 n, cap;
};

/* Zone-like names under dir/prefix: files and folders starting upper-case. */
static void
list_dir(int dfd, const char *prefix, int depth, struct zlist *l)
{
	struct dirent *de;
	struct stat st;
	DIR *dp;
	int fd;
	char *name;

	if ((fd = openat(dfd, *prefix ? prefix : ".", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) < 0)
		return;
	if ((dp = fdopendir(fd)) == NULL) {
		close(fd);
		return;
	}
	while ((de = readdir(dp)) != NULL && l->n < ZONE_LIST_MAX) {
		if (de->d_name[0] < 'A' || de->d_name[0] > 'Z')
			continue;	/* ., .., zone.tab, posixrules ... */
		name = *prefix ? lr_xasprintf("%s/%s", prefix, de->d_name) :
		    lr_xstrdup(de->d_name);
		if (fstatat(dfd, name, &st, 0) == 0 && S_ISDIR(st.st_mode)) {
			if (depth < 2)
				list_dir(dfd, name, depth + 1, l);
			free(name);
		} else
			*LR_ARRAY_PUSH(l->v, l->n, l->cap) = name;
	}
	closedir(dp);
}

static const char *
base_of(const char *s)
{
	const char *b = strrchr(s, '/');

	return b ? b + 1 : s;
}

/* The zone names under dir, walked once per dir; borrowed (process). */
static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static struct zlist cache;
static char *cache_dir;

static const struct zlist *
zone_list(void)
{
	struct zlist l = { NULL, 0, 0 };
	size_t i;
	int dfd;

	/* under cache_mu */
	if (cache_dir != NULL && strcmp(cache_dir, zone_dir()) == 0)
		return &cache;
	for (i = 0; i < cache.n; i++)
		free(cache.v[i]);
	free(cache.v);
	free(cache_dir);
	if ((dfd = open(zone_dir(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >=
	    0) {
		list_dir(dfd, "", 0, &l);
		close(dfd);
	}
	cache = l;
	cache_dir = lr_xstrdup(zone_dir());	/* kept for the process */
	return &cache;
}

char *
spec_zone_suggest(const char *name)
{
	const struct zlist *l;
	const char *sug = NULL;
	char *out = NULL, why[256];
	size_t i;

	pthread_mutex_lock(&cache_mu);
	l = zone_list();
	/* europe/paris, then Paris alone, then a typo */
	for (i = 0; i < l->n && sug == NULL; i++)
		if (strcasecmp(l->v[i], name) == 0)
			sug = l->v[i];
	for (i = 0; i < l->n && sug == NULL; i++)
		if (strchr(l->v[i], '/') && strcasecmp(base_of(l->v[i]),
		    base_of(name)) == 0)
			sug = l->v[i];
	if (sug == NULL)
		sug = lr_suggest(name, (const char *const *)l->v, l->n);
	/* never the name itself, nor a file that is no zone (Factory) */
	if (sug && strcmp(sug, name) != 0 &&
	    spec_zone_check(sug, why, sizeof(why)) == 0)
		out = lr_xstrdup(sug);
	pthread_mutex_unlock(&cache_mu);
	return out;
}
