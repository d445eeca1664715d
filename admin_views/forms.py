"""Forms built from specs through the field-type registry, with Flask-WTF's CSRF on every POST."""
import datetime as dt
from decimal import Decimal, InvalidOperation

import wtforms
from flask_admin.form import BaseForm
from flask_admin.model.fields import AjaxSelectField
from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms import validators as v

from schema import types


class AdminBaseForm(BaseForm):
    """Flask-Admin's form base with Flask-WTF's CSRF token (the global CSRFProtect checks it)."""

    class Meta(FlaskForm.Meta):
        pass


def editable_fields(spec, exclude=(), existing=False):
    return [f for f in spec.fields if f.user_may_write(existing) and f.name not in exclude]


def build_form(spec, ctx, base=AdminBaseForm, exclude=(), with_pk=False, existing=False):
    attrs = {}
    for f in editable_fields(spec, exclude, existing):
        field = types.get(f.type).form_field(f, ctx)
        if f.default is not None and hasattr(field, "kwargs"):
            # a new record's form starts from the declared default (a choice preselected, a 0 filled in)
            ftype = types.get(f.type)
            field.kwargs["default"] = f.default if f.type in ("choice", "checklist") else ftype.coerce(f.default, f)
        attrs[f.name] = field
    if spec.versioned:
        # the version this copy was loaded with: a save after someone else's is refused (versioning.py)
        attrs["row_version"] = wtforms.HiddenField()
    if with_pk:
        # inline rows need their id; no validators, so new rows (empty id) pass (flask-admin#1718)
        attrs["id"] = wtforms.HiddenField()
    return type(f"{spec.name.title()}Form", (base,), attrs)


class ShownField(wtforms.Field):
    """A value the user sees on the edit form but may not change there (`fixed`, `writers:`,
    `immutable_after:`): plain text, no input, never written. A post that carries a different value
    for it (written by hand, or a page from before the rule) is refused with the reason."""

    def __init__(self, label=None, text="", reason="", stored=None, **kwargs):
        super().__init__(label, **kwargs)
        self.text, self.reason, self.stored = text, reason, stored
        self.moved = False

    def __call__(self, **kwargs):
        return Markup('<p class="form-control-static" id="{}">{} <small class="text-muted">（{}）</small></p>').format(
            self.id, self.text or "—", self.reason)

    def process_formdata(self, valuelist):
        self.moved = len(valuelist) == 1 and _posted_differs(valuelist[0], self.stored)

    def pre_validate(self, form):
        if self.moved:
            raise wtforms.validators.StopValidation(self.reason)

    def populate_obj(self, obj, name):
        pass


def _posted_differs(posted, stored):
    posted = str(posted).replace("\r\n", "\n").strip()
    if isinstance(stored, bool):
        return (posted.lower() in ("y", "on", "true", "1")) != stored
    if stored is None:
        return posted != ""
    if isinstance(stored, dt.datetime):
        return posted.replace("T", " ")[:16] != stored.isoformat(" ")[:16]
    if isinstance(stored, dt.date):
        return posted != stored.isoformat()
    if isinstance(stored, (int, float, Decimal)):
        try:
            return Decimal(posted) != Decimal(str(stored))
        except InvalidOperation:
            return True
    return posted != str(stored).replace("\r\n", "\n").strip()


def with_shown(form_class, shown):
    """`form_class` with the fields in `shown` ({name: (label, text, reason, stored)}) as text in their place."""
    if not shown:
        return form_class
    return type(form_class.__name__, (form_class,),
                {name: ShownField(label, text=text, reason=reason, stored=stored)
                 for name, (label, text, reason, stored) in shown.items()})


def ajax_field(spec, loader):
    vals = [v.InputRequired(message="此项为必填项")] if spec.required else []
    return AjaxSelectField(loader, spec.label, validators=vals, allow_blank=not spec.required,
                           description=spec.help or "输入名称或代码检索")


class LoginForm(FlaskForm):
    username = wtforms.StringField("用户名", validators=[v.InputRequired(message="请输入用户名")])
    password = wtforms.PasswordField("密码", validators=[v.InputRequired(message="请输入密码")])


class PasswordChangeForm(FlaskForm):
    old_password = wtforms.PasswordField("原密码", validators=[v.InputRequired(message="请输入原密码")])
    new_password = wtforms.PasswordField("新密码", validators=[v.InputRequired(message="请输入新密码")])
    confirm = wtforms.PasswordField("再次输入新密码", validators=[
        v.InputRequired(message="请再次输入新密码"), v.EqualTo("new_password", message="两次输入的新密码不一致")])
