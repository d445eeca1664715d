"""Menus by task per role (schema/menus.yaml): short for the village assistant, near-duplicate pages as
tabs of one page, technical tables only for the county administrator; every link opens for that user."""
import re

import pytest

from admin_views import menus
from schema import SchemaError

from .conftest import Browser

TECHNICAL = ["发放月份", "月度台账汇总", "工作日历"]


def top_menu(html):
    nav = re.search(r'(?s)<nav.*?</nav>', html).group(0)
    entries = re.findall(r'(?s)<a class="(nav-link[^"]*|dropdown-item[^"]*)" href="([^"]+)"[^>]*>(.*?)</a>', nav)
    tops = re.findall(r'(?s)<a class="nav-link[^"]*"[^>]*>(.*?)</a>', nav)
    tops = [t for t in tops if re.sub(r"<[^>]+>|\s+", "", t) != "修改密码"]     # the user's own link, not a menu entry
    return [re.sub(r"<[^>]+>|\s+", "", t) for t in tops], [(h, re.sub(r"<[^>]+>|\s+", "", n)) for _, h, n in entries]


def tabs(html):
    m = re.search(r'(?s)<ul class="nav nav-tabs mb-2 jiuzhu-tabs" id="page-tabs">(.*?)</ul>', html)
    return [re.sub(r"\s+", "", t) for t in re.findall(r">([^<]+)</a>", m.group(1))] if m else []


def test_village_assistant_menu_by_task(any_app):
    b = Browser(any_app)
    assert b.login("village1").status_code == 302
    html = b.get("/admin/").get_data(as_text=True)
    tops, links = top_menu(html)
    assert tops == ["首页", "家庭户", "救助事项", "在保对象", "动态管理", "统计报表", "Excel导入"]
    assert len(tops) <= 8
    text = re.search(r'(?s)<nav.*?</nav>', html).group(0)
    for name in TECHNICAL + ["村级月报报送情况", "随机抽查批次", "抽查事项"]:
        assert name not in text
    for href, _ in links:                              # every entry opens for this user
        assert b.get(href).status_code == 200, href
    page = b.get("/admin/village_reports/").get_data(as_text=True)
    assert tabs(page) == ["定期复核", "村级月报报送情况", "村级月报", "比对结果"]
    assert 'class="nav-link active" href="/admin/village_reports/"' in page
    assert tabs(b.get("/admin/member/").get_data(as_text=True)) == ["家庭户", "家庭成员", "家庭收入明细", "家庭财产", "赡养扶养抚养义务人"]


@pytest.mark.parametrize("username", ["town1", "leader1", "county"])
def test_roles_menus_hide_technical_tables_and_group_duplicates(any_app, username):
    b = Browser(any_app)
    assert b.login(username).status_code == 302
    html = b.get("/admin/").get_data(as_text=True)
    nav = re.search(r'(?s)<nav.*?</nav>', html).group(0)
    for name in ["发放月份", "工作日历"] + (["月度台账汇总"] if username != "county" else []):
        assert name not in nav, name
    tops, links = top_menu(html)
    assert len(tops) <= 9
    for href, _ in links:
        assert b.get(href).status_code == 200, (username, href)
    if username == "town1":
        assert tabs(b.get("/admin/payment/").get_data(as_text=True)) == ["按月发放", "发放台账"]
        assert tabs(b.get("/admin/spot_check_case/").get_data(as_text=True)) == ["随机抽查批次", "抽查事项"]


def test_county_admin_keeps_the_full_menu_with_technical_tables(any_app):
    b = Browser(any_app)
    assert b.login("admin").status_code == 302
    nav = re.search(r'(?s)<nav.*?</nav>', b.get("/admin/").get_data(as_text=True)).group(0)
    for name in TECHNICAL + ["用户", "系统设置"]:
        assert name in nav


def test_page_outside_the_menu_still_checks_permission(any_app):
    b = Browser(any_app)
    assert b.login("village1").status_code == 302
    assert b.get("/admin/settings/").status_code == 403       # not offered, and not allowed either


class FakeView:
    def __init__(self, endpoint):
        self.endpoint = endpoint


class FakeAdmin:
    _views = [FakeView("household"), FakeView("member")]


def test_menu_file_errors_name_the_file(tmp_path):
    (tmp_path / "menus.yaml").write_text("menus:\n  village_assistant:\n    - {label: 家庭户, tabs: [household, nope]}\n",
                                         encoding="utf-8")
    with pytest.raises(SchemaError, match="menus.yaml.*不存在的页面“nope”"):
        menus.load(str(tmp_path), FakeAdmin(), {"village_assistant"})
    (tmp_path / "menus.yaml").write_text("menus:\n  chief:\n    - {label: 家庭户, tabs: [household]}\n",
                                         encoding="utf-8")
    with pytest.raises(SchemaError, match="没有角色“chief”"):
        menus.load(str(tmp_path), FakeAdmin(), {"village_assistant"})
    (tmp_path / "menus.yaml").write_text("menus:\n  village_assistant:\n    - {label: 家庭户}\n", encoding="utf-8")
    with pytest.raises(SchemaError, match="要写 tabs"):
        menus.load(str(tmp_path), FakeAdmin(), {"village_assistant"})
    assert menus.load(str(tmp_path / "none"), FakeAdmin(), set()) == {}


# pages a role may open but its task menu leaves out on purpose: technical tables and others' tools
LEFT_OUT = {"village1": {"area", "calendar_day", "case_step", "ledger_month", "payment", "payment_month", "standard",
                         "payments", "checks"},
            "town1": {"area", "calendar_day", "ledger_month", "payment_month"},
            "leader1": {"area", "bank_card", "cadre", "cadre_relative", "calendar_day", "certificate", "death_record",
                        "ledger_month", "payment_month", "reserve_entry", "standard", "payments"},
            "county": {"area", "calendar_day", "payment_month"}}


@pytest.mark.parametrize("username", sorted(LEFT_OUT))
def test_every_page_a_role_may_open_is_in_its_menu_or_left_out_on_purpose(app, username):
    """A page added later must be placed in schema/menus.yaml (or listed here), never silently lost."""
    from flask_login import login_user
    from admin_views.auth import SessionUser
    admin, menu = app.extensions["admin"][0], app.extensions["jiuzhu_menu"]
    User = app.extensions["jiuzhu"].models["user"]
    with app.test_request_context("/admin/"):
        user = User.get(User.username == username)
        login_user(SessionUser(user))
        listed = {t for e in menu.menus[user.role] for i in [e] + e.get("children", e.get("items", []))
                  for t in i.get("tabs", [])}
        missing = {v.endpoint for v in admin._views if v.endpoint not in listed and v.endpoint != "admin"
                   and v.is_accessible() and v.is_visible()}
    assert missing == LEFT_OUT[username]
