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

from casework.core import derive, heads, ref_areas, refs, scope, system, tabular
from casework.core.spill import Spill
from casework.core import sheet_layout as layout
# header_text and importable_fields are read from here by the template and the import screen
from casework.core.import_columns import (VERSION_COLUMN, ColumnMapping, Problem, header_text,  # noqa: F401
                             importable_fields, link_keys, match_key)
from casework.core.tabular import FileRejected


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


class Importer(ColumnMapping):
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
                version = _plain_text(raw_row[part.version_col])
                if re.fullmatch(r"\d+(\.0+)?", version):      # "3", or "3.0" from a cell typed as text
                    values["__version__"] = int(float(version))
            for index, f in part.columns.items():
                raw = raw_row[index] if index < len(raw_row) else ""
                if f.type in ("ref", "area"):
                    text = _plain_text(raw)
                    if not text:
                        if f.required and not self.update:
                            self.problem(part, row_no, f.label, raw, "此项为必填项")
                            bad = True
                        continue
                    values[f.name] = ("link", text)
                    continue
                if f.sensitive and "*" in _plain_text(raw):
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
                if f.default is not None and not self.update and _plain_text(raw) == "":
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

    # -- links: areas, parents in the same file or in the database, all within the user's scope
    def _group_flat(self, parts):
        """A flat roster's rows with the same household cells are one household: its first row is
        the household, and every row is one member of it. A roster without 户主 columns starts a
        household at each row whose relation is 户主 (or 本人) and takes the head from that row."""
        main = next((p for p in parts if p.flat), None)
        child = next((p for p in parts if p.flat_of is main), None) if main else None
        if not main or not child:
            return
        back = self._back_ref(child.spec)
        first, kept = {}, Spill()
        household_of = {}
        heads_of = self._head_rows(main, child) if main.head_from_members else None
        for row in main.rows.view():
            row_no, _, raw, _ = row
            if heads_of is not None:
                key = heads_of.get(row_no)
                if key is None:
                    continue        # rows above the first 户主 row: reported by _head_rows
            else:
                key = tuple(_plain_text(raw[c] if c < len(raw) else "") for c in sorted(main.columns))
            if key not in first:
                first[key] = row_no
                kept.append(row)
            household_of[row_no] = first[key]
        main.rows = kept
        head_relation = self.spec.head["relation"] if self.spec.head else None
        for row_no, values, _, _ in child.rows:
            if row_no in household_of:
                values[back.name] = ("row", household_of[row_no])
            if head_relation and values.get("relation") in self.HEAD_WORDS:
                values["relation"] = head_relation      # 本人 on a household's roster is its head

    HEAD_WORDS = ("01",)        # 本人: the head as some rosters write it, besides the declared relation

    def _head_rows(self, main, child):
        """{row number: number of the row of its 户主} for a roster that names the head only by the
        relation column; the household's head name and ID come from that row."""
        head = self.spec.head
        wanted = {head["relation"], *self.HEAD_WORDS}
        out, current = {}, None
        by_row = {row_no: values for row_no, values, _, _ in main.rows}
        orphans = []
        for row_no, values, _, bad in child.rows:
            if values.get("relation") in wanted:
                current = row_no
                values["relation"] = head["relation"]          # 本人 is the head: stored as 户主
                household = by_row.get(row_no)
                if household is not None:
                    household[head["name"]] = values.get("name")
                    household[head["id"]] = values.get("id_number")
            if current is None:
                orphans.append(row_no)
                continue
            out[row_no] = current
        if orphans:
            shown = "、".join(str(n) for n in orphans[:10])
            self.problem(main, orphans[0], "与户主关系", "",
                         f"第{shown}行在第一个户主之前：一行一人的花名册没有户主列时，每户从与户主关系为“户主”"
                         f"或“本人”的一行开始，请把户主放在本户各成员之前")
        return out

    def _number(self, main):
        """Household numbers for a roster that has none: the village code and a serial, after the
        highest number already given in that village."""
        f = main.generated
        model = self.models[main.spec.name]
        area_field = next((a for a in main.spec.fields if a.type == "area"), None)
        Area = self.models["area"]
        serial = {}
        for row_no, values, _, bad in main.rows:
            if values.get(f.name) or not area_field or not isinstance(values.get(area_field.name), int):
                continue
            village = values[area_field.name]
            if village not in serial:
                code = Area.get_by_id(village).code
                taken = [c for (c,) in model.select(getattr(model, f.name))
                         .where(getattr(model, f.name).startswith(code + "-")).tuples()]
                numbers = [int(c.rsplit("-", 1)[1]) for c in taken if c.rsplit("-", 1)[1].isdigit()]
                serial[village] = [code, max(numbers, default=0)]
            serial[village][1] += 1
            values[f.name] = f"{serial[village][0]}-{serial[village][1]:04d}"

    def _check_links(self, parts):
        main = next((p for p in parts if p.spec is self.spec), None)
        linked = {}                 # part → the fields some row names by text: one read of the rows
        for part in parts:
            names = linked[id(part)] = set()
            for _, values, _, _ in part.rows.view():
                names.update(k for k, v in values.items() if isinstance(v, tuple))
        for part in parts:
            for f in part.spec.fields:
                if f.type == "area" and f.name in linked[id(part)]:
                    self._resolve_areas(part, f)
        if main and main.generated:
            self._number(main)
        if main:
            keys = link_keys(self.spec)
            for row_no, values, _, bad in main.rows.view():
                for key in keys:
                    if values.get(key.name) is not None:
                        main.keys.setdefault((key.name, values[key.name]), row_no)
        for part in parts:
            back = self._back_ref(part.spec)
            if back:
                self._resolve_parents(part, back, main)
            for f in part.spec.fields:
                if f.type == "ref" and f is not back and f.name in linked[id(part)]:
                    self._resolve_refs(part, f)
                    self._check_ref_areas(part, f, back, main)

    def _check_ref_areas(self, part, f, back, main):
        """A resolved reference of another township is refused here too: rows with a unique key are
        written in bulk, without the save hook that refuses it (casework/core/ref_areas.py)."""
        if ref_areas.level(self.models) is None:
            return
        # the household rows only when member rows point at them (their area is the member's)
        main_rows = {row_no: values for row_no, values, _, _ in main.rows} if main and back else {}
        column = next((i for i, c in part.columns.items() if c is f), None)
        memo = {}           # each area and each referenced row looked up once for the whole file
        for row_no, values, raw_row, _ in part.rows:
            target = values.get(f.name)
            if not isinstance(target, int):
                continue
            own = None
            link = values.get(back.name) if back else None
            if isinstance(link, tuple) and link[0] == "row" and link[1] in main_rows:
                own = ref_areas.area_of(self.models, main.spec, main_rows[link[1]])
            message = ref_areas.problem_of(self.models, part.spec, f, values, target, own_area=own, memo=memo)
            if message:
                typed = raw_row[column] if column is not None and column < len(raw_row) else target
                self.problem(part, row_no, f.label, typed, message)

    def _resolve_areas(self, part, f):
        Area = self.models["area"]
        q = scope.scoped(self.models, "area", self.user)
        if f.level:
            q = q.where(Area.level == f.level)
        by_code, by_name = {}, {}
        for a in q.select(Area.id, Area.code, Area.name).tuples():
            by_code[a[1]] = a[0]
            by_name.setdefault(a[2], []).append(a[0])
        level = self.registry.options["area_level"].label_of(f.level) if f.level else "区划"
        for row_no, values, _, _ in part.rows:
            link = values.get(f.name)
            if not isinstance(link, tuple):
                continue
            text = link[1]
            if text in by_code:
                values[f.name] = by_code[text]
            elif len(by_name.get(text, [])) == 1:
                values[f.name] = by_name[text][0]
            elif by_name.get(text):
                self.problem(part, row_no, f.label, text, f"有多个名为“{text}”的{level}，请改填区划代码")
                values.pop(f.name)
            else:
                self.problem(part, row_no, f.label, text, f"“{text}”不是您管辖范围内的{level}（可填名称或区划代码）")
                values.pop(f.name)

    def _resolve_parents(self, part, back, main):
        keys = link_keys(self.spec)
        wanted = {values[back.name][1] for _, values, _, _ in part.rows.view()
                  if isinstance(values.get(back.name), tuple) and values[back.name][0] == "link"}
        if not wanted:
            return                  # every row's parent is a row of this file (a flat roster): nothing to look up
        in_db = refs.lookup(self.models, self.spec.name, self.user, wanted)
        for row_no, values, _, _ in part.rows:
            link = values.get(back.name)
            if not isinstance(link, tuple) or link[0] != "link":
                continue
            text = link[1]
            in_file = next((main.keys[(k.name, text)] for k in keys if main and (k.name, text) in main.keys), None)
            if in_file is not None:
                values[back.name] = ("row", in_file)
            elif len(in_db.get(text, [])) == 1:
                values[back.name] = in_db[text][0]
            else:
                self.problem(part, row_no, back.label, text,
                             f"找不到{self.spec.label}“{text}”：它既不在本文件的“{self.spec.label}”表中，"
                             f"也不是您管辖范围内已有的{self.spec.label}")
                values.pop(back.name)

    def _resolve_refs(self, part, f):
        """A reference cell names a row of the user's scope by a unique code, an ID number or the
        title the export writes ("DEMO-001 张三")."""
        texts = {v[f.name][1] for _, v, _, _ in part.rows.view() if isinstance(v.get(f.name), tuple)}
        found = refs.lookup(self.models, f.to, self.user, texts)
        target = self.registry.entities[f.to]
        for row_no, values, _, _ in part.rows:
            link = values.get(f.name)
            if not isinstance(link, tuple):
                continue
            ids = found.get(link[1], [])
            if len(ids) == 1:
                values[f.name] = ids[0]
                continue
            values.pop(f.name)
            if ids:
                self.problem(part, row_no, f.label, link[1], f"有{len(ids)}条{target.label}都叫“{link[1]}”，"
                                                             f"请改填{refs.how_to_name(target)}")
            else:
                self.problem(part, row_no, f.label, link[1], f"找不到{target.label}“{link[1]}”：它不是您管辖范围内"
                                                             f"已有的{target.label}（可填{refs.how_to_name(target)}）")

    # -- unique values: within the file and against live rows in the database
    def _check_unique(self, parts):
        for part in parts:
            model = self.models[part.spec.name]
            key = match_key(part.spec) if self.update else None
            unique = [f for f in part.spec.fields if f.unique]
            firsts, repeats = {f.name: {} for f in unique}, {f.name: [] for f in unique}
            for row_no, values, _, _ in part.rows.view():        # one read of the rows for every unique field
                for f in unique:
                    v = values.get(f.name)
                    if v is None:
                        continue
                    first = firsts[f.name]
                    if v in first:
                        repeats[f.name].append((row_no, v, first[v]))
                    else:
                        first[v] = row_no
            for f in unique:
                first = firsts[f.name]
                for row_no, v, earlier in repeats[f.name]:
                    self.problem(part, row_no, f.label, v, f"与第{earlier}行重复：{f.unique_message or '此项不能重复'}")
                existing = self._existing(model, f, list(first))
                for v, row_no in first.items():
                    if v not in existing:
                        if key is f:
                            self.problem(part, row_no, f.label, v, f"找不到要更新的记录（{f.label} {v}），"
                                                                   f"或它不在您的管辖范围内")
                        continue
                    if key is f:
                        if not existing[v][1]:
                            self.problem(part, row_no, f.label, v, f"{f.label} {v} 的记录不在您的管辖范围内")
                        continue
                    mine = self._row_target(part, row_no)
                    if existing[v][0] != mine:
                        self.problem(part, row_no, f.label, v, f.unique_message or f"{f.label} {v} 已被使用")

    def _existing(self, model, f, values):
        """value → (record id, within the user's scope) for live rows holding one of `values`."""
        col = getattr(model, f.name)
        out = {}
        for start in range(0, len(values), 500):
            chunk = values[start:start + 500]
            q = model.select(model.id, col).where(col.in_(chunk))
            if model._spec.archive:
                q = q.where(model.archived == False)  # noqa: E712
            rows = list(q.tuples())
            mine = {rid for (rid,) in scope.scoped(self.models, model._spec.name, self.user)
                    .select(model.id).where(col.in_(chunk)).tuples()}
            for rid, value in rows:
                out[value] = (rid, rid in mine)
        return out

    def _row_target(self, part, row_no):
        if not self.update:
            return None
        key = match_key(part.spec)
        for r, values, _, _ in part.rows.view():
            if r == row_no:
                found = self._existing(self.models[part.spec.name], key, [values.get(key.name)])
                return found.get(values.get(key.name), (None,))[0]
        return None

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


def _plain_text(raw):
    if raw is None:
        return ""
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    return str(raw).strip()




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
