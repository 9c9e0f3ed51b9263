/*
 * tjson: a tiny JSON query for the agent tests (jq is not a dependency).
 *
 *   tjson EXPR < doc.json
 *
 * EXPR is a path: `.key`, `[N]` (array index), `[*]` (every element),
 * `[field=value]` (the first element whose member field is the string
 * value, or the number or boolean written so), optionally followed by
 * `|length` (size of an array or object, length of a string) or `|keys`
 * (an object's keys, one per line).  Keys run to the next `.`, `[` or `|`.
 * Example: `.steps[id=web/web/converge/site config].status`.
 *
 * Prints each result on its own line: strings raw, everything else as
 * compact JSON.  Exit 0 when something matched, 1 when nothing did (a
 * missing key, an index out of range), 2 on bad input or usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

static int	walk(json_t *v, const char *p, const char *post);

static void
print(json_t *v, const char *post)
{
	const char *k;
	json_t *x;
	char *s;

	if (post != NULL && strcmp(post, "length") == 0) {
		if (json_is_string(v))
			printf("%zu\n", json_string_length(v));
		else if (json_is_array(v))
			printf("%zu\n", json_array_size(v));
		else if (json_is_object(v))
			printf("%zu\n", json_object_size(v));
		else
			printf("0\n");
		return;
	}
	if (post != NULL && strcmp(post, "keys") == 0) {
		json_object_foreach(v, k, x)
			printf("%s\n", k);
		return;
	}
	if (json_is_string(v)) {
		printf("%s\n", json_string_value(v));
		return;
	}
	s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	printf("%s\n", s ? s : "");
	free(s);
}

/* Whether element e has member field equal to value (as text). */
static int
matches(json_t *e, const char *field, size_t flen, const char *value,
    size_t vlen)
{
	char key[256], *s;
	json_t *m;
	int ok;

	if (flen >= sizeof(key))
		return 0;
	memcpy(key, field, flen);
	key[flen] = '\0';
	if ((m = json_object_get(e, key)) == NULL)
		return 0;
	if (json_is_string(m))
		return json_string_length(m) == vlen &&
		    memcmp(json_string_value(m), value, vlen) == 0;
	s = json_dumps(m, JSON_COMPACT | JSON_ENCODE_ANY);
	ok = s != NULL && strlen(s) == vlen && memcmp(s, value, vlen) == 0;
	free(s);
	return ok;
}

static int
walk(json_t *v, const char *p, const char *post)
{
	const char *end, *eq;
	char key[1024];
	size_t n, i;
	json_t *e;
	int found = 0;

	if (v == NULL)
		return 0;
	if (*p == '\0') {
		print(v, post);
		return 1;
	}
	if (*p == '.') {
		p++;
		n = strcspn(p, ".[");
		if (n == 0)
			return walk(v, p, post);
		if (n >= sizeof(key))
			return 0;
		memcpy(key, p, n);
		key[n] = '\0';
		return walk(json_object_get(v, key), p + n, post);
	}
	if (*p == '[') {
		p++;
		if ((end = strchr(p, ']')) == NULL)
			return 0;
		if (end - p == 1 && *p == '*') {
			json_array_foreach(v, i, e)
				found |= walk(e, end + 1, post);
			return found;
		}
		eq = memchr(p, '=', (size_t)(end - p));
		if (eq == NULL)
			return walk(json_array_get(v, (size_t)strtoul(p, NULL,
			    10)), end + 1, post);
		json_array_foreach(v, i, e)
			if (matches(e, p, (size_t)(eq - p), eq + 1,
			    (size_t)(end - eq - 1)))
				return walk(e, end + 1, post);
		return 0;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	json_error_t jerr;
	json_t *doc;
	char *expr, *post;
	int found;

	if (argc != 2) {
		fprintf(stderr, "usage: tjson EXPR < doc.json\n");
		return 2;
	}
	if ((doc = json_loadf(stdin, JSON_DECODE_ANY, &jerr)) == NULL) {
		fprintf(stderr, "tjson: not JSON: %s\n", jerr.text);
		return 2;
	}
	if ((expr = strdup(argv[1])) == NULL)
		return 2;
	if ((post = strchr(expr, '|')) != NULL)
		*post++ = '\0';
	found = walk(doc, expr, post);
	free(expr);
	json_decref(doc);
	return found ? 0 : 1;
}
