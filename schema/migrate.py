"""Additive migration: create missing tables, add missing columns and indexes, keep every row.

Never drops or narrows. A change that could lose data is refused with a message naming the file
and the field; the plan is printed before anything runs.
"""
import re
from dataclasses import dataclass, field as dc_field

import peewee as pw
from playhouse.migrate import SchemaMigrator, migrate as run_ops

from . import types
from .errors import SchemaError


class MigrationRefused(SchemaError):
    pass


@dataclass
class Plan:
    steps: list = dc_field(default_factory=list)      # (description, callable)
    notes: list = dc_field(default_factory=list)      # things kept as they are, for the reader
    refusals: list = dc_field(default_factory=list)   # SchemaError
    warnings: list = dc_field(default_factory=list)   # left undone until the data is put right

    @property
    def empty(self):
        return not self.steps

    def describe(self):
        lines = [f"  + {desc}" for desc, _ in self.steps] or ["  数据库结构已是最新，无需迁移。"]
        lines += [f"  = {n}" for n in self.notes]
        lines += [f"  ? {w}" for w in self.warnings]
        lines += [f"  ! {r}" for r in self.refusals]
        return "\n".join(lines)


def _expected(field):
    """(kind, size) that a peewee field needs."""
    if isinstance(field, (pw.AutoField, pw.ForeignKeyField, pw.IntegerField)):
        return ("bool", None) if isinstance(field, pw.BooleanField) else ("int", None)
    if isinstance(field, pw.BooleanField):
        return ("bool", None)
    if isinstance(field, pw.DecimalField):
        return ("decimal", (field.max_digits, field.decimal_places))
    if isinstance(field, pw.DateTimeField):
        return ("datetime", None)
    if isinstance(field, pw.DateField):
        return ("date", None)
    if isinstance(field, pw.CharField):
        return ("varchar", field.max_length)
    if isinstance(field, pw.TextField):
        return ("text", None)
    return (field.field_type.lower(), None)


def _sqlite_columns(db, table):
    out = {}
    for row in db.execute_sql(f'PRAGMA table_info("{table}")').fetchall():
        name, decl = row[1], (row[2] or "").upper()
        m = re.match(r"(\w+)\s*(?:\((\d+)(?:\s*,\s*(\d+))?\))?", decl)
        base, a, b = (m.group(1), m.group(2), m.group(3)) if m else (decl, None, None)
        if base in ("VARCHAR", "CHAR"):
            out[name] = ("varchar", int(a) if a else None)
        elif base in ("DECIMAL", "NUMERIC"):
            out[name] = ("decimal", (int(a), int(b or 0)) if a else None)
        elif base in ("INTEGER", "INT", "BIGINT", "SMALLINT"):
            out[name] = ("int", None)
        elif base in ("BOOL", "BOOLEAN"):
            out[name] = ("bool", None)
        else:
            out[name] = ({"TEXT": "text", "DATE": "date", "DATETIME": "datetime"}.get(base, base.lower()), None)
    return out


def _pg_columns(db, table):
    out = {}
    sql = ("SELECT column_name, data_type, character_maximum_length, numeric_precision, numeric_scale "
           "FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = %s")
    for name, dtype, clen, prec, scale in db.execute_sql(sql, (table,)).fetchall():
        if dtype == "character varying":
            out[name] = ("varchar", clen)
        elif dtype == "numeric":
            out[name] = ("decimal", (prec, scale) if prec else None)
        elif dtype in ("integer", "bigint", "smallint"):
            out[name] = ("int", None)
        elif dtype.startswith("timestamp"):
            out[name] = ("datetime", None)
        else:
            out[name] = ({"boolean": "bool", "text": "text", "date": "date"}.get(dtype, dtype), None)
    return out


def _compare(db, have, want):
    """None if compatible, 'widen' if the column may be widened, else a reason for refusal."""
    if have == want:
        return None
    hk, hs = have
    wk, ws = want
    sqlite = isinstance(db, pw.SqliteDatabase)
    if sqlite and {hk, wk} <= {"int", "bool"}:
        return None                     # SQLite stores booleans as integers
    if hk == wk == "varchar":
        if hs is None or (ws is not None and ws >= hs):
            return None if sqlite else "widen"
        return f"长度由 {hs} 缩短为 {ws}，已有数据可能被截断"
    if hk == "varchar" and wk == "text":
        return None if sqlite else "widen"
    if hk == wk == "decimal":
        (hp, hsc), (wp, wsc) = hs or (0, 0), ws
        if wp >= hp and wsc >= hsc and (wp - wsc) >= (hp - hsc):
            return None if sqlite else "widen"
        return f"精度由 {hs} 改为 {ws}，已有金额可能丢失"
    return f"类型由 {hk} 改为 {wk}，可能丢失数据"


def plan(models):
    """Compare the generated models with the database; return a Plan (nothing is executed)."""
    db = models.db
    result = Plan()
    schema_name = None
    if not isinstance(db, pw.SqliteDatabase):
        schema_name = db.execute_sql("SELECT current_schema()").fetchone()[0]
    existing = set(db.get_tables(schema=schema_name))
    columns_of = _sqlite_columns if isinstance(db, pw.SqliteDatabase) else _pg_columns
    migrator = SchemaMigrator.from_database(db)
    targets = None              # PostgreSQL's statistics targets, read once when a table needs them
    for name, model in models.models.items():
        spec = models.registry.entities[name]
        table = model._meta.table_name
        if table not in existing:
            result.steps.append((f"新建表 {table}（{spec.label}）",
                                 lambda m=model: db.create_tables([m], safe=True)))
            if schema_name is not None:
                result.steps.extend(_finer_statistics(db, table, _searched_by_index(spec, None)))
            continue
        have = columns_of(db, table)
        declared = set()
        renamed = set()
        for field in model._meta.sorted_fields:
            declared.add(field.column_name)
            old = _former_column(spec, field)
            if field.column_name not in have and old and old in have:
                # the field's values are in its former column: rename it rather than add an empty one
                renamed.add(old)
                result.steps.append((f"表 {table} 的列 {old} 改名为 {field.column_name}（{field.verbose_name or ''}）",
                                     lambda t=table, o=old, n=field.column_name: run_ops(migrator.rename_column(t, o, n))))
                continue
            if field.column_name not in have:
                result.steps.append((f"表 {table} 增加列 {field.column_name}（{field.verbose_name or ''}）",
                                     lambda m=model, f=field: _add_column(migrator, m, f)))
                continue
            verdict = _compare(db, have[field.column_name], _expected(field))
            if verdict == "widen":
                result.steps.append((f"表 {table} 放宽列 {field.column_name} 的类型",
                                     lambda t=table, f=field: _widen(db, t, f)))
            elif verdict:
                fname = field.name[:-3] if field.name.endswith("_id") else field.name
                result.refusals.append(MigrationRefused(
                    spec.file, f"数据库中的列 {field.column_name} 与声明不一致：{verdict}。"
                               f"已拒绝迁移；如确需修改，请新建字段并迁移数据", name, fname))
        result.refusals.extend(_options_in_use(models, spec, model, have))
        for col in sorted(set(have) - declared - renamed):
            result.notes.append(f"表 {table} 的列 {col} 已不在声明中，保留不删")
        have_idx = {i.name for i in db.get_indexes(table, schema=schema_name)}
        for idx in model._meta.fields_to_index():
            idx_name = idx._name
            if idx_name not in have_idx:
                # a column added by this same plan holds only NULLs, which never clash
                known = all(getattr(c, "column_name", None) in have for c in idx._expressions)
                clashes, examples = _duplicates(model, idx) if idx._unique and known else (0, [])
                if clashes:
                    # building it would fail and stop the start; the rows are reported and the
                    # index is built by the first migration after they are put right
                    result.warnings.append(f"表 {table} 有 {clashes} 组重复的记录（{_rule_text(spec, idx_name)}），"
                                        f"唯一约束 {idx_name} 暂未建立：请核对并处理重复记录后再次迁移。"
                                        f"例如（{'、'.join(c.column_name for c in idx._expressions)}）："
                                        + "；".join("、".join(str(v) for v in row) for row in examples))
                    continue
                result.steps.append((f"表 {table} 建立索引 {idx_name}",
                                     lambda m=model, i=idx: _create_index(m, i)))
        if schema_name is not None:
            if targets is None:
                targets = _statistics_targets(db, schema_name)
            result.steps.extend(_finer_statistics(db, table, [
                c for c in _searched_by_index(spec, have) if targets.get((table, c), 100) < SEARCH_STATISTICS]))
    return result


# PostgreSQL's default 100 histogram buckets took an ID-number prefix matching 9,376 of 1,000,000
# people for 12 and tested each against the village (228 ms); with 1,000 it starts from the village
# (35 ms). ANALYZE (autovacuum) uses it from its next run.
SEARCH_STATISTICS = 1000


def _searched_by_index(spec, have):
    """Columns the list's search finds through their own index (have: the table's columns; None: a
    table this plan creates)."""
    for path in spec.search:
        if "." not in path and spec.has_field(path):
            f = spec.field(path)
            if types.get(f.type).search_indexed(f) and (have is None or f.name in have):
                yield f.name


def _finer_statistics(db, table, columns):
    return [(f"表 {table} 的列 {c} 采用更细的统计（按号码搜索时选对查询方式）",
             lambda t=table, c=c: db.execute_sql(f'ALTER TABLE "{t}" ALTER COLUMN "{c}" SET STATISTICS {SEARCH_STATISTICS}'))
            for c in columns]


def _statistics_targets(db, schema_name):
    """(table, column) → statistics target of the schema's columns that set one (-1 or NULL is the
    default of 100, left out)."""
    rows = db.execute_sql("SELECT c.relname, a.attname, a.attstattarget FROM pg_attribute a "
                          "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
                          "WHERE n.nspname = %s AND c.relkind = 'r' AND a.attnum > 0 AND a.attstattarget >= 0",
                          (schema_name,)).fetchall()
    return {(table, column): target for table, column, target in rows}


def _former_column(spec, field):
    name = field.name[:-3] if field.name.endswith("_id") and not spec.has_field(field.name) else field.name
    if not spec.has_field(name) or not spec.field(name).renamed_from:
        return None
    f = spec.field(name)
    return f.renamed_from + ("_id" if f.type in ("ref", "area") else "")


def _options_in_use(models, spec, model, have):
    """A choice whose stored codes are no longer in its option list would show raw codes and be
    emptied by the next edit: the migration is refused, naming the codes and how many rows hold them."""
    out = []
    for f in spec.fields:
        if f.type not in ("choice", "checklist") or f.name not in have or f.options not in models.registry.options:
            continue
        codes = set(models.registry.options[f.options].labels)
        col = getattr(model, f.name)
        counts = {}
        query = model.select(col, pw.fn.COUNT(pw.SQL("*"))).where(col.is_null(False) & (col != "")).group_by(col)
        if f.type == "choice":
            query = query.where(col.not_in(sorted(codes)))
        for value, n in query.tuples():
            for code in (value.split(",") if f.type == "checklist" else [value]):
                if code not in codes:
                    counts[code] = counts.get(code, 0) + n
        if counts:
            listed = "、".join(f"“{c}”{n} 行" for c, n in sorted(counts.items())[:10])
            out.append(MigrationRefused(
                spec.file, f"选项表 {f.options} 中已没有这些代码，但数据库里还有记录在用：{listed}。"
                           f"请把选项加回去（可改名称），或先把这些记录改为别的选项后再删", spec.name, f.name))
    return out


def _duplicates(model, index):
    """(how many value combinations the rows hold more than once, the first few of them)."""
    columns = list(index._expressions)
    query = model.select(*columns).group_by(*columns).having(pw.fn.COUNT(pw.SQL("*")) > 1)
    if index._where is not None:
        query = query.where(index._where)
    return query.count(), list(query.limit(5).tuples())


def _rule_text(spec, index_name):
    for rule in spec.unique_rows:
        if rule.name == index_name:
            return rule.message
    return "唯一字段的值重复"


def _add_column(migrator, model, field):
    run_ops(migrator.add_column(model._meta.table_name, field.column_name, field))
    if field.default is not None and not callable(field.default):
        model.update({field: field.default}).where(field.is_null()).execute()


def _widen(db, table, field):
    ctx = db.get_sql_context()
    ctx.sql(field.ddl_datatype(ctx))
    sql, _ = ctx.query()
    db.execute_sql(f'ALTER TABLE "{table}" ALTER COLUMN "{field.column_name}" TYPE {sql}')


def _create_index(model, index):
    # through the schema manager: SQLite refuses placeholders in a partial index's WHERE
    model._meta.database.execute(model._schema._create_index(index, safe=True))


def apply(models, the_plan=None):
    """Run a plan (computing it if not given). Refusals stop everything before any step runs."""
    the_plan = the_plan or plan(models)
    if the_plan.refusals:
        raise the_plan.refusals[0]
    with models.db.atomic():
        for _, step in the_plan.steps:
            step()
    return the_plan
