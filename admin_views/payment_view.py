"""The monthly payment screen: a township and a month; generate the ledger, export the bank's list,
close the month. The rules are casework.funds.payments'; this renders and passes the form on."""
import io

from flask import flash, redirect, request, url_for
from flask_admin import expose

from casework.funds import bank_return, payments
from casework.core import scope

from . import access_log, auth
from .engine_view import EngineView
from .rights import needs
from schema import clock

MONTH_RIGHT = ("payment_month", "edit")
from .export import download


class PaymentView(EngineView):
    def is_accessible(self):
        user = auth.current()
        return bool(user and scope.can(self.engine.models, user, "payment", "view"))

    def may_run(self):
        return scope.can(self.engine.models, auth.current(), "payment_month", "edit")

    def _townships(self):
        Area = self.engine.models["area"]
        return list(scope.scoped(self.engine.models, "area", auth.current())
                    .where(Area.level == "township").order_by(Area.code))

    def _args(self, source):
        townships = self._townships()
        try:
            township_id = int(source.get("township") or 0)
        except ValueError:
            township_id = 0
        if not township_id and townships:
            township_id = townships[0].id
        month = (source.get("month") or clock.today().strftime("%Y-%m")).strip()
        return townships, township_id, month

    @expose("/")
    def index(self):
        _townships, township_id, month = self._args(request.args)
        return self.index_with(township_id, month, [])

    def index_with(self, township_id, month, problems):
        townships = self._townships()
        labels = self.engine.registry.options
        rows = []
        if payments.MONTH.match(month) and township_id:
            rows = [(labels["assistance_type"].label_of(t), labels["payment_status"].label_of(s), n, total or 0)
                    for t, s, n, total in payments.summary(self.engine, auth.current(), township_id, month)]
        Period = self.engine.models["payment_month"]
        state = Period.get_or_none(Period.township == township_id, Period.month == month)
        late = payments.unconfirmed(self.engine, auth.current(), township_id, month, clock.today()) \
            if rows else 0
        return self.render("jiuzhu/payments.html", townships=townships, township_id=township_id, month=month,
                           rows=rows, period=state, may_run=self.may_run(), problems=problems, late=late,
                           confirm_days=self.engine.settings.get("bank_confirm_days"),
                           month_ok=bool(payments.MONTH.match(month)))

    def _act(self, fn, done):
        if not self.may_run():
            flash("您的角色不能生成发放台账或关账。", "error")
            return redirect(url_for(".index"))
        _townships, township_id, month = self._args(request.form)
        try:
            result = fn(self.engine, auth.current(), township_id, month)
            flash(done(result), "success")
        except payments.PaymentRefused as e:
            flash(f"未能办理：{e}", "error")
        return redirect(url_for(".index", township=township_id, month=month))

    @expose("/run", methods=("POST",))
    @needs(*MONTH_RIGHT, "您的角色不能生成发放台账或关账。")
    def run(self):
        return self._act(payments.run, lambda r: (
            f"{r.township} {r.month}：新生成 {r.created} 笔，合计 {r.total:,.2f} 元，其中暂缓 {r.held} 笔（无银行卡）；"
            f"此前已生成 {r.existing} 笔，未重复生成。"))

    @expose("/close", methods=("POST",))
    @needs(*MONTH_RIGHT, "您的角色不能生成发放台账或关账。")
    def close(self):
        return self._act(payments.close, lambda r: f"{r.month} 已关账：此后该月的发放台账不能再改。")

    @expose("/return", methods=("POST",))
    @needs(*MONTH_RIGHT, "您的角色不能导入银行回盘。")
    def bank_return(self):
        townships, township_id, month = self._args(request.form)
        if not self.may_run():
            flash("您的角色不能导入银行回盘。", "error")
            return redirect(url_for(".index"))
        upload = request.files.get("file")
        if not upload or not upload.filename:
            flash("请选择银行回盘文件。", "error")
            return redirect(url_for(".index", township=township_id, month=month))
        try:
            outcome = bank_return.apply(self.engine, auth.current(), township_id, month, upload.read(), upload.filename)
        except payments.PaymentRefused as e:
            flash(f"未能导入：{e}", "error")
            return redirect(url_for(".index", township=township_id, month=month))
        if outcome.problems:
            flash(f"银行回盘有 {len(outcome.problems)} 处问题，未作任何标记。请改正后重新导入。", "error")
            return self.index_with(township_id, month, outcome.problems)
        flash(f"已导入银行回盘：成功 {outcome.paid} 笔，失败 {outcome.failed} 笔。", "success")
        return redirect(url_for(".index", township=township_id, month=month))

    @expose("/bank.xlsx")
    def bank(self):
        townships, township_id, month = self._args(request.args)
        township = next((t for t in townships if t.id == township_id), None)
        if township is None or not payments.MONTH.match(month) or not self.may_run():
            flash("请选择管辖范围内的乡镇和正确的发放年月。", "error")
            return redirect(url_for(".index"))
        buffer = io.BytesIO()
        payments.export_bank_list(self.engine, auth.current(), township, month, buffer, clock.today())
        access_log.mark_unmasked("payment", None, township.name, f"发放清单（身份证号、银行卡号）：{township.name}{month}")
        return download(buffer, f"{township.name}{month}发放清单.xlsx")
