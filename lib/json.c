/*
 * Typed getters and setters for jansson objects (json.h).
 */
#include <stdlib.h>
#include <string.h>
#include "json.h"
#include "xalloc.h"

const char *
lr_json_str(const json_t *o, const char *k)
{
	const char *s = lr_json_strn(o, k);

	return s ? s : "";
}

const char *
lr_json_strn(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

int64_t
lr_json_int(const json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

bool
lr_json_bool(const json_t *o, const char *k)
{
	return json_is_true(json_object_get(o, k));
}

void
lr_json_set_str(json_t *o, const char *k, const char *s)
{
	if (s != NULL)
		json_object_set_new(o, k, json_string(s));
}

void
lr_json_set_int(json_t *o, const char *k, int64_t v)
{
	json_object_set_new(o, k, json_integer((json_int_t)v));
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char **
lr_json_keys(const json_t *o, bool sorted, size_t *n)
{
	const char **keys = lr_xcalloc(json_object_size(o) + 1,
	    sizeof(*keys));
	const char *k;
	json_t *v;

	*n = 0;
	json_object_foreach((json_t *)o, k, v)
		keys[(*n)++] = k;
	if (sorted)
		qsort(keys, *n, sizeof(*keys), cmp_str);
	return keys;
}
