"""The web layer: specs → Flask-Admin views, login, CSRF, Chinese UI. No business rules here."""
import datetime as dt
import os

from flask import Blueprint, g, redirect, url_for
from flask_admin import Admin
from flask_admin.theme import Bootstrap4Theme
from flask_babel import Babel
from flask_wtf.csrf import CSRFProtect

from reports import document
from schema import SchemaError

from . import access_log, auth, errors, headers, menus, presets, todo, versioning
from .audit_view import AuditLogView, HomeView, SettingsView
from .import_view import ImportView
from .care_view import CareModelView
from .case_view import CaseModelView
from .checks_view import ChecksView
from .deadlines_view import DeadlinesView
from .notice_view import NoticeView
from .payment_view import PaymentView
from .report_view import ReportView
from .roster_view import RosterView
from .review_view import ReviewView
from .security_view import SecurityLogView, SecurityView
from .spotcheck_view import SpotCheckView
from .village_report_view import VillageReportView
from .model_view import SchemaModelView

csrf = CSRFProtect()


def init_app(app, engine):
    app.extensions["jiuzhu"] = engine
    app.register_blueprint(Blueprint("ui", __name__, template_folder="templates", static_folder="static",
                                     static_url_path="/ui-static"))
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "zh_Hans_CN")
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = app.config.get("SESSION_COOKIE_SAMESITE") or "Lax"
    app.config.setdefault("REMEMBER_COOKIE_HTTPONLY", True)
    # Flask defines both keys (31 days, no cap), so setdefault would never apply: set them. The cookie's
    # lifetime is only an outer bound; the server-side session (casework/accounts) enforces the setting.
    app.config["PERMANENT_SESSION_LIFETIME"] = dt.timedelta(hours=engine_setting(engine, "session_hours"))
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    # uploads a little above the import limit reach the importer, which refuses them with its message;
    # anything larger is refused by Werkzeug before it is read (nothing is written to disk)
    app.config["MAX_CONTENT_LENGTH"] = (engine_setting(engine, "import_max_mb") + 5) * 1024 * 1024
    # flask-admin switches to flask-babel whenever it is importable: Babel(app) is mandatory
    Babel(app, locale_selector=lambda: "zh_Hans_CN")
    csrf.init_app(app)
    auth.login_manager.init_app(app)

    @app.before_request
    def _settings_once():
        # first of all: the session check and every page read their settings from one query
        g.settings_token = engine.settings.begin_once()

    @app.teardown_request
    def _settings_done(exc):
        token = g.pop("settings_token", None)
        if token is not None:
            engine.settings.end_once(token)
    app.jinja_env.globals.setdefault("zip", zip)
    app.register_blueprint(auth.bp)
    app.before_request(auth.check_session)
    # browsers ask for /favicon.ico whatever the page says
    app.add_url_rule("/favicon.ico", "favicon", lambda: redirect(url_for("ui.static", filename="favicon.svg")))
    app.before_request(auth.set_actor)
    app.after_request(access_log.after_request)
    app.teardown_request(auth.clear_actor)

    @app.before_request
    def _connect():
        engine.db.connect(reuse_if_open=True)

    @app.teardown_request
    def _close(exc):
        if not engine.db.is_closed() and not app.config.get("KEEP_DB_OPEN"):
            engine.db.close()

    app.session_interface = headers.SessionInterface()
    admin = Admin(app, name="救助台账", theme=Bootstrap4Theme(swatch="default", fluid=True,
                                                              base_template="jiuzhu/master.html"),
                  csp_nonce_generator=headers.nonce,
                  index_view=HomeView(engine, name="首页", url="/admin"),
                  translations_path=os.path.join(os.path.dirname(os.path.abspath(__file__)), "translations"))
    with_flow = engine.flow.entities()
    try:
        # a broken document template must not stop the office's work: it is reported and left out
        engine.documents, engine.document_error = document.load(engine.registry), None
    except SchemaError as e:
        engine.documents, engine.document_error = {}, f"文书模板有误，暂不能打印文书：{e}"
        app.logger.error(engine.document_error)
    for spec in engine.registry.entities.values():
        view_class = CaseModelView if spec.name in with_flow else CareModelView if spec.name == "care" \
            else SchemaModelView
        admin.add_view(view_class(engine, spec, name=spec.label, endpoint=spec.name, category=spec.menu))
        if spec.archive:
            archived = type(f"Archived{spec.name.title()}View", (SchemaModelView,), {"archived_mode": True})
            admin.add_view(archived(engine, spec, name=f"已归档的{spec.label}", endpoint=f"{spec.name}_archive",
                                    category="归档与审计"))
    if with_flow:
        admin.add_view(DeadlinesView(engine, name="办理期限", endpoint="deadlines", category="救助事项"))
    for notice in engine.registry.notices.values():
        admin.add_view(NoticeView(engine, notice, name=notice.label, endpoint=f"notice_{notice.name}",
                                  url=f"/admin/notices/{notice.name}", category="救助事项"))
    if "payment" in engine.registry.entities:
        admin.add_view(PaymentView(engine, name="按月发放", endpoint="payments", category="资金"))
        admin.add_view(RosterView(engine, name="村级花名册", endpoint="roster", category="资金"))
        admin.add_view(ReviewView(engine, name="定期复核", endpoint="reviews", category="救助对象"))
    if "village_report" in engine.registry.entities:
        admin.add_view(VillageReportView(engine, name="村级月报报送情况", endpoint="village_reports", category="救助对象"))
    if "check_result" in engine.registry.entities:
        admin.add_view(ChecksView(engine, name="比对概况", endpoint="checks", category="数据比对"))
    if "spot_check" in engine.registry.entities:
        admin.add_view(SpotCheckView(engine, name="随机抽查", endpoint="spotcheck", category="监督检查"))
    admin.add_view(ReportView(engine, name="统计报表", endpoint="reports"))
    admin.add_view(ImportView(engine, name="Excel 导入", endpoint="imports"))
    admin.add_view(AuditLogView(engine, name="修改记录", endpoint="audit", category="归档与审计"))
    admin.add_view(SecurityLogView(engine, name="安全审计记录", endpoint="security_log", url="/admin/security-log",
                                   category="归档与审计"))
    admin.add_view(SettingsView(engine, name="系统设置", endpoint="settings", category="系统管理"))
    admin.add_view(SecurityView(engine, name="账号安全", endpoint="security", url="/admin/security",
                                category="系统管理"))
    menus.init_app(app, admin, engine.registry)
    todo.init_app(app, engine, admin)
    presets.init_app(app, engine)
    errors.init_app(app, admin)
    headers.install(app, admin)
    versioning.install(app)
    return admin


def engine_setting(engine, key):
    try:
        return engine.settings.get(key)
    except Exception:
        # before the first migration the settings table may not exist yet
        return engine.registry.settings[key].default
