"""Saves that neither fail on a busy database nor overwrite a newer change made by someone else.

Busy: SQLite transactions begin IMMEDIATE (schema.make_database) and wait `busy_timeout` for the
write lock; a write that still finds the database locked is tried once more, then answered with
BUSY_MESSAGE and the user's form as typed (forms), a 503 (list editing) or a page that sends the
user back to the form the browser still holds (every other POST).

Stale: forms carry the row version they were loaded with (hidden field `row_version`, inline rows
too; list editing sends "id:version" as its pk). A save whose version is behind the stored row is
refused by Record.save (StaleRecord), and the user is told who changed the record, when and what
it holds now; the form keeps the user's input and now carries the current version, so saving again
is a deliberate decision.
"""
import functools
import logging

import peewee as pw
import wtforms
from flask import flash, g, request
from flask_admin.model.widgets import XEditableWidget
from werkzeug.datastructures import MultiDict

from schema import StaleRecord
from schema.resolve import DisplayContext, Resolver

from .audit_view import describe

BUSY_MESSAGE = "系统繁忙，请稍后再试，您填写的内容未丢失"
log = logging.getLogger(__name__)


def is_locked(exc):
    return isinstance(exc, pw.OperationalError) and ("locked" in str(exc) or "busy" in str(exc))


class Busy(Exception):
    """Raised out of flask-admin's catch-all so that the save can be tried again."""


def guarded(db, write, refused=None):
    """Run write() in one transaction (rolled back if it reports failure); a locked database is
    tried once more, then the user reads BUSY_MESSAGE and write() reports failure. A rule broken
    after flask-admin's own error handling (after_model_change) goes to refused(exc)."""
    for attempt in (1, 2):
        try:
            with db.atomic() as txn:
                result = write()
                if not result:
                    txn.rollback()
                return result
        except (Busy, pw.OperationalError) as exc:
            if not isinstance(exc, Busy) and not is_locked(exc):
                raise
            log.warning("database locked, attempt %s", attempt)
        except Exception as exc:                  # noqa: BLE001 - refused() decides, else re-raised
            if refused is not None and not isinstance(exc, Busy) and refused(exc):
                return False
            raise
    g.jiuzhu_busy = True
    flash(BUSY_MESSAGE, "error")
    return False


def stale_message(engine, exc):
    """"您打开家庭户“…”之后，town1 于 2026-12-02 13:05:12 修改了它（联系电话：138… → 139…）…",
    from the record's last audit entry: who, when, and what it holds now."""
    record = exc.record
    spec = record._spec
    A = engine.system.AuditLog
    last = (A.select().where((A.entity == spec.name) & (A.record_id == record._pk))
            .order_by(A.at.desc(), A.id.desc()).first())
    who = "其他用户"
    changed = ""
    if last is not None:
        entry = describe(engine, last, DisplayContext(engine.registry, Resolver(engine.models)))
        who = f"{entry['username']} 于 {entry['at']:%Y-%m-%d %H:%M:%S} "
        changed = "；".join(f"{label}：{old or '（空）'} → {new or '（空）'}" for label, old, new in entry["changes"])
        changed = f"（{changed}）" if changed else ""
    return (f"保存失败：您打开{spec.label}“{record}”之后，{who}修改了它{changed}。您的修改没有保存，"
            f"填写的内容仍在表单中；请核对当前的值后再保存（再保存将以您的内容为准）。")


class VersionedSaves:
    """Mixin for SchemaModelView: the row version in list editing, and the refusals."""

    def update_model(self, form, model):
        g.pop("jiuzhu_stale", None)
        if g.get("jiuzhu_list_version") is not None:
            model.expect_version(g.jiuzhu_list_version)
        ok = super().update_model(form, model)
        stale = g.get("jiuzhu_stale")
        if not ok and stale is not None:
            _carry_current_version(form, stale, type(model))
        return ok

    def handle_view_exception(self, exc):
        if is_locked(exc):
            raise Busy() from exc
        if isinstance(exc, StaleRecord):
            g.jiuzhu_stale = exc
            flash(stale_message(self.engine, exc), "error")
            return True
        return super().handle_view_exception(exc)

    def ajax_update(self):
        pk, _sep, version = request.form.get("list_form_pk", "").partition(":")
        if version:
            form = MultiDict(request.form)
            form["list_form_pk"] = pk
            request.form = form
            g.jiuzhu_list_version = version
        result = super().ajax_update()
        if g.get("jiuzhu_stale") is not None:
            return stale_message(self.engine, g.jiuzhu_stale), 409
        if g.get("jiuzhu_busy"):
            return BUSY_MESSAGE, 503
        return result


def versioned_list_form(form_class, spec):
    """The list-editing form carries the row's version; its links post "id:version" as the pk."""
    if spec.versioned:
        form_class.row_version = wtforms.HiddenField()
    return form_class


class VersionedXEditable(XEditableWidget):
    def __call__(self, field, **kwargs):
        version = getattr(getattr(field, "_form", None), "row_version", None)
        if version is not None and kwargs.get("pk"):
            kwargs["pk"] = f"{kwargs['pk']}:{version.data or 0}"
        return super().__call__(field, **kwargs)


def _carry_current_version(form, exc, main_model):
    """The re-rendered form now carries the stored version: the user's next save is deliberate."""
    current = str((exc.current or {}).get("version") or 0)
    target = exc.record
    if type(target) is main_model and getattr(form, "row_version", None) is not None:
        form.row_version.data = current
        return
    for field in form or ():
        for entry in getattr(field, "entries", None) or ():
            sub = getattr(entry, "form", None)
            if sub is not None and "id" in sub and str(sub["id"].data) == str(target._pk) and "row_version" in sub:
                sub["row_version"].data = current


def install(app):
    """Every view of the app: a locked database is tried once more; then a page, never a 500."""
    for endpoint, fn in list(app.view_functions.items()):
        app.view_functions[endpoint] = _retry_once(fn)

    @app.errorhandler(pw.OperationalError)
    def _locked(exc):
        if not is_locked(exc):
            raise exc
        app.logger.warning("database locked after a retry: %s %s", request.method, request.path)
        from . import errors
        admin = (app.extensions.get("admin") or [None])[0]
        return errors.page(503, errors.BUSY_TEXT, admin)


def _retry_once(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except pw.OperationalError as exc:
            if not is_locked(exc):
                raise
            return fn(*args, **kwargs)
    return wrapper
