"""Compressed workbooks that would exhaust memory are refused before a sheet is loaded: the unpacked
size, the rows and the columns a sheet names are counted while unpacking in chunks. Generated here;
the peak memory of the reading process is measured in a child process."""
import io
import json
import os
import subprocess
import sys
import zipfile

import pytest
import xlsxwriter

from casework.core import tabular
from casework.core.imports import Importer

from .conftest import ROOT, Browser

MB = 1024 * 1024
MEMORY_BOUND_MB = 150           # the reading process's peak resident size, interpreter included


def small_workbook():
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out)
    book.add_worksheet("家庭户").write_row(0, 0, ["户编号", "户主姓名"])
    book.close()
    return out.getvalue()


def with_sheet(rows, extra_cell=None, padding_mb=0):
    """The small workbook with sheet1.xml replaced by `rows` generated rows, streamed into the zip."""
    src = zipfile.ZipFile(io.BytesIO(small_workbook()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            if not info.filename.endswith("worksheets/sheet1.xml"):
                z.writestr(info, src.read(info.filename))
                continue
            with z.open(info.filename, "w", force_zip64=True) as fh:
                fh.write(b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
                         b'spreadsheetml/2006/main"><sheetData>')
                block = []
                for r in range(1, rows + 1):
                    block.append(f'<row r="{r}"><c r="A{r}" t="inlineStr"><is><t>HH-{r:07d}</t></is></c>'
                                 f'<c r="B{r}" t="inlineStr"><is><t>张三</t></is></c></row>')
                    if len(block) == 5000:
                        fh.write("".join(block).encode())
                        block = []
                if padding_mb:                          # one cell of repeated text: a thousand to one
                    fh.write(f'<row r="{rows + 1}"><c r="A{rows + 1}" t="inlineStr"><is><t>'.encode())
                    for _ in range(padding_mb):
                        fh.write(b"A" * MB)
                    fh.write(b"</t></is></c></row>")
                if extra_cell:
                    block.append(f'<row r="{extra_cell[1]}"><c r="{extra_cell[0]}{extra_cell[1]}"><v>1</v></c></row>')
                fh.write("".join(block).encode() + b"</sheetData></worksheet>")
    return out.getvalue()


def read_in_child(tmp_path, data, **limits):
    """(message or None, peak resident MB) of tabular.read in a fresh process."""
    path = tmp_path / "upload.xlsx"
    path.write_bytes(data)
    code = f"""
import json, resource, sys
sys.path.insert(0, {ROOT!r})
from casework.core import tabular
limits = tabular.Limits(max_bytes=50 * 1024 * 1024, **{limits!r})
message = None
try:
    tabular.read(open({str(path)!r}, "rb").read(), "upload.xlsx", limits)
except tabular.FileRejected as e:
    message = str(e)
# VmHWM is this process's own peak: ru_maxrss would carry over the forking test worker's size across exec
peak = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:")) / 1024
print(json.dumps([message, peak]))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_zip_bomb_is_refused_by_its_unpacked_size_in_bounded_memory(tmp_path):
    data = with_sheet(2, padding_mb=200)            # 200 MB of sheet XML in a file of a few hundred KB
    assert len(data) < 400 * 1024
    message, peak = read_in_child(tmp_path, data, max_uncompressed=100 * MB)
    assert message and "解压后超过 100 MB" in message
    assert peak < MEMORY_BOUND_MB, peak


def test_one_giant_cell_under_the_size_limit_is_refused(tmp_path):
    data = with_sheet(2, padding_mb=50)
    message, peak = read_in_child(tmp_path, data)
    assert message and "32767" in message
    assert peak < MEMORY_BOUND_MB, peak


def test_a_million_rows_are_refused_by_the_row_limit_before_loading(tmp_path):
    data = with_sheet(1000000)
    message, peak = read_in_child(tmp_path, data)    # the default limits
    assert message and "超过每次导入的上限 300000 行" in message and "第1张工作表" in message
    assert peak < MEMORY_BOUND_MB, peak


def test_one_far_cell_is_refused_by_the_column_limit(tmp_path):
    data = with_sheet(3, extra_cell=("XFD", 5))
    message, peak = read_in_child(tmp_path, data)
    assert message and "列" in message and "上限 200 列" in message
    assert peak < MEMORY_BOUND_MB, peak


def test_a_legal_workbook_under_the_limits_still_reads():
    sheets = tabular.read(with_sheet(1000), "a.xlsx", tabular.Limits(max_bytes=MB, max_rows=1000))
    assert len(sheets[0].rows) == 1000 and sheets[0].rows[999][0] == "HH-0001000"


def test_csv_row_limit(tmp_path):
    data = ("户编号,户主姓名\n" + "".join(f"H{i},张\n" for i in range(50))).encode()
    with pytest.raises(tabular.FileRejected, match="超过每次导入的上限 40 行"):
        tabular.read(data, "a.csv", tabular.Limits(max_bytes=MB, max_rows=40))


def test_limits_are_settings_and_the_importer_says_why(engine):
    engine.settings.set("import_max_uncompressed_mb", 2)
    outcome = Importer(engine, "household", None).run(with_sheet(2, padding_mb=3), "户籍.xlsx", dry_run=True)
    assert not outcome.ok and outcome.rows == 0
    assert "解压后超过 2 MB" in outcome.problems[0].message


def test_job_status_stays_small_and_problems_are_paged(app, tmp_path):
    b = Browser(app)
    b.login("admin")
    rows = "".join(f"BAD-{i},中心社区,张,370481195803121234,农村\n" for i in range(3000))
    data = ("户编号,所属村（社区）,户主姓名,户主身份证号,户口性质\n" + rows).encode()
    r = b.post("/admin/imports/check", data={"entity": "household", "mode": "create",
                                             "file": (io.BytesIO(data), "坏.csv")}, content_type="multipart/form-data")
    job = r.headers["Location"].rstrip("/").split("/")[-1]
    state = b.get(f"/admin/imports/job/{job}/status").get_json()
    assert state["error_count"] == 3000 and len(state["problems"]) == 200
    status_file = os.path.join(app.config["IMPORT_DIR"], job, "status.json")
    assert os.path.getsize(status_file) < 100 * 1024
    page = b.get(f"/admin/imports/job/{job}?page=3").get_data(as_text=True)
    assert "第 3/15 页" in page and "<td>402</td>" in page and "校验位" in page


def test_formula_cells_belong_to_the_sheet_in_tab_order_not_part_number():
    """A user who moves a sheet changes the tab order but not the part names (sheet1.xml …)."""
    import re

    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    first = book.add_worksheet("户信息")
    first.write_row(0, 0, ["户主姓名", "人数"])
    first.write_formula(1, 1, "=1+1", None, 2)
    second = book.add_worksheet("成员信息")
    second.write_row(0, 0, ["姓名"])
    book.close()
    moved = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(out.getvalue())) as src, zipfile.ZipFile(moved, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/workbook.xml":     # drag 成员信息 in front of 户信息
                tags = re.findall(rb"<sheet [^>]*/>", data)
                data = data.replace(tags[0] + tags[1], tags[1] + tags[0])
            dst.writestr(item, data)
    sheets = tabular.read(moved.getvalue(), "book.xlsx", 10 * 1024 * 1024)
    assert [s.name for s in sheets] == ["成员信息", "户信息"]
    assert sheets[0].formulas == [] and sheets[1].formulas == ["B2"]
