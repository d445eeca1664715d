"""Report benchmark: the county's monthly 低保 statistics over 5,000,000 ledger rows.

    .venv/bin/python bench/bench_reports.py [--households 400000] [--months 13] [--backend sqlite|postgres|both]

Builds the demo county, then households spread over its villages, one care row each and one ledger line
per household per month with the persons it covers by category (13 months × 400,000 ≈ 5.2 million
rows), closes the earlier months (which writes their per-village summaries, as closing a month does in
the app), and times the built-in `dibao_monthly` report (all its sheets) as the county administrator
and as a township user: median of three runs. Target from issue 5: under 5 s on SQLite and on PostgreSQL.
"""
import argparse
import datetime as dt
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import databases  # noqa: E402
from casework.funds import payments  # noqa: E402
from casework.engine import Engine  # noqa: E402
from reports import engine as report_engine  # noqa: E402
from schema.models import insert_rows  # noqa: E402
from seeds import bootstrap  # noqa: E402
from schema import clock  # noqa: E402

MONTH = "2026-11"
# the demo county's history is relative to its clock (past months closed, this one open): built as of
# a day in MONTH, whatever the date today, so that the figures compare
TODAY = dt.date(2026, 11, 23)


def months_back(n):
    year, mon, out = 2026, 11, []
    for _ in range(n):
        out.append(f"{year}-{mon:02d}")
        year, mon = (year - 1, 12) if mon == 1 else (year, mon - 1)
    return list(reversed(out))


def covered(i):
    """Who household i's ledger line covers, as the monthly run counts them: its care row's 1 + i % 4
    persons split into elderly, adults and minors, with women, disabled and reduced labour among them."""
    persons = 1 + i % 4
    h = i * 2654435761 % 2 ** 32            # scrambled: no category follows the village (i % villages)
    minors = (h >> 13) % 2 if persons >= 3 else 0
    elderly = min(persons - minors, (h >> 15) % 3)
    disabled = int((h >> 18) % 11 == 0)
    labour_none = min(persons, disabled + int(elderly > 0 and (h >> 22) % 3 == 0))
    return {"persons": persons, "elderly": elderly, "adults": persons - elderly - minors, "minors": minors,
            "women": (persons + (h >> 25) % 2) // 2, "disabled": disabled, "labour_none": labour_none,
            "labour_partial": min(persons - labour_none, (h >> 27) % 2)}


def build(engine, households, months):
    clock.set(TODAY)
    bootstrap.demo(engine)
    m = engine.models
    Area, H, Care, Payment = m["area"], m["household"], m["care"], m["payment"]
    villages = [a.id for a in Area.select().where(Area.level == "village")]
    now = dt.datetime.now()

    def bulk(model, rows):
        with engine.db.atomic():
            batch = []
            for row in rows:
                batch.append(row)
                if len(batch) == 20000:
                    insert_rows(model, batch, list(batch[0]))
                    batch = []
            if batch:
                insert_rows(model, batch, list(batch[0]))
    bulk(H, ({"code": f"R{i:07d}", "village": villages[i % len(villages)], "head_name": f"户主{i}",
              "head_id_number": f"{370405200000000000 + i:018d}", "hukou_type": "2" if i % 3 else "1",
              "archived": False, "created_at": now, "updated_at": now, "member_count": 2, "income_per_capita": 200}
             for i in range(households)))
    first_h = H.select(H.id).where(H.code == "R0000000").scalar()
    bulk(Care, ({"household": first_h + i, "village": villages[i % len(villages)], "head_name": f"户主{i}",
                 "assistance_type": "12" if i % 3 else "11", "persons": 1 + i % 4, "monthly_amount": 600,
                 "start_month": months[0], "status": "in_care", "created_at": now, "updated_at": now}
                for i in range(households)))
    first_c = Care.select(Care.id).where(Care.household == first_h).scalar()
    people = [covered(i) for i in range(households)]
    bulk(Payment, ({"household": first_h + i, "village": villages[i % len(villages)], "care": first_c + i,
                    "assistance_type": "12" if i % 3 else "11", "month": month, "kind": "regular",
                    "amount": 600, "status": "paid", **people[i], "created_at": now, "updated_at": now}
                   for month in months for i in range(households)))
    engine.db.execute_sql("ANALYZE")
    # months before the report month are closed, as an office would have done: that writes their summaries
    for month in months:
        for township in Area.select().where(Area.level == "township"):
            payments.period(m, township, month)
            if month != MONTH:
                Period = m["payment_month"]
                Period.update(status="closed").where(Period.township == township.id, Period.month == month).execute()
                payments.summarise(m, township, month)
    return Payment.select().count()


def run(url, args, label):
    engine = Engine(url)
    engine.migrate()
    t = time.perf_counter()
    rows = build(engine, args.households, months_back(args.months))
    print(f"[{label}] built {rows:,} ledger rows in {time.perf_counter() - t:.0f} s")
    reports, _errors = report_engine.load(engine.registry)
    report = reports["dibao_monthly"]
    User = engine.models["user"]
    for username in ("admin", "town1"):
        user = User.get(User.username == username)
        samples = []
        for _ in range(3):
            t = time.perf_counter()
            _values, results = report_engine.run(engine, user, report, {"month": MONTH})
            samples.append(time.perf_counter() - t)
        print(f"[{label}] {username:<6} dibao_monthly ({len(results)} sheets): "
              f"median {statistics.median(samples):.2f} s, max {max(samples):.2f} s; "
              f"households this month {results[0].totals[1]:,}")
    engine.db.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--households", type=int, default=400_000)
    ap.add_argument("--months", type=int, default=13)
    ap.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    args = ap.parse_args()
    for label, database in databases.each(args.backend, "bench-reports"):
        with database as url:
            run(url, args, label)


if __name__ == "__main__":
    main()
