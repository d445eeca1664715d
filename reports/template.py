"""Import templates and error workbooks, generated from the schema.

A template has one sheet per entity (an entity and its inline children), headers in Chinese with *
on required columns, dropdowns for option lists, ID and account columns formatted as text, and an
instructions sheet. A field added to a schema file appears here with no other change.
"""
import xlsxwriter

from casework.core import refs, sheet_layout
from casework.core.imports import header_text, importable_fields

from . import printing

TYPE_WIDTH = {"id_card": 21, "bank_account": 23, "date": 12, "datetime": 17, "textarea": 30, "checklist": 20}
TEXT_TYPES = {"password", "checklist", "id_card", "bank_account", "phone", "text", "textarea", "month"}
HOW = {
    "text": "文本", "textarea": "文本，可多行", "int": "整数", "money": "金额（元），如 1200.50",
    "date": "日期，如 2024-05-01", "datetime": "日期时间，如 2024-05-01 08:30", "month": "年月，如 2024-05",
    "bool": "填“是”或“否”", "choice": "从下拉列表中选择（也可填代码）", "area": "区划名称或区划代码",
    "id_card": "18位身份证号（15位旧号也可），请保持文本格式", "phone": "手机或座机号码",
    "bank_account": "银行账号，请保持文本格式（数字格式会丢失末几位）", "json": "JSON 文本",
    "password": "密码（保存时加密存储；更新时留空则不修改）",
    "checklist": "可填多项，用顿号“、”分隔（填名称或代码）",
}


def sheets_of(registry, entity_name):
    spec = registry.entities[entity_name]
    return [spec] + [registry.entities[c] for c in spec.inline]


def columns_of(registry, entity_name, spec):
    """Fields of a sheet; a child's link to its parent comes first."""
    fields = importable_fields(spec)
    if spec.name != entity_name:
        back = [f for f in fields if f.type == "ref" and f.to == entity_name]
        fields = back + [f for f in fields if f not in back]
    return fields


def write_template(registry, entity_name, path):
    book = xlsxwriter.Workbook(path, {"strings_to_numbers": False, "strings_to_formulas": False})
    head = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    required = book.add_format({"bold": True, "bg_color": "#FCE4D6", "border": 1, "font_color": "#C00000"})
    text = book.add_format({"num_format": "@"})
    lists = book.add_worksheet("选项")
    list_col = 0
    list_ranges = {}
    guide_rows = []
    for spec in sheets_of(registry, entity_name):
        sheet = book.add_worksheet(spec.label)
        fields = columns_of(registry, entity_name, spec)
        widths, formats = printing.Widths(), {}
        for col, f in enumerate(fields):
            sheet.write_string(0, col, header_text(f), required if f.required else head)
            widths.at_least(col, TYPE_WIDTH.get(f.type, 10))      # room to type into an empty template
            widths.label(col, header_text(f))
            if f.type in TEXT_TYPES:
                formats[col] = text
            if f.type == "choice":
                if f.options not in list_ranges:
                    options = registry.options[f.options].options
                    lists.write_string(0, list_col, registry.options[f.options].label)
                    for r, o in enumerate(options, 1):
                        lists.write_string(r, list_col, o.label)
                    letter = xlsxwriter.utility.xl_col_to_name(list_col)
                    list_ranges[f.options] = f"=选项!${letter}$2:${letter}${len(options) + 1}"
                    list_col += 1
                sheet.data_validation(1, col, 100000, col, {
                    "validate": "list", "source": list_ranges[f.options], "error_type": "warning",
                    "error_title": f.label, "error_message": f"请从下拉列表中选择{f.label}"})
            how = HOW.get(f.type, "")
            if f.type == "ref":
                target = registry.entities[f.to]
                how = f"{target.label}的{refs.how_to_name(target)}"
            guide_rows.append((spec.label, f.label, "必填" if f.required else "", how, f.help or ""))
        sheet.freeze_panes(1, 0)
        printing.setup(sheet, widths.apply(sheet, formats), 0)
    guide = book.add_worksheet("填写说明")
    guide.write_row(0, 0, ["工作表", "列", "是否必填", "怎样填写", "说明"], head)
    for r, row in enumerate(guide_rows, 1):
        guide.write_row(r, 0, row)
    guide.write_string(len(guide_rows) + 2, 0, "表头不要改动；带 * 的列必须填写；一行一条记录；不要合并单元格，不要用公式。")
    guide.set_column(0, 1, 16)
    guide.set_column(3, 4, 48)
    printing.setup(guide, 16 + 16 + 10 + 48 + 48, 0)
    lists.hide()
    book.worksheets_objs.sort(key=lambda ws: ws.name in ("选项", "填写说明"))
    book.close()


REASON_WIDTH = 50          # the reasons wrap in their column


def secret_columns(spec, header):
    """Columns holding a `password` field: the error workbook leaves them empty (a file passed around
    to be fixed must not carry passwords; the re-import keeps the stored one for a blank cell)."""
    if spec is None:
        return set()
    names = set()
    for f in spec.fields:
        if f.type == "password":
            names |= {f.label, header_text(f), *(getattr(f, "aliases", None) or [])}
    wanted = {sheet_layout.normal(n) for n in names}
    return {col for col, h in enumerate(header) if h is not None and
            any(c in wanted for c in sheet_layout.candidates(h))}


def write_errors(outcome, path):
    """Every row as it was, per sheet, the failed ones marked and their reasons in a last column: an
    import writes all or nothing, so the fixed workbook is the whole file again (members keep their
    households). Dates stay dates; the reason column is ignored when the workbook comes back."""
    import datetime as dt
    book = xlsxwriter.Workbook(path, {"strings_to_numbers": False, "strings_to_formulas": False,
                                      "constant_memory": True})
    head = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    reason_fmt = book.add_format({"font_color": "#C00000", "text_wrap": True})
    date_fmt = book.add_format({"num_format": "yyyy-mm-dd"})
    time_fmt = book.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    bad_fill = book.add_format({"bg_color": "#FCE4D6"})
    by_sheet = {}
    for p in outcome.problems:
        by_sheet.setdefault(p.sheet, {}).setdefault(p.row, []).append(p)
    general = by_sheet.pop("", {})
    for name, spec, header, rows in outcome.sheets:
        sheet = book.add_worksheet(name[:31])
        header = [h for h in header]
        while header and str(header[-1] or "").strip() in ("", "错误原因"):
            header.pop()            # a workbook that comes back from an earlier error file
        width = len(header)
        secret = secret_columns(spec, header)
        widths = printing.Widths({width: REASON_WIDTH})
        for col, h in enumerate(header):
            sheet.write_string(0, col, "" if h is None else str(h), head)
            widths.label(col, "" if h is None else str(h))
        sheet.write_string(0, width, "错误原因", head)
        problems_of = by_sheet.get(name, {})
        out = 0
        for row_no, cells in rows:
            values = [None if col in secret else value for col, value in enumerate(cells[:width])]
            widths.row(values)
            out += 1        # the header comes back in row 1, data from row 2; title, total, hidden rows dropped
            problems = problems_of.get(row_no)
            for col, value in enumerate(values):
                if value in (None, ""):
                    continue
                if isinstance(value, dt.datetime):
                    sheet.write_datetime(out, col, value, time_fmt)
                elif isinstance(value, dt.date):
                    sheet.write_datetime(out, col, dt.datetime.combine(value, dt.time()), date_fmt)
                elif isinstance(value, str):
                    sheet.write_string(out, col, value, bad_fill if problems else None)
                else:
                    sheet.write(out, col, value)
            if problems:
                sheet.write_string(out, width, "；".join(f"{p.column}：{p.message}" if p.column else p.message
                                                              for p in problems), reason_fmt)
        printing.setup(sheet, widths.apply(sheet, {width: reason_fmt}), 0)
    starts = {name: (rows[0][0] - 1 if rows else 1) for name, _, _, rows in outcome.sheets}
    notes = [p for rows in general.values() for p in rows] + \
        [p for sheet, rows in by_sheet.items() for r, ps in rows.items() if r <= starts.get(sheet, 1) for p in ps]
    if notes:
        sheet = book.add_worksheet("文件问题")
        sheet.set_column(0, 0, 16)
        sheet.set_column(1, 1, 80, reason_fmt)
        sheet.write_row(0, 0, ["工作表", "问题"], head)
        printing.setup(sheet, 96, 0)
        for r, p in enumerate(notes, 1):
            sheet.write_row(r, 0, [p.sheet, f"{p.column}：{p.message}" if p.column else p.message])
    book.close()
