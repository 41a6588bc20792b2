"""The notices API (issue 5 items 6 and 7) through HTTP on both engines: formal notices between the
parties (C11.1.1) — sent in the portal or by mail, delivery recorded by the sender side, acknowledged
once by the recipient side, corrected by new notices — and service update announcements to some or
all clients with read receipts (C8.2.1). Bad input of every kind is refused with a 4xx naming the
field, and changes nothing; another client's notice is 404 without a byte of it."""
import json as jsonlib

import kefu_http as kh
from test_admin_api import login_as, make_user, new_site

SUBJECT = "关于周六服务时间调整的通知"
BODY = "## 通知\n\n自下月起,周六服务时间调整为 **9:00–12:00**。\n\n<script>alert(1)</script>"


def notice(cid, **over):
    body = {"client_id": cid, "kind": "change", "subject": SUBJECT, "body": BODY}
    body.update(over)
    return body


def path(nid, cid, tail=""):
    return "/api/v1/notices/%s%s?client_id=%s" % (nid, tail, cid)


def now_ms(srv):
    r = srv.get("/api/v1/test/clock")
    assert r.status == 200, r
    return r.json["now_ms"]


def advance(srv, ms):
    r = srv.post("/api/v1/test/clock", json={"advance_ms": ms})
    assert r.status == 200, r


def send(actor, cid, **over):
    r = actor.call("POST", "/api/v1/notices", notice(cid, **over))
    assert r.status == 201, r
    return r.json


def register(actor, query=""):
    r = actor.call("GET", "/api/v1/notices" + query)
    assert r.status == 200, r
    return r.json


def count(admin, cid):
    return len(register(admin, "?client_id=%s&limit=200" % cid)["items"])


def people(admin, ids):
    """An account manager, an agent, client A's staff member; their sessions."""
    make_user(admin, "0", "am.li", ["account_manager"])
    make_user(admin, "0", "agent.wu", ["agent"])
    make_user(admin, ids["A"], "staff-A", ["client_staff"])
    return login_as(admin.srv, "am.li"), login_as(admin.srv, "agent.wu"), login_as(admin.srv, "staff-A")


def test_C11_1_1_a_portal_notice_is_delivered_read_and_acknowledged_once(kefu, tmp_path):
    srv, admin, ids = new_site(kefu, tmp_path)
    A = ids["A"]
    am, agent, staff = people(admin, ids)
    boss = login_as(srv, "boss-A")
    t0 = now_ms(srv)
    n = send(am, A, kind="breach")
    assert n["sender_party"] == "provider" and n["recipient_party"] == "client" and n["method"] == "portal"
    assert n["sent_at"] == t0 and n["delivered_at"] == t0 and n["acknowledged_at"] is None
    assert n["body"] == BODY and n["subject"] == SUBJECT and n["client_name"] == "客户公司A"
    assert n["sent_by_name"] == "am.li" and n["reads"] == [] and n["corrections"] == []
    # the client's people are told in-app
    bell = staff.call("GET", "/api/v1/notifications")
    assert any(i["message_key"] == "notify.notice_received" and i["link"] == "/notices/%s" % n["id"]
               for i in bell.json["items"]), bell
    # the inbox counts what waits for the client's acknowledgement
    inbox = register(staff)
    assert inbox["unacknowledged"] == 1 and [i["id"] for i in inbox["items"]] == [n["id"]]
    assert "body" not in inbox["items"][0]
    assert register(am, "?client_id=%s" % A)["unacknowledged"] == 0
    # reading: the client staff's first read is the receipt; the sender's reading leaves none
    advance(srv, 60000)
    assert am.call("GET", path(n["id"], A)).json["read_count"] == 0
    r = staff.call("GET", path(n["id"], A))
    assert r.status == 200 and r.json["read_count"] == 1 and r.json["first_read_at"] == t0 + 60000
    assert r.json["reads"][0]["name"] == "staff-A"
    advance(srv, 60000)
    assert staff.call("GET", path(n["id"], A)).json["first_read_at"] == t0 + 60000
    # acknowledgement: the client_admin, once; the sender side, the agent and client staff may not
    kh.assert_error(am.call("POST", path(n["id"], A, "/acknowledge")), 403, "forbidden")
    kh.assert_error(agent.call("POST", path(n["id"], A, "/acknowledge")), 403, "forbidden")
    kh.assert_error(staff.call("POST", path(n["id"], A, "/acknowledge")), 403, "forbidden")
    r = boss.call("POST", path(n["id"], A, "/acknowledge"))
    assert r.status == 200 and r.json["acknowledged_at"] == t0 + 120000 and r.json["acknowledged_by_name"] == "boss-A"
    kh.assert_error(boss.call("POST", path(n["id"], A, "/acknowledge")), 409, "conflict", "acknowledged_at")
    assert register(staff)["unacknowledged"] == 0
    assert register(staff, "?unacknowledged=true")["items"] == []
    # a portal notice has nothing to deliver
    kh.assert_error(am.call("POST", path(n["id"], A, "/delivery"), {"delivered_at": t0}), 409, "conflict",
                    "delivered_at")
    trail = admin.call("GET", "/api/v1/audit?client_id=%s&object_type=notice&object_id=%s" % (A, n["id"]))
    actions = sorted(i["action"] for i in trail.json["items"])
    # two readers: the staff member, and the client_admin whose acknowledgement answered with the notice
    assert actions == ["notice.acknowledge", "notice.read", "notice.read", "notice.send"], actions


def test_C11_1_1_registered_mail_from_the_client_delivery_recorded_by_the_sender(kefu, tmp_path):
    srv, admin, ids = new_site(kefu, tmp_path)
    A = ids["A"]
    am, agent, staff = people(admin, ids)
    boss = login_as(srv, "boss-A")
    t0 = now_ms(srv)
    n = send(boss, A, kind="termination", method="registered_mail", tracking_number="EMS1234567890CN")
    assert n["sender_party"] == "client" and n["recipient_party"] == "provider"
    assert n["delivered_at"] is None and n["tracking_number"] == "EMS1234567890CN"
    assert register(am, "?direction=received&client_id=%s" % A)["items"][0]["id"] == n["id"]
    assert register(am, "?client_id=0")["unacknowledged"] == 1
    advance(srv, 20 * 60000)  # within the sessions' 30 idle minutes
    before = am.call("GET", path(n["id"], A)).json
    # the recipient side does not record the sender's delivery; times outside [sent, now] are refused
    kh.assert_error(am.call("POST", path(n["id"], A, "/delivery"), {"delivered_at": t0 + 1000}), 403, "forbidden")
    kh.assert_error(staff.call("POST", path(n["id"], A, "/delivery"), {"delivered_at": t0 + 1000}), 403, "forbidden")
    for body, field in (({"delivered_at": t0 - 1}, "delivered_at"),
                        ({"delivered_at": now_ms(srv) + 1}, "delivered_at"),
                        ({"delivered_at": "yesterday"}, "delivered_at"),
                        ({}, "delivered_at"),
                        ({"delivered_at": t0 + 1000, "tracking_number": "SF0000"}, "tracking_number"),
                        ({"delivered_at": t0 + 1000, "tracking_number": "x" * 65}, "tracking_number")):
        kh.assert_error(boss.call("POST", path(n["id"], A, "/delivery"), body), 422, "invalid", field)
    assert am.call("GET", path(n["id"], A)).json == before
    r = boss.call("POST", path(n["id"], A, "/delivery"), {"delivered_at": t0 + 600000})
    assert r.status == 200 and r.json["delivered_at"] == t0 + 600000 and r.json["delivery_recorded_by_name"] == "boss-A"
    kh.assert_error(boss.call("POST", path(n["id"], A, "/delivery"), {"delivered_at": t0 + 600000}), 409, "conflict",
                    "delivered_at")
    # the provider acknowledges: its account manager, not the client, not an agent
    kh.assert_error(boss.call("POST", path(n["id"], A, "/acknowledge")), 403, "forbidden")
    kh.assert_error(agent.call("POST", path(n["id"], A, "/acknowledge")), 403, "forbidden")
    assert am.call("POST", path(n["id"], A, "/acknowledge")).status == 200
    # e-mail is recorded as the chosen method and stays undelivered until recorded; hand has no number
    e = send(am, A, method="email")
    assert e["method"] == "email" and e["delivered_at"] is None
    kh.assert_error(am.call("POST", "/api/v1/notices", notice(A, method="hand", tracking_number="X1")), 422,
                    "invalid", "tracking_number")


def test_C11_1_1_corrections_are_new_notices_and_the_register_filters_and_pages(kefu, tmp_path):
    srv, admin, ids = new_site(kefu, tmp_path)
    A, B = ids["A"], ids["B"]
    am, agent, staff = people(admin, ids)
    first = send(am, A)
    fix = send(am, A, subject="更正:" + SUBJECT, corrects_id=first["id"])
    assert fix["corrects_id"] == first["id"]
    orig = am.call("GET", path(first["id"], A)).json
    assert orig["subject"] == SUBJECT and [c["id"] for c in orig["corrections"]] == [fix["id"]]
    other = send(am, A, kind="renewal")
    # there is no way to change a sent notice
    for method in ("PUT", "PATCH", "DELETE"):
        r = am.call(method, path(first["id"], A), {"subject": "改"} if method != "DELETE" else None)
        assert r.status == 405, r
    # filters and keyset pages
    assert [i["id"] for i in register(am, "?client_id=%s&kind=renewal" % A)["items"]] == [other["id"]]
    page1 = register(am, "?client_id=%s&limit=2" % A)
    assert [i["id"] for i in page1["items"]] == [other["id"], fix["id"]] and page1["next"] == fix["id"]
    page2 = register(am, "?client_id=%s&limit=2&after=%s" % (A, page1["next"]))
    assert [i["id"] for i in page2["items"]] == [first["id"]] and page2["next"] is None
    assert register(am, "?client_id=%s&direction=sent" % A)["items"][0]["id"] == other["id"]
    assert register(staff, "?direction=sent")["items"] == []
    # agents do not read the register; finance does
    kh.assert_error(agent.call("GET", "/api/v1/notices?client_id=%s" % A), 403, "forbidden")
    # bad filters
    for q, field in (("?kind=gossip", "kind"), ("?direction=sideways", "direction"), ("?unacknowledged=maybe",
                     "unacknowledged"), ("?agreement_id=abc", "agreement_id"), ("?limit=201", "limit"),
                     ("?after=x", "after")):
        kh.assert_error(am.call("GET", "/api/v1/notices" + q), 422, "invalid", field)
    # client B's people see nothing of A's notices
    boss_b = login_as(srv, "boss-B")
    for nid in (first["id"], fix["id"]):
        for r in (boss_b.call("GET", path(nid, A)), boss_b.call("GET", path(nid, B)),
                  boss_b.call("POST", path(nid, B, "/acknowledge")),
                  boss_b.call("POST", path(nid, A, "/acknowledge"))):
            assert r.status == 404 and SUBJECT.encode() not in r.body, r
    assert register(boss_b)["items"] == []
    kh.assert_error(boss_b.call("GET", "/api/v1/notices?client_id=%s" % A), 404, "not_found")
    # a correction of another client's notice, an agreement of another client
    n_b = send(am, B)
    kh.assert_error(am.call("POST", "/api/v1/notices", notice(A, corrects_id=n_b["id"])), 422, "invalid",
                    "corrects_id")
    g = admin.call("POST", "/api/v1/agreements", {"client_id": B, "term_years": 1, "services": [
        {"kind": "consulting"}]})
    assert g.status == 201, g
    kh.assert_error(am.call("POST", "/api/v1/notices", notice(A, agreement_id=g.json["id"])), 422, "invalid",
                    "agreement_id")
    ok = send(am, B, agreement_id=g.json["id"])
    assert ok["agreement_id"] == g.json["id"]


def test_C11_1_1_bad_notices_are_refused_by_field_and_change_nothing(kefu, tmp_path):
    srv, admin, ids = new_site(kefu, tmp_path)
    A, B = ids["A"], ids["B"]
    am, agent, staff = people(admin, ids)
    boss = login_as(srv, "boss-A")
    send(am, A)
    before = count(admin, A), count(admin, B)
    cases = [
        (notice(A, kind="gossip"), 422, "kind"),
        (notice(A, kind=None), 422, "kind"),
        (notice(A, kind=5), 422, "kind"),
        (notice(A, method="pigeon"), 422, "method"),
        (notice(A, method=["portal"]), 422, "method"),
        (notice(A, subject=""), 422, "subject"),
        (notice(A, subject="通" * 201), 422, "subject"),
        (notice(A, subject="两行\n标题"), 422, "subject"),
        (notice(A, subject=None), 422, "subject"),
        (notice(A, body=""), 422, "body"),
        (notice(A, body="x" * (64 * 1024 + 1)), 422, "body"),
        (notice(A, body={"text": "x"}), 422, "body"),
        (notice(A, tracking_number="EMS1"), 422, "tracking_number"),
        (notice(A, sender_party="client"), 422, "sender_party"),
        (notice(A, corrects_id="not-an-id"), 422, "corrects_id"),
        (notice(A, corrects_id="123456789"), 422, "corrects_id"),
        (notice(A, agreement_id=True), 422, "agreement_id"),
        (notice(None), 422, "client_id"),
        (notice("0"), 422, "client_id"),
        (notice(str(int(A) + int(B))), 404, None),
    ]
    for body, status, field in cases:
        if body["client_id"] is None:
            del body["client_id"]
        r = am.call("POST", "/api/v1/notices", body)
        if status == 404:
            assert r.status == 404, (body, r)
        else:
            kh.assert_error(r, status, "invalid", field)
    # malformed JSON, the wrong content type, invalid UTF-8 inside a JSON string
    kh.assert_error(srv.request("POST", "/api/v1/notices", body=b'{"kind": ', headers={
        "Cookie": am.cookie, "X-CSRF-Token": am.csrf, "Content-Type": "application/json"}), 400, "bad_json")
    bad_utf8 = b'{"client_id": "%s", "kind": "other", "subject": "\xff\xfe", "body": "x"}' % A.encode()
    r = srv.request("POST", "/api/v1/notices", body=bad_utf8, headers={
        "Cookie": am.cookie, "X-CSRF-Token": am.csrf, "Content-Type": "application/json"})
    assert r.status in (400, 422), r
    r = srv.request("POST", "/api/v1/notices", body=b"kind=other", headers={
        "Cookie": am.cookie, "X-CSRF-Token": am.csrf, "Content-Type": "application/x-www-form-urlencoded"})
    assert r.status == 415, r
    # a client user sends for their own client only, and only a client_admin
    r = boss.call("POST", "/api/v1/notices", notice(B))
    assert r.status == 404 and "客户公司B".encode() not in r.body, r
    kh.assert_error(boss.call("POST", "/api/v1/notices", notice(A, sender_party="provider")), 422, "invalid",
                    "sender_party")
    kh.assert_error(staff.call("POST", "/api/v1/notices", notice(A)), 403, "forbidden")
    kh.assert_error(agent.call("POST", "/api/v1/notices", notice(A)), 403, "forbidden")
    assert srv.post("/api/v1/notices", json=notice(A)).status == 401
    assert (count(admin, A), count(admin, B)) == before
    # duplicate submission: the API has no idempotency key, so two sends are two notices (no 500)
    assert am.call("POST", "/api/v1/notices", notice(A, subject="重复")).status == 201
    assert am.call("POST", "/api/v1/notices", notice(A, subject="重复")).status == 201
    # the limits themselves pass
    assert am.call("POST", "/api/v1/notices", notice(A, subject="通" * 200, body="y" * 64 * 1024)).status == 201


def test_C8_2_1_announcements_reach_some_or_all_clients_with_read_receipts(kefu, tmp_path):
    srv, admin, ids = new_site(kefu, tmp_path)
    A, B = ids["A"], ids["B"]
    am, agent, staff = people(admin, ids)
    boss_b = login_as(srv, "boss-B")
    body = {"client_ids": [A], "subject": "系统升级公告", "body": "本周六 22:00 起升级,约两小时。"}
    kh.assert_error(agent.call("POST", "/api/v1/announcements", body), 403, "forbidden")
    r = boss_b.call("POST", "/api/v1/announcements", body)
    assert r.status == 404, r
    r = am.call("POST", "/api/v1/announcements", body)
    assert r.status == 201 and r.json["recipients"] == 1, r
    only_a = r.json
    r = am.call("POST", "/api/v1/announcements", {"all": True, "subject": "服务时间更新", "body": "春节期间照常服务。"})
    assert r.status == 201, r
    everyone = r.json
    assert everyone["recipients"] == 2 and everyone["read_clients"] == 0
    assert sorted(x["client_id"] for x in everyone["receipts"]) == sorted([A, B])
    assert all(x["delivered_at"] and x["first_read_at"] is None for x in everyone["receipts"])
    # each client sees its own notice of kind update from the provider, and nothing of the other
    mine = register(staff, "?announcement_id=%s" % everyone["id"])["items"]
    assert len(mine) == 1 and mine[0]["kind"] == "update" and mine[0]["sender_party"] == "provider"
    assert mine[0]["client_id"] == A
    advance(srv, 5000)
    t = now_ms(srv)
    seen = staff.call("GET", path(mine[0]["id"], A))
    assert seen.status == 200 and "客户公司B" not in seen.text, seen
    r = staff.call("GET", "/api/v1/announcements/%s" % everyone["id"])
    assert r.status == 404 and "客户公司B".encode() not in r.body, r
    bnotes = register(boss_b)["items"]
    assert len(bnotes) == 1 and bnotes[0]["client_id"] == B and "客户公司A" not in jsonlib.dumps(bnotes)
    # the provider's receipts: client A read it at t, client B not yet
    r = am.call("GET", "/api/v1/announcements/%s" % everyone["id"])
    assert r.status == 200 and r.json["read_clients"] == 1, r
    by = {x["client_id"]: x for x in r.json["receipts"]}
    assert by[A]["first_read_at"] == t and by[A]["read_count"] == 1
    assert by[B]["first_read_at"] is None and by[B]["read_count"] == 0
    assert am.call("GET", "/api/v1/announcements/%s" % only_a["id"]).json["recipients"] == 1
    # bad audiences and texts change nothing
    before = count(admin, A), count(admin, B)
    for bad, field in (({"client_ids": []}, "client_ids"), ({"client_ids": [A, A]}, "client_ids"),
                       ({"client_ids": [str(int(A) + int(B))]}, "client_ids"), ({"client_ids": ["0"]}, "client_ids"),
                       ({"client_ids": "all"}, "client_ids"), ({"all": "yes"}, "all"),
                       ({"all": True, "client_ids": [A]}, "client_ids"), ({}, "client_ids"),
                       ({"all": True, "subject": ""}, "subject"), ({"all": True, "body": ""}, "body"),
                       ({"all": True, "subject": "通" * 201}, "subject")):
        full = {"subject": "x", "body": "y"}
        full.update(bad)
        kh.assert_error(am.call("POST", "/api/v1/announcements", full), 422, "invalid", field)
    assert (count(admin, A), count(admin, B)) == before
    kh.assert_error(am.call("GET", "/api/v1/announcements/123456789"), 404, "not_found")
    kh.assert_error(am.call("GET", "/api/v1/announcements/nope"), 404, "not_found")
