#!/usr/bin/env python
"""Per-page timing of the load benchmark's pages through the Flask test client (no HTTP server).

    .venv/bin/python bench/bench_pages.py [--backend sqlite|postgres] [--households N] [--members M]
                                          [--repeat 20] [--no-pool] [--only NAME,...]

On the data set of dataset.py (BENCH_OUT / BENCH_PG_SCHEMA as there), logged in as the county
administrator and the village assistant, it times the pages bench/load_office.py requests: the
household and member lists, an ID-number prefix search, a household's details and edit form, the
home page and the case list. Printed per page: median and p95 (ms), median CPU time of this
process (ms: steadier than wall time on a shared machine), statements run and their time.
Used to measure one change at a time (issue 12 item 7); it asserts nothing.
"""
import argparse
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, HERE)

import dataset  # noqa: E402


def pages(engine, village_user):
    Household = engine.models["household"]
    with engine.db.connection_context():
        hid = (Household.select(Household.id).where(Household.village == village_user.area_id)
               .order_by(Household.id).limit(1).scalar())
        Member = engine.models["member"]
        full_id = Member.select(Member.id_number).where(Member.household == hid).limit(1).scalar()
    return [
        ("household list", "/admin/household/?page=3"),
        ("member list", "/admin/member/"),
        ("member ID prefix 37040519", "/admin/member/?search=37040519"),
        ("member ID prefix 3704051975", "/admin/member/?search=3704051975"),
        ("member ID prefix 37040519600", "/admin/member/?search=37040519600"),
        ("member full ID number", f"/admin/member/?search={full_id}"),
        ("household details", f"/admin/household/details/?id={hid}"),
        ("household edit form", f"/admin/household/edit/?id={hid}"),
        ("home", "/admin/"),
        ("case list", "/admin/case/"),
    ]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--households", type=int, default=100000)
    ap.add_argument("--members", type=int, default=250000)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--no-pool", action="store_true", help="open a new connection per request")
    ap.add_argument("--only", help="comma-separated page names (substrings)")
    ap.add_argument("--users", default="county,township,village")
    args = ap.parse_args()
    if args.backend == "sqlite":
        url, _meta = dataset.prepare_sqlite(args.households, args.members)
    else:
        url = dataset.pg_url()            # made by bench_core.py --backend postgres (kept until the next run)
    from app import create_app
    app = create_app({"DATABASE_URL": url, "TESTING": True, "SECRET_KEY": "x", "MIGRATE_ON_START": False,
                      "DATABASE_POOL": not args.no_pool})
    engine = app.extensions["jiuzhu"]
    sqllog = dataset.SqlLog(engine.db)
    User = engine.models["user"]
    with engine.db.connection_context():
        dataset.ensure_users(engine)
        village_user = User.get(User.username == dataset.USERS["village"][0])
    wanted = args.only.split(",") if args.only else None
    print(f"bench_pages: {args.backend}, {args.households:,} households, pool {'off' if args.no_pool else 'on'}, "
          f"{args.repeat} requests per page; code at {dataset.git_revision()}; load {os.getloadavg()}")
    for user in args.users.split(","):
        client = dataset.login(app, dataset.USERS[user][0])
        for name, u in pages(engine, village_user):
            if wanted and not any(w in name for w in wanted):
                continue
            for _ in range(2):
                r = client.get(u)
                if r.status_code != 200:
                    raise SystemExit(f"GET {u} -> {r.status_code}")
            queries = sqllog.capture(lambda: client.get(u).get_data())
            times, cpu = [], []
            for _ in range(args.repeat):
                t, c = time.perf_counter(), time.process_time()
                client.get(u).get_data()
                times.append((time.perf_counter() - t) * 1000)
                cpu.append((time.process_time() - c) * 1000)
            print(f"  {user:<7} {name:<28} median {statistics.median(times):7.1f}  "
                  f"p95 {dataset.pct(times, 95):7.1f}  cpu {statistics.median(cpu):6.1f} ms  sql {sum(q[0] for q in queries):7.1f} ms"
                  f"/{len(queries):>3}q", flush=True)
            if os.environ.get("BENCH_SQL"):
                for ms, sql, _params in sorted(queries, key=lambda q: -q[0])[:int(os.environ["BENCH_SQL"])]:
                    print(f"      {ms:7.1f} ms  {sql[:300]}")


if __name__ == "__main__":
    main()
