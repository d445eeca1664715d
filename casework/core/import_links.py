"""An import's links: area cells, parents in the same file or in the database, and references
to other rows, each resolved within the user's scope (and township, casework/core/ref_areas.py).
"""
from casework.core import ref_areas, refs, scope
from casework.core.import_columns import link_keys


class LinkResolver:
    """Mixed into the Importer: it provides spec, models, registry, user, problem() and _back_ref();
    _number() comes from FlatRoster."""

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
