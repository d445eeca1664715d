"""Printable documents on a record's page: the templates of reports/documents/*.yaml for its entity
(and its state), as an A4 page or a .docx, filled from the record."""
import io

from flask import abort, request, url_for
from flask_admin.base import expose

from casework.cases import documents
from reports import document

from . import access_log, auth, export


class DocumentsMixin:
    def documents_for(self, record):
        specs = self.engine.__dict__.get("documents") or {}
        return [d for d in specs.values() if d.offered(record)]

    @expose("/document/")
    def document_view(self):
        record = self.get_one(request.args.get("id"))
        spec = next((d for d in self.documents_for(record) if d.name == request.args.get("name")), None)
        if spec is None:
            abort(404)
        value, items = documents.filler(self.engine, record, auth.current(), self.can("unmask"))
        if self.can("unmask"):
            access_log.mark_unmasked(self.spec.name, record.id, str(record)[:100], f"文书：{spec.label}")
        blocks = document.fill(spec, value, items)
        if request.args.get("format") == "docx":
            buffer = io.BytesIO()
            document.to_docx(blocks, buffer)
            return export.download(buffer, f"{spec.label}-{record._pk}.docx", export.DOCX)
        return self.render("jiuzhu/document.html", spec=spec, blocks=blocks, record=record,
                           return_url=url_for(".details_view", id=record.id))
