"""The route matrix's rows for the customer, consent and audit-trail pages (see test_route_matrix.py for the
kinds and outcomes). ROUTES: {(method, pattern): spec}; request(site, route, actor, t, n) builds
(method, path, body) for one cell: `site` is the matrix's Site (its clients, users, customers and
admin), `actor` the actor's name, `t` the target ("own", "other" or None), `n` a unique number.
The allow sets are the JSON API's for the same policy actions (customer.*, consent.*, audit.read)."""

PROVIDER_READ = {"admin", "account_manager", "agent", "technician", "trainer", "supervisor"}
CLIENTS = {"client_admin", "client_staff", "client_supervisor"}
CREATE = {"admin", "account_manager", "client_admin", "client_staff"}
CHANGE = {"admin", "account_manager", "client_admin"}
RECORD = {"admin", "account_manager", "agent", "client_admin", "client_staff"}
AUDIT = {"admin", "supervisor", "client_admin", "client_supervisor"}

ROUTES = {
    ("GET", "/customers"): dict(kind="client", allow=PROVIDER_READ | CLIENTS),
    ("GET", "/customers/new"): dict(kind="client", allow=CREATE),
    ("POST", "/customers"): dict(kind="client", allow=CREATE, form=True),
    ("GET", "/customers/{id}"): dict(kind="client", allow=PROVIDER_READ | CLIENTS),
    ("POST", "/customers/{id}"): dict(kind="client", allow=CHANGE, form=True),
    ("GET", "/customers/{id}/delete"): dict(kind="client", allow=CHANGE),
    ("POST", "/customers/{id}/delete"): dict(kind="client", allow=CHANGE, form=True),
    ("POST", "/customers/{id}/consents"): dict(kind="client", allow=RECORD, form=True),
    ("POST", "/customers/{id}/consents/withdraw"): dict(kind="client", allow=RECORD, form=True),
    ("GET", "/audit"): dict(kind="client", allow=AUDIT),
}


def _fresh_customer(site, t, n):
    """A customer of target t's client made by the administrator for one cell (deleting it)."""
    cid = site.client[t]
    name = "待删页面顾客%s-%d" % ("A" if t == "own" else "B", n)
    c = site.call(site.admin, "POST", "/api/v1/customers", {"client_id": cid, "name": name})
    assert c.status == 201, c
    site.secret[t].append(name)
    return c.json["id"]


def request(site, route, actor, t, n):
    method, pattern = route
    cid = site.client[t]
    customer = site.customer[t]
    if route == ("GET", "/customers"):
        return method, "/customers?client_id=%s" % cid, None
    if route == ("GET", "/customers/new"):
        return method, "/customers/new?client_id=%s" % cid, None
    if route == ("POST", "/customers"):
        return method, "/customers", {"client_id": cid, "kind": "person", "name": "页面新顾客-%d" % n,
                                      "phone": "137%08d" % n}
    if route == ("GET", "/customers/{id}"):
        return method, "/customers/%s?client_id=%s" % (customer, cid), None
    if route == ("POST", "/customers/{id}"):
        return method, "/customers/%s?client_id=%s" % (customer, cid), {"address": "北京市-%d" % n}
    if route == ("GET", "/customers/{id}/delete"):
        return method, "/customers/%s/delete?client_id=%s" % (customer, cid), None
    if route == ("POST", "/customers/{id}/delete"):
        return method, "/customers/%s/delete?client_id=%s" % (_fresh_customer(site, t, n), cid), {}
    if route == ("POST", "/customers/{id}/consents"):
        return method, "/customers/%s/consents?client_id=%s" % (customer, cid), site.consent_body()
    if route == ("POST", "/customers/{id}/consents/withdraw"):
        # a consent in force to withdraw, given by the administrator (as the JSON row does)
        g = site.call(site.admin, "POST", "/api/v1/customers/%s/consents?client_id=%s" % (customer, cid),
                      site.consent_body())
        assert g.status == 201, g
        return method, "/customers/%s/consents/withdraw?client_id=%s" % (customer, cid), {
            "purpose": "marketing", "channel": "phone"}
    if route == ("GET", "/audit"):
        return method, "/audit?client_id=%s" % cid, None
    raise KeyError(route)
