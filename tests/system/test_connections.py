"""Connection limits (docs/architecture.md, DESIGN "Measured facts"): libmicrohttpd's
timeout measures idleness, so a client trickling header lines stays connected; `--max-per-ip`
bounds what one source address can hold, so it cannot starve the others. All of 127/8 is loopback
on Linux: the trickling clients come from 127.0.0.2, the well-behaved one from 127.0.0.1."""
import errno
import http.client
import socket
import threading
import time

import kefu_http as kh

TRICKLERS = 500
SLOW_SOURCE = "127.0.0.2"


def _open_tricklers(addr, n, source, budget_s=60):
    """Opens up to `n` connections from `source`, each sending an incomplete request."""
    socks = []
    deadline = time.monotonic() + budget_s
    for _ in range(n):
        if time.monotonic() > deadline:
            break
        sk = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sk.settimeout(3)
        try:
            sk.bind((source, 0))
            sk.connect(addr)
            sk.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        except OSError:
            sk.close()
            continue
        sk.setblocking(False)
        socks.append(sk)
    return socks


def _trickle(socks, stop):
    n = 0
    while not stop.is_set():
        for sk in socks:
            try:
                sk.send(b"X-Slow-%d: y\r\n" % n)
            except OSError:
                pass
        n += 1
        stop.wait(0.5)


def test_slow_header_trickle_from_one_address_does_not_starve_others(kefu):
    s = kefu(args=["--max-per-ip", "32"])
    stop = threading.Event()
    socks = _open_tricklers(s.addr, TRICKLERS, SLOW_SOURCE)
    t = threading.Thread(target=_trickle, args=(socks, stop), daemon=True)
    t.start()
    try:
        assert len(socks) >= 32, "could not even open the allowed connections from %s" % SLOW_SOURCE
        for i in range(20):
            r = kh.request(s.addr, "GET", "/healthz", timeout=10, source="127.0.0.1")
            assert r.status == 200, (i, r)
        r = kh.request(s.addr, "POST", "/api/v1/test/probe-writes", timeout=10, source="127.0.0.1",
                       json={"tag": "trickle", "body": "served"})
        assert r.status == 201, r
        r = kh.request(s.addr, "GET", "/api/v1/test/probe-writes?tag=trickle", timeout=10,
                       source="127.0.0.3")
        assert r.status == 200 and len(r.json["items"]) == 1, r
    finally:
        stop.set()
        t.join(timeout=10)
        for sk in socks:
            sk.close()
    # Once the trickle stops, the slow address is served again (bounded wait for the closes).
    assert _served_eventually(s.addr, SLOW_SOURCE), "127.0.0.2 is not served after its connections closed"


def _served_eventually(addr, source, budget_s=20):
    deadline = time.monotonic() + budget_s
    while time.monotonic() < deadline:
        try:
            r = kh.request(addr, "GET", "/healthz", timeout=5, source=source)
            if r.status == 200:
                return True
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.1)
    return False


def _request_outcome(addr, source):
    """'served', 'refused' (closed or reset without an answer) or the status of an error answer."""
    try:
        r = kh.request(addr, "GET", "/healthz", timeout=10, source=source)
    except (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine):
        return "refused"
    except OSError as e:
        if e.errno in (errno.ECONNRESET, errno.EPIPE):
            return "refused"
        raise
    return "served" if r.status == 200 else r.status


def test_connections_per_address_are_limited(kefu):
    s = kefu(args=["--max-per-ip", "4"])
    held = _open_tricklers(s.addr, 4, "127.0.0.3")
    try:
        assert len(held) == 4
        # the held connections are accepted before the next one (the listen queue is FIFO)
        outcome = _request_outcome(s.addr, "127.0.0.3")
        assert outcome != "served", "a 5th connection from one address was served with --max-per-ip 4"
        assert _request_outcome(s.addr, "127.0.0.1") == "served"
    finally:
        for sk in held:
            sk.close()
    assert _served_eventually(s.addr, "127.0.0.3")


def test_pipelined_requests_are_answered_in_order_or_the_connection_is_closed_explicitly(server):
    """HTTP/1.1 pipelining: kefu may answer every request in order, or stop early, but then the
    last answer it sends says `Connection: close` (a client retries what was not answered)."""
    keep = {"Connection": "keep-alive"}
    reqs = [kh.build("GET", "/healthz", keep),
            kh.build("POST", "/api/v1/test/probe-writes", {"Content-Type": "application/json",
                                                          "Connection": "keep-alive"},
                     b'{"tag":"pipelined","body":"x"}'),
            kh.build("GET", "/api/v1/version")]
    with socket.create_connection(server.addr, timeout=20) as sk:
        sk.sendall(b"".join(reqs))
        fp = sk.makefile("rb")  # one buffer for all answers: they may arrive in one segment

        class _KeepOpen:  # HTTPResponse closes its file when a body is read
            def __getattr__(self, name):
                return getattr(fp, name)

            def close(self):
                pass

        class _Sock:
            def makefile(self, *a, **k):
                return _KeepOpen()

        answers = []
        for method in ("GET", "POST", "GET"):
            r = http.client.HTTPResponse(_Sock(), method=method)
            try:
                r.begin()
            except (http.client.RemoteDisconnected, ConnectionError):
                break
            answers.append((r.status, (r.getheader("Connection") or "").lower(), r.read()))
            if answers[-1][1] == "close":
                break
    assert answers, "no answer at all to pipelined requests"
    assert [a[0] for a in answers] == [200, 201, 200][:len(answers)], answers
    if len(answers) < 3:
        assert answers[-1][1] == "close", "kefu dropped pipelined requests silently: %r" % answers
