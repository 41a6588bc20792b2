"""The rest of the identity API (issue 3): changing one's password, API tokens and their scopes,
roles without self-escalation, editing and disabling organisations, editing and deleting customers,
teams, and reading the audit trail with its filters and pages. Each bad input gets a clear 4xx and
changes nothing but the audit trail and the throttle counters; both engines."""
import json as jsonlib

import kefu_http as kh
from test_identity_api import PASSWORD, Session, make_site

NEW_PASSWORD = "远山的灯火-照亮-2027"


class Actor(Session):
    def call(self, method, path, json=None):
        h = {"Cookie": self.cookie}
        if method != "GET":
            h["X-CSRF-Token"] = self.csrf
        return self.srv.request(method, path, json=json, headers=h)


def bearer(srv, token, method, path, json=None):
    return srv.request(method, path, json=json, headers={"Authorization": "Bearer " + token})


def new_site(kefu, tmp_path):
    srv = kefu()
    session, ids = make_site(srv, tmp_path)
    admin = Actor.__new__(Actor)
    admin.__dict__.update(session.__dict__)
    return srv, admin, ids


def login_as(srv, name, password=PASSWORD):
    a = Actor.__new__(Actor)
    r = srv.post("/api/v1/auth/login", json={"username": name, "password": password})
    assert r.status == 200, r
    a.srv = srv
    a.cookie = [v for v in r.header_all("Set-Cookie") if v.startswith("kefu_session=")][0].split(";")[0]
    a.csrf = r.json["user"]["csrf_token"]
    return a


def make_user(admin, client_id, name, roles):
    r = admin.call("POST", "/api/v1/users", {"client_id": client_id, "username": name, "password": PASSWORD,
                                            "roles": roles})
    assert r.status == 201, r
    return r.json["id"]


def audit(admin, query):
    r = admin.call("GET", "/api/v1/audit?" + query)
    assert r.status == 200, r
    return r.json


def test_changing_ones_password_ends_every_other_session(kefu, tmp_path):
    srv, admin, ids = new_site(kefu, tmp_path)
    uid = make_user(admin, "0", "agent.wang", ["agent"])
    a, b = login_as(srv, "agent.wang"), login_as(srv, "agent.wang")
    kh.assert_error(a.call("POST", "/api/v1/auth/password", {"current_password": "wrong", "new_password": NEW_PASSWORD}),
                    422, "invalid", "current_password")
    kh.assert_error(a.call("POST", "/api/v1/auth/password", {"current_password": PASSWORD, "new_password": "a123456"}),
                    422, "invalid", "new_password")
    kh.assert_error(a.call("POST", "/api/v1/auth/password", {"current_password": PASSWORD, "new_password": 12345678}),
                    422, "invalid", "new_password")
    assert b.call("GET", "/api/v1/auth/me").status == 200  # nothing changed yet
    r = a.call("POST", "/api/v1/auth/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert r.status == 200, r
    fresh = [v for v in r.header_all("Set-Cookie") if v.startswith("kefu_session=")][0].split(";")[0]
    assert fresh != a.cookie
    assert srv.get("/api/v1/auth/me", headers={"Cookie": fresh}).status == 200
    assert a.call("GET", "/api/v1/auth/me").status == 401       # the old cookie of this browser
    assert b.call("GET", "/api/v1/auth/me").status == 401       # the other browser
    kh.assert_error(srv.post("/api/v1/auth/login", json={"username": "agent.wang", "password": PASSWORD}),
                    401, "unauthenticated", "password")
    login_as(srv, "agent.wang", NEW_PASSWORD)
    trail = audit(admin, "client_id=0&object_type=user&object_id=%s" % uid)
    actions = [i["action"] for i in trail["items"]]
    assert "user.change_password" in actions
    assert PASSWORD not in jsonlib.dumps(trail) and NEW_PASSWORD not in jsonlib.dumps(trail)


def test_api_tokens_are_scoped_shown_once_and_revocable(kefu, tmp_path):
    srv, admin, ids = new_site(kefu, tmp_path)
    make_user(admin, "0", "am.li", ["account_manager", "agent"])
    am = login_as(srv, "am.li")
    kh.assert_error(am.call("POST", "/api/v1/auth/tokens", {"name": "crm", "roles": ["admin"]}), 403, "forbidden", "roles")
    for bad, field in (({"name": "", "roles": ["agent"]}, "name"), ({"name": "x" * 500, "roles": ["agent"]}, "name"),
                       ({"name": "crm", "roles": "agent"}, "roles"), ({"name": "crm", "roles": ["nobody"]}, "roles"),
                       ({"name": "crm", "roles": ["agent"], "expires_in_days": 0}, "expires_in_days"),
                       ({"name": "crm", "roles": ["agent"], "expires_in_days": 367}, "expires_in_days"),
                       ({"name": "crm", "roles": ["agent"], "expires_in_days": "30"}, "expires_in_days")):
        kh.assert_error(am.call("POST", "/api/v1/auth/tokens", bad), 422, "invalid", field)
    assert am.call("GET", "/api/v1/auth/tokens").json["items"] == []  # nothing made by the refusals
    r = am.call("POST", "/api/v1/auth/tokens", {"name": "客服机器人", "roles": ["agent"], "expires_in_days": 30})
    assert r.status == 201, r
    token, tid = r.json["token"], r.json["id"]
    assert token.startswith("kf_")
    listed = am.call("GET", "/api/v1/auth/tokens")
    assert [t["id"] for t in listed.json["items"]] == [tid] and token.encode() not in listed.body
    cust = "/api/v1/customers?client_id=%s" % ids["A"]
    # the scope is agent: reading customers yes, creating them (an account manager's right) no
    assert bearer(srv, token, "GET", cust).status == 200
    kh.assert_error(bearer(srv, token, "POST", "/api/v1/customers", {"client_id": ids["A"], "name": "新顾客"}),
                    403, "forbidden")
    assert am.call("POST", "/api/v1/customers", {"client_id": ids["A"], "name": "新顾客"}).status == 201
    # a token makes no tokens and changes no password
    kh.assert_error(bearer(srv, token, "POST", "/api/v1/auth/tokens", {"name": "again", "roles": ["agent"]}),
                    403, "forbidden")
    kh.assert_error(bearer(srv, token, "POST", "/api/v1/auth/password",
                           {"current_password": PASSWORD, "new_password": NEW_PASSWORD}), 403, "forbidden")
    # another user's token is not found; revoking is idempotent; a revoked token is refused
    kh.assert_error(admin.call("POST", "/api/v1/auth/tokens/%s/revoke" % tid), 404, "not_found")
    assert bearer(srv, token, "GET", cust).status == 200
    assert am.call("POST", "/api/v1/auth/tokens/%s/revoke" % tid).status == 204
    assert am.call("POST", "/api/v1/auth/tokens/%s/revoke" % tid).status == 204
    kh.assert_error(bearer(srv, token, "GET", cust), 401, "unauthenticated")
    kh.assert_error(bearer(srv, token[:-1], "GET", cust), 401, "unauthenticated")
    assert am.call("GET", "/api/v1/auth/tokens").json["items"][0]["revoked"] is not None


def test_nobody_escalates_their_own_roles(kefu, tmp_path):
    srv, admin, ids = new_site(kefu, tmp_path)
    boss = login_as(srv, "boss-A")
    me = boss.call("GET", "/api/v1/auth/me").json["user"]["id"]
    kh.assert_error(boss.call("PUT", "/api/v1/users/%s/roles" % me, {"roles": ["client_admin", "client_supervisor"]}),
                    403, "forbidden", "roles")
    uid = make_user(admin, "0", "am.zhao", ["account_manager"])
    am = login_as(srv, "am.zhao")
    kh.assert_error(am.call("PUT", "/api/v1/users/%s/roles?client_id=0" % uid, {"roles": ["account_manager", "admin"]}),
                    403, "forbidden")
    # roles of the wrong kind of organisation, wrong types, another client's user
    kh.assert_error(admin.call("PUT", "/api/v1/users/%s/roles?client_id=0" % uid, {"roles": ["client_admin"]}),
                    422, "invalid", "roles")
    kh.assert_error(admin.call("PUT", "/api/v1/users/%s/roles?client_id=0" % uid, {"roles": []}), 422, "invalid", "roles")
    kh.assert_error(boss.call("PUT", "/api/v1/users/%s/roles?client_id=%s" % (ids["userB"], ids["B"]),
                              {"roles": ["client_staff"]}), 404, "not_found")
    assert boss.call("GET", "/api/v1/auth/me").json["user"]["roles"] == ["client_admin"]
    assert am.call("GET", "/api/v1/auth/me").json["user"]["roles"] == ["account_manager"]
    # an administrator may; the change is audited with the old and new roles
    r = admin.call("PUT", "/api/v1/users/%s/roles?client_id=0" % uid, {"roles": ["account_manager", "supervisor"]})
    assert r.status == 200 and r.json["roles"] == ["account_manager", "supervisor"], r
    assert any(i["action"] == "user.set_roles" for i in audit(admin, "client_id=0&object_type=user&object_id=%s" % uid)["items"])


def test_a_password_reset_logs_the_user_out_and_needs_a_strong_password(kefu, tmp_path):
    srv, admin, ids = new_site(kefu, tmp_path)
    staff_id = make_user(admin, ids["A"], "staff.a", ["client_staff"])
    staff = login_as(srv, "staff.a")
    boss = login_as(srv, "boss-A")
    url = "/api/v1/users/%s/password?client_id=%s" % (staff_id, ids["A"])
    kh.assert_error(boss.call("POST", url, {"password": "woaini1314"}), 422, "invalid", "password")
    kh.assert_error(boss.call("POST", url, {"password": ["x"]}), 422, "invalid", "password")
    assert staff.call("GET", "/api/v1/auth/me").status == 200
    assert boss.call("POST", url, {"password": NEW_PASSWORD}).status == 204
    assert staff.call("GET", "/api/v1/auth/me").status == 401
    login_as(srv, "staff.a", NEW_PASSWORD)
    other = login_as(srv, "boss-B")
    kh.assert_error(other.call("POST", url, {"password": NEW_PASSWORD + "x"}), 404, "not_found")


def test_organisations_are_edited_and_disabled(kefu, tmp_path):
    srv, admin, ids = new_site(kefu, tmp_path)
    url = "/api/v1/orgs/%s" % ids["A"]
    for bad, field in (({"name": ""}, "name"), ({"name": 5}, "name"), ({"address": "地" * 300}, "address")):
        kh.assert_error(admin.call("PATCH", url, bad), 422, "invalid", field)
    r = admin.call("PATCH", url, {"legal_name": "客户公司A有限公司", "contact_phone": "021-1234-5678"})
    assert r.status == 200 and r.json["legal_name"] == "客户公司A有限公司" and r.json["name"] == "客户公司A", r
    r = admin.call("PATCH", url, {"contact_phone": ""})
    assert r.json["contact_phone"] is None and r.json["legal_name"] == "客户公司A有限公司", r
    provider = admin.call("GET", "/api/v1/auth/me").json["user"]
    kh.assert_error(admin.call("PATCH", "/api/v1/orgs/1", {"name": "x"}), 404, "not_found")
    boss_b = login_as(srv, "boss-B")
    kh.assert_error(boss_b.call("PATCH", url, {"name": "夺取"}), 404, "not_found")
    assert provider["client_id"] == "0"
    trail = audit(admin, "client_id=%s&object_type=organization&object_id=%s" % (ids["A"], ids["A"]))
    assert [i["action"] for i in trail["items"]][:2] == ["org.update", "org.update"]
    assert "021-1234-5678" not in jsonlib.dumps(trail)  # contacts are masked
    # disabling logs the client's users out and keeps them out until enabled again
    boss = login_as(srv, "boss-A")
    assert admin.call("POST", url + "/disable").json["disabled"] is True
    assert admin.call("POST", url + "/disable").status == 200  # idempotent
    kh.assert_error(boss.call("GET", "/api/v1/auth/me"), 401, "unauthenticated")
    kh.assert_error(srv.post("/api/v1/auth/login", json={"username": "boss-A", "password": PASSWORD}), 401,
                    "unauthenticated")
    assert boss_b.call("GET", "/api/v1/auth/me").status == 200  # the other client is untouched
    assert admin.call("POST", url + "/enable").json["disabled"] is False
    login_as(srv, "boss-A")


def test_customers_are_edited_and_deleted(kefu, tmp_path):
    srv, admin, ids = new_site(kefu, tmp_path)
    boss = login_as(srv, "boss-A")
    cid = ids["customerA"]
    url = "/api/v1/customers/%s?client_id=%s" % (cid, ids["A"])
    for bad, field in (({"name": ""}, "name"), ({"email": "no-at-sign"}, "email"), ({"kind": "robot"}, "kind"),
                       ({"phone": 13800138000}, "phone")):
        kh.assert_error(boss.call("PATCH", url, bad), 422, "invalid", field)
    r = boss.call("PATCH", url, {"phone": "+86 137 0000 1111", "address": "上海市浦东新区"})
    assert r.status == 200 and r.json["address"] == "上海市浦东新区" and r.json["name"] == "顾客A", r
    found = boss.call("GET", "/api/v1/customers?client_id=%s&phone=13700001111" % ids["A"])
    assert [c["id"] for c in found.json["items"]] == [cid]
    boss_b = login_as(srv, "boss-B")
    kh.assert_error(boss_b.call("DELETE", url), 404, "not_found")
    kh.assert_error(boss_b.call("DELETE", "/api/v1/customers/%s?client_id=%s" % (cid, ids["B"])), 404, "not_found")
    assert boss.call("DELETE", url).status == 204
    kh.assert_error(boss.call("DELETE", url), 404, "not_found")  # a second delete finds nothing
    kh.assert_error(boss.call("GET", url), 404, "not_found")
    trail = audit(admin, "client_id=%s&object_type=customer&object_id=%s" % (ids["A"], cid))
    actions = [i["action"] for i in trail["items"]]
    assert actions.count("customer.delete") == 1 and "customer.update" in actions and "customer.read" in actions
    assert "13700001111" not in jsonlib.dumps(trail) and "浦东" not in jsonlib.dumps(trail)


def test_teams(kefu, tmp_path):
    srv, admin, ids = new_site(kefu, tmp_path)
    agent = make_user(admin, "0", "agent.chen", ["agent"])
    kh.assert_error(admin.call("POST", "/api/v1/teams", {"name": ""}), 422, "invalid", "name")
    kh.assert_error(admin.call("POST", "/api/v1/teams", {}), 422, "invalid", "name")
    t = admin.call("POST", "/api/v1/teams", {"name": "二线支持"})
    assert t.status == 201 and t.json["member_count"] == 0, t
    members = "/api/v1/teams/%s/members" % t.json["id"]
    kh.assert_error(admin.call("POST", members, {"user_id": ids["userA"]}), 422, "invalid", "user_id")
    kh.assert_error(admin.call("POST", members, {"user_id": 12}), 422, "invalid", "user_id")
    assert admin.call("POST", members, {"user_id": agent}).json["user_ids"] == [agent]
    assert admin.call("POST", members, {"user_id": agent}).json["user_ids"] == [agent]  # twice: once
    assert admin.call("GET", "/api/v1/teams").json["items"][0]["member_count"] == 1
    kh.assert_error(admin.call("GET", "/api/v1/teams/12345/members"), 404, "not_found")
    kh.assert_error(login_as(srv, "boss-A").call("GET", members), 404, "not_found")
    assert admin.call("DELETE", members + "/" + agent).json["user_ids"] == []
    kh.assert_error(admin.call("DELETE", members + "/" + agent), 404, "not_found")


def test_the_audit_trail_filters_and_pages(kefu, tmp_path):
    srv, admin, ids = new_site(kefu, tmp_path)
    boss = login_as(srv, "boss-A")
    for i in range(5):
        assert boss.call("POST", "/api/v1/customers", {"name": "顾客-%d" % i}).status == 201
    everything = audit(admin, "client_id=%s&limit=500" % ids["A"])["items"]
    seen, after = [], None
    while True:
        page = audit(boss, "limit=3" + ("&after=" + after if after else ""))
        seen += page["items"]
        after = page["next"]
        if not after:
            break
    assert [i["id"] for i in seen] == [i["id"] for i in everything]  # the same records, in order, once
    assert all(i["chain"] == ids["A"] for i in seen)
    mine = boss.call("GET", "/api/v1/auth/me").json["user"]["id"]
    by_boss = audit(admin, "client_id=%s&actor_id=%s" % (ids["A"], mine))["items"]
    assert len([i for i in by_boss if i["action"] == "customer.create"]) == 5
    assert all(i["actor_id"] == mine for i in by_boss)
    newest = everything[0]["at"]
    assert audit(admin, "client_id=%s&from=%d" % (ids["A"], newest + 1))["items"] == []
    assert audit(admin, "client_id=%s&to=%d" % (ids["A"], newest + 1))["items"]
    # every chain at once: the provider only
    assert {i["chain"] for i in audit(admin, "client_id=all&limit=500")["items"]} >= {"0", ids["A"], ids["B"]}
    kh.assert_error(boss.call("GET", "/api/v1/audit?client_id=all"), 404, "not_found")
    kh.assert_error(boss.call("GET", "/api/v1/audit?client_id=%s" % ids["B"]), 404, "not_found")
    for q, field in (("after=123", "after"), ("after=x.1", "after"), ("after=1.-5", "after"), ("limit=0", "limit"),
                     ("limit=501", "limit"), ("object_type=user", "object_id"), ("object_id=5", "object_type"),
                     ("object_type=user&object_id=abc", "object_id"), ("actor_id=-1", "actor_id"),
                     ("from=-5", "from"), ("from=10&to=5", "to"), ("client_id=x", "client_id")):
        kh.assert_error(boss.call("GET", "/api/v1/audit?" + q), 422, "invalid", field)
    staff = make_user(admin, ids["A"], "staff.z", ["client_staff"])
    assert staff
    kh.assert_error(login_as(srv, "staff.z").call("GET", "/api/v1/audit"), 403, "forbidden")
