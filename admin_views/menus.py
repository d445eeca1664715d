"""Menus by task, per role, from schema/menus.yaml; near-duplicate pages shown as one page with tabs.

The menu only chooses what is offered: every page still checks its own permission (a role without a
declared menu gets Flask-Admin's full menu by table)."""
import os

from flask import g, url_for

from schema import SchemaError
from schema import yamlfile

from . import auth

FILE = "menus.yaml"


def load(root, admin, role_codes):
    """{role code: [entry]} where an entry is {"label", "tabs": [endpoint]} or {"label", "items": [entry]}."""
    path = os.path.join(root, FILE)
    if not os.path.exists(path):
        return {}
    rel = os.path.join(os.path.basename(root.rstrip("/")), FILE)
    data = yamlfile.read(path) or {}
    views = {v.endpoint for v in admin._views}
    menus = {}
    for role, entries in (data.get("menus") or {}).items():
        if role not in role_codes:
            raise SchemaError(rel, f"没有角色“{role}”（角色写在 roles.yaml）")
        menus[role] = [_entry(rel, role, raw, views, nested=False) for raw in entries or []]
    return menus


def _entry(rel, role, raw, views, nested):
    if not isinstance(raw, dict) or not raw.get("label"):
        raise SchemaError(rel, f"角色“{role}”的菜单条目要写 label：{raw!r}")
    if "items" in raw and not nested:
        return {"label": raw["label"], "items": [_entry(rel, role, r, views, nested=True) for r in raw["items"]]}
    tabs = raw.get("tabs")
    if not tabs or not isinstance(tabs, list):
        raise SchemaError(rel, f"角色“{role}”的菜单条目“{raw['label']}”要写 tabs（页面代码列表）")
    for endpoint in tabs:
        if endpoint not in views:
            raise SchemaError(rel, f"角色“{role}”的菜单条目“{raw['label']}”写了不存在的页面“{endpoint}”")
    return {"label": raw["label"], "tabs": list(tabs)}


class Menu:
    def __init__(self, admin, menus):
        self.admin = admin
        self.menus = menus
        self.views = {v.endpoint: v for v in admin._views}

    def _open(self, endpoint):
        view = self.views[endpoint]
        return view.is_accessible() and view.is_visible()

    def _url(self, endpoint):
        view = self.views[endpoint]
        return url_for(f"{view.endpoint}.{view._default_view}")

    def entries(self, active_endpoint):
        """The signed-in user's menu, or None for Flask-Admin's own."""
        user = auth.current()
        declared = self.menus.get(user.role) if user else None
        if declared is None:
            return None
        cache = g.setdefault("jiuzhu_menu", {})
        if "entries" not in cache:
            cache["entries"] = [e for e in (self._build(raw) for raw in declared) if e]
        for entry in cache["entries"]:
            for item in [entry] + entry.get("children", []):
                item["active"] = active_endpoint in item.get("endpoints", ())
            if entry.get("children"):
                entry["active"] = any(i["active"] for i in entry["children"])
        return cache["entries"]

    def _build(self, raw):
        if "items" in raw:
            items = [e for e in (self._build(r) for r in raw["items"]) if e]
            return {"label": raw["label"], "children": items} if items else None
        tabs = [t for t in raw["tabs"] if self._open(t)]
        if not tabs:
            return None
        return {"label": raw["label"], "url": self._url(tabs[0]), "endpoints": tabs,
                "tabs": [(self.views[t].name, self._url(t), t) for t in tabs]}

    def tabs(self, active_endpoint):
        """[(label, url, active)] for the page group holding this page, when it has more than one page."""
        for entry in self.entries(active_endpoint) or []:
            for item in [entry] + entry.get("children", []):
                if active_endpoint in item.get("endpoints", ()) and len(item["tabs"]) > 1:
                    return [(label, url, endpoint == active_endpoint) for label, url, endpoint in item["tabs"]]
        return []


def init_app(app, admin, registry):
    menu = Menu(admin, load(registry.root, admin, set(registry.roles)))
    app.extensions["jiuzhu_menu"] = menu
    app.jinja_env.globals["jiuzhu_menu"] = menu
    return menu
