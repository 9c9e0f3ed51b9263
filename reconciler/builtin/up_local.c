/*
 * up_local: what `leura up` needs of this machine (up-int.h): its
 * binaries (etcd, leura-agent), which inventory hosts live here, and the
 * ends of the children's log files.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "gitsrc.h"
#include "up-int.h"
#include "xalloc.h"

bool
up_is_dir(const char *p)
{
	struct stat st;

	return p && *p && stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool
is_exec(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISREG(st.st_mode) &&
	    access(p, X_OK) == 0;
}

/* name in PATH (owned), or NULL. */
static char *
in_path(const char *name)
{
	const char *path = getenv("PATH"), *p, *e;
	char *cand;

	for (p = path ? path : ""; *p; p = *e ? e + 1 : e) {
		e = strchr(p, ':');
		if (e == NULL)
			e = p + strlen(p);
		if (e == p)
			continue;
		cand = lr_xasprintf("%.*s/%s", (int)(e - p), p, name);
		if (is_exec(cand))
			return cand;
		free(cand);
	}
	return NULL;
}

char *
up_find_etcd(void)
{
	char *p;

	if ((p = in_path("etcd")) != NULL)
		return p;
	return is_exec("/usr/bin/etcd") ? lr_xstrdup("/usr/bin/etcd") : NULL;
}

/*
 * This leura's executable, read from /proc/self/exe and from nothing else:
 * argv[0] may name anything, and a PATH lookup finds whichever leura
 * comes first there, maybe another build whose --up-child differs or is
 * missing.  Without it there is no trampoline, and a SIGKILL of leura up
 * would leave etcd and the agents running: fail rather than start them
 * without it.
 */
char *
up_self_exe(struct lr_err *err)
{
	char self[PATH_MAX];
	ssize_t n;
	int e;

	if ((n = readlink("/proc/self/exe", self, sizeof(self))) < 0) {
		e = errno;
		lr_err_set(err, LR_EIO, "cannot read /proc/self/exe (where "
		    "this leura is): %s", strerror(e));
		lr_err_hint(err, "leura up starts etcd and the agents through "
		    "itself (leura --up-child) so that none outlives it; "
		    "it needs /proc mounted");
		return NULL;
	}
	if ((size_t)n >= sizeof(self)) {
		lr_err_set(err, LR_ERANGE, "the path of this leura "
		    "(/proc/self/exe) is longer than %d bytes", PATH_MAX - 1);
		lr_err_hint(err, "run leura up from a shorter path");
		return NULL;
	}
	self[n] = '\0';
	if (!is_exec(self)) {
		lr_err_set(err, LR_ENOENT, "this leura, '%s' "
		    "(/proc/self/exe), is not an executable file", self);
		lr_err_hint(err, "leura up starts etcd and the agents through "
		    "itself (leura --up-child); was leura removed or replaced "
		    "while it started? run leura up again");
		return NULL;
	}
	return lr_xstrdup(self);
}

/* name next to this leura, self_exe (*self_dir), else in PATH. */
static char *
find_daemon(const char *self_exe, const char *name, char **self_dir)
{
	const char *slash = strrchr(self_exe, '/');
	char *p;

	*self_dir = NULL;
	if (slash != NULL) {
		*self_dir = lr_xasprintf("%.*s", (int)(slash - self_exe),
		    self_exe);
		p = lr_xasprintf("%s/%s", *self_dir, name);
		if (is_exec(p))
			return p;
		free(p);
		/* installed: BIN/leura and SBIN/NAME (a daemon) */
		p = lr_xasprintf("%s/../sbin/%s", *self_dir, name);
		if (is_exec(p))
			return p;
		free(p);
	}
	return in_path(name);
}

char *
up_find_agent(const char *self_exe, char **self_dir)
{
	return find_daemon(self_exe, "leura-agent", self_dir);
}

char *
up_find_leurad(const char *self_exe)
{
	char *dir = NULL, *p = find_daemon(self_exe, "leurad", &dir);

	free(dir);
	return p;
}

int
up_git_branch(const char *repo, char **branch)
{
	struct gitsrc_repo *g = NULL;
	struct lr_err err;
	int rc = -1;

	*branch = NULL;
	lr_err_clear(&err);
	if (gitsrc_open(repo, &g, &err) == 0 &&
	    gitsrc_head_branch(g, branch, &err) == 0)
		rc = 0;
	gitsrc_repo_free(g);
	return rc;
}

/* Whether port on 127.0.0.1 can be bound now. */
static bool
port_free(int port, int *got)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int fd, one = 1;
	bool ok;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return false;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)port);
	ok = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &sl) == 0;
	if (ok)
		*got = ntohs(sa.sin_port);
	close(fd);
	return ok;
}

int
up_free_port(int preferred)
{
	int got = 0;

	if (port_free(preferred, &got) || port_free(0, &got))
		return got;
	return -1;
}

/* A file's last lines to stderr, indented: what a dead child said. */
void
up_print_tail(const char *path, int nlines)
{
	struct lr_buf b = LR_BUF_INIT;
	char buf[8192], *line, *nl;
	FILE *fp;
	long sz;
	size_t n, i;
	int seen = 0;

	if ((fp = fopen(path, "rb")) == NULL)
		return;
	fseek(fp, 0, SEEK_END);
	sz = ftell(fp);
	fseek(fp, sz > (long)sizeof(buf) - 1 ? sz - (long)sizeof(buf) + 1 :
	    0, SEEK_SET);
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	while (n && buf[n - 1] == '\n')
		buf[--n] = '\0';
	for (i = n; i > 0; i--)
		if (buf[i - 1] == '\n' && ++seen == nlines)
			break;
	/* a log holds what steps printed: shown, never acted on */
	lr_buf_add_visible(&b, buf + i, n - i, LR_VIS_LINES);
	for (line = b.s; (nl = strchr(line, '\n')) != NULL; line = nl + 1)
		fprintf(stderr, "  | %.*s\n", (int)(nl - line), line);
	fprintf(stderr, "  | %s\n", line);
	lr_buf_release(&b);
}

/* ---- which hosts live here -------------------------------------------- */

static bool
is_loopback(const char *a)
{
	struct in_addr v4;
	struct in6_addr v6;

	if (strcasecmp(a, "localhost") == 0 ||
	    strcasecmp(a, "localhost.localdomain") == 0 ||
	    strcasecmp(a, "ip6-localhost") == 0)
		return true;
	if (inet_pton(AF_INET, a, &v4) == 1)
		return (ntohl(v4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, a, &v6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&v6) ||
		    (IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127);
	return false;
}

/* One of this machine's interface addresses. */
static bool
is_own_address(const char *a)
{
	struct ifaddrs *ifs, *i;
	struct in6_addr v6;
	struct in_addr v4;
	bool found = false;
	int fam;

	if (inet_pton(AF_INET, a, &v4) == 1)
		fam = AF_INET;
	else if (inet_pton(AF_INET6, a, &v6) == 1)
		fam = AF_INET6;
	else
		return false;
	if (getifaddrs(&ifs) != 0)
		return false;
	for (i = ifs; i && !found; i = i->ifa_next) {
		if (i->ifa_addr == NULL || i->ifa_addr->sa_family != fam)
			continue;
		if (fam == AF_INET)
			found = memcmp(&((struct sockaddr_in *)(void *)
			    i->ifa_addr)->sin_addr, &v4, sizeof(v4)) == 0;
		else
			found = memcmp(&((struct sockaddr_in6 *)(void *)
			    i->ifa_addr)->sin6_addr, &v6, sizeof(v6)) == 0;
	}
	freeifaddrs(ifs);
	return found;
}

/* Equal to this machine's host name, with or without its domain. */
static bool
is_hostname(const char *s, const char *me)
{
	size_t n = strcspn(me, ".");

	if (*me == '\0')
		return false;
	return strcasecmp(s, me) == 0 || (strlen(s) == n &&
	    strncasecmp(s, me, n) == 0) || (strncasecmp(s, me, n) == 0 &&
	    s[n] == '.' && strchr(me, '.') == NULL);
}

bool
up_host_is_local(const struct spec_host *h, const char *me)
{
	const char *a = h->address ? h->address : h->name;

	return is_loopback(a) || is_hostname(h->name, me) ||
	    is_hostname(a, me) || is_own_address(a);
}
