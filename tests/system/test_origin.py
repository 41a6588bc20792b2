"""Cross-site requests (issue 3: "an Origin check"): a state-changing request whose Origin is not
kefu's own, or that a browser marks Sec-Fetch-Site: cross-site, is refused with 403 and changes
nothing; same-origin requests and clients that send neither header (API clients) pass."""
import pytest

import kefu_http as kh

PROBES = "/api/v1/test/probe-writes"


@pytest.mark.parametrize("headers", [
    {"Origin": "http://evil.example"},
    {"Origin": "null"},
    {"Origin": "http://127.0.0.1:1"},
    {"Sec-Fetch-Site": "cross-site"},
])
def test_cross_site_write_is_403_and_writes_nothing(server, headers):
    tag = "xsite-%d" % abs(hash(tuple(headers.items())))
    r = server.post(PROBES, json={"tag": tag, "body": "x"}, headers=headers)
    kh.assert_error(r, 403, "forbidden")
    assert server.probe_count(tag) == 0


def test_same_origin_and_headerless_writes_pass(server):
    host = "%s:%d" % server.addr
    r = server.post(PROBES, json={"tag": "same-origin", "body": "x"},
                    headers={"Origin": "http://" + host, "Host": host, "Sec-Fetch-Site": "same-origin"})
    assert r.status == 201, r
    r = server.post(PROBES, json={"tag": "same-origin", "body": "y"})
    assert r.status == 201, r
    assert server.probe_count("same-origin") == 2


def test_cross_site_reads_are_not_refused(server):
    r = server.get("/api/v1/version", headers={"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"})
    assert r.status == 200
