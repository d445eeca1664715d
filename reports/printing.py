"""How every workbook the system writes prints: reports, list exports, the bank list, import templates
and error workbooks all come through here, so a filed page looks the same whichever wrote it.

A4; upright, or across when the table is wider than an upright page holds; one page wide (so a later
page of the bank list still shows the names beside the card numbers); the column header repeated on
every page; 第 N 页，共 M 页 in the footer; the title merged and centred across the table; column widths
from the content, a Chinese character counting as two, capped so that one long address does not push
the table onto a second page width.
"""
import unicodedata

A4 = 9
PORTRAIT_WIDTH = 100        # A4 upright less 0.4in margins is ~717px; a width-w column is ~7w+5px: ~100 characters at 100%
MIN_WIDTH = 6
MAX_WIDTH = 40              # a longer cell wraps or is cut in print rather than widen the whole table
PADDING = 2
SAMPLE_ROWS = 500           # widths are measured on the first rows: a 300 000-line bank list costs no more


def text_width(value):
    """Printed width in characters: East Asian wide and full-width characters count double."""
    if value is None:
        return 0
    text = value if isinstance(value, str) else str(value)
    width = 0
    for line in text.split("\n"):
        w = sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in line)
        width = max(width, w)
    return width


class Widths:
    """The widest cell seen per column (header labels included), turned into column widths."""

    def __init__(self, fixed=None):
        self.seen = {}
        self.fixed = dict(fixed or {})
        self.rows = 0

    def label(self, col, text):
        # a header label wraps (its format wraps text), so a long label only asks for half its width
        self._see(col, max(text_width(text) // 2, min(text_width(text), 12)))

    def at_least(self, col, width):
        self._see(col, width - PADDING)

    def row(self, values):
        """values: cell values in column order (None for blank); measured for the first SAMPLE_ROWS rows."""
        if self.rows >= SAMPLE_ROWS:
            return
        self.rows += 1
        for col, value in enumerate(values):
            if value is not None and value != "":
                self._see(col, text_width(_shown(value)))

    def _see(self, col, width):
        if width > self.seen.get(col, 0):
            self.seen[col] = width

    def widths(self):
        out = {}
        for col in set(self.seen) | set(self.fixed):
            if col in self.fixed:
                out[col] = self.fixed[col]
            else:
                out[col] = max(MIN_WIDTH, min(MAX_WIDTH, self.seen[col] + PADDING))
        return out

    def apply(self, sheet, formats=None):
        """Set the columns; returns the table's total width (for the orientation)."""
        widths = self.widths()
        for col, width in sorted(widths.items()):
            sheet.set_column(col, col, width, (formats or {}).get(col))
        return sum(widths.values())


def _shown(value):
    """What a cell shows: amounts with two decimals and thousands separators, dates as yyyy-mm-dd."""
    if isinstance(value, float) or type(value).__name__ == "Decimal":
        return f"{value:,.2f}"
    if hasattr(value, "isoformat"):
        return value.isoformat()[:16]
    return value


def setup(sheet, width, header_first, header_last=None):
    """Page set-up of a sheet whose table is `width` characters wide and whose column header sits in
    rows header_first..header_last (0-based)."""
    sheet.set_paper(A4)
    if width > PORTRAIT_WIDTH:
        sheet.set_landscape()
    else:
        sheet.set_portrait()
    sheet.fit_to_pages(1, 0)
    sheet.repeat_rows(header_first, header_first if header_last is None else header_last)
    sheet.center_horizontally()
    sheet.set_margins(left=0.4, right=0.4, top=0.6, bottom=0.7)
    sheet.set_footer("&C第 &P 页，共 &N 页")


def title_format(book, size=14):
    return book.add_format({"bold": True, "font_size": size, "align": "center", "valign": "vcenter"})


def title(sheet, row, text, columns, fmt):
    """The title merged and centred across the table's columns (a single column is just centred)."""
    if columns > 1:
        sheet.merge_range(row, 0, row, columns - 1, text, fmt)
    else:
        sheet.write_string(row, 0, text, fmt)
    sheet.set_row(row, 24)
