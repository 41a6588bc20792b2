"""The route matrix's rows for the service-requests API (issue 6; see test_route_matrix.py for the
kinds and outcomes). ROUTES: {(method, pattern): spec}; request(site, route, actor, t, n) builds
(method, path, body) for one cell. The allow sets are the domain's grants (src/domain/policy.c):
request.read every provider role but finance and every client user; request.create and request.reply
admin, agent, technician, supervisor and every client user; request.update and request.note admin,
agent, technician, supervisor (never a client user, not even on their own client's request);
request.assign admin, supervisor, agent; request.log (calls, time entries) as request.update.

Each tenant gets one active agreement (matrix_agreements' helpers) and one shared request, made by
the site's administrator, for the cells that leave it usable (reads, edits, replies, notes,
assignment); a status cell gets a fresh request of its own. Client B's request subject is one of
its secrets: it must reach no client A user and no hidden answer."""
import matrix_admin
import matrix_agreements

PROVIDER = {"admin", "account_manager", "agent", "technician", "trainer", "finance", "supervisor"}
CLIENTS = {"client_admin", "client_staff", "client_supervisor"}
READ = (PROVIDER - {"finance"}) | CLIENTS
WORK = {"admin", "agent", "technician", "supervisor"}

ROUTES = {
    ("GET", "/api/v1/requests"): dict(kind="client", allow=READ),
    ("POST", "/api/v1/requests"): dict(kind="client", allow=WORK | CLIENTS),
    ("GET", "/api/v1/requests/{id}"): dict(kind="client", allow=READ),
    ("PATCH", "/api/v1/requests/{id}"): dict(kind="client", allow=WORK),
    ("POST", "/api/v1/requests/{id}/status"): dict(kind="client", allow=WORK),
    ("POST", "/api/v1/requests/{id}/assign"): dict(kind="client", allow={"admin", "supervisor", "agent"}),
    ("POST", "/api/v1/requests/{id}/replies"): dict(kind="client", allow=WORK | CLIENTS),
    ("POST", "/api/v1/requests/{id}/notes"): dict(kind="client", allow=WORK),
    ("GET", "/api/v1/requests/{id}/messages"): dict(kind="client", allow=READ),
    ("GET", "/api/v1/requests/{id}/history"): dict(kind="client", allow=READ),
    ("GET", "/api/v1/requests/{id}/calls"): dict(kind="client", allow=READ),
    ("POST", "/api/v1/requests/{id}/calls"): dict(kind="client", allow=WORK),
    ("GET", "/api/v1/requests/{id}/time-entries"): dict(kind="client", allow=READ),
    ("POST", "/api/v1/requests/{id}/time-entries"): dict(kind="client", allow=WORK),
    ("GET", "/api/v1/requests/{id}/attachments"): dict(kind="client", allow=READ),
    ("GET", "/api/v1/requests/{id}/breaches"): dict(kind="client", allow=READ),
    # request.reply and file.upload both: a client_supervisor may reply but uploads nothing
    ("POST", "/api/v1/requests/{id}/attachments"): dict(kind="client", allow=WORK | {"client_admin", "client_staff"}),
    # C5.1.2 (request_accept.h): the client's admin and staff decide on a resolution, never the provider
    ("POST", "/api/v1/requests/{id}/accept"): dict(kind="client", allow={"client_admin", "client_staff"}),
    ("POST", "/api/v1/requests/{id}/reject"): dict(kind="client", allow={"client_admin", "client_staff"}),
    # canned replies (canned.h): provider objects; the matrix's agent and technician are members of the
    # team the rows use, admins and supervisors reach every team
    ("GET", "/api/v1/teams/{id}/canned-replies"): dict(kind="provider", allow=WORK),
    ("POST", "/api/v1/teams/{id}/canned-replies"): dict(kind="provider", allow=WORK),
    ("GET", "/api/v1/canned-replies/{id}"): dict(kind="provider", allow=WORK),
    ("PATCH", "/api/v1/canned-replies/{id}"): dict(kind="provider", allow=WORK),
    ("DELETE", "/api/v1/canned-replies/{id}"): dict(kind="provider", allow=WORK),
    ("GET", "/api/v1/canned-replies/{id}/preview"): dict(kind="provider", allow=WORK),
}


def _agreement(site, t):
    cache = site.__dict__.setdefault("_request_agreements", {})
    if t not in cache:
        cache[t] = matrix_agreements._fresh(site, t, 0, "active")
    return cache[t]


def new_body(site, t, n):
    return {"client_id": site.client[t], "agreement_id": _agreement(site, t), "service_kind": "technical_support",
            "priority": "P2", "channel": "phone", "subject": "矩阵工单-%d" % n, "body": "矩阵测试"}


def _fresh(site, t, n):
    r = site.call(site.admin, "POST", "/api/v1/requests", new_body(site, t, n))
    assert r.status == 201, r
    return r.json["id"]


def _shared(site, t):
    cache = site.__dict__.setdefault("_request_shared", {})
    if t not in cache:
        body = new_body(site, t, 0)
        body["subject"] = "工单%s秘密" % ("A" if t == "own" else "B")
        r = site.call(site.admin, "POST", "/api/v1/requests", body)
        assert r.status == 201, r
        site.secret[t].append(body["subject"])
        cache[t] = r.json["id"]
    return cache[t]


def _resolved(site, t, n):
    """A fresh request of its own, resolved: each accept or reject cell decides once."""
    rid = _fresh(site, t, n)
    r = site.call(site.admin, "POST", "/api/v1/requests/%s/status?client_id=%s" % (rid, site.client[t]),
                  {"status": "resolved"})
    assert r.status == 200, r
    return rid


def _canned_team(site):
    """A team of the matrix's agent and technician, for the canned-reply rows."""
    if "_canned_team" not in site.__dict__:
        r = site.call(site.admin, "POST", "/api/v1/teams", {"name": "矩阵话术组"})
        assert r.status == 201, r
        tid = r.json["id"]
        for role in ("agent", "technician"):
            m = site.call(site.admin, "POST", "/api/v1/teams/%s/members" % tid, {"user_id": site.user_id[role]})
            assert m.status in (200, 201), m
        site._canned_team = tid
    return site._canned_team


def _canned(site, n=None):
    """The shared canned reply (n None), or a fresh one of its own for a cell that deletes."""
    cache = site.__dict__.setdefault("_canned", {})
    key = "shared" if n is None else n
    if key not in cache:
        r = site.call(site.admin, "POST", "/api/v1/teams/%s/canned-replies" % _canned_team(site),
                      {"title": "矩阵话术-%s" % key, "body": "您好,您的工单 {{request_number}} 已处理。"})
        assert r.status == 201, r
        cache[key] = r.json["id"]
    return cache[key]


def _canned_request(site, route, n):
    method, pattern = route
    if pattern == "/api/v1/teams/{id}/canned-replies":
        path = pattern.replace("{id}", _canned_team(site))
        return method, path, ({"title": "矩阵新话术-%d" % n, "body": "您好 {{agent_name}}"} if method == "POST" else None)
    cid = _canned(site, n) if method == "DELETE" else _canned(site)
    path = pattern.replace("{id}", cid)
    if pattern.endswith("/preview"):
        path += "?request_id=%s&client_id=%s" % (_shared(site, "own"), site.client["own"])
    return method, path, ({"body": "您好,工单 {{request_number}}(%d)" % n} if method == "PATCH" else None)


def request(site, route, actor, t, n):
    method, pattern = route
    if "canned-replies" in pattern:
        return _canned_request(site, route, n)
    cid = site.client[t]
    if pattern == "/api/v1/requests":
        if method == "GET":
            return method, pattern + "?client_id=%s" % cid, None
        return method, pattern, new_body(site, t, n)
    if pattern.endswith("/status"):
        rid = _fresh(site, t, n)
    elif pattern.endswith("/accept") or pattern.endswith("/reject"):
        rid = _resolved(site, t, n)
    else:
        rid = _shared(site, t)
    path = pattern.replace("{id}", rid) + "?client_id=%s" % cid
    bodies = {
        ("PATCH", "/api/v1/requests/{id}"): {"body": "矩阵更新-%d" % n, "priority": "P2"},
        ("POST", "/api/v1/requests/{id}/status"): {"status": "open"},
        ("POST", "/api/v1/requests/{id}/assign"): {"assignee_id": site.user_id["agent"]},
        ("POST", "/api/v1/requests/{id}/replies"): {"body": "矩阵回复-%d" % n},
        ("POST", "/api/v1/requests/{id}/notes"): {"body": "矩阵备注-%d" % n},
        # any instant not in the future will do
        ("POST", "/api/v1/requests/{id}/calls"): {"kind": "phone", "started_at": 1, "duration_s": 60,
                                                  "summary": "矩阵通话-%d" % n},
        ("POST", "/api/v1/requests/{id}/time-entries"): {"minutes": 15, "billable": True},
        ("POST", "/api/v1/requests/{id}/reject"): {"reason": "矩阵拒绝-%d" % n},
    }
    if route == ("POST", "/api/v1/requests/{id}/attachments"):
        # a small PNG of its own per cell (a new one each time: the bytes differ by n)
        return method, path, matrix_admin.Multipart({}, {"file": ("截图-%d.png" % n, matrix_admin.png(seed=n), "image/png")})
    return method, path, bodies.get(route)
