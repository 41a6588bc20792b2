"""The route matrix's rows for the customer, consent and audit-trail pages (see test_route_matrix.py for the
kinds and outcomes). ROUTES: {(method, pattern): spec}; request(site, route, actor, t, n) builds
(method, path, body) for one cell: `site` is the matrix's Site (its clients, users, customers and
admin), `actor` the actor's name, `t` the target ("own", "other" or None), `n` a unique number."""

ROUTES = {}


def request(site, route, actor, t, n):
    raise KeyError(route)
