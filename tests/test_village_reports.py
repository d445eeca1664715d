"""Village monthly reports: one per village and month, zero reports refused where the roster changed,
late ones marked, the missing list per scope, and the screen."""
import datetime as dt

import pytest

from casework.supervision import village_reports
from schema import RecordInvalid

from .test_spotcheck import approve
from .test_workflow import World

THIS_MONTH = dt.date.today().strftime("%Y-%m")


@pytest.fixture
def world(engine):
    made = World(engine)
    made.today = dt.date.today()     # the reports are about the calendar month, not the workflow tests' fixed day
    return made


def test_one_report_per_village_and_month_zero_only_without_changes(world):
    engine, village = world.engine, world.users["village"]
    Report = engine.models["village_report"]
    report = village_reports.submit(engine, village, world.villages[0].id, "2026-08", "zero", "12")
    assert (report.kind, report.visited, report.reported_by, report.late) == ("zero", 12, "village姓名", True)
    with pytest.raises(RecordInvalid, match="已经报送"):
        village_reports.submit(engine, village, world.villages[0].id, "2026-08", "changes", content="新增一人")
    # a month not yet ended cannot be reported as having had no change
    with pytest.raises(RecordInvalid, match=f"{THIS_MONTH} 还没有结束，零报告在月末之后报送"):
        village_reports.submit(engine, village, world.villages[0].id, THIS_MONTH, "zero", "12")
    on_time = village_reports.submit(engine, village, world.villages[0].id, THIS_MONTH, "changes", "12",
                                     content="一户外出务工")
    assert on_time.late is False
    # applied in September, approved in October: on the roster from November
    approve(world, 0)
    world.today = dt.date.today()        # approval was on its own day; the reports are sent today
    with pytest.raises(RecordInvalid, match="1 件新申请，不能报零报告"):
        village_reports.submit(engine, village, world.villages[0].id, "2026-09", "zero")
    with pytest.raises(RecordInvalid, match="须写明变化情况"):
        village_reports.submit(engine, village, world.villages[0].id, "2026-10", "changes", content="  ")
    with pytest.raises(RecordInvalid, match="1 条花名册变更"):
        village_reports.submit(engine, village, world.villages[0].id, "2026-11", "zero")
    late = village_reports.submit(engine, village, world.villages[0].id, "2026-10", "changes",
                                  content="户主S0 经审批纳入低保")
    assert late.late is True                           # October's report was due on 5 November
    assert Report.select().count() == 3


def test_bad_input_and_scope_write_nothing(world):
    engine, village = world.engine, world.users["village"]
    Report = engine.models["village_report"]
    with pytest.raises(RecordInvalid, match="不在您的管辖区划内"):
        village_reports.submit(engine, village, world.villages[1].id, THIS_MONTH, "zero")
    with pytest.raises(RecordInvalid, match="报告月份应写作"):
        village_reports.submit(engine, village, world.villages[0].id, "2026/10", "zero")
    with pytest.raises(RecordInvalid, match="走访户数应为整数"):
        village_reports.submit(engine, village, world.villages[0].id, THIS_MONTH, "zero", "十二")
    with pytest.raises(RecordInvalid, match="还没到的月份"):
        village_reports.submit(engine, village, world.villages[0].id, "2099-01", "zero")
    with pytest.raises(RecordInvalid, match="不能报送村级月报"):
        village_reports.submit(engine, world.users["leader"], world.villages[0].id, THIS_MONTH, "zero")
    assert Report.select().count() == 0


def test_missing_list_per_scope(world):
    engine = world.engine
    village_reports.submit(engine, world.users["village"], world.villages[0].id, THIS_MONTH, "changes",
                           content="新增一户申请")
    town = village_reports.status(engine, world.users["town"], THIS_MONTH)
    assert [(v.name, r is not None) for v, r in town] == [("村0", True)]
    county = village_reports.status(engine, world.users["admin"], THIS_MONTH)
    assert [(v.name, r is not None) for v, r in county] == [("村1", False), ("村0", True)]     # missing first
    assert [v.name for v, _ in village_reports.status(engine, world.users["other_town"], THIS_MONTH)] == ["村1"]


def test_village_report_screen(app, browser_for):
    from .conftest import engine_of
    engine = engine_of(app)
    Report, Area = engine.models["village_report"], engine.models["area"]
    county = browser_for("county")
    page = county.get("/admin/village_reports/").get_data(as_text=True)
    assert "未报 1 个村（社区）" in page and "零报告" in page       # the demo: one village has not reported
    village_user = engine.models["user"].get(username="village1")
    mine = Area.get_by_id(village_user.__data__["area"])
    b = browser_for("village1")
    page = b.get(f"/admin/village_reports/?month={THIS_MONTH}").get_data(as_text=True)
    assert mine.name in page and "报送" in page and page.count("<tr>") == 2      # own village only
    assert b.post("/admin/village_reports/submit", {"village": mine.id, "month": THIS_MONTH, "kind": "zero"},
                  csrf=False).status_code == 400
    r = b.post("/admin/village_reports/submit", {"village": mine.id, "month": THIS_MONTH, "kind": "changes",
                                                "visited": "9", "content": ""})
    assert "须写明变化情况" in b.get(r.headers["Location"]).get_data(as_text=True)
    r = b.post("/admin/village_reports/submit", {"village": mine.id, "month": THIS_MONTH, "kind": "changes",
                                                "visited": "9", "content": "一户外出务工"})
    assert "已报送" in b.get(r.headers["Location"]).get_data(as_text=True)
    report = Report.get(Report.village == mine.id, Report.month == THIS_MONTH)
    assert (report.kind, report.visited, report.content) == ("changes", 9, "一户外出务工")
