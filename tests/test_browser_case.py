"""In a real browser: a township clerk registers a 低保 application, takes it through investigation
and review to the public notice; after the notice period the township leader approves it."""
import datetime as dt
import logging
import shutil

from tests.conftest import PASSWORD, make_app
from tests.test_browser import ARGS, CHROMIUM, Server, _flashes, _playwright, new_page
from schema import clock


def _login(page, base, username):
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.locator("input[type=submit][value='登录'], button[type=submit]").first.click()
    page.wait_for_url(lambda url: "/login" not in url)


def _submit_and_wait(page, button):
    """Click a submit button and wait until a new document has loaded (the POST answers with a
    redirect to the same URL, so the URL cannot tell; a mark on the old window can)."""
    page.evaluate("window.__old_page = true")
    button.click()
    page.wait_for_function("() => window.__old_page === undefined && document.readyState !== 'loading'",
                           timeout=30_000)


def _take(page, name, fill=None, select=None):
    """Open a transition's form on the case page, fill it, confirm, and come back to the page."""
    page.click(f"#btn-{name}")
    # Bootstrap opens the form with a 0.35 s height transition; on a loaded machine a click made while
    # the form is still growing can land beside the clipped button, and nothing is submitted
    form = page.locator(f"#t-{name}.collapse.show")
    form.wait_for(state="visible")
    for field, value in (fill or {}).items():
        form.locator(f"#{name}-{field}").fill(value)
    for field, value in (select or {}).items():
        form.locator(f"#{name}-{field}").select_option(value=value)
    _submit_and_wait(page, form.locator(f"#do-{name}"))
    flashes = _flashes(page)
    assert any("已办理" in f for f in flashes), flashes


def test_township_takes_a_dibao_case_to_approval(demo_file, tmp_path):
    sync_playwright = _playwright()
    target = tmp_path / "app.db"
    shutil.copy(demo_file, target)
    app = make_app(f"sqlite:///{target}")
    engine = app.extensions["jiuzhu"]
    today = {"date": dt.date.today()}
    clock.set(lambda: today["date"])
    H, A = engine.models["household"], engine.models["area"]
    household = H.select().where(H.village.in_(A.select(A.id).where(A.code == "370405001001")),
                                 H.income_per_capita < 500).order_by(H.id).first()       # below the standard
    wz_log = logging.getLogger("werkzeug")
    level = wz_log.level
    wz_log.setLevel(logging.ERROR)
    try:
        with Server(app) as srv, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            try:
                errors = []
                page = new_page(browser, errors)
                base = srv.base
                _login(page, base, "town1")

                # -- register the application
                page.goto(f"{base}/admin/case/new/")
                page.click("#s2id_household")
                search = page.locator(".select2-drop-active input.select2-input")
                search.wait_for(state="visible")
                search.type(household.code)
                result = page.locator(".select2-drop-active .select2-result-label", has_text=household.code)
                result.first.wait_for(state="visible")
                result.first.click()
                page.select_option("#assistance_type", value={"1": "11", "2": "12"}[household.hukou_type])
                page.fill("#applicant_name", household.head_name)
                page.fill("#applicant_id_number", household.head_id_number)
                page.fill("#apply_date", today["date"].isoformat())
                for n in range(5):                      # the five materials every 低保 application needs
                    page.check(f"#materials-{n}")
                _submit_and_wait(page, page.locator("input[type=submit][value='保存']"))
                assert "/new/" not in page.url, _flashes(page)

                case = engine.models["case"].select().order_by(engine.models["case"].id.desc()).first()
                page.goto(f"{base}/admin/case/details/?id={case.id}")
                assert page.inner_text("#case-state") == "已受理"
                assert "调查核对" in page.inner_text("#case-deadlines")

                _take(page, "start_investigation")
                _take(page, "record_home_visit", fill={
                    "home_visit_date": today["date"].isoformat(), "investigator_1": "张明", "investigator_2": "李红",
                    "home_visit_record": "入户查看住房和收入情况"})
                _take(page, "finish_investigation", fill={"verification_record": "经济状况核对无异常"},
                      select={"verification_result": "pass"})
                _take(page, "propose", fill={"proposed_amount": "420"})
                assert page.inner_text("#case-state") == "公示中"
                assert "公示期满后才能审批" not in page.inner_text("#case-progress")   # staff see no approve button
                page.screenshot(path=str(tmp_path / "case_publicity.png"), full_page=True)

                # -- after the notice period the leader approves
                today["date"] = today["date"] + dt.timedelta(days=6)
                page.locator("form[action*='logout'] button").click()
                _login(page, base, "leader1")
                page.goto(f"{base}/admin/case/details/?id={case.id}")
                _take(page, "approve", fill={"decided_amount": "420", "opinion": "同意纳入低保"})
                assert page.inner_text("#case-state") == "已批准"
                timeline = page.inner_text("#case-timeline")
                for label in ("受理登记", "开始调查核对", "登记入户调查", "提交调查核对结论", "进入公示", "批准"):
                    assert label in timeline, timeline
                assert "运河街道分管领导" in timeline and "同意纳入低保" in timeline
                assert not errors, errors
            finally:
                browser.close()
    finally:
        wz_log.setLevel(level)
        engine.db.close()
    row = engine.models["case"].get_by_id(case.id)
    assert (row.state, str(row.decided_amount)) == ("approved", "420.00")
