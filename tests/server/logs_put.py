#!/usr/bin/env python3
"""Play the agent's and the engine's halves of run logs in etcd (the JSON
gateway, one keep-alive connection), for tests/server/t_logs*.sh and
bench/runlogs.sh.

  logs_put.py ENDPOINT PREFIX chunks RUN HOST STEP FILE [FIRST [SIZE]]
      put FILE's bytes as chunks FIRST.. of SIZE bytes (64 KiB) at
      P/runs/log/RUN/HOST/STEP:04/N:08; prints the number of chunks
  logs_put.py ENDPOINT PREFIX put KEY VALUE      put one key (text)
  logs_put.py ENDPOINT PREFIX putb KEY N FILE    chunk N of a step dir key
"""
import base64
import http.client
import json
import sys
import urllib.parse


def conn(endpoint):
    u = urllib.parse.urlparse(endpoint)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=30)


def put(c, key, value):
    body = json.dumps({"key": base64.b64encode(key.encode()).decode(),
                       "value": base64.b64encode(value).decode()})
    c.request("POST", "/v3/kv/put", body,
              {"Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    if r.status != 200:
        sys.exit("put %s: %d %s" % (key, r.status, data[:200]))


def main():
    ep, prefix, cmd = sys.argv[1], sys.argv[2].rstrip("/"), sys.argv[3]
    c = conn(ep)
    if cmd == "chunks":
        run, host, step, path = sys.argv[4:8]
        first = int(sys.argv[8]) if len(sys.argv) > 8 else 0
        size = int(sys.argv[9]) if len(sys.argv) > 9 else 65536
        n = first
        with open(path, "rb") as f:
            while True:
                b = f.read(size)
                if not b:
                    break
                put(c, "%s/runs/log/%s/%s/%04d/%08d" %
                    (prefix, run, host, int(step), n), b)
                n += 1
        print(n - first)
    elif cmd == "put":
        put(c, prefix + "/" + sys.argv[4], sys.argv[5].encode())
    else:
        sys.exit("unknown command " + cmd)


main()
