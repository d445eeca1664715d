"""Security events and sensitive-data access (等保 2.0 安全审计): logins, failures, lockouts, logouts,
password and role changes, exports and every view of an unmasked ID or bank number.

Rows are only ever inserted. Each holds the hash of the previous row, so a row changed or removed
directly in the database breaks the chain and `verify()` names it; the database itself refuses
UPDATE and DELETE on the table (triggers), and the model refuses them on every code path.
"""
import datetime as dt
import hashlib
import json
import threading

import peewee as pw

from casework.core import system
from schema import clock

GENESIS = "0" * 64

KIND_LABELS = {
    "login": "登录成功", "login_failed": "登录失败", "lockout": "账号锁定", "unlock": "解除锁定",
    "logout": "退出登录", "session_ended": "登录被结束", "password_change": "修改本人密码",
    "password_reset": "重置他人密码", "role_change": "角色变更", "account_disabled": "账号停用",
    "export": "导出", "unmask_view": "查看完整证件号或账号", "document": "打印文书",
}

# one writer at a time inside a process; PostgreSQL writers of other processes wait on an advisory lock
_chain_lock = threading.Lock()
PG_LOCK_KEY = 731_1302


class SecurityEvent(system.AppendOnly, system.SystemModel):
    at = pw.DateTimeField(index=True)
    user_id = pw.IntegerField(null=True, index=True)
    username = pw.CharField(max_length=40, null=True, index=True)
    ip = pw.CharField(max_length=45, null=True)
    kind = pw.CharField(max_length=20, index=True)
    entity = pw.CharField(max_length=40, null=True)
    record_id = pw.IntegerField(null=True)
    subject = pw.CharField(max_length=100, null=True)     # whose record / which account it concerns
    detail = pw.TextField(null=True)
    prev_hash = pw.CharField(max_length=64)
    hash = pw.CharField(max_length=64)

    class Meta:
        table_name = "security_event"


class AuditSeal(system.AppendOnly, system.SystemModel):
    """The chain over the change log (audit_log), kept beside it so the many writers of audit rows
    (forms, imports, payment runs) need not wait for one another: rows are sealed in batches, in the
    order they are found, each seal holding the previous seal's hash."""
    audit_id = pw.IntegerField(unique=True)
    prev_hash = pw.CharField(max_length=64)
    hash = pw.CharField(max_length=64)

    class Meta:
        table_name = "audit_seal"


FIELDS = ("at", "user_id", "username", "ip", "kind", "entity", "record_id", "subject", "detail")
AUDIT_FIELDS = ("id", "at", "user_id", "username", "ip", "entity", "record_id", "action", "changes", "batch")
LATE = 10000        # audit ids below the last sealed one still looked at: transactions that committed late


def row_hash(prev, values, fields=FIELDS):
    text = json.dumps([prev] + [_canon(values.get(k)) for k in fields], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _canon(value):
    if isinstance(value, dt.datetime):
        return value.replace(microsecond=0).isoformat(sep=" ")
    return value


class Log:
    """The security log and the change log's seals, bound to one database."""

    def __init__(self, db, tables):
        self.db, self.AuditLog = db, tables.AuditLog
        for base in (SecurityEvent, AuditSeal):
            meta = type("Meta", (), {"database": db, "table_name": base._meta.table_name})
            setattr(self, base.__name__, type(base.__name__, (base,), {"__module__": __name__, "Meta": meta}))
        self.Event = self.SecurityEvent

    def create(self):
        self.db.create_tables([self.Event, self.AuditSeal], safe=True)
        for model in (self.Event, self.AuditSeal, self.AuditLog):
            self._protect(model._meta.table_name)

    def _protect(self, table):
        """Refuse UPDATE and DELETE in the database, whoever connects through the application."""
        message = "审计记录只能新增，不能修改或删除"
        if isinstance(self.db, pw.PostgresqlDatabase):
            self.db.execute_sql(
                "CREATE OR REPLACE FUNCTION jiuzhu_append_only() RETURNS trigger AS $$ BEGIN "
                f"RAISE EXCEPTION '{message}'; END $$ LANGUAGE plpgsql")
            self.db.execute_sql(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            self.db.execute_sql(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                                "FOR EACH ROW EXECUTE FUNCTION jiuzhu_append_only()")
        else:
            for op in ("UPDATE", "DELETE"):
                self.db.execute_sql(f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table} "
                                    f"BEGIN SELECT RAISE(ABORT, '{message}'); END")

    def _chain_locked(self):
        if isinstance(self.db, pw.PostgresqlDatabase):
            self.db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (PG_LOCK_KEY,))

    def record(self, kind, user_id=None, username=None, ip=None, entity=None, record_id=None, subject=None,
               detail=None):
        """Append one event; who/ip default to the actor of this request or command."""
        who = system.actor.get() or (None, None, None)
        values = {"at": clock.now(),
                  "user_id": user_id if user_id is not None else who[0],
                  "username": (username if username is not None else who[1] or "")[:40] or None,
                  "ip": ip if ip is not None else who[2], "kind": kind, "entity": entity,
                  "record_id": record_id, "subject": (subject or None) and str(subject)[:100],
                  "detail": detail if detail is None or isinstance(detail, str)
                  else json.dumps(detail, ensure_ascii=False)}
        E = self.Event
        with _chain_lock, self.db.atomic():
            self._chain_locked()
            prev = E.select(E.hash).order_by(E.id.desc()).limit(1).scalar() or GENESIS
            values["prev_hash"] = prev
            values["hash"] = row_hash(prev, values)
            E.insert(**values).execute()
        self.seal(limit=2000)

    def seal(self, limit=None):
        """Chain the change-log rows not sealed yet; returns how many were sealed."""
        A, S = self.AuditLog, self.AuditSeal
        done = 0
        with _chain_lock, self.db.atomic():
            self._chain_locked()
            last = S.select(S.audit_id, S.hash).order_by(S.id.desc()).first()
            prev, mark = (last.hash, last.audit_id) if last else (GENESIS, 0)
            sealed = S.select(S.audit_id).where(S.audit_id > mark - LATE)
            q = A.select().where((A.id > mark - LATE) & A.id.not_in(sealed)).order_by(A.id)
            while True:
                rows = list(q.limit(min(limit - done, 2000) if limit else 2000).dicts())
                if not rows:
                    return done
                seals = []
                for row in rows:
                    h = row_hash(prev, row, AUDIT_FIELDS)
                    seals.append({"audit_id": row["id"], "prev_hash": prev, "hash": h})
                    prev = h
                S.insert_many(seals).execute()
                done += len(rows)
                if limit and done >= limit:
                    return done

    def verify(self, batch=5000):
        """[(log name, row id, problem)] for every break in either chain; [] when both are intact."""
        self.seal()
        return self._verify_events(batch) + self._verify_seals(batch)

    def _verify_events(self, batch):
        E = self.Event
        problems, prev, last_id = [], GENESIS, 0
        while True:
            rows = list(E.select().where(E.id > last_id).order_by(E.id).limit(batch))
            if not rows:
                return problems
            for row in rows:
                values = {k: getattr(row, k) for k in FIELDS}
                if row.prev_hash != prev:
                    problems.append(("安全审计记录", row.id, "与上一条记录的链接不符（之前的记录被删除或改动）"))
                if row_hash(row.prev_hash, values) != row.hash:
                    problems.append(("安全审计记录", row.id, "内容与记录时的校验值不符（记录被改动）"))
                prev, last_id = row.hash, row.id

    def _verify_seals(self, batch):
        A, S = self.AuditLog, self.AuditSeal
        problems, prev, last_id = [], GENESIS, 0
        while True:
            seals = list(S.select().where(S.id > last_id).order_by(S.id).limit(batch))
            if not seals:
                return problems
            rows = {r["id"]: r for r in A.select().where(A.id.in_([s.audit_id for s in seals])).dicts()}
            for seal in seals:
                row = rows.get(seal.audit_id)
                if seal.prev_hash != prev:
                    problems.append(("修改记录", seal.audit_id, "校验链接不符（校验记录被删除或改动）"))
                if row is None:
                    problems.append(("修改记录", seal.audit_id, "记录已被删除"))
                elif row_hash(seal.prev_hash, row, AUDIT_FIELDS) != seal.hash:
                    problems.append(("修改记录", seal.audit_id, "内容与记录时的校验值不符（记录被改动）"))
                prev, last_id = seal.hash, seal.id
