/*
 * The git source's mirror (source.h): DATA_DIR/source.git, a bare
 * repository whose refs/heads/ follow the remote's, fetched with libgit2
 * (NOTES-deps.md §4).  The remote is a local path (tests, one machine),
 * an https URL (a token from a file, as the password) or an ssh URL (a
 * private key file).  The token never reaches argv, a log line or a
 * response: src_url_public strips a URL's userinfo too.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <git2.h>
#include <openssl/crypto.h>

#include "source.h"
#include "xalloc.h"

char *
src_url_public(const char *url)
{
	const char *scheme = strstr(url, "://"), *at, *host;

	if (scheme == NULL)
		return lr_xstrdup(url);
	host = scheme + 3;
	at = strchr(host, '@');
	if (at == NULL || (strchr(host, '/') && strchr(host, '/') < at))
		return lr_xstrdup(url);
	return lr_xasprintf("%.*s%s", (int)(host - url), url, at + 1);
}

struct cred_state {
	struct src_mirror *m;
	int	 tries;
};

/*
 * libgit2 asks again after a refused credential: three tries, then the
 * fetch fails (with libgit2's "authentication required" message).
 */
static int
cred_cb(git_credential **out, const char *url, const char *user,
    unsigned int allowed, void *payload)
{
	struct cred_state *cs = payload;

	(void)url;
	if (++cs->tries > 3)
		return GIT_EAUTH;
	if ((allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) && cs->m->token)
		return git_credential_userpass_plaintext_new(out,
		    user && *user ? user : "x-access-token", cs->m->token);
	if ((allowed & GIT_CREDENTIAL_SSH_KEY) && cs->m->ssh_key)
		return git_credential_ssh_key_new(out, user && *user ? user :
		    "git", NULL, cs->m->ssh_key, NULL);
	if (allowed & GIT_CREDENTIAL_USERNAME)
		return git_credential_username_new(out, user && *user ? user :
		    "git");
	return GIT_PASSTHROUGH;
}

static int
git_fail(struct lr_err *err, int code, const char *what, const char *url)
{
	const git_error *ge = git_error_last();

	lr_err_set(err, code, "%s '%s': %s", what, url, ge && ge->message ?
	    ge->message : "libgit2 failed");
	return code;
}

/* The mirror's branches: {branch: id}, new. */
static json_t *
list_heads(git_repository *repo)
{
	git_reference_iterator *it = NULL;
	git_reference *ref, *res;
	json_t *out = json_object();
	char id[GIT_OID_HEXSZ + 1];
	const char *name;

	if (git_reference_iterator_glob_new(&it, repo, "refs/heads/*") < 0)
		return out;
	while (git_reference_next(&ref, it) == 0) {
		name = git_reference_name(ref);
		if (git_reference_resolve(&res, ref) == 0) {
			git_oid_tostr(id, sizeof(id),
			    git_reference_target(res));
			json_object_set_new(out, name + 11, json_string(id));
			git_reference_free(res);
		}
		git_reference_free(ref);
	}
	git_reference_iterator_free(it);
	return out;
}

int
src_mirror_fetch(struct src_mirror *m, json_t **heads, struct lr_err *err)
{
	static char refspec[] = "+refs/heads/*:refs/heads/*";
	char *specs[] = { refspec };
	git_strarray rs = { specs, 1 };
	git_fetch_options fo;
	git_remote_create_options ro;
	git_repository *repo = NULL;
	git_remote *remote = NULL;
	struct cred_state cs = { m, 0 };
	char *pub = src_url_public(m->url);	/* freed below */
	struct stat st;
	int rc = 0;

	*heads = NULL;
	git_libgit2_init();
	git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
	if (stat(m->path, &st) == 0) {
		if (git_repository_open_ext(&repo, m->path,
		    GIT_REPOSITORY_OPEN_NO_SEARCH | GIT_REPOSITORY_OPEN_BARE,
		    NULL) < 0) {
			rc = git_fail(err, LR_EGIT, "cannot open the mirror of",
			    pub);
			lr_err_hint(err, "remove %s: leurad fetches it anew",
			    m->path);
			goto out;
		}
	} else if (git_repository_init(&repo, m->path, 1) < 0) {
		rc = git_fail(err, LR_EGIT, "cannot make the mirror of", pub);
		lr_err_hint(err, "check that leurad may write its data "
		    "directory");
		goto out;
	}
	/*
	 * Anonymous, and without the url.*.insteadOf rewriting of the
	 * user's git config: exactly --source (libgit2 1.5's rewriting also
	 * leaks its pcre2 match data)
	 */
	git_remote_create_options_init(&ro, GIT_REMOTE_CREATE_OPTIONS_VERSION);
	ro.repository = repo;
	ro.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF |
	    GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
	if (git_remote_create_with_opts(&remote, m->url, &ro) < 0) {
		rc = git_fail(err, LR_EGIT, "bad git source", pub);
		lr_err_hint(err, "give --source a repository path, an https:// "
		    "or an ssh:// URL");
		goto out;
	}
	fo.prune = GIT_FETCH_PRUNE;
	fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	fo.callbacks.credentials = cred_cb;
	fo.callbacks.payload = &cs;
	if (git_remote_fetch(remote, &rs, &fo, "leurad fetch") < 0) {
		rc = git_fail(err, LR_EUNREACH, "cannot fetch", pub);
		lr_err_hint(err, "check the URL, the network and the "
		    "credentials (--source-token-file, --source-ssh-key); "
		    "leurad keeps serving the commits it fetched before");
		goto out;
	}
	*heads = list_heads(repo);
out:
	git_remote_free(remote);
	git_repository_free(repo);
	git_libgit2_shutdown();
	free(pub);
	return rc;
}

void
src_mirror_release(struct src_mirror *m)
{
	free(m->url);
	free(m->path);
	if (m->token) {
		OPENSSL_cleanse(m->token, strlen(m->token));
		free(m->token);
	}
	free(m->ssh_key);
	memset(m, 0, sizeof(*m));
}

/* ---- pushing an edit (tasks.c) ---- */

/* cred_cb's state first: both callbacks get the same payload */
struct push_state {
	struct cred_state cs;
	char	 msg[200];	/* the remote's refusal, "" when none */
};

static int
push_ref_cb(const char *refname, const char *status, void *data)
{
	struct push_state *ps = data;

	if (status != NULL && ps->msg[0] == '\0')
		snprintf(ps->msg, sizeof(ps->msg), "%s: %s", refname, status);
	return 0;
}

int
src_mirror_push(struct src_mirror *m, const char *local_ref,
    const char *branch, struct lr_err *err)
{
	git_push_options po;
	git_remote_create_options ro;
	git_repository *repo = NULL;
	git_remote *remote = NULL;
	struct push_state ps = { { m, 0 }, "" };
	char *spec = lr_xasprintf("%s:refs/heads/%s", local_ref, branch);
	char *specs[] = { spec };
	git_strarray rs = { specs, 1 };
	char *pub = src_url_public(m->url);
	int rc = 0;

	git_libgit2_init();
	if (git_repository_open_ext(&repo, m->path,
	    GIT_REPOSITORY_OPEN_NO_SEARCH | GIT_REPOSITORY_OPEN_BARE,
	    NULL) < 0) {
		rc = git_fail(err, LR_EGIT, "cannot open the mirror of", pub);
		goto out;
	}
	git_remote_create_options_init(&ro, GIT_REMOTE_CREATE_OPTIONS_VERSION);
	ro.repository = repo;
	ro.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF |
	    GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
	if (git_remote_create_with_opts(&remote, m->url, &ro) < 0) {
		rc = git_fail(err, LR_EGIT, "bad git source", pub);
		goto out;
	}
	git_push_options_init(&po, GIT_PUSH_OPTIONS_VERSION);
	po.callbacks.credentials = cred_cb;
	po.callbacks.push_update_reference = push_ref_cb;
	po.callbacks.payload = &ps;
	if (git_remote_push(remote, &rs, &po) < 0) {
		const git_error *ge = git_error_last();

		/* a non-fast-forward is refused before anything is sent */
		/* libgit2 refuses what the remote's branch does not lead
		   to before it sends anything */
		if (ge && ge->message && (strstr(ge->message, "fast-forward") ||
		    strstr(ge->message, "fastforward") || strstr(ge->message,
		    "not present locally") || strstr(ge->message,
		    "rejected"))) {
			rc = lr_err_set(err, LR_ECONFLICT, "the branch '%s' of "
			    "'%s' moved on: %s", branch, pub, ge->message);
		} else
			rc = git_fail(err, LR_EUNREACH, "cannot push to", pub);
		goto out;
	}
	if (ps.msg[0]) {
		rc = lr_err_set(err, LR_ECONFLICT, "'%s' refused the push to "
		    "'%s' (%s)", pub, branch, ps.msg);
		goto out;
	}
out:
	git_remote_free(remote);
	git_repository_free(repo);
	git_libgit2_shutdown();
	free(spec);
	free(pub);
	return rc;
}
