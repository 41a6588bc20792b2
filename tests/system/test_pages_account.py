"""The account and notification pages (issue 4), as a browser uses them: forms posted urlencoded with
the hidden anti-forgery field, pages read as HTML. Preferences change the language of the next page;
a password change keeps this browser logged in and logs every other session out; bad input is a 422
page with the message beside its field and changes nothing; the second factor is enrolled end to end
with the recovery codes shown once; notifications page by key, filter and mark read, and another
person's are not found; forms without the token are refused; text from users is escaped. Both
engines (the `kefu` fixture)."""
import html
import re
import urllib.parse

import kefu_http as kh
from test_admin_api import login_as, make_user, new_site
from test_identity_api import PASSWORD

NEW_PASSWORD = "远山的灯火-照亮-2027"
XSS = "<script>alert(1)</script>"
CSRF_RE = re.compile(r'name="csrf" value="([^"]*)"')


def session_cookie(r):
    found = [v for v in r.header_all("Set-Cookie") if v.startswith("kefu_session=")]
    return found[0].split(";")[0] if found else None


def post_form(srv, path, fields, cookie=None):
    h = {"Content-Type": "application/x-www-form-urlencoded"}
    if cookie:
        h["Cookie"] = cookie
    return srv.request("POST", path, body=urllib.parse.urlencode(fields), headers=h)


class Browser:
    """One browser logged in through the log-in form: GET pages with its cookie, POST forms with the
    page's hidden `csrf` field (read from a page of the same session)."""

    def __init__(self, srv, username, password=PASSWORD, totp_code=None):
        self.srv = srv
        fields = {"username": username, "password": password}
        if totp_code:
            fields["totp_code"] = totp_code
        r = post_form(srv, "/login", fields)
        assert r.status == 303, r
        self.cookie = session_cookie(r)
        self.landing = r.header("Location")
        self.csrf = None

    def get(self, path):
        r = self.srv.get(path, headers={"Cookie": self.cookie})
        m = CSRF_RE.search(r.text)
        if r.status == 200 and m:
            self.csrf = html.unescape(m.group(1))
        return r

    def page(self, path):
        r = self.get(path)
        assert r.status == 200, r
        assert (r.header("Content-Type") or "").startswith("text/html"), r
        return r

    def token(self):
        if not self.csrf:
            self.page("/account/password")
        return self.csrf

    def form(self, path, fields, csrf=True):
        if csrf:
            fields = dict(fields, csrf=self.token())
        return post_form(self.srv, path, fields, self.cookie)


def field_error(r, field):
    """The message shown beside `field` (its input marked invalid and pointing at it), or None."""
    m = re.search(r'<p class="field-error" id="%s-error">([^<]*)</p>' % re.escape(field), r.text)
    if not m:
        return None
    control = re.search(r'<(?:input|select)[^>]*\bid="%s"[^>]*>' % re.escape(field), r.text)
    assert control and 'aria-invalid="true"' in control.group(0) and "%s-error" % field in control.group(0), r.text
    return html.unescape(m.group(1))


def page_lang(r):
    return re.search(r'<html lang="([^"]+)">', r.text).group(1)


def assert_page(r, status):
    assert r.status == status, r
    assert (r.header("Content-Type") or "").startswith("text/html"), r


def notify(srv, user_id, client_id="0", key="notify.test", params=None, link=None):
    body = {"user_id": user_id, "client_id": client_id, "message_key": key}
    if params is not None:
        body["params"] = params
    if link is not None:
        body["link"] = link
    r = srv.post("/api/v1/test/notify", json=body)
    assert r.status == 204, r


def can_log_in(srv, name, password):
    return post_form(srv, "/login", {"username": name, "password": password}).status == 303


# --- my account and preferences -------------------------------------------------------------------

def test_account_page_shows_who_roles_second_factor_and_tokens(kefu, tmp_path):
    srv, admin, ids = new_site(kefu, tmp_path)
    make_user(admin, ids["A"], "li.kehu", ["client_admin", "client_supervisor"])
    b = Browser(srv, "li.kehu")
    r = b.page("/account")
    assert page_lang(r) == "zh-CN"
    assert "<h1>我的账户</h1>" in r.text
    assert "li.kehu" in r.text and "客户公司A" in r.text
    assert "客户方管理员" in r.text and "客户方主管" in r.text
    assert "两步验证:未启用" in r.text and 'href="/account/totp"' in r.text
    assert 'href="/account/password"' in r.text
    assert "POST /api/v1/auth/tokens" in r.text and "您还没有 API 令牌" in r.text
    assert "<script>" not in r.text and "style=" not in r.text


def test_preferences_change_the_language_of_the_next_page(kefu, tmp_path):
    srv, admin, ids = new_site(kefu, tmp_path)
    make_user(admin, "0", "agent.wang", ["agent"])
    b = Browser(srv, "agent.wang")
    assert page_lang(b.page("/account")) == "zh-CN"
    r = b.form("/account/preferences", {"language": "en", "time_zone": "Europe/Berlin"})
    assert r.status == 303 and r.header("Location") == "/account?saved=1", r
    r = b.page("/account?saved=1")
    assert page_lang(r) == "en"
    assert "Your settings have been saved." in r.text
    assert 'value="Europe/Berlin"' in r.text
    assert re.search(r'<option value="en" lang="en" selected>', r.text)
    # any page follows: the notifications page too
    assert page_lang(b.page("/notifications")) == "en"
    # a form without the time zone leaves it as it is
    assert b.form("/account/preferences", {"language": "zh-CN"}).status == 303
    r = b.page("/account")
    assert page_lang(r) == "zh-CN" and 'value="Europe/Berlin"' in r.text


def test_invalid_language_or_time_zone_is_422_beside_the_field_and_changes_nothing(kefu, tmp_path):
    srv, admin, ids = new_site(kefu, tmp_path)
    make_user(admin, "0", "agent.wang", ["agent"])
    b = Browser(srv, "agent.wang")
    assert b.form("/account/preferences", {"language": "zh-CN", "time_zone": "Asia/Shanghai"}).status == 303
    r = b.form("/account/preferences", {"language": "klingon", "time_zone": "Europe/Berlin"})
    assert_page(r, 422)
    assert field_error(r, "language") == "请选择中文或 English。"
    assert field_error(r, "time_zone") is None
    assert 'role="alert"' in r.text
    r = b.form("/account/preferences", {"language": "en", "time_zone": "Mars/Olympus"})
    assert_page(r, 422)
    assert "无法识别此时区" in field_error(r, "time_zone")
    assert 'value="Mars/Olympus"' in r.text  # the input is kept to correct it
    r = b.form("/account/preferences", {"language": "en", "time_zone": "A" * 200})  # oversized
    assert_page(r, 422)
    assert field_error(r, "time_zone")
    r = b.form("/account/preferences", {"time_zone": "Europe/Berlin"})  # missing
    assert_page(r, 422)
    assert field_error(r, "language")
    r = b.form("/account/preferences", {"language": ["en", "zh-CN"], "time_zone": ""})  # twice: wrong type
    assert_page(r, 422)
    assert field_error(r, "language")
    # nothing changed: still Chinese and Shanghai
    r = b.page("/account")
    assert page_lang(r) == "zh-CN" and 'value="Asia/Shanghai"' in r.text


def test_a_display_name_with_markup_is_escaped(kefu, tmp_path):
    srv, admin, ids = new_site(kefu, tmp_path)
    r = admin.call("POST", "/api/v1/users", {"client_id": "0", "username": "agent.xss", "password": PASSWORD,
                                            "roles": ["agent"], "display_name": XSS})
    assert r.status == 201, r
    b = Browser(srv, "agent.xss")
    for path in ("/account", "/notifications", "/account/password"):
        r = b.page(path)
        assert XSS not in r.text and "<script>alert" not in r.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text


# --- password ---------------------------------------------------------------------------------------

def test_password_change_keeps_this_browser_and_logs_the_other_session_out(kefu, tmp_path):
    srv, admin, ids = new_site(kefu, tmp_path)
    make_user(admin, "0", "agent.wang", ["agent"])
    here, elsewhere = Browser(srv, "agent.wang"), Browser(srv, "agent.wang")
    assert here.page("/account/password")
    old_cookie = here.cookie
    r = here.form("/account/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD,
                                        "new_password_repeat": NEW_PASSWORD})
    assert r.status == 303 and r.header("Location") == "/account?changed=1", r
    new_cookie = session_cookie(r)
    assert new_cookie and new_cookie != old_cookie
    assert "HttpOnly" in [v for v in r.header_all("Set-Cookie") if v.startswith("kefu_session=")][0]
    here.cookie, here.csrf = new_cookie, None
    r = here.page("/account?changed=1")
    assert "密码已修改" in r.text
    # the other browser, and the old cookie of this one, are logged out
    for cookie in (elsewhere.cookie, old_cookie):
        r = srv.get("/account", headers={"Cookie": cookie})
        assert r.status == 303 and r.header("Location").startswith("/login"), r
    # the new password works, the old one no longer
    assert can_log_in(srv, "agent.wang", NEW_PASSWORD)
    assert not can_log_in(srv, "agent.wang", PASSWORD)
    # the bell says so
    r = here.page("/notifications")
    assert "您的密码已修改" in r.text and 'href="/account"' in r.text
    # the fresh session works for forms too
    assert here.form("/notifications/read-all", {}).status == 303


def test_wrong_current_weak_new_or_mismatched_repeat_is_422_and_changes_nothing(kefu, tmp_path):
    srv, admin, ids = new_site(kefu, tmp_path)
    make_user(admin, "0", "agent.wang", ["agent"])
    b = Browser(srv, "agent.wang")
    cases = [
        ({"current_password": "not-my-password", "new_password": NEW_PASSWORD, "new_password_repeat": NEW_PASSWORD},
         "current_password", "当前密码不正确。"),
        ({"current_password": PASSWORD, "new_password": "abc", "new_password_repeat": "abc"},
         "new_password", "新密码太短,至少需要 8 个字符。"),
        ({"current_password": PASSWORD, "new_password": "12345678", "new_password_repeat": "12345678"},
         "new_password", None),
        ({"current_password": PASSWORD, "new_password": "agent.wang-2027", "new_password_repeat": "agent.wang-2027"},
         "new_password", None),
        # the repeat is checked first: even a wrong current password is not looked at
        ({"current_password": "not-my-password", "new_password": NEW_PASSWORD,
          "new_password_repeat": NEW_PASSWORD + "x"}, "new_password_repeat", "两次输入的新密码不一致。"),
        ({"current_password": PASSWORD, "new_password": NEW_PASSWORD}, "new_password_repeat", "请填写此项。"),
        ({"new_password": NEW_PASSWORD, "new_password_repeat": NEW_PASSWORD}, "current_password", "请填写此项。"),
        ({"current_password": PASSWORD, "new_password": "长" * 2000, "new_password_repeat": "长" * 2000},
         "new_password", "内容过长。"),
        ({"current_password": [PASSWORD, PASSWORD], "new_password": NEW_PASSWORD,
          "new_password_repeat": NEW_PASSWORD}, "current_password", None),
    ]
    for fields, field, message in cases:
        r = b.form("/account/password", fields)
        assert_page(r, 422)
        got = field_error(r, field)
        assert got, (fields, r.text)
        if message:
            assert got == message, (fields, got)
        assert session_cookie(r) is None
        for value in fields.values():  # passwords are never shown again
            if isinstance(value, str) and len(value) > 3:
                assert value not in r.text
    # nothing changed: the old password logs in, this browser is still in
    assert can_log_in(srv, "agent.wang", PASSWORD)
    assert b.page("/account")


def test_an_api_token_cannot_change_the_password_through_the_page(kefu, tmp_path):
    srv, admin, ids = new_site(kefu, tmp_path)
    make_user(admin, "0", "agent.wang", ["agent"])
    api = login_as(srv, "agent.wang")
    tk = api.call("POST", "/api/v1/auth/tokens", {"name": "集成", "roles": ["agent"]})
    assert tk.status == 201, tk
    r = srv.request("POST", "/account/password", headers={
        "Authorization": "Bearer " + tk.json["token"], "Content-Type": "application/x-www-form-urlencoded"},
        body=urllib.parse.urlencode({"current_password": PASSWORD, "new_password": NEW_PASSWORD,
                                     "new_password_repeat": NEW_PASSWORD}))
    assert r.status == 403, r
    assert can_log_in(srv, "agent.wang", PASSWORD)


# --- second factor ------------------------------------------------------------------------------------

SECRET_RE = re.compile(r'<code id="totp-secret">([A-Z2-7 ]+)</code>')
RECOVERY_RE = re.compile(r"<li><code>([a-z0-9]{5}-[a-z0-9]{5})</code></li>")


def enrol_page(b):
    r = b.page("/account/totp")
    assert "<svg" in r.text  # the QR code, unescaped: kefu's own encoder made it
    m = SECRET_RE.search(r.text)
    assert m, r.text
    return r, m.group(1).replace(" ", "")


def test_second_factor_enrolment_end_to_end_shows_the_recovery_codes_once(kefu, tmp_path):
    srv, admin, ids = new_site(kefu, tmp_path)
    make_user(admin, "0", "agent.zhao", ["agent"])
    b = Browser(srv, "agent.zhao")
    assert "两步验证:未启用" in b.page("/account").text
    r, secret = enrol_page(b)
    assert 'action="/account/totp"' in r.text and 'autocomplete="one-time-code"' in r.text
    # a wrong code, and none: the form again with the message beside the field; nothing in force
    wrong = kh.totp_code(secret, srv.clock_now(), step_offset=1000)
    r = b.form("/account/totp", {"code": wrong})
    assert_page(r, 422)
    assert field_error(r, "code") == "验证码不正确,请输入应用当前显示的 6 位数字。"
    assert not RECOVERY_RE.search(r.text)
    r = b.form("/account/totp", {})
    assert_page(r, 422)
    assert field_error(r, "code") == "请填写此项。"
    r = b.form("/account/totp", {"code": "1" * 100})
    assert_page(r, 422)
    assert field_error(r, "code")
    # the right code: the recovery codes, this once, never cached
    r = b.form("/account/totp", {"code": kh.totp_code(secret, srv.clock_now())})
    assert_page(r, 200)
    assert r.header("Cache-Control") == "no-store"
    codes = RECOVERY_RE.findall(r.text)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert "只显示这一次" in r.text
    # a second submission: nothing pending, the status (409), no codes
    r = b.form("/account/totp", {"code": kh.totp_code(secret, srv.clock_now())})
    assert_page(r, 409)
    assert "两步验证已启用" in r.text and not RECOVERY_RE.search(r.text)
    r = b.page("/account/totp")
    assert "两步验证已启用" in r.text and "<svg" not in r.text and not SECRET_RE.search(r.text)
    assert "两步验证:已启用" in b.page("/account").text
    # logging in now needs a code: a recovery code works once
    r = post_form(srv, "/login", {"username": "agent.zhao", "password": PASSWORD})
    assert_page(r, 401)
    assert Browser(srv, "agent.zhao", totp_code=codes[0]).page("/account")
    r = post_form(srv, "/login", {"username": "agent.zhao", "password": PASSWORD, "totp_code": codes[0]})
    assert r.status == 401, r


def test_finance_without_a_second_factor_is_sent_to_enrol_and_can(kefu, tmp_path):
    srv, admin, ids = new_site(kefu, tmp_path)
    make_user(admin, "0", "finance.qian", ["finance"])
    b = Browser(srv, "finance.qian")
    assert b.landing == "/account/totp"
    for path in ("/", "/account", "/notifications", "/account/password"):
        r = b.get(path)
        assert r.status == 303 and r.header("Location") == "/account/totp", (path, r)
    r, secret = enrol_page(b)
    assert "必须先启用两步验证" in r.text
    r = b.form("/account/totp", {"code": kh.totp_code(secret, srv.clock_now())})
    assert_page(r, 200)
    assert len(RECOVERY_RE.findall(r.text)) == 10
    assert "必须先启用两步验证" not in r.text
    assert b.page("/").status == 200
    assert "两步验证:已启用" in b.page("/account").text


# --- API tokens -------------------------------------------------------------------------------------

def test_tokens_are_listed_escaped_and_revoked_after_confirmation_another_persons_are_404(kefu, tmp_path):
    """C5.2: another person's token is the 404 page, with no byte of it, and keeps working."""
    srv, admin, ids = new_site(kefu, tmp_path)
    make_user(admin, "0", "agent.wang", ["agent"])
    make_user(admin, "0", "agent.li", ["agent"])
    wang, li = login_as(srv, "agent.wang"), login_as(srv, "agent.li")
    mine = wang.call("POST", "/api/v1/auth/tokens", {"name": XSS, "roles": ["agent"]})
    theirs = li.call("POST", "/api/v1/auth/tokens", {"name": "李的令牌", "roles": ["agent"]})
    assert mine.status == 201 and theirs.status == 201
    b = Browser(srv, "agent.wang")
    r = b.page("/account")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text and "<script>alert" not in r.text
    assert "李的令牌" not in r.text
    assert "客服专员" in r.text and "有效" in r.text
    revoke = "/account/tokens/%s/revoke" % mine.json["id"]
    assert 'href="%s"' % revoke in r.text
    r = b.page(revoke)  # the confirmation page
    assert 'action="%s"' % revoke in r.text and "button-danger" in r.text
    assert "&lt;script&gt;" in r.text and "<script>alert" not in r.text
    # another person's token, and ids that name nothing: the 404 page, no byte of it
    for bad in (theirs.json["id"], "0", "abc", "99999999999999999999"):
        r = b.get("/account/tokens/%s/revoke" % bad)
        assert_page(r, 404)
        assert "李的令牌" not in r.text
        assert_page(b.form("/account/tokens/%s/revoke" % bad, {}), 404)
    assert kh.request(srv.addr, "GET", "/api/v1/auth/me",
                      headers={"Authorization": "Bearer " + theirs.json["token"]}).status == 200
    # revoking: 303 to the account page, the token stops working; a second time changes nothing
    r = b.form(revoke, {})
    assert r.status == 303 and r.header("Location") == "/account?revoked=1", r
    assert kh.request(srv.addr, "GET", "/api/v1/auth/me",
                      headers={"Authorization": "Bearer " + mine.json["token"]}).status == 401
    r = b.page("/account?revoked=1")
    assert "API 令牌已撤销" in r.text and "已撤销" in r.text and 'href="%s"' % revoke not in r.text
    assert b.form(revoke, {}).status == 303


# --- notifications ------------------------------------------------------------------------------------

ITEM_RE = re.compile(r"测试通知 (\d+)")


def test_notifications_page_by_key_filter_and_mark_read(kefu, tmp_path):
    srv, admin, ids = new_site(kefu, tmp_path)
    uid = make_user(admin, "0", "agent.wang", ["agent"])
    b = Browser(srv, "agent.wang")
    r = b.page("/notifications")
    assert "暂无通知" in r.text and 'data-unread="0"' in r.text
    for i in range(1, 6):
        notify(srv, uid, params={"n": str(i)}, link="/account" if i == 5 else None)
    r = b.page("/notifications?limit=2")
    assert ITEM_RE.findall(r.text) == ["5", "4"]  # newest first
    assert 'data-unread="5"' in r.text and 'role="status"' in r.text
    assert '<a href="/account">测试通知 5</a>' in r.text
    seen = []
    path = "/notifications?limit=2"
    while path:
        r = b.page(path)
        seen += ITEM_RE.findall(r.text)
        m = re.search(r'<a href="([^"]+)" rel="next">', r.text)
        path = html.unescape(m.group(1)) if m else None
        assert not path or "after=" in path
    assert seen == ["5", "4", "3", "2", "1"]
    # mark one read: back to the list it came from; the unread filter no longer shows it
    r = b.page("/notifications")
    first = re.search(r'action="/notifications/(\d+)/read"', r.text).group(1)
    r = b.form("/notifications/%s/read" % first, {"back": "/notifications?unread=1"})
    assert r.status == 303 and r.header("Location") == "/notifications?unread=1", r
    r = b.page("/notifications?unread=1")
    assert ITEM_RE.findall(r.text) == ["4", "3", "2", "1"]
    assert "未读(4)" in r.text
    r = b.page("/notifications")
    assert len(ITEM_RE.findall(r.text)) == 5 and r.text.count('action="/notifications/') == 4 + 1  # + read-all
    # twice is fine; a foreign "back" goes to the list
    r = b.form("/notifications/%s/read" % first, {"back": "//evil.example/x"})
    assert r.status == 303 and r.header("Location") == "/notifications", r
    r = b.form("/notifications/read-all", {"back": "https://evil.example/"})
    assert r.status == 303 and r.header("Location") == "/notifications", r
    r = b.page("/notifications?unread=1")
    assert "没有未读通知" in r.text and ITEM_RE.findall(r.text) == []
    assert "全部标为已读" not in r.text
    # bad paging parameters are refused, not guessed
    for q in ("after=abc", "limit=0", "limit=201", "limit=x"):
        assert_page(b.get("/notifications?" + q), 422)


def test_another_persons_notification_is_404_and_stays_unread(kefu, tmp_path):
    """C5.2: a notification of client B's user is not found for a provider agent, and untouched."""
    srv, admin, ids = new_site(kefu, tmp_path)
    make_user(admin, "0", "agent.wang", ["agent"])
    other = make_user(admin, ids["B"], "staff.b", ["client_staff"])
    notify(srv, other, client_id=ids["B"], params={"n": "9"})
    li = login_as(srv, "staff.b")
    theirs = li.call("GET", "/api/v1/notifications").json["items"][0]["id"]
    b = Browser(srv, "agent.wang")
    for bad in (theirs, "0", "abc"):
        r = b.form("/notifications/%s/read" % bad, {})
        assert_page(r, 404)
    assert li.call("GET", "/api/v1/notifications?unread=1").json["unread"] == 1
    assert "测试通知 9" not in b.page("/notifications").text


def test_notification_texts_are_in_the_readers_language_and_parameters_are_escaped(kefu, tmp_path):
    srv, admin, ids = new_site(kefu, tmp_path)
    uid = make_user(admin, "0", "agent.wang", ["agent"])
    notify(srv, uid, params={"n": XSS})
    notify(srv, uid, key="notify.token_created", params={"token_id": "12345"}, link="/account")
    notify(srv, uid, key="notify.no_such_key")  # a producer's key the catalogue lacks
    b = Browser(srv, "agent.wang")
    r = b.page("/notifications")
    assert "测试通知 &lt;script&gt;alert(1)&lt;/script&gt;" in r.text and "<script>alert" not in r.text
    assert "(编号 12345)" in r.text
    assert "您有一条新通知。" in r.text
    assert b.form("/account/preferences", {"language": "en", "time_zone": ""}).status == 303
    r = b.page("/notifications")
    assert "Test notification &lt;script&gt;" in r.text and "(number 12345)" in r.text
    assert 'data-text="New notifications — reload"' in r.text


# --- anti-forgery -------------------------------------------------------------------------------------

def test_forms_without_or_with_a_wrong_token_are_the_403_page_and_change_nothing(kefu, tmp_path):
    srv, admin, ids = new_site(kefu, tmp_path)
    uid = make_user(admin, "0", "agent.wang", ["agent"])
    notify(srv, uid, params={"n": "1"})
    api = login_as(srv, "agent.wang")
    tk = api.call("POST", "/api/v1/auth/tokens", {"name": "集成", "roles": ["agent"]})
    nid = api.call("GET", "/api/v1/notifications").json["items"][0]["id"]
    unread = api.call("GET", "/api/v1/notifications?unread=1").json["unread"]
    assert unread == 2  # the test's and the token's
    b = Browser(srv, "agent.wang")
    forms = [
        ("/account/preferences", {"language": "en", "time_zone": "Europe/Berlin"}),
        ("/account/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD,
                               "new_password_repeat": NEW_PASSWORD}),
        ("/account/totp", {"code": "000000"}),
        ("/account/tokens/%s/revoke" % tk.json["id"], {}),
        ("/notifications/%s/read" % nid, {}),
        ("/notifications/read-all", {}),
    ]
    for path, fields in forms:
        for extra in ({}, {"csrf": "wrong-token"}, {"csrf": ""}):
            r = b.form(path, dict(fields, **extra), csrf=False)
            assert_page(r, 403)
            assert "无权访问" in r.text, (path, r)
    # another site's page posting with the right token is refused too (Origin)
    r = srv.request("POST", "/account/preferences", headers={
        "Cookie": b.cookie, "Content-Type": "application/x-www-form-urlencoded", "Origin": "https://evil.example"},
        body=urllib.parse.urlencode({"language": "en", "time_zone": "", "csrf": b.token()}))
    assert r.status == 403, r
    # nothing changed
    assert page_lang(b.page("/account")) == "zh-CN"
    assert can_log_in(srv, "agent.wang", PASSWORD)
    assert api.call("GET", "/api/v1/notifications?unread=1").json["unread"] == unread
    assert kh.request(srv.addr, "GET", "/api/v1/auth/me",
                      headers={"Authorization": "Bearer " + tk.json["token"]}).status == 200


def test_anonymous_visitors_are_sent_to_log_in(kefu, tmp_path):
    srv = kefu()
    for path in ("/account", "/account/password", "/account/totp", "/notifications", "/account/tokens/1/revoke"):
        r = srv.get(path)
        assert r.status == 303 and r.header("Location") == "/login?next=" + path, r
    r = post_form(srv, "/account/preferences", {"language": "en"})
    assert r.status == 303 and r.header("Location") == "/login", r


def test_the_script_offers_a_reload_link_on_the_notifications_page(kefu, tmp_path):
    srv = kefu()
    js = srv.get("/static/kefu.js")
    assert js.status == 200
    assert "kefu:notifications" in js.text and "notify-live" in js.text and "data-unread" in js.text
