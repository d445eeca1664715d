"""The case workflow on the engine, on SQLite and PostgreSQL: every case type end to end on the
working-day calendar (across the 2026 National Day holiday and its make-up working days),
objection and democratic evaluation, denial, the above-limit step, refusals, deadlines."""
import datetime as dt
from decimal import Decimal

import pytest

from casework.core import system, workdays
from casework.cases.workflow import Refused
from schema import RecordInvalid
from schema import clock

D = dt.date
ALL_MATERIALS = "id_card,hukou_book,hardship_statement,verification_auth,pledge"


class World:
    """A county with two townships, one village each, a household in each, and one user per role."""

    def __init__(self, engine):
        self.engine, self.flow, m = engine, engine.flow, engine.models
        self.today = D(2026, 9, 25)
        clock.set(lambda: self.today)
        Area, User, H = m["area"], m["user"], m["household"]
        token = system.actor.set((None, "测试", None))
        county = Area.create(code="370405", name="台儿庄区", level="county")
        self.towns, self.villages, self.households, self.users = [], [], [], {}
        for i, (tcode, vcode) in enumerate([("370405001", "370405001001"), ("370405101", "370405101201")]):
            town = Area.create(code=tcode, name=f"镇{i}", level="township", parent=county)
            village = Area.create(code=vcode, name=f"村{i}", level="village", parent=town)
            self.towns.append(town)
            self.villages.append(village)
            self.households.append(H.create(code=f"H{i}", village=village, head_name=f"户主{i}",
                                            head_id_number=["11010519491231002X", "110105194912310038"][i],
                                            hukou_type="2"))
        for username, role, area in [("admin", "county_admin", county), ("county", "county_staff", county),
                                     ("town", "township_staff", self.towns[0]),
                                     ("leader", "township_leader", self.towns[0]),
                                     ("other_town", "township_staff", self.towns[1]),
                                     ("village", "village_assistant", self.villages[0])]:
            self.users[username] = User.create(username=username, full_name=f"{username}姓名", role=role,
                                               area=area, password="secret-pass", active=True)
        for town in self.towns:                    # the county's advance for temporary aid
            engine.models["reserve_entry"].create(township=town, kind="allocation", amount=50000,
                                                  entry_date=D(2026, 1, 5), note="县财政拨入备用金")
        system.actor.reset(token)

    def case(self, type_code="12", household=0, **kw):
        Case = self.engine.models["case"]
        h = self.households[household]
        values = dict(household=h.id, assistance_type=type_code, applicant_name=h.head_name,
                      applicant_id_number=h.head_id_number, apply_date=self.today, channel="window",
                      materials=ALL_MATERIALS)
        values.update(kw)
        # the household's own township accepts it (a case for another township's household is refused)
        H = self.engine.models["household"]
        village = H.select(H.village).where(H.id == h.id).scalar()      # a test may have moved it
        clerk = "town" if village == self.villages[0].id else "other_town"
        token = system.actor.set((self.users[clerk].id, clerk, None))
        try:
            record = Case(**values)
            record.save()
        finally:
            system.actor.reset(token)
        return Case.get_by_id(record.id)

    def do(self, case, name, user, on=None, opinion="同意", **form):
        if on:
            self.today = on
        self.flow.perform(case.id, name, self.users[user], form, opinion=opinion)
        return self.engine.models["case"].get_by_id(case.id)

    def steps(self, case):
        return [(s.action, s.to_state, s.actor_name) for s in self.flow.steps(case)]

    def investigate(self, case, on_start, on_finish, **finish):
        case = self.do(case, "start_investigation", "town", on=on_start)
        case = self.do(case, "record_home_visit", "village", home_visit_date=on_start.isoformat(),
                       investigator_1="张明", investigator_2="李红", home_visit_record="入户查看住房、收入")
        return self.do(case, "finish_investigation", "town", on=on_finish, verification_record="核对无异常",
                       verification_result="符合条件", **finish)


@pytest.fixture
def world(engine):
    return World(engine)


def deadline(world, case, label):
    return {d.label: d for d in world.flow.deadlines(case)}[label]


def test_dibao_end_to_end_across_national_day(world):
    case = world.case("12")                                      # accepted Friday 25 September 2026
    assert case.state == "accepted" and case.case_no == "370405001-2026-00001"
    # the investigation starts within 3 working days (57号 art. 15): 28, 29, 30 September
    assert case.due_date == D(2026, 9, 30) and case.due_item == "开始调查核对"
    # 8 working days: 28, 29, 30 Sep; 1–7 Oct holiday; 8, 9, Sat 10 Oct (make-up day), 12, 13 Oct
    assert deadline(world, case, "调查核对").due == D(2026, 10, 13)
    case = world.investigate(case, D(2026, 9, 28), D(2026, 10, 10))
    assert case.state == "reviewing"
    assert deadline(world, case, "调查核对").state == "met"
    case = world.do(case, "propose", "town", on=D(2026, 10, 12), proposed_amount="420")
    # 3 natural days, the posting day not counted: 13, 14, 15 October
    assert (case.state, case.notice_start, case.notice_end) == ("publicity", D(2026, 10, 12), D(2026, 10, 15))
    with pytest.raises(Refused, match="公示期满后才能审批"):
        world.do(case, "approve", "leader", on=D(2026, 10, 15), decided_amount="420")
    # decision within 1 working day after the notice: 16 October; the whole path: 12 working days → 19 Oct
    assert deadline(world, case, "公示期满后审批").due == D(2026, 10, 16)
    assert deadline(world, case, "全流程办结").due == D(2026, 10, 19)
    case = world.do(case, "approve", "leader", on=D(2026, 10, 16), decided_amount="420")
    assert (case.state, case.decision_date, str(case.decided_amount)) == ("approved", D(2026, 10, 16), "420.00")
    assert case.due_date is None
    assert [d.state for d in world.flow.deadlines(case)] == ["met", "met", "met", "met"]
    assert (case.processing_days, case.decided_late) == (11, False)    # 28–30 Sep, 8–10 and 12–16 Oct
    assert world.steps(case) == [
        ("register", "accepted", "town姓名"), ("start_investigation", "investigating", "town姓名"),
        ("record_home_visit", "investigating", "village姓名"), ("finish_investigation", "reviewing", "town姓名"),
        ("propose", "publicity", "town姓名"), ("approve", "approved", "leader姓名")]


def test_objection_sends_the_case_to_democratic_evaluation(world):
    case = world.investigate(world.case("11"), D(2026, 9, 28), D(2026, 9, 29))
    case = world.do(case, "propose", "town", on=D(2026, 9, 30), proposed_amount="300")
    with pytest.raises(RecordInvalid) as e:
        world.do(case, "object", "village", objection="")
    assert "objection" in e.value.errors
    case = world.do(case, "object", "village", on=D(2026, 10, 1), objection="邻居反映家中有营运车辆")
    assert case.state == "evaluation"
    # 10 working days from entering evaluation on 1 Oct (a holiday): 8, 9, 10, 12 … 20 October
    assert deadline(world, case, "调查并民主评议").due == D(2026, 10, 20)
    # the 12-working-day total stops while the objection is evaluated (000号文件: the 10 days are their own)
    assert case.due_date == D(2026, 10, 20) and case.due_item == "调查并民主评议"
    world.today = D(2026, 10, 20)
    total = deadline(world, case, "全流程办结")
    assert total.state == "paused" and total.text == "暂停计时（民主评议中，不计入期限），剩余 9 个工作日"   # 12 − 28, 29, 30 Sep
    assert list(world.flow.overdue(world.users["town"])) == []
    world.today = D(2026, 10, 21)                     # the evaluation itself is late now
    assert [c.id for c in world.flow.overdue(world.users["town"])] == [case.id]
    assert list(world.flow.overdue(world.users["other_town"])) == []
    case = world.do(case, "approve_after_evaluation", "leader", on=D(2026, 10, 20),
                    evaluation_record="评议小组7人，6人同意", decided_amount="300")
    assert case.state == "approved"
    assert deadline(world, case, "调查并民主评议").state == "met"
    # 12 days + the 10 working days paused (8 Oct … 20 Oct) = 22 working days after 25 Sep: 2 November
    total = deadline(world, case, "全流程办结")
    assert (total.state, total.due) == ("met", D(2026, 11, 2))
    assert (case.processing_days, case.decided_late) == (13, False)


def test_the_posting_day_is_recorded_and_a_notice_ending_on_a_day_off_runs_to_the_next_working_day(world):
    case = world.investigate(world.case("12"), D(2026, 9, 28), D(2026, 9, 29))
    world.today = D(2026, 10, 14)
    with pytest.raises(RecordInvalid) as refused:               # posted tomorrow: not yet
        world.do(case, "propose", "town", proposed_amount="300", notice_start="2026-10-15")
    assert refused.value.errors["__all__"] == "公示张贴日期不能早于申请日期，也不能晚于今天"
    with pytest.raises(RecordInvalid):
        world.do(case, "propose", "town", proposed_amount="300", notice_start="2026-09-24")   # before applying
    # proposed on Wednesday 14 Oct, posted the same day: 15, 16, Sat 17 → Monday 19 October
    case = world.do(case, "propose", "town", proposed_amount="300", notice_start="2026-10-14")
    assert (case.notice_start, case.notice_end) == (D(2026, 10, 14), D(2026, 10, 19))
    assert deadline(world, case, "公示期满后审批").due == D(2026, 10, 20)
    with pytest.raises(Refused, match="公示期满后才能审批"):
        world.do(case, "approve", "leader", on=D(2026, 10, 19), decided_amount="300")


def test_a_notice_entered_the_day_after_posting_keeps_the_posting_day(world):
    case = world.investigate(world.case("12"), D(2026, 9, 28), D(2026, 9, 29))
    case = world.do(case, "propose", "town", on=D(2026, 10, 13), proposed_amount="300", notice_start="2026-10-12")
    assert (case.notice_start, case.notice_end) == (D(2026, 10, 12), D(2026, 10, 15))
    steps = world.flow.steps(case)
    assert steps[-1].at.date() == D(2026, 10, 13)        # the step keeps the day it was entered


def test_an_evaluation_past_its_own_limit_is_late_but_the_total_still_excludes_it(world):
    case = world.investigate(world.case("11"), D(2026, 9, 28), D(2026, 9, 29))
    case = world.do(case, "propose", "town", on=D(2026, 9, 30), proposed_amount="300")
    case = world.do(case, "object", "village", on=D(2026, 10, 9), objection="反映有存款未申报")
    case = world.do(case, "approve_after_evaluation", "leader", on=D(2026, 10, 26),
                    evaluation_record="评议通过", decided_amount="300")
    # evaluation from 9 Oct: 10 working days → 22 Oct; decided 26 Oct: late
    assert deadline(world, case, "调查并民主评议").state == "late"
    # paused: the 12 working days after 9 Oct up to 26 Oct; 12 + 12 = 24 working days after 25 Sep: 4 Nov
    total = deadline(world, case, "全流程办结")
    assert total.state == "met" and total.due == D(2026, 11, 4)
    assert case.decided_late is True


def test_failed_verification_and_denial(world):
    case = world.do(world.case("12"), "start_investigation", "town")
    with pytest.raises(RecordInvalid) as e:
        world.do(case, "fail_verification", "town", opinion="", verification_record="有商品房两套")
    assert set(e.value.errors) == {"denial_reason", "opinion"}
    assert world.engine.models["case"].get_by_id(case.id).state == "investigating"
    case = world.do(case, "fail_verification", "town", verification_record="有商品房两套",
                    denial_reason="家庭财产超过规定")
    assert (case.state, case.verification_result, case.denial_reason) == ("denied", "fail", "家庭财产超过规定")
    case2 = world.investigate(world.case("12"), D(2026, 9, 28), D(2026, 9, 29))
    with pytest.raises(Refused, match="不能执行"):
        world.do(case2, "deny", "town", denial_reason="x")            # staff may not decide
    case2 = world.do(case2, "deny", "leader", denial_reason="收入超过标准")
    assert case2.state == "denied"


def test_finish_investigation_needs_two_distinct_investigators_and_a_pass(world):
    case = world.do(world.case("12"), "start_investigation", "town")
    with pytest.raises(RecordInvalid, match="两名调查人"):
        world.do(case, "record_home_visit", "village", home_visit_date="2026-09-28", investigator_1="张明",
                 investigator_2="张明", home_visit_record="x")
    with pytest.raises(RecordInvalid) as e:
        world.do(case, "finish_investigation", "town", verification_record="ok", verification_result="pass")
    assert e.value.errors["home_visit_record"] == "此前的环节尚未填写此项"
    case = world.do(case, "record_home_visit", "village", home_visit_date="2026-09-28", investigator_1="张明",
                    investigator_2="李红", home_visit_record="x")
    with pytest.raises(RecordInvalid, match="不予批准"):
        world.do(case, "finish_investigation", "town", verification_record="ok", verification_result="fail")


def test_missing_materials_are_listed_once(world):
    case = world.case("12", materials="id_card")
    with pytest.raises(RecordInvalid) as e:
        world.do(case, "start_investigation", "town")
    assert "户口簿、家庭困难情况说明、经济状况核对授权书、守信承诺书" in e.value.errors["materials"]


def test_near_relative_case_needs_a_county_home_visit(world):
    case = world.investigate(world.case("12", near_relative=True, near_relative_of="村主任之子"),
                             D(2026, 9, 28), D(2026, 9, 29))
    offered = dict((t.name, reason) for t, reason in world.flow.offered(case, world.users["town"]))
    assert offered["propose"] == "近亲属备案事项须先经县级入户核查"
    with pytest.raises(Refused, match="县级入户核查"):
        world.do(case, "propose", "town", proposed_amount="300")
    with pytest.raises(Refused):
        world.do(case, "county_visit", "town", county_visit_date="2026-09-30", county_visit_record="x")
    case = world.do(case, "county_visit", "county", county_visit_date="2026-09-30", county_visit_record="属实")
    assert case.state == "reviewing"
    case = world.do(case, "propose", "town", proposed_amount="300")
    assert case.state == "publicity"


def test_temporary_aid_above_the_township_limit_goes_to_the_county(world):
    case = world.case("32", requested_amount="5000", materials="id_card,hardship_statement,verification_auth,pledge")
    case = world.investigate(case, D(2026, 9, 28), D(2026, 9, 29), proposed_amount="5000")
    with pytest.raises(RecordInvalid, match="超过乡镇审批上限"):
        world.do(case, "approve", "leader", decided_amount="5000")
    case = world.do(case, "to_county", "town", proposed_amount="5000")
    assert case.state == "county_review"
    assert not world.flow.offered(case, world.users["leader"])
    with pytest.raises(Refused, match="不能执行"):
        world.do(case, "county_approve", "leader", decided_amount="5000")
    case = world.do(case, "county_approve", "county", decided_amount="4500")
    assert (case.state, str(case.decided_amount)) == ("approved", "4500.00")
    small = world.investigate(world.case("32", materials="id_card,hardship_statement,verification_auth,pledge"),
                              D(2026, 9, 28), D(2026, 9, 29), proposed_amount="800")
    with pytest.raises(RecordInvalid, match="由乡镇直接审批"):
        world.do(small, "to_county", "town", proposed_amount="800")
    assert world.do(small, "approve", "leader", decided_amount="800").state == "approved"


def test_township_limit_is_a_setting(world):
    world.engine.settings.set("temp_aid_township_limit", "6000")
    case = world.investigate(world.case("32", materials="id_card,hardship_statement,verification_auth,pledge"),
                             D(2026, 9, 28), D(2026, 9, 29), proposed_amount="5000")
    assert world.do(case, "approve", "leader", decided_amount="5000").state == "approved"


def test_emergency_aid_first_then_registration(world):
    with pytest.raises(RecordInvalid, match="先行救助日期"):
        world.case("31")
    world.today = D(2026, 10, 9)
    # aid on 29 Sep; 5 working days: 30 Sep, 8, 9, 10 (make-up Saturday), 12 Oct → registered in time
    case = world.case("31", aid_date=D(2026, 9, 29), aid_given="1500", materials="id_card")
    assert case.state == "aided"
    register = deadline(world, case, "先行救助后补办登记")
    assert (register.due, register.state) == (D(2026, 10, 12), "met")
    world.today = D(2026, 10, 13)
    late = world.case("31", household=0, aid_date=D(2026, 9, 29), aid_given="500", materials="id_card")
    assert deadline(world, late, "先行救助后补办登记").state == "late"
    with pytest.raises(RecordInvalid, match="缺少材料"):
        world.do(case, "complete", "town", verification_record="事后核对", proposed_amount="1500")
    case.materials = "id_card,hardship_statement,pledge"
    case.save()
    case = world.do(case, "complete", "town", verification_record="事后核对", proposed_amount="1500")
    case = world.do(case, "approve", "leader", decided_amount="1500")
    assert case.state == "approved"


def test_emergency_aid_paid_first_is_in_the_reserve_ledger_even_when_denied(world):
    from casework.funds import reserve
    Entry, models = world.engine.models["reserve_entry"], world.engine.models
    town = world.towns[0].id
    world.today = D(2026, 10, 9)
    first = world.case("31", aid_date=D(2026, 10, 8), aid_given="500", materials="id_card,hardship_statement,pledge")
    entry = Entry.get(Entry.case == first.id)
    assert (entry.kind, entry.amount, entry.entry_date, entry.balance) == (
        "advance", Decimal("500.00"), D(2026, 10, 8), Decimal("49500.00"))
    first = world.do(first, "complete", "town", verification_record="事后核对", proposed_amount="800")
    world.do(first, "approve", "leader", decided_amount="800")           # only the 300 the decision adds
    assert [(e.kind, e.amount) for e in Entry.select().where(Entry.case == first.id).order_by(Entry.id)] == [
        ("advance", Decimal("500.00")), ("payment", Decimal("300.00"))]
    second = world.case("31", aid_date=D(2026, 10, 9), aid_given="1000", materials="id_card,hardship_statement,pledge")
    second = world.do(second, "complete", "town", verification_record="事后核对：不符合", proposed_amount="1000")
    second = world.do(second, "deny", "leader", denial_reason="核实有稳定收入，不属于急难情形")
    assert second.state == "denied"
    assert [(e.kind, e.amount) for e in Entry.select().where(Entry.case == second.id)] == [("advance", Decimal("1000.00"))]
    assert reserve.balance(models, town) == Decimal("48200.00")          # 50000 − 500 − 300 − 1000


def test_tekun_self_care_assessment(world):
    case = world.investigate(world.case("21"), D(2026, 9, 28), D(2026, 9, 29))
    with pytest.raises(RecordInvalid) as e:
        world.do(case, "propose", "town", proposed_amount="900")
    assert set(e.value.errors) == {"self_care_level", "support_form"}
    items = dict(care_eat="能", care_dress="能", care_bed="不能", care_toilet="不能", care_walk="能",
                 care_bathe="不能")
    case = world.do(case, "assess_self_care", "town", support_form="分散供养（在家）", **items)
    assert (case.state, case.self_care_level, case.support_form) == ("reviewing", "partial", "home")
    items["care_walk"] = "不能"
    case = world.do(case, "assess_self_care", "county", support_form="home", **items)
    assert case.self_care_level == "none"
    world.engine.settings.set("self_care_partial_max_unmet", "4")
    case = world.do(case, "assess_self_care", "town", support_form="home", **items)
    assert case.self_care_level == "partial"
    # 集中供养 under the 分散 type contradicts it: refused, nothing changed
    with pytest.raises(RecordInvalid) as refused:
        world.do(case, "assess_self_care", "town", support_form="institution", **items)
    assert "供养方式与救助类别矛盾" in refused.value.errors["__all__"]
    assert world.engine.models["case"].get_by_id(case.id).support_form == "home"
    assert world.do(case, "propose", "town", proposed_amount="900").state == "publicity"


def test_centralised_tekun_takes_only_institution_support(world):
    case = world.investigate(world.case("22"), D(2026, 9, 28), D(2026, 9, 29))
    items = dict(care_eat="能", care_dress="能", care_bed="能", care_toilet="能", care_walk="能", care_bathe="能")
    with pytest.raises(RecordInvalid) as refused:
        world.do(case, "assess_self_care", "town", support_form="home", **items)
    assert "集中供养（供养机构）的应按“特困人员救助供养（集中）”办理" in refused.value.errors["__all__"]
    case = world.do(case, "assess_self_care", "town", support_form="institution", **items)
    assert case.support_form == "institution"


def test_elderly_allowance_is_approved_by_the_township_not_referred(world):
    case = world.case("41")                                   # 000号文件: devolved to the township with 低保
    offered = [t.name for t, _ in world.flow.offered(case, world.users["town"])]
    assert "refer" not in offered and "start_investigation" in offered
    case = world.do(case, "start_investigation", "town", on=D(2026, 9, 28))
    case = world.do(case, "finish_investigation", "town", verification_record="低保家庭，年满80周岁",
                    verification_result="符合条件")
    with pytest.raises(Refused, match="不能执行“乡镇批准”"):
        world.do(case, "approve", "town", decided_amount="100")
    case = world.do(case, "approve", "leader", on=D(2026, 9, 29), decided_amount="100")
    assert (case.state, case.decision_date) == ("approved", D(2026, 9, 29))
    care = world.engine.models["care"].get(world.engine.models["care"].case == case.id)
    assert (care.persons, str(care.monthly_amount), care.start_month) == (1, "100.00", "2026-10")


def test_special_aid_is_referred_and_its_feedback_tracked(world):
    case = world.case("51")
    assert deadline(world, case, "转办").due == D(2026, 9, 29)
    case = world.do(case, "refer", "town", on=D(2026, 9, 28), referred_to="医疗保障局（医疗救助）")
    assert (case.state, case.referred_to, case.referral_date) == ("referred", "medical", D(2026, 9, 28))
    assert case.due_item == "部门反馈"
    case = world.do(case, "feedback", "town", feedback_date="2026-10-20", referral_feedback="已纳入医疗救助")
    assert case.state == "closed" and case.due_date is None


def test_refusals_change_nothing(world):
    case = world.case("12")
    before = world.steps(case)
    with pytest.raises(Refused, match="不在您的管辖区划内"):
        world.do(case, "start_investigation", "other_town")
    with pytest.raises(Refused, match="村级协理员"):
        world.do(case, "start_investigation", "village")
    with pytest.raises(Refused, match="不能执行"):
        world.do(case, "approve", "leader", decided_amount="1")
    with pytest.raises(Refused, match="没有这项操作"):
        world.do(case, "jump_to_approved", "admin")
    last = world.flow._last_step_id(case)
    world.do(case, "start_investigation", "town")
    with pytest.raises(Refused, match="页面上的内容已过期"):
        world.flow.perform(case.id, "withdraw", world.users["town"], {}, opinion="撤回", seen=last)
    assert world.steps(case) == before + [("start_investigation", "investigating", "town姓名")]


def test_state_and_workflow_fields_are_moved_only_by_transitions(world):
    case = world.case("12")
    case.state = "approved"
    case.save()
    assert world.engine.models["case"].get_by_id(case.id).state == "accepted"
    case.assistance_type = "51"
    with pytest.raises(RecordInvalid, match="另一流程"):
        case.save()


def test_unknown_year_gives_a_warning_not_a_deadline(world):
    world.today = D(2026, 12, 30)
    case = world.case("12", apply_date=D(2026, 12, 30))
    assert case.due_date is None and "期限无法计算" in case.due_item
    assert "2027年的法定节假日安排尚未录入" in deadline(world, case, "调查核对").warning
    # the county enters 2027's days off and confirms the year
    Day, county = world.engine.models["calendar_day"], world.engine.models["area"].get(code="370405")
    for day in (D(2027, 1, 1),):
        Day.create(county=county, day=day, kind="holiday", note="元旦")
    world.engine.settings.set("calendar_confirmed_years", "2027")
    world.flow.refresh(case)
    # 30 Dec + 3: 31 Dec, (1 Jan holiday), 4, 5 Jan → 5 Jan 2027; + 8: … 11, 12 Jan
    assert (case.due_date, case.due_item) == (D(2027, 1, 5), "开始调查核对")
    assert deadline(world, case, "调查核对").due == D(2027, 1, 12)


def test_calendar_functions():
    cal = workdays.Calendar()
    assert cal.add_working_days(D(2026, 9, 30), 1) == D(2026, 10, 8)
    assert cal.is_workday(D(2026, 10, 10)) and not cal.is_workday(D(2026, 10, 7))
    assert cal.working_days_between(D(2026, 9, 30), D(2026, 10, 12)) == 4
    assert cal.working_days_between(D(2026, 10, 12), D(2026, 9, 30)) == -4
    with pytest.raises(workdays.CalendarUnknown):
        cal.add_working_days(D(2026, 12, 30), 5)
    override = workdays.Calendar({D(2026, 10, 8): False})
    assert override.add_working_days(D(2026, 9, 30), 1) == D(2026, 10, 9)


def test_national_profile_switches_by_settings_alone(world):
    world.engine.settings.apply_profile("national", by="admin")
    case = world.investigate(world.case("12"), D(2026, 9, 28), D(2026, 9, 29))
    case = world.do(case, "propose", "town", on=D(2026, 9, 30), proposed_amount="300")
    # 7 natural days after 30 Sep end on 7 Oct, a holiday: the next working day, 8 Oct (民法典第二百零三条)
    assert case.notice_end == D(2026, 10, 8)
    # approval delegated to the township: 20 working days (民发〔2022〕83号): 28–30 Sep, 8–16, 19–23, 26–29 Oct
    assert deadline(world, case, "全流程办结").due == D(2026, 10, 29)
    world.engine.settings.apply_profile("taierzhuang", by="admin")
    assert world.engine.settings.get("notice_days") == 3


def test_a_decided_case_is_not_edited_any_more(world):
    case = world.do(world.case("12"), "start_investigation", "town")
    case = world.do(case, "fail_verification", "town", verification_record="有车", denial_reason="有营运车辆")
    case.applicant_name = "改名"
    with pytest.raises(RecordInvalid, match="不能再修改"):
        case.save()
