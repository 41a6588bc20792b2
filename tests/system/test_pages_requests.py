"""The service-request pages (issue 6 item 5) on both engines: the list with its filters and pages, a
request raised through the form by provider staff (any channel, C3.2.1) and by a client user (web),
the same form sent twice making one request, the request's page with every action form, and each
form's bad input: no csrf, P9, a reply to a closed request, another client's request (404 without a
byte of it, C5.2), attachments over the limit, with a path in the name, an executable disguised as an
image. Internal notes never appear on a page a client user can reach (C5.2)."""
import hashlib
import re

from test_admin_api import Actor
from test_agreements_api import activate
from test_pages_admin import MAX_UPLOAD, Browser, field_error, location, new_site as pages_site, png, text

NOTE = "内部备注-绝密-不给客户看"
SECRET_B = "乙方工单秘密主题"


def actor(b):
    a = Actor.__new__(Actor)
    a.srv, a.cookie, a.csrf = b.srv, b.cookie, b.csrf
    return a


def new_site(kefu, tmp_path):
    srv, admin, ids = pages_site(kefu, tmp_path, args=["--max-upload", str(MAX_UPLOAD)])
    boss, boss_b = Browser(srv, "boss-A"), Browser(srv, "boss-B")
    activate(actor(admin), actor(boss), ids["A"])
    activate(actor(admin), actor(boss_b), ids["B"])
    return srv, admin, boss, boss_b, ids


def new_request(admin, cid, **over):
    fields = {"client_id": cid, "service_kind": "technical_support", "channel": "phone", "priority": "P2",
              "subject": "打印机无法连接网络", "body": "## 现象\n\nHP-1020 无法打印。"}
    fields.update(over)
    r = admin.form("/requests", fields)
    loc = location(r)
    m = re.match(r"/requests/(\d+)\?client_id=(\d+)&(created|existing)=1$", loc)
    assert m, loc
    return m.group(1)


def rq(rid, cid, tail=""):
    return "/requests/%s%s?client_id=%s" % (rid, tail, cid)


def count(admin, cid):
    r = actor(admin).call("GET", "/api/v1/requests?client_id=%s&limit=200" % cid)
    assert r.status == 200, r
    return len(r.json["items"])


def test_C3_2_1_requests_raised_through_the_form_listed_filtered_and_paged(kefu, tmp_path):
    srv, admin, boss, boss_b, ids = new_site(kefu, tmp_path)
    A, B = ids["A"], ids["B"]
    page = text(admin.get("/requests/new?client_id=%s" % A))
    key = re.search(r'name="idempotency_key" value="(form-[0-9a-f]{32})"', page)
    assert key and 'name="channel"' in page and 'name="customer_id"' in page
    # provider staff: any channel of C3.2.1, a customer of the client
    rid = new_request(admin, A, customer_id=ids["customerA"])
    page = text(admin.get(rq(rid, A) + "&created=1"))
    assert "SR-000001" in page and "打印机无法连接网络" in page and "<h2>现象</h2>" in page
    assert "顾客A" in page and "/agreements/" in page
    for ch in ("web", "email", "onsite", "remote"):
        new_request(admin, A, channel=ch, subject="渠道-" + ch)
    # a client user: their own client, always the web channel, no channel field
    page = text(boss.get("/requests/new"))
    assert 'name="channel"' not in page and 'name="customer_id"' not in page
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page).group(1)
    mine = new_request(boss, A, channel="phone", subject="客户自己提的", idempotency_key=key)
    r = actor(boss).call("GET", "/api/v1/requests/%s" % mine)
    assert r.json["channel"] == "web" and r.json["client_id"] == A
    # another client's B request for the list checks
    new_request(admin, B, subject=SECRET_B)
    # the list: newest first; filters; client users see only their own
    page = text(admin.get("/requests?client_id=%s" % A))
    numbers = re.findall(r">(SR-\d{6})</a>", page)
    assert numbers == ["SR-000006", "SR-000005", "SR-000004", "SR-000003", "SR-000002", "SR-000001"], numbers
    assert SECRET_B not in page
    page = text(admin.get("/requests?client_id=%s&channel=email" % A))
    assert re.findall(r">(SR-\d{6})</a>", page) == ["SR-000003"]
    page = text(admin.get("/requests?client_id=%s&priority=P2&status=new&channel=web" % A))
    assert re.findall(r">(SR-\d{6})</a>", page) == ["SR-000006", "SR-000002"]
    page = text(boss.get("/requests"))
    assert SECRET_B not in page and "SR-000007" not in page and "SR-000006" in page
    # the client filter of a client user cannot reach another client
    r = boss.get("/requests?client_id=%s" % B)
    assert r.status in (403, 404) and SECRET_B.encode() not in r.body
    # bad filters: the page again with the message beside the filter
    r = admin.get("/requests?priority=P9")
    assert r.status == 422 and field_error(r, "f-priority")
    assert admin.get("/requests?status=lost").status == 422
    assert admin.get("/requests?channel=pigeon").status == 422


def test_C3_2_1_the_same_form_twice_makes_one_request(kefu, tmp_path):
    srv, admin, boss, boss_b, ids = new_site(kefu, tmp_path)
    A = ids["A"]
    key = re.search(r'name="idempotency_key" value="([^"]+)"', text(boss.get("/requests/new"))).group(1)
    fields = {"client_id": A, "service_kind": "training", "subject": "双击提交", "idempotency_key": key}
    first = location(boss.form("/requests", fields))
    second = location(boss.form("/requests", fields))
    assert first.endswith("&created=1") and second.endswith("&existing=1")
    assert first.split("&")[0] == second.split("&")[0]
    assert count(admin, A) == 1
    # a new form has a new key
    key2 = re.search(r'name="idempotency_key" value="([^"]+)"', text(boss.get("/requests/new"))).group(1)
    assert key2 != key


def test_C3_2_1_C5_2_bad_input_on_the_new_request_form_changes_nothing(kefu, tmp_path):
    srv, admin, boss, boss_b, ids = new_site(kefu, tmp_path)
    A, B = ids["A"], ids["B"]
    good = {"client_id": A, "service_kind": "technical_support", "channel": "phone", "priority": "P2",
            "subject": "正常主题"}
    # no csrf
    assert admin.form("/requests", good, csrf=False).status == 403
    # P9, an empty subject, an oversized subject, an unknown channel, a service kind not in the agreement
    for over, field, status in ((dict(priority="P9"), "priority", 422), (dict(subject=""), "subject", 422),
                                (dict(subject="长" * 201), "subject", 422), (dict(channel="pigeon"), "channel", 422),
                                (dict(service_kind="nothing"), "service_kind", 422),
                                (dict(customer_id="abc"), "customer_id", 422)):
        r = admin.form("/requests", dict(good, **over))
        assert r.status == status and field_error(r, field), (over, r.status)
        assert 'aria-invalid="true"' in text(r)
    # the typed subject is kept
    r = admin.form("/requests", dict(good, priority="P9", subject="保留的主题"))
    assert 'value="保留的主题"' in text(r)
    # another client's customer is no different from none; another client's agreement is refused
    r = admin.form("/requests", dict(good, customer_id=ids["customerB"]))
    assert r.status == 422 and "顾客B" not in text(r)
    # a client user cannot raise one for another client
    r = boss.form("/requests", dict(good, client_id=B))
    assert r.status in (403, 404)
    assert count(admin, A) == 0 and count(admin, B) == 0


def test_C5_2_the_request_page_actions_and_their_bad_input(kefu, tmp_path):
    srv, admin, boss, boss_b, ids = new_site(kefu, tmp_path)
    A, B = ids["A"], ids["B"]
    rid = new_request(admin, A)
    page = text(admin.get(rq(rid, A)))
    for action in ("/replies", "/notes", "/status", "/priority", "/assign", "/calls", "/time-entries", "/attachments"):
        assert 'action="/requests/%s%s?client_id=%s"' % (rid, action, A) in page, action
    assert 'data-shortcut="r"' in page and 'data-shortcut="n"' in page and "<kbd>r</kbd>" in page
    # reply, note, priority, assignment, a call, time
    assert location(admin.form(rq(rid, A, "/replies"), {"body": "您好，**已收到**。"})).endswith("#conversation")
    assert location(admin.form(rq(rid, A, "/notes"), {"body": NOTE}))
    assert location(admin.form(rq(rid, A, "/priority"), {"priority": "P1", "reason": "影响生产"}))
    me = actor(admin).call("GET", "/api/v1/auth/me").json["user"]["id"]
    assert re.search(r'<option value="%s">' % me, page)
    assert location(admin.form(rq(rid, A, "/assign"), {"assignee_id": me, "team_id": ""}))
    assert location(admin.form(rq(rid, A, "/calls"), {"kind": "phone", "minutes": "12", "summary": "电话指导"}))
    assert location(admin.form(rq(rid, A, "/time-entries"), {"minutes": "45", "billable": "1", "note": "远程排查"}))
    assert location(admin.form(rq(rid, A, "/time-entries"), {"minutes": "15", "note": "整理记录"}))
    page = text(admin.get(rq(rid, A)))
    assert "<strong>已收到</strong>" in page and NOTE in page and "message-internal" in page
    assert "0:12:00" in page and "1:00" in page and "0:45" in page   # call total, time total, billable
    assert ">P1</span>" in page and "影响生产" in page
    # bad input: the page again with the message beside the field, nothing written
    r = admin.form(rq(rid, A, "/replies"), {"body": ""})
    assert r.status == 422 and field_error(r, "reply")
    r = admin.form(rq(rid, A, "/priority"), {"priority": "P9"})
    assert r.status == 422 and field_error(r, "priority")
    r = admin.form(rq(rid, A, "/status"), {"status": "lost"})
    assert r.status == 422 and field_error(r, "status")
    r = admin.form(rq(rid, A, "/assign"), {"assignee_id": "abc"})
    assert r.status == 422 and field_error(r, "assignee")
    r = admin.form(rq(rid, A, "/calls"), {"kind": "phone", "minutes": "-3"})
    assert r.status == 422 and field_error(r, "call-minutes")
    r = admin.form(rq(rid, A, "/time-entries"), {"minutes": "99999"})
    assert r.status == 422 and field_error(r, "time-minutes")
    for tail in ("/replies", "/notes", "/status", "/priority", "/assign", "/calls", "/time-entries"):
        assert admin.form(rq(rid, A, tail), {"body": "x", "status": "open"}, csrf=False).status == 403, tail
    # a closed request takes no reply: 409 beside the reply box
    assert "处理中" in text(admin.get(rq(rid, A)))   # the first reply of provider staff opened it
    for to in ("resolved", "closed"):
        assert location(admin.form(rq(rid, A, "/status"), {"status": to}))
    r = admin.form(rq(rid, A, "/replies"), {"body": "关闭后回复"})
    assert r.status == 409 and "关闭后回复" not in re.sub(r"<textarea[^>]*>[^<]*</textarea>", "", text(r))
    assert "关闭后回复" not in text(admin.get(rq(rid, A)))
    # a move the table forbids
    assert admin.form(rq(rid, A, "/status"), {"status": "open"}).status == 409
    # another client's request: 404 without a byte of it, through every form
    rb = new_request(admin, B, subject=SECRET_B)
    for path in (rq(rb, B), rq(rb, A), "/requests/%s" % rb):
        r = boss.get(path)
        assert r.status == 404 and SECRET_B.encode() not in r.body, path
    for tail in ("/replies", "/notes", "/status", "/priority", "/assign", "/calls", "/time-entries"):
        for path in (rq(rb, B, tail), rq(rb, A, tail)):
            r = boss.form(path, {"body": "越权", "status": "open", "priority": "P1", "minutes": "5", "kind": "phone"})
            assert r.status in (403, 404) and SECRET_B.encode() not in r.body, path
    assert admin.get(rq(rb, A)).status == 404
    assert admin.get(rq("abc", A)).status == 404
    r = actor(admin).call("GET", "/api/v1/requests/%s/messages?client_id=%s" % (rb, B))
    assert r.json["items"] == []


def test_C5_2_attachments_through_the_page(kefu, tmp_path):
    srv, admin, boss, boss_b, ids = new_site(kefu, tmp_path)
    A, B = ids["A"], ids["B"]
    rid = new_request(admin, A)
    picture = png(3, 2, seed=7)
    assert location(boss.upload(rq(rid, A, "/attachments"), "截图.png", picture)).endswith("#files")
    page = text(boss.get(rq(rid, A)))
    m = re.search(r'<a href="/files/(\d+)\?client_id=%s" download>截图.png</a>' % A, page)
    assert m, page
    assert boss.get("/files/%s?client_id=%s" % (m.group(1), A)).body == picture
    assert boss_b.get("/files/%s?client_id=%s" % (m.group(1), A)).status == 404
    # an executable disguised as an image, too large, empty: the page again beside the file field
    elf = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00\x01\x00\x00\x00" + b"\x00" * 200
    r = boss.upload(rq(rid, A, "/attachments"), "photo.png", elf)
    assert r.status == 415 and field_error(r, "file")
    r = boss.upload(rq(rid, A, "/attachments"), "big.png", picture + b"\x00" * (MAX_UPLOAD + 10))
    assert r.status == 413
    r = boss.upload(rq(rid, A, "/attachments"), "empty.png", b"")
    assert r.status == 422 and field_error(r, "file")
    # a path in the name keeps only its last component
    assert location(boss.upload(rq(rid, A, "/attachments"), "../../etc/passwd.png", png(seed=8)))
    page = text(boss.get(rq(rid, A)))
    assert "download>passwd.png</a>" in page and "../" not in page.split('id="files"')[1]
    # without the form's token, or on another client's request
    assert boss.upload(rq(rid, A, "/attachments"), "x.png", png(seed=9), csrf=False).status == 403
    assert boss_b.upload(rq(rid, A, "/attachments"), "x.png", png(seed=9)).status in (403, 404)
    assert len(re.findall(r"download>", text(admin.get(rq(rid, A))))) == 2


def test_C5_2_C3_2_2_internal_notes_never_reach_a_client_or_customer_page(kefu, tmp_path):
    """Walk every page a client user or a customer with a tracking link can reach (list, request page, the pages forms re-show after an
    error, the new-request form) and assert the note's text and its marking appear nowhere."""
    srv, admin, boss, boss_b, ids = new_site(kefu, tmp_path)
    A = ids["A"]
    rid = new_request(admin, A, subject="有内部备注的工单")
    assert location(admin.form(rq(rid, A, "/notes"), {"body": NOTE}))
    assert location(admin.form(rq(rid, A, "/replies"), {"body": "公开回复"}))
    assert NOTE in text(admin.get(rq(rid, A)))
    staff = Browser(srv, "boss-A")
    pages = [staff.get(p) for p in ("/requests", "/requests?status=open", rq(rid, A), "/requests/%s" % rid,
                                    "/requests/new", "/notifications", "/audit")]
    pages += [staff.form(rq(rid, A, "/replies"), {"body": ""}),            # the page re-shown after an error
              staff.upload(rq(rid, A, "/attachments"), "e.png", b""),
              staff.form(rq(rid, A, "/notes"), {"body": "客户试图写备注"})]
    for r in pages:
        assert NOTE.encode() not in r.body and b"message-internal" not in r.body, r
    assert "公开回复" in text(staff.get(rq(rid, A)))
    assert b'name="body" rows="4" data-shortcut="n"' not in staff.get(rq(rid, A)).body
    # the client cannot write one either
    assert staff.form(rq(rid, A, "/notes"), {"body": "客户试图写备注"}).status == 403
    assert "客户试图写备注" not in text(admin.get(rq(rid, A)))
    # the customer-facing pages (C3.2.2): a request raised on the public form, noted by staff; its
    # tracking page and every page its forms answer hold no note either
    done = raise_public(srv, intake_link(admin, A), subject="顾客的工单")
    t = tracking(done)
    pub = actor(admin).call("GET", "/api/v1/requests?client_id=%s" % A).json["items"][0]["id"]
    assert location(admin.form(rq(pub, A, "/notes"), {"body": NOTE}))
    assert NOTE in text(admin.get(rq(pub, A)))
    for r in (done, anon_get(srv, t), anon_form(srv, t + "/replies", {"body": ""}),
              anon_form(srv, t + "/consent", {"action": "nonsense"}), anon_form(srv, t + "/replies", {"body": "好"}),
              anon_get(srv, t + "?replied=1")):
        assert NOTE.encode() not in r.body and b"message-internal" not in r.body, r


# --- without an account (C3.2.2) -------------------------------------------------------------------

def anon_get(srv, path):
    return srv.request("GET", path)


def anon_form(srv, path, fields):
    import urllib.parse
    return srv.request("POST", path, body=urllib.parse.urlencode(fields),
                       headers={"Content-Type": "application/x-www-form-urlencoded"})


def intake_link(admin, cid):
    r = admin.form("/orgs/%s/intake-token" % cid, {})
    assert r.status == 200, r
    m = re.search(r'id="intake-link">(/c/kfc_[A-Za-z0-9_-]{43}/new)</a>', text(r))
    assert m, text(r)
    return m.group(1)


def raise_public(srv, link, **over):
    fields = {"name": "张三", "phone": "138 0013 8000", "service_kind": "technical_support",
              "subject": "家里宽带断了", "body": "从昨晚开始**无法上网**。", "idempotency_key": "k-" + hashlib.sha1(over.get("subject", "x").encode()).hexdigest(),
              "website": ""}
    fields.update(over)
    return anon_form(srv, link, fields)


def tracking(r):
    m = re.search(r'id="tracking-link">(/t/kft_[A-Za-z0-9_-]{43})</a>', text(r))
    assert m, text(r)
    return m.group(1)


def test_C3_2_2_a_customer_raises_and_follows_a_request_without_an_account(kefu, tmp_path):
    srv, admin, boss, boss_b, ids = new_site(kefu, tmp_path)
    A, B = ids["A"], ids["B"]
    link = intake_link(admin, A)
    page = text(anon_get(srv, link))
    assert 'name="website"' in page and 'name="idempotency_key"' in page and 'name="phone"' in page
    r = raise_public(srv, link)
    assert r.status == 201, r
    t = tracking(r)
    assert "SR-000001" in text(r)
    # the request: channel web, the customer created with consent for service delivery (C3.2.2)
    api = actor(admin)
    items = api.call("GET", "/api/v1/requests?client_id=%s" % A).json["items"]
    assert len(items) == 1 and items[0]["channel"] == "web" and items[0]["customer_id"]
    cust = items[0]["customer_id"]
    c = api.call("GET", "/api/v1/customers/%s?client_id=%s" % (cust, A)).json
    assert c["name"] == "张三"
    ks = api.call("GET", "/api/v1/customers/%s/consents?client_id=%s" % (cust, A)).json["items"]
    assert [(k["purpose"], k["given_channel"]) for k in ks] == [("service_delivery", "web")]
    # the same customer again (name + phone in another format): matched, not created twice
    r = raise_public(srv, link, phone="13800138000", subject="第二次")
    assert r.status == 201
    items = api.call("GET", "/api/v1/requests?client_id=%s" % A).json["items"]
    assert len(items) == 2 and items[0]["customer_id"] == cust
    # following it: public replies, never the internal note (C5.2)
    rid = items[1]["id"]
    assert location(admin.form(rq(rid, A, "/replies"), {"body": "您好，师傅下午上门。"}))
    assert location(admin.form(rq(rid, A, "/notes"), {"body": NOTE}))
    page = text(anon_get(srv, t))
    assert "家里宽带断了" in page and "师傅下午上门" in page and NOTE not in page and "message-internal" not in page
    # the customer replies through the link; staff see it as the client's side
    assert location(anon_form(srv, t + "/replies", {"body": "好的，我在家。"})).startswith(t)
    assert "我在家" in text(admin.get(rq(rid, A)))
    r = anon_form(srv, t + "/replies", {"body": ""})
    assert r.status == 422 and NOTE.encode() not in r.body
    # consent withdrawn and given again on the link, as easily
    assert location(anon_form(srv, t + "/consent", {"action": "withdraw"})).endswith("#consent")
    ks = api.call("GET", "/api/v1/customers/%s/consents?client_id=%s" % (cust, A)).json["items"]
    assert all(k["withdrawn_at"] for k in ks)
    assert location(anon_form(srv, t + "/consent", {"action": "give"}))
    # a closed request takes no reply through the link either
    for to in ("resolved", "closed"):
        assert location(admin.form(rq(rid, A, "/status"), {"status": to}))
    r = anon_form(srv, t + "/replies", {"body": "关闭后"})
    assert r.status == 409
    for path in ("/t/" + "kft_" + "A" * 43, t[:-1], t + "x", "/t/", "/t/kft_", t.replace("kft_", "kfc_")):
        r = anon_get(srv, path)
        assert r.status == 404 and "家里宽带断了".encode() not in r.body, path
    assert anon_form(srv, t[:-1] + "/replies", {"body": "猜"}).status == 404
    assert anon_form(srv, t[:-1] + "/consent", {"action": "withdraw"}).status == 404
    # another request's link shows that request only; client B's form token never reaches A
    link_b = intake_link(admin, B)
    tb = tracking(raise_public(srv, link_b, subject=SECRET_B))
    assert SECRET_B not in text(anon_get(srv, t)) and "家里宽带断了" not in text(anon_get(srv, tb))
    # rotating the form's link ends the old one
    link2 = intake_link(admin, A)
    assert anon_get(srv, link).status == 404 and anon_get(srv, link2).status == 200
    assert raise_public(srv, link, subject="旧链接").status == 404
    # the client's own admin may make it too (request.intake); another client's admin finds nothing
    r = boss.form("/orgs/%s/intake-token" % A, {})
    assert r.status == 200 and 'id="intake-link">/c/kfc_' in text(r)
    assert anon_get(srv, link2).status == 404
    assert boss_b.form("/orgs/%s/intake-token" % A, {}).status == 404


def test_C3_2_2_the_public_forms_honeypot_bad_input_double_submit_and_rate_limit(kefu, tmp_path):
    srv, admin, boss, boss_b, ids = new_site(kefu, tmp_path)
    A = ids["A"]
    link = intake_link(admin, A)
    # the honeypot: the same thanks, no link, nothing written
    r = raise_public(srv, link, website="http://spam.example")
    assert r.status == 200 and b"tracking-link" not in r.body
    assert count(admin, A) == 0
    # bad input: the form again beside the field, nothing written
    for over, field in ((dict(name=""), "name"), (dict(phone="", email=""), "contact"), (dict(subject=""), "subject"),
                        (dict(service_kind="nothing"), "service_kind"), (dict(subject="长" * 201), "subject")):
        r = raise_public(srv, link, **over)
        assert r.status == 422 and field_error(r, field), (over, r.status)
    assert count(admin, A) == 0
    # the same form twice: one request
    a = raise_public(srv, link, idempotency_key="same-form", subject="双击")
    b = raise_public(srv, link, idempotency_key="same-form", subject="双击")
    assert a.status == 201 and b.status == 201 and count(admin, A) == 1
    # rate limit per address: after the free submissions of the hour, refused with 429
    statuses = [raise_public(srv, link, subject="第%d次" % i, idempotency_key="rl-%d" % i).status for i in range(30)]
    assert 429 in statuses and statuses[:10] == [201] * 10, statuses
    made = count(admin, A)
    r = raise_public(srv, link, subject="再来一次", idempotency_key="rl-x")
    assert r.status == 429 and count(admin, A) == made
