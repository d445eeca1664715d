"""Backups: a consistent copy while the app runs, verified, the last N kept; and restore.

SQLite: the online backup API (readers and writers carry on while it copies). PostgreSQL:
`pg_dump --format=custom` when the program is installed. Each copy is opened again and its rows
counted before it counts as a backup; the restore refuses a file that does not open.
"""
import datetime as dt
import os
import re
import shutil
import sqlite3
import subprocess
import threading
from dataclasses import dataclass, field
from urllib.parse import urlparse

import peewee as pw

NAME = re.compile(r"^jiuzhu-(\d{8}-\d{6})\.(db|dump)$")


class BackupError(Exception):
    """A backup or a restore that could not be done; the message says why, in Chinese."""


@dataclass
class Backup:
    path: str
    at: dt.datetime
    size: int = 0
    rows: dict = field(default_factory=dict)      # table → rows in the copy
    removed: list = field(default_factory=list)   # older copies removed to keep the last N

    @property
    def name(self):
        return os.path.basename(self.path)

    def describe(self):
        total = sum(self.rows.values())
        return (f"已备份到 {self.path}（{self.size / 1024 / 1024:.1f} MB，{len(self.rows)} 张表共 {total} 行，"
                f"已核对可以打开）")


def default_dir(engine):
    return os.environ.get("BACKUP_DIR") or os.path.join(_instance_dir(), "backups")


def _instance_dir():
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "instance")


def _sqlite_path(engine):
    return engine.db.database if isinstance(engine.db, pw.SqliteDatabase) else None


def tables(engine):
    return [m._meta.table_name for m in engine.models] + [m._meta.table_name for m in engine.system.all()]


def backup(engine, to_dir=None, now=None):
    """Write, verify and keep a copy; return the Backup. Older copies beyond `backup_keep` go."""
    to_dir = to_dir or default_dir(engine)
    os.makedirs(to_dir, exist_ok=True)
    now = now or dt.datetime.now()
    stamp = now.strftime("%Y%m%d-%H%M%S")
    sqlite = _sqlite_path(engine)
    target = os.path.join(to_dir, f"jiuzhu-{stamp}.{'db' if sqlite else 'dump'}")
    partial = target + ".part"
    try:
        if sqlite:
            _copy_sqlite(sqlite, partial)
            rows = _count_sqlite(partial, tables(engine))
        else:
            _pg_dump(engine, partial)
            rows = _count_dump(partial, tables(engine))
        os.replace(partial, target)
    finally:
        if os.path.exists(partial):
            os.remove(partial)
    result = Backup(path=target, at=now.replace(microsecond=0), size=os.path.getsize(target), rows=rows)
    result.removed = _prune(to_dir, engine.settings.get("backup_keep"))
    return result


def _copy_sqlite(source, target):
    src = sqlite3.connect(source, timeout=30)
    dst = sqlite3.connect(target)
    try:
        # pages=0: one step, a consistent snapshot even while other connections write
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def _count_sqlite(path, names):
    """Open the copy, check it, count the rows of every known table."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            status = conn.execute("PRAGMA quick_check").fetchone()[0]
            if status != "ok":
                raise BackupError(f"备份文件校验未通过：{status}")
            present = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if "household" not in present and "area" not in present:
                raise BackupError(f"{os.path.basename(path)} 不是救助台账的数据库")
            return {n: conn.execute(f'SELECT COUNT(*) FROM "{n}"').fetchone()[0] for n in names if n in present}
        finally:
            conn.close()
    except sqlite3.DatabaseError as e:
        raise BackupError(f"备份文件无法打开：{e}") from None


def _pg_args(engine):
    url = urlparse(engine.database_url)
    args = ["--host", url.hostname or "127.0.0.1", "--port", str(url.port or 5432)]
    if url.username:
        args += ["--username", url.username]
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = url.password
    schema = engine.db.execute_sql("SELECT current_schema()").fetchone()[0]
    return args, env, url.path.lstrip("/"), schema


def _program(name):
    path = shutil.which(name)
    if not path:
        raise BackupError(f"找不到 {name}：请在服务器上安装 PostgreSQL 客户端程序（与数据库同一版本）")
    return path


def _pg_dump(engine, target):
    args, env, dbname, schema = _pg_args(engine)
    cmd = [_program("pg_dump"), *args, "--format=custom", "--no-owner", "--schema", schema, "--file", target, dbname]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"pg_dump 失败：{done.stderr.strip()}")


def _count_dump(path, names):
    """Read the dump back (pg_restore to a stream, no database touched) and count each table's rows."""
    proc = subprocess.Popen([_program("pg_restore"), "--data-only", "--file", "-", path],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    rows, current = {}, None
    copy = re.compile(r'^COPY (?:"?[^ ."]+"?\.)?"?([^ "(]+)"? ')
    for line in proc.stdout:
        if current is None:
            m = copy.match(line)
            if m:
                current = m.group(1)
                rows[current] = 0
        elif line.startswith("\\."):
            current = None
        else:
            rows[current] += 1
    err = proc.stderr.read()
    if proc.wait() != 0:
        raise BackupError(f"备份文件无法打开：{err.strip()}")
    missing = [n for n in names if n not in rows]
    if missing:
        raise BackupError(f"备份文件缺少表：{'、'.join(missing)}")
    return {n: rows[n] for n in names}


def _prune(folder, keep):
    copies = sorted(f for f in os.listdir(folder) if NAME.match(f))
    removed = copies[:-keep] if keep and len(copies) > keep else []
    for name in removed:
        os.remove(os.path.join(folder, name))
    return removed


def listing(folder):
    """[(name, time, size)] of the copies in a folder, newest first."""
    if not os.path.isdir(folder):
        return []
    out = []
    for name in os.listdir(folder):
        m = NAME.match(name)
        if m:
            out.append((name, dt.datetime.strptime(m.group(1), "%Y%m%d-%H%M%S"),
                        os.path.getsize(os.path.join(folder, name))))
    return sorted(out, key=lambda r: r[1], reverse=True)


def restore(engine, path, now=None):
    """Replace the database with a backup; the replaced one is kept aside. Returns (kept, rows)."""
    if not os.path.isfile(path):
        raise BackupError(f"找不到备份文件 {path}")
    now = now or dt.datetime.now()
    stamp = now.strftime("%Y%m%d-%H%M%S")
    sqlite = _sqlite_path(engine)
    if sqlite:
        if not path.endswith(".db"):
            raise BackupError("当前使用 SQLite，只能从 .db 备份恢复")
        rows = _count_sqlite(path, tables(engine))
        engine.db.close()
        kept = f"{sqlite}.replaced-{stamp}"
        if os.path.exists(sqlite):
            _copy_sqlite(sqlite, kept)
        # into the live file through the backup API: WAL and open readers stay consistent
        _copy_sqlite(path, sqlite)
        return kept, rows
    if not path.endswith(".dump"):
        raise BackupError("当前使用 PostgreSQL，只能从 .dump 备份恢复")
    _count_dump(path, tables(engine))
    kept = backup(engine, os.path.join(default_dir(engine), "replaced"), now=now).path
    args, env, dbname, schema = _pg_args(engine)
    engine.db.close()
    cmd = [_program("pg_restore"), *args, "--clean", "--if-exists", "--no-owner", "--single-transaction",
           "--dbname", dbname, path]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"pg_restore 失败（数据库未改动）：{done.stderr.strip()}")
    return kept, {}


# -- the daily copy made by the server itself ----------------------------------------------------------

def due(engine, folder, now=None):
    copies = listing(folder)
    hours = engine.settings.get("backup_interval_hours")
    if not hours:
        return False
    now = now or dt.datetime.now()
    return not copies or now - copies[0][1] >= dt.timedelta(hours=hours)


def start_daily(engine, folder=None, check_seconds=600, log=print):
    """A daemon thread in the serving process: every check_seconds, back up if the newest copy is
    older than `backup_interval_hours`. One office PC needs no second service or scheduled task."""
    folder = folder or default_dir(engine)
    stop = threading.Event()

    def loop():
        while not stop.is_set():
            try:
                if due(engine, folder):
                    log(backup(engine, folder).describe())
            except Exception as e:        # noqa: BLE001 - a failed backup must not stop serving
                log(f"自动备份失败：{e}")
            finally:
                if not engine.db.is_closed():
                    engine.db.close()
            stop.wait(check_seconds)

    thread = threading.Thread(target=loop, name="jiuzhu-backup", daemon=True)
    thread.start()
    return stop
