"""Periodic reviews due and overdue, per village: the village's and the township's list, and the
button that opens the review case for a household."""
from flask import flash, redirect, request, url_for
from flask_admin import expose

from casework.cases import reviews
from casework.core import scope
from schema import clock, RecordInvalid

from . import auth
from .engine_view import EngineView
from .rights import needs


class ReviewView(EngineView):
    def is_accessible(self):
        user = auth.current()
        return bool(user and scope.can(self.engine.models, user, "care", "view"))

    @expose("/")
    def index(self):
        engine, user = self.engine, auth.current()
        village = request.args.get("village", type=int)
        rows = reviews.due(engine, user, village_id=village)
        counts = {}
        for row in reviews.due(engine, user) if village else rows:
            entry = counts.setdefault(row["village"], [0, 0])
            entry[0 if row["overdue_days"] else 1] += 1
        Area = engine.models["area"]
        villages = dict(scope.scoped(engine.models, "area", user).where(Area.level == "village")
                        .select(Area.name, Area.id).tuples())
        may_open = scope.can(engine.models, user, engine.flow.case_model()._spec.name, "create")
        settings = engine.settings
        return self.render("jiuzhu/reviews.html", rows=rows, counts=sorted(counts.items()), villages=villages,
                           village=village, today=clock.today(), may_open=may_open,
                           soon_days=settings.get("review_due_soon_days"),
                           months=(settings.get("review_months_yearly"), settings.get("review_months_half_yearly")))

    @expose("/open", methods=("POST",))
    @needs("case", "create", "您的角色不能发起定期复核：复核由村、乡镇经办人员发起。")
    def open(self):
        try:
            case = reviews.open_review(self.engine, auth.current(), request.form.get("care", type=int))
        except RecordInvalid as e:
            flash(f"未能发起复核：{e}", "error")
            return redirect(url_for(".index"))
        flash(f"已登记定期复核 {case.case_no}，请按流程入户调查、核对并作出结论", "success")
        return redirect(url_for("case.details_view", id=case.id))
