"""Streaming import benchmark: a legal roster file of about --mb megabytes (households and their
members in the demo county's villages, one row per member), checked (dry run) in a child process.

    .venv/bin/python bench/bench_import_stream.py --mb 15 --format csv|gbk|xlsx [--root DIR] [--commit]

--root: the checkout whose code imports (default: this one), so that an older commit can be measured
against the same file (`git archive <commit> | tar -x -C /tmp/before`, then --root /tmp/before).
--commit: check and write (one transaction), as the web's second step does, instead of the dry run.
Prints the child's peak memory (VmHWM from /proc/self/status), its CPU and wall seconds.
An xlsx of the same rows as a 15 MB CSV is smaller (compressed): its size is printed too; an xlsx of
15 MB itself would hold more rows than an import takes (import_max_rows).
"""
import argparse
import csv
import datetime as dt
import json
import os
import random
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VILLAGES = [("370405001001", "中心社区"), ("370405001002", "古城社区"), ("370405001201", "西关村")]
HEADER = ["户编号", "所属村（社区）", "户主姓名", "户主身份证号", "户口性质", "现住址",
          "姓名", "身份证号", "与户主关系", "月收入", "联系电话"]


def id_number(birth, serial):
    body = f"370405{birth:%Y%m%d}{serial:03d}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, weights)) % 11]


def roster_rows(target_bytes):
    """Rows of a flat roster until their CSV text reaches target_bytes (UTF-8)."""
    rng, used, size, i = random.Random(7), set(), 0, 0
    while size < target_bytes:
        code, village = f"B{i:07d}", VILLAGES[i % 3][1]
        people = []
        for _ in range(rng.choice([1, 2, 2, 3, 3, 4])):
            while True:
                number = id_number(dt.date(rng.randint(1930, 2020), rng.randint(1, 12), rng.randint(1, 28)),
                                   rng.randint(1, 999))
                if number not in used:
                    used.add(number)
                    break
            people.append(number)
        for k, number in enumerate(people):
            row = [code, village, f"户主{i}", people[0], "农村", f"运河街道某村{i}号",
                   f"户主{i}" if k == 0 else f"成员{i}-{k}", number, "户主" if k == 0 else "子",
                   str(rng.choice([0, 300, 800])), "13800000000"]
            size += len(",".join(row).encode()) + 2
            yield row
        i += 1


def build(path, fmt, mb):
    rows = roster_rows(mb * 1024 * 1024)
    if fmt == "xlsx":
        import xlsxwriter
        book = xlsxwriter.Workbook(path, {"constant_memory": True, "strings_to_numbers": False})
        sheet = book.add_worksheet("家庭户")
        sheet.write_row(0, 0, HEADER)
        n = 0
        for n, row in enumerate(rows, 1):
            sheet.write_row(n, 0, row)
        book.close()
        return n
    with open(path, "w", encoding="utf-8-sig" if fmt == "csv" else "gbk", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(HEADER)
        n = 0
        for n, row in enumerate(rows, 1):
            out.writerow(row)
    return n


def setup(root, db):
    sys.path.insert(0, root)
    from casework.engine import Engine
    from seeds import bootstrap
    engine = Engine(f"sqlite:///{db}")
    engine.migrate()
    bootstrap.minimal(engine, "370405", "台儿庄区", "Bench-pass-1!")
    Area = engine.models["area"]
    county = Area.get(Area.code == "370405")
    town = Area.create(code="370405001", name="运河街道", level="township", parent=county)
    for code, name in VILLAGES:
        Area.create(code=code, name=name, level="village", parent=town)


def child(root, db, path, commit=False):
    """The import as the web worker runs it, on this process alone: its peak memory is the import's."""
    sys.path.insert(0, root)
    from casework.engine import Engine
    from casework.core import imports, tabular
    engine = Engine(f"sqlite:///{db}")
    user = engine.models["user"].get(engine.models["user"].username == "admin")
    start, cpu = time.perf_counter(), time.process_time()
    if hasattr(tabular, "open_path"):              # the streaming reader takes the saved upload itself
        source = path
    else:
        with open(path, "rb") as fh:
            source = fh.read()
    out = imports.Importer(engine, "household", user).run(source, os.path.basename(path), dry_run=not commit)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    with open("/proc/self/status") as fh:
        peak = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:")) / 1024
    print(json.dumps({"peak_mb": round(peak, 1), "cpu_s": round(cpu, 1), "wall_s": round(wall, 1),
                      "rows": out.rows, "created": out.created, "committed": out.committed, "problems": len(out.problems),
                      "first": [p.message for p in out.problems[:3]]}, ensure_ascii=False))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=float, default=15)
    ap.add_argument("--format", choices=["csv", "gbk", "xlsx"], default="csv")
    ap.add_argument("--root", default=HERE)
    ap.add_argument("--commit", action="store_true")
    ap.add_argument("--json", action="store_true", help="also print the child's figures as one JSON line")
    ap.add_argument("--child", nargs=3, metavar=("ROOT", "DB", "FILE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(*args.child, commit=args.commit)
    work = tempfile.mkdtemp(prefix="jiuzhu-bench-stream-")
    path = os.path.join(work, "roster." + ("xlsx" if args.format == "xlsx" else "csv"))
    t = time.perf_counter()
    n = build(path, args.format, args.mb)
    print(f"{args.format}: {n:,} member rows, {os.path.getsize(path) / 1024 / 1024:.1f} MB, "
          f"built in {time.perf_counter() - t:.1f} s")
    db = os.path.join(work, "bench.db")
    subprocess.run([sys.executable, "-c", f"import sys; sys.argv=['x']; sys.path.insert(0, {HERE!r}); "
                    f"from bench.bench_import_stream import setup; setup({os.path.abspath(args.root)!r}, {db!r})"],
                   check=True, cwd=args.root)
    done = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", os.path.abspath(args.root), db, path]
                          + (["--commit"] if args.commit else []),
                          check=True, capture_output=True, text=True, cwd=args.root)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    print(json.dumps(result, ensure_ascii=False) if args.json else "", end="\n" if args.json else "")
    print(f"{'commit' if args.commit else 'dry run'} ({args.root}): peak {result['peak_mb']} MB (VmHWM), CPU {result['cpu_s']} s, "
          f"wall {result['wall_s']} s; rows {result['rows']:,}, created {result['created']:,}, "
          f"problems {result['problems']} {result['first']}")


if __name__ == "__main__":
    main()
