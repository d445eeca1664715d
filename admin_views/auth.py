"""Login, logout, password change, the live-session check, the current user, and the slow-down and
lockout after repeated failed logins (the rules are in casework/accounts)."""
import datetime as dt

import re
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from werkzeug.security import check_password_hash

from casework.core import system
from casework.core.accounts import END_MESSAGES
from schema import RecordInvalid

from .forms import LoginForm, PasswordChangeForm

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "请先登录。"
login_manager.session_protection = "strong"


class SessionUser(UserMixin):
    def __init__(self, record):
        self.record = record

    def get_id(self):
        return str(self.record.id)


def engine():
    return current_app.extensions["jiuzhu"]


@login_manager.user_loader
def load_user(user_id):
    User = engine().models["user"]
    try:
        record = User.get_or_none(User.id == int(user_id))
    except ValueError:
        return None
    if record is None or not record.active:
        return None
    return SessionUser(record)


def current():
    """The signed-in user's record, or None."""
    if not current_user or not current_user.is_authenticated:
        return None
    return current_user.record


class Guarded:
    """Mixin for views: the anonymous go to the login page, the signed-in but not allowed get 403."""

    def inaccessible_callback(self, name, **kwargs):
        if current() is None:
            return redirect(url_for("auth.login", next=request.full_path))
        abort(403)


def client_ip():
    return request.remote_addr or ""


def wait_seconds(ip):
    """Seconds this address must still wait before another try. An account locks after its own
    failures (casework/accounts); an office shares one address, so the address gets a larger allowance."""
    settings = engine().settings
    since = dt.datetime.now() - dt.timedelta(minutes=settings.get("login_window_minutes"))
    return _delay(LA_query(since, ip=ip), settings.get("login_max_failures_per_ip"), settings.get("login_lock_seconds"))


def LA_query(since, username=None, ip=None):
    LA = engine().system.LoginAttempt
    q = LA.select().where(LA.at > since)
    q = q.where(LA.username == username) if username is not None else q.where(LA.ip == ip)
    return q.order_by(LA.at.desc(), LA.id.desc()).limit(500)


def _delay(attempts, allowed, step):
    """Failures since the last success; past the allowance each one adds `step` seconds."""
    failures, last = 0, None
    for row in attempts:
        if row.success:
            break
        failures += 1
        last = last or row.at
    if failures < allowed or last is None:
        return 0
    remaining = (last + dt.timedelta(seconds=step * (failures - allowed + 1)) - dt.datetime.now()).total_seconds()
    return max(0, int(remaining + 0.999))


def safe_next(target):
    """A same-site path to go to after login, else the home page.

    Browsers drop tabs and newlines from a URL and read a backslash as a slash, so `/%09/evil.example/`
    and `/\\evil.example` name another host: normalise first, then accept only a plain path."""
    cleaned = re.sub(r"[\x00-\x1f\x7f]", "", (target or "").strip()).replace("\\", "/")
    parts = urlsplit(cleaned)
    if not cleaned.startswith("/") or cleaned.startswith("//") or parts.scheme or parts.netloc:
        return url_for("admin.index")
    return cleaned


def _refuse(message, status):
    flash(message, "error")
    # the typed name stays in the form; the password never comes back
    form = LoginForm(formdata=None, username=request.form.get("username"))
    return render_template("jiuzhu/login.html", form=form), status


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if request.method == "POST" and form.validate_on_submit():
        eng = engine()
        accounts, log, settings = eng.accounts, eng.security_log, eng.settings
        username = form.username.data.strip()
        ip = client_ip()
        locked = accounts.locked_minutes(username)
        if locked:
            log.record("login_failed", username=username, ip=ip, subject=username, detail="账号锁定期间尝试登录")
            return _refuse(f"该账号连续登录失败次数过多，已锁定，请 {locked} 分钟后再试，或请安全管理员解锁。", 423)
        wait = wait_seconds(ip)
        if wait:
            return _refuse(f"登录失败次数过多，请 {wait} 秒后再试。", 429)
        User = eng.models["user"]
        record = User.get_or_none(User.username == username)
        ok = accounts.check(record, form.password.data) and bool(record.active)
        eng.system.LoginAttempt.create(at=dt.datetime.now(), username=username[:40], ip=ip, success=ok)
        if not ok:
            log.record("login_failed", user_id=record.id if record else None, username=username, ip=ip,
                       subject=username)
            if accounts.failed(username):
                log.record("lockout", user_id=record.id if record else None, username=username, ip=ip,
                           subject=username, detail=f"连续失败 {settings.get('account_lock_failures')} 次")
                return _refuse(f"用户名或密码错误。连续失败 {settings.get('account_lock_failures')} 次，"
                               f"账号已锁定 {settings.get('account_lock_minutes')} 分钟。", 423)
            return _refuse("用户名或密码错误，或账号已停用。", 401)
        if accounts.unused(record.id):
            record.active = False
            record.save()
            log.record("account_disabled", user_id=record.id, username=username, ip=ip, subject=username,
                       detail=f"超过 {settings.get('account_idle_days')} 天未登录")
            return _refuse(f"账号已超过 {settings.get('account_idle_days')} 天没有登录，已自动停用。"
                           "请联系系统管理员重新启用。", 403)
        accounts.succeeded(record.id, username)
        token = accounts.start_session(record.id, ip)
        session.clear()
        login_user(SessionUser(record))
        session["sid"] = token
        session.permanent = True
        log.record("login", user_id=record.id, username=username, ip=ip, subject=username)
        reason = accounts.change_reason(record.id)
        if reason:
            session["must_change"] = True
            flash(reason, "warning")
            return redirect(url_for("auth.change_password"))
        return redirect(safe_next(request.args.get("next")))
    return render_template("jiuzhu/login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout():
    eng = engine()
    row, _reason = eng.accounts.session_state(session.get("sid"))
    if row is not None:
        eng.accounts.end(row, "logout")
    if current() is not None:
        eng.security_log.record("logout", subject=current().username)
    logout_user()
    session.clear()
    flash("已退出登录。", "info")
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
def change_password():
    user = current()
    if user is None:
        return redirect(url_for("auth.login", next=request.full_path))
    form = PasswordChangeForm()
    if request.method == "POST" and form.validate_on_submit():
        if not check_password_hash(user.password or "", form.old_password.data):
            form.old_password.errors = ["原密码不正确"]
        else:
            user.password = form.new_password.data
            try:
                with engine().db.atomic():
                    user.save()
            except RecordInvalid as e:
                form.new_password.errors = list(e.errors.values())
            else:
                # the hook ended every session of the account, this one too: sign in with the new password
                logout_user()
                session.clear()
                flash(END_MESSAGES["password"], "success")
                return redirect(url_for("auth.login"))
    return render_template("jiuzhu/password.html", form=form, user=user, rules=engine().accounts.rules())


def check_session():
    """Every request of a signed-in user: the server-side session must still be live (idle timeout,
    absolute lifetime, a newer login elsewhere, logout); a password to change comes first."""
    if request.endpoint and request.endpoint.endswith("static"):
        return None
    if not current_user or not current_user.is_authenticated:
        return None
    eng = engine()
    row, reason = eng.accounts.session_state(session.get("sid"))
    if reason:
        message = eng.accounts.end_message(row, reason)
        eng.security_log.record("session_ended", user_id=current_user.record.id,
                                username=current_user.record.username, ip=client_ip(),
                                subject=current_user.record.username, detail=reason)
        logout_user()
        session.clear()
        flash(message, "warning")
        return redirect(url_for("auth.login"))
    if session.get("must_change") and request.endpoint not in ("auth.change_password", "auth.logout"):
        return redirect(url_for("auth.change_password"))
    return None


@bp.route("/")
def home():
    return redirect(url_for("admin.index"))


def set_actor():
    """Every change made during this request is audited under the signed-in user."""
    user = current()
    g.actor_token = system.actor.set((user.id, user.username, client_ip()) if user else (None, None, client_ip()))


def clear_actor(exc=None):
    token = g.pop("actor_token", None)
    if token is not None:
        system.actor.reset(token)
