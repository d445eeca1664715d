"""Excel import: every row is validated before anything is written; then all rows, or none.

One workbook may carry an entity and its inline children (a household sheet and a member sheet);
sheets are found by the entities' Chinese names, columns by the fields' Chinese names (a trailing
* marks required columns in templates). Rules are the same as the forms': the field types parse
the cells, the derivation rules check sex and birth date against the ID number, the row scope
decides which villages and households a user may import into.
"""
import datetime as dt
import json
import re
import uuid
from dataclasses import dataclass, field

from schema import RecordInvalid, StaleRecord, types
from schema.models import insert_rows
from schema.resolve import DisplayContext

from . import derive, heads, refs, scope, system, tabular
from . import sheet_layout as layout
from .tabular import FileRejected


@dataclass
class Problem:
    sheet: str
    row: int            # 1-based as Excel shows it; 0 for the file as a whole
    column: str         # the header (Chinese) or ""
    value: object
    message: str


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


@dataclass
class Part:
    """One sheet mapped onto one entity."""
    spec: object
    sheet: tabular.Sheet
    columns: dict                    # column index → field spec
    rows: list = field(default_factory=list)          # (row number, {field: value}, raw row)
    keys: dict = field(default_factory=dict)          # key value → row number (for links and duplicates)
    defaults: list = field(default_factory=list)      # fields with a default and no column in the sheet
    start: int = 1                                    # index of the first data row (below the header)
    header: list = field(default_factory=list)        # the header cells (two header rows combined)
    proposal: list = field(default_factory=list)      # (column index, header, field name or "") shown to the user
    unmapped: list = field(default_factory=list)      # columns that belong to the inline child (a flat roster?)
    given: dict = field(default_factory=dict)         # field → value for every row (the user's village)
    generated: object = None                          # a unique code field the importer numbers
    flat: bool = False                                # one sheet with one row per child
    flat_of: object = None                            # the parent part of a flat roster's child part
    version_col: int | None = None   # the export's 版本 column: update mode refuses rows changed since


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


def importable_fields(spec):
    return [f for f in spec.fields if f.user_writable and f.type != "password"]


# Columns the system's own export and error workbook write that no import takes from the user
VERSION_COLUMN = "版本"
SYSTEM_COLUMNS = {"创建时间": "系统记录", "修改时间": "系统记录", "错误原因": "上次导入的错误说明",
                  VERSION_COLUMN: "记录版本，更新时用来发现导出后已被别人修改的行"}


def ignored_columns(spec, update):
    """Header → why an import ignores it: read-only and derived fields (rules write them), the time
    stamps of an export, the reason column of an error workbook, and in update mode fixed fields."""
    out = dict(SYSTEM_COLUMNS)
    for f in spec.fields:
        if f.type == "password":
            continue
        reason = None
        if not f.user_writable:
            reason = "由系统推导" if f.derive else "由系统按规则填写"
        elif update and f.fixed:
            reason = "受理后不能通过导入更改"
        if reason:
            for name in (f.label, header_text(f)):
                out.setdefault(name, reason)
    return out


def header_text(f):
    return f.label + ("*" if f.required else "")


def match_key(spec):
    """Which field finds the existing record in update mode: the declared import_key, else a unique
    ID number, else a unique code."""
    if spec.import_key:
        return spec.field(spec.import_key)
    uniques = [f for f in spec.fields if f.unique]
    for f in uniques:
        if f.type == "id_card":
            return f
    return uniques[0] if uniques else None


link_keys = refs.key_fields


class ImportRefused(Exception):
    """A rule refused a row while writing: the transaction is rolled back, the problems say why."""


class Importer:
    def __init__(self, engine, entity_name, user, update=False, mapping=None):
        self.engine, self.models, self.registry = engine, engine.models, engine.registry
        self.spec = self.registry.entities[entity_name]
        self.children = [self.registry.entities[c] for c in self.spec.inline]
        self.user, self.update = user, update
        self.mapping = mapping          # {entity: {column index or header: field name}} the user chose
        self.ctx = DisplayContext(self.registry)
        self.problems = []
        self.notices = []

    # -- entry point
    def run(self, data, filename, dry_run=False, progress=None):
        outcome = Outcome(entity=self.spec.name, filename=filename or "", batch=uuid.uuid4().hex[:12],
                          update=self.update, dry_run=dry_run)
        try:
            sheets = tabular.read(data, filename, tabular.limits(self.engine.settings))
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
            entry = (p.sheet.name, p.spec, p.header, self._data_rows(p))
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

    @staticmethod
    def _data_rows(part):
        """(row number, cells) of the rows read as data; all rows below the header when the header
        itself was refused (the error workbook must keep them)."""
        if part.rows:
            return [(row_no, raw) for row_no, _, raw, _ in part.rows]
        return [(i + 1, row) for i, row in enumerate(part.sheet.rows[part.start:], part.start)
                if any(str(c).strip() for c in row if c is not None)]

    def problem(self, part, row, column, value, message):
        self.problems.append(Problem(part.sheet.name if part else "", row, column, value, message))

    # -- sheets and headers
    def _map_sheets(self, sheets):
        targets = [self.spec] + self.children
        by_name = {s.name.strip(): s for s in sheets}
        parts = []
        for spec in targets:
            sheet = by_name.get(spec.label) or by_name.get(spec.name)
            if sheet is None and spec is self.spec and (len(sheets) == 1 or not self.children):
                sheet = sheets[0]       # a CSV, or a workbook for one entity: its first sheet
            if sheet is None:
                if spec is self.spec:
                    names = "、".join(s.name for s in sheets)
                    self.problems.append(Problem("", 0, "", "", f"找不到名为“{spec.label}”的工作表（文件中的工作表：{names}）"))
                continue
            part = self._map_header(spec, sheet)
            if part:
                parts.append(part)
        if len(parts) == 1 and parts[0].unmapped:
            flat = self._map_flat(parts[0], sheets)
            if flat:
                parts.append(flat)
            else:
                main = parts[0]
                self.notices.append(f"“{main.sheet.name}”表中这些列没有对应的字段，不导入："
                                    + "、".join(layout.normal(main.header[i]) for i in main.unmapped))
        seen = set()
        self.notices = [n for n in self.notices if not (n in seen or seen.add(n))]
        return parts

    def _map_flat(self, main, sheets):
        """One sheet, one row per member, household columns repeated or merged down: the members
        become the household's inline child rows."""
        child = self.children[0]
        if any(s.name.strip() in (child.label, child.name) for s in sheets):
            return None
        names = self._column_names(child)
        taken = set(main.columns)
        hits = [i for i, raw in enumerate(main.header) if i not in taken and layout.lookup(raw, names)[0]]
        key = next((f for f in link_keys(child) if f.type == "id_card"), None)
        if not key or not any(layout.lookup(main.header[i], names)[0] is key for i in hits):
            return None
        part = self._map_header(child, main.sheet, others=main)
        part.flat_of = main
        main.flat = True
        # rows that leave the household columns blank belong to the household above them
        previous = None
        for i in range(main.start, len(main.sheet.rows)):
            row = main.sheet.rows[i]
            if not any(str(c).strip() for c in row if c is not None) or i + 1 in main.sheet.hidden \
                    or layout.skip_reason(row):
                continue
            if all(str(row[c] if c < len(row) and row[c] is not None else "").strip() == "" for c in main.columns):
                if previous is not None:
                    for c in main.columns:
                        if c < len(previous):
                            row.extend([""] * max(0, c + 1 - len(row)))
                            row[c] = previous[c]
            else:
                previous = row
        self.notices.append(f"“{main.sheet.name}”是一行一人的花名册：按{self.spec.label}的列把各行归到同一户，"
                            f"每行导入为一名{child.label}")
        return part

    def _map_header(self, spec, sheet, others=None):
        """others: the part of the other entity read from the same sheet (a flat roster): its
        columns count for finding the header and are not reported as unmapped here."""
        rows = sheet.rows
        if not any(any(str(c).strip() for c in r if c is not None) for r in rows):
            self.problems.append(Problem(sheet.name, 0, "", "", "工作表是空的"))
            return None
        part = Part(spec=spec, sheet=sheet, columns={})
        names = self._column_names(spec)
        ignorable = {layout.normal(k): v for k, v in ignored_columns(spec, self.update).items()}
        layout.fill_merged(sheet)
        other_names = self._column_names(others.spec) if others else self._flat_names(spec)
        found = layout.find_header(sheet, {**{k: "ignored" for k in ignorable}, **other_names, **names})
        if found is None:
            example = "、".join(f.label for f in importable_fields(spec)[:4])
            self.problem(part, 1, "", "", f"找不到表头：前{layout.HEADER_SCAN}行中没有一行是“{spec.label}”的列名"
                                          f"（如 {example}），请使用导入模板，或在第一行写上各列的中文名称")
            return part
        first, last, header = found
        part.start, part.header = last + 1, header
        if first:
            above = "、".join(dict.fromkeys(str(c).strip() for r in rows[:first] for c in r if str(c or "").strip()))[:40]
            self.notices.append(f"“{sheet.name}”表头在第{first + 1}行，上面的 {first} 行（{above}）不导入")
        chosen = (self.mapping or {}).get(spec.name)
        seen, ignored, unmapped = {}, [], []
        part.proposal = []
        for index, raw in enumerate(header):
            text = layout.normal(raw)
            if not text:
                continue
            if others and index in others.columns:
                continue
            if chosen is not None:
                name = chosen.get(str(index), chosen.get(text))
                f = spec.field(name) if name and spec.has_field(name) and spec.field(name) in importable_fields(spec) else None
            else:
                f, _ = layout.lookup(raw, names)
            if f is None and others is None and layout.lookup(raw, self._flat_names(spec))[0]:
                part.unmapped.append(index)         # a member's column on a household sheet: maybe flat
                continue
            part.proposal.append((index, str(raw).strip(), f.name if f else ""))
            if f is None and text == VERSION_COLUMN and spec.versioned:
                part.version_col = index
            if f is None and layout.lookup(raw, ignorable)[0]:
                ignored.append(f"{text}（{layout.lookup(raw, ignorable)[0]}）")
            elif f is None:
                unmapped.append(text)
            elif f.name in seen:
                self.problem(part, last + 1, str(raw), raw, f"列“{f.label}”出现了两次（第{seen[f.name]}列和第{index + 1}列）")
            else:
                seen[f.name] = index + 1
                part.columns[index] = f
        if ignored:
            self.notices.append(f"“{sheet.name}”表中这些列不导入：" + "、".join(ignored))
        if unmapped:
            self.notices.append(f"“{sheet.name}”表中这些列没有对应的字段，不导入：" + "、".join(unmapped)
                                + "（可在下方“列的对应”中改选）")
        if sheet.merged_ranges and any(r2 >= part.start for (_, _), (r2, _) in sheet.merged_ranges):
            self.notices.append(f"“{sheet.name}”表中的合并单元格已按每行填入同一个值（如一户的户主信息合并在各成员行上）")
        part.defaults = [f for f in importable_fields(spec) if f.default is not None and f.name not in seen
                         and f.type not in ("ref", "area")]
        back = self._back_ref(spec)
        key = match_key(spec)
        if self.update:
            if key is None or key.name not in seen:
                self.problem(part, part.start, "", "", f"更新模式需要“{key.label if key else '唯一编号'}”列来找到已有记录")
        else:
            for f in importable_fields(spec):
                if not f.required or f.default is not None or f.name in seen or f is back:
                    continue
                if self._user_area(f) is not None:
                    part.given[f.name] = self._user_area(f)
                    self.notices.append(f"“{sheet.name}”表中没有“{f.label}”列：按您的区划填写")
                elif spec is self.spec and self.children and f.unique and f.type == "text":
                    part.generated = f      # a roster has no household numbers: one is given per village
                else:
                    self.problem(part, part.start, f.label, "", f"缺少必填列“{f.label}”")
        if others is not None and back:
            pass                        # a flat roster: each row's household is the row's own
        elif back and back.name not in seen:
            self.problem(part, part.start, back.label, "", f"缺少列“{back.label}”：填写所属{self.spec.label}的"
                                                  f"{'或'.join(k.label for k in link_keys(self.spec))}")
        for ref in sheet.formulas[:20]:
            self.problem(part, int("".join(c for c in ref if c.isdigit())), ref, "",
                         f"单元格 {ref} 是公式：请复制后“选择性粘贴 → 数值”再导入")
        return part

    def _user_area(self, f):
        """The user's own area, for an area field of its level that the sheet leaves out."""
        if f.type != "area" or not self.user or not self.user.__data__.get("area"):
            return None
        area = self.models["area"].get_or_none(id=self.user.__data__["area"])
        return area.id if area and area.level == f.level else None

    def _flat_names(self, spec):
        if spec is not self.spec or not self.children:
            return {}
        return self._column_names(self.children[0])

    def _column_names(self, spec):
        """Normalised header → field: labels, names, template headers and declared aliases. In update
        mode fixed fields are left out (they are ignored with a notice)."""
        names = {}
        for f in importable_fields(spec):
            if self.update and f.fixed:
                continue
            for name in (f.label, f.name, header_text(f), *f.aliases):
                names.setdefault(layout.normal(name), f)
        return names

    def _back_ref(self, spec):
        if spec is self.spec:
            return None
        return [f for f in spec.fields if f.type == "ref" and f.to == self.spec.name][0]

    # -- rows
    def _parse_rows(self, part, progress):
        model = self.models[part.spec.name]
        total = len(part.sheet.rows) - part.start
        masked = 0
        key = match_key(part.spec) if self.update else None
        skipped = {}
        for offset, raw_row in enumerate(part.sheet.rows[part.start:]):
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
        the household, and every row is one member of it."""
        main = next((p for p in parts if p.flat), None)
        child = next((p for p in parts if p.flat_of is main), None) if main else None
        if not main or not child:
            return
        back = self._back_ref(child.spec)
        first, kept = {}, []
        household_of = {}
        for row in main.rows:
            row_no, _, raw, _ = row
            key = tuple(_plain_text(raw[c] if c < len(raw) else "") for c in sorted(main.columns))
            if key not in first:
                first[key] = row_no
                kept.append(row)
            household_of[row_no] = first[key]
        main.rows = kept
        for row_no, values, _, _ in child.rows:
            if row_no in household_of:
                values[back.name] = ("row", household_of[row_no])

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
        for part in parts:
            for f in part.spec.fields:
                if f.type == "area" and any(isinstance(v.get(f.name), tuple) for _, v, _, _ in part.rows):
                    self._resolve_areas(part, f)
        if main and main.generated:
            self._number(main)
        if main:
            for key in link_keys(self.spec):
                for row_no, values, _, bad in main.rows:
                    if values.get(key.name) is not None:
                        main.keys.setdefault((key.name, values[key.name]), row_no)
        for part in parts:
            back = self._back_ref(part.spec)
            if back:
                self._resolve_parents(part, back, main)
            for f in part.spec.fields:
                if f.type == "ref" and f is not back and any(isinstance(v.get(f.name), tuple) for _, v, _, _ in part.rows):
                    self._resolve_refs(part, f)

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
        wanted = {values[back.name][1] for _, values, _, _ in part.rows
                  if isinstance(values.get(back.name), tuple) and values[back.name][0] == "link"}
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
        texts = {v[f.name][1] for _, v, _, _ in part.rows if isinstance(v.get(f.name), tuple)}
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
            for f in part.spec.fields:
                if not f.unique:
                    continue
                first = {}
                for row_no, values, _, _ in part.rows:
                    v = values.get(f.name)
                    if v is None:
                        continue
                    if v in first:
                        self.problem(part, row_no, f.label, v, f"与第{first[v]}行重复：{f.unique_message or '此项不能重复'}")
                    else:
                        first[v] = row_no
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
        for r, values, _, _ in part.rows:
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
                parent_rows = {row_no: values.get("__id__") for row_no, values, _, _ in main.rows}
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
        """Each household's head becomes its member (casework/heads.py); True if one cannot."""
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
        back = self._back_ref(part.spec)
        rows = []
        for row_no, values, _, _ in part.rows:
            data = {k: v for k, v in values.items() if k not in ("__id__", "__version__")}
            if back and isinstance(data.get(back.name), tuple):
                data[back.name] = parent_rows[data[back.name][1]]
            rows.append((values, data))
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
        for i, (values, data) in enumerate(rows):
            self._save_one(part, model(**data), values, data, then)
            outcome.created += 1
            if progress and i % 2000 == 0:
                progress("写入", i, len(rows))

    def _update_rows(self, part, rows, outcome, progress):
        """Few rows as a rule: each goes through save(), so hooks audit and recompute as in a form."""
        model = self.models[part.spec.name]
        key = getattr(model, match_key(part.spec).name)
        for i, (values, data) in enumerate(rows):
            q = model.select().where(key == data[key.name])
            if part.spec.archive:
                q = q.where(model.archived == False)  # noqa: E712
            record = q.get()
            changed = {name: value for name, value in data.items()
                       if _stored(model, name, value) != _stored(model, name, record.__data__.get(name))}
            values["__id__"] = record.id
            if not changed:
                outcome.unchanged += 1      # an exported row sent back as it was: not saved, not audited
                continue
            for name, value in changed.items():
                setattr(record, name, value)
            if part.spec.versioned:
                record.expect_version(values.get("__version__"))
            self._save_one(part, record, values, data)
            outcome.updated += 1
            if progress and i % 2000 == 0:
                progress("写入", i, len(rows))

    def _save_one(self, part, record, values, data, then=None):
        """then: the rule a new row of this table goes through once saved (the roster's 新增)."""
        try:
            record.save()
            if then:
                then(record)
        except RecordInvalid as e:
            row_no = next(r for r, v, _, _ in part.rows if v is values)
            for name, message in e.errors.items():
                label = part.spec.field(name).label if part.spec.has_field(name) else ""
                self.problem(part, row_no, label, data.get(name), message)
            raise ImportRefused() from None
        except StaleRecord:
            row_no = next(r for r, v, _, _ in part.rows if v is values)
            who, at = system.last_change(self.engine.system, part.spec.name, record.id)
            self.problem(part, row_no, VERSION_COLUMN, values.get("__version__"),
                         f"导出之后，{who or '其他用户'}{f' 于 {at:%Y-%m-%d %H:%M}' if at else ''} 修改了这条记录："
                         f"为免覆盖别人的修改，请重新导出后在新文件中修改再导入")
            raise ImportRefused() from None
        values["__id__"] = record.id

    def _insert_rows(self, part, rows, outcome, progress, chunk=400):
        """New rows in batches. The rules a save's hooks would run were run while checking; what the
        hooks would write afterwards (audit rows, parents' derived fields) is written here in bulk."""
        model = self.models[part.spec.name]
        now = dt.datetime.now().replace(microsecond=0)
        key = link_keys(part.spec)[0] if link_keys(part.spec) else None
        AuditLog = self.engine.system.AuditLog
        who = system.actor.get() or (None, None, None)
        columns = sorted({name for _, data in rows for name in data})
        for start in range(0, len(rows), chunk):
            batch = rows[start:start + chunk]
            records = [dict({c: data.get(c) for c in columns}, created_at=now, updated_at=now) for _, data in batch]
            if part.spec.archive:
                for r in records:
                    r["archived"] = False
            insert_rows(model, records, list(records[0]))
            keyed = {data[key.name]: values for values, data in batch}
            q = model.select(model.id, getattr(model, key.name)).where(getattr(model, key.name).in_(list(keyed)))
            if part.spec.archive:
                q = q.where(model.archived == False)  # noqa: E712
            for rid, value in q.tuples():
                keyed[value]["__id__"] = rid
            audit = [{"at": now, "user_id": who[0], "username": who[1], "ip": who[2], "entity": part.spec.name,
                      "record_id": values["__id__"], "action": "create", "batch": outcome.batch,
                      "changes": json.dumps(system.diff(part.spec, None, data), ensure_ascii=False)}
                     for values, data in batch]
            insert_rows(AuditLog, audit, list(audit[0]))
            outcome.created += len(batch)
            if progress:
                progress("写入", start + len(batch), len(rows))
        for ref_name in {a[3].name for a in self.models.derive_aggregates.get(part.spec.name, [])}:
            derive.recompute(self.models, part.spec.name, sorted({data.get(ref_name) for _, data in rows} - {None}))

    def _record_history(self, outcome):
        result = "已导入" if outcome.committed else ("预检通过" if outcome.ok and outcome.dry_run else "未导入")
        user = self.user
        self.engine.system.ImportBatch.create(
            batch=outcome.batch, at=dt.datetime.now().replace(microsecond=0),
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


