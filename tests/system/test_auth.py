"""Logging in (issue 3): a password login gives a fresh session in an HttpOnly cookie; the session's
anti-forgery token guards state-changing requests; logout ends it for good; wrong passwords are
throttled and audited; a disabled user's session stops working at once; API tokens use Bearer."""
import os

import pytest

import kefu_http as kh
from conftest import key_file_for, run_kefu

PASSWORD = "蓝色的海边-灯塔-2026"


@pytest.fixture
def site(kefu, tmp_path):
    """A server whose database has an administrator `admin` and an agent `zhangwei`."""
    srv = kefu()
    key = key_file_for(srv.db_url, None)
    pw = tmp_path / "pw.txt"
    pw.write_text(PASSWORD + "\n")
    common = ["--db", srv.db_url, "--key-file", key, "--password-file", str(pw)]
    assert run_kefu(["init", "--admin", "admin"] + common).returncode == 0
    r = run_kefu(["user", "add", "--username", "zhangwei", "--roles", "agent"] + common)
    assert r.returncode == 0, r.stderr
    srv.db_args = common[:4]  # --db URL --key-file KEY
    return srv


def login(srv, name, password):
    return srv.post("/api/v1/auth/login", json={"username": name, "password": password})


def session_cookie(r):
    for value in r.header_all("Set-Cookie"):
        if value.startswith("kefu_session="):
            return value
    raise AssertionError("no session cookie in %r" % (r,))


def cookie_header(r):
    return session_cookie(r).split(";")[0]


def test_login_sets_an_httponly_session_cookie_and_me_answers(site):
    r = login(site, "zhangwei", PASSWORD)
    assert r.status == 200, r
    c = session_cookie(r)
    for attr in ("HttpOnly", "SameSite=Lax", "Path=/"):
        assert attr in c, c
    assert r.json["user"]["username"] == "zhangwei" and r.json["user"]["roles"] == ["agent"]
    me = site.get("/api/v1/auth/me", headers={"Cookie": cookie_header(r)})
    assert me.status == 200 and me.json["user"]["username"] == "zhangwei"
    assert me.json["user"]["csrf_token"] == r.json["user"]["csrf_token"]


def test_every_login_gets_a_new_session(site):
    a, b = login(site, "zhangwei", PASSWORD), login(site, "zhangwei", PASSWORD)
    assert cookie_header(a) != cookie_header(b)


def test_me_without_a_session_is_401(site):
    kh.assert_error(site.get("/api/v1/auth/me"), 401, "unauthenticated")
    kh.assert_error(site.get("/api/v1/auth/me", headers={"Cookie": "kefu_session=forged"}), 401, "unauthenticated")


def test_wrong_password_and_unknown_user_are_401_alike(site):
    a = login(site, "zhangwei", "not-the-password")
    b = login(site, "nobody-here", "not-the-password")
    kh.assert_error(a, 401, "unauthenticated")
    kh.assert_error(b, 401, "unauthenticated")
    assert a.json["error"]["message"] == b.json["error"]["message"]


def test_logout_needs_the_anti_forgery_token_and_ends_the_session(site):
    r = login(site, "zhangwei", PASSWORD)
    cookie, csrf = cookie_header(r), r.json["user"]["csrf_token"]
    kh.assert_error(site.post("/api/v1/auth/logout", headers={"Cookie": cookie}), 403, "forbidden")
    kh.assert_error(site.post("/api/v1/auth/logout", headers={"Cookie": cookie, "X-CSRF-Token": csrf[:-1] + "x"}),
                    403, "forbidden")
    out = site.post("/api/v1/auth/logout", headers={"Cookie": cookie, "X-CSRF-Token": csrf})
    assert out.status == 204, out
    assert any("Max-Age=0" in v for v in out.header_all("Set-Cookie"))
    # the same cookie after logout: refused
    kh.assert_error(site.get("/api/v1/auth/me", headers={"Cookie": cookie}), 401, "unauthenticated")


def test_disabled_user_is_logged_out_at_once(site):
    r = login(site, "zhangwei", PASSWORD)
    cookie = cookie_header(r)
    assert site.get("/api/v1/auth/me", headers={"Cookie": cookie}).status == 200
    d = run_kefu(["user", "disable", "--username", "zhangwei"] + site.db_args)
    assert d.returncode == 0, d.stderr
    kh.assert_error(site.get("/api/v1/auth/me", headers={"Cookie": cookie}), 401, "unauthenticated")
    kh.assert_error(login(site, "zhangwei", PASSWORD), 401, "unauthenticated")


def test_admin_and_finance_act_only_after_enrolling_a_second_factor(site):
    r = login(site, "admin", PASSWORD)
    assert r.status == 200 and r.json["user"]["second_factor_required"] is True, r
    cookie, csrf = cookie_header(r), r.json["user"]["csrf_token"]
    # everything but the /api/v1/auth/ routes is refused until the second factor is in force
    kh.assert_error(site.get("/api/v1/orgs", headers={"Cookie": cookie}), 403, "forbidden", field="totp_code")
    assert site.get("/api/v1/auth/me", headers={"Cookie": cookie}).status == 200
    kh.enrol_second_factor(site, cookie, csrf)
    assert site.get("/api/v1/orgs", headers={"Cookie": cookie}).status == 200
    me = site.get("/api/v1/auth/me", headers={"Cookie": cookie})
    assert me.json["user"]["second_factor_required"] is False and me.json["user"]["totp_enabled"] is True
    # an agent is not held up
    a = login(site, "zhangwei", PASSWORD)
    assert a.json["user"]["second_factor_required"] is False


def test_repeated_failures_are_throttled_with_retry_after(site):
    statuses = []
    for _ in range(12):
        r = login(site, "admin", "wrong-%d" % len(statuses))
        statuses.append(r.status)
        if r.status == 429:
            assert int(r.header("Retry-After")) >= 1
            kh.assert_error(r, 429, "rate_limited")
            break
    assert 429 in statuses, statuses
    # while throttled even the right password waits: nothing reveals whether it was right
    r = login(site, "admin", PASSWORD)
    assert r.status == 429, r


def test_bad_login_input_is_422_or_400(site):
    kh.assert_error(site.post("/api/v1/auth/login", json={"username": "admin"}), 422, "invalid", field="password")
    kh.assert_error(site.post("/api/v1/auth/login", json={"username": 5, "password": "x"}), 422, "invalid",
                    field="username")
    kh.assert_error(site.post("/api/v1/auth/login", json={"username": "a" * 300, "password": "x"}), 422, "invalid")
    kh.assert_error(site.post("/api/v1/auth/login", body=b"{", headers={"Content-Type": "application/json"}), 400,
                    "bad_json")


def audit_records(site):
    v = run_kefu(["audit", "verify"] + site.db_args)
    assert v.returncode == 0 and "intact" in v.stdout, v.stdout + v.stderr
    return int(v.stdout.split(" records")[0].split()[-1])


def test_every_attempt_is_audited(site):
    before = audit_records(site)
    login(site, "zhangwei", "wrong")          # login.failed
    assert audit_records(site) == before + 1
    login(site, "zhangwei", PASSWORD)         # session.create
    assert audit_records(site) == before + 2


# ---- the second factor (TOTP) --------------------------------------------------------------------

def enrol(site, name):
    r = login(site, name, PASSWORD)
    headers = {"Cookie": cookie_header(r), "X-CSRF-Token": r.json["user"]["csrf_token"]}
    b = site.post("/api/v1/auth/totp/begin", headers=headers)
    assert b.status == 200, b
    uri = b.json["otpauth_uri"]
    assert uri.startswith("otpauth://totp/kefu:%s?" % name) and b.json["qr_svg"].startswith("<svg")
    secret = uri.split("secret=")[1].split("&")[0]
    kh.assert_error(site.post("/api/v1/auth/totp/confirm", json={"code": "000000"}, headers=headers), 401,
                    "unauthenticated", field="code")
    ok = site.post("/api/v1/auth/totp/confirm", json={"code": kh.totp_code(secret, site.clock_now())}, headers=headers)
    assert ok.status == 200, ok
    codes = ok.json["recovery_codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    again = site.post("/api/v1/auth/totp/begin", headers=headers)
    kh.assert_error(again, 409, "conflict")
    site.recovery_codes = codes
    return secret


def test_second_factor_enrolment_then_login_needs_a_fresh_code(site):
    secret = enrol(site, "zhangwei")
    # the password alone no longer logs in; the reply says which field is missing
    kh.assert_error(login(site, "zhangwei", PASSWORD), 401, "unauthenticated", field="totp_code")
    bad = site.post("/api/v1/auth/login", json={"username": "zhangwei", "password": PASSWORD, "totp_code": "123456"})
    kh.assert_error(bad, 401, "unauthenticated", field="totp_code")
    site.advance(30000)  # the code used at enrolment is spent; take the next step's
    code = kh.totp_code(secret, site.clock_now())
    good = site.post("/api/v1/auth/login", json={"username": "zhangwei", "password": PASSWORD, "totp_code": code})
    assert good.status == 200, good
    replay = site.post("/api/v1/auth/login", json={"username": "zhangwei", "password": PASSWORD, "totp_code": code})
    kh.assert_error(replay, 401, "unauthenticated", field="totp_code")


def test_second_factor_routes_need_a_session(site):
    kh.assert_error(site.post("/api/v1/auth/totp/begin"), 401, "unauthenticated")
    kh.assert_error(site.post("/api/v1/auth/totp/confirm", json={"code": "123456"}), 401, "unauthenticated")


def test_a_recovery_code_logs_in_once_in_place_of_the_app(site):
    enrol(site, "zhangwei")
    code = site.recovery_codes[3]
    spelled = code.upper().replace("-", " ")  # as a person might type it
    r = site.post("/api/v1/auth/login", json={"username": "zhangwei", "password": PASSWORD, "totp_code": spelled})
    assert r.status == 200, r
    again = site.post("/api/v1/auth/login", json={"username": "zhangwei", "password": PASSWORD, "totp_code": code})
    kh.assert_error(again, 401, "unauthenticated", field="totp_code")
    wrong = site.post("/api/v1/auth/login", json={"username": "zhangwei", "password": PASSWORD,
                                                  "totp_code": "abcde-fghjk"})
    kh.assert_error(wrong, 401, "unauthenticated", field="totp_code")
    other = site.recovery_codes[4]
    r = site.post("/api/v1/auth/login", json={"username": "zhangwei", "password": PASSWORD, "totp_code": other})
    assert r.status == 200, r
