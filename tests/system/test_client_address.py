"""The client address in the access log: the socket's peer, or X-Forwarded-For only when the peer
is a configured trusted proxy (issue 2). The access log never carries the query string."""
import os
import time

import kefu_http as kh


def access_lines(path, rid):
    deadline = time.time() + 10
    while time.time() < deadline:
        if os.path.exists(path):
            with open(path, encoding="utf-8", errors="replace") as f:
                lines = [l for l in f if "rid=%s" % rid in l]
            if lines:
                return lines
        time.sleep(0.05)  # the log is flushed every 50 ms
    raise AssertionError("no access-log line for request %s in %s" % (rid, path))


def logged_client(srv, log, headers):
    r = srv.get("/api/v1/version?token=secret-value", headers=headers)
    assert r.status == 200
    line = access_lines(log, r.header("X-Request-Id"))[0]
    assert "secret-value" not in line and "?" not in line.split()[3]
    return line.split("client=")[1].split()[0]


def test_forwarded_for_is_ignored_from_an_untrusted_peer(kefu, tmp_path):
    log = str(tmp_path / "access.log")
    srv = kefu(args=["--access-log", log])
    assert logged_client(srv, log, {"X-Forwarded-For": "203.0.113.7"}) == "127.0.0.1"


def test_forwarded_for_is_believed_from_a_trusted_proxy(kefu, tmp_path):
    log = str(tmp_path / "access.log")
    srv = kefu(args=["--access-log", log, "--trusted-proxy", "127.0.0.1", "--trusted-proxy", "10.0.0.9"])
    # the rightmost address that is not itself a trusted proxy is the client; the leftmost are forgeable
    assert logged_client(srv, log, {"X-Forwarded-For": "6.6.6.6, 203.0.113.7"}) == "203.0.113.7"
    assert logged_client(srv, log, {"X-Forwarded-For": "203.0.113.8, 10.0.0.9"}) == "203.0.113.8"
    # garbage in the header leaves the peer's address
    assert logged_client(srv, log, {"X-Forwarded-For": "not-an-address"}) == "127.0.0.1"
    assert logged_client(srv, log, {}) == "127.0.0.1"
