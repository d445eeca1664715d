"""Export → edit in Excel → import in update mode changes only the edited cells; the error workbook
comes back fixed and imports (its reason column ignored, members with their households, dates as
dates, a sane file name). On SQLite and PostgreSQL."""
import datetime as dt
import io

import xlsxwriter
from python_calamine import CalamineWorkbook

from .conftest import Browser, engine_of
from .test_import_refs import commit, county, one_sheet, pid, upload  # noqa: F401  (county is a fixture)


def read_book(data):
    book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    return {name: book.get_sheet_by_name(name).to_python() for name in book.sheet_names}


def save_book(sheets):
    """Sheets written back as Excel would save them: numbers as numbers, dates as dates."""
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"strings_to_numbers": False, "strings_to_formulas": False})
    date = book.add_format({"num_format": "yyyy-mm-dd"})
    for name, rows in sheets.items():
        sheet = book.add_worksheet(name)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if isinstance(value, (dt.date, dt.datetime)):
                    sheet.write_datetime(r, c, value if isinstance(value, dt.datetime)
                                         else dt.datetime.combine(value, dt.time()), date)
                elif isinstance(value, str):
                    if value:
                        sheet.write_string(r, c, value)
                elif value is not None:
                    sheet.write(r, c, value)
    book.close()
    return out.getvalue()


def edit(data, changes):
    """The workbook with cells changed: {(row, header): value}; row 2 is the first data row."""
    sheets = read_book(data)
    rows = next(iter(sheets.values()))
    header = rows[0]
    for (row, name), value in changes.items():
        rows[row - 1][header.index(name)] = value
    return save_book(sheets), header


def row_of(data, code):
    rows = next(iter(read_book(data).values()))
    return next(i for i, row in enumerate(rows, 1) if row[0] == code)


def test_export_edit_three_cells_import_update_changes_only_those(county):
    engine = engine_of(county)
    H, A = engine.models["household"], engine.system.AuditLog
    b = Browser(county)
    b.login("admin")
    exported = b.get("/admin/household/export/xlsx/").data
    before = {h.id: h.snapshot() for h in H.select()}
    audits = A.select().count()
    data, header = edit(exported, {(row_of(exported, "R-001"), "联系电话"): "13800001111",
                                   (row_of(exported, "R-002"), "现住址"): "运河街道新址8号",
                                   (row_of(exported, "R-003"), "户口性质"): "城镇"})
    assert "家庭人口" in header and "创建时间" in header and "修改时间" in header
    job, state = upload(b, data, "household", name="家庭户_导出.xlsx", mode="update")
    assert state["ok"], state["problems"]
    assert any("家庭人口（由系统推导）" in n and "创建时间（系统记录）" in n for n in state["notices"]), state["notices"]
    page = b.get(f"/admin/imports/job/{job}").get_data(as_text=True)
    assert "（更新已有记录）" in page and "1 行与现有记录相同" in page
    state = commit(b, job)
    assert state["committed"] and state["updated"] == 3 and state["unchanged"] == 1, state
    after = {h.id: h.snapshot() for h in H.select()}
    changed = {(h_id, k) for h_id in before for k in before[h_id]
               if before[h_id][k] != after[h_id][k] and k != "updated_at"}
    r1, r2, r3 = (H.get(H.code == c).id for c in ("R-001", "R-002", "R-003"))
    assert changed == {(r1, "phone"), (r2, "address"), (r3, "hukou_type")}
    assert after[r3]["hukou_type"] == "1" and after[r1]["phone"] == "13800001111"
    r4 = H.get(H.code == "R-004").id
    assert after[r4]["updated_at"] == before[r4]["updated_at"]         # the untouched row was not saved
    assert A.select().count() == audits + 3


def test_read_only_columns_are_never_taken_from_an_import(county):
    engine = engine_of(county)
    H = engine.models["household"]
    b = Browser(county)
    b.login("admin")
    data = one_sheet("家庭户", ["户编号", "家庭人口", "家庭状态", "联系电话"], [["R-001", 9, "在保", "13900002222"]])
    job, state = upload(b, data, "household", mode="update")
    assert state["ok"], state["problems"]
    state = commit(b, job)
    h = H.get(H.code == "R-001")
    assert h.phone == "13900002222" and h.member_count == 1 and h.status != "in_care"


def test_masked_numbers_in_an_export_are_left_alone(county):
    engine = engine_of(county)
    M = engine.models["member"]
    b = Browser(county)
    b.login("admin")
    head = M.get(M.name == "王大山")
    masked = head.id_number[:6] + "********" + head.id_number[-4:]
    data = one_sheet("家庭成员", ["身份证号", "联系电话"], [[masked, "13700003333"]])
    job, state = upload(b, data, "member", mode="update")
    assert not state["ok"]
    assert "打码" in state["problems"][0]["message"] and "完整号码" in state["problems"][0]["message"]
    data = one_sheet("家庭户", ["户编号", "户主身份证号"], [["R-001", masked]])
    job, state = upload(b, data, "household", mode="update")
    assert state["ok"] and any("打码" in n for n in state["notices"])


def test_the_error_workbook_fixed_imports_again(county):
    engine = engine_of(county)
    H, M = engine.models["household"], engine.models["member"]
    b = Browser(county)
    b.login("village1")
    r = b.get("/admin/imports/template/household.xlsx")
    template = read_book(r.data)
    headers = {name: [h.rstrip("*") for h in template[name][0]] for name in ("家庭户", "家庭成员")}
    rows = {"家庭户": [{"户编号": "E-001", "所属村（社区）": "中心社区", "户主姓名": "赵甲", "户主身份证号": pid(1960, 11),
                     "户口性质": "农村"}],
            "家庭成员": [{"所属家庭": "E-001", "姓名": "赵甲", "身份证号": pid(1960, 11), "与户主关系": "户主",
                      "出生日期": dt.date(1960, 3, 4)},
                     {"所属家庭": "E-001", "姓名": "赵乙", "身份证号": pid(1962, 22), "与户主关系": "外星人",
                      "出生日期": dt.date(1962, 3, 4)}]}
    original = save_book({name: [headers[name]] + [[row.get(h) for h in headers[name]] for row in rows[name]]
                          for name in ("家庭户", "家庭成员")})
    job, state = upload(b, original, "household", name="户籍.xlsx")
    assert not state["ok"]
    r = b.get(f"/admin/imports/job/{job}/errors.xlsx")
    assert "xlsx.xlsx" not in r.headers["Content-Disposition"]
    assert "%E5%AF%BC%E5%85%A5%E9%94%99%E8%AF%AF_%E6%88%B7%E7%B1%8D.xlsx" in r.headers["Content-Disposition"]
    errors = read_book(r.data)
    members = errors["家庭成员"]
    header = members[0]
    assert header[-1] == "错误原因" and len(members) == 3                # every row: the file imports whole
    assert "不在选项" in members[2][-1]
    birth = members[1][header.index("出生日期")]
    assert isinstance(birth, (dt.date, dt.datetime)) and birth == dt.date(1960, 3, 4)
    members[2][header.index("与户主关系")] = "配偶"
    fixed = save_book(errors)
    job, state = upload(b, fixed, "household", name="家庭户导入错误_户籍.xlsx")
    assert state["ok"], state["problems"]
    assert any("错误原因" in n for n in state["notices"])
    state = commit(b, job)
    assert state["created"] == 3
    h = H.get(H.code == "E-001")
    assert {m.name for m in M.select().where(M.household == h.id)} == {"赵甲", "赵乙"} and h.member_count == 2
