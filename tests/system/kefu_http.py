"""A small HTTP client for the system tests (standard library only).

`request()` goes through http.client for ordinary requests. `raw()` writes the given bytes to a
plain socket and parses the answer with http.client's response parser, so that invalid UTF-8, NUL
escapes, `..` segments and huge request lines reach kefu exactly as written (http.client and urllib
would refuse or rewrite them). Both return a `Response`.
"""
import http.client
import json as jsonlib
import socket
import time
import urllib.parse

DEFAULT_TIMEOUT = 20.0


class Response:
    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers  # list of (name, value) in the order received
        self.body = body  # bytes

    def header(self, name):
        """The first value of header `name` (case-insensitive), or None."""
        low = name.lower()
        for k, v in self.headers:
            if k.lower() == low:
                return v
        return None

    def header_all(self, name):
        low = name.lower()
        return [v for k, v in self.headers if k.lower() == low]

    @property
    def text(self):
        return self.body.decode("utf-8", errors="replace")

    @property
    def json(self):
        """The body parsed as JSON, or None when it is not JSON."""
        try:
            return jsonlib.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return None

    def __repr__(self):
        body = self.body[:600]
        more = "" if len(self.body) <= 600 else " …(%d bytes)" % len(self.body)
        hdrs = "".join("\n    %s: %s" % (k, v) for k, v in self.headers)
        return "<HTTP %s %s%s\n  body: %r%s>" % (self.status, self.reason, hdrs, body, more)


def _source_bind(sock, source):
    if source:
        sock.bind((source, 0))


def request(addr, method, path, body=None, json=None, headers=None, timeout=DEFAULT_TIMEOUT,
            source=None, content_type="application/json"):
    """One request on a fresh connection. `json` (any JSON value) is encoded as the body with
    Content-Type `content_type` (None: no Content-Type header). `body` is sent as is (bytes or str)."""
    host, port = addr
    hdrs = dict(headers or {})
    if json is not None:
        body = jsonlib.dumps(json, ensure_ascii=False).encode("utf-8")
        if content_type is not None and not any(k.lower() == "content-type" for k in hdrs):
            hdrs["Content-Type"] = content_type
    if isinstance(body, str):
        body = body.encode("utf-8")
    conn = http.client.HTTPConnection(host, port, timeout=timeout,
                                      source_address=(source, 0) if source else None)
    try:
        conn.request(method, path, body=body, headers=hdrs)
        r = conn.getresponse()
        data = r.read()
        return Response(r.status, r.reason, r.getheaders(), data)
    finally:
        conn.close()


def raw(addr, data, timeout=DEFAULT_TIMEOUT, source=None, method="GET"):
    """Sends `data` (a complete request, bytes) on a fresh connection and parses the answer.
    Errors while sending are tolerated (a server may answer 413/414 and close before reading
    everything); the answer is then read from what arrived."""
    sock = socket.create_connection(addr, timeout=timeout,
                                    source_address=(source, 0) if source else None)
    try:
        try:
            sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        r = http.client.HTTPResponse(sock, method=method)
        r.begin()
        body = r.read()
        return Response(r.status, r.reason, r.getheaders(), body)
    finally:
        sock.close()


def build(method, target, headers=None, body=b""):
    """Builds request bytes. `target` is bytes or str (str is encoded as UTF-8, nothing else)."""
    if isinstance(target, str):
        target = target.encode("utf-8")
    if isinstance(body, str):
        body = body.encode("utf-8")
    lines = [method.encode("ascii") + b" " + target + b" HTTP/1.1", b"Host: 127.0.0.1"]
    hdrs = dict(headers or {})
    if body and not any(k.lower() in ("content-length", "transfer-encoding") for k in hdrs):
        hdrs["Content-Length"] = str(len(body))
    hdrs.setdefault("Connection", "close")
    for k, v in hdrs.items():
        lines.append(("%s: %s" % (k, v)).encode("latin-1"))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def quote(s):
    """Percent-encodes every reserved character (including '+', '&', '/' and '%')."""
    return urllib.parse.quote(s, safe="")


SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def assert_kefu_headers(r):
    """The headers kefu puts on every response, errors included."""
    rid = r.header("X-Request-Id")
    assert rid and rid.strip(), "no X-Request-Id on %r" % (r,)
    for name, value in SECURITY_HEADERS.items():
        got = r.header(name)
        assert got is not None, "no %s on %r" % (name, r)
        assert got.strip().lower() == value.lower(), "%s is %r on %r" % (name, got, r)
    csp = r.header("Content-Security-Policy")
    assert csp and csp.strip(), "no Content-Security-Policy on %r" % (r,)


def assert_json_content_type(r):
    ct = (r.header("Content-Type") or "").split(";")[0].strip().lower()
    assert ct == "application/json", "Content-Type %r on %r" % (r.header("Content-Type"), r)


def assert_error(r, status, code, field=None):
    """A kefu JSON error: status, `{"error":{"code","field","message"}}`, kefu's headers.
    `field` None: not checked; otherwise the error must name that field."""
    assert r.status == status, "expected %d %s, got %r" % (status, code, r)
    assert_kefu_headers(r)
    assert_json_content_type(r)
    doc = r.json
    assert isinstance(doc, dict) and isinstance(doc.get("error"), dict), "not a kefu error: %r" % (r,)
    err = doc["error"]
    assert err.get("code") == code, "error code %r, expected %r: %r" % (err.get("code"), code, r)
    assert isinstance(err.get("message"), str) and err["message"], "error without message: %r" % (r,)
    assert "field" in err, "error without a field member: %r" % (r,)
    if field is not None:
        assert err.get("field") == field, "error field %r, expected %r: %r" % (err.get("field"), field, r)
    return err


def parse_metrics(text):
    """Prometheus text format → {(name, ((label, value), …sorted)): float}."""
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        i = 0
        while i < len(line) and line[i] not in "{ ":
            i += 1
        name = line[:i]
        labels = []
        if i < len(line) and line[i] == "{":
            i += 1
            while True:
                while line[i] in " ,":
                    i += 1
                if line[i] == "}":
                    i += 1
                    break
                eq = line.index("=", i)
                lname = line[i:eq].strip()
                assert line[eq + 1] == '"', "bad metrics line %r" % line
                j = eq + 2
                val = []
                while line[j] != '"':
                    if line[j] == "\\":
                        nxt = line[j + 1]
                        val.append({"n": "\n", "\\": "\\", '"': '"'}.get(nxt, nxt))
                        j += 2
                    else:
                        val.append(line[j])
                        j += 1
                labels.append((lname, "".join(val)))
                i = j + 1
        rest = line[i:].split()
        assert rest, "metrics line without a value: %r" % line
        value = float(rest[0])
        out[(name, tuple(sorted(labels)))] = value
    return out


def metric_sum(metrics, name, **labels):
    """Sum of every series of `name` whose labels include `labels` (values compared exactly,
    or by a predicate when a callable is given)."""
    total = 0.0
    for (n, lbls), v in metrics.items():
        if n != name:
            continue
        d = dict(lbls)
        ok = True
        for k, want in labels.items():
            got = d.get(k)
            if callable(want):
                ok = got is not None and want(got)
            else:
                ok = got == want
            if not ok:
                break
        if ok:
            total += v
    return total


def metric_names(metrics):
    return {n for (n, _), _ in metrics.items()}


def free_port(host="127.0.0.1"):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((host, 0))
        return s.getsockname()[1]
    finally:
        s.close()


def totp_code(secret_b32, now_ms, step_offset=0):
    """RFC 6238 (HMAC-SHA-1, 6 digits, 30 s) for the server's clock, independently of kefu's code."""
    import base64
    import hashlib
    import hmac
    import struct
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    counter = now_ms // 1000 // 30 + step_offset
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    off = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[off:off + 4])[0] & 0x7FFFFFFF
    return "%06d" % (value % 1000000)


def enrol_second_factor(srv, cookie, csrf):
    """Enrols a second factor for the session's user (begin, then confirm with the code for the
    server's clock); returns (base32 secret, recovery codes)."""
    headers = {"Cookie": cookie, "X-CSRF-Token": csrf}
    b = request(srv.addr, "POST", "/api/v1/auth/totp/begin", headers=headers)
    assert b.status == 200, b
    secret = b.json["otpauth_uri"].split("secret=")[1].split("&")[0]
    c = request(srv.addr, "POST", "/api/v1/auth/totp/confirm", json={"code": totp_code(secret, srv.clock_now())},
                headers=headers)
    assert c.status == 200, c
    return secret, c.json["recovery_codes"]


class EventStream:
    """A server-sent event stream (GET with `headers`): .status, .headers, and next_event() →
    (event, data) or None when nothing came within `timeout` seconds. Close it when done."""

    def __init__(self, addr, path, headers=None, timeout=DEFAULT_TIMEOUT):
        self.sock = socket.create_connection(addr, timeout=timeout)
        hdrs = dict(headers or {})
        hdrs.setdefault("Accept", "text/event-stream")
        hdrs["Connection"] = "keep-alive"
        self.sock.sendall(build("GET", path, hdrs))
        self.resp = http.client.HTTPResponse(self.sock, method="GET")
        self.resp.begin()
        self.status = self.resp.status
        self.headers = self.resp.getheaders()
        self.pending = b""

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def next_event(self, timeout=5.0):
        """The next event that is not a comment (heartbeats are skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            while b"\n\n" in self.pending:
                block, self.pending = self.pending.split(b"\n\n", 1)
                event, data = "message", []
                for line in block.decode("utf-8").split("\n"):
                    if line.startswith("event:"):
                        event = line[6:].strip()
                    elif line.startswith("data:"):
                        data.append(line[5:].strip())
                if data:
                    return event, "\n".join(data)
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                chunk = self.resp.read1(4096)
            except (socket.timeout, TimeoutError):
                return None
            if not chunk:
                return ("closed", "")
            self.pending += chunk

    def close(self):
        try:
            self.resp.close()
        finally:
            self.sock.close()
