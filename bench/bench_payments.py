"""Payment run benchmark: 400,000 households in care in one township, the month's run and bank list.

    .venv/bin/python bench/bench_payments.py [--households 400000] [--backend sqlite|postgres|both]

Builds the demo county, then households, care rows and their 新增 changes in bulk (a tenth of them
with a later 调增), and times: the run for the month (every line written in one transaction), the run
again (idempotent: nothing new), the bank list export through the app's writer against plain
XlsxWriter writing the same cells, with the peak RSS of each measured in its own subprocess.
Target from issue 4: the run under 30 s, the export near plain XlsxWriter speed with flat memory.
"""
import argparse
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import databases  # noqa: E402

MONTH = "2026-11"


def build(url, households):
    from casework.engine import Engine
    from schema.models import insert_rows
    from seeds import bootstrap
    engine = Engine(url)
    engine.migrate()
    bootstrap.demo(engine)
    m = engine.models
    Area, H, Care, Change = m["area"], m["household"], m["care"], m["care_change"]
    town = Area.get(Area.code == "370405101")
    villages = [a.id for a in Area.select().where(Area.parent == town.id)]
    now = dt.datetime.now()
    rows = [{"code": f"P{i:07d}", "village": villages[i % len(villages)], "head_name": f"户主{i}",
             "head_id_number": f"{370405100000000000 + i:018d}", "hukou_type": "2", "archived": False,
             "account_name": f"户主{i}", "bank_name": "台儿庄农商银行",
             "bank_account": None if i % 50 == 0 else f"62284800{i:011d}",
             "created_at": now, "updated_at": now, "member_count": 2, "income_per_capita": 200}
            for i in range(households)]
    with engine.db.atomic():
        for s in range(0, len(rows), 5000):
            insert_rows(H, rows[s:s + 5000], list(rows[0]))
    first = H.select(H.id).where(H.code == "P0000000").scalar()
    cares = [{"household": first + i, "village": villages[i % len(villages)], "head_name": f"户主{i}",
              "assistance_type": "12", "persons": 2, "monthly_amount": 1080, "start_month": "2026-01",
              "status": "in_care", "created_at": now, "updated_at": now} for i in range(households)]
    with engine.db.atomic():
        for s in range(0, len(cares), 5000):
            insert_rows(Care, cares[s:s + 5000], list(cares[0]))
    care_first = Care.select(Care.id).where(Care.household == first).scalar()
    changes = [{"care": care_first + i, "village": villages[i % len(villages)], "kind": "add",
                "effective_month": "2026-01", "new_amount": 1080, "reason": "纳入",
                "created_at": now, "updated_at": now} for i in range(households)]
    changes += [{"care": care_first + i, "village": villages[i % len(villages)], "kind": "raise",
                 "effective_month": "2026-07", "new_amount": 1120, "old_amount": 1080, "reason": "调增",
                 "created_at": now, "updated_at": now} for i in range(0, households, 10)]
    with engine.db.atomic():
        for s in range(0, len(changes), 5000):
            insert_rows(Change, changes[s:s + 5000], list(changes[0]))
    if isinstance(engine.db, __import__("peewee").PostgresqlDatabase):
        engine.db.execute_sql("ANALYZE")
    return engine, town


def child(url, what, out):
    """One measured step in its own process, so that its peak RSS is its own."""
    from casework.engine import Engine
    from casework import payments
    engine = Engine(url)
    Area, User = engine.models["area"], engine.models["user"]
    town, admin = Area.get(Area.code == "370405101"), User.get(User.username == "admin")
    start = time.perf_counter()
    if what == "run":
        r = payments.run(engine, admin, town.id, MONTH)
        detail = f"created {r.created:,}, held {r.held:,}, existing {r.existing:,}, total {r.total:,.2f}"
    elif what == "app-export":
        count, total = payments.export_bank_list(engine, admin, town, MONTH, out, dt.date.today())
        detail = f"{count:,} lines"
    else:                                   # plain XlsxWriter, the same cells from the same query
        import xlsxwriter
        rows = list(payments.bank_lines(engine, admin, town.id, MONTH))
        fetched = time.perf_counter()
        book = xlsxwriter.Workbook(out, {"constant_memory": True})
        sheet = book.add_worksheet()
        for r, row in enumerate(rows, start=7):
            for c, v in enumerate([row["id"], row["head_name"], row["head_id_number"], row["account_name"] or "",
                                   row["bank_name"] or "", row["bank_account"] or "", float(row["amount"]), "农村低保"]):
                (sheet.write_number if isinstance(v, (int, float)) else sheet.write_string)(r, c, v)
        book.close()
        detail = f"{len(rows):,} lines (query {fetched - start:.1f} s)"
    elapsed = time.perf_counter() - start
    # VmHWM, not ru_maxrss: Linux carries the parent's peak across exec into ru_maxrss
    with open("/proc/self/status") as fh:
        peak = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM")) / 1024
    print(f"{elapsed:.2f}|{peak:.0f}|{detail}")


def measure(url, what, label, households):
    out = os.path.join(tempfile.mkdtemp(), "list.xlsx")
    res = subprocess.run([sys.executable, __file__, "--child", what, "--url", url, "--out", out],
                         capture_output=True, text=True, check=True)
    elapsed, peak, detail = res.stdout.strip().splitlines()[-1].split("|", 2)
    rate = households / float(elapsed)
    print(f"[{label}] {what:<12} {float(elapsed):6.2f} s  {rate:9,.0f} rows/s  peak RSS {peak} MB  ({detail})")
    return float(elapsed)


def run(url, args, label):
    t = time.perf_counter()
    engine, _town = build(url, args.households)
    engine.db.close()
    print(f"[{label}] built {args.households:,} households in care in {time.perf_counter() - t:.1f} s")
    measure(url, "run", label, args.households)
    measure(url, "run", label + " again", args.households)
    app = measure(url, "app-export", label, args.households)
    plain = measure(url, "plain-export", label, args.households)
    print(f"[{label}] export speed: app {plain / app:.0%} of plain XlsxWriter")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--households", type=int, default=400_000)
    ap.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    ap.add_argument("--child")
    ap.add_argument("--url")
    ap.add_argument("--out")
    args = ap.parse_args()
    if args.child:
        return child(args.url, args.child, args.out)
    for label, database in databases.each(args.backend, "bench-pay"):
        with database as url:
            run(url, args, label)

if __name__ == "__main__":
    main()
