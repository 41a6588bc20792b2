#!/usr/bin/env python3
"""bench/page_session.py BASE PASSWORD-FILE: prepares the page benchmark on a fresh `kefu serve
--test-mode` whose administrator is `admin` (kefu init): logs the administrator in, enrols their second
factor (RFC 6238 code for the server's fake clock), creates the agent `bench.agent` and prints that
agent's session cookie (`kefu_session=…`) on stdout. Standard library only."""
import base64
import hashlib
import hmac
import json
import struct
import sys
import urllib.request

BASE = sys.argv[1].rstrip("/")
PASSWORD = open(sys.argv[2], encoding="utf-8").read().strip()


def call(method, path, body=None, cookie=None, csrf=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(BASE + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if cookie:
        req.add_header("Cookie", cookie)
    if csrf:
        req.add_header("X-CSRF-Token", csrf)
    with urllib.request.urlopen(req, timeout=30) as r:
        raw = r.read()
        cookies = [v.split(";")[0] for k, v in r.getheaders() if k.lower() == "set-cookie"]
        return (json.loads(raw) if raw else None), cookies


def totp(secret, now_ms):
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    mac = hmac.new(key, struct.pack(">Q", now_ms // 1000 // 30), hashlib.sha1).digest()
    off = mac[-1] & 0x0F
    return "%06d" % ((struct.unpack(">I", mac[off:off + 4])[0] & 0x7FFFFFFF) % 1000000)


def login(name):
    doc, cookies = call("POST", "/api/v1/auth/login", {"username": name, "password": PASSWORD})
    cookie = [c for c in cookies if c.startswith("kefu_session=")][0]
    return doc["user"], cookie


def main():
    user, cookie = login("admin")
    csrf = user["csrf_token"]
    if user.get("second_factor_required"):
        doc, _ = call("POST", "/api/v1/auth/totp/begin", cookie=cookie, csrf=csrf)
        secret = doc["otpauth_uri"].split("secret=")[1].split("&")[0]
        now, _ = call("GET", "/api/v1/test/clock")
        call("POST", "/api/v1/auth/totp/confirm", {"code": totp(secret, now["now_ms"])}, cookie=cookie, csrf=csrf)
    call("POST", "/api/v1/users", {"client_id": "0", "username": "bench.agent", "display_name": "王客服",
                                   "password": PASSWORD, "roles": ["agent"]}, cookie=cookie, csrf=csrf)
    agent, agent_cookie = login("bench.agent")
    call("POST", "/api/v1/test/notify", {"user_id": agent["id"], "client_id": "0", "message_key": "notify.test"})
    print(agent_cookie)


if __name__ == "__main__":
    main()
