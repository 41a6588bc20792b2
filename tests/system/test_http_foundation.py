"""The foundation's HTTP surface (docs/architecture.md, issue 2): health, readiness,
version and metrics; kefu's headers on every response; the probe-write routes."""
import re

import pytest

import kefu_http as kh
from conftest import run_kefu

PROBES = "/api/v1/test/probe-writes"


# ---- health, readiness, version ---------------------------------------------------------------

def test_healthz_answers_status_ok(server):
    r = server.get("/healthz")
    assert r.status == 200, r
    kh.assert_json_content_type(r)
    assert r.json == {"status": "ok"}, r


def test_readyz_names_engine_and_schema(server, engine):
    r = server.get("/readyz")
    assert r.status == 200, r
    kh.assert_json_content_type(r)
    doc = r.json
    assert doc.get("status") == "ready", r
    assert doc.get("engine") == engine, r
    assert isinstance(doc.get("schema"), int) and not isinstance(doc["schema"], bool), r
    assert doc["schema"] >= 1, r


def test_version_route_matches_cli(server):
    r = server.get("/api/v1/version")
    assert r.status == 200, r
    kh.assert_json_content_type(r)
    doc = r.json
    assert doc.get("name") == "kefu", r
    version = doc.get("version")
    assert isinstance(version, str) and version.strip(), r
    cli = run_kefu(["version"])
    assert cli.returncode == 0, cli
    assert version in cli.stdout, "kefu version printed %r; the route says %r" % (cli.stdout, version)


# ---- metrics ----------------------------------------------------------------------------------

def test_metrics_are_prometheus_text_with_the_agreed_families(server):
    server.get("/healthz")
    r = server.get("/metrics")
    assert r.status == 200, r
    kh.assert_kefu_headers(r)
    ct = (r.header("Content-Type") or "").lower()
    assert ct.startswith("text/plain"), r
    m = kh.parse_metrics(r.text)
    names = kh.metric_names(m)
    for family in ("kefu_http_requests_total", "kefu_http_request_duration_seconds_bucket",
                   "kefu_http_request_duration_seconds_sum", "kefu_http_request_duration_seconds_count",
                   "kefu_store_write_batches_total", "kefu_store_writes_total"):
        assert family in names, "metric %s missing; have %s" % (family, sorted(names))
    assert re.search(r"^# TYPE kefu_http_requests_total counter$", r.text, re.M), r.text[:2000]
    assert re.search(r"^# TYPE kefu_http_request_duration_seconds histogram$", r.text, re.M), r.text[:2000]
    buckets = [(dict(l), v) for (n, l), v in m.items() if n == "kefu_http_request_duration_seconds_bucket"]
    assert any(l.get("le") == "+Inf" for l, _ in buckets), buckets


def test_metrics_count_requests_by_route_and_status(server):
    def version_200(m):
        return kh.metric_sum(m, "kefu_http_requests_total", route=lambda v: "version" in v, status="200")

    def all_404(m):
        return kh.metric_sum(m, "kefu_http_requests_total", status="404")

    before = server.metrics()
    for _ in range(3):
        assert server.get("/api/v1/version").status == 200
    for path in ("/no-such-route", "/api/v1/no-such-route"):
        assert server.get(path).status == 404
    after = server.metrics()
    assert version_200(after) - version_200(before) == 3, sorted(
        (k, v) for k, v in after.items() if k[0] == "kefu_http_requests_total")
    assert all_404(after) - all_404(before) == 2, sorted(
        (k, v) for k, v in after.items() if k[0] == "kefu_http_requests_total")
    hist_before = kh.metric_sum(before, "kefu_http_request_duration_seconds_count")
    hist_after = kh.metric_sum(after, "kefu_http_request_duration_seconds_count")
    assert hist_after - hist_before >= 5, (hist_before, hist_after)


def test_metrics_count_write_batches_after_probe_writes(server):
    before = server.metrics()
    for i in range(5):
        server.probe_write("metrics-writes", "w%d" % i)
    after = server.metrics()
    writes = kh.metric_sum(after, "kefu_store_writes_total") - kh.metric_sum(before, "kefu_store_writes_total")
    batches = (kh.metric_sum(after, "kefu_store_write_batches_total")
               - kh.metric_sum(before, "kefu_store_write_batches_total"))
    assert writes >= 5, (writes, batches)
    assert 1 <= batches <= writes, (writes, batches)


def test_metrics_count_job_runs_by_kind_and_result(server):
    def runs(m):
        return kh.metric_sum(m, "kefu_job_runs_total", kind="test.record")

    before = server.metrics()
    now = server.clock_now()
    server.schedule(run_at=now + 1000)
    server.schedule(run_at=now + 2000, fail_times=1, max_attempts=1)
    server.advance(60000)
    after = server.metrics()
    assert runs(after) - runs(before) == 2, sorted(
        (k, v) for k, v in after.items() if k[0] == "kefu_job_runs_total")
    results = {dict(l).get("result") for (n, l), v in after.items()
               if n == "kefu_job_runs_total" and dict(l).get("kind") == "test.record" and v > 0}
    assert len(results) == 2, "one ok and one failed run should be told apart by `result`: %s" % results


# ---- headers on every response ------------------------------------------------------------------

def _cases():
    big_query = "/api/v1/test/probe-writes?tag=" + "a" * 100_000
    return {
        "200_healthz": (kh.build("GET", "/healthz"), 200),
        "200_readyz": (kh.build("GET", "/readyz"), 200),
        "200_metrics": (kh.build("GET", "/metrics"), 200),
        "200_version": (kh.build("GET", "/api/v1/version"), 200),
        "201_probe_write": (kh.build("POST", PROBES, {"Content-Type": "application/json"},
                                     b'{"tag":"headers","body":"x"}'), 201),
        "400_bad_json": (kh.build("POST", PROBES, {"Content-Type": "application/json"}, b'{"tag":'), 400),
        "400_bad_utf8_path": (kh.build("GET", b"/api/v1/vers\xffion"), 400),
        "404_unknown_route": (kh.build("GET", "/nope"), 404),
        "405_wrong_method": (kh.build("DELETE", "/healthz"), 405),
        "413_too_large": (kh.build("POST", PROBES, {"Content-Type": "application/json"},
                                   b'{"tag":"big","body":"' + b"x" * (1024 * 1024 + 16) + b'"}'), 413),
        "414_uri_too_long": (kh.build("GET", big_query), 414),
        "415_media_type": (kh.build("POST", PROBES, {"Content-Type": "text/plain"},
                                    b'{"tag":"t","body":"b"}'), 415),
        "422_invalid": (kh.build("POST", PROBES, {"Content-Type": "application/json"},
                                 b'{"tag":5,"body":"b"}'), 422),
    }


@pytest.mark.parametrize("case", sorted(_cases()))
def test_every_response_carries_request_id_and_security_headers(server, case):
    data, status = _cases()[case]
    r = server.raw(data)
    assert r.status == status, r
    kh.assert_kefu_headers(r)
    if status >= 400:
        doc = r.json
        assert isinstance(doc, dict) and isinstance(doc.get("error"), dict), r
        kh.assert_json_content_type(r)


def test_request_ids_differ_between_requests(server):
    ids = {server.get("/healthz").header("X-Request-Id") for _ in range(20)}
    ids |= {server.get("/nope").header("X-Request-Id") for _ in range(5)}
    assert None not in ids
    assert len(ids) == 25, ids


# ---- probe writes: round trip ---------------------------------------------------------------------

VERBATIM = [
    "'; DROP TABLE probe_writes; --",
    '" OR 1=1 --',
    "' OR '1'='1",
    "\\",
    "\\'",
    "back\\slash\\\\double",
    "%_",
    "%",
    "_",
    "a%b_c",
    "$1 ?1 :name @p {{int64}}",
    "客服 退款 发票 空调",
    "😀🚀 emoji 👩‍👩‍👧",
    "  leading and trailing spaces  ",
    "tab\there\nnewline\r\nCRLF",
    "ＦＵＬＬ　ｗｉｄｔｈ１２３",
    "e\u0301 combining, not NFC",
    "\u202eright-to-left override",
    "quote \" and apostrophe ' and backtick `",
    "</script><script>alert(1)</script>",
    "+plus+and&amp=&?#hash/slash",
    "\x01\x1f control characters",
]


def test_probe_write_round_trip_shape(server):
    r = server.probe_write("shape", "hello")
    kh.assert_kefu_headers(r)
    kh.assert_json_content_type(r)
    doc = r.json
    assert set(doc) >= {"id", "tag", "body", "created"}, r
    assert isinstance(doc["id"], str) and doc["id"].isdigit(), "ids are JSON strings of digits: %r" % r
    assert isinstance(doc["created"], int) and not isinstance(doc["created"], bool), r
    assert doc["created"] >= 1767225600000, "created is the fake clock's ms: %r" % r
    g = server.get(PROBES + "/" + doc["id"])
    assert g.status == 200, g
    assert g.json == doc, (g, r)


@pytest.mark.parametrize("value", VERBATIM, ids=lambda v: "v%02d" % VERBATIM.index(v))
def test_sql_and_unicode_metacharacters_are_stored_verbatim(server, value):
    r = server.probe_write(value, "body:" + value)
    doc = r.json
    assert doc["tag"] == value and doc["body"] == "body:" + value, r
    g = server.get(PROBES + "/" + doc["id"])
    assert g.status == 200, g
    assert g.json["tag"] == value and g.json["body"] == "body:" + value, g
    listed = server.probe_by_tag(value)
    assert [it["id"] for it in listed["items"]] == [doc["id"]], (
        "?tag= must match exactly one row (no LIKE, no normalisation): %r" % listed)
    assert listed["items"][0]["tag"] == value and listed["items"][0]["body"] == "body:" + value, listed


def test_probe_table_survives_injection_attempts(server):
    for v in VERBATIM[:3]:
        server.probe_write(v, v)
        server.get(PROBES + "?tag=" + kh.quote(v))
    r = server.probe_write("after-injection", "still here")
    assert server.get(PROBES + "/" + r.json["id"]).status == 200


def test_probe_list_is_newest_first_and_exact(server):
    ids = [server.probe_write("order", "n%d" % i).json["id"] for i in range(5)]
    server.probe_write("order-2", "other tag")
    server.probe_write("Order", "other case")
    doc = server.probe_by_tag("order")
    got = [it["id"] for it in doc["items"]]
    assert got == list(reversed(ids)), doc
    assert [int(i) for i in got] == sorted((int(i) for i in got), reverse=True), doc
    assert doc.get("count") == 5, doc


def test_probe_list_returns_at_most_100(server):
    for i in range(105):
        server.probe_write("hundred", str(i))
    doc = server.probe_by_tag("hundred")
    assert len(doc["items"]) == 100, len(doc["items"])
    assert [it["body"] for it in doc["items"]] == [str(i) for i in range(104, 4, -1)]
    assert isinstance(doc.get("count"), int), doc


def test_probe_list_of_unknown_tag_is_empty(server):
    doc = server.probe_by_tag("never-written-tag")
    assert doc["items"] == [], doc
    assert doc.get("count") == 0, doc


def test_probe_write_boundaries_in_bytes(server):
    ok_tag = "t" * 200
    assert server.probe_write(ok_tag, "x").json["tag"] == ok_tag
    zh_ok = "客" * 66  # 198 bytes
    assert server.probe_write(zh_ok, "x").json["tag"] == zh_ok
    big_body = "b" * 65536
    assert server.probe_write("max-body", big_body).json["body"] == big_body
    zh_body = "汉" * (65536 // 3)  # 65535 bytes
    assert server.probe_write("max-body-zh", zh_body).json["body"] == zh_body


@pytest.mark.parametrize("ident", ["0", "1", "999999999999", "18446744073709551615"])
def test_probe_read_of_missing_id_is_404(server, ident):
    kh.assert_error(server.get(PROBES + "/" + ident), 404, "not_found")


@pytest.mark.parametrize("ident", ["abc", "-1", "1e3", "99999999999999999999999", "%20", "1.5"])
def test_probe_read_of_malformed_id_is_an_error_not_a_crash(server, ident):
    r = server.get(PROBES + "/" + ident)
    assert r.status in (400, 404, 422), r
    kh.assert_kefu_headers(r)
    assert isinstance(r.json, dict) and "error" in r.json, r
