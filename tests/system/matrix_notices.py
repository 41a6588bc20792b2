"""The route matrix's rows for formal notices and announcements (C11.1.1, C8.2.1; see
test_route_matrix.py for the kinds and outcomes), the JSON API and the pages. The allow sets are the
domain's grants (src/domain/policy.c): notice.read admin, account_manager, finance, supervisor and
every client user; notice.send account_manager, admin and client_admin; notice.acknowledge the same
roles, but only on the recipient side; announcement.send account_manager and admin.

The notices of the cells are sent by the site's administrator (the provider) to the target's client.
Acknowledging is the recipient's: only a client_admin may, the provider's roles are the sender side
(403). Recording delivery is the sender's: only the provider's managers may, a client_admin is the
recipient side (403). Those cells each get a fresh notice, since both happen once."""
import datetime

READ = {"admin", "account_manager", "finance", "supervisor", "client_admin", "client_staff", "client_supervisor"}
PROVIDER_READ = {"admin", "account_manager", "finance", "supervisor"}
SEND = {"admin", "account_manager", "client_admin"}
MANAGE = {"admin", "account_manager"}

ROUTES = {
    ("GET", "/api/v1/notices"): dict(kind="client", allow=READ),
    ("POST", "/api/v1/notices"): dict(kind="client", allow=SEND),
    ("GET", "/api/v1/notices/{id}"): dict(kind="client", allow=READ),
    ("POST", "/api/v1/notices/{id}/delivery"): dict(kind="client", allow=MANAGE),
    ("POST", "/api/v1/notices/{id}/acknowledge"): dict(kind="client", allow={"client_admin"}),
    ("POST", "/api/v1/announcements"): dict(kind="provider", allow=MANAGE),
    ("GET", "/api/v1/announcements/{id}"): dict(kind="provider", allow=PROVIDER_READ),
    ("GET", "/notices"): dict(kind="client", allow=READ),
    ("GET", "/notices/new"): dict(kind="client", allow=SEND),
    ("POST", "/notices"): dict(kind="client", allow=SEND, form=True),
    ("GET", "/notices/{id}"): dict(kind="client", allow=READ),
    ("POST", "/notices/{id}/acknowledge"): dict(kind="client", allow={"client_admin"}, form=True),
    ("POST", "/notices/{id}/delivery"): dict(kind="client", allow=MANAGE, form=True),
    ("GET", "/announcements/new"): dict(kind="provider", allow=MANAGE),
    ("POST", "/announcements"): dict(kind="provider", allow=MANAGE, form=True),
    ("GET", "/announcements/{id}"): dict(kind="provider", allow=PROVIDER_READ),
}


def _tag(t):
    return "A" if t == "own" else "B"


def _send(site, t, n, **over):
    """A notice from the provider to target t's client; its subject is that tenant's secret."""
    subject = "矩阵通知%s-%d" % (_tag(t), n)
    body = {"client_id": site.client[t], "kind": "other", "subject": subject, "body": "正文 %d" % n}
    body.update(over)
    r = site.call(site.admin, "POST", "/api/v1/notices", body)
    assert r.status == 201, r
    site.secret[t].append(subject)
    return r.json


def _shared(site, t):
    cache = site.__dict__.setdefault("_notices", {})
    if t not in cache:
        cache[t] = _send(site, t, 0)["id"]
    return cache[t]


def _announcement(site):
    if not hasattr(site, "_announcement"):
        r = site.call(site.admin, "POST", "/api/v1/announcements",
                      {"client_ids": [site.client["own"]], "subject": "矩阵公告", "body": "升级"})
        assert r.status == 201, r
        site._announcement = r.json["id"]
    return site._announcement


def _now(site):
    r = site.call(None, "GET", "/api/v1/test/clock")
    assert r.status == 200, r
    return r.json["now_ms"]


def _next_minute(site):
    """Moves the fake clock to the next whole minute (a page's delivery time has minutes only, and a
    notice is delivered no earlier than sent); returns that instant as Asia/Shanghai local text."""
    now = _now(site)
    step = 60000 - now % 60000
    r = site.call(None, "POST", "/api/v1/test/clock", {"advance_ms": step})
    assert r.status == 200, r
    local = datetime.datetime.fromtimestamp((now + step) / 1000, datetime.timezone(datetime.timedelta(hours=8)))
    return local.strftime("%Y-%m-%dT%H:%M")


def request(site, route, actor, t, n):
    method, pattern = route
    if pattern == "/api/v1/announcements":
        return method, pattern, {"client_ids": [site.client["own"]], "subject": "矩阵公告-%d" % n, "body": "正文"}
    if pattern == "/announcements":
        return method, pattern, {"client_ids": site.client["own"], "subject": "矩阵公告-%d" % n, "body": "正文"}
    if pattern == "/announcements/new":
        return method, pattern, None
    if pattern.endswith("/announcements/{id}"):
        return method, pattern.replace("{id}", _announcement(site)), None
    cid = site.client[t]
    if pattern in ("/api/v1/notices", "/notices") and method == "GET":
        return method, "%s?client_id=%s" % (pattern, cid), None
    if pattern == "/notices/new":
        return method, "/notices/new?client_id=%s" % cid, None
    if pattern in ("/api/v1/notices", "/notices"):
        subject = "矩阵发送%s-%d" % (_tag(t), n)
        site.secret[t].append(subject)
        return method, pattern, {"client_id": cid, "kind": "other", "subject": subject, "body": "正文"}
    if pattern.endswith("/notices/{id}") and method == "GET":
        return method, "%s?client_id=%s" % (pattern.replace("{id}", _shared(site, t)), cid), None
    if pattern.endswith("/acknowledge"):
        nid = _send(site, t, n)["id"]
        body = None if pattern.startswith("/api") else {}
        return method, "%s?client_id=%s" % (pattern.replace("{id}", nid), cid), body
    if pattern.endswith("/delivery"):
        nid = _send(site, t, n, method="registered_mail", tracking_number="EMS%08dCN" % n)["id"]
        path = "%s?client_id=%s" % (pattern.replace("{id}", nid), cid)
        if pattern.startswith("/api"):
            return method, path, {"delivered_at": _now(site)}
        return method, path, {"delivered_at": _next_minute(site)}
    raise KeyError(route)
