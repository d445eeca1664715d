"""Public notices: choose a village and a date, print the A4 page or download the xlsx."""
import datetime as dt
import io

from flask import abort, request
from flask_admin import expose

from casework.cases import notices
from casework.core import scope
from reports.workbook import SheetWriter

from . import auth
from .engine_view import EngineView
from .export import download
from schema import clock


class NoticeView(EngineView):
    def __init__(self, engine, notice, **kw):
        self.notice = notice
        super().__init__(engine, **kw)

    def is_accessible(self):
        user = auth.current()
        return bool(user and scope.can(self.engine.models, user, self.notice.entity, "view"))

    def _args(self):
        try:
            on = dt.date.fromisoformat(request.args.get("date") or clock.today().isoformat())
        except ValueError:
            on = None
        try:
            village_id = int(request.args.get("village") or 0)
        except ValueError:
            village_id = 0
        return village_id, on

    @expose("/")
    def index(self):
        user = auth.current()
        village_id, on = self._args()
        choices = notices.villages(self.engine.models, user)
        if not village_id and len(choices) == 1:
            village_id = choices[0].id
        village, rows, error = None, [], None
        if on is None:
            error, on = "日期格式应为 2026-10-01", clock.today()
        elif village_id:
            village, rows = notices.rows(self.engine, self.notice, user, village_id, on)
            if village is None:
                abort(404)
        township = village.parent if village else None
        return self.render("jiuzhu/notice.html", notice=self.notice, villages=choices, village=village,
                           township=self.engine.models["area"].get_or_none(id=township) if township else None,
                           rows=rows, on=on, error=error)

    @expose("/xlsx")
    def xlsx(self):
        village_id, on = self._args()
        if on is None:
            abort(400)
        village, rows = notices.rows(self.engine, self.notice, auth.current(), village_id, on)
        if village is None:
            abort(404)
        buffer = io.BytesIO()
        writer = SheetWriter(buffer, "公示")
        writer.title(f"{village.name}{self.notice.label}")
        headers = [label for _, label in self.notice.columns] + ["公示开始", "公示结束"]
        writer.header(headers)
        for row in rows:
            writer.cells([("string", c) for c in row["cells"]] + [("date", row["start"]), ("date", row["end"])])
        writer.row += 1
        writer.sheet.write_string(writer.row, 0, self.notice.footer)
        writer.close()
        return download(buffer, f"{village.name}公示{on.isoformat()}.xlsx")
