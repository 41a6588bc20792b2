#!/usr/bin/env python3
"""bench/agents.py BASE PASSWORD-FILE N PERIOD SECONDS PATH: N simulated agents (bench.agent01 … NN,
made by bench/gen) log in, then each refreshes PATH (its queue page) every PERIOD seconds for SECONDS,
their first refreshes spread evenly over the first period. Prints `key value` lines: logins, pages,
non-200 answers, errors, and the page time at the client (p50, p99, max, in ms). Standard library only."""
import http.client
import json
import sys
import threading
import time
import urllib.parse

BASE, PWFILE = sys.argv[1], sys.argv[2]
N, PERIOD, SECONDS, PATH = int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), sys.argv[6]
PASSWORD = open(PWFILE, encoding="utf-8").read().strip()
u = urllib.parse.urlsplit(BASE)
lock = threading.Lock()
times, bad, errors = [], [0], [0]


def login(name):
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    c.request("POST", "/api/v1/auth/login", json.dumps({"username": name, "password": PASSWORD}),
              {"Content-Type": "application/json"})
    r = c.getresponse()
    r.read()
    if r.status != 200:
        raise RuntimeError("login %s: %d" % (name, r.status))
    cookie = [v.split(";")[0] for k, v in r.getheaders() if k.lower() == "set-cookie" and v.startswith("kefu_session=")]
    c.close()
    return cookie[0]


def agent(i, cookie, start):
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    t_next = start + i * PERIOD / N
    while t_next < start + SECONDS:
        time.sleep(max(0.0, t_next - time.time()))
        t0 = time.perf_counter()
        try:
            c.request("GET", PATH, headers={"Cookie": cookie})
            r = c.getresponse()
            r.read()
            dt = time.perf_counter() - t0
            with lock:
                times.append(dt)
                if r.status != 200:
                    bad[0] += 1
        except (OSError, http.client.HTTPException):
            with lock:
                errors[0] += 1
            c.close()
            c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        t_next += PERIOD
    c.close()


def main():
    cookies = [login("bench.agent%02d" % (i + 1)) for i in range(N)]
    print("logins %d" % len(cookies), flush=True)
    print("ready", flush=True)  # bench/run starts its measurement window here
    start = time.time()
    threads = [threading.Thread(target=agent, args=(i, cookies[i], start)) for i in range(N)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ts = sorted(times)

    def pct(p):
        return ts[min(len(ts) - 1, max(0, int(p / 100.0 * len(ts) + 0.999999) - 1))] * 1000 if ts else 0

    print("window_s %.1f" % (time.time() - start))
    print("pages %d" % len(ts))
    print("non200 %d" % bad[0])
    print("errors %d" % errors[0])
    print("page_p50_ms %.2f" % pct(50))
    print("page_p99_ms %.2f" % pct(99))
    print("page_max_ms %.2f" % (ts[-1] * 1000 if ts else 0))


if __name__ == "__main__":
    main()
