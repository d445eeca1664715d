"""Import benchmark: N households with M members in one workbook, checked and committed on SQLite.

    .venv/bin/python bench/bench_import.py [--households 40000] [--members 100000] [--backend sqlite|postgres]

Prints the time to build the workbook, to check it (dry run) and to check + commit it, and the peak
RSS of the process doing the import (target from issue 6: under 20 s and 500 MB on SQLite).
"""
import argparse
import datetime as dt
import os
import random
import resource
import sys
import tempfile
import time

import xlsxwriter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from schema import idnumber  # noqa: E402
from casework.engine import Engine  # noqa: E402
from casework.core.imports import Importer  # noqa: E402
from reports.template import columns_of, header_text  # noqa: E402
from seeds import bootstrap  # noqa: E402


def build_workbook(engine, path, households, members):
    rng = random.Random(7)
    villages = ["中心社区", "古城社区", "西关村"]
    book = xlsxwriter.Workbook(path, {"constant_memory": True, "strings_to_numbers": False})
    hs, ms = book.add_worksheet("家庭户"), book.add_worksheet("家庭成员")
    hcols = [f.name for f in columns_of(engine.registry, "household", engine.registry.entities["household"])]
    mcols = [f.name for f in columns_of(engine.registry, "household", engine.registry.entities["member"])]
    hs.write_row(0, 0, [header_text(engine.registry.entities["household"].field(c)) for c in hcols])
    ms.write_row(0, 0, [header_text(engine.registry.entities["member"].field(c)) for c in mcols])
    used, mrow = set(), 1
    per = members / households
    for i in range(households):
        code = f"B{i:07d}"
        size = max(1, int(per + rng.random() * 2 - 0.5)) if i < households - 1 else max(1, members - mrow + 1)
        size = min(size, members - mrow + 1 - (households - i - 1)) or 1
        people = []
        for k in range(size):
            while True:
                birth = dt.date(rng.randint(1930, 2020), rng.randint(1, 12), rng.randint(1, 28))
                number = idnumber.make("370405", birth, rng.randint(1, 999))
                if number not in used:
                    used.add(number)
                    break
            people.append(number)
        row = {"code": code, "village": villages[i % 3], "head_name": f"户主{i}", "head_id_number": people[0],
               "hukou_type": "农村", "address": f"某村{i}号", "phone": "13800000000"}
        hs.write_row(i + 1, 0, [row.get(c, "") for c in hcols])
        for k, number in enumerate(people):
            m = {"household": code, "name": f"成员{i}-{k}", "id_number": number,
                 "relation": "户主" if k == 0 else "子", "monthly_income": str(rng.choice([0, 300, 800]))}
            ms.write_row(mrow, 0, [m.get(c, "") for c in mcols])
            mrow += 1
    book.close()
    return mrow - 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--households", type=int, default=40000)
    ap.add_argument("--members", type=int, default=100000)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="jiuzhu-bench-import-")
    db = os.path.join(work, "bench.db")
    engine = Engine(f"sqlite:///{db}")
    engine.migrate()
    bootstrap.minimal(engine, "370405", "台儿庄区", "bench-pass-1")
    A = engine.models["area"]
    county = A.get(A.code == "370405")
    town = A.create(code="370405001", name="运河街道", level="township", parent=county)
    for code, name in [("370405001001", "中心社区"), ("370405001002", "古城社区"), ("370405001201", "西关村")]:
        A.create(code=code, name=name, level="village", parent=town)
    user = engine.models["user"].get(engine.models["user"].username == "admin")
    path = os.path.join(work, "import.xlsx")
    t = time.perf_counter()
    n_members = build_workbook(engine, path, args.households, args.members)
    print(f"workbook: {args.households:,} households, {n_members:,} members, "
          f"{os.path.getsize(path) / 1e6:.1f} MB, built in {time.perf_counter() - t:.1f} s")
    with open(path, "rb") as fh:
        data = fh.read()
    t = time.perf_counter()
    out = Importer(engine, "household", user).run(data, "import.xlsx", dry_run=True)
    check = time.perf_counter() - t
    print(f"check (dry run): {check:.1f} s, rows {out.rows:,}, problems {len(out.problems)}")
    if out.problems:
        for p in out.problems[:5]:
            print("   ", p)
        return
    t = time.perf_counter()
    out = Importer(engine, "household", user).run(data, "import.xlsx")
    total = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    H, M = engine.models["household"], engine.models["member"]
    print(f"check + commit: {total:.1f} s, created {out.created:,} "
          f"(households {H.select().count():,}, members {M.select().count():,}), peak RSS {peak:.0f} MB")
    print("target: under 20 s and 500 MB for 40,000 households / 100,000 members")


if __name__ == "__main__":
    main()
