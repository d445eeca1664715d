#!/usr/bin/env python
"""A/B of each issue-12 speed-up on one page, interleaved request by request (so that other work on a
shared machine weighs on both sides alike), through the Flask test client on dataset.py's data:

    BENCH_OUT=/tmp/x .venv/bin/python bench/bench_ab.py [--households N] [--members M] [--runs 30]

Each line: the page, then per side the minimum and median wall time (ms) and statements per request.
The "off" side turns the speed-up off in the running app (a setting at 0, the pool not used, the
settings read one by one, the sorted search plan); it asserts nothing.
"""
import argparse
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import dataset  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--households", type=int, default=100000)
    ap.add_argument("--members", type=int, default=250000)
    ap.add_argument("--runs", type=int, default=30)
    args = ap.parse_args()
    url, _meta = dataset.prepare_sqlite(args.households, args.members)
    from app import create_app
    apps = {pool: create_app({"DATABASE_URL": url, "TESTING": True, "SECRET_KEY": "x", "MIGRATE_ON_START": False,
                              "DATABASE_POOL": pool}) for pool in (True, False)}
    app = apps[True]
    engine = app.extensions["jiuzhu"]
    logs = {pool: dataset.SqlLog(a.extensions["jiuzhu"].db) for pool, a in apps.items()}
    clients = {pool: dataset.login(a, "bench_county") for pool, a in apps.items()}
    member_view = next(v for v in app.extensions["admin"][0]._views if getattr(v, "endpoint", None) == "member")
    settings = engine.settings
    begin_once = settings.begin_once

    def setting(key, value):
        with engine.db.connection_context():
            settings.set(key, value, by="bench")

    def walk(on):
        if on:
            member_view.__dict__.pop("_walk_order", None)
        else:
            member_view._walk_order = lambda *a: False

    def once(on):
        settings.begin_once = begin_once if on else (lambda: settings._snapshot.set(None))

    cases = [
        ("kept SQLite connection", "/admin/case/", None),
        ("settings read once", "/admin/household/?page=3", once),
        ("area filter options kept", "/admin/household/?page=3",
         lambda on: setting("area_options_cache_seconds", 60 if on else 0)),
        ("home totals kept", "/admin/", lambda on: setting("home_count_cache_seconds", 60 if on else 0)),
        ("ID prefix walks the order", "/admin/member/?search=37040519", walk),
    ]
    print(f"bench_ab: {args.households:,} households, {args.runs} interleaved runs a side; "
          f"code at {dataset.git_revision()}; load {os.getloadavg()}")
    for label, u, toggle in cases:
        res = {True: [], False: []}
        queries = {}
        for i in range(args.runs + 2):
            for on in (True, False):
                pool = on if toggle is None else True
                if toggle is not None:
                    toggle(on)
                client, log = clients[pool], logs[pool]
                t = time.perf_counter()
                sql = log.capture(lambda: client.get(u).get_data())
                if i >= 2:                       # the first two: warm-up
                    res[on].append((time.perf_counter() - t) * 1000)
                    queries[on] = len(sql)
        if toggle is not None:
            toggle(True)
        print(f"  {label:<28} {u:<34} on: min {min(res[True]):6.1f} median {statistics.median(res[True]):6.1f} ms "
              f"{queries[True]:>2}q   off: min {min(res[False]):6.1f} median {statistics.median(res[False]):6.1f} ms "
              f"{queries[False]:>2}q", flush=True)


if __name__ == "__main__":
    main()
