"""Benefit calculators with worked examples: incomes below, at and above the standard, rounding,
the minimum payment, 单人保, 特困 levels, a township's own standard, and the standard of each month."""
import datetime as dt
from decimal import Decimal

import pytest

from casework import idnumber, system

from .test_workflow import World

D = dt.date


@pytest.fixture
def world(engine):
    w = World(engine)
    Standard, county = engine.models["standard"], engine.models["area"].get(code="370405")
    token = system.actor.set((None, "测试", None))
    for month, kind, hukou, level, amount in [
            ("2025-07", "dibao", "2", None, 700), ("2026-01", "dibao", "2", None, 740),
            ("2026-01", "dibao", "1", None, 920), ("2026-01", "tekun_basic", "2", None, 965),
            ("2026-01", "care", None, "full", 150), ("2026-01", "care", None, "partial", 450),
            ("2026-01", "care", None, "none", 900)]:
        Standard.create(area=county, kind=kind, hukou_type=hukou, care_level=level, effective_month=month,
                        amount=amount)
    system.actor.reset(token)
    w.today = D(2026, 3, 10)
    return w


def members(world, household, incomes):
    Member = world.engine.models["member"]
    token = system.actor.set((None, "测试", None))
    for i, income in enumerate(incomes):
        Member.create(household=world.households[household], name=f"成员{i}", relation="02" if i == 0 else "20",
                      id_number=idnumber.make("370405", D(1960 + i, 1, 1 + household), 100 + i * 2),
                      monthly_income=income)
    system.actor.reset(token)


def compute(world, type_code="12", household=0, month=None, **case):
    record = world.case(type_code, household=household, **case)
    return world.flow.breakdown(record, month)


def test_dibao_is_the_gap_times_the_persons(world):
    members(world, 0, [600, 0, 0])                    # per capita 200, rural standard 740
    result = compute(world)
    assert result.amount == Decimal("1620.00") and result.reason is None
    assert ("计算", "（740.00 − 200.00）× 3 = 1620.00 元") in result.lines


def test_income_at_or_above_the_standard_gives_nothing_and_says_why(world):
    members(world, 0, [740])
    result = compute(world)
    assert result.amount == Decimal("0.00") and "不低于保障标准" in result.reason
    members(world, 1, [1000])
    assert compute(world, household=1).amount == Decimal("0.00")


def test_rounding_and_minimum_payment_are_settings(world):
    members(world, 0, [1000, 0, 0])                   # per capita 333.33: (740 − 333.33) × 3 = 1220.01
    assert compute(world).amount == Decimal("1220.00")
    world.engine.settings.set("dibao_rounding_digits", 2)
    assert compute(world).amount == Decimal("1220.01")
    members(world, 1, [735])                          # a gap of 5 yuan
    assert compute(world, household=1).amount == Decimal("5.00")
    world.engine.settings.set("dibao_min_payment", "10")
    result = compute(world, household=1)
    assert result.amount == Decimal("10.00") and ("最低发放额", "10.00 元") in result.lines


def test_single_person_cover(world):
    members(world, 0, [600, 0, 0])
    assert compute(world, "13").amount == Decimal("540.00")          # (740 − 200) × 1


def test_tekun_basic_plus_care_by_level(world):
    members(world, 0, [0])
    record = world.case("21")
    assert "自理能力评估" in world.flow.breakdown(record).reason
    case = world.investigate(record, D(2026, 3, 10), D(2026, 3, 11))
    items = dict(care_eat="能", care_dress="能", care_bed="不能", care_toilet="能", care_walk="能", care_bathe="能")
    case = world.do(case, "assess_self_care", "town", support_form="home", **items)
    assert world.flow.breakdown(case).amount == Decimal("1415.00")              # 965 + 450
    items.update(care_eat="不能", care_dress="不能", care_toilet="不能")
    case = world.do(case, "assess_self_care", "town", support_form="home", **items)
    assert world.flow.breakdown(case).amount == Decimal("1865.00")              # 965 + 900


def test_the_month_decides_the_standard_and_a_township_may_have_its_own(world):
    members(world, 0, [0])
    assert compute(world, month="2025-12").amount == Decimal("700.00")
    assert compute(world, month="2026-01").amount == Decimal("740.00")
    result = compute(world, month="2025-06")
    assert result.amount is None and "没有适用的农村最低生活保障标准" in result.reason
    Standard = world.engine.models["standard"]
    token = system.actor.set((None, "测试", None))
    Standard.create(area=world.towns[0], kind="dibao", hukou_type="2", effective_month="2026-02", amount=800)
    system.actor.reset(token)
    assert compute(world, month="2026-03").amount == Decimal("800.00")         # the township's own
    assert compute(world, month="2026-01").amount == Decimal("740.00")         # not yet in force
    members(world, 1, [0])
    assert compute(world, household=1, month="2026-03").amount == Decimal("740.00")   # the other township


def test_temporary_aid_uses_the_decided_sum(world):
    result = compute(world, "32", requested_amount="2000")
    assert result.amount == Decimal("2000.00")
