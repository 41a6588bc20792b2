"""The agent queue (issue 7 item 2) through HTTP on both engines: saved views (personal ones are
their owner's alone — 404 to anyone else; shared ones read by all provider staff, changed by their
owner or an admin; the same name twice 409; wrong-typed filters 422 naming the filter), their live
counts after changes, the request list's new filters and its keyset sort by SLA due (a forged cursor
is 400), bulk assign and bulk status — all or nothing, one audit record per request (C5.2: another
client's request fails the call and nothing changes) — and the /queue page with its forms."""
import re

import kefu_http as kh
from test_admin_api import login_as, make_user, new_site
from test_agreements_api import activate
from test_requests_api import body, rpath

V = "/api/v1/request-views"


def site(kefu, tmp_path):
    srv, admin, ids = new_site(kefu, tmp_path)
    activate(admin, login_as(srv, "boss-A"), ids["A"])
    activate(admin, login_as(srv, "boss-B"), ids["B"])
    ids["wang"] = make_user(admin, "0", "agent.wang", ["agent"])
    ids["zhao"] = make_user(admin, "0", "agent.zhao", ["agent"])
    return srv, admin, ids


def raise_(admin, cid, **over):
    r = admin.call("POST", "/api/v1/requests", body(cid, **over))
    assert r.status == 201, r
    return r.json


def views_of(actor):
    r = actor.call("GET", V)
    assert r.status == 200, r
    return {v["name"]: v for v in r.json["items"]}


def counts(actor):
    r = actor.call("GET", V + "/counts")
    assert r.status == 200, r
    return {v["name"]: v["count"] for v in r.json["items"]}


def trail(admin, cid, rid, action):
    r = admin.call("GET", "/api/v1/audit?client_id=%s&object_type=request&object_id=%s" % (cid, rid))
    assert r.status == 200, r
    return [e for e in r.json["items"] if e["action"] == action]


def test_C5_2_views_crud_personal_views_are_404_to_others_shared_ones_owner_or_admin(kefu, tmp_path):
    srv, admin, ids = site(kefu, tmp_path)
    wang, zhao = login_as(srv, "agent.wang"), login_as(srv, "agent.zhao")
    r = wang.call("POST", V, {"name": "我的P1", "filters": {"priority": "P1", "assignee": "me"}, "sort": "sla_due"})
    assert r.status == 201, r
    mine = r.json
    assert mine["owner_id"] == ids["wang"] and mine["shared"] is False and mine["sort"] == "sla_due"
    assert mine["filters"] == {"assignee": "me", "priority": "P1"}
    # the same submission again: one view (409 on name), nothing else changes
    kh.assert_error(wang.call("POST", V, {"name": "我的P1", "filters": {}}), 409, "conflict", "name")
    assert list(views_of(wang)) == ["我的P1"]
    # another user: the personal view does not exist for them
    for m, extra in (("GET", None), ("PATCH", {"name": "偷看"}), ("DELETE", None)):
        kh.assert_error(zhao.call(m, "%s/%s" % (V, mine["id"]), extra), 404, "not_found")
    kh.assert_error(zhao.call("GET", "%s/%s/requests" % (V, mine["id"])), 404, "not_found")
    assert views_of(zhao) == {} and counts(zhao) == {}
    assert wang.call("GET", "%s/%s" % (V, mine["id"])).json["name"] == "我的P1"
    # a shared view: everyone reads it, only its owner or an admin changes it
    r = wang.call("POST", V, {"name": "未分配", "shared": True, "filters": {"assignee": "unassigned"}})
    assert r.status == 201, r
    shared = r.json
    assert "未分配" in views_of(zhao)
    kh.assert_error(zhao.call("PATCH", "%s/%s" % (V, shared["id"]), {"name": "改"}), 403, "forbidden")
    kh.assert_error(zhao.call("DELETE", "%s/%s" % (V, shared["id"])), 403, "forbidden")
    r = admin.call("PATCH", "%s/%s" % (V, shared["id"]), {"name": "待分配", "filters": {"assignee": "unassigned",
                                                                                      "status": ["new", "open"]}})
    assert r.status == 200 and r.json["name"] == "待分配" and r.json["filters"]["status"] == ["new", "open"], r
    r = wang.call("PATCH", "%s/%s" % (V, mine["id"]), {"shared": True, "sort": "oldest"})
    assert r.status == 200 and r.json["shared"] is True and r.json["sort"] == "oldest", r
    assert wang.call("PATCH", "%s/%s" % (V, mine["id"]), {"shared": False}).status == 200
    # renaming onto another of one's own names is the same conflict
    kh.assert_error(wang.call("PATCH", "%s/%s" % (V, mine["id"]), {"name": "待分配"}), 409, "conflict", "name")
    # bad input: wrong types name the filter; nothing is saved
    bad = [({"name": "x", "filters": {"priority": 1}}, "filters.priority"),
           ({"name": "x", "filters": {"status": "lost"}}, "filters.status"),
           ({"name": "x", "filters": {"team_id": "abc"}}, "filters.team_id"),
           ({"name": "x", "filters": {"from": "yesterday"}}, "filters.from"),
           ({"name": "x", "filters": {"colour": "red"}}, "filters"),
           ({"name": "x", "filters": [1]}, "filters"),
           ({"name": "x", "shared": "yes"}, "shared"),
           ({"name": "x", "sort": "random"}, "sort"),
           ({"name": ""}, "name"),
           ({"name": "长" * 81}, "name"),
           ({"filters": {}}, "name")]
    for b, field in bad:
        kh.assert_error(wang.call("POST", V, b), 422, "invalid", field)
    kh.assert_error(wang.call("GET", "%s/%s" % (V, "nope")), 404, "not_found")
    assert sorted(views_of(wang)) == ["待分配", "我的P1"]
    # the owner deletes; a client user reaches no view at all
    assert wang.call("DELETE", "%s/%s" % (V, mine["id"])).status == 200
    kh.assert_error(wang.call("GET", "%s/%s" % (V, mine["id"])), 404, "not_found")
    boss = login_as(srv, "boss-A")
    kh.assert_error(boss.call("GET", V), 404, "not_found")
    kh.assert_error(boss.call("GET", "%s/%s" % (V, shared["id"])), 404, "not_found")
    kh.assert_error(boss.call("POST", V, {"name": "x"}), 404, "not_found")
    # every change is on the provider's audit chain
    r = admin.call("GET", "/api/v1/audit?client_id=0&object_type=request_view&object_id=%s" % mine["id"])
    assert r.status == 200, r
    assert sorted(e["action"] for e in r.json["items"]) == ["request_view.create", "request_view.delete",
                                                           "request_view.update", "request_view.update"]


def test_counts_follow_changes_and_filters_client_team_sla_created_unassigned(kefu, tmp_path):
    srv, admin, ids = site(kefu, tmp_path)
    A, B = ids["A"], ids["B"]
    wang = login_as(srv, "agent.wang")
    a1 = raise_(admin, A, priority="P1")
    srv.advance(60000)
    a2 = raise_(admin, A, priority="P4")
    srv.advance(60000)
    b1 = raise_(admin, B, priority="P2")
    team = admin.call("POST", "/api/v1/teams", {"name": "一线"})
    assert team.status == 201, team
    tid = team.json["id"]
    for name, filters in (("未分配", {"assignee": "unassigned"}), ("我的", {"assignee": "me"}),
                          ("甲方A", {"client_id": A}), ("一线", {"team_id": tid}),
                          ("新P1", {"status": "new", "priority": "P1"}), ("已解决", {"sla": "met"})):
        assert wang.call("POST", V, {"name": name, "filters": filters}).status == 201
    assert counts(wang) == {"未分配": 3, "我的": 0, "甲方A": 2, "一线": 0, "新P1": 1, "已解决": 0}
    # the stored SLA summary is there from creation: the earlier of the two running clocks
    for q in (a1, a2, b1):
        assert q["sla_state"] == "running", q
        assert q["sla_due_at"] == min(q["sla"]["first_response"]["due_at"], q["sla"]["resolution"]["due_at"]), q
    assert admin.call("POST", rpath(a1["id"], A, "/assign"), {"assignee_id": ids["wang"], "team_id": tid}).status == 200
    assert admin.call("POST", rpath(b1["id"], B, "/status"), {"status": "resolved"}).status == 200
    assert counts(wang) == {"未分配": 2, "我的": 1, "甲方A": 2, "一线": 1, "新P1": 1, "已解决": 1}
    # "me" is whoever looks
    zhao = login_as(srv, "agent.zhao")
    wid = views_of(wang)["我的"]["id"]
    assert wang.call("PATCH", "%s/%s" % (V, wid), {"shared": True}).status == 200
    assert counts(zhao)["我的"] == 0
    r = wang.call("GET", "%s/%s/requests" % (V, wid))
    assert r.status == 200 and [i["id"] for i in r.json["items"]] == [a1["id"]], r
    # the list's filters directly
    L = "/api/v1/requests?limit=200&"

    def listed(q):
        r = admin.call("GET", L + q)
        assert r.status == 200, r
        return sorted(i["id"] for i in r.json["items"])
    assert listed("client_id=%s" % A) == sorted([a1["id"], a2["id"]])
    assert listed("team_id=%s" % tid) == [a1["id"]]
    assert listed("unassigned=1") == sorted([a2["id"], b1["id"]])
    assert listed("sla=met") == [b1["id"]]
    assert listed("sla=running") == sorted([a1["id"], a2["id"]])
    assert listed("status=new,resolved") == sorted([a1["id"], a2["id"], b1["id"]])
    assert listed("assignee_id=me") == []
    assert wang.call("GET", L + "assignee_id=me").json["items"][0]["id"] == a1["id"]
    created = a2["created"]
    assert listed("from=%d" % created) == sorted(i for i in (a2["id"], b1["id"]))
    assert listed("to=%d" % created) == [a1["id"]]
    # wrong types and unknown values: 422 naming the parameter
    for q, field in (("sla=late", "sla"), ("team_id=x", "team_id"), ("unassigned=yes", "unassigned"),
                     ("from=yesterday", "from"), ("from=5&to=4", "from"), ("sort=random", "sort"),
                     ("status=new,lost", "status"), ("priority=P9", "priority"), ("limit=201", "limit")):
        kh.assert_error(admin.call("GET", L.replace("limit=200&", "") + q), 422, "invalid", field)


def test_sort_by_sla_due_keyset_walk_and_forged_cursors(kefu, tmp_path):
    srv, admin, ids = site(kefu, tmp_path)
    A = ids["A"]
    made = [raise_(admin, A, priority=p) for p in ("P4", "P1", "P3", "P2", "P1")]
    closed = raise_(admin, A, priority="P2")
    assert admin.call("POST", rpath(closed["id"], A, "/status"), {"status": "closed"}).status == 200
    r = admin.call("GET", "/api/v1/requests?sort=sla_due&limit=200")
    assert r.status == 200 and r.json["next"] is None, r
    items = r.json["items"]
    dues = [i["sla_due_at"] for i in items if i["sla_due_at"] is not None]
    assert dues == sorted(dues) and len(dues) == 5
    assert items[-1]["id"] == closed["id"] and items[-1]["sla_due_at"] is None   # no clock running: last
    assert [i["priority"] for i in items[:2]] == ["P1", "P1"]
    # the same order page by page: the cursor carries the due instant and the id
    walked, after = [], ""
    for _ in range(10):
        r = admin.call("GET", "/api/v1/requests?sort=sla_due&limit=2" + after)
        assert r.status == 200, r
        walked += [i["id"] for i in r.json["items"]]
        if not r.json["next"]:
            break
        assert re.match(r"^(\d+|none)\.\d+$", r.json["next"]), r.json["next"]
        after = "&after=" + r.json["next"]
    assert walked == [i["id"] for i in items]
    assert sorted(walked) == sorted([m["id"] for m in made] + [closed["id"]])
    # oldest first, and the view's page with its sort
    r = admin.call("GET", "/api/v1/requests?sort=oldest&limit=200")
    assert [i["id"] for i in r.json["items"]] == sorted(walked)
    # forged or foreign cursors: 400, never 5xx
    for q in ("sort=sla_due&after=abc", "sort=sla_due&after=123", "sort=sla_due&after=1.x", "sort=sla_due&after=-5.3",
              "sort=sla_due&after=.7", "after=1.2", "sort=oldest&after=none.5", "after=%s" % ("9" * 30)):
        kh.assert_error(admin.call("GET", "/api/v1/requests?" + q), 400, "bad_request", "after")
    v = admin.call("POST", V, {"name": "时限", "sort": "sla_due"}).json
    r = admin.call("GET", "%s/%s/requests?limit=200" % (V, v["id"]))
    assert [i["id"] for i in r.json["items"]] == walked
    kh.assert_error(admin.call("GET", "%s/%s/requests?after=zz" % (V, v["id"])), 400, "bad_request", "after")


def test_C5_2_bulk_assign_and_status_one_audit_record_each_all_or_nothing(kefu, tmp_path):
    srv, admin, ids = site(kefu, tmp_path)
    A, B = ids["A"], ids["B"]
    a = [raise_(admin, A)["id"] for _ in range(3)]
    b = raise_(admin, B)["id"]
    wang = login_as(srv, "agent.wang")
    r = wang.call("POST", "/api/v1/requests/bulk/assign", {"ids": a[:2] + [b], "assignee_id": ids["wang"]})
    assert r.status == 200 and r.json["updated"] == 3, r
    for rid, cid in ((a[0], A), (a[1], A), (b, B)):
        assert admin.call("GET", rpath(rid, cid)).json["assignee_id"] == ids["wang"]
        assert len(trail(admin, cid, rid, "request.assign")) == 1     # one record per request
    assert admin.call("GET", rpath(a[2], A)).json["assignee_id"] is None

    def untouched():
        q = admin.call("GET", rpath(a[2], A)).json
        assert q["assignee_id"] is None and q["status"] == "new", q
        assert trail(admin, A, a[2], "request.assign") == [] and trail(admin, A, a[2], "request.status") == []
    # an unknown id, or another client's under client_id: the item fails, nothing is done
    r = wang.call("POST", "/api/v1/requests/bulk/assign", {"ids": [a[2], "999999999"], "assignee_id": ids["zhao"]})
    kh.assert_error(r, 404, "not_found", "ids")
    assert "item 1" in r.json["error"]["detail"]
    r = wang.call("POST", "/api/v1/requests/bulk/assign", {"ids": [a[2], b], "client_id": A, "assignee_id": ids["zhao"]})
    kh.assert_error(r, 404, "not_found", "ids")
    untouched()
    assert admin.call("GET", rpath(b, B)).json["assignee_id"] == ids["wang"]
    # a client user moves nothing: not their own client's requests (403), not another's (404)
    boss = login_as(srv, "boss-A")
    kh.assert_error(boss.call("POST", "/api/v1/requests/bulk/assign", {"ids": [a[2]], "assignee_id": ids["zhao"]}),
                    403, "forbidden", "ids")
    kh.assert_error(boss.call("POST", "/api/v1/requests/bulk/assign", {"ids": [b], "assignee_id": ids["zhao"]}),
                    404, "not_found", "ids")
    untouched()
    # bulk status: one request.status record each
    r = wang.call("POST", "/api/v1/requests/bulk/status", {"ids": a[:2], "status": "resolved", "reason": "批量处理"})
    assert r.status == 200 and r.json["updated"] == 2, r
    for rid in a[:2]:
        assert admin.call("GET", rpath(rid, A)).json["status"] == "resolved"
        t = trail(admin, A, rid, "request.status")
        assert len(t) == 1, t
    # one transition the table forbids (resolved → open) fails the whole call
    r = wang.call("POST", "/api/v1/requests/bulk/status", {"ids": [a[2], a[0]], "status": "open"})
    kh.assert_error(r, 409, "conflict", "ids")
    untouched()
    # bad input
    P = "/api/v1/requests/bulk/status"
    for bad, field in (({"status": "open"}, "ids"), ({"ids": [], "status": "open"}, "ids"),
                       ({"ids": "1", "status": "open"}, "ids"), ({"ids": ["x"], "status": "open"}, "ids"),
                       ({"ids": [a[2]] * 2, "status": "open"}, "ids"),
                       ({"ids": [str(i + 1) for i in range(201)], "status": "open"}, "ids"),
                       ({"ids": [a[2]], "status": "lost"}, "status"), ({"ids": [a[2]], "status": 3}, "status"),
                       ({"ids": [a[2]]}, "status")):
        kh.assert_error(wang.call("POST", P, bad), 422, "invalid", field)
    kh.assert_error(wang.call("POST", "/api/v1/requests/bulk/assign", {"ids": [a[2]], "assignee_id": "x"}), 422,
                    "invalid", "assignee_id")
    kh.assert_error(wang.call("POST", "/api/v1/requests/bulk/assign", {"ids": [a[2]], "team_id": "123456"}), 422,
                    "invalid", "team_id")
    untouched()


def test_queue_page_views_counts_bulk_forms_and_live_markers(kefu, tmp_path):
    from test_pages_admin import Browser, location, text
    srv, admin, ids = site(kefu, tmp_path)
    A = ids["A"]
    a = [raise_(admin, A, subject="队列请求%d" % i)["id"] for i in range(3)]
    wang, zhao = Browser(srv, "agent.wang"), Browser(srv, "agent.zhao")
    r = wang.get("/queue")
    assert r.status == 200, r
    page = text(r)
    assert 'id="queue-table" data-live="requests"' in page and 'id="queue-counts" data-live="requests"' in page
    assert 'href="/queue"' in page and "队列请求0" in page and page.count('name="ids"') == 3
    # whose request it is, by name, though an agent may not read the organisations themselves
    assert "<td>客户公司A</td>" in page and "<td>%s</td>" % A not in page, page
    # save the current filters as a view; the same name again is refused and nothing is saved
    r = wang.form("/queue/views", {"name": "待办", "status": "new", "sort": "sla_due"})
    m = re.match(r"^/queue\?view=(\d+)&saved=1$", location(r))
    assert m, r
    vid = m.group(1)
    r = wang.form("/queue/views", {"name": "待办"})
    assert r.status == 409 and 'role="alert"' in text(r), r
    r = wang.get("/queue?view=%s" % vid)
    assert r.status == 200 and "待办" in text(r)
    assert re.search(r'data-view="%s">3<' % vid, text(r)), text(r)
    # the bulk bar: two rows to Wang, back to the view with its count of changes
    r = wang.form("/queue/bulk", {"ids": a[:2], "op": "assign", "assignee_id": ids["wang"], "back": "view=%s" % vid})
    assert location(r) == "/queue?view=%s&done=2" % vid, r
    for rid in a[:2]:
        assert admin.call("GET", rpath(rid, A)).json["assignee_id"] == ids["wang"]
    r = wang.form("/queue/bulk", {"ids": [a[2], "999999999"], "op": "status", "status": "open"})
    assert r.status == 404 and 'role="alert"' in text(r), r
    assert admin.call("GET", rpath(a[2], A)).json["status"] == "new"
    r = wang.form("/queue/bulk", {"ids": a[2], "op": "status", "status": "open"}, csrf=False)
    assert r.status == 403, r
    assert admin.call("GET", rpath(a[2], A)).json["status"] == "new"
    # another user: the personal view is the 404 page, and it cannot be deleted
    assert zhao.get("/queue?view=%s" % vid).status == 404
    assert zhao.form("/queue/views/%s/delete" % vid).status == 404
    assert "待办" not in text(zhao.get("/queue"))
    assert wang.get("/queue?view=abc").status == 404
    assert wang.get("/queue?sort=sla_due&after=forged").status == 400
    assert wang.get("/queue?sla=late").status == 422
    # the owner deletes it
    assert location(wang.form("/queue/views/%s/delete" % vid)) == "/queue?deleted=1"
    assert wang.get("/queue?view=%s" % vid).status == 404


def test_queue_page_filters_by_created_dates_and_saves_them(kefu, tmp_path):
    """The queue's date fields: local days (Asia/Shanghai), `to` including its day, shown back as
    typed; saved into a view as instants; a date that does not exist is 422 naming the field."""
    import datetime
    import zoneinfo
    from test_pages_admin import Browser, location, text
    srv, admin, ids = site(kefu, tmp_path)
    A = ids["A"]
    make_user(admin, "0", "am.queue", ["account_manager", "agent"])
    old = raise_(admin, A, subject="三天前的请求")
    srv.advance(3 * 86400000)
    admin = login_as(srv, "am.queue")  # three days idle ended the session
    new = raise_(admin, A, subject="今天的请求")
    day = lambda q: datetime.datetime.fromtimestamp(q["created"] / 1000, zoneinfo.ZoneInfo("Asia/Shanghai")).date()
    d_old, d_new = day(old), day(new)
    assert d_new - d_old == datetime.timedelta(days=3)
    wang = Browser(srv, "agent.wang")
    r = wang.get("/queue?from=%s" % d_new.isoformat())
    assert r.status == 200 and "今天的请求" in text(r) and "三天前的请求" not in text(r), r
    assert 'name="from" type="date" value="%s"' % d_new.isoformat() in text(r)
    r = wang.get("/queue?to=%s" % d_old.isoformat())
    assert r.status == 200 and "三天前的请求" in text(r) and "今天的请求" not in text(r), r
    assert 'name="to" type="date" value="%s"' % d_old.isoformat() in text(r)
    # the API reads the same dates
    r = admin.call("GET", "/api/v1/requests?client_id=%s&to=%s" % (A, d_old.isoformat()))
    assert r.status == 200 and [q["id"] for q in r.json["items"]] == [old["id"]], r
    # saved as a view: the instants, and its count follows
    r = wang.form("/queue/views", {"name": "近两天", "from": (d_new - datetime.timedelta(days=1)).isoformat()})
    assert re.match(r"^/queue\?view=\d+&saved=1$", location(r)), r
    wang_api = login_as(srv, "agent.wang")
    assert counts(wang_api)["近两天"] == 1
    # bad dates: 422 naming the field, and nothing saved
    r = wang.get("/queue?from=2026-02-30")
    assert r.status == 422 and 'aria-invalid="true"' in text(r), r
    kh.assert_error(admin.call("GET", "/api/v1/requests?client_id=%s&from=yesterday" % A), 422, "invalid", "from")
    r = wang.form("/queue/views", {"name": "坏日期", "to": "2026-13-01"})
    assert r.status == 422, r
    assert "坏日期" not in views_of(wang_api)
