/*
 * A loopback TCP proxy in front of an etcd member, for faults that etcd
 * itself cannot be made to show on cue (etcd_harness.h, th_proxy_*): a
 * request that reaches etcd and is applied, but whose answer never comes
 * back (the connection drops first), and a black hole (a listener that
 * accepts and reads, and never answers).  One thread polls the listener
 * and every connection pair; bytes are relayed as they come (HTTP/1.1
 * request, answer, request...: writes on loopback do not block for long).
 * Test code: it prints what went wrong to stderr.
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "etcd_harness.h"
#include "xalloc.h"

#define MAX_CONNS	64

struct conn {
	int	 cfd, ufd;	/* the client's, etcd's (-1: black hole) */
	struct lr_buf req;	/* client bytes since etcd last answered */
	int	 armed;		/* this request's answer is to be lost */
};

struct th_proxy_state {
	int	 lfd;
	int	 upstream;
	pthread_t thr;
	pthread_mutex_t mu;
	int	 stop;		/* under mu */
	char	*drop;		/* under mu: the pattern, NULL: none */
	int	 dropped;	/* under mu */
	struct conn c[MAX_CONNS];
	int	 nc;
};

static void
conn_close(struct th_proxy_state *s, int i)
{
	close(s->c[i].cfd);
	if (s->c[i].ufd >= 0)
		close(s->c[i].ufd);
	lr_buf_release(&s->c[i].req);
	s->c[i] = s->c[--s->nc];
}

static int
write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, p, n)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
connect_upstream(int port)
{
	struct sockaddr_in sa;
	int fd;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)port);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void
accept_one(struct th_proxy_state *s)
{
	struct conn *c;
	int fd;

	if ((fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC)) < 0)
		return;
	if (s->nc == MAX_CONNS) {
		close(fd);
		return;
	}
	c = &s->c[s->nc];
	memset(c, 0, sizeof(*c));
	c->cfd = fd;
	c->ufd = -1;
	lr_buf_init(&c->req);
	if (s->upstream > 0 && (c->ufd = connect_upstream(s->upstream)) < 0) {
		fprintf(stderr, "th_proxy: cannot connect to 127.0.0.1:%d: "
		    "%s\n", s->upstream, strerror(errno));
		close(fd);
		return;
	}
	s->nc++;
}

/* Client bytes: to etcd (or nowhere); arm when the pattern shows. 0/-1. */
static int
from_client(struct th_proxy_state *s, struct conn *c)
{
	char buf[65536];
	ssize_t n;

	if ((n = read(c->cfd, buf, sizeof(buf))) <= 0)
		return -1;
	if (c->ufd < 0)
		return 0;		/* a black hole */
	lr_buf_add(&c->req, buf, (size_t)n);
	pthread_mutex_lock(&s->mu);
	if (!c->armed && s->drop != NULL && memmem(c->req.s, c->req.len,
	    s->drop, strlen(s->drop)) != NULL) {
		c->armed = 1;
		free(s->drop);
		s->drop = NULL;
	}
	pthread_mutex_unlock(&s->mu);
	return write_all(c->ufd, buf, (size_t)n);
}

/* etcd's bytes: to the client, unless armed (then -1: close both). */
static int
from_etcd(struct th_proxy_state *s, struct conn *c)
{
	char buf[65536];
	ssize_t n;

	if ((n = read(c->ufd, buf, sizeof(buf))) <= 0)
		return -1;
	if (c->armed) {
		/*
		 * etcd answered, so it applied the request: lose the answer,
		 * after its first half (curl sends a request again by itself
		 * when a connection it reused closes before any answer).
		 */
		(void)write_all(c->cfd, buf, (size_t)n / 2);
		pthread_mutex_lock(&s->mu);
		s->dropped++;
		pthread_mutex_unlock(&s->mu);
		return -1;
	}
	lr_buf_reset(&c->req);
	return write_all(c->cfd, buf, (size_t)n);
}

static void *
proxy_main(void *arg)
{
	struct th_proxy_state *s = arg;
	struct pollfd pf[1 + 2 * MAX_CONNS];
	int i, n, stop;

	for (;;) {
		pthread_mutex_lock(&s->mu);
		stop = s->stop;
		pthread_mutex_unlock(&s->mu);
		if (stop)
			break;
		pf[0].fd = s->lfd;
		pf[0].events = POLLIN;
		for (i = 0; i < s->nc; i++) {
			pf[1 + 2 * i].fd = s->c[i].cfd;
			pf[1 + 2 * i].events = POLLIN;
			pf[2 + 2 * i].fd = s->c[i].ufd;	/* -1: ignored */
			pf[2 + 2 * i].events = POLLIN;
		}
		n = 1 + 2 * s->nc;
		/* the timeout only bounds how long a stop takes */
		if (poll(pf, (nfds_t)n, 50) <= 0)
			continue;
		for (i = s->nc - 1; i >= 0; i--) {
			if ((pf[1 + 2 * i].revents & (POLLIN | POLLHUP |
			    POLLERR)) && from_client(s, &s->c[i]) < 0) {
				conn_close(s, i);
				continue;
			}
			if (s->c[i].ufd >= 0 && (pf[2 + 2 * i].revents &
			    (POLLIN | POLLHUP | POLLERR)) &&
			    from_etcd(s, &s->c[i]) < 0)
				conn_close(s, i);
		}
		if (pf[0].revents & POLLIN)
			accept_one(s);
	}
	while (s->nc > 0)
		conn_close(s, s->nc - 1);
	return NULL;
}

int
th_proxy_start(struct th_proxy *p, int upstream)
{
	struct th_proxy_state *s = lr_xcalloc(1, sizeof(*s));
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);

	memset(p, 0, sizeof(*p));
	s->upstream = upstream;
	pthread_mutex_init(&s->mu, NULL);
	if ((s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		goto fail;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(s->lfd, (struct sockaddr *)&sa, &len) < 0 ||
	    listen(s->lfd, 64) < 0)
		goto fail;
	p->port = ntohs(sa.sin_port);
	snprintf(p->url, sizeof(p->url), "http://127.0.0.1:%d", p->port);
	if (pthread_create(&s->thr, NULL, proxy_main, s) != 0)
		goto fail;
	p->s = s;
	return 0;
fail:
	fprintf(stderr, "th_proxy: cannot listen on 127.0.0.1: %s\n",
	    strerror(errno));
	if (s->lfd > 0)
		close(s->lfd);
	pthread_mutex_destroy(&s->mu);
	free(s);
	return -1;
}

void
th_proxy_drop_answer(struct th_proxy *p, const char *pattern)
{
	pthread_mutex_lock(&p->s->mu);
	free(p->s->drop);
	p->s->drop = lr_xstrdup(pattern);
	pthread_mutex_unlock(&p->s->mu);
}

int
th_proxy_dropped(struct th_proxy *p)
{
	int n;

	pthread_mutex_lock(&p->s->mu);
	n = p->s->dropped;
	pthread_mutex_unlock(&p->s->mu);
	return n;
}

void
th_proxy_stop(struct th_proxy *p)
{
	struct th_proxy_state *s = p->s;

	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	s->stop = 1;
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->thr, NULL);
	close(s->lfd);
	free(s->drop);
	pthread_mutex_destroy(&s->mu);
	free(s);
	p->s = NULL;
}
