"""三员分立: with the setting on, the system, security and audit administrators each keep to their duty on
every path, and the county administrator no longer holds them; with it off the county administrator
holds all (small offices)."""
import pytest

from .conftest import Browser, engine_of
from .test_security_accounts import STRONG, new_user, token_of


@pytest.fixture
def separated(any_app):
    eng = engine_of(any_app)
    eng.settings.set("separate_duties", 1)
    yield any_app
    eng.settings.set("separate_duties", 0)


def login(app, role):
    user = new_user(app, role=role, area="370405")
    b = Browser(app)
    assert b.login(user.username, STRONG).status_code == 302
    return b, user


def status(b, url):
    return b.get(url).status_code


def user_form(user, **change):
    data = {"username": user.username, "full_name": user.full_name, "role": user.role,
            "area": str(user.area_id), "active": "y"}
    data.update(change)
    return data


def test_system_administrator_keeps_to_users_areas_and_settings(separated):
    app = separated
    eng = engine_of(app)
    b, _ = login(app, "system_admin")
    assert status(b, "/admin/user/") == 200 and status(b, "/admin/area/") == 200
    for url in ("/admin/audit/", "/admin/security-log/", "/admin/security/", "/admin/household/",
                "/admin/security-log/export.xlsx", "/admin/household/export/xlsx/"):
        assert status(b, url) == 403, url
    page = b.get("/admin/settings/").get_data(as_text=True)
    assert "list_page_size" in page and "session_idle_minutes" not in page and "separate_duties" not in page
    form = {"list_page_size": "30", "session_idle_minutes": "999", "separate_duties": "0",
            "csrf_token": token_of(b, "/admin/settings/")}
    for key, spec in eng.registry.settings.items():
        if spec.duty == "settings" and key not in form:
            form[key] = "" if eng.settings.get(key) is None else str(eng.settings.get(key))
    assert b.client.post("/admin/settings/", data=form).status_code == 302
    assert eng.settings.get("list_page_size") == 30
    assert eng.settings.get("session_idle_minutes") == 30 and eng.settings.get("separate_duties") == 1
    eng.settings.set("list_page_size", 20)
    # accounts: a business role yes, a role grant or an administrator role no
    target = new_user(app)
    r = b.post(f"/admin/user/edit/?id={target.id}", data=user_form(target, role="township_leader"))
    assert "角色由安全管理员分配" in r.get_data(as_text=True)
    assert eng.models["user"].get_by_id(target.id).role == "township_staff"
    r = b.post("/admin/user/new/", data={"username": "sa" + target.username, "full_name": "自封审计", "role": "audit_admin",
                                        "area": str(target.area_id), "password": STRONG, "active": "y"})
    assert "角色由安全管理员分配" in r.get_data(as_text=True)
    assert not eng.models["user"].select().where(eng.models["user"].username == "sa" + target.username).exists()
    household = eng.models["household"].select().first()
    assert status(b, f"/admin/household/details/?id={household.id}") == 403


def test_security_administrator_keeps_to_roles_policy_and_unlocks(separated):
    app = separated
    eng = engine_of(app)
    b, _ = login(app, "security_admin")
    assert status(b, "/admin/security/") == 200 and status(b, "/admin/user/") == 200
    for url in ("/admin/audit/", "/admin/security-log/", "/admin/household/", "/admin/user/new/",
                "/admin/payment/", "/admin/standard/"):
        assert status(b, url) == 403, url
    page = b.get("/admin/settings/").get_data(as_text=True)
    assert "session_idle_minutes" in page and "list_page_size" not in page
    target = new_user(app)
    r = b.post(f"/admin/user/edit/?id={target.id}", data=user_form(target, role="township_leader"))
    assert r.status_code == 302
    assert eng.models["user"].get_by_id(target.id).role == "township_leader"
    household = eng.models["household"].select().first()
    r = b.post(f"/admin/household/edit/?id={household.id}", data={"head_name": "改名"})
    assert r.status_code == 403
    assert b.post("/admin/settings/profile/", data={"profile": "national"}).status_code == 403


def test_audit_administrator_reads_every_log_and_changes_nothing(separated):
    app = separated
    eng = engine_of(app)
    b, _ = login(app, "audit_admin")
    assert status(b, "/admin/audit/") == 200 and status(b, "/admin/security-log/") == 200
    assert status(b, "/admin/security-log/export.xlsx") == 200
    for url in ("/admin/settings/", "/admin/security/", "/admin/user/", "/admin/household/", "/admin/user/new/"):
        assert status(b, url) == 403, url
    target = new_user(app)
    assert b.post(f"/admin/user/edit/?id={target.id}", data=user_form(target, role="county_admin")).status_code == 403
    assert b.post("/admin/security/unlock", data={"username": target.username}).status_code == 403
    assert eng.models["user"].get_by_id(target.id).role == "township_staff"


def test_county_administrator_gives_up_the_duties_only_when_separated(any_app):
    eng = engine_of(any_app)
    b, _ = login(any_app, "county_admin")
    for url in ("/admin/audit/", "/admin/settings/", "/admin/security/", "/admin/user/", "/admin/security-log/"):
        assert status(b, url) == 200, url
    eng.settings.set("separate_duties", 1)
    try:
        for url in ("/admin/audit/", "/admin/settings/", "/admin/security/", "/admin/security-log/",
                    "/admin/user/new/"):
            assert status(b, url) == 403, url
        assert status(b, "/admin/household/") == 200             # the business stays
        target = new_user(any_app)
        assert b.post(f"/admin/user/edit/?id={target.id}", data=user_form(target, role="county_admin")).status_code == 403
    finally:
        eng.settings.set("separate_duties", 0)
