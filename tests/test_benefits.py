"""Benefit calculators with worked examples: incomes below, at and above the standard, rounding,
the minimum payment, 单人保, 特困 levels, a township's own standard, and the standard of each month."""
import datetime as dt
from decimal import Decimal

import pytest

from schema import idnumber
from casework.core import system
from schema import RecordInvalid

from .test_workflow import World

D = dt.date


@pytest.fixture
def world(engine):
    return standards_world(engine)


def standards_world(engine):
    """The workflow world with the standards of the worked examples (rural 低保 740 from 2026)."""
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


def members(world, household, incomes, **first):
    """Members with these monthly incomes; `first` gives the first member more fields (a disability)."""
    Member = world.engine.models["member"]
    token = system.actor.set((None, "测试", None))
    made = []
    for i, income in enumerate(incomes):
        made.append(Member.create(household=world.households[household], name=f"成员{i}",
                                  relation="02" if i == 0 else "20",
                                  id_number=idnumber.make("370405", D(1960 + i, 1, 1 + household), 100 + i * 2),
                                  monthly_income=income, **(first if i == 0 else {})))
    system.actor.reset(token)
    return made


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
    members(world, 0, [1000.51, 0, 0])                # per capita 333.503…: (740 − 1000.51 ÷ 3) × 3 = 1219.49
    result = compute(world)
    assert result.amount == Decimal("1219.00")        # to the yuan (rounding the per capita first gave 1220)
    assert ("计算", "（740.00 − 1000.51÷3）× 3 = 1219.49 元") in result.lines
    assert ("家庭人均月收入", "约333.50 元") in result.lines
    world.engine.settings.set("dibao_rounding_digits", 1)
    assert compute(world).amount == Decimal("1219.50")
    world.engine.settings.set("dibao_rounding_digits", 2)
    assert compute(world).amount == Decimal("1219.49")
    members(world, 1, [735])                          # a gap of 5 yuan
    assert compute(world, household=1).amount == Decimal("5.00")
    world.engine.settings.set("dibao_min_payment", "10")
    result = compute(world, household=1)
    assert result.amount == Decimal("10.00") and ("最低发放额", "10.00 元") in result.lines


def test_the_standard_follows_the_case_type_not_the_hukou(world):
    members(world, 0, [600, 0, 0])                    # a household of 农村 hukou
    urban = compute(world, "11")                      # decided as 城市低保 (where it lives): the urban standard
    assert urban.amount == Decimal("2160.00") and urban.lines[0] == ("保障标准（2026-03）", "920.00 元/人·月")
    assert compute(world, "12").amount == Decimal("1620.00")          # (740 − 200) × 3


def income_items(world, household, rows):
    Item = world.engine.models["income_item"]
    token = system.actor.set((None, "测试", None))
    for member, category, item, amount in rows:
        Item.create(household=world.households[household], member=member, category=category, item=item,
                    monthly_amount=amount, basis="核对平台")
    system.actor.reset(token)


def test_income_items_count_except_the_exempt_ones(world):
    a, b, c = members(world, 0, [0, 0, 0])            # the members' own figures are not used once items exist
    income_items(world, 0, [(a, "wages", "wage", 1200), (b, "transfer", "disability_allowance", 200),
                            (None, "support", "alimony", 300), (c, "transfer", "pension", 150)])
    # counted: 1200 + 300 + 150 = 1650, per capita 550: (740 − 550) × 3 = 570
    result = compute(world)
    assert result.amount == Decimal("570.00")
    assert ("收入：工资性收入·工资薪金（成员0）", "1,200.00 元") in result.lines
    assert ("收入：转移净收入·困难残疾人生活补贴和重度残疾人护理补贴（成员1）", "200.00 元（不计入家庭收入）") in result.lines
    assert ("收入：赡养（扶养、抚养）费·赡养（扶养、抚养）费", "300.00 元") in result.lines
    assert ("计入收入合计（元/月）", "1650.00 元") in result.lines
    world.engine.settings.set("income_exempt_items", "family_planning")      # the allowance counted now
    result = compute(world)                           # 1850 ÷ 3: (740 − 616.67) × 3 = 2220 − 1850 = 370
    assert result.amount == Decimal("370.00") and ("计入收入合计（元/月）", "1850.00 元") in result.lines


def test_single_cover_counts_the_members_own_income_items(world):
    made = members(world, 0, [0, 0, 0], disability_class="5", disability_grade="2")
    income_items(world, 0, [(made[0], "transfer", "disability_allowance", 300),       # exempt
                            (made[0], "wages", "labour", 100), (made[1], "wages", "wage", 2300)])
    world.record = world.case("13", applicant_name=made[0].name, applicant_id_number=made[0].id_number)
    result = world.flow.breakdown(world.record)       # per capita 2400 ÷ 3 = 800: an edge family
    assert result.eligible is True and result.amount == Decimal("640.00")    # 740 − 100


def test_exact_per_capita_income_is_not_rounded_before_the_gap(world):
    members(world, 0, [1000, 0, 0])                   # (740 − 1000 ÷ 3) × 3 = 2220 − 1000 = 1220 exactly
    world.engine.settings.set("dibao_rounding_digits", 2)
    assert compute(world).amount == Decimal("1220.00")


def single(world, incomes, household=0, **first):
    """A 单人保 case applied for by the first member."""
    made = members(world, household, incomes, **first)
    world.record = world.case("13", household=household, applicant_name=made[0].name,
                              applicant_id_number=made[0].id_number)
    return world.flow.breakdown(world.record)


def test_single_cover_in_an_edge_family_pays_the_standard_less_own_income(world):
    # rural standard 740; edge line 1.5 × 740 = 1110; per capita (100 + 1300 + 1000) ÷ 3 = 800: an edge family
    result = single(world, [100, 1300, 1000], disability_class="4", disability_grade="2")
    assert result.eligible is True and result.amount == Decimal("640.00")       # 740 − 100, one person
    assert ("单人保对象", "成员0（二级肢体残疾）") in result.lines
    assert ("低保边缘标准", "1110.00 元（保障标准的 1.5 倍）") in result.lines


def test_single_cover_grade_three_only_for_intellectual_or_mental_disability(world):
    result = single(world, [0, 1200, 1200], disability_class="4", disability_grade="3")
    assert result.eligible is False and result.amount == Decimal("0.00")
    assert "不是一级、二级残疾或三级智力、精神残疾" in result.reason


def test_single_cover_for_grade_three_mental_disability_and_for_serious_illness(world):
    assert single(world, [0, 1200, 1200], disability_class="6", disability_grade="3").amount == Decimal("740.00")
    assert single(world, [0, 1500, 1000], household=1, serious_illness=True).amount == Decimal("740.00")


def test_single_cover_refused_outside_the_edge_family(world):
    result = single(world, [0, 1700, 1700], disability_class="1", disability_grade="1")   # per capita 1133.33
    assert result.eligible is False and "不是低保边缘家庭" in result.reason and "1110.00" in result.reason
    world.engine.settings.set("edge_family_multiple", "2")           # the multiple is a setting: 1480 now
    result = world.flow.breakdown(world.record)
    assert result.eligible is True and result.amount == Decimal("740.00")


def test_single_cover_refused_when_the_whole_household_qualifies(world):
    result = single(world, [0, 600, 600], disability_class="1", disability_grade="1")     # per capita 400 < 740
    assert result.eligible is False and "全户符合低保条件" in result.reason


def test_single_cover_cannot_enter_the_notice_when_the_family_is_not_an_edge_family(world):
    made = members(world, 0, [0, 1700, 1700], disability_class="1", disability_grade="1")
    record = world.case("13", applicant_name=made[0].name, applicant_id_number=made[0].id_number)
    case = world.investigate(record, D(2026, 3, 10), D(2026, 3, 11))
    with pytest.raises(RecordInvalid) as refused:
        world.do(case, "propose", "town", proposed_amount="740")
    assert "不是低保边缘家庭" in refused.value.errors["__all__"]
    assert world.engine.models["case"].get_by_id(case.id).state == "reviewing"
    token = system.actor.set((None, "测试", None))
    for m in made[1:]:
        m.monthly_income = 1200                       # per capita 800: an edge family now
        m.save()
    system.actor.reset(token)
    case = world.do(case, "propose", "town", proposed_amount="740")
    assert case.state == "publicity"


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
