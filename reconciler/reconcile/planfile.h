/*
 * Saved plans: `leura plan -o FILE` writes one, `leura apply FILE`
 * applies exactly it.  A saved plan is a JSON document that pins what an
 * apply may do: the commit (and its tree, in which folder of the git
 * repository), the etcd prefix and the revision of the commit marker the
 * plan saw (what --expect-revision takes), leura's version, and the
 * digest of what would be written (rec_plan_digest, deploy.h).  The apply
 * compiles the commit again and refuses when any of them moved.  The
 * format (docs/man/leura-plan.1.md, SAVED PLANS) has one home: here.
 * Nothing here prints.
 */
#ifndef REC_PLANFILE_H
#define REC_PLANFILE_H

#include <stdint.h>

#include <jansson.h>

#include "deploy.h"
#include "err.h"

#define REC_PLANFILE_FORMAT	"leura-plan"
#define REC_PLANFILE_VERSION	1
/* Larger files are refused unread (a plan of a big fleet is far less). */
#define REC_PLANFILE_MAX	(256u << 20)

/* What a plan saw, to save. */
struct rec_planfile_info {
	const char *commit;	/* full id */
	const char *ref;	/* as the user named it */
	const char *tree;	/* the config repo's tree in commit */
	const char *path;	/* its folder in the git repository ("") */
	const char *fleet;	/* leura.yml's name, or NULL */
	const char *prefix;	/* etcd key prefix */
	const char *digest;	/* rec_plan_digest */
	int64_t	 revision;	/* head_rev the plan saw (0: none) */
	const json_t *from;	/* {"deploy","commit"} applied, or NULL */
	const json_t *plan;	/* the plan (rec_diff), borrowed */
	int64_t	 writes;	/* documents to write */
	const json_t *uncommitted;	/* paths left out (array) */
};

/* A saved plan as read; every pointer borrowed from doc. */
struct rec_planfile {
	json_t	*doc;		/* owned */
	const char *commit, *ref, *tree, *path, *prefix, *digest, *leura;
	const char *fleet;	/* NULL when the plan had none */
	int64_t	 revision;
	int64_t	 writes;
};

/* The document (new reference), with leura's version and the time. */
json_t	*rec_planfile_encode(const struct rec_planfile_info *in);

/*
 * Write doc to file, replacing it atomically (lr_file_replace), mode 0600:
 * the plan holds rendered scripts and fields, which may carry what the
 * vars give them.  0 or LR_EIO with err set.
 */
int	rec_planfile_save(const char *file, const json_t *doc,
	    struct lr_err *err);

/*
 * Read and check file: not readable, not JSON (truncated), not a plan,
 * another format version, or a field missing or malformed: LR_EINVAL
 * (LR_EIO, LR_ENOENT when it cannot be read) with err saying which and
 * what to do.  out is filled on success only; release it either way.
 */
int	rec_planfile_load(const char *file, struct rec_planfile *out,
	    struct lr_err *err);
void	rec_planfile_release(struct rec_planfile *pf);

/*
 * Before deploying pf (file names it in messages): the prefix it was
 * made for is prefix, its folder is g's, this leura made it, and its
 * commit is in g.  LR_ECONFLICT (LR_EINVAL for a commit not found) with
 * err naming what differs and what to do.
 */
int	rec_planfile_check(const struct rec_planfile *pf, const char *file,
	    const struct rec_git *g, const char *prefix, struct lr_err *err);
/*
 * After rec_deploy_plan of pf's commit: d writes what pf says
 * (d->digest is pf's digest), else LR_ECONFLICT.
 */
int	rec_planfile_check_digest(const struct rec_planfile *pf,
	    const char *file, const struct rec_deploy *d, struct lr_err *err);

#endif
