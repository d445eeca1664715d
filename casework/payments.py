"""The monthly payment run, closing a month, and the bank's payment list.

A run for a township and a month writes one ledger line per care row in force that month, at the
amount in force that month, in one transaction: interrupted, it leaves the whole township-month or
nothing; run again, it adds only what is missing. A household without a bank account is held with
the reason. A closed month is never written again.
"""
import datetime as dt
import json
import re
from dataclasses import dataclass

import peewee as pw

from schema.models import insert_rows

from . import care, scope, system

MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


class PaymentRefused(Exception):
    """The message is shown to the user as is."""


@dataclass
class RunResult:
    township: str
    month: str
    created: int = 0
    held: int = 0
    existing: int = 0
    total: object = 0


def _check(models, user, township_id, month):
    if not MONTH.match(month or ""):
        raise PaymentRefused(f"发放年月应写作 2026-05，收到“{month}”")
    Area = models["area"]
    township = scope.scoped(models, "area", user).where(Area.id == township_id, Area.level == "township").first()
    if township is None:
        raise PaymentRefused("找不到该乡镇（街道），或它不在您的管辖区划内")
    return township


def period(models, township, month):
    Period = models["payment_month"]
    row = Period.get_or_none(Period.township == township.id, Period.month == month)
    if row is None:
        row = Period(township=township.id, month=month, key=f"{township.code}-{month}", status="open")
        row.save()
    return row


def run(engine, user, township_id, month):
    models = engine.models
    township = _check(models, user, township_id, month)
    Care, Payment, Household, Area = models["care"], models["payment"], models["household"], models["area"]
    with models.db.atomic():
        row = period(models, township, month)
        if row.status == "closed":
            raise PaymentRefused(f"{township.name} {month} 已关账，不能再生成发放台账")
        villages = Area.select(Area.id).where(Area.parent == township.id)
        in_force = (Care.select(Care.id, Care.household, Care.village, Care.assistance_type)
                    .where(Care.village.in_(villages), Care.start_month <= month,
                           Care.end_month.is_null() | (Care.end_month >= month)).tuples())
        cares = list(in_force)
        done = {c for (c,) in Payment.select(Payment.care).where(
            Payment.month == month, Payment.kind == "regular", Payment.village.in_(villages)).tuples()}
        result = RunResult(township.name, month, existing=len(done))
        todo = [c for c in cares if c[0] not in done]
        amounts = {}
        for start in range(0, len(todo), 5000):
            amounts.update(care.amounts_in(models, [c[0] for c in todo[start:start + 5000]], month))
        bank = {}
        household_ids = list({c[1] for c in todo})
        for start in range(0, len(household_ids), 5000):
            for hid, name, bank_name, account in (Household.select(Household.id, Household.account_name,
                                                                   Household.bank_name, Household.bank_account)
                                                  .where(Household.id.in_(household_ids[start:start + 5000])).tuples()):
                bank[hid] = (name, bank_name, account)
        now = dt.datetime.now().replace(microsecond=0)
        rows, total = [], 0
        for care_id, household, village, kind in todo:
            amount = amounts.get(care_id)
            if amount is None:
                continue                       # cancelled before this month took effect
            name, bank_name, account = bank.get(household, (None, None, None))
            held = not account
            rows.append({"household": household, "village": village, "care": care_id, "assistance_type": kind,
                         "month": month, "kind": "regular", "amount": amount,
                         "status": "held" if held else "pending", "account_name": name, "bank_name": bank_name,
                         "bank_account": account, "note": "无有效银行卡，暂缓发放" if held else None,
                         "created_at": now, "updated_at": now})
            result.held += held
            total += amount
        for start in range(0, len(rows), 5000):
            insert_rows(Payment, rows[start:start + 5000], list(rows[0]) if rows else [])
        result.created, result.total = len(rows), total
        _audit(engine, "payment_month", row.id, "update",
               {"发放台账": [None, f"{township.name} {month} 生成 {len(rows)} 笔，合计 {total:.2f} 元，暂缓 {result.held} 笔"]})
    return result


def close(engine, user, township_id, month):
    models = engine.models
    township = _check(models, user, township_id, month)
    Payment, Area = models["payment"], models["area"]
    with models.db.atomic():
        row = period(models, township, month)
        if row.status == "closed":
            raise PaymentRefused(f"{township.name} {month} 已经关账")
        villages = Area.select(Area.id).where(Area.parent == township.id)
        lines = Payment.select().where(Payment.month == month, Payment.village.in_(villages))
        if not lines.exists():
            raise PaymentRefused(f"{township.name} {month} 还没有发放台账，不能关账")
        pending = lines.where(Payment.status == "pending").count()
        if pending:
            raise PaymentRefused(f"还有 {pending} 笔待发，请先导入银行回盘（标记已发或失败）再关账")
        row.status, row.closed_at = "closed", dt.datetime.now().replace(microsecond=0)
        row.closed_by = user.full_name if user else "系统"
        row.save()
    return row


def summary(engine, user, township_id, month):
    """[(assistance type, status, lines, amount)] of a township-month, within the user's scope."""
    models = engine.models
    Payment, Area = models["payment"], models["area"]
    villages = Area.select(Area.id).where(Area.parent == township_id)
    query = (scope.scoped(models, "payment", user)
             .where(Payment.month == month, Payment.village.in_(villages))
             .select(Payment.assistance_type, Payment.status, pw.fn.COUNT(Payment.id), pw.fn.SUM(Payment.amount))
             .group_by(Payment.assistance_type, Payment.status).order_by(Payment.assistance_type, Payment.status))
    return list(query.tuples())


def bank_lines(engine, user, township_id, month):
    """The lines of the bank's payment list: pending payments of a township-month, by village and head."""
    models = engine.models
    Payment, Area, Household = models["payment"], models["area"], models["household"]
    villages = Area.select(Area.id).where(Area.parent == township_id)
    return (scope.scoped(models, "payment", user)
            .where(Payment.month == month, Payment.village.in_(villages), Payment.status == "pending")
            .join(Household, on=(Payment.household == Household.id))
            .select(Payment.id, Payment.amount, Payment.assistance_type, Payment.account_name, Payment.bank_name,
                    Payment.bank_account, Household.head_name, Household.head_id_number)
            .order_by(Payment.village, Payment.household, Payment.id).dicts())


def mark_sent(engine, ids, day):
    """Lines handed to the bank today (the first export counts: a re-export does not restart the clock)."""
    Payment = engine.models["payment"]
    for start in range(0, len(ids), 5000):
        (Payment.update(sent_on=day).where(Payment.id.in_(ids[start:start + 5000]), Payment.sent_on.is_null(),
                                           Payment.status == "pending").execute())


def unconfirmed(engine, user, township_id, month, today):
    """Lines sent to the bank more than `bank_confirm_days` working days ago and still not confirmed."""
    from .workdays import CalendarUnknown
    models = engine.models
    Payment, Area = models["payment"], models["area"]
    villages = Area.select(Area.id).where(Area.parent == township_id)
    cal, days = engine.flow.calendar(), engine.settings.get("bank_confirm_days")
    late = 0
    sent = (scope.scoped(models, "payment", user)
            .where(Payment.month == month, Payment.village.in_(villages), Payment.status == "pending",
                   Payment.sent_on.is_null(False))
            .select(Payment.sent_on, pw.fn.COUNT(Payment.id)).group_by(Payment.sent_on).tuples())
    for sent_on, n in sent:
        try:
            due = cal.add_working_days(sent_on, days)
        except CalendarUnknown:
            due = sent_on + dt.timedelta(days=days + 2)
        if due < today:
            late += n
    return late


def _audit(engine, entity, record_id, action, changes):
    who = system.actor.get() or (None, None, None)
    engine.system.AuditLog.create(at=dt.datetime.now().replace(microsecond=0), user_id=who[0], username=who[1],
                                  ip=who[2], entity=entity, record_id=record_id, action=action,
                                  changes=json.dumps(changes, ensure_ascii=False), batch=system.batch.get())
