/*
 * The codec of the documents the reconciler writes (docs/etcd-layout.md):
 * a host's desired state (P/desired/hosts/...), its tombstone, and the
 * head, which is also the deploy record (P/desired/head,
 * P/source/deploys/<N>).  And the one way to read any JSON value from
 * etcd (proto_value_parse).
 *
 * Every document is written as its canonical text: compact JSON, keys
 * sorted (PROTO_DUMP_FLAGS).  A host document's key names the SHA-256 of
 * that text without the stamp (commit, deploy, generation); the stored
 * value is the stamp followed by the canonical text.  These bytes are
 * what existing clusters hold: they must never change.
 *
 * Field names are in fields.h.  Nothing here touches etcd or prints.
 */
#ifndef PROTO_DOC_H
#define PROTO_DOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "err.h"
#include "fields.h"
#include "hash.h"
#include "sign.h"

#define PROTO_DUMP_FLAGS	(JSON_COMPACT | JSON_SORT_KEYS)

/* The canonical text of any document: new string, the caller's. */
char	*proto_dumps(const json_t *doc);

/*
 * The value of key in etcd (len bytes at val) as a JSON object: a new
 * reference, or NULL with err set ("the value of 'KEY' in etcd is not
 * JSON: ..." or "... is not a JSON object", and a hint to delete or
 * restore it).
 */
json_t	*proto_value_parse(const char *key, const char *val, size_t len,
	    struct lr_err *err);

/* ---- a host's desired state ---- */

/*
 * The canonical text of doc (a host's desired state without its stamp)
 * and its SHA-256 into sha: the hash its key names.  New string.
 */
char	*proto_doc_canonical(const json_t *doc,
	    char sha[LR_SHA256_HEX_LEN + 1]);
/*
 * The stored value of a document: {"commit","deploy","generation"} then
 * the members of its canonical text (proto_doc_canonical; a non-empty
 * object).  New string.
 */
char	*proto_doc_value(const char *canonical, int64_t gen, int64_t deploy,
	    const char *commit);
/* At least strlen(proto_doc_value(...)), without building it. */
size_t	 proto_doc_value_max(size_t canonical_len, const char *commit);
/*
 * The stored value of a tombstone (key name PROTO_TOMBSTONE): its stamp
 * and no services, steps or dependencies, in the order it always had.
 */
char	*proto_tombstone_value(int64_t gen, int64_t deploy,
	    const char *commit);

/* The stamp of a stored document (strings borrowed from it). */
struct proto_doc_stamp {
	int64_t	 generation;
	int64_t	 deploy;
	const char *commit;	/* NULL when absent */
	bool	 removed;	/* a tombstone */
};

void	proto_doc_stamp_decode(const json_t *doc, struct proto_doc_stamp *out);
/* doc without its stamp and its signature: new reference. */
json_t	*proto_doc_unstamp(const json_t *doc);

/* ---- the head and the deploy records ---- */

struct proto_head {
	int64_t	 deploy;
	int64_t	 generation;
	const char *commit;
	const char *tree;	/* NULL: left out */
	const char *ref;	/* NULL: left out */
	const char *summary;	/* NULL: left out */
	const char *author;	/* NULL: left out */
	const char *by;
	const char *at;		/* ISO-8601 UTC */
	bool	 rollback;
	int64_t	 hosts;
	int64_t	 hosts_written;
	const char *leura;	/* version that compiled it */
	const char *apply_id;
	/* the head it replaced: absent (NULL commit) for the first */
	int64_t	 previous_deploy;
	const char *previous_commit;
	/*
	 * {svc: [hosts]}: a turndown of svc on a host it left waits for
	 * svc to validate on these hosts (agent/converge.c); NULL or empty:
	 * left out
	 */
	const json_t *make_before_break;
	/*
	 * Generations never deployed: [[lo, hi]...], inclusive ranges,
	 * sorted; the ones allocated by applies that did not commit, this
	 * head's and every earlier head's.  A document of such a generation
	 * is signed but was never in force: a reader ignores it, so a copy
	 * kept and put back later (a replay) never runs.  NULL or empty:
	 * left out.
	 */
	const json_t *skipped;
};

/* New reference; strings are copied. */
json_t	*proto_head_encode(const struct proto_head *h);
/*
 * The skipped list of a new head: prev's (a head's PROTO_HEAD_SKIPPED,
 * may be NULL) with [lo, hi] added when lo <= hi, adjacent and
 * overlapping ranges merged.  New reference.
 */
json_t	*proto_skipped_add(const json_t *prev, int64_t lo, int64_t hi);
/* Whether generation g is in skipped (NULL: none is). */
bool	 proto_skipped_has(const json_t *skipped, int64_t g);
/*
 * Read head (a head or a deploy record) into out; strings are borrowed
 * from it, NULL (numbers 0) when absent or of another type.
 */
void	 proto_head_decode(const json_t *head, struct proto_head *out);

/* ---- signatures (docs/security.md) ---- */

/*
 * etcd is not trusted for integrity: apply signs the stored value U of
 * every host document, tombstone and head with the fleet's key, and
 * agents check it before they act.  A signed value is U with one more,
 * last member, "signature": lr_sign()'s text over
 *
 *   "leura-doc-v1\n" HOST "\n" U     a host's document or tombstone
 *   "leura-head-v1\n" U               the head
 *   "leura-run-v1\n" HOST "\n" U      a task run's step dispatched to
 *                                     HOST (P/runs/dispatch/, leurad)
 *
 * so a document is bound to its host (the key it sits under cannot move
 * it to another) and, through U's stamp, to its generation.  The
 * verifier cuts the member off the bytes it read and checks the exact
 * bytes that were signed, then parses those: nothing is re-serialised.
 */

/* U (a JSON object's text) signed for host (NULL: the head).  New string. */
char	*proto_sign_value(const char *u, const char *host,
	    const struct lr_sign_key *k);
/* A run dispatch U signed for host (leurad's key).  New string. */
char	*proto_sign_run_value(const char *u, const char *host,
	    const struct lr_sign_key *k);
/* Bytes a signature adds to a value, at most. */
#define PROTO_SIGN_OVERHEAD	128

/*
 * Check the signed value val[0..len) for host (NULL: the head) with the
 * trusted keys, and parse what was signed: *out is a new reference to U
 * as a JSON object.  LR_EINVAL when it is not signed, when the signature
 * is not one of keys' or does not match, or when U is not a JSON object;
 * err says which ("it is not signed", "it is signed with key ..., which
 * is not among the trusted keys", "the signature does not match ...").
 * The caller adds what the value is and the hint.
 */
int	proto_verify_value(const char *val, size_t len, const char *host,
	    const struct lr_sign_key *keys, json_t **out, struct lr_err *err);
/*
 * The same for a run dispatch under P/runs/dispatch/HOST/: a document
 * signed as a host's desired state does not pass as a dispatch, nor the
 * reverse (the contexts differ).
 */
int	proto_verify_run_value(const char *val, size_t len, const char *host,
	    const struct lr_sign_key *keys, json_t **out, struct lr_err *err);

#endif
