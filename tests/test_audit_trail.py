"""Audit gaps found by the attack (issue 16, item 9), on SQLite and PostgreSQL: a change to a system
setting is audited with its old and new value; village reports refuse a kind that is not in the
option list; the audit rows of review openings, village reports and imports name the address."""
import json

from casework.core import system
from casework.supervision import village_reports
from schema import RecordInvalid

import pytest

from .test_imports import household, member, pid, template_headers, upload, workbook
from .test_payments import approved
from .test_rule_fields import browser, web  # noqa: F401

IP = "127.0.0.1"          # the test client's address


def audit(world, entity, **where):
    A = world.engine.system.AuditLog
    q = A.select().where(A.entity == entity)
    for k, v in where.items():
        q = q.where(getattr(A, k) == v)
    return list(q.order_by(A.id))


def test_a_settings_change_is_audited(web):
    world, application = web
    admin = browser(application, "admin")
    page = admin.get("/admin/settings/").get_data(as_text=True)
    assert "temp_aid_township_limit" in page
    form = {key: str(world.engine.settings.get(key) if world.engine.settings.get(key) is not None else "")
            for key in world.engine.registry.settings}
    form["temp_aid_township_limit"] = "999999"
    assert admin.post("/admin/settings/", form).status_code == 302
    rows = audit(world, system.SETTING_ENTITY)
    assert [(r.username, r.ip, json.loads(r.changes)) for r in rows] == [
        ("admin", IP, {"temp_aid_township_limit": ["3000.00", "999999.00"]})]
    shown = admin.get("/admin/audit/").get_data(as_text=True)
    assert "系统设置" in shown and "乡镇可直接审批的临时救助金额上限（元）" in shown and "999999" in shown
    # saving again without a change writes no row; switching the profile writes one per changed setting
    admin.post("/admin/settings/", form)
    assert len(audit(world, system.SETTING_ENTITY)) == 1
    admin.post("/admin/settings/profile/", {"profile": "national"})
    assert len(audit(world, system.SETTING_ENTITY)) > 1


def test_a_village_report_kind_must_be_in_the_list(web):
    world, application = web
    Report = world.engine.models["village_report"]
    with pytest.raises(RecordInvalid, match="月报类别应为有变化、零报告（本月无变化）之一，收到“bogus”"):
        village_reports.submit(world.engine, world.users["village"], world.villages[0].id, "2026-08", "bogus")
    village = browser(application, "village")
    r = village.post("/admin/village_reports/submit", {"village": str(world.villages[0].id), "month": "2026-08",
                                                       "kind": "<b>x</b>", "visited": "3"})
    assert "月报类别应为" in village.get(r.headers["Location"]).get_data(as_text=True)
    assert not Report.select().exists()
    r = village.post("/admin/village_reports/submit", {"village": str(world.villages[0].id), "month": "2026-08",
                                                       "kind": "zero", "visited": "3"})
    assert Report.select().count() == 1
    assert [(a.username, a.ip) for a in audit(world, "village_report", action="create")] == [("village", IP)]


def test_a_review_opening_names_the_address(web):
    world, application = web
    approved(world, 0)
    care = world.engine.models["care"].get()
    town = browser(application, "town")
    r = town.post("/admin/reviews/open", {"care": str(care.id)})
    assert "/admin/case/details/" in r.headers["Location"]
    Case = world.engine.models["case"]
    opened = Case.get(Case.purpose == "review")
    assert [(a.username, a.ip) for a in audit(world, "case", record_id=opened.id, action="create")] == [("town", IP)]
    leader = browser(application, "leader")
    r = leader.post("/admin/reviews/open", {"care": str(care.id)})
    assert "您的角色不能发起定期复核" in leader.get(r.headers["Location"]).get_data(as_text=True)


def test_imported_rows_name_the_address(web):
    world, application = web
    village = browser(application, "village")
    data = workbook(template_headers(village), [household("IMP-9001", pid(1960, 11), village="村0")],
                    [member("IMP-9001", pid(1960, 11))])
    job, state = upload(village, data)
    assert state["ok"], state
    village.post(f"/admin/imports/job/{job}/commit")
    rows = audit(world, "household", action="create")
    assert rows and {(a.username, a.ip) for a in rows if a.batch} == {("village", IP)}
