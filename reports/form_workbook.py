"""A declarative report as the civil-affairs form workbook: one sheet per report sheet with the title,
the header lines (填报单位, 报表期), the table and its totals, the rows that break the sheet's checks,
and the footer (制表人, 审核人, 填报日期). Grouped tables are small: written in memory."""

import xlsxwriter
from schema import clock

from . import engine, printing


def write(target, report, params_text, results, user=None, today=None):
    """Write the results of `reports.engine.run` to `target` (a path or a file object)."""
    today = today or clock.today()
    book = xlsxwriter.Workbook(target, {"in_memory": True, "strings_to_formulas": False,
                                        "strings_to_numbers": False, "strings_to_urls": False})
    bold = book.add_format({"bold": True, "border": 1})
    warn = book.add_format({"font_color": "#C00000"})
    title_fmt = printing.title_format(book, 16)
    head = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True,
                            "align": "center", "valign": "vcenter"})
    cell_fmt = {"int": book.add_format({"num_format": "0", "border": 1}),
                "persons": book.add_format({"num_format": "0", "border": 1}),
                "yuan": book.add_format({"num_format": "#,##0.00", "border": 1}),
                "percent": book.add_format({"num_format": "0.00%", "border": 1}),
                "text": book.add_format({"border": 1})}
    header_lines = [engine.fill(line, user, today) for line in report.header] + [f"报表期：{params_text}"]
    footer_lines = [engine.fill(line, user, today) for line in report.footer]
    for result in results:
        ws = book.add_worksheet(result.name[:31])
        columns = max(1, len(result.headers))
        printing.title(ws, 0, report.title, columns, title_fmt)
        r = 1
        for line in header_lines:
            ws.write_string(r, 0, line)         # lines above the table overflow to the right; not measured
            r += 1
        r += 1
        table_head = r
        widths = printing.Widths()
        for col, label in enumerate(result.headers):
            ws.write_string(r, col, label, head)
            widths.label(col, label)
        r += 1
        for row in result.rows + ([result.totals] if result.totals else []):
            is_total = row is result.totals
            widths.row([engine.shown(v, f) for v, f in zip(row, result.formats)])
            for col, (value, fmt) in enumerate(zip(row, result.formats)):
                style = cell_fmt[fmt]
                if value is None or value == "":
                    ws.write_blank(r, col, None, style)
                elif fmt == "text" or isinstance(value, str):
                    ws.write_string(r, col, str(value), bold if is_total else style)
                else:
                    ws.write_number(r, col, float(value), style)
            r += 1
        for problem in result.problems:
            ws.write_string(r, 0, f"核验：{problem}", warn)
            r += 1
        r += 1
        for line in footer_lines:
            ws.write_string(r, 0, line)
            r += 1
        printing.setup(ws, widths.apply(ws), table_head)
    book.close()
