"""What a case is about is fixed once it is accepted (issue 16, items 4a, 4b; issue 15's editable
application date): the edit form, list editing and plain saves cannot change the household, the
applicant, the type, the near-relative filing or the application date; a correction is a signed
step with a reason that sends the case back to the start. On SQLite and PostgreSQL."""
import datetime as dt

import pytest

from casework.core import system
from casework.cases.workflow import Refused
from schema import RecordInvalid

from .test_rule_fields import browser, web  # noqa: F401
from .test_workflow import World

D = dt.date


@pytest.fixture
def world(engine):
    return World(engine)


def reviewed(world, **kw):
    """A case investigated and awaiting the township's proposal (the point of the attack)."""
    return world.investigate(world.case("12", **kw), D(2026, 9, 28), D(2026, 9, 29))


def test_the_edit_form_cannot_change_what_a_case_is_about(web):
    world, application = web
    # a second household in the same village: the one the attacker wants put in care
    H = world.engine.models["household"]
    token = system.actor.set((None, "测试", None))
    other = H.create(code="H9", village=world.villages[0], head_name="别户", head_id_number="110105194912310046",
                     hukou_type="2")
    system.actor.reset(token)
    case = reviewed(world, near_relative=True, near_relative_of="村主任之子")
    village = browser(application, "village")
    forged = {"household": str(other.id), "assistance_type": "11", "applicant_name": "别户", "near_relative": "",
              "applicant_id_number": "110105194912310046", "apply_date": "2026-09-01", "channel": "window",
              "hardship_detail": "补充说明"}
    C = world.engine.models["case"]
    before = C.select().where(C.id == case.id).dicts().get()
    r = village.post(f"/admin/case/edit/?id={case.id}", forged)
    # values for what the case is about, posted by hand, are refused with the reason; nothing is written
    # and what was typed stays on the page
    assert r.status_code == 200 and "更正须经签名的流程步骤" in r.get_data(as_text=True)
    assert "补充说明" in r.get_data(as_text=True)
    assert C.select().where(C.id == case.id).dicts().get() == before
    edit_page = village.get(f"/admin/case/edit/?id={case.id}").get_data(as_text=True)
    assert 'name="household"' not in edit_page and 'name="near_relative"' not in edit_page
    assert "户主0" in edit_page                      # shown as text: the clerk sees whose case it is
    r = village.post(f"/admin/case/edit/?id={case.id}", {"channel": "window", "hardship_detail": "补充说明"})
    assert r.status_code == 302
    after = C.get_by_id(case.id)
    assert after.hardship_detail == "补充说明"                  # the fields the form may change, it changes
    assert (after.__data__["household"], after.assistance_type, after.applicant_name, after.near_relative,
            after.apply_date) == (world.households[0].id, "12", "户主0", True, D(2026, 9, 25))
    # the county's visit is still required before the township may propose
    with pytest.raises(Refused, match="近亲属备案事项须先经县级入户核查"):
        world.do(case, "propose", "town", proposed_amount="300")


def test_a_plain_save_is_refused_in_chinese(world):
    case = reviewed(world)
    C = world.engine.models["case"]
    record = C.get_by_id(case.id)
    record.household = world.households[1].id
    with pytest.raises(RecordInvalid) as e:
        record.save()
    assert e.value.errors == {"household": "事项受理后不能修改申请家庭；如需更正，请在事项页办理“更正事项信息（退回受理，重新办理）”并写明理由"}
    record = C.get_by_id(case.id)
    record.near_relative, record.apply_date = True, D(2026, 9, 1)
    with pytest.raises(RecordInvalid, match="事项受理后不能修改申请日期、近亲属备案"):
        record.save()
    assert C.get_by_id(case.id).apply_date == D(2026, 9, 25)


def test_a_correction_is_signed_and_restarts_the_case(world):
    case = reviewed(world)
    assert case.state == "reviewing" and case.home_visit_record
    form = {"household": str(world.households[0].id), "assistance_type": "12", "applicant_name": "户主0",
            "applicant_id_number": "11010519491231002X", "apply_date": "2026-09-28", "near_relative": "y",
            "near_relative_of": "村会计之女"}
    with pytest.raises(Refused, match="您的角色（村级协理员）不能执行“更正事项信息"):
        world.do(case, "correct", "village", opinion="填错了", **form)
    with pytest.raises(RecordInvalid, match="请填写办理意见"):
        world.do(case, "correct", "town", opinion="", **form)
    with pytest.raises(RecordInvalid, match="所选的申请家庭不在您的管辖区划内"):
        world.do(case, "correct", "town", opinion="填错了", **dict(form, household=str(world.households[1].id)))
    case = world.do(case, "correct", "town", on=D(2026, 9, 30), opinion="申请人系村会计之女，受理时漏报", **form)
    assert (case.state, case.near_relative, case.near_relative_of, case.apply_date) == \
        ("accepted", True, "村会计之女", D(2026, 9, 28))
    # the investigation it invalidates must be done again, and the deadlines count from the corrected date
    assert (case.home_visit_record, case.investigator_1, case.verification_result) == (None, None, None)
    step = world.steps(case)[-1]
    assert step == ("correct", "accepted", "town姓名")
    # the nearest now: starting the investigation again (3 working days, counted anew after the correction)
    assert case.due_item == "开始调查核对" and case.due_date > D(2026, 9, 28)
    Step = world.engine.models["case_step"]
    signed = Step.select().where(Step.case == case.id, Step.action == "correct").get()
    assert signed.opinion == "申请人系村会计之女，受理时漏报"
    case = reviewed_again = world.investigate(case, D(2026, 10, 8), D(2026, 10, 9))
    with pytest.raises(Refused, match="近亲属备案事项须先经县级入户核查"):
        world.do(reviewed_again, "propose", "town", proposed_amount="300")


def test_the_correction_is_a_button_on_the_case_page(web):
    world, application = web
    case = reviewed(world)
    town = browser(application, "town")
    page = town.get(f"/admin/case/details/?id={case.id}").get_data(as_text=True)
    assert 'name="transition" value="correct"' in page
    r = town.post(f"/admin/case/transition/?id={case.id}", {
        "transition": "correct", "household": str(world.households[0].id), "assistance_type": "12",
        "applicant_name": "户主零", "applicant_id_number": "11010519491231002X", "apply_date": "2026-09-25",
        "near_relative": "", "near_relative_of": "", "opinion": "申请人姓名录错"})
    assert r.status_code == 302
    after = world.engine.models["case"].get_by_id(case.id)
    assert (after.state, after.applicant_name) == ("accepted", "户主零")
    village = browser(application, "village")
    page = village.get(f"/admin/case/details/?id={case.id}").get_data(as_text=True)
    assert 'name="transition" value="correct"' not in page and "更正事项信息（退回受理，重新办理）" in page   # signed
