"""The operator's key and audit commands (C7.1.1): `kefu key new`, `kefu key rotate`, and
`kefu audit verify|export` taking the audit signing key from the vault."""
import os
import stat

from conftest import new_db_url, run_kefu


def key_new(path):
    r = run_kefu(["key", "new", "--key-file", path])
    assert r.returncode == 0, r.stderr
    return path


def test_key_new_writes_a_private_key_file_and_never_overwrites_it(engine, tmp_path):
    path = key_new(str(tmp_path / "master.key"))
    st = os.stat(path)
    assert stat.S_IMODE(st.st_mode) == 0o400
    assert st.st_size == 32
    before = open(path, "rb").read()
    r = run_kefu(["key", "new", "--key-file", path])
    assert r.returncode != 0 and "key" in r.stderr
    assert open(path, "rb").read() == before


def test_C7_1_1_audit_verify_and_export_use_the_vaults_signing_key(engine, tmp_path):
    db = new_db_url(engine)
    assert run_kefu(["migrate", "--db", db]).returncode == 0
    key = key_new(str(tmp_path / "master.key"))
    r = run_kefu(["audit", "verify", "--db", db, "--key-file", key])
    assert r.returncode == 0, r.stderr
    assert "intact" in r.stdout
    out = str(tmp_path / "checkpoints.jsonl")
    r = run_kefu(["audit", "export", "--db", db, "--key-file", key, "--out", out])
    assert r.returncode == 0, r.stderr
    assert os.path.exists(out)


def test_C7_1_1_key_rotation_retires_the_old_master_key(engine, tmp_path):
    db = new_db_url(engine)
    assert run_kefu(["migrate", "--db", db]).returncode == 0
    old = key_new(str(tmp_path / "old.key"))
    new = key_new(str(tmp_path / "new.key"))
    assert run_kefu(["audit", "verify", "--db", db, "--key-file", old]).returncode == 0
    r = run_kefu(["key", "rotate", "--db", db, "--key-file", old, "--new-key-file", new])
    assert r.returncode == 0, r.stderr
    refused = run_kefu(["audit", "verify", "--db", db, "--key-file", old])
    assert refused.returncode != 0
    assert "key" in refused.stderr.lower()
    assert run_kefu(["audit", "verify", "--db", db, "--key-file", new]).returncode == 0


def test_wrong_or_missing_key_file_and_missing_arguments_are_refused(engine, tmp_path):
    db = new_db_url(engine)
    assert run_kefu(["migrate", "--db", db]).returncode == 0
    key = key_new(str(tmp_path / "a.key"))
    assert run_kefu(["audit", "verify", "--db", db, "--key-file", key]).returncode == 0
    other = key_new(str(tmp_path / "b.key"))
    assert run_kefu(["audit", "verify", "--db", db, "--key-file", other]).returncode != 0
    assert run_kefu(["audit", "verify", "--db", db, "--key-file", str(tmp_path / "none.key")]).returncode != 0
    os.chmod(key, 0o644)
    assert run_kefu(["audit", "verify", "--db", db, "--key-file", key]).returncode != 0
    r = run_kefu(["key", "rotate", "--db", db, "--key-file", other])
    assert r.returncode != 0 and "new-key-file" in r.stderr
    assert run_kefu(["key"]).returncode == 2


def test_C7_1_1_serve_refuses_to_start_without_its_key_or_with_another(engine, tmp_path):
    import kefu_http as kh
    db = new_db_url(engine)
    key = key_new(str(tmp_path / "right.key"))
    other = key_new(str(tmp_path / "other.key"))
    assert run_kefu(["migrate", "--db", db]).returncode == 0
    assert run_kefu(["audit", "verify", "--db", db, "--key-file", key]).returncode == 0  # binds the key
    for bad in (str(tmp_path / "missing.key"), other):
        r = run_kefu(["serve", "--db", db, "--key-file", bad, "--listen", "127.0.0.1:%d" % kh.free_port()],
                     timeout=30)
        assert r.returncode != 0, "kefu served with key file %s" % bad
        assert "key" in r.stderr.lower()
