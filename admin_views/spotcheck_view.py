"""The county's spot-check screen: draw a month's sample (or force a redraw) and see each township's share."""
import datetime as dt

from flask import flash, redirect, request, url_for
from flask_admin import expose

from casework.core import scope
from casework.supervision import spotcheck

from . import auth
from .engine_view import EngineView
from .rights import needs
from schema import clock


class SpotCheckView(EngineView):
    def is_accessible(self):
        user = auth.current()
        role = scope.role_of(self.engine.models, user) if user else None
        return bool(role and role.level == "county")

    @expose("/")
    def index(self):
        Check = self.engine.models["spot_check"]
        rows = list(scope.scoped(self.engine.models, "spot_check", auth.current())
                    .order_by(Check.month.desc(), Check.township, Check.id.desc()).limit(200))
        last_month = (clock.today().replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
        return self.render("jiuzhu/spotcheck.html", rows=rows, month=request.args.get("month") or last_month,
                           percent=self.engine.settings.get("spotcheck_percent"),
                           may_force=auth.current().role == "county_admin")

    @expose("/draw", methods=("POST",))
    @needs("spot_check", "create", "您的角色不能抽取随机抽查样本。")
    def draw(self):
        month = request.form.get("month", "").strip()
        seed = request.form.get("seed", "").strip()
        try:
            drawn = spotcheck.draw(self.engine, auth.current(), month, seed=int(seed) if seed.isdigit() else None,
                                   force=request.form.get("force") == "1")
            for d in drawn:
                flash(f"{d.township}：新批准 {d.population} 件，抽取 {len(d.sample)} 件（{d.share:.0%}），种子 {d.seed}"
                      + ("" if d.new else "（已抽取过，未改变）"), "success")
        except spotcheck.DrawRefused as e:
            flash(f"未能抽取：{e}", "error")
        return redirect(url_for(".index", month=month))
