"""Periodic reviews (定期复核): the next review date from the household's class, the due list per
scope, a review run through its workflow to confirm, adjust or end the aid, and the written notice."""
import datetime as dt
from decimal import Decimal

import pytest

from schema import idnumber
from casework.cases import reviews
from casework.core import system
from casework.cases.workflow import Refused
from schema import RecordInvalid

from .test_spotcheck import approve
from .test_workflow import World

D = dt.date


@pytest.fixture
def world(engine):
    return World(engine)


def in_care(world, case):
    Care = world.engine.models["care"]
    return Care.get(Care.household == case.__data__["household"], Care.assistance_type == case.assistance_type)


def review_to_decision(world, care_row, on, user="town"):
    case = reviews.open_review(world.engine, world.users[user], care_row.id, today=on)
    world.today = on
    case = world.do(case, "start_investigation", "town", on=on)
    case = world.do(case, "record_home_visit", "village", home_visit_date=on.isoformat(), investigator_1="张明",
                    investigator_2="李红", home_visit_record="入户复核：人口、收入有变化")
    return world.do(case, "finish_investigation", "town", verification_record="核对收入", verification_result="pass")


def test_next_review_follows_the_class_and_the_settings(world):
    case = approve(world, 0)                                  # decided 20 October: in care from November
    row = in_care(world, case)
    assert (row.review_class, row.start_month, row.next_review) == ("yearly", "2026-11", D(2027, 11, 1))
    Member = world.engine.models["member"]
    token = system.actor.set((None, "测试", None))
    Member.create(household=case.__data__["household"], name="成员甲", id_number=idnumber.make("370405", D(1980, 1, 1), 18),
                  relation="02", labour_capacity="1")              # someone who can work: every half year
    system.actor.reset(token)
    second = approve(world, 1)
    assert in_care(world, second).review_class == "yearly"
    half = world.engine.models["care"].create(household=case.__data__["household"], assistance_type="11",
                                              monthly_amount=100, start_month="2026-11", persons=1)
    assert (half.review_class, half.next_review) == ("half_yearly", D(2027, 5, 1))
    world.engine.settings.set("review_months_yearly", 3)
    for fn in world.engine.settings.on_change:
        fn()
    assert in_care(world, case).next_review == D(2027, 2, 1)
    assert world.engine.models["care"].get_by_id(half.id).next_review == D(2027, 5, 1)   # its class did not change


def test_due_list_is_scoped_and_counts_overdue(world):
    first, other = approve(world, 0), approve(world, 1)
    engine = world.engine
    world.today = D(2027, 10, 15)                             # 17 days before 1 November 2027
    rows = reviews.due(engine, world.users["town"])
    assert [r["head_name"] for r in rows] == [in_care(world, first).head_name]
    assert rows[0]["overdue_days"] == 0 and rows[0]["case_id"] is None
    assert [r["head_name"] for r in reviews.due(engine, world.users["other_town"])] == [in_care(world, other).head_name]
    assert len(reviews.due(engine, world.users["admin"])) == 2
    world.today = D(2027, 11, 11)
    assert reviews.counts(engine, world.users["town"]) == (1, 0)
    assert reviews.due(engine, world.users["town"])[0]["overdue_days"] == 10
    world.today = D(2027, 9, 1)
    assert reviews.due(engine, world.users["town"]) == []          # not yet within 30 days


def test_a_review_adjusts_the_amount_and_ends_with_the_notice(world):
    case = approve(world, 0)
    row = in_care(world, case)
    review = review_to_decision(world, row, D(2026, 12, 10))         # early: a review may come before its date
    assert review.purpose == "review" and review.state == "reviewing"
    assert world.flow.workflow(review).name == "review"
    # the same household and type cannot have two running reviews
    assert reviews.open_review(world.engine, world.users["town"], row.id).id == review.id
    with pytest.raises(RecordInvalid, match="已有正在办理的复核"):
        world.case("12", household=len(world.households) - 1, purpose="review")
    with pytest.raises(Refused, match="不能执行"):
        world.do(review, "adjust", "village", decided_amount="200", review_reason="收入增加")
    with pytest.raises(RecordInvalid) as refused:
        world.do(review, "adjust", "leader", decided_amount="200")
    assert "review_reason" in refused.value.errors
    with pytest.raises(Refused, match="应选择“维持”"):
        world.do(review, "adjust", "leader", decided_amount="300", review_reason="无变化")
    review = world.do(review, "adjust", "leader", decided_amount="200", review_reason="家庭成员务工，收入增加")
    assert (review.state, review.review_result, review.decision_date) == ("review_decided", "adjust", D(2026, 12, 10))
    Change = world.engine.models["care_change"]
    change = Change.select().where(Change.care == row.id).order_by(Change.id.desc()).first()
    assert (change.kind, change.effective_month, change.new_amount) == ("lower", "2027-01", Decimal("200.00"))
    assert "家庭成员务工" in change.reason
    row = in_care(world, case)
    assert (row.reviewed_on, row.next_review) == (D(2026, 12, 10), D(2027, 12, 10))
    # the written notice is offered on the decided review, never on an ordinary case
    from reports import document
    specs = document.load(world.engine.registry)
    assert specs["review_notice"].offered(review) and not specs["review_notice"].offered(case)
    assert review.due_item == "送达复核结果告知书"
    review = world.do(review, "serve_notice", "village", notice_served_on="2026-12-11")
    assert review.state == "closed" and review.due_date is None


def test_a_review_that_ends_the_aid_cancels_it_from_next_month(world):
    case = approve(world, 0)
    row = in_care(world, case)
    review = review_to_decision(world, row, D(2027, 3, 3))
    review = world.do(review, "end", "leader", review_reason="家庭人均收入超过低保标准")
    assert review.decided_amount == Decimal("0.00")
    Care = world.engine.models["care"]
    row = Care.get_by_id(row.id)
    assert (row.status, row.end_month) == ("ended", "2027-03")          # paid through March, not from April


def test_confirming_only_moves_the_review_date(world):
    case = approve(world, 0)
    row = in_care(world, case)
    review = review_to_decision(world, row, D(2027, 10, 20))
    review = world.do(review, "confirm", "leader")
    assert review.decided_amount == Decimal("300.00") and review.review_result == "confirm"
    row = in_care(world, case)
    assert (row.monthly_amount, row.next_review) == (Decimal("300.00"), D(2028, 10, 20))


def test_a_household_not_in_care_cannot_be_reviewed(world):
    with pytest.raises(RecordInvalid, match="没有这一救助类别的在保记录"):
        world.case("12", household=1, purpose="review")
    other = approve(world, 1)
    with pytest.raises(RecordInvalid, match="不在您的管辖区划内"):
        reviews.open_review(world.engine, world.users["town"], in_care(world, other).id)


def test_review_screen_lists_the_village_and_opens_a_review(app, browser_for):
    from .conftest import engine_of
    engine = engine_of(app)
    Care, Area = engine.models["care"], engine.models["area"]
    village_user = engine.models["user"].get(username="village1")
    mine = reviews.due(engine, village_user)
    assert mine and all(r["village"] == Area.get_by_id(village_user.__data__["area"]).name for r in mine)
    mine = [r for r in mine if not r["case_id"]]             # the demo already reviews some of them
    html = browser_for("village1").get("/admin/reviews/").get_data(as_text=True)
    assert "定期复核" in html and mine[0]["head_name"] in html
    others = [r for r in reviews.due(engine, engine.models["user"].get(username="admin"))
              if r["village"] != mine[0]["village"]]
    assert others and others[0]["head_name"] not in html
    town = browser_for("town1")
    assert town.post("/admin/reviews/open", {"care": mine[0]["id"]}, csrf=False).status_code == 400
    r = town.post("/admin/reviews/open", {"care": mine[0]["id"]})
    assert r.status_code == 302 and "/admin/case/details/" in r.headers["Location"]
    Case = engine.models["case"]
    opened = Case.get(Case.purpose == "review", Case.household == Care.get_by_id(mine[0]["id"]).__data__["household"])
    assert opened.state == "accepted" and opened.channel == "review"
    page = town.get(r.headers["Location"]).get_data(as_text=True)
    assert "开始复核调查" in page
    town1_area = engine.models["user"].get(username="town1").__data__["area"]
    foreign = next(r for r in others
                   if Area.get_by_id(Care.get_by_id(r["id"]).__data__["village"]).__data__["parent"] != town1_area)
    r = town.post("/admin/reviews/open", {"care": foreign["id"]})
    assert "不在您的管辖区划内" in town.get("/admin/reviews/").get_data(as_text=True)
    assert not Case.select().where(Case.purpose == "review", Case.household == Care.get_by_id(foreign["id"]).__data__["household"]).exists()
