/*
 * libFuzzer target: what leura-agent reads from etcd, which it does not
 * trust (docs/security.md).  Host documents and heads go through the
 * agent's checks (agent/trust.c over proto_verify_value: the signature
 * member cut off the exact bytes, the host, the generation of the key, a
 * replay), and what passes goes on to the agent's readers: the stamp and
 * head decoders (proto/doc.c), the report decoder for other hosts'
 * reports (proto/report.c), and the turndown steps the agent works out
 * from the old and the new document (agent/desired.c).  Nothing may
 * crash, leak or pass a check it should not.
 *
 * The first byte picks the mode:
 *   0  the rest is a stored value under h1's key of generation 3, as an
 *      attacker would write it (mostly refused: the fuzzer has no key);
 *   1  the rest is a document's text U: signed for h1 with the test key,
 *      then the byte at the offset the second byte names is flipped
 *      (0: none), and checked: an untouched one must pass, for h1 only;
 *   2  the rest is two texts split at the first NUL, the old and the new
 *      document, both signed and checked, then the turndown of the two;
 *   3  the rest is a head's value, checked as a head, and a report of
 *      another host, decoded.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "converge-int.h"
#include "doc.h"
#include "keys.h"
#include "log.h"
#include "report.h"
#include "sign.h"
#include "trust.h"
#include "xalloc.h"

#define KEY3 "/leura/desired/hosts/h1/000000000003/" \
	"0000000000000000000000000000000000000000000000000000000000000000"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct lr_sign_key *priv, *pub;
static struct agent_trust *trust;

/* A key pair of our own, made once in a temp folder. */
static void
init(void)
{
	char dir[] = "/tmp/leura-fuzz-agentdoc.XXXXXX", id[LR_SIGN_ID_LEN + 1];
	char *k, *p;
	struct lr_err err;

	if (trust != NULL)
		return;
	lr_log_set_level(-1);		/* refusals are the normal case */
	if (mkdtemp(dir) == NULL)
		abort();
	k = lr_xasprintf("%s/%s", dir, LR_SIGN_PRIVATE_NAME);
	p = lr_xasprintf("%s/%s", dir, LR_SIGN_PUBLIC_NAME);
	if (lr_sign_keygen(k, p, false, id, &err) < 0 ||
	    lr_sign_key_load_private(k, &priv, &err) < 0 ||
	    lr_sign_key_load_public(p, &pub, &err) < 0) {
		fprintf(stderr, "fuzz_agentdoc: %s\n", err.msg);
		abort();
	}
	unlink(k);
	unlink(p);
	rmdir(dir);
	free(k);
	free(p);
	trust = agent_trust_new(pub, "h1", NULL, NULL, NULL);
}

/* What the agent and its readers do with a document it let in. */
static void
readers(const json_t *doc)
{
	struct proto_doc_stamp st;
	struct proto_head h;
	struct proto_report r;
	json_t *un, *cur;

	proto_doc_stamp_decode(doc, &st);
	if ((un = proto_doc_unstamp(doc)) != NULL)
		json_decref(un);
	proto_head_decode(doc, &h);
	proto_report_decode(doc, &r);
	(void)agent_trust_fresh(trust, KEY3, st.generation);
	cur = json_pack("{s:[]}", "turndown");
	conv_turndown_add(cur, doc, doc);
	conv_turndown_add(cur, doc, NULL);
	conv_turndown_add(cur, NULL, doc);
	json_decref(cur);
}

/* The text of a non-empty JSON object as proto_sign_value wants it. */
static bool
signable(const char *u, size_t len)
{
	return len >= 3 && u[0] == '{' && u[1] != '}' && u[len - 1] == '}' &&
	    strlen(u) == len;
}

/* Sign u for host h1, check it back, and flip the byte at `flip` - 1. */
static json_t *
signed_doc(const char *u, size_t len, size_t flip)
{
	struct lr_err err;
	json_t *v = NULL, *other = NULL;
	char *val;
	size_t vlen;
	int rc;

	if (!signable(u, len))
		return NULL;
	val = proto_sign_value(u, "h1", priv);
	vlen = strlen(val);
	if (flip > 0 && flip <= vlen)
		val[flip - 1] ^= 0x01;
	rc = proto_verify_value(val, vlen, "h1", pub, &v, &err);
	/* changed, it must never pass; untouched, it must, for h1 only */
	if (flip > 0 && flip <= vlen && rc == 0)
		abort();
	if (flip == 0 || flip > vlen) {
		if (rc != 0 && strstr(err.msg, "not a JSON object") == NULL)
			abort();
		if (proto_verify_value(val, vlen, "h2", pub, &other, &err) ==
		    0)
			abort();
	}
	free(val);
	return v;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data + 1;
	size_t n = size ? size - 1 : 0, flip, i;
	json_t *v, *w;
	char *buf;

	init();
	if (size == 0)
		return 0;
	switch (data[0] % 4) {
	case 0:
		if ((v = agent_trust_doc(trust, KEY3, 3, p, n)) != NULL) {
			/* no key signed it: only an unsigned reader passes */
			abort();
		}
		break;
	case 1:
		flip = n ? (unsigned char)p[0] : 0;
		buf = lr_xmalloc(n + 1);
		memcpy(buf, p + (n ? 1 : 0), n ? n - 1 : 0);
		buf[n ? n - 1 : 0] = '\0';
		if ((v = signed_doc(buf, n ? n - 1 : 0, flip)) != NULL) {
			readers(v);
			json_decref(v);
		}
		free(buf);
		break;
	case 2:
		buf = lr_xmalloc(n + 1);
		memcpy(buf, p, n);
		buf[n] = '\0';
		for (i = 0; i < n && buf[i] != '\0'; i++)
			;
		v = signed_doc(buf, i, 0);
		w = i < n ? signed_doc(buf + i + 1, strlen(buf + i + 1), 0) :
		    NULL;
		if (v != NULL && w != NULL) {
			json_t *cur = json_pack("{s:[]}", "turndown");

			conv_turndown_add(cur, v, w);
			conv_turndown_add(cur, w, v);
			json_decref(cur);
		}
		json_decref(v);
		json_decref(w);
		free(buf);
		break;
	default:
		v = agent_trust_head(trust, "/leura/desired/head", p, n);
		if (v != NULL)
			abort();
		{
			struct lr_err err;
			struct proto_report r;

			if ((v = proto_value_parse("/leura/observed/h2", p, n,
			    &err)) != NULL) {
				proto_report_decode(v, &r);
				readers(v);
				json_decref(v);
			}
		}
		break;
	}
	return 0;
}
