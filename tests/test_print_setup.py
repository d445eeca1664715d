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
