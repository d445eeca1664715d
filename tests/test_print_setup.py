"""Workbooks the system writes print fileable: A4, orientation by width, one page wide, the header
repeated on every page, page numbers. (Checked in the workbook's XML; no PDF conversion here.)"""
import io
import zipfile

from .conftest import Browser


def parts(data):
    z = zipfile.ZipFile(io.BytesIO(data))
    return z.read("xl/workbook.xml").decode(), z.read("xl/worksheets/sheet1.xml").decode()


def test_a_list_export_prints_across_one_page_wide_with_repeated_header(app):
    b = Browser(app)
    b.login("admin")
    book, sheet = parts(b.get("/admin/household/export/xlsx/").data)
    assert 'paperSize="9"' in sheet and 'orientation="landscape"' in sheet
    assert 'fitToHeight="0"' in sheet and '<pageSetUpPr fitToPage="1"/>' in sheet
    assert "第 &amp;P 页，共 &amp;N 页" in sheet and 'horizontalCentered="1"' in sheet
    assert "_xlnm.Print_Titles" in book and "$1:$1" in book


def test_the_import_template_prints_too(app):
    b = Browser(app)
    b.login("admin")
    data = b.get("/admin/imports/template/bank_card.xlsx").data
    z = zipfile.ZipFile(io.BytesIO(data))
    sheets = [n for n in z.namelist() if n.startswith("xl/worksheets/sheet")]
    texts = [z.read(n).decode() for n in sheets]
    assert any('paperSize="9"' in t and 'orientation="portrait"' in t for t in texts)


# -- one helper for every writer: title merged and centred, widths from content, the header repeated --

import re

from reports import engine as report_engine
from reports import form_workbook, printing
from reports.bank import write_payment_list

from .conftest import engine_of


def sheet_xml(data, n=1):
    return zipfile.ZipFile(io.BytesIO(data)).read(f"xl/worksheets/sheet{n}.xml").decode()


def col_widths(xml):
    return {int(a): float(w) for a, _b, w in re.findall(r'<col min="(\d+)" max="(\d+)" width="([\d.]+)"', xml)}


def bank_lines(n):
    return [{"id": i, "head_name": f"欧阳{i}号户主", "head_id_number": "370405195001011234",
             "account_name": f"欧阳{i}号户主", "bank_name": "山东台儿庄农村商业银行股份有限公司运河支行",
             "bank_account": "6228480012345678901", "amount": "620.00", "assistance_type": "dibao_rural"}
            for i in range(1, n + 1)]


def bank_list(n=3):
    buffer = io.BytesIO()
    write_payment_list(buffer, "运河街道社会救助资金发放清单", "2026-11", bank_lines(n), lambda code: "农村最低生活保障")
    return buffer.getvalue()


def test_a_chinese_character_counts_double_and_widths_are_capped():
    assert printing.text_width("张三") == 4 and printing.text_width("ab") == 2
    assert printing.text_width("３００．００") == 12 and printing.text_width(None) == 0
    widths = printing.Widths()
    widths.row(["张三", "x" * 200, None])
    assert widths.widths() == {0: 6, 1: printing.MAX_WIDTH}


def test_the_bank_list_title_is_merged_across_and_its_column_header_repeats():
    data = bank_list()
    xml = sheet_xml(data)
    book = zipfile.ZipFile(io.BytesIO(data)).read("xl/workbook.xml").decode()
    assert '<mergeCell ref="A1:H1"/>' in xml
    assert "$7:$7" in book                          # the column header (row 7), not the batch lines above it
    widths = col_widths(xml)
    assert widths[3] >= 20                          # 身份证号: 18 digits
    assert widths[5] == printing.MAX_WIDTH + 0.7109375 or widths[5] >= printing.MAX_WIDTH   # a long bank name, capped
    assert widths[2] >= printing.text_width("欧阳1号户主")
    assert 'orientation="landscape"' in xml and 'fitToHeight="0"' in xml


def test_the_title_style_is_centred():
    data = bank_list()
    styles = zipfile.ZipFile(io.BytesIO(data)).read("xl/styles.xml").decode()
    assert 'horizontal="center"' in styles


def report_book(app, username):
    eng = engine_of(app)
    who = eng.models["user"].get(username=username)
    reports, _ = report_engine.load(eng.registry)
    report = reports["dibao_monthly"]
    values, results = report_engine.run(eng, who, report, {"month": "2026-10"})
    buffer = io.BytesIO()
    form_workbook.write(buffer, report, report_engine.describe(report, values, eng), results, who)
    return buffer.getvalue()


def test_the_report_names_the_exporting_users_area_as_filing_unit(app):
    from python_calamine import CalamineWorkbook
    town = CalamineWorkbook.from_filelike(io.BytesIO(report_book(app, "town1"))).get_sheet_by_index(0).to_python()
    county = CalamineWorkbook.from_filelike(io.BytesIO(report_book(app, "admin"))).get_sheet_by_index(0).to_python()
    assert town[1][0] == "填报单位：运河街道"
    assert county[1][0] == "填报单位：台儿庄区"
    assert not any("{unit}" in str(c) for row in town for c in row)


def test_the_report_title_spans_the_table_and_its_header_row_repeats(app):
    data = report_book(app, "admin")
    xml = sheet_xml(data)
    book = zipfile.ZipFile(io.BytesIO(data)).read("xl/workbook.xml").decode()
    merged = re.search(r'<mergeCell ref="A1:([A-Z]+)1"/>', xml)
    assert merged and merged.group(1) > "E"
    assert "$6:$6" in book and 'paperSize="9"' in xml and "第 &amp;P 页，共 &amp;N 页" in xml


def test_a_report_line_with_no_user_leaves_the_unit_blank_not_the_placeholder():
    import datetime as dt
    assert report_engine.fill("填报单位：{unit}", None, dt.date(2026, 1, 2)) == "填报单位："
    assert report_engine.fill("填报日期：{today}", None, dt.date(2026, 1, 2)) == "填报日期：2026-01-02"


def test_the_error_workbook_prints_with_widths_from_its_cells():
    from types import SimpleNamespace

    from casework.core.import_columns import Problem
    from reports.template import write_errors
    long_address = "运河街道中心社区东大街一百二十三号院"
    outcome = SimpleNamespace(
        problems=[Problem("家庭户", 2, "户主姓名", "", "此项为必填项")],
        sheets=[("家庭户", None, ["户主姓名", "现住址", "错误原因"], [(2, ["", long_address]), (3, ["张三", "1号"])])])
    buffer = io.BytesIO()
    write_errors(outcome, buffer)
    data = buffer.getvalue()
    xml = sheet_xml(data)
    book = zipfile.ZipFile(io.BytesIO(data)).read("xl/workbook.xml").decode()
    widths = col_widths(xml)
    assert widths[2] >= printing.text_width(long_address)        # 现住址 as wide as its longest cell
    assert widths[1] < widths[2] and widths[3] >= 50              # the reasons have room to wrap
    assert 'paperSize="9"' in xml and "$1:$1" in book and "第 &amp;P 页，共 &amp;N 页" in xml
