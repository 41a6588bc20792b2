"""The notice pages on both engines (C11.1.1, C8.2.1): the register and the client's inbox, where
notices waiting for the viewer's acknowledgement are counted at the top and marked; the form for a
notice and a correction; a notice's page with its Markdown rendered safely, the acknowledge button for
the recipient side and the delivery form for the sender side; the announcement form and its read
receipts — and bad input: empty and oversized fields, an unknown kind, a delivery time in the future,
a missing anti-forgery token, another client's ids (404, nothing of them shown), duplicate submission."""
import datetime
import re
import urllib.parse

import pytest

import kefu_http as kh
from conftest import key_file_for, run_kefu

PASSWORD = "蓝色的海边-灯塔-2026"
BODY = "## 事由\n\n贵方 **11 月** 服务费逾期未付。\n\n<script>alert('x')</script>"


class Browser:
    def __init__(self, srv, name):
        r = srv.post("/api/v1/auth/login", json={"username": name, "password": PASSWORD})
        assert r.status == 200, r
        self.srv = srv
        self.cookie = [v for v in r.header_all("Set-Cookie") if v.startswith("kefu_session=")][0].split(";")[0]
        self.csrf = r.json["user"]["csrf_token"]
        if r.json["user"]["second_factor_required"]:
            kh.enrol_second_factor(srv, self.cookie, self.csrf)

    def get(self, path):
        return self.srv.get(path, headers={"Cookie": self.cookie})

    def form(self, path, fields, csrf=True):
        pairs = list(fields.items()) if isinstance(fields, dict) else list(fields)
        if csrf:
            pairs.append(("csrf", self.csrf if csrf is True else csrf))
        return self.srv.request("POST", path, body=urllib.parse.urlencode(pairs).encode(),
                                headers={"Cookie": self.cookie, "Content-Type": "application/x-www-form-urlencoded"})

    def api(self, method, path, body=None):
        return self.srv.request(method, path, json=body, headers={"Cookie": self.cookie, "X-CSRF-Token": self.csrf})


@pytest.fixture
def site(kefu, tmp_path):
    srv = kefu()
    key = key_file_for(srv.db_url, None)
    pw = tmp_path / "pw.txt"
    pw.write_text(PASSWORD + "\n")
    r = run_kefu(["init", "--admin", "admin", "--db", srv.db_url, "--key-file", key, "--password-file", str(pw)])
    assert r.returncode == 0, r.stderr
    admin = Browser(srv, "admin")
    ids = {}
    for tag in ("A", "B"):
        o = admin.api("POST", "/api/v1/orgs", {"name": "通知客户" + tag})
        assert o.status == 201, o
        ids[tag] = o.json["id"]
        u = admin.api("POST", "/api/v1/users", {"client_id": ids[tag], "username": "boss-" + tag,
                                                "password": PASSWORD, "roles": ["client_admin"]})
        assert u.status == 201, u
    u = admin.api("POST", "/api/v1/users", {"client_id": ids["A"], "username": "staff-A", "password": PASSWORD,
                                            "roles": ["client_staff"]})
    assert u.status == 201, u
    return srv, admin, Browser(srv, "boss-A"), Browser(srv, "boss-B"), Browser(srv, "staff-A"), ids


def local(ms):
    """UTC ms as the text of an <input type="datetime-local"> in Asia/Shanghai (the viewers' zone)."""
    t = datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone(datetime.timedelta(hours=8)))
    return t.strftime("%Y-%m-%dT%H:%M")


def field_error(r, field):
    return ('id="%s-error"' % field) in r.text


def located(r):
    assert r.status == 303, r
    return r.header("Location")


def notice_id(location):
    m = re.match(r"^/notices/(\d+)\?client_id=\d+", location)
    assert m, location
    return m.group(1)


def send_form(admin, cid, **over):
    fields = {"client_id": cid, "kind": "breach", "subject": "关于逾期付款的违约通知", "body": BODY, "method": "portal"}
    fields.update(over)
    return admin.form("/notices", fields)


def test_C11_1_1_the_inbox_counts_and_marks_waiting_notices_and_the_client_acknowledges(site):
    srv, admin, boss, boss_b, staff, ids = site
    A = ids["A"]
    r = admin.get("/notices/new")
    assert r.status == 200 and "通知客户A" in r.text and 'name="csrf"' in r.text
    loc = located(send_form(admin, A))
    nid = notice_id(loc)
    page = admin.get(loc)
    assert page.status == 200 and "通知函已发出" in page.text
    # the Markdown is rendered, the script is not
    assert "<h2>事由</h2>" in page.text and "<strong>11 月</strong>" in page.text
    assert "<script>alert" not in page.text
    assert "确认收到</button>" not in page.text  # the sender does not acknowledge
    # the client's inbox: counted at the top, marked in the list; staff see it too
    for who in (boss, staff):
        inbox = who.get("/notices")
        assert inbox.status == 200, inbox
        assert "有 1 份通知函等待您方确认" in inbox.text
        assert 'class="notice-waiting"' in inbox.text and "关于逾期付款的违约通知" in inbox.text
    en = boss.get("/notices?lang=en")
    assert "1 notices are waiting for your side" in en.text and "Awaiting acknowledgement" in en.text
    boss.get("/notices?lang=zh-CN")
    # the client_admin acknowledges from the notice's page, once
    page = boss.get("/notices/%s?client_id=%s" % (nid, A))
    assert "确认收到</button>" in page.text and "这份通知函等待您方确认收到" in page.text
    staff_page = staff.get("/notices/%s?client_id=%s" % (nid, A))
    assert "确认收到</button>" not in staff_page.text  # client staff read, they do not acknowledge
    done = located(boss.form("/notices/%s/acknowledge?client_id=%s" % (nid, A), {}))
    assert "acknowledged=1" in done
    page = boss.get(done)
    assert "已确认收到这份通知函" in page.text and "boss-A" in page.text and "staff-A" in page.text
    assert boss.form("/notices/%s/acknowledge?client_id=%s" % (nid, A), {}).status == 409
    assert "有 1 份通知函等待您方确认" not in boss.get("/notices").text
    assert 'class="notice-waiting"' not in boss.get("/notices").text
    # the provider sees the readers and the acknowledgement
    page = admin.get("/notices/%s?client_id=%s" % (nid, A))
    assert "staff-A" in page.text and "boss-A" in page.text
    # filters
    assert "关于逾期付款的违约通知" in admin.get("/notices?client_id=%s&kind=breach" % A).text
    assert "关于逾期付款的违约通知" not in admin.get("/notices?client_id=%s&kind=renewal" % A).text
    assert "关于逾期付款的违约通知" not in admin.get("/notices?unacknowledged=1").text
    r = admin.get("/notices?kind=gossip")
    assert r.status == 422 and field_error(r, "kind"), r


def test_C11_1_1_registered_mail_delivery_form_and_a_correction(site):
    srv, admin, boss, boss_b, staff, ids = site
    A = ids["A"]
    loc = located(boss.form("/notices", {"kind": "termination", "subject": "解除合同通知", "body": "依约解除。",
                                         "method": "registered_mail"}))
    nid = notice_id(loc)
    page = boss.get(loc)
    assert 'name="delivered_at"' in page.text and 'name="tracking_number"' in page.text
    assert 'name="delivered_at"' not in admin.get(loc).text  # the recipient records nothing
    # the provider is told, and has it waiting
    assert "有 1 份通知函等待您方确认" in admin.get("/notices").text
    # a delivery time in the future, a malformed one, no tracking number: beside the field, nothing changes
    now = srv.get("/api/v1/test/clock").json["now_ms"]
    srv.post("/api/v1/test/clock", json={"advance_ms": 120000})
    when = local(now + 60000)  # a whole minute after the sending, before the clock's now
    future = local(now + 3 * 3600000)
    path = "/notices/%s/delivery?client_id=%s" % (nid, A)
    for fields, field in (({"delivered_at": future, "tracking_number": "EMS1"}, "delivered_at"),
                          ({"delivered_at": "明天", "tracking_number": "EMS1"}, "delivered_at"),
                          ({"delivered_at": when}, "tracking_number")):
        r = boss.form(path, fields)
        assert r.status == 422 and field_error(r, field), (fields, r)
    assert "EMS1" in boss.form(path, {"delivered_at": future, "tracking_number": "EMS1"}).text  # input kept
    assert admin.form(path, {"delivered_at": future}).status == 403
    assert boss.form(path, {"delivered_at": future}, csrf=False).status == 403
    done = located(boss.form(path, {"delivered_at": when, "tracking_number": "EMS1234567890CN"}))
    assert "delivered=1" in done
    page = boss.get(done)
    assert "送达时间已登记" in page.text and "EMS1234567890CN" in page.text and 'name="delivered_at"' not in page.text
    # a correction starts from the original and lists under it; the original stays as it was
    form = boss.get("/notices/new?corrects=%s" % nid)
    assert form.status == 200 and "更正:解除合同通知" in form.text and 'name="corrects_id" value="%s"' % nid in form.text
    fix = located(boss.form("/notices", {"kind": "termination", "subject": "更正:解除合同通知", "body": "更正日期。",
                                         "corrects_id": nid}))
    orig = boss.get(loc)
    assert "更正:解除合同通知" in orig.text and "依约解除。" in orig.text
    assert "原通知函" in boss.get(fix).text


def test_C11_1_1_bad_input_on_the_forms_and_another_clients_ids(site):
    srv, admin, boss, boss_b, staff, ids = site
    A, B = ids["A"], ids["B"]
    for fields, field in (({"subject": ""}, "subject"), ({"subject": "长" * 201}, "subject"),
                          ({"body": ""}, "body"), ({"kind": "gossip"}, "kind"), ({"method": "pigeon"}, "method"),
                          ({"tracking_number": "EMS1"}, "tracking_number"), ({"client_id": ""}, "client_id")):
        r = send_form(admin, A, **fields)
        assert r.status == 422 and field_error(r, field), (fields, r)
    # invalid UTF-8 in a field: refused, nothing sent
    raw = b"client_id=%s&kind=other&subject=%%FF%%FE&body=x&csrf=%s" % (A.encode(), admin.csrf.encode())
    r = srv.request("POST", "/notices", body=raw, headers={"Cookie": admin.cookie,
                                                            "Content-Type": "application/x-www-form-urlencoded"})
    assert r.status == 422, r
    # a field past the form parser's 64 KiB is refused before the page sees it
    assert send_form(admin, A, body="x" * (64 * 1024 + 1)).status == 422
    r = send_form(admin, A, subject="", body="保留的正文")
    assert "保留的正文" in r.text  # the input is kept
    r = admin.form("/notices", [("client_id", A), ("kind", "other"), ("subject", "甲"), ("subject", "乙"),
                                ("body", "x")])
    assert r.status == 422 and field_error(r, "subject"), r
    # no or a wrong anti-forgery token
    assert send_form(admin, A, subject="无令牌").status == 303
    before = admin.api("GET", "/api/v1/notices?client_id=%s" % A).json["items"]
    r = admin.form("/notices", {"client_id": A, "kind": "other", "subject": "无令牌2", "body": "x"}, csrf=False)
    assert r.status == 403
    r = admin.form("/notices", {"client_id": A, "kind": "other", "subject": "错令牌", "body": "x"}, csrf="x" * 43)
    assert r.status == 403
    assert admin.api("GET", "/api/v1/notices?client_id=%s" % A).json["items"] == before
    # duplicate submission: as on the other pages, two notices are acceptable, a 500 is not
    assert send_form(admin, A, subject="重复提交").status == 303
    assert send_form(admin, A, subject="重复提交").status == 303
    # another client's notice: not found, nothing of it shown
    nb = notice_id(located(send_form(admin, B, subject="乙方的秘密通知")))
    for path in ("/notices/%s?client_id=%s" % (nb, B), "/notices/%s?client_id=%s" % (nb, A),
                 "/notices/new?client_id=%s&corrects=%s" % (B, nb), "/notices/new?corrects=%s" % nb):
        r = boss.get(path)
        assert r.status == 404 and "乙方的秘密通知" not in r.text, (path, r)
    r = boss.form("/notices/%s/acknowledge?client_id=%s" % (nb, B), {})
    assert r.status == 404 and "乙方的秘密通知" not in r.text
    r = boss.form("/notices", {"client_id": B, "kind": "other", "subject": "越界", "body": "x"})
    assert r.status == 404 and "越界" not in r.text
    r = boss.form("/notices", {"kind": "other", "subject": "更正别人的", "body": "x", "corrects_id": nb})
    assert r.status == 422 and field_error(r, "corrects_id") and "乙方的秘密通知" not in r.text, r
    assert "乙方的秘密通知" not in boss.get("/notices").text
    # client staff neither send nor see the form
    assert staff.get("/notices/new").status == 403
    assert staff.form("/notices", {"kind": "other", "subject": "x", "body": "y"}).status == 403


def test_C8_2_1_the_announcement_form_and_its_read_receipts(site):
    srv, admin, boss, boss_b, staff, ids = site
    A, B = ids["A"], ids["B"]
    r = admin.get("/announcements/new")
    assert r.status == 200 and "通知客户A" in r.text and "通知客户B" in r.text
    r = admin.form("/announcements", {"subject": "系统升级公告", "body": "本周六升级。"})
    assert r.status == 422 and field_error(r, "client_ids") and "系统升级公告" in r.text, r
    r = admin.form("/announcements", [("client_ids", A), ("client_ids", A), ("subject", "x"), ("body", "y")])
    assert r.status == 422 and field_error(r, "client_ids"), r
    r = admin.form("/announcements", {"all": "1", "subject": "", "body": "y"})
    assert r.status == 422 and field_error(r, "subject"), r
    loc = located(admin.form("/announcements", [("client_ids", A), ("subject", "系统升级公告"),
                                                ("body", "本周六 **22:00** 起升级。")]))
    page = admin.get(loc)
    assert page.status == 200 and "公告已发布" in page.text and "通知客户A" in page.text and "通知客户B" not in page.text
    assert "1 个客户中已有 0 个阅读" in page.text and "<strong>22:00</strong>" in page.text
    # client A reads it in the inbox; the provider's receipts show it
    inbox = staff.get("/notices")
    m = re.search(r'href="(/notices/\d+\?client_id=\d+)">系统升级公告<', inbox.text)
    assert m, inbox.text
    assert staff.get(m.group(1).replace("&amp;", "&")).status == 200
    assert "1 个客户中已有 1 个阅读" in admin.get(loc).text
    # client users never see the announcement's audience
    for who in (boss, boss_b, staff):
        r = who.get(loc)
        assert r.status == 404 and "通知客户B" not in r.text and "通知客户A" not in r.text, r
        assert who.get("/announcements/new").status == 404
    assert "系统升级公告" not in boss_b.get("/notices").text
    loc_all = located(admin.form("/announcements", {"all": "1", "subject": "节假日安排", "body": "照常服务。"}))
    assert "2 个客户中已有 0 个阅读" in admin.get(loc_all).text
    assert "节假日安排" in boss_b.get("/notices").text
