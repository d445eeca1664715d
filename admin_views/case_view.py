"""The case page: its deadlines, the buttons of the transitions the user may take now, and the
timeline of signed steps. Every rule is the engine's (casework.cases.workflow); this only renders and
passes the form on."""
import json
import os
import uuid
from dataclasses import replace

from flask import abort, current_app, flash, g, redirect, request, send_file, url_for
from flask_admin.base import expose
import wtforms

from casework.core import scope
from casework.cases import household_check
from casework.cases.workflow import Refused
from schema import clock, RecordInvalid, types

from . import auth, presets
from .forms import AdminBaseForm
from .model_view import SchemaModelView, _int

ATTACHMENT_TYPES = {".pdf", ".jpg", ".jpeg", ".png", ".doc", ".docx", ".xls", ".xlsx"}


class CaseModelView(SchemaModelView):
    details_template = "jiuzhu/case_details.html"

    def create_form(self, obj=None):
        form = super().create_form(obj)
        if request.method == "GET":
            presets.new_case(self, form)
        return form

    @property
    def flow(self):
        return self.engine.flow

    # -- what the details page shows
    def workflow_of(self, record):
        return self.flow.workflow(record)

    def transition_forms(self, record):
        """[(transition, reason, form)] for the buttons on the page; a form that came back with
        errors keeps what the user typed."""
        user = auth.current()
        bound = g.get("flow_form")
        out = []
        offered = self.flow.offered(record, user)
        computed = self.breakdown(record) if offered else None
        for t, reason in offered:
            if bound and bound[0] == t.name:
                form = bound[1]
            else:
                form = self._form_class(t)(obj=_FormData(record, t, self.workflow_of(record), computed,
                                                                    clock.today()))
            out.append((t, reason, form))
        return out

    def _form_class(self, t):
        ctx = self.ctx_for_forms()
        attrs = {}
        for name in t.fields:
            f = replace(self.spec.field(name), required=False, readonly=False)
            attrs[name] = types.get(f.type).form_field(f, ctx)
        attrs["opinion"] = wtforms.TextAreaField("办理意见" + ("（必填）" if t.opinion == "required" else ""))
        # image/* lets a phone offer its camera (入户调查 photos) besides its files
        accept = "image/*," + ",".join(sorted(ATTACHMENT_TYPES))
        attrs["attachment"] = wtforms.FileField("附件（可选：用手机拍照，或扫描件、PDF）", render_kw={"accept": accept})
        return type(f"Transition_{t.name}", (AdminBaseForm,), attrs)

    def timeline(self, record):
        ctx = self.ctx()
        wf = self.workflow_of(record)
        rows = []
        for s in self.flow.steps(record):
            changes = []
            for name, value in (json.loads(s.changes) if s.changes else {}).items():
                if not self.spec.has_field(name):
                    continue
                f = self.spec.field(name)
                shown = value
                if f.type in ("date", "money", "choice", "checklist"):
                    shown = types.get(f.type).display(types.get(f.type).coerce(value, f), f, ctx)
                changes.append((f.label, shown))
            role = self.models.registry.roles.get(s.actor_role)
            rows.append({"step": s, "from": self.flow.state_label(wf, s.from_state) if wf else s.from_state,
                         "to": self.flow.state_label(wf, s.to_state) if wf else s.to_state,
                         "role": role.label if role else "", "changes": changes,
                         "attachment": s.attachment.split("/", 1)[1] if s.attachment else None})
        return rows

    def breakdown(self, record):
        if "breakdown" not in g:
            g.breakdown = self.flow.breakdown(record)
        return g.breakdown

    def deadlines(self, record):
        return self.flow.deadlines(record)

    def department_status(self, record):
        """Which source departments answered the economic check and which are still waiting (None
        when the user may not see the check results)."""
        if not scope.can(self.models, auth.current(), "department_check", "view"):
            return None
        return household_check.department_status(self.models, self.models.registry, record.id)

    def state_label(self, record):
        wf = self.workflow_of(record)
        return self.flow.state_label(wf, record.state) if wf else ""

    def last_step(self, record):
        return self.flow._last_step_id(record) or ""

    # -- taking a transition
    @expose("/transition/", methods=("POST",))
    def transition_view(self):
        record_id, name = _int(request.args.get("id")), request.form.get("transition", "")
        user = auth.current()
        record = self.get_one(record_id)           # outside the user's area: 404
        wf = self.workflow_of(record)
        t = None
        if wf:
            try:
                t = wf.transition(name)
            except KeyError:
                t = None
        if t is None:
            flash("没有这项操作。", "error")
            return redirect(url_for(".details_view", id=record_id))
        form = self._form_class(t)(request.form)
        values = {f: (request.form.getlist(f) if self.spec.field(f).type == "checklist" else request.form.get(f))
                  for f in t.fields}
        stored = None
        try:
            stored = self._save_attachment(record_id)
            self.flow.perform(record_id, name, user, values, opinion=request.form.get("opinion", ""),
                              seen=request.form.get("seen"), attachment=stored)
        except Refused as e:
            self._drop_attachment(record_id, stored)
            flash(f"未能办理：{e}", "error")
            return redirect(url_for(".details_view", id=record_id))
        except RecordInvalid as e:
            self._drop_attachment(record_id, stored)
            for field_name, message in e.errors.items():
                label = (self.spec.field(field_name).label if self.spec.has_field(field_name)
                         else "办理意见" if field_name == "opinion" else t.label)
                flash(f"未能办理“{t.label}”：{label} — {message}", "error")
                if field_name in form:
                    form[field_name].errors = list(form[field_name].errors or []) + [message]
            g.flow_form = (name, form)
            return self.details_view()
        flash(f"已办理：{t.label}。", "success")
        return redirect(url_for(".details_view", id=record_id))

    def _attachment_dir(self, record_id):
        root = current_app.config.get("ATTACHMENT_DIR") or os.path.join(current_app.instance_path, "attachments")
        return os.path.join(root, str(record_id))

    def _save_attachment(self, record_id):
        upload = request.files.get("attachment")
        if not upload or not upload.filename:
            return None
        name = os.path.basename(upload.filename.replace("\\", "/"))
        ext = os.path.splitext(name)[1].lower()
        if ext not in ATTACHMENT_TYPES:
            raise RecordInvalid({"attachment": "附件只能是 PDF、图片（JPG、PNG）、Word 或 Excel 文件"})
        data = upload.read()
        limit = self.engine.settings.get("import_max_mb") * 1024 * 1024
        if len(data) > limit:
            raise RecordInvalid({"attachment": "附件太大，超过了文件大小上限"})
        stored = uuid.uuid4().hex + ext
        os.makedirs(self._attachment_dir(record_id), exist_ok=True)
        with open(os.path.join(self._attachment_dir(record_id), stored), "wb") as fh:
            fh.write(data)
        return f"{stored}/{name[:150]}"

    def _drop_attachment(self, record_id, stored):
        if stored:
            try:
                os.remove(os.path.join(self._attachment_dir(record_id), stored.split("/", 1)[0]))
            except OSError:
                pass

    @expose("/attachment/")
    def attachment_view(self):
        Step = self.models["case_step"]
        step = scope.scoped(self.models, "case_step", auth.current()).where(
            Step.id == _int(request.args.get("step"))).first()
        if step is None or not step.attachment:
            abort(404)
        stored, name = step.attachment.split("/", 1)
        path = os.path.join(self._attachment_dir(step.__data__["case"]), stored)
        if not os.path.exists(path):
            abort(404)
        return send_file(path, download_name=name, as_attachment=True)


class _FormData:
    """The record's current values as a form's initial data; an empty amount the workflow lists in
    `prefill` starts from the amount already proposed, else from the calculator's result."""

    def __init__(self, record, t, wf, computed, today):
        for name in t.fields:
            value = getattr(record, name)
            if name in t.computed and computed and computed.amount is not None:
                value = computed.amount
            elif value is None and wf and name in wf.prefill:
                value = record.proposed_amount if record.proposed_amount is not None else (
                    computed.amount if computed else None)
            elif value is None and name in t.defaults:
                value = today if t.defaults[name] == "today" else t.defaults[name]
            setattr(self, name, value)
