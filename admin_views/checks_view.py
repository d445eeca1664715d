"""Data checks: the findings to work through, counted by kind and status within the user's scope;
the county runs the checks and imports the death list here."""
import peewee as pw
from flask import flash, redirect, request, url_for
from flask_admin import expose

from casework.supervision import checks
from casework.core import scope

from . import auth
from .engine_view import EngineView
from .rights import needs


class ChecksView(EngineView):
    def is_accessible(self):
        user = auth.current()
        return bool(user and scope.can(self.engine.models, user, "check_result", "view"))

    def _may_run(self):
        user = auth.current()
        role = scope.role_of(self.engine.models, user)
        return bool(role and role.level == "county" and scope.can(self.engine.models, user, "death_record", "create"))

    @expose("/")
    def index(self):
        models, user = self.engine.models, auth.current()
        Result = models["check_result"]
        counts = {}
        for kind, status, n in (scope.scoped(models, "check_result", user)
                                .select(Result.kind, Result.status, pw.fn.COUNT(Result.id))
                                .group_by(Result.kind, Result.status).tuples()):
            counts.setdefault(kind, {})[status] = n
        options = self.engine.registry.options
        return self.render("jiuzhu/checks.html", counts=counts, kinds=options["check_kind"].labels,
                           statuses=options["check_status"].labels, may_run=self._may_run(), problems=None)

    @expose("/run", methods=("POST",))
    @needs("death_record", "create", "只有县级管理员可以运行数据比对")
    def run(self):
        if not self._may_run():
            flash("只有县级管理员可以运行数据比对", "error")
            return redirect(url_for(".index"))
        made = checks.run(self.engine)
        labels = self.engine.registry.options["check_kind"].labels
        flash("比对完成：" + "，".join(f"{labels[k]} 新发现 {n} 条" for k, n in made.items()), "success")
        return redirect(url_for(".index"))

    @expose("/deaths", methods=("POST",))
    @needs("death_record", "create", "只有县级管理员可以导入死亡人员名单")
    def deaths(self):
        if not self._may_run():
            flash("只有县级管理员可以导入死亡人员名单", "error")
            return redirect(url_for(".index"))
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            flash("请选择死亡人员名单文件（.xlsx 或 .csv）", "error")
            return redirect(url_for(".index"))
        outcome = checks.import_deaths(self.engine, auth.current(), upload.read(), upload.filename,
                                       request.form.get("source") or None)
        if outcome.problems:
            flash(f"名单有 {len(outcome.problems)} 处问题，未导入任何一行；请改正后重新导入", "error")
            options = self.engine.registry.options
            return self.render("jiuzhu/checks.html", counts={}, kinds=options["check_kind"].labels,
                               statuses=options["check_status"].labels, may_run=True, problems=outcome.problems)
        flash(f"已导入 {outcome.added} 人（已有 {outcome.known} 人）；在保人员中发现 {outcome.found} 人，自次月起暂缓发放",
              "success")
        return redirect(url_for(".index"))
