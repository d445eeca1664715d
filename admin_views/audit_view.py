"""The audit trail: a record's history (one click from its details page) and, for county roles,
the whole log with filters. Plus the home page and the settings page."""
import datetime as dt
import json
import os

from flask import abort, flash, redirect, request, send_file, url_for
from flask_admin import AdminIndexView, BaseView, expose

from casework.core import backup, scope, system
from casework.supervision import dashboard
from schema import types
from schema.resolve import DisplayContext, Resolver

from . import auth, caches

PAGE = 50


SYSTEM_FIELDS = {"archived": "已归档"}


def _plain(value):
    """A value without a field spec: never Python's True/False/None on a Chinese page."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    return str(value)


def _filled(engine, entity, value, ctx):
    """A step's "what was filled" JSON as "label：value" lines, labels from the entities it points to."""
    try:
        data = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return _plain(value)
    if not isinstance(data, dict):
        return _plain(value)
    reg = engine.registry.entities[entity]
    targets = [f.to for f in reg.fields if f.type == "ref" and f.to in engine.registry.entities]
    lines = []
    for key, item in data.items():
        owner = next((t for t in targets if engine.registry.entities[t].has_field(key)), None)
        if owner:
            lines.append(f"{engine.registry.entities[owner].field(key).label}：{_display(engine, owner, key, item, ctx)}")
        else:
            lines.append(f"{key}：{_plain(item)}")
    return "；".join(lines)


def _display(engine, entity, name, value, ctx):
    reg = engine.registry.entities[entity]
    if not reg.has_field(name):
        return _plain(value)
    spec = reg.field(name)
    if spec.type == "password":
        return "******"
    if spec.type == "json":
        return "" if value in (None, "") else _filled(engine, entity, value, ctx)
    ftype = types.get(spec.type)
    try:
        coerced = value if spec.type in ("ref", "area", "choice", "bool") else ftype.coerce(value, spec)
    except types.CellError:
        coerced = value
    return ftype.display(coerced, spec, ctx, masked=False)


def describe(engine, log, ctx):
    reg = engine.registry.entities.get(log.entity)
    settings = engine.registry.settings if log.entity == system.SETTING_ENTITY else {}
    changes = []
    for name, (old, new) in sorted(log.change_dict().items()):
        if reg and reg.has_field(name) and reg.field(name).hidden and reg.field(name).type != "json":
            continue                     # internal codes (a step's code, a path) have a readable twin
        label = reg.field(name).label if reg and reg.has_field(name) else \
            settings[name].label if name in settings else SYSTEM_FIELDS.get(name, name)
        if reg:
            old, new = _display(engine, log.entity, name, old, ctx), _display(engine, log.entity, name, new, ctx)
        changes.append((label, old, new))
    return {"at": log.at, "username": log.username or "（系统）", "ip": log.ip,
            "action": system.ACTION_LABELS.get(log.action, log.action),
            "entity": reg.label if reg else ("系统设置" if log.entity == system.SETTING_ENTITY else log.entity),
            "entity_name": log.entity,
            "record_id": log.record_id, "changes": changes, "batch": log.batch}


def history_rows(engine, entity, record_id):
    A = engine.system.AuditLog
    ctx = DisplayContext(engine.registry, Resolver(engine.models))
    logs = A.select().where((A.entity == entity) & (A.record_id == record_id)).order_by(A.at.desc(), A.id.desc())
    return [describe(engine, log, ctx) for log in logs]


def county_auditor(engine):
    return scope.has_duty(engine.models, auth.current(), "audit_log")


class AuditLogView(auth.Guarded, BaseView):
    def __init__(self, engine, **kw):
        self.engine = engine
        super().__init__(**kw)

    def is_accessible(self):
        return county_auditor(self.engine)

    @expose("/")
    def index(self):
        A = self.engine.system.AuditLog
        q = A.select()
        entity = request.args.get("entity") or ""
        username = (request.args.get("username") or "").strip()
        day = request.args.get("date") or ""
        if entity:
            q = q.where(A.entity == entity)
        if username:
            q = q.where(A.username == username)
        if day:
            try:
                d = dt.date.fromisoformat(day)
                q = q.where((A.at >= d) & (A.at < d + dt.timedelta(days=1)))
            except ValueError:
                flash("日期格式应为 2024-05-01", "error")
        page = max(0, int(request.args.get("page", 0) or 0)) if (request.args.get("page") or "0").isdigit() else 0
        total = q.count()
        logs = q.order_by(A.at.desc(), A.id.desc()).offset(page * PAGE).limit(PAGE)
        ctx = DisplayContext(self.engine.registry, Resolver(self.engine.models))
        rows = [describe(self.engine, log, ctx) for log in logs]
        return self.render("jiuzhu/audit.html", rows=rows, total=total, page=page, pages=(total + PAGE - 1) // PAGE,
                           entities=self.engine.registry.entities, entity=entity, username=username, day=day)


class HomeView(AdminIndexView):
    def __init__(self, engine, **kw):
        self.engine = engine
        super().__init__(**kw)

    def is_accessible(self):
        return auth.current() is not None

    def inaccessible_callback(self, name, **kwargs):
        return redirect(url_for("auth.login", next=request.full_path))

    @expose("/")
    def index(self):
        user = auth.current()
        models = self.engine.models
        cards = []
        for name in ("household", "member"):
            if name in models.models and scope.can(models, user, name, "view"):
                # the totals of the user's area: a count over the whole county (1 s at 400,000
                # households) on every visit of every clerk's home page, kept a minute instead
                count = caches.area_count(self.engine, name, user, scope.scoped(models, name, user).count)
                cards.append((self.engine.registry.entities[name].label, count, url_for(f"{name}.index_view")))
        flow = self.engine.flow
        if flow.entities() and scope.can(models, user, flow.case_model()._spec.name, "view"):
            cards.append(("已逾期的救助事项", flow.overdue(user).count(), url_for("deadlines.index")))
            cards.append(("即将到期的救助事项", flow.due_soon(user).count(), url_for("deadlines.index")))
        area = models["area"].get_or_none(models["area"].id == user.__data__.get("area"))
        role = scope.role_of(models, user)
        watch = [(label, n, url_for(endpoint)) for label, n, endpoint in dashboard.supervision(self.engine, user)]
        return self.render("jiuzhu/index.html", cards=cards, area=area, role=role, user=user, watch=watch,
                           board=dashboard.summary(self.engine, user))


class SettingsView(auth.Guarded, BaseView):
    def __init__(self, engine, **kw):
        self.engine = engine
        super().__init__(**kw)

    def duties(self):
        return {d for d in ("settings", "security") if scope.has_duty(self.engine.models, auth.current(), d)}

    def is_accessible(self):
        return bool(self.duties())

    @expose("/", methods=("GET", "POST"))
    def index(self):
        settings = self.engine.settings
        # each setting belongs to a duty: under 三员分立 the security administrator keeps the security ones
        duties = self.duties()
        specs = {k: s for k, s in self.engine.registry.settings.items() if s.duty in duties}
        errors = {}
        if request.method == "POST":
            values = {}
            for key, spec in specs.items():
                raw = (request.form.get(key) or "").strip()
                try:
                    value = types.get(spec.type).coerce(raw, spec)
                    if value is None and spec.required:
                        raise types.CellError("不能为空")
                    values[key] = value
                except types.CellError as e:
                    errors[key] = str(e)
            if errors:
                flash("设置未保存：请改正标红的项。", "error")
            else:
                user = auth.current()
                with self.engine.db.atomic():
                    changed = False
                    for key, value in values.items():
                        if value != settings.get(key):
                            settings.set(key, value, by=user.username)
                            changed = True
                    if changed:
                        for fn in settings.on_change:
                            fn()
                flash("设置已保存。", "success")
                return redirect(url_for(".index"))
        rows = [(spec, request.form.get(key) if errors else settings.get(key), errors.get(key))
                for key, spec in specs.items()]
        return self.render("jiuzhu/settings.html", rows=rows,
                           profiles=self.engine.registry.profiles.values() if "settings" in duties else (),
                           backups=backup.listing(backup.default_dir(self.engine))[:5] if "settings" in duties else ())

    @expose("/backup/", methods=("POST",))
    def backup_now(self):
        if "settings" not in self.duties():
            abort(403)
        try:
            made = backup.backup(self.engine)
        except backup.BackupError as e:
            flash(f"备份失败：{e}", "error")
        else:
            flash(made.describe(), "success")
        return redirect(url_for(".index"))

    @expose("/backup/<filename>")
    def backup_download(self, filename):
        if "settings" not in self.duties():
            abort(403)
        # only names the listing shows: no path from the URL reaches the file system
        known = {n for n, _at, _size in backup.listing(backup.default_dir(self.engine))}
        if filename not in known:
            abort(404)
        return send_file(os.path.join(backup.default_dir(self.engine), filename), as_attachment=True,
                         download_name=filename)

    @expose("/profile/", methods=("POST",))
    def profile(self):
        if "settings" not in self.duties():
            abort(403)
        profile = self.engine.registry.profiles.get(request.form.get("profile", ""))
        if profile is None:
            flash("没有这个设置方案。", "error")
            return redirect(url_for(".index"))
        with self.engine.db.atomic():
            self.engine.settings.apply_profile(profile.name, by=auth.current().username)
        flash(f"已切换为“{profile.label}”：" + "，".join(
            f"{self.engine.registry.settings[k].label} {v}" for k, v in profile.values.items()), "success")
        return redirect(url_for(".index"))
