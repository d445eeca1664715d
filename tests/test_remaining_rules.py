"""Issue 15, the remaining rules, on SQLite and PostgreSQL: the 渐退期, the deadlines the documents set
(investigation start, a death in the household, ending 特困 support, minors turning 18, refused work),
the notices (调减/停发 with delivery and the appeal deadline, the denial notice's 复议机关), 先行救助 (the
reserve ledger, 24 hours from the report), the supervision arithmetic and the checks of item 6.
Worked examples are computed by hand from the documents and the settings' stated defaults."""
import datetime as dt
from decimal import Decimal

import pytest

from casework.cases import reviews
from casework.cases.workflow import Refused
from casework.core import system
from schema import RecordInvalid

from .test_spotcheck import approve
from .test_workflow import World, deadline

D = dt.date


@pytest.fixture
def world(engine):
    return World(engine)


def care_of(world, case):
    Care = world.engine.models["care"]
    return Care.get(Care.household == case.__data__["household"], Care.assistance_type == case.assistance_type)


def changes(world, row):
    Change = world.engine.models["care_change"]
    return [(c.kind, c.effective_month, c.new_amount) for c in
            Change.select().where(Change.care == row.id).order_by(Change.effective_month, Change.id)]


def reviewed(world, row, on):
    case = reviews.open_review(world.engine, world.users["town"], row.id, today=on)
    case = world.do(case, "start_investigation", "town", on=on)
    case = world.do(case, "record_home_visit", "village", home_visit_date=on.isoformat(), investigator_1="张明",
                    investigator_2="李红", home_visit_record="入户复核：长子在县城务工，月工资2800元")
    return world.do(case, "finish_investigation", "town", verification_record="核对工资流水",
                    verification_result="pass")


# -- 1. 渐退期 ---------------------------------------------------------------------------------------

def test_gradual_exit_declines_over_six_months_then_ends_with_a_notice(world):
    case = approve(world, 0)                                 # 300 元/月 from November 2026
    row = care_of(world, case)
    review = reviewed(world, row, D(2026, 12, 10))
    with pytest.raises(RecordInvalid) as refused:            # the reason is required (it goes on the notice)
        world.do(review, "gradual_exit", "leader")
    assert "review_reason" in refused.value.errors
    review = world.do(review, "gradual_exit", "leader", review_reason="长子就业，家庭人均收入超过低保标准")
    assert (review.state, review.review_result) == ("review_decided", "gradual_exit")
    # 6 months from January 2027 at 100, 85, 70, 55, 40, 25 % of 300 元; out from July 2027
    assert changes(world, row)[1:] == [
        ("lower", "2027-02", Decimal("255.00")), ("lower", "2027-03", Decimal("210.00")),
        ("lower", "2027-04", Decimal("165.00")), ("lower", "2027-05", Decimal("120.00")),
        ("lower", "2027-06", Decimal("75.00")), ("cancel", "2027-07", None)]
    row = care_of(world, case)
    assert (row.status, row.end_month) == ("ended", "2027-06")
    from casework.funds.care import amounts_in
    assert amounts_in(world.engine.models, [row.id], "2027-01") == {row.id: Decimal("300.00")}
    assert amounts_in(world.engine.models, [row.id], "2027-06") == {row.id: Decimal("75.00")}
    assert amounts_in(world.engine.models, [row.id], "2027-07") == {}
    Change = world.engine.models["care_change"]
    last = Change.select().where(Change.care == row.id, Change.kind == "cancel").get()
    assert "渐退期满" in last.reason and "长子就业" in last.reason
    assert review.due_item == "送达复核结果告知书"           # the exit ends with the written notice


def test_gradual_exit_follows_its_settings_and_refuses_a_bad_schedule(world):
    world.engine.settings.set("gradual_exit_months", 3)
    world.engine.settings.set("gradual_exit_percents", "80,50")
    world.engine.settings.set("dibao_rounding_digits", 0)
    case = approve(world, 0)
    row = care_of(world, case)
    world.engine.settings.set("gradual_exit_percents", "50,80")
    review = reviewed(world, row, D(2026, 12, 10))
    with pytest.raises(Refused, match="逐月递减"):
        world.do(review, "gradual_exit", "leader", review_reason="就业")
    assert changes(world, row) == [("add", "2026-11", Decimal("300.00"))]     # nothing written
    world.engine.settings.set("gradual_exit_percents", "80,50")
    world.do(review, "gradual_exit", "leader", review_reason="就业")
    # 80 % then 50 % (the last share repeats for month 3), out from April
    assert changes(world, row)[1:] == [("lower", "2027-01", Decimal("240.00")), ("lower", "2027-02", Decimal("150.00")),
                                       ("cancel", "2027-04", None)]


def test_gradual_exit_is_for_dibao_only(world):
    case = approve(world, 0)
    review = reviewed(world, care_of(world, case), D(2026, 12, 10))
    offered = {t.name: why for t, why in world.flow.offered(review, world.users["leader"])}
    assert offered["gradual_exit"] is None
    wf = world.flow.workflow(review)
    # declared by the option attribute (family: dibao): the 低保 codes, not 特困
    assert wf.transition("gradual_exit").when == {"field": "assistance_type", "in": ["11", "12", "13"]}
    tekun = _tekun_minor_in_care(world, D(2000, 1, 1))
    other = reviewed(world, tekun, D(2026, 12, 10))
    offered = {t.name: why for t, why in world.flow.offered(other, world.users["leader"])}
    assert "只适用于低保家庭" in offered["gradual_exit"]
    with pytest.raises(Refused, match="只适用于低保家庭"):
        world.do(other, "gradual_exit", "leader", review_reason="就业")


# -- 3. notices ---------------------------------------------------------------------------------------

def test_lowering_and_ending_record_delivery_and_the_appeal_deadline(world):
    case = approve(world, 0)
    row = care_of(world, case)
    world.today = D(2026, 12, 1)
    review = reviewed(world, row, D(2026, 12, 1))
    world.do(review, "adjust", "leader", decided_amount="200", review_reason="家庭成员务工，收入增加")
    Change = world.engine.models["care_change"]
    lower = Change.select().where(Change.care == row.id, Change.kind == "lower").get()
    assert lower.served_on is None and lower.appeal_until is None
    world.engine.settings.set("calendar_confirmed_years", "2027")
    token = system.actor.set((world.users["town"].id, "town", None))
    try:
        lower.served_on = D(2026, 12, 5)
        with pytest.raises(RecordInvalid, match="不能早于登记变更的日期.*也不能晚于今天"):
            lower.save()                                      # 5 December is after today (1 December)
        world.today = D(2026, 12, 8)
        lower = Change.get_by_id(lower.id)
        lower.served_on = D(2026, 11, 30)
        with pytest.raises(RecordInvalid, match="不能早于登记变更的日期"):
            lower.save()
        lower = Change.get_by_id(lower.id)
        lower.served_on = D(2026, 12, 1)
        lower.save()
        lower = Change.get_by_id(lower.id)
        # 60 days, the delivery day not counted: 30 January 2027 is a Saturday, so Monday 1 February (民法典 art. 203)
        assert lower.appeal_until == D(2027, 2, 1)
        lower.new_amount = Decimal("150")                     # the change itself stays as registered
        with pytest.raises(RecordInvalid, match="保存后不能修改"):
            lower.save()
    finally:
        system.actor.reset(token)
    assert Change.get_by_id(lower.id).new_amount == Decimal("200.00")
    text = _notice_text(world, Change.get_by_id(lower.id), "care_change_notice")
    # a township's decision is appealed to the county government (行政复议法 2023 art. 24), not to 民政局
    assert "60日内向台儿庄区人民政府申请行政复议" in text and "县民政局" not in text
    assert "6个月内依法向人民法院提起行政诉讼" in text
    assert "送达日期：2026-12-01" in text and "申请行政复议截止日期：2027-02-01" in text and "调减" in text


def test_the_denial_notice_names_the_county_government_and_its_delivery(world):
    case = world.investigate(world.case("12"), D(2026, 9, 28), D(2026, 9, 29))
    case = world.do(case, "deny", "leader", on=D(2026, 9, 30), denial_reason="家庭人均收入高于低保标准")
    with pytest.raises(RecordInvalid, match="送达日期不能早于作出决定的日期"):
        world.do(case, "serve_denial_notice", "town", notice_served_on="2026-09-29")
    case = world.do(case, "serve_denial_notice", "town", on=D(2026, 10, 9), notice_served_on="2026-10-08")
    text = _notice_text(world, case, "denial_notice")
    assert "向台儿庄区人民政府申请行政复议" in text and "送达日期：2026-10-08" in text
    assert "家庭人均收入高于低保标准" in text


def _notice_text(world, record, name):
    from reports import document
    from casework.cases import documents
    spec = document.load(world.engine.registry)[name]
    value, items = documents.filler(world.engine, record, world.users["town"], True)
    blocks = document.fill(spec, value, items)
    return "\n".join(b if isinstance(b, str) else " ".join(b) for _, b in blocks)


# -- 2. deadlines --------------------------------------------------------------------------------------

def test_the_investigation_starts_within_three_working_days(world):
    case = world.case("12")                                  # Friday 25 September 2026
    assert (case.due_item, case.due_date) == ("开始调查核对", D(2026, 9, 30))     # 28, 29, 30 September
    world.today = D(2026, 10, 8)
    assert deadline(world, case, "开始调查核对").state == "overdue"
    case = world.do(case, "start_investigation", "town", on=D(2026, 10, 8))
    assert deadline(world, case, "开始调查核对").state == "late"


def _as_system(fn):
    token = system.actor.set((None, "测试", None))
    try:
        return fn()
    finally:
        system.actor.reset(token)


def test_a_death_in_a_household_in_care_brings_its_review_within_three_months(world):
    case = approve(world, 0)                                 # in care from November 2026
    row = care_of(world, case)
    normal = row.next_review
    assert normal >= D(2027, 5, 1) and row.review_due_reason is None
    head = world.engine.models["household"].get_by_id(case.__data__["household"])
    _as_system(lambda: world.engine.models["member"].create(household=head.id, name=head.head_name,
                                                            id_number=head.head_id_number, relation="02"))
    assert care_of(world, case).next_review == normal
    county = world.engine.models["area"].get(level="county")
    _as_system(lambda: world.engine.models["death_record"].create(
        county=county, id_number=head.head_id_number, name=head.head_name, death_date=D(2026, 12, 15), source="县公安局"))
    row = care_of(world, case)
    # 15 December 2026 + 3 months = 15 March 2027
    assert row.next_review == D(2027, 3, 15)
    assert f"家庭成员{head.head_name}于2026-12-15死亡" in row.review_due_reason and "3个月内" in row.review_due_reason
    rows = reviews.due(world.engine, world.users["town"], today=D(2027, 3, 1))
    assert [r["review_due_reason"] for r in rows if r["id"] == row.id] == [row.review_due_reason]
    world.engine.settings.set("death_review_months", 1)
    reviews.reschedule_all(world.engine.models)
    assert care_of(world, case).next_review == D(2027, 1, 15)


def _tekun_minor_in_care(world, birth, start="2026-11"):
    from schema import idnumber
    m = world.engine.models
    number = idnumber.make("370405", birth, 321)

    def make():
        h = m["household"].create(code="T-MINOR", village=world.villages[0], head_name="小明", head_id_number=number,
                                  hukou_type="2")
        world.households.append(h)
        return h
    h = _as_system(make)
    case = world.case("21", household=len(world.households) - 1)
    row = m["care"](household=h.id, assistance_type="21", case=case.id, persons=1, monthly_amount=Decimal("900"),
                    start_month=start, status="in_care")
    _as_system(row.save)
    return m["care"].get_by_id(row.id)


def test_a_minor_in_tekun_is_due_for_review_on_turning_18(world):
    row = _tekun_minor_in_care(world, D(2009, 2, 10))
    assert row.next_review == D(2027, 2, 10)                # the 18th birthday, before the yearly 1 Nov 2027
    assert "小明于2027-02-10年满18周岁" in row.review_due_reason


def test_a_minor_turning_18_after_the_yearly_review_keeps_the_yearly_date(world):
    row = _tekun_minor_in_care(world, D(2012, 5, 1))         # 18 on 1 May 2030
    assert row.next_review == D(2027, 11, 1) and row.review_due_reason is None


def test_ending_tekun_support_needs_a_seven_day_notice_first(world):
    row = _tekun_minor_in_care(world, D(2000, 1, 1))
    world.today = D(2026, 12, 1)
    review = reviewed(world, row, D(2026, 12, 1))
    offered = {t.name: why for t, why in world.flow.offered(review, world.users["leader"])}
    assert "登记告知" in offered["end"]
    with pytest.raises(Refused, match="告知期满后才能停发"):
        world.do(review, "end", "leader", review_reason="已有稳定收入")
    with pytest.raises(RecordInvalid, match="不能早于发起复核的日期"):
        world.do(review, "announce_end", "town", end_notice_start="2026-11-30", review_reason="已有稳定收入")
    review = world.do(review, "announce_end", "town", end_notice_start="2026-12-01", review_reason="已有稳定收入")
    # 7 natural days, the posting day not counted: 2–8 December
    assert review.end_notice_end == D(2026, 12, 8)
    with pytest.raises(Refused, match="告知期满后才能停发"):
        world.do(review, "end", "leader", on=D(2026, 12, 8), review_reason="已有稳定收入")
    review = world.do(review, "end", "leader", on=D(2026, 12, 9), review_reason="已有稳定收入")
    assert care_of(world, review).status == "ended"


def test_a_dibao_review_may_end_without_the_tekun_notice(world):
    case = approve(world, 0)
    review = reviewed(world, care_of(world, case), D(2026, 12, 10))
    offered = {t.name: why for t, why in world.flow.offered(review, world.users["leader"])}
    assert offered["end"] is None                           # 低保: no notice period before ending
    assert "announce_end" not in {t.name for t, _ in world.flow.offered(review, world.users["leader"])}
    assert "只有特困人员" in dict((t.name, why) for t, why in world.flow.offered(review, world.users["town"]))["announce_end"]


def test_three_refusals_of_work_in_a_row_give_the_reason_to_exit(world):
    case = approve(world, 0)
    row = care_of(world, case)
    normal = row.next_review
    head = world.engine.models["household"].get_by_id(case.__data__["household"])
    _as_system(lambda: world.engine.models["member"].create(household=head.id, name=head.head_name,
                                                            id_number=head.head_id_number, relation="02"))
    Refusal = world.engine.models["work_refusal"]

    def refuse(day, **kw):
        world.today = D(2026, 12, 31)
        values = dict(household=head.id, name=head.head_name, id_number=head.head_id_number, offered_on=day,
                      job="县城物业公司保洁员，月工资2000元", referred_by="镇人社所")
        values.update(kw)
        _as_system(lambda: Refusal.create(**values))
        return care_of(world, case)
    with pytest.raises(RecordInvalid, match="不是所选家庭的成员"):
        refuse(D(2026, 11, 5), id_number="110105194912310038")
    with pytest.raises(RecordInvalid, match="不能晚于今天"):
        refuse(D(2027, 1, 5))
    refuse(D(2026, 11, 5))
    refuse(D(2026, 11, 12))
    row = refuse(D(2026, 11, 20), justified=True, note="腰伤，不能从事体力劳动")   # the run starts again
    assert row.next_review == normal and row.review_due_reason is None
    refuse(D(2026, 12, 1))
    row = refuse(D(2026, 12, 10))
    assert row.next_review == normal                       # two in a row: not yet
    row = refuse(D(2026, 12, 20))
    assert row.next_review == D(2026, 12, 20)
    assert "无正当理由连续3次拒绝介绍的工作" in row.review_due_reason and "停发其本人的低保金" in row.review_due_reason
    review = reviews.open_review(world.engine, world.users["town"], row.id, today=D(2026, 12, 31))
    assert "连续3次拒绝" in review.hardship_detail
    review = reviewed(world, row, D(2026, 12, 31))
    world.do(review, "end", "leader", review_reason="无正当理由连续拒绝介绍的工作，停发")
    Change = world.engine.models["care_change"]
    cancel = Change.get(Change.care == row.id, Change.kind == "cancel")
    assert cancel.effective_month == "2027-01" and "连续3次拒绝介绍的工作" in cancel.reason


# -- 4. 先行救助 --------------------------------------------------------------------------------------

def test_emergency_aid_within_24_hours_of_the_report(world):
    T = dt.datetime
    world.today = D(2026, 10, 9)
    paid = dict(aid_given="800", materials="id_card")
    case = world.case("31", aid_date=D(2026, 10, 9), reported_at=T(2026, 10, 8, 20, 30), aid_at=T(2026, 10, 9, 18, 0),
                      **paid)
    first = deadline(world, case, "先行救助（24小时内）")
    assert (first.due_at, first.state) == (T(2026, 10, 9, 20, 30), "met")
    assert first.text == "2026-10-09 18:00 完成（按期）（限 2026-10-09 20:30 前）"
    late = world.case("31", aid_date=D(2026, 10, 9), reported_at=T(2026, 10, 8, 20, 30), aid_at=T(2026, 10, 9, 21, 0),
                      **paid)                                # 24 h 30 min after the report
    assert deadline(world, late, "先行救助（24小时内）").state == "late"
    with pytest.raises(RecordInvalid, match="先行救助时间不能早于求助报告时间"):
        world.case("31", aid_date=D(2026, 10, 8), reported_at=T(2026, 10, 8, 20, 30), aid_at=T(2026, 10, 8, 9, 0),
                   **paid)
    world.engine.settings.set("emergency_aid_hours", 48)    # a setting, not a number in code
    assert deadline(world, late, "先行救助（24小时内）").state == "met"
    # without a recorded report time there is nothing to measure, and nothing is made up
    plain = world.case("31", aid_date=D(2026, 10, 9), **paid)
    assert "先行救助（24小时内）" not in {d.label for d in world.flow.deadlines(plain)}


def test_emergency_aid_stays_in_the_reserve_ledger_when_the_case_is_denied(world):
    from casework.funds import reserve
    Entry = world.engine.models["reserve_entry"]
    world.today = D(2026, 10, 9)
    case = world.case("31", aid_date=D(2026, 10, 9), aid_given="1000", materials="id_card,hardship_statement,pledge")
    case = world.do(case, "complete", "town", verification_record="事后核对：不符合", proposed_amount="1000")
    case = world.do(case, "deny", "leader", denial_reason="核实有稳定收入，不属于急难情形")
    assert case.state == "denied"
    assert [(e.kind, e.amount, e.entry_date) for e in Entry.select().where(Entry.case == case.id)] == [
        ("advance", Decimal("1000.00"), D(2026, 10, 9))]
    assert reserve.balance(world.engine.models, world.towns[0].id) == Decimal("49000.00")     # 50000 − 1000


# -- 5. supervision ------------------------------------------------------------------------------------

# every point of document 002 “二、监管主要内容”, in the document's words
POINTS_002 = ["及时受理", "一次性告知", "对象认定", "建档", "材料齐全", "入户调查", "经济状况核对", "程序",
              "信息系统", "近亲属备案", "公示记录", "公示信息未超范围", "民主评议", "领导签字", "额外要求材料",
              "复核", "书面告知", "每月报送", "标准－人均收入", "增发、减发、停发", "自理能力", "照料护理费",
              "供养形式", "备用金", "优亲厚友", "办理时限", "答复群众求助"]


def test_the_spot_check_checklist_covers_document_002_and_takes_not_applicable(world):
    from casework.supervision import spotcheck
    Item = world.engine.models["spot_check_case"]
    labels = [f.label for f in Item._spec.fields if f.options == "check_result" and f.name != "result"]
    missing = [p for p in POINTS_002 if not any(p in label for label in labels)]
    assert missing == []
    approve(world, 0)
    spotcheck.draw(world.engine, world.users["admin"], "2026-10", seed=5)
    item = Item.select().get()
    token = system.actor.set((world.users["county"].id, "county", None))
    try:
        names = [f.name for f in Item._spec.fields if f.options == "check_result" and f.name != "result"]
        for name in names:
            setattr(item, name, "pass")
        for name in ("self_care", "care_fee", "support_form", "evaluation"):    # a 低保 case without objection
            setattr(item, name, "na")
        item.save()
        assert Item.get_by_id(item.id).result == "pass"
        item.exit_notice = None
        item.save()
        assert Item.get_by_id(item.id).result is None           # not concluded while a point is open
        item.exit_notice, item.near_relative = "pass", "fail"
        item.save()
    finally:
        system.actor.reset(token)
    assert Item.get_by_id(item.id).result == "fail"
    Finding = world.engine.models["finding"]
    assert "落实近亲属备案制度" in Finding.select().get().problem


def test_near_relative_cases_come_on_top_of_the_30_percent_share(world):
    from casework.supervision import spotcheck
    for _ in range(3):
        approve(world, 0)
    near = approve(world, 0, near=True)
    (drawn,) = [d for d in spotcheck.draw(world.engine, world.users["admin"], "2026-10", seed=7) if d.township == "镇0"]
    # 30 % of the month's 4 new approvals, rounded up: 2 drawn at random from the 3 ordinary ones; the near
    # relative's case is checked as well, not instead of one of them
    assert drawn.population == 4 and len(drawn.sample) == 3 and near.case_no in drawn.sample


def test_township_scores_list_every_township_and_do_not_sum_scores(world):
    from reports import engine as rep
    Finding = world.engine.models["finding"]
    token = system.actor.set((world.users["county"].id, "county", None))
    try:
        for level in ("reminder", "supervision"):            # 1 + 5 points off for 镇0 (the report's own scale)
            Finding.create(township=world.towns[0], month="2026-10", level=level, problem="抽查不合格：档案材料齐全",
                           status="open", deadline=D(2026, 10, 30) if level == "supervision" else None)
    finally:
        system.actor.reset(token)
    reports, _ = rep.load(world.engine.registry)
    _v, (scores,) = rep.run(world.engine, world.users["admin"], reports["township_scores"], {"month": "2026-10"})
    assert scores.rows == [["镇0", 2, 1, 0, 1, 2, Decimal("94.0000")], ["镇1", 0, 0, 0, 0, 0, Decimal("100.0000")]]
    assert scores.totals[:6] == ["合计", 2, 1, 0, 1, 2] and scores.totals[6] is None
    _v, (mine,) = rep.run(world.engine, world.users["town"], reports["township_scores"], {"month": "2026-10"})
    assert [r[0] for r in mine.rows] == ["镇0"]                # a township sees only itself
    _v, (clean,) = rep.run(world.engine, world.users["admin"], reports["township_scores"], {"month": "2026-11"})
    assert [(r[0], r[-1]) for r in clean.rows] == [("镇0", Decimal("100.0000")), ("镇1", Decimal("100.0000"))]


# -- 6. checks that must hold ------------------------------------------------------------------------

def test_a_rectification_deadline_in_the_past_is_refused(world):
    Finding = world.engine.models["finding"]
    token = system.actor.set((world.users["county"].id, "county", None))
    try:
        with pytest.raises(RecordInvalid, match="整改时限 2026-09-24 已经过去"):     # today is 25 September
            Finding.create(township=world.towns[0], month="2026-09", level="rectification", problem="材料不全",
                           deadline=D(2026, 9, 24), status="open")
        with pytest.raises(RecordInvalid, match="须填写整改时限"):
            Finding.create(township=world.towns[0], month="2026-09", level="rectification", problem="材料不全",
                           status="open")
        ok = Finding.create(township=world.towns[0], month="2026-09", level="rectification", problem="材料不全",
                            deadline=D(2026, 9, 25), status="open")
    finally:
        system.actor.reset(token)
    assert Finding.select().count() == 1 and ok.deadline == D(2026, 9, 25)


def test_a_zero_report_for_a_month_not_yet_ended_is_refused(world):
    Report = world.engine.models["village_report"]
    token = system.actor.set((world.users["village"].id, "village", None))
    try:
        with pytest.raises(RecordInvalid, match="2026-09 还没有结束，零报告在月末之后报送"):
            Report.create(village=world.villages[0], month="2026-09", kind="zero", visited=3)
        world.today = D(2026, 10, 1)
        Report.create(village=world.villages[0], month="2026-09", kind="zero", visited=3)
    finally:
        system.actor.reset(token)
    assert [(r.month, r.kind) for r in Report.select()] == [("2026-09", "zero")]


def test_the_elderly_allowance_is_decided_by_the_township(world):
    case = world.case("41")
    wf = world.flow.workflow(case)
    assert wf.name == "elderly"
    assert not any("refer" in t.name for t in wf.transitions)
    case = world.do(case, "start_investigation", "town", on=D(2026, 9, 28))
    case = world.do(case, "finish_investigation", "town", verification_record="核对无异常", verification_result="pass")
    with pytest.raises(Refused, match="不能执行"):
        world.do(case, "approve", "town", decided_amount="100")       # the township's leader approves
    case = world.do(case, "approve", "leader", decided_amount="100")
    assert case.state == "approved" and care_of(world, case).start_month == "2026-10"


def test_the_national_profile_uses_20_working_days_and_names_its_sources(world):
    import os
    import yaml
    path = os.path.join(os.path.dirname(os.path.dirname(__file__)), "schema", "profiles", "national.yaml")
    text = open(path, encoding="utf-8").read()
    values = yaml.safe_load(text)["values"]
    assert values["total_days"] == 20 and values["notice_days"] == 7
    for key in values:                                      # every figure says where it comes from
        line = next(ln for ln in text.splitlines() if ln.strip().startswith(f"{key}:"))
        assert "#" in line and any(w in line for w in ("号", "文件")), line
    world.engine.settings.apply_profile("national")
    case = world.case("12")                                 # Friday 25 September 2026
    # 20 working days: 28–30 Sep (3), 8–9 Oct (5), Sat 10 Oct, a make-up day (6), 12–16 (11), 19–23 (16), 26–29 (20)
    assert deadline(world, case, "全流程办结").due == D(2026, 10, 29)


# -- through the web (the demo county) ------------------------------------------------------------------

def _demo_care_in(engine, username, older_than):
    """A care row in the user's village (or township) whose review base is before `older_than`,
    with a member of its household who has an ID number."""
    from casework.core import scope
    Care, Member = engine.models["care"], engine.models["member"]
    user = engine.models["user"].get(username=username)
    for row in scope.scoped(engine.models, "care", user).where(Care.status == "in_care").order_by(Care.id):
        member = Member.select().where(Member.household == row.__data__["household"],
                                       Member.id_number.is_null(False)).first()
        if member and reviews.base_of(row) < older_than and not row.review_due_reason:
            return row, member
    raise AssertionError("演示数据中没有合适的在保记录")


def test_refused_work_registered_on_the_web_shows_on_the_review_list(app, browser_for):
    from .conftest import engine_of
    engine = engine_of(app)
    today = dt.date.today()
    row, member = _demo_care_in(engine, "village1", today - dt.timedelta(days=10))
    village = browser_for("village1")
    form = {"household": row.__data__["household"], "name": member.name, "id_number": member.id_number,
            "job": "县城物业公司保洁员，月工资2000元", "referred_by": "镇人社所"}
    r = village.post("/admin/work_refusal/new/", dict(form, offered_on=(today + dt.timedelta(days=2)).isoformat()))
    assert "介绍工作的日期不能晚于今天" in r.get_data(as_text=True)
    assert "县城物业公司保洁员" in r.get_data(as_text=True)            # what was typed stays in the form
    for days in (3, 2, 1):
        r = village.post("/admin/work_refusal/new/", dict(form, offered_on=(today - dt.timedelta(days=days)).isoformat()))
        assert r.status_code == 302, r.get_data(as_text=True)[:800]
    html = village.get("/admin/reviews/").get_data(as_text=True)
    assert f"家庭成员{member.name}无正当理由连续3次拒绝介绍的工作" in html
    Care = engine.models["care"]
    assert Care.get_by_id(row.id).next_review == today - dt.timedelta(days=1)


def test_the_delivery_date_of_a_roster_change_notice_is_entered_on_the_web(app, browser_for):
    from .conftest import engine_of
    engine = engine_of(app)
    Change = engine.models["care_change"]
    row, _member = _demo_care_in(engine, "town1", dt.date.today())
    town = browser_for("town1")
    month = (dt.date.today().replace(day=1) + dt.timedelta(days=62)).strftime("%Y-%m")
    r = town.post("/admin/care_change/new/", {"care": row.id, "kind": "cancel", "effective_month": month,
                                               "reason": "家庭人均收入超过低保标准"})
    assert r.status_code == 302, r.get_data(as_text=True)[:800]
    change = Change.select().order_by(Change.id.desc()).first()
    assert change.kind == "cancel" and change.registered_on == dt.date.today()
    tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    # the edit form sends back what it shows (the change itself) with the delivery date
    shown = {"care": row.id, "kind": "cancel", "effective_month": month, "reason": "家庭人均收入超过低保标准"}
    r = town.post(f"/admin/care_change/edit/?id={change.id}", dict(shown, served_on=tomorrow))
    assert "也不能晚于今天" in r.get_data(as_text=True)
    r = town.post(f"/admin/care_change/edit/?id={change.id}", dict(shown, reason="改了理由",
                                                                    served_on=dt.date.today().isoformat()))
    assert "保存后不能修改" in r.get_data(as_text=True)                 # the change itself stays
    r = town.post(f"/admin/care_change/edit/?id={change.id}", dict(shown, served_on=dt.date.today().isoformat()))
    assert r.status_code == 302, r.get_data(as_text=True)[-2000:]
    change = Change.get_by_id(change.id)
    assert change.served_on == dt.date.today() and change.appeal_until >= dt.date.today() + dt.timedelta(days=60)
    doc = town.get(f"/admin/care_change/document/?id={change.id}&name=care_change_notice").get_data(as_text=True)
    assert f"送达日期：{change.served_on}" in doc and f"申请行政复议截止日期：{change.appeal_until}" in doc
    assert "人民政府申请行政复议" in doc and "注销" in doc


def test_the_case_page_shows_the_24_hour_limit(app, browser_for):
    from .conftest import engine_of
    engine = engine_of(app)
    Case, H = engine.models["case"], engine.models["household"]
    user = engine.models["user"].get(username="town1")
    from casework.core import scope
    household = scope.scoped(engine.models, "household", user).order_by(H.id).first()
    now = dt.datetime.now().replace(second=0, microsecond=0)
    with system.acting_as(user):
        case = Case(household=household.id, assistance_type="31", applicant_name=household.head_name,
                    applicant_id_number=household.head_id_number, apply_date=now.date(), channel="window",
                    aid_date=now.date(), aid_given=Decimal("600"), reported_at=now - dt.timedelta(hours=30),
                    aid_at=now - dt.timedelta(hours=2))
        case.save()
    html = browser_for("town1").get(f"/admin/case/details/?id={case.id}").get_data(as_text=True)
    assert "先行救助（24小时内）" in html and "（逾期）" in html
    assert (now - dt.timedelta(hours=6)).strftime("%Y-%m-%d %H:%M") in html          # the limit, to the minute
