"""Live updates of request lists (issue 7 item 2): every committed change of a request reaches, as an
SSE `request` event, exactly the streams allowed to see that request — provider staff for every client,
a client user for their own client only and never for internal notes (C5.2) — and with PostgreSQL also
the streams of another kefu process on the same database (LISTEN/NOTIFY). A refused change sends
nothing. Both engines; the two-process test on PostgreSQL only."""
import copy
import json

import pytest

import kefu_http as kh
from test_admin_api import login_as, make_user, new_site
from test_agreements_api import activate
from test_requests_api import body, rpath


def stream(srv, actor):
    es = kh.EventStream(srv.addr, "/api/v1/events", {"Cookie": actor.cookie})
    assert es.status == 200, es.resp.read(500)
    assert es.next_event()[0] == "notifications"  # the first event: the unread count
    return es


def next_request_event(es, timeout=10.0):
    """The next `request` event's data as a dict (other events skipped), or None."""
    while True:
        ev = es.next_event(timeout=timeout)
        if ev is None:
            return None
        if ev[0] == "request" and json.loads(ev[1]) != getattr(es, "stale", None):
            return json.loads(ev[1])


def settle(q, *streams):
    """Makes the streams skip the event of q's creation, which came before they opened: with
    PostgreSQL a change's notification comes back through LISTEN after its reply, so a stream opened
    just after the change may still hear it."""
    for es in streams:
        es.stale = {"id": q["id"], "client_id": q["client_id"], "what": "create"}


def on(actor, srv):
    """The same logged-in person, talking to another process (sessions live in the database)."""
    other = copy.copy(actor)
    other.srv = srv
    return other


def site_with_request(kefu, tmp_path):
    srv, admin, ids = new_site(kefu, tmp_path)
    boss_a = login_as(srv, "boss-A")
    activate(admin, boss_a, ids["A"])
    activate(admin, login_as(srv, "boss-B"), ids["B"])
    r = admin.call("POST", "/api/v1/requests", body(ids["A"]))
    assert r.status == 201, r
    return srv, admin, ids, r.json


def test_C5_2_request_changes_reach_exactly_the_streams_allowed_to_see_them(kefu, tmp_path):
    srv, admin, ids, q = site_with_request(kefu, tmp_path)
    A, B = ids["A"], ids["B"]
    make_user(admin, "0", "agent.live", ["agent"])
    staff = stream(srv, login_as(srv, "agent.live"))
    client_a = stream(srv, login_as(srv, "boss-A"))
    client_b = stream(srv, login_as(srv, "boss-B"))
    settle(q, staff, client_a, client_b)
    try:
        r = admin.call("POST", rpath(q["id"], A, "/status"), {"status": "open"})
        assert r.status == 200, r
        want = {"id": q["id"], "client_id": A, "what": "status"}
        assert next_request_event(staff) == want
        assert next_request_event(client_a) == want
        # an internal note is heard by provider staff only
        assert admin.call("POST", rpath(q["id"], A, "/notes"), {"body": "内部备注"}).status == 201
        assert next_request_event(staff) == {"id": q["id"], "client_id": A, "what": "note"}
        # a refused change (an unknown status) sends nothing; the next real change is the next event
        kh.assert_error(admin.call("POST", rpath(q["id"], A, "/status"), {"status": "lost"}), 422, "invalid")
        assert admin.call("POST", rpath(q["id"], A, "/replies"), {"body": "您好"}).status == 201
        assert next_request_event(staff) == {"id": q["id"], "client_id": A, "what": "reply"}
        assert next_request_event(client_a) == {"id": q["id"], "client_id": A, "what": "reply"}  # not the note
        # a request of client B reaches B and staff, never A
        r = admin.call("POST", "/api/v1/requests", body(B))
        assert r.status == 201, r
        want_b = {"id": r.json["id"], "client_id": B, "what": "create"}
        assert next_request_event(client_b) == want_b
        assert next_request_event(staff) == want_b
        # nothing of A's request ever reached B (who reads no requests at all: the unit test of the audience)
        assert next_request_event(client_a, timeout=0.5) is None
        assert next_request_event(client_b, timeout=0.5) is None
    finally:
        for es in (staff, client_a, client_b):
            es.close()


def test_a_change_made_through_another_process_reaches_the_stream(kefu, engine, tmp_path):
    """PostgreSQL: process B commits, PostgreSQL notifies every listening process, process A's stream
    hears it. (SQLite is one process per database file: the same path in-process is proved above.)"""
    if engine != "postgres":
        pytest.skip("several kefu processes share one database only on PostgreSQL")
    a_srv, admin, ids, q = site_with_request(kefu, tmp_path)
    b_srv = kefu(db_url=a_srv.db_url)
    A = ids["A"]
    make_user(admin, "0", "agent.two", ["agent"])
    agent = login_as(a_srv, "agent.two")
    staff, client_b = stream(a_srv, agent), stream(a_srv, login_as(a_srv, "boss-B"))
    settle(q, staff, client_b)
    try:
        admin_b = on(admin, b_srv)
        r = admin_b.call("POST", rpath(q["id"], A, "/status"), {"status": "open"})
        assert r.status == 200, r
        assert next_request_event(staff) == {"id": q["id"], "client_id": A, "what": "status"}
        assert admin_b.call("POST", rpath(q["id"], A, "/replies"), {"body": "已处理"}).status == 201
        assert next_request_event(staff) == {"id": q["id"], "client_id": A, "what": "reply"}
        assert next_request_event(client_b, timeout=0.5) is None  # another client's change, not B's
    finally:
        staff.close()
        client_b.close()


def test_a_lost_listening_connection_tells_every_page_to_re_read(kefu, engine, tmp_path):
    """PostgreSQL: notifications sent while kefu's listening connection is down are lost. When it
    listens again, every stream that hears request changes gets one `request` event "resync" (the
    page re-fetches itself), whatever client it belongs to; then changes arrive as before."""
    if engine != "postgres":
        pytest.skip("only PostgreSQL has a listening connection to lose")
    from conftest import psql
    srv, admin, ids, q = site_with_request(kefu, tmp_path)
    A = ids["A"]
    staff, client_b = stream(srv, admin), stream(srv, login_as(srv, "boss-B"))
    settle(q, staff, client_b)
    try:
        psql(srv.db_url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN %' "
                         "AND datname = current_database() AND pid <> pg_backend_pid()")
        assert next_request_event(staff, timeout=30) == {"what": "resync"}
        assert next_request_event(client_b, timeout=30) == {"what": "resync"}
        r = admin.call("POST", rpath(q["id"], A, "/status"), {"status": "open"})
        assert r.status == 200, r
        assert next_request_event(staff, timeout=30) == {"id": q["id"], "client_id": A, "what": "status"}
        assert next_request_event(client_b, timeout=0.5) is None  # A's change is not B's
    finally:
        staff.close()
        client_b.close()
