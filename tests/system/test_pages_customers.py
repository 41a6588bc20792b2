"""The customer, consent and audit-trail pages (issue 4) on both engines: customers made, found (part
of a name, a phone number in another format, an e-mail), edited, cleared and deleted through the forms
(C1.1.1); consent given and withdrawn as easily (C7.2.1); the audit trail read page by page without a
customer's values (C7.1.1); bad input on every form, another tenant's ids (C5.2), and hostile text that
must come out escaped."""
import datetime
import re
import urllib.parse
from zoneinfo import ZoneInfo

import pytest

import kefu_http as kh
from conftest import key_file_for, run_kefu

PASSWORD = "蓝色的海边-灯塔-2026"
SECRET_B = "乙方秘密顾客"


class Browser:
    """A logged-in person using the pages: GET pages, POST urlencoded forms with the csrf field."""

    def __init__(self, srv, name):
        r = srv.post("/api/v1/auth/login", json={"username": name, "password": PASSWORD})
        assert r.status == 200, r
        self.srv = srv
        self.cookie = [v for v in r.header_all("Set-Cookie") if v.startswith("kefu_session=")][0].split(";")[0]
        self.csrf = r.json["user"]["csrf_token"]
        if r.json["user"]["second_factor_required"]:  # admin and finance
            kh.enrol_second_factor(srv, self.cookie, self.csrf)

    def get(self, path):
        return self.srv.get(path, headers={"Cookie": self.cookie})

    def form(self, path, fields, csrf=True):
        """POSTs `fields` (a dict, or a list of pairs for repeated names) as a page form does."""
        pairs = list(fields.items()) if isinstance(fields, dict) else list(fields)
        if csrf is True:
            pairs.append(("csrf", self.csrf))
        elif csrf:
            pairs.append(("csrf", csrf))
        return self.srv.request("POST", path, body=urllib.parse.urlencode(pairs).encode(),
                                headers={"Cookie": self.cookie,
                                         "Content-Type": "application/x-www-form-urlencoded"})

    def api(self, method, path, body=None):
        return self.srv.request(method, path, json=body, headers={"Cookie": self.cookie, "X-CSRF-Token": self.csrf})


def location(r):
    assert r.status == 303, r
    return r.header("Location")


def field_error(r, field):
    return ('id="%s-error"' % field).encode() in r.body


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
        o = admin.api("POST", "/api/v1/orgs", {"name": "客户公司" + tag})
        assert o.status == 201, o
        ids[tag] = o.json["id"]
        u = admin.api("POST", "/api/v1/users", {"client_id": ids[tag], "username": "boss-" + tag,
                                                "password": PASSWORD, "roles": ["client_admin"]})
        assert u.status == 201, u
    c = admin.api("POST", "/api/v1/customers", {"client_id": ids["B"], "name": SECRET_B, "phone": "139 0000 0002"})
    assert c.status == 201, c
    ids["customerB"] = c.json["id"]
    return srv, admin, Browser(srv, "boss-A"), ids


def create(browser, fields, client_id=None):
    body = {"kind": "person", "phone": "", "email": "", "address": "", "id_number": ""}
    body.update(fields)
    if client_id:
        body["client_id"] = client_id
    loc = location(browser.form("/customers", body))
    m = re.match(r"^/customers/(\d+)\?client_id=(\d+)&created=1$", loc)
    assert m, loc
    return m.group(1)


def names_listed(r):
    return re.findall(r'<a href="/customers/\d+\?client_id=\d+">([^<]*)</a>', r.text)


# --- customers (C1.1.1) --------------------------------------------------------------------------------

def test_C1_1_1_create_find_by_part_of_name_phone_and_email_edit_clear_and_delete(site):
    srv, admin, boss, ids = site
    A = ids["A"]
    new = boss.get("/customers/new")
    assert new.status == 200, new
    assert b'name="csrf"' in new.body and b'<label for="name">' in new.body
    zw = create(boss, {"name": "张伟", "phone": "+86 138-0013-8000", "email": "zhang.wei@example.com",
                       "address": "上海市浦东新区", "id_number": "310101199001011234"})
    create(boss, {"name": "李伟", "phone": "13900000001"})
    create(boss, {"name": "王芳", "kind": "enterprise"})
    page = boss.get("/customers/%s?client_id=%s&created=1" % (zw, A))
    assert page.status == 200, page
    assert "张伟" in page.text and "上海市浦东新区" in page.text and 'class="notice"' in page.text

    everyone = boss.get("/customers")
    assert sorted(names_listed(everyone)) == sorted(["张伟", "李伟", "王芳"])
    assert sorted(names_listed(boss.get("/customers?q=" + kh.quote("伟")))) == ["张伟", "李伟"]
    assert names_listed(boss.get("/customers?q=13800138000")) == ["张伟"]
    assert names_listed(boss.get("/customers?q=" + kh.quote("+86 138 0013 8000"))) == ["张伟"]
    assert names_listed(boss.get("/customers?q=" + kh.quote("zhang.wei@example.com"))) == ["张伟"]
    assert names_listed(boss.get("/customers?q=" + kh.quote("赵"))) == []

    # provider staff choose the client: a select of client organisations, then its customers
    chooser = admin.get("/customers")
    assert chooser.status == 200, chooser
    assert ('<option value="%s">客户公司A</option>' % A).encode() in chooser.body
    assert names_listed(chooser) == []
    assert sorted(names_listed(admin.get("/customers?client_id=%s" % A))) == sorted(["张伟", "李伟", "王芳"])

    # edit: every field sent, the address emptied (cleared), the name changed
    r = boss.form("/customers/%s?client_id=%s" % (zw, A), {
        "kind": "person", "name": "张伟明", "phone": "+86 138-0013-8000", "email": "zhang.wei@example.com",
        "address": "", "id_number": "310101199001011234"})
    assert location(r) == "/customers/%s?client_id=%s&saved=1" % (zw, A)
    got = boss.api("GET", "/api/v1/customers/%s" % zw).json
    assert got["name"] == "张伟明" and got["address"] is None and got["phone"] == "+86 138-0013-8000"
    assert "上海市浦东新区" not in boss.get("/customers/%s?client_id=%s" % (zw, A)).text

    # delete: a confirmation page, then the POST; back to the list with a notice
    confirm = boss.get("/customers/%s/delete?client_id=%s" % (zw, A))
    assert confirm.status == 200 and "张伟明" in confirm.text, confirm
    assert ('action="/customers/%s/delete?client_id=%s"' % (zw, A)).encode() in confirm.body
    assert boss.api("GET", "/api/v1/customers/%s" % zw).status == 200  # the GET deleted nothing
    loc = location(boss.form("/customers/%s/delete?client_id=%s" % (zw, A), {}))
    assert loc == "/customers?client_id=%s&deleted=1" % A
    listed = boss.get(loc)
    assert 'class="notice"' in listed.text and "张伟明" not in listed.text
    assert boss.get("/customers/%s?client_id=%s" % (zw, A)).status == 404


# --- consent (C7.2.1) ----------------------------------------------------------------------------------

def test_C7_2_1_consent_given_and_withdrawn_through_the_customer_page(site):
    srv, admin, boss, ids = site
    A = ids["A"]
    cid = create(boss, {"name": "刘洋"})
    base = "/customers/%s/consents?client_id=%s" % (cid, A)
    r = boss.form(base, {"purpose": "marketing", "third_party": "", "notice_version": "v2026.1", "channel": "web"})
    assert location(r) == "/customers/%s?client_id=%s&given=1#consents" % (cid, A)
    page = boss.get("/customers/%s?client_id=%s" % (cid, A))
    assert "营销推广" in page.text and "v2026.1" in page.text and "网页" in page.text
    assert ('action="/customers/%s/consents/withdraw?client_id=%s"' % (cid, A)).encode() in page.body

    # third-party sharing needs the third party: 422 beside the field, the input kept
    bad = boss.form(base, {"purpose": "third_party_sharing", "third_party": "", "notice_version": "v9",
                           "channel": "phone"})
    assert bad.status == 422, bad
    assert field_error(bad, "third_party") and b'value="v9"' in bad.body
    ok = boss.form(base, {"purpose": "third_party_sharing", "third_party": "顺丰速运", "notice_version": "v9",
                          "channel": "paper"})
    assert ok.status == 303, ok

    # withdrawing is one form per consent in force: purpose (+ third party) hidden, the channel chosen
    w = boss.form("/customers/%s/consents/withdraw?client_id=%s" % (cid, A),
                  {"purpose": "marketing", "third_party": "", "channel": "sms"})
    assert location(w) == "/customers/%s?client_id=%s&withdrawn=1#consents" % (cid, A)
    records = boss.api("GET", "/api/v1/customers/%s/consents" % cid).json["items"]
    marketing = [k for k in records if k["purpose"] == "marketing"][0]
    sharing = [k for k in records if k["purpose"] == "third_party_sharing"][0]
    assert marketing["withdrawn_at"] and marketing["withdrawn_channel"] == "sms"
    assert sharing["withdrawn_at"] is None and sharing["third_party"] == "顺丰速运"
    page = boss.get("/customers/%s?client_id=%s" % (cid, A))
    assert "短信" in page.text and "顺丰速运" in page.text
    assert page.text.count('name="purpose" value=') == 1  # only the sharing consent can still be withdrawn
    # a second click: nothing in force any more — the page says so, never a 500
    again = boss.form("/customers/%s/consents/withdraw?client_id=%s" % (cid, A),
                      {"purpose": "marketing", "channel": "sms"})
    assert again.status == 409 and 'class="alert"' in again.text, again


# --- bad input on every form ------------------------------------------------------------------------------

def test_bad_input_on_every_form_and_another_tenants_ids(site):
    srv, admin, boss, ids = site
    A, B, cb = ids["A"], ids["B"], ids["customerB"]
    # create: empty name, too long, wrong type (a repeated field), unknown kind — 422 beside the field
    for fields, field in (({"name": ""}, "name"), ({"name": "长" * 200}, "name"),
                          ([("name", "甲"), ("name", "乙")], "name"), ({"name": "甲", "kind": "robot"}, "kind"),
                          ({"name": "甲", "phone": "x" * 401}, "phone"), ({"name": "甲", "email": "no-at-sign"}, "email")):
        r = boss.form("/customers", fields)
        assert r.status == 422 and field_error(r, field), (fields, r)
    # the input is kept
    r = boss.form("/customers", {"name": "", "address": "杭州市西湖区"})
    assert "杭州市西湖区" in r.text
    # duplicate submission: two customers are acceptable, a 500 is not
    body = {"name": "重复提交", "phone": "13700000000"}
    assert boss.form("/customers", body).status == 303
    assert boss.form("/customers", body).status == 303
    # no or a wrong anti-forgery token: 403, nothing made
    assert boss.form("/customers", {"name": "无令牌"}, csrf=False).status == 403
    assert boss.form("/customers", {"name": "错令牌"}, csrf="x" * 43).status == 403
    assert names_listed(boss.get("/customers?q=" + kh.quote("令牌"))) == []
    # a client user cannot create for another client
    r = boss.form("/customers", {"client_id": B, "name": "越界"})
    assert r.status == 404 and b"\xe8\xb6\x8a\xe7\x95\x8c" not in r.body

    mine = create(boss, {"name": "赵敏"})
    upd = "/customers/%s?client_id=%s" % (mine, A)
    for fields, field in (({"name": ""}, "name"), ({"name": "长" * 200}, "name"),
                          ([("name", "甲"), ("name", "乙")], "name"), ({"kind": "robot"}, "kind")):
        r = boss.form(upd, fields)
        assert r.status == 422 and field_error(r, field), (fields, r)
    assert boss.form(upd, {"name": "改名"}, csrf=False).status == 403
    assert boss.api("GET", "/api/v1/customers/%s" % mine).json["name"] == "赵敏"

    # another tenant's customer: 404 everywhere, not a byte of its name
    for path in ("/customers/%s?client_id=%s" % (cb, B), "/customers/%s?client_id=%s" % (cb, A),
                 "/customers/%s/delete?client_id=%s" % (cb, B), "/customers?client_id=%s" % B,
                 "/customers/%s" % cb, "/customers/abc?client_id=%s" % A, "/customers/new?client_id=%s" % B):
        r = boss.get(path)
        assert r.status == 404, (path, r)
        assert SECRET_B.encode() not in r.body, path
    for path, fields in (("/customers/%s?client_id=%s" % (cb, B), {"name": "篡改"}),
                         ("/customers/%s?client_id=%s" % (cb, A), {"name": "篡改"}),
                         ("/customers/%s/delete?client_id=%s" % (cb, B), {}),
                         ("/customers/%s/consents?client_id=%s" % (cb, B),
                          {"purpose": "marketing", "notice_version": "v1", "channel": "phone"}),
                         ("/customers/%s/consents/withdraw?client_id=%s" % (cb, B),
                          {"purpose": "marketing", "channel": "phone"})):
        r = boss.form(path, fields)
        assert r.status == 404, (path, r)
        assert SECRET_B.encode() not in r.body, path
    still = admin.api("GET", "/api/v1/customers/%s?client_id=%s" % (cb, B))
    assert still.status == 200 and still.json["name"] == SECRET_B

    # consent forms: unknown purpose, missing notice version, unknown channel, too long third party
    give = "/customers/%s/consents?client_id=%s" % (mine, A)
    for fields, field in (({"purpose": "spying", "notice_version": "v1", "channel": "phone"}, "purpose"),
                          ({"purpose": "marketing", "channel": "phone"}, "notice_version"),
                          ({"purpose": "marketing", "notice_version": "v1", "channel": "pigeon"}, "channel"),
                          ({"purpose": "third_party_sharing", "third_party": "方" * 200, "notice_version": "v1",
                            "channel": "phone"}, "third_party"),
                          ([("purpose", "marketing"), ("purpose", "marketing"), ("notice_version", "v1"),
                            ("channel", "phone")], "purpose")):
        r = boss.form(give, fields)
        assert r.status == 422 and field_error(r, field), (fields, r)
    assert boss.form(give, {"purpose": "marketing", "notice_version": "v1", "channel": "phone"},
                     csrf=False).status == 403
    w = boss.form("/customers/%s/consents/withdraw?client_id=%s" % (mine, A), {"purpose": "marketing"})
    assert w.status in (409, 422) and 'class="alert"' in w.text, w
    # search: too long
    r = boss.get("/customers?q=" + "9" * 401)
    assert r.status == 422 and field_error(r, "q"), r
    # a forged list cursor: the page with an error
    r = boss.get("/customers?after=xyz")
    assert r.status == 422 and 'class="alert"' in r.text, r


# --- the audit trail (C7.1.1) -----------------------------------------------------------------------------

def audit_rows(r):
    """(chain, seq) of each record row of an audit page."""
    return [(int(c), int(s)) for c, s in re.findall(r"<td>(\d+)#(\d+)<br>", r.text)]


def next_link(r):
    m = re.search(r'<a href="(/audit\?[^"]*)" rel="next">', r.text)
    return m.group(1).replace("&amp;", "&") if m else None


def test_C7_1_1_audit_pages_filters_paging_and_no_personal_values(site):
    srv, admin, boss, ids = site
    A, B = ids["A"], ids["B"]
    made = [create(boss, {"name": "审计顾客%02d" % i, "phone": "1380000%04d" % i}) for i in range(55)]
    boss.get("/customers/%s?client_id=%s" % (made[0], A))  # a read: audited too

    # every record of A's chain once across the pages, as the JSON API lists them
    want = set()
    cursor = ""
    while True:
        j = boss.api("GET", "/api/v1/audit?limit=500" + cursor).json
        want |= {(int(x["chain"]), x["seq"]) for x in j["items"]}
        if not j["next"]:
            break
        cursor = "&after=" + j["next"]
    assert len(want) > 50  # more than one page
    seen, path, pages = [], "/audit", 0
    while path:
        r = boss.get(path)
        assert r.status == 200, r
        assert "审计顾客" not in r.text and "1380000" not in r.text  # names and phones never shown
        seen += audit_rows(r)
        path, pages = next_link(r), pages + 1
    assert pages >= 2 and len(seen) == len(set(seen)) and set(seen) == want
    assert all(c == int(A) for c, _ in seen)
    assert b'name="client_id"' not in boss.get("/audit").body  # a client user chooses no chain

    # filter by object: only that customer's records, linked to the customer
    r = boss.get("/audit?object_type=customer&object_id=%s" % made[0])
    assert r.status == 200 and len(audit_rows(r)) >= 2, r
    assert r.text.count('href="/customers/%s?client_id=%s"' % (made[0], A)) == len(audit_rows(r))
    # filter by actor: the records boss-A made
    me = boss.api("GET", "/api/v1/auth/me").json["user"]["id"]
    assert len(audit_rows(boss.get("/audit?actor_id=%s" % me))) > 0
    # dates in the viewer's zone (Asia/Shanghai): today holds them all, tomorrow none
    today = datetime.datetime.fromtimestamp(srv.clock_now() / 1000, ZoneInfo("Asia/Shanghai")).date()
    tomorrow, yesterday = today + datetime.timedelta(days=1), today - datetime.timedelta(days=1)
    r = boss.get("/audit?from=%s&to=%s" % (today, today))
    assert r.status == 200 and len(audit_rows(r)) == 50, r
    assert audit_rows(boss.get("/audit?from=%s" % tomorrow)) == []
    assert audit_rows(boss.get("/audit?to=%s" % yesterday)) == []
    assert len(audit_rows(boss.get("/audit?from=%sT00:00&to=%s" % (today, today)))) == 50
    # bad filters: the page again with the error beside the field, never a 500
    for query, field in (("from=2026-02-30", "from"), ("to=yesterday", "to"),
                         ("from=%s&to=%s" % (today, yesterday), "to"), ("actor_id=abc", "actor_id"),
                         ("object_type=customer", "object_id"), ("object_id=5", "object_type")):
        r = boss.get("/audit?" + query)
        assert r.status == 422 and field_error(r, field), (query, r)
    for forged in ("abc", "1.x", "-5.1", ".", "99999999999999999999.1"):
        r = boss.get("/audit?after=" + kh.quote(forged))
        assert r.status == 422 and 'class="alert"' in r.text, (forged, r)
    # another client's chain, the provider's, or all: 404 for a client user
    for chain in (B, "0", "all"):
        r = boss.get("/audit?client_id=%s" % chain)
        assert r.status == 404, (chain, r)
        assert "客户公司B" not in r.text

    # provider staff: every chain by default, a select of chains, and no customer values either
    r = admin.get("/audit")
    assert r.status == 200 and b'<option value="all" selected>' in r.body, r
    assert ('<option value="%s">客户公司A</option>' % A).encode() in r.body
    assert "审计顾客" not in r.text and SECRET_B not in r.text and "1380000" not in r.text
    r = admin.get("/audit?client_id=%s" % B)
    assert r.status == 200 and all(c == int(B) for c, _ in audit_rows(r)), r


# --- hostile text -------------------------------------------------------------------------------------

def test_hostile_names_and_addresses_render_escaped_on_every_page(site):
    srv, admin, boss, ids = site
    A = ids["A"]
    evil = "<script>alert(1)</script>"
    cid = create(boss, {"name": evil, "address": "javascript:alert(1)", "email": "x@example.com"})
    pages = ["/customers", "/customers?q=" + kh.quote("alert"), "/customers?q=" + kh.quote("x@example.com"),
             "/customers/%s?client_id=%s" % (cid, A), "/customers/%s/delete?client_id=%s" % (cid, A), "/audit"]
    for path in pages:
        r = boss.get(path)
        assert r.status == 200, (path, r)
        assert evil.encode() not in r.body, path
        assert b'href="javascript:' not in r.body and b"src=\"javascript:" not in r.body, path
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in boss.get("/customers/%s?client_id=%s" % (cid, A)).body
    # a form shown again after an error keeps the hostile input, escaped
    r = boss.form("/customers", {"name": evil, "phone": "x" * 401})
    assert r.status == 422 and evil.encode() not in r.body and b"&lt;script&gt;" in r.body
    r = boss.form("/customers/%s/consents?client_id=%s" % (cid, A),
                  {"purpose": "third_party_sharing", "third_party": "", "notice_version": evil, "channel": "web"})
    assert r.status == 422 and evil.encode() not in r.body
