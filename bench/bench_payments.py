"""Payment run benchmark: 400,000 households in care in one township, the month's run and bank list.

    .venv/bin/python bench/bench_payments.py [--households 400000] [--backend sqlite|postgres|both]

Builds the demo county, then households with their members (1–3, 2 on average, born 1935–2020, valid
id numbers, some disabled or with reduced labour capacity: the run counts them into each line), care
rows and their 新增 changes in bulk (a tenth of them with a later 调增), and times: the run for the
month (every line written in one transaction), the run again (idempotent: nothing new), the bank
list export through the app's writer against plain XlsxWriter writing the same cells, with the peak
RSS of each measured in its own subprocess.
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
from schema import clock  # noqa: E402

MONTH = "2026-11"
# the demo county's history is relative to its clock (past months run, paid and closed, this one open):
# built as of a day in MONTH, whatever the date today, so that MONTH is still open and the figures compare
TODAY = dt.date(2026, 11, 23)


class Members:
    """The members of bench household i, head first: 1, 2, 2 or 3 people (2 on average), born 1935–2020,
    with valid 18-digit id numbers (GB 11643 check digit, birth date and sex coded in), unique also
    against the demo county's members, and some disabilities and reduced labour capacity."""
    SIZES = (1, 2, 2, 3)
    REGIONS = ("370405", "370481", "370402", "370404")   # 台儿庄区 first; the next only when a day is full
    EPOCH, LAST = dt.date(1935, 1, 1), dt.date(2020, 12, 31)
    ON = dt.date(int(MONTH[:4]), int(MONTH[5:7]), 1)

    def __init__(self, taken=()):
        import random
        self.rng = random.Random(20261101)
        self.taken = set(taken)
        self.used = {}                                      # (birth date, sex) → numbers given out

    def day(self, first_year, last_year):
        lo = max(dt.date(first_year, 1, 1), self.EPOCH)
        hi = min(dt.date(last_year, 12, 31), self.LAST)
        return lo + dt.timedelta(days=self.rng.randrange((hi - lo).days + 1))

    def id_number(self, birth, sex):
        from schema.idnumber import check_digit
        while True:
            n = self.used.get((birth, sex), 0)
            self.used[(birth, sex)] = n + 1
            order = 2 * (n % 500) + (1 if sex == "1" else 0)   # odd for men, even for women
            first17 = f"{self.REGIONS[n // 500]}{birth:%Y%m%d}{order:03d}"
            number = first17 + check_digit(first17)
            if number not in self.taken:
                return number

    def person(self, i, k, relation, birth, sex):
        age = self.ON.year - birth.year - ((self.ON.month, self.ON.day) < (birth.month, birth.day))
        r = self.rng.random()
        disability = self.rng.choice("1234567") if r < 0.09 else None
        if age < 16:
            labour = "4"
        elif age >= 60:
            labour = "3" if r < 0.15 else "2" if r < 0.45 else "4"
        elif disability:
            labour = "3" if r < 0.05 else "2"
        else:
            labour = "2" if r < 0.2 else "3" if r < 0.25 else None if r < 0.28 else "1"
        return {"name": f"户主{i}" if k == 0 else f"成员{i}-{k}", "id_number": self.id_number(birth, sex),
                "sex": sex, "birth_date": birth, "relation": relation, "ethnicity": "01", "hukou_type": "2",
                "disability_class": disability, "labour_capacity": labour,
                "health": "20" if disability else "10", "archived": False}

    def family(self, i):
        size = self.SIZES[i % 4]
        head_sex = "1" if self.rng.random() < 0.75 else "2"
        head = self.day(1935, 1998)
        out = [self.person(i, 0, "02", head, head_sex)]
        if size == 3 or (size == 2 and self.rng.random() < 0.75):
            spouse = self.day(head.year - 5, head.year + 5)
            out.append(self.person(i, len(out), "10", spouse, "2" if head_sex == "1" else "1"))
        while len(out) < size:
            sex = self.rng.choice("12")
            child = self.day(head.year + 20, head.year + 40)
            out.append(self.person(i, len(out), "20" if sex == "1" else "30", child, sex))
        return out


def build(url, households):
    from casework.engine import Engine
    from schema.models import insert_rows
    from seeds import bootstrap
    engine = Engine(url)
    engine.migrate()
    clock.set(TODAY)
    bootstrap.demo(engine)
    m = engine.models
    Area, H, Care, Change, Member = m["area"], m["household"], m["care"], m["care_change"], m["member"]
    town = Area.get(Area.code == "370405101")
    villages = [a.id for a in Area.select().where(Area.parent == town.id)]
    now = dt.datetime.now()
    # households and their members a chunk at a time (ids are consecutive, the first read once)
    people = Members(taken=[n for (n,) in Member.select(Member.id_number).tuples()])
    first, sizes = None, []
    with engine.db.atomic():
        for s in range(0, households, 5000):
            rows, members = [], []
            for i in range(s, min(s + 5000, households)):
                family = people.family(i)
                sizes.append(len(family))
                rows.append({"code": f"P{i:07d}", "village": villages[i % len(villages)], "head_name": f"户主{i}",
                             "head_id_number": family[0]["id_number"], "hukou_type": "2", "archived": False,
                             "account_name": f"户主{i}", "bank_name": "台儿庄农商银行",
                             "bank_account": None if i % 50 == 0 else f"62284800{i:011d}",
                             "created_at": now, "updated_at": now, "member_count": len(family),
                             "income_per_capita": 200})
                members += [dict(member, household=i, created_at=now, updated_at=now) for member in family]
            insert_rows(H, rows, list(rows[0]))
            if first is None:
                first = H.select(H.id).where(H.code == "P0000000").scalar()
            for member in members:
                member["household"] += first
            insert_rows(Member, members, list(members[0]))
    cares = [{"household": first + i, "village": villages[i % len(villages)], "head_name": f"户主{i}",
              "assistance_type": "12", "persons": sizes[i], "monthly_amount": 1080, "start_month": "2026-01",
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
    return engine, town, sum(sizes)


def child(url, what, out):
    """One measured step in its own process, so that its peak RSS is its own."""
    from casework.engine import Engine
    from casework.funds import payments
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
    engine, _town, members = build(url, args.households)
    engine.db.close()
    print(f"[{label}] built {args.households:,} households in care ({members:,} members) "
          f"in {time.perf_counter() - t:.1f} s")
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
