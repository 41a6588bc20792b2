"""Acceptance and remediation through HTTP on both engines (issue 6 item 4; C5.1.2, C5.1.1): the
client rejects a resolution with a reason, the request reopens as counted remediation and stays open
until accepted; silence past the acceptance window accepts (fake clock and the request.acceptance
job); who may decide for acceptance_by client and customer; deciding twice is 409; closed requests
keep their history. Every refused call changes nothing."""
import kefu_http as kh
from test_admin_api import login_as, make_user, new_site
from test_agreements_api import create, path as ag_path

DAY_MS = 24 * 60 * 60 * 1000


def rpath(rid, cid, tail=""):
    return "/api/v1/requests/%s%s?client_id=%s" % (rid, tail, cid)


def agreement(admin, boss, cid, **over):
    g = create(admin, cid, **over)
    assert admin.call("POST", ag_path(g["id"], cid, "/sign-provider")).status == 200
    r = boss.call("POST", ag_path(g["id"], cid, "/sign-client"))
    assert r.status == 200 and r.json["status"] == "active", r
    return r.json


def resolved(admin, cid, **over):
    b = {"client_id": cid, "service_kind": "technical_support", "channel": "phone", "priority": "P2",
         "subject": "打印机无法连接网络", "body": "HP-1020 无法打印。"}
    b.update(over)
    r = admin.call("POST", "/api/v1/requests", b)
    assert r.status == 201, r
    rid = r.json["id"]
    r = admin.call("POST", rpath(rid, cid, "/status"), {"status": "resolved", "reason": "更换网线"})
    assert r.status == 200 and r.json["status"] == "resolved" and r.json["remediation_count"] == 0, r
    return r.json


def worker(site_admin, srv):
    """An account manager and agent without a second factor, so a walk can log in again after the
    fake clock has outrun every session (the site's administrator has one)."""
    make_user(site_admin, "0", "am.agent", ["account_manager", "agent"])
    return login_as(srv, "am.agent")


def relogin(srv, admin):
    return login_as(srv, "am.agent")


def get(actor, rid, cid):
    r = actor.call("GET", rpath(rid, cid))
    assert r.status == 200, r
    return r.json


def stored(request):
    """The request without `sla`, which is computed at the instant of each read."""
    return {k: v for k, v in request.items() if k != "sla"}


def history(actor, rid, cid):
    r = actor.call("GET", rpath(rid, cid, "/history"))
    assert r.status == 200, r
    return r.json["items"]


def test_C5_1_2_reject_reopens_as_remediation_then_accept_closes_and_history_stays(kefu, tmp_path):
    """C5.1.2: resolve → reject (reason) → reopened as remediation (counted) → resolve → accept →
    closed; twice is 409; the closed request keeps its history and the reason as a public message."""
    srv, admin, ids = new_site(kefu, tmp_path)
    A = ids["A"]
    boss = login_as(srv, "boss-A")
    agreement(admin, boss, A)
    make_user(admin, A, "staff.a", ["client_staff"])
    staff = login_as(srv, "staff.a")
    q = resolved(admin, A)
    rid = q["id"]
    # bad input first: no reason, empty, oversized, wrong type, another client's user; nothing changes
    r = srv.request("POST", rpath(rid, A, "/reject"), body=b'{"reason": ',
                    headers={"Cookie": staff.cookie, "X-CSRF-Token": staff.csrf, "Content-Type": "application/json"})
    kh.assert_error(r, 400, "bad_json")
    kh.assert_error(staff.call("POST", rpath(rid, A, "/reject"), {}), 422, "invalid", "reason")
    kh.assert_error(staff.call("POST", rpath(rid, A, "/reject"), {"reason": ""}), 422, "invalid", "reason")
    kh.assert_error(staff.call("POST", rpath(rid, A, "/reject"), {"reason": "x" * 4001}), 422, "invalid", "reason")
    kh.assert_error(staff.call("POST", rpath(rid, A, "/reject"), {"reason": 7}), 422, "invalid", "reason")
    other = login_as(srv, "boss-B")
    kh.assert_error(other.call("POST", rpath(rid, A, "/reject"), {"reason": "别人的"}), 404, "not_found")
    kh.assert_error(other.call("POST", "/api/v1/requests/%s/accept" % rid), 404, "not_found")
    assert get(admin, rid, A) == q
    # the client's staff rejects with a reason
    r = staff.call("POST", rpath(rid, A, "/reject"), {"reason": "打印机仍然无法连接"})
    assert r.status == 200, r
    assert r.json["status"] == "reopened" and r.json["remediation_count"] == 1, r
    assert r.json["resolved_at"] is None and r.json["closed_at"] is None
    # the queue's stored SLA columns follow in the same write: the remediation's fresh clock runs
    live = get(admin, rid, A)
    clocks = [live["sla"][k] for k in ("first_response", "resolution")]
    assert live["sla_state"] == "running" and live["sla_state"] == live["sla"]["resolution"]["state"], live
    assert live["sla_due_at"] == min(k["due_at"] for k in clocks if k["due_at"] and k["stop_at"] is None), live
    ev = history(staff, rid, A)
    assert [(e["from"], e["to"], e["reason"]) for e in ev if e["kind"] == "status"][-1] == \
        ("resolved", "reopened", "打印机仍然无法连接"), ev
    msgs = staff.call("GET", rpath(rid, A, "/messages")).json["items"]
    assert [m["body"] for m in msgs if m["kind"] == "public"] == ["打印机仍然无法连接"], msgs
    # still open: nothing to accept until it is resolved again
    kh.assert_error(staff.call("POST", rpath(rid, A, "/accept")), 409, "conflict", "status")
    r = admin.call("POST", rpath(rid, A, "/status"), {"status": "resolved"})
    assert r.status == 200, r
    r = boss.call("POST", rpath(rid, A, "/accept"))
    assert r.status == 200 and r.json["status"] == "closed" and r.json["closed_at"], r
    assert r.json["remediation_count"] == 1
    closed = r.json
    assert closed["sla_state"] == get(admin, rid, A)["sla_state"] and closed["sla_state"] in ("met", "missed"), closed
    # twice: 409, both ways, and nothing changes
    kh.assert_error(boss.call("POST", rpath(rid, A, "/accept")), 409, "conflict", "status")
    kh.assert_error(staff.call("POST", rpath(rid, A, "/reject"), {"reason": "再次"}), 409, "conflict", "status")
    assert get(admin, rid, A) == closed
    # the history keeps every step: created, priority, resolved, reopened, resolved, closed
    tos = [e["to"] for e in history(boss, rid, A) if e["kind"] == "status"]
    assert tos == ["new", "resolved", "reopened", "resolved", "closed"], tos
    # audited on the client's chain
    acts = [e["action"] for e in boss.call("GET", "/api/v1/audit?client_id=%s" % A).json["items"]]
    assert "request.reject" in acts and "request.accept" in acts


def test_C5_1_2_who_may_accept_for_acceptance_by_client_and_customer(kefu, tmp_path):
    """C5.1.2: for acceptance_by "client" the client's admin and staff decide, not provider staff
    (403) nor a client supervisor (403); for "customer" the client's own people may not (403) — the
    customer decides through the tracking link."""
    srv, admin, ids = new_site(kefu, tmp_path)
    A, B = ids["A"], ids["B"]
    boss = login_as(srv, "boss-A")
    boss_b = login_as(srv, "boss-B")
    agreement(admin, boss, A)
    agreement(admin, boss_b, B, acceptance_by="customer")
    make_user(admin, A, "sup.a", ["client_supervisor"])
    sup = login_as(srv, "sup.a")
    q = resolved(admin, A)
    kh.assert_error(admin.call("POST", rpath(q["id"], A, "/accept")), 403, "forbidden")
    kh.assert_error(admin.call("POST", rpath(q["id"], A, "/reject"), {"reason": "代客户拒绝"}), 403, "forbidden")
    kh.assert_error(sup.call("POST", rpath(q["id"], A, "/accept")), 403, "forbidden")
    assert get(admin, q["id"], A) == q
    qb = resolved(admin, B)
    kh.assert_error(boss_b.call("POST", rpath(qb["id"], B, "/accept")), 403, "forbidden")
    kh.assert_error(boss_b.call("POST", rpath(qb["id"], B, "/reject"), {"reason": "不满意"}), 403, "forbidden")
    assert get(admin, qb["id"], B) == qb
    # the right people: accepted first time
    r = boss.call("POST", rpath(q["id"], A, "/accept"))
    assert r.status == 200 and r.json["status"] == "closed" and r.json["remediation_count"] == 0, r
    # a request that was never resolved
    r = admin.call("POST", "/api/v1/requests", {"client_id": A, "service_kind": "technical_support",
                                                "subject": "未解决"})
    assert r.status == 201, r
    kh.assert_error(boss.call("POST", rpath(r.json["id"], A, "/accept")), 409, "conflict", "status")
    kh.assert_error(boss.call("POST", rpath("123456789", A, "/accept")), 404, "not_found")


def test_C5_1_2_silence_past_the_window_accepts(kefu, tmp_path):
    """C5.1.2: silence past acceptance_days (of the terms in force at the resolution) accepts: the
    request.acceptance job closes it; past the window a rejection is 409 even before the job runs."""
    srv, site_admin, ids = new_site(kefu, tmp_path)
    admin = worker(site_admin, srv)
    A = ids["A"]
    boss = login_as(srv, "boss-A")
    agreement(admin, boss, A, acceptance_days=3)
    q = resolved(admin, A)
    q2 = resolved(admin, A, subject="第二个")
    r = srv.post("/api/v1/test/jobs", json={"kind": "request.acceptance", "period_ms": DAY_MS,
                                            "run_at": srv.clock_now() + DAY_MS})
    assert r.status == 201 and r.json["id"] != "0", r
    r2 = srv.post("/api/v1/test/jobs", json={"kind": "request.acceptance", "period_ms": DAY_MS})
    assert r2.status == 201 and r2.json["id"] == "0", r2
    # within the window (2 days): still resolved, rejections still accepted
    srv.advance(2 * DAY_MS)
    admin, boss = relogin(srv, admin), login_as(srv, "boss-A")   # sessions lapse while the clock runs
    assert get(admin, q["id"], A)["status"] == "resolved"
    r = boss.call("POST", rpath(q2["id"], A, "/reject"), {"reason": "没修好"})
    assert r.status == 200 and r.json["status"] == "reopened", r
    # the third day: silence has accepted
    srv.advance(DAY_MS)
    admin, boss = relogin(srv, admin), login_as(srv, "boss-A")
    got = get(admin, q["id"], A)
    assert got["status"] == "closed" and got["closed_at"], got
    ev = [e for e in history(boss, q["id"], A) if e["kind"] == "status"]
    assert (ev[-1]["from"], ev[-1]["to"], ev[-1]["reason"]) == ("resolved", "closed", "accepted by silence"), ev
    # the reopened one is not touched by silence: it stays open until accepted
    assert get(admin, q2["id"], A)["status"] == "reopened"
    kh.assert_error(boss.call("POST", rpath(q["id"], A, "/reject"), {"reason": "太晚"}), 409, "conflict", "status")


def test_C5_1_2_a_late_rejection_is_refused_before_the_job_runs(kefu, tmp_path):
    """C5.1.2: the window is a fact of time: past it a rejection is 409 though no job ran, and an
    explicit acceptance still closes."""
    srv, site_admin, ids = new_site(kefu, tmp_path)
    admin = worker(site_admin, srv)
    A = ids["A"]
    boss = login_as(srv, "boss-A")
    agreement(admin, boss, A, acceptance_days=1)
    q = resolved(admin, A)
    srv.advance(DAY_MS)
    admin, boss = relogin(srv, admin), login_as(srv, "boss-A")
    kh.assert_error(boss.call("POST", rpath(q["id"], A, "/reject"), {"reason": "晚了"}), 409, "conflict", "status")
    # unchanged: every stored field; the SLA clocks are figures evaluated at the moment of reading
    assert stored(get(admin, q["id"], A)) == stored(q)
    r = boss.call("POST", rpath(q["id"], A, "/accept"))
    assert r.status == 200 and r.json["status"] == "closed", r
