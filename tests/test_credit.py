"""Dishonesty records (失信记录): listing stops the aid through the roster from next month (this month
is still paid), repayments are tracked to 已追回 and never exceed what is due, a write-off is the
county's, a new application by a listed person (as applicant or household member) is flagged and
not refused, bad input is refused in Chinese with nothing written, and row scope over HTTP."""
import datetime as dt
import re
from contextlib import contextmanager
from decimal import Decimal

import pytest

from schema import idnumber
from casework.core import system
from schema import RecordInvalid

from .conftest import Browser, engine_of
from .test_payments import approved, lines, run, with_card
from .test_workflow import World

D = dt.date


@pytest.fixture
def world(engine):
    return World(engine)


@contextmanager
def acting(world, username):
    user = world.users[username] if username else None
    token = system.actor.set((user.id if user else None, username or "测试", None))
    try:
        yield
    finally:
        system.actor.reset(token)


def listing(world, household=0, user="town", **kw):
    h = world.households[household]
    values = dict(household=h.id, name=h.head_name, id_number=h.head_id_number, found_on=world.today,
                  facts="隐瞒子女务工收入", amount_due="1240")
    values.update(kw)
    Record = world.engine.models["dishonesty"]
    with acting(world, user):
        record = Record(**values)
        record.save()
    return Record.get_by_id(record.id)


def repay(world, record, amount, receipt, on=None, user="town"):
    Repayment = world.engine.models["recovery"]
    with acting(world, user):
        row = Repayment(dishonesty=record.id, paid_on=on or world.today, amount=amount, receipt_no=receipt)
        row.save()
    return row


def reload(world, record):
    return world.engine.models["dishonesty"].get_by_id(record.id)


def member(world, household, name, id_number):
    with acting(world, None):
        return world.engine.models["member"].create(household=world.households[household].id, name=name,
                                                    id_number=id_number, relation="20", ethnicity="01")


def household(world, village=0):
    H = world.engine.models["household"]
    n = len(world.households)
    with acting(world, None):
        h = H.create(code=f"C{n}", village=world.villages[village], head_name=f"户主C{n}",
                     head_id_number=idnumber.make("370405", D(1960, 3, 1 + n), 200 + n), hukou_type="2")
    world.households.append(h)
    return len(world.households) - 1


def audit_count(world):
    return world.engine.system.AuditLog.select().count()


def test_listing_stops_the_aid_from_next_month(world):
    with_card(world)
    case = approved(world)                                     # in care from 2026-11
    Care, Change = world.engine.models["care"], world.engine.models["care_change"]
    care = Care.get(Care.case == case.id)
    world.today = D(2026, 11, 10)
    record = listing(world, case=case.id, facts="隐瞒儿子在外务工收入每月3000元")
    assert record.record_no == "370405001-SX2026-0001"
    assert (record.status, record.recovered, record.outstanding) == ("recovering", Decimal("0.00"), Decimal("1240.00"))
    assert record.aid_stopped == "农村最低生活保障自 2026-12 起停发"
    cancel = Change.get(Change.care == care.id, Change.kind == "cancel")
    assert cancel.effective_month == "2026-12" and record.record_no in cancel.reason and "骗取" in cancel.reason
    assert cancel.__data__["case"] == case.id
    care = Care.get_by_id(care.id)
    assert (care.status, care.end_month) == ("ended", "2026-11")
    # this month is still paid, next month has no line for it
    assert run(world, "2026-11").created == 1
    assert [str(p.amount) for p in lines(world, "2026-11")] == ["620.00"]
    assert run(world, "2026-12").created == 0 and lines(world, "2026-12") == []
    # a household not in care: nothing to stop, and said so
    other = listing(world, household=1, user="other_town", amount_due="0")
    assert other.aid_stopped == "登记时该户没有在保记录，无须停发" and other.status == "none"
    assert other.record_no == "370405101-SX2026-0001"


def test_listing_skips_a_closed_month(world):
    with_card(world)
    case = approved(world)
    world.today = D(2026, 11, 10)
    from casework.funds import payments
    for month in ("2026-11", "2026-12"):
        run(world, month)
        Payment = world.engine.models["payment"]
        Payment.update(status="paid", paid_on=D(2026, 11, 10)).where(Payment.month == month).execute()
        payments.close(world.engine, world.users["town"], world.towns[0].id, month)
    listing(world, case=case.id)
    Change = world.engine.models["care_change"]
    assert Change.get(Change.kind == "cancel").effective_month == "2027-01"


def test_repayments_are_tracked_until_recovered(world):
    record = listing(world, amount_due="1000")
    first = repay(world, record, "300", "票据001", on=D(2026, 9, 20))
    record = reload(world, record)
    assert (record.recovered, record.outstanding, record.status) == (Decimal("300.00"), Decimal("700.00"), "recovering")
    last = repay(world, record, "700", "票据002")
    record = reload(world, record)
    assert (record.recovered, record.outstanding, record.status) == (Decimal("1000.00"), Decimal("0.00"), "recovered")
    # each change of the totals is in the record's history
    Log = world.engine.system.AuditLog
    updates = Log.select().where(Log.entity == "dishonesty", Log.record_id == record.id, Log.action == "update")
    assert updates.count() == 2
    # a repayment is never edited; a wrong one is voided (archived) and the totals follow
    last.amount = Decimal("600")
    with pytest.raises(RecordInvalid, match="不能修改"):
        with acting(world, "town"):
            last.save()
    with acting(world, "town"):
        world.engine.models["recovery"].get_by_id(last.id).delete_instance()
    record = reload(world, record)
    assert (record.recovered, record.status) == (Decimal("300.00"), "recovering")
    assert world.engine.models["recovery"].get_by_id(first.id).archived is False
    with pytest.raises(RecordInvalid, match="已登记过"):
        repay(world, record, "100", "票据001")
    # the amount to recover may be corrected, never below what has come back
    with pytest.raises(RecordInvalid, match="不能少于已追回的 300.00 元"):
        with acting(world, "town"):
            record.amount_due = Decimal("200")
            record.save()
    record = reload(world, record)
    record.amount_due = Decimal("300")
    with acting(world, "town"):
        record.save()
    assert reload(world, record).status == "recovered"


def test_over_repayment_is_refused_and_nothing_written(world):
    record = listing(world, amount_due="500")
    first = repay(world, record, "200", "R1")
    Repayment = world.engine.models["recovery"]
    before = (Repayment.select().count(), audit_count(world))
    with pytest.raises(RecordInvalid) as e:
        repay(world, record, "400", "R2")
    assert e.value.errors["amount"] == \
        "缴回金额 400.00 元超过尚未追回的 300.00 元（应追回 500.00 元，已追回 200.00 元），未登记"
    assert (Repayment.select().count(), audit_count(world)) == before
    assert reload(world, record).recovered == Decimal("200.00")
    # restoring a voided repayment is checked the same way
    with acting(world, "town"):
        Repayment.get_by_id(first.id).delete_instance()
    repay(world, record, "500", "R3")
    before = (Repayment.select().where(Repayment.archived == False).count(), audit_count(world))  # noqa: E712
    with pytest.raises(RecordInvalid, match="超过尚未追回的 0.00 元"):
        with acting(world, "admin"):
            Repayment.get_by_id(first.id).restore()
    assert (Repayment.select().where(Repayment.archived == False).count(), audit_count(world)) == before  # noqa: E712
    assert Repayment.get_by_id(first.id).archived is True
    assert (reload(world, record).recovered, reload(world, record).status) == (Decimal("500.00"), "recovered")


def test_write_off_is_the_countys(world):
    record = listing(world, amount_due="800")
    repay(world, record, "100", "R1")
    record = reload(world, record)
    record.written_off = True
    with pytest.raises(RecordInvalid, match="由县级确定"):
        with acting(world, "town"):
            record.save()
    with pytest.raises(RecordInvalid, match="核销说明"):
        with acting(world, "county"):
            record.save()
    record.write_off_note = "本人已死亡，无遗产可供追缴，经县民政局局务会研究核销"
    with acting(world, "county"):
        record.save()
    assert (reload(world, record).status, reload(world, record).outstanding) == ("written_off", Decimal("700.00"))


def test_a_new_application_by_a_listed_person_is_flagged_not_refused(world):
    # as the applicant
    listing(world, household=0, facts="虚报家庭人口")
    case = world.case("12", household=0)
    assert case.state == "accepted"
    assert case.credit_flag.startswith("申请人户主0有失信记录 370405001-SX2026-0001（镇0 2026-09-25 认定，追缴中）")
    assert case.credit_flag.endswith("可以受理，请从严核查")
    # with the 15-digit form of the same number
    old_number = world.households[0].head_id_number[:6] + world.households[0].head_id_number[8:17]
    assert "申请人户主0" in world.case("12", household=0, applicant_id_number=old_number).credit_flag
    # as a member of the applying household, listed in another township; a case already open is flagged too
    open_case = world.case("12", household=1)
    assert open_case.credit_flag is None
    number = idnumber.make("110105", D(2000, 1, 1), 1)
    member(world, 1, "成员甲", number)
    listing(world, household=1, user="other_town", name="成员甲", id_number=number,
            listed_until=D(2029, 9, 24))
    open_case = world.engine.models["case"].get_by_id(open_case.id)
    assert open_case.credit_flag.startswith("受理后家庭成员成员甲有失信记录 370405101-SX2026-0001") and \
        open_case.state == "accepted"
    flagged = world.case("12", household=1)
    assert flagged.credit_flag.startswith("家庭成员成员甲有失信记录 370405101-SX2026-0001（镇1 2026-09-25 认定，"
                                          "追缴中，在册至 2029-09-24）")
    # not listed, or no longer listed: no flag
    clean = household(world)
    assert world.case("12", household=clean).credit_flag is None
    expired = household(world)
    world.today = D(2024, 1, 10)
    listing(world, household=expired, found_on=D(2024, 1, 10), listed_until=D(2025, 1, 9))
    world.today = D(2026, 9, 25)
    assert world.case("12", household=expired).credit_flag is None
    # nobody writes the flag by hand
    case.credit_flag = None
    with acting(world, "town"):
        case.save()
    assert world.engine.models["case"].get_by_id(case.id).credit_flag.startswith("申请人户主0")


def test_bad_input_is_refused_in_chinese_with_nothing_written(world):
    with_card(world)
    approved(world)
    Record, Change = world.engine.models["dishonesty"], world.engine.models["care_change"]
    h = world.households[0]
    other_case = world.case("12", household=1).id
    cases = [
        (dict(id_number="110105194912310038"), "id_number", "不是所选家庭（户主0户）的户主或家庭成员"),
        (dict(id_number="11010519491231002Y"), "id_number", "18位"),
        (dict(id_number="110105194912310021"), "id_number", "校验位"),
        (dict(name="别人"), "name", "该身份证号登记的姓名是“户主0”"),
        (dict(found_on=world.today + dt.timedelta(days=1)), "found_on", "认定日期不能晚于今天"),
        (dict(listed_until=D(2026, 9, 1)), "listed_until", "列入期限应晚于认定日期"),
        (dict(facts="  "), "facts", "请写明失信事实"),
        (dict(amount_due=None), "amount_due", "无须追回的填0"),
        (dict(case=other_case), "case", "不在您的管辖范围内"),     # another township's case
    ]
    before = (Record.select().count(), Change.select().count(), audit_count(world))
    for values, field, message in cases:
        with pytest.raises(RecordInvalid) as e:
            listing(world, **values)
        assert message in e.value.errors[field], (values, e.value.errors)
    # the county sees both townships: its refusal of another household's case is the record's own rule
    with pytest.raises(RecordInvalid) as e:
        listing(world, user="county", case=other_case)
    assert "不是该家庭的" in e.value.errors["case"] or "只能选本乡镇" in e.value.errors["case"], e.value.errors
    assert (Record.select().count(), Change.select().count(), audit_count(world)) == before
    assert world.engine.models["care"].get(household=h.id).status == "in_care"
    record = listing(world)
    with pytest.raises(RecordInvalid, match="请勿重复登记"):
        listing(world)
    # another township's household: refused as outside the clerk's scope, or as frozen; never saved
    for values, field, message in [(dict(household=world.households[1].id), "household", "不能修改|不在您的管辖范围内"),
                                   (dict(id_number="110105194912310038"), "id_number", "不能修改")]:
        stale = reload(world, record)
        for k, v in values.items():
            setattr(stale, k, v)
        with pytest.raises(RecordInvalid) as e:
            with acting(world, "town"):
                stale.save()
        assert re.search(message, e.value.errors[field]), e.value.errors
    Repayment = world.engine.models["recovery"]
    for kw, field, message in [(dict(amount="0"), "amount", "缴回金额应大于0"),
                               (dict(on=world.today + dt.timedelta(days=1)), "paid_on", "不能晚于今天"),
                               (dict(receipt=" "), "receipt_no", "请填写票据编号")]:
        args = dict(amount="10", receipt="R1")
        args.update(kw)
        with pytest.raises(RecordInvalid) as e:
            repay(world, record, **args)
        assert message in e.value.errors[field]
    assert Repayment.select().count() == 0


# -- over HTTP, on the demo county (its record: a 涧头集镇 household, partly repaid)

def demo_record(app):
    Record = engine_of(app).models["dishonesty"]
    return Record.select().order_by(Record.id).first()


def test_the_demo_record_is_partly_repaid(app):
    record = demo_record(app)
    assert record.record_no.startswith("370405101-SX") and record.status == "recovering"
    assert Decimal(0) < record.recovered < record.amount_due
    Change = engine_of(app).models["care_change"]
    assert Change.select().where(Change.reason.contains(record.record_no), Change.kind == "cancel").exists()


def test_a_township_cannot_see_another_townships_records(any_app):
    eng = engine_of(any_app)
    record = demo_record(any_app)
    Repayment = eng.models["recovery"]
    repayment = Repayment.get(Repayment.dishonesty == record.id)
    before = (eng.models["dishonesty"].select().count(), audit_count_of(eng))
    for username, sees in [("admin", True), ("county", True), ("town2", True), ("town1", False)]:
        b = Browser(any_app)
        assert b.login(username).status_code == 302
        listing_html = b.get(f"/admin/dishonesty/?search={record.record_no}").get_data(as_text=True)
        assert (f"id={record.id}&" in listing_html or f"id={record.id}\"" in listing_html) == sees, username
        assert b.get(f"/admin/dishonesty/details/?id={record.id}").status_code == (200 if sees else 404), username
        assert b.get(f"/admin/dishonesty/history/?id={record.id}").status_code == (200 if sees else 404), username
        assert b.get(f"/admin/recovery/details/?id={repayment.id}").status_code == (200 if sees else 404), username
        if not sees:
            assert b.get(f"/admin/dishonesty/edit/?id={record.id}").status_code == 404
            r = b.post("/admin/dishonesty/delete/", data={"id": str(record.id), "url": "/admin/dishonesty/"})
            assert r.status_code in (403, 404)
            r = b.post("/admin/recovery/new/", data={"dishonesty": str(record.id), "paid_on": "2026-01-05",
                                                     "amount": "1", "receipt_no": "X1"})
            assert Repayment.select().count() == 1
    village = Browser(any_app)
    village.login("village1")
    assert village.get("/admin/dishonesty/").status_code == 403
    assert village.get(f"/admin/dishonesty/details/?id={record.id}").status_code == 403
    assert village.get("/admin/recovery/").status_code == 403
    assert (eng.models["dishonesty"].select().count(), audit_count_of(eng)) == before


def audit_count_of(eng):
    return eng.system.AuditLog.select().count()


def test_listing_repaying_and_the_flag_through_the_pages(app, browser_for):
    eng = engine_of(app)
    M, H, A = eng.models["member"], eng.models["household"], eng.models["area"]
    Record, Repayment, Care = eng.models["dishonesty"], eng.models["recovery"], eng.models["care"]
    town = A.get(A.code == "370405101")
    listed = demo_record(app)
    in_care = Care.select(Care.household).where(Care.status == "in_care", Care.village.in_(
        A.select(A.id).where(A.parent == town.id)), Care.household != listed.__data__["household"])
    person = M.select().where(M.household.in_(in_care), M.relation != "02").order_by(M.id).first()
    b = browser_for("town2")
    today = dt.date.today().isoformat()
    form = {"household": str(person.__data__["household"]), "name": person.name, "id_number": person.id_number,
            "found_on": today, "facts": "隐瞒经营收入", "amount_due": "1,500元"}
    before = (Record.select().count(), audit_count_of(eng))
    html = b.post("/admin/dishonesty/new/", data={**form, "name": "张冠李戴"}).get_data(as_text=True)
    assert "保存失败：失信人员姓名 — 姓名与该家庭登记的不一致" in html
    html = b.post("/admin/dishonesty/new/", data={**form, "amount_due": "-5"}).get_data(as_text=True)
    assert "金额不能为负数" in html and (Record.select().count(), audit_count_of(eng)) == before
    r = b.post("/admin/dishonesty/new/", data=form)
    assert r.status_code == 302, r.get_data(as_text=True)[:1500]
    record = Record.select().order_by(Record.id.desc()).first()
    assert (record.name, record.amount_due) == (person.name, Decimal("1500.00"))
    assert "起停发" in record.aid_stopped
    assert not Care.select().where(Care.household == person.__data__["household"], Care.status == "in_care").exists()
    html = b.post("/admin/recovery/new/", data={"dishonesty": str(record.id), "paid_on": today, "amount": "1600",
                                                "receipt_no": "P-1"}).get_data(as_text=True)
    assert "缴回金额 1600.00 元超过尚未追回的 1500.00 元" in html
    assert not Repayment.select().where(Repayment.dishonesty == record.id).exists()
    r = b.post("/admin/recovery/new/", data={"dishonesty": str(record.id), "paid_on": today, "amount": "1500",
                                             "receipt_no": "P-1"})
    assert r.status_code == 302
    details = b.get(f"/admin/dishonesty/details/?id={record.id}").get_data(as_text=True)
    assert "已追回" in details and "P-1" in details
    # the household applies again: accepted, and the case shows the flag in its list and page
    h = H.get_by_id(person.__data__["household"])
    r = b.post("/admin/case/new/", {"household": h.id, "assistance_type": "12", "applicant_name": h.head_name,
                                    "applicant_id_number": h.head_id_number, "apply_date": today,
                                    "channel": "window", "materials": ["id_card"]})
    assert r.status_code == 302, r.get_data(as_text=True)[:1500]
    case = eng.models["case"].select().order_by(eng.models["case"].id.desc()).first()
    assert case.credit_flag.startswith(f"家庭成员{person.name}有失信记录 {record.record_no}")
    page = b.get(f"/admin/case/details/?id={case.id}").get_data(as_text=True)
    assert 'id="case-credit-flag"' in page and record.record_no in page
    assert record.record_no in b.get(f"/admin/case/?search={case.case_no}").get_data(as_text=True)
    # the flag is not a field anyone edits, and village assistants cannot list records
    assert 'name="credit_flag"' not in b.get(f"/admin/case/edit/?id={case.id}").get_data(as_text=True)
    assert browser_for("village1").get("/admin/dishonesty/new/").status_code == 403
