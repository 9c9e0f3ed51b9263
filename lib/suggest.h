/*
 * "Did you mean ...?" suggestions by edit distance.
 */
#ifndef LR_SUGGEST_H
#define LR_SUGGEST_H

#include <stddef.h>

/* Damerau-Levenshtein (optimal string alignment) distance of a and b. */
size_t		 lr_edit_distance(const char *a, const char *b);
/*
 * The candidate closest to word, or NULL when none is close enough
 * (distance <= max(1, len/3), or word is a prefix of it).  Borrowed from
 * cands.
 */
const char	*lr_suggest(const char *word, const char *const *cands,
		    size_t ncands);

#endif
