"""Durability and graceful shutdown (docs/architecture.md, DESIGN "Write path and
durability"): SIGTERM drains in-flight requests and commits queued writes, then exits 0; no write
answered 201 is lost; kefu refuses to start on storage that could lose acknowledged writes."""
import http.client
import json
import os
import signal
import socket
import threading
import time

import pytest

import kefu_http as kh
from conftest import PG_ADMIN, pg_create_db, pg_url_for, psql

PROBES = "/api/v1/test/probe-writes"
THREADS = 32
WRITES_PER_THREAD = 20


def _writer(addr, idx, acked, outcomes, lock, stop):
    for j in range(WRITES_PER_THREAD):
        if stop.is_set():
            return
        tag, body = "durable-%02d" % idx, "%02d-%02d 客服" % (idx, j)
        try:
            r = kh.request(addr, "POST", PROBES, json={"tag": tag, "body": body}, timeout=30)
        except (ConnectionError, http.client.HTTPException, OSError) as e:
            with lock:
                outcomes.append(("error", type(e).__name__))
            if isinstance(e, ConnectionRefusedError):
                return  # the server is gone
            continue
        with lock:
            outcomes.append(("status", r.status))
            if r.status == 201:
                acked.append((r.json["id"], tag, body))


def test_sigterm_during_concurrent_writes_loses_no_acknowledged_write(kefu):
    s = kefu()
    acked, outcomes, lock, stop = [], [], threading.Lock(), threading.Event()
    threads = [threading.Thread(target=_writer, args=(s.addr, i, acked, outcomes, lock, stop),
                                daemon=True) for i in range(THREADS)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with lock:
            if len(acked) >= 64 or len(outcomes) >= THREADS * WRITES_PER_THREAD:
                break
        time.sleep(0.002)
    with lock:
        acked_at_signal = len(acked)
    s.send_signal(signal.SIGTERM)
    rc = s.wait()
    stop.set()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "writer threads hung after the server exited"
    s.check_exit()
    assert rc == 0

    statuses = sorted({v for k, v in outcomes if k == "status"})
    errors = sorted({v for k, v in outcomes if k == "error"})
    assert set(statuses) <= {201, 503}, "answers during shutdown: %s" % statuses
    assert "TimeoutError" not in errors and "timeout" not in errors, errors
    assert acked, "no write was acknowledged before SIGTERM (outcomes %s)" % outcomes[:20]

    s2 = kefu(db_url=s.db_url)
    missing = []
    for ident, tag, body in acked:
        r = s2.get(PROBES + "/" + ident)
        if r.status != 200 or r.json.get("tag") != tag or r.json.get("body") != body:
            missing.append((ident, tag, body, r.status))
    assert not missing, ("%d of %d acknowledged writes lost after SIGTERM (%d acked when signalled):"
                         " %s" % (len(missing), len(acked), acked_at_signal, missing[:10]))
    per_tag = {}
    for _, tag, _ in acked:
        per_tag[tag] = per_tag.get(tag, 0) + 1
    for tag, n in per_tag.items():
        assert s2.probe_count(tag) >= n, tag


def test_writes_survive_a_restart(kefu):
    s = kefu()
    ids = [s.probe_write("restart", "r%d" % i).json["id"] for i in range(10)]
    s.stop()
    s2 = kefu(db_url=s.db_url)
    assert [it["id"] for it in s2.probe_by_tag("restart")["items"]] == list(reversed(ids))
    r = s2.get("/readyz")
    assert r.status == 200 and r.json["status"] == "ready", r


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_idle_server_exits_0_on_signal(kefu, sig):
    s = kefu()
    s.probe_write("idle", "x")
    assert s.stop(sig) == 0


def test_sigterm_with_an_idle_keep_alive_connection_exits_0(kefu):
    s = kefu()
    idle = http.client.HTTPConnection(*s.addr, timeout=30)
    try:
        idle.request("GET", "/healthz")
        assert idle.getresponse().read()
        assert s.stop(signal.SIGTERM) == 0
    finally:
        idle.close()


def test_sigterm_with_half_sent_requests_exits_0(kefu):
    """Clients that never finish their headers or body cannot keep kefu from exiting 0
    (the wait is bounded only to catch a hang)."""
    s = kefu()
    half = socket.create_connection(s.addr, timeout=30)
    half.sendall(b"POST /api/v1/test/probe-writes HTTP/1.1\r\nHost: x\r\nContent-Type: appl")
    half2 = socket.create_connection(s.addr, timeout=30)
    half2.sendall(b"POST /api/v1/test/probe-writes HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"tag\":\"half\"")
    gone = socket.create_connection(s.addr, timeout=30)  # sends half a body and hangs up
    body = json.dumps({"tag": "half", "body": "never finished"}).encode()
    gone.sendall(b"POST /api/v1/test/probe-writes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                 b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body[:len(body) // 2])
    gone.shutdown(socket.SHUT_WR)
    try:
        assert s.probe_count("half") == 0  # the server is up and has the connections
        assert s.stop(signal.SIGTERM) == 0
    finally:
        half.close()
        half2.close()
        gone.close()
    s2 = kefu(db_url=s.db_url)
    assert s2.probe_count("half") == 0, "a request whose body never arrived was written"


# ---- refusing unsafe or unusable storage -----------------------------------------------------------

def _need_postgres(engine):
    if engine != "postgres":
        pytest.skip("session settings that weaken durability exist only on PostgreSQL "
                    "(kefu sets synchronous=FULL itself on SQLite)")


def _assert_refused(srv, word):
    rc, log = srv.expect_refusal()
    assert rc != 0, "exit %s\n%s" % (rc, log)
    assert rc > 0, "killed by signal %d instead of exiting with an error\n%s" % (-rc, log)
    assert word.lower() in log.lower(), "the message should name %r:\n%s" % (word, log)


def test_refuses_synchronous_commit_off_in_the_url(engine, new_db, kefu_unstarted):
    _need_postgres(engine)
    url = new_db()
    url += ("&" if "?" in url else "?") + "options=-c%20synchronous_commit%3Doff"
    _assert_refused(kefu_unstarted(db_url=url), "synchronous_commit")


def test_refuses_synchronous_commit_off_from_pgoptions(engine, new_db, kefu_unstarted):
    _need_postgres(engine)
    srv = kefu_unstarted(db_url=new_db(), env={"PGOPTIONS": "-c synchronous_commit=off"})
    _assert_refused(srv, "synchronous_commit")


def test_refuses_synchronous_commit_off_set_on_the_database(engine, kefu_unstarted):
    _need_postgres(engine)
    name = pg_create_db()
    psql(PG_ADMIN, "ALTER DATABASE %s SET synchronous_commit = off" % name)
    _assert_refused(kefu_unstarted(db_url=pg_url_for(PG_ADMIN, name)), "synchronous_commit")


def test_accepts_synchronous_commit_local(engine, new_db, kefu):
    _need_postgres(engine)
    url = new_db()
    url += ("&" if "?" in url else "?") + "options=-c%20synchronous_commit%3Dlocal"
    s = kefu(db_url=url)
    assert s.probe_write("sync-local", "x").status == 201


def test_refuses_unusable_database(engine, kefu_unstarted):
    if engine == "sqlite":
        url = "sqlite:" + os.path.join("/nonexistent-dir-kefu", "sub", "kefu.db")
    else:
        url = pg_url_for(PG_ADMIN, "no_such_database_kefu")
    rc, log = kefu_unstarted(db_url=url).expect_refusal()
    assert rc > 0, "exit %s\n%s" % (rc, log)
    assert log.strip(), "refused without a message"


def test_refuses_a_file_that_is_not_a_database(engine, kefu_unstarted, tmp_path):
    if engine != "sqlite":
        pytest.skip("SQLite files only")
    path = tmp_path / "garbage.db"
    path.write_bytes(b"this is not an SQLite database\n" * 200)
    rc, log = kefu_unstarted(db_url="sqlite:" + str(path)).expect_refusal()
    assert rc > 0, "exit %s\n%s" % (rc, log)
    assert path.read_bytes() == b"this is not an SQLite database\n" * 200, "kefu changed the file"
