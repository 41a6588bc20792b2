"""The route matrix's rows for the business-calendar pages (C3.1.1; see test_route_matrix.py for the
kinds and outcomes). Calendars are the provider's own: every provider role reads them, admins manage
them, client users find nothing (404). request(site, route, actor, t, n) builds one cell on the
default calendar (id 1, made by migration 0009)."""

PROVIDER = {"admin", "account_manager", "agent", "technician", "trainer", "finance", "supervisor"}
MANAGE = {"admin"}

ROUTES = {
    ("GET", "/calendars"): dict(kind="provider", allow=PROVIDER),
    ("GET", "/calendars/{id}"): dict(kind="provider", allow=PROVIDER),
    ("POST", "/calendars/{id}/hours"): dict(kind="provider", allow=MANAGE, form=True),
    ("POST", "/calendars/{id}/import"): dict(kind="provider", allow=MANAGE, form=True),
}

STANDARD = {d: "09:00-12:00,13:00-18:00" for d in ("mon", "tue", "wed", "thu", "fri")}
STANDARD.update(sat="", sun="", makeup="")


def request(site, route, actor, t, n):
    method, pattern = route
    if route == ("GET", "/calendars"):
        return method, "/calendars", None
    if route == ("GET", "/calendars/{id}"):
        return method, "/calendars/1?year=2026&month=2", None
    if route == ("POST", "/calendars/{id}/hours"):
        return method, "/calendars/1/hours", dict(STANDARD)
    if route == ("POST", "/calendars/{id}/import"):
        return method, "/calendars/1/import", {"content": "2026-10-01..2026-10-07 off 国庆节\n"}
    raise KeyError(route)
