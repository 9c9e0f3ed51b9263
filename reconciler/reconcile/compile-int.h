/*
 * Private to rec_compile (compile.c, render.c, steps.c): the state of one
 * compile and the functions the three files call in each other.
 *
 * compile.c drives: group membership, placement, service order, task
 * schedules, then the syntax check and the steps.  render.c builds host
 * contexts, renders templates and reads repo files.  steps.c compiles
 * steps per host.  Each function adds its diagnostics to c->diags and
 * counts them in c->nerr.
 */
#ifndef REC_COMPILE_INT_H
#define REC_COMPILE_INT_H

#include <stdbool.h>

#include "buf.h"
#include "compile.h"
#include "scheduler.h"
#include "template.h"

/*
 * Parsed templates by the address of their text.  Every text rendered is
 * a string of the repo model or of the file cache, which outlive the
 * compile, and is rendered for many services and hosts: parsed once, its
 * expressions are not looked for again at every render.
 */
struct tmpl_cache {
	const char **key;
	struct spec_tmpl **val;
	size_t	 n, mask;	/* mask + 1 slots, a power of two */
};

struct compile {
	const struct spec_repo *repo;
	unsigned flags;
	struct spec_diags *diags;
	int	 nerr;
	json_t	*seen;		/* template diagnostics already reported */
	/*
	 * Per host: its groups (indices, sorted) are hgroup[hfirst[h] ..
	 * hfirst[h + 1]); the vars layers of build_host_ctx() come from
	 * them.  Its effective vars and its "host" object are built when a
	 * template is first rendered for it.
	 */
	size_t	*hfirst, *hgroup;
	const json_t *allvars;	/* vars of group 'all', or NULL */
	json_t	**hvars;	/* effective vars, or NULL */
	json_t	**hobj;		/* "host" of the context, or NULL */
	json_t	**hname;	/* its name as a JSON string */
	json_t	**gname;	/* per group: its name as a JSON string */
	json_t	*ctx;		/* the template context, reused */
	void	*ctx_host, *ctx_params, *ctx_service;	/* its members */
	bool	**role_hv;	/* per role: step_uses_host_vars(), or NULL */
	size_t	*hshape;	/* per host: id of the skeleton of its vars */
	size_t	 nshapes;
	size_t	**members;	/* per group: host indices */
	size_t	*nmembers;
	struct sched_result sres;
	size_t	*order;		/* service indices, dependencies first */
	json_t	*services_ctx;	/* {"svc":{"hosts":[...]}} */
	json_t	*file_cache;	/* path -> {"sha256","size","content"} */
	struct tmpl_cache tmpls;
	struct lr_buf buf;
	struct rec_compiled *out;
};

/*
 * Where a text of a step was written: node[path[0]][path[1]]...  Texts
 * are rendered many times and their nodes are needed only for messages,
 * so the lookup waits for one.  A NULL node: the text is a file's.
 */
struct where {
	const struct spec_node *node;
	const char *path[3];	/* keys, up to the first NULL */
};

/* compile.c */
/*
 * A compile state for repo: group members and host contexts, no
 * placement (rec_compile adds it; task.c renders task steps with a
 * state of its own).  out and diags are borrowed.
 */
void	 rec_compile_state_init(struct compile *c,
	    const struct spec_repo *repo, unsigned flags,
	    struct rec_compiled *out, struct spec_diags *diags);
void	 rec_compile_state_release(struct compile *c);
/* Index of group name in the repo's sorted groups, or (size_t)-1. */
size_t	 rec_group_index(const struct spec_repo *r, const char *name);

/* render.c: host contexts */
/* Each host's groups as indices (after the members of each group). */
void	 rec_build_host_ctx(struct compile *c);
/* The id of each host's vars skeleton, for validation (see compile.c). */
void	 rec_build_shapes(struct compile *c);
/* The effective value of var on host h, or NULL; borrowed. */
const json_t *rec_host_var(const struct compile *c, size_t h,
	    const char *var);
/* The "host" member of host h's template context; borrowed (c keeps it). */
json_t	*rec_host_obj(struct compile *c, size_t h);

/* render.c: templates */
/* 1 when n is a quoted scalar: its text starts one column after it. */
int	 rec_col_offset(const struct spec_node *n);
/*
 * Report a template error at its position: in a YAML scalar (node) or in
 * a template file (fpath with its content text); once per position and
 * message.  host: the host rendered for, or NULL.
 */
void	 rec_tmpl_error(struct compile *c, const struct spec_node *n,
	    const char *fpath, const char *text,
	    const struct spec_tmpl_error *e, const char *host);
void	 rec_tmpl_cache_release(struct tmpl_cache *tc);
/*
 * Render text written at w (or in file fpath) with ctx.  Returns the
 * result, borrowed until the next render (text itself when it has no
 * "{{"), or NULL after reporting the error.
 */
const char *rec_render(struct compile *c, const char *text,
	    struct where w, const char *fpath, const json_t *ctx,
	    const char *host);
/* s when NULL or absolute; else reports it (once per field) and NULL. */
const char *rec_check_abs(struct compile *c, const char *s,
	    struct where w, const char *field, const char *host);

/* render.c: files */
/*
 * The raw content of repo file path, cached in c: {"content","size"}, or
 * {"sha256","size","binary","bytes"} when not UTF-8; null when it cannot
 * be read (reported).  Borrowed.
 */
const json_t *rec_file_raw(struct compile *c, const char *path);
/* The "sha256" of a rec_file_raw() object, computed on first use. */
json_t	*rec_file_sha256(json_t *raw);
/* Hash content into step's "sha256"/"size" and add it to the files. */
void	 rec_add_file(struct compile *c, json_t *step, const char *content,
	    size_t len);

/* steps.c */
/*
 * One step rendered for host with ctx, as the agent reads it; with svc
 * NULL (a task's step) without "id", "service" and "role", which the
 * caller sets.  Errors are reported into c (the result is then partial).
 */
json_t	*rec_compile_step(struct compile *c, const struct spec_step *st,
	    const char *svc, const char *role, const json_t *ctx,
	    const char *host);
/* Every placed service's steps, per host, into c->out->desired. */
void	 rec_compile_services(struct compile *c);
/* Template syntax of every step of every role and task, placed or not. */
void	 rec_check_syntax(struct compile *c);

#endif
