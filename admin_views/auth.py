"""Login, logout, the current user, and the slow-down after repeated failed logins."""
import datetime as dt

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from werkzeug.security import check_password_hash

from casework import system

from .forms import LoginForm

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


def wait_seconds(username, ip):
    """Seconds this username, or this address, must still wait before another try.

    An office shares one address, so the address gets a larger allowance than one account."""
    settings = engine().settings
    since = dt.datetime.now() - dt.timedelta(minutes=settings.get("login_window_minutes"))
    step = settings.get("login_lock_seconds")
    by_user = _delay(LA_query(since, username=username), settings.get("login_max_failures"), step)
    by_ip = _delay(LA_query(since, ip=ip), settings.get("login_max_failures_per_ip"), step)
    return max(by_user, by_ip)


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


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if request.method == "POST" and form.validate_on_submit():
        username = form.username.data.strip()
        ip = client_ip()
        wait = wait_seconds(username, ip)
        if wait:
            flash(f"登录失败次数过多，请 {wait} 秒后再试。", "error")
            return render_template("jiuzhu/login.html", form=form), 429
        User = engine().models["user"]
        record = User.get_or_none(User.username == username)
        ok = bool(record and record.active and record.password
                  and check_password_hash(record.password, form.password.data))
        engine().system.LoginAttempt.create(at=dt.datetime.now(), username=username[:40], ip=ip, success=ok)
        if not ok:
            flash("用户名或密码错误，或账号已停用。", "error")
            return render_template("jiuzhu/login.html", form=form), 401
        session.clear()
        login_user(SessionUser(record))
        session.permanent = True
        target = request.args.get("next") or ""
        if not target.startswith("/") or target.startswith("//"):
            target = url_for("admin.index")
        return redirect(target)
    return render_template("jiuzhu/login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout():
    logout_user()
    session.clear()
    flash("已退出登录。", "info")
    return redirect(url_for("auth.login"))


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
