"""The benchmark county: its data set, its users, and what every benchmark needs to measure pages.

One county, 10 townships of 40 villages, N households and M members bulk-inserted (model hooks
bypassed, derived columns computed here): a SQLite file cached in BENCH_OUT (keyed by N and M, rebuilt
when the declared tables or indexes change) or a fresh PostgreSQL schema under an advisory lock. Used by
bench_core.py, bench_pages.py, bench_ab.py and bench_load.py.
"""
import datetime as dt
import json
import math
import os
import random
import re
import subprocess
import sys
import time
from decimal import Decimal
from urllib.parse import quote

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
# measuring

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


def pct(values, p):
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]
