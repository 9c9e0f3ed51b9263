/*
 * Line diffs of two texts as unified-diff hunks, for `leura plan` to show
 * what changes inside a file or a script.  Pure: no I/O.
 */
#ifndef REC_TEXTDIFF_H
#define REC_TEXTDIFF_H

#include "buf.h"

/*
 * Append the hunks ("@@ -l,n +l,n @@", then ' ', '-', '+' lines, 3 lines
 * of context) of a -> b to out, each line prefixed with indent.  Texts
 * whose changed middle is too large for the quadratic alignment (more than
 * about 4M line pairs) are shown as the old lines removed and the new ones
 * added.  Appends nothing when the texts are equal.
 */
void	rec_textdiff(const char *a, const char *b, const char *indent,
	    struct lr_buf *out);

#endif
