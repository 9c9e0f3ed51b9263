/*
 * YAML documents as trees of positioned nodes, built from libyaml events.
 *
 * A struct spec_file owns its bytes and every node of its tree (one arena,
 * freed at once).  Aliases share the anchored node; merge keys ('<<') are
 * expanded.  Duplicate keys, syntax errors and unsupported constructs
 * (several documents in one file) are reported as diagnostics.
 */
#ifndef SPEC_NODE_H
#define SPEC_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "diag.h"

enum spec_node_kind { SPEC_NODE_SCALAR, SPEC_NODE_MAP, SPEC_NODE_SEQ };

enum spec_scalar_style {
	SPEC_STYLE_PLAIN,	/* unquoted: resolved as null/bool/int/float */
	SPEC_STYLE_QUOTED,	/* '...' or "...": always a string */
	SPEC_STYLE_BLOCK	/* | or >: always a string */
};

struct spec_node {
	enum spec_node_kind kind;
	int	 line, col;		/* 1-based start of the node */
	int	 span;			/* length on its first line, >= 1 */
	const struct spec_file *file;	/* the file it came from */
	/* SCALAR */
	char	*str;			/* NUL-terminated value */
	size_t	 len;
	enum spec_scalar_style style;
	/* MAP: keys[i] (scalars) -> vals[i]; SEQ: vals[i] */
	size_t	 n;
	struct spec_node **keys;
	struct spec_node **vals;
	/*
	 * With aliases expanded: how many nodes (saturating), and how many
	 * levels of containers (0 for a scalar).
	 */
	size_t	 weight;
	int	 height;
};

struct spec_file {
	char	*path;		/* owned, repo-relative */
	char	*buf;		/* owned contents, NUL-terminated */
	size_t	 len;
	struct spec_node *root;	/* NULL when empty or unparseable */
	void	*arena;		/* private: node storage */
};

/*
 * Aliases may add at most this many values to a file, plus one a byte of
 * the file, counted as expanded (each use of an alias adds every value it
 * stands for): a "billion laughs" is refused where it is written, while a
 * big inventory may give each of its hosts '<<: *defaults'.
 */
#define SPEC_ALIAS_MAX	1000000
/* Containers nest at most this deep, aliases expanded. */
#define SPEC_MAX_DEPTH	64

/*
 * Parse buf[0..len) (copied) as one YAML document named path.  Always
 * returns a file (never NULL); on syntax errors, diagnostics are added and
 * root is NULL; so it is when aliases expand past SPEC_ALIAS_MAX or
 * SPEC_MAX_DEPTH.  A NUL character in a scalar (a key or a value, written
 * "\0" or "\u0000") is an error at the scalar: C strings would end there.
 * Returns 0, or LR_EINVAL when errors were added.
 */
int	spec_file_parse(const char *path, const char *buf, size_t len,
	    struct spec_file **out, struct spec_diags *diags);
void	spec_file_free(struct spec_file *f);
/* The text of line (1-based) without its newline, borrowed; NULL if none. */
const char *spec_file_line(const struct spec_file *f, int line, size_t *len);

/* ---- node queries (all borrowed, NULL-safe) ---- */

/* Value of key in a map node, or NULL. */
struct spec_node *spec_node_get(const struct spec_node *map, const char *key);
/* Key node of key in a map node, or NULL. */
struct spec_node *spec_node_key(const struct spec_node *map, const char *key);
bool	spec_node_is_null(const struct spec_node *n);
bool	spec_node_is_str(const struct spec_node *n);	/* scalar, not null */
/* "a mapping", "a list", "a string", "an integer", "a boolean", "null" */
const char *spec_node_describe(const struct spec_node *n);

/*
 * Convert to JSON with YAML 1.2 core-schema resolution of plain scalars
 * (null, true/false, ints incl. 0x/0o, floats); new reference.
 */
json_t	*spec_node_to_json(const struct spec_node *n);

/* ---- schema helpers: each adds a diagnostic on failure ---- */

/*
 * Check n is a map whose keys are all in allowed (NULL-terminated).  what
 * names the object ("service 'web'"), section the leura-spec(5) section
 * for the hint ("SERVICES"), or another page's ("leura(1), FILES").
 * Unknown keys get a did-you-mean hint.
 * Returns false when n is not a map (a diagnostic was added).
 */
bool	spec_check_map(struct spec_diags *d, const struct spec_node *n,
	    const char *what, const char *const *allowed, const char *section);
/* Require key in map n; adds "missing required key" at n when absent. */
struct spec_node *spec_require(struct spec_diags *d, const struct spec_node *n,
	    const char *key, const char *what);

/* Typed reads: return 0 and write *out, or add a diagnostic and return -1. */
int	spec_get_str(struct spec_diags *d, const struct spec_node *n,
	    const char *what, const char **out);	/* borrowed from n */
int	spec_get_int(struct spec_diags *d, const struct spec_node *n,
	    const char *what, int64_t min, int64_t max, int64_t *out);
int	spec_get_bool(struct spec_diags *d, const struct spec_node *n,
	    const char *what, bool *out);
/* "30s", "5m", "1h30m", "250ms", "2d", or a bare integer of seconds. */
int	spec_get_duration(struct spec_diags *d, const struct spec_node *n,
	    const char *what, int64_t *ms);
/* Octal file mode as a string "0644"/"644"/"u=rw" not accepted; 0..07777. */
int	spec_get_mode(struct spec_diags *d, const struct spec_node *n,
	    const char *what, int *mode);
/* TCP/UDP port 1..65535. */
int	spec_get_port(struct spec_diags *d, const struct spec_node *n,
	    const char *what, int *port);
/*
 * A list of strings (a single string is accepted as a one-item list).
 * *items is a new array the caller frees; the nodes in it are borrowed.
 */
int	spec_get_strlist(struct spec_diags *d, const struct spec_node *n,
	    const char *what, const struct spec_node ***items, size_t *nitems);

/*
 * etcd endpoints: a list of http://, https:// or unix:/// URLs (a single
 * string is a one-item list), each checked with a positioned error; an
 * empty list is "WHAT is empty" with empty_hint.  A new comma-separated
 * string (as LEURA_ETCD takes it) the caller frees, or NULL when no entry
 * is good.
 */
char	*spec_get_endpoints(struct spec_diags *d, const struct spec_node *n,
	    const char *what, const char *empty_hint);

/* Parse a duration string; 0 or -1 (no diagnostic). */
int	spec_parse_duration(const char *s, int64_t *ms);

/*
 * The tests of spec_check_map(), spec_get_int() and spec_get_strlist(),
 * without a diagnostic: true when those would add nothing (and, for
 * spec_node_int, *out is the value).  Loaders try these first so that
 * the names used in messages are formatted only when one is needed.
 */
bool	spec_map_has_only(const struct spec_node *n,
	    const char *const *allowed);
bool	spec_node_int(const struct spec_node *n, int64_t *out);
bool	spec_node_is_strlist(const struct spec_node *n);

#endif
