"""Headers on every page (等保 2.0 数据保密性): CSP without inline scripts, no framing, nosniff, referrer
policy, no caching of pages with personal data; Secure cookies over HTTPS; no inline script left."""
import os
import re

from .conftest import Browser, engine_of

PAGES = ["/login", "/admin/", "/admin/household/", "/admin/household/new/", "/admin/member/", "/admin/case/",
         "/admin/reports/", "/admin/imports/", "/admin/audit/", "/admin/settings/", "/admin/security/",
         "/admin/security-log/", "/admin/payments/", "/password"]
TEMPLATES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "admin_views", "templates")


def test_security_headers_on_every_page(any_app):
    b = Browser(any_app)
    b.login("admin")
    for url in PAGES:
        r = b.get(url)
        assert r.status_code in (200, 302), url
        csp = r.headers["Content-Security-Policy"]
        script = [d for d in csp.split(";") if d.strip().startswith("script-src")][0]
        assert "'unsafe-inline'" not in script and "frame-ancestors 'none'" in csp, url
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["X-Frame-Options"] == "DENY"
        assert r.headers["Referrer-Policy"] == "same-origin"
        assert r.headers["Cache-Control"] == "no-store", url
    household = engine_of(any_app).models["household"].select().first()
    r = b.get(f"/admin/household/details/?id={household.id}")
    assert "Content-Security-Policy" in r.headers and r.headers["Cache-Control"] == "no-store"


def test_inline_scripts_carry_the_nonce_of_their_response(any_app):
    b = Browser(any_app)
    b.login("admin")
    r = b.get("/admin/household/")
    nonce = re.search(r"'nonce-([^']+)'", r.headers["Content-Security-Policy"]).group(1)
    html = r.get_data(as_text=True)
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert "src=" in tag or f'nonce="{nonce}"' in tag or "application/json" in tag, tag
    assert nonce not in b.get("/admin/household/").headers["Content-Security-Policy"]


def test_no_inline_script_or_handler_in_our_templates():
    found = []
    for root, _dirs, files in os.walk(TEMPLATES):
        for name in files:
            text = open(os.path.join(root, name), encoding="utf-8").read()
            for tag in re.findall(r"<script\b[^>]*>", text):
                if "src=" not in tag and "application/json" not in tag:
                    found.append((name, tag))
            found += [(name, m) for m in re.findall(r"\son[a-z]+=\"", text)]
            found += [(name, m) for m in re.findall(r"javascript:", text)]
    assert not found, found


def test_cookies_are_secure_behind_https(any_app):
    b = Browser(any_app)
    r = b.client.get("/login", base_url="https://jiuzhu.example")
    m = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', r.get_data(as_text=True))
    r = b.client.post("/login", base_url="https://jiuzhu.example",
                      data={"username": "admin", "password": "jiuzhu-demo", "csrf_token": m.group(1)},
                      headers={"Referer": "https://jiuzhu.example/login"})     # Flask-WTF checks it over HTTPS
    assert r.status_code == 302
    assert "Secure" in r.headers["Set-Cookie"] and "HttpOnly" in r.headers["Set-Cookie"]
    assert r.headers["Strict-Transport-Security"].startswith("max-age=")
    plain = Browser(any_app).login("admin")
    assert "Secure" not in plain.headers["Set-Cookie"]
