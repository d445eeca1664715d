"""In a real browser with the Content-Security-Policy in force: the main pages, their menus, filters,
inline rows, row delete and the report picker run without a single CSP violation in the console."""
import logging
import shutil

from tests.conftest import PASSWORD, make_app
from tests.test_browser import ARGS, CHROMIUM, Server, _playwright, new_page

WATCH = """document.addEventListener('securitypolicyviolation', function (e) {
  (window.__csp = window.__csp || []).push(location.pathname + ' ' + e.violatedDirective + ' ' +
    (e.blockedURI || '') + ' ' + (e.sample || '') + ' line ' + e.lineNumber);
});"""


def test_main_pages_run_under_the_csp_without_violation(demo_file, tmp_path):
    sync_playwright = _playwright()
    target = tmp_path / "app.db"
    shutil.copy(demo_file, target)
    app = make_app(f"sqlite:///{target}")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    try:
        with Server(app) as srv, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            try:
                errors, console = [], []
                page = new_page(browser, errors)
                page.add_init_script(WATCH)
                page.on("console", lambda m: ("Content Security Policy" in m.text or "Refused to" in m.text)
                        and console.append(page.url + " " + m.text))
                page.on("dialog", lambda d: d.dismiss())          # the delete confirmation: say no
                base = srv.base
                page.goto(f"{base}/login")
                page.fill("input[name=username]", "admin")
                page.fill("input[name=password]", PASSWORD)
                page.locator("button[type=submit]").click()
                page.wait_for_url(lambda url: "/login" not in url)
                violations = []

                def visit(path):
                    page.goto(base + path)
                    page.wait_for_load_state("networkidle")
                    violations.extend(page.evaluate("window.__csp || []"))

                visit("/admin/")
                assert page.locator("#chart-types").count() == 1
                visit("/admin/household/")
                page.locator("a.dropdown-toggle", has_text="添加筛选器").first.click()
                page.locator(".field-filters a.filter").first.click()
                page.locator("tbody tr").first.locator("form button").first.click()     # row delete: asks
                page.locator("tbody input.action-checkbox").first.check()
                page.locator("a.dropdown-toggle", has_text="选中的").first.click()
                page.locator(".dropdown-menu a.dropdown-item", has_text="删除").first.click()     # asks too
                assert "/admin/household/" in page.url
                violations.extend(page.evaluate("window.__csp || []"))
                visit("/admin/household/new/")
                rows = page.locator(".inline-field-list > .inline-field").count()    # the head's row is there already
                page.locator(".inline-field > a.btn").filter(has_text="添加").first.click()
                assert page.locator(".inline-field-list > .inline-field").count() == rows + 1
                violations.extend(page.evaluate("window.__csp || []"))
                visit("/admin/reports/")
                with page.expect_navigation():
                    page.select_option("#report", index=1)
                assert "report=" in page.url                      # the picker submits through jiuzhu.js
                violations.extend(page.evaluate("window.__csp || []"))
                for path in ("/admin/member/", "/admin/case/", "/admin/payments/", "/admin/imports/",
                             "/admin/audit/", "/admin/settings/", "/admin/security/", "/admin/security-log/",
                             "/admin/deadlines/", "/password"):
                    visit(path)
                assert not violations and not console, (violations, console)
                assert not errors, errors
            finally:
                browser.close()
    finally:
        app.extensions["jiuzhu"].db.close()
