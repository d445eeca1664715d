"""Account security (等保 2.0 身份鉴别): password policy and history, expiry, must-change, lockout after
repeated failures, disabling of unused accounts, and the server-side sessions behind each login.

Kept in system tables, not in schema/user.yaml: these are rules' bookkeeping, never typed in a form,
and a login must not write an audit row for the user record each time.
"""
import datetime as dt
import json
import secrets

import peewee as pw
from werkzeug.security import check_password_hash, generate_password_hash

from casework.core import passwords, system


is_hash = passwords.is_hash


class AccountState(system.SystemModel):
    user_id = pw.IntegerField(unique=True)
    password_changed_at = pw.DateTimeField(null=True)
    must_change = pw.BooleanField(default=False)
    history = pw.TextField(null=True)               # JSON list of earlier password hashes, newest first
    last_login_at = pw.DateTimeField(null=True)

    class Meta:
        table_name = "account_state"


class LoginLock(system.SystemModel):
    """Consecutive failures per typed user name, known or not, so a lockout reveals nothing."""
    username = pw.CharField(max_length=40, unique=True)
    failures = pw.IntegerField(default=0)
    locked_until = pw.DateTimeField(null=True)

    class Meta:
        table_name = "login_lock"


class UserSession(system.SystemModel):
    token = pw.CharField(max_length=64, unique=True)
    user_id = pw.IntegerField(index=True)
    ip = pw.CharField(max_length=45, null=True)
    created_at = pw.DateTimeField()
    last_seen = pw.DateTimeField()
    ended_at = pw.DateTimeField(null=True)
    end_reason = pw.CharField(max_length=20, null=True)   # logout / idle / expired / replaced / password

    class Meta:
        table_name = "user_session"


END_MESSAGES = {
    "idle": "您已超过 {idle} 分钟没有操作，为保护数据已自动退出登录，请重新登录。未提交的内容没有保存。",
    "expired": "本次登录已超过 {hours} 小时，请重新登录。",
    "replaced": "您的账号已在别处登录（IP {ip}），这里的登录已结束。如果不是您本人，请登录后立即修改密码。",
    "password": "密码已修改，请用新密码重新登录。",
    "disabled": "账号已停用或已被锁定，登录已结束。",
    "logout": "已退出登录。",
}


class Accounts:
    def __init__(self, db, settings):
        self.db, self.settings = db, settings
        for base in (AccountState, LoginLock, UserSession):
            meta = type("Meta", (), {"database": db, "table_name": base._meta.table_name})
            setattr(self, base.__name__, type(base.__name__, (base,), {"__module__": __name__, "Meta": meta}))
        self._dummy = None

    def create(self):
        self.db.create_tables([self.AccountState, self.LoginLock, self.UserSession], safe=True)

    # -- passwords
    def problems(self, password, username="", user_id=None):
        """Chinese reasons the password breaks the policy; [] when it is acceptable."""
        s = self.settings
        out = []
        if len(password) < s.get("password_min_length"):
            out.append(f"密码至少 {s.get('password_min_length')} 位")
        classes = sum([any(c.isupper() for c in password), any(c.islower() for c in password),
                       any(c.isdigit() for c in password), any(not c.isalnum() for c in password)])
        if classes < s.get("password_min_classes"):
            out.append(f"密码须包含大写字母、小写字母、数字、符号中的至少 {s.get('password_min_classes')} 类")
        if username and username.lower() in password.lower():
            out.append("密码不能包含用户名")
        if user_id is not None and self.reused(user_id, password):
            out.append(f"新密码不能与最近 {s.get('password_history')} 次用过的密码相同")
        return out

    def rules(self):
        """The policy in words, for the password page."""
        s = self.settings
        return [f"至少 {s.get('password_min_length')} 位", "包含大写字母、小写字母、数字、符号中的至少 "
                f"{s.get('password_min_classes')} 类", "不能包含用户名",
                f"不能与最近 {s.get('password_history')} 次用过的密码相同"]

    def reused(self, user_id, password):
        state = self.state(user_id)
        keep = self.settings.get("password_history")
        if not state or keep <= 0:
            return False
        return any(check_password_hash(h, password) for h in json.loads(state.history or "[]")[:keep])

    def state(self, user_id):
        return self.AccountState.get_or_none(self.AccountState.user_id == user_id)

    def password_set(self, user_id, hashed, must_change):
        """After a password is stored: remember it for the history rule and start its validity."""
        state = self.state(user_id) or self.AccountState(user_id=user_id)
        history = json.loads(state.history or "[]")
        keep = max(1, self.settings.get("password_history"))
        state.history = json.dumps(([hashed] + history)[:keep])
        state.password_changed_at = dt.datetime.now()
        state.must_change = must_change
        state.save()

    def change_reason(self, user_id):
        """Why this user must change the password before working, or None."""
        state = self.state(user_id)
        if state is None:
            return None
        if state.must_change:
            return "这是新设置或重置的密码，请先修改为只有您自己知道的密码。"
        days = self.settings.get("password_max_age_days")
        if days and state.password_changed_at and \
                dt.datetime.now() - state.password_changed_at > dt.timedelta(days=days):
            return f"密码已使用超过 {days} 天，请修改密码后继续。"
        return None

    def check(self, record, password):
        """Compare in constant work: an unknown name costs the same hash as a known one."""
        if record is not None and record.password:
            return check_password_hash(record.password, password)
        if self._dummy is None:
            self._dummy = generate_password_hash(secrets.token_hex(16))
        check_password_hash(self._dummy, password)
        return False

    # -- lockout
    def locked_minutes(self, username):
        """Minutes left of this name's lock (0: not locked)."""
        lock = self.LoginLock.get_or_none(self.LoginLock.username == username[:40])
        if lock is None or lock.locked_until is None or lock.locked_until <= dt.datetime.now():
            return 0
        return max(1, int((lock.locked_until - dt.datetime.now()).total_seconds() // 60) + 1)

    def failed(self, username):
        """Count one failure; True when it locks the name."""
        L, now = self.LoginLock, dt.datetime.now()
        with self.db.atomic():
            lock = L.get_or_none(L.username == username[:40]) or L(username=username[:40], failures=0)
            if lock.locked_until and lock.locked_until <= now:
                lock.failures, lock.locked_until = 0, None
            lock.failures += 1
            locked = lock.failures >= self.settings.get("account_lock_failures")
            if locked:
                lock.locked_until = now + dt.timedelta(minutes=self.settings.get("account_lock_minutes"))
            lock.save()
        return locked

    def succeeded(self, user_id, username):
        self.LoginLock.delete().where(self.LoginLock.username == username[:40]).execute()
        state = self.state(user_id) or self.AccountState(user_id=user_id)
        state.last_login_at = dt.datetime.now()
        state.save()

    def unlock(self, username):
        return self.LoginLock.delete().where(self.LoginLock.username == username[:40]).execute()

    def locked(self):
        L = self.LoginLock
        return list(L.select().where(L.locked_until > dt.datetime.now()).order_by(L.username))

    def unused(self, user_id):
        """True when the account has not logged in for the configured days (counted from its password
        when it never has). An account from before this rule existed has no record yet: not counted."""
        days = self.settings.get("account_idle_days")
        state = self.state(user_id)
        if not days or state is None:
            return False
        since = state.last_login_at or state.password_changed_at
        return bool(since and dt.datetime.now() - since > dt.timedelta(days=days))

    # -- sessions
    def start_session(self, user_id, ip):
        """A new live session; with `session_single` the account's other sessions end ("replaced")."""
        S, now = self.UserSession, dt.datetime.now()
        with self.db.atomic():
            if self.settings.get("session_single"):
                S.update(ended_at=now, end_reason="replaced").where(
                    (S.user_id == user_id) & S.ended_at.is_null()).execute()
            token = secrets.token_urlsafe(32)
            S.create(token=token, user_id=user_id, ip=ip, created_at=now, last_seen=now)
        return token

    def session_state(self, token):
        """(session row, None) while live, else (row or None, reason it ended); touches last_seen."""
        S, now = self.UserSession, dt.datetime.now()
        row = S.get_or_none(S.token == token) if token else None
        if row is None:
            return None, "logout"
        if row.ended_at is not None:
            return row, row.end_reason or "logout"
        if now - row.last_seen > dt.timedelta(minutes=self.settings.get("session_idle_minutes")):
            self.end(row, "idle")
            return row, "idle"
        if now - row.created_at > dt.timedelta(hours=self.settings.get("session_hours")):
            self.end(row, "expired")
            return row, "expired"
        if (now - row.last_seen).total_seconds() > 20:       # one write per page would cost every request
            S.update(last_seen=now).where(S.id == row.id).execute()
        return row, None

    def end(self, row, reason):
        S = self.UserSession
        S.update(ended_at=dt.datetime.now(), end_reason=reason).where(
            (S.id == row.id) & S.ended_at.is_null()).execute()

    def end_all(self, user_id, reason):
        S = self.UserSession
        return S.update(ended_at=dt.datetime.now(), end_reason=reason).where(
            (S.user_id == user_id) & S.ended_at.is_null()).execute()

    def replaced_by(self, row):
        """The address of the login that replaced this session."""
        S = self.UserSession
        newer = S.select(S.ip).where((S.user_id == row.user_id) & (S.id > row.id)).order_by(S.id.desc()).first()
        return newer.ip if newer else ""

    def end_message(self, row, reason):
        return END_MESSAGES[reason].format(idle=self.settings.get("session_idle_minutes"),
                                           hours=self.settings.get("session_hours"),
                                           ip=self.replaced_by(row) if row is not None else "")


def install(models, accounts, log):
    """Policy on every path that sets a password (forms, imports, scripts acting as a user); the
    password's history, must-change and the security events after it is stored."""
    if "user" not in models.registry.entities:
        return
    from schema import RecordInvalid

    # first: the policy sees the password as typed, before the user rules hash it
    @models.hooks.on("user", "before_save", first=True)
    def before(record, old):
        value = record.password
        record._password_set = bool(value) and not is_hash(value)
        who = system.actor.get()
        # seeds and the demo county act as the system (who[0] is None): their passwords are the README's
        if record._password_set and who and who[0] is not None:
            reasons = accounts.problems(str(value), record.username or "", record._pk)
            if reasons:
                raise RecordInvalid({"password": "；".join(reasons)})
        if who and who[0] is not None and (old is None or old.get("role") != record.role):
            _check_role_grant(models, who[0], record.role, old is None)

    @models.hooks.on("user", "after_change")
    def after(record, action, old):
        if action == "delete":
            return
        who = system.actor.get() or (None, None, None)
        by_self = who[0] is not None and who[0] == record.id
        if getattr(record, "_password_set", False):
            record._password_set = False
            accounts.password_set(record.id, record.password, must_change=who[0] is not None and not by_self)
            if action == "update":
                accounts.end_all(record.id, "password")
                log.record("password_change" if by_self else "password_reset", entity="user",
                           record_id=record.id, subject=record.username)
        if action == "update" and old and old.get("role") != record.role:
            roles = models.registry.roles
            label = lambda code: roles[code].label if code in roles else code  # noqa: E731
            log.record("role_change", entity="user", record_id=record.id, subject=record.username,
                       detail=f"{label(old.get('role'))} → {label(record.role)}")
        if action == "update" and old and old.get("active") and not record.active:
            accounts.end_all(record.id, "disabled")


def _check_role_grant(models, actor_id, role_code, creating):
    """Roles are granted by the holder of the security duty; whoever creates accounts may give only
    roles without system duties, so no one makes himself an administrator of another duty."""
    from schema import RecordInvalid
    from casework.core import scope
    actor = models["user"].get_or_none(models["user"].id == actor_id)
    if scope.has_duty(models, actor, "security"):
        return
    role = models.registry.roles.get(role_code)
    if creating and role is not None and not role.duties_now(scope.separated(models)):
        return
    raise RecordInvalid({"role": "角色由安全管理员分配" + ("（可以新建业务角色的账号）" if creating else "")})
