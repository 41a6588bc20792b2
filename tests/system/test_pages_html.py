"""Every HTML page of the route table (docs/openapi.yaml: GET routes tagged `pages`) as delivered: well
formed by Debian's `tidy`, `<html lang>` in both languages, a non-empty <title>, no unexpanded
`{{`, no catalogue key showing as text, and the security headers (a CSP without 'unsafe-inline' and
with frame-ancestors 'none', nosniff, a Referrer-Policy, Cache-Control: no-store on pages behind a
session). Pages merged later are picked up from the route table; one with a path parameter needs a
line in OBJECTS (otherwise it is skipped, saying why). Both engines."""
import html.parser
import json
import os
import re
import shutil
import subprocess

import pytest

from test_identity_api import make_site

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
OPENAPI = os.path.join(ROOT, "docs", "openapi.yaml")

# Routes tagged `pages` that do not answer HTML.
NOT_HTML = {"/static/{name}", "/files/{id}"}  # files are always downloads
# Pages seen logged out (a logged-in visitor is sent on).
ANONYMOUS = {"/login", "/c/{token}/new", "/t/{token}"}  # public pages are seen logged out

# tidy 5.6 (Debian 12) warnings that are not faults of the page:
#  - attributes of today's HTML standard its table predates: ARIA 1.1+ (aria-current…) and the
#    global autocapitalize / inputmode / enterkeyhint (the phone keyboard hints of the forms). Only
#    these names: an attribute that is really unknown (a typo, an on…= handler) still fails.
#  - an empty <span>: the bell count is empty until kefu.js fills it from the event stream.
# Every Error, and every other warning (missing alt, unclosed or misnested elements, duplicate ids,
# missing <title>…), fails.
ALLOWED_WARNINGS = (
    re.compile(r'proprietary attribute "(aria-[a-z]+|autocapitalize|inputmode|enterkeyhint)"'),
    re.compile(r"trimming empty <span>"),
)


def page_routes():
    """[(path, [param names])] of GET routes tagged `pages`, read with a line scanner (the file's layout
    is fixed: two-space path keys, four-space methods, a six-space tags line; no YAML library needed)."""
    out, in_paths, route, method = [], False, None, None
    with open(OPENAPI, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if re.match(r"^paths:\s*$", line):
                in_paths = True
                continue
            if in_paths and re.match(r"^\S", line):
                in_paths = False
            if not in_paths:
                continue
            m = re.match(r"^  (/\S*):\s*$", line)
            if m:
                route, method = m.group(1), None
                continue
            m = re.match(r"^    (get|post|put|patch|delete):\s*$", line)
            if m:
                method = m.group(1)
                continue
            if route and method == "get" and re.match(r"^      tags:\s*\[[^\]]*\bpages\b", line):
                out.append((route, re.findall(r"\{(\w+)\}", route)))
    return out


def _created(admin, path, body):
    r = admin.post(path, body)
    assert r.status == 201, r
    return r.json


def _agreement(admin, ids, state="draft"):
    """An agreement of client A in `state` (draft, provider_signed, active) with an attachment, as a page URL."""
    from test_identity_api import Session
    a = _created(admin, "/api/v1/agreements", {
        "client_id": ids["A"], "term_years": 2, "notice_days": 30, "supplementary_terms": "## 补充条款\n\n按**行业惯例**执行。",
        "services": [{"kind": "technical_support", "targets": {"P1": {"first_response": 15, "resolution": 120}},
                      "fees": [{"kind": "fixed_month", "amount_fen": 800000}]}, {"kind": "maintenance"}]})
    url = "/agreements/%s?client_id=%s" % (a["id"], ids["A"])
    if state in ("provider_signed", "active"):
        r = admin.post("/api/v1/agreements/%s/sign-provider?client_id=%s" % (a["id"], ids["A"]))
        assert r.status == 200, r
    if state == "active":
        r = Session(admin.srv, "boss-A").post("/api/v1/agreements/%s/sign-client" % a["id"])
        assert r.status == 200, r
    return a["id"], url


def _agreement_page(tail, state):
    def make(admin, ids):
        aid, _ = _agreement(admin, ids, state)
        return "/agreements/%s%s?client_id=%s" % (aid, tail, ids["A"])
    return make


def _agreement_change(admin, ids):
    """An active agreement of client A with a pending service change (C8.1.1): (agreement id, change id)."""
    aid, _ = _agreement(admin, ids, "active")
    ch = _created(admin, "/api/v1/agreements/%s/changes?client_id=%s" % (aid, ids["A"]), {
        "summary": "技术支持P1首次响应缩短为10分钟", "effective_at": admin.srv.clock_now() + 31 * 24 * 3600 * 1000,
        "services": [{"kind": "technical_support", "targets": {"P1": {"first_response": 10, "resolution": 120}}}]})
    return aid, ch["id"]


def _request_page(admin, ids):
    """A request of client A under an active agreement, with a reply, an internal note, a call and time."""
    _agreement(admin, ids, "active")
    r = _created(admin, "/api/v1/requests", {
        "client_id": ids["A"], "customer_id": ids["customerA"], "service_kind": "technical_support", "channel": "phone",
        "priority": "P1", "subject": "打印机无法连接网络", "body": "## 现象\n\nHP-1020 **无法打印**。"})
    q = "?client_id=%s" % ids["A"]
    base = "/api/v1/requests/%s" % r["id"]
    _created(admin, base + "/replies" + q, {"body": "您好，已收到。"})
    _created(admin, base + "/notes" + q, {"body": "内部：先查驱动。"})
    _created(admin, base + "/calls" + q, {"kind": "phone", "started_at": 1, "duration_s": 300, "summary": "电话指导"})
    _created(admin, base + "/time-entries" + q, {"minutes": 30, "billable": True, "note": "远程排查"})
    return "/requests/%s%s" % (r["id"], q)


def _intake_link(admin, ids):
    """Client A's public form link (made on the organisation page) after an active agreement."""
    import urllib.parse
    r = admin.srv.request("POST", "/orgs/%s/intake-token" % ids["A"], body=urllib.parse.urlencode({"csrf": admin.csrf}),
                          headers={"Cookie": admin.cookie, "Content-Type": "application/x-www-form-urlencoded"})
    assert r.status == 200, r
    return re.search(r'id="intake-link">(/c/[^<]+)</a>', r.body.decode()).group(1)


def _tracking_link(admin, ids):
    """A request raised through the public form, with a public reply: its private tracking page."""
    import urllib.parse
    _agreement(admin, ids, "active")
    r = admin.srv.request("POST", _intake_link(admin, ids), body=urllib.parse.urlencode({
        "name": "王五", "phone": "139 0000 0009", "service_kind": "technical_support", "subject": "路由器指示灯不亮",
        "body": "昨晚**停电**后就不亮了。", "website": ""}), headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status == 201, r
    return re.search(r'id="tracking-link">(/t/[^<]+)</a>', r.body.decode()).group(1)


# Pages with a path parameter: how to make an object to show (admin session, site ids → the URL).
OBJECTS = {
    "/agreements/{id}/changes/new": _agreement_page("/changes/new", "active"),
    "/agreements/{id}/changes/{change}/withdraw": lambda admin, ids: "/agreements/%s/changes/%s/withdraw?client_id=%s" % (
        _agreement_change(admin, ids) + (ids["A"],)),
    "/agreements/{id}": _agreement_page("", "active"),
    "/agreements/{id}/edit": _agreement_page("/edit", "draft"),
    "/agreements/{id}/sign-provider": _agreement_page("/sign-provider", "draft"),
    "/agreements/{id}/sign-client": _agreement_page("/sign-client", "provider_signed"),
    "/agreements/{id}/dissolve": _agreement_page("/dissolve", "active"),
    "/orgs/{id}": lambda admin, ids: "/orgs/%s" % ids["A"],
    "/users/{id}": lambda admin, ids: "/users/%s?client_id=%s" % (ids["userA"], ids["A"]),
    "/users/{id}/disable": lambda admin, ids: "/users/%s/disable?client_id=%s" % (ids["userA"], ids["A"]),
    "/orgs/{id}/disable": lambda admin, ids: "/orgs/%s/disable" % ids["A"],
    "/customers/{id}/delete": lambda admin, ids: "/customers/%s/delete?client_id=%s" % (ids["customerA"], ids["A"]),
    "/customers/{id}": lambda admin, ids: "/customers/%s?client_id=%s" % (ids["customerA"], ids["A"]),
    "/teams/{id}": lambda admin, ids: "/teams/%s" % _created(admin, "/api/v1/teams", {"name": "一线团队"})["id"],
    "/calendars/{id}": lambda admin, ids: "/calendars/1?year=2026&month=2",  # the default calendar (0009)
    "/account/tokens/{id}/revoke": lambda admin, ids: "/account/tokens/%s/revoke" % _created(
        admin, "/api/v1/auth/tokens", {"name": "集成令牌", "roles": ["admin"]})["id"],
    # a registered-mail notice: its page shows the delivery form too (C11.1.1)
    "/notices/{id}": lambda admin, ids: "/notices/%s?client_id=%s" % (_created(admin, "/api/v1/notices", {
        "client_id": ids["A"], "kind": "breach", "subject": "违约通知", "body": "## 事由\n\n逾期付款。",
        "method": "registered_mail", "tracking_number": "EMS1234567890CN"})["id"], ids["A"]),
    "/announcements/{id}": lambda admin, ids: "/announcements/%s" % _created(admin, "/api/v1/announcements", {
        "all": True, "subject": "系统升级公告", "body": "本周六升级。"})["id"],
    "/requests/{id}": _request_page,
    "/c/{token}/new": lambda admin, ids: (_agreement(admin, ids, "active"), _intake_link(admin, ids))[1],
    "/t/{token}": _tracking_link,
}


def catalogue_prefixes():
    """The first segments of every catalogue key (login, home, nav, …): a dotted word starting with one
    of them in a page's text is a key that was not found."""
    prefixes = set()
    for base, _, files in os.walk(os.path.join(ROOT, "locale")):
        for name in files:
            if name.endswith(".json"):
                with open(os.path.join(base, name), encoding="utf-8") as f:
                    prefixes.update(k.split(".")[0] for k in json.load(f) if "." in k)
    return prefixes


class TextNodes(html.parser.HTMLParser):
    """The text a person reads: text nodes outside script/style, and title, aria-label, placeholder,
    alt attribute values."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.texts, self.skip, self.title = [], 0, None
        self.in_title = False

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self.skip += 1
        if tag == "title":
            self.in_title, self.title = True, ""
        for k, v in attrs:
            if k in ("title", "aria-label", "placeholder", "alt") and v:
                self.texts.append(v)

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self.skip = max(0, self.skip - 1)
        if tag == "title":
            self.in_title = False

    def handle_data(self, data):
        if self.in_title:
            self.title += data
        if not self.skip:
            self.texts.append(data)


def key_pattern(prefixes):
    # a dotted lower-case word: two segments when the first is a catalogue namespace (login.title),
    # three or more whatever it starts with (a key of a namespace that has no file yet); never inside
    # a URL, a path or an e-mail address (no / @ : around it)
    first = "|".join(sorted(map(re.escape, prefixes))) or "(?!)"
    return re.compile(r"(?<![\w./@:-])(?:(?:%s)\.[a-z_][a-z0-9_-]*(?:\.[a-z_][a-z0-9_-]*)*|[a-z][a-z0-9_]*(?:\.[a-z_][a-z0-9_-]*){2,})"
                      r"(?![\w/@-]|\.[a-z])" % first)


def tidy_problems(body):
    r = subprocess.run(["tidy", "-q", "-e", "-utf8"], input=body.encode(), capture_output=True, timeout=60)
    lines = [x for x in r.stderr.decode("utf-8", "replace").splitlines() if x.strip()]
    errors = [x for x in lines if " - Error: " in x]
    warnings = [x for x in lines if " - Warning: " in x and not any(p.search(x) for p in ALLOWED_WARNINGS)]
    other = [x for x in lines if " - Error: " not in x and " - Warning: " not in x and " - Info: " not in x
             and not x.startswith("Tidy found") and "were found!" not in x]
    return errors + warnings + other


def check_page(r, url, lang, authenticated, key_re):
    where = "%s (%s)" % (url, lang)
    assert r.status in (200, 404), "%s answered %s" % (where, r.status)
    assert (r.header("Content-Type") or "").startswith("text/html"), where
    body = r.body.decode("utf-8")
    problems = tidy_problems(body)
    assert problems == [], "%s is not well formed (tidy -q -e):\n%s" % (where, "\n".join(problems))
    m = re.search(r"<html\b[^>]*\blang=\"([^\"]*)\"", body)
    assert m and m.group(1) == lang, "%s: <html lang> is %r" % (where, m and m.group(1))
    assert "{{" not in body and "}}" not in body, "%s holds an unexpanded template tag" % where
    p = TextNodes()
    p.feed(body)
    assert p.title is not None and p.title.strip(), "%s has an empty <title>" % where
    keys = sorted({k for t in p.texts for k in key_re.findall(t)})
    assert keys == [], "%s shows catalogue keys as text: %s" % (where, keys)
    # headers (docs/security.md)
    csp = r.header("Content-Security-Policy") or ""
    assert csp, "%s has no Content-Security-Policy" % where
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, "%s: %s" % (where, csp)
    assert re.search(r"frame-ancestors 'none'", csp), "%s: %s" % (where, csp)
    assert (r.header("X-Content-Type-Options") or "").lower() == "nosniff", where
    assert r.header("Referrer-Policy"), "%s has no Referrer-Policy" % where
    if authenticated:
        assert "no-store" in (r.header("Cache-Control") or ""), "%s may be stored: %s" % (where, r.header("Cache-Control"))


@pytest.fixture
def site(kefu, tmp_path):
    if not shutil.which("tidy"):
        pytest.skip("tidy is not installed (scripts/install-deps installs it)")
    srv = kefu()
    admin, ids = make_site(srv, tmp_path)  # the administrator's second factor is enrolled at login
    return srv, admin, ids


def test_every_page_is_well_formed_in_both_languages_with_safe_headers(site):
    srv, admin, ids = site
    key_re = key_pattern(catalogue_prefixes())
    n = srv.post("/api/v1/test/notify", json={"user_id": _me(admin)["id"], "client_id": "0", "message_key": "notify.test"})
    assert n.status == 204, n  # the bell and the home page show an unread count
    checked, skipped = [], []
    for route, params in page_routes():
        if route in NOT_HTML:
            continue
        if params and route not in OBJECTS:
            skipped.append("%s: no way to make its object yet (add a line to OBJECTS)" % route)
            continue
        url = OBJECTS[route](admin, ids) if params else route
        anonymous = route in ANONYMOUS
        headers = {} if anonymous else {"Cookie": admin.cookie}
        sep = "&" if "?" in url else "?"
        # the default language first; ?lang=en switches (and, logged in, keeps it), ?lang=zh-CN back
        for lang, u in (("zh-CN", url), ("en", url + sep + "lang=en"), ("zh-CN", url + sep + "lang=zh-CN")):
            r = srv.get(u, headers=headers)
            assert r.status == 200, "%s answered %s: %s" % (u, r.status, r.body[:300])
            check_page(r, u, lang, not anonymous, key_re)
        checked.append(route)
    assert "/" in checked and "/login" in checked, checked
    if skipped:
        print("skipped pages:\n  " + "\n  ".join(skipped))


def test_the_404_page_is_well_formed_too(site):
    """A page route with an id that does not exist answers the 404 page (an unknown path is the JSON
    API's 404, not a page)."""
    srv, admin, ids = site
    routes = [route for route, params in page_routes() if params and route in OBJECTS]
    if not routes:
        pytest.skip("no page with an {id} in the route table yet")
    key_re = key_pattern(catalogue_prefixes())
    u = routes[0].replace("{id}", "999999999")  # 1 is the default calendar's id
    for lang, q in (("zh-CN", ""), ("en", "?lang=en"), ("zh-CN", "?lang=zh-CN")):
        r = srv.get(u + q, headers={"Cookie": admin.cookie})
        assert r.status == 404, r
        check_page(r, u + q, lang, True, key_re)


def test_the_key_pattern_catches_a_missing_key_and_not_urls():
    key_re = key_pattern({"login", "home", "nav"})
    for text in ("login.title", "欢迎 home.card.orgs 了", "orgs.list.empty", "nav.signed_in_as"):
        assert key_re.search(text), text
    for text in ("https://kefu.example.com/a.b.c", "mail wang@example.com", "kefu.css", "v1.2.3", "见 /static/kefu.js",
                 "example.com", "Hello, admin.", "agent.zhao", "e.g. this", "1.5.2"):
        assert not key_re.search(text), text


def _me(session):
    r = session.get("/api/v1/auth/me")
    assert r.status == 200, r
    return r.json["user"]
