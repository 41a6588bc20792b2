"""The route matrix's rows for the agreements API and the service catalogue (issue 5; see
test_route_matrix.py for the kinds and outcomes). ROUTES: {(method, pattern): spec};
request(site, route, actor, t, n) builds (method, path, body) for one cell. The allow sets are the
domain's grants (src/domain/policy.c): agreement.read every provider role and every client user,
agreement.manage account_manager and admin, agreement.sign_client a client_admin of that client,
agreement.dissolve account_manager, admin and client_admin, service_kind.manage admin. The pages
(page_agreements.c) follow the same grants; attaching a file needs agreement.dissolve (whoever acts for
a party) and the export agreement.read.

Cells that change an agreement's state (sign-provider, sign-client, dissolve) each get a fresh
agreement made by the site's administrator in the state the cell needs: a draft; a draft signed by
the provider; an active one (signed by a client_admin of that client — client B's is made here).
A service change (C8.1.1) is proposed on a fresh active agreement; a withdrawal's cell gets a fresh
active agreement with a pending change made by the administrator. Reading changes and terms uses the
shared draft."""

PROVIDER = {"admin", "account_manager", "agent", "technician", "trainer", "finance", "supervisor"}
CLIENTS = {"client_admin", "client_staff", "client_supervisor"}
MANAGE = {"admin", "account_manager"}
PASSWORD = "蓝色的海边-灯塔-2026"  # test_route_matrix.PASSWORD: the site's users' password

ROUTES = {
    ("GET", "/api/v1/service-kinds"): dict(kind="session"),
    ("POST", "/api/v1/service-kinds"): dict(kind="provider", allow={"admin"}),
    ("GET", "/api/v1/agreements"): dict(kind="client", allow=PROVIDER | CLIENTS),
    ("POST", "/api/v1/agreements"): dict(kind="client", allow=MANAGE),
    ("GET", "/api/v1/agreements/{id}"): dict(kind="client", allow=PROVIDER | CLIENTS),
    ("PUT", "/api/v1/agreements/{id}"): dict(kind="client", allow=MANAGE),
    ("POST", "/api/v1/agreements/{id}/sign-provider"): dict(kind="client", allow=MANAGE),
    ("POST", "/api/v1/agreements/{id}/sign-client"): dict(kind="client", allow={"client_admin"}),
    ("POST", "/api/v1/agreements/{id}/dissolve"): dict(kind="client", allow=MANAGE | {"client_admin"}),
    ("GET", "/api/v1/agreements/{id}/export"): dict(kind="client", allow=PROVIDER | CLIENTS),
    # the pages (page_agreements.c): reading pages for every reader, the forms for the domain's grants;
    # the signing and dissolution pages show the summary to every reader (the button only to who may)
    ("GET", "/agreements"): dict(kind="client", allow=PROVIDER | CLIENTS),
    ("GET", "/agreements/new"): dict(kind="client", allow=MANAGE),
    ("POST", "/agreements"): dict(kind="client", allow=MANAGE, form=True),
    ("GET", "/agreements/{id}"): dict(kind="client", allow=PROVIDER | CLIENTS),
    ("GET", "/agreements/{id}/edit"): dict(kind="client", allow=MANAGE),
    ("POST", "/agreements/{id}/edit"): dict(kind="client", allow=MANAGE, form=True),
    ("GET", "/agreements/{id}/sign-provider"): dict(kind="client", allow=PROVIDER | CLIENTS),
    ("POST", "/agreements/{id}/sign-provider"): dict(kind="client", allow=MANAGE, form=True),
    ("GET", "/agreements/{id}/sign-client"): dict(kind="client", allow=PROVIDER | CLIENTS),
    ("POST", "/agreements/{id}/sign-client"): dict(kind="client", allow={"client_admin"}, form=True),
    ("GET", "/agreements/{id}/dissolve"): dict(kind="client", allow=PROVIDER | CLIENTS),
    ("POST", "/agreements/{id}/dissolve"): dict(kind="client", allow=MANAGE | {"client_admin"}, form=True),
    ("POST", "/agreements/{id}/files"): dict(kind="client", allow=MANAGE | {"client_admin"}),
    # the service change pages and the catalogue page (page_agreements.c, second round)
    ("GET", "/agreements/{id}/changes/new"): dict(kind="client", allow=MANAGE),
    ("POST", "/agreements/{id}/changes"): dict(kind="client", allow=MANAGE, form=True),
    ("GET", "/agreements/{id}/changes/{change}/withdraw"): dict(kind="client", allow=MANAGE),
    ("POST", "/agreements/{id}/changes/{change}/withdraw"): dict(kind="client", allow=MANAGE, form=True),
    ("GET", "/service-kinds"): dict(kind="session"),
    ("POST", "/service-kinds"): dict(kind="provider", allow={"admin"}, form=True),
    ("POST", "/api/v1/agreements/{id}/changes"): dict(kind="client", allow=MANAGE),
    ("GET", "/api/v1/agreements/{id}/changes"): dict(kind="client", allow=PROVIDER | CLIENTS),
    ("POST", "/api/v1/agreements/{id}/changes/{change}/withdraw"): dict(kind="client", allow=MANAGE),
    ("GET", "/api/v1/agreements/{id}/terms"): dict(kind="client", allow=PROVIDER | CLIENTS),
}

DAY_MS = 86400000


def page_draft_fields(cid, n):
    """The draft form's fields (a list of pairs: `services` repeats), with client_id when cid is given."""
    f = [("term_years", "2"), ("notice_days", "30"), ("acceptance_by", "client"),
         ("supplementary_terms", "矩阵页面-%d" % n), ("services", "technical_support"),
         ("t_technical_support_p1_fr", "20"), ("t_technical_support_p1_res", "200"),
         ("fee_technical_support_fixed_month", "6000.00")]
    return ([("client_id", cid)] if cid is not None else []) + f


def draft_body(cid=None, n=0):
    body = {"term_years": 2, "notice_days": 30, "acceptance_by": "client",
            "supplementary_terms": "矩阵测试-%d" % n,
            "services": [{"kind": "technical_support", "targets": {"P1": {"first_response": 20, "resolution": 200}}}]}
    if cid is not None:
        body["client_id"] = cid
    return body


def change_body(site, n):
    """A service change taking effect just after the draft_body's 30 days' notice."""
    return {"summary": "矩阵测试变更-%d" % n, "effective_at": site.srv.clock_now() + 31 * DAY_MS,
            "services": [{"kind": "consulting"}]}


class _Signer:
    """A logged-in client_admin (no second factor needed) for the cells' set-up."""

    def __init__(self, srv, name, password):
        r = srv.post("/api/v1/auth/login", json={"username": name, "password": password})
        assert r.status == 200, r
        self.cookie = [v for v in r.header_all("Set-Cookie") if v.startswith("kefu_session=")][0].split(";")[0]
        self.csrf = r.json["user"]["csrf_token"]

    def headers(self, method):
        h = {"Cookie": self.cookie}
        if method != "GET":
            h["X-CSRF-Token"] = self.csrf
        return h


def _signer(site, t):
    """A client_admin of target t's client: the matrix's own for A, one made here for B."""
    if t == "own":
        return site.actors["client_admin"]
    cache = site.__dict__.setdefault("_agreement_signers", {})
    if t not in cache:
        u = site.call(site.admin, "POST", "/api/v1/users", {"client_id": site.client[t], "username": "signer-B",
                                                            "password": PASSWORD, "roles": ["client_admin"]})
        assert u.status == 201, u
        site.secret[t].append("signer-B")
        cache[t] = _Signer(site.srv, "signer-B", PASSWORD)
    return cache[t]


def _fresh(site, t, n, state):
    """A new agreement of target t's client in `state` (draft, provider_signed or active)."""
    cid = site.client[t]
    r = site.call(site.admin, "POST", "/api/v1/agreements", draft_body(cid, n))
    assert r.status == 201, r
    aid = r.json["id"]
    if state in ("provider_signed", "active"):
        s = site.call(site.admin, "POST", "/api/v1/agreements/%s/sign-provider?client_id=%s" % (aid, cid))
        assert s.status == 200, s
    if state == "active":
        s = site.call(_signer(site, t), "POST", "/api/v1/agreements/%s/sign-client?client_id=%s" % (aid, cid))
        assert s.status == 200 and s.json["status"] == "active", s
    return aid


def _shared(site, t):
    """One draft per tenant for the reading and editing cells (they leave it a draft)."""
    cache = site.__dict__.setdefault("_agreement_drafts", {})
    if t not in cache:
        cache[t] = _fresh(site, t, 0, "draft")
    return cache[t]


def _local(ms):
    """UTC ms as the change form's datetime-local value in Asia/Shanghai (UTC+8, no daylight saving)."""
    import datetime
    return datetime.datetime.utcfromtimestamp(ms / 1000 + 8 * 3600).strftime("%Y-%m-%dT%H:%M")


def page_change_fields(site, n):
    """The change form's fields: the draft_body's 30 days' notice, plus a day."""
    return [("summary", "矩阵页面变更-%d" % n), ("effective_at", _local(site.srv.clock_now() + 31 * DAY_MS)),
            ("calendar_id", ""), ("services", "consulting")]


def _active_with_change(site, t, n):
    """A fresh active agreement of target t's client with a pending change proposed: (aid, change id)."""
    cid = site.client[t]
    aid = _fresh(site, t, n, "active")
    r = site.call(site.admin, "POST", "/api/v1/agreements/%s/changes?client_id=%s" % (aid, cid), change_body(site, n))
    assert r.status == 201, r
    return aid, r.json["id"]


def _shared_active(site, t):
    """One active agreement with a pending change per tenant, for the reading cells."""
    cache = site.__dict__.setdefault("_agreement_active", {})
    if t not in cache:
        cache[t] = _active_with_change(site, t, 0)
    return cache[t]


def page_request(site, route, actor, t, n):
    """The cells of the pages and the export: (method, path, body)."""
    import matrix_admin  # the multipart body of the file upload
    method, pattern = route
    if pattern == "/service-kinds":
        if method == "GET":
            return method, pattern, None
        f = [("code", "matrix_page_%d" % n), ("name_zh", "矩阵页面服务%d" % n), ("name_en", "Matrix page %d" % n)]
        for p in range(1, 5):
            f += [("t_new_p%d_fr" % p, str(10 * p)), ("t_new_p%d_res" % p, str(100 * p))]
        return method, pattern, f + [("fee_new_per_hour", "100.00")]
    cid = site.client[t]
    if pattern.startswith("/agreements/{id}/changes"):
        if route == ("GET", "/agreements/{id}/changes/new"):
            return method, "/agreements/%s/changes/new?client_id=%s" % (_shared_active(site, t)[0], cid), None
        if route == ("POST", "/agreements/{id}/changes"):
            aid = _fresh(site, t, n, "active")
            return method, "/agreements/%s/changes?client_id=%s" % (aid, cid), page_change_fields(site, n)
        aid, ch = _shared_active(site, t) if method == "GET" else _active_with_change(site, t, n)
        return method, "/agreements/%s/changes/%s/withdraw?client_id=%s" % (aid, ch, cid), {} if method == "POST" else None
    if route == ("GET", "/agreements"):
        return method, "/agreements?client_id=%s" % cid, None
    if route == ("GET", "/agreements/new"):
        return method, "/agreements/new?client_id=%s" % cid, None
    if route == ("POST", "/agreements"):
        return method, "/agreements", page_draft_fields(cid, n)
    tail = pattern[len("/agreements/{id}"):] if pattern.startswith("/agreements/") else None
    if pattern == "/api/v1/agreements/{id}/export":
        return method, "/api/v1/agreements/%s/export?client_id=%s" % (_shared(site, t), cid), None
    if method == "GET" or tail in ("/edit", "/files"):
        path = "/agreements/%s%s?client_id=%s" % (_shared(site, t), tail, cid)
        if tail == "/edit":
            return method, path, page_draft_fields(None, n) if method == "POST" else None
        if tail == "/files":
            me = site.actors.get(actor)
            return method, path, matrix_admin.upload_body(getattr(me, "csrf", None) or "", "合同扫描-%d.png" % n,
                                                          matrix_admin.png(seed=n))
        return method, path, None
    state = {"/sign-provider": "draft", "/sign-client": "provider_signed", "/dissolve": "active"}[tail]
    path = "/agreements/%s%s?client_id=%s" % (_fresh(site, t, n, state), tail, cid)
    return method, path, {"ground": "material_breach"} if tail == "/dissolve" else {}


def request(site, route, actor, t, n):
    method, pattern = route
    if pattern.startswith("/agreements") or pattern.endswith("/export") or pattern == "/service-kinds":
        return page_request(site, route, actor, t, n)
    if pattern == "/api/v1/service-kinds":
        if method == "GET":
            return method, pattern, None
        targets = {p: {"first_response": 10 * i, "resolution": 100 * i} for i, p in enumerate(("P1", "P2", "P3", "P4"), 1)}
        return method, pattern, {"code": "matrix_kind_%d" % n, "name_zh": "矩阵服务%d" % n, "name_en": "Matrix %d" % n,
                                 "targets": targets, "fees": [{"kind": "per_hour", "amount_fen": 10000}]}
    cid = site.client[t]
    if route == ("GET", "/api/v1/agreements"):
        return method, "/api/v1/agreements?client_id=%s" % cid, None
    if route == ("POST", "/api/v1/agreements"):
        return method, pattern, draft_body(cid, n)
    if route in (("GET", "/api/v1/agreements/{id}/changes"), ("GET", "/api/v1/agreements/{id}/terms")):
        return method, pattern.replace("{id}", _shared(site, t)) + "?client_id=%s" % cid, None
    if pattern.startswith("/api/v1/agreements/{id}/changes"):
        aid = _fresh(site, t, n, "active")
        if method == "POST" and pattern.endswith("/changes"):
            return method, "/api/v1/agreements/%s/changes?client_id=%s" % (aid, cid), change_body(site, n)
        r = site.call(site.admin, "POST", "/api/v1/agreements/%s/changes?client_id=%s" % (aid, cid),
                      change_body(site, n))
        assert r.status == 201, r
        return method, "/api/v1/agreements/%s/changes/%s/withdraw?client_id=%s" % (aid, r.json["id"], cid), None
    if route in (("GET", "/api/v1/agreements/{id}"), ("PUT", "/api/v1/agreements/{id}")):
        path = "/api/v1/agreements/%s?client_id=%s" % (_shared(site, t), cid)
        return method, path, draft_body(None, n) if method == "PUT" else None
    state = {"sign-provider": "draft", "sign-client": "provider_signed", "dissolve": "active"}[pattern.rsplit("/", 1)[1]]
    path = pattern.replace("{id}", _fresh(site, t, n, state)) + "?client_id=%s" % cid
    return method, path, {"ground": "material_breach"} if pattern.endswith("/dissolve") else None
