"""Service changes with notice periods and term history (C8.1.1) through HTTP on both engines: the
notice sent with the change (C11.1.1), the effective date refused inside the notice period, the change
applied by its job when the clock reaches it, the terms at past instants unchanged, and a whole term
walked on the fake clock through the renewal reminder and expiry to read-only (C10.1.1, C10.3.2).
Agreements on persisted calendars (C3.1.1). Every refused call changes nothing."""
import kefu_http as kh
from conftest import DAY_MS, HOUR_MS
from test_admin_api import login_as, make_user, new_site
from test_agreements_api import activate, create, path, same

NEW_SERVICES = [{"kind": "technical_support", "targets": {"P1": {"first_response": 10, "resolution": 100}},
                 "fees": [{"kind": "fixed_month", "amount_fen": 720000}]},
                {"kind": "maintenance"}]


def manager(site_admin, srv):
    """An account manager: agreement.manage, the renewal reminder, and (unlike an admin) no second
    factor, so the walk can log in again after the clock has moved past every session's end."""
    make_user(site_admin, "0", "am.qian", ["account_manager"])
    return login_as(srv, "am.qian")


def change_body(effective_at, **over):
    body = {"summary": "技术支持P1首次响应缩短为10分钟,月费调整为7200元;增加维护服务,取消培训服务。",
            "effective_at": effective_at, "services": NEW_SERVICES}
    body.update(over)
    return body


def kinds(doc):
    return sorted(s["kind"] for s in doc["services"])


def support(doc):
    return [s for s in doc["services"] if s["kind"] == "technical_support"][0]


def terms(actor, aid, cid, at):
    r = actor.call("GET", path(aid, cid, "/terms") + "&at=%d" % at)
    assert r.status == 200, r
    return r.json


def changes(actor, aid, cid):
    r = actor.call("GET", path(aid, cid, "/changes"))
    assert r.status == 200, r
    return r.json["items"]


def notification_keys(actor):
    r = actor.call("GET", "/api/v1/notifications")
    assert r.status == 200, r
    return [n["message_key"] for n in r.json["items"]]


def agreement_notices(session, aid, kind):
    """The notices of `kind` about agreement `aid` in the session's register."""
    r = session.call("GET", "/api/v1/notices?agreement_id=%s&kind=%s" % (aid, kind))
    assert r.status == 200, r
    return r.json["items"]


def test_C8_1_1_C10_1_1_C10_3_2_a_whole_term_sign_change_notice_apply_reminder_expiry_read_only(kefu, tmp_path):
    """C8.1.1 C10.1.1 C10.3.2 C11.1.1: sign → change notice → inside the notice period refused → change
    applied on its date → terms at an earlier instant unchanged → renewal reminder (and its written notice
    to the client) → expiry (and the termination notice) → read-only."""
    srv, site_admin, ids = new_site(kefu, tmp_path)
    A = ids["A"]
    admin = manager(site_admin, srv)
    boss = login_as(srv, "boss-A")
    g = create(admin, A, term_years=1, notice_days=30, reminder_days=30)
    assert admin.call("POST", path(g["id"], A, "/sign-provider")).status == 200
    r = boss.call("POST", path(g["id"], A, "/sign-client"))
    assert r.status == 200 and r.json["status"] == "active", r
    g = r.json
    aid, start, expires = g["id"], g["start_at"], g["expires_at"]
    assert kinds(g) == ["technical_support", "training"]
    # test mode leaves kefu's periodic jobs unscheduled: the walk creates the expiry job, daily
    r = srv.post("/api/v1/test/jobs", json={"kind": "agreement.expire", "period_ms": DAY_MS,
                                            "run_at": start + DAY_MS})
    assert r.status == 201, r

    # an effective date inside the 30 days' notice: refused, nothing sent, nothing changed
    for eff in (start + 10 * DAY_MS, start + 30 * DAY_MS - 1):
        kh.assert_error(admin.call("POST", path(aid, A, "/changes"), change_body(eff)), 422, "invalid", "effective_at")
    assert changes(admin, aid, A) == []
    assert "notify.notice_received" not in notification_keys(boss)
    same(admin, g, A)

    # the change with a date after the notice period: the notice is delivered now, the client sees it
    eff = start + 30 * DAY_MS + 2 * HOUR_MS
    r = admin.call("POST", path(aid, A, "/changes"), change_body(eff))
    assert r.status == 201, r
    ch = r.json
    assert ch["status"] == "pending" and ch["effective_at"] == eff and ch["services_changed"] is True
    assert ch["notice_id"] and ch["notice_delivered_at"] == start
    seen = changes(boss, aid, A)
    assert [c["id"] for c in seen] == [ch["id"]] and seen[0]["notice_id"] == ch["notice_id"]
    assert "notify.notice_received" in notification_keys(boss)
    # a second change while one is pending (or the same one submitted twice) is a conflict
    kh.assert_error(admin.call("POST", path(aid, A, "/changes"), change_body(eff)), 409, "conflict", "change")
    assert len(changes(admin, aid, A)) == 1
    # before its date the terms in force are the signed ones
    r = admin.call("GET", path(aid, A))
    assert r.status == 200 and kinds(r.json) == ["technical_support", "training"], r

    # the clock to the effective date: the job applies it; the terms change from that instant only
    srv.advance(eff + HOUR_MS - srv.clock_now())
    admin = login_as(srv, "am.qian")
    boss = login_as(srv, "boss-A")
    applied = changes(admin, aid, A)[0]
    assert applied["status"] == "applied" and applied["applied_at"] == eff, applied
    now_terms = terms(admin, aid, A, eff)
    assert kinds(now_terms) == ["maintenance", "technical_support"]
    assert support(now_terms)["targets"]["P1"] == {"first_response": 10, "resolution": 100}
    assert support(now_terms)["fees"] == [{"kind": "fixed_month", "amount_fen": 720000}]
    assert now_terms["change_id"] == ch["id"]
    before = terms(boss, aid, A, eff - 1)
    assert kinds(before) == ["technical_support", "training"]
    assert support(before)["targets"]["P1"] == {"first_response": 15, "resolution": 120}
    assert support(before)["fees"] == [{"kind": "fixed_month", "amount_fen": 600000}]
    assert before["change_id"] is None
    assert kinds(terms(boss, aid, A, start)) == ["technical_support", "training"]
    r = boss.call("GET", path(aid, A))
    assert r.status == 200 and kinds(r.json) == ["maintenance", "technical_support"], r

    # the clock into the reminder window: the renewal reminder reaches the provider's account manager once
    assert "notify.agreement_renewal_due" not in notification_keys(admin)
    srv.advance(expires - 29 * DAY_MS - srv.clock_now())
    admin = login_as(srv, "am.qian")
    assert notification_keys(admin).count("notify.agreement_renewal_due") == 1
    r = admin.call("GET", path(aid, A))
    assert r.status == 200 and r.json["status"] == "active" and r.json["reminder_sent_at"], r
    # and the client gets it in writing (C11.1.1): one renewal notice in its register, with the date
    boss = login_as(srv, "boss-A")
    renewal = agreement_notices(boss, aid, "renewal")
    assert len(renewal) == 1 and renewal[0]["sender_party"] == "provider", renewal
    assert g["contract_number"] in renewal[0]["subject"]

    # past the expiry: expired, edits and changes refused with 409, the client still reads everything
    srv.advance(expires + DAY_MS - srv.clock_now())
    admin = login_as(srv, "am.qian")
    boss = login_as(srv, "boss-A")
    r = boss.call("GET", path(aid, A))
    assert r.status == 200 and r.json["status"] == "expired" and r.json["ended_at"] == expires, r
    final = r.json
    assert notification_keys(admin).count("notify.agreement_renewal_due") == 1
    kh.assert_error(admin.call("PUT", path(aid, A), {"term_years": 1, "services": NEW_SERVICES}), 409, "conflict",
                    "status")
    kh.assert_error(admin.call("POST", path(aid, A, "/changes"), change_body(expires + 40 * DAY_MS)), 409, "conflict",
                    "status")
    assert len(changes(boss, aid, A)) == 1
    assert kinds(terms(boss, aid, A, expires - 1)) == ["maintenance", "technical_support"]
    assert kinds(terms(boss, aid, A, start)) == ["technical_support", "training"]
    r = admin.call("GET", path(aid, A))
    assert r.status == 200 and r.json == final, r
    # the termination in writing: one notice saying what remains (read-only, export), the reminder still one
    ended = agreement_notices(boss, aid, "termination")
    assert len(ended) == 1 and "只读" in boss.call("GET", "/api/v1/notices/" + ended[0]["id"]).json["body"], ended
    assert len(agreement_notices(boss, aid, "renewal")) == 1


def test_C8_1_1_withdrawn_change_leaves_no_trace_and_sends_a_correcting_notice(kefu, tmp_path):
    srv, site_admin, ids = new_site(kefu, tmp_path)
    A = ids["A"]
    admin = manager(site_admin, srv)
    boss = login_as(srv, "boss-A")
    g = activate(admin, boss, A)
    aid, start = g["id"], g["start_at"]
    eff = start + 40 * DAY_MS
    r = admin.call("POST", path(aid, A, "/changes"), change_body(eff))
    assert r.status == 201, r
    ch = r.json
    assert kinds(terms(admin, aid, A, eff)) == ["maintenance", "technical_support"]
    # the client's admin may not withdraw it; another client's id is not found
    kh.assert_error(boss.call("POST", path(aid, A, "/changes/%s/withdraw" % ch["id"])), 403, "forbidden")
    kh.assert_error(admin.call("POST", path(aid, ids["B"], "/changes/%s/withdraw" % ch["id"])), 404, "not_found")
    kh.assert_error(admin.call("POST", path(aid, A, "/changes/123/withdraw")), 404, "not_found")
    r = admin.call("POST", path(aid, A, "/changes/%s/withdraw" % ch["id"]))
    assert r.status == 200 and r.json["status"] == "withdrawn", r
    assert r.json["withdraw_notice_id"] and r.json["withdraw_notice_id"] != ch["notice_id"]
    kh.assert_error(admin.call("POST", path(aid, A, "/changes/%s/withdraw" % ch["id"])), 409, "conflict", "status")
    for at in (start, eff, eff + 100 * DAY_MS):
        t = terms(boss, aid, A, at)
        assert kinds(t) == ["technical_support", "training"] and t["change_id"] is None, t
    same(admin, g, A)
    # its date passes: it stays withdrawn, the terms stay the signed ones
    srv.advance(eff + DAY_MS - srv.clock_now())
    admin = login_as(srv, "am.qian")
    assert [c["status"] for c in changes(admin, aid, A)] == ["withdrawn"]
    assert kinds(terms(admin, aid, A, eff + DAY_MS)) == ["technical_support", "training"]


def test_C8_1_1_bad_change_input_is_refused_by_field_and_changes_nothing(kefu, tmp_path):
    srv, site_admin, ids = new_site(kefu, tmp_path)
    A = ids["A"]
    admin = manager(site_admin, srv)
    boss = login_as(srv, "boss-A")
    g = activate(admin, boss, A)
    aid, start = g["id"], g["start_at"]
    eff = start + 40 * DAY_MS
    url = path(aid, A, "/changes")
    cases = [
        (change_body("soon"), "effective_at"),
        (change_body(1.5e12), "effective_at"),
        (change_body(None), "effective_at"),
        (change_body(eff, summary=None), "summary"),
        (change_body(eff, summary=""), "summary"),
        (change_body(eff, summary=7), "summary"),
        (change_body(eff, summary="长" * 5000), "summary"),
        (change_body(eff, services="all"), "services"),
        (change_body(eff, services=[]), "services"),
        ({"summary": "只改日历", "effective_at": eff}, "services"),
        (change_body(eff, services=[{"kind": 5}]), "services[0].kind"),
        (change_body(eff, services=[{"kind": "nope"}]), "services.kind"),
        (change_body(eff, services=[{"kind": "training"}, {"kind": "training"}]), "services.kind"),
        (change_body(eff, services=[{"kind": "training", "fees": [{"kind": "per_training", "amount_fen": -1}]}]),
         "services.fees.amount_fen"),
        (change_body(eff, services=[{"kind": "training", "targets": {"P1": {"resolution": "1"}}}]),
         "services[0].targets.P1.resolution"),
        (change_body(eff, calendar_id=1), "calendar_id"),
        (change_body(eff, calendar_id="999999"), "calendar_id"),
        (change_body(start + DAY_MS), "effective_at"),
        (change_body(g["expires_at"]), "effective_at"),
    ]
    for body, field in cases:
        kh.assert_error(admin.call("POST", url, body), 422, "invalid", field)
    assert changes(admin, aid, A) == []
    # another tenant's agreement, a client user, a draft
    kh.assert_error(admin.call("POST", path(aid, ids["B"], "/changes"), change_body(eff)), 404, "not_found")
    kh.assert_error(boss.call("POST", url, change_body(eff)), 403, "forbidden")
    other = login_as(srv, "boss-B")
    kh.assert_error(other.call("GET", path(aid, A, "/changes")), 404, "not_found")
    kh.assert_error(other.call("GET", "/api/v1/agreements/%s/terms" % aid), 404, "not_found")
    d = create(admin, A)
    kh.assert_error(admin.call("POST", path(d["id"], A, "/changes"), change_body(eff)), 409, "conflict", "status")
    # terms?at= must be an instant
    for bad in ("abc", "1.5", "-3", "9" * 30):
        kh.assert_error(admin.call("GET", path(aid, A, "/terms") + "&at=" + bad), 422, "invalid", "at")
    assert changes(admin, aid, A) == []
    same(admin, g, A)


def test_C8_1_1_malformed_json_is_400_and_changes_nothing(kefu, tmp_path):
    srv, site_admin, ids = new_site(kefu, tmp_path)
    A = ids["A"]
    admin = manager(site_admin, srv)
    boss = login_as(srv, "boss-A")
    g = activate(admin, boss, A)
    for aid in (g["id"], "123"):
        kh.assert_error(admin.post(path(aid, A, "/changes"), body=b'{"summary": "x", '), 400, "bad_json")
    assert changes(admin, g["id"], A) == []


def test_C3_1_1_C8_1_1_agreements_on_persisted_calendars_and_a_calendar_change(kefu, tmp_path):
    srv, site_admin, ids = new_site(kefu, tmp_path)
    A = ids["A"]
    admin = manager(site_admin, srv)
    boss = login_as(srv, "boss-A")
    r = site_admin.call("POST", "/api/v1/calendars", {"name": "乌鲁木齐工作时间", "zone": "Asia/Urumqi"})
    assert r.status == 201, r
    urumqi = r.json["id"]
    r = site_admin.call("POST", "/api/v1/calendars", {"name": "7×24", "zone": "Asia/Shanghai"})
    assert r.status == 201, r
    round_clock = r.json["id"]
    # the calendar's zone when no calendar_zone is given
    d = create(admin, A, calendar_id=urumqi, calendar_zone=None)
    assert d["calendar_id"] == urumqi and d["calendar_zone"] == "Asia/Urumqi", d
    d2 = create(admin, A, calendar_id=urumqi, calendar_zone="Asia/Shanghai")
    assert d2["calendar_id"] == urumqi and d2["calendar_zone"] == "Asia/Shanghai", d2
    for bad in ("999999", 3, "x"):
        kh.assert_error(admin.call("POST", "/api/v1/agreements", dict(d, client_id=A, calendar_id=bad,
                                                                      services=NEW_SERVICES)),
                        422, "invalid", "calendar_id")
    # an active agreement on the default calendar moves to the 7×24 one by a change
    g = activate(admin, boss, A)
    assert g["calendar_id"] is None
    start = g["start_at"]
    eff = start + 31 * DAY_MS
    r = admin.call("POST", path(g["id"], A, "/changes"), {"summary": "服务时间调整为7×24小时", "effective_at": eff,
                                                          "calendar_id": round_clock})
    assert r.status == 201 and r.json["calendar_changed"] and r.json["services_changed"] is False, r
    assert r.json["calendar_before"] is None and r.json["calendar_after"] == round_clock
    assert terms(boss, g["id"], A, eff - 1)["calendar_id"] == "1"
    assert terms(boss, g["id"], A, eff)["calendar_id"] == round_clock
    assert kinds(terms(boss, g["id"], A, eff)) == ["technical_support", "training"]
    srv.advance(eff - srv.clock_now())
    admin = login_as(srv, "am.qian")
    r = admin.call("GET", path(g["id"], A))
    assert r.status == 200 and r.json["calendar_id"] == round_clock, r
    assert terms(admin, g["id"], A, start)["calendar_id"] == "1"


def test_C10_1_1_test_mode_creates_the_expiry_job_once_and_refuses_other_kinds(kefu):
    """Test mode leaves kefu's periodic jobs unscheduled; POST /api/v1/test/jobs creates
    agreement.expire (once: a second call answers id "0") and refuses any other kind."""
    srv = kefu()
    r = srv.post("/api/v1/test/jobs", json={"kind": "agreement.expire", "period_ms": DAY_MS,
                                            "run_at": srv.clock_now() + DAY_MS})
    assert r.status == 201 and r.json["id"] != "0", r
    r2 = srv.post("/api/v1/test/jobs", json={"kind": "agreement.expire", "period_ms": DAY_MS})
    assert r2.status == 201 and r2.json["id"] == "0", r2
    for bad in ("audit.checkpoint", 7, "agreement.change_apply"):
        kh.assert_error(srv.post("/api/v1/test/jobs", json={"kind": bad}), 422, "invalid", "kind")
    r = srv.get("/api/v1/test/jobs/%s" % r.json["id"])
    assert r.status == 200 and r.json["kind"] == "agreement.expire" and r.json["period_ms"] == DAY_MS, r
    assert srv.advance(3 * DAY_MS)["jobs_run"] == 3
