"""Complaints and reports (信访举报, issue 7): the county registers a complaint and assigns it to a
township, which checks it and writes its reply; the county closes it. The status only moves forward
(已登记 → 已交办 → 已回复 → 已办结) and a closed complaint is never changed again."""

from schema import clock, RecordInvalid

from casework.core import numbering, scope
from casework.funds.care import township_of


def install(engine):
    models = engine.models
    if "complaint" not in models.registry.entities:
        return

    @models.hooks.on("complaint", "before_save")
    def before(record, old):
        today = clock.today()
        township_side = scope.actor_level(models) in ("township", "village")
        if old is None and township_side:
            raise RecordInvalid({"township": "信访举报由县里登记后交办乡镇，乡镇不能新建"})
        # a closed complaint and what the township may write: `immutable_after`, `writers` in complaint.yaml
        _check_entry(models, record, today)
        # checked when the county enters them: a household that later moves away must not block the reply
        if old is None or any(record.__data__.get(k) != old.get(k) for k in ("case", "household", "township")):
            _check_links(models, record)
        _move(engine, record, old, today)
        if old is None:
            record.number = record.number or _number(record)


def _check_entry(models, record, today):
    errors = {}
    if not record.received_on:
        errors["received_on"] = "请填写收到日期"
    elif record.received_on > today:
        errors["received_on"] = "收到日期不能晚于今天"
    if not (record.content or "").strip():
        errors["content"] = "请填写反映的问题"
    if record.anonymous and ((record.complainant or "").strip() or record.phone):
        errors["complainant"] = "匿名的信访举报不登记反映人姓名和电话"
    elif not record.anonymous and not (record.complainant or "").strip():
        errors["complainant"] = "请填写反映人姓名；不愿留名的请勾选“匿名”"
    if errors:
        raise RecordInvalid(errors)


def _check_links(models, record):
    """A complaint about a case or a household goes to that case's or household's township."""
    Area, Case, Household = models["area"], models["case"], models["household"]
    case_id, household_id = record.__data__.get("case"), record.__data__.get("household")
    linked = None                                   # (what, township id)
    if case_id:
        case = Case.get_or_none(id=case_id)
        if case is None:
            raise RecordInvalid({"case": "所选救助事项不存在"})
        if household_id and case.__data__["household"] != household_id:
            raise RecordInvalid({"case": f"救助事项 {case.case_no} 不是所选家庭的事项"})
        linked = (f"所涉救助事项 {case.case_no}", township_of(models, case.__data__["village"]))
    elif household_id:
        household = Household.get_or_none(id=household_id)
        if household is None:
            raise RecordInvalid({"household": "所选家庭不存在"})
        linked = (f"所涉家庭 {household.code}", township_of(models, household.__data__["village"]))
    if linked is None:
        return
    what, town = linked
    chosen = record.__data__.get("township")
    if not chosen:
        record.township = town
    elif chosen != town:
        name = Area.select(Area.name).where(Area.id == town).scalar()
        raise RecordInvalid({"township": f"{what} 在{name}，承办乡镇（街道）应为{name}"})


def _move(engine, record, old, today):
    """The status goes one step forward at a time; writing the reply is the township's step."""
    prev = old.get("status") if old else "registered"
    reply, old_reply = (record.reply or "").strip(), ((old or {}).get("reply") or "").strip()
    current = prev
    if reply != old_reply:
        if not reply:
            raise RecordInvalid({"reply": "已回复的不能清空回复内容"})
        if prev not in ("assigned", "replied"):
            raise RecordInvalid({"reply": "交办乡镇后才能填写核查回复"})
        record.replied_on, current = today, "replied"
    want = record.status or prev
    if want == prev and current == "replied":
        want = "replied"
    if want == current:
        pass
    elif (current, want) == ("registered", "assigned"):
        _assign(engine, record, today)
    elif want == "closed":
        if current != "replied":
            raise RecordInvalid({"status": "乡镇回复后才能办结"})
        if not record.conclusion:
            raise RecordInvalid({"conclusion": "办结前须写明核查结论（属实、部分属实或不属实）"})
        record.closed_on = today
    elif want == "replied":
        raise RecordInvalid({"status": "填写乡镇核查回复后即为“已回复”，不能直接选择"})
    else:
        raise RecordInvalid({"status": "办理状态只能依次为：已登记 → 已交办 → 已回复 → 已办结"})
    record.status = want
    if want != "registered" and not record.__data__.get("township"):
        raise RecordInvalid({"township": "交办须选择承办乡镇（街道）"})
    if prev != "registered" and record.__data__.get("township") != old.get("township"):
        if current != "assigned":
            raise RecordInvalid({"township": "乡镇已回复的信访举报不能改交其他乡镇"})
        _assign(engine, record, today)             # handed to another township: it gets the full period


def _assign(engine, record, today):
    record.assigned_on = today
    record.deadline = reply_deadline(engine, today)


def reply_deadline(engine, assigned_on):
    """Natural days after the assignment; a last day that is a statutory day off moves to the next
    working day (民法典第二百零三条), on the same calendar as the case deadlines."""
    return engine.flow.calendar().period_end_or_unrolled(assigned_on, engine.settings.get("complaint_reply_days"))


def _number(record):
    """XF-<date received>-<serial of that day>."""
    return numbering.next_number(type(record).number, f"XF-{record.received_on:%Y%m%d}-", 3)


def overdue(models, user, today=None):
    """Assigned complaints past their reply deadline with no reply yet, within the user's scope."""
    Complaint = models["complaint"]
    return (scope.scoped(models, "complaint", user)
            .where(Complaint.deadline < (today or clock.today()), Complaint.status == "assigned")
            .order_by(Complaint.deadline, Complaint.id))
