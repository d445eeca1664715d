"""Streaming xlsx writing: XlsxWriter in constant_memory mode with typed cells.

Cells come from the field-type registry as (kind, value). Strings are always written as strings,
so a value such as "=HYPERLINK(...)" is never a formula; a leading = + - @ also gets Excel's quote
prefix so that editing the cell keeps it text. Other strings get no format: a text format on every
cell costs about 8% of the export time and a string cell stays a string anyway.
"""
import datetime as dt

import xlsxwriter

from . import printing

FORMULA_START = ("=", "+", "-", "@")


class SheetWriter:
    """One list sheet: optional title lines, the column header, rows. Column widths and the page set-up
    (reports/printing.py) are settled at close, from the content written."""

    def __init__(self, path, sheet_name="Sheet1"):
        self.book = xlsxwriter.Workbook(path, {
            "constant_memory": True, "strings_to_formulas": False, "strings_to_numbers": False,
            "strings_to_urls": False, "default_date_format": "yyyy-mm-dd"})
        self.sheet = self.book.add_worksheet(sheet_name[:31])
        self.fmt = {
            "header": self.book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1,
                                            "text_wrap": True, "valign": "vcenter"}),
            "title": printing.title_format(self.book),
            "quoted": self.book.add_format({"num_format": "@", "quote_prefix": True}),
            "money": self.book.add_format({"num_format": "#,##0.00"}),
            "int": self.book.add_format({"num_format": "0"}),
            "number": self.book.add_format({}),
            "date": self.book.add_format({"num_format": "yyyy-mm-dd"}),
            "datetime": self.book.add_format({"num_format": "yyyy-mm-dd hh:mm"}),
        }
        self.row = 0
        self.titles = []
        self.widths = printing.Widths()
        self.header_row = None

    def title(self, text):
        """A title line above the table (a notice's or a roster's name): written with the header, when
        the table's width is known, merged and centred across it."""
        self.titles.append(text)

    def header(self, labels, widths=None):
        for text in self.titles:
            printing.title(self.sheet, self.row, text, len(labels), self.fmt["title"])
            self.row += 1
        self.titles = []
        self.widths.fixed.update(widths or {})
        for col, label in enumerate(labels):
            self.sheet.write_string(self.row, col, label, self.fmt["header"])
            self.widths.label(col, label)
        self.sheet.freeze_panes(self.row + 1, 0)
        self.header_row = self.row
        self.row += 1

    def cells(self, values, formats=None):
        """values: [(kind, value)]; formats: a number format name per column (or None)."""
        r = self.row
        sheet, fmt = self.sheet, self.fmt
        self.widths.row([v for _, v in values])
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
        total = self.widths.apply(self.sheet)
        if self.header_row is not None:
            printing.setup(self.sheet, total, self.header_row)
        self.book.close()
