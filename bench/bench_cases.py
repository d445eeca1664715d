"""Deadline lists benchmark: overdue and due-soon cases over 100,000 cases in 40,000 households.

    .venv/bin/python bench/bench_cases.py [--cases 100000] [--households 40000] [--backend sqlite|postgres|both]

Builds the demo county's areas and users, then households and cases inserted in bulk (states and
due dates spread so that about 8% are overdue), and times what the deadlines page and the home page
ask: the count, the per-township counts and the first 500 rows of each list, as the county and as
a township user. Target from issue 3: under 100 ms per list on SQLite and PostgreSQL.
"""
import argparse
import datetime as dt
import os
import random
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import databases  # noqa: E402
from casework.engine import Engine  # noqa: E402
from schema.models import insert_rows  # noqa: E402
from seeds import bootstrap  # noqa: E402
from schema import clock  # noqa: E402

OPEN = ["accepted", "investigating", "reviewing", "publicity", "evaluation", "county_review"]


def build(engine, households, cases, today):
    rng = random.Random(3)
    m = engine.models
    bootstrap.demo(engine)
    Area, H, Case = m["area"], m["household"], m["case"]
    villages = [a.id for a in Area.select().where(Area.level == "village")]
    now = dt.datetime.now()
    rows = [{"code": f"B{i:07d}", "village": villages[i % len(villages)], "head_name": f"户主{i}",
             "head_id_number": f"{370405000000000000 + i:018d}", "hukou_type": "2", "archived": False,
             "created_at": now, "updated_at": now, "member_count": 0, "income_per_capita": 0}
            for i in range(households)]
    with engine.db.atomic():
        for start in range(0, len(rows), 5000):
            insert_rows(H, rows[start:start + 5000], list(rows[0]))
    first = H.select(H.id).where(H.code == "B0000000").scalar()
    out = []
    for i in range(cases):
        h = rng.randrange(households)
        open_ = rng.random() < 0.3
        due = today + dt.timedelta(days=rng.randint(-20, 40)) if open_ and rng.random() < 0.9 else None
        out.append({"case_no": f"BENCH-{i:07d}", "household": first + h, "village": villages[h % len(villages)],
                    "assistance_type": rng.choice(["11", "12", "21", "32"]), "applicant_name": f"申请人{i}",
                    "applicant_id_number": f"{370405000000000000 + i:018d}", "apply_date": today - dt.timedelta(days=rng.randint(0, 700)),
                    "channel": "window", "state": rng.choice(OPEN) if open_ else rng.choice(["approved", "denied"]),
                    "due_date": due, "due_item": "全流程办结" if due else None, "near_relative": False,
                    "archived": False, "created_at": now, "updated_at": now})
    with engine.db.atomic():
        for start in range(0, len(out), 5000):
            insert_rows(Case, out[start:start + 5000], list(out[0]))
    if hasattr(engine.db, "execute_sql"):
        engine.db.execute_sql("ANALYZE")


def timed(fn, repeat=15):
    fn()
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def run(url, args, label):
    engine = Engine(url)
    engine.migrate()
    today = dt.date(2026, 11, 23)
    clock.set(today)
    t = time.perf_counter()
    build(engine, args.households, args.cases, today)
    print(f"[{label}] built {args.households:,} households and {args.cases:,} cases in {time.perf_counter() - t:.1f} s")
    flow, User = engine.flow, engine.models["user"]
    overdue_n = flow.overdue_everywhere().count()
    print(f"[{label}] overdue cases in the county: {overdue_n:,}")
    for username in ("admin", "town1"):
        user = User.get(User.username == username)
        for name, query in (("overdue", lambda u=user: flow.overdue(u)), ("due soon", lambda u=user: flow.due_soon(u))):
            def page(q=query):
                # what the deadlines page asks: per-township counts and the first 500 rows
                flow.by_township(q())
                flow.rows(q(), 500)

            def count(q=query):
                q().count()                            # what the home page asks
            med, p95 = timed(page)
            cmed, cp95 = timed(count)
            print(f"[{label}] {username:<6} {name:<9} page {med:6.1f} ms median, {p95:6.1f} ms p95 | "
                  f"home count {cmed:5.1f} / {cp95:5.1f} ms")
    engine.db.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--households", type=int, default=40_000)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    args = parser.parse_args()
    for label, database in databases.each(args.backend, "bench-cases"):
        with database as url:
            run(url, args, label)

if __name__ == "__main__":
    main()
