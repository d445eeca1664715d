"""Reading uploaded tables: .xlsx/.xls/.ods through python-calamine (hidden rows from the xlsx XML, or
from the .xls ROW records: casework/core/xls_rows.py), .csv in UTF-8 (with or without BOM) or GBK. Whatever is wrong with the file as a whole becomes a FileRejected with a Chinese message.
"""
import codecs
import csv
import io
import itertools
import os
import re
import zipfile
from dataclasses import dataclass, field

import python_calamine as pc
from xlsxwriter.utility import xl_range

from casework.core import xls_rows

WORKBOOK_EXT = (".xlsx", ".xlsm", ".xls", ".ods")


class FileRejected(ValueError):
    """The file cannot be read as a table; nothing is imported."""


@dataclass
class Limits:
    """What an upload may hold, checked before any sheet is loaded: a 100 KB workbook can unpack to
    gigabytes, and the reader allocates every cell up to the farthest one a sheet names."""
    max_bytes: int
    max_uncompressed: int = 300 * 1024 * 1024
    max_rows: int = 300000
    max_columns: int = 200


def limits(settings):
    mb = 1024 * 1024
    return Limits(max_bytes=settings.get("import_max_mb") * mb,
                  max_uncompressed=settings.get("import_max_uncompressed_mb") * mb,
                  max_rows=settings.get("import_max_rows"), max_columns=settings.get("import_max_columns"))


@dataclass
class Sheet:
    name: str
    rows: object        # lists of cell values (row 1 = header): a list, or CsvRows/BookRows read at each pass
    merged: list = field(default_factory=list)  # ["A2:B3", …]
    formulas: list = field(default_factory=list)  # ["C5", …]
    hidden: set = field(default_factory=set)     # 1-based numbers of rows hidden in Excel
    merged_ranges: list = field(default_factory=list)  # ((first row, first col), (last row, last col)), 0-based
    fill_down: tuple = None     # a flat roster: (first data row, household columns) filled from the row above


def find_table(data, filename, limits, marker, hint):
    """(first sheet, header row index, header cells) of an uploaded list whose header row has `marker`
    in its first 20 rows; FileRejected says what is wrong."""
    sheet = read(data, filename, limits)[0]
    for i, row in enumerate(sheet.rows[:20]):
        cells = [str(c).strip() for c in row]
        if marker in cells:
            return sheet, i, cells
    raise FileRejected(f"找不到表头“{marker}”：{hint}")


def read(data, filename, limits):
    """Sheets of an uploaded file (bytes), in workbook order, their rows as lists.
    `limits`: a Limits, or the byte cap alone."""
    sheets = _open(lambda: io.BytesIO(data), len(data or b""), filename, limits,
                   lambda: io.BytesIO(data))
    for sheet in sheets:
        if isinstance(sheet.rows, BookRows):
            sheet.rows.fill = False     # as the reader gives them: the import fills merged cells itself
        sheet.rows = list(sheet.rows)
    return sheets


def open_path(path, filename, limits):
    """Sheets of an upload saved at `path`, their rows read from the file at each pass, one row at a
    time (a 15 MB CSV is never all in memory): a CSV after a pass that checks its encoding, a
    workbook's rows converted one by one (merged cells filled in as they go)."""
    return _open(lambda: open(path, "rb"), os.path.getsize(path), filename, limits, lambda: path)


def _open(opener, size, filename, limits, source):
    if not isinstance(limits, Limits):
        limits = Limits(max_bytes=limits)
    max_bytes = limits.max_bytes
    if not size:
        raise FileRejected("文件是空的")
    if size > max_bytes:
        raise FileRejected(f"文件超过大小上限 {max_bytes // (1024 * 1024)} MB，请分成几个文件导入")
    name = (filename or "").lower()
    if name.endswith(".csv"):
        return [Sheet(name=re.sub(r"\.csv$", "", filename or "", flags=re.I), rows=CsvRows(opener, limits))]
    if not name.endswith(WORKBOOK_EXT):
        raise FileRejected("只能导入 Excel 工作簿（.xlsx、.xls）或 CSV 文件")
    with opener() as fh:
        magic = fh.read(8)
    formulas, hidden = {}, {}
    if magic[:4] == b"PK\x03\x04":
        with opener() as fh:
            formulas, hidden = _scan_zip(fh, limits, name.endswith((".xlsx", ".xlsm")))
    elif magic[:8] == xls_rows.SIGNATURE:
        with opener() as fh:
            hidden = xls_rows.hidden_rows(fh.read())     # .xls: the reader does not say which rows are hidden
    book = _book(source(), magic, name)
    if not book.sheet_names:
        raise FileRejected("无法读取这个文件：它不是有效的 Excel 工作簿，或已经损坏（没有工作表）")
    sheets = []
    for index, sheet_name in enumerate(book.sheet_names):
        try:
            sheet = book.get_sheet_by_index(index)
        except Exception:
            raise FileRejected(f"工作表“{sheet_name}”无法读取，文件可能已损坏") from None
        end = sheet.end or (-1, -1)
        _check_extent(f"工作表“{sheet_name}”", end[0] + 1, end[1] + 1, limits)
        try:
            ranges = list(sheet.merged_cell_ranges or [])
            merged = [xl_range(*r[0], *r[1]) for r in ranges]
        except Exception:
            raise FileRejected(f"工作表“{sheet_name}”无法读取，文件可能已损坏") from None
        rows = BookRows(source, magic, name, index, sheet_name, end[0] + 1, ranges, first=sheet)
        del sheet
        sheets.append(Sheet(name=sheet_name, rows=rows,
                            merged=merged, formulas=formulas.get(index, []), hidden=hidden.get(index, set()),
                            merged_ranges=ranges))
    return sheets


def _book(source, magic, name):
    try:
        if isinstance(source, str):
            return pc.CalamineWorkbook.from_path(source)
        return pc.CalamineWorkbook.from_filelike(source)
    except pc.PasswordError:
        raise FileRejected("工作簿设有密码（已加密），请取消密码后另存再导入") from None
    except Exception:
        if magic == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" and name.endswith(".xlsx"):
            raise FileRejected("工作簿设有密码（已加密），或不是 .xlsx 格式，请取消密码后另存为 .xlsx 再导入") from None
        raise FileRejected("无法读取这个文件：它不是有效的 Excel 工作簿，或已经损坏") from None


class BookRows:
    """A worksheet's rows, converted to Python one at a time at each pass from the reader's own copy
    of the cells (the whole sheet as Python lists took as much again); each row as long as the sheet
    is wide, merged ranges' values copied into every cell they cover."""

    def __init__(self, source, magic, name, index, sheet_name, count, ranges, first=None):
        self.source, self.magic, self.name, self.index, self.sheet_name = source, magic, name, index, sheet_name
        self.count, self.ranges, self.fill = max(count, 0), ranges, True
        self.sheet = first      # the reader's sheet, opened once (parsing it again at each pass cost more CPU than it saved)

    def __len__(self):
        return self.count

    def __getitem__(self, key):
        return _item(self, key)

    def __iter__(self):
        try:
            if self.sheet is None:
                self.sheet = _book(self.source(), self.magic, self.name).get_sheet_by_index(self.index)
            sheet = self.sheet
            # the rows from A1, as wide as the sheet (the reader's rows start at the first used column)
            pad = [""] * ((sheet.start or (0, 0))[1])
            width = (sheet.end or (0, -1))[1] + 1
            it = (pad + row + [""] * (width - len(pad) - len(row)) for row in sheet.iter_rows())
        except Exception:
            raise FileRejected(f"工作表“{self.sheet_name}”无法读取，文件可能已损坏") from None
        starts = {}
        for r1, c1, r2, c2 in ((a[0], a[1], b[0], b[1]) for a, b in self.ranges if self.fill):
            starts.setdefault(r1, []).append((c1, r2, c2))
        live = []               # (value, first column, last row, last column) of ranges covering this row
        for number, row in enumerate(it):
            for c1, r2, c2 in starts.get(number, ()):
                live.append((row[c1] if c1 < len(row) else "", c1, r2, c2, number))
            if live:
                live = [m for m in live if m[2] >= number]
                for value, c1, r2, c2, first in live:
                    if len(row) <= c2:
                        row.extend([""] * (c2 + 1 - len(row)))
                    for c in range(c1, c2 + 1):
                        if number != first or c != c1:
                            row[c] = value
            yield row


def _item(rows, key):
    """rows[i] or rows[a:b] (a list) of a sheet read at each pass."""
    if isinstance(key, slice):
        if key.step not in (None, 1) or key.stop is None or (key.start or 0) < 0 or key.stop < 0:
            raise TypeError("只支持 rows[a:b]")
        return list(itertools.islice(iter(rows), key.start or 0, key.stop))
    for row in itertools.islice(iter(rows), key, key + 1):
        return row
    raise IndexError(key)


def rows_from(rows, start):
    """The rows from index `start` on, of a list or of a sheet read at each pass."""
    return itertools.islice(iter(rows), start, None)


def fill_merged_rows(sheet):
    """Rows already read as lists were filled while reading (BookRows): nothing left to do."""
    return sheet

def _check_extent(where, rows, columns, limits):
    if rows > limits.max_rows:
        raise FileRejected(f"{where}有 {rows} 行，超过每次导入的上限 {limits.max_rows} 行：请分成几个文件导入"
                           f"（若数据没有这么多行，是表格下方有格式或空格被 Excel 当作数据，请删除多余的行后另存）")
    if columns > limits.max_columns:
        raise FileRejected(f"{where}有 {columns} 列，超过上限 {limits.max_columns} 列：请删除多余的列后再导入")


class CsvRows:
    """The rows of a CSV file, parsed again from the file at each pass (never all in memory). Made
    after a pass over the whole file that finds the encoding (UTF-8 with or without BOM, else GBK),
    refuses a binary file and counts the rows against the limits."""

    def __init__(self, opener, limits):
        self.opener = opener
        self.encoding = _csv_encoding(opener)
        self.count = 0
        try:
            for row in self._reader():
                if self.count >= limits.max_rows or len(row) > limits.max_columns:
                    _check_extent("文件", self.count + 1, len(row), limits)
                self.count += 1
        except csv.Error as e:
            raise FileRejected(f"CSV 文件格式有误：{e}") from None

    def _reader(self):
        with self.opener() as raw:
            yield from csv.reader(io.TextIOWrapper(raw, encoding=self.encoding, newline=""))

    def __iter__(self):
        return self._reader()

    def __len__(self):
        return self.count

    def __getitem__(self, key):
        return _item(self, key)


def _csv_encoding(opener):
    for encoding in ("utf-8-sig", "gb18030"):
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            with opener() as fh:
                while True:
                    block = fh.read(CHUNK)
                    text = decoder.decode(block, final=not block)
                    if "\x00" in text:
                        raise FileRejected("这不是文本格式的 CSV 文件")
                    if not block:
                        return encoding
        except UnicodeDecodeError:
            continue
    raise FileRejected("CSV 文件的编码无法识别，请另存为 UTF-8 或 GBK 编码")


CELL = re.compile(rb'<c r="([A-Z]{1,3})([0-9]{1,7})"')
FORMULA_CELL = re.compile(rb'<c r="([A-Z]+[0-9]+)"[^>]*>(?:(?!</c>).)*?<f[ >/]', re.S)
ROW_TAG = re.compile(rb"<row\b([^>]*)>")
ROW_NUMBER = re.compile(rb'\br="([0-9]+)"')
HIDDEN = re.compile(rb'\bhidden="(?:1|true)"')
WORKSHEET = re.compile(r"xl/worksheets/sheet(\d+)\.xml")
CHUNK = 1024 * 1024
MAX_CELL_BYTES = 2 * CHUNK      # Excel holds at most 32767 characters in a cell (≈ 100 KB of XML)


def _scan_zip(fh, limits, is_xlsx):
    """Check a zipped workbook before the reader loads it: the unpacked size (counted while unpacking
    in chunks, never trusting the sizes the file declares), and on each worksheet the farthest row
    and column a cell names. Returns {sheet index: [cells holding a formula]} (the reader gives only
    their values)."""
    mb = 1024 * 1024
    too_big = FileRejected(f"工作簿解压后超过 {limits.max_uncompressed // mb} MB 的上限，可能是异常文件；"
                           f"请确认文件内容，或分成几个文件导入")
    giant_cell = FileRejected("工作簿中有一个单元格的内容超过 Excel 允许的长度（32767 个字），可能是异常文件，不能导入")
    out, hidden, total, strings_carry = {}, {}, 0, b""
    try:
        book = zipfile.ZipFile(fh)
    except Exception:
        raise FileRejected("无法读取这个文件：它不是有效的 Excel 工作簿，或已经损坏") from None
    try:
        with book as z:
            infos = z.infolist()
            if sum(i.file_size for i in infos) > limits.max_uncompressed:
                raise too_big
            order = {part: n for n, part in enumerate(_sheet_parts(z))} if is_xlsx else {}
            for info in infos:
                index = order.get(info.filename)
                max_row = max_col = 0
                refs, carry = [], b""
                with z.open(info) as part:
                    while True:
                        chunk = part.read(CHUNK)
                        if not chunk:
                            break
                        total += len(chunk)
                        if total > limits.max_uncompressed:
                            raise too_big
                        if index is None:
                            if info.filename == "xl/sharedStrings.xml":
                                strings_carry = _check_strings(strings_carry + chunk, giant_cell)
                            continue
                        buf = carry + chunk
                        cut = buf.rfind(b"</c>") + 4
                        if cut < 4:
                            if len(buf) > MAX_CELL_BYTES:
                                raise giant_cell
                            carry = buf
                            continue
                        work, carry = buf[:cut], buf[cut:]
                        for letters, digits in CELL.findall(work):
                            max_row = max(max_row, int(digits))
                            max_col = max(max_col, _column_number(letters))
                        if b"hidden=" in work:
                            for attrs in ROW_TAG.findall(work):
                                number = ROW_NUMBER.search(attrs)
                                if number and HIDDEN.search(attrs):
                                    hidden.setdefault(index, set()).add(int(number.group(1)))
                        if b"<f" in work:
                            refs.extend(m.decode() for m in FORMULA_CELL.findall(work))
                        if max_row > limits.max_rows or max_col > limits.max_columns:
                            _check_extent(f"第{index + 1}张工作表", max_row, max_col, limits)
                if index is not None:
                    for letters, digits in CELL.findall(carry):
                        max_row, max_col = max(max_row, int(digits)), max(max_col, _column_number(letters))
                    _check_extent(f"第{index + 1}张工作表", max_row, max_col, limits)
                    if refs:
                        out[index] = refs
    except FileRejected:
        raise
    except Exception:
        # damaged compressed data (zlib.error, bad CRC), a bad entry, …: the workbook cannot be trusted
        raise FileRejected("无法读取这个文件：工作簿已经损坏，请用 Excel 打开后另存一份再导入") from None
    return out, hidden


SHEET_TAG = re.compile(rb"<(?:\w+:)?sheet\b[^>]*?\b(?:\w+:)?id=\"([^\"]+)\"")
RELATION = re.compile(rb"<(?:\w+:)?Relationship\b([^>]*)>")
ATTR = re.compile(rb'\b(Id|Target)="([^"]+)"')


def _sheet_parts(z):
    """The worksheet part names in tab order: the order the reader gives sheets in. Part numbers
    (sheet1.xml, sheet2.xml …) follow creation, not tabs, once a user moves or inserts a sheet."""
    names = set(z.namelist())
    try:
        workbook = z.read("xl/workbook.xml")
        rels = z.read("xl/_rels/workbook.xml.rels")
    except KeyError:
        return sorted((n for n in names if WORKSHEET.fullmatch(n)), key=lambda n: int(WORKSHEET.fullmatch(n).group(1)))
    targets = {}
    for attrs in RELATION.findall(rels):
        found = dict(ATTR.findall(attrs))
        if b"Id" in found and b"Target" in found:
            target = found[b"Target"].decode().lstrip("/")
            targets[found[b"Id"]] = target if target.startswith("xl/") else "xl/" + target
    return [targets[rid] for rid in SHEET_TAG.findall(workbook) if targets.get(rid) in names]


def _check_strings(buf, giant_cell):
    """The unfinished tail of shared-string XML; one string longer than Excel allows is refused."""
    cut = buf.rfind(b"</si>")
    tail = buf[cut + 5:] if cut >= 0 else buf
    if len(tail) > MAX_CELL_BYTES:
        raise giant_cell
    return tail


def _column_number(letters):
    n = 0
    for ch in letters:
        n = n * 26 + ch - 64
    return n
