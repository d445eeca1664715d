"""Reading uploaded tables: .xlsx/.xls/.ods through python-calamine, .csv in UTF-8 (with or without
BOM) or GBK. Whatever is wrong with the file as a whole becomes a FileRejected with a Chinese message.
"""
import csv
import io
import re
import zipfile
from dataclasses import dataclass, field

import python_calamine as pc

WORKBOOK_EXT = (".xlsx", ".xlsm", ".xls", ".ods")


class FileRejected(ValueError):
    """The file cannot be read as a table; nothing is imported."""


@dataclass
class Sheet:
    name: str
    rows: list                                  # list of lists of cell values (row 1 = header)
    merged: list = field(default_factory=list)  # ["A2:B3", …]
    formulas: list = field(default_factory=list)  # ["C5", …]


def find_table(data, filename, max_bytes, marker, hint):
    """(first sheet, header row index, header cells) of an uploaded list whose header row has `marker`
    in its first 20 rows; FileRejected says what is wrong."""
    sheet = read(data, filename, max_bytes)[0]
    for i, row in enumerate(sheet.rows[:20]):
        cells = [str(c).strip() for c in row]
        if marker in cells:
            return sheet, i, cells
    raise FileRejected(f"找不到表头“{marker}”：{hint}")


def read(data, filename, max_bytes):
    """Sheets of an uploaded file (bytes), in workbook order."""
    if not data:
        raise FileRejected("文件是空的")
    if len(data) > max_bytes:
        raise FileRejected(f"文件超过大小上限 {max_bytes // (1024 * 1024)} MB，请分成几个文件导入")
    name = (filename or "").lower()
    if name.endswith(".csv"):
        return [Sheet(name=re.sub(r"\.csv$", "", filename or "", flags=re.I), rows=_csv_rows(data))]
    if not name.endswith(WORKBOOK_EXT):
        raise FileRejected("只能导入 Excel 工作簿（.xlsx、.xls）或 CSV 文件")
    try:
        book = pc.CalamineWorkbook.from_filelike(io.BytesIO(data))
    except pc.PasswordError:
        raise FileRejected("工作簿设有密码（已加密），请取消密码后另存再导入") from None
    except Exception:
        if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" and name.endswith(".xlsx"):
            raise FileRejected("工作簿设有密码（已加密），或不是 .xlsx 格式，请取消密码后另存为 .xlsx 再导入") from None
        raise FileRejected("无法读取这个文件：它不是有效的 Excel 工作簿，或已经损坏") from None
    if not book.sheet_names:
        raise FileRejected("无法读取这个文件：它不是有效的 Excel 工作簿，或已经损坏（没有工作表）")
    formulas = _xlsx_formulas(data) if name.endswith((".xlsx", ".xlsm")) else {}
    sheets = []
    for index, sheet_name in enumerate(book.sheet_names):
        try:
            sheet = book.get_sheet_by_index(index)
            rows = sheet.to_python(skip_empty_area=False)
            merged = [_range_name(r) for r in (sheet.merged_cell_ranges or [])]
        except Exception:
            raise FileRejected(f"工作表“{sheet_name}”无法读取，文件可能已损坏") from None
        sheets.append(Sheet(name=sheet_name, rows=rows, merged=merged, formulas=formulas.get(index, [])))
    return sheets


def _csv_rows(data):
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise FileRejected("CSV 文件的编码无法识别，请另存为 UTF-8 或 GBK 编码")
    if "\x00" in text:
        raise FileRejected("这不是文本格式的 CSV 文件")
    try:
        return [row for row in csv.reader(io.StringIO(text))]
    except csv.Error as e:
        raise FileRejected(f"CSV 文件格式有误：{e}") from None


def _xlsx_formulas(data):
    """{sheet index: [cell refs]} of cells holding a formula (calamine only gives their values)."""
    out = {}
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            names = sorted((n for n in z.namelist() if re.fullmatch(r"xl/worksheets/sheet\d+\.xml", n)),
                           key=lambda n: int(re.search(r"\d+", n.rsplit("/", 1)[1]).group()))
            for i, n in enumerate(names):
                xml = z.read(n).decode("utf-8", "replace")
                refs = re.findall(r'<c r="([A-Z]+\d+)"[^>]*>(?:(?!</c>).)*?<f[ >/]', xml)
                if refs:
                    out[i] = refs
    except Exception:
        # damaged compressed data (zlib.error), a bad entry, …: the workbook cannot be trusted
        raise FileRejected("无法读取这个文件：工作簿已经损坏，请用 Excel 打开后另存一份再导入") from None
    return out


def _range_name(r):
    (r1, c1), (r2, c2) = r
    return f"{column_letter(c1)}{r1 + 1}:{column_letter(c2)}{r2 + 1}"


def column_letter(index):
    """0 → A, 25 → Z, 26 → AA."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters
