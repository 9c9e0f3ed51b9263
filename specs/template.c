/*
 * The template engine: "{{ path | filter(...) }}" rendered against one JSON
 * context object.  It knows nothing of specs, files or hosts: the caller
 * builds the context and decides what text is a template; diagnostics come
 * back as offsets into the text for the caller to turn into line:col.
 *
 * Design rule: one pass over the text, no regex, no allocation per byte.
 * Each expression is first delimited (up to "}}" outside quotes, never past
 * the end of its line), then tokenized and evaluated in one go; only when
 * that fails is it tokenized again by the same code for syntax alone, so a
 * syntax error always wins over an undefined name (spec_tmpl_check shares
 * that syntax-only parser).  Intermediate strings live in two scratch
 * buffers per render call that filters write into alternately.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "suggest.h"
#include "template.h"
#include "xalloc.h"

#define MAX_LISTED	8	/* keys listed in a "defined under" hint */
#define MAX_SHOWN	200	/* bytes of template text quoted in a message */

enum filter {
	F_JOIN,
	F_DEFAULT,
	F_UPPER,
	F_LOWER,
	F_QUOTE,
	F_COUNT
};

static const char *const filter_names[F_COUNT] = {
	"join", "default", "upper", "lower", "quote"
};

#define FILTER_LIST	"join, default, upper, lower, quote"

/* Why a path did not resolve; offsets are into the template text. */
struct undef {
	enum { U_KEY, U_INDEX } what;
	const json_t	*parent;	/* borrowed; where resolution stopped */
	size_t		 path;		/* first byte of the path */
	size_t		 seg;		/* first byte of the failed segment */
	size_t		 segend;	/* end of it ("]" included) */
	size_t		 pathend;	/* end of the whole path */
};

/* The value of an expression so far. */
struct val {
	enum { V_UNDEF, V_JSON, V_STR } kind;
	const json_t	*j;		/* V_JSON: borrowed from the context */
	const char	*type;		/* V_STR: "a string", "a number"... */
	struct undef	 u;		/* V_UNDEF */
};

/* A filter argument. */
struct lit {
	enum { L_STR, L_NUM, L_BOOL } kind;
	size_t	 off, len;		/* its text (quotes included) */
};

/* One expression being parsed, and evaluated when eval is set. */
struct tp {
	const char	*t;		/* the whole template */
	size_t		 tlen;
	size_t		 start;		/* offset of the "{{" */
	size_t		 elen;		/* length reported in errors */
	size_t		 end;		/* offset of the closing "}}" */
	size_t		 resume;	/* where scanning continues after it */
	size_t		 p;		/* cursor, <= end */
	size_t		 expr;		/* first byte of the primary */
	size_t		 last;		/* end of the primary or last filter */
	bool		 eval;
	const json_t	*ctx;
	struct lr_buf	*sbuf[2];	/* scratch strings, used alternately */
	int		 cur;		/* sbuf[cur] holds a V_STR value */
	struct lr_buf	*lit;		/* the decoded string argument */
	struct val	 v;
	struct spec_tmpl_error *e;
};

static int	tp_err(struct tp *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	tp_hint(struct tp *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

/* ---- small helpers */

static bool
is_ident_start(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool
is_ident(unsigned char c)
{
	return is_ident_start(c) || (c >= '0' && c <= '9') || c == '-';
}

static bool
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* A length for "%.*s" that keeps messages short. */
static int
shown(size_t n)
{
	return n > MAX_SHOWN ? MAX_SHOWN : (int)n;
}

static const char *
type_name(const json_t *j)
{
	if (j == NULL)
		return "undefined";
	switch (json_typeof(j)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "a list";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	default:
		return "null";
	}
}

/*
 * Shortest "%.Ng" that reads back as d, with ".0" added to whole numbers
 * so a real stays recognisable (as jansson prints it).
 */
static void
add_real(struct lr_buf *b, double d)
{
	char s[48];
	int prec;

	for (prec = 15; prec <= 17; prec++) {
		snprintf(s, sizeof(s), "%.*g", prec, d);
		if (strtod(s, NULL) == d)
			break;
	}
	lr_buf_adds(b, s);
	if (strpbrk(s, ".eEni") == NULL)
		lr_buf_add(b, ".0", 2);
}

static int
dump_cb(const char *s, size_t n, void *arg)
{
	lr_buf_add(arg, s, n);
	return 0;
}

/* Decimal digits without printf: rendering runs once per step per host. */
static void
add_int(struct lr_buf *b, json_int_t v)
{
	char tmp[24], *p = tmp + sizeof(tmp);
	unsigned long long u;

	u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--p = '-';
	lr_buf_add(b, p, (size_t)(tmp + sizeof(tmp) - p));
}

/* Append the text of j, which is not null. */
static void
add_json(struct lr_buf *b, const json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_STRING:
		lr_buf_add(b, json_string_value(j), json_string_length(j));
		break;
	case JSON_INTEGER:
		add_int(b, json_integer_value(j));
		break;
	case JSON_REAL:
		add_real(b, json_real_value(j));
		break;
	case JSON_TRUE:
		lr_buf_add(b, "true", 4);
		break;
	case JSON_FALSE:
		lr_buf_add(b, "false", 5);
		break;
	default:
		json_dump_callback(j, dump_cb, b,
		    JSON_COMPACT | JSON_ENCODE_ANY);
		break;
	}
}

/* POSIX shell single quoting: it's -> 'it'\''s' */
static void
add_quoted(struct lr_buf *b, const char *s, size_t n)
{
	const char *q;

	lr_buf_addc(b, '\'');
	while (n > 0 && (q = memchr(s, '\'', n)) != NULL) {
		lr_buf_add(b, s, (size_t)(q - s));
		lr_buf_add(b, "'\\''", 4);
		n -= (size_t)(q - s) + 1;
		s = q + 1;
	}
	lr_buf_add(b, s, n);
	lr_buf_addc(b, '\'');
}

static void
map_case(struct lr_buf *b, bool upper)
{
	size_t i;
	unsigned char c;

	for (i = 0; i < b->len; i++) {
		c = (unsigned char)b->s[i];
		if (upper && c >= 'a' && c <= 'z')
			b->s[i] = (char)(c - 'a' + 'A');
		else if (!upper && c >= 'A' && c <= 'Z')
			b->s[i] = (char)(c - 'A' + 'a');
	}
}

/* ---- errors */

static int
tp_err(struct tp *tp, const char *fmt, ...)
{
	va_list ap;

	tp->e->offset = tp->start;
	tp->e->len = tp->elen;
	va_start(ap, fmt);
	vsnprintf(tp->e->msg, sizeof(tp->e->msg), fmt, ap);
	va_end(ap);
	tp->e->hint[0] = '\0';
	return -1;
}

static void
tp_hint(struct tp *tp, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tp->e->hint, sizeof(tp->e->hint), fmt, ap);
	va_end(ap);
}

/* Report whatever sits at the cursor; hint says what was expected. */
static int
tp_unexpected(struct tp *tp, const char *where, const char *hint)
{
	const char *t = tp->t;
	size_t p = tp->p, q;
	unsigned char c = (unsigned char)t[p];

	if (c == '{' && p + 1 < tp->end && t[p + 1] == '{') {
		if (where == NULL) {
			tp_err(tp, "unexpected '{{' in expression");
			tp_hint(tp, "'{{{{' is not special; write a literal "
			    "'{{' as {{ '{{' }}");
			return -1;
		}
		/* "{{ a {{ b }}": the first one was never closed */
		q = p;
		while (q > tp->start + 2 && (t[q - 1] == ' ' ||
		    t[q - 1] == '\t'))
			q--;
		tp->elen = q - tp->start;
		tp->resume = p;
		tp_err(tp, "unclosed '{{': add '}}'");
		tp_hint(tp, "a literal '{{' is written {{ '{{' }}");
		return -1;
	}
	if (where == NULL)
		where = "in expression";
	if (is_ident(c)) {
		for (q = p; q < tp->end && is_ident((unsigned char)t[q]); q++)
			;
		tp_err(tp, "unexpected '%.*s' %s", shown(q - p), t + p, where);
	} else if (c == '\'' || c == '"')
		tp_err(tp, "unexpected string %s", where);
	else if (c > 0x20 && c < 0x7f)
		tp_err(tp, "unexpected '%c' %s", c, where);
	else
		tp_err(tp, "unexpected byte 0x%02x %s", c, where);
	tp_hint(tp, "%s", hint);
	return -1;
}

/* The expression text so far, for messages. */
#define NAME(tp)	shown((tp)->last - (tp)->expr), (tp)->t + (tp)->expr

static int
tp_undefined(struct tp *tp)
{
	const struct undef *u = &tp->v.u;
	const char *t = tp->t, *s, **keys = NULL, *key;
	const json_t *pj = u->parent;
	struct lr_buf h = LR_BUF_INIT;
	size_t n = 0, cap = 0, i, plen;
	char *word;
	void *it;

	tp_err(tp, "undefined name '%.*s'", shown(u->segend - u->path),
	    t + u->path);
	/* the part before the failed segment, without its '.' */
	plen = u->seg - u->path;
	if (u->what == U_KEY && plen > 0)
		plen--;
	if (u->what == U_INDEX) {
		if (!json_is_array(pj))
			tp_hint(tp, "'%.*s' is %s, not a list", shown(plen),
			    t + u->path, type_name(pj));
		else if (json_array_size(pj) == 0)
			tp_hint(tp, "'%.*s' is an empty list", shown(plen),
			    t + u->path);
		else
			tp_hint(tp, "'%.*s' has %zu item%s", shown(plen),
			    t + u->path, json_array_size(pj),
			    json_array_size(pj) == 1 ? "" : "s");
		return -1;
	}
	if (!json_is_object(pj)) {
		if (plen > 0)
			tp_hint(tp, "'%.*s' is %s, not an object",
			    shown(plen), t + u->path, type_name(pj));
		else
			tp_hint(tp, "no names are defined");
		return -1;
	}
	for (it = json_object_iter((json_t *)pj); it != NULL;
	    it = json_object_iter_next((json_t *)pj, it)) {
		key = json_object_iter_key(it);
		*LR_ARRAY_PUSH(keys, n, cap) = key;
	}
	word = lr_xstrndup(t + u->seg, u->segend - u->seg);
	if ((s = lr_suggest(word, keys, n)) != NULL)
		tp_hint(tp, "did you mean '%.*s%s%.*s'?",
		    shown(u->seg - u->path), t + u->path, s,
		    shown(u->pathend - u->segend), t + u->segend);
	else if (n == 0 && plen == 0)
		tp_hint(tp, "no names are defined");
	else if (n == 0)
		tp_hint(tp, "nothing is defined under '%.*s'", shown(plen),
		    t + u->path);
	else {
		if (plen == 0)
			lr_buf_adds(&h, "names start with ");
		else
			lr_buf_printf(&h, "defined under '%.*s': ",
			    shown(plen), t + u->path);
		for (i = 0; i < n && i < MAX_LISTED; i++) {
			if (i > 0 && plen == 0 && i == n - 1)
				lr_buf_adds(&h, " or ");
			else if (i > 0)
				lr_buf_adds(&h, ", ");
			lr_buf_adds(&h, keys[i]);
			if (plen == 0)
				lr_buf_addc(&h, '.');
		}
		if (n > MAX_LISTED)
			lr_buf_adds(&h, ", ...");
		tp_hint(tp, "%s", h.s);
	}
	lr_buf_release(&h);
	free(word);
	free(keys);
	return -1;
}

/* Fail unless the value is defined and not null. */
static int
tp_need(struct tp *tp)
{
	if (tp->v.kind == V_UNDEF)
		return tp_undefined(tp);
	if (tp->v.kind == V_JSON && json_is_null(tp->v.j)) {
		tp_err(tp, "'%.*s' is null; use default(...)", NAME(tp));
		tp_hint(tp, "e.g. {{ %.*s | default('') }}", NAME(tp));
		return -1;
	}
	return 0;
}

static const char *
tp_type(const struct tp *tp)
{
	return tp->v.kind == V_STR ? tp->v.type : type_name(tp->v.j);
}

/* The other scratch buffer, emptied; tp_swap() makes it current. */
static struct lr_buf *
tp_next(struct tp *tp)
{
	struct lr_buf *b = tp->sbuf[tp->cur ^ 1];

	lr_buf_reset(b);
	return b;
}

static void
tp_set_str(struct tp *tp, const char *type)
{
	tp->cur ^= 1;
	tp->v.kind = V_STR;
	tp->v.type = type;
}

/* Turn a defined, non-null value into V_STR. */
static void
tp_stringify(struct tp *tp)
{
	if (tp->v.kind == V_JSON) {
		add_json(tp_next(tp), tp->v.j);
		tp_set_str(tp, type_name(tp->v.j));
	}
}

/* ---- delimiting and tokenizing */

/*
 * Find the "}}" closing the "{{" at start: outside quotes, on the same
 * line.  Sets end, elen and resume.
 */
static int
tp_open(struct tp *tp, size_t start)
{
	const char *t = tp->t;
	size_t i;
	char c, q = 0;
	bool close_in_quote = false;

	tp->start = start;
	for (i = start + 2; i < tp->tlen && t[i] != '\n'; i++) {
		c = t[i];
		if (q != 0) {
			if (c == '\\' && i + 1 < tp->tlen && t[i + 1] != '\n')
				i++;
			else if (c == q)
				q = 0;
			else if (c == '}' && i + 1 < tp->tlen &&
			    t[i + 1] == '}')
				close_in_quote = true;
		} else if (c == '\'' || c == '"')
			q = c;
		else if (c == '}' && i + 1 < tp->tlen && t[i + 1] == '}') {
			tp->end = i;
			tp->elen = i + 2 - start;
			tp->resume = i + 2;
			return 0;
		}
	}
	tp->end = i;
	tp->elen = i - start;
	tp->resume = i;
	if (q != 0 && close_in_quote) {
		tp_err(tp, "unterminated string in expression");
		tp_hint(tp, "close the string with %c", q);
		return -1;
	}
	tp_err(tp, "unclosed '{{': add '}}'");
	tp_hint(tp, "a literal '{{' is written {{ '{{' }}");
	return -1;
}

static void
tp_ws(struct tp *tp)
{
	while (tp->p < tp->end && (tp->t[tp->p] == ' ' ||
	    tp->t[tp->p] == '\t'))
		tp->p++;
}

static void
tp_ident(struct tp *tp)
{
	while (tp->p < tp->end && is_ident((unsigned char)tp->t[tp->p]))
		tp->p++;
}

/* A quoted string at the cursor, decoded into dst when it is not NULL. */
static int
tp_string(struct tp *tp, struct lr_buf *dst)
{
	const char *t = tp->t;
	char q = t[tp->p], c;
	size_t run;

	tp->p++;
	for (;;) {
		run = tp->p;
		while (tp->p < tp->end && t[tp->p] != q && t[tp->p] != '\\')
			tp->p++;
		if (dst != NULL)
			lr_buf_add(dst, t + run, tp->p - run);
		if (tp->p >= tp->end) {
			tp_err(tp, "unterminated string in expression");
			tp_hint(tp, "close the string with %c", q);
			return -1;
		}
		if (t[tp->p] == q) {
			tp->p++;
			return 0;
		}
		if (tp->p + 1 >= tp->end) {
			tp_err(tp, "unterminated string in expression");
			tp_hint(tp, "close the string with %c", q);
			return -1;
		}
		c = t[tp->p + 1];
		switch (c) {
		case 'n':
			c = '\n';
			break;
		case 't':
			c = '\t';
			break;
		case '\\':
		case '\'':
		case '"':
			break;
		default:
			if ((unsigned char)c > 0x20 && (unsigned char)c < 0x7f)
				tp_err(tp, "unknown escape '\\%c' in string",
				    c);
			else
				tp_err(tp, "unknown escape '\\' + byte 0x%02x "
				    "in string", (unsigned char)c);
			tp_hint(tp, "escapes are \\\\, \\', \\\", \\n and \\t");
			return -1;
		}
		if (dst != NULL)
			lr_buf_addc(dst, c);
		tp->p += 2;
	}
}

/* -?digits(.digits)?([eE][+-]?digits)? */
static bool
is_number(const char *s, size_t n)
{
	size_t i = 0, d;

	if (i < n && s[i] == '-')
		i++;
	for (d = i; i < n && is_digit((unsigned char)s[i]); i++)
		;
	if (i == d)
		return false;
	if (i < n && s[i] == '.') {
		for (d = ++i; i < n && is_digit((unsigned char)s[i]); i++)
			;
		if (i == d)
			return false;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		for (d = i; i < n && is_digit((unsigned char)s[i]); i++)
			;
		if (i == d)
			return false;
	}
	return i == n;
}

/* One filter argument: a string, a number, true or false. */
static int
tp_lit(struct tp *tp, enum filter f, struct lit *l)
{
	const char *t = tp->t, *fn = filter_names[f];
	unsigned char c = (unsigned char)t[tp->p];
	size_t q;

	l->off = tp->p;
	if (c == '\'' || c == '"') {
		l->kind = L_STR;
		if (tp->eval)
			lr_buf_reset(tp->lit);
		if (tp_string(tp, tp->eval ? tp->lit : NULL) == -1)
			return -1;
	} else if (is_digit(c) || c == '-' || c == '.') {
		l->kind = L_NUM;
		for (q = tp->p + 1; q < tp->end &&
		    (is_ident((unsigned char)t[q]) || t[q] == '.' ||
		    t[q] == '+'); q++)
			;
		if (!is_number(t + tp->p, q - tp->p)) {
			tp_err(tp, "bad number '%.*s' in %s()",
			    shown(q - tp->p), t + tp->p, fn);
			tp_hint(tp, "numbers are written like 80, -1 or 0.5");
			return -1;
		}
		tp->p = q;
	} else if (is_ident_start(c)) {
		tp_ident(tp);
		l->kind = L_BOOL;
		if ((tp->p - l->off == 4 && memcmp(t + l->off, "true", 4) ==
		    0) || (tp->p - l->off == 5 &&
		    memcmp(t + l->off, "false", 5) == 0)) {
			l->len = tp->p - l->off;
			return 0;
		}
		tp_err(tp, "arguments of %s() are values, not names like "
		    "'%.*s'", fn, shown(tp->p - l->off), t + l->off);
		tp_hint(tp, "quote strings, e.g. %s('%.*s')", fn,
		    shown(tp->p - l->off), t + l->off);
		return -1;
	} else
		return tp_unexpected(tp, "in filter arguments",
		    "arguments are quoted strings, numbers, true or false");
	l->len = tp->p - l->off;
	return 0;
}

/* "[ int ]" at the cursor; a huge index saturates (and is out of range). */
static int
tp_index(struct tp *tp, size_t *idx)
{
	const char *t = tp->t;

	tp->p++;
	tp_ws(tp);
	if (tp->p >= tp->end || !is_digit((unsigned char)t[tp->p])) {
		tp_err(tp, "expected an index in '[...]'");
		tp_hint(tp, "an index is a whole number, e.g. host.groups[0]");
		return -1;
	}
	for (*idx = 0; tp->p < tp->end && is_digit((unsigned char)t[tp->p]);
	    tp->p++) {
		if (*idx > (SIZE_MAX - 9) / 10)
			*idx = SIZE_MAX;
		else
			*idx = *idx * 10 + (size_t)(t[tp->p] - '0');
	}
	tp_ws(tp);
	if (tp->p >= tp->end || t[tp->p] != ']') {
		tp_err(tp, "missing ']' after index");
		tp_hint(tp, "an index is a whole number, e.g. host.groups[0]");
		return -1;
	}
	tp->p++;
	return 0;
}

/*
 * A path at the cursor; when evaluating, resolve it into tp->v.  The first
 * segment that does not resolve is remembered for the message, and parsing
 * goes on to the end of the path.
 */
static int
tp_path(struct tp *tp)
{
	const char *t = tp->t;
	const json_t *cur = tp->ctx, *next = NULL;
	size_t path = tp->p, seg, idx;
	int what;

	tp->v.kind = V_JSON;
	while (tp->p == path || (tp->p < tp->end &&
	    (t[tp->p] == '.' || t[tp->p] == '['))) {
		seg = tp->p;
		if (t[tp->p] == '[') {
			if (tp_index(tp, &idx) == -1)
				return -1;
			what = U_INDEX;
			if (tp->eval && tp->v.kind != V_UNDEF)
				next = json_array_get(cur, idx);
		} else {
			if (t[tp->p] == '.')
				seg = ++tp->p;
			if (tp->p >= tp->end ||
			    !is_ident_start((unsigned char)t[tp->p])) {
				tp_err(tp, "expected a name after '.'");
				tp_hint(tp, "names are letters, digits, '_' "
				    "and '-', e.g. params.port");
				return -1;
			}
			tp_ident(tp);
			what = U_KEY;
			if (tp->eval && tp->v.kind != V_UNDEF)
				next = json_object_getn(cur, t + seg,
				    tp->p - seg);
		}
		if (!tp->eval || tp->v.kind == V_UNDEF)
			continue;
		if (next == NULL) {
			tp->v.kind = V_UNDEF;
			tp->v.u.what = what;
			tp->v.u.parent = cur;
			tp->v.u.path = path;
			tp->v.u.seg = seg;
			tp->v.u.segend = tp->p;
		} else
			cur = next;
	}
	if (tp->v.kind == V_UNDEF)
		tp->v.u.pathend = tp->p;
	else
		tp->v.j = cur;
	return 0;
}

/* ---- filters */

static int
tp_apply(struct tp *tp, enum filter f, const struct lit *arg)
{
	const char *t = tp->t;
	struct lr_buf *b;
	const json_t *item;
	size_t i;

	if (f == F_DEFAULT) {
		if (tp->v.kind == V_UNDEF || (tp->v.kind == V_JSON &&
		    json_is_null(tp->v.j))) {
			b = tp_next(tp);
			if (arg->kind == L_STR) {
				lr_buf_add(b, tp->lit->s, tp->lit->len);
				tp_set_str(tp, "a string");
			} else {
				lr_buf_add(b, t + arg->off, arg->len);
				tp_set_str(tp, arg->kind == L_NUM ?
				    "a number" : "a boolean");
			}
		}
		return 0;
	}
	if (tp_need(tp) == -1)
		return -1;
	switch (f) {
	case F_JOIN:
		if (tp->v.kind != V_JSON || !json_is_array(tp->v.j)) {
			tp_err(tp, "join() needs a list, '%.*s' is %s",
			    NAME(tp), tp_type(tp));
			return -1;
		}
		b = tp_next(tp);
		json_array_foreach(tp->v.j, i, item) {
			if (json_is_null(item)) {
				tp_err(tp, "item %zu of '%.*s' is null", i,
				    NAME(tp));
				return -1;
			}
			if (i > 0)
				lr_buf_add(b, tp->lit->s, tp->lit->len);
			add_json(b, item);
		}
		tp_set_str(tp, "a string");
		break;
	case F_UPPER:
	case F_LOWER:
		if (tp->v.kind == V_JSON && (json_is_array(tp->v.j) ||
		    json_is_object(tp->v.j))) {
			tp_err(tp, "%s needs a string, '%.*s' is %s",
			    filter_names[f], NAME(tp), tp_type(tp));
			return -1;
		}
		tp_stringify(tp);
		map_case(tp->sbuf[tp->cur], f == F_UPPER);
		break;
	case F_QUOTE:
		tp_stringify(tp);
		b = tp_next(tp);
		add_quoted(b, tp->sbuf[tp->cur]->s, tp->sbuf[tp->cur]->len);
		tp_set_str(tp, "a string");
		break;
	default:
		LR_BUG("filter %d", (int)f);
	}
	return 0;
}

static int
tp_filter(struct tp *tp)
{
	const char *t = tp->t;
	size_t name, end, nargs = 0;
	struct lit arg = { L_STR, 0, 0 }, extra;
	char word[64];
	const char *s;
	int f;

	tp_ws(tp);
	if (tp->p >= tp->end || !is_ident_start((unsigned char)t[tp->p])) {
		tp_err(tp, "expected a filter name after '|'");
		tp_hint(tp, "filters are " FILTER_LIST);
		return -1;
	}
	name = tp->p;
	tp_ident(tp);
	for (f = 0; f < F_COUNT; f++)
		if (strlen(filter_names[f]) == tp->p - name &&
		    memcmp(filter_names[f], t + name, tp->p - name) == 0)
			break;
	if (f == F_COUNT) {
		tp_err(tp, "unknown filter '%.*s'", shown(tp->p - name),
		    t + name);
		s = NULL;
		if (tp->p - name < sizeof(word)) {
			memcpy(word, t + name, tp->p - name);
			word[tp->p - name] = '\0';
			s = lr_suggest(word, filter_names, F_COUNT);
		}
		if (s != NULL)
			tp_hint(tp, "did you mean '%s'?", s);
		else
			tp_hint(tp, "filters are " FILTER_LIST);
		return -1;
	}
	end = tp->p;
	tp_ws(tp);
	if (tp->p >= tp->end || t[tp->p] != '(')
		tp->p = end;		/* keep the space out of names */
	else {
		tp->p++;
		tp_ws(tp);
		while (tp->p < tp->end && t[tp->p] != ')') {
			if (tp_lit(tp, f, nargs == 0 ? &arg : &extra) == -1)
				return -1;
			nargs++;
			tp_ws(tp);
			if (tp->p < tp->end && t[tp->p] == ',') {
				tp->p++;
				tp_ws(tp);
			} else
				break;
		}
		if (tp->p >= tp->end || t[tp->p] != ')') {
			if (tp->p >= tp->end) {
				tp_err(tp, "missing ')' after the arguments "
				    "of %s()", filter_names[f]);
				return -1;
			}
			return tp_unexpected(tp, "in filter arguments",
			    "separate arguments with ',' and close them "
			    "with ')'");
		}
		tp->p++;
	}
	switch (f) {
	case F_JOIN:
		if (nargs != 1 || arg.kind != L_STR) {
			tp_err(tp, "join() takes one argument, the separator "
			    "as a quoted string");
			tp_hint(tp, "e.g. join(',')");
			return -1;
		}
		break;
	case F_DEFAULT:
		if (nargs != 1) {
			tp_err(tp, "default() takes one value");
			tp_hint(tp, "e.g. default('') or default(80)");
			return -1;
		}
		break;
	default:
		if (nargs != 0) {
			tp_err(tp, "%s takes no arguments", filter_names[f]);
			tp_hint(tp, "write '| %s'", filter_names[f]);
			return -1;
		}
		break;
	}
	if (tp->eval)
		return tp_apply(tp, f, &arg);
	return 0;
}

/* ---- expressions */

/* Parse (and, when tp->eval, evaluate) the expression delimited by tp_open. */
static int
tp_expr(struct tp *tp)
{
	const char *t = tp->t;
	unsigned char c;

	tp->p = tp->start + 2;
	tp->v.kind = V_JSON;
	tp->v.j = NULL;
	tp_ws(tp);
	if (tp->p >= tp->end) {
		tp_err(tp, "empty expression");
		tp_hint(tp, "write a name, e.g. {{ params.port }}; a literal "
		    "'{{' is written {{ '{{' }}");
		return -1;
	}
	tp->expr = tp->p;
	c = (unsigned char)t[tp->p];
	if (c == '\'' || c == '"') {
		if (tp_string(tp, tp->eval ? tp_next(tp) : NULL) == -1)
			return -1;
		if (tp->eval)
			tp_set_str(tp, "a string");
	} else if (is_ident_start(c)) {
		if (tp_path(tp) == -1)
			return -1;
	} else
		return tp_unexpected(tp, NULL, "an expression is a name such "
		    "as params.port, or a quoted string, then filters");
	tp->last = tp->p;
	for (;;) {
		tp_ws(tp);
		if (tp->p >= tp->end)
			return 0;
		if (t[tp->p] != '|')
			return tp_unexpected(tp, "in expression", "separate "
			    "filters with '|', e.g. {{ params.port | "
			    "default(80) }}");
		tp->p++;
		if (tp_filter(tp) == -1)
			return -1;
		tp->last = tp->p;
	}
}

static void
tp_init(struct tp *tp, const char *text, size_t len,
    struct spec_tmpl_error *e)
{
	memset(tp, 0, sizeof(*tp));
	tp->t = text;
	tp->tlen = len;
	tp->e = e;
}

/*
 * The first "{{" at or after pos.  memchr() for the '{' then a look at the
 * next byte: cheaper than memmem() on the short texts templates are.
 */
static const char *
find_open(const char *text, size_t pos, size_t len)
{
	const char *p, *end;

	if (len - pos < 2)
		return NULL;
	p = text + pos;
	end = text + len;
	while (end - p >= 2 &&
	    (p = memchr(p, '{', (size_t)(end - p) - 1)) != NULL) {
		if (p[1] == '{')
			return p;
		p++;
	}
	return NULL;
}

/* ---- public */

bool
spec_tmpl_has_expr(const char *text, size_t len)
{
	return find_open(text, 0, len) != NULL;
}

/*
 * Render the expression whose "{{" is at `at` into out; tp->resume is
 * where the text goes on.  -1 with *tp->e filled on any problem.
 */
static int
render_expr(struct tp *tp, size_t at, struct lr_buf *out)
{
	if (tp_open(tp, at) == -1)
		return -1;
	/*
	 * Evaluate first: an expression that evaluates was parsed to its
	 * end, so it has no syntax error.  When evaluation fails, a syntax
	 * error anywhere in the expression wins: parse it again for syntax
	 * alone, which overwrites *e only when it finds one.
	 */
	tp->eval = true;
	if (tp_expr(tp) == -1 || tp_need(tp) == -1) {
		tp->eval = false;
		(void)tp_expr(tp);
		return -1;
	}
	if (tp->v.kind == V_STR)
		lr_buf_add(out, tp->sbuf[tp->cur]->s, tp->sbuf[tp->cur]->len);
	else
		add_json(out, tp->v.j);
	return 0;
}

/* ---- parsed templates */

/* A name of a simple path: text[off..off + len). */
struct tmpl_seg {
	size_t	 off, len;
};

struct tmpl_expr {
	size_t	 start;		/* offset of its "{{" */
	size_t	 resume;	/* offset after its "}}" */
	size_t	 seg;		/* its names: segs[seg .. seg + nseg) */
	size_t	 nseg;		/* 0: not a simple path */
};

struct spec_tmpl {
	const char	*text;		/* borrowed */
	size_t		 len;
	struct tmpl_expr *x;
	size_t		 nx, xcap;
	struct tmpl_seg	*segs;
	size_t		 nsegs, segcap;
};

/*
 * Whether the expression between "{{" and "}}" (text[p..end)) is a plain
 * dotted path, "params.port" with blanks around: the same test tp_expr()
 * applies, for that one form.  Appends its names to t->segs and returns
 * their number, or returns 0 (and appends nothing).
 */
static size_t
simple_path(struct spec_tmpl *t, size_t p, size_t end)
{
	const char *s = t->text;
	size_t n0 = t->nsegs, q;
	struct tmpl_seg *sg;

	while (p < end && (s[p] == ' ' || s[p] == '\t'))
		p++;
	for (;;) {
		if (p >= end || !is_ident_start((unsigned char)s[p]))
			goto no;
		for (q = p; q < end && is_ident((unsigned char)s[q]); q++)
			;
		sg = LR_ARRAY_PUSH(t->segs, t->nsegs, t->segcap);
		sg->off = p;
		sg->len = q - p;
		p = q;
		if (p >= end || s[p] != '.')
			break;
		p++;
	}
	while (p < end && (s[p] == ' ' || s[p] == '\t'))
		p++;
	if (p == end)
		return t->nsegs - n0;
no:
	t->nsegs = n0;
	return 0;
}

struct spec_tmpl *
spec_tmpl_parse(const char *text, size_t len)
{
	struct spec_tmpl_error e;
	struct spec_tmpl *t = lr_xcalloc(1, sizeof(*t));
	struct tmpl_expr *x;
	struct tp tp;
	size_t pos = 0;
	const char *o;

	t->text = text;
	t->len = len;
	tp_init(&tp, text, len, &e);
	while ((o = find_open(text, pos, len)) != NULL) {
		x = LR_ARRAY_PUSH(t->x, t->nx, t->xcap);
		x->start = (size_t)(o - text);
		x->resume = 0;
		x->seg = t->nsegs;
		x->nseg = 0;
		/* an unclosed "{{" fails every render: nothing after counts */
		if (tp_open(&tp, x->start) == -1)
			break;
		x->resume = tp.resume;
		x->nseg = simple_path(t, x->start + 2, tp.end);
		pos = tp.resume;
	}
	return t;
}

bool
spec_tmpl_is_text(const struct spec_tmpl *t)
{
	return t->nx == 0;
}

int
spec_tmpl_render_parsed(const struct spec_tmpl *t, const json_t *ctx,
    struct lr_buf *out, struct spec_tmpl_error *e)
{
	struct spec_tmpl_error scratch;
	struct lr_buf s0 = LR_BUF_INIT, s1 = LR_BUF_INIT, lit = LR_BUF_INIT;
	const struct tmpl_expr *x;
	const struct tmpl_seg *sg;
	const json_t *v;
	struct tp tp;
	size_t pos = 0, saved = out->len, i, k;
	int rc = -1;

	tp_init(&tp, t->text, t->len, e != NULL ? e : &scratch);
	tp.ctx = ctx;
	tp.sbuf[0] = &s0;
	tp.sbuf[1] = &s1;
	tp.lit = &lit;
	for (i = 0; i < t->nx; i++) {
		x = &t->x[i];
		lr_buf_add(out, t->text + pos, x->start - pos);
		/*
		 * A simple path that resolves to a value renders that value,
		 * as tp_expr() and tp_need() would find; anything else takes
		 * the general way, which also says what is wrong.
		 */
		v = ctx;
		for (k = 0; k < x->nseg && v != NULL; k++) {
			sg = &t->segs[x->seg + k];
			v = json_object_getn(v, t->text + sg->off, sg->len);
		}
		if (x->nseg > 0 && v != NULL && !json_is_null(v)) {
			add_json(out, v);
			pos = x->resume;
			continue;
		}
		if (render_expr(&tp, x->start, out) == -1)
			goto out;
		pos = tp.resume;
	}
	lr_buf_add(out, t->text + pos, t->len - pos);
	rc = 0;
out:
	if (rc == -1 && out->s != NULL) {
		out->len = saved;
		out->s[saved] = '\0';
	}
	lr_buf_release(&s0);
	lr_buf_release(&s1);
	lr_buf_release(&lit);
	return rc;
}

void
spec_tmpl_free(struct spec_tmpl *t)
{
	if (t == NULL)
		return;
	free(t->x);
	free(t->segs);
	free(t);
}

int
spec_tmpl_check(const char *text, size_t len, spec_tmpl_error_cb *cb,
    void *arg)
{
	struct spec_tmpl_error e;
	struct tp tp;
	size_t pos = 0;
	const char *o;
	int n = 0;

	tp_init(&tp, text, len, &e);
	while ((o = find_open(text, pos, len)) != NULL) {
		if (tp_open(&tp, (size_t)(o - text)) == -1 ||
		    tp_expr(&tp) == -1) {
			n++;
			if (cb != NULL)
				cb(&e, arg);
		}
		pos = tp.resume;
	}
	return n;
}

/*
 * One way to render: parse, then render the parsed form (which takes the
 * general path, with its errors, for everything but plain names).
 */
int
spec_tmpl_render(const char *text, size_t len, const json_t *ctx,
    struct lr_buf *out, struct spec_tmpl_error *e)
{
	struct spec_tmpl *t = spec_tmpl_parse(text, len);
	int rc;

	rc = spec_tmpl_render_parsed(t, ctx, out, e);
	spec_tmpl_free(t);
	return rc;
}
