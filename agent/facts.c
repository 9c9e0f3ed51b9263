/*
 * Host facts for the heartbeat (facts.h).  Each fact is read on its own
 * and left out when it cannot be read: a heartbeat with fewer facts is
 * better than none.  Everything here is a few system calls and two small
 * files, cheap enough for the loop thread.
 */
#include <sys/statvfs.h>
#include <sys/sysinfo.h>
#include <sys/types.h>
#include <sys/utsname.h>

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "facts.h"
#include "report.h"

#ifndef LEURA_VERSION
#define LEURA_VERSION "unknown"
#endif

/*
 * The value of PRETTY_NAME in an os-release(5) file, unquoted, into out;
 * false when absent.  Shell-style quoting, simplified: one level of "" or
 * '' and backslash escapes.
 */
static bool
os_pretty_name(const char *path, char *out, size_t outlen)
{
	static const char key[] = "PRETTY_NAME=";
	char line[512], *v, q;
	size_t n = 0;
	bool found = false;
	FILE *f;

	if ((f = fopen(path, "re")) == NULL)
		return false;
	while (!found && fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, key, sizeof(key) - 1) != 0)
			continue;
		v = line + sizeof(key) - 1;
		q = (*v == '"' || *v == '\'') ? *v++ : '\0';
		for (; *v != '\0' && *v != '\n' && n + 1 < outlen; v++) {
			if (q != '\0' && *v == q)
				break;
			if (q != '\'' && *v == '\\' && v[1] != '\0' &&
			    v[1] != '\n')
				v++;
			out[n++] = *v;
		}
		out[n] = '\0';
		found = n > 0;
	}
	fclose(f);
	return found;
}

/* MemAvailable from /proc/meminfo, in bytes; -1 when the kernel has none. */
static long long
mem_available(void)
{
	char line[128];
	long long kb = -1;
	FILE *f;

	if ((f = fopen("/proc/meminfo", "re")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "MemAvailable: %lld kB", &kb) == 1)
			break;
	fclose(f);
	return kb < 0 ? -1 : kb * 1024;
}

json_t *
agent_facts_collect(const char *state_dir, int64_t started_unix)
{
	char host[HOST_NAME_MAX + 1], os[256];
	struct proto_facts f;
	struct utsname u;
	struct sysinfo si;
	struct statvfs sv;
	long long avail;
	long cpus;

	memset(&f, 0, sizeof(f));
	f.cpus = f.mem_total = f.mem_available = f.disk_free = -1;
	if (gethostname(host, sizeof(host)) == 0) {
		host[sizeof(host) - 1] = '\0';	/* not promised when cut */
		f.hostname = host;
	}
	if (os_pretty_name("/etc/os-release", os, sizeof(os)) ||
	    os_pretty_name("/usr/lib/os-release", os, sizeof(os)))
		f.os = os;
	if (uname(&u) == 0) {
		f.kernel = u.release;
		f.arch = u.machine;
	}
	if ((cpus = sysconf(_SC_NPROCESSORS_ONLN)) > 0)
		f.cpus = cpus;
	if (sysinfo(&si) == 0) {
		f.mem_total = (int64_t)si.totalram * si.mem_unit;
		/* kernels before 3.14 have no MemAvailable: free is close */
		if ((avail = mem_available()) < 0)
			avail = (long long)(si.freeram + si.bufferram) *
			    si.mem_unit;
		f.mem_available = avail;
		f.has_load = true;
		f.load[0] = (double)si.loads[0] / (1 << SI_LOAD_SHIFT);
		f.load[1] = (double)si.loads[1] / (1 << SI_LOAD_SHIFT);
		f.load[2] = (double)si.loads[2] / (1 << SI_LOAD_SHIFT);
	}
	if (state_dir != NULL && statvfs(state_dir, &sv) == 0)
		f.disk_free = (int64_t)sv.f_bavail * sv.f_frsize;
	f.agent = LEURA_VERSION;
	f.pid = getpid();
	f.started_unix = started_unix;
	return proto_facts_encode(&f);
}
