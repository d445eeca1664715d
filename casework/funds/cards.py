"""Bank cards: one active card per household (一户一卡); the active card's details are the ones the
household record (and so the payment run) uses; closed cards stay as history."""
from dataclasses import dataclass, field

from schema import RecordInvalid

from casework.core import scope


def account_of(models, household_ids):
    """household id → (account name, bank, card number) of its active card in the register."""
    if "bank_card" not in models.registry.entities:
        Household = models["household"]
        return {h: (n, b, a) for h, n, b, a in Household.select(
            Household.id, Household.account_name, Household.bank_name, Household.bank_account)
            .where(Household.id.in_(list(household_ids))).tuples()}
    Card = models["bank_card"]
    return {h: (n, b, a) for h, n, b, a in Card.select(Card.household, Card.account_name, Card.bank_name, Card.account)
            .where(Card.household.in_(list(household_ids)), Card.status == "active").tuples()}


@dataclass
class Backfill:
    created: int = 0
    refused: list = field(default_factory=list)     # (household, why) not registered


def backfill(models, user, dry_run=False):
    """Register a card for each live household of the user's scope whose record holds an account
    but which has no card in the register at all (accounts typed before the register existed, or
    written by an old import): the run pays only registered cards. Each card is saved as the form
    saves it (checked, audited); a household the rules refuse is listed with the reason. One
    transaction; dry_run rolls it back."""
    Card, Household = models["bank_card"], models["household"]
    q = (scope.scoped(models, "household", user)
         .where(Household.bank_account.is_null(False), Household.bank_account != "",
                ~Household.id.in_(Card.select(Card.household)))
         .order_by(Household.id))
    if Household._spec.archive:
        q = q.where(Household.archived == False)  # noqa: E712
    out = Backfill()
    with models.db.atomic() as txn:
        for household in q:
            card = Card(household=household.id, account_name=household.account_name or household.head_name,
                        bank_name=household.bank_name, account=household.bank_account, status="active")
            missing = [f.label for f in Card._spec.fields if f.required and card.__data__.get(f.name) in (None, "")]
            if missing:
                out.refused.append((household, f"家庭户上没有{'、'.join(missing)}，请在“银行卡”中登记"))
                continue
            try:
                with models.db.atomic():
                    card.save()
                out.created += 1
            except RecordInvalid as e:
                out.refused.append((household, "；".join(e.errors.values())))
        if dry_run:
            txn.rollback()
    return out


def install(models):
    if "bank_card" not in models.registry.entities:
        return
    Card, Household = models["bank_card"], models["household"]

    copied = {"account_name": "account_name", "bank_name": "bank_name", "bank_account": "account"}

    def household_before(record, old):
        # the household's copy follows the register; a change from any other path would divert the money
        if old is None or not any(record.__data__.get(f) != old.get(f) for f in copied):
            return
        active = Card.select().where(Card.household == record._pk, Card.status == "active").first()
        if any(record.__data__.get(f) != (getattr(active, c) if active else None) for f, c in copied.items()):
            raise RecordInvalid({"bank_account": "银行卡信息只能在“银行卡”中登记或注销（由乡镇审核），"
                                                 "家庭户中的开户名、开户银行和账号随在用的卡自动更新"})

    models.hooks.on("household", "before_save", household_before)

    @models.hooks.on("bank_card", "before_save")
    def before(record, old):
        if old and old.get("status") == "closed" and record.status == "active":
            raise RecordInvalid({"status": "已注销的卡不能恢复使用；请登记一张新卡"})
        if record.status == "active":
            others = Card.select().where(Card.household == record.__data__.get("household"), Card.status == "active")
            if record._pk is not None:
                others = others.where(Card.id != record._pk)
            if others.exists():
                raise RecordInvalid({"household": "该户已有一张在用的银行卡（一户一卡）：换卡请先注销旧卡"})
        elif not record.closed_on or not record.close_reason:
            raise RecordInvalid({"closed_on": "注销银行卡须填写注销日期和注销原因"})

    @models.hooks.on("bank_card", "after_change")
    def after(record, action, old):
        household = Household.get_by_id(record.__data__["household"])
        active = Card.select().where(Card.household == household.id, Card.status == "active").first()
        household.account_name = active.account_name if active else None
        household.bank_name = active.bank_name if active else None
        household.bank_account = active.account if active else None
        household.save()
