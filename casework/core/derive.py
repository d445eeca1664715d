"""Derived fields: values the system computes, named in YAML with `derive: rule` or `derive: rule(arg)`.

Per-record rules run before a save (and may refuse it); aggregate rules recompute a parent after
its children change. Bound to a ModelSet by `install(models)`.
"""
import re
from decimal import ROUND_HALF_UP, Decimal

import peewee as pw

from schema import RecordInvalid, SchemaError, clock, paths

from schema import idnumber
from casework.core.named import Named

RULES = Named()
rule = RULES            # @rule("name") registers a function
names = RULES.names


def parse(text):
    m = re.fullmatch(r"(\w+)(?:\(([\w.]+)\))?", text.strip())
    return (m.group(1), m.group(2)) if m else (text, None)


# -- per-record rules: fn(record, field_spec) may set the value or raise RecordInvalid

def _id_source(record):
    for f in record._spec.fields:
        if f.type == "id_card":
            return f
    return None


def _parsed_id(record):
    src = _id_source(record)
    value = getattr(record, src.name) if src else None
    if not value:
        return None
    try:
        return idnumber.parse(value)
    except idnumber.IdNumberError as e:
        raise RecordInvalid({src.name: str(e)}) from None


@rule("id_sex")
def id_sex(record, spec, models=None):
    parsed = _parsed_id(record)
    if not parsed:
        return
    current = getattr(record, spec.name)
    if current and current in ("1", "2") and current != parsed[2]:
        want = "男" if parsed[2] == "1" else "女"
        raise RecordInvalid({spec.name: f"性别与身份证号码不符：按身份证号应为{want}"})
    setattr(record, spec.name, parsed[2])


@rule("id_birth")
def id_birth(record, spec, models=None):
    parsed = _parsed_id(record)
    if not parsed:
        return
    current = getattr(record, spec.name)
    if current and current != parsed[1]:
        raise RecordInvalid({spec.name: f"出生日期与身份证号码不符：按身份证号应为{parsed[1].isoformat()}"})
    setattr(record, spec.name, parsed[1])


@rule("id_legacy")
def id_legacy(record, spec, models=None):
    parsed = _parsed_id(record)
    setattr(record, spec.name, bool(parsed and parsed[3]))


@rule("area_path")
def area_path(record, spec, models=None):
    parent_id = record.__data__.get("parent")
    prefix = "/"
    if parent_id:
        parent = type(record).get_by_id(parent_id)
        if record._pk is not None and f"/{record.code}/" in (parent.path or ""):
            raise RecordInvalid({"parent": "上级区划不能是自身或自身的下级"})
        prefix = parent.path or "/"
    setattr(record, spec.name, f"{prefix}{record.code}/")


@rule("self_care")
def self_care(record, spec, models=None):
    """特困 self-care level from the six 能/不能 items named `<prefix>_…` (民发〔2021〕43号 arts. 20–23):
    all met → 全自理; up to `self_care_partial_max_unmet` unmet → 部分自理; more → 完全不能自理.
    Until every item is answered the level stays empty."""
    prefix = parse(spec.derive)[1] + "_"
    items = [getattr(record, f.name) for f in record._spec.fields
             if f.name.startswith(prefix) and f.options == "self_care_item"]
    if not items or any(i not in ("yes", "no") for i in items):
        setattr(record, spec.name, None)
        return
    unmet = items.count("no")
    limit = models.settings.get("self_care_partial_max_unmet")
    setattr(record, spec.name, "full" if unmet == 0 else "partial" if unmet <= limit else "none")


@rule("copy")
def copy(record, spec, models=None):
    """The value at a reference path, kept on the record itself: a case keeps its household's village
    so that its row scope and its lists are one indexed lookup instead of a chain of subqueries."""
    steps = paths.hops(models.registry, record._spec, parse(spec.derive)[1])
    value = record.__data__.get(steps[0][1].name)
    for entity, f in steps[1:]:
        if value is None:
            break
        model = models[entity.name]
        value = model.select(getattr(model, f.name)).where(model.id == value).scalar()
    setattr(record, spec.name, value)


@rule("fill")
def fill(record, spec, models=None):
    """Left empty, taken from a reference path (a new case's applicant from its household's head);
    what the user typed is kept."""
    if getattr(record, spec.name) in (None, ""):
        copy(record, spec, models)


@rule("today")
def today(record, spec, models=None):
    """Left empty, today's date (a case's 申请日期): the same default on the form, an import and the API."""
    if getattr(record, spec.name) is None:
        setattr(record, spec.name, clock.today())


def backfill(models):
    """Fill `copy(...)` fields left empty (rows that existed before the field was added)."""
    for entity in models.registry.entities.values():
        for f in entity.fields:
            if not f.derive or parse(f.derive)[0] != "copy":
                continue
            model = models[entity.name]
            column = getattr(model, f.name)
            for record in model.select().where(column.is_null()):
                copy(record, f, models)
                if getattr(record, f.name) is not None:
                    model.update({column: getattr(record, f.name)}).where(model.id == record.id).execute()


@rule("checklist")
def checklist(record, spec, models=None):
    """A checklist's conclusion from its items (the other fields over the same option list): any item
    failed → fail; every item passed (or 不适用, `na`: not a point this case has) → pass; otherwise not
    concluded yet."""
    items = [getattr(record, f.name) for f in record._spec.fields
             if f.options == spec.options and f.name != spec.name]
    if "fail" in items:
        value = "fail"
    elif items and all(i in ("pass", "na") for i in items) and "pass" in items:
        value = "pass"
    else:
        value = None
    setattr(record, spec.name, value)


# -- aggregate rules: fn(count, total) -> value, from the live children of one parent

@rule("count")
def count(n, total):
    return n


@rule("per_capita")
def per_capita(n, total):
    if not n:
        return Decimal("0.00")
    return (Decimal(str(total or 0)) / n).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


AGGREGATE = {"count", "per_capita"}


def _live(model):
    q = model.select()
    return q.where(model.archived == False) if model._spec.archive else q  # noqa: E712


def install(models):
    """Bind every `derive:` declaration of a ModelSet to its hooks."""
    per_record = {}        # entity -> [(fn, field spec)]
    aggregates = {}        # child entity -> [(parent entity, field spec, fn, child ref field, arg)]
    for entity in models.registry.entities.values():
        for f in entity.fields:
            if not f.derive:
                continue
            name, arg = parse(f.derive)
            if name not in RULES:
                raise SchemaError(entity.file, f"未知的推导规则 {name}", entity.name, f.name)
            if name in AGGREGATE:
                child_name = (arg or "").split(".", 1)[0]
                if child_name not in models.registry.entities or (name == "per_capita" and "." not in arg):
                    raise SchemaError(entity.file, f"推导规则 {f.derive} 需要子实体参数，如 count(member)、"
                                                   f"per_capita(member.monthly_income)", entity.name, f.name)
                refs = [cf for cf in models.registry.entities[child_name].fields
                        if cf.type == "ref" and cf.to == entity.name]
                if not refs:
                    raise SchemaError(entity.file, f"{child_name} 没有指向 {entity.name} 的引用字段",
                                      entity.name, f.name)
                aggregates.setdefault(child_name, []).append((entity.name, f, RULES[name], refs[0], arg))
            else:
                per_record.setdefault(entity.name, []).append((RULES[name], f))

    def before(record, old):
        run_record_rules(models, record)
        check_unique(record)

    def after(record, action, old):
        name = record._spec.name
        if name == "area" and action == "update" and old and old.get("path") != record.path:
            _repath(type(record), old.get("path"), record.path)
        for ref_name in {a[3].name for a in aggregates.get(name, [])}:
            ids = {record.__data__.get(ref_name), (old or {}).get(ref_name)} - {None}
            recompute(models, name, ids)

    models.derive_rules = per_record
    models.derive_aggregates = aggregates
    models.hooks.before.append(before)
    models.hooks.after.append(after)


def run_record_rules(models, record):
    """The per-record rules of one record (imports run them without saving)."""
    for fn, spec in models.derive_rules.get(record._spec.name, []):
        fn(record, spec, models)


def recompute(models, child_name, parent_ids, chunk=500):
    """Recompute the parents' aggregate fields from their live children, one grouped query per
    chunk of parents (an import recomputes thousands of households at once)."""
    rules = models.derive_aggregates.get(child_name, [])
    child = models[child_name]
    parent_ids = [i for i in parent_ids if i is not None]
    by_ref = {}
    for parent_name, spec, fn, ref_spec, arg in rules:
        by_ref.setdefault((parent_name, ref_spec.name), []).append((spec, fn, arg))
    for (parent_name, ref_name), fields in by_ref.items():
        parent, ref = models[parent_name], getattr(child, ref_name)
        sums = sorted({arg.split(".", 1)[1] for _, _, arg in fields if arg and "." in arg})
        updates = []
        for ids in pw.chunked(parent_ids, chunk):
            cols = [ref, pw.fn.COUNT(child.id)] + [pw.fn.SUM(getattr(child, c)) for c in sums]
            stats = {row[0]: row[1:] for row in _live(child).select(*cols).where(ref.in_(ids))
                     .group_by(ref).tuples()}
            for pid in ids:
                n, *totals = stats.get(pid, (0,) + (None,) * len(sums))
                total_of = dict(zip(sums, totals))
                updates.append([getattr(parent, spec.name).db_value(fn(n, total_of.get((arg or "").split(".", 1)[-1])))
                                for spec, fn, arg in fields] + [pid])
        _update_many(models.db, parent, [getattr(parent, spec.name) for spec, _, _ in fields], updates)


def _update_many(db, model, columns, rows):
    """UPDATE … WHERE id = ? for many rows in one executemany (40k households: a second, not ten)."""
    if not rows:
        return
    mark = db.param

    def quote(name):
        return '"' + name.replace('"', '""') + '"'
    sets = ", ".join(f"{quote(c.column_name)} = {mark}" for c in columns)
    sql = f"UPDATE {quote(model._meta.table_name)} SET {sets} WHERE {quote('id')} = {mark}"
    cursor = db.cursor()
    cursor.executemany(sql, rows)


def check_unique(record):
    """A clear message before the database's unique index would refuse the row."""
    model, spec = type(record), record._spec
    for f in spec.fields:
        value = getattr(record, f.name) if f.unique else None
        if value in (None, ""):
            continue
        q = _live(model).where(getattr(model, f.name) == value)
        if record._pk is not None:
            q = q.where(model.id != record._pk)
        if q.exists():
            raise RecordInvalid({f.name: f.unique_message or f"{f.label}“{value}”已被另一条{spec.label}记录使用"})


def _repath(area, old_path, new_path):
    if not old_path:
        return
    for row in area.select().where(area.path.startswith(old_path) & (area.path != new_path)):
        area.update(path=new_path + row.path[len(old_path):]).where(area.id == row.id).execute()
