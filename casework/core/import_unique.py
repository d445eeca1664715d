"""An import's unique values: repeats within the file, and values live rows already hold."""
from casework.core import scope
from casework.core.import_columns import match_key


class UniqueCheck:
    """Mixed into the Importer: it provides models, user, update and problem()."""

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
