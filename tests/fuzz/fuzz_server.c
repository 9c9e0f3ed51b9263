/*
 * libFuzzer target: what leurad parses from a request before any grant
 * is checked: a request body as a strict JSON object (srv_body_object),
 * the push payloads of the three webhook providers (src_push_parse), the
 * signature headers (src_hook_verify) and resource and name checks
 * (auth_resource_check, auth_name_check).  The first byte picks the
 * parser; the rest is the input.  Finds crashes and leaks on any input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth-int.h"
#include "source.h"
#include "srv-int.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const allowed[] = { "name", "password", "members",
	NULL };

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct srv_req req;
	struct srv_resp resp;
	struct src_push push;
	struct src_hook_headers h;
	struct lr_err err;
	json_t *o = NULL;
	char *s;
	unsigned which;

	if (size == 0)
		return 0;
	which = data[0] % 7;
	data++;
	size--;
	/* a NUL-terminated copy, as the core hands bodies and headers */
	s = malloc(size + 1);	/* ours */
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	lr_err_clear(&err);
	switch (which) {
	case 0:
		memset(&req, 0, sizeof(req));
		memset(&resp, 0, sizeof(resp));
		req.body = s;
		req.body_len = size;
		if (srv_body_object(&req, &resp, allowed, &o) == 0)
			json_decref(o);
		srv_resp_release(&resp);
		break;
	case 1:
	case 2:
	case 3:
		memset(&push, 0, sizeof(push));
		(void)src_push_parse(which == 1 ? SRC_GITHUB :
		    which == 2 ? SRC_GITEA : SRC_GITLAB, s, size, &push, &err);
		src_push_release(&push);
		break;
	case 4:
		/* the header is the input up to its first NUL; the body the
		   same bytes */
		memset(&h, 0, sizeof(h));
		if (size % 3 == 0)
			h.github = s;
		else if (size % 3 == 1)
			h.gitea = s;
		else
			h.gitlab = s;
		(void)src_hook_verify("secret", 6, &h, s, size, &err);
		break;
	case 5:
		(void)auth_resource_check(s, size % 2 == 0, &err);
		break;
	default:
		(void)auth_name_check("user", s, &err);
		break;
	}
	free(s);
	return 0;
}
