"""Response headers of 等保 2.0 (数据保密性, 剩余信息保护): a Content-Security-Policy without inline scripts,
no framing, no MIME sniffing, no referrer to other sites, no caching of pages with personal data,
and cookies marked Secure whenever the request came over HTTPS (directly or through the proxy)."""
import base64
import hashlib
import secrets

from flask import g, has_request_context, request
from flask.sessions import SecureCookieSessionInterface
from flask_admin.babel import gettext
from flask_admin.model.fields import InlineFieldList


def nonce():
    """One per response, for the few inline scripts flask-admin writes itself (it asks for a nonce)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def _sha(text):
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


def admin_handlers(admin):
    """Hashes of the fixed onclick attributes in flask-admin's own templates (filters, row delete,
    mass actions, inline rows): allowed by exact text ('unsafe-hashes'), so an injected handler is not."""
    confirm = gettext("Are you sure you want to delete this record?")
    texts = {"return false;", f"return faHelpers.safeConfirm('{confirm}');"}
    for view in admin._views:
        for name in getattr(view, "_actions_data", {}) or {}:
            texts.add(f"return modelActions.execute('{name}');")
        form_class = getattr(view, "_create_form_class", None)
        for name, unbound in (vars(form_class).items() if form_class else ()):
            field_class = getattr(unbound, "field_class", None)
            if isinstance(field_class, type) and issubclass(field_class, InlineFieldList):
                texts.add(f"faForm.addInlineField(this, '{name}');")
    return " ".join(sorted(_sha(t) for t in texts))


def install(app, admin):
    cache = {}

    @app.after_request
    def security_headers(response):
        if "handlers" not in cache:
            cache["handlers"] = admin_handlers(admin)
        h = response.headers
        h.setdefault("Content-Security-Policy", (
            "default-src 'self'; "
            f"script-src 'self' 'nonce-{nonce()}' 'unsafe-hashes' {cache['handlers']}; "
            "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
            "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"))
        h.setdefault("X-Frame-Options", "DENY")
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("Referrer-Policy", "same-origin")
        if request.endpoint and not request.endpoint.endswith("static"):
            h.setdefault("Cache-Control", "no-store")
        if request.is_secure:
            h.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response


class SessionInterface(SecureCookieSessionInterface):
    """The session cookie is Secure when configured so, and always when this request came over HTTPS."""

    def get_cookie_secure(self, app):
        return bool(super().get_cookie_secure(app) or (has_request_context() and request.is_secure))
