"""A large roster imports in flat memory (issue 16, item 5): the CSV is read a row at a time and the
checked rows wait in a temporary file, so the import's peak memory hardly grows with the file.
The import runs in a child process (bench/bench_import_stream.py) whose peak is its own (VmHWM)."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench", "bench_import_stream.py")
# A process with the app loaded peaks at about 65 MB. Checking and writing a 2 MB roster read whole
# (as the import did before it streamed) took it to 112 MB; streamed it peaks near 83 MB.
BOUND_MB = 100


def _import(tmp_path, *args):
    done = subprocess.run([sys.executable, BENCH, "--json", *args], capture_output=True, text=True, cwd=ROOT,
                          env=dict(os.environ, TMPDIR=str(tmp_path)), timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.splitlines()[-2])


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="峰值内存取自 /proc（Linux）")
def test_a_large_csv_import_stays_under_the_memory_bound(tmp_path):
    result = _import(tmp_path, "--mb", "2", "--format", "csv", "--commit")
    assert result["problems"] == 0, result["first"]
    # 15,398 member rows and their 6,159 households, all written in the one transaction
    assert result["committed"] and result["rows"] == result["created"] == 21557
    assert result["peak_mb"] < BOUND_MB, result


def test_a_saved_upload_is_read_a_row_at_a_time_as_its_bytes_would_be(tmp_path):
    import xlsxwriter

    from casework.core import tabular

    def saved(name, data):
        path = tmp_path / name
        path.write_bytes(data)
        return str(path)
    for name, data in [("bom.csv", "\ufeff户编号,姓名\nA-1,张三\n".encode("utf-8")),
                       ("gbk.csv", "户编号,姓名\r\nA-1,张三\r\n".encode("gbk"))]:
        rows = tabular.open_path(saved(name, data), name, 10 ** 6)[0].rows
        assert list(rows) == list(rows) == tabular.read(data, name, 10 ** 6)[0].rows == [["户编号", "姓名"], ["A-1", "张三"]]
        assert (len(rows), rows[1], rows[:1]) == (2, ["A-1", "张三"], [["户编号", "姓名"]])
    refused = [("nul.csv", b"a,b\n\x00\x01,c\n", tabular.Limits(10 ** 6), "这不是文本格式的 CSV 文件"),
               ("enc.csv", b"a,b\n\xff\xff,c\n", tabular.Limits(10 ** 6), "CSV 文件的编码无法识别，请另存为 UTF-8 或 GBK 编码"),
               ("rows.csv", b"a\n1\n2\n", tabular.Limits(10 ** 6, max_rows=2), "超过每次导入的上限 2 行"),
               ("empty.csv", b"", tabular.Limits(10 ** 6), "文件是空的")]
    for name, data, limits, message in refused:
        with pytest.raises(tabular.FileRejected, match=message):
            tabular.open_path(saved(name, data), name, limits)
    # a workbook: merged cells (a household over its members) are filled in as the rows are read
    path = tmp_path / "book.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("家庭户")
    sheet.write_row(0, 1, ["户主姓名", "姓名"])
    sheet.merge_range("B2:B3", "王大山")
    sheet.write_column(1, 2, ["王大山", "刘秀英"])
    book.close()
    read = tabular.open_path(str(path), "book.xlsx", 10 ** 6)[0]
    assert list(read.rows) == [["", "户主姓名", "姓名"], ["", "王大山", "王大山"], ["", "王大山", "刘秀英"]]
    assert tabular.read(path.read_bytes(), "book.xlsx", 10 ** 6)[0].rows[2] == ["", "", "刘秀英"]
