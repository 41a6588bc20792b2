"""The route matrix's rows for the account and notification pages (see test_route_matrix.py for the
kinds and outcomes). ROUTES: {(method, pattern): spec}; request(site, route, actor, t, n) builds
(method, path, body) for one cell: `site` is the matrix's Site (its clients, users, customers and
admin), `actor` the actor's name, `t` the target ("own", "other" or None), `n` a unique number.

Every route here is about the actor themself, so every row is kind "session". Cells that would end
the actor's session or enrol them for good send input that the page refuses beside a field
("form-error:<field>", a 422 page): the route ran for them and nothing of theirs changed."""

ROUTES = {
    ("GET", "/account"): dict(kind="session"),
    ("POST", "/account/preferences"): dict(kind="session", form=True),
    ("GET", "/account/password"): dict(kind="session"),
    # a wrong current password: a right one would end every session of the actor
    ("POST", "/account/password"): dict(kind="session", form=True, ok="form-error:current_password"),
    # admin and finance are enrolled already (the matrix enrols them at login): the status, 200
    ("GET", "/account/totp"): dict(kind="session"),
    # a wrong code after the enrolment page began one; for the enrolled nothing is pending (409)
    ("POST", "/account/totp"): dict(kind="session", form=True, ok="form-error:code", enrolled="conflict"),
    ("GET", "/account/tokens/{id}/revoke"): dict(kind="session"),
    ("POST", "/account/tokens/{id}/revoke"): dict(kind="session", form=True),
    ("GET", "/notifications"): dict(kind="session"),
    ("POST", "/notifications/{id}/read"): dict(kind="session", form=True),
    ("POST", "/notifications/read-all"): dict(kind="session", form=True),
}


def _logged_in(site, actor):
    return actor in site.actors and actor != "anonymous"


def _own_token(site, actor, n):
    me = site.actors[actor]
    tk = site.call(me, "POST", "/api/v1/auth/tokens", {"name": "page-matrix-%d" % n, "roles": [actor]})
    assert tk.status == 201, tk
    return tk.json["id"]


def _own_notification(site, actor):
    me = site.call(site.actors[actor], "GET", "/api/v1/auth/me").json["user"]
    g = site.call(None, "POST", "/api/v1/test/notify",
                  {"user_id": me["id"], "client_id": me["client_id"], "message_key": "notify.test"})
    assert g.status == 204, g
    mine = site.call(site.actors[actor], "GET", "/api/v1/notifications?limit=1")
    return mine.json["items"][0]["id"]


def request(site, route, actor, t, n):
    method, pattern = route
    path, body = pattern, None
    if pattern == "/account/preferences":
        body = {"language": "zh-CN", "time_zone": "Asia/Shanghai"}
    elif pattern == "/account/password":
        if method == "POST":
            body = {"current_password": "not-the-password", "new_password": "远山的灯火-照亮-%d" % n,
                    "new_password_repeat": "远山的灯火-照亮-%d" % n}
    elif pattern == "/account/totp" and method == "POST":
        if _logged_in(site, actor):
            site.call(site.actors[actor], "GET", "/account/totp")  # begins an enrolment where none is in force
        body = {"code": "000000"}
    elif pattern == "/account/tokens/{id}/revoke":
        path = pattern.replace("{id}", _own_token(site, actor, n) if _logged_in(site, actor) else "1")
        body = {} if method == "POST" else None
    elif pattern == "/notifications/{id}/read":
        path = pattern.replace("{id}", _own_notification(site, actor) if _logged_in(site, actor) else "1")
        body = {"back": "/notifications"}
    elif pattern == "/notifications/read-all":
        body = {"back": "/notifications"}
    return method, path, body
