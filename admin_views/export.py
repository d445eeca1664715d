"""Excel export of exactly the rows a list shows (scope, filters, search, sort), streamed in batches.

Replaces flask-admin's tablib export (all-string cells, whole result in memory, ASCII-only names).
"""
import datetime as dt
import os
import tempfile

from flask import flash, redirect, send_file

from schema import types
from schema.models import stream_dicts
from schema.resolve import DisplayContext, Resolver
from reports.workbook import SheetWriter

from . import access_log

BATCH = 2000


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def download(buffer, name, mimetype=XLSX):
    """A workbook or document written to a BytesIO, sent as a download with its Chinese file name."""
    buffer.seek(0)
    return send_file(buffer, as_attachment=True, download_name=name, mimetype=mimetype)


def export_columns(spec):
    return [f for f in spec.shown_fields()]


def write_rows(path, models, spec, query, masked_fields, sheet_name):
    """Write the header and every row of `query` to an xlsx file; return the row count."""
    fields = export_columns(spec)
    writer = SheetWriter(path, sheet_name)
    stamps = ["创建时间", "修改时间"] + (["版本"] if spec.versioned else [])
    writer.header([f.label for f in fields] + stamps)
    resolver = Resolver(models)
    ctx = DisplayContext(models.registry, resolver)
    ref_paths = [f.name for f in fields if f.type in ("ref", "area")]
    columns = [(f.name, types.get(f.type).cell_function(f, ctx, masked=f.name in masked_fields))
               for f in fields]
    formats = [types.get(f.type).xlsx_format for f in fields] + [None] * len(stamps)
    count = 0
    batch = []

    def flush():
        resolver.prefetch(spec.name, batch, ref_paths)
        for row in batch:
            cells = [cell(row[name]) for name, cell in columns]
            cells.append(("date", row["created_at"]))
            cells.append(("date", row["updated_at"]))
            if spec.versioned:
                # the version the row had when exported: an import update can tell a stale sheet
                cells.append(("number", row.get("version") or 0))
            writer.cells(cells, formats)
        # keep small, often-shared lookups (areas); drop the rest so memory stays flat
        for name in list(resolver.cache):
            if len(resolver.cache[name]) > 5000:
                resolver.cache[name] = {}
        batch.clear()

    for row in stream_dicts(query, BATCH):
        batch.append(row)
        count += 1
        if len(batch) >= BATCH:
            flush()
    if batch:
        flush()
    writer.close()
    return count


def list_export(view):
    args = view._get_list_extra_args()
    sort = view._get_column_by_idx(args.sort)
    sort_column = sort[0] if sort is not None else None
    count, query = view.get_list(0, sort_column, args.sort_desc, args.search, args.filters,
                                 execute=False, page_size=0)
    limit = view.engine.settings.get("export_max_rows")
    if count is not None and count > limit:
        flash(f"要导出的记录有 {count} 条，超过单次导出上限 {limit} 条，请先用筛选缩小范围。", "error")
        return redirect(view.get_url(".index_view"))
    masked = set() if view.can("unmask") else {f.name for f in view.spec.fields if f.sensitive}
    shown = [f.label for f in export_columns(view.spec) if f.sensitive and f.name not in masked]
    if shown:
        access_log.mark_unmasked(view.spec.name, None, None, f"导出{view.spec.label}" + (f" {count} 行" if count is not None else "")
                                  + "：" + "、".join(shown))
    fd, path = tempfile.mkstemp(suffix=".xlsx", prefix="jiuzhu-export-")
    os.close(fd)
    try:
        write_rows(path, view.models, view.spec, query, masked, view.spec.label)
        stamp = dt.datetime.now().strftime("%Y%m%d_%H%M")
        response = send_file(path, as_attachment=True, download_name=f"{view.spec.label}_{stamp}.xlsx",
                             mimetype=XLSX)
    except Exception:
        os.remove(path)
        raise
    response.call_on_close(lambda: os.path.exists(path) and os.remove(path))
    return response
