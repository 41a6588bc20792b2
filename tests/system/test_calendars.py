"""The business-calendar API (C3.1.1) on both engines: the default calendar of migration 0009 with
the 2026 arrangement answers the worked examples of docs/calendar.md; calendars are created, their
hours replaced and holidays imported (text and iCalendar) all or nothing; bad input — inverted or
overlapping periods, an unknown date format, wrong types, oversized bodies, unknown ids — is refused
with a field-level error and changes nothing; only admins manage, client users find nothing."""
import datetime
import json
import urllib.parse

import pytest

import kefu_http as kh
from conftest import key_file_for, run_kefu

PASSWORD = "蓝色的海边-灯塔-2026"
SH = datetime.timezone(datetime.timedelta(hours=8))
STANDARD = {d: "09:00-12:00,13:00-18:00" for d in ("mon", "tue", "wed", "thu", "fri")}
STANDARD.update(sat="", sun="")


def ms(y, m, d, hh=0, mm=0):
    return int(datetime.datetime(y, m, d, hh, mm, tzinfo=SH).timestamp() * 1000)


class Person:
    def __init__(self, srv, name):
        r = srv.post("/api/v1/auth/login", json={"username": name, "password": PASSWORD})
        assert r.status == 200, r
        self.srv = srv
        self.cookie = [v for v in r.header_all("Set-Cookie") if v.startswith("kefu_session=")][0].split(";")[0]
        self.csrf = r.json["user"]["csrf_token"]
        if r.json["user"]["second_factor_required"]:
            kh.enrol_second_factor(srv, self.cookie, self.csrf)

    def api(self, method, path, body=None, raw=None):
        h = {"Cookie": self.cookie, "X-CSRF-Token": self.csrf}
        if raw is not None:
            h["Content-Type"] = "application/json"
            return self.srv.request(method, path, body=raw, headers=h)
        return self.srv.request(method, path, json=body, headers=h)


@pytest.fixture
def site(kefu, tmp_path):
    srv = kefu()
    key = key_file_for(srv.db_url, None)
    pw = tmp_path / "pw.txt"
    pw.write_text(PASSWORD + "\n")
    r = run_kefu(["init", "--admin", "admin", "--db", srv.db_url, "--key-file", key, "--password-file", str(pw)])
    assert r.returncode == 0, r.stderr
    admin = Person(srv, "admin")
    o = admin.api("POST", "/api/v1/orgs", {"name": "客户公司A"})
    assert o.status == 201, o
    for name, cid, role in (("agent-1", "0", "agent"), ("boss-A", o.json["id"], "client_admin")):
        u = admin.api("POST", "/api/v1/users", {"client_id": cid, "username": name, "password": PASSWORD,
                                                "roles": [role]})
        assert u.status == 201, u
    return srv, admin, Person(srv, "agent-1"), Person(srv, "boss-A")


def err(r, status, field=None):
    assert r.status == status, r
    if field is not None:
        assert r.json["error"]["field"] == field, r.json
    return r.json["error"]


def test_C3_1_1_default_calendar_answers_the_worked_examples(site):
    srv, admin, agent, _ = site
    lst = agent.api("GET", "/api/v1/calendars")
    assert lst.status == 200, lst
    default = [c for c in lst.json["items"] if c["id"] == "1"][0]
    assert default["name"] == "中国大陆标准工作时间" and default["zone"] == "Asia/Shanghai"
    assert default["date_count"] == 39
    one = agent.api("GET", "/api/v1/calendars/1")
    assert one.json["hours"]["mon"] == "09:00-12:00,13:00-18:00" and one.json["hours"]["sat"] == ""
    examples = [
        ((2026, 1, 5, 11, 30), 60, (2026, 1, 5, 13, 30)),
        ((2026, 1, 5, 11, 0), 60, (2026, 1, 5, 12, 0)),      # lands on a period end
        ((2025, 12, 31, 17, 0), 120, (2026, 1, 4, 10, 0)),   # 元旦 off, 1/4 works
        ((2026, 2, 14, 17, 0), 120, (2026, 2, 24, 10, 0)),   # 春节 2/15–23 off
        ((2026, 9, 18, 17, 0), 120, (2026, 9, 20, 10, 0)),   # 9/20 works
        ((2026, 9, 30, 17, 0), 120, (2026, 10, 8, 10, 0)),   # 国庆
    ]
    for start, minutes, due in examples:
        r = agent.api("GET", "/api/v1/calendars/1/business-time?from=%d&minutes=%d" % (ms(*start), minutes))
        assert r.status == 200, r
        assert r.json["due"] == ms(*due), (start, minutes, r.json)
    month = agent.api("GET", "/api/v1/calendars/1/month?year=2026&month=2")
    assert month.status == 200, month
    days = month.json["days"]
    assert len(days) == 28
    assert days[13]["kind"] == "makeup" and days[13]["weekday"] == 6 and days[13]["hours"]
    assert days[14]["kind"] == "holiday" and days[14]["label"] == "春节" and days[14]["hours"] == ""
    assert days[6]["kind"] == "weekend" and days[23]["kind"] == "working"


def test_C3_1_1_create_set_hours_and_import_all_or_nothing(site):
    srv, admin, _, _ = site
    c = admin.api("POST", "/api/v1/calendars", {"name": "华南服务中心", "zone": "Asia/Shanghai"})
    assert c.status == 201, c
    cid = c.json["id"]
    assert c.json["hours"]["fri"] == "09:00-12:00,13:00-18:00" and c.json["date_count"] == 0
    err(admin.api("POST", "/api/v1/calendars", {"name": "华南服务中心"}), 409, "name")
    err(admin.api("POST", "/api/v1/calendars", {"name": "x", "zone": "Mars/Olympus"}), 422, "zone")
    err(admin.api("POST", "/api/v1/calendars", {"name": 7}), 422, "name")
    err(admin.api("POST", "/api/v1/calendars", {"name": "y", "hours": {"mon": "09:00-12:00"}}), 422, "tue")
    # hours: overlapping, inverted, wrong type, missing day — refused, nothing changed
    before = admin.api("GET", "/api/v1/calendars/%s" % cid).json
    err(admin.api("PUT", "/api/v1/calendars/%s/hours" % cid, dict(STANDARD, mon="09:00-12:00,11:00-18:00")), 422, "mon")
    err(admin.api("PUT", "/api/v1/calendars/%s/hours" % cid, dict(STANDARD, tue="18:00-09:00")), 422, "tue")
    err(admin.api("PUT", "/api/v1/calendars/%s/hours" % cid, dict(STANDARD, wed=9)), 422, "wed")
    err(admin.api("PUT", "/api/v1/calendars/%s/hours" % cid, dict(STANDARD, makeup="25:00-26:00")), 422, "makeup")
    missing = dict(STANDARD)
    del missing["sun"]
    err(admin.api("PUT", "/api/v1/calendars/%s/hours" % cid, missing), 422, "sun")
    assert admin.api("GET", "/api/v1/calendars/%s" % cid).json == before
    ok = admin.api("PUT", "/api/v1/calendars/%s/hours" % cid, dict(STANDARD, sat="09:00-12:00", makeup="13:00-18:00"))
    assert ok.status == 200, ok
    assert ok.json["hours"]["sat"] == "09:00-12:00" and ok.json["hours"]["makeup"] == "13:00-18:00"
    # import: an unknown date format names its line; a conflict; nothing imported
    bad = "year 2027\n2027-01-01..2027-01-03 off 元旦\n2027/02/06 off 春节\n"
    e = err(admin.api("POST", "/api/v1/calendars/%s/import" % cid, {"format": "text", "content": bad}), 422, "file")
    assert "line 3" in e["detail"], e
    err(admin.api("POST", "/api/v1/calendars/%s/import" % cid, {"format": "xls", "content": "x"}), 422, "format")
    err(admin.api("POST", "/api/v1/calendars/%s/import" % cid, {"format": "text", "content": ["x"]}), 422, "content")
    err(admin.api("POST", "/api/v1/calendars/%s/import" % cid, {"format": "text"}), 422, "content")
    err(admin.api("POST", "/api/v1/calendars/%s/import" % cid, raw=b'{"format": "text", "content": '), 400)
    huge = json.dumps({"format": "text", "content": "# " + "x" * (1024 * 1024 + 10) + "\n"}).encode()
    big = srv.raw(kh.build("POST", "/api/v1/calendars/%s/import" % cid,
                           {"Content-Type": "application/json", "Cookie": admin.cookie, "X-CSRF-Token": admin.csrf},
                           huge))
    assert big.status == 413, big
    assert admin.api("GET", "/api/v1/calendars/%s" % cid).json["date_count"] == 0
    good = "year 2027\n2027-01-01..2027-01-03 off 元旦\n2027-02-06..2027-02-14 off 春节\n2027-02-20 work 春节调休\n"
    r = admin.api("POST", "/api/v1/calendars/%s/import" % cid, {"format": "text", "content": good})
    assert r.status == 200, r
    assert r.json["added"] == 13 and r.json["date_count"] == 13
    conflict = "2027-02-20 off\n2027-03-01 off\n"
    err(admin.api("POST", "/api/v1/calendars/%s/import" % cid, {"format": "text", "content": conflict}), 409)
    assert admin.api("GET", "/api/v1/calendars/%s" % cid).json["date_count"] == 13
    ics = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\nUID:q1\r\n"
           "DTSTART;VALUE=DATE:20270405\r\nDTEND;VALUE=DATE:20270406\r\nSUMMARY:清明节\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    r = admin.api("POST", "/api/v1/calendars/%s/import" % cid, {"format": "ics", "content": ics})
    assert r.status == 200 and r.json["added"] == 1, r
    # a make-up Saturday has the make-up pattern (afternoons), an ordinary Saturday the morning
    m = admin.api("GET", "/api/v1/calendars/%s/month?year=2027&month=2" % cid).json["days"]
    assert m[19]["kind"] == "makeup" and m[19]["hours"] == "13:00-18:00"
    assert m[26]["kind"] == "working" and m[26]["hours"] == "09:00-12:00"
    assert m[5]["kind"] == "holiday" and m[5]["label"] == "春节"
    audit = admin.api("GET", "/api/v1/audit?client_id=0&object_type=calendar&object_id=%s" % cid)
    assert audit.status == 200, audit
    actions = sorted(i["action"] for i in audit.json["items"])
    assert actions == ["calendar.create", "calendar.hours", "calendar.import", "calendar.import"], actions


def test_C3_1_1_bad_queries_and_unknown_ids(site):
    srv, admin, agent, _ = site
    for path in ("/api/v1/calendars/999999", "/api/v1/calendars/abc", "/api/v1/calendars/999999/month",
                 "/api/v1/calendars/999999/business-time?from=0&minutes=1"):
        err(agent.api("GET", path), 404)
    err(admin.api("PUT", "/api/v1/calendars/999999/hours", STANDARD), 404)
    err(admin.api("POST", "/api/v1/calendars/999999/import", {"format": "text", "content": "2027-01-01 off\n"}), 404)
    err(agent.api("GET", "/api/v1/calendars/1/business-time?minutes=1"), 422, "from")
    err(agent.api("GET", "/api/v1/calendars/1/business-time?from=abc&minutes=1"), 422, "from")
    err(agent.api("GET", "/api/v1/calendars/1/business-time?from=0&minutes=-1"), 422, "minutes")
    err(agent.api("GET", "/api/v1/calendars/1/business-time?from=0&minutes=99999999999"), 422, "minutes")
    err(agent.api("GET", "/api/v1/calendars/1/month?year=2026&month=13"), 422, "month")
    err(agent.api("GET", "/api/v1/calendars/1/month?year=1900&month=1"), 422, "year")
    r = agent.api("GET", "/api/v1/calendars/1/month")  # this month by default
    assert r.status == 200 and 28 <= len(r.json["days"]) <= 31, r


def test_C3_1_1_C5_2_only_admins_manage_and_clients_find_nothing(site):
    srv, admin, agent, boss = site
    err(agent.api("POST", "/api/v1/calendars", {"name": "代理人的日历"}), 403)
    err(agent.api("PUT", "/api/v1/calendars/1/hours", STANDARD), 403)
    err(agent.api("POST", "/api/v1/calendars/1/import", {"format": "text", "content": "2027-01-01 off\n"}), 403)
    for path in ("/api/v1/calendars", "/api/v1/calendars/1", "/api/v1/calendars/1/month"):
        err(boss.api("GET", path), 404)
    err(boss.api("PUT", "/api/v1/calendars/1/hours", STANDARD), 404)
    assert admin.api("GET", "/api/v1/calendars/1").json["date_count"] == 39
    # without the anti-forgery token a session's write is refused
    r = srv.request("PUT", "/api/v1/calendars/1/hours", json=STANDARD, headers={"Cookie": admin.cookie})
    assert r.status == 403, r
