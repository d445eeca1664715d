"""Monthly spot checks: 30 % of each township's new approvals (rounded up, at least one), every
near-relative case, reproducible from the stored seed, kept unless the county administrator forces a
new draw (both kept), the checklist's conclusion, and row scope."""
import datetime as dt
import math
from decimal import Decimal

import pytest

from casework.core import scope, system
from casework.supervision import spotcheck
from schema import clock

from .test_workflow import World

D = dt.date


@pytest.fixture
def world(engine):
    return World(engine)


def approve(world, town=0, near=False, on=D(2026, 10, 20)):
    """A new household in the town's village, its 低保 case taken to approval on `on`."""
    from schema import idnumber
    H = world.engine.models["household"]
    token = system.actor.set((None, "测试", None))
    n = H.select().count()
    h = H.create(code=f"S{n:04d}", village=world.villages[town], head_name=f"户主S{n}",
                 head_id_number=idnumber.make("370405", D(1950, 1, 1 + n % 28), 100 + n), hukou_type="2")
    system.actor.reset(token)
    world.households.append(h)
    household = len(world.households) - 1
    extra = {"near_relative": True, "near_relative_of": "村主任之子"} if near else {}
    staff, visitor = ("town", "village") if town == 0 else ("admin", "admin")
    case = world.do(world.case("12", household=household, apply_date=D(2026, 9, 25), **extra), "start_investigation",
                    staff, on=D(2026, 10, 8))
    case = world.do(case, "record_home_visit", visitor, home_visit_date="2026-10-08", investigator_1="张明",
                    investigator_2="李红", home_visit_record="入户")
    case = world.do(case, "finish_investigation", staff, on=D(2026, 10, 9), verification_record="无异常",
                    verification_result="符合条件")
    if near:
        case = world.do(case, "county_visit", "county", county_visit_date="2026-10-12", county_visit_record="属实")
    case = world.do(case, "propose", "town" if town == 0 else "admin", on=D(2026, 10, 12), proposed_amount="300")
    return world.do(case, "approve", "leader" if town == 0 else "admin", on=on, decided_amount="300")


def test_share_per_township_near_relatives_and_reproducibility(world):
    made = [approve(world, 0) for _ in range(6)] + [approve(world, 0, near=True)]
    approve(world, 1)
    approve(world, 0, on=D(2026, 11, 2))                      # another month: not in October's population
    drawn = {d.township: d for d in spotcheck.draw(world.engine, world.users["admin"], "2026-10", seed=42)}
    first, second = drawn["镇0"], drawn["镇1"]
    # 30% of 7 rounded up = 3 drawn from the 6 ordinary cases, and the near relative's on top: 4
    assert first.population == 7 and len(first.sample) == math.ceil(7 * 0.3) + 1 == 4
    near = [c.case_no for c in made if c.near_relative]
    assert set(near) <= set(first.sample)
    Item, Check = world.engine.models["spot_check_case"], world.engine.models["spot_check"]
    reasons = sorted(r.reason for r in Item.select().join(Check, on=(Item.spot_check == Check.id))
                     .where(Check.township == world.towns[0].id))
    assert reasons == ["near_relative", "random", "random", "random"]
    assert second.population == 1 and len(second.sample) == 1            # never fewer than one
    # the same seed draws the same cases
    again, _ = spotcheck.sample(spotcheck.population(world.engine.models, world.towns[0], "2026-10"), 30, 42)
    assert sorted(c.case_no for c in again) == sorted(first.sample)
    # drawing again changes nothing; a forced redraw keeps both
    assert [d.sample for d in spotcheck.draw(world.engine, world.users["admin"], "2026-10")][0] == first.sample
    with pytest.raises(spotcheck.DrawRefused, match="县级管理员"):
        spotcheck.draw(world.engine, world.users["county"], "2026-10", force=True)
    with pytest.raises(spotcheck.DrawRefused, match="县级"):
        spotcheck.draw(world.engine, world.users["town"], "2026-10")
    spotcheck.draw(world.engine, world.users["admin"], "2026-10", seed=43, force=True)
    Check = world.engine.models["spot_check"]
    rows = list(Check.select().where(Check.township == world.towns[0].id).order_by(Check.id))
    assert [(r.seed, r.superseded) for r in rows] == [(42, True), (43, False)]


def test_share_setting_and_bad_month(world):
    for _ in range(4):
        approve(world, 0)
    world.engine.settings.set("spotcheck_percent", 50)
    (first, _second) = spotcheck.draw(world.engine, world.users["admin"], "2026-10", seed=1)
    assert len(first.sample) == 2
    with pytest.raises(spotcheck.DrawRefused, match="2026-05"):
        spotcheck.draw(world.engine, world.users["admin"], "2026-13")


def test_checklist_conclusion_and_scope(world):
    approve(world, 0)
    approve(world, 1)
    spotcheck.draw(world.engine, world.users["admin"], "2026-10", seed=5)
    Item = world.engine.models["spot_check_case"]
    item = Item.select().where(Item.village == world.villages[0].id).get()
    assert item.result is None
    token = system.actor.set((world.users["county"].id, "county", None))
    items = [f.name for f in Item._spec.fields if f.options == "check_result" and f.name != "result"]
    assert len(items) >= 10
    for name in items:
        setattr(item, name, "pass")
    item.save()
    assert Item.get_by_id(item.id).result == "pass"
    item.amount, item.remark = "fail", "救助金额与测算不符"
    item.save()
    system.actor.reset(token)
    assert Item.get_by_id(item.id).result == "fail"
    mine = scope.scoped(world.engine.models, "spot_check_case", world.users["town"])
    assert [i.id for i in mine] == [item.id]
    assert list(scope.scoped(world.engine.models, "spot_check_case", world.users["other_town"])
                .where(Item.id == item.id)) == []


def test_command_line_draw(app):
    from .conftest import engine_of
    Case = engine_of(app).models["case"]
    month = Case.select().where(Case.state == "approved").order_by(Case.decision_date.desc()).first() \
        .decision_date.strftime("%Y-%m")
    runner = app.test_cli_runner()
    r = runner.invoke(args=["spotcheck", "draw", "--month", month, "--seed", "9"])
    assert r.exit_code == 0 and "新抽取" in r.output and "种子 9" in r.output, r.output
    assert "运河街道" in r.output and "涧头集镇" in r.output
    again = runner.invoke(args=["spotcheck", "draw", "--month", month])
    assert "已抽取过，未改变" in again.output
    assert [line.split("\t")[-1] for line in r.output.splitlines()] == \
        [line.split("\t")[-1] for line in again.output.splitlines()]
    refused = runner.invoke(args=["spotcheck", "draw", "--month", month, "--force", "--user", "county"])
    assert refused.exit_code != 0 and "县级管理员" in refused.output


def test_spot_check_screen(app, browser_for):
    from .conftest import engine_of
    Case = engine_of(app).models["case"]
    month = Case.select().where(Case.state == "approved").order_by(Case.decision_date.desc()).first() \
        .decision_date.strftime("%Y-%m")
    admin = browser_for("admin")
    r = admin.post("/admin/spotcheck/draw", {"month": month, "seed": "11"})
    html = admin.get(r.headers["Location"]).get_data(as_text=True)
    assert "种子 11" in html and "运河街道" in html and 'id="draws"' in html
    county = browser_for("county")
    r = county.post("/admin/spotcheck/draw", {"month": month, "force": "1"})
    assert "须由县级管理员" in county.get(r.headers["Location"]).get_data(as_text=True)
    assert browser_for("town1").get("/admin/spotcheck/").status_code == 403
    Item = engine_of(app).models["spot_check_case"]
    item = Item.select().first()
    assert county.get(f"/admin/spot_check_case/edit/?id={item.id}").status_code == 200   # the county fills it in
    assert browser_for("town1").get(f"/admin/spot_check_case/edit/?id={item.id}").status_code in (403, 404)


def test_failed_check_becomes_a_finding_the_township_answers(world):
    from casework.supervision import findings
    from reports import engine as rep
    from schema import RecordInvalid
    approve(world, 0)
    spotcheck.draw(world.engine, world.users["admin"], "2026-10", seed=5)
    Item, Finding = world.engine.models["spot_check_case"], world.engine.models["finding"]
    item = Item.select().where(Item.village == world.villages[0].id).get()

    def as_user(name):
        return system.actor.set((world.users[name].id, name, None))
    token = as_user("county")
    item.amount, item.materials, item.remark = "fail", "fail", "缺入户调查表"
    item.save()
    finding = Finding.get(Finding.check_case == item.id)
    assert (finding.level, finding.status, finding.month) == ("reminder", "open", "2026-10")
    assert "救助金额＝标准－人均收入" in finding.problem and "档案材料齐全" in finding.problem
    item.remark = "再看"
    item.save()
    assert Finding.select().where(Finding.check_case == item.id).count() == 1        # one finding per check
    finding.level = "rectification"
    with pytest.raises(RecordInvalid, match="整改时限"):
        finding.save()
    finding.deadline = clock.today() - dt.timedelta(days=1)
    with pytest.raises(RecordInvalid, match="已经过去，请填写今天或以后的日期"):
        finding.save()
    deadline = clock.today() + dt.timedelta(days=10)
    finding.deadline = deadline
    finding.save()
    finding.status = "accepted"
    with pytest.raises(RecordInvalid, match="回复整改情况后才能验收"):
        finding.save()
    system.actor.reset(token)

    finding = Finding.get_by_id(finding.id)
    token = as_user("town")
    finding.deadline = deadline + dt.timedelta(days=30)
    with pytest.raises(RecordInvalid, match="乡镇只能填写整改回复"):
        finding.save()
    finding = Finding.get_by_id(finding.id)
    finding.reply = "已补齐入户调查表，金额已按测算调整"
    finding.save()
    system.actor.reset(token)
    finding = Finding.get_by_id(finding.id)
    assert finding.status == "replied" and finding.replied_on is not None
    after = deadline + dt.timedelta(days=1)
    assert [f.id for f in findings.overdue(world.engine.models, world.users["town"], after)] == [finding.id]
    assert list(findings.overdue(world.engine.models, world.users["other_town"], after)) == []

    token = as_user("county")
    finding.status = "accepted"
    finding.save()
    system.actor.reset(token)
    assert list(findings.overdue(world.engine.models, world.users["town"], after)) == []
    reports, _ = rep.load(world.engine.registry)
    _v, (scores,) = rep.run(world.engine, world.users["admin"], reports["township_scores"], {"month": "2026-10"})
    # every township is listed: one without findings has the full score
    assert scores.rows == [["镇0", 1, 0, 1, 0, 0, Decimal("97.0000")], ["镇1", 0, 0, 0, 0, 0, Decimal("100.0000")]]
    assert scores.totals == ["合计", 1, 0, 1, 0, 0, None]          # scores are not summed

