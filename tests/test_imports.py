"""Excel import as the offices use it: template → fill → check → commit; errors listed and
downloadable, fixed and imported again; update mode; scope; CLI."""
import datetime as dt
import io

import xlsxwriter
from python_calamine import CalamineWorkbook

from schema import idnumber

from .conftest import Browser, engine_of

SHEETS = ("家庭户", "家庭成员")


def pid(year, order):
    return idnumber.make("370405", dt.date(year, 3, 4), order)


def template_headers(b):
    r = b.get("/admin/imports/template/household.xlsx")
    assert r.status_code == 200
    book = CalamineWorkbook.from_filelike(io.BytesIO(r.data))
    assert book.sheet_names[:2] == list(SHEETS) and "填写说明" in book.sheet_names
    return {name: book.get_sheet_by_name(name).to_python()[0] for name in SHEETS}


def workbook(headers, households, members):
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"strings_to_numbers": False})
    for name, rows in zip(SHEETS, (households, members)):
        sheet = book.add_worksheet(name)
        header = headers[name]
        sheet.write_row(0, 0, header)
        for r, row in enumerate(rows, 1):
            sheet.write_row(r, 0, [row.get(h.rstrip("*"), "") for h in header])
    book.close()
    return out.getvalue()


def household(code, head_id, village="中心社区", **kw):
    row = {"户编号": code, "所属村（社区）": village, "户主姓名": "导入户主", "户主身份证号": head_id, "户口性质": "农村"}
    row.update(kw)
    return row


def member(link, number, relation="户主", **kw):
    row = {"所属家庭": link, "姓名": "导入成员", "身份证号": number, "与户主关系": relation, "月收入": "600"}
    row.update(kw)
    return row


def upload(b, data, name="户籍.xlsx", mode="create", entity="household"):
    r = b.post("/admin/imports/check", data={"entity": entity, "mode": mode,
                                             "file": (io.BytesIO(data), name)},
               content_type="multipart/form-data")
    assert r.status_code == 302, r.get_data(as_text=True)[:500]
    job = r.headers["Location"].rstrip("/").split("/")[-1]
    return job, b.get(f"/admin/imports/job/{job}/status").get_json()


def test_template_round_trip_check_then_commit(app):
    engine = engine_of(app)
    H, M = engine.models["household"], engine.models["member"]
    b = Browser(app)
    b.login("village1")
    headers = template_headers(b)
    data = workbook(headers, [household("IMP-0001", pid(1960, 11))],
                    [member("IMP-0001", pid(1960, 11)),
                     member(pid(1960, 11), pid(1962, 22), relation="配偶", 月收入="300")])
    before = (H.select().count(), M.select().count())
    job, state = upload(b, data)
    assert state["finished"] and state["ok"] and state["rows"] == 3, state
    assert (H.select().count(), M.select().count()) == before          # a check writes nothing
    page = b.get(f"/admin/imports/job/{job}").get_data(as_text=True)
    assert "校验通过" in page and "确认导入 3 行" in page
    assert "预览：家庭成员（共 2 行" in page and pid(1962, 22) in page
    r = b.post(f"/admin/imports/job/{job}/commit")
    assert r.status_code == 302
    state = b.get(f"/admin/imports/job/{job}/status").get_json()
    assert state["committed"] and state["created"] == 3
    h = H.get(H.code == "IMP-0001")
    assert h.member_count == 2 and str(h.income_per_capita) == "450.00" and h.hukou_type == "2"
    wife = M.get(M.id_number == pid(1962, 22))
    assert wife.sex == "2" and wife.birth_date == dt.date(1962, 3, 4) and wife.household == h.id
    A = engine.system.AuditLog
    assert A.select().where(A.batch == state["batch"]).count() == 3
    history = b.get("/admin/imports/").get_data(as_text=True)
    assert "户籍.xlsx" in history and "已导入" in history


def test_errors_are_listed_downloadable_and_the_fixed_file_imports(app):
    engine = engine_of(app)
    H, M = engine.models["household"], engine.models["member"]
    existing = M.select().order_by(M.id).first()
    b = Browser(app)
    b.login("town1")
    headers = template_headers(b)
    data = workbook(headers,
                    [household("IMP-0002", pid(1950, 31)), household("IMP-0003", "370481195803121234"),
                     household("IMP-0004", pid(1951, 41), village="涧头村")],
                    [member("IMP-0002", pid(1950, 31), 性别="女"), member("IMP-0002", existing.id_number, relation="配偶"),
                     member("IMP-9999", pid(1952, 51)), member("IMP-0002", pid(1953, 61), relation="外星人")])
    before = (H.select().count(), M.select().count())
    job, state = upload(b, data)
    assert state["finished"] and not state["ok"]
    messages = {(p["sheet"], p["row"], p["column"]): p["message"] for p in state["problems"]}
    assert "校验位" in messages[("家庭户", 3, "户主身份证号")]
    assert "管辖范围" in messages[("家庭户", 4, "所属村（社区）")]
    assert "性别与身份证号码不符" in messages[("家庭成员", 2, "性别")]
    assert "一户" in messages[("家庭成员", 3, "身份证号")]
    assert "找不到家庭户“IMP-9999”" in messages[("家庭成员", 4, "所属家庭")]
    assert "不在选项" in messages[("家庭成员", 5, "与户主关系")]
    assert (H.select().count(), M.select().count()) == before
    page = b.get(f"/admin/imports/job/{job}").get_data(as_text=True)
    assert "没有写入任何数据" in page and "外星人" in page
    errors = b.get(f"/admin/imports/job/{job}/errors.xlsx")
    book = CalamineWorkbook.from_filelike(io.BytesIO(errors.data))
    rows = book.get_sheet_by_name("家庭成员").to_python()
    assert rows[0][-1] == "错误原因" and len(rows) == 5
    households = book.get_sheet_by_name("家庭户").to_python()
    assert len(households) == 4 and households[1][-1] == "" and "校验位" in households[2][-1]
    # fix the failed rows in the error workbook itself and import it again (it holds every row)
    fixed = {"家庭户": [dict(zip([h.rstrip("*") for h in headers["家庭户"]], r)) for r in households[2:]]}
    fixed_h = [household("IMP-0002", pid(1950, 31))] + [
        dict(r, 户主身份证号=pid(1955, 71) if r["户编号"] == "IMP-0003" else pid(1956, 81),
             **{"所属村（社区）": "古城社区"}) for r in fixed["家庭户"]]
    fixed_m = [member("IMP-0002", pid(1950, 31)), member("IMP-0003", pid(1955, 71)),
               member("IMP-0002", pid(1953, 61), relation="子")]
    job, state = upload(b, workbook(headers, fixed_h, fixed_m))
    assert state["ok"], state["problems"]
    b.post(f"/admin/imports/job/{job}/commit")
    # 3 households, 3 members, and IMP-0004's head registered as its member
    assert b.get(f"/admin/imports/job/{job}/status").get_json()["created"] == 7
    assert H.get(H.code == "IMP-0004").village == engine.models["area"].get(
        engine.models["area"].code == "370405001002").id


def test_update_mode_changes_only_present_columns(app):
    engine = engine_of(app)
    M = engine.models["member"]
    target = M.select().order_by(M.id).first()
    before = target.snapshot()
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out)
    sheet = book.add_worksheet("家庭成员")
    sheet.write_row(0, 0, ["身份证号", "联系电话", "月收入"])
    sheet.write_row(1, 0, [target.id_number, "13800001111", 999])
    book.close()
    b = Browser(app)
    b.login("admin")
    job, state = upload(b, out.getvalue(), name="改电话.xlsx", mode="update", entity="member")
    assert state["ok"], state["problems"]
    b.post(f"/admin/imports/job/{job}/commit")
    state = b.get(f"/admin/imports/job/{job}/status").get_json()
    assert state["updated"] == 1 and state["created"] == 0
    after = M.get_by_id(target.id)
    assert after.phone == "13800001111" and str(after.monthly_income) == "999.00"
    assert (after.name, after.relation, after.household) == (before["name"], before["relation"], before["household"])
    H = engine.models["household"]
    members = list(M.select().where((M.household == target.household) & (M.archived == False)))  # noqa: E712
    expect = sum(m.monthly_income for m in members) / len(members)
    assert abs(H.get_by_id(target.household).income_per_capita - expect) < 0.01


def test_village_assistant_cannot_import_into_another_village(app):
    engine = engine_of(app)
    H = engine.models["household"]
    b = Browser(app)
    b.login("village1")
    headers = template_headers(b)
    other = H.select().where(H.village == engine.models["area"].get(
        engine.models["area"].code == "370405101201").id).first()
    data = workbook(headers, [household("IMP-0010", pid(1970, 81), village="370405101201")],
                    [member(other.code, pid(1971, 91))])
    job, state = upload(b, data)
    assert not state["ok"]
    text = " ".join(p["message"] for p in state["problems"])
    assert "管辖范围" in text and f"找不到家庭户“{other.code}”" in text
    assert not H.select().where(H.code == "IMP-0010").exists()


def test_cli_import_exit_status(app, tmp_path):
    engine = engine_of(app)
    path = tmp_path / "h.csv"
    path.write_bytes("户编号,所属村（社区）,户主姓名,户主身份证号,户口性质\nCSV-1,中心社区,张,370481195803121234,城镇\n"
                     .encode("gbk"))
    runner = app.test_cli_runner()
    bad = runner.invoke(args=["import", "household", str(path), "--user", "village1"])
    assert bad.exit_code != 0 and "校验位" in bad.output and "未写入" in bad.output
    path.write_bytes("\ufeff户编号,所属村（社区）,户主姓名,户主身份证号,户口性质\nCSV-1,中心社区,张,370481195803121233,城镇\n"
                     .encode("utf-8"))
    dry = runner.invoke(args=["import", "household", str(path), "--dry-run"])
    assert dry.exit_code == 0 and "校验通过" in dry.output
    H = engine.models["household"]
    assert not H.select().where(H.code == "CSV-1").exists()
    ok = runner.invoke(args=["import", "household", str(path), "--user", "village1"])
    assert ok.exit_code == 0 and "新增 2 条" in ok.output      # the household and its head as its member
    assert H.get(H.code == "CSV-1").head_name == "张"
