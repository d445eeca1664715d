"""Dishonesty records (失信记录) for aid obtained by false statements (documents 000 and 004: "录入失信
记录，同时停止社会救助，责令退回非法所得").

Listing stops the aid: every in-care row of the household is cancelled through the roster's own
注销 from the next month, so the payment run, the certificates and the 停发告知书 all follow as for any
cancellation. Repayments (`recovery` rows) never exceed what is to be recovered; the amount recovered
and the status follow from them. A case whose applicant or any member of whose household is listed
is flagged when it is registered (and open cases when the listing is made): the law lets them
apply, the township must look closer.
"""
from decimal import Decimal

import peewee as pw

from schema import clock, RecordInvalid

from schema import idnumber
from casework.core import numbering, scope
from casework.funds.care import month_closed, next_month, township_of

RECORD, REPAYMENT = "dishonesty", "recovery"


def install(models):
    if RECORD not in models.registry.entities:
        return
    registry = models.registry
    has_cases = "case" in registry.entities
    hooks = models.hooks
    hooks.on(RECORD, "before_save", lambda record, old: _check_record(models, record, old, clock.today(),
                                                                        scope.actor_level(models)))
    hooks.on(REPAYMENT, "before_save", lambda record, old: _check_repayment(models, record, old, clock.today()))

    if has_cases:
        @hooks.on("case", "before_save")
        def flag(record, old):
            if old is None:
                text = flag_text(models, record, record.apply_date or clock.today())
                record.credit_flag = _clip(text, record, "credit_flag")
            elif not getattr(record, "_credit_flag_by_system", False):
                record.credit_flag = old.get("credit_flag")      # only the system writes it

    @hooks.on(RECORD, "after_change")
    def listed(record, action, old):
        if action == "create":
            _stop_aid(models, record)
            if has_cases:
                _flag_open_cases(models, record)

    @hooks.on(REPAYMENT, "after_change")
    def repaid(record, action, old):
        if action in ("create", "restore", "archive", "delete"):
            _settle(models, record, action)


# -- the record

def _check_record(models, record, old, today, level):
    errors = {}
    Household = models["household"]
    household = Household.get_or_none(id=record.__data__.get("household"))
    if old is None:                 # household and person never change after: `immutable_after` in dishonesty.yaml
        if household is None or household.archived:
            raise RecordInvalid({"household": "请选择失信人员所在的家庭"})
        errors.update(_person_errors(models, record, household))
    if not (record.facts or "").strip():
        errors["facts"] = "请写明失信事实：虚报、隐瞒或伪造了什么"
    if record.found_on is None:
        errors["found_on"] = "请填写认定日期"
    elif record.found_on > today and (old is None or old.get("found_on") != record.found_on):
        errors["found_on"] = "认定日期不能晚于今天"
    if record.listed_until is not None and record.found_on is not None and record.listed_until <= record.found_on:
        errors["listed_until"] = "列入期限应晚于认定日期"
    if record.amount_due is None:
        errors["amount_due"] = "请填写应追回金额；无须追回的填0"
    elif Decimal(record.amount_due) < 0:
        errors["amount_due"] = "应追回金额不能为负数"
    case_id = record.__data__.get("case")
    if case_id and "case" in models.registry.entities:
        Case = models["case"]
        owner = Case.select(Case.household).where(Case.id == case_id).scalar()
        if owner != record.__data__.get("household"):
            errors["case"] = "所选救助事项不是该家庭的"
    if errors:
        raise RecordInvalid(errors)

    recovered = _recovered(models, record.id) if record.id else Decimal(0)
    if Decimal(record.amount_due) < recovered:
        raise RecordInvalid({"amount_due": f"应追回金额不能少于已追回的 {recovered:.2f} 元"})
    written_off = bool(record.written_off)
    if written_off != bool((old or {}).get("written_off")):
        if level in ("township", "village"):
            raise RecordInvalid({"written_off": "核销（或取消核销）由县级确定"})
        if written_off and not (record.write_off_note or "").strip():
            raise RecordInvalid({"write_off_note": "核销须写明核销说明：为什么无法追回、经谁批准"})
        if written_off and recovered >= Decimal(record.amount_due):
            raise RecordInvalid({"written_off": "已全部追回，无须核销"})
    _derive(record, recovered)

    if old is None:
        record.record_no = _number(models, record)
        record._stop_plan = _stop_plan(models, record, today)
        record.aid_stopped = _clip("；".join(text for _, _, text in record._stop_plan)
                                   or "登记时该户没有在保记录，无须停发", record, "aid_stopped")


def _person_errors(models, record, household):
    try:
        number = idnumber.parse(record.id_number)[0]
    except idnumber.IdNumberError as e:
        return {"id_number": str(e)}
    record.id_number = number
    name = (record.name or "").strip()
    if not name:
        return {"name": "请填写失信人员姓名"}
    record.name = name
    Member = models["member"]
    people = {m.id_number: m.name for m in Member.select(Member.id_number, Member.name).where(
        Member.household == household.id, Member.archived == False)}  # noqa: E712
    people.setdefault(household.head_id_number, household.head_name)
    registered = next((people[n] for n in _forms(number) if n in people), None)
    if registered is None:
        return {"id_number": f"身份证号 {idnumber.mask(number)} 不是所选家庭（{household.head_name}户）的户主或家庭成员"}
    if registered != name:
        return {"name": f"姓名与该家庭登记的不一致：该身份证号登记的姓名是“{registered}”"}
    duplicate = models[RECORD].select().where(models[RECORD].id_number.in_(_forms(number)),
                                              models[RECORD].found_on == record.found_on,
                                              models[RECORD].archived == False)  # noqa: E712
    if record.found_on and duplicate.exists():
        return {"id_number": f"{name} 在 {record.found_on} 已有一条失信记录，请勿重复登记"}
    return {}


def _derive(record, recovered):
    due = Decimal(record.amount_due)
    record.recovered = recovered
    record.outstanding = max(due - recovered, Decimal(0))
    if due == 0:
        record.status = "none"
    elif recovered >= due:
        record.status = "recovered"
    elif record.written_off:
        record.status = "written_off"
    else:
        record.status = "recovering"


def _number(models, record):
    """<township code>-SX<year>-<serial>: the township's records that year, plus one (archived ones
    keep their numbers, so a number is never given twice)."""
    prefix = f"{numbering.township_code(models, record.__data__.get('village'))}-SX{record.found_on.year}-"
    return numbering.next_number(models[RECORD].record_no, prefix, 4)


# -- stopping the aid, through the roster

def _stop_plan(models, record, today):
    """[(care id, effective month, description)] for every in-care row of the household: cancelled
    from next month (the current month may already be paid), or the first month after it the
    township has not closed."""
    Care = models["care"]
    labels = models.registry.options["assistance_type"]
    plan = []
    for care in Care.select().where(Care.household == record.__data__["household"], Care.status == "in_care") \
            .order_by(Care.id):
        month = max(next_month(today.strftime("%Y-%m")), care.start_month)
        township = township_of(models, care.__data__.get("village"))
        while month_closed(models, township, month):
            month = next_month(month)
        plan.append((care.id, month, f"{labels.label_of(care.assistance_type)}自 {month} 起停发"))
    return plan


def _stop_aid(models, record):
    Change = models["care_change"]
    reason = (f"列入失信记录 {record.record_no}（{record.name}，{record.found_on} 认定）：以虚报、隐瞒、伪造等"
              f"不正当手段骗取社会救助，停止救助")
    for care_id, month, _ in getattr(record, "_stop_plan", []):
        Change(care=care_id, kind="cancel", effective_month=month, reason=reason,
               case=record.__data__.get("case")).save()


# -- repayments

def _check_repayment(models, repayment, old, today):
    if old is not None:
        return                      # never changed once saved: `immutable_after` in recovery.yaml
    errors = {}
    Model = models[RECORD]
    record = Model.get_or_none(id=repayment.__data__.get("dishonesty"))
    if record is None or record.archived:
        errors["dishonesty"] = "请选择在册的失信记录"
    if repayment.amount is None or Decimal(repayment.amount) <= 0:
        errors["amount"] = "缴回金额应大于0"
    if repayment.paid_on is None:
        errors["paid_on"] = "请填写缴回日期"
    elif repayment.paid_on > today:
        errors["paid_on"] = "缴回日期不能晚于今天"
    receipt = (repayment.receipt_no or "").strip()
    if not receipt:
        errors["receipt_no"] = "请填写票据编号"
    elif record is not None:
        Repayment = models[REPAYMENT]
        if Repayment.select().where(Repayment.dishonesty == record.id, Repayment.receipt_no == receipt,
                                    Repayment.archived == False).exists():  # noqa: E712
            errors["receipt_no"] = f"票据 {receipt} 已登记过，请勿重复登记"
    if errors:
        raise RecordInvalid(errors)
    repayment.receipt_no = receipt


def _settle(models, repayment, action):
    """Within the repayment's transaction: the record is locked (two clerks registering at once wait
    for each other), the total checked against what is due, and the record's totals refreshed."""
    Model = models[RECORD]
    query = Model.select().where(Model.id == repayment.__data__["dishonesty"])
    if isinstance(models.db, pw.PostgresqlDatabase):
        query = query.for_update()
    record = query.first()
    total = _recovered(models, record.id)
    due = Decimal(record.amount_due)
    if action in ("create", "restore") and total > due:
        before = total - Decimal(repayment.amount)
        raise RecordInvalid({"amount": f"缴回金额 {Decimal(repayment.amount):.2f} 元超过尚未追回的 "
                                       f"{max(due - before, Decimal(0)):.2f} 元（应追回 {due:.2f} 元，"
                                       f"已追回 {before:.2f} 元），未登记"})
    record.save()                 # the record's before-hook derives recovered, outstanding and status


def _recovered(models, record_id):
    Repayment = models[REPAYMENT]
    total = Repayment.select(pw.fn.SUM(Repayment.amount)).where(
        Repayment.dishonesty == record_id, Repayment.archived == False).scalar()  # noqa: E712
    return Decimal(total or 0).quantize(Decimal("0.01"))


# -- flags on cases

def _forms(number):
    """An ID number in both its 18-digit and (for those born in the 1900s) 15-digit forms: a person
    listed under the old number is still found when applying with the new one, and the reverse."""
    number = str(number or "")
    out = {number}
    if len(number) == 15 and number.isdigit():
        first17 = number[:6] + "19" + number[6:]
        out.add(first17 + idnumber.check_digit(first17))
    elif len(number) == 18 and number[6:8] == "19":
        out.add(number[:6] + number[8:17])
    return out


def in_force(models, numbers, on):
    """Live records of these ID numbers whose listing has not ended by `on`."""
    Model = models[RECORD]
    forms = set().union(*(_forms(n) for n in numbers if n)) if numbers else set()
    if not forms:
        return []
    return list(Model.select().where(Model.id_number.in_(sorted(forms)), Model.archived == False,  # noqa: E712
                                     Model.listed_until.is_null() | (Model.listed_until >= on))
                .order_by(Model.found_on, Model.id))


def flag_text(models, case, on):
    """The flag for a case being registered: who of the applicant and the household is listed."""
    applicant = case.applicant_id_number
    numbers = {applicant} | _household_numbers(models, case.__data__.get("household"))
    applicant_forms = _forms(applicant) if applicant else set()
    parts = [_describe(models, r, "申请人" if r.id_number in applicant_forms else "家庭成员")
             for r in in_force(models, numbers, on)]
    if not parts:
        return None
    return "；".join(parts) + "。可以受理，请从严核查"


def _household_numbers(models, household_id):
    if not household_id:
        return set()
    Member, Household = models["member"], models["household"]
    numbers = {n for (n,) in Member.select(Member.id_number).where(
        Member.household == household_id, Member.archived == False).tuples()}  # noqa: E712
    head = Household.select(Household.head_id_number).where(Household.id == household_id).scalar()
    return numbers | ({head} if head else set())


def _describe(models, record, who):
    Area = models["area"]
    township = township_of(models, record.__data__.get("village"))
    place = Area.select(Area.name).where(Area.id == township).scalar() if township else ""
    status = models.registry.options["dishonesty_status"].label_of(record.status)
    until = f"，在册至 {record.listed_until}" if record.listed_until else ""
    return f"{who}{record.name}有失信记录 {record.record_no}（{place} {record.found_on} 认定，{status}{until}）"


def _flag_open_cases(models, record):
    """Cases still being processed when the listing is made: of the household, of households the person
    belongs to, or applied for by the person. The flag is added; the case goes on."""
    Case, Member = models["case"], models["member"]
    forms = sorted(_forms(record.id_number))
    households = {record.__data__["household"]} | {h for (h,) in Member.select(Member.household).where(
        Member.id_number.in_(forms), Member.archived == False).tuples()}  # noqa: E712
    query = Case.select().where(Case.archived == False,  # noqa: E712
                                Case.state.not_in(models.registry.final_states("case")),
                                Case.household.in_(sorted(households)) | Case.applicant_id_number.in_(forms))
    for case in query.order_by(Case.id):
        who = "申请人" if case.applicant_id_number in forms else "家庭成员"
        note = f"受理后{_describe(models, record, who)}。请从严核查"
        case.credit_flag = _clip("；".join(p for p in (case.credit_flag, note) if p), case, "credit_flag")
        case._credit_flag_by_system = True
        try:
            case.save()
        finally:
            case._credit_flag_by_system = False


def _clip(text, record, field_name):
    """Within the field's declared length (several listings may be named on one case)."""
    limit = record._spec.field(field_name).max_length
    if text and limit and len(text) > limit:
        return text[:limit - 1] + "…"
    return text
