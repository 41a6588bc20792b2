"""SLA clocks of service requests through HTTP on both engines (issue 6 item 3): targets from the terms
in force at creation (C2.2.1), due times in business time on the agreement's calendar (C3.1.2) —
across the 2026 Spring Festival with its make-up working Saturdays (2/14, 2/28) and over a lunch break —
a waiting-on-customer pause, a priority change recomputed from the history, warnings and breaches by
the request.sla job (once each), and the breach record's facts for liability (C5.3). Every expected
instant is written out as an Asia/Shanghai wall time."""
from datetime import datetime, timedelta, timezone

import kefu_http as kh
from test_admin_api import login_as, make_user, new_site
from test_agreements_api import activate
from test_requests_api import body, rpath

CST = timezone(timedelta(hours=8))
MIN = 60000
HOUR = 60 * MIN


def sh(text):
    """UTC ms of an Asia/Shanghai wall time 'YYYY-MM-DD HH:MM'."""
    return int(datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=CST).timestamp() * 1000)


class Who:
    """A user's session that logs in again when the fake clock has moved past its idle timeout (the
    site's admin has a second factor: after a move the provider side acts through other users)."""

    def __init__(self, srv, name):
        self.srv, self.name = srv, name
        self.actor = login_as(srv, name)

    def call(self, *args, **kw):
        r = self.actor.call(*args, **kw)
        if r.status == 401:
            self.actor = login_as(self.srv, self.name)
            r = self.actor.call(*args, **kw)
        return r


def site_at(kefu, tmp_path, start):
    """A site (test_admin_api.new_site) whose fake clock starts at wall time `start`."""
    srv, admin, ids = new_site(lambda: kefu(clock_start=sh(start)), tmp_path)
    boss = Who(srv, "boss-A")
    activate(admin, boss, ids["A"])
    return srv, admin, boss, ids


def sla(actor, rid, cid):
    r = actor.call("GET", rpath(rid, cid))
    assert r.status == 200, r
    return r.json["sla"]


def move(srv, to):
    """Moves the fake clock forward to wall time `to` (Asia/Shanghai)."""
    now = srv.clock_now()
    assert sh(to) >= now, (to, now)
    if sh(to) > now:
        srv.advance(sh(to) - now)
    assert srv.clock_now() == sh(to)


def keys(actor, prefix="notify.request_sla"):
    r = actor.call("GET", "/api/v1/notifications")
    assert r.status == 200, r
    return sorted(n["message_key"] for n in r.json["items"] if n["message_key"].startswith(prefix))


def test_C3_1_2_C2_2_1_due_times_across_the_spring_festival_and_its_make_up_saturdays(kefu, tmp_path):
    """A P4 technical-support request (first response 480, resolution 2880 business minutes) raised on
    Friday 2026-02-13 16:00: both clocks run on Saturday 2/14 (a make-up working day), stand still
    over the festival 2/15–2/23, and the resolution falls due on Saturday 2/28 (the second make-up day)."""
    srv, admin, boss, ids = site_at(kefu, tmp_path, "2026-02-13 16:00")
    A = ids["A"]
    r = admin.call("POST", "/api/v1/requests", body(A, priority="P4"))
    assert r.status == 201, r
    q = r.json
    assert q["created"] == sh("2026-02-13 16:00")
    s = q["sla"]
    assert s["priority"] == "P4" and s["calendar_id"] == "1"
    fr, res = s["first_response"], s["resolution"]
    assert fr["target_minutes"] == 480 and res["target_minutes"] == 2880
    # 16:00–18:00 Friday (2 h), Saturday 2/14 09:00–12:00 (5 h), 13:00–16:00 (8 h)
    assert fr["due_at"] == sh("2026-02-14 16:00")
    assert fr["warn_at"] == sh("2026-02-14 14:00")            # 360 minutes: 2 h + 3 h + 1 h
    # 2/13 2 h, 2/14 8 h, festival off, 2/24–2/27 4 × 8 h (42 h), 2/28 09:00–12:00, 13:00–16:00
    assert res["due_at"] == sh("2026-02-28 16:00")
    assert res["warn_at"] == sh("2026-02-27 11:00")           # 2160 minutes: 34 h by 2/26, +2 h
    assert fr["state"] == res["state"] == "running" and res["cycle"] == 0
    assert fr["counted_minutes"] == 0 and fr["paused_minutes"] == {"customer": 0, "client": 0}
    # the list items carry the same clocks
    r = admin.call("GET", "/api/v1/requests?client_id=%s" % A)
    assert r.status == 200 and r.json["items"][0]["sla"]["resolution"]["due_at"] == sh("2026-02-28 16:00"), r

    # the festival counts nothing: Sunday 2/22 noon has the same counted time as Saturday 2/14 18:00
    move(srv, "2026-02-22 12:00")
    s = sla(boss, q["id"], A)
    assert s["resolution"]["counted_minutes"] == 600 and s["resolution"]["state"] == "running"
    assert s["first_response"]["state"] == "breached" and s["first_response"]["overdue_minutes"] == 120
    assert s["first_response"]["late_ms"] == sh("2026-02-22 12:00") - sh("2026-02-14 16:00")
    move(srv, "2026-02-27 11:00")
    s = sla(boss, q["id"], A)
    assert s["resolution"]["state"] == "warning" and s["resolution"]["counted_minutes"] == 2160
    move(srv, "2026-02-28 16:00")
    s = sla(boss, q["id"], A)
    assert s["resolution"]["state"] == "warning" and s["resolution"]["counted_minutes"] == 2880
    move(srv, "2026-02-28 16:01")
    s = sla(boss, q["id"], A)
    assert s["resolution"]["state"] == "breached" and s["resolution"]["overdue_minutes"] == 1
    assert s["breaches"] == []                                 # no job ran: nothing was recorded


def test_C3_1_2_C5_3_lunch_break_pause_priority_change_warnings_and_breach_records(kefu, tmp_path):
    """A P2 request raised Tuesday 2026-03-03 11:30, assigned to an agent, with the request.sla job
    every 15 minutes. The first response (60 minutes) falls due after the lunch break, at 13:30;
    its warning (13:15) and breach (detected 13:45) fire once each, to the assignee and the
    supervisor. A wait on the customer from 14:00 to Wednesday 10:00 pauses the resolution clock
    (300 business minutes on the customer's side); a priority change to P1 at 10:00 recomputes the
    resolution due time from the creation with the same pause — 10:30 Wednesday, not 2 h from now —
    and its warning and breach follow."""
    srv, admin, boss, ids = site_at(kefu, tmp_path, "2026-03-03 11:30")
    A = ids["A"]
    agent = make_user(admin, "0", "agent.wang", ["agent"])
    make_user(admin, "0", "sup.li", ["supervisor"])
    wang, li = Who(srv, "agent.wang"), Who(srv, "sup.li")
    r = admin.call("POST", "/api/v1/requests", body(A, priority="P2", customer_id=ids["customerA"]))
    assert r.status == 201, r
    rid = r.json["id"]
    s = r.json["sla"]
    assert s["first_response"]["due_at"] == sh("2026-03-03 13:30")     # 11:30–12:00, lunch, 13:00–13:30
    assert s["first_response"]["warn_at"] == sh("2026-03-03 13:15")
    assert s["resolution"]["due_at"] == sh("2026-03-04 11:30")         # 30 + 300 min Tuesday, 150 Wednesday
    assert s["resolution"]["warn_at"] == sh("2026-03-04 09:30")        # 360 minutes
    assert admin.call("POST", rpath(rid, A, "/assign"), {"assignee_id": agent}).status == 200
    r = srv.post("/api/v1/test/jobs", json={"kind": "request.sla", "period_ms": 15 * MIN,
                                            "run_at": sh("2026-03-03 11:45")})
    assert r.status == 201 and r.json["id"] != "0", r

    # the lunch break counts nothing: at 13:00 the clock stands where it stood at 12:00
    move(srv, "2026-03-03 13:00")
    s = sla(li, rid, A)["first_response"]
    assert s["counted_minutes"] == 30 and s["state"] == "running"
    assert keys(wang) == []
    move(srv, "2026-03-03 13:15")
    assert sla(li, rid, A)["first_response"]["state"] == "warning"
    assert keys(wang) == keys(li) == ["notify.request_sla_warning_first_response"]
    move(srv, "2026-03-03 13:30")                                      # due, not yet past it
    assert keys(wang) == ["notify.request_sla_warning_first_response"]
    move(srv, "2026-03-03 13:45")
    expected = ["notify.request_sla_breach_first_response", "notify.request_sla_warning_first_response"]
    assert keys(wang) == keys(li) == expected
    # the agent answers at 14:00 (late: "missed") and asks the customer; the resolution clock pauses
    move(srv, "2026-03-03 14:00")
    assert wang.call("POST", rpath(rid, A, "/replies"), {"body": "请提供打印机型号。"}).status == 201
    r = wang.call("POST", rpath(rid, A, "/status"), {"status": "waiting_customer"})
    assert r.status == 200, r
    s = sla(li, rid, A)
    assert s["first_response"]["state"] == "missed" and s["first_response"]["stop_at"] == sh("2026-03-03 14:00")
    assert s["first_response"]["overdue_minutes"] == 30
    assert s["resolution"]["state"] == "paused" and s["resolution"]["due_at"] is None
    assert s["resolution"]["counted_minutes"] == 90
    move(srv, "2026-03-04 09:45")
    s = sla(li, rid, A)["resolution"]
    assert s["state"] == "paused" and s["counted_minutes"] == 90
    assert s["paused_minutes"] == {"customer": 240 + 45, "client": 0}
    assert keys(wang) == expected                                      # nothing fired during the pause
    # the client's side answers at 10:00: the request opens, the clock resumes with 390 minutes left
    move(srv, "2026-03-04 10:00")
    assert boss.call("POST", rpath(rid, A, "/replies"), {"body": "型号 HP-1020。"}).status == 201
    s = sla(li, rid, A)["resolution"]
    assert s["state"] == "running" and s["paused_minutes"] == {"customer": 300, "client": 0}
    assert s["due_at"] == sh("2026-03-04 17:30")                       # 10–12 (120), 13:00 + 270
    assert s["warn_at"] == sh("2026-03-04 15:30")                      # 360: 90 + 120 + 150
    # bad input on the priority change changes nothing
    for bad in ("P9", "P0", 1, "", "p1", "P1" * 100):
        kh.assert_error(li.call("PATCH", rpath(rid, A), {"priority": bad}), 422, "invalid", "priority")
    assert sla(li, rid, A)["resolution"]["due_at"] == sh("2026-03-04 17:30")
    # P1 (this agreement's personalised 15 / 120, C2.2.2) at 10:00: 120 minutes from the creation over
    # the same history — 90 before the pause, 30 after it → 10:30 Wednesday (from now: 12:00)
    r = li.call("PATCH", rpath(rid, A), {"priority": "P1", "reason": "影响生产"})
    assert r.status == 200, r
    s = sla(li, rid, A)
    assert s["priority"] == "P1"
    assert s["resolution"]["target_minutes"] == 120 and s["resolution"]["due_at"] == sh("2026-03-04 10:30")
    assert s["resolution"]["warn_at"] == sh("2026-03-03 14:00")        # 90 minutes: reached as the pause began
    assert s["resolution"]["state"] == "warning"
    assert s["first_response"]["due_at"] == sh("2026-03-03 11:45")    # 15 minutes from 11:30
    assert s["first_response"]["state"] == "missed"
    move(srv, "2026-03-04 10:15")
    assert keys(wang) == sorted(expected + ["notify.request_sla_warning_resolution"])
    move(srv, "2026-03-04 10:30")
    assert keys(wang) == sorted(expected + ["notify.request_sla_warning_resolution"])
    move(srv, "2026-03-04 10:45")
    every = sorted(expected + ["notify.request_sla_warning_resolution", "notify.request_sla_breach_resolution"])
    assert keys(wang) == keys(li) == every
    # hours of further job runs add nothing (once per clock and request)
    move(srv, "2026-03-04 18:00")
    assert keys(wang) == keys(li) == every

    # the breach records (C5.3): which target, due, by how much, and the waiting on each side
    r = boss.call("GET", rpath(rid, A, "/breaches"))
    assert r.status == 200, r
    b = r.json["items"]
    assert [(x["clock"], x["kind"], x["cycle"]) for x in b] == [("first_response", "breach", 0),
                                                                ("resolution", "breach", 0)]
    f, z = b
    assert f["priority"] == "P2" and f["target_minutes"] == 60 and f["due_at"] == sh("2026-03-03 13:30")
    assert f["detected_at"] == sh("2026-03-03 13:45") and f["late_ms"] == 15 * MIN
    assert f["overdue_minutes"] == 15 and f["paused_minutes"] == {"customer": 0, "client": 0}
    assert z["priority"] == "P1" and z["target_minutes"] == 120 and z["due_at"] == sh("2026-03-04 10:30")
    assert z["detected_at"] == sh("2026-03-04 10:45") and z["late_ms"] == 15 * MIN
    assert z["overdue_minutes"] == 15 and z["counted_minutes"] == 135
    assert z["paused_minutes"] == {"customer": 300, "client": 0}
    r = li.call("GET", rpath(rid, A, "/breaches") + "&kind=all")
    assert r.status == 200 and len(r.json["items"]) == 4, r
    assert sla(boss, rid, A)["breaches"] == b
    # audited on the client's chain
    r = boss.call("GET", "/api/v1/audit?client_id=%s" % A)
    actions = [e["action"] for e in r.json["items"]]
    assert actions.count("request.sla_breach") == 2 and actions.count("request.sla_warning") == 2, actions


def test_C3_1_2_waiting_on_the_client_and_a_reopened_request_gets_a_fresh_clock(kefu, tmp_path):
    """waiting_client pauses for the client's side (C5.3); a resolved request's clock stops (met), and
    reopening it starts cycle 1: the whole target again from the reopening instant."""
    srv, admin, boss, ids = site_at(kefu, tmp_path, "2026-03-03 09:00")
    A = ids["A"]
    rid = admin.call("POST", "/api/v1/requests", body(A, priority="P1")).json["id"]   # 15 / 120 (personalised)
    make_user(admin, "0", "agent.zhao", ["agent"])
    admin = Who(srv, "agent.zhao")
    move(srv, "2026-03-03 09:10")
    assert admin.call("POST", rpath(rid, A, "/replies"), {"body": "收到。"}).status == 201
    assert admin.call("POST", rpath(rid, A, "/status"), {"status": "waiting_client"}).status == 200
    move(srv, "2026-03-03 14:00")                                      # paused 09:10–12:00, 13:00–14:00
    assert admin.call("POST", rpath(rid, A, "/status"), {"status": "open"}).status == 200
    s = sla(admin, rid, A)
    assert s["first_response"]["state"] == "met" and s["first_response"]["counted_minutes"] == 10
    assert s["resolution"]["paused_minutes"] == {"customer": 0, "client": 230}
    assert s["resolution"]["due_at"] == sh("2026-03-03 15:50")         # 14:00 + the 110 minutes left
    move(srv, "2026-03-03 15:00")
    assert admin.call("POST", rpath(rid, A, "/status"), {"status": "resolved"}).status == 200
    s = sla(admin, rid, A)["resolution"]
    assert s["state"] == "met" and s["stop_at"] == sh("2026-03-03 15:00") and s["counted_minutes"] == 70
    move(srv, "2026-03-04 09:00")
    assert admin.call("POST", rpath(rid, A, "/status"), {"status": "reopened"}).status == 200
    s = sla(admin, rid, A)["resolution"]
    assert s["cycle"] == 1 and s["start_at"] == sh("2026-03-04 09:00") and s["state"] == "running"
    assert s["due_at"] == sh("2026-03-04 11:00") and s["counted_minutes"] == 0   # 120 minutes again


def test_C3_1_2_breaches_route_bad_input_and_tenant_isolation(kefu, tmp_path):
    srv, admin, boss, ids = site_at(kefu, tmp_path, "2026-03-03 09:00")
    A, B = ids["A"], ids["B"]
    rid = admin.call("POST", "/api/v1/requests", body(A)).json["id"]
    r = boss.call("GET", "/api/v1/requests/%s/breaches" % rid)
    assert r.status == 200 and r.json["items"] == [], r
    kh.assert_error(boss.call("GET", "/api/v1/requests/%s/breaches?kind=late" % rid), 422, "invalid", "kind")
    kh.assert_error(boss.call("GET", "/api/v1/requests/%s/breaches?kind=%s" % (rid, "x" * 5000)), 422, "invalid",
                    "kind")
    other = Who(srv, "boss-B")
    kh.assert_error(other.call("GET", "/api/v1/requests/%s/breaches" % rid), 404, "not_found")
    kh.assert_error(other.call("GET", "/api/v1/requests/%s/breaches?client_id=%s" % (rid, A)), 404, "not_found")
    kh.assert_error(admin.call("GET", "/api/v1/requests/%s/breaches?client_id=%s" % (rid, B)), 404, "not_found")
    r = admin.call("GET", "/api/v1/requests/abc/breaches?client_id=%s" % A)
    assert r.status in (404, 422), r
    kh.assert_error(admin.call("GET", "/api/v1/requests/123456789/breaches?client_id=%s" % A), 404, "not_found")
    # test mode creates the job once
    r = srv.post("/api/v1/test/jobs", json={"kind": "request.sla", "period_ms": MIN})
    assert r.status == 201 and r.json["id"] != "0", r
    r = srv.post("/api/v1/test/jobs", json={"kind": "request.sla", "period_ms": MIN})
    assert r.status == 201 and r.json["id"] == "0", r
