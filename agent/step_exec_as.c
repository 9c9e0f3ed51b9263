/*
 * The run_as trampoline, `leura-agent --exec-as USER -- PROG ARGS...`: a
 * process of its own between uv_spawn (which set the session, the working
 * folder, the environment and stdio, as root) and the step's command.  It
 * exists because libuv's own uid/gid options drop the supplementary groups
 * instead of taking the user's.  Kept apart from the agent's loop code: it
 * is the one place that switches users.
 */
#include <sys/types.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "step.h"
#include "xalloc.h"

int
agent_step_exec_as_main(int argc, char **argv)
{
	struct passwd *pw;
	char *name, *home, *shell;
	uid_t uid;
	gid_t gid;

	if (argc < 3 || strcmp(argv[1], "--") != 0) {
		fprintf(stderr, "usage: leura-agent --exec-as USER -- PROG "
		    "[ARG...]\n");
		return 127;
	}
	errno = 0;
	if ((pw = getpwnam(argv[0])) == NULL) {
		fprintf(stderr, "leura-agent: error: --exec-as: no user '%s'"
		    "%s%s\n", argv[0], errno ? ": " : "",
		    errno ? strerror(errno) : "");
		return 127;
	}
	/* initgroups may reuse getpwnam's static storage */
	name = lr_xstrdup(pw->pw_name);
	home = lr_xstrdup(pw->pw_dir);
	shell = lr_xstrdup(pw->pw_shell);
	uid = pw->pw_uid;
	gid = pw->pw_gid;
	if (initgroups(name, gid) < 0 || setgid(gid) < 0 || setuid(uid) < 0) {
		fprintf(stderr, "leura-agent: error: --exec-as: cannot become "
		    "'%s': %s\n", name, strerror(errno));
		goto fail;
	}
	if (uid != 0 && (setuid(0) == 0 || geteuid() == 0)) {
		fprintf(stderr, "leura-agent: error: --exec-as: root "
		    "privileges remain after switching to '%s'\n", name);
		goto fail;
	}
	if (setenv("HOME", home, 1) < 0 || setenv("USER", name, 1) < 0 ||
	    setenv("LOGNAME", name, 1) < 0 || setenv("SHELL", shell[0] ?
	    shell : "/bin/sh", 1) < 0) {
		fprintf(stderr, "leura-agent: error: --exec-as: %s\n",
		    strerror(errno));
		goto fail;
	}
	/* the working folder was set by uv_spawn, as root, before this */
	execvp(argv[2], argv + 2);
	fprintf(stderr, "leura-agent: error: --exec-as: cannot run '%s': %s\n",
	    argv[2], strerror(errno));
fail:
	free(name);
	free(home);
	free(shell);
	return 127;
}
