"""Makes the committed corpus files that cannot be written in a test: a legacy .xls roster (no .xls
writer is installed, so the .xlsx roster of tests/test_import_roster.py is converted by LibreOffice
headless, as an office's “另存为 Excel 97-2003”) and a flat roster saved as GBK CSV, as an office PC
with Chinese Windows saves it.

    .venv/bin/python -m tests.corpus.make_corpus        (needs soffice: make libreoffice)
"""
import csv
import io
import os
import pathlib
import shutil
import subprocess
import tempfile

from tests.test_import_roster import village_roster
from tests.test_import_refs import pid

HERE = pathlib.Path(__file__).resolve().parent

# the flat GBK roster: household columns repeated on each member row
GBK_ROWS = [["户主姓名", "户主身份证号码", "户籍性质", "家庭住址", "姓名", "性别", "身份证号码", "与户主关系", "月收入（元）"],
            ["郭守田", pid(1948, 301), "农村", "中心社区东街12号", "郭守田", "男", pid(1948, 301), "户主", "０"],
            ["郭守田", pid(1948, 301), "农村", "中心社区东街12号", "冯翠花", "女", pid(1950, 312), "妻子", "150元"],
            ["韩德胜", pid(1958, 321), "城镇", "中心社区西街3号", "韩德胜", "男", pid(1958, 321), "本人", "600.00"]]


def write_xls(target):
    """The village roster (title rows, two-row merged header, merged household cells, a hidden row,
    合计, footer) as .xls."""
    with tempfile.TemporaryDirectory() as tmp:
        source = pathlib.Path(tmp) / "village_roster.xlsx"
        source.write_bytes(village_roster(hide_row=True))
        profile = pathlib.Path(tmp, "profile").as_uri()
        subprocess.run(["soffice", "--headless", f"-env:UserInstallation={profile}", "--convert-to", "xls",
                        "--outdir", tmp, str(source)], check=True, capture_output=True, timeout=240)
        shutil.copy(pathlib.Path(tmp) / "village_roster.xls", target)


def write_gbk_csv(target):
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(GBK_ROWS)
    pathlib.Path(target).write_bytes(out.getvalue().encode("gbk"))


if __name__ == "__main__":
    write_xls(HERE / "village_roster.xls")
    write_gbk_csv(HERE / "flat_roster_gbk.csv")
    print("已写入", *sorted(os.listdir(HERE)))
