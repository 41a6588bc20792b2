"""The agreement pages, second round, on both engines: the business calendar on the draft form, kept when a
draft is edited through the page (C3.1.1); service changes proposed, listed and withdrawn through the pages
with the notice period checked beside the date field and the terms in force at a chosen date (C8.1.1); the
agreement's formal notices on its page and the notice form preselecting it (C11.1.1) — with each form's bad
input: missing or wrong anti-forgery token, a malformed date, a date inside the notice period, another
client's agreement (404 with no byte of it), a client user posting the change form (403), a form sent twice."""
import datetime
import re
from zoneinfo import ZoneInfo

import pytest

from test_pages_agreements import DAY_MS, Browser, agreement_id, draft_fields, field_error, location, make_active, make_draft
from test_pages_agreements import site  # noqa: F401  (the fixture)

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(ms):
    """UTC ms as the datetime-local value of the change form, in the agreement's zone."""
    return datetime.datetime.fromtimestamp(ms / 1000, tz=SHANGHAI).strftime("%Y-%m-%dT%H:%M")


def local_day(ms):
    return datetime.datetime.fromtimestamp(ms / 1000, tz=SHANGHAI).strftime("%Y-%m-%d")


def change_fields(srv, days=31, **over):
    f = {"summary": "技术支持P1首次响应缩短为10分钟", "effective_at": local(srv.clock_now() + days * DAY_MS),
         "calendar_id": "", "services": "technical_support", "t_technical_support_p1_fr": "10",
         "t_technical_support_p1_res": "120", "fee_technical_support_fixed_month": "9000.00"}
    f.update(over)
    return [(k, v) for k, v in f.items() if v is not None]


def changes(people, aid, cid):
    r = people["admin"].api("GET", "/api/v1/agreements/%s/changes?client_id=%s" % (aid, cid))
    assert r.status == 200, r
    return r.json["items"]


def notices_of(people, aid, cid):
    r = people["admin"].api("GET", "/api/v1/notices?client_id=%s&agreement_id=%s" % (cid, aid))
    assert r.status == 200, r
    return r.json["items"]


# --- the calendar on the draft form (C3.1.1) ------------------------------------------------------------

def test_C3_1_1_draft_form_chooses_a_calendar_and_editing_the_draft_keeps_it(site):
    srv, people, ids = site
    am, A = people["p-account_manager"], ids["A"]
    c = people["admin"].api("POST", "/api/v1/calendars", {"name": "华南服务中心", "zone": "Asia/Shanghai"})
    assert c.status == 201, c
    cal = c.json["id"]
    new = am.get("/agreements/new")
    assert new.status == 200 and 'name="calendar_id"' in new.text and "华南服务中心" in new.text, new
    aid = agreement_id(location(am.form("/agreements", draft_fields(A, calendar_id=cal))))
    assert am.api("GET", "/api/v1/agreements/%s?client_id=%s" % (aid, A)).json["calendar_id"] == cal
    page = am.get("/agreements/%s?client_id=%s" % (aid, A)).text
    assert 'href="/calendars/%s"' % cal in page and "华南服务中心" in page
    # the edit form shows it selected; saving the form as shown keeps it (it used to reset to the default)
    edit = am.get("/agreements/%s/edit?client_id=%s" % (aid, A)).text
    assert re.search(r'<option value="%s" selected>' % cal, edit), edit[:3000]
    location(am.form("/agreements/%s/edit?client_id=%s" % (aid, A),
                     draft_fields(A, client_id=None, term_years="2", calendar_id=cal)))
    g = am.api("GET", "/api/v1/agreements/%s?client_id=%s" % (aid, A)).json
    assert g["calendar_id"] == cal and g["term_years"] == 2
    # a calendar that does not exist is refused beside the select and changes nothing; the choice is kept
    r = am.form("/agreements/%s/edit?client_id=%s" % (aid, A), draft_fields(A, client_id=None, calendar_id="999999"))
    field_error(r, "calendar_id")
    r = am.form("/agreements/%s/edit?client_id=%s" % (aid, A), draft_fields(A, client_id=None, calendar_id="x1"))
    field_error(r, "calendar_id")
    assert am.api("GET", "/api/v1/agreements/%s?client_id=%s" % (aid, A)).json["calendar_id"] == cal
    # another field refused: the chosen calendar is kept on the form shown again
    r = am.form("/agreements", draft_fields(A, calendar_id=cal, term_years="0"))
    field_error(r, "term_years")
    assert re.search(r'<option value="%s" selected>' % cal, r.text), r.text[:3000]
    # the default calendar stays implicit (no explicit calendar written)
    plain = agreement_id(location(am.form("/agreements", draft_fields(A, calendar_id=""))))
    assert am.api("GET", "/api/v1/agreements/%s?client_id=%s" % (plain, A)).json["calendar_id"] is None


# --- service changes through the pages (C8.1.1) -----------------------------------------------------------

def test_C8_1_1_change_proposed_by_form_is_listed_with_its_notice_and_withdrawn(site):
    srv, people, ids = site
    am, boss, A = people["p-account_manager"], people["boss-A"], ids["A"]
    aid = make_active(people, ids)
    page = am.get("/agreements/%s?client_id=%s" % (aid, A)).text
    assert "服务变更" in page and "尚无服务变更" in page
    assert 'href="/agreements/%s/changes/new?client_id=%s"' % (aid, A) in page
    form = am.get("/agreements/%s/changes/new?client_id=%s" % (aid, A))
    assert form.status == 200, form
    # the services editor of the draft form, from the terms in force now, and the earliest date allowed
    assert 'name="services" value="technical_support" checked' in form.text and 'value="8000.00"' in form.text
    assert "最早可生效时间" in form.text and 'name="effective_at"' in form.text
    loc = location(am.form("/agreements/%s/changes?client_id=%s" % (aid, A), change_fields(srv)))
    assert "proposed=1" in loc
    items = changes(people, aid, A)
    assert len(items) == 1 and items[0]["status"] == "pending", items
    note = notices_of(people, aid, A)
    assert len(note) == 1 and note[0]["kind"] == "change", note
    page = am.get("/agreements/%s?client_id=%s" % (aid, A)).text
    assert "待生效" in page and "技术支持P1首次响应缩短为10分钟" in page
    assert 'href="/notices/%s?client_id=%s"' % (note[0]["id"], A) in page
    withdraw = "/agreements/%s/changes/%s/withdraw?client_id=%s" % (aid, items[0]["id"], A)
    assert 'href="%s"' % withdraw.replace("&", "&amp;") in page or 'href="%s"' % withdraw in page
    # the client sees the change and its notice, but no withdraw button
    mine = boss.get("/agreements/%s" % aid).text
    assert "待生效" in mine and "/withdraw" not in mine
    # the same form again: a second pending change is refused, nothing more is written
    again = am.form("/agreements/%s/changes?client_id=%s" % (aid, A), change_fields(srv))
    assert again.status == 409 and 'role="alert"' in again.text, again
    assert len(changes(people, aid, A)) == 1 and len(notices_of(people, aid, A)) == 1
    # the terms in force at a chosen date: now the old fee, after the effective date the new one
    eff = items[0]["effective_at"]
    later = am.get("/agreements/%s?client_id=%s&at=%s" % (aid, A, local_day(eff + 2 * DAY_MS))).text
    assert "生效的条款" in later, later[later.find("<main"):][:3000]
    assert "¥9,000.00" in later, later[later.find("services-heading"):][:3000]
    today = am.get("/agreements/%s?client_id=%s&at=%s" % (aid, A, local_day(srv.clock_now()))).text
    assert "¥8,000.00" in today and "¥9,000.00" not in today
    bad = am.get("/agreements/%s?client_id=%s&at=2026-02-30" % (aid, A))
    field_error(bad, "at")
    # withdrawal: a confirmation page, then the change is withdrawn with a correcting notice
    conf = am.get(withdraw)
    assert conf.status == 200 and "确认撤回" in conf.text, conf
    assert am.form(withdraw, {}, csrf=False).status == 403
    assert boss.form(withdraw, {}).status == 403
    assert "withdrawn=1" in location(am.form(withdraw, {}))
    assert changes(people, aid, A)[0]["status"] == "withdrawn"
    assert len(notices_of(people, aid, A)) == 2
    twice = am.form(withdraw, {})
    assert twice.status == 409 and "已撤回" in twice.text, twice
    page = am.get("/agreements/%s?client_id=%s" % (aid, A)).text
    assert "已撤回" in page
    en = am.get("/agreements/%s?client_id=%s&lang=en" % (aid, A)).text
    assert "Service changes" in en and "Withdrawn" in en


def test_C8_1_1_bad_input_of_the_change_form_is_refused_beside_the_field_and_sends_nothing(site):
    srv, people, ids = site
    am, A = people["p-account_manager"], ids["A"]
    aid = make_active(people, ids)
    path = "/agreements/%s/changes?client_id=%s" % (aid, A)
    assert am.form(path, change_fields(srv), csrf=False).status == 403
    assert am.form(path, change_fields(srv), csrf="0" * 43).status == 403
    # inside the 30 days' notice period, in the past, malformed, missing
    r = am.form(path, change_fields(srv, days=10))
    field_error(r, "effective_at")
    assert "通知期" in r.text and "技术支持P1首次响应缩短为10分钟" in r.text  # the form is kept
    field_error(am.form(path, change_fields(srv, days=-2)), "effective_at")
    for bad in ("2027-13-01T10:00", "2027-02-30T10:00", "2027-01-01T24:00", "明天", "2027-01-01T10:00:00:00"):
        field_error(am.form(path, change_fields(srv, effective_at=bad)), "effective_at")
    field_error(am.form(path, change_fields(srv, effective_at="")), "effective_at")
    # summary missing or oversized; no service; garbage money; an unknown calendar
    field_error(am.form(path, change_fields(srv, summary="")), "summary")
    field_error(am.form(path, change_fields(srv, summary="长" * 2000)), "summary")
    field_error(am.form(path, change_fields(srv, services=None)), "services")
    field_error(am.form(path, change_fields(srv, fee_technical_support_fixed_month="八千")),
                "fee_technical_support_fixed_month")
    field_error(am.form(path, change_fields(srv, calendar_id="999999")), "calendar_id")
    assert changes(people, aid, A) == [] and notices_of(people, aid, A) == []
    # a client user may not propose (403), and a draft has no change form (409)
    assert people["boss-A"].form("/agreements/%s/changes" % aid, change_fields(srv)).status == 403
    assert people["boss-A"].get("/agreements/%s/changes/new" % aid).status == 403
    assert people["p-agent"].form(path, change_fields(srv)).status == 403
    draft = make_draft(people, ids)
    r = am.get("/agreements/%s/changes/new?client_id=%s" % (draft, A))
    assert r.status == 409 and "只有生效中的合同" in r.text, r
    r = am.form("/agreements/%s/changes?client_id=%s" % (draft, A), change_fields(srv))
    assert r.status == 409, r
    assert changes(people, aid, A) == [] and notices_of(people, aid, A) == []


def test_C5_2_another_clients_agreement_changes_are_404_without_a_byte_of_it(site):
    srv, people, ids = site
    am, A, B = people["p-account_manager"], ids["A"], ids["B"]
    aid = make_active(people, ids)
    location(am.form("/agreements/%s/changes?client_id=%s" % (aid, A), change_fields(srv)))
    ch = changes(people, aid, A)[0]["id"]
    outsider = people["boss-B"]
    for path in ("/agreements/%s/changes/new" % aid, "/agreements/%s/changes/new?client_id=%s" % (aid, A),
                 "/agreements/%s/changes/%s/withdraw?client_id=%s" % (aid, ch, A), "/agreements/%s?at=2027-01-01" % aid):
        r = outsider.get(path)
        assert r.status in (403, 404), (path, r)
        assert "合同客户公司A".encode() not in r.body and "技术支持P1".encode() not in r.body, path
    for path in ("/agreements/%s/changes?client_id=%s" % (aid, A), "/agreements/%s/changes/%s/withdraw?client_id=%s" % (aid, ch, A)):
        r = outsider.form(path, change_fields(srv))
        assert r.status in (403, 404) and "合同客户公司A".encode() not in r.body, (path, r)
    # the provider naming the wrong client finds nothing
    r = am.get("/agreements/%s/changes/new?client_id=%s" % (aid, B))
    assert r.status == 404 and "技术支持P1".encode() not in r.body
    r = am.form("/agreements/%s/changes/%s/withdraw?client_id=%s" % (aid, ch, B), {})
    assert r.status == 404
    assert changes(people, aid, A)[0]["status"] == "pending"


# --- the agreement's notices (C11.1.1) ----------------------------------------------------------------------

def test_C11_1_1_agreement_page_lists_its_notices_unacknowledged_marked_and_preselects_it_in_the_notice_form(site):
    srv, people, ids = site
    am, boss, A = people["p-account_manager"], people["boss-A"], ids["A"]
    aid = make_active(people, ids)
    page = am.get("/agreements/%s?client_id=%s" % (aid, A)).text
    assert "通知函" in page and "尚无与本合同有关的通知函" in page
    link = "/notices/new?agreement_id=%s&amp;client_id=%s" % (aid, A)
    assert link in page, page[:4000]
    form = am.get("/notices/new?agreement_id=%s&client_id=%s" % (aid, A))
    assert form.status == 200 and re.search(r'<option value="%s" selected>' % aid, form.text), form.text[:3000]
    # another client's agreement id is not offered, nor preselected
    other = am.get("/notices/new?agreement_id=%s&client_id=%s" % (aid, ids["B"]))
    assert other.status == 200 and 'value="%s" selected' % aid not in other.text
    r = am.api("POST", "/api/v1/notices", {"client_id": A, "agreement_id": aid, "kind": "breach",
                                          "subject": "关于逾期付款的违约通知", "body": "请于七日内付款。"})
    assert r.status == 201, r
    mine = boss.get("/agreements/%s" % aid).text
    assert "关于逾期付款的违约通知" in mine and "未确认" in mine and "等待您方确认" in mine
    assert "waiting-me" in mine
    # acknowledged, it no longer stands out
    assert boss.api("POST", "/api/v1/notices/%s/acknowledge" % r.json["id"]).status == 200
    mine = boss.get("/agreements/%s" % aid).text
    assert "关于逾期付款的违约通知" in mine and "等待您方确认" not in mine and "已确认于" in mine
    # agents read agreements but not the register: no notices section for them
    agent = people["p-agent"].get("/agreements/%s?client_id=%s" % (aid, A)).text
    assert "关于逾期付款的违约通知" not in agent


# --- duplicate submission: idempotency keys of drafts and notices ---------------------------------------------

def hidden_key(html):
    m = re.search(r'name="idempotency_key" value="([0-9a-f]{32})"', html)
    assert m, html[:3000]
    return m.group(1)


def agreements_of(people, cid):
    r = people["admin"].api("GET", "/api/v1/agreements?client_id=%s&limit=200" % cid)
    assert r.status == 200, r
    return r.json["items"]


def all_notices(people, cid):
    r = people["admin"].api("GET", "/api/v1/notices?client_id=%s&limit=200" % cid)
    assert r.status == 200, r
    return r.json["items"]


def test_C1_1_the_same_draft_form_sent_twice_makes_one_draft(site):
    srv, people, ids = site
    am, A = people["p-account_manager"], ids["A"]
    key = hidden_key(am.get("/agreements/new").text)
    assert key != hidden_key(am.get("/agreements/new").text)  # a new key each time the form is shown
    before = len(agreements_of(people, A))
    first = location(am.form("/agreements", draft_fields(A, idempotency_key=key)))
    second = location(am.form("/agreements", draft_fields(A, idempotency_key=key, term_years="3")))
    assert agreement_id(first) == agreement_id(second) and "created=1" not in second
    assert len(agreements_of(people, A)) == before + 1
    # a refused form keeps its key, so correcting and sending it still makes one draft
    bad = am.form("/agreements", draft_fields(A, idempotency_key="k" + key, term_years="0"))
    assert bad.status == 422 and 'value="k%s"' % key in bad.text, bad
    ok = location(am.form("/agreements", draft_fields(A, idempotency_key="k" + key)))
    assert agreement_id(location(am.form("/agreements", draft_fields(A, idempotency_key="k" + key)))) == agreement_id(ok)
    assert len(agreements_of(people, A)) == before + 2
    # without a key every submission is a draft of its own (as before)
    location(am.form("/agreements", draft_fields(A)))
    assert len(agreements_of(people, A)) == before + 3


def test_C11_1_1_the_same_notice_form_sent_twice_sends_one_notice(site):
    srv, people, ids = site
    am, A = people["p-account_manager"], ids["A"]
    key = hidden_key(am.get("/notices/new?client_id=%s" % A).text)
    fields = {"client_id": A, "kind": "other", "subject": "关于服务时间调整的通知", "body": "自下月起……",
              "method": "portal", "idempotency_key": key}
    first = location(am.form("/notices", fields))
    second = location(am.form("/notices", fields))
    assert first.split("&")[0] == second.split("&")[0], (first, second)
    assert len([n for n in all_notices(people, A) if n["subject"] == "关于服务时间调整的通知"]) == 1
    # a refused form (no subject) keeps its key
    bad = am.form("/notices", dict(fields, subject="", idempotency_key="z" + key))
    assert bad.status == 422 and 'value="z%s"' % key in bad.text, bad


def test_C11_1_1_C1_1_idempotency_keys_in_the_api_answer_the_first_object_and_are_per_client(site):
    srv, people, ids = site
    admin, A, B = people["admin"], ids["A"], ids["B"]
    body = {"client_id": A, "term_years": 1, "services": [{"kind": "consulting"}], "idempotency_key": "order-2027-001"}
    r1 = admin.api("POST", "/api/v1/agreements", body)
    assert r1.status == 201, r1
    r2 = admin.api("POST", "/api/v1/agreements", dict(body, term_years=5))
    assert r2.status == 200 and r2.json["id"] == r1.json["id"] and r2.json["term_years"] == 1, r2
    # the same key with another client is independent
    r3 = admin.api("POST", "/api/v1/agreements", dict(body, client_id=B))
    assert r3.status == 201 and r3.json["id"] != r1.json["id"], r3
    # malformed, oversized, wrong type: refused by field, nothing written
    n = len(agreements_of(people, A))
    for bad in ("含 空格", "x" * 65, "a/b", ""):
        r = admin.api("POST", "/api/v1/agreements", dict(body, idempotency_key=bad))
        if bad == "":
            assert r.status == 201, r  # "" is no key
            continue
        assert r.status == 422 and r.json["error"]["field"] == "idempotency_key", (bad, r)
    r = admin.api("POST", "/api/v1/agreements", dict(body, idempotency_key=42))
    assert r.status == 422 and r.json["error"]["field"] == "idempotency_key", r
    assert len(agreements_of(people, A)) == n + 1
    # notices
    nb = {"client_id": A, "kind": "other", "subject": "系统维护", "body": "周六维护。", "idempotency_key": "n-1"}
    s1 = admin.api("POST", "/api/v1/notices", nb)
    assert s1.status == 201, s1
    s2 = admin.api("POST", "/api/v1/notices", dict(nb, subject="另一个主题"))
    assert s2.status == 200 and s2.json["id"] == s1.json["id"] and s2.json["subject"] == "系统维护", s2
    s3 = admin.api("POST", "/api/v1/notices", dict(nb, client_id=B))
    assert s3.status == 201 and s3.json["id"] != s1.json["id"], s3
    # the client's own admin using the key the provider used: the first notice (of its own client), no second one
    boss = people["boss-A"]
    s4 = boss.api("POST", "/api/v1/notices", dict(nb, client_id=A, subject="乙方来函"))
    assert s4.status == 200 and s4.json["id"] == s1.json["id"], s4
    for bad in ("x" * 65, "含 空格"):
        r = admin.api("POST", "/api/v1/notices", dict(nb, idempotency_key=bad))
        assert r.status == 422 and r.json["error"]["field"] == "idempotency_key", r
    assert len([x for x in all_notices(people, A) if x["subject"] == "系统维护"]) == 1


# --- the export after the end (C10.3.2) ---------------------------------------------------------------------

def test_C10_3_2_export_after_expiry_holds_the_service_changes_and_the_clients_notices(site):
    srv, people, ids = site
    am, boss, A = people["p-account_manager"], people["boss-A"], ids["A"]
    aid = make_active(people, ids)
    location(am.form("/agreements/%s/changes?client_id=%s" % (aid, A), change_fields(srv)))
    r = am.api("POST", "/api/v1/notices", {"client_id": A, "agreement_id": aid, "kind": "breach",
                                          "subject": "违约通知", "body": "## 事由\n\n逾期付款。"})
    assert r.status == 201, r
    rb = am.api("POST", "/api/v1/notices", {"client_id": ids["B"], "kind": "other", "subject": "乙公司的通知",
                                           "body": "别的客户。"})
    assert rb.status == 201, rb
    # test mode leaves kefu's periodic jobs unscheduled: the expiry job, daily
    r = srv.post("/api/v1/test/jobs", json={"kind": "agreement.expire", "period_ms": DAY_MS,
                                            "run_at": srv.clock_now() + DAY_MS})
    assert r.status == 201, r
    srv.advance(367 * DAY_MS)  # past the one-year term: the change applied, then the agreement expired
    boss, outsider = Browser(srv, "boss-A"), Browser(srv, "boss-B")  # the sessions ended meanwhile
    g = boss.api("GET", "/api/v1/agreements/%s" % aid).json
    assert g["status"] == "expired", g
    ex = boss.get("/api/v1/agreements/%s/export" % aid)
    assert ex.status == 200 and "attachment" in ex.header("Content-Disposition"), ex
    doc = ex.json
    assert [c["status"] for c in doc["changes"]] == ["applied"], doc["changes"]
    assert doc["changes"][0]["summary"] == "技术支持P1首次响应缩短为10分钟"
    subjects = {n["subject"]: n for n in doc["notices"]}
    assert "违约通知" in subjects and subjects["违约通知"]["body"] == "## 事由\n\n逾期付款。"
    assert any(n["kind"] == "change" and n["body"] for n in doc["notices"])
    assert "乙公司的通知" not in ex.text and "别的客户" not in ex.text
    # the disclosure names the notices handed out (C5.2), recorded before the bytes left
    trail = boss.api("GET", "/api/v1/audit?client_id=%s&object_type=agreement&object_id=%s" % (A, aid))
    assert trail.status == 200, trail
    exports = [x for x in trail.json["items"] if x["action"] == "agreement.export"]
    assert len(exports) == 1, exports
    assert sorted(exports[0]["changes"]["notice_ids"]) == sorted(n["id"] for n in doc["notices"]), exports
    # an agent reads the agreement but not the register: the export holds no notices, and says none were disclosed
    agent = Browser(srv, "p-agent")
    ax = agent.get("/api/v1/agreements/%s/export?client_id=%s" % (aid, A))
    assert ax.status == 200 and "notices" not in ax.json and "违约通知" not in ax.text, ax
    # the read-only page after the end still lists both
    page = boss.get("/agreements/%s" % aid).text
    assert "已生效" in page and "违约通知" in page and "/changes/new" not in page
    # another client's admin: 404 without a byte of it
    r = outsider.get("/api/v1/agreements/%s/export?client_id=%s" % (aid, A))
    assert r.status == 404 and "违约通知".encode() not in r.body


# --- the service catalogue page (C2.1.1, C2.2.1) ------------------------------------------------------------

def kind_fields(code, **over):
    f = {"code": code, "name_zh": "远程协助", "name_en": "Remote assistance", "fee_new_per_hour": "350.00"}
    for p, (fr, res) in enumerate(((20, 90), (45, 300), (120, 960), (240, 1500)), 1):
        f["t_new_p%d_fr" % p], f["t_new_p%d_res" % p] = str(fr), str(res)
    f.update(over)
    return [(k, v) for k, v in f.items() if v is not None]


def test_C2_1_1_C2_2_1_catalogue_page_shows_kinds_targets_and_fees_and_admins_add_a_kind(site):
    srv, people, ids = site
    admin = people["admin"]
    # every provider role and client user reads it, linked from the agreements list
    assert 'href="/service-kinds"' in people["staff-A"].get("/agreements").text
    for name in ("staff-A", "boss-A", "p-agent", "p-account_manager"):
        r = people[name].get("/service-kinds")
        assert r.status == 200, (name, r)
        assert "咨询服务" in r.text and "技术支持" in r.text and "维护服务" in r.text and "培训服务" in r.text
        assert "4 小时" in r.text and "¥8,000.00" in r.text  # 240 minutes in hours; the default monthly fee
        assert 'action="/service-kinds"' not in r.text  # the form is the admin's
    en = people["boss-A"].get("/service-kinds?lang=en").text
    assert "Service catalogue" in en and "CN¥15,000.00" in en and "4 h" in en
    page = admin.get("/service-kinds").text
    assert 'action="/service-kinds"' in page and 'name="t_new_p1_fr"' in page
    loc = location(admin.form("/service-kinds", kind_fields("remote_assist")))
    assert loc == "/service-kinds?added=1"
    page = admin.get(loc).text
    assert "远程协助" in page and "1 小时 30 分钟" in page and "¥350.00" in page and "25 小时" in page
    kinds = admin.api("GET", "/api/v1/service-kinds").json["items"]
    new = [k for k in kinds if k["code"] == "remote_assist"]
    assert len(new) == 1 and new[0]["targets"]["P1"] == {"first_response": 20, "resolution": 90}, new
    # the new kind is offered on the draft form
    assert 'name="services" value="remote_assist"' in people["p-account_manager"].get("/agreements/new").text


def test_C2_1_1_bad_input_of_the_catalogue_form_is_refused_beside_the_field_and_adds_nothing(site):
    srv, people, ids = site
    admin = people["admin"]
    before = len(admin.api("GET", "/api/v1/service-kinds").json["items"])
    assert admin.form("/service-kinds", kind_fields("k_one"), csrf=False).status == 403
    assert admin.form("/service-kinds", kind_fields("k_one"), csrf="0" * 43).status == 403
    field_error(admin.form("/service-kinds", kind_fields("Bad Code")), "code")
    field_error(admin.form("/service-kinds", kind_fields("x" * 40)), "code")
    field_error(admin.form("/service-kinds", kind_fields("k_two", name_zh="")), "name_zh")
    r = admin.form("/service-kinds", kind_fields("k_three", t_new_p2_fr=""))
    field_error(r, "targets")
    assert 'value="k_three"' in r.text and 'value="远程协助"' in r.text  # the form is kept
    field_error(admin.form("/service-kinds", kind_fields("k_four", t_new_p1_fr="两小时")), "targets")
    field_error(admin.form("/service-kinds", kind_fields("k_five", t_new_p1_fr="500")), "targets")  # response > resolution
    field_error(admin.form("/service-kinds", kind_fields("k_six", fee_new_per_hour="-1")), "fee_new_per_hour")
    field_error(admin.form("/service-kinds", kind_fields("k_seven", fee_new_per_hour="abc")), "fee_new_per_hour")
    # a code in use (also the same form sent twice): 409 with the error beside the code
    location(admin.form("/service-kinds", kind_fields("k_once")))
    twice = admin.form("/service-kinds", kind_fields("k_once"))
    assert twice.status == 409 and 'id="code-error"' in twice.text, twice
    assert len(admin.api("GET", "/api/v1/service-kinds").json["items"]) == before + 1
    # only admins add kinds: an account manager 403, a client user 404
    assert people["p-account_manager"].form("/service-kinds", kind_fields("k_am")).status == 403
    assert people["boss-A"].form("/service-kinds", kind_fields("k_boss")).status == 404
    assert len(admin.api("GET", "/api/v1/service-kinds").json["items"]) == before + 1
