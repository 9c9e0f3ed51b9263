/*
 * Typed getters for jansson objects (json.h).
 */
#include "json.h"

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
