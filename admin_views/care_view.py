"""The care record's page adds the correction form: 补发 or 扣减 in an open month (casework.funds.payments)."""
import uuid

from flask import flash, redirect, request, url_for
from flask_admin.base import expose

from casework.funds import payments
from casework.core import scope

from . import auth
from .model_view import SchemaModelView
from .rights import needs
from schema import clock


class CareModelView(SchemaModelView):
    details_template = "jiuzhu/care_details.html"

    def may_adjust(self):
        return scope.can(self.models, auth.current(), "payment_month", "edit")

    def form_token(self):
        """A fresh token per rendered form: the same form posted twice registers one line."""
        return uuid.uuid4().hex

    def default_month(self):
        return clock.today().strftime("%Y-%m")

    @expose("/adjust/", methods=("POST",))
    @needs("payment_month", "edit", "您的角色不能登记补发或扣减。")
    def adjust_view(self):
        record = self.get_one(request.args.get("id"))           # outside the user's area: 404
        if not self.may_adjust():
            flash("您的角色不能登记补发或扣减。", "error")
        else:
            form = request.form
            try:
                line = payments.adjust(self.engine, auth.current(), record.id, form.get("month", "").strip(),
                                       form.get("kind"), form.get("amount", "").strip(), form.get("reason", ""),
                                       token=form.get("form_token", "").strip() or None)
                what = f"{'补发' if line.kind == 'back' else '扣减'} {abs(line.amount):.2f} 元"
                if line.repeated:
                    flash(f"这张表单已登记过（{what}，随 {line.month} 发放），重复提交未再登记。", "warning")
                else:
                    flash(f"已登记{what}，随 {line.month} 发放。", "success")
            except payments.PaymentRefused as e:
                flash(f"未能登记：{e}", "error")
        return redirect(url_for(".details_view", id=record.id))
