/*
 * YAML -> positioned node trees, built from libyaml's event stream.
 *
 * Nodes live in a per-file arena and are freed with the file.  The builder
 * keeps a stack of open containers; keys and values of a mapping alternate.
 * The items of the open containers share one stack (a container's items
 * are on top of its parent's until it closes), so building costs no
 * allocation per container but the final arrays in the arena.  Duplicate
 * keys are found at the end of each mapping by sorting a copy of its keys
 * (O(n log n): inventories have thousands of hosts in one map); small
 * mappings, nearly all of them, are first compared key by key and skip the
 * sort when no key repeats.  Aliases share the anchored node; '<<' merge
 * keys are expanded in place.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "err.h"
#include "node.h"
#include "xalloc.h"

/* ---- arena ---- */

struct arena_chunk {
	struct arena_chunk *next;
	size_t	 used, size;
	void	*data[];	/* aligned for pointers and size_t */
};

struct arena {
	struct arena_chunk *head;
	size_t	 next;		/* size of the next chunk */
};

/*
 * Nodes and arrays of node pointers are aligned like pointers; text is
 * packed (align 1): most scalars are a few bytes, and a repo has 100,000s.
 */
#define ARENA_ALIGN	_Alignof(void *)
_Static_assert(_Alignof(struct spec_node) <= ARENA_ALIGN,
    "spec_node needs more alignment than the arena gives");

static void *
arena_alloc(struct arena *a, size_t n, size_t align)
{
	struct arena_chunk *c = a->head;
	size_t sz, off = 0;
	char *p;

	if (c != NULL)
		off = (c->used + align - 1) & ~(align - 1);
	if (c == NULL || off > c->size || c->size - off < n) {
		/*
		 * Chunks grow from a size guessed from the file, so the
		 * hundreds of small role files of a big repo stay small.
		 */
		sz = n > a->next ? n : a->next;
		if (a->next < 1024 * 1024)
			a->next *= 2;
		c = lr_xmalloc(sizeof(*c) + sz);
		c->size = sz;
		c->next = a->head;
		a->head = c;
		off = 0;
	}
	p = (char *)c->data + off;
	c->used = off + n;
	return p;
}

static char *
arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = arena_alloc(a, n + 1, 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

static void
arena_free(struct arena *a)
{
	struct arena_chunk *c, *next;

	if (a == NULL)
		return;
	for (c = a->head; c; c = next) {
		next = c->next;
		free(c);
	}
	free(a);
}

/* ---- builder ---- */

/* An entry of an open container: a mapping's key and value, or an item. */
struct item {
	struct spec_node *key;		/* NULL in a sequence */
	struct spec_node *val;
};

struct frame {
	struct spec_node *node;
	size_t	 first;			/* its items: b->items[first..] */
	struct spec_node *pending_key;		/* map: key awaiting value */
	char	*anchor;			/* heap; registered at end */
};

struct anchor {
	char	*name;
	struct spec_node *node;
};

struct builder {
	struct spec_file *f;
	struct arena *a;
	struct spec_diags *diags;
	struct frame *stack;
	size_t	 depth, scap;
	struct item *items;		/* of every open container */
	size_t	 nitems, icap;
	struct anchor *anchors;
	size_t	 nanchors, acap;
	size_t	 alias_weight;		/* values added by aliases so far */
	bool	 alias_failed;		/* the file is over a limit */
	int	 ndocs;
	int	 nerr;
};

static struct spec_node *
node_new(struct builder *b, enum spec_node_kind kind, const yaml_mark_t *m)
{
	struct spec_node *n = arena_alloc(b->a, sizeof(*n), ARENA_ALIGN);

	memset(n, 0, sizeof(*n));
	n->kind = kind;
	n->line = (int)m->line + 1;
	n->col = (int)m->column + 1;
	n->span = 1;
	n->file = b->f;
	n->weight = 1;
	n->height = kind == SPEC_NODE_SCALAR ? 0 : 1;
	return n;
}

static size_t
add_sat(size_t a, size_t b)
{
	return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

static void
add_anchor(struct builder *b, const char *name, struct spec_node *n)
{
	struct anchor *an;
	size_t i;

	/* a redefined anchor replaces the old one for later aliases */
	for (i = 0; i < b->nanchors; i++) {
		if (strcmp(b->anchors[i].name, name) == 0) {
			b->anchors[i].node = n;
			return;
		}
	}
	an = LR_ARRAY_PUSH(b->anchors, b->nanchors, b->acap);
	an->name = lr_xstrdup(name);
	an->node = n;
}

static struct spec_node *
find_anchor(struct builder *b, const char *name)
{
	size_t i;

	for (i = b->nanchors; i-- > 0;)
		if (strcmp(b->anchors[i].name, name) == 0)
			return b->anchors[i].node;
	return NULL;
}

/* Add an item to the innermost open container (key NULL in a sequence). */
static void
push_item(struct builder *b, struct spec_node *key, struct spec_node *val)
{
	struct item *it = LR_ARRAY_PUSH(b->items, b->nitems, b->icap);

	it->key = key;
	it->val = val;
}

/* Attach a finished node to the open container (or make it the root). */
static void
attach(struct builder *b, struct spec_node *n)
{
	struct frame *fr;

	if (b->depth == 0) {
		if (b->f->root == NULL)
			b->f->root = n;
		return;
	}
	fr = &b->stack[b->depth - 1];
	if (fr->node->kind == SPEC_NODE_SEQ) {
		push_item(b, NULL, n);
		return;
	}
	if (fr->pending_key == NULL) {
		if (n->kind != SPEC_NODE_SCALAR) {
			spec_diag_at(b->diags, n, "mapping keys must be "
			    "strings, not %s", spec_node_describe(n));
			b->nerr++;
			/* keep the structure: use an empty key */
			n = node_new(b, SPEC_NODE_SCALAR, &(yaml_mark_t){ 0,
			    (size_t)n->line - 1, (size_t)n->col - 1 });
			n->str = arena_strndup(b->a, "", 0);
		}
		fr->pending_key = n;
		return;
	}
	push_item(b, fr->pending_key, n);
	fr->pending_key = NULL;
}

static int
cmp_keyp(const void *a, const void *b)
{
	const struct spec_node *x = *(struct spec_node *const *)a;
	const struct spec_node *y = *(struct spec_node *const *)b;
	int c;

	if ((c = strcmp(x->str, y->str)) != 0)
		return c;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->col < y->col ? -1 : x->col > y->col;
}

static bool
has_key(struct builder *b, struct frame *fr, const char *k)
{
	size_t i;

	for (i = fr->first; i < b->nitems; i++)
		if (b->items[i].key != NULL &&
		    strcmp(b->items[i].key->str, k) == 0)
			return true;
	return false;
}

/*
 * Expand '<<: *anchor' (or a list of anchors) into fr's own keys; fr is
 * the innermost frame, so its items are the top of the stack.
 */
static void
expand_merges(struct builder *b, struct frame *fr)
{
	size_t i, j, k, nsrc, n0 = b->nitems;
	struct spec_node *v, **srcs;
	struct item *it;

	for (i = fr->first; i < n0; i++) {
		it = &b->items[i];
		if (it->key == NULL || it->key->style != SPEC_STYLE_PLAIN ||
		    strcmp(it->key->str, "<<") != 0)
			continue;
		v = it->val;
		it->key = NULL;		/* drop the '<<' entry itself */
		if (v->kind == SPEC_NODE_MAP) {
			srcs = &v;
			nsrc = 1;
		} else if (v->kind == SPEC_NODE_SEQ) {
			srcs = v->vals;
			nsrc = v->n;
		} else {
			spec_diag_at(b->diags, v, "the merge key '<<' needs a "
			    "mapping or a list of mappings, not %s",
			    spec_node_describe(v));
			b->nerr++;
			continue;
		}
		for (j = 0; j < nsrc; j++) {
			if (srcs[j]->kind != SPEC_NODE_MAP) {
				spec_diag_at(b->diags, srcs[j], "the merge key "
				    "'<<' needs mappings, not %s",
				    spec_node_describe(srcs[j]));
				b->nerr++;
				continue;
			}
			for (k = 0; k < srcs[j]->n; k++)
				if (!has_key(b, fr, srcs[j]->keys[k]->str))
					push_item(b, srcs[j]->keys[k],
					    srcs[j]->vals[k]);
		}
	}
	/* compact out the dropped '<<' entries */
	for (i = j = fr->first; i < b->nitems; i++)
		if (b->items[i].key != NULL)
			b->items[j++] = b->items[i];
	b->nitems = j;
}

/* Small enough to compare every pair of keys rather than sort them. */
#define DUPS_PAIRWISE	16

static bool
any_dup(const struct item *v, size_t n)
{
	size_t i, j;

	for (i = 1; i < n; i++)
		for (j = 0; j < i; j++)
			if (strcmp(v[i].key->str, v[j].key->str) == 0)
				return true;
	return false;
}

static void
check_dups(struct builder *b, struct frame *fr)
{
	const struct item *v;
	struct spec_node **sorted;
	size_t i, n = b->nitems - fr->first;

	if (n < 2)
		return;
	v = &b->items[fr->first];
	if (n <= DUPS_PAIRWISE && !any_dup(v, n))
		return;
	sorted = lr_xmalloc(n * sizeof(*sorted));
	for (i = 0; i < n; i++)
		sorted[i] = v[i].key;
	qsort(sorted, n, sizeof(*sorted), cmp_keyp);
	for (i = 1; i < n; i++) {
		struct spec_diag *dg;

		if (strcmp(sorted[i]->str, sorted[i - 1]->str) != 0)
			continue;
		/* merged keys may come from elsewhere; only flag local ones */
		if (sorted[i]->file != b->f)
			continue;
		dg = spec_diag_at(b->diags, sorted[i], "duplicate key '%s'",
		    sorted[i]->str);
		spec_diag_hint(dg, "it was first set at line %d; remove one "
		    "of them", sorted[i - 1]->line);
		b->nerr++;
	}
	free(sorted);
}

static void
open_container(struct builder *b, enum spec_node_kind kind,
    const yaml_event_t *ev, const yaml_char_t *anchor)
{
	struct frame *fr;

	fr = LR_ARRAY_PUSH(b->stack, b->depth, b->scap);
	memset(fr, 0, sizeof(*fr));
	fr->first = b->nitems;
	fr->node = node_new(b, kind, &ev->start_mark);
	fr->anchor = anchor ? lr_xstrdup((const char *)anchor) : NULL;
}

static void
close_container(struct builder *b)
{
	struct frame *fr = &b->stack[b->depth - 1];
	struct spec_node *n = fr->node;
	const struct item *v;
	size_t i;

	if (n->kind == SPEC_NODE_MAP) {
		if (fr->pending_key != NULL) {
			/* cannot happen with libyaml, but stay safe */
			push_item(b, fr->pending_key, fr->pending_key);
			fr->pending_key = NULL;
		}
		expand_merges(b, fr);
		check_dups(b, fr);
	}
	n->n = b->nitems - fr->first;
	if (n->n) {
		v = &b->items[fr->first];
		for (i = 0; i < n->n; i++) {
			n->weight = add_sat(n->weight, v[i].val->weight);
			if (v[i].key != NULL)
				n->weight = add_sat(n->weight, 1);
			if (v[i].val->height + 1 > n->height)
				n->height = v[i].val->height + 1;
		}
		n->vals = arena_alloc(b->a, n->n * sizeof(*n->vals),
		    ARENA_ALIGN);
		for (i = 0; i < n->n; i++)
			n->vals[i] = v[i].val;
		if (n->kind == SPEC_NODE_MAP) {
			n->keys = arena_alloc(b->a, n->n * sizeof(*n->keys),
			    ARENA_ALIGN);
			for (i = 0; i < n->n; i++)
				n->keys[i] = v[i].key;
		}
	}
	b->nitems = fr->first;
	if (fr->anchor) {
		add_anchor(b, fr->anchor, n);
		free(fr->anchor);
	}
	b->depth--;
	attach(b, n);
}

/*
 * The value of an alias, or NULL after reporting that it takes the file
 * over SPEC_ALIAS_MAX values or SPEC_MAX_DEPTH levels.
 */
static struct spec_node *
on_alias(struct builder *b, const yaml_event_t *ev)
{
	const char *name = (const char *)ev->data.alias.anchor;
	struct spec_node *n, *at;
	struct spec_diag *dg;
	size_t limit;

	at = node_new(b, SPEC_NODE_SCALAR, &ev->start_mark);
	at->span = (int)strlen(name) + 1;
	if ((n = find_anchor(b, name)) == NULL) {
		at->str = arena_strndup(b->a, "", 0);
		spec_diag_at(b->diags, at, "unknown alias '*%s'", name);
		b->nerr++;
		return at;
	}
	/* a big file may use aliases more: one value a byte */
	limit = add_sat(SPEC_ALIAS_MAX, b->f->len);
	b->alias_weight = add_sat(b->alias_weight, n->weight);
	if (b->alias_weight > limit) {
		dg = spec_diag_at(b->diags, at, "alias '*%s' takes the file "
		    "over %zu values from aliases (it stands for %zu)", name,
		    limit, n->weight);
		spec_diag_hint(dg, "aliases of aliases grow exponentially; "
		    "write the values out, or nest fewer levels of aliases");
	} else if ((size_t)n->height + b->depth > SPEC_MAX_DEPTH) {
		dg = spec_diag_at(b->diags, at, "alias '*%s' nests values "
		    "deeper than %d levels", name, SPEC_MAX_DEPTH);
		spec_diag_hint(dg, "an alias brings its whole value where it "
		    "is used; use it nearer the top, or write the value out");
	} else
		return n;
	b->nerr++;
	b->alias_failed = true;
	return NULL;
}

static void
on_scalar(struct builder *b, const yaml_event_t *ev)
{
	struct spec_node *n;
	const char *tag = (const char *)ev->data.scalar.tag;
	const char *nul;

	n = node_new(b, SPEC_NODE_SCALAR, &ev->start_mark);
	n->str = arena_strndup(b->a, (const char *)ev->data.scalar.value,
	    ev->data.scalar.length);
	n->len = ev->data.scalar.length;
	switch (ev->data.scalar.style) {
	case YAML_SINGLE_QUOTED_SCALAR_STYLE:
	case YAML_DOUBLE_QUOTED_SCALAR_STYLE:
		n->style = SPEC_STYLE_QUOTED;
		break;
	case YAML_LITERAL_SCALAR_STYLE:
	case YAML_FOLDED_SCALAR_STYLE:
		n->style = SPEC_STYLE_BLOCK;
		break;
	default:
		n->style = SPEC_STYLE_PLAIN;
	}
	if (tag && (strcmp(tag, YAML_STR_TAG) == 0 || strcmp(tag, "!") == 0))
		n->style = SPEC_STYLE_QUOTED;
	if (ev->end_mark.line == ev->start_mark.line &&
	    ev->end_mark.column > ev->start_mark.column)
		n->span = (int)(ev->end_mark.column - ev->start_mark.column);
	if ((nul = memchr(n->str, '\0', n->len)) != NULL) {
		spec_diag_hint(spec_diag_at(b->diags, n, "%s holds a NUL "
		    "character (\\0 or \\u0000) after '%.*s'",
		    b->depth && b->stack[b->depth - 1].node->kind ==
		    SPEC_NODE_MAP && b->stack[b->depth - 1].pending_key ==
		    NULL ? "a key" : "a string", (int)(nul - n->str > 40 ?
		    40 : nul - n->str), n->str), "remove the escape: "
		    "keys and values cannot hold NUL, which would cut them "
		    "short");
		b->nerr++;
	}
	if (ev->data.scalar.anchor)
		add_anchor(b, (const char *)ev->data.scalar.anchor, n);
	attach(b, n);
}

static void
syntax_error(struct builder *b, const yaml_parser_t *p)
{
	struct spec_diag *dg;
	const yaml_mark_t *m = &p->problem_mark;
	char ctx[160] = "";

	if (p->context)
		snprintf(ctx, sizeof(ctx), " %s (started at line %zu)",
		    p->context, p->context_mark.line + 1);
	dg = spec_diag_pos(b->diags, b->f, b->f->path, (int)m->line + 1,
	    (int)m->column + 1, 1, "invalid YAML: %s%s",
	    p->problem ? p->problem : "parse error", ctx);
	if (m->index < b->f->len && b->f->buf[m->index] == '\t')
		spec_diag_hint(dg, "YAML does not allow tabs for indentation; "
		    "use spaces");
	else if (p->problem && strstr(p->problem, "mapping values"))
		spec_diag_hint(dg, "a value containing ': ' must be quoted, "
		    "or the indentation is off");
	else
		spec_diag_hint(dg, "check the indentation and quoting around "
		    "this line");
	b->nerr++;
}

int
spec_file_parse(const char *path, const char *buf, size_t len,
    struct spec_file **out, struct spec_diags *diags)
{
	struct builder b;
	struct spec_file *f;
	yaml_parser_t parser;
	yaml_event_t ev;
	struct spec_node *n;
	bool done = false;
	size_t i;

	f = lr_xcalloc(1, sizeof(*f));
	f->path = lr_xstrdup(path);
	f->buf = lr_xstrndup(buf, len);
	f->len = len;
	memset(&b, 0, sizeof(b));
	b.f = f;
	b.a = lr_xcalloc(1, sizeof(*b.a));
	b.a->next = len < 1024 ? 2048 : len * 2 < 1024 * 1024 ? len * 2 :
	    1024 * 1024;
	f->arena = b.a;
	b.diags = diags;

	if (!yaml_parser_initialize(&parser))
		LR_BUG("yaml_parser_initialize failed");
	yaml_parser_set_input_string(&parser, (const unsigned char *)f->buf,
	    len);
	while (!done) {
		if (!yaml_parser_parse(&parser, &ev)) {
			syntax_error(&b, &parser);
			break;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (++b.ndocs == 2) {
				spec_diag_pos(diags, f, f->path,
				    (int)ev.start_mark.line + 1,
				    (int)ev.start_mark.column + 1, 3,
				    "several YAML documents in one file");
				spec_diag_hint(&diags->v[diags->n - 1],
				    "keep one document per file; remove "
				    "the '---' line or split the file");
				b.nerr++;
				done = true;
			}
			break;
		case YAML_MAPPING_START_EVENT:
		case YAML_SEQUENCE_START_EVENT:
			if (b.depth < SPEC_MAX_DEPTH)
				goto open;
			spec_diag_pos(diags, f, f->path,
			    (int)ev.start_mark.line + 1,
			    (int)ev.start_mark.column + 1, 1,
			    "YAML nested deeper than %d levels",
			    SPEC_MAX_DEPTH);
			b.nerr++;
			done = true;
			break;
		open:
			if (ev.type == YAML_SEQUENCE_START_EVENT) {
				open_container(&b, SPEC_NODE_SEQ, &ev,
				    ev.data.sequence_start.anchor);
				break;
			}
			open_container(&b, SPEC_NODE_MAP, &ev,
			    ev.data.mapping_start.anchor);
			break;
		case YAML_MAPPING_END_EVENT:
		case YAML_SEQUENCE_END_EVENT:
			close_container(&b);
			break;
		case YAML_SCALAR_EVENT:
			on_scalar(&b, &ev);
			break;
		case YAML_ALIAS_EVENT:
			if ((n = on_alias(&b, &ev)) == NULL)
				done = true;
			else
				attach(&b, n);
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	/* on error, free the open frames; the partial tree is dropped */
	for (i = 0; i < b.depth; i++)
		free(b.stack[i].anchor);
	free(b.stack);
	free(b.items);
	for (i = 0; i < b.nanchors; i++)
		free(b.anchors[i].name);
	free(b.anchors);
	if (b.nerr && (b.depth || b.alias_failed))
		f->root = NULL;
	*out = f;
	return b.nerr ? LR_EINVAL : 0;
}

void
spec_file_free(struct spec_file *f)
{
	if (f == NULL)
		return;
	arena_free(f->arena);
	free(f->path);
	free(f->buf);
	free(f);
}

const char *
spec_file_line(const struct spec_file *f, int line, size_t *len)
{
	const char *p, *end, *nl;
	int l = 1;

	if (f == NULL || f->buf == NULL || line < 1)
		return NULL;
	p = f->buf;
	end = f->buf + f->len;
	while (l < line) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			return NULL;
		p = nl + 1;
		l++;
	}
	nl = memchr(p, '\n', (size_t)(end - p));
	*len = (size_t)((nl ? nl : end) - p);
	if (*len && p[*len - 1] == '\r')
		(*len)--;
	return p;
}
