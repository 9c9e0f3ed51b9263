/*
 * Typed getters and setters for jansson objects: what every document
 * codec and report reader does.  The getters borrow from o and never fail:
 * a missing key or a value of another type reads as the zero value.
 */
#ifndef LR_JSON_H
#define LR_JSON_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

/* o[k] as a string; "" when absent or not a string (borrowed from o). */
const char	*lr_json_str(const json_t *o, const char *k);
/* o[k] as a string; NULL when absent or not a string (borrowed from o). */
const char	*lr_json_strn(const json_t *o, const char *k);
/* o[k] as an integer; 0 when absent or not an integer. */
int64_t		 lr_json_int(const json_t *o, const char *k);
/* o[k] is JSON true. */
bool		 lr_json_bool(const json_t *o, const char *k);

/* o[k] = s (copied); nothing when s is NULL. */
void		 lr_json_set_str(json_t *o, const char *k, const char *s);
/* o[k] = v. */
void		 lr_json_set_int(json_t *o, const char *k, int64_t v);

/*
 * The keys of object o (none when o is not one), sorted by strcmp when
 * sorted, *n of them: a new array the caller frees, NULL-terminated; the
 * keys are borrowed from o.
 */
const char	**lr_json_keys(const json_t *o, bool sorted, size_t *n);

#endif
