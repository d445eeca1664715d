"""Data checks with planted cases: deaths (the list's malformed lines reported, nothing written; the
match holds payments from next month), the same person in care twice, cadres' near relatives, amounts
against the calculator; the township works through its own results only; the CLI."""
import datetime as dt
import io

import pytest

from casework.supervision import checks
from schema import idnumber
from casework.funds import payments
from casework.core import system
from schema import RecordInvalid

from .test_spotcheck import approve
from .test_workflow import World

D = dt.date


@pytest.fixture
def world(engine):
    return World(engine)


def csv(*lines):
    return ("\n".join(lines) + "\n").encode("utf-8")


def member_of(world, case):
    Member = world.engine.models["member"]
    return Member.get(Member.household == case.__data__["household"])


def add_member(world, household, n, **kw):
    token = system.actor.set((None, "测试", None))
    try:
        return world.engine.models["member"].create(household=household, name=f"成员{n}", relation="02",
                                                    id_number=idnumber.make("370405", D(1960, 1, 1 + n), 300 + n), **kw)
    finally:
        system.actor.reset(token)


def test_a_death_list_with_bad_lines_writes_nothing(world):
    engine = world.engine
    case = approve(world, 0)
    person = add_member(world, case.__data__["household"], 1)
    world.today = D(2026, 11, 20)
    Death, Result = engine.models["death_record"], engine.models["check_result"]
    bad = csv("身份证号,姓名,死亡日期", f"{person.id_number},{person.name},2026-11-02",
              "370405196001010000,坏号码,2026-11-02", f"{person.id_number},重复,2026-11-03",
              f"{idnumber.make('370405', D(1950, 2, 2), 11)},甲,2099-01-01",
              f"{idnumber.make('370405', D(1950, 2, 3), 13)},乙,十一月")
    outcome = checks.import_deaths(engine, world.users["admin"], bad, "deaths.csv")
    assert [(p.row, p.column) for p in outcome.problems] == [(3, "身份证号"), (4, "身份证号"), (5, "死亡日期"),
                                                              (6, "死亡日期")]
    assert "校验位" in outcome.problems[0].message and "与第 2 行重复" in outcome.problems[1].message
    assert Death.select().count() == 0 and Result.select().count() == 0
    assert checks.import_deaths(engine, world.users["admin"], b"", "deaths.csv").problems[0].message == "文件是空的"
    assert "找不到表头" in checks.import_deaths(engine, None, csv("号码,日期", "1,2"), "d.csv").problems[0].message


def test_a_death_in_care_is_flagged_and_holds_payments_from_next_month(world):
    engine = world.engine
    case = approve(world, 0)                                   # in care from November 2026
    person = add_member(world, case.__data__["household"], 1)
    world.today = D(2026, 11, 20)
    outcome = checks.import_deaths(engine, world.users["admin"],
                                   csv("身份证号,姓名,死亡日期,数据来源", f"{person.id_number},{person.name},2026-11-02,县公安局",
                                       f"{idnumber.make('370405', D(1940, 5, 5), 21)},不在保的人,2026-10-01,县公安局"),
                                   "deaths.csv")
    assert (outcome.ok, outcome.added, outcome.found) == (True, 2, 1)
    Result = engine.models["check_result"]
    found = Result.get(Result.kind == "death")
    assert (found.id_number, found.hold_from, found.status) == (person.id_number, "2026-12", "open")
    assert "2026-11-02 死亡" in found.detail
    # importing the same list again adds nothing and finds nothing new
    again = checks.import_deaths(engine, world.users["admin"],
                                 csv("身份证号,死亡日期", f"{person.id_number},2026-11-02"), "deaths.csv")
    assert (again.added, again.known, again.found) == (0, 1, 0)
    # November is paid; December is held while the finding is open; dismissed, January is paid again
    Payment, Household = engine.models["payment"], engine.models["household"]
    engine.models["bank_card"].insert(household=case.__data__["household"], account="6228480000000000017",
                                      bank_name="农业银行", account_name="户主", status="active").execute()
    admin = world.users["admin"]
    payments.run(engine, admin, world.towns[0].id, "2026-11")
    payments.run(engine, admin, world.towns[0].id, "2026-12")
    line = {p.month: p for p in Payment.select().where(Payment.household == case.__data__["household"])}
    assert line["2026-11"].status == "pending"
    assert (line["2026-12"].status, line["2026-12"].note) == ("held", "死亡比对待核实，暂缓发放")
    token = system.actor.set((world.users["town"].id, "town", None))
    try:
        found.status = "dismissed"
        with pytest.raises(RecordInvalid, match="请写明核实情况"):
            found.save()
        found.handled_note = "重名，经公安核实身份证号录入有误"
        found.save()
        found.detail = "改写"
        with pytest.raises(RecordInvalid, match="只能填写核实状态和核实情况"):
            found.save()
    finally:
        system.actor.reset(token)
    assert Result.get_by_id(found.id).handled_on is not None
    payments.run(engine, admin, world.towns[0].id, "2027-01")
    assert Payment.get(Payment.household == case.__data__["household"], Payment.month == "2027-01").status == "pending"


def test_the_same_person_twice_and_cadres_relatives(world):
    engine = world.engine
    first, second = approve(world, 0), approve(world, 0)
    Household = engine.models["household"]
    head = Household.get_by_id(first.__data__["household"])
    # the first household's head is also registered as a member of the second household
    token = system.actor.set((None, "测试", None))
    engine.models["member"].create(household=second.__data__["household"], name=head.head_name, relation="02",
                                   id_number=head.head_id_number)
    relative = add_member(world, second.__data__["household"], 5)
    cadre = engine.models["cadre"].create(area=world.villages[0].id, name="周村长", position="village_cadre",
                                          id_number=idnumber.make("370405", D(1970, 1, 1), 41))
    engine.models["cadre_relative"].create(cadre=cadre.id, name=relative.name, id_number=relative.id_number,
                                           relation="child")
    applicant = engine.models["cadre_relative"].create(cadre=cadre.id, name="户主0", relation="spouse",
                                                       id_number=Household.get_by_id(world.households[0].id).head_id_number)
    system.actor.reset(token)
    world.case("12", household=0)                              # the cadre's wife applies, not registered
    made = checks.run(engine)
    assert (made["duplicate"], made["relative"], made["death"]) == (1, 2, 0)
    Result = engine.models["check_result"]
    dup = Result.get(Result.kind == "duplicate")
    assert dup.__data__["household"] == head.id and "另一在保家庭" in dup.detail
    texts = sorted(r.detail for r in Result.select().where(Result.kind == "relative"))
    assert "是村（社区）干部 周村长 的子女，在保障人员中" in texts[0]
    assert texts[1].startswith("申请人户主0 是村（社区）干部 周村长 的配偶") and "未勾选“近亲属备案”" in texts[1]
    assert checks.run(engine) == {"death": 0, "duplicate": 0, "relative": 0, "amount": 0, "head": 0,
                                  "type": 0}    # nothing new
    assert applicant.id


def test_a_tekun_type_that_contradicts_the_support_form_is_listed(world):
    engine = world.engine
    Case = engine.models["case"]
    scattered, central = world.case("21"), world.case("22", household=1)
    # data from before the rule (or an old import): 集中供养 recorded under the 分散 type, and the reverse
    Case.update(support_form="institution").where(Case.id == scattered.id).execute()
    Case.update(support_form="institution").where(Case.id == central.id).execute()      # consistent
    assert checks.run(engine, ["type"])["type"] == 1
    found = engine.models["check_result"].get(engine.models["check_result"].kind == "type")
    assert found.__data__["case"] == scattered.id
    assert (f"事项 {scattered.case_no} 的救助类别为“特困人员救助供养（分散）”，供养方式却是“集中供养（供养机构）”，"
            f"应为“特困人员救助供养（集中）”") in found.detail
    Case.update(support_form="home").where(Case.id == central.id).execute()
    assert checks.run(engine, ["type"])["type"] == 1
    assert checks.run(engine, ["type"])["type"] == 0                 # not listed twice


def test_an_amount_that_differs_from_the_calculator(world):
    engine = world.engine
    case = approve(world, 0)                                   # decided at 300 元 by hand
    add_member(world, case.__data__["household"], 1, monthly_income=200)
    token = system.actor.set((None, "测试", None))
    engine.models["standard"].create(area=world.towns[0].__data__["parent"], kind="dibao", hukou_type="2",
                                     effective_month="2026-01", amount=740)
    system.actor.reset(token)
    world.today = D(2026, 11, 10)
    assert world.flow.breakdown(case).amount == 540            # (740 − 200) × 1 person
    assert checks.run(engine, ["amount"])["amount"] == 1
    found = engine.models["check_result"].get(engine.models["check_result"].kind == "amount")
    assert "在保金额 300.00 元，按现行标准和家庭收入测算为 540.00 元，相差 +240.00 元" in found.detail
    assert checks.run(engine, ["amount"])["amount"] == 0       # the same difference is not listed twice


def test_results_are_scoped_to_the_township(world):
    engine = world.engine
    mine, theirs = approve(world, 0), approve(world, 1)
    for case, n in ((mine, 1), (theirs, 2)):
        person = add_member(world, case.__data__["household"], n)
        engine.models["death_record"].create(county=world.towns[0].__data__["parent"], id_number=person.id_number,
                                             death_date=D(2026, 11, 1))
    assert checks.run(engine, ["death"])["death"] == 2
    from casework.core import scope
    town = [r.__data__["household"] for r in scope.scoped(engine.models, "check_result", world.users["town"])]
    assert town == [mine.__data__["household"]]
    other = [r.__data__["household"] for r in scope.scoped(engine.models, "check_result", world.users["other_town"])]
    assert other == [theirs.__data__["household"]]
    assert not scope.can(engine.models, world.users["village"], "death_record", "view")


def test_checks_screen_and_cli(app, browser_for, tmp_path):
    from .conftest import engine_of
    engine = engine_of(app)
    county = browser_for("admin")
    page = county.get("/admin/checks/").get_data(as_text=True)
    assert "死亡人员仍在保" in page and "导入死亡人员名单" in page
    town = browser_for("town1")
    page = town.get("/admin/checks/").get_data(as_text=True)
    assert "导入死亡人员名单" not in page
    r = town.post("/admin/checks/run", {})
    assert "只有县级管理员" in town.get(r.headers["Location"]).get_data(as_text=True)
    r = county.post("/admin/checks/deaths", {"file": (io.BytesIO(csv("身份证号,死亡日期", "123,2026-01-01")), "d.csv")})
    assert r.status_code == 200 and "未导入任何一行" in r.get_data(as_text=True)
    assert engine.models["death_record"].select().count() == 1           # the demo's one, nothing added
    runner = app.test_cli_runner()
    result = runner.invoke(args=["checks", "run"])
    assert result.exit_code == 0, result.output
    assert "死亡人员仍在保\t新发现 0 条\t待核实共 1 条" in result.output
    bad = tmp_path / "deaths.csv"
    bad.write_bytes(csv("身份证号,死亡日期", "123,2026-01-01"))
    result = runner.invoke(args=["checks", "deaths", str(bad)])
    assert result.exit_code != 0 and "第2行 身份证号" in result.output and "名单未导入" in result.output


def test_home_page_shows_what_waits_within_scope(app, browser_for):
    from casework.supervision import dashboard

    from .conftest import engine_of
    engine = engine_of(app)
    User = engine.models["user"]
    county = dict((label, n) for label, n, _ in dashboard.supervision(engine, User.get(username="admin")))
    town1 = dict((label, n) for label, n, _ in dashboard.supervision(engine, User.get(username="town1")))
    town2 = dict((label, n) for label, n, _ in dashboard.supervision(engine, User.get(username="town2")))
    village = dict((label, n) for label, n, _ in dashboard.supervision(engine, User.get(username="village1")))
    # the demo's death, the cadre's relative in care and applying again, the income that rose
    assert county["待核实的比对结果"] == 4 == town1["待核实的比对结果"] + town2["待核实的比对结果"]
    assert county["复核已逾期（户）"] == town1["复核已逾期（户）"] + town2["复核已逾期（户）"] > 0
    assert "未验收的整改问题" not in village                        # the village does not see findings
    assert "信访举报逾期未回复" not in village
    assert county["信访举报逾期未回复"] == town1["信访举报逾期未回复"] + town2["信访举报逾期未回复"] == 1   # the demo's one
    missing = next(k for k in county if k.endswith("未报月报的村"))
    assert county[missing] == 1
    html = browser_for("town1").get("/admin/").get_data(as_text=True)
    assert 'id="supervision"' in html and "待核实的比对结果" in html and "/admin/reviews/" in html


def test_rule_bound_tables_are_not_imported(app, tmp_path):
    from casework.core.imports import not_importable

    from .conftest import engine_of
    registry = engine_of(app).registry
    assert "数据比对" in not_importable(registry, "death_record")
    for name in ("check_result", "dishonesty", "recovery", "complaint", "village_report"):
        assert not_importable(registry, name), name
    assert not_importable(registry, "cadre") is None and not_importable(registry, "household") is None
    runner = app.test_cli_runner()
    out = tmp_path / "t.xlsx"
    result = runner.invoke(args=["template", "dishonesty", str(out)])
    assert result.exit_code != 0 and "不能批量导入" in result.output and not out.exists()


def test_the_death_list_reads_dates_as_every_import_does(world, tmp_path):
    import xlsxwriter
    engine = world.engine
    world.today = D(2026, 11, 20)
    people = [idnumber.make("370405", D(1950, 3, 1 + n), 21 + 2 * n) for n in range(4)]
    text = csv("身份证号,死亡日期", f"{people[0]},2026年5月1日", f"{people[1]},20260502", f"{people[2]},2026/5/3")
    outcome = checks.import_deaths(engine, world.users["admin"], text, "deaths.csv")
    assert not outcome.problems, [p.message for p in outcome.problems]
    path = tmp_path / "deaths.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, ["身份证号", "死亡日期"])
    sheet.write_string(1, 0, people[3])
    sheet.write_number(1, 1, 46146)          # an Excel serial date without a date format: 2026-05-04
    book.close()
    outcome = checks.import_deaths(engine, world.users["admin"], path.read_bytes(), "deaths.xlsx")
    assert not outcome.problems, [p.message for p in outcome.problems]
    Death = engine.models["death_record"]
    assert sorted(str(d.death_date) for d in Death.select()) == ["2026-05-01", "2026-05-02", "2026-05-03",
                                                                 "2026-05-04"]
