/*
 * Spec diagnostics: positioned errors in the compiler format
 *
 *   services.yml:14:5: error: unknown key 'num_instance' in service 'web'
 *      14 |     num_instance: 3
 *         |     ^~~~~~~~~~~~
 *   hint: did you mean 'num_instances'?
 *
 * One run collects every problem; the printer shows them sorted by
 * position.  Paths are relative to the repo root.
 */
#ifndef SPEC_DIAG_H
#define SPEC_DIAG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

struct spec_file;
struct spec_node;

enum spec_severity { SPEC_ERROR, SPEC_WARNING };

struct spec_diag {
	enum spec_severity sev;
	char	*path;		/* owned; repo-relative; may be "" */
	int	 line, col;	/* 1-based; 0 when unknown */
	int	 span;		/* columns to underline; >= 1 */
	char	*msg;		/* owned */
	char	*hint;		/* owned; NULL when none */
	char	*src;		/* owned copy of the source line; NULL */
};

struct spec_diags {
	struct spec_diag *v;
	size_t	 n, cap;
	size_t	 nerrors;
};

void	spec_diags_init(struct spec_diags *d);
void	spec_diags_release(struct spec_diags *d);

/*
 * Add an error at node (which may be NULL: no position).  Returns the new
 * diagnostic (borrowed, valid until the next add) so a hint can be set.
 */
struct spec_diag *spec_diag_at(struct spec_diags *d, const struct spec_node *n,
	    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Add an error at an explicit position of a file (file may be NULL). */
struct spec_diag *spec_diag_pos(struct spec_diags *d,
	    const struct spec_file *f, const char *path, int line, int col,
	    int span, const char *fmt, ...)
	    __attribute__((format(printf, 7, 8)));
/* Set (replace) the hint of dg. */
void	spec_diag_hint(struct spec_diag *dg, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/* Sort by path, line, col, message and drop exact duplicates. */
void	spec_diags_sort(struct spec_diags *d);
/*
 * Print every diagnostic (max > 0 limits how many; the rest are counted in
 * a final line).  Returns the number of errors.
 */
size_t	spec_diags_print(const struct spec_diags *d, FILE *fp, size_t max);
/* [{"path","line","col","severity","message","hint"}], new reference. */
json_t	*spec_diags_to_json(const struct spec_diags *d);

#endif
