"""The route matrix's rows for the service-request pages (issue 6 item 5; see test_route_matrix.py for
the kinds and outcomes). The allow sets are the JSON API's for the same policy actions
(matrix_requests.py): a page is allowed exactly where its API twin is, and another client's request is
the 404 page. The cells reuse matrix_requests' shared request per tenant (its subject is client B's
secret) and a fresh request for each status cell."""
import matrix_admin
import matrix_requests as mr

ROUTES = {
    ("GET", "/requests"): dict(kind="client", allow=mr.READ),
    ("GET", "/requests/new"): dict(kind="client", allow=mr.WORK | mr.CLIENTS),
    ("POST", "/requests"): dict(kind="client", allow=mr.WORK | mr.CLIENTS, form=True),
    ("GET", "/requests/{id}"): dict(kind="client", allow=mr.READ),
    ("POST", "/requests/{id}/replies"): dict(kind="client", allow=mr.WORK | mr.CLIENTS, form=True),
    ("POST", "/requests/{id}/notes"): dict(kind="client", allow=mr.WORK, form=True),
    ("POST", "/requests/{id}/status"): dict(kind="client", allow=mr.WORK, form=True),
    ("POST", "/requests/{id}/priority"): dict(kind="client", allow=mr.WORK, form=True),
    ("POST", "/requests/{id}/assign"): dict(kind="client", allow={"admin", "supervisor", "agent"}, form=True),
    ("POST", "/requests/{id}/calls"): dict(kind="client", allow=mr.WORK, form=True),
    ("POST", "/requests/{id}/time-entries"): dict(kind="client", allow=mr.WORK, form=True),
    # request.reply and file.upload both: a client_supervisor may reply but uploads nothing
    ("POST", "/requests/{id}/attachments"): dict(kind="client", allow=mr.WORK | {"client_admin", "client_staff"}),
    # without an account (C3.2.2): the token is the authority, so every actor (anonymous too) gets the page
    ("GET", "/c/{token}/new"): dict(kind="public"),
    ("POST", "/c/{token}/new"): dict(kind="public", form=True),
    ("GET", "/t/{token}"): dict(kind="public"),
    ("POST", "/t/{token}/replies"): dict(kind="public", form=True),
    ("POST", "/t/{token}/consent"): dict(kind="public", form=True),
    ("POST", "/orgs/{id}/intake-token"): dict(kind="client", allow={"admin", "client_admin"}, form=True),
    # C5.1.2: the client's admin and staff decide on a resolution (a fresh resolved request per cell)
    ("POST", "/requests/{id}/accept"): dict(kind="client", allow={"client_admin", "client_staff"}, form=True),
    ("POST", "/requests/{id}/reject"): dict(kind="client", allow={"client_admin", "client_staff"}, form=True),
    # the tracking link's request is not resolved: every visitor alike gets the page again with 409
    ("POST", "/t/{token}/accept"): dict(kind="public", form=True, ok="conflict"),
    ("POST", "/t/{token}/reject"): dict(kind="public", form=True, ok="conflict"),
}


def _intake_link(site):
    """A fresh public form link of client A (rotating: the row of /orgs/{id}/intake-token may run first)."""
    import re
    r = site.call(site.admin, "POST", "/orgs/%s/intake-token" % site.client["own"], {}, form=True)
    assert r.status == 200, r
    return re.search(r'id="intake-link">(/c/[^<]+)</a>', r.body.decode()).group(1)


def _intake_body(n):
    return {"name": "矩阵顾客", "phone": "138 0013 8%03d" % (n % 1000), "service_kind": "technical_support",
            "subject": "矩阵公开表单-%d" % n, "idempotency_key": "matrix-public-%d" % n, "website": ""}


def _tracking(site):
    import re
    cache = site.__dict__.setdefault("_request_tracking", {})
    if "t" not in cache:
        mr._agreement(site, "own")
        r = site.call(None, "POST", _intake_link(site), _intake_body(0), form=True)
        assert r.status == 201, r
        cache["t"] = re.search(r'id="tracking-link">(/t/[^<]+)</a>', r.body.decode()).group(1)
    return cache["t"]


def request(site, route, actor, t, n):
    method, pattern = route
    cid = site.client.get(t)
    if route == ("GET", "/requests"):
        return method, "/requests?client_id=%s" % cid, None
    if route == ("GET", "/requests/new"):
        return method, "/requests/new?client_id=%s" % cid, None
    if pattern.startswith("/c/"):
        mr._agreement(site, "own")
        return method, _intake_link(site), _intake_body(n) if method == "POST" else None
    if pattern.startswith("/t/"):
        t_path = _tracking(site)
        if pattern.endswith("/replies"):
            return method, t_path + "/replies", {"body": "矩阵顾客回复-%d" % n}
        if pattern.endswith("/consent"):
            return method, t_path + "/consent", {"action": "give"}
        if pattern.endswith("/accept"):
            return method, t_path + "/accept", {}
        if pattern.endswith("/reject"):
            return method, t_path + "/reject", {"reason": "矩阵顾客拒绝-%d" % n}
        return method, t_path, None
    if route == ("POST", "/orgs/{id}/intake-token"):
        return method, "/orgs/%s/intake-token" % cid, {}
    if route == ("POST", "/requests"):
        b = mr.new_body(site, t, n)
        b["idempotency_key"] = "matrix-page-%d" % n
        return method, pattern, b
    if pattern.endswith("/accept") or pattern.endswith("/reject"):
        rid = mr._resolved(site, t, n)
    else:
        rid = mr._fresh(site, t, n) if pattern.endswith("/status") else mr._shared(site, t)
    path = pattern.replace("{id}", rid) + "?client_id=%s" % cid
    bodies = {
        ("POST", "/requests/{id}/replies"): {"body": "矩阵页面回复-%d" % n},
        ("POST", "/requests/{id}/notes"): {"body": "矩阵页面备注-%d" % n},
        ("POST", "/requests/{id}/status"): {"status": "open"},
        ("POST", "/requests/{id}/priority"): {"priority": "P2" if n % 2 else "P3"},
        ("POST", "/requests/{id}/assign"): {"assignee_id": site.user_id["agent"], "team_id": ""},
        ("POST", "/requests/{id}/calls"): {"kind": "phone", "minutes": "3", "summary": "矩阵页面通话-%d" % n},
        ("POST", "/requests/{id}/time-entries"): {"minutes": "10", "billable": "1"},
        ("POST", "/requests/{id}/accept"): {},
        ("POST", "/requests/{id}/reject"): {"reason": "矩阵页面拒绝-%d" % n},
    }
    if route == ("POST", "/requests/{id}/attachments"):
        return method, path, matrix_admin.Multipart({}, {"file": ("页面截图-%d.png" % n, matrix_admin.png(seed=1000 + n),
                                                                  "image/png")})
    return method, path, bodies.get(route)
