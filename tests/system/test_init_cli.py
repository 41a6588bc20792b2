"""The operator's set-up commands (issue 3): `kefu init` creates the master key file, the provider
organisation and the first administrator once; `kefu user add|disable|reset-password` manage users,
with the look-alike, role and password rules of the identity domain; every change is audited."""
import os
import stat

from conftest import new_db_url, run_kefu


def kefu_admin(args, db, key):
    return run_kefu(list(args) + ["--db", db, "--key-file", key])


def test_init_creates_key_provider_and_admin_once(engine, tmp_path):
    db, key = new_db_url(engine), str(tmp_path / "kefu.key")
    r = kefu_admin(["init", "--admin", "chief"], db, key)
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o400
    assert "user name: chief" in r.stdout and "password:" in r.stdout
    again = kefu_admin(["init", "--admin", "chief2"], db, key)
    assert again.returncode != 0 and "initialised already" in again.stderr
    v = kefu_admin(["audit", "verify"], db, key)
    assert v.returncode == 0 and "intact" in v.stdout, v.stdout + v.stderr


def test_init_refuses_a_weak_password_and_changes_nothing(engine, tmp_path):
    db, key = new_db_url(engine), str(tmp_path / "kefu.key")
    weak = tmp_path / "pw.txt"
    weak.write_text("woaini1314\n")
    r = kefu_admin(["init", "--password-file", str(weak)], db, key)
    assert r.returncode != 0 and "common" in r.stderr
    strong = tmp_path / "pw2.txt"
    strong.write_text("蓝色的海边-灯塔-2026\n")
    r = kefu_admin(["init", "--password-file", str(strong)], db, key)
    assert r.returncode == 0, r.stderr  # the refused attempt left no provider behind
    assert "password:" not in r.stdout  # a password from a file is never printed


def test_user_add_disable_and_reset_password(engine, tmp_path):
    db, key = new_db_url(engine), str(tmp_path / "kefu.key")
    assert kefu_admin(["init"], db, key).returncode == 0
    r = kefu_admin(["user", "add", "--username", "张伟", "--roles", "agent,supervisor"], db, key)
    assert r.returncode == 0 and "added user 张伟" in r.stdout, r.stderr
    # look-alikes of an existing name, roles of the wrong side, unknown roles: refused
    for name, roles, why in (("ＡＤＭＩＮ", "agent", "conflict"), ("АDMIN", "agent", "mixed_script"),
                             ("bob", "client_admin", "provider roles"), ("bob", "wizard", "unknown role")):
        r = kefu_admin(["user", "add", "--username", name, "--roles", roles], db, key)
        assert r.returncode != 0, (name, roles)
        assert why in (r.stderr.lower() if why == "conflict" else r.stderr), (name, r.stderr)
    weak = tmp_path / "weak.txt"
    weak.write_text("woaini1314\n")
    r = kefu_admin(["user", "reset-password", "--username", "张伟", "--password-file", str(weak)], db, key)
    assert r.returncode != 0 and "common" in r.stderr
    r = kefu_admin(["user", "reset-password", "--username", "张伟"], db, key)
    assert r.returncode == 0 and "password:" in r.stdout, r.stderr
    r = kefu_admin(["user", "disable", "--username", "张伟"], db, key)
    assert r.returncode == 0, r.stderr
    r = kefu_admin(["user", "disable", "--username", "nobody"], db, key)
    assert r.returncode != 0 and "no such user" in r.stderr
    assert run_kefu(["user"]).returncode == 2
    v = kefu_admin(["audit", "verify"], db, key)
    assert v.returncode == 0 and "5 records" in v.stdout, v.stdout + v.stderr
