"""The printed page, not just the workbook's XML: the bank list and the monthly report are converted to
PDF by LibreOffice headless (`make libreoffice` installs Debian's libreoffice-calc-nogui and
poppler-utils), then pdfinfo counts the pages and pdftotext reads them."""
import io
import re
import shutil
import subprocess

import pytest

from reports import engine as report_engine
from reports import form_workbook

from .conftest import engine_of
from .test_print_setup import bank_list

TOOLS = ("soffice", "pdfinfo", "pdftotext")
missing = [t for t in TOOLS if not shutil.which(t)]
pytestmark = pytest.mark.skipif(bool(missing), reason="未安装 " + "、".join(missing)
                                + "（运行 make libreoffice 安装 Debian 软件包 libreoffice-calc-nogui poppler-utils）")


def to_pdf(tmp_path, name, data):
    book = tmp_path / f"{name}.xlsx"
    book.write_bytes(data)
    # a profile of its own: another soffice running on the machine must not take this conversion over
    profile = (tmp_path / "lo-profile").as_uri()
    subprocess.run(["soffice", "--headless", f"-env:UserInstallation={profile}", "--convert-to", "pdf",
                    "--outdir", str(tmp_path), str(book)], check=True, capture_output=True, timeout=240)
    return tmp_path / f"{name}.pdf"


def pages(pdf):
    info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True, text=True).stdout
    size = re.search(r"Page size:\s+([\d.]+) x ([\d.]+)", info)
    return int(re.search(r"Pages:\s+(\d+)", info).group(1)), (float(size.group(1)), float(size.group(2)))


def text(pdf, page):
    return subprocess.run(["pdftotext", "-layout", "-f", str(page), "-l", str(page), str(pdf), "-"],
                          check=True, capture_output=True, text=True).stdout


def test_every_page_of_the_bank_list_names_its_payees(tmp_path):
    pdf = to_pdf(tmp_path, "bank", bank_list(120))
    count, (width, height) = pages(pdf)
    assert count == 3                                    # one page wide: 120 lines on three pages, not six
    assert round(width) == 842 and round(height) == 595   # A4 across (eight columns with a long bank name)
    first = text(pdf, 1)
    assert "运河街道社会救助资金发放清单" in first and "合计（元）" in first and "第 1 页，共 3 页" in first
    last = text(pdf, count)
    assert "第 3 页，共 3 页" in last
    lines = last.splitlines()
    assert any("户主姓名" in line and "卡号" in line for line in lines)       # the column header repeats
    # the name sits on the same printed line as its card number and amount: nothing cut to another page
    assert any("欧阳120号户主" in line and "6228480012345678901" in line and "620.00" in line for line in lines)
    assert "运河街道社会救助资金发放清单" not in last                           # the title prints once


def test_the_monthly_report_prints_on_one_page_with_the_users_unit(app, tmp_path):
    eng = engine_of(app)
    who = eng.models["user"].get(username="town1")
    reports, _ = report_engine.load(eng.registry)
    report = reports["dibao_monthly"]
    values, results = report_engine.run(eng, who, report, {"month": "2026-10"})
    buffer = io.BytesIO()
    form_workbook.write(buffer, report, report_engine.describe(report, values, eng), results, who)
    pdf = to_pdf(tmp_path, "monthly", buffer.getvalue())
    count, _size = pages(pdf)
    assert count == len(results) == 5               # each sheet on one page: fit to width, no column cut off
    first = text(pdf, 1)
    assert "城乡最低生活保障月报表" in first and "填报单位：运河街道" in first and "报表月份 2026-10" in first
    assert "合计" in first and "制表人：" in first and "第 1 页" in first
    lines = first.splitlines()
    assert any("运河街道" in line and "涧头集镇" not in line and line.strip().startswith("运河街道") for line in lines)
    header = results[0].headers
    assert header[0] in first and header[-1][:4] in first.replace(" ", "")   # the last column prints too
