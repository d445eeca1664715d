"""Backups: a verified copy while the app runs, the last N kept, a restore that refuses without
--yes and keeps the replaced database aside; the settings page shows and serves them."""
import datetime as dt
import os
import shutil
import threading

import pytest

from casework.core import backup, system
from schema import idnumber

from .conftest import Browser, engine_of, make_app


def seed(engine, n=5):
    A, H = engine.models["area"], engine.models["household"]
    token = system.actor.set((None, "测试", None))
    county = A.create(code="370405", name="台儿庄区", level="county")
    town = A.create(code="370405001", name="运河街道", level="township", parent=county.id)
    village = A.create(code="370405001001", name="中心社区", level="village", parent=town.id)
    for i in range(n):
        H.create(code=f"BK-{i:03d}", village=village.id, head_name=f"户主{i}", hukou_type="1",
                 head_id_number=idnumber.make("370405", dt.date(1960, 1, 1 + i), 101), phone=f"1380000{i:04d}")
    system.actor.reset(token)
    return village


def state(engine):
    H = engine.models["household"]
    return ([(h.code, h.head_name, h.phone) for h in H.select().order_by(H.code)],
            engine.system.AuditLog.select().count())


def test_backup_and_restore_round_trip(engine, tmp_path):
    if not engine.database_url.startswith("sqlite") and not shutil.which("pg_dump"):
        pytest.skip("没有 pg_dump")
    village = seed(engine)
    before = state(engine)
    made = backup.backup(engine, str(tmp_path / "bk"))
    assert os.path.exists(made.path) and made.rows["household"] == 5 and made.rows["audit_log"] == before[1]
    assert "已核对可以打开" in made.describe()
    H = engine.models["household"]
    H.delete().where(H.code == "BK-000").execute()
    H.create(code="BK-NEW", village=village.id, head_name="后来的", hukou_type="1",
             head_id_number=idnumber.make("370405", dt.date(1970, 1, 1), 101))
    assert state(engine) != before
    kept, _rows = backup.restore(engine, made.path)
    engine.db.connect(reuse_if_open=True)
    assert state(engine) == before
    assert os.path.exists(kept)


def test_only_the_last_copies_are_kept_and_a_daily_copy_is_due(engine, tmp_path):
    seed(engine, 1)
    engine.settings.set("backup_keep", 2)
    folder = str(tmp_path / "keep")
    if not engine.database_url.startswith("sqlite") and not shutil.which("pg_dump"):
        pytest.skip("没有 pg_dump")
    assert backup.due(engine, folder)
    start = dt.datetime(2026, 12, 1, 8, 0, 0)
    for hours in (0, 1, 2):
        last = backup.backup(engine, folder, now=start + dt.timedelta(hours=hours))
    assert [n for n, _at, _s in backup.listing(folder)] == [last.name, (start + dt.timedelta(hours=1)).strftime(
        "jiuzhu-%Y%m%d-%H%M%S") + os.path.splitext(last.name)[1]]
    assert last.removed and last.removed[0].startswith("jiuzhu-20261201-080000")
    assert not backup.due(engine, folder, now=start + dt.timedelta(hours=20))
    assert backup.due(engine, folder, now=start + dt.timedelta(hours=26))


def test_a_copy_taken_while_clerks_write_opens_and_is_complete(app, tmp_path):
    engine = engine_of(app)
    H = engine.models["household"]
    stop = threading.Event()
    writes = []

    def clerk():
        token = system.actor.set((None, "测试", None))
        rows = list(H.select().limit(30))
        while not stop.is_set():
            for h in rows:
                h.phone = f"1390000{len(writes) % 10000:04d}"
                h.save()
                writes.append(1)
        system.actor.reset(token)
        engine.db.close()

    t = threading.Thread(target=clerk)
    t.start()
    try:
        made = backup.backup(engine, str(tmp_path / "live"))
    finally:
        stop.set()
        t.join(30)
    assert writes and made.rows["household"] == H.select().count()


def test_restore_refuses_without_yes_and_a_file_that_is_not_a_backup(app, tmp_path):
    runner = app.test_cli_runner()
    engine = engine_of(app)
    made = backup.backup(engine, str(tmp_path / "cli"))
    result = runner.invoke(args=["restore", made.path])
    assert result.exit_code != 0 and "确认请加 --yes" in result.output
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    result = runner.invoke(args=["restore", str(junk), "--yes"])
    assert result.exit_code != 0 and "无法打开" in result.output
    result = runner.invoke(args=["backup", "--to", str(tmp_path / "cli")])
    assert result.exit_code == 0 and "已备份到" in result.output and str(tmp_path / "cli") in result.output


def test_county_admin_sees_the_last_backup_and_downloads_it(app, tmp_path, monkeypatch):
    monkeypatch.setenv("BACKUP_DIR", str(tmp_path / "page"))
    b = Browser(app)
    b.login("admin")
    page = b.get("/admin/settings/").get_data(as_text=True)
    assert "还没有备份" in page
    r = b.post("/admin/settings/backup/", follow_redirects=True)
    page = r.get_data(as_text=True)
    assert "已备份到" in page and "最近一次备份" in page
    name = backup.listing(str(tmp_path / "page"))[0][0]
    r = b.get(f"/admin/settings/backup/{name}")
    assert r.status_code == 200 and r.data[:15] == b"SQLite format 3"
    assert b.get("/admin/settings/backup/..%2Fjiuzhu.db").status_code == 404
    town = Browser(app)
    town.login("town1")
    assert town.get(f"/admin/settings/backup/{name}").status_code in (302, 403)
    assert town.post("/admin/settings/backup/").status_code in (302, 403)
