#!/usr/bin/env python
"""Core benchmark: list pages and the full member export on a county-sized data set.

Run by hand; it prints figures, it asserts nothing:

    .venv/bin/python bench/bench_core.py [--backend sqlite|postgres|both] [--households N] [--members M]

Data: 1 county, 10 townships, 40 villages each (400 villages), N households spread over the villages,
M members (default 400 000 / 1 000 000), bulk-inserted with insert_many (model hooks bypassed, derived
columns computed here). The SQLite file is cached in bench/out/ (keyed by N and M, rebuilt when the
declared tables or indexes change); PostgreSQL gets a fresh schema `bench_core` (--pg-schema) in database
`test` on every run, under an advisory lock so that two runs never drop each other's schema (other
schemas are never touched). SQLite is not ANALYZEd (the app never does); PostgreSQL is VACUUM ANALYZEd
after the load, as autovacuum would.

Measured, through the Flask test client, for a county administrator and a village assistant:
  list pages of members and households (page 1, a deep page, two filters, search by a full and by a
  partial ID number), each request repeated --repeat times: median and 95th percentile;
  three extra instrumented requests per URL record every SQL statement and its time (median of 3),
  and for pages over the target the statements over 10 ms are EXPLAINed (ANALYZE on PostgreSQL);
  the full member export (/admin/member/export/xlsx/) against plain XlsxWriter writing the same number
  of cells, each in its own subprocess so that peak RSS (VmHWM) is that export's alone.

Targets (issue): list pages p95 < 100 ms; export >= 80 % of plain XlsxWriter's rows/s, peak RSS < 150 MB.
"""
import argparse
import datetime as dt
import json
import math
import os
import random
import re
import resource
import shlex
import statistics
import subprocess
import sys
import time
from decimal import Decimal
from urllib.parse import quote, urlencode

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from schema import idnumber  # noqa: E402
from casework.engine import Engine  # noqa: E402

OUT = os.environ.get("BENCH_OUT") or os.path.join(HERE, "out")   # BENCH_OUT: another folder (shared machines)
PG_BASE = "postgresql://postgres@127.0.0.1:5432/test"
PG_SCHEMA = os.environ.get("BENCH_PG_SCHEMA", "bench_core")   # one schema per person on a shared cluster
PASSWORD = "benchpass123"
COUNTY_CODE, COUNTY_NAME = "370405", "台儿庄区"
TOWNSHIPS, VILLAGES_PER_TOWNSHIP = 10, 40
LIST_TARGET_MS = 100.0
EXPLAIN_MIN_MS = 10.0                  # pages over target: EXPLAIN their slowest statement if it takes this long
EXPORT_SPEED_TARGET = 0.80
EXPORT_RSS_TARGET_MB = 150.0
USERS = {"county": ("bench_county", "基准县级管理员", "county_admin"),
         "township": ("bench_township", "基准乡镇经办人", "township_staff"),
         "village": ("bench_village", "基准村级协理员", "village_assistant")}

SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎"
GIVEN = "秀英桂兰玉凤淑珍建国志强伟军红梅海燕明华立新德胜永福春生秋菊文静小龙子涵浩然欣怡"
BIRTH_FIRST = dt.date(1940, 1, 1)
BIRTH_DAYS = (dt.date(2019, 12, 31) - BIRTH_FIRST).days + 1
ID_SPACE = BIRTH_DAYS * 999            # (birth date, order 1..999) pairs: each gives one unique number
ID_STRIDE = 7368787                    # coprime with ID_SPACE: k -> k*stride mod space is a bijection


# ----------------------------------------------------------------------------------------------------
# data generation (reusable)

def member_id(k):
    """The k-th member's ID number: unique for k < ID_SPACE, birth dates spread over 1940-2019."""
    idx = (k * ID_STRIDE) % ID_SPACE
    birth = BIRTH_FIRST + dt.timedelta(days=idx // 999)
    order = idx % 999 + 1
    return idnumber.make(COUNTY_CODE, birth, order), birth, ("1" if order % 2 else "2")


def _household_sizes(rng, households, members):
    sizes = rng.choices([1, 2, 3, 4, 5], weights=[20, 30, 25, 15, 10], k=households)
    total = sum(sizes)
    while total > members:
        i = rng.randrange(households)
        if sizes[i] > 1:
            sizes[i] -= 1
            total -= 1
    while total < members:
        i = rng.randrange(households)
        sizes[i] += 1
        total += 1
    return sizes


def _insert_areas(engine):
    Area = engine.models["area"]
    now = dt.datetime(2024, 1, 1, 8, 0, 0)

    def add(code, name, level, parent_id, parent_path, population=None):
        path = f"{parent_path or '/'}{code}/"
        pk = Area.insert(code=code, name=name, level=level, parent=parent_id, population=population,
                         path=path, created_at=now, updated_at=now).execute()
        if not isinstance(pk, int):          # PostgreSQL may hand back the RETURNING cursor
            pk = Area.select(Area.id).where(Area.code == code).scalar()
        return pk, path

    county_id, county_path = add(COUNTY_CODE, COUNTY_NAME, "county", None, None, 300000)
    villages = []                            # (id, code)
    for t in range(1, TOWNSHIPS + 1):
        tcode = f"{COUNTY_CODE}{t:03d}"
        tid, tpath = add(tcode, f"第{t}乡镇", "township", county_id, county_path)
        for v in range(1, VILLAGES_PER_TOWNSHIP + 1):
            vcode = f"{tcode}{v:03d}"
            vid, _ = add(vcode, f"第{t}乡镇第{v}村", "village", tid, tpath)
            villages.append((vid, vcode))
    return county_id, villages


def generate(engine, households, members, seed=20240601, progress=print):
    """Fill an empty, migrated database with the area tree, `households` households and `members`
    members (insert_many in batches; hooks bypassed, derived columns set here). Returns a summary."""
    if members < households:
        raise ValueError("members must be >= households (every household has a head)")
    if members > ID_SPACE:
        raise ValueError(f"at most {ID_SPACE} members")
    Household, Member = engine.models["household"], engine.models["member"]
    if Household.select().exists() or engine.models["area"].select().exists():
        raise RuntimeError("generate() needs empty tables")
    rng = random.Random(seed)
    t0 = time.perf_counter()
    db = engine.db
    with db.atomic():
        county_id, villages = _insert_areas(engine)
    sizes = _household_sizes(rng, households, members)
    hh_fields = [Household.code, Household.village, Household.head_name, Household.head_id_number,
                 Household.hukou_type, Household.address, Household.phone, Household.bank_name,
                 Household.account_name, Household.bank_account, Household.status, Household.member_count,
                 Household.income_per_capita, Household.archived, Household.created_at, Household.updated_at]
    m_fields = [Member.household, Member.name, Member.id_number, Member.id_legacy, Member.sex,
                Member.birth_date, Member.relation, Member.ethnicity, Member.hukou_type, Member.marital_status,
                Member.education, Member.health, Member.disability_class, Member.disability_grade,
                Member.labour_capacity, Member.monthly_income, Member.phone, Member.archived,
                Member.created_at, Member.updated_at]
    statuses = ["none", "none", "in_care", "in_care", "in_care", "applying", "exited", "gradual_exit"]
    banks = ["台儿庄农商银行", "中国农业银行台儿庄支行", "中国邮政储蓄银行台儿庄支行"]
    healths = (["10", "20", "30", "37", "31", "64", "65"], [50, 15, 10, 8, 7, 6, 4])
    incomes = [Decimal(x) for x in ("0", "0", "300", "500", "800", "1200", "1800")]
    base_time = dt.datetime(2024, 1, 1, 8, 0, 0)
    nv = len(villages)
    CHUNK, BATCH = 5000, 1000
    k = 0                                    # global member index
    for start in range(0, households, CHUNK):
        stop = min(households, start + CHUNK)
        hh_rows, people = [], []             # people: per household, list of member tuples (no fk yet)
        for i in range(start, stop):
            vid, vcode = villages[i % nv]    # households of all villages interleaved, as typed in
            stamp = base_time + dt.timedelta(seconds=i * 30)
            hukou = "1" if rng.random() < 0.3 else "2"
            surname = rng.choice(SURNAMES)
            ppl = []
            for j in range(sizes[i]):
                number, birth, sex = member_id(k)
                k += 1
                name = (surname if j != 1 else rng.choice(SURNAMES)) + "".join(rng.sample(GIVEN, rng.choice((1, 2))))
                relation = "02" if j == 0 else "10" if j == 1 else ("20" if sex == "1" else "30")
                health = rng.choices(*healths)[0]
                disability = {"64": ("4", rng.choice("1234")), "65": ("5", rng.choice("123"))}.get(health, (None, None))
                labour = rng.choice("11234")
                income = incomes[rng.randrange(len(incomes))] if labour in "12" else Decimal(0)
                ppl.append([None, name, number, False, sex, birth, relation, "01", hukou,
                            "20" if j < 2 else "10", rng.choice(("60", "70", "80", "99")), health,
                            disability[0], disability[1], labour, income,
                            f"13{rng.randrange(10**9):09d}" if j == 0 else None, False, stamp, stamp])
            head = ppl[0]
            per_capita = (sum(p[15] for p in ppl) / len(ppl)).quantize(Decimal("0.01"))
            hh_rows.append((f"{vcode}-{i // nv + 1:05d}", vid, head[1], head[2], hukou,
                            f"{COUNTY_NAME}{vcode}村{rng.randint(1, 300)}号", head[16], rng.choice(banks),
                            head[1], "6228" + f"{rng.randrange(10**15):015d}", rng.choice(statuses),
                            len(ppl), per_capita, False, stamp, stamp))
            people.append(ppl)
        with db.atomic():
            before = Household.select(Household.id).order_by(Household.id.desc()).limit(1).scalar() or 0
            for b in range(0, len(hh_rows), BATCH):
                Household.insert_many(hh_rows[b:b + BATCH], fields=hh_fields).execute()
            ids = dict(Household.select(Household.code, Household.id).where(Household.id > before).tuples())
            rows = []
            for hh, ppl in zip(hh_rows, people):
                pk = ids[hh[0]]
                for p in ppl:
                    p[0] = pk
                    rows.append(p)
            for b in range(0, len(rows), BATCH):
                Member.insert_many(rows[b:b + BATCH], fields=m_fields).execute()
        if progress and ((stop // CHUNK) % 10 == 0 or stop == households):
            progress(f"    {stop:>9,} households, {k:>10,} members  ({time.perf_counter() - t0:6.1f} s)")
    elapsed = time.perf_counter() - t0
    return {"households": households, "members": members, "villages": nv, "seconds": round(elapsed, 1)}


def ensure_users(engine):
    """The benchmark users, one a level (through the model, so the password is hashed as in the app);
    run on a cached data set too, so that one made before a user was added gets it."""
    Area, User = engine.models["area"], engine.models["user"]
    county = Area.get(Area.code == COUNTY_CODE)
    township = Area.get(Area.code == f"{COUNTY_CODE}001")
    village = Area.get(Area.code == f"{COUNTY_CODE}001001")
    for key, area in (("county", county), ("township", township), ("village", village)):
        username, full_name, role = USERS[key]
        if not User.select().where(User.username == username).exists():
            User.create(username=username, full_name=full_name, password=PASSWORD, role=role, area=area,
                        active=True)
    return county, village


# ----------------------------------------------------------------------------------------------------
# databases

def sqlite_url(path):
    return "sqlite:///" + os.path.abspath(path)


def pg_url():
    return f"{PG_BASE}?options={quote('-csearch_path=' + PG_SCHEMA)}"


def schema_fingerprint():
    """Hash of the DDL (tables and indexes) the current code creates on SQLite: a cached file built
    by older declarations (other indexes) is rebuilt, since migration only ever adds indexes."""
    import hashlib
    e = Engine("sqlite:///:memory:")
    parts = []
    for name in sorted(e.models.models):
        m = e.models[name]
        parts.append(m._schema._create_table().query()[0])
        parts += sorted(c.query()[0] for c in m._schema._create_indexes())
    return hashlib.sha1("\n".join(parts).encode()).hexdigest()[:12]


def git_revision():
    if os.environ.get("BENCH_CODE_REVISION"):            # a snapshot without .git (git archive)
        return os.environ["BENCH_CODE_REVISION"]
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
        return (head + (" (with uncommitted changes)" if dirty else "")) if head else "unknown"
    except OSError:
        return "unknown"


def prepare_sqlite(households, members, regen=False):
    os.makedirs(OUT, exist_ok=True)
    stem = os.path.join(OUT, f"core_h{households}_m{members}")
    path, meta_path = stem + ".db", stem + ".json"
    fingerprint = schema_fingerprint()
    if not regen and os.path.exists(path) and os.path.exists(meta_path):
        with open(meta_path) as fh:
            meta = json.load(fh)
        if meta.get("schema") == fingerprint:
            print(f"  using cached {os.path.relpath(path, ROOT)} (generated in {meta['seconds']} s)")
            meta["cached"] = True
            e = Engine(sqlite_url(path))
            ensure_users(e)
            e.db.close()
            return sqlite_url(path), meta
        print("  cached file was built for other table/index declarations: regenerating")
    tmp = f"{stem}.tmp{os.getpid()}.db"
    for p in (tmp, tmp + "-wal", tmp + "-shm", path, path + "-wal", path + "-shm", meta_path):
        if os.path.exists(p):
            os.remove(p)
    print(f"  generating {households:,} households / {members:,} members into {os.path.relpath(path, ROOT)}")
    e = Engine(sqlite_url(tmp))
    e.migrate()
    meta = generate(e, households, members)
    meta["schema"] = fingerprint
    ensure_users(e)
    e.db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    e.db.close()
    os.replace(tmp, path)
    for suffix in ("-wal", "-shm"):
        if os.path.exists(tmp + suffix):
            os.remove(tmp + suffix)
    with open(meta_path, "w") as fh:
        json.dump(meta, fh)
    print(f"  generated in {meta['seconds']} s (no ANALYZE: the app never runs it on SQLite)")
    meta["cached"] = False
    return sqlite_url(path), meta


def pg_lock():
    """A session advisory lock per schema, held for the whole PostgreSQL phase: two runs at once
    would drop each other's schema (and share two cores), so the second one waits."""
    import psycopg2
    conn = psycopg2.connect(PG_BASE.replace("postgresql://", "postgres://", 1))
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_lock(hashtext(%s))", ("bench_core:" + PG_SCHEMA,))
        if not cur.fetchone()[0]:
            print(f"  another bench_core run is using schema {PG_SCHEMA}: waiting for it to finish", flush=True)
            cur.execute("SELECT pg_advisory_lock(hashtext(%s))", ("bench_core:" + PG_SCHEMA,))
    return conn


def prepare_postgres(households, members):
    import psycopg2
    conn = psycopg2.connect(PG_BASE.replace("postgresql://", "postgres://", 1))
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE")
        cur.execute(f"CREATE SCHEMA {PG_SCHEMA}")
    url = pg_url()
    print(f"  generating {households:,} households / {members:,} members into schema {PG_SCHEMA}")
    e = Engine(url)
    e.migrate()
    meta = generate(e, households, members)
    ensure_users(e)
    e.db.close()
    t0 = time.perf_counter()
    with conn.cursor() as cur:
        cur.execute(f"SET search_path = {PG_SCHEMA}")
        cur.execute("VACUUM ANALYZE")           # what autovacuum does on its own after a bulk load
    conn.close()
    meta["vacuum_analyze_seconds"] = round(time.perf_counter() - t0, 1)
    print(f"  generated in {meta['seconds']} s, VACUUM ANALYZE {meta['vacuum_analyze_seconds']} s")
    meta["cached"] = False
    return url, meta


# ----------------------------------------------------------------------------------------------------
# list pages

TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def login(app, username):
    client = app.test_client()
    r = client.get("/login")
    m = TOKEN.search(r.get_data(as_text=True))
    token = m.group(1) or m.group(2)
    r = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    if r.status_code != 302:
        raise SystemExit(f"login as {username} failed: {r.status_code}")
    return client


class SqlLog:
    """Times every statement the app's database runs (wraps execute_sql; the app is not changed).
    SQLite runs a SELECT up to its first row inside execute(), so sorts, OFFSETs and COUNTs are
    timed; PostgreSQL fetches the whole result inside execute()."""

    def __init__(self, db):
        self.db, self.entries, self.on = db, [], False
        original = db.execute_sql

        def timed(sql, params=None, *a, **kw):
            t = time.perf_counter()
            cursor = original(sql, params, *a, **kw)
            if self.on:
                self.entries.append(((time.perf_counter() - t) * 1000, sql, params))
            return cursor
        db.execute_sql = timed

    def capture(self, fn):
        self.entries, self.on = [], True
        try:
            fn()
        finally:
            self.on = False
        return list(self.entries)


def _rows_on_page(html):
    return html.count('<td class="list-buttons-column')


def _pct(values, p):
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def time_url(client, url, repeat, sqllog):
    for _ in range(2):                       # warm-up: imports, template compilation, caches
        r = client.get(url)
        if r.status_code != 200:
            raise SystemExit(f"GET {url} -> {r.status_code}")
    holder = {}
    runs = [sqllog.capture(lambda: holder.__setitem__("r", client.get(url))) for _ in range(3)]
    html = holder["r"].get_data(as_text=True)
    if len({len(r) for r in runs}) == 1:     # same statements each time: per-statement median of 3
        queries = [(statistics.median(q[0] for q in same), same[0][1], same[0][2]) for same in zip(*runs)]
    else:
        queries = runs[-1]
    times, cpu = [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        r = client.get(url)
        r.get_data()
        times.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)
    return {"median": statistics.median(times), "p95": _pct(times, 95), "cpu": statistics.median(cpu),
            "rows": _rows_on_page(html), "sql_ms": sum(q[0] for q in queries), "queries": queries}


def filter_arg(app, endpoint, path, cls_name):
    """The URL argument Flask-Admin expects for the filter `cls_name` on `path` of a view."""
    for view in app.extensions["admin"][0]._views:
        if getattr(view, "endpoint", None) == endpoint:
            for i, flt in enumerate(view._filters):
                if getattr(flt, "path", None) == path and type(flt).__name__ == cls_name:
                    return f"flt0_{view.get_filter_arg(i, flt)}"
    raise SystemExit(f"no filter {cls_name} on {endpoint}.{path}")


def list_cases(app, engine, county, village):
    """[(user key, list, case, url)]"""
    Household, Member = engine.models["household"], engine.models["member"]
    live_m = Member.archived == False  # noqa: E712
    live_h = Household.archived == False  # noqa: E712
    in_village_h = Household.select(Household.id).where((Household.village == village.id) & live_h)
    # sample person: a head in the village user's village (found by both users), from the middle
    n_village_h = in_village_h.count()
    hh = (Household.select().where((Household.village == village.id) & live_h)
          .order_by(Household.id).offset(n_village_h // 2).first())
    member = (Member.select().where((Member.household == hh.id) & live_m).order_by(Member.id).first())
    idnum = member.id_number
    head_id = hh.head_id_number
    counts = {
        ("county", "member"): Member.select().where(live_m).count(),
        ("county", "household"): Household.select().where(live_h).count(),
        ("village", "member"): Member.select().where(live_m & Member.household.in_(in_village_h)).count(),
        ("village", "household"): n_village_h,
    }
    page_size = 20
    cases = []
    for user in ("county", "village"):
        for lst in ("member", "household"):
            last = max(0, (counts[(user, lst)] - 1) // page_size)
            deep = min(2000, last) if user == "county" else last
            sex_or_hukou = (("sex", "2", "性别=女") if lst == "member" else ("hukou_type", "1", "户口性质=城镇"))
            vil_path = "household.village" if lst == "member" else "village"
            ident = idnum if lst == "member" else head_id
            base = f"/admin/{lst}/"
            cases += [
                (user, lst, "page 1", base),
                (user, lst, f"deep page {deep + 1}{' (last)' if deep == last else ''}", f"{base}?page={deep}"),
                (user, lst, f"filter {sex_or_hukou[2]}",
                 f"{base}?{filter_arg(app, lst, sex_or_hukou[0], 'ChoiceEqual')}={sex_or_hukou[1]}"),
                (user, lst, "filter village",
                 f"{base}?{filter_arg(app, lst, vil_path, 'AreaEqual')}={village.id}"),
                (user, lst, "search full ID", f"{base}?{urlencode({'search': ident})}"),
                (user, lst, "search ID prefix(10)", f"{base}?{urlencode({'search': ident[:10]})}"),
            ]
    return cases, counts


def explain(db, sql, params):
    import peewee as pw
    if isinstance(db, pw.SqliteDatabase):
        plan = [" | ".join(str(c) for c in row[1:]) for row in
                db.execute_sql("EXPLAIN QUERY PLAN " + sql, params).fetchall()]
        t = time.perf_counter()
        db.execute_sql(sql, params).fetchall()
        full = (time.perf_counter() - t) * 1000
        return plan, full
    rows = db.execute_sql("EXPLAIN (ANALYZE, BUFFERS) " + sql, params).fetchall()
    return [r[0] for r in rows], None


def run_lists(backend, url, repeat):
    from app import create_app
    app = create_app({"DATABASE_URL": url, "TESTING": True, "SECRET_KEY": "x", "MIGRATE_ON_START": True})
    engine = app.extensions["jiuzhu"]
    sqllog = SqlLog(engine.db)
    Area = engine.models["area"]
    with app.app_context():
        engine.db.connect(reuse_if_open=True)
        county = Area.get(Area.code == COUNTY_CODE)
        village = Area.get(Area.code == f"{COUNTY_CODE}001001")
        cases, counts = list_cases(app, engine, county, village)
        engine.db.close()
    clients = {k: login(app, USERS[k][0]) for k in USERS}
    results = []
    for user, lst, case, u in cases:
        res = time_url(clients[user], u, repeat, sqllog)
        res.update(backend=backend, user=user, list=lst, case=case, url=u)
        flag = "SLOW" if res["p95"] > LIST_TARGET_MS else ""
        print(f"  {user:<7} {lst:<9} {case:<26} median {res['median']:7.1f}  p95 {res['p95']:7.1f}  "
              f"cpu {res['cpu']:6.1f} ms  "
              f"sql {res['sql_ms']:7.1f} ms/{len(res['queries'])}q  rows {res['rows']}  {flag}", flush=True)
        heavy = sorted((q for q in res["queries"] if q[0] >= EXPLAIN_MIN_MS), key=lambda q: -q[0])[:3]
        if flag and heavy:
            engine.db.connect(reuse_if_open=True)
            try:
                res["explained"] = []
                for ms, sql, params in heavy:
                    plan, full = explain(engine.db, sql, params)
                    res["explained"].append({"ms": ms, "sql": sql, "params": params, "plan": plan,
                                             "full_fetch_ms": full})
            finally:
                engine.db.close()
        results.append(res)
    return results, counts


# ----------------------------------------------------------------------------------------------------
# export (each in its own process, for a clean peak RSS)

def _status_mb(key):
    """VmHWM (peak RSS) or VmRSS of this process, from /proc. Not ru_maxrss: Linux carries the
    parent's high-water mark across fork+exec into the child's ru_maxrss, VmHWM starts afresh."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _rss_mb():
    return _status_mb("VmRSS")


def _peak_mb():
    return _status_mb("VmHWM")


def child_app_export(url):
    from app import create_app
    app = create_app({"DATABASE_URL": url, "TESTING": True, "SECRET_KEY": "x", "MIGRATE_ON_START": True})
    client = login(app, USERS["county"][0])
    base = _rss_mb()
    profiler = None
    if os.environ.get("BENCH_PROFILE"):
        import cProfile
        profiler = cProfile.Profile()
        profiler.enable()
    t = time.perf_counter()
    resp = client.get("/admin/member/export/xlsx/", buffered=False)
    size = 0
    for chunk in resp.response:
        size += len(chunk)
    resp.close()
    elapsed = time.perf_counter() - t
    if profiler:
        import pstats
        profiler.disable()
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(25)
    if resp.status_code != 200:
        raise SystemExit(f"export -> {resp.status_code}")
    engine = app.extensions["jiuzhu"]
    engine.db.connect(reuse_if_open=True)
    Member = engine.models["member"]
    rows = Member.select().where(Member.archived == False).count()  # noqa: E712
    return {"seconds": elapsed, "rows": rows, "bytes": size, "base_rss_mb": base, "peak_rss_mb": _peak_mb()}


def child_plain_export(url):
    import xlsxwriter
    e = Engine(url)
    M, H = e.models["member"], e.models["household"]
    e.db.connect()
    base = _rss_mb()
    path = os.path.join(OUT, f"plain_export_{os.getpid()}.xlsx")
    t = time.perf_counter()
    book = xlsxwriter.Workbook(path, {"constant_memory": True, "strings_to_formulas": False,
                                      "strings_to_numbers": False, "strings_to_urls": False})
    sheet = book.add_worksheet("家庭成员")
    date_fmt = book.add_format({"num_format": "yyyy-mm-dd"})
    stamp_fmt = book.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    spec = e.registry.entities["member"]
    header = [f.label for f in spec.shown_fields()] + ["创建时间", "修改时间"]
    for c, label in enumerate(header):
        sheet.write_string(0, c, label)
    # the same 19 columns the app writes: household title, 16 member fields, two timestamps
    cols = [M.name, M.id_number, M.id_legacy, M.sex, M.birth_date, M.relation, M.ethnicity, M.hukou_type,
            M.marital_status, M.education, M.health, M.disability_class, M.disability_grade,
            M.labour_capacity, M.monthly_income, M.phone, M.created_at, M.updated_at]
    q = (M.select(H.code, H.head_name, *cols).join(H, on=(M.household == H.id))
         .where(M.archived == False).order_by(M.household, M.id))  # noqa: E712
    r = 0
    ws, wn, wd = sheet.write_string, sheet.write_number, sheet.write_datetime
    combine, midnight = dt.datetime.combine, dt.time()
    for (code, head, name, idn, legacy, sex, birth, rel, eth, hukou, mar, edu, health, dcls, dgr, labour,
         income, phone, created, updated) in q.tuples().iterator():
        r += 1
        ws(r, 0, f"{code} {head}")
        ws(r, 1, name)
        ws(r, 2, idn)
        ws(r, 3, "是" if legacy else "否")
        ws(r, 4, sex)
        if birth is not None:
            wd(r, 5, combine(birth, midnight), date_fmt)
        c = 6
        for v in (rel, eth, hukou, mar, edu, health, dcls, dgr, labour):
            if v is not None:
                ws(r, c, v)
            c += 1
        if income is not None:
            wn(r, 15, float(income))
        if phone is not None:
            ws(r, 16, phone)
        if created is not None:
            wd(r, 17, created, stamp_fmt)
        if updated is not None:
            wd(r, 18, updated, stamp_fmt)
    book.close()
    elapsed = time.perf_counter() - t
    size = os.path.getsize(path)
    os.remove(path)
    return {"seconds": elapsed, "rows": r, "bytes": size, "base_rss_mb": base, "peak_rss_mb": _peak_mb()}


def run_child(kind, url):
    cmd = [sys.executable, os.path.abspath(__file__), "--child", kind, "--url", url]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{proc.stderr[-3000:]}")
    if os.environ.get("BENCH_PROFILE") and proc.stderr.strip():
        print(proc.stderr[-6000:])
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["rows_per_s"] = result["rows"] / result["seconds"] if result["seconds"] else 0
    return result


def run_exports(backend, url):
    out = {}
    for kind in ("plain-export", "app-export"):
        res = run_child(kind, url)
        out[kind] = res
        print(f"  {kind:<13} {res['rows']:>9,} rows  {res['seconds']:7.1f} s  {res['rows_per_s']:9,.0f} rows/s  "
              f"peak RSS {res['peak_rss_mb']:6.1f} MB (before export {res['base_rss_mb']:.1f} MB)  "
              f"file {res['bytes'] / 1e6:.1f} MB", flush=True)
    return out


# ----------------------------------------------------------------------------------------------------
# report

def print_report(all_results, args):
    print("\n" + "=" * 125)
    print("LIST PAGES (Flask test client, in-process; ms; p95 target < 100 ms)")
    print("=" * 125)
    print("median/p95: wall time of the request; cpu: median CPU time of this process (Python, templates and,")
    print("on SQLite, the queries); sql: time in execute(), median of 3 instrumented requests; #q: statements;")
    print("rows: rows shown on the page")
    hdr = (f"{'backend':<9}{'user':<8}{'list':<10}{'case':<27}{'median':>8}{'p95':>8}{'cpu':>7}{'sql':>8}{'#q':>4}"
           f"{'rows':>6}  url")
    for backend, res in all_results.items():
        print(hdr)
        print("-" * 125)
        for r in res["lists"]:
            flag = "  <-- over target" if r["p95"] > LIST_TARGET_MS else ""
            print(f"{backend:<9}{r['user']:<8}{r['list']:<10}{r['case']:<27}{r['median']:8.1f}{r['p95']:8.1f}{r['cpu']:7.1f}"
                  f"{r['sql_ms']:8.1f}{len(r['queries']):>4}{str(r['rows']):>6}  {r['url']}{flag}")
        print()
    print("=" * 125)
    print("EXPORT: all members, county administrator (target: app >= 80% of plain rows/s, peak RSS < 150 MB)")
    print("=" * 125)
    print(f"{'backend':<9}{'export':<15}{'rows':>10}{'seconds':>9}{'rows/s':>10}{'peak RSS MB':>13}"
          f"{'base RSS MB':>13}{'file MB':>9}")
    for backend, res in all_results.items():
        ex = res.get("exports")
        if not ex:
            continue
        for kind in ("plain-export", "app-export"):
            e = ex[kind]
            print(f"{backend:<9}{kind:<15}{e['rows']:>10,}{e['seconds']:>9.1f}{e['rows_per_s']:>10,.0f}"
                  f"{e['peak_rss_mb']:>13.1f}{e['base_rss_mb']:>13.1f}{e['bytes'] / 1e6:>9.1f}")
        a, p = ex["app-export"], ex["plain-export"]
        ratio = a["rows_per_s"] / p["rows_per_s"] if p["rows_per_s"] else 0
        ok_speed = "ok" if ratio >= EXPORT_SPEED_TARGET else "BELOW TARGET"
        ok_mem = "ok" if a["peak_rss_mb"] < EXPORT_RSS_TARGET_MB else "OVER TARGET"
        print(f"{backend:<9}app/plain speed ratio {ratio:.2f} ({ok_speed}); app peak RSS {a['peak_rss_mb']:.0f} MB "
              f"({ok_mem}); memory ratio {a['peak_rss_mb'] / p['peak_rss_mb']:.2f}")
    print()
    print("GENERATION")
    for backend, res in all_results.items():
        g = res["gen"]
        extra = " (cached file; time of the original generation)" if g.get("cached") else ""
        vac = f", then VACUUM ANALYZE {g['vacuum_analyze_seconds']} s" if "vacuum_analyze_seconds" in g else ""
        print(f"  {backend:<9}{g['households']:,} households, {g['members']:,} members, {g['villages']} villages: "
              f"{g['seconds']} s{vac}{extra}")
        c = res["counts"]
        if not c:
            continue
        print(f"           county user sees {c[('county', 'member')]:,} members / "
              f"{c[('county', 'household')]:,} households; village user {c[('village', 'member')]:,} / "
              f"{c[('village', 'household')]:,}")
    slow = [(b, r) for b, res in all_results.items() for r in res["lists"] if r["p95"] > LIST_TARGET_MS]
    if slow:
        print()
        print("=" * 125)
        print("DIAGNOSIS: pages over target; the slowest SQL statement of each (from the instrumented request)")
        print("=" * 125)
        for backend, r in slow:
            top = max(r["queries"], key=lambda q: q[0])
            print(f"\n[{backend}] {r['user']} {r['list']} {r['case']}: p95 {r['p95']:.1f} ms (median "
                  f"{r['median']:.1f}, cpu {r['cpu']:.1f}); SQL {r['sql_ms']:.1f} ms in {len(r['queries'])} "
                  f"statements, slowest {top[0]:.1f} ms")
            print(f"  URL:    {r['url']}")
            if "explained" not in r:
                print("  no statement over {:.0f} ms: the time is Python/templates or machine load, "
                      "not the database".format(EXPLAIN_MIN_MS))
                continue
            for s in r["explained"]:
                full = f" ({s['full_fetch_ms']:.1f} ms with fetchall)" if s.get("full_fetch_ms") is not None else ""
                print(f"  -- {s['ms']:.1f} ms{full}")
                print(f"  SQL:    {s['sql']}")
                print(f"  params: {s['params']}")
                for line in s["plan"]:
                    print(f"    {line}")
    print()
    cmd = [".venv/bin/python", "bench/bench_core.py", "--backend", args.backend, "--households",
           str(args.households), "--members", str(args.members), "--repeat", str(args.repeat)]
    if args.pg_schema != "bench_core":
        cmd += ["--pg-schema", args.pg_schema]
    for flag in ("skip_export", "skip_lists"):
        if getattr(args, flag):
            cmd.append("--" + flag.replace("_", "-"))
    print(f"Code: {git_revision()}")
    print("Rerun (from /work/main):  " + " ".join(shlex.quote(c) for c in cmd))


def main():
    global PG_SCHEMA
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    ap.add_argument("--households", type=int, default=400000)
    ap.add_argument("--members", type=int, default=1000000)
    ap.add_argument("--repeat", type=int, default=20, help="timed requests per URL (default 20)")
    ap.add_argument("--skip-export", action="store_true")
    ap.add_argument("--skip-lists", action="store_true", help="only the export")
    ap.add_argument("--regen", action="store_true", help="regenerate the cached SQLite file")
    ap.add_argument("--json", help="also write all figures to this file")
    ap.add_argument("--pg-schema", default=PG_SCHEMA, help=f"PostgreSQL schema to (re)create (default {PG_SCHEMA})")
    ap.add_argument("--profile-export", action="store_true", help="print a cProfile of the app export")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        fn = {"app-export": child_app_export, "plain-export": child_plain_export}[args.child]
        print(json.dumps(fn(args.url)))
        return
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", args.pg_schema) or args.pg_schema == "public":
        raise SystemExit("--pg-schema: a lower-case name of its own (never public)")
    PG_SCHEMA = args.pg_schema
    if args.profile_export:
        os.environ["BENCH_PROFILE"] = "1"
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    print(f"bench_core: {args.households:,} households, {args.members:,} members, backends {backends}, "
          f"{args.repeat} timed requests per URL; python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()}; code at {git_revision()}")
    all_results = {}
    for backend in backends:
        print(f"\n[{backend}]")
        lock = None
        if backend == "sqlite":
            url, gen = prepare_sqlite(args.households, args.members, args.regen)
        else:
            lock = pg_lock()
            url, gen = prepare_postgres(args.households, args.members)
        if args.skip_lists:
            lists, counts = [], {}
        else:
            lists, counts = run_lists(backend, url, args.repeat)
        exports = None if args.skip_export else run_exports(backend, url)
        if lock is not None:
            lock.close()
        all_results[backend] = {"gen": gen, "lists": lists, "counts": counts, "exports": exports}
    print(f"\nload average at the end: {os.getloadavg()} (other work on this machine inflates wall times)")
    print_report(all_results, args)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({b: {**r, "counts": {f"{k[0]}/{k[1]}": v for k, v in r["counts"].items()}}
                       for b, r in all_results.items()}, fh, default=str, ensure_ascii=False, indent=1)


if __name__ == "__main__":
    main()
