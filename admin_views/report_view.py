"""The report screen: choose a report, fill its parameters, see the tables, download the xlsx."""
import io

from flask import abort, flash, request
from flask_admin import BaseView, expose

from casework import scope
from reports import engine as report_engine

from . import auth
from .export import download


class ReportView(auth.Guarded, BaseView):
    def __init__(self, engine, **kw):
        self.engine = engine
        super().__init__(**kw)

    def is_accessible(self):
        return auth.current() is not None

    def reports(self):
        reports, errors = report_engine.load(self.engine.registry)
        user = auth.current()
        visible = {n: r for n, r in reports.items()
                   if all(scope.can(self.engine.models, user, s.source, "view") for s in r.sheets)}
        return visible, errors

    def area_choices(self, level):
        Area = self.engine.models["area"]
        q = scope.scoped(self.engine.models, "area", auth.current())
        if level:
            q = q.where(Area.level == level)
        return [(a.code, a.name) for a in q.order_by(Area.code)]

    def _run(self, name):
        reports, _errors = self.reports()
        report = reports.get(name)
        if report is None:
            abort(404)
        raw = {p.name: request.args.get(p.name, "").strip() for p in report.params if request.args.get(p.name)}
        values, results = report_engine.run(self.engine, auth.current(), report, raw)
        return report, values, results

    @expose("/")
    def index(self):
        reports, errors = self.reports()
        name = request.args.get("report")
        report, results, text = reports.get(name), None, None
        if report is not None and request.args.get("go"):
            try:
                report, values, results = self._run(name)
                text = report_engine.describe(report, values, self.engine)
            except report_engine.ReportError as e:
                flash(f"未能生成报表：{e}", "error")
        return self.render("jiuzhu/reports.html", reports=reports, errors=errors, report=report,
                           results=results, described=text, args=request.args)

    @expose("/xlsx")
    def xlsx(self):
        try:
            report, values, results = self._run(request.args.get("report"))
        except report_engine.ReportError as e:
            flash(f"未能生成报表：{e}", "error")
            return self.index()
        buffer = io.BytesIO()
        report_engine.write(buffer, report, report_engine.describe(report, values, self.engine), results,
                            auth.current())
        return download(buffer, f"{report.title}.xlsx")
