"""Account security for the security administrator (locked accounts, unlock) and the security log for
the audit administrator (search, export). Who holds which duty is schema/roles.yaml + a setting."""
import datetime as dt
import io

from flask import flash, redirect, request, url_for
from flask_admin import expose

from casework.core import scope
from casework.core.security_log import KIND_LABELS
from reports.workbook import SheetWriter

from . import auth, export
from .engine_view import EngineView
from schema import clock

PAGE = 50


def holds(engine, duty):
    return scope.has_duty(engine.models, auth.current(), duty)


class SecurityView(EngineView):
    """账号安全: names locked after repeated failures, unlocked early by the security administrator."""

    def is_accessible(self):
        return holds(self.engine, "security")

    @expose("/")
    def index(self):
        return self.render("jiuzhu/security.html", locks=self.engine.accounts.locked(), now=dt.datetime.now())

    @expose("/unlock", methods=("POST",))
    def unlock(self):
        username = (request.form.get("username") or "").strip()
        if self.engine.accounts.unlock(username):
            self.engine.security_log.record("unlock", subject=username)
            flash(f"已解除 {username} 的登录锁定。", "success")
        else:
            flash(f"{username} 没有被锁定。", "info")
        return redirect(url_for(".index"))


class SecurityLogView(EngineView):
    """安全审计记录: read and exported by whoever holds the audit_log duty; never changed by anyone."""

    def is_accessible(self):
        return holds(self.engine, "audit_log")

    def _query(self):
        E = self.engine.security_log.Event
        q = E.select()
        args = {k: (request.args.get(k) or "").strip() for k in ("kind", "username", "subject", "start", "end")}
        if args["kind"]:
            q = q.where(E.kind == args["kind"])
        if args["username"]:
            q = q.where(E.username == args["username"])
        if args["subject"]:
            q = q.where(E.subject == args["subject"])
        for key, op in (("start", lambda d: E.at >= d), ("end", lambda d: E.at < d + dt.timedelta(days=1))):
            if args[key]:
                try:
                    q = q.where(op(dt.date.fromisoformat(args[key])))
                except ValueError:
                    flash("日期格式应为 2026-05-01", "error")
        return q.order_by(E.id.desc()), args

    @expose("/")
    def index(self):
        q, args = self._query()
        raw = request.args.get("page") or "0"
        page = int(raw) if raw.isdigit() else 0
        total = q.count()
        rows = list(q.offset(page * PAGE).limit(PAGE))
        return self.render("jiuzhu/security_log.html", rows=rows, total=total, page=page,
                           pages=(total + PAGE - 1) // PAGE, args=args, kinds=KIND_LABELS)

    @expose("/export.xlsx")
    def export(self):
        q, args = self._query()
        limit = self.engine.settings.get("export_max_rows")
        buffer = io.BytesIO()
        writer = SheetWriter(buffer, "安全审计记录")
        writer.header(["序号", "时间", "操作人", "IP", "事件", "类别", "记录", "涉及", "说明", "校验值"])
        for e in q.limit(limit).iterator():
            writer.cells([("number", e.id), ("date", e.at)] + [("string", v) for v in (
                e.username, e.ip, KIND_LABELS.get(e.kind, e.kind), e.entity, e.record_id, e.subject, e.detail,
                e.hash)], formats=["int"] + [None] * 9)
        writer.close()
        # the download itself is logged like every other (access_log.after_request)
        return export.download(buffer, f"安全审计记录-{clock.today():%Y%m%d}.xlsx")
