"""Excel import: every row is validated before anything is written; then all rows, or none.

One workbook may carry an entity and its inline children (a household sheet and a member sheet);
sheets are found by the entities' Chinese names, columns by the fields' Chinese names (a trailing
* marks required columns in templates). Rules are the same as the forms': the field types parse
the cells, the derivation rules check sex and birth date against the ID number, the row scope
decides which villages and households a user may import into.
"""
import json
import re
import uuid
from dataclasses import dataclass, field

from schema import clock, RecordInvalid, StaleRecord, types
from schema.models import insert_rows
from schema.resolve import DisplayContext

from casework.core import derive, heads, system, tabular
from casework.core.spill import Spill
from casework.core import sheet_layout as layout
# header_text and importable_fields are read from here by the template and the import screen
from casework.core.import_columns import (VERSION_COLUMN, ColumnMapping, Problem, header_text,  # noqa: F401
                                          importable_fields, link_keys, match_key, plain_text)
from casework.core.tabular import FileRejected
from casework.core.import_flat import FlatRoster
from casework.core.import_links import LinkResolver
from casework.core.import_unique import UniqueCheck


@dataclass
class Outcome:
    entity: str
    filename: str
    batch: str
    update: bool
    dry_run: bool
    rows: int = 0
    created: int = 0
    updated: int = 0
    problems: list = field(default_factory=list)
    notices: list = field(default_factory=list)      # what was ignored or left alone, said to the user
    unchanged: int = 0                               # update mode: rows whose cells all equal the record
    mapping: list = field(default_factory=list)      # (sheet, entity, [(column, header, field)]) proposed
    committed: bool = False
    sheets: list = field(default_factory=list)      # (sheet name, entity, header, [(row no, cells)]) for error files

    @property
    def ok(self):
        return not self.problems


def not_importable(registry, entity_name):
    """Why an entity cannot be imported, or None. Users carry passwords and roles; a case and its
    steps come into being through the workflow, one signed step at a time."""
    if entity_name == "user":
        return "用户须由管理员逐个建立，不能导入"
    if registry.entities[entity_name].no_import:
        return registry.entities[entity_name].no_import
    if any(wf.entity == entity_name for wf in registry.workflows.values()):
        return "救助事项须逐件受理登记，由办理流程留下每一步的记录，不能批量导入"
    if not any(f.type != "password" and not f.readonly and not f.hidden for f in registry.entities[entity_name].fields):
        return "该表由系统写入，不能导入"
    return None


class ImportRefused(Exception):
    """A rule refused a row while writing: the transaction is rolled back, the problems say why."""


class Importer(FlatRoster, LinkResolver, UniqueCheck, ColumnMapping):
    def __init__(self, engine, entity_name, user, update=False, mapping=None, fixed=None):
        """fixed: {field: value} every row has (a department's own results file names the department
        once, on the command line); a row whose cell says otherwise is a problem, not overwritten."""
        self.engine, self.models, self.registry = engine, engine.models, engine.registry
        self.fixed = dict(fixed or {})
        self.spec = self.registry.entities[entity_name]
        self.children = [self.registry.entities[c] for c in self.spec.inline]
        self.user, self.update = user, update
        self.mapping = mapping          # {entity: {column index or header: field name}} the user chose
        self.ctx = DisplayContext(self.registry)
        self.problems = []
        self.notices = []

    # -- entry point
    def run(self, data, filename, dry_run=False, progress=None):
        """data: the file's bytes, or the path of the saved upload (read a row at a time)."""
        outcome = Outcome(entity=self.spec.name, filename=filename or "", batch=uuid.uuid4().hex[:12],
                          update=self.update, dry_run=dry_run)
        try:
            limits = tabular.limits(self.engine.settings)
            sheets = (tabular.open_path(data, filename, limits) if isinstance(data, str)
                      else tabular.read(data, filename, limits))
            parts = self._map_sheets(sheets)
            if not self.problems:
                for part in parts:
                    self._parse_rows(part, progress)
                self._group_flat(parts)
                self._check_links(parts)
                self._check_unique(parts)
        except FileRejected as e:
            self.problems.append(Problem("", 0, "", "", str(e)))
            parts = []
        outcome.problems = sorted(self.problems, key=lambda p: (p.sheet, p.row))
        outcome.notices = self.notices
        outcome.rows = sum(len(p.rows) for p in parts)
        by_sheet = {}
        for p in parts:             # a flat roster is one sheet read twice: keep it once, with every row
            entry = (p.sheet.name, p.spec, p.header, DataRows(p))
            if p.sheet.name not in by_sheet or len(entry[3]) > len(by_sheet[p.sheet.name][3]):
                by_sheet[p.sheet.name] = entry
        outcome.sheets = list(by_sheet.values())
        outcome.mapping = [(p.sheet.name, p.spec.name, p.proposal) for p in parts]
        if outcome.ok and outcome.rows == 0:
            outcome.problems.append(Problem("", 0, "", "", "文件中没有数据行（表头下面应是一行一条记录）"))
        saved_one_by_one = self.update or any(not link_keys(p.spec) for p in parts)
        if outcome.ok and (not dry_run or saved_one_by_one):
            try:
                self._commit(parts, outcome, progress, rehearse=dry_run)
            except ImportRefused:
                outcome.created = outcome.updated = 0
                outcome.problems = sorted(self.problems, key=lambda p: (p.sheet, p.row))
        self._record_history(outcome)
        return outcome

    def problem(self, part, row, column, value, message):
        self.problems.append(Problem(part.sheet.name if part else "", row, column, value, message))

    # -- rows
    def _parse_rows(self, part, progress):
        model = self.models[part.spec.name]
        total = len(part.sheet.rows) - part.start
        masked = 0
        key = match_key(part.spec) if self.update else None
        skipped = {}
        part.rows = Spill()
        for offset, raw_row in enumerate(filled_rows(part.sheet, part.start)):
            row_no = part.start + offset + 1
            if not any(str(c).strip() for c in raw_row if c is not None):
                continue
            reason = "隐藏行" if row_no in part.sheet.hidden else layout.skip_reason(raw_row)
            if reason:
                skipped.setdefault(reason, []).append(row_no)
                continue
            values, bad = {}, False
            if not self.update:
                for f in part.defaults:
                    values[f.name] = types.get(f.type).parse(f.default, f, self.ctx)
                values.update(part.given)
            if self.update and part.version_col is not None and part.version_col < len(raw_row):
                version = plain_text(raw_row[part.version_col])
                if re.fullmatch(r"\d+(\.0+)?", version):      # "3", or "3.0" from a cell typed as text
                    values["__version__"] = int(float(version))
            for index, f in part.columns.items():
                raw = raw_row[index] if index < len(raw_row) else ""
                if f.type in ("ref", "area"):
                    text = plain_text(raw)
                    if not text:
                        if f.required and not self.update:
                            self.problem(part, row_no, f.label, raw, "此项为必填项")
                            bad = True
                        continue
                    values[f.name] = ("link", text)
                    continue
                if f.sensitive and "*" in plain_text(raw):
                    if self.update and f is key:
                        self.problem(part, row_no, f.label, raw, f"{f.label}是导出时打码的号码，不能用来找到要更新的"
                                                                 f"记录：请用能查看完整号码的账号导出，或填写完整号码")
                        bad = True
                        continue
                    if self.update:
                        masked += 1
                        continue    # the export hid it from this user: the stored number stays
                    self.problem(part, row_no, f.label, raw, "这是导出时打码的号码，不能导入：请填写完整号码")
                    bad = True
                    continue
                if f.default is not None and not self.update and plain_text(raw) == "":
                    raw = f.default         # a blank cell of a field with a default takes the default
                try:
                    value = types.get(f.type).parse(raw, f, self.ctx)
                except types.CellError as e:
                    self.problem(part, row_no, f.label, raw, str(e))
                    bad = True
                    continue
                if value is None and self.update:
                    continue        # an empty cell leaves the stored value alone
                if value is None and f.default is not None:
                    # a new row from a workbook starts from the declared default, as a form's does
                    value = types.get(f.type).coerce(f.default, f)
                values[f.name] = value
            for name, value in self.fixed.items():
                if values.get(name) not in (None, value):
                    f = part.spec.field(name)
                    shown = types.get(f.type).display(value, f, self.ctx)
                    self.problem(part, row_no, f.label, types.get(f.type).display(values[name], f, self.ctx),
                                 f"本次导入的是“{shown}”的{f.label}，这一行不是：不同{f.label}的行请分开导入")
                    bad = True
                values[name] = value
            if key and not bad and values.get(key.name) is None:
                self.problem(part, row_no, key.label, "", f"更新模式须填写{key.label}，才能找到要更新的记录")
                bad = True
            if not self.update:
                # fields the workbook has no column for (a status the rules keep) start from their default too
                for f in part.spec.fields:
                    if f.name not in values and f.default is not None and not f.derive:
                        values[f.name] = types.get(f.type).coerce(f.default, f)
            if not bad:
                probe = model(**{k: v for k, v in values.items() if not isinstance(v, tuple)})
                try:
                    derive.run_record_rules(self.models, probe)
                except RecordInvalid as e:
                    for name, message in e.errors.items():
                        self.problem(part, row_no, part.spec.field(name).label, values.get(name), message)
                    bad = True
                else:
                    for fn, f in self.models.derive_rules.get(part.spec.name, []):
                        if values.get(f.name) is None and probe.__data__.get(f.name) is not None:
                            values[f.name] = probe.__data__[f.name]
            part.rows.append((row_no, values, raw_row, bad))
            if progress and offset % 2000 == 0:
                progress("校验", offset, total)
        for reason, numbers in skipped.items():
            shown = "、".join(str(n) for n in numbers[:10]) + ("等" if len(numbers) > 10 else "")
            self.notices.append(f"“{part.sheet.name}”表中的{reason}不导入：第{shown}行（共 {len(numbers)} 行）")
        if masked:
            self.notices.append(f"“{part.sheet.name}”表中有 {masked} 个打码的号码（导出时按您的权限隐藏），保留原值不改")

    # -- writing: one transaction, audited under the import batch
    def _commit(self, parts, outcome, progress, rehearse=False):
        """rehearse: write and roll back, so a check meets the rules that only saving runs."""
        token = system.batch.set(outcome.batch)
        try:
            with self.engine.db.atomic() as txn:
                for part in parts:
                    if part.spec is self.spec:
                        self._write(part, outcome, progress, parent_rows={})
                main = next(p for p in parts if p.spec is self.spec)
                parent_rows = main.ids
                for part in parts:
                    if part.spec is not self.spec:
                        self._write(part, outcome, progress, parent_rows)
                heads_refused = self._settle_heads(main, parent_rows, outcome)
                if rehearse or heads_refused:
                    txn.rollback()
                    outcome.created = outcome.updated = 0
                    return
            outcome.committed = True
        finally:
            system.batch.reset(token)

    def _settle_heads(self, main, parent_rows, outcome):
        """Each household's head becomes its member (casework/core/heads.py); True if one cannot."""
        refused, added = heads.settle_rows(self.models, self.spec.name, sorted(parent_rows.items()))
        outcome.created += added              # heads registered as their household's members
        if not refused:
            return False
        label = self.spec.field(self.spec.head["id"]).label
        for row_no, message in refused:
            self.problem(main, row_no, label, "", message)
        outcome.problems = sorted(self.problems, key=lambda p: (p.sheet, p.row))
        outcome.created = outcome.updated = 0
        return True

    def _write(self, part, outcome, progress, parent_rows):
        """Each row's record id goes into part.ids (row number → id): its children link to it."""
        back = self._back_ref(part.spec)
        part.ids = {}

        def each():                 # (row number, values, data to write), one at a time
            for row_no, values, _, _ in part.rows.view():
                data = {k: v for k, v in values.items() if k not in ("__id__", "__version__")}
                if back and isinstance(data.get(back.name), tuple):
                    data[back.name] = parent_rows[data[back.name][1]]
                yield row_no, values, data
        rows = Rows(each, len(part.rows))
        if self.update:
            self._update_rows(part, rows, outcome, progress)
        elif link_keys(part.spec):
            self._insert_rows(part, rows, outcome, progress)
        else:
            self._save_rows(part, rows, outcome, progress)

    def _save_rows(self, part, rows, outcome, progress):
        """Tables without a unique key (bank cards, in-care rows…) are registers whose save hooks keep
        rules (one active card per household, the roster's start month): each row is saved as a form
        would save it. A row a rule refuses stops the whole file."""
        model = self.models[part.spec.name]
        then = getattr(self.models, "after_import", {}).get(part.spec.name)
        for i, (row_no, values, data) in enumerate(rows):
            self._save_one(part, row_no, model(**data), values, data, then)
            outcome.created += 1
            if progress and i % 2000 == 0:
                progress("写入", i, len(rows))

    def _update_rows(self, part, rows, outcome, progress):
        """Few rows as a rule: each goes through save(), so hooks audit and recompute as in a form."""
        model = self.models[part.spec.name]
        key = getattr(model, match_key(part.spec).name)
        for i, (row_no, values, data) in enumerate(rows):
            q = model.select().where(key == data[key.name])
            if part.spec.archive:
                q = q.where(model.archived == False)  # noqa: E712
            record = q.get()
            changed = {name: value for name, value in data.items()
                       if _stored(model, name, value) != _stored(model, name, record.__data__.get(name))}
            part.ids[row_no] = record.id
            if not changed:
                outcome.unchanged += 1      # an exported row sent back as it was: not saved, not audited
                continue
            for name, value in changed.items():
                setattr(record, name, value)
            if part.spec.versioned:
                record.expect_version(values.get("__version__"))
            self._save_one(part, row_no, record, values, data)
            outcome.updated += 1
            if progress and i % 2000 == 0:
                progress("写入", i, len(rows))

    def _save_one(self, part, row_no, record, values, data, then=None):
        """then: the rule a new row of this table goes through once saved (the roster's 新增)."""
        try:
            record.save()
            if then:
                then(record)
        except RecordInvalid as e:
            for name, message in e.errors.items():
                label = part.spec.field(name).label if part.spec.has_field(name) else ""
                self.problem(part, row_no, label, data.get(name), message)
            raise ImportRefused() from None
        except StaleRecord:
            who, at = system.last_change(self.engine.system, part.spec.name, record.id)
            self.problem(part, row_no, VERSION_COLUMN, values.get("__version__"),
                         f"导出之后，{who or '其他用户'}{f' 于 {at:%Y-%m-%d %H:%M}' if at else ''} 修改了这条记录："
                         f"为免覆盖别人的修改，请重新导出后在新文件中修改再导入")
            raise ImportRefused() from None
        part.ids[row_no] = record.id

    def _insert_rows(self, part, rows, outcome, progress, chunk=400):
        """New rows in batches. The rules a save's hooks would run were run while checking; what the
        hooks would write afterwards (audit rows, parents' derived fields) is written here in bulk."""
        model = self.models[part.spec.name]
        now = clock.now()
        key = link_keys(part.spec)[0] if link_keys(part.spec) else None
        AuditLog = self.engine.system.AuditLog
        who = system.actor.get() or (None, None, None)
        columns = sorted({name for _, _, data in rows for name in data})
        refs_of = {a[3].name: set() for a in self.models.derive_aggregates.get(part.spec.name, [])}
        done = 0
        for batch in rows.batches(chunk):
            records = [dict({c: data.get(c) for c in columns}, created_at=now, updated_at=now) for _, _, data in batch]
            if part.spec.archive:
                for r in records:
                    r["archived"] = False
            insert_rows(model, records, list(records[0]))
            keyed = {data[key.name]: row_no for row_no, _, data in batch}
            q = model.select(model.id, getattr(model, key.name)).where(getattr(model, key.name).in_(list(keyed)))
            if part.spec.archive:
                q = q.where(model.archived == False)  # noqa: E712
            for rid, value in q.tuples():
                part.ids[keyed[value]] = rid
            audit = [{"at": now, "user_id": who[0], "username": who[1], "ip": who[2], "entity": part.spec.name,
                      "record_id": part.ids[row_no], "action": "create", "batch": outcome.batch,
                      "changes": json.dumps(system.diff(part.spec, None, data), ensure_ascii=False)}
                     for row_no, _, data in batch]
            insert_rows(AuditLog, audit, list(audit[0]))
            for ref_name, seen in refs_of.items():
                seen.update(data.get(ref_name) for _, _, data in batch)
            outcome.created += len(batch)
            done += len(batch)
            if progress:
                progress("写入", done, len(rows))
        for ref_name, seen in refs_of.items():
            derive.recompute(self.models, part.spec.name, sorted(seen - {None}))

    def _record_history(self, outcome):
        result = "已导入" if outcome.committed else ("预检通过" if outcome.ok and outcome.dry_run else "未导入")
        user = self.user
        self.engine.system.ImportBatch.create(
            batch=outcome.batch, at=clock.now(),
            user_id=user.id if user else None, username=user.username if user else "命令行",
            entity=self.spec.name, filename=outcome.filename[:200], rows=outcome.rows, created=outcome.created,
            updated=outcome.updated, errors=len(outcome.problems), mode="更新" if self.update else "新增",
            result=result)


def _stored(model, name, value):
    """A value as the database holds it, so 600 and 600.00, or a date and its datetime, compare equal."""
    f = model._meta.fields[name]
    if value is None:
        return None
    try:
        return f.python_value(f.db_value(value))
    except (TypeError, ValueError):
        return value






class Rows:
    """The rows a write goes through, made again from the spilled rows at each pass."""

    def __init__(self, make, count):
        self.make, self.count = make, count

    def __iter__(self):
        return self.make()

    def __len__(self):
        return self.count

    def batches(self, size):
        batch = []
        for row in self.make():
            batch.append(row)
            if len(batch) == size:
                yield batch
                batch = []
        if batch:
            yield batch


class DataRows:
    """(row number, cells) of a part's rows read as data, for the error workbook and the preview;
    all rows below the header when the header itself was refused (the error workbook keeps them).
    Read from the spilled rows, or the sheet, when asked."""

    def __init__(self, part):
        self.part = part
        self.count = len(part.rows) if part.rows else sum(1 for _ in self._sheet_rows())

    def _sheet_rows(self):
        for i, row in enumerate(filled_rows(self.part.sheet, self.part.start), self.part.start):
            if any(str(c).strip() for c in row if c is not None):
                yield i + 1, row

    def __iter__(self):
        if self.part.rows:
            return ((row_no, raw) for row_no, _, raw, _ in self.part.rows.view())
        return self._sheet_rows()

    def __len__(self):
        return self.count

    def __getitem__(self, key):
        return tabular._item(self, key)


def filled_rows(sheet, start):
    """The sheet's rows from index `start`, in a flat roster each row that leaves the household
    columns blank taking them from the household row above it (import_columns._map_flat)."""
    fill = getattr(sheet, "fill_down", None)
    if not fill:
        yield from tabular.rows_from(sheet.rows, start)
        return
    first, columns = fill
    previous = None
    for i, row in enumerate(tabular.rows_from(sheet.rows, start), start):
        if i < first or not any(str(c).strip() for c in row if c is not None) or i + 1 in sheet.hidden \
                or layout.skip_reason(row):
            yield row
            continue
        if all(str(row[c] if c < len(row) and row[c] is not None else "").strip() == "" for c in columns):
            if previous is not None:
                for c in columns:
                    if c < len(previous):
                        row.extend([""] * max(0, c + 1 - len(row)))
                        row[c] = previous[c]
        else:
            previous = row
        yield row
