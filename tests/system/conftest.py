"""Fixtures for kefu's system tests: real `kefu serve` processes on SQLite and on PostgreSQL.

Environment (scripts/test sets all of them):
  KEFU_BIN           the binary under test (default: build/release/kefu)
  KEFU_TEST_TMP      a scratch directory (SQLite files, server logs); default: a new temp dir
  KEFU_TEST_PG_URL   admin URL of a throwaway PostgreSQL cluster; unset: postgres params skip

Every test that uses `engine` (directly or through `server` / `kefu`) runs once per engine,
with ids like `test_x[sqlite]` and `test_x[postgres]`. A server's stdout and stderr go to a file
that is attached to the report of a failing test; when a server stops, the fixture checks it
exited 0 on SIGTERM and that no sanitizer report is in its output.
"""
import atexit
import itertools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kefu_http as kh  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
KEFU_BIN = os.environ.get("KEFU_BIN") or str(ROOT / "build" / "release" / "kefu")
PG_ADMIN = os.environ.get("KEFU_TEST_PG_URL") or None

_OWN_TMP = None
TMP = os.environ.get("KEFU_TEST_TMP")
if not TMP:
    TMP = _OWN_TMP = tempfile.mkdtemp(prefix="kefu-system-")
SYS_TMP = os.path.join(TMP, "system-%d" % os.getpid())
PID_DIR = os.path.join(TMP, "pids")  # scripts/test kills what is left here if pytest dies
os.makedirs(SYS_TMP, exist_ok=True)
os.makedirs(PID_DIR, exist_ok=True)

# 2026-01-01T00:00:00Z: every test-mode server's fake clock starts here unless told otherwise.
CLOCK_START = 1767225600000
DAY_MS = 86400000
HOUR_MS = 3600000

STARTUP_TIMEOUT = float(os.environ.get("KEFU_TEST_STARTUP_TIMEOUT", "60"))
STOP_TIMEOUT = float(os.environ.get("KEFU_TEST_STOP_TIMEOUT", "60"))

SANITIZER_MARKERS = (
    "ERROR: AddressSanitizer",
    "AddressSanitizer:DEADLYSIGNAL",
    "ERROR: LeakSanitizer",
    "LeakSanitizer",
    "runtime error:",
    "ERROR: UndefinedBehaviorSanitizer",
    "WARNING: ThreadSanitizer",
)

# kefu reads these; the tests decide them explicitly.
_KEFU_ENV = ("KEFU_LISTEN", "KEFU_DB", "KEFU_THREADS", "KEFU_CONFIG", "KEFU_ACCESS_LOG",
             "KEFU_LOG_LEVEL", "KEFU_MAX_BODY", "KEFU_TRUSTED_PROXIES", "KEFU_MAX_CONNECTIONS",
             "KEFU_MAX_PER_IP", "PGOPTIONS")


def kefu_env(extra=None):
    env = {k: v for k, v in os.environ.items() if k not in _KEFU_ENV}
    env.update(extra or {})
    return env


def sanitizer_report(text):
    """The first sanitizer line in `text`, or None."""
    for line in text.splitlines():
        if any(m in line for m in SANITIZER_MARKERS):
            return line
    return None


def tail(text, n=30000):
    return text if len(text) <= n else "…(%d bytes cut)…\n%s" % (len(text) - n, text[-n:])


# ---- databases ------------------------------------------------------------------------------

_db_counter = itertools.count(1)


def psql(url, sql):
    r = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
                       env=kefu_env())
    if r.returncode != 0:
        raise RuntimeError("psql %r failed (%d): %s" % (sql, r.returncode, r.stderr))
    return r.stdout


def pg_url_for(admin, dbname):
    """The admin libpq URI with its database name replaced."""
    base, sep, query = admin.partition("?")
    base = base.rsplit("/", 1)[0] + "/" + dbname
    return base + sep + query


def pg_create_db():
    name = "sys_%d_%d" % (os.getpid(), next(_db_counter))
    psql(PG_ADMIN, "DROP DATABASE IF EXISTS %s" % name)
    psql(PG_ADMIN, "CREATE DATABASE %s" % name)
    return name


def new_db_url(engine):
    """A fresh, empty database for `engine`."""
    if engine == "sqlite":
        return "sqlite:" + os.path.join(SYS_TMP, "db-%d.db" % next(_db_counter))
    if engine == "postgres":
        if not PG_ADMIN:
            pytest.skip("KEFU_TEST_PG_URL is not set")
        return pg_url_for(PG_ADMIN, pg_create_db())
    raise ValueError(engine)


# ---- servers ----------------------------------------------------------------------------------

_server_counter = itertools.count(1)
_LIVE = set()  # servers whose process may still run
_CURRENT = {"marks": {}}  # servers seen by the running test → log offset at its start


_KEYS = {}  # database URL → its master key file: restarts on one database must use the same key


def key_file_for(db_url, fallback_dir):
    """The master key file of a database (made with `kefu key new` on first use). Servers whose
    database comes from a config file get one of their own in `fallback_dir`."""
    if db_url is None:
        path = os.path.join(fallback_dir, "master.key")
    else:
        path = _KEYS.get(db_url)
        if path is None:
            path = _KEYS[db_url] = os.path.join(SYS_TMP, "key-%d.key" % len(_KEYS))
    if not os.path.exists(path):
        r = subprocess.run([KEFU_BIN, "key", "new", "--key-file", path], stdin=subprocess.DEVNULL,
                           capture_output=True, env=kefu_env())
        assert r.returncode == 0, r.stderr
    return path


class StartupError(AssertionError):
    pass


class KefuServer:
    """One `kefu serve` process listening on 127.0.0.1:PORT."""

    def __init__(self, engine, db_url, args=(), test_mode=True, clock_start=CLOCK_START,
                 env=None, listen=True, host="127.0.0.1", label=None, key_file=None):
        self.engine = engine
        self.db_url = db_url
        self.args = list(args)
        self.test_mode = test_mode
        self.clock_start = clock_start
        self.extra_env = dict(env or {})
        self.listen = listen
        self.host = host
        self.port = None
        self.n = next(_server_counter)
        self.label = label or "kefu-%d" % self.n
        self.dir = os.path.join(SYS_TMP, "srv-%d" % self.n)
        os.makedirs(self.dir, exist_ok=True)
        self.log_path = os.path.join(self.dir, "stderr.log")
        self.proc = None
        self.returncode = None
        self.checked = False
        self.stop_signal = None
        if key_file is not None and db_url is not None:
            _KEYS[db_url] = str(key_file)  # a test that brings its own key keeps it for restarts
        self.key_file = str(key_file) if key_file is not None else None

    # -- process ---------------------------------------------------------------------------
    def command(self):
        cmd = [KEFU_BIN, "serve"]
        if self.listen:
            cmd += ["--listen", "%s:%d" % (self.host, self.port)]
        if self.db_url is not None:
            cmd += ["--db", self.db_url]
        db = self.db_url if self.db_url is not None else self.extra_env.get("KEFU_DB")
        if self.key_file is None:
            self.key_file = key_file_for(db, self.dir)
        cmd += ["--key-file", self.key_file]
        cmd += ["--access-log", "off"]
        if self.test_mode:
            cmd += ["--test-mode"]
            if self.clock_start is not None:
                cmd += ["--clock-start", str(self.clock_start)]
        return cmd + self.args

    def spawn(self):
        if self.listen or self.port is None:
            self.port = kh.free_port(self.host)
        logf = open(self.log_path, "ab")
        try:
            logf.write(("$ %s\n" % " ".join(self.command())).encode())
            logf.flush()
            self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=logf,
                                         stderr=logf, cwd=self.dir, env=kefu_env(self.extra_env))
        finally:
            logf.close()
        self.returncode = None
        self.checked = False
        self.stop_signal = None
        _LIVE.add(self)
        _CURRENT["marks"].setdefault(self, 0)
        with open(os.path.join(PID_DIR, str(self.proc.pid)), "w") as f:
            f.write(self.label)

    def _forget_pid(self):
        try:
            os.unlink(os.path.join(PID_DIR, str(self.proc.pid)))
        except OSError:
            pass

    def poll(self):
        if self.proc is None:
            return self.returncode
        if self.returncode is None:
            rc = self.proc.poll()
            if rc is not None:
                self.returncode = rc
                self._forget_pid()
                _LIVE.discard(self)
        return self.returncode

    def alive(self):
        return self.proc is not None and self.poll() is None

    def start(self, timeout=STARTUP_TIMEOUT):
        """Starts the server and waits until GET /healthz answers 200."""
        for attempt in range(5):
            self.spawn()
            state = self.wait_ready_or_exit(timeout)
            if state == "ready":
                return self
            log = self.log()
            if "in use" in log.lower() and attempt < 4:  # lost the race for the free port
                continue
            raise StartupError("%s did not start (exit %s): %s\n--- output ---\n%s"
                               % (self.label, self.returncode, " ".join(self.command()), tail(log)))
        raise StartupError("unreachable")

    def wait_ready_or_exit(self, timeout=STARTUP_TIMEOUT):
        """'ready' once /healthz answers 200, 'exited' if the process ends first. A server that
        does neither within `timeout` is killed and reported."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.poll() is not None:
                return "exited"
            try:
                r = kh.request(self.addr, "GET", "/healthz", timeout=2)
                if r.status == 200:
                    return "ready"
            except OSError:
                pass
            time.sleep(0.05)
        self.kill()
        raise StartupError("%s neither became ready nor exited within %.0fs\n--- output ---\n%s"
                           % (self.label, timeout, tail(self.log())))

    def expect_refusal(self, timeout=STARTUP_TIMEOUT):
        """Starts a server that must refuse to run: returns (exit code, output)."""
        self.spawn()
        state = self.wait_ready_or_exit(timeout)
        if state == "ready":
            self.stop(check=False)
            raise AssertionError("%s started and served /healthz but should have refused to start:"
                                 " %s\n--- output ---\n%s"
                                 % (self.label, " ".join(self.command()), tail(self.log())))
        self.checked = True
        log = self.log()
        rep = sanitizer_report(log)
        assert rep is None, "sanitizer report from %s: %s\n%s" % (self.label, rep, tail(log))
        return self.returncode, log

    def send_signal(self, sig):
        self.stop_signal = sig
        self.proc.send_signal(sig)

    def wait(self, timeout=STOP_TIMEOUT):
        """Waits for the process to end; kills it (and fails) after `timeout`."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            self.checked = True  # reported here; the fixture must not report it again
            raise AssertionError("%s did not exit within %.0fs of signal %s\n--- output ---\n%s"
                                 % (self.label, timeout, self.stop_signal, tail(self.log())))
        return self.poll()

    def stop(self, sig=signal.SIGTERM, check=True, timeout=STOP_TIMEOUT):
        """Sends `sig` (if still running), waits, and checks exit 0 and a clean sanitizer log."""
        if self.proc is None:
            return None
        if self.alive():
            self.send_signal(sig)
        rc = self.wait(timeout)
        if check and not self.checked:
            self.check_exit()
        return rc

    def check_exit(self):
        self.checked = True
        log = self.log()
        rep = sanitizer_report(log)
        assert rep is None, "sanitizer report from %s: %s\n--- output ---\n%s" % (self.label, rep, tail(log))
        if self.stop_signal is None:
            raise AssertionError("%s exited by itself with %s\n--- output ---\n%s"
                                 % (self.label, self.returncode, tail(log)))
        assert self.returncode == 0, ("%s exited %s after signal %s (expected 0)\n--- output ---\n%s"
                                      % (self.label, self.returncode, self.stop_signal, tail(log)))

    def kill(self):
        if self.alive():
            self.proc.kill()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        self.poll()

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", errors="replace")
        except OSError:
            return ""

    def log_size(self):
        try:
            return os.path.getsize(self.log_path)
        except OSError:
            return 0

    # -- HTTP --------------------------------------------------------------------------------
    @property
    def addr(self):
        return (self.host, self.port)

    @property
    def base_url(self):
        return "http://%s:%d" % (self.host, self.port)

    def request(self, method, path, **kw):
        return kh.request(self.addr, method, path, **kw)

    def get(self, path, **kw):
        return kh.request(self.addr, "GET", path, **kw)

    def post(self, path, json=None, **kw):
        return kh.request(self.addr, "POST", path, json=json, **kw)

    def raw(self, data, **kw):
        return kh.raw(self.addr, data, **kw)

    def metrics(self):
        r = self.get("/metrics")
        assert r.status == 200, r
        return kh.parse_metrics(r.text)

    # -- test-mode helpers -------------------------------------------------------------------
    def probe_write(self, tag, body, expect=201):
        r = self.post("/api/v1/test/probe-writes", json={"tag": tag, "body": body})
        if expect is not None:
            assert r.status == expect, r
        return r

    def probe_by_tag(self, tag):
        r = self.get("/api/v1/test/probe-writes?tag=" + kh.quote(tag))
        assert r.status == 200, r
        doc = r.json
        assert isinstance(doc, dict) and isinstance(doc.get("items"), list), r
        return doc

    def probe_count(self, tag):
        return len(self.probe_by_tag(tag)["items"])

    def clock_now(self):
        r = self.get("/api/v1/test/clock")
        assert r.status == 200, r
        now = r.json["now_ms"]
        assert isinstance(now, int), r
        return now

    def advance(self, ms):
        r = self.post("/api/v1/test/clock", json={"advance_ms": ms}, timeout=120)
        assert r.status == 200, r
        doc = r.json
        assert isinstance(doc.get("now_ms"), int) and isinstance(doc.get("jobs_run"), int), r
        return doc

    def schedule(self, **job):
        r = self.post("/api/v1/test/jobs", json=job)
        assert r.status == 201, r
        jid = r.json.get("id")
        assert isinstance(jid, str) and jid, r
        return jid

    def job(self, jid):
        r = self.get("/api/v1/test/jobs/" + jid)
        assert r.status == 200, r
        return r.json

    def __repr__(self):
        return "<%s %s %s>" % (self.label, self.engine, self.base_url if self.port else "")

    def __hash__(self):
        return hash(self.n)

    def __eq__(self, other):
        return self is other


def run_kefu(args, env=None, timeout=120, cwd=None):
    """Runs a one-shot kefu command; returns the CompletedProcess (text). Checks the sanitizers."""
    r = subprocess.run([KEFU_BIN] + list(args), stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=timeout, env=kefu_env(env), cwd=cwd or SYS_TMP)
    out = r.stdout.decode("utf-8", errors="replace")
    err = r.stderr.decode("utf-8", errors="replace")
    rep = sanitizer_report(out + err)
    assert rep is None, "sanitizer report from kefu %s: %s\n%s" % (" ".join(args), rep, err)
    return subprocess.CompletedProcess(r.args, r.returncode, out, err)


# ---- fixtures ---------------------------------------------------------------------------------

def _require_binary():
    if not os.access(KEFU_BIN, os.X_OK):
        pytest.fail("kefu binary %s does not exist (run make, or set KEFU_BIN)" % KEFU_BIN,
                    pytrace=False)


# The engines the `engine` fixture runs on: both unless KEFU_TEST_ENGINES names fewer (scripts/test runs
# the sanitizer build's system tests on SQLite only; the release build's run covers both).
ENGINES = [e for e in os.environ.get("KEFU_TEST_ENGINES", "sqlite postgres").split() if e in ("sqlite", "postgres")]


@pytest.fixture(scope="module", params=ENGINES or ["sqlite", "postgres"])
def engine(request):
    """The storage engine: every test using it runs on SQLite and on PostgreSQL."""
    if request.param == "postgres" and not PG_ADMIN:
        pytest.skip("postgres: KEFU_TEST_PG_URL is not set (scripts/test starts a throwaway "
                    "cluster with scripts/pg-cluster and sets it)")
    _require_binary()
    return request.param


@pytest.fixture
def new_db(engine):
    """A factory of fresh, empty database URLs for the current engine."""
    return lambda: new_db_url(engine)


def _stop_all(servers):
    errors = []
    for s in servers:
        try:
            s.stop()
        except AssertionError as e:
            errors.append(str(e))
    if errors:
        pytest.fail("\n\n".join(errors), pytrace=False)


FRESH = object()  # default db_url of the server factories: a new, empty database


@pytest.fixture
def kefu(engine):
    """A factory of servers for one test: kefu(db_url=FRESH, args=(), test_mode=True, …) starts a
    server (on a fresh database unless given) and waits for /healthz. At the end of the test every
    server still running gets SIGTERM and must exit 0 with a clean sanitizer log."""
    servers = []

    def start(db_url=FRESH, args=(), test_mode=True, **kw):
        s = KefuServer(engine, new_db_url(engine) if db_url is FRESH else db_url, args,
                       test_mode=test_mode, **kw)
        servers.append(s)
        return s.start()

    start.servers = servers
    yield start
    _stop_all(servers)


@pytest.fixture
def kefu_unstarted(engine):
    """Like `kefu` but returns the KefuServer without starting it (for refusal tests)."""
    servers = []

    def make(db_url=FRESH, args=(), test_mode=True, **kw):
        """db_url None: no --db flag."""
        s = KefuServer(engine, new_db_url(engine) if db_url is FRESH else db_url, args,
                       test_mode=test_mode, **kw)
        servers.append(s)
        return s

    yield make
    _stop_all([s for s in servers if s.proc is not None])


@pytest.fixture(scope="module")
def server(engine):
    """One test-mode server per module and engine, on a fresh database, clock at CLOCK_START."""
    s = KefuServer(engine, new_db_url(engine), label="module-server-%s" % engine)
    s.start()
    yield s
    _stop_all([s])


# ---- reporting --------------------------------------------------------------------------------

def pytest_runtest_setup(item):
    _CURRENT["marks"] = {s: s.log_size() for s in list(_LIVE)}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if not rep.failed:
        return
    for s, offset in list(_CURRENT["marks"].items()):
        try:
            with open(s.log_path, "rb") as f:
                f.seek(offset)
                text = f.read().decode("utf-8", errors="replace")
        except OSError:
            continue
        if text.strip():
            rep.sections.append(("kefu output: %s (%s, %s)" % (s.label, s.engine, rep.when),
                                 tail(text, 20000)))


# ---- interruption and clean-up ------------------------------------------------------------------

def _on_sigterm(signum, frame):
    # scripts/test forwards Ctrl-C and its own SIGTERM here: unwind so fixtures stop servers.
    raise KeyboardInterrupt("SIGTERM")


signal.signal(signal.SIGTERM, _on_sigterm)


@atexit.register
def _kill_leftovers():
    for s in list(_LIVE):
        s.kill()
        if s.proc is not None:
            s._forget_pid()
    if _OWN_TMP:
        shutil.rmtree(_OWN_TMP, ignore_errors=True)
