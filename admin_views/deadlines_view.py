"""Overdue and due-soon cases, counted per township: the township's to-do list, the county's watch."""
from flask import request
from flask_admin import expose

from casework.core import scope

from . import auth
from .engine_view import EngineView
from schema import clock


class DeadlinesView(EngineView):
    LIMIT = 500

    def is_accessible(self):
        user = auth.current()
        return bool(user and scope.can(self.engine.models, user, self.engine.flow.case_model()._spec.name, "view"))

    @expose("/")
    def index(self):
        flow, user = self.engine.flow, auth.current()
        township = request.args.get("township") or None
        overdue, soon = flow.overdue(user), flow.due_soon(user)
        counts = {}
        for code, name, n in flow.by_township(overdue):
            counts.setdefault(code, [name, 0, 0])[1] = n
        for code, name, n in flow.by_township(soon):
            counts.setdefault(code, [name, 0, 0])[2] = n
        registry = self.engine.registry
        labels = {"assistance_type": registry.options["assistance_type"].labels,
                  "state": registry.options["case_state"].labels}
        return self.render("jiuzhu/deadlines.html", counts=sorted(counts.items()), township=township,
                           overdue=flow.rows(overdue, self.LIMIT, township), soon=flow.rows(soon, self.LIMIT, township),
                           labels=labels, today=clock.today(), limit=self.LIMIT,
                           soon_days=self.engine.settings.get("due_soon_days"))
