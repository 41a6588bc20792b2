"""The route matrix's rows for the organisation, user, team and file pages (see test_route_matrix.py for the
kinds and outcomes). ROUTES: {(method, pattern): spec}; request(site, route, actor, t, n) builds
(method, path, body) for one cell: `site` is the matrix's Site (its clients, users, customers and
admin), `actor` the actor's name, `t` the target ("own", "other" or None), `n` a unique number.

The allow sets are those of the JSON API rows for the same policy actions (org.read, org.create,
org.update, user.read/create/update, team.read/manage). A file upload cell sends a multipart body
(Multipart below, which Site.call sends as is)."""
import re
import struct
import uuid
import zlib

PROVIDER = ["admin", "account_manager", "agent", "technician", "trainer", "finance", "supervisor"]
C_ALL = {"client_admin", "client_staff", "client_supervisor"}
ORG_READ = {"admin", "account_manager", "finance"} | C_ALL
ORG_UPDATE = {"admin", "account_manager"}
USER_READ = {"admin", "account_manager", "client_admin", "client_supervisor"}
USER_CHANGE = {"admin", "account_manager", "client_admin"}
TEAM_MANAGE = {"admin", "supervisor"}
PASSWORD = "蓝色的海边-灯塔-2026"


def reenable(site, t):
    """After a successful page disable: the client must work for the cells that follow."""
    e = site.call(site.admin, "POST", "/api/v1/orgs/%s/enable" % site.client[t])
    assert e.status == 200, e


ROUTES = {
    ("GET", "/orgs"): dict(kind="own-list", allow=ORG_READ),
    ("GET", "/orgs/new"): dict(kind="provider", allow=ORG_UPDATE),
    ("POST", "/orgs"): dict(kind="provider", allow=ORG_UPDATE, form=True),
    # staff without org.read on clients find a client's organisation not at all (org_get asks both scopes)
    ("GET", "/orgs/{id}"): dict(kind="client", allow=ORG_READ, deny="hidden"),
    ("POST", "/orgs/{id}"): dict(kind="client", allow=ORG_UPDATE, form=True),
    ("GET", "/orgs/{id}/disable"): dict(kind="client", allow=ORG_UPDATE),
    ("POST", "/orgs/{id}/disable"): dict(kind="client", allow=ORG_UPDATE, form=True, after_ok=reenable),
    ("POST", "/orgs/{id}/enable"): dict(kind="client", allow=ORG_UPDATE, form=True),
    ("POST", "/orgs/{id}/files"): dict(kind="client", allow=ORG_UPDATE),
    # a file is read by whoever may read the organisation it is attached to
    ("GET", "/files/{id}"): dict(kind="client", allow=ORG_READ, deny="hidden"),
    ("GET", "/users"): dict(kind="client", allow=USER_READ),
    ("GET", "/users/new"): dict(kind="client", allow=USER_CHANGE),
    ("POST", "/users"): dict(kind="client", allow=USER_CHANGE, form=True),
    ("GET", "/users/{id}"): dict(kind="client", allow=USER_READ),
    ("POST", "/users/{id}/roles"): dict(kind="client", allow=USER_CHANGE, form=True),
    ("POST", "/users/{id}/password"): dict(kind="client", allow=USER_CHANGE, form=True),
    ("GET", "/users/{id}/disable"): dict(kind="client", allow=USER_CHANGE),
    ("POST", "/users/{id}/disable"): dict(kind="client", allow=USER_CHANGE, form=True),
    ("GET", "/teams"): dict(kind="provider", allow=set(PROVIDER)),
    ("POST", "/teams"): dict(kind="provider", allow=TEAM_MANAGE, form=True),
    ("GET", "/teams/{id}"): dict(kind="provider", allow=set(PROVIDER)),
    ("POST", "/teams/{id}/members"): dict(kind="provider", allow=TEAM_MANAGE, form=True),
    ("GET", "/teams/{id}/members/{user_id}/remove"): dict(kind="provider", allow=TEAM_MANAGE),
    ("POST", "/teams/{id}/members/{user_id}/remove"): dict(kind="provider", allow=TEAM_MANAGE, form=True),
}


# --- multipart bodies ---------------------------------------------------------------------------------
class Multipart:
    """A multipart/form-data body: `multipart` is (content_type, bytes), which Site.call sends as is."""

    def __init__(self, fields, files):
        boundary = "----kefu" + uuid.uuid4().hex
        out = b""
        for name, value in fields.items():
            out += ("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n" % (boundary, name)).encode()
            out += value.encode("utf-8") + b"\r\n"
        for name, (filename, data, ctype) in files.items():
            out += ("--%s\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n"
                    "Content-Type: %s\r\n\r\n" % (boundary, name, filename.replace('"', "%22"), ctype)).encode("utf-8")
            out += data + b"\r\n"
        out += ("--%s--\r\n" % boundary).encode()
        self.multipart = ("multipart/form-data; boundary=" + boundary, out)

    def __repr__(self):
        return "Multipart(%d bytes)" % len(self.multipart[1])


def png(width=2, height=2, seed=0):
    """A small valid PNG (grey pixels; `seed` varies the bytes)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)
    raw = b"".join(b"\x00" + bytes([(seed + x) & 0xff for x in range(width)]) for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def upload_body(csrf, filename, data, ctype="image/png"):
    return Multipart({"csrf": csrf}, {"file": (filename, data, ctype)})


def org_file(site, t):
    """A file attached to client t's organisation (uploaded once by the administrator through the page)."""
    cache = site.__dict__.setdefault("admin_files", {})
    if t not in cache:
        cid = site.client[t]
        r = site.call(site.admin, "POST", "/orgs/%s/files" % cid, upload_body(site.admin.csrf, "合同-%s.png" % t,
                                                                           png(seed=7 if t == "own" else 9)))
        assert r.status == 303, r
        page = site.call(site.admin, "GET", "/orgs/%s" % cid)
        ids = re.findall(r'href="/files/(\d+)\?client_id=%s"' % cid, page.body.decode())
        assert ids, page
        cache[t] = ids[0]
    return cache[t]


def request(site, route, actor, t, n):
    method, pattern = route
    cid = site.client.get(t)
    path = pattern
    body = None
    if pattern.startswith("/orgs/{id}"):
        path = pattern.replace("{id}", str(cid))
    if route == ("POST", "/orgs"):
        body = {"name": "页面新客户-%d" % n}
    elif route == ("POST", "/orgs/{id}"):
        body = {"legal_name": "页面法定名称-%d" % n}
    elif route == ("POST", "/orgs/{id}/files"):
        me = site.actors.get(actor)
        body = upload_body(getattr(me, "csrf", None) or "", "扫描件-%d.png" % n, png(seed=n))
    elif pattern == "/files/{id}":
        path = "/files/%s?client_id=%s" % (org_file(site, t), cid)
    elif method == "GET" and pattern in ("/users", "/users/new"):
        path = pattern + "?client_id=%s" % cid
    elif route == ("POST", "/users"):
        body = {"client_id": cid, "username": "pmade-%d" % n, "password": PASSWORD, "roles": "client_staff"}
    elif pattern.startswith("/users/{id}"):
        target = site.user[t] if route == ("GET", "/users/{id}") else site.victim[t]
        path = pattern.replace("{id}", str(target)) + "?client_id=%s" % cid
        if pattern.endswith("/roles"):
            body = {"roles": "client_staff"}
        elif pattern.endswith("/password"):
            body = {"password": "重设的-长口令-%d-海边" % n}
    elif route == ("POST", "/teams"):
        body = {"name": "页面团队-%d" % n}
    elif pattern.startswith("/teams/{id}"):
        path = pattern.replace("{id}", str(site.team))
        if route == ("POST", "/teams/{id}/members"):
            body = {"user_id": site.user_id["agent"]}
        if "{user_id}" in pattern:
            g = site.call(site.admin, "POST", "/api/v1/teams/%s/members" % site.team, {"user_id": site.user_id["agent"]})
            assert g.status == 200, g
            path = path.replace("{user_id}", str(site.user_id["agent"]))
    if method == "POST" and body is None:
        body = {}
    return method, path, body
