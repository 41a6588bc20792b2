"""The service-requests API (issue 6) through HTTP on both engines: creation under an active agreement
(C3.2.1, C2.1.1), refusals under agreements not in force, another client's customer, P9, a reply to a
closed request, the same submission twice, internal notes absent from every response a client user
can get (C5.2), and gap-free numbers under concurrent creation. Every refused call changes nothing."""
import threading

import kefu_http as kh
from test_admin_api import login_as, make_user, new_site
from test_agreements_api import activate, create, path as ag_path


def rpath(rid, cid, tail=""):
    return "/api/v1/requests/%s%s?client_id=%s" % (rid, tail, cid)


def body(cid, **over):
    b = {"client_id": cid, "service_kind": "technical_support", "channel": "phone", "priority": "P2",
         "subject": "打印机无法连接网络", "body": "## 现象\n\nHP-1020 无法打印。"}
    b.update(over)
    return b


def count(admin, cid):
    r = admin.call("GET", "/api/v1/requests?client_id=%s&limit=200" % cid)
    assert r.status == 200, r
    return len(r.json["items"])


def test_C3_2_1_C2_1_1_a_request_under_the_active_agreement(kefu, tmp_path):
    srv, admin, ids = new_site(kefu, tmp_path)
    A = ids["A"]
    boss = login_as(srv, "boss-A")
    g = activate(admin, boss, A)
    r = admin.call("POST", "/api/v1/requests", body(A, customer_id=ids["customerA"]))
    assert r.status == 201, r
    q = r.json
    assert q["number"] == "SR-000001" and q["status"] == "new" and q["priority"] == "P2"
    assert q["agreement_id"] == g["id"] and q["customer_id"] == ids["customerA"] and q["client_id"] == A
    assert q["service_kind"] == "technical_support" and q["channel"] == "phone"
    assert q["first_response_at"] is None and q["assignee_id"] is None
    # every channel of C3.2.1; the client's own people raise requests too (web by default)
    for ch in ("web", "email", "api", "onsite", "remote"):
        r = admin.call("POST", "/api/v1/requests", body(A, channel=ch))
        assert r.status == 201 and r.json["channel"] == ch, r
    staff = make_user(admin, A, "staff.a", ["client_staff"])
    assert staff
    s = login_as(srv, "staff.a")
    r = s.call("POST", "/api/v1/requests", {"service_kind": "training", "subject": "咨询发票"})
    assert r.status == 201, r
    assert r.json["channel"] == "web" and r.json["priority"] == "P3" and r.json["number"] == "SR-000007"
    assert r.json["created_by"] == staff
    t = r.json
    # reads, lists and filters; the creation's reply (built from the write, not read back) is the
    # request exactly as a read returns it, clocks and queue columns included
    r = s.call("GET", rpath(q["id"], A))
    assert r.status == 200 and r.json == q, r
    assert q["sla"]["first_response"]["state"] == "running" and q["sla"]["breaches"] == [], q
    assert q["sla_state"] == "running" and q["sla_due_at"] == q["sla"]["first_response"]["due_at"], q
    r = admin.call("GET", rpath(t["id"], A))
    assert r.status == 200 and r.json == t, r
    r = admin.call("GET", "/api/v1/requests?client_id=%s&priority=P3" % A)
    assert r.status == 200 and [i["number"] for i in r.json["items"]] == ["SR-000007"], r
    r = admin.call("GET", "/api/v1/requests?client_id=%s&limit=2" % A)
    assert r.status == 200 and len(r.json["items"]) == 2 and r.json["next"], r
    assert "body" not in r.json["items"][0]
    r2 = admin.call("GET", "/api/v1/requests?client_id=%s&limit=200&after=%s" % (A, r.json["next"]))
    assert len(r2.json["items"]) == 5
    kh.assert_error(admin.call("GET", "/api/v1/requests?priority=P9"), 422, "invalid", "priority")
    kh.assert_error(admin.call("GET", "/api/v1/requests?status=lost"), 422, "invalid", "status")
    # the client's admin sees it in the audit trail of its own chain
    r = boss.call("GET", "/api/v1/audit?client_id=%s" % A)
    assert r.status == 200 and "request.create" in [e["action"] for e in r.json["items"]], r
    # client B sees none of it
    other = login_as(srv, "boss-B")
    assert other.call("GET", "/api/v1/requests").json["items"] == []
    kh.assert_error(other.call("GET", rpath(q["id"], A)), 404, "not_found")
    kh.assert_error(other.call("GET", "/api/v1/requests/%s" % q["id"]), 404, "not_found")


def test_C3_2_1_refused_under_agreements_not_in_force_and_nothing_changes(kefu, tmp_path):
    srv, admin, ids = new_site(kefu, tmp_path)
    A = ids["A"]
    boss = login_as(srv, "boss-A")
    # none at all
    r = admin.call("POST", "/api/v1/requests", body(A))
    kh.assert_error(r, 409, "conflict", "agreement")
    # a draft, then signed by the provider only
    d = create(admin, A)
    kh.assert_error(admin.call("POST", "/api/v1/requests", body(A, agreement_id=d["id"])), 409, "conflict", "agreement")
    assert admin.call("POST", ag_path(d["id"], A, "/sign-provider")).status == 200
    r = admin.call("POST", "/api/v1/requests", body(A, agreement_id=d["id"]))
    kh.assert_error(r, 409, "conflict", "agreement")
    # dissolved
    g = activate(admin, boss, A)
    r = admin.call("POST", ag_path(g["id"], A, "/dissolve"), {"ground": "material_breach"})
    assert r.status == 200 and r.json["status"] == "dissolved", r
    r = admin.call("POST", "/api/v1/requests", body(A, agreement_id=g["id"]))
    kh.assert_error(r, 409, "conflict", "agreement")
    assert "dissolved" in r.json["error"]["detail"]
    kh.assert_error(admin.call("POST", "/api/v1/requests", body(A)), 409, "conflict", "agreement")
    # another client's agreement, and one that does not exist
    gb = activate(admin, login_as(srv, "boss-B"), ids["B"])
    kh.assert_error(admin.call("POST", "/api/v1/requests", body(A, agreement_id=gb["id"])), 422, "invalid",
                    "agreement_id")
    kh.assert_error(admin.call("POST", "/api/v1/requests", body(A, agreement_id="123456789")), 422, "invalid",
                    "agreement_id")
    assert count(admin, A) == 0


def test_C3_2_1_C5_2_bad_input_another_clients_customer_P9_and_wrong_types(kefu, tmp_path):
    srv, admin, ids = new_site(kefu, tmp_path)
    A, B = ids["A"], ids["B"]
    activate(admin, login_as(srv, "boss-A"), A)
    activate(admin, login_as(srv, "boss-B"), B)
    P = "/api/v1/requests"
    # malformed and wrong content type
    r = srv.request("POST", P, body=b'{"subject": ', headers={"Cookie": admin.cookie, "X-CSRF-Token": admin.csrf,
                                                               "Content-Type": "application/json"})
    kh.assert_error(r, 400, "bad_json")
    # another client's customer is no customer of this client (C5.2)
    kh.assert_error(admin.call("POST", P, body(A, customer_id=ids["customerB"])), 422, "invalid", "customer_id")
    kh.assert_error(admin.call("POST", P, body(A, priority="P9")), 422, "invalid", "priority")
    kh.assert_error(admin.call("POST", P, body(A, priority=1)), 422, "invalid", "priority")
    kh.assert_error(admin.call("POST", P, body(A, channel="fax")), 422, "invalid", "channel")
    kh.assert_error(admin.call("POST", P, body(A, subject="")), 422, "invalid", "subject")
    kh.assert_error(admin.call("POST", P, body(A, subject="修" * 201)), 422, "invalid", "subject")
    kh.assert_error(admin.call("POST", P, body(A, subject=["x"])), 422, "invalid", "subject")
    kh.assert_error(admin.call("POST", P, body(A, body="x" * (64 * 1024 + 1))), 422, "invalid", "body")
    kh.assert_error(admin.call("POST", P, body(A, service_kind="maintenance")), 422, "invalid", "service_kind")
    kh.assert_error(admin.call("POST", P, body(A, customer_id=True)), 422, "invalid", "customer_id")
    kh.assert_error(admin.call("POST", P, body(A, idempotency_key="has space")), 422, "invalid", "idempotency_key")
    kh.assert_error(admin.call("POST", P, body(A, idempotency_key="k" * 101)), 422, "invalid", "idempotency_key")
    kh.assert_error(admin.call("POST", P, {k: v for k, v in body(A).items() if k != "subject"}), 422, "invalid",
                    "subject")
    # a client user raising one for another client: hidden, as if it did not exist
    boss = login_as(srv, "boss-A")
    kh.assert_error(boss.call("POST", P, body(B)), 404, "not_found")
    fin = make_user(admin, "0", "fin.qian", ["finance"])
    assert fin
    assert count(admin, A) == 0 and count(admin, B) == 0
    ok = admin.call("POST", P, body(A, subject="修" * 200))
    assert ok.status == 201 and ok.json["number"] == "SR-000001", ok  # no number was spent on the refusals
    rid = ok.json["id"]
    before = admin.call("GET", rpath(rid, A)).json
    kh.assert_error(admin.call("PATCH", rpath(rid, A), {"priority": "P9"}), 422, "invalid", "priority")
    kh.assert_error(admin.call("PATCH", rpath(rid, A), {"service_kind": "maintenance"}), 422, "invalid", "service_kind")
    kh.assert_error(admin.call("POST", rpath(rid, A, "/status"), {"status": "lost"}), 422, "invalid", "status")
    kh.assert_error(admin.call("POST", rpath(rid, A, "/status"), {"status": "reopened"}), 409, "conflict", "status")
    kh.assert_error(admin.call("POST", rpath(rid, A, "/assign"), {"assignee_id": ids["userA"]}), 422, "invalid",
                    "assignee_id")
    kh.assert_error(admin.call("POST", rpath(rid, A, "/assign"), {"team_id": "999"}), 422, "invalid", "team_id")
    kh.assert_error(admin.call("POST", rpath(rid, A, "/replies"), {"body": ""}), 422, "invalid", "body")
    kh.assert_error(admin.call("POST", rpath(rid, A, "/replies"), {"body": 5}), 422, "invalid", "body")
    kh.assert_error(boss.call("POST", rpath(rid, A, "/notes"), {"body": "偷看"}), 403, "forbidden")
    kh.assert_error(login_as(srv, "boss-B").call("PATCH", rpath(rid, A), {"subject": "x"}), 404, "not_found")
    kh.assert_error(admin.call("GET", rpath("not-an-id", A)), 404, "not_found")
    assert admin.call("GET", rpath(rid, A)).json == before
    h = admin.call("GET", rpath(rid, A, "/history")).json["items"]
    assert [(e["kind"], e["to"]) for e in h] == [("status", "new"), ("priority", "P2")]


def test_C3_2_1_the_same_submission_twice_is_one_request(kefu, tmp_path):
    srv, admin, ids = new_site(kefu, tmp_path)
    A, B = ids["A"], ids["B"]
    boss = login_as(srv, "boss-A")
    activate(admin, boss, A)
    activate(admin, login_as(srv, "boss-B"), B)
    first = boss.call("POST", "/api/v1/requests", body(A, idempotency_key="form-2026-7f3a"))
    assert first.status == 201, first
    again = boss.call("POST", "/api/v1/requests", body(A, idempotency_key="form-2026-7f3a", subject="改了标题"))
    assert again.status == 200, again
    assert again.json == first.json
    assert count(admin, A) == 1
    # the key is per client
    rb = admin.call("POST", "/api/v1/requests", body(B, idempotency_key="form-2026-7f3a"))
    assert rb.status == 201 and rb.json["id"] != first.json["id"], rb
    # concurrently: eight submissions of one form make one request
    results = []

    def submit():
        results.append(boss.call("POST", "/api/v1/requests", body(A, idempotency_key="form-concurrent")))

    threads = [threading.Thread(target=submit) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.status for r in results) == [200] * 7 + [201], results
    assert len({r.json["id"] for r in results}) == 1
    assert count(admin, A) == 2


def test_C3_2_1_numbers_are_gap_free_under_concurrent_creation(kefu, tmp_path):
    srv, admin, ids = new_site(kefu, tmp_path)
    A, B = ids["A"], ids["B"]
    activate(admin, login_as(srv, "boss-A"), A)
    activate(admin, login_as(srv, "boss-B"), B)
    results = []

    def create_one(i):
        cid = A if i % 2 else B
        # every third call is refused inside the write (a kind the agreement lacks), every fifth before
        # it (P9): neither takes a number
        over = {"service_kind": "maintenance"} if i % 3 == 0 else {"priority": "P9"} if i % 5 == 0 else {}
        results.append(admin.call("POST", "/api/v1/requests", body(cid, **over)))

    threads = [threading.Thread(target=create_one, args=(i,)) for i in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    made = [r for r in results if r.status == 201]
    want = len([i for i in range(24) if i % 3 and i % 5])
    assert len(made) == want and all(r.status in (201, 422) for r in results), results
    numbers = sorted(r.json["number"] for r in made)
    assert numbers == ["SR-%06d" % i for i in range(1, want + 1)], numbers


def test_C5_2_internal_notes_appear_in_no_client_facing_response(kefu, tmp_path):
    srv, admin, ids = new_site(kefu, tmp_path)
    A = ids["A"]
    boss = login_as(srv, "boss-A")
    activate(admin, boss, A)
    make_user(admin, A, "staff.a", ["client_staff"])
    make_user(admin, A, "sup.a", ["client_supervisor"])
    agent_id = make_user(admin, "0", "agent.li", ["agent"])
    agent = login_as(srv, "agent.li")
    r = boss.call("POST", "/api/v1/requests", body(A))
    assert r.status == 201, r
    rid = r.json["id"]
    secret = "内部备注NOTE-7Q4：客户欠费，暂缓上门"
    n = agent.call("POST", rpath(rid, A, "/notes"), {"body": secret})
    assert n.status == 201 and n.json["kind"] == "internal" and n.json["body"] == secret, n
    q = admin.call("GET", rpath(rid, A)).json
    assert q["first_response_at"] is None and q["status"] == "new"  # a note is no response
    rep = agent.call("POST", rpath(rid, A, "/replies"), {"body": "您好，工程师下午联系您。"})
    assert rep.status == 201 and rep.json["kind"] == "public", rep
    q = admin.call("GET", rpath(rid, A)).json
    assert q["first_response_at"] and q["status"] == "open"
    assert agent.call("POST", rpath(rid, A, "/assign"), {"assignee_id": agent_id}).status == 200
    assert agent.call("PATCH", rpath(rid, A), {"priority": "P1", "reason": "升级"}).status == 200
    assert agent.call("POST", rpath(rid, A, "/notes"), {"body": secret + "-2"}).status == 201
    # provider staff see both kinds
    kinds = [m["kind"] for m in agent.call("GET", rpath(rid, A, "/messages")).json["items"]]
    assert kinds == ["internal", "public", "internal"]
    # every GET a client user can call for this request: the note's text appears nowhere
    client_gets = ["/api/v1/requests", "/api/v1/requests?client_id=%s" % A, rpath(rid, A), "/api/v1/requests/%s" % rid,
                   rpath(rid, A, "/messages"), rpath(rid, A, "/history"), rpath(rid, A, "/calls"),
                   rpath(rid, A, "/time-entries"), rpath(rid, A, "/attachments"), "/api/v1/audit?client_id=%s" % A,
                   "/api/v1/audit?client_id=%s&object_type=request" % A, "/api/v1/notifications"]
    for name in ("boss-A", "staff.a", "sup.a"):
        user = boss if name == "boss-A" else login_as(srv, name)
        seen = 0
        for p in client_gets:
            r = user.call("GET", p)
            if r.status == 200:
                seen += 1
            assert b"NOTE-7Q4" not in r.body and secret.encode() not in r.body, (name, p)
        assert seen >= 9, name
        msgs = user.call("GET", rpath(rid, A, "/messages")).json["items"]
        assert [m["kind"] for m in msgs] == ["public"]
        kh.assert_error(user.call("POST", rpath(rid, A, "/notes"), {"body": "x"}), 403, "forbidden")
    # the client replies; closed requests take no replies (409), and nothing changes
    assert boss.call("POST", rpath(rid, A, "/replies"), {"body": "好的，谢谢"}).status == 201
    for st in ("resolved", "closed"):
        r = agent.call("POST", rpath(rid, A, "/status"), {"status": st})
        assert r.status == 200 and r.json["status"] == st, r
    before = agent.call("GET", rpath(rid, A, "/messages")).json
    kh.assert_error(boss.call("POST", rpath(rid, A, "/replies"), {"body": "还在吗？"}), 409, "conflict", "status")
    kh.assert_error(agent.call("POST", rpath(rid, A, "/replies"), {"body": "还在吗？"}), 409, "conflict", "status")
    kh.assert_error(agent.call("PATCH", rpath(rid, A), {"subject": "改"}), 409, "conflict", "status")
    assert agent.call("GET", rpath(rid, A, "/messages")).json == before
    closed = agent.call("GET", rpath(rid, A)).json
    assert closed["resolved_at"] and closed["closed_at"]
    # reopened: replies again; the history keeps every move
    r = agent.call("POST", rpath(rid, A, "/status"), {"status": "reopened", "reason": "客户反馈未解决"})
    assert r.status == 200 and r.json["closed_at"] is None and r.json["resolved_at"] is None, r
    assert boss.call("POST", rpath(rid, A, "/replies"), {"body": "还是打不出来"}).status == 201
    h = boss.call("GET", rpath(rid, A, "/history")).json["items"]
    assert [(e["kind"], e["from"], e["to"]) for e in h if e["kind"] == "status"] == [
        ("status", "", "new"), ("status", "new", "open"), ("status", "open", "resolved"),
        ("status", "resolved", "closed"), ("status", "closed", "reopened")]
    assert ("priority", "P2", "P1") in [(e["kind"], e["from"], e["to"]) for e in h]


def test_C9_2_1_calls_remote_sessions_and_time_entries(kefu, tmp_path):
    srv, admin, ids = new_site(kefu, tmp_path)
    A = ids["A"]
    boss = login_as(srv, "boss-A")
    activate(admin, boss, A)
    tech_id = make_user(admin, "0", "tech.zhao", ["technician"])
    tech = login_as(srv, "tech.zhao")
    rid = admin.call("POST", "/api/v1/requests", body(A)).json["id"]
    now = srv.get("/api/v1/test/clock").json["now_ms"]
    r = tech.call("POST", rpath(rid, A, "/calls"), {"kind": "phone", "started_at": now - 600000, "duration_s": 420,
                                                    "summary": "指导客户重启路由器"})
    assert r.status == 201 and r.json["user_id"] == tech_id and r.json["duration_s"] == 420, r
    r = tech.call("POST", rpath(rid, A, "/calls"), {"kind": "remote", "started_at": now - 300000, "duration_s": 1800})
    assert r.status == 201 and r.json["kind"] == "remote", r
    C = rpath(rid, A, "/calls")
    kh.assert_error(tech.call("POST", C, {"kind": "fax", "started_at": now, "duration_s": 1}), 422, "invalid", "kind")
    kh.assert_error(tech.call("POST", C, {"kind": "phone", "started_at": now + 60000, "duration_s": 1}), 422, "invalid",
                    "started_at")
    kh.assert_error(tech.call("POST", C, {"kind": "phone", "started_at": now, "duration_s": 86401}), 422, "invalid",
                    "duration_s")
    kh.assert_error(tech.call("POST", C, {"kind": "phone", "started_at": str(now), "duration_s": 1}), 422, "invalid",
                    "started_at")
    kh.assert_error(tech.call("POST", C, {"kind": "phone", "started_at": now, "duration_s": 1,
                                          "user_id": ids["userA"]}), 422, "invalid", "user_id")
    kh.assert_error(boss.call("POST", C, {"kind": "phone", "started_at": now, "duration_s": 1}), 403, "forbidden")
    T = rpath(rid, A, "/time-entries")
    r = tech.call("POST", T, {"minutes": 30, "billable": True, "note": "远程排障"})
    assert r.status == 201 and r.json["service_kind"] == "technical_support" and r.json["billable"] is True, r
    r = tech.call("POST", T, {"minutes": 45, "billable": False, "service_kind": "training"})
    assert r.status == 201, r
    kh.assert_error(tech.call("POST", T, {"minutes": 0, "billable": True}), 422, "invalid", "minutes")
    kh.assert_error(tech.call("POST", T, {"minutes": 1441, "billable": True}), 422, "invalid", "minutes")
    kh.assert_error(tech.call("POST", T, {"minutes": 10, "billable": "yes"}), 422, "invalid", "billable")
    kh.assert_error(tech.call("POST", T, {"minutes": 10, "billable": True, "service_kind": "maintenance"}), 422,
                    "invalid", "service_kind")
    kh.assert_error(tech.call("POST", T, {"minutes": 10, "billable": True, "worked_at": now + 3600000}), 422,
                    "invalid", "worked_at")
    # the client's people read them; client B reaches nothing
    r = boss.call("GET", C)
    assert r.status == 200 and [c["kind"] for c in r.json["items"]] == ["phone", "remote"], r
    assert r.json["total_duration_s"] == 2220
    r = boss.call("GET", T)
    assert r.status == 200 and r.json["total_minutes"] == 75 and r.json["billable_minutes"] == 30, r
    other = login_as(srv, "boss-B")
    kh.assert_error(other.call("GET", C), 404, "not_found")
    kh.assert_error(other.call("GET", T), 404, "not_found")


def test_C3_2_1_C5_2_attachments_sniffed_limited_sanitised_and_scoped(kefu, tmp_path):
    """Attachments through the shared file facility: an executable disguised as an image, a file over
    the limit, an empty one and a path in the name are handled; another client reaches nothing."""
    from matrix_admin import Multipart, png
    from test_admin_api import Actor
    from test_identity_api import make_site
    max_upload = 4096
    srv = kefu(args=["--max-upload", str(max_upload)])
    session, ids = make_site(srv, tmp_path)
    admin = Actor.__new__(Actor)
    admin.__dict__.update(session.__dict__)
    A = ids["A"]
    boss = login_as(srv, "boss-A")
    activate(admin, boss, A)
    rid = boss.call("POST", "/api/v1/requests", body(A)).json["id"]
    P = rpath(rid, A, "/attachments")

    def upload(actor, name, data, ctype="image/png"):
        ct, raw = Multipart({}, {"file": (name, data, ctype)}).multipart
        return srv.request("POST", P, body=raw, headers={"Cookie": actor.cookie, "X-CSRF-Token": actor.csrf,
                                                         "Content-Type": ct})

    picture = png(3, 2, seed=42)
    r = upload(boss, "../../etc/截图.png", picture)
    assert r.status == 201, r
    assert r.json["name"] == "截图.png" and r.json["media_type"] == "image/png" and r.json["size"] == len(picture)
    fid = r.json["id"]
    elf = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00\x01\x00\x00\x00" + b"\x00" * 200
    kh.assert_error(upload(boss, "photo.png", elf), 415, "file_type", "file")
    kh.assert_error(upload(boss, "big.png", picture + b"\x00" * (max_upload + 10)), 413, "too_large")
    kh.assert_error(upload(boss, "empty.png", b""), 422, "invalid", "file")
    r = srv.request("POST", P, json={"file": "x"}, headers={"Cookie": boss.cookie, "X-CSRF-Token": boss.csrf})
    assert r.status == 415, r
    items = boss.call("GET", P).json["items"]
    assert [i["id"] for i in items] == [fid]
    # downloads for whoever reads the request; another client's people get 404
    dl = srv.get(items[0]["download"], headers={"Cookie": boss.cookie})
    assert dl.status == 200 and dl.body == picture
    other = login_as(srv, "boss-B")
    kh.assert_error(other.call("GET", P), 404, "not_found")
    assert srv.get(items[0]["download"], headers={"Cookie": other.cookie}).status == 404
    assert upload(other, "x.png", png(seed=3)).status == 404
    # closed: no more attachments
    agent_id = make_user(admin, "0", "agent.li", ["agent"])
    assert agent_id
    agent = login_as(srv, "agent.li")
    assert agent.call("POST", rpath(rid, A, "/status"), {"status": "closed"}).status == 200
    kh.assert_error(upload(agent, "late.png", png(seed=4)), 409, "conflict", "status")
    assert len(boss.call("GET", P).json["items"]) == 1
