"""The injected clock and the job scheduler in test mode (docs/architecture.md):
POST /api/v1/test/clock moves a fake clock and fires every job due in between, in order.
Tests that count `jobs_run` get a fresh server so no other test's periodic job adds to it."""
import threading
import time

import pytest

import kefu_http as kh
from conftest import CLOCK_START, DAY_MS, HOUR_MS

CLOCK = "/api/v1/test/clock"
JOBS = "/api/v1/test/jobs"


def test_fake_clock_starts_at_clock_start_and_stands_still(kefu):
    s = kefu()
    assert s.clock_now() == CLOCK_START
    s.probe_write("clock-still", "x")
    assert s.clock_now() == CLOCK_START


def test_fake_clock_defaults_to_the_real_now(kefu):
    before = int(time.time() * 1000)
    s = kefu(clock_start=None)
    after = int(time.time() * 1000)
    now = s.clock_now()
    assert before - 1000 <= now <= after + 1000, (before, now, after)
    assert s.clock_now() == now, "the fake clock moves only when told to"


def test_clock_advance_and_set_move_now(kefu):
    s = kefu()
    doc = s.advance(1234)
    assert doc["now_ms"] == CLOCK_START + 1234
    assert doc["jobs_run"] == 0
    r = s.post(CLOCK, json={"set_ms": CLOCK_START + DAY_MS})
    assert r.status == 200, r
    assert r.json["now_ms"] == CLOCK_START + DAY_MS
    assert s.clock_now() == CLOCK_START + DAY_MS
    r = s.post(CLOCK, json={"set_ms": CLOCK_START + DAY_MS})  # standing still is not backwards
    assert r.status == 200, r
    assert s.advance(0)["now_ms"] == CLOCK_START + DAY_MS


def test_probe_write_created_comes_from_the_fake_clock(kefu):
    s = kefu()
    s.advance(5 * DAY_MS + 7)
    r = s.probe_write("clock-created", "x")
    assert r.json["created"] == CLOCK_START + 5 * DAY_MS + 7, r


def test_clock_never_goes_backwards(kefu):
    s = kefu()
    s.advance(HOUR_MS)
    now = s.clock_now()
    r = s.post(CLOCK, json={"set_ms": now - 1})
    kh.assert_error(r, 422, "invalid", field="set_ms")
    r = s.post(CLOCK, json={"set_ms": CLOCK_START - DAY_MS})
    kh.assert_error(r, 422, "invalid", field="set_ms")
    r = s.post(CLOCK, json={"advance_ms": -1})
    kh.assert_error(r, 422, "invalid", field="advance_ms")
    assert s.clock_now() == now


@pytest.mark.parametrize("doc,field", [
    ({"advance_ms": "1000"}, "advance_ms"),
    ({"advance_ms": 1.5}, "advance_ms"),
    ({"advance_ms": None}, "advance_ms"),
    ({"set_ms": "soon"}, "set_ms"),
    ({"set_ms": True}, "set_ms"),
])
def test_clock_fields_of_the_wrong_type_are_422(server, doc, field):
    now = server.clock_now()
    kh.assert_error(server.post(CLOCK, json=doc), 422, "invalid", field=field)
    assert server.clock_now() == now


def test_clock_request_without_advance_or_set_is_422(server):
    now = server.clock_now()
    r = server.post(CLOCK, json={})
    kh.assert_error(r, 422, "invalid")
    assert server.clock_now() == now


def test_one_shot_job_fires_exactly_once_when_the_clock_passes_it(kefu):
    s = kefu()
    run_at = CLOCK_START + HOUR_MS
    jid = s.schedule(run_at=run_at)
    job = s.job(jid)
    assert job["id"] == jid and job["kind"] == "test.record", job
    assert job["state"] == "due" and job["attempts"] == 0 and job["runs"] == [], job
    assert job["run_at"] == run_at, job

    doc = s.advance(HOUR_MS // 2)
    assert doc["jobs_run"] == 0, doc
    assert s.job(jid)["runs"] == []

    doc = s.advance(HOUR_MS)
    assert doc["jobs_run"] == 1, doc
    job = s.job(jid)
    assert job["state"] == "done" and job["attempts"] == 1, job
    assert len(job["runs"]) == 1, job
    run = job["runs"][0]
    assert run["scheduled_at"] == run_at, job
    assert run["ok"] is True and run["error"] is None, job
    assert run_at <= run["started"] <= doc["now_ms"], job

    doc = s.advance(10 * DAY_MS)
    assert doc["jobs_run"] == 0, doc
    assert len(s.job(jid)["runs"]) == 1


def test_job_due_exactly_at_the_new_now_fires(kefu):
    s = kefu()
    jid = s.schedule(run_at=CLOCK_START + 1000)
    assert s.advance(999)["jobs_run"] == 0
    assert s.advance(1)["jobs_run"] == 1
    assert s.job(jid)["state"] == "done"


def test_set_ms_fires_jobs_in_between_in_order(kefu):
    s = kefu()
    late = s.schedule(run_at=CLOCK_START + 3 * HOUR_MS)
    early = s.schedule(run_at=CLOCK_START + 1 * HOUR_MS)
    beyond = s.schedule(run_at=CLOCK_START + 10 * HOUR_MS)
    r = s.post(CLOCK, json={"set_ms": CLOCK_START + 5 * HOUR_MS})
    assert r.status == 200 and r.json["jobs_run"] == 2, r
    e, l_, b = s.job(early), s.job(late), s.job(beyond)
    assert e["state"] == "done" and l_["state"] == "done", (e, l_)
    assert b["state"] == "due" and b["runs"] == [], b
    assert e["runs"][0]["started"] <= l_["runs"][0]["started"], (e, l_)


def test_periodic_job_fires_once_per_day_across_a_ten_day_advance(kefu):
    s = kefu()
    first = CLOCK_START + HOUR_MS
    jid = s.schedule(run_at=first, period_ms=DAY_MS)
    doc = s.advance(10 * DAY_MS)
    assert doc["jobs_run"] == 10, doc
    job = s.job(jid)
    scheduled = [run["scheduled_at"] for run in job["runs"]]
    assert sorted(scheduled) == [first + k * DAY_MS for k in range(10)], job
    assert all(run["ok"] is True for run in job["runs"]), job
    assert job["state"] == "due", job
    assert job["run_at"] == first + 10 * DAY_MS, job


def test_periodic_job_fires_once_per_one_day_step(kefu):
    s = kefu()
    first = CLOCK_START + HOUR_MS
    jid = s.schedule(run_at=first, period_ms=DAY_MS)
    for day in range(1, 11):
        doc = s.advance(DAY_MS)
        assert doc["jobs_run"] == 1, (day, doc)
        assert len(s.job(jid)["runs"]) == day
    scheduled = sorted(run["scheduled_at"] for run in s.job(jid)["runs"])
    assert [b - a for a, b in zip(scheduled, scheduled[1:])] == [DAY_MS] * 9, scheduled


def _advance_until_settled(s, jid, limit_days=30):
    """Advances a day at a time until the job is done or failed (retry back-off is kefu's choice)."""
    for _ in range(limit_days):
        job = s.job(jid)
        if job["state"] in ("done", "failed"):
            return job
        s.advance(DAY_MS)
    return s.job(jid)


def test_failing_job_is_retried_until_it_succeeds(kefu):
    s = kefu()
    jid = s.schedule(run_at=CLOCK_START + 1000, fail_times=2, max_attempts=5)
    job = _advance_until_settled(s, jid)
    assert job["state"] == "done", job
    assert job["attempts"] == 3, job
    runs = job["runs"]
    assert [r["ok"] for r in runs] == [False, False, True], job
    assert all(isinstance(r["error"], str) and r["error"] for r in runs[:2]), job
    assert runs[2]["error"] is None, job
    assert runs[0]["started"] <= runs[1]["started"] <= runs[2]["started"], job
    assert s.advance(30 * DAY_MS)["jobs_run"] == 0
    assert len(s.job(jid)["runs"]) == 3


def test_failing_job_with_exactly_enough_attempts_ends_done(kefu):
    s = kefu()
    jid = s.schedule(run_at=CLOCK_START + 1000, fail_times=2, max_attempts=3)
    job = _advance_until_settled(s, jid)
    assert job["state"] == "done" and len(job["runs"]) == 3, job


def test_failing_job_stops_after_max_attempts_as_failed(kefu):
    s = kefu()
    jid = s.schedule(run_at=CLOCK_START + 1000, fail_times=2, max_attempts=2)
    job = _advance_until_settled(s, jid)
    assert job["state"] == "failed", job
    assert job["attempts"] == 2 and [r["ok"] for r in job["runs"]] == [False, False], job
    assert s.advance(30 * DAY_MS)["jobs_run"] == 0
    job = s.job(jid)
    assert job["state"] == "failed" and len(job["runs"]) == 2, job


def test_job_defaults(server):
    now = server.clock_now()
    jid = server.schedule(run_at=now + 10 * 365 * DAY_MS)
    job = server.job(jid)
    assert job["kind"] == "test.record" and job["state"] == "due" and job["attempts"] == 0, job
    assert job["run_at"] == now + 10 * 365 * DAY_MS and job["runs"] == [], job


@pytest.mark.parametrize("doc,field", [
    ({"run_at": "tomorrow"}, "run_at"),
    ({"run_at": 1.5}, "run_at"),
    ({"run_at": [1]}, "run_at"),
    ({"run_at": CLOCK_START, "period_ms": -1}, "period_ms"),
    ({"run_at": CLOCK_START, "period_ms": "1"}, "period_ms"),
    ({"run_at": CLOCK_START, "fail_times": -1}, "fail_times"),
    ({"run_at": CLOCK_START, "max_attempts": "5"}, "max_attempts"),
])
def test_job_fields_of_the_wrong_type_are_422(server, doc, field):
    r = server.post(JOBS, json=doc)
    kh.assert_error(r, 422, "invalid", field=field)


@pytest.mark.parametrize("ident", ["1", "424242424242"])
def test_unknown_job_is_404(server, ident):
    kh.assert_error(server.get(JOBS + "/" + ident), 404, "not_found")


def test_test_routes_do_not_exist_without_test_mode(kefu):
    s = kefu(test_mode=False)
    assert s.get("/healthz").status == 200
    for method, path, body in [
        ("GET", CLOCK, None),
        ("POST", CLOCK, {"advance_ms": 1000}),
        ("GET", "/api/v1/test/probe-writes?tag=x", None),
        ("POST", "/api/v1/test/probe-writes", {"tag": "x", "body": "y"}),
        ("GET", "/api/v1/test/probe-writes/1", None),
        ("POST", JOBS, {"run_at": CLOCK_START}),
        ("GET", JOBS + "/1", None),
    ]:
        r = s.request(method, path, json=body)
        kh.assert_error(r, 404, "not_found")


def test_concurrent_clock_advances_add_up(kefu):
    """Eight clients advancing the clock by a day at the same time move it by eight days, and a
    daily job fires once for each of those days."""
    s = kefu()
    jid = s.schedule(run_at=CLOCK_START + HOUR_MS, period_ms=DAY_MS)
    results, errors = [], []

    def advance():
        try:
            results.append(s.advance(DAY_MS))
        except AssertionError as e:
            errors.append(e)

    threads = [threading.Thread(target=advance) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert s.clock_now() == CLOCK_START + 8 * DAY_MS, "advances were lost: %r" % results
    assert sorted(r["now_ms"] for r in results) == [CLOCK_START + k * DAY_MS for k in range(1, 9)], results
    assert sum(r["jobs_run"] for r in results) == 8, results
    scheduled = sorted(run["scheduled_at"] for run in s.job(jid)["runs"])
    assert scheduled == [CLOCK_START + HOUR_MS + k * DAY_MS for k in range(8)], scheduled


def test_due_jobs_run_once_when_two_processes_share_the_database(engine, new_db, kefu):
    """DESIGN (jobs/): with PostgreSQL several kefu processes share one database and each due job
    is claimed in the database, so it runs once however many processes advance their clocks."""
    if engine != "postgres":
        pytest.skip("several kefu processes on one database is the PostgreSQL deployment")
    url = new_db()
    a = kefu(db_url=url)
    b = kefu(db_url=url)
    for rnd in range(3):
        base = a.clock_now()
        assert b.clock_now() == base
        ids = [a.schedule(run_at=base + 1000 + i) for i in range(30)]
        periodic = b.schedule(run_at=base + HOUR_MS, period_ms=DAY_MS)
        results = []
        threads = [threading.Thread(target=lambda s=s: results.append(s.advance(3 * DAY_MS)))
                   for s in (a, b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert len(results) == 2, results
        runs = {i: len(b.job(i)["runs"]) for i in ids}
        assert sorted(set(runs.values())) == [1], "round %d: one-shot runs per job %s" % (rnd, runs)
        scheduled = sorted(r["scheduled_at"] for r in a.job(periodic)["runs"])
        assert scheduled == [base + HOUR_MS + k * DAY_MS for k in range(3)], "round %d: %s" % (rnd, scheduled)
        # this round's 30 one-shots and 3 daily runs, plus 3 runs of each earlier round's daily job
        assert sum(r["jobs_run"] for r in results) == 33 + 3 * rnd, results
