"""The command line (docs/architecture.md "Command line"): `serve` flags, environment,
config file and their precedence; `migrate`; `version` and `help`; refusing bad options."""
import os
import socket
import subprocess

import pytest

import kefu_http as kh
from conftest import KefuServer, new_db_url, run_kefu, sanitizer_report


def _served(port):
    try:
        return kh.request(("127.0.0.1", port), "GET", "/healthz", timeout=5).status == 200
    except OSError:
        return False


def _server_without_listen_flag(kefu_unstarted, port, **kw):
    s = kefu_unstarted(listen=False, **kw)
    s.port = port
    return s.start()


def test_listen_from_environment(kefu_unstarted):
    port = kh.free_port()
    s = _server_without_listen_flag(kefu_unstarted, port, env={"KEFU_LISTEN": "127.0.0.1:%d" % port})
    assert s.get("/api/v1/version").status == 200


def test_listen_flag_beats_environment(kefu):
    other = kh.free_port()
    s = kefu(env={"KEFU_LISTEN": "127.0.0.1:%d" % other})
    assert s.port != other and s.get("/healthz").status == 200
    assert not _served(other)


def test_config_file_and_its_precedence(kefu_unstarted, tmp_path):
    port, other = kh.free_port(), kh.free_port()
    conf = tmp_path / "kefu.conf"
    conf.write_text("# kefu test configuration\n\nlisten = 127.0.0.1:%d\nmax-body = 1024\n"
                    "# max-body = 5\n" % port)
    s = _server_without_listen_flag(kefu_unstarted, port, args=["--config", str(conf)])
    r = s.post("/api/v1/test/probe-writes", json={"tag": "conf", "body": "x" * 2000})
    kh.assert_error(r, 413, "too_large")
    s.stop()
    # environment beats the file, and the flag beats the environment
    s2 = _server_without_listen_flag(kefu_unstarted, other, args=["--config", str(conf)],
                                     env={"KEFU_LISTEN": "127.0.0.1:%d" % other, "KEFU_MAX_BODY": "4096"})
    assert s2.post("/api/v1/test/probe-writes", json={"tag": "conf", "body": "x" * 2000}).status == 201
    kh.assert_error(s2.post("/api/v1/test/probe-writes", json={"tag": "conf", "body": "x" * 5000}),
                    413, "too_large")
    assert not _served(port)
    s2.stop()
    s3 = _server_without_listen_flag(kefu_unstarted, port, args=["--config", str(conf), "--max-body", "65536"],
                                     env={"KEFU_LISTEN": "127.0.0.1:%d" % port, "KEFU_MAX_BODY": "4096"})
    assert s3.post("/api/v1/test/probe-writes", json={"tag": "conf", "body": "x" * 5000}).status == 201


def test_db_from_environment(engine, kefu_unstarted):
    url = new_db_url(engine)
    s = kefu_unstarted(db_url=None, env={"KEFU_DB": url})
    s.start()
    r = s.get("/readyz")
    assert r.status == 200 and r.json["engine"] == engine, r


def test_migrate_then_status_and_serve(engine):
    url = new_db_url(engine)
    r = run_kefu(["migrate", "--db", url])
    assert r.returncode == 0, r
    st = run_kefu(["migrate", "--db", url, "--status"])
    assert st.returncode == 0, st
    assert st.stdout.strip(), st
    again = run_kefu(["migrate", "--db", url])
    assert again.returncode == 0, again
    s = KefuServer(engine, url)
    try:
        s.start()
        assert s.get("/readyz").json["status"] == "ready"
    finally:
        s.stop()


def test_migrated_schema_is_the_same_on_both_engines(engine):
    """DESIGN: migrations may differ per engine, but both must end at the same schema."""
    outs = []
    for eng in ("sqlite", engine):
        url = new_db_url(eng)
        assert run_kefu(["migrate", "--db", url]).returncode == 0
        d = run_kefu(["migrate", "--db", url, "--describe"])
        assert d.returncode == 0 and d.stdout.strip(), d
        outs.append(d.stdout)
    assert outs[0] == outs[1], "schemas differ:\n--- sqlite\n%s\n--- %s\n%s" % (outs[0], engine, outs[1])
    for table in ("jobs", "job_runs", "probe_writes"):
        assert table in outs[0], outs[0]


@pytest.mark.parametrize("args", [["version"], ["help"], ["help", "serve"], ["serve", "--help"],
                                  ["migrate", "--help"], ["--help"]])
def test_version_and_help_exit_0(engine, args):
    try:
        r = run_kefu(args, timeout=10)
    except subprocess.TimeoutExpired:
        pytest.fail("kefu %s did not exit" % " ".join(args))
    assert r.returncode == 0, r
    assert (r.stdout + r.stderr).strip(), r


@pytest.mark.parametrize("args", [
    ["no-such-command"],
    ["serve", "--no-such-flag"],
    ["serve", "--max-body", "lots"],
    ["serve", "--max-body", "-1"],
    ["serve", "--listen", "no-port-here"],
    ["serve", "--listen", "127.0.0.1:99999"],
    ["serve", "--log-level", "chatty"],
    ["serve", "--db", "mysql://localhost/kefu"],
    ["serve", "--config", "/nonexistent/kefu.conf"],
    ["serve", "--clock-start", "yesterday"],
])
def test_bad_command_line_is_refused(engine, args):
    args = list(args)
    if args[0] == "serve":
        if "--db" not in args:
            args += ["--db", new_db_url(engine)]
        if "--listen" not in args:
            args += ["--listen", "127.0.0.1:%d" % kh.free_port()]
    try:
        r = run_kefu(args, timeout=10)
    except subprocess.TimeoutExpired:
        pytest.fail("kefu %s accepted the command line and kept running" % " ".join(args))
    assert r.returncode != 0 and r.returncode < 128, r
    assert r.stderr.strip(), "refused without a message: %r" % (r,)


def test_port_in_use_is_refused_with_a_message(engine, kefu_unstarted):
    blocker = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    try:
        s = kefu_unstarted(listen=False, args=["--listen", "127.0.0.1:%d" % blocker.getsockname()[1]])
        s.port = blocker.getsockname()[1]
        s.spawn()
        state = s.wait_ready_or_exit(60)
        if state == "ready":  # it answered /healthz? then it is the blocker answering nothing
            pytest.fail("kefu started on a port that is in use")
        s.checked = True
        assert s.returncode not in (0, None) and s.returncode > 0, s.log()
        assert sanitizer_report(s.log()) is None, s.log()
        assert any(w in s.log().lower() for w in ("in use", "bind", "listen")), s.log()
    finally:
        blocker.close()
