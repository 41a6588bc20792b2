"""Notifications and live updates (issue 4 items 4 and 5): the bell's list, count and marking read,
each user seeing only their own; the event stream that pushes the unread count as it changes, without
holding a server thread while it waits; and shutdown with open streams. Both engines."""
import signal
import time

import kefu_http as kh
from test_admin_api import Actor, login_as, make_user, new_site


def notify(srv, user_id, client_id="0", key="notify.test", **extra):
    body = {"user_id": user_id, "client_id": client_id, "message_key": key}
    body.update(extra)
    r = srv.post("/api/v1/test/notify", json=body)
    assert r.status == 204, r


def me(actor):
    return actor.call("GET", "/api/v1/auth/me").json["user"]


def stream(srv, actor):
    return kh.EventStream(srv.addr, "/api/v1/events", {"Cookie": actor.cookie})


def test_notifications_are_each_users_own(kefu, tmp_path):
    srv, admin, ids = new_site(kefu, tmp_path)
    make_user(admin, "0", "agent.he", ["agent"])
    a, b = login_as(srv, "agent.he"), login_as(srv, "boss-A")
    ua, ub = me(a), me(b)
    notify(srv, ua["id"], key="notify.test", params={"n": 1}, link="/requests/1")
    notify(srv, ua["id"], key="notify.test", params={"n": 2})
    notify(srv, ub["id"], client_id=ub["client_id"])
    r = a.call("GET", "/api/v1/notifications")
    assert r.status == 200 and r.json["unread"] == 2, r
    assert [x["params"]["n"] for x in r.json["items"]] == [2, 1]  # newest first
    assert r.json["items"][1]["link"] == "/requests/1"
    theirs = b.call("GET", "/api/v1/notifications").json["items"][0]["id"]
    kh.assert_error(a.call("POST", "/api/v1/notifications/%s/read" % theirs), 404, "not_found")
    first = r.json["items"][0]["id"]
    assert a.call("POST", "/api/v1/notifications/%s/read" % first).json["unread"] == 1
    assert a.call("POST", "/api/v1/notifications/%s/read" % first).json["unread"] == 1  # idempotent
    assert [x["id"] for x in a.call("GET", "/api/v1/notifications?unread=1").json["items"]] != [first]
    assert a.call("POST", "/api/v1/notifications/read-all").json["unread"] == 0
    assert b.call("GET", "/api/v1/notifications").json["unread"] == 1  # the other user's untouched
    for q, field in (("unread=2", "unread"), ("limit=0", "limit"), ("limit=201", "limit"), ("after=x", "after")):
        kh.assert_error(a.call("GET", "/api/v1/notifications?" + q), 422, "invalid", field)
    # a producer's bad input changes nothing
    for body, field in (({"message_key": "Bad Key"}, "message_key"), ({"link": "https://evil.example/"}, "link"),
                        ({"link": "//evil.example/"}, "link"), ({"params": [1]}, "params")):
        full = {"user_id": ua["id"], "client_id": "0", "message_key": "notify.test"}
        full.update(body)
        kh.assert_error(srv.post("/api/v1/test/notify", json=full), 422, "invalid", field)
    kh.assert_error(srv.post("/api/v1/test/notify", json={"user_id": ua["id"], "client_id": ids["A"],
                                                           "message_key": "notify.test"}), 404, "not_found")
    assert a.call("GET", "/api/v1/notifications").json["unread"] == 0


def test_a_password_change_and_a_new_token_reach_the_bell(kefu, tmp_path):
    srv, admin, ids = new_site(kefu, tmp_path)
    make_user(admin, "0", "agent.lu", ["agent"])
    a = login_as(srv, "agent.lu")
    assert a.call("POST", "/api/v1/auth/tokens", {"name": "crm", "roles": ["agent"]}).status == 201
    keys = [x["message_key"] for x in a.call("GET", "/api/v1/notifications").json["items"]]
    assert keys == ["notify.token_created"]
    boss = login_as(srv, "boss-A")
    staff = make_user(admin, ids["A"], "staff.qian", ["client_staff"])
    assert boss.call("POST", "/api/v1/users/%s/password?client_id=%s" % (staff, ids["A"]),
                     {"password": "新的口令-长一些-2027"}).status == 204
    s = login_as(srv, "staff.qian", "新的口令-长一些-2027")
    assert [x["message_key"] for x in s.call("GET", "/api/v1/notifications").json["items"]] == ["notify.password_reset"]


def test_the_event_stream_pushes_the_unread_count(kefu, tmp_path):
    srv, admin, ids = new_site(kefu, tmp_path)
    make_user(admin, "0", "agent.ma", ["agent"])
    a = login_as(srv, "agent.ma")
    other = login_as(srv, "boss-A")
    ua = me(a)
    es, es_other = stream(srv, a), stream(srv, other)
    try:
        assert es.status == 200
        assert es.header("Content-Type").startswith("text/event-stream")
        assert es.header("Cache-Control") == "no-store"
        assert es.next_event() == ("notifications", '{"unread":0}')
        assert es_other.next_event() == ("notifications", '{"unread":0}')
        notify(srv, ua["id"])
        assert es.next_event() == ("notifications", '{"unread":1}')
        notify(srv, ua["id"])
        assert es.next_event() == ("notifications", '{"unread":2}')
        a.call("POST", "/api/v1/notifications/read-all")
        assert es.next_event() == ("notifications", '{"unread":0}')
        assert es_other.next_event(timeout=0.5) is None  # another user's news never reaches this stream
    finally:
        es.close()
        es_other.close()
    kh.assert_error(kh.request(srv.addr, "GET", "/api/v1/events"), 401, "unauthenticated")


def test_waiting_streams_hold_no_worker_thread(kefu, tmp_path):
    """More open streams than worker threads, and the server still answers everything else."""
    srv, admin, ids = new_site(kefu, tmp_path)
    people = []
    for name in ("agent.liu", "agent.zhao", "agent.qian"):
        make_user(admin, "0", name, ["agent"])
        people.append(login_as(srv, name))
    streams = [(p, stream(srv, p)) for p in people for _ in range(4)]
    try:
        for _, es in streams:
            assert es.next_event() == ("notifications", '{"unread":0}')
        for _ in range(20):
            assert srv.get("/healthz").status == 200
        assert people[0].call("GET", "/api/v1/notifications").status == 200
        for p in people:
            notify(srv, me(p)["id"])
        for _, es in streams:
            assert es.next_event() == ("notifications", '{"unread":1}')
    finally:
        for _, es in streams:
            es.close()


def test_a_person_keeps_at_most_eight_streams(kefu, tmp_path):
    """A closed tab is noticed only at the next heartbeat, so the streams of one person are bounded:
    the ninth ends the oldest, which the browser reopens by itself (EventSource retry)."""
    srv, admin, ids = new_site(kefu, tmp_path)
    make_user(admin, "0", "agent.wei", ["agent"])
    a = login_as(srv, "agent.wei")
    streams = []
    try:
        for _ in range(8):
            streams.append(stream(srv, a))
            assert streams[-1].next_event() == ("notifications", '{"unread":0}')
        streams.append(stream(srv, a))
        assert streams[-1].next_event() == ("notifications", '{"unread":0}')
        assert streams[0].next_event(timeout=5) == ("closed", ""), "the oldest stream ended"
        notify(srv, me(a)["id"])
        for es in streams[1:]:
            assert es.next_event() == ("notifications", '{"unread":1}')
    finally:
        for es in streams:
            es.close()


def test_shutdown_ends_open_streams(kefu, tmp_path):
    srv, admin, ids = new_site(kefu, tmp_path)
    make_user(admin, "0", "agent.sun", ["agent"])
    a = login_as(srv, "agent.sun")
    es = stream(srv, a)
    assert es.next_event() == ("notifications", '{"unread":0}')
    started = time.monotonic()
    srv.send_signal(signal.SIGTERM)
    assert es.next_event(timeout=10) == ("closed", "")
    srv.wait(timeout=10)
    srv.check_exit()  # exit 0, a clean sanitizer log
    assert time.monotonic() - started < 10  # not the 30 s grace: the stream ended at once
    es.close()
