"""The business-calendar pages (C3.1.1) on both engines: the list, a month view of the default calendar
marking holidays and 调休 make-up working days with a legend and prev/next links, the hours form and
the import form — and their bad input: inverted or overlapping periods, an unknown date format, a
missing anti-forgery token, an unknown id, a month that does not exist, hostile text escaped."""
import re
import urllib.parse

import pytest

import kefu_http as kh
from conftest import key_file_for, run_kefu

PASSWORD = "蓝色的海边-灯塔-2026"
STANDARD = {d: "09:00-12:00,13:00-18:00" for d in ("mon", "tue", "wed", "thu", "fri")}
STANDARD.update(sat="", sun="", makeup="")


class Browser:
    def __init__(self, srv, name):
        r = srv.post("/api/v1/auth/login", json={"username": name, "password": PASSWORD})
        assert r.status == 200, r
        self.srv = srv
        self.cookie = [v for v in r.header_all("Set-Cookie") if v.startswith("kefu_session=")][0].split(";")[0]
        self.csrf = r.json["user"]["csrf_token"]
        if r.json["user"]["second_factor_required"]:
            kh.enrol_second_factor(srv, self.cookie, self.csrf)

    def get(self, path):
        return self.srv.get(path, headers={"Cookie": self.cookie})

    def form(self, path, fields, csrf=True):
        pairs = list(fields.items())
        if csrf:
            pairs.append(("csrf", self.csrf))
        return self.srv.request("POST", path, body=urllib.parse.urlencode(pairs).encode(),
                                headers={"Cookie": self.cookie, "Content-Type": "application/x-www-form-urlencoded"})

    def api(self, method, path, body=None):
        return self.srv.request(method, path, json=body, headers={"Cookie": self.cookie, "X-CSRF-Token": self.csrf})


@pytest.fixture
def site(kefu, tmp_path):
    srv = kefu()
    key = key_file_for(srv.db_url, None)
    pw = tmp_path / "pw.txt"
    pw.write_text(PASSWORD + "\n")
    r = run_kefu(["init", "--admin", "admin", "--db", srv.db_url, "--key-file", key, "--password-file", str(pw)])
    assert r.returncode == 0, r.stderr
    admin = Browser(srv, "admin")
    u = admin.api("POST", "/api/v1/users", {"client_id": "0", "username": "agent-1", "password": PASSWORD,
                                            "roles": ["agent"]})
    assert u.status == 201, u
    return srv, admin, Browser(srv, "agent-1")


def cell(body, day):
    """The <td> of day `day` in the month table."""
    m = re.search(r'<td class="(day-[a-z]+)"><span class="day-number">%d</span>(.*?)</td>' % day, body)
    assert m, day
    return m.group(1), m.group(2)


def test_C3_1_1_month_view_marks_holidays_and_make_up_days(site):
    srv, admin, agent = site
    lst = agent.get("/calendars")
    assert lst.status == 200, lst
    assert "中国大陆标准工作时间" in lst.text and 'href="/calendars/1"' in lst.text
    r = agent.get("/calendars/1?year=2026&month=2&lang=zh-CN")
    assert r.status == 200, r
    body = r.text
    assert body.count("<th scope=\"col\">周") == 7  # seven weekday columns
    assert cell(body, 14)[0] == "day-makeup" and "调休上班" in cell(body, 14)[1]
    assert cell(body, 15)[0] == "day-holiday" and "春节" in cell(body, 15)[1]
    assert cell(body, 7)[0] == "day-weekend"
    assert cell(body, 24)[0] == "day-working" and "09:00-12:00,13:00-18:00" in cell(body, 24)[1]
    assert 'class="calendar-legend"' in body
    assert 'href="/calendars/1?year=2026&amp;month=1"' in body and 'href="/calendars/1?year=2026&amp;month=3"' in body
    # February 2026 begins on a Sunday: six blanks before the 1st
    first_row = body.split("<tbody>")[1].split("</tr>")[0]
    assert first_row.count('class="day-blank"') == 6
    # an agent reads, but gets no forms
    assert 'action="/calendars/1/hours"' not in body and 'action="/calendars/1/import"' not in body
    a = admin.get("/calendars/1?year=2026&month=12&lang=en")
    assert a.status == 200 and 'action="/calendars/1/hours"' in a.text and 'name="csrf"' in a.text
    assert 'href="/calendars/1?year=2027&amp;month=1"' in a.text


def test_C3_1_1_hours_form_refuses_inverted_and_overlapping_periods(site):
    srv, admin, agent = site
    r = admin.form("/calendars/1/hours", dict(STANDARD, mon="09:00-12:00,11:00-18:00"))
    assert r.status == 422, r
    assert 'id="hours-mon-error"' in r.text and 'value="09:00-12:00,11:00-18:00"' in r.text
    r = admin.form("/calendars/1/hours", dict(STANDARD, tue="18:00-09:00"))
    assert r.status == 422 and 'id="hours-tue-error"' in r.text, r
    r = admin.form("/calendars/1/hours", dict(STANDARD, wed="nine to five"))
    assert r.status == 422 and 'id="hours-wed-error"' in r.text, r
    assert admin.api("GET", "/api/v1/calendars/1").json["hours"]["mon"] == "09:00-12:00,13:00-18:00"
    # without the csrf field: refused, nothing changed
    r = admin.form("/calendars/1/hours", dict(STANDARD, sat="09:00-12:00"), csrf=False)
    assert r.status == 403, r
    assert admin.api("GET", "/api/v1/calendars/1").json["hours"]["sat"] == ""
    # an agent may not; an unknown calendar is 404
    assert agent.form("/calendars/1/hours", STANDARD).status == 403
    assert admin.form("/calendars/999999/hours", STANDARD).status == 404
    assert admin.form("/calendars/abc/hours", STANDARD).status == 404
    r = admin.form("/calendars/1/hours", dict(STANDARD, sat="09:00-12:00"))
    assert r.status == 303 and r.header("Location") == "/calendars/1?saved=1", r
    assert admin.api("GET", "/api/v1/calendars/1").json["hours"]["sat"] == "09:00-12:00"


def test_C3_1_1_import_form_names_the_bad_line_and_imports_all_or_nothing(site):
    srv, admin, agent = site
    bad = "year 2027\n2027-01-01..2027-01-03 off 元旦\n2027/02/06 off <b>春节</b>\n"
    r = admin.form("/calendars/1/import", {"content": bad})
    assert r.status == 422, r
    assert 'id="import-error"' in r.text and "line 3" in r.text
    assert "&lt;b&gt;春节&lt;/b&gt;" in r.text and "<b>春节" not in r.text  # kept, escaped
    assert admin.api("GET", "/api/v1/calendars/1").json["date_count"] == 39
    r = admin.form("/calendars/1/import", {"content": "2026-02-14 off\n"})  # a make-up day the other way
    assert r.status == 409, r
    assert admin.form("/calendars/1/import", {"content": ""}).status == 422
    assert admin.form("/calendars/1/import", {"content": "2027-01-01 off\n"}, csrf=False).status == 403
    assert admin.form("/calendars/999999/import", {"content": "2027-01-01 off\n"}).status == 404
    assert admin.api("GET", "/api/v1/calendars/1").json["date_count"] == 39
    good = "year 2027\n2027-01-01..2027-01-03 off 元旦<script>\n"
    r = admin.form("/calendars/1/import", {"content": good})
    assert r.status == 303 and r.header("Location") == "/calendars/1?imported=1", r
    page = admin.get("/calendars/1?year=2027&month=1")
    assert cell(page.text, 2)[0] == "day-holiday" and "元旦&lt;script&gt;" in cell(page.text, 2)[1]


def test_C3_1_1_unknown_ids_and_months(site):
    srv, admin, agent = site
    assert agent.get("/calendars/999999").status == 404
    assert agent.get("/calendars/abc").status == 404
    r = agent.get("/calendars/1?year=2026&month=13")
    assert r.status == 422 and 'role="alert"' in r.text, r
    assert agent.get("/calendars/1?year=10000&month=1").status == 422
    assert agent.get("/calendars/1").status == 200
    anon = srv.get("/calendars/1")
    assert anon.status == 303 and anon.header("Location").startswith("/login"), anon
