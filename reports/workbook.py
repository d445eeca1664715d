"""Streaming xlsx writing: XlsxWriter in constant_memory mode with typed cells.

Cells come from the field-type registry as (kind, value). Strings are always written as strings,
so a value such as "=HYPERLINK(...)" is never a formula; a leading = + - @ also gets Excel's quote
prefix so that editing the cell keeps it text. Other strings get no format: a text format on every
cell costs about 8% of the export time and a string cell stays a string anyway.
"""
import datetime as dt

import xlsxwriter

FORMULA_START = ("=", "+", "-", "@")
A4 = 9
PORTRAIT_WIDTH = 95             # column widths (characters) that fit an A4 page upright at a readable size


def print_setup(sheet, width, header_row):
    """A printed list is filed: A4, upright or across as the table's width asks, one page wide,
    the header repeated on every page (so a later page of the bank list still names its columns),
    centred, and page numbers in the footer."""
    sheet.set_paper(A4)
    if width > PORTRAIT_WIDTH:
        sheet.set_landscape()
    else:
        sheet.set_portrait()
    sheet.fit_to_pages(1, 0)
    sheet.repeat_rows(0, header_row)
    sheet.center_horizontally()
    sheet.set_margins(left=0.4, right=0.4, top=0.6, bottom=0.6)
    sheet.set_footer("&C第 &P 页，共 &N 页")


class SheetWriter:
    def __init__(self, path, sheet_name="Sheet1"):
        self.book = xlsxwriter.Workbook(path, {
            "constant_memory": True, "strings_to_formulas": False, "strings_to_numbers": False,
            "strings_to_urls": False, "default_date_format": "yyyy-mm-dd"})
        self.sheet = self.book.add_worksheet(sheet_name[:31])
        self.fmt = {
            "header": self.book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1,
                                            "text_wrap": True, "valign": "vcenter"}),
            "quoted": self.book.add_format({"num_format": "@", "quote_prefix": True}),
            "money": self.book.add_format({"num_format": "#,##0.00"}),
            "int": self.book.add_format({"num_format": "0"}),
            "number": self.book.add_format({}),
            "date": self.book.add_format({"num_format": "yyyy-mm-dd"}),
            "datetime": self.book.add_format({"num_format": "yyyy-mm-dd hh:mm"}),
        }
        self.row = 0

    def title(self, text):
        """A title line above the table (a notice's or a roster's name)."""
        self.sheet.write_string(self.row, 0, text, self.fmt["header"])
        self.row += 1

    def header(self, labels, widths=None):
        total = 0
        for col, label in enumerate(labels):
            self.sheet.write_string(self.row, col, label, self.fmt["header"])
            width = (widths or {}).get(col) or max(8, min(40, len(label) * 2 + 2))
            self.sheet.set_column(col, col, width)
            total += width
        self.sheet.freeze_panes(self.row + 1, 0)
        print_setup(self.sheet, total, self.row)
        self.row += 1

    def cells(self, values, formats=None):
        """values: [(kind, value)]; formats: a number format name per column (or None)."""
        r = self.row
        sheet, fmt = self.sheet, self.fmt
        for col, (kind, value) in enumerate(values):
            if value is None:
                continue
            if kind == "string":
                text = value if isinstance(value, str) else str(value)
                sheet.write_string(r, col, text, fmt["quoted"] if text.startswith(FORMULA_START) else None)
            elif kind == "number":
                sheet.write_number(r, col, value, fmt[(formats and formats[col]) or "number"])
            elif kind == "date":
                if isinstance(value, dt.datetime):
                    sheet.write_datetime(r, col, value, fmt["datetime"])
                else:
                    sheet.write_datetime(r, col, dt.datetime.combine(value, dt.time()), fmt["date"])
        self.row += 1

    def close(self):
        self.book.close()
