"""The report screen: choose a report, fill its parameters; the report runs in the background with a
progress bar (a long one never meets a request time-out), then shows its tables and the xlsx."""
import io
import os

from flask import abort, flash, jsonify, redirect, request, send_file, url_for
from flask_admin import expose

from casework.core import scope
from reports import engine as report_engine
from reports import form_workbook

from . import auth
from .engine_view import EngineView
from .export import download
from .jobs import Jobs

PREVIEW_ROWS = 500


class ReportView(EngineView):
    jobs = Jobs("REPORT_DIR", "report_jobs")

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
        form_workbook.write(buffer, report, report_engine.describe(report, values, self.engine), results,
                            auth.current())
        return download(buffer, f"{report.title}.xlsx")

    # -- in the background
    @expose("/start", methods=("POST",))
    def start(self):
        reports, _errors = self.reports()
        name = request.form.get("report", "")
        report = reports.get(name)
        if report is None:
            abort(404)
        raw = {p.name: request.form[p.name].strip() for p in report.params if request.form.get(p.name, "").strip()}
        try:
            report_engine.parse_params(self.engine, report, raw, auth.current())     # bad input: say so now
        except report_engine.ReportError as e:
            flash(f"未能生成报表：{e}", "error")
            return redirect(url_for(".index", report=name, **raw))
        state = {"report": name, "title": report.title, "raw": raw, "done": 0, "total": len(report.sheets)}
        job = self.jobs.new(state)
        self.jobs.start(self._work, job, state, auth.current())
        return redirect(url_for(".job", job=job))

    def _work(self, app, job, state, user):
        with app.app_context():
            try:
                self.engine.db.connect(reuse_if_open=True)
                reports, _errors = report_engine.load(self.engine.registry)
                report = reports[state["report"]]

                def progress(done, total):
                    state.update(done=done, total=total)
                    self.jobs.save(job, state)
                values, results = report_engine.run(self.engine, user, report, state["raw"], progress)
                described = report_engine.describe(report, values, self.engine)
                form_workbook.write(os.path.join(self.jobs.folder(job), "report.xlsx"), report, described,
                                    results, user)
                state.update(finished=True, ok=True, described=described, sheets=[
                    {"name": r.name, "headers": r.headers, "count": len(r.rows),
                     "rows": [[report_engine.shown(v, f) for v, f in zip(row, r.formats)]
                              for row in r.rows[:PREVIEW_ROWS]],
                     "totals": [report_engine.shown(v, f) for v, f in zip(r.totals, r.formats)] if r.totals else None,
                     "problems": r.problems}
                    for r in results])
            except Exception as e:          # the page must say what happened, never spin forever
                app.logger.exception("report failed")
                state.update(finished=True, ok=False, message=f"生成报表时发生意外错误：{e}")
            finally:
                self.jobs.save(job, state)
                if not self.engine.db.is_closed():
                    self.engine.db.close()

    @expose("/job/<job>/restart", methods=("POST",))
    def restart(self, job):
        """A report whose process died: the same report with the same parameters, as a new job."""
        old = self.jobs.restartable(job)
        state = {k: old[k] for k in ("report", "title", "raw", "total")}
        state["done"] = 0
        new = self.jobs.new(state)
        self.jobs.start(self._work, new, state, auth.current())
        return redirect(url_for(".job", job=new))

    @expose("/job/<job>")
    def job(self, job):
        return self.render("jiuzhu/report_job.html", state=self.jobs.status(job), limit=PREVIEW_ROWS)

    @expose("/job/<job>/status")
    def job_status(self, job):
        state = self.jobs.status(job)
        return jsonify({k: state.get(k) for k in ("done", "total", "finished", "ok")})

    @expose("/job/<job>/report.xlsx")
    def job_download(self, job):
        state = self.jobs.status(job)
        path = os.path.join(self.jobs.folder(job), "report.xlsx")
        if not state.get("ok") or not os.path.exists(path):
            abort(404)
        return send_file(path, as_attachment=True, download_name=f"{state['title']}.xlsx")
