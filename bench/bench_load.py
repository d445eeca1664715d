#!/usr/bin/env python
"""Load benchmark: many clerks at once against a real HTTP server, on the data set of dataset.py.

    .venv/bin/python bench/bench_load.py [--backend sqlite|postgres|both] [--households N] [--members M]
                                         [--users 30,60] [--seconds 60]

SQLite is served as `python app.py` serves it (waitress, 8 threads); PostgreSQL by gunicorn
(3 workers x 4 threads), both on 127.0.0.1 only. The workload (bench/load_office.py) runs in Locust,
headless, on the same machine: list pages, ID searches, details, the home page, the case list and
household saves. Printed per request: count, failures, p50/p95/p99 (ms), requests/s, and every
distinct error. Nothing is asserted.

Figures count from the moment the last clerk has logged in (logins hash passwords); a page that
redirects to /login is a failure. The clerks share three accounts, so `session_single` is set to 0 for
the run, as is the automatic backup.

Measured 2026-12-04 evening on a quiet machine (load average < 2 before each run), 400,000 households /
1,000,000 members (built by dataset.py in 3 min on SQLite, 4 min on PostgreSQL), 75-90 s a run:
    BENCH_OUT=/tmp/benchout .venv/bin/python bench/bench_load.py --backend sqlite --households 400000 \
        --members 1000000 --users 30,60 --seconds 75 --locust /tmp/bench-locust/bin/locust
    ... --backend postgres --reuse-pg --gunicorn-path /tmp/bench-gunicorn
  County and village clerks only (load_office.py before the township clerk was added, code cd2d927):
    SQLite      30 users: 1,359 requests, 0 failed, p50 40 ms, p95 140 ms (worst page: home 230 ms);
                60 users: 0 failed, p50 59 ms, p95 280 ms (home 380, details 360, ID search 310 ms).
    PostgreSQL  30 users: 1,341 requests, 0 failed, p50 40 ms, p95 140 ms (ID search 310 ms);
                60 users: 0 failed, p50 78 ms, p95 440 ms.
  With the township clerk (a quarter of the users work over 40 villages), code d3df289 (counts kept
  until rows come or go, the township's list total kept, the ID-number range alone):
    SQLite      30 users: 1,151 requests, 0 failed, p50 24 ms, p95 94 ms (worst page: ID search 150 ms);
                60 users: 2,093 requests, 0 failed, p50 43 ms, p95 230 ms (ID search 260 ms).
    PostgreSQL  30 users: 1,125 requests, 0 failed, p50 25 ms, p95 78 ms (ID search 170 ms);
                60 users: 2,198 requests, 0 failed, p50 31 ms, p95 120 ms (ID search 190 ms).
  (The same workload at cc8a2e0, before those three changes: SQLite 30 users p95 140 ms, 60 users
  700 ms; PostgreSQL 30 users p95 350 ms with the township's home 490 ms and ID search 460 ms.)
Every page's p95 is under the 300 ms target at 30 and 60 users on both databases; per page: bench_pages.py, per change: bench_ab.py.

Tools (not needed by the app or its tests; how to install them: bench/requirements-bench.txt):
    locust   --locust PATH      default: `locust` on PATH, else /tmp/bench12-locust/bin/locust
    gunicorn --gunicorn-path D  a folder holding the gunicorn package (pip install --target D gunicorn)
"""
import argparse
import csv
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, HERE)

import dataset  # noqa: E402
from casework.engine import Engine  # noqa: E402

TARGET_P95_MS = 300.0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def quiet_settings(url):
    """No automatic backup of a benchmark database while it is being measured; and the simulated
    clerks share two accounts, so one account may be signed in many times (with the default
    `session_single` each login ends the others' sessions and their pages redirect to /login)."""
    e = Engine(url)
    e.migrate()            # here, once: gunicorn's workers each migrating at start race on PostgreSQL
    dataset.ensure_users(e)    # a data set made before the township user was added gets it
    e.settings.set("backup_interval_hours", 0, by="bench")
    e.settings.set("session_single", 0, by="bench")
    e.db.close()


def start_server(backend, url, port, gunicorn_path, sqlite_gunicorn=False):
    env = dict(os.environ, DATABASE_URL=url, HOST="127.0.0.1", PORT=str(port), SECRET_KEY="bench-load-secret",
               THREADS="8", BACKUP_DIR=tempfile.mkdtemp(prefix="bench-load-backups-"))
    if backend == "sqlite" and not sqlite_gunicorn:
        cmd = [sys.executable, os.path.join(ROOT, "app.py")]
    else:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (gunicorn_path, env.get("PYTHONPATH")) if p)
        cmd = [sys.executable, "-m", "gunicorn", "-w", "3", "--threads", "4", "-b", f"127.0.0.1:{port}",
               # keep-alive longer than a clerk's pause: with gunicorn's 2 s default the server closes
               # an idle connection just as the client reuses it, and the client sees "connection reset"
               "--keep-alive", "75", "--timeout", "120",
               # three workers migrating at once failed to boot ("tuple concurrently updated"):
               # quiet_settings() has migrated already
               "app:create_app({'MIGRATE_ON_START': False})"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    deadline = time.time() + 180
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {proc.stdout.read()[-2000:]}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2).read()
            return proc
        except OSError:
            time.sleep(0.5)
    stop_server(proc)
    raise SystemExit("server did not answer within 180 s")


def stop_server(proc):
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)


def run_locust(locust, port, users, seconds, prefix):
    cmd = [locust, "-f", os.path.join(HERE, "load_office.py"), "--headless", "-u", str(users),
           "-r", str(max(1, users // 5)), "-t", f"{seconds}s", "--host", f"http://127.0.0.1:{port}",
           "--csv", prefix, "--only-summary", "--stop-timeout", "10",
           # the logins (password hashing, ~0.1 s of CPU each) happen while users are spawned: the
           # figures count from the moment all of them are in
           "--reset-stats"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 180)
    if not os.path.exists(prefix + "_stats.csv"):
        raise SystemExit(f"locust failed: {done.stderr[-2000:]}")


def read_stats(prefix):
    with open(prefix + "_stats.csv", newline="") as fh:
        stats = list(csv.DictReader(fh))
    failures = []
    if os.path.exists(prefix + "_failures.csv"):
        with open(prefix + "_failures.csv", newline="") as fh:
            failures = list(csv.DictReader(fh))
    return stats, failures


def report(label, users, stats, failures, seconds):
    print(f"\n== {label}, {users} users, {seconds} s ==")
    print(f"{'request':44} {'n':>6} {'fail':>5} {'p50':>6} {'p95':>6} {'p99':>6} {'req/s':>6}")
    over = []
    for row in stats:
        if row["Request Count"] in ("0", ""):
            continue                      # e.g. the logins, all made before the figures were reset
        name = row["Name"] if row["Name"] != "Aggregated" else "ALL"
        p95 = float(row["95%"]) if row["95%"] not in ("", "N/A") else 0.0
        print(f"{name[:44]:44} {row['Request Count']:>6} {row['Failure Count']:>5} {row['50%']:>6} "
              f"{row['95%']:>6} {row['99%']:>6} {float(row['Requests/s']):6.1f}")
        if name not in ("ALL", "/login", "/login [POST]") and p95 > TARGET_P95_MS:
            over.append(f"{name} p95 {p95:.0f} ms")
    for f in failures:
        print(f"  ERROR {f['Method']} {f['Name']}: {f['Error']} x{f['Occurrences']}")
    total_fail = sum(int(r["Failure Count"]) for r in stats if r["Name"] == "Aggregated")
    print(f"  failed requests: {total_fail}; over p95 {TARGET_P95_MS:.0f} ms: {', '.join(over) or 'none'}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    ap.add_argument("--households", type=int, default=400000)
    ap.add_argument("--members", type=int, default=1000000)
    ap.add_argument("--users", default="30,60", help="comma-separated numbers of simulated clerks")
    ap.add_argument("--seconds", type=int, default=60, help="length of each run")
    ap.add_argument("--locust", default=shutil.which("locust") or "/tmp/bench12-locust/bin/locust")
    ap.add_argument("--gunicorn-path", default=os.environ.get("GUNICORN_PATH", "/tmp/bench12-gunicorn"))
    ap.add_argument("--reuse-pg", action="store_true",
                    help="use the PostgreSQL schema a previous run generated (BENCH_PG_SCHEMA) instead of a new one")
    ap.add_argument("--sqlite-gunicorn", action="store_true",
                    help="serve SQLite by gunicorn (3 x 4) too, instead of waitress's single process")
    args = ap.parse_args()
    users = [int(u) for u in args.users.split(",")]
    print(f"code {dataset.git_revision()}; data {args.households:,} households / {args.members:,} members")
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    for backend in backends:
        lock = None
        if backend == "sqlite":
            url, _meta = dataset.prepare_sqlite(args.households, args.members)
        else:
            lock = dataset.pg_lock()
            if args.reuse_pg:
                url = dataset.pg_url()
                print(f"  reusing schema {dataset.PG_SCHEMA} as the previous run left it")
            else:
                url, _meta = dataset.prepare_postgres(args.households, args.members)
        quiet_settings(url)
        port = free_port()
        server = start_server(backend, url, port, args.gunicorn_path, args.sqlite_gunicorn)
        label = ("gunicorn + SQLite (3 x 4)" if args.sqlite_gunicorn else "waitress + SQLite (8 threads)") \
            if backend == "sqlite" else "gunicorn + PostgreSQL (3 x 4)"
        try:
            for n in users:
                prefix = os.path.join(tempfile.mkdtemp(prefix="bench-load-"), f"{backend}_{n}")
                run_locust(args.locust, port, n, args.seconds, prefix)
                stats, failures = read_stats(prefix)
                report(label, n, stats, failures, args.seconds)
        finally:
            stop_server(server)
            if lock is not None:
                lock.close()


if __name__ == "__main__":
    main()
