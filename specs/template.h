/*
 * Templates: "{{ params.port }}", "{{ host.vars.zone }}",
 * "{{ services.db.hosts | join(',') }}".
 *
 * Names are dotted paths into one JSON context object built by the caller:
 *   {"params":{...}, "host":{"name","address","vars":{...},"groups":[...]},
 *    "service":{"name"}, "services":{"<svc>":{"hosts":[...]}}}
 * An undefined name is an error, never an empty string.  Rendering is pure:
 * no I/O, no globals.
 *
 * Syntax: "{{ expr }}" where expr is  primary [ '|' filter ]...,
 * primary = path or a quoted string, path = ident ( '.' ident | '[' int ']' )*,
 * ident = [A-Za-z_][A-Za-z0-9_-]* (so "services.my-db.hosts" works).
 * Filters: join(sep) (a list, items rendered as below), default(value) (when
 * the value is undefined or null), upper, lower (ASCII; strings, numbers,
 * booleans), quote (POSIX shell single quoting: 'it'\''s').  Filter
 * arguments are literals: '...' or "..." (escapes \\ \' \" \n \t), numbers
 * (80, -1, 0.5, 1e3; rendered as written), true, false.  An expression ends
 * at the first "}}" outside quotes and never spans lines.  "{{{{" is not
 * special; write a literal "{{" as "{{ '{{' }}".  Text outside {{ }} is
 * copied unchanged, NUL bytes included.
 *
 * Value rendering: strings as is, integers in decimal, reals in the shortest
 * form that reads back exactly ("1.5", "2.0"), true/false; lists and objects
 * without a filter render as compact JSON.  null is an error unless
 * default() replaces it.
 */
#ifndef SPEC_TEMPLATE_H
#define SPEC_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "buf.h"

struct spec_tmpl_error {
	size_t	 offset;	/* byte offset of the offending "{{" */
	size_t	 len;		/* through its "}}"; to the end of the line when
				   it has none */
	char	 msg[256];	/* "undefined name 'params.prot'" */
	char	 hint[256];	/* "did you mean 'params.port'?" or "" */
};

/* True when text contains "{{" at all (fast path: nothing to render). */
bool	spec_tmpl_has_expr(const char *text, size_t len);

/*
 * Render text[0..len) with ctx (borrowed; may be NULL: no names) into out
 * (appended).  Returns 0, or -1 with *e (may be NULL) filled for the first
 * problem: a syntax error anywhere in that expression first, then an
 * undefined name, a null, or a filter given the wrong type.  On failure out
 * is left as it was.  Safe on arbitrary bytes; any thread.
 */
int	spec_tmpl_render(const char *text, size_t len, const json_t *ctx,
	    struct lr_buf *out, struct spec_tmpl_error *e);

/*
 * A template parsed once to be rendered many times: the expressions are
 * found once, and a plain dotted path ("{{ params.port }}") is looked up
 * without being parsed again.  spec_tmpl_render_parsed() gives exactly
 * what spec_tmpl_render() gives for the same text (output, return value,
 * error).  text is borrowed and must outlive the template; free it with
 * spec_tmpl_free() (NULL is fine).
 */
struct spec_tmpl;
struct spec_tmpl *spec_tmpl_parse(const char *text, size_t len);
/* True when the text has no "{{" at all: it renders as itself. */
bool	spec_tmpl_is_text(const struct spec_tmpl *t);
int	spec_tmpl_render_parsed(const struct spec_tmpl *t, const json_t *ctx,
	    struct lr_buf *out, struct spec_tmpl_error *e);
void	spec_tmpl_free(struct spec_tmpl *t);

/*
 * Check syntax only (names are not resolved), calling cb (which may be NULL)
 * once per bad expression, in text order; e is borrowed for the call.
 * Returns the number of errors.
 */
typedef void spec_tmpl_error_cb(const struct spec_tmpl_error *e, void *arg);
int	spec_tmpl_check(const char *text, size_t len, spec_tmpl_error_cb *cb,
	    void *arg);

#endif
