/*
 * Prometheus file_sd targets for the services' monitoring_endpoints of
 * type static (minicluster's static discovery): one target group per
 * (service, endpoint), its targets the hosts the service is placed on.
 *
 * Dynamic endpoints are found through DNS by Prometheus itself and are
 * left out.  The endpoints are the JSON the spec loader kept, already
 * checked; anything malformed that still gets here is skipped, not
 * trusted.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "inv-int.h"
#include "inventory.h"
#include "xalloc.h"

/* "host:port", "[v6]:port", or without a port "host" and "[v6]": a bare
 * IPv6 address would read as host and port to Prometheus (http://::1/).
 * Caller frees. */
static char *
target(const struct spec_host *h, const json_t *port)
{
	const char *addr = h->address != NULL ? h->address : h->name;
	const char *fmt = strchr(addr, ':') != NULL ? "[%s]:%s" : "%s:%s";
	char *p, *t;

	if (json_is_integer(port))
		p = lr_xasprintf("%" JSON_INTEGER_FORMAT,
		    json_integer_value(port));
	else if (json_is_string(port) && json_string_length(port) > 0)
		p = lr_xstrdup(json_string_value(port));
	else if (strchr(addr, ':') != NULL)
		return lr_xasprintf("[%s]", addr);
	else
		return lr_xstrdup(addr);
	t = lr_xasprintf(fmt, addr, p);
	free(p);
	return t;
}

/* The endpoint's string field key, or dflt when unset or not a string. */
static const char *
field(const json_t *ep, const char *key, const char *dflt)
{
	const char *v = json_string_value(json_object_get(ep, key));

	return v != NULL && *v != '\0' ? v : dflt;
}

static json_t *
target_group(const struct spec_repo *repo, const char *svc,
    const json_t *ep, const size_t *placed, size_t nplaced)
{
	json_t *targets = json_array(), *labels;
	const char *path;
	char *t;
	size_t i;

	for (i = 0; i < nplaced; i++) {
		t = target(&repo->hosts[placed[i]],
		    json_object_get(ep, "port"));
		json_array_append_new(targets, json_string(t));
		free(t);
	}
	/* __scheme__ and __metrics_path__ are what Prometheus acts on */
	labels = json_pack("{s:s, s:s, s:s}",
	    "job", field(ep, "job_name", svc),
	    "service", svc,
	    "__scheme__", field(ep, "scheme", "https"));
	if ((path = field(ep, "metrics_path", NULL)) != NULL)
		json_object_set_new(labels, "__metrics_path__",
		    json_string(path));
	return json_pack("{s:o, s:o}", "targets", targets, "labels", labels);
}

json_t *
inv_prometheus_targets(const struct spec_repo *repo,
    const json_t *placement)
{
	struct inv_hostmap m;
	const struct spec_service *svc;
	const json_t *ep;
	const char *type;
	json_t *out = json_array();
	size_t *placed, nplaced, s, i;

	inv_hostmap_init(&m, repo);
	for (s = 0; s < repo->nservices; s++) {
		svc = &repo->services[s];
		if (svc->name == NULL ||
		    json_array_size(svc->monitoring_endpoints) == 0)
			continue;
		nplaced = inv_placed_hosts(&m, placement, svc->name, &placed);
		json_array_foreach(svc->monitoring_endpoints, i, ep) {
			if (!json_is_object(ep))
				continue;
			type = field(ep, "type", "static");
			if (strcmp(type, "static") != 0)
				continue;
			json_array_append_new(out, target_group(repo,
			    svc->name, ep, placed, nplaced));
		}
		free(placed);
	}
	inv_hostmap_release(&m);
	return out;
}
