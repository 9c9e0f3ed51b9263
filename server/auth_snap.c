/*
 * The in-memory copy of P/auth/ as an immutable snapshot (auth-int.h):
 * built from the loop's map of keys to documents, read by workers.
 */
#include <stdlib.h>
#include <string.h>

#include "auth-int.h"
#include "json.h"
#include "xalloc.h"

static int
user_cmp(const void *a, const void *b)
{
	return strcmp(((const struct auth_user *)a)->name,
	    ((const struct auth_user *)b)->name);
}

static int
group_cmp(const void *a, const void *b)
{
	return strcmp(((const struct auth_group *)a)->name,
	    ((const struct auth_group *)b)->name);
}

static int
grant_cmp(const void *a, const void *b)
{
	return strcmp(((const struct auth_grant *)a)->id,
	    ((const struct auth_grant *)b)->id);
}

static int
token_cmp(const void *a, const void *b)
{
	return strcmp(((const struct auth_token *)a)->hash,
	    ((const struct auth_token *)b)->hash);
}

static unsigned
scopes_decode(const json_t *arr)
{
	unsigned sc = 0;
	size_t i;
	json_t *v;
	int vb;

	if (!json_is_array(arr))
		return AUTH_SCOPES_ALL;
	json_array_foreach(arr, i, v) {
		if (json_is_string(v) &&
		    (vb = auth_verb_parse(json_string_value(v))) >= 0)
			sc |= 1u << vb;
	}
	return sc;
}

/* One entry of master: rel "users/alice" and its {"doc","rev"}. */
static void
add_entry(struct auth_snapshot *s, const char *rel, const json_t *e)
{
	const json_t *doc = json_object_get(e, "doc");
	int64_t rev = lr_json_int(e, "rev");
	const char *name;

	if (!json_is_object(doc))
		return;
	if (strncmp(rel, "users/", 6) == 0) {
		struct auth_user *u;

		if (!(name = lr_json_str(doc, "name")) ||
		    strcmp(name, rel + 6) != 0)
			return;
		u = &s->users[s->nusers++];
		u->name = name;
		u->password = lr_json_str(doc, "password");
		u->uid = lr_json_str(doc, "uid");
		u->created_by = lr_json_str(doc, "created_by");
		u->created_by_uid = lr_json_str(doc, "created_by_uid");
		u->disabled = lr_json_bool(doc, "disabled");
		u->mod_rev = rev;
		u->doc = doc;
	} else if (strncmp(rel, "groups/", 7) == 0) {
		struct auth_group *g;

		if (!(name = lr_json_str(doc, "name")) ||
		    strcmp(name, rel + 7) != 0)
			return;
		g = &s->groups[s->ngroups++];
		g->name = name;
		g->created_by = lr_json_str(doc, "created_by");
		g->created_by_uid = lr_json_str(doc, "created_by_uid");
		g->members = json_object_get(doc, "members");
		g->mod_rev = rev;
		g->doc = doc;
	} else if (strncmp(rel, "grants/", 7) == 0) {
		struct auth_grant *gr;
		const char *verb = lr_json_str(doc, "verb");
		int vb = verb ? auth_verb_parse(verb) : -1;

		if (!(name = lr_json_str(doc, "id")) ||
		    strcmp(name, rel + 7) != 0 || vb < 0 ||
		    !lr_json_str(doc, "subject") ||
		    !lr_json_str(doc, "resource"))
			return;
		gr = &s->grants[s->ngrants++];
		gr->id = name;
		gr->subject = lr_json_str(doc, "subject");
		gr->verb = vb;
		gr->resource = lr_json_str(doc, "resource");
		gr->created_by = lr_json_str(doc, "created_by");
		gr->created_by_uid = lr_json_str(doc, "created_by_uid");
		gr->mod_rev = rev;
		gr->doc = doc;
	} else if (strncmp(rel, "tokens/", 7) == 0) {
		struct auth_token *t;

		if (!lr_json_str(doc, "id") || !lr_json_str(doc, "user") ||
		    strlen(rel + 7) != 64)
			return;
		t = &s->tokens[s->ntokens++];
		t->hash = rel + 7;
		t->id = lr_json_str(doc, "id");
		t->user = lr_json_str(doc, "user");
		t->kind = lr_json_str(doc, "kind");
		if (!t->kind)
			t->kind = "api";
		t->scopes = scopes_decode(json_object_get(doc, "scopes"));
		t->expires = lr_json_int(doc, "expires");
		t->mod_rev = rev;
		t->doc = doc;
	}
}

struct auth_snapshot *
auth_snapshot_build(json_t *master, int64_t revision)
{
	struct auth_snapshot *s = lr_xcalloc(1, sizeof(*s));
	size_t n = json_object_size(master) + 1;
	const char *rel;
	json_t *e;

	atomic_init(&s->refs, 1);
	s->revision = revision;
	s->master = master;		/* ours now */
	s->users = lr_xcalloc(n, sizeof(*s->users));
	s->groups = lr_xcalloc(n, sizeof(*s->groups));
	s->grants = lr_xcalloc(n, sizeof(*s->grants));
	s->tokens = lr_xcalloc(n, sizeof(*s->tokens));
	json_object_foreach(master, rel, e)
		add_entry(s, rel, e);
	qsort(s->users, s->nusers, sizeof(*s->users), user_cmp);
	qsort(s->groups, s->ngroups, sizeof(*s->groups), group_cmp);
	qsort(s->grants, s->ngrants, sizeof(*s->grants), grant_cmp);
	qsort(s->tokens, s->ntokens, sizeof(*s->tokens), token_cmp);
	return s;
}

struct auth_snapshot *
auth_snapshot_ref(struct auth_snapshot *s)
{
	if (s)
		atomic_fetch_add(&s->refs, 1);
	return s;
}

void
auth_snapshot_unref(struct auth_snapshot *s)
{
	if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	free(s->users);
	free(s->groups);
	free(s->grants);
	free(s->tokens);
	json_decref(s->master);
	free(s);
}

const struct auth_user *
auth_find_user(const struct auth_snapshot *s, const char *name)
{
	struct auth_user k = { .name = name };

	if (!s || !name)
		return NULL;
	return bsearch(&k, s->users, s->nusers, sizeof(k), user_cmp);
}

const struct auth_group *
auth_find_group(const struct auth_snapshot *s, const char *name)
{
	struct auth_group k = { .name = name };

	if (!s || !name)
		return NULL;
	return bsearch(&k, s->groups, s->ngroups, sizeof(k), group_cmp);
}

const struct auth_grant *
auth_find_grant(const struct auth_snapshot *s, const char *id)
{
	struct auth_grant k = { .id = id };

	if (!s || !id)
		return NULL;
	return bsearch(&k, s->grants, s->ngrants, sizeof(k), grant_cmp);
}

const struct auth_token *
auth_find_token(const struct auth_snapshot *s, const char *hash)
{
	struct auth_token k = { .hash = hash };

	if (!s || !hash)
		return NULL;
	return bsearch(&k, s->tokens, s->ntokens, sizeof(k), token_cmp);
}

const struct auth_token *
auth_find_token_id(const struct auth_snapshot *s, const char *id)
{
	size_t i;

	for (i = 0; s && id && i < s->ntokens; i++)
		if (strcmp(s->tokens[i].id, id) == 0)
			return &s->tokens[i];
	return NULL;
}

bool
auth_group_has(const struct auth_group *g, const char *user)
{
	size_t i;
	json_t *v;

	json_array_foreach(g->members, i, v) {
		if (json_is_string(v) &&
		    strcmp(json_string_value(v), user) == 0)
			return true;
	}
	return false;
}

bool
auth_subject_covers(const struct auth_snapshot *s, const char *subject,
    const char *user, const char **via_group)
{
	const struct auth_group *g;

	if (via_group)
		*via_group = NULL;
	if (strncmp(subject, "user:", 5) == 0)
		return strcmp(subject + 5, user) == 0;
	if (strncmp(subject, "group:", 6) != 0 ||
	    !(g = auth_find_group(s, subject + 6)) || !auth_group_has(g, user))
		return false;
	if (via_group)
		*via_group = g->name;
	return true;
}
