"""Findings from spot checks (document 002): a failed check becomes a finding against the township; the
county sets its level and deadline and accepts the rectification; the township only writes its reply."""

from schema import clock, RecordInvalid

from casework.core import scope
from casework.funds.care import township_of


def install(models):
    if "finding" not in models.registry.entities:
        return
    Finding = models["finding"]

    @models.hooks.on("finding", "before_save")
    def before(record, old):
        if record.level in ("rectification", "supervision") and not record.deadline:
            raise RecordInvalid({"deadline": "整改通知和督办须填写整改时限"})
        if record.deadline and record.deadline != (old or {}).get("deadline") and record.deadline < clock.today():
            raise RecordInvalid({"deadline": f"整改时限 {record.deadline} 已经过去，请填写今天或以后的日期"})
        level = scope.actor_level(models)
        if old is not None and level in ("township", "village"):
            # what else the township may not change: `writers` in finding.yaml
            if (record.reply or "").strip() and record.reply != old.get("reply"):
                record.status, record.replied_on = "replied", clock.today()
            elif record.status != old.get("status"):
                raise RecordInvalid({"status": "整改状态由回复和县里的验收决定"})
        if record.status == "accepted":
            if not (record.reply or "").strip():
                raise RecordInvalid({"status": "乡镇回复整改情况后才能验收"})
            record.accepted_on = record.accepted_on or clock.today()

    @models.hooks.on("spot_check_case", "after_change")
    def after(record, action, old):
        if record.result != "fail":
            return
        if Finding.select().where(Finding.check_case == record.id).exists():
            return
        spec = record._spec
        failed = [f.label for f in spec.fields if f.options == "check_result" and f.name != "result"
                  and getattr(record, f.name) == "fail"]
        check = models["spot_check"].get_by_id(record.__data__["spot_check"])
        Finding(township=township_of(models, record.__data__.get("village")), check_case=record.id,
                case=record.__data__["case"], month=check.month, level="reminder", status="open",
                problem="抽查不合格：" + "、".join(failed) + (f"。{record.remark}" if record.remark else "")).save()


def overdue(models, user, today=None):
    """Findings past their deadline and not yet accepted, within the user's scope."""
    from casework.core import scope
    Finding = models["finding"]
    return scope.scoped(models, "finding", user).where(Finding.deadline < (today or clock.today()),
                                                       Finding.status != "accepted")
