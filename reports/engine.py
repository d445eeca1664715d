"""Declarative reports: `reports/*.yaml` → grouped, aggregated queries → rows (form_workbook.py writes them).

A report has parameters, and sheets; a sheet reads one entity (`source`), keeps the rows its `filters`
allow (and the user's row scope always), groups them by field paths (`group`, e.g. village.parent for
the township of a payment's village) and computes `columns`: aggregates over a field path (count,
count_distinct, sum, avg, min, max) or expressions over other columns (ratios, per-person averages).
A totals row is computed by the database over the same rows, so distinct counts and averages are right.
"""
import ast
import datetime as dt
import operator
import os
import re
from dataclasses import dataclass, field
from decimal import Decimal

import peewee as pw
import yaml

from casework.core import scope
from schema import clock, paths, types, yamlfile
from schema.resolve import DisplayContext, Resolver
from schema import SchemaError

HERE = os.path.dirname(os.path.abspath(__file__))
AGGREGATES = {"count", "count_distinct", "sum", "avg", "min", "max"}
FORMATS = {"int", "yuan", "persons", "percent", "text"}
PARAM_TYPES = {"month", "date", "area", "choice", "text"}
OPS = {"eq", "ne", "in", "lt", "le", "gt", "ge", "empty"}


class ReportError(Exception):
    """Bad parameters or an unknown report; the message is shown to the user as is."""


@dataclass
class Param:
    name: str
    label: str
    type: str
    required: bool = False
    default: object = None
    level: str | None = None
    options: str | None = None
    max_length: int | None = None         # so a field type can coerce a parameter like a field


@dataclass
class Sheet:
    name: str
    source: str
    group: list                 # [(path, label)]
    columns: list               # dicts: name, label, agg/path or expr, format
    filters: list = field(default_factory=list)
    totals: bool = True
    checks: list = field(default_factory=list)     # validation rules over each row and the totals
    every: bool = False         # `all: true` on an area group: every area of its level in scope, rows or not


@dataclass
class Report:
    name: str
    title: str
    params: list
    sheets: list
    header: list = field(default_factory=list)     # lines above the table: 填报单位, 报表期 …
    footer: list = field(default_factory=list)     # lines below it: 制表人, 审核人, 填报日期
    file: str = ""


# -- loading: every key checked, every error names the file and the key ---------------------------

def load(registry, folder=HERE):
    """{name: Report} and [errors]: a broken file is reported and left out, the others load."""
    out, errors = {}, []
    for fname in sorted(f for f in os.listdir(folder) if f.endswith((".yaml", ".yml"))):
        rel = os.path.join("reports", fname)
        try:
            data = yamlfile.read(os.path.join(folder, fname))
            report = _report(data, registry, rel)
            out[report.name] = report
        except SchemaError as e:
            errors.append(str(e))
        except (yaml.YAMLError, UnicodeDecodeError) as e:
            errors.append(f"文件 {rel}：无法读取：{e}")
    return out, errors


def _report(data, registry, rel):
    if not isinstance(data, dict) or not data.get("name") or not data.get("title") or not data.get("sheets"):
        raise SchemaError(rel, "报表应有 name、title 和 sheets")
    params = []
    for raw in data.get("params") or []:
        if raw.get("type") not in PARAM_TYPES:
            raise SchemaError(rel, f"参数 {raw.get('name')} 的 type 应为 {', '.join(sorted(PARAM_TYPES))}")
        if raw["type"] == "choice" and raw.get("options") not in registry.options:
            raise SchemaError(rel, f"参数 {raw.get('name')} 的 options 不是选项表")
        params.append(Param(name=raw["name"], label=str(raw.get("label") or raw["name"]), type=raw["type"],
                            required=bool(raw.get("required")), default=raw.get("default"),
                            level=raw.get("level"), options=raw.get("options")))
    names = {p.name for p in params}
    sheets = [_sheet(raw, registry, rel, names) for raw in data["sheets"]]
    return Report(name=data["name"], title=str(data["title"]), params=params, sheets=sheets,
                  header=[str(x) for x in data.get("header") or []], footer=[str(x) for x in data.get("footer") or []],
                  file=rel)


def _sheet(raw, registry, rel, params):
    source = raw.get("source")
    if source not in registry.entities:
        raise SchemaError(rel, f"sheets 中的 source {source} 不是实体")
    entity = registry.entities[source]
    group, every = [], False
    for g in raw.get("group") or []:
        g = {"path": g} if isinstance(g, str) else g
        f = _field(registry, entity, g["path"], rel, "group")
        group.append((g["path"], str(g.get("label") or f.label)))
        if g.get("all"):
            # a township with nothing found is a row too (its score is full, not missing)
            if f.type != "area" or not f.level or len(raw.get("group") or []) != 1:
                raise SchemaError(rel, f"group 的 all: true 只能用于唯一的、限定层级的区划分组（{g['path']} 不是）", source)
            every = True
    columns, seen = [], set()
    for c in raw.get("columns") or []:
        name = c.get("name")
        if not name or name in seen:
            raise SchemaError(rel, f"columns 中的列 {name} 缺少 name 或重复", source)
        seen.add(name)
        if c.get("format", "int") not in FORMATS:
            raise SchemaError(rel, f"列 {name} 的 format 应为 {', '.join(sorted(FORMATS))}", source)
        if "where" in c:
            c = dict(c, where=_check_filter(c["where"], registry, entity, rel, params, source))
        if "expr" in c:
            _check_expr(c["expr"], seen - {name}, rel, name)
        elif c.get("agg") in AGGREGATES:
            if c["agg"] != "count":
                _field(registry, entity, c.get("path", ""), rel, f"列 {name}")
        else:
            raise SchemaError(rel, f"列 {name} 应有 agg（{', '.join(sorted(AGGREGATES))}）或 expr", source)
        if "total" in c and not isinstance(c["total"], bool):
            raise SchemaError(rel, f"列 {name} 的 total 只能是 true 或 false", source)
        columns.append(dict(c, label=str(c.get("label") or name), format=c.get("format", "int")))
    filters = []
    for f in raw.get("filters") or []:
        filters.append(_check_filter(f, registry, entity, rel, params, source))
    checks = [_check_rule(c, {c["name"] for c in columns}, rel, source) for c in raw.get("checks") or []]
    return Sheet(name=str(raw.get("name") or entity.label), source=source, group=group, columns=columns,
                 filters=filters, totals=raw.get("totals", True) is not False, checks=checks, every=every)


COMPARE = {ast.Eq: ("=", operator.eq), ast.LtE: ("≤", operator.le), ast.GtE: ("≥", operator.ge),
           ast.Lt: ("<", operator.lt), ast.Gt: (">", operator.gt)}


def _check_rule(raw, known, rel, source):
    """A validation rule of the form (`序号2=9+10+11+12`): two sums of columns compared."""
    raw = {"rule": raw} if isinstance(raw, str) else raw
    text = str(raw.get("rule") or "")
    try:
        tree = ast.parse(text, mode="eval").body
    except SyntaxError:
        tree = None
    if not isinstance(tree, ast.Compare) or len(tree.ops) != 1 or type(tree.ops[0]) not in COMPARE:
        raise SchemaError(rel, f"checks 中的 {text} 应是两个算式的比较（== <= >= < >）", source)
    for side in (tree.left, tree.comparators[0]):
        _check_expr(ast.unparse(side), known, rel, f"checks（{text}）")
    return {"rule": text, "left": ast.unparse(tree.left), "right": ast.unparse(tree.comparators[0]),
            "op": type(tree.ops[0]), "message": str(raw.get("message") or "")}


def _check_filter(f, registry, entity, rel, params, source):
    """The filter as run: `with: {attribute: value}` on a choice field becomes `in:` the codes whose
    option attributes match (`{field: assistance_type, with: {family: dibao}}` → 11, 12, 13, and any type
    added to the list later with that family)."""
    ops = set(f) - {"field"} if isinstance(f, dict) else set()
    if len(ops) != 1 or not ops <= OPS | {"with"}:
        raise SchemaError(rel, f"筛选条件 {f} 应有 field 和一个比较（{', '.join(sorted(OPS | {'with'}))}）", source)
    spec = _field(registry, entity, f.get("field", ""), rel, "filters")
    if "with" in ops:
        return {"field": f["field"], "in": _codes_with(registry, spec, f["with"], rel, source)}
    value = f[next(iter(ops))]
    for v in value if isinstance(value, list) else [value]:
        if isinstance(v, str) and v.startswith("param:"):
            name, _, modifier = v[6:].partition("|")
            if name not in params or (modifier and modifier not in MODIFIERS):
                raise SchemaError(rel, f"筛选条件引用了未声明的参数 {v[6:]}（月份参数可加 "
                                       f"{'、'.join('|' + m for m in MODIFIERS)}）", source)
    return f


def _codes_with(registry, spec, wanted, rel, source):
    if spec.type != "choice" or not isinstance(wanted, dict) or not wanted:
        raise SchemaError(rel, f"筛选条件 with 只用于选项字段，写作 with: {{属性: 值}}（{spec.name}）", source)
    options = registry.options[spec.options]
    for key in wanted:
        if key not in options.attributes:
            raise SchemaError(rel, f"筛选条件 with 中的 {key} 不是选项表 {options.name} 声明的属性"
                                   f"（可用：{'、'.join(options.attributes) or '无'}）", source)
    codes = options.codes_with(**{k: v if isinstance(v, bool) else str(v) for k, v in wanted.items()})
    if not codes:
        raise SchemaError(rel, f"选项表 {options.name} 中没有属性为 {wanted} 的选项", source)
    return codes


def _field(registry, entity, path, rel, where):
    try:
        return paths.field_at(registry, entity, path)
    except paths.PathError as e:
        message = f"{where} 中的 {path}：{e.part} 不是引用字段" if e.not_a_ref else f"{where} 中的 {path} 不是字段"
        raise SchemaError(rel, message, entity.name, path) from None


BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}


def _check_expr(text, known, rel, name):
    try:
        tree = ast.parse(str(text), mode="eval")
    except SyntaxError:
        raise SchemaError(rel, f"列 {name} 的 expr 不是算式：{text}") from None
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id not in known:
            raise SchemaError(rel, f"列 {name} 的 expr 引用了前面没有的列 {node.id}")
        if not isinstance(node, (ast.Expression, ast.BinOp, ast.Name, ast.Constant, ast.Load, *BINARY)):
            raise SchemaError(rel, f"列 {name} 的 expr 只能用列名、数字和 + - * /")


def _eval(text, values):
    def ev(node):
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant):
            return Decimal(str(node.value))
        if isinstance(node, ast.Name):
            v = values.get(node.id)
            return None if v is None else Decimal(str(v))
        left, right = ev(node.left), ev(node.right)
        if left is None or right is None or (isinstance(node.op, ast.Div) and right == 0):
            return None                      # a ratio over nothing is empty, not an error
        return BINARY[type(node.op)](left, right)
    return ev(ast.parse(str(text), mode="eval"))


# -- running ----------------------------------------------------------------------------------------

@dataclass
class SheetResult:
    name: str
    headers: list
    formats: list
    rows: list
    totals: list | None
    problems: list = field(default_factory=list)    # rows that break the sheet's checks, in words


def parse_params(engine, report, raw, user):
    """Typed parameter values; unknown names and bad values raise ReportError in Chinese."""
    known = {p.name: p for p in report.params}
    unknown = set(raw) - set(known)
    if unknown:
        raise ReportError(f"报表“{report.title}”没有参数 {', '.join(sorted(unknown))}；"
                          f"可用：{', '.join(f'{p.name}（{p.label}）' for p in report.params) or '无'}")
    out = {}
    for p in report.params:
        value = raw.get(p.name, p.default)
        if value == "this_month":
            value = clock.today().strftime("%Y-%m")
        if value in (None, ""):
            if p.required:
                raise ReportError(f"请填写参数“{p.label}”")
            out[p.name] = None
            continue
        try:
            if p.type == "area":
                Area = engine.models["area"]
                row = scope.scoped(engine.models, "area", user).where(
                    (Area.code == str(value)) | (Area.name == str(value)) |
                    (Area.id == (int(value) if str(value).isdigit() and len(str(value)) < 6 else -1))).first()
                if row is None or (p.level and row.level != p.level):
                    raise ReportError(f"参数“{p.label}”：{value} 不是您管辖范围内的区划")
                value = row.id
            elif p.type == "choice":
                code = engine.registry.options[p.options].code_of(value)
                if code is None:
                    raise ReportError(f"参数“{p.label}”：{value} 不在选项中")
                value = code
            else:
                value = types.get(p.type).coerce(value, p)
        except types.CellError as e:
            raise ReportError(f"参数“{p.label}”：{e}") from None
        out[p.name] = value
    return out


def describe(report, values, engine):
    """报表期 and the other parameters in words, for the header line."""
    parts = []
    for p in report.params:
        value = values.get(p.name)
        if value is None:
            continue
        if p.type == "area":
            value = engine.models["area"].get_by_id(value).name
        elif p.type == "choice":
            value = engine.registry.options[p.options].label_of(value)
        parts.append(f"{p.label} {value}")
    return "，".join(parts) or "全部"


def unit_of(user):
    """填报单位: the exporting user's area (a township's report names the township), "" for none."""
    field = getattr(type(user), "area", None) if user is not None else None
    if not isinstance(field, pw.ForeignKeyField):
        return ""
    area = field.rel_model.get_or_none(field.rel_model.id == user.__data__.get("area"))
    return area.name if area is not None else ""


def fill(line, user, today):
    """A header or footer line with its placeholders filled: {unit} 填报单位, {user} 制表人, {today}."""
    return (line.replace("{unit}", unit_of(user))
                .replace("{user}", getattr(user, "full_name", "") or "" if user is not None else "")
                .replace("{today}", today.isoformat()))


def run(engine, user, report, raw_params, progress=None):
    """(parameter values, [SheetResult]); progress(done, total) after each sheet, for long reports."""
    params = parse_params(engine, report, raw_params, user)
    context = dict(params, __today__=clock.today())
    results = []
    for sheet in report.sheets:
        results.append(_run_sheet(engine, user, sheet, context))
        if progress:
            progress(len(results), len(report.sheets))
    return params, results


def shown(value, fmt):
    """A cell as the report screen shows it."""
    if value is None or value == "":
        return ""
    if fmt == "text" or isinstance(value, str):
        return str(value)
    if fmt == "yuan":
        return f"{Decimal(str(value)):,.2f}"
    if fmt == "percent":
        return f"{Decimal(str(value)) * 100:.2f}%"
    return f"{value:,}" if isinstance(value, int) else str(value)


class _Paths:
    """Field paths → columns, joining each reference once (a LEFT OUTER join: empty links stay)."""

    def __init__(self, models, source):
        self.models, self.source = models, source
        self.model = models[source]
        self.joins = {}                    # prefix → alias
        self.query_joins = []

    def column(self, path):
        model, prefix = self.model, ""
        steps = paths.hops(self.models.registry, self.source, path)
        for _entity, f in steps[:-1]:
            prefix = f"{prefix}.{f.name}" if prefix else f.name
            if prefix not in self.joins:
                alias = self.models[paths.target(f)].alias()
                self.joins[prefix] = alias
                self.query_joins.append((alias, getattr(model, f.name) == alias.id))
            model = self.joins[prefix]
        return getattr(model, steps[-1][1].name)

    def apply(self, query):
        for alias, on in self.query_joins:
            query = query.join_from(self.model, alias, pw.JOIN.LEFT_OUTER, on=on)
        return query


def _last_day(month):
    year, number = int(month[:4]), int(month[5:7])
    return dt.date(year + number // 12, number % 12 + 1, 1) - dt.timedelta(days=1)


# a month parameter seen another way: the year to date of a month column, the days of a date column
MODIFIERS = {"year_start": lambda m: f"{m[:4]}-01",
             "year_first": lambda m: dt.date(int(m[:4]), 1, 1),
             "month_first": lambda m: dt.date(int(m[:4]), int(m[5:7]), 1),
             "month_last": _last_day}


def _condition(column, op, value, params):
    def resolve(v):
        if isinstance(v, str) and v.startswith("param:"):
            name, _, modifier = v[6:].partition("|")
            value = params.get(name)
            return MODIFIERS[modifier](str(value)) if modifier and value else value
        if v == "today":
            return params.get("__today__") or clock.today()
        return v
    if op == "empty":
        return column.is_null() if value else column.is_null(False)
    value = [resolve(v) for v in value] if isinstance(value, list) else resolve(value)
    if value is None or value == []:
        return None                             # an empty parameter leaves the filter out
    return {"eq": operator.eq, "ne": operator.ne, "lt": operator.lt, "le": operator.le, "gt": operator.gt,
            "ge": operator.ge}[op](column, value) if op != "in" else column.in_(value)


def _run_sheet(engine, user, sheet, params):
    models = engine.models
    joined = _Paths(models, sheet.source)
    model = joined.model
    where = [scope.condition(models, sheet.source, user)]
    if models.registry.entities[sheet.source].archive:
        where.append(model.archived == False)  # noqa: E712
    for f in sheet.filters:
        op = next(k for k in f if k != "field")
        cond = _condition(joined.column(f["field"]), op, f[op], params)
        if cond is not None:
            where.append(cond)
    group_cols = [joined.column(p) for p, _ in sheet.group]
    if isinstance(models.db, pw.SqliteDatabase) and sheet.filters:
        # `+col`: SQLite would otherwise walk the whole table along the grouping column's index
        # instead of using the filters' (5.2M ledger rows: 3.9 s for one month grouped by type)
        group_cols = [pw.NodeList((pw.SQL("+"), c), glue="") for c in group_cols]
    agg_cols = []
    for c in sheet.columns:
        if "expr" in c:
            continue
        col = joined.column(c["path"]) if c["agg"] != "count" else model.id
        if "where" in c:
            # only the rows the column's own condition allows: COUNT(CASE WHEN … THEN col END)
            op = next(k for k in c["where"] if k != "field")
            cond = _condition(joined.column(c["where"]["field"]), op, c["where"][op], params)
            if cond is not None:
                col = pw.Case(None, [(cond, col)], None)
        fn = {"count": pw.fn.COUNT(col), "count_distinct": pw.fn.COUNT(col.distinct()), "sum": pw.fn.SUM(col),
              "avg": pw.fn.AVG(col), "min": pw.fn.MIN(col), "max": pw.fn.MAX(col)}[c["agg"]]
        agg_cols.append((c["name"], fn))

    def query(with_groups):
        cols = (group_cols if with_groups else []) + [fn.alias(name) for name, fn in agg_cols]
        q = joined.apply(model.select(*cols)).where(*where)
        if with_groups and group_cols:
            q = q.group_by(*group_cols).order_by(*group_cols)
        return list(q.tuples())

    def finish(values):
        # SQLite's AVG is a float, PostgreSQL's a numeric: both become the same Decimal
        out = {k: Decimal(str(v)).quantize(Decimal("0.0001")) if isinstance(v, float) else v for k, v in values}
        for c in sheet.columns:
            if "expr" in c:
                value = _eval(c["expr"], out)
                out[c["name"]] = value.quantize(Decimal("0.0001")) if value is not None else None
        return [out[c["name"]] for c in sheet.columns]

    rows = []
    ctx = DisplayContext(engine.registry, Resolver(models))
    group_specs = [_field(engine.registry, engine.registry.entities[sheet.source], p, "", "group")
                   for p, _ in sheet.group]
    unmask = user is None or scope.can(models, user, sheet.source, "unmask")
    found = query(True)
    if sheet.every:
        found = _every_area(models, user, group_specs[0], found, agg_cols, sheet)
    for row in found:
        keys, values = row[:len(group_cols)], row[len(group_cols):]
        labels = [types.get(spec.type).display(k, spec, ctx, masked=spec.sensitive and not unmask)
                  if k is not None else "（未填）"
                  for spec, k in zip(group_specs, keys)]
        rows.append(labels + finish(zip([n for n, _ in agg_cols], values)))
    totals = None
    if sheet.totals and group_cols:
        (values,) = query(False) or [(None,) * len(agg_cols)]
        summed = finish(zip([n for n, _ in agg_cols], values))
        # a column declared `total: false` (a score, a rate per row) has no meaning summed: left blank
        totals = ["合计"] + [""] * (len(group_cols) - 1) + [
            v if c.get("total", True) else None for c, v in zip(sheet.columns, summed)]
    headers = [label for _, label in sheet.group] + [c["label"] for c in sheet.columns]
    formats = ["text"] * len(group_cols) + [c["format"] for c in sheet.columns]
    problems = _checked(sheet, rows + ([totals] if totals else []), len(group_cols))
    return SheetResult(sheet.name, headers, formats, rows, totals, problems)


def _every_area(models, user, spec, found, agg_cols, sheet):
    """The grouped rows with every area of the group's level in the user's scope, in code order: an
    area without rows gets 0 for its counts (and nothing for other aggregates)."""
    Area = models["area"]
    by_id = {row[0]: row for row in found}
    zero = tuple(0 if c["agg"] in ("count", "count_distinct") else None
                 for c in sheet.columns if "expr" not in c)
    areas = scope.scoped(models, "area", user).where(Area.level == spec.level).order_by(Area.code)
    out = [by_id.pop(a.id, (a.id,) + zero) for a in areas]
    return out + list(by_id.values())          # rows of an area outside the list (should not happen) stay


def _words(expr, labels):
    return re.sub(r"[A-Za-z_]\w*", lambda m: labels.get(m.group(0), m.group(0)), expr)


def _figure(value):
    return f"{value:,.0f}" if value == value.to_integral_value() else f"{value:,.2f}"


def _checked(sheet, rows, keys):
    """The rows where a check fails, as the office reads them: which row, which rule, which figures."""
    labels = {c["name"]: c["label"] for c in sheet.columns}
    problems = []
    for row in rows:
        values = dict(zip((c["name"] for c in sheet.columns), row[keys:]))
        for check in sheet.checks:
            left, right = _eval(check["left"], values), _eval(check["right"], values)
            if left is None or right is None:
                continue
            sign, compare = COMPARE[check["op"]]
            if not compare(left, right):
                where = "、".join(str(k) for k in row[:keys]) or "合计"
                problems.append(f"{where}：{check['message'] or '核验未通过'}（{_words(check['left'], labels)} = "
                                f"{_figure(left)}，应{sign} {_words(check['right'], labels)} = {_figure(right)}）")
    return problems
