"""Periodic reviews (定期复核, 57号 art. 31): each care row's next review date from its class, the due
and overdue list, and a review case that ends by confirming, adjusting or ending the aid.

A review is a case (purpose = review) run by `workflows/review.yaml`; this module opens it for a care
row and, when it is decided, puts the outcome on the roster through the roster's own changes.
"""
import datetime as dt
from decimal import Decimal

import peewee as pw

from schema import clock, idnumber, RecordInvalid

from casework.cases import benefits
from casework.core.errors import Refused
from casework.core import scope, system
from casework.funds.care import effect, next_month

def _open(models):
    """A review case still running: not in a state its workflow declares `final`."""
    return models["case"].state.not_in(models.registry.final_states("case"))


def add_months(day, months):
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    last = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(year, month, min(day.day, last))


def interval(settings, review_class):
    return settings.get("review_months_half_yearly" if review_class == "half_yearly" else "review_months_yearly")


def base_of(care_row):
    """The date the interval runs from: the last review, else the first day of care."""
    if care_row.reviewed_on:
        return care_row.reviewed_on
    return dt.date(int(care_row.start_month[:4]), int(care_row.start_month[5:7]), 1)


def _default_class(models, household):
    """Half-yearly where a member can work (income may change), yearly otherwise (57号 art. 31)."""
    Member = models["member"]
    able = Member.select().where(Member.household == household, Member.labour_capacity == "1").exists()
    return "half_yearly" if able else "yearly"


def install(models):
    if "care" not in models.registry.entities or not models["care"]._spec.has_field("next_review"):
        return

    @models.hooks.on("care", "before_save")
    def schedule(record, old):
        if not record.review_class:
            record.review_class = _default_class(models, record.__data__.get("household"))
        if record.start_month:
            record.next_review = add_months(base_of(record), interval(models.settings, record.review_class))
            if record._spec.has_field("review_due_reason"):
                record.review_due_reason = None
                early = min(special_due(models, record), default=None)
                if early and early[0] < record.next_review:
                    record.next_review, record.review_due_reason = early

    if "work_refusal" in models.registry.entities:
        @models.hooks.on("work_refusal", "before_save")
        def refusal_person(record, old):
            Member = models["member"]
            if not Member.select().where(Member.household == record.__data__.get("household"),
                                         Member.id_number == record.id_number).exists():
                raise RecordInvalid({"id_number": "该身份证号不是所选家庭的成员"})
            if record.offered_on and record.offered_on > clock.today():
                raise RecordInvalid({"offered_on": "介绍工作的日期不能晚于今天"})

        @models.hooks.on("work_refusal", "after_change")
        def refusal_counted(record, action, old):
            Care = models["care"]
            households = {record.__data__.get("household"), (old or {}).get("household")} - {None}
            for row in Care.select().where(Care.status == "in_care", Care.household.in_(list(households))):
                row.save()

    @models.hooks.on("death_record", "after_change")
    def death_listed(record, action, old):
        # a death among a household in care brings its review forward (death_review_months)
        if action == "delete" or "review_due_reason" not in models["care"]._meta.fields:
            return
        Care, Member = models["care"], models["member"]
        households = Member.select(Member.household).where(Member.id_number == record.id_number)
        for row in Care.select().where(Care.status == "in_care", Care.household.in_(households)):
            row.save()

    @models.hooks.on("case", "before_save")
    def new_review(record, old):
        if record.__data__.get("purpose") == "review" and old is None:
            _check_new_review(models, record)


def in_care(models, household, assistance_type):
    """The care row a review is about: a household has one row in care per type (start_care)."""
    Care = models["care"]
    return Care.get_or_none((Care.household == household) & (Care.assistance_type == assistance_type)
                            & (Care.status == "in_care"))


def _running(models, household, assistance_type):
    Case = models["case"]
    return Case.select().where(Case.household == household, Case.assistance_type == assistance_type,
                               Case.purpose == "review", _open(models)).first()


def _check_new_review(models, record):
    household, kind = record.__data__.get("household"), record.assistance_type
    if in_care(models, household, kind) is None:
        raise RecordInvalid({"assistance_type": "该家庭没有这一救助类别的在保记录，无需复核"})
    running = _running(models, household, kind)
    if running is not None:
        raise RecordInvalid({"assistance_type": f"该家庭这一类别已有正在办理的复核（{running.case_no}），请在该事项中继续"})


def special_due(models, row):
    """[(date, reason)] that bring a care row's review forward: a member's death (within
    death_review_months of it), a minor in 特困 reaching tekun_minor_age, refused work (work_refusal_limit)."""
    settings, out = models.settings, []
    base = base_of(row)
    household = row.__data__.get("household")
    Member = models["member"]
    if "death_record" in models.registry.entities:
        Death = models["death_record"]
        died = (Member.select(Member.name, Death.death_date)
                .join(Death, on=(Death.id_number == Member.id_number))
                .where(Member.household == household, Death.death_date >= base).tuples())
        months = settings.get("death_review_months")
        for name, day in died:
            out.append((add_months(day, months), f"家庭成员{name}于{day}死亡，应在{months}个月内复核"))
    if row.assistance_type in models.registry.codes_with("assistance_type", family="tekun"):
        person = _tekun_person(models, row)
        if person:
            name, birth = person
            age = settings.get("tekun_minor_age")
            grown = add_months(birth, 12 * age)
            if grown > base:
                out.append((grown, f"未成年特困人员{name}于{grown}年满{age}周岁，应复核是否继续供养（在校就读的可继续）"))
    if "work_refusal" in models.registry.entities:
        out.extend(_refusals_due(models, row, base))
    return out


def _tekun_person(models, row):
    """(name, birth date) of the one person a 特困 care row supports: its case's applicant."""
    case_id = row.__data__.get("case")
    Case = models["case"]
    found = Case.select(Case.applicant_name, Case.applicant_id_number).where(Case.id == case_id).tuples().first() \
        if case_id else None
    if not found or not found[1]:
        return None
    try:
        return found[0], idnumber.parse(found[1])[1]
    except idnumber.IdNumberError:
        return None


def _refusals_due(models, row, base):
    """A member who refused, without good reason, `work_refusal_limit` jobs in a row since the care's
    base date: the review is due on the day of the last refusal, with the reason for the exit."""
    Refusal = models["work_refusal"]
    limit = models.settings.get("work_refusal_limit")
    if not limit or limit < 1:
        return []
    out = []
    by_person = {}
    query = (Refusal.select().where(Refusal.household == row.__data__.get("household"), Refusal.offered_on >= base)
             .order_by(Refusal.offered_on, Refusal.id))
    for r in query:
        run = by_person.setdefault(r.id_number, [])
        if r.justified or r.accepted:
            run.clear()             # a refusal with good reason, or a job taken, ends the run
        else:
            run.append(r)
        if len(run) >= limit:
            out.append((run[-1].offered_on, f"家庭成员{r.name}无正当理由连续{len(run)}次拒绝介绍的工作"
                                             f"（{run[-1].offered_on}），可减发或停发其本人的低保金（社会救助暂行办法第四十五条）"))
    return out


def reschedule_special(models):
    """The rows a special date may bring forward, recomputed one by one (after a setting changed)."""
    Care = models["care"]
    if not Care._spec.has_field("review_due_reason"):
        return 0
    tekun = models.registry.codes_with("assistance_type", family="tekun")
    maybe = Care.review_due_reason.is_null(False) | Care.assistance_type.in_(tekun)
    if "death_record" in models.registry.entities:
        Member, Death = models["member"], models["death_record"]
        maybe |= Care.household.in_(Member.select(Member.household).join(
            Death, on=(Death.id_number == Member.id_number)))
    query = Care.select().where((Care.status == "in_care") & maybe)
    changed = 0
    for row in list(query):
        before = (row.next_review, row.review_due_reason)
        row.save()
        changed += before != (row.next_review, row.review_due_reason)
    return changed


def reschedule_all(models):
    """Recompute every next review date after an interval setting changed: one UPDATE per class and
    base date (a few hundred), not one per household."""
    Care = models["care"]
    if not Care._spec.has_field("next_review"):
        return 0
    changed = 0
    in_care = Care.select(Care.review_class, Care.reviewed_on, Care.start_month).where(
        Care.status == "in_care").distinct().tuples()
    with models.db.atomic():
        for review_class, reviewed_on, start_month in list(in_care):
            base = reviewed_on or dt.date(int(start_month[:4]), int(start_month[5:7]), 1)
            due = add_months(base, interval(models.settings, review_class))
            query = Care.update(next_review=due).where(
                Care.status == "in_care", Care.review_class == review_class, Care.start_month == start_month,
                Care.reviewed_on.is_null() if reviewed_on is None else Care.reviewed_on == reviewed_on,
                (Care.next_review != due) | Care.next_review.is_null())
            changed += query.execute()
        changed += reschedule_special(models)
    return changed


def backfill(models):
    """Rows kept before reviews were scheduled get their class and date (once, at migrate)."""
    Care = models["care"]
    if not Care._spec.has_field("next_review"):
        return
    Member = models["member"]
    able = Member.select(Member.household).where(Member.labour_capacity == "1")
    Care.update(review_class="half_yearly").where(Care.review_class.is_null(), Care.household.in_(able)).execute()
    Care.update(review_class="yearly").where(Care.review_class.is_null()).execute()
    if Care.select().where(Care.next_review.is_null(), Care.status == "in_care").exists():
        reschedule_all(models)


# -- the due list -------------------------------------------------------------------------------------

def due(engine, user, today=None, village_id=None):
    """Care rows in scope whose review is due within `review_due_soon_days` or overdue, the nearest
    first, each with its running review case if there is one."""
    models = engine.models
    Care, Case, Area = models["care"], models["case"], models["area"]
    today = today or clock.today()
    horizon = today + dt.timedelta(days=engine.settings.get("review_due_soon_days"))
    query = scope.scoped(models, "care", user).where(Care.status == "in_care", Care.next_review <= horizon)
    if village_id:
        query = query.where(Care.village == village_id)
    running = (Case.select(Case.household, Case.assistance_type, pw.fn.MIN(Case.id).alias("case_id"))
               .where(Case.purpose == "review", _open(models))
               .group_by(Case.household, Case.assistance_type).alias("running"))
    labels = models.registry.options["assistance_type"].labels
    extra = [Care.review_due_reason] if Care._spec.has_field("review_due_reason") else []
    rows = (query.select(Care.id, Care.head_name, Care.assistance_type, Care.review_class, Care.next_review,
                         Care.reviewed_on, Area.name.alias("village"), running.c.case_id, *extra)
            .join_from(Care, Area, on=(Care.village == Area.id))
            .join_from(Care, running, pw.JOIN.LEFT_OUTER,
                       on=((running.c.household_id == Care.household)
                           & (running.c.assistance_type == Care.assistance_type)))
            .order_by(Care.next_review, Care.id).limit(2000).dicts())
    out = []
    for row in rows:
        row["type_label"] = labels.get(row["assistance_type"], row["assistance_type"])
        row["overdue_days"] = (today - row["next_review"]).days if row["next_review"] < today else 0
        out.append(row)
    return out


def counts(engine, user, today=None):
    """(overdue, due soon) for the home page: two counts on the indexed date, not the list itself."""
    Care = engine.models["care"]
    today = today or clock.today()
    horizon = today + dt.timedelta(days=engine.settings.get("review_due_soon_days"))
    in_care = scope.scoped(engine.models, "care", user).where(Care.status == "in_care")
    return (in_care.where(Care.next_review < today).count(),
            in_care.where(Care.next_review.between(today, horizon)).count())


def open_review(engine, user, care_id, today=None):
    """The review case for a care row in the user's scope (its running one if there is one)."""
    models = engine.models
    Care, Case, Household = models["care"], models["case"], models["household"]
    row = scope.scoped(models, "care", user).where(Care.id == care_id).first()
    if row is None:
        raise RecordInvalid({"care": "找不到该在保记录，或它不在您的管辖区划内"})
    running = _running(models, row.__data__["household"], row.assistance_type)
    if running is not None:
        return running
    household = Household.get_by_id(row.__data__["household"])
    token = system.actor.set(system.acting(user))
    try:
        case = Case(household=household.id, assistance_type=row.assistance_type, purpose="review",
                    applicant_name=household.head_name, applicant_id_number=household.head_id_number,
                    apply_date=today or clock.today(), channel="review",
                    hardship_detail=f"定期复核（上次复核或纳入：{base_of(row)}，应于 {row.next_review} 前复核）"
                    + (f"。提前复核的原因：{row.review_due_reason}" if getattr(row, "review_due_reason", None) else ""))
        case.save()
    finally:
        system.actor.reset(token)
    return case


# -- the outcome --------------------------------------------------------------------------------------

@effect("review_decided")
def review_decided(flow, record, user, today):
    """Confirmed: only the review date moves. Adjusted or ended: a roster change from next month."""
    models = flow.models
    Care, Change = models["care"], models["care_change"]
    row = in_care(models, record.__data__["household"], record.assistance_type)
    if row is None:
        raise Refused("复核的在保记录已不在保，不能再作复核结论")
    month = next_month(today.strftime("%Y-%m"))
    reason = f"定期复核（{record.case_no}）：{record.review_reason or '情况无变化'}"
    if getattr(row, "review_due_reason", None) and record.review_result != "confirm":
        reason += f"（提前复核的原因：{row.review_due_reason}）"     # e.g. three refused jobs: the reason to exit
    current = Decimal(row.monthly_amount)
    if record.review_result == "adjust":
        new = Decimal(record.decided_amount or 0)
        if new == current:
            raise Refused(f"调整后的金额与现在的月救助金额 {current:.2f} 元相同，应选择“维持”")
        if new <= 0:
            raise Refused("金额为0时应选择“停发”")
        Change(care=row.id, kind="raise" if new > current else "lower", effective_month=month, new_amount=new,
               reason=reason, case=record.id).save()
    elif record.review_result == "gradual_exit":
        schedule_gradual_exit(flow, row, record, month, reason)
    elif record.review_result == "end":
        Change(care=row.id, kind="cancel", effective_month=month, reason=reason, case=record.id).save()
        record.decided_amount = Decimal("0")
    else:
        record.decided_amount = current
    row = Care.get_by_id(row.id)
    row.reviewed_on = today
    row.save()
    record._moved_by_flow = True
    try:
        record.save()
    finally:
        record._moved_by_flow = False


def gradual_exit_schedule(flow, record, current):
    """[(month number from 1, percent, amount)] of the 渐退期: the settings' percentages of the amount before the
    review, each rounded once by the rounding setting; a month at 0 ends the aid there."""
    months = flow.setting("gradual_exit_months")
    try:
        percents = [Decimal(p.strip()) for p in str(flow.setting("gradual_exit_percents") or "").split(",") if p.strip()]
    except ArithmeticError:
        percents = None
    if months < 0 or (months and not percents) or any(p < 0 or p > 100 for p in percents or [Decimal(0)]):
        raise Refused("设置“渐退期内逐月发放比例（%）”应是0到100之间的数，用逗号分隔，请县级管理员修改")
    if any(b > a for a, b in zip(percents, percents[1:])):
        raise Refused("设置“渐退期内逐月发放比例（%）”应逐月递减（后一个月不高于前一个月），请县级管理员修改")
    rounding = benefits.Context(flow.engine, record)
    out = []
    for i in range(months):
        amount = rounding.rounded(current * percents[min(i, len(percents) - 1)] / 100)
        out.append((i + 1, percents[min(i, len(percents) - 1)], amount))
        if amount <= 0:
            break
    return out


def schedule_gradual_exit(flow, row, record, month, reason):
    """The roster changes of a 渐退期 from `month`: a 调减 wherever the amount falls, then 注销 the month
    after the period (or the month whose share is 0). Each change prints its own notice."""
    Change = flow.models["care_change"]
    current = Decimal(row.monthly_amount)
    previous, end, first = current, month, Decimal("0")
    for n, percent, amount in gradual_exit_schedule(flow, record, current):
        if amount <= 0:
            break
        if amount < previous:
            Change(care=row.id, kind="lower", effective_month=end, new_amount=amount, case=record.id,
                   reason=f"{reason}（渐退期第{n}个月，按复核前金额的{percent:g}%）").save()
            previous = amount
        first = first or amount
        end = next_month(end)
    Change(care=row.id, kind="cancel", effective_month=end, case=record.id,
           reason=f"{reason}（渐退期满，自{end}起停发，退出低保）").save()
    record.decided_amount = first          # what the household receives next month
