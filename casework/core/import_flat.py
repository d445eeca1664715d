"""A flat roster: one row a person, household cells repeated on every row of the household.

Its rows with the same household cells are one household; a roster without 户主 columns starts a
household at each row whose relation is 户主 (or 本人). Households without a number get the
village code and the next serial there.
"""
from casework.core.spill import Spill
from casework.core.import_columns import plain_text


class FlatRoster:
    """Mixed into the Importer: it provides spec, models, problem() and _back_ref()."""

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
                key = tuple(plain_text(raw[c] if c < len(raw) else "") for c in sorted(main.columns))
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
