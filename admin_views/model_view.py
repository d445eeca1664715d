"""One Flask-Admin ModelView class, configured entirely from an entity spec.

Row scope goes through `casework.core.scope` on every path: list and count (get_query), details, edit,
delete and list editing (get_one), mass actions (ids re-filtered), lookups (ScopedLoader), export.
"""

from flask import abort, flash, g, request, url_for
from flask_admin.actions import action
from flask_admin.contrib.peewee import ModelView
from flask_admin.model.ajax import AjaxModelLoader, DEFAULT_PAGE_SIZE
from flask_admin.model.form import InlineFormAdmin, create_editable_list_form
from flask_admin.form import BaseForm
from flask_admin.base import expose
from flask_admin.helpers import get_form_data
from markupsafe import Markup
import peewee as pw

from casework.core import heads, scope, writes
from schema import RecordInvalid, paths, types
from schema.resolve import DisplayContext, Resolver

from . import auth, caches, export, inline_errors, presets
from .access_log import AccessLogMixin
from .documents_view import DocumentsMixin
from .list_query import ListQuery
from .forms import AdminBaseForm, ajax_field, build_form, with_shown
from .versioning import VersionedSaves, VersionedXEditable, guarded, versioned_list_form


class ScopedLoader(AjaxModelLoader):
    """AJAX lookup for a reference: only rows in the user's scope (and of the declared area level)."""

    def __init__(self, view, field_spec, name=None):
        super().__init__(name or field_spec.name, {"placeholder": "输入名称或代码检索", "minimum_input_length": 0})
        self.view, self.field_spec = view, field_spec
        self.target = field_spec.to or "area"

    def query(self):
        models = self.view.models
        model = models[self.target]
        q = scope.scoped(models, self.target, auth.current())
        if self.target == "area" and self.field_spec.level:
            q = q.where(model.level == self.field_spec.level)
        return q

    def format(self, record):
        if record is not None and not isinstance(record, pw.Model):
            # references load lazily as bare ids (lazy_load=False keeps lists free of N+1 queries)
            record = self.view.models[self.target].get_or_none(id=record)
        return (record.id, str(record)) if record else None

    def get_one(self, pk):
        try:
            pk = int(pk)
        except (TypeError, ValueError):
            return None
        return self.query().where(self.view.models[self.target].id == pk).first()

    def get_list(self, term, offset=0, limit=DEFAULT_PAGE_SIZE):
        models = self.view.models
        model, spec = models[self.target], models.registry.entities[self.target]
        q = self.query()
        term = (term or "").strip()
        if term:
            clauses = [types.get(f.type).search_clause(getattr(model, f.name), term, f)
                       for f in spec.fields if types.get(f.type).searchable]
            clauses = [c for c in clauses if c is not None]
            q = q.where(pw.reduce(pw.operator.or_, clauses)) if clauses else q.where(scope.NOTHING)
        order = [getattr(model, o.lstrip("-")) for o in spec.order if "." not in o] or [model.id]
        return list(q.order_by(*order).offset(offset).limit(limit))


class SchemaModelView(AccessLogMixin, VersionedSaves, DocumentsMixin, ListQuery, auth.Guarded, ModelView):
    spec = None
    models = None
    engine = None
    archived_mode = False
    form_base_class = AdminBaseForm
    list_template = "jiuzhu/list.html"
    details_template = "jiuzhu/details.html"
    edit_template = "jiuzhu/edit.html"
    create_template = "jiuzhu/create.html"
    can_view_details = True
    export_types = ["xlsx"]
    page_size = 20
    can_set_page_size = True
    page_size_options = (20, 50, 100)

    def __init__(self, engine, spec, **kw):
        self.engine, self.spec, self.models = engine, spec, engine.models
        model = self.models[spec.name]
        cols = [c for c in spec.list_columns()]
        self.column_list = cols
        self.column_labels = {c: self.resolve(c).label for c in cols}
        self.column_labels.update({f.name: f.label for f in spec.fields})
        self.column_labels.update({"created_at": "创建时间", "updated_at": "修改时间", "archived_at": "归档时间"})
        self.column_details_list = [f.name for f in spec.shown_fields()] + ["created_at", "updated_at"]
        # only indexed columns sort: an unindexed sort of a million rows costs a full scan per page
        self.column_sortable_list = [c for c in cols if "." not in c and types.get(self.resolve(c).type).sortable
                                     and (self.resolve(c).index or self.resolve(c).unique)]
        self.column_default_sort = [(o.lstrip("-"), o.startswith("-")) for o in spec.order if "." not in o] or None
        self.column_formatters = {c: self._formatter(c, masked=True) for c in cols}
        self.column_formatters_detail = {f.name: self._formatter(f.name, masked=None)
                                         for f in spec.shown_fields()}
        self.column_editable_list = list(spec.editable) if not self.archived_mode else []
        self.column_descriptions = {f.name: f.help for f in spec.fields if f.help}
        self.form_ajax_refs = {f.name: ScopedLoader(self, f) for f in spec.fields
                               if f.type in ("ref", "area") and not f.hidden}
        self.inline_models = [self._inline_admin(child) for child in spec.inline]
        super().__init__(model, **kw)

    # -- helpers
    def resolve(self, path):
        return paths.field_at(self.models.registry, self.spec, path)

    def ctx(self):
        if "resolver" not in g:
            g.resolver = Resolver(self.models)
        return DisplayContext(self.models.registry, g.resolver, self._ajax_field)

    def _ajax_field(self, spec):
        """A reference in this view's form, or in an inline child's rows (a `ref` or `area` field
        declared on the child): the child's lookup is registered here, under its entity's name, so
        this view's lookup URL answers it with the same scope."""
        if spec.entity == self.spec.name:
            return ajax_field(spec, self._form_ajax_refs[spec.name])
        key = f"{spec.entity}__{spec.name}"
        if key not in self._form_ajax_refs:
            self._form_ajax_refs[key] = ScopedLoader(self, spec, name=key)
        return ajax_field(spec, self._form_ajax_refs[key])

    def _formatter(self, column, masked):
        def fmt(view, context, model, name):
            ctx = self.ctx()
            spec, raw = ctx.resolver.value(self.spec.name, model.__data__, column)
            hide = spec.sensitive and (masked or not self.can("unmask"))
            text = types.get(spec.type).display(raw, spec, ctx, masked=hide)
            if spec.type in ("ref", "area") and raw is not None and not hide:
                target = spec.to or "area"
                if scope.can(self.models, auth.current(), target, "view"):
                    return Markup('<a href="{}">{}</a>').format(
                        url_for(f"{target}.details_view", id=raw), text)
            return text
        return fmt

    def children(self, record):
        """Inline and related children shown on the details page: [(spec, labels, [(id, cells)])],
        each within the user's scope and permissions, newest first for related lists."""
        out = []
        user = auth.current()
        for child_name in self.spec.inline + self.spec.related:
            if not scope.can(self.models, user, child_name, "view"):
                continue
            spec = self.models.registry.entities[child_name]
            model = self.models[child_name]
            back = [f for f in spec.fields if f.type == "ref" and f.to == self.spec.name][0]
            cols = [c for c in spec.list_columns() if c != back.name and "." not in c][:8]
            newest = child_name in self.spec.related
            rows = list(scope.scoped(self.models, child_name, user).where(getattr(model, back.name) == record.id)
                        .order_by(model.id.desc() if newest else model.id).limit(200))
            ctx = self.ctx()
            ctx.resolver.prefetch(child_name, [r.__data__ for r in rows], cols)
            table = []
            for r in rows:
                cells = []
                for c in cols:
                    f = spec.field(c)
                    cells.append(types.get(f.type).display(r.__data__.get(c), f, ctx, masked=f.sensitive))
                table.append((r.id, cells))
            out.append((spec, [spec.field(c).label for c in cols], table))
        return out

    def area_options(self, level):
        """(id, name) of the areas a filter offers: the user's part of the tree. Every list page
        shows them (400 villages, made into 400 model rows twice a page: 35 ms), so they are kept
        for `area_options_cache_seconds` and dropped when this process writes an area."""
        user = auth.current()
        if user is None or not getattr(user, "active", False):
            return []
        Area = self.models["area"]

        def compute():
            q = scope.scoped(self.models, "area", user).select(Area.id, Area.name)
            if level:
                q = q.where(Area.level == level)
            return [(str(pk), name) for pk, name in q.order_by(Area.code).limit(2000).tuples()]
        return caches.for_engine(self.engine).get(
            "area", ("options", user.__data__.get("area"), level), compute,
            self.engine.settings.get("area_options_cache_seconds"))

    def can(self, action_name):
        return scope.can(self.models, auth.current(), self.spec.name, action_name)

    # -- permissions, evaluated per request
    def is_accessible(self):
        user = auth.current()
        if user is None:
            return False
        if self.archived_mode:
            return self.can("restore")
        return self.can("view")

    NEEDS = {"create_view": "can_create", "edit_view": "can_edit", "delete_view": "can_delete",
             "ajax_update": "can_edit", "export": "can_export"}

    def _handle_view(self, name, **kwargs):
        # flask-admin answers a forbidden create/edit/delete with a redirect; we say 403
        result = super()._handle_view(name, **kwargs)
        if result is None and name in self.NEEDS and not getattr(self, self.NEEDS[name]):
            abort(403)
        return result

    @property
    def can_create(self):
        return not self.archived_mode and self.can("create") and self.has_form

    @property
    def can_edit(self):
        return not self.archived_mode and self.can("edit") and self.has_form

    @property
    def has_form(self):
        """A table whose every field is written by rules (e.g. the payment months) has no form:
        the role's `edit` right means its own actions (closing a month), never the generic form."""
        return any(f.user_writable for f in self.spec.fields)

    @property
    def can_delete(self):
        return not self.archived_mode and self.can("delete")

    @property
    def can_export(self):
        return self.can("export")

    # -- forms
    def scaffold_form(self):
        form_class = build_form(self.spec, self.ctx_for_forms())
        if self.inline_models:
            form_class = self.scaffold_inline_form_models(form_class)
        return form_class

    def create_form(self, obj=None):
        form = super().create_form(obj)
        if request.method == "GET":
            presets.only_village(self, form)
        return form

    def get_edit_form(self):
        # a saved record's `fixed` fields are not on its edit form (a correction is a workflow step)
        if not any(f.fixed for f in self.spec.fields):
            return self.scaffold_form()
        form_class = build_form(self.spec, self.ctx_for_forms(), existing=True)
        return self.scaffold_inline_form_models(form_class) if self.inline_models else form_class

    def edit_form(self, obj=None):
        """What this user may not change on this record is shown as text, not as an input that the
        save would refuse (casework/core/writes.py holds the reasons)."""
        if obj is None:
            return super().edit_form(obj)
        role = scope.role_of(self.models, auth.current())
        ctx = self.ctx()
        # a password is never shown; a checklist posts several values, so it stays an input the save refuses
        shown = {f.name: (f.label, types.get(f.type).display(obj.__data__.get(f.name), f, ctx,
                                                              masked=f.sensitive and not self.can("unmask")), why,
                          obj.__data__.get(f.name))
                 for f, why in writes.locked_fields(self.models, self.spec, obj.__data__, role)
                 if f.type not in ("password", "checklist")}
        return with_shown(self._edit_form_class, shown)(get_form_data(), obj=obj)

    def scaffold_list_form(self, widget=None, validators=None):
        full = build_form(self.spec, self.ctx_for_forms())
        only = type("EditableFields", (BaseForm,),
                    {name: getattr(full, name) for name in self.column_editable_list})
        return versioned_list_form(create_editable_list_form(self.form_base_class, only, widget or VersionedXEditable()),
                                   self.spec)

    def ctx_for_forms(self):
        return DisplayContext(self.models.registry, None, self._ajax_field)

    def _inline_admin(self, child_name):
        view = self
        child_spec = self.models.registry.entities[child_name]
        back = [f for f in child_spec.fields if f.type == "ref" and f.to == self.spec.name][0]

        class Inline(InlineFormAdmin):
            form_label = child_spec.label

            def get_form(self):
                return build_form(child_spec, view.ctx_for_forms(), base=BaseForm,
                                  exclude=(back.name,), with_pk=True)

        return Inline(self.models[child_name])

    # -- queries: every path lands here
    def get_query(self):
        return scope.scoped(self.models, self.spec.name, auth.current(), archived=self.archived_mode)

    def get_one(self, id):
        """Details, edit, delete and list editing all land here: outside the scope is a 404."""
        try:
            pk = int(id)
        except (TypeError, ValueError):
            abort(404)
        record = self.get_query().where(self.model.id == pk).first()
        if record is None:
            abort(404)
        return record

    def init_search(self):
        self._search_fields = []
        return bool(self.spec.search)

    def search_placeholder(self):
        labels = [self.resolve(p).label for p in self.spec.search]
        if self.spec.search_inline:
            labels += [f"任一{self.models.registry.entities[c].label}的" + "、".join(
                self.models.registry.entities[c].field(p).label for p in self.models.registry.entities[c].search
                if "." not in p) for c in self.spec.inline]
        return "搜索：" + "、".join(labels)

    # -- writes: one transaction each; a rule broken anywhere rolls back everything
    def handle_view_exception(self, exc):
        if isinstance(exc, RecordInvalid) and self.spec.inline:
            rows = inline_errors.explain(self, exc.errors)
            if rows:
                for message in rows:
                    flash(f"保存失败：{message}", "error")
                return True
        if isinstance(exc, RecordInvalid):
            for name, msg in exc.errors.items():
                label = self.spec.field(name).label if self.spec.has_field(name) else name
                flash(f"保存失败：{label} — {msg}", "error")
            return True
        if isinstance(exc, pw.IntegrityError):
            flash("保存失败：与已有记录冲突（例如编号或身份证号重复），或引用的记录不存在。", "error")
            return True
        if isinstance(exc, PermissionError):
            flash(f"保存失败：{exc}", "error")
            return True
        return super().handle_view_exception(exc)

    def _guarded(self, write):
        return guarded(self.models.db, write, refused=self._refused)

    def _refused(self, exc):
        return isinstance(exc, (RecordInvalid, PermissionError)) and self.handle_view_exception(exc)

    def create_model(self, form):
        return self._guarded(lambda: super(SchemaModelView, self).create_model(form))

    def update_model(self, form, model):
        return self._guarded(lambda: super(SchemaModelView, self).update_model(form, model))

    def after_model_change(self, form, model, is_created):
        # the saved row must still lie in the user's area (a crafted reference would move it out)
        if not scope.allows(self.models, self.spec.name, auth.current(), model.id):
            raise PermissionError("记录不在您的管辖区划内")
        if self.spec.head:
            heads.settle(self.models, model)      # after the inline rows: the head may be among them

    def delete_model(self, model):
        return self._guarded(lambda: super(SchemaModelView, self).delete_model(model))

    @action("delete", "删除", "确定删除（归档）所选记录吗？归档的记录可由县级管理员恢复。")
    def action_delete(self, ids):
        if not self.can_delete:
            abort(403)
        count = 0
        with self.models.db.atomic():
            for record in self.get_query().where(self.model.id.in_([_int(i) for i in ids])):
                record.delete_instance()
                count += 1
        flash(f"已{'归档' if self.spec.archive else '删除'} {count} 条记录。", "success")

    @action("restore", "恢复", "确定恢复所选记录吗？")
    def action_restore(self, ids):
        if not self.archived_mode or not self.can("restore"):
            abort(403)
        count = 0
        try:
            with self.models.db.atomic():
                for record in self.get_query().where(self.model.id.in_([_int(i) for i in ids])):
                    record.restore()
                    count += 1
        except pw.IntegrityError:
            flash("恢复失败：已有相同编号或身份证号的在用记录，请先处理冲突。", "error")
            return
        flash(f"已恢复 {count} 条记录。", "success")

    def is_action_allowed(self, name):
        if name == "restore":
            return self.archived_mode and self.can("restore")
        if name == "delete":
            return self.can_delete
        return super().is_action_allowed(name)

    @expose("/ajax/update/", methods=("POST",))
    def ajax_update(self):
        if not self.can_edit:                 # flask-admin#2129: the route ignores can_edit
            abort(403)
        return super().ajax_update()

    @expose("/export/<export_type>/")
    def export(self, export_type):
        if not self.can_export or export_type != "xlsx":
            abort(404)
        return export.list_export(self)

    @expose("/history/")
    def history_view(self):
        if not self.can("audit"):
            abort(403)
        record_id = _int(request.args.get("id"))
        model = self.model
        exists = scope.scoped(self.models, self.spec.name, auth.current()).where(model.id == record_id).exists()
        if not exists and self.spec.archive:
            exists = scope.allows(self.models, self.spec.name, auth.current(), record_id, archived=True)
        if not exists:
            abort(404)
        from .audit_view import history_rows
        return self.render("jiuzhu/history.html", rows=history_rows(self.engine, self.spec.name, record_id),
                           record=model.get_by_id(record_id), spec=self.spec,
                           return_url=url_for(".details_view", id=record_id)
                           if not self.archived_mode else url_for(".index_view"))


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1
