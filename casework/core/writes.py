"""What may change on a saved record, from the declarations: the entity's `immutable_after:` and its
fields' `writers:` (schema/README.md). Forms and imports leave out what `Field.user_may_write` refuses;
this save hook refuses the same on every other path (a crafted POST, a list edit, an import update, a
script), with the message the declaration gives and nothing written.

The system itself (no acting user: rules, scripts, demo data) is not held to `writers:`; nobody, the
system included, changes what `immutable_after:` freezes (rules write only the fields it leaves out).
"""
from schema import RecordInvalid, conditions

from casework.core import scope


def same(spec, new, old):
    """A form posts "" for an empty text, False for an unticked box where the row holds None, and a
    textarea with CRLF line ends whatever the row holds: none of these is a change."""
    if spec.type == "bool":
        return bool(new) == bool(old)

    def plain(value):
        if isinstance(value, str):
            value = value.replace("\r\n", "\n").strip()
        return None if value == "" else value
    return plain(new) == plain(old)


def changed(record, old, fields):
    return [f for f in fields if not same(f, record.__data__.get(f.name), old.get(f.name))]


def check_immutable(models, record, old):
    spec = record._spec
    rule = spec.immutable_after
    if rule is None:
        return
    if rule["when"] == "saved":
        if rule["fields"] or rule["except"]:
            moved = changed(record, old, [f for f in spec.fields if f.frozen])
            if not moved:
                return
            key = rule["field"] or moved[0].name
        else:
            key = rule["field"] or spec.fields[0].name       # the whole row: no save of it again
    elif conditions.evaluate(rule["when"], old, _setting(models)):
        key = rule["field"] or spec.fields[0].name
    else:
        return
    raise RecordInvalid({key: rule["message"]})


def locked_fields(models, spec, old, role):
    """The fields a user of `role` (None: the system) may not change on the saved record whose stored
    values are `old`, each with the reason in Chinese: what the edit form shows as text instead of an
    input the save hooks above would refuse. A row whose `immutable_after` condition holds is locked whole."""
    shown = [f for f in spec.fields if not f.readonly and not f.hidden]
    rule = spec.immutable_after
    if rule is not None and rule["when"] != "saved" and conditions.evaluate(rule["when"], old, _setting(models)):
        return [(f, rule["message"]) for f in shown]
    locked = []
    for f in shown:
        if f.fixed:
            locked.append((f, "保存后不可在此修改，更正须经签名的流程步骤"))
        elif f.frozen:
            locked.append((f, rule["message"]))
        elif role is not None and not f.writable_by(role):
            locked.append((f, spec.writers_message or f"{role.label}不可修改"))
    return locked


def _setting(models):
    settings = getattr(models, "settings", None)
    return settings.get if settings is not None else (lambda key: None)


def check_writers(models, record, old):
    spec = record._spec
    guarded = [f for f in spec.fields if f.writers is not None]
    if not guarded:
        return
    role = scope.actor_role(models)
    if role is None:
        return
    others = [f for f in guarded if not f.writable_by(role)]
    moved = changed(record, old, others)
    if moved:
        own = next((f.name for f in spec.fields if f.user_may_write(existing=True, role=role)), moved[0].name)
        labels = "、".join(f.label for f in moved)
        message = f"{spec.writers_message}（不能修改：{labels}）" if spec.writers_message else \
            f"{role.label}不能修改：{labels}"
        raise RecordInvalid({own: message})
    for f in others:          # what came back unchanged is kept as stored (the audit shows only real changes)
        setattr(record, f.name, old.get(f.name))


def check_unique_rows(record):
    """An entity's `unique_rows:` said in Chinese before the partial unique index refuses the save
    with a raw IntegrityError (a form, an inline row, an import; bulk inserts meet the index itself)."""
    model, data = type(record), record.__data__
    for rule in record._spec.unique_rows:
        if any(data.get(k) != v for k, v in rule.where.items()):
            continue
        values = [data.get(f) for f in rule.fields]
        if any(v is None for v in values):
            continue            # empty values never collide in the index either
        query = model.select(model.id).where(*[getattr(model, f) == v for f, v in zip(rule.fields, values)],
                                             *[getattr(model, k) == v for k, v in rule.where.items()])
        if record.id is not None:
            query = query.where(model.id != record.id)
        if query.exists():
            raise RecordInvalid({rule.fields[-1]: rule.message})


def install(models):
    def guard(record, old):
        if old is not None:
            check_immutable(models, record, old)
            check_writers(models, record, old)
        if record._spec.unique_rows:
            check_unique_rows(record)

    models.hooks.before.append(guard)
