/*
 * The one authorization decision (auth-int.h: auth_decide): a pure
 * function of a snapshot of P/auth/, the caller and the question, with
 * the reason in words.  Order: the request must be well formed (resource,
 * user, token scopes), then an explicit grant (direct before group), then
 * the built-in rules:
 *   - owner rule: the creator of a user, group or grant has admin on it;
 *   - a user reads their own users/NAME, a member reads their group, a
 *     grant's subject reads the grant;
 *   - admin on a grant's resource pattern is admin on the grant;
 *   - a token's user, and an admin of users/USER, has admin on tokens/ID.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "auth-int.h"

static const char *const verbs[] = {
	"read", "run", "apply", "approve", "admin"
};

static const char *const kinds[] = {
	"services", "hosts", "tasks", "systems", "users", "groups", "grants",
	"tokens", "events", "fleet", NULL
};

const char *
auth_verb_name(enum auth_verb v)
{
	return (unsigned)v < 5 ? verbs[v] : "?";
}

int
auth_verb_parse(const char *s)
{
	int i;

	for (i = 0; s && i < 5; i++)
		if (strcmp(s, verbs[i]) == 0)
			return i;
	return -1;
}

int
auth_name_check(const char *what, const char *name, struct lr_err *err)
{
	size_t i, n = name ? strlen(name) : 0;
	const char *rule = "names are 1 to 64 of a-z 0-9 . _ -, starting "
	    "with a letter or digit";

	if (n == 0 || n > AUTH_NAME_MAX)
		goto bad;
	for (i = 0; i < n; i++) {
		char c = name[i];

		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
			continue;
		if (i > 0 && (c == '.' || c == '_' || c == '-'))
			continue;
		goto bad;
	}
	return 0;
bad:
	lr_err_set(err, LR_EINVAL, "invalid %s name '%.80s'", what,
	    name ? name : "");
	lr_err_hint(err, "%s", rule);
	return -1;
}

int
auth_resource_check(const char *res, bool pattern, struct lr_err *err)
{
	const char *p, *seg, *slash;
	size_t n, k, nseg = 0;

	if (!res || !*res)
		return lr_err_set(err, LR_EINVAL, "empty resource");
	if (strlen(res) > AUTH_RESOURCE_MAX) {
		lr_err_set(err, LR_EINVAL, "resource longer than %d bytes",
		    AUTH_RESOURCE_MAX);
		return lr_err_hint(err, "a resource is KIND/NAME");
	}
	if (pattern && strcmp(res, "*") == 0)
		return 0;
	for (seg = res; seg; seg = slash ? slash + 1 : NULL) {
		slash = strchr(seg, '/');
		n = slash ? (size_t)(slash - seg) : strlen(seg);
		if (nseg++ == 0) {
			for (k = 0; kinds[k]; k++)
				if (strlen(kinds[k]) == n &&
				    strncmp(kinds[k], seg, n) == 0)
					break;
			if (!kinds[k]) {
				lr_err_set(err, LR_EINVAL, "resource "
				    "'%.80s': unknown kind '%.*s'", res,
				    (int)(n > 40 ? 40 : n), seg);
				return lr_err_hint(err, "kinds: services, "
				    "hosts, tasks, systems, users, groups, "
				    "grants, tokens, events, fleet (or \"*\")");
			}
			continue;
		}
		if (n == 0 || (n == 1 && seg[0] == '.') ||
		    (n == 2 && seg[0] == '.' && seg[1] == '.')) {
			lr_err_set(err, LR_EINVAL, "resource '%.80s': empty, "
			    "'.' or '..' segment", res);
			return lr_err_hint(err, "a resource is KIND/NAME, "
			    "e.g. services/web");
		}
		for (p = seg; p < seg + n; p++) {
			char c = *p;

			if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    (c >= '0' && c <= '9') || c == '.' || c == '_' ||
			    c == '-' || c == ':' || c == '@' ||
			    (pattern && c == '*'))
				continue;
			lr_err_set(err, LR_EINVAL, "resource '%.80s': "
			    "character 0x%02x not allowed", res,
			    (unsigned char)c);
			return lr_err_hint(err, "names use A-Z a-z 0-9 . _ - : @"
			    "%s", pattern ? " and * (within a segment)" : "");
		}
	}
	if (nseg > 4) {
		lr_err_set(err, LR_EINVAL, "resource '%.80s': more than 4 "
		    "segments", res);
		return lr_err_hint(err, "a resource is KIND/NAME");
	}
	return 0;
}

/* '*' matches any run of characters but '/'; "*" alone matches all. */
static bool
glob(const char *p, const char *s)
{
	for (; *p; p++, s++) {
		if (*p == '*') {
			while (p[1] == '*')
				p++;
			for (;;) {
				if (glob(p + 1, s))
					return true;
				if (!*s || *s == '/')
					return false;
				s++;
			}
		}
		if (*p != *s)
			return false;
	}
	return *s == '\0';
}

bool
auth_glob(const char *pattern, const char *resource)
{
	if (strcmp(pattern, "*") == 0)
		return true;
	return glob(pattern, resource);
}

static void
why_set(struct auth_why *why, bool allowed, const char *grant,
    const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
why_set(struct auth_why *why, bool allowed, const char *grant,
    const char *fmt, ...)
{
	va_list ap;

	if (!why)
		return;
	why->allowed = allowed;
	snprintf(why->grant, sizeof(why->grant), "%s", grant ? grant : "");
	va_start(ap, fmt);
	vsnprintf(why->reason, sizeof(why->reason), fmt, ap);
	va_end(ap);
}

/*
 * An explicit grant of user's (direct first, then through a group) giving
 * verb on resource; *via the group.  NULL: none.
 */
static const struct auth_grant *
grant_match(const struct auth_snapshot *s, const char *user,
    enum auth_verb verb, const char *resource, const char **via)
{
	const struct auth_grant *hit = NULL;
	const char *g;
	size_t i;

	*via = NULL;
	for (i = 0; i < s->ngrants; i++) {
		const struct auth_grant *gr = &s->grants[i];

		if (gr->verb < (int)verb || !auth_glob(gr->resource, resource) ||
		    !auth_subject_covers(s, gr->subject, user, &g))
			continue;
		if (!g)
			return gr;
		if (!hit) {
			hit = gr;
			*via = g;
		}
	}
	return hit;
}

/*
 * Whether user owns what created_by (of uid cuid) made: the same name,
 * and the same user, not one made again under a deleted one's name.
 * Users made before uids existed have none, nor has what they made.
 */
static bool
owns(const struct auth_snapshot *s, const char *user,
    const char *created_by, const char *cuid)
{
	const struct auth_user *u;

	if (!created_by || strcmp(created_by, user) != 0 ||
	    !(u = auth_find_user(s, user)))
		return false;
	if (!u->uid)
		return cuid == NULL;
	return cuid != NULL && strcmp(cuid, u->uid) == 0;
}

/* The built-in rules (see the top); a reason in why when one applies. */
static bool
rules(const struct auth_snapshot *s, const char *user, enum auth_verb verb,
    const char *resource, struct auth_why *why)
{
	const char *name, *via;
	const struct auth_user *u;
	const struct auth_group *g;
	const struct auth_grant *gr, *m;
	const struct auth_token *t;

	if (strncmp(resource, "users/", 6) == 0) {
		name = resource + 6;
		if (!(u = auth_find_user(s, name)))
			return false;
		if (owns(s, user, u->created_by, u->created_by_uid)) {
			why_set(why, true, NULL, "owner: %s created %s", user,
			    resource);
			return true;
		}
		if (verb == AUTH_READ && strcmp(name, user) == 0) {
			why_set(why, true, NULL, "%s is you", resource);
			return true;
		}
	} else if (strncmp(resource, "groups/", 7) == 0) {
		if (!(g = auth_find_group(s, resource + 7)))
			return false;
		if (owns(s, user, g->created_by, g->created_by_uid)) {
			why_set(why, true, NULL, "owner: %s created %s", user,
			    resource);
			return true;
		}
		if (verb == AUTH_READ && auth_group_has(g, user)) {
			why_set(why, true, NULL, "you are a member of %s",
			    resource);
			return true;
		}
	} else if (strncmp(resource, "grants/", 7) == 0) {
		if (!(gr = auth_find_grant(s, resource + 7)))
			return false;
		if (owns(s, user, gr->created_by, gr->created_by_uid)) {
			why_set(why, true, NULL, "owner: %s created %s", user,
			    resource);
			return true;
		}
		if ((m = grant_match(s, user, AUTH_ADMIN, gr->resource,
		    &via))) {
			why_set(why, true, m->id, "grant %s (%s admin %s)%s%s "
			    "covers %s's resource %s", m->id, m->subject,
			    m->resource, via ? " via group " : "",
			    via ? via : "", resource, gr->resource);
			return true;
		}
		if (verb == AUTH_READ &&
		    auth_subject_covers(s, gr->subject, user, NULL)) {
			why_set(why, true, NULL, "%s is a grant to you",
			    resource);
			return true;
		}
	} else if (strncmp(resource, "tokens/", 7) == 0) {
		char ures[AUTH_NAME_MAX + 8];

		if (!(t = auth_find_token_id(s, resource + 7)))
			return false;
		if (strcmp(t->user, user) == 0) {
			why_set(why, true, NULL, "%s is your token", resource);
			return true;
		}
		snprintf(ures, sizeof(ures), "users/%s", t->user);
		if ((m = grant_match(s, user, AUTH_ADMIN, ures, &via))) {
			why_set(why, true, m->id, "grant %s (%s admin %s)%s%s: "
			    "admin of %s's tokens", m->id, m->subject,
			    m->resource, via ? " via group " : "",
			    via ? via : "", t->user);
			return true;
		}
		if ((u = auth_find_user(s, t->user)) && u->created_by &&
		    strcmp(u->created_by, user) == 0) {
			why_set(why, true, NULL, "owner: %s created users/%s",
			    user, t->user);
			return true;
		}
	}
	return false;
}

static void
addf(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
addf(char *buf, size_t cap, const char *fmt, ...)
{
	size_t n = strlen(buf);
	va_list ap;

	if (n + 1 >= cap)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + n, cap - n, fmt, ap);
	va_end(ap);
}

/* The first segment of a resource or pattern, as a length. */
static size_t
kind_len(const char *r)
{
	const char *sl = strchr(r, '/');

	return sl ? (size_t)(sl - r) : strlen(r);
}

/* Denied: up to 3 nearest grants of user's and who administers resource. */
static void
explain_denied(const struct auth_snapshot *s, const char *user,
    enum auth_verb verb, const char *resource, struct auth_why *why)
{
	int best[3] = { 0, 0, 0 };
	size_t idx[3] = { 0, 0, 0 }, i, k, n = 0, nadm = 0;
	char near[200] = "", adm[160] = "";

	for (i = 0; i < s->ngrants; i++) {
		const struct auth_grant *gr = &s->grants[i];
		size_t kl = kind_len(gr->resource);
		int score = 0;

		if (!auth_subject_covers(s, gr->subject, user, NULL))
			continue;
		if (auth_glob(gr->resource, resource))
			score = 3;	/* right place, verb too low */
		else if (kl == kind_len(resource) &&
		    strncmp(gr->resource, resource, kl) == 0)
			score = 2;	/* same kind */
		else
			score = 1;
		for (k = 0; k < 3; k++) {
			if (score > best[k]) {
				memmove(&best[k + 1], &best[k],
				    (2 - k) * sizeof(best[0]));
				memmove(&idx[k + 1], &idx[k],
				    (2 - k) * sizeof(idx[0]));
				best[k] = score;
				idx[k] = i;
				break;
			}
		}
	}
	for (k = 0; k < 3 && best[k] > 0; k++) {
		const struct auth_grant *gr = &s->grants[idx[k]];

		snprintf(why->nearest[n++], sizeof(why->nearest[0]), "%s",
		    gr->id);
		addf(near, sizeof(near), "%s%s (%s %s %s)", k ? ", " : "",
		    gr->id, gr->subject, auth_verb_name(gr->verb),
		    gr->resource);
	}
	why->nnearest = n;
	/* admins of resource: specific ones first, then those of "*" */
	for (k = 0; k < 2; k++) {
		for (i = 0; i < s->ngrants && nadm < 4; i++) {
			const struct auth_grant *gr = &s->grants[i];
			const char *sub = gr->subject;
			bool star = strcmp(gr->resource, "*") == 0;

			if (gr->verb != AUTH_ADMIN || star != (k == 1) ||
			    !auth_glob(gr->resource, resource))
				continue;
			if (strncmp(sub, "user:", 5) == 0) {
				const struct auth_user *u;

				sub += 5;
				if (!(u = auth_find_user(s, sub)) ||
				    u->disabled)
					continue;
			} else if (!auth_find_group(s, sub + 6)) {
				continue;
			}
			if (strstr(adm, sub))
				continue;
			addf(adm, sizeof(adm), "%s%s", nadm++ ? ", " : "",
			    sub);
		}
		if (nadm)
			break;
	}
	if (n)
		snprintf(why->reason, sizeof(why->reason), "no grant gives %s "
		    "on %s; nearest grants are %s", auth_verb_name(verb),
		    resource, near);
	else
		snprintf(why->reason, sizeof(why->reason), "no grant gives %s "
		    "on %s; you have no grants", auth_verb_name(verb),
		    resource);
	if (nadm)
		snprintf(why->hint, sizeof(why->hint), "ask an admin of %s "
		    "(%s) for a grant of %s on %s", resource, adm,
		    auth_verb_name(verb), resource);
	else
		snprintf(why->hint, sizeof(why->hint), "ask a fleet admin "
		    "for a grant of %s on %s", auth_verb_name(verb),
		    resource);
}

bool
auth_decide(const struct auth_snapshot *s, const char *user,
    unsigned scopes, enum auth_verb verb, const char *resource,
    struct auth_why *why)
{
	const struct auth_user *u;
	const struct auth_grant *gr;
	const char *via;
	struct lr_err e = { 0 };
	unsigned need;

	if (why)
		memset(why, 0, sizeof(*why));
	if ((unsigned)verb > AUTH_ADMIN || !s || !user) {
		why_set(why, false, NULL, "no such verb or caller");
		return false;
	}
	if (!resource || auth_resource_check(resource, true, &e) < 0) {
		why_set(why, false, NULL, "%s", e.msg);
		if (why)
			snprintf(why->hint, sizeof(why->hint), "%s", e.hint);
		return false;
	}
	if (!(u = auth_find_user(s, user))) {
		why_set(why, false, NULL, "user '%s' does not exist", user);
		if (why)
			snprintf(why->hint, sizeof(why->hint),
			    "log in again: leura login");
		return false;
	}
	if (u->disabled) {
		why_set(why, false, NULL, "user '%s' is disabled", user);
		if (why)
			snprintf(why->hint, sizeof(why->hint),
			    "ask an admin to enable users/%s", user);
		return false;
	}
	/* a scope of a higher verb allows the lower ones */
	need = AUTH_SCOPES_ALL & ~((1u << verb) - 1);
	if (!(scopes & need)) {
		why_set(why, false, NULL, "this token's scopes do not "
		    "include %s", auth_verb_name(verb));
		if (why)
			snprintf(why->hint, sizeof(why->hint), "use a token "
			    "with scope %s (leura tokens create --scopes %s)",
			    auth_verb_name(verb), auth_verb_name(verb));
		return false;
	}
	if ((gr = grant_match(s, user, verb, resource, &via))) {
		why_set(why, true, gr->id, "grant %s (%s %s %s)%s%s", gr->id,
		    gr->subject, auth_verb_name(gr->verb), gr->resource,
		    via ? " via group " : "", via ? via : "");
		return true;
	}
	if (rules(s, user, verb, resource, why))
		return true;
	if (why) {
		why->allowed = false;
		explain_denied(s, user, verb, resource, why);
	}
	return false;
}
