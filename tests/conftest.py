"""Shared fixtures. Database tests run on SQLite always and on PostgreSQL when TEST_DATABASE_URL answers."""
import os
import re
import shutil
import tempfile
import threading
import sys
import uuid
from urllib.parse import quote

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from casework.engine import Engine  # noqa: E402
from schema import clock  # noqa: E402
from seeds import bootstrap  # noqa: E402


@pytest.fixture(autouse=True)
def _calendar_day():
    """A test that moves the one clock (schema.clock) never moves it for the next test."""
    clock.reset()
    yield
    clock.reset()

PG_URL = os.environ.get("TEST_DATABASE_URL", "")
PASSWORD = bootstrap.DEMO_PASSWORD


def _pg_ok():
    if not PG_URL:
        return False
    try:
        import psycopg2
        conn = psycopg2.connect(PG_URL.replace("postgresql://", "postgres://", 1), connect_timeout=3)
        conn.close()
        return True
    except Exception:
        return False


PG_AVAILABLE = _pg_ok()
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.skipif(not PG_AVAILABLE,
                                                                         reason="PostgreSQL 不可用"))]


class PgSchema:
    """A fresh PostgreSQL schema, dropped afterwards: tests never see each other's tables."""

    def __init__(self):
        import psycopg2
        self.name = "t_" + uuid.uuid4().hex[:12]
        self.conn = psycopg2.connect(PG_URL.replace("postgresql://", "postgres://", 1))
        self.conn.autocommit = True
        self.conn.cursor().execute(f"CREATE SCHEMA {self.name}")
        sep = "&" if "?" in PG_URL else "?"
        self.url = f"{PG_URL}{sep}options={quote('-csearch_path=' + self.name)}"

    def drop(self):
        self.conn.cursor().execute(f"DROP SCHEMA IF EXISTS {self.name} CASCADE")
        self.conn.close()


def make_url(backend, tmp_path):
    if backend == "sqlite":
        return f"sqlite:///{tmp_path}/jiuzhu.db", None
    schema = PgSchema()
    return schema.url, schema


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path):
    url, schema = make_url(request.param, tmp_path)
    yield url
    if schema:
        schema.drop()


@pytest.fixture
def engine(db_url):
    e = Engine(db_url)
    e.migrate()
    yield e
    e.db.close()


@pytest.fixture(scope="session")
def demo_file(tmp_path_factory):
    """The demo county built once on SQLite; each test gets its own copy."""
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    e = Engine(f"sqlite:///{path}")
    e.migrate()
    bootstrap.demo(e)
    e.db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    e.db.close()
    return path


def make_app(url, **extra):
    from app import create_app
    config = {"DATABASE_URL": url, "TESTING": True, "SECRET_KEY": "test-secret", "MIGRATE_ON_START": True,
              "IMPORT_DIR": tempfile.mkdtemp(prefix="jiuzhu-imports-"),
              "ATTACHMENT_DIR": tempfile.mkdtemp(prefix="jiuzhu-attachments-"),
              "REPORT_DIR": tempfile.mkdtemp(prefix="jiuzhu-reports-")}
    config.update(extra)
    return create_app(config)


@pytest.fixture
def app(demo_file, tmp_path):
    target = tmp_path / "app.db"
    shutil.copy(demo_file, target)
    application = make_app(f"sqlite:///{target}")
    yield application
    application.extensions["jiuzhu"].db.close()


@pytest.fixture(scope="session")
def pg_demo_app():
    """The demo county on PostgreSQL, shared by read-mostly tests (the scope matrix)."""
    if not PG_AVAILABLE:
        pytest.skip("PostgreSQL 不可用")
    schema = PgSchema()
    e = Engine(schema.url)
    e.migrate()
    bootstrap.demo(e)
    e.db.close()
    application = make_app(schema.url)
    yield application
    application.extensions["jiuzhu"].db.close()
    schema.drop()


@pytest.fixture(params=BACKENDS)
def any_app(request, demo_file, tmp_path):
    """The demo app on each backend."""
    if request.param == "sqlite":
        target = tmp_path / "app.db"
        shutil.copy(demo_file, target)
        application = make_app(f"sqlite:///{target}")
        yield application
        application.extensions["jiuzhu"].db.close()
    else:
        yield request.getfixturevalue("pg_demo_app")


TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


class Browser:
    """A test client that logs in and carries the CSRF token like a browser would."""

    def __init__(self, app):
        self.app = app
        self.client = app.test_client()
        self.token = None

    def csrf(self):
        if self.token is None:
            r = self.client.get("/login")
            m = TOKEN.search(r.get_data(as_text=True))
            self.token = m.group(1) or m.group(2)
        return self.token

    def login(self, username, password=PASSWORD):
        r = self.client.post("/login", data={"username": username, "password": password,
                                             "csrf_token": self.csrf()})
        self.token = None
        return r

    def get(self, url, **kw):
        return self.client.get(url, **kw)

    def post(self, url, data=None, csrf=True, **kw):
        data = dict(data or {})
        if csrf:
            data.setdefault("csrf_token", self.page_token())
        return self.client.post(url, data=data, **kw)

    def page_token(self):
        r = self.client.get("/admin/")
        m = TOKEN.search(r.get_data(as_text=True))
        if m:
            return m.group(1) or m.group(2)
        return self.csrf()


@pytest.fixture
def browser_for(app):
    def make(username=None, application=None):
        b = Browser(application or app)
        if username:
            r = b.login(username)
            assert r.status_code == 302, r.get_data(as_text=True)[:500]
        return b
    return make


def engine_of(app):
    return app.extensions["jiuzhu"]


def together(*jobs):
    """Run each job in its own thread, all released at one barrier (two real writers at once);
    their results in order, or the exception a job raised."""
    barrier, out = threading.Barrier(len(jobs)), [None] * len(jobs)

    def one(i, job):
        barrier.wait()
        try:
            out[i] = job()
        except Exception as e:            # noqa: BLE001 - the test looks at what each thread met
            out[i] = e
    threads = [threading.Thread(target=one, args=(i, job)) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return out
