"""The agreements API (issue 5): the service catalogue, drafts with personalised plans, the two
signatures, contract numbers and dissolution, through HTTP on both engines. Clauses: C1.1 (contract
number, parties), C1.3.1 (effective on both signatures), C2.1.1 (the catalogue), C2.2.2 (personalised
plans), C10.2.1 (dissolution). Every refused call changes nothing: the agreement reads the same after."""
import datetime

import kefu_http as kh
from test_admin_api import login_as, make_user, new_site


def services(fee=None):
    svc = {"kind": "technical_support", "targets": {"P1": {"first_response": 15, "resolution": 120}}}
    if fee is not None:
        svc["fees"] = fee
    return [svc, {"kind": "training"}]


def draft(client_id=None, **over):
    body = {"term_years": 3, "notice_days": 30, "acceptance_by": "client", "acceptance_days": 5,
            "reminder_days": 60, "supplementary_terms": "## 补充条款\n\n双方友好协商。",
            "client_contact_name": "李经理", "client_contact_phone": "13800138000",
            "services": services([{"kind": "fixed_month", "amount_fen": 600000}])}
    if client_id is not None:
        body["client_id"] = client_id
    body.update(over)
    return body


def path(aid, cid, tail=""):
    return "/api/v1/agreements/%s%s?client_id=%s" % (aid, tail, cid)


def create(admin, cid, **over):
    r = admin.call("POST", "/api/v1/agreements", draft(cid, **over))
    assert r.status == 201, r
    return r.json


def activate(admin, boss, cid):
    g = create(admin, cid)
    r = admin.call("POST", path(g["id"], cid, "/sign-provider"))
    assert r.status == 200, r
    r = boss.call("POST", path(g["id"], cid, "/sign-client"))
    assert r.status == 200 and r.json["status"] == "active", r
    return r.json


def same(admin, g, cid):
    """The agreement reads as it did: nothing changed."""
    r = admin.call("GET", path(g["id"], cid))
    assert r.status == 200, r
    assert r.json == g, (r.json, g)


def test_C2_1_1_the_catalogue_has_the_four_kinds_and_admins_add_kinds(kefu, tmp_path):
    srv, admin, ids = new_site(kefu, tmp_path)
    boss = login_as(srv, "boss-A")
    r = boss.call("GET", "/api/v1/service-kinds")
    assert r.status == 200, r
    codes = [k["code"] for k in r.json["items"]]
    assert codes[:4] == ["consulting", "technical_support", "maintenance", "training"]
    assert all(k["builtin"] for k in r.json["items"][:4])
    assert r.json["items"][1]["targets"]["P1"] == {"first_response": 30, "resolution": 240}
    targets = {"P%d" % i: {"first_response": 10 * i, "resolution": 100 * i} for i in range(1, 5)}
    body = {"code": "onsite_audit", "name_zh": "现场审计", "name_en": "On-site audit", "targets": targets,
            "fees": [{"kind": "per_visit", "amount_fen": 120000}]}
    r = admin.call("POST", "/api/v1/service-kinds", body)
    assert r.status == 201, r
    assert r.json["code"] == "onsite_audit" and r.json["builtin"] is False
    assert r.json["fees"] == [{"kind": "per_visit", "amount_fen": 120000}]
    kh.assert_error(admin.call("POST", "/api/v1/service-kinds", body), 409, "conflict", "code")
    kh.assert_error(admin.call("POST", "/api/v1/service-kinds", dict(body, code="x1", targets={"P1": targets["P1"]})),
                    422, "invalid", "targets")
    kh.assert_error(admin.call("POST", "/api/v1/service-kinds", dict(body, code="x2", targets=None)), 422, "invalid",
                    "targets")
    kh.assert_error(admin.call("POST", "/api/v1/service-kinds",
                               dict(body, code="x3", fees=[{"kind": "per_visit", "amount_fen": "1"}])),
                    422, "invalid", "fees[0].amount_fen")
    am = make_user(admin, "0", "am.zhao", ["account_manager"])
    assert am
    kh.assert_error(login_as(srv, "am.zhao").call("POST", "/api/v1/service-kinds", dict(body, code="x4")), 403,
                    "forbidden")
    kh.assert_error(boss.call("POST", "/api/v1/service-kinds", dict(body, code="x5")), 404, "not_found")
    # the new kind serves in an agreement
    g = create(admin, ids["A"], services=[{"kind": "onsite_audit"}])
    assert g["services"][0]["kind"] == "onsite_audit"
    assert g["services"][0]["fees"] == [{"kind": "per_visit", "amount_fen": 120000}]


def test_C1_3_1_C1_1_lifecycle_draft_provider_client_active_with_contract_number(kefu, tmp_path):
    srv, admin, ids = new_site(kefu, tmp_path)
    A = ids["A"]
    boss = login_as(srv, "boss-A")
    g = create(admin, A)
    assert g["status"] == "draft" and g["draft_ref"] == "DRAFT-%s" % g["id"] and g["contract_number"] is None
    assert g["client_id"] == A and g["term_years"] == 3 and g["client_legal_name"] == "客户公司A"
    assert g["client_contact_name"] == "李经理"
    r = admin.call("POST", path(g["id"], A, "/sign-provider"))
    assert r.status == 200 and r.json["status"] == "provider_signed", r
    assert r.json["provider_signed_by"] and r.json["contract_number"] is None
    r = boss.call("POST", path(g["id"], A, "/sign-client"))
    assert r.status == 200, r
    active = r.json
    assert active["status"] == "active" and active["client_signed_by"] == ids["userA"]
    year = datetime.datetime.fromtimestamp(active["start_at"] / 1000,
                                           datetime.timezone(datetime.timedelta(hours=8))).year
    assert active["contract_number"] == "KF-%d-0001" % year
    assert active["expires_at"] > active["start_at"]
    # the client's admin reads it, without client_id too, and lists it
    for p in (path(g["id"], A), "/api/v1/agreements/%s" % g["id"]):
        r = boss.call("GET", p)
        assert r.status == 200 and r.json["contract_number"] == "KF-%d-0001" % year, r
    r = boss.call("GET", "/api/v1/agreements?status=active")
    assert r.status == 200 and [i["id"] for i in r.json["items"]] == [g["id"]], r
    assert "services" not in r.json["items"][0]
    # client B sees none of it
    other = login_as(srv, "boss-B")
    assert other.call("GET", "/api/v1/agreements").json["items"] == []
    kh.assert_error(other.call("GET", path(g["id"], A)), 404, "not_found")
    kh.assert_error(other.call("GET", "/api/v1/agreements/%s" % g["id"]), 404, "not_found")
    kh.assert_error(other.call("GET", "/api/v1/agreements?client_id=%s" % A), 404, "not_found")
    # the provider lists every client's, with keyset pages
    create(admin, ids["B"])
    r = admin.call("GET", "/api/v1/agreements?limit=1")
    assert r.status == 200 and len(r.json["items"]) == 1 and r.json["next"], r
    r2 = admin.call("GET", "/api/v1/agreements?limit=1&after=%s" % r.json["next"])
    assert r2.status == 200 and r2.json["items"][0]["id"] == g["id"], r2
    kh.assert_error(admin.call("GET", "/api/v1/agreements?status=nonsense"), 422, "invalid", "status")
    # the second activation of the year takes the next number
    second = activate(admin, boss, A)
    assert second["contract_number"] == "KF-%d-0002" % year


def test_C1_3_1_bad_drafts_are_refused_naming_the_field_and_change_nothing(kefu, tmp_path):
    srv, admin, ids = new_site(kefu, tmp_path)
    A = ids["A"]
    cases = [
        (dict(term_years=0), "term_years"),
        (dict(term_years=100), "term_years"),
        (dict(term_years="2"), "term_years"),
        (dict(term_years=None), "term_years"),
        (dict(notice_days=400), "notice_days"),
        (dict(acceptance_by="boss"), "acceptance_by"),
        (dict(calendar_zone="Mars/Olympus"), "calendar_zone"),
        (dict(number_pattern="NO-SEQ"), "number_pattern"),
        (dict(services=[]), "services"),
        (dict(services="technical_support"), "services"),
        (dict(services=["technical_support"]), "services[0]"),
        (dict(services=[{"kind": "space_travel"}]), "services.kind"),
        (dict(services=[{"kind": "training"}, {"kind": "training"}]), "services.kind"),
        (dict(services=[{"kind": 7}]), "services[0].kind"),
        (dict(services=services([{"kind": "fixed_month", "amount_fen": -1}])), "services.fees.amount_fen"),
        (dict(services=services([{"kind": "fixed_month", "amount_fen": 1},
                                 {"kind": "per_hour", "amount_fen": "100"}])), "services[0].fees[1].amount_fen"),
        (dict(services=services([{"kind": "per_day", "amount_fen": 1}])), "services.fees.kind"),
        (dict(services=services({"kind": "per_hour"})), "services[0].fees"),
        (dict(services=[{"kind": "training", "targets": {"P5": {"first_response": 1}}}]), "services[0].targets"),
        (dict(services=[{"kind": "training", "targets": {"P1": {"first_response": 9, "resolution": "x"}}}]),
         "services[0].targets.P1.resolution"),
        (dict(services=[{"kind": "training", "targets": {"P1": {"first_response": 90, "resolution": 9}}}]),
         "services.targets"),
    ]
    for over, field in cases:
        kh.assert_error(admin.call("POST", "/api/v1/agreements", draft(A, **over)), 422, "invalid", field)
    assert admin.call("GET", "/api/v1/agreements?client_id=%s" % A).json["items"] == []
    # a draft refused on update stays as it was
    g = create(admin, A)
    for over, field in cases:
        kh.assert_error(admin.call("PUT", path(g["id"], A), draft(**over)), 422, "invalid", field)
    same(admin, g, A)
    kh.assert_error(admin.call("POST", "/api/v1/agreements", draft()), 422, "invalid", "client_id")
    kh.assert_error(admin.call("POST", "/api/v1/agreements", draft("999999999")), 404, "not_found", "client_id")
    kh.assert_error(srv.request("POST", "/api/v1/agreements", body=b'{"term_years": ', headers={
        "Cookie": admin.cookie, "X-CSRF-Token": admin.csrf, "Content-Type": "application/json"}), 400, "bad_json")
    boss = login_as(srv, "boss-A")
    kh.assert_error(boss.call("POST", "/api/v1/agreements", draft()), 403, "forbidden")
    kh.assert_error(boss.call("PUT", path(g["id"], A), draft()), 403, "forbidden")
    same(admin, g, A)


def test_C2_2_2_a_personalised_plan_overrides_the_catalogue_and_copies_default_fees(kefu, tmp_path):
    srv, admin, ids = new_site(kefu, tmp_path)
    A = ids["A"]
    g = create(admin, A)
    ts, tr = g["services"]
    assert ts["kind"] == "technical_support"
    assert ts["targets"]["P1"] == {"first_response": 15, "resolution": 120}
    assert ts["personal_targets"]["P1"] == {"first_response": 15, "resolution": 120}
    assert ts["targets"]["P2"] == {"first_response": 60, "resolution": 480}   # the catalogue's
    assert ts["personal_targets"]["P2"] == {"first_response": None, "resolution": None}
    assert ts["fees"] == [{"kind": "fixed_month", "amount_fen": 600000}]
    assert tr["fees"] == [{"kind": "per_training", "amount_fen": 300000}]     # copied from the catalogue
    # the draft is edited as a whole while a draft
    r = admin.call("PUT", path(g["id"], A), draft(term_years=5, services=[{"kind": "maintenance", "fees": [
        {"kind": "per_visit", "amount_fen": 50000}]}]))
    assert r.status == 200, r
    assert r.json["term_years"] == 5 and [s["kind"] for s in r.json["services"]] == ["maintenance"]
    assert r.json["services"][0]["fees"] == [{"kind": "per_visit", "amount_fen": 50000}]


def test_C1_3_1_signing_rules_another_client_twice_and_editing_an_active_agreement(kefu, tmp_path):
    srv, admin, ids = new_site(kefu, tmp_path)
    A, B = ids["A"], ids["B"]
    boss_a, boss_b = login_as(srv, "boss-A"), login_as(srv, "boss-B")
    make_user(admin, A, "staff.a", ["client_staff"])
    staff = login_as(srv, "staff.a")
    g = create(admin, A)
    # the client cannot sign before the provider
    kh.assert_error(boss_a.call("POST", path(g["id"], A, "/sign-client")), 409, "conflict", "status")
    same(admin, g, A)
    r = admin.call("POST", path(g["id"], A, "/sign-provider"))
    assert r.status == 200, r
    signed = r.json
    kh.assert_error(admin.call("POST", path(g["id"], A, "/sign-provider")), 409, "conflict", "status")
    kh.assert_error(admin.call("PUT", path(g["id"], A), draft()), 409, "conflict", "status")
    # client B's admin cannot sign A's agreement, whichever client it names
    kh.assert_error(boss_b.call("POST", path(g["id"], A, "/sign-client")), 404, "not_found")
    kh.assert_error(boss_b.call("POST", path(g["id"], B, "/sign-client")), 404, "not_found")
    kh.assert_error(boss_b.call("POST", "/api/v1/agreements/%s/sign-client" % g["id"]), 404, "not_found")
    # nor the provider, nor A's staff
    kh.assert_error(admin.call("POST", path(g["id"], A, "/sign-client")), 403, "forbidden")
    kh.assert_error(staff.call("POST", path(g["id"], A, "/sign-client")), 403, "forbidden")
    kh.assert_error(boss_a.call("POST", path("12x", A, "/sign-client")), 404, "not_found")
    same(admin, signed, A)
    r = boss_a.call("POST", path(g["id"], A, "/sign-client"))
    assert r.status == 200 and r.json["status"] == "active", r
    active = r.json
    kh.assert_error(boss_a.call("POST", path(g["id"], A, "/sign-client")), 409, "conflict", "status")
    kh.assert_error(admin.call("POST", path(g["id"], A, "/sign-provider")), 409, "conflict", "status")
    kh.assert_error(admin.call("PUT", path(g["id"], A), draft(term_years=1)), 409, "conflict", "status")
    same(admin, active, A)


def test_C10_2_1_C11_1_1_dissolution_needs_a_ground_and_mutual_consent_both_parties(kefu, tmp_path):
    srv, admin, ids = new_site(kefu, tmp_path)
    A = ids["A"]
    boss = login_as(srv, "boss-A")
    make_user(admin, A, "staff.a", ["client_staff"])
    staff = login_as(srv, "staff.a")
    g = activate(admin, boss, A)
    kh.assert_error(admin.call("POST", path(g["id"], A, "/dissolve"), {}), 422, "invalid", "ground")
    kh.assert_error(admin.call("POST", path(g["id"], A, "/dissolve"), {"ground": "boredom"}), 422, "invalid", "ground")
    kh.assert_error(admin.call("POST", path(g["id"], A, "/dissolve"), {"ground": 3}), 422, "invalid", "ground")
    kh.assert_error(admin.call("POST", path(g["id"], A, "/dissolve"), {"ground": "material_breach", "effective_at": 1}),
                    422, "invalid", "effective_at")
    kh.assert_error(admin.call("POST", path(g["id"], A, "/dissolve"),
                               {"ground": "material_breach", "evidence_file_ids": ["123"]}),
                    422, "invalid", "evidence_file_ids")
    kh.assert_error(admin.call("POST", path(g["id"], A, "/dissolve"),
                               {"ground": "material_breach", "evidence_file_ids": [{"id": 1}]}),
                    422, "invalid", "evidence_file_ids[0]")
    kh.assert_error(staff.call("POST", path(g["id"], A, "/dissolve"), {"ground": "material_breach"}), 403, "forbidden")
    kh.assert_error(login_as(srv, "boss-B").call("POST", path(g["id"], A, "/dissolve"), {"ground": "material_breach"}),
                    404, "not_found")
    same(admin, g, A)
    # mutual consent: one side only leaves it active
    r = admin.call("POST", path(g["id"], A, "/dissolve"), {"ground": "mutual_consent"})
    assert r.status == 200, r
    assert r.json["status"] == "active" and r.json["dissolution"]["ground"] == "mutual_consent"
    assert r.json["dissolution"]["provider_confirmed_at"] and r.json["dissolution"]["client_confirmed_at"] is None
    pending = r.json
    kh.assert_error(admin.call("POST", path(g["id"], A, "/dissolve"), {"ground": "mutual_consent"}), 409, "conflict",
                    "ground")
    kh.assert_error(boss.call("POST", path(g["id"], A, "/dissolve"), {"ground": "force_majeure"}), 409, "conflict",
                    "ground")
    same(admin, pending, A)
    r = boss.call("POST", path(g["id"], A, "/dissolve"), {"ground": "mutual_consent"})
    assert r.status == 200 and r.json["status"] == "dissolved", r
    assert r.json["dissolution"]["client_confirmed_by"] == ids["userA"] and r.json["ended_at"]
    # read-only after the end (C10.3.2): still readable, no longer dissolvable
    assert boss.call("GET", path(g["id"], A)).json["status"] == "dissolved"
    kh.assert_error(admin.call("POST", path(g["id"], A, "/dissolve"), {"ground": "material_breach"}), 409, "conflict",
                    "status")
    # material breach takes effect on one party's word
    h = activate(admin, boss, A)
    r = boss.call("POST", path(h["id"], A, "/dissolve"), {"ground": "material_breach", "evidence_file_ids": []})
    assert r.status == 200 and r.json["status"] == "dissolved", r
    # and the dissolution is in writing (C11.1.1): one termination notice from the client's side naming the
    # ground, in the provider's register; the mutually dissolved one has its own, from the confirming side
    for aid, sender, ground in ((h["id"], "client", "严重违约"), (g["id"], "client", "协商一致")):
        r = admin.call("GET", "/api/v1/notices?client_id=%s&agreement_id=%s&kind=termination" % (A, aid))
        assert r.status == 200 and len(r.json["items"]) == 1, r
        n = r.json["items"][0]
        assert n["sender_party"] == sender and n["recipient_party"] == "provider", n
        body = admin.call("GET", "/api/v1/notices/%s?client_id=%s" % (n["id"], A)).json["body"]
        assert ground in body and "只读" in body, body
    # a draft is not dissolved
    d = create(admin, A)
    kh.assert_error(admin.call("POST", path(d["id"], A, "/dissolve"), {"ground": "force_majeure"}), 409, "conflict",
                    "status")


def test_C1_3_1_C1_1_racing_signatures_one_wins_and_numbers_stay_unique_and_gap_free(kefu, tmp_path):
    import threading
    srv, admin, ids = new_site(kefu, tmp_path)
    A = ids["A"]
    boss = login_as(srv, "boss-A")

    def race(calls):
        out = [None] * len(calls)

        def run(i, fn):
            out[i] = fn()
        threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(calls)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return out

    # the same agreement signed twice at once by the provider: one wins, the other is 409
    for _ in range(3):
        g = create(admin, A)
        p = path(g["id"], A, "/sign-provider")
        rs = race([lambda: admin.call("POST", p), lambda: admin.call("POST", p)])
        assert sorted(r.status for r in rs) == [200, 409], rs
    # the client's admin signs one twice at once: one activation, one number
    p = path(g["id"], A, "/sign-client")
    rs = race([lambda: boss.call("POST", p), lambda: boss.call("POST", p)])
    assert sorted(r.status for r in rs) == [200, 409], rs
    # three agreements activated at once take three consecutive numbers
    pending = []
    for _ in range(3):
        h = create(admin, A)
        assert admin.call("POST", path(h["id"], A, "/sign-provider")).status == 200
        pending.append(h["id"])
    rs = race([(lambda aid=aid: boss.call("POST", path(aid, A, "/sign-client"))) for aid in pending])
    assert all(r.status == 200 for r in rs), rs
    numbers = sorted(r.json["contract_number"] for r in rs)
    year = numbers[0].split("-")[1]
    assert numbers == ["KF-%s-%04d" % (year, n) for n in (2, 3, 4)]
