"""Canned replies through HTTP on both engines (issue 6 item 1): a team's stock answers, kept by its
members (and admins, supervisors), with variables filled for one request when an agent answers with
canned_reply_id instead of a body; bad input (malformed, oversized, wrong type, unknown variable,
another client's request, the same title twice) is refused by field and changes nothing."""
import datetime
import kefu_http as kh
from test_admin_api import login_as, make_user, new_site
from test_agreements_api import activate


def rpath(rid, cid, tail=""):
    return "/api/v1/requests/%s%s?client_id=%s" % (rid, tail, cid)


def test_canned_replies_with_variables_answer_a_request(kefu, tmp_path):
    """Canned replies per team with variables (issue 6): number, subject, agent, customer, due time."""
    srv, admin, ids = new_site(kefu, tmp_path)
    A, B = ids["A"], ids["B"]
    boss = login_as(srv, "boss-A")
    activate(admin, boss, A)
    agent_id = make_user(admin, "0", "agent.wang", ["agent"])
    make_user(admin, "0", "agent.li", ["agent"])
    agent, outsider = login_as(srv, "agent.wang"), login_as(srv, "agent.li")
    r = admin.call("POST", "/api/v1/teams", {"name": "一线支持"})
    assert r.status == 201, r
    team = r.json["id"]
    assert admin.call("POST", "/api/v1/teams/%s/members" % team, {"user_id": agent_id}).status in (200, 201)
    r = boss.call("POST", "/api/v1/requests", {"service_kind": "technical_support", "subject": "打印机无法连接网络",
                                               "customer_id": ids["customerA"]})
    assert r.status == 201, r
    req = r.json
    base = "/api/v1/teams/%s/canned-replies" % team
    text = "您好,关于「{{subject}}」(工单 {{request_number}}),工程师{{agent_name}}下午联系您。"
    r = agent.call("POST", base, {"title": "上门预约", "body": text})
    assert r.status == 201 and r.json["body"] == text and r.json["team_id"] == team, r
    cid = r.json["id"]
    # bad input: nothing stored
    r = srv.request("POST", base, body=b'{"title": ',
                    headers={"Cookie": agent.cookie, "X-CSRF-Token": agent.csrf, "Content-Type": "application/json"})
    kh.assert_error(r, 400, "bad_json")
    kh.assert_error(agent.call("POST", base, {"title": "上门预约", "body": "again"}), 409, "conflict", "title")
    # the same title in full-width capitals is the same title (NFKC, case folded)
    r = agent.call("POST", base, {"title": "Remote", "body": "远程协助 {{request_number}}"})
    assert r.status == 201, r
    remote = r.json["id"]
    kh.assert_error(agent.call("POST", base, {"title": "ＲＥＭＯＴＥ", "body": "同名"}), 409, "conflict", "title")
    kh.assert_error(agent.call("POST", base, {"title": "", "body": "x"}), 422, "invalid", "title")
    kh.assert_error(agent.call("POST", base, {"title": 7, "body": "x"}), 422, "invalid", "title")
    kh.assert_error(agent.call("POST", base, {"title": "大", "body": "x" * (16 * 1024 + 1)}), 422, "invalid", "body")
    kh.assert_error(agent.call("POST", base, {"title": "坏", "body": "{{password}}"}), 422, "invalid", "body")
    kh.assert_error(outsider.call("GET", base), 403, "forbidden")
    kh.assert_error(boss.call("GET", base), 404, "not_found")
    kh.assert_error(agent.call("GET", "/api/v1/teams/999/canned-replies"), 404, "not_found")
    r = agent.call("GET", base)
    assert r.status == 200 and sorted(c["id"] for c in r.json["items"]) == sorted([cid, remote]), r
    # the preview and the reply fill the variables
    want = "您好,关于「打印机无法连接网络」(工单 %s),工程师agent.wang下午联系您。" % req["number"]
    r = agent.call("GET", "/api/v1/canned-replies/%s/preview?request_id=%s&client_id=%s" % (cid, req["id"], A))
    assert r.status == 200 and r.json["body"] == want, r
    kh.assert_error(agent.call("GET", "/api/v1/canned-replies/%s/preview?request_id=%s&client_id=%s"
                               % (cid, req["id"], B)), 404, "not_found")
    kh.assert_error(agent.call("POST", rpath(req["id"], A, "/replies"), {"canned_reply_id": cid, "body": "x"}),
                    422, "invalid", "body")
    kh.assert_error(agent.call("POST", rpath(req["id"], A, "/replies"), {"canned_reply_id": "abc"}),
                    422, "invalid", "canned_reply_id")
    r = agent.call("POST", rpath(req["id"], A, "/replies"), {"canned_reply_id": cid})
    assert r.status == 201 and r.json["body"] == want and r.json["kind"] == "public", r
    # the customer's name comes from the vault, and the read is on the trail
    r = agent.call("PATCH", "/api/v1/canned-replies/%s" % cid, {"body": "{{customer_name}}您好"})
    assert r.status == 200 and r.json["title"] == "上门预约", r
    r = agent.call("GET", "/api/v1/canned-replies/%s/preview?request_id=%s&client_id=%s" % (cid, req["id"], A))
    assert r.status == 200 and r.json["body"].endswith("您好") and len(r.json["body"]) > 2, r
    # the deadline comes from the request's SLA clock, in the agreement's zone (Asia/Shanghai)
    r = agent.call("PATCH", "/api/v1/canned-replies/%s" % cid, {"body": "预计 {{due_at}} 前解决"})
    assert r.status == 200, r
    due = agent.call("GET", rpath(req["id"], A)).json["sla"]["resolution"]["due_at"]
    local = datetime.datetime.fromtimestamp(due / 1000, datetime.timezone(datetime.timedelta(hours=8)))
    r = agent.call("GET", "/api/v1/canned-replies/%s/preview?request_id=%s&client_id=%s" % (cid, req["id"], A))
    assert r.status == 200 and r.json["body"] == "预计 %d年%d月%d日 %s 前解决" % (
        local.year, local.month, local.day, local.strftime("%H:%M")), r
    # the client sees the reply, never the canned reply itself
    msgs = boss.call("GET", rpath(req["id"], A, "/messages")).json["items"]
    assert [m["body"] for m in msgs] == [want], msgs
    r = agent.call("DELETE", "/api/v1/canned-replies/%s" % cid)
    assert r.status == 200, r
    kh.assert_error(agent.call("GET", "/api/v1/canned-replies/%s" % cid), 404, "not_found")
