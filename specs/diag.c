/*
 * Diagnostics: collected during a load, sorted, printed in the compiler
 * format with the source line and a caret, or as JSON for tools.
 *
 * Input can be absurd (a 5 MB key), and diagnostics quote it: a message or
 * hint is kept to its head and tail around a note of what was cut, a
 * source line to a window around the caret, and each diagnostic reaches
 * the stream in one write (stderr is unbuffered: byte by byte, a 5 MB key
 * took 30 s to print).
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "diag.h"
#include "node.h"
#include "xalloc.h"

/* Messages and hints longer than this keep their head and tail. */
#define TEXT_MAX	400
#define TEXT_TAIL	80
/* Source lines longer than this show a window around the caret. */
#define SRC_MAX		160
#define SRC_BEFORE	60

/* Back p (within s) up to the start of a UTF-8 character. */
static size_t
char_start(const char *s, size_t p)
{
	while (p > 0 && ((unsigned char)s[p] & 0xc0) == 0x80)
		p--;
	return p;
}

/* Take b's text, shortened to about TEXT_MAX bytes; the caller's. */
static char *
shorten(struct lr_buf *b)
{
	struct lr_buf out = LR_BUF_INIT;
	size_t head, tail;

	if (b->len <= TEXT_MAX)
		return lr_buf_detach(b, NULL);
	head = char_start(b->s, TEXT_MAX - TEXT_TAIL);
	tail = char_start(b->s, b->len - TEXT_TAIL);
	lr_buf_add(&out, b->s, head);
	lr_buf_printf(&out, "[... %zu bytes cut ...]", tail - head);
	lr_buf_add(&out, b->s + tail, b->len - tail);
	lr_buf_release(b);
	return lr_buf_detach(&out, NULL);
}

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
	dg->msg = shorten(&b);
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
	dg->hint = shorten(&b);
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

/* The source line and its caret, a window of it when the line is long. */
static void
format_src(const struct spec_diag *dg, struct lr_buf *b)
{
	size_t len = strlen(dg->src), col = (size_t)dg->col - 1, from = 0,
	    to = len, i, w, pad;

	if (len > SRC_MAX) {
		if (col > SRC_BEFORE)
			from = char_start(dg->src, col > len ? len -
			    SRC_BEFORE : col - SRC_BEFORE);
		to = from + SRC_MAX < len ? char_start(dg->src, from +
		    SRC_MAX) : len;
	}
	w = b->len;
	lr_buf_printf(b, "%5d | ", dg->line);
	w = b->len - w - 2;
	if (from > 0)
		lr_buf_adds(b, "...");
	/* tabs in the source would misalign the caret */
	for (i = from; i < to; i++)
		lr_buf_addc(b, dg->src[i] == '\t' ? ' ' : dg->src[i]);
	if (to < len)
		lr_buf_adds(b, "...");
	lr_buf_printf(b, "\n%*s| ", (int)w, "");
	pad = (from > 0 ? 3 : 0) + (col > from ? col - from : 0);
	if (pad > SRC_MAX + 6)
		pad = SRC_MAX + 6;
	for (i = 0; i < pad; i++)
		lr_buf_addc(b, ' ');
	lr_buf_addc(b, '^');
	for (i = 1; i < (size_t)dg->span && i < 80; i++)
		lr_buf_addc(b, '~');
	lr_buf_addc(b, '\n');
}

/* One diagnostic, in one write. */
static void
print_one(const struct spec_diag *dg, FILE *fp)
{
	const char *sev = dg->sev == SPEC_ERROR ? "error" : "warning";
	struct lr_buf b = LR_BUF_INIT;

	if (dg->path[0] && dg->line > 0)
		lr_buf_printf(&b, "%s:%d:%d: %s: %s\n", dg->path, dg->line,
		    dg->col, sev, dg->msg);
	else if (dg->path[0])
		lr_buf_printf(&b, "%s: %s: %s\n", dg->path, sev, dg->msg);
	else
		lr_buf_printf(&b, "%s: %s\n", sev, dg->msg);
	if (dg->src && dg->col > 0)
		format_src(dg, &b);
	if (dg->hint)
		lr_buf_printf(&b, "hint: %s\n", dg->hint);
	fwrite(b.s, 1, b.len, fp);
	fflush(fp);
	lr_buf_release(&b);
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
