"""How an import reads a workbook's layout: which sheet is which entity, where the header is, which
column is which field (by label, alias or the user's saved mapping), and which columns it leaves out.

casework/core/imports.py validates and writes the rows these parts describe."""
from dataclasses import dataclass, field

from casework.core import refs, scope, tabular
from casework.core import sheet_layout as layout
from casework.core.spill import Spill


@dataclass
class Problem:
    sheet: str
    row: int            # 1-based as Excel shows it; 0 for the file as a whole
    column: str         # the header (Chinese) or ""
    value: object
    message: str


@dataclass
class Part:
    """One sheet mapped onto one entity."""
    spec: object
    sheet: tabular.Sheet
    columns: dict                    # column index → field spec
    rows: Spill = field(default_factory=Spill)        # (row number, {field: value}, raw row, refused)
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
    head_from_members: list = field(default_factory=list)   # head fields a flat roster takes from its 户主 row
    version_col: int | None = None   # the export's 版本 column: update mode refuses rows changed since


def importable_fields(spec):
    """A `password` column is importable (hashed on save, a blank cell keeps the stored one); the user
    entity, whose passwords follow the account policy, is not importable at all (imports.unimportable)."""
    return [f for f in spec.fields if f.user_writable]


# Columns the system's own export and error workbook write that no import takes from the user
VERSION_COLUMN = "版本"
SYSTEM_COLUMNS = {"创建时间": "系统记录", "修改时间": "系统记录", "错误原因": "上次导入的错误说明",
                  VERSION_COLUMN: "记录版本，更新时用来发现导出后已被别人修改的行"}


def ignored_columns(spec, update, role=None):
    """Header → why an import ignores it: read-only and derived fields (rules write them), the time
    stamps of an export, the reason column of an error workbook, and in update mode what may not
    change on a saved row (`fixed`, `immutable_after`, and `writers` the importing user's role is not
    among: `Field.user_may_write`)."""
    out = dict(SYSTEM_COLUMNS)
    for f in spec.fields:
        if f.type == "password":
            continue
        reason = None
        if not f.user_writable:
            reason = "由系统推导" if f.derive else "由系统按规则填写"
        elif update and not f.user_may_write(existing=True, role=role) and f is not match_key(spec):
            reason = "受理后不能通过导入更改" if f.fixed else "保存后不能更改" if f.frozen else \
                f"{role.label}不能修改，由{'、'.join(_writer_words(f))}填写"
        if reason:
            for name in (f.label, header_text(f)):
                out.setdefault(name, reason)
    for name, reason in spec.import_ignore.items():
        out.setdefault(name, reason)     # a field's own reason wins over the declared list
    return out


def _writer_words(f):
    levels = {"county": "县级", "township": "乡镇", "village": "村级"}
    return [levels.get(w, w) for w in f.writers or []]


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


class ColumnMapping:
    """The header half of the Importer: needs its spec, children, update, mapping, notices and problems."""

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
        for part in parts:
            if part.head_from_members and not part.flat:
                for f in part.head_from_members:
                    self.problem(part, part.start, f.label, "", f"缺少必填列“{f.label}”")
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
        # rows that leave the household columns blank belong to the household above them: filled in
        # as the rows are read (imports.filled_rows), the file's rows being read at each pass
        main.sheet.fill_down = (main.start, list(main.columns))
        if main.head_from_members:
            self.notices.append(f"“{main.sheet.name}”是一行一人的花名册，没有户主列：从与户主关系为“户主”或“本人”的行"
                                f"起算一户，户主姓名和身份证号取自这一行")
        else:
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
        ignorable = {layout.normal(k): v for k, v in ignored_columns(spec, self.update, self._role()).items()}
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
        # a flat roster's household columns the household part already left out (保障人数 …)
        theirs = {layout.normal(k): v for k, v in ignored_columns(others.spec, self.update).items()} if others else {}
        seen, ignored, unmapped = {}, [], []
        part.proposal = []
        for index, raw in enumerate(header):
            text = layout.normal(raw)
            if not text:
                continue
            if others and (index in others.columns or layout.lookup(raw, theirs)[0]):
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
                if not f.required or f.default is not None or f.name in seen or f is back \
                        or f.name in getattr(self, "fixed", {}):
                    continue
                if self._user_area(f) is not None:
                    part.given[f.name] = self._user_area(f)
                    self.notices.append(f"“{sheet.name}”表中没有“{f.label}”列：按您的区划填写")
                elif spec is self.spec and self.children and f.unique and f.type == "text":
                    part.generated = f      # a roster has no household numbers: one is given per village
                elif spec is self.spec and self.children and spec.head and f.name in (spec.head["id"], spec.head["name"]):
                    part.head_from_members.append(f)    # a flat roster: from the member row of relation 户主
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

    def _role(self):
        return scope.role_of(self.models, self.user) if getattr(self, "user", None) is not None else None

    def _column_names(self, spec):
        """Normalised header → field: labels, names, template headers and declared aliases. In update
        mode what may not change on a saved row is left out (it is ignored with a notice)."""
        names = {}
        role = self._role() if self.update else None
        key = match_key(spec) if self.update else None
        for f in importable_fields(spec):
            if self.update and not f.user_may_write(existing=True, role=role) and f is not key:
                continue            # (the key only finds the row: it is compared, never written)
            for name in (f.label, f.name, header_text(f), *f.aliases):
                names.setdefault(layout.normal(name), f)
        return names

    def _back_ref(self, spec):
        if spec is self.spec:
            return None
        return [f for f in spec.fields if f.type == "ref" and f.to == self.spec.name][0]


def plain_text(raw):
    """A cell as the user typed it: Excel gives whole numbers as floats (12 → 12.0)."""
    if raw is None:
        return ""
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    return str(raw).strip()
