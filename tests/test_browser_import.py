"""End to end in a real browser: a village assistant uploads a household workbook on the import page,
sees it checked, commits it and finds the household; a file with a wrong ID check digit is refused
with the problem listed and the error workbook offered.

Needs Debian's chromium at /usr/bin/chromium and the `playwright` package (its own browsers are never
downloaded); skipped otherwise. Server and launch helpers as in tests/test_browser.py.
"""
import datetime as dt
import logging
import shutil
import time

import xlsxwriter
from python_calamine import CalamineWorkbook

from schema import idnumber
from reports.template import write_template
from tests.conftest import PASSWORD, make_app
from tests.test_browser import ARGS, CHROMIUM, Server, _playwright, new_page

CODE = "PWI-0001"
SHEETS = ("家庭户", "家庭成员")


def template_headers(registry, tmp_path):
    path = tmp_path / "模板.xlsx"
    write_template(registry, "household", str(path))
    book = CalamineWorkbook.from_path(str(path))
    return {name: [str(h) for h in book.get_sheet_by_name(name).to_python()[0]] for name in SHEETS}


def household_workbook(path, headers, code, head_id, spouse_id):
    rows = {
        SHEETS[0]: [{"户编号": code, "所属村（社区）": "中心社区", "户主姓名": "王导入", "户主身份证号": head_id,
                     "户口性质": "农村", "现住址": "中心社区5号楼"}],
        SHEETS[1]: [{"所属家庭": code, "姓名": "王导入", "身份证号": head_id, "与户主关系": "户主", "月收入": "800"},
                    {"所属家庭": code, "姓名": "赵秀兰", "身份证号": spouse_id, "与户主关系": "配偶", "月收入": "400"}],
    }
    book = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False, "strings_to_formulas": False})
    for name in SHEETS:
        sheet = book.add_worksheet(name)
        sheet.write_row(0, 0, headers[name])
        for r, row in enumerate(rows[name], 1):
            for c, h in enumerate(headers[name]):
                value = row.get(h.rstrip("*"), "")
                if value:
                    sheet.write_string(r, c, value)
    book.close()
    return path


def test_upload_check_commit_and_refuse_a_bad_id(demo_file, tmp_path):
    sync_playwright = _playwright()
    target = tmp_path / "app.db"
    shutil.copy(demo_file, target)
    # TESTING off: checking and writing run in the background thread and the job page polls its
    # status URL and reloads itself, as in production
    app = make_app(f"sqlite:///{target}", TESTING=False)
    engine = app.extensions["jiuzhu"]
    wz_log = logging.getLogger("werkzeug")
    wz_level = wz_log.level
    wz_log.setLevel(logging.ERROR)                              # no access log per static file
    head_id = idnumber.make("370405", dt.date(1968, 5, 6), 135)
    spouse_id = idnumber.make("370405", dt.date(1970, 7, 8), 246)
    headers = template_headers(engine.registry, tmp_path)
    good = household_workbook(tmp_path / "户籍_正确.xlsx", headers, CODE, head_id, spouse_id)
    bad_id = head_id[:17] + ("0" if head_id[17] != "0" else "1")
    bad = household_workbook(tmp_path / "户籍_错号.xlsx", headers, "PWI-0002", bad_id,
                             idnumber.make("370405", dt.date(1971, 1, 2), 322))
    H = engine.models["household"]
    started = time.monotonic()

    try:
        with Server(app) as srv, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            try:
                errors = []
                page = new_page(browser, errors)
                base = srv.base

                # -- log in as the village assistant of 中心社区
                page.goto(f"{base}/login")
                page.fill("input[name=username]", "village1")
                page.fill("input[name=password]", PASSWORD)
                page.locator("button[type=submit], input[type=submit]").filter(has_text="登录").or_(
                    page.locator("input[type=submit][value='登录']")).first.click()
                page.wait_for_url(lambda url: "/login" not in url)

                # -- upload the good workbook and check it
                page.goto(f"{base}/admin/imports/")
                page.wait_for_selector("#import-form")
                page.select_option("#entity", value="household")
                page.check("#mode-create")
                page.set_input_files("#file", str(good))
                page.click("#check-button")
                page.wait_for_url("**/admin/imports/job/**")
                result = page.locator("#result")
                result.filter(has_text="校验通过").or_(page.locator("#problems")).first.wait_for()
                assert "校验通过" in result.inner_text(), page.locator("#job").inner_text()
                assert "共 3 行" in result.inner_text()
                assert not H.select().where(H.code == CODE).exists()          # checked, not written

                # -- commit
                page.click("#commit-button")
                page.locator("#result", has_text="导入完成").wait_for()
                assert "新增 3 条" in page.locator("#result").inner_text()

                # -- the list finds it, with both members counted
                page.goto(f"{base}/admin/household/?search={CODE}")
                table = page.locator("table.model-list")
                table.wait_for()
                row = table.locator("tbody tr", has_text=CODE)
                assert row.count() == 1, table.inner_text()
                assert "王导入" in row.inner_text()
                h = H.get(H.code == CODE)
                assert h.member_count == 2 and str(h.income_per_capita) == "600.00"

                # -- a file with a wrong check digit is refused, the problems listed
                page.goto(f"{base}/admin/imports/")
                page.set_input_files("#file", str(bad))
                page.click("#check-button")
                page.wait_for_url("**/admin/imports/job/**")
                problems = page.locator("#problems")
                problems.or_(page.locator("#commit-button")).first.wait_for()
                assert problems.is_visible(), page.locator("#job").inner_text()
                assert "校验位" in problems.inner_text(), problems.inner_text()
                assert "户主身份证号" in problems.inner_text()
                link = page.locator("#errors-link")
                assert link.count() == 1 and "/errors.xlsx" in link.get_attribute("href")
                assert page.locator("#commit-button").count() == 0
                assert "没有写入任何数据" in page.locator("#result").inner_text()
                assert not H.select().where(H.code == "PWI-0002").exists()
                assert not errors, errors
            finally:
                browser.close()
    finally:
        wz_log.setLevel(wz_level)
        app.extensions["jiuzhu"].db.close()
    assert time.monotonic() - started < 40
