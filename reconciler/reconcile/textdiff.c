/*
 * rec_textdiff: unified diffs of configuration-sized texts.
 *
 * Common leading and trailing lines are trimmed first (most edits touch a
 * few lines), then the middle is aligned with the classic longest-common-
 * subsequence table, bounded so a huge rewrite cannot take quadratic
 * memory: past the bound the middle is shown as removed then added.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "textdiff.h"
#include "xalloc.h"

#define TD_CONTEXT	3
#define TD_MAX_CELLS	(4u * 1024 * 1024)

struct line {
	const char *s;
	size_t	 len;		/* without the newline */
};

/* Split text into lines; *n lines, array is the caller's. */
static struct line *
split(const char *text, size_t *n)
{
	struct line *v = NULL, *l;
	size_t nv = 0, cap = 0;
	const char *p = text, *nl;

	while (*p) {
		nl = strchr(p, '\n');
		l = LR_ARRAY_PUSH(v, nv, cap);
		l->s = p;
		l->len = nl ? (size_t)(nl - p) : strlen(p);
		p = nl ? nl + 1 : p + l->len;
	}
	*n = nv;
	return v;
}

static bool
same(const struct line *x, const struct line *y)
{
	return x->len == y->len && memcmp(x->s, y->s, x->len) == 0;
}

/* One edit: ' ' keep, '-' remove (a[i]), '+' add (b[j]). */
struct op {
	char	 kind;
	size_t	 i, j;		/* line indexes in a and b at this op */
};

/* Edit script of a[lo..ahi) vs b[lo..bhi) appended to ops. */
static void
align(const struct line *a, size_t alo, size_t ahi, const struct line *b,
    size_t blo, size_t bhi, struct op **ops, size_t *nops, size_t *cap)
{
	size_t n = ahi - alo, m = bhi - blo, i, j;
	uint32_t *t;

	if ((uint64_t)(n + 1) * (m + 1) > TD_MAX_CELLS) {
		for (i = alo; i < ahi; i++)
			*LR_ARRAY_PUSH(*ops, *nops, *cap) =
			    (struct op){ '-', i, blo };
		for (j = blo; j < bhi; j++)
			*LR_ARRAY_PUSH(*ops, *nops, *cap) =
			    (struct op){ '+', ahi, j };
		return;
	}
	/* t[i][j]: LCS length of a[alo+i..ahi) and b[blo+j..bhi) */
	t = lr_xcalloc((n + 1) * (m + 1), sizeof(*t));
	for (i = n; i-- > 0;)
		for (j = m; j-- > 0;)
			t[i * (m + 1) + j] = same(&a[alo + i], &b[blo + j]) ?
			    t[(i + 1) * (m + 1) + j + 1] + 1 :
			    t[(i + 1) * (m + 1) + j] > t[i * (m + 1) + j + 1] ?
			    t[(i + 1) * (m + 1) + j] : t[i * (m + 1) + j + 1];
	i = j = 0;
	while (i < n || j < m) {
		if (i < n && j < m && same(&a[alo + i], &b[blo + j])) {
			*LR_ARRAY_PUSH(*ops, *nops, *cap) =
			    (struct op){ ' ', alo + i, blo + j };
			i++, j++;
		} else if (j == m || (i < n && t[(i + 1) * (m + 1) + j] >=
		    t[i * (m + 1) + j + 1])) {
			*LR_ARRAY_PUSH(*ops, *nops, *cap) =
			    (struct op){ '-', alo + i, blo + j };
			i++;
		} else {
			*LR_ARRAY_PUSH(*ops, *nops, *cap) =
			    (struct op){ '+', alo + i, blo + j };
			j++;
		}
	}
	free(t);
}

static void
emit_line(struct lr_buf *out, const char *indent, char kind,
    const struct line *l)
{
	lr_buf_adds(out, indent);
	lr_buf_addc(out, kind);
	lr_buf_add(out, l->s, l->len);
	lr_buf_addc(out, '\n');
}

void
rec_textdiff(const char *a, const char *b, const char *indent,
    struct lr_buf *out)
{
	struct line *la, *lb;
	struct op *ops = NULL;
	size_t na, nb, pre = 0, suf = 0, nops = 0, cap = 0, k, s, e, x;
	size_t ai, bi, acount, bcount;

	if (strcmp(a, b) == 0)
		return;
	la = split(a, &na);
	lb = split(b, &nb);
	while (pre < na && pre < nb && same(&la[pre], &lb[pre]))
		pre++;
	while (suf < na - pre && suf < nb - pre &&
	    same(&la[na - 1 - suf], &lb[nb - 1 - suf]))
		suf++;
	for (k = 0; k < pre; k++)
		*LR_ARRAY_PUSH(ops, nops, cap) = (struct op){ ' ', k, k };
	align(la, pre, na - suf, lb, pre, nb - suf, &ops, &nops, &cap);
	for (k = 0; k < suf; k++)
		*LR_ARRAY_PUSH(ops, nops, cap) =
		    (struct op){ ' ', na - suf + k, nb - suf + k };

	/* hunks: runs of changes with up to TD_CONTEXT lines around them */
	for (k = 0; k < nops;) {
		if (ops[k].kind == ' ') {
			k++;
			continue;
		}
		s = k > TD_CONTEXT ? k - TD_CONTEXT : 0;
		/* extend while the next change is within 2 * context */
		e = k;
		for (x = k; x < nops; x++) {
			if (ops[x].kind != ' ')
				e = x;
			else if (x - e > 2 * TD_CONTEXT)
				break;
		}
		e = e + TD_CONTEXT + 1 < nops ? e + TD_CONTEXT + 1 : nops;
		ai = ops[s].i;
		bi = ops[s].j;
		for (acount = bcount = 0, x = s; x < e; x++) {
			acount += ops[x].kind != '+';
			bcount += ops[x].kind != '-';
		}
		lr_buf_printf(out, "%s@@ -%zu,%zu +%zu,%zu @@\n", indent,
		    acount ? ai + 1 : ai, acount, bcount ? bi + 1 : bi,
		    bcount);
		for (x = s; x < e; x++)
			emit_line(out, indent, ops[x].kind, ops[x].kind == '+' ?
			    &lb[ops[x].j] : &la[ops[x].i]);
		k = e;
	}
	free(ops);
	free(la);
	free(lb);
}
