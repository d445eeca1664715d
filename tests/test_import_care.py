"""Taking over a roster kept elsewhere: in-care rows (在保对象) import through the roster's rules — a
新增 change from the start month at the amount, one active row per household and class, no change in
a closed month — all or nothing. On SQLite and PostgreSQL."""
from .conftest import Browser, engine_of
from .test_import_refs import commit, county, one_sheet, upload  # noqa: F401  (county is a fixture)

HEADER = ["家庭", "保障类别", "保障人数", "月保障金（元）", "起始年月"]


def test_in_care_rows_import_with_their_new_entry_changes(county):
    engine = engine_of(county)
    H, Care, Change = engine.models["household"], engine.models["care"], engine.models["care_change"]
    b = Browser(county)
    b.login("town1")
    r2 = H.get(H.code == "R-002")
    data = one_sheet("在保对象", HEADER, [["R-001 王大山", "农村低保", "", "600元/月", "2024-05"],
                                      [r2.head_id_number, "12", 1, 450, "2024年6月"]])
    job, state = upload(b, data, "care")
    assert state["ok"], state["problems"]
    assert Care.select().count() == 0 and Change.select().count() == 0      # the check rolled back
    state = commit(b, job)
    assert state["committed"] and state["created"] == 2, state
    c1 = Care.get(Care.household == H.get(H.code == "R-001").id)
    assert (c1.assistance_type, str(c1.monthly_amount), c1.start_month, c1.status, c1.persons) == \
        ("12", "600.00", "2024-05", "in_care", 1)
    assert c1.village == H.get(H.code == "R-001").village and c1.head_name == "王大山"
    add = Change.get(Change.care == c1.id)
    assert (add.kind, add.effective_month, str(add.new_amount)) == ("add", "2024-05", "600.00")
    assert Care.get(Care.household == r2.id).start_month == "2024-06"


def test_a_household_already_in_care_refuses_the_whole_file(county):
    engine = engine_of(county)
    Care, Change = engine.models["care"], engine.models["care_change"]
    b = Browser(county)
    b.login("town1")
    data = one_sheet("在保对象", HEADER, [["R-001", "农村低保", 1, 600, "2024-05"],
                                      ["R-002", "农村低保", 1, 500, "2024-05"],
                                      ["R-001", "农村低保", 1, 650, "2024-07"]])
    job, state = upload(b, data, "care")
    assert not state["ok"]
    assert [(p["row"], p["column"]) for p in state["problems"]] == [(4, "家庭")]
    assert "已在保" in state["problems"][0]["message"]
    assert b.post(f"/admin/imports/job/{job}/commit").status_code == 302
    assert Care.select().count() == 0 and Change.select().count() == 0


def test_a_start_month_already_closed_is_refused(county):
    engine = engine_of(county)
    Area, Month, Care = engine.models["area"], engine.models["payment_month"], engine.models["care"]
    town = Area.get(Area.code == "370405001")
    Month.create(township=town, month="2024-05", key=f"{town.id}-2024-05", status="closed")
    b = Browser(county)
    b.login("town1")
    job, state = upload(b, one_sheet("在保对象", HEADER, [["R-001", "农村低保", 1, 600, "2024-05"]]), "care")
    assert not state["ok"] and "已关账" in state["problems"][0]["message"]
    assert Care.select().count() == 0
