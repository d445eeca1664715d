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
import os
import re
import resource
import shlex
import statistics
import subprocess
import sys
import time
from urllib.parse import urlencode

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from casework.engine import Engine  # noqa: E402
import dataset  # noqa: E402
from dataset import (COUNTY_CODE, OUT, USERS, SqlLog, git_revision, login, pct, pg_lock,  # noqa: E402
                     prepare_postgres, prepare_sqlite)

LIST_TARGET_MS = 100.0
EXPLAIN_MIN_MS = 10.0                  # pages over target: EXPLAIN their slowest statement if it takes this long
EXPORT_SPEED_TARGET = 0.80
EXPORT_RSS_TARGET_MB = 150.0


# ----------------------------------------------------------------------------------------------------
# list pages

def _rows_on_page(html):
    return html.count('<td class="list-buttons-column')


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
    return {"median": statistics.median(times), "p95": pct(times, 95), "cpu": statistics.median(cpu),
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
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    ap.add_argument("--households", type=int, default=400000)
    ap.add_argument("--members", type=int, default=1000000)
    ap.add_argument("--repeat", type=int, default=20, help="timed requests per URL (default 20)")
    ap.add_argument("--skip-export", action="store_true")
    ap.add_argument("--skip-lists", action="store_true", help="only the export")
    ap.add_argument("--regen", action="store_true", help="regenerate the cached SQLite file")
    ap.add_argument("--json", help="also write all figures to this file")
    ap.add_argument("--pg-schema", default=dataset.PG_SCHEMA,
                    help=f"PostgreSQL schema to (re)create (default {dataset.PG_SCHEMA})")
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
    dataset.PG_SCHEMA = args.pg_schema
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
