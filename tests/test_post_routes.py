"""Every hand-written POST route, for every role (issue 16, item 8): the route declares the right it
needs (admin_views/rights.py) and a role without that right in schema/roles.yaml is refused with a
Chinese message and nothing is written. The generated screens' POSTs are walked by the scope matrix."""
import io

import pytest

from .conftest import Browser, engine_of

ROLES = {"admin": "county_admin", "county": "county_staff", "town1": "township_staff",
         "leader1": "township_leader", "village1": "village_assistant"}
GENERATED = ("create_view", "edit_view", "delete_view", "action_view", "ajax_update")
# routes guarded otherwise, each by a rule of its own, walked below too
OTHERWISE = {"auth.login", "auth.logout",
             "case.transition_view",          # each transition's roles, in workflows/*.yaml
             "imports.check", "imports.commit", "imports.remap",   # the role's `import` right on the chosen table
             "imports.restart",               # the user's own interrupted job, checked again from the start
             "reports.start", "reports.restart",   # reads only, within the user's scope
             "settings.index", "settings.profile",   # the settings or security duty (roles.yaml duties)
             "settings.backup_now",           # the settings duty
             "auth.change_password",          # the signed-in user's own password, with the old one
             "security.unlock"}               # the security duty


def hand_written(app):
    for rule in app.url_map.iter_rules():
        if "POST" in rule.methods and not rule.endpoint.endswith(GENERATED):
            yield rule, app.view_functions[rule.endpoint]


def snapshot(app):
    eng = engine_of(app)
    counts = tuple(m.select().count() for m in eng.models)
    return counts, eng.system.AuditLog.select().count(), eng.system.SettingValue.select().count()


def data_for(app, endpoint):
    eng = engine_of(app)
    Area, Care = eng.models["area"], eng.models["care"]
    town = Area.get(Area.code == "370405001")
    village = Area.get(Area.code == "370405001001")
    care = Care.select().where(Care.village == village.id).first()
    return {"township": str(town.id), "month": "2099-01", "village": str(village.id), "kind": "zero",
            "care": str(care.id), "amount": "10", "reason": "x", "visited": "3",
            "file": (io.BytesIO(b"a,b\n1,2\n"), "x.csv")}


def test_every_hand_written_post_route_declares_its_right(app):
    undeclared = {rule.endpoint for rule, fn in hand_written(app) if not getattr(fn, "needs", None)}
    assert undeclared == OTHERWISE, "a new POST route must declare the right it needs (rights.needs)"
    registry = engine_of(app).registry
    for rule, fn in hand_written(app):
        if getattr(fn, "needs", None):
            entity, action = fn.needs
            assert entity in registry.entities and action, rule.rule


@pytest.mark.parametrize("username", sorted(ROLES))
def test_each_role_meets_the_declared_rights(any_app, username):
    app = any_app
    eng = engine_of(app)
    role = eng.registry.roles[ROLES[username]]
    b = Browser(app)
    assert b.login(username).status_code == 302
    for rule, fn in hand_written(app):
        needs = getattr(fn, "needs", None)
        if not needs:
            continue
        allowed = role.can(*needs)
        if allowed and app.config["DATABASE_URL"].startswith("postgres"):
            continue                          # the shared PostgreSQL demo stays as it is
        before = snapshot(app)
        url = rule.rule.replace("<job>", "0")
        if rule.endpoint == "care.adjust_view":
            url += f"?id={data_for(app, '')['care']}"
        r = b.post(url, data_for(app, rule.endpoint), content_type="multipart/form-data")
        shown = b.get(r.headers["Location"]).get_data(as_text=True) if r.status_code == 302 else \
            r.get_data(as_text=True)
        refused = r.status_code == 403 or "您的角色不能" in shown or "只有县级管理员" in shown
        if allowed:
            assert not refused, (username, rule.rule)
        else:
            assert refused, (username, rule.rule, r.status_code)
            assert snapshot(app) == before, (username, rule.rule)


@pytest.mark.parametrize("username", sorted(ROLES))
def test_the_routes_guarded_otherwise_refuse_too(any_app, username):
    app = any_app
    b = Browser(app)
    assert b.login(username).status_code == 302
    before = snapshot(app)
    eng = engine_of(app)
    if username != "admin":
        assert b.post("/admin/settings/", {"township_approval_limit": "999999"}).status_code == 403
        assert b.post("/admin/settings/profile/", {"profile": "national"}).status_code == 403
        assert b.post("/admin/security/unlock", {"username": "town2"}).status_code == 403
    importable = [e for e in eng.registry.entities if eng.registry.roles[ROLES[username]].can(e, "import")]
    if "user" not in importable:
        r = b.post("/admin/imports/check", {"entity": "user", "file": (io.BytesIO(b"a\n1\n"), "u.csv")},
                   content_type="multipart/form-data")
        assert r.status_code in (403, 404)
    assert b.post("/admin/imports/job/nonexistent/commit", {}).status_code in (302, 403, 404)
    case = eng.models["case"].select().order_by(eng.models["case"].id).first()
    b.post(f"/admin/case/transition/?id={case.id}", {"transition": "no_such_step"})
    assert snapshot(app) == before
