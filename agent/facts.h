/*
 * Facts about the host for the heartbeat (P/agents/HOST): read from
 * uname(2), sysinfo(2), statvfs(3), /etc/os-release and /proc.
 */
#ifndef AGENT_FACTS_H
#define AGENT_FACTS_H

#include <jansson.h>

/*
 * The heartbeat's facts (struct proto_facts, encoded by proto/report.h):
 * host name, os (PRETTY_NAME), kernel release, arch, cpus, memory total
 * and available (bytes), load [1m, 5m, 15m], disk_free (bytes free for
 * state_dir's filesystem), the agent's version, pid and start time; a
 * fact that cannot be read is left out.  New reference.
 */
json_t	*agent_facts_collect(const char *state_dir, int64_t started_unix);

#endif
