"""The agreement pages (issue 5 item 8) on both engines: a draft made through the form with personalised
targets (C2.2.2) and fees typed in yuan, its page with the terms rendered from Markdown (C1.3.2), both
signatures through their confirmation pages and activation with a contract number (C1.1, C1.3.1),
attachments (C1.3.2), dissolution with its grounds and the mutual consent of both parties (C10.2.1),
read-only access and the JSON export after the end with its disclosure in the audit trail (C10.3.2), the
list's status and expiry filters and keyset cursor — and the bad input of every form: missing or wrong
anti-forgery token, term 0 or 100, an unknown service, negative or garbage money, oversized terms,
another client's agreement, another client's admin signing, signing twice, dissolution without a
ground, a duplicate submission."""
import re
import urllib.parse

import pytest

import kefu_http as kh
from conftest import key_file_for, run_kefu
from matrix_admin import Multipart, png

PASSWORD = "蓝色的海边-灯塔-2026"
DAY_MS = 24 * 3600 * 1000


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
        if csrf is True:
            pairs.append(("csrf", self.csrf))
        elif csrf:
            pairs.append(("csrf", csrf))
        return self.srv.request("POST", path, body=urllib.parse.urlencode(pairs).encode(),
                                headers={"Cookie": self.cookie, "Content-Type": "application/x-www-form-urlencoded"})

    def upload(self, path, filename, data, ctype="image/png"):
        m = Multipart({"csrf": self.csrf}, {"file": (filename, data, ctype)})
        ct, body = m.multipart
        return self.srv.request("POST", path, body=body, headers={"Cookie": self.cookie, "Content-Type": ct})

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
        o = admin.api("POST", "/api/v1/orgs", {"name": "合同客户公司" + tag})
        assert o.status == 201, o
        ids[tag] = o.json["id"]
        for role, name in (("client_admin", "boss-" + tag), ("client_staff", "staff-" + tag)):
            u = admin.api("POST", "/api/v1/users", {"client_id": ids[tag], "username": name, "password": PASSWORD,
                                                    "roles": [role]})
            assert u.status == 201, u
    for role in ("account_manager", "agent"):
        u = admin.api("POST", "/api/v1/users", {"client_id": "0", "username": "p-" + role, "password": PASSWORD,
                                                "roles": [role]})
        assert u.status == 201, u
    people = {name: Browser(srv, name) for name in ("boss-A", "boss-B", "staff-A", "p-account_manager", "p-agent")}
    people["admin"] = admin
    return srv, people, ids


def draft_fields(cid, **over):
    f = [("client_id", cid), ("term_years", "1"), ("notice_days", "30"), ("acceptance_by", "client"),
         ("acceptance_days", "5"), ("reminder_days", "30"), ("calendar_zone", "Asia/Shanghai"),
         ("number_pattern", "KF-{yyyy}-{seq:4}"), ("supplementary_terms", "## 补充条款\n\n未尽事宜按**行业惯例**执行。"),
         ("services", "technical_support"), ("t_technical_support_p1_fr", "15"), ("t_technical_support_p1_res", "120"),
         ("fee_technical_support_fixed_month", "8,000.00"), ("fee_technical_support_per_visit", "600.5"),
         ("services", "consulting")]
    out = [(k, v) for k, v in f if k not in over]
    for k, v in over.items():
        if v is None:
            continue
        if isinstance(v, list):
            out += [(k, x) for x in v]
        else:
            out.append((k, v))
    return out


def location(r):
    assert r.status == 303, r
    return r.header("Location")


def agreement_id(loc):
    m = re.match(r"/agreements/(\d+)\?client_id=(\d+)", loc)
    assert m, loc
    return m.group(1)


def count(people, ids, tag="A"):
    r = people["admin"].api("GET", "/api/v1/agreements?client_id=%s&limit=200" % ids[tag])
    assert r.status == 200, r
    return len(r.json["items"])


def make_draft(people, ids, tag="A"):
    return agreement_id(location(people["p-account_manager"].form("/agreements", draft_fields(ids[tag]))))


def make_active(people, ids):
    aid = make_draft(people, ids)
    A = ids["A"]
    location(people["p-account_manager"].form("/agreements/%s/sign-provider?client_id=%s" % (aid, A), {}))
    location(people["boss-A"].form("/agreements/%s/sign-client" % aid, {}))
    return aid


def field_error(r, field):
    assert r.status == 422, r
    body = r.text
    assert 'id="%s-error"' % field in body or ('name="%s"' % field in body and 'aria-invalid="true"' in body), \
        (field, body[:3000])
    assert 'role="alert"' in body


# --- the life of an agreement through the pages ------------------------------------------------------

def test_C1_1_C1_3_1_C2_2_2_draft_by_form_signed_by_both_parties_becomes_active(site):
    srv, people, ids = site
    am, boss = people["p-account_manager"], people["boss-A"]
    A = ids["A"]
    new = am.get("/agreements/new")
    assert new.status == 200, new
    assert 'name="services" value="technical_support"' in new.text and "技术支持" in new.text
    assert 'value="8000.00"' in new.text  # the catalogue's standard fee, ready to keep or change
    loc = location(am.form("/agreements", draft_fields(A)))
    aid = agreement_id(loc)
    page = am.get(loc)
    assert page.status == 200, page
    body = page.text
    assert "DRAFT-%s" % aid in body and "草稿" in body
    assert "<h2>补充条款</h2>" in body and "<strong>行业惯例</strong>" in body  # Markdown rendered (C1.3.2)
    assert "¥8,000.00" in body and "¥600.50" in body  # fees parsed from yuan, shown as money
    assert "个性化" in body and "15 分钟" in body and "120 分钟" in body  # P1 personalised (C2.2.2)
    assert 'href="/agreements/%s/sign-provider?client_id=%s"' % (aid, A) in body
    g = am.api("GET", "/api/v1/agreements/%s?client_id=%s" % (aid, A)).json
    support = [s for s in g["services"] if s["kind"] == "technical_support"][0]
    assert {f["kind"]: f["amount_fen"] for f in support["fees"]} == {"fixed_month": 800000, "per_visit": 60050}
    assert support["personal_targets"]["P1"] == {"first_response": 15, "resolution": 120}
    consulting = [s for s in g["services"] if s["kind"] == "consulting"][0]
    assert consulting["fees"] == [{"kind": "per_hour", "amount_fen": 50000}]  # the catalogue's, copied
    # the edit form shows the stored values; a change is saved
    edit = am.get("/agreements/%s/edit?client_id=%s" % (aid, A))
    assert edit.status == 200 and 'value="8000.00"' in edit.text and 'value="15"' in edit.text, edit
    location(am.form("/agreements/%s/edit?client_id=%s" % (aid, A), draft_fields(A, term_years="2", client_id=None)))
    assert am.api("GET", "/api/v1/agreements/%s?client_id=%s" % (aid, A)).json["term_years"] == 2
    # party A: the confirmation page shows what is signed, then the signature
    conf = am.get("/agreements/%s/sign-provider?client_id=%s" % (aid, A))
    assert conf.status == 200 and "确认签署(甲方)" in conf.text and "¥8,000.00" in conf.text, conf
    assert "signed=1" in location(am.form("/agreements/%s/sign-provider?client_id=%s" % (aid, A), {}))
    # signing twice shows the conflict on the page
    again = am.form("/agreements/%s/sign-provider?client_id=%s" % (aid, A), {})
    assert again.status == 409 and "无法签署" in again.text, again
    # the draft can no longer be edited
    assert am.form("/agreements/%s/edit?client_id=%s" % (aid, A), draft_fields(A, client_id=None)).status == 409
    # party B: its admin signs through its own page (no client_id needed)
    conf = boss.get("/agreements/%s/sign-client" % aid)
    assert conf.status == 200 and "确认签署(乙方)" in conf.text, conf
    assert people["staff-A"].form("/agreements/%s/sign-client" % aid, {}).status == 403  # staff may not sign
    location(boss.form("/agreements/%s/sign-client" % aid, {}))
    page = boss.get("/agreements/%s" % aid).text
    assert "生效中" in page and re.search(r"KF-20\d\d-0001", page), page[:2000]
    assert "/sign-client" not in page and "/edit?" not in page
    twice = boss.form("/agreements/%s/sign-client" % aid, {})
    assert twice.status == 409 and "无法签署" in twice.text, twice
    # the history from the audit trail (client admins read their client's trail)
    assert "乙方签署" in page and "甲方签署" in page and "起草" in page
    en = boss.get("/agreements/%s?lang=en" % aid).text
    assert "Active" in en and "CN¥8,000.00" in en


def test_C1_1_bad_input_of_the_draft_form_is_refused_beside_the_field_and_changes_nothing(site):
    srv, people, ids = site
    am = people["p-account_manager"]
    A = ids["A"]
    before = count(people, ids)
    # anti-forgery token: missing or wrong
    assert am.form("/agreements", draft_fields(A), csrf=False).status == 403
    assert am.form("/agreements", draft_fields(A), csrf="0" * 43).status == 403
    field_error(am.form("/agreements", draft_fields(A, term_years="0")), "term_years")
    field_error(am.form("/agreements", draft_fields(A, term_years="100")), "term_years")
    field_error(am.form("/agreements", draft_fields(A, term_years="three")), "term_years")
    r = am.form("/agreements", draft_fields(A, term_years="100"))
    assert 'value="100"' in r.text and "## 补充条款" in r.text  # the input is kept
    field_error(am.form("/agreements", draft_fields(A, services=["technical_support", "no_such_service"])), "services")
    field_error(am.form("/agreements", [kv for kv in draft_fields(A) if kv[0] != "services"]), "services")
    for bad in ("-1", "-0.01", "abc", "1.234", "8000元", "1e5"):
        field_error(am.form("/agreements", draft_fields(A, fee_technical_support_fixed_month=bad)),
                    "fee_technical_support_fixed_month")
    field_error(am.form("/agreements", draft_fields(A, t_technical_support_p1_fr="soon")), "t_technical_support_p1_fr")
    field_error(am.form("/agreements", draft_fields(A, t_technical_support_p1_fr="500")), "services")  # > resolution
    field_error(am.form("/agreements", draft_fields(A, number_pattern="NO-SEQ")), "number_pattern")
    field_error(am.form("/agreements", draft_fields(A, calendar_zone="Mars/Olympus")), "calendar_zone")
    field_error(am.form("/agreements", draft_fields(A, client_id="")), "client_id")
    field_error(am.form("/agreements", draft_fields(A, client_id="999999999")), "client_id")
    # oversized terms: past the form field's and the domain's 64 KiB
    big = am.form("/agreements", draft_fields(A, supplementary_terms="条" * 30000))
    assert big.status in (413, 422), big
    assert count(people, ids) == before
    # a client user and an agent may not draft at all
    assert people["boss-A"].form("/agreements", draft_fields(A)).status == 403
    assert people["p-agent"].get("/agreements/new").status == 403
    assert count(people, ids) == before


def test_C5_2_another_clients_agreement_is_404_without_a_byte_of_it(site):
    srv, people, ids = site
    aid = make_draft(people, ids, "A")
    A, B = ids["A"], ids["B"]
    location(people["p-account_manager"].form("/agreements/%s/sign-provider?client_id=%s" % (aid, A), {}))
    outsider = people["boss-B"]
    for path in ("/agreements/%s" % aid, "/agreements/%s?client_id=%s" % (aid, A), "/agreements/%s?client_id=%s" % (aid, B),
                 "/agreements/%s/sign-client?client_id=%s" % (aid, A), "/agreements/%s/dissolve" % aid,
                 "/api/v1/agreements/%s/export?client_id=%s" % (aid, A)):
        r = outsider.get(path)
        assert r.status == 404, (path, r)
        assert "合同客户公司A".encode() not in r.body and ("DRAFT-%s" % aid).encode() not in r.body, path
    # client B's admin signing client A's agreement: not found, and nothing changes
    for path in ("/agreements/%s/sign-client" % aid, "/agreements/%s/sign-client?client_id=%s" % (aid, A)):
        r = outsider.form(path, {})
        assert r.status == 404 and "合同客户公司A".encode() not in r.body, r
    assert people["admin"].api("GET", "/api/v1/agreements/%s?client_id=%s" % (aid, A)).json["status"] == "provider_signed"
    # the list: client users see their own only
    lst = outsider.get("/agreements").text
    assert "DRAFT-%s" % aid not in lst and "合同客户公司A" not in lst
    assert "DRAFT-%s" % aid in people["staff-A"].get("/agreements").text


# --- attachments and dissolution ----------------------------------------------------------------------

def test_C1_3_2_C10_2_1_attachments_as_evidence_and_a_material_breach(site):
    srv, people, ids = site
    aid = make_active(people, ids)
    boss = people["boss-A"]
    picture = png(3, 2, seed=11)
    loc = location(boss.upload("/agreements/%s/files" % aid, "违约证据.png", picture))
    assert "uploaded=1" in loc
    page = boss.get("/agreements/%s" % aid).text
    m = re.search(r'<a href="/files/(\d+)\?client_id=%s" download>违约证据.png</a>' % ids["A"], page)
    assert m, page
    fid = m.group(1)
    dl = boss.get("/files/%s?client_id=%s" % (fid, ids["A"]))
    assert dl.status == 200 and dl.body == picture and "attachment" in dl.header("Content-Disposition"), dl
    assert people["boss-B"].get("/files/%s?client_id=%s" % (fid, ids["A"])).status == 404
    assert people["staff-A"].upload("/agreements/%s/files" % aid, "x.png", picture).status == 403
    # an executable is refused beside the file field, nothing stored
    bad = boss.upload("/agreements/%s/files" % aid, "photo.png", b"\x7fELF" + b"\0" * 200, "image/png")
    assert bad.status == 415 and 'id="file-error"' in bad.text, bad
    # the dissolution form offers the file as evidence; without a ground it is refused
    form = boss.get("/agreements/%s/dissolve" % aid)
    assert form.status == 200 and 'name="evidence" value="%s"' % fid in form.text and "严重违约" in form.text, form
    field_error(boss.form("/agreements/%s/dissolve" % aid, {"evidence": fid}), "ground")
    field_error(boss.form("/agreements/%s/dissolve" % aid, {"ground": "bored"}), "ground")
    field_error(boss.form("/agreements/%s/dissolve" % aid, {"ground": "material_breach", "effective_date": "2020-01-01"}),
                "effective_date")
    field_error(boss.form("/agreements/%s/dissolve" % aid, {"ground": "material_breach", "effective_date": "2026-02-30"}),
                "effective_date")
    r = boss.form("/agreements/%s/dissolve" % aid, {"ground": "material_breach", "evidence": "123"})
    assert r.status == 422, r
    assert people["staff-A"].form("/agreements/%s/dissolve" % aid, {"ground": "material_breach"}).status == 403
    assert people["admin"].api("GET", "/api/v1/agreements/%s?client_id=%s" % (aid, ids["A"])).json["status"] == "active"
    loc = location(boss.form("/agreements/%s/dissolve" % aid, {"ground": "material_breach", "evidence": fid}))
    assert "dissolved=1" in loc
    page = boss.get("/agreements/%s" % aid).text
    assert "已解除" in page and "严重违约" in page and "违约证据.png" in page
    # a duplicate submission changes nothing more
    again = boss.form("/agreements/%s/dissolve" % aid, {"ground": "material_breach", "evidence": fid})
    assert again.status == 409 and "无法解除" in again.text, again


def test_C10_2_1_mutual_consent_needs_both_parties_one_party_alone_stays_active(site):
    srv, people, ids = site
    aid = make_active(people, ids)
    A = ids["A"]
    am, boss = people["p-account_manager"], people["boss-A"]
    loc = location(am.form("/agreements/%s/dissolve?client_id=%s" % (aid, A), {"ground": "mutual_consent"}))
    assert "confirmed=1" in loc
    g = am.api("GET", "/api/v1/agreements/%s?client_id=%s" % (aid, A)).json
    assert g["status"] == "active" and g["dissolution"]["provider_confirmed_at"] and not g["dissolution"]["client_confirmed_at"]
    page = am.get(loc).text
    assert "等待另一方确认" in page
    # the same party again, or another ground, is refused on the page
    again = am.form("/agreements/%s/dissolve?client_id=%s" % (aid, A), {"ground": "mutual_consent"})
    assert again.status == 409 and "无法解除" in again.text, again
    assert am.get("/agreements/%s/dissolve?client_id=%s" % (aid, A)).text.count('name="ground"') == 0
    # the client's admin sees the confirmation and confirms
    conf = boss.get("/agreements/%s/dissolve" % aid)
    assert conf.status == 200 and "确认解除" in conf.text and 'value="mutual_consent"' in conf.text, conf
    assert "确认协商一致解除" in boss.get("/agreements/%s" % aid).text
    location(boss.form("/agreements/%s/dissolve" % aid, {"ground": "mutual_consent"}))
    assert am.api("GET", "/api/v1/agreements/%s?client_id=%s" % (aid, A)).json["status"] == "dissolved"


# --- after the end --------------------------------------------------------------------------------------

def test_C10_3_2_after_dissolution_read_only_pages_and_an_audited_export(site):
    srv, people, ids = site
    aid = make_active(people, ids)
    A = ids["A"]
    boss, staff = people["boss-A"], people["staff-A"]
    location(boss.upload("/agreements/%s/files" % aid, "签署扫描件.png", png(2, 2, seed=3)))
    location(boss.form("/agreements/%s/dissolve" % aid, {"ground": "force_majeure"}))
    page = staff.get("/agreements/%s" % aid)
    assert page.status == 200, page
    body = page.text
    assert "只读" in body and "/export?client_id=%s" % A in body
    for action in ("/edit?", "/sign-provider?", "/sign-client?", 'href="/agreements/%s/dissolve' % aid):
        assert action not in body, action
    # the API refuses changes of an ended agreement
    am = people["p-account_manager"]
    assert am.form("/agreements/%s/sign-provider?client_id=%s" % (aid, A), {}).status == 409
    assert am.form("/agreements/%s/edit?client_id=%s" % (aid, A), draft_fields(A, client_id=None)).status == 409
    assert boss.form("/agreements/%s/dissolve" % aid, {"ground": "material_breach"}).status == 409
    assert "只有生效中的合同可以解除" in boss.get("/agreements/%s/dissolve" % aid).text
    # the export: agreement, services, fees, file metadata — as a download, the disclosure audited
    ex = staff.get("/api/v1/agreements/%s/export" % aid)
    assert ex.status == 200, ex
    assert "attachment" in (ex.header("Content-Disposition") or "")
    assert ex.json["agreement"]["status"] == "dissolved" and ex.json["agreement"]["id"] == aid
    assert {s["kind"] for s in ex.json["services"]} == {"technical_support", "consulting"}
    assert {"service": "technical_support", "kind": "fixed_month", "amount_fen": 800000} in ex.json["fees"]
    assert [f["name"] for f in ex.json["files"]] == ["签署扫描件.png"] and len(ex.json["files"][0]["sha256"]) == 64
    trail = people["admin"].api("GET", "/api/v1/audit?client_id=%s&object_type=agreement&object_id=%s" % (A, aid))
    assert trail.status == 200, trail
    exports = [x for x in trail.json["items"] if x["action"] == "agreement.export"]
    assert len(exports) == 1 and exports[0]["changes"]["file_ids"] == [ex.json["files"][0]["id"]], exports
    assert people["boss-B"].get("/api/v1/agreements/%s/export?client_id=%s" % (aid, A)).status == 404


# --- the list ---------------------------------------------------------------------------------------------

def test_C10_1_1_list_filters_by_status_and_expiry_and_refuses_a_forged_cursor(site):
    srv, people, ids = site
    active = make_active(people, ids)
    draft = make_draft(people, ids)
    am = people["p-account_manager"]
    lst = am.get("/agreements")
    assert lst.status == 200 and "DRAFT-%s" % draft in lst.text and re.search(r"KF-20\d\d-0001", lst.text), lst
    assert "合同客户公司A" in lst.text
    only = am.get("/agreements?status=draft").text
    assert "DRAFT-%s" % draft in only and "KF-" not in only.split("<tbody>")[1]
    # a one-year term: not expiring within 90 days now …
    assert "<tbody>" not in am.get("/agreements?expiring=90").text
    # … but within 30 days once 340 days have passed
    r = srv.post("/api/v1/test/clock", json={"advance_ms": 340 * DAY_MS})
    assert r.status in (200, 204), r
    am = Browser(srv, "p-account_manager")  # the session did not live through 340 days
    soon = am.get("/agreements?expiring=30").text
    assert re.search(r"KF-20\d\d-0001", soon) and "DRAFT-%s" % draft not in soon
    assert "<tbody>" not in am.get("/agreements?expiring=30&status=draft").text
    # the client filter and keyset pages
    assert "<tbody>" not in am.get("/agreements?client_id=%s" % ids["B"]).text
    b = agreement_id(location(am.form("/agreements", draft_fields(ids["B"]))))
    assert "DRAFT-%s" % b in am.get("/agreements?client_id=%s" % ids["B"]).text
    assert "DRAFT-%s" % b not in am.get("/agreements?client_id=%s" % ids["A"]).text
    # keyset: after an id, only older ones
    older = am.get("/agreements?after=%s" % b).text
    assert "DRAFT-%s" % b not in older and "DRAFT-%s" % draft in older
    # bad filters and a forged cursor are said on the page
    for q, field in (("status=bogus", "status"), ("expiring=7x", "expiring"), ("expiring=999", "expiring")):
        r = am.get("/agreements?" + q)
        assert r.status == 422 and 'id="%s-error"' % field in r.text, (q, r)
    forged = am.get("/agreements?after=abc")
    assert forged.status == 422 and "翻页位置无效" in forged.text, forged
