"""End to end in a real browser: a village assistant creates a household with two members, finds it,
sees the derived member count, and exports the searched list to Excel.

Needs Debian's chromium at /usr/bin/chromium and the `playwright` package (its own browsers are never
downloaded); skipped otherwise.
"""
import datetime as dt
import logging
import os
import shutil
import threading
import time

import pytest

from schema import idnumber
from tests.conftest import PASSWORD, make_app

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT = 15_000          # ms, for every wait
CODE = "PW-0001"


def _playwright():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} 不存在（apt-get install chromium）")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("未安装 playwright Python 包")
    return sync_playwright


class Server:
    """The app on 127.0.0.1 with a free port, served by werkzeug in a daemon thread."""

    def __init__(self, app):
        from werkzeug.serving import make_server
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def new_page(browser, errors, **context_options):
    """A Chinese-locale page whose script errors are collected in `errors`."""
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900}, **context_options)
    context.set_default_timeout(TIMEOUT)
    page = context.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    return page


def _flashes(page):
    return [t.strip() for t in page.locator(".alert").all_inner_texts()]


def test_household_create_search_details_export(demo_file, tmp_path):
    sync_playwright = _playwright()
    target = tmp_path / "app.db"
    shutil.copy(demo_file, target)
    app = make_app(f"sqlite:///{target}")
    wz_log = logging.getLogger("werkzeug")
    wz_level = wz_log.level
    wz_log.setLevel(logging.ERROR)                              # no access log per static file
    head_id = idnumber.make("370405", dt.date(1970, 3, 4), 123)
    spouse_id = idnumber.make("370405", dt.date(1972, 8, 9), 246)
    started = time.monotonic()

    try:
        with Server(app) as srv, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            try:
                errors, lookups = [], []
                page = new_page(browser, errors, accept_downloads=True)
                page.on("response", lambda r: "/ajax/lookup/" in r.url and lookups.append(
                    f"{r.status} {r.url.split('/admin/', 1)[-1]}"))
                base = srv.base

                # -- log in as the village assistant of 中心社区
                page.goto(f"{base}/login")
                page.fill("input[name=username]", "village1")
                page.fill("input[name=password]", PASSWORD)
                page.locator("button[type=submit], input[type=submit]").filter(has_text="登录").or_(
                    page.locator("input[type=submit][value='登录']")).first.click()
                page.wait_for_url(lambda url: "/login" not in url)

                # -- the household form
                page.goto(f"{base}/admin/household/new/")
                page.wait_for_selector("#code")
                page.fill("#code", CODE)

                # 所属村（社区）: select2 3.5 over a hidden input, AJAX lookup narrowed by typing
                page.click("#s2id_village")
                search = page.locator(".select2-drop-active input.select2-input")
                search.wait_for(state="visible")
                search.type("中心")
                drop = page.locator(".select2-drop-active")
                with_results = drop.locator(".select2-result-label", has_text="中心社区")
                # results, "no matches" or "loading failed": whichever comes first ends the wait
                drop.locator(".select2-result-label:has-text('中心社区'), .select2-no-results, "
                             ".select2-ajax-error").first.wait_for(state="visible")
                if with_results.count() == 0:
                    pytest.fail(f"所属村（社区）检索“中心”无“中心社区”，下拉框显示：{drop.inner_text()!r}；"
                                f"AJAX 请求：{lookups}")
                with_results.first.click()
                assert page.input_value("#village"), "选中中心社区后隐藏字段 village 仍为空"
                assert "中心社区" in page.locator("#s2id_village .select2-chosen").inner_text()

                page.fill("#head_name", "张建国")
                page.fill("#head_id_number", head_id)
                page.select_option("#hukou_type", value="1")
                assert page.locator("#hukou_type option:checked").inner_text() == "城镇"

                # -- two members inline: the head's row is already there, made from the head fields
                add = page.locator(".inline-field > a.btn").filter(has_text="添加")
                rows = page.locator(".inline-field-list > .inline-field")
                head = rows.nth(0)
                assert head.locator("input[name$='-name']").input_value() == "张建国"
                assert head.locator("input[name$='-id_number']").input_value() == head_id
                assert head.locator("select[name$='-relation']").input_value() == "02"
                add.first.click()
                rows.nth(1).wait_for(state="visible")
                row = rows.nth(1)
                row.locator("input[name$='-name']").fill("李秀英")
                row.locator("input[name$='-id_number']").fill(spouse_id)
                row.locator("select[name$='-relation']").select_option(value="10")
                assert rows.count() == 2
                page.screenshot(path=str(tmp_path / "household_form.png"), full_page=True)

                with page.expect_navigation():
                    page.locator("input[type=submit][value='保存']").click()
                assert "/new/" not in page.url, f"保存后仍停留在新建页：{_flashes(page)}"
                flashes = _flashes(page)
                assert not any("失败" in f or "错误" in f for f in flashes), flashes

                # -- the list finds it by code
                page.goto(f"{base}/admin/household/?search={CODE}")
                table = page.locator("table.model-list")
                table.wait_for()
                row = table.locator("tbody tr", has_text=CODE)
                assert row.count() == 1, page.locator("table.model-list").inner_text()

                # -- details: the derived member count
                row.locator("a[href*='/details/']").first.click()
                page.wait_for_url("**/details/**")
                details = page.locator("table").first
                details.wait_for()
                cell = page.locator("tr", has=page.locator("td", has_text="家庭人口")).locator("td").nth(1)
                assert cell.inner_text().strip() == "2", page.locator("table").first.inner_text()

                # -- export the searched list
                page.goto(f"{base}/admin/household/?search={CODE}")
                export = page.locator("a[href*='/admin/household/export/xlsx/']")
                export.first.wait_for(state="attached")
                if not export.first.is_visible():            # inside a closed dropdown
                    page.locator(".nav-link.dropdown-toggle", has_text="导出").first.click()
                with page.expect_download(timeout=TIMEOUT) as info:
                    export.first.click()
                download = info.value
                assert "家庭户" in download.suggested_filename, download.suggested_filename
                path = tmp_path / "export.xlsx"
                download.save_as(path)

                from python_calamine import CalamineWorkbook
                sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
                header = [str(c) for c in sheet[0]]
                assert "户编号" in header, header
                data = [r for r in sheet[1:] if any(str(c) == CODE for c in r)]
                assert len(data) == 1, sheet
                assert len(sheet) == 2, sheet                 # the search applies to the export
                assert not errors, errors
            finally:
                browser.close()
    finally:
        wz_log.setLevel(wz_level)
        app.extensions["jiuzhu"].db.close()
    assert time.monotonic() - started < 60
