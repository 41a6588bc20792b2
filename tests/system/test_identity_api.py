"""The identity API's answers to bad input (issue 3): malformed JSON is 400, wrong types, missing
fields, unknown roles and oversize strings are 422 naming the field, another tenant's ids are 404,
a second create of the same user name is 409 and leaves the first alone, and personal data never
reaches the access log."""
import pytest

import kefu_http as kh
from conftest import key_file_for, run_kefu

PASSWORD = "蓝色的海边-灯塔-2026"
PHONE = "+86 138 0013 8000"
PHONE_DIGITS = "13800138000"


class Session:
    def __init__(self, srv, name):
        r = srv.post("/api/v1/auth/login", json={"username": name, "password": PASSWORD})
        assert r.status == 200, r
        self.srv = srv
        self.cookie = [v for v in r.header_all("Set-Cookie") if v.startswith("kefu_session=")][0].split(";")[0]
        self.csrf = r.json["user"]["csrf_token"]
        if r.json["user"]["second_factor_required"]:  # admin and finance (issue 3)
            kh.enrol_second_factor(srv, self.cookie, self.csrf)

    def get(self, path):
        return self.srv.get(path, headers={"Cookie": self.cookie})

    def post(self, path, json=None, body=None):
        h = {"Cookie": self.cookie, "X-CSRF-Token": self.csrf}
        if body is not None:
            h["Content-Type"] = "application/json"
            return self.srv.request("POST", path, body=body, headers=h)
        return self.srv.request("POST", path, json=json, headers=h)


def make_site(srv, tmp_path):
    key = key_file_for(srv.db_url, None)
    pw = tmp_path / "pw.txt"
    pw.write_text(PASSWORD + "\n")
    r = run_kefu(["init", "--admin", "admin", "--db", srv.db_url, "--key-file", key, "--password-file", str(pw)])
    assert r.returncode == 0, r.stderr
    admin = Session(srv, "admin")
    ids = {}
    for tag in ("A", "B"):
        o = admin.post("/api/v1/orgs", {"name": "客户公司" + tag})
        assert o.status == 201, o
        ids[tag] = o.json["id"]
        u = admin.post("/api/v1/users", {"client_id": ids[tag], "username": "boss-" + tag, "password": PASSWORD,
                                         "roles": ["client_admin"]})
        assert u.status == 201, u
        ids["user" + tag] = u.json["id"]
        c = admin.post("/api/v1/customers", {"client_id": ids[tag], "name": "顾客" + tag, "phone": "139 0000 000" + str(
            len(tag))})
        assert c.status == 201, c
        ids["customer" + tag] = c.json["id"]
    return admin, ids


@pytest.fixture
def site(kefu, tmp_path):
    srv = kefu()
    admin, ids = make_site(srv, tmp_path)
    return srv, admin, Session(srv, "boss-A"), ids


def test_malformed_json_is_400(site):
    srv, admin, boss, ids = site
    for path in ("/api/v1/orgs", "/api/v1/users", "/api/v1/customers",
                 "/api/v1/customers/%s/consents?client_id=%s" % (ids["customerA"], ids["A"])):
        kh.assert_error(admin.post(path, body=b'{"name": '), 400, "bad_json")


def test_wrong_types_missing_fields_and_unknown_roles_are_422_naming_the_field(site):
    srv, admin, boss, ids = site
    A = ids["A"]
    kh.assert_error(admin.post("/api/v1/orgs", {"name": 5}), 422, "invalid", field="name")
    kh.assert_error(admin.post("/api/v1/orgs", {}), 422, "invalid", field="name")
    user = {"client_id": A, "username": "new-user", "password": PASSWORD, "roles": ["client_staff"]}
    kh.assert_error(admin.post("/api/v1/users", dict(user, roles="client_staff")), 422, "invalid", field="roles")
    kh.assert_error(admin.post("/api/v1/users", dict(user, roles=["no_such_role"])), 422, "invalid", field="roles")
    kh.assert_error(admin.post("/api/v1/users", dict(user, roles=[])), 422, "invalid", field="roles")
    kh.assert_error(admin.post("/api/v1/users", dict(user, roles=[7])), 422, "invalid", field="roles")
    kh.assert_error(admin.post("/api/v1/users", dict(user, roles=["agent"])), 422, "invalid", field="roles")
    kh.assert_error(admin.post("/api/v1/users", dict(user, client_id=True)), 422, "invalid", field="client_id")
    kh.assert_error(admin.post("/api/v1/users", dict(user, client_id="12x")), 422, "invalid", field="client_id")
    kh.assert_error(admin.post("/api/v1/users", {k: v for k, v in user.items() if k != "password"}), 422, "invalid",
                    field="password")
    kh.assert_error(admin.post("/api/v1/users", dict(user, username=["x"])), 422, "invalid", field="username")
    kh.assert_error(admin.post("/api/v1/customers", {"client_id": A}), 422, "invalid", field="name")
    kh.assert_error(admin.post("/api/v1/customers", {"client_id": A, "name": "王五", "kind": "robot"}), 422,
                    "invalid", field="kind")
    kh.assert_error(admin.post("/api/v1/customers", {"name": "王五"}), 422, "invalid", field="client_id")
    consents = "/api/v1/customers/%s/consents?client_id=%s" % (ids["customerA"], A)
    kh.assert_error(admin.post(consents, {"purpose": "marketing", "channel": "phone"}), 422, "invalid",
                    field="notice_version")
    kh.assert_error(admin.post(consents, {"purpose": "world_domination", "notice_version": "v1", "channel": "phone"}),
                    422, "invalid", field="purpose")
    kh.assert_error(admin.get("/api/v1/customers?client_id=%s&limit=0" % A), 422, "invalid", field="limit")
    kh.assert_error(admin.get("/api/v1/customers?client_id=%s&after=abc" % A), 422, "invalid", field="after")
    kh.assert_error(admin.get("/api/v1/customers"), 422, "invalid", field="client_id")
    kh.assert_error(admin.get("/api/v1/customers?client_id=%s&name=" % A), 422, "invalid", field="name")
    kh.assert_error(admin.get("/api/v1/customers?client_id=%s&phone=x&name=y" % A), 422, "invalid")


def test_oversize_strings_are_422(site):
    srv, admin, boss, ids = site
    kh.assert_error(admin.post("/api/v1/orgs", {"name": "名" * 200}), 422, "invalid", field="name")
    kh.assert_error(admin.post("/api/v1/users", {"client_id": ids["A"], "username": "u" * 300, "password": PASSWORD,
                                                 "roles": ["client_staff"]}), 422, "invalid", field="username")
    kh.assert_error(admin.post("/api/v1/customers", {"client_id": ids["A"], "name": "张", "address": "x" * 401}), 422,
                    "invalid", field="address")
    kh.assert_error(admin.get("/api/v1/customers?client_id=%s&name=%s" % (ids["A"], "x" * 401)), 422, "invalid",
                    field="name")


def test_another_tenants_ids_are_404_without_a_byte_of_them(site):
    srv, admin, boss, ids = site
    A, B = ids["A"], ids["B"]
    cB, uB = ids["customerB"], ids["userB"]
    for path in ("/api/v1/orgs/%s" % B, "/api/v1/orgs/%s/users" % B, "/api/v1/users/%s?client_id=%s" % (uB, B),
                 "/api/v1/users/%s?client_id=%s" % (uB, A), "/api/v1/users/%s" % uB,
                 "/api/v1/customers?client_id=%s" % B, "/api/v1/customers/%s?client_id=%s" % (cB, B),
                 "/api/v1/customers/%s?client_id=%s" % (cB, A), "/api/v1/customers/%s" % cB,
                 "/api/v1/customers/%s/consents?client_id=%s" % (cB, A), "/api/v1/customers/abc?client_id=%s" % A):
        r = boss.get(path)
        kh.assert_error(r, 404, "not_found")
        for secret in ("客户公司B", "顾客B", "boss-B"):
            assert secret.encode() not in r.body, (path, r)
    give = {"purpose": "marketing", "notice_version": "v1", "channel": "phone"}
    kh.assert_error(boss.post("/api/v1/customers/%s/consents?client_id=%s" % (cB, A), give), 404, "not_found")
    kh.assert_error(boss.post("/api/v1/customers/%s/consents?client_id=%s" % (cB, B), give), 404, "not_found")
    kh.assert_error(boss.post("/api/v1/users/%s/disable?client_id=%s" % (uB, B)), 404, "not_found")
    kh.assert_error(boss.post("/api/v1/customers", {"client_id": B, "name": "偷偷"}), 404, "not_found")
    kh.assert_error(boss.post("/api/v1/users", {"client_id": B, "username": "sneak", "password": PASSWORD,
                                                "roles": ["client_staff"]}), 404, "not_found")
    # and B's user was not disabled by the attempt
    assert admin.get("/api/v1/users/%s?client_id=%s" % (uB, B)).json["disabled"] is False


def test_a_duplicate_user_is_409_and_the_first_stays(site):
    srv, admin, boss, ids = site
    first = boss.post("/api/v1/users", {"username": "li-na", "display_name": "李娜", "password": PASSWORD,
                                        "roles": ["client_staff"]})
    assert first.status == 201 and first.json["client_id"] == ids["A"], first
    again = boss.post("/api/v1/users", {"username": "li-na", "display_name": "另一个", "password": PASSWORD + "x",
                                        "roles": ["client_admin"]})
    kh.assert_error(again, 409, "conflict", field="username")
    now = boss.get("/api/v1/users/%s" % first.json["id"])
    assert now.status == 200, now
    assert now.json["display_name"] == "李娜" and now.json["roles"] == ["client_staff"], now
    assert Session(srv, "li-na").cookie  # the first password still works


def test_personal_data_never_reaches_the_access_log(kefu, tmp_path):
    log = tmp_path / "access.log"
    srv = kefu(args=["--access-log", str(log)])
    admin, ids = make_site(srv, tmp_path)
    A = ids["A"]
    c = admin.post("/api/v1/customers", {"client_id": A, "name": "赵秘密", "phone": PHONE, "email": "zhao@example.cn",
                                         "id_number": "110101199003077777"})
    assert c.status == 201, c
    got = admin.get("/api/v1/customers/%s?client_id=%s" % (c.json["id"], A))
    assert got.status == 200 and got.json["phone"] == PHONE, got
    found = admin.get("/api/v1/customers?client_id=%s&phone=%s" % (A, kh.quote(PHONE)))
    assert found.status == 200 and [x["id"] for x in found.json["items"]] == [c.json["id"]], found
    found = admin.get("/api/v1/customers?client_id=%s&name=%s" % (A, kh.quote("秘密")))
    assert found.status == 200 and len(found.json["items"]) == 1, found
    srv.stop()
    text = log.read_text(encoding="utf-8", errors="replace")
    assert "/api/v1/customers" in text, text[-2000:]
    stderr = srv.log()
    for secret in (PHONE, PHONE_DIGITS, "赵秘密", "秘密", "zhao@example.cn", "110101199003077777"):
        assert secret not in text, secret
        assert secret not in stderr, secret
