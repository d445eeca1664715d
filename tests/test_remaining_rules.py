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
    assert wf.transition("gradual_exit").when == {"field": "assistance_type", "in": ["11", "12", "13"]}
