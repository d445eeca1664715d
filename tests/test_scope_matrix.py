"""Row scope on every path: every role × household/member × list, count, details, edit, delete,
mass action, list editing, lookups, export, history. An outsider gets nothing (403/404) and nothing
changes; an insider gets the row (so each check can fail)."""
import io

import pytest
from python_calamine import CalamineWorkbook

from .conftest import Browser, engine_of

ROLES = ["admin", "county", "town1", "town2", "village1"]
# which demo places each user may see
SEES = {"admin": {"center", "old_town", "jiantou"}, "county": {"center", "old_town", "jiantou"},
        "town1": {"center", "old_town"}, "town2": {"jiantou"}, "village1": {"center"}}
VILLAGES = {"center": "370405001001", "old_town": "370405001002", "jiantou": "370405101201"}
WRITES = {"admin": True, "county": False, "town1": True, "town2": True, "village1": True}
DELETES = {"admin": True, "county": False, "town1": True, "town2": True, "village1": False}


def targets(engine):
    A, H, M = engine.models["area"], engine.models["household"], engine.models["member"]
    out = {}
    for place, code in VILLAGES.items():
        village = A.get(A.code == code)
        h = H.select().where(H.village == village).order_by(H.id).first()
        m = M.select().where(M.household == h).order_by(M.id).first()
        out[place] = {"household": h, "member": m}
    return out


def snapshot(engine):
    H, M = engine.models["household"], engine.models["member"]
    rows = [tuple(sorted(r.items())) for r in H.select().order_by(H.id).dicts()]
    rows += [tuple(sorted(r.items())) for r in M.select().order_by(M.id).dicts()]
    return hash(tuple(rows)), engine.system.AuditLog.select().count()


def form_data(entity, record):
    if entity == "household":
        return {"code": record.code + "X", "village": str(record.village), "head_name": "改名",
                "head_id_number": record.head_id_number, "hukou_type": record.hukou_type, "status": "none"}
    return {"household": str(record.household), "name": "改名", "id_number": record.id_number,
            "relation": record.relation, "ethnicity": "01", "monthly_income": "1"}


def xlsx_rows(data):
    return CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0).to_python()


def search_term(entity, record):
    return record.code if entity == "household" else record.id_number


@pytest.mark.parametrize("username", ROLES)
@pytest.mark.parametrize("entity", ["household", "member"])
def test_scope_matrix(any_app, username, entity):
    engine = engine_of(any_app)
    b = Browser(any_app)
    assert b.login(username).status_code == 302
    before = snapshot(engine)
    for place, records in targets(engine).items():
        record = records[entity]
        rid = record.id
        inside = place in SEES[username]
        term = search_term(entity, record)
        base = f"/admin/{entity}"

        listing = b.get(f"{base}/?search={term}")
        assert listing.status_code == 200
        assert (f"id={rid}&" in listing.get_data(as_text=True)
                or f"id={rid}\"" in listing.get_data(as_text=True)) == inside, (place, "list")

        details = b.get(f"{base}/details/?id={rid}")
        assert details.status_code == (200 if inside else 404), (place, "details")

        history = b.get(f"{base}/history/?id={rid}")
        assert history.status_code == (200 if inside else 404), (place, "history")

        export = b.get(f"{base}/export/xlsx/?search={term}")
        assert export.status_code == 200
        assert len(xlsx_rows(export.data)) == (2 if inside else 1), (place, "export")

        edit_get = b.get(f"{base}/edit/?id={rid}")
        expect = 200 if inside and WRITES[username] else (403 if not WRITES[username] else 404)
        assert edit_get.status_code == expect, (place, "edit get")

        if inside and WRITES[username]:
            continue        # insiders' writes are tested elsewhere; here nothing may change
        r = b.post(f"{base}/edit/?id={rid}", data=form_data(entity, record))
        assert r.status_code in (403, 404), (place, "edit post", r.status_code)

        r = b.post(f"{base}/ajax/update/", data={"list_form_pk": str(rid), "phone": "13900000000"})
        assert r.status_code in (403, 404), (place, "list editing", r.status_code)

        if not (inside and DELETES[username]):
            r = b.post(f"{base}/delete/", data={"id": str(rid), "url": f"{base}/"})
            assert r.status_code in (403, 404), (place, "delete", r.status_code)
            b.post(f"{base}/action/", data={"action": "delete", "rowid": str(rid), "url": f"{base}/"})
    assert snapshot(engine) == before, "an outsider's request changed data"


@pytest.mark.parametrize("username", ROLES)
def test_lookups_offer_only_rows_in_scope(any_app, username):
    engine = engine_of(any_app)
    b = Browser(any_app)
    b.login(username)
    found = b.get("/admin/household/ajax/lookup/?name=village&query=").get_json()
    A = engine.models["area"]
    names = {A.get_by_id(i).code for i, _ in found}
    assert names == {VILLAGES[p] for p in SEES[username]} | (
        {"370405001201", "370405101202", "370405101203"} & _all_villages_for(username))
    for place, records in targets(engine).items():
        h = records["household"]
        hits = b.get(f"/admin/member/ajax/lookup/?name=household&query={h.code}").get_json()
        assert (h.id in [i for i, _ in hits]) == (place in SEES[username]), (place, "lookup")


def _all_villages_for(username):
    return {"admin": {"370405001201", "370405101202", "370405101203"},
            "county": {"370405001201", "370405101202", "370405101203"},
            "town1": {"370405001201"}, "town2": {"370405101202", "370405101203"}, "village1": set()}[username]


def test_crafted_reference_outside_scope_is_refused(app):
    engine = engine_of(app)
    H, M, A = engine.models["household"], engine.models["member"], engine.models["area"]
    b = Browser(app)
    b.login("village1")
    other_village = A.get(A.code == VILLAGES["jiantou"])
    before = snapshot(engine)
    r = b.post("/admin/household/new/", data={"code": "EVIL-1", "village": str(other_village.id),
                                              "head_name": "外人", "head_id_number": "370481195803121233",
                                              "hukou_type": "1"})
    assert r.status_code == 200                     # the form comes back with an error
    assert not H.select().where(H.code == "EVIL-1").exists()
    outsider = targets(engine)["jiantou"]["household"]
    r = b.post("/admin/member/new/", data={"household": str(outsider.id), "name": "外人",
                                           "id_number": "11010519491231002X", "relation": "02"})
    assert r.status_code == 200
    assert not M.select().where(M.id_number == "11010519491231002X").exists()
    assert snapshot(engine) == before


def test_user_without_area_or_inactive_sees_nothing(app):
    engine = engine_of(app)
    U = engine.models["user"]
    A = engine.models["area"]
    U.create(username="orphan", full_name="无区划", role="township_staff", password="jiuzhu-demo", active=True,
             area=A.get(A.code == "370405001"))
    U.update(area=None).where(U.username == "orphan").execute()
    b = Browser(app)
    b.login("orphan")
    text = b.get("/admin/household/").get_data(as_text=True)
    H = engine.models["household"]
    assert not any(f"id={h.id}&" in text for h in H.select().limit(50))
    U.update(active=False).where(U.username == "village1").execute()
    b2 = Browser(app)
    r = b2.login("village1")
    assert r.status_code == 401 and "停用" in r.get_data(as_text=True)


def test_anonymous_is_sent_to_login(app):
    b = Browser(app)
    r = b.get("/admin/household/")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    r = b.get("/admin/household/export/xlsx/")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
