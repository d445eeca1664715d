"""Every refusal and failure is a Chinese page inside the normal layout (menu, a way back), never
werkzeug's English page or a traceback."""
import re

import peewee
import pytest

from .conftest import Browser, engine_of
from .test_scope_matrix import VILLAGES

ENGLISH = re.compile(r"Not Found|Forbidden|Bad Request|Internal Server Error|Method Not Allowed|Traceback|"
                     r"Request Entity Too Large|The requested URL|CSRF token")


def assert_chinese_page(r, code, title):
    html = r.get_data(as_text=True)
    assert r.status_code == code
    assert 'id="error-page"' in html and title in html, html[:800]
    assert "返回上一页" in html and "回到首页" in html
    assert 'class="navbar' in html                     # inside the normal layout, with its menu
    assert not ENGLISH.search(html), ENGLISH.search(html).group(0)
    return html


def other_village_household(engine):
    A, H = engine.models["area"], engine.models["household"]
    village = A.get(A.code == VILLAGES["jiantou"])
    return H.select().where(H.village == village).order_by(H.id).first()


def test_404_403_400_405_pages(any_app):
    engine = engine_of(any_app)
    anonymous = Browser(any_app)
    assert_chinese_page(anonymous.get("/no-such-page"), 404, "找不到这个页面或记录")
    b = Browser(any_app)
    assert b.login("village1").status_code == 302
    assert_chinese_page(b.get("/admin/no-such-page/"), 404, "找不到这个页面或记录")
    outside = other_village_household(engine)
    html = assert_chinese_page(b.get(f"/admin/household/details/?id={outside.id}"), 404, "找不到这个页面或记录")
    assert outside.head_name not in html                # nothing of the other village leaks
    assert_chinese_page(b.get("/admin/settings/"), 403, "没有权限")
    assert_chinese_page(b.get("/admin/audit/"), 403, "没有权限")
    r = b.post("/admin/household/new/", data={"head_name": "张三"}, csrf=False)
    assert "页面已过期或安全校验未通过" in assert_chinese_page(r, 400, "请求有误")
    assert_chinese_page(b.client.put("/admin/"), 405, "操作方式不对")


def test_back_link_is_the_page_the_user_came_from(any_app):
    b = Browser(any_app)
    assert b.login("village1").status_code == 302
    r = b.get("/admin/settings/", headers={"Referer": "http://localhost/admin/household/"})
    assert 'href="http://localhost/admin/household/"' in assert_chinese_page(r, 403, "没有权限")
    r = b.get("/admin/settings/", headers={"Referer": "http://evil.example/"})
    html = assert_chinese_page(r, 403, "没有权限")
    assert "evil.example" not in html


def test_500_pages_in_chinese(any_app, monkeypatch):
    monkeypatch.setitem(any_app.config, "PROPAGATE_EXCEPTIONS", False)
    b = Browser(any_app)
    assert b.login("town1").status_code == 302

    def broken(*a, **kw):
        raise KeyError("id_card")

    def locked(*a, **kw):
        raise peewee.OperationalError("database is locked")

    monkeypatch.setitem(any_app.view_functions, "deadlines.index", broken)
    html = assert_chinese_page(b.get("/admin/deadlines/"), 500, "系统出错了")
    assert "id_card" not in html and "KeyError" not in html
    monkeypatch.setitem(any_app.view_functions, "deadlines.index", locked)
    html = assert_chinese_page(b.get("/admin/deadlines/"), 503, "系统出错了")   # tried twice, then busy
    assert "数据库正忙" in html and "database is locked" not in html


def test_500_page_when_the_layout_itself_fails(any_app, monkeypatch):
    """The menu needs the database: when even that fails the message still goes out, bare but Chinese."""
    monkeypatch.setitem(any_app.config, "PROPAGATE_EXCEPTIONS", False)
    b = Browser(any_app)
    assert b.login("town1").status_code == 302
    admin = any_app.extensions["admin"][0]

    def locked(*a, **kw):
        raise peewee.OperationalError("database is locked")

    monkeypatch.setitem(any_app.view_functions, "deadlines.index", locked)
    monkeypatch.setattr(admin.index_view, "render", locked)
    r = b.get("/admin/deadlines/")
    html = r.get_data(as_text=True)
    assert r.status_code == 503 and "数据库正忙" in html and "回到首页" in html
    assert not ENGLISH.search(html)


def test_413_upload_too_large(any_app, monkeypatch):
    monkeypatch.setitem(any_app.config, "MAX_CONTENT_LENGTH", 10_000)
    b = Browser(any_app)
    assert b.login("town1").status_code == 302
    token = b.page_token()
    r = b.client.post("/admin/imports/check", data={"csrf_token": token, "file": (__import__("io").BytesIO(b"x" * 50_000),
                                                                           "big.xlsx")},
                      content_type="multipart/form-data")
    assert_chinese_page(r, 413, "上传的文件太大")


def history_text(b, url):
    html = b.get(url).get_data(as_text=True)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_history_shows_labels_never_codes(any_app):
    engine = engine_of(any_app)
    S, A = engine.models["case_step"], engine.models["area"]
    b = Browser(any_app)
    assert b.login("town1").status_code == 302
    step = S.select().where(S.action == "finish_investigation").order_by(S.id).first()
    text = history_text(b, f"/admin/case_step/history/?id={step.id}")
    assert "提交调查核对结论" in text and "填写内容" in text and "核对结论：" in text
    assert "finish_investigation" not in text and "操作代码" not in text
    assert "verification_result" not in text and "{" not in text.split("修改记录")[-1]
    H = engine.models["household"]
    village = A.get(A.code == VILLAGES["old_town"])
    h = H.select().where((H.village == village) & (H.archived == False)).order_by(H.id.desc()).first()  # noqa: E712
    r = b.post("/admin/household/delete/", data={"id": str(h.id), "url": "/admin/household/"})
    try:
        assert r.status_code == 302
        admin = Browser(any_app)
        assert admin.login("admin").status_code == 302
        text = history_text(admin, f"/admin/household/history/?id={h.id}")
        assert "已归档 否 是" in text
        assert "False" not in text and "True" not in text and "None" not in text
    finally:
        H.update(archived=False).where(H.id == h.id).execute()      # PostgreSQL's demo is shared
