"""Which villages have reported a month (their changes or a zero report) and which have not."""

from flask import flash, redirect, request, url_for
from flask_admin import expose

from casework.core import scope
from casework.supervision import village_reports
from casework.funds.care import previous_month
from schema import clock, RecordInvalid

from . import auth
from .engine_view import EngineView
from .rights import needs


class VillageReportView(EngineView):
    def is_accessible(self):
        user = auth.current()
        return bool(user and scope.can(self.engine.models, user, "village_report", "view"))

    @expose("/")
    def index(self):
        engine, user = self.engine, auth.current()
        month = request.args.get("month") or previous_month(clock.today().strftime("%Y-%m"))
        if not village_reports.MONTH.match(month):
            month = previous_month(clock.today().strftime("%Y-%m"))
        rows = village_reports.status(engine, user, month)
        return self.render("jiuzhu/village_reports.html", rows=rows, month=month,
                           missing=sum(1 for _, r in rows if r is None),
                           due=village_reports.due_date(engine.settings, month),
                           labels=engine.registry.options["village_report_kind"].labels,
                           may_report=scope.can(engine.models, user, "village_report", "create"))

    @expose("/submit", methods=("POST",))
    @needs("village_report", "create", "您的角色不能报送村级月报。")
    def submit(self):
        form = request.form
        month = form.get("month", "")
        try:
            report = village_reports.submit(self.engine, auth.current(), form.get("village", type=int), month,
                                            form.get("kind"), form.get("visited"), form.get("content"))
            label = self.engine.registry.options["village_report_kind"].labels.get(report.kind)
            flash(f"已报送 {month} 月报（{label}）", "success")
        except RecordInvalid as e:
            flash(f"未能报送：{e}", "error")
        return redirect(url_for(".index", month=month))
