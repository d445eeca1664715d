"""Bank cards: one active card per household (一户一卡); the active card's details are the ones the
household record (and so the payment run) uses; closed cards stay as history."""
from schema import RecordInvalid


def install(models):
    if "bank_card" not in models.registry.entities:
        return
    Card, Household = models["bank_card"], models["household"]

    def before(record, old):
        if record._spec.name != "bank_card":
            return
        if old and old.get("status") == "closed" and record.status == "active":
            raise RecordInvalid({"status": "已注销的卡不能恢复使用；请登记一张新卡"})
        if old and old.get("household") != record.__data__.get("household"):
            raise RecordInvalid({"household": "银行卡不能改到另一户；请注销后为另一户登记新卡"})
        if record.status == "active":
            others = Card.select().where(Card.household == record.__data__.get("household"), Card.status == "active")
            if record._pk is not None:
                others = others.where(Card.id != record._pk)
            if others.exists():
                raise RecordInvalid({"household": "该户已有一张在用的银行卡（一户一卡）：换卡请先注销旧卡"})
        elif not record.closed_on or not record.close_reason:
            raise RecordInvalid({"closed_on": "注销银行卡须填写注销日期和注销原因"})

    def after(record, action, old):
        if record._spec.name != "bank_card":
            return
        household = Household.get_by_id(record.__data__["household"])
        active = Card.select().where(Card.household == household.id, Card.status == "active").first()
        household.account_name = active.account_name if active else None
        household.bank_name = active.bank_name if active else None
        household.bank_account = active.account if active else None
        household.save()

    models.hooks.before.append(before)
    models.hooks.after.append(after)
