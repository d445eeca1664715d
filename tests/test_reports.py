"""Declarative reports: the built-in ones on demo data against independent counts, row scope through
any parameter, a report over a field just added to a schema file, broken files, empty months, cells."""
import datetime as dt
import io
import shutil
from decimal import Decimal

import peewee as pw
import pytest

from casework.engine import SCHEMA_DIR, Engine
from reports import engine as rep
from reports import form_workbook

from .conftest import engine_of
from schema import clock


def load(app):
    reports, errors = rep.load(engine_of(app).registry)
    assert errors == []
    return reports


def user(app, name):
    return engine_of(app).models["user"].get(username=name)


def test_dibao_monthly_totals_match_an_independent_count(app):
    eng = engine_of(app)
    month = "2026-10"
    params, (by_town, by_type, by_reason, changes, year) = rep.run(eng, user(app, "admin"), load(app)["dibao_monthly"],
                                                        {"month": month})
    P, C = eng.models["payment"], eng.models["care"]
    lines = P.select().where(P.month == month, P.assistance_type.in_(["11", "12", "13"]), P.kind == "regular")
    households = lines.select(pw.fn.COUNT(P.household.distinct())).scalar()
    amount = lines.select(pw.fn.SUM(P.amount)).scalar()
    persons = sum(C.get_by_id(p.__data__["care"]).persons for p in lines)
    assert households > 0
    head = by_town.headers.index
    assert [by_town.totals[head(h)] for h in ("低保户数", "低保人数", "当月资金支出（元）")] == [households, persons, amount]
    assert sum(r[1] for r in by_town.rows) == households
    assert sum(r[head("当月资金支出（元）")] for r in by_town.rows) == amount
    assert by_town.totals[head("当月人均补助水平（元）")] == (Decimal(amount) / persons).quantize(Decimal("0.0001"))
    assert [r[0] for r in by_town.rows] == ["运河街道", "涧头集镇"]
    H, M, Case = eng.models["household"], eng.models["member"], eng.models["case"]
    standards = [p.standard for p in lines]
    assert None not in standards
    assert by_town.totals[head("平均保障标准（元/人·月）")] == (sum(standards) / len(standards)).quantize(Decimal("0.0001"))
    # persons by category, counted here from the members as they were on the month's first day
    first = dt.date(2026, 10, 1)
    counts = {"其中老年人": 0, "其中成年人": 0, "其中未成年人": 0, "其中女性": 0, "其中残疾人": 0}
    for p in lines:
        care = C.get_by_id(p.__data__["care"])
        members = list(M.select().where(M.household == care.__data__["household"]))
        if care.assistance_type == "13":
            wanted = Case.get_by_id(care.__data__["case"]).applicant_id_number if care.__data__["case"] else \
                H.get_by_id(care.__data__["household"]).head_id_number
            members = [m for m in members if m.id_number == wanted]
        for m in members:
            age = first.year - m.birth_date.year - ((first.month, first.day) < (m.birth_date.month, m.birth_date.day))
            counts["其中老年人" if age >= 60 else "其中成年人" if age >= 18 else "其中未成年人"] += 1
            counts["其中女性"] += m.sex == "2"
            counts["其中残疾人"] += bool(m.disability_class)
    assert {h: by_town.totals[head(h)] for h in counts} == counts
    assert counts["其中老年人"] > 0 and counts["其中未成年人"] > 0
    assert by_town.problems == []        # the demo roster is consistent: the categories add up
    assert sum(r[2] for r in by_reason.rows) == persons
    for p in lines.limit(20):               # the sample standards of 2026: urban 920, rural 740 元/人·月
        hukou = H.get_by_id(p.__data__["household"]).hukou_type
        assert p.standard == Decimal({"1": "920.00", "2": "740.00"}[hukou])
    assert by_type.totals[1:4] == [households, persons, amount]
    Ch = eng.models["care_change"]
    moved = Ch.select().join(C, on=(Ch.care == C.id)).where(Ch.effective_month == month, Ch.kind.in_(["add", "cancel"]),
                                                            C.assistance_type.in_(["11", "12", "13"]))
    assert changes.totals[2] == len({c.__data__["care"] for c in moved})
    ytd = P.select().where(P.month.between("2026-01", month), P.assistance_type.in_(["11", "12", "13"]),
                           P.status != "held")
    assert year.totals[1] == sum(p.amount for p in ytd)              # the months are closed: all in the summary
    assert year.totals[2] == len({(p.__data__["household"], p.month) for p in ytd})
    assert year.totals[3] == sum(C.get_by_id(p.__data__["care"]).persons for p in ytd)


def test_a_township_gets_only_its_own_figures(app):
    eng = engine_of(app)
    report = load(app)["dibao_monthly"]
    _params, (by_town, *_rest) = rep.run(eng, user(app, "town1"), report, {"month": "2026-10"})
    assert [r[0] for r in by_town.rows] == ["运河街道"]
    with pytest.raises(rep.ReportError, match="不是您管辖范围内的区划"):
        rep.run(eng, user(app, "town1"), report, {"month": "2026-10", "township": "370405101"})
    with pytest.raises(rep.ReportError, match="不是您管辖范围内的区划"):
        rep.run(eng, user(app, "town1"), report, {"month": "2026-10", "township": "涧头集镇"})


def test_bad_parameters_and_an_empty_month(app):
    eng = engine_of(app)
    report = load(app)["dibao_monthly"]
    with pytest.raises(rep.ReportError, match="没有参数 monht"):
        rep.run(eng, user(app, "admin"), report, {"monht": "2026-10"})
    with pytest.raises(rep.ReportError, match="报表月份"):
        rep.run(eng, user(app, "admin"), report, {"month": "十月"})
    _params, (by_town, *_rest) = rep.run(eng, user(app, "admin"), report, {"month": "2019-01"})
    assert by_town.rows == [] and by_town.totals[1:4] == [0, None, None]
    buffer = io.BytesIO()
    form_workbook.write(buffer, report, "2019-01", [by_town], user(app, "admin"))
    from python_calamine import CalamineWorkbook
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(buffer.getvalue())).get_sheet_by_index(0).to_python()
    assert "乡镇（街道）" in sheet[5] and "低保户数" in sheet[5]


def test_workbook_cells(app):
    from python_calamine import CalamineWorkbook
    eng = engine_of(app)
    report = load(app)["dibao_monthly"]
    values, results = rep.run(eng, user(app, "admin"), report, {"month": "2026-10"})
    buffer = io.BytesIO()
    form_workbook.write(buffer, report, rep.describe(report, values, eng), results, user(app, "admin"))
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(buffer.getvalue())).get_sheet_by_index(0).to_python()
    assert sheet[0][0] == "城乡最低生活保障月报表" and sheet[3][0] == "报表期：报表月份 2026-10"
    header = sheet[5]
    assert header[:6] == ["乡镇（街道）", "低保户数", "低保人数", "其中老年人", "其中成年人", "其中未成年人"]
    money = header.index("当月资金支出（元）")
    first = sheet[6]
    assert isinstance(first[1], float) and isinstance(first[money], float) and first[0] == "运河街道"
    assert sheet[8][0] == "合计"
    assert any(str(row[0]).startswith("制表人：县级管理员") for row in sheet)


def test_a_row_breaking_a_check_is_named_on_the_screen_and_in_the_workbook(app, browser_for):
    from python_calamine import CalamineWorkbook
    eng = engine_of(app)
    P = eng.models["payment"]
    line = P.select().join(eng.models["area"], on=(P.village == eng.models["area"].id)).where(
        P.month == "2026-10", P.assistance_type == "12", P.kind == "regular",
        eng.models["area"].parent == eng.models["area"].get(name="涧头集镇").id).first()
    P.update(elderly=P.elderly + 2).where(P.id == line.id).execute()    # a line whose categories overcount
    report = load(app)["dibao_monthly"]
    values, results = rep.run(eng, user(app, "admin"), report, {"month": "2026-10"})
    problems = results[0].problems
    assert len(problems) == 2 and problems[0].startswith("涧头集镇：老年人、成年人、未成年人之和应等于低保人数")
    assert problems[1].startswith("合计：") and "其中老年人 + 其中成年人 + 其中未成年人 = " in problems[1]
    buffer = io.BytesIO()
    form_workbook.write(buffer, report, rep.describe(report, values, eng), results, user(app, "admin"))
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(buffer.getvalue())).get_sheet_by_index(0).to_python()
    assert [row[0] for row in sheet if str(row[0]).startswith("核验：")] == [f"核验：{p}" for p in problems]
    page = browser_for("county").get("/admin/reports/?report=dibao_monthly&month=2026-10&go=1").get_data(as_text=True)
    assert "核验：涧头集镇：老年人、成年人、未成年人之和应等于低保人数" in page


def test_a_malformed_check_names_the_file(tmp_path, app):
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "bad_check.yaml").write_text(
        "name: bad_check\ntitle: 坏核验\nsheets:\n  - source: payment\n    group: [village]\n"
        "    columns:\n      - {name: amount, agg: sum, path: amount}\n"
        "    checks: [\"amount = 1\", \"amonut >= 0\"]\n", encoding="utf-8")
    reports, errors = rep.load(engine_of(app).registry, str(folder))
    assert reports == {} and len(errors) == 1
    assert "reports/bad_check.yaml" in errors[0] and "amount = 1" in errors[0]


def test_a_report_over_a_field_just_added_to_a_schema_file(tmp_path):
    schema_dir = tmp_path / "schema"
    shutil.copytree(SCHEMA_DIR, schema_dir, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    household = schema_dir / "household.yaml"
    text = household.read_text(encoding="utf-8")
    assert "  - {name: member_count," in text
    household.write_text(text.replace("  - {name: member_count,", "  - {name: housing, type: choice, "
                                      "label: 住房情况, options: hukou_type}\n  - {name: member_count,", 1),
                         encoding="utf-8")
    eng = Engine(f"sqlite:///{tmp_path}/db.sqlite", str(schema_dir))
    eng.migrate()
    from seeds import bootstrap
    bootstrap.demo(eng)
    H = eng.models["household"]
    H.update(housing="1").where(H.id % 3 == 0).execute()
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "housing.yaml").write_text("""
name: housing
title: 按住房情况统计家庭
sheets:
  - source: household
    group: [housing]
    columns:
      - {name: n, label: 户数, agg: count}
      - {name: people, label: 人数, agg: sum, path: member_count}
      - {name: avg, label: 户均人口, expr: people / n, format: yuan}
""", encoding="utf-8")
    reports, errors = rep.load(eng.registry, str(folder))
    assert errors == []
    admin = eng.models["user"].get(username="admin")
    _values, (sheet,) = rep.run(eng, admin, reports["housing"], {})
    assert sheet.headers[0] == "住房情况"
    counted = {r[0]: r[1] for r in sheet.rows}
    assert counted["城镇"] == H.select().where(H.housing == "1").count()
    assert sheet.totals[1] == H.select().count()


def test_a_broken_report_file_is_named_and_the_rest_load(tmp_path, app):
    folder = tmp_path / "reports"
    shutil.copytree(rep.HERE, folder, ignore=shutil.ignore_patterns("*.py", "__pycache__", "documents"))
    (folder / "broken.yaml").write_text("name: broken\ntitle: 坏报表\nsheets:\n  - source: household\n"
                                        "    columns:\n      - {name: x, agg: sum, path: salary}\n", encoding="utf-8")
    (folder / "bad_yaml.yaml").write_text("name: [unclosed\n", encoding="utf-8")
    reports, errors = rep.load(engine_of(app).registry, str(folder))
    assert "dibao_monthly" in reports and "broken" not in reports
    assert any("broken.yaml" in e and "salary" in e for e in errors)
    assert any("bad_yaml.yaml" in e for e in errors)


def test_report_screen(app, browser_for):
    town = browser_for("town1")
    html = town.get("/admin/reports/").get_data(as_text=True)
    assert "城乡最低生活保障月报表" in html
    html = town.get("/admin/reports/?report=dibao_monthly&month=2026-10&go=1").get_data(as_text=True)
    assert "运河街道" in html and "涧头集镇" not in html.split("报表期")[1]
    html = town.get("/admin/reports/?report=dibao_monthly&month=2026-10&township=370405101&go=1").get_data(as_text=True)
    assert "不是您管辖范围内的区划" in html
    r = town.get("/admin/reports/xlsx?report=dibao_monthly&month=2026-10")
    assert r.status_code == 200 and r.data[:2] == b"PK"
    assert town.get("/admin/reports/xlsx?report=nothing&month=2026-10").status_code == 404
    html = town.get("/admin/reports/?report=dibao_monthly&month=2019-01&go=1").get_data(as_text=True)
    assert "没有数据" in html


def test_tekun_temporary_and_ledger_reports_against_independent_counts(app):
    import datetime as dt
    eng = engine_of(app)
    reports, admin = load(app), user(app, "admin")
    C, K, P = eng.models["care"], eng.models["case"], eng.models["payment"]
    month = dt.date.today().strftime("%Y-%m")

    _v, (tekun,) = rep.run(eng, admin, reports["tekun_by_form"], {"month": month})
    cared = C.select().where(C.assistance_type.in_(["21", "22"]), C.start_month <= month, C.status == "in_care")
    assert tekun.totals[2] == cared.count() > 0
    assert tekun.totals[3] == sum(c.monthly_amount for c in cared)

    approved = list(K.select().where(K.assistance_type.in_(["31", "32"]), K.state == "approved"))
    assert approved
    decided = max(k.decision_date for k in approved)
    month = decided.strftime("%Y-%m")
    _v, (temp, year) = rep.run(eng, admin, reports["temporary_aid"], {"month": month})
    this_month = [k for k in approved if k.decision_date.strftime("%Y-%m") == month]
    to_date = [k for k in approved if k.decision_date.year == decided.year and k.decision_date <= decided]
    H = eng.models["household"]
    assert temp.totals[2:6] == [len(this_month), len({k.__data__["household"] for k in this_month}),
                                sum(H.get_by_id(k.__data__["household"]).member_count for k in this_month),
                                sum(k.decided_amount for k in this_month)]
    assert year.totals[2] == len(to_date) >= len(this_month)
    assert year.totals[5] == sum(k.decided_amount for k in to_date)
    _v, (none, none_year) = rep.run(eng, admin, reports["temporary_aid"], {"month": "2019-12"})
    assert none.rows == [] and none_year.rows == []

    _v, (ledger,) = rep.run(eng, admin, reports["monthly_ledger"], {"month": "2026-10"})
    lines = P.select().where(P.month == "2026-10")
    assert ledger.totals[3] == lines.count() and ledger.totals[5] == sum(p.amount for p in lines)
    assert sum(r[3] for r in ledger.rows) == lines.count()


def test_village_roster_lists_each_household_in_care_and_stays_in_scope(app):
    eng = engine_of(app)
    village1 = user(app, "village1")
    village = eng.models["area"].get_by_id(village1.__data__["area"])
    C = eng.models["care"]
    in_care = list(C.select().where(C.village == village.id, C.status == "in_care"))
    assert in_care
    report = load(app)["village_roster"]
    _values, (roster,) = rep.run(eng, village1, report, {"village": village.code})
    head = roster.headers.index
    assert len(roster.rows) == len(in_care)
    assert roster.totals[head("保障人口")] == sum(c.persons for c in in_care)
    assert roster.totals[head("月保障金（元）")] == sum(c.monthly_amount for c in in_care)
    assert sorted(r[head("户主姓名")] for r in roster.rows) == sorted(c.head_name for c in in_care)
    assert roster.problems == []
    other = eng.models["area"].select().where(eng.models["area"].level == "village",
                                              eng.models["area"].id != village.id).first()
    with pytest.raises(rep.ReportError, match="不是您管辖范围内的区划"):
        rep.run(eng, village1, report, {"village": other.code})
    with pytest.raises(rep.ReportError, match="村（社区）"):
        rep.run(eng, village1, report, {})


def test_processing_time_report(app):
    eng = engine_of(app)
    K = eng.models["case"]
    _v, (done, overdue) = rep.run(eng, user(app, "admin"), load(app)["processing_time"],
                                  {"date_from": "2020-01-01", "date_to": "2030-12-31"})
    decided = K.select().where(K.state.in_(["approved", "denied"]))
    assert done.totals[1] == decided.count() > 0
    late = decided.where(K.decided_late == True).count()  # noqa: E712
    assert done.totals[3] == late
    assert done.totals[4] == (Decimal(late) / decided.count()).quantize(Decimal("0.0001"))
    days = [k.processing_days for k in decided if k.processing_days is not None]
    assert abs(float(done.totals[2]) - sum(days) / len(days)) < 0.01
    assert overdue.totals[2] == eng.flow.overdue_everywhere().count() > 0


def test_dashboard_is_scoped_and_works_offline(app, browser_for):
    from casework.supervision import dashboard
    eng = engine_of(app)
    town = browser_for("town1")
    html = town.get("/admin/").get_data(as_text=True)
    assert 'id="dashboard"' in html and "/ui-static/vendor/chart.umd.js" in html
    assert "cdn" not in html.lower() and "https://" not in html
    assert town.get("/ui-static/vendor/chart.umd.js").status_code == 200
    mine = dashboard.summary(eng, user(app, "town1"))
    everyone = dashboard.summary(eng, user(app, "admin"))
    other = dashboard.summary(eng, user(app, "town2"))
    assert mine["households"] + other["households"] == everyone["households"] > mine["households"] > 0
    C = eng.models["care"]
    month = clock.today().strftime("%Y-%m")
    assert everyone["households"] == C.select().where(C.status == "in_care", C.start_month <= month).count()
    assert len(everyone["history"]) == 12 and everyone["history"][-1][0] == month


def test_report_runs_in_the_background_with_progress(app, browser_for):
    import re
    town = browser_for("town1")
    r = town.post("/admin/reports/start", {"report": "dibao_monthly", "month": "2026-10"})
    assert r.status_code == 302 and "/admin/reports/job/" in r.headers["Location"]
    job_url = r.headers["Location"]
    status = town.get(job_url + "/status").get_json()
    assert status == {"done": 5, "total": 5, "finished": True, "ok": True}
    html = town.get(job_url).get_data(as_text=True)
    assert "运河街道" in html and "报表期：报表月份 2026-10" in html and "涧头集镇" not in html
    r = town.get(job_url + "/report.xlsx")
    assert r.status_code == 200 and r.data[:2] == b"PK"
    assert browser_for("town2").get(job_url).status_code == 404          # another user's job
    r = town.post("/admin/reports/start", {"report": "dibao_monthly", "month": "十月"})
    assert "未能生成报表" in town.get(r.headers["Location"]).get_data(as_text=True)
    assert town.post("/admin/reports/start", {"report": "dibao_monthly", "month": "2026-10"},
                     csrf=False).status_code == 400
    assert re.search(r"/admin/reports/job/[0-9a-f]{16}$", job_url)
