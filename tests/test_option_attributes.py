"""Option-list attributes: a new assistance type declared in YAML only (its family, single-person cover,
standard and certificate) is counted in the 低保 report, paid at the 低保 standard and certified; the
compiler refuses undeclared attributes and codes that are not in the list an attribute names."""
import datetime as dt
import shutil
from decimal import Decimal

import pytest

from casework.core import derive, system
from casework.engine import SCHEMA_DIR, Engine
from casework.funds import payments
from reports import engine as rep
from schema import SchemaError, load

from .test_benefits import members
from .test_payments import with_card
from .test_workflow import World

D = dt.date
NEW_TYPE = ('  - {code: "14", label: 农村低保（重度残疾人单独施保）, family: dibao, single_person: true, '
            'standard: dibao, hukou: "2", certificate: "1", calculator: dibao}\n')


def schema_with_new_type(tmp_path):
    root = tmp_path / "schema"
    shutil.copytree(SCHEMA_DIR, root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    options = root / "options" / "assistance_type.yaml"
    text = options.read_text(encoding="utf-8")
    anchor = '  - {code: "21",'
    assert anchor in text
    options.write_text(text.replace(anchor, NEW_TYPE + anchor, 1), encoding="utf-8")
    # the workflow takes it by its family (`types: {family: dibao}`): no edit there
    assert "types: {family: dibao}" in (root / "workflows" / "dibao.yaml").read_text(encoding="utf-8")
    return root


@pytest.fixture
def world(db_url, tmp_path):
    engine = Engine(db_url, schema_dir=str(schema_with_new_type(tmp_path)))
    engine.migrate()
    w = World(engine)
    county = engine.models["area"].get(code="370405")
    token = system.actor.set((None, "测试", None))
    engine.models["standard"].create(area=county, kind="dibao", hukou_type="2", effective_month="2026-01", amount=740)
    system.actor.reset(token)
    yield w
    engine.db.close()


def test_a_type_added_in_yaml_is_covered_paid_certified_and_counted(world):
    engine, models = world.engine, world.engine.models
    assert engine.registry.codes_with("assistance_type", family="dibao") == ["11", "12", "13", "14"]
    members(world, 0, [0, 0, 0])                          # three people, but the new type covers one
    case = world.investigate(world.case("14", apply_date=D(2026, 9, 25)), D(2026, 9, 28), D(2026, 9, 29))
    case = world.do(case, "propose", "town", on=D(2026, 9, 30), proposed_amount="500")
    case = world.do(case, "approve", "leader", on=D(2026, 10, 9), decided_amount="500")
    Care, Certificate, Payment = models["care"], models["certificate"], models["payment"]
    care = Care.get(Care.case == case.id)
    assert (care.assistance_type, care.persons, care.status) == ("14", 1, "in_care")
    cert = Certificate.get(Certificate.care == care.id)
    assert cert.kind == "1" and cert.number.startswith(world.towns[0].code + "1")     # 最低生活保障证
    with_card(world)
    assert payments.run(engine, world.users["town"], world.towns[0].id, "2026-11").created == 1
    line = Payment.get(Payment.month == "2026-11")
    assert (line.assistance_type, line.amount, line.standard, line.persons) == ("14", Decimal("500.00"),
                                                                                 Decimal("740.00"), 1)
    reports, errors = rep.load(engine.registry)
    assert errors == []
    admin = world.users["admin"]
    _params, sheets = rep.run(engine, admin, reports["dibao_monthly"], {"month": "2026-11"})
    by_town = sheets[0]
    head = by_town.headers.index
    assert [by_town.totals[head(h)] for h in ("低保户数", "低保人数", "当月资金支出（元）")] == [1, 1, Decimal("500.00")]
    _params, (tekun, *_rest) = rep.run(engine, admin, reports["tekun_by_form"], {"month": "2026-11"})
    assert tekun.rows == []                               # not a 特困 type: not in the 特困 report


def write_options(tmp_path, body):
    root = tmp_path / "schema"
    shutil.copytree(SCHEMA_DIR, root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    (root / "options" / "assistance_type.yaml").write_text(body, encoding="utf-8")
    return str(root)


@pytest.mark.parametrize("attribute, option, refusal", [
    ("family: {label: 救助大类, options: assistance_family}", "famly: dibao", "选项 11 有未声明的属性：famly"),
    ("certificate: {label: 证件, options: certificate_kind}", 'certificate: "9"',
     "选项 11 的属性 certificate：9 不在选项表 certificate_kind 中"),
    ("single_person: {label: 单人, type: bool}", 'single_person: "是"', "选项 11 的属性 single_person 应为 true 或 false"),
])
def test_a_bad_attribute_is_refused_with_the_file_and_code(tmp_path, attribute, option, refusal):
    root = write_options(tmp_path, f"name: assistance_type\nlabel: 救助类别\nattributes:\n  {attribute}\noptions:\n"
                                   f'  - {{code: "11", label: 城市低保, {option}}}\n')
    with pytest.raises(SchemaError) as e:
        load(root)
    assert "options/assistance_type.yaml" in str(e.value) and refusal in str(e.value)


def test_a_report_filter_on_an_unknown_attribute_names_the_file(tmp_path):
    registry = load(SCHEMA_DIR, derive.names())
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "bad.yaml").write_text(
        "name: bad\ntitle: 坏筛选\nsheets:\n  - source: payment\n    group: [village]\n"
        "    filters: [{field: assistance_type, with: {familly: dibao}}]\n"
        "    columns:\n      - {name: amount, agg: sum, path: amount}\n", encoding="utf-8")
    reports, errors = rep.load(registry, str(folder))
    assert reports == {} and len(errors) == 1
    assert "reports/bad.yaml" in errors[0] and "familly 不是选项表 assistance_type 声明的属性" in errors[0]
