"""A corpus of malformed import files, generated here: each must be refused with a Chinese message
that names the actual problem, and nothing may be written (no household, no member, no audit row;
through the web, no commit either). A few near-misses that offices really produce (full-width digits,
stray spaces, 15-digit numbers, GBK or BOM-marked CSV) must instead be accepted and normalised.

All cases are expected to pass; a defect found later is written as xfail(strict=True) with its reason.
"""
import datetime as dt
import io
import random
import zipfile
from dataclasses import dataclass, field
from typing import Callable, Optional

import pytest
import xlsxwriter

from schema import idnumber
from casework.core.imports import Importer, header_text
from reports.template import columns_of, sheets_of

from .conftest import Browser, engine_of

SHEETS = ("家庭户", "家庭成员")
CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def pid(year, order, month=3, day=4):
    return idnumber.make("370405", dt.date(year, month, day), order)


HEAD = pid(1960, 11)            # order 011: odd, a man, born 1960-03-04
WIFE = pid(1962, 22)            # order 022: even, a woman
BAD_CHECK = HEAD[:17] + ("0" if HEAD[17] != "0" else "1")


def hh(**kw):
    row = {"户编号": "COR-0001", "所属村（社区）": "中心社区", "户主姓名": "测试户主", "户主身份证号": HEAD,
           "户口性质": "农村"}
    row.update(kw)
    return row


def mem(**kw):
    row = {"所属家庭": "COR-0001", "姓名": "测试成员", "身份证号": HEAD, "与户主关系": "户主", "月收入": "600"}
    row.update(kw)
    return row


# -- building files ------------------------------------------------------------------------------

@dataclass
class Ctx:
    """What a case builder may need to know about the demo county."""
    headers: dict                    # sheet name → template headers (with * on required columns)
    existing_id: str                 # an ID number already registered in some household
    existing_code: str               # a household code already in use


def xlsx(ctx, households=(None,), members=(None,), headers=None, extra=None, sheet_names=SHEETS):
    """A household workbook; rows are dicts keyed by the header without *; None means the default row.
    `households`/`members` None leaves that sheet out; `extra(book, sheets)` adds merges, formulas…"""
    headers = headers or ctx.headers
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"strings_to_numbers": False, "strings_to_formulas": False})
    sheets = {}
    defaults = {SHEETS[0]: hh, SHEETS[1]: mem}
    for key, name, rows in zip(SHEETS, sheet_names, (households, members)):
        if rows is None:
            continue
        sheet = book.add_worksheet(name)
        header = headers[key]
        if header:
            sheet.write_row(0, 0, header)
        for r, row in enumerate(rows, 1):
            row = defaults[key]() if row is None else row
            for c, h in enumerate(header):
                value = row.get(h.strip().rstrip("*"), "")
                if isinstance(value, str):
                    if value != "":
                        sheet.write_string(r, c, value)
                else:
                    sheet.write(r, c, value)
        sheets[key] = sheet
    if extra:
        extra(book, sheets, headers)
    book.close()
    return out.getvalue()


def csv_bytes(ctx, rows, encoding="utf-8", bom=False, header=None, sep=","):
    header = header or [h.rstrip("*") for h in ctx.headers[SHEETS[0]]]
    lines = [sep.join(header)] + [sep.join(str(r.get(h, "")) for h in header) for r in rows]
    text = ("\ufeff" if bom else "") + "\r\n".join(lines) + "\r\n"
    return text.encode(encoding)


def with_header(ctx, sheet, change):
    headers = {k: list(v) for k, v in ctx.headers.items()}
    headers[sheet] = change(headers[sheet])
    return headers


def zip_of(files):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return out.getvalue()


def rewrite_zip(data, change):
    """The same workbook with some members changed (name → bytes, or None to drop it)."""
    src = zipfile.ZipFile(io.BytesIO(data))
    files = {n: src.read(n) for n in src.namelist()}
    for name, new in change(files).items():
        if new is None:
            files.pop(name, None)
        else:
            files[name] = new
    return zip_of(files)


def corrupt_sheet_data(data):
    """Flip bytes inside the compressed data of the first worksheet: the zip opens, the CRC fails."""
    raw = bytearray(data)
    info = next(i for i in zipfile.ZipFile(io.BytesIO(data)).infolist() if i.filename.endswith("sheet1.xml"))
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for k in range(start + 10, start + min(info.compress_size, 60)):
        raw[k] ^= 0x5A
    return bytes(raw)


def col(headers, sheet, label):
    return [h.rstrip("*") for h in headers[sheet]].index(label)


def formulas(book, sheets, headers):
    sheets[SHEETS[1]].write_formula(1, col(headers, SHEETS[1], "月收入"), "=300+300", None, 600)


def merged(book, sheets, headers):
    c = col(headers, SHEETS[0], "现住址")
    sheets[SHEETS[0]].merge_range(1, c, 2, c, "同一地址", None)          # one address over two rows


def id_as_number(book, sheets, headers):
    sheets[SHEETS[0]].write_number(1, col(headers, SHEETS[0], "户主身份证号"), int(HEAD))


# -- the corpus ----------------------------------------------------------------------------------

@dataclass
class Case:
    id: str
    build: Callable                     # ctx → (bytes, filename)
    expect: str                         # a Chinese substring of some problem's message
    sheet: Optional[str] = None         # where the problem must be reported, when it concerns a row
    column: Optional[str] = None
    entity: str = "household"
    user: str = "village1"
    max_mb: Optional[int] = None
    update: bool = False
    marks: list = field(default_factory=list)


def _title_header(ctx):
    headers = {k: list(v) for k, v in ctx.headers.items()}
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"strings_to_formulas": False})
    for key in SHEETS:
        sheet = book.add_worksheet(key)
        sheet.merge_range(0, 0, 0, len(headers[key]) - 1, f"2024年{key}花名册", None)
        sheet.write_row(1, 0, headers[key])
        row = (hh if key == SHEETS[0] else mem)()
        sheet.write_row(2, 0, [row.get(h.rstrip("*"), "") for h in headers[key]])
    book.close()
    return out.getvalue()


def _blank_first_row(ctx):
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"strings_to_formulas": False})
    for key in SHEETS:
        sheet = book.add_worksheet(key)
        sheet.write_row(1, 0, ctx.headers[key])
        row = (hh if key == SHEETS[0] else mem)()
        sheet.write_row(2, 0, [row.get(h.rstrip("*"), "") for h in ctx.headers[key]])
    book.close()
    return out.getvalue()


def _oversize(ctx):
    rows = [hh(**{"户编号": f"BIG-{i:06d}", "户主身份证号": pid(1950 + i % 50, i % 999 + 1)}) for i in range(16000)]
    data = csv_bytes(ctx, rows)
    assert len(data) > 1024 * 1024
    return data


CASES = [
    # -- not a workbook at all
    Case("pdf_named_xlsx", lambda c: (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n",
                                      "户籍.xlsx"), "不是有效的 Excel"),
    Case("random_bytes_xlsx", lambda c: (random.Random(7).randbytes(4096), "户籍.xlsx"), "不是有效的 Excel"),
    Case("csv_text_named_xlsx", lambda c: (csv_bytes(c, [hh()]), "户籍.xlsx"), "不是有效的 Excel"),
    Case("txt_extension", lambda c: (csv_bytes(c, [hh()]), "户籍.txt"), "只能导入 Excel 工作簿"),
    Case("no_extension", lambda c: (xlsx(c), "户籍"), "只能导入 Excel 工作簿"),
    Case("truncated_zip", lambda c: (xlsx(c)[:1500], "户籍.xlsx"), "不是有效的 Excel"),
    Case("zip_without_workbook", lambda c: (zip_of({"readme.txt": "你好"}), "户籍.xlsx"), "不是有效的 Excel"),
    Case("zip_workbook_xml_missing", lambda c: (rewrite_zip(xlsx(c), lambda f: {"xl/workbook.xml": None}),
                                                "户籍.xlsx"), "不是有效的 Excel"),
    Case("zip_deflate_error_in_sheet", lambda c: (corrupt_sheet_data(xlsx(c)), "户籍.xlsx"), "损坏"),
    Case("encrypted_cfb_xlsx", lambda c: (CFB_MAGIC + bytes(4096 - 8), "户籍.xlsx"), "已加密"),
    Case("empty_file", lambda c: (b"", "户籍.xlsx"), "空的"),
    Case("empty_csv", lambda c: (b"", "户籍.csv"), "空的"),
    Case("xlsx_as_csv", lambda c: (xlsx(c), "户籍.csv"), "编码"),
    # -- sheets and headers
    Case("workbook_without_rows", lambda c: (xlsx(c, households=[], members=[],
                                                  headers={SHEETS[0]: [], SHEETS[1]: []}), "户籍.xlsx"),
         "工作表是空的", sheet=SHEETS[0]),
    Case("header_only", lambda c: (xlsx(c, households=[], members=[]), "户籍.xlsx"), "没有数据行"),
    Case("header_then_blank_rows", lambda c: (xlsx(c, households=[{"户编号": "   "}] * 3, members=[]), "户籍.xlsx"),
         "没有数据行"),
    Case("wrong_sheet_names", lambda c: (xlsx(c, sheet_names=("Sheet1", "Sheet2")), "户籍.xlsx"),
         "找不到名为“家庭户”的工作表"),
    Case("missing_required_column", lambda c: (xlsx(c, headers=with_header(
        c, SHEETS[0], lambda h: [x for x in h if x.rstrip("*") != "户主身份证号"])), "户籍.xlsx"),
        "缺少必填列“户主身份证号”", sheet=SHEETS[0]),
    Case("member_sheet_without_link_column", lambda c: (xlsx(c, headers=with_header(
        c, SHEETS[1], lambda h: [x for x in h if x.rstrip("*") != "所属家庭"])), "户籍.xlsx"),
        "缺少列“所属家庭”", sheet=SHEETS[1]),
    Case("duplicate_header", lambda c: (xlsx(c, headers=with_header(c, SHEETS[0], lambda h: h + ["户主姓名"])),
                                        "户籍.xlsx"), "出现了两次", sheet=SHEETS[0]),
    Case("update_mode_without_key", lambda c: (xlsx(c, headers=with_header(
        c, SHEETS[0], lambda h: [x for x in h if x.rstrip("*") not in ("户编号",)]), members=None), "户籍.xlsx"),
        "更新模式需要“户编号”", update=True),
    Case("csv_semicolon_separated", lambda c: (csv_bytes(c, [hh()], sep=";"), "户籍.csv"), "找不到表头"),
    # -- cells that are not plain values
    Case("formula_cell", lambda c: (xlsx(c, extra=formulas), "户籍.xlsx"), "公式", sheet=SHEETS[1]),
    Case("id_number_typed_as_number", lambda c: (xlsx(c, extra=id_as_number), "户籍.xlsx"), "文本格式",
         sheet=SHEETS[0], column="户主身份证号"),
    # -- dates
    Case("date_month_13", lambda c: (xlsx(c, members=[mem(出生日期="2024年13月1日")]), "户籍.xlsx"), "不存在",
         sheet=SHEETS[1], column="出生日期"),
    Case("date_word_yesterday", lambda c: (xlsx(c, members=[mem(出生日期="昨天")]), "户籍.xlsx"), "不是日期",
         sheet=SHEETS[1], column="出生日期"),
    Case("date_feb_30", lambda c: (xlsx(c, members=[mem(出生日期="1960年2月30日")]), "户籍.xlsx"), "不存在",
         sheet=SHEETS[1], column="出生日期"),
    Case("date_day_first", lambda c: (xlsx(c, members=[mem(出生日期="04/03/1960")]), "户籍.xlsx"), "不是日期",
         sheet=SHEETS[1], column="出生日期"),
    # -- ID numbers
    Case("id_check_digit", lambda c: (xlsx(c, households=[hh(户主身份证号=BAD_CHECK)], members=[mem(身份证号=BAD_CHECK)]),
                                      "户籍.xlsx"), "校验位", sheet=SHEETS[0], column="户主身份证号"),
    Case("id_wrong_length", lambda c: (xlsx(c, members=[None, mem(身份证号=HEAD[:16], 与户主关系="子")]), "户籍.xlsx"),
         "应为18位", sheet=SHEETS[1], column="身份证号"),
    Case("id_impossible_birth_date", lambda c: (xlsx(c, members=[None, mem(身份证号="370405196013320331",
                                                                             与户主关系="子")]), "户籍.xlsx"),
        "不存在", sheet=SHEETS[1], column="身份证号"),
    Case("id_birth_in_future", lambda c: (xlsx(c, households=[hh(户主身份证号=idnumber.make(
        "370405", dt.date(2060, 3, 4), 11))], members=[mem(所属家庭="COR-0001")]), "户籍.xlsx"), "不合理",
        sheet=SHEETS[0], column="户主身份证号"),
    Case("id_sex_contradicts", lambda c: (xlsx(c, members=[mem(性别="女")]), "户籍.xlsx"), "性别与身份证号码不符",
         sheet=SHEETS[1], column="性别"),
    Case("id_birth_contradicts", lambda c: (xlsx(c, members=[mem(出生日期="1960-03-05")]), "户籍.xlsx"),
         "出生日期与身份证号码不符", sheet=SHEETS[1], column="出生日期"),
    Case("id_duplicate_in_file", lambda c: (xlsx(c, members=[None, mem(姓名="重复的人", 与户主关系="子")]), "户籍.xlsx"),
         "重复", sheet=SHEETS[1], column="身份证号"),
    Case("id_in_another_household", lambda c: (xlsx(c, members=[None, mem(身份证号=c.existing_id, 与户主关系="子")]),
                                               "户籍.xlsx"), "已登记在另一户", sheet=SHEETS[1], column="身份证号"),
    Case("household_code_in_use", lambda c: (xlsx(c, households=[hh(户编号=c.existing_code)], members=[
        mem(所属家庭=HEAD)]), "户籍.xlsx"), "已被使用", sheet=SHEETS[0], column="户编号"),
    Case("household_code_duplicate_in_file", lambda c: (xlsx(c, households=[None, hh(户主身份证号=WIFE)]), "户籍.xlsx"),
         "重复", sheet=SHEETS[0], column="户编号"),
    # -- options, numbers, text
    Case("relation_not_an_option", lambda c: (xlsx(c, members=[mem(与户主关系="外星人")]), "户籍.xlsx"), "不在选项",
         sheet=SHEETS[1], column="与户主关系"),
    Case("hukou_not_an_option", lambda c: (xlsx(c, households=[hh(户口性质="火星户口")]), "户籍.xlsx"), "不在选项",
         sheet=SHEETS[0], column="户口性质"),
    Case("money_negative", lambda c: (xlsx(c, members=[mem(月收入=-300)]), "户籍.xlsx"), "负数",
         sheet=SHEETS[1], column="月收入"),
    Case("money_too_large", lambda c: (xlsx(c, members=[mem(月收入="1e15")]), "户籍.xlsx"), "金额过大",
         sheet=SHEETS[1], column="月收入"),
    Case("money_nan", lambda c: (xlsx(c, members=[mem(月收入="NaN")]), "户籍.xlsx"), "不是金额",
         sheet=SHEETS[1], column="月收入"),
    Case("money_not_a_number", lambda c: (xlsx(c, members=[mem(月收入="六百")]), "户籍.xlsx"), "不是金额",
         sheet=SHEETS[1], column="月收入"),
    Case("text_too_long", lambda c: (xlsx(c, households=[hh(户主姓名="张" * 51)]), "户籍.xlsx"), "长度不能超过50个字",
         sheet=SHEETS[0], column="户主姓名"),
    Case("code_too_long", lambda c: (xlsx(c, households=[hh(户编号="COR-" + "9" * 40)], members=[mem(所属家庭=HEAD)]),
                                     "户籍.xlsx"), "长度不能超过32个字", sheet=SHEETS[0], column="户编号"),
    Case("required_cell_blank", lambda c: (xlsx(c, households=[hh(户主姓名="  ")]), "户籍.xlsx"), "必填",
         sheet=SHEETS[0], column="户主姓名"),
    Case("text_with_nul_char", lambda c: (xlsx(c, households=[hh(户主姓名="张\x00三")]), "户籍.xlsx"), "字符",
         sheet=SHEETS[0], column="户主姓名"),
    Case("phone_invalid", lambda c: (xlsx(c, households=[hh(联系电话="12345")]), "户籍.xlsx"), "不是有效的电话号码",
         sheet=SHEETS[0], column="联系电话"),
    # -- links and scope
    Case("member_household_missing", lambda c: (xlsx(c, members=[None, mem(所属家庭="COR-9999", 身份证号=WIFE,
                                                                      与户主关系="配偶")]), "户籍.xlsx"),
         "找不到家庭户“COR-9999”", sheet=SHEETS[1], column="所属家庭"),
    Case("village_outside_scope", lambda c: (xlsx(c, households=[hh(**{"所属村（社区）": "古城社区"})]), "户籍.xlsx"),
         "管辖范围", sheet=SHEETS[0], column="所属村（社区）"),
    Case("village_unknown", lambda c: (xlsx(c, households=[hh(**{"所属村（社区）": "不存在村"})]), "户籍.xlsx"),
         "管辖范围", sheet=SHEETS[0], column="所属村（社区）"),
    # -- size and encodings
    Case("over_size_limit", lambda c: (_oversize(c), "户籍.csv"), "大小上限", max_mb=1),
    Case("csv_utf16_with_bom", lambda c: (csv_bytes(c, [hh()], encoding="utf-16"), "户籍.csv"), "编码"),
    Case("csv_utf16le_without_bom", lambda c: (csv_bytes(c, [hh()], encoding="utf-16-le"), "户籍.csv"), "编码"),
]
assert len(CASES) >= 30


def _ids():
    return [pytest.param(c, id=c.id, marks=c.marks) for c in CASES]


# -- fixtures and helpers ------------------------------------------------------------------------

@pytest.fixture
def ctx(app):
    engine = engine_of(app)
    registry = engine.registry
    headers = {spec.label: [header_text(f) for f in columns_of(registry, "household", spec)]
               for spec in sheets_of(registry, "household")}
    assert tuple(headers)[:2] == SHEETS and set(headers) - set(SHEETS) <= {"家庭财产"}   # assets: an optional sheet
    M, H = engine.models["member"], engine.models["household"]
    return Ctx(headers=headers, existing_id=M.select().order_by(M.id).first().id_number,
               existing_code=H.select().order_by(H.id).first().code)


def counts(app):
    engine = engine_of(app)
    H, M, A = engine.models["household"], engine.models["member"], engine.system.AuditLog
    return {"household": H.select().count(), "member": M.select().count(), "audit": A.select().count()}


def user(app, name):
    U = engine_of(app).models["user"]
    return U.get(U.username == name)


def describe(problems):
    return "\n".join(f"  {p.sheet} 第{p.row}行 {p.column}：{p.message}（值：{p.value!r}）" for p in problems)


def is_chinese(text):
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


# -- the corpus through the Importer -------------------------------------------------------------

@pytest.mark.parametrize("case", _ids())
def test_malformed_file_is_refused_and_nothing_written(app, ctx, case):
    engine = engine_of(app)
    if case.max_mb:
        engine.settings.set("import_max_mb", case.max_mb)
    data, filename = case.build(ctx)
    before = counts(app)
    outcome = Importer(engine, case.entity, user(app, case.user), update=case.update).run(data, filename)
    assert not outcome.ok and not outcome.committed and outcome.created == 0 and outcome.updated == 0
    assert all(is_chinese(p.message) for p in outcome.problems), describe(outcome.problems)
    hits = [p for p in outcome.problems if case.expect in p.message]
    assert hits, f"没有含“{case.expect}”的问题：\n{describe(outcome.problems)}"
    if case.sheet is not None:
        assert any(p.sheet == case.sheet for p in hits), describe(outcome.problems)
    if case.column is not None:
        assert any(p.column == case.column and p.row >= 2 for p in hits), describe(outcome.problems)
    assert counts(app) == before


# -- near-misses that must be accepted -----------------------------------------------------------

FULLWIDTH_HEAD = HEAD.translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ"))
LEGACY = "370405600304112"              # 15 digits: born 1960-03-04, order 112 → a woman


def _commit(app, data, filename, name="village1"):
    engine = engine_of(app)
    before = counts(app)
    outcome = Importer(engine, "household", user(app, name)).run(data, filename)
    assert outcome.ok, describe(outcome.problems)
    assert outcome.committed
    after = counts(app)
    assert after["household"] - before["household"] >= 1
    assert after["audit"] - before["audit"] == outcome.created
    return engine.models["household"], engine.models["member"]


def test_fullwidth_digits_in_id_numbers_are_normalised(app, ctx):
    lower_x = pid(1958, 3, 12, 12)
    lower_x = lower_x if lower_x.endswith("X") else next(
        pid(1958, n, 12, 12) for n in range(1, 999) if pid(1958, n, 12, 12).endswith("X"))
    data = xlsx(ctx, households=[hh(户主身份证号=FULLWIDTH_HEAD)],
                members=[mem(身份证号=FULLWIDTH_HEAD), mem(身份证号=lower_x.lower(), 与户主关系="配偶")])
    H, M = _commit(app, data, "全角.xlsx")
    h = H.get(H.code == "COR-0001")
    assert h.head_id_number == HEAD
    assert M.get(M.id_number == HEAD).household == h.id
    assert M.get(M.id_number == lower_x).birth_date == dt.date(1958, 12, 12)


def test_stray_spaces_around_values_are_stripped(app, ctx):
    data = xlsx(ctx, households=[{"户编号": "  COR-0001 ", "所属村（社区）": " 中心社区\u3000", "户主姓名": " 测试户主 ",
                                  "户主身份证号": f" {HEAD[:6]} {HEAD[6:14]} {HEAD[14:]} ", "户口性质": " 农村 "}],
                members=[mem(所属家庭=" COR-0001 ", 身份证号=f"{HEAD}  ", 与户主关系=" 户主", 月收入=" 600 ")],
                headers=with_header(ctx, SHEETS[0], lambda h: [f" {x} " for x in h]))
    H, M = _commit(app, data, "空格.xlsx")
    h = H.get(H.code == "COR-0001")
    assert (h.head_name, h.head_id_number, h.hukou_type) == ("测试户主", HEAD, "2")
    m = M.get(M.id_number == HEAD)
    assert m.household == h.id and m.relation == "02" and str(m.monthly_income) == "600.00"


def test_fifteen_digit_legacy_numbers_are_accepted(app, ctx):
    data = xlsx(ctx, households=[hh(户主身份证号=LEGACY)], members=[mem(身份证号=LEGACY)])
    H, M = _commit(app, data, "旧号码.xlsx")
    m = M.get(M.id_number == LEGACY)
    assert m.id_legacy is True and m.sex == "2" and m.birth_date == dt.date(1960, 3, 4)
    assert H.get(H.code == "COR-0001").head_id_number == LEGACY


@pytest.mark.parametrize("encoding,bom", [("gbk", False), ("gb18030", False), ("utf-8", True), ("utf-8", False)],
                         ids=["gbk", "gb18030", "utf8_bom", "utf8"])
def test_csv_in_chinese_encodings_is_accepted(app, ctx, encoding, bom):
    data = csv_bytes(ctx, [hh(户主姓名="张建国", 现住址="运河街道中心社区1号")], encoding=encoding, bom=bom)
    H, _ = _commit(app, data, "户籍.csv")
    h = H.get(H.code == "COR-0001")
    assert (h.head_name, h.address) == ("张建国", "运河街道中心社区1号")


def test_a_title_row_above_the_header_is_skipped_with_a_notice(app, ctx):
    engine = engine_of(app)
    outcome = Importer(engine, "household", user(app, "village1")).run(_title_header(ctx), "户籍.xlsx")
    assert outcome.ok and outcome.committed, describe(outcome.problems)
    assert any("表头在第2行" in n and "花名册" in n for n in outcome.notices), outcome.notices


def test_a_blank_first_row_is_skipped(app, ctx):
    outcome = Importer(engine_of(app), "household", user(app, "village1")).run(_blank_first_row(ctx), "户籍.xlsx")
    assert outcome.ok and outcome.committed, describe(outcome.problems)


def test_an_unknown_column_is_ignored_with_a_notice(app, ctx):
    data = xlsx(ctx, headers=with_header(ctx, SHEETS[0], lambda h: h + ["备注信息"]))
    outcome = Importer(engine_of(app), "household", user(app, "village1")).run(data, "户籍.xlsx", dry_run=True)
    assert outcome.ok and any("没有对应的字段" in n and "备注信息" in n for n in outcome.notices), outcome.notices


def test_merged_cells_are_filled_into_each_row(app, ctx):
    data = xlsx(ctx, households=[None, hh(户编号="COR-0002", 户主身份证号=WIFE)],
                members=[None, mem(所属家庭="COR-0002", 身份证号=WIFE)], extra=merged)
    H, _ = _commit(app, data, "合并.xlsx")
    assert H.get(H.code == "COR-0001").address == H.get(H.code == "COR-0002").address == "同一地址"


# -- through the web upload ----------------------------------------------------------------------

WEB_CASES = {"pdf_named_xlsx": [], "encrypted_cfb_xlsx": [], "id_check_digit": [], "csv_semicolon_separated": [],
             "over_size_limit": [], "csv_utf16_with_bom": [],
             "zip_deflate_error_in_sheet": []}


def upload(b, data, name, entity="household", mode="create"):
    r = b.post("/admin/imports/check", data={"entity": entity, "mode": mode, "file": (io.BytesIO(data), name)},
               content_type="multipart/form-data")
    assert r.status_code == 302, r.get_data(as_text=True)[:500]
    job = r.headers["Location"].rstrip("/").split("/")[-1]
    return job, b.get(f"/admin/imports/job/{job}/status").get_json()


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=WEB_CASES[c.id]) for c in CASES if c.id in WEB_CASES])
def test_web_upload_refuses_and_commit_is_impossible(app, ctx, case):
    engine = engine_of(app)
    if case.max_mb:
        engine.settings.set("import_max_mb", case.max_mb)
    data, filename = case.build(ctx)
    b = Browser(app)
    b.login(case.user)
    before = counts(app)
    job, state = upload(b, data, filename, entity=case.entity)
    assert state["finished"] and not state["ok"] and not state.get("committed"), state
    messages = [p["message"] for p in state["problems"]]
    assert any(case.expect in m for m in messages), messages
    page = b.get(f"/admin/imports/job/{job}").get_data(as_text=True)
    assert "没有写入任何数据" in page and 'id="commit-button"' not in page
    assert b.get(f"/admin/imports/job/{job}/errors.xlsx").status_code == 200
    r = b.post(f"/admin/imports/job/{job}/commit")                     # forced anyway: refused
    assert r.status_code == 302
    assert "只有校验通过的文件才能导入" in b.get(r.headers["Location"]).get_data(as_text=True)
    state = b.get(f"/admin/imports/job/{job}/status").get_json()
    assert not state.get("committed") and not state.get("created") and state["phase"] == "check"
    assert counts(app) == before
