"""Conditions in declarations: a small data language, checked at load time, evaluated on a record.

    {field: near_relative, eq: true}
    {field: decided_amount, le: "setting:temp_aid_township_limit"}
    {field: notice_end, lt: today}
    {field: investigator_2, ne: "field:investigator_1"}
    {field: county_visit_date, empty: false}
    {field: assistance_type, with: {family: tekun}}     (the codes whose option attributes match)
    {any: [cond, …]}   {all: [cond, …]}   {not: cond}

An operand is a literal, `today`, `setting:KEY` or `field:NAME`. A comparison with an empty side is
false, so a condition never passes on a value nobody has entered.
"""

from . import types
from .errors import SchemaError
from . import clock

COMPARE = {
    "eq": lambda a, b: a == b, "ne": lambda a, b: a != b,
    "lt": lambda a, b: a < b, "le": lambda a, b: a <= b,
    "gt": lambda a, b: a > b, "ge": lambda a, b: a >= b,
}


def build(raw, entity, registry, rel, where):
    """Validate a condition against the entity's fields and the settings; return it normalised."""
    if raw is None:
        return None
    if not isinstance(raw, dict) or not raw:
        raise SchemaError(rel, f"{where} 的条件应为映射，如 {{field: near_relative, eq: true}}", entity.name)
    for key in ("all", "any"):
        if key in raw:
            items = raw[key]
            if not isinstance(items, list) or not items or len(raw) != 1:
                raise SchemaError(rel, f"{where} 的 {key} 应为非空条件列表，且不与其他键并列", entity.name)
            return {key: [build(c, entity, registry, rel, where) for c in items]}
    if "not" in raw:
        return {"not": build(raw["not"], entity, registry, rel, where)}
    name = raw.get("field")
    if not entity.has_field(str(name)):
        raise SchemaError(rel, f"{where} 的条件引用了不存在的字段 {name}", entity.name, str(name))
    spec = entity.field(name)
    ops = set(raw) - {"field"}
    if len(ops) != 1 or not ops <= set(COMPARE) | {"empty", "in", "with"}:
        raise SchemaError(rel, f"{where} 的条件应有且只有一个比较：{', '.join(sorted(COMPARE))}、empty、in、with",
                          entity.name, name)
    op = ops.pop()
    value = raw[op]
    if op == "with":
        # {field: assistance_type, with: {family: dibao}}: the option's attributes, so a type added to the
        # option list with those attributes is covered with no edit here (becomes `in` the codes)
        options = registry.options.get(spec.options) if spec.options else None
        if options is None or not isinstance(value, dict) or not value:
            raise SchemaError(rel, f"{where} 的 with 只能用于选项字段，写作 {{属性: 值}}", entity.name, name)
        unknown = [k for k in value if k not in options.attributes]
        if unknown:
            raise SchemaError(rel, f"{where} 的 with 中的 {unknown[0]} 不是选项表 {options.name} 的属性", entity.name, name)
        return {"field": name, "in": options.codes_with(**value)}
    if op == "empty":
        return {"field": name, "empty": bool(value)}
    if op == "in":
        if not isinstance(value, list):
            raise SchemaError(rel, f"{where} 的 in 应为列表", entity.name, name)
        return {"field": name, "in": [_literal(v, spec, registry, rel, where) for v in value]}
    return {"field": name, op: _operand(value, spec, entity, registry, rel, where)}


def _operand(value, spec, entity, registry, rel, where):
    if value == "today":
        return ("today",)
    if isinstance(value, str) and value.startswith("setting:"):
        key = value[len("setting:"):]
        if key not in registry.settings:
            raise SchemaError(rel, f"{where} 的条件引用了不存在的设置 {key}", entity.name, spec.name)
        return ("setting", key)
    if isinstance(value, str) and value.startswith("field:"):
        other = value[len("field:"):]
        if not entity.has_field(other):
            raise SchemaError(rel, f"{where} 的条件引用了不存在的字段 {other}", entity.name, spec.name)
        return ("field", other)
    return ("value", _literal(value, spec, registry, rel, where))


def _literal(value, spec, registry, rel, where):
    if spec.type in ("choice", "checklist"):
        code = registry.options[spec.options].code_of(value)
        if code is None:
            raise SchemaError(rel, f"{where} 的条件值 {value} 不在选项表 {spec.options} 中", spec.entity, spec.name)
        return code
    try:
        return types.get(spec.type).coerce(value, spec)
    except types.CellError as e:
        raise SchemaError(rel, f"{where} 的条件值 {value} 无效：{e}", spec.entity, spec.name) from None


def evaluate(cond, values, setting, today=None):
    """values: field → stored value; setting: key → value."""
    if cond is None:
        return True
    if "all" in cond:
        return all(evaluate(c, values, setting, today) for c in cond["all"])
    if "any" in cond:
        return any(evaluate(c, values, setting, today) for c in cond["any"])
    if "not" in cond:
        return not evaluate(cond["not"], values, setting, today)
    value = values.get(cond["field"])
    if "empty" in cond:
        return (value in (None, "")) == cond["empty"]
    if "in" in cond:
        return value in cond["in"]
    (op, operand), = [(k, v) for k, v in cond.items() if k != "field"]
    other = _resolve(operand, values, setting, today)
    if value in (None, "") or other in (None, ""):
        return op == "ne" and (value in (None, "")) != (other in (None, ""))
    if isinstance(value, bool) or isinstance(other, bool):
        return COMPARE[op](bool(value), bool(other))
    try:
        return COMPARE[op](value, type(value)(other) if not isinstance(other, type(value)) else other)
    except (TypeError, ValueError, ArithmeticError):
        return False


def _resolve(operand, values, setting, today):
    kind = operand[0]
    if kind == "today":
        return today or clock.today()
    if kind == "setting":
        return setting(operand[1])
    if kind == "field":
        return values.get(operand[1])
    return operand[1]


def fields_of(cond):
    """Every field a condition reads."""
    if cond is None:
        return set()
    if "all" in cond or "any" in cond:
        return set().union(*(fields_of(c) for c in cond.get("all") or cond.get("any")))
    if "not" in cond:
        return fields_of(cond["not"])
    out = {cond["field"]}
    for k, v in cond.items():
        if isinstance(v, tuple) and v[0] == "field":
            out.add(v[1])
    return out
