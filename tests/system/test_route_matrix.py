"""Every route × every role × own / other tenant (issue 3, C5.2): the outcome each actor gets, written
out here and compared with what the server answers. The table below is the specification — nothing
in it is read from the server — and a check compares its routes with docs/openapi.yaml's `paths`, so
a new route without a row fails this test.

Outcome classes: ok (2xx), unauth (401), forbidden (403), hidden (404: no byte of the object — the
body must not hold its name). Targets: "own" is client A's object, "other" is client B's; the actors
of client A are client users of A, provider staff reach both clients through the provider scope.
Routes without a target object run once per actor (target None)."""
import os
import re
import urllib.parse

import pytest

import kefu_http as kh
import matrix_account
import matrix_admin
import matrix_agreements
import matrix_calendars
import matrix_customers
import matrix_notices
import matrix_queue
import matrix_request_pages
import matrix_requests
import matrix_search

from conftest import key_file_for, run_kefu

PASSWORD = "蓝色的海边-灯塔-2026"
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")

PROVIDER = ["admin", "account_manager", "agent", "technician", "trainer", "finance", "supervisor"]
CLIENT = ["client_admin", "client_staff", "client_supervisor"]
ACTORS = PROVIDER + CLIENT + ["anonymous"]
ENROLLED = {"admin", "finance"}  # roles that must have a second factor: the site enrols them at login

# --- the expected table ------------------------------------------------------------------------------
# kind: "public"    → ok for everyone (anonymous included)
#       "session"   → ok for every logged-in actor, unauth for anonymous
#       "client"    → an object of client A (own) or B (other): anonymous unauth; a client user on B's
#                     object hidden; otherwise ok when the role is in `allow`, else `deny` (forbidden,
#                     unless the row says otherwise)
#       "provider"  → an act in the provider's own scope: client users hidden, provider roles per `allow`
#       "own-list"  → no target: a client user lists their own client (ok when allowed)
P_READ = {"admin", "account_manager", "agent", "technician", "trainer", "supervisor"}  # provider staff but finance
C_ALL = set(CLIENT)
ROUTES = {
    ("GET", "/healthz"): dict(kind="public"),
    ("GET", "/readyz"): dict(kind="public"),
    ("GET", "/metrics"): dict(kind="public"),
    ("GET", "/api/v1/version"): dict(kind="public"),
    ("POST", "/api/v1/auth/login"): dict(kind="public"),
    ("POST", "/api/v1/auth/logout"): dict(kind="session"),
    ("GET", "/api/v1/auth/me"): dict(kind="session"),
    # admin and finance enrolled at login (they must), so a new enrolment conflicts for them
    ("POST", "/api/v1/auth/totp/begin"): dict(kind="session", enrolled="conflict"),
    # any logged-in user may confirm their own second factor: with a wrong code the answer is 401 on
    # the field `code` (the route ran for them), while anonymous callers get a bare 401; for the
    # enrolled nothing is pending (409)
    ("POST", "/api/v1/auth/totp/confirm"): dict(kind="session", ok="wrong-code", enrolled="conflict"),
    # the route runs for every logged-in user; the cell sends a wrong current password (422 on that
    # field), so no session here ends
    ("POST", "/api/v1/auth/password"): dict(kind="session", ok="wrong-current"),
    ("GET", "/api/v1/auth/tokens"): dict(kind="session"),
    ("POST", "/api/v1/auth/tokens"): dict(kind="session"),
    ("POST", "/api/v1/auth/tokens/{id}/revoke"): dict(kind="session"),
    ("GET", "/api/v1/orgs"): dict(kind="own-list", allow={"admin", "account_manager", "finance"} | C_ALL),
    ("POST", "/api/v1/orgs"): dict(kind="provider", allow={"admin", "account_manager"}),
    # provider staff without org.read on clients may read only the provider's own organisation: a
    # client's is then not found for them (org_get asks both scopes)
    ("GET", "/api/v1/orgs/{id}"): dict(kind="client", allow={"admin", "account_manager", "finance"} | C_ALL,
                                       deny="hidden"),
    ("PATCH", "/api/v1/orgs/{id}"): dict(kind="client", allow={"admin", "account_manager"}),
    ("POST", "/api/v1/orgs/{id}/disable"): dict(kind="client", allow={"admin", "account_manager"}),
    ("POST", "/api/v1/orgs/{id}/enable"): dict(kind="client", allow={"admin", "account_manager"}),
    ("GET", "/api/v1/orgs/{id}/users"): dict(kind="client",
                                             allow={"admin", "account_manager", "client_admin", "client_supervisor"}),
    ("POST", "/api/v1/users"): dict(kind="client", allow={"admin", "account_manager", "client_admin"}),
    ("GET", "/api/v1/users/{id}"): dict(kind="client",
                                        allow={"admin", "account_manager", "client_admin", "client_supervisor"}),
    ("POST", "/api/v1/users/{id}/disable"): dict(kind="client", allow={"admin", "account_manager", "client_admin"}),
    ("PUT", "/api/v1/users/{id}/roles"): dict(kind="client", allow={"admin", "account_manager", "client_admin"}),
    ("POST", "/api/v1/users/{id}/password"): dict(kind="client", allow={"admin", "account_manager", "client_admin"}),
    ("GET", "/api/v1/teams"): dict(kind="provider", allow=set(PROVIDER)),
    ("POST", "/api/v1/teams"): dict(kind="provider", allow={"admin", "supervisor"}),
    ("GET", "/api/v1/teams/{id}/members"): dict(kind="provider", allow=set(PROVIDER)),
    ("POST", "/api/v1/teams/{id}/members"): dict(kind="provider", allow={"admin", "supervisor"}),
    ("DELETE", "/api/v1/teams/{id}/members/{user_id}"): dict(kind="provider", allow={"admin", "supervisor"}),
    ("GET", "/api/v1/customers"): dict(kind="client", allow=P_READ | C_ALL),
    ("POST", "/api/v1/customers"): dict(kind="client", allow={"admin", "account_manager", "client_admin",
                                                              "client_staff"}),
    ("GET", "/api/v1/customers/{id}"): dict(kind="client", allow=P_READ | C_ALL),
    ("PATCH", "/api/v1/customers/{id}"): dict(kind="client", allow={"admin", "account_manager", "client_admin"}),
    ("DELETE", "/api/v1/customers/{id}"): dict(kind="client", allow={"admin", "account_manager", "client_admin"}),
    ("GET", "/api/v1/customers/{id}/consents"): dict(kind="client", allow=P_READ | C_ALL),
    ("POST", "/api/v1/customers/{id}/consents"): dict(kind="client", allow={"admin", "account_manager", "agent",
                                                                            "client_admin", "client_staff"}),
    ("POST", "/api/v1/customers/{id}/consents/withdraw"): dict(kind="client", allow={
        "admin", "account_manager", "agent", "client_admin", "client_staff"}),
    ("GET", "/api/v1/notifications"): dict(kind="session"),
    ("POST", "/api/v1/notifications/{id}/read"): dict(kind="session"),
    ("POST", "/api/v1/notifications/read-all"): dict(kind="session"),
    ("GET", "/api/v1/events"): dict(kind="session"),
    ("GET", "/api/v1/audit"): dict(kind="client", allow={"admin", "supervisor", "client_admin", "client_supervisor"}),
    # business calendars (C3.1.1): the provider's own; every provider role reads, admins manage
    ("GET", "/api/v1/calendars"): dict(kind="provider", allow=set(PROVIDER)),
    ("POST", "/api/v1/calendars"): dict(kind="provider", allow={"admin"}),
    ("GET", "/api/v1/calendars/{id}"): dict(kind="provider", allow=set(PROVIDER)),
    ("PUT", "/api/v1/calendars/{id}/hours"): dict(kind="provider", allow={"admin"}),
    ("POST", "/api/v1/calendars/{id}/import"): dict(kind="provider", allow={"admin"}),
    ("GET", "/api/v1/calendars/{id}/business-time"): dict(kind="provider", allow=set(PROVIDER)),
    ("GET", "/api/v1/calendars/{id}/month"): dict(kind="provider", allow=set(PROVIDER)),
    # pages: a GET answers the page; an anonymous visitor is redirected to /login ("unauth")
    ("GET", "/"): dict(kind="session"),
    ("GET", "/login"): dict(kind="public"),
    ("POST", "/login"): dict(kind="public", form=True),
    ("POST", "/logout"): dict(kind="session", form=True),
    ("GET", "/static/{name}"): dict(kind="public"),
    ("POST", "/api/v1/test/probe-writes"): dict(kind="public"),
    ("GET", "/api/v1/test/probe-writes"): dict(kind="public"),
    ("GET", "/api/v1/test/probe-writes/{id}"): dict(kind="public"),
    ("GET", "/api/v1/test/clock"): dict(kind="public"),
    ("POST", "/api/v1/test/clock"): dict(kind="public"),
    ("POST", "/api/v1/test/jobs"): dict(kind="public"),
    ("GET", "/api/v1/test/jobs/{id}"): dict(kind="public"),
    ("POST", "/api/v1/test/notify"): dict(kind="public"),
}
# page groups keep their rows and request builders in modules of their own (matrix_*.py)
for _group in (matrix_account, matrix_admin, matrix_customers, matrix_agreements, matrix_calendars, matrix_notices,
               matrix_requests, matrix_request_pages, matrix_queue, matrix_search):
    ROUTES.update(_group.ROUTES)
STATUS = {"ok": None, "unauth": 401, "forbidden": 403, "hidden": 404}


def expected(route, actor, target):
    spec = ROUTES[route]
    kind = spec["kind"]
    if kind == "public":
        return spec.get("ok", "ok")
    if actor == "anonymous":
        return "unauth"
    if kind == "session":
        if actor in ENROLLED and "enrolled" in spec:
            return spec["enrolled"]
        return spec.get("ok", "ok")
    allowed = actor in spec["allow"]
    if kind == "provider":
        if actor in CLIENT:
            return "hidden"
        return "ok" if allowed else "forbidden"
    if kind == "own-list":
        return "ok" if allowed else "forbidden"
    if actor in CLIENT and target == "other":
        return "hidden"
    return "ok" if allowed else spec.get("deny", "forbidden")


def openapi_routes():
    """(METHOD, path) of docs/openapi.yaml's `paths` (the format tests/unit/test_http.c reads)."""
    out, current, in_paths = set(), None, False
    with open(os.path.join(ROOT, "docs", "openapi.yaml"), encoding="utf-8") as f:
        for line in f:
            if line.startswith("paths:"):
                in_paths = True
                continue
            if not in_paths:
                continue
            if re.match(r"^\S", line):
                break
            m = re.match(r"^  (/\S*):\s*$", line)
            if m:
                current = m.group(1)
                continue
            m = re.match(r"^    (get|post|put|patch|delete):\s*$", line)
            if m and current:
                out.add((m.group(1).upper(), current))
    return out


def test_the_matrix_has_a_row_for_every_documented_route():
    assert set(ROUTES) == openapi_routes()


# --- the site ----------------------------------------------------------------------------------------
class Actor:
    def __init__(self, name, cookie=None, csrf=None):
        self.name, self.cookie, self.csrf = name, cookie, csrf

    def headers(self, method):
        h = {}
        if self.cookie:
            h["Cookie"] = self.cookie
            if method != "GET":
                h["X-CSRF-Token"] = self.csrf
        return h


def login(srv, name, recovery=None):
    """Logs `name` in; admin and finance enrol a second factor on their first login and use one of
    its recovery codes (`recovery`, consumed) on a later one."""
    body = {"username": name, "password": PASSWORD}
    if recovery:
        body["totp_code"] = recovery.pop()
    r = srv.post("/api/v1/auth/login", json=body)
    assert r.status == 200, r
    cookie = [v for v in r.header_all("Set-Cookie") if v.startswith("kefu_session=")][0].split(";")[0]
    codes = recovery
    if r.json["user"]["second_factor_required"]:  # admin and finance enrol before they act
        _, codes = kh.enrol_second_factor(srv, cookie, r.json["user"]["csrf_token"])
    actor = Actor(name, cookie, r.json["user"]["csrf_token"])
    actor.recovery = list(codes) if codes else None
    return actor


class Site:
    def __init__(self, srv, tmp_path):
        self.srv = srv
        key = key_file_for(srv.db_url, None)
        pw = tmp_path / "pw.txt"
        pw.write_text(PASSWORD + "\n")
        common = ["--db", srv.db_url, "--key-file", key, "--password-file", str(pw)]
        r = run_kefu(["init", "--admin", "admin"] + common)
        assert r.returncode == 0, r.stderr
        self.admin = login(srv, "admin")
        self.n = 0
        self.client = {}
        self.secret = {}       # target → names that must never reach another tenant
        for t, name in (("own", "甲方客户公司-A"), ("other", "乙方客户公司-B")):
            o = self.call(self.admin, "POST", "/api/v1/orgs", {"name": name, "contact_phone": "021-5555-0000"})
            assert o.status == 201, o
            self.client[t] = o.json["id"]
            self.secret[t] = [name]
        users = [(r, "0") for r in PROVIDER if r != "admin"] + [(r, self.client["own"]) for r in CLIENT]
        users += [("probe-login", "0")]
        self.user_id = {}
        for role, cid in users:
            body = {"client_id": cid, "username": "m-" + role, "password": PASSWORD,
                    "roles": ["agent" if role == "probe-login" else role]}
            u = self.call(self.admin, "POST", "/api/v1/users", body)
            assert u.status == 201, u
            self.user_id[role] = u.json["id"]
        self.actors = {"admin": self.admin, "anonymous": Actor("anonymous")}
        for role in PROVIDER[1:] + CLIENT:
            self.actors[role] = login(srv, "m-" + role)
        # the objects of each tenant
        self.user, self.victim, self.customer = {}, {}, {}
        for t in ("own", "other"):
            tag = "A" if t == "own" else "B"
            u = self.call(self.admin, "POST", "/api/v1/users", {"client_id": self.client[t], "username": "staff-" + tag,
                                                                "password": PASSWORD, "roles": ["client_staff"]})
            assert u.status == 201, u
            self.user[t] = u.json["id"]
            v = self.call(self.admin, "POST", "/api/v1/users", {"client_id": self.client[t], "username": "victim-" + tag,
                                                                "password": PASSWORD, "roles": ["client_staff"]})
            assert v.status == 201, v
            self.victim[t] = v.json["id"]
            cname = "客户姓名" + tag + "秘密"
            c = self.call(self.admin, "POST", "/api/v1/customers",
                          {"client_id": self.client[t], "name": cname, "phone": "+86 138 0013 800" + str(len(tag))})
            assert c.status == 201, c
            self.customer[t] = c.json["id"]
            self.secret[t] += ["staff-" + tag, "victim-" + tag, cname]
        t = self.call(self.admin, "POST", "/api/v1/teams", {"name": "一线支持"})
        assert t.status == 201, t
        self.team = t.json["id"]
        self.probe = self.call(None, "POST", "/api/v1/test/probe-writes", {"tag": "matrix", "body": "x"}).json["id"]
        self.job = self.call(None, "POST", "/api/v1/test/jobs", {"run_at": 1 << 49}).json["id"]

    def call(self, actor, method, path, body=None, form=False, multipart=None):
        h = actor.headers(method) if actor else {}
        if multipart is None and hasattr(body, "multipart"):
            multipart = body.multipart  # a page's file upload, built by a matrix_*.py module
        if multipart:
            h["Content-Type"], data = multipart
            return self.srv.request(method, path, body=data, headers=h)
        if form:
            # a page's form: urlencoded fields (the anti-forgery token travels in the header here)
            h["Content-Type"] = "application/x-www-form-urlencoded"
            return self.srv.request(method, path, body=urllib.parse.urlencode(body or {}), headers=h)
        if body is None and method == "POST":
            return self.srv.request(method, path, headers=h)
        return self.srv.request(method, path, json=body, headers=h)

    def unique(self):
        self.n += 1
        return self.n

    def consent_body(self):
        return {"purpose": "marketing", "notice_version": "v1", "channel": "phone"}

    def request_for(self, route, actor, t):
        """(method, path, body) for `route` on target t (None, "own" or "other")."""
        method, pattern = route
        cid = self.client.get(t)
        n = self.unique()
        for group in (matrix_account, matrix_admin, matrix_customers, matrix_agreements, matrix_calendars, matrix_notices,
                      matrix_requests, matrix_request_pages, matrix_queue, matrix_search):
            if route in group.ROUTES:
                return group.request(self, route, actor, t, n)
        if pattern in ("/api/v1/auth/login", "/login") and method == "POST":
            return method, pattern, {"username": "m-probe-login", "password": PASSWORD}
        if pattern == "/static/{name}":
            return method, "/static/kefu.css", None
        if pattern == "/api/v1/test/probe-writes" and method == "GET":
            return method, pattern + "?tag=matrix", None
        bodies = {
            ("POST", "/api/v1/orgs"): {"name": "新客户-%d" % n},
            ("POST", "/api/v1/users"): {"client_id": cid, "username": "made-%d" % n, "password": PASSWORD,
                                        "roles": ["client_staff"]},
            ("POST", "/api/v1/customers"): {"client_id": cid, "name": "新顾客-%d" % n, "phone": "139%08d" % n},
            ("POST", "/api/v1/customers/{id}/consents"): self.consent_body(),
            ("POST", "/api/v1/customers/{id}/consents/withdraw"): {"purpose": "marketing", "channel": "phone"},
            ("POST", "/api/v1/test/probe-writes"): {"tag": "matrix", "body": "cell-%d" % n},
            ("POST", "/api/v1/test/clock"): {"advance_ms": 1},
            ("POST", "/api/v1/test/jobs"): {"run_at": 1 << 49},
            ("POST", "/api/v1/auth/totp/confirm"): {"code": "000000"},
            ("POST", "/api/v1/auth/password"): {"current_password": "not-the-password", "new_password": PASSWORD + "!"},
            ("POST", "/api/v1/auth/tokens"): {"name": "matrix-%d" % n, "roles": [actor]},
            ("PATCH", "/api/v1/orgs/{id}"): {"legal_name": "法定名称-%d" % n},
            ("PUT", "/api/v1/users/{id}/roles"): {"roles": ["client_staff"]},
            ("POST", "/api/v1/users/{id}/password"): {"password": "重设的-长口令-%d-海边" % n},
            ("POST", "/api/v1/teams"): {"name": "团队-%d" % n},
            ("POST", "/api/v1/teams/{id}/members"): {"user_id": self.user_id["agent"]},
            ("PATCH", "/api/v1/customers/{id}"): {"address": "上海市-%d" % n},
            ("POST", "/api/v1/test/notify"): {"user_id": self.user_id["agent"], "message_key": "notify.test"},
            ("POST", "/api/v1/calendars"): {"name": "日历-%d" % n},
            ("PUT", "/api/v1/calendars/{id}/hours"): {d: "09:00-12:00,13:00-18:00" for d in ("mon", "tue", "wed", "thu",
                                                                                          "fri")} | {"sat": "", "sun": ""},
            ("POST", "/api/v1/calendars/{id}/import"): {"format": "text", "content": "2026-10-01..2026-10-07 off 国庆节\n"},
        }
        ids = {
            "/api/v1/orgs/{id}": cid, "/api/v1/orgs/{id}/users": cid, "/api/v1/users/{id}": self.user.get(t),
            "/api/v1/orgs/{id}/disable": cid, "/api/v1/orgs/{id}/enable": cid,
            "/api/v1/users/{id}/roles": self.victim.get(t), "/api/v1/users/{id}/password": self.victim.get(t),
            "/api/v1/teams/{id}/members": self.team,
            "/api/v1/users/{id}/disable": self.victim.get(t), "/api/v1/customers/{id}": self.customer.get(t),
            "/api/v1/customers/{id}/consents": self.customer.get(t),
            "/api/v1/customers/{id}/consents/withdraw": self.customer.get(t),
            "/api/v1/test/probe-writes/{id}": self.probe, "/api/v1/test/jobs/{id}": self.job,
        }
        if pattern.startswith("/api/v1/calendars/{id}"):
            ids[pattern] = "1"  # the default calendar of migration 0009
        path = pattern.replace("{id}", str(ids.get(pattern)))
        if pattern == "/api/v1/calendars/{id}/business-time":
            path += "?from=1771059600000&minutes=120"
        if pattern.startswith("/api/v1/users/{id}") or pattern.startswith("/api/v1/customers"):
            if method == "GET" or pattern != "/api/v1/customers":
                path += "?client_id=%s" % cid
        if pattern == "/api/v1/auth/tokens/{id}/revoke" and actor in self.actors and actor != "anonymous":
            # a token of the actor's own to revoke
            me = self.actors[actor]
            tk = self.call(me, "POST", "/api/v1/auth/tokens", {"name": "matrix-%d" % n, "roles": [actor]})
            assert tk.status == 201, tk
            path = pattern.replace("{id}", tk.json["id"])
        if pattern == "/api/v1/teams/{id}/members/{user_id}":
            g = self.call(self.admin, "POST", "/api/v1/teams/%s/members" % self.team, {"user_id": self.user_id["agent"]})
            assert g.status == 200, g
            path = "/api/v1/teams/%s/members/%s" % (self.team, self.user_id["agent"])
        if route == ("DELETE", "/api/v1/customers/{id}"):
            # a customer of its own for each cell, made by the administrator
            name = "待删顾客%s-%d" % ("A" if t == "own" else "B", n)
            c = self.call(self.admin, "POST", "/api/v1/customers", {"client_id": cid, "name": name})
            assert c.status == 201, c
            self.secret[t].append(name)
            path = "/api/v1/customers/%s?client_id=%s" % (c.json["id"], cid)
        if pattern == "/api/v1/notifications/{id}/read" and actor in self.actors and actor != "anonymous":
            # a notification of the actor's own to mark read
            uid = self.call(self.actors[actor], "GET", "/api/v1/auth/me").json["user"]["id"]
            cid_of = self.call(self.actors[actor], "GET", "/api/v1/auth/me").json["user"]["client_id"]
            g = self.call(None, "POST", "/api/v1/test/notify",
                          {"user_id": uid, "client_id": cid_of, "message_key": "notify.test"})
            assert g.status == 204, g
            mine = self.call(self.actors[actor], "GET", "/api/v1/notifications?limit=1")
            path = pattern.replace("{id}", mine.json["items"][0]["id"])
        if pattern == "/api/v1/audit":
            path = pattern + "?client_id=%s" % cid
        if pattern.endswith("/withdraw"):
            # a consent in force to withdraw, given by the administrator
            g = self.call(self.admin, "POST", "/api/v1/customers/%s/consents?client_id=%s" % (self.customer[t], cid),
                          self.consent_body())
            assert g.status == 201, g
        return method, path, bodies.get(route)


def targets(route):
    return ["own", "other"] if ROUTES[route]["kind"] == "client" else [None]


def outcome_of(r):
    if r.status in (302, 303):
        # pages: an anonymous visitor is sent to log in; anything else is the page's own answer
        loc = r.header("Location") or ""
        return "unauth" if loc == "/login" or loc.startswith("/login?next=") else "ok"
    if 200 <= r.status < 300:
        return "ok"
    if r.status == 401 and isinstance(r.json, dict) and (r.json.get("error") or {}).get("field") == "code":
        return "wrong-code"
    if r.status == 422 and isinstance(r.json, dict) and (r.json.get("error") or {}).get("field") == "current_password":
        return "wrong-current"
    if r.status == 422 and (r.header("Content-Type") or "").startswith("text/html"):
        # a page's form shown again with the message beside its field: the route ran for the actor
        m = re.search(rb'class="field-error" id="([a-z_]+)-error"', r.body)
        return "form-error:" + (m.group(1).decode() if m else "?")
    return {401: "unauth", 403: "forbidden", 404: "hidden", 409: "conflict"}.get(r.status, "status %d" % r.status)


def test_every_route_every_role_every_tenant(kefu, engine, tmp_path):
    site = Site(kefu(), tmp_path)
    # logout ends the actor's session: it runs last
    # logging out ends the actor's session: the two logouts run last, and the actors log in again
    # between them
    order = sorted(ROUTES, key=lambda r: {("POST", "/api/v1/auth/logout"): 1, ("POST", "/logout"): 2}.get(r, 0))
    mismatches, counts, cells = [], {}, 0
    for route in order:
        for t in targets(route):
            for name in ACTORS:
                if route == ("POST", "/logout") and name != "anonymous":
                    old = site.actors[name]
                    site.actors[name] = login(site.srv, "admin" if name == "admin" else "m-" + name,
                                              getattr(old, "recovery", None))
                actor = site.actors[name]
                want = expected(route, name, t)
                method, path, body = site.request_for(route, name, t)
                # a login with a session cookie would end that session: log in as from a new browser
                if route == ("GET", "/api/v1/events"):
                    # a stream: its status line is the outcome; it would not end by itself
                    es = kh.EventStream(site.srv.addr, path, actor.headers("GET"))
                    r = kh.Response(es.status, "", es.headers, b"")
                    es.close()
                else:
                    anonymous = route in (("POST", "/api/v1/auth/login"), ("POST", "/login"))
                    r = site.call(None if anonymous else actor, method, path, body,
                                  form=ROUTES[route].get("form", False))
                got = outcome_of(r)
                if route == ("POST", "/api/v1/orgs/{id}/disable") and got == "ok":
                    # the other cells need the client working: its users are logged out while disabled
                    e = site.call(site.admin, "POST", "/api/v1/orgs/%s/enable" % site.client[t])
                    assert e.status == 200, e
                if ROUTES[route].get("after_ok") and got == "ok":
                    ROUTES[route]["after_ok"](site, t)  # a row's own clean-up (matrix_*.py)
                cells += 1
                counts[got] = counts.get(got, 0) + 1
                if got != want:
                    mismatches.append("%s %s as %s on %s: want %s, got %r" % (method, path, name, t, want, r))
                if got == "hidden" and t:
                    for secret in site.secret[t]:
                        if secret.encode() in r.body:
                            mismatches.append("%s %s as %s leaks %r: %r" % (method, path, name, secret, r))
                if name in CLIENT and got == "ok" and method == "GET":
                    for secret in site.secret["other"]:
                        if secret.encode() in r.body:
                            mismatches.append("%s %s as %s shows client B's %r" % (method, path, name, secret))
    print("matrix %s: %d cells, %s" % (engine, cells, sorted(counts.items())))
    assert not mismatches, "\n".join(mismatches)
