"""The township's reserve fund for temporary aid (临时救助备用金): allocations in, aid paid out; the
balance never goes below zero. A temporary-aid case approved by the township pays from it; emergency
aid paid first (先行救助) is entered when the case is registered, and stays paid even if the case is
later denied; the approval then pays only what the decision adds to it."""
from decimal import Decimal

import peewee as pw

from schema import RecordInvalid

from casework.core.errors import Refused
from casework.funds.care import effect, township_of

OUT = ("payment", "refund", "advance")


def balance(models, township_id, exclude=None):
    Entry = models["reserve_entry"]
    query = Entry.select(Entry.kind, pw.fn.SUM(Entry.amount)).where(Entry.township == township_id)
    if exclude:
        query = query.where(Entry.id != exclude)
    total = Decimal("0.00")
    for kind, amount in query.group_by(Entry.kind).tuples():
        total += -Decimal(amount or 0) if kind in OUT else Decimal(amount or 0)
    return total


@effect("pay_from_reserve")
def pay_from_reserve(flow, record, user, today):
    """Only what the township decides is paid from its reserve; a county-approved sum is the county's."""
    models = flow.models
    if user is None or flow.registry.roles[user.role].level == "county" or record.state != "approved":
        return
    Entry = models["reserve_entry"]
    advanced = Entry.select(pw.fn.SUM(Entry.amount)).where(Entry.case == record.id, Entry.kind == "advance").scalar()
    amount = Decimal(record.decided_amount or 0) - Decimal(advanced or 0)
    if amount <= 0:
        return                                  # the emergency aid already paid covers the decision
    note = f"临时救助 {record.case_no}" + (f"（已先行救助 {Decimal(advanced):,.2f} 元）" if advanced else "")
    _enter(models, record, "payment", amount, today, note)


@effect("advance_from_reserve")
def advance_from_reserve(flow, record, user, today):
    """Emergency aid paid first (先行救助): out of the township's reserve on the day it was paid."""
    if not record.aid_given:
        return
    _enter(flow.models, record, "advance", record.aid_given, record.aid_date or today,
           f"先行救助 {record.case_no}")


def _enter(models, record, kind, amount, day, note):
    township = township_of(models, record.__data__.get("village"))
    entry = models["reserve_entry"](township=township, kind=kind, amount=amount, entry_date=day, case=record.id,
                                    note=note)
    try:
        entry.save()
    except RecordInvalid as e:
        raise Refused(str(e)) from None


def install(models):
    if "reserve_entry" not in models.registry.entities:
        return

    @models.hooks.on("reserve_entry", "before_save")
    def before(record, old):
        if old is not None:
            return                  # never changed once saved: `immutable_after` in reserve_entry.yaml
        amount = Decimal(record.amount or 0)
        if amount <= 0:
            raise RecordInvalid({"amount": "金额应大于0"})
        current = balance(models, record.__data__.get("township"))
        after = current - amount if record.kind in OUT else current + amount
        if after < 0:
            raise RecordInvalid({"amount": f"备用金余额不足：现有 {current:,.2f} 元，本笔 {amount:,.2f} 元。"
                                           f"请先申请县财政拨入备用金"})
        record.balance = after
