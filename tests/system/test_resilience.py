"""kefu keeps serving when its database connections break underneath it (docs/architecture.md:
/readyz is 503 while the database is unreachable; DESIGN: PostgreSQL, one connection per worker)."""
import http.client
import time

import pytest

from conftest import PG_ADMIN, psql

PROBES = "/api/v1/test/probe-writes"


def test_recovers_after_its_postgres_connections_are_terminated(engine, kefu):
    if engine != "postgres":
        pytest.skip("SQLite is embedded: there is no server connection to lose")
    s = kefu()
    dbname = s.db_url.partition("?")[0].rsplit("/", 1)[1]
    assert s.probe_write("before-kill", "x").status == 201
    psql(PG_ADMIN, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '%s'" % dbname)
    statuses, acked = [], []
    deadline = time.monotonic() + 30
    recovered = False
    while time.monotonic() < deadline:
        try:
            ready = s.get("/readyz")
            w = s.post(PROBES, json={"tag": "after-kill", "body": str(len(statuses))})
        except (OSError, http.client.HTTPException) as e:
            raise AssertionError("kefu dropped a connection after its database sessions were killed: %r" % e)
        statuses += [ready.status, w.status]
        if w.status == 201:
            acked.append(w.json["id"])
        if ready.status == 200 and w.status == 201 and len(acked) >= 3:
            recovered = True
            break
        time.sleep(0.05)
    assert set(statuses) <= {200, 201, 503}, "answers after the kill: %s" % statuses
    assert recovered, "kefu did not recover within 30 s: %s" % statuses
    for ident in acked:
        assert s.get(PROBES + "/" + ident).status == 200
    assert s.get("/healthz").status == 200
