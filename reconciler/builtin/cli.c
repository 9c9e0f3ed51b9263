/*
 * cli: what the builtins share (builtin.h): option errors, JSON output,
 * loading the specs with their diagnostics printed, the etcd connection.
 * The password is never a flag (it would show in ps): LEURA_ETCD_PASSWORD
 * or the config file's password_file.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "builtin.h"
#include "config.h"
#include "source.h"
#include "state.h"
#include "xalloc.h"

static int
bad_arg(const char *arg, const char *usage)
{
	fprintf(stderr, "leura: error: unknown argument '%s'\n", arg);
	if (strncmp(arg, "-C", 2) == 0 || strcmp(arg, "-v") == 0)
		fprintf(stderr, "hint: global options go before the command: "
		    "leura %s <command> ...\n", arg);
	fputs(usage, stderr);
	return LR_EXIT_USAGE;
}

const char *
cmd_option_name(int c, char **argv, char buf[3])
{
	buf[0] = '-';
	buf[1] = (char)optopt;
	buf[2] = '\0';
	/* a short option names its letter; a long one is argv's */
	return c == '?' && optopt > 0 && optopt < 0x100 ? buf :
	    argv[optind - 1];
}

int
cmd_bad_option(int c, char **argv, const char *usage)
{
	char opt[3];

	if (c == 'h' || c == CMD_OPT_HELP) {
		fputs(usage, stdout);
		return LR_EXIT_OK;
	}
	if (c == ':') {
		fprintf(stderr, "leura: error: option '%s' wants a value\n",
		    argv[optind - 1]);
		fputs(usage, stderr);
		return LR_EXIT_USAGE;
	}
	return bad_arg(cmd_option_name(c, argv, opt), usage);
}

int
cmd_limit_arg(const char *arg, const char *what, long long *out)
{
	char *end;
	long long n = strtoll(arg, &end, 10);

	if (*arg == '\0' || *end || n < 1) {
		fprintf(stderr, "leura: error: --limit wants a number of %s, "
		    "not '%s'\n", what, cmd_vis(arg));
		return LR_EXIT_USAGE;
	}
	*out = n;
	return 0;
}

int
cmd_no_args(int argc, char **argv, const char *usage)
{
	return optind < argc ? bad_arg(argv[optind], usage) : 0;
}

int
cmd_operands(int argc, char **argv, const char *usage)
{
	int i;

	if (optind > 1 && strcmp(argv[optind - 1], "--") == 0)
		return 0;
	for (i = optind; i < argc; i++)
		if (argv[i][0] == '-' && argv[i][1] != '\0') {
			fprintf(stderr, "leura: error: option '%s' after "
			    "'%s': options go before the names\n", argv[i],
			    argv[optind]);
			fputs(usage, stderr);
			return LR_EXIT_USAGE;
		}
	return 0;
}

void
cmd_fputv(const char *s, FILE *f)
{
	struct lr_buf b = LR_BUF_INIT;

	lr_buf_add_visible(&b, s, strlen(s), 0);
	fputs(b.s, f);
	lr_buf_release(&b);
}

void
cmd_print_tail(const char *out, int lines, const char *indent)
{
	struct lr_buf line = LR_BUF_INIT;
	size_t len = strlen(out);
	const char *p;
	int n = 0;

	while (len > 0 && out[len - 1] == '\n')
		len--;
	for (p = out + len; p > out; p--)
		if (p[-1] == '\n' && lines > 0 && ++n == lines)
			break;
	if (p > out)
		printf("%s...\n", indent);
	while (p < out + len) {
		const char *nl = memchr(p, '\n', (size_t)(out + len - p));
		size_t k = nl ? (size_t)(nl - p) : (size_t)(out + len - p);

		/* a host's output: shown, never acted on by the terminal */
		lr_buf_reset(&line);
		lr_buf_add_visible(&line, p, k, LR_VIS_LINES);
		printf("%s%s\n", indent, line.s);
		p += k + (nl != NULL);
	}
	lr_buf_release(&line);
}

void
cmd_print_json(const json_t *o)
{
	char *s = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS |
	    JSON_ENCODE_ANY);

	if (s != NULL) {
		fputs(s, stdout);
		free(s);
	}
	fputc('\n', stdout);
}

void
cmd_print_diags(const struct rec_load *l, size_t max)
{
	size_t nerr;

	nerr = spec_diags_print(&l->diags, stderr, max);
	if (l->repo && l->repo->nbroken)
		fprintf(stderr, "note: references, placement and templates "
		    "were not checked: fix the errors above first\n");
	if (nerr)
		fprintf(stderr, "leura: %zu error%s in %s\n", nerr,
		    nerr == 1 ? "" : "s", l->label ? l->label : "the specs");
}

int
cmd_load(struct rec_load *l, const struct lr_ctx *ctx, const char *ref,
    unsigned flags)
{
	return cmd_load_at(l, ctx, ref, flags, (int64_t)time(NULL));
}

int
cmd_load_at(struct rec_load *l, const struct lr_ctx *ctx, const char *ref,
    unsigned flags, int64_t now)
{
	struct lr_err err;
	int rc;

	lr_err_clear(&err);
	if ((rc = rec_load_at(l, ctx->repo_dir, ref, flags, now, &err)) == 0)
		return 0;
	cmd_print_load_error(l, rc, &err, 20);
	return LR_EXIT_FAIL;
}

void
cmd_print_load_error(const struct rec_load *l, int rc,
    const struct lr_err *err, size_t max)
{
	if (l->diags.nerrors)
		cmd_print_diags(l, max);
	else if (err->code)
		lr_err_print(err);
	else
		fprintf(stderr, "leura: error: cannot load %s (error %d)\n",
		    l->label ? l->label : "the specs", rc);
}

/* ---- the etcd connection ---- */

/*
 * leura.yml of the working tree at ctx->repo_dir, when there is one: its
 * name and etcd backend.  *repo stays NULL without a readable folder or
 * without leura.yml; LR_EINVAL with diagnostics in d when it is invalid.
 */
static int
repo_settings(const struct lr_ctx *ctx, struct spec_source **src,
    struct spec_repo **repo, struct spec_diags *d)
{
	struct lr_err err;
	int rc;

	*repo = NULL;
	lr_err_clear(&err);
	if (spec_source_dir_new(ctx->repo_dir, src, &err) < 0)
		return 0;	/* no folder: no leura.yml, no name */
	if ((rc = spec_settings_load(*src, repo, d, &err)) == LR_EINVAL)
		return rc;
	if (rc < 0 || (*repo)->settings.node == NULL) {
		spec_repo_free(*repo);
		*repo = NULL;
	}
	return 0;
}

int
conn_open(struct conn *c, const struct lr_ctx *ctx)
{
	struct lr_conn_settings flags = { 0 }, yml = { 0 };
	struct lr_conn lc = { 0 };
	struct etcd_config cfg = { 0 };
	struct spec_source *src = NULL;
	struct spec_repo *repo = NULL;
	struct spec_diags d;
	struct lr_err err;
	int rc, ret = LR_EXIT_FAIL;

	memset(c, 0, sizeof(*c));
	lr_err_clear(&err);
	spec_diags_init(&d);
	flags.endpoints = ctx->etcd;
	flags.cacert = ctx->etcd_cacert;
	flags.cert = ctx->etcd_cert;
	flags.key = ctx->etcd_key;
	flags.user = ctx->etcd_user;
	if (repo_settings(ctx, &src, &repo, &d) < 0) {
		spec_diags_print(&d, stderr, 20);
		goto out;
	}
	if (repo != NULL) {
		yml.endpoints = repo->settings.etcd_endpoints;
		yml.prefix = repo->settings.etcd_prefix;
	}
	if ((rc = rec_config_conn(&flags, &yml, &lc, &d, &err)) < 0) {
		if (d.nerrors)
			spec_diags_print(&d, stderr, 20);
		else {
			if (rc == LR_EAUTH)
				lr_err_hint(&err, "set LEURA_ETCD_PASSWORD, or "
				    "etcd.password_file in the config file");
			lr_err_print(&err);
		}
		goto out;
	}
	cfg.endpoints = lc.endpoints;
	cfg.cacert = lc.cacert;
	cfg.cert = lc.cert;
	cfg.key = lc.key;
	cfg.user = lc.user;
	cfg.password = lc.password;
	if (etcd_new(&cfg, &c->etcd, &err) < 0) {
		lr_err_print(&err);
		goto out;
	}
	c->endpoints = lc.endpoints;
	c->prefix = lc.prefix;
	lc.endpoints = lc.prefix = NULL;
	c->repo = repo != NULL;
	if (repo != NULL && repo->settings.name != NULL)
		c->fleet = lr_xstrdup(repo->settings.name);
	ret = 0;
out:
	spec_repo_free(repo);
	spec_source_free(src);
	lr_conn_release(&lc);
	spec_diags_release(&d);
	return ret;
}

int
conn_check_fleet(const struct conn *c, const char *recorded)
{
	struct lr_err err;

	lr_err_clear(&err);
	if (!c->repo || rec_fleet_check(recorded, c->fleet, c->endpoints,
	    c->prefix, &err) == 0)
		return 0;
	lr_err_print(&err);
	return LR_EXIT_FAIL;
}

void
conn_release(struct conn *c)
{
	etcd_free(c->etcd);
	free(c->prefix);
	free(c->endpoints);
	free(c->fleet);
	memset(c, 0, sizeof(*c));
}

bool
conn_getopt(int c, const char *arg, struct lr_ctx *ctx)
{
	switch (c) {
	case CONN_OPT_ETCD:	ctx->etcd = arg; return true;
	case CONN_OPT_CACERT:	ctx->etcd_cacert = arg; return true;
	case CONN_OPT_CERT:	ctx->etcd_cert = arg; return true;
	case CONN_OPT_KEY:	ctx->etcd_key = arg; return true;
	case CONN_OPT_USER:	ctx->etcd_user = arg; return true;
	case CONN_OPT_SERVER:	ctx->server = arg; return true;
	default:		return false;
	}
}
