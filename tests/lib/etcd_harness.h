/*
 * Test harness: real etcd members (Debian's /usr/bin/etcd) on 127.0.0.1
 * with free ports and a temp data dir, started and stopped by the test.
 * Fast election timers (--heartbeat-interval 10 --election-timeout 100) so
 * a member is ready in about 0.1 s.  Everything is removed by
 * th_etcd_stop(); a test that dies leaves nothing running: members are
 * started with PR_SET_PDEATHSIG.
 *
 * When no etcd binary is installed, th_etcd_start returns -1 after printing
 * why; tests then exit 77 (CTest skip).
 */
#ifndef TH_ETCD_H
#define TH_ETCD_H

#include <stdbool.h>
#include <sys/types.h>

#define TH_MAX_MEMBERS 3

enum th_flags {
	TH_TLS = 1 << 0,	/* https with a CA made for the test (openssl) */
	TH_CLIENT_CERT = 1 << 1,	/* with TH_TLS: --client-cert-auth */
	TH_AUTH = 1 << 2	/* root user "root"/"rootpw", auth enabled */
};

struct th_member {
	pid_t	 pid;		/* 0 when stopped */
	int	 client_port, peer_port;
	char	 url[64];	/* http(s)://127.0.0.1:port */
	char	 name[16];
	off_t	 log_from;	/* the log's size when it was last spawned */
};

struct th_etcd {
	int	 nmembers;
	unsigned flags;
	struct th_member m[TH_MAX_MEMBERS];
	char	 dir[256];	/* temp dir: data dirs, logs, certs */
	char	 endpoints[TH_MAX_MEMBERS * 64];	/* "url1,url2,url3" */
	/* with TH_TLS: PEM files under dir */
	char	 cacert[300], cert[300], key[300];
	/*
	 * with TH_TLS: a CA that did not sign etcd's certificate, and a
	 * client certificate with a CommonName (the gateway refuses those
	 * when auth is on), for tests of the failures
	 */
	char	 othercacert[300], cncert[300], cnkey[300];
	char	 extra[256];	/* extra etcd flags (th_etcd_start_args) */
};

/* Start nmembers (1 or 3) members and wait until they serve; 0 or -1. */
int	th_etcd_start(struct th_etcd *h, int nmembers, unsigned flags);
/*
 * The same with extra etcd flags, blank-separated, no quoting (e.g.
 * "--auth-token-ttl 1"); kept for th_etcd_restart_member.
 */
int	th_etcd_start_args(struct th_etcd *h, int nmembers, unsigned flags,
	    const char *extra);
/* True when an etcd binary is installed (else tests exit 77). */
bool	th_etcd_available(void);
/*
 * POST body to path on member i with the harness's credentials (root
 * token with TH_AUTH, client cert with TH_TLS); the answer body, owned,
 * or NULL when the request failed.  *status gets the HTTP status.
 */
char	*th_etcd_post(struct th_etcd *h, int i, const char *path,
	    const char *body, long *status);
/* SIGTERM (or SIGKILL when kill9) member i and wait for it; 0 or -1. */
int	th_etcd_stop_member(struct th_etcd *h, int i, bool kill9);
/* Start member i again on its data dir and ports; waits until it serves. */
int	th_etcd_restart_member(struct th_etcd *h, int i);
/* Stop every member and remove the temp dir. */
void	th_etcd_stop(struct th_etcd *h);

/*
 * A loopback TCP proxy (th_proxy.c) in front of a member's client port,
 * run by a thread of the test: what it forwards reaches etcd unchanged.
 * upstream 0 makes it a black hole: it accepts, reads and never answers.
 */
struct th_proxy_state;
struct th_proxy {
	int	 port;
	char	 url[64];	/* http://127.0.0.1:port */
	struct th_proxy_state *s;
};

int	th_proxy_start(struct th_proxy *p, int upstream);
/*
 * The next request whose bytes contain pattern (e.g. the base64 of a key
 * only that txn writes) goes to etcd, but once etcd answers, the proxy
 * passes on half of what it read and closes the client's connection: the
 * request landed and its answer was lost.
 */
void	th_proxy_drop_answer(struct th_proxy *p, const char *pattern);
/* How many answers were lost so far. */
int	th_proxy_dropped(struct th_proxy *p);
void	th_proxy_stop(struct th_proxy *p);	/* a zeroed one is fine */

#endif
