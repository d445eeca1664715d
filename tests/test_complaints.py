"""Complaints and reports (信访举报): the county registers and assigns, the deadline is set from the
setting on the holiday calendar, the township writes only its reply, the county closes after a reply
and nothing changes after closure; the overdue list; row scope through the admin pages."""
import datetime as dt
import re
from contextlib import contextmanager

import pytest

from casework.supervision import complaints
from casework.core import system
from schema import RecordInvalid

from .conftest import Browser, engine_of
from .test_workflow import World

D = dt.date


@pytest.fixture
def world(engine):
    return World(engine)


@contextmanager
def acting(world, name):
    token = system.actor.set((world.users[name].id, name, None))
    try:
        yield
    finally:
        system.actor.reset(token)


def register(world, by="county", **kw):
    Complaint = world.engine.models["complaint"]
    values = dict(received_on=world.today, channel="letter", kind="report", complainant="张某",
                  content="反映某低保户家中有营运车辆。")
    values.update(kw)
    with acting(world, by):
        record = Complaint(**values)
        record.save()
    return Complaint.get_by_id(record.id)


def change(world, record, by, **values):
    with acting(world, by):
        fresh = type(record).get_by_id(record.id)
        for name, value in values.items():
            setattr(fresh, name, value)
        fresh.save()
    return type(record).get_by_id(record.id)


def assigned(world, town=0, on=D(2026, 9, 1), **kw):
    kw.setdefault("content", "反映某低保户家中有营运车辆，\n且子女在外务工收入未申报。")
    world.today = on
    return change(world, register(world, township=world.towns[town].id, **kw), "county", status="assigned")


def stored(world, record):
    """The row and the audit trail: a refused write must leave both as they were."""
    Complaint = world.engine.models["complaint"]
    return (Complaint.select().where(Complaint.id == record.id).dicts().get(),
            world.engine.system.AuditLog.select().count())


def test_intake_numbers_and_assignment_with_the_reply_deadline(world):
    world.today = D(2026, 8, 3)
    first = register(world, township=world.towns[0].id)
    second = register(world, kind="complaint", channel="hotline", anonymous=True, complainant=None)
    assert (first.number, second.number) == ("XF-20260803-001", "XF-20260803-002")
    assert (first.status, first.assigned_on, first.deadline) == ("registered", None, None)
    with pytest.raises(RecordInvalid, match="交办须选择承办乡镇"):
        change(world, second, "county", status="assigned")
    # 60 days after Monday 3 August is Friday 2 October, inside the National Day holiday (1–7 October):
    # the period ends on the first working day after it
    first = change(world, first, "county", status="assigned")
    assert (first.status, first.assigned_on, first.deadline) == ("assigned", D(2026, 8, 3), D(2026, 10, 8))
    # the number of days is the county's setting; a day the county declares off moves the end too
    world.engine.settings.set("complaint_reply_days", 30)
    world.today = D(2026, 8, 4)
    other = assigned(world, on=D(2026, 8, 4))
    assert other.deadline == D(2026, 9, 3)
    with acting(world, "admin"):
        world.engine.models["calendar_day"].create(county=world.towns[0].parent_id, day=D(2026, 9, 3), kind="holiday",
                                                  note="测试：本地放假")
    assert assigned(world, on=D(2026, 8, 4)).deadline == D(2026, 9, 4)
    # a year whose holidays nobody has entered: the plain date, never a later guess
    world.engine.settings.set("complaint_reply_days", 60)
    assert assigned(world, on=D(2026, 12, 15)).deadline == D(2027, 2, 13)

    with pytest.raises(RecordInvalid, match="乡镇不能新建"):
        register(world, by="town", township=world.towns[0].id)
    with pytest.raises(RecordInvalid, match="收到日期不能晚于今天"):
        register(world, received_on=world.today + dt.timedelta(days=1))
    with pytest.raises(RecordInvalid, match="匿名的信访举报不登记反映人"):
        register(world, anonymous=True, complainant="王某")


def test_the_township_writes_its_reply_and_nothing_else(world):
    Complaint = world.engine.models["complaint"]
    complaint = assigned(world)
    before = stored(world, complaint)
    for field, value in [("content", "改写了反映的问题"), ("deadline", D(2026, 12, 31)), ("status", "closed"),
                         ("township", world.towns[1].id), ("closing_note", "已答复")]:
        with pytest.raises(RecordInvalid, match="乡镇只能填写核查回复和核查结论") as refused:
            change(world, complaint, "town", **{field: value})
        assert Complaint._spec.field(field).label in str(refused.value)
    with pytest.raises(RecordInvalid, match="乡镇只能填写核查回复"):
        change(world, complaint, "town", reply="已核查", status="closed")
    assert stored(world, complaint) == before

    world.today = D(2026, 9, 20)
    # a browser posts the county's text back with CRLF line ends: that is not a change
    complaint = change(world, complaint, "leader", content=complaint.content.replace("\n", "\r\n") + " ",
                       phone="", anonymous=None, reply="经入户核查，该户车辆已于去年转让。", conclusion="unfounded")
    assert (complaint.status, complaint.replied_on, complaint.conclusion) == ("replied", D(2026, 9, 20), "unfounded")
    assert (complaint.content, complaint.phone, complaint.anonymous) == (before[0]["content"], None, False)
    with pytest.raises(RecordInvalid, match="不能清空"):
        change(world, complaint, "town", reply="")
    # a complaint not yet assigned cannot be answered
    waiting = register(world, township=world.towns[0].id)
    with pytest.raises(RecordInvalid, match="交办乡镇后才能填写核查回复"):
        change(world, waiting, "town", reply="已核查")


def test_only_the_county_closes_and_only_after_a_reply(world):
    complaint = assigned(world)
    with pytest.raises(RecordInvalid, match="乡镇回复后才能办结"):
        change(world, complaint, "county", status="closed")
    with pytest.raises(RecordInvalid, match="不能直接选择"):
        change(world, complaint, "county", status="replied")
    with pytest.raises(RecordInvalid, match="只能依次"):
        change(world, complaint, "county", status="registered")
    world.today = D(2026, 9, 10)
    complaint = change(world, complaint, "town", reply="经核查，反映的情况部分属实，已责令整改。")
    with pytest.raises(RecordInvalid, match="乡镇只能填写"):
        change(world, complaint, "town", status="closed", conclusion="partly")
    with pytest.raises(RecordInvalid, match="办结前须写明核查结论"):
        change(world, complaint, "county", status="closed")
    world.today = D(2026, 9, 15)
    complaint = change(world, complaint, "county", status="closed", conclusion="partly",
                       closing_note="已书面答复反映人。")
    assert (complaint.status, complaint.closed_on, complaint.replied_on) == ("closed", D(2026, 9, 15), D(2026, 9, 10))
    before = stored(world, complaint)
    for by, values in [("county", {"closing_note": "补充"}), ("admin", {"status": "assigned"}),
                       ("town", {"reply": "再补充"}), ("county", {})]:
        with pytest.raises(RecordInvalid, match="已办结，不能再修改"):
            change(world, complaint, by, **values)
    assert stored(world, complaint) == before


def test_overdue_lists_unanswered_complaints_past_their_deadline_within_scope(world):
    late = assigned(world, 0, on=D(2026, 7, 1))
    answered = assigned(world, 0, on=D(2026, 7, 1))
    elsewhere = assigned(world, 1, on=D(2026, 7, 1))
    register(world, township=world.towns[0].id)                  # not assigned: no deadline yet
    assert late.deadline == D(2026, 8, 31)                         # 30 August is a Sunday
    world.today = D(2026, 8, 20)
    change(world, answered, "town", reply="已核实处理。")
    models, users = world.engine.models, world.users

    def ids(user, today):
        return [c.id for c in complaints.overdue(models, users[user], today)]
    assert ids("town", D(2026, 8, 31)) == []                       # due today is not overdue
    assert ids("town", D(2026, 9, 1)) == [late.id]
    assert ids("other_town", D(2026, 9, 1)) == [elsewhere.id]
    assert ids("admin", D(2026, 9, 1)) == [late.id, elsewhere.id]
    assert ids("village", D(2026, 9, 1)) == []
    world.today = D(2026, 9, 2)
    change(world, late, "town", reply="逾期回复：已核实。")
    assert ids("town", D(2026, 9, 3)) == []


def test_a_case_or_household_fixes_the_township(world):
    Complaint = world.engine.models["complaint"]
    case = world.case("12", household=0)                           # in 镇0
    count = Complaint.select().count()
    # refused by the general rule (a reference stays within the township, casework/core/ref_areas.py)
    # or by the complaint's own: either names the township the case belongs to
    with pytest.raises(RecordInvalid, match="所选的属于镇0|在镇0，承办乡镇（街道）应为镇0"):
        register(world, township=world.towns[1].id, case=case.id)
    with pytest.raises(RecordInvalid, match="所选的属于镇0|所涉家庭 H0 在镇0"):
        register(world, township=world.towns[1].id, household=world.households[0].id)
    with pytest.raises(RecordInvalid, match="不是所选家庭的事项"):
        register(world, case=case.id, household=world.households[1].id)
    assert Complaint.select().count() == count
    complaint = register(world, case=case.id)                      # township left empty: taken from the case
    assert complaint.township_id == world.towns[0].id
    moved = change(world, complaint, "county", status="assigned")
    with pytest.raises(RecordInvalid, match="应为镇0"):
        change(world, moved, "county", township=world.towns[1].id)


def test_reassigning_to_another_township_restarts_the_period(world):
    complaint = assigned(world, 0, on=D(2026, 6, 1))
    world.today = D(2026, 7, 1)
    complaint = change(world, complaint, "county", township=world.towns[1].id)
    assert (complaint.assigned_on, complaint.deadline) == (D(2026, 7, 1), D(2026, 8, 31))
    complaint = change(world, complaint, "other_town", reply="已核查。")
    with pytest.raises(RecordInvalid, match="不能改交其他乡镇"):
        change(world, complaint, "county", township=world.towns[0].id)


# -- through the admin pages, on the demo county

def demo(app, town_code):
    """The demo's complaints assigned to a township, oldest first."""
    models = engine_of(app).models
    Complaint, Area = models["complaint"], models["area"]
    town = Area.get(Area.code == town_code)
    return list(Complaint.select().where(Complaint.township == town.id).order_by(Complaint.id))


def form_of(record, **changes):
    data = {"received_on": record.received_on.isoformat(), "channel": record.channel, "kind": record.kind,
            "complainant": record.complainant or "", "phone": record.phone or "", "content": record.content,
            "township": str(record.__data__["township"] or ""), "household": str(record.__data__["household"] or ""),
            "case": str(record.__data__["case"] or ""), "reply": record.reply or "",
            "conclusion": record.conclusion or "", "status": record.status, "closing_note": record.closing_note or ""}
    if record.anonymous:
        data["anonymous"] = "y"
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def flashed(response):
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


def test_demo_has_an_overdue_a_replied_and_a_closed_complaint(app):
    models = engine_of(app).models
    Complaint = models["complaint"]
    statuses = [c.status for c in Complaint.select()]
    assert {"assigned", "replied", "closed", "registered"} <= set(statuses)
    admin = models["user"].get(models["user"].username == "admin")
    assert len(list(complaints.overdue(models, admin))) == 1


def browser(app, username):
    b = Browser(app)
    assert b.login(username).status_code == 302
    return b


def test_a_township_sees_only_its_own_complaints(any_app):
    app = any_app
    mine, theirs = demo(app, "370405001")[0], demo(app, "370405101")[0]
    town1, town2, county = browser(app, "town1"), browser(app, "town2"), browser(app, "county")
    listing = town1.get("/admin/complaint/").get_data(as_text=True)
    assert mine.number in listing and theirs.number not in listing
    assert theirs.number in town2.get("/admin/complaint/").get_data(as_text=True)
    both = county.get("/admin/complaint/").get_data(as_text=True)
    assert mine.number in both and theirs.number in both
    for page in ("details", "edit", "history"):
        assert town1.get(f"/admin/complaint/{page}/?id={theirs.id}").status_code == 404, page
        assert town1.get(f"/admin/complaint/{page}/?id={mine.id}").status_code == 200, page
    for record, shown in [(theirs, False), (mine, True)]:
        found = town1.get(f"/admin/complaint/?search={record.number}").get_data(as_text=True)
        assert (f"id={record.id}&" in found or f'id={record.id}"' in found) == shown, record.number
    assert town1.get("/admin/complaint/new/").status_code == 403
    assert browser(app, "village1").get("/admin/complaint/").status_code == 403


def test_the_township_replies_through_the_edit_form(app, browser_for):
    Complaint = engine_of(app).models["complaint"]
    open_ = [c for c in demo(app, "370405001") if c.status == "assigned"][0]
    town1 = browser_for("town1")
    before = Complaint.select().where(Complaint.id == open_.id).dicts().get()
    # the county's part is shown as text (no input to type into), the township's part as inputs
    page = town1.get(f"/admin/complaint/edit/?id={open_.id}").get_data(as_text=True)
    assert 'name="content"' not in page and 'name="status"' not in page and 'name="reply"' in page
    assert open_.content.splitlines()[0] in page and "乡镇只能填写核查回复和核查结论" in page
    assert 'name="content"' in browser_for("county").get(f"/admin/complaint/edit/?id={open_.id}").get_data(as_text=True)
    r = town1.post(f"/admin/complaint/edit/?id={open_.id}", form_of(open_, content="乡镇改写的内容"))
    assert r.status_code == 200 and "乡镇只能填写核查回复和核查结论" in flashed(r)
    assert Complaint.select().where(Complaint.id == open_.id).dicts().get() == before
    r = town1.post(f"/admin/complaint/edit/?id={open_.id}",
                   form_of(open_, reply="已入户了解，老人符合特困供养条件，已指导申请。", conclusion="founded"))
    assert r.status_code == 302, flashed(r)[-1500:]
    saved = Complaint.get_by_id(open_.id)
    assert (saved.status, saved.replied_on) == ("replied", dt.date.today())
    page = town1.get(f"/admin/complaint/details/?id={open_.id}").get_data(as_text=True)
    assert "已回复" in page and "属实" in page


def test_the_county_registers_through_the_form_and_bad_input_writes_nothing(app, browser_for):
    models = engine_of(app).models
    Complaint, Area = models["complaint"], models["area"]
    county = browser_for("county")
    town = Area.get(Area.code == "370405001")
    count = Complaint.select().count()
    good = {"received_on": dt.date.today().isoformat(), "channel": "hotline", "kind": "complaint",
            "complainant": "周某", "phone": "13812345678", "content": "反映低保金到账晚。",
            "township": str(town.id), "status": "assigned"}
    for missing, message in [({"content": ""}, "此项为必填项"), ({"content": "   "}, "请填写反映的问题"),
                             ({"complainant": ""}, "不愿留名的请勾选“匿名”"), ({"phone": "12345"}, "不是有效的电话号码")]:
        r = county.post("/admin/complaint/new/", {**good, **missing})
        assert r.status_code == 200 and message in flashed(r), missing
        assert Complaint.select().count() == count
    r = county.post("/admin/complaint/new/", good)
    assert r.status_code == 302, flashed(r)[-1500:]
    made = Complaint.select().order_by(Complaint.id.desc()).first()
    assert made.number.startswith("XF-" + dt.date.today().strftime("%Y%m%d") + "-")
    assert (made.status, made.assigned_on) == ("assigned", dt.date.today()) and made.deadline > dt.date.today()
    page = county.get(f"/admin/complaint/details/?id={made.id}").get_data(as_text=True)
    assert made.number in page and "已交办" in page and made.deadline.isoformat() in page
