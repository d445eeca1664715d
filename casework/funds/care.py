"""In care and the roster (花名册): who receives what from which month.

An approved case puts the household in care from the next month (a workflow effect). Amounts change
only through `care_change` rows (新增, 注销, 调增, 调减), each with its effective month and reason;
the amount for a month is the one of the latest change in force that month, so history stays exact.
A change that takes effect in a month the township has closed is refused.
"""
from decimal import Decimal

from schema import RecordInvalid, clock

from casework.core.errors import Refused
from casework.funds import covered, months
from casework.core.named import Named
from casework.core import workdays

EFFECTS = Named()
effect = EFFECTS            # @effect("name") registers a function; casework/registry.py imports every provider


def next_month(month):
    year, mon = int(month[:4]), int(month[5:7])
    return f"{year + mon // 12}-{mon % 12 + 1:02d}"


def previous_month(month):
    year, mon = int(month[:4]), int(month[5:7])
    return f"{year - (mon == 1)}-{(mon - 2) % 12 + 1:02d}"


def township_of(models, village_id):
    Area = models["area"]
    return Area.select(Area.parent).where(Area.id == village_id).scalar()


def month_closed(models, township_id, month):
    Period = models["payment_month"]
    return Period.select().where(Period.township == township_id, Period.month == month,
                                 Period.status == "closed").exists()


@effect("start_care")
def start_care(flow, record, user, today):
    """Approved: in care from the month after the decision, at the decided amount."""
    models = flow.models
    Care, Change = models["care"], models["care_change"]
    household = record.__data__["household"]
    active = Care.select().where(Care.household == household, Care.assistance_type == record.assistance_type,
                                 Care.status == "in_care").first()
    if active is not None:
        raise Refused("该户已在保（同一救助类别），不能再次纳入；金额变化请在“花名册变更”中调增或调减")
    start = next_month((record.decision_date or today).strftime("%Y-%m"))
    persons = 1 if covered.single_person(models.registry, record.assistance_type) else (
        models["household"].select(models["household"].member_count).where(
            models["household"].id == household).scalar() or 1)
    care = Care(household=household, assistance_type=record.assistance_type, case=record.id, persons=persons,
                monthly_amount=record.decided_amount, start_month=start, status="in_care")
    care.save()
    change = Change(care=care.id, kind="add", effective_month=start, new_amount=record.decided_amount,
                    reason=f"经审批纳入（{record.case_no}）", case=record.id)
    change._by_system = True
    change.save()


@effect("adjust_care")
def adjust_care(flow, record, user, today):
    """A decided case re-assessed: the new amount goes on the roster as 调增 or 调减 from next month."""
    models = flow.models
    Care, Change = models["care"], models["care_change"]
    active = Care.select().where(Care.case == record.id, Care.status == "in_care").first()
    if active is None:
        raise Refused("该事项没有在保的花名册记录，无法调整金额")
    new, old = Decimal(record.decided_amount or 0), Decimal(active.monthly_amount)
    if new == old:
        raise Refused(f"调整后的金额与现在的月救助金额 {old:.2f} 元相同")
    if new <= 0:
        raise Refused("金额为0时请办理停发（在花名册变更中注销），不是调整")
    month = next_month(today.strftime("%Y-%m"))
    Change(care=active.id, kind="raise" if new > old else "lower", effective_month=month, new_amount=new,
           reason=f"重新测算（{record.case_no}）", case=record.id).save()


def amounts_in(models, care_ids, month):
    """{care id: the monthly amount in force in `month`} from the changes (cancelled ones: absent)."""
    Change = models["care_change"]
    out = {}
    query = (Change.select(Change.care, Change.kind, Change.new_amount)
             .where(Change.care.in_(care_ids), Change.effective_month <= month)
             .order_by(Change.effective_month, Change.id).tuples())
    for care_id, kind, amount in query:
        if kind == "cancel":
            out.pop(care_id, None)
        else:
            out[care_id] = amount
    return out


def install(models):
    """Apply each roster change to its care row; refuse changes that break the rules."""
    if "care_change" not in models.registry.entities:
        return

    @models.hooks.on("payment", "before_save")
    def closed_month(record, old):
        # the month the line leaves (an edit) and the month it lands in (a new line, or a moved one)
        for village, month in {(old.get("village"), old.get("month")) if old else (None, None),
                               (record.__data__.get("village"), record.month)}:
            if month and month_closed(models, township_of(models, village), month):
                raise RecordInvalid({"month": f"{month} 已关账，发放台账不能再改；更正请在以后月份补发或扣减"})

    @models.hooks.on("care_change", "before_save")
    def check(record, old):
        if old is None:             # never changed once saved: `immutable_after` in care_change.yaml
            _check_change(models, record)
            if record._spec.has_field("registered_on"):
                record.registered_on = clock.today()
        if record._spec.has_field("served_on"):
            _check_served(models, record)

    @models.hooks.on("care_change", "after_change")
    def apply(record, action, old):
        if action == "create":
            _apply_change(models, record)
    models.after_import = dict(getattr(models, "after_import", {}), care=lambda record: take_over(models, record))


def take_over(models, care):
    """An imported roster row (taking over a roster kept elsewhere) enters care as an approved case
    would: one active row per household and class, and a 新增 change from its start month at its
    amount, checked like every change (a closed month refuses it)."""
    Care, Change = models["care"], models["care_change"]
    household = care.__data__["household"]
    twin = Care.select().where(Care.household == household, Care.assistance_type == care.assistance_type,
                               Care.status == "in_care", Care.id != care.id).exists()
    if twin:
        raise RecordInvalid({"household": "该户已在保（同一救助类别），不能重复纳入；金额变化请在“花名册变更”中调增或调减"})
    if care.persons is None:
        care.persons = 1 if covered.single_person(models.registry, care.assistance_type) else (
            models["household"].select(models["household"].member_count)
            .where(models["household"].id == household).scalar() or 1)
        care.save()
    change = Change(care=care.id, kind="add", effective_month=care.start_month, new_amount=care.monthly_amount,
                    reason="接收原有花名册（导入）")
    change._by_system = True
    change.save()


def _check_change(models, change):
    Care = models["care"]
    care = Care.get_or_none(id=change.__data__.get("care"))
    if care is None:
        raise RecordInvalid({"care": "找不到该在保对象"})
    month = change.effective_month
    township = township_of(models, care.__data__["village"])
    if month:
        # the months this change reaches, locked before anything below is read: a run or a closing
        # of one of them either committed before (and is seen here) or waits for this change
        months.hold_from(models, township, month)
        care = Care.get_by_id(care.id)
    if month_closed(models, township, month):
        raise RecordInvalid({"effective_month": f"{month} 已关账，变更只能从以后的月份生效"})
    change.old_amount = care.monthly_amount
    kind, new = change.kind, change.new_amount
    if kind == "add" and not getattr(change, "_by_system", False):
        raise RecordInvalid({"kind": "新增只能经审批事项批准后由系统登记"})
    if care.status != "in_care" and kind != "add":
        raise RecordInvalid({"care": "该对象已注销"})
    if month < care.start_month:
        raise RecordInvalid({"effective_month": f"生效月份不能早于起始月份 {care.start_month}"})
    if kind in ("raise", "lower"):
        if new is None:
            raise RecordInvalid({"new_amount": "调增、调减须填写新月救助金额"})
        if kind == "raise" and Decimal(new) <= Decimal(care.monthly_amount):
            raise RecordInvalid({"new_amount": f"调增后的金额应高于原金额 {care.monthly_amount:.2f} 元"})
        if kind == "lower" and (Decimal(new) >= Decimal(care.monthly_amount) or Decimal(new) <= 0):
            raise RecordInvalid({"new_amount": f"调减后的金额应低于原金额 {care.monthly_amount:.2f} 元且大于0；"
                                               f"停发请选择“注销”"})
    if kind == "cancel":
        change.new_amount = None


def calendar(models):
    """The statutory calendar with the county's own entries (as the workflow's deadlines use it)."""
    Day = models["calendar_day"] if "calendar_day" in models.registry.entities else None
    overrides = {day: kind == "workday" for day, kind in Day.select(Day.day, Day.kind).tuples()} if Day else {}
    return workdays.Calendar(overrides, workdays.parse_years(models.settings.get("calendar_confirmed_years")))


def _check_served(models, change):
    """The notice's delivery date, and from it the last day to apply for 行政复议: counted by the civil
    code (the delivery day does not count; a last day that is a day off moves to the next working day)."""
    served = change.served_on
    if served is None:
        change.appeal_until = None
        return
    registered = change.registered_on          # none on changes saved before it was recorded: no lower bound
    if served > clock.today() or (registered and served < registered):
        raise RecordInvalid({"served_on": f"送达日期不能早于登记变更的日期（{registered or '—'}），也不能晚于今天"})
    change.appeal_until = calendar(models).period_end_or_unrolled(served, models.settings.get("reconsideration_days"))


def _apply_change(models, change):
    Care = models["care"]
    care = Care.get_by_id(change.__data__["care"])
    if change.kind == "cancel":
        care.end_month = previous_month(change.effective_month)
        care.status = "ended"
    elif change.kind in ("raise", "lower"):
        care.monthly_amount = change.new_amount
    care.save()
