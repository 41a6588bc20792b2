#!/usr/bin/env python3
"""bench/search_check.py BASE TOKEN-FILE DB-URL QUERIES-FILE [REPEAT]: the search benchmark.

For every query of QUERIES-FILE (one a line; `#` comments): kefu's answer to
GET /api/v1/search?q=…&limit=20 (an agent's API token: provider staff, so notes count), timed at the
client over one keep-alive connection, the median of REPEAT runs (default 5) after one warm-up; and
the reference: a full scan of the same table computing the same answer —
  count(*) and the newest 20 (created DESC, object_id DESC) of search_docs WHERE kind = 'request' AND
  (scope = 'staff' OR shadowed = 0) AND every term occurs in body (instr / strpos)
— run by the engine's own client (sqlite3 CLI `.timer on`, psql `\\timing on`), the median of REPEAT
runs. The terms are bound as parameters (`.parameter set`, psql variables), never spliced into SQL.
Prints one `q<i> …` line per query (kefu ms, reference ms, ratio, totals, MISMATCH when the totals or
the 20 ids differ) and `key value` lines for bench/run. Standard library only."""
import http.client
import json
import re
import statistics
import subprocess
import sys
import time
import urllib.parse

BASE, TOKEN_FILE, DB, QFILE = sys.argv[1:5]
REPEAT = int(sys.argv[5]) if len(sys.argv) > 5 else 5
TOKEN = open(TOKEN_FILE, encoding="utf-8").read().strip()
u = urllib.parse.urlsplit(BASE)
conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)

WHERE = "kind = 'request' AND (scope = 'staff' OR shadowed = 0)"


def kefu(q):
    global conn
    path = "/api/v1/search?" + urllib.parse.urlencode({"q": q, "limit": "20"})
    for attempt in (1, 2):
        t0 = time.perf_counter()
        try:
            conn.request("GET", path, headers={"Authorization": "Bearer " + TOKEN})
            r = conn.getresponse()
            body = r.read()
            break
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            # kefu closed the keep-alive connection while the reference scans ran (its idle timeout,
            # reached when a loaded machine makes the scans slow): open a new one, time that attempt
            if attempt == 2:
                raise
            conn.close()
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
    dt = (time.perf_counter() - t0) * 1000
    if r.status != 200:
        raise RuntimeError("GET %s: %d %s" % (path, r.status, body[:200]))
    doc = json.loads(body)
    ids = [str(it.get("object_id", it.get("id"))) for it in doc.get("items", [])]
    return dt, int(doc["total"]), ids


def sqlite_ref(path, terms):
    lines = [".timer on", ".parameter init"]
    conds = []
    for i, t in enumerate(terms):
        # the shell reads a "…" argument with C escapes, then evaluates it as an SQL literal
        lit = "'" + t.replace("'", "''") + "'"
        lines.append('.parameter set @t%d "%s"' % (i, lit.replace("\\", "\\\\").replace('"', '\\"')))
        conds.append("instr(body, @t%d) > 0" % i)
    cond = " AND ".join([WHERE] + conds)
    lines.append("SELECT count(*) FROM search_docs WHERE %s;" % cond)
    lines.append("SELECT object_id FROM search_docs WHERE %s ORDER BY created DESC, object_id DESC LIMIT 20;" % cond)
    out = subprocess.run(["sqlite3", "-batch", path], input="\n".join(lines) + "\n", capture_output=True,
                         text=True, check=True).stdout
    ms = sum(float(m) * 1000 for m in re.findall(r"Run Time: real ([0-9.]+)", out))
    rows = [l for l in out.splitlines() if l and not l.startswith("Run Time")]
    return ms, int(rows[0]), rows[1:]


def pg_ref(url, terms):
    lines = ["\\timing on", "\\pset tuples_only on", "\\pset format unaligned"]
    conds = []
    for i, t in enumerate(terms):
        lines.append("\\set t%d '%s'" % (i, t.replace("'", "''")))
        conds.append("strpos(body, :'t%d') > 0" % i)
    cond = " AND ".join([WHERE] + conds)
    lines.append("SELECT count(*) FROM search_docs WHERE %s;" % cond)
    lines.append("SELECT object_id FROM search_docs WHERE %s ORDER BY created DESC, object_id DESC LIMIT 20;" % cond)
    out = subprocess.run(["psql", "-X", "-q", url], input="\n".join(lines) + "\n", capture_output=True,
                         text=True, check=True).stdout
    ms = sum(float(m) for m in re.findall(r"^Time: ([0-9.]+) ms", out, re.M))
    rows = [l for l in out.splitlines() if l and not l.startswith("Time:")]
    return ms, int(rows[0]), rows[1:]


def main():
    queries = [l.split("#")[0].strip() for l in open(QFILE, encoding="utf-8")]
    queries = [q for q in queries if q]
    ratios, mism = [], 0
    for i, q in enumerate(queries, 1):
        terms = q.split()
        kefu(q)  # warm-up
        ks = [kefu(q) for _ in range(REPEAT)]
        k_ms = statistics.median(k[0] for k in ks)
        _, k_total, k_ids = ks[-1]
        if DB.startswith("sqlite:"):
            refs = [sqlite_ref(DB[7:], terms) for _ in range(REPEAT)]
        else:
            refs = [pg_ref(DB, terms) for _ in range(REPEAT)]
        r_ms = statistics.median(r[0] for r in refs)
        _, r_total, r_ids = refs[-1]
        same = k_total == r_total and k_ids == r_ids
        mism += not same
        ratio = r_ms / k_ms if k_ms > 0 else 0
        ratios.append(ratio)
        print("q%d %s kefu_ms %.3f reference_ms %.3f ratio %.1f total %d reference_total %d%s" % (
            i, q, k_ms, r_ms, ratio, k_total, r_total, "" if same else " MISMATCH"), flush=True)
    print("search_queries %d" % len(queries))
    print("search_mismatches %d" % mism)
    print("search_median_ratio %.1f" % (statistics.median(ratios) if ratios else 0))


if __name__ == "__main__":
    main()
