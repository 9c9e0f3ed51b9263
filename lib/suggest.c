/*
 * Edit distance for hints.  Inputs are short (keys, names), so the O(n*m)
 * table on the stack or heap is fine.
 */
#include <stdlib.h>
#include <string.h>

#include "suggest.h"
#include "xalloc.h"

static size_t
min3(size_t a, size_t b, size_t c)
{
	size_t m = a < b ? a : b;

	return m < c ? m : c;
}

size_t
lr_edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j, w, d;
	size_t *t;

	w = lb + 1;
	t = lr_xmalloc((la + 1) * w * sizeof(*t));
	for (i = 0; i <= la; i++)
		t[i * w] = i;
	for (j = 0; j <= lb; j++)
		t[j] = j;
	for (i = 1; i <= la; i++) {
		for (j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;

			t[i * w + j] = min3(t[(i - 1) * w + j] + 1,
			    t[i * w + j - 1] + 1, t[(i - 1) * w + j - 1] + cost);
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] &&
			    t[(i - 2) * w + j - 2] + 1 < t[i * w + j])
				t[i * w + j] = t[(i - 2) * w + j - 2] + 1;
		}
	}
	d = t[la * w + lb];
	free(t);
	return d;
}

const char *
lr_suggest(const char *word, const char *const *cands, size_t ncands)
{
	const char *best = NULL;
	size_t bestd = (size_t)-1, len, limit, i, d;

	len = strlen(word);
	limit = len / 3 > 1 ? len / 3 : 1;
	if (limit > 3)
		limit = 3;
	for (i = 0; i < ncands; i++) {
		if (cands[i] == NULL)
			continue;
		if (len >= 3 && strncmp(cands[i], word, len) == 0 &&
		    strlen(cands[i]) > len) {
			d = strlen(cands[i]) - len;
			if (d > limit && d < bestd) {
				/* a prefix match beats a distant one */
				bestd = limit;
				best = cands[i];
				continue;
			}
		}
		/*
		 * The distance is at least the difference in length: skip the
		 * table, (len + 1) * (strlen + 1) words, for a word far longer
		 * than every candidate (a 5 MB key took 600 MB a candidate).
		 */
		d = strlen(cands[i]);
		if ((d > len ? d - len : len - d) > limit)
			continue;
		d = lr_edit_distance(word, cands[i]);
		if (d <= limit && d < bestd) {
			bestd = d;
			best = cands[i];
		}
	}
	return best;
}
