"""Sensitive-data access log (个人信息保护法 / 等保 2.0 安全审计): every file a user downloads, and every
page or file that showed a full ID or bank number, leave a security event with who, when, IP, what
and whose record. Downloads are caught in one place (after_request), so a new export is logged
without anyone remembering to."""
from urllib.parse import unquote

from flask import current_app, g, request
from flask_admin import expose

from . import auth


def mark_unmasked(entity, record_id=None, subject=None, what=""):
    """Called by a view that is about to show full sensitive values."""
    g.setdefault("unmasked", []).append((entity, record_id, subject, what))


def _filename(disposition):
    for part in disposition.split(";"):
        key, _, value = part.strip().partition("=")
        if key == "filename*":
            return unquote(value.split("''", 1)[-1])
        if key == "filename":
            name = value.strip('"')
    return locals().get("name", "")


def after_request(response):
    user = auth.current()
    marks = g.pop("unmasked", [])
    if user is None or response.status_code != 200:
        return response
    log = current_app.extensions["jiuzhu"].security_log
    disposition = response.headers.get("Content-Disposition", "")
    if disposition.startswith("attachment"):
        log.record("export", detail=f"{_filename(disposition)}（{request.full_path.rstrip('?')}）")
    for entity, record_id, subject, what in marks:
        log.record("unmask_view", entity=entity, record_id=record_id, subject=subject, detail=what)
    return response


class AccessLogMixin:
    """Details pages that show full ID or bank numbers log the view."""

    @expose("/details/")
    def details_view(self):
        response = super().details_view()
        sensitive = [f for f in self.spec.shown_fields() if f.sensitive]
        if sensitive and self.can("unmask") and getattr(response, "status_code", 200) == 200 \
                and not hasattr(response, "location"):
            record = self.get_one(request.args.get("id"))
            shown = [f.label for f in sensitive if record.__data__.get(f.name)]
            if shown:
                mark_unmasked(self.spec.name, record.id, str(record)[:100], "查看详情：" + "、".join(shown))
        return response
