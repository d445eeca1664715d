"""Pages stay fast under many clerks (issue 12 item 7): what each speed-up changes, seen by a user.

Kept SQLite connections, the area filter's options and the home page's counts kept briefly (and dropped
when they change), the settings read once per request, and the county's short ID-number prefix search
walking the list's own order. Figures: bench/bench_pages.py and bench/bench_load.py."""
import re

import pytest

from .conftest import engine_of


def test_a_served_sqlite_app_keeps_its_connection_between_requests(app, browser_for):
    engine = engine_of(app)
    b = browser_for("town1")
    seen = []            # the objects themselves: a closed one's id could be reused by a new one
    for _ in range(3):
        assert b.get("/admin/household/").status_code == 200
        assert engine.db.is_closed()                      # handed back at the end of each request
        with engine.db.connection_context():
            seen.append(engine.db.connection())
    assert seen[0] is seen[1] is seen[2]
    with engine.db.connection_context():
        # a kept connection still has the pragmas a new one gets (writers wait, foreign keys hold)
        assert engine.db.execute_sql("PRAGMA busy_timeout").fetchone()[0] == 5000
        assert engine.db.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1
        assert engine.db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_save_on_a_kept_connection_is_seen_by_the_next_request(app, browser_for):
    b = browser_for("county")
    H = engine_of(app).models["household"]
    with engine_of(app).db.connection_context():
        h = H.select().where(H.archived == False).order_by(H.id).first()  # noqa: E712
    assert "13912345678" not in b.get(f"/admin/household/details/?id={h.id}").get_data(as_text=True)
    with engine_of(app).db.connection_context():
        H.update(phone="13912345678").where(H.id == h.id).execute()
    assert "13912345678" in b.get(f"/admin/household/details/?id={h.id}").get_data(as_text=True)
