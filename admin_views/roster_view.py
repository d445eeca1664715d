"""The village roster (花名册): a village and a month; print the A4 page or download the xlsx."""
import io
from decimal import Decimal

from flask import abort, request
from flask_admin import expose

from schema import clock, idnumber
from casework.cases import notices
from casework.funds import roster
from casework.core import scope
from reports.workbook import SheetWriter

from . import auth
from .engine_view import EngineView
from .export import download


class RosterView(EngineView):
    def is_accessible(self):
        user = auth.current()
        return bool(user and scope.can(self.engine.models, user, "care", "view"))

    def _data(self):
        user = auth.current()
        choices = notices.villages(self.engine.models, user)
        try:
            village_id = int(request.args.get("village") or (choices[0].id if len(choices) == 1 else 0))
        except ValueError:
            village_id = 0
        month = (request.args.get("month") or clock.today().strftime("%Y-%m")).strip()
        if not village_id or len(month) != 7:
            return choices, None, month, [], []
        village, rows, changes = roster.roster(self.engine, user, village_id, month)
        if village is None:
            abort(404)
        unmask = scope.can(self.engine.models, user, "care", "unmask")
        households = {h.id: h for h in self.engine.models["household"].select().where(
            self.engine.models["household"].id.in_([r.__data__["household"] for r, _ in rows] or [0]))}
        labels = self.engine.registry.options
        lines = []
        for care_row, amount in rows:
            h = households.get(care_row.__data__["household"])
            number = h.head_id_number if h else ""
            lines.append({"head": care_row.head_name, "id": number if unmask else idnumber.mask(number),
                          "type": labels["assistance_type"].label_of(care_row.assistance_type),
                          "persons": care_row.persons or 0, "amount": Decimal(amount), "start": care_row.start_month})
        kinds = labels["care_change_kind"]
        change_rows = [{"kind": kinds.label_of(c.kind), "care": c.__data__["care"], "old": c.old_amount,
                        "new": c.new_amount, "reason": c.reason} for c in changes]
        names = {r.id: r.head_name for r, _ in rows}
        Care = self.engine.models["care"]
        missing = [c["care"] for c in change_rows if c["care"] not in names]
        names.update({i: n for i, n in Care.select(Care.id, Care.head_name).where(Care.id.in_(missing or [0])).tuples()})
        for c in change_rows:
            c["head"] = names.get(c["care"], "")
        return choices, village, month, lines, change_rows

    @expose("/")
    def index(self):
        choices, village, month, lines, changes = self._data()
        return self.render("jiuzhu/roster.html", villages=choices, village=village, month=month, lines=lines,
                           changes=changes, persons=sum(l["persons"] for l in lines),
                           total=sum((l["amount"] for l in lines), Decimal("0.00")))

    @expose("/xlsx")
    def xlsx(self):
        _choices, village, month, lines, changes = self._data()
        if village is None:
            abort(404)
        buffer = io.BytesIO()
        writer = SheetWriter(buffer, "花名册")
        writer.title(f"{village.name} 社会救助对象花名册（{month}）")
        writer.header(["序号", "户主姓名", "身份证号", "救助类别", "保障人数", "月救助金额（元）", "起始月份"], widths={2: 22})
        for n, l in enumerate(lines, 1):
            writer.cells([("number", n), ("string", l["head"]), ("string", l["id"]), ("string", l["type"]),
                          ("number", l["persons"]), ("number", float(l["amount"])), ("string", l["start"])],
                         formats=[None, None, None, None, "int", "money", None])
        writer.cells([("string", "合计"), ("string", f"{len(lines)} 户"), ("blank", None), ("blank", None),
                      ("number", sum(l["persons"] for l in lines)),
                      ("number", float(sum(l["amount"] for l in lines))), ("blank", None)],
                     formats=[None, None, None, None, "int", "money", None])
        writer.row += 1
        writer.cells([("string", "本月变更")])
        for c in changes:
            writer.cells([("string", c["kind"]), ("string", c["head"]), ("string", ""), ("string", c["reason"] or ""),
                          ("blank", None), ("number", float(c["new"])) if c["new"] is not None else ("blank", None),
                          ("blank", None)], formats=[None, None, None, None, None, "money", None])
        writer.close()
        return download(buffer, f"{village.name}花名册{month}.xlsx")
