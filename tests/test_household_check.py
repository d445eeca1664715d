"""Household economic check (57号 chapter 3, document 004): support obligors' contributions counted as
income (exempt obligors listed only), assets against the limits in the settings, and each source
department's results imported one department at a time, all or nothing; the case page shows it all.

Worked examples use the rural standard of 740 元 (test_benefits' world, 2026) and are written from the
rules: 低保 = (standard − counted income ÷ persons) × persons, rounded to the yuan at the end."""
import datetime as dt
import io
import re
from decimal import Decimal

import pytest
import xlsxwriter

from casework.cases import household_check
from casework.core import system
from casework.core.imports import Importer
from schema import RecordInvalid, idnumber

from .conftest import Browser, engine_of
from .test_benefits import income_items, members, standards_world
from .test_case_web import household_in, latest_case, new_case, page

D = dt.date


@pytest.fixture
def world(engine):
    return standards_world(engine)


def obligor(world, household, name, amount, **kw):
    Obligor = world.engine.models["support_obligor"]
    token = system.actor.set((None, "测试", None))
    try:
        record = Obligor(household=world.households[household], name=name, duty=kw.pop("duty", "elder"),
                         monthly_contribution=amount, **kw)
        record.save()
    finally:
        system.actor.reset(token)
    return record


def asset(world, household, kind, value, **kw):
    Asset = world.engine.models["household_asset"]
    token = system.actor.set((None, "测试", None))
    try:
        Asset(household=world.households[household], kind=kind, value=value, **kw).save()
    finally:
        system.actor.reset(token)


def breakdown(world, type_code="12", **case):
    world.record = world.case(type_code, **case)
    return world.flow.breakdown(world.record)


# -- income: obligors' contributions

def test_an_obligors_contribution_counts_as_income_and_an_exempt_one_is_only_listed(world):
    members(world, 0, [600, 0, 0])
    obligor(world, 0, "张大", 300, relation="20")
    obligor(world, 0, "张二", 150, exemption="dibao", ability="unable")
    result = breakdown(world)
    # counted 600 + 300 = 900, per capita 300: (740 − 300) × 3 = 1320
    assert result.amount == Decimal("1320.00")
    assert ("收入：家庭成员月收入合计", "600.00 元") in result.lines
    assert ("赡养（扶养、抚养）费：张大（赡养）", "300.00 元") in result.lines
    assert ("赡养（扶养、抚养）费：张二（赡养）", "150.00 元（不计入家庭收入：义务人本人是低保对象）") in result.lines
    assert ("计入收入合计（元/月）", "900.00 元") in result.lines
    world.engine.settings.set("obligor_exempt_reasons", "tekun")      # a 低保 obligor's support counts now
    result = world.flow.breakdown(world.record)
    # 1050 ÷ 3 = 350: (740 − 350) × 3 = 1170
    assert result.amount == Decimal("1170.00") and ("计入收入合计（元/月）", "1050.00 元") in result.lines


def test_obligors_add_to_the_counted_income_items(world):
    a, b, _ = members(world, 0, [0, 0, 0])
    income_items(world, 0, [(a, "wages", "wage", 1200), (b, "transfer", "disability_allowance", 200)])
    obligor(world, 0, "李大", 300)
    result = breakdown(world)
    # counted 1200 + 300 = 1500 (the allowance exempt), per capita 500: (740 − 500) × 3 = 720
    assert result.amount == Decimal("720.00")
    assert ("计入收入合计（元/月）", "1500.00 元") in result.lines
    assert [label for label, _ in result.lines].count("计入收入合计（元/月）") == 1


def test_single_cover_counts_only_the_support_the_applicant_receives(world):
    made = members(world, 0, [0, 1300, 1000], disability_class="4", disability_grade="2")
    obligor(world, 0, "赡养申请人的女儿", 100, supported=made[0].id)
    obligor(world, 0, "扶养他人的兄长", 200, supported=made[1].id)
    result = breakdown(world, "13", applicant_name=made[0].name, applicant_id_number=made[0].id_number)
    # household (0 + 1300 + 1000 + 100 + 200) ÷ 3 = 866.67: an edge family (740 ≤ … < 1110);
    # the applicant's own income is the 100 paid for her: 740 − 100 = 640
    assert result.eligible is True and result.amount == Decimal("640.00")
    assert ("本人月收入", "100.00 元") in result.lines


def test_an_alimony_income_item_beside_obligors_asks_to_check_for_a_double_count(world):
    members(world, 0, [0, 0, 0])
    income_items(world, 0, [(None, "support", "alimony", 300)])
    obligor(world, 0, "赵大", 300)
    result = breakdown(world)
    assert ("计入收入合计（元/月）", "600.00 元") in result.lines            # both are counted, as entered
    assert any(label == "请核对" and "计入两次" in text for label, text in result.lines)


def test_tekun_is_refused_while_an_obligor_can_support_the_applicant(world):
    made = members(world, 0, [0])
    record = world.case("21", applicant_name=made[0].name, applicant_id_number=made[0].id_number)
    case = world.investigate(record, D(2026, 3, 10), D(2026, 3, 11))
    items = dict(care_eat="能", care_dress="能", care_bed="不能", care_toilet="能", care_walk="能", care_bathe="能")
    case = world.do(case, "assess_self_care", "town", support_form="home", **items)
    assert world.flow.breakdown(case).amount == Decimal("1415.00")              # 965 + 450
    son = obligor(world, 0, "孙大", 0, supported=made[0].id, ability="able")
    result = world.flow.breakdown(case)
    assert result.eligible is False and result.amount == Decimal("0.00")
    assert "孙大是有履行能力的义务人" in result.reason and "民发〔2021〕43号第四条" in result.reason
    with pytest.raises(RecordInvalid) as refused:
        world.do(case, "propose", "town", proposed_amount="1415")
    assert "孙大是有履行能力的义务人" in refused.value.errors["__all__"]
    token = system.actor.set((None, "测试", None))
    son.ability, son.exemption = "unable", "severe_disability"
    son.save()
    system.actor.reset(token)
    result = world.flow.breakdown(case)
    assert result.amount == Decimal("1415.00")
    assert ("义务人：孙大", "无履行能力（义务人重度残疾或三级智力、精神残疾，且收入、财产符合规定）") in result.lines


# -- assets against the limits

def test_a_second_house_is_over_the_limit_and_the_reason_names_it(world):
    members(world, 0, [300, 0, 0])
    asset(world, 0, "house", 80000, basis="不动产登记")
    result = breakdown(world)
    assert result.eligible is True and result.amount == Decimal("1920.00")     # (740 − 100) × 3
    assert ("财产：住房（房产）", "80,000.00 元") in result.lines
    asset(world, 0, "house", 50000)
    result = world.flow.breakdown(world.record)
    assert result.eligible is False and result.amount == Decimal("0.00")
    assert result.reason == "家庭有住房 2 套，超过限额 1 套（设置“家庭财产：住房最多几套”），不符合低保条件"
    world.engine.settings.set("asset_house_max", 2)
    assert world.flow.breakdown(world.record).amount == Decimal("1920.00")


def test_a_car_is_over_the_limit_unless_a_reason_exempts_it(world):
    members(world, 0, [300, 0, 0])
    asset(world, 0, "vehicle", 3000, exempt_reason="残疾人功能性补偿代步车")
    result = breakdown(world)
    assert result.eligible is True
    assert ("财产：机动车辆", "3,000.00 元（不计入限额：残疾人功能性补偿代步车）") in result.lines
    asset(world, 0, "vehicle", 45000)
    result = world.flow.breakdown(world.record)
    assert result.eligible is False and "家庭有机动车辆 1 辆，超过限额 0 辆" in result.reason


def test_deposits_and_securities_per_person_against_months_of_the_standard(world):
    members(world, 0, [300, 0, 0])
    asset(world, 0, "deposit", 30000)
    asset(world, 0, "securities", 24000)
    asset(world, 0, "other", 99999)                    # listed, no limit set for it
    result = breakdown(world)
    # (30000 + 24000) ÷ 3 = 18000 per person > 740 × 24 = 17760
    assert result.eligible is False
    assert "家庭人均存款和有价证券 18,000.00 元，超过限额 17,760.00 元（740.00 元低保标准 × 24 个月" in result.reason
    assert ("财产：其他财产（商业保险、债权等）", "99,999.00 元（只登记，不设限额）") in result.lines
    world.engine.settings.set("asset_financial_months", 25)                 # 18500: within it
    assert world.flow.breakdown(world.record).amount == Decimal("1920.00")


def test_assets_over_the_limit_keep_a_case_out_of_the_notice(world):
    members(world, 0, [300, 0, 0])
    record = world.case("12")
    case = world.investigate(record, D(2026, 3, 10), D(2026, 3, 11))
    asset(world, 0, "vehicle", 60000, basis="公安机关车辆登记")
    with pytest.raises(RecordInvalid) as refused:
        world.do(case, "propose", "town", proposed_amount="1920")
    assert "家庭有机动车辆 1 辆，超过限额 0 辆" in refused.value.errors["__all__"]
    assert world.engine.models["case"].get_by_id(case.id).state == "reviewing"


def test_single_cover_needs_the_edge_familys_property_within_the_limits(world):
    made = members(world, 0, [100, 1300, 1000], disability_class="4", disability_grade="2")
    asset(world, 0, "house", 1)
    asset(world, 0, "house", 1)
    result = breakdown(world, "13", applicant_name=made[0].name, applicant_id_number=made[0].id_number)
    assert result.eligible is False and "家庭有住房 2 套" in result.reason and "不符合单人保条件" in result.reason


# -- department results, one department's file at a time

def csv(*lines):
    return ("\n".join(lines) + "\n").encode("utf-8")


def test_a_departments_results_import_all_or_nothing(world):
    engine, Check = world.engine, world.engine.models["department_check"]
    first, second = world.case("12"), world.case("12")
    town = world.users["town"]
    bad = csv("救助事项,核对结果,核对情况,反馈日期",
              f"{first.case_no},无异常,,2026-03-09",
              "XX-NOT-A-CASE,无异常,,2026-03-09",
              f"{second.case_no},可能有,,2026-03-09")
    outcome = household_check.import_department_results(engine, town, "07", bad, "自然资源.csv")
    assert [(p.row, p.column) for p in outcome.problems] == [(3, "救助事项"), (4, "核对结果")]
    assert "找不到救助事项“XX-NOT-A-CASE”" in outcome.problems[0].message
    assert Check.select().count() == 0                                   # the good row is not written either
    good = csv("救助事项,核对结果,核对情况,反馈日期",
               f"{first.case_no},无异常,,2026-03-09",
               f"{second.case_no},有异常,户主名下登记住房两套,2026年3月9日")
    outcome = household_check.import_department_results(engine, town, "自然资源部门", good, "自然资源.csv")
    assert outcome.ok and outcome.created == 2
    rows = {c.__data__["case"]: c for c in Check.select()}
    assert (rows[first.id].department, rows[first.id].result) == ("07", "normal")
    assert (rows[second.id].result, rows[second.id].detail, rows[second.id].checked_on) == \
        ("abnormal", "户主名下登记住房两套", D(2026, 3, 9))
    # the same department again for the same case: refused, nothing more written
    again = household_check.import_department_results(engine, town, "07", good, "自然资源.csv")
    assert not again.ok and "该事项已有这个部门的核对结果" in again.problems[0].message
    assert Check.select().count() == 2
    # a file for 税务 with a row that names another department
    mixed = csv("救助事项,核对部门,核对结果", f"{first.case_no},税务部门（纳税）,无异常",
                f"{second.case_no},公安机关（户籍、机动车辆）,无异常")
    outcome = household_check.import_department_results(engine, town, "16", mixed, "税务.csv")
    assert [(p.row, p.column) for p in outcome.problems] == [(3, "核对部门")]
    assert "本次导入的是“税务部门（纳税）”的核对部门" in outcome.problems[0].message
    assert Check.select().count() == 2
    with pytest.raises(household_check.UnknownDepartment) as unknown:
        household_check.import_department_results(engine, town, "气象局", good, "x.csv")
    assert "没有核对部门“气象局”" in str(unknown.value)


def test_department_status_lists_answered_and_waiting(world):
    engine, Check = world.engine, world.engine.models["department_check"]
    case = world.case("12")
    token = system.actor.set((None, "测试", None))
    Check.create(case=case.id, department="02", result="normal", checked_on=D(2026, 3, 9))
    Check.create(case=case.id, department="07", result="abnormal", detail="名下住房两套")
    Check.create(case=case.id, department="16", result="pending")
    system.actor.reset(token)
    status = household_check.department_status(engine.models, engine.registry, case.id)
    assert [a[0] for a in status.answered] == ["公安机关（户籍、机动车辆）", "自然资源部门（不动产登记）"]
    assert [a[0] for a in status.abnormal] == ["自然资源部门（不动产登记）"]
    assert len(status.waiting) == 16 and "税务部门（纳税）" in status.waiting


# -- the case page and the command line

def test_case_page_shows_obligors_assets_and_departments_of_the_demo(any_app):
    """The demo's 涧头集镇 case under investigation (seeds/demo_household_check.py), on both databases."""
    eng = engine_of(any_app)
    Check, Member = eng.models["department_check"], eng.models["member"]
    case = eng.models["case"].get_by_id(Check.select().first().__data__["case"])
    b = Browser(any_app)
    assert b.login("town2").status_code == 302
    html = b.get(f"/admin/case/details/?id={case.id}").get_data(as_text=True)
    assert "赡养（扶养、抚养）费：外出务工的儿子（演示）（赡养）" in html and "200.00 元" in html
    assert "100.00 元（不计入家庭收入：义务人本人是低保对象）" in html
    assert "财产：住房（房产）" in html and "财产：银行存款（含现金）" in html
    own = sum(Decimal(m.monthly_income or 0) for m in
              Member.select().where(Member.household == case.__data__["household"], Member.archived == False))  # noqa: E712
    assert f"{own + 200:.2f} 元" in html                     # 计入收入合计: the members' income and the son's 200
    block = re.search(r'id="case-department-checks".*?</div>\s*</div>', html, re.S).group(0)
    assert "已反馈 6 个部门" in block and "有异常 1 个" in block and "待反馈 12 个部门" in block
    assert "户主名下登记住房一套" in block
    assert "住房城乡建设部门（租房、房改房、住房保障）" in re.search(r'id="case-departments-waiting">([^<]*)',
                                                                   block).group(1)
    # the village of the other township sees none of it
    other = Browser(any_app)
    other.login("village1")
    assert other.get(f"/admin/case/details/?id={case.id}").status_code == 404


def test_obligor_and_asset_entered_on_the_web_drive_the_case_page(app, browser_for):
    town = browser_for("town1")
    h = household_in(app, "370405001001")
    eng = engine_of(app)
    r = town.post("/admin/support_obligor/new/", {"household": h.id, "name": "外地儿子", "duty": "elder",
                                                  "ability": "able", "monthly_contribution": "-1"})
    assert r.status_code == 200 and "support_obligor" in r.request.path
    assert eng.models["support_obligor"].select().where(eng.models["support_obligor"].household == h.id).count() == 0
    assert "外地儿子" in r.get_data(as_text=True)                     # what was typed is kept
    r = town.post("/admin/support_obligor/new/", {"household": h.id, "name": "外地儿子", "duty": "elder",
                                                  "ability": "able", "monthly_contribution": "250"})
    assert r.status_code == 302, r.get_data(as_text=True)[:1500]
    new_case(town, h)
    case = latest_case(app)
    html = page(town, case.id)
    assert "赡养（扶养、抚养）费：外地儿子（赡养）" in html and "250.00 元" in html
    assert "待反馈 18 个部门" in html
    r = town.post("/admin/household_asset/new/", {"household": h.id, "kind": "vehicle", "value": "52000",
                                                  "basis": "车辆登记信息"})
    assert r.status_code == 302, r.get_data(as_text=True)[:1500]
    html = page(town, case.id)
    assert "家庭有机动车辆 1 辆，超过限额 0 辆（设置“家庭财产：机动车辆最多几辆”），不符合低保条件" in html


def test_department_import_on_the_command_line(app, tmp_path):
    eng = engine_of(app)
    Check = eng.models["department_check"]
    before = Check.select().count()
    Case = eng.models["case"]
    first, case = Case.select().where(Case.state == "accepted").order_by(Case.id).limit(2)
    runner = app.test_cli_runner()
    path = tmp_path / "公安.csv"
    path.write_bytes(csv("事项编号,结果,情况", f"{first.case_no},无异常,", f"{case.case_no},不知道,"))
    r = runner.invoke(args=["checks", "departments", str(path), "--department", "02"])
    assert r.exit_code != 0 and "第3行 核对结果" in r.output and "核对结果未导入" in r.output
    assert Check.select().count() == before
    path.write_bytes(csv("事项编号,结果,情况", f"{first.case_no},无异常,"))
    r = runner.invoke(args=["checks", "departments", str(path), "--department", "02"])
    assert r.exit_code == 0, r.output
    assert "已导入 1 条核对结果" in r.output and Check.select().count() == before + 1
    r = runner.invoke(args=["checks", "departments", str(path), "--department", "99"])
    assert r.exit_code != 0 and "没有核对部门“99”" in r.output


def test_a_household_workbook_brings_its_assets_on_the_third_sheet(world):
    """household_asset is inline on the household: the household import takes a 家庭财产 sheet too,
    all or nothing with the household and its members."""
    engine = world.engine
    head = idnumber.make("370405", D(1970, 5, 6), 31)
    sheets = {"家庭户": (["户编号", "所属村（社区）", "户主姓名", "户主身份证号", "户口性质"],
                         [["IMP-1", "村0", "财产户主", head, "农村"]]),
              "家庭成员": (["所属家庭", "姓名", "身份证号", "与户主关系"], [["IMP-1", "财产户主", head, "户主"]]),
              "家庭财产": (["家庭", "财产类别", "价值或金额（元）", "核对依据"],
                           [["IMP-1", "机动车辆", "30000", "车辆登记"], ["IMP-1", "房子", "1", ""]])}

    def book():
        out = io.BytesIO()
        wb = xlsxwriter.Workbook(out, {"strings_to_numbers": False})
        for name, (header, rows) in sheets.items():
            sheet = wb.add_worksheet(name)
            sheet.write_row(0, 0, header)
            for r, row in enumerate(rows, 1):
                sheet.write_row(r, 0, row)
        wb.close()
        return out.getvalue()
    H, Asset = engine.models["household"], engine.models["household_asset"]
    outcome = Importer(engine, "household", world.users["town"]).run(book(), "户籍.xlsx")
    assert [(p.sheet, p.row, p.column) for p in outcome.problems] == [("家庭财产", 3, "财产类别")]
    assert H.select().where(H.code == "IMP-1").count() == 0 and Asset.select().count() == 0
    sheets["家庭财产"][1][1][1] = "住房（房产）"
    outcome = Importer(engine, "household", world.users["town"]).run(book(), "户籍.xlsx")
    assert outcome.ok, [p.message for p in outcome.problems]
    imported = H.get(H.code == "IMP-1")
    assert sorted(a.kind for a in Asset.select().where(Asset.household == imported.id)) == ["house", "vehicle"]
