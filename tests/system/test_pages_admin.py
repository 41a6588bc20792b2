"""The organisation, user, team and file pages (issue 4), on both engines: forms that create, edit,
clear and disable; bad input shown beside its field (empty, too long, wrong type, duplicate, weak
password, self-escalation); another tenant's objects are the 404 page (C5.2); every form needs its
anti-forgery token; uploads are sniffed, limited and sanitised, downloads are always attachments; and
names with markup render escaped on every page that shows them."""
import re
import urllib.parse

import kefu_http as kh
from matrix_admin import Multipart, png
from test_identity_api import PASSWORD, Session, make_site

XSS = '"><img src=x onerror=alert(1)>'
XSS_ESCAPED = "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"
NEW_PASSWORD = "远山的灯火-照亮-2027"
MAX_UPLOAD = 64 * 1024


class Browser:
    """A logged-in person using the pages: GETs with the cookie, forms posted urlencoded (or multipart)
    with the hidden `csrf` field, as a browser sends them."""

    def __init__(self, srv, name, password=PASSWORD):
        s = Session(srv, name) if password == PASSWORD else None
        if s is None:
            r = srv.post("/api/v1/auth/login", json={"username": name, "password": password})
            assert r.status == 200, r
            self.cookie = [v for v in r.header_all("Set-Cookie") if v.startswith("kefu_session=")][0].split(";")[0]
            self.csrf = r.json["user"]["csrf_token"]
        else:
            self.cookie, self.csrf = s.cookie, s.csrf
        self.srv = srv

    def get(self, path):
        return self.srv.request("GET", path, headers={"Cookie": self.cookie})

    def form(self, path, fields=None, csrf=True):
        fields = dict(fields or {})
        if csrf:
            fields["csrf"] = self.csrf
        body = urllib.parse.urlencode(fields, doseq=True)
        return self.srv.request("POST", path, body=body, headers={
            "Cookie": self.cookie, "Content-Type": "application/x-www-form-urlencoded"})

    def upload(self, path, filename, data, csrf=True, ctype="image/png"):
        m = Multipart({"csrf": self.csrf} if csrf else {}, {"file": (filename, data, ctype)})
        ct, body = m.multipart
        return self.srv.request("POST", path, body=body, headers={"Cookie": self.cookie, "Content-Type": ct})


def text(r):
    return r.body.decode("utf-8")


def location(r):
    assert r.status == 303, r
    return r.header("Location")


def field_error(r, field_id):
    """The message shown beside the field with this id (aria-describedby points at it), or None."""
    m = re.search(r'<p class="field-error" id="%s-error">([^<]*)</p>' % re.escape(field_id), text(r))
    return m and m.group(1)


def new_site(kefu, tmp_path, args=()):
    srv = kefu(args=list(args))
    admin_session, ids = make_site(srv, tmp_path)
    admin = Browser.__new__(Browser)
    admin.srv, admin.cookie, admin.csrf = srv, admin_session.cookie, admin_session.csrf
    return srv, admin, ids


def api_user(admin, client_id, name, roles, display_name=None):
    body = {"client_id": client_id, "username": name, "password": PASSWORD, "roles": roles}
    if display_name:
        body["display_name"] = display_name
    r = admin.srv.request("POST", "/api/v1/users", json=body,
                          headers={"Cookie": admin.cookie, "X-CSRF-Token": admin.csrf})
    assert r.status == 201, r
    return r.json["id"]


def test_an_organisation_is_created_edited_cleared_disabled_and_enabled_through_forms(kefu, tmp_path):
    """Forms with their errors beside the fields; disabling logs the organisation's users out; another
    client's organisation is the 404 page without its name (C5.2)."""
    srv, admin, ids = new_site(kefu, tmp_path)
    r = admin.get("/orgs/new")
    assert r.status == 200 and 'name="csrf"' in text(r) and '<label for="org-name">' in text(r)
    # bad input: the form again, the message beside the field, what was typed kept
    r = admin.form("/orgs", {"name": "", "legal_name": "留着的法定名称"})
    assert r.status == 422 and field_error(r, "org-name") and 'value="留着的法定名称"' in text(r)
    assert 'aria-invalid="true" aria-describedby="org-name-error"' in text(r)
    r = admin.form("/orgs", {"name": "长" * 401})
    assert r.status == 422 and field_error(r, "org-name")
    r = admin.form("/orgs", {"name": ["两个", "名字"]})  # a repeated field is an array: the wrong type
    assert r.status == 422 and field_error(r, "org-name")
    assert admin.form("/orgs", {"name": "无令牌公司"}, csrf=False).status == 403
    r = srv.request("POST", "/orgs", body="name=x&csrf=wrong-token", headers={
        "Cookie": admin.cookie, "Content-Type": "application/x-www-form-urlencoded"})
    assert r.status == 403
    assert "无令牌公司" not in text(admin.get("/orgs"))
    r = admin.form("/orgs", {"name": "上海新客户有限公司", "legal_name": "上海新客户有限公司(法定)",
                             "contact_phone": "021-6666-0000", "contact_email": "ops@example.cn"})
    where = location(r)
    assert re.fullmatch(r"/orgs/\d+", where)
    org = where.rsplit("/", 1)[1]
    page = admin.get(where)
    assert page.status == 200 and "上海新客户有限公司(法定)" in text(page) and "021-6666-0000" in text(page)
    assert "上海新客户有限公司" in text(admin.get("/orgs"))
    # edit: "" clears a field; the name stays required
    r = admin.form(where, {"name": "上海新客户有限公司", "legal_name": "", "contact_phone": "021-7777-0000"})
    assert location(r).startswith(where)
    page = text(admin.get(location(r)))
    assert "021-7777-0000" in page and "上海新客户有限公司(法定)" not in page
    assert '<p class="notice" role="status">已保存。</p>' in page
    r = admin.form(where, {"name": ""})
    assert r.status == 422 and field_error(r, "org-name")
    # disable through a confirmation page: the organisation's users are logged out at once
    api_user(admin, org, "new-boss", ["client_admin"])
    boss = Browser(srv, "new-boss")
    assert boss.get("/").status == 200
    confirm = admin.get(where + "/disable")
    assert confirm.status == 200 and 'action="/orgs/%s/disable"' % org in text(confirm)
    assert boss.get("/").status == 200  # asking changes nothing
    assert location(admin.form(where + "/disable")) == where
    r = boss.get("/")
    assert r.status == 303 and r.header("Location").startswith("/login")
    assert 'action="/orgs/%s/enable"' % org in text(admin.get(where))
    assert location(admin.form(where + "/enable")) == where
    assert boss.get("/").status == 200
    # a client user may read their organisation but not change it; another client's is not found
    a = Browser(srv, "boss-A")
    assert a.get("/orgs/%s" % ids["A"]).status == 200
    assert a.form("/orgs/%s" % ids["A"], {"name": "改名"}).status == 403
    assert a.get("/orgs/%s/disable" % ids["A"]).status == 403
    for r in (a.get(where), a.form(where, {"name": "偷改"}), a.get(where + "/disable"), a.form(where + "/disable")):
        assert r.status == 404 and "上海新客户有限公司" not in text(r)
    assert a.get("/orgs/new").status == 404
    assert admin.get("/orgs/not-an-id").status == 404
    # a client user's list holds their own organisation only
    listing = text(a.get("/orgs"))
    assert "客户公司A" in listing and "客户公司B" not in listing and "上海新客户有限公司" not in listing


def test_users_are_created_with_role_checkboxes_and_their_roles_and_passwords_changed(kefu, tmp_path):
    """Roles offered by the organisation's kind, duplicate and weak input beside the field, no
    self-escalation, another client's users not found (C5.2)."""
    srv, admin, ids = new_site(kefu, tmp_path)
    A = ids["A"]
    form = text(admin.get("/users/new?client_id=%s" % A))
    boxes = re.findall(r'<input type="checkbox" id="role-(\w+)" name="roles" value="\w+"', form)
    assert boxes == ["client_admin", "client_staff", "client_supervisor"]  # the organisation's kind only
    staff_form = text(admin.get("/users/new?client_id=0"))
    assert 'value="agent"' in staff_form and 'value="client_staff"' not in staff_form
    for box in boxes:
        assert '<label for="role-%s">' % box in form
    base = {"client_id": A, "username": "li.si", "display_name": "李四", "password": PASSWORD}
    r = admin.form("/users", dict(base, roles=["client_staff", "client_supervisor"]))
    where = location(r)
    uid = re.fullmatch(r"/users/(\d+)\?client_id=%s" % A, where).group(1)
    page = text(admin.get(where))
    assert "李四" in page and "客户方员工" in page and "客户方主管" in page
    assert 'value="client_staff" checked' in page and 'value="client_admin">' in page
    # bad input, each beside its field, the typed values kept (never the password)
    r = admin.form("/users", dict(base, roles="client_staff", display_name="另一个李四"))
    assert r.status == 409 and field_error(r, "username") and 'value="另一个李四"' in text(r)
    assert PASSWORD not in text(r)
    r = admin.form("/users", dict(base, username="wang.wu"))
    assert r.status == 422 and field_error(r, "roles")
    r = admin.form("/users", dict(base, username="wang.wu", roles="agent"))  # a provider role for a client
    assert r.status == 422 and field_error(r, "roles")
    r = admin.form("/users", dict(base, username="wang.wu", roles="client_staff", password="123456"))
    assert r.status == 422 and field_error(r, "password")
    r = admin.form("/users", dict(base, username="x" * 300, roles="client_staff"))
    assert r.status == 422 and field_error(r, "username")
    assert admin.form("/users", dict(base, username="wang.wu", roles="client_staff"), csrf=False).status == 403
    # roles replaced; a single box arrives as one value
    assert location(admin.form("/users/%s/roles?client_id=%s" % (uid, A), {"roles": "client_admin"})) .startswith(
        "/users/%s?client_id=%s" % (uid, A))
    page = text(admin.get(where + "&roles_saved=1"))
    assert 'value="client_admin" checked' in page and "角色已更新。" in page
    # nobody adds a role to themselves: shown beside the roles
    boss = Browser(srv, "boss-A")
    me = ids["userA"]
    r = boss.form("/users/%s/roles?client_id=%s" % (me, A), {"roles": ["client_admin", "client_supervisor"]})
    assert r.status == 403 and field_error(r, "roles")
    r = srv.request("GET", "/api/v1/users/%s?client_id=%s" % (me, A), headers={"Cookie": admin.cookie})
    assert r.json["roles"] == ["client_admin"]
    # password reset: strength checked; the new one works
    r = admin.form("/users/%s/password?client_id=%s" % (uid, A), {"password": "short"})
    assert r.status == 422 and field_error(r, "password")
    assert location(admin.form("/users/%s/password?client_id=%s" % (uid, A), {"password": NEW_PASSWORD}))
    assert srv.post("/api/v1/auth/login", json={"username": "li.si", "password": NEW_PASSWORD}).status == 200
    # disable through a confirmation page
    confirm = admin.get("/users/%s/disable?client_id=%s" % (uid, A))
    assert confirm.status == 200 and "李四" in text(confirm)
    assert location(admin.form("/users/%s/disable?client_id=%s" % (uid, A))).startswith("/users/%s" % uid)
    assert srv.post("/api/v1/auth/login", json={"username": "li.si", "password": NEW_PASSWORD}).status == 401
    # another client's users are not found (C5.2), their names never shown
    b = Browser(srv, "boss-B")
    for r in (b.get(where), b.get("/users?client_id=%s" % A), b.get("/users/new?client_id=%s" % A),
              b.form("/users", dict(base, username="zhao.liu", roles="client_staff")),
              b.form("/users/%s/roles?client_id=%s" % (uid, A), {"roles": "client_staff"}),
              b.form("/users/%s/password?client_id=%s" % (uid, A), {"password": NEW_PASSWORD}),
              b.get("/users/%s/disable?client_id=%s" % (uid, A)),
              b.form("/users/%s/disable?client_id=%s" % (uid, A)),
              b.get("/users/%s?client_id=%s" % (uid, ids["B"]))):
        assert r.status == 404 and "李四" not in text(r) and "li.si" not in text(r), r
    # lists: a client user's own by default; provider staff without rights on staff go to the organisations
    assert "li.si" in text(boss.get("/users"))
    api_user(admin, "0", "am.chen", ["account_manager"])
    am = Browser(srv, "am.chen")
    assert location(am.get("/users")) == "/orgs"
    assert am.get("/users?client_id=0").status == 403
    assert "li.si" in text(am.get("/users?client_id=%s" % A))


def test_teams_are_created_and_members_added_and_removed_after_confirmation(kefu, tmp_path):
    srv, admin, ids = new_site(kefu, tmp_path)
    agent = api_user(admin, "0", "agent.zhang", ["agent"], display_name="张客服")
    r = admin.form("/teams", {"name": ""})
    assert r.status == 422 and field_error(r, "name")
    assert admin.form("/teams", {"name": "二线"}, csrf=False).status == 403
    where = location(admin.form("/teams", {"name": "二线支持"}))
    team = where.rsplit("/", 1)[1]
    page = text(admin.get(where))
    assert "二线支持" in page and '<option value="%s">张客服 (agent.zhang)</option>' % agent in page
    assert "二线支持" in text(admin.get("/teams"))
    r = admin.form(where + "/members", {"user_id": "not-an-id"})
    assert r.status == 422 and field_error(r, "user_id")
    r = admin.form(where + "/members", {"user_id": ids["userA"]})  # a client user cannot join
    assert r.status == 422 and field_error(r, "user_id")
    assert location(admin.form(where + "/members", {"user_id": agent})) == where
    assert location(admin.form(where + "/members", {"user_id": agent})) == where  # twice changes nothing
    page = text(admin.get(where))
    assert "<li>张客服" in page and "/teams/%s/members/%s/remove" % (team, agent) in page
    confirm = admin.get("/teams/%s/members/%s/remove" % (team, agent))
    assert confirm.status == 200 and "张客服" in text(confirm) and "二线支持" in text(confirm)
    assert "<li>张客服" in text(admin.get(where))  # asking changes nothing
    assert location(admin.form("/teams/%s/members/%s/remove" % (team, agent))) == where
    assert "<li>张客服" not in text(admin.get(where))
    assert admin.get("/teams/%s/members/%s/remove" % (team, agent)).status == 404  # no longer a member
    # an agent reads teams but does not manage them; client users find none
    zhang = Browser(srv, "agent.zhang")
    assert zhang.get(where).status == 200 and 'action="/teams"' not in text(zhang.get("/teams"))
    assert zhang.form("/teams", {"name": "自建"}).status == 403
    boss = Browser(srv, "boss-A")
    for r in (boss.get("/teams"), boss.get(where), boss.form("/teams", {"name": "x"}),
              boss.form(where + "/members", {"user_id": agent})):
        assert r.status == 404 and "二线支持" not in text(r)
    assert admin.get("/teams/12345").status == 404


def test_files_are_uploaded_sniffed_limited_sanitised_and_downloaded_as_attachments(kefu, tmp_path):
    """Type sniffed (an ELF named photo.jpg refused), size limited by --max-upload, names cut to their
    last component, downloads always attachments; another client's file is not found (C5.2)."""
    srv, admin, ids = new_site(kefu, tmp_path, args=["--max-upload", str(MAX_UPLOAD)])
    A, B = ids["A"], ids["B"]
    org = "/orgs/%s" % A
    page = text(admin.get(org))
    assert 'enctype="multipart/form-data"' in page and '<label for="file">' in page
    picture = png(3, 2, seed=42)
    assert location(admin.upload(org + "/files", "签署合同.png", picture)).startswith(org)
    page = text(admin.get(org))
    m = re.search(r'<a href="/files/(\d+)\?client_id=%s" download>签署合同.png</a></td><td>image/png</td>' % A, page)
    assert m, page
    fid = m.group(1)
    r = admin.get("/files/%s?client_id=%s" % (fid, A))
    assert r.status == 200 and r.body == picture
    assert r.header("Content-Type") == "image/png"
    disp = r.header("Content-Disposition")
    assert disp.startswith('attachment; filename="') and "filename*=UTF-8''%E7%AD%BE%E7%BD%B2" in disp
    assert re.fullmatch(r'attachment; filename="[ -~]+"; filename\*=UTF-8\'\'[A-Za-z0-9%._-]+', disp), disp
    # the client's own people read it; another client's do not even learn it exists (C5.2)
    boss = Browser(srv, "boss-A")
    assert boss.get("/files/%s?client_id=%s" % (fid, A)).body == picture
    b = Browser(srv, "boss-B")
    for path in ("/files/%s?client_id=%s" % (fid, A), "/files/%s?client_id=%s" % (fid, B), "/files/%s" % fid):
        r = b.get(path)
        assert r.status == 404 and picture not in r.body
    assert admin.get("/files/%s?client_id=%s" % (fid, B)).status == 404
    assert admin.get("/files/999999?client_id=%s" % A).status == 404
    # refused files: the organisation page again, the reason beside the file field
    elf = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00\x01\x00\x00\x00" + b"\x00" * 200
    r = admin.upload(org + "/files", "photo.jpg", elf, ctype="image/jpeg")
    assert r.status == 415 and field_error(r, "file") and 'aria-invalid="true"' in text(r)
    r = admin.upload(org + "/files", "big.png", picture + b"\x00" * (MAX_UPLOAD + 10))
    assert r.status == 413
    r = admin.upload(org + "/files", "empty.png", b"")
    assert r.status == 422 and field_error(r, "file")
    # a path in the name is cut off: only the last component is kept
    assert location(admin.upload(org + "/files", "../../etc/passwd.png", png(seed=5)))
    page = text(admin.get(org))
    assert "download>passwd.png</a>" in page and "../" not in page.split('id="files"')[1]
    # uploading needs the right to change the organisation, and the form's token
    assert boss.upload(org + "/files", "x.png", png(seed=6)).status == 403
    assert b.upload(org + "/files", "x.png", png(seed=6)).status == 404
    assert admin.upload(org + "/files", "x.png", png(seed=6), csrf=False).status == 403
    names = re.findall(r'download>([^<]*)</a>', text(admin.get(org)))
    assert names == ["签署合同.png", "passwd.png"]
    # at most 20 files on one record: the next is refused beside the field (409)
    for i in range(18):
        assert admin.upload(org + "/files", "scan-%d.png" % i, png(seed=100 + i)).status == 303
    r = admin.upload(org + "/files", "one-too-many.png", png(seed=99))
    assert r.status == 409 and field_error(r, "file")
    assert "one-too-many.png" not in text(admin.get(org))


def test_every_form_needs_its_anti_forgery_token(kefu, tmp_path):
    """A form posted without the session's token (or with a wrong one) is refused (403) and changes nothing."""
    srv, admin, ids = new_site(kefu, tmp_path)
    A = ids["A"]
    agent = api_user(admin, "0", "agent.qian", ["agent"])
    victim = api_user(admin, A, "victim.sun", ["client_staff"])
    team = location(admin.form("/teams", {"name": "令牌测试"}))
    assert location(admin.form(team + "/members", {"user_id": agent})) == team
    forms = [("/orgs", {"name": "x"}), ("/orgs/%s" % A, {"name": "x"}), ("/orgs/%s/disable" % A, {}),
             ("/orgs/%s/enable" % A, {}),
             ("/users", {"client_id": A, "username": "csrf.x", "password": PASSWORD, "roles": "client_staff"}),
             ("/users/%s/roles?client_id=%s" % (victim, A), {"roles": "client_admin"}),
             ("/users/%s/password?client_id=%s" % (victim, A), {"password": NEW_PASSWORD}),
             ("/users/%s/disable?client_id=%s" % (victim, A), {}), ("/teams", {"name": "x"}),
             ("/teams/%s/members" % team.rsplit("/", 1)[1], {"user_id": agent}),
             ("%s/members/%s/remove" % (team, agent), {})]
    for path, fields in forms:
        assert admin.form(path, fields, csrf=False).status == 403, path
        assert admin.form(path, dict(fields, csrf="not-the-token"), csrf=False).status == 403, path
    assert admin.upload("/orgs/%s/files" % A, "x.png", png(), csrf=False).status == 403
    # nothing changed
    assert "客户公司A" in text(admin.get("/orgs/%s" % A)) and "已停用" not in text(admin.get("/orgs"))
    assert srv.post("/api/v1/auth/login", json={"username": "victim.sun", "password": PASSWORD}).status == 200
    assert "/members/%s/remove" % agent in text(admin.get(team))
    assert "x.png" not in text(admin.get("/orgs/%s" % A))


def test_names_with_markup_render_escaped_on_every_page(kefu, tmp_path):
    srv, admin, ids = new_site(kefu, tmp_path)
    where = location(admin.form("/orgs", {"name": XSS, "contact_name": XSS}))
    org = where.rsplit("/", 1)[1]
    uid = api_user(admin, org, "xss-user", ["client_admin"], display_name=XSS)
    staff = api_user(admin, "0", "xss-agent", ["agent"], display_name=XSS)
    team = location(admin.form("/teams", {"name": XSS}))
    assert location(admin.form(team + "/members", {"user_id": staff})) == team
    assert location(admin.upload(where + "/files", XSS + ".png", png(seed=3))).startswith(where)
    pages = ["/orgs", where, where + "/disable", "/users?client_id=%s" % org, "/users/%s?client_id=%s" % (uid, org),
             "/users/%s/disable?client_id=%s" % (uid, org), "/users?client_id=0", "/teams", team,
             "%s/members/%s/remove" % (team, staff)]
    for path in pages:
        r = admin.get(path)
        assert r.status == 200, (path, r)
        assert XSS not in text(r) and "<img" not in text(r), path
        assert XSS_ESCAPED in text(r) or XSS_ESCAPED.replace("&quot;", "&#34;") in text(r), path
    # the client admin's own view (signed in as the one with the name)
    me = Browser(srv, "xss-user")
    for path in ("/", "/orgs", where, "/users"):
        r = me.get(path)
        assert r.status == 200 and XSS not in text(r) and "<img" not in text(r), path


def test_the_pages_speak_english_too(kefu, tmp_path):
    srv, admin, ids = new_site(kefu, tmp_path)
    for path, words in (("/orgs?lang=en", "Client organisations"), ("/orgs/%s" % ids["A"], "Choose a file"),
                        ("/users?client_id=%s" % ids["A"], "Client administrator"), ("/teams", "New team"),
                        ("/users/new?client_id=0", "Account manager")):
        r = admin.get(path)
        assert r.status == 200 and words in text(r) and '<html lang="en">' in text(r), path
