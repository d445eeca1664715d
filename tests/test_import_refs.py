"""Single-sheet imports whose rows name other rows (家庭成员, 银行卡 and any `ref` field): by code, ID
number or the title the export writes, within the user's scope; on SQLite and PostgreSQL."""
import datetime as dt
import io

import pytest
import xlsxwriter

from schema import idnumber
from casework.core import system
from seeds import bootstrap

from .conftest import Browser, engine_of, make_app


def pid(year, order, month=3, day=4):
    return idnumber.make("370405", dt.date(year, month, day), order)


@pytest.fixture
def county(db_url):
    """A small county on each backend: two townships, three villages, four households."""
    app = make_app(db_url)
    seed_county(app)
    yield app
    engine_of(app).db.close()


def seed_county(app):
    engine = engine_of(app)
    token = system.actor.set((None, "测试", None))
    try:
        county, _ = bootstrap._area(engine, "370405", "台儿庄区", "county")
        town1, _ = bootstrap._area(engine, "370405001", "运河街道", "township", county)
        town2, _ = bootstrap._area(engine, "370405101", "涧头集镇", "township", county)
        v1, _ = bootstrap._area(engine, "370405001001", "中心社区", "village", town1)
        v2, _ = bootstrap._area(engine, "370405001002", "古城社区", "village", town1)
        v3, _ = bootstrap._area(engine, "370405101201", "涧头村", "village", town2)
        for username, role, area in [("admin", "county_admin", county), ("town1", "township_staff", town1),
                                     ("town2", "township_staff", town2), ("village1", "village_assistant", v1)]:
            bootstrap._user(engine, username, username, role, area, bootstrap.DEMO_PASSWORD)
        H, M = engine.models["household"], engine.models["member"]
        for i, (code, village, name) in enumerate([("R-001", v1, "王大山"), ("R-002", v1, "李小河"),
                                                   ("R-003", v2, "张古城"), ("R-004", v3, "刘涧头")]):
            head = pid(1950 + i, 11 + 2 * i)
            h = H.create(code=code, village=village, head_name=name, head_id_number=head, hukou_type="2")
            M.create(household=h, name=name, id_number=head, relation="02", monthly_income=0)
    finally:
        system.actor.reset(token)


def one_sheet(name, header, rows):
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"strings_to_numbers": False})
    sheet = book.add_worksheet(name)
    sheet.write_row(0, 0, header)
    for r, row in enumerate(rows, 1):
        for c, value in enumerate(row):
            if isinstance(value, str):
                sheet.write_string(r, c, value)
            else:
                sheet.write(r, c, value)
    book.close()
    return out.getvalue()


def upload(b, data, entity, name="导入.xlsx", mode="create"):
    r = b.post("/admin/imports/check", data={"entity": entity, "mode": mode, "file": (io.BytesIO(data), name)},
               content_type="multipart/form-data")
    assert r.status_code == 302, r.get_data(as_text=True)[:500]
    job = r.headers["Location"].rstrip("/").split("/")[-1]
    return job, b.get(f"/admin/imports/job/{job}/status").get_json()


def commit(b, job):
    assert b.post(f"/admin/imports/job/{job}/commit").status_code == 302
    return b.get(f"/admin/imports/job/{job}/status").get_json()


def test_member_sheet_alone_names_households_by_code_id_number_or_title(county):
    engine = engine_of(county)
    H, M = engine.models["household"], engine.models["member"]
    b = Browser(county)
    b.login("village1")
    r1, r2 = H.get(H.code == "R-001"), H.get(H.code == "R-002")
    data = one_sheet("家庭成员", ["所属家庭*", "姓名*", "身份证号*", "与户主关系*", "月收入"], [
        ["R-001", "王妻", pid(1952, 22), "配偶", "300"],
        [r2.head_id_number, "李子", pid(1980, 31), "子", "800"],
        ["R-002 李小河", "李女", pid(1982, 42), "女", "0"],
    ])
    job, state = upload(b, data, "member")
    assert state["ok"], state["problems"]
    page = b.get(f"/admin/imports/job/{job}").get_data(as_text=True)
    assert "（新增记录）" in page and "更新已有记录" not in page
    state = commit(b, job)
    assert state["committed"] and state["created"] == 3, state
    assert M.get(M.id_number == pid(1952, 22)).household == r1.id
    assert {m.name for m in M.select().where(M.household == r2.id)} == {"李小河", "李子", "李女"}
    assert H.get_by_id(r2.id).member_count == 3 and str(H.get_by_id(r2.id).income_per_capita) == "266.67"


def test_member_import_refuses_households_outside_scope_and_unknown_ones(county):
    engine = engine_of(county)
    M = engine.models["member"]
    before = M.select().count()
    b = Browser(county)
    b.login("village1")
    data = one_sheet("家庭成员", ["所属家庭", "姓名", "身份证号", "与户主关系"], [
        ["R-003", "外村人", pid(1970, 51), "配偶"],
        ["R-999", "无此户", pid(1971, 61), "配偶"],
    ])
    job, state = upload(b, data, "member")
    assert not state["ok"]
    messages = {p["row"]: p["message"] for p in state["problems"]}
    assert "找不到家庭户“R-003”" in messages[2] and "管辖范围" in messages[2]
    assert "找不到家庭户“R-999”" in messages[3] and "户编号" in messages[3]
    assert M.select().count() == before


def test_bank_card_import_commits_and_syncs_the_household(county):
    engine = engine_of(county)
    H, C = engine.models["household"], engine.models["bank_card"]
    b = Browser(county)
    b.login("town1")
    data = one_sheet("银行卡", ["家庭", "开户名", "开户行", "卡号", "启用日期"], [
        ["R-001 王大山", "王大山", "台儿庄农商银行", "6228480402564890018", "2024-05-01"],
        ["R-003", "张古城", "中国农业银行", "6228480402564890026", dt.date(2024, 6, 1)],
    ])
    job, state = upload(b, data, "bank_card")
    assert state["ok"], state["problems"]
    state = commit(b, job)
    assert state["committed"] and state["created"] == 2, state
    card = C.get(C.account == "6228480402564890018")
    assert card.household == H.get(H.code == "R-001").id and card.opened_on == dt.date(2024, 5, 1)
    assert card.village == H.get(H.code == "R-001").village


def test_ambiguous_title_asks_for_the_code(county):
    engine = engine_of(county)
    H = engine.models["household"]
    H.update(head_name="同名").where(H.code.in_(["R-001", "R-002"])).execute()
    H.update(code="X").where(H.code == "R-001").execute()
    H.update(code="X Y").where(H.code == "R-002").execute()
    b = Browser(county)
    b.login("admin")
    data = one_sheet("家庭成员", ["所属家庭", "姓名", "身份证号", "与户主关系"],
                     [["无 同名", "甲", pid(1970, 71), "配偶"]])
    job, state = upload(b, data, "member")
    assert not state["ok"]
    assert "找不到家庭户“无 同名”" in state["problems"][0]["message"]


def test_a_second_active_card_is_refused_at_the_check_and_nothing_is_written(county):
    engine = engine_of(county)
    C, A = engine.models["bank_card"], engine.system.AuditLog
    b = Browser(county)
    b.login("town1")
    data = one_sheet("银行卡", ["家庭", "开户名", "开户行", "卡号"], [
        ["R-001", "王大山", "台儿庄农商银行", "6228480402564890018"],
        ["R-001", "王大山", "中国农业银行", "6228480402564890026"],
    ])
    before = (C.select().count(), A.select().count())
    job, state = upload(b, data, "bank_card")
    assert not state["ok"]
    assert any(p["row"] == 3 and "一户一卡" in p["message"] for p in state["problems"]), state["problems"]
    assert (C.select().count(), A.select().count()) == before
    assert b.post(f"/admin/imports/job/{job}/commit").status_code == 302
    assert C.select().count() == before[0]
