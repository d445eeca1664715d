"""Accounts and sessions as an attacker and a user meet them (等保 2.0 身份鉴别): the login redirect,
user-name probing, password policy, lockout and unlock, must-change, expiry, unused accounts,
idle timeout, absolute lifetime, one live session per account, logout that ends the session."""
import datetime as dt
import time
import uuid

from casework.core import system

from .conftest import TOKEN, Browser, engine_of

STRONG = "Jiuzhu#2026a"


def new_user(app, role="township_staff", area="370405001", password=STRONG):
    """A fresh account of its own, so tests on the shared PostgreSQL app never meet each other."""
    eng = engine_of(app)
    U, A = eng.models["user"], eng.models["area"]
    name = "u" + uuid.uuid4().hex[:8]
    token = system.actor.set((None, "测试", None))
    try:
        user = U.create(username=name, full_name="测试账号", role=role, area=A.get(A.code == area),
                        password=password, active=True)
    finally:
        system.actor.reset(token)
    return user


def token_of(browser, url):
    m = TOKEN.search(browser.get(url).get_data(as_text=True))
    return m.group(1) or m.group(2)


def events(app, kind, username):
    E = engine_of(app).security_log.Event
    return list(E.select().where((E.kind == kind) & (E.username == username)))


def test_login_redirect_stays_on_this_site(any_app):
    user = new_user(any_app)
    for target in ("/%09/evil.example/", "/\t/evil.example/", "//evil.example/", "/\\evil.example",
                   "https://evil.example/", "/%0a/evil.example", "javascript:alert(1)"):
        b = Browser(any_app)
        r = b.client.post("/login?next=" + target, data={"username": user.username, "password": STRONG,
                                                         "csrf_token": b.csrf()})
        assert r.status_code == 302
        location = r.headers["Location"]
        assert "evil" not in location and not location.startswith("//") and "javascript" not in location, target
    b = Browser(any_app)
    r = b.client.post("/login?next=/admin/household/", data={"username": user.username, "password": STRONG,
                                                             "csrf_token": b.csrf()})
    assert r.headers["Location"].endswith("/admin/household/")


def test_unknown_user_names_cost_the_same_hash(any_app, monkeypatch):
    from werkzeug import security
    from casework.core import accounts
    user = new_user(any_app)
    calls = []
    real = security.check_password_hash
    monkeypatch.setattr(accounts, "check_password_hash", lambda h, p: calls.append(h) or real(h, p))

    def attempt(name):
        b = Browser(any_app)
        b.csrf()
        start = time.perf_counter()
        r = b.client.post("/login", data={"username": name, "password": "Wrong#pass1", "csrf_token": b.csrf()})
        return r, time.perf_counter() - start

    r, _ = attempt("nobody-" + uuid.uuid4().hex[:6])
    assert r.status_code == 401 and len(calls) == 1            # a real hash was checked for a name that is not there
    known = [attempt(user.username)[1] for _ in range(3)]
    unknown = [attempt("nobody-" + uuid.uuid4().hex[:6])[1] for _ in range(3)]
    assert "用户名或密码错误" in r.get_data(as_text=True)
    # without the dummy hash an unknown name answered in a few ms against ~50 ms for a known one
    # the fastest of each: a busy machine only ever adds time
    assert min(unknown) > 0.4 * min(known)


def test_logout_ends_the_session_on_the_server(any_app):
    user = new_user(any_app)
    b = Browser(any_app)
    assert b.login(user.username, STRONG).status_code == 302
    copied = b.client.get_cookie("session").value
    assert b.get("/admin/").status_code == 200
    b.post("/logout")
    thief = any_app.test_client()
    thief.set_cookie("session", copied)
    r = thief.get("/admin/")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    assert engine_of(any_app).accounts.UserSession.get(
        engine_of(any_app).accounts.UserSession.user_id == user.id).end_reason == "logout"
    assert events(any_app, "logout", user.username)


def test_session_lifetime_and_upload_cap_come_from_settings(any_app):
    eng = engine_of(any_app)
    assert any_app.config["PERMANENT_SESSION_LIFETIME"] == dt.timedelta(hours=eng.settings.get("session_hours"))
    assert any_app.config["MAX_CONTENT_LENGTH"] == (eng.settings.get("import_max_mb") + 5) * 1024 * 1024
    user = new_user(any_app)
    b = Browser(any_app)
    r = b.login(user.username, STRONG)
    cookie = r.headers["Set-Cookie"]
    expires = dt.datetime.strptime(cookie.split("Expires=")[1].split(";")[0], "%a, %d %b %Y %H:%M:%S GMT")
    assert expires - dt.datetime.utcnow() < dt.timedelta(hours=eng.settings.get("session_hours"), minutes=1)
    big = b"x" * (any_app.config["MAX_CONTENT_LENGTH"] + 10)
    r = b.client.post("/admin/imports/check", data=big, content_type="application/octet-stream")
    assert r.status_code == 413 and "文件太大" in r.get_data(as_text=True)


def test_weak_passwords_are_refused_with_the_reason(any_app):
    eng = engine_of(any_app)
    U, A = eng.models["user"], eng.models["area"]
    b = Browser(any_app)
    admin = new_user(any_app, role="county_admin", area="370405")
    b.login(admin.username, STRONG)
    town = A.get(A.code == "370405101")
    name = "w" + uuid.uuid4().hex[:6]
    form = {"username": name, "full_name": "新账号", "role": "township_staff", "area": str(town.id), "active": "y"}
    for password, reason in (("Ab1#", "至少 8 位"), ("alllowercase1", "至少 3 类"),
                             (f"X{name}#1", "不能包含用户名")):
        r = b.post("/admin/user/new/", data={**form, "password": password})
        text = r.get_data(as_text=True)
        assert r.status_code == 200 and reason in text, password
        assert "新账号" in text                                  # what was typed is still in the form
        assert not U.select().where(U.username == name).exists()
    r = b.post("/admin/user/new/", data={**form, "password": STRONG})
    assert r.status_code == 302
    created = U.get(U.username == name)
    assert eng.accounts.state(created.id).must_change          # set by an administrator: change at first login


def test_first_login_must_change_and_history_is_kept(any_app):
    eng = engine_of(any_app)
    admin = new_user(any_app, role="county_admin", area="370405")
    user = new_user(any_app)
    a = Browser(any_app)
    a.login(admin.username, STRONG)
    r = a.post(f"/admin/user/edit/?id={user.id}", data={
        "username": user.username, "full_name": user.full_name, "role": user.role, "area": str(user.area_id),
        "active": "y", "password": "Reset#2026b"})
    assert r.status_code == 302, r.get_data(as_text=True)[-800:]
    assert events(any_app, "password_reset", admin.username)
    b = Browser(any_app)
    r = b.login(user.username, "Reset#2026b")
    assert r.headers["Location"].endswith("/password")
    r = b.get("/admin/household/")
    assert r.status_code == 302 and r.headers["Location"].endswith("/password")
    page = b.get("/password").get_data(as_text=True)
    assert "新设置或重置的密码" in page
    token = token_of(b, "/password")
    r = b.client.post("/password", data={"old_password": "Reset#2026b", "new_password": STRONG,
                                         "confirm": STRONG, "csrf_token": token})
    assert "不能与最近" in r.get_data(as_text=True)              # the first password is in the history
    r = b.client.post("/password", data={"old_password": "wrong", "new_password": "Other#2026c",
                                         "confirm": "Other#2026c", "csrf_token": token})
    assert "原密码不正确" in r.get_data(as_text=True)
    r = b.client.post("/password", data={"old_password": "Reset#2026b", "new_password": "Other#2026c",
                                         "confirm": "Other#2026c", "csrf_token": token})
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    assert b.get("/admin/").status_code == 302                  # logged out by the change
    assert events(any_app, "password_change", user.username)
    c = Browser(any_app)
    assert c.login(user.username, "Other#2026c").headers["Location"].endswith("/admin/")
    assert c.get("/admin/household/").status_code == 200


def test_expired_password_must_be_changed(any_app):
    eng = engine_of(any_app)
    user = new_user(any_app)
    S = eng.accounts.AccountState
    days = eng.settings.get("password_max_age_days")
    S.update(password_changed_at=dt.datetime.now() - dt.timedelta(days=days + 1),
             last_login_at=dt.datetime.now()).where(S.user_id == user.id).execute()
    b = Browser(any_app)
    assert b.login(user.username, STRONG).headers["Location"].endswith("/password")
    assert f"超过 {days} 天" in b.get("/password").get_data(as_text=True)


def test_lockout_after_failures_and_unlock(any_app):
    eng = engine_of(any_app)
    user = new_user(any_app)
    n = eng.settings.get("account_lock_failures")
    b = Browser(any_app)
    for _ in range(n - 1):
        assert b.login(user.username, "Wrong#pass1").status_code == 401
    r = b.login(user.username, "Wrong#pass1")
    assert r.status_code == 423 and "已锁定" in r.get_data(as_text=True)
    r = b.login(user.username, STRONG)                        # the right password waits too
    assert r.status_code == 423 and "分钟后再试" in r.get_data(as_text=True)
    assert events(any_app, "lockout", user.username)
    # a name that does not exist locks the same way: the lock reveals nothing
    ghost = "ghost" + uuid.uuid4().hex[:6]
    for _ in range(n):
        r = b.login(ghost, "Wrong#pass1")
    assert r.status_code == 423
    assert user.username in [lock.username for lock in eng.accounts.locked()]
    security = new_user(any_app, role="county_admin", area="370405")
    s = Browser(any_app)
    s.login(security.username, STRONG)
    page = s.get("/admin/security/").get_data(as_text=True)
    assert user.username in page
    r = s.post("/admin/security/unlock", data={"username": user.username})
    assert r.status_code == 302
    assert events(any_app, "unlock", security.username)
    assert Browser(any_app).login(user.username, STRONG).status_code == 302
    town = Browser(any_app)
    town.login(new_user(any_app).username, STRONG)
    assert town.post("/admin/security/unlock", data={"username": ghost}).status_code == 403
    assert eng.accounts.locked_minutes(ghost)


def test_unused_account_is_disabled_at_login(any_app):
    eng = engine_of(any_app)
    user = new_user(any_app)
    S = eng.accounts.AccountState
    days = eng.settings.get("account_idle_days")
    old = dt.datetime.now() - dt.timedelta(days=days + 1)
    S.update(last_login_at=old, password_changed_at=old).where(S.user_id == user.id).execute()
    r = Browser(any_app).login(user.username, STRONG)
    assert r.status_code == 403 and f"超过 {days} 天没有登录" in r.get_data(as_text=True)
    U = eng.models["user"]
    assert not U.get_by_id(user.id).active
    assert Browser(any_app).login(user.username, STRONG).status_code == 401


def test_idle_timeout_and_absolute_lifetime(any_app):
    eng = engine_of(any_app)
    S = eng.accounts.UserSession
    user = new_user(any_app)
    b = Browser(any_app)
    b.login(user.username, STRONG)
    idle = eng.settings.get("session_idle_minutes")
    token = token_of(b, "/admin/household/new/")
    S.update(last_seen=dt.datetime.now() - dt.timedelta(minutes=idle + 1)).where(S.user_id == user.id).execute()
    r = b.client.post("/admin/household/new/", data={"code": "T-IDLE", "csrf_token": token})
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    page = b.get("/login").get_data(as_text=True)
    assert f"超过 {idle} 分钟没有操作" in page and "T-IDLE" not in page
    assert not eng.models["household"].select().where(eng.models["household"].code == "T-IDLE").exists()
    b = Browser(any_app)
    b.login(user.username, STRONG)
    hours = eng.settings.get("session_hours")
    S.update(created_at=dt.datetime.now() - dt.timedelta(hours=hours, minutes=1)).where(
        (S.user_id == user.id) & S.ended_at.is_null()).execute()
    assert b.get("/admin/").status_code == 302
    assert f"已超过 {hours} 小时" in b.get("/login").get_data(as_text=True)


def test_second_login_ends_the_first_and_tells_why(any_app):
    user = new_user(any_app)
    first, second = Browser(any_app), Browser(any_app)
    first.login(user.username, STRONG)
    assert first.get("/admin/").status_code == 200
    second.login(user.username, STRONG)
    assert second.get("/admin/").status_code == 200
    r = first.get("/admin/household/")
    assert r.status_code == 302
    assert "已在别处登录" in first.get("/login").get_data(as_text=True)
    assert events(any_app, "session_ended", user.username)[0].detail == "replaced"


def test_an_account_from_before_the_rule_is_not_disabled(any_app):
    eng = engine_of(any_app)
    user = new_user(any_app)
    S = eng.accounts.AccountState
    S.delete().where(S.user_id == user.id).execute()         # as after an upgrade: no record of logins yet
    U = eng.models["user"]
    U.update(created_at=user.created_at.replace(year=user.created_at.year - 2)).where(U.id == user.id).execute()
    assert Browser(any_app).login(user.username, STRONG).status_code == 302
    assert eng.accounts.state(user.id).last_login_at is not None
