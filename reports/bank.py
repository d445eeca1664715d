"""The bank's payment list (发放清单): a batch header, then one line per payee. ID and card numbers are
text cells; amounts are numbers with two decimals; the line number (流水号) lets the bank's return file
be matched back to the ledger line."""
from decimal import Decimal

from . import printing
from .workbook import FORMULA_START, SheetWriter

COLUMNS = ["流水号", "户主姓名", "身份证号", "开户名", "开户行", "卡号", "金额（元）", "项目名称"]


def write_payment_list(target, title, month, lines, project_label, totals=None):
    """lines: dicts from casework.funds.payments.bank_lines (one per payee and item, amounts already added
    up); project_label(code) → 项目名称; totals: (count, total, type codes) when known beforehand
    (casework.funds.payments.bank_totals), so that the lines stream under the header instead of being held."""
    if totals is None:
        lines = list(lines)
        totals = (len(lines), sum((Decimal(line["amount"]) for line in lines), Decimal("0.00")),
                  {line["assistance_type"] for line in lines})
    count, total, kinds = totals
    projects = sorted({project_label(k) for k in kinds})
    writer = SheetWriter(target, "发放清单")
    sheet, fmt = writer.sheet, writer.fmt
    printing.title(sheet, 0, title, len(COLUMNS), fmt["title"])
    for row, (label, value) in enumerate([("项目", "、".join(projects) or "（无）"), ("发放年月", month),
                                          ("笔数", count), ("合计（元）", total)], start=1):
        sheet.write_string(row, 0, label)
        if isinstance(value, str):
            sheet.write_string(row, 1, value)
        else:
            sheet.write_number(row, 1, float(value), fmt["money"] if isinstance(value, Decimal) else fmt["int"])
    writer.row = 6
    writer.header(COLUMNS)
    # hundreds of thousands of lines: cells go straight to the sheet (same cell types as SheetWriter.cells)
    ws, quoted, money, measure = sheet, fmt["quoted"], fmt["money"], writer.widths.row
    row = writer.row
    for line in lines:
        measure([line["id"], line["head_name"], line["head_id_number"], line["account_name"], line["bank_name"],
                 line["bank_account"], line["amount"]])
        ws.write_number(row, 0, line["id"])
        for col, key in ((1, "head_name"), (2, "head_id_number"), (3, "account_name"), (4, "bank_name"),
                         (5, "bank_account")):
            text = line[key] or ""
            ws.write_string(row, col, text, quoted if text.startswith(FORMULA_START) else None)
        ws.write_number(row, 6, float(line["amount"]), money)
        ws.write_string(row, 7, project_label(line["assistance_type"]))
        row += 1
    written = row - writer.row
    writer.close()
    return written, total
