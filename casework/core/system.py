"""System tables that are not declared in YAML: the audit log, login attempts, setting overrides.

The audit trail is written from the model hooks, so every path (forms, inline rows, list editing,
imports, scripts) leaves one row per change: who, when, entity, record and each field's old and new
value ("环环有痕迹、步步能倒查").
"""
import contextlib
import contextvars
import datetime as dt
import json
from decimal import Decimal

import peewee as pw

from schema import clock, types

# who is acting now; set per request by the web layer, per command by the CLI
actor = contextvars.ContextVar("actor", default=None)      # (user id, username, ip)
batch = contextvars.ContextVar("batch", default=None)      # an import batch id, when importing


def acting(user, ip=None):
    """The actor tuple for work done on `user`'s behalf (None: the system). Without `ip`, the address
    of the request being served (the web layer's actor) is kept, so that audit rows name it too."""
    current = actor.get()
    ip = ip if ip is not None else (current[2] if current else None)
    return (user.id, user.username, ip) if user is not None else (None, None, ip)


@contextlib.contextmanager
def acting_as(user, ip=None):
    """Audit rows written inside the block name this user (a user record, or None for the system)."""
    token = actor.set(acting(user, ip))
    try:
        yield
    finally:
        actor.reset(token)


class SystemModel(pw.Model):
    class Meta:
        legacy_table_names = False


class AppendOnly:
    """Rows of the audit trails are only inserted: no code path updates or deletes them (the database
    refuses too, see casework/security_log)."""

    def save(self, *a, **kw):
        if self._pk is not None:
            raise PermissionError("审计记录不能修改")
        return super().save(*a, **kw)

    def delete_instance(self, *a, **kw):
        raise PermissionError("审计记录不能删除")

    @classmethod
    def update(cls, *a, **kw):
        raise PermissionError("审计记录不能修改")

    @classmethod
    def delete(cls):
        raise PermissionError("审计记录不能删除")


class AuditLog(AppendOnly, SystemModel):
    at = pw.DateTimeField(index=True)
    user_id = pw.IntegerField(null=True, index=True)
    username = pw.CharField(max_length=40, null=True)
    ip = pw.CharField(max_length=45, null=True)
    entity = pw.CharField(max_length=40)
    record_id = pw.IntegerField()
    action = pw.CharField(max_length=10)           # create / update / delete / archive / restore
    changes = pw.TextField(null=True)              # JSON: {field: [old, new]}
    batch = pw.CharField(max_length=40, null=True, index=True)

    class Meta:
        table_name = "audit_log"
        indexes = ((("entity", "record_id"), False),)

    def change_dict(self):
        return json.loads(self.changes) if self.changes else {}


class LoginAttempt(SystemModel):
    at = pw.DateTimeField(index=True)
    username = pw.CharField(max_length=40, index=True)
    ip = pw.CharField(max_length=45, null=True)
    success = pw.BooleanField(default=False)

    class Meta:
        table_name = "login_attempt"


class SettingValue(SystemModel):
    key = pw.CharField(max_length=60, unique=True)
    value = pw.TextField(null=True)
    updated_at = pw.DateTimeField(null=True)
    updated_by = pw.CharField(max_length=40, null=True)

    class Meta:
        table_name = "setting_value"


class ImportBatch(SystemModel):
    batch = pw.CharField(max_length=40, unique=True)
    at = pw.DateTimeField(index=True)
    user_id = pw.IntegerField(null=True)
    username = pw.CharField(max_length=40, null=True)
    entity = pw.CharField(max_length=40)
    filename = pw.CharField(max_length=200, null=True)
    mode = pw.CharField(max_length=10)
    rows = pw.IntegerField(default=0)
    created = pw.IntegerField(default=0)
    updated = pw.IntegerField(default=0)
    errors = pw.IntegerField(default=0)
    result = pw.CharField(max_length=10)

    class Meta:
        table_name = "import_batch"


class Tables:
    """The system tables bound to one database (an app, a test or a benchmark each has its own)."""

    def __init__(self, db):
        self.db = db
        for base in (AuditLog, LoginAttempt, SettingValue, ImportBatch):
            meta = type("Meta", (), {"database": db, "table_name": base._meta.table_name})
            setattr(self, base.__name__, type(base.__name__, (base,), {"__module__": __name__, "Meta": meta}))

    def all(self):
        return [self.AuditLog, self.LoginAttempt, self.SettingValue, self.ImportBatch]

    def create(self):
        self.db.create_tables(self.all(), safe=True)


ACTION_LABELS = {"create": "新建", "update": "修改", "delete": "删除", "archive": "归档", "restore": "恢复"}


def _plain(value):
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


SKIP = {"created_at", "updated_at", "archived_at", "version"}


def diff(spec, old, new):
    changes = {}
    secret = {f.name for f in spec.fields if f.type == "password"}
    for key in set(old or {}) | set(new or {}):
        if key in SKIP or key == "id":
            continue
        before, after = _plain((old or {}).get(key)), _plain((new or {}).get(key))
        if before != after and not (before in (None, "") and after in (None, "")):
            changes[key] = ["******", "******"] if key in secret else [before, after]
    return changes


def last_change(tables, entity, record_id):
    """(username, time) of a record's latest audit entry, or (None, None)."""
    A = tables.AuditLog
    row = (A.select(A.username, A.at).where((A.entity == entity) & (A.record_id == record_id))
           .order_by(A.at.desc(), A.id.desc()).first())
    return (row.username, row.at) if row else (None, None)


def install_audit(models, tables):
    def after(record, action, old):
        new = None if action == "delete" else record.snapshot()
        changes = diff(record._spec, old if action != "create" else None, new)
        if action == "update" and not changes:
            return
        who = actor.get() or (None, None, None)
        tables.AuditLog.create(at=clock.now(), user_id=who[0], username=who[1],
                        ip=who[2], entity=record._spec.name, record_id=record._pk, action=action,
                        changes=json.dumps(changes, ensure_ascii=False), batch=batch.get())
    models.hooks.after.append(after)


SETTING_ENTITY = "setting"        # audit rows of the system settings (not a declared entity)


class Settings:
    """Declared defaults (schema/settings.yaml) overridden by rows the county administrator saves."""

    def __init__(self, registry, tables):
        self.registry = registry
        self.tables = tables
        # within one request (begin_once), every saved value read by a single query: a list page asked
        # for its settings one row at a time (household list: 16 statements, 9 of them settings)
        self._snapshot = contextvars.ContextVar(f"settings_{id(self)}", default=None)

    def get(self, key):
        spec = self.registry.settings[key]
        saved = self._snapshot.get()
        if saved is None:
            SettingValue = self.tables.SettingValue
            row = SettingValue.get_or_none(SettingValue.key == key)
            value = None if row is None else row.value
        else:
            if not saved:
                saved.update(self.tables.SettingValue.select(self.tables.SettingValue.key,
                                                             self.tables.SettingValue.value).tuples())
                saved.setdefault(None, None)      # loaded: an empty table is not read again
            value = saved.get(key)
        if value is None:
            return types.get(spec.type).coerce(spec.default, spec)
        return types.get(spec.type).coerce(value, spec)

    def begin_once(self):
        """From here to end_once (a web request), the saved settings are read by one query. A
        setting saved inside is seen at once; one saved by another process from the next request on."""
        return self._snapshot.set({})

    def end_once(self, token):
        try:
            self._snapshot.reset(token)
        except ValueError:                  # ended in another context than it began: just forget it
            self._snapshot.set(None)

    def apply_profile(self, name, by=None):
        """Switch to a named set of settings (schema/profiles/*.yaml), e.g. the national defaults."""
        for key, value in self.registry.profiles[name].values.items():
            self.set(key, value, by)
        for fn in self.on_change:
            fn()

    on_change = ()      # callbacks after settings change (the workflow recomputes deadlines)

    def set(self, key, value, by=None):
        spec = self.registry.settings[key]
        value = types.get(spec.type).coerce(value, spec)
        text = "" if value is None else str(value)
        SettingValue = self.tables.SettingValue
        before = self.get(key)
        (SettingValue.insert(key=key, value=text, updated_at=dt.datetime.now(), updated_by=by)
         .on_conflict(conflict_target=[SettingValue.key],
                      update={SettingValue.value: text, SettingValue.updated_at: dt.datetime.now(),
                              SettingValue.updated_by: by})
         .execute())
        saved = self._snapshot.get()
        if saved:
            saved[key] = text
        if before != value:
            # a policy number changed (e.g. the township approval limit): who, when, from where, old → new
            who = actor.get() or (None, by, None)
            row = SettingValue.get(SettingValue.key == key)
            self.tables.AuditLog.create(at=clock.now(), user_id=who[0],
                                        username=who[1] or by, ip=who[2], entity=SETTING_ENTITY, record_id=row.id,
                                        action="update", changes=json.dumps(
                                            {key: [_plain(before), _plain(value)]}, ensure_ascii=False))
