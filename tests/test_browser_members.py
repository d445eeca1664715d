"""The member grid in Debian's chromium at 1366×768: village1 enters a two-member household by typing
and by pasting two rows from Excel; both fit on one screen; bad rows are marked in place, all at once,
with Chinese labels; the head-not-a-member refusal; every error page in Chinese."""
import datetime as dt
import logging
import shutil

from schema import idnumber
from tests.conftest import PASSWORD, engine_of, make_app
from tests.test_browser import ARGS, CHROMIUM, Server, _playwright, new_page

SCREEN = {"width": 1366, "height": 768}


def _login(page, base, username):
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.locator("button[type=submit]").first.click()
    page.wait_for_url(lambda url: "/login" not in url)


def _start(page, base, code):
    page.goto(f"{base}/admin/household/new/")
    page.wait_for_selector(".jz-grid-row")
    page.fill("#code", code)
    page.select_option("#hukou_type", value="2")


def _height(page):
    return page.evaluate("document.documentElement.scrollHeight")


def test_member_grid_typing_pasting_and_errors(demo_file, tmp_path):
    sync_playwright = _playwright()
    target = tmp_path / "app.db"
    shutil.copy(demo_file, target)
    app = make_app(f"sqlite:///{target}")
    engine = engine_of(app)
    H, M = engine.models["household"], engine.models["member"]
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    head, wife = idnumber.make("370405", dt.date(1966, 5, 6), 135), idnumber.make("370405", dt.date(1968, 7, 8), 246)
    head2, son = idnumber.make("370405", dt.date(1971, 1, 2), 357), idnumber.make("370405", dt.date(1999, 9, 9), 468)
    with Server(app) as srv, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            errors = []
            page = new_page(browser, errors)
            page.set_viewport_size(SCREEN)
            _login(page, srv.base, "village1")

            # -- by typing: the head once (the head's row follows), the spouse in the next row
            _start(page, srv.base, "GRID-0001")
            assert "中心社区" in page.locator("#s2id_village .select2-chosen").inner_text()   # the only village
            page.fill("#head_name", "王大山")
            page.fill("#head_id_number", head)
            rows = page.locator(".inline-field-list > .inline-field")
            assert rows.count() == 1
            assert rows.nth(0).locator("input[name$='-name']").input_value() == "王大山"
            assert rows.nth(0).locator("select[name$='-sex']").input_value() == "1"
            assert rows.nth(0).locator("input[name$='-birth_date']").input_value() == "1966-05-06"
            relation = rows.nth(0).locator("select[name$='-relation'] option")
            assert relation.nth(1).inner_text() == "户主" and relation.nth(2).inner_text() == "配偶"
            page.locator("#members-button").click()
            spouse = rows.nth(1)
            spouse.locator("input[name$='-name']").fill("赵小红")
            spouse.locator("input[name$='-id_number']").fill(wife)
            spouse.locator("select[name$='-relation']").select_option(value="10")
            assert spouse.locator("select[name$='-sex']").input_value() == "2"
            typed_height = _height(page)
            page.screenshot(path=str(tmp_path / "typed.png"), full_page=True)
            assert typed_height <= SCREEN["height"], typed_height
            with page.expect_navigation():
                page.locator("input[type=submit][value='保存']").click()
            h = H.get(H.code == "GRID-0001")
            members = {m.name: m for m in M.select().where(M.household == h)}
            assert set(members) == {"王大山", "赵小红"} and members["王大山"].relation == "02"
            assert members["赵小红"].sex == "2" and h.member_count == 2

            # -- by pasting two rows from Excel: the head fields follow the head's row
            _start(page, srv.base, "GRID-0002")
            page.locator("#jz-paste summary").click()
            page.fill("#jz-paste-text", f"孙立\t{head2}\t户主\t\t\t800\n孙小明\t{son}\t子\t\t\t0\n")
            page.locator("#jz-paste-add").click()
            assert rows.count() == 2
            assert page.input_value("#head_name") == "孙立" and page.input_value("#head_id_number") == head2
            assert rows.nth(1).locator("select[name$='-relation']").input_value() == "20"
            pasted_height = _height(page)
            page.screenshot(path=str(tmp_path / "pasted.png"), full_page=True)
            assert pasted_height <= SCREEN["height"] and abs(pasted_height - typed_height) <= 40
            with page.expect_navigation():
                page.locator("input[type=submit][value='保存']").click()
            h2 = H.get(H.code == "GRID-0002")
            assert M.select().where(M.household == h2).count() == 2 and h2.head_name == "孙立"
            assert str(M.get(M.id_number == head2).monthly_income) == "800.00"

            # -- bad rows: every problem marked at its field at once, in Chinese, nothing sent
            _start(page, srv.base, "GRID-0003")
            bad = head2[:-1] + ("0" if head2[-1] != "0" else "1")
            page.locator("#jz-paste summary").click()
            page.fill("#jz-paste-text", f"\t{bad}\t户主\n李四\t{son}\t外星人\n")
            page.locator("#jz-paste-add").click()
            page.locator("input[type=submit][value='保存']").click()
            messages = page.locator(".jz-grid .invalid-feedback").all_inner_texts()
            assert "姓名不能为空" in messages and "身份证号校验位不对，请核对号码" in messages
            assert "“外星人”不在“与户主关系”的选项中" in messages
            assert page.locator(".jz-row-error").count() == 2
            assert "/new/" in page.url and not H.select().where(H.code == "GRID-0003").exists()

            # -- the head must be among the members: refused before sending, said in Chinese
            _start(page, srv.base, "GRID-0004")
            page.fill("#head_name", "周五")
            page.fill("#head_id_number", head)
            rows.nth(0).locator("select[name$='-relation']").select_option(value="10")
            page.locator("input[type=submit][value='保存']").click()
            assert "成员中要有一位“与户主关系”为户主的人" in page.locator("#jz-grid-note").inner_text()
            assert "/new/" in page.url and not H.select().where(H.code == "GRID-0004").exists()

            # -- a phone (390 px): list, details, the grid and a case page never scroll sideways
            page.set_viewport_size({"width": 390, "height": 844})
            case = engine.models["case"].select().where(engine.models["case"].village == h.village).first()
            for url in ["/admin/household/", f"/admin/household/details/?id={h.id}", "/admin/household/new/",
                        f"/admin/household/edit/?id={h.id}", f"/admin/case/details/?id={case.id}", "/admin/"]:
                page.goto(srv.base + url)
                width = page.evaluate("document.documentElement.scrollWidth")
                assert width <= 390, (url, width)
            page.goto(srv.base + "/admin/")
            assert page.evaluate("Chart.getChart('chart-history').scales.y.min") == 0      # axes from zero
            assert page.evaluate("Chart.getChart('chart-types').scales.y.min") == 0
            # -- an error page in the browser: Chinese, inside the layout
            page.goto(srv.base + "/admin/household/details/?id=999999")
            assert "找不到这个页面或记录" in page.locator("#error-page").inner_text()
            assert not errors, errors
        finally:
            browser.close()
    engine.db.close()
