"""The request pages wired to the SLA clocks, acceptance and canned replies (issue 6 item 5), on both
engines: the request page shows both clocks with the due time written out in the viewer's zone and the
business minutes left (C3.1.2), the breach record once the request.sla job has run (C5.3), and the
list its resolution state; the client accepts or rejects a resolution on the page and the customer
through the tracking link (C5.1.2) — who may not, twice, bad input, no csrf; provider staff answer
with a team's canned reply."""
import re

from test_admin_api import make_user
from test_pages_admin import Browser, field_error, location, text
from test_pages_requests import actor, anon_form, intake_link, new_request, new_site, raise_public, rq, tracking
from test_request_acceptance import agreement
from test_request_sla import sh

MIN = 60000


def api(b, method, path, body=None):
    return actor(b).call(method, path, body) if body is not None else actor(b).call(method, path)


def resolve(admin, rid, cid):
    r = api(admin, "POST", "/api/v1/requests/%s/status?client_id=%s" % (rid, cid), {"status": "resolved"})
    assert r.status == 200 and r.json["status"] == "resolved", r


def sla_block(r):
    m = re.search(r'<div class="rq-sla" id="sla">(.*?)</div>\n<div class="rq-acceptance"', text(r), re.S)
    assert m, text(r)
    return m.group(1)


def acceptance_block(r):
    m = re.search(r'<div class="rq-acceptance" id="acceptance">(.*?)</div>\n(?=<div class="rq-body">|<section)', text(r), re.S)
    assert m, text(r)
    return m.group(1)


def test_C3_1_2_C5_3_the_request_page_shows_the_clocks_due_time_and_breach(kefu, tmp_path):
    """A P2 request raised on Friday 2026-02-13 16:00 (Asia/Shanghai): its resolution (480 business
    minutes) falls due on Saturday 2026-02-14 16:00, the make-up working day; the page writes that out
    with 480 minutes left, not wall-clock time. After the clock passes the due time and the request.sla
    job runs, the page shows the clocks breached and the breach records; the list shows the state."""
    srv = kefu(clock_start=sh("2026-02-13 16:00"))
    from test_identity_api import make_site
    from test_agreements_api import activate
    session, ids = make_site(srv, tmp_path)
    admin = Browser.__new__(Browser)
    admin.srv, admin.cookie, admin.csrf = srv, session.cookie, session.csrf
    boss = Browser(srv, "boss-A")
    activate(actor(admin), actor(boss), ids["A"])
    A = ids["A"]
    rid = new_request(admin, A, priority="P2")
    q = api(admin, "GET", "/api/v1/requests/%s?client_id=%s" % (rid, A)).json
    assert q["sla"]["resolution"]["due_at"] == sh("2026-02-14 16:00"), q["sla"]
    assert q["sla"]["resolution"]["target_minutes"] == 480
    # the client's user sees the clocks too (facts of the agreement)
    r = boss.get(rq(rid, A))
    assert r.status == 200
    block = sla_block(r)
    assert "解决时限" in block and "首次响应时限" in block
    assert "2026年2月14日 16:00" in block, block
    assert "0 / 480 分钟" in block and "480 分钟" in block and "计时中" in block, block
    # the list: the resolution state and due time
    page = text(boss.get("/requests"))
    assert "sla-running" in page and "2026年2月14日 16:00" in page
    # the clock passes the due time (Monday 2/16 10:00 is inside the festival: nothing counts; go to 2/24)
    srv.advance(sh("2026-02-24 10:00") - srv.clock_now())
    r = srv.post("/api/v1/test/jobs", json={"kind": "request.sla", "period_ms": 15 * MIN, "run_at": srv.clock_now()})
    assert r.status == 201, r
    srv.advance(MIN)
    for _ in range(50):
        b = api(Browser(srv, "boss-A"), "GET", "/api/v1/requests/%s/breaches?client_id=%s" % (rid, A))
        if b.status == 200 and len(b.json["items"]) == 2:
            break
        srv.advance(MIN)
    boss = Browser(srv, "boss-A")
    r = boss.get(rq(rid, A))
    block = sla_block(r)
    assert block.count("已超时") == 2, block
    assert "超时记录" in block and "目标 480 分钟" in block, block
    assert "其间等待顾客 0 分钟、等待客户单位 0 分钟" in block, block
    assert "sla-breached" in text(boss.get("/requests"))


def test_C5_1_2_the_client_accepts_and_rejects_a_resolution_on_the_request_page(kefu, tmp_path):
    """The client's admin sees accept and reject on a resolved request; provider staff see the state but
    no buttons and get 403 on POST; another client's user 404; a missing reason is 422 beside the
    field with nothing changed; a reason over 4000 bytes is kept in the box; no csrf is 403; a rejection
    reopens the request (remediation 1); the next resolution accepted closes it; twice is 409 shown."""
    srv, admin, boss, boss_b, ids = new_site(kefu, tmp_path)
    A = ids["A"]
    rid = new_request(admin, A)
    # not resolved: no acceptance actions at all
    assert 'id="accept-submit"' not in text(boss.get(rq(rid, A)))
    resolve(admin, rid, A)
    r = boss.get(rq(rid, A))
    block = acceptance_block(r)
    assert 'id="accept-submit"' in block and 'id="reject-submit"' in block and "待验收" in block, block
    assert 'data-confirm="' in block and "由客户单位验收" in block and "截止" in block
    # provider staff: the state, never the buttons; a POST is 403
    block = acceptance_block(admin.get(rq(rid, A)))
    assert "待验收" in block and "返工次数：0" in block and "accept-submit" not in block and "reject-submit" not in block
    assert admin.form(rq(rid, A, "/accept")).status == 403
    assert admin.form(rq(rid, A, "/reject"), {"reason": "服务方自己拒绝"}).status == 403
    # another client's user: 404 without a byte of the request
    for path, f in ((rq(rid, A, "/accept"), {}), (rq(rid, A, "/reject"), {"reason": "别人的"})):
        r = boss_b.form(path, f)
        assert r.status == 404 and "打印机" not in text(r)
    # bad input: missing, empty, oversized reason; no csrf; nothing changes
    r = boss.form(rq(rid, A, "/reject"), {})
    assert r.status == 422 and field_error(r, "reject") == "请填写原因（最多 4000 字节）。", text(r)
    r = boss.form(rq(rid, A, "/reject"), {"reason": ""})
    assert r.status == 422 and field_error(r, "reject")
    long = "长" * 1400
    r = boss.form(rq(rid, A, "/reject"), {"reason": long})
    assert r.status == 422 and long in text(r)
    assert boss.form(rq(rid, A, "/reject"), {"reason": "无 csrf"}, csrf=False).status == 403
    assert boss.form(rq(rid, A, "/accept"), {}, csrf=False).status == 403
    q = api(admin, "GET", "/api/v1/requests/%s?client_id=%s" % (rid, A)).json
    assert q["status"] == "resolved" and q["remediation_count"] == 0
    # the rejection: remediation, back to the page with a notice
    r = boss.form(rq(rid, A, "/reject"), {"reason": "打印机仍然无法连接"})
    assert r.status == 303 and location(r).endswith("&rejected=1#acceptance"), location(r)
    page = text(boss.get(location(r)))
    assert "已退回返工。" in page and "返工次数：1" in page and "打印机仍然无法连接" in page
    assert 'id="accept-submit"' not in page
    # not resolved now: accepting is 409 shown as a message
    r = boss.form(rq(rid, A, "/accept"))
    assert r.status == 409 and "当前状态下不能这样做。" in acceptance_block(r)
    resolve(admin, rid, A)
    r = boss.form(rq(rid, A, "/accept"))
    assert r.status == 303 and location(r).endswith("&accepted=1#acceptance")
    assert api(admin, "GET", "/api/v1/requests/%s?client_id=%s" % (rid, A)).json["status"] == "closed"
    # twice: 409 with the message, both ways; nothing changes
    r = boss.form(rq(rid, A, "/accept"))
    assert r.status == 409 and "当前状态下不能这样做。" in acceptance_block(r)
    r = boss.form(rq(rid, A, "/reject"), {"reason": "再次"})
    assert r.status == 409 and "当前状态下不能这样做。" in acceptance_block(r)
    q = api(admin, "GET", "/api/v1/requests/%s?client_id=%s" % (rid, A)).json
    assert q["status"] == "closed" and q["remediation_count"] == 1


def test_C5_1_2_the_customer_accepts_and_rejects_through_the_tracking_link(kefu, tmp_path):
    """Client B's newest agreement names the customer: the tracking page of a resolved request offers
    accept and reject; a missing reason is 422 on the page; a rejection reopens it (remediation 1);
    the next resolution accepted closes it; again is 409; a wrong token 404. On client A (the
    agreement names the client) the tracking page offers nothing and a POST is 403."""
    srv, admin, boss, boss_b, ids = new_site(kefu, tmp_path)
    A, B = ids["A"], ids["B"]
    agreement(actor(admin), actor(boss_b), B, acceptance_by="customer")
    t = tracking(raise_public(srv, intake_link(admin, B), subject="宽带断了-验收"))
    items = api(admin, "GET", "/api/v1/requests?client_id=%s" % B).json["items"]
    rid = [x["id"] for x in items if x["subject"] == "宽带断了-验收"][0]
    page = text(srv.request("GET", t))
    assert 'action="%s/accept"' % t not in page
    resolve(admin, rid, B)
    page = text(srv.request("GET", t))
    assert 'action="%s/accept"' % t in page and 'action="%s/reject"' % t in page and "待验收" in page
    # the client's own people may not decide for the customer: no buttons, 403
    r = boss_b.get("/requests/%s?client_id=%s" % (rid, B))
    assert "由顾客验收" in text(r) and 'id="accept-submit"' not in text(r)
    assert boss_b.form("/requests/%s/accept?client_id=%s" % (rid, B)).status == 403
    r = anon_form(srv, t + "/reject", {"reason": ""})
    assert r.status == 422 and field_error(r, "reject"), text(r)
    r = anon_form(srv, t + "/reject", {"reason": "还是不能上网"})
    assert r.status == 303 and location(r) == t + "?rejected=1#acceptance"
    page = text(srv.request("GET", location(r)))
    assert "返工次数：1" in page and "还是不能上网" in page
    q = api(admin, "GET", "/api/v1/requests/%s?client_id=%s" % (rid, B)).json
    assert q["status"] == "reopened" and q["remediation_count"] == 1
    resolve(admin, rid, B)
    r = anon_form(srv, t + "/accept", {})
    assert r.status == 303 and location(r) == t + "?accepted=1#acceptance"
    assert api(admin, "GET", "/api/v1/requests/%s?client_id=%s" % (rid, B)).json["status"] == "closed"
    r = anon_form(srv, t + "/accept", {})
    assert r.status == 409 and "该请求当前不在待验收状态" in text(r)
    assert anon_form(srv, t[:-3] + "xyz/accept", {}).status == 404
    # client A's agreement names the client: the customer is offered nothing and refused
    ta = tracking(raise_public(srv, intake_link(admin, A), subject="客户验收的请求"))
    rid_a = [x["id"] for x in api(admin, "GET", "/api/v1/requests?client_id=%s" % A).json["items"]
             if x["subject"] == "客户验收的请求"][0]
    resolve(admin, rid_a, A)
    assert 'action="%s/accept"' % ta not in text(srv.request("GET", ta))
    assert anon_form(srv, ta + "/accept", {}).status == 403
    assert api(admin, "GET", "/api/v1/requests/%s?client_id=%s" % (rid_a, A)).json["status"] == "resolved"


def test_a_canned_reply_is_sent_through_the_request_page(kefu, tmp_path):
    """An agent sees the canned replies of their team beside the reply box and sends one: the message
    is the reply filled for the request. A canned reply with text in the box is 422 kept; an unknown
    one 422 beside the select; a client user is offered none."""
    srv, admin, boss, boss_b, ids = new_site(kefu, tmp_path)
    A = ids["A"]
    agent_id = make_user(actor(admin), "0", "agent.wang", ["agent"])
    agent = Browser(srv, "agent.wang")
    r = api(admin, "POST", "/api/v1/teams", {"name": "一线支持"})
    team = r.json["id"]
    assert api(admin, "POST", "/api/v1/teams/%s/members" % team, {"user_id": agent_id}).status in (200, 201)
    r = api(agent, "POST", "/api/v1/teams/%s/canned-replies" % team,
            {"title": "上门预约", "body": "您好，工单 {{request_number}} 的工程师下午联系您。"})
    assert r.status == 201, r
    cid = r.json["id"]
    rid = new_request(admin, A)
    number = api(admin, "GET", "/api/v1/requests/%s?client_id=%s" % (rid, A)).json["number"]
    page = text(agent.get(rq(rid, A)))
    assert 'name="canned_reply_id"' in page and '<option value="%s">一线支持 · 上门预约</option>' % cid in page
    assert 'name="canned_reply_id"' not in text(boss.get(rq(rid, A)))
    r = agent.form(rq(rid, A, "/replies"), {"canned_reply_id": cid, "body": "自己写的"})
    assert r.status == 422 and "自己写的" in text(r)
    r = agent.form(rq(rid, A, "/replies"), {"canned_reply_id": "999999", "body": ""})
    assert r.status == 422 and field_error(r, "canned") == "没有这条常用回复。", text(r)
    r = agent.form(rq(rid, A, "/replies"), {"canned_reply_id": cid, "body": ""})
    assert r.status == 303, text(r)
    msgs = api(admin, "GET", "/api/v1/requests/%s/messages?client_id=%s" % (rid, A)).json["items"]
    assert msgs[-1]["body"] == "您好，工单 %s 的工程师下午联系您。" % number, msgs
