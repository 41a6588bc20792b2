"""The route matrix's rows for the agent queue (issue 7 item 2; see test_route_matrix.py for the kinds
and outcomes). Saved views are provider objects (request_view.read / request_view.manage: provider
staff but finance); the rows act on a view the administrator shares, so everyone who may read reads
it and only the administrator (an admin, and its owner) changes or deletes it — each delete cell gets
a fresh one. Bulk changes act on requests of a tenant: the grants of request.assign / request.update
on each item's client (another client's request is 404 to a client user, like everywhere)."""
import matrix_requests as mr

READ = mr.PROVIDER - {"finance"}

ROUTES = {
    ("GET", "/api/v1/request-views"): dict(kind="provider", allow=READ),
    ("POST", "/api/v1/request-views"): dict(kind="provider", allow=READ),
    ("GET", "/api/v1/request-views/counts"): dict(kind="provider", allow=READ),
    ("GET", "/api/v1/request-views/{id}"): dict(kind="provider", allow=READ),
    ("PATCH", "/api/v1/request-views/{id}"): dict(kind="provider", allow={"admin"}),
    ("DELETE", "/api/v1/request-views/{id}"): dict(kind="provider", allow={"admin"}),
    ("GET", "/api/v1/request-views/{id}/requests"): dict(kind="provider", allow=READ),
    ("POST", "/api/v1/requests/bulk/assign"): dict(kind="client", allow={"admin", "supervisor", "agent"}),
    ("POST", "/api/v1/requests/bulk/status"): dict(kind="client", allow=mr.WORK),
    ("GET", "/queue"): dict(kind="provider", allow=READ),
    ("POST", "/queue/bulk"): dict(kind="client", allow={"admin", "supervisor", "agent"}, form=True),
    ("POST", "/queue/views"): dict(kind="provider", allow=READ, form=True),
    ("POST", "/queue/views/{id}/delete"): dict(kind="provider", allow={"admin"}, form=True),
}


def _view(site, n=None):
    """The administrator's shared view (n None), or a fresh one of its own for a cell that deletes."""
    cache = site.__dict__.setdefault("_queue_views", {})
    key = "shared" if n is None else n
    if key not in cache:
        r = site.call(site.admin, "POST", "/api/v1/request-views",
                      {"name": "矩阵视图-%s" % key, "shared": True, "filters": {"status": "new"}})
        assert r.status == 201, r
        cache[key] = r.json["id"]
    return cache[key]


def request(site, route, actor, t, n):
    method, pattern = route
    if pattern == "/api/v1/request-views":
        return method, pattern, ({"name": "矩阵新视图-%d" % n, "filters": {"priority": "P2"}} if method == "POST" else None)
    if pattern == "/api/v1/request-views/counts" or pattern == "/queue":
        return method, pattern, None
    if pattern.startswith("/api/v1/request-views/{id}"):
        vid = _view(site, n) if method == "DELETE" else _view(site)
        return method, pattern.replace("{id}", vid), ({"sort": "sla_due"} if method == "PATCH" else None)
    if pattern == "/queue/views":
        return method, pattern, {"name": "矩阵页面视图-%d" % n, "status": "open"}
    if pattern == "/queue/views/{id}/delete":
        return method, pattern.replace("{id}", _view(site, n)), {}
    # bulk: the tenant's shared request for an assignment, a fresh one for a status change
    if pattern.endswith("/status"):
        rid = mr._fresh(site, t, n)
        return method, pattern, {"ids": [rid], "status": "open"}
    rid = mr._shared(site, t)
    if pattern == "/queue/bulk":
        return method, pattern, {"ids": rid, "op": "assign", "assignee_id": site.user_id["agent"]}
    return method, pattern, {"ids": [rid], "assignee_id": site.user_id["agent"]}
