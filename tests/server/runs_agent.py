#!/usr/bin/env python3
# A stand-in for leura-agent's run side in leurad's run tests
# (tests/server/t_runs*.sh): it plays the contract of server/run.h over
# etcd's JSON gateway, so that the engine's decisions are tested step by
# step with results the test chooses.  Real agents are tested with the
# engine in t_runs_agents.sh.
#
#   runs_agent.py ENDPOINT PREFIX SECONDS HOST... [--fail NAME]
#       [--hold NAME] [--ignore NAME] [--slow NAME] [--log FILE]
#
# For SECONDS (or until the file $RUNS_AGENT_STOP exists), for each
# dispatch under PREFIX/runs/dispatch/HOST/: claim it (a txn: create the
# claim, on a lease, only when neither claim nor result exists), then
# write its result and delete the claim in one txn: "failed" for a step
# named in --fail, "ok" otherwise.  A step named in --hold is claimed on
# a lease of 2 s that is never renewed, and left: the engine must call
# it lost.  A step named in --ignore is never claimed (an agent that is
# away).  A step named in --slow takes 1 s between claim and result.
# Every dispatch seen (a key and its create revision: "dispatch RUN
# HOST S"), claim and result is logged to --log ("claim RUN HOST S",
# "result RUN HOST S STATUS").
import base64
import json
import os
import sys
import time
import urllib.request


def b64(s):
    return base64.b64encode(s.encode()).decode()


def unb64(s):
    return base64.b64decode(s).decode()


class Etcd:
    def __init__(self, ep):
        self.ep = ep

    def call(self, path, body):
        req = urllib.request.Request(self.ep + path,
                                     data=json.dumps(body).encode(),
                                     method="POST")
        with urllib.request.urlopen(req, timeout=5) as r:
            return json.loads(r.read())

    def range_prefix(self, prefix):
        end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        r = self.call("/v3/kv/range", {"key": b64(prefix),
                                        "range_end": b64(end)})
        return [(unb64(kv["key"]), unb64(kv.get("value", "")),
                 kv.get("create_revision"))
                for kv in r.get("kvs", [])]

    def lease(self, ttl):
        return self.call("/v3/lease/grant", {"TTL": ttl})["ID"]

    def keepalive(self, lid):
        self.call("/v3/lease/keepalive", {"ID": lid})

    def txn(self, compare, success):
        r = self.call("/v3/kv/txn", {"compare": compare, "success": success})
        return r.get("succeeded", False)


def absent(key):
    return {"key": b64(key), "target": "CREATE", "result": "EQUAL",
            "create_revision": "0"}


def main():
    args = sys.argv[1:]
    ep, prefix, secs = args[0], args[1], float(args[2])
    hosts, fail, hold, ignore, slow, log = [], set(), set(), set(), set(), \
        None
    i = 3
    while i < len(args):
        if args[i] == "--fail":
            fail.add(args[i + 1])
            i += 2
        elif args[i] == "--hold":
            hold.add(args[i + 1])
            i += 2
        elif args[i] == "--slow":
            slow.add(args[i + 1])
            i += 2
        elif args[i] == "--ignore":
            ignore.add(args[i + 1])
            i += 2
        elif args[i] == "--log":
            log = args[i + 1]
            i += 2
        else:
            hosts.append(args[i])
            i += 1
    e = Etcd(ep)
    stop = os.environ.get("RUNS_AGENT_STOP")
    lease = None
    seen, logged, owed = set(), set(), []
    t_end = time.time() + secs
    while time.time() < t_end and not (stop and os.path.exists(stop)):
        try:
            if lease is None:
                lease = e.lease(10)
            e.keepalive(lease)
            for h in hosts:
                for key, val, crev in e.range_prefix(
                        "%s/runs/dispatch/%s/" % (prefix, h)):
                    if (key, crev) in seen:
                        continue
                    d = json.loads(val)
                    run, step = d["run"], d["step"]
                    if log and (key, crev) not in logged:
                        logged.add((key, crev))
                        with open(log, "a") as f:
                            f.write("dispatch %s %s %d\n" % (run, h, step))
                    name = d["spec"].get("name", "")
                    if name in ignore:
                        continue
                    tail = "%s/%s/%04d" % (run, h, step)
                    claim = "%s/runs/exec/%s" % (prefix, tail)
                    result = "%s/runs/results/%s" % (prefix, tail)
                    lid = e.lease(2) if name in hold else lease
                    cv = json.dumps({"started": time.strftime(
                        "%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                        "pid": os.getpid(), "lease": str(lid)})
                    ok = e.txn([absent(claim), absent(result)],
                               [{"request_put": {"key": b64(claim),
                                                 "value": b64(cv),
                                                 "lease": lid}}])
                    seen.add((key, crev))
                    if not ok:
                        continue
                    if log:
                        with open(log, "a") as f:
                            f.write("claim %s %s %d\n" % (run, h, step))
                    if name in hold:
                        continue
                    if name in slow:
                        time.sleep(1)
                    st = "failed" if name in fail else "ok"
                    owed.append((run, h, step, st, result, claim))
            # results owed: written until etcd takes them (it may be away)
            while owed:
                run, h, step, st, result, claim = owed[0]
                rv = json.dumps({"status": st, "exit_code":
                                 1 if st == "failed" else 0,
                                 "attempts": 1, "head": "hello\n",
                                 "tail": "hello\n", "bytes": 6,
                                 "chunks": 0, "truncated": False})
                ok = e.txn([absent(result)],
                           [{"request_put": {"key": b64(result),
                                             "value": b64(rv)}},
                            {"request_delete_range": {"key": b64(claim)}}])
                owed.pop(0)
                if ok and log:
                    with open(log, "a") as f:
                        f.write("result %s %s %d %s\n" %
                                (run, h, step, st))
        except Exception as x:  # etcd away (paused): try again
            sys.stderr.write("runs_agent: %s\n" % x)
            lease = None if "lease" in str(x).lower() else lease
        time.sleep(0.1)


main()
