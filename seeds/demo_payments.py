"""Twelve months of payment history for the demo county: households taken over from the old paper
roster a year ago (with their cards and certificates), the January standard rise as 调增, a few exits,
each past month run, paid (a few lines failed) and closed; the current month run and left pending."""
import datetime as dt
import random
from decimal import Decimal

from casework.funds import care, payments
from schema import clock

LEGACY = 120          # households in care since a year ago


def months_back(today, n):
    month = today.strftime("%Y-%m")
    out = [month]
    for _ in range(n):
        month = care.previous_month(month)
        out.append(month)
    return list(reversed(out))


def demo_payments(engine, today=None):
    models = engine.models
    Care, Change, Household, Card, Cert = (models[n] for n in ("care", "care_change", "household", "bank_card",
                                                              "certificate"))
    if Change.select().where(Change.reason.startswith("由原花名册迁入")).exists():
        return 0
    today = today or clock.today()
    months = months_back(today, 12)
    first, current = months[0], months[-1]
    rng = random.Random(1201)
    taken = {h for (h,) in Care.select(Care.household).tuples()}
    pool = [h for h in Household.select().where(Household.income_per_capita < 400, Household.member_count > 0)
            .order_by(Household.id) if h.id not in taken]
    chosen = rng.sample(pool, min(LEGACY, len(pool)))
    cares = []
    reviewed = random.Random(1202)        # its own sequence: the households chosen above stay the same
    for h in chosen:
        if h.bank_account and not Card.select().where(Card.household == h.id).exists():
            Card.create(household=h.id, account_name=h.account_name or h.head_name, bank_name=h.bank_name,
                        account=h.bank_account, status="active", opened_on=dt.date(2019, 3, 1))
        standard = Decimal(700 if h.hukou_type == "2" else 880)
        amount = max(Decimal(100), (standard - Decimal(h.income_per_capita or 0)) * (h.member_count or 1))
        amount = amount.quantize(Decimal("1"))
        row = Care(household=h.id, assistance_type="12" if h.hukou_type == "2" else "11", persons=h.member_count,
                   monthly_amount=amount, start_month=first, status="in_care",
                   # most were reviewed in the past year; the rest are due or overdue on the review list
                   reviewed_on=today - dt.timedelta(days=reviewed.randint(10, 330))
                   if reviewed.random() < 0.85 else None)
        row.save()
        change = Change(care=row.id, kind="add", effective_month=first, new_amount=amount,
                        reason="由原花名册迁入（演示数据）")
        change._by_system = True
        change.save()
        Cert.create(care=row.id, kind="1", issued_on=dt.date(int(first[:4]), int(first[5:]), 1))
        cares.append((row, h))
    Area, User = models["area"], models["user"]
    admin = User.get(User.username == "admin")
    townships = list(Area.select().where(Area.level == "township").order_by(Area.code))
    made = 0
    for month in months:
        # the standard rose in January: households' amounts rise with it
        if month.endswith("-01"):
            rng.sample(cares, len(cares) // 3)          # kept: the draws after it stay the same
            for row, h in cares:                          # everyone's amount follows the standard
                current_row = Care.get_by_id(row.id)
                if current_row.status == "in_care":
                    Change(care=row.id, kind="raise", effective_month=month,
                           new_amount=Decimal(current_row.monthly_amount) + 40 * (h.member_count or 1),
                           reason="保障标准提高").save()
        if month in months[3:-1] and rng.random() < 0.5:
            row, h = rng.choice(cares)
            if Care.get_by_id(row.id).status == "in_care":
                Change(care=row.id, kind="cancel", effective_month=month,
                       reason=rng.choice(["家庭成员就业，收入超过标准", "死亡", "户籍迁出本县"])).save()
        for township in townships:
            made += payments.run(engine, admin, township.id, month).created
            if month == current:
                continue
            Payment = models["payment"]
            villages = Area.select(Area.id).where(Area.parent == township.id)
            paid_on = dt.date(int(month[:4]), int(month[5:]), 10)
            for line in Payment.select().where(Payment.month == month, Payment.village.in_(villages),
                                               Payment.status == "pending"):
                failed = rng.random() < 0.01
                line.status, line.paid_on = ("failed", None) if failed else ("paid", paid_on)
                if failed:
                    line.note = "银行退回：账户冻结"
                line.save()
            try:
                payments.close(engine, admin, township.id, month)
            except payments.PaymentRefused:
                pass                        # a township with nobody in care that month has nothing to close
    return made
