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
from decimal import Decimal, InvalidOperation

import peewee as pw

from schema.models import insert_rows, stream_dicts

from casework.funds import cards, care, covered, months
from casework.core import scope, system
from schema import clock

MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
TOKEN = re.compile(r"^[0-9a-f]{32}$")
CHUNK = 5000


# the month's lock (casework/funds/months.py), read from here by bank returns, benches and tests
lock_month, period = months.lock_month, months.period


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


def run(engine, user, township_id, month):
    models = engine.models
    township = _check(models, user, township_id, month)
    Care, Payment, Household, Area = models["care"], models["payment"], models["household"], models["area"]
    with models.db.atomic():
        row = lock_month(models, township, month)
        if row.status == "closed":
            raise PaymentRefused(f"{township.name} {month} 已关账，不能再生成发放台账")
        villages = [v for (v,) in Area.select(Area.id).where(Area.parent == township.id).tuples()]
        # one regular line per household, item and month (the unique_rows rule of payment.yaml)
        paid_already = Payment.select(Payment.id).where(Payment.household == Care.household,
                                                        Payment.assistance_type == Care.assistance_type,
                                                        Payment.month == month, Payment.kind == "regular")
        in_force = (Care.select(Care.id, Care.household, Care.village, Care.assistance_type, Care.persons)
                    .where(Care.village.in_(villages), Care.start_month <= month,
                           Care.end_month.is_null() | (Care.end_month >= month)))
        standards = _standard_finder(models, month)
        count_covered = covered.counter(models, month)
        held_by_check = held_care(models, month)
        result = RunResult(township.name, month, existing=Payment.select().where(
            Payment.village.in_(villages), Payment.month == month, Payment.kind == "regular").count())
        # only what is missing: the database skips care rows that already have this month's line
        in_force = in_force.where(~pw.fn.EXISTS(paid_already)).order_by(Care.id)
        now = clock.now()
        created, total, listed = 0, 0, set()
        # a chunk at a time from one streamed query, so that memory stays flat however many are in care
        for chunk in _chunks(stream_dicts(in_force), CHUNK):
            todo = [(c["id"], c["household"], c["village"], c["assistance_type"]) for c in chunk]
            persons = {c["id"]: c["persons"] for c in chunk}
            people = count_covered([(c, h, kind) for c, h, _, kind in todo])
            amounts = care.amounts_in(models, [c[0] for c in todo], month) if todo else {}
            households = list({c[1] for c in todo}) or [0]
            # the account paid is the bank-card register's active card, never the household's copy
            bank = cards.account_of(models, households)
            hukou = dict(Household.select(Household.id, Household.hukou_type)
                         .where(Household.id.in_(households)).tuples())
            rows = []
            for care_id, household, village, kind in todo:
                amount = amounts.get(care_id)
                if amount is None or (household, kind) in listed:
                    continue                       # cancelled before this month, or a second care row
                listed.add((household, kind))
                name, bank_name, account = bank.get(household, (None, None, None))
                held = not account or care_id in held_by_check
                note = ("死亡比对待核实，暂缓发放" if care_id in held_by_check else
                        "无有效银行卡，暂缓发放" if held else None)
                standard = standards(village, kind, hukou.get(household))
                rows.append({"household": household, "village": village, "care": care_id,
                             "assistance_type": kind, "month": month, "kind": "regular", "amount": amount,
                             "status": "held" if held else "pending", "account_name": name,
                             "bank_name": bank_name, "bank_account": account,
                             "note": note, "standard": standard,
                             "persons": persons[care_id], **people[care_id],
                             "created_at": now, "updated_at": now})
                result.held += held
                total += amount
            if rows:
                insert_rows(Payment, rows, list(rows[0]))
            created += len(rows)
        result.created, result.total = created, total
        _audit(engine, "payment_month", row.id, "update",
               {"发放台账": [None, f"{township.name} {month} 生成 {created} 笔，合计 {total:.2f} 元，暂缓 {result.held} 笔"]})
    return result


def _standard_finder(models, month):
    """(village, assistance type, hukou) → the standard amount in force, looked up once per combination."""
    from casework.funds.standards import standard_in_force, standard_kind_of
    cache = {}

    def find(village, kind, hukou):
        key = (village, standard_kind_of(models.registry, kind), hukou)
        if key[1] is None or "standard" not in models.registry.entities:
            return None
        if key not in cache:
            row = standard_in_force(models, village, key[1], month, hukou_type=hukou)
            cache[key] = row.amount if row else None
        return cache[key]
    return find


def _chunks(iterable, size):
    batch = []
    for item in iterable:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def close(engine, user, township_id, month):
    models = engine.models
    township = _check(models, user, township_id, month)
    Payment, Area = models["payment"], models["area"]
    with models.db.atomic():
        # the same lock as runs, corrections and bank returns: the checks below see their lines
        row = lock_month(models, township, month)
        if row.status == "closed":
            raise PaymentRefused(f"{township.name} {month} 已经关账")
        villages = Area.select(Area.id).where(Area.parent == township.id)
        lines = Payment.select().where(Payment.month == month, Payment.village.in_(villages))
        if not lines.exists():
            raise PaymentRefused(f"{township.name} {month} 还没有发放台账，不能关账")
        pending = lines.where(Payment.status == "pending").count()
        if pending:
            raise PaymentRefused(f"还有 {pending} 笔待发，请先导入银行回盘（标记已发或失败）再关账")
        row.status, row.closed_at = "closed", clock.now()
        row.closed_by = user.full_name if user else "系统"
        row.save()
        summarise(models, township, month)
    return row


def summarise(models, township, month):
    """The closed month's figures per village and item, for cumulative statistics (ledger_month)."""
    if "ledger_month" not in models.registry.entities:
        return
    Payment, Care, Area, Summary = models["payment"], models["care"], models["area"], models["ledger_month"]
    villages = Area.select(Area.id).where(Area.parent == township.id)
    Summary.delete().where(Summary.village.in_(villages), Summary.month == month).execute()
    rows = (Payment.select(Payment.village, Payment.assistance_type, pw.fn.COUNT(Payment.id),
                           pw.fn.COUNT(Payment.household.distinct()),
                           pw.fn.SUM(pw.fn.COALESCE(Payment.persons, Care.persons)),
                           pw.fn.SUM(Payment.amount))
            .join(Care, pw.JOIN.LEFT_OUTER, on=(Payment.care == Care.id))
            .where(Payment.village.in_(villages), Payment.month == month, Payment.status != "held")
            .group_by(Payment.village, Payment.assistance_type).tuples())
    now = clock.now()
    data = [{"village": v, "month": month, "assistance_type": t, "lines": n, "households": h,
             "persons": int(p or 0), "amount": Decimal(str(a or 0)), "created_at": now, "updated_at": now}
            for v, t, n, h, p, a in rows]
    if data:
        insert_rows(Summary, data, list(data[0]))


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


def bank_lines(engine, user, township_id, month, left_out=None):
    """The lines of the bank's payment list: one per household and item, the month's pending ledger
    lines (the monthly sum, a 补发, a 扣减) added up; 流水号 is the first line's id and `ids` all of them.
    A household whose deductions exceed what it is due this month is left out (its ids go to `left_out`)."""
    models = engine.models
    Payment, Area, Household = models["payment"], models["area"], models["household"]
    villages = Area.select(Area.id).where(Area.parent == township_id)
    query = (scope.scoped(models, "payment", user)
             .where(Payment.month == month, Payment.village.in_(villages), Payment.status == "pending")
             .join(Household, on=(Payment.household == Household.id))
             .select(Payment.id, Payment.household, Payment.amount, Payment.assistance_type, Payment.account_name,
                     Payment.bank_name, Payment.bank_account, Household.head_name, Household.head_id_number)
             .order_by(Payment.village, Payment.household, Payment.assistance_type, Payment.id))
    group = None
    for row in stream_dicts(query):
        key = (row["household"], row["assistance_type"])
        if group is not None and group["key"] != key:
            if group["amount"] > 0:
                yield group
            elif left_out is not None:
                left_out.extend(group["ids"])
        if group is None or group["key"] != key:
            group = dict(row, key=key, ids=[row["id"]])
            continue
        group["ids"].append(row["id"])
        group["amount"] += row["amount"]
    if group is not None and group["amount"] > 0:
        yield group
    elif group is not None and left_out is not None:
        left_out.extend(group["ids"])


def bank_totals(engine, user, township_id, month):
    """(payees, total, assistance types) of the bank list, counted in the database so that the list
    itself can be streamed after its header."""
    models = engine.models
    Payment, Area = models["payment"], models["area"]
    villages = Area.select(Area.id).where(Area.parent == township_id)
    summed = pw.fn.SUM(Payment.amount)
    groups = (scope.scoped(models, "payment", user)
              .where(Payment.month == month, Payment.village.in_(villages), Payment.status == "pending")
              .select(Payment.assistance_type, summed.alias("amount"))
              .group_by(Payment.household, Payment.assistance_type).having(summed > 0))
    count, total, types = 0, Decimal("0.00"), set()
    for kind, amount in groups.tuples().iterator():
        count, total = count + 1, total + Decimal(str(amount))
        types.add(kind)
    return count, total, sorted(types)


def adjust(engine, user, care_id, month, kind, amount, reason, token=None):
    """A correction paid with a later month: 补发 (back pay) or 扣减 (a deduction from what is due that
    month). Closed months are never touched: the correction goes into an open one. `token` names the
    form it came from: the same form posted again returns the line it made (`repeated` is True)."""
    models = engine.models
    Care, Payment, Household = models["care"], models["payment"], models["household"]
    if kind not in ("back", "deduct"):
        raise PaymentRefused("类别只能是补发或扣减")
    if not MONTH.match(month or ""):
        raise PaymentRefused(f"发放年月应写作 2026-05，收到“{month}”")
    try:
        amount = Decimal(str(amount)).quantize(Decimal("0.01"))
    except InvalidOperation:
        raise PaymentRefused("金额应为数字") from None
    if amount <= 0:
        raise PaymentRefused("金额应大于0")
    if not (reason or "").strip():
        raise PaymentRefused("请写明补发或扣减的理由")
    target = scope.scoped(models, "care", user).where(Care.id == care_id).first()
    if target is None:
        raise PaymentRefused("找不到该在保对象，或它不在您的管辖区划内")
    if token is not None and not TOKEN.match(token):
        raise PaymentRefused("表单已失效，请刷新页面后重新填写")
    Area = models["area"]
    township = Area.get_by_id(care.township_of(models, target.__data__["village"]))
    with models.db.atomic():
        # the month's lock: a closing, a run or a second click waits, then sees this line
        if lock_month(models, township, month).status == "closed":
            raise PaymentRefused(f"{month} 已关账；更正请放在以后未关账的月份")
        if token:
            done = Payment.get_or_none(Payment.form_token == token)
            if done is not None and done.__data__["care"] != target.id:
                raise PaymentRefused("表单已失效，请刷新页面后重新填写")    # another record's form
            if done is not None:
                done.repeated = True       # the same form sent twice (a double click): registered once
                return done
        lines = Payment.select().where(Payment.household == target.__data__["household"], Payment.month == month,
                                       Payment.assistance_type == target.assistance_type)
        due = sum((p.amount for p in lines if p.status in ("pending", "held")), Decimal("0.00"))
        if kind == "deduct" and due < amount:
            raise PaymentRefused(f"{month} 该户本项目应发 {due:.2f} 元，不足扣减 {amount:.2f} 元："
                                 f"请先生成该月发放台账，或分几个月扣减")
        household = Household.get_by_id(target.__data__["household"])
        name, bank_name, account = cards.account_of(models, [household.id]).get(household.id, (None, None, None))
        line = Payment(household=household.id, village=target.__data__["village"], care=target.id,
                       assistance_type=target.assistance_type, month=month, kind=kind,
                       amount=amount if kind == "back" else -amount,
                       status="pending" if account else "held", account_name=name,
                       bank_name=bank_name, bank_account=account, form_token=token or None,
                       note=("补发：" if kind == "back" else "扣减：") + reason.strip()[:180])
        line.save()
        line.repeated = False
    return line


def export_bank_list(engine, user, township, month, target, day):
    """Write the bank's list for a township-month and record the day its lines went to the bank."""
    from reports.bank import write_payment_list
    left_out = []
    count, total = write_payment_list(target, f"{township.name}社会救助资金发放清单", month,
                                      bank_lines(engine, user, township.id, month, left_out),
                                      engine.registry.options["assistance_type"].label_of,
                                      totals=bank_totals(engine, user, township.id, month))
    mark_sent(engine, township.id, month, day, left_out)
    return count, total


def mark_sent(engine, township_id, month, day, left_out=()):
    """The township-month's pending lines went to the bank today (the first export counts: a re-export
    does not restart the clock). One UPDATE: an id list of 400k lines took PostgreSQL 10 s in chunks."""
    Payment, Area = engine.models["payment"], engine.models["area"]
    listed = (Payment.month == month) & Payment.village.in_(Area.select(Area.id).where(Area.parent == township_id)) \
        & (Payment.status == "pending") & Payment.sent_on.is_null()
    if left_out:
        listed &= Payment.id.not_in(list(left_out))
    Payment.update(sent_on=day).where(listed).execute()


def unconfirmed(engine, user, township_id, month, today):
    """Lines sent to the bank more than `bank_confirm_days` working days ago and still not confirmed."""
    from casework.core.workdays import CalendarUnknown
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
    engine.system.AuditLog.create(at=clock.now(), user_id=who[0], username=who[1],
                                  ip=who[2], entity=entity, record_id=record_id, action=action,
                                  changes=json.dumps(changes, ensure_ascii=False), batch=system.batch.get())


def held_care(models, month):
    """Care ids whose payments are held in `month` by a death finding not dismissed."""
    if "check_result" not in models.registry.entities:
        return set()
    Result = models["check_result"]
    return {c for (c,) in Result.select(Result.care).where(
        Result.kind == "death", Result.status != "dismissed", Result.hold_from <= month,
        Result.care.is_null(False)).tuples()}
