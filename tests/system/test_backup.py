"""Backups (issue "Backups", C7.1.1): `kefu backup` writes a consistent, encrypted backup while kefu
serves and writes continue; `kefu restore` brings it back into a new, empty database with every
table equal; a wrong key, a truncated or changed file, and a non-empty target are refused and
change nothing; the backup holds no recognisable plaintext. Runs on SQLite and PostgreSQL."""
import os
import sqlite3
import stat
import subprocess
import threading
import time

import pytest

from conftest import kefu_env, new_db_url, run_kefu

CHINESE = "客户投诉：空调不制冷，请尽快派维修师傅上门。退款发票已开具，编号HP-1020。"
MARKER = "KEFU-BACKUP-PLAINTEXT-MARKER-7f3a9c"


# ---- helpers ---------------------------------------------------------------------------------------

def key_new(path):
    r = run_kefu(["key", "new", "--key-file", str(path)])
    assert r.returncode == 0, r.stderr
    return str(path)


def backup(db, key, out):
    return run_kefu(["backup", "--db", db, "--key-file", key, "--out", str(out)])


def restore(db, key, src):
    return run_kefu(["restore", "--db", db, "--key-file", key, "--in", str(src)])


def _psql_rows(url, sql):
    r = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=120, env=kefu_env())
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    return [line for line in r.stdout.decode("utf-8").split("\n") if line != ""]


def pg_tables(url):
    return _psql_rows(url, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
                           " AND table_type = 'BASE TABLE' ORDER BY table_name")


def dump_tables(url):
    """{table: sorted rows} of every table; rows as tuples (SQLite) or COPY text lines (PostgreSQL)."""
    if url.startswith("sqlite:"):
        con = sqlite3.connect("file:%s?mode=ro" % url[7:], uri=True)
        try:
            # virtual tables (search's FTS5 index) need kefu's own tokenizer to be read; their shadow
            # tables, which hold the index, are ordinary tables and compared with the rest
            names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND "
                                               "sql NOT LIKE 'CREATE VIRTUAL TABLE%' ORDER BY name")]
            return {n: sorted(con.execute('SELECT * FROM "%s"' % n).fetchall(), key=repr) for n in names}
        finally:
            con.close()
    out = {}
    for t in pg_tables(url):
        r = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c",
                            'COPY (SELECT * FROM public."%s" ORDER BY 1) TO STDOUT' % t],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=120, env=kefu_env())
        assert r.returncode == 0, r.stderr.decode(errors="replace")
        out[t] = sorted(r.stdout.decode("utf-8").splitlines())
    return out


def probe_rows(url):
    """{id: (created, tag, body)} of probe_writes."""
    if url.startswith("sqlite:"):
        con = sqlite3.connect("file:%s?mode=ro" % url[7:], uri=True)
        try:
            return {r[0]: tuple(r[1:]) for r in con.execute("SELECT id, created, tag, body FROM probe_writes")}
        finally:
            con.close()
    rows = {}
    for line in _psql_rows(url, "COPY (SELECT id, created, tag, body FROM probe_writes) TO STDOUT"):
        i, created, tag, body = line.split("\t")
        rows[int(i)] = (int(created), tag, body)
    return rows


def is_empty(url):
    if url.startswith("sqlite:"):
        path = url[7:]
        return not os.path.exists(path) or os.path.getsize(path) == 0
    return pg_tables(url) == []


class Writer(threading.Thread):
    """Posts probe writes until stopped; remembers the ids the server acknowledged."""

    def __init__(self, server, tag):
        super().__init__(daemon=True)
        self.server, self.tag = server, tag
        self.acked = []
        self.errors = []
        self.stop_flag = threading.Event()
        self.lock = threading.Lock()

    def run(self):
        n = 0
        while not self.stop_flag.is_set():
            n += 1
            r = self.server.post("/api/v1/test/probe-writes",
                                 json={"tag": self.tag, "body": "%s 第%d条 %s" % (CHINESE, n, MARKER)})
            if r.status != 201:
                self.errors.append(r)
                return
            with self.lock:
                self.acked.append(int(r.json["id"]))

    def acked_now(self):
        with self.lock:
            return list(self.acked)

    def wait_for(self, n, timeout=60):
        deadline = time.monotonic() + timeout
        while len(self.acked_now()) < n:
            assert not self.errors, self.errors
            assert time.monotonic() < deadline, "writer made only %d writes" % len(self.acked_now())
            time.sleep(0.01)


@pytest.fixture
def keys(tmp_path):
    return key_new(tmp_path / "master.key"), key_new(tmp_path / "other.key")


@pytest.fixture
def source(engine, kefu, keys, tmp_path):
    """A serving kefu with 300 probe rows of Chinese text (more than 64 KiB: several chunks), and a
    backup of it taken while writes continued: (server, backup path, writer, ids acked before)."""
    srv = kefu(key_file=keys[0])
    for i in range(300):
        srv.probe_write("before", "%s 序号%d %s %s" % (CHINESE, i, MARKER, CHINESE * 8))
    w = Writer(srv, "during")
    w.start()
    w.wait_for(20)
    acked_before = set(w.acked_now())
    out = tmp_path / "kefu.kbak"
    r = backup(srv.db_url, keys[0], out)
    n_at_end = len(w.acked_now())
    w.wait_for(n_at_end + 20)
    w.stop_flag.set()
    w.join(60)
    assert not w.errors, w.errors
    assert r.returncode == 0, r.stderr
    assert n_at_end > len(acked_before), "no write was acknowledged while the backup ran"
    srv.stop()
    return srv, out, w, acked_before


# ---- restore: every table comes back --------------------------------------------------------------

def test_C7_1_1_backup_while_serving_restores_every_table(engine, source, keys, tmp_path):
    srv, out, w, acked_before = source
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    assert not os.path.exists(str(out) + ".tmp")
    target = new_db_url(engine)
    r = restore(target, keys[0], out)
    assert r.returncode == 0, r.stderr
    src, dst = dump_tables(srv.db_url), dump_tables(target)
    assert sorted(src) == sorted(dst), (sorted(src), sorted(dst))
    for table in src:
        if table != "probe_writes":  # only probe_writes changed after the backup began
            assert src[table] == dst[table], table
    src_rows, dst_rows = probe_rows(srv.db_url), probe_rows(target)
    # every row acknowledged before the backup started is there, identical …
    before = {i for i, row in src_rows.items() if row[1] == "before"} | acked_before
    missing = [i for i in before if i not in dst_rows]
    assert not missing, "%d rows acknowledged before the backup are missing" % len(missing)
    # … and nothing in the backup is half-written or invented: each row equals the source's
    for i, row in dst_rows.items():
        assert src_rows.get(i) == row, i
    # writes went on while the backup ran: the source has rows the backup does not
    assert len(src_rows) > len(dst_rows)
    assert any(CHINESE in row[2] for row in dst_rows.values())


def test_backup_holds_no_recognisable_plaintext(engine, source):
    srv, out, w, _ = source
    data = open(out, "rb").read()
    assert data.startswith(b"KEFUBAK1")
    for needle in (CHINESE.encode(), "空调不制冷".encode(), MARKER.encode(), b"probe_writes", b"CREATE TABLE",
                   b"SQLite format 3", b"PGDMP", b"kefu_migrations"):
        assert needle not in data, needle


# ---- refusals that change nothing -------------------------------------------------------------------

def test_restore_with_the_wrong_key_is_refused_and_the_target_stays_empty(engine, source, keys):
    _, out, _, _ = source
    target = new_db_url(engine)
    r = restore(target, keys[1], out)
    assert r.returncode != 0
    assert "key" in r.stderr.lower() and "does not match" in r.stderr, r.stderr
    assert is_empty(target)


def _damaged(out, tmp_path):
    data = open(out, "rb").read()
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0x01
    header_flip = bytearray(data)
    header_flip[12] ^= 0x01  # inside the engine name / key check: authenticated by the first chunk
    last_flip = bytearray(data)
    last_flip[-3] ^= 0x80  # in the final chunk's tag
    variants = {
        "truncated_half": data[:len(data) // 2],
        "truncated_last_byte": data[:-1],
        "header_only": data[:80],
        "one_flipped_byte": bytes(flipped),
        "header_flipped": bytes(header_flip),
        "final_chunk_flipped": bytes(last_flip),
        "trailing_garbage": data + b"\x00",
        "empty": b"",
        "not_a_backup": b"SQLite format 3\x00" + b"\x00" * 100,
    }
    paths = {}
    for name, content in variants.items():
        p = tmp_path / ("%s.kbak" % name)
        p.write_bytes(content)
        paths[name] = p
    return paths


def test_truncated_or_changed_backups_are_refused_and_change_nothing(engine, source, keys, tmp_path):
    _, out, _, _ = source
    for name, path in _damaged(out, tmp_path).items():
        target = new_db_url(engine)
        r = restore(target, keys[0], path)
        assert r.returncode != 0, name
        assert "refused" in r.stderr, (name, r.stderr)
        assert is_empty(target), name
        if target.startswith("sqlite:"):  # no temporary file left beside it either
            leftovers = [f for f in os.listdir(os.path.dirname(target[7:])) if f.startswith(".kefu-restore-")]
            assert not leftovers, (name, leftovers)


def test_restore_into_a_non_empty_database_is_refused(engine, source, keys):
    srv, out, _, _ = source
    before = dump_tables(srv.db_url)
    r = restore(srv.db_url, keys[0], out)
    assert r.returncode != 0
    assert "not empty" in r.stderr, r.stderr
    assert dump_tables(srv.db_url) == before
    other = new_db_url(engine)
    assert run_kefu(["migrate", "--db", other]).returncode == 0
    migrated = dump_tables(other)
    r = restore(other, keys[0], out)
    assert r.returncode != 0 and "not empty" in r.stderr, r.stderr
    assert dump_tables(other) == migrated


def test_backup_refuses_a_wrong_key_an_existing_file_and_a_missing_database(engine, kefu, keys, tmp_path):
    srv = kefu(key_file=keys[0])
    srv.probe_write("x", CHINESE)
    assert backup(srv.db_url, keys[0], tmp_path / "a.kbak").returncode == 0  # pairs the key with the db
    r = backup(srv.db_url, keys[1], tmp_path / "b.kbak")
    assert r.returncode != 0 and "does not match" in r.stderr, r.stderr
    assert not os.path.exists(tmp_path / "b.kbak") and not os.path.exists(tmp_path / "b.kbak.tmp")
    before = open(tmp_path / "a.kbak", "rb").read()
    r = backup(srv.db_url, keys[0], tmp_path / "a.kbak")
    assert r.returncode != 0 and "exists" in r.stderr, r.stderr
    assert open(tmp_path / "a.kbak", "rb").read() == before
    if engine == "sqlite":
        missing = "sqlite:" + str(tmp_path / "none.db")
        r = backup(missing, keys[0], tmp_path / "c.kbak")
        assert r.returncode != 0 and "no database" in r.stderr, r.stderr
        assert not os.path.exists(missing[7:])
    r = run_kefu(["backup", "--db", srv.db_url, "--key-file", keys[0]])
    assert r.returncode != 0 and "--out" in r.stderr
    r = run_kefu(["restore", "--db", new_db_url(engine), "--key-file", keys[0]])
    assert r.returncode != 0 and "--in" in r.stderr


def test_a_backup_of_one_engine_is_refused_by_the_other(engine, source, keys):
    _, out, _, _ = source
    other = "postgresql://postgres@/none?host=/nonexistent" if engine == "sqlite" else \
        "sqlite:" + os.path.join(os.path.dirname(str(out)), "other-engine.db")
    r = restore(other, keys[0], out)
    assert r.returncode != 0
    assert "engine" in r.stderr, r.stderr


def test_backup_never_logs_the_database_password(engine, kefu, keys, tmp_path):
    if engine != "postgres":
        pytest.skip("only PostgreSQL URLs carry a password")
    srv = kefu(key_file=keys[0])
    base, sep, query = srv.db_url.partition("?")
    secret = "s3cret-Pa55word-never-logged"
    url = base.replace("postgres@", "postgres:%s@" % secret, 1) + sep + query
    r = backup(url, keys[0], tmp_path / "p.kbak")  # trust auth: the password is ignored, not refused
    assert r.returncode == 0, r.stderr
    assert secret not in r.stdout + r.stderr
    r = restore(new_db_url(engine).replace("postgres@", "postgres:%s@" % secret, 1), keys[0], tmp_path / "p.kbak")
    assert r.returncode == 0, r.stderr
    assert secret not in r.stdout + r.stderr
