/*
 * What `leura up` (up.c) needs of this machine (up_local.c).  Private to
 * the two.
 */
#ifndef LEURA_UP_INT_H
#define LEURA_UP_INT_H

#include <stdbool.h>

#include "err.h"
#include "spec.h"

/* Whether p is a folder. */
bool	up_is_dir(const char *p);
/* The last nlines lines of a file, indented, to stderr: what a child said. */
void	up_print_tail(const char *path, int nlines);

/* etcd in PATH or at /usr/bin/etcd (owned), or NULL. */
char	*up_find_etcd(void);
/*
 * This leura's executable (owned): what children start in (leura
 * --up-child).  NULL with err set (what failed, a hint) when it cannot be
 * found: leura up starts nothing then.
 */
char	*up_self_exe(struct lr_err *err);
/*
 * leura-agent next to self_exe (this leura), else in PATH (owned), or
 * NULL; *self_dir (owned, may be NULL): the folder of self_exe.
 */
char	*up_find_agent(const char *self_exe, char **self_dir);
/* leurad, looked for as leura-agent is (owned), or NULL. */
char	*up_find_leurad(const char *self_exe);
/*
 * Whether repo is in a git repository (leurad's --source then): 0 and
 * *branch (owned), the branch its HEAD is on, NULL when detached; -1
 * when it is in none (or its HEAD cannot be read).
 */
int	up_git_branch(const char *repo, char **branch);
/*
 * A TCP port of 127.0.0.1 free now: preferred if it is, else one the
 * kernel picks; -1 when none can be bound.
 */
int	up_free_port(int preferred);

/*
 * The bundled example (owned; up_example.c): BIN/../share/leura/examples/
 * basic relative to self_exe (*installed: true), else the source tree's
 * (LEURA_EXAMPLE_DIR), else NULL.
 */
char	*up_find_example(const char *self_exe, bool *installed);
/*
 * The config repo for an installed example (owned): STATE/example, a git
 * repository holding a copy of example in one commit, made now (*made)
 * if missing; NULL with err set.
 */
char	*up_example_repo(const char *state, const char *example, bool *made,
	    struct lr_err *err);

/*
 * Whether host h lives on this machine (me: its host name): a loopback
 * address, one of its interfaces' addresses, or its host name.
 */
bool	up_host_is_local(const struct spec_host *h, const char *me);

#endif
