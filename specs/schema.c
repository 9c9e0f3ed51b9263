/*
 * Node queries and schema helpers: typed reads that add a positioned
 * diagnostic when the YAML does not have the expected shape, and the
 * YAML 1.2 core-schema conversion of nodes to JSON values.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "node.h"
#include "spec-int.h"
#include "suggest.h"
#include "xalloc.h"

/*
 * Index of key in map, or map->n.  The loaders look up every key they
 * know in every map they read: comparing the first byte before calling
 * strcmp() skips most keys cheaply.
 */
static size_t
key_index(const struct spec_node *map, const char *key)
{
	size_t i;

	for (i = 0; i < map->n; i++)
		if (map->keys[i]->str[0] == key[0] &&
		    strcmp(map->keys[i]->str, key) == 0)
			break;
	return i;
}

struct spec_node *
spec_node_get(const struct spec_node *map, const char *key)
{
	size_t i;

	if (map == NULL || map->kind != SPEC_NODE_MAP)
		return NULL;
	i = key_index(map, key);
	return i < map->n ? map->vals[i] : NULL;
}

struct spec_node *
spec_node_key(const struct spec_node *map, const char *key)
{
	size_t i;

	if (map == NULL || map->kind != SPEC_NODE_MAP)
		return NULL;
	i = key_index(map, key);
	return i < map->n ? map->keys[i] : NULL;
}

bool
spec_node_is_null(const struct spec_node *n)
{
	if (n == NULL)
		return true;
	if (n->kind != SPEC_NODE_SCALAR || n->style != SPEC_STYLE_PLAIN)
		return false;
	if (n->len == 0)
		return true;
	/* the first byte rules out nearly every value at once */
	if (n->str[0] != '~' && n->str[0] != 'n' && n->str[0] != 'N')
		return false;
	return strcmp(n->str, "~") == 0 || strcmp(n->str, "null") == 0 ||
	    strcmp(n->str, "Null") == 0 || strcmp(n->str, "NULL") == 0;
}

bool
spec_node_is_str(const struct spec_node *n)
{
	return n != NULL && n->kind == SPEC_NODE_SCALAR &&
	    !spec_node_is_null(n);
}

static bool
is_bool(const char *s, bool *v)
{
	static const char *t[] = { "true", "True", "TRUE" };
	static const char *f[] = { "false", "False", "FALSE" };
	size_t i;

	if (*s != 't' && *s != 'T' && *s != 'f' && *s != 'F')
		return false;
	for (i = 0; i < 3; i++) {
		if (strcmp(s, t[i]) == 0)
			return *v = true, true;
		if (strcmp(s, f[i]) == 0)
			return *v = false, true;
	}
	return false;
}

static bool
is_int(const char *s, int64_t *v)
{
	char *end;
	int base = 10;
	const char *p = s;

	if (*p != '-' && *p != '+' && !isdigit((unsigned char)*p))
		return false;
	if (*p == '-' || *p == '+')
		p++;
	if (p[0] == '0' && p[1] == 'x')
		base = 16, p += 2;
	else if (p[0] == '0' && p[1] == 'o')
		base = 8, p += 2;
	if (*p == '\0')
		return false;
	for (const char *q = p; *q; q++)
		if (!(base == 16 ? isxdigit((unsigned char)*q) :
		    (*q >= '0' && *q <= (base == 8 ? '7' : '9'))))
			return false;
	errno = 0;
	*v = strtoll(p, &end, base);
	if (errno || *end)
		return false;
	if (s[0] == '-')
		*v = -*v;
	return true;
}

static bool
is_float(const char *s, double *v)
{
	const char *p = s;
	char *end;
	bool digits = false;

	if (*p != '-' && *p != '+' && *p != '.' && !isdigit((unsigned char)*p))
		return false;
	if (strcmp(s, ".inf") == 0 || strcmp(s, "+.inf") == 0 ||
	    strcmp(s, ".nan") == 0 || strcmp(s, "-.inf") == 0)
		return false;	/* JSON has no inf/nan: keep them strings */
	if (*p == '-' || *p == '+')
		p++;
	while (isdigit((unsigned char)*p))
		p++, digits = true;
	if (*p == '.') {
		p++;
		while (isdigit((unsigned char)*p))
			p++, digits = true;
	}
	if (!digits)
		return false;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '-' || *p == '+')
			p++;
		if (!isdigit((unsigned char)*p))
			return false;
		while (isdigit((unsigned char)*p))
			p++;
	}
	if (*p)
		return false;
	*v = strtod(s, &end);
	return *end == '\0' && isfinite(*v);
}

/*
 * spec_file_parse() bounds what aliases add (SPEC_ALIAS_MAX) and how deep
 * they nest (SPEC_MAX_DEPTH), and drops the tree of a file over either, so
 * the expansion here is bounded by the file's size; the depth check only
 * guards the stack.
 */
static json_t *
to_json(const struct spec_node *n, int depth)
{
	json_t *j;
	int64_t iv;
	double dv;
	bool bv;
	size_t i;

	if (depth > SPEC_MAX_DEPTH + 1)
		LR_BUG("YAML nested deeper than spec_file_parse allows");
	/*
	 * libyaml hands out valid UTF-8 only (it checks its input and refuses
	 * escapes of surrogates), so the _nocheck forms skip a second check.
	 */
	switch (n->kind) {
	case SPEC_NODE_SCALAR:
		if (n->style != SPEC_STYLE_PLAIN)
			return json_stringn_nocheck(n->str, n->len);
		if (spec_node_is_null(n))
			return json_null();
		if (is_bool(n->str, &bv))
			return json_boolean(bv);
		if (is_int(n->str, &iv))
			return json_integer(iv);
		if (is_float(n->str, &dv))
			return json_real(dv);
		return json_stringn_nocheck(n->str, n->len);
	case SPEC_NODE_SEQ:
		j = json_array();
		for (i = 0; i < n->n; i++)
			json_array_append_new(j, to_json(n->vals[i],
			    depth + 1));
		return j;
	case SPEC_NODE_MAP:
		j = json_object();
		for (i = 0; i < n->n; i++)
			json_object_set_new_nocheck(j, n->keys[i]->str,
			    to_json(n->vals[i], depth + 1));
		return j;
	}
	return json_null();
}

json_t *
spec_node_to_json(const struct spec_node *n)
{
	json_t *j;

	if (n == NULL)
		return json_null();
	j = to_json(n, 0);
	return j ? j : json_null();
}

const char *
spec_node_describe(const struct spec_node *n)
{
	int64_t iv;
	double dv;
	bool bv;

	if (n == NULL || spec_node_is_null(n))
		return "null";
	switch (n->kind) {
	case SPEC_NODE_MAP:
		return "a mapping";
	case SPEC_NODE_SEQ:
		return "a list";
	case SPEC_NODE_SCALAR:
		if (n->style != SPEC_STYLE_PLAIN)
			return "a string";
		if (is_bool(n->str, &bv))
			return "a boolean";
		if (is_int(n->str, &iv))
			return "an integer";
		if (is_float(n->str, &dv))
			return "a number";
		return "a string";
	}
	return "a value";
}

/* ---- schema helpers ---- */

bool
spec_check_map(struct spec_diags *d, const struct spec_node *n,
    const char *what, const char *const *allowed, const char *section)
{
	struct spec_diag *dg;
	/* a section of leura-spec(5), or a full "page(N), SECTION" */
	const char *page = section && strchr(section, '(') ? "" :
	    "leura-spec(5), ";
	const char *s;
	size_t i, na = 0;

	if (n == NULL || n->kind != SPEC_NODE_MAP) {
		dg = spec_diag_at(d, n, "%s must be a mapping, not %s", what,
		    spec_node_describe(n));
		if (section)
			spec_diag_hint(dg, "see %s%s", page, section);
		return false;
	}
	while (allowed[na])
		na++;
	for (i = 0; i < n->n; i++) {
		const char *k = n->keys[i]->str;
		size_t j;

		for (j = 0; j < na; j++)
			if (strcmp(allowed[j], k) == 0)
				break;
		if (j < na)
			continue;
		dg = spec_diag_at(d, n->keys[i], "unknown key '%s' in %s", k,
		    what);
		s = lr_suggest(k, allowed, na);
		if (s && section)
			spec_diag_hint(dg, "did you mean '%s'? keys are listed "
			    "in %s%s", s, page, section);
		else if (s)
			spec_diag_hint(dg, "did you mean '%s'?", s);
		else if (section)
			spec_diag_hint(dg, "keys are listed in %s%s", page,
			    section);
	}
	return true;
}

bool
spec_map_has_only(const struct spec_node *n, const char *const *allowed)
{
	size_t i, j;

	if (n == NULL || n->kind != SPEC_NODE_MAP)
		return false;
	for (i = 0; i < n->n; i++) {
		for (j = 0; allowed[j]; j++)
			if (allowed[j][0] == n->keys[i]->str[0] &&
			    strcmp(allowed[j], n->keys[i]->str) == 0)
				break;
		if (allowed[j] == NULL)
			return false;
	}
	return true;
}

bool
spec_node_int(const struct spec_node *n, int64_t *out)
{
	return n != NULL && n->kind == SPEC_NODE_SCALAR && is_int(n->str, out);
}

bool
spec_node_is_strlist(const struct spec_node *n)
{
	size_t i;

	if (n != NULL && n->kind == SPEC_NODE_SCALAR)
		return !spec_node_is_null(n);
	if (n == NULL || n->kind != SPEC_NODE_SEQ)
		return false;
	for (i = 0; i < n->n; i++)
		if (!spec_node_is_str(n->vals[i]))
			return false;
	return true;
}

struct spec_node *
spec_require(struct spec_diags *d, const struct spec_node *n, const char *key,
    const char *what)
{
	struct spec_node *v = spec_node_get(n, key);

	if (v == NULL && n != NULL && n->kind == SPEC_NODE_MAP)
		spec_diag_hint(spec_diag_at(d, n, "missing required key '%s' "
		    "in %s", key, what), "add '%s:' to %s", key, what);
	return v;
}

int
spec_get_str(struct spec_diags *d, const struct spec_node *n,
    const char *what, const char **out)
{
	if (n == NULL || n->kind != SPEC_NODE_SCALAR || spec_node_is_null(n)) {
		spec_diag_at(d, n, "%s must be a string, not %s", what,
		    spec_node_describe(n));
		return -1;
	}
	*out = n->str;
	return 0;
}

int
spec_get_int(struct spec_diags *d, const struct spec_node *n,
    const char *what, int64_t min, int64_t max, int64_t *out)
{
	int64_t v;

	if (n == NULL || n->kind != SPEC_NODE_SCALAR || !is_int(n->str, &v)) {
		spec_diag_at(d, n, "%s must be an integer, not %s", what,
		    spec_node_describe(n));
		return -1;
	}
	if (v < min || v > max) {
		spec_diag_at(d, n, "%s must be between %" PRId64 " and %"
		    PRId64 ", not %" PRId64, what, min, max, v);
		return -1;
	}
	*out = v;
	return 0;
}

int
spec_get_bool(struct spec_diags *d, const struct spec_node *n,
    const char *what, bool *out)
{
	bool v;

	if (n != NULL && n->kind == SPEC_NODE_SCALAR &&
	    n->style == SPEC_STYLE_PLAIN) {
		if (is_bool(n->str, &v)) {
			*out = v;
			return 0;
		}
		/* YAML 1.1 spellings, as Ansible-era files use them */
		if (strcmp(n->str, "yes") == 0 || strcmp(n->str, "on") == 0)
			return *out = true, 0;
		if (strcmp(n->str, "no") == 0 || strcmp(n->str, "off") == 0)
			return *out = false, 0;
	}
	spec_diag_hint(spec_diag_at(d, n, "%s must be a boolean, not %s",
	    what, spec_node_describe(n)), "write true or false, unquoted");
	return -1;
}

int
spec_parse_duration(const char *s, int64_t *ms)
{
	int64_t total = 0, v, mult;
	const char *p = s;
	char *end;

	if (*s == '\0')
		return -1;
	if (is_int(s, &v))
		return v < 0 || v > INT64_MAX / 1000 ? -1 :
		    (*ms = v * 1000, 0);
	while (*p) {
		if (!isdigit((unsigned char)*p))
			return -1;
		errno = 0;
		v = strtoll(p, &end, 10);
		if (errno || v < 0)
			return -1;
		p = end;
		if (strncmp(p, "ms", 2) == 0)
			mult = 1, p += 2;
		else if (*p == 's')
			mult = 1000, p++;
		else if (*p == 'm')
			mult = 60000, p++;
		else if (*p == 'h')
			mult = 3600000, p++;
		else if (*p == 'd')
			mult = 86400000, p++;
		else
			return -1;
		if (v > (INT64_MAX - total) / mult)
			return -1;
		total += v * mult;
	}
	*ms = total;
	return 0;
}

int
spec_get_duration(struct spec_diags *d, const struct spec_node *n,
    const char *what, int64_t *ms)
{
	if (n == NULL || n->kind != SPEC_NODE_SCALAR ||
	    spec_parse_duration(n->str, ms) < 0) {
		spec_diag_hint(spec_diag_at(d, n, "%s: invalid duration '%s'",
		    what, n && n->kind == SPEC_NODE_SCALAR ? n->str : "?"),
		    "write a number with a unit: 250ms, 30s, 5m, 1h30m, 2d "
		    "(a bare number is seconds)");
		return -1;
	}
	return 0;
}

int
spec_get_mode(struct spec_diags *d, const struct spec_node *n,
    const char *what, int *mode)
{
	const char *p;
	long v;
	char *end;

	if (n == NULL || n->kind != SPEC_NODE_SCALAR || n->len == 0)
		goto bad;
	p = n->str;
	if (p[0] == '0' && p[1] == 'o')
		p += 2;
	/* 644 unquoted is accepted too: the digits are read as octal */
	for (const char *q = p; *q; q++)
		if (*q < '0' || *q > '7')
			goto bad;
	errno = 0;
	v = strtol(p, &end, 8);
	if (errno || *end || v < 0 || v > 07777 || strlen(p) > 5)
		goto bad;
	*mode = (int)v;
	return 0;
bad:
	spec_diag_hint(spec_diag_at(d, n, "%s: invalid file mode '%s'", what,
	    n && n->kind == SPEC_NODE_SCALAR ? n->str : "?"),
	    "write an octal mode as a quoted string, e.g. \"0644\"");
	return -1;
}

int
spec_get_port(struct spec_diags *d, const struct spec_node *n,
    const char *what, int *port)
{
	int64_t v;

	if (n == NULL || n->kind != SPEC_NODE_SCALAR || !is_int(n->str, &v) ||
	    v < 1 || v > 65535) {
		spec_diag_hint(spec_diag_at(d, n, "%s: invalid port '%s'", what,
		    n && n->kind == SPEC_NODE_SCALAR ? n->str : "?"),
		    "a port is an integer from 1 to 65535");
		return -1;
	}
	*port = (int)v;
	return 0;
}

int
spec_get_strlist(struct spec_diags *d, const struct spec_node *n,
    const char *what, const struct spec_node ***items, size_t *nitems)
{
	const struct spec_node **v;
	size_t i;

	if (n != NULL && n->kind == SPEC_NODE_SCALAR && !spec_node_is_null(n)) {
		v = lr_xmalloc(sizeof(*v));
		v[0] = n;
		*items = v;
		*nitems = 1;
		return 0;
	}
	if (n == NULL || n->kind != SPEC_NODE_SEQ) {
		spec_diag_at(d, n, "%s must be a list of strings, not %s",
		    what, spec_node_describe(n));
		return -1;
	}
	for (i = 0; i < n->n; i++) {
		if (!spec_node_is_str(n->vals[i])) {
			spec_diag_at(d, n->vals[i], "%s: items must be "
			    "strings, not %s", what,
			    spec_node_describe(n->vals[i]));
			return -1;
		}
	}
	v = lr_xmalloc((n->n ? n->n : 1) * sizeof(*v));
	for (i = 0; i < n->n; i++)
		v[i] = n->vals[i];
	*items = v;
	*nitems = n->n;
	return 0;
}

/* ---- the loaders' shared reads (spec-int.h) ---- */

const struct spec_node *
spec_opt(const struct spec_node *map, const char *key)
{
	const struct spec_node *v = spec_node_get(map, key);

	return spec_node_is_null(v) ? NULL : v;
}

int
spec_dup_str(struct spec_diags *d, const struct spec_node *n,
    const char *what, char **out)
{
	const char *s;

	if (spec_get_str(d, n, what, &s) < 0)
		return -1;
	*out = lr_xstrdup(s);
	return 0;
}

int
spec_get_refs(struct spec_diags *d, const struct spec_node *n,
    const char *what, struct spec_ref **out, size_t *nout)
{
	const struct spec_node **items;
	struct spec_ref *r = NULL;
	size_t ni, i;

	if (spec_get_strlist(d, n, what, &items, &ni) < 0)
		return -1;
	if (ni)
		r = lr_xcalloc(ni, sizeof(*r));
	for (i = 0; i < ni; i++) {
		r[i].name = lr_xstrdup(items[i]->str);
		r[i].node = items[i];
	}
	free(items);
	*out = r;
	*nout = ni;
	return 0;
}

json_t *
spec_get_object(struct spec_diags *d, const struct spec_node *n,
    const char *what, const char *section)
{
	if (spec_node_is_null(n))
		return json_object();
	if (n->kind != SPEC_NODE_MAP) {
		spec_diag_hint(spec_diag_at(d, n, "%s must be a mapping, not "
		    "%s", what, spec_node_describe(n)), "write it as "
		    "'key: value' lines, see leura-spec(5), %s", section);
		return NULL;
	}
	return spec_node_to_json(n);
}

const struct spec_node *
spec_later_key(const struct spec_node *map, const char *ka, const char *kb)
{
	const struct spec_node *a = spec_node_key(map, ka);
	const struct spec_node *b = spec_node_key(map, kb);

	return a->line > b->line || (a->line == b->line && a->col > b->col) ?
	    a : b;
}

json_t *
spec_get_strmap(struct spec_diags *d, const struct spec_node *n,
    const char *what, bool env)
{
	const struct spec_node *k, *v;
	json_t *o;
	size_t i, nerr = d->nerrors;
	const char *s;

	if (n->kind != SPEC_NODE_MAP) {
		spec_diag_hint(spec_diag_at(d, n, "%s must be a mapping, not "
		    "%s", what, spec_node_describe(n)), "write one "
		    "'NAME: value' per line");
		return NULL;
	}
	o = json_object();
	for (i = 0; i < n->n; i++) {
		k = n->keys[i];
		v = n->vals[i];
		if (env) {
			for (s = k->str; *s; s++)
				if (!isalnum((unsigned char)*s) && *s != '_')
					break;
			if (*s || k->str[0] == '\0' ||
			    isdigit((unsigned char)k->str[0])) {
				spec_diag_hint(spec_diag_at(d, k, "invalid "
				    "environment variable name '%s' in %s",
				    k->str, what), "use letters, digits and "
				    "'_', not starting with a digit");
				continue;
			}
		} else if (k->str[0] == '\0' || strpbrk(k->str, ": \t\r\n")) {
			spec_diag_hint(spec_diag_at(d, k, "invalid header name "
			    "'%s' in %s", k->str, what), "a header name has "
			    "no blanks and no ':', e.g. Content-Type");
			continue;
		}
		if (spec_node_is_null(v)) {
			spec_diag_hint(spec_diag_at(d, v, "'%s' in %s must be "
			    "a string, not null", k->str, what), "write "
			    "%s: \"\" for an empty value", k->str);
			continue;
		}
		if (v->kind != SPEC_NODE_SCALAR) {
			spec_diag_hint(spec_diag_at(d, v, "'%s' in %s must be "
			    "a string, not %s", k->str, what,
			    spec_node_describe(v)), "%s values are single "
			    "strings: quote the value, or join its parts",
			    env ? "environment" : "header");
			continue;
		}
		json_object_set_new(o, k->str, json_stringn(v->str, v->len));
	}
	if (d->nerrors > nerr) {
		json_decref(o);
		return NULL;
	}
	return o;
}

char *
spec_get_endpoints(struct spec_diags *d, const struct spec_node *n,
    const char *what, const char *empty_hint)
{
	const struct spec_node **items = NULL;
	struct lr_buf b = LR_BUF_INIT;
	const char *s;
	size_t i, nitems = 0;
	char *out = NULL;

	if (spec_get_strlist(d, n, what, &items, &nitems) < 0)
		return NULL;
	for (i = 0; i < nitems; i++) {
		if (spec_get_str(d, items[i], "an endpoint", &s) < 0)
			continue;
		if (strncmp(s, "http://", 7) != 0 &&
		    strncmp(s, "https://", 8) != 0 &&
		    strncmp(s, "unix:///", 8) != 0) {
			spec_diag_hint(spec_diag_at(d, items[i],
			    "etcd endpoint '%s' is not an http://, https:// "
			    "or unix:/// URL", s), "write it as "
			    "http://HOST:2379, https://HOST:2379 or "
			    "unix:///PATH/OF/SOCKET");
			continue;
		}
		if (b.len)
			lr_buf_addc(&b, ',');
		lr_buf_adds(&b, s);
	}
	free(items);
	if (nitems == 0)
		spec_diag_hint(spec_diag_at(d, n, "%s is empty", what), "%s",
		    empty_hint);
	if (b.len)
		out = lr_buf_detach(&b, NULL);
	lr_buf_release(&b);
	return out;
}

int
spec_get_word(struct spec_diags *d, const struct spec_node *n,
    const char *what, const char *const *words, size_t nwords,
    const char *meaning, int *out)
{
	struct spec_diag *dg;
	struct lr_buf list = LR_BUF_INIT;
	const char *sug;
	size_t i;

	if (spec_node_is_str(n) && n->kind == SPEC_NODE_SCALAR)
		for (i = 0; i < nwords; i++)
			if (strcmp(n->str, words[i]) == 0) {
				*out = (int)i;
				return 0;
			}
	for (i = 0; i < nwords; i++)
		lr_buf_printf(&list, "%s%s", i == 0 ? "" : i + 1 == nwords ?
		    " or " : ", ", words[i]);
	if (!spec_node_is_str(n) || n->kind != SPEC_NODE_SCALAR) {
		dg = spec_diag_at(d, n, "%s must be %s, not %s", what, list.s,
		    spec_node_describe(n));
		sug = NULL;
	} else {
		dg = spec_diag_at(d, n, "%s must be %s, not '%s'", what,
		    list.s, n->str);
		sug = lr_suggest(n->str, words, nwords);
	}
	if (sug)
		spec_diag_hint(dg, "did you mean '%s'? %s", sug, meaning);
	else
		spec_diag_hint(dg, "%s", meaning);
	lr_buf_release(&list);
	return -1;
}
