/*
 * libFuzzer target: what the reconciler reads from etcd that others wrote.
 * Keys go through the one key parser (proto/keys.h); documents — reports,
 * heartbeats, heads, step results, host documents — through the proto/
 * decoders and the pure readers of leura status (rec_status) and apply
 * --wait (rec_follow).  An agent's report is input from another host: a
 * damaged or hostile one must be shown as unreadable, never crash.
 *
 * The first byte picks the mode:
 *   0  the rest is a key under "/leura";
 *   1  the rest is one JSON value, read as every kind of document;
 *   2  the rest is lines "KEY\tVALUE" fed to a follow of two hosts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "doc.h"
#include "follow.h"
#include "keys.h"
#include "report.h"
#include "state.h"
#include "xalloc.h"

#define PFX "/leura"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
keys(const char *k)
{
	struct proto_key pk;
	char host[64];
	const char *name;
	int64_t gen;

	(void)proto_key_parse(PFX, k, &pk);
	(void)proto_doc_key_split(k, host, sizeof(host), &gen, &name);
	(void)proto_key_doc_generation(k, PFX "/desired/hosts/web1/");
	(void)proto_key_host_in(k, PFX "/observed/");
}

static void
documents(const char *buf, size_t len)
{
	struct proto_report r;
	struct proto_head h;
	struct proto_facts f;
	struct proto_step_result s;
	struct proto_doc_stamp st;
	json_t *v, *obs, *agt, *tgt, *st_out, *un;
	char *detail = NULL;

	if ((v = json_loadb(buf, len, JSON_DECODE_ANY, NULL)) == NULL)
		return;
	proto_report_decode(v, &r);
	proto_head_decode(v, &h);
	proto_facts_decode(v, &f);
	proto_step_result_decode(v, &s);
	proto_doc_stamp_decode(v, &st);
	if ((un = proto_doc_unstamp(v)) != NULL)
		json_decref(un);
	free(rec_step_reason(json_object_get(v, "failed_steps"), "failed"));
	obs = json_pack("{s:O, s:O}", "web1", v, "web2", v);
	agt = json_pack("{s:O}", "web1", v);
	tgt = json_pack("{s:i, s:i}", "web1", 1, "web2", 2);
	(void)rec_follow_decide("web1", 1, obs, agt, tgt, &detail);
	free(detail);
	detail = NULL;
	(void)rec_follow_decide("web2", 2, obs, agt, tgt, &detail);
	free(detail);
	st_out = rec_status(obs, obs, agt, 1796652799);
	json_decref(st_out);
	json_decref(tgt);
	json_decref(agt);
	json_decref(obs);
	json_decref(v);
}

static void
follow(const char *buf, size_t len)
{
	struct rec_follow f;
	struct lr_buf b = LR_BUF_INIT;
	json_t *tgt = json_pack("{s:i, s:i}", "web1", 1, "web2", 2);
	const char *p = buf, *end = buf + len, *nl, *tab;
	struct etcd_kv kv;

	rec_follow_init(&f, PFX, tgt, 0);
	while (p < end) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		memset(&kv, 0, sizeof(kv));
		if ((tab = memchr(p, '\t', (size_t)(nl - p))) != NULL) {
			kv.key = lr_xstrndup(p, (size_t)(tab - p));
			kv.value = lr_xstrndup(tab + 1, (size_t)(nl - tab - 1));
			kv.value_len = (size_t)(nl - tab - 1);
			kv.mod_revision = 1;
			rec_follow_put(&f, &kv);
		} else {
			kv.key = lr_xstrndup(p, (size_t)(nl - p));
			if (*kv.key == '\0')
				rec_follow_clear(&f);
			else
				rec_follow_del(&f, kv.key);
		}
		free(kv.key);
		free(kv.value);
		(void)rec_follow_update(&f, 1000);
		p = nl + 1;
	}
	rec_follow_progress(f.hosts, f.n, 1, 1000, &b);
	(void)rec_follow_all_converged(&f);
	lr_buf_release(&b);
	rec_follow_release(&f);
	json_decref(tgt);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	if (size < 1 || size > 1 << 16)
		return 0;
	s = lr_xstrndup((const char *)data + 1, size - 1);
	switch (data[0] % 3) {
	case 0:
		keys(s);
		break;
	case 1:
		documents(s, size - 1);
		break;
	default:
		follow(s, size - 1);
		break;
	}
	free(s);
	return 0;
}
