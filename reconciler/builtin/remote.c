/*
 * remote: what the builtins that talk to leurad share (builtin.h): which
 * server (--server, LEURA_SERVER, server.url of the config file), which
 * token (LEURA_TOKEN, else the credentials file of `leura login`), a call
 * that prints the server's error made visible, lists followed page by
 * page, and passwords read without echo.  A password or a token is never
 * a flag: it would show in ps and in /proc/PID/cmdline.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "api.h"
#include "buf.h"
#include "builtin.h"
#include "config.h"
#include "creds.h"
#include "file.h"
#include "json.h"
#include "xalloc.h"

#define PASSWORD_MAX	4096

const char *
cmd_vis(const char *s)
{
	static struct lr_buf ring[8];
	static unsigned next;
	struct lr_buf *b = &ring[next++ % 8];

	lr_buf_reset(b);
	if (s == NULL)
		s = "";
	lr_buf_add_visible(b, s, strlen(s), 0);
	return b->s != NULL ? b->s : "";
}

void
cmd_remote_error(const struct lr_err *err)
{
	fprintf(stderr, "leura: error: %s\n", cmd_vis(err->msg[0] ? err->msg :
	    "unknown error"));
	if (err->hint[0])
		fprintf(stderr, "hint: %s\n", cmd_vis(err->hint));
}

/* Print the config file's diagnostics or err; LR_EXIT_FAIL. */
static int
config_error(struct spec_diags *d, const struct lr_err *err)
{
	size_t i;

	if (d->n == 0)
		lr_err_print(err);
	for (i = 0; i < d->n; i++)
		fprintf(stderr, "%s:%d:%d: error: %s\n%s%s%s", d->v[i].path,
		    d->v[i].line, d->v[i].col, d->v[i].msg,
		    d->v[i].hint ? "hint: " : "",
		    d->v[i].hint ? d->v[i].hint : "",
		    d->v[i].hint ? "\n" : "");
	return LR_EXIT_FAIL;
}

int
cmd_remote_url(const struct lr_ctx *ctx, char **url, char **cacert)
{
	struct spec_diags d;
	struct lr_err err;
	int rc = 0;

	size_t n;

	spec_diags_init(&d);
	lr_err_clear(&err);
	if (rec_config_server(ctx->server, url, cacert, &d, &err) < 0)
		rc = config_error(&d, &err);
	else if (*url != NULL) {
		/* one name per server in the credentials file */
		n = strlen(*url);
		while (n > 0 && (*url)[n - 1] == '/')
			(*url)[--n] = '\0';
	}
	spec_diags_release(&d);
	return rc;
}

int
cmd_remote_open(struct remote *r, const struct lr_ctx *ctx, unsigned flags)
{
	struct rec_cred cred = { 0 };
	struct lr_err err;
	char *cacert = NULL;
	const char *token = NULL, *env;
	int rc;

	memset(r, 0, sizeof(*r));
	lr_err_clear(&err);
	if ((rc = cmd_remote_url(ctx, &r->url, &cacert)) != 0)
		goto out;
	if (r->url == NULL) {
		fprintf(stderr, "leura: error: no leurad server is "
		    "configured\nhint: give one with --server URL, "
		    "LEURA_SERVER or server.url in the config file "
		    "(leura(1), FILES)\n");
		rc = LR_EXIT_FAIL;
		goto out;
	}
	if (flags & REMOTE_ANON)
		token = NULL;
	else if ((env = getenv("LEURA_TOKEN")) != NULL && *env != '\0')
		token = env;
	else {
		if (rec_creds_get(r->url, &cred, &err) < 0) {
			cmd_remote_error(&err);
			rc = LR_EXIT_FAIL;
			goto out;
		}
		token = cred.token;
		if (cred.user != NULL)
			r->user = lr_xstrdup(cred.user);
	}
	if (rec_api_open(r->url, token, cacert, &r->api, &err) < 0) {
		cmd_remote_error(&err);
		rc = LR_EXIT_FAIL;
	}
out:
	rec_cred_release(&cred);
	free(cacert);
	if (rc != 0)
		cmd_remote_release(r);
	return rc;
}

void
cmd_remote_release(struct remote *r)
{
	rec_api_free(r->api);
	free(r->url);
	free(r->user);
	memset(r, 0, sizeof(*r));
}

int
cmd_remote_call(struct remote *r, const char *method, const char *path,
    const json_t *body, json_t **out)
{
	struct lr_err err;
	json_t *ans = NULL;

	lr_err_clear(&err);
	if (rec_api_call(r->api, method, path, body, &ans, NULL, &err) < 0) {
		cmd_remote_error(&err);
		return LR_EXIT_FAIL;
	}
	if (out != NULL)
		*out = ans;
	else
		json_decref(ans);
	return LR_EXIT_OK;
}

int
cmd_remote_list(struct remote *r, const char *path, size_t max,
    json_t **items)
{
	json_t *all = json_array(), *page, *v;
	char *p, *lim, *cursor = NULL;
	const char *next;
	size_t i;
	int rc;

	for (;;) {
		p = lr_xstrdup(path);
		if (max > 0 && max - json_array_size(all) < 1000) {
			lim = lr_xasprintf("%zu", max - json_array_size(all));
			rec_api_query_add(r->api, &p, "limit", lim);
			free(lim);
		}
		rec_api_query_add(r->api, &p, "after", cursor);
		page = NULL;
		rc = cmd_remote_call(r, "GET", p, NULL, &page);
		free(p);
		if (rc != 0) {
			free(cursor);
			json_decref(all);
			return rc;
		}
		json_array_foreach(json_object_get(page, "items"), i, v) {
			if (max > 0 && json_array_size(all) >= max)
				break;
			json_array_append(all, v);
		}
		next = lr_json_strn(page, "next");
		/* the last page, enough items, or a server going round */
		if (next == NULL || *next == '\0' ||
		    (max > 0 && json_array_size(all) >= max) ||
		    (cursor != NULL && strcmp(cursor, next) == 0) ||
		    json_array_size(json_object_get(page, "items")) == 0) {
			json_decref(page);
			break;
		}
		free(cursor);
		cursor = lr_xstrdup(next);
		json_decref(page);
	}
	free(cursor);
	*items = all;
	return LR_EXIT_OK;
}

/* ---- passwords ---- */

/* Cut s at its first line end. */
static void
first_line(char *s)
{
	s[strcspn(s, "\r\n")] = '\0';
}

/* Read one line from fd (at most PASSWORD_MAX bytes); 0 or -1. */
static int
read_line(int fd, char *buf, size_t size)
{
	size_t n = 0;
	ssize_t k;
	char c;

	while (n + 1 < size) {
		k = read(fd, &c, 1);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		if (c == '\n')
			break;
		buf[n++] = c;
	}
	buf[n] = '\0';
	return n == 0 && k <= 0 ? -1 : 0;
}

/* The terminal's settings while echo is off, for a signal to restore. */
static struct termios tty_saved;
static volatile sig_atomic_t tty_fd = -1;

static void
tty_restore_and_die(int sig)
{
	if (tty_fd != -1)
		tcsetattr(tty_fd, TCSAFLUSH, &tty_saved);
	signal(sig, SIG_DFL);
	raise(sig);
}

/*
 * Ask on the terminal, without echo: 0, -1 without a terminal, -2 when
 * it gave no line (end of input).
 */
static int
ask_tty(const char *prompt, char *buf, size_t size)
{
	struct sigaction sa, oint, oterm, ohup;
	struct termios quiet;
	int fd, rc;

	if ((fd = open("/dev/tty", O_RDWR | O_CLOEXEC)) == -1)
		return -1;
	if (tcgetattr(fd, &tty_saved) == -1) {
		close(fd);
		return -1;
	}
	/* Ctrl-C at the prompt must not leave the terminal without echo */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = tty_restore_and_die;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &oint);
	sigaction(SIGTERM, &sa, &oterm);
	sigaction(SIGHUP, &sa, &ohup);
	tty_fd = fd;
	quiet = tty_saved;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	quiet.c_lflag |= ICANON;
	(void)!write(fd, prompt, strlen(prompt));
	tcsetattr(fd, TCSAFLUSH, &quiet);
	rc = read_line(fd, buf, size) < 0 ? -2 : 0;
	tcsetattr(fd, TCSAFLUSH, &tty_saved);
	tty_fd = -1;
	sigaction(SIGINT, &oint, NULL);
	sigaction(SIGTERM, &oterm, NULL);
	sigaction(SIGHUP, &ohup, NULL);
	(void)!write(fd, "\n", 1);
	close(fd);
	return rc;
}

int
cmd_password(const struct cmd_password_src *src, const char *prompt,
    bool confirm, char **out)
{
	char buf[PASSWORD_MAX], again[PASSWORD_MAX], *s = NULL;
	struct lr_err err;
	size_t len;
	int rc = LR_EXIT_FAIL;

	lr_err_clear(&err);
	if (src->file != NULL) {
		if (lr_read_file(src->file, PASSWORD_MAX, &s, &len, &err) < 0) {
			lr_err_print(&err);
			return LR_EXIT_FAIL;
		}
		first_line(s);
	} else if (src->from_stdin) {
		if (read_line(STDIN_FILENO, buf, sizeof(buf)) < 0) {
			fprintf(stderr, "leura: error: no password on the "
			    "standard input\n");
			return LR_EXIT_FAIL;
		}
		s = lr_xstrdup(buf);
	} else {
		if ((rc = ask_tty(prompt, buf, sizeof(buf))) < 0) {
			if (rc == -1)
				fprintf(stderr, "leura: error: no terminal to "
				    "ask the password on\nhint: give it with "
				    "--password-file FILE or --password-stdin\n");
			else
				fprintf(stderr, "leura: error: no password "
				    "was typed\n");
			return LR_EXIT_FAIL;
		}
		rc = LR_EXIT_FAIL;
		if (confirm && (ask_tty("Again: ", again, sizeof(again)) < 0 ||
		    strcmp(buf, again) != 0)) {
			fprintf(stderr, "leura: error: the two passwords "
			    "differ\n");
			goto out;
		}
		s = lr_xstrdup(buf);
	}
	if (*s == '\0') {
		fprintf(stderr, "leura: error: the password is empty\n");
		explicit_bzero(s, strlen(s));
		free(s);
		goto out;
	}
	*out = s;
	rc = LR_EXIT_OK;
out:
	explicit_bzero(buf, sizeof(buf));
	explicit_bzero(again, sizeof(again));
	return rc;
}

void
cmd_password_free(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* ---- what several commands print ---- */

/* a JSON scalar as text ("" for null or absent) */
static const char *
scalar(const json_t *v, char *buf, size_t size)
{
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v)) {
		snprintf(buf, size, "%lld", (long long)json_integer_value(v));
		return buf;
	}
	if (json_is_true(v))
		return "true";
	if (json_is_false(v))
		return "false";
	return "";
}

const char *
cmd_field(const json_t *o, const char *k)
{
	static char buf[4][32];
	static unsigned next;

	return cmd_vis(scalar(json_object_get(o, k), buf[next++ % 4],
	    sizeof(buf[0])));
}

void
cmd_print_grant(const json_t *g, const char *indent)
{
	const char *via = lr_json_strn(g, "via");

	printf("%s%-17s %-20s %-8s %s", indent, cmd_field(g, "id"),
	    cmd_field(g, "subject"), cmd_field(g, "verb"),
	    cmd_field(g, "resource"));
	if (via != NULL && *via != '\0')
		printf("  (via %s)", cmd_vis(via));
	putchar('\n');
}

/* The strings of array a joined with ", " (made visible), or dflt. */
void
cmd_print_list(const json_t *a, const char *dflt)
{
	const json_t *v;
	size_t i;

	if (json_array_size(a) == 0)
		fputs(dflt, stdout);
	json_array_foreach(a, i, v)
		printf("%s%s", i ? ", " : "", cmd_vis(json_is_string(v) ?
		    json_string_value(v) : cmd_field(v, "name")));
}
