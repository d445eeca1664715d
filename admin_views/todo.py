"""The home page's to-do card: per role, what waits on the user (declared in schema/menus.yaml, `todo:`).

A filtered item is counted with the very filters its list page applies to the very scoped query, so
the number on the card is the number of rows the link shows."""
import os

from flask import g, url_for

from casework.funds import care
from casework.cases import reviews
from casework.core import scope
from casework.supervision import village_reports
from schema import clock, SchemaError
from schema import yamlfile

from . import auth
from .menus import FILE


def _due_soon(engine, user):
    return engine.flow.due_soon(user).count(), url_for("deadlines.index")


def _village_reports_missing(engine, user):
    month = care.previous_month(clock.today().strftime("%Y-%m"))
    missing = sum(1 for _, report in village_reports.status(engine, user, month) if report is None)
    return missing, url_for("village_reports.index", month=month)


def _reviews_overdue(engine, user):
    return reviews.counts(engine, user)[0], url_for("reviews.index")


# counts that no list filter can express; each names the page that lists them
COUNTERS = {"due_soon": (_due_soon, "deadlines"), "village_reports_missing": (_village_reports_missing,
                                                                              "village_reports"),
            "reviews_overdue": (_reviews_overdue, "reviews")}


def load(root, admin, role_codes):
    path = os.path.join(root, FILE)
    if not os.path.exists(path):
        return {}
    rel = os.path.join(os.path.basename(root.rstrip("/")), FILE)
    data = (yamlfile.read(path) or {}).get("todo") or {}
    views = {v.endpoint: v for v in admin._views}
    out = {}
    for role, items in data.items():
        if role not in role_codes:
            raise SchemaError(rel, f"待办：没有角色“{role}”（角色写在 roles.yaml）")
        out[role] = [_item(rel, role, raw, views) for raw in items or []]
    return out


def _item(rel, role, raw, views):
    label = raw.get("label") if isinstance(raw, dict) else None
    if not label:
        raise SchemaError(rel, f"待办：角色“{role}”的条目要写 label：{raw!r}")
    if raw.get("count"):
        if raw["count"] not in COUNTERS:
            raise SchemaError(rel, f"待办“{label}”：没有计数“{raw['count']}”（可用：{'、'.join(COUNTERS)}）")
        if COUNTERS[raw["count"]][1] not in views:
            return None                                # the page is not installed: nothing to count
        return {"label": label, "count": raw["count"]}
    view = views.get(raw.get("entity"))
    if view is None:
        raise SchemaError(rel, f"待办“{label}”：没有实体“{raw.get('entity')}”")
    where = []
    for cond in raw.get("where") or []:
        if not (isinstance(cond, list) and len(cond) == 3):
            raise SchemaError(rel, f"待办“{label}”：条件要写成 [字段, 条件, 值]：{cond!r}")
        path, op, value = cond
        index = next((i for i, f in enumerate(view._filters or []) if f.path == path and f.op_label == op), None)
        if index is None:
            raise SchemaError(rel, f"待办“{label}”：{raw['entity']} 的列表没有筛选“{path} {op}”"
                                   f"（字段要写进该实体的 filters）")
        where.append((index, str(value)))
    return {"label": label, "entity": raw["entity"], "where": where}


class Todo:
    def __init__(self, engine, admin, items):
        self.engine = engine
        self.items = items
        self.views = {v.endpoint: v for v in admin._views}

    def card(self):
        """[(label, count, url)] for the signed-in user, within the user's scope."""
        user = auth.current()
        if user is None or user.role not in self.items:
            return []
        if "jiuzhu_todo" in g:
            return g.jiuzhu_todo
        out = []
        for item in self.items[user.role]:
            if item is None:
                continue
            if "count" in item:
                fn, endpoint = COUNTERS[item["count"]]
                if not self.views[endpoint].is_accessible():
                    continue
                count, url = fn(self.engine, user)
            else:
                count, url = self._filtered(item, user)
                if count is None:
                    continue
            out.append((item["label"], count, url))
        g.jiuzhu_todo = out
        return out

    def _filtered(self, item, user):
        view = self.views[item["entity"]]
        if not (view.is_accessible() and scope.can(self.engine.models, user, item["entity"], "view")):
            return None, None
        today = clock.today().isoformat()
        query, args = view.get_query(), {}
        for n, (index, value) in enumerate(item["where"]):
            value = today if value == "today" else value
            flt = view._filters[index]
            query = flt.apply(query, flt.clean(value))
            args[f"flt{n}_{view.get_filter_arg(index, flt)}"] = value
        return query.count(), url_for(f"{view.endpoint}.index_view", **args)


def init_app(app, engine, admin):
    todo = Todo(engine, admin, load(engine.registry.root, admin, set(engine.registry.roles)))
    app.jinja_env.globals["jiuzhu_todo"] = todo
    return todo
