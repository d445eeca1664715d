"""A village 低保花名册 as offices keep it imports in one upload plus the mapping confirmation: title
and unit rows, a two-row merged header, household cells merged down over member rows, synonyms for
headers and values (身份证号码, 老伴, 1/2, 600元/月, full-width digits), a 合计 row, a signature footer
and a hidden row, each skipped with a notice. On SQLite and PostgreSQL."""
import io
import pathlib

import pytest
import xlsxwriter

from casework.core import tabular

from .conftest import Browser, engine_of
from .test_import_refs import commit, county, pid, upload  # noqa: F401  (county is a fixture)

HEAD1, WIFE1, SON1 = pid(1945, 111), pid(1947, 122), pid(1976, 131)
HEAD2, WIFE2, GONE = pid(1961, 151), pid(1963, 162), pid(1990, 171)


def village_roster(hide_row=True):
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"strings_to_numbers": False})
    s = book.add_worksheet("Sheet1")
    s.merge_range("A1:L1", "台儿庄区运河街道中心社区2024年5月农村最低生活保障花名册")
    s.write_string("A2", "填报单位：中心社区居委会")
    s.write_string("H2", "单位：元、人")
    for rng, text in [("A3:A4", "序号"), ("B3:C3", "户主信息"), ("D3:D4", "户籍性质"), ("E3:I3", "家庭成员信息"),
                      ("J3:J4", "保障人数"), ("K3:K4", "月保障金（元）"), ("L3:L4", "备注")]:
        s.merge_range(rng, text)
    s.write_row("B4", ["户主姓名", "户主身份证号码"])
    s.write_row("E4", ["姓名", "性别", "与户主关系", "身份证号码", "月收入"])
    members = [(5, "王大山", 1, "户主", HEAD1, "600元/月"), (6, "刘秀英", 2, "老伴", WIFE1, "３００．００"),
               (7, "王小山", 1, "儿子", SON1, 0),
               (8, "李四", "男", "户主", HEAD2, ""), (9, "周桂兰", "女", "妻子", WIFE2, "200"),
               (10, "李走了", "男", "儿子", GONE, "")]
    for row, name, sex, relation, number, income in members:
        r = row - 1
        s.write_string(r, 4, name)
        s.write(r, 5, sex)
        s.write_string(r, 6, relation)
        s.write_string(r, 7, number)
        s.write(r, 8, income)
    s.merge_range("A5:A7", 1)
    s.merge_range("B5:B7", "王大山")
    s.merge_range("C5:C7", HEAD1)
    s.merge_range("D5:D7", "农村")
    s.merge_range("J5:J7", 3)
    s.merge_range("K5:K7", 1200)
    s.write_row("A8", [2, "李四", HEAD2, "农村"])      # the household written once, on its first member row
    s.write_row("J8", [2, 900])
    if hide_row:
        s.set_row(9, None, None, {"hidden": True})      # a member who left: hidden, not deleted
    s.write_row("A11", ["合计", "", "", "", "", "", "", "", "", 5, 2100])
    s.write_string("A12", "制表人：张三")
    s.write_string("F12", "审核人：李四    2024年5月6日")
    book.close()
    return out.getvalue()


def test_the_roster_is_read_as_laid_out():
    sheet = tabular.read(village_roster(), "花名册.xlsx", 10 ** 7)[0]
    assert sheet.hidden == {10} and len(sheet.merged_ranges) == 14
    legacy = tabular.read((CORPUS / "village_roster.xls").read_bytes(), "花名册.xls", 10 ** 7)[0]
    assert legacy.hidden == {10} and len(legacy.merged_ranges) == 14
    assert legacy.rows[4][:4] == sheet.rows[4][:4]


def test_a_broken_xls_gives_no_hidden_rows_and_no_crash():
    from casework.core import xls_rows
    data = (CORPUS / "village_roster.xls").read_bytes()
    assert xls_rows.hidden_rows(data[:600]) == {} and xls_rows.hidden_rows(b"PK") == {}


def test_village_roster_imports_with_one_upload_and_the_mapping_confirmation(county):
    engine = engine_of(county)
    H, M = engine.models["household"], engine.models["member"]
    b = Browser(county)
    b.login("village1")
    job, state = upload(b, village_roster(), "household", name="中心社区低保花名册.xlsx")
    assert state["ok"], state["problems"]
    assert state["rows"] == 7                                  # two households, five members
    notices = "\n".join(state["notices"])
    for expected in ("表头在第3行", "序号", "保障人数", "月保障金", "备注", "合计行不导入：第11行", "表尾",
                     "隐藏行不导入：第10行", "一行一人的花名册", "所属村（社区）", "合并单元格"):
        assert expected in notices, (expected, notices)
    mapping = {c["header"]: c["field"] for m in state["mapping"] for c in m["columns"]}
    assert mapping["户主身份证号码"] == "head_id_number" and mapping["身份证号码"] == "id_number"
    assert mapping["序号"] == "" and mapping["与户主关系"] == "relation"
    page = b.get(f"/admin/imports/job/{job}").get_data(as_text=True)
    assert "列的对应" in page and "按此对应重新校验" in page
    # the user confirms the proposed mapping and saves it for next month's roster
    r = b.post(f"/admin/imports/job/{job}/remap", data={"save_name": "中心社区低保花名册"})
    assert r.status_code == 302
    job = r.headers["Location"].rstrip("/").split("/")[-1]
    state = b.get(f"/admin/imports/job/{job}/status").get_json()
    assert state["ok"] and state["mapping_name"] == "中心社区低保花名册", state["problems"]
    state = commit(b, job)
    assert state["committed"] and state["created"] == 7, state
    h1 = H.get(H.head_id_number == HEAD1)
    assert h1.head_name == "王大山" and h1.code == "370405001001-0001" and h1.hukou_type == "2"
    assert h1.member_count == 3 and str(h1.income_per_capita) == "300.00"
    wife = M.get(M.id_number == WIFE1)
    assert (wife.relation, wife.sex, str(wife.monthly_income), wife.household) == ("10", "2", "300.00", h1.id)
    assert M.get(M.id_number == SON1).relation == "20"
    h2 = H.get(H.head_id_number == HEAD2)
    assert h2.code == "370405001001-0002" and {m.name for m in M.select().where(M.household == h2.id)} == {"李四", "周桂兰"}
    assert not M.select().where(M.id_number == GONE).exists()
    assert "中心社区低保花名册" in b.get("/admin/imports/").get_data(as_text=True)


def test_a_changed_mapping_is_used_and_a_saved_one_is_offered(county):
    b = Browser(county)
    b.login("village1")
    job, state = upload(b, village_roster(), "household", name="花名册.xlsx")
    sheet = state["mapping"]
    relation = next(c["index"] for c in sheet[1]["columns"] if c["field"] == "relation")
    r = b.post(f"/admin/imports/job/{job}/remap", data={f"map-1-{relation}": "", "save_name": "不要关系"})
    job = r.headers["Location"].rstrip("/").split("/")[-1]
    state = b.get(f"/admin/imports/job/{job}/status").get_json()
    assert not state["ok"]
    assert any("缺少必填列“与户主关系”" in p["message"] for p in state["problems"])
    assert any("与户主关系" in n and "没有对应" in n for n in state["notices"])
    r = b.post("/admin/imports/check", data={"entity": "household", "mode": "create", "saved_mapping": "不要关系",
                                             "file": (io.BytesIO(village_roster()), "花名册.xlsx")},
               content_type="multipart/form-data")
    state = b.get(r.headers["Location"] + "/status").get_json()
    assert any("缺少必填列“与户主关系”" in p["message"] for p in state["problems"])


def test_option_aliases_and_codes_typed_as_numbers(county):
    registry = engine_of(county).registry
    relation = registry.options["relation"]
    assert relation.code_of("老伴") == "10" and relation.code_of("儿子") == "20"
    assert relation.code_of(2.0) == "02" and relation.code_of("外星人") is None
    assert registry.options["sex"].code_of(1.0) == "1" and registry.options["sex"].code_of(3) is None


HEAD3, WIFE3, HEAD4 = pid(1950, 211), pid(1952, 222), pid(1966, 231)


def member_rows_only(rows):
    """A roster with no 户主 columns: one row per person, the head known only by 与户主关系."""
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"strings_to_numbers": False})
    s = book.add_worksheet("花名册")
    s.write_row(0, 0, ["序号", "姓名", "性别", "身份证号码", "与户主关系", "户籍性质", "家庭住址", "保障人数", "月保障金（元）"])
    for r, row in enumerate(rows, 1):
        for c, value in enumerate(row):
            s.write_string(r, c, value) if isinstance(value, str) else s.write(r, c, value)
    book.close()
    return out.getvalue()


def test_a_roster_without_head_columns_takes_the_head_from_the_relation(county):
    engine = engine_of(county)
    H, M = engine.models["household"], engine.models["member"]
    b = Browser(county)
    b.login("village1")
    data = member_rows_only([[1, "赵老汉", "男", HEAD3, "户主", "农村", "中心社区3组", 2, 800],
                             [2, "钱老太", "女", WIFE3, "妻子", "农村", "中心社区3组"],
                             [3, "孙独居", "男", HEAD4, "本人", "农村", "中心社区5组", 1, 500]])
    job, state = upload(b, data, "household", name="花名册.xlsx")
    assert state["ok"], state["problems"]
    notices = "\n".join(state["notices"])
    assert "没有户主列" in notices and "“户主”或“本人”" in notices
    assert "保障人数（由在保记录按保障成员计算）" in notices and "月保障金（元）（由审批的救助金额计算）" in notices
    unknown = [n for n in state["notices"] if "没有对应的字段" in n]
    assert not any("保障人数" in n or "月保障金" in n for n in unknown)     # recognised, not unknown
    state = commit(b, job)
    assert state["committed"], state
    h3 = H.get(H.head_id_number == HEAD3)
    assert h3.head_name == "赵老汉" and h3.address == "中心社区3组" and h3.member_count == 2
    assert M.get(M.id_number == WIFE3).household == h3.id
    h4 = H.get(H.head_id_number == HEAD4)
    assert h4.head_name == "孙独居" and h4.member_count == 1
    assert M.get(M.id_number == HEAD4).relation == "02"       # 本人 is the head: registered as 户主


def test_a_member_above_the_first_head_is_refused_with_nothing_written(county):
    engine = engine_of(county)
    H = engine.models["household"]
    b = Browser(county)
    b.login("village1")
    before = H.select().count()
    data = member_rows_only([[1, "钱老太", "女", WIFE3, "妻子", "农村", "中心社区3组"],
                             [2, "赵老汉", "男", HEAD3, "户主", "农村", "中心社区3组", 2, 800]])
    job, state = upload(b, data, "household", name="花名册.xlsx")
    assert not state["ok"]
    assert any(p["row"] == 2 and "在第一个户主之前" in p["message"] for p in state["problems"]), state["problems"]
    assert H.select().count() == before


# -- committed corpus files (tests/corpus/make_corpus.py makes them) --------------------------------

CORPUS = pathlib.Path(__file__).resolve().parent / "corpus"


def test_the_village_roster_saved_as_xls_imports_in_one_upload(county):
    engine = engine_of(county)
    H, M = engine.models["household"], engine.models["member"]
    b = Browser(county)
    b.login("village1")
    job, state = upload(b, (CORPUS / "village_roster.xls").read_bytes(), "household", name="中心社区低保花名册.xls")
    assert state["ok"], state["problems"]
    assert state["rows"] == 7                       # two households, five members: the hidden one left out
    notices = "\n".join(state["notices"])
    assert "表头在第3行" in notices and "合计行不导入：第11行" in notices and "合并单元格" in notices
    assert "隐藏行不导入：第10行" in notices                 # read from the .xls ROW records
    state = commit(b, job)
    assert state["committed"] and state["created"] == 7, state
    h1 = H.get(H.head_id_number == HEAD1)
    assert h1.head_name == "王大山" and h1.member_count == 3 and str(h1.income_per_capita) == "300.00"
    wife = M.get(M.id_number == WIFE1)
    assert (wife.relation, wife.sex, wife.household) == ("10", "2", h1.id)
    assert not M.select().where(M.id_number == GONE).exists()


def test_a_flat_roster_saved_as_gbk_csv_imports(county):
    from tests.corpus.make_corpus import GBK_ROWS
    engine = engine_of(county)
    H, M = engine.models["household"], engine.models["member"]
    b = Browser(county)
    b.login("village1")
    data = (CORPUS / "flat_roster_gbk.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")                        # really GBK, as Chinese Windows saves a CSV
    job, state = upload(b, data, "household", name="花名册.csv")
    assert state["ok"], state["problems"]
    assert any("一行一人的花名册" in n for n in state["notices"])
    state = commit(b, job)
    assert state["committed"], state
    guo = H.get(H.head_id_number == GBK_ROWS[1][1])
    assert guo.head_name == "郭守田" and guo.address == "中心社区东街12号" and guo.member_count == 2
    wife = M.get(M.id_number == GBK_ROWS[2][6])
    assert (wife.name, wife.relation, str(wife.monthly_income), wife.household) == ("冯翠花", "10", "150.00", guo.id)
    han = H.get(H.head_id_number == GBK_ROWS[3][1])
    assert han.hukou_type == "1" and M.get(M.id_number == GBK_ROWS[3][6]).relation == "02"   # 本人 → 户主
