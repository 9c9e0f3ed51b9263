/*
 * Diagnostics: collected during a load, sorted, printed in the compiler
 * format with the source line and a caret, or as JSON for tools.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "diag.h"
#include "node.h"
#include "xalloc.h"

void
spec_diags_init(struct spec_diags *d)
{
	memset(d, 0, sizeof(*d));
}

void
spec_diags_release(struct spec_diags *d)
{
	size_t i;

	for (i = 0; i < d->n; i++) {
		free(d->v[i].path);
		free(d->v[i].msg);
		free(d->v[i].hint);
		free(d->v[i].src);
	}
	free(d->v);
	spec_diags_init(d);
}

static struct spec_diag *
vadd(struct spec_diags *d, enum spec_severity sev, const struct spec_file *f,
    const char *path, int line, int col, int span, const char *fmt,
    va_list ap)
{
	struct spec_diag *dg;
	struct lr_buf b = LR_BUF_INIT;
	const char *src;
	size_t len;

	dg = LR_ARRAY_PUSH(d->v, d->n, d->cap);
	memset(dg, 0, sizeof(*dg));
	dg->sev = sev;
	dg->path = lr_xstrdup(path ? path : (f ? f->path : ""));
	dg->line = line;
	dg->col = col;
	dg->span = span > 0 ? span : 1;
	lr_buf_vprintf(&b, fmt, ap);
	dg->msg = lr_buf_detach(&b, NULL);
	if (f && line > 0 && (src = spec_file_line(f, line, &len)) != NULL)
		dg->src = lr_xstrndup(src, len);
	if (sev == SPEC_ERROR)
		d->nerrors++;
	return dg;
}

struct spec_diag *
spec_diag_at(struct spec_diags *d, const struct spec_node *n,
    const char *fmt, ...)
{
	struct spec_diag *dg;
	va_list ap;

	va_start(ap, fmt);
	dg = vadd(d, SPEC_ERROR, n ? n->file : NULL, NULL, n ? n->line : 0,
	    n ? n->col : 0, n ? n->span : 1, fmt, ap);
	va_end(ap);
	return dg;
}

struct spec_diag *
spec_diag_pos(struct spec_diags *d, const struct spec_file *f,
    const char *path, int line, int col, int span, const char *fmt, ...)
{
	struct spec_diag *dg;
	va_list ap;

	va_start(ap, fmt);
	dg = vadd(d, SPEC_ERROR, f, path, line, col, span, fmt, ap);
	va_end(ap);
	return dg;
}

void
spec_diag_hint(struct spec_diag *dg, const char *fmt, ...)
{
	struct lr_buf b = LR_BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	lr_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	free(dg->hint);
	dg->hint = lr_buf_detach(&b, NULL);
}

static int
cmp_diag(const void *a, const void *b)
{
	const struct spec_diag *x = a, *y = b;
	int c;

	if ((c = strcmp(x->path, y->path)) != 0)
		return c;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->col != y->col)
		return x->col < y->col ? -1 : 1;
	return strcmp(x->msg, y->msg);
}

void
spec_diags_sort(struct spec_diags *d)
{
	size_t i, j;

	if (d->n < 2)
		return;
	qsort(d->v, d->n, sizeof(*d->v), cmp_diag);
	for (i = 1, j = 1; i < d->n; i++) {
		if (cmp_diag(&d->v[i], &d->v[j - 1]) == 0) {
			if (d->v[i].sev == SPEC_ERROR)
				d->nerrors--;
			free(d->v[i].path);
			free(d->v[i].msg);
			free(d->v[i].hint);
			free(d->v[i].src);
			continue;
		}
		d->v[j++] = d->v[i];
	}
	d->n = j;
}

static void
print_one(const struct spec_diag *dg, FILE *fp)
{
	const char *sev = dg->sev == SPEC_ERROR ? "error" : "warning";
	int i, w;

	if (dg->path[0] && dg->line > 0)
		fprintf(fp, "%s:%d:%d: %s: %s\n", dg->path, dg->line, dg->col,
		    sev, dg->msg);
	else if (dg->path[0])
		fprintf(fp, "%s: %s: %s\n", dg->path, sev, dg->msg);
	else
		fprintf(fp, "%s: %s\n", sev, dg->msg);
	if (dg->src && dg->col > 0) {
		w = fprintf(fp, "%5d | ", dg->line) - 2;
		/* tabs in the source would misalign the caret */
		for (i = 0; dg->src[i]; i++)
			fputc(dg->src[i] == '\t' ? ' ' : dg->src[i], fp);
		fprintf(fp, "\n%*s| ", w, "");
		for (i = 1; i < dg->col; i++)
			fputc(' ', fp);
		fputc('^', fp);
		for (i = 1; i < dg->span && i < 80; i++)
			fputc('~', fp);
		fputc('\n', fp);
	}
	if (dg->hint)
		fprintf(fp, "hint: %s\n", dg->hint);
}

size_t
spec_diags_print(const struct spec_diags *d, FILE *fp, size_t max)
{
	size_t i, shown = 0, nerr = 0, nwarn = 0;

	for (i = 0; i < d->n; i++) {
		if (d->v[i].sev == SPEC_ERROR)
			nerr++;
		else
			nwarn++;
		if (max && shown >= max)
			continue;
		print_one(&d->v[i], fp);
		shown++;
	}
	if (shown < d->n)
		fprintf(fp, "... and %zu more (%zu errors, %zu warnings in "
		    "all); see them all with --max-errors=0\n", d->n - shown,
		    nerr, nwarn);
	return nerr;
}

json_t *
spec_diags_to_json(const struct spec_diags *d)
{
	json_t *a = json_array(), *o;
	size_t i;

	for (i = 0; i < d->n; i++) {
		const struct spec_diag *dg = &d->v[i];

		o = json_pack("{s:s, s:i, s:i, s:s, s:s}", "path", dg->path,
		    "line", dg->line, "col", dg->col, "severity",
		    dg->sev == SPEC_ERROR ? "error" : "warning", "message",
		    dg->msg);
		if (dg->hint)
			json_object_set_new(o, "hint", json_string(dg->hint));
		json_array_append_new(a, o);
	}
	return a;
}
