/*
 * rss_floor: the memory an agent pays before its main() runs.
 *
 * bench/agent.sh links this empty program against the libraries the agent
 * links (libarchive, libcurl, libuv, jansson, libcrypto; with
 * -Wl,--no-as-needed so none is dropped) and prints
 *
 *   <RssAnon KiB> <VmRSS KiB>
 *
 * as read from /proc/self/status at the start of main(): what the dynamic
 * loader and the libraries' constructors made resident (relocated data,
 * GOTs, static initialisers), the floor under the agent's idle RssAnon.
 * Standalone: `cc -O2 rss_floor.c -Wl,--no-as-needed -lcurl ...`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long
field(const char *buf, const char *name)
{
	const char *p = strstr(buf, name);

	return p ? strtol(p + strlen(name), NULL, 10) : -1;
}

int
main(void)
{
	char buf[8192];
	size_t n;
	FILE *f = fopen("/proc/self/status", "r");

	if (f == NULL) {
		perror("rss_floor: /proc/self/status");
		return 1;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	printf("%ld %ld\n", field(buf, "\nRssAnon:"), field(buf, "\nVmRSS:"));
	return 0;
}
