"""A refused save of a record with inline rows (a household and its members) explained row by row:
every problem of every row at once, each with the row's number, the person's name and the field's
Chinese label; a person already in another household is named by that household when the user may
see it, else "另一户（不在您的管辖范围）". The save rules refuse; this only says where."""
import re

from flask import request

from schema import idnumber
from casework.core import scope
from schema import types

from . import auth

OUTSIDE = "另一户（不在您的管辖范围）"


def _rows(prefix):
    """{row number in the form: {field: value}} from the posted form, deleted rows left out."""
    out = {}
    for key, value in request.form.items():
        m = re.fullmatch(rf"{prefix}-(\d+)-(\w+)", key)
        if m:
            out.setdefault(int(m.group(1)), {})[m.group(2)] = value.strip()
    return {n: row for n, row in sorted(out.items()) if not request.form.get(f"del-{prefix}-{n}")}


def explain(view, exc_errors):
    """[message] for the banner, or [] when no inline row is at fault."""
    messages = []
    user = auth.current()
    record_id = request.args.get("id", "")
    for child_name in view.spec.inline:
        spec = view.models.registry.entities[child_name]
        model = view.models[child_name]
        back = next(f for f in spec.fields if f.type == "ref" and f.to == view.spec.name)
        prefix = next((p for p in (f"{child_name}s", child_name) if any(k.startswith(p + "-") for k in request.form)),
                      None)
        if prefix is None:
            continue
        seen = {}
        for position, (_, row) in enumerate(_rows(prefix).items(), 1):
            who = f"{spec.label}第{position}行" + (f"（{row.get('name')}）" if row.get("name") else "")
            for f in spec.fields:
                if f.name == back.name or f.readonly or f.hidden:
                    continue
                value = row.get(f.name, "")
                if f.required and not value:
                    messages.append(f"{who}：{f.label}不能为空")
                    continue
                if not value:
                    continue
                if f.type == "id_card":
                    try:
                        number = idnumber.parse(value)[0]
                    except idnumber.IdNumberError as e:
                        messages.append(f"{who}：{f.label} {e}")
                        continue
                    if number in seen:
                        messages.append(f"{who}：{f.label}与第{seen[number]}行相同")
                    seen.setdefault(number, position)
                    if f.unique:
                        holder = _holder(view, model, spec, f, back, number, row.get("id", ""), record_id, user)
                        if holder:
                            messages.append(f"{who}：{f.label} {number} 已登记在{holder}中，同一人只能属于一户，"
                                            f"请先从原家庭中移除")
                else:
                    try:
                        types.get(f.type).coerce(value, f)
                    except types.CellError as e:
                        messages.append(f"{who}：{f.label} {e}")
    for name, msg in exc_errors.items():
        if view.spec.has_field(name):
            messages.insert(0, f"{view.spec.field(name).label}：{msg}")
        elif not any(msg in m for m in messages):
            # the rule that refused (sex against the ID …) is always said, with the field's Chinese label
            label = next((view.models.registry.entities[c].field(name).label for c in view.spec.inline
                          if view.models.registry.entities[c].has_field(name)), name)
            messages.append(f"{label}：{msg}")
    return messages


def _holder(view, model, spec, f, back, number, row_id, record_id, user):
    """The household that already holds this person, as the user may see it."""
    q = model.select().where(getattr(model, f.name) == number)
    if spec.archive:
        q = q.where(model.archived == False)  # noqa: E712
    if row_id.isdigit():
        q = q.where(model.id != int(row_id))
    other = q.first()
    if other is None:
        return None
    parent_id = other.__data__[back.name]
    if record_id.isdigit() and parent_id == int(record_id):
        return None
    parent = view.model
    if scope.scoped(view.models, view.spec.name, user).where(parent.id == parent_id).exists():
        return "“" + view.ctx().resolver.title(view.spec.name, parent_id) + "”户"
    return OUTSIDE
